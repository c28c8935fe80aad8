//! The child processes of the soak: a binder (PULL), connectors (PUSH), a hostile client and
//! a holder of thousands of ROUTER connections. Each prints one line per fact on stdout for
//! the orchestrator, stops cleanly when its stdin closes, and ends with its descriptor count
//! before and after (`fds A B`) and its panic count (`panics N`).

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use zsock::{Context, ErrorKind, Event, Flags, Monitor, SocketOption, SocketType};

use crate::common::*;

/// MAXMSGSIZE of the binder: above every good message, below some hostile ones.
const BINDER_MAX_MSG: i64 = 1 << 20;

fn finish(fds_before: usize) {
    println!("fds {fds_before} {}", open_fds());
    println!("panics {}", panics());
}

/// `binder EP TCP_EP`: a PULL bound to both that checks every message and prints `m CONN
/// EPOCH SEQ` for each good one, `bad WHY` for anything else, `hs MONO_NS PID` for each
/// handshake (the connectors use EP; the hostile client attacks both).
pub(crate) fn binder(ep: &str, tcp_ep: &str) {
    count_panics();
    let stop = Stop::on_stdin_eof();
    let fds = open_fds();
    {
        let ctx = Context::new();
        let mut pull = ctx.socket(SocketType::Pull).expect("PULL");
        pull.set(SocketOption::RcvTimeo(100)).expect("RCVTIMEO");
        pull.set(SocketOption::Linger(0)).expect("LINGER");
        pull.set(SocketOption::HandshakeIvl(1000))
            .expect("HANDSHAKE_IVL");
        pull.set(SocketOption::MaxMsgSize(BINDER_MAX_MSG))
            .expect("MAXMSGSIZE");
        let mon = pull.monitor();
        pull.bind(ep).expect("bind");
        pull.bind(tcp_ep).expect("bind tcp");
        println!("bound {}", mono_ns());
        let watcher = thread::spawn(move || {
            let (mut failed, mut lost) = (0u64, 0u64);
            // Ends when the socket closes.
            while let Some(e) = mon.next(None) {
                match e {
                    Event::HandshakeSucceeded { peer, .. } => {
                        println!("hs {} {}", mono_ns(), peer.map_or(0, |p| p.pid));
                    }
                    Event::HandshakeFailed { .. } => failed += 1,
                    Event::Disconnected { .. } => lost += 1,
                    _ => {}
                }
            }
            (failed, lost)
        });
        let (mut good, mut bad) = (0u64, 0u64);
        let mut quiet_since: Option<Instant> = None;
        loop {
            match pull.recv_msg(Flags::NONE) {
                Ok(m) => {
                    quiet_since = None;
                    match verify(&m) {
                        Ok((c, e, s)) => {
                            good += 1;
                            println!("m {c} {e} {s}");
                        }
                        Err(why) => {
                            bad += 1;
                            println!("bad {why}");
                        }
                    }
                }
                Err(e) if e.kind() == ErrorKind::Again => {
                    // After the stop, finish once nothing came for 300 ms.
                    if stop.is_set() {
                        let since = *quiet_since.get_or_insert_with(Instant::now);
                        if since.elapsed() >= Duration::from_millis(300) {
                            break;
                        }
                    }
                }
                Err(e) => {
                    println!("error recv: {e}");
                    break;
                }
            }
        }
        drop(pull);
        drop(ctx);
        let (failed, lost) = watcher.join().unwrap_or((0, 0));
        println!("binder-end good {good} bad {bad} handshakes-failed {failed} disconnects {lost}");
    }
    finish(fds);
}

/// `connector EP CONN EPOCH RATE SEED`: a PUSH sending checked messages at about RATE per
/// second (blocking when its queue is full) until stdin closes; then `sent CONN EPOCH N`.
pub(crate) fn connector(ep: &str, conn: u32, epoch: u32, rate: u32, seed: u64) {
    count_panics();
    let stop = Stop::on_stdin_eof();
    let fds = open_fds();
    let sent = {
        let ctx = Context::new();
        let mut push = ctx.socket(SocketType::Push).expect("PUSH");
        push.set(SocketOption::SndTimeo(100)).expect("SNDTIMEO");
        push.set(SocketOption::Linger(5000)).expect("LINGER");
        push.set(SocketOption::ReconnectIvl(100))
            .expect("RECONNECT_IVL");
        push.connect(ep).expect("connect");
        let mut rng = Rng::new(seed);
        let tick = Duration::from_millis(10);
        let per_tick = (rate / 100).max(1);
        let mut seq = 0u64;
        let mut next = Instant::now();
        'run: while !stop.is_set() {
            for _ in 0..per_tick {
                let m = checked_message(conn, epoch, seq, &mut rng);
                loop {
                    match push.send_msg(m.clone(), Flags::NONE) {
                        Ok(()) => {
                            seq += 1;
                            break;
                        }
                        Err(e) if e.kind() == ErrorKind::Again => {
                            if stop.is_set() {
                                break 'run;
                            }
                        }
                        Err(e) => {
                            println!("error send: {e}");
                            break 'run;
                        }
                    }
                }
            }
            next += tick;
            let now = Instant::now();
            if next > now {
                thread::sleep(next - now);
            } else {
                next = now;
            }
        }
        drop(push);
        // Waits up to LINGER for the queue to go out.
        drop(ctx);
        seq
    };
    println!("sent {conn} {epoch} {sent}");
    finish(fds);
}

/// One hostile connection: what it sends, and whether it then stays idle past the binder's
/// HANDSHAKE_IVL. None of these may ever surface as a message.
fn attack(kind: u64, rng: &mut Rng) -> (&'static str, Vec<u8>) {
    let valid = || hello("PUSH");
    match kind {
        0 => ("bad-signature", vec![0u8; 64]),
        1 => {
            let mut g = greeting();
            g[10] = rng.below(3) as u8; // revision 0, 1 or 2
            ("old-revision", g)
        }
        2 => {
            let mut g = greeting();
            g[12..20].copy_from_slice(b"CURVE\0\0\0");
            ("other-mechanism", g)
        }
        3 => {
            let mut v = valid();
            v.push(0x02);
            v.extend_from_slice(&u64::MAX.to_be_bytes());
            ("size-2^64-1", v)
        }
        4 => {
            let mut v = valid();
            v.push(0x02);
            v.extend_from_slice(&((BINDER_MAX_MSG as u64) + 1).to_be_bytes());
            v.extend_from_slice(&[0xAB; 1000]);
            ("over-maxmsgsize", v)
        }
        5 => {
            let mut v = valid();
            for i in 0..3 {
                v.extend(frame(format!("partial {i}").as_bytes(), true));
            }
            ("3-of-5-frames", v)
        }
        6 => {
            let mut v = valid();
            for _ in 0..5000 {
                v.extend(frame(b"more", true));
            }
            ("endless-more", v)
        }
        7 => {
            let mut v = greeting();
            let mut data = vec![11u8];
            data.extend_from_slice(b"Socket-Type");
            data.extend_from_slice(&u32::MAX.to_be_bytes());
            data.extend_from_slice(b"PUSH");
            v.extend(command(b"READY", &data));
            ("ready-value-past-end", v)
        }
        8 => {
            let mut v = greeting();
            v.extend(ready("PUB"));
            ("wrong-socket-type", v)
        }
        9 => {
            let mut v = greeting();
            v.extend(frame(b"data before READY", false));
            ("data-before-ready", v)
        }
        10 => {
            let mut v = valid();
            v.extend(command(b"WHATEVER", b"x"));
            v.extend(command(b"PING", b""));
            v.extend(command(b"PING", &[0xFF; 200]));
            v.extend_from_slice(&[0x01, 0xFF, 0x00]);
            ("odd-commands-then-cut", v)
        }
        11 => {
            let n = 1 + rng.below(4096) as usize;
            let mut v = Vec::with_capacity(n + 8);
            while v.len() < n {
                v.extend_from_slice(&rng.next_u64().to_le_bytes());
            }
            v.truncate(n);
            ("random-bytes", v)
        }
        12 => (
            "63-byte-greeting",
            greeting().into_iter().take(63).collect(),
        ),
        13 => {
            let mut v = greeting();
            v.extend(command(b"READY", &vec![0x01; 1 << 20]));
            ("1-MiB-ready", v)
        }
        14 => ("idle", Vec::new()),
        _ => {
            let mut v = valid();
            v.extend(ready("PUSH"));
            ("ready-twice", v)
        }
    }
}

const ATTACK_KINDS: u64 = 16;

/// A hostile client's connection, over either transport.
trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

/// `hostile EP TCP_EP SEED`: connects again and again to one of the two endpoints, at random,
/// and sends malformed input (see [`attack`]), about 20 times a second, until stdin closes;
/// then `hostile-end ...` with counts.
pub(crate) fn hostile(ep: &str, tcp_ep: &str, seed: u64) {
    count_panics();
    let stop = Stop::on_stdin_eof();
    let fds = open_fds();
    let path = ep.strip_prefix("ipc://").expect("an ipc:// endpoint");
    let addr = tcp_ep.strip_prefix("tcp://").expect("a tcp:// endpoint");
    let mut rng = Rng::new(seed);
    let mut counts = vec![0u64; ATTACK_KINDS as usize];
    let (mut closed, mut left_open, mut refused, mut over_tcp) = (0u64, 0u64, 0u64, 0u64);
    // The binder closes bad connections at once and idle ones after HANDSHAKE_IVL (1 s);
    // odd commands are ignored, so that connection stays open: we close it.
    let patience = Some(Duration::from_millis(1500));
    while !stop.wait(Duration::from_millis(50)) {
        let kind = rng.below(ATTACK_KINDS);
        let (_, bytes) = attack(kind, &mut rng);
        let tcp = rng.below(2) == 1;
        let connected: io::Result<Box<dyn Stream>> = if tcp {
            std::net::TcpStream::connect(addr).and_then(|s| {
                s.set_read_timeout(patience)?;
                Ok(Box::new(s) as Box<dyn Stream>)
            })
        } else {
            UnixStream::connect(path).and_then(|s| {
                s.set_read_timeout(patience)?;
                Ok(Box::new(s) as Box<dyn Stream>)
            })
        };
        let Ok(mut s) = connected else {
            refused += 1;
            continue;
        };
        counts[kind as usize] += 1;
        over_tcp += u64::from(tcp);
        let _ = s.write_all(&bytes);
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf) {
                Ok(0) => {
                    closed += 1;
                    break;
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                    closed += 1;
                    break;
                }
                Err(_) => {
                    left_open += 1;
                    break;
                }
            }
        }
    }
    let names: Vec<String> = (0..ATTACK_KINDS)
        .map(|k| format!("{}={}", attack(k, &mut Rng::new(1)).0, counts[k as usize]))
        .collect();
    println!(
        "hostile-end attacks {} over-tcp {over_tcp} closed-by-binder {closed} \
         left-open {left_open} binder-down {refused} kinds {}",
        counts.iter().sum::<u64>(),
        names.join(",")
    );
    finish(fds);
}

fn wait_events(mon: &Monitor, n: usize, timeout: Duration, pred: impl Fn(&Event) -> bool) -> usize {
    let deadline = Instant::now() + timeout;
    let mut got = 0;
    while got < n {
        match mon.next(Some(deadline.saturating_duration_since(Instant::now()))) {
            Some(e) if pred(&e) => got += 1,
            Some(_) => {}
            None => break,
        }
    }
    got
}

/// One echo round: each live peer sends `tag:i`, then each must get exactly that back.
/// Returns (lost, duplicated-or-wrong); a peer that lost its echo is dropped.
fn echo_round(peers: &mut [Option<UnixStream>], tag: &str) -> (u64, u64) {
    let (mut lost, mut wrong) = (0, 0);
    for (i, p) in peers.iter_mut().enumerate() {
        if let Some(s) = p {
            if s.write_all(&frame(format!("{tag}:{i}").as_bytes(), false))
                .is_err()
            {
                *p = None;
                lost += 1;
            }
        }
    }
    for (i, p) in peers.iter_mut().enumerate() {
        let Some(s) = p else { continue };
        match read_frame(s) {
            Ok((0, body)) if body == format!("{tag}:{i}").as_bytes() => {}
            Ok(_) => wrong += 1,
            Err(_) => {
                lost += 1;
                *p = None;
            }
        }
    }
    (lost, wrong)
}

/// Whether any peer has bytes waiting that nobody sent it (a duplicate).
fn extra_bytes(peers: &[Option<UnixStream>]) -> u64 {
    let mut extra = 0;
    for s in peers.iter().flatten() {
        let _ = s.set_nonblocking(true);
        let mut b = [0u8; 1];
        let mut r: &UnixStream = s;
        if r.read(&mut b).is_ok() {
            extra += 1;
        }
        let _ = s.set_nonblocking(false);
    }
    extra
}

/// `hold EP N`: a ROUTER holding N raw DEALER connections (case 14's long form): 10 echoes
/// each, then one echo round every 5 s with an RSS sample, until stdin closes.
pub(crate) fn hold(ep: &str, n: usize) {
    let limit = raise_nofile();
    count_panics();
    let stop = Stop::on_stdin_eof();
    let fds = open_fds();
    let path = ep.strip_prefix("ipc://").expect("an ipc:// endpoint");
    {
        let ctx = Context::new();
        let mut router = ctx.socket(SocketType::Router).expect("ROUTER");
        router.set(SocketOption::RcvTimeo(50)).expect("RCVTIMEO");
        router.set(SocketOption::Linger(0)).expect("LINGER");
        let mon = router.monitor();
        router.bind(ep).expect("bind");
        let halt = Arc::new(AtomicBool::new(false));
        let echo = thread::spawn({
            let halt = halt.clone();
            move || {
                let mut echoed = 0u64;
                loop {
                    match router.recv_msg(Flags::NONE) {
                        Ok(m) => {
                            if router.send_msg(m, Flags::NONE).is_ok() {
                                echoed += 1;
                            }
                        }
                        Err(e) if e.kind() == ErrorKind::Again => {
                            if halt.load(Ordering::SeqCst) {
                                return (router, echoed);
                            }
                        }
                        Err(e) => {
                            println!("error router: {e}");
                            return (router, echoed);
                        }
                    }
                }
            }
        });
        let before = rss_kib(None).unwrap_or(0);
        let mut peers: Vec<Option<UnixStream>> = Vec::with_capacity(n);
        let mut failed = 0;
        let t = Instant::now();
        for _ in 0..n {
            match UnixStream::connect(path) {
                Ok(s) => {
                    let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
                    peers.push(Some(s));
                }
                Err(e) => {
                    failed += 1;
                    if failed == 1 {
                        println!("error connect: {e} (RLIMIT_NOFILE {limit})");
                    }
                }
            }
        }
        let hello = hello("DEALER");
        for p in &mut peers {
            if let Some(s) = p {
                if s.write_all(&hello).is_err() {
                    *p = None;
                }
            }
        }
        for p in &mut peers {
            if let Some(s) = p {
                if read_greeting_and_ready(s).is_err() {
                    *p = None;
                }
            }
        }
        let live = peers.iter().flatten().count();
        let handshaken = wait_events(&mon, live, Duration::from_secs(30), |e| {
            matches!(e, Event::HandshakeSucceeded { .. })
        });
        let connected = rss_kib(None).unwrap_or(0);
        let (mut lost, mut wrong) = (0, 0);
        for r in 0..10 {
            let (l, w) = echo_round(&mut peers, &format!("e{r}"));
            lost += l;
            wrong += w;
        }
        let dup = extra_bytes(&peers);
        let echoed_rss = rss_kib(None).unwrap_or(0);
        println!(
            "hold-ready peers {live} of {n} handshaken {handshaken} in {:.1}s lost {lost} \
             wrong {wrong} duplicated {dup} rss-before {before} rss-connected {connected} \
             rss-after-echoes {echoed_rss}",
            t.elapsed().as_secs_f64()
        );
        let mut round = 0u64;
        while !stop.wait(Duration::from_secs(5)) {
            round += 1;
            let (l, w) = echo_round(&mut peers, &format!("r{round}"));
            let dup = extra_bytes(&peers);
            println!(
                "hold-round {round} live {} lost {l} wrong {w} duplicated {dup} rss {}",
                peers.iter().flatten().count(),
                rss_kib(None).unwrap_or(0)
            );
        }
        let live = peers.iter().flatten().count();
        drop(peers);
        let gone = wait_events(&mon, live, Duration::from_secs(30), |e| {
            matches!(e, Event::Disconnected { .. })
        });
        halt.store(true, Ordering::SeqCst);
        let (router, echoed) = echo.join().unwrap_or_else(|_| panic!("echo thread"));
        drop(router);
        drop(mon);
        drop(ctx);
        println!("hold-end echoed {echoed} disconnected {gone} of {live}");
    }
    finish(fds);
}
