//! Socket behaviour a libzmq user relies on: connect before bind, reconnects with
//! resubscription, REQ/REP recovery, many endpoints, unbind/disconnect, pollable
//! descriptors, closing without hanging, and errors that carry the errno.

use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zsock::{Context, ErrorKind, Event, Events, Flags, PollItem, SocketOption, SocketType};

use crate::options::{
    assert_nothing_arrives, drain_events, path_of, wait_disconnected, wait_event, wait_handshake,
    LONG,
};
use crate::support::*;

#[test]
fn connect_before_bind_delivers_everything_in_order() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect(&d.ep("later")).unwrap();
    for i in 0..3 {
        push.send(format!("m{i}"), Flags::NONE).unwrap();
    }
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind(&d.ep("later")).unwrap();
    for i in 0..3 {
        assert_eq!(pull.recv(Flags::NONE).unwrap(), format!("m{i}").as_bytes());
    }
}

/// The same, on a socket whose I/O thread is already idle when `connect` is called (its
/// only connection is quiet and its next timer is far away): the retry must still happen.
#[test]
fn an_idle_socket_retries_a_connect_made_before_the_bind() {
    let d = Dir::new();
    let ctx = Context::new();
    let _first = {
        let s = sock(&ctx, SocketType::Pull);
        s.bind(&d.ep("first")).unwrap();
        s
    };
    let mut push = sock(&ctx, SocketType::Push);
    let mon = push.monitor();
    push.connect(&d.ep("first")).unwrap();
    wait_handshake(&mon);
    push.connect(&d.ep("second")).unwrap(); // nobody there yet: a retry is due in 100-200 ms
    wait_event(&mon, "ConnectRetried", |e| {
        matches!(e, Event::ConnectRetried { .. })
    });
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind(&d.ep("second")).unwrap();
    let second = d.ep("second");
    wait_event(
        &mon,
        "HandshakeSucceeded on the second endpoint",
        |e| matches!(e, Event::HandshakeSucceeded { endpoint, .. } if *endpoint == second),
    );
    push.send_msg(zsock::Message::from("0"), Flags::NONE)
        .unwrap();
    push.send_msg(zsock::Message::from("1"), Flags::NONE)
        .unwrap();
    let got = pull.recv(Flags::NONE).unwrap();
    assert!(got == "0" || got == "1", "{got:?}");
}

#[test]
fn sub_gets_a_restarted_publishers_messages_without_resubscribing() {
    let d = Dir::new();
    let ep = d.ep("feed");
    let ctx = Context::new();
    let mut publ = sock(&ctx, SocketType::Pub);
    publ.bind(&ep).unwrap();
    let mut sub = sock(&ctx, SocketType::Sub);
    sub.set(SocketOption::Subscribe("t".into())).unwrap();
    sub.set(SocketOption::RcvTimeo(50)).unwrap();
    let mon = sub.monitor();
    sub.connect(&ep).unwrap();
    for round in ["old", "new"] {
        let want = format!("t {round}");
        let deadline = Instant::now() + LONG;
        loop {
            publ.send("x other topic", Flags::NONE).unwrap();
            publ.send(want.clone(), Flags::NONE).unwrap();
            match sub.recv(Flags::NONE) {
                Ok(m) if m == want.as_bytes() => break,
                Ok(m) => assert_eq!(m, "t old", "only subscribed topics arrive"),
                Err(e) => assert_eq!(e.kind(), ErrorKind::Again),
            }
            assert!(
                Instant::now() < deadline,
                "no `{want}` within {LONG:?}; events: {:#?}",
                drain_events(&mon)
            );
        }
        if round == "old" {
            drop(publ);
            wait_disconnected(&mon);
            publ = sock(&ctx, SocketType::Pub);
            publ.bind(&ep).unwrap();
        }
    }
}

/// A REQ whose REP dies after taking the request.
fn req_with_dead_rep(relaxed: bool) -> (Context, zsock::Socket, Dir) {
    let d = Dir::new();
    let ctx = Context::new();
    let mut req = sock(&ctx, SocketType::Req);
    req.set(SocketOption::ReqRelaxed(relaxed)).unwrap();
    let mon = req.monitor();
    req.connect(&d.ep("svc")).unwrap();
    let mut rep = sock(&ctx, SocketType::Rep);
    rep.bind(&d.ep("svc")).unwrap();
    req.send("q1", Flags::NONE).unwrap();
    assert_eq!(rep.recv(Flags::NONE).unwrap(), "q1");
    drop(rep); // dies without replying
    wait_disconnected(&mon);
    (ctx, req, d)
}

#[test]
fn req_without_relaxed_is_stuck_after_its_rep_dies_mid_request() {
    let (ctx, mut req, d) = req_with_dead_rep(false);
    req.set(SocketOption::RcvTimeo(300)).unwrap();
    assert_eq!(req.recv(Flags::NONE).unwrap_err().kind(), ErrorKind::Again);
    assert_eq!(
        req.send("q2", Flags::NONE).unwrap_err().kind(),
        ErrorKind::Fsm
    );
    // A new REP does not help: the REQ still waits for the lost reply.
    let _rep = {
        let r = sock(&ctx, SocketType::Rep);
        r.bind(&d.ep("svc")).unwrap();
        r
    };
    assert_eq!(
        req.send("q2", Flags::NONE).unwrap_err().kind(),
        ErrorKind::Fsm
    );
}

#[test]
fn req_relaxed_recovers_with_a_new_request_to_a_new_rep() {
    let (ctx, mut req, d) = req_with_dead_rep(true);
    let mut rep = sock(&ctx, SocketType::Rep);
    rep.bind(&d.ep("svc")).unwrap();
    req.send("q2", Flags::NONE).unwrap();
    assert_eq!(rep.recv(Flags::NONE).unwrap(), "q2");
    rep.send("a2", Flags::NONE).unwrap();
    assert_eq!(req.recv(Flags::NONE).unwrap(), "a2");
}

#[test]
fn one_socket_binds_and_connects_many_endpoints() {
    let d = Dir::new();
    let ctx = Context::new();
    // One PULL, two bound paths, a PUSH on each.
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind(&d.ep("one")).unwrap();
    pull.bind(&d.ep("two")).unwrap();
    for name in ["one", "two"] {
        let mut push = sock(&ctx, SocketType::Push);
        push.connect(&d.ep(name)).unwrap();
        push.send(format!("via {name}"), Flags::NONE).unwrap();
        assert_eq!(
            pull.recv(Flags::NONE).unwrap(),
            format!("via {name}").as_bytes()
        );
    }
    // One PUSH connected to two PULLs: round robin.
    let mut a = sock(&ctx, SocketType::Pull);
    a.bind(&d.ep("a")).unwrap();
    let mut b = sock(&ctx, SocketType::Pull);
    b.bind(&d.ep("b")).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    let mon = push.monitor();
    push.connect(&d.ep("a")).unwrap();
    push.connect(&d.ep("b")).unwrap();
    wait_handshake(&mon);
    wait_handshake(&mon);
    for i in 0..4 {
        push.send(format!("{i}"), Flags::NONE).unwrap();
    }
    for s in [&mut a, &mut b] {
        let x = s.recv(Flags::NONE).unwrap();
        let y = s.recv(Flags::NONE).unwrap();
        assert_eq!(x[0] % 2, y[0] % 2, "every other message: {x:?} {y:?}");
    }
}

#[test]
fn unbind_stops_new_connections_and_closes_accepted_ones() {
    let d = Dir::new();
    let ep = d.ep("unbind");
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    let mon_pull = pull.monitor();
    pull.bind(&ep).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    let mon_push = push.monitor();
    push.connect(&ep).unwrap();
    push.send("before", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "before");
    pull.unbind(&ep).unwrap();
    wait_event(
        &mon_pull,
        "Closed",
        |e| matches!(e, Event::Closed { endpoint } if *endpoint == ep),
    );
    wait_disconnected(&mon_push);
    assert!(
        std::fs::symlink_metadata(path_of(&ep)).is_err(),
        "file removed"
    );
    // The connector's next attempts find nobody there.
    wait_event(
        &mon_push,
        "ConnectRetried with ENOENT",
        |e| matches!(e, Event::ConnectRetried { errno, .. } if *errno == Some(zsock::Errno(libc::ENOENT))),
    );
    push.send("after", Flags::NONE).unwrap();
    assert_nothing_arrives(&mut pull, 300);
    assert_eq!(pull.unbind(&ep).unwrap_err().kind(), ErrorKind::NotFound);
    for e in drain_events(&mon_pull) {
        assert!(
            !matches!(e, Event::Accepted { .. }),
            "accepted after unbind: {e:?}"
        );
    }
}

#[test]
fn disconnect_closes_that_connection_and_stops_routing_to_it() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut keep = sock(&ctx, SocketType::Pull);
    keep.bind(&d.ep("keep")).unwrap();
    let mut gone = sock(&ctx, SocketType::Pull);
    let mon_gone = gone.monitor();
    gone.bind(&d.ep("gone")).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    let mon = push.monitor();
    push.connect(&d.ep("keep")).unwrap();
    push.connect(&d.ep("gone")).unwrap();
    wait_handshake(&mon);
    wait_handshake(&mon);
    push.disconnect(&d.ep("gone")).unwrap();
    wait_disconnected(&mon_gone);
    for i in 0..4 {
        push.send(format!("{i}"), Flags::NONE).unwrap();
    }
    for i in 0..4 {
        assert_eq!(keep.recv(Flags::NONE).unwrap(), format!("{i}").as_bytes());
    }
    assert_nothing_arrives(&mut gone, 200);
    let e = push.disconnect(&d.ep("gone")).unwrap_err();
    assert_eq!((e.kind(), e.errno()), (ErrorKind::NotFound, libc::ENOENT));
}

#[test]
fn socket_fd_becomes_readable_when_a_message_arrives() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    let mon = pull.monitor();
    pull.bind(&d.ep("fd")).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect(&d.ep("fd")).unwrap();
    wait_handshake(&mon);
    assert_eq!(pull.events(), Events::NONE); // also clears the descriptor
    push.send("wake", Flags::NONE).unwrap();
    await_pollin_through_fd(&pull);
    assert_eq!(pull.recv(Flags::DONTWAIT).unwrap(), "wake");
}

/// A blocking receive leaves the connection with the caller for a moment after it returns
/// (so that the next receive needs no hand-over): input that arrives after it must still
/// make the descriptor fire, with no further call on the socket.
#[test]
fn socket_fd_fires_for_input_that_follows_a_blocking_receive() {
    let d = Dir::new();
    let ctx = Context::new();
    let (mut pull, mut push) = bound_pair(&ctx, &d, "fd-after", SocketType::Pull, SocketType::Push);
    push.send("first", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "first"); // the connection is up
                                                          // A receive that waits, and times out: it waited on the connection itself.
    pull.set(SocketOption::RcvTimeo(5)).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap_err().kind(), ErrorKind::Again);
    assert_eq!(pull.events(), Events::NONE); // also clears the descriptor
    push.send("second", Flags::NONE).unwrap();
    await_pollin_through_fd(&pull);
    assert_eq!(pull.recv(Flags::DONTWAIT).unwrap(), "second");
}

/// The same for a peer that goes away: after a receive that waited on the connection, the
/// close is noticed and reported with no further call on the socket.
#[test]
fn a_peer_closing_after_a_blocking_receive_is_reported() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    let mon = pull.monitor();
    pull.bind(&d.ep("gone-after")).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect(&d.ep("gone-after")).unwrap();
    push.send("first", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "first");
    pull.set(SocketOption::RcvTimeo(5)).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap_err().kind(), ErrorKind::Again);
    drop(push);
    wait_disconnected(&mon);
}

/// Waits on the socket's descriptor, as an event loop would, until EVENTS reports POLLIN;
/// fails if that takes longer than LONG.
fn await_pollin_through_fd(sock: &zsock::Socket) {
    let fd = sock.fd().unwrap().as_raw_fd();
    let deadline = Instant::now() + LONG;
    let mut fired = 0;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no POLLIN within {LONG:?}");
        let mut pfd = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one live pollfd, count 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
        assert!(rc >= 0, "{}", std::io::Error::last_os_error());
        fired += rc;
        if sock.events().contains(Events::POLLIN) {
            break;
        }
    }
    assert!(fired >= 1);
}

/// Whether `fd` is readable now (poll(2) with no timeout).
fn readable_now(fd: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one live pollfd, count 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, 0) };
    assert!(rc >= 0, "{}", std::io::Error::last_os_error());
    rc == 1
}

/// libzmq's ZMQ_FD idiom without EVENTS: wait on the descriptor, then receive until
/// EAGAIN. A receive's EAGAIN empties the descriptor, so each message signals it afresh:
/// an edge-triggered epoll wakes for every one (none is left stuck), and a level-triggered
/// poll finds the descriptor quiet once the socket is drained (no spin).
#[test]
fn receiving_until_eagain_rearms_the_descriptor() {
    drain_until_eagain_under_edge_triggered_epoll(Flags::DONTWAIT, None);
}

/// libzmq's ZMQ_FD loop (wait on the descriptor, ask EVENTS, then receive) learns of the
/// context's shutdown: the descriptor fires, EVENTS says ready, the receive says ETERM.
/// (EVENTS said nothing, and the loop waited for ever.)
#[test]
fn a_descriptor_loop_hears_of_the_shutdown() {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind("inproc://fd-shutdown").unwrap();
    let fd = pull.fd().unwrap().as_raw_fd();
    assert!(pull.events().is_empty());
    let shutter = {
        let ctx = ctx.clone();
        std::thread::spawn(move || ctx.shutdown())
    };
    let mut pfd = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    let rc = unsafe { libc::poll(&mut pfd, 1, LONG.as_millis() as i32) };
    assert_eq!(rc, 1, "the shutdown never signalled the descriptor");
    shutter.join().unwrap();
    assert!(pull.events().contains(Events::POLLIN));
    let e = pull.recv(Flags::DONTWAIT).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Terminated, "{e}");
}

/// RCVTIMEO 0 is DONTWAIT for every receive (libzmq's "return at once"): its EAGAIN
/// empties the descriptor the same way.
#[test]
fn a_zero_rcvtimeo_rearms_the_descriptor_as_dontwait_does() {
    drain_until_eagain_under_edge_triggered_epoll(Flags::NONE, Some(0));
}

/// libzmq's idiom: wait on `Socket::fd` edge-triggered, then receive (with `flags`, under
/// RCVTIMEO `rcvtimeo`) until EAGAIN; every message must signal the descriptor again.
fn drain_until_eagain_under_edge_triggered_epoll(flags: Flags, rcvtimeo: Option<i32>) {
    let d = Dir::new();
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    if let Some(ms) = rcvtimeo {
        pull.set(SocketOption::RcvTimeo(ms)).unwrap();
    }
    pull.bind(&d.ep("fd-loop")).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect(&d.ep("fd-loop")).unwrap();
    let fd = pull.fd().unwrap().as_raw_fd();
    // SAFETY: epoll_create1 takes no pointer.
    let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    assert!(ep >= 0);
    let mut ev = libc::epoll_event {
        events: (libc::EPOLLIN | libc::EPOLLET) as u32,
        u64: 0,
    };
    // SAFETY: a live epoll descriptor, the socket's descriptor, and a live event.
    assert_eq!(
        unsafe { libc::epoll_ctl(ep, libc::EPOLL_CTL_ADD, fd, &mut ev) },
        0
    );
    let mut got = Vec::new();
    for i in 0..20 {
        push.send(format!("m{i}"), Flags::NONE).unwrap();
        // Woken (edge-triggered) for each message; the messages of a wake-up all drained.
        while got.len() <= i {
            let mut out = [libc::epoll_event { events: 0, u64: 0 }];
            // SAFETY: a live epoll descriptor and room for one event.
            let n = unsafe { libc::epoll_wait(ep, out.as_mut_ptr(), 1, LONG.as_millis() as i32) };
            assert_eq!(n, 1, "message {i} never signalled the descriptor");
            loop {
                match pull.recv(flags) {
                    Ok(m) => got.push(m),
                    Err(e) if e.kind() == ErrorKind::Again => break,
                    Err(e) => panic!("{e}"),
                }
            }
        }
        assert!(
            !readable_now(fd),
            "the descriptor stays readable after EAGAIN"
        );
    }
    // SAFETY: closing our own epoll descriptor once.
    unsafe { libc::close(ep) };
    let want: Vec<String> = (0..20).map(|i| format!("m{i}")).collect();
    assert_eq!(got, want);
}

#[test]
fn poll_reports_which_of_two_sockets_is_readable() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut a = sock(&ctx, SocketType::Pull);
    a.bind(&d.ep("a")).unwrap();
    let mut b = sock(&ctx, SocketType::Pull);
    b.bind(&d.ep("b")).unwrap();
    let mut pa = sock(&ctx, SocketType::Push);
    pa.connect(&d.ep("a")).unwrap();
    let mut pb = sock(&ctx, SocketType::Push);
    pb.connect(&d.ep("b")).unwrap();
    {
        let mut items = [
            PollItem::new(&a, Events::POLLIN),
            PollItem::new(&b, Events::POLLIN),
        ];
        let t0 = Instant::now();
        assert_eq!(
            zsock::poll(&mut items, Some(Duration::from_millis(100))).unwrap(),
            0
        );
        assert!(
            t0.elapsed() >= Duration::from_millis(100),
            "{:?}",
            t0.elapsed()
        );
    }
    pb.send("to b", Flags::NONE).unwrap();
    {
        let mut items = [
            PollItem::new(&a, Events::POLLIN),
            PollItem::new(&b, Events::POLLIN),
        ];
        assert_eq!(zsock::poll(&mut items, Some(LONG)).unwrap(), 1);
        assert_eq!(items[0].revents, Events::NONE);
        assert_eq!(items[1].revents, Events::POLLIN);
    }
    assert_eq!(b.recv(Flags::NONE).unwrap(), "to b");
    pa.send("to a", Flags::NONE).unwrap();
    pb.send("to b again", Flags::NONE).unwrap();
    let deadline = Instant::now() + LONG;
    loop {
        let mut items = [
            PollItem::new(&a, Events::POLLIN),
            PollItem::new(&b, Events::POLLIN),
        ];
        let n = zsock::poll(&mut items, Some(LONG)).unwrap();
        if n == 2 {
            break;
        }
        assert!(Instant::now() < deadline, "both never readable together");
        // One is ready, the other still in flight: wait for the other alone.
        let other = if items[0].revents.is_empty() { &a } else { &b };
        let mut one = [PollItem::new(other, Events::POLLIN)];
        zsock::poll(&mut one, Some(LONG)).unwrap();
    }
    assert_eq!(a.recv(Flags::NONE).unwrap(), "to a");
    assert_eq!(b.recv(Flags::NONE).unwrap(), "to b again");
}

#[test]
fn closing_with_linger_zero_never_hangs_even_with_queued_messages() {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let d = Dir::new();
        let ctx = Context::new();
        // Messages queued to a peer that never comes.
        let mut absent = sock(&ctx, SocketType::Push);
        absent.connect(&d.ep("absent")).unwrap();
        while absent.send("queued", Flags::DONTWAIT).is_ok() {}
        // Messages queued to a peer that never reads.
        let slow = sock(&ctx, SocketType::Pull);
        slow.bind(&d.ep("slow")).unwrap();
        let mut full = sock(&ctx, SocketType::Push);
        full.connect(&d.ep("slow")).unwrap();
        full.set(SocketOption::SndTimeo(200)).unwrap();
        let body = vec![0u8; 4096];
        while full.send(body.clone(), Flags::NONE).is_ok() {}
        drop(absent);
        drop(full);
        drop(slow);
        drop(ctx);
        tx.send(()).unwrap();
    });
    rx.recv_timeout(LONG)
        .expect("dropping the sockets and the context returned");
}

#[test]
fn errors_carry_the_errno_a_libzmq_user_knows() {
    let d = Dir::new();
    let ctx = Context::new();
    let s = sock(&ctx, SocketType::Pull);
    let dir = d.0.path().display().to_string();
    assert!(
        dir.len() < 90,
        "temporary directory too long for this test: {dir}"
    );
    let path_of_len = |n: usize| format!("ipc://{dir}/{}", "p".repeat(n - dir.len() - 1));
    // 107 bytes is the longest path that fits sun_path; 108 does not.
    let fits = path_of_len(107);
    assert_eq!(path_of(&fits).len(), 107);
    s.bind(&fits).unwrap();
    s.unbind(&fits).unwrap();
    let too_long = path_of_len(108);
    for r in [s.bind(&too_long).map(drop), s.connect(&too_long)] {
        let e = r.unwrap_err();
        assert_eq!(
            (e.kind(), e.errno()),
            (ErrorKind::NameTooLong, libc::ENAMETOOLONG)
        );
        let text = e.to_string();
        assert!(text.contains("108") && text.contains("107"), "{text}");
    }
    for r in [
        s.bind("pgm://eth0;239.192.1.1:5555").map(drop),
        s.connect("pgm://eth0;239.192.1.1:5555"),
    ] {
        let e = r.unwrap_err();
        assert_eq!(
            (e.kind(), e.errno()),
            (ErrorKind::ProtocolNotSupported, libc::EPROTONOSUPPORT)
        );
    }
    for bad in ["ipc://@", "ipc://"] {
        for r in [s.bind(bad).map(drop), s.connect(bad)] {
            let e = r.unwrap_err();
            assert_eq!(
                (e.kind(), e.errno()),
                (ErrorKind::Invalid, libc::EINVAL),
                "{bad}"
            );
        }
    }
    for r in [
        s.unbind(&d.ep("never-bound")),
        s.unbind("ipc://*"),
        s.disconnect(&d.ep("never-connected")),
        s.bind(&d.ep("no-such-dir/socket")).map(drop),
    ] {
        let e = r.unwrap_err();
        assert_eq!(
            (e.kind(), e.errno()),
            (ErrorKind::NotFound, libc::ENOENT),
            "{e}"
        );
    }
}

/// An ENOENT from bind(2) in a directory that exists (/proc refuses socket files) keeps
/// ENOENT but does not say the directory is missing; a missing directory still says so.
#[test]
fn bind_enoent_says_the_directory_is_missing_only_when_it_is() {
    let d = Dir::new();
    let ctx = Context::new();
    let s = sock(&ctx, SocketType::Pull);
    let in_proc = format!("ipc:///proc/zsock-test-{}.ipc", std::process::id());
    let e = s.bind(&in_proc).unwrap_err();
    assert_eq!((e.kind(), e.errno()), (ErrorKind::NotFound, libc::ENOENT));
    let text = e.to_string();
    assert!(!text.contains("does not exist"), "{text}");

    let missing = d.0.path().join("missing");
    let e = s.bind(&d.ep("missing/socket")).unwrap_err();
    assert_eq!((e.kind(), e.errno()), (ErrorKind::NotFound, libc::ENOENT));
    let text = e.to_string();
    assert!(
        text.contains(&format!("directory {} does not exist", missing.display())),
        "{text}"
    );
}

/// A receive may take the messages queued behind the one it returns (PULL, PAIR, DEALER):
/// EVENTS and poll must still report them, although the engine's queue is empty and no
/// byte will arrive to wake the descriptor.
#[test]
fn messages_taken_ahead_by_a_receive_are_still_reported_readable() {
    let d = Dir::new();
    let ctx = Context::new();
    let (mut pull, mut push) = bound_pair(&ctx, &d, "ahead", SocketType::Pull, SocketType::Push);
    // Back to back: they travel in one or two writes and land in the queue together.
    for i in 0..50 {
        push.send(format!("m{i}"), Flags::NONE).unwrap();
    }
    assert_eq!(pull.recv(Flags::NONE).unwrap(), &b"m0"[..]);
    for i in 1..50 {
        let mut items = [PollItem::new(&pull, Events::POLLIN)];
        assert_eq!(
            zsock::poll(&mut items, Some(LONG)).unwrap(),
            1,
            "message {i}"
        );
        assert!(pull.events().contains(Events::POLLIN), "message {i}");
        assert_eq!(
            pull.recv(Flags::DONTWAIT).unwrap(),
            format!("m{i}").as_bytes(),
        );
    }
    let mut items = [PollItem::new(&pull, Events::POLLIN)];
    assert_eq!(zsock::poll(&mut items, Some(Duration::ZERO)).unwrap(), 0);
}

/// Reading stops at RCVHWM with whole messages left in the read buffer, where no poll sees
/// them. Receives that take many messages at once (prefetch), right after a send (which
/// lets a blocking receive go straight to its wait), must still resume reading.
#[test]
fn receiving_past_rcvhwm_after_a_send_takes_every_buffered_message() {
    const N: usize = 500;
    let d = Dir::new();
    let ctx = Context::new();
    let mut a = sock(&ctx, SocketType::Pair);
    // Queued before the peer exists, so that they travel in one write.
    a.connect(&d.ep("hwm")).unwrap();
    for i in 0..N {
        a.send(format!("m{i}"), Flags::NONE).unwrap();
    }
    let mut b = sock(&ctx, SocketType::Pair);
    b.set(SocketOption::RcvHwm(10)).unwrap();
    b.set(SocketOption::RcvTimeo(LONG.as_millis() as i32))
        .unwrap();
    b.bind(&d.ep("hwm")).unwrap();
    // Until some arrived: the rest then sit in b's buffer, past RCVHWM.
    let mut items = [PollItem::new(&b, Events::POLLIN)];
    assert_eq!(zsock::poll(&mut items, Some(LONG)).unwrap(), 1);
    b.send("ack", Flags::NONE).unwrap();
    for i in 0..N {
        assert_eq!(b.recv(Flags::NONE).unwrap(), format!("m{i}").as_bytes());
    }
    assert_eq!(a.recv(Flags::NONE).unwrap(), "ack");
}

/// A sender that sends at a steady pace, never waiting, must not have its messages held
/// back until a batch fills: each goes out within the I/O thread's short hold-back.
#[test]
fn a_paced_stream_of_small_messages_is_delivered_while_it_runs() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    const N: u32 = 5000;
    let d = Dir::new();
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind(&d.ep("paced")).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    let mon = push.monitor();
    push.connect(&d.ep("paced")).unwrap();
    wait_handshake(&mon);
    let done = Arc::new(AtomicBool::new(false));
    let sender = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            // About 40 us apart: 5000 small messages (50 KB) are under one batch.
            for i in 0..N {
                push.send(i.to_be_bytes().to_vec(), Flags::NONE).unwrap();
                let t = Instant::now();
                while t.elapsed() < Duration::from_micros(40) {
                    std::hint::spin_loop();
                }
            }
            done.store(true, Ordering::SeqCst);
            push // dropped by the test, after the check: dropping flushes
        })
    };
    for i in 0..100u32 {
        assert_eq!(pull.recv(Flags::NONE).unwrap(), &i.to_be_bytes()[..]);
    }
    assert!(
        !done.load(Ordering::SeqCst),
        "the first 100 messages arrived only after all {N} were sent"
    );
    drop(sender.join().unwrap());
}
