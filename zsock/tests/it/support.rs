//! Helpers: endpoints in temporary directories and sockets with test-friendly timeouts.

use zsock::{Context, ErrorKind, Flags, Socket, SocketOption, SocketType};

/// A temporary directory and an endpoint path inside it.
pub(crate) struct Dir(pub(crate) tempfile::TempDir);

impl Dir {
    pub(crate) fn new() -> Dir {
        Dir(tempfile::tempdir().unwrap())
    }

    pub(crate) fn ep(&self, name: &str) -> String {
        format!("ipc://{}", self.0.path().join(name).display())
    }
}

/// A socket whose blocking calls give up after 10 s, so a broken test fails, not hangs.
pub(crate) fn sock(ctx: &Context, t: SocketType) -> Socket {
    let mut s = ctx.socket(t).unwrap();
    s.set(SocketOption::RcvTimeo(10_000)).unwrap();
    s.set(SocketOption::SndTimeo(10_000)).unwrap();
    s.set(SocketOption::Linger(0)).unwrap();
    s
}

/// Asserts that no message is waiting: a non-blocking receive says EAGAIN.
#[track_caller]
pub(crate) fn assert_no_message(s: &mut Socket) {
    assert_eq!(
        s.recv(Flags::DONTWAIT).unwrap_err().kind(),
        ErrorKind::Again
    );
}
