//! I/O threads shared by sockets: [`IoThreads`].
//!
//! An I/O thread owns one mio `Poll` in which every descriptor of every socket placed on
//! it is registered. A descriptor's token carries the socket's slot in its high half and
//! the socket's own token (connection or listener) in its low half. Each turn the thread
//! collects the readiness events, the sockets whose deadline came and the sockets that
//! asked for a turn ([`Reactor::wake`]), and gives each such socket one turn
//! ([`Driven::turn`]) with its events, under that socket's lock only. A socket's turn
//! returns its next deadline; the thread sleeps until the earliest of them.
//!
//! So the thread count of a process is the number of I/O threads (a context's IO_THREADS),
//! whatever its socket count, and a socket costs no thread, no poll descriptor and no timer
//! descriptor of its own.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Registry, Token, Waker};

use crate::sys;
use crate::timers::Timers;

/// Wakes the thread for [`Reactor::wake`] and shutdown.
const WAKER: Token = Token(usize::MAX);
/// The timerfd that ends a poll whose timeout is under a millisecond (epoll's own timeout
/// counts whole milliseconds, rounding up).
const FINE_TIMER: Token = Token(usize::MAX - 1);
/// Bits of a token that belong to the socket; the slot is above them.
const SOCKET_BITS: u32 = usize::BITS / 2;
const SOCKET_MASK: usize = (1 << SOCKET_BITS) - 1;

/// One readiness event for a socket, with the socket's own token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Readiness {
    pub(crate) token: Token,
    pub(crate) readable: bool,
    pub(crate) writable: bool,
    /// The peer closed its side, or the socket has an error: a read must go on to the end
    /// of file or the error (a short read no longer means the socket is empty of news).
    pub(crate) hangup: bool,
}

/// What a socket's turn leaves the I/O thread to do.
pub(crate) enum Turn {
    /// Give it another turn at this time (`None`: only on events or a wake).
    Next(Option<Instant>),
    /// The socket is closed and its descriptors deregistered: forget it.
    Finished,
}

/// A socket as an I/O thread sees it.
pub(crate) trait Driven: Send + Sync {
    /// One turn: handles `events`, fires due timers, writes what is due. Runs on the I/O
    /// thread; takes the socket's lock.
    fn turn(&self, events: &[Readiness], now: Instant) -> Turn;
    /// The I/O thread stopped (its poll descriptor failed) or the socket's turn panicked:
    /// nothing more will progress.
    fn abandon(&self);
    /// The socket's last turn has run (or it was abandoned).
    fn is_finished(&self) -> bool;
}

/// One I/O thread's shared half: what callers reach.
pub(crate) struct Reactor {
    registry: Registry,
    waker: Waker,
    /// Sockets by slot.
    sockets: Mutex<Slots>,
    /// Slots whose socket asked for a turn since the thread last looked.
    woken: Mutex<Vec<usize>>,
    /// A wake-up is on its way (callers skip the waker's system call meanwhile).
    wake_sent: AtomicBool,
    /// The owning [`IoThreads`] is gone: the thread exits once its sockets have finished.
    stop: AtomicBool,
    /// Sockets placed on this thread and not yet finished.
    load: AtomicUsize,
    /// The thread stopped because its poll failed: no socket may be placed here.
    dead: AtomicBool,
}

#[derive(Default)]
struct Slots {
    live: Vec<Option<Arc<dyn Driven>>>,
    free: Vec<usize>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every update under these locks is a single push, pop or slot write.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Reactor {
    /// The token under which socket `slot` registers its descriptor `token`.
    pub(crate) fn token(slot: usize, token: Token) -> Token {
        debug_assert!(token.0 <= SOCKET_MASK, "socket token out of range");
        Token((slot << SOCKET_BITS) | token.0)
    }

    /// Registers a descriptor of socket `slot`.
    pub(crate) fn register(
        &self,
        source: &mut (impl mio::event::Source + ?Sized),
        slot: usize,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.registry
            .register(source, Reactor::token(slot, token), interest)
    }

    /// Changes a descriptor's interest.
    pub(crate) fn reregister(
        &self,
        source: &mut (impl mio::event::Source + ?Sized),
        slot: usize,
        token: Token,
        interest: Interest,
    ) -> io::Result<()> {
        self.registry
            .reregister(source, Reactor::token(slot, token), interest)
    }

    /// Removes a descriptor.
    pub(crate) fn deregister(
        &self,
        source: &mut (impl mio::event::Source + ?Sized),
    ) -> io::Result<()> {
        self.registry.deregister(source)
    }

    /// Places a socket on this thread; returns its slot (an error once the thread died).
    pub(crate) fn add(&self, socket: Arc<dyn Driven>) -> io::Result<usize> {
        self.load.fetch_add(1, Ordering::Relaxed);
        let slot = {
            let mut slots = lock(&self.sockets);
            match slots.free.pop() {
                Some(i) => {
                    slots.live[i] = Some(socket);
                    i
                }
                None => {
                    slots.live.push(Some(socket));
                    slots.live.len() - 1
                }
            }
        };
        // (After the insertion: the thread marks itself dead before it abandons what it
        // holds, so a socket it missed sees the mark here.)
        if self.dead.load(Ordering::SeqCst) {
            self.remove(slot);
            return Err(io::Error::other("the context's I/O threads have stopped"));
        }
        Ok(slot)
    }

    /// Asks for a turn of socket `slot` soon. Cheap when a wake-up is already on its way.
    pub(crate) fn wake(&self, slot: usize) {
        lock(&self.woken).push(slot);
        // After the push: the thread clears the flag before it takes the list, so either it
        // sees this slot, or this sees the flag clear and wakes it.
        if !self.wake_sent.swap(true, Ordering::SeqCst) {
            let _ = self.waker.wake();
        }
    }

    fn socket(&self, slot: usize) -> Option<Arc<dyn Driven>> {
        lock(&self.sockets).live.get(slot).cloned().flatten()
    }

    fn remove(&self, slot: usize) {
        let mut slots = lock(&self.sockets);
        if let Some(s) = slots.live.get_mut(slot) {
            if s.take().is_some() {
                slots.free.push(slot);
                self.load.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }

    fn is_empty(&self) -> bool {
        lock(&self.sockets).live.iter().all(Option::is_none)
    }

    /// Every socket placed here has had its last turn (some may not be removed yet).
    fn all_finished(&self) -> bool {
        lock(&self.sockets)
            .live
            .iter()
            .flatten()
            .all(|s| s.is_finished())
    }
}

/// A set of I/O threads that sockets share (libzmq's IO_THREADS). Cloning shares them; when
/// the last handle is dropped, each thread exits once the sockets placed on it have
/// finished (closed and lingered).
#[derive(Clone)]
pub struct IoThreads {
    inner: Arc<IoInner>,
}

struct IoInner {
    reactors: Vec<Arc<Reactor>>,
    threads: Vec<JoinHandle<()>>,
    /// The `inproc://` names of the context these threads serve.
    names: Arc<crate::inproc::Names>,
    /// The context's authenticator.
    auth: Arc<crate::auth::AuthSlot>,
}

impl Drop for IoInner {
    /// Stops the threads. One whose sockets have all finished exits at once and is joined
    /// (its poll is closed when this returns); one with a socket still lingering
    /// is left to finish it in the background, as a closed socket's linger never blocks
    /// the thread that closed it.
    fn drop(&mut self) {
        for (r, t) in self.reactors.iter().zip(self.threads.drain(..)) {
            r.stop.store(true, Ordering::SeqCst);
            let _ = r.waker.wake();
            // (Never this thread itself: the last handle of a context may go on one of
            // its own threads, which then finishes by itself.)
            if r.all_finished() && t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

impl std::fmt::Debug for IoThreads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IoThreads")
            .field("threads", &self.inner.reactors.len())
            .finish()
    }
}

impl IoThreads {
    /// Starts `n` I/O threads (at least one).
    pub fn new(n: usize) -> io::Result<IoThreads> {
        let mut reactors = Vec::new();
        let mut threads = Vec::new();
        for _ in 0..n.max(1) {
            let poll = Poll::new()?;
            let waker = Waker::new(poll.registry(), WAKER)?;
            let fine_timer = sys::new_timerfd()?;
            poll.registry().register(
                &mut mio::unix::SourceFd(&fine_timer.as_raw_fd()),
                FINE_TIMER,
                Interest::READABLE,
            )?;
            let reactor = Arc::new(Reactor {
                registry: poll.registry().try_clone()?,
                waker,
                sockets: Mutex::default(),
                woken: Mutex::default(),
                wake_sent: AtomicBool::new(false),
                stop: AtomicBool::new(false),
                load: AtomicUsize::new(0),
                dead: AtomicBool::new(false),
            });
            let r = reactor.clone();
            threads.push(
                std::thread::Builder::new()
                    .name("zsock-io".into())
                    .spawn(move || {
                        crate::mark_internal_thread();
                        run(&r, poll, &fine_timer)
                    })?,
            );
            reactors.push(reactor);
        }
        let names: Arc<crate::inproc::Names> = Arc::default();
        Ok(IoThreads {
            inner: Arc::new(IoInner {
                reactors,
                threads,
                auth: Arc::new(crate::auth::AuthSlot::new(names.clone())),
                names,
            }),
        })
    }

    /// The `inproc://` names of the sockets these threads serve (a context's: another
    /// context's names are not seen).
    pub(crate) fn names(&self) -> &crate::inproc::Names {
        &self.inner.names
    }

    /// Installs (or, with `None`, removes) the authenticator the sockets of these threads
    /// ask when a handshake must authenticate its peer: a PLAIN server, a NULL socket with a
    /// ZAP domain. Handshakes from now on use it.
    pub fn set_authenticator(&self, auth: Option<Arc<dyn crate::Authenticator>>) {
        self.inner.auth.set(auth);
    }

    pub(crate) fn auth(&self) -> Arc<crate::auth::AuthSlot> {
        self.inner.auth.clone()
    }

    /// How many threads there are.
    pub fn len(&self) -> usize {
        self.inner.reactors.len()
    }

    /// Never: there is at least one thread.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The running thread with the fewest sockets, for a new one.
    pub(crate) fn pick(&self) -> io::Result<Arc<Reactor>> {
        self.inner
            .reactors
            .iter()
            .filter(|r| !r.dead.load(Ordering::SeqCst))
            .min_by_key(|r| r.load.load(Ordering::Relaxed))
            .cloned()
            .ok_or_else(|| io::Error::other("the context's I/O threads have stopped"))
    }
}

/// The I/O thread.
fn run(r: &Reactor, mut poll: Poll, fine_timer: &OwnedFd) {
    let mut events = Events::with_capacity(1024);
    // When each socket wants its next turn.
    let mut deadlines: Timers<usize> = Timers::default();
    // (slot, event), then sorted by slot so that each socket gets one turn for all its
    // events.
    let mut batch: Vec<(usize, Readiness)> = Vec::new();
    let mut turns: Vec<usize> = Vec::new();
    loop {
        if r.stop.load(Ordering::SeqCst) && r.is_empty() {
            return;
        }
        let now = Instant::now();
        let timeout = deadlines.next().map(|at| at.saturating_duration_since(now));
        if let Some(t) = timeout.filter(|t| !t.is_zero() && *t < Duration::from_millis(1)) {
            sys::arm_timerfd(fine_timer, t);
        }
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() != io::ErrorKind::Interrupted {
                // The poll descriptor itself failed: nothing placed here can progress.
                r.dead.store(true, Ordering::SeqCst);
                let slots: Vec<Arc<dyn Driven>> =
                    lock(&r.sockets).live.iter().flatten().cloned().collect();
                for s in slots {
                    s.abandon();
                }
                return;
            }
        }
        let now = Instant::now();
        batch.clear();
        for ev in events.iter() {
            match ev.token() {
                WAKER => {}
                FINE_TIMER => sys::drain_eventfd(fine_timer),
                t => batch.push((
                    t.0 >> SOCKET_BITS,
                    Readiness {
                        token: Token(t.0 & SOCKET_MASK),
                        readable: ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                        writable: ev.is_writable() || ev.is_write_closed(),
                        hangup: ev.is_read_closed() || ev.is_error(),
                    },
                )),
            }
        }
        batch.sort_by_key(|&(slot, _)| slot); // stable: a socket's events keep their order
        turns.clear();
        turns.extend(batch.iter().map(|&(slot, _)| slot));
        while let Some((_, slot)) = deadlines.pop_due(now) {
            turns.push(slot);
        }
        r.wake_sent.store(false, Ordering::SeqCst);
        turns.append(&mut lock(&r.woken));
        turns.sort_unstable();
        turns.dedup();
        let mut at = 0;
        for &slot in &turns {
            while batch.get(at).is_some_and(|&(s, _)| s < slot) {
                at += 1;
            }
            let from = at;
            while batch.get(at).is_some_and(|&(s, _)| s == slot) {
                at += 1;
            }
            let Some(socket) = r.socket(slot) else {
                continue; // finished; its late events and wakes are moot
            };
            let evs: smallvec::SmallVec<[Readiness; 16]> =
                batch[from..at].iter().map(|&(_, e)| e).collect();
            // A panic in one socket's turn (a bug) closes that socket only: the others on
            // this thread go on. Its lock is poisoned, so its owner's next call says so.
            // (A fresh clock reading for each: earlier turns take time.)
            let now = Instant::now();
            let turn = std::panic::catch_unwind(AssertUnwindSafe(|| socket.turn(&evs, now)))
                .unwrap_or_else(|_| {
                    // Its lock is poisoned now: this turn closes it.
                    socket.turn(&[], now)
                });
            match turn {
                Turn::Next(next) => deadlines.set(slot, next),
                Turn::Finished => {
                    deadlines.set(slot, None);
                    r.remove(slot);
                }
            }
        }
    }
}
