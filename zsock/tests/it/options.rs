//! The effect of every socket option, over real ipc endpoints. Defaults, ranges and getters
//! are compared with a real libzmq socket (the `zmq` crate); where zsock's behaviour is
//! expected to match libzmq and the match is not obvious, the test shows libzmq doing it first.

use std::io::{self, Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zsock::{
    Bytes, Context, ErrorKind, Event, Events, Flags, Message, Monitor, PollItem, Socket,
    SocketOption, SocketType,
};

use crate::support::*;

/// How long a test waits for something that must happen.
pub(crate) const LONG: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// Waits up to 10 s for the first event `pred` accepts; panics listing every event seen.
pub(crate) fn wait_event(mon: &Monitor, what: &str, pred: impl Fn(&Event) -> bool) -> Event {
    let deadline = Instant::now() + LONG;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match mon.next(Some(left)) {
            Some(e) if pred(&e) => return e,
            Some(e) => seen.push(e),
            None => panic!("no {what} within {LONG:?}; events seen: {seen:#?}"),
        }
    }
}

pub(crate) fn wait_handshake(mon: &Monitor) -> Event {
    wait_event(mon, "HandshakeSucceeded", |e| {
        matches!(e, Event::HandshakeSucceeded { .. })
    })
}

pub(crate) fn wait_disconnected(mon: &Monitor) -> Event {
    wait_event(mon, "Disconnected", |e| {
        matches!(e, Event::Disconnected { .. })
    })
}

/// Every event already queued on the monitor.
pub(crate) fn drain_events(mon: &Monitor) -> Vec<Event> {
    std::iter::from_fn(|| mon.try_next()).collect()
}

/// The filesystem path of an `ipc://` endpoint.
pub(crate) fn path_of(ep: &str) -> &str {
    ep.strip_prefix("ipc://").expect("an ipc:// endpoint")
}

/// Asserts that nothing arrives within `ms` milliseconds (a bounded wait: the test shows
/// that something does NOT happen), then restores the 10 s receive timeout.
pub(crate) fn assert_nothing_arrives(s: &mut Socket, ms: i32) {
    s.set(SocketOption::RcvTimeo(ms)).unwrap();
    match s.recv_msg(Flags::NONE) {
        Err(e) => assert_eq!(e.kind(), ErrorKind::Again, "{e}"),
        Ok(m) => panic!("nothing should arrive, got {m:?}"),
    }
    s.set(SocketOption::RcvTimeo(10_000)).unwrap();
}

fn recv_str(s: &mut Socket) -> String {
    let f = s.recv(Flags::NONE).unwrap();
    String::from_utf8_lossy(&f).into_owned()
}

fn msg<const N: usize>(frames: [&'static [u8]; N]) -> Message {
    frames.into_iter().collect()
}

fn our_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

fn our_gid() -> u32 {
    // SAFETY: getgid has no preconditions and cannot fail.
    unsafe { libc::getgid() }
}

/// A group id that is neither our primary group nor one of our supplementary groups.
fn foreign_gid() -> u32 {
    // SAFETY: with a size of 0, getgroups only returns the count.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    assert!(n >= 0);
    let mut groups = vec![0 as libc::gid_t; n as usize];
    // SAFETY: `groups` has room for `n` entries, the size passed.
    let n = unsafe { libc::getgroups(n, groups.as_mut_ptr()) };
    assert!(n >= 0);
    groups.truncate(n as usize);
    (40_000..)
        .find(|g| *g != our_gid() && !groups.contains(g))
        .unwrap()
}

/// A hand-driven ZMTP 3.1 peer (NULL mechanism) over a std Unix or TCP stream, for peers
/// that misbehave on purpose: silent, not answering heartbeats, writing everything at once.
pub(crate) struct RawPeer {
    pub(crate) s: RawStream,
}

/// A raw peer's stream: a Unix one for `ipc://` endpoints, a TCP one for `tcp://`.
pub(crate) enum RawStream {
    Unix(UnixStream),
    Tcp(std::net::TcpStream),
}

impl RawStream {
    /// A stream connected to `ep` (`ipc://` or `tcp://`).
    pub(crate) fn connect(ep: &str) -> io::Result<RawStream> {
        Ok(match ep.strip_prefix("tcp://") {
            Some(addr) => RawStream::Tcp(std::net::TcpStream::connect(addr)?),
            None => RawStream::Unix(UnixStream::connect(path_of(ep))?),
        })
    }

    pub(crate) fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            RawStream::Unix(s) => s.set_read_timeout(t),
            RawStream::Tcp(s) => s.set_read_timeout(t),
        }
    }

    pub(crate) fn set_nonblocking(&self, on: bool) -> io::Result<()> {
        match self {
            RawStream::Unix(s) => s.set_nonblocking(on),
            RawStream::Tcp(s) => s.set_nonblocking(on),
        }
    }
}

impl Read for RawStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            RawStream::Unix(s) => s.read(buf),
            RawStream::Tcp(s) => s.read(buf),
        }
    }
}

impl Write for RawStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            RawStream::Unix(s) => s.write(buf),
            RawStream::Tcp(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl std::os::fd::AsRawFd for RawStream {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        match self {
            RawStream::Unix(s) => s.as_raw_fd(),
            RawStream::Tcp(s) => s.as_raw_fd(),
        }
    }
}

/// One frame as read from the wire.
#[derive(Debug)]
pub(crate) struct RawFrame {
    pub(crate) flags: u8,
    pub(crate) body: Vec<u8>,
}

impl RawFrame {
    pub(crate) fn is_command(&self) -> bool {
        self.flags & 0x04 != 0
    }

    /// The command name (commands only).
    pub(crate) fn name(&self) -> &[u8] {
        let n = usize::from(self.body[0]);
        &self.body[1..1 + n]
    }
}

/// Our greeting: signature, version 3.1, mechanism NULL, as-server 0, filler.
pub(crate) fn raw_greeting() -> Vec<u8> {
    let mut g = vec![0u8; 64];
    g[0] = 0xFF;
    g[9] = 0x7F;
    g[10] = 3;
    g[11] = 1;
    g[12..16].copy_from_slice(b"NULL");
    g
}

/// A short command frame.
pub(crate) fn raw_command(name: &[u8], data: &[u8]) -> Vec<u8> {
    let mut body = vec![name.len() as u8];
    body.extend_from_slice(name);
    body.extend_from_slice(data);
    assert!(body.len() < 256);
    let mut f = vec![0x04, body.len() as u8];
    f.extend_from_slice(&body);
    f
}

/// READY with only the Socket-Type property.
pub(crate) fn raw_ready(socket_type: &str) -> Vec<u8> {
    let mut data = vec![11u8];
    data.extend_from_slice(b"Socket-Type");
    data.extend_from_slice(&(socket_type.len() as u32).to_be_bytes());
    data.extend_from_slice(socket_type.as_bytes());
    raw_command(b"READY", &data)
}

/// A short data frame.
pub(crate) fn raw_data(body: &[u8], more: bool) -> Vec<u8> {
    assert!(body.len() < 256);
    let mut f = vec![u8::from(more), body.len() as u8];
    f.extend_from_slice(body);
    f
}

impl RawPeer {
    pub(crate) fn connect(ep: &str) -> RawPeer {
        let s = RawStream::connect(ep).unwrap();
        s.set_read_timeout(Some(LONG)).unwrap();
        RawPeer { s }
    }

    pub(crate) fn from_stream(s: UnixStream) -> RawPeer {
        s.set_read_timeout(Some(LONG)).unwrap();
        RawPeer {
            s: RawStream::Unix(s),
        }
    }

    pub(crate) fn write(&mut self, bytes: &[u8]) {
        self.s.write_all(bytes).unwrap();
    }

    /// Reads and checks the peer's 64-byte greeting.
    pub(crate) fn read_greeting(&mut self) {
        let mut g = [0u8; 64];
        self.s.read_exact(&mut g).unwrap();
        assert_eq!((g[0], g[9], g[10]), (0xFF, 0x7F, 3), "a ZMTP 3 greeting");
        assert_eq!(&g[12..16], b"NULL");
    }

    /// Sends greeting + READY(`socket_type`) and reads the peer's greeting and READY.
    pub(crate) fn handshake(&mut self, socket_type: &str) {
        let mut out = raw_greeting();
        out.extend(raw_ready(socket_type));
        self.write(&out);
        self.read_greeting();
        let ready = self.read_frame().unwrap();
        assert!(ready.is_command() && ready.name() == b"READY", "{ready:?}");
    }

    pub(crate) fn read_frame(&mut self) -> io::Result<RawFrame> {
        let mut flags = [0u8; 1];
        self.s.read_exact(&mut flags)?;
        let size = if flags[0] & 0x02 != 0 {
            let mut n = [0u8; 8];
            self.s.read_exact(&mut n)?;
            u64::from_be_bytes(n) as usize
        } else {
            let mut n = [0u8; 1];
            self.s.read_exact(&mut n)?;
            usize::from(n[0])
        };
        let mut body = vec![0u8; size];
        self.s.read_exact(&mut body)?;
        Ok(RawFrame {
            flags: flags[0],
            body,
        })
    }

    /// Reads frames until the peer closes the connection; panics if it does not within 10 s.
    pub(crate) fn read_until_closed(&mut self) -> Vec<RawFrame> {
        let mut frames = Vec::new();
        loop {
            match self.read_frame() {
                Ok(f) => frames.push(f),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
                    ) =>
                {
                    return frames
                }
                Err(e) => panic!("the peer did not close the connection ({e}); read {frames:?}"),
            }
        }
    }

    /// Asserts the connection stays open and quiet-or-chatty for `ms` (a bounded wait: shows
    /// that a close does NOT happen); returns the frames read meanwhile.
    pub(crate) fn assert_open_for(&mut self, ms: u64) -> Vec<RawFrame> {
        let until = Instant::now() + Duration::from_millis(ms);
        let mut frames = Vec::new();
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.s.set_read_timeout(Some(left)).unwrap();
            match self.read_frame() {
                Ok(f) => frames.push(f),
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(e) => panic!("the connection closed ({e}) but should have stayed open"),
            }
        }
        self.s.set_read_timeout(Some(LONG)).unwrap();
        frames
    }
}

// ---------------------------------------------------------------------------------------------
// Defaults, ranges, getters
// ---------------------------------------------------------------------------------------------

const TYPES: [(SocketType, zmq::SocketType); 11] = [
    (SocketType::Pair, zmq::PAIR),
    (SocketType::Pub, zmq::PUB),
    (SocketType::Sub, zmq::SUB),
    (SocketType::Req, zmq::REQ),
    (SocketType::Rep, zmq::REP),
    (SocketType::Dealer, zmq::DEALER),
    (SocketType::Router, zmq::ROUTER),
    (SocketType::Pull, zmq::PULL),
    (SocketType::Push, zmq::PUSH),
    (SocketType::XPub, zmq::XPUB),
    (SocketType::XSub, zmq::XSUB),
];

#[test]
fn defaults_match_a_real_libzmq_socket_of_every_type() {
    let zctx = zmq::Context::new();
    let ctx = Context::new();
    let mut diffs = Vec::new();
    for (t, zt) in TYPES {
        let s = ctx.socket(t).unwrap();
        let z = zctx.socket(zt).unwrap();
        let rows: [(&str, i64, i64); 14] = [
            ("SNDHWM", s.sndhwm().into(), z.get_sndhwm().unwrap().into()),
            ("RCVHWM", s.rcvhwm().into(), z.get_rcvhwm().unwrap().into()),
            ("LINGER", s.linger().into(), z.get_linger().unwrap().into()),
            (
                "RCVTIMEO",
                s.rcvtimeo().into(),
                z.get_rcvtimeo().unwrap().into(),
            ),
            (
                "SNDTIMEO",
                s.sndtimeo().into(),
                z.get_sndtimeo().unwrap().into(),
            ),
            (
                "RECONNECT_IVL",
                s.reconnect_ivl().into(),
                z.get_reconnect_ivl().unwrap().into(),
            ),
            (
                "BACKLOG",
                s.backlog().into(),
                z.get_backlog().unwrap().into(),
            ),
            ("MAXMSGSIZE", s.maxmsgsize(), z.get_maxmsgsize().unwrap()),
            (
                "HANDSHAKE_IVL",
                s.handshake_ivl().into(),
                z.get_handshake_ivl().unwrap().into(),
            ),
            (
                "IMMEDIATE",
                i64::from(s.immediate()),
                i64::from(z.is_immediate().unwrap()),
            ),
            (
                "RECONNECT_IVL_MAX",
                s.reconnect_ivl_max().into(),
                z.get_reconnect_ivl_max().unwrap().into(),
            ),
            (
                "HEARTBEAT_IVL",
                s.heartbeat_ivl().into(),
                z.get_heartbeat_ivl().unwrap().into(),
            ),
            (
                "HEARTBEAT_TIMEOUT",
                s.heartbeat_timeout().into(),
                z.get_heartbeat_timeout().unwrap().into(),
            ),
            (
                "HEARTBEAT_TTL",
                s.heartbeat_ttl().into(),
                z.get_heartbeat_ttl().unwrap().into(),
            ),
        ];
        for (name, ours, libzmq) in rows {
            if ours != libzmq {
                diffs.push(format!("{t} {name}: zsock {ours}, libzmq {libzmq}"));
            }
        }
        assert!(s.routing_id().is_empty(), "{t}: no ROUTING_ID by default");
        assert_eq!(
            s.last_endpoint(),
            "",
            "{t}: no LAST_ENDPOINT before bind/connect"
        );
    }
    assert!(
        diffs.is_empty(),
        "defaults differ from libzmq:\n{}",
        diffs.join("\n")
    );
}

type ZmqSet = fn(&zmq::Socket) -> zmq::Result<()>;

#[test]
fn out_of_range_values_are_einval_where_libzmq_says_einval() {
    let zctx = zmq::Context::new();
    let ctx = Context::new();
    let long_id: &'static [u8] = &[7u8; 256];
    let rows: Vec<(&str, SocketOption, ZmqSet)> = vec![
        ("SNDHWM -1", SocketOption::SndHwm(-1), |z| z.set_sndhwm(-1)),
        ("RCVHWM -1", SocketOption::RcvHwm(-1), |z| z.set_rcvhwm(-1)),
        ("LINGER -2", SocketOption::Linger(-2), |z| z.set_linger(-2)),
        ("RCVTIMEO -2", SocketOption::RcvTimeo(-2), |z| {
            z.set_rcvtimeo(-2)
        }),
        ("SNDTIMEO -2", SocketOption::SndTimeo(-2), |z| {
            z.set_sndtimeo(-2)
        }),
        ("RECONNECT_IVL -2", SocketOption::ReconnectIvl(-2), |z| {
            z.set_reconnect_ivl(-2)
        }),
        (
            "RECONNECT_IVL_MAX -1",
            SocketOption::ReconnectIvlMax(-1),
            |z| z.set_reconnect_ivl_max(-1),
        ),
        ("BACKLOG -1", SocketOption::Backlog(-1), |z| {
            z.set_backlog(-1)
        }),
        ("HANDSHAKE_IVL -1", SocketOption::HandshakeIvl(-1), |z| {
            z.set_handshake_ivl(-1)
        }),
        ("HEARTBEAT_IVL -1", SocketOption::HeartbeatIvl(-1), |z| {
            z.set_heartbeat_ivl(-1)
        }),
        (
            "HEARTBEAT_TIMEOUT -1",
            SocketOption::HeartbeatTimeout(-1),
            |z| z.set_heartbeat_timeout(-1),
        ),
        (
            "HEARTBEAT_TTL -100",
            SocketOption::HeartbeatTtl(-100),
            |z| z.set_heartbeat_ttl(-100),
        ),
        (
            "HEARTBEAT_TTL 6553600",
            SocketOption::HeartbeatTtl(6_553_600),
            |z| z.set_heartbeat_ttl(6_553_600),
        ),
        (
            "ROUTING_ID empty",
            SocketOption::RoutingId(Bytes::new()),
            |z| z.set_identity(b""),
        ),
        (
            "ROUTING_ID 256 bytes",
            SocketOption::RoutingId(Bytes::from_static(long_id)),
            |z| z.set_identity(&[7u8; 256]),
        ),
        (
            "SUBSCRIBE on PUSH",
            SocketOption::Subscribe("x".into()),
            |z| z.set_subscribe(b"x"),
        ),
        (
            "UNSUBSCRIBE on PUSH",
            SocketOption::Unsubscribe("x".into()),
            |z| z.set_unsubscribe(b"x"),
        ),
    ];
    let mut diffs = Vec::new();
    for (name, opt, zset) in rows {
        let mut s = ctx.socket(SocketType::Push).unwrap();
        let z = zctx.socket(zmq::PUSH).unwrap();
        assert_eq!(zset(&z), Err(zmq::Error::EINVAL), "libzmq rejects {name}");
        match s.set(opt) {
            Err(e) if e.kind() == ErrorKind::Invalid && e.errno() == libc::EINVAL => {}
            other => diffs.push(format!("{name}: zsock gave {other:?}, libzmq EINVAL")),
        }
    }
    // zsock's own options.
    let mut s = ctx.socket(SocketType::Pull).unwrap();
    let e = s.set(SocketOption::IpcFileMode(Some(0o10000))).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Invalid);
    assert!(
        diffs.is_empty(),
        "ranges differ from libzmq:\n{}",
        diffs.join("\n")
    );
}

/// Sets an option on a libzmq socket.
type ZmqSetMut<'a> = dyn Fn(&mut zmq::Socket) -> zmq::Result<()> + 'a;

/// `zmq_setsockopt` on a libzmq socket, for options the `zmq` crate has no setter for.
fn zmq_set_raw(z: &mut zmq::Socket, option: i32, value: &[u8]) -> zmq::Result<()> {
    extern "C" {
        fn zmq_setsockopt(s: *mut std::ffi::c_void, option: i32, v: *const u8, n: usize) -> i32;
    }
    // SAFETY: a live libzmq socket, and `value` readable for `value.len()` bytes.
    let rc = unsafe { zmq_setsockopt(z.as_mut_ptr(), option, value.as_ptr(), value.len()) };
    match rc {
        0 => Ok(()),
        _ => Err(zmq::Error::from_raw(
            io::Error::last_os_error().raw_os_error().unwrap_or(0),
        )),
    }
}

/// The options of some socket types only (SUBSCRIBE, ROUTER_*, REQ_*, XPUB_*,
/// CONNECT_ROUTING_ID) are taken or refused with EINVAL on each of the eleven types
/// exactly as libzmq takes or refuses them.
#[test]
fn type_specific_options_are_refused_on_other_types_as_libzmq_refuses_them() {
    const XPUB_NODROP: i32 = 69;
    const CONNECT_ROUTING_ID: i32 = 61;
    let one = 1i32.to_ne_bytes();
    let zctx = zmq::Context::new();
    let ctx = Context::new();
    let mut diffs = Vec::new();
    for (t, zt) in TYPES {
        let rows: [(&str, SocketOption, &ZmqSetMut<'_>); 9] = [
            ("SUBSCRIBE", SocketOption::Subscribe("t".into()), &|z| {
                z.set_subscribe(b"t")
            }),
            ("UNSUBSCRIBE", SocketOption::Unsubscribe("t".into()), &|z| {
                z.set_unsubscribe(b"t")
            }),
            (
                "ROUTER_MANDATORY",
                SocketOption::RouterMandatory(true),
                &|z| z.set_router_mandatory(true),
            ),
            (
                "ROUTER_HANDOVER",
                SocketOption::RouterHandover(true),
                &|z| z.set_router_handover(true),
            ),
            ("REQ_RELAXED", SocketOption::ReqRelaxed(true), &|z| {
                z.set_req_relaxed(true)
            }),
            ("REQ_CORRELATE", SocketOption::ReqCorrelate(true), &|z| {
                z.set_req_correlate(true)
            }),
            ("XPUB_VERBOSE", SocketOption::XpubVerbose(true), &|z| {
                z.set_xpub_verbose(true)
            }),
            ("XPUB_NODROP", SocketOption::XpubNodrop(true), &|z| {
                zmq_set_raw(z, XPUB_NODROP, &one)
            }),
            (
                "CONNECT_ROUTING_ID",
                SocketOption::ConnectRoutingId("peer".into()),
                &|z| zmq_set_raw(z, CONNECT_ROUTING_ID, b"peer"),
            ),
        ];
        for (name, opt, zset) in rows {
            let mut s = ctx.socket(t).unwrap();
            let mut z = zctx.socket(zt).unwrap();
            let libzmq = zset(&mut z);
            assert!(
                matches!(libzmq, Ok(()) | Err(zmq::Error::EINVAL)),
                "{t} {name}: libzmq {libzmq:?}"
            );
            let ours = s.set(opt);
            if let Err(e) = &ours {
                assert_eq!(e.kind(), ErrorKind::Invalid, "{t} {name}: {e}");
                assert!(e.to_string().contains(name), "{t} {name}: {e}");
            }
            if ours.is_ok() != libzmq.is_ok() {
                diffs.push(format!("{t} {name}: zsock {ours:?}, libzmq {libzmq:?}"));
            }
        }
    }
    assert!(
        diffs.is_empty(),
        "differ from libzmq:\n{}",
        diffs.join("\n")
    );
}

type ZmqGet = fn(&zmq::Socket) -> zmq::Result<i64>;
type OurGet = fn(&Socket) -> i64;

#[test]
fn getters_return_what_was_set_as_libzmq_does() {
    let zctx = zmq::Context::new();
    let ctx = Context::new();
    let rows: Vec<(&str, SocketOption, OurGet, ZmqSet, ZmqGet)> = vec![
        (
            "SNDHWM 0",
            SocketOption::SndHwm(0),
            |s| s.sndhwm().into(),
            |z| z.set_sndhwm(0),
            |z| z.get_sndhwm().map(Into::into),
        ),
        (
            "SNDHWM 5",
            SocketOption::SndHwm(5),
            |s| s.sndhwm().into(),
            |z| z.set_sndhwm(5),
            |z| z.get_sndhwm().map(Into::into),
        ),
        (
            "RCVHWM 0",
            SocketOption::RcvHwm(0),
            |s| s.rcvhwm().into(),
            |z| z.set_rcvhwm(0),
            |z| z.get_rcvhwm().map(Into::into),
        ),
        (
            "RCVHWM 7",
            SocketOption::RcvHwm(7),
            |s| s.rcvhwm().into(),
            |z| z.set_rcvhwm(7),
            |z| z.get_rcvhwm().map(Into::into),
        ),
        (
            "LINGER -1",
            SocketOption::Linger(-1),
            |s| s.linger().into(),
            |z| z.set_linger(-1),
            |z| z.get_linger().map(Into::into),
        ),
        (
            "LINGER 0",
            SocketOption::Linger(0),
            |s| s.linger().into(),
            |z| z.set_linger(0),
            |z| z.get_linger().map(Into::into),
        ),
        (
            "LINGER 250",
            SocketOption::Linger(250),
            |s| s.linger().into(),
            |z| z.set_linger(250),
            |z| z.get_linger().map(Into::into),
        ),
        (
            "RCVTIMEO 0",
            SocketOption::RcvTimeo(0),
            |s| s.rcvtimeo().into(),
            |z| z.set_rcvtimeo(0),
            |z| z.get_rcvtimeo().map(Into::into),
        ),
        (
            "RCVTIMEO 33",
            SocketOption::RcvTimeo(33),
            |s| s.rcvtimeo().into(),
            |z| z.set_rcvtimeo(33),
            |z| z.get_rcvtimeo().map(Into::into),
        ),
        (
            "SNDTIMEO 0",
            SocketOption::SndTimeo(0),
            |s| s.sndtimeo().into(),
            |z| z.set_sndtimeo(0),
            |z| z.get_sndtimeo().map(Into::into),
        ),
        (
            "SNDTIMEO 44",
            SocketOption::SndTimeo(44),
            |s| s.sndtimeo().into(),
            |z| z.set_sndtimeo(44),
            |z| z.get_sndtimeo().map(Into::into),
        ),
        (
            "RECONNECT_IVL -1",
            SocketOption::ReconnectIvl(-1),
            |s| s.reconnect_ivl().into(),
            |z| z.set_reconnect_ivl(-1),
            |z| z.get_reconnect_ivl().map(Into::into),
        ),
        (
            "RECONNECT_IVL 0",
            SocketOption::ReconnectIvl(0),
            |s| s.reconnect_ivl().into(),
            |z| z.set_reconnect_ivl(0),
            |z| z.get_reconnect_ivl().map(Into::into),
        ),
        (
            "RECONNECT_IVL 250",
            SocketOption::ReconnectIvl(250),
            |s| s.reconnect_ivl().into(),
            |z| z.set_reconnect_ivl(250),
            |z| z.get_reconnect_ivl().map(Into::into),
        ),
        (
            "BACKLOG 0",
            SocketOption::Backlog(0),
            |s| s.backlog().into(),
            |z| z.set_backlog(0),
            |z| z.get_backlog().map(Into::into),
        ),
        (
            "BACKLOG 5",
            SocketOption::Backlog(5),
            |s| s.backlog().into(),
            |z| z.set_backlog(5),
            |z| z.get_backlog().map(Into::into),
        ),
        (
            "MAXMSGSIZE -1",
            SocketOption::MaxMsgSize(-1),
            |s| s.maxmsgsize(),
            |z| z.set_maxmsgsize(-1),
            |z| z.get_maxmsgsize(),
        ),
        (
            "MAXMSGSIZE 0",
            SocketOption::MaxMsgSize(0),
            |s| s.maxmsgsize(),
            |z| z.set_maxmsgsize(0),
            |z| z.get_maxmsgsize(),
        ),
        (
            "MAXMSGSIZE 1000",
            SocketOption::MaxMsgSize(1000),
            |s| s.maxmsgsize(),
            |z| z.set_maxmsgsize(1000),
            |z| z.get_maxmsgsize(),
        ),
        (
            "HANDSHAKE_IVL 0",
            SocketOption::HandshakeIvl(0),
            |s| s.handshake_ivl().into(),
            |z| z.set_handshake_ivl(0),
            |z| z.get_handshake_ivl().map(Into::into),
        ),
        (
            "HANDSHAKE_IVL 1234",
            SocketOption::HandshakeIvl(1234),
            |s| s.handshake_ivl().into(),
            |z| z.set_handshake_ivl(1234),
            |z| z.get_handshake_ivl().map(Into::into),
        ),
        (
            "IMMEDIATE 1",
            SocketOption::Immediate(true),
            |s| s.immediate().into(),
            |z| z.set_immediate(true),
            |z| z.is_immediate().map(Into::into),
        ),
        (
            "RECONNECT_IVL_MAX 0",
            SocketOption::ReconnectIvlMax(0),
            |s| s.reconnect_ivl_max().into(),
            |z| z.set_reconnect_ivl_max(0),
            |z| z.get_reconnect_ivl_max().map(Into::into),
        ),
        (
            "RECONNECT_IVL_MAX 5000",
            SocketOption::ReconnectIvlMax(5000),
            |s| s.reconnect_ivl_max().into(),
            |z| z.set_reconnect_ivl_max(5000),
            |z| z.get_reconnect_ivl_max().map(Into::into),
        ),
        (
            "HEARTBEAT_IVL 0",
            SocketOption::HeartbeatIvl(0),
            |s| s.heartbeat_ivl().into(),
            |z| z.set_heartbeat_ivl(0),
            |z| z.get_heartbeat_ivl().map(Into::into),
        ),
        (
            "HEARTBEAT_IVL 250",
            SocketOption::HeartbeatIvl(250),
            |s| s.heartbeat_ivl().into(),
            |z| z.set_heartbeat_ivl(250),
            |z| z.get_heartbeat_ivl().map(Into::into),
        ),
        (
            "HEARTBEAT_TIMEOUT 0",
            SocketOption::HeartbeatTimeout(0),
            |s| s.heartbeat_timeout().into(),
            |z| z.set_heartbeat_timeout(0),
            |z| z.get_heartbeat_timeout().map(Into::into),
        ),
        (
            "HEARTBEAT_TIMEOUT 750",
            SocketOption::HeartbeatTimeout(750),
            |s| s.heartbeat_timeout().into(),
            |z| z.set_heartbeat_timeout(750),
            |z| z.get_heartbeat_timeout().map(Into::into),
        ),
        (
            "HEARTBEAT_TTL 0",
            SocketOption::HeartbeatTtl(0),
            |s| s.heartbeat_ttl().into(),
            |z| z.set_heartbeat_ttl(0),
            |z| z.get_heartbeat_ttl().map(Into::into),
        ),
        (
            "HEARTBEAT_TTL 1500",
            SocketOption::HeartbeatTtl(1500),
            |s| s.heartbeat_ttl().into(),
            |z| z.set_heartbeat_ttl(1500),
            |z| z.get_heartbeat_ttl().map(Into::into),
        ),
        (
            "HEARTBEAT_TTL 1550",
            SocketOption::HeartbeatTtl(1550),
            |s| s.heartbeat_ttl().into(),
            |z| z.set_heartbeat_ttl(1550),
            |z| z.get_heartbeat_ttl().map(Into::into),
        ),
        (
            "HEARTBEAT_TTL 99",
            SocketOption::HeartbeatTtl(99),
            |s| s.heartbeat_ttl().into(),
            |z| z.set_heartbeat_ttl(99),
            |z| z.get_heartbeat_ttl().map(Into::into),
        ),
    ];
    let mut diffs = Vec::new();
    for (name, opt, ours, zset, zget) in rows {
        let mut s = ctx.socket(SocketType::Dealer).unwrap();
        let z = zctx.socket(zmq::DEALER).unwrap();
        zset(&z).unwrap();
        s.set(opt).unwrap();
        let (ours, libzmq) = (ours(&s), zget(&z).unwrap());
        if ours != libzmq {
            diffs.push(format!("{name}: zsock reads back {ours}, libzmq {libzmq}"));
        }
    }
    let mut s = ctx.socket(SocketType::Dealer).unwrap();
    s.set(SocketOption::RoutingId("me".into())).unwrap();
    assert_eq!(s.routing_id(), "me");
    assert!(
        diffs.is_empty(),
        "getters differ from libzmq:\n{}",
        diffs.join("\n")
    );
}

// ---------------------------------------------------------------------------------------------
// SNDHWM, RCVHWM
// ---------------------------------------------------------------------------------------------

/// Sends DONTWAIT until EAGAIN (at most `limit` messages); returns how many went.
fn send_until_again(s: &mut Socket, body: &Bytes, limit: usize) -> usize {
    for n in 0..limit {
        match s.send(body.clone(), Flags::DONTWAIT) {
            Ok(()) => {}
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::Again, "{e}");
                return n;
            }
        }
    }
    limit
}

#[test]
fn sndhwm_queues_exactly_hwm_messages_for_a_peer_not_yet_there() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::SndHwm(3)).unwrap();
    push.connect(&d.ep("hwm")).unwrap();
    for i in 0..3 {
        push.send(format!("m{i}"), Flags::DONTWAIT).unwrap();
    }
    let e = push.send("m3", Flags::DONTWAIT).unwrap_err();
    assert_eq!((e.kind(), e.errno()), (ErrorKind::Again, libc::EAGAIN));
    // The three queued messages reach a peer that binds later, and nothing else.
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind(&d.ep("hwm")).unwrap();
    for i in 0..3 {
        assert_eq!(recv_str(&mut pull), format!("m{i}"));
    }
    assert_nothing_arrives(&mut pull, 200);
}

#[test]
fn sndhwm_default_is_1000_messages_and_zero_means_no_limit() {
    let d = Dir::new();
    let ctx = Context::new();
    let body = Bytes::from_static(b"x");
    let mut push = sock(&ctx, SocketType::Push);
    push.connect(&d.ep("default")).unwrap();
    assert_eq!(send_until_again(&mut push, &body, 5000), 1000);

    let mut unlimited = sock(&ctx, SocketType::Push);
    unlimited.set(SocketOption::SndHwm(0)).unwrap();
    unlimited.connect(&d.ep("unlimited")).unwrap();
    assert_eq!(send_until_again(&mut unlimited, &body, 5000), 5000);
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::RcvHwm(0)).unwrap();
    pull.bind(&d.ep("unlimited")).unwrap();
    for _ in 0..5000 {
        assert_eq!(pull.recv(Flags::NONE).unwrap(), "x");
    }
}

/// A PUSH bound to a PULL that never reads: sends succeed until both HWMs and the kernel's
/// buffer are full, then block for SNDTIMEO and fail with EAGAIN. Nothing sent is lost.
#[test]
fn push_blocks_until_sndtimeo_when_the_pull_does_not_read() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::SndHwm(5)).unwrap();
    let mon = push.monitor();
    push.bind(&d.ep("block")).unwrap();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::RcvHwm(5)).unwrap();
    pull.connect(&d.ep("block")).unwrap();
    wait_handshake(&mon);
    push.set(SocketOption::SndTimeo(200)).unwrap();
    let body = vec![b'.'; 1024];
    let mut sent = 0u32;
    let err = loop {
        let mut m = sent.to_be_bytes().to_vec();
        m.extend_from_slice(&body);
        let t0 = Instant::now();
        match push.send(m, Flags::NONE) {
            Ok(()) => sent += 1,
            Err(e) => break (e, t0.elapsed()),
        }
        assert!(sent < 100_000, "SNDHWM never pushed back");
    };
    assert_eq!(err.0.kind(), ErrorKind::Again, "{}", err.0);
    assert!(err.1 >= Duration::from_millis(200), "blocked for SNDTIMEO");
    for i in 0..sent {
        let m = pull.recv(Flags::NONE).unwrap();
        assert_eq!(m[..4], i.to_be_bytes(), "in order, nothing lost");
    }
    assert_nothing_arrives(&mut pull, 200);
}

/// RCVHWM bounds how many messages a PULL takes off the connection while nobody reads:
/// with a small RCVHWM the sender is pushed back; with 0 (no limit) it never is.
#[test]
fn rcvhwm_bounds_what_a_pull_takes_in_without_reading() {
    let d = Dir::new();
    let ctx = Context::new();
    let body = Bytes::from(vec![b'r'; 1024]);
    const MANY: usize = 20_000; // 20 MB: far beyond any kernel buffer
    let mut counts = Vec::new();
    for (rcvhwm, sndtimeo) in [(10, 300), (0, 10_000)] {
        let ep = d.ep(&format!("rcvhwm{rcvhwm}"));
        let mut pull = sock(&ctx, SocketType::Pull);
        pull.set(SocketOption::RcvHwm(rcvhwm)).unwrap();
        pull.bind(&ep).unwrap();
        let mut push = sock(&ctx, SocketType::Push);
        push.set(SocketOption::SndHwm(10)).unwrap();
        push.set(SocketOption::SndTimeo(sndtimeo)).unwrap();
        push.connect(&ep).unwrap();
        let mut sent = 0;
        while sent < MANY && push.send(body.clone(), Flags::NONE).is_ok() {
            sent += 1;
        }
        for _ in 0..sent {
            pull.recv(Flags::NONE).unwrap();
        }
        counts.push(sent);
    }
    assert!(
        counts[0] < MANY,
        "RCVHWM 10 pushed back after {} messages",
        counts[0]
    );
    assert_eq!(counts[1], MANY, "RCVHWM 0 takes everything in");
}

/// Under a RCVHWM, a PULL reads large messages ahead only up to READ_AHEAD_MAX bytes
/// (4 MiB), not RCVHWM messages' worth: a thousand 64 KiB messages would be 64 MiB. The
/// sender is pushed back; everything arrives, in order, once the PULL reads.
#[test]
fn a_pull_reads_large_messages_ahead_only_up_to_a_byte_mark() {
    let d = Dir::new();
    let ctx = Context::new();
    let ep = d.ep("ahead");
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind(&ep).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::SndHwm(10)).unwrap();
    push.set(SocketOption::SndTimeo(300)).unwrap();
    push.connect(&ep).unwrap();
    let body = vec![b'a'; 64 * 1024];
    let mut sent = 0u32;
    while sent < 1000 {
        let mut m = sent.to_be_bytes().to_vec();
        m.extend_from_slice(&body);
        if push.send(m, Flags::NONE).is_err() {
            break;
        }
        sent += 1;
    }
    let mark = zsock::READ_AHEAD_MAX / body.len();
    assert!(sent >= mark as u32, "read ahead {sent} messages");
    // The mark, SNDHWM and what the kernel buffers: far below RCVHWM (1000).
    assert!(sent < 3 * mark as u32, "read ahead {sent} messages");
    for i in 0..sent {
        assert_eq!(pull.recv(Flags::NONE).unwrap()[..4], i.to_be_bytes());
    }
}

// ---------------------------------------------------------------------------------------------
// LINGER
// ---------------------------------------------------------------------------------------------

#[test]
fn linger_zero_drops_queued_messages_at_close() {
    linger_zero_drops(false);
}

#[test]
fn linger_zero_drops_queued_messages_at_close_over_tcp() {
    linger_zero_drops(true);
}

fn linger_zero_drops(tcp: bool) {
    let d = Dir::new();
    let ep = unbound_ep(&d, "l0", tcp);
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push); // LINGER 0
    push.connect(&ep).unwrap();
    push.send("lost", Flags::NONE).unwrap();
    drop(push);
    drop(ctx); // returns at once: nothing lingers
    let ctx2 = Context::new();
    let mut pull = sock(&ctx2, SocketType::Pull);
    pull.bind(&ep).unwrap();
    assert_nothing_arrives(&mut pull, 500);
}

#[test]
fn linger_positive_delivers_to_a_peer_that_comes_within_the_linger() {
    linger_positive_delivers(false);
}

#[test]
fn linger_positive_delivers_to_a_peer_that_comes_within_the_linger_over_tcp() {
    linger_positive_delivers(true);
}

fn linger_positive_delivers(tcp: bool) {
    let d = Dir::new();
    let ep = unbound_ep(&d, "lpos", tcp);
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::Linger(10_000)).unwrap();
    push.connect(&ep).unwrap();
    push.send("kept", Flags::NONE).unwrap();
    drop(push);
    let ctx2 = Context::new();
    let mut pull = sock(&ctx2, SocketType::Pull);
    pull.bind(&ep).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "kept");
}

#[test]
fn linger_positive_gives_up_after_the_linger_and_the_context_waits_that_long() {
    linger_positive_gives_up(false);
}

#[test]
fn linger_positive_gives_up_after_the_linger_and_the_context_waits_that_long_over_tcp() {
    linger_positive_gives_up(true);
}

fn linger_positive_gives_up(tcp: bool) {
    let d = Dir::new();
    let ep = unbound_ep(&d, "lexp", tcp);
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::Linger(200)).unwrap();
    push.connect(&ep).unwrap();
    push.send("expires", Flags::NONE).unwrap();
    let t0 = Instant::now();
    drop(push);
    ctx.term();
    // A coarse lower bound: the context waited for the socket's linger.
    assert!(
        t0.elapsed() >= Duration::from_millis(190),
        "{:?}",
        t0.elapsed()
    );
    let ctx2 = Context::new();
    let mut pull = sock(&ctx2, SocketType::Pull);
    pull.bind(&ep).unwrap();
    assert_nothing_arrives(&mut pull, 500);
}

#[test]
fn context_drop_waits_for_a_socket_with_infinite_linger_to_deliver() {
    let d = Dir::new();
    let ep = d.ep("linf");
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::Linger(-1)).unwrap();
    assert_eq!(push.linger(), -1);
    push.connect(&ep).unwrap();
    push.send("eventually", Flags::NONE).unwrap();
    drop(push);
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        drop(ctx);
        tx.send(()).unwrap();
    });
    // Bounded wait showing the drop does NOT return while the message has nowhere to go.
    assert_eq!(
        rx.recv_timeout(Duration::from_millis(300)),
        Err(mpsc::RecvTimeoutError::Timeout),
        "context drop returned with a message still queued"
    );
    let ctx2 = Context::new();
    let mut pull = sock(&ctx2, SocketType::Pull);
    pull.bind(&ep).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "eventually");
    rx.recv_timeout(LONG)
        .expect("context drop returns once the message is delivered");
    t.join().unwrap();
}

// ---------------------------------------------------------------------------------------------
// RCVTIMEO, SNDTIMEO
// ---------------------------------------------------------------------------------------------

#[test]
fn rcvtimeo_bounds_a_blocking_receive() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind(&d.ep("rt")).unwrap();
    pull.set(SocketOption::RcvTimeo(100)).unwrap();
    let t0 = Instant::now();
    assert_eq!(pull.recv(Flags::NONE).unwrap_err().kind(), ErrorKind::Again);
    assert!(
        t0.elapsed() >= Duration::from_millis(100),
        "{:?}",
        t0.elapsed()
    );
    pull.set(SocketOption::RcvTimeo(0)).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap_err().kind(), ErrorKind::Again);

    // -1: waits as long as it takes.
    pull.set(SocketOption::RcvTimeo(-1)).unwrap();
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let m = pull.recv(Flags::NONE).map(|f| f.to_vec());
        tx.send(m).unwrap();
    });
    // Bounded wait showing the receive does NOT give up.
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    let mut push = sock(&ctx, SocketType::Push);
    push.connect(&d.ep("rt")).unwrap();
    push.send("late", Flags::NONE).unwrap();
    assert_eq!(rx.recv_timeout(LONG).unwrap().unwrap(), b"late");
    t.join().unwrap();
}

#[test]
fn sndtimeo_bounds_a_blocking_send() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::SndHwm(1)).unwrap();
    push.connect(&d.ep("st")).unwrap();
    push.send("1", Flags::NONE).unwrap();
    push.set(SocketOption::SndTimeo(100)).unwrap();
    let t0 = Instant::now();
    assert_eq!(
        push.send("x", Flags::NONE).unwrap_err().kind(),
        ErrorKind::Again
    );
    assert!(
        t0.elapsed() >= Duration::from_millis(100),
        "{:?}",
        t0.elapsed()
    );
    push.set(SocketOption::SndTimeo(0)).unwrap();
    assert_eq!(
        push.send("x", Flags::NONE).unwrap_err().kind(),
        ErrorKind::Again
    );

    // -1: waits until there is room.
    push.set(SocketOption::SndTimeo(-1)).unwrap();
    let (tx, rx) = mpsc::channel();
    let t = std::thread::spawn(move || {
        let r = push.send("2", Flags::NONE);
        tx.send(r.map_err(|e| e.kind())).unwrap();
        push
    });
    // Bounded wait showing the send does NOT give up.
    assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind(&d.ep("st")).unwrap();
    assert_eq!(rx.recv_timeout(LONG).unwrap(), Ok(()));
    assert_eq!(recv_str(&mut pull), "1");
    assert_eq!(recv_str(&mut pull), "2");
    drop(t.join().unwrap());
}

// ---------------------------------------------------------------------------------------------
// ROUTING_ID, CONNECT_ROUTING_ID
// ---------------------------------------------------------------------------------------------

#[test]
fn routing_id_is_what_the_router_sees() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut router = sock(&ctx, SocketType::Router);
    router.bind(&d.ep("rid")).unwrap();
    let mut dealer = sock(&ctx, SocketType::Dealer);
    dealer
        .set(SocketOption::RoutingId("dealer-1".into()))
        .unwrap();
    dealer.connect(&d.ep("rid")).unwrap();
    dealer.send("from dealer", Flags::NONE).unwrap();
    let mut req = sock(&ctx, SocketType::Req);
    req.set(SocketOption::RoutingId("req-1".into())).unwrap();
    req.connect(&d.ep("rid")).unwrap();
    req.send("from req", Flags::NONE).unwrap();
    let mut anon = sock(&ctx, SocketType::Dealer);
    anon.connect(&d.ep("rid")).unwrap();
    anon.send("from anon", Flags::NONE).unwrap();
    let mut got = Vec::new();
    for _ in 0..3 {
        got.push(router.recv_msg(Flags::NONE).unwrap());
    }
    got.sort_by_key(|m| m.frames().last().unwrap().clone());
    let anon_id = &got[0].frames()[0];
    assert_eq!(got[0].frames()[1], "from anon");
    assert_eq!(anon_id.len(), 5, "a generated id: 0 and a 32-bit number");
    assert_eq!(anon_id[0], 0);
    assert_eq!(got[1], msg([b"dealer-1", b"from dealer"]));
    assert_eq!(got[2], msg([b"req-1", b"", b"from req"]));
    // Replies find their way back by that name.
    router
        .send_msg(msg([b"dealer-1", b"hi dealer"]), Flags::NONE)
        .unwrap();
    router
        .send_msg(msg([b"req-1", b"", b"hi req"]), Flags::NONE)
        .unwrap();
    assert_eq!(recv_str(&mut dealer), "hi dealer");
    assert_eq!(recv_str(&mut req), "hi req");
}

#[test]
fn connect_routing_id_names_the_routers_next_outgoing_connection_only() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut b = sock(&ctx, SocketType::Dealer);
    b.set(SocketOption::RoutingId("b-own".into())).unwrap();
    b.bind(&d.ep("b")).unwrap();
    let mut c = sock(&ctx, SocketType::Dealer);
    c.set(SocketOption::RoutingId("c-own".into())).unwrap();
    c.bind(&d.ep("c")).unwrap();

    let mut router = sock(&ctx, SocketType::Router);
    router.set(SocketOption::RouterMandatory(true)).unwrap();
    let mon = router.monitor();
    router
        .set(SocketOption::ConnectRoutingId("peer-b".into()))
        .unwrap();
    router.connect(&d.ep("b")).unwrap();
    router.connect(&d.ep("c")).unwrap();
    wait_handshake(&mon);
    wait_handshake(&mon);
    // The name given overrides the peer's own routing id; the next connect is unnamed.
    router
        .send_msg(msg([b"peer-b", b"to b"]), Flags::NONE)
        .unwrap();
    router
        .send_msg(msg([b"c-own", b"to c"]), Flags::NONE)
        .unwrap();
    assert_eq!(recv_str(&mut b), "to b");
    assert_eq!(recv_str(&mut c), "to c");
    b.send("from b", Flags::NONE).unwrap();
    assert_eq!(
        router.recv_msg(Flags::NONE).unwrap(),
        msg([b"peer-b", b"from b"])
    );
    let e = router
        .send_msg(msg([b"b-own", b"x"]), Flags::NONE)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::HostUnreachable);
}

/// `send_msg_ref` keeps the message on every error: a ROUTER_MANDATORY ROUTER refusing an
/// unknown routing id (EHOSTUNREACH) hands back every frame, the id first, so that a
/// broker can put another id in front and send again.
#[test]
fn a_refused_routing_id_leaves_send_msg_ref_the_whole_message() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut router = sock(&ctx, SocketType::Router);
    router.set(SocketOption::RouterMandatory(true)).unwrap();
    router.bind(&d.ep("r")).unwrap();
    let mut dealer = sock(&ctx, SocketType::Dealer);
    dealer.set(SocketOption::RoutingId("w2".into())).unwrap();
    dealer.connect(&d.ep("r")).unwrap();
    dealer.send("ready", Flags::NONE).unwrap();
    assert_eq!(
        router.recv_msg(Flags::NONE).unwrap(),
        msg([b"w2", b"ready"])
    );

    let mut m = msg([b"w1", b"client", b"", b"request"]);
    let e = router.send_msg_ref(&mut m, Flags::DONTWAIT).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::HostUnreachable);
    assert_eq!(m, msg([b"w1", b"client", b"", b"request"]));
    m.pop_front();
    m.push_front(Bytes::from("w2"));
    router.send_msg_ref(&mut m, Flags::NONE).unwrap();
    assert!(m.is_empty());
    assert_eq!(
        dealer.recv_msg(Flags::NONE).unwrap(),
        msg([b"client", b"", b"request"])
    );
}

// ---------------------------------------------------------------------------------------------
// SUBSCRIBE, UNSUBSCRIBE, XPUB_VERBOSE, XPUB_NODROP
// ---------------------------------------------------------------------------------------------

#[test]
fn subscribe_and_unsubscribe_reach_the_publisher_and_are_counted() {
    let d = Dir::new();
    let ctx = Context::new();
    let (mut xpub, mut sub) = bound_pair(&ctx, &d, "subs", SocketType::XPub, SocketType::Sub);
    sub.set(SocketOption::Subscribe("a".into())).unwrap();
    assert_eq!(xpub.recv(Flags::NONE).unwrap(), &b"\x01a"[..]);
    // A second SUBSCRIBE of the same topic is counted, not sent again; one UNSUBSCRIBE
    // leaves the topic subscribed.
    sub.set(SocketOption::Subscribe("a".into())).unwrap();
    sub.set(SocketOption::Unsubscribe("a".into())).unwrap();
    sub.set(SocketOption::Subscribe("marker".into())).unwrap();
    assert_eq!(xpub.recv(Flags::NONE).unwrap(), &b"\x01marker"[..]);
    sub.set(SocketOption::Unsubscribe("a".into())).unwrap();
    assert_eq!(xpub.recv(Flags::NONE).unwrap(), &b"\x00a"[..]);
    // Unsubscribing a topic never subscribed changes nothing.
    sub.set(SocketOption::Unsubscribe("never".into())).unwrap();
    sub.set(SocketOption::Subscribe("marker2".into())).unwrap();
    assert_eq!(xpub.recv(Flags::NONE).unwrap(), &b"\x01marker2"[..]);
}

#[test]
fn sub_receives_only_subscribed_prefixes_until_it_unsubscribes() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut publ = sock(&ctx, SocketType::Pub);
    publ.bind(&d.ep("filter")).unwrap();
    let mut sub = sock(&ctx, SocketType::Sub);
    sub.set(SocketOption::Subscribe("a".into())).unwrap();
    sub.set(SocketOption::Subscribe("z".into())).unwrap();
    sub.set(SocketOption::RcvTimeo(50)).unwrap();
    sub.connect(&d.ep("filter")).unwrap();
    let deadline = Instant::now() + LONG;
    loop {
        publ.send("b-never", Flags::NONE).unwrap();
        publ.send("a-1", Flags::NONE).unwrap();
        if let Ok(m) = sub.recv(Flags::NONE) {
            assert_eq!(m, "a-1");
            break;
        }
        assert!(Instant::now() < deadline, "subscription never took effect");
    }
    sub.set(SocketOption::RcvTimeo(10_000)).unwrap();
    // Everything queued so far is "a-1"; flush it with a "z" marker.
    publ.send("z-flush", Flags::NONE).unwrap();
    while sub.recv(Flags::NONE).unwrap() != "z-flush" {}
    sub.set(SocketOption::Unsubscribe("a".into())).unwrap();
    publ.send("a-2", Flags::NONE).unwrap();
    publ.send("b-never", Flags::NONE).unwrap();
    publ.send("z-end", Flags::NONE).unwrap();
    assert_eq!(sub.recv(Flags::NONE).unwrap(), "z-end");
}

#[test]
fn xpub_verbose_passes_up_duplicate_subscriptions() {
    let d = Dir::new();
    let ctx = Context::new();
    for verbose in [false, true] {
        let ep = d.ep(&format!("verbose{verbose}"));
        let mut xpub = sock(&ctx, SocketType::XPub);
        xpub.set(SocketOption::XpubVerbose(verbose)).unwrap();
        xpub.bind(&ep).unwrap();
        let mut sub1 = sock(&ctx, SocketType::Sub);
        sub1.set(SocketOption::Subscribe("a".into())).unwrap();
        sub1.connect(&ep).unwrap();
        assert_eq!(xpub.recv(Flags::NONE).unwrap(), &b"\x01a"[..]);
        let mut sub2 = sock(&ctx, SocketType::Sub);
        let mon2 = sub2.monitor();
        sub2.set(SocketOption::Subscribe("a".into())).unwrap();
        sub2.connect(&ep).unwrap();
        wait_handshake(&mon2);
        sub2.set(SocketOption::Subscribe("b".into())).unwrap();
        // sub2 sent "a" then "b" on one connection, so "a" (if passed up) comes first.
        if verbose {
            assert_eq!(xpub.recv(Flags::NONE).unwrap(), &b"\x01a"[..], "verbose");
        }
        assert_eq!(
            xpub.recv(Flags::NONE).unwrap(),
            &b"\x01b"[..],
            "verbose {verbose}"
        );
    }
}

#[test]
fn xpub_nodrop_turns_drops_at_hwm_into_eagain() {
    let d = Dir::new();
    let ctx = Context::new();
    let body = Bytes::from(vec![b'n'; 1024]);
    const MANY: usize = 20_000;
    for nodrop in [true, false] {
        let ep = d.ep(&format!("nodrop{nodrop}"));
        let mut xpub = sock(&ctx, SocketType::XPub);
        xpub.set(SocketOption::SndHwm(10)).unwrap();
        xpub.set(SocketOption::XpubNodrop(nodrop)).unwrap();
        xpub.bind(&ep).unwrap();
        let mut sub = sock(&ctx, SocketType::Sub);
        sub.set(SocketOption::RcvHwm(10)).unwrap();
        sub.set(SocketOption::Subscribe(Bytes::new())).unwrap();
        sub.connect(&ep).unwrap();
        assert_eq!(xpub.recv(Flags::NONE).unwrap(), &b"\x01"[..]);
        let mut sent = send_until_again(&mut xpub, &body, MANY);
        if nodrop {
            assert!(
                sent < MANY,
                "XPUB_NODROP: EAGAIN once the subscriber is full"
            );
            // Blocking sends wait up to SNDTIMEO, then fail the same way (room may come
            // back meanwhile, so some of them succeed first).
            xpub.set(SocketOption::SndTimeo(100)).unwrap();
            let e = (0..MANY)
                .find_map(|_| match xpub.send(body.clone(), Flags::NONE) {
                    Ok(()) => {
                        sent += 1;
                        None
                    }
                    Err(e) => Some(e),
                })
                .expect("a blocking send to a full subscriber times out");
            assert_eq!(e.kind(), ErrorKind::Again);
        } else {
            assert_eq!(sent, MANY, "without XPUB_NODROP sends never fail");
        }
        let mut got = 0;
        sub.set(SocketOption::RcvTimeo(500)).unwrap();
        while sub.recv(Flags::NONE).is_ok() {
            got += 1;
        }
        if nodrop {
            assert_eq!(got, sent, "XPUB_NODROP loses nothing");
        } else {
            assert!(
                got < MANY,
                "without XPUB_NODROP a full subscriber misses messages"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// ROUTER_MANDATORY, ROUTER_HANDOVER
// ---------------------------------------------------------------------------------------------

#[test]
fn router_mandatory_fails_with_ehostunreach_for_an_unknown_peer() {
    let d = Dir::new();
    // libzmq fails already on the routing-id frame.
    let zctx = zmq::Context::new();
    let zrouter = zctx.socket(zmq::ROUTER).unwrap();
    zrouter.set_router_mandatory(true).unwrap();
    zrouter.bind(&d.ep("zmq-router")).unwrap();
    assert_eq!(
        zrouter.send("nobody", zmq::SNDMORE),
        Err(zmq::Error::EHOSTUNREACH)
    );

    let ctx = Context::new();
    let mut lax = sock(&ctx, SocketType::Router);
    lax.bind(&d.ep("lax")).unwrap();
    lax.send_msg(msg([b"nobody", b"x"]), Flags::NONE).unwrap(); // dropped silently

    let mut router = sock(&ctx, SocketType::Router);
    router.set(SocketOption::RouterMandatory(true)).unwrap();
    router.bind(&d.ep("strict")).unwrap();
    let e = router
        .send_msg(msg([b"nobody", b"x"]), Flags::NONE)
        .unwrap_err();
    assert_eq!(
        (e.kind(), e.errno()),
        (ErrorKind::HostUnreachable, libc::EHOSTUNREACH)
    );
    // Frame by frame, like libzmq: the routing-id frame already fails.
    let e = router.send("nobody", Flags::SNDMORE).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::HostUnreachable);
}

#[test]
fn router_mandatory_fails_with_eagain_when_the_peer_is_full() {
    let d = Dir::new();
    let ctx = Context::new();
    let body = Bytes::from(vec![b'f'; 64 * 1024]);
    for mandatory in [true, false] {
        let ep = d.ep(&format!("full{mandatory}"));
        let mut router = sock(&ctx, SocketType::Router);
        router
            .set(SocketOption::RouterMandatory(mandatory))
            .unwrap();
        router.set(SocketOption::SndHwm(1)).unwrap();
        router.bind(&ep).unwrap();
        let mut dealer = sock(&ctx, SocketType::Dealer);
        dealer.set(SocketOption::RoutingId("d".into())).unwrap();
        dealer.set(SocketOption::RcvHwm(1)).unwrap();
        dealer.connect(&ep).unwrap();
        dealer.send("hello", Flags::NONE).unwrap();
        assert_eq!(router.recv_msg(Flags::NONE).unwrap(), msg([b"d", b"hello"]));
        let mut sent = 0;
        let mut refused = None;
        for _ in 0..500 {
            let m: Message = [Bytes::from_static(b"d"), body.clone()]
                .into_iter()
                .collect();
            match router.send_msg(m, Flags::DONTWAIT) {
                Ok(()) => sent += 1,
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        if mandatory {
            let e = refused.expect("ROUTER_MANDATORY: EAGAIN once the peer is full");
            assert_eq!((e.kind(), e.errno()), (ErrorKind::Again, libc::EAGAIN));
            // Blocking sends wait up to SNDTIMEO for room, then fail the same way (room
            // may come back meanwhile, so some of them succeed first).
            router.set(SocketOption::SndTimeo(100)).unwrap();
            let timed_out = (0..500).find_map(|_| {
                let m: Message = [Bytes::from_static(b"d"), body.clone()]
                    .into_iter()
                    .collect();
                let t0 = Instant::now();
                match router.send_msg(m, Flags::NONE) {
                    Ok(()) => {
                        sent += 1;
                        None
                    }
                    Err(e) => Some((e, t0.elapsed())),
                }
            });
            let (e, waited) = timed_out.expect("a blocking send to a full peer times out");
            assert_eq!(e.kind(), ErrorKind::Again);
            assert!(waited >= Duration::from_millis(100), "{waited:?}");
            // What was accepted arrives whole.
            for _ in 0..sent {
                assert_eq!(dealer.recv(Flags::NONE).unwrap().len(), body.len());
            }
        } else {
            assert!(
                refused.is_none(),
                "without ROUTER_MANDATORY a full peer's messages drop"
            );
            assert_eq!(sent, 500);
        }
    }
}

/// The new peer takes the routing id over; the old one stays connected but muted, as in
/// libzmq: it is not disconnected (else it would reconnect and take the id back, and the
/// two would trade it for as long as both live), nothing goes to it, and what it sends is
/// dropped.
#[test]
fn router_handover_lets_a_new_peer_take_over_a_routing_id() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut router = sock(&ctx, SocketType::Router);
    router.set(SocketOption::RouterHandover(true)).unwrap();
    let mon = router.monitor();
    router.bind(&d.ep("ho")).unwrap();
    let mut first = sock(&ctx, SocketType::Dealer);
    first.set(SocketOption::RoutingId("x".into())).unwrap();
    let first_mon = first.monitor();
    first.connect(&d.ep("ho")).unwrap();
    first.send("one", Flags::NONE).unwrap();
    assert_eq!(router.recv_msg(Flags::NONE).unwrap(), msg([b"x", b"one"]));
    let mut second = sock(&ctx, SocketType::Dealer);
    second.set(SocketOption::RoutingId("x".into())).unwrap();
    second.connect(&d.ep("ho")).unwrap();
    wait_handshake(&mon);
    wait_handshake(&mon);
    router.send_msg(msg([b"x", b"to x"]), Flags::NONE).unwrap();
    assert_eq!(recv_str(&mut second), "to x");
    first.send("from the old peer", Flags::NONE).unwrap();
    second.send("two", Flags::NONE).unwrap();
    assert_eq!(router.recv_msg(Flags::NONE).unwrap(), msg([b"x", b"two"]));
    assert_nothing_arrives(&mut first, 200);
    assert_nothing_arrives(&mut router, 200);
    // Still connected, both ways: no disconnect on either side.
    let gone = |e: &Event| matches!(e, Event::Disconnected { .. } | Event::Closed { .. });
    assert!(!drain_events(&first_mon).iter().any(gone));
    assert!(!drain_events(&mon).iter().any(gone));
    router
        .send_msg(msg([b"x", b"still to x"]), Flags::NONE)
        .unwrap();
    assert_eq!(recv_str(&mut second), "still to x");
}

#[test]
fn without_router_handover_a_second_peer_with_a_taken_id_is_refused() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut router = sock(&ctx, SocketType::Router);
    let mon = router.monitor();
    router.bind(&d.ep("noho")).unwrap();
    let mut first = sock(&ctx, SocketType::Dealer);
    first.set(SocketOption::RoutingId("x".into())).unwrap();
    first.connect(&d.ep("noho")).unwrap();
    first.send("one", Flags::NONE).unwrap();
    assert_eq!(router.recv_msg(Flags::NONE).unwrap(), msg([b"x", b"one"]));
    let mut second = sock(&ctx, SocketType::Dealer);
    second.set(SocketOption::RoutingId("x".into())).unwrap();
    second.connect(&d.ep("noho")).unwrap();
    second.send("from the impostor", Flags::NONE).unwrap();
    wait_handshake(&mon);
    wait_handshake(&mon);
    router.send_msg(msg([b"x", b"to x"]), Flags::NONE).unwrap();
    assert_eq!(recv_str(&mut first), "to x");
    assert_nothing_arrives(&mut second, 200);
    first.send("sync", Flags::NONE).unwrap();
    assert_eq!(router.recv_msg(Flags::NONE).unwrap(), msg([b"x", b"sync"]));
    assert_nothing_arrives(&mut router, 200);
}

/// A peer may name itself as the ROUTER would name an anonymous peer (a zero byte and a
/// counter, from a random start): the ROUTER then names the next anonymous peer
/// otherwise, and each gets its own replies (libzmq asserts here).
#[test]
fn a_peer_named_like_a_generated_id_keeps_its_name_and_its_replies() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut router = sock(&ctx, SocketType::Router);
    router.bind(&d.ep("gen")).unwrap();
    let anonymous_id = |router: &mut Socket| {
        let mut dealer = sock(&ctx, SocketType::Dealer);
        dealer.connect(&d.ep("gen")).unwrap();
        dealer.send("anonymous", Flags::NONE).unwrap();
        let m = router.recv_msg(Flags::NONE).unwrap();
        assert_eq!(&m.frames()[1][..], b"anonymous");
        (m.frames()[0].clone(), dealer)
    };
    let (first, _first) = anonymous_id(&mut router);
    assert_eq!((first.len(), first[0]), (5, 0), "a generated id");
    // The id the ROUTER would give next, taken by a peer that names itself so.
    let counter = u32::from_be_bytes(first[1..].try_into().unwrap());
    let mut taken = vec![0u8];
    taken.extend_from_slice(&counter.wrapping_add(1).to_be_bytes());
    let mut named = sock(&ctx, SocketType::Dealer);
    named
        .set(SocketOption::RoutingId(Bytes::from(taken.clone())))
        .unwrap();
    named.connect(&d.ep("gen")).unwrap();
    named.send("named", Flags::NONE).unwrap();
    let m = router.recv_msg(Flags::NONE).unwrap();
    assert_eq!(
        (&m.frames()[0][..], &m.frames()[1][..]),
        (&taken[..], &b"named"[..])
    );
    let (second, mut anonymous) = anonymous_id(&mut router);
    assert_ne!(second, taken, "the anonymous peer got the taken name");
    for (id, text) in [(&taken[..], "to named"), (&second[..], "to anonymous")] {
        router.send(id, Flags::SNDMORE).unwrap();
        router.send(text, Flags::NONE).unwrap();
    }
    assert_eq!(recv_str(&mut named), "to named");
    assert_eq!(recv_str(&mut anonymous), "to anonymous");
}

// ---------------------------------------------------------------------------------------------
// REQ_RELAXED, REQ_CORRELATE
// ---------------------------------------------------------------------------------------------

#[test]
fn req_relaxed_allows_a_new_request_before_the_reply() {
    let d = Dir::new();
    let ctx = Context::new();
    let (mut router, mut strict) =
        bound_pair(&ctx, &d, "relaxed", SocketType::Router, SocketType::Req);
    strict.send("q", Flags::NONE).unwrap();
    let e = strict.send("again", Flags::NONE).unwrap_err();
    assert_eq!((e.kind(), e.errno()), (ErrorKind::Fsm, zsock::errno::EFSM));

    let mut req = sock(&ctx, SocketType::Req);
    req.set(SocketOption::RoutingId("relaxed".into())).unwrap();
    req.set(SocketOption::ReqRelaxed(true)).unwrap();
    req.connect(&d.ep("relaxed")).unwrap();
    req.send("q1", Flags::NONE).unwrap();
    req.send("q2", Flags::NONE).unwrap();
    let mut got = Vec::new();
    while got.len() < 2 {
        let m = router.recv_msg(Flags::NONE).unwrap();
        if m.frames()[0] == "relaxed" {
            got.push(m);
        }
    }
    assert_eq!(got[0], msg([b"relaxed", b"", b"q1"]));
    assert_eq!(got[1], msg([b"relaxed", b"", b"q2"]));
    router
        .send_msg(msg([b"relaxed", b"", b"a2"]), Flags::NONE)
        .unwrap();
    assert_eq!(recv_str(&mut req), "a2");
}

#[test]
fn req_correlate_accepts_only_the_reply_to_the_latest_request() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut router = sock(&ctx, SocketType::Router);
    router.bind(&d.ep("corr")).unwrap();
    let mut req = sock(&ctx, SocketType::Req);
    req.set(SocketOption::RoutingId("r".into())).unwrap();
    req.set(SocketOption::ReqRelaxed(true)).unwrap();
    req.set(SocketOption::ReqCorrelate(true)).unwrap();
    req.connect(&d.ep("corr")).unwrap();
    req.send("q1", Flags::NONE).unwrap();
    // (send_copy builds the same envelope, straight into the batch.)
    req.send_copy(b"q2", Flags::NONE).unwrap();
    let m1 = router.recv_msg(Flags::NONE).unwrap();
    let m2 = router.recv_msg(Flags::NONE).unwrap();
    // Each request carries a 4-byte request id before the delimiter.
    for (m, q) in [(&m1, "q1"), (&m2, "q2")] {
        assert_eq!(m.len(), 4, "{m:?}");
        assert_eq!(m.frames()[0], "r");
        assert_eq!(m.frames()[1].len(), 4);
        assert_eq!(m.frames()[2], "");
        assert_eq!(m.frames()[3], q);
    }
    assert_ne!(m1.frames()[1], m2.frames()[1]);
    let reply = |m: &Message, body: &'static str| -> Message {
        [
            m.frames()[0].clone(),
            m.frames()[1].clone(),
            Bytes::new(),
            Bytes::from(body),
        ]
        .into_iter()
        .collect()
    };
    // The stale reply comes first and is dropped; a bogus id is dropped too.
    router.send_msg(reply(&m1, "a1"), Flags::NONE).unwrap();
    router
        .send_msg(msg([b"r", b"\xde\xad\xbe\xef", b"", b"bogus"]), Flags::NONE)
        .unwrap();
    router.send_msg(reply(&m2, "a2"), Flags::NONE).unwrap();
    assert_eq!(recv_str(&mut req), "a2");
    assert_eq!(req.recv(Flags::NONE).unwrap_err().kind(), ErrorKind::Fsm);

    // Without REQ_CORRELATE (relaxed only) the first reply from the peer is taken.
    let mut plain = sock(&ctx, SocketType::Req);
    plain.set(SocketOption::RoutingId("p".into())).unwrap();
    plain.set(SocketOption::ReqRelaxed(true)).unwrap();
    plain.connect(&d.ep("corr")).unwrap();
    plain.send("q1", Flags::NONE).unwrap();
    plain.send("q2", Flags::NONE).unwrap();
    assert_eq!(
        router.recv_msg(Flags::NONE).unwrap(),
        msg([b"p", b"", b"q1"])
    );
    assert_eq!(
        router.recv_msg(Flags::NONE).unwrap(),
        msg([b"p", b"", b"q2"])
    );
    router
        .send_msg(msg([b"p", b"", b"a1"]), Flags::NONE)
        .unwrap();
    assert_eq!(recv_str(&mut plain), "a1");
}

// ---------------------------------------------------------------------------------------------
// CONFLATE
// ---------------------------------------------------------------------------------------------

#[test]
fn conflate_on_pull_hands_out_only_the_newest_message() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::Conflate(true)).unwrap();
    pull.bind(&d.ep("cpull")).unwrap();
    // One write: greeting, READY and ten messages, so all ten arrive together.
    let mut raw = RawPeer::connect(&d.ep("cpull"));
    let mut out = raw_greeting();
    out.extend(raw_ready("PUSH"));
    for i in 1..=10 {
        out.extend(raw_data(format!("{i}").as_bytes(), false));
    }
    raw.write(&out);
    assert_eq!(recv_str(&mut pull), "10");
    assert_no_message(&mut pull);
}

#[test]
fn conflate_on_push_keeps_only_the_newest_queued_message() {
    let d = Dir::new();
    // libzmq: a conflating PUSH keeps one outgoing message, the last one sent.
    let zctx = zmq::Context::new();
    let zpush = zctx.socket(zmq::PUSH).unwrap();
    zpush.set_conflate(true).unwrap();
    zpush.set_linger(0).unwrap();
    zpush.connect(&d.ep("zmq-cpush")).unwrap();
    for i in 1..=10 {
        zpush.send(format!("{i}").as_bytes(), 0).unwrap();
    }
    let zpull = zctx.socket(zmq::PULL).unwrap();
    zpull.set_rcvtimeo(10_000).unwrap();
    zpull.set_linger(0).unwrap();
    zpull.bind(&d.ep("zmq-cpush")).unwrap();
    assert_eq!(zpull.recv_bytes(0).unwrap(), b"10");
    zpull.set_rcvtimeo(300).unwrap();
    assert_eq!(zpull.recv_bytes(0), Err(zmq::Error::EAGAIN));

    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::Conflate(true)).unwrap();
    push.connect(&d.ep("cpush")).unwrap();
    for i in 1..=10 {
        push.send(format!("{i}"), Flags::DONTWAIT).unwrap();
    }
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind(&d.ep("cpush")).unwrap();
    assert_eq!(recv_str(&mut pull), "10");
    assert_nothing_arrives(&mut pull, 300);
}

// ---------------------------------------------------------------------------------------------
// IMMEDIATE
// ---------------------------------------------------------------------------------------------

#[test]
fn immediate_refuses_to_queue_for_a_peer_not_yet_connected() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut lazy = sock(&ctx, SocketType::Push);
    lazy.connect(&d.ep("lazy")).unwrap();
    lazy.send("queued", Flags::DONTWAIT).unwrap();

    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::Immediate(true)).unwrap();
    assert!(push.immediate());
    let mon = push.monitor();
    push.connect(&d.ep("imm")).unwrap();
    let e = push.send("nowhere", Flags::DONTWAIT).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Again);
    assert!(!push.events().contains(Events::POLLOUT));
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.bind(&d.ep("imm")).unwrap();
    wait_handshake(&mon);
    push.send("now", Flags::DONTWAIT).unwrap();
    assert_eq!(recv_str(&mut pull), "now");
}

#[test]
fn immediate_sends_only_to_completed_connections() {
    let d = Dir::new();
    let ctx = Context::new();
    for immediate in [true, false] {
        let (up, down) = (
            d.ep(&format!("up{immediate}")),
            d.ep(&format!("down{immediate}")),
        );
        let mut pull_up = sock(&ctx, SocketType::Pull);
        pull_up.bind(&up).unwrap();
        let mut push = sock(&ctx, SocketType::Push);
        push.set(SocketOption::Immediate(immediate)).unwrap();
        let mon = push.monitor();
        push.connect(&up).unwrap();
        push.connect(&down).unwrap();
        wait_handshake(&mon);
        for i in 0..10 {
            push.send(format!("{i}"), Flags::NONE).unwrap();
        }
        let mut to_up = Vec::new();
        pull_up.set(SocketOption::RcvTimeo(300)).unwrap();
        while let Ok(m) = pull_up.recv(Flags::NONE) {
            to_up.push(String::from_utf8_lossy(&m).into_owned());
        }
        if immediate {
            assert_eq!(to_up.len(), 10, "IMMEDIATE: all go to the connected peer");
        } else {
            // Round robin over both pipes: half wait for the absent peer.
            assert_eq!(to_up, ["0", "2", "4", "6", "8"]);
            let mut pull_down = sock(&ctx, SocketType::Pull);
            pull_down.bind(&down).unwrap();
            for i in [1, 3, 5, 7, 9] {
                assert_eq!(recv_str(&mut pull_down), format!("{i}"));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// RECONNECT_IVL, RECONNECT_IVL_MAX
// ---------------------------------------------------------------------------------------------

/// A PULL connected to a PUSH that goes away; a new PUSH binds the same path and sends.
/// Returns whether the PULL got the new PUSH's message.
fn pull_hears_a_restarted_binder(reconnect_ivl: Option<i32>) -> bool {
    let d = Dir::new();
    let ep = d.ep("restart");
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    if let Some(v) = reconnect_ivl {
        pull.set(SocketOption::ReconnectIvl(v)).unwrap();
    }
    let mon = pull.monitor();
    let mut push1 = sock(&ctx, SocketType::Push);
    push1.bind(&ep).unwrap();
    pull.connect(&ep).unwrap();
    wait_handshake(&mon);
    push1.send("one", Flags::NONE).unwrap();
    assert_eq!(recv_str(&mut pull), "one");
    drop(push1);
    wait_disconnected(&mon);
    let mut push2 = sock(&ctx, SocketType::Push);
    push2.bind(&ep).unwrap();
    // Bounded: with reconnecting off, nobody ever connects to push2.
    push2.set(SocketOption::SndTimeo(2000)).unwrap();
    if push2.send("two", Flags::NONE).is_err() {
        return false;
    }
    assert_eq!(recv_str(&mut pull), "two");
    true
}

#[test]
fn reconnect_ivl_minus_one_never_reconnects_after_the_binder_restarts() {
    assert!(!pull_hears_a_restarted_binder(Some(-1)));
}

#[test]
fn by_default_a_connector_reconnects_after_the_binder_restarts() {
    assert!(pull_hears_a_restarted_binder(None));
}

/// The delays of the first `n` reconnect attempts to a path where nobody listens.
fn retry_delays(ivl: i32, max: Option<i32>, n: usize) -> Vec<Duration> {
    let d = Dir::new();
    let ctx = Context::new();
    let mut s = sock(&ctx, SocketType::Push);
    s.set(SocketOption::ReconnectIvl(ivl)).unwrap();
    if let Some(m) = max {
        s.set(SocketOption::ReconnectIvlMax(m)).unwrap();
    }
    let mon = s.monitor();
    s.connect(&d.ep("nobody")).unwrap();
    (0..n)
        .map(|_| {
            match wait_event(&mon, "ConnectRetried", |e| {
                matches!(e, Event::ConnectRetried { .. })
            }) {
                Event::ConnectRetried { errno, delay, .. } => {
                    assert_eq!(
                        errno,
                        Some(zsock::Errno(libc::ENOENT)),
                        "no file at the path"
                    );
                    delay
                }
                _ => unreachable!(),
            }
        })
        .collect()
}

#[test]
fn reconnect_ivl_max_makes_retry_delays_double_up_to_the_max() {
    let ms = Duration::from_millis;
    let flat = retry_delays(10, None, 6);
    for d in &flat {
        assert!(
            *d >= ms(10) && *d < ms(20),
            "RECONNECT_IVL 10 alone: {flat:?}"
        );
    }
    let grown = retry_delays(10, Some(80), 6);
    let floors = [10, 20, 40, 80, 80, 80];
    for (d, floor) in grown.iter().zip(floors) {
        assert!(*d >= ms(floor), "attempt delays {grown:?} below {floors:?}");
        assert!(*d <= ms(90), "delays stay near the max: {grown:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// HANDSHAKE_IVL
// ---------------------------------------------------------------------------------------------

#[test]
fn handshake_ivl_drops_a_peer_that_sends_nothing() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::HandshakeIvl(200)).unwrap();
    let mon = pull.monitor();
    pull.bind(&d.ep("hs")).unwrap();
    let t0 = Instant::now();
    let mut raw = UnixStream::connect(path_of(&d.ep("hs"))).unwrap();
    raw.set_read_timeout(Some(LONG)).unwrap();
    let mut got = Vec::new();
    raw.read_to_end(&mut got)
        .expect("the silent peer is disconnected");
    assert!(
        t0.elapsed() >= Duration::from_millis(200),
        "{:?}",
        t0.elapsed()
    );
    assert_eq!(got.len(), 64, "only zsock's greeting was sent");
    assert_eq!(got[0], 0xFF);
    wait_event(&mon, "HandshakeFailed", |e| {
        matches!(e, Event::HandshakeFailed { .. })
    });
}

#[test]
fn handshake_ivl_zero_lets_a_silent_peer_stay() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::HandshakeIvl(100)).unwrap();
    pull.set(SocketOption::HandshakeIvl(0)).unwrap();
    pull.bind(&d.ep("hs0")).unwrap();
    let mut raw = RawPeer::connect(&d.ep("hs0"));
    raw.read_greeting();
    // Five times the limit set first: still open.
    raw.assert_open_for(500);
}

// ---------------------------------------------------------------------------------------------
// HEARTBEAT_IVL, HEARTBEAT_TIMEOUT, HEARTBEAT_TTL
// ---------------------------------------------------------------------------------------------

fn count_commands(frames: &[RawFrame], name: &[u8]) -> usize {
    frames
        .iter()
        .filter(|f| f.is_command() && f.name() == name)
        .count()
}

#[test]
fn heartbeat_timeout_drops_a_peer_that_stops_answering() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::HeartbeatIvl(50)).unwrap();
    pull.set(SocketOption::HeartbeatTimeout(300)).unwrap();
    let mon = pull.monitor();
    pull.bind(&d.ep("hb")).unwrap();
    let mut raw = RawPeer::connect(&d.ep("hb"));
    raw.handshake("PUSH");
    let frames = raw.read_until_closed();
    assert!(
        count_commands(&frames, b"PING") >= 1,
        "PINGs came first: {frames:?}"
    );
    wait_disconnected(&mon);
}

#[test]
fn heartbeat_timeout_defaults_to_the_interval() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::HeartbeatIvl(100)).unwrap();
    pull.bind(&d.ep("hbd")).unwrap();
    let mut raw = RawPeer::connect(&d.ep("hbd"));
    raw.handshake("PUSH");
    let frames = raw.read_until_closed();
    assert!(count_commands(&frames, b"PING") >= 1, "{frames:?}");
}

#[test]
fn without_heartbeats_a_silent_peer_is_kept() {
    let d = Dir::new();
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind(&d.ep("nohb")).unwrap();
    let mut raw = RawPeer::connect(&d.ep("nohb"));
    raw.handshake("PUSH");
    let frames = raw.assert_open_for(500);
    assert_eq!(count_commands(&frames, b"PING"), 0, "{frames:?}");
}

#[test]
fn heartbeats_keep_a_live_connection_up() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    let mut push = sock(&ctx, SocketType::Push);
    for s in [&mut pull, &mut push] {
        s.set(SocketOption::HeartbeatIvl(20)).unwrap();
        s.set(SocketOption::HeartbeatTimeout(100)).unwrap();
    }
    let (mon_pull, mon_push) = (pull.monitor(), push.monitor());
    pull.bind(&d.ep("alive")).unwrap();
    push.connect(&d.ep("alive")).unwrap();
    wait_handshake(&mon_pull);
    wait_handshake(&mon_push);
    // Idle for many heartbeat timeouts: shows that nothing is dropped (bounded wait).
    std::thread::sleep(Duration::from_millis(600));
    for e in drain_events(&mon_pull)
        .iter()
        .chain(&drain_events(&mon_push))
    {
        assert!(!matches!(e, Event::Disconnected { .. }), "{e:?}");
    }
    push.send("still here", Flags::NONE).unwrap();
    assert_eq!(recv_str(&mut pull), "still here");
}

#[test]
fn heartbeat_ttl_goes_out_in_pings_in_deciseconds() {
    let d = Dir::new();
    let listener = UnixListener::bind(path_of(&d.ep("ttl"))).unwrap();
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::HeartbeatIvl(50)).unwrap();
    push.set(SocketOption::HeartbeatTtl(2000)).unwrap();
    push.connect(&d.ep("ttl")).unwrap();
    let mut raw = RawPeer::from_stream(listener.accept().unwrap().0);
    raw.handshake("PULL");
    let ping = loop {
        let f = raw.read_frame().unwrap();
        if f.is_command() && f.name() == b"PING" {
            break f;
        }
    };
    assert_eq!(
        ping.body, b"\x04PING\x00\x14",
        "TTL 2000 ms = 20 deciseconds"
    );
}

#[test]
fn a_peer_announcing_a_heartbeat_ttl_is_dropped_when_it_falls_silent() {
    let d = Dir::new();
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    let mon = pull.monitor();
    pull.bind(&d.ep("peerttl")).unwrap();
    let mut raw = RawPeer::connect(&d.ep("peerttl"));
    raw.handshake("PUSH");
    // PING with TTL 3 ds (300 ms), context "ctx"; then silence.
    raw.write(&raw_command(b"PING", b"\x00\x03ctx"));
    let frames = raw.read_until_closed();
    let pong = frames
        .iter()
        .find(|f| f.is_command() && f.name() == b"PONG")
        .expect("the PING was answered");
    assert_eq!(pong.body, b"\x04PONGctx");
    wait_disconnected(&mon);
}

// ---------------------------------------------------------------------------------------------
// MAXMSGSIZE
// ---------------------------------------------------------------------------------------------

#[test]
fn maxmsgsize_delivers_exactly_max_and_drops_the_connection_above() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::MaxMsgSize(100)).unwrap();
    let mon_pull = pull.monitor();
    pull.bind(&d.ep("max")).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    let mon_push = push.monitor();
    push.connect(&d.ep("max")).unwrap();
    push.send(vec![b'a'; 100], Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap().len(), 100);
    wait_handshake(&mon_push);
    push.send(vec![b'b'; 101], Flags::NONE).unwrap();
    wait_disconnected(&mon_pull);
    // The sender reconnects (the limit is the receiver's); later messages get through,
    // the oversize one never does.
    wait_disconnected(&mon_push);
    wait_handshake(&mon_push);
    push.send("after", Flags::NONE).unwrap();
    assert_eq!(recv_str(&mut pull), "after");
}

#[test]
fn maxmsgsize_limits_each_frame_as_libzmq_does() {
    let d = Dir::new();
    let frames: [&[u8]; 2] = [&[b'x'; 60], &[b'y'; 60]];
    // libzmq: two 60-byte frames pass a 100-byte MAXMSGSIZE.
    let zctx = zmq::Context::new();
    let zpull = zctx.socket(zmq::PULL).unwrap();
    zpull.set_maxmsgsize(100).unwrap();
    zpull.set_rcvtimeo(10_000).unwrap();
    zpull.set_linger(0).unwrap();
    zpull.bind(&d.ep("zmq-max")).unwrap();
    let zpush = zctx.socket(zmq::PUSH).unwrap();
    zpush.set_linger(0).unwrap();
    zpush.connect(&d.ep("zmq-max")).unwrap();
    zpush.send_multipart(frames, 0).unwrap();
    assert_eq!(zpull.recv_multipart(0).unwrap(), frames);

    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::MaxMsgSize(100)).unwrap();
    pull.bind(&d.ep("max2")).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect(&d.ep("max2")).unwrap();
    push.send_msg(msg(frames), Flags::NONE).unwrap();
    assert_eq!(pull.recv_msg(Flags::NONE).unwrap(), msg(frames));
}

// ---------------------------------------------------------------------------------------------
// BACKLOG
// ---------------------------------------------------------------------------------------------

#[test]
fn backlog_getter_reflects_the_setting_and_binding_still_works() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    assert_eq!(pull.backlog(), 100);
    pull.set(SocketOption::Backlog(5)).unwrap();
    assert_eq!(pull.backlog(), 5);
    pull.bind(&d.ep("backlog")).unwrap();
    let mut pushes: Vec<Socket> = (0..8).map(|_| sock(&ctx, SocketType::Push)).collect();
    for (i, p) in pushes.iter_mut().enumerate() {
        p.connect(&d.ep("backlog")).unwrap();
        p.send(format!("{i}"), Flags::NONE).unwrap();
    }
    let mut got: Vec<String> = (0..8).map(|_| recv_str(&mut pull)).collect();
    got.sort();
    assert_eq!(got, ["0", "1", "2", "3", "4", "5", "6", "7"]);
}

// ---------------------------------------------------------------------------------------------
// IPC_FILTER_UID, IPC_FILTER_GID, IPC_FILTER_PID
// ---------------------------------------------------------------------------------------------

/// Binds a PULL with `filters`, connects a PUSH from this process and says whether its
/// message got in; a refused peer must show up as AccessRejected with our credentials.
fn admitted_by(filters: &[SocketOption]) -> bool {
    let d = Dir::new();
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    for f in filters {
        pull.set(f.clone()).unwrap();
    }
    let mon = pull.monitor();
    pull.bind(&d.ep("filter")).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect(&d.ep("filter")).unwrap();
    push.send("knock", Flags::NONE).unwrap();
    let e = wait_event(&mon, "Accepted or AccessRejected", |e| {
        matches!(e, Event::Accepted { .. } | Event::AccessRejected { .. })
    });
    match e {
        Event::Accepted { .. } => {
            assert_eq!(recv_str(&mut pull), "knock");
            true
        }
        Event::AccessRejected { peer, .. } => {
            let peer = peer.expect("credentials of the rejected peer");
            assert_eq!(peer.uid, our_uid());
            assert_eq!(peer.pid, std::process::id() as i32);
            assert_nothing_arrives(&mut pull, 300);
            false
        }
        _ => unreachable!(),
    }
}

#[test]
fn ipc_filter_uid_admits_listed_users_only() {
    assert!(admitted_by(&[SocketOption::IpcFilterUid(our_uid())]));
    assert!(!admitted_by(&[SocketOption::IpcFilterUid(our_uid() + 1)]));
}

#[test]
fn ipc_filter_gid_admits_listed_groups_only() {
    assert!(admitted_by(&[SocketOption::IpcFilterGid(our_gid())]));
    assert!(!admitted_by(&[SocketOption::IpcFilterGid(foreign_gid())]));
}

#[test]
fn ipc_filter_pid_admits_listed_processes_only() {
    assert!(admitted_by(&[SocketOption::IpcFilterPid(
        std::process::id() as i32
    )]));
    assert!(!admitted_by(&[SocketOption::IpcFilterPid(i32::MAX)]));
}

#[test]
fn ipc_filters_admit_a_peer_that_passes_any_list() {
    assert!(admitted_by(&[
        SocketOption::IpcFilterUid(our_uid() + 1),
        SocketOption::IpcFilterGid(foreign_gid()),
        SocketOption::IpcFilterPid(std::process::id() as i32),
    ]));
    assert!(admitted_by(&[
        SocketOption::IpcFilterUid(our_uid() + 1),
        SocketOption::IpcFilterUid(our_uid()),
    ]));
}

// ---------------------------------------------------------------------------------------------
// IPC file mode, exclusive bind
// ---------------------------------------------------------------------------------------------

#[test]
fn ipc_file_mode_is_the_mode_of_the_socket_file() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut bound = Vec::new();
    for mode in [0o600, 0o640] {
        let ep = d.ep(&format!("mode{mode:o}"));
        let mut pull = sock(&ctx, SocketType::Pull);
        pull.set(SocketOption::IpcFileMode(Some(mode))).unwrap();
        pull.bind(&ep).unwrap();
        let meta = std::fs::symlink_metadata(path_of(&ep)).unwrap();
        assert!(meta.file_type().is_socket());
        assert_eq!(meta.permissions().mode() & 0o7777, mode, "{mode:o}");
        let mut push = sock(&ctx, SocketType::Push);
        push.connect(&ep).unwrap();
        push.send("in", Flags::NONE).unwrap();
        assert_eq!(recv_str(&mut pull), "in");
        bound.push(pull);
    }
    // No temporary file or directory of the bind is left beside the sockets.
    let mut names: Vec<_> = std::fs::read_dir(d.0.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["mode600", "mode640"]);
}

#[test]
fn exclusive_bind_refuses_a_live_path_and_names_its_holder() {
    let d = Dir::new();
    let ep = d.ep("excl");
    let ctx = Context::new();
    let mut holder = sock(&ctx, SocketType::Pull);
    holder.bind(&ep).unwrap();
    let mut second = sock(&ctx, SocketType::Pull);
    second.set(SocketOption::IpcExclusiveBind(true)).unwrap();
    let e = second.bind(&ep).unwrap_err();
    assert_eq!(
        (e.kind(), e.errno()),
        (ErrorKind::AddrInUse, libc::EADDRINUSE)
    );
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("pid {}", std::process::id())),
        "{msg}"
    );
    assert!(msg.contains(&format!("uid {}", our_uid())), "{msg}");
    // The holder keeps its path.
    let mut push = sock(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    push.send("still mine", Flags::NONE).unwrap();
    assert_eq!(recv_str(&mut holder), "still mine");
}

#[test]
fn without_exclusive_bind_a_second_bind_takes_the_path_over() {
    let d = Dir::new();
    let ep = d.ep("takeover");
    let ctx = Context::new();
    let mut first = sock(&ctx, SocketType::Pull);
    first.bind(&ep).unwrap();
    let mut second = sock(&ctx, SocketType::Pull);
    second.bind(&ep).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    push.send("to the new binder", Flags::NONE).unwrap();
    assert_eq!(recv_str(&mut second), "to the new binder");
    assert_nothing_arrives(&mut first, 200);
}

#[test]
fn exclusive_bind_reclaims_a_stale_socket_file() {
    let d = Dir::new();
    let ep = d.ep("stale");
    drop(UnixListener::bind(path_of(&ep)).unwrap()); // leaves the file, nobody listens
    assert!(std::fs::symlink_metadata(path_of(&ep)).is_ok());
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::IpcExclusiveBind(true)).unwrap();
    pull.bind(&ep).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    push.send("reclaimed", Flags::NONE).unwrap();
    assert_eq!(recv_str(&mut pull), "reclaimed");
}

// ---------------------------------------------------------------------------------------------
// TYPE, EVENTS, LAST_ENDPOINT
// ---------------------------------------------------------------------------------------------

#[test]
fn socket_type_is_the_type_created_as_libzmq_reports_it() {
    let zctx = zmq::Context::new();
    let ctx = Context::new();
    for (t, zt) in TYPES {
        assert_eq!(ctx.socket(t).unwrap().socket_type(), t);
        assert_eq!(zctx.socket(zt).unwrap().get_socket_type().unwrap(), zt);
    }
}

#[test]
fn events_show_pollin_as_messages_arrive_and_pollout_as_the_hwm_fills() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::SndHwm(2)).unwrap();
    assert!(!push.events().contains(Events::POLLOUT), "no peer yet");
    push.connect(&d.ep("ev")).unwrap();
    assert!(push.events().contains(Events::POLLOUT));
    push.send("1", Flags::NONE).unwrap();
    assert!(push.events().contains(Events::POLLOUT));
    push.send("2", Flags::NONE).unwrap();
    assert_eq!(push.events(), Events::NONE, "HWM reached");

    let mut pull = sock(&ctx, SocketType::Pull);
    assert_eq!(pull.events(), Events::NONE);
    pull.bind(&d.ep("ev")).unwrap();
    let mut items = [PollItem::new(&pull, Events::POLLIN)];
    assert_eq!(zsock::poll(&mut items, Some(LONG)).unwrap(), 1);
    assert_eq!(pull.events(), Events::POLLIN);
    // Room again once the queue drained to the peer.
    let mut items = [PollItem::new(&push, Events::POLLOUT)];
    assert_eq!(zsock::poll(&mut items, Some(LONG)).unwrap(), 1);
    assert!(push.events().contains(Events::POLLOUT));
    assert_eq!(recv_str(&mut pull), "1");
    assert_eq!(recv_str(&mut pull), "2");
    assert_eq!(pull.events(), Events::NONE);

    // REQ: POLLOUT until the request is sent, POLLIN once the reply is there.
    let (mut rep, mut req) = bound_pair(&ctx, &d, "evreq", SocketType::Rep, SocketType::Req);
    assert_eq!(req.events(), Events::POLLOUT);
    req.send("q", Flags::NONE).unwrap();
    assert_eq!(req.events(), Events::NONE);
    rep.recv(Flags::NONE).unwrap();
    assert_eq!(rep.events(), Events::POLLOUT);
    rep.send("a", Flags::NONE).unwrap();
    let mut items = [PollItem::new(&req, Events::POLLIN)];
    assert_eq!(zsock::poll(&mut items, Some(LONG)).unwrap(), 1);
    assert_eq!(req.events(), Events::POLLIN);
}

#[test]
fn last_endpoint_is_the_resolved_endpoint_of_the_latest_bind_or_connect() {
    let d = Dir::new();
    let ctx = Context::new();
    let s = sock(&ctx, SocketType::Pull);
    assert_eq!(s.last_endpoint(), "");
    let wild = s.bind("ipc://*").unwrap();
    assert!(
        wild.starts_with("ipc:///") && wild.ends_with("/socket"),
        "{wild}"
    );
    assert_eq!(s.last_endpoint(), wild);
    assert!(std::fs::symlink_metadata(path_of(&wild)).is_ok());
    s.bind(&d.ep("named")).unwrap();
    assert_eq!(s.last_endpoint(), d.ep("named"));
    s.connect(&d.ep("elsewhere")).unwrap();
    assert_eq!(s.last_endpoint(), d.ep("elsewhere"));
    s.unbind(&wild).unwrap();
    assert!(
        std::fs::symlink_metadata(path_of(&wild)).is_err(),
        "removed on unbind"
    );
}
