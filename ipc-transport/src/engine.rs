//! The engine: one socket's state, the lock that the calling thread shares with an I/O
//! thread, and that socket's turn on the I/O thread.
//!
//! Threading: all of a socket's state lives in [`State`] behind one mutex. The socket is
//! placed on one of its [`IoThreads`] (shared with other sockets), whose poll holds its
//! descriptors; on its turns the I/O thread accepts, connects, drives handshakes and
//! heartbeats, writes what callers queued, and reads when the caller is not reading
//! itself. The calling thread, holding the lock, reads straight from a connection when its
//! pipe's queue is empty and writes straight to it before it blocks, so a message crosses
//! no thread when the caller is busy with the socket. See ARCHITECTURE.md for the
//! reasoning.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::panic::AssertUnwindSafe;

use smallvec::SmallVec;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, TryLockError, Weak};
use std::time::{Duration, Instant};

use mio::{Interest, Token};
use zmtp_codec::{
    Handshake, HandshakeConfig, HandshakeError, Heartbeat, PeerInfo, ZapError, ZapReply,
};

use crate::zap::ZapWaiter;

use crate::config::Errno;
use crate::core::{
    CloseReason, Conn, Core, Handler, InprocSeen, Notice, Origin, PipeId, RoomWait, Side,
};
use crate::inproc::{self, Bell, InprocEnd, InprocSocket, Link as InprocLink, BINDER, CONNECTER};
use crate::reactor::{Driven, IoThreads, Reactor, Readiness, Turn};
use crate::slab::{Key, Slab};
use crate::sys::{EpollChange, EpollInterest};
use crate::timers::Timers;
use crate::transport::{self, Accepted, Dial, Link, Listen};
use crate::{sys, Backoff, Config, TransportError, TransportEvent, CALLER_POLLED_CONNS};

/// Delay before accepting again after EMFILE, ENFILE, ENOBUFS or ENOMEM.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// Most monitor events kept while nobody reads them.
const MAX_EVENTS: usize = 10_000;
/// How long connections parked by a waiting caller (or an event loop's receive that spins,
/// `Guard::prepare_spin`) stay out of the I/O thread's poll after its last wait, at least:
/// a caller that waits again soon (request and reply, a receive loop) parks nothing anew,
/// and no input wakes the I/O thread meanwhile. The I/O thread
/// looks this long after the first wait; if the caller waited since, it looks again after
/// twice as long (up to [`PARK_MAX`]), and otherwise takes the connections back, so that
/// input is noticed without the caller. So a caller waiting back to back costs the I/O
/// thread a turn every 8 ms, not every millisecond (on one CPU each turn is a context
/// switch or two and may contend for the lock), and one that stopped waiting leaves its
/// connections parked for 1 to 16 ms. Asking for EVENTS (about to wait on the notify
/// descriptor instead) takes them back at once.
const PARK_GRACE: Duration = Duration::from_millis(1);
/// The longest interval between the I/O thread's looks at parked connections (while a
/// parked connection waits for room: [`PARK_GRACE`]). A look that falls due while the
/// caller waits on them waits for that wait to end.
const PARK_MAX: Duration = Duration::from_millis(8);
/// How often the I/O thread gives back the large read and batch buffers of connections
/// that read (wrote) nothing meanwhile, while there are any.
const SWEEP_EVERY: Duration = Duration::from_millis(250);
/// How long a caller waiting for an answer to what it just sent polls before it sleeps
/// (see [`Guard::wait_input`]).
const REPLY_SPIN: Duration = Duration::from_micros(30);
/// How long a connection stopped at [`crate::JUNK_PER_TURN`] waits at least before the
/// I/O thread reads on (at least as long as reading it took): the socket's calls and the
/// thread's other sockets get the lock and the thread meanwhile, however fast the peer
/// writes.
const JUNK_PAUSE: Duration = Duration::from_millis(1);
/// On one CPU, how many waits for input sleep at once, without first yielding the CPU, after
/// a yield that did not bring the answer (see [`Guard::wait_input`]).
const YIELD_BACKOFF: u32 = 16;
/// How long the I/O thread holds back a batch the calling thread is still filling (once per
/// batch; the caller writes full batches itself meanwhile): this after a pause in sends,
/// doubling up to [`CORK_MAX`] while the caller keeps streaming, so that a short burst's
/// tail waits about this long and a long stream is written in few, large writes and
/// costs the I/O thread one look per hold-back.
const CORK_MIN: Duration = Duration::from_micros(50);
/// The longest hold-back, for a caller that never pauses.
const CORK_MAX: Duration = Duration::from_millis(1);
/// When the I/O thread tries again a socket whose lock a caller held at its turn (the
/// caller's hand-over usually asks for the turn sooner).
const TURN_RETRY: Duration = Duration::from_millis(1);

fn conn_token(k: Key) -> Token {
    Token(k.index() * 2)
}

fn listener_token(k: Key) -> Token {
    Token(k.index() * 2 + 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum TimerKey {
    Conn(Key),
    Connector(Key),
    Listener(Key),
    /// Gives back idle connections' large read and batch buffers.
    Sweep,
}

struct Listener {
    sock: Box<dyn Listen>,
    retry_at: Option<Instant>,
    /// The security its connections use, as set at bind (libzmq's listener keeps the
    /// options of its bind: changing them later changes later binds only).
    security: Arc<SecurityConfig>,
}

struct Connector {
    dialer: Box<dyn Dial>,
    text: String,
    backoff: Backoff,
    conn: Option<Key>,
    pipe: Option<PipeId>,
    retry_at: Option<Instant>,
    /// With reconnection off, an attempt failed or the connection went: no more attempts
    /// come, and `Closed` said so.
    gave_up: bool,
    /// The security of every connection it makes, reconnects too, as set at connect.
    security: Arc<SecurityConfig>,
}

/// A socket's security options at one bind or connect.
#[derive(Debug)]
struct SecurityConfig {
    security: zmtp_codec::Security,
    zap_domain: bytes::Bytes,
    zap_enforce_domain: bool,
}

impl SecurityConfig {
    fn of(config: &Config) -> Arc<SecurityConfig> {
        Arc::new(SecurityConfig {
            security: config.security.clone(),
            zap_domain: config.zap_domain.clone(),
            zap_enforce_domain: config.zap_enforce_domain,
        })
    }
}

/// Everything one socket's transport holds; reached through [`Guard`].
pub struct State<H> {
    core: Core,
    handler: H,
    config: Config,
    listeners: Slab<Listener>,
    connectors: Slab<Connector>,
    /// One deadline at most per connection, connector, listener and the sweep.
    timers: Timers<TimerKey>,
    /// The queues of the [`Monitor`] handles, each fed every event.
    monitors: Vec<Weak<MonitorQueue>>,
    /// The I/O thread this socket is placed on, and its slot there.
    reactor: Arc<Reactor>,
    slot: usize,
    /// The I/O thread has been woken and not yet run.
    wake_pending: bool,
    waiters: usize,
    closing: Option<Option<Instant>>,
    shutdown: bool,
    seed: u64,
    /// The notify descriptor was handed out ([`Engine::notify_fd`]): it is signalled from
    /// then on, whoever may be waiting on it.
    fd_armed: bool,
    /// The polls sleeping on this socket (shared with [`Shared`]).
    pollers: Arc<Pollers>,
    /// The wait set of [`Engine::wait_fd`], once made: connections lent to an event loop's
    /// waiting task are in it (`Conn::in_wait_set`).
    wait_set: Option<Arc<OwnedFd>>,
    /// Notices delivered to the handler so far.
    dispatched: u64,
    /// Callers waiting in [`Guard::wait`] on the notify descriptor.
    poll_waiters: usize,
    /// When the I/O thread gives this socket its next turn by itself (`None`: only on an
    /// event or a wake-up). A caller that adds an earlier timer must ask for a turn.
    poll_until: Option<Instant>,
    /// [`Core::sends`] when the I/O thread last looked at the output it holds back.
    sends_seen: u64,
    /// When the I/O thread looks again at the output it holds back.
    cork_until: Option<Instant>,
    /// The current hold-back, from CORK_MIN to CORK_MAX.
    cork_len: Duration,
    /// When the I/O thread next looks at parked connections, to take them back unless
    /// their caller waited since (`None`: none are parked).
    unpark_at: Option<Instant>,
    /// The interval between those looks, from [`PARK_GRACE`] to [`PARK_MAX`].
    park_len: Duration,
    /// Caller waits on parked connections so far, and as of the I/O thread's last look.
    waits: u64,
    waits_seen: u64,
    /// A `TimerKey::Sweep` is pending.
    sweep_armed: bool,
    /// Waits for input left that sleep without yielding first (see [`YIELD_BACKOFF`]).
    yield_skip: u32,
    /// When the I/O thread reads on the connections stopped at `JUNK_PER_TURN`.
    reread_at: Option<Instant>,
    /// Turns of the I/O thread's loop so far.
    io_turns: u64,
}

struct Shared<H> {
    state: Mutex<State<H>>,
    cond: Condvar,
    /// An eventfd made readable whenever waiters would be woken, once armed: the socket's
    /// pollable descriptor (libzmq's ZMQ_FD). Made on first need ([`Shared::notify_fd`]):
    /// a socket whose callers never sleep in poll(2) and that nobody polls costs no
    /// descriptor for it.
    notify_fd: std::sync::OnceLock<OwnedFd>,
    /// The polls sleeping on this socket (the state has them too).
    pollers: Arc<Pollers>,
    /// The wait set (see [`Engine::wait_fd`]), once made; the state keeps it too.
    wait_set: std::sync::OnceLock<Arc<OwnedFd>>,
    /// This process may run on more than one CPU (so a spinning caller does not hold off
    /// the peer it waits for).
    multi_cpu: bool,
    /// A signal made the notify descriptor readable and no drain has read it since.
    fd_signaled: AtomicBool,
    /// A turn was put off because the caller held the lock in a wait for room: the caller
    /// asks for the turn again as it lets go. Cleared by the turn that runs.
    turn_wanted: AtomicBool,
    /// Shared with the state's `Core`: see [`crate::core::RoomWait`].
    room_wait: Arc<RoomWait>,
    /// Readiness events of turns that found the lock taken, for the next turn.
    deferred: Mutex<Vec<Readiness>>,
    /// What inproc peers ring (see `inproc`).
    bell: Bell,
    /// The context was shut down ([`Terminator::terminate`]): calls say ETERM. (Read by
    /// every blocking call's loop: apart from the state, whose lines the I/O thread
    /// writes.)
    terminated: AtomicBool,
    /// This socket, as its inproc peers and its context's names hold it.
    me: Weak<Shared<H>>,
    /// The I/O thread this socket is placed on and its slot there (the state has them
    /// too), for an inproc peer's lifecycle ring, which comes without the lock.
    io_slot: std::sync::OnceLock<(Arc<Reactor>, usize)>,
    /// The ZAP handler's replies for this socket's connections, for the I/O thread's next
    /// turn (they come from the handler's thread, without the lock).
    zap_replies: Mutex<Vec<(Key, Result<ZapReply, ZapError>)>>,
    zap_rung: AtomicBool,
}

impl<H: Send> ZapWaiter for Shared<H> {
    fn zap_reply(&self, conn: Key, reply: Result<ZapReply, ZapError>) {
        lock(&self.zap_replies).push((conn, reply));
        self.zap_rung.store(true, Ordering::SeqCst);
        if let Some((reactor, slot)) = self.io_slot.get() {
            reactor.wake(*slot);
        }
    }
}

impl<H> Shared<H> {
    /// Makes the notify descriptor readable. Only the first signal after a drain writes:
    /// while `fd_signaled` is set the descriptor is readable already. Not made yet: nobody
    /// can be waiting on it, and nothing is written.
    fn signal_fd(&self) {
        if let Some(fd) = self.notify_fd.get() {
            if !self.fd_signaled.swap(true, Ordering::SeqCst) {
                sys::signal_eventfd(fd);
            }
        }
    }

    /// The notify descriptor, made now if it was not yet. It starts empty: whoever makes
    /// it looks at the state after (under the lock, or before it sleeps on it), and every
    /// change from then on signals it.
    fn notify_fd(&self) -> io::Result<&OwnedFd> {
        if let Some(fd) = self.notify_fd.get() {
            return Ok(fd);
        }
        // (Two threads may race here: the one that loses closes its own.)
        let fd = sys::new_eventfd()?;
        let _ = self.notify_fd.set(fd);
        Ok(self.notify_fd.get().expect("set above"))
    }

    /// Empties the notify descriptor if a signal made it readable (no system call
    /// otherwise: EVENTS on many idle sockets costs none each). Only under the state lock,
    /// as every signal is: the flag and the descriptor then change together.
    fn drain_fd(&self) {
        if self.fd_signaled.load(Ordering::SeqCst) {
            if let Some(fd) = self.notify_fd.get() {
                sys::drain_eventfd(fd);
            }
            self.fd_signaled.store(false, Ordering::SeqCst);
        }
    }

    /// Marks the socket finished and wakes everyone waiting on it.
    fn finished(&self, st: &mut State<H>) {
        st.shutdown = true;
        for m in st.monitors.drain(..).filter_map(|m| m.upgrade()) {
            m.close();
        }
        self.cond.notify_all();
        self.tell_sleepers(true);
    }

    /// Tells whoever sleeps on the socket without the lock that something changed: the
    /// notify descriptor's waiters when `fd` (armed for them, or the change is for
    /// everyone), and the polls that claimed the socket.
    fn tell_sleepers(&self, fd: bool) {
        if fd {
            self.signal_fd();
        }
        self.pollers.wake();
    }
}

impl<H: Handler> InprocSocket for Shared<H> {
    fn ring(&self, pipe: PipeId, lifecycle: bool) {
        self.tell_sleepers(self.bell.ring(pipe));
        if lifecycle {
            if let Some((reactor, slot)) = self.io_slot.get() {
                reactor.wake(*slot);
            }
        }
    }

    fn attach(&self, link: &Arc<InprocLink>, side: usize, endpoint: &str) -> bool {
        // (Another thread's call: a socket left poisoned by a panic takes no new pipes,
        // and the caller is not the one to be told.)
        let Ok(st) = self.state.lock() else {
            return false;
        };
        if st.closing.is_some() || st.shutdown {
            return false;
        }
        let mut g = Guard {
            st: Some(st),
            shared: self,
        };
        let me: Weak<dyn InprocSocket> = self.me.clone();
        let p = g.st().inproc_attach(link, side, endpoint, me);
        // A caller of this socket may be waiting for a peer (this is another thread's
        // call): one waiting on the condition variable is woken under the lock and waits
        // on the descriptor from its next wait on (rings do not reach the condition
        // variable); one waiting on the descriptor is rung as a peer would.
        self.cond.notify_all();
        drop(g);
        self.ring(p, false);
        true
    }
}

/// The transport of one socket: its state, shared with an I/O thread.
pub struct Engine<H: Handler> {
    shared: Arc<Shared<H>>,
    /// Keeps the I/O threads running while the socket is open; their context's inproc
    /// names.
    io: IoThreads,
    closed: bool,
}

/// A socket's readiness, seen from a poller ([`Engine::watcher`]). It keeps the socket's
/// state alive but not the socket open: once the socket is closed, [`Watcher::lock`]
/// gives `None`.
pub struct Watcher<H: Handler> {
    shared: Arc<Shared<H>>,
}

impl<H: Handler> Shared<H> {
    /// The notify descriptor, armed: see [`Engine::notify_fd`].
    fn arm_notify_fd(&self) -> io::Result<BorrowedFd<'_>> {
        let fd = self.notify_fd()?;
        let mut st = lock_live(&self.state);
        st.unpark_now();
        if !st.fd_armed {
            st.fd_armed = true;
            self.bell.armed.store(true, Ordering::SeqCst);
            // Changes before arming were not signalled: start readable, so the first wait
            // returns at once and the caller checks readiness.
            self.signal_fd();
        }
        Ok(fd.as_fd())
    }
}

impl<H: Handler> Watcher<H> {
    /// Locks the state to look at readiness; `None` once the socket is closed.
    pub fn lock(&self) -> Option<Guard<'_, H>> {
        let st = lock_live(&self.shared.state);
        if st.closing.is_some() || st.shutdown {
            return None;
        }
        let mut g = Guard {
            st: Some(st),
            shared: &self.shared,
        };
        g.take_rings();
        Some(g)
    }
}

/// What a poll over many sockets sleeps on: one eventfd that every socket it watches
/// signals ([`Guard::claim`]), so that its sleep is one descriptor however many sockets it
/// watches, and a burst of input to many of them costs one signal. One per thread does
/// (a thread sleeps in one poll at a time).
pub struct PollWaker {
    fd: OwnedFd,
    /// `AWAKE`, `WOKEN` (a claimed socket changed since the last reset) or `ASLEEP` (in
    /// poll(2) on `fd`: a wake must write it).
    state: AtomicU8,
}

/// poll(2) on plain descriptors for at most `timeout` (`None`: no limit), for a poll of
/// sockets and descriptors together (see [`PollWaker::wait_polling`]), setting their
/// `revents`; a signal ends it early, with nothing ready.
pub fn poll_descriptors(fds: &mut [libc::pollfd], timeout: Option<Duration>) -> io::Result<usize> {
    for f in fds.iter_mut() {
        f.revents = 0; // (what an interrupted poll(2) leaves as it was)
    }
    match sys::poll(fds, timeout) {
        Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(0),
        r => r,
    }
}

/// [`PollWaker::state`]s.
const AWAKE: u8 = 0;
const WOKEN: u8 = 1;
const ASLEEP: u8 = 2;

impl PollWaker {
    /// A new waker (an eventfd).
    pub fn new() -> io::Result<Arc<PollWaker>> {
        Ok(Arc::new(PollWaker {
            fd: sys::new_eventfd()?,
            state: AtomicU8::new(AWAKE),
        }))
    }

    /// A claimed socket changed: a system call only if the poll is asleep.
    fn wake(&self) {
        if self.state.swap(WOKEN, Ordering::SeqCst) == ASLEEP {
            sys::signal_eventfd(&self.fd);
        }
    }

    /// Waits until a claimed socket changes, `also` is readable, or `timeout` passes
    /// (`None`: no limit); `true` if a claimed socket changed. A signal ends the wait
    /// early, as a timeout would. (It does not spin first, as a blocking receive does:
    /// measured with a proxy and with 100 polled DEALERs, spinning here cost CPU and
    /// gained nothing.)
    pub fn wait(
        &self,
        also: Option<BorrowedFd<'_>>,
        timeout: Option<Duration>,
    ) -> io::Result<bool> {
        // (poll(2) skips an entry whose descriptor is negative: no `also`.)
        let mut also = [libc::pollfd {
            fd: also.map_or(-1, |f| f.as_raw_fd()),
            events: libc::POLLIN,
            revents: 0,
        }];
        self.wait_polling(&mut also, timeout)
    }

    /// [`PollWaker::wait`] beside the descriptors of `others` (their `events`, as poll(2)
    /// takes them), whose `revents` it sets: a poll of sockets and plain descriptors.
    pub fn wait_polling(
        &self,
        others: &mut [libc::pollfd],
        timeout: Option<Duration>,
    ) -> io::Result<bool> {
        for o in others.iter_mut() {
            o.revents = 0;
        }
        if self
            .state
            .compare_exchange(AWAKE, ASLEEP, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Ok(true); // woken meanwhile
        }
        let mut fds: SmallVec<[libc::pollfd; 8]> = SmallVec::with_capacity(others.len() + 1);
        fds.push(libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        });
        fds.extend_from_slice(others);
        let slept = sys::poll(&mut fds, timeout);
        for (o, f) in others.iter_mut().zip(&fds[1..]) {
            o.revents = f.revents;
        }
        // Awake again: wakes from now on cost no system call. One that found the poll
        // asleep wrote the descriptor; empty it when that write is seen (a write seen
        // only by the next wait ends that wait early, once).
        let woken = self
            .state
            .compare_exchange(ASLEEP, AWAKE, Ordering::SeqCst, Ordering::SeqCst)
            .is_err();
        if fds[0].revents != 0 {
            sys::drain_eventfd(&self.fd);
        }
        match slept {
            Ok(_) => Ok(woken),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => Ok(woken),
            Err(e) => Err(e),
        }
    }

    /// Forgets the wakes so far: after a wait and after the claims of its sleep were
    /// dropped, before the poll looks at the sockets again (a change after the reset
    /// wakes it again).
    pub fn reset(&self) {
        self.state.store(AWAKE, Ordering::SeqCst);
    }
}

/// The polls sleeping on one socket ([`Guard::claim`]). A lock of its own, apart from
/// the state's: an inproc peer's ring wakes them without the state lock, and a claim is
/// given back without it. Taken after the state lock where both are held.
#[derive(Default)]
struct Pollers {
    /// How many claims are in `wakers` (read without the lock: none, the common case,
    /// costs no lock).
    count: AtomicUsize,
    wakers: Mutex<Vec<Arc<PollWaker>>>,
}

impl Pollers {
    fn any(&self) -> bool {
        self.count.load(Ordering::SeqCst) > 0
    }

    /// Wakes every poll sleeping on the socket.
    fn wake(&self) {
        if self.any() {
            for w in lock(&self.wakers).iter() {
                w.wake();
            }
        }
    }
}

/// A poll's claim on a socket while it sleeps ([`Guard::claim`]): the socket wakes the
/// poll's [`PollWaker`] on every change while the claim lives. Dropping it (after the
/// sleep) ends the claim; it takes no lock the caller may hold.
pub struct PollClaim {
    pollers: Arc<Pollers>,
    waker: Arc<PollWaker>,
}

impl Drop for PollClaim {
    fn drop(&mut self) {
        let mut wakers = lock(&self.pollers.wakers);
        if let Some(i) = wakers.iter().position(|w| Arc::ptr_eq(w, &self.waker)) {
            wakers.swap_remove(i);
            self.pollers.count.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

/// Ends a socket's blocking calls from any thread, for a context's shutdown (libzmq's
/// `zmq_ctx_shutdown`): it does not keep the socket alive.
pub struct Terminator {
    socket: Weak<dyn Terminate>,
}

trait Terminate: Send + Sync {
    fn terminate(&self);
}

impl<H: Handler> Terminate for Shared<H> {
    fn terminate(&self) {
        let _st = lock(&self.state);
        self.terminated.store(true, Ordering::SeqCst);
        // Every waiter looks again and sees it: callers on the condition variable or
        // the notify descriptor, event loops on the descriptor, polls through their
        // wakers.
        self.cond.notify_all();
        self.tell_sleepers(true);
    }
}

impl Terminator {
    /// Marks the socket terminated and wakes whoever waits on it; its calls then say
    /// ETERM ([`Guard::is_terminated`]). Nothing if the socket is gone.
    pub fn terminate(&self) {
        if let Some(s) = self.socket.upgrade() {
            s.terminate();
        }
    }

    /// Whether the socket is gone (closed and finished).
    pub fn is_gone(&self) -> bool {
        self.socket.strong_count() == 0
    }
}

/// A closed socket's remaining work (lingering output): [`Closing::wait`] waits for it.
pub struct Closing {
    socket: Arc<dyn Finish>,
}

impl Closing {
    /// Waits until the socket has sent what it queued (or its linger ran out) and released
    /// its descriptors.
    pub fn wait(&self) {
        self.socket.wait_finished();
    }

    /// Whether that work is done.
    pub fn is_finished(&self) -> bool {
        self.socket.is_finished()
    }
}

impl std::fmt::Debug for Closing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Closing").finish_non_exhaustive()
    }
}

trait Finish: Send + Sync {
    fn wait_finished(&self);
    fn is_finished(&self) -> bool;
}

impl<H: Handler> Finish for Shared<H> {
    fn is_finished(&self) -> bool {
        Driven::is_finished(self)
    }

    fn wait_finished(&self) {
        let mut st = lock(&self.state);
        while !st.shutdown {
            st.waiters += 1;
            st = self.cond.wait(st).unwrap_or_else(|e| e.into_inner());
            st.waiters -= 1;
        }
    }
}

impl<H: Handler> Engine<H> {
    /// A socket with an I/O thread of its own.
    pub fn new(config: Config, handler: H) -> io::Result<Engine<H>> {
        Engine::with_io(&IoThreads::new(1)?, config, handler)
    }

    /// A socket placed on the least loaded of `io`'s threads.
    pub fn with_io(io: &IoThreads, config: Config, handler: H) -> io::Result<Engine<H>> {
        let reactor = io.pick()?;
        let mut core = Core::new(config.socket_type);
        core.multi_cpu = multi_cpu();
        let core_room_wait = core.room_wait.clone();
        core.sndhwm = config.sndhwm;
        core.rcvhwm = config.rcvhwm;
        core.max_msg_size = config.max_msg_size;
        core.auth = Some(io.auth());
        let seed = Instant::now().elapsed().as_nanos() as u64 // low bits only
            ^ u64::from(std::process::id()).rotate_left(32)
            ^ (Arc::as_ptr(&reactor) as u64);
        let pollers = Arc::new(Pollers::default());
        let shared = Arc::new_cyclic(|me| Shared {
            state: Mutex::new(State {
                core,
                handler,
                config,
                listeners: Slab::default(),
                connectors: Slab::default(),
                timers: Timers::default(),
                monitors: Vec::new(),
                reactor: reactor.clone(),
                slot: usize::MAX,
                wake_pending: false,
                waiters: 0,
                closing: None,
                shutdown: false,
                seed,
                fd_armed: false,
                pollers: pollers.clone(),
                wait_set: None,
                dispatched: 0,
                poll_waiters: 0,
                yield_skip: 0,
                reread_at: None,
                poll_until: None,
                sends_seen: 0,
                cork_until: None,
                cork_len: CORK_MIN,
                unpark_at: None,
                park_len: PARK_GRACE,
                waits: 0,
                waits_seen: 0,
                sweep_armed: false,
                io_turns: 0,
            }),
            cond: Condvar::new(),
            notify_fd: std::sync::OnceLock::new(),
            pollers,
            wait_set: std::sync::OnceLock::new(),
            multi_cpu: multi_cpu(),
            fd_signaled: AtomicBool::new(false),
            turn_wanted: AtomicBool::new(false),
            room_wait: core_room_wait,
            deferred: Mutex::new(Vec::new()),
            bell: Bell::default(),
            terminated: AtomicBool::new(false),
            me: me.clone(),
            io_slot: std::sync::OnceLock::new(),
            zap_replies: Mutex::new(Vec::new()),
            zap_rung: AtomicBool::new(false),
        });
        // No descriptor is registered before the slot is known. (A stale wake-up of the
        // slot's previous socket may give this one a turn meanwhile: it finds nothing.)
        let slot = reactor.add(shared.clone())?;
        {
            let mut st = lock(&shared.state);
            st.slot = slot;
            let waiter: Weak<dyn ZapWaiter> = shared.me.clone();
            st.core.zap_waiter = Some(waiter);
        }
        let _ = shared.io_slot.set((reactor.clone(), slot));
        Ok(Engine {
            shared,
            io: io.clone(),
            closed: false,
        })
    }

    /// The socket's pollable descriptor: readable when something may have changed (a
    /// message arrived, room to send appeared, a peer came or went). Like libzmq's ZMQ_FD
    /// it is a hint: after it fires, check readiness until there is none, then drain it
    /// with [`Guard::rearm_notify_fd`] and wait on it again. Made on the first call (the
    /// error: no descriptor could be made, EMFILE).
    pub fn notify_fd(&self) -> io::Result<BorrowedFd<'_>> {
        self.shared.arm_notify_fd()
    }

    /// How long a caller that waits for input polls before it sleeps: `REPLY_SPIN` on a
    /// machine with more than one CPU (an answer often comes within microseconds, and a
    /// sleeper costs the wake-up of an idle CPU), `None` on one CPU (polling there only
    /// keeps the answer's sender from running). An event loop's receive spins as long,
    /// yielding to its loop between tries.
    pub fn reply_spin(&self) -> Option<Duration> {
        self.shared.multi_cpu.then_some(REPLY_SPIN)
    }

    /// The descriptor an event loop's task waits on for this socket (an epoll set, made on
    /// the first call): it becomes readable when the notify descriptor does (it is in the
    /// set, armed) and when input or room comes on a connection that
    /// [`Guard::prepare_wait`] lent to the waiting task, so that a reply wakes the task
    /// straight from the kernel, as it wakes a blocking caller, without the I/O thread.
    /// The protocol: try the operation; on EAGAIN, [`Guard::prepare_wait`] (`true`: try
    /// again now); wait until this descriptor is readable; [`Guard::finish_wait`]; try again.
    pub fn wait_fd(&self) -> io::Result<BorrowedFd<'_>> {
        let sh = &self.shared;
        if sh.wait_set.get().is_none() {
            let ep = Arc::new(sys::new_epoll()?);
            sys::epoll_ctl(
                &ep,
                sh.notify_fd()?.as_raw_fd(),
                EpollChange::Add(EpollInterest {
                    readable: true,
                    writable: false,
                }),
            )?;
            let mut st = lock_live(&sh.state);
            if sh.wait_set.set(ep.clone()).is_ok() {
                st.wait_set = Some(ep);
            }
        }
        sh.arm_notify_fd()?;
        Ok(sh.wait_set.get().expect("made above").as_fd())
    }

    /// A handle on the socket's readiness that does not borrow the socket: for a poller
    /// whose items live across calls that need the socket itself.
    pub fn watcher(&self) -> Watcher<H> {
        Watcher {
            shared: self.shared.clone(),
        }
    }

    /// A handle that ends the socket's blocking calls from another thread (a context's
    /// shutdown).
    pub fn terminator(&self) -> Terminator {
        let me: Weak<dyn Terminate> = self.shared.me.clone();
        Terminator { socket: me }
    }

    /// A handle that reads monitor events from any thread.
    pub fn monitor(&self) -> Monitor {
        let queue = Arc::new(MonitorQueue::default());
        let mut st = lock(&self.shared.state);
        queue.inbox().closed = st.shutdown;
        st.monitors.push(Arc::downgrade(&queue));
        Monitor { queue }
    }

    /// Locks the state for the calling thread.
    ///
    /// What inproc peers rang is looked at where a call is about to conclude from it
    /// (before it says EAGAIN or EVENTS, before it waits: [`Guard::take_rings`]), not
    /// here: one more load right after taking the lock cost a socket over ipc a quarter
    /// of its small-message rate.
    #[inline]
    pub fn lock(&self) -> Guard<'_, H> {
        Guard {
            st: Some(lock_live(&self.shared.state)),
            shared: &self.shared,
        }
    }

    /// Locks the state for a caller that holds `held` messages it took ahead
    /// ([`Core::recv_all_queued`]) and has not handed out: they count towards RCVHWM
    /// until it says it holds fewer. (A caller that lets go of the last takes the lock
    /// again to say so, so that a connection stopped for them is read without waiting for
    /// its next call.)
    #[inline]
    pub fn lock_holding(&self, held: usize) -> Guard<'_, H> {
        let mut g = self.lock();
        g.holding(held);
        g
    }

    /// Binds; returns the resolved endpoint.
    pub fn bind(&self, endpoint: &str) -> Result<String, TransportError> {
        let r = match inproc::name(endpoint) {
            // (Its failures are reported by `Guard::bind`.)
            Ok(None) => return self.lock().bind(endpoint),
            Ok(Some(name)) => self.bind_inproc(name, endpoint),
            Err(e) => Err(e),
        };
        if let Err(e) = &r {
            self.lock().st().event(TransportEvent::BindFailed {
                endpoint: endpoint.to_string(),
                errno: Errno(e.errno()),
            });
        }
        r
    }

    /// This socket as its inproc peers and names hold it.
    fn me(&self) -> Weak<dyn InprocSocket> {
        self.shared.me.clone()
    }

    /// Binds an inproc name of the context; the connects that waited for it are attached.
    fn bind_inproc(&self, name: &str, endpoint: &str) -> Result<String, TransportError> {
        if self.lock().st().closing.is_some() {
            return Err(TransportError::Terminated);
        }
        // (The names' lock is never taken under a socket's.)
        let waiting = self.io.names().bind(name, endpoint, self.me())?;
        self.lock().st().event(TransportEvent::Listening {
            endpoint: endpoint.to_string(),
        });
        for link in waiting {
            self.shared.attach(&link, BINDER, endpoint);
        }
        Ok(endpoint.to_string())
    }

    /// Connects (at once when possible, else with retries in the background).
    pub fn connect(&self, endpoint: &str) -> Result<(), TransportError> {
        if let Some(name) = inproc::name(endpoint)? {
            // The pipe is made now, bound or not: what is sent before the bind waits in it.
            let link = Arc::new(InprocLink::new());
            if !self.shared.attach(&link, CONNECTER, endpoint) {
                return Err(TransportError::Terminated);
            }
            self.io.names().connect(name, endpoint, link);
            // A bound peer was attached just now: its arrival is known at once (a
            // ROUTER's routing ids), as with libzmq's inproc connect.
            self.lock().take_rings();
            return Ok(());
        }
        // The endpoint is checked (a tcp host name resolved) before the lock is taken: a
        // name lookup may take a while, and the I/O thread must not wait for it.
        let tcp = self.lock().config().tcp.clone();
        let dialer = transport::dialer(endpoint, &tcp)?;
        self.lock().connect_with(endpoint, dialer)
    }

    /// Stops a listener, removes what its bind left behind (an ipc socket file) and
    /// closes its connections.
    pub fn unbind(&self, endpoint: &str) -> Result<(), TransportError> {
        if let Some(name) = inproc::name(endpoint)? {
            // The name goes; its connections stay, as in libzmq.
            if !self.io.names().unbind(name, &self.me()) {
                return Err(TransportError::UnknownEndpoint {
                    endpoint: endpoint.to_string(),
                });
            }
            self.lock().st().event(TransportEvent::Closed {
                endpoint: endpoint.to_string(),
            });
            return Ok(());
        }
        self.lock().unbind(endpoint)
    }

    /// Stops every connector of `endpoint` (the string connected to, compared exactly) and
    /// closes their connections and pipes.
    pub fn disconnect(&self, endpoint: &str) -> Result<(), TransportError> {
        if let Some(name) = inproc::name(endpoint)? {
            let mut g = self.lock();
            let st = g.st();
            let pipes: Vec<PipeId> = st
                .core
                .inproc_pipes()
                .into_iter()
                .filter(|&p| st.core.is_outgoing(p) && st.core.endpoint(p) == Some(endpoint))
                .collect();
            if pipes.is_empty() {
                return Err(TransportError::UnknownEndpoint {
                    endpoint: endpoint.to_string(),
                });
            }
            for p in pipes {
                st.core.terminate(p);
            }
            st.event(TransportEvent::Closed {
                endpoint: endpoint.to_string(),
            });
            drop(g);
            // A connect still waiting for its bind goes with what it carried.
            self.io.names().forget_pending(name, &self.me());
            return Ok(());
        }
        self.lock().disconnect(endpoint)
    }

    /// Closes the socket: listeners stop at once (their files are removed); queued output
    /// keeps flowing for at most `linger` (`None`: until done) on the I/O thread, which then
    /// releases the socket's descriptors. The returned handle waits for that (a context's
    /// termination does).
    pub fn close(mut self, linger: Option<Duration>) -> Closing {
        self.begin_close(linger);
        self.closed = true;
        Closing {
            socket: self.shared.clone(),
        }
    }

    fn begin_close(&mut self, linger: Option<Duration>) {
        let mut st = lock(&self.shared.state);
        if self.shared.state.is_poisoned() {
            // Left half-updated by a panic: the I/O thread closes it on its next turn.
            if !st.shutdown {
                st.reactor.wake(st.slot);
            }
            return;
        }
        let now = Instant::now();
        let deadline = linger.map(|l| now.checked_add(l).unwrap_or(now));
        // Inproc pipes go now: what this socket wrote stays in their links for the peers,
        // which are rung; nothing of theirs is written by this socket's I/O thread.
        for p in st.core.inproc_pipes() {
            st.core.terminate(p);
        }
        // Listeners stop now; connections they accepted linger like the others.
        for k in st.listeners.keys() {
            st.close_listener(k, false);
        }
        for k in st.connectors.keys() {
            // Connectors with nothing to send go now; the others linger.
            let (pipe, conn) = st
                .connectors
                .get(k)
                .map_or((None, None), |c| (c.pipe, c.conn));
            let queued = pipe.is_some_and(|p| st.core.has_pending_output(p));
            let writing = conn
                .and_then(|c| st.core.conns.get(c))
                .is_some_and(Conn::has_output);
            if !queued && !writing {
                st.close_connector(k);
            }
        }
        st.closing = Some(deadline);
        st.wake_pending = true;
        st.reactor.wake(st.slot);
        drop(st);
        // (Without the socket's lock: the names' lock is never taken under it.)
        self.io.names().socket_closed(&self.me());
    }
}

impl<H: Handler> Drop for Engine<H> {
    fn drop(&mut self) {
        if !self.closed {
            self.begin_close(Some(Duration::ZERO));
            self.shared.wait_finished();
        }
    }
}

/// Whether the process may run on more than one CPU, asked once: the answer costs a
/// dozen system calls (cgroup quotas), too many for every socket.
pub(crate) fn multi_cpu() -> bool {
    static MULTI_CPU: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *MULTI_CPU.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

/// Locks for what stays sound after a panic elsewhere: closing, waiting for the end, the
/// monitor's queue (each a single flag or queue operation).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Locks for an operation on the socket. A panic while the lock was held (a bug) may have
/// left the state half-updated: the I/O thread has closed the socket, and using it any
/// further panics here with this message rather than going on with that state.
fn lock_live<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|_| poisoned())
}

/// See [`lock_live`].
fn poisoned() -> ! {
    panic!(
        "this zsock socket was closed after a panic while its state was being updated; \
         it cannot be used any more"
    )
}

/// Reads a socket's monitor events; `Send` and `Sync`, usable while the socket is busy.
/// Each handle has a queue of its own, fed every event from its creation on.
pub struct Monitor {
    queue: Arc<MonitorQueue>,
}

/// One monitor handle's events.
#[derive(Default)]
struct MonitorQueue {
    inbox: Mutex<MonitorInbox>,
    cond: Condvar,
    /// Readable while events wait: made on the first [`Monitor::fd`].
    fd: std::sync::OnceLock<OwnedFd>,
}

#[derive(Default)]
struct MonitorInbox {
    events: VecDeque<TransportEvent>,
    /// The socket finished: no more events come.
    closed: bool,
    /// The descriptor was signalled and not drained since.
    signaled: bool,
    /// Readers waiting on the condition variable.
    waiting: usize,
}

impl MonitorQueue {
    fn inbox(&self) -> MutexGuard<'_, MonitorInbox> {
        lock(&self.inbox)
    }

    /// Queues an event (dropping the oldest beyond MAX_EVENTS) and wakes the reader.
    fn push(&self, e: TransportEvent) {
        let mut inbox = self.inbox();
        if inbox.events.len() == MAX_EVENTS {
            inbox.events.pop_front();
        }
        inbox.events.push_back(e);
        self.signal(&mut inbox);
        self.wake(&inbox);
    }

    fn close(&self) {
        let mut inbox = self.inbox();
        inbox.closed = true;
        // A reader waiting on the descriptor learns of the end too.
        self.signal(&mut inbox);
        self.wake(&inbox);
    }

    /// Wakes the readers waiting in [`Monitor::next_event`], if any (a notify costs a
    /// system call even with nobody waiting, and this runs under the socket's lock).
    fn wake(&self, inbox: &MonitorInbox) {
        if inbox.waiting > 0 {
            self.cond.notify_all();
        }
    }

    fn signal(&self, inbox: &mut MonitorInbox) {
        if let Some(fd) = self.fd.get() {
            if !std::mem::replace(&mut inbox.signaled, true) {
                sys::signal_eventfd(fd);
            }
        }
    }
}

impl Monitor {
    /// The next event, waiting until `deadline` (`None`: forever, or until the socket
    /// closes, which gives `None`).
    pub fn next_event(&self, deadline: Option<Instant>) -> Option<TransportEvent> {
        let q = &self.queue;
        let mut inbox = q.inbox();
        loop {
            if let Some(e) = inbox.events.pop_front() {
                if inbox.events.is_empty() && !inbox.closed && inbox.signaled {
                    if let Some(fd) = q.fd.get() {
                        sys::drain_eventfd(fd);
                    }
                    inbox.signaled = false;
                }
                return Some(e);
            }
            if inbox.closed || deadline.is_some_and(|d| Instant::now() >= d) {
                return None;
            }
            inbox.waiting += 1;
            inbox = match deadline {
                None => q.cond.wait(inbox).unwrap_or_else(|e| e.into_inner()),
                Some(d) => {
                    let dur = d.saturating_duration_since(Instant::now());
                    q.cond
                        .wait_timeout(inbox, dur)
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
            };
            inbox.waiting -= 1;
        }
    }

    /// Whether the socket has closed and every event was taken: no more will come.
    pub fn is_finished(&self) -> bool {
        let inbox = self.queue.inbox();
        inbox.closed && inbox.events.is_empty()
    }

    /// A descriptor that is readable while events wait (and once the socket has closed),
    /// for poll(2), mio or tokio: after it fires, take events until none is left. Made on
    /// the first call (a monitor that is never polled costs no descriptor).
    pub fn fd(&self) -> std::io::Result<BorrowedFd<'_>> {
        let q = &self.queue;
        if q.fd.get().is_none() {
            let fd = sys::new_eventfd()?;
            let mut inbox = q.inbox();
            if q.fd.set(fd).is_ok() && (!inbox.events.is_empty() || inbox.closed) {
                q.signal(&mut inbox);
            }
        }
        Ok(q.fd.get().expect("set above").as_fd())
    }
}

/// The calling thread's hold on the state. Dropping it settles what the caller changed:
/// notices go to the handler, closed connections are cleaned up, the I/O thread is woken
/// when output waits.
pub struct Guard<'a, H: Handler> {
    /// Always `Some` except inside `wait`, which hands the guard to the condvar.
    st: Option<MutexGuard<'a, State<H>>>,
    shared: &'a Shared<H>,
}

impl<'a, H: Handler> Guard<'a, H> {
    fn st(&mut self) -> &mut State<H> {
        // `st` is None only inside `wait`, between moving the guard out and back in.
        self.st.as_deref_mut().expect("guard present")
    }

    /// The caller holds `n` messages it took ahead ([`Core::recv_all_queued`],
    /// [`Core::lend_ready`]) and has not handed out (see [`Engine::lock_holding`]).
    #[inline]
    pub fn holding(&mut self, n: usize) {
        self.st().core.set_lent(n);
    }

    /// Whether the socket's context was shut down ([`Terminator::terminate`]): every call
    /// but close says ETERM.
    #[inline]
    pub fn is_terminated(&mut self) -> bool {
        self.shared.terminated.load(Ordering::Relaxed)
    }

    /// The pipes.
    pub fn core(&mut self) -> &mut Core {
        &mut self.st().core
    }

    /// The handler.
    pub fn handler(&mut self) -> &mut H {
        &mut self.st().handler
    }

    /// Both at once.
    pub fn parts(&mut self) -> (&mut H, &mut Core) {
        let st = self.st();
        (&mut st.handler, &mut st.core)
    }

    /// The settings for new connections. Call [`Guard::apply_limits`] after changing HWMs
    /// or MAXMSGSIZE so that existing pipes follow.
    pub fn config(&mut self) -> &mut Config {
        &mut self.st().config
    }

    /// Applies [`Guard::config`]'s HWM and size limits to the pipes.
    pub fn apply_limits(&mut self) {
        let st = self.st();
        st.core.sndhwm = st.config.sndhwm;
        st.core.rcvhwm = st.config.rcvhwm;
        st.core.max_msg_size = st.config.max_msg_size;
        st.core.conflate = st.config.conflate;
        st.core.pause_at_mark(); // a lower RCVHWM may already be reached
    }

    /// Delivers pending notices and cleans up closed connections now.
    pub fn settle(&mut self) {
        self.st().settle(None);
    }

    /// For a poll about to sleep: the socket wakes `waker` on every change while the
    /// returned claim lives (rather than its notify descriptor, which only
    /// [`Engine::notify_fd`] arms, for good: a socket whose poller keeps finding input
    /// without sleeping costs no signal per message). Look at readiness under this same
    /// lock, after the call: a change after that look wakes the poll.
    pub fn claim(&mut self, waker: &Arc<PollWaker>) -> PollClaim {
        let pollers = self.st().pollers.clone();
        lock(&pollers.wakers).push(waker.clone());
        // From now on a ring wakes the poll; one that came before is seen by the look
        // that follows (a ring records itself, then counts the pollers; this counts
        // itself, then the look reads the rings: the fence keeps that read after the
        // count, as the ring's own order keeps its two).
        pollers.count.fetch_add(1, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
        // As a wait does, write what the caller left (output held back for its next
        // send would otherwise wait out the hold-back while the poll sleeps).
        self.st().core.caller_waits();
        PollClaim {
            pollers,
            waker: waker.clone(),
        }
    }

    /// For a caller about to look at the state and then, maybe, wait on the notify
    /// descriptor (EVENTS, or a send or receive that does not wait and found nothing):
    /// the descriptor is emptied under this lock, parked connections go back to the I/O
    /// thread, and the rings that came before are looked at (one may be what made the
    /// descriptor readable) with inproc flows found empty marked idle, so that any change
    /// after the look signals the descriptor again. A loop that receives until EAGAIN and
    /// then waits on the descriptor (libzmq's ZMQ_FD idiom) then misses nothing,
    /// edge-triggered or not. `true` when an inproc peer rang meanwhile: a caller about to
    /// say EAGAIN looks at the state again first.
    pub fn rearm_notify_fd(&mut self) -> bool {
        self.drain_unless_slept_on();
        self.unpark();
        self.inproc_watch()
    }

    /// Empties the notify descriptor, unless a blocking call of another thread sleeps on it
    /// (a poll item of this socket, which is `Send`, polled from another thread than the
    /// one in a blocking receive or send): its signal is that call's wake-up, and it
    /// empties the descriptor itself when it wakes. Left signalled, the descriptor may
    /// say "readable" once too often, which every reader of it tolerates.
    fn drain_unless_slept_on(&mut self) {
        if self.st().poll_waiters == 0 {
            self.shared.drain_fd();
        }
    }

    /// Signals the notify descriptor (for a caller that emptied it with
    /// [`Guard::rearm_notify_fd`] while something it was not asked about is ready).
    pub fn signal_notify_fd(&mut self) {
        self.shared.signal_fd();
    }

    /// For a caller about to say "nothing" (EAGAIN) or to wait: the inproc pipes found
    /// empty since are marked idle, so that their next message rings; `true` when one got
    /// a message meanwhile (try again).
    pub fn inproc_watch(&mut self) -> bool {
        let rung = self.take_rings();
        self.st().core.inproc_watch() || rung
    }

    /// Looks at the inproc pipes their peers rang since the last look (cheap when none
    /// did): what every hold on the state does first, and again after emptying the
    /// notify descriptor.
    /// Looks at the inproc pipes their peers rang since the last look (arrivals,
    /// departures, input after an idle flow, subscriptions): `true` if there were any.
    /// Every wait and readiness check does it; a caller about to conclude anything from
    /// the state otherwise (a PUB about to match subscriptions) calls it.
    #[inline]
    pub fn take_rings(&mut self) -> bool {
        self.shared.bell.rung() && self.look_at_rung()
    }

    #[cold]
    #[inline(never)]
    fn look_at_rung(&mut self) -> bool {
        let Some(pipes) = self.shared.bell.take() else {
            return false;
        };
        let st = self.st();
        for p in pipes {
            st.inproc_look(p);
        }
        st.settle(None);
        if st.poll_waiters > 0 {
            // A blocking call of another thread sleeps on the notify descriptor (this
            // look is a poll item's, from another thread): what the rings brought may be
            // what it waits for, and their signal may have been emptied.
            self.shared.signal_fd();
        }
        true
    }

    /// Gives the connections that earlier waits parked back to the I/O thread now, rather
    /// than after the hand-back delay (see PARK_GRACE): for a caller about to wait on the
    /// notify descriptor, which then signals their input. Cheap when none are parked.
    pub fn unpark(&mut self) {
        self.st().unpark_now();
    }

    /// Writes queued output, then sleeps until the I/O thread reports progress, data
    /// arrives, or `deadline` passes. Returns `false` on timeout.
    ///
    /// With few connections the caller sleeps in poll(2) on the connections themselves and
    /// on the notify descriptor, and reads what arrives itself: a reply wakes the caller
    /// directly from the kernel. With many, it sleeps on a condition variable that the I/O
    /// thread signals. The error: the notify descriptor, made by the first wait that needs
    /// it, could not be made (EMFILE) and an inproc peer could only have woken the caller
    /// through it (without inproc peers the wait falls back to the condition variable).
    pub fn wait(&mut self, deadline: Option<Instant>) -> io::Result<bool> {
        // An inproc peer makes room within microseconds of taking a batch.
        let spin = self.shared.multi_cpu && self.st().core.has_inproc();
        self.wait_inner(deadline, spin, false)
    }

    /// [`Guard::wait`] for a caller that waits for input. Input often comes within
    /// microseconds (the answer to a request or a reply, a stream's next batch once the
    /// receiver caught up): on a machine with more than one CPU it polls for
    /// `REPLY_SPIN` (yielding the CPU between polls) before it sleeps, which saves the
    /// wake-up of an idle CPU (tens of microseconds on a VM) and the sender's cost of
    /// waking it. On one CPU the answer's sender needs this CPU: the caller first yields
    /// it (sched_yield), once, and reads what came meanwhile; when the sender answers
    /// within its turn, neither side ever sleeps in poll(2) and neither is woken from it.
    /// A yield that brought nothing makes the next `YIELD_BACKOFF` waits sleep at once.
    pub fn wait_input(&mut self, deadline: Option<Instant>) -> io::Result<bool> {
        let multi = self.shared.multi_cpu;
        self.wait_inner(deadline, multi, !multi)
    }

    /// What every wait starts with: writes the caller's output and hands the state over.
    /// `true`: something the caller's operation may need happened meanwhile (notices
    /// delivered from its own reads, such as a subscription for an XPUB or a closed pipe,
    /// or room made by the write): it should try again rather than wait.
    fn begin_wait(&mut self) -> bool {
        self.take_rings();
        let moved = self.st().core.caller_waits();
        let dispatched = self.st().dispatched;
        self.hand_over();
        let st = self.st();
        std::mem::take(&mut st.core.wake_waiters) || moved || st.dispatched != dispatched
    }

    fn wait_inner(
        &mut self,
        deadline: Option<Instant>,
        spin: bool,
        yield_first: bool,
    ) -> io::Result<bool> {
        if self.begin_wait() {
            return Ok(true);
        }
        let st = self.st();
        let conns = st.core.active_conns(CALLER_POLLED_CONNS);
        let inproc = st.core.has_inproc();
        // On one CPU the first wait yields: with nothing else to watch (no inproc flow,
        // no ring pending), there is nothing to poll before it. The turn is taken here,
        // yielding or not: the poll below then does not yield.
        let lone = conns
            .as_deref()
            .filter(|c| yield_first && !inproc && !c.is_empty());
        if let Some(lone) = lone {
            if self.st().may_yield()
                && !self.shared.bell.pending.load(Ordering::SeqCst)
                && deadline.is_none_or(|d| Instant::now() < d)
            {
                self.wait_yielding(lone);
                return Ok(true);
            }
        }
        let yield_first = yield_first && lone.is_none();
        if conns.is_some() || inproc {
            match self.shared.notify_fd() {
                Ok(fd) => {
                    let fd = fd.as_raw_fd();
                    return Ok(match conns {
                        Some(conns) => self.wait_polling(fd, &conns, deadline, spin, yield_first),
                        None => self.wait_polling(fd, &[], deadline, spin, false),
                    });
                }
                // Inproc peers ring the notify descriptor, not the condition variable.
                Err(e) if inproc => return Err(e),
                // The I/O thread polls the connections instead, and signals the condition
                // variable.
                Err(_) => {}
            }
        }
        Ok(self.wait_condvar(deadline))
    }

    /// For a caller about to let go of the lock after a send: whether a blocking receive
    /// that follows at once may yield the CPU before it takes the lock again, and then
    /// call [`Guard::after_early_yield`]. That is the one-CPU wait of
    /// [`Guard::wait_input`] taken early, when it is sure to be what the receive does:
    /// one CPU, yields bringing input (no backoff), nothing queued for the caller or
    /// written later (no inproc flow, no batch waiting), and every connection (at most
    /// `CALLER_POLLED_CONNS`) already parked by the last wait. The receive then saves a
    /// hold of the lock and the look that would find nothing.
    pub fn early_yield_hint(&mut self) -> bool {
        if self.shared.multi_cpu {
            return false;
        }
        let st = self.st();
        // (`unpark_at` is set while anything is parked: the usual no at once.)
        st.yield_skip == 0
            && st.unpark_at.is_some()
            && st.core.only_parked_input(CALLER_POLLED_CONNS)
    }

    /// After a yield made before taking the lock on [`Guard::early_yield_hint`]'s word:
    /// what the one-CPU wait does after its yield. Reads the parked connections and
    /// counts the wait; a yield that brought nothing makes the next waits sleep at once.
    /// Then receive as usual.
    pub fn after_early_yield(&mut self) {
        self.take_rings();
        self.st().core.caller_waits();
        let got = self.read_lent(false);
        self.st().yield_waited(got);
    }

    /// The one-CPU wait of [`Guard::wait_input`] when only `conns` can bring input: parks
    /// them (as a polling wait does), yields the CPU once and reads what came meanwhile.
    /// The caller then tries its operation again.
    fn wait_yielding(&mut self, conns: &[(Key, RawFd)]) {
        let st = self.st();
        st.poll_waiters += 1;
        for &(k, _) in conns {
            st.park(k);
        }
        drop(self.st.take());
        std::thread::yield_now();
        self.st = Some(lock_live(&self.shared.state));
        // (No longer asleep before the look: a look wakes the sleepers it finds.)
        self.st().poll_waiters -= 1;
        self.take_rings();
        let st = self.st();
        let got = st.core.read_polled(conns);
        st.yield_waited(got);
    }

    /// A wait in poll(2) on `notify` (the notify descriptor) and `conns`.
    fn wait_polling(
        &mut self,
        notify: RawFd,
        conns: &[(Key, RawFd)],
        deadline: Option<Instant>,
        spin: bool,
        yield_first: bool,
    ) -> bool {
        let st = self.st();
        st.poll_waiters += 1;
        let yield_first = yield_first && !conns.is_empty() && st.may_yield();
        // Take the connections out of the I/O thread's poll for the wait, so that their
        // data wakes this thread only (not both), and a connection whose output waits for
        // room is written by this thread when the kernel takes more: a sender blocked at
        // SNDHWM wakes once per drained kernel buffer, and the I/O thread sleeps.
        // They stay parked after the wait (see PARK_GRACE).
        for &(k, _) in conns {
            st.park(k);
        }
        // (ppoll waits at least this long: the wait never ends before its deadline.)
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        let mut fds: SmallVec<[libc::pollfd; 9]> = SmallVec::new();
        fds.push(libc::pollfd {
            fd: notify,
            events: libc::POLLIN,
            revents: 0,
        });
        let mut writers: SmallVec<[(Key, usize); 8]> = SmallVec::new();
        for &(k, fd) in conns {
            let core = &self.st().core;
            let pending = core.conn_has_pending(k);
            // A connection paused at RCVHWM is not read until the caller receives (or
            // reports holding fewer messages, `Guard::holding`): polling it would only
            // report the same input again and again.
            let mut events = if core.reading_paused(k) {
                0
            } else {
                libc::POLLIN
            };
            if pending {
                events |= libc::POLLOUT;
                writers.push((k, fds.len()));
            }
            if events != 0 {
                fds.push(libc::pollfd {
                    fd,
                    events,
                    revents: 0,
                });
            }
        }
        // Inproc pipes found empty and not marked idle yet: watched while this spins
        // (their writers do not ring), marked idle before it sleeps.
        let unwatched = self.st().core.inproc_unwatched_links();
        drop(self.st.take());
        let bell = &self.shared.bell;
        let mut rung = bell.pending.load(Ordering::SeqCst);
        let input = || unwatched.iter().any(|(l, side)| l.input_hint(*side));
        // The descriptors stay open meanwhile (closing one needs the lock this thread
        // reacquires afterwards, and a descriptor closed and reused only costs a spurious
        // wake-up). An error (EINTR) counts as a wake-up.
        let poll = |fds: &mut [libc::pollfd], t| sys::poll(fds, t).map_or(-1, |n| n as i32);
        let mut rc = 0;
        if spin && !rung && timeout != Some(Duration::ZERO) {
            let until = Instant::now() + REPLY_SPIN;
            loop {
                rc = poll(&mut fds, Some(Duration::ZERO));
                rung = bell.pending.load(Ordering::SeqCst) || input();
                if rc != 0 || rung || Instant::now() >= until {
                    break;
                }
                std::thread::yield_now();
            }
        }
        // (The yield stands for a poll that found input: what came is read below.)
        let yielded = yield_first && rc == 0 && !rung && timeout != Some(Duration::ZERO);
        if yielded {
            std::thread::yield_now();
            rc = 1;
        }
        if rc == 0 && !rung && !unwatched.is_empty() {
            // About to sleep: the unwatched flows are marked idle now (one that got a
            // message meanwhile ends the wait).
            let mut g = lock_live(&self.shared.state);
            rung = g.core.inproc_watch();
            drop(g);
        }
        // An inproc peer's ring signals the descriptor from now on; one that came before
        // is seen here (the ring sets `pending` before it reads `sleeping`).
        bell.sleeping.store(true, Ordering::SeqCst);
        rung |= bell.pending.load(Ordering::SeqCst);
        if rc == 0 && !rung {
            rc = poll(&mut fds, timeout);
        }
        bell.sleeping.store(false, Ordering::SeqCst);
        self.st = Some(lock_live(&self.shared.state));
        // A stale signal costs one spurious turn; drain only when it fired.
        if fds[0].revents != 0 {
            self.shared.drain_fd();
        }
        // (No longer asleep before the look: a look wakes the sleepers it finds.)
        self.st().poll_waiters -= 1;
        self.take_rings();
        let st = self.st();
        // Read what arrived on the connections polled (parked: nobody else reads them; a
        // connection that became active meanwhile is the I/O thread's, which signals what it
        // reads). They stay parked for PARK_GRACE: the I/O thread's poll ends by then (a
        // caller that parks first wakes it in `hand_over`).
        let got = st.core.read_polled(conns);
        if yielded {
            st.yielded(got);
        }
        for (k, i) in writers {
            if fds[i].revents != 0 {
                // (Room this thread made for itself: no waiter to wake.)
                st.core.flush_conn(k, Side::Caller);
            }
        }
        st.count_parked_wait();
        st.core.wake_waiters = false;
        st.settle(None);
        rc != 0 || rung || deadline.is_none_or(|d| Instant::now() < d)
    }

    /// For an event loop's task about to wait on [`Engine::wait_fd`] after an operation
    /// said EAGAIN: writes queued output, and lends the connections (up to
    /// [`CALLER_POLLED_CONNS`]) to the wait set, out of the I/O thread's poll, as a blocking
    /// wait parks them: their input then wakes the task, which reads it in
    /// [`Guard::finish_wait`]. They go back to the I/O thread (which then signals their
    /// input on the notify descriptor) by the parking rules: kept across back-to-back
    /// waits, taken back a few milliseconds into a long wait or once waits stop (see
    /// PARK_GRACE). Returns `true` when something the operation may
    /// need happened meanwhile (a notice, room made by the write): try again before waiting.
    pub fn prepare_wait(&mut self) -> bool {
        if self.begin_wait() || self.inproc_watch() {
            return true;
        }
        let st = self.st();
        // (Without lending, connections a spin parked would be watched by nobody until the
        // I/O thread's next look: they go back to it now.)
        let Some(ep) = st.wait_set.clone() else {
            st.unpark_now();
            return false; // no wait set: the notify descriptor is all there is
        };
        let Some(conns) = st.core.active_conns(CALLER_POLLED_CONNS) else {
            st.unpark_now();
            return false; // too many: the I/O thread reads them
        };
        let mut lent = false;
        for (k, fd) in conns {
            let interest = EpollInterest {
                readable: !st.core.reading_paused(k),
                writable: st.core.conn_has_pending(k),
            };
            if !st.park(k) {
                continue;
            }
            let Some(c) = st.core.conns.get_mut(k) else {
                continue;
            };
            let change = match c.in_wait_set {
                Some(i) if i == interest => None,
                Some(_) => Some(EpollChange::Modify(interest)),
                None => Some(EpollChange::Add(interest)),
            };
            if let Some(change) = change {
                if sys::epoll_ctl(&ep, fd, change).is_err() {
                    // Not in the set: back to the I/O thread's poll at once (parked but
                    // watched by nobody, its input would wait for the next look).
                    st.take_back(k);
                    continue;
                }
                c.in_wait_set = Some(interest);
            }
            lent = true;
        }
        if lent {
            st.count_parked_wait();
        }
        false
    }

    /// For an event loop's receive about to spin (try, yield to the loop, try again) or,
    /// on one CPU, to yield the CPU once ([`Guard::yield_for_input`]) before it waits:
    /// writes queued output as [`Guard::prepare_wait`] does, and parks the connections (up
    /// to [`CALLER_POLLED_CONNS`], those with no output waiting for room and not stopped at
    /// RCVHWM): out of the I/O thread's poll, as a blocking wait parks them, but not in the
    /// wait set (they leave it if an earlier wait lent them). Until the spin or the yield
    /// ends, the task's own tries are what watches them: what arrives meanwhile wakes
    /// neither the I/O thread nor the loop's reactor (which on a multi-thread runtime runs
    /// on another thread, woken for every message the task's tries would read anyway).
    /// After it, [`Guard::prepare_wait`] lends them (or gives them back to the I/O thread
    /// where it lends none), and the wait set reports what came in between. Returns `true`
    /// as [`Guard::prepare_wait`] does.
    pub fn prepare_spin(&mut self) -> bool {
        if self.begin_wait() || self.inproc_watch() {
            return true;
        }
        let st = self.st();
        let Some(conns) = st.core.active_conns(CALLER_POLLED_CONNS) else {
            st.unpark_now();
            return false; // too many: the I/O thread reads them
        };
        let ep = st.wait_set.clone();
        let mut parked = false;
        for (k, fd) in conns {
            if st.core.conn_has_pending(k) || st.core.reading_paused(k) {
                continue;
            }
            if !st.park(k) {
                continue;
            }
            let Some(c) = st.core.conns.get_mut(k) else {
                continue;
            };
            if c.in_wait_set.is_some() {
                // (Left in the set if it cannot leave: its input then wakes the loop, as
                // during a wait.)
                if let Some(ep) = &ep {
                    if sys::epoll_ctl(ep, fd, EpollChange::Remove).is_ok() {
                        c.in_wait_set = None;
                    }
                }
            }
            parked = true;
        }
        if parked {
            st.count_parked_wait();
        }
        false
    }

    /// After [`Engine::wait_fd`] became readable: empties the notify descriptor (a change
    /// from here on signals it again), reads what came on the lent connections and writes
    /// their output if room came. Then try the operation again.
    pub fn finish_wait(&mut self) {
        self.shared.drain_fd();
        self.take_rings();
        self.read_lent(true);
        let st = self.st();
        st.core.wake_waiters = false;
        st.settle(None);
    }

    /// Whether an event loop's receive waiting for an answer yields the CPU first
    /// ([`Guard::yield_for_input`]): in a process that may use one CPU only, unless yields
    /// have been bringing nothing (`YIELD_BACKOFF`; a `false` counts as one of the waits
    /// that back off, as a blocking wait that sleeps at once does). A receive that does
    /// not yield prepares its wait with [`Guard::prepare_wait`] alone.
    pub fn will_yield_for_input(&mut self) -> bool {
        !self.shared.multi_cpu && self.st().may_yield()
    }

    /// For an event loop's receive on one CPU, once [`Guard::will_yield_for_input`] said
    /// so and [`Guard::prepare_spin`] parked the connections (it returned `false`): yields
    /// the CPU once, as a blocking receive does before it sleeps (see
    /// [`Guard::wait_input`]), and reads what came on those connections meanwhile. Returns
    /// whether anything came (try the receive again); a yield that brought nothing makes
    /// the next `YIELD_BACKOFF` receives not yield.
    pub fn yield_for_input(&mut self) -> bool {
        drop(self.st.take());
        std::thread::yield_now();
        self.st = Some(lock_live(&self.shared.state));
        self.take_rings();
        let got = self.read_lent(false);
        let st = self.st();
        st.yielded(got);
        st.core.wake_waiters = false;
        st.settle(None);
        got
    }

    /// Reads the connections parked for an event loop's wait (lent to its wait set, or
    /// parked for its spin), and with `flush` writes those it waited to write. Whether any
    /// of them read anything.
    fn read_lent(&mut self, flush: bool) -> bool {
        let st = self.st();
        // (Nothing parked, nothing lent: no look at every connection, which a socket with
        // more than CALLER_POLLED_CONNS of them would pay on each wake-up.)
        let lent: SmallVec<[(Key, bool); 8]> = if st.unpark_at.is_none() {
            SmallVec::new()
        } else {
            st.core
                .conns
                .iter()
                .filter(|(_, c)| c.parked)
                .map(|(k, c)| (k, c.in_wait_set.is_some_and(|i| i.writable)))
                .collect()
        };
        let mut got = false;
        for (k, writable) in lent {
            got |= st.core.read_conn(k, Side::Caller);
            if flush && writable {
                st.core.flush_conn(k, Side::Caller);
            }
        }
        got
    }

    fn wait_condvar(&mut self, deadline: Option<Instant>) -> bool {
        // Nobody polls parked connections during this wait: the I/O thread takes them.
        self.st().unpark_all();
        self.st().waiters += 1;
        let g = self.st.take().expect("guard present");
        let (g, timed_out) = match deadline {
            None => (
                self.shared.cond.wait(g).unwrap_or_else(|_| poisoned()),
                false,
            ),
            Some(d) => {
                let dur = d.saturating_duration_since(Instant::now());
                let (g, r) = self
                    .shared
                    .cond
                    .wait_timeout(g, dur)
                    .unwrap_or_else(|_| poisoned());
                (g, r.timed_out())
            }
        };
        self.st = Some(g);
        self.take_rings();
        let st = self.st();
        st.waiters -= 1;
        st.core.wake_waiters = false;
        st.settle(None);
        !timed_out
    }

    /// Bytes reserved by the connections' read buffers: what connections cost beyond their
    /// descriptors and queues (idle ones hold little, see [`crate::READ_CHUNK`]). For
    /// diagnostics.
    pub fn read_buffer_bytes(&mut self) -> usize {
        self.st().core.read_buffer_bytes()
    }

    /// Deadlines the I/O thread keeps: at most one per connection, connector, listener and
    /// the buffer sweep, however often they change. For diagnostics.
    pub fn timer_entries(&mut self) -> usize {
        self.st().timers.len()
    }

    /// Bytes encoded for the connections and not yet taken by the kernel. For diagnostics.
    pub fn output_bytes(&mut self) -> usize {
        self.st().core.output_bytes()
    }

    /// How many turns the I/O thread has given this socket so far. For diagnostics: an
    /// idle socket gets none.
    pub fn io_turns(&mut self) -> u64 {
        self.st().io_turns
    }

    /// The resolved endpoints of all listeners, oldest first.
    pub fn bound_endpoints(&mut self) -> Vec<String> {
        self.st()
            .listeners
            .iter()
            .map(|(_, l)| l.sock.endpoint().to_string())
            .collect()
    }

    fn bind(&mut self, endpoint: &str) -> Result<String, TransportError> {
        let st = self.st();
        let r = st.bind(endpoint);
        if let Err(e) = &r {
            let errno = Errno(e.errno());
            st.event(TransportEvent::BindFailed {
                endpoint: endpoint.to_string(),
                errno,
            });
        }
        r
    }

    fn connect_with(
        &mut self,
        endpoint: &str,
        dialer: Box<dyn Dial>,
    ) -> Result<(), TransportError> {
        self.st().connect(endpoint, dialer, Instant::now())
    }

    fn unbind(&mut self, endpoint: &str) -> Result<(), TransportError> {
        let st = self.st();
        let k = st
            .listeners
            .iter()
            .find(|(_, l)| l.sock.endpoint() == endpoint)
            .map(|(k, _)| k)
            .ok_or_else(|| TransportError::UnknownEndpoint {
                endpoint: endpoint.to_string(),
            })?;
        st.close_listener(k, true);
        Ok(())
    }

    /// Closes every connector of `endpoint` (connected to more than once, as libzmq
    /// closes all its connections of one endpoint string).
    fn disconnect(&mut self, endpoint: &str) -> Result<(), TransportError> {
        let st = self.st();
        let ks: SmallVec<[Key; 2]> = st
            .connectors
            .iter()
            .filter(|(_, c)| c.text == endpoint)
            .map(|(k, _)| k)
            .collect();
        if ks.is_empty() {
            return Err(TransportError::UnknownEndpoint {
                endpoint: endpoint.to_string(),
            });
        }
        for k in ks {
            st.close_connector(k);
        }
        Ok(())
    }
}

impl<H: Handler> Drop for Guard<'_, H> {
    fn drop(&mut self) {
        // (Unwinding: the lock is poisoned as it is released, and nothing more is done
        // with the state.)
        if self.st.is_some() && !std::thread::panicking() {
            self.hand_over();
        }
    }
}

impl<H: Handler> Guard<'_, H> {
    /// Settles, then wakes the I/O thread if it has work the caller left it: output to
    /// write, or a timer earlier than the one its poll waits for.
    fn hand_over(&mut self) {
        let shared = self.shared;
        let st = self.st();
        // What the handler holds may have shrunk (the caller received some of it).
        st.core.set_unread_notifications(st.handler.held());
        st.settle(None);
        let next = match (st.next_timeout(), st.unpark_at) {
            (Some(t), Some(u)) => Some(t.min(u)),
            (t, u) => t.or(u),
        };
        let earlier_timer = match (next, st.poll_until) {
            (Some(t), Some(until)) => t < until,
            (Some(_), None) => true,
            (None, _) => false,
        };
        #[cfg(debug_assertions)]
        st.core.check_invariants();
        let output = !st.core.dirty.is_empty() && !st.core.dirty_corked;
        // The I/O thread found the lock taken while this caller held it.
        // (Loaded first: a swap on every hand-over would cost each send an atomic write.)
        let wanted = shared.turn_wanted.load(Ordering::SeqCst)
            && shared.turn_wanted.swap(false, Ordering::SeqCst);
        // A connection the caller read wants a sweep (a large read buffer, spares).
        let sweep = st.core.sweep_wanted && !st.sweep_armed;
        // The caller stopped a connection at JUNK_PER_TURN: the I/O thread reads on later.
        let reread = !st.core.reread.is_empty() && st.reread_at.is_none();
        // (A turn that found the lock taken consumed its wake-up: ask again regardless.)
        if wanted || ((output || earlier_timer || sweep || reread) && !st.wake_pending) {
            st.wake_pending = true;
            st.reactor.wake(st.slot);
        }
    }
}

/// What a connection's descriptor is polled for: input always; room while output waits
/// for it, or while a connect is in progress (its end makes the socket writable).
fn interest_of(c: &Conn) -> Interest {
    if c.want_write || c.connecting {
        Interest::READABLE | Interest::WRITABLE
    } else {
        Interest::READABLE
    }
}

fn is_retryable_accept_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM)
    )
}

impl<H: Handler> State<H> {
    /// Whether a wait for input on one CPU yields first (see [`Guard::wait_input`]): not
    /// for the `YIELD_BACKOFF` waits after a yield that brought nothing.
    fn may_yield(&mut self) -> bool {
        let skip = self.yield_skip;
        self.yield_skip = skip.saturating_sub(1);
        skip == 0
    }

    /// A yield of [`State::may_yield`]'s brought input (`got`), or nothing.
    fn yielded(&mut self, got: bool) {
        if !got {
            self.yield_skip = YIELD_BACKOFF;
        }
    }

    /// The end of a one-CPU wait that yielded and read its parked connections (`got`:
    /// they brought input): the backoff, the wait counted for the parking rules, and what
    /// the reads left to settle (the caller saw what it read: no waiter to wake).
    fn yield_waited(&mut self, got: bool) {
        self.yielded(got);
        self.count_parked_wait();
        self.core.wake_waiters = false;
        self.settle(None);
    }

    /// Someone may be sleeping on the notify descriptor without telling (it was handed
    /// out), or a poll sleeps on the socket ([`PollClaim`]): changes must tell them.
    fn fd_watched(&self) -> bool {
        self.fd_armed || self.pollers.any()
    }

    /// Makes this socket's pipe for `side` of an inproc link.
    fn inproc_attach(
        &mut self,
        link: &Arc<InprocLink>,
        side: usize,
        endpoint: &str,
        me: Weak<dyn InprocSocket>,
    ) -> PipeId {
        let outgoing = side == CONNECTER;
        let p = self
            .core
            .new_pipe(Origin::Inproc { outgoing }, endpoint.to_string());
        let info = inproc::peer_info(self.config.socket_type, &self.config.routing_id);
        link.join(
            side,
            me,
            p,
            info,
            self.config.sndhwm,
            self.config.rcvhwm,
            self.config.conflate,
        );
        self.core.set_inproc(
            p,
            InprocEnd {
                link: link.clone(),
                side,
                reader: Default::default(),
                unwatched: false,
                last_batch: 0,
                last_look: 0,
            },
        );
        self.core.notify(Notice::Attached(p));
        if !outgoing {
            self.event(TransportEvent::Accepted {
                endpoint: endpoint.to_string(),
                peer: None,
                peer_addr: None,
            });
        }
        self.inproc_look(p);
        p
    }

    /// [`Core::inproc_look`], and the events it calls for.
    fn inproc_look(&mut self, p: PipeId) {
        let seen = self.core.inproc_look(p);
        if seen == InprocSeen::Nothing {
            return;
        }
        let endpoint = self.core.endpoint(p).unwrap_or_default().to_string();
        let outgoing = self.core.is_outgoing(p);
        match seen {
            InprocSeen::Nothing => {}
            InprocSeen::Joined => {
                if outgoing {
                    self.event(TransportEvent::Connected {
                        endpoint: endpoint.clone(),
                        peer: None,
                        peer_addr: None,
                    });
                }
                // No handshake over inproc, but the same moment: both sides know each
                // other and messages flow (what code waiting for it on any transport
                // wants to see).
                self.event(TransportEvent::HandshakeSucceeded {
                    endpoint,
                    peer: None,
                    peer_addr: None,
                });
            }
            InprocSeen::Refused(reason) => {
                self.core.terminate(p);
                self.event(TransportEvent::HandshakeFailed {
                    endpoint,
                    peer: None,
                    peer_addr: None,
                    reason,
                    auth: None,
                });
            }
            InprocSeen::Left => self.event(TransportEvent::Disconnected {
                endpoint,
                peer: None,
                peer_addr: None,
                reason: "the peer closed".to_string(),
            }),
        }
    }

    fn event(&mut self, e: TransportEvent) {
        // One pass: each live handle gets the event, dropped ones are forgotten.
        self.monitors
            .retain(|m| m.upgrade().map(|q| q.push(e.clone())).is_some());
    }

    fn next_seed(&mut self) -> u64 {
        self.seed = self
            .seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.seed
    }

    fn bind(&mut self, endpoint: &str) -> Result<String, TransportError> {
        if self.closing.is_some() {
            return Err(TransportError::Terminated);
        }
        let sock = transport::bind(endpoint, &self.config)?;
        let resolved = sock.endpoint().to_string();
        let k = self.listeners.insert(Listener {
            sock,
            retry_at: None,
            security: SecurityConfig::of(&self.config),
        });
        let l = self.listeners.get_mut(k).expect("just inserted");
        if let Err(source) = self.reactor.register(
            l.sock.source(),
            self.slot,
            listener_token(k),
            Interest::READABLE,
        ) {
            if let Some(mut l) = self.listeners.remove(k) {
                l.sock.close();
            }
            return Err(TransportError::Io {
                op: "register",
                endpoint: endpoint.to_string(),
                source,
            });
        }
        self.event(TransportEvent::Listening {
            endpoint: resolved.clone(),
        });
        // (A connection already in the backlog is reported by the registration: epoll
        // looks at the listener's readiness as it adds it.)
        Ok(resolved)
    }

    fn connect(
        &mut self,
        endpoint: &str,
        dialer: Box<dyn Dial>,
        now: Instant,
    ) -> Result<(), TransportError> {
        if self.closing.is_some() {
            return Err(TransportError::Terminated);
        }
        let seed = self.next_seed();
        let backoff = Backoff::new(
            self.config.reconnect_ivl,
            self.config.reconnect_ivl_max,
            seed,
        );
        let k = self.connectors.insert(Connector {
            dialer,
            text: endpoint.to_string(),
            backoff,
            conn: None,
            pipe: None,
            retry_at: None,
            gave_up: false,
            security: SecurityConfig::of(&self.config),
        });
        if !self.config.immediate {
            let p = self
                .core
                .new_pipe(Origin::Connected(k), endpoint.to_string());
            if let Some(c) = self.connectors.get_mut(k) {
                c.pipe = Some(p);
            }
            self.core.notify(Notice::Attached(p));
        }
        self.attempt_connect(k, now);
        Ok(())
    }

    fn attempt_connect(&mut self, k: Key, now: Instant) {
        let Some(c) = self.connectors.get_mut(k) else {
            return;
        };
        c.retry_at = None;
        let text = c.text.clone();
        match c.dialer.dial() {
            Ok(link) => {
                self.event(if link.connecting.is_some() {
                    TransportEvent::ConnectDelayed {
                        endpoint: text.clone(),
                    }
                } else {
                    TransportEvent::Connected {
                        endpoint: text.clone(),
                        peer: link.peer,
                        peer_addr: link.addr,
                    }
                });
                self.add_conn(link, Origin::Connected(k), text, now);
            }
            Err(e) => self.schedule_reconnect(k, Some(Errno::of(&e)), now),
        }
    }

    fn schedule_reconnect(&mut self, k: Key, errno: Option<Errno>, now: Instant) {
        let Some(c) = self.connectors.get_mut(k) else {
            return;
        };
        // RECONNECT_IVL off: no more attempts; the pipe keeps what was queued.
        if let Some(delay) = c.backoff.next_delay() {
            let at = now.checked_add(delay).unwrap_or(now);
            c.retry_at = Some(at);
            let endpoint = c.text.clone();
            self.timers.set(TimerKey::Connector(k), Some(at));
            self.event(TransportEvent::ConnectRetried {
                endpoint,
                errno,
                delay,
            });
        } else if !c.gave_up {
            // A failed attempt or a lost connection that no attempt follows: `Closed` tells
            // the monitor the connector is done trying (libzmq's CLOSED), once.
            c.gave_up = true;
            let endpoint = c.text.clone();
            self.event(TransportEvent::Closed { endpoint });
        }
    }

    fn add_conn(&mut self, link: Link, origin: Origin, endpoint: String, now: Instant) {
        let mut hc = HandshakeConfig::new(self.config.socket_type);
        hc.identity = self.config.routing_id.clone();
        hc.timeout = self.config.handshake_ivl;
        let security = match origin {
            Origin::Accepted(lk) => self.listeners.get(lk).map(|l| l.security.clone()),
            Origin::Connected(ck) => self.connectors.get(ck).map(|c| c.security.clone()),
            Origin::Inproc { .. } => None,
        };
        let Some(security) = security else {
            // (Its listener or connector is gone: nothing to hand the connection to.)
            return;
        };
        hc.security = security.security.clone();
        hc.zap_domain = security.zap_domain.clone();
        hc.zap_enforce_domain = security.zap_enforce_domain;
        let hs = Handshake::new(hc, now);
        let k = self
            .core
            .conns
            .insert(Conn::new(link, origin, endpoint, hs, now));
        let conn = self.core.conns.get_mut(k).expect("just inserted");
        let interest = interest_of(conn);
        if let Err(e) = self
            .reactor
            .register(&mut conn.stream, self.slot, conn_token(k), interest)
        {
            // (An I/O failure, reported as one: `Local` is for closes the user asked for.)
            self.core
                .doom(k, CloseReason::Io(e.raw_os_error().unwrap_or(libc::EIO)));
            return;
        }
        conn.registered = true;
        if let Origin::Connected(ck) = origin {
            if let Some(c) = self.connectors.get_mut(ck) {
                c.conn = Some(k);
            }
        }
        self.core.poll_transmit(k);
        self.flush(k);
        self.update_deadline(k);
    }

    /// Writes a connection's output; WRITABLE interest follows when the kernel is full.
    fn flush(&mut self, k: Key) {
        // Output may need WRITABLE interest: the I/O thread must see the connection.
        self.unpark(k);
        self.core.flush_conn(k, Side::Io);
    }

    /// Puts a parked connection back into the I/O thread's poll, with its interest (a
    /// descriptor added with input waiting reports it at once).
    fn unpark(&mut self, k: Key) {
        if self.take_back(k) && !self.core.conns.iter().any(|(_, c)| c.parked) {
            self.parking_over();
        }
    }

    /// [`State::unpark`] without the bookkeeping: whether `k` was parked.
    fn take_back(&mut self, k: Key) -> bool {
        let Some(c) = self.core.conns.get_mut(k).filter(|c| c.parked) else {
            return false;
        };
        c.parked = false;
        if c.in_wait_set.take().is_some() {
            if let Some(ep) = &self.wait_set {
                let _ = sys::epoll_ctl(ep, c.stream.as_raw_fd(), EpollChange::Remove);
            }
        }
        if c.closing.is_none() {
            let interest = interest_of(c);
            if self
                .reactor
                .register(&mut c.stream, self.slot, conn_token(k), interest)
                .is_ok()
            {
                c.registered = true;
            } else {
                self.core.doom(k, CloseReason::Local);
            }
        }
        true
    }

    /// No connection is parked any more: nothing to look at, and a later wait starts
    /// afresh (its first look at PARK_GRACE).
    fn parking_over(&mut self) {
        self.unpark_at = None;
        self.park_len = PARK_GRACE;
    }

    /// The I/O thread's look at parked connections: taken back if their caller neither
    /// waits now nor waited since the last look; looked at again when the caller's wait
    /// ends if one wait has lasted since the last look; otherwise looked at again later,
    /// less often while the caller goes on (but soon while output waits for room on one).
    fn look_at_parked(&mut self, now: Instant) {
        if self.waits == self.waits_seen {
            if self.poll_waiters > 0 {
                // One wait has lasted since the last look: look again when it ends (the
                // due time stays past, which this thread's poll leaves out meanwhile, and
                // the caller's `hand_over` wakes it then), not on a timer during it.
                return;
            }
            self.unpark_all();
            return;
        }
        self.waits_seen = self.waits;
        let writing = self
            .core
            .conns
            .iter()
            .any(|(_, c)| c.parked && c.want_write);
        self.park_len = if writing {
            PARK_GRACE
        } else {
            (self.park_len * 2).min(PARK_MAX)
        };
        self.unpark_at = Some(now + self.park_len);
    }

    /// Takes connection `k` out of the I/O thread's poll for a caller's wait (see
    /// PARK_GRACE), if it is not parked already. Whether it is parked now.
    fn park(&mut self, k: Key) -> bool {
        let Some(c) = self.core.conns.get_mut(k) else {
            return false;
        };
        if !c.parked && self.reactor.deregister(&mut c.stream).is_ok() {
            c.parked = true;
            c.registered = false;
        }
        c.parked
    }

    /// Counts a caller's wait on parked connections. The first: the I/O thread's first
    /// look (`hand_over` wakes it for this), which takes the connections back unless the
    /// caller waits again meanwhile (see PARK_GRACE).
    fn count_parked_wait(&mut self) {
        self.waits = self.waits.wrapping_add(1);
        if self.unpark_at.is_none() {
            self.waits_seen = self.waits;
            self.unpark_at = Some(Instant::now() + PARK_GRACE);
        }
    }

    /// [`State::unpark_all`] if a caller's wait parked any.
    fn unpark_now(&mut self) {
        if self.unpark_at.is_some() {
            self.unpark_all();
        }
    }

    fn unpark_all(&mut self) {
        let parked: SmallVec<[Key; 8]> = self
            .core
            .conns
            .iter()
            .filter(|(_, c)| c.parked)
            .map(|(k, _)| k)
            .collect();
        for k in parked {
            self.take_back(k);
        }
        self.parking_over();
    }

    fn update_deadline(&mut self, k: Key) {
        let Some(c) = self.core.conns.get_mut(k) else {
            return;
        };
        // A connect in progress has only its own limit (CONNECT_TIMEOUT, if any; else the
        // kernel's): the handshake's starts when the stream is up.
        let d = if c.connecting {
            c.connect_by
        } else {
            c.zmtp.next_deadline()
        };
        let key = TimerKey::Conn(k);
        if d != self.timers.get(key) {
            self.timers.set(key, d);
        }
    }

    fn accept(&mut self, lk: Key, now: Instant) {
        loop {
            let Some(l) = self.listeners.get_mut(lk) else {
                return;
            };
            if l.retry_at.is_some() {
                return;
            }
            match l.sock.accept(&self.config) {
                Ok(Accepted::Link(link)) => {
                    let endpoint = l.sock.endpoint().to_string();
                    self.event(TransportEvent::Accepted {
                        endpoint: endpoint.clone(),
                        peer: link.peer,
                        peer_addr: link.addr,
                    });
                    self.add_conn(link, Origin::Accepted(lk), endpoint, now);
                }
                Ok(Accepted::Refused(peer)) => {
                    let endpoint = l.sock.endpoint().to_string();
                    self.event(TransportEvent::AccessRejected {
                        endpoint,
                        peer,
                        peer_addr: None,
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.raw_os_error() == Some(libc::ECONNABORTED) => {}
                Err(e) => {
                    // Out of descriptors or memory: back off instead of spinning or aborting.
                    let retry = if is_retryable_accept_error(&e) {
                        ACCEPT_RETRY
                    } else {
                        ACCEPT_RETRY * 10
                    };
                    let at = now.checked_add(retry).unwrap_or(now);
                    l.retry_at = Some(at);
                    let endpoint = l.sock.endpoint().to_string();
                    self.timers.set(TimerKey::Listener(lk), Some(at));
                    self.event(TransportEvent::AcceptFailed {
                        endpoint,
                        errno: Errno::of(&e),
                        retry_in: retry,
                    });
                    return;
                }
            }
        }
    }

    /// Stops a listener and removes its files; with `close_conns` (unbind), also closes
    /// the connections accepted through it.
    fn close_listener(&mut self, lk: Key, close_conns: bool) {
        self.timers.set(TimerKey::Listener(lk), None);
        let Some(mut l) = self.listeners.remove(lk) else {
            return;
        };
        let _ = self.reactor.deregister(l.sock.source());
        l.sock.close();
        let endpoint = l.sock.endpoint().to_string();
        drop(l);
        if !close_conns {
            self.event(TransportEvent::Closed { endpoint });
            return;
        }
        // Unbinding closes every connection accepted through the listener.
        let accepted: Vec<Key> = self
            .core
            .conns
            .iter()
            .filter(|(_, c)| c.origin == Origin::Accepted(lk))
            .map(|(k, _)| k)
            .collect();
        let now = Instant::now();
        for c in accepted {
            self.core.doom(c, CloseReason::Local);
            self.reap(c, now);
        }
        self.event(TransportEvent::Closed { endpoint });
    }

    fn close_connector(&mut self, ck: Key) {
        self.timers.set(TimerKey::Connector(ck), None);
        let Some(c) = self.connectors.remove(ck) else {
            return;
        };
        // The connection goes first, so Disconnected comes before Closed.
        if let Some(conn) = c.conn {
            self.core.doom(conn, CloseReason::Local);
            self.reap(conn, Instant::now());
        }
        if let Some(p) = c.pipe {
            self.core.remove_pipe(p);
        }
        if !c.gave_up {
            self.event(TransportEvent::Closed { endpoint: c.text });
        }
    }

    /// Handles readiness of a connection.
    fn conn_ready(&mut self, k: Key, readable: bool, writable: bool, now: Instant) {
        let Some(conn) = self.core.conns.get(k) else {
            return;
        };
        if conn.closing.is_some() {
            return;
        }
        if conn.connecting && !self.connect_done(k, now) {
            return;
        }
        let Some(conn) = self.core.conns.get(k) else {
            return;
        };
        if !conn.is_active() {
            if readable {
                self.drive_handshake(k, now);
            }
        } else if readable {
            self.core.read_conn(k, Side::Io);
        }
        if writable {
            let mut streaming = false;
            let fd_watched = self.fd_watched();
            if let Some(c) = self.core.conns.get_mut(k) {
                if c.want_write {
                    c.want_write = false;
                    self.core.reregister.push(k);
                }
                // Sent since the last look, and not waiting for this very room where only
                // this thread can see it: on the condition variable, or on the notify
                // descriptor (a caller that polls its connections sees room itself).
                streaming = self.core.sends != self.sends_seen
                    && self.waiters == 0
                    && !fd_watched
                    && c.is_active();
            }
            if streaming {
                // The caller is sending: its next send writes the backlog (without the
                // I/O thread holding its lock for the write); the hold-back bounds the
                // wait if it stops.
                self.core.mark_dirty(k);
            } else {
                self.flush(k);
            }
        }
    }

    /// A connect in progress became ready: it either failed (the connection is doomed,
    /// and its connector tries again) or is done (Connected). Whether it is done.
    fn connect_done(&mut self, k: Key, now: Instant) -> bool {
        let Some(c) = self.core.conns.get_mut(k) else {
            return false;
        };
        if let Some(errno) = c.stream.take_error() {
            self.core.doom(k, CloseReason::Io(errno));
            return false;
        }
        c.connecting = false;
        c.connect_by = None;
        c.zmtp.restart_handshake_clock(now);
        // Output waits for room only if a write found none; readiness as usual.
        self.core.reregister.push(k);
        let ev = TransportEvent::Connected {
            endpoint: c.endpoint.clone(),
            peer: c.creds,
            peer_addr: c.addr,
        };
        self.event(ev);
        self.update_deadline(k);
        true
    }

    fn drive_handshake(&mut self, k: Key, now: Instant) {
        let r = self.core.read_handshake(k);
        match r {
            Ok(Some(peer)) => self.handshake_done(k, peer, now),
            Ok(None) => {
                self.core.poll_transmit(k);
                self.flush(k);
            }
            Err(reason) => {
                // Send what the handshake queued (our READY, an ERROR), best effort.
                self.core.poll_transmit(k);
                let _ = self.core.flush_conn(k, Side::Io);
                self.core.doom_for_verdict(k, reason);
            }
        }
        self.update_deadline(k);
    }

    /// The ZAP handler answered connection `k`: its handshake goes on as after a read.
    fn zap_answered(&mut self, k: Key, reply: Result<ZapReply, ZapError>, now: Instant) {
        match self.core.zap_answered(k, reply) {
            Ok(Some(peer)) => self.handshake_done(k, peer, now),
            // Whatever the answer queued (WELCOME, READY) goes, and what the peer sent
            // meanwhile is read now.
            Ok(None) => self.drive_handshake(k, now),
            Err(reason) => {
                self.core.poll_transmit(k);
                let _ = self.core.flush_conn(k, Side::Io);
                self.core.doom_for_verdict(k, reason);
            }
        }
        self.update_deadline(k);
    }

    fn handshake_done(&mut self, k: Key, peer: PeerInfo, now: Instant) {
        // Our READY may still be queued in the handshake (when the peer's greeting and
        // READY came in one read): it must go out before any message.
        self.core.poll_transmit(k);
        let hb = Heartbeat::new(self.config.heartbeat, now);
        self.core.activate(k, &peer, hb);
        let Some(conn) = self.core.conns.get(k) else {
            return;
        };
        let origin = conn.origin;
        let endpoint = conn.endpoint.clone();
        let (creds, peer_addr) = (conn.creds, conn.addr);
        let (pipe, new) = match origin {
            Origin::Connected(ck) => {
                let existing = self.connectors.get(ck).and_then(|c| c.pipe);
                if let Some(c) = self.connectors.get_mut(ck) {
                    c.backoff.reset();
                }
                match existing {
                    Some(p) => (p, false),
                    None => {
                        let p = self.core.new_pipe(origin, endpoint.clone());
                        if let Some(c) = self.connectors.get_mut(ck) {
                            c.pipe = Some(p);
                        }
                        (p, true)
                    }
                }
            }
            Origin::Accepted(_) => (self.core.new_pipe(origin, endpoint.clone()), true),
            // (No connection comes from an inproc link.)
            Origin::Inproc { .. } => return,
        };
        self.core.attach_conn_to_pipe(k, pipe, peer);
        if new {
            self.core.notify(Notice::Attached(pipe));
        }
        self.core.notify(Notice::Connected(pipe));
        self.event(TransportEvent::HandshakeSucceeded {
            endpoint,
            peer: creds,
            peer_addr,
        });
        // Traffic that came with READY, then queued messages.
        self.core.read_conn(k, Side::Io);
        self.flush(k);
    }

    fn conn_timer(&mut self, k: Key, now: Instant) {
        let Some(conn) = self.core.conns.get_mut(k) else {
            return;
        };
        // The entry was the connection's current deadline (`Timers` keeps no stale ones).
        if conn.closing.is_some() {
            return;
        }
        if conn.connect_by.is_some_and(|by| by <= now) {
            // CONNECT_TIMEOUT: the connector tries again.
            self.core.doom(k, CloseReason::Io(libc::ETIMEDOUT));
            return;
        }
        if conn.connecting {
            return; // (no handshake clock yet)
        }
        match conn.zmtp.handle_timeout(now) {
            Ok(()) => {
                self.core.poll_transmit(k);
                self.flush(k);
                self.update_deadline(k);
            }
            Err(reason) => self.core.doom(k, reason),
        }
    }

    fn fire_timers(&mut self, now: Instant) {
        while let Some((at, key)) = self.timers.pop_due(now) {
            match key {
                TimerKey::Conn(k) => self.conn_timer(k, now),
                TimerKey::Connector(k) => {
                    let due = self
                        .connectors
                        .get(k)
                        .is_some_and(|c| c.retry_at == Some(at) && c.conn.is_none());
                    if due {
                        self.attempt_connect(k, now);
                    }
                }
                TimerKey::Listener(k) => {
                    if let Some(l) = self.listeners.get_mut(k) {
                        if l.retry_at == Some(at) {
                            l.retry_at = None;
                            self.accept(k, now);
                        }
                    }
                }
                TimerKey::Sweep => {
                    self.sweep_armed = false;
                    self.core.sweep_buffers();
                }
            }
        }
    }

    fn next_timeout(&mut self) -> Option<Instant> {
        self.timers.next()
    }

    /// Closes a doomed connection: events, pipe, and the connector's next move.
    fn reap(&mut self, k: Key, now: Instant) {
        // A handshake cut short by a write error or end of file may still have the peer's
        // READY or ERROR waiting unread (a peer refusing our type sends ERROR, then closes,
        // and our write can fail first): its verdict is the real reason.
        let io_failure = self.core.conns.get(k).is_some_and(|c| {
            !c.connecting
                && !c.is_active()
                && matches!(c.closing, Some(CloseReason::Io(_) | CloseReason::Eof))
        });
        if io_failure {
            // What is buffered first, then what the kernel still holds.
            let verdict = self
                .core
                .advance_handshake(k)
                .and_then(|_| self.core.read_handshake(k));
            if let (Err(reason), Some(c)) = (verdict, self.core.conns.get_mut(k)) {
                if reason.is_handshake_verdict() {
                    c.closing = Some(reason);
                }
            }
        }
        self.core.release_read_buffers(k);
        self.timers.set(TimerKey::Conn(k), None);
        let Some(mut conn) = self.core.conns.remove(k) else {
            return;
        };
        if let (Some(id), Some(auth)) = (conn.zap_request, &self.core.auth) {
            auth.cancel(id);
        }
        let _ = self.reactor.deregister(&mut conn.stream);
        let reason = conn.closing.clone().unwrap_or(CloseReason::Local);
        let was_active = conn.is_active();
        let was_connecting = conn.connecting;
        let text = if matches!(reason, CloseReason::Eof) && conn.zmtp.curve_hello_unanswered() {
            // (The one clue a client gets of a wrong server key.)
            "peer closed the connection without answering our CURVE HELLO (a server does \
             so when it cannot open the HELLO: is CURVE_SERVERKEY its public key?)"
                .to_string()
        } else if conn.zap_request.is_some()
            && matches!(reason, CloseReason::Handshake(HandshakeError::Timeout))
        {
            "handshake did not complete in time: the authenticator (or ZAP handler) had not \
             answered"
                .to_string()
        } else {
            reason.describe()
        };
        let (endpoint, peer, peer_addr) = (conn.endpoint.clone(), conn.creds, conn.addr);
        if conn.connecting {
            // A connect that failed: the connector's ConnectRetried says so.
        } else if !was_active && matches!(reason, CloseReason::Local) {
            // Closed by us mid-handshake (disconnect, unbind, close): no handshake failed,
            // and libzmq reports nothing either.
        } else if was_active {
            self.event(TransportEvent::Disconnected {
                endpoint,
                peer,
                peer_addr,
                reason: text,
            });
        } else {
            self.event(TransportEvent::HandshakeFailed {
                endpoint,
                peer,
                peer_addr,
                reason: text,
                auth: reason.auth_status(),
            });
        }
        let pipe = conn.pipe;
        if let Some(p) = pipe {
            if let Some(pp) = self.core.pipes.get_mut(p) {
                if pp.conn == Some(k) {
                    pp.conn = None;
                }
            }
        }
        drop(conn);
        match pipe.and_then(|p| self.core.pipes.get(p).map(|pp| (p, pp.origin))) {
            Some((p, Origin::Accepted(_))) => self.core.retire_pipe(p),
            Some((p, Origin::Connected(_))) if self.config.immediate => self.core.retire_pipe(p),
            Some((p, Origin::Connected(_))) => self.core.notify(Notice::Disconnected(p)),
            Some((_, Origin::Inproc { .. })) | None => {}
        }
        // The connector tries again unless the failure was a protocol error.
        let ck = self
            .connectors
            .iter()
            .find(|(_, c)| c.conn == Some(k))
            .map(|(ck, _)| ck);
        if let Some(ck) = ck {
            let immediate = self.config.immediate;
            if let Some(c) = self.connectors.get_mut(ck) {
                c.conn = None;
                if immediate {
                    c.pipe = None;
                }
            }
            let no_retry = self
                .connectors
                .get(ck)
                .is_some_and(|c| !c.backoff.enabled());
            if reason.ends_endpoint()
                || matches!(reason, CloseReason::Local)
                || (no_retry && was_active)
            {
                // The endpoint is done (a protocol failure, a refused pipe, or an
                // established connection lost with RECONNECT_IVL off): drop it with its
                // queue, as libzmq does; a new connect starts afresh. A connection that
                // never completed its handshake leaves the queue in place.
                self.close_connector(ck);
            } else {
                // A connect that failed has its errno; a connection lost or refused in
                // the handshake has no attempt that failed (its own event said why).
                let errno = match reason {
                    CloseReason::Io(e) if was_connecting => Some(Errno(e)),
                    _ => None,
                };
                self.schedule_reconnect(ck, errno, now);
            }
        }
    }

    /// Brings the state to rest after any change: closes doomed connections, delivers
    /// notices, updates registrations.
    ///
    /// `now` is the caller's clock reading, if it has one; the clock is read only when a
    /// connection must be closed (the calling thread settles on every operation, so the
    /// check that nothing waits is inline).
    #[inline]
    fn settle(&mut self, now: Option<Instant>) {
        if !self.core.at_rest() {
            self.settle_changes(now);
        }
    }

    fn settle_changes(&mut self, now: Option<Instant>) {
        let mut delivered = false;
        loop {
            while let Some(k) = self.core.doomed.pop() {
                self.reap(k, now.unwrap_or_else(Instant::now));
            }
            if let Some(n) = self.core.take_notice() {
                self.dispatched = self.dispatched.wrapping_add(1);
                let State { handler, core, .. } = self;
                handler.on_notice(n, core);
                core.set_unread_notifications(handler.held());
                delivered = true;
                continue;
            }
            if !std::mem::take(&mut delivered) {
                break;
            }
            // (May read again, queueing more notices: the loop settles those too.)
            self.core.notices_delivered();
        }
        // (Checked first: taking an empty list every settle would free and regrow it.)
        if !self.core.retime.is_empty() {
            for k in std::mem::take(&mut self.core.retime) {
                self.update_deadline(k);
            }
        }
        if self.core.reregister.is_empty() {
            return;
        }
        for k in std::mem::take(&mut self.core.reregister) {
            if let Some(c) = self.core.conns.get(k).filter(|c| c.parked) {
                // The caller that parked it polls it for room at its next wait; the I/O
                // thread registers the interest when it takes the connection back, and
                // looks at it within PARK_GRACE, in case the caller does not wait again.
                if c.want_write {
                    let soon = now.unwrap_or_else(Instant::now) + PARK_GRACE;
                    self.unpark_at = Some(self.unpark_at.map_or(soon, |u| u.min(soon)));
                }
                continue;
            }
            if let Some(c) = self.core.conns.get_mut(k) {
                let interest = interest_of(c);
                let _ = self
                    .reactor
                    .reregister(&mut c.stream, self.slot, conn_token(k), interest);
            }
        }
    }

    /// While closing: whether every queued message is written (or the linger ran out).
    fn close_done(&mut self, now: Instant) -> bool {
        let Some(deadline) = self.closing else {
            return false;
        };
        if deadline.is_some_and(|d| now >= d) {
            return true;
        }
        let pending = self
            .core
            .pipes
            .iter()
            .any(|(p, _)| self.core.has_pending_output(p));
        let writing = self.core.conns.iter().any(|(_, c)| c.has_output());
        !pending && !writing
    }

    fn handle(&mut self, ev: &Readiness, now: Instant) {
        let idx = ev.token.0 / 2;
        if ev.token.0 % 2 == 1 {
            if let Some(k) = self.listeners.key_at(idx) {
                self.accept(k, now);
            }
        } else if let Some(k) = self.core.conns.key_at(idx) {
            if ev.hangup {
                if let Some(c) = self.core.conns.get_mut(k) {
                    c.hangup_seen = true;
                }
            }
            self.conn_ready(k, ev.readable, ev.writable, now);
        }
    }
}

impl<H: Handler> Driven for Shared<H> {
    fn turn(&self, events: &[Readiness], now: Instant) -> Turn {
        // The caller holds the lock in a bounded wait for room (`RoomWait`): the other
        // sockets on this thread must not wait for it. The events wait here; the caller
        // asks for a turn as it lets go (`turn_wanted`), and a look after `TURN_RETRY`
        // covers a wait that ended just before the flag was set.
        let put_off = || {
            self.turn_wanted.store(true, Ordering::SeqCst);
            if !events.is_empty() {
                lock(&self.deferred).extend_from_slice(events);
            }
            Turn::Next(Some(now + TURN_RETRY))
        };
        let locked = match self.state.try_lock() {
            Ok(st) => Ok(st),
            Err(TryLockError::Poisoned(poisoned)) => Err(poisoned),
            Err(TryLockError::WouldBlock) if self.room_wait.caller.load(Ordering::SeqCst) => {
                return put_off();
            }
            // Held for an ordinary call: briefly. Said first (`RoomWait::io`), and the
            // caller's flag looked at again after: either this thread sees the caller's
            // wait and puts the turn off, or the caller sees this thread waiting and cuts
            // its wait short.
            Err(TryLockError::WouldBlock) => {
                self.room_wait.io.store(true, Ordering::SeqCst);
                if self.room_wait.caller.load(Ordering::SeqCst) {
                    self.room_wait.io.store(false, Ordering::SeqCst);
                    return put_off();
                }
                let st = self.state.lock();
                self.room_wait.io.store(false, Ordering::SeqCst);
                st
            }
        };
        let mut st = match locked {
            Ok(st) => st,
            Err(poisoned) => {
                // A panic while the state was being updated: close the socket. Its
                // listeners' files are removed and its connections let go if that much
                // can still be done; nothing else of the state is used.
                let mut st = poisoned.into_inner();
                let _ = std::panic::catch_unwind(AssertUnwindSafe(|| st.release_io()));
                self.finished(&mut st);
                return Turn::Finished;
            }
        };
        if st.shutdown {
            return Turn::Finished;
        }
        st.wake_pending = false;
        st.io_turns += 1;
        if self.turn_wanted.load(Ordering::SeqCst) {
            self.turn_wanted.store(false, Ordering::SeqCst);
        }
        let deferred = std::mem::take(&mut *lock(&self.deferred));
        for ev in deferred.iter().chain(events) {
            st.handle(ev, now);
        }
        // Connections stopped at JUNK_PER_TURN, once the pause is over: read on (as far
        // as the allowance again).
        if st.reread_at.is_some_and(|t| t <= now) {
            st.reread_at = None;
            for k in std::mem::take(&mut st.core.reread) {
                if st.core.unthrottle(k) {
                    st.core.read_conn(k, Side::Io);
                    // A caller's poll left the connection out while it was stopped.
                    st.core.wake_waiters = true;
                }
            }
            st.settle(Some(now));
            if !st.core.reread.is_empty() {
                // Stopped again: the pause lasts at least as long as the reading did, so
                // such traffic never takes more than half of this thread's time.
                let end = Instant::now();
                let pause = end.saturating_duration_since(now).max(JUNK_PAUSE);
                st.reread_at = Some(end + pause);
            }
        }
        // What inproc peers rang: arrivals and departures (monitor events, pipes that
        // go), and whatever else came with them.
        if let Some(pipes) = self.bell.rung().then(|| self.bell.take()).flatten() {
            for p in pipes {
                st.inproc_look(p);
            }
        }
        // (A load first: the swap, a write, only when something came.)
        if self.zap_rung.load(Ordering::Relaxed) && self.zap_rung.swap(false, Ordering::SeqCst) {
            let replies = std::mem::take(&mut *lock(&self.zap_replies));
            for (k, reply) in replies {
                st.zap_answered(k, reply, now);
            }
        }
        st.fire_timers(now);
        if st.core.sweep_wanted && !st.sweep_armed {
            st.sweep_armed = true;
            st.timers.set(TimerKey::Sweep, Some(now + SWEEP_EVERY));
        }
        // Parked connections come back once their caller stopped waiting (see PARK_GRACE),
        // or at once when the socket closes (lingering output needs the I/O thread).
        if st.closing.is_some() {
            st.unpark_all();
        } else if st.unpark_at.is_some_and(|t| t <= now) {
            st.look_at_parked(now);
        }
        st.write_due(now);
        if std::mem::take(&mut st.core.wake_waiters) {
            if st.waiters > 0 {
                self.cond.notify_all();
            }
            self.tell_sleepers(st.fd_armed || st.poll_waiters > 0);
        }
        if st.close_done(now) {
            st.release_io();
            self.finished(&mut st);
            return Turn::Finished;
        }
        #[cfg(debug_assertions)]
        st.core.check_invariants();
        let next = st.next_turn(now);
        st.poll_until = next;
        Turn::Next(next)
    }

    fn abandon(&self) {
        let mut st = lock(&self.state);
        self.finished(&mut st);
    }

    fn is_finished(&self) -> bool {
        lock(&self.state).shutdown
    }
}

impl<H: Handler> State<H> {
    /// The I/O thread's writes in a turn. Notices can queue output (a SUB's subscriptions
    /// on a new connection), and writes can close connections: settle and flush until both
    /// are done. A batch the caller is still filling is held back (corked) once, for the
    /// hold-back (CORK_MIN to CORK_MAX): the caller writes full batches itself meanwhile.
    /// While it streams, a connection it wrote out stays on the list too: the I/O thread
    /// looks again after the hold-back instead of being woken by the next batch the caller
    /// starts.
    fn write_due(&mut self, now: Instant) {
        let mut corked: Vec<Key> = Vec::new();
        let sends_seen = self.sends_seen;
        self.sends_seen = self.core.sends;
        let marked = std::mem::take(&mut self.core.marked);
        if self.cork_until.is_some_and(|t| t <= now) {
            // A hold-back ran out: longer while the caller kept sending, short again once
            // it paused.
            self.cork_len = if self.core.sends != sends_seen {
                (self.cork_len * 2).min(CORK_MAX)
            } else {
                CORK_MIN
            };
        }
        // Closing: nothing is held back (a short linger must not run out on it).
        let closing = self.closing.is_some();
        loop {
            self.settle(Some(now));
            let dirty = std::mem::take(&mut self.core.dirty);
            if dirty.is_empty() {
                break;
            }
            for k in dirty {
                if !closing && self.core.hold_back(k, sends_seen, marked) {
                    corked.push(k);
                } else {
                    self.flush(k);
                }
            }
        }
        self.cork_until = (!corked.is_empty()).then(|| now + self.cork_len);
        self.core.dirty_corked = !corked.is_empty();
        self.core.dirty = corked; // empty after the loop above
    }

    /// When the socket next needs a turn without an event: its earliest timer, the end of
    /// a hold-back, a look at parked connections, the end of its linger.
    fn next_turn(&mut self, now: Instant) -> Option<Instant> {
        let mut until = self.next_timeout();
        if !self.core.reread.is_empty() {
            let r = *self.reread_at.get_or_insert(now + JUNK_PAUSE);
            until = Some(until.map_or(r, |t| t.min(r)));
        }
        if let Some(c) = self.cork_until {
            until = Some(until.map_or(c, |t| t.min(c)));
        }
        // A past look at parked connections waits for their caller's wait to end
        // (see `State::look_at_parked`).
        if let Some(u) = self
            .unpark_at
            .filter(|&u| self.poll_waiters == 0 || u > now)
        {
            until = Some(until.map_or(u, |t| t.min(u)));
        }
        if let Some(Some(d)) = self.closing {
            until = Some(until.map_or(d, |t| t.min(d)));
        }
        until
    }

    /// A finished socket lets go of its descriptors (a monitor may keep the rest alive).
    fn release_io(&mut self) {
        for k in self.listeners.keys() {
            self.close_listener(k, false);
        }
        for k in self.core.conns.keys() {
            if let Some(mut c) = self.core.conns.remove(k) {
                if !c.parked {
                    let _ = self.reactor.deregister(&mut c.stream);
                }
                if let (Some(id), Some(auth)) = (c.zap_request, &self.core.auth) {
                    auth.cancel(id);
                }
            }
        }
        self.timers = Timers::default();
        // What was still queued goes too: only a monitor or a `Closing` keeps the state.
        self.core = Core::new(self.core.socket_type);
    }
}
