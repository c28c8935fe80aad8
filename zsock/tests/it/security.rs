//! PLAIN and the context's authenticator (ZAP's role) between zsock sockets, over ipc and
//! tcp: admitted peers carry the authenticator's user id, refused ones fail on both sides
//! with the status code in the monitor event, and a server without an authenticator
//! refuses PLAIN clients as libzmq does.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use zsock::{
    Bytes, Context, ErrorKind, Event, Flags, Mechanism, SocketOption, SocketType, ZapReply,
    ZapRequest, ZapStatus,
};

use crate::support::{handshake_result, sock, Dir};

/// An authenticator admitting admin/secret as user "admin-user" (with a property), and
/// recording every request it sees.
fn admin_only(ctx: &Context) -> Arc<Mutex<Vec<ZapRequest>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    ctx.set_authenticator(move |req: &ZapRequest| {
        log.lock().unwrap().push(req.clone());
        if req.credentials == [&b"admin"[..], b"secret"] {
            let mut r = ZapReply::allow("admin-user");
            r.metadata.push(
                Bytes::from_static(b"X-Role"),
                Bytes::from_static(b"operator"),
            );
            r
        } else {
            ZapReply::refuse(ZapStatus::Denied, "wrong password")
        }
    });
    seen
}

fn plain_client(ctx: &Context, t: SocketType, user: &str, pass: &str) -> zsock::Socket {
    let mut s = sock(ctx, t);
    s.set(SocketOption::PlainUsername(Bytes::copy_from_slice(
        user.as_bytes(),
    )))
    .unwrap();
    s.set(SocketOption::PlainPassword(
        (Bytes::copy_from_slice(pass.as_bytes())).into(),
    ))
    .unwrap();
    s
}

fn plain_server(ctx: &Context, t: SocketType) -> zsock::Socket {
    let mut s = sock(ctx, t);
    s.set(SocketOption::PlainServer(true)).unwrap();
    s.set(SocketOption::ZapDomain(Bytes::from_static(b"test")))
        .unwrap();
    s
}

fn plain_round_trip(server_ep: &str, connect_ep: impl Fn(&str) -> String) -> ZapRequest {
    let ctx = Context::new();
    let seen = admin_only(&ctx);
    let mut rep = plain_server(&ctx, SocketType::Rep);
    let bound = rep.bind(server_ep).unwrap();
    let mut req = plain_client(&ctx, SocketType::Req, "admin", "secret");
    req.connect(&connect_ep(&bound)).unwrap();
    req.send("hello", Flags::NONE).unwrap();
    assert_eq!(rep.recv(Flags::NONE).unwrap(), "hello");
    let peer = rep.peer().unwrap();
    assert_eq!(peer.user_id().map(|u| &u[..]), Some(&b"admin-user"[..]));
    assert_eq!(peer.gets("User-Id").as_deref(), Some("admin-user"));
    assert_eq!(peer.gets("X-Role").as_deref(), Some("operator"));
    assert_eq!(peer.socket_type(), Some(SocketType::Req));
    rep.send("world", Flags::NONE).unwrap();
    assert_eq!(req.recv(Flags::NONE).unwrap(), "world");
    // The client authenticated nobody.
    assert_eq!(req.peer().unwrap().user_id(), None);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    seen[0].clone()
}

#[test]
fn plain_over_ipc_admits_with_the_authenticators_user_id() {
    let d = Dir::new();
    let req = plain_round_trip(&d.ep("plain"), |b| b.to_string());
    assert_eq!(req.mechanism, Mechanism::PLAIN);
    assert_eq!(&req.domain[..], b"test");
    // Over ipc the address is the peer's credentials, as libzmq writes them.
    let uid = process_uid();
    let addr = String::from_utf8(req.address.to_vec()).unwrap();
    let parts: Vec<&str> = addr.split(':').collect();
    assert_eq!(parts.len(), 4, "{addr}");
    assert_eq!(parts[0], "localhost");
    assert_eq!(parts[1], uid);
    assert_eq!(parts[3], std::process::id().to_string());
}

/// This process's uid, from /proc (no unsafe, no extra crate).
fn process_uid() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(2).unwrap().to_string()
}

#[test]
fn plain_over_tcp_admits_and_the_address_is_the_peers_ip() {
    let req = plain_round_trip("tcp://127.0.0.1:*", |b| b.to_string());
    assert_eq!(&req.address[..], b"127.0.0.1");
    let req = plain_round_trip("tcp://[::1]:*", |b| b.to_string());
    assert_eq!(&req.address[..], b"::1");
}

#[test]
fn wrong_credentials_fail_both_sides_with_status_400_and_stop_the_client() {
    let ctx = Context::new();
    let seen = admin_only(&ctx);
    let d = Dir::new();
    let rep = plain_server(&ctx, SocketType::Rep);
    let server_mon = rep.monitor();
    rep.bind(&d.ep("s")).unwrap();
    let mut req = plain_client(&ctx, SocketType::Req, "admin", "guess");
    let client_mon = req.monitor();
    req.connect(&d.ep("s")).unwrap();
    for mon in [&server_mon, &client_mon] {
        match handshake_result(mon) {
            Event::HandshakeFailed { auth, reason, .. } => {
                assert_eq!(auth, Some(ZapStatus::Denied), "{reason}");
            }
            e => panic!("{e}"),
        }
    }
    // libzmq gives up on an endpoint whose server refused our credentials: no retry.
    loop {
        match client_mon.next(Some(Duration::from_millis(300))) {
            None => break,
            Some(Event::ConnectRetried { .. }) => panic!("the client tried again"),
            Some(_) => {}
        }
    }
    assert_eq!(seen.lock().unwrap().len(), 1);
    // The client has no peer to send to.
    assert_eq!(
        req.send("x", Flags::DONTWAIT).unwrap_err().kind(),
        ErrorKind::Again
    );
}

#[test]
fn a_temporary_failure_closes_without_error_and_the_client_retries() {
    let ctx = Context::new();
    let calls = Arc::new(Mutex::new(0));
    let n = calls.clone();
    // 300 on the first try, admitted on the second.
    ctx.set_authenticator(move |_: &ZapRequest| {
        let mut n = n.lock().unwrap();
        *n += 1;
        if *n == 1 {
            ZapReply::refuse(ZapStatus::TemporaryFailure, "busy")
        } else {
            ZapReply::allow("u")
        }
    });
    let d = Dir::new();
    let mut pull = plain_server(&ctx, SocketType::Pull);
    pull.bind(&d.ep("s")).unwrap();
    let mut push = plain_client(&ctx, SocketType::Push, "a", "b");
    push.set(SocketOption::ReconnectIvl(10)).unwrap();
    push.connect(&d.ep("s")).unwrap();
    push.send("after retry", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "after retry");
    assert_eq!(*calls.lock().unwrap(), 2);
}

#[test]
fn a_plain_server_without_an_authenticator_refuses_every_client() {
    let ctx = Context::new();
    let d = Dir::new();
    let rep = plain_server(&ctx, SocketType::Rep);
    let mon = rep.monitor();
    rep.bind(&d.ep("s")).unwrap();
    let req = plain_client(&ctx, SocketType::Req, "admin", "secret");
    req.connect(&d.ep("s")).unwrap();
    match handshake_result(&mon) {
        Event::HandshakeFailed { reason, auth, .. } => {
            assert!(reason.contains("authenticator"), "{reason}");
            assert_eq!(auth, None);
        }
        e => panic!("{e}"),
    }
}

#[test]
fn an_authenticator_installed_after_the_socket_applies() {
    let ctx = Context::new();
    let d = Dir::new();
    let mut rep = plain_server(&ctx, SocketType::Rep);
    rep.bind(&d.ep("s")).unwrap();
    let _seen = admin_only(&ctx);
    let mut req = plain_client(&ctx, SocketType::Req, "admin", "secret");
    req.connect(&d.ep("s")).unwrap();
    req.send("late", Flags::NONE).unwrap();
    assert_eq!(rep.recv(Flags::NONE).unwrap(), "late");
    // And removing it refuses the next client.
    ctx.remove_authenticator();
    let other = plain_client(&ctx, SocketType::Req, "admin", "secret");
    let mon = other.monitor();
    other.connect(&d.ep("s")).unwrap();
    assert!(matches!(
        handshake_result(&mon),
        Event::HandshakeFailed { .. }
    ));
}

#[test]
fn a_panicking_authenticator_refuses_with_500_and_the_server_goes_on() {
    let ctx = Context::new();
    ctx.set_authenticator(|req: &ZapRequest| {
        if req.credentials[0] == "boom" {
            panic!("authenticator bug");
        }
        ZapReply::allow("ok")
    });
    let d = Dir::new();
    let mut pull = plain_server(&ctx, SocketType::Pull);
    pull.bind(&d.ep("s")).unwrap();
    let bad = plain_client(&ctx, SocketType::Push, "boom", "x");
    let mon = bad.monitor();
    bad.connect(&d.ep("s")).unwrap();
    match handshake_result(&mon) {
        Event::HandshakeFailed { auth, .. } => assert_eq!(auth, Some(ZapStatus::InternalError)),
        e => panic!("{e}"),
    }
    let mut good = plain_client(&ctx, SocketType::Push, "fine", "x");
    good.connect(&d.ep("s")).unwrap();
    good.send("still serving", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "still serving");
}

#[test]
fn null_with_a_zap_domain_asks_the_authenticator() {
    let ctx = Context::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    ctx.set_authenticator(move |req: &ZapRequest| {
        log.lock().unwrap().push(req.clone());
        if &req.domain[..] == b"open" {
            ZapReply::allow("anonymous")
        } else {
            ZapReply::refuse(ZapStatus::Denied, "closed domain")
        }
    });
    let d = Dir::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::ZapDomain(Bytes::from_static(b"open")))
        .unwrap();
    pull.bind(&d.ep("open")).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect(&d.ep("open")).unwrap();
    push.send("m", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "m");
    assert_eq!(
        pull.peer().unwrap().gets("User-Id").as_deref(),
        Some("anonymous")
    );
    assert_eq!(seen.lock().unwrap()[0].mechanism, Mechanism::NULL);
    assert!(seen.lock().unwrap()[0].credentials.is_empty());

    // A refusing domain: the connecting side learns the status code.
    let mut closed = sock(&ctx, SocketType::Pull);
    closed
        .set(SocketOption::ZapDomain(Bytes::from_static(b"closed")))
        .unwrap();
    closed.bind(&d.ep("closed")).unwrap();
    let push = sock(&ctx, SocketType::Push);
    let mon = push.monitor();
    push.connect(&d.ep("closed")).unwrap();
    match handshake_result(&mon) {
        Event::HandshakeFailed { auth, .. } => assert_eq!(auth, Some(ZapStatus::Denied)),
        e => panic!("{e}"),
    }
}

#[test]
fn null_with_an_enforced_domain_and_no_authenticator_refuses() {
    let ctx = Context::new();
    let d = Dir::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::ZapDomain(Bytes::from_static(b"d")))
        .unwrap();
    // Not enforced: admitted without an authenticator.
    pull.bind(&d.ep("lax")).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect(&d.ep("lax")).unwrap();
    push.send("m", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "m");
    assert_eq!(pull.peer().unwrap().user_id(), None);
    // Enforced: refused.
    let mut strict = sock(&ctx, SocketType::Pull);
    strict
        .set(SocketOption::ZapDomain(Bytes::from_static(b"d")))
        .unwrap();
    strict.set(SocketOption::ZapEnforceDomain(true)).unwrap();
    let mon = strict.monitor();
    strict.bind(&d.ep("strict")).unwrap();
    let push = sock(&ctx, SocketType::Push);
    push.connect(&d.ep("strict")).unwrap();
    assert!(matches!(
        handshake_result(&mon),
        Event::HandshakeFailed { .. }
    ));
}

/// 1,000 PLAIN clients with a wrong password, each a raw connection whose HELLO goes to
/// the authenticator and is refused: the server's memory and descriptors stay flat, and a
/// client with the right password is served afterwards.
#[test]
fn a_thousand_refused_plain_handshakes_leave_memory_and_descriptors_flat() {
    // In a child process of its own: the descriptors and memory counted are this test's.
    crate::reliability::isolated(
        "security::a_thousand_refused_plain_handshakes_leave_memory_and_descriptors_flat",
        || {
            use crate::curve::{path_of, raw_handshake, thousand_failures_leave_fds_and_rss_flat};
            let d = Dir::new();
            let ctx = Context::new();
            // (Keeps nothing per request, so what is counted is the socket's.)
            ctx.set_authenticator(|req: &ZapRequest| {
                if req.credentials == [&b"admin"[..], b"secret"] {
                    ZapReply::allow("admin-user")
                } else {
                    ZapReply::refuse(ZapStatus::Denied, "wrong password")
                }
            });
            let mut pull = plain_server(&ctx, SocketType::Pull);
            let ep = pull.bind(&d.ep("plain")).unwrap();
            let path = path_of(&ep);
            thousand_failures_leave_fds_and_rss_flat(|| {
                let wrong = zmtp_codec::Security::PlainClient {
                    username: Bytes::from_static(b"admin"),
                    password: Bytes::from_static(b"wrong"),
                };
                assert!(raw_handshake(&path, wrong).is_none());
            });
            let mut good = plain_client(&ctx, SocketType::Push, "admin", "secret");
            good.connect(&ep).unwrap();
            good.send("served", Flags::NONE).unwrap();
            assert_eq!(pull.recv(Flags::NONE).unwrap(), "served");
        },
    );
}

#[test]
fn plain_and_null_peers_do_not_talk() {
    let ctx = Context::new();
    let _seen = admin_only(&ctx);
    let d = Dir::new();
    let rep = plain_server(&ctx, SocketType::Rep);
    let mon = rep.monitor();
    rep.bind(&d.ep("s")).unwrap();
    let req = sock(&ctx, SocketType::Req);
    req.connect(&d.ep("s")).unwrap();
    match handshake_result(&mon) {
        Event::HandshakeFailed { reason, .. } => assert!(reason.contains("NULL"), "{reason}"),
        e => panic!("{e}"),
    }
}

#[test]
fn plain_options_read_back_and_check_their_lengths() {
    let ctx = Context::new();
    let mut s = sock(&ctx, SocketType::Req);
    assert_eq!(s.mechanism(), Mechanism::NULL);
    s.set(SocketOption::PlainUsername(Bytes::from_static(b"me")))
        .unwrap();
    assert_eq!(s.mechanism(), Mechanism::PLAIN);
    assert!(!s.plain_server());
    assert_eq!(&s.plain_username()[..], b"me");
    let long = Bytes::from(vec![b'x'; 256]);
    for opt in [
        SocketOption::PlainUsername(long.clone()),
        SocketOption::PlainPassword(long.clone().into()),
        SocketOption::ZapDomain(long),
    ] {
        assert_eq!(s.set(opt).unwrap_err().kind(), ErrorKind::Invalid);
    }
    s.set(SocketOption::PlainServer(true)).unwrap();
    assert!(s.plain_server());
    s.set(SocketOption::PlainServer(false)).unwrap();
    assert_eq!(s.mechanism(), Mechanism::NULL);
    s.set(SocketOption::PlainUsername(Bytes::from_static(b"me")))
        .unwrap();
    s.set(SocketOption::PlainUsername(Bytes::new())).unwrap();
    assert_eq!(s.mechanism(), Mechanism::NULL);
    assert_eq!(
        SocketOption::parse("zap_domain", "global").unwrap(),
        SocketOption::ZapDomain(Bytes::from_static(b"global"))
    );
    assert_eq!(
        SocketOption::parse("ZMQ_PLAIN_SERVER", "1").unwrap(),
        SocketOption::PlainServer(true)
    );
}

// ----- a ZAP handler socket at inproc://zeromq.zap.01 (libzmq's way) -----

/// A REP handler bound at `inproc://zeromq.zap.01` answering `n` requests: admits
/// admin/secret as "admin-user" (PLAIN) and anything else with a non-PLAIN mechanism;
/// returns the requests it saw.
fn rep_handler(ctx: &Context, n: usize) -> std::thread::JoinHandle<Vec<Vec<Bytes>>> {
    let mut zap = sock(ctx, SocketType::Rep);
    zap.bind("inproc://zeromq.zap.01").unwrap();
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        for _ in 0..n {
            let req = zap.recv_multipart(Flags::NONE).unwrap();
            let ok =
                req[5] != "PLAIN" || (req.len() == 8 && req[6] == "admin" && req[7] == "secret");
            let (status, user): (&[u8], &[u8]) = if ok {
                (b"200", b"admin-user")
            } else {
                (b"400", b"")
            };
            zap.send_multipart(
                [
                    &b"1.0"[..],
                    &req[1],
                    status,
                    b"OK",
                    user,
                    b"\x06X-Zone\x00\x00\x00\x04blue",
                ],
                Flags::NONE,
            )
            .unwrap();
            seen.push(req);
        }
        seen
    })
}

#[test]
fn a_zap_handler_socket_authenticates_plain_clients() {
    let ctx = Context::new();
    let handler = rep_handler(&ctx, 2);
    let d = Dir::new();
    let mut rep = plain_server(&ctx, SocketType::Rep);
    let server_mon = rep.monitor();
    rep.bind(&d.ep("s")).unwrap();
    // Refused first: 400 on both sides.
    let bad = plain_client(&ctx, SocketType::Req, "admin", "guess");
    let bad_mon = bad.monitor();
    bad.connect(&d.ep("s")).unwrap();
    for mon in [&server_mon, &bad_mon] {
        match handshake_result(mon) {
            Event::HandshakeFailed { auth, .. } => assert_eq!(auth, Some(ZapStatus::Denied)),
            e => panic!("{e}"),
        }
    }
    // Admitted: the handler's user id and properties are on the client's messages.
    let mut req = plain_client(&ctx, SocketType::Req, "admin", "secret");
    req.connect(&d.ep("s")).unwrap();
    req.send("hello", Flags::NONE).unwrap();
    assert_eq!(rep.recv(Flags::NONE).unwrap(), "hello");
    let peer = rep.peer().unwrap();
    assert_eq!(peer.gets("User-Id").as_deref(), Some("admin-user"));
    assert_eq!(peer.gets("X-Zone").as_deref(), Some("blue"));
    rep.send("world", Flags::NONE).unwrap();
    assert_eq!(req.recv(Flags::NONE).unwrap(), "world");
    let seen = handler.join().unwrap();
    // 27/ZAP's request, as a REP handler sees it: version, id, domain, address,
    // identity, mechanism, user name, password.
    let r = &seen[1];
    assert_eq!(r.len(), 8);
    assert_eq!(r[0], "1.0");
    assert_eq!(r[2], "test");
    assert!(r[3].starts_with(b"localhost:"), "{:?}", r[3]);
    assert_eq!(r[5], "PLAIN");
    assert_ne!(seen[0][1], seen[1][1], "each request has its own id");
}

#[test]
fn a_router_handler_answers_many_handshakes_at_once() {
    let ctx = Context::new();
    let mut zap = sock(&ctx, SocketType::Router);
    zap.bind("inproc://zeromq.zap.01").unwrap();
    let d = Dir::new();
    let mut pull = plain_server(&ctx, SocketType::Pull);
    pull.bind(&d.ep("s")).unwrap();
    let mut pushes = Vec::new();
    for i in 0..5 {
        let mut push = plain_client(&ctx, SocketType::Push, "admin", "secret");
        push.connect(&d.ep("s")).unwrap();
        push.send(format!("m{i}"), Flags::NONE).unwrap();
        pushes.push(push);
    }
    // Take all five requests before answering any: the handshakes wait meanwhile.
    let mut requests = Vec::new();
    for _ in 0..5 {
        requests.push(zap.recv_multipart(Flags::NONE).unwrap());
    }
    for req in requests.iter().rev() {
        // [routing id, delimiter, version, id, ...]
        zap.send_multipart(
            [&req[0][..], b"", b"1.0", &req[3], b"200", b"", b"u", b""],
            Flags::NONE,
        )
        .unwrap();
    }
    let mut got: Vec<String> = (0..5)
        .map(|_| String::from_utf8(pull.recv(Flags::NONE).unwrap().to_vec()).unwrap())
        .collect();
    got.sort();
    assert_eq!(got, ["m0", "m1", "m2", "m3", "m4"]);
}

#[test]
fn a_silent_or_malformed_handler_fails_the_handshake() {
    let ctx = Context::new();
    let mut zap = sock(&ctx, SocketType::Rep);
    zap.bind("inproc://zeromq.zap.01").unwrap();
    let d = Dir::new();
    let mut rep = plain_server(&ctx, SocketType::Rep);
    rep.set(SocketOption::HandshakeIvl(200)).unwrap();
    let mon = rep.monitor();
    rep.bind(&d.ep("s")).unwrap();
    // Silent: the handshake's deadline ends it.
    let quiet = plain_client(&ctx, SocketType::Req, "admin", "secret");
    quiet.connect(&d.ep("s")).unwrap();
    let req = zap.recv_multipart(Flags::NONE).unwrap();
    match handshake_result(&mon) {
        Event::HandshakeFailed { reason, .. } => {
            // (It says what it was waiting for.)
            assert!(
                reason.contains("in time") && reason.contains("ZAP handler"),
                "{reason}"
            )
        }
        e => panic!("{e}"),
    }
    // A late reply to it is ignored; then a malformed one (a bad status code).
    zap.send_multipart([&b"1.0"[..], &req[1], b"200", b"", b"", b""], Flags::NONE)
        .unwrap();
    let odd = plain_client(&ctx, SocketType::Req, "admin", "secret");
    odd.connect(&d.ep("s")).unwrap();
    let req = zap.recv_multipart(Flags::NONE).unwrap();
    zap.send_multipart([&b"1.0"[..], &req[1], b"299", b"", b"", b""], Flags::NONE)
        .unwrap();
    match handshake_result(&mon) {
        Event::HandshakeFailed { reason, .. } => assert!(reason.contains("status"), "{reason}"),
        e => panic!("{e}"),
    }
}

#[test]
fn an_installed_authenticator_is_asked_before_a_handler_socket() {
    let ctx = Context::new();
    let mut zap = sock(&ctx, SocketType::Rep);
    zap.bind("inproc://zeromq.zap.01").unwrap();
    let _seen = admin_only(&ctx);
    let d = Dir::new();
    let mut rep = plain_server(&ctx, SocketType::Rep);
    rep.bind(&d.ep("s")).unwrap();
    let mut req = plain_client(&ctx, SocketType::Req, "admin", "secret");
    req.connect(&d.ep("s")).unwrap();
    req.send("x", Flags::NONE).unwrap();
    assert_eq!(rep.recv(Flags::NONE).unwrap(), "x");
    assert_eq!(
        zap.recv(Flags::DONTWAIT).unwrap_err().kind(),
        ErrorKind::Again,
        "the handler socket was not asked"
    );
}

#[test]
fn the_ready_made_auth_admits_plain_users_and_refuses_denied_addresses() {
    let ctx = Context::new();
    ctx.set_authenticator(zsock::Auth::new().deny("::1").plain_user("admin", "secret"));
    let mut pull = plain_server(&ctx, SocketType::Pull);
    let v4 = pull.bind("tcp://127.0.0.1:*").unwrap();
    let v6 = pull.bind("tcp://[::1]:*").unwrap();
    // From a denied address: refused, whatever the password.
    let denied = plain_client(&ctx, SocketType::Push, "admin", "secret");
    let mon = denied.monitor();
    denied.connect(&v6).unwrap();
    match handshake_result(&mon) {
        Event::HandshakeFailed { auth, .. } => assert_eq!(auth, Some(ZapStatus::Denied)),
        e => panic!("{e}"),
    }
    let mut push = plain_client(&ctx, SocketType::Push, "admin", "secret");
    push.connect(&v4).unwrap();
    push.send("in", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "in");
    assert_eq!(
        pull.peer().unwrap().gets("User-Id").as_deref(),
        Some("admin")
    );
}

#[test]
fn a_peer_cannot_pass_off_the_authenticators_properties() {
    use std::io::{Read, Write};
    let ctx = Context::new();
    ctx.set_authenticator(|_: &ZapRequest| {
        let mut r = ZapReply::allow("alice");
        r.metadata
            .push(Bytes::from_static(b"X-Role"), Bytes::from_static(b"user"));
        r
    });
    let d = Dir::new();
    let mut pull = plain_server(&ctx, SocketType::Pull);
    let ep = pull.bind(&d.ep("s")).unwrap();
    // A hand-made PLAIN client whose INITIATE claims the role and the user id.
    let path = ep.strip_prefix("ipc://").unwrap();
    let mut s = std::os::unix::net::UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut cfg = zmtp_codec::HandshakeConfig::new(SocketType::Push);
    cfg.security = zmtp_codec::Security::plain_client(&b"alice"[..], &b"pw"[..]).unwrap();
    cfg.metadata = zmtp_codec::Metadata::new()
        .with(Bytes::from_static(b"X-Role"), Bytes::from_static(b"admin"))
        .with(Bytes::from_static(b"User-Id"), Bytes::from_static(b"root"));
    let mut hs = zmtp_codec::Handshake::new(cfg, std::time::Instant::now());
    let mut src = bytes::BytesMut::new();
    loop {
        let mut out = bytes::BytesMut::new();
        hs.poll_transmit(&mut out);
        s.write_all(&out).unwrap();
        if let Some(zmtp_codec::Event::Completed(_)) = hs.poll_event() {
            break;
        }
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0);
        src.extend_from_slice(&buf[..n]);
        hs.handle_input(&mut src).unwrap();
    }
    s.write_all(b"\x00\x02hi").unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "hi");
    let peer = pull.peer().unwrap();
    assert_eq!(peer.gets("X-Role").as_deref(), Some("user"));
    assert_eq!(peer.gets("User-Id").as_deref(), Some("alice"));
    assert_eq!(
        peer.property("User-Id").map(|v| &v[..]),
        Some(&b"alice"[..])
    );
    assert_eq!(peer.property("x-role").map(|v| &v[..]), Some(&b"user"[..]));
}

/// An authenticator that takes its time (here: until the test lets it go) holds only the
/// handshakes waiting for it: another socket of the same context, on the same I/O thread,
/// still accepts a new peer and takes its messages meanwhile. Then the held handshake
/// completes with the verdict.
#[test]
fn a_slow_authenticator_holds_no_other_socket_of_the_context() {
    let ctx = Context::new();
    ctx.set_io_threads(1).unwrap();
    let (entered_tx, entered) = std::sync::mpsc::channel::<()>();
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let gate = Mutex::new(gate);
    let entered_tx = Mutex::new(entered_tx);
    ctx.set_authenticator(move |_: &ZapRequest| {
        entered_tx.lock().unwrap().send(()).unwrap();
        gate.lock().unwrap().recv().unwrap();
        ZapReply::allow("late")
    });
    let mut server = plain_server(&ctx, SocketType::Pull);
    let ep = server.bind("tcp://127.0.0.1:*").unwrap();
    let mut client = plain_client(&ctx, SocketType::Push, "u", "p");
    client.connect(&ep).unwrap();
    entered
        .recv_timeout(crate::options::LONG)
        .expect("the authenticator is asked");
    // Meanwhile: a plain NULL pair of the same context, made and used from scratch.
    let mut pull = sock(&ctx, SocketType::Pull);
    let other = pull.bind("tcp://127.0.0.1:*").unwrap();
    let outside = Context::new();
    let mut push = sock(&outside, SocketType::Push);
    push.set(SocketOption::Linger(0)).unwrap();
    push.connect(&other).unwrap();
    pull.set(SocketOption::RcvTimeo(
        crate::options::LONG.as_millis() as i32
    ))
    .unwrap();
    let mut got = Vec::new();
    for i in 0..10 {
        push.send(format!("m{i}"), Flags::NONE).unwrap();
        let m = pull.recv(Flags::NONE);
        let failed = m.is_err();
        got.push(m);
        if failed {
            break;
        }
    }
    // (Let go before any assertion: a failure must not leave the authenticator waiting.)
    release.send(()).unwrap();
    for (i, m) in got.into_iter().enumerate() {
        let m = m.unwrap_or_else(|e| panic!("message {i} while the authenticator waits: {e}"));
        assert_eq!(m, format!("m{i}"));
    }
    client.send("admitted", Flags::NONE).unwrap();
    assert_eq!(server.recv(Flags::NONE).unwrap(), "admitted");
    assert_eq!(
        server.peer().unwrap().user_id().map(|u| u.to_vec()),
        Some(b"late".to_vec())
    );
}
