//! `cargo xtask bench`: the side-by-side benchmark of BENCHMARKS.md ("Method and targets").
//!
//! ```text
//! cargo xtask bench [--quick] [--scale | --async | --inproc | --curve] [--transport ipc|tcp] [--reps N]
//!                   [--secs S]
//!                   [--timeout S] [--impls zsock,libzmq,...] [--tests thr-1,fanin-10,...]
//! ```
//! Builds the `bench-*` binaries of `benches/` in release mode, calibrates COUNT per
//! (implementation, test, size) so the measured window lasts `--secs` (1.5 s), then runs
//! `--reps` (5) interleaved repetitions: every repetition runs every test for every
//! implementation in turn. Each run is two processes on a fresh endpoint: with
//! `--transport ipc` (the default) an `ipc://` path in a new temporary directory, with
//! `--transport tcp` `tcp://127.0.0.1:PORT` on a port the harness found free (the
//! one-pair rows only; the raw peer is then a TCP stream with TCP_NODELAY). The binding
//! side (thr-push, lat-rep) starts first, the connecting side once the socket file
//! exists or the port is listening (the harness reads `/proc/net/tcp`, so it makes no
//! connection of its own). The binding side keeps its socket open
//! until the harness closes its standard input, after the receiver printed RESULT (see
//! `zsock-benches`' docs). Pinned tests run both processes under `taskset -c 0`, or with
//! the binaries' own `--cpu 0` where taskset is missing. A run that fails or outlives
//! `--timeout` (60 s; 20 s with `--quick`) is killed and shown as an error; the harness
//! goes on, and exits non-zero at the end.
//!
//! The table (medians, min-max, ratios of zsock to each other implementation, peak RSS
//! of both processes, the COUNTs) goes to standard output and to
//! `target/bench/results-<UTC date>.md`.
//!
//! `--quick`: one repetition with small fixed COUNTs and no calibration, a smoke check.
//!
//! The scale rows (BENCHMARKS.md's scale targets; `zsock-benches`' docs give the command
//! lines) run zsock and libzmq only, 3 interleaved repetitions (`--reps` sets both), at
//! fixed sizes: many sockets in one process (N = 10, 100, 1000), fan-in (N PUSH to one
//! PULL, N = 1, 10, 100, COUNT 2,000,000), fan-out (one PUB to N SUB, N = 1, 10, 50),
//! topics (the same, each SUB on 1,000 of 10,000 topics) and a ROUTER echoing to N
//! DEALERs (N = 100, 1000), each timed over a 2 s window once every socket is warm. Their
//! table has set-up and close times, threads, descriptors and memory for many sockets;
//! rates, CPU time and context switches per message (both processes) and peak RSS for the
//! rest. `--scale` runs only these rows; the full run and `--quick` (smallest N only,
//! COUNT 500,000, 0.5 s windows) include them.
//!
//! The async rows (`--async`; never part of the default run) put zsock's async API
//! (`bench-zsock-tokio`) beside the async peers, each on tokio's current-thread runtime
//! (`zsock-tokio`, `zeromq`, `omq`) and multi-thread runtime (`zsock-tokio-mt`,
//! `zeromq-mt`, `omq-mt`: the same binaries with `BENCH_RUNTIME=multi`; the harness sets
//! `BENCH_RUNTIME` for every process it starts), with zsock's blocking API as the
//! reference: throughput at 1 B, 64 B, 1 KiB and 64 KiB, latency at 1 B unpinned and on
//! one CPU, interleaved and calibrated like the default rows, and two CPU scenarios on the
//! async implementations only: `idle-cpu` (a PULL waiting in recv on a connected peer that
//! sends nothing for 2 s, then one message) and `rate-cpu` (a PULL receiving 1,000 64-byte
//! messages per second for 3 s, paced by the sender's timer), each giving the receiver's
//! CPU time (all its threads) per second of wall time. Their tables give zsock-tokio's
//! ratios to the best of zeromq and omq on the same runtime and to blocking zsock.
//! `--impls` and `--tests` narrow them (`--tests idle-cpu,rate-cpu` for the CPU rows only);
//! `--quick` runs each once with small COUNTs and 0.5 s CPU scenarios.
//!
//! The inproc rows (`--inproc`; never part of the default run) put zsock beside libzmq and
//! OMQ.rs with both sides in one process over `inproc://`: `bench-NAME inproc-thr SIZE
//! COUNT` (a PUSH thread sends, a PULL thread receives) and `inproc-lat SIZE COUNT` (REP
//! and REQ), one process per run and no endpoint from the harness (`zsock-benches`'
//! `inproc` module). OMQ.rs runs both sides as two tasks on one current-thread runtime;
//! `--impls` may add `omq-mt` (two tasks on the multi-thread runtime). Rows: throughput at
//! 1 B, 64 B, 1 KiB and 64 KiB and latency at 1 B, calibrated and interleaved like the
//! default rows; the table adds the process's CPU time (every thread) and context switches
//! per message (per round trip) over the measured span and its peak RSS, and gives zsock's
//! ratios to libzmq and to OMQ.rs. Ids for `--tests`: `inproc-thr-64`, `inproc-lat-1`, ...
//! `--quick` runs each once with small COUNTs (a few seconds in all).
//!
//! The CURVE rows (`--curve`; never part of the default run; over `--transport ipc` or
//! `tcp`) put zsock with CURVE security (26/CurveZMQ) beside libzmq with CURVE: the
//! one-pair `thr-*`/`lat-*` modes with the binding side a CURVE server and the connecting
//! side its client, keys passed on the command line (`--curve-server-secret` to the
//! binder; `--curve-server-public`, `--curve-client-public`, `--curve-client-secret` to the
//! connecter), one server and one client key pair generated for the whole run by
//! `bench-zsock curve-keypair`; no authenticator on either side. zsock runs `bench-zsock`;
//! libzmq runs `bench-libzmq-curve`, the system's `libzmq.so.5` (Debian's libzmq5, built
//! with libsodium) loaded at run time, since the `zmq` crate's libzmq of the other rows has
//! no CURVE. raw, zeromq and omq have no CURVE rows (OMQ.rs's CURVE is left out). Rows:
//! throughput at 64 B and 1 KiB, latency at 1 B unpinned and on one CPU, calibrated and
//! interleaved like the default rows, each with the CPU time per message (round trip) of
//! both processes, each over its own busy span; the table gives zsock / libzmq beside its
//! target (throughput >= 1.5, latency <= 0.75). Ids for `--tests`: `curve-thr-64`,
//! `curve-lat-1-cpu0`, ... `--quick` runs each once with small COUNTs.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

type Result<T = ()> = std::result::Result<T, String>;

/// How a run that a released peer outlived ends (see the retry in `run`).
const RELEASE_HANG: &str = "did not exit 10 s after release";

/// Every implementation, in table order; zsock first (the ratios are zsock's).
const IMPLS: [&str; 5] = ["zsock", "libzmq", "zeromq", "omq", "raw"];
/// The other ZeroMQ implementations ("best" in the targets means the best of these).
const PEERS: [&str; 3] = ["libzmq", "zeromq", "omq"];
/// The implementations with the scale scenarios.
const SCALE_IMPLS: [&str; 2] = ["zsock", "libzmq"];
/// The async implementations: current-thread runtime under the plain name, multi-thread
/// with `-mt` (the binary is `bench-` + the name without `-mt`). They alone run the CPU
/// scenarios.
const ASYNC_IMPLS: [&str; 6] = [
    "zsock-tokio",
    "zeromq",
    "omq",
    "zsock-tokio-mt",
    "zeromq-mt",
    "omq-mt",
];
/// Every name `--impls` takes.
const KNOWN_IMPLS: [&str; 9] = [
    "zsock",
    "libzmq",
    "zeromq",
    "omq",
    "raw",
    "zsock-tokio",
    "zsock-tokio-mt",
    "zeromq-mt",
    "omq-mt",
];
/// The async peers of zsock-tokio, and of zsock-tokio-mt ("best" of its async rows).
const ASYNC_PEERS: [&str; 2] = ["zeromq", "omq"];
const ASYNC_PEERS_MT: [&str; 2] = ["zeromq-mt", "omq-mt"];
/// The environment variable that picks an async peer's runtime (`zsock-benches`).
const RUNTIME_VAR: &str = "BENCH_RUNTIME";
/// The implementations of the inproc rows (`--inproc`), zsock first; `omq-mt` may be
/// added with `--impls`.
const INPROC_IMPLS: [&str; 3] = ["zsock", "libzmq", "omq"];
/// Throughput sizes of the inproc rows.
const INPROC_THR_SIZES: [usize; 4] = [1, 64, 1024, 65536];
/// The implementations of the CURVE rows (`--curve`), zsock first. libzmq's binary
/// there is `bench-libzmq-curve` ([`bin_name`]).
const CURVE_IMPLS: [&str; 2] = ["zsock", "libzmq"];
/// Throughput sizes of the CURVE rows.
const CURVE_THR_SIZES: [usize; 2] = [64, 1024];
/// The CURVE targets, zsock / libzmq: throughput at least, latency at most.
const CURVE_THR_TARGET: f64 = 1.5;
const CURVE_LAT_TARGET: f64 = 0.75;
/// Throughput sizes of the async rows.
const ASYNC_THR_SIZES: [usize; 4] = [1, 64, 1024, 65536];
const THR_SIZES: [usize; 5] = [1, 64, 1024, 65536, 1048576];
const LAT_SIZES: [usize; 2] = [1, 1024];
/// How often the harness looks at its children (it sleeps in between, off the CPUs the
/// benchmark uses as much as possible).
const POLL: Duration = Duration::from_millis(10);

/// Messages in a fan-in run (`--quick`: [`FANIN_COUNT_QUICK`]).
const FANIN_COUNT: u64 = 2_000_000;
const FANIN_COUNT_QUICK: u64 = 500_000;
/// Measured window of fan-out, topics and ROUTER runs, seconds (`--quick`: the other).
const SCALE_WINDOW: f64 = 2.0;
const SCALE_WINDOW_QUICK: f64 = 0.5;
/// Repetitions of the scale rows unless `--reps` says.
const SCALE_REPS: usize = 3;

/// A scale scenario; its size N is in [`Kind::Scale`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// N/2 PUSH-PULL pairs in one process: set-up, close, threads, descriptors, memory.
    Sockets,
    /// N PUSH to one PULL.
    FanIn,
    /// One PUB to N SUB, all subscribed to everything.
    FanOut,
    /// One PUB cycling over 10,000 topics to N SUB, each on 1,000 of them.
    Topics,
    /// One ROUTER echoing to N DEALER, one request in flight each.
    Router,
    /// The library's ROUTER-DEALER proxy between N REQ clients and N REP workers.
    Proxy,
}

impl Scenario {
    const ALL: [Scenario; 6] = [
        Scenario::Sockets,
        Scenario::FanIn,
        Scenario::FanOut,
        Scenario::Topics,
        Scenario::Router,
        Scenario::Proxy,
    ];

    /// The sizes N of a full run; `--quick` runs the first only.
    fn sizes(self) -> &'static [usize] {
        match self {
            Scenario::Sockets => &[10, 100, 1000],
            Scenario::FanIn => &[1, 10, 100],
            Scenario::FanOut | Scenario::Topics => &[1, 10, 50],
            Scenario::Router => &[100, 1000],
            Scenario::Proxy => &[1, 10],
        }
    }

    /// The test id's stem: `sockets`, `fanin`, ...
    fn id(self) -> &'static str {
        match self {
            Scenario::Sockets => "sockets",
            Scenario::FanIn => "fanin",
            Scenario::FanOut => "fanout",
            Scenario::Topics => "topics",
            Scenario::Router => "router",
            Scenario::Proxy => "proxy",
        }
    }

    fn label(self, n: usize) -> String {
        match self {
            Scenario::Sockets => format!("sockets {n}"),
            Scenario::FanIn => format!("fan-in {n} PUSH"),
            Scenario::FanOut => format!("fan-out {n} SUB"),
            Scenario::Topics => format!("topics {n} SUB"),
            Scenario::Router => format!("ROUTER {n} DEALER"),
            Scenario::Proxy => format!("proxy {n} REQ-REP"),
        }
    }

    /// What the rate counts: messages, or round trips for the ROUTER.
    fn per(self) -> &'static str {
        match self {
            Scenario::Router | Scenario::Proxy => "trip",
            _ => "msg",
        }
    }

    fn roles(self) -> Roles {
        let pair = |binder, connecter| Roles {
            binder: Some(binder),
            connecter,
            binder_measures: false,
        };
        match self {
            Scenario::Sockets => Roles {
                binder: None,
                connecter: "scale-sockets",
                binder_measures: false,
            },
            Scenario::FanIn => Roles {
                binder: Some("scale-fanin-pull"),
                connecter: "scale-fanin-push",
                binder_measures: true,
            },
            Scenario::FanOut => pair("scale-fanout-pub", "scale-fanout-sub"),
            Scenario::Topics => pair("scale-topics-pub", "scale-topics-sub"),
            Scenario::Router => pair("scale-router-echo", "scale-router-dealers"),
            Scenario::Proxy => pair("scale-proxy-broker", "scale-proxy-clients"),
        }
    }
}

/// A CPU scenario of the async rows: what a receiver costs while it waits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CpuScenario {
    /// A connected PULL waiting in recv while its peer sends nothing, then one message.
    Idle,
    /// A PULL receiving [`CPU_RATE`] 64-byte messages per second, paced by a timer.
    Rate,
}

/// Messages per second of [`CpuScenario::Rate`].
const CPU_RATE: u32 = 1000;

impl CpuScenario {
    const ALL: [CpuScenario; 2] = [CpuScenario::Idle, CpuScenario::Rate];

    /// RATE on the command line.
    fn rate(self) -> u32 {
        match self {
            CpuScenario::Idle => 0,
            CpuScenario::Rate => CPU_RATE,
        }
    }

    /// SECS on the command line: ~2 s idle, ~3 s at the rate; 0.5 s with `--quick`.
    fn secs(self, quick: bool) -> f64 {
        match (self, quick) {
            (_, true) => 0.5,
            (CpuScenario::Idle, false) => 2.0,
            (CpuScenario::Rate, false) => 3.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Thr,
    Lat,
    /// A scale scenario at size N (zsock and libzmq only, 64 B messages).
    Scale(Scenario, usize),
    /// A CPU scenario (the async implementations only, 64 B messages).
    Cpu(CpuScenario),
}

/// The processes of one run.
#[derive(Debug, Clone, Copy)]
struct Roles {
    /// The mode that binds and starts first; `None`: the connecter is the only process.
    binder: Option<&'static str>,
    /// The mode started once the binder's socket file exists.
    connecter: &'static str,
    /// The binder prints RESULT (fan-in) and the connecter waits for its release; else
    /// the other way round.
    binder_measures: bool,
}

impl Roles {
    /// The mode `side` runs (a one-process test has only its connecter).
    fn mode(self, side: Side) -> &'static str {
        match side {
            Side::Binder => self.binder.unwrap_or(self.connecter),
            Side::Connecter => self.connecter,
        }
    }
}

/// The binding or the connecting process of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Binder,
    Connecter,
}

impl Side {
    /// Its output files' stem.
    fn file(self) -> &'static str {
        match self {
            Side::Binder => "server",
            Side::Connecter => "client",
        }
    }
}

/// One number a run yields: a table row per test and metric. Every test has
/// [`Metric::Main`], its headline (throughput, latency, scale rate, set-up time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    Main,
    /// Many sockets: closing them all and terminating the context.
    Close,
    /// Many sockets: threads after set-up.
    Threads,
    /// Many sockets: open descriptors after set-up.
    Fds,
    /// Many sockets: VmSize after set-up.
    VmSize,
    /// Many sockets: VmRSS after set-up.
    VmRss,
    /// CPU time per message (round trip), both processes.
    Cpu,
    /// Context switches per 1,000 messages (round trips), both processes.
    Switches,
    /// Peak RSS of both processes, added.
    PeakRss,
    /// CPU scenarios: the receiver's context switches per second.
    SwitchesPerSec,
}

impl Metric {
    /// The rows of the many-sockets scenario.
    const SOCKETS: [Metric; 6] = [
        Metric::Main,
        Metric::Close,
        Metric::Threads,
        Metric::Fds,
        Metric::VmSize,
        Metric::VmRss,
    ];
    /// The rows of the other scale scenarios.
    const RATES: [Metric; 4] = [Metric::Main, Metric::Cpu, Metric::Switches, Metric::PeakRss];
    /// The rows of a CPU scenario.
    const CPU: [Metric; 2] = [Metric::Main, Metric::SwitchesPerSec];
    /// The rows of an inproc test (CPU and switches of the one process, all threads).
    const INPROC: [Metric; 4] = [Metric::Main, Metric::Cpu, Metric::Switches, Metric::PeakRss];
    /// The rows of a CURVE test: the headline and CPU time of both processes.
    const CURVE: [Metric; 2] = [Metric::Main, Metric::Cpu];

    fn label(self, test: Test) -> String {
        let what = match self {
            Metric::Main if test.scenario() == Some(Scenario::Sockets) => "set-up",
            Metric::Main => return test.label(),
            Metric::Close => "close",
            Metric::Threads => "threads",
            Metric::Fds => "fds",
            Metric::VmSize => "VmSize",
            Metric::VmRss => "VmRSS",
            Metric::Cpu => "CPU",
            Metric::Switches => "context switches",
            Metric::PeakRss => "peak RSS",
            Metric::SwitchesPerSec => "context switches",
        };
        format!("{}, {what}", test.label())
    }

    fn unit(self, test: Test) -> String {
        let per = match test.kind {
            Kind::Lat => "trip",
            _ => test.scenario().map_or("msg", Scenario::per),
        };
        match self {
            Metric::Main => test.unit().to_string(),
            Metric::Close => "ms".into(),
            Metric::Threads => "count".into(),
            Metric::Fds => "count".into(),
            Metric::VmSize | Metric::VmRss => "MiB".into(),
            Metric::Cpu => format!("us CPU/{per}"),
            Metric::Switches => format!("per 1k {per}s"),
            Metric::PeakRss if test.inproc => "MiB".into(),
            Metric::PeakRss => "MiB, both".into(),
            Metric::SwitchesPerSec => "per s".into(),
        }
    }

    /// The number shown for a run, in [`Metric::unit`].
    fn value(self, test: Test, r: &RunOk) -> f64 {
        match self {
            Metric::Main => test.value(r),
            Metric::Close => r.close_s * 1e3,
            Metric::Threads => r.threads,
            Metric::Fds => r.fds,
            Metric::VmSize => r.vmsize_kb / 1024.0,
            Metric::VmRss => r.vmrss_kb / 1024.0,
            Metric::Cpu => r.cpu_per_msg_s * 1e6,
            Metric::Switches => r.csw_per_msg * 1e3,
            Metric::PeakRss => (r.server_rss_kb + r.client_rss_kb) as f64 / 1024.0,
            Metric::SwitchesPerSec => r.csw_per_s,
        }
    }

    /// Whether `a` is better than `b`: only rates and throughput are better higher.
    fn better(self, test: Test, a: f64, b: f64) -> bool {
        match self {
            Metric::Main => test.better(a, b),
            _ => a < b,
        }
    }

    /// Counts are shown without decimals where the median is whole.
    fn show(self, v: f64) -> String {
        if matches!(self, Metric::Threads | Metric::Fds) && v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            num(v)
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Test {
    kind: Kind,
    size: usize,
    pinned: bool,
    /// An inproc row: both sides are threads of one process (`inproc-thr`, `inproc-lat`).
    inproc: bool,
    /// A CURVE row: the one-pair modes with CURVE keys, zsock and libzmq only.
    curve: bool,
}

impl Test {
    fn all() -> Vec<Test> {
        let thr = THR_SIZES.iter().map(|&size| Test {
            kind: Kind::Thr,
            size,
            pinned: false,
            inproc: false,
            curve: false,
        });
        let lat = [false, true].into_iter().flat_map(|pinned| {
            LAT_SIZES.iter().map(move |&size| Test {
                kind: Kind::Lat,
                size,
                pinned,
                inproc: false,
                curve: false,
            })
        });
        thr.chain(lat).collect()
    }

    /// The scale rows: every scenario at every size, or at its smallest with `quick`.
    fn scale(quick: bool) -> Vec<Test> {
        Scenario::ALL
            .into_iter()
            .flat_map(|scenario| {
                let sizes = scenario.sizes();
                let sizes = if quick { &sizes[..1] } else { sizes };
                sizes.iter().map(move |&n| Test {
                    kind: Kind::Scale(scenario, n),
                    size: 64,
                    pinned: false,
                    inproc: false,
                    curve: false,
                })
            })
            .collect()
    }

    /// The CPU scenarios: `idle-cpu`, `rate-cpu`.
    fn cpu() -> Vec<Test> {
        CpuScenario::ALL
            .into_iter()
            .map(|c| Test {
                kind: Kind::Cpu(c),
                size: 64,
                pinned: false,
                inproc: false,
                curve: false,
            })
            .collect()
    }

    /// The rows of `--async`: throughput up to 64 KiB, latency at 1 B unpinned and on
    /// one CPU, the CPU scenarios.
    fn async_rows() -> Vec<Test> {
        let thr = ASYNC_THR_SIZES.iter().map(|&size| Test {
            kind: Kind::Thr,
            size,
            pinned: false,
            inproc: false,
            curve: false,
        });
        let lat = [false, true].map(|pinned| Test {
            kind: Kind::Lat,
            size: 1,
            pinned,
            inproc: false,
            curve: false,
        });
        thr.chain(lat).chain(Test::cpu()).collect()
    }

    /// The rows of `--inproc`: throughput at [`INPROC_THR_SIZES`], latency at 1 B, each
    /// run as two threads of one process.
    fn inproc_rows() -> Vec<Test> {
        let thr = INPROC_THR_SIZES.iter().map(|&size| Test {
            kind: Kind::Thr,
            size,
            pinned: false,
            inproc: true,
            curve: false,
        });
        let lat = Test {
            kind: Kind::Lat,
            size: 1,
            pinned: false,
            inproc: true,
            curve: false,
        };
        thr.chain([lat]).collect()
    }

    /// The rows of `--curve`: throughput at [`CURVE_THR_SIZES`], latency at 1 B unpinned
    /// and on one CPU, the one-pair modes with CURVE keys.
    fn curve_rows() -> Vec<Test> {
        let thr = CURVE_THR_SIZES.iter().map(|&size| Test {
            kind: Kind::Thr,
            size,
            pinned: false,
            inproc: false,
            curve: true,
        });
        let lat = [false, true].map(|pinned| Test {
            kind: Kind::Lat,
            size: 1,
            pinned,
            inproc: false,
            curve: true,
        });
        thr.chain(lat).collect()
    }

    /// Every test `--tests` can name.
    fn known() -> Vec<Test> {
        let mut all = Test::all();
        all.extend(Test::scale(false));
        all.extend(Test::cpu());
        all.extend(Test::inproc_rows());
        all.extend(Test::curve_rows());
        all
    }

    /// The target of zsock / libzmq for a CURVE row's `metric`: (at least, value) for
    /// throughput, (at most, value) for latency; none for other rows and metrics.
    fn target(self, metric: Metric) -> Option<Target> {
        if !self.curve || metric != Metric::Main {
            return None;
        }
        match self.kind {
            Kind::Thr => Some(Target {
                at_least: true,
                value: CURVE_THR_TARGET,
            }),
            Kind::Lat => Some(Target {
                at_least: false,
                value: CURVE_LAT_TARGET,
            }),
            Kind::Scale(..) | Kind::Cpu(_) => None,
        }
    }

    fn scenario(self) -> Option<Scenario> {
        match self.kind {
            Kind::Scale(scenario, _) => Some(scenario),
            Kind::Thr | Kind::Lat | Kind::Cpu(_) => None,
        }
    }

    /// A one-pair throughput or latency test between two processes without CURVE
    /// (calibrated, in the main table).
    fn is_pair(self) -> bool {
        self.is_calibrated() && !self.inproc && !self.curve
    }

    /// A throughput or latency test, between processes or inproc: COUNT is calibrated.
    fn is_calibrated(self) -> bool {
        matches!(self.kind, Kind::Thr | Kind::Lat)
    }

    /// Whether `imp` runs this test: scale tests have zsock and libzmq only, CPU
    /// scenarios the async implementations only, inproc rows [`INPROC_IMPLS`] (and
    /// `omq-mt`), CURVE rows [`CURVE_IMPLS`].
    fn runs_on(self, imp: &str) -> bool {
        if self.inproc {
            return INPROC_IMPLS.contains(&imp) || imp == "omq-mt";
        }
        if self.curve {
            return CURVE_IMPLS.contains(&imp);
        }
        match self.kind {
            Kind::Scale(..) => SCALE_IMPLS.contains(&imp),
            Kind::Cpu(_) => ASYNC_IMPLS.contains(&imp),
            Kind::Thr | Kind::Lat => true,
        }
    }

    /// Repetitions of this test.
    fn reps(self, cfg: &Config) -> usize {
        if self.scenario().is_some() {
            cfg.scale_reps
        } else {
            cfg.reps
        }
    }

    /// The table rows of this test.
    fn metrics(self) -> &'static [Metric] {
        if self.inproc {
            return &Metric::INPROC;
        }
        if self.curve {
            return &Metric::CURVE;
        }
        if let Kind::Cpu(_) = self.kind {
            return &Metric::CPU;
        }
        match self.scenario() {
            None => &[Metric::Main],
            Some(Scenario::Sockets) => &Metric::SOCKETS,
            Some(_) => &Metric::RATES,
        }
    }

    /// The name `--tests` takes: `thr-1`, `lat-1024`, `lat-1-cpu0`, `fanin-10`,
    /// `inproc-thr-64`, `curve-lat-1-cpu0`.
    fn id(self) -> String {
        let kind = match self.kind {
            Kind::Thr => "thr",
            Kind::Lat => "lat",
            Kind::Scale(scenario, n) => return format!("{}-{n}", scenario.id()),
            Kind::Cpu(CpuScenario::Idle) => return "idle-cpu".into(),
            Kind::Cpu(CpuScenario::Rate) => return "rate-cpu".into(),
        };
        let cpu = if self.pinned { "-cpu0" } else { "" };
        let family = match (self.inproc, self.curve) {
            (true, _) => "inproc-",
            (_, true) => "curve-",
            _ => "",
        };
        format!("{family}{kind}-{}{cpu}", self.size)
    }

    fn label(self) -> String {
        let size = human_size(self.size);
        if self.inproc {
            let kind = if self.kind == Kind::Lat { "lat" } else { "thr" };
            return format!("inproc {kind} {size}");
        }
        if self.curve {
            let plain = Test {
                curve: false,
                ..self
            };
            return format!("CURVE {}", plain.label());
        }
        match (self.kind, self.pinned) {
            (Kind::Thr, _) => format!("thr {size}"),
            (Kind::Lat, false) => format!("lat {size}, unpinned"),
            (Kind::Lat, true) => format!("lat {size}, one CPU"),
            (Kind::Scale(scenario, n), _) => scenario.label(n),
            (Kind::Cpu(CpuScenario::Idle), _) => "idle PULL, CPU".into(),
            (Kind::Cpu(CpuScenario::Rate), _) => format!("PULL at {CPU_RATE} msg/s {size}, CPU"),
        }
    }

    /// Large messages are reported in GB/s, small ones in messages per second.
    fn in_bytes(self) -> bool {
        self.kind == Kind::Thr && self.size >= 65536
    }

    /// The unit of the headline ([`Metric::Main`]).
    fn unit(self) -> &'static str {
        match self.kind {
            Kind::Thr if self.in_bytes() => "GB/s",
            Kind::Thr => "M msg/s",
            Kind::Lat => "us one-way",
            Kind::Scale(Scenario::Sockets, _) => "ms",
            Kind::Scale(Scenario::Router | Scenario::Proxy, _) => "k trips/s",
            Kind::Scale(..) => "M msg/s",
            Kind::Cpu(_) => "ms CPU/s",
        }
    }

    /// The headline shown for a run, in [`Test::unit`].
    fn value(self, r: &RunOk) -> f64 {
        match self.kind {
            Kind::Thr if self.in_bytes() => r.mb_per_s / 1000.0,
            Kind::Thr => r.msgs_per_s / 1e6,
            Kind::Lat => r.lat_us,
            Kind::Scale(Scenario::Sockets, _) => r.setup_s * 1e3,
            Kind::Scale(Scenario::Router | Scenario::Proxy, _) => r.msgs_per_s / 1e3,
            Kind::Scale(..) => r.msgs_per_s / 1e6,
            Kind::Cpu(_) => r.cpu_ms_per_s,
        }
    }

    /// zsock's ratio to another implementation: > 1 is better for throughput (rates),
    /// < 1 is better for latency (times), as in the design's targets.
    fn better(self, a: f64, b: f64) -> bool {
        match self.kind {
            Kind::Thr => a > b,
            Kind::Lat | Kind::Scale(Scenario::Sockets, _) | Kind::Cpu(_) => a < b,
            Kind::Scale(..) => a > b,
        }
    }

    fn roles(self) -> Roles {
        if self.inproc {
            // One process: both sockets are its threads'.
            return Roles {
                binder: None,
                connecter: if self.kind == Kind::Lat {
                    "inproc-lat"
                } else {
                    "inproc-thr"
                },
                binder_measures: false,
            };
        }
        let (binder, connecter) = match self.kind {
            Kind::Thr => ("thr-push", "thr-pull"),
            Kind::Lat => ("lat-rep", "lat-req"),
            Kind::Cpu(_) => ("cpu-push", "cpu-pull"),
            Kind::Scale(scenario, _) => return scenario.roles(),
        };
        Roles {
            binder: Some(binder),
            connecter,
            binder_measures: false,
        }
    }

    /// The command line of `side` after the binary (and `--cpu`): `count` is COUNT where
    /// the mode takes one, `window` the scale window or the CPU scenario's SECS.
    fn args(self, side: Side, endpoint: &str, count: u64, window: f64) -> Vec<String> {
        if self.inproc {
            // The process names its own inproc:// endpoint.
            let mode = self.roles().mode(side).to_string();
            return vec![mode, self.size.to_string(), count.to_string()];
        }
        let mut args = vec![self.roles().mode(side).to_string(), endpoint.to_string()];
        let rest = match (self.kind, side) {
            (Kind::Thr | Kind::Lat, _) => vec![self.size.to_string(), count.to_string()],
            (Kind::Cpu(c), _) => vec![c.rate().to_string(), window.to_string()],
            (Kind::Scale(Scenario::Sockets, n), _) => vec![n.to_string()],
            (Kind::Scale(Scenario::FanIn, _), Side::Binder) => vec![count.to_string()],
            (Kind::Scale(Scenario::FanIn, n), Side::Connecter) => {
                vec![n.to_string(), count.to_string()]
            }
            (Kind::Scale(..), Side::Binder) => vec![],
            (Kind::Scale(_, n), Side::Connecter) => vec![n.to_string(), window.to_string()],
        };
        args.extend(rest);
        args
    }

    /// The first COUNT tried when calibrating (and the whole COUNT with `--quick`); scale
    /// tests are not calibrated: fan-in's fixed COUNT, 0 for those that take none.
    fn small_count(self, quick: bool) -> u64 {
        match self.kind {
            Kind::Lat if quick => 200,
            Kind::Lat => 2000,
            Kind::Thr => {
                let bytes = if quick { 4 << 20 } else { 64 << 20 };
                let max = if quick { 20_000 } else { 100_000 };
                (bytes / self.size as u64).clamp(20, max)
            }
            Kind::Scale(Scenario::FanIn, _) if quick => FANIN_COUNT_QUICK,
            Kind::Scale(Scenario::FanIn, _) => FANIN_COUNT,
            Kind::Scale(..) | Kind::Cpu(_) => 0,
        }
    }
}

/// A target for a ratio: at least or at most `value`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Target {
    at_least: bool,
    value: f64,
}

impl Target {
    fn met(self, ratio: f64) -> bool {
        if self.at_least {
            ratio >= self.value
        } else {
            ratio <= self.value
        }
    }

    /// The table cell: the target, and whether `ratio` meets it.
    fn cell(self, ratio: Option<f64>) -> String {
        let cmp = if self.at_least { ">=" } else { "<=" };
        let goal = format!("{cmp} {:.2}", self.value);
        match ratio {
            Some(r) if self.met(r) => format!("{goal} met"),
            Some(_) => format!("{goal} **not met**"),
            None => goal,
        }
    }
}

fn human_size(size: usize) -> String {
    match size {
        s if s >= 1 << 20 && s % (1 << 20) == 0 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 && s % (1 << 10) == 0 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

/// The transport the one-pair rows run over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Ipc,
    Tcp,
}

#[derive(Debug, Clone)]
struct Config {
    quick: bool,
    /// `--async`: the async rows instead of the default ones.
    async_rows: bool,
    /// `--inproc`: the inproc rows instead of the default ones.
    inproc_rows: bool,
    /// `--curve`: the CURVE rows instead of the default ones.
    curve_rows: bool,
    transport: Transport,
    reps: usize,
    /// Repetitions of the scale tests.
    scale_reps: usize,
    target_secs: f64,
    timeout: Duration,
    impls: Vec<&'static str>,
    tests: Vec<Test>,
}

impl Config {
    /// The scale window in seconds.
    fn window(&self) -> f64 {
        if self.quick {
            SCALE_WINDOW_QUICK
        } else {
            SCALE_WINDOW
        }
    }
}

fn parse(args: &[String]) -> Result<Config> {
    let mut cfg = Config {
        quick: false,
        async_rows: false,
        inproc_rows: false,
        curve_rows: false,
        transport: Transport::Ipc,
        reps: 5,
        scale_reps: SCALE_REPS,
        target_secs: 1.5,
        timeout: Duration::ZERO,
        impls: IMPLS.to_vec(),
        tests: Vec::new(),
    };
    let mut reps = None;
    let mut timeout = None;
    let mut tests = None;
    let mut impls = None;
    let mut scale_only = false;
    let mut it = args.iter();
    let number = |flag: &str, v: Option<&String>| -> Result<f64> {
        v.and_then(|v| v.parse::<f64>().ok())
            .filter(|v| *v > 0.0)
            .ok_or_else(|| format!("{flag} takes a positive number"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => cfg.quick = true,
            "--scale" => scale_only = true,
            "--async" => cfg.async_rows = true,
            "--inproc" => cfg.inproc_rows = true,
            "--curve" => cfg.curve_rows = true,
            "--transport" => {
                cfg.transport = match it.next().map(String::as_str) {
                    Some("ipc") => Transport::Ipc,
                    Some("tcp") => Transport::Tcp,
                    _ => return Err("--transport takes ipc or tcp".into()),
                }
            }
            "--reps" => reps = Some(number("--reps", it.next())? as usize),
            "--secs" => cfg.target_secs = number("--secs", it.next())?,
            "--timeout" => timeout = Some(number("--timeout", it.next())?),
            "--impls" => {
                let list = it.next().ok_or("--impls takes a list: zsock,libzmq,...")?;
                impls = Some(
                    list.split(',')
                        .map(|n| {
                            KNOWN_IMPLS
                                .iter()
                                .find(|i| **i == n)
                                .copied()
                                .ok_or_else(|| {
                                    format!("unknown implementation {n}; known: {KNOWN_IMPLS:?}")
                                })
                        })
                        .collect::<Result<Vec<_>>>()?,
                );
            }
            "--tests" => {
                let list = it
                    .next()
                    .ok_or("--tests takes a list: thr-1,lat-1-cpu0,fanin-10,idle-cpu,...")?;
                let all = Test::known();
                tests = Some(
                    list.split(',')
                        .map(|n| {
                            all.iter().find(|t| t.id() == n).copied().ok_or_else(|| {
                                let ids: Vec<String> = all.iter().map(|t| t.id()).collect();
                                format!("unknown test {n}; known: {}", ids.join(","))
                            })
                        })
                        .collect::<Result<_>>()?,
                );
            }
            other => {
                return Err(format!(
                    "bench: unknown argument {other}\nusage: cargo xtask bench [--quick] \
                     [--scale | --async | --inproc | --curve] [--transport ipc|tcp] [--reps N] \
                     [--secs S] \
                     [--timeout S] [--impls a,b] [--tests t1,t2]"
                ))
            }
        }
    }
    let tcp = cfg.transport == Transport::Tcp;
    if tcp && scale_only {
        return Err("the scale rows run over ipc only; drop --transport tcp or --scale".into());
    }
    if [scale_only, cfg.async_rows, cfg.inproc_rows, cfg.curve_rows]
        .iter()
        .filter(|on| **on)
        .count()
        > 1
    {
        return Err(
            "--scale, --async, --inproc and --curve select different rows; give one".into(),
        );
    }
    // Tests named for the CPU scenarios (or the inproc or CURVE rows) alone need their
    // implementations too.
    let only = |keep: fn(&Test) -> bool| {
        tests
            .as_ref()
            .is_some_and(|t: &Vec<Test>| t.iter().all(keep))
    };
    let cpu_only = only(|t| matches!(t.kind, Kind::Cpu(_)));
    let inproc_only = only(|t| t.inproc);
    let curve_only = only(|t| t.curve);
    cfg.impls = impls.unwrap_or_else(|| {
        if cfg.async_rows || cpu_only {
            ["zsock"].into_iter().chain(ASYNC_IMPLS).collect()
        } else if cfg.inproc_rows || inproc_only {
            INPROC_IMPLS.to_vec()
        } else if cfg.curve_rows || curve_only {
            CURVE_IMPLS.to_vec()
        } else {
            IMPLS.to_vec()
        }
    });
    cfg.tests = tests.unwrap_or_else(|| {
        if cfg.async_rows {
            return Test::async_rows();
        }
        if cfg.inproc_rows {
            return Test::inproc_rows();
        }
        if cfg.curve_rows {
            return Test::curve_rows();
        }
        let scale = if tcp {
            Vec::new()
        } else {
            Test::scale(cfg.quick)
        };
        if scale_only {
            scale
        } else {
            Test::all().into_iter().chain(scale).collect()
        }
    });
    if tcp {
        if let Some(t) = cfg.tests.iter().find(|t| t.scenario().is_some()) {
            return Err(format!("{} runs over ipc only", t.id()));
        }
        if let Some(t) = cfg.tests.iter().find(|t| t.inproc) {
            return Err(format!(
                "{} runs over inproc:// only; drop --transport tcp",
                t.id()
            ));
        }
    }
    if let Some(t) = cfg
        .tests
        .iter()
        .find(|t| !cfg.impls.iter().any(|i| t.runs_on(i)))
    {
        let hint = match t.kind {
            Kind::Cpu(_) => format!(
                "; the CPU scenarios run on {} (add --async, or name them in --impls)",
                ASYNC_IMPLS.join(",")
            ),
            _ => String::new(),
        };
        return Err(format!(
            "{} runs on none of the implementations selected ({}){hint}",
            t.id(),
            cfg.impls.join(","),
        ));
    }
    cfg.reps = reps.unwrap_or(if cfg.quick { 1 } else { 5 }).max(1);
    cfg.scale_reps = reps
        .unwrap_or(if cfg.quick { 1 } else { SCALE_REPS })
        .max(1);
    // A quick run's cells take well under a second each: a hang need not cost a minute.
    cfg.timeout = Duration::from_secs_f64(timeout.unwrap_or(if cfg.quick { 20.0 } else { 60.0 }));
    Ok(cfg)
}

/// What one successful run measured (0 where a test does not measure it).
#[derive(Debug, Clone, Default)]
struct RunOk {
    secs: f64,
    msgs_per_s: f64,
    mb_per_s: f64,
    lat_us: f64,
    client_rss_kb: u64,
    server_rss_kb: u64,
    setup_s: f64,
    close_s: f64,
    threads: f64,
    fds: f64,
    vmsize_kb: f64,
    vmrss_kb: f64,
    /// CPU seconds per message of both processes: each one's CPU time over its span
    /// divided by the span, added, divided by RESULT's rate.
    cpu_per_msg_s: f64,
    /// Context switches per message of both processes, added the same way.
    csw_per_msg: f64,
    /// CPU scenarios: the receiver's CPU milliseconds per second of its span.
    cpu_ms_per_s: f64,
    /// CPU scenarios: the receiver's context switches per second of its span.
    csw_per_s: f64,
}

impl RunOk {
    /// From the measuring side's RESULT fields and the other side's PEER fields.
    fn new(result: &Fields, peer: &Fields, binder_measures: bool) -> RunOk {
        let (server, client) = if binder_measures {
            (result, peer)
        } else {
            (peer, result)
        };
        // Per message; per round trip for a latency run (which prints no rate).
        let rate = match field(result, "msgs_per_s") {
            r if r > 0.0 => r,
            _ if field(result, "lat_us") > 0.0 && field(result, "secs") > 0.0 => {
                field(result, "count") / field(result, "secs")
            }
            _ => 0.0,
        };
        let per_msg = |key: &str| {
            let per_sec = |m: &Fields| {
                let secs = field(m, "secs");
                if secs > 0.0 {
                    field(m, key) / secs
                } else {
                    0.0
                }
            };
            if rate > 0.0 {
                (per_sec(result) + per_sec(peer)) / rate
            } else {
                0.0
            }
        };
        RunOk {
            secs: field(result, "secs"),
            msgs_per_s: field(result, "msgs_per_s"),
            mb_per_s: field(result, "mb_per_s"),
            lat_us: field(result, "lat_us"),
            client_rss_kb: field(client, "rss_kb") as u64,
            server_rss_kb: field(server, "rss_kb") as u64,
            setup_s: field(result, "setup_s"),
            close_s: field(result, "close_s"),
            threads: field(result, "threads"),
            fds: field(result, "fds"),
            vmsize_kb: field(result, "vmsize_kb"),
            vmrss_kb: field(result, "vmrss_kb"),
            cpu_per_msg_s: per_msg("cpu_s"),
            csw_per_msg: per_msg("csw"),
            cpu_ms_per_s: field(result, "cpu_ms_per_s"),
            csw_per_s: {
                let secs = field(result, "secs");
                if secs > 0.0 {
                    field(result, "csw") / secs
                } else {
                    0.0
                }
            },
        }
    }
}

/// The `key=value` pairs of a RESULT or PEER line.
type Fields = BTreeMap<String, String>;

/// Where the bench binaries are and how to pin.
struct Runner {
    bin_dir: PathBuf,
    transport: Transport,
    taskset: bool,
    timeout: Duration,
    /// The scale window in seconds.
    window: f64,
    /// `--quick` (shorter CPU scenarios).
    quick: bool,
    /// The run's CURVE keys, if a CURVE row runs.
    curve: Option<CurveKeys>,
    seq: u32,
}

/// The CURVE keys of a whole `cargo xtask bench` run (Z85), from `bench-zsock
/// curve-keypair`.
#[derive(Clone, PartialEq, Eq)]
struct CurveKeys {
    server_public: String,
    server_secret: String,
    client_public: String,
    client_secret: String,
}

impl CurveKeys {
    /// Two fresh key pairs, one for the server and one for the client.
    fn generate(bin_dir: &Path) -> Result<CurveKeys> {
        let pair = || -> Result<(String, String)> {
            let bin = bin_dir.join("bench-zsock");
            let out = Command::new(&bin)
                .arg("curve-keypair")
                .stderr(Stdio::inherit())
                .output()
                .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
            if !out.status.success() {
                return Err(format!("bench-zsock curve-keypair: {}", out.status));
            }
            parse_keypair(&String::from_utf8_lossy(&out.stdout))
        };
        let (server_public, server_secret) = pair()?;
        let (client_public, client_secret) = pair()?;
        Ok(CurveKeys {
            server_public,
            server_secret,
            client_public,
            client_secret,
        })
    }

    /// The options `side` takes (`zsock-benches`' docs): the server's secret key for the
    /// binder, the server's public key and the client's pair for the connecter.
    fn args(&self, side: Side) -> Vec<String> {
        let pairs: &[(&str, &str)] = match side {
            Side::Binder => &[("--curve-server-secret", &self.server_secret)],
            Side::Connecter => &[
                ("--curve-server-public", &self.server_public),
                ("--curve-client-public", &self.client_public),
                ("--curve-client-secret", &self.client_secret),
            ],
        };
        pairs
            .iter()
            .flat_map(|(flag, key)| [flag.to_string(), key.to_string()])
            .collect()
    }
}

/// `PUBLIC SECRET`, 40 characters of Z85 each.
fn parse_keypair(line: &str) -> Result<(String, String)> {
    let mut words = line.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(public), Some(secret), None) if public.len() == 40 && secret.len() == 40 => {
            Ok((public.to_string(), secret.to_string()))
        }
        _ => Err(format!(
            "bench-zsock curve-keypair printed `{}`, not PUBLIC SECRET",
            line.trim()
        )),
    }
}

/// One bench process of a run.
struct Proc {
    child: Child,
    mode: &'static str,
    out: PathBuf,
    err: PathBuf,
}

impl Proc {
    /// A failure message with the last line of the process's standard error.
    fn failed(&self, what: &str, status: ExitStatus) -> String {
        format!("{} {what} ({status}): {}", self.mode, last_line(&self.err))
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask has a parent directory")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_relative() { root().join(p) } else { p })
        .unwrap_or_else(|| root().join("target"))
}

fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
}

/// A loopback TCP port nothing listens on now (the kernel's pick for an ephemeral bind,
/// released at once; the binder of the run takes it next).
fn free_port() -> Result<u16> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free TCP port: {e}"))
}

/// Whether a socket listens on 127.0.0.1:`port` (or on any address), from
/// `/proc/net/tcp`: rows of `sl local_address rem_address st ...`, the address as
/// `HEXADDR:HEXPORT`, state 0A for LISTEN.
fn listening(port: u16) -> bool {
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    listening_in(&table, port)
}

fn listening_in(table: &str, port: u16) -> bool {
    let wanted = [
        format!("0100007F:{port:04X}"),
        format!("00000000:{port:04X}"),
    ];
    table.lines().skip(1).any(|row| {
        let mut cols = row.split_whitespace();
        let (Some(local), Some(_remote), Some(state)) = (cols.nth(1), cols.next(), cols.next())
        else {
            return false;
        };
        state == "0A" && wanted.iter().any(|w| w == local)
    })
}

/// Kills a child that is still running and reaps it.
fn stop(child: &mut Child) {
    if matches!(child.try_wait(), Ok(None)) {
        let _ = child.kill();
    }
    let _ = child.wait();
}

/// The last non-empty line of a file (a failed peer's message).
fn last_line(path: &Path) -> String {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .rev()
                .find(|l| !l.trim().is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "(no output)".into())
}

/// `key=value` pairs of the first line starting with `tag ` in a file.
fn tagged_line(path: &Path, tag: &str) -> Option<Fields> {
    let text = std::fs::read_to_string(path).ok()?;
    let line = text.lines().find(|l| l.starts_with(tag))?;
    Some(
        line.split_whitespace()
            .skip(1)
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    )
}

fn field(map: &Fields, key: &str) -> f64 {
    map.get(key).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

/// The binary an implementation runs (`bench-` + this) and its `BENCH_RUNTIME`: an
/// `-mt` name is its binary on the multi-thread runtime.
fn binary(imp: &str) -> (&str, &'static str) {
    match imp.strip_suffix("-mt") {
        Some(name) => (name, "multi"),
        None => (imp, "current"),
    }
}

/// The file name of the binary `imp` runs `test` with: `bench-` + [`binary`]'s name, but
/// libzmq's CURVE rows run `bench-libzmq-curve` (the system's libzmq, which has CURVE).
fn bin_name(imp: &str, test: Test) -> String {
    match binary(imp).0 {
        "libzmq" if test.curve => "bench-libzmq-curve".into(),
        name => format!("bench-{name}"),
    }
}

impl Runner {
    fn command(&self, imp: &str, test: Test, args: &[String]) -> Command {
        let (_, runtime) = binary(imp);
        let bin = self.bin_dir.join(bin_name(imp, test));
        let mut cmd = if test.pinned && self.taskset {
            let mut c = Command::new("taskset");
            c.args(["-c", "0"]).arg(bin);
            c
        } else {
            Command::new(bin)
        };
        if test.pinned && !self.taskset {
            cmd.args(["--cpu", "0"]);
        }
        // Set for every process, so that none inherits a stray one from the caller.
        cmd.args(args).env(RUNTIME_VAR, runtime);
        cmd
    }

    /// One run: the test's processes on a fresh endpoint.
    fn run(&mut self, imp: &str, test: Test, count: u64) -> Result<RunOk> {
        self.seq += 1;
        let dir =
            std::env::temp_dir().join(format!("zsock-bench-{}-{}", std::process::id(), self.seq));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let result = self.run_in(&dir, imp, test, count);
        let _ = std::fs::remove_dir_all(&dir);
        result
    }

    /// Starts `side`'s process of a run, its output in `dir`; the helper (the side that
    /// does not measure) gets a standard input to be released by.
    fn spawn(
        &self,
        dir: &Path,
        imp: &str,
        test: Test,
        side: Side,
        endpoint: &str,
        count: u64,
    ) -> Result<Proc> {
        let roles = test.roles();
        let mode = roles.mode(side);
        let measures = roles.binder_measures == (side == Side::Binder);
        let out = dir.join(format!("{}.out", side.file()));
        let err = dir.join(format!("{}.err", side.file()));
        let file = |path: &Path| -> Result<File> {
            File::create(path).map_err(|e| format!("{}: {e}", path.display()))
        };
        let window = match test.kind {
            Kind::Cpu(c) => c.secs(self.quick),
            _ => self.window,
        };
        let mut args = test.args(side, endpoint, count, window);
        if test.curve {
            let keys = self.curve.as_ref().ok_or("no CURVE keys for a CURVE row")?;
            args.extend(keys.args(side));
        }
        let child = self
            .command(imp, test, &args)
            .stdin(if measures {
                Stdio::null()
            } else {
                Stdio::piped()
            })
            .stdout(file(&out)?)
            .stderr(file(&err)?)
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin_name(imp, test)))?;
        Ok(Proc {
            child,
            mode,
            out,
            err,
        })
    }

    fn run_in(&self, dir: &Path, imp: &str, test: Test, count: u64) -> Result<RunOk> {
        let socket = dir.join("ep");
        let (endpoint, port) = match self.transport {
            Transport::Ipc => (format!("ipc://{}", socket.display()), None),
            Transport::Tcp => {
                let port = free_port()?;
                (format!("tcp://127.0.0.1:{port}"), Some(port))
            }
        };
        let bound = || match port {
            None => socket.exists(),
            Some(port) => listening(port),
        };
        let roles = test.roles();
        let deadline = Instant::now() + self.timeout;
        let mut binder = match roles.binder {
            Some(_) => Some(self.spawn(dir, imp, test, Side::Binder, &endpoint, count)?),
            None => None,
        };
        if let Some(server) = &mut binder {
            // Start the connecting side once the socket file exists (or the port
            // listens), so no implementation pays its reconnect interval.
            while !bound() {
                if let Ok(Some(status)) = server.child.try_wait() {
                    return Err(server.failed("exited early", status));
                }
                if Instant::now() >= deadline {
                    stop(&mut server.child);
                    return Err(format!(
                        "{} did not bind within {:?}",
                        server.mode, self.timeout
                    ));
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let connecter = match self.spawn(dir, imp, test, Side::Connecter, &endpoint, count) {
            Ok(c) => c,
            Err(e) => {
                if let Some(server) = &mut binder {
                    stop(&mut server.child);
                }
                return Err(e);
            }
        };
        let (mut measurer, mut helper) = match binder {
            Some(server) if roles.binder_measures => (server, Some(connecter)),
            binder => (connecter, binder),
        };
        let measured = loop {
            if let Ok(Some(status)) = measurer.child.try_wait() {
                break status;
            }
            if let Some(h) = &mut helper {
                if let Ok(Some(status)) = h.child.try_wait() {
                    if !status.success() {
                        stop(&mut measurer.child);
                        return Err(h.failed("exited early", status));
                    }
                }
            }
            if Instant::now() >= deadline {
                stop(&mut measurer.child);
                if let Some(h) = &mut helper {
                    stop(&mut h.child);
                }
                return Err(format!("timeout after {:?}", self.timeout));
            }
            std::thread::sleep(POLL);
        };
        // The measuring side is done: let the other one close.
        let released = helper.as_mut().map(|h| {
            drop(h.child.stdin.take());
            let grace = Instant::now() + Duration::from_secs(10);
            loop {
                if let Ok(Some(status)) = h.child.try_wait() {
                    break Some(status);
                }
                if Instant::now() >= grace {
                    stop(&mut h.child);
                    break None;
                }
                std::thread::sleep(POLL);
            }
        });
        if !measured.success() {
            return Err(measurer.failed("failed", measured));
        }
        let result = tagged_line(&measurer.out, "RESULT ")
            .ok_or_else(|| format!("{} printed no RESULT line", measurer.mode))?;
        let peer = match (&helper, released) {
            (None, _) => Fields::new(),
            (Some(h), Some(None)) => return Err(format!("{} {RELEASE_HANG}", h.mode)),
            (Some(h), Some(Some(status))) if !status.success() => {
                return Err(h.failed("exited early", status))
            }
            (Some(h), _) => tagged_line(&h.out, "PEER ").unwrap_or_default(),
        };
        Ok(RunOk::new(&result, &peer, roles.binder_measures))
    }

    /// COUNT so the measured window lasts about `target` seconds.
    fn calibrate(&mut self, imp: &str, test: Test, target: f64) -> Result<u64> {
        let mut count = test.small_count(false);
        for _ in 0..5 {
            let r = self.run(imp, test, count)?;
            if r.secs >= 0.25 {
                return Ok(((count as f64 * target / r.secs) as u64).max(2));
            }
            // Too short to scale from: grow towards ~0.5 s and measure again.
            let factor = if r.secs > 0.0 { 0.5 / r.secs } else { 100.0 };
            count = (count as f64 * factor.clamp(2.0, 100.0)) as u64;
        }
        Ok(count)
    }
}

/// Results of every run, by (test index, implementation).
type Cells = BTreeMap<(usize, &'static str), Vec<Result<RunOk>>>;

fn stats(values: &mut [f64]) -> Option<(f64, f64, f64)> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    Some((median, values[0], values[n - 1]))
}

/// Three significant digits or so.
fn num(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else if v >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown kernel".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} CPUs, {cpu}, Linux {kernel}")
}

fn git_rev() -> String {
    Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(root())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// UTC date and time from the system clock: (`2026-05-01 12:34:56`, `20260501-123456`).
fn utc_now() -> (String, String) {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = ((secs / 86400) as i64, secs % 86400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    let (hh, mm, ss) = (rem / 3600, rem / 60 % 60, rem % 60);
    (
        format!("{y:04}-{m:02}-{d:02} {hh:02}:{mm:02}:{ss:02} UTC"),
        format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}"),
    )
}

struct Report<'a> {
    cfg: &'a Config,
    cells: &'a Cells,
    counts: &'a BTreeMap<(usize, &'static str), Result<u64>>,
    pinning: &'a str,
    started: String,
    wall: Duration,
}

impl Report<'_> {
    fn render(&self) -> String {
        let cfg = self.cfg;
        let mut out = String::new();
        let mode = if cfg.quick {
            "quick smoke run (small fixed COUNTs, not a measurement)".to_string()
        } else {
            format!(
                "{} interleaved repetitions, COUNT calibrated to ~{} s per run",
                cfg.reps, cfg.target_secs
            )
        };
        let _ = writeln!(out, "# zsock side-by-side benchmark, {}\n", self.started);
        let _ = writeln!(out, "- machine: {}", machine());
        let _ = writeln!(out, "- source: {}", git_rev());
        let inproc_only = cfg.tests.iter().all(|t| t.inproc);
        let curve_only = cfg.tests.iter().all(|t| t.curve);
        let raw = cfg.impls.contains(&"raw") && !curve_only;
        let _ = writeln!(
            out,
            "- transport: {}",
            match cfg.transport {
                _ if inproc_only => "inproc:// (both sides in one process, one context)",
                Transport::Ipc if raw => "ipc:// (raw = AF_UNIX stream)",
                Transport::Ipc => "ipc://",
                Transport::Tcp if raw =>
                    "tcp:// over 127.0.0.1 (raw = TCP stream with TCP_NODELAY)",
                Transport::Tcp => "tcp:// over 127.0.0.1",
            }
        );
        let pinning = if cfg.tests.iter().any(|t| t.pinned) {
            format!("; one CPU = both processes {}", self.pinning)
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "- {mode}; {:.0} s in all{pinning}",
            self.wall.as_secs_f64(),
        );
        if has_async_ratios(&cfg.impls) {
            let _ = writeln!(
                out,
                "- async rows: zsock-tokio (zsock's async API) and the async peers on tokio's \
                 current-thread runtime (plain names) and multi-thread runtime (`-mt`, default \
                 worker count), each peer's loop under `block_on` as `#[tokio::main]` runs \
                 `main`; zsock is the blocking API.\n\
                 - cells: median (min-max). Ratios of medians: zsock-tokio / the best of {} \
                 (`-mt`: of {}) on the same runtime, and zsock-tokio / zsock (blocking); \
                 throughput > 1 and latency or CPU < 1 mean zsock-tokio is ahead. Compare \
                 ratios within this run only.\n",
                ASYNC_PEERS.join(", "),
                ASYNC_PEERS_MT.join(", ")
            );
        } else if inproc_only || curve_only {
            let _ = writeln!(
                out,
                "- cells: median (min-max). Ratios of medians, zsock / other: throughput > 1 and \
                 latency or CPU < 1 mean zsock is ahead. Compare ratios within this run only.\n"
            );
        } else {
            let _ = writeln!(
                out,
                "- cells: median (min-max). Ratios of medians, zsock / other: throughput > 1 and \
                 latency < 1 mean zsock is ahead; \"best\" is the best of {}. Compare ratios \
                 within this run only.\n",
                PEERS.join(", ")
            );
        }
        let pair: Vec<usize> = self.tests_where(Test::is_pair);
        let scale: Vec<usize> = self.tests_where(|t| t.scenario().is_some());
        let cpu: Vec<usize> = self.tests_where(|t| matches!(t.kind, Kind::Cpu(_)));
        let inproc: Vec<usize> = self.tests_where(|t| t.inproc);
        let curve: Vec<usize> = self.tests_where(|t| t.curve);
        if !pair.is_empty() {
            self.pair_tables(&mut out, &pair);
        }
        if !curve.is_empty() {
            self.curve_table(&mut out, &curve);
        }
        if !inproc.is_empty() {
            self.inproc_table(&mut out, &inproc);
        }
        if !scale.is_empty() {
            self.scale_table(&mut out, &scale);
        }
        if !cpu.is_empty() {
            self.cpu_table(&mut out, &cpu);
        }
        let errors = self.errors();
        if !errors.is_empty() {
            let _ = writeln!(out, "\nErrors:\n");
            for e in &errors {
                let _ = writeln!(out, "- {e}");
            }
        }
        out
    }

    /// Indices of the configured tests that satisfy `keep`.
    fn tests_where(&self, keep: impl Fn(Test) -> bool) -> Vec<usize> {
        (0..self.cfg.tests.len())
            .filter(|&ti| keep(self.cfg.tests[ti]))
            .collect()
    }

    /// The runs of one cell.
    fn runs(&self, ti: usize, imp: &'static str) -> &[Result<RunOk>] {
        self.cells.get(&(ti, imp)).map_or(&[][..], Vec::as_slice)
    }

    /// The one-pair tests: the main table, peak RSS, COUNTs.
    fn pair_tables(&self, out: &mut String, tests: &[usize]) {
        let cfg = self.cfg;
        let ratios = if has_async_ratios(&cfg.impls) {
            async_ratios(&cfg.impls)
        } else {
            let has_peer = cfg.impls.iter().any(|i| PEERS.contains(i));
            zsock_ratios(&cfg.impls, has_peer)
        };
        self.metric_table(out, tests, &cfg.impls, &ratios);

        let _ = writeln!(
            out,
            "\nPeak RSS (VmHWM) in MiB, largest over the repetitions, sender / receiver:\n"
        );
        let _ = writeln!(out, "{}", table_head("| test |", &cfg.impls));
        for &ti in tests {
            let mut row = format!("| {} |", cfg.tests[ti].label());
            for &imp in &cfg.impls {
                let ok: Vec<&RunOk> = self
                    .runs(ti, imp)
                    .iter()
                    .filter_map(|r| r.as_ref().ok())
                    .collect();
                let cell = if ok.is_empty() {
                    "-".to_string()
                } else {
                    let s = ok.iter().map(|r| r.server_rss_kb).max().unwrap_or(0);
                    let c = ok.iter().map(|r| r.client_rss_kb).max().unwrap_or(0);
                    format!("{:.1} / {:.1}", s as f64 / 1024.0, c as f64 / 1024.0)
                };
                let _ = write!(row, " {cell} |");
            }
            let _ = writeln!(out, "{row}");
        }

        self.count_table(out, tests, &cfg.impls);
    }

    /// The COUNT each cell ran with.
    fn count_table(&self, out: &mut String, tests: &[usize], impls: &[&'static str]) {
        let cfg = self.cfg;
        let _ = writeln!(out, "\nCOUNT per run:\n");
        let _ = writeln!(out, "{}", table_head("| test |", impls));
        for &ti in tests {
            let mut row = format!("| {} |", cfg.tests[ti].label());
            for &imp in impls {
                let cell = match self.counts.get(&(ti, imp)) {
                    Some(Ok(n)) => n.to_string(),
                    Some(Err(_)) => "error".to_string(),
                    None => "-".to_string(),
                };
                let _ = write!(row, " {cell} |");
            }
            let _ = writeln!(out, "{row}");
        }
    }

    /// The inproc rows: zsock beside libzmq and OMQ.rs, both sides in one process, with
    /// the process's CPU time, context switches and peak RSS.
    fn inproc_table(&self, out: &mut String, tests: &[usize]) {
        let cfg = self.cfg;
        let impls = self.selected(&["zsock", "libzmq", "omq", "omq-mt"]);
        let _ = writeln!(
            out,
            "\ninproc://, {} interleaved repetition(s): one process, one context, a PUSH (REP) \
             bound in one thread and a PULL (REQ) connected in another; every send copies the \
             payload from a user buffer. omq runs the two sides as two tasks on one tokio \
             current-thread runtime (omq-mt: on the multi-thread runtime). Throughput from the \
             first message received to the last; latency half the mean round trip after 1000 \
             warm-up trips. CPU and context switches: the process (every thread) over the same \
             span, per message or round trip. Ratios zsock / other: throughput > 1, every other \
             row < 1 mean zsock is ahead.\n",
            cfg.reps
        );
        if impls.is_empty() {
            let _ = writeln!(out, "(none of {INPROC_IMPLS:?} selected)");
            return;
        }
        self.metric_table(out, tests, &impls, &zsock_ratios(&impls, false));
        self.count_table(out, tests, &impls);
    }

    /// The CURVE rows: zsock beside libzmq, both with CURVE, CPU time per message of both
    /// processes, and zsock / libzmq beside its target.
    fn curve_table(&self, out: &mut String, tests: &[usize]) {
        let cfg = self.cfg;
        let impls = self.selected(&CURVE_IMPLS);
        let _ = writeln!(
            out,
            "\nCURVE (26/CurveZMQ) on both sides, {} interleaved repetition(s): the binding PUSH \
             (REP) is the CURVE server, the connecting PULL (REQ) its client; one server and one \
             client key pair for the whole run, no authenticator. zsock: bench-zsock; libzmq: \
             the system's libzmq.so.5 (Debian's libzmq5, with libsodium) through \
             bench-libzmq-curve, not the zmq crate's build of the other rows (which has no \
             CURVE). Default options, every send copies the payload from a user buffer. \
             Throughput from the first message received to the last; latency half the mean \
             round trip after 1000 warm-up trips. CPU: both processes, each over its own busy \
             span (receiver: the measured span; thr-push: first send to last; lat-rep: first \
             receive to last reply), per message or round trip. Targets, zsock / libzmq: \
             throughput >= {CURVE_THR_TARGET}, latency <= {CURVE_LAT_TARGET}.\n",
            cfg.reps
        );
        if impls.is_empty() {
            let _ = writeln!(out, "(none of {CURVE_IMPLS:?} selected)");
            return;
        }
        let mut ratios = zsock_ratios(&impls, false);
        for r in &mut ratios {
            r.targets = r.den == ["libzmq"];
        }
        self.metric_table(out, tests, &impls, &ratios);
        self.count_table(out, tests, &impls);
    }

    /// The implementations chosen for this run that are among `these`, in the run's order.
    fn selected(&self, these: &[&'static str]) -> Vec<&'static str> {
        self.cfg
            .impls
            .iter()
            .copied()
            .filter(|i| these.contains(i))
            .collect()
    }

    /// The scale tests: one row per test and metric, zsock beside libzmq.
    fn scale_table(&self, out: &mut String, tests: &[usize]) {
        let cfg = self.cfg;
        let impls = self.selected(&SCALE_IMPLS);
        let count = if cfg.quick {
            FANIN_COUNT_QUICK
        } else {
            FANIN_COUNT
        };
        let _ = writeln!(
            out,
            "\nScale scenarios, 64 B messages, {} interleaved repetition(s). Fan-in: COUNT {count} \
             sent round-robin over the N PUSH; fan-out, topics and ROUTER: a {} s window once \
             every socket is warm. CPU and context switches: both processes, each over its own \
             busy span, per message (per round trip for the ROUTER). Peak RSS: both processes \
             added. Sockets: set-up is create, bind, connect and one message through every \
             pair; close is closing every socket and terminating the context; threads, fds and \
             memory are read after set-up. Ratios zsock / libzmq: rates > 1, every other row \
             < 1 mean zsock is ahead.\n",
            cfg.scale_reps,
            cfg.window()
        );
        if impls.is_empty() {
            let _ = writeln!(out, "(none of {SCALE_IMPLS:?} selected)");
            return;
        }
        self.metric_table(out, tests, &impls, &zsock_ratios(&impls, false));
    }

    /// The CPU scenarios: the async implementations' receivers, zsock-tokio's ratios.
    fn cpu_table(&self, out: &mut String, tests: &[usize]) {
        let cfg = self.cfg;
        let impls = self.selected(&ASYNC_IMPLS);
        let _ = writeln!(
            out,
            "\nCPU of an async receiver, 64 B messages, {} interleaved repetition(s): a PULL \
             connected to a PUSH that sends nothing for {} s and then one message (idle), or \
             {CPU_RATE} messages per second paced by its timer for {} s. CPU: milliseconds of \
             user + system time of every thread of the receiving process per second of wall \
             time (10 = 1% of a CPU), from just after its connect call to its last message; \
             context switches per second over the same span. Ratios zsock-tokio / the best \
             peer on the same runtime: < 1 means zsock-tokio is ahead.\n",
            cfg.reps,
            CpuScenario::Idle.secs(cfg.quick),
            CpuScenario::Rate.secs(cfg.quick),
        );
        if impls.is_empty() {
            let _ = writeln!(out, "(none of {ASYNC_IMPLS:?} selected)");
            return;
        }
        self.metric_table(out, tests, &impls, &async_ratios(&impls));
    }

    /// `| test | unit | impl... | ratios... |` with a row per test and metric: medians,
    /// min-max and the `ratios`.
    fn metric_table(
        &self,
        out: &mut String,
        tests: &[usize],
        impls: &[&'static str],
        ratios: &[Ratio],
    ) {
        let mut columns: Vec<&str> = impls.to_vec();
        for r in ratios {
            columns.push(r.label.as_str());
            if r.targets {
                columns.push("target");
            }
        }
        let _ = writeln!(out, "{}", table_head("| test | unit |", &columns));
        for &ti in tests {
            let test = self.cfg.tests[ti];
            for &metric in test.metrics() {
                let mut row = format!("| {} | {} |", metric.label(test), metric.unit(test));
                let mut medians: BTreeMap<&str, f64> = BTreeMap::new();
                for &imp in impls {
                    let runs = self.runs(ti, imp);
                    let mut values: Vec<f64> = runs
                        .iter()
                        .filter_map(|r| r.as_ref().ok())
                        .map(|r| metric.value(test, r))
                        .collect();
                    let failed = runs.iter().filter(|r| r.is_err()).count();
                    let cell = match stats(&mut values) {
                        None if runs.is_empty() && self.counts.get(&(ti, imp)).is_none() => {
                            "-".to_string()
                        }
                        None => "**error**".to_string(),
                        Some((med, min, max)) => {
                            medians.insert(imp, med);
                            let spread = if values.len() > 1 {
                                format!(" ({}-{})", metric.show(min), metric.show(max))
                            } else {
                                String::new()
                            };
                            let err = if failed > 0 {
                                format!(" **{failed} err**")
                            } else {
                                String::new()
                            };
                            format!("{}{spread}{err}", metric.show(med))
                        }
                    };
                    let _ = write!(row, " {cell} |");
                }
                for r in ratios {
                    let num = medians.get(r.num).copied();
                    let den = r
                        .den
                        .iter()
                        .filter_map(|p| medians.get(p).copied())
                        .reduce(|a, b| if metric.better(test, a, b) { a } else { b });
                    let ratio = match (num, den) {
                        (Some(n), Some(d)) if d > 0.0 => Some(n / d),
                        _ => None,
                    };
                    let cell = ratio.map_or_else(|| "-".to_string(), |q| format!("{q:.2}"));
                    let _ = write!(row, " {cell} |");
                    if r.targets {
                        let target = test
                            .target(metric)
                            .map_or_else(|| "-".to_string(), |t| t.cell(ratio));
                        let _ = write!(row, " {target} |");
                    }
                }
                let _ = writeln!(out, "{row}");
            }
        }
    }

    /// Every failed run and calibration, in table order.
    fn errors(&self) -> Vec<String> {
        let mut errors = Vec::new();
        for (ti, test) in self.cfg.tests.iter().enumerate() {
            for &imp in &self.cfg.impls {
                for (rep, r) in self.runs(ti, imp).iter().enumerate() {
                    if let Err(e) = r {
                        errors.push(format!("{}, {imp}, rep {}: {e}", test.label(), rep + 1));
                    }
                }
                if let Some(Err(e)) = self.counts.get(&(ti, imp)) {
                    errors.push(format!("{}, {imp}, calibration: {e}", test.label()));
                }
            }
        }
        errors
    }
}

/// A ratio column: `num`'s median over `den`'s (the best of them if several).
struct Ratio {
    label: String,
    num: &'static str,
    den: Vec<&'static str>,
    /// Followed by a `target` column: [`Test::target`], and whether the ratio meets it.
    targets: bool,
}

/// zsock's ratios to each other implementation of `impls`, led by the best of [`PEERS`]
/// if `best`; none without zsock.
fn zsock_ratios(impls: &[&'static str], best: bool) -> Vec<Ratio> {
    if !impls.contains(&"zsock") {
        return Vec::new();
    }
    let mut ratios = Vec::new();
    if best {
        ratios.push(Ratio {
            label: "zsock/best".into(),
            num: "zsock",
            den: PEERS.to_vec(),
            targets: false,
        });
    }
    ratios.extend(impls.iter().filter(|i| **i != "zsock").map(|&o| Ratio {
        label: format!("zsock/{o}"),
        num: "zsock",
        den: vec![o],
        targets: false,
    }));
    ratios
}

/// Whether a table of `impls` gives zsock-tokio's ratios rather than zsock's.
fn has_async_ratios(impls: &[&str]) -> bool {
    impls.iter().any(|i| i.starts_with("zsock-tokio"))
}

/// zsock-tokio's ratios on each runtime: to the best async peer on the same runtime,
/// then to blocking zsock, for those of `impls` selected.
fn async_ratios(impls: &[&'static str]) -> Vec<Ratio> {
    let flavours = [
        ("zsock-tokio", &ASYNC_PEERS, "best"),
        ("zsock-tokio-mt", &ASYNC_PEERS_MT, "best-mt"),
    ];
    let mut ratios = Vec::new();
    for (num, peers, best) in flavours {
        if impls.contains(&num) && peers.iter().any(|p| impls.contains(p)) {
            ratios.push(Ratio {
                label: format!("{num}/{best}"),
                num,
                den: peers.to_vec(),
                targets: false,
            });
        }
    }
    for (num, _, _) in flavours {
        if impls.contains(&num) && impls.contains(&"zsock") {
            ratios.push(Ratio {
                label: format!("{num}/zsock"),
                num,
                den: vec!["zsock"],
                targets: false,
            });
        }
    }
    ratios
}

/// A table's head and rule: `first` (its own columns) then one column per name.
fn table_head(first: &str, columns: &[&str]) -> String {
    let mut head = first.to_string();
    let mut rule = "|---".repeat(first.matches('|').count() - 1) + "|";
    for c in columns {
        let _ = write!(head, " {c} |");
        rule.push_str("---|");
    }
    format!("{head}\n{rule}")
}

fn build() -> Result {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root())
        .args(["build", "--release", "-p", "zsock-benches", "--bins"]);
    eprintln!("\n==> build the bench binaries (release)\n    {cmd:?}");
    let t = Instant::now();
    let status = cmd
        .status()
        .map_err(|e| format!("cannot start cargo: {e}"))?;
    eprintln!("<== build: {status} in {:.1}s", t.elapsed().as_secs_f64());
    if status.success() {
        Ok(())
    } else {
        Err(format!("building the bench binaries failed ({status})"))
    }
}

/// `cargo xtask bench [...]`: see the module docs.
pub(crate) fn run(args: &[String]) -> Result {
    let cfg = parse(args)?;
    build()?;
    let t0 = Instant::now();
    let (started, stamp) = utc_now();
    let taskset = on_path("taskset");
    let pinning = if taskset {
        "under `taskset -c 0`"
    } else {
        "pinned by the binaries' `--cpu 0` (no taskset on PATH)"
    };
    let bin_dir = target_dir().join("release");
    let curve = if cfg.tests.iter().any(|t| t.curve) {
        Some(CurveKeys::generate(&bin_dir)?)
    } else {
        None
    };
    let mut runner = Runner {
        bin_dir,
        transport: cfg.transport,
        taskset,
        timeout: cfg.timeout,
        window: cfg.window(),
        quick: cfg.quick,
        curve,
        seq: 0,
    };

    // Every (test, implementation) that runs, test by test: the interleaving order.
    let cells_to_run: Vec<(usize, &'static str)> = cfg
        .tests
        .iter()
        .enumerate()
        .flat_map(|(ti, test)| {
            cfg.impls
                .iter()
                .copied()
                .filter(move |imp| test.runs_on(imp))
                .map(move |imp| (ti, imp))
        })
        .collect();
    // Throughput and latency tests (one pair, inproc) calibrate COUNT unless --quick;
    // scale and CPU tests have fixed sizes.
    let calibrated = |ti: usize| !cfg.quick && cfg.tests[ti].is_calibrated();
    let mut counts: BTreeMap<(usize, &'static str), Result<u64>> = BTreeMap::new();
    for &(ti, imp) in &cells_to_run {
        if !calibrated(ti) {
            counts.insert((ti, imp), Ok(cfg.tests[ti].small_count(cfg.quick)));
        }
    }
    let to_calibrate = cells_to_run.len() - counts.len();
    if to_calibrate > 0 {
        eprintln!(
            "\n==> calibrate COUNT for a ~{} s run ({to_calibrate} cells)",
            cfg.target_secs
        );
        let mut n = 0;
        for &(ti, imp) in cells_to_run.iter().filter(|(ti, _)| calibrated(*ti)) {
            let test = cfg.tests[ti];
            n += 1;
            let c = runner.calibrate(imp, test, cfg.target_secs);
            match &c {
                Ok(count) => eprintln!(
                    "[{n:>3}/{to_calibrate}] {:<22} {imp:<7} COUNT {count}",
                    test.label()
                ),
                Err(e) => eprintln!(
                    "[{n:>3}/{to_calibrate}] {:<22} {imp:<7} calibration failed: {e}",
                    test.label()
                ),
            }
            counts.insert((ti, imp), c);
        }
    }

    let total: usize = cells_to_run
        .iter()
        .map(|&(ti, _)| cfg.tests[ti].reps(&cfg))
        .sum();
    let max_reps = cfg.tests.iter().map(|t| t.reps(&cfg)).max().unwrap_or(0);
    eprintln!(
        "\n==> {total} runs: up to {max_reps} repetition(s) of {} cells, interleaved",
        cells_to_run.len()
    );
    let mut cells: Cells = BTreeMap::new();
    let mut n = 0;
    let mut failures = 0;
    for rep in 0..max_reps {
        for &(ti, imp) in &cells_to_run {
            let test = cfg.tests[ti];
            if rep >= test.reps(&cfg) {
                continue;
            }
            n += 1;
            let Some(&Ok(count)) = counts.get(&(ti, imp)) else {
                continue;
            };
            let t = Instant::now();
            let mut r = runner.run(imp, test, count);
            // A peer library's process that outlived its release (a libzmq scale publisher,
            // now and then, on a loaded host) is killed, and its cell run once more: the
            // measurement was the other process's, and a hang of ours fails the run.
            if let Err(e) = &r {
                if e.contains(RELEASE_HANG) && !imp.to_string().starts_with("zsock") {
                    eprintln!("{} {imp}: {e}; running it once more", test.label());
                    r = runner.run(imp, test, count);
                }
            }
            let what = match &r {
                Ok(ok) => format!("{} {}", num(test.value(ok)), test.unit()),
                Err(e) => {
                    failures += 1;
                    format!("ERROR {e}")
                }
            };
            eprintln!(
                "[{n:>3}/{total}] rep {}/{} {:<22} {imp:<7} {what} ({:.1} s)",
                rep + 1,
                test.reps(&cfg),
                test.label(),
                t.elapsed().as_secs_f64()
            );
            cells.entry((ti, imp)).or_default().push(r);
        }
    }
    failures += counts.values().filter(|c| c.is_err()).count();

    let report = Report {
        cfg: &cfg,
        cells: &cells,
        counts: &counts,
        pinning,
        started,
        wall: t0.elapsed(),
    }
    .render();
    println!("\n{report}");
    let dir = target_dir().join("bench");
    let name = format!(
        "results-{}{}{}{}{}{stamp}.md",
        if cfg.quick { "quick-" } else { "" },
        if cfg.async_rows { "async-" } else { "" },
        if cfg.inproc_rows { "inproc-" } else { "" },
        if cfg.curve_rows { "curve-" } else { "" },
        match cfg.transport {
            Transport::Ipc => "",
            Transport::Tcp => "tcp-",
        }
    );
    let path = dir.join(name);
    std::fs::create_dir_all(&dir)
        .and_then(|()| std::fs::write(&path, &report))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    eprintln!(
        "bench: {n} runs in {:.0} s; table written to {}",
        t0.elapsed().as_secs_f64(),
        path.display()
    );
    if failures > 0 {
        Err(format!("{failures} run(s) failed; see the table's Errors"))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A RESULT line's `key=value` fields.
    fn fields(s: &str) -> Fields {
        s.split_whitespace()
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn test_ids_round_trip_and_cover_the_method() {
        let ids: Vec<String> = Test::all().into_iter().map(Test::id).collect();
        assert_eq!(
            ids,
            [
                "thr-1",
                "thr-64",
                "thr-1024",
                "thr-65536",
                "thr-1048576",
                "lat-1",
                "lat-1024",
                "lat-1-cpu0",
                "lat-1024-cpu0"
            ]
        );
        let cfg = parse(&["--tests".into(), "lat-1-cpu0,thr-64".into()]).unwrap();
        assert_eq!(cfg.tests.len(), 2);
        assert!(cfg.tests[0].pinned);
        assert_eq!(cfg.reps, 5);
        assert_eq!(parse(&["--quick".into()]).unwrap().reps, 1);
    }

    #[test]
    fn scale_rows_select_and_build_their_command_lines() {
        let quick: Vec<String> = Test::scale(true).into_iter().map(Test::id).collect();
        assert_eq!(
            quick,
            [
                "sockets-10",
                "fanin-1",
                "fanout-1",
                "topics-1",
                "router-100",
                "proxy-1"
            ]
        );
        assert_eq!(Test::scale(false).len(), 16);
        let cfg = parse(&["--scale".into()]).unwrap();
        assert!(cfg.tests.iter().all(|t| t.scenario().is_some()));
        assert_eq!((cfg.reps, cfg.scale_reps), (5, SCALE_REPS));
        let cfg = parse(&["--quick".into()]).unwrap();
        assert_eq!(cfg.tests.len(), Test::all().len() + 6);
        assert_eq!(
            (cfg.reps, cfg.scale_reps, cfg.window()),
            (1, 1, SCALE_WINDOW_QUICK)
        );
        let cfg = parse(&["--tests".into(), "fanin-100,thr-1".into()]).unwrap();
        let fanin = cfg.tests[0];
        assert!(fanin.runs_on("libzmq") && !fanin.runs_on("omq"));
        assert!(fanin.roles().binder_measures);
        let ep = "ipc:///t/ep";
        assert_eq!(
            fanin.args(Side::Connecter, ep, 2000, 2.0),
            ["scale-fanin-push", ep, "100", "2000"]
        );
        assert_eq!(
            fanin.args(Side::Binder, ep, 2000, 2.0),
            ["scale-fanin-pull", ep, "2000"]
        );
        let router = Test::scale(false)[13];
        assert_eq!(router.id(), "router-1000");
        assert_eq!(
            router.args(Side::Binder, ep, 0, 0.5),
            ["scale-router-echo", ep]
        );
        assert_eq!(
            router.args(Side::Connecter, ep, 0, 0.5),
            ["scale-router-dealers", ep, "1000", "0.5"]
        );
        let sockets = Test::scale(false)[2];
        assert_eq!(sockets.roles().binder, None);
        assert_eq!(
            sockets.args(Side::Connecter, ep, 0, 2.0),
            ["scale-sockets", ep, "1000"]
        );
        assert_eq!(sockets.metrics().len(), 6);
        assert_eq!(
            cfg.tests[1].args(Side::Binder, ep, 9, 2.0),
            ["thr-push", ep, "1", "9"]
        );
    }

    #[test]
    fn async_rows_select_their_impls_runtimes_and_ratios() {
        assert_eq!(parse(&[]).unwrap().impls, IMPLS);
        assert!(IMPLS
            .iter()
            .chain(&ASYNC_IMPLS)
            .all(|i| KNOWN_IMPLS.contains(i)));
        let cfg = parse(&["--async".into()]).unwrap();
        assert_eq!(
            cfg.impls,
            [
                "zsock",
                "zsock-tokio",
                "zeromq",
                "omq",
                "zsock-tokio-mt",
                "zeromq-mt",
                "omq-mt"
            ]
        );
        let ids: Vec<String> = cfg.tests.iter().map(|t| t.id()).collect();
        assert_eq!(
            ids,
            [
                "thr-1",
                "thr-64",
                "thr-1024",
                "thr-65536",
                "lat-1",
                "lat-1-cpu0",
                "idle-cpu",
                "rate-cpu"
            ]
        );
        assert!(parse(&["--async".into(), "--scale".into()]).is_err());
        let idle = parse(&["--tests".into(), "idle-cpu".into()]).unwrap();
        assert_eq!(idle.impls, cfg.impls);
        assert!(parse(&[
            "--tests".into(),
            "idle-cpu".into(),
            "--impls".into(),
            "zsock,libzmq".into()
        ])
        .is_err());
        let cfg = parse(&[
            "--tests".into(),
            "rate-cpu".into(),
            "--impls".into(),
            "zsock-tokio-mt,omq-mt".into(),
        ])
        .unwrap();
        let rate = cfg.tests[0];
        assert!(rate.runs_on("omq-mt") && !rate.runs_on("zsock") && !rate.is_pair());
        let ep = "ipc:///t/ep";
        assert_eq!(
            rate.args(Side::Binder, ep, 0, 3.0),
            ["cpu-push", ep, "1000", "3"]
        );
        assert_eq!(
            rate.args(Side::Connecter, ep, 0, 0.5),
            ["cpu-pull", ep, "1000", "0.5"]
        );
        assert_eq!(binary("omq-mt"), ("omq", "multi"));
        assert_eq!(binary("zsock-tokio"), ("zsock-tokio", "current"));
        let labels = |impls: &[&'static str]| -> Vec<String> {
            async_ratios(impls).into_iter().map(|r| r.label).collect()
        };
        assert_eq!(
            labels(&cfg_impls_async()),
            [
                "zsock-tokio/best",
                "zsock-tokio-mt/best-mt",
                "zsock-tokio/zsock",
                "zsock-tokio-mt/zsock"
            ]
        );
        assert_eq!(
            labels(&["zsock-tokio-mt", "omq-mt"]),
            ["zsock-tokio-mt/best-mt"]
        );
        let classic: Vec<String> = zsock_ratios(&IMPLS, true)
            .into_iter()
            .map(|r| r.label)
            .collect();
        assert_eq!(
            classic,
            [
                "zsock/best",
                "zsock/libzmq",
                "zsock/zeromq",
                "zsock/omq",
                "zsock/raw"
            ]
        );
        assert!(!has_async_ratios(&IMPLS) && has_async_ratios(&["zsock-tokio-mt"]));
        let r = RunOk::new(
            &fields("rate=1000 msgs=3000 secs=3 cpu_s=0.06 cpu_ms_per_s=20 csw=300"),
            &Fields::new(),
            false,
        );
        assert_eq!(Metric::Main.value(rate, &r), 20.0);
        assert_eq!(Metric::SwitchesPerSec.value(rate, &r), 100.0);
        assert!(Metric::Main.better(rate, 1.0, 2.0));
    }

    #[test]
    fn inproc_rows_run_in_one_process_and_report_cpu_per_message() {
        let cfg = parse(&["--inproc".into()]).unwrap();
        assert_eq!(cfg.impls, INPROC_IMPLS);
        let ids: Vec<String> = cfg.tests.iter().map(|t| t.id()).collect();
        assert_eq!(
            ids,
            [
                "inproc-thr-1",
                "inproc-thr-64",
                "inproc-thr-1024",
                "inproc-thr-65536",
                "inproc-lat-1"
            ]
        );
        let (thr, lat) = (cfg.tests[1], cfg.tests[4]);
        assert!(thr.is_calibrated() && !thr.is_pair());
        assert_eq!(thr.roles().binder, None);
        assert_eq!(
            thr.args(Side::Connecter, "ipc:///t/ep", 9, 2.0),
            ["inproc-thr", "64", "9"]
        );
        assert_eq!(
            lat.args(Side::Connecter, "ipc:///t/ep", 5, 2.0),
            ["inproc-lat", "1", "5"]
        );
        assert!(thr.runs_on("omq-mt") && !thr.runs_on("zeromq") && !thr.runs_on("raw"));
        assert_eq!(thr.label(), "inproc thr 64 B");
        assert!(parse(&["--inproc".into(), "--async".into()]).is_err());
        assert!(parse(&["--inproc".into(), "--scale".into()]).is_err());
        assert!(parse(&["--inproc".into(), "--transport".into(), "tcp".into()]).is_err());
        let named = parse(&["--tests".into(), "inproc-lat-1".into()]).unwrap();
        assert_eq!(named.impls, INPROC_IMPLS);
        assert!(parse(&[
            "--tests".into(),
            "inproc-thr-1".into(),
            "--impls".into(),
            "raw".into()
        ])
        .is_err());
        // A latency line has no rate: CPU per round trip is cpu_s / count.
        let r = RunOk::new(
            &fields("count=1000 secs=0.01 lat_us=5 cpu_s=0.02 csw=2000 rss_kb=2048"),
            &Fields::new(),
            false,
        );
        assert!((Metric::Cpu.value(lat, &r) - 20.0).abs() < 1e-9);
        assert!((Metric::Switches.value(lat, &r) - 2000.0).abs() < 1e-9);
        assert_eq!(Metric::Cpu.unit(lat), "us CPU/trip");
        assert_eq!(Metric::PeakRss.value(lat, &r), 2.0);
        assert_eq!(Metric::PeakRss.unit(lat), "MiB");
        // Throughput: per message over COUNT-1 messages.
        let r = RunOk::new(
            &fields("count=1001 secs=0.5 msgs_per_s=2000 cpu_s=0.75 csw=10"),
            &Fields::new(),
            false,
        );
        assert!((Metric::Cpu.value(thr, &r) - 750.0).abs() < 1e-9);
        assert_eq!(Metric::Cpu.unit(thr), "us CPU/msg");
    }

    #[test]
    fn curve_rows_pass_keys_and_run_libzmq_with_curve() {
        let cfg = parse(&["--curve".into()]).unwrap();
        assert_eq!(cfg.impls, CURVE_IMPLS);
        let ids: Vec<String> = cfg.tests.iter().map(|t| t.id()).collect();
        assert_eq!(
            ids,
            [
                "curve-thr-64",
                "curve-thr-1024",
                "curve-lat-1",
                "curve-lat-1-cpu0"
            ]
        );
        let (thr, lat, pinned) = (cfg.tests[0], cfg.tests[2], cfg.tests[3]);
        assert!(thr.is_calibrated() && !thr.is_pair() && pinned.pinned);
        assert!(thr.runs_on("libzmq") && !thr.runs_on("omq") && !thr.runs_on("raw"));
        assert_eq!(thr.label(), "CURVE thr 64 B");
        assert_eq!(pinned.label(), "CURVE lat 1 B, one CPU");
        assert_eq!(thr.metrics(), Metric::CURVE);
        assert_eq!(Metric::Cpu.unit(lat), "us CPU/trip");
        // The one-pair modes, with the keys after them.
        let ep = "ipc:///t/ep";
        assert_eq!(
            thr.args(Side::Binder, ep, 9, 2.0),
            ["thr-push", ep, "64", "9"]
        );
        let keys = CurveKeys {
            server_public: "P".repeat(40),
            server_secret: "S".repeat(40),
            client_public: "p".repeat(40),
            client_secret: "s".repeat(40),
        };
        assert_eq!(
            keys.args(Side::Binder),
            ["--curve-server-secret".to_string(), "S".repeat(40)]
        );
        assert_eq!(
            keys.args(Side::Connecter),
            [
                "--curve-server-public".to_string(),
                "P".repeat(40),
                "--curve-client-public".into(),
                "p".repeat(40),
                "--curve-client-secret".into(),
                "s".repeat(40)
            ]
        );
        let pair = format!("{} {}\n", "P".repeat(40), "S".repeat(40));
        assert_eq!(
            parse_keypair(&pair).unwrap(),
            ("P".repeat(40), "S".repeat(40))
        );
        assert!(parse_keypair("short key").is_err());
        assert!(parse_keypair("").is_err());
        // libzmq's CURVE rows run the system's libzmq; its other rows the zmq crate's.
        assert_eq!(bin_name("libzmq", thr), "bench-libzmq-curve");
        assert_eq!(bin_name("zsock", thr), "bench-zsock");
        assert_eq!(bin_name("libzmq", Test::all()[0]), "bench-libzmq");
        assert_eq!(bin_name("omq-mt", Test::all()[0]), "bench-omq");
        // Targets: throughput at least 1.5, latency at most 0.75, nothing on CPU rows.
        let t = thr.target(Metric::Main).unwrap();
        assert!(t.met(1.5) && !t.met(1.49));
        assert_eq!(t.cell(Some(2.0)), ">= 1.50 met");
        assert_eq!(t.cell(Some(1.0)), ">= 1.50 **not met**");
        assert_eq!(t.cell(None), ">= 1.50");
        let t = pinned.target(Metric::Main).unwrap();
        assert!(t.met(0.75) && !t.met(0.8));
        assert_eq!(thr.target(Metric::Cpu), None);
        assert_eq!(Test::all()[1].target(Metric::Main), None);
        // Over tcp too; not with the other row families.
        let tcp = parse(&["--curve".into(), "--transport".into(), "tcp".into()]).unwrap();
        assert_eq!((tcp.transport, tcp.tests.len()), (Transport::Tcp, 4));
        for other in ["--scale", "--async", "--inproc"] {
            assert!(parse(&["--curve".into(), other.into()]).is_err(), "{other}");
        }
        let quick = parse(&["--quick".into(), "--curve".into()]).unwrap();
        assert_eq!((quick.reps, quick.tests.len()), (1, 4));
        assert_eq!(
            parse(&["--curve".into(), "--reps".into(), "3".into()])
                .unwrap()
                .reps,
            3
        );
        // Named alone, they take their implementations; omq has none.
        let named = parse(&["--tests".into(), "curve-lat-1-cpu0".into()]).unwrap();
        assert_eq!(named.impls, CURVE_IMPLS);
        assert!(parse(&[
            "--tests".into(),
            "curve-thr-64".into(),
            "--impls".into(),
            "omq".into()
        ])
        .is_err());
        assert!(!parse(&[]).unwrap().tests.iter().any(|t| t.curve));
        // CPU per message from both sides' cpu_s over their own spans.
        let r = RunOk::new(
            &fields("count=1001 secs=0.5 msgs_per_s=2000 cpu_s=0.5 csw=10"),
            &fields("secs=0.5 cpu_s=0.25 csw=10"),
            false,
        );
        assert!((Metric::Cpu.value(thr, &r) - 750.0).abs() < 1e-9);
    }

    fn cfg_impls_async() -> Vec<&'static str> {
        parse(&["--async".into()]).unwrap().impls
    }

    #[test]
    fn cpu_per_message_adds_both_sides_over_their_own_spans() {
        // The measuring side: 1 M msg/s with 0.5 CPU; the other: 0.25 CPU over 2 s.
        let result = fields("msgs_per_s=1000000 secs=1 cpu_s=0.5 csw=100 rss_kb=2048");
        let peer = fields("secs=2 cpu_s=0.5 csw=0 rss_kb=1024");
        let r = RunOk::new(&result, &peer, true);
        assert!((r.cpu_per_msg_s - 0.75e-6).abs() < 1e-12);
        assert!((r.csw_per_msg - 1e-4).abs() < 1e-12);
        assert_eq!((r.server_rss_kb, r.client_rss_kb), (2048, 1024));
        let test = Test::scale(true)[1];
        assert!((Metric::Cpu.value(test, &r) - 0.75).abs() < 1e-9);
        assert_eq!(Metric::PeakRss.value(test, &r), 3.0);
        assert_eq!(Metric::Cpu.unit(test), "us CPU/msg");
        assert_eq!(
            Metric::Main.label(Test::scale(true)[0]),
            "sockets 10, set-up"
        );
        assert_eq!(
            table_head("| test |", &["a", "b"]),
            "| test | a | b |\n|---|---|---|"
        );
    }

    #[test]
    fn a_listening_port_is_found_in_proc_net_tcp() {
        let table = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when\n   \
             0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000\n   \
             1: 0100007F:1F91 0100007F:9C40 01 00000000:00000000 00:00000000 00000000\n   \
             2: 00000000:1F92 00000000:0000 0A 00000000:00000000 00:00000000 00000000\n";
        assert!(listening_in(table, 8080));
        assert!(!listening_in(table, 8081), "established, not listening");
        assert!(listening_in(table, 8082), "bound to every address");
        assert!(!listening_in(table, 8083));
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        assert!(listening(l.local_addr().unwrap().port()));
        let port = l.local_addr().unwrap().port();
        drop(l);
        assert!(!listening(port));
        let cfg = parse(&["--transport".into(), "tcp".into()]).unwrap();
        assert!(cfg.tests.iter().all(|t| t.scenario().is_none()));
        assert!(parse(&["--transport".into(), "tcp".into(), "--scale".into()]).is_err());
        assert!(parse(&["--transport".into(), "udp".into()]).is_err());
    }

    #[test]
    fn medians_and_dates() {
        assert_eq!(stats(&mut [3.0, 1.0, 2.0]), Some((2.0, 1.0, 3.0)));
        assert_eq!(stats(&mut [4.0, 1.0, 2.0, 3.0]), Some((2.5, 1.0, 4.0)));
        assert_eq!(stats(&mut []), None);
        assert_eq!(human_size(65536), "64 KiB");
        assert_eq!(human_size(1048576), "1 MiB");
        assert_eq!(human_size(64), "64 B");
        let (long, short) = utc_now();
        assert_eq!(long.len(), "2026-05-01 12:34:56 UTC".len());
        assert_eq!(short.len(), "20260501-123456".len());
    }
}
