//! The engine end to end over real Unix sockets.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ipc_transport::{
    Engine, Message, Notice, PipeId, PollWaker, RecvRead, SendWait, TransportEvent,
};
use zmtp_codec::{Greeting, SocketType};

use crate::one_cpu::pin_to_one_cpu;
use crate::support::*;

fn ep(dir: &tempfile::TempDir, name: &str) -> String {
    format!("ipc://{}", dir.path().join(name).display())
}

/// An engine of type `bound` bound at `name` in `dir`, one of type `connecting` connected
/// to it, and their handshaken pipes, in that order.
fn bound_pair(
    dir: &tempfile::TempDir,
    name: &str,
    bound: SocketType,
    connecting: SocketType,
) -> (Engine<Recorder>, Engine<Recorder>, PipeId, PipeId) {
    let a = engine(bound, |_| {});
    let b = engine(connecting, |_| {});
    let addr = a.bind(&ep(dir, name)).unwrap();
    b.connect(&addr).unwrap();
    let pa = connected_pipe(&a);
    let pb = connected_pipe(&b);
    (a, b, pa, pb)
}

#[test]
fn push_pull_multipart_messages_arrive_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (push, pull, tx, rx) = bound_pair(&dir, "s", SocketType::Push, SocketType::Pull);
    let big = Bytes::from(vec![7u8; 300_000]);
    // More messages than both HWMs hold: the receiver drains while the sender sends.
    let receiver = std::thread::spawn(move || {
        for i in 0..2000u32 {
            let m = recv(&pull, rx);
            assert_eq!(m.len(), 3);
            assert_eq!(&m.frames()[0][..], &i.to_be_bytes());
            assert!(m.frames()[1].is_empty());
            let want = if i % 500 == 0 { 300_000 } else { 1 };
            assert_eq!(m.frames()[2].len(), want);
        }
    });
    for i in 0..2000u32 {
        let m: Message = [
            Bytes::from(i.to_be_bytes().to_vec()),
            Bytes::new(),
            if i % 500 == 0 {
                big.clone()
            } else {
                Bytes::from_static(b"x")
            },
        ]
        .into_iter()
        .collect();
        send(&push, tx, m);
    }
    receiver.join().unwrap();
}

/// Messages of many sizes, some held by the receiver for a while (so the read buffers they
/// are slices of stay shared, and reading moves to a spare or new buffer with the start of
/// the next frame copied over), all arrive intact.
#[test]
fn frames_split_across_read_buffers_arrive_intact_while_earlier_ones_are_held() {
    let dir = tempfile::tempdir().unwrap();
    let (push, pull, tx, rx) = bound_pair(&dir, "spare", SocketType::Push, SocketType::Pull);
    const N: u32 = 3000;
    let size = |i: u32| (i.wrapping_mul(2_654_435_761) % 9000) as usize + 4;
    let body = move |i: u32| -> Vec<u8> {
        let mut b: Vec<u8> = (0..size(i)).map(|j| (j as u32 ^ i) as u8).collect();
        b[..4].copy_from_slice(&i.to_be_bytes());
        b
    };
    let receiver = std::thread::spawn(move || {
        let mut held = std::collections::VecDeque::new();
        for i in 0..N {
            let m = recv(&pull, rx);
            assert_eq!(&m.frames()[0][..], &body(i)[..], "message {i}");
            held.push_back(m);
            // Every message is held for the next 40, some for the whole run.
            if held.len() > 40 {
                let old = held.pop_front().unwrap();
                if i % 97 != 0 {
                    drop(old);
                } else {
                    held.push_back(old);
                }
            }
        }
        for m in held {
            let i = u32::from_be_bytes(m.frames()[0][..4].try_into().unwrap());
            assert_eq!(&m.frames()[0][..], &body(i)[..], "held message {i}");
        }
    });
    for i in 0..N {
        send(&push, tx, Bytes::from(body(i)));
    }
    receiver.join().unwrap();
}

/// While the caller streams, room in a full kernel is left to its next send; a sender that
/// then stops calling into the socket at all still has its whole backlog written (by the
/// I/O thread, after the hold-back).
#[test]
fn a_backlog_left_to_the_caller_is_written_when_it_stops_sending() {
    let dir = tempfile::tempdir().unwrap();
    let (push, pull, tx, rx) = bound_pair(&dir, "backlog", SocketType::Push, SocketType::Pull);
    const N: u32 = 300; // 19 MiB: many times what the kernel holds
    let receiver = std::thread::spawn(move || {
        for i in 0..N {
            let m = recv(&pull, rx);
            assert_eq!(&m.frames()[0][..4], &i.to_be_bytes());
            assert_eq!(m.byte_len(), 64 * 1024);
        }
    });
    for i in 0..N {
        let mut body = vec![0u8; 64 * 1024];
        body[..4].copy_from_slice(&i.to_be_bytes());
        send(&push, tx, Bytes::from(body));
    }
    // No further call on `push`: what is still queued goes out without the caller.
    receiver.join().unwrap();
}

/// A caller streaming small messages writes its full batches itself; the I/O thread only
/// looks in once per hold-back (which lengthens while the stream goes on) to bound the
/// wait of a batch left unfinished. It is not woken for each batch the caller starts: on
/// two CPUs that wake-up competes with both ends of the stream. (Asserted against the
/// batch count, not the stream's duration: a loaded machine shortens hold-backs.)
#[test]
fn a_stream_written_by_the_caller_wakes_the_io_thread_once_per_hold_back() {
    // Everything this test starts shares this thread's CPU: a wake-up per batch would show
    // as more turns than milliseconds, and a second CPU would not blur it.
    pin_to_one_cpu();
    let dir = tempfile::tempdir().unwrap();
    let (push, pull, tx, rx) = bound_pair(&dir, "stream", SocketType::Push, SocketType::Pull);
    const N: u32 = 200_000; // 1 KiB each: over 3000 batches of 64 KiB
    let receiver = std::thread::spawn(move || {
        for i in 0..N {
            let m = recv(&pull, rx);
            assert_eq!(&m.frames()[0][..4], &i.to_be_bytes());
        }
    });
    let (turns, elapsed_ms) = io_turns_during(&push, || {
        let mut body = [0u8; 1024];
        for i in 0..N {
            body[..4].copy_from_slice(&i.to_be_bytes());
            wait_for(&push, "room to send", |g| {
                g.core()
                    .send_copy(tx, &[], &body, SendWait::ForRoom)
                    .then_some(())
            });
        }
    });
    receiver.join().unwrap();
    let batches = u64::from(N) * 1028 / (64 * 1024);
    assert!(
        turns < batches / 2,
        "the I/O thread turned {turns} times for {batches} batches ({elapsed_ms} ms)"
    );
}

/// A large message grows the receiver's read buffer; once the connection is idle the
/// buffer is given back (at most 64 KiB per idle connection, as TESTING.md case 14 says).
#[test]
fn an_idle_connection_gives_back_its_large_read_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let (push, pull, tx, rx) = bound_pair(&dir, "rbuf", SocketType::Push, SocketType::Pull);
    send(&push, tx, Bytes::from(vec![5u8; 1 << 20]));
    assert_eq!(recv(&pull, rx).byte_len(), 1 << 20);
    wait_for(&pull, "the read buffer given back", |g| {
        (g.read_buffer_bytes() <= 64 * 1024).then_some(())
    });
    // And the connection still works.
    send(&push, tx, "after");
    assert_eq!(recv(&pull, rx), Message::from("after"));
}

/// Waits in `g` until `d`.
fn wait_until(g: &mut ipc_transport::Guard<'_, Recorder>, d: Instant) {
    while Instant::now() < d {
        g.wait(Some(d)).unwrap();
    }
}

/// How many times the I/O thread turns while the caller waits in `g` for 300 ms: a turn
/// or two when it sleeps (a timer every 8 ms would make ~40, a spinning thread thousands).
fn io_turns_during_a_long_wait(g: &mut ipc_transport::Guard<'_, Recorder>) -> u64 {
    let before = g.io_turns();
    wait_until(g, Instant::now() + Duration::from_millis(300));
    g.io_turns() - before
}

/// Small messages each sent after a wait go from the caller straight to the kernel. Once
/// the peer stops reading and the kernel is full, what it cannot take waits in the batch
/// and then in the queue: when the peer reads again, every message arrives, whole and in
/// order.
#[test]
fn lone_small_sends_into_a_full_kernel_arrive_whole_and_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (pull, push, rx, tx) = bound_pair(&dir, "lone", SocketType::Pull, SocketType::Push);
    {
        // The receiver's I/O thread stops reading at one queued message.
        let mut g = pull.lock();
        g.config().rcvhwm = 1;
        g.apply_limits();
    }
    let message = |i: u32| {
        let mut body = vec![i as u8; 200];
        body[..4].copy_from_slice(&i.to_be_bytes());
        Message::from(body)
    };
    let mut sent = 0u32;
    {
        let mut g = push.lock();
        loop {
            // A zero wait ends the streak: the next send is a lone one, written at once.
            g.wait(Some(Instant::now())).unwrap();
            if !g.core().send(tx, &mut message(sent), SendWait::Never) {
                break;
            }
            sent += 1;
            assert!(sent < 1_000_000, "the pipe never filled");
        }
    }
    assert!(sent > 1000, "only {sent} sent: the kernel took none");
    for i in 0..sent {
        let m = recv(&pull, rx);
        assert_eq!(m, message(i), "message {i} of {sent}");
    }
}

/// Messages the caller took ahead (`recv_all_queued`) and still holds count towards
/// RCVHWM (counted when lent, until the caller says it holds fewer): while it hands them out one at a time, what it holds never goes
/// past RCVHWM, and every message still arrives, in order, through each stop at the mark.
#[test]
fn messages_taken_ahead_count_towards_rcvhwm() {
    const RCVHWM: usize = 4;
    const SENT: u32 = 24;
    let dir = tempfile::tempdir().unwrap();
    let (pull, push, rx, tx) = bound_pair(&dir, "ahead", SocketType::Pull, SocketType::Push);
    {
        let mut g = pull.lock();
        g.config().rcvhwm = RCVHWM;
        g.apply_limits();
    }
    for i in 0..SENT {
        send(&push, tx, Bytes::copy_from_slice(&i.to_be_bytes()));
    }
    let mut held = std::collections::VecDeque::new();
    let mut next = 0u32;
    wait_for(&pull, "every message", |g| {
        g.holding(held.len());
        let core = g.core();
        core.has_message(rx); // reads, as far as RCVHWM leaves room
        core.recv_all_queued(rx, &mut held);
        assert!(
            held.len() <= RCVHWM,
            "holding {} with RCVHWM {RCVHWM}",
            held.len()
        );
        // Hand one out (the lent count stays one too high until the next turn: safe).
        if let Some(m) = held.pop_front() {
            assert_eq!(
                m,
                Message::from(Bytes::copy_from_slice(&next.to_be_bytes()))
            );
            next += 1;
        }
        (next == SENT).then_some(())
    });
}

/// A connection stopped at RCVHWM for messages the caller held is read again as soon as
/// the caller reports holding fewer (`Guard::holding`, which a socket does when it sends,
/// receives or hands out its last), not only at its next receive: a socket that sends meanwhile
/// keeps taking its peer's messages in, as libzmq's does.
#[test]
fn reporting_fewer_held_messages_reads_a_connection_stopped_for_them() {
    const RCVHWM: usize = 4;
    let dir = tempfile::tempdir().unwrap();
    let pull = engine(SocketType::Pull, |c| c.rcvhwm = RCVHWM);
    let addr = pull.bind(&ep(&dir, "lent")).unwrap();
    let mut raw = raw_push(&addr);
    let mut wire = Vec::new();
    for i in 0..12u32 {
        wire.extend_from_slice(&[0, 4]);
        wire.extend_from_slice(&i.to_be_bytes());
    }
    // Everything is in the kernel (or read) once this returns.
    raw.write_all(&wire).unwrap();
    let rx = connected_pipe(&pull);
    let mut held = std::collections::VecDeque::new();
    wait_for(&pull, "RCVHWM taken ahead", |g| {
        let core = g.core();
        core.has_message(rx);
        core.recv_all_queued(rx, &mut held);
        (held.len() == RCVHWM).then_some(())
    });
    let mut g = pull.lock();
    let core = g.core();
    assert!(
        !core.has_message(rx),
        "read past RCVHWM while holding {RCVHWM}"
    );
    held.clear(); // handed out, without the lock
    g.holding(0);
    let core = g.core();
    assert_eq!(
        core.recv_all_queued(rx, &mut held),
        RCVHWM,
        "not read again when the caller held none"
    );
    let first = u32::from_be_bytes(held[0].frames()[0][..].try_into().unwrap());
    assert_eq!(first, RCVHWM as u32, "in order");
}

/// While a caller waits on its connections, the I/O thread has nothing to do and sleeps,
/// also when an earlier wait left the connections parked with a look at them due during
/// this one.
#[test]
fn a_long_wait_leaves_the_io_thread_asleep() {
    let dir = tempfile::tempdir().unwrap();
    let (pull, push, rx, tx) = bound_pair(&dir, "asleep", SocketType::Pull, SocketType::Push);
    send(&push, tx, "ready");
    assert_eq!(recv(&pull, rx), Message::from("ready"));
    let mut g = pull.lock();
    wait_until(&mut g, Instant::now() + Duration::from_millis(5)); // parks the connection
    let turns = io_turns_during_a_long_wait(&mut g);
    assert!(
        turns < 10,
        "the I/O thread turned {turns} times during one wait"
    );
}

/// A sender blocked at SNDHWM by a peer that reads nothing waits for room itself, on its
/// parked connection: its I/O thread sleeps meanwhile (no timer while output waits).
#[test]
fn a_sender_blocked_by_a_stalled_peer_leaves_the_io_thread_asleep() {
    let dir = tempfile::tempdir().unwrap();
    let (_pull, push, _rx, tx) = bound_pair(&dir, "stalled", SocketType::Pull, SocketType::Push);
    let body = Bytes::from(vec![3u8; 1024]);
    let mut g = push.lock();
    // Until the pipe is full: the peer's queue (RCVHWM), the kernel and ours (SNDHWM).
    let mut sent = 0;
    while sent < 100_000 {
        if !g
            .core()
            .send(tx, &mut Message::from(body.clone()), SendWait::Never)
        {
            // Full for now: wait a little (the peer's I/O thread may still be reading).
            wait_until(&mut g, Instant::now() + Duration::from_millis(20));
            if !g
                .core()
                .send(tx, &mut Message::from(body.clone()), SendWait::Never)
            {
                break;
            }
        }
        sent += 1;
    }
    assert!(sent < 100_000, "the pipe never filled");
    let turns = io_turns_during_a_long_wait(&mut g);
    assert!(
        turns < 10,
        "the I/O thread turned {turns} times while the sender waited for room"
    );
}

/// Requests and replies back to back: each wait leaves the connection parked with the
/// caller. That must not wake the I/O thread once per round trip (on one CPU a wake-up
/// costs as much as the round trip itself); it looks at the parked connection now and
/// then, less often while the waits go on.
#[test]
fn round_trips_do_not_wake_the_io_thread_each_time() {
    // Everything this test starts (engines, their I/O threads, the echo thread) shares this
    // thread's CPU, as the two processes of a pinned latency benchmark do.
    pin_to_one_cpu();
    let dir = tempfile::tempdir().unwrap();
    let (a, b, pa, pb) = bound_pair(&dir, "trips", SocketType::Pair, SocketType::Pair);
    const TRIPS: u64 = 2000;
    let echo = std::thread::spawn(move || {
        for _ in 0..=TRIPS {
            let m = recv(&b, pb);
            send(&b, pb, m);
        }
    });
    send(&a, pa, "warm-up");
    assert_eq!(recv(&a, pa), Message::from("warm-up"));
    let (turns, elapsed_ms) = io_turns_during(&a, || {
        for i in 0..TRIPS {
            send(&a, pa, Bytes::from(i.to_be_bytes().to_vec()));
            assert_eq!(&recv(&a, pa).frames()[0][..], &i.to_be_bytes());
        }
    });
    echo.join().unwrap();
    // A turn per look at the parked connection (after 1, 2, 4, then every 8 ms), not one
    // per trip, nor one per millisecond.
    assert!(
        turns <= elapsed_ms / 4 + 8,
        "the I/O thread turned {turns} times in {TRIPS} round trips ({elapsed_ms} ms)"
    );
}

/// Round trips park the connection with its caller, and the I/O thread looks at it less
/// often while they go on. Once the caller stops waiting, the connection goes back to the
/// I/O thread all the same: the peer's close is reported with no further call on the
/// socket.
#[test]
fn a_connection_parked_by_round_trips_goes_back_to_the_io_thread_when_they_stop() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, pa, pb) = bound_pair(&dir, "handback", SocketType::Pair, SocketType::Pair);
    let monitor = a.monitor();
    const TRIPS: u32 = 3000; // long enough for the looks to be the furthest apart
    let echo = std::thread::spawn(move || {
        for _ in 0..TRIPS {
            let m = recv(&b, pb);
            send(&b, pb, m);
        }
        // `b` closes here.
    });
    for i in 0..TRIPS {
        send(&a, pa, Bytes::from(i.to_be_bytes().to_vec()));
        assert_eq!(&recv(&a, pa).frames()[0][..], &i.to_be_bytes());
    }
    echo.join().unwrap();
    let deadline = Instant::now() + LONG;
    await_disconnect(&monitor, deadline, || {
        "the peer's close was never noticed".to_string()
    });
}

/// Runs `work`; how many times the engine's I/O thread turned meanwhile, and in how many
/// milliseconds.
fn io_turns_during(e: &Engine<Recorder>, work: impl FnOnce()) -> (u64, u64) {
    let before = e.lock().io_turns();
    let t = Instant::now();
    work();
    let elapsed_ms = t.elapsed().as_millis() as u64;
    (e.lock().io_turns() - before, elapsed_ms)
}

#[test]
fn connect_before_bind_queues_and_delivers() {
    let dir = tempfile::tempdir().unwrap();
    let addr = ep(&dir, "late");
    let push = engine(SocketType::Push, |c| {
        c.reconnect_ivl = Some(Duration::from_millis(10))
    });
    push.connect(&addr).unwrap();
    // The connector's pipe exists before the peer does (IMMEDIATE off).
    let tx = wait_for(&push, "attached pipe", |g| {
        g.handler().pipes.first().copied()
    });
    send(&push, tx, "early");
    event(
        &push,
        "a retry with ENOENT",
        |e| matches!(e, TransportEvent::ConnectRetried { errno, .. } if *errno == Some(ipc_transport::Errno(libc::ENOENT))),
    );
    let pull = engine(SocketType::Pull, |_| {});
    pull.bind(&addr).unwrap();
    let rx = connected_pipe(&pull);
    assert_eq!(recv(&pull, rx), Message::from("early"));
}

#[test]
fn a_restarted_binder_is_reached_again() {
    let dir = tempfile::tempdir().unwrap();
    let addr = ep(&dir, "restart");
    let push = engine(SocketType::Push, |c| {
        c.reconnect_ivl = Some(Duration::from_millis(10))
    });
    let pull = engine(SocketType::Pull, |_| {});
    pull.bind(&addr).unwrap();
    push.connect(&addr).unwrap();
    let tx = connected_pipe(&push);
    send(&push, tx, "one");
    let rx = connected_pipe(&pull);
    assert_eq!(recv(&pull, rx), Message::from("one"));
    drop(pull);
    wait_for(&push, "disconnect", |g| {
        let n = &g.handler().notices;
        n.contains(&Notice::Disconnected(tx)).then_some(())
    });
    let pull = engine(SocketType::Pull, |_| {});
    pull.bind(&addr).unwrap();
    let rx = connected_pipe(&pull);
    send(&push, tx, "two");
    assert_eq!(recv(&pull, rx), Message::from("two"));
}

#[test]
fn incompatible_peer_fails_the_handshake_and_is_not_retried() {
    let dir = tempfile::tempdir().unwrap();
    let addr = ep(&dir, "mismatch");
    let publ = engine(SocketType::Pub, |_| {});
    publ.bind(&addr).unwrap();
    let push = engine(SocketType::Push, |c| {
        c.reconnect_ivl = Some(Duration::from_millis(5))
    });
    push.connect(&addr).unwrap();
    let ev = event(&push, "handshake failure", |e| {
        matches!(e, TransportEvent::HandshakeFailed { .. })
    });
    let TransportEvent::HandshakeFailed { reason, .. } = ev else {
        unreachable!()
    };
    assert!(reason.contains("PUB"), "{reason}");
    // No reconnect loop: no retry event follows, and the pipe is gone.
    wait_for(&push, "pipe removal", |g| {
        g.handler().pipes.is_empty().then_some(())
    });
    std::thread::sleep(Duration::from_millis(100)); // several reconnect intervals
    let mut g = push.lock();
    while let Some(e) = take_event(&mut g) {
        assert!(
            !matches!(
                e,
                TransportEvent::ConnectRetried { .. } | TransportEvent::Connected { .. }
            ),
            "{e:?}"
        );
    }
}

fn raw_connect(addr: &str) -> UnixStream {
    let path = addr.strip_prefix("ipc://").unwrap();
    let s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(LONG)).unwrap();
    s
}

fn read_until_closed(s: &mut UnixStream) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return all,
            Ok(n) => all.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return all,
            Err(e) => panic!("{e}"),
        }
    }
}

#[test]
fn garbage_closes_only_that_connection() {
    let dir = tempfile::tempdir().unwrap();
    let pull = engine(SocketType::Pull, |_| {});
    let addr = pull.bind(&ep(&dir, "g")).unwrap();
    let push = engine(SocketType::Push, |_| {});
    push.connect(&addr).unwrap();
    let tx = connected_pipe(&push);
    let mut bad = raw_connect(&addr);
    bad.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
    let got = read_until_closed(&mut bad);
    assert_eq!(
        got,
        Greeting::ours().to_bytes(),
        "only our greeting, then close"
    );
    event(&pull, "handshake failure", |e| {
        matches!(e, TransportEvent::HandshakeFailed { .. })
    });
    send(&push, tx, "still fine");
    let rx = connected_pipe(&pull);
    assert_eq!(recv(&pull, rx), Message::from("still fine"));
}

#[test]
fn silent_peer_is_closed_after_the_handshake_interval() {
    let dir = tempfile::tempdir().unwrap();
    let pull = engine(SocketType::Pull, |c| {
        c.handshake_ivl = Some(Duration::from_millis(100))
    });
    let addr = pull.bind(&ep(&dir, "h")).unwrap();
    let mut raw = raw_connect(&addr);
    read_until_closed(&mut raw);
    let ev = event(&pull, "handshake timeout", |e| {
        matches!(e, TransportEvent::HandshakeFailed { .. })
    });
    assert!(format!("{ev:?}").contains("in time"), "{ev:?}");
}

#[test]
fn oversize_frame_closes_with_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let pull = engine(SocketType::Pull, |c| c.max_msg_size = Some(1000));
    let addr = pull.bind(&ep(&dir, "big")).unwrap();
    let push = engine(SocketType::Push, |_| {});
    push.connect(&addr).unwrap();
    let tx = connected_pipe(&push);
    send(&push, tx, vec![0u8; 1000]);
    let rx = connected_pipe(&pull);
    assert_eq!(recv(&pull, rx).byte_len(), 1000);
    send(&push, tx, vec![0u8; 1001]);
    let ev = event(&pull, "disconnect", |e| {
        matches!(e, TransportEvent::Disconnected { .. })
    });
    assert!(
        format!("{ev:?}").contains("exceeds the limit of 1000"),
        "{ev:?}"
    );
}

#[test]
fn a_half_sent_multipart_message_never_surfaces() {
    let dir = tempfile::tempdir().unwrap();
    let pull = engine(SocketType::Pull, |_| {});
    let addr = pull.bind(&ep(&dir, "half")).unwrap();
    let mut raw = raw_connect(&addr);
    let mut hs = Greeting::ours().to_bytes().to_vec();
    hs.extend_from_slice(b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04PUSH");
    raw.write_all(&hs).unwrap();
    let mut their = [0u8; 64];
    raw.read_exact(&mut their).unwrap();
    // 3 of 5 frames, then gone.
    raw.write_all(b"\x01\x01a\x01\x01b\x01\x01c").unwrap();
    drop(raw);
    event(&pull, "disconnect", |e| {
        matches!(e, TransportEvent::Disconnected { .. })
    });
    let mut g = pull.lock();
    let pipes = g.handler().pipes.clone();
    assert!(
        pipes.is_empty(),
        "the accepted pipe died with its connection"
    );
    let n = &g.handler().notices;
    assert!(n.iter().any(|n| matches!(n, Notice::Detached(_))));
}

/// The I/O thread stops reading at a short read: an end of file that came with the
/// data must still be noticed (its poll reported it with the data). Nothing here reads
/// from the calling side: the engine is waited on through its monitor only.
#[test]
fn a_message_and_the_end_of_file_that_came_with_it_are_both_seen() {
    let dir = tempfile::tempdir().unwrap();
    let pull = engine(SocketType::Pull, |_| {});
    let addr = pull.bind(&ep(&dir, "eof")).unwrap();
    let monitor = pull.monitor();
    for round in 0..50 {
        let mut raw = raw_push(&addr);
        // One message, then gone, usually before the I/O thread wakes for the data.
        raw.write_all(b"\x00\x05hello").unwrap();
        drop(raw);
        let deadline = Instant::now() + LONG;
        await_disconnect(&monitor, deadline, || {
            format!("round {round}: no disconnect within {LONG:?}")
        });
        let mut g = pull.lock();
        let p = *g
            .handler()
            .pipes
            .last()
            .expect("the pipe stays for its message");
        let got = g.core().recv(p, RecvRead::Now); // (the connection is gone: nothing to read)
        assert_eq!(got, Some(Message::from("hello")), "round {round}");
    }
}

/// An end of file that came while reading was paused at RCVHWM: the I/O thread's poll
/// reported it then, and that edge is spent, so whoever resumes reading (here the
/// receiving caller) must read on to it rather than stop at the short read that empties
/// the kernel of data. Nothing reads after the last message: the test waits on the
/// monitor only, as a poll that finds nothing queued would sleep.
#[test]
fn an_end_of_file_behind_a_paused_read_is_seen_when_reading_resumes() {
    const HWM: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let pull = engine(SocketType::Pull, |c| c.rcvhwm = HWM);
    let addr = pull.bind(&ep(&dir, "paused")).unwrap();
    let monitor = pull.monitor();
    let watcher = pull.watcher();
    let mut raw = raw_push(&addr);
    let frame = |i: usize| [0x00, 0x02, b'm', b'0' + i as u8];
    // HWM + 1 messages in one write: the I/O thread reads them at once and stops at the
    // mark, the last one left in its buffer.
    let first: Vec<u8> = (0..=HWM).flat_map(frame).collect();
    raw.write_all(&first).unwrap();
    let deadline = Instant::now() + LONG;
    let pipe = loop {
        assert!(Instant::now() < deadline, "nothing queued");
        let mut g = watcher.lock().unwrap();
        let pipe = g.handler().pipes.last().copied();
        if let Some(p) = pipe.filter(|&p| g.core().has_queued(p)) {
            break p;
        }
        drop(g);
        std::thread::yield_now();
    };
    // One more, then the end of file, while this thread holds the lock: the I/O thread's
    // first turn after it lets go sees both, and reading stays paused.
    let turns = {
        let mut g = watcher.lock().unwrap();
        raw.write_all(&frame(HWM + 1)).unwrap();
        drop(raw);
        g.io_turns()
    };
    while watcher.lock().unwrap().io_turns() == turns {
        assert!(Instant::now() < deadline, "no turn for the hang-up");
        std::thread::yield_now();
    }
    // Down to the resume mark, the receive reads the rest, which leaves it below the
    // mark: nothing pauses reading again, and nothing reads after the last message.
    for i in 0..HWM + 2 {
        let m = watcher.lock().unwrap().core().recv(pipe, RecvRead::Now);
        let want = Message::from(frame(i)[2..].to_vec());
        assert_eq!(m, Some(want), "message {i}");
    }
    await_disconnect(&monitor, deadline, || {
        "the end of file behind the pause went unnoticed".to_string()
    });
}

/// A poll's claim on a socket has input wake the poll's waker; once the claim is
/// dropped, input wakes nothing (a poller that finds input without sleeping costs its
/// sockets no signal and no drain per message).
#[test]
fn a_poll_claim_has_input_wake_the_poll_only_while_it_lasts() {
    let dir = tempfile::tempdir().unwrap();
    let (pull, push, rx, tx) = bound_pair(&dir, "claim", SocketType::Pull, SocketType::Push);
    let watcher = pull.watcher();
    let waker = PollWaker::new().unwrap();
    // What a poll does before it sleeps: claim, then look (the look empties the notify
    // descriptor and hands parked connections back to the I/O thread).
    let claim = {
        let mut g = watcher.lock().unwrap();
        let claim = g.claim(&waker);
        let _ = g.rearm_notify_fd();
        assert!(!g.core().has_queued(rx));
        claim
    };
    send(&push, tx, "a");
    assert!(
        waker.wait(None, Some(LONG)).unwrap(),
        "input wakes a claiming poll"
    );
    drop(claim);
    waker.reset();
    assert!(
        !waker.wait(None, Some(Duration::ZERO)).unwrap(),
        "reset forgets the wake"
    );
    {
        let mut g = watcher.lock().unwrap();
        assert_eq!(g.core().recv(rx, RecvRead::Now), Some(Message::from("a")));
    }
    send(&push, tx, "b");
    // The I/O thread queues it (this side never reads).
    let deadline = Instant::now() + LONG;
    while !watcher.lock().unwrap().core().has_queued(rx) {
        assert!(Instant::now() < deadline, "b never queued");
        std::thread::yield_now();
    }
    assert!(
        !waker.wait(None, Some(Duration::ZERO)).unwrap(),
        "input after the claim ended woke the poll"
    );
}

#[test]
fn wildcard_bind_resolves_and_unbind_removes_the_directory() {
    let pull = engine(SocketType::Pull, |_| {});
    let addr = pull.bind("ipc://*").unwrap();
    let path = std::path::PathBuf::from(addr.strip_prefix("ipc://").unwrap());
    assert!(path.ends_with("socket"), "{addr}");
    assert!(path.exists());
    assert_eq!(
        pull.unbind("ipc://*").unwrap_err().errno(),
        libc::ENOENT,
        "unbind of the wildcard itself is ENOENT, as in libzmq"
    );
    pull.unbind(&addr).unwrap();
    assert!(!path.exists());
    assert!(!path.parent().unwrap().exists());
}

#[test]
fn drop_removes_socket_files() {
    let dir = tempfile::tempdir().unwrap();
    let pull = engine(SocketType::Pull, |_| {});
    let addr = pull.bind(&ep(&dir, "d")).unwrap();
    let path = dir.path().join("d");
    assert!(path.exists());
    drop(pull);
    assert!(!path.exists());
    let _ = addr;
}
