//! Async receives in a process that may use one CPU only: a receive that waits for the
//! answer to what it sent yields the CPU to the answer's sender once before its task
//! sleeps in the runtime, as a blocking receive does, so a peer that answers within its
//! turn wakes nobody.
//!
//! A binary of its own: whether a process may use more than one CPU is decided once, at
//! its first socket, so the test pins its thread to one CPU before it makes one (the
//! threads it starts inherit the pinning).

use std::time::Duration;

use zsock::{Context, Flags, SocketType};
use zsock_tokio::AsyncSocket;

#[path = "../../ipc-transport/tests/common/one_cpu.rs"]
mod one_cpu;
use one_cpu::{pin_to_one_cpu, sleeps_so_far};

/// One request and its reply, checked.
async fn trip(req: &mut AsyncSocket, i: usize) {
    req.send(i.to_be_bytes().as_slice()).await.unwrap();
    let reply = tokio::time::timeout(Duration::from_secs(20), req.recv())
        .await
        .expect("a reply within 20 s")
        .unwrap();
    assert_eq!(reply, &i.to_be_bytes()[..]);
}

/// Requests from an async REQ on a current-thread runtime (this thread) to a blocking REP
/// in a thread of its own, both on one CPU: the runtime's thread hardly ever sleeps
/// (without the yield it sleeps in the runtime's poll once per round trip), and every
/// reply is the right one.
#[test]
fn async_round_trips_on_one_cpu_hand_the_cpu_over_instead_of_sleeping() {
    pin_to_one_cpu();
    let ctx = Context::new();
    let mut rep = ctx.socket(SocketType::Rep).unwrap();
    let endpoint = rep.bind("ipc://*").unwrap();
    const WARM_UP: usize = 100;
    const TRIPS: usize = 2000;
    let echo = std::thread::spawn(move || {
        for _ in 0..WARM_UP + TRIPS {
            let m = rep.recv(Flags::NONE).unwrap();
            rep.send(m, Flags::NONE).unwrap();
        }
    });
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let slept = runtime.block_on(async {
        let mut req = AsyncSocket::new(ctx.socket(SocketType::Req).unwrap()).unwrap();
        assert!(
            req.get_ref().reply_spin().is_none(),
            "the process should see one CPU"
        );
        req.get_ref().connect(&endpoint).unwrap();
        for i in 0..WARM_UP {
            trip(&mut req, i).await;
        }
        let before = sleeps_so_far();
        for i in 0..TRIPS {
            trip(&mut req, i).await;
        }
        sleeps_so_far() - before
    });
    echo.join().unwrap();
    assert!(
        slept < (TRIPS / 4) as i64,
        "the runtime's thread slept {slept} times in {TRIPS} round trips"
    );
}
