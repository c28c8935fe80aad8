//! Async [`zsock`] sockets for tokio: ZeroMQ over `ipc://`, `tcp://` and `inproc://` in
//! pure Rust, wire-compatible with libzmq 4.3.
//!
//! An [`AsyncSocket`] owns a [`zsock::Socket`] and gives it `async` sends and receives, a
//! [`Stream`] of received messages and a [`Sink`] of messages to send. It works on the
//! current-thread and the multi-thread runtime, needs no `unsafe` from you, and costs no CPU
//! while it waits: a waiting task sleeps in tokio's reactor on the socket's wait descriptor
//! ([`zsock::Socket::wait_fd`]), which the socket's connections join for the wait, so a
//! prompt reply wakes the task straight from the kernel, as it wakes a blocking caller (one
//! that comes milliseconds later, through the socket's I/O thread); the descriptor stays
//! registered for exactly as long as the `AsyncSocket` lives. On a machine with more than
//! one CPU a receive that finds nothing first tries again for a few microseconds, yielding
//! to the runtime between tries (its other tasks run meanwhile), as the blocking API
//! polls before it sleeps: an answer that comes that soon costs no wake-up.
//!
//! One task owns an `AsyncSocket` (its methods take `&mut self`). To send and receive on
//! one socket at the same time from two tasks, split it (`futures::StreamExt::split`, as
//! it is both a [`Stream`] and a [`Sink`]): a send waiting for room and a receive waiting
//! for a message are each woken by what they wait for. Several sockets in one task:
//! `tokio::select!` over their futures (they are cancel safe), as
//! `examples/router_broker.rs` does. A `SinkExt` call that takes no message (`close`,
//! `flush`) needs the item type named, `SinkExt::<Message>::close(&mut sink)`, as the
//! socket is a `Sink` of anything that converts into a message.
//!
//! The last handle of a [`zsock::Context`] (its last clone, or a socket that outlived
//! them all) waits, as in libzmq, until every closed socket's queued messages are sent
//! (LINGER, infinite by default): in async code that blocks the runtime's thread while a
//! peer is away. Set [`zsock::SocketOption::Linger`] on sockets that may hold messages for
//! absent peers, or drop the context in `spawn_blocking`.
//!
//! ```
//! use zsock::{Context, SocketType};
//! use zsock_tokio::AsyncSocket;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> zsock::Result<()> {
//! let ctx = Context::new();
//! let mut rep = AsyncSocket::new(ctx.socket(SocketType::Rep)?)?;
//! let endpoint = rep.get_ref().bind("ipc://*")?;
//! let mut req = AsyncSocket::new(ctx.socket(SocketType::Req)?)?;
//! req.get_ref().connect(&endpoint)?;
//!
//! req.send("ping").await?;
//! assert_eq!(rep.recv().await?, "ping");
//! rep.send("pong").await?;
//! assert_eq!(req.recv().await?, "pong");
//! # Ok(())
//! # }
//! ```
//!
//! # Timeouts
//!
//! RCVTIMEO and SNDTIMEO ([`zsock::SocketOption::RcvTimeo`], `SndTimeo`) bound the async
//! receives and sends as they bound blocking ones (and as pyzmq's asyncio sockets apply
//! them): after that many milliseconds the operation ends with EAGAIN
//! ([`zsock::ErrorKind::Again`]) and the socket is as it was; 0 tries once; -1, the
//! default, waits without end. A bound uses tokio's timer, so the runtime needs its time
//! driver (`#[tokio::main]` and `Builder::enable_all` turn it on). The [`Stream`] and the
//! [`Sink`] are not bounded: wrap them in `tokio::time::timeout` where needed.
//!
//! An application's own `Cargo.toml` needs tokio with a runtime and, for
//! `#[tokio::main]`, its macros: `tokio = { version = "1", features = ["rt-multi-thread",
//! "macros"] }` (`rt` for the current-thread runtime alone).
//!
//! # Cancellation
//!
//! Every future here is cancel safe: dropping it (a losing `tokio::select!` branch, a
//! timeout) loses nothing. A receive takes a message only in the poll that completes it, so
//! a receive dropped before then leaves every message in the socket for the next one. A
//! send hands the socket a whole message in one step, so a send dropped before it completed
//! sent none of its message; once it completed, all of it. The [`Sink`] is the exception
//! every `Sink` has: a message it accepted (`start_send`) and could not hand over yet is
//! sent before anything else the socket sends (by `poll_ready`, `poll_flush`,
//! `poll_close`, or the next async send), and dropped if the `AsyncSocket` is dropped
//! first: flush or close the sink before dropping it.
//!
//! # Readiness, done once here
//!
//! ZeroMQ's notify descriptor (ZMQ_FD) tells that the socket's readiness *may* have
//! changed, not that a message waits, and an event loop that waits on it again while
//! messages remain queued waits forever: the trap pyzmq's asyncio integration long fell
//! into. This crate does it the safe way: an operation is always tried first; only when the
//! socket says EAGAIN does the task wait, and once woken it clears tokio's readiness,
//! empties the descriptor and tries again, so a message that arrived at any moment before
//! is seen, and any change after makes the descriptor readable anew. Messages that arrived
//! while no task was polling are all received.

#![deny(unsafe_code)]

use std::future::poll_fn;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{ready, Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use zsock::{ErrorKind, Event, Events, Flags, Message, Payload, Result, Sendable, Socket};

/// What tokio's reactor watches for a socket: a descriptor of its own for the socket's
/// wait descriptor (a duplicate, so that it stays open for as long as it is registered,
/// whatever happens to the socket), beside the socket.
struct Watched {
    socket: Socket,
    fd: OwnedFd,
}

impl AsRawFd for Watched {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// Registers `inner`'s descriptor with the current runtime's reactor for readability.
///
/// (The crate's one `unsafe`: tokio's registration of a descriptor asks its caller to
/// promise that the descriptor stays open and the same while registered. Both callers
/// pass a value whose `as_raw_fd` is an `OwnedFd` field of its own, private to this crate
/// and never replaced, which the `AsyncFd` owns until it deregisters it.)
#[allow(unsafe_code)]
fn register<T: AsRawFd>(inner: T) -> Result<AsyncFd<T>> {
    // SAFETY: see above: the descriptor is owned by `inner`, which the `AsyncFd` owns.
    let io = unsafe { AsyncFd::register_with_interest(inner, Interest::READABLE) };
    Ok(io.map_err(std::io::Error::from)?)
}

/// `op` bounded by its socket's RCVTIMEO or SNDTIMEO (`timeo_ms`, -1: no bound), as a
/// blocking call is: once that much time has passed it ends with EAGAIN, the operation
/// dropped (they are cancel safe, so nothing was taken or half sent). 0 tries once.
async fn within<T>(
    timeo_ms: i32,
    kind: Op,
    op: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    let Ok(ms) = u64::try_from(timeo_ms) else {
        return op.await;
    };
    match tokio::time::timeout(std::time::Duration::from_millis(ms), op).await {
        Ok(done) => done,
        Err(_) => Err(zsock::Error::new(
            ErrorKind::Again,
            match kind {
                Op::Recv => "no message came within RCVTIMEO",
                Op::Send => "the socket could not take the message within SNDTIMEO",
            },
        )),
    }
}

/// A [`zsock::Socket`] for tokio: `async` send and receive, a [`Stream`] of received
/// messages, a [`Sink`] of messages to send.
///
/// Options, bind, connect and the like are the socket's own: reach it with
/// [`AsyncSocket::get_ref`] and [`AsyncSocket::get_mut`]. Do not call the socket's blocking
/// `send`/`recv` through them (they would block the runtime's thread); with
/// [`Flags::DONTWAIT`] they are fine.
pub struct AsyncSocket {
    io: AsyncFd<Watched>,
    /// The [`Sink`]'s message not yet taken by the socket.
    pending: Option<Message>,
    /// The kinds of operation whose wait began (`Socket::prepare_wait` said the socket is
    /// not ready for them) and that no readiness has ended yet: any change that makes one
    /// possible makes the wait descriptor readable. A send and a receive may wait at once
    /// (the two halves of a `split`).
    waiting: [bool; 2],
    /// The tasks of the operations that wait, woken together when the descriptor is
    /// readable (tokio keeps one waker per descriptor: a send's and a receive's must not
    /// replace each other), and `fan`, the one waker tokio keeps, which wakes them.
    wakers: Arc<Wakers>,
    fan: Waker,
    /// A send completed since the last receive.
    sent: bool,
    /// A receive that found nothing polls again until then before it waits; `None` when
    /// it is not spinning.
    spin_until: Option<Instant>,
    /// How long receives spin ([`Socket::reply_spin`]): an answer often comes within
    /// microseconds, and a task that slept for it pays the wake-up of an idle CPU and makes
    /// the sender pay for waking it. Between tries the task yields to the runtime, which
    /// runs its other tasks, so the spin holds no thread. `None` (one CPU): never.
    spin: Option<Duration>,
    /// Spins in a row that ended without a message (see [`SPIN_MISSES`]).
    spin_misses: u8,
    /// When the receive that sleeps now began to sleep.
    slept_at: Option<Instant>,
}

/// After this many spins in a row that found nothing, receives sleep at once, until one
/// is answered within a spin's time of when it began to sleep: a socket that gets a
/// message every millisecond does not pay a spin per message.
const SPIN_MISSES: u8 = 2;

/// How many times in one poll an operation is tried again because the socket said it is
/// ready, before the task yields to the runtime.
const MAX_RETRIES: u32 = 16;

/// What an operation does, for how it waits.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Send,
    Recv,
}

/// The wakers of a waiting send and a waiting receive (see [`AsyncSocket::wakers`]).
#[derive(Default)]
struct Wakers {
    slots: Mutex<[Option<Waker>; 2]>,
}

impl Wakers {
    fn slots(&self) -> std::sync::MutexGuard<'_, [Option<Waker>; 2]> {
        self.slots.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `kind`'s task is `waker` from now on.
    fn set(&self, kind: Op, waker: &Waker) {
        let mut slots = self.slots();
        let slot = &mut slots[kind.at()];
        if !slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = Some(waker.clone());
        }
    }

    /// `kind`'s task waits no more.
    fn forget(&self, kind: Op) {
        self.slots()[kind.at()] = None;
    }

    /// Wakes `kind`'s task, if one waits.
    fn wake_one(&self, kind: Op) {
        let waker = self.slots()[kind.at()].take();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Wake for Wakers {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        let taken = std::mem::take(&mut *self.slots());
        for w in taken.into_iter().flatten() {
            w.wake();
        }
    }
}

impl Op {
    /// Its index in [`AsyncSocket::waiting`] and [`Wakers`]' slots.
    fn at(self) -> usize {
        self as usize
    }

    /// The other kind.
    fn other(self) -> Op {
        match self {
            Op::Send => Op::Recv,
            Op::Recv => Op::Send,
        }
    }

    /// The readiness it waits for.
    fn events(self) -> Events {
        match self {
            Op::Send => Events::POLLOUT,
            Op::Recv => Events::POLLIN,
        }
    }
}

impl AsyncSocket {
    /// Wraps `socket`.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime, or in one without its I/O driver (`#[tokio::main]` and
    /// `Runtime::new` enable it; a `Builder` needs `enable_io`), as tokio's registration
    /// does.
    pub fn new(socket: Socket) -> Result<AsyncSocket> {
        let fd = socket.wait_fd()?.try_clone_to_owned()?;
        let spin = socket.reply_spin();
        let io = register(Watched { socket, fd })?;
        let wakers = Arc::new(Wakers::default());
        Ok(AsyncSocket {
            io,
            pending: None,
            waiting: [false; 2],
            fan: Waker::from(wakers.clone()),
            wakers,
            sent: false,
            spin_until: None,
            spin,
            spin_misses: 0,
            slept_at: None,
        })
    }

    /// The socket, for options, `bind`, `connect`, `monitor`, `peer` and the like.
    pub fn get_ref(&self) -> &Socket {
        &self.io.get_ref().socket
    }

    /// The socket, mutably (for [`Socket::set`]).
    pub fn get_mut(&mut self) -> &mut Socket {
        // (What is done with it may change the socket's readiness without a wake-up:
        // the next operation tries first.)
        self.waiting = [false; 2];
        &mut self.io.get_mut().socket
    }

    /// The socket back, for blocking use. A message given to the [`Sink`] and not yet
    /// flushed is dropped.
    pub fn into_inner(self) -> Socket {
        self.io.into_inner().socket
    }

    /// An async reader of the socket's monitor events (see [`zsock::Socket::monitor`]).
    pub fn monitor(&self) -> Result<AsyncMonitor> {
        AsyncMonitor::new(self.get_ref().monitor())
    }

    /// Sends a one-frame message, waiting while the socket cannot take it (at its HWM, or
    /// with no peer to send to). Borrowed bytes are copied, owned ones handed over, as for
    /// [`Socket::send`]; a large borrowed body (over `ipc_transport::COPY_MAX`) for a PAIR,
    /// PUSH or DEALER peer whose connection is still writing earlier output also waits, and
    /// then goes from `frame` straight to the kernel instead of through a copy in the
    /// queue ([`Socket::send_copy_deferring`]). Cancel safe: sent whole, or not at all.
    pub async fn send<'a>(&mut self, frame: impl Sendable<'a>) -> Result<()> {
        match frame.into_payload() {
            Payload::Borrowed(b) => {
                if let Some(done) = self.send_now(|s| s.send_copy_deferring(b)) {
                    return done;
                }
                self.op_within(Op::Send, |s| s.send_copy_deferring(b)).await
            }
            Payload::Owned(b) => self.send_msg(b).await,
        }
    }

    /// Sends a multipart message, one frame per item, waiting while the socket cannot
    /// take it. Cancel safe: either every frame was sent or none.
    pub async fn send_multipart<'a, I>(&mut self, frames: I) -> Result<()>
    where
        I: IntoIterator,
        I::Item: Sendable<'a>,
    {
        let msg = zsock::multipart(frames)?;
        self.send_msg(msg).await
    }

    /// Sends a whole message (its frames are handed over, not copied), waiting while the
    /// socket cannot take it. Cancel safe: sent whole, or not at all.
    pub async fn send_msg(&mut self, msg: impl Into<Message>) -> Result<()> {
        let mut msg = msg.into();
        if let Some(done) = self.send_now(|s| s.send_msg_ref(&mut msg, Flags::DONTWAIT)) {
            return done;
        }
        self.op_within(Op::Send, |s| s.send_msg_ref(&mut msg, Flags::DONTWAIT))
            .await
    }

    /// [`AsyncSocket::poll_op`] until done, within RCVTIMEO or SNDTIMEO (see [`within`]).
    async fn op_within<T>(
        &mut self,
        kind: Op,
        mut op: impl FnMut(&mut Socket) -> Result<T>,
    ) -> Result<T> {
        let timeo = match kind {
            Op::Recv => self.get_ref().rcvtimeo(),
            Op::Send => self.get_ref().sndtimeo(),
        };
        within(timeo, kind, poll_fn(|cx| self.poll_op(cx, kind, &mut op))).await
    }

    /// A send's common case, before any poll: nothing of the `Sink` waits to go first and
    /// no wait began, and the socket takes the message now. `None`: the send goes on in
    /// [`AsyncSocket::poll_op`]; after an EAGAIN (the message kept) the wait is prepared
    /// here, as `poll_op` prepares it after its own try, so that it does not try again
    /// before waiting.
    #[inline(always)]
    fn send_now(&mut self, send: impl FnOnce(&mut Socket) -> Result<()>) -> Option<Result<()>> {
        if self.pending.is_some() || self.waiting[Op::Send.at()] {
            return None;
        }
        let socket = &mut self.io.get_mut().socket;
        match send(socket) {
            Ok(()) => {
                self.sent = true;
                Some(Ok(()))
            }
            Err(e) if e.kind() == ErrorKind::Again => {
                if !socket.prepare_wait(Op::Send.events()) {
                    self.waiting[Op::Send.at()] = true;
                }
                None
            }
            Err(e) => Some(Err(e)),
        }
    }

    /// Receives one frame, waiting until one comes; [`Socket::rcvmore`] says whether more
    /// frames of the same message follow (they are there already: a message arrives
    /// whole). Cancel safe.
    pub async fn recv(&mut self) -> Result<Bytes> {
        // A message taken ahead by an earlier receive: no wait, no lock.
        if let Some(f) = self.io.get_mut().socket.recv_taken_ahead() {
            self.sent = false;
            return Ok(f);
        }
        self.op_within(Op::Recv, |s| s.recv(Flags::DONTWAIT)).await
    }

    /// Receives a whole message as its frames. Cancel safe.
    pub async fn recv_multipart(&mut self) -> Result<Vec<Bytes>> {
        self.op_within(Op::Recv, |s| s.recv_multipart(Flags::DONTWAIT))
            .await
    }

    /// Receives a whole message. Cancel safe.
    pub async fn recv_msg(&mut self) -> Result<Message> {
        let timeo = self.get_ref().rcvtimeo();
        within(timeo, Op::Recv, poll_fn(|cx| self.poll_recv_msg(cx))).await
    }

    /// Receives one frame as UTF-8 text (a frame that is not is EINVAL, and
    /// [`zsock::Error::into_frame`] gives it back). Cancel safe.
    pub async fn recv_string(&mut self) -> Result<String> {
        self.op_within(Op::Recv, |s| s.recv_string(Flags::DONTWAIT))
            .await
    }

    /// Polls for a whole message: what [`AsyncSocket::recv_msg`] and the [`Stream`] use.
    pub fn poll_recv_msg(&mut self, cx: &mut Context<'_>) -> Poll<Result<Message>> {
        if let Some(m) = self.io.get_mut().socket.recv_msg_taken_ahead() {
            self.sent = false;
            return Poll::Ready(Ok(m));
        }
        self.poll_op(cx, Op::Recv, |s| s.recv_msg(Flags::DONTWAIT))
    }

    /// Tries `op` (a non-blocking operation) until it does not say EAGAIN, waiting in
    /// between for the socket's readiness to change.
    ///
    /// The wait: `prepare_wait` lends the socket's connections to this task's wait
    /// descriptor and says whether the socket is ready for `kind` already; if not, every
    /// change from then on (input on a lent connection, anything the I/O thread does)
    /// makes the descriptor readable, a new edge for tokio. Once tokio reports it, its
    /// readiness is cleared and `finish_wait` takes in what came (reads the lent
    /// connections, empties the notify descriptor), and `op` is tried again. A receive
    /// first spins (tries again after yielding to the runtime, for the socket's
    /// `reply_spin`) or, on one CPU, yields the CPU once: `prepare_spin` keeps the
    /// connections out of the wait set meanwhile, so that an answer wakes no runtime
    /// thread; `prepare_wait` lends them when the spin or the yield ends without one.
    fn poll_op<T>(
        &mut self,
        cx: &mut Context<'_>,
        kind: Op,
        mut op: impl FnMut(&mut Socket) -> Result<T>,
    ) -> Poll<Result<T>> {
        if kind == Op::Send && self.pending.is_some() {
            // The Sink's message goes first: sends leave in the order they were made.
            ready!(self.poll_pending(cx))?;
        }
        if kind == Op::Recv
            && std::mem::take(&mut self.sent)
            && !self.waiting[Op::Recv.at()]
            && self.spin_now().is_none()
        {
            // A receive right after a send waits for an answer, as a blocking receive
            // does: it lends its connections and waits (unless the socket holds input
            // already) rather than read first, which would mostly find nothing yet. On one
            // CPU it first yields the CPU to the answer's sender once (unless yields have
            // been bringing nothing), as a blocking receive does too, with the connections
            // out of the wait set meanwhile (an answer during the yield then wakes no
            // runtime thread, which would compete for the CPU); they join it only for the
            // wait.
            let socket = &self.io.get_ref().socket;
            if !socket.yield_for_input(kind.events()) && !socket.prepare_wait(kind.events()) {
                self.sleep(kind);
            }
        }
        let mut retries = 0;
        loop {
            if self.waiting[kind.at()] {
                self.wakers.set(kind, cx.waker());
                let mut fan = Context::from_waker(&self.fan);
                let mut guard = ready!(self.io.poll_read_ready_mut(&mut fan))?;
                // (Not waiting any more: a later readiness need not wake this task.)
                self.wakers.forget(kind);
                guard.clear_ready();
                guard.get_inner().socket.finish_wait();
                // The other kind's wait ended with this one: its task tries again.
                if std::mem::take(&mut self.waiting[kind.other().at()]) {
                    self.wakers.wake_one(kind.other());
                }
                self.waiting[kind.at()] = false;
            }
            let spin_now = self.spin_now().filter(|_| kind == Op::Recv);
            let socket = &mut self.io.get_mut().socket;
            match op(socket) {
                Err(e) if e.kind() == ErrorKind::Again => {}
                done => {
                    if kind == Op::Send && done.is_ok() {
                        self.sent = true;
                    }
                    if let Some(spin) = self.spin.filter(|_| kind == Op::Recv) {
                        // Answered while spinning, or soon enough after sleeping that a
                        // spin would have caught it: spin again next time.
                        let soon = self.slept_at.take().is_some_and(|t| t.elapsed() < spin);
                        if self.spin_until.take().is_some() || soon {
                            self.spin_misses = 0;
                        }
                    }
                    return Poll::Ready(done);
                }
            }
            if let Some(spin) = spin_now {
                let now = Instant::now();
                match self.spin_until {
                    None => {
                        // The spin begins as a wait does: queued output written, the
                        // connections taken from the I/O thread (the tries read them; not
                        // in the wait set yet, so their input wakes nobody), unless
                        // something the receive may need happened meanwhile.
                        if socket.prepare_spin(kind.events()) {
                            // (Ready, yet the operation failed: counted as below.)
                            retries += 1;
                            if retries == MAX_RETRIES {
                                cx.waker().wake_by_ref();
                                return Poll::Pending;
                            }
                            continue;
                        }
                        self.spin_until = Some(now + spin);
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    Some(until) if now < until => {
                        cx.waker().wake_by_ref();
                        return Poll::Pending;
                    }
                    // Spun long enough (or a dropped receive's spin): wait.
                    Some(_) => {
                        self.spin_until = None;
                        self.spin_misses = self.spin_misses.saturating_add(1);
                    }
                }
            }
            if !socket.prepare_wait(kind.events()) {
                self.sleep(kind);
            } else {
                // The socket says it is ready, yet the operation failed: try again, but
                // never hold the runtime's thread for long (a yield lets other tasks run).
                retries += 1;
                if retries == MAX_RETRIES {
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
            }
        }
    }

    /// The operation's wait was prepared: it waits for the wait descriptor from now on (a
    /// receive notes when, for [`SPIN_MISSES`]).
    fn sleep(&mut self, kind: Op) {
        self.waiting[kind.at()] = true;
        if kind == Op::Recv && self.spin.is_some() && self.slept_at.is_none() {
            self.slept_at = Some(Instant::now());
        }
    }

    /// How long a receive that finds nothing spins now: `None` on one CPU, or after
    /// [`SPIN_MISSES`] spins in a row found nothing.
    fn spin_now(&self) -> Option<Duration> {
        self.spin.filter(|_| self.spin_misses < SPIN_MISSES)
    }

    /// Sends the [`Sink`]'s pending message, if any.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<Result<()>> {
        let Some(mut msg) = self.pending.take() else {
            return Poll::Ready(Ok(()));
        };
        let r = self.poll_op(cx, Op::Send, |s| s.send_msg_ref(&mut msg, Flags::DONTWAIT));
        if r.is_pending() {
            self.pending = Some(msg);
        }
        r
    }
}

impl std::fmt::Debug for AsyncSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncSocket")
            .field("socket", self.get_ref())
            .field("pending", &self.pending.is_some())
            .finish()
    }
}

/// Received messages, whole. The stream does not end by itself (a socket always may
/// receive more); an error (a socket type that cannot receive: ENOTSUP) is an item.
impl Stream for AsyncSocket {
    type Item = Result<Message>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv_msg(cx).map(Some)
    }
}

/// Messages to send, whole. `start_send` hands the message to the socket at once when it
/// can take it; otherwise it is sent by the next `poll_ready`, `poll_flush` or
/// `poll_close`. A message the socket took is on its way: ZeroMQ's queues and I/O threads
/// deliver it without further calls.
impl<M: Into<Message>> Sink<M> for AsyncSocket {
    type Error = zsock::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().poll_pending(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: M) -> Result<()> {
        let this = self.get_mut();
        if this.pending.is_some() {
            // (The Sink contract: `poll_ready` first, which sends the pending message.)
            return Err(zsock::Error::new(
                ErrorKind::Again,
                "start_send before poll_ready: the previous message is not sent yet",
            ));
        }
        let mut msg = item.into();
        match this.get_mut().send_msg_ref(&mut msg, Flags::DONTWAIT) {
            Err(e) if e.kind() == ErrorKind::Again => {
                this.pending = Some(msg);
                Ok(())
            }
            r => {
                this.sent |= r.is_ok();
                r
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().poll_pending(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        self.get_mut().poll_pending(cx)
    }
}

/// What tokio's reactor watches for a monitor: a duplicate of its descriptor, beside it.
struct WatchedMonitor {
    monitor: zsock::Monitor,
    fd: OwnedFd,
}

impl AsRawFd for WatchedMonitor {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// A socket's monitor events for tokio: [`AsyncMonitor::next`] and a [`Stream`] that ends
/// when the socket has closed and every event was taken.
pub struct AsyncMonitor {
    io: AsyncFd<WatchedMonitor>,
}

impl AsyncMonitor {
    /// Wraps `monitor` (from [`Socket::monitor`]).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime with its I/O driver, as [`AsyncSocket::new`].
    pub fn new(monitor: zsock::Monitor) -> Result<AsyncMonitor> {
        let fd = monitor.fd()?.try_clone_to_owned()?;
        let io = register(WatchedMonitor { monitor, fd })?;
        Ok(AsyncMonitor { io })
    }

    /// The next event, waiting until one comes; `None` once the socket has closed and
    /// every event was taken. Cancel safe.
    pub async fn next(&mut self) -> Option<Event> {
        poll_fn(|cx| self.poll_event(cx)).await
    }

    /// The next event if one is waiting, without waiting.
    pub fn try_next(&self) -> Option<Event> {
        self.io.get_ref().monitor.try_next()
    }

    /// Polls for the next event. (One task waits on a monitor at a time: take another
    /// [`Socket::monitor`] handle for another task; each handle gets every event.)
    pub fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        loop {
            let m = &self.io.get_ref().monitor;
            if let Some(e) = m.try_next() {
                return Poll::Ready(Some(e));
            }
            if m.is_finished() {
                return Poll::Ready(None);
            }
            // The descriptor is readable exactly while events wait; tokio's readiness is
            // forgotten before the next look, which sees any event that came meanwhile.
            match ready!(self.io.poll_read_ready(cx)) {
                Ok(mut guard) => guard.clear_ready(),
                Err(_) => return Poll::Ready(None),
            }
        }
    }
}

impl std::fmt::Debug for AsyncMonitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AsyncMonitor")
    }
}

impl Stream for AsyncMonitor {
    type Item = Event;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Event>> {
        self.get_mut().poll_event(cx)
    }
}
