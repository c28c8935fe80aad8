//! Entry points shared by the cargo-fuzz targets in `fuzz/` and by the corpus replay under
//! `cargo test`. Each takes arbitrary bytes, must never panic on them, and checks the codec's
//! invariants with assertions (an assertion failure is a bug the fuzzer found).

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use crate::{
    encode_frame, Command, Decoder, Greeting, Handshake, HandshakeConfig, Item, Limits, SocketType,
};

fn small_limits() -> Limits {
    Limits {
        max_frame_size: Some(4096),
        max_message_size: Some(16 * 1024),
        max_message_frames: Some(64),
        max_command_size: Some(1024),
    }
}

/// Decodes everything `decoder` can from the chunks, stopping at the first fatal error.
/// Returns the items and errors, and the bytes left undecoded (`None` after a fatal error,
/// where how much had arrived depends on the split).
type Drained = (Vec<Result<Item, crate::DecodeError>>, Option<usize>);

fn drain(decoder: Decoder, chunks: &[&[u8]]) -> Drained {
    drain_with(decoder, chunks, false)
}

/// [`drain`], trying `Decoder::decode_data` before `decode` when `fast` (as a reader's hot
/// loop does).
fn drain_with(mut decoder: Decoder, chunks: &[&[u8]], fast: bool) -> Drained {
    let mut out = Vec::new();
    let mut src = BytesMut::new();
    for chunk in chunks {
        src.extend_from_slice(chunk);
        loop {
            if fast {
                if let Some(frame) = decoder.decode_data(&mut src) {
                    out.push(Ok(Item::Frame(frame)));
                    continue;
                }
            }
            match decoder.decode(&mut src) {
                Ok(Some(item)) => out.push(Ok(item)),
                Ok(None) => break,
                Err(e) if e.is_fatal() => {
                    out.push(Err(e));
                    return (out, None);
                }
                Err(e) => out.push(Err(e)),
            }
        }
    }
    (out, Some(src.len()))
}

/// `frame_stream`: a byte stream from a peer (greeting first) decodes to the same items and
/// errors whole, byte by byte, and split where the input's first byte says; and the same
/// with the data-frame fast path (`decode_data`) tried first.
pub fn frame_stream(data: &[u8]) {
    let whole = drain(Decoder::new(small_limits()), &[data]);
    let bytewise: Vec<&[u8]> = data.chunks(1).collect();
    assert_eq!(whole, drain(Decoder::new(small_limits()), &bytewise));
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let stepped: Vec<&[u8]> = data.chunks(step).collect();
    assert_eq!(whole, drain(Decoder::new(small_limits()), &stepped));
    assert_eq!(
        whole,
        drain_with(Decoder::new(small_limits()), &stepped, true)
    );
    // The same stream as post-greeting traffic.
    let a = drain(Decoder::frames_only(small_limits()), &[data]);
    assert_eq!(a, drain(Decoder::frames_only(small_limits()), &stepped));
    assert_eq!(
        a,
        drain_with(Decoder::frames_only(small_limits()), &[data], true)
    );
    assert_eq!(
        a,
        drain_with(Decoder::frames_only(small_limits()), &bytewise, true)
    );
}

/// `greeting`: every prefix of a greeting gives either "need more" or the final verdict.
pub fn greeting(data: &[u8]) {
    let full = Greeting::decode_prefix(data);
    for n in 0..data.len().min(crate::wire::GREETING_LEN) {
        match Greeting::decode_prefix(&data[..n]) {
            Ok(None) => {}
            Err(e) => assert_eq!(Err(e), full.clone()),
            Ok(Some(_)) => unreachable!("a greeting decoded from {n} < 64 bytes"),
        }
    }
    if let Ok(Some(g)) = full {
        let again = Greeting::decode_prefix(&g.to_bytes());
        assert_eq!(again, Ok(Some(g)));
    }
}

/// `command`: any command body parses or fails cleanly; what parses re-encodes to a body
/// that parses to the same command.
pub fn command(data: &[u8]) {
    let Ok(cmd) = Command::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    let mut out = BytesMut::new();
    cmd.encode(&mut out);
    let mut dec = Decoder::frames_only(Limits {
        max_command_size: None,
        ..Limits::default()
    });
    match dec.decode(&mut out) {
        Ok(Some(Item::Command(again))) => assert_eq!(again, cmd),
        other => panic!("re-encoded command did not decode: {other:?}"),
    }
    assert!(out.is_empty());
}

/// `roundtrip`: the input read as a list of frames (length byte, then that many bytes)
/// encodes and decodes to the same frames in any split.
pub fn roundtrip(data: &[u8]) {
    let mut frames = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        // Scale lengths so that long frames (> 255) occur too.
        let len = usize::from(len) * 3;
        let n = len.min(tail.len());
        frames.push(&tail[..n]);
        rest = &tail[n..];
    }
    let mut wire = BytesMut::new();
    for (i, f) in frames.iter().enumerate() {
        encode_frame(&mut wire, f, i + 1 < frames.len());
    }
    let step = usize::from(data.first().copied().unwrap_or(1)).max(1);
    let chunks: Vec<&[u8]> = wire.chunks(step).collect();
    let (items, left) = drain(Decoder::frames_only(Limits::default()), &chunks);
    assert_eq!(left, Some(0));
    assert_eq!(items.len(), frames.len());
    for (i, (item, want)) in items.into_iter().zip(&frames).enumerate() {
        match item {
            Ok(Item::Frame(f)) => {
                assert_eq!(&f.body[..], *want);
                assert_eq!(f.more, i + 1 < frames.len());
            }
            other => panic!("frame {i}: {other:?}"),
        }
    }
}

/// `handshake`: the input's first byte picks our socket type and a chunk size, the rest is
/// what the peer sends. The machine must end complete, failed, or waiting, never panic, never
/// consume past READY, and only ever transmit greeting, READY and ERROR.
pub fn handshake(data: &[u8]) {
    let Some((&sel, peer)) = data.split_first() else {
        return;
    };
    let ty = SocketType::ALL[usize::from(sel) % SocketType::ALL.len()];
    let step = usize::from(sel >> 4) + 1;
    let t0 = Instant::now();
    let mut cfg = HandshakeConfig::new(ty);
    cfg.timeout = Some(Duration::from_secs(1));
    let mut hs = Handshake::new(cfg, t0);
    let mut out = BytesMut::new();
    hs.poll_transmit(&mut out);
    assert_eq!(out.len(), crate::wire::GREETING_LEN);
    let mut src = BytesMut::new();
    for chunk in peer.chunks(step) {
        src.extend_from_slice(chunk);
        let r = hs.handle_input(&mut src);
        hs.poll_transmit(&mut out);
        if r.is_err() {
            assert!(hs.is_failed());
            break;
        }
        if hs.is_complete() {
            assert!(matches!(hs.poll_event(), Some(crate::Event::Completed(_))));
            break;
        }
    }
    handshake_ends(&mut hs, t0, &out, false);
}

/// How a fuzzed handshake must end: one still waiting fails at its 1 s deadline, and all
/// it sent decodes as a greeting and commands (`raw`: left unparsed but ERROR, as for
/// CURVE, whose READY holds a box).
fn handshake_ends(hs: &mut Handshake, t0: Instant, out: &[u8], raw: bool) {
    if !hs.is_complete() && !hs.is_failed() {
        assert!(hs.handle_timeout(t0 + Duration::from_secs(1)).is_err());
    }
    let mut dec = Decoder::new(Limits::default());
    dec.set_raw_commands(raw);
    let (items, _) = drain(dec, &[out]);
    assert!(items
        .iter()
        .all(|i| matches!(i, Ok(Item::Greeting(_) | Item::Command(_)))));
}

/// `plain`: a PLAIN handshake against arbitrary peer bytes. The input's first byte picks
/// our role (client or server), the authenticator's answer (admit, refuse, temporary
/// failure, none) and a chunk size; a PLAIN greeting from the peer is put in front of the
/// rest, so the fuzzer works on HELLO, WELCOME, INITIATE, READY and ERROR. The machine must
/// end complete, failed or waiting, never panic, admit a client only after the
/// authenticator said 200, and send only a greeting and commands.
pub fn plain(data: &[u8]) {
    use crate::{Security, ZapReply, ZapStatus};
    let Some((&sel, peer)) = data.split_first() else {
        return;
    };
    let server = sel & 1 == 1;
    let answer = (sel >> 1) & 3;
    let step = usize::from(sel >> 3) + 1;
    let t0 = Instant::now();
    let mut cfg = HandshakeConfig::new(if server {
        SocketType::Rep
    } else {
        SocketType::Req
    });
    cfg.timeout = Some(Duration::from_secs(1));
    cfg.security = if server {
        Security::PlainServer
    } else {
        Security::plain_client(&b"user"[..], &b"pass"[..]).expect("short fields")
    };
    let mut hs = Handshake::new(cfg, t0);
    let mut out = BytesMut::new();
    hs.poll_transmit(&mut out);
    let mut greeting = Greeting::ours();
    greeting.mechanism = crate::Mechanism::PLAIN;
    greeting.as_server = !server;
    let mut input = greeting.to_bytes().to_vec();
    input.extend_from_slice(peer);
    let mut src = BytesMut::new();
    let mut admitted = false;
    'feed: for chunk in input.chunks(step) {
        src.extend_from_slice(chunk);
        let mut r = hs.handle_input(&mut src);
        while r.is_ok() {
            match hs.poll_event() {
                Some(crate::Event::Authenticate(req)) => {
                    assert!(server, "only a server asks");
                    assert_eq!(req.credentials.len(), 2);
                    r = match answer {
                        0 => {
                            admitted = true;
                            hs.authenticated(ZapReply::allow("u"))
                        }
                        1 => hs.authenticated(ZapReply::refuse(ZapStatus::Denied, "no")),
                        2 => hs.authenticated(ZapReply::refuse(ZapStatus::TemporaryFailure, "")),
                        _ => hs.no_authenticator(),
                    };
                    if r.is_ok() {
                        r = hs.handle_input(&mut src);
                    }
                }
                Some(crate::Event::Completed(peer)) => {
                    assert!(!server || admitted, "admitted without a 200");
                    assert_eq!(peer.user_id.is_some(), server);
                    break 'feed;
                }
                None => break,
            }
        }
        hs.poll_transmit(&mut out);
        if r.is_err() {
            assert!(hs.is_failed());
            break;
        }
    }
    hs.poll_transmit(&mut out);
    handshake_ends(&mut hs, t0, &out, false);
}

/// `zap_reply`: arbitrary bytes split into frames (each a length byte and that many bytes)
/// read as a ZAP handler's reply. Never panics; a reply accepted has a valid status, the
/// request id and version it was checked against, and metadata that encodes back to the
/// frame it came from.
pub fn zap_reply(data: &[u8]) {
    let mut frames = Vec::new();
    let mut rest = data;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        frames.push(Bytes::copy_from_slice(&tail[..n]));
        rest = &tail[n..];
    }
    if let Ok(reply) = crate::ZapReply::parse(&frames, b"1") {
        assert_eq!(&frames[0][..], crate::ZAP_VERSION);
        assert_eq!(&frames[1][..], b"1");
        assert_eq!(&frames[2][..], reply.status.as_bytes());
        let mut md = BytesMut::new();
        reply.metadata.encode(&mut md);
        assert_eq!(&md[..], &frames[5][..]);
    }
}

/// `curve`: a CURVE handshake against arbitrary peer bytes. The input's first byte picks
/// our role (client or server), whether the authenticator admits, and a chunk size; a
/// CURVE greeting from the peer is put in front of the rest. Our keys are fixed (the
/// server's secret is 32 bytes of 7, the client's of 9), so a recorded HELLO opens and
/// the fuzzer reaches WELCOME. Nothing a peer can send without the keys completes the
/// handshake: the client never completes, and the server never gets as far as asking the
/// authenticator (that needs the cookie sealed with this connection's random key). The
/// rest of the input is also opened as a MESSAGE of a live session, which must refuse it.
pub fn curve(data: &[u8]) {
    use crate::curve::CurveSecretKey;
    use crate::Security;
    let Some((&sel, peer)) = data.split_first() else {
        return;
    };
    let server = sel & 1 == 1;
    let step = usize::from(sel >> 2) + 1;
    let server_secret = CurveSecretKey::from_bytes([7; 32]);
    let t0 = Instant::now();
    let mut cfg = HandshakeConfig::new(if server {
        SocketType::Router
    } else {
        SocketType::Dealer
    });
    cfg.timeout = Some(Duration::from_secs(1));
    cfg.security = if server {
        Security::CurveServer {
            secret: server_secret.clone(),
        }
    } else {
        Security::CurveClient {
            server: server_secret.public_key(),
            public: None,
            secret: CurveSecretKey::from_bytes([9; 32]),
        }
    };
    let mut hs = Handshake::new(cfg, t0);
    let mut out = BytesMut::new();
    hs.poll_transmit(&mut out);
    let mut greeting = Greeting::ours();
    greeting.mechanism = crate::Mechanism::CURVE;
    greeting.as_server = !server;
    let mut input = greeting.to_bytes().to_vec();
    input.extend_from_slice(peer);
    let mut src = BytesMut::new();
    for chunk in input.chunks(step) {
        src.extend_from_slice(chunk);
        let r = hs.handle_input(&mut src);
        match hs.poll_event() {
            Some(crate::Event::Authenticate(_)) => panic!("INITIATE forged"),
            Some(crate::Event::Completed(_)) => panic!("handshake completed without keys"),
            None => {}
        }
        hs.poll_transmit(&mut out);
        if r.is_err() {
            assert!(hs.is_failed());
            break;
        }
    }
    hs.poll_transmit(&mut out);
    let mut dec = Decoder::new(Limits::default());
    dec.set_raw_commands(true);
    let (items, _) = drain(dec, &[&out]);
    assert!(items
        .iter()
        .all(|i| matches!(i, Ok(Item::Greeting(_) | Item::Command(_)))));
    // A live session refuses the same bytes as a MESSAGE (one session for every run: a
    // refused MESSAGE changes nothing in it).
    static SESSION: std::sync::OnceLock<std::sync::Mutex<crate::curve::CurveSession>> =
        std::sync::OnceLock::new();
    let session = SESSION.get_or_init(|| std::sync::Mutex::new(crate::curve::session_pair().0));
    let mut session = session
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    assert!(session.open(peer).is_err());
}
