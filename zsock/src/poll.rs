//! Waiting on many sockets (and plain descriptors) at once (`zmq_poll`).

use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ipc_transport::{poll_descriptors, PollClaim, PollWaker, Watcher};

use crate::error::{Error, ErrorKind, Result};
use crate::routing::Routing;
use crate::socket::{readiness, Events, Socket};

/// One socket (or plain descriptor) to poll and what to wait for; `revents` holds what is
/// ready afterwards.
///
/// An item does not borrow its socket: build the items once and poll them in a loop while
/// the sockets send and receive, as with the `zmq` crate. Polling an item whose socket was
/// closed fails with ENOTSOCK. [`PollItem::from_fd`] polls a descriptor of your own (a
/// pipe, a TCP stream, stdin) beside the sockets, as a `zmq_pollitem_t` with an `fd` or
/// pyzmq's `Poller.register(fd)` does.
///
/// ```
/// use zsock::{poll, Context, Events, Flags, PollItem, SocketType};
///
/// let ctx = Context::new();
/// let mut a = ctx.socket(SocketType::Pair)?;
/// let mut b = ctx.socket(SocketType::Pair)?;
/// a.connect(&b.bind("ipc://*")?)?;
/// let mut items = [a.as_poll_item(Events::POLLIN), PollItem::new(&b, Events::POLLIN)];
/// a.send("to b", Flags::NONE)?;
/// for _ in 0..2 {
///     poll(&mut items, None)?;
///     if items[0].is_readable() {
///         assert_eq!(a.recv(Flags::NONE)?, "to a");
///     }
///     if items[1].is_readable() {
///         assert_eq!(b.recv(Flags::NONE)?, "to b");
///         b.send("to a", Flags::NONE)?;
///     }
/// }
/// # Ok::<(), zsock::Error>(())
/// ```
pub struct PollItem {
    source: Source,
    /// What to wait for.
    pub events: Events,
    /// What is ready (set by [`poll`]).
    pub revents: Events,
}

impl std::fmt::Debug for PollItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PollItem")
            .field("events", &self.events)
            .field("revents", &self.revents)
            .finish_non_exhaustive()
    }
}

/// What an item polls.
enum Source {
    Socket {
        watcher: Watcher<Routing>,
        /// The socket holds frames of a message partly received.
        partial: Arc<AtomicBool>,
    },
    Fd(RawFd),
}

impl PollItem {
    /// Waits for `events` on `socket` (the item does not borrow it).
    pub fn new(socket: &Socket, events: Events) -> PollItem {
        let (watcher, partial) = socket.watch();
        PollItem {
            source: Source::Socket { watcher, partial },
            events,
            revents: Events::NONE,
        }
    }

    /// Waits for `events` on a plain descriptor: [`Events::POLLIN`] when reading it would
    /// not block, [`Events::POLLOUT`] when writing would not. A descriptor in error or hung
    /// up (or closed: keep it open while you poll it) reports the events asked for, so that
    /// the read or write that follows sees what happened.
    ///
    /// ```
    /// use std::io::Write;
    /// use zsock::{poll, Context, Events, PollItem, SocketType};
    ///
    /// let ctx = Context::new();
    /// let pull = ctx.socket(SocketType::Pull)?;
    /// pull.bind("ipc://*")?;
    /// let (reader, mut writer) = std::os::unix::net::UnixStream::pair()?;
    /// let mut items = [
    ///     PollItem::new(&pull, Events::POLLIN),
    ///     PollItem::from_fd(&reader, Events::POLLIN),
    /// ];
    /// writer.write_all(b"x")?;
    /// assert_eq!(poll(&mut items, None)?, 1);
    /// assert!(!items[0].is_readable() && items[1].is_readable());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_fd(fd: &impl AsRawFd, events: Events) -> PollItem {
        PollItem {
            source: Source::Fd(fd.as_raw_fd()),
            events,
            revents: Events::NONE,
        }
    }

    /// Whether the last [`poll`] found a message to receive.
    pub fn is_readable(&self) -> bool {
        self.revents.contains(Events::POLLIN)
    }

    /// Whether the last [`poll`] found room to send.
    pub fn is_writable(&self) -> bool {
        self.revents.contains(Events::POLLOUT)
    }

    /// ZMQ_EVENTS of the item's socket (clearing its descriptor, as
    /// [`Socket::events`] does); with `claim`, first has the socket wake that waker
    /// until the returned claim is dropped (see [`poll`]), under the same lock as the look.
    fn look(&self, claim: Option<&Arc<PollWaker>>) -> Result<(Events, Option<PollClaim>)> {
        let Source::Socket { watcher, partial } = &self.source else {
            return Ok((Events::NONE, None)); // (descriptors: see `set_fd_revents`)
        };
        let mut g = watcher
            .lock()
            .ok_or_else(|| Error::new(ErrorKind::NotSocket, "a poll item's socket is closed"))?;
        if g.is_terminated() {
            return Err(Error::terminated());
        }
        let claimed = claim.map(|w| g.claim(w));
        // The socket holds input of its own: taken ahead (the engine counts it) or a
        // message partly received.
        let holds = partial.load(Ordering::Relaxed) || g.parts().1.lent() > 0;
        Ok((readiness(&mut g, holds) & self.events, claimed))
    }
}

thread_local! {
    /// What this thread's polls sleep on (made at its first sleep).
    static WAKER: std::cell::OnceCell<Arc<PollWaker>> = const { std::cell::OnceCell::new() };
}

/// This thread's [`PollWaker`], for a wait on several sockets (`poll`, the proxy).
pub(crate) fn thread_waker() -> Result<Arc<PollWaker>> {
    WAKER.with(|w| {
        if let Some(w) = w.get() {
            return Ok(w.clone());
        }
        let made = PollWaker::new().map_err(Error::from)?;
        Ok(w.get_or_init(|| made).clone())
    })
}

/// The poll(2) entries of the descriptor items, in order.
fn descriptors(items: &[PollItem]) -> Vec<libc::pollfd> {
    items
        .iter()
        .filter_map(|it| match it.source {
            Source::Fd(fd) => Some(libc::pollfd {
                fd,
                events: fd_events(it.events),
                revents: 0,
            }),
            Source::Socket { .. } => None,
        })
        .collect()
}

fn fd_events(events: Events) -> libc::c_short {
    let mut e = 0;
    if events.contains(Events::POLLIN) {
        e |= libc::POLLIN;
    }
    if events.contains(Events::POLLOUT) {
        e |= libc::POLLOUT;
    }
    e
}

/// Sets the descriptor items' `revents` from `fds` (their poll(2) entries, in order);
/// returns how many are ready.
fn set_fd_revents(items: &mut [PollItem], fds: &[libc::pollfd]) -> usize {
    let mut ready = 0;
    let fd_items = items
        .iter_mut()
        .filter(|it| matches!(it.source, Source::Fd(_)));
    for (it, f) in fd_items.zip(fds) {
        let mut r = Events::NONE;
        if f.revents & libc::POLLIN != 0 {
            r = r | Events::POLLIN;
        }
        if f.revents & libc::POLLOUT != 0 {
            r = r | Events::POLLOUT;
        }
        if f.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
            r = r | it.events; // the read or write that follows tells what happened
        }
        it.revents = r & it.events;
        ready += usize::from(!it.revents.is_empty());
    }
    ready
}

/// Waits until at least one item is ready or `timeout` passes (`None`: forever); returns
/// how many items are ready.
pub fn poll(items: &mut [PollItem], timeout: Option<Duration>) -> Result<usize> {
    let deadline = timeout.map(|t| Instant::now() + t);
    // Claims on the items' sockets, held only while the poll sleeps: then any of them
    // wakes this thread's waker, one descriptor however many items (and one signal for a
    // burst to many); otherwise they signal nothing (a poller that keeps finding input
    // costs its sockets no system call per message).
    let mut claims: Vec<PollClaim> = Vec::new();
    // The descriptor items' poll(2) entries, the same for every look below.
    let mut fds = descriptors(items);
    loop {
        // A look at every item without claims: enough whenever something is ready.
        let mut ready = 0;
        for it in items.iter_mut() {
            (it.revents, _) = it.look(None)?;
            ready += usize::from(!it.revents.is_empty());
        }
        // The descriptors, without waiting (one system call for all of them).
        if !fds.is_empty() {
            poll_descriptors(&mut fds, Some(Duration::ZERO))?;
            ready += set_fd_revents(items, &fds);
        }
        if ready > 0 {
            return Ok(ready);
        }
        let wait = match deadline {
            None => None,
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Ok(0);
                }
                Some(left)
            }
        };
        // What changed since the look above woke nobody: look again, each socket under
        // the lock that claims it for the sleep.
        let w = thread_waker()?;
        for it in items.iter_mut() {
            let (revents, claim) = it.look(Some(&w))?;
            it.revents = revents;
            claims.extend(claim);
            ready += usize::from(!it.revents.is_empty());
        }
        if ready == 0 {
            w.wait_polling(&mut fds, wait)?;
            ready += set_fd_revents(items, &fds);
        }
        // The claims end before the looks that follow (those see every change made
        // before), then the waker forgets its wakes: a change after the reset wakes it
        // again.
        claims.clear();
        w.reset();
        if ready > 0 {
            return Ok(ready);
        }
    }
}
