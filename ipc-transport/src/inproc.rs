//! `inproc://`: sockets of one context joined in memory, with no kernel socket and no
//! wire encoding: a message's frames move from one socket's pipe to the other's as they
//! are.
//!
//! A connect makes a [`Link`]: two flows (one each way) between a pipe in each socket.
//! The writer of a flow appends under the link's own lock (a leaf: nothing else is locked
//! while it is held) and the reader takes whole batches, swapping the flow's queue with
//! its pipe's empty one. Neither side ever takes the other socket's lock to move
//! messages: what the other must learn (input after it found the flow empty, room after
//! its writer found it full, the peer's arrival or departure) goes through the other
//! socket's [`Bell`], a list of pipes to look at and a flag its calls check whenever they
//! take their own lock, which also wakes a caller sleeping on the socket.
//!
//! HWM as libzmq counts it over inproc: a flow holds at most the writer's SNDHWM plus the
//! reader's RCVHWM messages that the reader's application has not taken (no limit if
//! either is 0); until the name is bound, the writer's SNDHWM alone.
//!
//! Names are a context's ([`Names`]): a connect to a name nobody bound waits in the
//! registry, with what was sent meanwhile, until a socket binds it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use zmtp_codec::{Metadata, PeerInfo, SocketType, Subscription, Version};

use crate::core::PipeId;
use crate::{Message, TransportError};

/// The side of a link that connected.
pub(crate) const CONNECTER: usize = 0;
/// The side of a link that bound the name.
pub(crate) const BINDER: usize = 1;

/// The name of an `inproc://` endpoint, or `None` for another scheme. An empty name is
/// EINVAL, as in libzmq.
pub(crate) fn name(endpoint: &str) -> Result<Option<&str>, TransportError> {
    let Some(name) = endpoint.strip_prefix("inproc://") else {
        return Ok(None);
    };
    if name.is_empty() {
        return Err(TransportError::InprocEmptyName);
    }
    Ok(Some(name))
}

/// How many messages a reader takes before it tells a writer waiting for room, unless
/// the flow runs empty first: about half the mark, as libzmq's low-water mark, so that
/// a writer at the mark is woken once per half queue rather than once per message.
fn low_water(cap: usize) -> usize {
    if cap > 2048 {
        cap - 1024
    } else {
        cap.div_ceil(2).max(1)
    }
}

/// The sum of two HWMs, as libzmq adds them for inproc (0, no limit, if either is).
fn hwm_sum(a: usize, b: usize) -> usize {
    if a == 0 || b == 0 {
        0
    } else {
        a.saturating_add(b)
    }
}

/// What a socket shows the other end of its inproc links: its bell and the pipes that
/// links attach to.
pub(crate) trait InprocSocket: Send + Sync {
    /// Asks the socket to look at its pipe `pipe` (input, room, or the peer's arrival or
    /// departure). Takes no lock but the bell's; wakes a caller sleeping on the socket.
    /// A `lifecycle` ring (arrival, departure) also has the socket's I/O thread look at
    /// once, so that its monitor reports it and a departed peer's pipe goes without
    /// waiting for the socket's next call.
    fn ring(&self, pipe: PipeId, lifecycle: bool);
    /// Gives the socket a pipe for its `side` of `link` (made by a connect to
    /// `endpoint`). `false`: the socket is closing or closed.
    fn attach(&self, link: &Arc<Link>, side: usize, endpoint: &str) -> bool;
}

/// A socket's doorbell for its inproc links (see the module documentation). On cache lines
/// of its own: every lock of the socket reads `pending`, and peers write it.
#[derive(Default)]
#[repr(align(128))]
pub(crate) struct Bell {
    /// Pipes to look at.
    ready: Mutex<Vec<PipeId>>,
    /// Something was rung since the socket last looked.
    pub(crate) pending: AtomicBool,
    /// A caller is about to sleep (or sleeps) on the notify descriptor: a ring must
    /// signal it.
    pub(crate) sleeping: AtomicBool,
    /// The notify descriptor was handed out (ZMQ_FD, an event loop's wait set): every
    /// ring signals it.
    pub(crate) armed: AtomicBool,
}

impl Bell {
    /// Records a ring; `true` when the notify descriptor must be signalled.
    pub(crate) fn ring(&self, pipe: PipeId) -> bool {
        lock(&self.ready).push(pipe);
        self.pending.store(true, Ordering::SeqCst);
        self.sleeping.load(Ordering::SeqCst) || self.armed.load(Ordering::SeqCst)
    }

    /// Whether a ring may have come since the last [`Bell::take`] (one load: every lock
    /// of a socket asks).
    #[inline]
    pub(crate) fn rung(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// The pipes rung since the last call, if any.
    pub(crate) fn take(&self) -> Option<Vec<PipeId>> {
        if !self.pending.swap(false, Ordering::SeqCst) {
            return None;
        }
        Some(std::mem::take(&mut *lock(&self.ready)))
    }
}

/// Locks a link's state or a bell's list. What is done under these locks is a few
/// hundred nanoseconds at most, so a thread that finds one taken spins, then yields,
/// rather than sleep in the kernel: a waiter asleep there would make the holder's unlock a
/// futex wake-up, a system call on a writer's path per message. (Every update under them
/// is a single step: nothing half-done to see after a panic.)
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    let mut tries = 0u32;
    loop {
        match m.try_lock() {
            Ok(g) => return g,
            Err(std::sync::TryLockError::Poisoned(e)) => return e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => {
                tries += 1;
                // (On one CPU the holder cannot run while this spins.)
                if tries < SPIN_TRIES && crate::engine::multi_cpu() {
                    std::hint::spin_loop();
                } else {
                    std::thread::yield_now();
                }
            }
        }
    }
}

/// How often [`lock`] tries before it yields the CPU between tries.
const SPIN_TRIES: u32 = 100;

/// Bodies up to this size that are copied anyway (a send of borrowed bytes) are packed
/// into the flow's shared buffer rather than each given an allocation of its own: the
/// reader slices them out of it, as it slices frames out of a read buffer.
pub(crate) const PACK_MAX: usize = 2048;

/// The first allocation of a flow's pack buffer (it grows as needed).
const PACK_CHUNK: usize = 16 * 1024;

/// What a flow holds, in order.
pub(crate) enum Entry {
    /// So many bodies packed in the flow's buffer (see [`PACK_MAX`]), in order: a writer
    /// of small copied messages adds a count and a few bytes per message, and the reader
    /// makes the messages (so no memory written per message crosses between the threads
    /// but the bodies themselves).
    Packed(usize),
    /// A message as it was handed over: its frames move as they are.
    Whole(Message),
}

/// One direction of a link: what one side wrote and the other has not taken.
#[derive(Default)]
struct Flow {
    entries: VecDeque<Entry>,
    /// Messages in `entries` (a run of packed bodies counts each).
    len: usize,
    /// The packed bodies (see [`PACK_MAX`]), each after its length (u32, little end).
    packed: BytesMut,
    /// The bytes of the frames of the messages in `entries`.
    bytes: usize,
    /// Subscription changes (SUB and XSUB to PUB and XPUB), ahead of the HWM.
    subs: VecDeque<Subscription>,
    /// Written and not yet taken by the reader's application.
    in_flight: usize,
    /// The most in flight (0: no limit).
    cap: usize,
    /// The writer's CONFLATE: the flow keeps only the newest message.
    conflate: bool,
    /// The reader found the flow empty and stopped looking at it: the next write rings.
    reader_idle: bool,
    /// The writer found it full: the reader rings it once it takes enough.
    writer_blocked: bool,
}

/// One side of a link.
#[derive(Default)]
struct End {
    /// The side's socket and its pipe, once attached.
    socket: Option<(Weak<dyn InprocSocket>, PipeId)>,
    /// Who the side is (for the other's peer metadata and routing id).
    info: Option<PeerInfo>,
    sndhwm: usize,
    rcvhwm: usize,
    /// The side let go of the link: nothing more comes from it, and what it did not
    /// take is dropped.
    closed: bool,
}

struct LinkState {
    /// `flows[s]`: written by side `s`.
    flows: [Flow; 2],
    ends: [End; 2],
    /// The two socket types cannot talk (a PUSH connected to a PUSH's name).
    refused: bool,
}

/// Two pipes of two sockets of one context, joined in memory.
pub(crate) struct Link {
    state: Mutex<LinkState>,
    /// `writer_blocked` of each flow, readable without the lock: a reader looks at it
    /// after each message it takes.
    blocked: [AtomicBool; 2],
    /// Each flow's low-water mark (see [`low_water`]), set as its mark is.
    low_water: [AtomicUsize; 2],
    /// How many messages each flow holds, kept as it changes: a reader spinning for
    /// input before it marks the flow idle watches it without the lock. Each on a cache
    /// line of its own (the writer stores it per message).
    len_hint: [LenHint; 2],
}

/// See [`Link::len_hint`].
#[derive(Default)]
#[repr(align(128))]
struct LenHint(AtomicUsize);

/// How a reader looks at its flow ([`Link::sync`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Look {
    /// Drop what is taken (PUB, a discarded pipe, REQ's stale replies).
    pub(crate) discard: bool,
    /// Mark the flow idle if nothing is left (the next write rings).
    pub(crate) idle_if_empty: bool,
}

/// What a reader learned from [`Link::sync`].
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Synced {
    /// The peer let go: everything it wrote is in the pipe's queue now, and no more comes.
    pub(crate) peer_closed: bool,
}

impl Link {
    pub(crate) fn new() -> Link {
        Link {
            state: Mutex::new(LinkState {
                flows: Default::default(),
                ends: Default::default(),
                refused: false,
            }),
            blocked: Default::default(),
            low_water: Default::default(),
            len_hint: Default::default(),
        }
    }

    /// Whether the flow the reader `side` reads holds messages, as far as can be told
    /// without the lock (for a reader spinning before it marks the flow idle).
    #[inline]
    pub(crate) fn input_hint(&self, side: usize) -> bool {
        self.len_hint[1 - side].0.load(Ordering::Relaxed) != 0
    }

    /// Attaches `side`: its socket, pipe, identity and HWMs. Sets the flows' marks (the
    /// sums once both sides are known) and tells an attached peer.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn join(
        &self,
        side: usize,
        socket: Weak<dyn InprocSocket>,
        pipe: PipeId,
        info: PeerInfo,
        sndhwm: usize,
        rcvhwm: usize,
        conflate: bool,
    ) {
        let peer = 1 - side;
        let mut st = lock(&self.state);
        let ours = info.socket_type;
        st.ends[side] = End {
            socket: Some((socket, pipe)),
            info: Some(info),
            sndhwm,
            rcvhwm,
            closed: false,
        };
        st.flows[side].conflate = conflate;
        let theirs = st.ends[peer].info.as_ref().map(|p| p.socket_type);
        let joined = theirs.is_some();
        if let (Some(a), Some(Some(b))) = (ours, theirs) {
            if !a.is_compatible(b) {
                st.refused = true;
            }
        }
        if joined {
            let (psnd, prcv) = (st.ends[peer].sndhwm, st.ends[peer].rcvhwm);
            st.flows[side].cap = hwm_sum(sndhwm, prcv);
            st.flows[peer].cap = hwm_sum(psnd, rcvhwm);
        } else {
            st.flows[side].cap = sndhwm;
        }
        for s in [side, peer] {
            self.low_water[s].store(low_water(st.flows[s].cap), Ordering::Relaxed);
        }
        let ring = if joined {
            st.ends[peer].socket.clone()
        } else {
            None
        };
        drop(st);
        ring_end_as(ring, true);
    }

    /// Who the other side of `side` is, once it attached.
    pub(crate) fn peer_info(&self, side: usize) -> Option<PeerInfo> {
        lock(&self.state).ends[1 - side].info.clone()
    }

    /// Whether the reader `side` has messages in the flow it has not taken yet (for
    /// readiness). None: the flow is marked idle, so that the next write rings (a caller
    /// told "nothing" may wait on the notify descriptor next).
    pub(crate) fn has_input(&self, side: usize) -> bool {
        let mut st = lock(&self.state);
        let f = &mut st.flows[1 - side];
        if f.len == 0 {
            f.reader_idle = true;
            return false;
        }
        true
    }

    /// Whether the other side of `side` let go (or the pair was refused).
    pub(crate) fn is_peer_closed(&self, side: usize) -> bool {
        let st = lock(&self.state);
        st.ends[1 - side].closed || st.refused
    }

    /// Whether the pair was refused (incompatible socket types).
    pub(crate) fn is_refused(&self) -> bool {
        lock(&self.state).refused
    }

    /// Whether a message from `side` would be taken now.
    pub(crate) fn can_write(&self, side: usize) -> bool {
        let st = lock(&self.state);
        let f = &st.flows[side];
        !st.refused
            && !st.ends[1 - side].closed
            && (f.conflate || f.cap == 0 || f.in_flight < f.cap)
    }

    /// Appends a message from `side` (an empty message is one empty frame, as on the
    /// wire); rings the reader if it had stopped looking. `Err` gives the message back:
    /// the flow is at its HWM (the reader rings the writer once it has taken enough) or
    /// the peer is gone (the pipe is about to go too).
    pub(crate) fn write(&self, side: usize, mut msg: Message) -> Result<(), Message> {
        if msg.is_empty() {
            msg.push(Bytes::new());
        }
        let bytes = msg.queued_cost();
        let mut st = lock(&self.state);
        let peer = 1 - side;
        if st.refused || st.ends[peer].closed {
            return Err(msg);
        }
        let f = &mut st.flows[side];
        if !self.make_room(f, side) {
            return Err(msg);
        }
        f.entries.push_back(Entry::Whole(msg));
        self.appended(st, side, bytes);
        Ok(())
    }

    /// After a message of `bytes` was appended to `side`'s flow: counts it, and rings
    /// the reader if it had stopped looking.
    fn appended(&self, mut st: MutexGuard<'_, LinkState>, side: usize, bytes: usize) {
        let peer = 1 - side;
        let f = &mut st.flows[side];
        f.len += 1;
        self.len_hint[side].0.store(f.len, Ordering::Relaxed);
        f.bytes += bytes;
        f.in_flight += 1;
        let ring = if std::mem::take(&mut f.reader_idle) {
            st.ends[peer].socket.clone()
        } else {
            None
        };
        drop(st);
        ring_end(ring);
    }

    /// [`Link::write`] of a copy of `body` (at most [`PACK_MAX`] bytes), packed into the
    /// flow's buffer. `false`: at the HWM, or the peer is gone.
    pub(crate) fn write_copy(&self, side: usize, body: &[u8]) -> bool {
        if body.len() > PACK_MAX {
            return self
                .write(side, Message::from(Bytes::copy_from_slice(body)))
                .is_ok();
        }
        let mut st = lock(&self.state);
        let peer = 1 - side;
        if st.refused || st.ends[peer].closed {
            return false;
        }
        let f = &mut st.flows[side];
        if !self.make_room(f, side) {
            return false;
        }
        if f.packed.capacity() - f.packed.len() < 4 + body.len() {
            // A new buffer's memory was last touched by another thread (often the reader,
            // which freed it): written to here one body at a time, each first store to a
            // cache line would miss, and the lock's release waits for it, once per
            // message. Written through at once, the misses overlap, and the bodies that
            // follow land in lines this thread holds (64 B messages: 3x the rate).
            f.packed.reserve(PACK_CHUNK.max(4 + body.len()));
            f.packed
                .spare_capacity_mut()
                .fill(std::mem::MaybeUninit::new(0));
        }
        f.packed.put_u32_le(body.len() as u32);
        f.packed.extend_from_slice(body);
        match f.entries.back_mut() {
            Some(Entry::Packed(n)) => *n += 1,
            _ => f.entries.push_back(Entry::Packed(1)),
        }
        self.appended(st, side, Message::one_frame_cost(body.len()));
        true
    }

    /// Before a write to `f` (written by `side`): CONFLATE drops what waits; otherwise
    /// `false` at the HWM (the writer is marked blocked: the reader rings it).
    fn make_room(&self, f: &mut Flow, side: usize) -> bool {
        if f.conflate {
            f.in_flight = f.in_flight.saturating_sub(f.len);
            f.entries.clear();
            f.len = 0;
            f.packed.clear();
            f.bytes = 0;
        } else if f.cap != 0 && f.in_flight >= f.cap {
            f.writer_blocked = true;
            self.blocked[side].store(true, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// Appends a subscription change from `side`, ahead of the HWM; always rings the
    /// reader (it handles them as it looks at the pipe).
    pub(crate) fn write_subscription(&self, side: usize, sub: Subscription) {
        let mut st = lock(&self.state);
        let peer = 1 - side;
        if st.refused || st.ends[peer].closed {
            return;
        }
        st.flows[side].subs.push_back(sub);
        let ring = st.ends[peer].socket.clone();
        drop(st);
        ring_end(ring);
    }

    /// Whether a reader that took messages should tell the flow now rather than at its
    /// next batch: the writer waits for room and `released` reached the low-water mark.
    #[inline]
    pub(crate) fn writer_waits(&self, side: usize, released: usize) -> bool {
        self.blocked[1 - side].load(Ordering::Relaxed)
            && released >= self.low_water[1 - side].load(Ordering::Relaxed)
    }

    /// The reader `side`'s look at what its peer wrote: counts `released` messages as
    /// taken (ringing a writer waiting for room); moves the next batch into `queue` if
    /// it is empty (`bytes`: their size), or drops it if the look says to discard; takes the
    /// subscription changes into `subs` when given. When nothing is left and the look
    /// says so, the flow is marked idle, so the next write rings.
    pub(crate) fn sync(
        &self,
        side: usize,
        queue: &mut VecDeque<Message>,
        bytes: &mut usize,
        reader: &mut ReaderState,
        how: Look,
        subs: Option<&mut Vec<Subscription>>,
    ) -> Synced {
        let Look {
            discard,
            idle_if_empty,
        } = how;
        let peer = 1 - side;
        let mut st = lock(&self.state);
        let peer_closed = st.ends[peer].closed || st.refused;
        let LinkState { flows, ends, .. } = &mut *st;
        let f = &mut flows[peer];
        f.in_flight = f
            .in_flight
            .saturating_sub(std::mem::take(&mut reader.released));
        // What is taken now: the flow's entries (it gets the reader's empty spare deque)
        // and its packed bodies. With the peer gone, all that is left, whatever the
        // queue holds (it counts for nothing any more).
        let mut taken = None;
        if peer_closed || queue.is_empty() {
            if f.len == 0 {
                f.reader_idle |= idle_if_empty && !peer_closed;
            } else {
                let entries = std::mem::replace(&mut f.entries, std::mem::take(&mut reader.spare));
                let n = std::mem::take(&mut f.len);
                self.len_hint[peer].0.store(0, Ordering::Relaxed);
                *bytes += std::mem::take(&mut f.bytes);
                taken = Some((entries, f.packed.split().freeze(), n));
            }
            if peer_closed {
                f.in_flight = 0;
            }
        }
        if discard {
            let dropped = queue.len() + taken.as_ref().map_or(0, |t| t.2);
            if dropped != 0 {
                f.in_flight = f.in_flight.saturating_sub(dropped);
                queue.clear();
                *bytes = 0;
                if let Some((mut entries, _, _)) = taken.take() {
                    entries.clear();
                    reader.spare = entries;
                }
                f.reader_idle |= !peer_closed;
            }
        }
        if let Some(subs) = subs {
            subs.extend(f.subs.drain(..));
        }
        let room = f.writer_blocked && (f.cap == 0 || f.in_flight < f.cap);
        let ring = if room {
            f.writer_blocked = false;
            self.blocked[peer].store(false, Ordering::SeqCst);
            ends[peer].socket.clone()
        } else {
            None
        };
        drop(st);
        ring_end(ring);
        if let Some((mut entries, packed, n)) = taken {
            expand(&mut entries, packed, n, queue);
            reader.spare = entries;
        }
        Synced { peer_closed }
    }

    /// `side` lets go: what it did not take is dropped (waking a writer waiting for room
    /// is pointless now), what it wrote stays for the peer, and the peer is rung.
    pub(crate) fn close(&self, side: usize) {
        let peer = 1 - side;
        let mut st = lock(&self.state);
        if st.ends[side].closed {
            return;
        }
        st.ends[side].closed = true;
        st.ends[side].socket = None;
        let f = &mut st.flows[peer];
        f.entries.clear();
        f.len = 0;
        self.len_hint[peer].0.store(0, Ordering::Relaxed);
        f.packed = BytesMut::new();
        f.subs.clear();
        f.bytes = 0;
        f.in_flight = 0;
        let ring = st.ends[peer].socket.clone();
        drop(st);
        ring_end_as(ring, true);
    }

    /// Whether `side` let go and left nothing for a peer to take (a pending connect that
    /// no bind needs to see).
    fn abandoned_by(&self, side: usize) -> bool {
        let st = lock(&self.state);
        st.ends[side].closed && st.flows[side].len == 0
    }

    /// Whether `socket` is the connecting side.
    fn connected_by(&self, socket: &Weak<dyn InprocSocket>) -> bool {
        lock(&self.state).ends[CONNECTER]
            .socket
            .as_ref()
            .is_some_and(|(s, _)| Weak::ptr_eq(s, socket))
    }
}

/// Appends the `n` messages of `entries` (emptied) to `queue`, in order: the packed ones
/// made here, each a slice of `packed` (no copy), built in its queue slot.
fn expand(
    entries: &mut VecDeque<Entry>,
    mut packed: Bytes,
    n: usize,
    queue: &mut VecDeque<Message>,
) {
    queue.reserve(n);
    for e in entries.drain(..) {
        match e {
            Entry::Whole(m) => queue.push_back(m),
            Entry::Packed(k) => {
                for _ in 0..k {
                    // (Written by `write_copy` just so: a length, then that many bytes.)
                    let body = if packed.len() >= 4 {
                        let len = (packed.get_u32_le() as usize).min(packed.len());
                        packed.split_to(len)
                    } else {
                        debug_assert!(false, "a packed body is missing");
                        Bytes::new()
                    };
                    queue.push_back(Message::new());
                    if let Some(m) = queue.back_mut() {
                        m.push(body);
                    }
                }
            }
        }
    }
}

fn ring_end(end: Option<(Weak<dyn InprocSocket>, PipeId)>) {
    ring_end_as(end, false);
}

fn ring_end_as(end: Option<(Weak<dyn InprocSocket>, PipeId)>, lifecycle: bool) {
    if let Some((socket, pipe)) = end {
        if let Some(s) = socket.upgrade() {
            s.ring(pipe, lifecycle);
        }
    }
}

/// A reader's side of its looks at a flow.
#[derive(Default)]
pub(crate) struct ReaderState {
    /// Messages the application took since the flow was last told.
    pub(crate) released: usize,
    /// An empty deque (its buffer kept) that the flow gets in exchange for its entries.
    spare: VecDeque<Entry>,
}

/// A pipe's end of its link.
pub(crate) struct InprocEnd {
    pub(crate) link: Arc<Link>,
    pub(crate) side: usize,
    pub(crate) reader: ReaderState,
    /// On the socket's list of pipes found empty and not marked idle yet.
    pub(crate) unwatched: bool,
    /// How many messages the reader's last look took, and when it was
    /// ([`crate::sys::monotonic_ns`]).
    pub(crate) last_batch: usize,
    pub(crate) last_look: u64,
}

impl std::fmt::Debug for InprocEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InprocEnd")
            .field("side", &self.side)
            .field("released", &self.reader.released)
            .finish_non_exhaustive()
    }
}

impl Drop for InprocEnd {
    fn drop(&mut self) {
        self.link.close(self.side);
    }
}

/// What a socket tells an inproc peer about itself: its type and (REQ, DEALER, ROUTER,
/// as the ZMTP handshake sends it) its routing id.
pub(crate) fn peer_info(socket_type: SocketType, routing_id: &Bytes) -> PeerInfo {
    let identity = matches!(
        socket_type,
        SocketType::Req | SocketType::Dealer | SocketType::Router
    )
    .then(|| routing_id.clone());
    let mut metadata = Metadata::new().with(zmtp_codec::wire::PROP_SOCKET_TYPE, socket_type.name());
    if let Some(id) = &identity {
        metadata = metadata.with(zmtp_codec::wire::PROP_IDENTITY, id.clone());
    }
    PeerInfo {
        version: Version::V3_1,
        socket_type: Some(socket_type),
        identity,
        metadata,
        user_id: None,
        zap_metadata: Metadata::new(),
    }
}

/// A bound name.
struct Bound {
    socket: Weak<dyn InprocSocket>,
}

/// The inproc names of one context: who bound each, and the connects waiting for a bind.
///
/// Lock order: this registry's lock may be held while a socket's state is locked (a
/// connect attaching to the binder), never the other way round.
#[derive(Default)]
pub(crate) struct Names {
    inner: Mutex<NamesInner>,
    /// Whether a live socket holds the ZAP handler's name (read without the lock: by a
    /// handshake, under its socket's lock, where this registry's lock may not be taken).
    zap_bound: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct NamesInner {
    bound: HashMap<String, Bound>,
    /// Connects made before their name was bound, oldest first.
    pending: HashMap<String, Vec<Arc<Link>>>,
}

impl Names {
    /// Binds `name` for `socket`; returns the connects that waited for it (to be attached
    /// by the caller, without this lock). EADDRINUSE when a live socket holds it.
    pub(crate) fn bind(
        &self,
        name: &str,
        endpoint: &str,
        socket: Weak<dyn InprocSocket>,
    ) -> Result<Vec<Arc<Link>>, TransportError> {
        let mut n = lock(&self.inner);
        if n.bound
            .get(name)
            .is_some_and(|b| b.socket.strong_count() > 0)
        {
            return Err(TransportError::AddrInUse {
                endpoint: endpoint.to_string(),
                reason: "another socket of this context bound it".to_string(),
            });
        }
        n.bound.insert(name.to_string(), Bound { socket });
        self.note_zap(&n);
        Ok(n.pending.remove(name).unwrap_or_default())
    }

    /// Connects `link` (attached on the connecting side already) to whoever bound `name`,
    /// or leaves it waiting for a bind.
    pub(crate) fn connect(&self, name: &str, endpoint: &str, link: Arc<Link>) {
        let mut n = lock(&self.inner);
        if let Some(binder) = n.bound.get(name).and_then(|b| b.socket.upgrade()) {
            // (The binder's lock is taken under this one: see the lock order.)
            if binder.attach(&link, BINDER, endpoint) {
                return;
            }
        }
        n.pending.entry(name.to_string()).or_default().push(link);
    }

    /// Whether a ZAP handler is bound (`inproc://zeromq.zap.01`), without the lock.
    pub(crate) fn zap_bound(&self) -> bool {
        self.zap_bound.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn note_zap(&self, n: &NamesInner) {
        let bound = n.bound.contains_key(crate::zap::ZAP_HANDLER);
        self.zap_bound
            .store(bound, std::sync::atomic::Ordering::SeqCst);
    }

    /// Unbinds `name` if `socket` bound it. Connections made through it stay, as in
    /// libzmq.
    pub(crate) fn unbind(&self, name: &str, socket: &Weak<dyn InprocSocket>) -> bool {
        let mut n = lock(&self.inner);
        match n.bound.get(name) {
            Some(b) if Weak::ptr_eq(&b.socket, socket) => {
                n.bound.remove(name);
                self.note_zap(&n);
                true
            }
            _ => false,
        }
    }

    /// Drops `socket`'s connects to `name` that still wait for a bind.
    pub(crate) fn forget_pending(&self, name: &str, socket: &Weak<dyn InprocSocket>) {
        let mut n = lock(&self.inner);
        if let Some(links) = n.pending.get_mut(name) {
            links.retain(|l| !l.connected_by(socket));
            if links.is_empty() {
                n.pending.remove(name);
            }
        }
    }

    /// A socket closes: its names go, and so do its waiting connects that carry nothing
    /// (the others keep what was sent for the bind that may come, as in libzmq).
    pub(crate) fn socket_closed(&self, socket: &Weak<dyn InprocSocket>) {
        let mut n = lock(&self.inner);
        n.bound.retain(|_, b| !Weak::ptr_eq(&b.socket, socket));
        self.note_zap(&n);
        n.pending.retain(|_, links| {
            links.retain(|l| !l.abandoned_by(CONNECTER));
            !links.is_empty()
        });
    }
}
