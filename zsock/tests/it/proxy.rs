//! The proxy between zsock peers: steering (PAUSE, RESUME, TERMINATE, STATISTICS), a
//! receiving side that cannot take more (nothing lost, order kept), the tap, and the stop
//! descriptor.

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::thread;

use zsock::{Direction, ErrorKind, Flags, Proxy, SocketOption, SocketType};

use crate::support::{sock, Dir};

/// A PULL-to-PUSH proxy bound at `front` and `back` in `d`, steered by a `control` socket
/// bound at `ctl`, running on a thread of its own. `back_hwm`: the backend's SNDHWM.
fn streamer(
    ctx: &zsock::Context,
    d: &Dir,
    control: SocketType,
    back_hwm: Option<i32>,
) -> thread::JoinHandle<zsock::Result<zsock::Statistics>> {
    let mut front = sock(ctx, SocketType::Pull);
    let mut back = sock(ctx, SocketType::Push);
    if let Some(hwm) = back_hwm {
        back.set(SocketOption::SndHwm(hwm)).unwrap();
    }
    let mut control = sock(ctx, control);
    front.bind(&d.ep("front")).unwrap();
    back.bind(&d.ep("back")).unwrap();
    control.bind(&d.ep("ctl")).unwrap();
    thread::spawn(move || {
        Proxy::new(&mut front, &mut back)
            .control(&mut control)
            .run()
    })
}

#[test]
fn pause_holds_messages_and_resume_lets_them_through() {
    let ctx = zsock::Context::new();
    let d = Dir::new();
    let streamer = streamer(&ctx, &d, SocketType::Rep, None);
    let mut producer = sock(&ctx, SocketType::Push);
    producer.connect(&d.ep("front")).unwrap();
    let mut consumer = sock(&ctx, SocketType::Pull);
    consumer.connect(&d.ep("back")).unwrap();
    let mut ctl = sock(&ctx, SocketType::Req);
    ctl.connect(&d.ep("ctl")).unwrap();

    producer.send("before", Flags::NONE).unwrap();
    assert_eq!(consumer.recv(Flags::NONE).unwrap(), "before");
    ctl.send("PAUSE", Flags::NONE).unwrap();
    assert_eq!(
        ctl.recv(Flags::NONE).unwrap(),
        "",
        "a REP control socket answers"
    );
    producer.send("while paused", Flags::NONE).unwrap();
    // Paused: the proxy takes nothing from the frontend.
    consumer.set(SocketOption::RcvTimeo(200)).unwrap();
    assert_eq!(
        consumer.recv(Flags::NONE).unwrap_err().kind(),
        ErrorKind::Again
    );
    ctl.send("STATISTICS", Flags::NONE).unwrap();
    let stats = ctl.recv_multipart(Flags::NONE).unwrap();
    assert_eq!(stats.len(), 8);
    assert_eq!(
        u64::from_ne_bytes(stats[0][..].try_into().unwrap()),
        1,
        "one frame in"
    );
    assert_eq!(
        u64::from_ne_bytes(stats[1][..].try_into().unwrap()),
        6,
        "of 6 bytes"
    );
    ctl.send("an unknown command", Flags::NONE).unwrap();
    assert_eq!(ctl.recv(Flags::NONE).unwrap(), "", "ignored, and answered");
    ctl.send("RESUME", Flags::NONE).unwrap();
    assert_eq!(ctl.recv(Flags::NONE).unwrap(), "");
    consumer.set(SocketOption::RcvTimeo(10_000)).unwrap();
    assert_eq!(consumer.recv(Flags::NONE).unwrap(), "while paused");
    ctl.send("TERMINATE", Flags::NONE).unwrap();
    assert_eq!(ctl.recv(Flags::NONE).unwrap(), "");
    let stats = streamer.join().unwrap().unwrap();
    assert_eq!(stats.frontend.recv_frames, 2);
    assert_eq!(stats.backend.sent_frames, 2);
    assert_eq!(stats.backend.sent_bytes, 6 + 12);
}

#[test]
fn a_side_that_cannot_take_more_holds_the_proxy_back_without_loss() {
    const N: usize = 500;
    let ctx = zsock::Context::new();
    let d = Dir::new();
    let streamer = streamer(&ctx, &d, SocketType::Pair, Some(1));
    let mut producer = sock(&ctx, SocketType::Push);
    producer.connect(&d.ep("front")).unwrap();
    // No consumer yet: the backend PUSH cannot send, so the proxy holds a message.
    for i in 0..N {
        producer.send(format!("{i}"), Flags::NONE).unwrap();
    }
    let mut consumer = sock(&ctx, SocketType::Pull);
    consumer.connect(&d.ep("back")).unwrap();
    for i in 0..N {
        assert_eq!(consumer.recv_string(Flags::NONE).unwrap(), format!("{i}"));
    }
    let mut ctl = sock(&ctx, SocketType::Pair);
    ctl.connect(&d.ep("ctl")).unwrap();
    ctl.send("TERMINATE", Flags::NONE).unwrap();
    let stats = streamer.join().unwrap().unwrap();
    assert_eq!(stats.frontend.recv_frames, N as u64);
    assert_eq!(stats.backend.sent_frames, N as u64);
}

#[test]
fn the_tap_sees_both_directions_and_the_stop_descriptor_ends_the_proxy() {
    let ctx = zsock::Context::new();
    let d = Dir::new();
    let mut front = sock(&ctx, SocketType::Router);
    let mut back = sock(&ctx, SocketType::Dealer);
    front.bind(&d.ep("front")).unwrap();
    back.bind(&d.ep("back")).unwrap();
    let (mut stop_tx, stop_rx) = UnixStream::pair().unwrap();
    let (seen_tx, seen) = mpsc::channel();
    let broker = thread::spawn(move || {
        Proxy::new(&mut front, &mut back)
            .tap(|dir, m| {
                let body = m.iter().last().unwrap().to_vec();
                seen_tx.send((dir, body)).unwrap();
            })
            .stop_on(stop_rx.as_fd())
            .run()
    });
    let mut worker = sock(&ctx, SocketType::Rep);
    worker.connect(&d.ep("back")).unwrap();
    let mut client = sock(&ctx, SocketType::Req);
    client.connect(&d.ep("front")).unwrap();
    client.send("question", Flags::NONE).unwrap();
    assert_eq!(worker.recv(Flags::NONE).unwrap(), "question");
    worker.send("answer", Flags::NONE).unwrap();
    assert_eq!(client.recv(Flags::NONE).unwrap(), "answer");
    stop_tx.write_all(b"x").unwrap();
    let stats = broker.join().unwrap().unwrap();
    assert_eq!(stats.frontend.recv_frames, 3);
    let seen: Vec<_> = seen.iter().collect();
    assert_eq!(
        seen,
        [
            (Direction::FrontToBack, b"question".to_vec()),
            (Direction::BackToFront, b"answer".to_vec())
        ]
    );
}

#[test]
fn a_pair_that_cannot_forward_is_refused() {
    let ctx = zsock::Context::new();
    let mut front = sock(&ctx, SocketType::Router);
    let mut back = sock(&ctx, SocketType::Pull);
    let e = zsock::proxy(&mut front, &mut back, None).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(e.to_string().contains("PULL sockets cannot send"), "{e}");
}

/// A context shutdown ends a running proxy with ETERM, as libzmq's zmq_proxy returns,
/// whether it comes while the proxy sleeps or while it looks at its sockets (rounds that
/// shut down at once, before the proxy's first sleep, and some time after).
#[test]
fn a_context_shutdown_ends_the_proxy_with_eterm() {
    for round in 0..20 {
        let d = Dir::new();
        let ctx = zsock::Context::new();
        let mut front = sock(&ctx, SocketType::Pull);
        let mut back = sock(&ctx, SocketType::Push);
        front.bind(&d.ep("front")).unwrap();
        back.bind(&d.ep("back")).unwrap();
        let (started, start) = mpsc::channel();
        let (done, ended) = mpsc::channel();
        thread::spawn(move || {
            started.send(()).unwrap();
            let _ = done.send(zsock::proxy(&mut front, &mut back, None));
        });
        start.recv().unwrap();
        for _ in 0..round * 50 {
            thread::yield_now();
        }
        ctx.shutdown();
        let ended = ended.recv_timeout(std::time::Duration::from_secs(10));
        let err = ended
            .unwrap_or_else(|_| panic!("round {round}: the proxy did not end"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Terminated, "round {round}: {err}");
    }
}
