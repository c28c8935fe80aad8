//! zsock's proxy between libzmq peers: a ROUTER-DEALER broker between libzmq REQ clients
//! and REP workers (with capture and statistics), and an XSUB-XPUB forwarder whose
//! subscriptions travel from libzmq SUBs to a libzmq publisher.

use std::thread;

use zsock::{Context, Flags, Proxy, SocketType};

use crate::support::{zmq_socket, zsock_socket};

#[test]
fn broker_between_libzmq_clients_and_workers() {
    const CLIENTS: usize = 3;
    const WORKERS: usize = 2;
    const REQUESTS: usize = 50;
    let dir = tempfile::tempdir().unwrap();
    let ep = |n: &str| format!("ipc://{}", dir.path().join(n).display());
    let (front_ep, back_ep, cap_ep, ctl_ep) = (ep("front"), ep("back"), ep("cap"), ep("ctl"));
    let ctx = Context::new();
    let mut front = zsock_socket(&ctx, SocketType::Router);
    let mut back = zsock_socket(&ctx, SocketType::Dealer);
    let mut capture = zsock_socket(&ctx, SocketType::Push);
    let mut control = zsock_socket(&ctx, SocketType::Rep);
    front.bind(&front_ep).unwrap();
    back.bind(&back_ep).unwrap();
    capture.bind(&cap_ep).unwrap();
    control.bind(&ctl_ep).unwrap();
    let mut captured = zsock_socket(&ctx, SocketType::Pull);
    captured.connect(&cap_ep).unwrap();
    let broker = thread::spawn(move || {
        Proxy::new(&mut front, &mut back)
            .capture(&mut capture)
            .control(&mut control)
            .run()
    });

    let zctx = zmq::Context::new();
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| {
            let w = zmq_socket(&zctx, SocketType::Rep);
            w.connect(&back_ep).unwrap();
            thread::spawn(move || {
                // Until the controller's request tells the workers to stop.
                loop {
                    let req = w.recv_bytes(0).unwrap();
                    if req == b"stop" {
                        w.send("stopped", 0).unwrap();
                        return;
                    }
                    let mut reply = b"re:".to_vec();
                    reply.extend_from_slice(&req);
                    w.send(reply, 0).unwrap();
                }
            })
        })
        .collect();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let s = zmq_socket(&zctx, SocketType::Req);
            s.connect(&front_ep).unwrap();
            thread::spawn(move || {
                for i in 0..REQUESTS {
                    let body = format!("client {c} request {i}");
                    s.send(body.as_bytes(), 0).unwrap();
                    let reply = s.recv_bytes(0).unwrap();
                    assert_eq!(reply, format!("re:{body}").into_bytes());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    let stopper = zmq_socket(&zctx, SocketType::Req);
    stopper.connect(&front_ep).unwrap();
    for _ in 0..WORKERS {
        stopper.send("stop", 0).unwrap();
        assert_eq!(stopper.recv_bytes(0).unwrap(), b"stopped");
    }
    for w in workers {
        w.join().unwrap();
    }

    // Every message both ways went to the capture socket, whole.
    let total = CLIENTS * REQUESTS + WORKERS;
    let (mut requests, mut replies) = (0, 0);
    for _ in 0..2 * total {
        let m = captured.recv_multipart(Flags::NONE).unwrap();
        assert_eq!(m.len(), 3, "routing id, delimiter, body");
        assert!(m[1].is_empty());
        if m[2].starts_with(b"re:") || &m[2][..] == b"stopped" {
            replies += 1;
        } else {
            requests += 1;
        }
    }
    assert_eq!((requests, replies), (total, total));

    // STATISTICS from a libzmq REQ: frames and bytes, libzmq's eight counters.
    let ctl = zmq_socket(&zctx, SocketType::Req);
    ctl.connect(&ctl_ep).unwrap();
    ctl.send("STATISTICS", 0).unwrap();
    let stats: Vec<u64> = ctl
        .recv_multipart(0)
        .unwrap()
        .iter()
        .map(|f| u64::from_ne_bytes(f[..].try_into().unwrap()))
        .collect();
    let frames = 3 * total as u64;
    assert_eq!(stats.len(), 8);
    assert_eq!(
        [stats[0], stats[2], stats[4], stats[6]],
        [frames; 4],
        "frames received and sent by each side"
    );
    // Bytes: what the frontend took, the backend sent, and the other way.
    assert_eq!(stats[1], stats[7], "frontend bytes in, backend bytes out");
    assert_eq!(stats[5], stats[3], "backend bytes in, frontend bytes out");
    ctl.send("TERMINATE", 0).unwrap();
    assert_eq!(ctl.recv_bytes(0).unwrap(), b"");
    let end = broker.join().unwrap().unwrap();
    assert_eq!(end.to_array().to_vec(), stats);
}

#[test]
fn forwarder_carries_libzmq_subscriptions_upstream() {
    let dir = tempfile::tempdir().unwrap();
    let ep = |n: &str| format!("ipc://{}", dir.path().join(n).display());
    let (up_ep, down_ep, ctl_ep) = (ep("up"), ep("down"), ep("ctl"));
    let zctx = zmq::Context::new();
    // The publisher is a libzmq XPUB, so it shows the subscriptions that reach it.
    let publisher = zmq_socket(&zctx, SocketType::XPub);
    publisher.set_xpub_verbose(true).unwrap();
    publisher.bind(&up_ep).unwrap();

    let ctx = Context::new();
    let mut xsub = zsock_socket(&ctx, SocketType::XSub);
    let mut xpub = zsock_socket(&ctx, SocketType::XPub);
    let mut control = zsock_socket(&ctx, SocketType::Pair);
    xsub.connect(&up_ep).unwrap();
    xpub.bind(&down_ep).unwrap();
    control.bind(&ctl_ep).unwrap();
    let forwarder =
        thread::spawn(move || Proxy::new(&mut xsub, &mut xpub).control(&mut control).run());

    let subs: Vec<_> = ["weather", "sports"]
        .iter()
        .map(|topic| {
            let s = zmq_socket(&zctx, SocketType::Sub);
            s.set_subscribe(topic.as_bytes()).unwrap();
            s.connect(&down_ep).unwrap();
            s
        })
        .collect();
    let mut seen: Vec<Vec<u8>> = (0..2).map(|_| publisher.recv_bytes(0).unwrap()).collect();
    seen.sort();
    assert_eq!(seen, [b"\x01sports".to_vec(), b"\x01weather".to_vec()]);

    publisher.send("sports 2-1", 0).unwrap();
    publisher.send("news none", 0).unwrap();
    publisher.send("weather rain", 0).unwrap();
    assert_eq!(subs[0].recv_bytes(0).unwrap(), b"weather rain");
    assert_eq!(subs[1].recv_bytes(0).unwrap(), b"sports 2-1");

    // An unsubscription travels up too.
    subs[1].set_unsubscribe(b"sports").unwrap();
    assert_eq!(publisher.recv_bytes(0).unwrap(), b"\x00sports");

    let mut ctl = zsock_socket(&ctx, SocketType::Pair);
    ctl.connect(&ctl_ep).unwrap();
    ctl.send("TERMINATE", Flags::NONE).unwrap();
    let stats = forwarder.join().unwrap().unwrap();
    assert_eq!(
        stats.frontend.recv_frames, 2,
        "two messages matched a subscription"
    );
    assert_eq!(
        stats.backend.recv_frames, 3,
        "two subscriptions, one unsubscription"
    );
}
