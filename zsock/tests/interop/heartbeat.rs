//! ZMTP heartbeats between the two libraries: a connection stays up while PINGs (and
//! traffic) flow, with either side pinging and only the other answering; and it drops when
//! the other side stops, which the cells make real by SIGSTOPping a child process (this
//! binary re-run, see `child`): a stopped process keeps its socket open but answers
//! nothing, so only heartbeats can notice. Both directions, by HEARTBEAT_TIMEOUT (the
//! pinging side waits for an answer) and by HEARTBEAT_TTL (the stopped side had announced
//! how long it may stay silent).

use std::time::{Duration, Instant};

use zsock::{Context, Event, SocketOption, SocketType as T};

use crate::support::*;

const IVL: i32 = 50;
/// Generous against a loaded 2-core CI machine answering PINGs late.
const TIMEOUT: i32 = 500;
const TTL: i32 = 700;
/// HEARTBEAT_TIMEOUT of a child that pings only to announce its TTL: without it, both
/// libraries wait for a PONG only one interval (50 ms), and a parent busy with other
/// cells may answer later than that.
const CHILD_TIMEOUT: i32 = 5000;
/// Longer than TIMEOUT and TTL: a connection that survives it was kept up by heartbeats.
const IDLE: Duration = Duration::from_millis(1200);

fn is_disconnect(e: &Event) -> bool {
    matches!(
        e,
        Event::Disconnected { .. } | Event::HandshakeFailed { .. } | Event::Closed { .. }
    )
}

fn zmq_is_disconnect(e: &ZmqEvent) -> bool {
    matches!(
        e.event,
        zmq::SocketEvent::DISCONNECTED | zmq::SocketEvent::CLOSED
    )
}

/// Both sides in this process: `pinger` sets HEARTBEAT_IVL and HEARTBEAT_TIMEOUT (and
/// TTL), the other side sets nothing and only answers PINGs. After an idle second the
/// connection is the same one (no disconnect on either monitor) and carries a message.
fn idle_connection_stays_up(pinger: Lib, tcp: bool) {
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let dir = tempfile::tempdir().unwrap();
    let ep = if tcp {
        "tcp://127.0.0.1:*".to_string()
    } else {
        format!("ipc://{}", dir.path().join("hb").display())
    };
    let mut z = zsock_socket(&ctx, T::Pair);
    let l = zmq_socket(&zctx, T::Pair);
    let zmon = z.monitor();
    let lmon = ZmqMonitor::new(&zctx, &l);
    match pinger {
        Lib::Zsock => {
            z.set(SocketOption::HeartbeatIvl(IVL)).unwrap();
            z.set(SocketOption::HeartbeatTimeout(TIMEOUT)).unwrap();
            z.set(SocketOption::HeartbeatTtl(TTL)).unwrap();
            let bound = z.bind(&ep).unwrap();
            l.connect(&bound).unwrap();
        }
        Lib::Libzmq => {
            l.set_heartbeat_ivl(IVL).unwrap();
            l.set_heartbeat_timeout(TIMEOUT).unwrap();
            l.set_heartbeat_ttl(TTL).unwrap();
            l.bind(&ep).unwrap();
            z.connect(&zmq_last_endpoint(&l)).unwrap();
        }
    }
    let (mut z, mut l) = (Zsock(z), Zmq(l));
    let what = format!("{} <-> {}, {pinger:?} pinging", z.describe(), l.describe());
    z.send(&[b"before".to_vec()]);
    assert_frames(&l.recv(), &[b"before".to_vec()], &what);

    // Idle: only PINGs and PONGs cross. Both monitors are read meanwhile.
    let zsock_events = zsock_events_within(&zmon, IDLE);
    let libzmq_events = lmon.events_within(Duration::from_millis(1));
    let handshakes = zsock_events
        .iter()
        .filter(|e| matches!(e, Event::HandshakeSucceeded { .. }))
        .count();
    assert!(
        !zsock_events.iter().any(is_disconnect) && handshakes <= 1,
        "{what}: zsock events while idle: {zsock_events:?}"
    );
    assert!(
        !libzmq_events.iter().any(zmq_is_disconnect),
        "{what}: libzmq events while idle: {libzmq_events:?}"
    );
    l.send(&[b"after".to_vec()]);
    assert_frames(&z.recv(), &[b"after".to_vec()], &what);
    z.send(&[b"after".to_vec()]);
    assert_frames(&l.recv(), &[b"after".to_vec()], &what);
}

#[test]
fn zsock_pings_keep_an_idle_libzmq_peer() {
    idle_connection_stays_up(Lib::Zsock, false);
}

#[test]
fn libzmq_pings_keep_an_idle_zsock_peer() {
    idle_connection_stays_up(Lib::Libzmq, false);
}

#[test]
fn zsock_pings_keep_an_idle_libzmq_peer_over_tcp() {
    idle_connection_stays_up(Lib::Zsock, true);
}

#[test]
fn libzmq_pings_keep_an_idle_zsock_peer_over_tcp() {
    idle_connection_stays_up(Lib::Libzmq, true);
}

/// Both sides heartbeat and exchange a message every 10 ms for a second: the connection
/// stays up throughout (a DEALER of zsock, a ROUTER of libzmq).
#[test]
fn traffic_and_pings_both_ways_keep_the_connection() {
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let dir = tempfile::tempdir().unwrap();
    let ep = format!("ipc://{}", dir.path().join("hb").display());
    let mut z = zsock_socket(&ctx, T::Dealer);
    let l = zmq_socket(&zctx, T::Router);
    let zmon = z.monitor();
    let lmon = ZmqMonitor::new(&zctx, &l);
    z.set(SocketOption::HeartbeatIvl(IVL)).unwrap();
    z.set(SocketOption::HeartbeatTimeout(TIMEOUT)).unwrap();
    z.set(SocketOption::HeartbeatTtl(TTL)).unwrap();
    l.set_heartbeat_ivl(IVL).unwrap();
    l.set_heartbeat_timeout(TIMEOUT).unwrap();
    l.set_heartbeat_ttl(TTL).unwrap();
    l.bind(&ep).unwrap();
    z.connect(&ep).unwrap();
    let (mut z, mut l) = (Zsock(z), Zmq(l));
    let start = Instant::now();
    let mut i = 0u64;
    while start.elapsed() < IDLE {
        let q = vec![bytes(i, (i % 300) as usize)];
        z.send(&q);
        let got = l.recv();
        assert_frames(&got[1..], &q, "zsock DEALER -> libzmq ROUTER");
        l.send(&prepend(&[&got[0]], &q));
        assert_frames(&z.recv(), &q, "libzmq ROUTER -> zsock DEALER");
        i += 1;
        std::thread::sleep(Duration::from_millis(10));
    }
    let zsock_events = zsock_events_within(&zmon, Duration::from_millis(1));
    let libzmq_events = lmon.events_within(Duration::from_millis(1));
    assert!(
        !zsock_events.iter().any(is_disconnect),
        "zsock events: {zsock_events:?}"
    );
    assert!(
        !libzmq_events.iter().any(zmq_is_disconnect),
        "libzmq events: {libzmq_events:?}"
    );
}

/// How the stopped child's silence is noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum By {
    /// The parent pings (IVL, TIMEOUT); the child only answers.
    Timeout,
    /// The child pings announcing a TTL; the parent sets no heartbeat option.
    Ttl,
}

/// The parent of library `parent` binds a PAIR; a child process of the other library
/// connects, says hello, echoes a message, and then exchanges only PINGs and PONGs for an
/// idle second (the connection stays). Then the child is SIGSTOPped: the parent drops the
/// connection after the heartbeat timeout or the child's TTL, and not sooner than the
/// heartbeat could have noticed.
///
/// The stop comes after the child's PINGs, not right after a message from it: libzmq 4.3
/// disarms the peer's TTL on any incoming traffic and arms it again only on the next PING
/// (`stream_engine_base_t::decode_and_push`, `zmtp_engine_t::process_heartbeat_message`),
/// so a peer stopped right after sending a message is never dropped by TTL alone; zsock's
/// `zmtp_codec::Heartbeat` (`on_traffic`/`on_ping`) does the same.
fn stopped_peer_is_dropped(parent: Lib, by: By, tcp: bool) {
    let dir = tempfile::tempdir().unwrap();
    let ep = if tcp {
        // A loopback port free now, for the parent to bind and the child to connect to.
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("tcp://127.0.0.1:{}", l.local_addr().unwrap().port())
    } else {
        format!("ipc://{}", dir.path().join("hb").display())
    };
    let (parent_opts, child_opts) = match by {
        By::Timeout => (
            vec![
                SocketOption::HeartbeatIvl(IVL),
                SocketOption::HeartbeatTimeout(TIMEOUT),
            ],
            String::new(),
        ),
        By::Ttl => (
            vec![],
            format!("hb_ivl={IVL};hb_ttl={TTL};hb_timeout={CHILD_TIMEOUT};"),
        ),
    };
    let child_lib = match parent {
        Lib::Zsock => "libzmq",
        Lib::Libzmq => "zsock",
    };
    let spec = format!("lib={child_lib};type=pair;connect={ep};greet=hello;{child_opts}");
    // Silence for at most this long goes unnoticed (a PING just before the stop).
    let (min, reason) = match by {
        By::Timeout => (
            Duration::from_millis((TIMEOUT - IVL - 50) as u64),
            "heartbeat",
        ),
        By::Ttl => (
            Duration::from_millis((TTL - IVL - 100) as u64),
            "time-to-live",
        ),
    };
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let what = format!("{parent:?} parent, {child_lib} child stopped, by {by:?}, {ep}");
    match parent {
        Lib::Zsock => {
            let mut s = zsock_socket(&ctx, T::Pair);
            for o in parent_opts {
                s.set(o).unwrap();
            }
            let mon = s.monitor();
            s.bind(&ep).unwrap();
            let mut s = Zsock(s);
            let child = ChildPeer::spawn(&spec);
            assert_frames(&s.recv(), &[b"hello".to_vec()], &what);
            s.send(&[b"echo".to_vec()]);
            assert_frames(&s.recv(), &[b"echo".to_vec()], &what);
            let idle = zsock_events_within(&mon, IDLE);
            assert!(
                !idle.iter().any(is_disconnect),
                "{what}: dropped while the child answered: {idle:?}"
            );

            child.signal(libc::SIGSTOP);
            let stopped = Instant::now();
            let e = zsock_event(&mon, PATIENCE, is_disconnect)
                .unwrap_or_else(|| panic!("{what}: the connection stayed up"));
            let after = stopped.elapsed();
            match &e {
                Event::Disconnected { reason: r, .. } => {
                    assert!(r.contains(reason), "{what}: disconnected because {r:?}")
                }
                other => panic!("{what}: {other:?}"),
            }
            assert!(after >= min, "{what}: dropped {after:?} after the stop");
        }
        Lib::Libzmq => {
            let s = zmq_socket(&zctx, T::Pair);
            if by == By::Timeout {
                s.set_heartbeat_ivl(IVL).unwrap();
                s.set_heartbeat_timeout(TIMEOUT).unwrap();
            }
            let mon = ZmqMonitor::new(&zctx, &s);
            s.bind(&ep).unwrap();
            let mut s = Zmq(s);
            let child = ChildPeer::spawn(&spec);
            assert_frames(&s.recv(), &[b"hello".to_vec()], &what);
            s.send(&[b"echo".to_vec()]);
            assert_frames(&s.recv(), &[b"echo".to_vec()], &what);
            let idle = mon.events_within(IDLE);
            assert!(
                !idle.iter().any(zmq_is_disconnect),
                "{what}: dropped while the child answered: {idle:?}"
            );

            child.signal(libc::SIGSTOP);
            let stopped = Instant::now();
            let e = mon
                .wait_for(PATIENCE, zmq_is_disconnect)
                .unwrap_or_else(|| panic!("{what}: the connection stayed up"));
            let after = stopped.elapsed();
            assert_eq!(e.event, zmq::SocketEvent::DISCONNECTED, "{what}: {e:?}");
            assert_eq!(e.endpoint, ep, "{what}: {e:?}");
            assert!(after >= min, "{what}: dropped {after:?} after the stop");
        }
    }
}

#[test]
fn zsock_drops_a_stopped_libzmq_process_by_timeout() {
    stopped_peer_is_dropped(Lib::Zsock, By::Timeout, false);
}

#[test]
fn libzmq_drops_a_stopped_zsock_process_by_timeout() {
    stopped_peer_is_dropped(Lib::Libzmq, By::Timeout, false);
}

#[test]
fn zsock_drops_a_stopped_libzmq_process_by_its_ttl() {
    stopped_peer_is_dropped(Lib::Zsock, By::Ttl, false);
}

#[test]
fn libzmq_drops_a_stopped_zsock_process_by_its_ttl() {
    stopped_peer_is_dropped(Lib::Libzmq, By::Ttl, false);
}

// Over loopback TCP, where the stopped process's kernel still acknowledges what it is sent:
// only the heartbeat (or the TTL) tells the peer is gone.

#[test]
fn zsock_drops_a_stopped_libzmq_process_by_timeout_over_tcp() {
    stopped_peer_is_dropped(Lib::Zsock, By::Timeout, true);
}

#[test]
fn libzmq_drops_a_stopped_zsock_process_by_timeout_over_tcp() {
    stopped_peer_is_dropped(Lib::Libzmq, By::Timeout, true);
}

#[test]
fn zsock_drops_a_stopped_libzmq_process_by_its_ttl_over_tcp() {
    stopped_peer_is_dropped(Lib::Zsock, By::Ttl, true);
}

#[test]
fn libzmq_drops_a_stopped_zsock_process_by_its_ttl_over_tcp() {
    stopped_peer_is_dropped(Lib::Libzmq, By::Ttl, true);
}
