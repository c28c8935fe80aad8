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

use crate::support::{next_item, with_timeouts};

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

fn client_cfg(user: &str, pass: &str) -> HandshakeConfig {
    let mut cfg = HandshakeConfig::new(SocketType::Req);
    cfg.security = Security::plain_client(user.to_owned(), pass.to_owned()).unwrap();
    cfg
}

#[test]
fn our_plain_client_talks_to_a_libzmq_plain_server() {
    let ctx = zmq::Context::new();
    let handler = zap_handler(&ctx);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s");
    let rep = ctx.socket(zmq::REP).unwrap();
    rep.set_linger(0).unwrap();
    rep.set_plain_server(true).unwrap();
    rep.set_zap_domain("global").unwrap();
    rep.set_rcvtimeo(10_000).unwrap();
    rep.bind(&format!("ipc://{}", path.display())).unwrap();

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
