//! Every pattern between zsock sockets.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use zsock::{
    Context, ErrorKind, Events, Flags, Message, PollItem, Socket, SocketOption, SocketType,
};

use crate::raw::{data_frame, greeting_and_ready};
use crate::support::*;

#[test]
fn pair_exchanges_both_ways() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut a = sock(&ctx, SocketType::Pair);
    let mut b = sock(&ctx, SocketType::Pair);
    a.bind(&d.ep("pair")).unwrap();
    b.connect(&d.ep("pair")).unwrap();
    a.send("ping", Flags::NONE).unwrap();
    assert_eq!(b.recv(Flags::NONE).unwrap(), "ping");
    b.send("pong", Flags::SNDMORE).unwrap();
    b.send("!", Flags::NONE).unwrap();
    assert_eq!(a.recv(Flags::NONE).unwrap(), "pong");
    assert!(a.rcvmore());
    assert_eq!(a.recv(Flags::NONE).unwrap(), "!");
    assert!(!a.rcvmore());
}

#[test]
fn req_rep_round_trips_and_enforces_alternation() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut rep = sock(&ctx, SocketType::Rep);
    let mut req = sock(&ctx, SocketType::Req);
    rep.bind(&d.ep("rr")).unwrap();
    req.connect(&d.ep("rr")).unwrap();
    assert_eq!(req.recv(Flags::NONE).unwrap_err().kind(), ErrorKind::Fsm);
    assert_eq!(
        rep.send("x", Flags::NONE).unwrap_err().kind(),
        ErrorKind::Fsm
    );
    for i in 0..10 {
        req.send(format!("q{i}"), Flags::NONE).unwrap();
        assert_eq!(
            req.send("again", Flags::NONE).unwrap_err().kind(),
            ErrorKind::Fsm
        );
        let q = rep.recv_msg(Flags::NONE).unwrap();
        assert_eq!(q, Message::from(format!("q{i}")));
        rep.send(format!("a{i}"), Flags::NONE).unwrap();
        assert_eq!(req.recv(Flags::NONE).unwrap(), format!("a{i}").as_bytes());
    }
}

#[test]
fn push_round_robins_over_connected_pulls() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    let mon = push.monitor();
    push.bind(&d.ep("pp")).unwrap();
    let mut pulls: Vec<_> = (0..3).map(|_| sock(&ctx, SocketType::Pull)).collect();
    for p in &pulls {
        p.connect(&d.ep("pp")).unwrap();
    }
    let mut handshakes = 0;
    while handshakes < 3 {
        let e = mon
            .next(Some(Duration::from_secs(10)))
            .expect("handshake event");
        handshakes += usize::from(matches!(e, zsock::Event::HandshakeSucceeded { .. }));
    }
    for i in 0..300u32 {
        push.send(i.to_be_bytes().to_vec(), Flags::NONE).unwrap();
    }
    // Strict rotation while every peer has room: 100 each, in order per peer.
    for p in &mut pulls {
        let got: Vec<u32> = (0..100)
            .map(|_| u32::from_be_bytes(p.recv(Flags::NONE).unwrap()[..].try_into().unwrap()))
            .collect();
        assert!(got.windows(2).all(|w| w[1] == w[0] + 3), "{got:?}");
        assert_no_message(p);
    }
}

#[test]
fn pull_fair_queues_between_pushers() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind(&d.ep("fq")).unwrap();
    let mut pushes: Vec<_> = (0..2).map(|_| sock(&ctx, SocketType::Push)).collect();
    for (k, p) in pushes.iter_mut().enumerate() {
        p.connect(&d.ep("fq")).unwrap();
        for i in 0..50u8 {
            p.send(vec![k as u8, i], Flags::NONE).unwrap();
        }
    }
    let mut next = [0u8; 2];
    for _ in 0..100 {
        let m = pull.recv(Flags::NONE).unwrap();
        let k = usize::from(m[0]);
        assert_eq!(m[1], next[k], "per-sender order kept");
        next[k] += 1;
    }
    assert_eq!(next, [50, 50]);
}

#[test]
fn dealer_router_route_by_identity() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut router = sock(&ctx, SocketType::Router);
    router.bind(&d.ep("dr")).unwrap();
    let mut dealers = Vec::new();
    for name in ["alice", "bob"] {
        let mut s = sock(&ctx, SocketType::Dealer);
        s.set(SocketOption::RoutingId(name.into())).unwrap();
        s.connect(&d.ep("dr")).unwrap();
        s.send(format!("hello from {name}"), Flags::NONE).unwrap();
        dealers.push(s);
    }
    for _ in 0..2 {
        let m = router.recv_msg(Flags::NONE).unwrap();
        let id = m.frames()[0].clone();
        assert_eq!(
            m.frames()[1],
            format!("hello from {}", String::from_utf8_lossy(&id)).as_bytes()
        );
        router.send(id.clone(), Flags::SNDMORE).unwrap();
        router.send("welcome", Flags::NONE).unwrap();
    }
    for s in &mut dealers {
        assert_eq!(s.recv(Flags::NONE).unwrap(), "welcome");
    }
}

#[test]
fn pub_sub_filters_by_prefix() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut publ = sock(&ctx, SocketType::Pub);
    publ.bind(&d.ep("ps")).unwrap();
    let mut sub = sock(&ctx, SocketType::Sub);
    sub.set(SocketOption::Subscribe("a".into())).unwrap();
    sub.set(SocketOption::RcvTimeo(20)).unwrap();
    sub.connect(&d.ep("ps")).unwrap();
    // Publish until the subscription has arrived.
    loop {
        publ.send("b-no", Flags::NONE).unwrap();
        publ.send("a-yes", Flags::NONE).unwrap();
        if let Ok(m) = sub.recv(Flags::NONE) {
            assert_eq!(m, "a-yes");
            break;
        }
    }
    for _ in 0..100 {
        publ.send("b-no", Flags::NONE).unwrap();
        publ.send("a-yes", Flags::NONE).unwrap();
    }
    sub.set(SocketOption::RcvTimeo(2000)).unwrap();
    for _ in 0..100 {
        assert_eq!(sub.recv(Flags::NONE).unwrap(), "a-yes");
    }
}

/// Messages a SUB took ahead under one lock (the rest of what one read brought) are
/// filtered again after an unsubscribe, as if they had waited in the queue: what no longer
/// matches is never handed out.
#[test]
fn sub_filters_what_it_took_ahead_again_after_an_unsubscribe() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut sub = sock(&ctx, SocketType::Sub);
    sub.set(SocketOption::Subscribe("a".into())).unwrap();
    sub.set(SocketOption::Subscribe("b".into())).unwrap();
    let ep = sub.bind(&d.ep("ahead")).unwrap();
    // A raw publisher: its handshake and five messages in one write, read together.
    let frames: [&[u8]; 6] = [b"a1", b"b1", b"c1", b"a2", b"b2", b"a3"];
    let mut bytes = greeting_and_ready("PUB");
    for f in frames {
        bytes.extend_from_slice(&data_frame(f));
    }
    let mut raw = UnixStream::connect(ep.strip_prefix("ipc://").unwrap()).unwrap();
    raw.write_all(&bytes).unwrap();
    assert_eq!(sub.recv(Flags::NONE).unwrap(), "a1");
    sub.set(SocketOption::Unsubscribe("b".into())).unwrap();
    assert_eq!(sub.recv(Flags::NONE).unwrap(), "a2");
    assert_eq!(sub.recv(Flags::NONE).unwrap(), "a3");
    assert_no_message(&mut sub);
}

#[test]
fn xpub_sees_subscriptions_and_xsub_sends_them() {
    let d = Dir::new();
    let ctx = Context::new();
    let (mut xpub, mut xsub) = bound_pair(&ctx, &d, "xx", SocketType::XPub, SocketType::XSub);
    xsub.send(&b"\x01topic"[..], Flags::NONE).unwrap();
    assert_eq!(xpub.recv(Flags::NONE).unwrap(), &b"\x01topic"[..]);
    xpub.send("topic data", Flags::NONE).unwrap();
    xpub.send("other data", Flags::NONE).unwrap();
    xpub.send("topic 2", Flags::NONE).unwrap();
    assert_eq!(xsub.recv(Flags::NONE).unwrap(), "topic data");
    assert_eq!(xsub.recv(Flags::NONE).unwrap(), "topic 2");
    xsub.send(&b"\x00topic"[..], Flags::NONE).unwrap();
    assert_eq!(xpub.recv(Flags::NONE).unwrap(), &b"\x00topic"[..]);
}

/// `send_copy` (zmq_send's copy-in) delivers what `send` would, in order with it, for the
/// types whose bytes go straight into the batch (PAIR, PUSH, DEALER) and for the others
/// (which build a message), at sizes around the copy threshold.
#[test]
fn send_copy_delivers_what_send_does() {
    let d = Dir::new();
    let ctx = Context::new();
    let bodies: Vec<Vec<u8>> = [0usize, 1, 2048, 2049, 300_000]
        .iter()
        .map(|&n| (0..n).map(|i| (i * 7 + n) as u8).collect())
        .collect();
    let pairs = [
        (SocketType::Pair, SocketType::Pair),
        (SocketType::Push, SocketType::Pull),
        (SocketType::Dealer, SocketType::Dealer),
        (SocketType::Req, SocketType::Rep),
    ];
    for (i, (ts, tr)) in pairs.into_iter().enumerate() {
        let ep = d.ep(&format!("copy{i}"));
        let mut tx = sock(&ctx, ts);
        let mut rx = sock(&ctx, tr);
        rx.bind(&ep).unwrap();
        tx.connect(&ep).unwrap();
        for body in &bodies {
            tx.send_copy(body, Flags::NONE).unwrap();
            if ts == SocketType::Req {
                assert_eq!(rx.recv(Flags::NONE).unwrap(), &body[..], "{ts:?}");
                rx.send_copy(b"ok", Flags::NONE).unwrap();
                assert_eq!(tx.recv(Flags::NONE).unwrap(), &b"ok"[..]);
                continue;
            }
            tx.send(&b"after"[..], Flags::NONE).unwrap();
            assert_eq!(rx.recv(Flags::NONE).unwrap(), &body[..], "{ts:?}");
            assert!(!rx.rcvmore());
            assert_eq!(rx.recv(Flags::NONE).unwrap(), &b"after"[..], "{ts:?}");
        }
    }
}

/// A PULL takes the queue behind a received message ahead and hands it out without the
/// lock; while it holds those messages they count towards RCVHWM, so its connection stops
/// being read. Once they are all handed out, `poll` finds the rest (it lifts the mark
/// before it looks), and every message arrives in order.
#[test]
fn a_pull_that_handed_out_what_it_took_ahead_polls_the_rest() {
    let d = Dir::new();
    let ctx = Context::new();
    let (mut pull, mut push) = bound_pair(&ctx, &d, "ahead", SocketType::Pull, SocketType::Push);
    pull.set(SocketOption::RcvHwm(4)).unwrap();
    const SENT: u32 = 40;
    for i in 0..SENT {
        push.send(i.to_be_bytes().to_vec(), Flags::NONE).unwrap();
    }
    for i in 0..SENT {
        let mut items = [PollItem::new(&pull, Events::POLLIN)];
        let ready = zsock::poll(&mut items, Some(Duration::from_secs(10))).unwrap();
        assert_eq!(ready, 1, "message {i} not reported readable");
        assert_eq!(pull.recv(Flags::NONE).unwrap(), &i.to_be_bytes()[..]);
    }
}

/// Two PAIRs each send a round of messages and then receive the other's, twice. Each round
/// fits in what the two sides queue (SNDHWM, RCVHWM and the kernel), as in libzmq; the
/// messages one side took ahead in the first round and handed out since must not count
/// against its RCVHWM while it sends the second, or both block in send.
#[test]
fn pairs_exchanging_rounds_do_not_deadlock_on_what_they_took_ahead() {
    const HWM: i32 = 10;
    const ROUND: usize = 19;
    let d = Dir::new();
    let ctx = Context::new();
    let (mut a, mut b) = bound_pair(&ctx, &d, "rounds", SocketType::Pair, SocketType::Pair);
    let body = vec![b'r'; 64 * 1024];
    for s in [&mut a, &mut b] {
        s.set(SocketOption::SndHwm(HWM)).unwrap();
        s.set(SocketOption::RcvHwm(HWM)).unwrap();
        s.set(SocketOption::SndTimeo(10_000)).unwrap();
        s.set(SocketOption::RcvTimeo(10_000)).unwrap();
    }
    let exchange = move |s: &mut Socket, body: &[u8]| {
        for round in 0..2 {
            for i in 0..ROUND {
                if let Err(e) = s.send_copy(body, Flags::NONE) {
                    panic!("round {round}: send {i} failed: {e}");
                }
            }
            for i in 0..ROUND {
                let m = s
                    .recv(Flags::NONE)
                    .unwrap_or_else(|e| panic!("round {round}: recv {i}: {e}"));
                assert_eq!(m.len(), body.len());
            }
        }
    };
    let other = {
        let body = body.clone();
        std::thread::spawn(move || {
            exchange(&mut a, &body);
            a
        })
    };
    exchange(&mut b, &body);
    other.join().unwrap();
}

/// A blocking `send_copy` of a large body waits a while for the kernel to take it while
/// the peer drains, writing what already waits first; a peer that does not read costs it
/// only that while (then the body is copied and queued, as zmq_send's would be). Mixed
/// sizes, some queued behind others, arrive whole and in order.
#[test]
fn large_send_copy_waits_only_while_the_peer_drains() {
    let d = Dir::new();
    let ctx = Context::new();
    let (mut pull, mut push) = bound_pair(&ctx, &d, "patient", SocketType::Pull, SocketType::Push);
    pull.set(SocketOption::RcvHwm(1)).unwrap();
    let body = |i: usize, n: usize| -> Vec<u8> { (0..n).map(|j| (i * 31 + j) as u8).collect() };
    // The first send waits for the connection; the reader then reads nothing.
    push.send_copy(&body(0, 1 << 20), Flags::NONE).unwrap();
    // Eight mebibytes are far more than the kernel holds: the sends that return queued
    // copies (SNDHWM is 1000).
    let mut push = sends_return(push, move |push| {
        for i in 1..8 {
            push.send_copy(&body(i, 1 << 20), Flags::NONE).unwrap();
        }
    });
    for i in 0..8 {
        assert_eq!(
            pull.recv(Flags::NONE).unwrap(),
            &body(i, 1 << 20)[..],
            "message {i}"
        );
    }
    // Now a reader that reads, and sizes that alternate between direct and queued paths.
    pull.set(SocketOption::RcvHwm(1000)).unwrap();
    let sizes = [1 << 20, 10, 300_000, 3000, 1, 70_000];
    let reader = std::thread::spawn(move || {
        for i in 0..120 {
            let got = pull.recv(Flags::NONE).unwrap();
            assert_eq!(got, &body(i, sizes[i % sizes.len()])[..], "message {i}");
        }
        pull
    });
    for i in 0..120 {
        push.send_copy(&body(i, sizes[i % sizes.len()]), Flags::NONE)
            .unwrap();
    }
    let mut pull = reader.join().unwrap();
    assert_no_message(&mut pull);
}

/// Blocking sends of small messages that fill a batch while the kernel is full wait a
/// while for room, and then, with a peer that does not read, queue as usual: every send
/// that fits under SNDHWM returns, and all arrive in order once the peer reads.
#[test]
fn small_sends_wait_only_while_the_peer_drains() {
    let d = Dir::new();
    let ctx = Context::new();
    let (mut pull, mut push) = bound_pair(
        &ctx,
        &d,
        "patient-small",
        SocketType::Pull,
        SocketType::Push,
    );
    pull.set(SocketOption::RcvHwm(1)).unwrap();
    let body = |i: u32| -> Vec<u8> {
        let mut b = i.to_be_bytes().to_vec();
        b.resize(1000, i as u8);
        b
    };
    push.send_copy(&body(0), Flags::NONE).unwrap();
    // 900 messages (900 kB) fill the kernel, the reader's buffer and a batch, yet even
    // queued all stay under the default SNDHWM of 1000 (a send at the HWM would block).
    let n = 900;
    let _push = sends_return(push, move |push| {
        for i in 1..n {
            push.send_copy(&body(i), Flags::NONE).unwrap();
        }
    });
    for i in 0..n {
        assert_eq!(pull.recv(Flags::NONE).unwrap(), &body(i)[..], "message {i}");
    }
    assert_no_message(&mut pull);
}

/// Runs `sends` on `s` in another thread and gives `s` back, failing if they take over a
/// minute (a send that keeps waiting for a peer that does not read).
fn sends_return(mut s: Socket, sends: impl FnOnce(&mut Socket) + Send + 'static) -> Socket {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let sender = std::thread::spawn(move || {
        sends(&mut s);
        done_tx.send(()).unwrap();
        s
    });
    done_rx
        .recv_timeout(Duration::from_secs(60))
        .expect("a send waited on a peer that does not read");
    sender.join().unwrap()
}

/// After frames sent with SNDMORE, `send_copy` ends the same message.
#[test]
fn send_copy_ends_a_multipart_message() {
    let d = Dir::new();
    let ctx = Context::new();
    let (mut pull, mut push) = bound_pair(&ctx, &d, "copymore", SocketType::Pull, SocketType::Push);
    push.send("head", Flags::SNDMORE).unwrap();
    push.send_copy(b"tail", Flags::NONE).unwrap();
    assert_eq!(
        pull.recv_msg(Flags::NONE).unwrap(),
        Message::from_iter(["head", "tail"])
    );
}

/// `send_copy` blocks and fails like `send`: EAGAIN with DONTWAIT and no peer; and once a
/// reader that does not read has filled everything, the messages that were taken (queued
/// copies included) all arrive, whole and in order.
#[test]
fn send_copy_waits_like_send_and_queues_whole_copies() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::SndHwm(10)).unwrap();
    assert_eq!(
        push.send_copy(b"x", Flags::DONTWAIT).unwrap_err().kind(),
        ErrorKind::Again
    );
    // A request that could not go leaves REQ able to send, not waiting for a reply.
    let mut req = sock(&ctx, SocketType::Req);
    assert_eq!(
        req.send_copy(b"q", Flags::DONTWAIT).unwrap_err().kind(),
        ErrorKind::Again
    );
    assert_eq!(
        req.recv(Flags::DONTWAIT).unwrap_err().kind(),
        ErrorKind::Fsm
    );
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::RcvHwm(10)).unwrap();
    pull.bind(&d.ep("copyfull")).unwrap();
    push.connect(&d.ep("copyfull")).unwrap();
    // Wait for the connection: the first send blocks until there is a peer.
    push.send_copy(&0u32.to_be_bytes(), Flags::NONE).unwrap();
    let body = vec![9u8; 4000];
    let mut n = 1u32;
    loop {
        let mut m = n.to_be_bytes().to_vec();
        m.extend_from_slice(&body);
        match push.send_copy(&m, Flags::DONTWAIT) {
            Ok(()) => n += 1,
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Again);
                break;
            }
        }
        assert!(n < 1_000_000, "the sender never filled");
    }
    for i in 0..n {
        let got = pull.recv(Flags::NONE).unwrap();
        assert_eq!(&got[..4], &i.to_be_bytes(), "message {i} of {n}");
        if i > 0 {
            assert_eq!(&got[4..], &body[..], "message {i} of {n}");
        }
    }
    assert_no_message(&mut pull);
}
