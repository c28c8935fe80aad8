//! Sockets sharing one I/O thread: one socket's failure stays its own.

use std::panic::AssertUnwindSafe;

use ipc_transport::{Config, Core, Engine, Handler, IoThreads, Notice};
use zmtp_codec::SocketType;

use crate::support::*;

/// A handler with a bug: it panics when a pipe completes its handshake.
struct PanicsOnConnect;

impl Handler for PanicsOnConnect {
    fn on_notice(&mut self, n: Notice, _core: &mut Core) {
        if matches!(n, Notice::Connected(_)) {
            panic!("handler bug (expected by the test)");
        }
    }
}

/// A panic in one socket's turn on a shared I/O thread closes that socket: its owner's
/// next call says so instead of using a half-updated state, and the other sockets on the
/// thread go on working.
#[test]
fn a_panic_in_one_sockets_turn_closes_only_that_socket() {
    let dir = tempfile::tempdir().unwrap();
    let io = IoThreads::new(1).unwrap();
    let buggy = Engine::with_io(&io, Config::new(SocketType::Pull), PanicsOnConnect).unwrap();
    let buggy_ep = buggy
        .bind(&format!("ipc://{}", dir.path().join("buggy").display()))
        .unwrap();
    let pull = Engine::with_io(&io, Config::new(SocketType::Pull), Recorder::default()).unwrap();
    let push = Engine::with_io(&io, Config::new(SocketType::Push), Recorder::default()).unwrap();
    let ep = pull
        .bind(&format!("ipc://{}", dir.path().join("good").display()))
        .unwrap();
    push.connect(&ep).unwrap();
    let (tx, rx) = (connected_pipe(&push), connected_pipe(&pull));

    // The handshake completes on the I/O thread, whose turn for `buggy` panics.
    let _peer = raw_push(&buggy_ep);
    let closed = buggy.close(None);
    closed.wait();
    assert!(closed.is_finished());

    for i in 0..100u32 {
        send(&push, tx, i.to_be_bytes().to_vec());
        assert_eq!(&recv(&pull, rx).frames()[0][..], &i.to_be_bytes());
    }

    let buggy = Engine::with_io(&io, Config::new(SocketType::Pull), PanicsOnConnect).unwrap();
    let _ = buggy.bind(&format!("ipc://{}", dir.path().join("again").display()));
    let addr = buggy.lock().bound_endpoints().pop().unwrap();
    let _peer = raw_push(&addr);
    // Its owner's next use: the state it left is not used.
    let err = loop {
        match std::panic::catch_unwind(AssertUnwindSafe(|| buggy.lock().bound_endpoints())) {
            Ok(_) => std::thread::yield_now(), // the handshake has not completed yet
            Err(e) => break e,
        }
    };
    let msg = err
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| err.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(msg.contains("cannot be used any more"), "{msg}");
    // Dropping it is fine: the socket is closed, and its socket file is gone.
    drop(buggy);
    assert!(!std::path::Path::new(addr.strip_prefix("ipc://").unwrap()).exists());
    assert!(!dir.path().join("buggy").exists());
}
