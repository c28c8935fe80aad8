//! CURVE against a real libzmq built with CURVE (the system's libzmq5, see `syszmq`), both
//! directions, over ipc and tcp: right keys pass (multipart with empty and 1 MiB frames,
//! subscriptions and heartbeats inside the boxes); a wrong server key and a client key not
//! allowed fail the way libzmq fails them.

use std::thread;
use std::time::Duration;

use zsock::{
    curve_keypair, Bytes, Context, Event, Flags, SocketOption, SocketType, ZapReply, ZapRequest,
    ZapStatus,
};

use crate::support::{handshake_result, zsock_plain_client, zsock_socket};
use crate::syszmq::{self, Ctx};

fn endpoints(dir: &tempfile::TempDir) -> [String; 2] {
    [
        format!("ipc://{}", dir.path().join("curve").display()),
        "tcp://127.0.0.1:*".to_string(),
    ]
}

fn big() -> Vec<u8> {
    (0..1usize << 20).map(|i| (i % 253) as u8).collect()
}

/// A libzmq ZAP handler in `ctx` admitting the client key `allowed` (32 bytes); answers
/// `n` requests, then returns the keys it was asked about.
fn zap_handler(ctx: &Ctx, allowed: Vec<u8>, n: usize) -> thread::JoinHandle<Vec<Vec<u8>>> {
    let zap = ctx.socket(syszmq::REP);
    zap.bind("inproc://zeromq.zap.01");
    thread::spawn(move || {
        let mut seen = Vec::new();
        while seen.len() < n {
            let Some(req) = zap.recv_multipart() else {
                break;
            };
            let ok = req.len() == 7 && req[6] == allowed;
            let (status, user): (&[u8], &[u8]) = if ok {
                (b"200", b"curve-user")
            } else {
                (b"400", b"")
            };
            assert!(zap.send_multipart(&[b"1.0", &req[1], status, b"", user, b""]));
            seen.push(req.get(6).cloned().unwrap_or_default());
        }
        seen
    })
}

#[test]
fn the_system_libzmq_speaks_curve() {
    assert!(
        syszmq::has_curve(),
        "the system's libzmq was built without CURVE"
    );
}

#[test]
fn libzmq_curve_clients_against_a_zsock_curve_server() {
    let dir = tempfile::tempdir().unwrap();
    for ep in endpoints(&dir) {
        let server = curve_keypair();
        let client = curve_keypair();
        let allowed = zsock::z85_decode(&client.public).unwrap();
        let ctx = Context::new();
        ctx.set_authenticator(move |req: &ZapRequest| {
            if req.credentials.len() == 1 && req.credentials[0] == allowed {
                ZapReply::allow("libzmq-client")
            } else {
                ZapReply::refuse(ZapStatus::Denied, "unknown key")
            }
        });
        let mut z = zsock_socket(&ctx, SocketType::Dealer);
        z.set(SocketOption::CurveServer(true)).unwrap();
        z.set(SocketOption::CurveSecretKey(
            (Bytes::copy_from_slice(server.secret.as_bytes())).into(),
        ))
        .unwrap();
        let zmon = z.monitor();
        let bound = z.bind(&ep).unwrap();

        let sys = Ctx::new();
        // Right keys: both ways, multipart with empty and 1 MiB frames.
        let good = sys.socket(syszmq::DEALER);
        good.curve_client(&server.public, &client.public, &client.secret);
        good.connect(&bound);
        let big = big();
        assert!(good.send_multipart(&[b"", b"first", &big, b""]));
        let got = z.recv_multipart(Flags::NONE).unwrap();
        assert_eq!(got, [&b""[..], b"first", &big[..], b""], "{ep}");
        assert_eq!(
            z.peer().unwrap().gets("User-Id").as_deref(),
            Some("libzmq-client")
        );
        z.send_multipart([&b""[..], &big[..], b"back"], Flags::NONE)
            .unwrap();
        assert_eq!(
            good.recv_multipart().unwrap(),
            [&b""[..], &big[..], b"back"]
        );
        assert!(matches!(
            handshake_result(&zmon),
            Event::HandshakeSucceeded { .. }
        ));

        // A client key not allowed: libzmq reports an authentication failure, 400.
        let stranger = curve_keypair();
        let refused = sys.socket(syszmq::DEALER);
        refused.curve_client(&server.public, &stranger.public, &stranger.secret);
        let mon = refused.monitor(
            &sys,
            &format!("mon-refused-{}", ep.len()),
            syszmq::EVENT_HANDSHAKE_FAILED_AUTH as i32,
        );
        refused.connect(&bound);
        assert_eq!(
            mon.event(),
            Some((syszmq::EVENT_HANDSHAKE_FAILED_AUTH, 400)),
            "{ep}"
        );
        match handshake_result(&zmon) {
            Event::HandshakeFailed { auth, .. } => assert_eq!(auth, Some(ZapStatus::Denied)),
            e => panic!("{e}"),
        }

        // A wrong server key: the HELLO does not open, zsock closes without a word.
        let wrong = curve_keypair();
        let lost = sys.socket(syszmq::DEALER);
        lost.curve_client(&wrong.public, &client.public, &client.secret);
        lost.connect(&bound);
        match handshake_result(&zmon) {
            Event::HandshakeFailed { reason, auth, .. } => {
                assert!(reason.contains("HELLO"), "{reason}");
                assert_eq!(auth, None);
            }
            e => panic!("{e}"),
        }
        drop((good, refused, lost, mon));
    }
}

#[test]
fn zsock_curve_clients_against_a_libzmq_curve_server() {
    let dir = tempfile::tempdir().unwrap();
    for ep in endpoints(&dir) {
        let server = curve_keypair();
        let client = curve_keypair();
        let sys = Ctx::new();
        let handler = zap_handler(&sys, zsock::z85_decode(&client.public).unwrap(), 2);
        let s = sys.socket(syszmq::ROUTER);
        s.curve_server(&server.secret);
        s.zap_domain("global");
        let smon = s.monitor(
            &sys,
            &format!("smon-{}", ep.len()),
            (syszmq::EVENT_HANDSHAKE_SUCCEEDED
                | syszmq::EVENT_HANDSHAKE_FAILED_PROTOCOL
                | syszmq::EVENT_HANDSHAKE_FAILED_AUTH
                | syszmq::EVENT_HANDSHAKE_FAILED_NO_DETAIL) as i32,
        );
        let bound = s.bind(&ep);

        let ctx = Context::new();
        let zclient = |keys: &zsock::CurveKeyPair, server_public: &str| {
            let mut z = zsock_socket(&ctx, SocketType::Dealer);
            z.set(SocketOption::CurveServerKey(Bytes::copy_from_slice(
                server_public.as_bytes(),
            )))
            .unwrap();
            z.set(SocketOption::CurveSecretKey(
                (Bytes::copy_from_slice(keys.secret.as_bytes())).into(),
            ))
            .unwrap();
            z
        };

        // Right keys.
        let mut good = zclient(&client, &server.public);
        good.set(SocketOption::RoutingId(Bytes::from_static(b"zsock")))
            .unwrap();
        good.connect(&bound).unwrap();
        let big = big();
        good.send_multipart([&b""[..], &big[..], b""], Flags::NONE)
            .unwrap();
        let got = s.recv_multipart().unwrap();
        assert_eq!(got, [&b"zsock"[..], b"", &big[..], b""], "{ep}");
        assert!(s.send_multipart(&[b"zsock", b"", b"reply", b""]));
        assert_eq!(
            good.recv_multipart(Flags::NONE).unwrap(),
            [&b""[..], b"reply", b""]
        );
        assert_eq!(smon.event(), Some((syszmq::EVENT_HANDSHAKE_SUCCEEDED, 0)));

        // Our key not on the handler's list: refused with 400, which zsock reports.
        let stranger = curve_keypair();
        let refused = zclient(&stranger, &server.public);
        let mon = refused.monitor();
        refused.connect(&bound).unwrap();
        match handshake_result(&mon) {
            Event::HandshakeFailed { auth, .. } => assert_eq!(auth, Some(ZapStatus::Denied)),
            e => panic!("{e}"),
        }
        assert_eq!(
            smon.event(),
            Some((syszmq::EVENT_HANDSHAKE_FAILED_AUTH, 400))
        );

        // A wrong server key: libzmq's HELLO check fails (a cryptographic protocol error).
        let wrong = curve_keypair();
        let lost = zclient(&client, &wrong.public);
        lost.connect(&bound).unwrap();
        let (event, _) = smon.event().expect("libzmq's event for the bad HELLO");
        assert_eq!(event, syszmq::EVENT_HANDSHAKE_FAILED_PROTOCOL, "{ep}");

        let seen = handler.join().unwrap();
        assert_eq!(seen.len(), 2);
        drop((s, smon));
    }
}

#[test]
fn subscriptions_and_heartbeats_cross_curve_with_libzmq() {
    let dir = tempfile::tempdir().unwrap();
    let ep = format!("ipc://{}", dir.path().join("pub").display());
    let server = curve_keypair();
    let client = curve_keypair();
    let ctx = Context::new();
    let mut publisher = zsock_socket(&ctx, SocketType::Pub);
    publisher.set(SocketOption::CurveServer(true)).unwrap();
    publisher
        .set(SocketOption::CurveSecretKey(
            (Bytes::copy_from_slice(server.secret.as_bytes())).into(),
        ))
        .unwrap();
    let pmon = publisher.monitor();
    publisher.bind(&ep).unwrap();
    let sys = Ctx::new();
    let sub = sys.socket(syszmq::SUB);
    sub.curve_client(&server.public, &client.public, &client.secret);
    sub.subscribe(b"weather");
    // libzmq pings every 20 ms and gives up after 150 ms without traffic: only sealed
    // PINGs answered with sealed PONGs keep it connected.
    sub.heartbeat(20, 150);
    let smon = sub.monitor(&sys, "sub-mon", syszmq::EVENT_DISCONNECTED as i32);
    sub.connect(&ep);
    assert!(matches!(
        handshake_result(&pmon),
        Event::HandshakeSucceeded { .. }
    ));
    // The sealed SUBSCRIBE arrives; then only matching messages pass.
    let got = loop {
        publisher.send("sports 0", Flags::NONE).unwrap();
        publisher.send("weather rain", Flags::NONE).unwrap();
        if let Some(m) = sub.try_recv_multipart() {
            break m;
        }
        thread::yield_now();
    };
    assert_eq!(got, [b"weather rain".to_vec()]);
    // Four times libzmq's heartbeat timeout passes without a disconnection.
    assert_eq!(
        smon.event_within(Duration::from_millis(600)),
        None,
        "disconnected"
    );
    drop((sub, smon));
}

/// PLAIN against the same libzmq built with CURVE (the mechanisms share its ZAP client
/// and ERROR paths), both directions, over ipc and tcp.
#[test]
fn plain_both_ways_with_the_curve_built_libzmq() {
    let dir = tempfile::tempdir().unwrap();
    for ep in endpoints(&dir) {
        // libzmq server (a ZAP handler admitting admin/secret), zsock clients.
        let sys = Ctx::new();
        let zap = sys.socket(syszmq::REP);
        zap.bind("inproc://zeromq.zap.01");
        let handler = thread::spawn(move || {
            for _ in 0..2 {
                let Some(req) = zap.recv_multipart() else {
                    break;
                };
                let ok = req.len() == 8 && req[6] == b"admin" && req[7] == b"secret";
                let status: &[u8] = if ok { b"200" } else { b"400" };
                assert!(zap.send_multipart(&[b"1.0", &req[1], status, b"", b"admin", b""]));
            }
        });
        let s = sys.socket(syszmq::PULL);
        s.plain_server();
        let bound = s.bind(&ep);
        let ctx = Context::new();
        let bad = zsock_plain_client(&ctx, SocketType::Push, "admin", "guess");
        let mon = bad.monitor();
        bad.connect(&bound).unwrap();
        match handshake_result(&mon) {
            Event::HandshakeFailed { auth, .. } => {
                assert_eq!(auth, Some(ZapStatus::Denied), "{ep}")
            }
            e => panic!("{e}"),
        }
        let mut good = zsock_plain_client(&ctx, SocketType::Push, "admin", "secret");
        good.connect(&bound).unwrap();
        good.send("plain", Flags::NONE).unwrap();
        assert_eq!(s.recv_multipart().unwrap(), [b"plain".to_vec()]);
        handler.join().unwrap();
        drop(s);

        // zsock server (the ready-made authenticator), libzmq clients.
        let ctx = Context::new();
        ctx.set_authenticator(zsock::Auth::new().plain_user("admin", "secret"));
        let mut pull = zsock_socket(&ctx, SocketType::Pull);
        pull.set(SocketOption::PlainServer(true)).unwrap();
        let bound = pull
            .bind(&ep.replace("plain", "plain2").replace("curve", "curve2"))
            .unwrap();
        let sys = Ctx::new();
        let refused = sys.socket(syszmq::PUSH);
        refused.plain_client("admin", "guess");
        let rmon = refused.monitor(
            &sys,
            &format!("plain-refused-{}", ep.len()),
            syszmq::EVENT_HANDSHAKE_FAILED_AUTH as i32,
        );
        refused.connect(&bound);
        assert_eq!(
            rmon.event(),
            Some((syszmq::EVENT_HANDSHAKE_FAILED_AUTH, 400))
        );
        let push = sys.socket(syszmq::PUSH);
        push.plain_client("admin", "secret");
        push.connect(&bound);
        assert!(push.send_multipart(&[b"from libzmq"]));
        assert_eq!(pull.recv(Flags::NONE).unwrap(), "from libzmq");
        assert_eq!(
            pull.peer().unwrap().gets("User-Id").as_deref(),
            Some("admin")
        );
        drop((refused, rmon, push));
    }
}
