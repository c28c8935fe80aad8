//! [`Context`] and [`Socket`].

use std::collections::VecDeque;
use std::os::fd::BorrowedFd;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use ipc_transport::{
    Authenticator, Closing, Config, Core, Engine, Guard, IoThreads, Message, PipeId, PollClaim,
    PollWaker, RecvRead, SendWait, TcpOptions, Terminator, Watcher,
};
use zmtp_codec::curve::CurveSecretKey;
use zmtp_codec::{Mechanism, Security, SocketType};

use crate::error::{fixed_error, Error, ErrorKind, Result};
use crate::metadata::Metadata;
use crate::monitor::Monitor;
use crate::options::{
    millis_or_infinite, millis_or_system, non_negative, secs_or_system, system_or_at_least,
    SocketOption,
};
use crate::routing::{Ahead, RecvError, Routing, SendError};
use crate::sendable::{Payload, Sendable};

/// Flags of a send or receive call (libzmq's ZMQ_DONTWAIT and ZMQ_SNDMORE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(u8);

impl Flags {
    /// No flags: block (up to SNDTIMEO/RCVTIMEO), last frame.
    pub const NONE: Flags = Flags(0);
    /// Fail with EAGAIN instead of blocking.
    pub const DONTWAIT: Flags = Flags(1);
    /// More frames of this message follow.
    pub const SNDMORE: Flags = Flags(2);

    /// Whether all of `other`'s flags are set.
    pub fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// Readiness bits (libzmq's ZMQ_POLLIN and ZMQ_POLLOUT). Printed as their names:
/// `POLLIN | POLLOUT`, `NONE`.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Events(u8);

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(
            match (
                self.contains(Events::POLLIN),
                self.contains(Events::POLLOUT),
            ) {
                (true, true) => "POLLIN | POLLOUT",
                (true, false) => "POLLIN",
                (false, true) => "POLLOUT",
                (false, false) => "NONE",
            },
        )
    }
}

impl Events {
    /// Nothing.
    pub const NONE: Events = Events(0);
    /// A message can be received without blocking.
    pub const POLLIN: Events = Events(1);
    /// A message can be sent without blocking.
    pub const POLLOUT: Events = Events(2);

    /// Whether all of `other`'s bits are set.
    pub fn contains(self, other: Events) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no bit is set.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for Events {
    type Output = Events;
    fn bitor(self, rhs: Events) -> Events {
        Events(self.0 | rhs.0)
    }
}

impl std::ops::BitAnd for Events {
    type Output = Events;
    fn bitand(self, rhs: Events) -> Events {
        Events(self.0 & rhs.0)
    }
}

#[derive(Default)]
struct ContextShared {
    /// Closed sockets still lingering.
    lingering: Mutex<Vec<Closing>>,
    /// The I/O threads, started with the first socket.
    io: Mutex<IoState>,
    /// [`Context::shutdown`] was called.
    shut: std::sync::atomic::AtomicBool,
    /// The context's sockets, for [`Context::shutdown`] (gone ones are dropped as new
    /// ones come).
    sockets: Mutex<Vec<Terminator>>,
}

#[derive(Default)]
struct IoState {
    /// IO_THREADS as set (`None`: the default, [`Context::DEFAULT_IO_THREADS`]).
    wanted: Option<usize>,
    threads: Option<IoThreads>,
    /// The authenticator, kept for threads not started yet.
    authenticator: Option<Arc<dyn Authenticator>>,
}

/// A ZeroMQ context: the I/O threads its sockets share, and, when its last handle goes, a
/// wait for closed sockets to finish sending within their LINGER (as `zmq_ctx_term` does).
/// Each socket holds a handle: a socket that outlives every `Context` clone makes that
/// wait when it is dropped, so its queued messages still go out.
///
/// Like libzmq's, a context runs IO_THREADS background threads (one unless set with
/// [`Context::set_io_threads`]), started with its first socket and shared by all its
/// sockets: a process's thread count does not grow with its socket count. Each thread
/// accepts, connects, reconnects, handshakes, keeps heartbeats and writes queued messages
/// for the sockets placed on it; a socket's own calls do their IO on the calling thread
/// whenever they can.
#[derive(Clone, Default)]
pub struct Context {
    shared: Arc<ContextShared>,
}

impl Context {
    /// IO_THREADS unless set: one thread serves every socket of the context, as in libzmq.
    pub const DEFAULT_IO_THREADS: usize = 1;

    /// A new context.
    pub fn new() -> Context {
        Context::default()
    }

    /// Sets how many I/O threads the context's sockets share (libzmq's ZMQ_IO_THREADS;
    /// at least 1). Only before the first socket: the threads start with it, and after
    /// that this fails with EINVAL rather than silently doing nothing.
    pub fn set_io_threads(&self, n: usize) -> Result<()> {
        let mut io = self.shared.io.lock().unwrap_or_else(|e| e.into_inner());
        if n == 0 {
            return Err(Error::invalid("IO_THREADS must be at least 1"));
        }
        if io.threads.is_some() {
            return Err(Error::invalid(
                "IO_THREADS can only be set before the context's first socket",
            ));
        }
        io.wanted = Some(n);
        Ok(())
    }

    /// IO_THREADS: how many I/O threads the context's sockets share (or will share).
    pub fn io_threads(&self) -> usize {
        let io = self.shared.io.lock().unwrap_or_else(|e| e.into_inner());
        match &io.threads {
            Some(t) => t.len(),
            None => io.wanted.unwrap_or(Context::DEFAULT_IO_THREADS),
        }
    }

    /// Installs the authenticator of the context's sockets, replacing any before it: the
    /// in-process counterpart of libzmq's ZAP handler (27/ZAP). A PLAIN server asks it
    /// about every client (user name and password), a CURVE server too (the client's
    /// long-term public key), and so does a NULL socket with a ZAP domain; it answers with a [`ZapReply`](crate::ZapReply):
    /// [`ZapReply::allow`](crate::ZapReply::allow) with a user id (which
    /// the peer's messages then carry as `User-Id`), or
    /// [`ZapReply::refuse`](crate::ZapReply::refuse) with a
    /// status (400 and 500 send the peer an ERROR with the code, 300 just closes). Each
    /// request carries the server socket's ZAP domain, the peer's address (a tcp peer's
    /// IP, an ipc peer's `localhost:UID:GID:PID`), the server's routing id, the mechanism and the
    /// credentials.
    ///
    /// It applies to handshakes from now on, in sockets made before or after. It runs on
    /// the context's authentication thread, one request at a time, as a ZAP handler does:
    /// it may take its time (a database or directory lookup) without holding up any
    /// socket's traffic; the handshakes that wait for it stay bounded by their
    /// HANDSHAKE_IVL. A panic in it refuses the peer with status 500. The context holds it:
    /// one that holds a clone of the context keeps the context alive for good.
    ///
    /// ```
    /// use zsock::{Context, ZapReply, ZapRequest, ZapStatus};
    ///
    /// let ctx = Context::new();
    /// ctx.set_authenticator(|req: &ZapRequest| {
    ///     if req.credentials.len() == 2 && req.credentials[0] == "admin" && req.credentials[1] == "secret" {
    ///         ZapReply::allow("admin")
    ///     } else {
    ///         ZapReply::refuse(ZapStatus::Denied, "unknown user")
    ///     }
    /// });
    /// ```
    pub fn set_authenticator(&self, authenticator: impl Authenticator) {
        self.install_authenticator(Some(Arc::new(authenticator)));
    }

    /// Removes the authenticator: PLAIN servers refuse every peer again, NULL sockets with
    /// a ZAP domain admit them (unless ZAP_ENFORCE_DOMAIN).
    pub fn remove_authenticator(&self) {
        self.install_authenticator(None);
    }

    fn install_authenticator(&self, auth: Option<Arc<dyn Authenticator>>) {
        let mut io = self.shared.io.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(t) = &io.threads {
            t.set_authenticator(auth.clone());
        }
        io.authenticator = auth;
    }

    /// Creates a socket of type `t`. ETERM once the context was shut down.
    pub fn socket(&self, t: SocketType) -> Result<Socket> {
        if self.shared.shut.load(Ordering::SeqCst) {
            return Err(Error::terminated());
        }
        let io = {
            let mut io = self.shared.io.lock().unwrap_or_else(|e| e.into_inner());
            match &io.threads {
                Some(t) => t.clone(),
                None => {
                    let t = IoThreads::new(io.wanted.unwrap_or(Context::DEFAULT_IO_THREADS))?;
                    t.set_authenticator(io.authenticator.clone());
                    io.threads = Some(t.clone());
                    t
                }
            }
        };
        let socket = Socket::new(self.shared.clone(), &io, t)?;
        let mut sockets = self
            .shared
            .sockets
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if sockets.len() >= 64 && sockets.len().is_power_of_two() {
            sockets.retain(|s| !s.is_gone());
        }
        sockets.push(socket.engine().terminator());
        drop(sockets);
        // (A shutdown that ran meanwhile did not see this socket.)
        if self.shared.shut.load(Ordering::SeqCst) {
            socket.engine().terminator().terminate();
        }
        Ok(socket)
    }

    /// Shuts the context down, as `zmq_ctx_shutdown` does: every blocking call on its
    /// sockets, in any thread, returns ETERM ([`ErrorKind::Terminated`]) and so do later
    /// sends, receives, polls, binds and connects; new sockets cannot be made. The sockets
    /// still need closing (dropping), which sends what they queued within their LINGER.
    /// This is how threads blocked in `recv` (an inproc worker, say) are told to stop.
    pub fn shutdown(&self) {
        self.shared.shut.store(true, Ordering::SeqCst);
        let sockets = std::mem::take(
            &mut *self
                .shared
                .sockets
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for s in &sockets {
            s.terminate();
        }
    }

    /// Waits for every socket closed so far to finish lingering. Also done when the
    /// context's last handle goes: its last `Context` clone, or a socket that outlived them
    /// all.
    pub fn term(&self) {
        let closing = std::mem::take(
            &mut *self
                .shared
                .lingering
                .lock()
                .unwrap_or_else(|e| e.into_inner()),
        );
        for c in closing {
            c.wait();
        }
    }
}

impl Drop for ContextShared {
    /// The context's last handle went: its last `Context` clone, or a socket that outlived
    /// every clone (each socket holds a handle). Closed sockets finish sending within their
    /// LINGER first, as `zmq_ctx_term` does (and as the `zmq` crate's last socket does);
    /// then the I/O threads stop. Clones handed to threads do not block each other.
    fn drop(&mut self) {
        // (Not on the stack's own threads, where the last handle can go when an
        // authenticator held it: the lingering needs those threads, so it finishes in the
        // background there.)
        if ipc_transport::is_internal_thread() {
            return;
        }
        let closing = std::mem::take(self.lingering.get_mut().unwrap_or_else(|e| e.into_inner()));
        for c in closing {
            c.wait();
        }
    }
}

/// Most messages one receive takes from the engine ahead of the caller (PULL and DEALER
/// with several peers, SUB), and at most RCVHWM (PAIR, and PULL or DEALER with one peer,
/// take the peer's whole queue, by exchanging queues): they were received already, and
/// taking them under the same lock saves the lock, the routing and the settling for each.
/// Like libzmq's receive pipe, this never reads from a socket: it moves only what is
/// queued, and what the socket holds counts towards RCVHWM until it is handed out
/// ([`ipc_transport::Engine::lock_holding`]).
const PREFETCH: usize = 32;

/// ZMQ_EVENTS from the socket's state, `holds_input` saying whether the socket holds
/// received frames or messages of its own. Empties the notify descriptor first, and hands
/// parked connections back to the I/O thread (the caller may wait on the descriptor next:
/// their input must reach the I/O thread). After the context's shutdown: both, so that
/// the caller's next call says ETERM (libzmq's ZMQ_EVENTS fails with it).
pub(crate) fn readiness(g: &mut Guard<'_, Routing>, holds_input: bool) -> Events {
    if g.is_terminated() {
        return Events::POLLIN | Events::POLLOUT;
    }
    // (Whether a ring came meanwhile does not matter: the state is looked at next.)
    let _ = g.rearm_notify_fd();
    let (routing, core) = g.parts();
    let mut ev = Events::NONE;
    if holds_input || routing.can_recv(core) {
        ev = ev | Events::POLLIN;
    }
    if routing.can_send(core) {
        ev = ev | Events::POLLOUT;
    }
    ev
}

/// A send that may not wait found no room: [`Socket::fd`] is emptied, as a receive's EAGAIN
/// empties it, so that room signals it again; input that waits meanwhile signals it at
/// once. `true`: an inproc peer rang meanwhile, look again before saying EAGAIN.
fn rearm_for_send(g: &mut Guard<'_, Routing>, holds_input: bool) -> bool {
    if g.rearm_notify_fd() {
        return true;
    }
    let (routing, core) = g.parts();
    if holds_input || routing.can_recv(core) {
        g.signal_notify_fd();
    }
    false
}

/// `Socket::engine` is `None` only inside `drop`.
const ENGINE: &str = "socket engine present until drop";

/// Option values kept on the socket side (the rest live in the transport's config).
#[derive(Debug, Clone)]
struct Local {
    linger: Option<Duration>,
    /// RECONNECT_IVL as set (0 and -1 both mean "never", but read back as set).
    reconnect_ivl: i32,
    /// HEARTBEAT_TIMEOUT as set (-1, the default, and 0 both mean "the interval", but
    /// read back as set, as libzmq's do).
    heartbeat_timeout: i32,
    rcvtimeo: Option<Duration>,
    sndtimeo: Option<Duration>,
    conflate: bool,
    /// PLAIN_*, CURVE_* as set.
    security: SecurityOptions,
}

/// The mechanism options as set, with libzmq's rules: the last of PLAIN_SERVER,
/// PLAIN_USERNAME, PLAIN_PASSWORD, CURVE_SERVER, CURVE_PUBLICKEY, CURVE_SECRETKEY and
/// CURVE_SERVERKEY chooses the mechanism (PLAIN_SERVER 0 and CURVE_SERVER 0 go back to NULL),
/// one as-server flag serves both (PLAIN_SERVER and CURVE_SERVER set it; a user name,
/// password or server key clears it), and the values stay for a later switch back.
#[derive(Debug, Clone, Default)]
struct SecurityOptions {
    mechanism: MechanismChoice,
    as_server: bool,
    username: Bytes,
    password: Bytes,
    public: Option<[u8; 32]>,
    secret: Option<CurveSecretKey>,
    server_key: Option<[u8; 32]>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum MechanismChoice {
    #[default]
    Null,
    Plain,
    Curve,
}

impl SecurityOptions {
    /// PLAIN_SERVER or CURVE_SERVER: the one as-server flag, and `mechanism` if on (NULL
    /// if off), as libzmq sets them.
    fn serve(&mut self, on: bool, mechanism: MechanismChoice) {
        self.as_server = on;
        self.mechanism = if on { mechanism } else { MechanismChoice::Null };
    }

    /// The mechanism these options make, or what is missing for it (a bind or connect
    /// fails with that rather than go ahead with anything else).
    fn security(&self) -> std::result::Result<Security, &'static str> {
        match (self.mechanism, self.as_server) {
            (MechanismChoice::Null, _) => Ok(Security::Null),
            (MechanismChoice::Plain, true) => Ok(Security::PlainServer),
            (MechanismChoice::Plain, false) => Ok(Security::PlainClient {
                username: self.username.clone(),
                password: self.password.clone(),
            }),
            (MechanismChoice::Curve, true) => match &self.secret {
                Some(secret) => Ok(Security::CurveServer {
                    secret: secret.clone(),
                }),
                None => Err("a CURVE server needs CURVE_SECRETKEY"),
            },
            (MechanismChoice::Curve, false) => match (&self.server_key, &self.secret) {
                (Some(server), Some(secret)) => Ok(Security::CurveClient {
                    server: *server,
                    public: self.public,
                    secret: secret.clone(),
                }),
                (None, Some(_)) => Err("a CURVE client needs CURVE_SERVERKEY"),
                (Some(_), None) => Err("a CURVE client needs CURVE_SECRETKEY"),
                (None, None) => Err("a CURVE client needs CURVE_SERVERKEY and CURVE_SECRETKEY"),
            },
        }
    }
}

/// A ZeroMQ socket over `ipc://`, `tcp://` or `inproc://`.
///
/// Threading contract: a `Socket` is `Send` but not `Sync`. Move it between threads freely,
/// use it from one at a time (as libzmq requires). Its context's I/O threads keep accepting,
/// reconnecting, handshaking and sending queued messages while the socket is idle.
/// Dropping the socket closes it: listeners stop and their socket files are removed at
/// once; queued messages are sent for up to LINGER in the background, and [`Context`]'s
/// drop waits for that.
///
/// ```
/// use zsock::{Context, Flags, SocketType};
///
/// let ctx = Context::new();
/// let rep = ctx.socket(SocketType::Rep)?;
/// let endpoint = rep.bind("ipc://*")?; // a private directory under $TMPDIR
/// let mut req = ctx.socket(SocketType::Req)?;
/// req.connect(&endpoint)?;
/// req.send("ping", Flags::NONE)?;
/// let mut rep = rep;
/// assert_eq!(rep.recv(Flags::NONE)?, "ping");
/// rep.send("pong", Flags::NONE)?;
/// assert_eq!(req.recv(Flags::NONE)?, "pong");
/// # Ok::<(), zsock::Error>(())
/// ```
pub struct Socket {
    engine: Option<Engine<Routing>>,
    ctx: Arc<ContextShared>,
    socket_type: SocketType,
    local: Local,
    /// Frames of a message being sent with SNDMORE.
    sending: Option<Message>,
    /// Frames of a received message not yet handed out by `recv`.
    receiving: VecDeque<Bytes>,
    /// Whether `receiving` holds frames, for poll items ([`PollItem`]), which see the
    /// socket's readiness without borrowing it.
    ///
    /// [`PollItem`]: crate::PollItem
    partial: Arc<std::sync::atomic::AtomicBool>,
    /// Whole messages taken from the engine with the one before them (PAIR, PULL,
    /// DEALER, SUB), handed out without the lock. See [`PREFETCH`].
    prefetched: Ahead,
    /// The pipe of the message handed out last, for [`Socket::peer`]: `None` when it
    /// came from no pipe (an XPUB's subscription) or none was received yet.
    last_from: Option<PipeId>,
    /// What the engine counts of `prefetched` ([`ipc_transport::Engine::lock_holding`]).
    lent: std::cell::Cell<usize>,
    /// [`Socket::fd`] was asked for: an application may wait on the notify descriptor
    /// itself, so a receive's or send's EAGAIN empties it (zsock's poll and event-loop
    /// waits empty it themselves).
    fd_handed: std::cell::Cell<bool>,
    rcvmore: bool,
    /// The last send's word that a blocking receive right after it yields the CPU before
    /// it locks the socket ([`Guard::early_yield_hint`]); taken by the next receive.
    yield_before_recv: bool,
    last_endpoint: std::cell::RefCell<String>,
    /// The last [`Socket::send_copy_deferring`] kept its body for want of an idle
    /// connection: [`Socket::prepare_wait`] for POLLOUT waits for one.
    deferred: bool,
}

impl Socket {
    fn new(ctx: Arc<ContextShared>, io: &IoThreads, t: SocketType) -> Result<Socket> {
        let config = Config::new(t);
        let mut routing = Routing::new(t);
        routing.opts = Default::default();
        let engine = Engine::with_io(io, config, routing)?;
        Ok(Socket {
            engine: Some(engine),
            ctx,
            socket_type: t,
            local: Local {
                // libzmq: SUB and XSUB default to LINGER 0 (queued subscriptions are not
                // worth waiting for); every other type to -1.
                linger: matches!(t, SocketType::Sub | SocketType::XSub).then_some(Duration::ZERO),
                reconnect_ivl: 100,
                heartbeat_timeout: -1,
                rcvtimeo: None,
                sndtimeo: None,
                conflate: false,
                security: SecurityOptions::default(),
            },
            sending: None,
            receiving: VecDeque::new(),
            partial: Arc::default(),
            prefetched: Ahead::default(),
            last_from: None,
            lent: std::cell::Cell::new(0),
            fd_handed: std::cell::Cell::new(false),
            rcvmore: false,
            yield_before_recv: false,
            last_endpoint: std::cell::RefCell::new(String::new()),
            deferred: false,
        })
    }

    fn engine(&self) -> &Engine<Routing> {
        self.engine.as_ref().expect(ENGINE)
    }

    /// ETERM once the context was shut down.
    fn check_live(&self) -> Result<()> {
        if self.engine().lock().is_terminated() {
            return Err(Error::terminated());
        }
        Ok(())
    }

    /// The socket's type (ZMQ_TYPE).
    pub fn socket_type(&self) -> SocketType {
        self.socket_type
    }

    /// Binds to an `ipc://`, `tcp://` or `inproc://` endpoint and returns the resolved
    /// endpoint (for `ipc://*`, the generated path; for a `tcp://` wildcard port, the real
    /// port). Many endpoints per socket are fine. A `tcp://` bind takes an IPv4 or IPv6
    /// address, `*` or an interface's name (its IPv4 address; with `SocketOption::Ipv6`
    /// on, its IPv6 one if it has one). An `inproc://NAME` is the
    /// context's: another socket of the same context holding it is EADDRINUSE, and the
    /// connects that waited for it are joined now.
    pub fn bind(&self, endpoint: &str) -> Result<String> {
        self.check_live()?;
        self.check_security()?;
        let resolved = self.engine().bind(endpoint)?;
        self.last_endpoint.replace(resolved.clone());
        Ok(resolved)
    }

    /// Connects to an `ipc://` or `tcp://` endpoint (an address or a host name, looked up
    /// now and again at each reconnect; a name that does not resolve is an error), or to
    /// an `inproc://NAME` of this socket's context. Returns at once; the connection is
    /// made (and remade) in the background, so connecting before the peer binds works
    /// (over inproc, what is sent meanwhile waits for the bind, up to SNDHWM).
    pub fn connect(&self, endpoint: &str) -> Result<()> {
        self.check_live()?;
        self.check_security()?;
        {
            let mut g = self.engine().lock();
            let id = g.handler().opts.connect_routing_id.take();
            if let Some(id) = id {
                g.handler().name_connection(endpoint, id);
            }
        }
        self.engine().connect(endpoint)?;
        self.last_endpoint.replace(endpoint.to_string());
        Ok(())
    }

    /// Stops listening on an endpoint (by the string `bind` returned, which is what
    /// [`Socket::last_endpoint`] reports); closes the connections accepted through it
    /// (over inproc, as in libzmq, only the name goes: its connections stay).
    pub fn unbind(&self, endpoint: &str) -> Result<()> {
        self.engine().unbind(endpoint)?;
        Ok(())
    }

    /// Stops connecting to an endpoint and closes its connection: `endpoint` is the string
    /// given to [`Socket::connect`], compared exactly, and every connect made with it goes
    /// (as in libzmq). ENOENT when none was made.
    pub fn disconnect(&self, endpoint: &str) -> Result<()> {
        self.engine().disconnect(endpoint)?;
        self.engine().lock().handler().forget_connection(endpoint);
        Ok(())
    }

    /// ZMQ_LAST_ENDPOINT: the endpoint of the most recent bind (resolved: for `ipc://*`
    /// the generated path) or connect; empty if none.
    pub fn last_endpoint(&self) -> String {
        self.last_endpoint.borrow().clone()
    }

    /// Sends one frame; with [`Flags::SNDMORE`], more frames of the same message follow.
    /// The message goes out whole when its last frame is sent.
    ///
    /// Borrowed bytes (`&[u8]`, `&[u8; N]`, `&str`, `&Vec<u8>`, `&String`) are copied, as
    /// [`Socket::send_copy`] does; owned ones (`Vec<u8>`, `String`, `Bytes`, ...) are
    /// handed over without a copy. See [`Sendable`].
    ///
    /// ```
    /// # use zsock::{Context, Flags, SocketType};
    /// # let ctx = Context::new();
    /// # let mut push = ctx.socket(SocketType::Push)?;
    /// # let mut pull = ctx.socket(SocketType::Pull)?;
    /// # pull.connect(&push.bind("ipc://*")?)?;
    /// let name = String::from("world");
    /// push.send(b"hello", Flags::SNDMORE)?; // copied
    /// push.send(&name, Flags::SNDMORE)?; // copied
    /// push.send(name, Flags::NONE)?; // handed over
    /// assert_eq!(pull.recv_multipart(Flags::NONE)?, ["hello", "world", "world"]);
    /// # Ok::<(), zsock::Error>(())
    /// ```
    #[inline]
    pub fn send<'a>(&mut self, frame: impl Sendable<'a>, flags: Flags) -> Result<()> {
        match frame.into_payload() {
            Payload::Borrowed(b) => self.send_copy(b, flags),
            Payload::Owned(b) => self.send_owned(b, flags),
        }
    }

    /// Sends a whole message, one frame per item (borrowed ones copied, owned ones
    /// handed over, as for [`Socket::send`]). With [`Flags::SNDMORE`], more frames of the
    /// same message follow. An empty list is EINVAL: a message has at least one frame.
    pub fn send_multipart<'a, I>(&mut self, frames: I, flags: Flags) -> Result<()>
    where
        I: IntoIterator,
        I::Item: Sendable<'a>,
    {
        let mut msg = crate::multipart(frames)?;
        if flags.contains(Flags::SNDMORE) {
            for f in msg {
                self.send_owned(f, flags)?;
            }
            return Ok(());
        }
        self.send_whole(&mut msg, flags)
    }

    /// Sends one frame of bytes the caller hands over.
    fn send_owned(&mut self, frame: Bytes, flags: Flags) -> Result<()> {
        if !flags.contains(Flags::SNDMORE) {
            // The last frame: `send_whole` puts the frames held so far in front of it (and
            // decides EAGAIN for a single-frame message), under one lock.
            let mut msg = Message::from(frame);
            return self.send_whole(&mut msg, flags);
        }
        if self.sending.is_none() {
            // libzmq decides EAGAIN on the first frame; later frames always succeed.
            if self.socket_type == SocketType::Router {
                self.check_route(&frame, flags)?;
            } else {
                self.wait_writable(flags)?;
            }
        }
        self.sending.get_or_insert_with(Message::new).push(frame);
        Ok(())
    }

    /// ROUTER_MANDATORY: an unknown routing id fails on the routing-id frame itself
    /// (EHOSTUNREACH), and a full peer blocks or fails there (EAGAIN), as in libzmq.
    fn check_route(&mut self, id: &[u8], flags: Flags) -> Result<()> {
        let deadline = deadline_of(self.local.sndtimeo);
        let dontwait = flags.contains(Flags::DONTWAIT);
        let mut g = self.lock();
        loop {
            if g.is_terminated() {
                return Err(Error::terminated());
            }
            let (routing, core) = g.parts();
            if !routing.opts.router_mandatory {
                return Ok(());
            }
            match routing.router_check(core, id) {
                Ok(true) => return Ok(()),
                Ok(false) => {
                    if dontwait && self.rearm_after_send_again(&mut g) {
                        continue;
                    }
                    if dontwait || (!g.wait(deadline)? && deadline_passed(deadline)) {
                        return Err(fixed_error!(
                            Again,
                            "the peer's queue is full (ROUTER_MANDATORY)"
                        ));
                    }
                }
                Err(_) => {
                    return Err(Error::new(
                        ErrorKind::HostUnreachable,
                        "no peer has that routing id (ROUTER_MANDATORY)",
                    ))
                }
            }
        }
    }

    /// Sends a whole multipart message. Frames are `Bytes`: nothing is copied. Frames
    /// already given to [`Socket::send`] with SNDMORE come first.
    pub fn send_msg(&mut self, msg: impl Into<Message>, flags: Flags) -> Result<()> {
        let mut msg = msg.into();
        self.send_whole(&mut msg, flags)
    }

    /// [`Socket::send_msg`] for a caller that keeps the message when the send fails: it is
    /// taken (`msg` left empty) only if the send succeeds; on any error, EAGAIN included,
    /// `msg` is as it was, ready for another attempt. What an event loop needs to retry a
    /// send once the socket becomes writable (`zsock-tokio` is built on it). Frames given
    /// earlier with [`Flags::SNDMORE`] go in front of `msg`'s and, should the send fail,
    /// stay in `msg`.
    pub fn send_msg_ref(&mut self, msg: &mut Message, flags: Flags) -> Result<()> {
        self.send_whole(msg, flags)?;
        if !msg.is_empty() {
            *msg = Message::new();
        }
        Ok(())
    }

    /// [`Socket::send_msg`] with the message by reference: it is not moved on the way to
    /// the connection (a move of a message costs more than encoding a small one). With no
    /// SNDMORE frames held, `msg` is left as it was when the send fails (a proxy keeps it
    /// for later).
    pub(crate) fn send_whole(&mut self, msg: &mut Message, flags: Flags) -> Result<()> {
        // (Looked at before it is taken: taking moves the whole Option, on every send.)
        if self.sending.is_some() {
            if let Some(mut head) = self.sending.take() {
                for f in std::mem::take(msg) {
                    head.push(f);
                }
                *msg = head;
            }
        }
        if msg.is_empty() {
            msg.push(Bytes::new());
        }
        self.send_with(flags, |routing, core, wait| routing.send(core, msg, wait))
    }

    /// Sends a copy of `data` as a one-frame message, like zmq_send: for PAIR, PUSH,
    /// DEALER, REQ and REP, up to [`COPY_MAX`](crate::COPY_MAX) bytes, the bytes are copied
    /// straight into the connection's batch when it can take them, so no message is
    /// allocated; for PUB and XPUB, into each matching subscriber's batch (a message no
    /// subscriber wants costs no allocation). A larger body goes straight from `data` to
    /// the kernel when the connection is ready for it (PAIR, and PUSH or DEALER with one peer), only what the
    /// kernel did not take being copied. Unless the send may not block (DONTWAIT, or
    /// SNDTIMEO 0), it first writes what waits for that connection and then waits for the
    /// kernel to take the body while the peer reads, for a bounded while (a few times what
    /// the copy would take; the call returns later, never fails for it). Otherwise the
    /// body is copied into a message before the socket's lock is taken, so the I/O thread
    /// never waits for the copy. Other types and SNDMORE build a message. For bytes you
    /// already own, [`Socket::send`] hands them over without a copy.
    pub fn send_copy(&mut self, data: &[u8], flags: Flags) -> Result<()> {
        if flags.contains(Flags::SNDMORE) || self.sending.is_some() {
            return self.send_owned(Bytes::copy_from_slice(data), flags);
        }
        let publishes = matches!(self.socket_type, SocketType::Pub | SocketType::XPub);
        if publishes && data.len() <= ipc_transport::COPY_MAX {
            // Copied into each subscriber's batch; a large body is copied once and shared.
            return self.send_with(flags, |routing, core, wait| {
                routing
                    .send_copy(core, data, wait)
                    .unwrap_or(Err(SendError::NotSupported)) // PUB and XPUB have it
            });
        }
        if !sends_to_one_peer(self.socket_type) {
            return self.send_owned(Bytes::copy_from_slice(data), flags);
        }
        if data.len() > ipc_transport::COPY_MAX {
            // Straight to the kernel when the connection is ready for it; otherwise the
            // copy is made before the lock is taken.
            let wait = self.send_wait(flags);
            let mut g = self.lock();
            let (routing, core) = g.parts();
            if routing.send_copy_now(core, data, wait) {
                return Ok(());
            }
            drop(g);
            return self.send_owned(Bytes::copy_from_slice(data), flags);
        }
        self.send_with(flags, |routing, core, wait| {
            routing
                .send_copy(core, data, wait)
                .unwrap_or(Err(SendError::NotSupported)) // not for the types checked above
        })
    }

    /// For event loops (`zsock-tokio`'s send of borrowed bytes): [`Socket::send_copy`] with
    /// [`Flags::DONTWAIT`], except for a body over [`COPY_MAX`](crate::COPY_MAX) to the one
    /// peer of a PAIR, PUSH or DEALER whose connection is still writing earlier output:
    /// instead of copying it into the queue, EAGAIN, and [`Socket::prepare_wait`] for
    /// POLLOUT then waits until that connection has written its output. The body then goes
    /// from `data` straight to the kernel, as a blocking send's does, rather than through a
    /// copy that the I/O thread writes. A loop that waits anyway loses nothing by it.
    #[inline]
    pub fn send_copy_deferring(&mut self, data: &[u8]) -> Result<()> {
        self.deferred = false;
        if data.len() > ipc_transport::COPY_MAX {
            return self.send_large_deferring(data);
        }
        self.send_copy(data, Flags::DONTWAIT)
    }

    /// [`Socket::send_copy_deferring`] of a body over [`COPY_MAX`](crate::COPY_MAX).
    fn send_large_deferring(&mut self, data: &[u8]) -> Result<()> {
        if self.sending.is_none() && sends_to_one_peer(self.socket_type) {
            let mut g = self.lock();
            let (routing, core) = g.parts();
            if routing.send_copy_now(core, data, SendWait::Never) {
                return Ok(());
            }
            if routing.copy_now_busy(core) {
                core.wake_when_written();
                drop(g);
                self.deferred = true;
                return Err(fixed_error!(
                    Again,
                    "the peer's connection is still writing earlier output"
                ));
            }
        }
        self.send_copy(data, Flags::DONTWAIT)
    }

    /// Whether this send may wait a while for the kernel to take its bytes
    /// ([`SendWait::ForRoom`]): a blocking send of a type that waits for room at the HWM.
    /// PUB, ROUTER and the others never wait on one peer.
    fn send_wait(&self, flags: Flags) -> SendWait {
        let blocks = sends_to_one_peer(self.socket_type)
            && !flags.contains(Flags::DONTWAIT)
            && self.local.sndtimeo != Some(Duration::ZERO);
        if blocks {
            SendWait::ForRoom
        } else {
            SendWait::Never
        }
    }

    /// The blocking loop of a send: tries `attempt` under the lock until it succeeds,
    /// waiting for room (DONTWAIT, SNDTIMEO) while it would block.
    fn send_with(
        &mut self,
        flags: Flags,
        mut attempt: impl FnMut(&mut Routing, &mut Core, SendWait) -> std::result::Result<(), SendError>,
    ) -> Result<()> {
        let deadline = deadline_of(self.local.sndtimeo);
        let dontwait = flags.contains(Flags::DONTWAIT);
        let socket_type = self.socket_type;
        let wait = self.send_wait(flags);
        let mut g = self.lock();
        if matches!(socket_type, SocketType::Pub | SocketType::XPub) {
            // Subscriptions from inproc subscribers come as rings: matched against from
            // this message on.
            g.take_rings();
        }
        loop {
            if g.is_terminated() {
                return Err(Error::terminated());
            }
            let (routing, core) = g.parts();
            match attempt(routing, core, wait) {
                Ok(()) => {
                    let early = g.early_yield_hint();
                    drop(g);
                    self.yield_before_recv = early;
                    return Ok(());
                }
                Err(SendError::Again) => {
                    if dontwait && self.rearm_after_send_again(&mut g) {
                        continue;
                    }
                    if dontwait || !g.wait(deadline)? && deadline_passed(deadline) {
                        return Err(fixed_error!(
                            Again,
                            "send would block: no peer can take the message now"
                        ));
                    }
                }
                Err(SendError::Fsm) => {
                    return Err(match socket_type {
                        SocketType::Req => {
                            fixed_error!(Fsm, "REQ must receive the reply before sending again")
                        }
                        _ => fixed_error!(Fsm, "REP must receive a request before sending a reply"),
                    })
                }
                Err(SendError::HostUnreachable) => {
                    return Err(Error::new(
                        ErrorKind::HostUnreachable,
                        "no peer has that routing id (ROUTER_MANDATORY)",
                    ))
                }
                Err(SendError::NotSupported) => {
                    return Err(Error::not_supported(&format!(
                        "{socket_type} sockets cannot send"
                    )))
                }
            }
        }
    }

    fn wait_writable(&mut self, flags: Flags) -> Result<()> {
        // Only these block on a first frame; for the others, pattern errors (EFSM,
        // ENOTSUP) and routing surface from send_msg itself.
        if !matches!(
            self.socket_type,
            SocketType::Pair | SocketType::Push | SocketType::Dealer
        ) {
            return Ok(());
        }
        let deadline = deadline_of(self.local.sndtimeo);
        let dontwait = flags.contains(Flags::DONTWAIT);
        let mut g = self.lock();
        loop {
            if g.is_terminated() {
                return Err(Error::terminated());
            }
            let (routing, core) = g.parts();
            if routing.can_send(core) {
                return Ok(());
            }
            if dontwait && self.rearm_after_send_again(&mut g) {
                continue;
            }
            if dontwait || (!g.wait(deadline)? && deadline_passed(deadline)) {
                return Err(fixed_error!(
                    Again,
                    "send would block: no peer can take the message now"
                ));
            }
        }
    }

    /// The engine's lock for a send, a receive, EVENTS or a wait, saying how many messages
    /// taken ahead this socket still holds. (Connect and the options take it plainly: the
    /// count stays as it was, too high by at most what was handed out since.)
    fn lock(&self) -> Guard<'_, Routing> {
        let n = self.prefetched.msgs.len();
        self.lent.set(n);
        self.engine().lock_holding(n)
    }

    /// After handing out a message taken ahead: once the last is out, the engine hears at
    /// once that none is held, so that a connection stopped at RCVHWM for them is read
    /// again even if this socket makes no further call (a lock per batch).
    fn handed_out_ahead(&self) {
        if self.prefetched.msgs.is_empty() && self.lent.get() != 0 {
            drop(self.lock());
        }
    }

    /// For event loops (`zsock-tokio`'s receive): the frame of a one-frame message that an
    /// earlier receive took from the engine ahead of the application, if one is next, as
    /// [`Socket::recv`] would return it but without taking the lock or making a `Result`.
    /// `None`: a receive must go to the engine (or a message is partly received).
    #[inline]
    pub fn recv_taken_ahead(&mut self) -> Option<Bytes> {
        if !self.receiving.is_empty() {
            return None;
        }
        let m = self.prefetched.msgs.front_mut().filter(|m| m.len() == 1)?;
        let f = m.frames_mut().pop().unwrap_or_default();
        self.prefetched.pop();
        self.rcvmore = false;
        self.handed_out_ahead();
        Some(f)
    }

    /// For event loops: [`Socket::recv_taken_ahead`] for a whole message (of any number of
    /// frames), as [`Socket::recv_msg`] would return it.
    #[inline]
    pub fn recv_msg_taken_ahead(&mut self) -> Option<Message> {
        if !self.receiving.is_empty() {
            return None;
        }
        let m = self.prefetched.pop()?;
        self.rcvmore = false;
        self.handed_out_ahead();
        Some(m)
    }

    /// Receives one frame; [`Socket::rcvmore`] tells whether more frames of the same
    /// message follow.
    pub fn recv(&mut self, flags: Flags) -> Result<Bytes> {
        if let Some(f) = self.recv_taken_ahead() {
            return Ok(f);
        }
        if self.receiving.is_empty() {
            let mut msg = self.recv_msg(flags)?;
            if msg.len() == 1 {
                // A single frame, the common case: no detour through `receiving`.
                self.rcvmore = false;
                return Ok(msg.frames_mut().pop().unwrap_or_default());
            }
            self.receiving.extend(msg);
        }
        let f = self.receiving.pop_front().unwrap_or_default();
        self.rcvmore = !self.receiving.is_empty();
        self.partial.store(self.rcvmore, Ordering::Relaxed);
        Ok(f)
    }

    /// Receives the frames of a whole message (the rest of it, after frames taken with
    /// [`Socket::recv`]). Frames are slices of the read buffer: no copy.
    pub fn recv_multipart(&mut self, flags: Flags) -> Result<Vec<Bytes>> {
        Ok(self.recv_msg(flags)?.into_iter().collect())
    }

    /// Receives one frame as text, like [`Socket::recv`]. A frame that is not UTF-8 is an
    /// EINVAL error that says where the text breaks and still holds the frame
    /// ([`Error::into_frame`]): nothing is lost or replaced.
    pub fn recv_string(&mut self, flags: Flags) -> Result<String> {
        let frame = self.recv(flags)?;
        match std::str::from_utf8(&frame) {
            Ok(text) => Ok(text.to_owned()),
            Err(e) => Err(Error::invalid(format!(
                "the frame is not UTF-8 text (invalid byte at offset {} of {})",
                e.valid_up_to(),
                frame.len()
            ))
            .with_frame(frame)),
        }
    }

    /// For a send with DONTWAIT that found no room, on a socket whose [`Socket::fd`] was
    /// handed out: [`rearm_for_send`]. `true`: look again before saying EAGAIN.
    fn rearm_after_send_again(&self, g: &mut Guard<'_, Routing>) -> bool {
        self.fd_handed.get() && rearm_for_send(g, self.holds_input())
    }

    /// ZMQ_RCVMORE: whether the last frame from [`Socket::recv`] has more after it.
    pub fn rcvmore(&self) -> bool {
        self.rcvmore
    }

    /// Receives a whole multipart message (frames are slices of the read buffer: no copy).
    pub fn recv_msg(&mut self, flags: Flags) -> Result<Message> {
        let hint = std::mem::take(&mut self.yield_before_recv);
        if !self.receiving.is_empty() {
            // The rest of a message partly taken with `recv`.
            self.rcvmore = false;
            self.partial.store(false, Ordering::Relaxed);
            return Ok(self.receiving.drain(..).collect());
        }
        if let Some(m) = self.recv_msg_taken_ahead() {
            return Ok(m);
        }
        let deadline = deadline_of(self.local.rcvtimeo);
        let conflate = self.local.conflate;
        let may_wait =
            !flags.contains(Flags::DONTWAIT) && self.local.rcvtimeo != Some(Duration::ZERO);
        // On one CPU, right after a send the answer needs this CPU: yield it before
        // taking the lock, as the wait would after finding nothing (see `yield_before_recv`).
        let early = hint && may_wait;
        if early {
            std::thread::yield_now();
        }
        // (Not `Socket::lock`: the guard must leave `prefetched` free to fill below.)
        // None held now: handed out above.
        let mut g = self.engine.as_ref().expect(ENGINE).lock_holding(0);
        self.lent.set(0);
        if early {
            g.after_early_yield();
        }
        // Right after a send, a receive that may wait goes straight to the wait: the answer
        // is rarely there yet, and the wait's poll finds it either way.
        // (Only until the first wait, which ends "right after a send".)
        let read = if may_wait {
            RecvRead::AfterWaitIfJustSent
        } else {
            RecvRead::Now
        };
        loop {
            if g.is_terminated() {
                return Err(Error::terminated());
            }
            let (routing, core) = g.parts();
            match routing.recv(core, read) {
                Ok((mut from, mut m)) => {
                    // Received directly: the last message handed out from now on.
                    self.prefetched.restart();
                    if conflate {
                        // Only the newest message available counts.
                        while let Ok(newer) = routing.recv(core, RecvRead::Now) {
                            (from, m) = newer;
                        }
                    }
                    self.last_from = from;
                    if !conflate {
                        // (The engine counts what it lends.)
                        routing.prefetch(core, &mut self.prefetched, PREFETCH);
                        self.lent.set(self.prefetched.msgs.len());
                    }
                    self.rcvmore = false;
                    return Ok(m);
                }
                Err(RecvError::Again) => {
                    if flags.contains(Flags::DONTWAIT) {
                        // The caller may wait on `Socket::fd` next: it is emptied (and
                        // inproc flows found empty are marked idle) before the caller
                        // hears "nothing", so the next message signals it again.
                        let rung = match self.fd_handed.get() {
                            true => g.rearm_notify_fd(),
                            false => g.inproc_watch(),
                        };
                        if rung {
                            continue;
                        }
                        return Err(fixed_error!(Again, "no message available"));
                    }
                    if !g.wait_input(deadline)? && deadline_passed(deadline) {
                        return Err(fixed_error!(Again, "no message available"));
                    }
                }
                Err(RecvError::Fsm) => {
                    return Err(match self.socket_type {
                        SocketType::Req => {
                            fixed_error!(Fsm, "REQ must send a request before receiving")
                        }
                        _ => fixed_error!(Fsm, "REP must send the reply before receiving again"),
                    })
                }
                Err(RecvError::NotSupported) => {
                    return Err(Error::not_supported(&format!(
                        "{} sockets cannot receive",
                        self.socket_type
                    )))
                }
            }
        }
    }

    /// The metadata of the peer the last message received came from (`zmq_msg_gets` on
    /// it): its socket type, routing id and handshake properties, and its credentials
    /// (ipc) or address (tcp). Whatever call received it (`recv`, `recv_msg`,
    /// `recv_multipart`, `recv_string`). `None` before the first message, for an XPUB's
    /// subscription message, and for a peer that left long ago (the socket keeps the last
    /// few departed peers).
    ///
    /// ```
    /// # use zsock::{Context, Flags, SocketType};
    /// # let ctx = Context::new();
    /// # let mut pull = ctx.socket(SocketType::Pull)?;
    /// # let mut push = ctx.socket(SocketType::Push)?;
    /// # push.connect(&pull.bind("ipc://*")?)?;
    /// push.send("hello", Flags::NONE)?;
    /// pull.recv(Flags::NONE)?;
    /// let peer = pull.peer().expect("a message came");
    /// assert_eq!(peer.socket_type(), Some(SocketType::Push));
    /// assert_eq!(peer.peer_cred().map(|c| c.pid), Some(std::process::id() as i32));
    /// assert_eq!(peer.gets("Socket-Type").as_deref(), Some("PUSH"));
    /// # Ok::<(), zsock::Error>(())
    /// ```
    pub fn peer(&self) -> Option<Metadata> {
        let pipe = self.last_pipe()?;
        let mut g = self.engine().lock();
        g.parts().1.peer_meta(pipe).map(Metadata::new)
    }

    /// The pipe of the message handed out last.
    fn last_pipe(&self) -> Option<PipeId> {
        self.prefetched
            .last_pipe()
            .or(match self.prefetched.taken() {
                0 => self.last_from,
                _ => None,
            })
    }

    /// A ROUTER's peer by the routing id it has there (the first frame of what it
    /// receives from that peer): its [`Metadata`], while it is connected. `None` for other
    /// socket types and unknown ids.
    pub fn peer_metadata(&self, routing_id: &[u8]) -> Option<Metadata> {
        let mut g = self.engine().lock();
        let (routing, core) = g.parts();
        let pipe = routing.pipe_of_routing_id(routing_id)?;
        core.peer_meta(pipe).map(Metadata::new)
    }

    /// ZMQ_EVENTS: whether a receive and a send would succeed now. Also clears
    /// [`Socket::fd`]'s readiness, so wait on the descriptor again after this says nothing.
    /// Once the context is shut down it says both, so that a loop on [`Socket::fd`] makes
    /// its next call and hears ETERM (libzmq's ZMQ_EVENTS fails with ETERM there).
    pub fn events(&self) -> Events {
        let mut g = self.lock();
        readiness(&mut g, self.holds_input())
    }

    /// [`Socket::events`], under the lock that has the socket wake `waker` on every change
    /// until the returned claim is dropped: for a wait on several sockets that does not
    /// arm [`Socket::fd`] (the proxy's).
    pub(crate) fn events_claiming(&self, waker: &Arc<PollWaker>) -> (Events, PollClaim) {
        let mut g = self.lock();
        let claim = g.claim(waker);
        // (A shutdown that came before the claim woke nobody: `readiness` says ready.)
        (readiness(&mut g, self.holds_input()), claim)
    }

    /// Whether the socket holds received frames or messages of its own (a message partly
    /// received, messages taken ahead).
    fn holds_input(&self) -> bool {
        !self.receiving.is_empty() || !self.prefetched.msgs.is_empty()
    }

    /// A [`PollItem`](crate::PollItem) for this socket (the `zmq` crate's
    /// `as_poll_item`): it does not borrow the socket.
    pub fn as_poll_item(&self, events: Events) -> crate::PollItem {
        crate::PollItem::new(self, events)
    }

    /// What a poll item needs to see this socket's readiness without borrowing it.
    pub(crate) fn watch(&self) -> (Watcher<Routing>, Arc<std::sync::atomic::AtomicBool>) {
        (self.engine().watcher(), self.partial.clone())
    }

    /// ZMQ_FD: a descriptor that becomes readable when the socket's readiness may have
    /// changed, for mio, tokio or any event loop, edge-triggered or not. After it fires,
    /// either call [`Socket::events`] and handle what it reports until it reports nothing,
    /// or (libzmq's other idiom) receive with [`Flags::DONTWAIT`] until EAGAIN: `events`,
    /// and a receive or send with DONTWAIT that says EAGAIN, empty the descriptor, and the
    /// next change makes it readable again. (A send's EAGAIN leaves it readable when input
    /// waits; a loop that also waits for room to send looks at `events` after its
    /// receives, as with libzmq, since a receive's EAGAIN empties it of room that came.)
    /// Made on the first call (a socket nobody polls costs no descriptor for it);
    /// the error: it could not be made (EMFILE).
    pub fn fd(&self) -> Result<BorrowedFd<'_>> {
        self.fd_handed.set(true);
        Ok(self.engine().notify_fd()?)
    }

    /// For event loops that want input as fast as the blocking calls get it (what
    /// `zsock-tokio` uses): a descriptor that becomes readable when [`Socket::fd`] does and
    /// when input or room comes on a connection lent to the waiting task, which then wakes
    /// straight from the kernel instead of through the I/O thread. The protocol:
    ///
    /// 1. try the operation with [`Flags::DONTWAIT`] (for a receive,
    ///    [`Socket::recv_taken_ahead`] or [`Socket::recv_msg_taken_ahead`] first hand out a
    ///    message already taken from the engine, without the lock);
    /// 2. on EAGAIN, call [`Socket::prepare_wait`] with what the operation waits for; if
    ///    it returns `true`, go to 1;
    ///    (a receive that spins first, trying again after yielding to its loop, calls
    ///    [`Socket::prepare_spin`] before its spin and `prepare_wait` once it ends;
    ///    2b. a receive waiting for the answer to what it sent may first call
    ///    [`Socket::yield_for_input`], and if that returns `true`, go to 1; else
    ///    `prepare_wait` as above;)
    /// 3. wait until this descriptor is readable (once registered, it stays the same);
    /// 4. call [`Socket::finish_wait`], and go to 1.
    ///
    /// Connections stay lent across back-to-back waits and go back to the I/O thread a few
    /// milliseconds into a long wait or once the loop stops waiting (at once on
    /// [`Socket::events`]); the I/O thread then signals their input through the notify
    /// descriptor, which is in the set. So an answer within milliseconds wakes the task
    /// straight from the kernel, a later one through the I/O thread, and a task that goes
    /// away loses nothing.
    pub fn wait_fd(&self) -> Result<BorrowedFd<'_>> {
        Ok(self.engine().wait_fd()?)
    }

    /// For event loops ([`Socket::wait_fd`]'s protocol): how long a receive that heard
    /// EAGAIN may keep trying, yielding to its loop between tries, before it waits: as
    /// long as a blocking receive polls before it sleeps on a machine with more than one
    /// CPU; `None` on one CPU, where the answer's sender needs the CPU instead.
    pub fn reply_spin(&self) -> Option<Duration> {
        self.engine().reply_spin()
    }

    /// Step 2 of [`Socket::wait_fd`]'s protocol, for an operation that waits for
    /// `events` (POLLIN for a receive, POLLOUT for a send): writes queued output and lends
    /// the connections to the wait. `true`: the socket is ready for `events` already, or
    /// something changed meanwhile; try again now. `false`: any change from now on makes
    /// the wait descriptor readable.
    pub fn prepare_wait(&self, events: Events) -> bool {
        let holds_input = self.holds_input();
        let mut g = self.lock();
        if g.prepare_wait() {
            return true;
        }
        self.ready_for(&mut g, events, holds_input)
    }

    /// Step 2 of [`Socket::wait_fd`]'s protocol for a receive that spins before it waits
    /// (tries again after yielding to its event loop, for up to [`Socket::reply_spin`]):
    /// writes queued output and takes the connections out of the I/O thread's poll for the
    /// tries to read, without putting them in the wait descriptor's set, so that what
    /// arrives during the spin wakes no other thread. `true`: the socket is ready for
    /// `events` already. When the spin ends without an answer, [`Socket::prepare_wait`]
    /// as usual before waiting.
    pub fn prepare_spin(&self, events: Events) -> bool {
        let holds_input = self.holds_input();
        let mut g = self.lock();
        if g.prepare_spin() {
            return true;
        }
        self.ready_for(&mut g, events, holds_input)
    }

    /// Whether the socket is ready for `events` (after a wait was prepared under `g`).
    fn ready_for(&self, g: &mut Guard<'_, Routing>, events: Events, holds_input: bool) -> bool {
        let (routing, core) = g.parts();
        // (Where room depends on the message, "can send" is no answer: the wait goes on
        // until a peer takes more, which the wait descriptor reports.)
        let can_send = if self.deferred {
            !routing.copy_now_busy(core)
        } else {
            !routing.send_depends_on_message() && routing.can_send(core)
        };
        (events.contains(Events::POLLIN) && (holds_input || routing.can_recv(core)))
            || (events.contains(Events::POLLOUT) && can_send)
    }

    /// Step 4 of [`Socket::wait_fd`]'s protocol: takes in what woke the wait.
    pub fn finish_wait(&self) {
        self.lock().finish_wait()
    }

    /// Step 2b of [`Socket::wait_fd`]'s protocol, for a receive waiting for the answer to
    /// what it sent, in place of step 2: in a process that may use one CPU only, where the
    /// answer's sender needs that CPU, writes queued output, takes the connections out of
    /// the I/O thread's poll without putting them in the wait set ([`Socket::prepare_spin`]),
    /// yields the CPU once (as a blocking receive does before it sleeps) and takes in what
    /// came meanwhile, all under one hold of the socket. `true`: the socket is ready for
    /// `events`, or something came; try the receive again (a peer that answers within its
    /// turn costs no sleep and no wake-up). `false`, at once on more than one CPU and for a
    /// while after a yield that brought nothing: call [`Socket::prepare_wait`] and wait.
    pub fn yield_for_input(&self, events: Events) -> bool {
        let holds_input = self.holds_input();
        let mut g = self.lock();
        if !g.will_yield_for_input() {
            return false;
        }
        if g.prepare_spin() || self.ready_for(&mut g, events, holds_input) {
            return true;
        }
        g.yield_for_input()
    }

    /// A monitor reading this socket's events (listening, accepted, connected, handshake
    /// results, disconnects...) from any thread.
    pub fn monitor(&self) -> Monitor {
        Monitor::new(self.engine().monitor())
    }

    /// SUBSCRIBE (pyzmq's `socket.subscribe`): a SUB receives messages that start with
    /// `topic` (`""` for all). Topics of any byte type: `sub.subscribe(b"prices.")?`,
    /// `sub.subscribe(&name)?`. EINVAL on other socket types.
    pub fn subscribe(&mut self, topic: impl AsRef<[u8]>) -> Result<()> {
        let topic = Bytes::copy_from_slice(topic.as_ref());
        self.set(SocketOption::Subscribe(topic))
    }

    /// UNSUBSCRIBE (pyzmq's `socket.unsubscribe`): takes one [`Socket::subscribe`] of the
    /// same topic back.
    pub fn unsubscribe(&mut self, topic: impl AsRef<[u8]>) -> Result<()> {
        let topic = Bytes::copy_from_slice(topic.as_ref());
        self.set(SocketOption::Unsubscribe(topic))
    }

    /// Sets an option. Options that shape connections apply to connections made after the
    /// call (as in libzmq); HWMs and MAXMSGSIZE apply at once.
    pub fn set(&mut self, opt: SocketOption) -> Result<()> {
        let t = self.socket_type;
        if let Some((name, types)) = opt.socket_types() {
            if !types.contains(&t) {
                return Err(Error::invalid(format!(
                    "{name} is not an option of {t} sockets (as in libzmq: EINVAL)"
                )));
            }
        }
        let mechanism = matches!(
            opt,
            SocketOption::PlainServer(_)
                | SocketOption::PlainUsername(_)
                | SocketOption::PlainPassword(_)
                | SocketOption::CurveServer(_)
                | SocketOption::CurvePublicKey(_)
                | SocketOption::CurveSecretKey(_)
                | SocketOption::CurveServerKey(_)
        );

        let mut g = self.engine.as_ref().expect(ENGINE).lock();
        match opt {
            SocketOption::SndHwm(v) => {
                g.config().sndhwm = non_negative("SNDHWM", v)? as usize;
                g.apply_limits();
            }
            SocketOption::RcvHwm(v) => {
                g.config().rcvhwm = non_negative("RCVHWM", v)? as usize;
                g.apply_limits();
            }
            SocketOption::Linger(v) => self.local.linger = millis_or_infinite("LINGER", v)?,
            SocketOption::RcvTimeo(v) => self.local.rcvtimeo = millis_or_infinite("RCVTIMEO", v)?,
            SocketOption::SndTimeo(v) => self.local.sndtimeo = millis_or_infinite("SNDTIMEO", v)?,
            SocketOption::RoutingId(id) => {
                if id.is_empty() || id.len() > 255 {
                    return Err(Error::invalid(format!(
                        "ROUTING_ID must be 1 to 255 bytes, not {}",
                        id.len()
                    )));
                }
                g.config().routing_id = id;
            }
            SocketOption::ConnectRoutingId(id) => {
                if id.is_empty() || id.len() > 255 {
                    return Err(Error::invalid(format!(
                        "CONNECT_ROUTING_ID must be 1 to 255 bytes, not {}",
                        id.len()
                    )));
                }
                g.handler().opts.connect_routing_id = Some(id);
            }
            SocketOption::Subscribe(topic) => {
                let (routing, core) = g.parts();
                routing.subscribe(core, topic, true);
            }
            SocketOption::Unsubscribe(topic) => {
                let (routing, core) = g.parts();
                routing.subscribe(core, topic, false);
                // Messages taken ahead are filtered again, so none that no longer
                // matches is handed out, and the engine hears what is still held.
                // (The last message's pipe is kept first: the runs start again.)
                self.last_from = self.last_pipe();
                self.prefetched.retain(|m| routing.still_wanted(m));
                g.holding(self.prefetched.msgs.len());
                self.lent.set(self.prefetched.msgs.len());
            }
            SocketOption::RouterMandatory(on) => g.handler().opts.router_mandatory = on,
            SocketOption::RouterHandover(on) => g.handler().opts.router_handover = on,
            SocketOption::ReqRelaxed(on) => g.handler().opts.req_relaxed = on,
            SocketOption::ReqCorrelate(on) => g.handler().opts.req_correlate = on,
            SocketOption::XpubVerbose(on) => g.handler().opts.xpub_verbose = on,
            SocketOption::XpubNodrop(on) => g.handler().opts.xpub_nodrop = on,
            SocketOption::Conflate(on) => {
                self.local.conflate = on;
                g.config().conflate = on;
                g.apply_limits();
            }
            SocketOption::Immediate(on) => g.config().immediate = on,
            SocketOption::ReconnectIvl(v) => {
                if v < -1 {
                    return Err(Error::invalid(format!(
                        "RECONNECT_IVL must be -1 or more, not {v}"
                    )));
                }
                g.config().reconnect_ivl = (v > 0).then(|| Duration::from_millis(v as u64));
                self.local.reconnect_ivl = v;
            }
            SocketOption::ReconnectIvlMax(v) => {
                let v = non_negative("RECONNECT_IVL_MAX", v)?;
                g.config().reconnect_ivl_max = (v > 0).then(|| Duration::from_millis(v.into()));
            }
            SocketOption::HandshakeIvl(v) => {
                let v = non_negative("HANDSHAKE_IVL", v)?;
                g.config().handshake_ivl = (v > 0).then(|| Duration::from_millis(v.into()));
            }
            SocketOption::HeartbeatIvl(v) => {
                let v = non_negative("HEARTBEAT_IVL", v)?;
                g.config().heartbeat.interval = (v > 0).then(|| Duration::from_millis(v.into()));
            }
            SocketOption::HeartbeatTtl(v) => {
                if !(0..=6_553_599).contains(&v) {
                    return Err(Error::invalid(format!(
                        "HEARTBEAT_TTL must be 0 to 6553599 ms, not {v}"
                    )));
                }
                g.config().heartbeat.ttl = (v > 0).then(|| Duration::from_millis(v as u64));
            }
            SocketOption::HeartbeatTimeout(v) => {
                if v < 0 {
                    return Err(Error::invalid(format!(
                        "HEARTBEAT_TIMEOUT must be 0 or more, not {v}"
                    )));
                }
                g.config().heartbeat.timeout = (v > 0).then(|| Duration::from_millis(v as u64));
                self.local.heartbeat_timeout = v;
            }
            SocketOption::MaxMsgSize(v) => {
                if v < -1 {
                    return Err(Error::invalid(format!(
                        "MAXMSGSIZE must be -1 or more, not {v}"
                    )));
                }
                g.config().max_msg_size = u64::try_from(v).ok();
                g.apply_limits();
            }
            SocketOption::Backlog(v) => {
                g.config().bind.backlog = non_negative("BACKLOG", v)? as i32;
            }
            SocketOption::IpcFilterUid(uid) => g.config().filter.uids.push(uid),
            SocketOption::IpcFilterGid(gid) => g.config().filter.gids.push(gid),
            SocketOption::IpcFilterPid(pid) => g.config().filter.pids.push(pid),
            SocketOption::IpcFileMode(mode) => {
                if mode.is_some_and(|m| m > 0o7777) {
                    return Err(Error::invalid("IPC file mode must be at most 0o7777"));
                }
                g.config().bind.file_mode = mode;
            }
            SocketOption::IpcExclusiveBind(on) => g.config().bind.exclusive = on,
            SocketOption::Ipv6(on) => g.config().tcp.ipv6 = on,
            SocketOption::ConnectTimeout(v) => {
                g.config().tcp.connect_timeout = millis_or_system("CONNECT_TIMEOUT", v)?;
            }
            SocketOption::TcpKeepalive(v) => {
                g.config().tcp.keepalive = match v {
                    -1 => None,
                    0 => Some(false),
                    1 => Some(true),
                    _ => {
                        return Err(Error::invalid(format!(
                            "TCP_KEEPALIVE must be -1 (the system's), 0 or 1, not {v}"
                        )))
                    }
                }
            }
            SocketOption::TcpKeepaliveIdle(v) => {
                g.config().tcp.keepalive_idle = secs_or_system("TCP_KEEPALIVE_IDLE", v)?;
            }
            SocketOption::TcpKeepaliveCnt(v) => {
                g.config().tcp.keepalive_cnt = system_or_at_least("TCP_KEEPALIVE_CNT", v, 1)?;
            }
            SocketOption::TcpKeepaliveIntvl(v) => {
                g.config().tcp.keepalive_intvl = secs_or_system("TCP_KEEPALIVE_INTVL", v)?;
            }
            SocketOption::TcpMaxrt(v) => {
                g.config().tcp.maxrt = millis_or_system("TCP_MAXRT", v)?;
            }
            SocketOption::SndBuf(v) => {
                g.config().tcp.sndbuf = system_or_at_least("SNDBUF", v, 0)?.map(|n| n as usize);
            }
            SocketOption::RcvBuf(v) => {
                g.config().tcp.rcvbuf = system_or_at_least("RCVBUF", v, 0)?.map(|n| n as usize);
            }
            SocketOption::Tos(v) => {
                g.config().tcp.tos = u8::try_from(v).map_err(|_| {
                    Error::invalid(format!("TOS must be 0 to 255 (one byte), not {v}"))
                })?;
            }
            SocketOption::BindToDevice(name) => {
                if name.len() > 15 || name.contains('\0') {
                    return Err(Error::invalid(format!(
                        "BINDTODEVICE takes an interface name of at most 15 bytes without \
                         NUL, not `{}`",
                        name.escape_debug()
                    )));
                }
                g.config().tcp.bind_to_device = (!name.is_empty()).then_some(name);
            }
            SocketOption::PlainServer(on) => {
                self.local.security.serve(on, MechanismChoice::Plain);
            }
            SocketOption::PlainUsername(name) => {
                check_plain_field("PLAIN_USERNAME", &name)?;
                let sec = &mut self.local.security;
                if name.is_empty() {
                    sec.mechanism = MechanismChoice::Null;
                } else {
                    sec.username = name;
                    sec.as_server = false;
                    sec.mechanism = MechanismChoice::Plain;
                }
            }
            SocketOption::PlainPassword(password) => {
                check_plain_field("PLAIN_PASSWORD", password.as_bytes())?;
                let sec = &mut self.local.security;
                sec.password = Bytes::copy_from_slice(password.as_bytes());
                sec.as_server = false;
                sec.mechanism = MechanismChoice::Plain;
            }
            SocketOption::ZapDomain(domain) => {
                if domain.len() > 255 {
                    return Err(Error::invalid(format!(
                        "ZAP_DOMAIN is at most 255 bytes, not {}",
                        domain.len()
                    )));
                }
                g.config().zap_domain = domain;
            }
            SocketOption::ZapEnforceDomain(on) => g.config().zap_enforce_domain = on,
            SocketOption::CurveServer(on) => {
                self.local.security.serve(on, MechanismChoice::Curve);
            }
            SocketOption::CurvePublicKey(k) => {
                let key = curve_key("CURVE_PUBLICKEY", &k)?;
                let sec = &mut self.local.security;
                sec.public = Some(key);
                sec.mechanism = MechanismChoice::Curve;
            }
            SocketOption::CurveSecretKey(k) => {
                let secret = CurveSecretKey::from_option(k.as_bytes())
                    .map_err(|e| Error::invalid(format!("CURVE_SECRETKEY: {e}")))?;
                let sec = &mut self.local.security;
                sec.secret = Some(secret);
                sec.mechanism = MechanismChoice::Curve;
            }
            SocketOption::CurveServerKey(k) => {
                let key = curve_key("CURVE_SERVERKEY", &k)?;
                let sec = &mut self.local.security;
                sec.server_key = Some(key);
                sec.as_server = false;
                sec.mechanism = MechanismChoice::Curve;
            }
        }
        // The engine takes what is complete; each bind and connect keeps what it found
        // then (see `check_security` for what is not complete).
        if mechanism {
            if let Ok(security) = self.local.security.security() {
                g.config().security = security;
            }
        }
        Ok(())
    }

    /// EINVAL when the mechanism asked for lacks what its role needs.
    fn check_security(&self) -> Result<()> {
        self.local
            .security
            .security()
            .map(drop)
            .map_err(Error::invalid)
    }

    /// ZMQ_CURVE_SERVER.
    pub fn curve_server(&self) -> bool {
        let sec = &self.local.security;
        sec.mechanism == MechanismChoice::Curve && sec.as_server
    }

    /// ZMQ_CURVE_PUBLICKEY as 32 bytes: as set, else derived from the secret key.
    pub fn curve_publickey(&self) -> Option<[u8; 32]> {
        let sec = &self.local.security;
        sec.public
            .or_else(|| sec.secret.as_ref().map(CurveSecretKey::public_key))
    }

    /// ZMQ_CURVE_SERVERKEY as 32 bytes.
    pub fn curve_serverkey(&self) -> Option<[u8; 32]> {
        self.local.security.server_key
    }

    /// The security mechanism new connections use: `NULL`, `PLAIN` or `CURVE`
    /// (ZMQ_MECHANISM).
    pub fn mechanism(&self) -> Mechanism {
        match self.local.security.mechanism {
            MechanismChoice::Null => Mechanism::NULL,
            MechanismChoice::Plain => Mechanism::PLAIN,
            MechanismChoice::Curve => Mechanism::CURVE,
        }
    }

    /// ZMQ_PLAIN_SERVER.
    pub fn plain_server(&self) -> bool {
        let sec = &self.local.security;
        sec.mechanism == MechanismChoice::Plain && sec.as_server
    }

    /// ZMQ_PLAIN_USERNAME (as last set).
    pub fn plain_username(&self) -> Bytes {
        self.local.security.username.clone()
    }

    /// ZMQ_ZAP_DOMAIN.
    pub fn zap_domain(&self) -> Bytes {
        self.engine().lock().config().zap_domain.clone()
    }

    /// ZMQ_ZAP_ENFORCE_DOMAIN.
    pub fn zap_enforce_domain(&self) -> bool {
        self.engine().lock().config().zap_enforce_domain
    }

    /// ZMQ_SNDHWM.
    pub fn sndhwm(&self) -> i32 {
        self.engine().lock().config().sndhwm as i32
    }

    /// ZMQ_RCVHWM.
    pub fn rcvhwm(&self) -> i32 {
        self.engine().lock().config().rcvhwm as i32
    }

    /// ZMQ_LINGER in ms (-1: infinite).
    pub fn linger(&self) -> i32 {
        to_millis(self.local.linger)
    }

    /// ZMQ_RCVTIMEO in ms (-1: infinite).
    pub fn rcvtimeo(&self) -> i32 {
        to_millis(self.local.rcvtimeo)
    }

    /// ZMQ_SNDTIMEO in ms (-1: infinite).
    pub fn sndtimeo(&self) -> i32 {
        to_millis(self.local.sndtimeo)
    }

    /// ZMQ_ROUTING_ID.
    pub fn routing_id(&self) -> Bytes {
        self.engine().lock().config().routing_id.clone()
    }

    /// ZMQ_MAXMSGSIZE (-1: unlimited).
    pub fn maxmsgsize(&self) -> i64 {
        self.engine()
            .lock()
            .config()
            .max_msg_size
            .map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX))
    }

    /// ZMQ_RECONNECT_IVL in ms (-1: never).
    pub fn reconnect_ivl(&self) -> i32 {
        self.local.reconnect_ivl
    }

    /// ZMQ_RECONNECT_IVL_MAX in ms (0: the interval stays RECONNECT_IVL, no backoff).
    pub fn reconnect_ivl_max(&self) -> i32 {
        to_millis_or_zero(self.engine().lock().config().reconnect_ivl_max)
    }

    /// ZMQ_HEARTBEAT_IVL in ms (0: no heartbeats).
    pub fn heartbeat_ivl(&self) -> i32 {
        to_millis_or_zero(self.engine().lock().config().heartbeat.interval)
    }

    /// ZMQ_HEARTBEAT_TIMEOUT in ms, as set; -1 (the default) and 0: HEARTBEAT_IVL applies.
    pub fn heartbeat_timeout(&self) -> i32 {
        self.local.heartbeat_timeout
    }

    /// ZMQ_HEARTBEAT_TTL in ms (0: none asked of the peer). The wire carries it in tenths
    /// of a second: read back rounded down to those, as libzmq reads it back.
    pub fn heartbeat_ttl(&self) -> i32 {
        let ttl = to_millis_or_zero(self.engine().lock().config().heartbeat.ttl);
        ttl - ttl % 100
    }

    /// ZMQ_HANDSHAKE_IVL in ms (0: no limit).
    pub fn handshake_ivl(&self) -> i32 {
        to_millis_or_zero(self.engine().lock().config().handshake_ivl)
    }

    /// ZMQ_BACKLOG.
    pub fn backlog(&self) -> i32 {
        self.engine().lock().config().bind.backlog
    }

    /// ZMQ_IMMEDIATE.
    pub fn immediate(&self) -> bool {
        self.engine().lock().config().immediate
    }

    /// The `tcp://` options as set (ZMQ_IPV6, CONNECT_TIMEOUT, TCP_KEEPALIVE*, TCP_MAXRT,
    /// SNDBUF, RCVBUF, TOS, BINDTODEVICE), `None` where the system's value applies.
    pub fn tcp_options(&self) -> TcpOptions {
        self.engine().lock().config().tcp.clone()
    }
}

fn to_millis(d: Option<Duration>) -> i32 {
    d.map_or(-1, |d| d.as_millis().min(i32::MAX as u128) as i32)
}

/// An interval option that reads back 0 when unset.
fn to_millis_or_zero(d: Option<Duration>) -> i32 {
    to_millis(d).max(0)
}

/// The types that send each message whole to one peer and wait when it cannot take it
/// (PAIR, PUSH, DEALER, REQ, REP): `send_copy` copies their bodies straight into the
/// connection's batch, and a blocking send may wait for the kernel to take its bytes.
fn sends_to_one_peer(t: SocketType) -> bool {
    matches!(
        t,
        SocketType::Pair
            | SocketType::Push
            | SocketType::Dealer
            | SocketType::Req
            | SocketType::Rep
    )
}

fn deadline_of(timeout: Option<Duration>) -> Option<Instant> {
    timeout.map(|t| {
        let now = Instant::now();
        now.checked_add(t).unwrap_or(now)
    })
}

fn deadline_passed(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

impl Drop for Socket {
    fn drop(&mut self) {
        if let Some(engine) = self.engine.take() {
            let closing = engine.close(self.local.linger);
            let mut lingering = self.ctx.lingering.lock().unwrap_or_else(|e| e.into_inner());
            // (Finished ones go: a process that opens and closes sockets all day keeps
            // only those still sending.)
            lingering.retain(|c| !c.is_finished());
            if !closing.is_finished() {
                lingering.push(closing);
            }
        }
    }
}

impl std::fmt::Debug for Socket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Socket")
            .field("type", &self.socket_type)
            .finish_non_exhaustive()
    }
}

/// PLAIN_USERNAME and PLAIN_PASSWORD: one length byte each on the wire.
fn check_plain_field(name: &str, value: &[u8]) -> Result<()> {
    if value.len() > zmtp_codec::PLAIN_MAX_FIELD {
        return Err(Error::invalid(format!(
            "{name} is at most 255 bytes, not {}",
            value.len()
        )));
    }
    Ok(())
}

/// A CURVE public key option: 32 bytes or 40 characters of Z85.
fn curve_key(name: &str, value: &[u8]) -> Result<[u8; 32]> {
    zmtp_codec::curve::key_from_option(value).map_err(|e| Error::invalid(format!("{name}: {e}")))
}
