//! PLAIN and ZAP against a real libzmq, both directions, over ipc and tcp: libzmq PLAIN
//! clients against a zsock PLAIN server with the context's authenticator, and zsock PLAIN
//! clients against a libzmq PLAIN server with a ZAP handler at `inproc://zeromq.zap.01`;
//! right credentials pass, wrong ones fail the way libzmq fails them (HANDSHAKE_FAILED_AUTH
//! with status 400 on libzmq's side, the same status in zsock's event).

use std::sync::{Arc, Mutex};
use std::thread;

use zsock::{Context, Event, Flags, SocketOption, SocketType, ZapReply, ZapRequest, ZapStatus};

use crate::support::{
    handshake_result, zmq_last_endpoint, zmq_socket, zsock_plain_client, zsock_socket,
};

/// The endpoints each test runs over: ipc in a temporary directory, tcp on loopback.
fn endpoints(dir: &tempfile::TempDir) -> [String; 2] {
    [
        format!("ipc://{}", dir.path().join("plain").display()),
        "tcp://127.0.0.1:*".to_string(),
    ]
}

/// A libzmq ZAP handler in `ctx` admitting admin/secret as "admin-user"; returns what it
/// was asked, after `n` requests.
fn libzmq_zap_handler(ctx: &zmq::Context, n: usize) -> thread::JoinHandle<Vec<Vec<Vec<u8>>>> {
    let zap = ctx.socket(zmq::REP).unwrap();
    zap.set_linger(0).unwrap();
    zap.set_rcvtimeo(10_000).unwrap();
    zap.bind("inproc://zeromq.zap.01").unwrap();
    thread::spawn(move || {
        let mut seen = Vec::new();
        while seen.len() < n {
            let Ok(req) = zap.recv_multipart(0) else {
                break;
            };
            let ok = req.len() == 8 && req[6] == b"admin" && req[7] == b"secret";
            let (status, user): (&[u8], &[u8]) = if ok {
                (b"200", b"admin-user")
            } else {
                (b"400", b"")
            };
            zap.send_multipart([&b"1.0"[..], &req[1], status, b"", user, b""], 0)
                .unwrap();
            seen.push(req);
        }
        seen
    })
}

/// The value of libzmq's next monitor event among `events`.
fn libzmq_event(mon: &zmq::Socket) -> (u16, u32) {
    let frames = mon
        .recv_multipart(0)
        .expect("a libzmq monitor event in time");
    let code = u16::from_ne_bytes([frames[0][0], frames[0][1]]);
    let value = u32::from_ne_bytes([frames[0][2], frames[0][3], frames[0][4], frames[0][5]]);
    (code, value)
}

#[test]
fn libzmq_plain_clients_against_a_zsock_plain_server() {
    let dir = tempfile::tempdir().unwrap();
    for ep in endpoints(&dir) {
        let ctx = Context::new();
        let seen = Arc::new(Mutex::new(Vec::<ZapRequest>::new()));
        let log = seen.clone();
        ctx.set_authenticator(move |req: &ZapRequest| {
            log.lock().unwrap().push(req.clone());
            if req.credentials == [&b"admin"[..], b"secret"] {
                ZapReply::allow("admin-user")
            } else {
                ZapReply::refuse(ZapStatus::Denied, "no")
            }
        });
        let mut rep = zsock_socket(&ctx, SocketType::Rep);
        rep.set(SocketOption::PlainServer(true)).unwrap();
        let bound = rep.bind(&ep).unwrap();

        let zctx = zmq::Context::new();
        // Wrong password: libzmq's monitor reports an authentication failure, 400.
        let bad = zmq_socket(&zctx, SocketType::Req);
        bad.set_plain_username(Some("admin")).unwrap();
        bad.set_plain_password(Some("guess")).unwrap();
        bad.monitor(
            "inproc://bad-mon",
            zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as i32,
        )
        .unwrap();
        let mon = zctx.socket(zmq::PAIR).unwrap();
        mon.set_rcvtimeo(10_000).unwrap();
        mon.connect("inproc://bad-mon").unwrap();
        bad.connect(&bound).unwrap();
        assert_eq!(
            libzmq_event(&mon),
            (zmq::SocketEvent::HANDSHAKE_FAILED_AUTH as u16, 400),
            "{ep}"
        );

        // Right password: a round trip, and the server knows the user.
        let good = zmq_socket(&zctx, SocketType::Req);
        good.set_plain_username(Some("admin")).unwrap();
        good.set_plain_password(Some("secret")).unwrap();
        good.connect(&bound).unwrap();
        good.send("hello", 0).unwrap();
        assert_eq!(rep.recv(Flags::NONE).unwrap(), "hello", "{ep}");
        let peer = rep.peer().unwrap();
        assert_eq!(peer.gets("User-Id").as_deref(), Some("admin-user"));
        rep.send("world", Flags::NONE).unwrap();
        assert_eq!(good.recv_bytes(0).unwrap(), b"world");
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2, "{ep}");
        // The request's address is the one the message metadata gives.
        assert_eq!(
            String::from_utf8_lossy(&seen[1].address),
            peer.gets("Peer-Address").unwrap()
        );
    }
}

#[test]
fn zsock_plain_clients_against_a_libzmq_plain_server() {
    let dir = tempfile::tempdir().unwrap();
    for ep in endpoints(&dir) {
        let zctx = zmq::Context::new();
        let handler = libzmq_zap_handler(&zctx, 2);
        let rep = zmq_socket(&zctx, SocketType::Rep);
        rep.set_plain_server(true).unwrap();
        rep.set_zap_domain("global").unwrap();
        rep.bind(&ep).unwrap();
        let bound = zmq_last_endpoint(&rep);

        let ctx = Context::new();
        // Wrong password: the status code comes back in zsock's event.
        let bad = zsock_plain_client(&ctx, SocketType::Req, "admin", "guess");
        let mon = bad.monitor();
        bad.connect(&bound).unwrap();
        let failed = match handshake_result(&mon) {
            Event::HandshakeFailed { auth, .. } => auth,
            e => panic!("admitted with a wrong password: {e}"),
        };
        assert_eq!(failed, Some(ZapStatus::Denied), "{ep}");

        let mut good = zsock_plain_client(&ctx, SocketType::Req, "admin", "secret");
        good.connect(&bound).unwrap();
        good.send("hello", Flags::NONE).unwrap();
        assert_eq!(rep.recv_bytes(0).unwrap(), b"hello");
        rep.send("world", 0).unwrap();
        assert_eq!(good.recv(Flags::NONE).unwrap(), "world");

        let seen = handler.join().unwrap();
        assert_eq!(seen.len(), 2);
        let req = &seen[1];
        assert_eq!(req[0], b"1.0");
        assert_eq!(req[2], b"global");
        assert_eq!(req[5], b"PLAIN");
        assert_eq!((&req[6][..], &req[7][..]), (&b"admin"[..], &b"secret"[..]));
        if ep.starts_with("tcp") {
            assert_eq!(req[3], b"127.0.0.1");
        }
    }
}
