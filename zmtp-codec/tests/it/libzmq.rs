//! Golden vectors from a real libzmq 4.3 (built from source by the `zmq` crate), and proof
//! that libzmq accepts what our encoder writes.
//!
//! The `*_matches_fixture` tests record libzmq's bytes live and compare them with the
//! committed files in `tests/fixtures/`; run with `ZSOCK_BLESS=1` to rewrite the files.
//! The `fixture_*` tests decode the committed files with our decoder.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use zmtp_codec::{
    Command, Decoder, FrameHeader, Greeting, Item, Limits, Mechanism, Ping, SocketType,
    Subscription, Version,
};

use crate::support::{handshake, next_item, read_raw_frame, with_timeouts};

pub(crate) fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub(crate) fn check_or_bless(name: &str, got: &[u8]) {
    let path = fixture_path(name);
    if std::env::var_os("ZSOCK_BLESS").is_some() {
        std::fs::write(&path, got).unwrap();
        return;
    }
    let want = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(got, &want[..], "libzmq's bytes differ from fixture {name}");
}

fn zmq_type(t: SocketType) -> zmq::SocketType {
    match t {
        SocketType::Pair => zmq::PAIR,
        SocketType::Pub => zmq::PUB,
        SocketType::Sub => zmq::SUB,
        SocketType::Req => zmq::REQ,
        SocketType::Rep => zmq::REP,
        SocketType::Dealer => zmq::DEALER,
        SocketType::Router => zmq::ROUTER,
        SocketType::Pull => zmq::PULL,
        SocketType::Push => zmq::PUSH,
        SocketType::XPub => zmq::XPUB,
        SocketType::XSub => zmq::XSUB,
    }
}

/// A compatible peer type to claim when talking to a libzmq socket of type `t`.
fn peer_of(t: SocketType) -> SocketType {
    SocketType::ALL
        .into_iter()
        .find(|p| t.is_compatible(*p))
        .expect("every type has a peer")
}

fn ready_bytes(t: SocketType) -> Vec<u8> {
    let mut out = BytesMut::new();
    let mut hs = zmtp_codec::Handshake::new(
        zmtp_codec::HandshakeConfig::new(t),
        std::time::Instant::now(),
    );
    hs.poll_transmit(&mut out); // greeting
    let mut peer = BytesMut::from(&Greeting::ours().to_bytes()[..]);
    hs.handle_input(&mut peer).unwrap();
    out.clear();
    hs.poll_transmit(&mut out); // READY
    out.to_vec()
}

/// A raw listener in a temporary directory that a libzmq socket connects to.
struct Capture {
    _dir: tempfile::TempDir,
    endpoint: String,
    listener: UnixListener,
}

impl Capture {
    fn new() -> Capture {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s");
        let listener = UnixListener::bind(&path).unwrap();
        Capture {
            endpoint: format!("ipc://{}", path.display()),
            listener,
            _dir: dir,
        }
    }

    /// Accepts libzmq's connection, exchanges greetings raw, returns libzmq's greeting.
    fn accept(&self) -> (UnixStream, Vec<u8>) {
        let (s, _) = self.listener.accept().unwrap();
        let mut s = with_timeouts(s);
        s.write_all(&Greeting::ours().to_bytes()).unwrap();
        let mut g = vec![0u8; 64];
        s.read_exact(&mut g).unwrap();
        (s, g)
    }
}

fn libzmq_connected(ctx: &zmq::Context, t: SocketType, cap: &Capture) -> zmq::Socket {
    let sock = ctx.socket(zmq_type(t)).unwrap();
    sock.set_linger(0).unwrap();
    sock.connect(&cap.endpoint).unwrap();
    sock
}

#[test]
fn libzmq_greeting_and_ready_for_every_type_match_fixtures() {
    let ctx = zmq::Context::new();
    for t in SocketType::ALL {
        let cap = Capture::new();
        let _sock = libzmq_connected(&ctx, t, &cap);
        let (mut s, greeting) = cap.accept();
        check_or_bless("libzmq-greeting.bin", &greeting);
        let ready = read_raw_frame(&mut s);
        check_or_bless(
            &format!("libzmq-ready-{}.bin", t.name().to_lowercase()),
            &ready,
        );
    }
}

/// Connects a configured libzmq socket of type `t` to a capture, completes the handshake
/// with our READY as a compatible type, and returns the stream positioned after READY.
fn handshaken(ctx: &zmq::Context, t: SocketType, cap: &Capture, sock: &zmq::Socket) -> UnixStream {
    sock.connect(&cap.endpoint).unwrap();
    let _ = ctx;
    let (mut s, _) = cap.accept();
    let _their_ready = read_raw_frame(&mut s);
    s.write_all(&ready_bytes(peer_of(t))[..]).unwrap();
    s
}

#[test]
fn libzmq_multipart_subscribe_and_ping_match_fixtures() {
    let ctx = zmq::Context::new();

    let cap = Capture::new();
    let dealer = ctx.socket(zmq::DEALER).unwrap();
    dealer.set_linger(0).unwrap();
    let mut s = handshaken(&ctx, SocketType::Dealer, &cap, &dealer);
    let long = vec![b'x'; 300];
    dealer
        .send_multipart([&b"A"[..], &b""[..], &long[..]], 0)
        .unwrap();
    let mut msg = Vec::new();
    for _ in 0..3 {
        msg.extend(read_raw_frame(&mut s));
    }
    check_or_bless("libzmq-multipart.bin", &msg);

    let cap = Capture::new();
    let sub = ctx.socket(zmq::SUB).unwrap();
    sub.set_linger(0).unwrap();
    sub.set_subscribe(b"topic").unwrap();
    let mut s = handshaken(&ctx, SocketType::Sub, &cap, &sub);
    check_or_bless("libzmq-subscribe.bin", &read_raw_frame(&mut s));

    let cap = Capture::new();
    let hb = ctx.socket(zmq::DEALER).unwrap();
    hb.set_linger(0).unwrap();
    hb.set_heartbeat_ivl(50).unwrap();
    hb.set_heartbeat_ttl(2000).unwrap();
    let mut s = handshaken(&ctx, SocketType::Dealer, &cap, &hb);
    check_or_bless("libzmq-ping.bin", &read_raw_frame(&mut s));
}

fn decode_all(bytes: &[u8], greeting_first: bool) -> Vec<Item> {
    let mut src = BytesMut::from(bytes);
    let mut dec = if greeting_first {
        Decoder::new(Limits::default())
    } else {
        Decoder::frames_only(Limits::default())
    };
    let mut items = Vec::new();
    while let Some(item) = dec.decode(&mut src).unwrap() {
        items.push(item);
    }
    assert!(src.is_empty(), "fixture has trailing bytes");
    items
}

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(fixture_path(name)).unwrap()
}

#[test]
fn fixture_greeting_decodes_as_null_3_1() {
    let bytes = fixture("libzmq-greeting.bin");
    // libzmq puts its identity length + 1 in the signature padding; we ignore it.
    assert_eq!(bytes[0], 0xFF);
    assert_eq!(bytes[9], 0x7F);
    match &decode_all(&bytes, true)[..] {
        [Item::Greeting(g)] => {
            assert_eq!(g.version, Version::V3_1);
            assert_eq!(g.mechanism, Mechanism::NULL);
            assert!(!g.as_server);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn fixture_ready_for_every_type_names_the_type() {
    for t in SocketType::ALL {
        let bytes = fixture(&format!("libzmq-ready-{}.bin", t.name().to_lowercase()));
        match &decode_all(&bytes, false)[..] {
            [Item::Command(Command::Ready(md))] => {
                assert_eq!(
                    md.get("socket-type").map(|v| &v[..]),
                    Some(t.name().as_bytes())
                );
                let id = md.get("Identity");
                assert_eq!(id.is_some(), t.sends_identity(), "{t}");
                assert!(id.is_none_or(|v| v.is_empty()));
            }
            other => panic!("{t}: {other:?}"),
        }
        // Our READY for the same type is byte-identical to libzmq's.
        let ours = ready_bytes(t);
        assert_eq!(ours, bytes, "our READY for {t} differs from libzmq's");
    }
}

#[test]
fn fixture_multipart_subscribe_and_ping_decode() {
    let frames: Vec<(bool, Bytes)> = decode_all(&fixture("libzmq-multipart.bin"), false)
        .into_iter()
        .map(|i| match i {
            Item::Frame(f) => (f.more, f.body),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        frames,
        vec![
            (true, Bytes::from_static(b"A")),
            (true, Bytes::new()),
            (false, Bytes::from(vec![b'x'; 300])),
        ]
    );
    match &decode_all(&fixture("libzmq-subscribe.bin"), false)[..] {
        [Item::Command(c)] => assert_eq!(
            Subscription::from_command(c),
            Some(Subscription {
                subscribe: true,
                topic: Bytes::from_static(b"topic")
            })
        ),
        other => panic!("{other:?}"),
    }
    match &decode_all(&fixture("libzmq-ping.bin"), false)[..] {
        [Item::Command(Command::Ping(p))] => assert_eq!(p.ttl_deciseconds, 20),
        other => panic!("{other:?}"),
    }
}

fn libzmq_bound(
    ctx: &zmq::Context,
    t: zmq::SocketType,
) -> (tempfile::TempDir, zmq::Socket, UnixStream) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let sock = ctx.socket(t).unwrap();
    sock.set_linger(0).unwrap();
    sock.set_rcvtimeo(10_000).unwrap();
    sock.set_sndtimeo(10_000).unwrap();
    sock.bind(&format!("ipc://{}", path.display())).unwrap();
    let s = with_timeouts(UnixStream::connect(&path).unwrap());
    (dir, sock, s)
}

#[test]
fn libzmq_pull_receives_what_our_encoder_writes() {
    let ctx = zmq::Context::new();
    let (_dir, pull, mut s) = libzmq_bound(&ctx, zmq::PULL);
    let (peer, _dec, _rest) = handshake(&mut s, SocketType::Push);
    assert_eq!(peer.socket_type, Some(SocketType::Pull));
    let sizes = [0usize, 1, 255, 256, 70_000, 1 << 20];
    let bodies: Vec<Vec<u8>> = sizes
        .iter()
        .map(|&n| (0..n).map(|i| (i * 7 + n) as u8).collect())
        .collect();
    for (i, body) in bodies.iter().enumerate() {
        // Header and body written separately, as a vectored write would.
        let hdr = FrameHeader::data(body.len() as u64, i + 1 < bodies.len());
        s.write_all(hdr.to_bytes().as_slice()).unwrap();
        s.write_all(body).unwrap();
    }
    let got = pull.recv_multipart(0).unwrap();
    assert_eq!(got, bodies);
}

#[test]
fn we_decode_what_a_libzmq_push_sends() {
    let ctx = zmq::Context::new();
    let (_dir, push, mut s) = libzmq_bound(&ctx, zmq::PUSH);
    let (peer, mut dec, mut src) = handshake(&mut s, SocketType::Pull);
    assert_eq!(peer.socket_type, Some(SocketType::Push));
    let big = vec![0x5Au8; 300_000];
    push.send_multipart([&b""[..], &b"x"[..], &big[..]], 0)
        .unwrap();
    let mut got = Vec::new();
    loop {
        match next_item(&mut s, &mut dec, &mut src) {
            Item::Frame(f) => {
                got.push(f.body.to_vec());
                if !f.more {
                    break;
                }
            }
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, vec![b"".to_vec(), b"x".to_vec(), big]);
}

#[test]
fn libzmq_answers_our_ping_with_its_context() {
    let ctx = zmq::Context::new();
    let (_dir, _pull, mut s) = libzmq_bound(&ctx, zmq::PULL);
    let (_, mut dec, mut src) = handshake(&mut s, SocketType::Push);
    let mut out = BytesMut::new();
    Command::Ping(Ping {
        ttl_deciseconds: 0,
        context: Bytes::from_static(b"ctx-1234"),
    })
    .encode(&mut out);
    s.write_all(&out).unwrap();
    match next_item(&mut s, &mut dec, &mut src) {
        Item::Command(Command::Pong { context }) => assert_eq!(&context[..], b"ctx-1234"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn libzmq_pub_filters_by_our_subscribe_command() {
    let ctx = zmq::Context::new();
    let (_dir, publisher, mut s) = libzmq_bound(&ctx, zmq::PUB);
    let (peer, mut dec, mut src) = handshake(&mut s, SocketType::Sub);
    assert_eq!(peer.socket_type, Some(SocketType::Pub));
    let mut out = BytesMut::new();
    Subscription {
        subscribe: true,
        topic: Bytes::from_static(b"a"),
    }
    .encode(peer.version, &mut out);
    s.write_all(&out).unwrap();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    let sender = std::thread::spawn(move || {
        // PUB drops until our subscription is processed, so keep publishing until the
        // reader has what it needs; the pause only paces the loop.
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            publisher.send("b-skip", 0).unwrap();
            publisher.send("a-keep", 0).unwrap();
            std::thread::sleep(Duration::from_millis(1));
        }
    });
    for _ in 0..5 {
        match next_item(&mut s, &mut dec, &mut src) {
            Item::Frame(f) => assert_eq!(&f.body[..], b"a-keep"),
            other => panic!("{other:?}"),
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    sender.join().unwrap();
}

#[test]
fn libzmq_closes_on_an_incompatible_socket_type() {
    let ctx = zmq::Context::new();
    let (_dir, pull, mut s) = libzmq_bound(&ctx, zmq::PULL);
    let mut out = BytesMut::new();
    out.extend_from_slice(&Greeting::ours().to_bytes());
    out.extend_from_slice(&ready_bytes(SocketType::Pub));
    zmtp_codec::encode_frame(&mut out, b"must not arrive", false);
    s.write_all(&out).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(_) => {}
            // libzmq closed with our bytes unread: the kernel reports a reset.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("libzmq did not close: {e}"),
        }
    }
    assert_eq!(pull.recv_bytes(zmq::DONTWAIT), Err(zmq::Error::EAGAIN));
}
