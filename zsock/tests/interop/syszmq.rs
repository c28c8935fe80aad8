//! The system's libzmq (Debian's libzmq5, built with libsodium: CURVE works), loaded at run
//! time beside the `zmq` crate's own libzmq (built from source without CURVE). Only the
//! calls the CURVE cells use, behind a safe face: sockets with timeouts, multipart sends
//! and receives, options, and a monitor's events.
//!
//! `cargo xtask ci` (and `.ci/run`) install libzmq5 when it is missing.

use std::ffi::{c_char, c_int, c_void, CString};
use std::sync::OnceLock;

// libzmq's constants (zmq.h, 4.3).
pub(crate) const PAIR: c_int = 0;
pub(crate) const SUB: c_int = 2;
pub(crate) const REP: c_int = 4;
pub(crate) const DEALER: c_int = 5;
pub(crate) const ROUTER: c_int = 6;
pub(crate) const PULL: c_int = 7;
pub(crate) const PUSH: c_int = 8;
const SUBSCRIBE: c_int = 6;
const LINGER: c_int = 17;
const RCVTIMEO: c_int = 27;
const SNDTIMEO: c_int = 28;
const LAST_ENDPOINT: c_int = 32;
const PLAIN_SERVER: c_int = 44;
const PLAIN_USERNAME: c_int = 45;
const PLAIN_PASSWORD: c_int = 46;
const CURVE_SERVER: c_int = 47;
const CURVE_PUBLICKEY: c_int = 48;
const CURVE_SECRETKEY: c_int = 49;
const CURVE_SERVERKEY: c_int = 50;
const ZAP_DOMAIN: c_int = 55;
const HEARTBEAT_IVL: c_int = 75;
const HEARTBEAT_TIMEOUT: c_int = 77;
const SNDMORE: c_int = 2;
const DONTWAIT: c_int = 1;
pub(crate) const EVENT_HANDSHAKE_FAILED_NO_DETAIL: u16 = 0x0800;
pub(crate) const EVENT_HANDSHAKE_SUCCEEDED: u16 = 0x1000;
pub(crate) const EVENT_HANDSHAKE_FAILED_PROTOCOL: u16 = 0x2000;
pub(crate) const EVENT_HANDSHAKE_FAILED_AUTH: u16 = 0x4000;
pub(crate) const EVENT_DISCONNECTED: u16 = 0x0200;

/// zmq_msg_t: 64 opaque bytes.
#[repr(C, align(8))]
struct Msg([u8; 64]);

type CtxNew = unsafe extern "C" fn() -> *mut c_void;
type CtxTerm = unsafe extern "C" fn(*mut c_void) -> c_int;
type SocketFn = unsafe extern "C" fn(*mut c_void, c_int) -> *mut c_void;
type CloseFn = unsafe extern "C" fn(*mut c_void) -> c_int;
type SetOpt = unsafe extern "C" fn(*mut c_void, c_int, *const c_void, usize) -> c_int;
type GetOpt = unsafe extern "C" fn(*mut c_void, c_int, *mut c_void, *mut usize) -> c_int;
type Endpoint = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;
type Send = unsafe extern "C" fn(*mut c_void, *const c_void, usize, c_int) -> c_int;
type MsgInit = unsafe extern "C" fn(*mut Msg) -> c_int;
type MsgRecv = unsafe extern "C" fn(*mut Msg, *mut c_void, c_int) -> c_int;
type MsgData = unsafe extern "C" fn(*mut Msg) -> *mut c_void;
type MsgSize = unsafe extern "C" fn(*const Msg) -> usize;
type MsgMore = unsafe extern "C" fn(*const Msg) -> c_int;
type Monitor = unsafe extern "C" fn(*mut c_void, *const c_char, c_int) -> c_int;
type Has = unsafe extern "C" fn(*const c_char) -> c_int;

struct Api {
    ctx_new: CtxNew,
    ctx_term: CtxTerm,
    socket: SocketFn,
    close: CloseFn,
    setsockopt: SetOpt,
    getsockopt: GetOpt,
    bind: Endpoint,
    connect: Endpoint,
    send: Send,
    msg_init: MsgInit,
    msg_recv: MsgRecv,
    msg_data: MsgData,
    msg_size: MsgSize,
    msg_more: MsgMore,
    msg_close: MsgInit,
    socket_monitor: Monitor,
    has: Has,
}

// SAFETY: the table holds function pointers of a library that stays loaded for the life
// of the process (it is never closed); calling them from any thread is what libzmq allows.
unsafe impl std::marker::Sync for Api {}
unsafe impl std::marker::Send for Api {}

fn api() -> &'static Api {
    static API: OnceLock<Api> = OnceLock::new();
    API.get_or_init(|| {
        let name = CString::new("libzmq.so.5").unwrap();
        // SAFETY: dlopen with a valid C string; the handle is kept for ever.
        let lib = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
        assert!(
            !lib.is_null(),
            "the system's libzmq (libzmq.so.5) is needed for the CURVE interop tests: \
             install Debian's libzmq5 (`apt-get install libzmq5`; `cargo xtask ci` does)"
        );
        let sym = |n: &str| {
            let c = CString::new(n).unwrap();
            // SAFETY: dlsym on the handle above with a valid C string.
            let p = unsafe { libc::dlsym(lib, c.as_ptr()) };
            assert!(!p.is_null(), "libzmq.so.5 has no {n}");
            p
        };
        // SAFETY: each symbol has the C signature of zmq.h it is transmuted to.
        unsafe {
            Api {
                ctx_new: std::mem::transmute::<*mut c_void, CtxNew>(sym("zmq_ctx_new")),
                ctx_term: std::mem::transmute::<*mut c_void, CtxTerm>(sym("zmq_ctx_term")),
                socket: std::mem::transmute::<*mut c_void, SocketFn>(sym("zmq_socket")),
                close: std::mem::transmute::<*mut c_void, CloseFn>(sym("zmq_close")),
                setsockopt: std::mem::transmute::<*mut c_void, SetOpt>(sym("zmq_setsockopt")),
                getsockopt: std::mem::transmute::<*mut c_void, GetOpt>(sym("zmq_getsockopt")),
                bind: std::mem::transmute::<*mut c_void, Endpoint>(sym("zmq_bind")),
                connect: std::mem::transmute::<*mut c_void, Endpoint>(sym("zmq_connect")),
                send: std::mem::transmute::<*mut c_void, Send>(sym("zmq_send")),
                msg_init: std::mem::transmute::<*mut c_void, MsgInit>(sym("zmq_msg_init")),
                msg_recv: std::mem::transmute::<*mut c_void, MsgRecv>(sym("zmq_msg_recv")),
                msg_data: std::mem::transmute::<*mut c_void, MsgData>(sym("zmq_msg_data")),
                msg_size: std::mem::transmute::<*mut c_void, MsgSize>(sym("zmq_msg_size")),
                msg_more: std::mem::transmute::<*mut c_void, MsgMore>(sym("zmq_msg_more")),
                msg_close: std::mem::transmute::<*mut c_void, MsgInit>(sym("zmq_msg_close")),
                socket_monitor: std::mem::transmute::<*mut c_void, Monitor>(sym(
                    "zmq_socket_monitor",
                )),
                has: std::mem::transmute::<*mut c_void, Has>(sym("zmq_has")),
            }
        }
    })
}

/// Whether the system's libzmq speaks CURVE (`zmq_has("curve")`).
pub(crate) fn has_curve() -> bool {
    let c = CString::new("curve").unwrap();
    // SAFETY: a valid C string.
    unsafe { (api().has)(c.as_ptr()) == 1 }
}

/// A context of the system's libzmq; terminated on drop (after its sockets).
pub(crate) struct Ctx(*mut c_void);

// SAFETY: libzmq contexts are thread-safe.
unsafe impl std::marker::Send for Ctx {}
unsafe impl std::marker::Sync for Ctx {}

impl Ctx {
    pub(crate) fn new() -> Ctx {
        // SAFETY: no arguments; a null result is checked.
        let p = unsafe { (api().ctx_new)() };
        assert!(!p.is_null());
        Ctx(p)
    }

    /// A socket with LINGER 0 and 10 s send and receive timeouts.
    pub(crate) fn socket(&self, t: c_int) -> Sock {
        // SAFETY: a live context.
        let p = unsafe { (api().socket)(self.0, t) };
        assert!(!p.is_null(), "zmq_socket");
        let s = Sock(p);
        s.set_int(LINGER, 0);
        s.set_int(RCVTIMEO, 10_000);
        s.set_int(SNDTIMEO, 10_000);
        s
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: every socket of this context was closed (Sock is dropped first by the
        // tests' declaration order, and holds no reference to the context).
        unsafe { (api().ctx_term)(self.0) };
    }
}

/// A socket of the system's libzmq; closed on drop. Used from one thread at a time.
pub(crate) struct Sock(*mut c_void);

// SAFETY: a libzmq socket may move between threads when used by one at a time.
unsafe impl std::marker::Send for Sock {}

impl Sock {
    fn set(&self, opt: c_int, value: &[u8]) {
        // SAFETY: the pointer and length describe `value`.
        let rc = unsafe { (api().setsockopt)(self.0, opt, value.as_ptr().cast(), value.len()) };
        assert_eq!(rc, 0, "zmq_setsockopt({opt})");
    }

    fn set_int(&self, opt: c_int, v: c_int) {
        self.set(opt, &v.to_ne_bytes());
    }

    pub(crate) fn curve_server(&self, secret: &str) {
        self.set_int(CURVE_SERVER, 1);
        self.set(CURVE_SECRETKEY, secret.as_bytes());
    }

    pub(crate) fn curve_client(&self, server_public: &str, public: &str, secret: &str) {
        self.set(CURVE_SERVERKEY, server_public.as_bytes());
        self.set(CURVE_PUBLICKEY, public.as_bytes());
        self.set(CURVE_SECRETKEY, secret.as_bytes());
    }

    pub(crate) fn plain_server(&self) {
        self.set_int(PLAIN_SERVER, 1);
    }

    pub(crate) fn plain_client(&self, user: &str, password: &str) {
        self.set(PLAIN_USERNAME, user.as_bytes());
        self.set(PLAIN_PASSWORD, password.as_bytes());
    }

    pub(crate) fn zap_domain(&self, domain: &str) {
        self.set(ZAP_DOMAIN, domain.as_bytes());
    }

    pub(crate) fn heartbeat(&self, ivl_ms: c_int, timeout_ms: c_int) {
        self.set_int(HEARTBEAT_IVL, ivl_ms);
        self.set_int(HEARTBEAT_TIMEOUT, timeout_ms);
    }

    pub(crate) fn subscribe(&self, topic: &[u8]) {
        self.set(SUBSCRIBE, topic);
    }

    pub(crate) fn bind(&self, ep: &str) -> String {
        let c = CString::new(ep).unwrap();
        // SAFETY: a valid C string.
        let rc = unsafe { (api().bind)(self.0, c.as_ptr()) };
        assert_eq!(rc, 0, "zmq_bind({ep})");
        let mut buf = [0u8; 512];
        let mut len = buf.len();
        // SAFETY: the buffer and its length.
        let rc =
            unsafe { (api().getsockopt)(self.0, LAST_ENDPOINT, buf.as_mut_ptr().cast(), &mut len) };
        assert_eq!(rc, 0);
        String::from_utf8_lossy(&buf[..len.saturating_sub(1)]).into_owned()
    }

    pub(crate) fn connect(&self, ep: &str) {
        let c = CString::new(ep).unwrap();
        // SAFETY: a valid C string.
        let rc = unsafe { (api().connect)(self.0, c.as_ptr()) };
        assert_eq!(rc, 0, "zmq_connect({ep})");
    }

    /// Sends the frames as one message; false if it timed out.
    pub(crate) fn send_multipart(&self, frames: &[&[u8]]) -> bool {
        for (i, f) in frames.iter().enumerate() {
            let flags = if i + 1 < frames.len() { SNDMORE } else { 0 };
            // SAFETY: the pointer and length describe `f`.
            let rc = unsafe { (api().send)(self.0, f.as_ptr().cast(), f.len(), flags) };
            if rc < 0 {
                return false;
            }
        }
        true
    }

    /// Receives one whole message; `None` when the receive timed out.
    pub(crate) fn recv_multipart(&self) -> Option<Vec<Vec<u8>>> {
        self.recv_with(0)
    }

    /// Receives one whole message if one is waiting.
    pub(crate) fn try_recv_multipart(&self) -> Option<Vec<Vec<u8>>> {
        self.recv_with(DONTWAIT)
    }

    fn recv_with(&self, first_flags: c_int) -> Option<Vec<Vec<u8>>> {
        let a = api();
        let mut flags = first_flags;
        let mut frames = Vec::new();
        loop {
            let mut msg = Msg([0; 64]);
            // SAFETY: `msg` is a zmq_msg_t-sized, aligned buffer, initialised by
            // zmq_msg_init before use and closed after.
            unsafe {
                (a.msg_init)(&mut msg);
                let rc = (a.msg_recv)(&mut msg, self.0, flags);
                flags = 0; // the rest of a message is there once its first frame is
                if rc < 0 {
                    (a.msg_close)(&mut msg);
                    return None;
                }
                let data = (a.msg_data)(&mut msg).cast::<u8>();
                let len = (a.msg_size)(&msg);
                let bytes = if len == 0 {
                    Vec::new()
                } else {
                    std::slice::from_raw_parts(data, len).to_vec()
                };
                let more = (a.msg_more)(&msg) == 1;
                (a.msg_close)(&mut msg);
                frames.push(bytes);
                if !more {
                    return Some(frames);
                }
            }
        }
    }

    /// Starts a monitor of `events` on `inproc://NAME`; returns a PAIR reading it.
    pub(crate) fn monitor(&self, ctx: &Ctx, name: &str, events: c_int) -> Sock {
        let ep = format!("inproc://{name}");
        let c = CString::new(ep.clone()).unwrap();
        // SAFETY: a valid C string.
        let rc = unsafe { (api().socket_monitor)(self.0, c.as_ptr(), events) };
        assert_eq!(rc, 0);
        let pair = ctx.socket(PAIR);
        pair.connect(&ep);
        pair
    }

    /// A monitor's next event within `t`, or `None`.
    pub(crate) fn event_within(&self, t: std::time::Duration) -> Option<(u16, u32)> {
        self.set_int(
            RCVTIMEO,
            c_int::try_from(t.as_millis()).unwrap_or(c_int::MAX),
        );
        let e = self.event();
        self.set_int(RCVTIMEO, 10_000);
        e
    }

    /// A monitor's next event: (event, value); `None` on timeout.
    pub(crate) fn event(&self) -> Option<(u16, u32)> {
        let frames = self.recv_multipart()?;
        let f = &frames[0];
        Some((
            u16::from_ne_bytes([f[0], f[1]]),
            u32::from_ne_bytes([f[2], f[3], f[4], f[5]]),
        ))
    }
}

impl Drop for Sock {
    fn drop(&mut self) {
        // SAFETY: a socket of a live context, closed once.
        unsafe { (api().close)(self.0) };
    }
}
