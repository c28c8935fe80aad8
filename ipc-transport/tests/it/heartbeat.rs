//! Heartbeats on real connections with a raw peer that can fall silent on command.

use std::io::{Read, Write};
use std::time::Duration;

use ipc_transport::TransportEvent;
use zmtp_codec::SocketType;

use crate::support::*;

#[test]
fn ping_is_answered_with_its_context() {
    let dir = tempfile::tempdir().unwrap();
    let pull = engine(SocketType::Pull, |_| {});
    let addr = pull
        .bind(&format!("ipc://{}", dir.path().join("p").display()))
        .unwrap();
    let mut s = raw_push(&addr);
    s.write_all(b"\x04\x0c\x04PING\x00\x00ctx12").unwrap();
    let mut pong = [0u8; 12];
    s.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"\x04\x0a\x04PONGctx12");
}

#[test]
fn silent_peer_is_dropped_after_the_heartbeat_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let pull = engine(SocketType::Pull, |c| {
        c.heartbeat.interval = Some(Duration::from_millis(50));
        c.heartbeat.timeout = Some(Duration::from_millis(150));
    });
    let addr = pull
        .bind(&format!("ipc://{}", dir.path().join("hb").display()))
        .unwrap();
    let mut s = raw_push(&addr);
    // We receive PINGs and never answer.
    let mut ping = [0u8; 9];
    s.read_exact(&mut ping).unwrap();
    assert_eq!(&ping, b"\x04\x07\x04PING\x00\x00");
    let ev = event(&pull, "heartbeat disconnect", |e| {
        matches!(e, TransportEvent::Disconnected { .. })
    });
    assert!(format!("{ev:?}").contains("heartbeat"), "{ev:?}");
}

#[test]
fn traffic_counts_as_liveness() {
    let dir = tempfile::tempdir().unwrap();
    let pull = engine(SocketType::Pull, |c| {
        c.heartbeat.interval = Some(Duration::from_millis(20));
        c.heartbeat.timeout = Some(Duration::from_millis(60));
    });
    let addr = pull
        .bind(&format!("ipc://{}", dir.path().join("live").display()))
        .unwrap();
    let mut s = raw_push(&addr);
    let rx = connected_pipe(&pull);
    // Ten messages 30 ms apart: longer in total than the timeout, each within it.
    for i in 0..10u8 {
        s.write_all(&[0, 1, i]).unwrap();
        assert_eq!(recv(&pull, rx).frames()[0][..], [i]);
        std::thread::sleep(Duration::from_millis(30));
    }
    let mut g = pull.lock();
    while let Some(e) = g.take_event() {
        assert!(!matches!(e, TransportEvent::Disconnected { .. }), "{e:?}");
    }
}

#[test]
fn peer_ttl_closes_a_silent_peer() {
    let dir = tempfile::tempdir().unwrap();
    let pull = engine(SocketType::Pull, |_| {});
    let addr = pull
        .bind(&format!("ipc://{}", dir.path().join("ttl").display()))
        .unwrap();
    let mut s = raw_push(&addr);
    // TTL of 2 deciseconds, then silence.
    s.write_all(b"\x04\x07\x04PING\x00\x02").unwrap();
    let ev = event(&pull, "ttl disconnect", |e| {
        matches!(e, TransportEvent::Disconnected { .. })
    });
    assert!(format!("{ev:?}").contains("time-to-live"), "{ev:?}");
}
