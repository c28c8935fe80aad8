//! The socket types' routing rules (RFC 28/REQREP, 29/PUBSUB, 30/PIPELINE, 31/EXPAIR),
//! run under the engine's lock with the transport's pipes.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use ipc_transport::{Core, Handler, Message, Notice, PipeId, RecvRead, SendWait};
use zmtp_codec::{SocketType, Subscription};

use crate::subs::{Subscribers, Subscriptions, TopicLog};

/// The frames in front of a request's body, up to and including the empty delimiter: what
/// REQ puts there, what REP keeps for the reply. The usual one, the delimiter alone,
/// borrows a static frame: nothing is built or dropped for each request and reply.
#[derive(Debug)]
enum Envelope {
    Delimiter,
    Frames(smallvec::SmallVec<[Bytes; 2]>),
}

impl std::ops::Deref for Envelope {
    type Target = [Bytes];

    fn deref(&self) -> &[Bytes] {
        static DELIMITER: [Bytes; 1] = [Bytes::new()];
        match self {
            Envelope::Delimiter => &DELIMITER,
            Envelope::Frames(frames) => frames,
        }
    }
}

/// Why a send could not happen now.
#[derive(Debug)]
pub(crate) enum SendError {
    /// Would block; the message stays the caller's, as it gave it.
    Again,
    /// Not allowed in this state.
    Fsm,
    /// ROUTER_MANDATORY and no such peer.
    HostUnreachable,
    /// The socket type cannot send.
    NotSupported,
}

/// Why a receive could not happen now.
#[derive(Debug)]
pub(crate) enum RecvError {
    Again,
    Fsm,
    NotSupported,
}

/// Settings the routing rules read.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoutingOptions {
    pub(crate) req_relaxed: bool,
    pub(crate) req_correlate: bool,
    pub(crate) router_mandatory: bool,
    pub(crate) router_handover: bool,
    pub(crate) xpub_verbose: bool,
    pub(crate) xpub_nodrop: bool,
    /// CONNECT_ROUTING_ID waiting for the next connect.
    pub(crate) connect_routing_id: Option<Bytes>,
}

/// Every pipe of the socket: the receiving types' rings hold all their pipes (ROUTER's, the
/// identified ones).
fn every(_: PipeId) -> bool {
    true
}

/// With at most this many pipes, a receive that finds nothing queued reads their
/// connections itself; the waits poll as many (the transport's own bound).
const CALLER_READ_PIPES: usize = ipc_transport::CALLER_POLLED_CONNS;

/// Pipes taken in turn, starting after the last one used: round-robin for sending
/// (30/PIPELINE "load-balance") and for receiving ("fair-queue").
#[derive(Debug, Default)]
struct Ring {
    pipes: Vec<PipeId>,
    next: usize,
}

impl Ring {
    fn add(&mut self, p: PipeId) {
        self.pipes.push(p);
    }

    fn remove(&mut self, p: PipeId) {
        if let Some(i) = self.pipes.iter().position(|q| *q == p) {
            self.pipes.remove(i);
            if self.next > i {
                self.next -= 1;
            }
        }
    }

    /// Tries the pipes in turn; the first for which `f` succeeds becomes the last used.
    fn rotate<T>(&mut self, mut f: impl FnMut(PipeId) -> Option<T>) -> Option<(PipeId, T)> {
        let n = self.pipes.len();
        // `next < n` whenever there are pipes; wrap by comparison (no division per call).
        let mut idx = if self.next < n { self.next } else { 0 };
        for _ in 0..n {
            let p = self.pipes[idx];
            idx += 1;
            if idx == n {
                idx = 0;
            }
            if let Some(v) = f(p) {
                self.next = idx;
                return Some((p, v));
            }
        }
        None
    }

    fn can_send(&self, core: &Core) -> bool {
        self.pipes.iter().any(|p| core.can_send(*p))
    }

    /// Sends to the next pipe with room; returns it. `None`: no pipe has room, and `msg`
    /// is untouched.
    fn send(&mut self, core: &mut Core, msg: &mut Message, wait: SendWait) -> Option<PipeId> {
        self.rotate(|p| core.send(p, msg, wait).then_some(()))
            .map(|(p, ())| p)
    }

    /// The next received message of the ring's pipes (`member` tells which pipes those
    /// are), fair-queued: first what is queued, taken from the pipes with input in turn
    /// ([`Core::recv_ready`]); with nothing queued and at most [`CALLER_READ_PIPES`] pipes,
    /// read from their connections by the caller (its fast path). With more, reading an
    /// idle connection would cost a system call each: the I/O thread reads them and
    /// signals what arrives.
    fn recv(
        &mut self,
        core: &mut Core,
        member: impl FnMut(PipeId) -> bool,
        read: RecvRead,
    ) -> Option<(PipeId, Message)> {
        if let Some(v) = core.recv_ready(member) {
            return Some(v);
        }
        if self.pipes.len() > CALLER_READ_PIPES {
            return None;
        }
        self.rotate(|p| core.recv(p, read))
    }
}

/// Whole messages taken ahead of the caller ([`Routing::prefetch`]), and the pipe each came
/// from, as runs of consecutive messages from one pipe (taking a peer's whole queue is one
/// run), with a count of those handed out: handing one out costs an addition, and the
/// pipe is looked up only when asked for ([`Ahead::last_pipe`]).
#[derive(Debug)]
pub(crate) struct Ahead<P = PipeId> {
    pub(crate) msgs: VecDeque<Message>,
    runs: VecDeque<(P, usize)>,
    /// Messages handed out since the runs began.
    taken: usize,
}

impl<P> Default for Ahead<P> {
    fn default() -> Self {
        Ahead {
            msgs: VecDeque::new(),
            runs: VecDeque::new(),
            taken: 0,
        }
    }
}

impl<P: Copy + PartialEq> Ahead<P> {
    /// Appends `n` messages' pipe (their messages are at the end of `msgs`).
    fn note(&mut self, pipe: P, n: usize) {
        note_run(&mut self.runs, pipe, n);
    }

    /// The oldest message.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<Message> {
        let m = self.msgs.pop_front()?;
        self.taken += 1;
        Some(m)
    }

    /// How many were handed out since the runs began.
    pub(crate) fn taken(&self) -> usize {
        self.taken
    }

    /// Forgets the runs: nothing taken ahead is held (a message was received directly).
    #[inline]
    pub(crate) fn restart(&mut self) {
        if self.taken != 0 || !self.runs.is_empty() {
            self.runs.clear();
            self.taken = 0;
        }
    }

    /// The pipe of the message handed out last, if it was one of these.
    pub(crate) fn last_pipe(&self) -> Option<P> {
        let mut left = self.taken.checked_sub(1)?;
        for &(pipe, n) in &self.runs {
            if left < n {
                return Some(pipe);
            }
            left -= n;
        }
        None
    }

    /// Keeps the messages not yet handed out that `keep` admits, and their pipes; the runs
    /// start again from them.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Message) -> bool) {
        let mut kept = Ahead::default();
        // The runs cover every message taken ahead, the handed out ones first.
        let mut pipes = self
            .runs
            .iter()
            .flat_map(|&(p, n)| std::iter::repeat_n(p, n))
            .skip(self.taken);
        for m in self.msgs.drain(..) {
            let pipe = pipes.next();
            if !keep(&m) {
                continue;
            }
            kept.msgs.push_back(m);
            if let Some(pipe) = pipe {
                kept.note(pipe, 1);
            }
        }
        *self = kept;
    }
}

/// Adds `n` messages from `pipe` to the end of `runs`.
fn note_run<P: PartialEq>(runs: &mut VecDeque<(P, usize)>, pipe: P, n: usize) {
    match runs.back_mut() {
        _ if n == 0 => {}
        Some((p, len)) if *p == pipe => *len += n,
        _ => runs.push_back((pipe, n)),
    }
}

/// PAIR: one peer at a time; a second is refused (31/EXPAIR).
#[derive(Debug, Default)]
struct Pair {
    pipe: Option<PipeId>,
}

/// PUSH, PULL, DEALER.
#[derive(Debug, Default)]
struct Dealer {
    lb: Ring,
    fq: Ring,
}

/// REQ: a DEALER with an envelope and strict alternation.
#[derive(Debug, Default)]
struct Req {
    dealer: Dealer,
    expect_reply: bool,
    reply_pipe: Option<PipeId>,
    request_id: u32,
}

impl Req {
    /// Starts a request: the state check, the replies it makes stale dropped, and the
    /// envelope that goes in front of it (the correlation id, if on, and the delimiter).
    fn begin(
        &mut self,
        opts: &RoutingOptions,
        core: &mut Core,
    ) -> Result<(u32, Envelope), SendError> {
        if self.expect_reply && !opts.req_relaxed {
            return Err(SendError::Fsm);
        }
        // A new request makes every reply already queued stale (libzmq eats them).
        for p in &self.dealer.fq.pipes {
            core.discard_queued(*p);
        }
        let id = self.request_id.wrapping_add(1);
        let head = if opts.req_correlate {
            Envelope::Frames(smallvec::smallvec![
                Bytes::copy_from_slice(&id.to_be_bytes()),
                Bytes::new()
            ])
        } else {
            Envelope::Delimiter
        };
        Ok((id, head))
    }

    /// The request went to `p`: its reply is awaited there.
    fn sent(&mut self, p: PipeId, id: u32) {
        self.request_id = id;
        self.expect_reply = true;
        self.reply_pipe = Some(p);
    }
}

/// REP: fair-queued requests, replies routed back with the request's envelope.
#[derive(Debug, Default)]
struct Rep {
    fq: Ring,
    /// The pipe and envelope (up to and including the delimiter) of the request being
    /// answered. Inline for the usual envelopes (a delimiter, behind at most one routing
    /// id): such a request costs no allocation.
    replying: Option<(PipeId, Envelope)>,
}

/// ROUTER: peers addressed by routing id.
#[derive(Debug, Default)]
struct Router {
    fq: Ring,
    by_id: HashMap<Bytes, PipeId>,
    ids: HashMap<PipeId, Bytes>,
    /// CONNECT_ROUTING_ID given to `connect` calls, by endpoint, applied when they connect.
    connect_ids: HashMap<String, Bytes>,
    next_id: u32,
}

impl Router {
    /// Drops a pipe's routing id (and the id's entry, if it still names this pipe), and
    /// the pipe from fair queueing.
    fn forget(&mut self, p: PipeId) {
        if let Some(id) = self.ids.remove(&p) {
            if self.by_id.get(&id) == Some(&p) {
                self.by_id.remove(&id);
            }
        }
        self.fq.remove(p);
    }
}

/// PUB and XPUB.
#[derive(Debug, Default)]
struct Pub {
    /// The attached pipes, oldest first.
    order: Vec<PipeId>,
    /// The attached pipes, each with the topics it subscribed to: a pipe that goes is
    /// unsubscribed from its own topics, without a walk of everyone's.
    attached: HashMap<PipeId, TopicLog>,
    /// Each topic's subscribed pipes: a message is matched once for all of them.
    subs: Subscribers,
    /// Subscription messages waiting for XPUB's recv.
    pending: VecDeque<Message>,
}

/// SUB and XSUB.
#[derive(Debug, Default)]
struct Sub {
    fq: Ring,
    pipes: Vec<PipeId>,
    subs: Subscriptions,
}

#[derive(Debug)]
enum Kind {
    Pair(Pair),
    Push(Dealer),
    Pull(Dealer),
    Dealer(Dealer),
    Req(Req),
    Rep(Rep),
    Router(Router),
    Pub(Pub),
    XPub(Pub),
    Sub(Sub),
    XSub(Sub),
}

/// The routing state of one socket: the transport's handler.
#[derive(Debug)]
pub(crate) struct Routing {
    kind: Kind,
    pub(crate) opts: RoutingOptions,
}

impl Routing {
    pub(crate) fn new(t: SocketType) -> Routing {
        let kind = match t {
            SocketType::Pair => Kind::Pair(Pair::default()),
            SocketType::Push => Kind::Push(Dealer::default()),
            SocketType::Pull => Kind::Pull(Dealer::default()),
            SocketType::Dealer => Kind::Dealer(Dealer::default()),
            SocketType::Req => Kind::Req(Req::default()),
            SocketType::Rep => Kind::Rep(Rep::default()),
            SocketType::Router => Kind::Router(Router {
                // libzmq starts generated ids at a random value.
                next_id: random_u32(),
                ..Router::default()
            }),
            SocketType::Pub => Kind::Pub(Pub::default()),
            SocketType::XPub => Kind::XPub(Pub::default()),
            SocketType::Sub => Kind::Sub(Sub::default()),
            SocketType::XSub => Kind::XSub(Sub::default()),
        };
        Routing {
            kind,
            opts: RoutingOptions::default(),
        }
    }

    /// Sends a whole message.
    /// Sends a whole message; `wait` applies to the types that send to one peer at a time
    /// (PAIR, PUSH, DEALER, REQ, REP); the others never wait for room.
    pub(crate) fn send(
        &mut self,
        core: &mut Core,
        msg: &mut Message,
        wait: SendWait,
    ) -> Result<(), SendError> {
        let opts = &self.opts;
        match &mut self.kind {
            Kind::Pair(p) => match p.pipe {
                Some(pipe) if core.send(pipe, msg, wait) => Ok(()),
                _ => Err(SendError::Again),
            },
            Kind::Push(d) | Kind::Dealer(d) => {
                d.lb.send(core, msg, wait)
                    .map(|_| ())
                    .ok_or(SendError::Again)
            }
            Kind::Pull(_) | Kind::Sub(_) => Err(SendError::NotSupported),
            Kind::Req(r) => {
                let (id, head) = r.begin(opts, core)?;
                for f in head.iter().rev() {
                    msg.push_front(f.clone());
                }
                match r.dealer.lb.send(core, msg, wait) {
                    Some(p) => {
                        r.sent(p, id);
                        Ok(())
                    }
                    None => {
                        // The message is the caller's again, as it gave it.
                        for _ in head.iter() {
                            msg.pop_front();
                        }
                        Err(SendError::Again)
                    }
                }
            }
            Kind::Rep(r) => {
                let Some((pipe, envelope)) = r.replying.take() else {
                    return Err(SendError::Fsm);
                };
                let mut m: Message = match envelope {
                    Envelope::Delimiter => Message::from(Bytes::new()),
                    Envelope::Frames(frames) => frames.into_iter().collect(),
                };
                for f in std::mem::take(msg) {
                    m.push(f);
                }
                // The requester may be gone or full: the reply is dropped, as in libzmq.
                let _ = core.send(pipe, &mut m, wait);
                Ok(())
            }
            Kind::Router(r) => {
                let Some(id) = msg.pop_front() else {
                    return Ok(());
                };
                let Some(&pipe) = r.by_id.get(&id) else {
                    return if opts.router_mandatory {
                        msg.push_front(id); // the caller's again, as it gave it
                        Err(SendError::HostUnreachable)
                    } else {
                        Ok(()) // unroutable: dropped silently
                    };
                };
                if core.send(pipe, msg, SendWait::Never) {
                    Ok(())
                } else if opts.router_mandatory {
                    msg.push_front(id);
                    Err(SendError::Again)
                } else {
                    Ok(()) // full: dropped (ROUTER drops at HWM)
                }
            }
            Kind::Pub(p) | Kind::XPub(p) => {
                let topic = msg.frames().first().map_or(&[][..], |f| &f[..]);
                let matching = p.matching(opts, core, topic)?;
                // PUB never blocks: a full subscriber misses the message.
                if let Some((last, rest)) = matching.split_last() {
                    // Received frames sent on (a proxy) are copied once, not kept as
                    // slices of their read buffer by every subscriber queue they wait in.
                    ipc_transport::unpin(msg);
                    for pipe in rest {
                        let _ = core.send_shared(*pipe, &mut msg.clone(), SendWait::Never);
                    }
                    let _ = core.send_shared(*last, msg, SendWait::Never);
                }
                Ok(())
            }
            Kind::XSub(s) => {
                let first = msg.frames().first().cloned().unwrap_or_default();
                if msg.len() == 1 {
                    if let Some(sub) = Subscription::from_data_frame(&first) {
                        let send = if sub.subscribe {
                            s.subs.add(&sub.topic);
                            true
                        } else {
                            s.subs.remove(&sub.topic)
                        };
                        if send {
                            for p in &s.pipes {
                                core.send_subscription(*p, &sub);
                            }
                        }
                        return Ok(());
                    }
                }
                // Other messages go upstream to every publisher.
                for p in &s.pipes {
                    let _ = core.send(*p, &mut msg.clone(), SendWait::Never);
                }
                Ok(())
            }
        }
    }

    /// Sends a one-frame message holding a copy of `body`, for the types that send it as
    /// it is or behind an envelope (PAIR, PUSH, DEALER, REQ, REP): the bytes go straight
    /// into a connection's batch when it can take them. `None`: another type, which needs
    /// a message (see [`Routing::send`]).
    pub(crate) fn send_copy(
        &mut self,
        core: &mut Core,
        body: &[u8],
        wait: SendWait,
    ) -> Option<Result<(), SendError>> {
        let opts = &self.opts;
        let sent = match &mut self.kind {
            Kind::Pair(p) => p
                .pipe
                .is_some_and(|pipe| core.send_copy(pipe, &[], body, wait)),
            Kind::Push(d) | Kind::Dealer(d) => {
                d.lb.rotate(|p| core.send_copy(p, &[], body, wait).then_some(()))
                    .is_some()
            }
            Kind::Req(r) => {
                let (id, head) = match r.begin(opts, core) {
                    Ok(v) => v,
                    Err(e) => return Some(Err(e)),
                };
                let sent = r
                    .dealer
                    .lb
                    .rotate(|p| core.send_copy(p, &head, body, wait).then_some(()));
                if let Some((p, ())) = sent {
                    r.sent(p, id);
                }
                sent.is_some()
            }
            Kind::Rep(r) => {
                let Some((pipe, envelope)) = r.replying.take() else {
                    return Some(Err(SendError::Fsm));
                };
                // The requester may be gone or full: the reply is dropped, as in libzmq.
                let _ = core.send_copy(pipe, &envelope, body, wait);
                true
            }
            Kind::Pub(p) | Kind::XPub(p) => {
                // Each subscriber's copy goes straight into its connection's batch: a
                // message nobody wants costs one walk of the tree and no allocation.
                let matching = match p.matching(opts, core, body) {
                    Ok(m) => m,
                    Err(e) => return Some(Err(e)),
                };
                for pipe in matching {
                    // A full subscriber misses it.
                    let _ = core.send_copy(pipe, &[], body, SendWait::Never);
                }
                true
            }
            _ => return None,
        };
        Some(if sent { Ok(()) } else { Err(SendError::Again) })
    }

    /// [`Core::send_copy_now`] for the types that send a body as it is, to their only
    /// peer: PAIR, and PUSH or DEALER with one pipe (with more, the copy goes the usual way
    /// through the round robin). `false`: not done.
    pub(crate) fn send_copy_now(&mut self, core: &mut Core, body: &[u8], wait: SendWait) -> bool {
        self.copy_now_pipe()
            .is_some_and(|pipe| core.send_copy_now(pipe, body, wait))
    }

    /// The one pipe a large copied body can go straight to: PAIR's, or that of a PUSH or
    /// DEALER with one peer.
    fn copy_now_pipe(&self) -> Option<PipeId> {
        match &self.kind {
            Kind::Pair(p) => p.pipe,
            Kind::Push(d) | Kind::Dealer(d) if d.lb.pipes.len() == 1 => Some(d.lb.pipes[0]),
            _ => None,
        }
    }

    /// Whether the one peer a large copied body would go straight to
    /// ([`Routing::send_copy_now`]) is still writing earlier output.
    pub(crate) fn copy_now_busy(&self, core: &Core) -> bool {
        self.copy_now_pipe()
            .is_some_and(|pipe| core.pipe_busy(pipe))
    }

    /// Receives a whole message; `read` says whether a socket is read for it.
    pub(crate) fn recv(
        &mut self,
        core: &mut Core,
        read: RecvRead,
    ) -> Result<(Option<PipeId>, Message), RecvError> {
        let opts = &self.opts;
        match &mut self.kind {
            Kind::Pair(p) => p
                .pipe
                .and_then(|pipe| Some((Some(pipe), core.recv(pipe, read)?)))
                .ok_or(RecvError::Again),
            Kind::Pull(d) | Kind::Dealer(d) => {
                d.fq.recv(core, every, read)
                    .map(|(pipe, m)| (Some(pipe), m))
                    .ok_or(RecvError::Again)
            }
            Kind::Push(_) | Kind::Pub(_) => Err(RecvError::NotSupported),
            Kind::Req(r) => {
                if !r.expect_reply {
                    return Err(RecvError::Fsm);
                }
                loop {
                    let Some((pipe, mut m)) = r.dealer.fq.recv(core, every, read) else {
                        return Err(RecvError::Again);
                    };
                    // Replies from other peers, and malformed ones, are dropped.
                    if Some(pipe) != r.reply_pipe {
                        continue;
                    }
                    if opts.req_correlate {
                        let id = m.pop_front();
                        if id.as_deref() != Some(&r.request_id.to_be_bytes()[..]) {
                            continue;
                        }
                    }
                    // The delimiter, and a reply after it: a delimiter that ends the message
                    // (a hostile or broken peer) is dropped, as libzmq drops it; a message
                    // of no frames is never handed out.
                    if m.pop_front().is_none_or(|d| !d.is_empty()) || m.is_empty() {
                        continue;
                    }
                    r.expect_reply = false;
                    r.reply_pipe = None;
                    return Ok((Some(pipe), m));
                }
            }
            Kind::Rep(r) => {
                if r.replying.is_some() {
                    return Err(RecvError::Fsm);
                }
                loop {
                    let Some((pipe, mut m)) = r.fq.recv(core, every, read) else {
                        return Err(RecvError::Again);
                    };
                    // The envelope runs up to and including the empty delimiter (usually
                    // first: the requester is connected directly).
                    let envelope = if m.frames().first().is_some_and(Bytes::is_empty) {
                        m.pop_front();
                        Envelope::Delimiter
                    } else {
                        let Some(delimiter) = m.iter().position(Bytes::is_empty) else {
                            continue; // malformed request: dropped
                        };
                        Envelope::Frames(m.frames_mut().drain(..=delimiter).collect())
                    };
                    if m.is_empty() {
                        // A delimiter that ends the message (a hostile or broken peer):
                        // no request follows it. Dropped, as libzmq drops it; a message of
                        // no frames is never handed out.
                        continue;
                    }
                    r.replying = Some((pipe, envelope));
                    return Ok((Some(pipe), m));
                }
            }
            Kind::Router(r) => {
                let ids = &r.ids;
                let Some((pipe, mut m)) = r.fq.recv(core, |p| ids.contains_key(&p), read) else {
                    return Err(RecvError::Again);
                };
                let id = r.ids.get(&pipe).cloned().unwrap_or_default();
                m.push_front(id);
                Ok((Some(pipe), m))
            }
            Kind::XPub(p) => {
                // (A subscription's pipe is not kept: it may be gone already.)
                if let Some(m) = p.pending.pop_front() {
                    return Ok((None, m));
                }
                // Non-subscription messages from subscribers pass up too.
                if let Some((pipe, m)) = core.recv_ready(every) {
                    return Ok((Some(pipe), m));
                }
                if p.order.len() <= CALLER_READ_PIPES {
                    let got = p
                        .order
                        .iter()
                        .find_map(|&pipe| Some((pipe, core.recv(pipe, read)?)));
                    if let Some((pipe, m)) = got {
                        return Ok((Some(pipe), m));
                    }
                }
                Err(RecvError::Again)
            }
            Kind::Sub(s) | Kind::XSub(s) => loop {
                let Some((pipe, m)) = s.fq.recv(core, every, read) else {
                    return Err(RecvError::Again);
                };
                if s.subs.matches(topic_of(&m)) {
                    return Ok((Some(pipe), m));
                }
            },
        }
    }

    /// EVENTS' POLLOUT.
    pub(crate) fn can_send(&mut self, core: &mut Core) -> bool {
        let opts = &self.opts;
        match &mut self.kind {
            Kind::Pair(p) => p.pipe.is_some_and(|pipe| core.can_send(pipe)),
            Kind::Push(d) | Kind::Dealer(d) => d.lb.can_send(core),
            Kind::Req(r) => (!r.expect_reply || opts.req_relaxed) && r.dealer.lb.can_send(core),
            Kind::Rep(r) => r.replying.is_some(),
            Kind::Router(_) | Kind::Pub(_) | Kind::XPub(_) | Kind::XSub(_) => true,
            Kind::Pull(_) | Kind::Sub(_) => false,
        }
    }

    /// Whether [`Routing::can_send`] may say yes while a send still fails with EAGAIN:
    /// ROUTER_MANDATORY (the routed peer is full) and XPUB_NODROP (a matching subscriber is
    /// full), where room depends on the message.
    pub(crate) fn send_depends_on_message(&self) -> bool {
        match &self.kind {
            Kind::Router(_) => self.opts.router_mandatory,
            Kind::XPub(_) => self.opts.xpub_nodrop,
            _ => false,
        }
    }

    /// Moves messages that are already queued into `out`, in the order `recv` would return
    /// them, for the types whose receive keeps no state (PAIR, PULL, DEALER, and SUB,
    /// which filters them as it takes them): the caller then hands them out without taking
    /// the lock again (and says what it still holds with
    /// [`ipc_transport::Engine::lock_holding`]). PAIR, and PULL or DEALER from one peer,
    /// take the peer's whole queue; otherwise up to `max` and at most RCVHWM, one message
    /// from each peer in turn. Reads no socket.
    pub(crate) fn prefetch(&mut self, core: &mut Core, out: &mut Ahead, max: usize) {
        let Ahead { msgs, runs, .. } = out;
        // Each message's pipe, as runs of messages from one pipe.
        let mut note = |pipe: PipeId, n: usize| note_run(runs, pipe, n);
        match &mut self.kind {
            Kind::Pair(Pair { pipe: Some(pipe) }) => {
                let n = core.recv_all_queued(*pipe, msgs);
                note(*pipe, n);
            }
            Kind::Pull(d) | Kind::Dealer(d) if d.fq.pipes.len() == 1 => {
                let pipe = d.fq.pipes[0];
                let n = core.recv_all_queued(pipe, msgs);
                note(pipe, n);
            }
            Kind::Pull(_) | Kind::Dealer(_) => {
                let room = Self::room_ahead(core, max, msgs);
                core.lend_ready(msgs, room, |pipe, _| {
                    note(pipe, 1);
                    true
                });
            }
            Kind::Sub(s) => {
                // Filtered as they are taken; an unsubscribe filters them again
                // (`Routing::still_wanted`).
                let subs = &mut s.subs;
                let room = Self::room_ahead(core, max, msgs);
                core.lend_ready(msgs, room, |pipe, m| {
                    let keep = subs.matches(topic_of(m));
                    if keep {
                        note(pipe, 1);
                    }
                    keep
                });
            }
            _ => {}
        }
    }

    /// How many more messages a prefetch into `out` may take: what it takes counts towards
    /// every pipe's RCVHWM, so never more than that.
    fn room_ahead(core: &Core, max: usize, out: &VecDeque<Message>) -> usize {
        let max = match core.rcvhwm() {
            0 => max,
            hwm => max.min(hwm),
        };
        max.saturating_sub(out.len())
    }

    /// Whether a message taken ahead is still to be handed out: for SUB, whether it still
    /// matches a subscription (after an unsubscribe, as if it had waited in the queue).
    pub(crate) fn still_wanted(&mut self, m: &Message) -> bool {
        match &mut self.kind {
            Kind::Sub(s) => s.subs.matches(topic_of(m)),
            _ => true,
        }
    }

    /// A ROUTER's pipe for routing id `id`.
    pub(crate) fn pipe_of_routing_id(&self, id: &[u8]) -> Option<PipeId> {
        match &self.kind {
            Kind::Router(r) => r.by_id.get(id).copied(),
            _ => None,
        }
    }

    /// EVENTS' POLLIN: a message is queued (nothing is read from the sockets).
    pub(crate) fn can_recv(&mut self, core: &mut Core) -> bool {
        match &mut self.kind {
            Kind::Pair(p) => p.pipe.is_some_and(|pipe| core.has_queued(pipe)),
            Kind::Pull(_) | Kind::Dealer(_) | Kind::Sub(_) | Kind::XSub(_) => core.has_ready(every),
            Kind::Req(r) => r.expect_reply && core.has_ready(every),
            Kind::Rep(r) => r.replying.is_none() && core.has_ready(every),
            Kind::Router(r) => core.has_ready(|p| r.ids.contains_key(&p)),
            Kind::XPub(p) => !p.pending.is_empty() || core.has_ready(every),
            Kind::Push(_) | Kind::Pub(_) => false,
        }
    }

    /// SUBSCRIBE / UNSUBSCRIBE on SUB (and XSUB via messages).
    pub(crate) fn subscribe(&mut self, core: &mut Core, topic: Bytes, on: bool) -> bool {
        let (Kind::Sub(s) | Kind::XSub(s)) = &mut self.kind else {
            return false;
        };
        let changed = if on {
            s.subs.add(&topic)
        } else {
            s.subs.remove(&topic)
        };
        if changed {
            let sub = Subscription {
                subscribe: on,
                topic,
            };
            for p in &s.pipes {
                core.send_subscription(*p, &sub);
            }
        }
        true
    }

    /// ROUTER: whether a message to routing id `id` can be queued now. `Err` with
    /// HostUnreachable when no peer has the id.
    pub(crate) fn router_check(&self, core: &Core, id: &[u8]) -> Result<bool, SendError> {
        let Kind::Router(r) = &self.kind else {
            return Ok(true);
        };
        match r.by_id.get(id) {
            Some(p) => Ok(core.can_send(*p)),
            None => Err(SendError::HostUnreachable),
        }
    }

    /// Remembers CONNECT_ROUTING_ID for a ROUTER's connection to `endpoint`.
    pub(crate) fn name_connection(&mut self, endpoint: &str, id: Bytes) {
        if let Kind::Router(r) = &mut self.kind {
            r.connect_ids.insert(endpoint.to_string(), id);
        }
    }

    /// Forgets it again (disconnect).
    pub(crate) fn forget_connection(&mut self, endpoint: &str) {
        if let Kind::Router(r) = &mut self.kind {
            r.connect_ids.remove(endpoint);
        }
    }

    fn attached(&mut self, p: PipeId, core: &mut Core) {
        match &mut self.kind {
            Kind::Pair(pair) => {
                if pair.pipe.is_none() {
                    pair.pipe = Some(p);
                } else {
                    // 31/EXPAIR: one peer only; later ones are refused.
                    core.terminate(p);
                }
            }
            Kind::Push(d) | Kind::Pull(d) | Kind::Dealer(d) => {
                d.lb.add(p);
                d.fq.add(p);
            }
            Kind::Req(r) => {
                r.dealer.lb.add(p);
                r.dealer.fq.add(p);
            }
            Kind::Rep(r) => r.fq.add(p),
            // ROUTER routes only to identified peers: see `connected`.
            Kind::Router(_) => {}
            Kind::Pub(pb) | Kind::XPub(pb) => {
                pb.order.push(p);
                pb.attached.insert(p, TopicLog::default());
            }
            Kind::Sub(s) | Kind::XSub(s) => {
                s.fq.add(p);
                s.pipes.push(p);
            }
        }
    }

    fn connected(&mut self, p: PipeId, core: &mut Core) {
        let handover = self.opts.router_handover;
        match &mut self.kind {
            Kind::Sub(s) | Kind::XSub(s) => {
                // 29/PUBSUB: subscriptions are sent again on every (re)connection.
                for topic in s.subs.topics() {
                    let sub = Subscription {
                        subscribe: true,
                        topic,
                    };
                    core.send_subscription(p, &sub);
                }
            }
            Kind::Router(r) => {
                r.forget(p); // a reconnect: its old name goes
                let named = if core.is_outgoing(p) {
                    core.endpoint(p).and_then(|e| r.connect_ids.get(e).cloned())
                } else {
                    None
                };
                let id = named.or_else(|| {
                    core.peer(p)
                        .and_then(|peer| peer.identity.clone())
                        .filter(|id| !id.is_empty())
                });
                let id = match id {
                    Some(id) => {
                        if let Some(&other) = r.by_id.get(&id) {
                            if handover {
                                // The new peer takes the name. The old connection stays
                                // open but is muted, as in libzmq: nothing is routed to it
                                // and what it sends is dropped. (Closing it would make the
                                // old peer reconnect and take the name back, and the two
                                // would trade it for as long as both live.)
                                r.forget(other);
                                core.discard_input(other);
                            } else {
                                // A taken routing id without handover: libzmq leaves the
                                // newcomer connected but never routes to or from it
                                // (what it sends is dropped).
                                core.discard_input(p);
                                return;
                            }
                        }
                        id
                    }
                    None => r.generate_id(),
                };
                r.by_id.insert(id.clone(), p);
                r.ids.insert(p, id);
                r.fq.add(p);
            }
            _ => {}
        }
    }

    /// A pipe lost its connection. ROUTER stops routing to it at once (a send to its id
    /// is EHOSTUNREACH with ROUTER_MANDATORY); messages it received before are still
    /// delivered with its id.
    fn disconnected(&mut self, p: PipeId) {
        if let Kind::Router(r) = &mut self.kind {
            if let Some(id) = r.ids.get(&p) {
                if r.by_id.get(id) == Some(&p) {
                    r.by_id.remove(id);
                }
            }
        }
    }

    fn detached(&mut self, p: PipeId) {
        let xpub = matches!(self.kind, Kind::XPub(_));
        match &mut self.kind {
            Kind::Pair(pair) => {
                if pair.pipe == Some(p) {
                    pair.pipe = None;
                }
            }
            Kind::Push(d) | Kind::Pull(d) | Kind::Dealer(d) => {
                d.lb.remove(p);
                d.fq.remove(p);
            }
            Kind::Req(r) => {
                r.dealer.lb.remove(p);
                r.dealer.fq.remove(p);
                if r.reply_pipe == Some(p) {
                    r.reply_pipe = None;
                }
            }
            Kind::Rep(r) => {
                r.fq.remove(p);
            }
            Kind::Router(r) => r.forget(p),
            Kind::Pub(pb) | Kind::XPub(pb) => {
                pb.order.retain(|q| *q != p);
                let Some(log) = pb.attached.remove(&p).filter(|l| l.live() > 0) else {
                    return; // subscribed to nothing now: not even a look at its log
                };
                for t in log.entries() {
                    // (A cancelled or repeated entry finds nothing.)
                    let (was, last) = pb.subs.unsubscribe(t, p);
                    if xpub && was && last {
                        // Topics nobody wants any more go up as unsubscriptions, as in
                        // libzmq.
                        pb.pending.push_back(subscription_message(false, t));
                    }
                }
            }
            Kind::Sub(s) | Kind::XSub(s) => {
                s.fq.remove(p);
                s.pipes.retain(|q| *q != p);
            }
        }
    }

    fn subscription(&mut self, p: PipeId, sub: Subscription) {
        let verbose = self.opts.xpub_verbose;
        let xpub = matches!(self.kind, Kind::XPub(_));
        let (Kind::Pub(pb) | Kind::XPub(pb)) = &mut self.kind else {
            return;
        };
        let Some(log) = pb.attached.get_mut(&p) else {
            return;
        };
        // Per pipe, a topic is subscribed or not (libzmq's publisher keeps a set of pipes
        // per topic): a second SUBSCRIBE changes nothing, one CANCEL removes it. The
        // subscriber counts repeated subscriptions itself and cancels on the last.
        let changed = if sub.subscribe {
            let (new, first) = pb.subs.subscribe(&sub.topic, p);
            if new {
                log.subscribed(&sub.topic, p, &pb.subs);
            }
            first
        } else {
            let (was, last) = pb.subs.unsubscribe(&sub.topic, p);
            if !was {
                return; // CANCEL of a topic the pipe never subscribed to is ignored
            }
            log.cancelled(p, &pb.subs);
            last
        };
        if xpub && (changed || (verbose && sub.subscribe)) {
            pb.pending
                .push_back(subscription_message(sub.subscribe, &sub.topic));
        }
    }
}

/// What XPUB's recv hands out for a (un)subscription: the flag byte, then the topic.
fn subscription_message(subscribe: bool, topic: &[u8]) -> Message {
    let mut frame = Vec::with_capacity(topic.len() + 1);
    frame.push(u8::from(subscribe));
    frame.extend_from_slice(topic);
    Message::from(frame)
}

impl Pub {
    /// The pipes a message starting with `topic` goes to, or `Again` when XPUB_NODROP is
    /// set and one of them is full.
    fn matching(
        &self,
        opts: &RoutingOptions,
        core: &Core,
        topic: &[u8],
    ) -> Result<smallvec::SmallVec<[PipeId; 8]>, SendError> {
        let mut matching = smallvec::SmallVec::new();
        self.subs.matching(topic, &mut matching);
        if opts.xpub_nodrop && matching.iter().any(|pipe| !core.can_send(*pipe)) {
            return Err(SendError::Again);
        }
        Ok(matching)
    }
}

impl Router {
    /// A routing id for a peer that gave none: libzmq's form, a zero byte, then a 32-bit
    /// counter. A peer may have named itself so: an id that is taken is skipped (there
    /// are fewer peers than counter values).
    fn generate_id(&mut self) -> Bytes {
        loop {
            self.next_id = self.next_id.wrapping_add(1);
            let mut id = [0u8; 5];
            id[1..].copy_from_slice(&self.next_id.to_be_bytes());
            let id = Bytes::copy_from_slice(&id);
            if !self.by_id.contains_key(&id) {
                return id;
            }
        }
    }
}

impl Handler for Routing {
    fn on_notice(&mut self, n: Notice, core: &mut Core) {
        match n {
            Notice::Attached(p) => self.attached(p, core),
            Notice::Connected(p) => self.connected(p, core),
            Notice::Disconnected(p) => self.disconnected(p),
            Notice::Detached(p) => self.detached(p),
            Notice::Subscription(p, sub) => self.subscription(p, sub),
        }
    }

    /// XPUB's subscription messages count towards RCVHWM until the application takes
    /// them.
    fn held(&self) -> usize {
        match &self.kind {
            Kind::XPub(pb) => pb.pending.len(),
            _ => 0,
        }
    }
}

fn random_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    h.finish() as u32
}

/// What a subscription is matched against: the message's first frame.
fn topic_of(m: &Message) -> &[u8] {
    m.frames().first().map_or(&[][..], |f| &f[..])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages "0", "1", ... from the pipes given, in that order.
    fn ahead(pipes: &[u32]) -> Ahead<u32> {
        let mut a = Ahead::default();
        for (i, &p) in pipes.iter().enumerate() {
            a.msgs.push_back(Message::from(i.to_string()));
            a.note(p, 1);
        }
        a
    }

    #[test]
    fn each_message_handed_out_is_known_by_its_pipe() {
        let pipes = [7, 7, 8, 7, 9, 9, 9];
        let mut a = ahead(&pipes);
        assert_eq!(a.runs.len(), 4, "runs of one pipe");
        assert_eq!(a.last_pipe(), None, "none handed out yet");
        for &p in &pipes {
            a.pop().unwrap();
            assert_eq!(a.last_pipe(), Some(p));
        }
        assert!(a.pop().is_none());
        a.restart();
        assert_eq!((a.last_pipe(), a.taken()), (None, 0));
    }

    #[test]
    fn filtering_keeps_the_pipes_of_what_is_left() {
        let mut a = ahead(&[1, 2, 2, 3, 1, 1]);
        a.pop().unwrap(); // "0" from 1 is out
        a.pop().unwrap(); // "1" from 2 is out
        a.retain(|m| m.frames()[0] != "3"); // drops "3" (pipe 3)
        let left: Vec<(String, Option<u32>)> = std::iter::from_fn(|| {
            let m = a.pop()?;
            Some((
                String::from_utf8(m.frames()[0].to_vec()).unwrap(),
                a.last_pipe(),
            ))
        })
        .collect();
        assert_eq!(
            left,
            [
                ("2".to_string(), Some(2)),
                ("4".to_string(), Some(1)),
                ("5".to_string(), Some(1))
            ]
        );
    }
}
