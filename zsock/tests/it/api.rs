//! The conveniences a pyzmq or `zmq` crate user reaches for: sending borrowed and owned
//! bytes, whole messages as lists of frames, text, poll items built once, monitors.

use std::time::Duration;

use zsock::{
    poll, Bytes, Context, Errno, ErrorKind, Event, Events, Flags, Monitor, PollItem, SocketOption,
    SocketType,
};

use crate::support::{bound_pair, Dir};

#[test]
fn send_takes_borrowed_and_owned_bytes() {
    let ctx = Context::new();
    let d = Dir::new();
    let (mut pull, mut push) = bound_pair(&ctx, &d, "s", SocketType::Pull, SocketType::Push);
    let local = [7u8; 3];
    let text = String::from("text");
    let vec = b"vec".to_vec();
    push.send(b"array", Flags::NONE).unwrap();
    push.send(&local, Flags::NONE).unwrap(); // a borrowed array that is not 'static
    push.send(&local[..2], Flags::NONE).unwrap();
    push.send("str", Flags::NONE).unwrap();
    push.send(&text, Flags::NONE).unwrap();
    push.send(&vec, Flags::NONE).unwrap();
    push.send(text.clone(), Flags::NONE).unwrap();
    push.send(vec.clone(), Flags::NONE).unwrap();
    push.send(Bytes::from_static(b"bytes"), Flags::NONE)
        .unwrap();
    let want: [&[u8]; 9] = [
        b"array",
        &local,
        &local[..2],
        b"str",
        b"text",
        b"vec",
        b"text",
        b"vec",
        b"bytes",
    ];
    for w in want {
        assert_eq!(pull.recv(Flags::NONE).unwrap(), w);
    }
}

#[test]
fn multipart_round_trips_with_empty_and_large_frames() {
    let ctx = Context::new();
    let d = Dir::new();
    let (mut pull, mut push) = bound_pair(&ctx, &d, "m", SocketType::Pull, SocketType::Push);
    let big = vec![0xabu8; 1 << 20];
    push.send_multipart([&b"head"[..], b"", &big], Flags::NONE)
        .unwrap();
    let got = pull.recv_multipart(Flags::NONE).unwrap();
    assert_eq!(got.len(), 3);
    assert_eq!(got[0], "head");
    assert!(got[1].is_empty());
    assert_eq!(got[2], big);
    // Owned frames, and frames of one message split between SNDMORE calls.
    push.send("first", Flags::SNDMORE).unwrap();
    push.send_multipart(vec![b"a".to_vec(), b"b".to_vec()], Flags::SNDMORE)
        .unwrap();
    push.send_multipart(["last"], Flags::NONE).unwrap();
    assert_eq!(
        pull.recv_multipart(Flags::NONE).unwrap(),
        ["first", "a", "b", "last"]
    );
    // recv_multipart after recv: the rest of the message.
    push.send_multipart(["x", "y", "z"], Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "x");
    assert!(pull.rcvmore());
    assert_eq!(pull.recv_multipart(Flags::NONE).unwrap(), ["y", "z"]);
    assert!(!pull.rcvmore());
    let none: [&str; 0] = [];
    let e = push.send_multipart(none, Flags::NONE).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
}

#[test]
fn recv_string_refuses_bytes_that_are_not_utf8_and_keeps_them() {
    let ctx = Context::new();
    let d = Dir::new();
    let (mut pull, mut push) = bound_pair(&ctx, &d, "t", SocketType::Pull, SocketType::Push);
    push.send("grüße", Flags::NONE).unwrap();
    push.send(&[b'o', b'k', 0xff, 0xfe][..], Flags::NONE)
        .unwrap();
    push.send("after", Flags::NONE).unwrap();
    assert_eq!(pull.recv_string(Flags::NONE).unwrap(), "grüße");
    let e = pull.recv_string(Flags::NONE).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.to_string().contains("offset 2"), "{e}");
    assert_eq!(e.into_frame().unwrap(), &[b'o', b'k', 0xff, 0xfe][..]);
    assert_eq!(pull.recv_string(Flags::NONE).unwrap(), "after");
}

#[test]
fn poll_items_built_once_serve_a_loop_that_sends_and_receives() {
    let ctx = Context::new();
    let d = Dir::new();
    let (mut pull, mut push) = bound_pair(&ctx, &d, "p", SocketType::Pull, SocketType::Push);
    let (mut rep, mut req) = bound_pair(&ctx, &d, "r", SocketType::Rep, SocketType::Req);
    // The items do not borrow the sockets: the loop below uses them mutably.
    let mut items = [
        pull.as_poll_item(Events::POLLIN),
        PollItem::new(&rep, Events::POLLIN),
    ];
    for i in 0..5 {
        push.send(format!("work {i}"), Flags::NONE).unwrap();
    }
    req.send("question", Flags::NONE).unwrap();
    let (mut work, mut answered) = (Vec::new(), false);
    while work.len() < 5 || !answered {
        let n = poll(&mut items, Some(Duration::from_secs(10))).unwrap();
        assert!(n > 0, "poll timed out");
        if items[0].is_readable() {
            // One at a time: the others, taken ahead by the first receive, must keep the
            // item readable.
            work.push(pull.recv_string(Flags::DONTWAIT).unwrap());
        }
        if items[1].is_readable() {
            assert_eq!(rep.recv(Flags::DONTWAIT).unwrap(), "question");
            rep.send("answer", Flags::NONE).unwrap();
            answered = true;
        }
    }
    assert_eq!(
        work,
        (0..5).map(|i| format!("work {i}")).collect::<Vec<_>>()
    );
    assert_eq!(req.recv(Flags::NONE).unwrap(), "answer");
    // Nothing left: a poll that times out says so.
    assert_eq!(poll(&mut items, Some(Duration::from_millis(1))).unwrap(), 0);
}

#[test]
fn poll_items_of_plain_descriptors_wait_beside_sockets() {
    use std::io::{Read, Write};
    let ctx = Context::new();
    let d = Dir::new();
    let (pull, mut push) = bound_pair(&ctx, &d, "f", SocketType::Pull, SocketType::Push);
    let (mut a, mut b) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut items = [
        PollItem::new(&pull, Events::POLLIN),
        PollItem::from_fd(&a, Events::POLLIN),
    ];
    // Nothing yet: the poll times out.
    assert_eq!(poll(&mut items, Some(Duration::from_millis(1))).unwrap(), 0);
    // A byte written from another thread while the poll sleeps wakes it.
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        b.write_all(b"x").unwrap();
        b
    });
    assert_eq!(poll(&mut items, Some(Duration::from_secs(10))).unwrap(), 1);
    assert!(!items[0].is_readable() && items[1].is_readable());
    let mut byte = [0u8];
    a.read_exact(&mut byte).unwrap();
    let b = writer.join().unwrap();
    // A message and the descriptor's room to write, together (once the message is there:
    // a poll returns as soon as any item is ready).
    push.send("m", Flags::NONE).unwrap();
    let mut only_pull = [PollItem::new(&pull, Events::POLLIN)];
    assert_eq!(
        poll(&mut only_pull, Some(Duration::from_secs(10))).unwrap(),
        1
    );
    let mut items = [
        PollItem::new(&pull, Events::POLLIN),
        PollItem::from_fd(&a, Events::POLLIN | Events::POLLOUT),
    ];
    assert_eq!(poll(&mut items, Some(Duration::from_secs(10))).unwrap(), 2);
    assert!(items[0].is_readable());
    assert!(items[1].is_writable() && !items[1].is_readable());
    // The peer's end closed: the descriptor reports readable (the read sees end of file).
    drop(b);
    let mut items = [PollItem::from_fd(&a, Events::POLLIN)];
    assert_eq!(poll(&mut items, Some(Duration::from_secs(10))).unwrap(), 1);
    assert_eq!(a.read(&mut byte).unwrap(), 0);
}

#[test]
fn poll_items_see_a_message_partly_received_and_a_closed_socket() {
    let ctx = Context::new();
    let d = Dir::new();
    let (mut pull, mut push) = bound_pair(&ctx, &d, "q", SocketType::Pull, SocketType::Push);
    let mut items = [pull.as_poll_item(Events::POLLIN)];
    push.send_multipart(["a", "b"], Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "a");
    assert_eq!(
        poll(&mut items, Some(Duration::ZERO)).unwrap(),
        1,
        "frame b waits"
    );
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "b");
    assert_eq!(poll(&mut items, Some(Duration::ZERO)).unwrap(), 0);
    drop(pull);
    let e = poll(&mut items, Some(Duration::ZERO)).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotSocket);
    assert_eq!(e.errno(), libc::ENOTSOCK);
}

/// Whether `fd` is readable now.
fn readable_now(fd: std::os::fd::BorrowedFd<'_>) -> bool {
    use std::os::fd::AsRawFd;
    let mut pfd = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
    rc == 1
}

/// The next event that `pick` accepts, within 10 s.
fn next_matching(mon: &Monitor, pick: impl Fn(&Event) -> bool) -> Event {
    loop {
        match mon.next(Some(Duration::from_secs(10))) {
            Some(e) if pick(&e) => return e,
            Some(_) => {}
            None => panic!("no such event within 10 s"),
        }
    }
}

#[test]
fn every_monitor_handle_gets_every_event_and_has_a_descriptor() {
    let ctx = Context::new();
    let d = Dir::new();
    let pull = ctx.socket(SocketType::Pull).unwrap();
    let first = pull.monitor();
    let second = pull.monitor();
    let fd = first.fd().unwrap();
    assert!(!readable_now(fd), "nothing happened yet");
    pull.bind(&d.ep("m")).unwrap();
    assert!(readable_now(fd), "an event waits");
    for mon in [&first, &second] {
        let e = mon.try_next().expect("each handle has the event");
        assert!(matches!(e, Event::Listening { .. }), "{e:?}");
    }
    assert!(!readable_now(fd), "all taken");
    assert_eq!(second.try_next(), None);
    // A handle made later sees what happens from then on.
    let third = pull.monitor();
    pull.unbind(&d.ep("m")).unwrap();
    for mon in [&first, &second, &third] {
        assert!(matches!(mon.try_next(), Some(Event::Closed { .. })));
    }
    drop(pull);
    assert_eq!(first.next(None), None, "the socket closed");
    assert!(readable_now(fd), "the end of the socket is readable too");
}

#[test]
fn events_name_their_errno_and_a_lost_connection_has_none() {
    let ctx = Context::new();
    let d = Dir::new();
    let mut push = ctx.socket(SocketType::Push).unwrap();
    push.set(SocketOption::ReconnectIvl(20)).unwrap();
    let mon = push.monitor();
    push.connect(&d.ep("later")).unwrap();
    let e = next_matching(&mon, |e| matches!(e, Event::ConnectRetried { .. }));
    let Event::ConnectRetried { errno, .. } = &e else {
        unreachable!()
    };
    assert_eq!(*errno, Some(Errno(libc::ENOENT)), "no file at the path yet");
    assert!(e.to_string().contains("ENOENT"), "{e}");
    assert_eq!(
        Errno(libc::ECONNREFUSED).to_string(),
        "ECONNREFUSED (Connection refused)"
    );

    // The peer comes, then goes: the retry after a lost connection names no errno.
    let pull = ctx.socket(SocketType::Pull).unwrap();
    pull.bind(&d.ep("later")).unwrap();
    next_matching(&mon, |e| matches!(e, Event::HandshakeSucceeded { .. }));
    drop(pull);
    next_matching(&mon, |e| matches!(e, Event::Disconnected { .. }));
    let e = next_matching(&mon, |e| matches!(e, Event::ConnectRetried { .. }));
    assert!(
        matches!(e, Event::ConnectRetried { errno: None, .. }),
        "no attempt failed: {e:?}"
    );
    assert!(e.to_string().starts_with("reconnecting to"), "{e}");
}

#[test]
fn the_peer_of_each_message_taken_ahead_from_several_peers_and_after_an_unsubscribe() {
    let ctx = Context::new();
    let d = Dir::new();
    let (a_ep, b_ep) = (d.ep("a"), d.ep("b"));
    // A PULL with two peers takes messages ahead from both: each keeps its own peer.
    let mut pull = ctx.socket(SocketType::Pull).unwrap();
    pull.bind(&a_ep).unwrap();
    pull.bind(&b_ep).unwrap();
    let mut pushes: Vec<_> = [&a_ep, &b_ep]
        .iter()
        .map(|ep| {
            let p = ctx.socket(SocketType::Push).unwrap();
            p.connect(ep).unwrap();
            p
        })
        .collect();
    for _ in 0..20 {
        for (p, name) in pushes.iter_mut().zip(["a", "b"]) {
            p.send(name, Flags::NONE).unwrap();
        }
    }
    for _ in 0..40 {
        let from = pull.recv_string(Flags::NONE).unwrap();
        let peer = pull.peer().unwrap();
        assert_eq!(peer.endpoint(), d.ep(&from), "message from {from}");
    }
    // A SUB whose messages taken ahead are filtered again by an unsubscribe.
    let mut sub = ctx.socket(SocketType::Sub).unwrap();
    sub.set(SocketOption::Subscribe("x".into())).unwrap();
    sub.set(SocketOption::Subscribe("y".into())).unwrap();
    let mut pubs: Vec<_> = ["px", "py"]
        .iter()
        .map(|name| {
            let p = ctx.socket(SocketType::Pub).unwrap();
            p.bind(&d.ep(name)).unwrap();
            sub.connect(&d.ep(name)).unwrap();
            p
        })
        .collect();
    // Publish until both subscriptions arrived at both publishers.
    sub.set(SocketOption::RcvTimeo(20)).unwrap();
    let mut seen = std::collections::HashSet::new();
    while seen.len() < 2 {
        for (p, topic) in pubs.iter_mut().zip(["x", "y"]) {
            p.send(topic, Flags::NONE).unwrap();
        }
        if let Ok(t) = sub.recv_string(Flags::NONE) {
            seen.insert(t);
        }
    }
    sub.set(SocketOption::RcvTimeo(10_000)).unwrap();
    while sub.recv(Flags::DONTWAIT).is_ok() {}
    for _ in 0..10 {
        for (p, topic) in pubs.iter_mut().zip(["x", "y"]) {
            p.send(topic, Flags::NONE).unwrap();
        }
    }
    // The first receive takes the rest ahead; the unsubscribe drops the x ones from it.
    let first = sub.recv_string(Flags::NONE).unwrap();
    assert_eq!(sub.peer().unwrap().endpoint(), d.ep(&format!("p{first}")));
    sub.set(SocketOption::Unsubscribe("x".into())).unwrap();
    while let Ok(t) = sub.recv_string(Flags::DONTWAIT) {
        assert_eq!(t, "y", "x was unsubscribed");
        assert_eq!(sub.peer().unwrap().endpoint(), d.ep("py"));
    }
}

/// An event loop's receive may spin before it waits exactly where a blocking receive
/// polls before it sleeps: on a machine with more than one CPU, for well under a
/// millisecond.
#[test]
fn a_receive_spins_only_with_more_than_one_cpu() {
    let ctx = Context::new();
    let s = ctx.socket(SocketType::Pull).unwrap();
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let spin = s.reply_spin();
    assert_eq!(spin.is_some(), cpus > 1, "{cpus} CPUs");
    assert!(spin.is_none_or(|d| !d.is_zero() && d < Duration::from_millis(1)));
}

/// pyzmq's `sub.subscribe(topic)` and `sub.unsubscribe(topic)`, with topics of any byte
/// type; refused on other socket types as SUBSCRIBE is. Events print as their names.
#[test]
fn subscribe_takes_topics_of_any_byte_type() {
    let ctx = Context::new();
    let d = Dir::new();
    let (mut publisher, mut sub) = bound_pair(&ctx, &d, "t", SocketType::Pub, SocketType::Sub);
    let name = String::from("b.");
    sub.subscribe("a.").unwrap();
    sub.subscribe(&name).unwrap();
    sub.subscribe(b"c.").unwrap();
    sub.subscribe(vec![b'd', b'.']).unwrap();
    sub.unsubscribe(&name).unwrap();
    sub.set(SocketOption::RcvTimeo(10_000)).unwrap();
    // Subscribed once a message gets through.
    while sub.recv(Flags::DONTWAIT).is_err() {
        publisher.send("a.hello?", Flags::NONE).unwrap();
        std::thread::yield_now();
    }
    while sub.recv(Flags::DONTWAIT).is_ok() {}
    for topic in ["b.no", "c.yes", "x.no", "d.yes"] {
        publisher.send(topic, Flags::NONE).unwrap();
    }
    assert_eq!(sub.recv(Flags::NONE).unwrap(), "c.yes");
    assert_eq!(sub.recv(Flags::NONE).unwrap(), "d.yes");
    let e = publisher.subscribe("a.").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert_eq!(
        format!("{:?}", Events::POLLIN | Events::POLLOUT),
        "POLLIN | POLLOUT"
    );
    assert_eq!(format!("{:?}", Events::NONE), "NONE");
}
