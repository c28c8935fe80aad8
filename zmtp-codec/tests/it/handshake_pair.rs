//! Two handshake machines wired together in memory, in the style of quinn-proto's `Pair`.

use std::time::{Duration, Instant};

use bytes::BytesMut;
use zmtp_codec::{
    Command, Decoder, Event, Handshake, HandshakeConfig, HandshakeError, Item, Limits, PeerInfo,
    SocketType,
};

struct Side {
    hs: Handshake,
    inbox: BytesMut,
    result: Option<Result<PeerInfo, HandshakeError>>,
    sent: BytesMut,
}

impl Side {
    fn new(t: SocketType, now: Instant) -> Side {
        let mut cfg = HandshakeConfig::new(t);
        cfg.identity = bytes::Bytes::from_static(b"id");
        Side {
            hs: Handshake::new(cfg, now),
            inbox: BytesMut::new(),
            result: None,
            sent: BytesMut::new(),
        }
    }
}

/// Runs both sides until neither makes progress; bytes move in chunks of `chunk`.
fn run_pair(a: SocketType, b: SocketType, chunk: usize) -> (Side, Side) {
    let now = Instant::now();
    let mut sides = [Side::new(a, now), Side::new(b, now)];
    loop {
        let mut progress = false;
        for i in 0..2 {
            let mut out = BytesMut::new();
            sides[i].hs.poll_transmit(&mut out);
            sides[i].sent.extend_from_slice(&out);
            let other = &mut sides[1 - i];
            for piece in out.chunks(chunk) {
                progress = true;
                other.inbox.extend_from_slice(piece);
                if other.result.is_none() {
                    if let Err(e) = other.hs.handle_input(&mut other.inbox) {
                        other.result = Some(Err(e));
                    }
                    if let Some(Event::Completed(p)) = other.hs.poll_event() {
                        other.result = Some(Ok(p));
                    }
                }
            }
        }
        if !progress {
            let [a, b] = sides;
            return (a, b);
        }
    }
}

#[test]
fn every_legal_pair_completes_and_every_illegal_pair_fails_with_error() {
    for a in SocketType::ALL {
        for b in SocketType::ALL {
            for chunk in [1, 7, 64, 4096] {
                let (sa, sb) = run_pair(a, b, chunk);
                if a.is_compatible(b) {
                    let pa = sa.result.clone().unwrap().unwrap();
                    let pb = sb.result.clone().unwrap().unwrap();
                    assert_eq!(pa.socket_type, Some(b));
                    assert_eq!(pb.socket_type, Some(a));
                    assert_eq!(pa.identity.is_some(), b.sends_identity());
                    assert!(sa.inbox.is_empty() && sb.inbox.is_empty());
                } else {
                    for (side, ours, theirs) in [(&sa, a, b), (&sb, b, a)] {
                        assert_eq!(
                            side.result.clone().unwrap(),
                            Err(HandshakeError::IncompatibleSocketType { ours, theirs }),
                            "{a}-{b}"
                        );
                        // What the side sent ends with an ERROR command.
                        let mut sent = side.sent.clone();
                        let mut dec = Decoder::new(Limits::default());
                        let mut last = None;
                        while let Some(item) = dec.decode(&mut sent).unwrap() {
                            last = Some(item);
                        }
                        assert!(
                            matches!(last, Some(Item::Command(Command::Error { .. }))),
                            "{a}-{b}: {last:?}"
                        );
                    }
                }
            }
        }
    }
}

fn ours_with(t: SocketType) -> (Handshake, Instant) {
    let now = Instant::now();
    let mut cfg = HandshakeConfig::new(t);
    cfg.timeout = Some(Duration::from_secs(30));
    (Handshake::new(cfg, now), now)
}

fn peer_bytes(t: SocketType) -> BytesMut {
    let (mut hs, _) = ours_with(t);
    let mut out = BytesMut::new();
    hs.poll_transmit(&mut out);
    let mut g = BytesMut::from(&zmtp_codec::Greeting::ours().to_bytes()[..]);
    hs.handle_input(&mut g).unwrap();
    hs.poll_transmit(&mut out);
    out
}

#[test]
fn bytes_after_ready_are_left_for_traffic() {
    let (mut hs, _) = ours_with(SocketType::Pull);
    let mut src = peer_bytes(SocketType::Push);
    src.extend_from_slice(b"\x00\x02hi");
    hs.handle_input(&mut src).unwrap();
    assert!(hs.is_complete());
    assert_eq!(&src[..], b"\x00\x02hi");
    let mut dec = hs.into_decoder();
    assert!(matches!(dec.decode(&mut src), Ok(Some(Item::Frame(_)))));
}

#[test]
fn handshake_times_out_at_the_deadline_only() {
    let (mut hs, t0) = ours_with(SocketType::Pull);
    assert_eq!(hs.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    hs.handle_timeout(t0 + Duration::from_secs(29)).unwrap();
    assert_eq!(
        hs.handle_timeout(t0 + Duration::from_secs(30)),
        Err(HandshakeError::Timeout)
    );
    assert!(hs.is_failed());
}

#[test]
fn a_restarted_clock_moves_the_deadline() {
    let (mut hs, t0) = ours_with(SocketType::Pull);
    let up = t0 + Duration::from_secs(20);
    hs.restart_clock(up);
    assert_eq!(hs.poll_timeout(), Some(up + Duration::from_secs(30)));
    hs.handle_timeout(t0 + Duration::from_secs(30)).unwrap();
    assert!(!hs.is_failed());
    assert_eq!(
        hs.handle_timeout(up + Duration::from_secs(30)),
        Err(HandshakeError::Timeout)
    );
}

#[test]
fn no_timeout_when_disabled_or_complete() {
    let now = Instant::now();
    let mut cfg = HandshakeConfig::new(SocketType::Pair);
    cfg.timeout = None;
    let hs = Handshake::new(cfg, now);
    assert_eq!(hs.poll_timeout(), None);
    let (mut hs, t0) = ours_with(SocketType::Pull);
    hs.handle_input(&mut peer_bytes(SocketType::Push)).unwrap();
    assert_eq!(hs.poll_timeout(), None);
    hs.handle_timeout(t0 + Duration::from_secs(3600)).unwrap();
}
