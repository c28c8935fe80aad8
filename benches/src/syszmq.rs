//! The system's libzmq (`libzmq.so.5`: Debian's libzmq5, built with libsodium, so CURVE
//! works), loaded at run time with `dlopen`, for `bench-libzmq-curve`. The `zmq` crate's
//! libzmq, which `bench-libzmq` links statically, is built without CURVE.
//!
//! Only what the CURVE rows need, behind a safe face: a context, PUSH/PULL/REQ/REP sockets,
//! integer and byte options, bind, connect, `zmq_send` from a slice and `zmq_msg_recv`
//! into a reused message. Errors carry libzmq's errno and `zmq_strerror` text. The library
//! is opened once, `RTLD_LOCAL`, and never closed; nothing of the `zmq` crate is used
//! here, so a binary built on this module alone links no second libzmq.
//!
//! `cargo xtask ci` installs libzmq5 when it is missing.

use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::fmt;
use std::marker::PhantomData;
use std::sync::OnceLock;

/// The shared object opened.
pub const LIBRARY: &str = "libzmq.so.5";

/// ZMQ_REQ.
pub const REQ: c_int = 3;
/// ZMQ_REP.
pub const REP: c_int = 4;
/// ZMQ_PULL.
pub const PULL: c_int = 7;
/// ZMQ_PUSH.
pub const PUSH: c_int = 8;

const CURVE_SERVER: c_int = 47;
const CURVE_PUBLICKEY: c_int = 48;
const CURVE_SECRETKEY: c_int = 49;
const CURVE_SERVERKEY: c_int = 50;

/// zmq_msg_t: 64 opaque bytes, 8-aligned (zmq.h).
#[repr(C, align(8))]
struct RawMsg([u8; 64]);

type CtxNew = unsafe extern "C" fn() -> *mut c_void;
type CtxTerm = unsafe extern "C" fn(*mut c_void) -> c_int;
type SocketFn = unsafe extern "C" fn(*mut c_void, c_int) -> *mut c_void;
type CloseFn = unsafe extern "C" fn(*mut c_void) -> c_int;
type SetOpt = unsafe extern "C" fn(*mut c_void, c_int, *const c_void, usize) -> c_int;
type EndpointFn = unsafe extern "C" fn(*mut c_void, *const c_char) -> c_int;
type SendFn = unsafe extern "C" fn(*mut c_void, *const c_void, usize, c_int) -> c_int;
type MsgInit = unsafe extern "C" fn(*mut RawMsg) -> c_int;
type MsgRecv = unsafe extern "C" fn(*mut RawMsg, *mut c_void, c_int) -> c_int;
type MsgData = unsafe extern "C" fn(*mut RawMsg) -> *mut c_void;
type MsgSize = unsafe extern "C" fn(*const RawMsg) -> usize;
type Errno = unsafe extern "C" fn() -> c_int;
type StrError = unsafe extern "C" fn(c_int) -> *const c_char;
type Has = unsafe extern "C" fn(*const c_char) -> c_int;
type Version = unsafe extern "C" fn(*mut c_int, *mut c_int, *mut c_int);

/// The functions used, resolved from the library (function pointers: `Send` and `Sync`).
struct Api {
    ctx_new: CtxNew,
    ctx_term: CtxTerm,
    socket: SocketFn,
    close: CloseFn,
    setsockopt: SetOpt,
    bind: EndpointFn,
    connect: EndpointFn,
    send: SendFn,
    msg_init: MsgInit,
    msg_recv: MsgRecv,
    msg_data: MsgData,
    msg_size: MsgSize,
    msg_close: MsgInit,
    errno: Errno,
    strerror: StrError,
    has: Has,
    version: Version,
}

/// The library's functions, opened on first use; why not, if it cannot be.
fn api() -> Result<&'static Api, Error> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    API.get_or_init(load)
        .as_ref()
        .map_err(|e| Error::Load(e.clone()))
}

fn load() -> Result<Api, String> {
    let name = CString::new(LIBRARY).expect("no NUL in the name");
    // SAFETY: dlopen with a NUL-terminated name; the handle is checked and kept for the
    // life of the process (never dlclose'd), so the symbols below stay valid. Loading
    // runs libzmq's (and libsodium's) initialisers, which have no preconditions.
    let lib = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    if lib.is_null() {
        return Err(format!(
            "cannot load the system's libzmq ({LIBRARY}), needed for the CURVE rows: install \
             Debian's libzmq5 (`apt-get install libzmq5`; `cargo xtask ci` does)"
        ));
    }
    let sym = |n: &str| -> Result<*mut c_void, String> {
        let c = CString::new(n).expect("no NUL in a symbol name");
        // SAFETY: dlsym on the live handle above with a NUL-terminated name.
        let p = unsafe { libc::dlsym(lib, c.as_ptr()) };
        if p.is_null() {
            Err(format!("{LIBRARY} has no {n}"))
        } else {
            Ok(p)
        }
    };
    // SAFETY (every transmute below): the symbol is the zmq.h function of that name, whose
    // C signature is the function-pointer type it becomes (libzmq 4.x ABI, soname 5); a
    // non-null data pointer from dlsym and a function pointer have the same size here.
    Ok(unsafe {
        Api {
            ctx_new: std::mem::transmute::<*mut c_void, CtxNew>(sym("zmq_ctx_new")?),
            ctx_term: std::mem::transmute::<*mut c_void, CtxTerm>(sym("zmq_ctx_term")?),
            socket: std::mem::transmute::<*mut c_void, SocketFn>(sym("zmq_socket")?),
            close: std::mem::transmute::<*mut c_void, CloseFn>(sym("zmq_close")?),
            setsockopt: std::mem::transmute::<*mut c_void, SetOpt>(sym("zmq_setsockopt")?),
            bind: std::mem::transmute::<*mut c_void, EndpointFn>(sym("zmq_bind")?),
            connect: std::mem::transmute::<*mut c_void, EndpointFn>(sym("zmq_connect")?),
            send: std::mem::transmute::<*mut c_void, SendFn>(sym("zmq_send")?),
            msg_init: std::mem::transmute::<*mut c_void, MsgInit>(sym("zmq_msg_init")?),
            msg_recv: std::mem::transmute::<*mut c_void, MsgRecv>(sym("zmq_msg_recv")?),
            msg_data: std::mem::transmute::<*mut c_void, MsgData>(sym("zmq_msg_data")?),
            msg_size: std::mem::transmute::<*mut c_void, MsgSize>(sym("zmq_msg_size")?),
            msg_close: std::mem::transmute::<*mut c_void, MsgInit>(sym("zmq_msg_close")?),
            errno: std::mem::transmute::<*mut c_void, Errno>(sym("zmq_errno")?),
            strerror: std::mem::transmute::<*mut c_void, StrError>(sym("zmq_strerror")?),
            has: std::mem::transmute::<*mut c_void, Has>(sym("zmq_has")?),
            version: std::mem::transmute::<*mut c_void, Version>(sym("zmq_version")?),
        }
    })
}

/// A failure: the library could not be loaded, or a call failed with an errno.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// dlopen or dlsym failed.
    Load(String),
    /// `call` failed with libzmq's errno `errno`.
    Call {
        /// The libzmq function.
        call: &'static str,
        /// `zmq_errno()` after it.
        errno: c_int,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Load(e) => f.write_str(e),
            Error::Call { call, errno } => {
                let text = api().map_or_else(
                    |_| String::new(),
                    |a| {
                        // SAFETY: zmq_strerror takes any errno and returns a pointer to a
                        // static NUL-terminated string (never null in libzmq 4.x; checked).
                        let p = unsafe { (a.strerror)(*errno) };
                        if p.is_null() {
                            String::new()
                        } else {
                            // SAFETY: non-null, NUL-terminated, static (see above).
                            unsafe { CStr::from_ptr(p) }.to_string_lossy().into_owned()
                        }
                    },
                );
                write!(f, "{call}: {text} (errno {errno})")
            }
        }
    }
}

impl std::error::Error for Error {}

/// The error of the call that just failed on this thread.
fn last_error(a: &Api, call: &'static str) -> Error {
    // SAFETY: zmq_errno has no arguments and reads the calling thread's errno.
    let errno = unsafe { (a.errno)() };
    Error::Call { call, errno }
}

/// Whether the library speaks CURVE (`zmq_has("curve")`).
pub fn has_curve() -> Result<bool, Error> {
    let a = api()?;
    let c = CString::new("curve").expect("no NUL");
    // SAFETY: zmq_has reads the NUL-terminated string it is given.
    Ok(unsafe { (a.has)(c.as_ptr()) } == 1)
}

/// The library's version, `major.minor.patch`.
pub fn version() -> Result<String, Error> {
    let a = api()?;
    let (mut major, mut minor, mut patch) = (0, 0, 0);
    // SAFETY: zmq_version writes one int through each of the three valid pointers.
    unsafe { (a.version)(&mut major, &mut minor, &mut patch) };
    Ok(format!("{major}.{minor}.{patch}"))
}

/// A context (`zmq_ctx_new`), terminated on drop; its sockets borrow it, so they are
/// closed first.
#[derive(Debug)]
pub struct Ctx {
    ptr: *mut c_void,
    api: &'static Api,
}

impl fmt::Debug for Api {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(LIBRARY)
    }
}

impl Ctx {
    /// A new context with libzmq's defaults (one I/O thread).
    pub fn new() -> Result<Ctx, Error> {
        let a = api()?;
        // SAFETY: zmq_ctx_new takes nothing; a null result is an error (checked).
        let ptr = unsafe { (a.ctx_new)() };
        if ptr.is_null() {
            return Err(last_error(a, "zmq_ctx_new"));
        }
        Ok(Ctx { ptr, api: a })
    }

    /// A socket of type `kind` ([`PUSH`], [`PULL`], [`REQ`], [`REP`]), default options.
    pub fn socket(&self, kind: c_int) -> Result<Sock<'_>, Error> {
        // SAFETY: a live context (self); a null result is an error (checked).
        let ptr = unsafe { (self.api.socket)(self.ptr, kind) };
        if ptr.is_null() {
            return Err(last_error(self.api, "zmq_socket"));
        }
        Ok(Sock {
            ptr,
            api: self.api,
            _ctx: PhantomData,
        })
    }
}

impl Drop for Ctx {
    fn drop(&mut self) {
        // SAFETY: the context is live and terminated once; every socket made in it
        // borrowed it and so was closed already (zmq_ctx_term would wait for them).
        unsafe { (self.api.ctx_term)(self.ptr) };
    }
}

/// A socket of a [`Ctx`], closed on drop. Not `Send`: used by the thread that made it.
#[derive(Debug)]
pub struct Sock<'ctx> {
    ptr: *mut c_void,
    api: &'static Api,
    _ctx: PhantomData<&'ctx Ctx>,
}

impl Sock<'_> {
    fn set(&self, opt: c_int, value: &[u8]) -> Result<(), Error> {
        // SAFETY: a live socket; the pointer and length describe `value`, which libzmq
        // copies before returning.
        let rc =
            unsafe { (self.api.setsockopt)(self.ptr, opt, value.as_ptr().cast(), value.len()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(last_error(self.api, "zmq_setsockopt"))
        }
    }

    /// Makes this socket a CURVE server with `secret` (Z85 or 32 bytes): CURVE_SERVER 1
    /// and CURVE_SECRETKEY. Before bind.
    pub fn curve_server(&self, secret: &[u8]) -> Result<(), Error> {
        self.set(CURVE_SERVER, &1i32.to_ne_bytes())?;
        self.set(CURVE_SECRETKEY, secret)
    }

    /// Makes this socket a CURVE client of `server_public` with its key pair
    /// (CURVE_SERVERKEY, CURVE_PUBLICKEY, CURVE_SECRETKEY). Before connect.
    pub fn curve_client(
        &self,
        server_public: &[u8],
        public: &[u8],
        secret: &[u8],
    ) -> Result<(), Error> {
        self.set(CURVE_SERVERKEY, server_public)?;
        self.set(CURVE_PUBLICKEY, public)?;
        self.set(CURVE_SECRETKEY, secret)
    }

    /// `zmq_bind`.
    pub fn bind(&self, endpoint: &str) -> Result<(), Error> {
        self.endpoint(self.api.bind, "zmq_bind", endpoint)
    }

    /// `zmq_connect` (libzmq retries in the background until the peer is there).
    pub fn connect(&self, endpoint: &str) -> Result<(), Error> {
        self.endpoint(self.api.connect, "zmq_connect", endpoint)
    }

    fn endpoint(&self, f: EndpointFn, call: &'static str, endpoint: &str) -> Result<(), Error> {
        let c = CString::new(endpoint).map_err(|_| Error::Call {
            call,
            errno: libc::EINVAL,
        })?;
        // SAFETY: a live socket and a NUL-terminated endpoint, read during the call.
        let rc = unsafe { f(self.ptr, c.as_ptr()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(last_error(self.api, call))
        }
    }

    /// Sends `data` as one message (`zmq_send`, flags 0: blocks while the socket may not
    /// send), copying it into a new message as the `zmq` crate's `send(&[u8])` does.
    pub fn send(&self, data: &[u8]) -> Result<(), Error> {
        // SAFETY: a live socket; the pointer and length describe `data`, which zmq_send
        // copies before returning.
        let rc = unsafe { (self.api.send)(self.ptr, data.as_ptr().cast(), data.len(), 0) };
        if rc >= 0 {
            Ok(())
        } else {
            Err(last_error(self.api, "zmq_send"))
        }
    }

    /// Receives the next message (frame) into `msg` (`zmq_msg_recv`, flags 0: blocks),
    /// replacing what it held.
    pub fn recv(&self, msg: &mut Msg) -> Result<(), Error> {
        // SAFETY: a live socket and an initialised message (Msg::new), which zmq_msg_recv
        // releases and refills.
        let rc = unsafe { (self.api.msg_recv)(&mut msg.raw, self.ptr, 0) };
        if rc >= 0 {
            Ok(())
        } else {
            Err(last_error(self.api, "zmq_msg_recv"))
        }
    }
}

impl Drop for Sock<'_> {
    fn drop(&mut self) {
        // SAFETY: a live socket of a live context (it borrows it), closed once.
        unsafe { (self.api.close)(self.ptr) };
    }
}

/// A message (`zmq_msg_t`), initialised empty and closed on drop; [`Sock::recv`] reuses
/// it, as libzmq's own perf tools and the `zmq` crate's `recv(&mut Message)` do.
pub struct Msg {
    raw: RawMsg,
    api: &'static Api,
}

impl fmt::Debug for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Msg").field("len", &self.len()).finish()
    }
}

impl Msg {
    /// An empty message.
    pub fn new() -> Result<Msg, Error> {
        let a = api()?;
        let mut raw = RawMsg([0; 64]);
        // SAFETY: zmq_msg_init initialises the zmq_msg_t-sized, aligned buffer; it cannot
        // fail. The message is moved afterwards, which a zmq_msg_t allows: it holds no
        // pointer into itself (zmq_msg_data computes an inline body's address each call).
        unsafe { (a.msg_init)(&mut raw) };
        Ok(Msg { raw, api: a })
    }

    /// The body's length.
    pub fn len(&self) -> usize {
        // SAFETY: an initialised message.
        unsafe { (self.api.msg_size)(&self.raw) }
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The body.
    pub fn as_slice(&mut self) -> &[u8] {
        let len = self.len();
        if len == 0 {
            return &[];
        }
        // SAFETY: an initialised message: zmq_msg_data points at its `len` bytes of body,
        // valid until the message is next received into or closed, neither of which can
        // happen while the returned borrow of `self` lives.
        unsafe {
            let data = (self.api.msg_data)(&mut self.raw).cast::<u8>();
            std::slice::from_raw_parts(data, len)
        }
    }
}

impl Drop for Msg {
    fn drop(&mut self) {
        // SAFETY: an initialised message, closed once.
        unsafe { (self.api.msg_close)(&mut self.raw) };
    }
}
