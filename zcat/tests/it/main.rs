//! zcat run as a user would: child processes on real ipc endpoints.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

struct Zcat {
    child: Child,
    stdin: Option<ChildStdin>,
    out: mpsc::Receiver<String>,
    err: mpsc::Receiver<String>,
}

fn lines(r: impl std::io::Read + Send + 'static) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for l in BufReader::new(r).lines() {
            let Ok(l) = l else { break };
            if tx.send(l).is_err() {
                break;
            }
        }
    });
    rx
}

fn zcat(args: &[&str]) -> Zcat {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zcat"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = lines(child.stdout.take().unwrap());
    let err = lines(child.stderr.take().unwrap());
    Zcat {
        stdin: child.stdin.take(),
        child,
        out,
        err,
    }
}

impl Zcat {
    /// Waits for the `bound EP` line and returns EP.
    #[track_caller]
    fn bound(&self) -> String {
        let l = self
            .err
            .recv_timeout(WAIT)
            .expect("a `bound` line on stderr");
        l.strip_prefix("bound ")
            .unwrap_or_else(|| panic!("{l}"))
            .to_string()
    }

    #[track_caller]
    fn line(&self) -> String {
        self.out.recv_timeout(WAIT).expect("a line on stdout")
    }

    fn write(&mut self, s: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(s.as_bytes()).unwrap();
        stdin.flush().unwrap();
    }

    fn close_stdin(&mut self) {
        self.stdin.take();
    }

    #[track_caller]
    fn wait(&mut self) -> i32 {
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st.code().unwrap_or(-1);
            }
            assert!(std::time::Instant::now() < deadline, "zcat did not exit");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn signal(&self, sig: i32) {
        // SAFETY: sends a signal to our own child process.
        unsafe { libc::kill(self.child.id() as i32, sig) };
    }
}

impl Drop for Zcat {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn ep(d: &tempfile::TempDir, name: &str) -> String {
    format!("ipc://{}", d.path().join(name).display())
}

#[test]
fn push_to_pull_with_either_side_bound() {
    let d = dir();
    for (pull_args, push_args) in [
        (vec!["pull", "--bind"], vec!["push", "--connect"]),
        (vec!["pull", "--connect"], vec!["push", "--bind"]),
    ] {
        let e = ep(&d, pull_args[1].trim_start_matches('-'));
        let mut a: Vec<&str> = pull_args.clone();
        a.push(&e);
        a.extend(["--count", "3"]);
        let mut pull = zcat(&a);
        let mut b: Vec<&str> = push_args.clone();
        b.push(&e);
        let mut push = zcat(&b);
        if pull_args[1] == "--bind" {
            pull.bound();
        } else {
            push.bound();
        }
        push.write("hello\tworld\n0x00ff\n\n");
        assert_eq!(pull.line(), "hello\tworld");
        assert_eq!(pull.line(), "0x00ff");
        assert_eq!(pull.line(), "");
        assert_eq!(pull.wait(), 0, "pull exits after --count");
        push.close_stdin();
        assert_eq!(push.wait(), 0, "push exits at end of input");
    }
}

#[test]
fn req_to_rep_echo_and_rep_answering_from_stdin() {
    let d = dir();
    let e = ep(&d, "rr");
    let rep = zcat(&["rep", "--bind", &e, "--echo"]);
    rep.bound();
    let mut req = zcat(&["req", "--connect", &e]);
    req.write("ping 1\n0xdeadbeef\n");
    assert_eq!(req.line(), "ping 1");
    assert_eq!(req.line(), "0xdeadbeef");
    assert_eq!(rep.line(), "ping 1");
    req.close_stdin();
    assert_eq!(req.wait(), 0);

    let e = ep(&d, "rr2");
    let mut rep = zcat(&["rep", "--bind", &e, "--count", "1"]);
    rep.bound();
    let mut req = zcat(&["req", "--connect", &e]);
    req.write("question\n");
    assert_eq!(rep.line(), "question");
    rep.write("answer\n");
    assert_eq!(req.line(), "answer");
    assert_eq!(rep.wait(), 0);
}

/// tcp:// wherever ipc:// goes: a wildcard port is printed as the real one, and a
/// connecting zcat reaches it.
#[test]
fn push_to_pull_over_tcp_with_a_wildcard_port() {
    let pull = zcat(&["pull", "--bind", "tcp://127.0.0.1:*", "--count", "1"]);
    let e = pull.bound();
    assert!(
        e.starts_with("tcp://127.0.0.1:") && !e.ends_with(":*"),
        "{e}"
    );
    let mut push = zcat(&["push", "--connect", &e]);
    push.write("over tcp\n");
    assert_eq!(pull.line(), "over tcp");
}

#[test]
fn dealer_to_router_echo_shows_the_routing_id() {
    let d = dir();
    let e = ep(&d, "dr");
    let router = zcat(&["router", "--bind", &e, "--echo"]);
    router.bound();
    let mut dealer = zcat(&[
        "dealer",
        "--connect",
        &e,
        "--routing-id",
        "me",
        "--count",
        "1",
    ]);
    dealer.write("hi\tthere\n");
    assert_eq!(router.line(), "me\thi\tthere");
    assert_eq!(dealer.line(), "hi\tthere");
    assert_eq!(dealer.wait(), 0);
}

#[test]
fn pub_sub_with_topics_and_pair() {
    let d = dir();
    let e = ep(&d, "ps");
    let mut publ = zcat(&["pub", "--bind", &e]);
    publ.bound();
    let sub = zcat(&["sub", "--connect", &e, "--subscribe", "a", "--count", "2"]);
    // Publish until the subscriber has seen two matching messages.
    for i in 0.. {
        publ.write(&format!("b{i}\na{i}\n"));
        if let Ok(l) = sub.out.recv_timeout(Duration::from_millis(50)) {
            assert!(l.starts_with('a'), "{l}");
            break;
        }
        assert!(i < 400, "subscription never arrived");
    }
    publ.write("bx\nay\n");
    let l = sub.line();
    assert!(l.starts_with('a'), "{l}");

    let e = ep(&d, "pair");
    let mut a = zcat(&["pair", "--bind", &e, "--echo", "--count", "1"]);
    a.bound();
    let mut b = zcat(&["pair", "--connect", &e, "--count", "1"]);
    b.write("to a and back\n");
    assert_eq!(a.line(), "to a and back");
    assert_eq!(b.line(), "to a and back");
    assert_eq!(a.wait(), 0);
    assert_eq!(b.wait(), 0);
}

/// `--wait-subscribers`: all of stdin is read and ended before anyone subscribes; pub holds
/// the lines until the subscription arrives, delivers every one, then exits.
#[test]
fn pub_waits_for_a_subscriber_before_sending_stdin() {
    let d = dir();
    let e = ep(&d, "wait1");
    let mut publ = zcat(&["pub", "--bind", &e, "--wait-subscribers", "1"]);
    publ.bound();
    publ.write("a\nb\nc\n");
    publ.close_stdin();
    let mut sub = zcat(&["sub", "--connect", &e, "--count", "3"]);
    for want in ["a", "b", "c"] {
        assert_eq!(sub.line(), want);
    }
    assert_eq!(sub.wait(), 0);
    assert_eq!(publ.wait(), 0, "pub exits once its lines are out");
}

/// Two subscribers to the same topic are two subscriptions: with `--wait-subscribers 2`,
/// both receive every line.
#[test]
fn pub_counts_two_subscribers_to_one_topic_as_two() {
    let d = dir();
    let e = ep(&d, "wait2");
    let mut publ = zcat(&["pub", "--bind", &e, "--wait-subscribers", "2"]);
    publ.bound();
    publ.write("t1\nt2\nt3\n");
    publ.close_stdin();
    let subscriber = || zcat(&["sub", "--connect", &e, "--subscribe", "t", "--count", "3"]);
    let mut subs = [subscriber(), subscriber()];
    for sub in &mut subs {
        for want in ["t1", "t2", "t3"] {
            assert_eq!(sub.line(), want);
        }
        assert_eq!(sub.wait(), 0);
    }
    assert_eq!(publ.wait(), 0);
}

#[test]
fn wait_subscribers_is_for_pub_only() {
    let mut z = zcat(&["push", "--bind", "ipc://*", "--wait-subscribers", "1"]);
    assert_eq!(z.wait(), 2);
    let first = z.err.recv_timeout(WAIT).unwrap();
    assert_eq!(first, "zcat: --wait-subscribers is for pub only");
}

#[test]
fn xsub_subscribes_through_xpub() {
    let d = dir();
    let e = ep(&d, "xx");
    let mut xpub = zcat(&["xpub", "--bind", &e]);
    xpub.bound();
    let xsub = zcat(&["xsub", "--connect", &e, "--subscribe", "t", "--count", "1"]);
    // XPUB prints the subscription it receives: 0x01 followed by "t" (binary, so hex).
    assert_eq!(xpub.line(), "0x0174");
    xpub.write("t-news\n");
    assert_eq!(xsub.line(), "t-news");
}

#[test]
fn errors_name_the_cause_and_exit_2() {
    let long = format!("ipc:///{}", "x".repeat(120));
    for (args, needle) in [
        (vec!["pull", "--bind", long.as_str()], "limit is 107"),
        (vec!["pull", "--connect", "inproc://x"], "one process"),
        (vec!["pull", "--bind", "inproc://x"], "one process"),
        (vec!["pull", "--bind", "ipc://@"], "needs a name"),
        (
            vec!["pull", "--bind", "ipc:///tmp/x", "--no-such-option", "1"],
            "unknown socket option",
        ),
        (
            vec!["stream", "--bind", "ipc:///tmp/x"],
            "unknown socket type",
        ),
        (vec!["pull"], "--bind or --connect"),
        (
            vec!["pull", "--bind", "ipc:///nonexistent-dir/x"],
            "does not exist",
        ),
    ] {
        let mut z = zcat(&args);
        assert_eq!(z.wait(), 2, "{args:?}");
        let first = z.err.recv_timeout(WAIT).unwrap();
        assert!(first.starts_with("zcat: "), "{first}");
        assert!(first.contains(needle), "{args:?}: {first}");
    }
}

/// A failed bind or connect names its endpoint once, whether or not the error it reports
/// names the endpoint itself.
#[test]
fn bind_and_connect_errors_name_the_endpoint_once() {
    let d = dir();
    let file = d.path().join("regular-file");
    std::fs::write(&file, b"").unwrap();
    let in_use = format!("ipc://{}", file.display());
    let missing_dir = ep(&d, "missing/x.sock");
    let in_proc = format!("ipc:///proc/zcat-test-{}.ipc", std::process::id());
    let too_long = format!("ipc:///{}", "x".repeat(120));
    for (op, endpoint) in [
        ("--bind", missing_dir.as_str()),
        ("--bind", in_proc.as_str()),
        ("--bind", in_use.as_str()),
        ("--bind", too_long.as_str()),
        ("--bind", "tcp://192.0.2.1:5555"),
        ("--bind", "tcp://nosuchif0:5555"),
        ("--bind", "tcp://127.0.0.1:70000"),
        ("--connect", "tcp://[::1%no-such-interface]:5555"),
        ("--connect", "tcp://no-such-host.invalid:5555"),
        ("--connect", "inproc://x"),
    ] {
        let mut z = zcat(&["pull", op, endpoint]);
        assert_eq!(z.wait(), 2, "{op} {endpoint}");
        let first = z.err.recv_timeout(WAIT).unwrap();
        let verb = op.trim_start_matches("--");
        assert!(
            first.starts_with(&format!("zcat: cannot {verb} {endpoint}: ")),
            "{first}"
        );
        assert_eq!(first.matches(endpoint).count(), 1, "{first}");
    }
}

#[test]
fn sigint_and_sigterm_close_cleanly_and_remove_the_socket_file() {
    let d = dir();
    for sig in [libc::SIGINT, libc::SIGTERM] {
        let e = ep(&d, &format!("sig{sig}"));
        let mut z = zcat(&["pull", "--bind", &e]);
        let bound = z.bound();
        let path = bound.strip_prefix("ipc://").unwrap().to_string();
        assert!(std::path::Path::new(&path).exists());
        z.signal(sig);
        assert_eq!(z.wait(), 0);
        assert!(!std::path::Path::new(&path).exists(), "{path} left behind");
    }
    // The wildcard's private directory goes too.
    let mut z = zcat(&["pull", "--bind", "ipc://*"]);
    let bound = z.bound();
    let path = std::path::PathBuf::from(bound.strip_prefix("ipc://").unwrap());
    z.signal(libc::SIGTERM);
    assert_eq!(z.wait(), 0);
    assert!(!path.parent().unwrap().exists());
}

#[test]
fn zcat_talks_to_libzmq_both_ways() {
    let d = dir();
    let ctx = zmq::Context::new();
    let e = ep(&d, "lz1");
    let pull = zcat(&["pull", "--bind", &e, "--count", "2"]);
    pull.bound();
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.connect(&e).unwrap();
    push.send_multipart([&b"from"[..], &b"libzmq"[..]], 0)
        .unwrap();
    push.send(&[0u8, 1][..], 0).unwrap();
    assert_eq!(pull.line(), "from\tlibzmq");
    assert_eq!(pull.line(), "0x0001");

    let e = ep(&d, "lz2");
    let lpull = ctx.socket(zmq::PULL).unwrap();
    lpull.set_rcvtimeo(20_000).unwrap();
    lpull.bind(&e).unwrap();
    let mut zpush = zcat(&["push", "--connect", &e]);
    zpush.write("to\tlibzmq\n");
    zpush.close_stdin();
    assert_eq!(
        lpull.recv_multipart(0).unwrap(),
        vec![b"to".to_vec(), b"libzmq".to_vec()]
    );
    assert_eq!(zpush.wait(), 0);
}

/// CPU time (user + system) a process has used so far, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which ends with ')'): utime is the 12th, stime 13th.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap()
}

#[test]
fn an_echo_server_whose_input_ended_sleeps_instead_of_spinning() {
    let d = dir();
    let e = ep(&d, "idle");
    let mut rep = zcat(&["rep", "--bind", &e, "--echo"]);
    rep.bound();
    rep.close_stdin();
    let before = cpu_ticks(rep.child.id());
    // Half a second of nothing to do: a spinning loop would burn most of it.
    std::thread::sleep(Duration::from_millis(500));
    let used = cpu_ticks(rep.child.id()) - before;
    assert!(used <= 10, "idle zcat used {used} ticks of CPU in 500 ms");
    assert!(
        rep.child.try_wait().unwrap().is_none(),
        "echo servers keep serving"
    );
}

/// Every type both bound and connected: the usual connector binds and the usual binder
/// connects, for each pair not already covered above.
#[test]
fn every_type_works_bound_and_connected() {
    let d = dir();
    // (binder args, connector args)
    let cases: &[(&[&str], &[&str])] = &[
        (&["req"], &["rep", "--echo"]),
        (&["dealer"], &["router", "--echo", "--count", "1"]),
        (&["sub", "--count", "1"], &["pub"]),
        (&["xsub", "--count", "1"], &["xpub"]),
    ];
    for (i, (binder, connector)) in cases.iter().enumerate() {
        let e = ep(&d, &format!("swap{i}"));
        let mut b_args: Vec<&str> = binder.to_vec();
        b_args.extend(["--bind", &e]);
        let mut c_args: Vec<&str> = connector.to_vec();
        c_args.extend(["--connect", &e]);
        let mut b = zcat(&b_args);
        b.bound();
        let mut c = zcat(&c_args);
        match binder[0] {
            "req" => {
                b.write("question\n");
                assert_eq!(c.line(), "question");
                assert_eq!(b.line(), "question");
            }
            "dealer" => {
                b.write("hello\n");
                let l = c.line();
                assert!(l.ends_with("\thello"), "{l}");
                assert_eq!(b.line(), "hello");
                assert_eq!(c.wait(), 0);
            }
            "sub" | "xsub" => {
                // Publish until the subscription (to everything) has arrived.
                let mut got = None;
                for n in 0..400 {
                    c.write(&format!("tick {n}\n"));
                    if let Ok(l) = b.out.recv_timeout(Duration::from_millis(50)) {
                        got = Some(l);
                        break;
                    }
                }
                let l = got.expect("the subscriber received nothing");
                assert!(l.starts_with("tick "), "{l}");
                assert_eq!(b.wait(), 0);
            }
            _ => unreachable!(),
        }
    }
}

/// zcat with these arguments and a standard output nobody reads (the pipe, kept open,
/// fills up): returns it and the unread end.
fn zcat_unread(args: &[&str]) -> (Zcat, Option<std::process::ChildStdout>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_zcat"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped()) // never read
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let unread = child.stdout.take();
    let err = lines(child.stderr.take().unwrap());
    let z = Zcat {
        child,
        stdin: None,
        out: mpsc::channel().1,
        err,
    };
    (z, unread)
}

/// Sends 1 KiB messages to `endpoint` until a send waits a second (whoever receives
/// stopped taking them); returns how many went. Asserts that more than a pipe's worth did.
fn send_until_refused(ctx: &zsock::Context, endpoint: &str) -> u64 {
    let mut push = ctx.socket(zsock::SocketType::Push).unwrap();
    push.set(zsock::SocketOption::SndTimeo(1000)).unwrap();
    push.set(zsock::SocketOption::Linger(0)).unwrap();
    push.connect(endpoint).unwrap();
    let line = vec![b'x'; 1024];
    let mut sent = 0u64;
    loop {
        match push.send_copy(&line, zsock::Flags::NONE) {
            Ok(()) => sent += 1,
            Err(e) if e.kind() == zsock::ErrorKind::Again => break,
            Err(e) => panic!("{e}"),
        }
        assert!(
            sent < 1_000_000,
            "the receiver never stopped taking messages"
        );
    }
    assert!(sent * 1025 > 64 * 1024, "only {sent} messages sent");
    sent
}

/// Issue 17's case 6: a reader that stops reading zcat's output must not make zcat deaf to
/// SIGTERM. zcat's stdout is a pipe nobody reads; a PUSH sends until zcat stops taking
/// messages (its output is full); SIGTERM still ends it at once, cleanly.
#[test]
fn sigterm_ends_zcat_while_its_stdout_is_blocked() {
    let d = dir();
    let e = ep(&d, "blocked");
    let (mut z, _unread) = zcat_unread(&["pull", "--bind", &e]);
    let bound = z.bound();
    let ctx = zsock::Context::new();
    // zcat stops receiving once its output is full.
    send_until_refused(&ctx, &bound);
    z.signal(libc::SIGTERM);
    assert_eq!(z.wait(), 0);
    let path = bound.strip_prefix("ipc://").unwrap();
    assert!(!std::path::Path::new(path).exists(), "{path} left behind");
}

#[test]
fn proxy_brokers_requests_prints_both_ways_and_exits_cleanly_on_a_signal() {
    let d = dir();
    let (front, back) = (ep(&d, "front"), ep(&d, "back"));
    let mut z = zcat(&[
        "proxy",
        "router",
        "dealer",
        "--front-bind",
        &front,
        "--back-bind",
        &back,
        "--print",
    ]);
    assert_eq!(z.bound(), front);
    assert_eq!(z.bound(), back);
    let ctx = zsock::Context::new();
    let mut worker = ctx.socket(zsock::SocketType::Rep).unwrap();
    worker.set(zsock::SocketOption::RcvTimeo(20_000)).unwrap();
    worker.connect(&back).unwrap();
    let mut client = ctx.socket(zsock::SocketType::Req).unwrap();
    client.set(zsock::SocketOption::RcvTimeo(20_000)).unwrap();
    client.connect(&front).unwrap();
    client.send("ping", zsock::Flags::NONE).unwrap();
    assert_eq!(worker.recv(zsock::Flags::NONE).unwrap(), "ping");
    worker.send("pong", zsock::Flags::NONE).unwrap();
    assert_eq!(client.recv(zsock::Flags::NONE).unwrap(), "pong");
    // Routing id (binary), empty delimiter, body; `>` going to the workers.
    let (request, reply) = (z.line(), z.line());
    assert!(
        request.starts_with("> 0x") && request.ends_with("\t\tping"),
        "{request}"
    );
    assert!(
        reply.starts_with("< 0x") && reply.ends_with("\t\tpong"),
        "{reply}"
    );
    z.signal(libc::SIGINT);
    assert_eq!(z.wait(), 0);
    for ep in [&front, &back] {
        let path = ep.strip_prefix("ipc://").unwrap();
        assert!(!std::path::Path::new(path).exists(), "{path} left behind");
    }
}

/// `proxy --print` with a stdout nobody reads: the tap waits for room, so the proxy stops
/// taking messages (the sender sees its HWM), and SIGTERM still ends it at once, cleanly.
#[test]
fn proxy_print_to_a_blocked_stdout_still_ends_on_a_signal() {
    let d = dir();
    let (front, back) = (ep(&d, "front"), ep(&d, "back"));
    let (mut z, _unread) = zcat_unread(&[
        "proxy",
        "pull",
        "push",
        "--front-bind",
        &front,
        "--back-bind",
        &back,
        "--print",
    ]);
    assert_eq!(z.bound(), front);
    assert_eq!(z.bound(), back);
    let ctx = zsock::Context::new();
    // A consumer that takes everything the proxy forwards.
    let mut pull = ctx.socket(zsock::SocketType::Pull).unwrap();
    pull.set(zsock::SocketOption::RcvTimeo(500)).unwrap();
    pull.connect(&back).unwrap();
    let consumer = std::thread::spawn(move || {
        let mut n = 0u64;
        while pull.recv(zsock::Flags::NONE).is_ok() {
            n += 1;
        }
        n
    });
    // The proxy stops taking messages once its tap waits for room in stdout.
    send_until_refused(&ctx, &front);
    z.signal(libc::SIGTERM);
    assert_eq!(z.wait(), 0);
    for ep in [&front, &back] {
        let path = ep.strip_prefix("ipc://").unwrap();
        assert!(!std::path::Path::new(path).exists(), "{path} left behind");
    }
    assert!(consumer.join().unwrap() > 0);
}

#[test]
fn proxy_forwards_subscriptions_from_xpub_to_xsub() {
    let d = dir();
    let (up, down) = (ep(&d, "up"), ep(&d, "down"));
    let mut publisher = zcat(&["pub", "--bind", &up, "--wait-subscribers", "1"]);
    publisher.bound();
    let mut z = zcat(&[
        "proxy",
        "xsub",
        "xpub",
        "--front-connect",
        &up,
        "--back-bind",
        &down,
    ]);
    assert_eq!(z.bound(), down);
    let mut sub = zcat(&[
        "sub",
        "--connect",
        &down,
        "--subscribe",
        "news",
        "--count",
        "1",
    ]);
    // The subscription reaches the publisher through the proxy; then it sends.
    publisher.write("sports 1\nnews 2\n");
    publisher.close_stdin();
    assert_eq!(sub.line(), "news 2");
    assert_eq!(sub.wait(), 0);
    z.signal(libc::SIGTERM);
    assert_eq!(z.wait(), 0);
}

#[test]
fn proxy_usage_errors_exit_2() {
    for args in [
        &["proxy"][..],
        &["proxy", "router"],
        &["proxy", "router", "nosuch", "--back-bind", "ipc://@x"],
        &["proxy", "router", "dealer", "--front-bind", "ipc://@x"],
        &[
            "proxy",
            "router",
            "dealer",
            "--front-bind",
            "ipc://@x",
            "--back-bind",
        ],
    ] {
        let mut z = zcat(args);
        assert_eq!(z.wait(), 2, "{args:?}");
        let err = z.err.recv_timeout(WAIT).unwrap();
        assert!(err.starts_with("zcat: "), "{err}");
    }
}

#[test]
fn plain_client_and_server_with_credentials() {
    let d = dir();
    let e = ep(&d, "plain");
    let mut pull = zcat(&[
        "pull",
        "--bind",
        &e,
        "--plain-server",
        "alice:wonder:land",
        "--plain-server",
        "bob:builder",
        "--count",
        "1",
    ]);
    pull.bound();
    // A wrong password is refused: nothing arrives from it, the client says why on
    // stderr and exits 1.
    let mut wrong = zcat(&["push", "--connect", &e, "--plain", "bob:guess"]);
    wrong.write("from the wrong password\n");
    let told = wrong.err.recv_timeout(WAIT).expect("the refusal on stderr");
    assert!(
        told.starts_with("zcat: handshake failed on ") && told.contains("refused our credentials"),
        "{told}"
    );
    let mut push = zcat(&["push", "--connect", &e, "--plain", "alice:wonder:land"]);
    push.write("through\n");
    assert_eq!(pull.line(), "through");
    assert_eq!(pull.wait(), 0);
    wrong.close_stdin();
    assert_eq!(wrong.wait(), 1);
    push.close_stdin();
    assert_eq!(push.wait(), 0);
    // The server told the refusal too.
    let err: Vec<String> = pull.err.try_iter().collect();
    assert!(
        err.iter()
            .any(|l| l.contains("authentication refused the peer")),
        "{err:?}"
    );
}

#[test]
fn a_signal_ends_the_wait_for_unsent_lines_at_exit() {
    let d = dir();
    let e = ep(&d, "unsent");
    let nobody = ep(&d, "nobody");
    // The connection to `nobody` never comes up: its queue keeps the line, which LINGER's
    // default waits for without end once input ends.
    let mut z = zcat(&["push", "--bind", &e, "--connect", &nobody]);
    let bound = z.bound();
    let path = std::path::PathBuf::from(bound.strip_prefix("ipc://").unwrap());
    z.write("nobody takes this\n");
    z.close_stdin();
    // At the end of input the socket closes (its file goes) and the wait begins.
    let deadline = std::time::Instant::now() + WAIT;
    while path.exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the socket did not close"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    z.signal(libc::SIGTERM);
    assert_eq!(z.wait(), 0);
}

#[test]
fn plain_flags_need_user_and_password() {
    for bad in ["nopassword", ":pass"] {
        let mut z = zcat(&["push", "--connect", "ipc:///tmp/x", "--plain", bad]);
        assert_eq!(z.wait(), 2, "{bad}");
        let err: Vec<String> = z.err.iter().collect();
        assert!(err.iter().any(|l| l.contains("USER:PASS")), "{err:?}");
    }
}

fn keygen() -> (String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zcat"))
        .arg("keygen")
        .output()
        .unwrap();
    assert!(out.status.success());
    let line = String::from_utf8(out.stdout).unwrap();
    let mut it = line.split_whitespace();
    let (public, secret) = (
        it.next().unwrap().to_string(),
        it.next().unwrap().to_string(),
    );
    assert_eq!((public.len(), secret.len()), (40, 40), "{line}");
    assert_eq!(zsock::curve_public(secret.as_bytes()).unwrap(), public);
    (public, secret)
}

#[test]
fn curve_server_and_clients_with_an_allow_list() {
    let d = dir();
    let e = ep(&d, "curve");
    let (server_public, server_secret) = keygen();
    let (client_public, client_secret) = keygen();
    let mut pull = zcat(&[
        "pull",
        "--bind",
        &e,
        "--curve-server",
        &server_secret,
        "--curve-allow",
        &client_public,
        "--count",
        "1",
    ]);
    pull.bound();
    // A client with a fresh key pair is not on the list: nothing arrives from it, it says
    // why on stderr and exits 1.
    let mut stranger = zcat(&["push", "--connect", &e, "--curve-serverkey", &server_public]);
    stranger.write("from a stranger\n");
    let told = stranger
        .err
        .recv_timeout(WAIT)
        .expect("the refusal on stderr");
    assert!(told.starts_with("zcat: handshake failed on "), "{told}");
    let mut push = zcat(&[
        "push",
        "--connect",
        &e,
        "--curve-serverkey",
        &server_public,
        "--curve-secret",
        &client_secret,
    ]);
    push.write("sealed\n");
    assert_eq!(pull.line(), "sealed");
    assert_eq!(pull.wait(), 0);
    stranger.close_stdin();
    assert_eq!(stranger.wait(), 1);
    push.close_stdin();
    assert_eq!(push.wait(), 0);
}

#[test]
fn curve_flags_want_z85_keys() {
    let mut z = zcat(&[
        "push",
        "--connect",
        "ipc:///tmp/x",
        "--curve-serverkey",
        "nope",
    ]);
    assert_eq!(z.wait(), 2);
    let err: Vec<String> = z.err.iter().collect();
    assert!(err.iter().any(|l| l.contains("Z85")), "{err:?}");
}
