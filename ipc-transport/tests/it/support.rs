//! Helpers for the transport's integration tests: a recording handler and waits that
//! block on the engine's own wake-ups instead of sleeping.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use ipc_transport::{
    Config, Core, Engine, Guard, Handler, Message, Monitor, Notice, PipeId, RecvRead, SendWait,
    TransportEvent,
};
use zmtp_codec::{Greeting, SocketType};

/// Records notices and keeps the list of live pipes, and the engine's monitor.
#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) notices: Vec<Notice>,
    pub(crate) pipes: Vec<PipeId>,
    pub(crate) monitor: Option<Monitor>,
}

impl Handler for Recorder {
    fn on_notice(&mut self, n: Notice, _core: &mut Core) {
        match &n {
            Notice::Attached(p) => self.pipes.push(*p),
            Notice::Detached(p) => self.pipes.retain(|q| q != p),
            _ => {}
        }
        self.notices.push(n);
    }
}

pub(crate) const LONG: Duration = Duration::from_secs(10);

pub(crate) fn engine(t: SocketType, f: impl FnOnce(&mut Config)) -> Engine<Recorder> {
    let mut c = Config::new(t);
    f(&mut c);
    let e = Engine::new(c, Recorder::default()).unwrap();
    let monitor = e.monitor();
    e.lock().handler().monitor = Some(monitor);
    e
}

/// The next monitor event already queued, if any.
pub(crate) fn take_event(g: &mut Guard<'_, Recorder>) -> Option<TransportEvent> {
    let monitor = g.handler().monitor.as_ref()?;
    monitor.next_event(Some(Instant::now()))
}

/// Waits (on the engine's condition variable) until `f` returns `Some`, or panics after
/// `LONG`: a failing test fails instead of hanging.
pub(crate) fn wait_for<T>(
    e: &Engine<Recorder>,
    what: &str,
    mut f: impl FnMut(&mut Guard<'_, Recorder>) -> Option<T>,
) -> T {
    let deadline = Instant::now() + LONG;
    let mut g = e.lock();
    loop {
        if let Some(v) = f(&mut g) {
            return v;
        }
        if Instant::now() >= deadline {
            let mut seen = Vec::new();
            while let Some(ev) = take_event(&mut g) {
                seen.push(ev);
            }
            let seen = &seen[seen.len().saturating_sub(12)..];
            let notices = &g.handler().notices;
            let notices = &notices[notices.len().saturating_sub(12)..];
            panic!("timed out waiting for {what}; last notices {notices:?}; last events {seen:?}");
        }
        // Short waits: some conditions (a peer's socket) change without waking us.
        g.wait(Some(
            (Instant::now() + Duration::from_millis(20)).min(deadline),
        ))
        .unwrap();
    }
}

/// The first pipe that completed its handshake.
pub(crate) fn connected_pipe(e: &Engine<Recorder>) -> PipeId {
    wait_for(e, "a connected pipe", |g| {
        let (h, core) = g.parts();
        h.pipes.iter().copied().find(|p| core.is_connected(*p))
    })
}

pub(crate) fn send(e: &Engine<Recorder>, p: PipeId, m: impl Into<Message>) {
    let mut m = m.into();
    wait_for(e, "room to send", |g| {
        g.core().send(p, &mut m, SendWait::Never).then_some(())
    });
}

pub(crate) fn recv(e: &Engine<Recorder>, p: PipeId) -> Message {
    wait_for(e, "a message", |g| g.core().recv(p, RecvRead::Now))
}

/// Waits for a monitor event matching `f`, returning it.
pub(crate) fn event(
    e: &Engine<Recorder>,
    what: &str,
    mut f: impl FnMut(&TransportEvent) -> bool,
) -> TransportEvent {
    wait_for(e, what, |g| {
        while let Some(ev) = take_event(g) {
            if f(&ev) {
                return Some(ev);
            }
        }
        None
    })
}

/// Connects raw, completes a handshake as PUSH, returns the stream after the peer's READY.
pub(crate) fn raw_push(addr: &str) -> UnixStream {
    raw_peer(addr, "PUSH")
}

/// Connects raw, completes a handshake as a `ty` (four letters) socket, returns the stream
/// after the peer's READY.
pub(crate) fn raw_peer(addr: &str, ty: &str) -> UnixStream {
    assert_eq!(ty.len(), 4);
    let mut s = UnixStream::connect(addr.strip_prefix("ipc://").unwrap()).unwrap();
    s.set_read_timeout(Some(LONG)).unwrap();
    let mut hs = Greeting::ours().to_bytes().to_vec();
    hs.extend_from_slice(b"\x04\x1a\x05READY\x0bSocket-Type\x00\x00\x00\x04");
    hs.extend_from_slice(ty.as_bytes());
    s.write_all(&hs).unwrap();
    let mut greeting = [0u8; 64];
    s.read_exact(&mut greeting).unwrap();
    let mut hdr = [0u8; 2];
    s.read_exact(&mut hdr).unwrap();
    let mut ready = vec![0u8; usize::from(hdr[1])];
    s.read_exact(&mut ready).unwrap();
    assert!(ready.starts_with(b"\x05READY"));
    s
}

/// Waits on `monitor` alone (nothing reads the socket meanwhile) for a Disconnected event
/// until `deadline`; fails with `what` if none comes.
pub(crate) fn await_disconnect(monitor: &Monitor, deadline: Instant, what: impl Fn() -> String) {
    loop {
        match monitor.next_event(Some(deadline)) {
            Some(TransportEvent::Disconnected { .. }) => return,
            Some(_) => {}
            None => panic!("{}", what()),
        }
    }
}
