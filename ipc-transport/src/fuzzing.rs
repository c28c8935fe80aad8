//! Entry points shared by the cargo-fuzz targets in `fuzz/` and by the corpus replay under
//! `cargo test`. Each takes arbitrary bytes, must never panic on them, and checks the
//! engine's bounds with assertions (an assertion failure is a bug the fuzzer found).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;
use zmtp_codec::{
    Handshake, HandshakeConfig, Heartbeat, HeartbeatConfig, Limits, SocketType, Subscription,
};

use crate::connection::{CloseReason, Connection, Inbox, READ_CHUNK};
use crate::Message;

/// An inbox that holds at most `cap` messages, as a pipe at RCVHWM does.
struct Bounded {
    msgs: VecDeque<Message>,
    cap: usize,
    now: Instant,
}

impl Inbox for Bounded {
    fn is_full(&self) -> bool {
        self.msgs.len() >= self.cap
    }
    fn push_frame(&mut self, body: Bytes) -> bool {
        self.push_message(Message::from(body))
    }
    fn push_message(&mut self, msg: Message) -> bool {
        assert!(self.msgs.len() < self.cap, "pushed past the mark");
        self.msgs.push_back(msg);
        true
    }
    fn subscription(&mut self, _: Subscription) {}
    fn now(&self) -> Instant {
        self.now
    }
}

/// `connection`: a peer's byte stream (the input after its first three bytes) fed to one
/// connection machine in reads whose sizes the first byte chooses, with RCVHWM (the second
/// byte) and a frame limit (the third) as a socket would set them; the application takes
/// a message now and then and the output is written out. Whatever the bytes: no panic;
/// the inbox never passes its mark; the read buffers stay within what arrived plus a read
/// chunk or two (no allocation sized by a declared length); the output never holds more
/// than one PING and one PONG beyond what the machine was asked to send (nothing here);
/// a connection that ended takes no more input.
pub fn connection(data: &[u8]) {
    let [split, hwm, limit, stream @ ..] = data else {
        return;
    };
    let now = Instant::now();
    let types = [
        SocketType::Pair,
        SocketType::Dealer,
        SocketType::Router,
        SocketType::Pub,
        SocketType::Sub,
        SocketType::Pull,
    ];
    let ours = types[usize::from(split >> 5) % types.len()];
    let mut hc = HandshakeConfig::new(ours);
    hc.identity = Bytes::from_static(b"fuzz");
    let mut conn = Connection::new(Handshake::new(hc, now));
    let mut inbox = Bounded {
        msgs: VecDeque::new(),
        cap: usize::from(*hwm % 16) + 1,
        now,
    };
    let limits = Limits {
        max_frame_size: (*limit != 0).then_some(u64::from(*limit) * 64),
        max_message_size: None,
        max_message_frames: Some(64),
        max_command_size: None,
    };
    let heartbeat = HeartbeatConfig {
        interval: Some(Duration::from_secs(1)),
        timeout: None,
        ttl: None,
    };
    let step = usize::from(split & 0x1F) + 1;
    let mut closed: Option<CloseReason> = None;
    let mut arrived = 0usize;
    let mut at = 0;
    let mut turns = 0usize;
    while at < stream.len() && closed.is_none() {
        turns += 1;
        // A read of up to `step` bytes (vary it a little so splits differ along the way).
        let want = step + (turns % 3);
        let mut n = 0;
        let r = conn.read_with(Some(&mut inbox.msgs), |buf| {
            n = want.min(stream.len() - at).min(buf.capacity() - buf.len());
            buf.extend_from_slice(&stream[at..at + n]);
            Ok(n)
        });
        assert!(r.is_ok(), "an in-memory read cannot fail");
        at += n;
        arrived += n;
        assert!(
            conn.read_buffer_bytes() <= 2 * (arrived + 2 * READ_CHUNK),
            "{} bytes of read buffers for {arrived} bytes read",
            conn.read_buffer_bytes()
        );
        if !conn.is_active() {
            match conn.handshake_input(Bytes::new, |_| crate::auth::Answer::Nobody) {
                Ok(Some(peer)) => {
                    conn.poll_transmit();
                    conn.activate(&peer, limits, Heartbeat::new(heartbeat, now));
                }
                Ok(None) => {}
                Err(e) => closed = Some(e),
            }
        }
        if conn.is_active() && closed.is_none() {
            if let Err(e) = conn.decode(&mut inbox) {
                closed = Some(e);
            }
            assert!(inbox.msgs.len() <= inbox.cap, "over the mark");
            // The application takes one message every other turn: the stream then often
            // stops at the mark with bytes left to decode.
            if turns % 2 == 0 {
                inbox.msgs.pop_front();
            }
        }
        // Our output goes out in full every few turns; in between it may only grow by
        // handshake output and one PING and one PONG.
        conn.poll_transmit();
        if turns % 4 == 0 {
            let r = conn.write_with(&[], |iov| Ok(iov.iter().map(|s| s.len()).sum()));
            assert!(matches!(r, Ok(0)), "no extra bytes were offered");
            assert!(!conn.has_output(), "a full write leaves nothing");
        }
        assert!(
            conn.output_len() <= 4096,
            "{} bytes of output pile up",
            conn.output_len()
        );
    }
    if closed.is_none() && conn.is_active() {
        // What is left in the buffer decodes as the inbox empties.
        for _ in 0..stream.len() {
            inbox.msgs.clear();
            if conn.decode(&mut inbox).is_err() || inbox.msgs.is_empty() {
                break;
            }
        }
    }
    let queue = Some(&mut inbox.msgs);
    conn.release_read_buffer(queue);
}
