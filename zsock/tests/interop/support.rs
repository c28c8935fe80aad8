//! What every group of cells shares: one [`Peer`] face over a zsock socket and a libzmq
//! socket, endpoints, content that checks every byte, monitors for both libraries, and child
//! processes (the same test binary re-run) for the cells that stop or kill a peer.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zsock::{Bytes, Context, ErrorKind, Event, Flags, Message, Monitor, Socket, SocketOption};
use zsock::{SocketType, SocketType as T};

/// How long any blocking call of either library waits before the test fails instead of
/// hanging (RCVTIMEO and SNDTIMEO of every socket).
pub(crate) const PATIENCE_MS: i32 = 10_000;
/// [`PATIENCE_MS`] as a duration.
pub(crate) const PATIENCE: Duration = Duration::from_millis(PATIENCE_MS as u64);

/// A message as a list of frames.
pub(crate) type Frames = Vec<Vec<u8>>;

// ---------------------------------------------------------------------------------------
// Sockets

/// A zsock socket with LINGER 0 and 10 s send/receive timeouts.
pub(crate) fn zsock_socket(ctx: &Context, t: SocketType) -> Socket {
    let mut s = ctx.socket(t).unwrap();
    s.set(SocketOption::Linger(0)).unwrap();
    s.set(SocketOption::RcvTimeo(PATIENCE_MS)).unwrap();
    s.set(SocketOption::SndTimeo(PATIENCE_MS)).unwrap();
    s
}

/// [`zsock_socket`] as a PLAIN client with these credentials.
pub(crate) fn zsock_plain_client(ctx: &Context, t: SocketType, user: &str, pass: &str) -> Socket {
    let mut s = zsock_socket(ctx, t);
    s.set(SocketOption::PlainUsername(Bytes::copy_from_slice(
        user.as_bytes(),
    )))
    .unwrap();
    s.set(SocketOption::PlainPassword(pass.into())).unwrap();
    s
}

/// A libzmq socket with LINGER 0 and 10 s send/receive timeouts.
pub(crate) fn zmq_socket(ctx: &zmq::Context, t: SocketType) -> zmq::Socket {
    let s = ctx.socket(zmq_type(t)).unwrap();
    s.set_linger(0).unwrap();
    s.set_rcvtimeo(PATIENCE_MS).unwrap();
    s.set_sndtimeo(PATIENCE_MS).unwrap();
    s
}

/// libzmq's name for a socket type.
pub(crate) fn zmq_type(t: SocketType) -> zmq::SocketType {
    match t {
        T::Pair => zmq::PAIR,
        T::Pub => zmq::PUB,
        T::Sub => zmq::SUB,
        T::Req => zmq::REQ,
        T::Rep => zmq::REP,
        T::Dealer => zmq::DEALER,
        T::Router => zmq::ROUTER,
        T::Pull => zmq::PULL,
        T::Push => zmq::PUSH,
        T::XPub => zmq::XPUB,
        T::XSub => zmq::XSUB,
    }
}

/// The zmq crate has no setter for ZMQ_CONNECT_ROUTING_ID; libzmq itself does (61).
pub(crate) fn zmq_set_connect_routing_id(s: &mut zmq::Socket, id: &[u8]) {
    extern "C" {
        fn zmq_setsockopt(
            s: *mut std::ffi::c_void,
            option: std::ffi::c_int,
            optval: *const std::ffi::c_void,
            optvallen: usize,
        ) -> std::ffi::c_int;
    }
    const ZMQ_CONNECT_ROUTING_ID: std::ffi::c_int = 61;
    // SAFETY: `s` is a live libzmq socket owned by the zmq crate; `id` is valid for
    // `id.len()` bytes, which libzmq copies before returning.
    let rc = unsafe {
        zmq_setsockopt(
            s.as_mut_ptr(),
            ZMQ_CONNECT_ROUTING_ID,
            id.as_ptr().cast(),
            id.len(),
        )
    };
    assert_eq!(rc, 0, "zmq_setsockopt(ZMQ_CONNECT_ROUTING_ID)");
}

/// libzmq's LAST_ENDPOINT as a string.
pub(crate) fn zmq_last_endpoint(s: &zmq::Socket) -> String {
    s.get_last_endpoint()
        .unwrap()
        .expect("LAST_ENDPOINT is UTF-8")
}

// ---------------------------------------------------------------------------------------
// One face for both libraries

/// A socket of either library, as the cells use it. Every call fails the test (with the
/// socket's description) instead of returning an error the cell would have to check.
pub(crate) trait Peer {
    /// "zsock ROUTER" or "libzmq DEALER".
    fn describe(&self) -> String;
    /// Sends a whole message, blocking up to SNDTIMEO.
    fn send(&mut self, frames: &[Vec<u8>]);
    /// Sends a whole message without blocking; `false` if it would block.
    fn try_send(&mut self, frames: &[Vec<u8>]) -> bool;
    /// Receives a whole message, waiting up to `timeout`.
    fn recv_within(&mut self, timeout: Duration) -> Option<Frames>;
    /// SUB: ZMQ_SUBSCRIBE.
    fn subscribe(&mut self, topic: &[u8]);
    /// SUB: ZMQ_UNSUBSCRIBE.
    fn unsubscribe(&mut self, topic: &[u8]);
    /// ROUTER: sends with ROUTER_MANDATORY, `false` (nothing sent) while no peer has the
    /// routing id in the first frame.
    fn try_send_routed(&mut self, frames: &[Vec<u8>]) -> bool;

    /// Binds; returns the resolved endpoint (LAST_ENDPOINT).
    fn bind(&mut self, endpoint: &str) -> String;
    /// Connects.
    fn connect(&mut self, endpoint: &str);
    /// Sets SNDHWM and RCVHWM (0: no limit).
    fn set_hwm(&mut self, hwm: i32);

    /// Lets the socket do its housekeeping as an application call would: libzmq processes
    /// its commands (attaching pipes of accepted connections); zsock needs nothing.
    fn poke(&mut self) {}

    /// Receives a whole message within [`PATIENCE`] or fails the test.
    fn recv(&mut self) -> Frames {
        match self.recv_within(PATIENCE) {
            Some(m) => m,
            None => panic!("{}: nothing received within {PATIENCE:?}", self.describe()),
        }
    }

    /// ROUTER: sends to the routing id in the first frame as soon as a peer has it (the
    /// handshake may still be running), within [`PATIENCE`].
    fn send_routed(&mut self, frames: &[Vec<u8>]) {
        let deadline = Instant::now() + PATIENCE;
        while !self.try_send_routed(frames) {
            assert!(
                Instant::now() < deadline,
                "{}: no peer with routing id {:?} within {PATIENCE:?}",
                self.describe(),
                String::from_utf8_lossy(&frames[0])
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// A zsock socket as a [`Peer`].
pub(crate) struct Zsock(pub(crate) Socket);

impl Zsock {
    fn zmsg(frames: &[Vec<u8>]) -> Message {
        frames.iter().map(|f| Bytes::from(f.clone())).collect()
    }
}

impl Peer for Zsock {
    fn describe(&self) -> String {
        format!("zsock {}", type_name(self.0.socket_type()))
    }

    fn bind(&mut self, endpoint: &str) -> String {
        match self.0.bind(endpoint) {
            Ok(r) => r,
            Err(e) => panic!("{}: bind {endpoint}: {e}", self.describe()),
        }
    }

    fn connect(&mut self, endpoint: &str) {
        if let Err(e) = self.0.connect(endpoint) {
            panic!("{}: connect {endpoint}: {e}", self.describe());
        }
    }

    fn set_hwm(&mut self, hwm: i32) {
        self.0.set(SocketOption::SndHwm(hwm)).unwrap();
        self.0.set(SocketOption::RcvHwm(hwm)).unwrap();
    }

    fn send(&mut self, frames: &[Vec<u8>]) {
        let d = self.describe();
        if let Err(e) = self.0.send_msg(Self::zmsg(frames), Flags::NONE) {
            panic!("{d}: send failed: {e} ({:?})", e.kind());
        }
    }

    fn try_send(&mut self, frames: &[Vec<u8>]) -> bool {
        match self.0.send_msg(Self::zmsg(frames), Flags::DONTWAIT) {
            Ok(()) => true,
            Err(e) if e.kind() == ErrorKind::Again => false,
            Err(e) => panic!("{}: send failed: {e} ({:?})", self.describe(), e.kind()),
        }
    }

    fn recv_within(&mut self, timeout: Duration) -> Option<Frames> {
        let ms = i32::try_from(timeout.as_millis()).unwrap();
        self.0.set(SocketOption::RcvTimeo(ms)).unwrap();
        let r = self.0.recv_msg(Flags::NONE);
        self.0.set(SocketOption::RcvTimeo(PATIENCE_MS)).unwrap();
        match r {
            Ok(m) => Some(m.iter().map(|f| f.to_vec()).collect()),
            Err(e) if e.kind() == ErrorKind::Again => None,
            Err(e) => panic!("{}: recv failed: {e} ({:?})", self.describe(), e.kind()),
        }
    }

    fn subscribe(&mut self, topic: &[u8]) {
        let t = Bytes::copy_from_slice(topic);
        self.0.set(SocketOption::Subscribe(t)).unwrap();
    }

    fn unsubscribe(&mut self, topic: &[u8]) {
        let t = Bytes::copy_from_slice(topic);
        self.0.set(SocketOption::Unsubscribe(t)).unwrap();
    }

    fn try_send_routed(&mut self, frames: &[Vec<u8>]) -> bool {
        self.0.set(SocketOption::RouterMandatory(true)).unwrap();
        match self.0.send_msg(Self::zmsg(frames), Flags::NONE) {
            Ok(()) => true,
            Err(e) if e.kind() == ErrorKind::HostUnreachable => false,
            Err(e) => panic!("{}: send failed: {e} ({:?})", self.describe(), e.kind()),
        }
    }
}

/// A libzmq socket as a [`Peer`].
pub(crate) struct Zmq(pub(crate) zmq::Socket);

impl Peer for Zmq {
    fn describe(&self) -> String {
        let t = self.0.get_socket_type().unwrap();
        format!("libzmq {t:?}")
    }

    fn bind(&mut self, endpoint: &str) -> String {
        if let Err(e) = self.0.bind(endpoint) {
            panic!("{}: bind {endpoint}: {e}", self.describe());
        }
        zmq_last_endpoint(&self.0)
    }

    fn connect(&mut self, endpoint: &str) {
        if let Err(e) = self.0.connect(endpoint) {
            panic!("{}: connect {endpoint}: {e}", self.describe());
        }
    }

    fn set_hwm(&mut self, hwm: i32) {
        self.0.set_sndhwm(hwm).unwrap();
        self.0.set_rcvhwm(hwm).unwrap();
    }

    fn send(&mut self, frames: &[Vec<u8>]) {
        if let Err(e) = self.0.send_multipart(frames, 0) {
            panic!("{}: send failed: {e}", self.describe());
        }
    }

    fn try_send(&mut self, frames: &[Vec<u8>]) -> bool {
        match self.0.send_multipart(frames, zmq::DONTWAIT) {
            Ok(()) => true,
            Err(zmq::Error::EAGAIN) => false,
            Err(e) => panic!("{}: send failed: {e}", self.describe()),
        }
    }

    fn recv_within(&mut self, timeout: Duration) -> Option<Frames> {
        let ms = i32::try_from(timeout.as_millis()).unwrap();
        self.0.set_rcvtimeo(ms).unwrap();
        let r = self.0.recv_multipart(0);
        self.0.set_rcvtimeo(PATIENCE_MS).unwrap();
        match r {
            Ok(m) => Some(m),
            Err(zmq::Error::EAGAIN) => None,
            Err(e) => panic!("{}: recv failed: {e}", self.describe()),
        }
    }

    fn subscribe(&mut self, topic: &[u8]) {
        self.0.set_subscribe(topic).unwrap();
    }

    fn unsubscribe(&mut self, topic: &[u8]) {
        self.0.set_unsubscribe(topic).unwrap();
    }

    fn poke(&mut self) {
        self.0.get_events().unwrap();
    }

    fn try_send_routed(&mut self, frames: &[Vec<u8>]) -> bool {
        self.0.set_router_mandatory(true).unwrap();
        match self.0.send_multipart(frames, 0) {
            Ok(()) => true,
            Err(zmq::Error::EHOSTUNREACH) => false,
            Err(e) => panic!("{}: send failed: {e}", self.describe()),
        }
    }
}

/// Which library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lib {
    Zsock,
    Libzmq,
}

/// A socket of `lib` and type `t` (LINGER 0, 10 s timeouts) as a [`Peer`].
pub(crate) fn peer(lib: Lib, ctx: &Context, zctx: &zmq::Context, t: SocketType) -> Box<dyn Peer> {
    match lib {
        Lib::Zsock => Box::new(Zsock(zsock_socket(ctx, t))),
        Lib::Libzmq => Box::new(Zmq(zmq_socket(zctx, t))),
    }
}

/// Upper-case name of a socket type.
pub(crate) fn type_name(t: SocketType) -> String {
    format!("{t:?}").to_uppercase()
}

// ---------------------------------------------------------------------------------------
// Content

/// `len` pseudo-random bytes, a different stream for each `seed` (so a frame delivered in
/// the wrong place or order never compares equal by accident).
pub(crate) fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        // xorshift64*
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The message every matrix cell sends: an empty frame, 1 byte, 255 bytes (the longest
/// short frame), 256 bytes (the shortest long frame), and an empty frame again.
pub(crate) fn small_content(seed: u64) -> Frames {
    vec![
        Vec::new(),
        bytes(seed, 1),
        bytes(seed + 1, 255),
        bytes(seed + 2, 256),
        Vec::new(),
    ]
}

/// Fails the test unless `got` is `want`, frame by frame and byte by byte, saying where the
/// first difference is (without printing megabytes).
#[track_caller]
pub(crate) fn assert_frames(got: &[Vec<u8>], want: &[Vec<u8>], what: &str) {
    if got.len() != want.len() {
        panic!(
            "{what}: {} frames received, {} sent; sizes received {:?}, sent {:?}",
            got.len(),
            want.len(),
            sizes(got),
            sizes(want)
        );
    }
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        if g.len() != w.len() {
            panic!(
                "{what}: frame {i} has {} bytes, {} were sent",
                g.len(),
                w.len()
            );
        }
        if g != w {
            let at = g.iter().zip(w).position(|(a, b)| a != b).unwrap_or(0);
            panic!(
                "{what}: frame {i} ({} bytes) differs first at byte {at}: {:#04x} instead of {:#04x}",
                g.len(),
                g[at],
                w[at]
            );
        }
    }
}

fn sizes(m: &[Vec<u8>]) -> Vec<usize> {
    m.iter().take(20).map(Vec::len).collect()
}

/// `head` followed by `rest`.
pub(crate) fn prepend(head: &[&[u8]], rest: &[Vec<u8>]) -> Frames {
    head.iter()
        .map(|f| f.to_vec())
        .chain(rest.iter().cloned())
        .collect()
}

// ---------------------------------------------------------------------------------------
// Endpoints

/// Where a cell binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ep {
    /// A socket file in a temporary directory.
    Path,
    /// A Linux abstract name, unique per test and process.
    Abstract,
    /// `ipc://*`: the binder picks a path; the other side connects to its LAST_ENDPOINT.
    Wildcard,
    /// `tcp://127.0.0.1:*`: the binder picks a port; the other side connects to its
    /// LAST_ENDPOINT.
    Tcp,
    /// `tcp://[::1]:*` (libzmq with its IPV6 option on, which it needs for an IPv6
    /// address).
    Tcp6,
}

impl Ep {
    /// The binder picks the address (a path or a port): the connecting side uses its
    /// LAST_ENDPOINT, which differs from the bind address.
    pub(crate) fn picked_by_binder(self) -> bool {
        matches!(self, Ep::Wildcard | Ep::Tcp | Ep::Tcp6)
    }
}

/// The bind address of `ep` for the test `test` (its temporary directory `dir`).
pub(crate) fn bind_address(ep: Ep, dir: &tempfile::TempDir, test: &str) -> String {
    match ep {
        Ep::Path => format!("ipc://{}", dir.path().join("ep").display()),
        Ep::Abstract => abstract_address(test),
        Ep::Wildcard => "ipc://*".to_string(),
        Ep::Tcp => "tcp://127.0.0.1:*".to_string(),
        Ep::Tcp6 => "tcp://[::1]:*".to_string(),
    }
}

/// `ipc://@zsock-interop-<test>-<pid>`, shortened to fit sun_path if need be.
pub(crate) fn abstract_address(test: &str) -> String {
    let mut name: String = test
        .trim_start_matches("interop::")
        .replace("::", "-")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if name.len() > 80 {
        // Keep it unique: the tail plus a hash of the whole.
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        name.hash(&mut h);
        let tail = name[name.len() - 60..].to_string();
        name = format!("{:016x}-{tail}", h.finish());
    }
    format!("ipc://@zsock-interop-{name}-{}", std::process::id())
}

/// Removes the socket file of a libzmq `ipc://*` bind when dropped.
///
/// The libzmq that the `zmq` crate builds has no HAVE_MKDTEMP: its wildcard is a socket
/// file `tmpXXXXXX` directly in $TMPDIR, or in the current directory (this crate's
/// directory, under `cargo test`) when TMPDIR is unset, and it never removes it.
pub(crate) struct LibzmqWildcardFile(pub(crate) String);

impl Drop for LibzmqWildcardFile {
    fn drop(&mut self) {
        use std::os::unix::fs::FileTypeExt;
        let Some(path) = self.0.strip_prefix("ipc://") else {
            return;
        };
        let is_socket = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_socket());
        if is_socket {
            let _ = std::fs::remove_file(path);
        }
    }
}

// ---------------------------------------------------------------------------------------
// Monitors

/// The next zsock event matching `want` within `timeout`, skipping others.
pub(crate) fn zsock_event(
    mon: &Monitor,
    timeout: Duration,
    want: impl Fn(&Event) -> bool,
) -> Option<Event> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let e = mon.next(Some(left))?;
        if want(&e) {
            return Some(e);
        }
    }
}

/// All zsock events that come within `window`.
pub(crate) fn zsock_events_within(mon: &Monitor, window: Duration) -> Vec<Event> {
    let deadline = Instant::now() + window;
    let mut out = Vec::new();
    while let Some(e) = mon.next(Some(deadline.saturating_duration_since(Instant::now()))) {
        out.push(e);
    }
    out
}

/// One libzmq monitor event: what, its value (a descriptor or errno), and the endpoint.
#[derive(Debug, Clone)]
pub(crate) struct ZmqEvent {
    pub(crate) event: zmq::SocketEvent,
    #[allow(dead_code)] // shown in failure messages
    pub(crate) value: u32,
    pub(crate) endpoint: String,
}

/// A libzmq socket monitor (zmq_socket_monitor over inproc, read by a PAIR).
pub(crate) struct ZmqMonitor {
    pair: zmq::Socket,
}

impl ZmqMonitor {
    /// Starts monitoring every event of `s`. Call before `s` binds or connects.
    pub(crate) fn new(ctx: &zmq::Context, s: &zmq::Socket) -> ZmqMonitor {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let ep = format!("inproc://monitor-{}", N.fetch_add(1, Ordering::Relaxed));
        s.monitor(&ep, zmq::SocketEvent::ALL as i32).unwrap();
        let pair = ctx.socket(zmq::PAIR).unwrap();
        pair.set_linger(0).unwrap();
        pair.connect(&ep).unwrap();
        ZmqMonitor { pair }
    }

    /// The next event within `timeout`.
    pub(crate) fn next(&self, timeout: Duration) -> Option<ZmqEvent> {
        let ms = i32::try_from(timeout.as_millis()).unwrap().max(1);
        self.pair.set_rcvtimeo(ms).unwrap();
        let m = match self.pair.recv_multipart(0) {
            Ok(m) => m,
            Err(zmq::Error::EAGAIN) => return None,
            Err(e) => panic!("libzmq monitor: {e}"),
        };
        assert!(
            m.len() == 2 && m[0].len() == 6,
            "libzmq monitor message {m:?}"
        );
        let raw = u16::from_ne_bytes([m[0][0], m[0][1]]);
        let value = u32::from_ne_bytes([m[0][2], m[0][3], m[0][4], m[0][5]]);
        Some(ZmqEvent {
            event: zmq::SocketEvent::from_raw(raw),
            value,
            endpoint: String::from_utf8_lossy(&m[1]).into_owned(),
        })
    }

    /// The next event matching `want` within `timeout`, skipping others.
    pub(crate) fn wait_for(
        &self,
        timeout: Duration,
        want: impl Fn(&ZmqEvent) -> bool,
    ) -> Option<ZmqEvent> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let e = self.next(left)?;
            if want(&e) {
                return Some(e);
            }
        }
    }

    /// All events that come within `window`.
    pub(crate) fn events_within(&self, window: Duration) -> Vec<ZmqEvent> {
        let deadline = Instant::now() + window;
        let mut out = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return out;
            }
            match self.next(left) {
                Some(e) => out.push(e),
                None => return out,
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Child processes

/// The environment variable that turns this test binary into a child peer (see
/// `child::child_process_entry`).
pub(crate) const CHILD_ENV: &str = "ZSOCK_INTEROP_CHILD";
/// The line a child prints once its socket is bound or connected, followed by the resolved
/// endpoint.
pub(crate) const CHILD_READY: &str = "ZSOCK-INTEROP-CHILD-READY";

/// A peer in another process: this test binary re-run with [`CHILD_ENV`] set, so it can be
/// stopped (SIGSTOP) or killed like a real process. Killed and reaped on drop.
pub(crate) struct ChildPeer {
    child: std::process::Child,
    /// What the child printed after [`CHILD_READY`] (its resolved endpoint).
    pub(crate) endpoint: String,
}

impl ChildPeer {
    /// Starts a child with `spec` (`key=value;...`, see `child::child_process_entry`) and
    /// waits until it says it is ready.
    pub(crate) fn spawn(spec: &str) -> ChildPeer {
        ChildPeer::spawn_with_env(spec, &[])
    }

    /// [`ChildPeer::spawn`] with more environment variables for the child.
    pub(crate) fn spawn_with_env(spec: &str, env: &[(&str, &str)]) -> ChildPeer {
        let exe = std::env::current_exe().unwrap();
        let mut child = Command::new(exe)
            .args([
                "--exact",
                "child::child_process_entry",
                "--nocapture",
                "--test-threads=1",
                "-q",
            ])
            .env(CHILD_ENV, spec)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        // Reads everything the child prints, so it never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix(CHILD_READY) {
                    let _ = tx.send(rest.trim().to_string());
                }
            }
        });
        let mut peer = ChildPeer {
            child,
            endpoint: String::new(),
        };
        match rx.recv_timeout(PATIENCE) {
            Ok(ep) => peer.endpoint = ep,
            Err(_) => panic!("child `{spec}` did not get ready within {PATIENCE:?}"),
        }
        peer
    }

    /// The child's pid.
    pub(crate) fn pid(&self) -> i32 {
        i32::try_from(self.child.id()).unwrap()
    }

    /// Sends `sig` to the child.
    pub(crate) fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on our own child's pid; it has not been reaped (we hold it).
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill({}, {sig})", self.pid());
    }

    /// SIGKILLs the child and waits until it is gone.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildPeer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The first HandshakeSucceeded or HandshakeFailed event of a zsock monitor.
#[track_caller]
pub(crate) fn handshake_result(mon: &Monitor) -> Event {
    loop {
        let e = mon
            .next(Some(PATIENCE))
            .expect("a handshake result in time");
        if matches!(
            e,
            Event::HandshakeSucceeded { .. } | Event::HandshakeFailed { .. }
        ) {
            return e;
        }
    }
}
