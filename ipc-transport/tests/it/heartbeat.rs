//! Heartbeats on real connections with a raw peer that can fall silent on command.

use std::io::{Read, Write};
use std::time::Duration;

use ipc_transport::TransportEvent;
use zmtp_codec::SocketType;

use crate::support::*;

/// A PULL engine configured by `f`, bound in `dir`, and its endpoint.
fn bound_pull(
    dir: &tempfile::TempDir,
    f: impl FnOnce(&mut ipc_transport::Config),
) -> (ipc_transport::Engine<Recorder>, String) {
    let pull = engine(SocketType::Pull, f);
    let addr = pull
        .bind(&format!("ipc://{}", dir.path().join("pull").display()))
        .unwrap();
    (pull, addr)
}

#[test]
fn ping_is_answered_with_its_context() {
    let dir = tempfile::tempdir().unwrap();
    let (_pull, addr) = bound_pull(&dir, |_| {});
    let mut s = raw_push(&addr);
    s.write_all(b"\x04\x0c\x04PING\x00\x00ctx12").unwrap();
    let mut pong = [0u8; 12];
    s.read_exact(&mut pong).unwrap();
    assert_eq!(&pong, b"\x04\x0a\x04PONGctx12");
}

#[test]
fn silent_peer_is_dropped_after_the_heartbeat_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let (pull, addr) = bound_pull(&dir, |c| {
        c.heartbeat.interval = Some(Duration::from_millis(50));
        c.heartbeat.timeout = Some(Duration::from_millis(150));
    });
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
    let (pull, addr) = bound_pull(&dir, |c| {
        c.heartbeat.interval = Some(Duration::from_millis(20));
        c.heartbeat.timeout = Some(Duration::from_millis(60));
    });
    let mut s = raw_push(&addr);
    let rx = connected_pipe(&pull);
    // Ten messages 30 ms apart: longer in total than the timeout, each within it.
    for i in 0..10u8 {
        s.write_all(&[0, 1, i]).unwrap();
        assert_eq!(recv(&pull, rx).frames()[0][..], [i]);
        std::thread::sleep(Duration::from_millis(30));
    }
    let mut g = pull.lock();
    while let Some(e) = take_event(&mut g) {
        assert!(!matches!(e, TransportEvent::Disconnected { .. }), "{e:?}");
    }
}

#[test]
fn peer_ttl_closes_a_silent_peer() {
    let dir = tempfile::tempdir().unwrap();
    let (pull, addr) = bound_pull(&dir, |_| {});
    let mut s = raw_push(&addr);
    // TTL of 2 deciseconds, then silence.
    s.write_all(b"\x04\x07\x04PING\x00\x02").unwrap();
    let ev = event(&pull, "ttl disconnect", |e| {
        matches!(e, TransportEvent::Disconnected { .. })
    });
    assert!(format!("{ev:?}").contains("time-to-live"), "{ev:?}");
}

/// A PING frame with TTL `ttl` (deciseconds) and `context`.
fn ping(ttl: u16, context: &[u8]) -> Vec<u8> {
    let mut f = vec![0x04, (7 + context.len()) as u8, 0x04];
    f.extend_from_slice(b"PING");
    f.extend_from_slice(&ttl.to_be_bytes());
    f.extend_from_slice(context);
    f
}

/// Reads from `s` until `needle` has arrived.
fn read_until(s: &mut std::os::unix::net::UnixStream, needle: &[u8]) {
    let mut seen = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    while !seen.windows(needle.len()).any(|w| w == needle) {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed before {needle:?} arrived");
        // Keep only a tail long enough to hold the needle across two reads.
        seen.extend_from_slice(&buf[..n]);
        let keep = seen.len().saturating_sub(64 * 1024);
        seen.drain(..keep);
    }
}

/// 37/ZMTP has a PING answered by a PONG; a peer that PINGs without ever reading must not
/// make PONGs pile up. The bound: once the kernel holds all it takes, at most one PONG
/// (a command of at most 2 + 5 + 16 bytes) waits in the connection's output, carrying
/// the newest PING's context.
#[test]
fn a_peer_that_pings_without_reading_gets_one_pending_pong() {
    const MAX_PONG: usize = 2 + 5 + 16;
    let dir = tempfile::tempdir().unwrap();
    let (pull, addr) = bound_pull(&dir, |_| {});
    let mut s = raw_push(&addr);
    let p = connected_pipe(&pull);
    // One write per PING, so that the engine sees many reads that each hold a PING:
    // more PONGs than the kernel's buffers take.
    for i in 0..200_000u32 {
        s.write_all(&ping(0, format!("ctx{i:08}").as_bytes()))
            .unwrap();
    }
    s.write_all(&ping(0, b"the-newest-ping")).unwrap();
    s.write_all(b"\x00\x03end").unwrap();
    // Everything before "end" has been decoded once "end" is received.
    assert_eq!(recv(&pull, p).frames()[0], "end");
    let pending = pull.lock().output_bytes();
    assert!(
        pending <= MAX_PONG,
        "{pending} bytes of output wait for a peer that does not read"
    );
    // Once the peer reads, the pending PONG answers the newest PING.
    read_until(&mut s, b"the-newest-ping");
}

/// A PING with a TTL re-arms the peer's deadline; each re-arm moves the connection's one
/// timer entry instead of adding one, and the entry goes with the connection.
#[test]
fn pings_with_a_ttl_keep_one_timer_entry_per_connection() {
    let dir = tempfile::tempdir().unwrap();
    let (pull, addr) = bound_pull(&dir, |_| {});
    let before = pull.lock().timer_entries();
    let mut s = raw_push(&addr);
    let p = connected_pipe(&pull);
    // One write per PING, so that the engine sees many reads, each re-arming the TTL.
    let one = ping(0xFFFF, b"");
    for _ in 0..20_000 {
        s.write_all(&one).unwrap();
    }
    s.write_all(b"\x00\x03end").unwrap();
    assert_eq!(recv(&pull, p).frames()[0], "end");
    // The connection's deadline, and at most the buffer sweep's.
    let during = pull.lock().timer_entries();
    assert!(during <= before + 2, "{during} timer entries for one peer");
    drop(s);
    event(&pull, "the disconnect", |ev| {
        matches!(ev, TransportEvent::Disconnected { .. })
    });
    let after = pull.lock().timer_entries();
    assert!(
        after <= before + 1,
        "{after} timer entries after the peer left"
    );
}

/// A peer that neither reads nor sends, while our output to it is stuck behind a full
/// kernel buffer: what waits for it stays within SNDHWM and one batch, our PING waits
/// pending, and the heartbeat timeout (armed when the PING fell due, written or not) closes
/// the connection.
#[test]
fn a_peer_that_stops_reading_and_sending_is_closed_by_the_heartbeat_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let push = engine(SocketType::Push, |c| {
        c.sndhwm = 16;
        c.heartbeat.interval = Some(Duration::from_millis(50));
        c.heartbeat.timeout = Some(Duration::from_millis(150));
    });
    let addr = push
        .bind(&format!("ipc://{}", dir.path().join("push").display()))
        .unwrap();
    let _s = raw_peer(&addr, "PULL");
    let p = connected_pipe(&push);
    // Fill the kernel's buffers and the pipe: sends are refused once SNDHWM is reached.
    let body = bytes::Bytes::from(vec![7u8; 64 * 1024]);
    wait_for(&push, "a full pipe", |g| {
        while g.core().send(
            p,
            &mut ipc_transport::Message::from(body.clone()),
            ipc_transport::SendWait::Never,
        ) {}
        (!g.core().can_send(p)).then_some(())
    });
    let ev = event(&push, "heartbeat disconnect", |e| {
        matches!(e, TransportEvent::Disconnected { .. })
    });
    assert!(format!("{ev:?}").contains("heartbeat"), "{ev:?}");
}
