//! Two [`Connection`]s wired together in memory, without sockets: the handshake, traffic
//! both ways, heartbeats, RCVHWM and protocol errors, under every split of the byte stream
//! into reads and writes.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use zmtp_codec::{
    Command, DecodeError, Handshake, HandshakeConfig, HandshakeError, Heartbeat, HeartbeatConfig,
    HeartbeatError, Limits, Metadata, PeerInfo, Ping, SocketType, Subscription,
};

use super::{CloseReason, Connection, Copied, Inbox, OutBuf, Violation};
use crate::Message;

/// Collects what a connection decodes, up to `cap` messages (0: no limit).
struct TestInbox {
    msgs: VecDeque<Message>,
    subs: Vec<Subscription>,
    cap: usize,
    now: Instant,
}

impl Inbox for TestInbox {
    fn is_full(&self) -> bool {
        self.cap != 0 && self.msgs.len() >= self.cap
    }
    fn push_frame(&mut self, body: Bytes) -> bool {
        self.push_message(Message::from(body))
    }
    fn push_message(&mut self, msg: Message) -> bool {
        self.msgs.push_back(msg);
        true
    }
    fn subscription(&mut self, sub: Subscription) {
        self.subs.push(sub);
    }
    fn now(&self) -> Instant {
        self.now
    }
}

/// One end: its machine, what it decoded, and how it ended.
struct End {
    conn: Connection,
    inbox: TestInbox,
    peer: Option<PeerInfo>,
    closed: Option<CloseReason>,
    heartbeat: HeartbeatConfig,
    limits: Limits,
}

impl End {
    fn new(socket_type: SocketType, identity: &'static [u8], now: Instant) -> End {
        let mut hc = HandshakeConfig::new(socket_type);
        hc.identity = Bytes::from_static(identity);
        End {
            conn: Connection::new(Handshake::new(hc, now)),
            inbox: TestInbox {
                msgs: VecDeque::new(),
                subs: Vec::new(),
                cap: 0,
                now,
            },
            peer: None,
            closed: None,
            heartbeat: HeartbeatConfig::default(),
            limits: Limits {
                max_frame_size: None,
                max_message_size: None,
                max_message_frames: Some(1 << 17),
                max_command_size: None,
            },
        }
    }

    /// Writes at most `max` bytes of its output (and its machines' output) to `wire`.
    /// Whether any moved.
    fn write(&mut self, wire: &mut VecDeque<u8>, max: usize) -> bool {
        if self.closed.is_some() && self.peer.is_some() {
            return false;
        }
        self.conn.poll_transmit();
        let before = self.conn.output_len();
        let extra = self
            .conn
            .write_with(&[], |iov| {
                let mut n = 0;
                for s in iov {
                    let take = s.len().min(max - n);
                    wire.extend(&s[..take]);
                    n += take;
                    if n == max {
                        break;
                    }
                }
                Ok(n)
            })
            .expect("an in-memory write cannot fail");
        assert_eq!(extra, 0, "no extra bytes were offered");
        self.conn.output_len() < before
    }

    /// Reads at most `max` bytes from `wire` and runs the machines on them. Whether any
    /// moved or were decoded.
    fn read(&mut self, wire: &mut VecDeque<u8>, max: usize) -> bool {
        if self.closed.is_some() {
            return false;
        }
        let mut moved = false;
        if !wire.is_empty() {
            let (n, _) = self
                .conn
                .read_with(Some(&mut self.inbox.msgs), |buf| {
                    let n = max.min(wire.len()).min(buf.capacity() - buf.len());
                    buf.extend(wire.drain(..n));
                    Ok(n)
                })
                .expect("an in-memory read cannot fail");
            moved = n > 0;
        }
        self.run();
        moved
    }

    /// Feeds what is buffered to the handshake, then to the decoder.
    fn run(&mut self) {
        if self.closed.is_some() {
            return;
        }
        if !self.conn.is_active() {
            match self
                .conn
                .handshake_input(Bytes::new, |_| crate::auth::Answer::Nobody)
            {
                Ok(Some(peer)) => {
                    // Our READY may still wait in the handshake: it goes before traffic.
                    self.conn.poll_transmit();
                    let hb = Heartbeat::new(self.heartbeat, self.inbox.now);
                    self.conn.activate(&peer, self.limits, hb);
                    self.peer = Some(peer);
                }
                Ok(None) => return,
                Err(e) => {
                    self.closed = Some(e);
                    return;
                }
            }
        }
        if let Err(e) = self.conn.decode(&mut self.inbox) {
            self.closed = Some(e);
        }
    }

    fn send(&mut self, frames: &[&[u8]]) {
        let msg: Message = frames.iter().map(|f| Bytes::copy_from_slice(f)).collect();
        self.conn.push_message(&msg);
    }

    fn send_command(&mut self, cmd: &Command) {
        self.conn.out.push_encoded(|b| cmd.encode(b));
    }

    fn received(&self) -> Vec<Vec<Vec<u8>>> {
        self.inbox
            .msgs
            .iter()
            .map(|m| m.frames().iter().map(|f| f.to_vec()).collect())
            .collect()
    }
}

/// Moves bytes both ways, `writes[i]` and `reads[i]` bytes at a time in turn (cycling),
/// until nothing moves.
fn pump(a: &mut End, b: &mut End, writes: &[usize], reads: &[usize]) {
    let (mut ab, mut ba) = (VecDeque::new(), VecDeque::new());
    let mut i = 0;
    loop {
        let w = writes[i % writes.len()].max(1);
        let r = reads[i % reads.len()].max(1);
        i += 1;
        let mut moved = a.write(&mut ab, w);
        moved |= b.write(&mut ba, w);
        moved |= b.read(&mut ab, r);
        moved |= a.read(&mut ba, r);
        // A closed end reads no more: what it is sent is lost.
        if b.closed.is_some() {
            ab.clear();
        }
        if a.closed.is_some() {
            ba.clear();
        }
        if !moved && ab.is_empty() && ba.is_empty() {
            break;
        }
        assert!(i < 10_000_000, "no progress");
    }
}

fn pair(now: Instant) -> (End, End) {
    (
        End::new(SocketType::Dealer, b"client", now),
        End::new(SocketType::Router, b"", now),
    )
}

/// The messages one side sends in the traffic tests: one-frame, multipart, an empty frame,
/// a long-header frame, and a body over `COPY_MAX` (written from its own buffer).
fn traffic() -> Vec<Vec<Vec<u8>>> {
    vec![
        vec![b"hello".to_vec()],
        vec![b"a".to_vec(), Vec::new(), b"ccc".to_vec()],
        vec![Vec::new()],
        vec![vec![7; 300]],
        vec![vec![9; super::COPY_MAX + 100]],
    ]
}

fn send_all(end: &mut End, msgs: &[Vec<Vec<u8>>]) {
    for m in msgs {
        let frames: Vec<&[u8]> = m.iter().map(Vec::as_slice).collect();
        end.send(&frames);
    }
}

/// The whole exchange: handshake, then `traffic()` from each side, with fixed write and
/// read sizes.
fn exchange(writes: &[usize], reads: &[usize]) {
    let now = Instant::now();
    let (mut a, mut b) = pair(now);
    pump(&mut a, &mut b, writes, reads);
    let pa = a.peer.as_ref().expect("a's handshake completed");
    let pb = b.peer.as_ref().expect("b's handshake completed");
    assert_eq!(pa.socket_type, Some(SocketType::Router));
    assert_eq!(pb.socket_type, Some(SocketType::Dealer));
    assert_eq!(pb.identity.as_deref(), Some(&b"client"[..]));
    let msgs = traffic();
    send_all(&mut a, &msgs);
    send_all(&mut b, &msgs[..2]);
    pump(&mut a, &mut b, writes, reads);
    assert_eq!(b.received(), msgs);
    assert_eq!(a.received(), msgs[..2]);
    assert!(a.closed.is_none() && b.closed.is_none());
    assert!(!a.conn.has_output() && !b.conn.has_output());
}

#[test]
fn every_fixed_split_of_writes_and_reads() {
    // Sizes up to past the greeting (64 bytes), and a few larger ones.
    let sizes: Vec<usize> = (1..=70)
        .chain([100, 255, 256, 257, 1000, 4096, 1 << 20])
        .collect();
    for &w in &sizes {
        for &r in [1, 2, 3, 7, 10, 11, 63, 64, 65, 200, 1 << 20].iter() {
            exchange(&[w], &[r]);
        }
    }
    for &r in &sizes {
        exchange(&[1 << 20], &[r]);
    }
}

/// Everything one side writes, handshake and messages, captured whole.
fn whole_output(msgs: &[Vec<Vec<u8>>]) -> (Vec<u8>, Vec<u8>) {
    let now = Instant::now();
    let (mut a, mut b) = pair(now);
    // The handshake, to learn b's side of it.
    let (mut ab, mut ba) = (VecDeque::new(), VecDeque::new());
    a.write(&mut ab, usize::MAX);
    b.write(&mut ba, usize::MAX);
    let greeting_and_ready: Vec<u8> = ba.iter().copied().collect();
    b.read(&mut ab, usize::MAX);
    a.read(&mut ba, usize::MAX);
    a.write(&mut ab, usize::MAX);
    b.write(&mut ba, usize::MAX);
    let mut from_b: Vec<u8> = greeting_and_ready;
    from_b.extend(ba.drain(..));
    // b's handshake output (greeting, READY), then its messages.
    b.read(&mut ab, usize::MAX);
    send_all(&mut b, msgs);
    b.write(&mut ba, usize::MAX);
    from_b.extend(ba.drain(..));
    (from_b, ab.into_iter().collect())
}

#[test]
fn every_split_point_of_the_stream() {
    // A fresh DEALER reads a ROUTER's whole output (greeting, READY, messages) in two
    // reads, split at every byte, and in three, split at every pair of points a few
    // bytes apart.
    let msgs = traffic()[..4].to_vec();
    let (stream, _) = whole_output(&msgs);
    let feed = |cuts: &[usize]| {
        let now = Instant::now();
        let (mut a, _) = pair(now);
        let mut wire = VecDeque::new();
        a.write(&mut wire, usize::MAX); // our greeting and READY go nowhere
        let mut at = 0;
        for &cut in cuts.iter().chain([&stream.len()]) {
            let mut part: VecDeque<u8> = stream[at..cut].iter().copied().collect();
            while !part.is_empty() {
                a.read(&mut part, usize::MAX);
            }
            a.run();
            at = cut;
        }
        assert!(a.closed.is_none(), "{:?} at {cuts:?}", a.closed);
        assert!(a.peer.is_some(), "handshake at {cuts:?}");
        assert_eq!(a.received(), msgs, "split at {cuts:?}");
    };
    for k in 0..=stream.len() {
        feed(&[k]);
    }
    for k in 0..stream.len() {
        for d in [1, 2, 9] {
            if k + d <= stream.len() {
                feed(&[k, k + d]);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random write and read sizes, and random messages both ways.
    #[test]
    fn random_splits(
        writes in prop::collection::vec(1usize..5000, 1..8),
        reads in prop::collection::vec(1usize..5000, 1..8),
        msgs in prop::collection::vec(
            prop::collection::vec(
                prop_oneof![
                    prop::collection::vec(any::<u8>(), 0..20),
                    prop::collection::vec(any::<u8>(), 250..260),
                    prop::collection::vec(any::<u8>(), 2040..2060),
                ],
                1..4,
            ),
            0..12,
        ),
    ) {
        let now = Instant::now();
        let (mut a, mut b) = pair(now);
        pump(&mut a, &mut b, &writes, &reads);
        send_all(&mut a, &msgs);
        send_all(&mut b, &msgs);
        pump(&mut a, &mut b, &writes, &reads);
        prop_assert!(a.closed.is_none() && b.closed.is_none());
        prop_assert_eq!(b.received(), msgs.clone());
        prop_assert_eq!(a.received(), msgs);
    }
}

#[test]
fn decoding_stops_at_the_inbox_mark_and_resumes_below_it() {
    let now = Instant::now();
    let (mut a, mut b) = pair(now);
    b.inbox.cap = 2;
    pump(&mut a, &mut b, &[1 << 20], &[1 << 20]);
    for i in 0..5u8 {
        a.send(&[&[i]]);
    }
    pump(&mut a, &mut b, &[1 << 20], &[1 << 20]);
    assert_eq!(b.inbox.msgs.len(), 2, "decoding stopped at the mark");
    assert!(b.conn.has_buffered_input(), "the rest waits in the buffer");
    b.inbox.msgs.clear();
    b.run();
    assert_eq!(b.received(), [vec![vec![2]], vec![vec![3]]]);
    b.inbox.msgs.clear();
    b.run();
    assert_eq!(b.received(), [vec![vec![4]]]);
    assert!(!b.conn.has_buffered_input());
}

#[test]
fn copied_sends_encode_like_messages() {
    let now = Instant::now();
    let (mut a, mut b) = pair(now);
    pump(&mut a, &mut b, &[1 << 20], &[1 << 20]);
    let head = [Bytes::from_static(b"envelope")];
    let big = vec![5u8; super::COPY_MAX + 1];
    a.conn.encode(&mut Copied {
        head: &head,
        body: b"x",
    });
    a.conn.encode(&mut Copied {
        head: &[],
        body: &big,
    });
    let mut small = [0u8; super::SMALL_SEND];
    let n = Copied {
        head: &head,
        body: b"y",
    }
    .encode_small_into(&mut small);
    a.conn.push_unwritten(&[&small[..n]], 0);
    pump(&mut a, &mut b, &[3], &[5]);
    assert_eq!(
        b.received(),
        [
            vec![b"envelope".to_vec(), b"x".to_vec()],
            vec![big],
            vec![b"envelope".to_vec(), b"y".to_vec()],
        ]
    );
}

/// A batch written whole leaves the next one all of its allocation, from the start: the
/// bytes of a batch are copied into it once, never moved again to make room.
#[test]
fn a_written_batch_gives_the_next_its_whole_allocation() {
    let mut out = OutBuf::default();
    let body = [7u8; 64];
    for round in 0..4 {
        let start = out.cur.as_ptr();
        let room = out.cur.capacity();
        let mut n = 0;
        while out.len < 64 * 1024 {
            out.push_copy(&body);
            n += 1;
        }
        if round > 0 {
            // The same allocation, filled from its start, and no bigger.
            assert_eq!(out.cur.as_ptr(), start, "round {round}");
            assert!(out.cur.capacity() <= room, "round {round}");
        }
        assert_eq!(out.len, n * 66);
        // Written in two parts, as a kernel short of room would take it.
        out.advance(1000);
        out.advance(out.len);
        assert!(out.is_empty());
        assert!(
            out.cur.capacity() >= 64 * 1024,
            "round {round}: the room came back"
        );
    }
}

/// A batch's buffer grown past `IDLE_BATCH_MAX` in a stream stays while the connection
/// writes large batches (a sweep after one keeps it), and goes at the first sweep after an
/// interval in which it wrote none (nothing, or only small writes); then the connection
/// wants no sweep for it.
#[test]
fn an_idle_connection_gives_its_batch_buffer_back() {
    let now = Instant::now();
    let (mut a, mut b) = pair(now);
    let mut ab = VecDeque::new();
    pump(&mut a, &mut b, &[usize::MAX], &[usize::MAX]);
    let body = [5u8; 1024];
    for _ in 0..200 {
        a.send(&[&body]);
    }
    assert!(a.conn.out.cur.capacity() > super::IDLE_BATCH_MAX);
    assert!(a.conn.wants_sweep());
    assert!(a.write(&mut ab, usize::MAX));
    // Written in this interval: kept.
    assert!(a.conn.sweep(Some(&mut a.inbox.msgs)));
    assert!(a.conn.out.cur.capacity() > super::IDLE_BATCH_MAX);
    // Nothing written since: given back.
    assert!(!a.conn.sweep(Some(&mut a.inbox.msgs)));
    assert_eq!(a.conn.out.cur.capacity(), 0);
    assert!(!a.conn.wants_sweep());
    // The stream arrived whole, and the next message goes as ever.
    while !ab.is_empty() {
        b.read(&mut ab, super::READ_CHUNK);
    }
    assert_eq!(b.inbox.msgs.len(), 200);
    a.send(&[b"after"]);
    assert!(a.write(&mut ab, usize::MAX));
    b.read(&mut ab, super::READ_CHUNK);
    assert_eq!(b.inbox.msgs.back().unwrap().frames()[0], &b"after"[..]);
    // Grown again by a stream; then only small writes (a heartbeat's size) in the next
    // interval: they do not keep it.
    for _ in 0..200 {
        a.send(&[&body]);
    }
    assert!(a.write(&mut ab, usize::MAX));
    assert!(a.conn.sweep(Some(&mut a.inbox.msgs)));
    a.send(&[b"small"]);
    assert!(a.write(&mut ab, usize::MAX));
    assert!(!a.conn.sweep(Some(&mut a.inbox.msgs)));
    assert_eq!(a.conn.out.cur.capacity(), 0);
    while !ab.is_empty() {
        b.read(&mut ab, super::READ_CHUNK);
    }
    assert_eq!(b.inbox.msgs.len(), 402);
    assert!(b.closed.is_none() && a.closed.is_none());
}

/// A batch split off for a large body and only partly written keeps its bytes while new
/// ones go into the batch after it: the emptied batch is not moved back over them.
#[test]
fn a_batch_partly_written_keeps_its_bytes_while_the_next_fills() {
    let mut out = OutBuf::default();
    let big = vec![9u8; super::COPY_MAX + 1];
    out.push_copy(b"first");
    out.push_copy(&big); // the batch so far becomes a chunk, then the body's own
    assert!(out.cur.is_empty());
    // Part of the first chunk written: `cur` is empty and shares the chunk's buffer.
    out.advance(3);
    out.push_copy(b"second");
    let mut wire = Vec::new();
    for c in &out.chunks {
        wire.extend_from_slice(c);
    }
    wire.extend_from_slice(&out.cur);
    let mut expected = b"\x00\x05first"[3..].to_vec();
    expected.extend_from_slice(&[0x02, 0, 0, 0, 0, 0, 0, 0x08, 0x01]);
    expected.extend_from_slice(&big);
    expected.extend_from_slice(b"\x00\x06second");
    assert_eq!(wire, expected);
    assert_eq!(out.len, expected.len());
    // All of it written, the buffers shared no more: the batch starts afresh.
    out.advance(out.len);
    assert!(out.is_empty());
    out.push_copy(b"third");
    assert_eq!(&out.cur[..], b"\x00\x05third");
}

/// What `encoded_len` says is what `encode_small` writes, and what the batch's encoding
/// of the same message holds: for messages of no frame, empty frames, short and long
/// frames, and envelopes.
#[test]
fn encoded_len_is_what_encode_small_writes() {
    let long = vec![7u8; 300];
    let bodies: [&[u8]; 4] = [b"", b"x", &long[..255], &long];
    let mut buf = vec![0u8; super::MEDIUM_SEND];
    let mut messages: Vec<Message> = vec![Message::new()];
    for a in bodies {
        messages.push(Message::from(Bytes::copy_from_slice(a)));
        for b in bodies {
            messages.push(
                [Bytes::copy_from_slice(a), Bytes::copy_from_slice(b)]
                    .into_iter()
                    .collect(),
            );
        }
    }
    for m in messages {
        let mut batch = OutBuf::default();
        batch.push_message(&m);
        let mut small = m.clone();
        let want = super::Outgoing::encoded_len(&small);
        assert_eq!(
            super::Outgoing::encode_small(&mut small, &mut buf),
            Some(want)
        );
        assert_eq!(&buf[..want], &batch.cur[..], "{m:?}");
        assert_eq!(batch.len, want);
    }
    let head = [Bytes::new(), Bytes::copy_from_slice(&long)];
    for body in bodies {
        let mut copied = Copied { head: &head, body };
        let want = super::Outgoing::encoded_len(&copied);
        assert_eq!(
            super::Outgoing::encode_small(&mut copied, &mut buf),
            Some(want)
        );
        assert_eq!(
            want,
            2 + 9 + long.len() + body.len() + if body.len() > 255 { 9 } else { 2 }
        );
        // One byte short: it does not fit, and says so.
        assert_eq!(
            super::Outgoing::encode_small(&mut copied, &mut buf[..want - 1]),
            None
        );
    }
}

impl Copied<'_> {
    fn encode_small_into(mut self, buf: &mut [u8]) -> usize {
        super::Outgoing::encode_small(&mut self, buf).expect("fits")
    }
}

#[test]
fn writes_with_extra_bytes_and_partial_writes() {
    // `extra` follows the output in the same write; what the write leaves of it is the
    // caller's (pushed back, in order).
    let now = Instant::now();
    let (mut a, mut b) = pair(now);
    pump(&mut a, &mut b, &[1 << 20], &[1 << 20]);
    a.send(&[b"queued"]);
    let body = vec![3u8; 500];
    let hdr = zmtp_codec::FrameHeader::data(body.len() as u64, false).to_bytes();
    let parts: [&[u8]; 2] = [hdr.as_slice(), &body];
    let mut wire = VecDeque::new();
    let queued = a.conn.output_len();
    let extra = a
        .conn
        .write_with(&parts, |iov| {
            assert_eq!(iov.len(), 3, "output, header and body in one write");
            let take = queued + 4; // all the output, part of the header
            let mut n = 0;
            for s in iov {
                let t = s.len().min(take - n);
                wire.extend(&s[..t]);
                n += t;
            }
            Ok(n)
        })
        .expect("in memory");
    assert_eq!(extra, 4);
    assert!(!a.conn.has_output());
    a.conn.push_unwritten(&parts, extra);
    assert_eq!(a.conn.output_len(), hdr.as_slice().len() + body.len() - 4);
    while !wire.is_empty() {
        b.read(&mut wire, usize::MAX);
    }
    pump(&mut a, &mut b, &[7], &[1 << 20]);
    assert_eq!(b.received(), [vec![b"queued".to_vec()], vec![body]]);

    // A failed write changes nothing.
    a.send(&[b"kept"]);
    let before = a.conn.output_len();
    let r = a.conn.write_with(&[], |_| {
        Err(std::io::Error::from(std::io::ErrorKind::WouldBlock))
    });
    assert!(r.is_err());
    assert_eq!(a.conn.output_len(), before);
}

#[test]
fn heartbeat_ping_pong_and_timeout() {
    let now = Instant::now();
    let (mut a, mut b) = pair(now);
    a.heartbeat = HeartbeatConfig {
        interval: Some(Duration::from_secs(1)),
        timeout: Some(Duration::from_secs(3)),
        ttl: Some(Duration::from_secs(10)),
    };
    pump(&mut a, &mut b, &[1 << 20], &[1 << 20]);
    assert_eq!(a.conn.next_deadline(), Some(now + Duration::from_secs(1)));
    assert_eq!(b.conn.next_deadline(), None, "b sends no heartbeats");

    // The interval passes: a pings; b answers and arms a's TTL; a hears the PONG.
    let t1 = now + Duration::from_secs(1);
    a.conn.handle_timeout(t1).expect("ping");
    b.inbox.now = t1;
    pump(&mut a, &mut b, &[5], &[3]);
    assert_eq!(
        b.conn.next_deadline(),
        Some(t1 + Duration::from_secs(10)),
        "b holds a to the TTL a announced"
    );
    assert_eq!(
        a.conn.next_deadline(),
        Some(t1 + Duration::from_secs(1)),
        "the PONG cleared a's answer deadline"
    );

    // b goes quiet: a pings and, with no answer, gives up after the timeout.
    let t2 = t1 + Duration::from_secs(1);
    a.conn.handle_timeout(t2).expect("ping");
    a.conn.poll_transmit();
    assert!(a.conn.has_output(), "a PING waits");
    let deadline = a.conn.next_deadline().expect("an answer deadline");
    assert_eq!(deadline, t2 + Duration::from_secs(1), "next ping first");
    let t3 = t2 + Duration::from_secs(3);
    let mut at = deadline;
    let err = loop {
        match a.conn.handle_timeout(at) {
            Ok(()) => at = a.conn.next_deadline().expect("armed").min(t3),
            Err(e) => break e,
        }
    };
    assert_eq!(
        err,
        CloseReason::Heartbeat(HeartbeatError::Timeout(Duration::from_secs(3)))
    );
}

#[test]
fn pongs_wait_behind_other_output_and_never_pile_up() {
    let now = Instant::now();
    let (mut a, mut b) = pair(now);
    pump(&mut a, &mut b, &[1 << 20], &[1 << 20]);
    b.send(&[b"unwritten"]);
    let before = b.conn.output_len();
    for i in 0..1000u16 {
        a.send_command(&Command::Ping(Ping {
            ttl_deciseconds: 0,
            context: Bytes::copy_from_slice(&i.to_be_bytes()),
        }));
    }
    let mut wire = VecDeque::new();
    a.write(&mut wire, usize::MAX);
    b.read(&mut wire, usize::MAX);
    assert_eq!(
        b.conn.output_len(),
        before,
        "no PONG while other output waits"
    );
    pump(&mut a, &mut b, &[1 << 20], &[1 << 20]);
    assert_eq!(b.closed, None);
    assert_eq!(a.received(), [vec![b"unwritten".to_vec()]]);
}

#[test]
fn subscriptions_arrive_as_subscriptions() {
    let now = Instant::now();
    let mut sub = End::new(SocketType::Sub, b"", now);
    let mut publ = End::new(SocketType::Pub, b"", now);
    pump(&mut sub, &mut publ, &[1 << 20], &[1 << 20]);
    sub.conn.push_subscription(&Subscription {
        subscribe: true,
        topic: Bytes::from_static(b"weather"),
    });
    sub.conn.push_subscription(&Subscription {
        subscribe: false,
        topic: Bytes::from_static(b"news"),
    });
    pump(&mut sub, &mut publ, &[4], &[3]);
    let subs: Vec<(bool, &[u8])> = publ
        .inbox
        .subs
        .iter()
        .map(|s| (s.subscribe, &s.topic[..]))
        .collect();
    assert_eq!(subs, [(true, &b"weather"[..]), (false, &b"news"[..])]);
    assert!(publ.inbox.msgs.is_empty());
}

/// Completes a handshake, then lets `a` write `cmd` raw and `b` decode it.
fn after_handshake_b_gets(cmd: &Command) -> Option<CloseReason> {
    let now = Instant::now();
    let (mut a, mut b) = pair(now);
    pump(&mut a, &mut b, &[1 << 20], &[1 << 20]);
    a.send(&[b"before"]);
    a.send_command(cmd);
    a.send(&[b"after"]);
    pump(&mut a, &mut b, &[2], &[3]);
    assert_eq!(
        b.received()[0],
        [b"before".to_vec()],
        "what came first is kept"
    );
    b.closed
}

#[test]
fn commands_the_protocol_forbids_end_the_connection() {
    assert_eq!(
        after_handshake_b_gets(&Command::Ready(Metadata::new())),
        Some(CloseReason::Protocol(Violation::Ready))
    );
    assert_eq!(
        after_handshake_b_gets(&Command::Error {
            reason: Bytes::from_static(b"go away")
        }),
        Some(CloseReason::Protocol(Violation::PeerError(
            "go away".into()
        )))
    );
    // Unknown commands are passed over.
    assert_eq!(
        after_handshake_b_gets(&Command::Unknown {
            name: Bytes::from_static(b"X-NEW"),
            body: Bytes::from_static(b"whatever"),
        }),
        None
    );
}

#[test]
fn bytes_that_cannot_be_decoded_end_the_connection() {
    let now = Instant::now();
    // A frame over the limit, refused from its header alone.
    let (mut a, mut b) = pair(now);
    b.limits.max_frame_size = Some(100);
    pump(&mut a, &mut b, &[1 << 20], &[1 << 20]);
    a.send(&[&[0u8; 101]]);
    pump(&mut a, &mut b, &[1 << 20], &[2]);
    assert!(
        matches!(
            b.closed,
            Some(CloseReason::Decode(DecodeError::FrameTooLarge { .. }))
        ),
        "{:?}",
        b.closed
    );
    assert!(b.inbox.msgs.is_empty());
}

#[test]
fn a_socket_type_mismatch_fails_both_handshakes() {
    let now = Instant::now();
    let mut a = End::new(SocketType::Push, b"", now);
    let mut b = End::new(SocketType::Push, b"", now);
    pump(&mut a, &mut b, &[9], &[4]);
    assert!(
        matches!(
            a.closed,
            Some(CloseReason::Handshake(
                HandshakeError::IncompatibleSocketType { .. }
            ))
        ),
        "{:?}",
        a.closed
    );
    assert!(matches!(b.closed, Some(CloseReason::Handshake(_))));
    assert!(a.peer.is_none() && b.peer.is_none());
}

#[test]
fn read_buffers_grow_with_what_arrives_not_with_declared_lengths() {
    let now = Instant::now();
    let (mut a, mut b) = pair(now);
    pump(&mut a, &mut b, &[1 << 20], &[1 << 20]);
    // A header declaring a 1 GiB frame, and a few bytes of it.
    let mut raw = BytesMut::new();
    zmtp_codec::FrameHeader::data(1 << 30, false).encode(&mut raw);
    raw.extend_from_slice(&[1; 10]);
    let mut wire: VecDeque<u8> = raw.iter().copied().collect();
    b.read(&mut wire, usize::MAX);
    assert!(b.closed.is_none());
    assert!(
        b.conn.read_buffer_bytes() <= 2 * super::READ_CHUNK,
        "{} bytes reserved",
        b.conn.read_buffer_bytes()
    );
}

#[test]
fn large_messages_go_round_the_same_read_buffers_while_the_application_lags() {
    let now = Instant::now();
    let (mut a, mut b) = pair(now);
    pump(&mut a, &mut b, &[1 << 20], &[1 << 20]);
    const SIZE: usize = 64 * 1024;
    // The application holds three chunks' worth of messages before it drops the oldest:
    // each new chunk's buffer is still held when the next is needed.
    let lag = 3 * super::READ_CHUNK / SIZE;
    let mut wire = VecDeque::new();
    let mut made_when_warm = 0;
    let mut next_expected = 0u8;
    for i in 0..400usize {
        // Each message's own bytes: a buffer read into while a message still held it
        // would show in a later check.
        a.send(&[&vec![i as u8; SIZE]]);
        assert!(a.write(&mut wire, usize::MAX));
        while !wire.is_empty() {
            b.read(&mut wire, super::READ_CHUNK);
        }
        assert!(b.closed.is_none());
        while b.inbox.msgs.len() > lag {
            let m = b.inbox.msgs.pop_front().unwrap();
            let f = &m.frames()[0];
            assert_eq!(f.len(), SIZE);
            assert!(
                f.iter().all(|&x| x == next_expected),
                "message {next_expected}"
            );
            next_expected = next_expected.wrapping_add(1);
        }
        if i == 100 {
            made_when_warm = b.conn.buffers_made;
            let kept = b.conn.spares.iter().filter(|s| s.2).count();
            assert!(kept > 1, "buffers the queue holds are kept as spares");
            assert!(b.conn.wants_sweep());
        }
    }
    assert_eq!(
        b.conn.buffers_made, made_when_warm,
        "no read buffer allocated once the spares went round"
    );
    assert!(b.conn.spares.len() <= super::MAX_SPARES);
    for m in &b.inbox.msgs {
        assert!(m.frames()[0].iter().all(|&x| x == next_expected));
        next_expected = next_expected.wrapping_add(1);
    }

    // A sweep keeps the buffers messages hold and one of the others. Once the
    // application dropped its messages, a sweep after an interval in which no spare was
    // read into keeps the newest, and one after a quiet interval none.
    let free = |c: &super::Connection| c.spares.iter().filter(|s| s.0.is_unique()).count();
    let held = b.conn.spares.len() - free(&b.conn);
    assert!(held > 1);
    b.conn.sweep(Some(&mut b.inbox.msgs));
    assert!(free(&b.conn) <= 1);
    assert_eq!(b.conn.spares.len() - free(&b.conn), held);
    b.inbox.msgs.clear();
    b.conn.read_since_sweep = true; // (as a read of a small message would set it)
    b.conn.sweep(Some(&mut b.inbox.msgs));
    assert_eq!(b.conn.spares.len(), 1);
    b.conn.sweep(Some(&mut b.inbox.msgs));
    assert!(b.conn.spares.is_empty());
    assert!(!b.conn.wants_sweep());
}
