//! Hostile peers at socket level (TESTING.md case 11): every fuzz corpus input is sent
//! over a real ipc connection to a bound PUB and a bound ROUTER; after each, a well-behaved
//! peer on the same endpoint must complete a round trip, and no descriptor may leak.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zsock::{Context, Flags, SocketOption, SocketType};

use crate::options::RawStream;
use crate::raw::{command_frame, data_frame, greeting_and_ready};
use crate::support::*;

fn corpus_files() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus");
    let mut out = Vec::new();
    for target in [
        "frame_stream",
        "greeting",
        "handshake",
        "command",
        "roundtrip",
    ] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(target))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            let name = format!("{target}/{}", f.file_name().unwrap().to_string_lossy());
            // Inputs that are not whole streams are sent after a valid greeting and READY,
            // so that they reach the parsers behind the handshake.
            let bytes = match target {
                "command" => {
                    let mut v = greeting_and_ready("SUB");
                    v.extend_from_slice(&command_frame(&bytes));
                    v
                }
                "roundtrip" | "handshake" => {
                    let mut v = greeting_and_ready("DEALER");
                    v.extend_from_slice(&bytes);
                    v
                }
                _ => bytes,
            };
            out.push((name, bytes));
        }
    }
    assert!(out.len() > 50, "corpora are too small: {}", out.len());
    out
}

/// Sockets open on the server side of `endpoints` (all ipc or all tcp): each listener and
/// every connection it accepted. Over ipc an accepted socket carries its listener's path in
/// /proc/net/unix; over tcp its listener's port, in /proc/net/tcp, where only those with an
/// inode have a descriptor (a closed connection in TIME_WAIT has none). Other tests running
/// in this process meanwhile do not count, as they would in a count of all descriptors.
fn server_sockets(endpoints: &[&str]) -> usize {
    if endpoints.iter().all(|e| e.starts_with("ipc://")) {
        let paths: Vec<&str> = endpoints.iter().map(|e| &e["ipc://".len()..]).collect();
        return std::fs::read_to_string("/proc/net/unix")
            .unwrap()
            .lines()
            .filter(|l| {
                l.split_whitespace()
                    .nth(7)
                    .is_some_and(|p| paths.contains(&p))
            })
            .count();
    }
    let ports: Vec<String> = endpoints
        .iter()
        .map(|e| {
            let port: u16 = e.rsplit(':').next().unwrap().parse().unwrap();
            format!("{port:04X}")
        })
        .collect();
    std::fs::read_to_string("/proc/net/tcp")
        .unwrap()
        .lines()
        .skip(1)
        .filter(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let local_port = f[1].rsplit(':').next().unwrap();
            ports.iter().any(|p| p == local_port) && f[9] != "0"
        })
        .count()
}

/// Sends `bytes` raw to `endpoint` (ipc or tcp), then reads until the server closes or goes
/// quiet.
fn attack(endpoint: &str, bytes: &[u8]) {
    let Ok(mut s) = RawStream::connect(endpoint) else {
        return;
    };
    s.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
    let _ = s.write_all(bytes);
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
}

#[test]
fn every_corpus_input_against_pub_and_router_leaves_good_peers_working() {
    let d = Dir::new();
    replay_corpus(&d.ep("pub"), &d.ep("router"));
}

/// The replay over loopback TCP: the same inputs reach the same parsers through a TCP
/// connection (the catalogue's wire cases over TCP).
#[test]
fn every_corpus_input_over_tcp_leaves_good_peers_working() {
    replay_corpus("tcp://127.0.0.1:*", "tcp://127.0.0.1:*");
}

/// Every corpus input sent to a PUB bound at `pub_at` and a ROUTER bound at `router_at`; a
/// good SUB and a good DEALER must be served after each, and no descriptor may stay open.
fn replay_corpus(pub_at: &str, router_at: &str) {
    let ctx = Context::new();
    let mut publ = sock(&ctx, SocketType::Pub);
    let pub_ep = publ.bind(pub_at).unwrap();
    let mut router = sock(&ctx, SocketType::Router);
    let router_ep = router.bind(router_at).unwrap();
    let mut sub = sock(&ctx, SocketType::Sub);
    sub.set(SocketOption::Subscribe("oracle".into())).unwrap();
    sub.set(SocketOption::RcvTimeo(20)).unwrap();
    sub.connect(&pub_ep).unwrap();
    let mut dealer = sock(&ctx, SocketType::Dealer);
    dealer.connect(&router_ep).unwrap();

    let oracle = |publ: &mut zsock::Socket,
                  sub: &mut zsock::Socket,
                  router: &mut zsock::Socket,
                  dealer: &mut zsock::Socket,
                  what: &str| {
        // PUB: the subscriber gets a message within a second of publishing.
        let mut got = false;
        for _ in 0..50 {
            publ.send(format!("oracle {what}"), Flags::NONE).unwrap();
            if let Ok(m) = sub.recv(Flags::NONE) {
                assert!(m.starts_with(b"oracle"));
                got = true;
                break;
            }
        }
        assert!(got, "PUB oracle failed after {what}");
        while sub.recv(Flags::DONTWAIT).is_ok() {}
        // ROUTER: a round trip with the good DEALER.
        dealer.send(what.to_string(), Flags::NONE).unwrap();
        // Well-formed messages a hostile input carried are delivered too: skip them.
        let m = loop {
            let m = router
                .recv_msg(Flags::NONE)
                .unwrap_or_else(|e| panic!("ROUTER oracle failed after {what}: {e}"));
            if m.len() == 2 && m.frames()[1] == what.as_bytes() {
                break m;
            }
        };
        router.send_msg(m.clone(), Flags::NONE).unwrap();
        let back = dealer
            .recv(Flags::NONE)
            .unwrap_or_else(|e| panic!("ROUTER reply lost after {what}: {e}"));
        assert_eq!(back, m.frames()[1]);
    };
    oracle(&mut publ, &mut sub, &mut router, &mut dealer, "start");
    let endpoints = [pub_ep.as_str(), router_ep.as_str()];
    let fds = server_sockets(&endpoints);
    assert_eq!(
        fds, 4,
        "two listeners, each with its good peer's connection"
    );
    let inputs = corpus_files();
    for (name, bytes) in &inputs {
        attack(&pub_ep, bytes);
        attack(&router_ep, bytes);
        oracle(&mut publ, &mut sub, &mut router, &mut dealer, name);
    }
    // Every hostile connection was closed or dropped: descriptors are back where they
    // were (connections still open by the server side close once the peer is gone).
    let mut after = server_sockets(&endpoints);
    for _ in 0..100 {
        if after <= fds {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        after = server_sockets(&endpoints);
    }
    assert!(
        after <= fds,
        "descriptors leaked: {fds} before, {after} after {} inputs",
        inputs.len()
    );
}

/// A peer's valid message followed, in the same write, by a frame over MAXMSGSIZE: the
/// connection is closed for the second, and the first is still delivered (the pipe drains
/// before it goes, as libzmq's does); the ROUTER goes on serving other peers.
#[test]
fn a_message_before_a_fatal_frame_is_delivered_and_the_router_goes_on() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut router = sock(&ctx, SocketType::Router);
    router.set(SocketOption::MaxMsgSize(100)).unwrap();
    let ep = router.bind(&d.ep("r")).unwrap();
    let mut raw = raw_sending(&ep, "DEALER", &[b"before", &[7u8; 200]]);
    let m = router.recv_msg(Flags::NONE).unwrap();
    assert_eq!(m.len(), 2);
    assert_eq!(&m.frames()[1][..], b"before");
    // The connection was closed for the oversized frame.
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut rest = Vec::new();
    let _ = raw.read_to_end(&mut rest);
    let mut dealer = sock(&ctx, SocketType::Dealer);
    dealer.connect(&ep).unwrap();
    dealer.send("next", Flags::NONE).unwrap();
    let m = router.recv_msg(Flags::NONE).unwrap();
    assert_eq!(&m.frames()[1][..], b"next");
}

/// An XPUB with more subscribers than a receive reads itself (its 10th subscriber sends
/// more subscriptions than RCVHWM holds): reading that connection stops at the mark and
/// resumes as the application receives, so every subscription reaches it.
#[test]
fn xpub_with_many_subscribers_receives_more_subscriptions_than_rcvhwm() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut xpub = sock(&ctx, SocketType::XPub);
    xpub.set(SocketOption::RcvHwm(100)).unwrap();
    let ep = xpub.bind(&d.ep("x")).unwrap();
    let _quiet = quiet_subscribers(&ctx, &ep);
    let mut sub = sock(&ctx, SocketType::Sub);
    sub.connect(&ep).unwrap();
    const TOPICS: usize = 300;
    for i in 0..TOPICS {
        sub.set(SocketOption::Subscribe(format!("t{i:04}").into()))
            .unwrap();
    }
    let mut seen = std::collections::HashSet::new();
    while seen.len() < TOPICS {
        let m = xpub
            .recv(Flags::NONE)
            .unwrap_or_else(|e| panic!("after {} subscriptions: {e}", seen.len()));
        assert_eq!(m[0], 1, "a subscription");
        seen.insert(m[1..].to_vec());
    }
}

/// A subscriber that repeats one subscription more times than RCVHWM holds (an XPUB
/// without XPUB_VERBOSE turns repeats into no message): reading its connection stops on
/// them, and goes on once they are handed over, so the subscription after them arrives.
#[test]
fn xpub_reads_on_after_more_repeated_subscriptions_than_rcvhwm() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut xpub = sock(&ctx, SocketType::XPub);
    xpub.set(SocketOption::RcvHwm(50)).unwrap();
    let ep = xpub.bind(&d.ep("x")).unwrap();
    let _quiet = quiet_subscribers(&ctx, &ep);
    let mut frames: Vec<&[u8]> = vec![b"\x01dup"; 200];
    frames.push(b"\x01new");
    let _raw = raw_sending(&ep, "SUB", &frames);
    assert_eq!(xpub.recv(Flags::NONE).unwrap(), &b"\x01dup"[..]);
    assert_eq!(xpub.recv(Flags::NONE).unwrap(), &b"\x01new"[..]);
}

/// Nine SUBs connected to `ep` and subscribed to nothing: with the tenth peer, more pipes
/// than a receive reads itself.
fn quiet_subscribers(ctx: &Context, ep: &str) -> Vec<zsock::Socket> {
    (0..9)
        .map(|_| {
            let s = sock(ctx, SocketType::Sub);
            s.connect(ep).unwrap();
            s
        })
        .collect()
}

/// A raw `ty` peer connected to `ep` that has written its handshake and then one data
/// frame per entry of `frames`, all in one write.
fn raw_sending(ep: &str, ty: &str, frames: &[&[u8]]) -> UnixStream {
    let mut bytes = greeting_and_ready(ty);
    for f in frames {
        bytes.extend_from_slice(&data_frame(f));
    }
    let mut raw = UnixStream::connect(ep.strip_prefix("ipc://").unwrap()).unwrap();
    raw.write_all(&bytes).unwrap();
    raw
}

/// A data frame with MORE set: more frames of its message follow.
fn more_frame(body: &[u8]) -> Vec<u8> {
    let mut f = data_frame(body);
    f[0] |= 0x01;
    f
}

/// A requester that sends a lone empty frame (a delimiter with no request after it), or an
/// envelope ending at its delimiter: the REP drops each, as libzmq does, instead of handing
/// out a message of no frames that no reply could answer. The REP then serves the next
/// request, from the same peer and from a good one.
#[test]
fn a_rep_drops_an_envelope_with_no_request_after_it() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut rep = sock(&ctx, SocketType::Rep);
    rep.set(SocketOption::RcvTimeo(10_000)).unwrap();
    rep.bind(&d.ep("rep")).unwrap();
    let mut bytes = greeting_and_ready("REQ");
    bytes.extend_from_slice(&data_frame(b""));
    bytes.extend_from_slice(&more_frame(b"hop"));
    bytes.extend_from_slice(&data_frame(b""));
    bytes.extend_from_slice(&more_frame(b""));
    bytes.extend_from_slice(&data_frame(b"real"));
    let mut raw = UnixStream::connect(d.0.path().join("rep")).unwrap();
    raw.write_all(&bytes).unwrap();
    let request = rep.recv_msg(Flags::NONE).unwrap();
    assert_eq!(request.frames(), ["real"]);
    rep.send("answer", Flags::NONE).unwrap();
    let mut good = sock(&ctx, SocketType::Req);
    good.connect(&d.ep("rep")).unwrap();
    good.send("next", Flags::NONE).unwrap();
    assert_eq!(rep.recv_msg(Flags::NONE).unwrap().frames(), ["next"]);
    rep.send("done", Flags::NONE).unwrap();
    assert_eq!(good.recv(Flags::NONE).unwrap(), "done");
}

/// A replier that answers with a lone empty frame (a delimiter with no reply after it):
/// the REQ drops it, as libzmq does, and takes the reply that follows.
#[test]
fn a_req_drops_a_reply_with_nothing_after_its_delimiter() {
    let d = Dir::new();
    let ctx = Context::new();
    let listener = std::os::unix::net::UnixListener::bind(d.0.path().join("req")).unwrap();
    let mut req = sock(&ctx, SocketType::Req);
    req.set(SocketOption::RcvTimeo(10_000)).unwrap();
    req.connect(&d.ep("req")).unwrap();
    let (mut raw, _) = listener.accept().unwrap();
    raw.write_all(&greeting_and_ready("REP")).unwrap();
    req.send("question", Flags::NONE).unwrap();
    // (What the REQ wrote is not read: the replies need no request to go back.)
    let mut bytes = data_frame(b"");
    bytes.extend_from_slice(&more_frame(b""));
    bytes.extend_from_slice(&data_frame(b"the reply"));
    raw.write_all(&bytes).unwrap();
    assert_eq!(req.recv_msg(Flags::NONE).unwrap().frames(), ["the reply"]);
}

/// A SUB that floods its PUB with messages (which a PUB drops) as fast as it can write,
/// and with subscriptions: the PUB reads it a bounded amount at a time (other sockets and
/// the PUB's own calls get their turns between), so the PUB goes on sending to a
/// well-behaved SUB meanwhile, and another socket of the context (the same I/O thread)
/// makes a new connection. The flood stops by itself after `FLOOD_MAX`: all that must be
/// over well before.
#[test]
fn a_sub_flooding_its_pub_does_not_stop_the_pub() {
    for what in ["messages", "subscriptions"] {
        let d = Dir::new();
        let ctx = Context::new();
        let (mut publisher, mut good) =
            bound_pair(&ctx, &d, "flooded", SocketType::Pub, SocketType::Sub);
        good.set(SocketOption::Subscribe("".into())).unwrap();
        // Subscribed once a message gets through.
        while good.recv(Flags::DONTWAIT).is_err() {
            publisher.send("hello?", Flags::NONE).unwrap();
            std::thread::yield_now();
        }
        let mut chunk = Vec::with_capacity(64 * 1024);
        while chunk.len() < 64 * 1024 {
            match what {
                "messages" => chunk.extend_from_slice(&data_frame(b"x")),
                _ => chunk.extend_from_slice(&data_frame(b"\x01flood")),
            }
        }
        let mut raw = UnixStream::connect(d.0.path().join("flooded")).unwrap();
        raw.write_all(&greeting_and_ready("SUB")).unwrap();
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopped = stop.clone();
        const FLOOD_MAX: Duration = Duration::from_secs(20);
        let flooder = std::thread::spawn(move || {
            let until = std::time::Instant::now() + FLOOD_MAX;
            raw.set_write_timeout(Some(Duration::from_millis(100)))
                .unwrap();
            while !stopped.load(std::sync::atomic::Ordering::SeqCst) {
                if std::time::Instant::now() >= until {
                    return false; // flooded for FLOOD_MAX
                }
                let _ = raw.write_all(&chunk);
            }
            true
        });
        for i in 0..1000u32 {
            publisher
                .send(i.to_be_bytes().as_slice(), Flags::NONE)
                .unwrap();
            // (Past the probes still queued.)
            let m = std::iter::repeat_with(|| good.recv(Flags::NONE).unwrap())
                .find(|m| m != "hello?")
                .unwrap();
            assert_eq!(m, i.to_be_bytes()[..], "{what}");
        }
        // A handshake is the I/O thread's work.
        let (mut pull, mut push) =
            bound_pair(&ctx, &d, "other", SocketType::Pull, SocketType::Push);
        push.send_copy(b"through", Flags::NONE).unwrap();
        assert_eq!(pull.recv(Flags::NONE).unwrap(), "through", "{what}");
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        assert!(
            flooder.join().unwrap(),
            "{what}: the exchanges took the whole flood"
        );
    }
}
