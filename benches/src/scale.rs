//! The scale scenarios (BENCHMARKS.md, "Method and targets": many sockets, fan-in, fan-out,
//! 1,000-topic subscriptions, a ROUTER with many DEALERs), written once against
//! [`Library`] so zsock and libzmq run exactly the same loops. The command lines and output
//! lines are in the crate docs.
//!
//! Every message is [`SIZE`] bytes, copied from a user buffer for every send. Messages are
//! received into one reused [`Library::Frame`], as libzmq's perf tools do. Where one thread
//! serves many sockets it waits with the library's poll and then takes up to
//! [`DRAIN_BATCH`] messages from each ready socket without waiting.

use std::fmt;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::{
    check_size, parse_cpu, payload, peak_rss_kb, print_outcome, proc_status, release_flag,
    usage_error, wait_for_release, CONNECT_TIMEOUT,
};

/// Size of every message in the scale scenarios.
pub const SIZE: usize = 64;

/// How long a scale process may run in all before it gives up with an error (exit code 3)
/// rather than hang.
pub const GUARD: Duration = Duration::from_secs(60);

/// Most messages taken from one ready socket before the next ready one gets its turn.
pub const DRAIN_BATCH: usize = 256;

/// Topics the topics publisher cycles over: `t0000` to `t9999`.
pub const TOPICS_PUBLISHED: usize = 10_000;

/// Topics every topics subscriber subscribes to: `t0000` to `t0999` (10% of the messages).
pub const TOPICS_SUBSCRIBED: usize = 1_000;

/// Longest single wait in a poll loop, so windows and deadlines are checked.
const POLL_WAIT: Duration = Duration::from_millis(100);

/// How long the ROUTER echo's receive waits before it looks whether it was released.
const ECHO_IDLE: Duration = Duration::from_millis(50);

/// The socket types the scenarios use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// PUSH.
    Push,
    /// PULL.
    Pull,
    /// PUB.
    Pub,
    /// SUB.
    Sub,
    /// ROUTER.
    Router,
    /// DEALER.
    Dealer,
    /// REQ.
    Req,
    /// REP.
    Rep,
}

/// Whether a send or receive may wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Wait (up to RCVTIMEO for a receive where one is set).
    Block,
    /// DONTWAIT: fail at once instead.
    DontWait,
}

/// The calls the scenarios make, implemented by each bench binary for its library with
/// default options. Errors are rendered as text.
pub trait Library {
    /// A context. Dropping it after every socket terminates it (`zmq_ctx_term`).
    type Context: Send + 'static;
    /// A socket.
    type Socket: Send + 'static;
    /// A received frame, reused across receives.
    type Frame: std::ops::Deref<Target = [u8]>;

    /// A new context.
    fn context() -> Self::Context;
    /// A new socket of `kind`.
    fn socket(ctx: &Self::Context, kind: SocketKind) -> Result<Self::Socket, String>;
    /// Binds to `endpoint`.
    fn bind(socket: &Self::Socket, endpoint: &str) -> Result<(), String>;
    /// Connects to `endpoint`.
    fn connect(socket: &Self::Socket, endpoint: &str) -> Result<(), String>;
    /// ZMQ_SUBSCRIBE.
    fn subscribe(socket: &mut Self::Socket, prefix: &[u8]) -> Result<(), String>;
    /// ZMQ_RCVTIMEO.
    fn set_recv_timeout(socket: &mut Self::Socket, timeout: Duration) -> Result<(), String>;
    /// ZMQ_LINGER 0: what the socket still holds is dropped when it closes.
    fn set_linger_zero(socket: &mut Self::Socket) -> Result<(), String>;
    /// An empty frame to receive into.
    fn new_frame() -> Self::Frame;
    /// Sends `data` as a whole message (copying it); `Ok(false)`: it would block (or the
    /// send timed out).
    fn send(socket: &mut Self::Socket, data: &[u8], wait: Wait) -> Result<bool, String>;
    /// Sends `data` as a frame with more to follow (SNDMORE), waiting if need be.
    fn send_more(socket: &mut Self::Socket, data: &[u8]) -> Result<(), String>;
    /// Receives one frame into `into`; `Ok(false)`: nothing came (DONTWAIT or RCVTIMEO).
    fn recv(socket: &mut Self::Socket, into: &mut Self::Frame, wait: Wait) -> Result<bool, String>;
    /// Waits up to `timeout` until some of `sockets` can receive, and sets `ready` to
    /// their indices (empty on timeout).
    fn poll_readable(
        sockets: &[Self::Socket],
        timeout: Duration,
        ready: &mut Vec<usize>,
    ) -> Result<(), String>;
    /// Runs the library's proxy (`zmq_proxy`) between `frontend` and `backend` on this
    /// thread, holding `ctx`; returns only on an error.
    fn proxy(
        ctx: Self::Context,
        frontend: Self::Socket,
        backend: Self::Socket,
    ) -> Result<(), String>;
}

/// One of the scale roles a bench binary plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScaleMode {
    /// One process: N/2 PULL bound, N/2 PUSH connected, one message each, all closed.
    Sockets,
    /// N PUSH connect and one thread sends COUNT messages round-robin across them.
    FaninPush,
    /// One PULL binds and receives COUNT messages; prints RESULT.
    FaninPull,
    /// One PUB binds and sends until released.
    FanoutPub,
    /// N SUB (subscribed to everything) connect; one thread receives for SECS.
    FanoutSub,
    /// One PUB binds and sends until released, cycling over [`TOPICS_PUBLISHED`] topics.
    TopicsPub,
    /// N SUB, each subscribed to [`TOPICS_SUBSCRIBED`] topics, receive for SECS.
    TopicsSub,
    /// One ROUTER binds and echoes every message until released.
    RouterEcho,
    /// N DEALER connect, one request in flight each, round trips for SECS.
    RouterDealers,
    /// The library's proxy between a ROUTER bound at ENDPOINT and a DEALER bound at
    /// ENDPOINT-workers, until released.
    ProxyBroker,
    /// N REQ clients (one request in flight each) connect to ENDPOINT and N REP workers
    /// to ENDPOINT-workers, served by one thread; round trips for SECS.
    ProxyClients,
}

/// A positional parameter of a scale mode, after ENDPOINT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Param {
    /// N: how many sockets.
    Sockets,
    /// COUNT: how many messages.
    Count,
    /// SECS: the measured window.
    Secs,
}

impl ScaleMode {
    const ALL: [ScaleMode; 11] = [
        ScaleMode::Sockets,
        ScaleMode::FaninPush,
        ScaleMode::FaninPull,
        ScaleMode::FanoutPub,
        ScaleMode::FanoutSub,
        ScaleMode::TopicsPub,
        ScaleMode::TopicsSub,
        ScaleMode::RouterEcho,
        ScaleMode::RouterDealers,
        ScaleMode::ProxyBroker,
        ScaleMode::ProxyClients,
    ];

    /// The mode's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ScaleMode::Sockets => "scale-sockets",
            ScaleMode::FaninPush => "scale-fanin-push",
            ScaleMode::FaninPull => "scale-fanin-pull",
            ScaleMode::FanoutPub => "scale-fanout-pub",
            ScaleMode::FanoutSub => "scale-fanout-sub",
            ScaleMode::TopicsPub => "scale-topics-pub",
            ScaleMode::TopicsSub => "scale-topics-sub",
            ScaleMode::RouterEcho => "scale-router-echo",
            ScaleMode::RouterDealers => "scale-router-dealers",
            ScaleMode::ProxyBroker => "scale-proxy-broker",
            ScaleMode::ProxyClients => "scale-proxy-clients",
        }
    }

    /// The scenario, `kind=` in the output: `scale-sockets`, `scale-fanin`, ...
    pub fn kind(self) -> &'static str {
        match self {
            ScaleMode::Sockets => "scale-sockets",
            ScaleMode::FaninPush | ScaleMode::FaninPull => "scale-fanin",
            ScaleMode::FanoutPub | ScaleMode::FanoutSub => "scale-fanout",
            ScaleMode::TopicsPub | ScaleMode::TopicsSub => "scale-topics",
            ScaleMode::RouterEcho | ScaleMode::RouterDealers => "scale-router",
            ScaleMode::ProxyBroker | ScaleMode::ProxyClients => "scale-proxy",
        }
    }

    fn params(self) -> &'static [Param] {
        match self {
            ScaleMode::Sockets => &[Param::Sockets],
            ScaleMode::FaninPush => &[Param::Sockets, Param::Count],
            ScaleMode::FaninPull => &[Param::Count],
            ScaleMode::FanoutPub
            | ScaleMode::TopicsPub
            | ScaleMode::RouterEcho
            | ScaleMode::ProxyBroker => &[],
            ScaleMode::FanoutSub
            | ScaleMode::TopicsSub
            | ScaleMode::RouterDealers
            | ScaleMode::ProxyClients => &[Param::Sockets, Param::Secs],
        }
    }

    /// Whether the command line has N (the PUB, the ROUTER and the fan-in PULL do not).
    fn takes_sockets(self) -> bool {
        self.params().contains(&Param::Sockets)
    }

    /// `scale-fanin-push ENDPOINT N COUNT`, for messages.
    fn synopsis(self) -> String {
        let mut s = format!("{} ENDPOINT", self.name());
        for p in self.params() {
            s.push_str(match p {
                Param::Sockets => " N",
                Param::Count => " COUNT",
                Param::Secs => " SECS",
            });
        }
        s
    }
}

/// Whether a command line (without the program name) asks for a scale mode.
pub fn is_scale_command(args: &[String]) -> bool {
    parse_cpu(args).is_ok_and(|(_, rest)| rest.first().is_some_and(|m| m.starts_with("scale-")))
}

/// A parsed scale command line.
#[derive(Debug, Clone)]
pub struct ScaleArgs {
    /// The role.
    pub mode: ScaleMode,
    /// The endpoint as given (`ipc:///path`); scale-sockets binds `ENDPOINT-0`, `-1`, ...
    pub endpoint: String,
    /// N: how many sockets (1 where the mode takes none; then not printed).
    pub sockets: usize,
    /// COUNT: messages (0 where the mode takes none).
    pub count: u64,
    /// SECS: the measured window (zero where the mode takes none).
    pub window: Duration,
    /// `--cpu N`: the CPU the process was pinned to.
    pub cpu: Option<usize>,
}

/// Parses `[--cpu N] MODE ENDPOINT [N] [COUNT] [SECS]` (without the program name).
pub fn parse_scale_args(args: &[String]) -> Result<ScaleArgs, String> {
    let usage = || {
        let modes: Vec<String> = ScaleMode::ALL.iter().map(|m| m.synopsis()).collect();
        format!("usage: BIN [--cpu N] {}", modes.join(" | "))
    };
    let (cpu, rest) = parse_cpu(args)?;
    let [mode, endpoint, values @ ..] = &rest[..] else {
        return Err(usage());
    };
    let mode = ScaleMode::ALL
        .into_iter()
        .find(|m| m.name() == *mode)
        .ok_or_else(|| format!("unknown mode `{mode}`\n{}", usage()))?;
    if values.len() != mode.params().len() {
        return Err(format!("usage: BIN [--cpu N] {}", mode.synopsis()));
    }
    let mut parsed = ScaleArgs {
        mode,
        endpoint: endpoint.to_string(),
        sockets: 1,
        count: 0,
        window: Duration::ZERO,
        cpu,
    };
    for (param, value) in mode.params().iter().zip(values) {
        match param {
            Param::Sockets => {
                parsed.sockets = value
                    .parse()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| format!("N `{value}` is not a positive number"))?;
            }
            Param::Count => {
                parsed.count = value
                    .parse()
                    .ok()
                    .filter(|&c| c >= 2)
                    .ok_or_else(|| format!("COUNT `{value}` is not a number of at least 2"))?;
            }
            Param::Secs => {
                parsed.window = value
                    .parse::<f64>()
                    .ok()
                    .filter(|s| *s > 0.0 && s.is_finite())
                    .map(Duration::from_secs_f64)
                    .ok_or_else(|| format!("SECS `{value}` is not a positive number"))?;
            }
        }
    }
    if mode == ScaleMode::Sockets && !parsed.sockets.is_multiple_of(2) {
        return Err(format!(
            "scale-sockets: N `{}` must be even",
            parsed.sockets
        ));
    }
    Ok(parsed)
}

/// This process's CPU time and context switches at one instant (`getrusage`,
/// RUSAGE_SELF: every thread).
#[derive(Debug, Clone, Copy)]
pub struct Usage {
    at: Instant,
    cpu: Duration,
    switches: u64,
}

impl Usage {
    /// Now.
    pub fn now() -> Usage {
        // SAFETY: getrusage fills the zero-initialised plain struct it is given.
        let ru = unsafe {
            let mut ru: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_SELF, &mut ru);
            ru
        };
        let time = |t: libc::timeval| {
            Duration::from_secs(t.tv_sec as u64) + Duration::from_micros(t.tv_usec as u64)
        };
        Usage {
            at: Instant::now(),
            cpu: time(ru.ru_utime) + time(ru.ru_stime),
            switches: (ru.ru_nvcsw + ru.ru_nivcsw) as u64,
        }
    }

    /// The span from `self` to `end` in which `msgs` messages were handled.
    pub fn span_to(self, end: Usage, msgs: u64) -> Span {
        Span {
            msgs,
            secs: end.at.duration_since(self.at).as_secs_f64(),
            cpu_s: end.cpu.saturating_sub(self.cpu).as_secs_f64(),
            switches: end.switches.saturating_sub(self.switches),
        }
    }
}

/// What a process did over the span it measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span {
    /// Messages (round trips for the ROUTER scenario) handled in the span.
    pub msgs: u64,
    /// Wall seconds of the span.
    pub secs: f64,
    /// CPU seconds (user + system, all threads) in the span.
    pub cpu_s: f64,
    /// Voluntary + involuntary context switches in the span.
    pub switches: u64,
}

/// What scale-sockets measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SocketsReport {
    /// Seconds from creating the context until every PULL received its message.
    pub setup_s: f64,
    /// Seconds to close every socket and terminate the context.
    pub close_s: f64,
    /// `Threads` in /proc/self/status after set-up.
    pub threads: u64,
    /// Open descriptors after set-up.
    pub fds: u64,
    /// `VmSize` after set-up, KiB.
    pub vmsize_kb: u64,
    /// `VmRSS` after set-up, KiB.
    pub vmrss_kb: u64,
}

/// What a scale role measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ScaleOutcome {
    /// scale-sockets.
    Sockets(SocketsReport),
    /// The measuring side (fan-in PULL, SUBs, DEALERs): its window; prints RESULT.
    Measured(Span),
    /// The other side (fan-in PUSH, PUB, ROUTER): its own busy span; prints PEER.
    Served(Span),
}

/// The RESULT or PEER line of a scale role.
#[derive(Debug, Clone)]
pub struct ScaleReport<'a> {
    /// Implementation name.
    pub imp: &'a str,
    /// The command line.
    pub args: &'a ScaleArgs,
    /// What was measured.
    pub outcome: ScaleOutcome,
    /// Peak RSS in KiB, if known.
    pub rss_kb: Option<u64>,
}

impl fmt::Display for ScaleReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (imp, kind, mode) = (self.imp, self.args.mode.kind(), self.args.mode);
        let n = if mode.takes_sockets() {
            format!(" n={}", self.args.sockets)
        } else {
            String::new()
        };
        let span = |f: &mut fmt::Formatter<'_>, s: &Span| {
            let rate = if s.secs > 0.0 {
                s.msgs as f64 / s.secs
            } else {
                0.0
            };
            write!(
                f,
                " msgs={} secs={:.6} msgs_per_s={rate:.1} cpu_s={:.6} csw={}",
                s.msgs, s.secs, s.cpu_s, s.switches
            )
        };
        match &self.outcome {
            ScaleOutcome::Sockets(r) => write!(
                f,
                "RESULT kind={kind} impl={imp}{n} setup_s={:.6} close_s={:.6} threads={} \
                 fds={} vmsize_kb={} vmrss_kb={}",
                r.setup_s, r.close_s, r.threads, r.fds, r.vmsize_kb, r.vmrss_kb
            )?,
            ScaleOutcome::Measured(s) => {
                write!(f, "RESULT kind={kind} impl={imp}{n}")?;
                span(f, s)?;
            }
            ScaleOutcome::Served(s) => {
                write!(f, "PEER kind={kind} role={} impl={imp}{n}", mode.name())?;
                span(f, s)?;
            }
        }
        if let Some(kb) = self.rss_kb {
            write!(f, " rss_kb={kb}")?;
        }
        Ok(())
    }
}

/// The `main` of a bench binary with the scale scenarios: scale modes run here with
/// library `L`, every other command line goes to [`crate::main_with`] and `run`.
pub fn main_with_scale<L: Library>(
    imp: &str,
    run: impl FnOnce(&crate::Args) -> Result<crate::Outcome, String>,
) -> ExitCode {
    main_if_scale::<L>(imp).unwrap_or_else(|| crate::main_with(imp, run))
}

/// For a bench binary's `main`: if the command line asks for a scale mode, runs it with
/// library `L` and prints its line; `None` otherwise, for the binary's other modes.
pub fn main_if_scale<L: Library>(imp: &str) -> Option<ExitCode> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if !is_scale_command(&argv) {
        return None;
    }
    let args = match parse_scale_args(&argv) {
        Ok(a) => a,
        Err(e) => return Some(usage_error(imp, &e)),
    };
    Some(print_outcome(imp, args.mode.name(), args.cpu, || {
        raise_fd_limit();
        start_guard(imp, args.mode);
        let outcome = run_scale::<L>(&args)?;
        Ok(ScaleReport {
            imp,
            args: &args,
            outcome,
            rss_kb: peak_rss_kb(),
        }
        .to_string())
    }))
}

/// Runs one scale role with library `L`.
pub fn run_scale<L: Library>(args: &ScaleArgs) -> Result<ScaleOutcome, String> {
    match args.mode {
        ScaleMode::Sockets => many_sockets::<L>(args),
        ScaleMode::FaninPush => fanin_push::<L>(args),
        ScaleMode::FaninPull => fanin_pull::<L>(args),
        ScaleMode::FanoutPub => publish::<L>(args, &[]),
        ScaleMode::TopicsPub => publish::<L>(args, &topics(TOPICS_PUBLISHED)),
        ScaleMode::FanoutSub => subscribe::<L>(args, &[Vec::new()]),
        ScaleMode::TopicsSub => {
            let prefixes: Vec<Vec<u8>> = topics(TOPICS_SUBSCRIBED)
                .iter()
                .map(|t| t.to_vec())
                .collect();
            subscribe::<L>(args, &prefixes)
        }
        ScaleMode::RouterEcho => router_echo::<L>(args),
        ScaleMode::RouterDealers => dealers::<L>(args),
        ScaleMode::ProxyBroker => proxy_broker::<L>(args),
        ScaleMode::ProxyClients => proxy_clients::<L>(args),
    }
}

/// Raises the soft limit on open descriptors to the hard limit (1,000 sockets need more
/// than the usual 1,024). Failing is left to show up as the library's own error.
fn raise_fd_limit() {
    // SAFETY: getrlimit and setrlimit read and write the plain struct they are given.
    unsafe {
        let mut lim: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        }
    }
}

/// What the guard writes when it fires.
static GIVE_UP: OnceLock<String> = OnceLock::new();

/// Ends the process with exit code 3 and a message if it still runs after [`GUARD`]:
/// SIGALRM, so that the guard adds no thread to the thread count.
fn start_guard(imp: &str, mode: ScaleMode) {
    extern "C" fn give_up(_signal: libc::c_int) {
        let msg = GIVE_UP.get().map_or("bench: scale guard\n", String::as_str);
        // SAFETY: write(2) and _exit(2) are async-signal-safe; `msg` was set before the
        // alarm and is never changed.
        unsafe {
            libc::write(2, msg.as_ptr().cast(), msg.len());
            libc::_exit(3);
        }
    }
    let _ = GIVE_UP.set(format!(
        "bench-{imp} {}: still running after {GUARD:?}, giving up\n",
        mode.name()
    ));
    let handler: extern "C" fn(libc::c_int) = give_up;
    // SAFETY: the handler only makes async-signal-safe calls.
    unsafe {
        libc::signal(libc::SIGALRM, handler as libc::sighandler_t);
        libc::alarm(GUARD.as_secs() as libc::c_uint);
    }
}

/// Open descriptors of this process (entries of /proc/self/fd, less the one listing them).
fn open_fds() -> u64 {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count().saturating_sub(1) as u64)
}

/// `t0000`, `t0001`, ... : the first `n` topics.
fn topics(n: usize) -> Vec<[u8; 5]> {
    (0..n)
        .map(|i| {
            let mut t = *b"t0000";
            t[1..].copy_from_slice(format!("{i:04}").as_bytes());
            t
        })
        .collect()
}

/// A blocking receive that must get a frame of [`SIZE`] bytes.
fn recv_message<L: Library>(socket: &mut L::Socket, frame: &mut L::Frame) -> Result<(), String> {
    if !L::recv(socket, frame, Wait::Block)? {
        return Err("a blocking receive returned no message".into());
    }
    check_size(frame.len(), SIZE)
}

/// A new socket of `kind` connected to `endpoint`, after `prepare` (options).
fn connected<L: Library>(
    ctx: &L::Context,
    kind: SocketKind,
    endpoint: &str,
    prepare: impl Fn(&mut L::Socket) -> Result<(), String>,
) -> Result<L::Socket, String> {
    let mut socket = L::socket(ctx, kind)?;
    prepare(&mut socket)?;
    L::connect(&socket, endpoint)?;
    Ok(socket)
}

/// A new socket of `kind` bound to `endpoint`.
fn bound<L: Library>(
    ctx: &L::Context,
    kind: SocketKind,
    endpoint: &str,
) -> Result<L::Socket, String> {
    let socket = L::socket(ctx, kind)?;
    L::bind(&socket, endpoint)?;
    Ok(socket)
}

fn many_sockets<L: Library>(args: &ScaleArgs) -> Result<ScaleOutcome, String> {
    let pairs = args.sockets / 2;
    let endpoints: Vec<String> = (0..pairs)
        .map(|i| format!("{}-{i}", args.endpoint))
        .collect();
    let msg = payload(SIZE);
    let mut frame = L::new_frame();
    let setup = Instant::now();
    let ctx = L::context();
    let mut pulls = endpoints
        .iter()
        .map(|ep| bound::<L>(&ctx, SocketKind::Pull, ep))
        .collect::<Result<Vec<_>, _>>()?;
    let mut pushes = endpoints
        .iter()
        .map(|ep| connected::<L>(&ctx, SocketKind::Push, ep, |_| Ok(())))
        .collect::<Result<Vec<_>, _>>()?;
    for push in &mut pushes {
        L::send(push, &msg, Wait::Block)?;
    }
    for pull in &mut pulls {
        recv_message::<L>(pull, &mut frame)?;
    }
    let setup_s = setup.elapsed().as_secs_f64();
    let status = |key| proc_status(key).unwrap_or(0);
    let (threads, fds) = (status("Threads"), open_fds());
    let (vmsize_kb, vmrss_kb) = (status("VmSize"), status("VmRSS"));
    let close = Instant::now();
    drop(pushes);
    drop(pulls);
    drop(ctx);
    Ok(ScaleOutcome::Sockets(SocketsReport {
        setup_s,
        close_s: close.elapsed().as_secs_f64(),
        threads,
        fds,
        vmsize_kb,
        vmrss_kb,
    }))
}

fn fanin_push<L: Library>(args: &ScaleArgs) -> Result<ScaleOutcome, String> {
    let ctx = L::context();
    let mut pushes = (0..args.sockets)
        .map(|_| connected::<L>(&ctx, SocketKind::Push, &args.endpoint, |_| Ok(())))
        .collect::<Result<Vec<_>, _>>()?;
    let msg = payload(SIZE);
    let start = Usage::now();
    let mut next = 0;
    for _ in 0..args.count {
        let push = &mut pushes[next];
        if !L::send(push, &msg, Wait::DontWait)? {
            L::send(push, &msg, Wait::Block)?;
        }
        next = if next + 1 == pushes.len() {
            0
        } else {
            next + 1
        };
    }
    let span = start.span_to(Usage::now(), args.count);
    // The PULL may not have everything yet: stay open until it is done.
    wait_for_release();
    Ok(ScaleOutcome::Served(span))
}

fn fanin_pull<L: Library>(args: &ScaleArgs) -> Result<ScaleOutcome, String> {
    let ctx = L::context();
    let mut pull = bound::<L>(&ctx, SocketKind::Pull, &args.endpoint)?;
    let mut frame = L::new_frame();
    recv_message::<L>(&mut pull, &mut frame)?;
    let start = Usage::now();
    for _ in 1..args.count {
        recv_message::<L>(&mut pull, &mut frame)?;
    }
    // As thr-pull: COUNT-1 messages from the first to the last.
    Ok(ScaleOutcome::Measured(
        start.span_to(Usage::now(), args.count - 1),
    ))
}

/// The PUB side of fan-out (no `cycle`) and topics (each message starts with the next of
/// `cycle`): sends as fast as it can until released.
fn publish<L: Library>(args: &ScaleArgs, cycle: &[[u8; 5]]) -> Result<ScaleOutcome, String> {
    let ctx = L::context();
    let mut publisher = bound::<L>(&ctx, SocketKind::Pub, &args.endpoint)?;
    let released = release_flag();
    let mut msg = payload(SIZE);
    let mut topic = cycle.iter().cycle();
    let start = Usage::now();
    let mut sent = 0;
    while !released.load(Ordering::Relaxed) {
        if let Some(t) = topic.next() {
            msg[..t.len()].copy_from_slice(t);
        }
        L::send(&mut publisher, &msg, Wait::Block)?;
        sent += 1;
    }
    let served = start.span_to(Usage::now(), sent);
    // What is still queued for subscribers that are going away is of no use: the
    // process ends without waiting for it (a libzmq PUB's context otherwise waits to
    // write it, and the run outlived its release now and then).
    L::set_linger_zero(&mut publisher)?;
    Ok(ScaleOutcome::Served(served))
}

/// What a [`Poller`] handler did with one ready socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Nothing to receive: on to the next ready socket.
    Empty,
    /// Took a message. `warm`: it counts for this socket's warm-up; `again`: the socket
    /// may have more.
    Took { warm: bool, again: bool },
}

/// One thread serving many sockets: poll, then a handler for each ready socket.
struct Poller<L: Library> {
    sockets: Vec<L::Socket>,
    ready: Vec<usize>,
}

impl<L: Library> Poller<L> {
    fn new(sockets: Vec<L::Socket>) -> Poller<L> {
        Poller {
            sockets,
            ready: Vec::new(),
        }
    }

    /// One poll of at most `timeout`, then `handle` on each ready socket until it is empty
    /// or gave [`DRAIN_BATCH`] messages; `took(index, warm)` for every message.
    fn round(
        &mut self,
        timeout: Duration,
        handle: &mut impl FnMut(&mut L::Socket) -> Result<Step, String>,
        mut took: impl FnMut(usize, bool),
    ) -> Result<(), String> {
        L::poll_readable(&self.sockets, timeout, &mut self.ready)?;
        for &i in &self.ready {
            for _ in 0..DRAIN_BATCH {
                match handle(&mut self.sockets[i])? {
                    Step::Empty => break,
                    Step::Took { warm, again } => {
                        took(i, warm);
                        if !again {
                            break;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Rounds until every socket had a warm message, within [`CONNECT_TIMEOUT`].
    fn warm_up(
        &mut self,
        what: &str,
        handle: &mut impl FnMut(&mut L::Socket) -> Result<Step, String>,
    ) -> Result<(), String> {
        let mut warm = vec![false; self.sockets.len()];
        let mut pending = warm.len();
        let deadline = Instant::now() + CONNECT_TIMEOUT;
        while pending > 0 {
            if Instant::now() >= deadline {
                return Err(format!(
                    "{pending} of {} {what} not warmed up within {CONNECT_TIMEOUT:?}",
                    warm.len()
                ));
            }
            self.round(POLL_WAIT, handle, |i, w| {
                if w && !warm[i] {
                    warm[i] = true;
                    pending -= 1;
                }
            })?;
        }
        Ok(())
    }

    /// Rounds for `window`; the span counts every message taken.
    fn measure(
        &mut self,
        window: Duration,
        handle: &mut impl FnMut(&mut L::Socket) -> Result<Step, String>,
    ) -> Result<Span, String> {
        let mut msgs = 0;
        let start = Usage::now();
        let end = start.at + window;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            self.round(left.min(POLL_WAIT), handle, |_, _| msgs += 1)?;
        }
        Ok(start.span_to(Usage::now(), msgs))
    }
}

/// The SUB side of fan-out and topics: N SUB subscribed to `prefixes`; warm once each
/// received a message starting with the last prefix (subscriptions reach the PUB in
/// order, so then all of them have), then delivered messages are counted for SECS.
fn subscribe<L: Library>(args: &ScaleArgs, prefixes: &[Vec<u8>]) -> Result<ScaleOutcome, String> {
    let ctx = L::context();
    let subscribe_all = |s: &mut L::Socket| prefixes.iter().try_for_each(|p| L::subscribe(s, p));
    let subs = (0..args.sockets)
        .map(|_| connected::<L>(&ctx, SocketKind::Sub, &args.endpoint, subscribe_all))
        .collect::<Result<Vec<_>, _>>()?;
    let marker: &[u8] = prefixes.last().map_or(&[], Vec::as_slice);
    let mut frame = L::new_frame();
    let mut handle = |s: &mut L::Socket| {
        if !L::recv(s, &mut frame, Wait::DontWait)? {
            return Ok(Step::Empty);
        }
        check_size(frame.len(), SIZE)?;
        Ok(Step::Took {
            warm: frame.starts_with(marker),
            again: true,
        })
    };
    let mut poller = Poller::<L>::new(subs);
    poller.warm_up("SUB sockets", &mut handle)?;
    Ok(ScaleOutcome::Measured(
        poller.measure(args.window, &mut handle)?,
    ))
}

/// The ROUTER side: echoes every message (routing id and body) until released. Its span
/// runs from the first message to the last; its CPU time from the first message to the
/// release, so CPU spent while idle counts too.
fn router_echo<L: Library>(args: &ScaleArgs) -> Result<ScaleOutcome, String> {
    let ctx = L::context();
    let mut router = L::socket(&ctx, SocketKind::Router)?;
    L::set_recv_timeout(&mut router, ECHO_IDLE)?;
    L::bind(&router, &args.endpoint)?;
    let released = release_flag();
    let (mut id, mut body) = (L::new_frame(), L::new_frame());
    let mut first: Option<Usage> = None;
    let mut last = Instant::now();
    let mut echoed = 0;
    loop {
        if !L::recv(&mut router, &mut id, Wait::Block)? {
            if released.load(Ordering::Relaxed) {
                break;
            }
            continue;
        }
        first.get_or_insert_with(Usage::now);
        recv_message::<L>(&mut router, &mut body)?;
        L::send_more(&mut router, &id)?;
        L::send(&mut router, &body, Wait::Block)?;
        echoed += 1;
        last = Instant::now();
    }
    let first = first.ok_or("released before any request came")?;
    let span = first.span_to(Usage::now(), echoed);
    Ok(ScaleOutcome::Served(Span {
        secs: last.duration_since(first.at).as_secs_f64(),
        ..span
    }))
}

/// The DEALER side: N DEALER, each with one request in flight; warm once every DEALER had
/// a reply, then round trips are counted for SECS.
fn dealers<L: Library>(args: &ScaleArgs) -> Result<ScaleOutcome, String> {
    let ctx = L::context();
    let mut dealers = (0..args.sockets)
        .map(|_| connected::<L>(&ctx, SocketKind::Dealer, &args.endpoint, |_| Ok(())))
        .collect::<Result<Vec<_>, _>>()?;
    let request = payload(SIZE);
    for dealer in &mut dealers {
        L::send(dealer, &request, Wait::Block)?;
    }
    let mut frame = L::new_frame();
    let mut handle = |s: &mut L::Socket| {
        if !L::recv(s, &mut frame, Wait::DontWait)? {
            return Ok(Step::Empty);
        }
        check_size(frame.len(), SIZE)?;
        L::send(s, &request, Wait::Block)?;
        Ok(Step::Took {
            warm: true,
            again: false,
        })
    };
    let mut poller = Poller::<L>::new(dealers);
    poller.warm_up("DEALER sockets", &mut handle)?;
    Ok(ScaleOutcome::Measured(
        poller.measure(args.window, &mut handle)?,
    ))
}

/// The endpoint the proxy's backend binds and the workers connect to.
pub fn workers_endpoint(endpoint: &str) -> String {
    format!("{endpoint}-workers")
}

/// The proxy: binds both sides, runs the library's proxy on a thread of its own (which
/// keeps the context: a libzmq context would wait for its sockets on drop), and reports
/// the process's CPU time from the start to the release.
fn proxy_broker<L: Library>(args: &ScaleArgs) -> Result<ScaleOutcome, String> {
    let ctx = L::context();
    let front = L::socket(&ctx, SocketKind::Router)?;
    let back = L::socket(&ctx, SocketKind::Dealer)?;
    // The workers' side first: the harness starts the clients once ENDPOINT exists.
    L::bind(&back, &workers_endpoint(&args.endpoint))?;
    L::bind(&front, &args.endpoint)?;
    let start = Usage::now();
    std::thread::spawn(move || {
        if let Err(e) = L::proxy(ctx, front, back) {
            eprintln!("proxy: {e}");
            std::process::exit(1);
        }
    });
    crate::wait_for_release();
    Ok(ScaleOutcome::Served(start.span_to(Usage::now(), 0)))
}

/// The clients and workers of the proxy: N REQ and N REP sockets served by one thread;
/// warm once every REQ had a reply, then round trips are counted for SECS.
fn proxy_clients<L: Library>(args: &ScaleArgs) -> Result<ScaleOutcome, String> {
    let ctx = L::context();
    let workers = workers_endpoint(&args.endpoint);
    let n = args.sockets;
    let mut sockets = Vec::with_capacity(2 * n);
    for _ in 0..n {
        sockets.push(connected::<L>(&ctx, SocketKind::Rep, &workers, |_| Ok(()))?);
    }
    for _ in 0..n {
        sockets.push(connected::<L>(
            &ctx,
            SocketKind::Req,
            &args.endpoint,
            |_| Ok(()),
        )?);
    }
    let request = payload(SIZE);
    for req in &mut sockets[n..] {
        L::send(req, &request, Wait::Block)?;
    }
    let (mut frame, mut ready) = (L::new_frame(), Vec::new());
    // One poll, then each ready socket answered once: a REP echoes the request, a REQ
    // counts the reply and asks again. Returns the indexes of the REQs that had a reply.
    let mut round = |sockets: &mut [L::Socket], timeout, replied: &mut Vec<usize>| {
        L::poll_readable(sockets, timeout, &mut ready)?;
        for &i in &ready {
            if !L::recv(&mut sockets[i], &mut frame, Wait::DontWait)? {
                continue;
            }
            check_size(frame.len(), SIZE)?;
            if i < n {
                L::send(&mut sockets[i], &frame, Wait::Block)?;
            } else {
                L::send(&mut sockets[i], &request, Wait::Block)?;
                replied.push(i);
            }
        }
        Ok::<(), String>(())
    };
    let mut warm = vec![false; n];
    let mut pending = n;
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    let mut replied = Vec::new();
    while pending > 0 {
        if Instant::now() >= deadline {
            return Err(format!(
                "{pending} of {n} REQ clients had no reply within {CONNECT_TIMEOUT:?}"
            ));
        }
        round(&mut sockets, POLL_WAIT, &mut replied)?;
        for i in replied.drain(..) {
            if !std::mem::replace(&mut warm[i - n], true) {
                pending -= 1;
            }
        }
    }
    let mut trips = 0;
    let start = Usage::now();
    let end = start.at + args.window;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        round(&mut sockets, left.min(POLL_WAIT), &mut replied)?;
        trips += replied.len() as u64;
        replied.clear();
    }
    Ok(ScaleOutcome::Measured(start.span_to(Usage::now(), trips)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_every_scale_mode_with_its_own_parameters() {
        let a = parse_scale_args(&argv("scale-fanin-push ipc:///tmp/x 10 2000")).unwrap();
        assert_eq!(
            (a.mode, a.sockets, a.count),
            (ScaleMode::FaninPush, 10, 2000)
        );
        let a =
            parse_scale_args(&argv("--cpu 1 scale-router-dealers ipc:///tmp/x 100 0.5")).unwrap();
        assert_eq!(a.window, Duration::from_millis(500));
        assert_eq!((a.sockets, a.cpu), (100, Some(1)));
        let a = parse_scale_args(&argv("scale-topics-pub ipc:///tmp/x")).unwrap();
        assert_eq!(a.mode.kind(), "scale-topics");
        assert!(parse_scale_args(&argv("scale-sockets ipc:///tmp/x 11")).is_err());
        assert!(parse_scale_args(&argv("scale-fanin-pull ipc:///tmp/x")).is_err());
        assert!(parse_scale_args(&argv("scale-fanout-sub ipc:///tmp/x 10 0")).is_err());
        assert!(is_scale_command(&argv(
            "--cpu 0 scale-sockets ipc:///tmp/x 10"
        )));
        assert!(!is_scale_command(&argv("thr-push ipc:///tmp/x 1 10")));
    }

    #[test]
    fn scale_lines_carry_the_harness_fields() {
        let args = parse_scale_args(&argv("scale-fanin-push ipc:///tmp/x 10 1001")).unwrap();
        let span = Span {
            msgs: 1000,
            secs: 0.5,
            cpu_s: 0.25,
            switches: 7,
        };
        let r = ScaleReport {
            imp: "zsock",
            args: &args,
            outcome: ScaleOutcome::Served(span),
            rss_kb: Some(10),
        };
        assert_eq!(
            r.to_string(),
            "PEER kind=scale-fanin role=scale-fanin-push impl=zsock n=10 msgs=1000 \
             secs=0.500000 msgs_per_s=2000.0 cpu_s=0.250000 csw=7 rss_kb=10"
        );
        let args = parse_scale_args(&argv("scale-sockets ipc:///tmp/x 10")).unwrap();
        let r = ScaleReport {
            imp: "libzmq",
            args: &args,
            outcome: ScaleOutcome::Sockets(SocketsReport {
                setup_s: 0.001,
                close_s: 0.002,
                threads: 3,
                fds: 20,
                vmsize_kb: 100,
                vmrss_kb: 50,
            }),
            rss_kb: None,
        };
        assert_eq!(
            r.to_string(),
            "RESULT kind=scale-sockets impl=libzmq n=10 setup_s=0.001000 close_s=0.002000 \
             threads=3 fds=20 vmsize_kb=100 vmrss_kb=50"
        );
    }

    #[test]
    fn topics_are_five_bytes_in_order() {
        let t = topics(TOPICS_PUBLISHED);
        assert_eq!(t.len(), 10_000);
        assert_eq!(&t[0], b"t0000");
        assert_eq!(&t[999], b"t0999");
        assert_eq!(&t[9999], b"t9999");
    }

    #[test]
    fn usage_counts_this_process() {
        let a = Usage::now();
        let mut x = 0u64;
        for i in 0..1_000_000u64 {
            x = x.wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(x);
        let s = a.span_to(Usage::now(), 1);
        assert!(s.secs > 0.0 && s.cpu_s >= 0.0);
        assert!(open_fds() > 0);
    }
}
