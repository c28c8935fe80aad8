//! Two handshake machines wired together in memory, in the style of quinn-proto's `Pair`.

use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use zmtp_codec::curve::CurveSecretKey;
use zmtp_codec::{
    Command, Decoder, Event, Greeting, Handshake, HandshakeConfig, HandshakeError, Item, Limits,
    Mechanism, PeerInfo, Security, SocketType, ZapReply, ZapRequest, ZapStatus,
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

// ----- PLAIN (24/ZMTP-PLAIN) and authentication -----

/// Runs two configured machines until neither makes progress, answering each
/// authentication request with `auth` (`None`: no authenticator). Bytes move in chunks of
/// `chunk`; returns both sides and the requests the authenticator saw.
fn run_configured(
    cfgs: [HandshakeConfig; 2],
    chunk: usize,
    auth: &dyn Fn(&ZapRequest) -> Option<ZapReply>,
) -> ([Side; 2], Vec<ZapRequest>) {
    let now = Instant::now();
    let mut sides = cfgs.map(|cfg| Side {
        hs: Handshake::new(cfg, now),
        inbox: BytesMut::new(),
        result: None,
        sent: BytesMut::new(),
    });
    let mut asked = Vec::new();
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
                if other.result.is_some() {
                    continue;
                }
                let mut r = other.hs.handle_input(&mut other.inbox);
                while r.is_ok() {
                    match other.hs.poll_event() {
                        Some(Event::Authenticate(req)) => {
                            r = match auth(&req) {
                                Some(reply) => other.hs.authenticated(reply),
                                None => other.hs.no_authenticator(),
                            };
                            asked.push(req);
                            if r.is_ok() {
                                r = other.hs.handle_input(&mut other.inbox);
                            }
                        }
                        Some(Event::Completed(p)) => {
                            other.result = Some(Ok(p));
                            break;
                        }
                        None => break,
                    }
                }
                if let Err(e) = r {
                    other.result = Some(Err(e));
                }
            }
        }
        if !progress {
            return (sides, asked);
        }
    }
}

fn plain(user: &str, pass: &str) -> [HandshakeConfig; 2] {
    let mut client = HandshakeConfig::new(SocketType::Req);
    client.identity = Bytes::from_static(b"client-id");
    client.security = Security::plain_client(user.to_owned(), pass.to_owned()).unwrap();
    let mut server = HandshakeConfig::new(SocketType::Rep);
    server.security = Security::PlainServer;
    server.zap_domain = Bytes::from_static(b"test");
    [client, server]
}

fn admin_only(req: &ZapRequest) -> Option<ZapReply> {
    Some(if req.credentials == [&b"admin"[..], b"password"] {
        let mut r = ZapReply::allow("admin-user");
        r.metadata
            .push(Bytes::from_static(b"Hello"), Bytes::from_static(b"World"));
        r
    } else {
        ZapReply::refuse(ZapStatus::Denied, "bad password")
    })
}

/// The commands one side sent, after its greeting.
fn commands_sent(side: &Side) -> Vec<Command> {
    let mut sent = side.sent.clone();
    let mut dec = Decoder::new(Limits::default());
    dec.set_raw_commands(true); // CURVE's READY holds a box
    let mut out = Vec::new();
    while let Some(item) = dec.decode(&mut sent).unwrap() {
        if let Item::Command(c) = item {
            out.push(c);
        }
    }
    out
}

#[test]
fn plain_completes_with_the_authenticators_user_id_at_every_split() {
    for chunk in [1, 3, 7, 64, 4096] {
        let ([client, server], asked) =
            run_configured(plain("admin", "password"), chunk, &admin_only);
        let c = client.result.clone().unwrap().unwrap();
        let s = server.result.clone().unwrap().unwrap();
        assert_eq!(c.socket_type, Some(SocketType::Rep));
        assert_eq!(c.user_id, None, "the client authenticates nobody");
        assert_eq!(s.socket_type, Some(SocketType::Req));
        assert_eq!(s.identity.as_deref(), Some(&b"client-id"[..]));
        assert_eq!(s.user_id.as_deref(), Some(&b"admin-user"[..]));
        assert_eq!(
            s.zap_metadata.get("hello").map(|v| &v[..]),
            Some(&b"World"[..])
        );
        assert_eq!(asked.len(), 1);
        let req = &asked[0];
        assert_eq!(req.mechanism, Mechanism::PLAIN);
        assert_eq!(&req.domain[..], b"test");
        assert!(client.inbox.is_empty() && server.inbox.is_empty());
        // 24/ZMTP-PLAIN's order: HELLO, WELCOME, INITIATE, READY.
        let names = |side: &Side| -> Vec<Vec<u8>> {
            commands_sent(side)
                .iter()
                .map(|c| c.name().to_vec())
                .collect()
        };
        assert_eq!(names(&client), [b"HELLO".to_vec(), b"INITIATE".to_vec()]);
        assert_eq!(names(&server), [b"WELCOME".to_vec(), b"READY".to_vec()]);
        // The greetings: PLAIN, the server with as-server set.
        assert_eq!(&client.sent[12..17], b"PLAIN");
        assert_eq!(
            (client.sent[32], server.sent[32]),
            (0, 1),
            "23/ZMTP's as-server"
        );
    }
}

#[test]
fn plain_with_wrong_credentials_fails_both_sides_with_the_status_code() {
    for (status, error_sent) in [
        (ZapStatus::Denied, true),
        (ZapStatus::InternalError, true),
        (ZapStatus::TemporaryFailure, false),
    ] {
        let auth = |_: &ZapRequest| Some(ZapReply::refuse(status, "no"));
        let ([client, server], _) = run_configured(plain("admin", "wrong"), 5, &auth);
        assert_eq!(
            server.result.clone().unwrap(),
            Err(HandshakeError::Refused {
                status,
                text: "no".into()
            })
        );
        let sent = commands_sent(&server);
        if error_sent {
            // An ERROR with the status code, nothing else (no WELCOME, no READY).
            assert_eq!(
                sent,
                [Command::Error {
                    reason: Bytes::copy_from_slice(status.as_bytes())
                }]
            );
            assert_eq!(
                client.result.clone().unwrap(),
                Err(HandshakeError::AuthFailed { status })
            );
        } else {
            // 300: the connection just closes; the client is still waiting.
            assert!(sent.is_empty());
            assert!(client.result.is_none());
        }
    }
}

#[test]
fn plain_without_an_authenticator_fails_the_server() {
    let ([client, server], asked) = run_configured(plain("a", "b"), 64, &|_| None);
    assert_eq!(asked.len(), 1);
    assert_eq!(
        server.result.clone().unwrap(),
        Err(HandshakeError::NoAuthenticator {
            mechanism: "PLAIN".into()
        })
    );
    assert!(commands_sent(&server).is_empty());
    assert!(client.result.is_none());
}

#[test]
fn plain_refuses_null_peers_and_same_role_peers() {
    let [client, server] = plain("a", "b");
    let null = HandshakeConfig::new(SocketType::Rep);
    let ([a, b], _) = run_configured([client.clone(), null], 64, &admin_only);
    assert_eq!(
        a.result.clone().unwrap(),
        Err(HandshakeError::MechanismMismatch {
            ours: "PLAIN".into(),
            theirs: "NULL".into()
        })
    );
    assert!(matches!(
        b.result.clone().unwrap(),
        Err(HandshakeError::MechanismMismatch { .. })
    ));
    // Two clients: libzmq leaves as-server zero, so the greeting cannot tell; each sees
    // the other's HELLO where it waits for WELCOME, and says what that means.
    let ([a, b], _) = run_configured([client.clone(), client], 64, &admin_only);
    for side in [a, b] {
        assert_eq!(
            side.result.clone().unwrap(),
            Err(HandshakeError::BothClients {
                mechanism: "PLAIN".into()
            })
        );
    }
    let ([a, _], _) = run_configured([server.clone(), server], 64, &admin_only);
    assert_eq!(
        a.result.clone().unwrap(),
        Err(HandshakeError::RoleMismatch {
            mechanism: "PLAIN".into()
        })
    );
}

#[test]
fn plain_server_checks_socket_types_after_authentication() {
    let [mut client, server] = plain("admin", "password");
    client.socket_type = SocketType::Push;
    let ([_, s], asked) = run_configured([client, server], 64, &admin_only);
    assert_eq!(asked.len(), 1);
    assert_eq!(
        s.result.clone().unwrap(),
        Err(HandshakeError::IncompatibleSocketType {
            ours: SocketType::Rep,
            theirs: SocketType::Push
        })
    );
}

#[test]
fn null_with_a_zap_domain_asks_before_ready_and_obeys_the_answer() {
    let cfg = |t| {
        let mut c = HandshakeConfig::new(t);
        c.zap_domain = Bytes::from_static(b"dom");
        c
    };
    // Admitted: both sides asked (each has the domain), and each has a user id.
    let allow = |_: &ZapRequest| Some(ZapReply::allow("u"));
    let ([a, b], asked) = run_configured([cfg(SocketType::Push), cfg(SocketType::Pull)], 3, &allow);
    assert_eq!(asked.len(), 2);
    assert!(asked
        .iter()
        .all(|r| r.mechanism == Mechanism::NULL && r.credentials.is_empty()));
    assert_eq!(
        a.result.clone().unwrap().unwrap().user_id.as_deref(),
        Some(&b"u"[..])
    );
    assert_eq!(
        b.result.clone().unwrap().unwrap().user_id.as_deref(),
        Some(&b"u"[..])
    );
    // Refused: ERROR 400 instead of READY.
    let deny = |_: &ZapRequest| Some(ZapReply::refuse(ZapStatus::Denied, "no"));
    let plain_null = HandshakeConfig::new(SocketType::Pull);
    let ([a, b], _) = run_configured([cfg(SocketType::Push), plain_null], 64, &deny);
    assert!(matches!(
        a.result,
        Some(Err(HandshakeError::Refused { .. }))
    ));
    assert_eq!(
        commands_sent(&a),
        [Command::Error {
            reason: Bytes::from_static(b"400")
        }]
    );
    assert_eq!(
        b.result.clone().unwrap(),
        Err(HandshakeError::AuthFailed {
            status: ZapStatus::Denied
        })
    );
    // No authenticator: admitted, unless the domain is enforced.
    let ([a, _], _) = run_configured([cfg(SocketType::Push), cfg(SocketType::Pull)], 64, &|_| {
        None
    });
    assert_eq!(a.result.clone().unwrap().unwrap().user_id, None);
    let mut enforced = cfg(SocketType::Push);
    enforced.zap_enforce_domain = true;
    let ([a, _], _) = run_configured([enforced, cfg(SocketType::Pull)], 64, &|_| None);
    assert!(matches!(
        a.result,
        Some(Err(HandshakeError::NoAuthenticator { .. }))
    ));
}

#[test]
fn malformed_plain_commands_fail_the_handshake() {
    let [client, server] = plain("a", "b");
    let now = Instant::now();
    let greeting = |as_server: bool| {
        let mut g = BytesMut::from(&Greeting::ours().to_bytes()[..]);
        g[12..17].copy_from_slice(b"PLAIN");
        g[32] = u8::from(as_server);
        g
    };
    let command = |name: &'static [u8], body: &'static [u8]| {
        let mut b = BytesMut::new();
        Command::Unknown {
            name: Bytes::from_static(name),
            body: Bytes::from_static(body),
        }
        .encode(&mut b);
        b
    };
    // A server given a HELLO with a password length past the end.
    let mut hs = Handshake::new(server.clone(), now);
    let mut input = greeting(false);
    input.extend_from_slice(&command(b"HELLO", b"\x01a\x09b"));
    assert_eq!(
        hs.handle_input(&mut input),
        Err(HandshakeError::MalformedCommand {
            name: "HELLO".into()
        })
    );
    // A server given INITIATE before HELLO.
    let mut hs = Handshake::new(server.clone(), now);
    let mut input = greeting(false);
    input.extend_from_slice(&command(b"INITIATE", b""));
    assert_eq!(
        hs.handle_input(&mut input),
        Err(HandshakeError::UnexpectedCommand {
            name: "INITIATE".into()
        })
    );
    // A server given data before anything.
    let mut hs = Handshake::new(server, now);
    let mut input = greeting(false);
    input.extend_from_slice(b"\x00\x01x");
    assert_eq!(
        hs.handle_input(&mut input),
        Err(HandshakeError::DataBeforeReady)
    );
    // A client given a WELCOME with a body, and READY before WELCOME.
    let mut hs = Handshake::new(client.clone(), now);
    let mut input = greeting(true);
    input.extend_from_slice(&command(b"WELCOME", b"x"));
    assert_eq!(
        hs.handle_input(&mut input),
        Err(HandshakeError::MalformedCommand {
            name: "WELCOME".into()
        })
    );
    let mut hs = Handshake::new(client, now);
    let mut input = greeting(true);
    Command::Ready(zmtp_codec::Metadata::new()).encode(&mut input);
    assert_eq!(
        hs.handle_input(&mut input),
        Err(HandshakeError::UnexpectedCommand {
            name: "READY".into()
        })
    );
}

#[test]
fn a_pending_authentication_still_times_out() {
    let now = Instant::now();
    let [_, server] = plain("a", "b");
    let mut hs = Handshake::new(server, now);
    let mut input = BytesMut::from(&Greeting::ours().to_bytes()[..]);
    input[12..17].copy_from_slice(b"PLAIN");
    Command::Unknown {
        name: Bytes::from_static(b"HELLO"),
        body: Bytes::from_static(b"\x01a\x01b"),
    }
    .encode(&mut input);
    hs.handle_input(&mut input).unwrap();
    assert!(matches!(hs.poll_event(), Some(Event::Authenticate(_))));
    assert_eq!(hs.poll_timeout(), Some(now + Duration::from_secs(30)));
    assert_eq!(
        hs.handle_timeout(now + Duration::from_secs(30)),
        Err(HandshakeError::Timeout)
    );
    // A late answer changes nothing.
    hs.authenticated(ZapReply::allow("x")).unwrap();
    assert!(hs.is_failed());
}

// ----- CURVE (26/CurveZMQ) -----

fn curve(server_key: Option<[u8; 32]>) -> ([HandshakeConfig; 2], [u8; 32]) {
    let server_secret = CurveSecretKey::generate();
    let client_secret = CurveSecretKey::generate();
    let client_public = client_secret.public_key();
    let mut client = HandshakeConfig::new(SocketType::Dealer);
    client.identity = Bytes::from_static(b"curvy");
    client.security = Security::CurveClient {
        server: server_key.unwrap_or_else(|| server_secret.public_key()),
        public: None,
        secret: client_secret,
    };
    let mut server = HandshakeConfig::new(SocketType::Router);
    server.security = Security::CurveServer {
        secret: server_secret,
    };
    ([client, server], client_public)
}

#[test]
fn curve_completes_at_every_split_and_the_sessions_talk() {
    for chunk in [1, 5, 64, 4096] {
        let (cfgs, client_public) = curve(None);
        let auth =
            |req: &ZapRequest| Some(ZapReply::allow(format!("{}", req.credentials[0].len())));
        let ([mut client, mut server], asked) = run_configured(cfgs, chunk, &auth);
        let c = client.result.clone().unwrap().unwrap();
        let s = server.result.clone().unwrap().unwrap();
        assert_eq!(c.socket_type, Some(SocketType::Router));
        assert_eq!(s.identity.as_deref(), Some(&b"curvy"[..]));
        assert_eq!(s.user_id.as_deref(), Some(&b"32"[..]));
        assert_eq!(asked.len(), 1);
        assert_eq!(asked[0].mechanism, Mechanism::CURVE);
        assert_eq!(
            asked[0].credentials,
            [Bytes::copy_from_slice(&client_public)]
        );
        assert!(client.inbox.is_empty() && server.inbox.is_empty());
        let names = |side: &Side| -> Vec<Vec<u8>> {
            commands_sent(side)
                .iter()
                .map(|c| c.name().to_vec())
                .collect()
        };
        assert_eq!(names(&client), [b"HELLO".to_vec(), b"INITIATE".to_vec()]);
        assert_eq!(names(&server), [b"WELCOME".to_vec(), b"READY".to_vec()]);
        assert_eq!(&client.sent[12..17], b"CURVE");
        // 26/CurveZMQ's sizes: HELLO 200 bytes, WELCOME 168.
        let sizes: Vec<usize> = commands_sent(&client)
            .iter()
            .chain(commands_sent(&server).iter())
            .map(|c| c.body_len())
            .collect();
        assert_eq!((sizes[0], sizes[2]), (200, 168));
        let mut cs = client.hs.take_curve_session().expect("a client session");
        let mut ss = server.hs.take_curve_session().expect("a server session");
        let mut wire = BytesMut::new();
        cs.seal_frame(false, false, b"secret", &mut wire);
        assert!(!wire.windows(6).any(|w| w == b"secret"), "sealed");
        let body = wire.split_off(2);
        assert_eq!(&ss.open(&body).unwrap().body[..], b"secret");
    }
}

#[test]
fn curve_with_a_wrong_server_key_fails_at_hello_without_error() {
    let wrong = CurveSecretKey::generate().public_key();
    let (cfgs, _) = curve(Some(wrong));
    let ([client, server], asked) = run_configured(cfgs, 64, &|_| Some(ZapReply::allow("x")));
    assert!(asked.is_empty());
    assert!(matches!(
        server.result,
        Some(Err(HandshakeError::Curve(
            zmtp_codec::curve::CurveError::Crypto("HELLO")
        )))
    ));
    assert!(commands_sent(&server).is_empty(), "no WELCOME, no ERROR");
    assert!(
        client.result.is_none(),
        "the client sees the connection close"
    );
}

#[test]
fn curve_refusals_and_a_missing_authenticator_go_as_libzmq_does() {
    let (cfgs, _) = curve(None);
    let deny = |_: &ZapRequest| Some(ZapReply::refuse(ZapStatus::Denied, "not on the list"));
    let ([client, server], _) = run_configured(cfgs, 64, &deny);
    assert!(matches!(
        server.result,
        Some(Err(HandshakeError::Refused {
            status: ZapStatus::Denied,
            ..
        }))
    ));
    assert_eq!(
        client.result.clone().unwrap(),
        Err(HandshakeError::AuthFailed {
            status: ZapStatus::Denied
        })
    );
    // No authenticator: admitted without a user id, unless the domain is enforced.
    let (cfgs, _) = curve(None);
    let ([client, server], _) = run_configured(cfgs, 64, &|_| None);
    assert!(client.result.clone().unwrap().is_ok());
    assert_eq!(server.result.clone().unwrap().unwrap().user_id, None);
    let ([c, mut s], _) = curve(None);
    s.zap_enforce_domain = true;
    let ([_, server], _) = run_configured([c, s], 64, &|_| None);
    assert!(matches!(
        server.result,
        Some(Err(HandshakeError::NoAuthenticator { .. }))
    ));
}

#[test]
fn two_curve_clients_are_told_so() {
    let ([client, _], _) = curve(None);
    let ([a, b], _) = run_configured([client.clone(), client], 64, &admin_only);
    for side in [a, b] {
        assert_eq!(
            side.result.clone().unwrap(),
            Err(HandshakeError::BothClients {
                mechanism: "CURVE".into()
            })
        );
    }
}

#[test]
fn curve_and_other_mechanisms_do_not_mix() {
    let ([client, _], _) = curve(None);
    let null = HandshakeConfig::new(SocketType::Router);
    let ([a, _], _) = run_configured([client, null], 64, &|_| None);
    assert_eq!(
        a.result.clone().unwrap(),
        Err(HandshakeError::MechanismMismatch {
            ours: "CURVE".into(),
            theirs: "NULL".into()
        })
    );
}

#[test]
fn a_data_frame_before_the_handshake_is_refused_from_its_header() {
    // A 1 GiB frame declared after the greeting: refused at its header, nothing waits for
    // the body.
    let [_, server] = plain("a", "b");
    let mut hs = Handshake::new(server, Instant::now());
    let mut input = BytesMut::from(&Greeting::ours().to_bytes()[..]);
    input[12..17].copy_from_slice(b"PLAIN");
    input.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x40, 0, 0, 0]);
    assert_eq!(
        hs.handle_input(&mut input),
        Err(HandshakeError::DataBeforeReady)
    );
}
