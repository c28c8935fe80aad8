//! The PLAIN machines against a real libzmq over raw Unix sockets, both roles: libzmq's
//! PLAIN server (with a ZAP handler in its context, as libzmq requires) and libzmq's PLAIN
//! client against our machine.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::thread;

use bytes::{Bytes, BytesMut};
use zmtp_codec::{
    encode_frame, Event, Handshake, HandshakeConfig, HandshakeError, Item, PeerInfo, Security,
    SocketType, ZapReply, ZapRequest, ZapStatus,
};

use crate::libzmq::{check_or_bless, fixture_path};
use crate::support::{next_item, read_raw_frame, with_timeouts};

/// Runs `cfg`'s machine over `s`, answering authentication requests with `auth`.
fn run(
    s: &mut UnixStream,
    cfg: HandshakeConfig,
    auth: &dyn Fn(&ZapRequest) -> ZapReply,
) -> Result<(PeerInfo, zmtp_codec::Decoder, BytesMut), HandshakeError> {
    let mut hs = Handshake::new(cfg, std::time::Instant::now());
    let mut src = BytesMut::new();
    let mut out = BytesMut::new();
    loop {
        let step = match hs.poll_event() {
            Some(Event::Completed(peer)) => {
                hs.poll_transmit(&mut out);
                s.write_all(&out).expect("write");
                return Ok((peer, hs.into_decoder(), src));
            }
            Some(Event::Authenticate(req)) => hs
                .authenticated(auth(&req))
                .and_then(|()| hs.handle_input(&mut src)),
            None => {
                hs.poll_transmit(&mut out);
                s.write_all(&out).expect("write");
                out.clear();
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf).expect("read");
                assert!(n > 0, "peer closed during the handshake");
                src.extend_from_slice(&buf[..n]);
                hs.handle_input(&mut src)
            }
        };
        if let Err(e) = step {
            // What failing queued (an ERROR) still goes out.
            hs.poll_transmit(&mut out);
            let _ = s.write_all(&out);
            return Err(e);
        }
    }
}

/// A libzmq ZAP handler in `ctx` admitting admin/password as user "admin-user".
fn zap_handler(ctx: &zmq::Context) -> thread::JoinHandle<Vec<Vec<Vec<u8>>>> {
    let zap = ctx.socket(zmq::REP).unwrap();
    zap.bind("inproc://zeromq.zap.01").unwrap();
    zap.set_rcvtimeo(10_000).unwrap();
    thread::spawn(move || {
        let mut seen = Vec::new();
        while let Ok(req) = zap.recv_multipart(0) {
            let ok = req[6] == b"admin" && req[7] == b"password";
            let (status, user): (&[u8], &[u8]) = if ok {
                (b"200", b"admin-user")
            } else {
                (b"400", b"")
            };
            zap.send_multipart([&b"1.0"[..], &req[1], status, b"text", user, b""], 0)
                .unwrap();
            let done = ok;
            seen.push(req);
            if done {
                break;
            }
        }
        seen
    })
}

/// A libzmq PLAIN server (REP, LINGER 0, 10 s receive timeout, ZAP domain `domain` if any) bound
/// in a new temporary directory.
fn libzmq_plain_server(
    ctx: &zmq::Context,
    domain: &str,
) -> (tempfile::TempDir, std::path::PathBuf, zmq::Socket) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let rep = ctx.socket(zmq::REP).unwrap();
    rep.set_linger(0).unwrap();
    rep.set_plain_server(true).unwrap();
    if !domain.is_empty() {
        rep.set_zap_domain(domain).unwrap();
    }
    rep.set_rcvtimeo(10_000).unwrap();
    rep.bind(&format!("ipc://{}", path.display())).unwrap();
    (dir, path, rep)
}

fn client_cfg(user: &str, pass: &str) -> HandshakeConfig {
    let mut cfg = HandshakeConfig::new(SocketType::Req);
    cfg.security = Security::plain_client(user.to_owned(), pass.to_owned()).unwrap();
    cfg
}

#[test]
fn our_plain_client_talks_to_a_libzmq_plain_server() {
    let ctx = zmq::Context::new();
    let handler = zap_handler(&ctx);
    let (_dir, path, rep) = libzmq_plain_server(&ctx, "global");

    // Wrong password first: libzmq's ERROR carries 400.
    let mut s = with_timeouts(UnixStream::connect(&path).unwrap());
    let r = run(&mut s, client_cfg("admin", "wrong"), &|_| unreachable!());
    assert_eq!(
        r.err(),
        Some(HandshakeError::AuthFailed {
            status: ZapStatus::Denied
        })
    );
    drop(s);

    let mut s = with_timeouts(UnixStream::connect(&path).unwrap());
    let (peer, mut dec, mut src) =
        run(&mut s, client_cfg("admin", "password"), &|_| unreachable!()).unwrap();
    assert_eq!(peer.socket_type, Some(SocketType::Rep));
    // A REQ request: empty delimiter, body.
    let mut out = BytesMut::new();
    encode_frame(&mut out, b"", true);
    encode_frame(&mut out, b"ping", false);
    s.write_all(&out).unwrap();
    let got = rep.recv_multipart(0).unwrap();
    assert_eq!(got, [b"ping".to_vec()]);
    rep.send("pong", 0).unwrap();
    let mut frames = Vec::new();
    while frames.len() < 2 {
        match next_item(&mut s, &mut dec, &mut src) {
            Item::Frame(f) => frames.push(f.body),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(frames, [Bytes::new(), Bytes::from_static(b"pong")]);
    let seen = handler.join().unwrap();
    // RFC 27's request: version, id, domain, address, identity, mechanism, credentials.
    // (A REP handler sees them without the delimiter.)
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1][0], b"1.0");
    assert_eq!(seen[1][2], b"global");
    assert_eq!(seen[1][5], b"PLAIN");
    assert_eq!(seen[1][6], b"admin");
}

#[test]
fn a_libzmq_plain_client_passes_our_plain_server() {
    let ctx = zmq::Context::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let listener = UnixListener::bind(&path).unwrap();
    let endpoint = format!("ipc://{}", path.display());

    // Wrong credentials: we send ERROR 400, libzmq's monitor says the handshake failed
    // with that status.
    let bad = ctx.socket(zmq::REQ).unwrap();
    bad.set_linger(0).unwrap();
    bad.set_plain_username(Some("admin")).unwrap();
    bad.set_plain_password(Some("wrong")).unwrap();
    bad.monitor(
        "inproc://mon",
        zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32,
    )
    .unwrap();
    let mon = ctx.socket(zmq::PAIR).unwrap();
    mon.set_rcvtimeo(10_000).unwrap();
    mon.connect("inproc://mon").unwrap();
    bad.connect(&endpoint).unwrap();
    let (s, _) = listener.accept().unwrap();
    let mut s = with_timeouts(s);
    let mut server = HandshakeConfig::new(SocketType::Rep);
    server.security = Security::PlainServer;
    let admit = |req: &ZapRequest| {
        if req.credentials == [&b"admin"[..], b"password"] {
            ZapReply::allow("admin-user")
        } else {
            ZapReply::refuse(ZapStatus::Denied, "wrong password")
        }
    };
    assert!(matches!(
        run(&mut s, server.clone(), &admit),
        Err(HandshakeError::Refused {
            status: ZapStatus::Denied,
            ..
        })
    ));
    let event = mon.recv_multipart(0).unwrap();
    let code = u16::from_ne_bytes([event[0][0], event[0][1]]);
    let value = u32::from_ne_bytes([event[0][2], event[0][3], event[0][4], event[0][5]]);
    assert_eq!(code, zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as u16);
    assert_eq!(value, 400);
    drop(s);

    let good = ctx.socket(zmq::REQ).unwrap();
    good.set_linger(0).unwrap();
    good.set_rcvtimeo(10_000).unwrap();
    good.set_plain_username(Some("admin")).unwrap();
    good.set_plain_password(Some("password")).unwrap();
    good.connect(&endpoint).unwrap();
    let (s, _) = listener.accept().unwrap();
    let mut s = with_timeouts(s);
    let (peer, mut dec, mut src) = run(&mut s, server, &admit).unwrap();
    assert_eq!(peer.socket_type, Some(SocketType::Req));
    assert_eq!(peer.user_id.as_deref(), Some(&b"admin-user"[..]));
    good.send("hello", 0).unwrap();
    let mut frames = Vec::new();
    while frames.len() < 2 {
        match next_item(&mut s, &mut dec, &mut src) {
            Item::Frame(f) => frames.push(f.body),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(frames, [Bytes::new(), Bytes::from_static(b"hello")]);
    let mut out = BytesMut::new();
    encode_frame(&mut out, b"", true);
    encode_frame(&mut out, b"world", false);
    s.write_all(&out).unwrap();
    assert_eq!(good.recv_bytes(0).unwrap(), b"world");
}

// ----- golden vectors: libzmq's PLAIN commands, recorded and compared with ours -----

/// What our machine in `cfg`'s role sends, command by command, against a peer that sends
/// `peer` (its greeting first).
fn our_commands(cfg: HandshakeConfig, peer: &[u8], auth: Option<ZapReply>) -> Vec<Vec<u8>> {
    let mut hs = Handshake::new(cfg, std::time::Instant::now());
    let mut out = BytesMut::new();
    hs.poll_transmit(&mut out);
    let _greeting = out.split_to(64);
    let mut src = BytesMut::from(peer);
    let _ = hs.handle_input(&mut src);
    if let (Some(Event::Authenticate(_)), Some(reply)) = (hs.poll_event(), auth) {
        let _ = hs.authenticated(reply);
        let _ = hs.handle_input(&mut src);
    }
    hs.poll_transmit(&mut out);
    // Split into frames (all short here).
    let mut frames = Vec::new();
    while out.len() >= 2 {
        let n = 2 + usize::from(out[1]);
        frames.push(out.split_to(n).to_vec());
    }
    frames
}

#[test]
fn libzmq_plain_client_commands_match_fixtures_and_ours() {
    let ctx = zmq::Context::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let listener = UnixListener::bind(&path).unwrap();
    let req = ctx.socket(zmq::REQ).unwrap();
    req.set_linger(0).unwrap();
    req.set_plain_username(Some("admin")).unwrap();
    req.set_plain_password(Some("secret")).unwrap();
    req.connect(&format!("ipc://{}", path.display())).unwrap();
    let (s, _) = listener.accept().unwrap();
    let mut s = with_timeouts(s);
    let mut server_greeting = zmtp_codec::Greeting::ours();
    server_greeting.mechanism = zmtp_codec::Mechanism::PLAIN;
    server_greeting.as_server = true;
    s.write_all(&server_greeting.to_bytes()).unwrap();
    let mut g = vec![0u8; 64];
    s.read_exact(&mut g).unwrap();
    assert_eq!(&g[12..17], b"PLAIN");
    let hello = read_raw_frame(&mut s);
    check_or_bless("libzmq-plain-hello.bin", &hello);
    // WELCOME as libzmq's server writes it (our server's, checked below to be the same).
    s.write_all(b"\x04\x08\x07WELCOME").unwrap();
    let initiate = read_raw_frame(&mut s);
    check_or_bless("libzmq-plain-initiate-req.bin", &initiate);

    // Our client, given the same server, sends the same bytes.
    let mut peer = server_greeting.to_bytes().to_vec();
    peer.extend_from_slice(b"\x04\x08\x07WELCOME");
    let ours = our_commands(client_cfg("admin", "secret"), &peer, None);
    assert_eq!(ours, [hello, initiate]);
}

#[test]
fn libzmq_plain_server_commands_match_fixtures_and_ours() {
    let ctx = zmq::Context::new();
    let handler = zap_handler(&ctx);
    let (_dir, path, rep) = libzmq_plain_server(&ctx, "");
    let recorded = |user: &str, pass: &str| {
        let mut s = with_timeouts(UnixStream::connect(&path).unwrap());
        let mut client_greeting = zmtp_codec::Greeting::ours();
        client_greeting.mechanism = zmtp_codec::Mechanism::PLAIN;
        s.write_all(&client_greeting.to_bytes()).unwrap();
        let mut g = vec![0u8; 64];
        s.read_exact(&mut g).unwrap();
        let mut hello = BytesMut::new();
        zmtp_codec::Command::Unknown {
            name: Bytes::from_static(b"HELLO"),
            body: Bytes::from(
                [
                    &[user.len() as u8][..],
                    user.as_bytes(),
                    &[pass.len() as u8],
                    pass.as_bytes(),
                ]
                .concat(),
            ),
        }
        .encode(&mut hello);
        s.write_all(&hello).unwrap();
        let first = read_raw_frame(&mut s);
        (s, client_greeting, hello, first)
    };
    // Refused: libzmq's ERROR (its 5E 'RROR' form).
    let (_s, greeting, hello, error) = recorded("admin", "wrong");
    check_or_bless("libzmq-plain-error-400.bin", &error);
    let mut server = HandshakeConfig::new(SocketType::Rep);
    server.security = Security::PlainServer;
    let mut peer = greeting.to_bytes().to_vec();
    peer.extend_from_slice(&hello);
    let ours = our_commands(
        server.clone(),
        &peer,
        Some(ZapReply::refuse(ZapStatus::Denied, "no")),
    );
    assert_eq!(ours, [error]);
    // Admitted: WELCOME, then READY after the client's INITIATE.
    let (mut s, greeting, hello, welcome) = recorded("admin", "password");
    check_or_bless("libzmq-plain-welcome.bin", &welcome);
    let mut initiate = BytesMut::new();
    zmtp_codec::Command::Unknown {
        name: Bytes::from_static(b"INITIATE"),
        body: Bytes::from_static(b"\x0bSocket-Type\x00\x00\x00\x03REQ\x08Identity\x00\x00\x00\x00"),
    }
    .encode(&mut initiate);
    s.write_all(&initiate).unwrap();
    let ready = read_raw_frame(&mut s);
    check_or_bless("libzmq-plain-ready-rep.bin", &ready);
    let mut peer = greeting.to_bytes().to_vec();
    peer.extend_from_slice(&hello);
    peer.extend_from_slice(&initiate);
    let ours = our_commands(server, &peer, Some(ZapReply::allow("u")));
    assert_eq!(ours, [welcome, ready]);
    drop(s);
    drop(rep);
    let _ = handler.join();
}

/// A CURVE HELLO recorded from Debian's libzmq 4.3.4 (libzmq5, built with libsodium): a
/// DEALER with a fresh key pair, CURVE_SERVERKEY the public key of the secret key of 32
/// bytes of 7 (libzmq's `zmq_curve_public` gave `6tvoc(HC7#@wdNNOb^NDFZFM!FHzZ>-=Q*4F9zq%`),
/// connected to a raw listener that sent a CURVE server greeting. Its box opens under our
/// server machine with that secret key, which then answers with a WELCOME of 26/CurveZMQ's
/// size; HELLO's layout is checked byte by byte where it is not random.
#[test]
fn a_hello_recorded_from_libzmq_opens_under_our_server() {
    use zmtp_codec::curve::{z85_encode, CurveSecretKey};
    let hello = std::fs::read(fixture_path("libzmq-curve-hello.bin")).unwrap();
    let secret = CurveSecretKey::from_bytes([7; 32]);
    assert_eq!(
        z85_encode(&secret.public_key()).unwrap(),
        "6tvoc(HC7#@wdNNOb^NDFZFM!FHzZ>-=Q*4F9zq%"
    );
    // Command frame, 200 bytes: name, version 1.0, 72 bytes of padding.
    assert_eq!(&hello[..2], &[0x04, 200]);
    assert_eq!(&hello[2..8], b"\x05HELLO");
    assert_eq!(&hello[8..10], &[1, 0]);
    assert!(hello[10..82].iter().all(|&b| b == 0));
    let mut cfg = HandshakeConfig::new(SocketType::Router);
    cfg.security = Security::CurveServer { secret };
    let mut hs = Handshake::new(cfg, std::time::Instant::now());
    let mut out = BytesMut::new();
    hs.poll_transmit(&mut out);
    let mut greeting = zmtp_codec::Greeting::ours();
    greeting.mechanism = zmtp_codec::Mechanism::CURVE;
    let mut src = BytesMut::from(&greeting.to_bytes()[..]);
    src.extend_from_slice(&hello);
    hs.handle_input(&mut src).unwrap();
    out.clear();
    hs.poll_transmit(&mut out);
    // WELCOME: a command frame of 168 bytes.
    assert_eq!(&out[..2], &[0x04, 168]);
    assert_eq!(&out[2..10], b"\x07WELCOME");
    assert!(!hs.is_failed());
}
