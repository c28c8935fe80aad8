//! inproc:// between sockets of one context: libzmq's test_inproc_connect ported, HWM as
//! libzmq counts it over inproc, every pattern, monitor events, and what a closed or
//! disconnected peer leaves.

use std::time::Duration;

use bytes::Bytes;
use zsock::{Context, ErrorKind, Flags, SocketOption, SocketType};

use crate::ports::await_event;
use crate::support::*;

/// Sends without waiting until the socket refuses; how many it took.
fn fill(s: &mut zsock::Socket) -> usize {
    let mut n = 0;
    loop {
        match s.send("x", Flags::DONTWAIT) {
            Ok(()) => n += 1,
            Err(e) if e.kind() == ErrorKind::Again => return n,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn bind_before_connect() {
    let ctx = Context::new();
    let mut b = sock(&ctx, SocketType::Pair);
    b.bind("inproc://bbc").unwrap();
    let mut c = sock(&ctx, SocketType::Pair);
    c.connect("inproc://bbc").unwrap();
    c.send("foobar", Flags::NONE).unwrap();
    assert_eq!(b.recv(Flags::NONE).unwrap(), "foobar");
    b.send("back", Flags::NONE).unwrap();
    assert_eq!(c.recv(Flags::NONE).unwrap(), "back");
}

#[test]
fn connect_before_bind() {
    let ctx = Context::new();
    let mut c = sock(&ctx, SocketType::Pair);
    c.connect("inproc://cbb").unwrap();
    c.send("foobar", Flags::NONE).unwrap();
    let mut b = sock(&ctx, SocketType::Pair);
    b.bind("inproc://cbb").unwrap();
    assert_eq!(b.recv(Flags::NONE).unwrap(), "foobar");
    b.send("back", Flags::NONE).unwrap();
    assert_eq!(c.recv(Flags::NONE).unwrap(), "back");
}

#[test]
fn connect_before_bind_pub_sub() {
    let ctx = Context::new();
    let mut publisher = sock(&ctx, SocketType::Pub);
    publisher.connect("inproc://cbbps").unwrap();
    // No subscriber yet: dropped.
    publisher.send("before", Flags::NONE).unwrap();
    let mut sub = sock(&ctx, SocketType::Sub);
    sub.set(SocketOption::Subscribe(Bytes::new())).unwrap();
    sub.bind("inproc://cbbps").unwrap();
    // The subscription reaches the publisher with its next call: no settling time.
    publisher.send("after", Flags::NONE).unwrap();
    assert_eq!(sub.recv(Flags::NONE).unwrap(), "after");
    assert_no_message(&mut sub);
}

#[test]
fn connect_before_bind_ctx_term() {
    let ctx = Context::new();
    for i in 0..20 {
        let s = sock(&ctx, SocketType::Router);
        s.connect(&format!("inproc://cbbrr{i}")).unwrap();
    }
    drop(ctx); // returns: the waiting connects hold nothing up
}

#[test]
fn multiple_connects() {
    let ctx = Context::new();
    let mut pushers: Vec<_> = (0..10)
        .map(|_| {
            let mut s = sock(&ctx, SocketType::Push);
            s.connect("inproc://multiple").unwrap();
            s.send("foobar", Flags::NONE).unwrap();
            s
        })
        .collect();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://multiple").unwrap();
    for _ in 0..10 {
        assert_eq!(pull.recv(Flags::NONE).unwrap(), "foobar");
    }
    assert_no_message(&mut pull);
    pushers.clear();
}

#[test]
fn multiple_threads_send_and_close_before_the_bind() {
    let ctx = Context::new();
    let threads: Vec<_> = (0..30)
        .map(|_| {
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                // (libzmq's test connects PAIRs to the PULL: libzmq does not check the
                // types over inproc; zsock refuses what ZMTP refuses.)
                let mut s = sock(&ctx, SocketType::Push);
                s.set(SocketOption::Linger(-1)).unwrap();
                s.connect("inproc://sink").unwrap();
                s.send("foobar", Flags::NONE).unwrap();
                // Closed before anyone bound: the message still reaches the binder.
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://sink").unwrap();
    for _ in 0..30 {
        assert_eq!(pull.recv(Flags::NONE).unwrap(), "foobar");
    }
}

#[test]
fn simultaneous_connect_and_bind_threads() {
    let ctx = Context::new();
    let mut threads = Vec::new();
    for i in 0..50 {
        let endpoint = format!("inproc://foo_{i}");
        let (c1, e1) = (ctx.clone(), endpoint.clone());
        threads.push(std::thread::spawn(move || {
            let mut s = sock(&c1, SocketType::Pair);
            s.connect(&e1).unwrap();
            assert_eq!(s.recv(Flags::NONE).unwrap(), "foobar");
        }));
        let c2 = ctx.clone();
        threads.push(std::thread::spawn(move || {
            let mut s = sock(&c2, SocketType::Pair);
            s.set(SocketOption::Linger(-1)).unwrap();
            s.bind(&endpoint).unwrap();
            s.send("foobar", Flags::NONE).unwrap();
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn routing_id_comes_first_at_a_router() {
    let ctx = Context::new();
    let mut dealer = sock(&ctx, SocketType::Dealer);
    dealer
        .set(SocketOption::RoutingId(Bytes::from_static(b"D1")))
        .unwrap();
    dealer.connect("inproc://routing_id").unwrap();
    let mut router = sock(&ctx, SocketType::Router);
    router.bind("inproc://routing_id").unwrap();
    dealer.send_multipart(["A", "B"], Flags::NONE).unwrap();
    assert_eq!(
        router.recv_multipart(Flags::NONE).unwrap(),
        ["D1", "A", "B"]
    );
    router.send_multipart(["D1", "reply"], Flags::NONE).unwrap();
    assert_eq!(dealer.recv(Flags::NONE).unwrap(), "reply");
}

#[test]
fn connect_only_then_close() {
    let ctx = Context::new();
    let s = sock(&ctx, SocketType::Push);
    s.connect("inproc://a").unwrap();
    drop(s);
    drop(ctx);
}

#[test]
fn unbind_frees_the_name() {
    let ctx = Context::new();
    let b1 = sock(&ctx, SocketType::Pair);
    b1.bind("inproc://unbind").unwrap();
    b1.unbind("inproc://unbind").unwrap();
    let mut b2 = sock(&ctx, SocketType::Pair);
    b2.bind("inproc://unbind").unwrap();
    let mut c = sock(&ctx, SocketType::Pair);
    c.connect("inproc://unbind").unwrap();
    c.send("foobar", Flags::NONE).unwrap();
    assert_eq!(b2.recv(Flags::NONE).unwrap(), "foobar");
    assert_eq!(
        b1.unbind("inproc://unbind").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

#[test]
fn a_taken_name_is_addr_in_use_and_an_empty_one_invalid() {
    let ctx = Context::new();
    let a = sock(&ctx, SocketType::Pull);
    a.bind("inproc://taken").unwrap();
    let b = sock(&ctx, SocketType::Pull);
    assert_eq!(
        b.bind("inproc://taken").unwrap_err().kind(),
        ErrorKind::AddrInUse
    );
    assert_eq!(b.bind("inproc://").unwrap_err().kind(), ErrorKind::Invalid);
    assert_eq!(
        b.connect("inproc://").unwrap_err().kind(),
        ErrorKind::Invalid
    );
    // Once the holder is closed the name is free again.
    drop(a);
    b.bind("inproc://taken").unwrap();
    assert_eq!(b.last_endpoint(), "inproc://taken");
}

#[test]
fn another_contexts_names_are_invisible() {
    let ctx1 = Context::new();
    let ctx2 = Context::new();
    let mut pull = sock(&ctx1, SocketType::Pull);
    pull.bind("inproc://shared-name").unwrap();
    let mut push = sock(&ctx2, SocketType::Push);
    push.connect("inproc://shared-name").unwrap();
    // The connect waits for a bind in its own context: the message waits with it.
    push.send("hello", Flags::NONE).unwrap();
    pull.set(SocketOption::RcvTimeo(100)).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap_err().kind(), ErrorKind::Again);
    let mut pull2 = sock(&ctx2, SocketType::Pull);
    pull2.bind("inproc://shared-name").unwrap();
    assert_eq!(pull2.recv(Flags::NONE).unwrap(), "hello");
}

#[test]
fn hwm_is_the_sum_of_both_sides() {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::RcvHwm(7)).unwrap();
    pull.bind("inproc://hwm").unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::SndHwm(5)).unwrap();
    push.connect("inproc://hwm").unwrap();
    assert_eq!(fill(&mut push), 12);
    // Everything sent arrives, then room again.
    for _ in 0..12 {
        pull.recv(Flags::NONE).unwrap();
    }
    assert_no_message(&mut pull);
    assert_eq!(fill(&mut push), 12);
}

#[test]
fn hwm_before_the_bind_is_the_senders_then_the_sum() {
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::SndHwm(5)).unwrap();
    push.connect("inproc://hwm-pending").unwrap();
    assert_eq!(fill(&mut push), 5);
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::RcvHwm(7)).unwrap();
    pull.bind("inproc://hwm-pending").unwrap();
    assert_eq!(fill(&mut push), 7);
    for _ in 0..12 {
        pull.recv(Flags::NONE).unwrap();
    }
    assert_no_message(&mut pull);
}

#[test]
fn hwm_zero_on_either_side_is_no_limit() {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::RcvHwm(0)).unwrap();
    pull.bind("inproc://nolimit").unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::SndHwm(2)).unwrap();
    push.connect("inproc://nolimit").unwrap();
    for _ in 0..10_000 {
        push.send("x", Flags::DONTWAIT).unwrap();
    }
    for _ in 0..10_000 {
        pull.recv(Flags::NONE).unwrap();
    }
}

#[test]
fn a_blocked_sender_is_woken_when_the_receiver_takes() {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::RcvHwm(1)).unwrap();
    pull.bind("inproc://blocked").unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::SndHwm(1)).unwrap();
    push.connect("inproc://blocked").unwrap();
    let sender = std::thread::spawn(move || {
        for i in 0..2000u32 {
            push.send(i.to_be_bytes().as_slice(), Flags::NONE).unwrap();
        }
    });
    for i in 0..2000u32 {
        assert_eq!(pull.recv(Flags::NONE).unwrap(), i.to_be_bytes().as_slice());
    }
    sender.join().unwrap();
}

#[test]
fn frames_move_without_a_copy() {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://zero-copy").unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect("inproc://zero-copy").unwrap();
    let body = Bytes::from(vec![7u8; 100_000]);
    let at = body.as_ptr();
    push.send(body, Flags::NONE).unwrap();
    let got = pull.recv(Flags::NONE).unwrap();
    assert_eq!(got.len(), 100_000);
    assert_eq!(got.as_ptr(), at, "the receiver got the sender's buffer");
}

#[test]
fn req_rep_across_threads() {
    let ctx = Context::new();
    let mut rep = sock(&ctx, SocketType::Rep);
    rep.bind("inproc://reqrep").unwrap();
    let server = std::thread::spawn(move || {
        for _ in 0..3 * 100 {
            let m = rep.recv(Flags::NONE).unwrap();
            rep.send(m, Flags::NONE).unwrap();
        }
    });
    let clients: Vec<_> = (0..3)
        .map(|c| {
            let ctx = ctx.clone();
            std::thread::spawn(move || {
                let mut req = sock(&ctx, SocketType::Req);
                req.connect("inproc://reqrep").unwrap();
                for i in 0..100 {
                    let m = format!("{c}-{i}");
                    req.send(&m, Flags::NONE).unwrap();
                    assert_eq!(req.recv(Flags::NONE).unwrap(), m.as_str());
                }
            })
        })
        .collect();
    for c in clients {
        c.join().unwrap();
    }
    server.join().unwrap();
}

#[test]
fn subscriptions_reach_the_publisher_and_filter() {
    let ctx = Context::new();
    let mut publisher = sock(&ctx, SocketType::XPub);
    publisher.bind("inproc://pubsub").unwrap();
    let mut sub = sock(&ctx, SocketType::Sub);
    sub.connect("inproc://pubsub").unwrap();
    sub.set(SocketOption::Subscribe(Bytes::from_static(b"a")))
        .unwrap();
    // The XPUB receives the subscription as a message.
    assert_eq!(publisher.recv(Flags::NONE).unwrap(), b"\x01a".as_slice());
    publisher.send("b-no", Flags::NONE).unwrap();
    publisher.send("a-yes", Flags::NONE).unwrap();
    assert_eq!(sub.recv(Flags::NONE).unwrap(), "a-yes");
    sub.set(SocketOption::Unsubscribe(Bytes::from_static(b"a")))
        .unwrap();
    assert_eq!(publisher.recv(Flags::NONE).unwrap(), b"\x00a".as_slice());
    publisher.send("a-no", Flags::NONE).unwrap();
    assert_no_message(&mut sub);
}

#[test]
fn monitor_sees_connected_accepted_and_disconnected() {
    let ctx = Context::new();
    let b = sock(&ctx, SocketType::Pair);
    let bmon = b.monitor();
    b.bind("inproc://events").unwrap();
    let c = sock(&ctx, SocketType::Pair);
    let cmon = c.monitor();
    c.connect("inproc://events").unwrap();
    await_event(&bmon, "Accepted");
    let mut b = b;
    // The connecter learns of the bind at its next call.
    assert_no_message(&mut b);
    let mut c = c;
    assert_no_message(&mut c);
    await_event(&cmon, "Connected");
    drop(c);
    assert_no_message(&mut b);
    await_event(&bmon, "Disconnected");
}

#[test]
fn a_closed_peers_messages_are_still_delivered_then_the_pipe_goes() {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://closed").unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect("inproc://closed").unwrap();
    for i in 0..10u8 {
        push.send([i].as_slice(), Flags::NONE).unwrap();
    }
    drop(push);
    for i in 0..10u8 {
        assert_eq!(pull.recv(Flags::NONE).unwrap(), [i].as_slice());
    }
    assert_no_message(&mut pull);
}

#[test]
fn disconnect_leaves_no_peer() {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://disc").unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect("inproc://disc").unwrap();
    push.send("one", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "one");
    push.disconnect("inproc://disc").unwrap();
    assert_eq!(
        push.send("two", Flags::DONTWAIT).unwrap_err().kind(),
        ErrorKind::Again
    );
    assert_eq!(
        push.disconnect("inproc://disc").unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_no_message(&mut pull);
}

#[test]
fn incompatible_types_are_refused() {
    let ctx = Context::new();
    let b = sock(&ctx, SocketType::Push);
    let bmon = b.monitor();
    b.bind("inproc://mismatch").unwrap();
    let mut c = sock(&ctx, SocketType::Push);
    let cmon = c.monitor();
    c.connect("inproc://mismatch").unwrap();
    let e = await_event(&bmon, "HandshakeFailed");
    assert!(e.to_string().contains("PUSH"), "{e}");
    assert_eq!(
        c.send("x", Flags::DONTWAIT).unwrap_err().kind(),
        ErrorKind::Again
    );
    await_event(&cmon, "HandshakeFailed");
}

#[test]
fn connect_routing_id_names_the_peer_at_a_connecting_router() {
    let ctx = Context::new();
    let mut server = sock(&ctx, SocketType::Router);
    server
        .set(SocketOption::RoutingId(Bytes::from_static(b"srv")))
        .unwrap();
    server.bind("inproc://crid").unwrap();
    let mut client = sock(&ctx, SocketType::Router);
    client
        .set(SocketOption::ConnectRoutingId(Bytes::from_static(
            b"to-server",
        )))
        .unwrap();
    client
        .set(SocketOption::RoutingId(Bytes::from_static(b"cli")))
        .unwrap();
    client.set(SocketOption::RouterMandatory(true)).unwrap();
    client.connect("inproc://crid").unwrap();
    client
        .send_multipart(["to-server", "hi"], Flags::NONE)
        .unwrap();
    assert_eq!(server.recv_multipart(Flags::NONE).unwrap(), ["cli", "hi"]);
}

#[test]
fn a_blocking_receive_in_another_thread_is_woken() {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://wake").unwrap();
    let t = std::thread::spawn(move || pull.recv(Flags::NONE).unwrap());
    let mut push = sock(&ctx, SocketType::Push);
    push.connect("inproc://wake").unwrap();
    push.send("late", Flags::NONE).unwrap();
    assert_eq!(t.join().unwrap(), "late");
}

#[test]
fn copied_and_handed_over_messages_keep_their_order() {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://order").unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect("inproc://order").unwrap();
    let body = |i: usize| -> Vec<u8> {
        // Small and large copies, an empty one, owned buffers and multipart messages.
        let len = [0, 1, 64, 2047, 2048, 2049, 70_000][i % 7];
        (0..len).map(|j| (i + j) as u8).collect()
    };
    for i in 0..500 {
        let b = body(i);
        match i % 3 {
            0 => push.send(&b, Flags::NONE).unwrap(),
            1 => push.send(b, Flags::NONE).unwrap(),
            _ => push.send_multipart([&b[..], b"tail"], Flags::NONE).unwrap(),
        }
    }
    for i in 0..500 {
        let b = body(i);
        let got = pull.recv_multipart(Flags::NONE).unwrap();
        if i % 3 == 2 {
            assert_eq!(got, [&b[..], b"tail"], "message {i}");
        } else {
            assert_eq!(got, [&b[..]], "message {i}");
        }
    }
    assert_no_message(&mut pull);
}

#[test]
fn conflate_keeps_the_newest_message() {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://conflate").unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::Conflate(true)).unwrap();
    push.connect("inproc://conflate").unwrap();
    for i in 0..100u32 {
        push.send(i.to_be_bytes().as_slice(), Flags::NONE).unwrap();
    }
    push.send(Bytes::from_static(b"owned"), Flags::NONE)
        .unwrap();
    push.send("newest", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "newest");
    assert_no_message(&mut pull);
}

#[test]
fn the_descriptor_fires_for_a_message_after_events_said_none() {
    use std::os::fd::AsRawFd;
    use zsock::Events;
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://fd").unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect("inproc://fd").unwrap();
    let fd = pull.fd().unwrap().as_raw_fd();
    for round in 0..100u32 {
        push.send(round.to_be_bytes().as_slice(), Flags::NONE)
            .unwrap();
        assert_eq!(
            pull.recv(Flags::NONE).unwrap(),
            round.to_be_bytes().as_slice()
        );
        // "Nothing" (which empties the descriptor): the next message must make the
        // descriptor readable, as an event loop waiting on it expects.
        assert!(!pull.events().contains(Events::POLLIN));
        push.send("next", Flags::NONE).unwrap();
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd, count 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, 10_000) };
        assert_eq!(rc, 1, "round {round}: the descriptor did not fire");
        assert!(pull.events().contains(Events::POLLIN));
        assert_eq!(pull.recv(Flags::NONE).unwrap(), "next");
    }
}

#[test]
fn a_poll_started_before_the_send_is_woken() {
    use zsock::{poll, Events, PollItem};
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://poll").unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect("inproc://poll").unwrap();
    push.send("first", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "first");
    let t = std::thread::spawn(move || {
        let mut items = [PollItem::new(&pull, Events::POLLIN)];
        poll(&mut items, Some(std::time::Duration::from_secs(10))).unwrap();
        assert!(items[0].is_readable());
        pull.recv(Flags::NONE).unwrap()
    });
    push.send("late", Flags::NONE).unwrap();
    assert_eq!(t.join().unwrap(), "late");
}

// ---------------------------------------------------------------------------------------
// libzmq's test_hwm (inproc): how many messages a PUSH queues before it would block.

const MAX_SENDS: usize = 10_000;

/// Sends empty messages without waiting until refused or [`MAX_SENDS`]; how many.
fn send_until_blocked(s: &mut zsock::Socket) -> usize {
    let mut n = 0;
    while n < MAX_SENDS && s.send(b"", Flags::DONTWAIT).is_ok() {
        n += 1;
    }
    n
}

/// Receives without waiting until nothing is left; how many.
fn recv_all(s: &mut zsock::Socket) -> usize {
    let mut n = 0;
    while s.recv(Flags::DONTWAIT).is_ok() {
        n += 1;
    }
    n
}

/// libzmq's `count_msg`: a PULL with `rcvhwm` and a PUSH with `sndhwm`, joined in the order
/// given; the PUSH sends until refused, the PULL receives all of it, and then one more
/// message goes through. Returns how many were queued.
fn count_msg(sndhwm: i32, rcvhwm: i32, bind_first: bool) -> usize {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::RcvHwm(rcvhwm)).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::SndHwm(sndhwm)).unwrap();
    if bind_first {
        pull.bind("inproc://a").unwrap();
        push.connect("inproc://a").unwrap();
    } else {
        push.connect("inproc://a").unwrap();
        pull.bind("inproc://a").unwrap();
    }
    let sent = send_until_blocked(&mut push);
    assert_eq!(recv_all(&mut pull), sent);
    push.send(b"", Flags::NONE).unwrap();
    pull.recv(Flags::NONE).unwrap();
    sent
}

#[test]
fn hwm_defaults_queue_2000() {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://a").unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect("inproc://a").unwrap();
    let sent = send_until_blocked(&mut push);
    assert_eq!(recv_all(&mut pull), sent);
    // 1000 on each side.
    assert_eq!(sent, 2000);
}

#[test]
fn hwm_counts_as_libzmq_does_in_either_order() {
    for bind_first in [true, false] {
        for (snd, rcv, queued) in [
            (0, 0, MAX_SENDS),
            (1, 0, MAX_SENDS),
            (0, 1, MAX_SENDS),
            (1, 1, 2),
        ] {
            assert_eq!(
                count_msg(snd, rcv, bind_first),
                queued,
                "SNDHWM {snd}, RCVHWM {rcv}, bind first: {bind_first}"
            );
        }
    }
}

#[test]
fn hwm_before_any_bind_is_the_senders_and_survives_its_close() {
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::SndHwm(1)).unwrap();
    push.set(SocketOption::Linger(-1)).unwrap();
    push.connect("inproc://a").unwrap();
    let sent = send_until_blocked(&mut push);
    assert_eq!(sent, 1);
    drop(push);
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::RcvHwm(0)).unwrap();
    pull.bind("inproc://a").unwrap();
    assert_eq!(recv_all(&mut pull), 1);
}

// ---------------------------------------------------------------------------------------
// libzmq's test_ctx_destroy: a context shut down ends the blocking calls of its sockets.

#[test]
fn ctx_destroy_after_close() {
    let ctx = Context::new();
    let s = sock(&ctx, SocketType::Pull);
    drop(s);
    drop(ctx);
}

#[test]
fn ctx_shutdown_ends_a_blocking_receive_in_another_thread() {
    let ctx = Context::new();
    let mut pull = ctx.socket(SocketType::Pull).unwrap(); // no RCVTIMEO: blocks for ever
    pull.bind("inproc://shutdown").unwrap();
    let receiver = std::thread::spawn(move || {
        let e = pull.recv(Flags::NONE).unwrap_err();
        (e.kind(), pull)
    });
    ctx.shutdown();
    let (kind, pull) = receiver.join().unwrap();
    assert_eq!(kind, ErrorKind::Terminated);
    // Every later call says so too; closing works; new sockets are refused.
    let mut pull = pull;
    assert_eq!(
        pull.recv(Flags::DONTWAIT).unwrap_err().kind(),
        ErrorKind::Terminated
    );
    assert_eq!(
        pull.connect("inproc://other").unwrap_err().kind(),
        ErrorKind::Terminated
    );
    drop(pull);
    assert_eq!(
        ctx.socket(SocketType::Pull).unwrap_err().kind(),
        ErrorKind::Terminated
    );
}

#[test]
fn ctx_shutdown_ends_blocking_sends_and_polls() {
    use zsock::{poll, Events, PollItem};
    let ctx = Context::new();
    let mut push = ctx.socket(SocketType::Push).unwrap();
    push.connect("inproc://nobody").unwrap();
    push.set(SocketOption::SndHwm(1)).unwrap();
    let sub = ctx.socket(SocketType::Sub).unwrap();
    let sender = std::thread::spawn(move || loop {
        // Fills the pending connect's queue, then blocks.
        if let Err(e) = push.send("x", Flags::NONE) {
            return e.kind();
        }
    });
    let poller = std::thread::spawn(move || {
        let mut items = [PollItem::new(&sub, Events::POLLIN)];
        poll(&mut items, None).unwrap_err().kind()
    });
    ctx.shutdown();
    assert_eq!(sender.join().unwrap(), ErrorKind::Terminated);
    assert_eq!(poller.join().unwrap(), ErrorKind::Terminated);
}

#[test]
fn an_xsub_subscribes_to_a_pub_and_an_xpub_over_inproc() {
    let ctx = Context::new();
    let mut publisher = sock(&ctx, SocketType::Pub);
    publisher.bind("inproc://xsub-pub").unwrap();
    let mut xpub = sock(&ctx, SocketType::XPub);
    xpub.bind("inproc://xsub-xpub").unwrap();
    let mut xsub = sock(&ctx, SocketType::XSub);
    xsub.connect("inproc://xsub-pub").unwrap();
    xsub.connect("inproc://xsub-xpub").unwrap();
    // An XSUB subscribes by sending the subscription as a message.
    xsub.send(b"\x01news".as_slice(), Flags::NONE).unwrap();
    assert_eq!(xpub.recv(Flags::NONE).unwrap(), b"\x01news".as_slice());
    publisher.send("sport", Flags::NONE).unwrap();
    publisher.send("news 1", Flags::NONE).unwrap();
    assert_eq!(xsub.recv(Flags::NONE).unwrap(), "news 1");
    xpub.send("news 2", Flags::NONE).unwrap();
    assert_eq!(xsub.recv(Flags::NONE).unwrap(), "news 2");
    assert_no_message(&mut xsub);
}

#[test]
fn ctx_shutdown_during_a_pending_connect() {
    // libzmq's test_shutdown_during_pend: a connect waiting for its bind, then the
    // context shut down, then the socket closed: nothing hangs.
    let ctx = Context::new();
    let s = sock(&ctx, SocketType::Pair);
    s.connect("inproc://cbb").unwrap();
    ctx.shutdown();
    drop(s);
    drop(ctx);
}

/// Runs `f` in a thread of its own and waits for it for 10 s at most: a hang fails the test
/// instead of stopping the run.
fn within_10s(what: &str, f: impl FnOnce() + Send + 'static) {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    let t = std::thread::spawn(move || {
        f();
        let _ = done_tx.send(());
    });
    assert!(
        done_rx
            .recv_timeout(std::time::Duration::from_secs(10))
            .is_ok(),
        "{what} did not finish within 10 s"
    );
    t.join().unwrap();
}

/// A PULL dropped in another thread while its PUSH is blocked sending to it (the pipe at
/// its HWM): the drop completes, and the sender, with no peer left, waits as libzmq's does
/// until its SNDTIMEO says EAGAIN.
#[test]
fn a_receiver_dropped_in_another_thread_while_its_sender_is_blocked() {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::RcvHwm(1)).unwrap();
    pull.bind("inproc://dropped").unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::SndHwm(1)).unwrap();
    push.set(SocketOption::SndTimeo(300)).unwrap();
    push.connect("inproc://dropped").unwrap();
    assert!(fill(&mut push) > 0);
    let (blocked_tx, blocked_rx) = std::sync::mpsc::channel();
    let sender = std::thread::spawn(move || {
        blocked_tx.send(()).unwrap();
        push.send("blocked", Flags::NONE)
    });
    blocked_rx.recv().unwrap();
    within_10s("dropping the PULL", move || drop(pull));
    let sent = sender.join().unwrap();
    assert_eq!(sent.unwrap_err().kind(), ErrorKind::Again);
}

/// Sockets with messages queued both ways and LINGER -1 (wait for every message), dropped
/// with their context: over inproc nothing waits in a kernel or for a reconnect, so all of
/// it completes, and no thread panics.
#[test]
fn a_context_with_messages_queued_both_ways_closes() {
    within_10s("closing the context", || {
        let ctx = Context::new();
        let mut a = sock(&ctx, SocketType::Pair);
        a.set(SocketOption::Linger(-1)).unwrap();
        a.bind("inproc://both-ways").unwrap();
        let mut b = sock(&ctx, SocketType::Pair);
        b.set(SocketOption::Linger(-1)).unwrap();
        b.connect("inproc://both-ways").unwrap();
        for i in 0..50u8 {
            a.send([i].as_slice(), Flags::NONE).unwrap();
            b.send([i].as_slice(), Flags::NONE).unwrap();
        }
        // One side gets its first message, so both flows have been looked at.
        assert_eq!(b.recv(Flags::NONE).unwrap(), [0u8].as_slice());
        drop((a, b));
        drop(ctx);
    });
}

/// Binds, unbinds, connects and closes on one name from several threads at once: nothing
/// deadlocks or panics, and the name works afterwards.
#[test]
fn bind_unbind_and_connect_race_from_many_threads() {
    let ctx = Context::new();
    const NAME: &str = "inproc://race";
    let name = NAME;
    let binder = {
        let ctx = ctx.clone();
        move || {
            for _ in 0..200 {
                let s = sock(&ctx, SocketType::Pull);
                if s.bind(NAME).is_ok() {
                    let _ = s.unbind(NAME);
                }
            }
        }
    };
    let connector = |ctx: Context| {
        move || {
            for i in 0..200u32 {
                let mut s = sock(&ctx, SocketType::Push);
                s.connect(NAME).unwrap();
                let _ = s.send(i.to_be_bytes().as_slice(), Flags::DONTWAIT);
                if i % 2 == 0 {
                    let _ = s.disconnect(NAME);
                }
            }
        }
    };
    let ctx2 = ctx.clone();
    let ctx3 = ctx.clone();
    within_10s("the race", move || {
        let threads = [
            std::thread::spawn(binder),
            std::thread::spawn(connector(ctx2)),
            std::thread::spawn(connector(ctx3)),
        ];
        for t in threads {
            t.join().unwrap();
        }
    });
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind(name).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect(name).unwrap();
    push.send("after", Flags::NONE).unwrap();
    // (Messages a racing connector sent before this bind wait for it, as libzmq delivers
    // what is sent to a name before anyone binds it: they may come first.)
    loop {
        let m = pull.recv(Flags::NONE).unwrap();
        if m == "after" {
            break;
        }
        assert!(
            m.len() == 4 && u32::from_be_bytes(m[..].try_into().unwrap()) < 200,
            "{m:?}"
        );
    }
}

/// Polls `item` from a thread of its own, over and over without waiting, until the
/// returned flag is set: a poll item is `Send`, so another thread may poll a socket while
/// the thread that uses it blocks on it.
fn poll_in_a_loop(
    mut item: zsock::PollItem,
) -> (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::thread::JoinHandle<()>,
) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let poller = std::thread::spawn(move || {
        while !flag.load(std::sync::atomic::Ordering::SeqCst) {
            let _ = zsock::poll(std::slice::from_mut(&mut item), Some(Duration::ZERO));
        }
    });
    (stop, poller)
}

/// A blocking receive whose socket another thread keeps polling gets every message: the
/// poll's look at the socket never takes the receive's wake-up (it did: one receive in
/// twenty slept out its RCVTIMEO with the message there).
#[test]
fn a_poll_from_another_thread_leaves_a_blocked_receive_its_wake_up() {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://polled-recv").unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect("inproc://polled-recv").unwrap();
    pull.set(SocketOption::RcvTimeo(3000)).unwrap();
    let (stop, poller) = poll_in_a_loop(pull.as_poll_item(zsock::Events::POLLIN));
    let receiver = std::thread::spawn(move || {
        (0..20)
            .map(|_| pull.recv(Flags::NONE).map_err(|e| e.kind()))
            .collect::<Vec<_>>()
    });
    for i in 0..20 {
        // (A pause so that the receive is asleep when the message comes.)
        std::thread::sleep(Duration::from_millis(10));
        push.send(format!("m{i}"), Flags::NONE).unwrap();
    }
    let got = receiver.join().unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    poller.join().unwrap();
    let want: Vec<_> = (0..20).map(|i| Ok(Bytes::from(format!("m{i}")))).collect();
    assert_eq!(got, want);
}

/// The same for a blocking send waiting for room while another thread polls its socket
/// for POLLOUT.
#[test]
fn a_poll_from_another_thread_leaves_a_blocked_send_its_wake_up() {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::RcvHwm(1)).unwrap();
    pull.bind("inproc://polled-send").unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::SndHwm(1)).unwrap();
    push.set(SocketOption::SndTimeo(3000)).unwrap();
    push.connect("inproc://polled-send").unwrap();
    let (stop, poller) = poll_in_a_loop(push.as_poll_item(zsock::Events::POLLOUT));
    let sender = std::thread::spawn(move || {
        (0..40)
            .map(|i| {
                push.send(format!("m{i}"), Flags::NONE)
                    .map_err(|e| e.kind())
            })
            .collect::<Vec<_>>()
    });
    let mut got = Vec::new();
    for _ in 0..40 {
        // (A pause so that the send is asleep, the queue full, when room comes.)
        std::thread::sleep(Duration::from_millis(10));
        got.push(pull.recv(Flags::NONE).unwrap());
    }
    let sent = sender.join().unwrap();
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    poller.join().unwrap();
    assert!(sent.iter().all(Result::is_ok), "{sent:?}");
    let want: Vec<Bytes> = (0..40).map(|i| Bytes::from(format!("m{i}"))).collect();
    assert_eq!(got, want);
}
