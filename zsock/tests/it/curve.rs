//! CURVE between zsock sockets over ipc and tcp: traffic of every shape through the boxes
//! (multipart, empty and large frames, subscriptions, heartbeats), a wrong server key
//! refused, clients admitted by their public key through the context's authenticator, and
//! options that refuse to bind or connect until the keys are there.

use std::time::Duration;

use zsock::{
    curve_keypair, Bytes, Context, ErrorKind, Event, Flags, Mechanism, SocketOption, SocketType,
    ZapReply, ZapRequest, ZapStatus,
};

use crate::support::{handshake_result, sock, Dir};

fn key(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

struct Keys {
    server_public: String,
    server_secret: Bytes,
    client_public: String,
    client_secret: Bytes,
}

fn keys() -> Keys {
    let s = curve_keypair();
    let c = curve_keypair();
    Keys {
        server_public: s.public.clone(),
        server_secret: key(&s.secret),
        client_public: c.public.clone(),
        client_secret: key(&c.secret),
    }
}

fn server(ctx: &Context, t: SocketType, k: &Keys) -> zsock::Socket {
    let mut s = sock(ctx, t);
    s.set(SocketOption::CurveServer(true)).unwrap();
    s.set(SocketOption::CurveSecretKey(k.server_secret.clone().into()))
        .unwrap();
    s
}

fn client(ctx: &Context, t: SocketType, k: &Keys, server_public: &str) -> zsock::Socket {
    let mut s = sock(ctx, t);
    s.set(SocketOption::CurveServerKey(key(server_public)))
        .unwrap();
    s.set(SocketOption::CurveSecretKey(k.client_secret.clone().into()))
        .unwrap();
    s
}

#[test]
fn curve_carries_every_shape_of_message_over_ipc_and_tcp() {
    let d = Dir::new();
    for ep in [d.ep("curve"), "tcp://127.0.0.1:*".to_string()] {
        let ctx = Context::new();
        let k = keys();
        let mut a = server(&ctx, SocketType::Pair, &k);
        let bound = a.bind(&ep).unwrap();
        let mut b = client(&ctx, SocketType::Pair, &k, &k.server_public);
        assert_eq!(b.mechanism(), Mechanism::CURVE);
        b.connect(&bound).unwrap();
        let big = Bytes::from((0..1 << 20).map(|i| (i % 251) as u8).collect::<Vec<u8>>());
        let messages: Vec<Vec<Bytes>> = vec![
            vec![Bytes::from_static(b"hello")],
            vec![Bytes::new()],
            vec![
                Bytes::from_static(b"a"),
                Bytes::new(),
                Bytes::from_static(b"c"),
            ],
            vec![big.clone(), Bytes::from_static(b"tail")],
        ];
        for m in &messages {
            b.send_multipart(m.clone(), Flags::NONE).unwrap();
        }
        for m in &messages {
            assert_eq!(&a.recv_multipart(Flags::NONE).unwrap(), m, "{ep}");
        }
        // And back, many small ones (batched and sealed together).
        for i in 0..1000u32 {
            a.send(Bytes::copy_from_slice(&i.to_be_bytes()), Flags::NONE)
                .unwrap();
        }
        for i in 0..1000u32 {
            assert_eq!(b.recv(Flags::NONE).unwrap(), &i.to_be_bytes()[..]);
        }
    }
}

#[test]
fn subscriptions_and_heartbeats_go_inside_the_boxes() {
    let d = Dir::new();
    let ctx = Context::new();
    let k = keys();
    let mut publisher = server(&ctx, SocketType::Pub, &k);
    publisher.set(SocketOption::HeartbeatIvl(20)).unwrap();
    publisher.bind(&d.ep("pub")).unwrap();
    let mut sub = client(&ctx, SocketType::Sub, &k, &k.server_public);
    sub.set(SocketOption::HeartbeatIvl(20)).unwrap();
    sub.set(SocketOption::HeartbeatTimeout(200)).unwrap();
    sub.set(SocketOption::Subscribe(Bytes::from_static(b"weather")))
        .unwrap();
    let mon = sub.monitor();
    sub.connect(&d.ep("pub")).unwrap();
    assert!(matches!(
        handshake_result(&mon),
        Event::HandshakeSucceeded { .. }
    ));
    // The subscription arrives inside a box; until then nothing matches.
    loop {
        publisher.send("sports 1", Flags::NONE).unwrap();
        publisher.send("weather sunny", Flags::NONE).unwrap();
        match sub.recv(Flags::DONTWAIT) {
            Ok(m) => {
                assert_eq!(m, "weather sunny");
                break;
            }
            Err(e) if e.kind() == ErrorKind::Again => std::thread::yield_now(),
            Err(e) => panic!("{e}"),
        }
    }
    // Heartbeats (PING and PONG, sealed) keep the idle connection up well past the
    // 200 ms timeout: no Disconnected event in 600 ms.
    let quiet = mon.next(Some(Duration::from_millis(600)));
    assert!(
        !matches!(quiet, Some(Event::Disconnected { .. })),
        "{quiet:?}"
    );
}

#[test]
fn a_wrong_server_key_never_completes() {
    let d = Dir::new();
    let ctx = Context::new();
    let k = keys();
    let a = server(&ctx, SocketType::Pull, &k);
    let server_mon = a.monitor();
    a.bind(&d.ep("s")).unwrap();
    let wrong = curve_keypair();
    let b = client(&ctx, SocketType::Push, &k, &wrong.public);
    let client_mon = b.monitor();
    b.connect(&d.ep("s")).unwrap();
    match handshake_result(&server_mon) {
        Event::HandshakeFailed { reason, .. } => assert!(reason.contains("HELLO"), "{reason}"),
        e => panic!("{e}"),
    }
    // The client hears nothing but the close; its event points at the key.
    match handshake_result(&client_mon) {
        Event::HandshakeFailed { reason, .. } => {
            assert!(reason.contains("CURVE_SERVERKEY"), "{reason}")
        }
        e => panic!("{e}"),
    }
}

#[test]
fn the_authenticator_admits_clients_by_public_key() {
    let d = Dir::new();
    let ctx = Context::new();
    let k = keys();
    let allowed = zsock::z85_decode(&k.client_public).unwrap();
    ctx.set_authenticator(move |req: &ZapRequest| {
        if req.credentials.len() == 1 && req.credentials[0] == allowed {
            ZapReply::allow("known-client")
        } else {
            ZapReply::refuse(ZapStatus::Denied, "key not allowed")
        }
    });
    let mut a = server(&ctx, SocketType::Rep, &k);
    a.bind(&d.ep("s")).unwrap();
    let mut good = client(&ctx, SocketType::Req, &k, &k.server_public);
    good.connect(&d.ep("s")).unwrap();
    good.send("hi", Flags::NONE).unwrap();
    assert_eq!(a.recv(Flags::NONE).unwrap(), "hi");
    assert_eq!(
        a.peer().unwrap().gets("User-Id").as_deref(),
        Some("known-client")
    );
    a.send("hello", Flags::NONE).unwrap();
    assert_eq!(good.recv(Flags::NONE).unwrap(), "hello");
    // Another client key: refused with 400 on both sides.
    let other = keys();
    let stranger = client(&ctx, SocketType::Req, &other, &k.server_public);
    let mon = stranger.monitor();
    stranger.connect(&d.ep("s")).unwrap();
    match handshake_result(&mon) {
        Event::HandshakeFailed { auth, .. } => assert_eq!(auth, Some(ZapStatus::Denied)),
        e => panic!("{e}"),
    }
}

#[test]
fn curve_needs_its_keys_before_bind_or_connect() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut s = sock(&ctx, SocketType::Pull);
    s.set(SocketOption::CurveServer(true)).unwrap();
    assert_eq!(s.mechanism(), Mechanism::CURVE);
    let e = s.bind(&d.ep("x")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.to_string().contains("CURVE_SECRETKEY"), "{e}");
    let mut c = sock(&ctx, SocketType::Push);
    c.set(SocketOption::CurveSecretKey(
        key(&curve_keypair().secret).into(),
    ))
    .unwrap();
    assert_eq!(
        c.connect(&d.ep("x")).unwrap_err().kind(),
        ErrorKind::Invalid
    );
    for bad in [&b"short"[..], &[b'"'; 40][..]] {
        assert_eq!(
            c.set(SocketOption::CurveServerKey(Bytes::copy_from_slice(bad)))
                .unwrap_err()
                .kind(),
            ErrorKind::Invalid
        );
    }
    // Keys as 32 raw bytes work as well as Z85.
    let pair = curve_keypair();
    let raw = zsock::z85_decode(&pair.public).unwrap();
    c.set(SocketOption::CurveServerKey(Bytes::from(raw.clone())))
        .unwrap();
    assert_eq!(c.curve_serverkey().map(|k| k.to_vec()), Some(raw));
    c.connect(&d.ep("x")).unwrap();
}

#[test]
fn curve_and_null_peers_do_not_talk() {
    let d = Dir::new();
    let ctx = Context::new();
    let k = keys();
    let a = server(&ctx, SocketType::Pull, &k);
    let mon = a.monitor();
    a.bind(&d.ep("s")).unwrap();
    let b = sock(&ctx, SocketType::Push);
    b.connect(&d.ep("s")).unwrap();
    assert!(matches!(
        handshake_result(&mon),
        Event::HandshakeFailed { .. }
    ));
}

// ----- hostile CURVE peers (the reliability catalogue's PLAIN/CURVE/ZAP cases) -----

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;

use zmtp_codec::curve::{CurveSecretKey, CurveSession};
use zmtp_codec::{Handshake, HandshakeConfig, Security};

/// Runs a client handshake of `security` (our codec's machine) over a raw stream to
/// `path`; returns the stream and the machine once it completed, or `None` if the server
/// closed or refused first.
pub(crate) fn raw_handshake(
    path: &std::path::Path,
    security: Security,
) -> Option<(UnixStream, Handshake)> {
    let mut s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut cfg = HandshakeConfig::new(zmtp_codec::SocketType::Push);
    cfg.security = security;
    let mut hs = Handshake::new(cfg, std::time::Instant::now());
    let mut src = bytes::BytesMut::new();
    loop {
        let mut out = bytes::BytesMut::new();
        hs.poll_transmit(&mut out);
        s.write_all(&out).ok()?;
        if let Some(zmtp_codec::Event::Completed(_)) = hs.poll_event() {
            return Some((s, hs));
        }
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        src.extend_from_slice(&buf[..n]);
        hs.handle_input(&mut src).ok()?;
    }
}

/// Runs a CURVE client handshake over a raw stream to `path`; returns the stream and the
/// traffic session, or `None` if the server closed first.
fn raw_curve_client(
    path: &std::path::Path,
    server_public: [u8; 32],
) -> Option<(UnixStream, CurveSession)> {
    let security = Security::CurveClient {
        server: server_public,
        public: None,
        secret: CurveSecretKey::generate(),
    };
    let (s, mut hs) = raw_handshake(path, security)?;
    let session = hs.take_curve_session()?;
    Some((s, session))
}

/// Runs `fail` (a handshake that must fail) 100 times to warm up the allocator and the
/// listener, then 1,000 times: the descriptors come back and RSS grows by under 4 MiB.
pub(crate) fn thousand_failures_leave_fds_and_rss_flat(mut fail: impl FnMut()) {
    (0..100).for_each(|_| fail());
    let (fds_before, rss_before) = (fds(), vm_rss_kib());
    (0..1000).for_each(|_| fail());
    crate::reliability::assert_fds_back_to(fds_before);
    let rss_after = vm_rss_kib();
    assert!(
        rss_after < rss_before + 4096,
        "RSS grew from {rss_before} KiB to {rss_after} KiB"
    );
}

pub(crate) fn path_of(ep: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(ep.strip_prefix("ipc://").unwrap())
}

pub(crate) fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

pub(crate) fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn garbage_inside_a_box_and_a_replayed_nonce_close_only_that_connection() {
    let d = Dir::new();
    let ctx = Context::new();
    let k = keys();
    let server_public: [u8; 32] = zsock::z85_decode(&k.server_public)
        .unwrap()
        .try_into()
        .unwrap();
    let mut pull = server(&ctx, SocketType::Pull, &k);
    let mon = pull.monitor();
    let ep = pull.bind(&d.ep("s")).unwrap();
    for attack in ["garbage", "replay", "unsealed"] {
        let (mut s, mut session) = raw_curve_client(&path_of(&ep), server_public).unwrap();
        assert!(matches!(
            handshake_result(&mon),
            Event::HandshakeSucceeded { .. }
        ));
        let mut wire = bytes::BytesMut::new();
        session.seal_frame(false, false, b"first, and fine", &mut wire);
        match attack {
            "garbage" => {
                let mut bad = bytes::BytesMut::new();
                session.seal_frame(false, false, b"tampered", &mut bad);
                let last = bad.len() - 1;
                bad[last] ^= 1; // one bit of the box
                wire.extend_from_slice(&bad);
            }
            "replay" => {
                let again = wire.clone();
                wire.extend_from_slice(&again);
            }
            _ => wire.extend_from_slice(b"\x00\x05plain"), // a frame outside any box
        }
        s.write_all(&wire).unwrap();
        assert_eq!(
            pull.recv(Flags::NONE).unwrap(),
            "first, and fine",
            "{attack}"
        );
        // The server closes the connection: end of file on the raw stream.
        let mut buf = [0u8; 64];
        assert_eq!(s.read(&mut buf).unwrap_or(0), 0, "{attack}");
        loop {
            match mon.next(Some(Duration::from_secs(10))).expect("an event") {
                Event::Disconnected { reason, .. } => {
                    assert!(!reason.is_empty(), "{attack}");
                    break;
                }
                _ => continue,
            }
        }
        assert_no_curve_leftovers(&mut pull);
    }
    // A good client on the same endpoint is served.
    let mut good = client(&ctx, SocketType::Push, &k, &k.server_public);
    good.connect(&ep).unwrap();
    good.send("still here", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "still here");
}

fn assert_no_curve_leftovers(s: &mut zsock::Socket) {
    assert_eq!(
        s.recv(Flags::DONTWAIT).unwrap_err().kind(),
        ErrorKind::Again,
        "nothing after the attack is delivered"
    );
}

#[test]
fn a_thousand_failing_handshakes_leave_memory_and_descriptors_flat() {
    // In a child process of its own: the descriptors and memory counted are this test's.
    crate::reliability::isolated(
        "curve::a_thousand_failing_handshakes_leave_memory_and_descriptors_flat",
        thousand_failing_handshakes,
    );
}

fn thousand_failing_handshakes() {
    let d = Dir::new();
    let ctx = Context::new();
    let k = keys();
    let mut pull = server(&ctx, SocketType::Pull, &k);
    let ep = pull.bind(&d.ep("s")).unwrap();
    let path = path_of(&ep);
    let wrong = CurveSecretKey::generate().public_key();
    // A HELLO sealed for another server: refused at once, connection closed.
    thousand_failures_leave_fds_and_rss_flat(|| {
        assert!(raw_curve_client(&path, wrong).is_none());
    });
    // Other peers are served.
    let mut good = client(&ctx, SocketType::Push, &k, &k.server_public);
    good.connect(&ep).unwrap();
    good.send("served", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "served");
}

#[test]
fn handshakes_and_inproc_connects_at_once_do_not_deadlock() {
    // A handshake asks for authentication under its socket's lock while other threads
    // connect to that socket over inproc (the context's names, then the socket): the
    // question must not need the names' lock. With no authenticator installed, every
    // CURVE handshake asks.
    let ctx = Context::new();
    let k = keys();
    let mut router = server(&ctx, SocketType::Router, &k);
    let tcp = router.bind("tcp://127.0.0.1:*").unwrap();
    router.bind("inproc://busy").unwrap();
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let connectors: Vec<_> = (0..2)
        .map(|_| {
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let s = sock(&ctx, SocketType::Dealer);
                    s.connect("inproc://busy").unwrap();
                }
            })
        })
        .collect();
    let ctx2 = ctx.clone();
    let server_public = k.server_public.clone();
    let clients = std::thread::spawn(move || {
        let mut kept = Vec::new();
        for i in 0..50u32 {
            let mut c = client(&ctx2, SocketType::Dealer, &keys(), &server_public);
            c.connect(&tcp).unwrap();
            c.send(Bytes::copy_from_slice(&i.to_be_bytes()), Flags::NONE)
                .unwrap();
            kept.push(c); // (LINGER 0: a socket dropped now would drop its message)
        }
        done_tx.send(()).unwrap();
        kept
    });
    let mut got = 0;
    while got < 50 {
        let m = router
            .recv_multipart(Flags::NONE)
            .expect("a CURVE client's message");
        assert_eq!(m.len(), 2);
        got += 1;
    }
    done_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the clients finished");
    drop(clients.join().unwrap());
    for c in connectors {
        c.join().unwrap();
    }
}

#[test]
fn a_listener_and_a_connector_keep_the_security_of_their_bind_and_connect() {
    let d = Dir::new();
    let ctx = Context::new();
    let k = keys();
    let mut pull = server(&ctx, SocketType::Pull, &k);
    pull.bind(&d.ep("s")).unwrap();
    // Options changed after the bind change later binds only: the listener stays CURVE.
    pull.set(SocketOption::CurveServer(false)).unwrap();
    assert_eq!(pull.mechanism(), Mechanism::NULL);
    let null = sock(&ctx, SocketType::Push);
    let mon = pull.monitor();
    null.connect(&d.ep("s")).unwrap();
    assert!(matches!(
        handshake_result(&mon),
        Event::HandshakeFailed { .. }
    ));
    // A client connecting to two servers with a server key set before each connect.
    let k2 = keys();
    let mut other = server(&ctx, SocketType::Pull, &k2);
    other.bind(&d.ep("t")).unwrap();
    let mut push = client(&ctx, SocketType::Push, &k, &k.server_public);
    push.connect(&d.ep("s")).unwrap();
    push.set(SocketOption::CurveServerKey(key(&k2.server_public)))
        .unwrap();
    push.connect(&d.ep("t")).unwrap();
    for i in 0..4u8 {
        push.send(vec![i], Flags::NONE).unwrap();
    }
    // Round-robin: two each, both handshakes done with their own server's key.
    let mut got = vec![
        pull.recv(Flags::NONE).unwrap(),
        other.recv(Flags::NONE).unwrap(),
    ];
    got.push(pull.recv(Flags::NONE).unwrap());
    got.push(other.recv(Flags::NONE).unwrap());
    got.sort();
    assert_eq!(got, [&[0u8][..], &[1], &[2], &[3]]);
}

#[test]
fn mechanism_options_follow_libzmqs_rules() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut s = sock(&ctx, SocketType::Pull);
    // PLAIN_SERVER sets the one as-server flag; a CURVE secret key then makes a CURVE server.
    s.set(SocketOption::PlainServer(true)).unwrap();
    s.set(SocketOption::CurveSecretKey(
        curve_keypair().secret.as_str().into(),
    ))
    .unwrap();
    assert!(s.curve_server());
    s.bind(&d.ep("a")).unwrap();
    // CURVE_SERVER 0 goes back to NULL.
    s.set(SocketOption::CurveServer(false)).unwrap();
    assert_eq!(s.mechanism(), Mechanism::NULL);
    // A key as libzmq's zmq_curve_keypair leaves it: 40 characters and a NUL.
    let mut with_nul = curve_keypair().public.into_bytes();
    with_nul.push(0);
    s.set(SocketOption::CurveServerKey(with_nul.into()))
        .unwrap();
    assert_eq!(s.mechanism(), Mechanism::CURVE);
    // Secrets never show in Debug.
    let opt = SocketOption::CurveSecretKey("D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs".into());
    assert!(!format!("{opt:?}").contains("IlAW"));
    let opt = SocketOption::PlainPassword("hunter2".into());
    assert!(!format!("{opt:?}").contains("hunter2"));
}

/// A CURVE HELLO is exactly 200 bytes (name, version, padding, the client's short-term
/// key, nonce, signature box). A peer that sends one a byte short, a byte long, with no
/// fields at all, or padded to 255 bytes gets its handshake refused and its connection
/// closed, the failure reported as a malformed HELLO (not as a box that does not open);
/// the socket serves a good client after.
#[test]
fn a_hello_of_the_wrong_length_is_refused() {
    use std::io::{Read, Write};
    let d = Dir::new();
    let ctx = Context::new();
    let k = keys();
    let mut pull = server(&ctx, SocketType::Pull, &k);
    let mon = pull.monitor();
    let ep = pull.bind(&d.ep("s")).unwrap();
    // Our greeting: 3.1, CURVE, as-server 0.
    let mut greeting = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 1];
    greeting.extend_from_slice(b"CURVE");
    greeting.resize(64, 0);
    // The HELLO's body after its 6-byte name: 194 bytes in a good one.
    for data_len in [193, 195, 0, 249] {
        let mut s = std::os::unix::net::UnixStream::connect(path_of(&ep)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut wire = greeting.clone();
        let mut hello = vec![1u8, 0]; // version 1.0, then zeros
        hello.resize(data_len, 0);
        wire.extend_from_slice(&crate::raw::command(b"HELLO", &hello));
        s.write_all(&wire).unwrap();
        // The server's greeting, then end of file: nothing else comes back.
        let mut back = Vec::new();
        let _ = s.read_to_end(&mut back);
        assert!(
            back.len() <= 64,
            "{data_len}: {} bytes came back",
            back.len()
        );
        match handshake_result(&mon) {
            Event::HandshakeFailed { reason, .. } => {
                assert!(
                    reason.contains("malformed CURVE HELLO"),
                    "{data_len}: {reason}"
                );
            }
            e => panic!("{data_len}: {e:?}"),
        }
    }
    assert_no_curve_leftovers(&mut pull);
    let mut good = client(&ctx, SocketType::Push, &k, &k.server_public);
    good.connect(&ep).unwrap();
    good.send("still here", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "still here");
}
