//! Helpers: endpoints in temporary directories and sockets with test-friendly timeouts.

use zsock::{Context, ErrorKind, Event, Flags, Monitor, Socket, SocketOption, SocketType};

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

/// A socket of type `bound` bound at `name` in `d`, and one of type `connecting`
/// connected to it (both with [`sock`]'s timeouts), in that order.
pub(crate) fn bound_pair(
    ctx: &Context,
    d: &Dir,
    name: &str,
    bound: SocketType,
    connecting: SocketType,
) -> (Socket, Socket) {
    let a = sock(ctx, bound);
    a.bind(&d.ep(name)).unwrap();
    let b = sock(ctx, connecting);
    b.connect(&d.ep(name)).unwrap();
    (a, b)
}

/// Asserts that no message is waiting: a non-blocking receive says EAGAIN.
#[track_caller]
pub(crate) fn assert_no_message(s: &mut Socket) {
    assert_eq!(
        s.recv(Flags::DONTWAIT).unwrap_err().kind(),
        ErrorKind::Again
    );
}

/// The first HandshakeSucceeded or HandshakeFailed event (waiting up to 10 s for it).
#[track_caller]
pub(crate) fn handshake_result(mon: &Monitor) -> Event {
    loop {
        let e = mon
            .next(Some(std::time::Duration::from_secs(10)))
            .expect("a handshake result in time");
        if matches!(
            e,
            Event::HandshakeSucceeded { .. } | Event::HandshakeFailed { .. }
        ) {
            return e;
        }
    }
}

/// A loopback port nothing listens on (bound by the kernel's choice, then released).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An endpoint nobody binds yet: `name` in `d`, or with `tcp` a loopback port free now.
pub(crate) fn unbound_ep(d: &Dir, name: &str, tcp: bool) -> String {
    if tcp {
        format!("tcp://127.0.0.1:{}", free_port())
    } else {
        d.ep(name)
    }
}
