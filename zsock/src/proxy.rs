//! The built-in proxy (`zmq_proxy`, `zmq_proxy_steerable`): messages from a frontend socket
//! to a backend socket and back, optionally copied to a capture socket and steered by a
//! control socket.

use std::os::fd::{AsFd, BorrowedFd};
use std::time::Duration;

use crate::error::{Error, ErrorKind, Result};
use crate::poll::thread_waker;
use crate::socket::{Events, Flags, Socket};
use crate::{Message, SocketType};

/// Most messages forwarded from one side before the proxy looks at the other side and at
/// the control socket (libzmq forwards bursts of the same size).
const BURST: usize = 1000;

/// Which way a message went through the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// From the frontend to the backend (requests, in a broker).
    FrontToBack,
    /// From the backend to the frontend (replies).
    BackToFront,
}

/// What one side of the proxy received and sent: frames and their bytes, as libzmq counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SideStatistics {
    /// Frames received on this socket.
    pub recv_frames: u64,
    /// Bytes in the frames received.
    pub recv_bytes: u64,
    /// Frames sent on this socket.
    pub sent_frames: u64,
    /// Bytes in the frames sent.
    pub sent_bytes: u64,
}

/// The proxy's counters, as the control command STATISTICS reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Statistics {
    /// The frontend's counters.
    pub frontend: SideStatistics,
    /// The backend's counters.
    pub backend: SideStatistics,
}

impl Statistics {
    /// The eight values of libzmq's STATISTICS reply, in its order: frontend frames and
    /// bytes received, frames and bytes sent, then the same for the backend.
    pub fn to_array(&self) -> [u64; 8] {
        let (f, b) = (&self.frontend, &self.backend);
        [
            f.recv_frames,
            f.recv_bytes,
            f.sent_frames,
            f.sent_bytes,
            b.recv_frames,
            b.recv_bytes,
            b.sent_frames,
            b.sent_bytes,
        ]
    }
}

/// A proxy between two sockets, configured before [`Proxy::run`]: what
/// [`proxy`] and [`proxy_steerable`] run, plus a tap that sees every message and a
/// descriptor that stops the proxy (for a signalfd, an eventfd, a pipe).
///
/// The pairs that make sense are those libzmq's proxy serves: ROUTER/DEALER (a broker),
/// XSUB/XPUB (a forwarder: subscriptions travel from the XPUB side to the XSUB side),
/// PULL/PUSH (a streamer), and any other pair whose sides can receive and send what the
/// other gives them.
///
/// ```
/// use zsock::{Context, Flags, Proxy, SocketType};
///
/// let ctx = Context::new();
/// let mut front = ctx.socket(SocketType::Router)?;
/// let mut back = ctx.socket(SocketType::Dealer)?;
/// let mut control = ctx.socket(SocketType::Pair)?;
/// let clients = front.bind("ipc://*")?;
/// let workers = back.bind("ipc://*")?;
/// let steer = control.bind("ipc://*")?;
/// let broker = std::thread::spawn(move || {
///     Proxy::new(&mut front, &mut back).control(&mut control).run()
/// });
///
/// let mut worker = ctx.socket(SocketType::Rep)?;
/// worker.connect(&workers)?;
/// let mut client = ctx.socket(SocketType::Req)?;
/// client.connect(&clients)?;
/// client.send("ping", Flags::NONE)?;
/// let request = worker.recv(Flags::NONE)?;
/// worker.send(&request, Flags::NONE)?;
/// assert_eq!(client.recv(Flags::NONE)?, "ping");
///
/// let mut steering = ctx.socket(SocketType::Pair)?;
/// steering.connect(&steer)?;
/// steering.send("TERMINATE", Flags::NONE)?;
/// let stats = broker.join().unwrap()?;
/// assert_eq!(stats.frontend.recv_frames, 3); // routing id, delimiter, body
/// # Ok::<(), zsock::Error>(())
/// ```
pub struct Proxy<'a> {
    frontend: &'a mut Socket,
    backend: &'a mut Socket,
    capture: Option<&'a mut Socket>,
    control: Option<&'a mut Socket>,
    tap: Option<Tap<'a>>,
    stop: Option<BorrowedFd<'a>>,
}

impl std::fmt::Debug for Proxy<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Proxy")
            .field("frontend", &self.frontend.socket_type())
            .field("backend", &self.backend.socket_type())
            .field("capture", &self.capture.as_ref().map(|s| s.socket_type()))
            .field("control", &self.control.as_ref().map(|s| s.socket_type()))
            .field("tap", &self.tap.is_some())
            .field("stop", &self.stop)
            .finish()
    }
}

/// What [`Proxy::tap`] calls.
type Tap<'a> = Box<dyn FnMut(Direction, &Message) + 'a>;

/// The steering state (libzmq's PAUSE, RESUME, TERMINATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Active,
    Paused,
    Terminated,
}

/// One direction's message that the receiving side could not take yet, with its size
/// (counted once, when received). Nothing more is read from the sending side meanwhile, so
/// HWMs push back.
type Held = Option<(Message, Size)>;

/// A message's frames and bytes, as the statistics count them.
#[derive(Debug, Clone, Copy)]
struct Size {
    frames: u64,
    bytes: u64,
}

impl Size {
    fn of(m: &Message) -> Size {
        Size {
            frames: m.len() as u64,
            bytes: m.byte_len() as u64,
        }
    }
}

/// While forwarding keeps the proxy busy, the stop descriptor is looked at once per this
/// many rounds (otherwise only when the proxy waits).
const STOP_CHECK_ROUNDS: u32 = 64;

impl<'a> Proxy<'a> {
    /// A proxy from `frontend` to `backend` and back.
    pub fn new(frontend: &'a mut Socket, backend: &'a mut Socket) -> Proxy<'a> {
        Proxy {
            frontend,
            backend,
            capture: None,
            control: None,
            tap: None,
            stop: None,
        }
    }

    /// Sends a copy of every message, both ways, to `capture` (frames copied by reference,
    /// not byte by byte). A capture socket that cannot take a message (a PUSH with no
    /// peer, at SNDHWM) holds the proxy up, as in libzmq: a PUB never does.
    pub fn capture(mut self, capture: &'a mut Socket) -> Proxy<'a> {
        self.capture = Some(capture);
        self
    }

    /// Takes commands from `control`, as `zmq_proxy_steerable` does: `PAUSE` (stop
    /// forwarding; messages wait in the sockets), `RESUME`, `TERMINATE` (return), and
    /// `STATISTICS` (reply with eight frames of 8-byte native-endian counters, see
    /// [`Statistics::to_array`]). A REP control socket gets an empty reply to every other
    /// command; an unknown command is ignored (libzmq 4.3 aborts the process).
    pub fn control(mut self, control: &'a mut Socket) -> Proxy<'a> {
        self.control = Some(control);
        self
    }

    /// Calls `tap` with every message forwarded, and which way it went, before it is
    /// sent on.
    pub fn tap(mut self, tap: impl FnMut(Direction, &Message) + 'a) -> Proxy<'a> {
        self.tap = Some(Box::new(tap));
        self
    }

    /// Returns from [`Proxy::run`] once `fd` is readable (a signalfd for SIGINT, an
    /// eventfd, the read end of a pipe): the proxy does not read it.
    pub fn stop_on(mut self, fd: BorrowedFd<'a>) -> Proxy<'a> {
        self.stop = Some(fd);
        self
    }

    /// Forwards until TERMINATE comes on the control socket or the stop descriptor is
    /// readable (then `Ok` with the counters), or a socket fails (its error).
    pub fn run(mut self) -> Result<Statistics> {
        let (front, back) = (self.frontend.socket_type(), self.backend.socket_type());
        check_pair(front, back)?;
        // A one-way pair (PULL to PUSH) forwards only one way.
        let forwards = receives(front) && sends(back);
        let returns = receives(back) && sends(front);
        let mut stats = Statistics::default();
        let mut state = State::Active;
        let (mut forth, mut back): (Held, Held) = (None, None);
        let mut busy_rounds = 0u32;
        loop {
            let mut busy = false;
            if state == State::Active {
                if forwards {
                    busy |= self.forward(Direction::FrontToBack, &mut forth, &mut stats)?;
                }
                if returns {
                    busy |= self.forward(Direction::BackToFront, &mut back, &mut stats)?;
                }
            }
            if let Some(control) = self.control.as_deref_mut() {
                busy |= steer(control, &mut state, &stats)?;
                if state == State::Terminated {
                    return Ok(stats);
                }
            }
            if busy {
                busy_rounds = busy_rounds.wrapping_add(1);
                if busy_rounds % STOP_CHECK_ROUNDS == 0 && self.stop_requested()? {
                    return Ok(stats);
                }
            } else if self.wait(state, [forwards, returns], &forth, &back)? {
                return Ok(stats);
            }
        }
    }

    /// Forwards a burst one way. Returns whether anything moved.
    fn forward(&mut self, dir: Direction, held: &mut Held, stats: &mut Statistics) -> Result<bool> {
        let (from, to, from_stats, to_stats) = match dir {
            Direction::FrontToBack => (
                &mut *self.frontend,
                &mut *self.backend,
                &mut stats.frontend,
                &mut stats.backend,
            ),
            Direction::BackToFront => (
                &mut *self.backend,
                &mut *self.frontend,
                &mut stats.backend,
                &mut stats.frontend,
            ),
        };
        let mut moved = false;
        for _ in 0..BURST {
            let (mut msg, size) = match held.take() {
                Some(h) => h,
                None => match from.recv_msg(Flags::DONTWAIT) {
                    Ok(m) => {
                        let size = Size::of(&m);
                        from_stats.recv_frames += size.frames;
                        from_stats.recv_bytes += size.bytes;
                        if let Some(tap) = self.tap.as_mut() {
                            tap(dir, &m);
                        }
                        if let Some(capture) = self.capture.as_deref_mut() {
                            capture.send_msg(m.clone(), Flags::NONE)?;
                        }
                        (m, size)
                    }
                    Err(e) if e.kind() == ErrorKind::Again => break,
                    Err(e) => return Err(e),
                },
            };
            match to.send_whole(&mut msg, Flags::DONTWAIT) {
                Ok(()) => {
                    to_stats.sent_frames += size.frames;
                    to_stats.sent_bytes += size.bytes;
                    moved = true;
                }
                Err(e) if e.kind() == ErrorKind::Again => {
                    *held = Some((msg, size));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Ok(moved)
    }

    /// Sleeps until a socket may have something for the proxy to do. `true`: the stop
    /// descriptor is readable.
    fn wait(&mut self, state: State, ways: [bool; 2], forth: &Held, back: &Held) -> Result<bool> {
        let active = state == State::Active;
        // What each side waits for: input to forward unless a message waits to go the
        // same way; room for a waiting message.
        let want = |reads: bool, held_here: bool, held_for_here: bool| {
            let mut e = Events::NONE;
            if active && reads && !held_here {
                e = e | Events::POLLIN;
            }
            if active && held_for_here {
                e = e | Events::POLLOUT;
            }
            e
        };
        let front_wants = want(ways[0], forth.is_some(), back.is_some());
        let back_wants = want(ways[1], back.is_some(), forth.is_some());
        let mut ready = !(self.frontend.events() & front_wants).is_empty();
        ready |= !(self.backend.events() & back_wants).is_empty();
        if let Some(control) = self.control.as_deref() {
            ready |= control.events().contains(Events::POLLIN);
        }
        if ready {
            return Ok(false);
        }
        // What changed since those looks woke nobody: look again, each socket under the
        // lock that has it wake this thread's waker until the claims are dropped (as
        // `poll` does: sockets the proxy keeps busy signal nothing per message).
        let waker = thread_waker()?;
        let (events, front) = self.frontend.events_claiming(&waker);
        ready |= !(events & front_wants).is_empty();
        let (events, back) = self.backend.events_claiming(&waker);
        ready |= !(events & back_wants).is_empty();
        let control = self.control.as_deref().map(|c| c.events_claiming(&waker));
        ready |= control
            .as_ref()
            .is_some_and(|(events, _)| events.contains(Events::POLLIN));
        if !ready {
            waker.wait(self.stop, None)?;
        }
        // The claims end before the next looks (those see every change made before),
        // then the waker forgets its wakes: a change after the reset wakes it again.
        drop((front, back, control));
        waker.reset();
        self.stop_requested()
    }

    /// Whether the stop descriptor is readable (never, without one).
    fn stop_requested(&self) -> Result<bool> {
        match self.stop {
            Some(fd) => Ok(ipc_transport::wait_readable([fd.as_fd()], Some(Duration::ZERO))? > 0),
            None => Ok(false),
        }
    }
}

/// Whether sockets of type `t` receive messages.
fn receives(t: SocketType) -> bool {
    !matches!(t, SocketType::Pub | SocketType::Push)
}

/// Whether sockets of type `t` send messages.
fn sends(t: SocketType) -> bool {
    !matches!(t, SocketType::Sub | SocketType::Pull)
}

/// Refuses pairs where nothing can move: neither side receives, or one side receives what
/// the other cannot send (a ROUTER frontend with a PULL backend). One-way pairs (PULL to
/// PUSH, SUB to PUB) are fine.
fn check_pair(front: SocketType, back: SocketType) -> Result<()> {
    if !receives(front) && !receives(back) {
        return Err(Error::invalid(format!(
            "a proxy between {front} and {back}: neither side receives anything to forward"
        )));
    }
    for (t, other) in [(front, back), (back, front)] {
        if receives(t) && !sends(other) {
            return Err(Error::invalid(format!(
                "a proxy from {t} to {other}: {other} sockets cannot send what {t} receives"
            )));
        }
    }
    Ok(())
}

/// Handles the control socket's commands, if any. Returns whether one came.
fn steer(control: &mut Socket, state: &mut State, stats: &Statistics) -> Result<bool> {
    let mut any = false;
    loop {
        let cmd = match control.recv_msg(Flags::DONTWAIT) {
            Ok(m) => m,
            Err(e) if e.kind() == ErrorKind::Again => return Ok(any),
            Err(e) => return Err(e),
        };
        any = true;
        let cmd: &[u8] = cmd.iter().next().map_or(&[], |f| f);
        match cmd {
            b"PAUSE" => *state = State::Paused,
            b"RESUME" => *state = State::Active,
            b"TERMINATE" => *state = State::Terminated,
            b"STATISTICS" => {
                let values = stats.to_array();
                let reply: Message = values
                    .iter()
                    .map(|v| bytes::Bytes::copy_from_slice(&v.to_ne_bytes()))
                    .collect();
                control.send_msg(reply, Flags::NONE)?;
                continue;
            }
            _ => {}
        }
        if control.socket_type() == SocketType::Rep {
            // A REP must answer before it can receive the next command.
            control.send(bytes::Bytes::new(), Flags::NONE)?;
        }
        if *state == State::Terminated {
            return Ok(true);
        }
    }
}

/// `zmq_proxy`: forwards between `frontend` and `backend` (and copies every message to
/// `capture`) until a socket fails, as when another thread shuts the context down
/// ([`crate::Context::shutdown`]: the proxy then returns ETERM, as libzmq's does). See
/// [`Proxy`] for a proxy that stops on a descriptor and returns its statistics.
pub fn proxy(
    frontend: &mut Socket,
    backend: &mut Socket,
    capture: Option<&mut Socket>,
) -> Result<Statistics> {
    Proxy {
        capture,
        ..Proxy::new(frontend, backend)
    }
    .run()
}

/// `zmq_proxy_steerable`: [`proxy`] that takes PAUSE, RESUME, TERMINATE and STATISTICS
/// on `control` (see [`Proxy::control`]). Returns the counters after TERMINATE.
pub fn proxy_steerable(
    frontend: &mut Socket,
    backend: &mut Socket,
    capture: Option<&mut Socket>,
    control: &mut Socket,
) -> Result<Statistics> {
    Proxy {
        capture,
        ..Proxy::new(frontend, backend).control(control)
    }
    .run()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_that_cannot_forward_are_refused() {
        use SocketType::*;
        for (f, b) in [
            (Router, Dealer),
            (XSub, XPub),
            (XPub, XSub),
            (Pull, Push),
            (Push, Pull),
            (Pair, Pair),
            (Sub, Pub),
            (Router, Router),
        ] {
            assert!(check_pair(f, b).is_ok(), "{f}/{b}");
        }
        for (f, b) in [(Router, Pull), (Sub, Sub), (Pub, Push), (Pull, Sub)] {
            let e = check_pair(f, b).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::Invalid, "{f}/{b}");
        }
    }
}
