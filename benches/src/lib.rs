//! Side-by-side benchmark peers: zsock (blocking, and async through zsock-tokio), libzmq,
//! the zeromq crate, OMQ.rs (omq-tokio) and a raw stream socket (AF_UNIX for `ipc://`, TCP
//! for `tcp://`) behind one command line, so `cargo xtask bench` can run them interleaved
//! (method and targets: BENCHMARKS.md, "Method and targets").
//!
//! Every binary `bench-NAME` takes
//! ```text
//! bench-NAME [--cpu N] thr-push ENDPOINT SIZE COUNT   # PUSH binds, sends COUNT messages
//! bench-NAME [--cpu N] thr-pull ENDPOINT SIZE COUNT   # PULL connects (retrying), receives COUNT
//! bench-NAME [--cpu N] lat-rep  ENDPOINT SIZE COUNT   # REP binds, echoes COUNT+1000 messages
//! bench-NAME [--cpu N] lat-req  ENDPOINT SIZE COUNT   # REQ connects, 1000 warm-up + COUNT trips
//! ```
//! and prints, on standard output:
//! ```text
//! RESULT kind=thr impl=NAME size=S count=N secs=T msgs_per_s=X mb_per_s=Y rss_kb=K
//! RESULT kind=lat impl=NAME size=S count=N secs=T lat_us=L rss_kb=K
//! PEER kind=thr|lat role=thr-push|lat-rep impl=NAME size=S count=N rss_kb=K
//! ```
//! `RESULT` comes from the receiving side (thr-pull, lat-req); `PEER` from the binding
//! side, so the peak RSS (`VmHWM`) of both processes is known.
//!
//! Keeping the sender open: thr-push and lat-rep keep their socket open after their last
//! send until their standard input reaches end-of-file (the harness closes the pipe once
//! the receiver has printed its RESULT; in a terminal, type Ctrl-D). Nothing is added to
//! the wire protocol, and no sender can lose the tail of the stream by closing early (the
//! libzmq PUSH trap, libzmq issues #4660 and #1922). Run them with `</dev/null` and they
//! close right after their last send.
//!
//! `--cpu N` pins the process to CPU N with `sched_setaffinity` before any thread starts
//! (the harness uses `taskset -c N` when it exists, this flag otherwise).
//!
//! The async peers (`bench-zsock-tokio`, `bench-zeromq`, `bench-omq`) run on a tokio
//! runtime picked by the environment variable `BENCH_RUNTIME` ([`RUNTIME_VAR`]):
//! `current` (the default) for the current-thread runtime, `multi` for the multi-thread
//! one with tokio's default worker count ([`Flavor`]). Their loop runs under `block_on`,
//! as `#[tokio::main]` runs `main`. The name in their lines says which: `impl=zeromq` on
//! the current-thread runtime (the name of earlier tables), `impl=zeromq-mt` on the
//! multi-thread one. They also run the CPU scenarios ([`cpu`]: `cpu-push`, `cpu-pull`),
//! a receiver's CPU time while idle and at 1,000 messages per second.
//!
//! The inproc modes ([`inproc`]), in `bench-zsock`, `bench-libzmq` and `bench-omq`: one
//! process, both sides its threads (OMQ.rs: its tasks), over `inproc://`:
//! ```text
//! bench-NAME [--cpu N] inproc-thr SIZE COUNT   # PUSH thread sends COUNT, PULL thread receives
//! bench-NAME [--cpu N] inproc-lat SIZE COUNT   # REP thread echoes, REQ: 1000 warm-up + COUNT
//! ```
//! print the same RESULT lines with the process's `cpu_s` and `csw` over the measured span.
//!
//! The CURVE rows (`cargo xtask bench --curve`), in `bench-zsock` and
//! `bench-libzmq-curve` (the system's libzmq through [`syszmq`]; the `zmq` crate's libzmq
//! has no CURVE): the four modes above with the run's keys, 40 characters of Z85 each,
//! after the mode's other arguments or before them:
//! ```text
//! bench-NAME thr-push|lat-rep ENDPOINT SIZE COUNT --curve-server-secret SECRET
//! bench-NAME thr-pull|lat-req ENDPOINT SIZE COUNT --curve-server-public PUBLIC \
//!            --curve-client-public PUBLIC --curve-client-secret SECRET
//! bench-zsock curve-keypair                         # prints PUBLIC SECRET (a fresh pair)
//! ```
//! The binding side is the CURVE server (CURVE_SERVER and its secret key, set before the
//! bind), the connecting side its client (the server's public key, its own key pair, set
//! before the connect). The other binaries have no CURVE and refuse these options. Both
//! CURVE binaries also report their CPU time ([`Measured`]): the measuring side over its
//! measured span, the binding side from its first send (thr-push) or receive (lat-rep) to
//! its last send, so the harness can give CPU time per message of both processes:
//! ```text
//! RESULT kind=thr impl=NAME size=S count=N secs=T msgs_per_s=X mb_per_s=Y cpu_s=C csw=W rss_kb=K
//! PEER kind=thr role=thr-push impl=NAME size=S count=N secs=T cpu_s=C csw=W rss_kb=K
//! ```
//! (bench-zsock prints these fields with or without CURVE.) The `raw`, `zeromq`, `omq`
//! and `zsock-tokio` peers have no CURVE rows: a raw stream and the zeromq crate have no
//! CURVE, and OMQ.rs and zsock-tokio are left out (not trivial to add beside the others'
//! command lines) to keep the rows to zsock beside libzmq, the targets' reference.
//!
//! The scale scenarios ([`scale`]), in `bench-zsock` and `bench-libzmq` only, 64-byte
//! messages:
//! ```text
//! bench-NAME scale-sockets        ENDPOINT N        # N/2 PULL bind ENDPOINT-0.., N/2 PUSH connect
//! bench-NAME scale-fanin-pull     ENDPOINT COUNT    # PULL binds, receives COUNT
//! bench-NAME scale-fanin-push     ENDPOINT N COUNT  # N PUSH connect, COUNT sent round-robin
//! bench-NAME scale-fanout-pub     ENDPOINT          # PUB binds, sends until released
//! bench-NAME scale-fanout-sub     ENDPOINT N SECS   # N SUB (""), counted for SECS once warm
//! bench-NAME scale-topics-pub     ENDPOINT          # PUB binds, cycles t0000..t9999 until released
//! bench-NAME scale-topics-sub     ENDPOINT N SECS   # N SUB to t0000..t0999, counted for SECS
//! bench-NAME scale-router-echo    ENDPOINT          # ROUTER binds, echoes until released
//! bench-NAME scale-router-dealers ENDPOINT N SECS   # N DEALER, one request in flight each
//! ```
//! printing
//! ```text
//! RESULT kind=scale-sockets impl=NAME n=N setup_s=T close_s=T threads=C fds=C vmsize_kb=K vmrss_kb=K rss_kb=K
//! RESULT kind=scale-SCENARIO impl=NAME n=N msgs=M secs=T msgs_per_s=X cpu_s=C csw=W rss_kb=K
//! PEER kind=scale-SCENARIO role=MODE impl=NAME n=N msgs=M secs=T msgs_per_s=X cpu_s=C csw=W rss_kb=K
//! ```
//! scale-sockets does everything in one process: it creates the context, N/2 PULL each
//! bound to its own `ENDPOINT-i`, N/2 PUSH each connected to one of them, sends one
//! message on every PUSH and receives it on every PULL (`setup_s`); then reads `Threads`
//! (the main thread included), `VmSize` and `VmRSS` (/proc/self/status) and counts
//! /proc/self/fd (standard input, output and error included); then closes every
//! socket with the default LINGER and terminates the context (`close_s`).
//!
//! In the two-process scenarios the measuring side prints `RESULT`: the fan-in PULL
//! (`msgs`: COUNT-1 from the first message to the last), the SUBs (messages delivered to
//! all of them in the SECS window) and the DEALERs (`msgs`: round trips in the window).
//! The SUBs and DEALERs first wait until every socket is warm: every SUB received a
//! message matching its last subscription, every DEALER a reply. The other side prints
//! `PEER` over its own busy span: the fan-in PUSH from its first send to its last, the PUB
//! from its first send until released, the ROUTER from its first message to its last
//! (its CPU time until released, so CPU spent idle counts).
//! Both sides report `cpu_s` (user + system CPU of all threads, `getrusage`) and `csw`
//! (voluntary + involuntary context switches) over their span, so the harness can add
//! CPU time per message: `(cpu_s/secs of RESULT + cpu_s/secs of PEER) / msgs_per_s`.
//! The fan-in PUSH, the PUBs and the ROUTER stay open until standard input reaches
//! end-of-file, like thr-push. Every scale process gives up with exit code 3 after
//! [`scale::GUARD`] (60 s) instead of hanging, and raises its soft limit on open
//! descriptors to the hard limit.
//!
//! What this crate deliberately does not do: tune any implementation. Each peer uses its
//! library's default options and ordinary send/receive API, and copies the payload from
//! a user buffer for every send, as an application does: libzmq's `send(&[u8])`
//! (zmq_send) and OMQ.rs's and the zeromq crate's messages built from a slice copy it into
//! a new message; zsock's `send_copy` (zmq_send's semantics) copies it straight into the
//! connection's batch when it can, and into a new message otherwise.

use std::fmt;
use std::io::Read;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod cpu;
pub mod inproc;
pub mod scale;
pub mod syszmq;

use scale::{Span, Usage};

/// Warm-up round trips lat-req makes before timing (and lat-rep echoes on top of COUNT).
pub const WARMUP: u64 = 1000;

/// How long a connecting peer (thr-pull, lat-req) retries before it gives up, where the
/// library leaves retrying to the caller.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// One of the four roles a bench binary plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// PUSH binds ENDPOINT and sends COUNT messages.
    ThrPush,
    /// PULL connects to ENDPOINT, receives COUNT messages and prints RESULT.
    ThrPull,
    /// REP binds ENDPOINT and echoes COUNT + [`WARMUP`] messages.
    LatRep,
    /// REQ connects, makes [`WARMUP`] + COUNT round trips and prints RESULT.
    LatReq,
}

impl Mode {
    fn parse(s: &str) -> Option<Mode> {
        Some(match s {
            "thr-push" => Mode::ThrPush,
            "thr-pull" => Mode::ThrPull,
            "lat-rep" => Mode::LatRep,
            "lat-req" => Mode::LatReq,
            _ => return None,
        })
    }

    /// The mode's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Mode::ThrPush => "thr-push",
            Mode::ThrPull => "thr-pull",
            Mode::LatRep => "lat-rep",
            Mode::LatReq => "lat-req",
        }
    }

    /// `thr` or `lat`.
    pub fn kind(self) -> &'static str {
        match self {
            Mode::ThrPush | Mode::ThrPull => "thr",
            Mode::LatRep | Mode::LatReq => "lat",
        }
    }
}

/// The parsed command line.
#[derive(Debug, Clone)]
pub struct Args {
    /// The role.
    pub mode: Mode,
    /// The endpoint as given (`ipc:///path` or `tcp://127.0.0.1:5555`).
    pub endpoint: String,
    /// Message size in bytes.
    pub size: usize,
    /// COUNT: messages (thr) or timed round trips (lat).
    pub count: u64,
    /// `--cpu N`: the CPU the process was pinned to.
    pub cpu: Option<usize>,
    /// The `--curve-*` keys: this side's CURVE role.
    pub curve: Option<Curve>,
}

impl Args {
    /// Messages the binding side handles: COUNT for thr-push, COUNT + [`WARMUP`] for lat-rep.
    pub fn messages(&self) -> u64 {
        match self.mode {
            Mode::LatRep | Mode::LatReq => self.count + WARMUP,
            Mode::ThrPush | Mode::ThrPull => self.count,
        }
    }
}

const USAGE: &str = "usage: BIN [--cpu N] thr-push|thr-pull|lat-rep|lat-req ENDPOINT SIZE COUNT \
     [--curve-server-secret K | --curve-server-public K --curve-client-public K \
     --curve-client-secret K]";

/// Length of a CURVE key as Z85 text.
pub const Z85_KEY_LEN: usize = 40;

/// The CURVE role of one side of a run, from the `--curve-*` options: keys as Z85 text.
#[derive(Clone, PartialEq, Eq)]
pub enum Curve {
    /// The binding side (thr-push, lat-rep): a CURVE server with this secret key.
    Server {
        /// `--curve-server-secret`.
        secret: String,
    },
    /// The connecting side (thr-pull, lat-req): a client of the server `server_public`.
    Client {
        /// `--curve-server-public`.
        server_public: String,
        /// `--curve-client-public`: this client's public key.
        public: String,
        /// `--curve-client-secret`: this client's secret key.
        secret: String,
    },
}

impl fmt::Debug for Curve {
    // The keys are a run's throwaway ones, but a secret is still not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Curve::Server { .. } => f.debug_struct("Server").finish_non_exhaustive(),
            Curve::Client {
                server_public,
                public,
                ..
            } => f
                .debug_struct("Client")
                .field("server_public", server_public)
                .field("public", public)
                .finish_non_exhaustive(),
        }
    }
}

/// The `--curve-*` option names, in the order of [`Curve::args`]' client line.
const CURVE_FLAGS: [&str; 4] = [
    "--curve-server-secret",
    "--curve-server-public",
    "--curve-client-public",
    "--curve-client-secret",
];

impl Curve {
    /// The command-line options that give this role (what the harness passes).
    pub fn args(&self) -> Vec<String> {
        match self {
            Curve::Server { secret } => vec![CURVE_FLAGS[0].into(), secret.clone()],
            Curve::Client {
                server_public,
                public,
                secret,
            } => vec![
                CURVE_FLAGS[1].into(),
                server_public.clone(),
                CURVE_FLAGS[2].into(),
                public.clone(),
                CURVE_FLAGS[3].into(),
                secret.clone(),
            ],
        }
    }
}

/// Takes the `--curve-*` options out of a command line: the keys given (by flag), and the
/// other arguments in order.
fn take_curve_flags<'a>(args: &[&'a str]) -> Result<([Option<String>; 4], Vec<&'a str>), String> {
    let mut keys: [Option<String>; 4] = Default::default();
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(&a) = it.next() {
        let Some(i) = CURVE_FLAGS.iter().position(|f| *f == a) else {
            rest.push(a);
            continue;
        };
        let v = it.next().ok_or_else(|| format!("{a} needs a key"))?;
        if v.len() != Z85_KEY_LEN {
            return Err(format!(
                "{a}: a key is {Z85_KEY_LEN} characters of Z85, not {}",
                v.len()
            ));
        }
        if keys[i].replace(v.to_string()).is_some() {
            return Err(format!("{a} given twice"));
        }
    }
    Ok((keys, rest))
}

/// The CURVE role `mode` takes from the keys given: none, the server's secret for the
/// binding modes, the three client keys for the connecting ones.
fn curve_role(mode: Mode, keys: [Option<String>; 4]) -> Result<Option<Curve>, String> {
    if keys.iter().all(Option::is_none) {
        return Ok(None);
    }
    let binds = matches!(mode, Mode::ThrPush | Mode::LatRep);
    match keys {
        [Some(secret), None, None, None] if binds => Ok(Some(Curve::Server { secret })),
        [None, Some(server_public), Some(public), Some(secret)] if !binds => {
            Ok(Some(Curve::Client {
                server_public,
                public,
                secret,
            }))
        }
        _ if binds => Err(format!(
            "{} is the CURVE server: give --curve-server-secret only",
            mode.name()
        )),
        _ => Err(format!(
            "{} is a CURVE client: give --curve-server-public, --curve-client-public and \
             --curve-client-secret",
            mode.name()
        )),
    }
}

/// Takes `--cpu N` out of a command line: the CPU, and the other arguments in order.
pub(crate) fn parse_cpu(args: &[String]) -> Result<(Option<usize>, Vec<&str>), String> {
    let mut cpu = None;
    let mut rest = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--cpu" {
            let v = it.next().ok_or("--cpu needs a CPU number")?;
            cpu = Some(
                v.parse()
                    .map_err(|_| format!("--cpu: `{v}` is not a number"))?,
            );
        } else {
            rest.push(a.as_str());
        }
    }
    Ok((cpu, rest))
}

/// Parses `[--cpu N] MODE ENDPOINT SIZE COUNT [--curve-* KEY...]` (without the program
/// name).
pub fn parse_args(args: &[String]) -> Result<Args, String> {
    let (cpu, rest) = parse_cpu(args)?;
    let (keys, rest) = take_curve_flags(&rest)?;
    let [mode, endpoint, size, count] = rest[..] else {
        return Err(USAGE.into());
    };
    let mode = Mode::parse(mode).ok_or_else(|| format!("unknown mode `{mode}`\n{USAGE}"))?;
    let size = size
        .parse()
        .map_err(|_| format!("SIZE `{size}` is not a number"))?;
    let count: u64 = count
        .parse()
        .map_err(|_| format!("COUNT `{count}` is not a number"))?;
    let min = if mode.kind() == "thr" { 2 } else { 1 };
    if count < min {
        return Err(format!("COUNT must be at least {min} for {}", mode.name()));
    }
    Ok(Args {
        mode,
        endpoint: endpoint.to_string(),
        size,
        count,
        cpu,
        curve: curve_role(mode, keys)?,
    })
}

/// The user buffer every send copies from.
pub fn payload(size: usize) -> Vec<u8> {
    (0..size).map(|i| (i % 251) as u8).collect()
}

/// Fails unless a received message has the expected size.
pub fn check_size(got: usize, want: usize) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("received a {got}-byte message, expected {want}"))
    }
}

/// What a role measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    /// thr-pull: seconds from the first to the last message received.
    Thr {
        /// T.
        secs: f64,
    },
    /// lat-req: seconds for the COUNT timed round trips.
    Lat {
        /// T.
        secs: f64,
    },
    /// thr-push and lat-rep: done, nothing measured.
    Served,
}

/// What a role measured, with the process's CPU time over its span where it read it
/// (the CURVE binaries; the others return an [`Outcome`] alone).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measured {
    /// What was measured.
    pub outcome: Outcome,
    /// The span the CPU time was read over: the measuring side's measured span (its
    /// `msgs` are not printed), the binding side's busy one.
    pub span: Option<Span>,
}

impl From<Outcome> for Measured {
    fn from(outcome: Outcome) -> Measured {
        Measured {
            outcome,
            span: None,
        }
    }
}

impl Measured {
    /// thr-pull over `span` (COUNT-1 messages from the first received to the last): T is
    /// the span's.
    pub fn thr(span: Span) -> Measured {
        Measured {
            outcome: Outcome::Thr { secs: span.secs },
            span: Some(span),
        }
    }

    /// lat-req over `span` (its COUNT timed round trips): T is the span's.
    pub fn lat(span: Span) -> Measured {
        Measured {
            outcome: Outcome::Lat { secs: span.secs },
            span: Some(span),
        }
    }

    /// thr-push or lat-rep, busy over `span`.
    pub fn served(span: Span) -> Measured {
        Measured {
            outcome: Outcome::Served,
            span: Some(span),
        }
    }
}

/// Reads this process's CPU time now, for a span [`Meter::stop`] ends.
#[derive(Debug, Clone, Copy)]
pub struct Meter(Usage);

impl Meter {
    /// Starts a span (one `getrusage` and one clock read).
    pub fn start() -> Meter {
        Meter(Usage::now())
    }

    /// Ends the span, in which `msgs` messages (round trips) were handled.
    pub fn stop(self, msgs: u64) -> Span {
        self.0.span_to(Usage::now(), msgs)
    }
}

/// Times thr-pull without a clock read per message: [`ThrClock::start`] on the first
/// message, [`ThrClock::stop`] after the last.
#[derive(Debug, Default)]
pub struct ThrClock {
    first: Option<Instant>,
    last: Option<Instant>,
}

impl ThrClock {
    /// A clock that has seen no message.
    pub fn new() -> ThrClock {
        ThrClock::default()
    }

    /// Marks the first message received.
    pub fn start(&mut self) {
        self.first = Some(Instant::now());
    }

    /// Marks the last message received.
    pub fn stop(&mut self) {
        self.last = Some(Instant::now());
    }

    /// The outcome: T from first to last.
    pub fn outcome(&self) -> Outcome {
        let secs = match (self.first, self.last) {
            (Some(f), Some(l)) => l.duration_since(f).as_secs_f64(),
            _ => 0.0,
        };
        Outcome::Thr { secs }
    }
}

/// Peak resident set size of this process in KiB (`VmHWM` in /proc/self/status).
pub fn peak_rss_kb() -> Option<u64> {
    proc_status("VmHWM")
}

/// A number from /proc/self/status (`Threads`, or a size such as `VmRSS` in KiB).
pub fn proc_status(key: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// Blocks until standard input reaches end-of-file (or fails): the binding side's signal
/// that the receiver is done and the socket may close.
pub fn wait_for_release() {
    let mut sink = [0u8; 256];
    let mut stdin = std::io::stdin().lock();
    loop {
        match stdin.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}

/// Runs `f` on a new thread once standard input reaches end-of-file, for async peers
/// whose runtime must keep running while they wait.
pub fn on_release(f: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        wait_for_release();
        f();
    });
}

/// A flag that becomes true once standard input reaches end-of-file, for senders that
/// keep sending until released.
pub fn release_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let set = flag.clone();
    on_release(move || set.store(true, Ordering::Relaxed));
    flag
}

/// Resolves once standard input reaches end-of-file: [`wait_for_release`] for async peers,
/// which hold their socket open across this `.await` while their runtime keeps running.
pub async fn released() {
    let (tx, rx) = tokio::sync::oneshot::channel();
    on_release(move || {
        let _ = tx.send(());
    });
    let _ = rx.await;
}

/// The RESULT or PEER line for an outcome.
#[derive(Debug, Clone)]
pub struct Report<'a> {
    /// Implementation name.
    pub imp: &'a str,
    /// The command line.
    pub args: &'a Args,
    /// What was measured.
    pub outcome: Outcome,
    /// Peak RSS in KiB, if known.
    pub rss_kb: Option<u64>,
    /// CPU time and context switches over a span ([`Measured::span`]): RESULT adds
    /// `cpu_s` and `csw`, PEER `secs` (the span's) too.
    pub span: Option<Span>,
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Args { size, count, .. } = *self.args;
        let imp = self.imp;
        match self.outcome {
            Outcome::Thr { secs } => {
                let rate = (count - 1) as f64 / secs;
                let mb = rate * size as f64 / 1e6;
                write!(
                    f,
                    "RESULT kind=thr impl={imp} size={size} count={count} secs={secs:.6} \
                     msgs_per_s={rate:.1} mb_per_s={mb:.3}"
                )?;
            }
            Outcome::Lat { secs } => {
                let lat_us = secs * 1e6 / count as f64 / 2.0;
                write!(
                    f,
                    "RESULT kind=lat impl={imp} size={size} count={count} secs={secs:.6} \
                     lat_us={lat_us:.3}"
                )?;
            }
            Outcome::Served => {
                write!(
                    f,
                    "PEER kind={} role={} impl={imp} size={size} count={count}",
                    self.args.mode.kind(),
                    self.args.mode.name()
                )?;
                if let Some(span) = &self.span {
                    write!(f, " secs={:.6}", span.secs)?;
                }
            }
        }
        if let Some(span) = &self.span {
            write!(f, " cpu_s={:.6} csw={}", span.cpu_s, span.switches)?;
        }
        if let Some(kb) = self.rss_kb {
            write!(f, " rss_kb={kb}")?;
        }
        Ok(())
    }
}

/// Pins the calling thread (and so every thread it starts later) to one CPU.
pub fn pin_to_cpu(cpu: usize) -> Result<(), String> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Err(format!("--cpu {cpu}: beyond CPU_SETSIZE"));
    }
    // SAFETY: `set` is a plain bit set, zero-initialised; CPU_SET stays within it because
    // cpu < CPU_SETSIZE (checked above); sched_setaffinity reads `size_of` bytes of it.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set)
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(format!(
            "--cpu {cpu}: sched_setaffinity: {}",
            std::io::Error::last_os_error()
        ))
    }
}

/// The `main` of every bench binary: parses the command line, pins if asked, runs `run`
/// and prints its RESULT or PEER line. Errors go to standard error with exit code 1. The
/// `--curve-*` options are refused (exit code 2): see [`main_with_curve`].
pub fn main_with<O: Into<Measured>>(
    imp: &str,
    run: impl FnOnce(&Args) -> Result<O, String>,
) -> ExitCode {
    main_args(imp, false, run)
}

/// [`main_with`] for a binary whose `run` honours [`Args::curve`] (bench-zsock,
/// bench-libzmq-curve).
pub fn main_with_curve<O: Into<Measured>>(
    imp: &str,
    run: impl FnOnce(&Args) -> Result<O, String>,
) -> ExitCode {
    main_args(imp, true, run)
}

fn main_args<O: Into<Measured>>(
    imp: &str,
    curve: bool,
    run: impl FnOnce(&Args) -> Result<O, String>,
) -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let args =
        match parse_args(&argv) {
            Ok(a) if a.curve.is_some() && !curve => return usage_error(
                imp,
                "no CURVE here: the --curve-* options are for bench-zsock and bench-libzmq-curve",
            ),
            Ok(a) => a,
            Err(e) => return usage_error(imp, &e),
        };
    print_outcome(imp, args.mode.name(), args.cpu, || {
        let Measured { outcome, span } = run(&args)?.into();
        Ok(Report {
            imp,
            args: &args,
            outcome,
            rss_kb: peak_rss_kb(),
            span,
        }
        .to_string())
    })
}

/// A command line that does not parse: the message, exit code 2.
pub(crate) fn usage_error(imp: &str, e: &str) -> ExitCode {
    eprintln!("bench-{imp}: {e}");
    ExitCode::from(2)
}

/// Pins to `cpu` if asked, then prints the line `run` returns (exit code 0) or its error
/// (exit code 1).
pub(crate) fn print_outcome(
    imp: &str,
    mode: &str,
    cpu: Option<usize>,
    run: impl FnOnce() -> Result<String, String>,
) -> ExitCode {
    if let Some(cpu) = cpu {
        if let Err(e) = pin_to_cpu(cpu) {
            eprintln!("bench-{imp}: {e}");
            return ExitCode::FAILURE;
        }
    }
    match run() {
        Ok(line) => {
            println!("{line}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench-{imp} {mode}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The tokio runtime an async peer runs on, chosen by the environment variable
/// [`RUNTIME_VAR`] (`BENCH_RUNTIME=current`, the default, or `multi`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// `new_current_thread`: every task on the calling thread.
    Current,
    /// `new_multi_thread` with tokio's default worker count (one per CPU the process may
    /// run on, so one under `taskset -c 0`).
    Multi,
}

/// The environment variable that picks an async peer's runtime: `current` or `multi`.
pub const RUNTIME_VAR: &str = "BENCH_RUNTIME";

impl Flavor {
    /// The flavour [`RUNTIME_VAR`] asks for (unset or empty: [`Flavor::Current`]).
    pub fn from_env() -> Result<Flavor, String> {
        let v = std::env::var(RUNTIME_VAR).unwrap_or_default();
        Flavor::parse(&v)
    }

    fn parse(v: &str) -> Result<Flavor, String> {
        match v {
            "" | "current" => Ok(Flavor::Current),
            "multi" => Ok(Flavor::Multi),
            other => Err(format!(
                "{RUNTIME_VAR}=`{other}`: expected `current` or `multi`"
            )),
        }
    }

    /// The implementation name in RESULT and PEER lines: `imp` on the current-thread
    /// runtime (the names earlier tables used), `imp-mt` on the multi-thread one.
    pub fn name(self, imp: &str) -> String {
        match self {
            Flavor::Current => imp.to_string(),
            Flavor::Multi => format!("{imp}-mt"),
        }
    }

    /// A new runtime of this flavour, I/O and time drivers enabled.
    pub fn runtime(self) -> Result<tokio::runtime::Runtime, String> {
        let mut b = match self {
            Flavor::Current => tokio::runtime::Builder::new_current_thread(),
            Flavor::Multi => tokio::runtime::Builder::new_multi_thread(),
        };
        b.enable_all()
            .build()
            .map_err(|e| format!("tokio runtime: {e}"))
    }
}

/// [`main_with`] for async peers: runs `run` to completion with `block_on` on a new tokio
/// runtime of the flavour [`RUNTIME_VAR`] asks for, as `#[tokio::main]` does. On the
/// current-thread runtime every task runs on the calling thread; on the multi-thread one
/// the peer's own loop runs on the calling thread and the tasks its library spawns on the
/// workers. The name in the RESULT and PEER lines is [`Flavor::name`]. Failing to build
/// the runtime is an error like any other.
pub fn main_with_tokio(
    imp: &str,
    run: impl AsyncFnOnce(&Args) -> Result<Outcome, String>,
) -> ExitCode {
    let flavor = match Flavor::from_env() {
        Ok(f) => f,
        Err(e) => return usage_error(imp, &e),
    };
    main_with(&flavor.name(imp), |args| {
        flavor.runtime()?.block_on(run(args))
    })
}

/// Retries `f` until it succeeds or [`CONNECT_TIMEOUT`] passes, sleeping 1 ms between
/// tries (for peers whose library does not retry a connect by itself).
pub fn retry_connect<T, E: fmt::Display>(mut f: impl FnMut() -> Result<T, E>) -> Result<T, String> {
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= deadline => {
                return Err(format!(
                    "connect: still failing after {CONNECT_TIMEOUT:?}: {e}"
                ))
            }
            Err(_) => std::thread::sleep(Duration::from_millis(1)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_the_method_command_line_with_an_optional_cpu() {
        let a = parse_args(&argv("--cpu 0 thr-pull ipc:///tmp/x 64 1000")).unwrap();
        assert_eq!(a.mode, Mode::ThrPull);
        assert_eq!(a.endpoint, "ipc:///tmp/x");
        assert_eq!((a.size, a.count, a.cpu), (64, 1000, Some(0)));
        let a = parse_args(&argv("lat-rep ipc:///tmp/x 1 10")).unwrap();
        assert_eq!(a.messages(), 10 + WARMUP);
        assert!(parse_args(&argv("thr-push ipc:///tmp/x 1 1")).is_err());
        assert!(parse_args(&argv("thr-push ipc:///tmp/x 1")).is_err());
        assert!(parse_args(&argv("pub ipc:///tmp/x 1 5")).is_err());
    }

    #[test]
    fn result_lines_follow_the_method_format() {
        let args = parse_args(&argv("thr-pull ipc:///tmp/x 1000 1001")).unwrap();
        let r = Report {
            imp: "zsock",
            args: &args,
            outcome: Outcome::Thr { secs: 0.5 },
            rss_kb: Some(1234),
            span: None,
        };
        assert_eq!(
            r.to_string(),
            "RESULT kind=thr impl=zsock size=1000 count=1001 secs=0.500000 \
             msgs_per_s=2000.0 mb_per_s=2.000 rss_kb=1234"
        );
        let args = parse_args(&argv("lat-req ipc:///tmp/x 1 100")).unwrap();
        let r = Report {
            imp: "raw",
            args: &args,
            outcome: Outcome::Lat { secs: 0.002 },
            rss_kb: None,
            span: None,
        };
        assert_eq!(
            r.to_string(),
            "RESULT kind=lat impl=raw size=1 count=100 secs=0.002000 lat_us=10.000"
        );
    }

    #[test]
    fn curve_keys_give_each_side_its_role() {
        let (s, p, c) = ("S".repeat(40), "P".repeat(40), "C".repeat(40));
        let server = Curve::Server { secret: s.clone() };
        let client = Curve::Client {
            server_public: p.clone(),
            public: c.clone(),
            secret: s.clone(),
        };
        let line = |mode: &str, curve: &Curve| {
            let mut v = argv(&format!("{mode} ipc:///tmp/x 64 1000"));
            v.extend(curve.args());
            parse_args(&v)
        };
        assert_eq!(
            line("thr-push", &server).unwrap().curve,
            Some(server.clone())
        );
        assert_eq!(
            line("lat-req", &client).unwrap().curve,
            Some(client.clone())
        );
        assert!(
            line("thr-pull", &server).is_err(),
            "a client needs the client keys"
        );
        assert!(
            line("lat-rep", &client).is_err(),
            "a server takes its secret only"
        );
        // Before the mode, with --cpu, as the harness may put them.
        let mut v = vec!["--cpu".to_string(), "0".into()];
        v.extend(server.args());
        v.extend(argv("lat-rep ipc:///tmp/x 1 10"));
        let a = parse_args(&v).unwrap();
        assert_eq!((a.cpu, a.curve), (Some(0), Some(server)));
        assert!(parse_args(&argv(
            "thr-push ipc:///tmp/x 1 5 --curve-server-secret short"
        ))
        .is_err());
        assert!(parse_args(&argv("thr-push ipc:///tmp/x 1 5 --curve-server-secret")).is_err());
        assert_eq!(
            parse_args(&argv("thr-push ipc:///tmp/x 1 5"))
                .unwrap()
                .curve,
            None
        );
        assert!(
            !format!("{client:?}").contains(&s),
            "Debug hides the secret"
        );
    }

    #[test]
    fn a_span_adds_cpu_fields_and_the_peer_its_secs() {
        let span = Span {
            msgs: 99,
            secs: 0.25,
            cpu_s: 0.5,
            switches: 7,
        };
        let args = parse_args(&argv("thr-pull ipc:///tmp/x 64 101")).unwrap();
        let m = Measured::thr(span);
        let r = Report {
            imp: "zsock",
            args: &args,
            outcome: m.outcome,
            rss_kb: Some(10),
            span: m.span,
        };
        assert_eq!(
            r.to_string(),
            "RESULT kind=thr impl=zsock size=64 count=101 secs=0.250000 msgs_per_s=400.0 \
             mb_per_s=0.026 cpu_s=0.500000 csw=7 rss_kb=10"
        );
        let args = parse_args(&argv("thr-push ipc:///tmp/x 64 101")).unwrap();
        let m = Measured::served(span);
        let r = Report {
            imp: "zsock",
            args: &args,
            outcome: m.outcome,
            rss_kb: None,
            span: m.span,
        };
        assert_eq!(
            r.to_string(),
            "PEER kind=thr role=thr-push impl=zsock size=64 count=101 secs=0.250000 \
             cpu_s=0.500000 csw=7"
        );
        assert_eq!(Measured::from(Outcome::Served).span, None);
    }

    #[test]
    fn reads_its_own_peak_rss() {
        assert!(peak_rss_kb().is_some_and(|kb| kb > 0));
    }
}
