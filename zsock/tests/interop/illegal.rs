//! Illegal socket pairs (not in RFC 37's table) are refused on both sides and nothing is
//! delivered: PUSH-PUB (the example), PUSH-SUB, PUB-PULL and PAIR-DEALER, each with
//! zsock as either type and either side binding.
//!
//! zsock's monitor reports `HandshakeFailed` (naming the peer's type when the peer's READY
//! arrived before it hung up) and never `HandshakeSucceeded`; libzmq's monitor never reports HANDSHAKE_SUCCEEDED and reports the
//! failed handshake (HANDSHAKE_FAILED_*) or the connection closed in the handshake
//! (DISCONNECTED); messages sent either way (where the types can send and receive at all)
//! do not arrive within a bounded wait.
//!
//! 4 pairs x 2 ways round x 2 binders x 2 transports (a socket file, and a wildcard TCP
//! port on 127.0.0.1) = 32 cells, `illegal::<pair>::<way>::<binder>[_tcp]`.

use std::time::{Duration, Instant};

use zsock::{Context, Event, SocketType as T};

use crate::support::*;

/// How long "nothing is delivered" is watched.
const WATCH: Duration = Duration::from_millis(300);

fn can_send(t: T) -> bool {
    matches!(t, T::Push | T::Pub | T::Pair | T::Dealer)
}

fn can_recv(t: T) -> bool {
    matches!(t, T::Pull | T::Sub | T::Pair | T::Dealer)
}

pub(crate) fn run(zt: T, lt: T, binder: Lib, tcp: bool) {
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let dir = tempfile::tempdir().unwrap();
    let addr = if tcp {
        "tcp://127.0.0.1:*".to_string()
    } else {
        format!("ipc://{}", dir.path().join("illegal").display())
    };
    let z = zsock_socket(&ctx, zt);
    let l = zmq_socket(&zctx, lt);
    let zmon = z.monitor();
    let lmon = ZmqMonitor::new(&zctx, &l);
    let (mut z, mut l) = (Zsock(z), Zmq(l));
    if zt == T::Sub {
        z.subscribe(b"");
    }
    if lt == T::Sub {
        l.subscribe(b"");
    }
    // The bound endpoint (a TCP wildcard port resolved), which the events name.
    let bound = match binder {
        Lib::Zsock => {
            let ep = z.bind(&addr);
            l.connect(&ep);
            ep
        }
        Lib::Libzmq => {
            let ep = l.bind(&addr);
            z.connect(&ep);
            ep
        }
    };
    let what = format!("{} vs {}, {binder:?} binds", z.describe(), l.describe());

    // zsock refuses: the handshake fails. The reason names the peer's type when zsock read
    // its READY; libzmq may hang up before sending READY (when it reads zsock's READY
    // first), and then the reason is the closed connection.
    let e = zsock_event(&zmon, PATIENCE, |e| {
        matches!(
            e,
            Event::HandshakeSucceeded { .. } | Event::HandshakeFailed { .. }
        )
    });
    match e {
        Some(Event::HandshakeFailed { reason, .. }) => {
            assert!(
                !reason.is_empty(),
                "{what}: HandshakeFailed without a reason"
            );
            if reason.contains("compatible") {
                let peer_type = type_name(lt);
                assert!(
                    reason.contains(&peer_type),
                    "{what}: zsock's reason {reason:?} does not name {peer_type}"
                );
            }
        }
        other => panic!("{what}: zsock's monitor says {other:?}"),
    }

    // Nothing is delivered, either way.
    let start = Instant::now();
    let msg = vec![b"must not arrive".to_vec()];
    if can_send(zt) {
        for _ in 0..3 {
            let _ = z.try_send(&msg);
        }
    }
    if can_send(lt) {
        for _ in 0..3 {
            let _ = l.try_send(&msg);
        }
    }
    if can_recv(lt) {
        let got = l.recv_within(WATCH);
        assert!(got.is_none(), "{what}: libzmq received {got:?}");
    }
    if can_recv(zt) {
        let left = WATCH
            .saturating_sub(start.elapsed())
            .max(Duration::from_millis(50));
        let got = z.recv_within(left);
        assert!(got.is_none(), "{what}: zsock received {got:?}");
    }

    // libzmq refuses too (or sees zsock refuse): the connection closes in the handshake.
    let mut events = Vec::new();
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(e) = lmon.next(left) else {
            panic!("{what}: libzmq's monitor shows no failed handshake: {events:?}");
        };
        let refused = matches!(
            e.event,
            zmq::SocketEvent::HANDSHAKE_FAILED_PROTOCOL
                | zmq::SocketEvent::HANDSHAKE_FAILED_NO_DETAIL
                | zmq::SocketEvent::DISCONNECTED
        ) && e.endpoint == bound;
        events.push(e);
        if refused {
            break;
        }
    }
    events.extend(lmon.events_within(Duration::from_millis(1)));
    assert!(
        !events
            .iter()
            .any(|e| e.event == zmq::SocketEvent::HANDSHAKE_SUCCEEDED),
        "{what}: libzmq completed a handshake: {events:?}"
    );
    let zsock_after = zsock_events_within(&zmon, Duration::from_millis(1));
    assert!(
        !zsock_after
            .iter()
            .any(|e| matches!(e, Event::HandshakeSucceeded { .. })),
        "{what}: zsock completed a handshake later: {zsock_after:?}"
    );
}

macro_rules! illegal_cells {
    ($pair:ident, $a:ident, $b:ident, $zsock_a:ident, $zsock_b:ident) => {
        mod $pair {
            use $crate::illegal::run;
            use $crate::support::Lib;
            use zsock::SocketType as T;
            mod $zsock_a {
                use super::*;
                #[test]
                fn zsock_binds() {
                    run(T::$a, T::$b, Lib::Zsock, false);
                }
                #[test]
                fn libzmq_binds() {
                    run(T::$a, T::$b, Lib::Libzmq, false);
                }
                #[test]
                fn zsock_binds_tcp() {
                    run(T::$a, T::$b, Lib::Zsock, true);
                }
                #[test]
                fn libzmq_binds_tcp() {
                    run(T::$a, T::$b, Lib::Libzmq, true);
                }
            }
            mod $zsock_b {
                use super::*;
                #[test]
                fn zsock_binds() {
                    run(T::$b, T::$a, Lib::Zsock, false);
                }
                #[test]
                fn libzmq_binds() {
                    run(T::$b, T::$a, Lib::Libzmq, false);
                }
                #[test]
                fn zsock_binds_tcp() {
                    run(T::$b, T::$a, Lib::Zsock, true);
                }
                #[test]
                fn libzmq_binds_tcp() {
                    run(T::$b, T::$a, Lib::Libzmq, true);
                }
            }
        }
    };
}

illegal_cells!(push_pub, Push, Pub, zsock_push, zsock_pub);
illegal_cells!(push_sub, Push, Sub, zsock_push, zsock_sub);
illegal_cells!(pub_pull, Pub, Pull, zsock_pub, zsock_pull);
illegal_cells!(pair_dealer, Pair, Dealer, zsock_pair, zsock_dealer);
