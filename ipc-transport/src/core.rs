//! Pipes and connections: the state both the I/O thread and the calling thread work on,
//! always under the engine's lock.
//!
//! A *pipe* is what the layer above routes to: a queue of outgoing messages, a queue of
//! received ones, and the peer's identity. A *connection* is a stream in handshake or in
//! traffic. An accepted connection gets its pipe when its handshake completes, and the pipe
//! dies with it. A connector's pipe (IMMEDIATE off) exists from `connect` on and survives
//! reconnects, so messages sent before the peer is up wait in it, as in libzmq.
//!
//! # The hand-off
//!
//! [`Core`] is what a socket's callers and its I/O thread share, always under the
//! engine's lock. Whichever side holds the lock acts, and records here what it leaves
//! to the other (connections to write, `dirty`; to close, `doomed`; to re-time or
//! re-register; waiters to wake), which the engine settles before the lock is let go.
//! Where it matters who acts, the method says so with a [`Side`]; the public methods are
//! the caller's (reached through `Guard::core`). Whenever either side lets go of the
//! lock (the end of an I/O thread's turn, a caller's hand-over), these hold, and debug
//! builds assert them ([`Core::check_invariants`]; 5 where the wait is):
//!
//! 1. an open connection is watched by exactly one poller: the I/O thread's
//!    (`registered`) or a waiting caller's (`parked`: its poll(2), or, `in_wait_set`,
//!    the wait set an event loop's task sleeps on, or, for the length of a spin or a
//!    yield, `Guard::prepare_spin`, the task's own tries);
//! 2. no output is stranded: an active connection with output waiting (in its batch or
//!    its pipe) is on the dirty list (the I/O thread or the caller's next wait writes
//!    it) or waits for room (WRITABLE, or POLLOUT in its caller's poll);
//! 3. a pipe's queue and what the layer above holds stay within RCVHWM, unless the
//!    pipe's connection is paused (not read until they are below it);
//! 4. every pipe with a message queued is on the list of pipes with input;
//! 5. a caller holding the lock blocks only in a blocking send's wait for room, for at
//!    most `PATIENCE_MAX`, and says so (`RoomWait`) so that the I/O thread puts this
//!    socket's turn off instead of waiting behind it; if the I/O thread was already
//!    waiting for the lock, the wait lasts at most `BATCH_PATIENCE`.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Instant;

use bytes::Bytes;
use smallvec::SmallVec;
use zmtp_codec::{FrameHeader, Handshake, Heartbeat, Limits, PeerInfo, SocketType, Subscription};

pub(crate) use crate::connection::CloseReason;
use crate::connection::{Connection, Copied, Inbox, Outgoing, MEDIUM_SEND, SMALL_SEND};
use crate::inproc::Look;

use crate::slab::{Key, Slab};
use crate::transport::{Link, Stream};
use crate::{sys, Message, PeerCred};

/// Identifies a pipe; stale ids (of closed pipes) never reach a newer pipe.
pub type PipeId = Key;

/// A flush encodes messages until this many bytes are pending, then writes. (Loopback TCP
/// costs the sender a fixed share per write, the receiving stack's work included: 1 KiB
/// messages went 4.2-4.6 M/s in 64 KiB writes and 5.3-5.8 M/s in 256 KiB ones; AF_UNIX
/// and the other sizes measured the same either way. An idle connection gives the batch's
/// buffer back, see `IDLE_BATCH_MAX`.)
const BATCH: usize = 256 * 1024;
/// [`BATCH`] for a CURVE connection, counted in plaintext: sealing adds about 35 bytes per
/// frame (a batch of 1-byte messages seals to twelve times its size), and what it seals
/// is a copy held until written, so its batches stay at the size they had before
/// [`BATCH`] grew (the crypto, not the writes, bounds its rate).
const SEALED_BATCH: usize = 64 * 1024;

/// The batch size of a connection: [`SEALED_BATCH`] if its traffic is sealed, else
/// [`BATCH`].
#[inline]
fn batch_of(conn: &crate::connection::Connection) -> usize {
    if conn.is_sealed() {
        SEALED_BATCH
    } else {
        BATCH
    }
}
/// Sends closer together than this (with no wait or receive between) form a streak, which
/// is batched by the I/O thread instead of written one by one.
const STREAK_GAP: std::time::Duration = std::time::Duration::from_micros(200);
/// Most frames in one received message (libzmq has no such cap; no real message nears it).
pub const MAX_MESSAGE_FRAMES: u64 = 1 << 17;

/// What the engine tells the layer above. Delivered to [`Handler::on_notice`] under the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// A pipe can be routed to (a connector's pipe from `connect`, an accepted one after
    /// its handshake).
    Attached(PipeId),
    /// A handshake completed on the pipe; [`Core::peer`] tells who is there. Follows
    /// `Attached` for new pipes, and comes again after each reconnect.
    Connected(PipeId),
    /// The pipe's connection closed; the pipe stays: a connector's (IMMEDIATE off) for the
    /// next connection, an accepted one until its received messages are taken.
    Disconnected(PipeId),
    /// The pipe is gone; its queued messages are dropped.
    Detached(PipeId),
    /// The peer subscribed or cancelled (SUBSCRIBE/CANCEL, or a ZMTP 3.0 `0x01`/`0x00`
    /// message to a PUB or XPUB).
    Subscription(PipeId, Subscription),
}

/// The layer above: routing state that reacts to pipes coming and going and to
/// subscriptions, called on whichever thread holds the lock.
pub trait Handler: Send + 'static {
    /// Handles one notice.
    fn on_notice(&mut self, notice: Notice, core: &mut Core);

    /// How many messages built from peers' commands the layer above holds and has not
    /// handed out (XPUB's subscription messages). They count towards RCVHWM like queued
    /// messages: while they reach it no connection is read, so a peer cannot make them
    /// pile up while the application does not receive. The engine asks after each notice
    /// and whenever a caller lets go of the lock.
    fn held(&self) -> usize {
        0
    }
}

/// The caller's sends since it last waited or received, for the choice to write a
/// message at once: the first send of a streak on an idle connection is written by the
/// calling thread (a request, a reply then crosses no thread); the rest of a streak is
/// batched.
#[derive(Debug, Default)]
struct Streak {
    sends: u32,
    /// When the last send to an idle connection was made ([`sys::monotonic_ns`]); `None`
    /// when that send was the first after a wait or receive.
    last: Option<u64>,
}

impl Streak {
    /// Counts a send to a connection that is `idle` or not; whether it starts a streak
    /// there and goes out at once. The clock is read only for an idle connection: a send
    /// that joins waiting output continues the streak. Nor for the first send after a
    /// wait or receive (a request, a reply), which starts a streak whatever the time: the
    /// send after it, not knowing that time, starts one too, and is timed.
    fn starts(&mut self, idle: bool) -> bool {
        if idle && self.sends == 0 {
            self.last = None;
        } else if idle {
            let now = sys::monotonic_ns();
            if self
                .last
                .is_none_or(|t| now.saturating_sub(t) >= STREAK_GAP.as_nanos() as u64)
            {
                self.sends = 0;
            }
            self.last = Some(now);
        }
        self.sends = self.sends.saturating_add(1);
        idle && self.sends == 1
    }

    /// The caller waited or received: its next send starts a new streak.
    fn end(&mut self) {
        self.sends = 0;
    }
}

/// Which side of the hand-off acts on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// A thread calling the socket, holding the lock. It sees what it reads and the room
    /// it makes itself, so neither wakes waiters.
    Caller,
    /// The I/O thread, or anyone acting for it: what it reads or writes may be what a
    /// waiting caller waits for.
    Io,
}

/// Where a connection came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Accepted(Key),
    Connected(Key),
    /// An inproc pipe: of a connect (`outgoing`) or of a bound name.
    Inproc {
        outgoing: bool,
    },
}

/// What a read or write system call's result means for a connection: the one
/// classification every IO path uses.
pub(crate) enum IoOutcome<T = usize> {
    /// The call did its work (how many bytes moved; a read of 0 is [`IoOutcome::Lost`]
    /// with `Eof`).
    Moved(T),
    /// Interrupted by a signal: try again.
    Retry,
    /// The kernel has no data or no room now.
    WouldBlock,
    /// The connection is lost.
    Lost(CloseReason),
}

impl<T> IoOutcome<T> {
    /// A system call's result (a read's end of file is [`Conn::read`]'s to tell).
    pub(crate) fn of(r: io::Result<T>) -> IoOutcome<T> {
        match r {
            Ok(v) => IoOutcome::Moved(v),
            Err(e) => match e.kind() {
                io::ErrorKind::Interrupted => IoOutcome::Retry,
                io::ErrorKind::WouldBlock => IoOutcome::WouldBlock,
                _ => IoOutcome::Lost(CloseReason::Io(e.raw_os_error().unwrap_or(0))),
            },
        }
    }
}

pub(crate) struct Conn {
    pub(crate) stream: Stream,
    pub(crate) origin: Origin,
    pub(crate) endpoint: String,
    pub(crate) creds: Option<PeerCred>,
    /// The peer's address (tcp).
    pub(crate) addr: Option<SocketAddr>,
    /// The transport is still connecting (a tcp connect in progress): the first readiness
    /// tells whether it worked.
    pub(crate) connecting: bool,
    /// When a connect still in progress is given up (CONNECT_TIMEOUT).
    pub(crate) connect_by: Option<Instant>,
    pub(crate) pipe: Option<PipeId>,
    /// The protocol machine: handshake, decoding, heartbeats, buffers, output.
    pub(crate) zmtp: Connection,
    /// WRITABLE interest is registered (a write hit WouldBlock).
    pub(crate) want_write: bool,
    /// Out of the I/O thread's poll: a caller waited on it, and it stays out for
    /// `PARK_GRACE` after the wait (see `Guard::wait`).
    pub(crate) parked: bool,
    /// In the I/O thread's poll. An open connection is in exactly one poll: this, or
    /// `parked` (see [`Core::check_invariants`]).
    pub(crate) registered: bool,
    /// In the wait set of an event loop's task, with this interest (only while `parked`:
    /// see `Guard::prepare_wait`).
    pub(crate) in_wait_set: Option<crate::sys::EpollInterest>,
    /// Reading stopped at RCVHWM with bytes possibly left in the kernel.
    read_paused: bool,
    /// What is left of this turn's [`JUNK_PER_TURN`].
    junk_left: usize,
    /// Reading stopped at [`JUNK_PER_TURN`], until the I/O thread reads on
    /// (`Core::reread`).
    throttled: bool,
    /// The I/O thread's poll reported the peer's end of file or an error: reads go on to
    /// that end (see [`Core::read_conn`]). Stays set.
    pub(crate) hangup_seen: bool,
    /// The I/O thread held this batch back once already, or looked at the connection while
    /// its batch was empty (it never holds a batch back twice, so what is added to it waits
    /// one hold-back at most). Cleared when the batch is all written.
    pub(crate) corked: bool,
    pub(crate) closing: Option<CloseReason>,
    /// The ZAP handler's id for this connection's question, while it waits for the reply.
    pub(crate) zap_request: Option<u64>,
}

impl Conn {
    pub(crate) fn new(
        link: Link,
        origin: Origin,
        endpoint: String,
        handshake: Handshake,
        now: Instant,
    ) -> Conn {
        Conn {
            stream: link.stream,
            origin,
            endpoint,
            creds: link.peer,
            addr: link.addr,
            connecting: link.connecting.is_some(),
            connect_by: link.connecting.flatten().and_then(|t| now.checked_add(t)),
            pipe: None,
            zmtp: Connection::new(handshake),
            want_write: false,
            registered: false,
            parked: false,
            in_wait_set: None,
            read_paused: false,
            junk_left: JUNK_PER_TURN,
            throttled: false,
            hangup_seen: false,
            corked: false,
            closing: None,
            zap_request: None,
        }
    }

    pub(crate) fn is_active(&self) -> bool {
        self.zmtp.is_active()
    }

    /// Handshaken and not closing: what a waiting caller polls ([`Core::active_conns`]).
    fn is_open(&self) -> bool {
        self.is_active() && self.closing.is_none()
    }

    pub(crate) fn has_output(&self) -> bool {
        self.zmtp.has_output()
    }

    /// A write hit WouldBlock: WRITABLE interest is wanted. Whether that is new (the
    /// registration must change).
    fn wait_for_room(&mut self) -> bool {
        !std::mem::replace(&mut self.want_write, true)
    }

    /// Up, writable, and with nothing of its own waiting to be written.
    fn is_idle(&self) -> bool {
        self.is_active() && !self.want_write && !self.zmtp.has_output()
    }

    /// The one write of a connection: its output, then `extra` (the caller's own
    /// buffers), in one vectored write, classified. `Moved(n)`: `n` bytes of `extra` went
    /// out (what is left of it is the caller's to keep or copy).
    fn write(&mut self, extra: &[&[u8]]) -> IoOutcome<usize> {
        let stream = &self.stream;
        IoOutcome::of(
            self.zmtp
                .write_with(extra, |iov| sys::send_vectored(stream, iov)),
        )
    }

    /// One read into the connection's buffer (`queue`: its pipe's received messages, see
    /// [`Connection::read_with`]), classified: `Moved((bytes, room))`.
    fn read(&mut self, queue: Option<&mut VecDeque<Message>>) -> IoOutcome<(usize, usize)> {
        let stream = &self.stream;
        match self
            .zmtp
            .read_with(queue, |buf| sys::read_into(stream, buf))
        {
            Ok((0, _)) => IoOutcome::Lost(CloseReason::Eof),
            r => IoOutcome::of(r),
        }
    }
}

/// What [`Core::inproc_look`] found, for the engine's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum InprocSeen {
    Nothing,
    /// The peer attached: the pipe is connected.
    Joined,
    /// The peer's type cannot talk to ours (why, in words): the pipe must go.
    Refused(String),
    /// The peer let go: the pipe is retired.
    Left,
}

/// A pipe: the unit the layer above routes to.
#[derive(Debug)]
pub struct Pipe {
    pub(crate) conn: Option<Key>,
    out: VecDeque<Message>,
    inbound: VecDeque<Message>,
    /// What the messages in `inbound` cost ([`Message::queued_cost`], see
    /// [`READ_AHEAD_MAX`]).
    inbound_bytes: usize,
    peer: Option<PeerInfo>,
    creds: Option<PeerCred>,
    /// The peer's address (tcp).
    addr: Option<SocketAddr>,
    endpoint: String,
    pub(crate) origin: Origin,
    /// The connection is gone; the pipe lives on until its received messages are taken.
    draining: bool,
    /// On [`Core`]'s list of pipes with input (see `Core::readable`).
    listed: bool,
    /// What arrives on it is dropped (see [`Core::discard_input`]).
    discard_input: bool,
    /// An inproc pipe's end of its link (its `conn` is always `None`): what it sends is
    /// appended to the link, and `inbound` is the batch taken from it last.
    pub(crate) inproc: Option<crate::inproc::InprocEnd>,
}

/// How many removed pipes' peers [`Core::peer_meta`] still knows: enough for the
/// messages a caller holds from peers that just went, bounded however often peers come and go.
pub const RETIRED_PEERS: usize = 64;

/// What a socket knows of one peer: what it said in its handshake and what the kernel
/// says of it. See [`Core::peer_meta`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerMeta {
    /// The peer's handshake: its socket type, identity and READY properties.
    pub info: PeerInfo,
    /// The peer process's credentials (ipc).
    pub creds: Option<PeerCred>,
    /// The peer's address and port (tcp).
    pub addr: Option<SocketAddr>,
    /// The endpoint of the bind or connect the connection came from.
    pub endpoint: String,
}

impl Pipe {
    /// What is known of its peer, once the handshake completed.
    fn meta(&self) -> Option<PeerMeta> {
        Some(PeerMeta {
            info: self.peer.clone()?,
            creds: self.creds,
            addr: self.addr,
            endpoint: self.endpoint.clone(),
        })
    }

    /// [`Pipe::meta`] of a pipe let go of: moved, not copied.
    fn into_meta(self) -> Option<PeerMeta> {
        Some(PeerMeta {
            info: self.peer?,
            creds: self.creds,
            addr: self.addr,
            endpoint: self.endpoint,
        })
    }

    /// The oldest received message.
    #[inline]
    fn take(&mut self) -> Option<Message> {
        let m = self.inbound.pop_front()?;
        self.inbound_bytes = self.inbound_bytes.saturating_sub(m.queued_cost());
        if self.inproc.is_some() {
            self.inproc_taken(1);
        }
        Some(m)
    }

    /// An inproc pipe's application took `n` messages: they leave the flow's count, at
    /// once if its writer waits for room, else with the next batch.
    fn inproc_taken(&mut self, n: usize) {
        let Some(end) = &mut self.inproc else {
            return;
        };
        end.reader.released += n;
        if end.link.writer_waits(end.side, end.reader.released) {
            self.inproc_sync(false);
        }
    }

    /// An inproc pipe's look at its flow: what was taken is counted, and an empty queue
    /// takes the next batch. With `idle`, a flow found empty is marked idle (the next
    /// write rings): for a reader that is done with the pipe until then. Returns whether
    /// the queue has messages now.
    fn inproc_sync(&mut self, idle: bool) -> bool {
        let Some(end) = &mut self.inproc else {
            return !self.inbound.is_empty();
        };
        let discard = self.discard_input;
        end.link.sync(
            end.side,
            &mut self.inbound,
            &mut self.inbound_bytes,
            &mut end.reader,
            Look {
                discard,
                idle_if_empty: idle,
            },
            None,
        );
        !self.inbound.is_empty()
    }

    /// An inproc pipe whose queue ran empty takes the next batch, when the caller wants
    /// its next message (not as it takes the last one, which it gets at once). While the
    /// batches are small, a reader faster than its writer would take one message per
    /// look, each look contending with the writer for the link: on a machine with more
    /// than one CPU it lets [`INPROC_BATCH_GAP`] pass since its last look first, and the
    /// writer fills a batch meanwhile. A reply after a round trip comes later than that
    /// and waits for nothing. A flow found empty is not marked idle here (its writer
    /// would ring for the next message, and a reader that keeps up would be rung per
    /// catch-up): the caller puts the pipe on the list of unwatched pipes, marked idle
    /// once the socket is about to tell its caller "nothing" or to sleep
    /// ([`Core::inproc_watch`]).
    fn inproc_refill(&mut self, multi_cpu: bool) -> bool {
        let Some(end) = &mut self.inproc else {
            return false;
        };
        if multi_cpu && end.last_batch > 0 && end.last_batch < INPROC_SMALL_BATCH {
            let gap = INPROC_BATCH_GAP.as_nanos() as u64;
            while sys::monotonic_ns().saturating_sub(end.last_look) < gap {
                std::hint::spin_loop();
            }
        }
        self.inproc_sync(false);
        if let Some(end) = &mut self.inproc {
            end.last_batch = self.inbound.len();
            end.last_look = sys::monotonic_ns();
        }
        !self.inbound.is_empty()
    }

    /// An inproc pipe found its flow empty without marking it idle: whether it is new on
    /// the socket's list of such pipes (see [`Core::inproc_watch`]).
    fn unwatch(&mut self) -> bool {
        match &mut self.inproc {
            Some(end) if !self.draining => !std::mem::replace(&mut end.unwatched, true),
            _ => false,
        }
    }

    /// Whether an inproc pipe's flow has messages it has not taken yet (for readiness:
    /// nothing is taken).
    fn inproc_pending(&self) -> bool {
        self.inproc
            .as_ref()
            .is_some_and(|end| end.link.has_input(end.side))
    }

    /// Whether the pipe, with `lent` more messages in the caller's hands, is at RCVHWM
    /// or (under a RCVHWM) holds [`READ_AHEAD_MAX`] bytes: its connection is not read
    /// further.
    #[inline]
    fn at_mark(&self, rcvhwm: usize, lent: usize) -> bool {
        rcvhwm != 0
            && (self.inbound.len().saturating_add(lent) >= rcvhwm
                || self.inbound_bytes >= READ_AHEAD_MAX)
    }

    /// Past the mark (what reading stops short of; a message may take it over).
    #[cfg(debug_assertions)]
    fn over_mark(&self, rcvhwm: usize, lent: usize) -> bool {
        rcvhwm != 0
            && (self.inbound.len().saturating_add(lent) > rcvhwm
                || (self.inbound_bytes > READ_AHEAD_MAX
                    && self.inbound_bytes > READ_AHEAD_MAX.saturating_add(self.largest_inbound())))
    }

    #[cfg(debug_assertions)]
    fn largest_inbound(&self) -> usize {
        self.inbound
            .iter()
            .map(Message::queued_cost)
            .max()
            .unwrap_or(0)
    }

    /// Whether reading a connection stopped at the mark starts again: once its pipe is
    /// down to half of it (libzmq's low-water mark), not at the first message taken, so
    /// a receiver that drains a full queue reads each connection once per half queue
    /// rather than once per message.
    #[inline]
    fn may_resume(&self, rcvhwm: usize, lent: usize) -> bool {
        rcvhwm == 0
            || (self.inbound.len().saturating_add(lent) <= rcvhwm / 2
                && self.inbound_bytes <= READ_AHEAD_MAX / 2)
    }
}

/// What a connection reads and decodes into nothing queued (messages a PUB or a refused
/// peer's pipe drops, commands, subscriptions) before it stops until the I/O thread's
/// next turn after a pause: messages queued stop reading at RCVHWM, but this traffic
/// would not, and a peer that writes it as fast as it is read would hold the I/O thread
/// and the socket's lock for as long as it keeps on. Dropped messages count
/// [`Message::queued_cost`], commands their bytes.
pub const JUNK_PER_TURN: usize = crate::READ_CHUNK;

/// Below this many messages a reader's batch counts as small (see `Pipe::inproc_refill`).
const INPROC_SMALL_BATCH: usize = 16;

/// How long a reader of small batches lets pass between its looks at an inproc flow (see
/// `Pipe::inproc_refill`).
const INPROC_BATCH_GAP: std::time::Duration = std::time::Duration::from_micros(1);

/// What a connection reads ahead of the application, in what its queued messages cost
/// ([`Message::queued_cost`]: bytes, and a frame handle's size per frame), before it
/// leaves the rest in the kernel, under any RCVHWM but 0 (no limit, as asked): RCVHWM
/// counts messages, and a thousand large ones read ahead only cost memory and page faults
/// (the kernel and the sender's queue hold them as well). A message larger than this is
/// still read whole.
pub const READ_AHEAD_MAX: usize = 4 << 20;

/// A frame up to this long (32 KiB) that waits in a pipe's queue while sharing its
/// allocation is copied into its own first ([`Core::send`]): a slice of a read buffer that
/// long keeps at most [`PIN_FACTOR`](crate::PIN_FACTOR) times its size alive (a read
/// buffer's chunk is [`READ_CHUNK`](crate::READ_CHUNK)); a shorter one, more.
pub const UNPIN_MAX: usize = crate::READ_CHUNK / crate::PIN_FACTOR;

/// Copies the frames of `msg` of up to [`UNPIN_MAX`] bytes that share their allocation
/// (slices of a read buffer, mostly) into their own, so that the message keeps nothing
/// else alive while it waits. Empty frames hold nothing; a frame the application built
/// is its buffer's only handle and stays as it is. A publisher calls it once before it
/// sends a message to its subscribers ([`Core::send_shared`]).
pub fn unpin(msg: &mut Message) {
    for f in msg.frames_mut() {
        if !f.is_empty() && f.len() <= UNPIN_MAX && !f.is_unique() {
            *f = Bytes::copy_from_slice(f);
        }
    }
}

/// A message about to wait in a pipe: with `unpin`, [`unpin`]ned.
#[inline]
fn waiting(mut msg: Message, unpin_it: bool) -> Message {
    if unpin_it {
        unpin(&mut msg);
    }
    msg
}

/// Whether a send may wait for the kernel to take its bytes: the caller's intent, passed
/// with each send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendWait {
    /// Never: what the kernel does not take is left to the I/O thread or queued (PUB,
    /// ROUTER, a non-blocking send).
    Never,
    /// A blocking send of a type that waits for room (rather than dropping or failing):
    /// on a full kernel, a send to the socket's only pipe waits a bounded while for room
    /// (a full batch: `BATCH_PATIENCE`; a large body: `body_patience`) instead of
    /// leaving its output to be queued and written by the I/O thread. The peer's pace then
    /// sets the sender's, as with a blocking write, and no message is copied or queued
    /// for it. A peer that does not read costs a full batch one such wait, after which
    /// sends queue as usual, and each large body its own. With several pipes a full peer
    /// is passed over instead.
    ForRoom,
}

/// A caller that holds the lock and waits for room for its output (bounded:
/// `BATCH_PATIENCE`, `body_patience`) says so here, and the I/O thread, finding the lock
/// taken meanwhile, puts this socket's turn off rather than sit behind the wait (its
/// other sockets would wait too). The I/O thread says when it waits for the lock, and a
/// caller that finds it waiting as its wait begins waits at most `BATCH_PATIENCE`: each
/// side sets its flag before it reads the other's, so one of them always sees the other.
#[derive(Debug, Default)]
pub(crate) struct RoomWait {
    /// The caller is in a wait for room.
    pub(crate) caller: std::sync::atomic::AtomicBool,
    /// The I/O thread waits for the lock.
    pub(crate) io: std::sync::atomic::AtomicBool,
}

/// Whether a receive that finds its pipe's queue empty reads the socket: the caller's
/// intent, passed with each receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvRead {
    /// Read it (the caller-thread fast path).
    Now,
    /// For a receive that may wait: if the caller sent since its last wait, take only
    /// what is queued and leave reading to that wait, whose poll finds input either way.
    /// Right after a send the answer is rarely there yet, and the read that would say so
    /// is a system call per round trip.
    AfterWaitIfJustSent,
}

/// All pipes and connections of one socket, and the notices for the layer above.
pub struct Core {
    /// Who waits while the caller holds the lock: see [`RoomWait`].
    pub(crate) room_wait: std::sync::Arc<RoomWait>,
    pub(crate) pipes: Slab<Pipe>,
    pub(crate) conns: Slab<Conn>,
    /// How many of `notices` are subscriptions (what XPUB counts towards RCVHWM).
    sub_notices: usize,
    /// Pipes that may have received messages queued, oldest first, each once (its
    /// `listed` flag): every pipe with a message queued is here, so a receive finds the
    /// next one without looking at idle pipes. A pipe found empty or gone leaves it.
    readable: VecDeque<PipeId>,
    notices: VecDeque<Notice>,
    pub(crate) socket_type: SocketType,
    pub(crate) sndhwm: usize,
    pub(crate) rcvhwm: usize,
    pub(crate) max_msg_size: Option<u64>,
    /// The context's authentication, asked by handshakes that authenticate their peer
    /// (`None`: nobody to ask), and this socket as the ZAP handler's replies reach it.
    pub(crate) auth: Option<std::sync::Arc<crate::auth::AuthSlot>>,
    pub(crate) zap_waiter: Option<std::sync::Weak<dyn crate::zap::ZapWaiter>>,
    /// CONFLATE: a pipe's outgoing queue holds only the newest message.
    pub(crate) conflate: bool,
    /// Sends since the caller last waited or received (see [`Streak`]).
    streak: Streak,
    /// Where a small send to an idle connection is encoded (see [`SMALL_SEND`]).
    small: [u8; SMALL_SEND],
    /// Where a larger one is ([`MEDIUM_SEND`]): empty until the first such send.
    medium: Vec<u8>,
    /// Connections with output to write soon (the I/O thread flushes them).
    pub(crate) dirty: Vec<Key>,
    /// Every connection in `dirty` is held back by the I/O thread, which looks again at its
    /// own deadline: no reason to wake it.
    pub(crate) dirty_corked: bool,
    /// A connection was put on `dirty` (or already was) since the I/O thread last looked:
    /// the caller leaves output to it, and a connection it finds written meanwhile is worth
    /// looking at again (see [`Core::hold_back`]).
    pub(crate) marked: bool,
    /// Messages sent (either path of [`Core::send`]), for the I/O thread: whether the caller
    /// is streaming (the hold-back, and room left to the caller).
    pub(crate) sends: u64,
    /// A message was queued since the caller last waited (see `Guard::wait_input`).
    pub(crate) sent_since_wait: bool,
    /// Some connection's read buffer is larger than `IDLE_RBUF_MAX`, or it keeps spare
    /// buffers: the I/O thread keeps a sweep timer armed.
    pub(crate) sweep_wanted: bool,
    /// Messages the caller took ahead and still holds (see [`Core::set_lent`]).
    lent: usize,
    /// Removed pipes' peers, newest last (see [`Core::peer_meta`]).
    retired: VecDeque<(PipeId, PeerMeta)>,
    /// Notifications the layer above built from peers' commands and has not handed out
    /// yet (see [`Core::set_unread_notifications`]).
    unread_notifications: usize,
    /// Something a waiting caller may want happened (message, room, pipe change).
    pub(crate) wake_waiters: bool,
    /// A caller waits for a connection to write all its output (see
    /// [`Core::wake_when_written`]).
    wake_on_written: bool,
    /// Connections that must be closed by the engine (which owns the cleanup).
    pub(crate) doomed: Vec<Key>,
    /// Connections whose timers changed (a PING armed the peer's TTL).
    pub(crate) retime: Vec<Key>,
    /// Connections whose mio interest must change (WRITABLE on or off).
    pub(crate) reregister: Vec<Key>,
    /// Connections stopped at [`JUNK_PER_TURN`]: the I/O thread reads on after a pause
    /// (no new input need come to tell it).
    pub(crate) reread: Vec<Key>,
    /// This process may run on more than one CPU (see `Pipe::inproc_refill`).
    pub(crate) multi_cpu: bool,
    /// Inproc pipes found empty and not yet marked idle (see [`Core::inproc_watch`]).
    inproc_unwatched: Vec<PipeId>,
    /// How many pipes are inproc ones (see [`Core::has_inproc`]).
    inproc_count: usize,
}

impl Core {
    pub(crate) fn new(socket_type: SocketType) -> Core {
        Core {
            room_wait: Default::default(),
            pipes: Slab::default(),
            conns: Slab::default(),
            readable: VecDeque::new(),
            sub_notices: 0,
            notices: VecDeque::new(),
            socket_type,
            sndhwm: 1000,
            rcvhwm: 1000,
            max_msg_size: None,
            auth: None,
            zap_waiter: None,
            conflate: false,
            streak: Streak::default(),
            small: [0; SMALL_SEND],
            medium: Vec::new(),
            dirty: Vec::new(),
            dirty_corked: false,
            marked: false,
            sends: 0,
            sent_since_wait: false,
            sweep_wanted: false,
            lent: 0,
            retired: VecDeque::new(),
            unread_notifications: 0,
            wake_waiters: false,
            wake_on_written: false,
            doomed: Vec::new(),
            retime: Vec::new(),
            reregister: Vec::new(),
            reread: Vec::new(),
            multi_cpu: false,
            inproc_unwatched: Vec::new(),
            inproc_count: 0,
        }
    }

    /// Whether nothing waits for the engine's settle: no connection to close, no
    /// notice, no timer or registration to update (the usual case after a send or a
    /// receive).
    #[inline]
    pub(crate) fn at_rest(&self) -> bool {
        self.doomed.is_empty()
            && self.notices.is_empty()
            && self.retime.is_empty()
            && self.reregister.is_empty()
    }

    pub(crate) fn take_notice(&mut self) -> Option<Notice> {
        let n = self.notices.pop_front();
        if matches!(n, Some(Notice::Subscription(..))) {
            self.sub_notices -= 1;
        }
        n
    }

    pub(crate) fn notify(&mut self, n: Notice) {
        if matches!(n, Notice::Subscription(..)) {
            self.sub_notices += 1;
        }
        self.notices.push_back(n);
        self.wake_waiters = true;
    }

    pub(crate) fn new_pipe(&mut self, origin: Origin, endpoint: String) -> PipeId {
        self.pipes.insert(Pipe {
            conn: None,
            out: VecDeque::new(),
            inbound: VecDeque::new(),
            inbound_bytes: 0,
            peer: None,
            creds: None,
            addr: None,
            endpoint,
            origin,
            draining: false,
            listed: false,
            discard_input: false,
            inproc: None,
        })
    }

    /// Marks idle the flows of the inproc pipes found empty since the last call (see
    /// `Pipe::inproc_refill`), so that their next message rings: for a socket about to
    /// tell its caller there is nothing (EAGAIN, EVENTS, a poll) or to sleep. A pipe whose
    /// flow got messages meanwhile takes them and is listed instead. Returns whether one
    /// did.
    pub(crate) fn inproc_watch(&mut self) -> bool {
        if self.inproc_unwatched.is_empty() {
            return false;
        }
        let mut got = false;
        for id in std::mem::take(&mut self.inproc_unwatched) {
            let Some(p) = self.pipes.get_mut(id) else {
                continue;
            };
            if let Some(end) = &mut p.inproc {
                end.unwatched = false;
            }
            if p.inproc.is_some() && p.inproc_sync(true) {
                Core::list(&mut self.readable, p, id);
                got = true;
            }
        }
        got
    }

    /// The links of the unwatched inproc pipes (see [`Core::inproc_watch`]), with this
    /// socket's side of each, for a caller spinning before it sleeps.
    pub(crate) fn inproc_unwatched_links(
        &self,
    ) -> SmallVec<[(std::sync::Arc<crate::inproc::Link>, usize); 4]> {
        self.inproc_unwatched
            .iter()
            .filter_map(|&id| self.pipes.get(id)?.inproc.as_ref())
            .map(|end| (end.link.clone(), end.side))
            .collect()
    }

    /// Gives a new pipe its end of an inproc link.
    pub(crate) fn set_inproc(&mut self, id: PipeId, end: crate::inproc::InprocEnd) {
        if let Some(p) = self.pipes.get_mut(id) {
            if p.inproc.replace(end).is_none() {
                self.inproc_count += 1;
            }
        }
    }

    /// Whether any pipe is an inproc one (their input is rung, not polled). Asked by
    /// every wait: a count, not a look at every pipe.
    #[inline]
    pub(crate) fn has_inproc(&self) -> bool {
        self.inproc_count != 0
    }

    /// The inproc pipes (a closing socket lets go of them at once).
    pub(crate) fn inproc_pipes(&self) -> Vec<PipeId> {
        self.pipes
            .iter()
            .filter(|(_, p)| p.inproc.is_some())
            .map(|(k, _)| k)
            .collect()
    }

    /// Looks at an inproc pipe its peer rang: the peer's arrival (the pipe is connected:
    /// `Connected` notice), input (the next batch is taken if the queue is empty, the pipe
    /// listed), subscription changes (PUB and XPUB: notices; PUB drops data), room (waiters
    /// are woken) and the peer's departure (what it wrote is taken, then the pipe is
    /// retired as a connection's is).
    pub(crate) fn inproc_look(&mut self, id: PipeId) -> InprocSeen {
        let pub_side = matches!(self.socket_type, SocketType::Pub | SocketType::XPub);
        let drop_data = self.socket_type == SocketType::Pub;
        let Some(p) = self.pipes.get_mut(id) else {
            return InprocSeen::Nothing;
        };
        if p.draining {
            return InprocSeen::Nothing;
        }
        let Pipe {
            inproc: Some(end),
            inbound,
            inbound_bytes,
            peer,
            discard_input,
            ..
        } = &mut *p
        else {
            return InprocSeen::Nothing;
        };
        let mut seen = InprocSeen::Nothing;
        if peer.is_none() {
            if let Some(info) = end.link.peer_info(end.side) {
                if end.link.is_refused() {
                    let ours = self.socket_type;
                    return InprocSeen::Refused(match info.socket_type {
                        Some(theirs) => format!("socket type {theirs} cannot connect to {ours}"),
                        None => format!("the peer cannot connect to {ours}"),
                    });
                }
                *peer = Some(info);
                seen = InprocSeen::Joined;
            }
        }
        let mut subs = Vec::new();
        let synced = end.link.sync(
            end.side,
            inbound,
            inbound_bytes,
            &mut end.reader,
            Look {
                discard: drop_data || *discard_input,
                idle_if_empty: false,
            },
            pub_side.then_some(&mut subs),
        );
        // Listed even with nothing taken: a ring that found its message taken already
        // (the reader took it on its own meanwhile) does not mark the flow idle, and the
        // reader's next turn at the pipe does (or takes what came since).
        Core::list(&mut self.readable, p, id);
        if seen == InprocSeen::Joined {
            self.notify(Notice::Connected(id));
        }
        for sub in subs {
            self.notify(Notice::Subscription(id, sub));
        }
        self.wake_waiters = true;
        if synced.peer_closed {
            self.retire_pipe(id);
            return InprocSeen::Left;
        }
        seen
    }

    /// Removes a pipe whose connection closed, once the messages it received before the
    /// close have been taken (libzmq delivers them too).
    pub(crate) fn retire_pipe(&mut self, id: PipeId) {
        let Some(p) = self.pipes.get_mut(id) else {
            return;
        };
        p.out.clear();
        if p.inbound.is_empty() {
            self.remove_pipe(id);
        } else {
            p.draining = true;
            self.notify(Notice::Disconnected(id));
        }
    }

    pub(crate) fn remove_pipe(&mut self, id: PipeId) {
        if let Some(p) = self.pipes.remove(id) {
            if p.inproc.is_some() {
                self.inproc_count -= 1;
            }
            // Messages it delivered may still be in the caller's hands: their peer stays
            // known for a while.
            if let Some(meta) = p.into_meta() {
                if self.retired.len() == RETIRED_PEERS {
                    self.retired.pop_front();
                }
                self.retired.push_back((id, meta));
            }
            self.notify(Notice::Detached(id));
            self.compact_readable();
        }
    }

    /// Drops what the pipe received and will receive: for a peer the layer above keeps
    /// connected but never receives from (a ROUTER peer whose routing id is taken, as
    /// libzmq does), whose messages would otherwise wait forever.
    pub fn discard_input(&mut self, id: PipeId) {
        if let Some(p) = self.pipes.get_mut(id) {
            p.discard_input = true;
        }
        self.discard_queued(id);
    }

    /// Drops the messages queued on a pipe (REQ's stale replies). A connection stopped at
    /// RCVHWM is read once more, so that it is not left stopped with nothing queued.
    pub fn discard_queued(&mut self, id: PipeId) {
        let Some(p) = self.pipes.get_mut(id) else {
            return;
        };
        let n = p.inbound.len();
        p.inbound.clear();
        p.inbound_bytes = 0;
        if let Some(end) = &mut p.inproc {
            // What the peer wrote before now is as stale: dropped with the next batch.
            end.reader.released += n;
            end.link.sync(
                end.side,
                &mut p.inbound,
                &mut p.inbound_bytes,
                &mut end.reader,
                Look {
                    discard: true,
                    idle_if_empty: true,
                },
                None,
            );
            return;
        }
        if let Some(c) = p.conn.filter(|&c| self.reading_paused(c)) {
            self.read_conn(c, Side::Io);
        }
    }

    /// Closes a pipe and its connection (PAIR refusing a second peer, ROUTER handing a
    /// routing id over to a new peer). A connector whose pipe is terminated stops.
    pub fn terminate(&mut self, id: PipeId) {
        if let Some(c) = self.pipes.get(id).and_then(|p| p.conn) {
            self.doom(c, CloseReason::Local);
        }
        self.remove_pipe(id);
    }

    /// Ids of all pipes.
    pub fn pipe_ids(&self) -> Vec<PipeId> {
        self.pipes.keys()
    }

    /// Whether the pipe exists.
    pub fn has_pipe(&self, id: PipeId) -> bool {
        self.pipes.get(id).is_some()
    }

    /// What the peer said in its handshake, once connected.
    pub fn peer(&self, id: PipeId) -> Option<&PeerInfo> {
        self.pipes.get(id)?.peer.as_ref()
    }

    /// What is known of the peer that pipe `id` leads (or led) to: for a received
    /// message's peer (the layer above knows which pipe gave it). A pipe removed since is still known among
    /// the last [`RETIRED_PEERS`] removed.
    pub fn peer_meta(&self, id: PipeId) -> Option<PeerMeta> {
        match self.pipes.get(id) {
            Some(p) => p.meta(),
            None => self
                .retired
                .iter()
                .rev()
                .find(|(k, _)| *k == id)
                .map(|(_, m)| m.clone()),
        }
    }

    /// The endpoint the pipe belongs to (bound or connected).
    pub fn endpoint(&self, id: PipeId) -> Option<&str> {
        self.pipes.get(id).map(|p| p.endpoint.as_str())
    }

    /// Whether the pipe belongs to a `connect` (rather than to a connection accepted by a
    /// listener).
    pub fn is_outgoing(&self, id: PipeId) -> bool {
        self.pipes.get(id).is_some_and(|p| {
            matches!(
                p.origin,
                Origin::Connected(_) | Origin::Inproc { outgoing: true }
            )
        })
    }

    /// Whether the pipe has a live, handshaken connection.
    pub fn is_connected(&self, id: PipeId) -> bool {
        if let Some(p) = self.pipes.get(id).filter(|p| p.inproc.is_some()) {
            return p.peer.is_some() && !p.draining;
        }
        self.pipes
            .get(id)
            .and_then(|p| p.conn)
            .and_then(|c| self.conns.get(c))
            .is_some_and(Conn::is_active)
    }

    /// Whether the pipe has messages not yet handed to its connection.
    pub fn has_pending_output(&self, id: PipeId) -> bool {
        self.pipes.get(id).is_some_and(|p| !p.out.is_empty())
    }

    /// Whether a message can be queued on the pipe without passing SNDHWM.
    pub fn can_send(&self, id: PipeId) -> bool {
        self.pipes.get(id).is_some_and(|p| {
            !p.draining
                && match &p.inproc {
                    Some(end) => end.link.can_write(end.side),
                    None => self.sndhwm == 0 || p.out.len() < self.sndhwm,
                }
        })
    }

    /// Queues a message on a pipe. `true`: the message was taken and `msg` is left empty;
    /// `false`: the pipe is full (SNDHWM) or gone, and `msg` is untouched. (By reference:
    /// on the hot path nothing moves the message, whose copies cost more than encoding a
    /// small one.)
    ///
    /// When nothing waits in the pipe and its connection is up with less than a batch
    /// (`BATCH`) unwritten, the message is encoded straight into the connection's batch
    /// (the direct path): the calling thread writes the batch itself when it starts a
    /// streak (a small message then skips the batch: one `send` from a fixed buffer) or
    /// reaches `BATCH`, and otherwise leaves it to the I/O thread, which holds it back
    /// once while sends keep coming (`Core::hold_back`; or, while the kernel is full, to
    /// whoever sees room first: the caller's next wait or the I/O thread). Otherwise the message
    /// waits in the pipe, counted against SNDHWM, and is moved when the connection can
    /// take it.
    ///
    /// A message that waits in the pipe has its frames of up to [`UNPIN_MAX`] bytes that
    /// share their allocation with other data copied into their own first: frames received
    /// and sent on (an echo, a proxy, a broker) are slices of a read buffer, and would
    /// keep all of it alive for as long as they wait behind a peer that does not read.
    #[must_use]
    pub fn send(&mut self, id: PipeId, msg: &mut Message, wait: SendWait) -> bool {
        self.send_outgoing(id, msg, wait, true)
    }

    /// [`Core::send`] of one of the clones a publisher sends to each subscriber: frames
    /// shared between the clones are not copied when they wait (each waiting clone would
    /// hold a copy of its own); the publisher [`unpin`]s the message once before it makes
    /// the clones.
    #[must_use]
    pub fn send_shared(&mut self, id: PipeId, msg: &mut Message, wait: SendWait) -> bool {
        self.send_outgoing(id, msg, wait, false)
    }

    /// [`Core::send`] of the frames `head` (an envelope, usually empty) followed by a copy
    /// of `body` (zmq_send): on the direct path the bytes are copied straight into the
    /// batch, and no message is allocated. `false`: the pipe is full or gone.
    #[must_use]
    pub fn send_copy(&mut self, id: PipeId, head: &[Bytes], body: &[u8], wait: SendWait) -> bool {
        // (The body is copied anyway; `head` may be an envelope of received frames.)
        self.send_outgoing(id, &mut Copied { head, body }, wait, true)
    }

    /// Whether the pipe's connection is up and still writing earlier output (its batch,
    /// or messages queued in the pipe): a large body sent now would be copied into the
    /// queue rather than go straight to the kernel ([`Core::send_copy_now`]).
    pub fn pipe_busy(&self, id: PipeId) -> bool {
        let Some(p) = self.pipes.get(id) else {
            return false;
        };
        let Some(conn) = p.conn.and_then(|c| self.conns.get(c)) else {
            return false;
        };
        conn.is_active()
            && conn.closing.is_none()
            && !conn.zmtp.is_sealed()
            && (!p.out.is_empty() || !conn.is_idle())
    }

    /// Asks for a wake-up of waiting callers (the notify descriptor, the wait set) once a
    /// connection has written all its output: for an event loop's send that keeps a large
    /// body until its connection can take it straight ([`Core::pipe_busy`]).
    pub fn wake_when_written(&mut self) {
        self.wake_on_written = true;
    }

    /// For a one-frame message copied from a large `body` (over [`crate::COPY_MAX`]): when the
    /// pipe's connection is up with nothing waiting (in the pipe or its batch), writes
    /// header and body straight from `body`, and copies only what the kernel did not take.
    /// A caller that may wait ([`SendWait::ForRoom`]) first writes what waits, and waits for the
    /// kernel to take the rest while the peer drains, up to a few times what the copy would
    /// cost (`body_patience`): the peer's pace then sets the sender's, as with a blocking
    /// write, and no fresh buffer is touched. `true`: the message was taken. `false`: not
    /// so, and no part of it was written (copy the body into a message and
    /// [`Core::send`] it, preferably before taking the lock).
    #[must_use]
    pub fn send_copy_now(&mut self, id: PipeId, body: &[u8], wait: SendWait) -> bool {
        let patient = self.patient(wait);
        let Some(pipe) = self.pipes.get(id) else {
            return false;
        };
        let backlog = !pipe.out.is_empty();
        if pipe.draining || self.conflate {
            return false;
        }
        if self.sndhwm != 0 && pipe.out.len() >= self.sndhwm {
            return false;
        }
        let Some(c) = pipe.conn else {
            return false;
        };
        let Some(conn) = self.conns.get_mut(c) else {
            return false;
        };
        if !conn.is_active() || conn.closing.is_some() || conn.zmtp.is_sealed() {
            return false;
        }
        // One budget for the whole send: what waits, then the body.
        let budget = body_patience(body.len());
        let mut deadline = None;
        // What waits goes first: written from its own buffers while the peer drains.
        if (backlog || !conn.is_idle())
            && !(patient && self.write_patiently(c, budget, &mut deadline, 1))
        {
            return false;
        }
        let Some(conn) = self.conns.get_mut(c) else {
            return false;
        };
        let hdr = FrameHeader::data(body.len() as u64, false).to_bytes();
        let hdr = hdr.as_slice();
        let total = hdr.len() + body.len();
        let mut written = 0;
        while written < total {
            let rest = [
                &hdr[written.min(hdr.len())..],
                &body[written.saturating_sub(hdr.len())..],
            ];
            match conn.write(&rest) {
                IoOutcome::Moved(n) => written += n,
                IoOutcome::Retry => {}
                IoOutcome::WouldBlock => {
                    if !patient
                        || !wait_for_room_until(conn, &self.room_wait, &mut deadline, budget)
                    {
                        break;
                    }
                }
                IoOutcome::Lost(reason) => {
                    // The connection is lost, and the message with it (as with a batch).
                    conn.closing = Some(reason);
                    self.doomed.push(c);
                    self.sent_since_wait = true;
                    return true;
                }
            }
        }
        self.sent_since_wait = true;
        self.sends = self.sends.wrapping_add(1);
        self.streak.starts(true);
        if written < total {
            // The rest waits in the batch, in order; the kernel is full.
            conn.corked = false;
            conn.zmtp.push_unwritten(&[hdr, body], written);
            if conn.wait_for_room() {
                self.reregister.push(c);
            }
        }
        true
    }

    /// Whether a send with `wait` may wait for room: only to the socket's only pipe.
    fn patient(&self, wait: SendWait) -> bool {
        wait == SendWait::ForRoom && self.pipes.len() == 1
    }

    fn send_outgoing(
        &mut self,
        id: PipeId,
        msg: &mut impl Outgoing,
        wait: SendWait,
        unpin: bool,
    ) -> bool {
        let patient = self.patient(wait);
        // One look-up per message: the checks of `can_send`, on the pipe in hand.
        let (hwm, conflate) = (self.sndhwm, self.conflate);
        let Some(pipe) = self.pipes.get_mut(id) else {
            return false;
        };
        if pipe.inproc.is_some() {
            return self.send_inproc(id, msg, unpin);
        }
        if pipe.draining || (!conflate && hwm != 0 && pipe.out.len() >= hwm) {
            return false;
        }
        self.sent_since_wait = true;
        self.sends = self.sends.wrapping_add(1);
        let Some(c) = pipe.conn else {
            if conflate {
                pipe.out.clear();
            }
            pipe.out.push_back(waiting(msg.take_message(), unpin));
            return true;
        };
        let direct = if conflate || !pipe.out.is_empty() {
            None
        } else {
            self.conns.get_mut(c).filter(|conn| {
                conn.is_active()
                    && conn.zmtp.output_len() < batch_of(&conn.zmtp)
                    && conn.closing.is_none()
            })
        };
        let Some(conn) = direct else {
            if conflate {
                pipe.out.clear();
            }
            pipe.out.push_back(waiting(msg.take_message(), unpin));
            let lone = pipe.out.len() == 1;
            let conn = self.conns.get(c);
            // Room again (the I/O thread saw WRITABLE and left the backlog to this sender,
            // see `State::conn_ready`): the caller writes it, as it writes its batches.
            let room = conn.is_some_and(|c| {
                c.is_active() && !c.want_write && !c.parked && c.closing.is_none()
            });
            if (lone && self.streak.starts(conn.is_some_and(Conn::is_idle))) || (!lone && room) {
                self.flush_conn(c, Side::Caller);
            } else {
                self.schedule_flush(c);
            }
            return true;
        };
        let through = self.streak.starts(!conn.has_output());
        // (A CURVE connection seals what it writes: its output goes through its batch.)
        if through && !conn.want_write && !conn.zmtp.is_sealed() {
            // An idle connection and a small message: straight to the kernel, in one send.
            let mut buf: &mut [u8] = &mut self.small;
            let mut encoded = msg.encode_small(buf);
            if encoded.is_none() && msg.encoded_len() <= MEDIUM_SEND {
                if self.medium.is_empty() {
                    self.medium = vec![0; MEDIUM_SEND];
                }
                buf = &mut self.medium;
                encoded = msg.encode_small(buf);
            }
            if let Some(n) = encoded {
                let written = match conn.write(&[&buf[..n]]) {
                    IoOutcome::Moved(w) if w == n => {
                        conn.corked = false; // the next batch is a new one
                        return true;
                    }
                    IoOutcome::Moved(w) => w,
                    IoOutcome::WouldBlock | IoOutcome::Retry => 0,
                    IoOutcome::Lost(reason) => {
                        // As `write_out` does: this error (a peer's ECONNRESET is reported
                        // once) closes the connection.
                        conn.closing = Some(reason);
                        self.doomed.push(c);
                        return true;
                    }
                };
                // The kernel took part or none of it: the rest waits in the batch, and the
                // flush below writes it or waits for room, as for any batch.
                conn.zmtp.push_unwritten(&[&buf[..n]], written);
                self.flush_conn(c, Side::Caller);
                return true;
            }
        }
        conn.zmtp.encode(msg);
        let batched = conn.zmtp.output_len();
        let batch = batch_of(&conn.zmtp);
        if patient && !through && batched >= batch {
            // Once the batch is below the batch size the caller goes on filling it.
            let _ = self.write_patiently(c, BATCH_PATIENCE, &mut None, batch);
        } else if through || batched >= batch {
            self.flush_conn(c, Side::Caller);
        } else if !conn.want_write {
            // (While a write waits for room, its flush writes this too.)
            self.mark_dirty(c);
        }
        true
    }

    /// [`Core::send`] to an inproc pipe: appended to its link's flow (apart from the
    /// connections' path, which it would only slow down).
    #[inline(never)]
    fn send_inproc(&mut self, id: PipeId, msg: &mut impl Outgoing, unpin_it: bool) -> bool {
        let Some(pipe) = self.pipes.get_mut(id) else {
            return false;
        };
        let Some(end) = pipe.inproc.as_ref().filter(|_| !pipe.draining) else {
            return false;
        };
        let taken = match msg.copied_body() {
            Some(body) => end.link.write_copy(end.side, body),
            // (It waits in the link until the peer takes it: received frames sent on are
            // copied out of their read buffer, as for a pipe's queue.)
            None => match end
                .link
                .write(end.side, waiting(msg.take_message(), unpin_it))
            {
                Ok(()) => true,
                Err(m) => {
                    msg.restore(m);
                    false
                }
            },
        };
        if taken {
            self.sends = self.sends.wrapping_add(1);
        }
        taken
    }

    /// The I/O thread's look at a connection on its dirty list while a send came since it
    /// last looked: whether to keep it and look again after the hold-back. Kept: a batch
    /// the calling thread is still filling, with no write pending on the kernel, which is
    /// now held back (once: it is written at the next look); or no output at all while
    /// the caller still leaves output to the I/O thread (`marked`: it wrote its batches
    /// itself, and its next send then wakes nobody), and what it adds before writing a
    /// batch is written at the next look. Holding a batch back once bounds the delay (to
    /// one hold-back, at most `CORK_MAX`) whatever the pace of sends, and a batch of another
    /// connection's (a PONG, a subscription) waits at most as long.
    pub(crate) fn hold_back(&mut self, c: Key, sends_seen: u64, marked: bool) -> bool {
        if self.sends == sends_seen {
            return false;
        }
        let Some(conn) = self.conns.get(c) else {
            return false;
        };
        let output = conn.has_output() || conn.pipe.is_some_and(|p| self.has_pending_output(p));
        if conn.want_write || !conn.is_active() || (output && conn.corked) || !(output || marked) {
            return false;
        }
        if let Some(conn) = self.conns.get_mut(c) {
            conn.corked = true;
        }
        true
    }

    /// The caller is about to block (a wait, or a poll about to sleep): writes what it
    /// left ([`Core::flush_all`], whose result it returns); its next send starts a new
    /// streak, and nothing has been sent since this wait.
    pub(crate) fn caller_waits(&mut self) -> bool {
        let moved = self.flush_all();
        self.streak.end();
        self.sent_since_wait = false;
        moved
    }

    /// Sends a subscription change to the pipe's peer, ahead of the HWM, in the form its
    /// ZMTP version expects. Dropped when the pipe has no connection: the layer above sends
    /// its subscriptions again on [`Notice::Connected`].
    pub fn send_subscription(&mut self, id: PipeId, sub: &Subscription) {
        if let Some(end) = self.pipes.get(id).and_then(|p| p.inproc.as_ref()) {
            end.link.write_subscription(end.side, sub.clone());
            return;
        }
        let Some(c) = self.pipes.get(id).and_then(|p| p.conn) else {
            return;
        };
        let Some(conn) = self.conns.get_mut(c) else {
            return;
        };
        if !conn.is_active() {
            return;
        }
        conn.zmtp.push_subscription(sub);
        self.schedule_flush(c);
    }

    fn schedule_flush(&mut self, c: Key) {
        let Some(conn) = self.conns.get(c) else {
            return;
        };
        if !conn.is_active() || conn.want_write {
            return; // flushed after the handshake / on WRITABLE
        }
        self.mark_dirty(c);
    }

    /// Puts an active, writable connection on the list the I/O thread (or the caller's
    /// next wait) flushes.
    pub(crate) fn mark_dirty(&mut self, c: Key) {
        self.marked = true;
        if !self.dirty.contains(&c) {
            self.dirty.push(c);
            self.dirty_corked = false;
        }
    }

    /// Whether a message is queued on the pipe, without reading its connection: what has
    /// been read (the I/O thread reads every connection no caller has parked and that is
    /// not stopped at RCVHWM, and signals the notify descriptor when it queues a message).
    /// For readiness checks (EVENTS, poll), which must not cost a system call per idle
    /// connection.
    pub fn has_queued(&self, id: PipeId) -> bool {
        self.pipes
            .get(id)
            .is_some_and(|p| !p.inbound.is_empty() || p.inproc_pending())
    }

    /// Whether a received message waits on the pipe (reading from the socket if the queue
    /// is empty and the connection is idle).
    pub fn has_message(&mut self, id: PipeId) -> bool {
        let Some(p) = self.pipes.get(id) else {
            return false;
        };
        if !p.inbound.is_empty() {
            return true;
        }
        let conn = p.conn;
        if let Some(p) = self.pipes.get_mut(id).filter(|p| p.inproc.is_some()) {
            return p.inproc_sync(true);
        }
        if let Some(c) = conn {
            self.read_conn(c, Side::Caller);
        }
        self.pipes.get(id).is_some_and(|p| !p.inbound.is_empty())
    }

    /// Lends the caller every message already queued on a pipe, moved to the end of `out`
    /// oldest first, without reading its socket; into an empty `out` by exchanging the two
    /// queues (no message is moved). Returns how many. What it lends counts towards
    /// RCVHWM until the caller says it holds fewer ([`crate::Engine::lock_holding`]).
    pub fn recv_all_queued(&mut self, id: PipeId, out: &mut VecDeque<Message>) -> usize {
        let Some(p) = self.pipes.get_mut(id) else {
            return 0;
        };
        let n = p.inbound.len();
        if out.is_empty() {
            std::mem::swap(out, &mut p.inbound);
        } else {
            out.append(&mut p.inbound);
        }
        p.inbound_bytes = 0;
        if p.inproc.is_some() {
            // Lent messages leave an inproc flow's count (its HWM counts what the peer
            // wrote and this socket has not taken); the pipe stays listed, and its next
            // batch is taken at its next turn.
            p.inproc_taken(n);
            if !p.inbound.is_empty() {
                // (Taken now because its writer waits for room.)
                Core::list(&mut self.readable, p, id);
            }
        }
        if p.draining && p.inbound.is_empty() {
            self.remove_pipe(id);
        }
        self.set_lent(self.lent.saturating_add(n));
        n
    }

    /// Takes up to `max` messages already queued, from the pipes with input in turn as
    /// [`Core::recv_ready`] takes them, and lends the caller those `keep` admits (it is
    /// given each message's pipe), at the
    /// end of `out`; those it refuses are dropped (a subscriber's filter). Refused ones
    /// count towards `max` too, so a peer flooding what nobody wants cannot hold the
    /// caller here. Returns how many it lent; they count as [`Core::recv_all_queued`]'s
    /// do.
    pub fn lend_ready(
        &mut self,
        out: &mut VecDeque<Message>,
        max: usize,
        mut keep: impl FnMut(PipeId, &Message) -> bool,
    ) -> usize {
        let mut n = 0;
        for _ in 0..max {
            let Some((pipe, m)) = self.recv_ready(|_| true) else {
                break;
            };
            if keep(pipe, &m) {
                out.push_back(m);
                n += 1;
            }
        }
        self.set_lent(self.lent.saturating_add(n));
        n
    }

    /// Asserts the hand-off's invariants 1 to 4 (see the module documentation); called in
    /// debug builds whenever either side lets go of the state.
    #[cfg(debug_assertions)]
    pub(crate) fn check_invariants(&self) {
        for (k, c) in self.conns.iter() {
            if c.closing.is_some() {
                continue;
            }
            assert!(
                c.registered != c.parked,
                "connection {k:?} registered={} parked={}",
                c.registered,
                c.parked
            );
            assert!(
                c.in_wait_set.is_none() || c.parked,
                "connection {k:?} in an event loop's wait set but not parked"
            );
            let waiting = c.has_output() || c.pipe.is_some_and(|p| self.has_pending_output(p));
            assert!(
                !c.is_active() || !waiting || c.want_write || self.dirty.contains(&k),
                "connection {k:?}: output stranded"
            );
        }
        let held = self.held();
        for (id, p) in self.pipes.iter() {
            let paused = p.conn.is_some_and(|c| self.reading_paused(c));
            assert!(
                p.inbound.is_empty()
                    || !p.over_mark(self.rcvhwm, held)
                    || paused
                    || p.conn.is_none(),
                "pipe {id:?}: {} queued ({} bytes) + {held} held over RCVHWM {}",
                p.inbound.len(),
                p.inbound_bytes,
                self.rcvhwm
            );
            if p.inbound.len() <= 64 {
                assert_eq!(
                    p.inbound_bytes,
                    p.inbound.iter().map(Message::queued_cost).sum::<usize>(),
                    "pipe {id:?}: byte count"
                );
            }
            assert!(
                p.inbound.is_empty() || p.listed,
                "pipe {id:?}: input not listed"
            );
        }
    }

    /// Takes the next queued message of the pipes that have one, in turn (fair queueing
    /// over the pipes with input: idle pipes cost nothing, however many there are), among
    /// the pipes `accept` admits (the others keep theirs). Reads no socket, except that a
    /// connection stopped at RCVHWM is read once its pipe is below it, as
    /// [`Core::recv`] does.
    pub fn recv_ready(
        &mut self,
        mut accept: impl FnMut(PipeId) -> bool,
    ) -> Option<(PipeId, Message)> {
        // Pipes passed over go to the back: each is looked at once per call.
        for _ in 0..self.readable.len() {
            let id = self.readable.pop_front()?;
            let Some(p) = self.pipes.get_mut(id) else {
                continue; // gone
            };
            if p.inbound.is_empty() && !p.inproc_refill(self.multi_cpu) {
                p.listed = false;
                if p.unwatch() {
                    self.inproc_unwatched.push(id);
                }
                continue;
            }
            if !accept(id) {
                self.readable.push_back(id);
                continue;
            }
            let m = p.take()?;
            // (An inproc pipe stays listed: its flow may hold more, taken at its next turn.)
            if p.inbound.is_empty() && (p.inproc.is_none() || p.draining) {
                p.listed = false;
                if p.draining {
                    self.remove_pipe(id);
                    return Some((id, m));
                }
            } else {
                self.readable.push_back(id);
            }
            self.streak.end();
            self.resume_if_below(id);
            return Some((id, m));
        }
        None
    }

    /// Puts a pipe that just received on the list of pipes with input, once.
    fn list(readable: &mut VecDeque<PipeId>, pipe: &mut Pipe, id: PipeId) {
        if !pipe.listed {
            pipe.listed = true;
            readable.push_back(id);
        }
    }

    /// Drops the list's entries of pipes that are gone once it holds many more entries than
    /// there are pipes (amortised; a PAIR receives without taking from the list, and
    /// refuses second peers that may have received: their entries would pile up).
    fn compact_readable(&mut self) {
        if self.readable.len() > 2 * self.pipes.len() + 16 {
            let pipes = &self.pipes;
            self.readable.retain(|&id| pipes.get(id).is_some());
        }
    }

    /// Whether a pipe `accept` admits has a message queued (nothing is read).
    pub fn has_ready(&self, mut accept: impl FnMut(PipeId) -> bool) -> bool {
        self.readable.iter().any(|&id| {
            self.pipes
                .get(id)
                .is_some_and(|p| (!p.inbound.is_empty() || p.inproc_pending()) && accept(id))
        })
    }

    /// Takes the next message already queued on a pipe, without reading its socket.
    pub fn recv_queued(&mut self, id: PipeId) -> Option<Message> {
        let p = self.pipes.get_mut(id)?;
        if p.inbound.is_empty() && !p.draining && p.inproc.is_some() {
            if p.inproc_refill(self.multi_cpu) {
                Core::list(&mut self.readable, p, id);
            } else if p.unwatch() {
                self.inproc_unwatched.push(id);
            }
        }
        let m = p.take();
        if p.draining && p.inbound.is_empty() {
            self.remove_pipe(id);
        } else if m.is_some() {
            self.resume_if_below(id);
        }
        m
    }

    /// After a message was taken from a pipe: reads its connection again if it was
    /// stopped at RCVHWM and the pipe is now down to the resume mark.
    fn resume_if_below(&mut self, id: PipeId) {
        let held = self.held();
        let Some(p) = self.pipes.get(id) else {
            return;
        };
        let below = p.may_resume(self.rcvhwm, held);
        if let Some(c) = p.conn.filter(|&c| below && self.reading_paused(c)) {
            self.read_conn(c, Side::Caller);
        }
    }

    /// Takes the next received message of a pipe, reading from its socket when the queue is
    /// empty (the caller-thread fast path) as `read` says.
    pub fn recv(&mut self, id: PipeId, read: RecvRead) -> Option<Message> {
        let defer = read == RecvRead::AfterWaitIfJustSent && self.sent_since_wait;
        self.streak.end();
        let held = self.held();
        let p = self.pipes.get_mut(id)?;
        if p.draining {
            return self.recv_queued(id);
        }
        if let Some(m) = p.take() {
            // Down to the resume mark with reading paused: take what waits in the buffer
            // and the kernel.
            let below = p.may_resume(self.rcvhwm, held);
            if let Some(c) = p.conn.filter(|&c| below && self.reading_paused(c)) {
                self.read_conn(c, Side::Caller);
            }
            return Some(m);
        }
        if p.inproc.is_some() {
            if p.inproc_refill(self.multi_cpu) {
                // (What is left after this message is listed, as any input is.)
                Core::list(&mut self.readable, p, id);
            } else if p.unwatch() {
                self.inproc_unwatched.push(id);
            }
            return p.take();
        }
        let c = p.conn?;
        // A paused connection may hold whole messages in its buffer, which no poll reports.
        if defer && !self.reading_paused(c) {
            return None;
        }
        self.read_conn(c, Side::Caller);
        self.pipes.get_mut(id)?.take()
    }

    /// How many messages the caller holds that it took ahead ([`Core::recv_all_queued`])
    /// and has not handed out yet, as it says when it takes the lock
    /// ([`crate::Engine::lock_holding`]): they count towards RCVHWM as if still queued (in
    /// every pipe: a pipe's queue and what the caller holds stay within RCVHWM together).
    /// In between the count is only ever too high (what the caller holds only shrinks),
    /// which stops reading early, never late. A lower count reads at once the connections
    /// that stopped at the mark and are now below it.
    #[inline]
    pub(crate) fn set_lent(&mut self, n: usize) {
        // (Inline and checked first: every caller's lock says it, and it rarely changes.)
        if n != self.lent {
            let old = std::mem::replace(&mut self.lent, n);
            self.held_changed(old, n);
        }
    }

    /// How many messages the caller holds that it took ahead, as it last said when it
    /// took the lock ([`crate::Engine::lock_holding`]): none exactly when it holds none.
    pub fn lent(&self) -> usize {
        self.lent
    }

    /// What the handler holds ([`Handler::held`]), as it last said. A lower count reads
    /// at once the connections that stopped at the mark.
    #[inline]
    pub(crate) fn set_unread_notifications(&mut self, n: usize) {
        if n != self.unread_notifications {
            let old = std::mem::replace(&mut self.unread_notifications, n);
            self.held_changed(old, n);
        }
    }

    /// One part of what the layer above holds went from `old` to `new`: below the mark
    /// connections are read again, at it they stop; unchanged, nothing is looked at (XPUB
    /// reports its count on every notice).
    fn held_changed(&mut self, old: usize, new: usize) {
        if new < old {
            self.resume_below_mark();
        } else if new > old {
            self.pause_at_mark();
        }
    }

    /// What the layer above holds that counts towards every pipe's RCVHWM.
    #[inline]
    fn held(&self) -> usize {
        self.lent.saturating_add(self.unread_notifications)
    }

    /// [`Core::held`] and, for PUB and XPUB, the subscription notices not yet handed to
    /// the layer above (an XPUB's become its unread notifications): what the read path
    /// counts.
    fn held_with_notices(&self) -> usize {
        let notices = if matches!(self.socket_type, SocketType::Pub | SocketType::XPub) {
            self.sub_notices
        } else {
            0
        };
        self.held().saturating_add(notices)
    }

    /// The layer above has been handed the notices queued so far. PUB: they no longer
    /// count; XPUB: those it did not turn into messages (a repeat without XPUB_VERBOSE) no
    /// longer count. A connection stopped for them may be below the mark now.
    pub(crate) fn notices_delivered(&mut self) {
        if matches!(self.socket_type, SocketType::Pub | SocketType::XPub) {
            self.resume_below_mark();
        }
    }

    /// Stops reading the connections whose pipes are at RCVHWM now that the layer above
    /// holds more (or the mark went down): they are read again once below it. Only pipes
    /// with input can be over the mark, and those are on the list of pipes with input.
    pub(crate) fn pause_at_mark(&mut self) {
        let held = self.held();
        for &id in &self.readable {
            let Some(p) = self.pipes.get(id) else {
                continue;
            };
            if !p.at_mark(self.rcvhwm, held) {
                continue;
            }
            if let Some(c) = p.conn.and_then(|c| self.conns.get_mut(c)) {
                c.read_paused = true;
            }
        }
    }

    /// Reads the connections that stopped at RCVHWM and are now down to the resume mark.
    fn resume_below_mark(&mut self) {
        let held = self.held();
        let below: SmallVec<[Key; 8]> = self
            .pipes
            .iter()
            .filter(|(_, p)| p.may_resume(self.rcvhwm, held))
            .filter_map(|(_, p)| p.conn)
            .filter(|&c| self.reading_paused(c))
            .collect();
        // For the I/O thread (this runs on either thread): what it reads may be what a
        // waiting caller waits for.
        for c in below {
            self.read_conn(c, Side::Io);
        }
    }

    /// RCVHWM (0: no limit).
    pub fn rcvhwm(&self) -> usize {
        self.rcvhwm
    }

    /// Gives back the read buffers larger than `IDLE_RBUF_MAX` that are empty and read
    /// nothing since the last sweep (messages handed out keep their part of a buffer alive
    /// on their own), and the batch buffers larger than `IDLE_BATCH_MAX` that are empty
    /// and wrote nothing since. A connection in a stream keeps its buffers; an idle one
    /// holds none that large.
    pub(crate) fn sweep_buffers(&mut self) {
        let mut wanted = false;
        for k in self.conns.keys() {
            let Some(c) = self.conns.get_mut(k) else {
                continue;
            };
            let queue = c
                .pipe
                .and_then(|p| self.pipes.get_mut(p))
                .map(|p| &mut p.inbound);
            wanted |= c.zmtp.sweep(queue);
        }
        self.sweep_wanted = wanted;
    }

    /// The connection is closing: its read buffer goes (see
    /// [`Connection::release_read_buffer`]).
    pub(crate) fn release_read_buffers(&mut self, c: Key) {
        let Some(conn) = self.conns.get_mut(c) else {
            return;
        };
        let queue = conn
            .pipe
            .and_then(|p| self.pipes.get_mut(p))
            .map(|p| &mut p.inbound);
        conn.zmtp.release_read_buffer(queue);
    }

    /// Whether reading the connection stopped at RCVHWM.
    pub(crate) fn reading_paused(&self, c: Key) -> bool {
        self.conns
            .get(c)
            .is_some_and(|c| c.read_paused || c.throttled)
    }

    /// Ends a connection's stop at [`JUNK_PER_TURN`] (the I/O thread's look at
    /// `reread`), with the whole allowance again. Whether the connection is still there.
    pub(crate) fn unthrottle(&mut self, c: Key) -> bool {
        let Some(conn) = self.conns.get_mut(c) else {
            return false;
        };
        conn.throttled = false;
        conn.junk_left = JUNK_PER_TURN;
        true
    }

    /// The capacity of every connection's read buffer.
    pub(crate) fn read_buffer_bytes(&self) -> usize {
        self.conns
            .iter()
            .map(|(_, c)| c.zmtp.read_buffer_bytes())
            .sum()
    }

    /// Bytes encoded into the connections' output and not yet written.
    pub(crate) fn output_bytes(&self) -> usize {
        self.conns.iter().map(|(_, c)| c.zmtp.output_len()).sum()
    }

    /// Whether a connection has output waiting anywhere (its buffer or its pipe).
    pub(crate) fn conn_has_pending(&self, c: Key) -> bool {
        let Some(conn) = self.conns.get(c) else {
            return false;
        };
        conn.want_write
            || conn.has_output()
            || conn.pipe.is_some_and(|p| self.has_pending_output(p))
    }

    /// The handshaken connections and their descriptors, if there are at most `max`.
    pub(crate) fn active_conns(&self, max: usize) -> Option<SmallVec<[(Key, RawFd); 8]>> {
        let mut out = SmallVec::new();
        for (k, c) in self.conns.iter() {
            if c.is_open() {
                if out.len() == max {
                    return None;
                }
                out.push((k, c.stream.as_raw_fd()));
            }
        }
        Some(out)
    }

    /// Whether only connections a caller's wait parked can bring the caller anything:
    /// between one and `max` of them, all parked with no output left, no inproc flow,
    /// nothing queued or listed, no batch to write and nothing to settle. (For
    /// `Guard::early_yield_hint`.)
    pub(crate) fn only_parked_input(&self, max: usize) -> bool {
        if self.has_inproc()
            || !self.dirty.is_empty()
            || !self.readable.is_empty()
            || !self.at_rest()
            || self.conns.len() > max
        {
            return false;
        }
        let mut parked = 0;
        for (_, c) in self.conns.iter().filter(|(_, c)| c.is_open()) {
            if !c.parked || c.has_output() {
                return false;
            }
            parked += 1;
        }
        parked > 0
    }

    /// Reads the connections a waiting caller polled (up to each pipe's RCVHWM, less what
    /// the caller holds). Whether any of them read anything.
    pub(crate) fn read_polled(&mut self, conns: &[(Key, RawFd)]) -> bool {
        let mut got = false;
        for &(k, _) in conns {
            got |= self.read_conn(k, Side::Caller);
        }
        got
    }

    /// Writes everything scheduled, in the calling thread. Returns whether that moved
    /// queued messages out of a pipe (making room a blocked send may use).
    pub fn flush_all(&mut self) -> bool {
        let dirty = std::mem::take(&mut self.dirty);
        let mut moved = false;
        for c in dirty {
            moved |= self.flush_conn(c, Side::Caller);
        }
        moved
    }

    /// A patient caller's write of a connection's output (its batch, then its pipe's
    /// queue), as [`Core::flush_conn`] for the caller does but, while the kernel is full
    /// and `enough` bytes or more wait, waiting for room (up to `budget` from the first wait) instead of
    /// leaving them to the I/O thread. `true`: fewer than `enough` bytes wait (what is left
    /// goes with the next batch, or after the hold-back). `false`: the budget ran out (the
    /// I/O thread takes over once there is room) or the connection is lost.
    fn write_patiently(
        &mut self,
        c: Key,
        budget: std::time::Duration,
        deadline: &mut Option<Instant>,
        enough: usize,
    ) -> bool {
        let before = self.wake_waiters;
        let done = loop {
            let (relieved, blocked) = self.write_out(c);
            let Some(conn) = self.conns.get_mut(c).filter(|c| c.closing.is_none()) else {
                break false;
            };
            if relieved {
                conn.corked = false;
            }
            if !blocked {
                break true;
            }
            if conn.zmtp.output_len() < enough {
                if !conn.want_write {
                    self.mark_dirty(c);
                }
                break true;
            }
            if !wait_for_room_until(conn, &self.room_wait, deadline, budget) {
                if conn.wait_for_room() {
                    self.reregister.push(c);
                }
                break false;
            }
        };
        self.wake_waiters = before;
        done
    }

    /// Writes a connection's pending output until done or WouldBlock (then WRITABLE
    /// interest takes over). Returns whether it took messages out of the pipe.
    pub(crate) fn flush_conn(&mut self, c: Key, side: Side) -> bool {
        let before = self.wake_waiters;
        let (relieved, blocked) = self.write_out(c);
        if side == Side::Caller {
            // Room it made itself is no reason to wake waiters.
            self.wake_waiters = before;
            if let Some(conn) = self.conns.get_mut(c).filter(|_| relieved) {
                // The caller is writing its backlog: what is left is newer than what the
                // I/O thread held back, and may be held back once more.
                conn.corked = false;
            }
        }
        if blocked {
            // Whoever flushed, the I/O thread takes over once the kernel has room.
            if self.conns.get_mut(c).is_some_and(Conn::wait_for_room) {
                self.reregister.push(c);
            }
        }
        relieved
    }

    /// Writes a connection's batch and its pipe's queue until done, WouldBlock or a loss.
    /// Returns whether it took messages out of the pipe, and whether it hit WouldBlock
    /// (with output left, and no interest in room registered for it).
    fn write_out(&mut self, c: Key) -> (bool, bool) {
        let Some(conn) = self.conns.get_mut(c) else {
            return (false, false);
        };
        if conn.closing.is_some() {
            return (false, false);
        }
        let active = conn.is_active();
        let pipe = conn.pipe.and_then(|p| self.pipes.get_mut(p));
        let mut pipe = if active { pipe } else { None };
        let mut relieved = false;
        let mut wrote = false;
        loop {
            conn.zmtp.queue_heartbeat();
            if let Some(p) = pipe.as_deref_mut() {
                let batch = batch_of(&conn.zmtp);
                while conn.zmtp.output_len() < batch {
                    let Some(m) = p.out.pop_front() else { break };
                    conn.zmtp.push_message(&m);
                    relieved = true;
                }
            }
            if !conn.has_output() {
                break;
            }
            match conn.write(&[]) {
                IoOutcome::Moved(_) => wrote = true,
                IoOutcome::WouldBlock => {
                    if relieved {
                        self.wake_waiters = true;
                    }
                    return (relieved, true);
                }
                IoOutcome::Retry => {}
                IoOutcome::Lost(reason) => {
                    conn.closing = Some(reason);
                    self.doomed.push(c);
                    return (relieved, false);
                }
            }
        }
        if wrote {
            conn.corked = false; // the next batch is a new one
            if conn.zmtp.wants_sweep() {
                self.sweep_wanted = true;
            }
        }
        if conn.want_write {
            // All written: no more wake-ups for room (a parked connection takes its
            // interest when the I/O thread takes it back).
            conn.want_write = false;
            self.reregister.push(c);
        }
        if relieved || self.wake_on_written {
            self.wake_on_written = false;
            self.wake_waiters = true;
        }
        (relieved, false)
    }

    /// Appends handshake or heartbeat output of a connection.
    pub(crate) fn poll_transmit(&mut self, c: Key) {
        let Some(conn) = self.conns.get_mut(c) else {
            return;
        };
        conn.zmtp.poll_transmit();
    }

    /// Reads and decodes what the connection has, up to RCVHWM queued messages (less what
    /// the layer above holds, see [`Core::set_lent`]). Whether anything came (bytes, or the
    /// connection's end).
    ///
    /// A read that does not fill the buffer emptied the socket: reading stops there,
    /// saving the read that would only say EAGAIN. Data that comes later is news to
    /// either side's poll (the I/O thread's edge-triggered one is told of it as it comes;
    /// a caller's is level-triggered). The exception is a connection whose hang-up the
    /// I/O thread's poll reported: the end of file (or error) came with the data, its
    /// edge is spent (perhaps while reading was paused at RCVHWM), and only reading on
    /// finds it, whichever side reads next.
    pub(crate) fn read_conn(&mut self, c: Key, side: Side) -> bool {
        let before = self.wake_waiters;
        let to_the_end = self.conns.get(c).is_some_and(|conn| conn.hangup_seen);
        let got = self.read_conn_until(c, !to_the_end);
        if side == Side::Caller {
            // It sees what it read itself: no reason to wake waiters.
            self.wake_waiters = before;
        }
        got
    }

    /// [`Core::read_conn`]; `short_read_ends` stops at the first read that does not fill
    /// the buffer.
    fn read_conn_until(&mut self, c: Key, short_read_ends: bool) -> bool {
        let mut drained = false;
        let mut got = false;
        let Some(conn) = self.conns.get_mut(c) else {
            return false;
        };
        if conn.closing.is_some() || conn.throttled {
            return false;
        }
        let mut buffered = conn.zmtp.has_buffered_input();
        loop {
            // Decode what is buffered first: it may fill the queue before any read.
            if buffered {
                if let Err(reason) = self.decode_buffered(c) {
                    self.doom(c, reason);
                    return got;
                }
                if let Some(conn) = self.conns.get_mut(c).filter(|c| c.junk_left == 0) {
                    // (Not listed yet: a throttled connection is not read until the list
                    // is taken.)
                    conn.throttled = true;
                    self.reread.push(c);
                    return got;
                }
            }
            let held = self.held_with_notices();
            let Some(conn) = self.conns.get_mut(c) else {
                return got;
            };
            if !conn.is_active() {
                return got; // the I/O thread drives handshakes
            }
            let full = conn
                .pipe
                .and_then(|p| self.pipes.get(p))
                .is_some_and(|p| p.at_mark(self.rcvhwm, held));
            if full {
                conn.read_paused = true;
                return got;
            }
            conn.read_paused = false;
            if drained {
                return got;
            }
            let queue = conn
                .pipe
                .and_then(|p| self.pipes.get_mut(p))
                .map(|p| &mut p.inbound);
            match conn.read(queue) {
                IoOutcome::Moved((n, room)) => {
                    buffered = true;
                    got = true;
                    if conn.zmtp.wants_sweep() {
                        self.sweep_wanted = true;
                    }
                    // A read that did not fill the buffer emptied the socket (see
                    // `read_conn`).
                    if short_read_ends && n < room {
                        drained = true;
                    }
                }
                IoOutcome::WouldBlock => return got,
                IoOutcome::Retry => {}
                IoOutcome::Lost(reason) => {
                    self.doom(c, reason);
                    return true; // (the loss is news too)
                }
            }
        }
    }

    pub(crate) fn doom(&mut self, c: Key, reason: CloseReason) {
        if let Some(conn) = self.conns.get_mut(c) {
            if conn.closing.is_none() {
                conn.closing = Some(reason);
                self.doomed.push(c);
                self.wake_waiters = true;
            }
        }
    }

    /// Dooms a connection for a protocol verdict, which replaces an I/O failure already
    /// recorded: sending our ERROR can fail because the peer, refusing us at the same moment,
    /// has closed, and the verdict is what explains the close.
    pub(crate) fn doom_for_verdict(&mut self, c: Key, reason: CloseReason) {
        match self.conns.get_mut(c) {
            Some(conn) if matches!(conn.closing, Some(CloseReason::Io(_))) => {
                conn.closing = Some(reason); // already in `doomed`
            }
            _ => self.doom(c, reason),
        }
    }

    /// Reads during the handshake (no HWM, no fast path), feeding the handshake after
    /// each read; stops once the peer's READY came in (the rest is traffic, read under
    /// the HWM). `Ok(Some(peer))`: the handshake completed. `Err` on a verdict, end of file
    /// or error.
    pub(crate) fn read_handshake(&mut self, c: Key) -> Result<Option<PeerInfo>, CloseReason> {
        let Some(conn) = self.conns.get_mut(c) else {
            return Ok(None);
        };
        // (Complete already, its peer taken: the rest is traffic, read under the HWM.)
        while !conn.zmtp.handshake_complete() {
            if conn.zap_request.is_some() {
                // Waiting for the ZAP handler: what the peer sends meanwhile stays in the
                // kernel (read once the reply came), not in our buffers.
                return Ok(None);
            }
            match conn.read(None) {
                IoOutcome::Moved(_) | IoOutcome::Retry => {}
                IoOutcome::WouldBlock => return Ok(None),
                IoOutcome::Lost(reason) => return Err(reason),
            }
            let peer = feed_handshake(conn, c, self.auth.as_deref(), self.zap_waiter.as_ref())?;
            if peer.is_some() {
                return Ok(peer);
            }
        }
        Ok(None)
    }

    /// Feeds buffered bytes to the handshake; returns the peer once it completed.
    pub(crate) fn advance_handshake(&mut self, c: Key) -> Result<Option<PeerInfo>, CloseReason> {
        match self.conns.get_mut(c) {
            Some(conn) => feed_handshake(conn, c, self.auth.as_deref(), self.zap_waiter.as_ref()),
            None => Ok(None),
        }
    }

    /// The ZAP handler answered connection `c`'s question: the handshake goes on.
    pub(crate) fn zap_answered(
        &mut self,
        c: Key,
        reply: Result<zmtp_codec::ZapReply, zmtp_codec::ZapError>,
    ) -> Result<Option<PeerInfo>, CloseReason> {
        match self.conns.get_mut(c) {
            Some(conn) if conn.zap_request.is_some() => {
                conn.zap_request = None;
                conn.zmtp.zap_answered(reply)
            }
            _ => Ok(None), // gone, or not waiting (a stale reply)
        }
    }

    /// Starts traffic on a connection whose handshake completed with `peer`.
    pub(crate) fn activate(&mut self, c: Key, peer: &PeerInfo, heartbeat: Heartbeat) {
        let limits = Limits {
            // MAXMSGSIZE bounds each frame, as in libzmq; the frame count is capped so that
            // endless multipart messages cannot grow without bound.
            max_frame_size: self.max_msg_size,
            max_message_size: None,
            max_message_frames: Some(MAX_MESSAGE_FRAMES),
            max_command_size: None,
        };
        if let Some(conn) = self.conns.get_mut(c) {
            conn.zmtp.activate(peer, limits, heartbeat);
        }
    }

    pub(crate) fn attach_conn_to_pipe(&mut self, c: Key, p: PipeId, peer: PeerInfo) {
        let (creds, addr) = self
            .conns
            .get(c)
            .map_or((None, None), |c| (c.creds, c.addr));
        if let Some(pipe) = self.pipes.get_mut(p) {
            pipe.conn = Some(c);
            pipe.peer = Some(peer);
            pipe.creds = creds;
            pipe.addr = addr;
            // A new peer on a kept pipe: the layer above decides afresh (Connected).
            pipe.discard_input = false;
        }
        if let Some(conn) = self.conns.get_mut(c) {
            conn.pipe = Some(p);
        }
    }

    /// Decodes buffered traffic of an active connection into its pipe's queue, as far as
    /// the connection's allowance for traffic that queues nothing goes ([`JUNK_PER_TURN`]).
    fn decode_buffered(&mut self, c: Key) -> Result<(), CloseReason> {
        let held = self.held_with_notices();
        let Some(conn) = self.conns.get_mut(c) else {
            return Ok(());
        };
        let Some(p) = conn.pipe else {
            return Ok(());
        };
        let Some(pipe) = self.pipes.get_mut(p) else {
            return Ok(());
        };
        let socket_type = self.socket_type;
        let mut inbox = PipeInbox {
            // PUB has no receive: data from subscribers is dropped (their subscriptions
            // still arrive as notices).
            discard: socket_type == SocketType::Pub || pipe.discard_input,
            id: p,
            pipe,
            readable: &mut self.readable,
            notices: &mut self.notices,
            sub_notices: &mut self.sub_notices,
            rcvhwm: self.rcvhwm,
            held,
            pub_side: matches!(socket_type, SocketType::Pub | SocketType::XPub),
            got: false,
            junk_left: conn.junk_left,
        };
        let done = conn.zmtp.decode(&mut inbox);
        conn.junk_left = inbox.junk_left;
        let woke = inbox.got || !self.notices.is_empty();
        if woke {
            self.wake_waiters = true;
        }
        if done?.pong {
            self.retime.push(c);
            self.schedule_flush(c);
        }
        Ok(())
    }
}

/// Where a connection's traffic goes: its pipe's queue (up to RCVHWM, less what the layer
/// above holds) and, for PUB and XPUB, subscriptions as notices.
struct PipeInbox<'a> {
    id: PipeId,
    pipe: &'a mut Pipe,
    readable: &'a mut VecDeque<PipeId>,
    notices: &'a mut VecDeque<Notice>,
    sub_notices: &'a mut usize,
    rcvhwm: usize,
    /// What counts towards RCVHWM besides the queue ([`Core::held_with_notices`]),
    /// kept up to date as subscriptions come.
    held: usize,
    /// PUB and XPUB: subscriptions come as commands or (ZMTP 3.0) one-frame messages.
    /// Until they are handed over (and, for XPUB, received as messages), they count
    /// towards RCVHWM like the messages queued here: a subscriber cannot queue more.
    pub_side: bool,
    /// Data messages are dropped (PUB, or a pipe the layer above discards).
    discard: bool,
    /// A message was queued.
    got: bool,
    /// What is left of the connection's allowance for traffic that queues nothing
    /// ([`JUNK_PER_TURN`]): commands count their bytes, messages dropped or taken as
    /// subscriptions [`Message::queued_cost`].
    junk_left: usize,
}

impl PipeInbox<'_> {
    fn subscribe(&mut self, sub: Subscription) {
        self.notices.push_back(Notice::Subscription(self.id, sub));
        *self.sub_notices += 1;
        self.held = self.held.saturating_add(1);
    }

    fn queued(&mut self) {
        if !self.got {
            self.got = true;
            // Listed at once: an error later in the buffer ends the decoding early.
            Core::list(self.readable, self.pipe, self.id);
        }
    }
}

impl Inbox for PipeInbox<'_> {
    #[inline]
    fn is_full(&self) -> bool {
        self.junk_left == 0 || self.pipe.at_mark(self.rcvhwm, self.held)
    }

    #[inline]
    fn junk(&mut self, bytes: usize) {
        self.junk_left = self.junk_left.saturating_sub(bytes);
    }

    #[inline]
    fn push_frame(&mut self, body: Bytes) -> bool {
        if self.pub_side || self.discard {
            return self.push_message(Message::from(body));
        }
        // A one-frame message built in its queue slot: a message built elsewhere and
        // moved there costs a stalled copy per message.
        self.pipe.inbound_bytes += Message::one_frame_cost(body.len());
        self.pipe.inbound.push_back(Message::new());
        if let Some(m) = self.pipe.inbound.back_mut() {
            m.push(body);
        }
        self.queued();
        true
    }

    fn push_message(&mut self, msg: Message) -> bool {
        if self.pub_side && msg.len() == 1 {
            if let Some(sub) = Subscription::from_data_frame(&msg.frames()[0]) {
                self.junk(msg.queued_cost());
                self.subscribe(sub);
                return false;
            }
        }
        if self.discard {
            self.junk(msg.queued_cost());
            return false;
        }
        self.pipe.inbound_bytes += msg.queued_cost();
        self.pipe.inbound.push_back(msg);
        self.queued();
        true
    }

    fn subscription(&mut self, sub: Subscription) {
        if self.pub_side {
            self.subscribe(sub);
        }
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// How long a patient [`Core::send_copy_now`] waits, per byte of its body, for the kernel
/// to take output: a few times what copying it into fresh pages would cost (about 4
/// bytes a nanosecond here), so that a peer draining at a gigabyte a second or more is
/// waited for. While the peer drains, a sender that waits touches no new memory and
/// leaves the CPU to it; a peer that does not drain costs each large send that wait.
const PATIENCE_PER_BYTE_NS: u64 = 1;

/// The longest a patient send waits for the kernel, however large its body: it holds the
/// socket's lock meanwhile, so this socket's work on the I/O thread (accepts, timers)
/// waits too; the thread's other sockets do not (a turn that finds the lock taken is
/// put off).
const PATIENCE_MAX: std::time::Duration = std::time::Duration::from_millis(10);

/// How long a patient caller's full batch waits for the kernel to take some of it: about
/// how long a reader takes to drain the kernel's buffer and be woken.
const BATCH_PATIENCE: std::time::Duration = std::time::Duration::from_micros(200);

/// How long a patient send of a body of `len` bytes waits for the kernel in all.
fn body_patience(len: usize) -> std::time::Duration {
    std::time::Duration::from_nanos(len as u64 * PATIENCE_PER_BYTE_NS).min(PATIENCE_MAX)
}

/// Sleeps until the connection can take more output, within `budget` from the first
/// wait. `false`: the budget is spent.
fn wait_for_room_until(
    conn: &Conn,
    room_wait: &RoomWait,
    deadline: &mut Option<Instant>,
    budget: std::time::Duration,
) -> bool {
    use std::sync::atomic::Ordering;
    debug_assert!(
        budget <= PATIENCE_MAX,
        "a wait under the lock past its bound"
    );
    let now = Instant::now();
    let d = *deadline.get_or_insert(now + budget);
    if now >= d {
        return false;
    }
    room_wait.caller.store(true, Ordering::SeqCst);
    // The I/O thread already waits for the lock (it looked before this wait was said):
    // its other sockets wait too, so what is left of this send's waiting is short.
    let d = if room_wait.io.load(Ordering::SeqCst) {
        let short = d.min(now + BATCH_PATIENCE);
        *deadline = Some(short);
        short
    } else {
        d
    };
    let room = sys::wait_writable(&conn.stream, d - now);
    room_wait.caller.store(false, Ordering::SeqCst);
    room
}

/// Feeds what connection `c` read to its handshake, asking `auth` when the handshake must
/// authenticate its peer; a question sent to the ZAP handler is remembered on the
/// connection (its reply comes to `waiter`).
fn feed_handshake(
    conn: &mut Conn,
    c: Key,
    auth: Option<&crate::auth::AuthSlot>,
    waiter: Option<&std::sync::Weak<dyn crate::zap::ZapWaiter>>,
) -> Result<Option<PeerInfo>, CloseReason> {
    use crate::auth::Answer;
    let (addr, creds) = (conn.addr, conn.creds);
    let mut later = None;
    let peer = conn.zmtp.handshake_input(
        || crate::auth::zap_address(addr, creds),
        |req| match (auth, waiter) {
            (Some(auth), Some(waiter)) => {
                let answer = auth.ask(req, waiter, c);
                if let Answer::Later(id) = answer {
                    later = Some(id);
                }
                answer
            }
            _ => Answer::Nobody,
        },
    );
    if later.is_some() {
        conn.zap_request = later;
    }
    peer
}
