//! One ZMTP connection as a machine without IO: bytes in, messages out; messages in, bytes
//! out.
//!
//! A [`Connection`] owns everything about one peer's stream that does not depend on what
//! the stream is: the handshake, then the decoder and the heartbeat; the read buffers and
//! the rule that bounds what queued messages may keep of them; the message being
//! assembled; and the output batch. It never makes a system call and never reads the
//! clock: whoever drives it (the engine, over a stream socket; a test, over a byte
//! queue) lends it a read ([`Connection::read_with`]) or a write
//! ([`Connection::write_with`]) and passes the time in. Decoded messages go to an
//! [`Inbox`], which says when it is full (RCVHWM): decoding stops there, and the bytes
//! wait in the buffer until the inbox has room.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use smallvec::SmallVec;
use zmtp_codec::curve::{self, CurveSession};

use crate::auth::Answer;
use zmtp_codec::{
    put_frame, short_header, Command, DecodeError, Decoder, FrameHeader, Handshake, HandshakeError,
    Heartbeat, HeartbeatError, Item, Limits, PeerInfo, Subscription, Version, ZapReply, ZapRequest,
};

use crate::Message;

/// Bodies up to this size (2 KiB) are copied into a connection's batch of output; larger
/// ones are written from their own buffer with a vectored write. (Engine callers: a larger
/// body for `Core::send_copy` is better copied into a message before the lock is taken.)
pub const COPY_MAX: usize = 2048;
/// Most buffers in one vectored write.
const MAX_IOV: usize = 64;
/// The largest encoded message written from the socket's fixed buffer rather than a
/// batch (see [`Outgoing::encode_small`]).
pub(crate) const SMALL_SEND: usize = 256;
/// The largest written from a buffer of its own instead (made by a socket's first such
/// send): a body the batch would copy ([`COPY_MAX`]) behind a short envelope. Such a send
/// to an idle connection then costs one copy and one system call, as a small one does,
/// with nothing left in a batch to take back; a socket that never sends one costs no
/// memory for it.
pub(crate) const MEDIUM_SEND: usize = COPY_MAX + 64;
/// One read's worth, at most: a read buffer with less than a quarter of its connection's
/// chunk spare grows by the chunk, which doubles from the first chunk up to this each time a
/// read fills the room (a 64 KiB message then arrives in one read, not copied across two
/// buffers, while a quiet connection never reserves more than the first chunk).
pub const READ_CHUNK: usize = 256 * 1024;
/// Read buffers kept after their turn while messages hold parts of them, for reading to go
/// on in once they let go: enough for an application as far behind the reader as the
/// read-ahead lets it be (its queue holds messages from that many buffers), so that a
/// stream of large messages goes round the same buffers instead of allocating one per
/// chunk, whose pages the allocator tends to give back to the system and fault in again on
/// the next (two or three page faults per 64 KiB message, measured). Only buffers that
/// queued messages held when the connection left them are kept this way (beside the one
/// spare); those the messages let go of stay for the next buffers (a reader reads several
/// chunks in a row after its application dropped as many: keeping two of them left 10,000
/// to 120,000 of the page faults per 150,000 messages of 64 KiB, keeping them all 2,000 to
/// 5,000) until the sweep of read buffers, which keeps one.
const MAX_SPARES: usize = crate::core::READ_AHEAD_MAX / READ_CHUNK + 2;
/// The first chunk of a connection, and of one whose idle buffer was given back.
const FIRST_READ: usize = 16 * 1024;
/// A read buffer larger than this is given back when it is empty and its connection read
/// nothing for a sweep interval (see [`Connection::sweep`]), so an idle connection holds at
/// most this much read buffer (TESTING.md case 14 measures an idle connection's memory).
pub(crate) const IDLE_RBUF_MAX: usize = 64 * 1024;
/// The output batch's buffer (it grows to the engine's batch size while a stream lasts) is
/// given back when it is larger than this, empty, and its connection wrote no batch
/// larger than this for a sweep interval (heartbeats and small messages do not keep it),
/// as an idle read buffer is; so are a CURVE connection's sealing buffers.
pub(crate) const IDLE_BATCH_MAX: usize = 64 * 1024;
/// A CURVE connection keeps its sealing buffers between writes up to this size (a full
/// batch of messages of 64 bytes and more, sealed, fits), larger ones are let go after
/// their write; an idle connection's go at the sweep once larger than [`IDLE_BATCH_MAX`].
const SEALED_KEEP: usize = READ_CHUNK;
/// Queued messages may keep a read buffer they came from alive only while they fill at
/// least this fraction (one in `PIN_FACTOR`) of it. When a connection gives up a read
/// buffer (a new one replaces it, it is given back while idle, or the connection closes),
/// the messages it queued from that buffer are copied out if they fill less, so what the
/// queue holds never keeps alive more than `PIN_FACTOR` times its own size in buffers.
pub const PIN_FACTOR: usize = 8;

/// Why a connection ended, for events and for the connector's decision to reconnect:
/// the codec's own errors where the peer's bytes or timing decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// The peer closed its end.
    Eof,
    /// A read or write failed with this errno.
    Io(i32),
    /// The peer's traffic could not be decoded: the connector gives up on this endpoint
    /// (no reconnect loop).
    Decode(DecodeError),
    /// The peer broke the protocol after the handshake (also final for the endpoint).
    Protocol(Violation),
    /// The handshake failed; final for the endpoint unless it timed out (then the
    /// connector tries again).
    Handshake(HandshakeError),
    /// The heartbeat gave up on the peer.
    Heartbeat(HeartbeatError),
    /// Closed by this side.
    Local,
}

/// A protocol rule a peer broke after its handshake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Violation {
    /// A second greeting.
    Greeting,
    /// A second READY.
    Ready,
    /// ERROR, with the reason it gave (lossily decoded).
    PeerError(String),
    /// A CURVE connection's traffic was not a MESSAGE that opens in sequence.
    Curve(zmtp_codec::curve::CurveError),
}

impl CloseReason {
    /// What a monitor event says about it.
    pub(crate) fn describe(&self) -> String {
        match self {
            CloseReason::Eof => "peer closed the connection".into(),
            CloseReason::Io(e) => io::Error::from_raw_os_error(*e).to_string(),
            CloseReason::Decode(e) => e.to_string(),
            CloseReason::Protocol(Violation::Greeting) => "unexpected greeting".into(),
            CloseReason::Protocol(Violation::Ready) => "peer sent READY after the handshake".into(),
            CloseReason::Protocol(Violation::PeerError(reason)) => {
                format!("peer sent ERROR: {reason}")
            }
            CloseReason::Protocol(Violation::Curve(e)) => e.to_string(),
            CloseReason::Handshake(e) => e.to_string(),
            CloseReason::Heartbeat(e) => e.to_string(),
            CloseReason::Local => "closed locally".into(),
        }
    }

    /// Whether the connector stops trying this endpoint.
    pub(crate) fn ends_endpoint(&self) -> bool {
        match self {
            CloseReason::Decode(_) | CloseReason::Protocol(_) => true,
            CloseReason::Handshake(e) => *e != HandshakeError::Timeout,
            _ => false,
        }
    }

    /// The ZAP status when authentication refused the peer or us.
    pub(crate) fn auth_status(&self) -> Option<zmtp_codec::ZapStatus> {
        match self {
            CloseReason::Handshake(
                HandshakeError::Refused { status, .. } | HandshakeError::AuthFailed { status },
            ) => Some(*status),
            _ => None,
        }
    }

    /// The handshake's own verdict (not a timeout, not a lost stream).
    pub(crate) fn is_handshake_verdict(&self) -> bool {
        matches!(self, CloseReason::Handshake(e) if *e != HandshakeError::Timeout)
    }
}

/// Where decoded traffic goes: the pipe's queue of received messages, and the
/// subscriptions for the layer above. The connection asks [`Inbox::is_full`] before each
/// item, so what an inbox holds never passes its mark by more than one message.
pub(crate) trait Inbox {
    /// At the mark (RCVHWM), or out of allowance for traffic that queues nothing
    /// ([`Inbox::junk`]): decoding stops, and the rest waits in the read buffer.
    fn is_full(&self) -> bool;
    /// `bytes` of traffic that queue nothing were decoded (commands).
    fn junk(&mut self, _bytes: usize) {}
    /// A one-frame message, to be built in its queue slot. Whether the inbox kept it (it
    /// may hold part of the read buffer).
    fn push_frame(&mut self, body: Bytes) -> bool;
    /// A multipart message. Whether the inbox kept it.
    fn push_message(&mut self, msg: Message) -> bool;
    /// A SUBSCRIBE or CANCEL command.
    fn subscription(&mut self, sub: Subscription);
    /// The time, read only when an item needs it (a PING).
    fn now(&self) -> Instant;
}

/// What a [`Connection::decode`] did besides filling the inbox.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decoded {
    /// A PING came: its PONG is queued (if the output was empty) and the peer's TTL is
    /// armed (the connection's deadline moved).
    pub(crate) pong: bool,
}

// The active phase is the hot path and stays inline; the handshake is the boxed one.
#[allow(clippy::large_enum_variant)]
enum Phase {
    Handshake(Box<Handshake>),
    Active {
        decoder: Decoder,
        heartbeat: Heartbeat,
    },
}

/// One connection's protocol state, buffers and output, driven by bytes in and bytes out.
pub(crate) struct Connection {
    phase: Phase,
    rbuf: BytesMut,
    /// The read buffers before this one (oldest first, empty handles with their sizes and
    /// whether queued messages held them when left): the last one left, and those queued
    /// messages hold. Once the messages let go, reading goes on in one of them (its pages
    /// are mapped and warm) instead of a new buffer. See [`MAX_SPARES`]; each sweep keeps
    /// one of those no message holds, all but the newest go after a sweep interval in
    /// which none was used, all of them when the connection reads nothing for one.
    spares: VecDeque<(Bytes, usize, bool)>,
    /// A spare was read into since the last sweep.
    spare_used: bool,
    /// Read buffers allocated for a next chunk (the spares' tests count them).
    #[cfg(test)]
    buffers_made: usize,
    /// The size of `rbuf`'s allocation when it was last reserved.
    rbuf_size: usize,
    /// Messages the inbox kept since `rbuf`'s allocation was made: the newest this many of
    /// the pipe's queue may hold parts of it.
    queued_from_rbuf: usize,
    /// How many frames of `partial` came from allocations before `rbuf`'s.
    partial_before_rbuf: usize,
    /// The frames of a multipart message still arriving.
    partial: Message,
    /// How much the read buffer grows by (see [`READ_CHUNK`]).
    read_chunk: usize,
    /// Something was read since the last sweep of read buffers.
    read_since_sweep: bool,
    out: OutBuf,
    /// A write of more than [`IDLE_BATCH_MAX`] bytes of output was made since the last
    /// sweep (heartbeats and small messages alone let a large batch buffer go).
    wrote_since_sweep: bool,
    peer_version: Version,
    /// CURVE's traffic state, once a CURVE handshake completed: `out` then holds
    /// plaintext frames, sealed into `Sealed::wire` when written.
    sealed: Option<Box<Sealed>>,
}

/// A CURVE connection's sealing: every frame each way is a MESSAGE box.
struct Sealed {
    session: CurveSession,
    /// Bytes for the kernel: sealed frames (and, first, the handshake's last command).
    wire: BytesMut,
    /// The plaintext frames being sealed, flattened (reused).
    flat: BytesMut,
}

impl Connection {
    /// A connection starting `handshake` (our greeting is ready to go at once).
    pub(crate) fn new(handshake: Handshake) -> Connection {
        Connection {
            phase: Phase::Handshake(Box::new(handshake)),
            rbuf: BytesMut::new(),
            spares: VecDeque::new(),
            spare_used: false,
            #[cfg(test)]
            buffers_made: 0,
            rbuf_size: 0,
            queued_from_rbuf: 0,
            partial_before_rbuf: 0,
            partial: Message::new(),
            read_chunk: FIRST_READ,
            read_since_sweep: false,
            out: OutBuf::default(),
            wrote_since_sweep: false,
            peer_version: Version::V3_1,
            sealed: None,
        }
    }

    /// The handshake is over and traffic flows.
    #[inline]
    pub(crate) fn is_active(&self) -> bool {
        matches!(self.phase, Phase::Active { .. })
    }

    /// When [`Connection::handle_timeout`] is next due: the handshake's deadline, or the
    /// heartbeat's next PING, answer or TTL.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        match &self.phase {
            Phase::Handshake(h) => h.poll_timeout(),
            Phase::Active { heartbeat, .. } => heartbeat.poll_timeout(),
        }
    }

    /// The stream is up (a connect in progress completed): the handshake's time limit
    /// counts from `now`.
    pub(crate) fn restart_handshake_clock(&mut self, now: Instant) {
        if let Phase::Handshake(h) = &mut self.phase {
            h.restart_clock(now);
        }
    }

    /// The deadline came: the handshake ran out of time, or the heartbeat pings or gives
    /// up. A PING to send is queued by the next [`Connection::poll_transmit`].
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Result<(), CloseReason> {
        match &mut self.phase {
            Phase::Handshake(h) => h.handle_timeout(now).map_err(CloseReason::Handshake),
            Phase::Active { heartbeat, .. } => heartbeat
                .handle_timeout(now)
                .map_err(CloseReason::Heartbeat),
        }
    }

    // ----- input -----

    /// One read into the read buffer, by `read` (which appends to the buffer's spare
    /// capacity and returns how much it appended). The buffer grows with what arrives, at
    /// most doubling per read, so a peer's declared length never sizes an allocation by
    /// itself; giving up a buffer copies out the messages in `queue` (the pipe's received
    /// messages) that would pin it (see [`PIN_FACTOR`]). Returns the bytes read and the
    /// room there was for them (a read that did not fill the room emptied the stream).
    pub(crate) fn read_with(
        &mut self,
        queue: Option<&mut VecDeque<Message>>,
        read: impl FnOnce(&mut BytesMut) -> io::Result<usize>,
    ) -> io::Result<(usize, usize)> {
        let chunk = self.read_chunk;
        if self.rbuf.capacity() - self.rbuf.len() < chunk / 4 {
            let needed = match &self.phase {
                Phase::Active { decoder, .. } => decoder.bytes_needed(&self.rbuf),
                Phase::Handshake(_) => 0,
            };
            let len = self.rbuf.len();
            // (At most max(len, chunk).)
            let want = needed.clamp(chunk as u64, len.max(chunk) as u64) as usize;
            // A buffer the messages let go of is used again when it has room for a read of
            // half a chunk, even if not for `want`: frames that end at varying points of
            // their buffers then go on in the same buffers, instead of allocating one of a
            // new size each time.
            let min_room = chunk / 2;
            if !(self.rbuf.try_reclaim(want) || len < chunk && self.rbuf.try_reclaim(min_room)) {
                if len >= chunk {
                    // A large frame still arriving: the allocator may extend the buffer in
                    // place, or, if messages hold parts of it, move it to a new one.
                    self.release_read_buffer(queue);
                    self.rbuf.reserve(want);
                } else {
                    // Messages still hold parts of this buffer (or it is too small). Go on
                    // in a spare they let go of, else in a new buffer; this one becomes
                    // the newest spare.
                    let queued = self.release_read_buffer(queue);
                    let (mut next, size) = match self.free_spare(len + want, len + min_room) {
                        Some(spare) => spare,
                        None => {
                            #[cfg(test)]
                            {
                                self.buffers_made += 1;
                            }
                            let next = BytesMut::with_capacity(len + want);
                            let size = next.capacity();
                            (next, size)
                        }
                    };
                    next.extend_from_slice(&self.rbuf);
                    self.rbuf.clear();
                    let old = std::mem::replace(&mut self.rbuf, next);
                    // One spare as it comes; the others only if messages held them when
                    // they were left (their bytes counted as the messages' then).
                    if !queued {
                        self.spares.retain(|s| s.2);
                    }
                    if self.spares.len() == MAX_SPARES {
                        self.spares.pop_front();
                    }
                    // (A buffer never allocated is no spare: its handle would look held.)
                    if self.rbuf_size > 0 {
                        self.spares
                            .push_back((old.freeze(), self.rbuf_size, queued));
                    }
                    self.rbuf_size = size;
                }
            }
            self.rbuf_size = self.rbuf_size.max(self.rbuf.capacity());
        }
        let room = self.rbuf.capacity() - self.rbuf.len();
        let n = read(&mut self.rbuf)?;
        if n == 0 {
            return Ok((0, room)); // the peer's end of stream: nothing changes
        }
        self.read_since_sweep = true;
        if n == room && chunk < READ_CHUNK {
            self.read_chunk = chunk * 2;
        }
        if let Phase::Active { heartbeat, .. } = &mut self.phase {
            heartbeat.on_traffic();
        }
        Ok((n, room))
    }

    /// Whether bytes read wait to be decoded.
    #[inline]
    pub(crate) fn has_buffered_input(&self) -> bool {
        !self.rbuf.is_empty()
    }

    /// Feeds what was read to the handshake. `Ok(Some(peer))` once the peer's READY came
    /// and was accepted (the bytes after it stay buffered, for
    /// [`Connection::activate`]'s decoder). Any handshake output (our READY, an ERROR)
    /// waits for [`Connection::poll_transmit`].
    ///
    /// A handshake that must authenticate its peer asks `ask` (the request's address filled
    /// in from `address`): `None` means no authenticator is installed.
    pub(crate) fn handshake_input(
        &mut self,
        address: impl FnOnce() -> Bytes,
        ask: impl FnOnce(&ZapRequest) -> Answer,
    ) -> Result<Option<PeerInfo>, CloseReason> {
        let Phase::Handshake(h) = &mut self.phase else {
            return Ok(None);
        };
        h.handle_input(&mut self.rbuf)
            .map_err(CloseReason::Handshake)?;
        let mut ask = Some((address, ask));
        loop {
            match h.poll_event() {
                Some(zmtp_codec::Event::Completed(peer)) => return Ok(Some(peer)),
                Some(zmtp_codec::Event::Authenticate(mut request)) => {
                    // A handshake asks once (its state moves past the question).
                    let Some((address, ask)) = ask.take() else {
                        return Ok(None);
                    };
                    request.address = address();
                    match ask(&request) {
                        Answer::Now(reply) => h.authenticated(reply),
                        Answer::Nobody => h.no_authenticator(),
                        // The handshake waits for [`Connection::zap_answered`].
                        Answer::Later(_) => return Ok(None),
                    }
                    .and_then(|()| h.handle_input(&mut self.rbuf))
                    .map_err(CloseReason::Handshake)?;
                }
                None => return Ok(None),
            }
        }
    }

    /// The ZAP handler's answer to this connection's question (or why it could not be
    /// used); then the handshake goes on with what was read meanwhile.
    pub(crate) fn zap_answered(
        &mut self,
        reply: Result<ZapReply, zmtp_codec::ZapError>,
    ) -> Result<Option<PeerInfo>, CloseReason> {
        let Phase::Handshake(h) = &mut self.phase else {
            return Ok(None);
        };
        match reply {
            Ok(r) => h.authenticated(r),
            Err(e) => h.authentication_failed(e),
        }
        .map_err(CloseReason::Handshake)?;
        self.handshake_input(Bytes::new, |_| Answer::Nobody)
    }

    /// Whether the handshake saw the peer's READY (reading it may stop: the rest is
    /// traffic, read under the inbox's mark).
    pub(crate) fn handshake_complete(&self) -> bool {
        match &self.phase {
            Phase::Handshake(h) => h.is_complete(),
            Phase::Active { .. } => true,
        }
    }

    /// Starts traffic after the handshake with `peer`: frames decoded under `limits`, and
    /// heartbeats. Call [`Connection::poll_transmit`] first: our READY may still wait in
    /// the handshake, and it must go before any message.
    pub(crate) fn activate(&mut self, peer: &PeerInfo, mut limits: Limits, heartbeat: Heartbeat) {
        let placeholder = Phase::Active {
            decoder: Decoder::frames_only(limits),
            heartbeat: heartbeat.clone(),
        };
        if let Phase::Handshake(mut h) = std::mem::replace(&mut self.phase, placeholder) {
            let session = h.take_curve_session();
            let mut decoder = h.into_decoder();
            if let Some(session) = session {
                // A MESSAGE box is its frame plus a fixed overhead.
                limits.max_frame_size = limits
                    .max_frame_size
                    .map(|m| m.saturating_add(curve::MESSAGE_OVERHEAD as u64));
                // What the handshake queued last goes out as it is, before sealed traffic.
                let mut wire = BytesMut::new();
                self.out.drain_into(&mut wire);
                self.sealed = Some(Box::new(Sealed {
                    session,
                    wire,
                    flat: BytesMut::new(),
                }));
            }
            decoder.set_limits(limits);
            self.phase = Phase::Active { decoder, heartbeat };
        }
        self.peer_version = peer.version;
    }

    /// Whether traffic is sealed (CURVE): output must go through the output buffer, never
    /// straight from a caller's buffers.
    #[inline]
    pub(crate) fn is_sealed(&self) -> bool {
        self.sealed.is_some()
    }

    /// Whether our CURVE HELLO is still unanswered (see
    /// [`zmtp_codec::Handshake::awaits_curve_welcome`]).
    pub(crate) fn curve_hello_unanswered(&self) -> bool {
        matches!(&self.phase, Phase::Handshake(h) if h.awaits_curve_welcome())
    }

    /// Decodes buffered traffic into `inbox` until it is full or the buffer holds no whole
    /// item. A command the protocol forbids here, or bytes that cannot be decoded, end
    /// the connection (`Err`); a malformed command that the protocol lets us ignore is
    /// ignored, as libzmq does.
    pub(crate) fn decode(&mut self, inbox: &mut impl Inbox) -> Result<Decoded, CloseReason> {
        if self.sealed.is_some() {
            return self.decode_sealed(inbox);
        }
        let Phase::Active { decoder, heartbeat } = &mut self.phase else {
            return Ok(Decoded::default());
        };
        let mut done = Decoded::default();
        loop {
            if inbox.is_full() {
                break;
            }
            // Data frames take the inlined path; everything else, the general decoder.
            let f = match decoder.decode_data(&mut self.rbuf) {
                Some(f) => f,
                // (Everything decoded: the usual end of a read's input.)
                None if self.rbuf.is_empty() => break,
                // (`decode_data` consumed nothing: what `decode` consumes is measured.)
                None => match (self.rbuf.len(), decoder.decode(&mut self.rbuf)) {
                    (_, Ok(Some(Item::Frame(f)))) => f,
                    (before, Ok(Some(Item::Command(cmd)))) => {
                        inbox.junk(before - self.rbuf.len());
                        on_command(cmd, heartbeat, inbox, &mut done)?;
                        continue;
                    }
                    (_, Ok(Some(Item::Greeting(_)))) => {
                        return Err(CloseReason::Protocol(Violation::Greeting));
                    }
                    (_, Ok(None)) => break,
                    // Post-handshake, a malformed command is ignored (IPC.md section 5).
                    (before, Err(e)) if !e.is_fatal() => {
                        inbox.junk(before - self.rbuf.len());
                        continue;
                    }
                    (_, Err(e)) => return Err(CloseReason::Decode(e)),
                },
            };
            let ended = !self.partial.is_empty() && !f.more;
            let Some(kept) = deliver(&mut self.partial, f.more, f.body, inbox) else {
                continue;
            };
            if ended {
                self.partial_before_rbuf = 0;
            }
            if kept {
                self.queued_from_rbuf += 1;
            }
        }
        if done.pong {
            self.queue_heartbeat();
        }
        Ok(done)
    }

    /// [`Connection::decode`] for a CURVE connection: each frame is a MESSAGE box, opened
    /// into its own buffer (so no message holds the read buffer), then handled as a plain
    /// connection handles frames and commands. A box that does not open, a nonce out of
    /// sequence, or anything but a MESSAGE ends the connection.
    fn decode_sealed(&mut self, inbox: &mut impl Inbox) -> Result<Decoded, CloseReason> {
        let (Phase::Active { decoder, heartbeat }, Some(sealed)) =
            (&mut self.phase, self.sealed.as_deref_mut())
        else {
            return Ok(Decoded::default());
        };
        let mut done = Decoded::default();
        let max_frames = decoder.limits().max_message_frames;
        loop {
            if inbox.is_full() {
                break;
            }
            let outer = match decoder.decode(&mut self.rbuf) {
                Ok(Some(Item::Frame(f))) => f,
                Ok(Some(Item::Command(cmd))) => {
                    // libzmq sends nothing outside MESSAGE boxes once CURVE is up.
                    let name = String::from_utf8_lossy(cmd.name()).into_owned();
                    return Err(CloseReason::Protocol(Violation::PeerError(format!(
                        "unsealed {name} command on a CURVE connection"
                    ))));
                }
                Ok(Some(Item::Greeting(_))) => {
                    return Err(CloseReason::Protocol(Violation::Greeting));
                }
                Ok(None) => break,
                Err(e) => return Err(CloseReason::Decode(e)),
            };
            let opened = sealed
                .session
                .open(&outer.body)
                .map_err(|e| CloseReason::Protocol(Violation::Curve(e)))?;
            if opened.command {
                inbox.junk(outer.body.len());
                // As on a plain connection, a malformed command is ignored.
                if let Ok(cmd) = Command::parse(opened.body) {
                    on_command(cmd, heartbeat, inbox, &mut done)?;
                }
                continue;
            }
            // The outer frames carry no MORE: the frame cap is checked here.
            if let Some(limit) = max_frames.filter(|&m| self.partial.len() as u64 >= m) {
                return Err(CloseReason::Decode(
                    zmtp_codec::DecodeError::TooManyFrames { limit },
                ));
            }
            deliver(&mut self.partial, opened.more, opened.body, inbox);
        }
        if done.pong {
            self.queue_heartbeat();
        }
        Ok(done)
    }

    /// Gives up the read buffer's allocation as it is (a new one replaces it, it is given
    /// back while idle, or the connection closes). The messages the inbox kept from it
    /// (the newest `queued_from_rbuf` of `queue`) and the frames of a message in progress
    /// that came from it keep it alive; if they fill less than one [`PIN_FACTOR`]th of it,
    /// they are copied into buffers of their own, so a peer that follows each small
    /// message with bytes that are not kept (commands, dropped data) cannot make a few
    /// queued bytes hold whole read buffers. Returns whether they still hold it.
    pub(crate) fn release_read_buffer(&mut self, queue: Option<&mut VecDeque<Message>>) -> bool {
        let size = self.rbuf_size;
        let queued = std::mem::take(&mut self.queued_from_rbuf);
        let frames = self.partial.len();
        let before = std::mem::replace(&mut self.partial_before_rbuf, frames).min(frames);
        let partial = &mut self.partial.frames_mut()[before..];
        let start = queue
            .as_deref()
            .map_or(0, |q| q.len() - queued.min(q.len()));
        let tail = || queue.as_deref().into_iter().flat_map(|q| q.range(start..));
        if tail().next().is_none() && partial.is_empty() {
            return false;
        }
        let kept = tail().map(Message::byte_len).sum::<usize>()
            + partial.iter().map(Bytes::len).sum::<usize>();
        if kept.saturating_mul(PIN_FACTOR) >= size {
            return true;
        }
        // An empty frame is a slice of the buffer too, and keeps it alive as well.
        let own = |f: &mut Bytes| *f = Bytes::copy_from_slice(f);
        for m in queue.into_iter().flat_map(|q| q.range_mut(start..)) {
            m.frames_mut().iter_mut().for_each(own);
        }
        partial.iter_mut().for_each(own);
        false
    }

    /// The periodic look at the buffers: the spares go if nothing was read since the
    /// last look (all but the newest if none of them was read into), a read buffer larger
    /// than [`IDLE_RBUF_MAX`] that is empty and read nothing is given back, and so is an
    /// output batch's buffer larger than [`IDLE_BATCH_MAX`] that is empty and wrote no
    /// batch that large. Returns whether a large buffer or a spare is still held.
    pub(crate) fn sweep(&mut self, queue: Option<&mut VecDeque<Message>>) -> bool {
        let mut big = false;
        if !self.read_since_sweep {
            self.spares.clear();
        } else if !std::mem::take(&mut self.spare_used) {
            let older = self.spares.len().saturating_sub(1);
            self.spares.drain(..older);
        } else {
            // Buffers the application let go of since the last look: one is enough.
            let mut free_kept = false;
            self.spares
                .retain(|(b, ..)| !b.is_unique() || !std::mem::replace(&mut free_kept, true));
        }
        if self.rbuf.capacity() > IDLE_RBUF_MAX {
            if self.rbuf.is_empty() && !self.read_since_sweep {
                self.release_read_buffer(queue);
                self.rbuf = BytesMut::new();
                self.rbuf_size = 0;
                self.read_chunk = FIRST_READ;
            } else {
                big = true;
            }
        }
        self.read_since_sweep = false;
        if self.batch_buffers() > IDLE_BATCH_MAX {
            let idle = !self.wrote_since_sweep && self.out.is_empty();
            match self.sealed.as_deref_mut() {
                Some(sealed) if idle && sealed.wire.is_empty() => {
                    sealed.wire = BytesMut::new();
                    sealed.flat = BytesMut::new();
                    self.out.cur = BytesMut::new();
                }
                None if idle => self.out.cur = BytesMut::new(),
                _ => big = true,
            }
        }
        self.wrote_since_sweep = false;
        big || !self.spares.is_empty()
    }

    /// The oldest spare no message holds any more that has room for `want` bytes (else
    /// for `least`), emptied, with its size. Free spares too small for `least` are let go;
    /// the others stay for the next buffers.
    fn free_spare(&mut self, want: usize, least: usize) -> Option<(BytesMut, usize)> {
        let mut found = None;
        self.spares.retain_mut(|(spare, size, _)| {
            if !spare.is_unique() {
                return true;
            }
            if *size < least {
                return false;
            }
            if found.is_some() {
                return true;
            }
            // (Unique: the conversion does not copy.)
            if let Ok(mut b) = std::mem::take(spare).try_into_mut() {
                b.clear();
                if b.try_reclaim(want) || b.try_reclaim(least) {
                    found = Some((b, *size));
                }
            }
            false
        });
        if found.is_some() {
            self.spare_used = true;
        }
        found
    }

    /// Whether the sweep has something to look at: a read buffer larger than
    /// [`IDLE_RBUF_MAX`], spares (which only a sweep gives back once reading stops), or a
    /// batch buffer (or CURVE sealing buffer) larger than [`IDLE_BATCH_MAX`].
    pub(crate) fn wants_sweep(&self) -> bool {
        self.rbuf.capacity() > IDLE_RBUF_MAX
            || !self.spares.is_empty()
            || self.batch_buffers() > IDLE_BATCH_MAX
    }

    /// The largest of the output's buffers: the batch's and, on CURVE, the sealing ones.
    fn batch_buffers(&self) -> usize {
        let sealed = self
            .sealed
            .as_deref()
            .map_or(0, |s| s.wire.capacity().max(s.flat.capacity()));
        self.out.cur.capacity().max(sealed)
    }

    /// The bytes of read buffers held: the current one's capacity and the spares' sizes.
    pub(crate) fn read_buffer_bytes(&self) -> usize {
        self.rbuf.capacity() + self.spares.iter().map(|s| s.1).sum::<usize>()
    }

    // ----- output -----

    /// Bytes encoded and not yet written.
    #[inline]
    pub(crate) fn output_len(&self) -> usize {
        self.out.len + self.sealed.as_ref().map_or(0, |s| s.wire.len())
    }

    #[inline]
    pub(crate) fn has_output(&self) -> bool {
        !self.out.is_empty() || self.sealed.as_ref().is_some_and(|s| !s.wire.is_empty())
    }

    /// Appends a message to the output.
    pub(crate) fn push_message(&mut self, msg: &Message) {
        debug_assert!(self.is_active(), "traffic before the handshake completed");
        self.out.push_message(msg);
    }

    /// Appends an outgoing message to the output, releasing what it held.
    pub(crate) fn encode(&mut self, msg: &mut impl Outgoing) {
        debug_assert!(self.is_active(), "traffic before the handshake completed");
        msg.encode_into(&mut self.out);
    }

    /// Appends what a write from the caller's own buffers left unwritten of `parts`
    /// (after `written` bytes of them), copied.
    pub(crate) fn push_unwritten(&mut self, parts: &[&[u8]], written: usize) {
        self.out.push_unwritten(parts, written);
    }

    /// Appends a subscription change, in the form the peer's ZMTP version expects.
    pub(crate) fn push_subscription(&mut self, sub: &Subscription) {
        debug_assert!(self.is_active(), "traffic before the handshake completed");
        let v = self.peer_version;
        self.out.push_encoded(|b| sub.encode(v, b));
    }

    /// Appends what the protocol machines want to send: the handshake's greeting, READY or
    /// ERROR; after it, the heartbeat's PING and PONG (see
    /// [`Connection::queue_heartbeat`]).
    pub(crate) fn poll_transmit(&mut self) {
        let Connection { phase, out, .. } = self;
        match phase {
            Phase::Handshake(h) => out.push_encoded(|b| h.poll_transmit(b)),
            Phase::Active { .. } => self.queue_heartbeat(),
        }
    }

    /// Appends the heartbeat's pending PING and PONG, but only to an empty output: while
    /// other output waits they stay pending in the heartbeat (one of each at most, the
    /// PONG with the newest PING's context), so a peer that does not read makes nothing
    /// pile up. Whoever writes calls this again each time the output is all written.
    pub(crate) fn queue_heartbeat(&mut self) {
        if let Phase::Active { heartbeat, .. } = &mut self.phase {
            if heartbeat.wants_transmit() && self.out.is_empty() {
                self.out.push_encoded(|b| heartbeat.poll_transmit(b));
            }
        }
    }

    /// One write of the output, followed by `extra` (bytes of the caller's own buffers,
    /// not counted in the output), by `write` (one vectored write: a `sendmsg`, or a
    /// test's copy; it returns how many bytes it took). `extra` goes in only when the whole
    /// output fits in the same write. Returns how many bytes of `extra` went out; what is
    /// left of it is the caller's to keep or to [`Connection::push_unwritten`]. The output
    /// is advanced past what went out, whatever the result.
    pub(crate) fn write_with(
        &mut self,
        extra: &[&[u8]],
        write: impl FnOnce(&[IoSlice<'_>]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        let sealed_len = self.sealed.as_deref().map_or(0, |s| s.wire.len());
        if self.out.len.max(sealed_len) > IDLE_BATCH_MAX {
            self.wrote_since_sweep = true;
        }
        if self.sealed.is_some() {
            return self.write_sealed(extra, write);
        }
        let out = &mut self.out;
        let mut iov: SmallVec<[IoSlice<'_>; MAX_IOV]> = SmallVec::new();
        for c in out.chunks.iter().take(MAX_IOV - 1) {
            iov.push(IoSlice::new(c));
        }
        // `cur` follows the chunks, so it goes in only when every chunk did; `extra`
        // follows `cur`.
        let all_out = out.chunks.len() < MAX_IOV;
        if !out.cur.is_empty() && all_out {
            iov.push(IoSlice::new(&out.cur));
        }
        if all_out {
            for e in extra.iter().filter(|e| !e.is_empty()) {
                if iov.len() == MAX_IOV {
                    break;
                }
                iov.push(IoSlice::new(e));
            }
        }
        if iov.is_empty() {
            return Ok(0);
        }
        let n = write(&iov)?;
        drop(iov);
        let from_out = n.min(out.len);
        if from_out > 0 {
            out.advance(from_out);
        }
        Ok(n - from_out)
    }
}

impl Connection {
    /// [`Connection::write_with`] for a CURVE connection: the plaintext frames waiting in
    /// the output are sealed, then written. `extra` is never written from (callers hand
    /// none to a sealed connection): none of it went out, as the caller is told.
    fn write_sealed(
        &mut self,
        extra: &[&[u8]],
        write: impl FnOnce(&[IoSlice<'_>]) -> io::Result<usize>,
    ) -> io::Result<usize> {
        debug_assert!(extra.iter().all(|e| e.is_empty()), "a fast path on CURVE");
        let Some(sealed) = self.sealed.as_deref_mut() else {
            return Ok(0);
        };
        if !self.out.is_empty() {
            if self.out.chunks.is_empty() {
                // All in the batch, contiguous: sealed from there.
                let took = sealed.session.seal_stream(&self.out.cur, &mut sealed.wire);
                debug_assert_eq!(took, self.out.cur.len()); // whole frames only
                self.out.cur.clear();
                self.out.len = 0;
            } else {
                sealed.flat.clear();
                self.out.drain_into(&mut sealed.flat);
                let took = sealed.session.seal_stream(&sealed.flat, &mut sealed.wire);
                // Our own output holds whole frames only.
                debug_assert_eq!(took, sealed.flat.len());
                if sealed.flat.capacity() > SEALED_KEEP {
                    sealed.flat = BytesMut::new(); // a large message's buffer is not kept
                }
            }
        }
        if sealed.wire.is_empty() {
            return Ok(0);
        }
        let n = write(&[IoSlice::new(&sealed.wire)])?;
        sealed.wire.advance(n.min(sealed.wire.len()));
        if sealed.wire.is_empty() {
            if sealed.wire.capacity() > SEALED_KEEP {
                sealed.wire = BytesMut::new(); // a large message's buffer is not kept
            } else {
                sealed.wire.clear();
            }
        }
        Ok(0)
    }
}

/// A data frame decoded: appended to the message in progress `partial`, or the message it
/// ends (or is) handed to `inbox`. `None` while the message goes on; else whether the inbox
/// kept it.
#[inline]
fn deliver(partial: &mut Message, more: bool, body: Bytes, inbox: &mut impl Inbox) -> Option<bool> {
    if !more && partial.is_empty() {
        return Some(inbox.push_frame(body));
    }
    partial.push(body);
    if more {
        return None;
    }
    Some(inbox.push_message(std::mem::take(partial)))
}

/// What a plain connection does with a command after its handshake (a CURVE one, with a
/// command taken out of a MESSAGE box).
fn on_command(
    cmd: Command,
    heartbeat: &mut Heartbeat,
    inbox: &mut impl Inbox,
    done: &mut Decoded,
) -> Result<(), CloseReason> {
    match cmd {
        Command::Ping(ping) => {
            heartbeat.on_ping(&ping, inbox.now());
            done.pong = true;
        }
        Command::Pong { .. } | Command::Unknown { .. } => {}
        Command::Subscribe(_) | Command::Cancel(_) => {
            if let Some(sub) = Subscription::from_command(&cmd) {
                inbox.subscription(sub);
            }
        }
        Command::Error { reason } => {
            return Err(CloseReason::Protocol(Violation::PeerError(
                String::from_utf8_lossy(&reason).into_owned(),
            )));
        }
        Command::Ready(_) => {
            return Err(CloseReason::Protocol(Violation::Ready));
        }
    }
    Ok(())
}

/// Outgoing bytes of one connection: encoded chunks waiting for a vectored write.
#[derive(Debug, Default)]
pub(crate) struct OutBuf {
    /// Frozen chunks (batches and large bodies), in order, before `cur`.
    chunks: VecDeque<Bytes>,
    /// The batch being filled with headers and small bodies.
    cur: BytesMut,
    len: usize,
}

impl OutBuf {
    fn push_message(&mut self, msg: &Message) {
        let frames = msg.frames();
        if frames.is_empty() {
            self.push_header(0, false); // a message of no frames goes as one empty frame
        }
        for (i, body) in frames.iter().enumerate() {
            self.push_frame(body, i + 1 < frames.len());
        }
    }

    fn push_frame(&mut self, body: &Bytes, more: bool) {
        self.push_body(body, more, || body.clone());
    }

    /// A one-frame message copied from `body` (large bodies into a buffer of their own).
    fn push_copy(&mut self, body: &[u8]) {
        self.push_body(body, false, || Bytes::copy_from_slice(body));
    }

    /// A data frame (see [`OutBuf::push_bytes`]).
    fn push_body(&mut self, body: &[u8], more: bool, own: impl FnOnce() -> Bytes) {
        self.push_header(body.len(), more);
        self.push_bytes(body, own);
    }

    /// Bytes already counted in `len`: small ones copied into the batch, larger ones
    /// (`own`) after it, from a buffer of their own.
    fn push_bytes(&mut self, bytes: &[u8], own: impl FnOnce() -> Bytes) {
        if bytes.len() <= COPY_MAX {
            self.cur.extend_from_slice(bytes);
        } else {
            self.push_chunk(own());
        }
    }

    /// What a write from the caller's own buffers left unwritten of `parts`: the rest,
    /// copied, in order.
    fn push_unwritten(&mut self, parts: &[&[u8]], mut written: usize) {
        for part in parts {
            let rest = &part[written.min(part.len())..];
            written = written.saturating_sub(part.len());
            if rest.is_empty() {
                continue;
            }
            self.len += rest.len();
            self.push_bytes(rest, || Bytes::copy_from_slice(rest));
        }
    }

    /// A data frame's header, counting the body that follows it.
    fn push_header(&mut self, body: usize, more: bool) {
        if let Ok(short) = u8::try_from(body) {
            self.cur.extend_from_slice(&short_header(short, more));
            self.len += 2 + body;
            return;
        }
        let hdr = FrameHeader::data(body as u64, more);
        self.cur.extend_from_slice(hdr.to_bytes().as_slice());
        self.len += hdr.header_len() + body;
    }

    /// A body written from its own buffer, after what the batch holds so far.
    fn push_chunk(&mut self, body: Bytes) {
        if !self.cur.is_empty() {
            self.chunks.push_back(self.cur.split().freeze());
        }
        self.chunks.push_back(body);
    }

    fn push_encoded(&mut self, f: impl FnOnce(&mut BytesMut)) {
        let before = self.cur.len();
        f(&mut self.cur);
        self.len += self.cur.len() - before;
    }

    fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Moves everything waiting to the end of `dst`, in order.
    fn drain_into(&mut self, dst: &mut BytesMut) {
        dst.reserve(self.len);
        for c in self.chunks.drain(..) {
            dst.extend_from_slice(&c);
        }
        dst.extend_from_slice(&self.cur);
        self.cur.clear();
        self.len = 0;
    }

    /// Drops the first `n` bytes (written), `n <= len`.
    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            match self.chunks.front_mut() {
                Some(c) if c.len() <= n => {
                    n -= c.len();
                    self.chunks.pop_front();
                }
                Some(c) => {
                    c.advance(n);
                    n = 0;
                }
                None => {
                    self.cur.advance(n);
                    n = 0;
                }
            }
        }
        if self.cur.is_empty() {
            // Back to the start of its allocation when no frozen chunk shares it, without a
            // copy (nothing is left in it). Left where the write ended, the batch would
            // run into the end of the allocation halfway through the next one, and the
            // bytes of that half batch would be moved back to the start to make room.
            let _ = self.cur.try_reclaim(self.cur.capacity() + 1);
        }
    }
}

/// What a send hands over: a message, or an envelope and a last frame copied from a
/// borrowed slice.
pub(crate) trait Outgoing {
    /// Encodes it into a connection's batch (the direct path), releasing what it held.
    fn encode_into(&mut self, out: &mut OutBuf);
    /// Encodes it into `buf` if it fits, releasing what it held; returns the encoded
    /// length. `None`: it does not fit, and nothing changed. (A message to an idle
    /// connection is written from such a buffer in one `send`, skipping the batch: a
    /// request, a reply, a lone message in a quiet stream.)
    fn encode_small(&mut self, buf: &mut [u8]) -> Option<usize>;
    /// Its length as [`Outgoing::encode_small`] encodes it.
    fn encoded_len(&self) -> usize;
    /// The message to queue in the pipe.
    fn take_message(&mut self) -> Message;
    /// Gives back what [`Outgoing::take_message`] took, when the message was refused after
    /// all (an inproc flow at its HWM): the sender keeps its message.
    fn restore(&mut self, _msg: Message) {}
    /// A one-frame message whose body is to be copied anyway: an inproc flow packs it
    /// with its neighbours instead of allocating it a buffer of its own.
    fn copied_body(&self) -> Option<&[u8]> {
        None
    }
}

impl Outgoing for Message {
    fn encode_into(&mut self, out: &mut OutBuf) {
        out.push_message(self);
        self.frames_mut().clear();
    }

    fn encode_small(&mut self, buf: &mut [u8]) -> Option<usize> {
        let frames = self.frames();
        let mut at = 0;
        if frames.is_empty() {
            at = put_frame(buf, 0, &[], false)?; // sent as one empty frame
        }
        for (i, f) in frames.iter().enumerate() {
            at = put_frame(buf, at, f, i + 1 < frames.len())?;
        }
        self.frames_mut().clear();
        Some(at)
    }

    fn encoded_len(&self) -> usize {
        let frames = self.frames();
        if frames.is_empty() {
            return frame_len(0);
        }
        frames_len(frames)
    }

    fn take_message(&mut self) -> Message {
        std::mem::take(self)
    }

    fn restore(&mut self, msg: Message) {
        *self = msg;
    }
}

/// A data frame's length on the wire, header and body.
#[inline]
fn frame_len(body: usize) -> usize {
    let header = if body <= usize::from(u8::MAX) { 2 } else { 9 };
    body.saturating_add(header)
}

/// The wire length of `frames`, each a data frame.
fn frames_len(frames: &[Bytes]) -> usize {
    frames
        .iter()
        .fold(0, |n: usize, f| n.saturating_add(frame_len(f.len())))
}

/// Frames to go first (an envelope), then a copy of `body`.
pub(crate) struct Copied<'a> {
    pub(crate) head: &'a [Bytes],
    pub(crate) body: &'a [u8],
}

impl Outgoing for Copied<'_> {
    fn copied_body(&self) -> Option<&[u8]> {
        self.head.is_empty().then_some(self.body)
    }

    fn encode_into(&mut self, out: &mut OutBuf) {
        for f in self.head {
            out.push_frame(f, true);
        }
        out.push_copy(self.body);
    }

    fn encode_small(&mut self, buf: &mut [u8]) -> Option<usize> {
        let mut at = 0;
        for f in self.head {
            at = put_frame(buf, at, f, true)?;
        }
        put_frame(buf, at, self.body, false)
    }

    fn encoded_len(&self) -> usize {
        frames_len(self.head).saturating_add(frame_len(self.body.len()))
    }

    fn take_message(&mut self) -> Message {
        let copy = Bytes::copy_from_slice(self.body);
        self.head.iter().cloned().chain([copy]).collect()
    }
}

#[cfg(test)]
mod tests;
