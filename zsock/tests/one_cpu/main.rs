//! Blocking receives in a process that may use one CPU only (pinned with `taskset`, or
//! limited to one by its cgroup). There the peer that answers needs this CPU: a receive
//! that finds nothing yields it once before it sleeps, and a peer that answers within its
//! turn wakes nobody. A yield that brings nothing makes the next waits sleep at once.
//!
//! A binary of its own: whether a process may use more than one CPU is decided once, at
//! its first socket, so every test here pins its thread to one CPU before it makes one
//! (the threads it starts, the context's I/O thread among them, inherit the pinning).

use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use zsock::{Context, ErrorKind, Flags, Socket, SocketOption, SocketType};

#[path = "../../../ipc-transport/tests/common/one_cpu.rs"]
mod one_cpu;
use one_cpu::{pin_to_one_cpu, sleeps_so_far};

/// One test at a time: the tests of this binary share the one CPU they pin to, and one
/// test's round trips would take the turns another counts on.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A REQ connected to a REP over `endpoint` (`ipc://*` or `tcp://127.0.0.1:*`), both in
/// this process, after the first round trip.
fn req_rep(ctx: &Context, endpoint: &str) -> (Socket, Socket) {
    let rep = ctx.socket(SocketType::Rep).unwrap();
    let bound = rep.bind(endpoint).unwrap();
    let req = ctx.socket(SocketType::Req).unwrap();
    req.connect(&bound).unwrap();
    assert!(req.reply_spin().is_none(), "the process should see one CPU");
    (req, rep)
}

/// Echoes `n` requests on `rep` in a thread of its own, after waiting `delay` before each
/// reply.
fn echo(mut rep: Socket, n: usize, delay: Duration) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for _ in 0..n {
            let m = rep.recv(Flags::NONE).unwrap();
            std::thread::sleep(delay);
            rep.send(m, Flags::NONE).unwrap();
        }
    })
}

/// Round trips between two threads sharing one CPU, over ipc and tcp: each receive yields
/// the CPU to the thread that answers, so the waiting side hardly ever sleeps (without the
/// yield it sleeps in poll(2) once per round trip), and every reply is the right one.
#[test]
fn round_trips_on_one_cpu_hand_the_cpu_over_instead_of_sleeping() {
    let _serial = serial();
    pin_to_one_cpu();
    let ctx = Context::new();
    for endpoint in ["ipc://*", "tcp://127.0.0.1:*"] {
        const WARM_UP: usize = 100;
        const TRIPS: usize = 2000;
        let (mut req, rep) = req_rep(&ctx, endpoint);
        let echoing = echo(rep, WARM_UP + TRIPS, Duration::ZERO);
        for i in 0..WARM_UP {
            req.send(i.to_be_bytes().as_slice(), Flags::NONE).unwrap();
            req.recv(Flags::NONE).unwrap();
        }
        let before = sleeps_so_far();
        for i in 0..TRIPS {
            req.send(i.to_be_bytes().as_slice(), Flags::NONE).unwrap();
            assert_eq!(req.recv(Flags::NONE).unwrap(), &i.to_be_bytes()[..]);
        }
        let slept = sleeps_so_far() - before;
        echoing.join().unwrap();
        assert!(
            slept < (TRIPS / 4) as i64,
            "{endpoint}: the requester slept {slept} times in {TRIPS} round trips"
        );
    }
}

/// An answer that takes longer than the peer's turn: the yield brings nothing, the receive
/// sleeps until the answer comes and gets it; a receive timeout still ends a wait that
/// nothing answers.
#[test]
fn late_answers_and_timeouts_on_one_cpu() {
    let _serial = serial();
    pin_to_one_cpu();
    let ctx = Context::new();
    let (mut req, rep) = req_rep(&ctx, "ipc://*");
    const LATE: usize = 5;
    let echoing = echo(rep, LATE, Duration::from_millis(20));
    for i in 0..LATE {
        req.send(i.to_be_bytes().as_slice(), Flags::NONE).unwrap();
        assert_eq!(req.recv(Flags::NONE).unwrap(), &i.to_be_bytes()[..]);
    }
    echoing.join().unwrap();
    // The echo is gone with its socket: nothing answers this one.
    req.set(SocketOption::RcvTimeo(50)).unwrap();
    req.send("unanswered", Flags::NONE).unwrap();
    assert_eq!(req.recv(Flags::NONE).unwrap_err().kind(), ErrorKind::Again);
}

/// A receive long after its send: the send said the next receive may yield before it takes
/// the lock, but by then the answer came, and the I/O thread, which took the connection
/// back meanwhile, queued it. The receive gets it all the same, every time, and the round
/// trips after it get theirs. (How often those sleep is not asserted: after such pauses
/// the two sides sometimes fall into a run where each yield finds the other asleep and
/// every receive sleeps, which is slower but correct.)
#[test]
fn a_receive_long_after_its_send_gets_the_answer_the_io_thread_read() {
    let _serial = serial();
    pin_to_one_cpu();
    let ctx = Context::new();
    for endpoint in ["ipc://*", "tcp://127.0.0.1:*"] {
        const LATE: usize = 5;
        const TRIPS: usize = 1000;
        let (mut req, rep) = req_rep(&ctx, endpoint);
        let echoing = echo(rep, 2 * LATE + TRIPS, Duration::ZERO);
        let mut next = 0usize;
        let mut trip = |req: &mut Socket, pause: Duration| {
            req.send(next.to_be_bytes().as_slice(), Flags::NONE)
                .unwrap();
            std::thread::sleep(pause);
            assert_eq!(req.recv(Flags::NONE).unwrap(), &next.to_be_bytes()[..]);
            next += 1;
        };
        for _ in 0..LATE {
            // Longer than the parking rules keep a connection from the I/O thread.
            trip(&mut req, Duration::from_millis(30));
        }
        for _ in 0..TRIPS {
            trip(&mut req, Duration::ZERO);
        }
        for _ in 0..LATE {
            trip(&mut req, Duration::from_millis(30));
        }
        echoing.join().unwrap();
    }
}
