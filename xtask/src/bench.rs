//! `cargo xtask bench`: the side-by-side benchmark of BENCHMARKS.md ("Method and targets").
//!
//! ```text
//! cargo xtask bench [--quick] [--reps N] [--secs S] [--timeout S]
//!                   [--impls zsock,libzmq,...] [--tests thr-1,lat-1024-cpu0,...]
//! ```
//! Builds the `bench-*` binaries of `benches/` in release mode, calibrates COUNT per
//! (implementation, test, size) so the measured window lasts `--secs` (1.5 s), then runs
//! `--reps` (5) interleaved repetitions: every repetition runs every test for every
//! implementation in turn. Each run is two processes on a fresh `ipc://` endpoint in a
//! new temporary directory: the binding side (thr-push, lat-rep) starts first, the
//! connecting side once the socket file exists. The binding side keeps its socket open
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

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant, SystemTime};

type Result<T = ()> = std::result::Result<T, String>;

/// Every implementation, in table order; zsock first (the ratios are zsock's).
const IMPLS: [&str; 5] = ["zsock", "libzmq", "zeromq", "omq", "raw"];
/// The other ZeroMQ implementations ("best" in the targets means the best of these).
const PEERS: [&str; 3] = ["libzmq", "zeromq", "omq"];
const THR_SIZES: [usize; 5] = [1, 64, 1024, 65536, 1048576];
const LAT_SIZES: [usize; 2] = [1, 1024];
/// How often the harness looks at its children (it sleeps in between, off the CPUs the
/// benchmark uses as much as possible).
const POLL: Duration = Duration::from_millis(10);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Thr,
    Lat,
}

/// One row of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Test {
    kind: Kind,
    size: usize,
    pinned: bool,
}

impl Test {
    fn all() -> Vec<Test> {
        let thr = THR_SIZES.iter().map(|&size| Test {
            kind: Kind::Thr,
            size,
            pinned: false,
        });
        let lat = [false, true].into_iter().flat_map(|pinned| {
            LAT_SIZES.iter().map(move |&size| Test {
                kind: Kind::Lat,
                size,
                pinned,
            })
        });
        thr.chain(lat).collect()
    }

    /// The name `--tests` takes: `thr-1`, `lat-1024`, `lat-1-cpu0`.
    fn id(self) -> String {
        let kind = match self.kind {
            Kind::Thr => "thr",
            Kind::Lat => "lat",
        };
        let cpu = if self.pinned { "-cpu0" } else { "" };
        format!("{kind}-{}{cpu}", self.size)
    }

    fn label(self) -> String {
        let size = human_size(self.size);
        match (self.kind, self.pinned) {
            (Kind::Thr, _) => format!("thr {size}"),
            (Kind::Lat, false) => format!("lat {size}, unpinned"),
            (Kind::Lat, true) => format!("lat {size}, one CPU"),
        }
    }

    /// Large messages are reported in GB/s, small ones in messages per second.
    fn in_bytes(self) -> bool {
        self.kind == Kind::Thr && self.size >= 65536
    }

    fn unit(self) -> &'static str {
        match self.kind {
            Kind::Thr if self.in_bytes() => "GB/s",
            Kind::Thr => "M msg/s",
            Kind::Lat => "us one-way",
        }
    }

    /// The number shown for a run, in [`Test::unit`].
    fn value(self, r: &RunOk) -> f64 {
        match self.kind {
            Kind::Thr if self.in_bytes() => r.mb_per_s / 1000.0,
            Kind::Thr => r.msgs_per_s / 1e6,
            Kind::Lat => r.lat_us,
        }
    }

    /// zsock's ratio to another implementation: > 1 is better for throughput (rates),
    /// < 1 is better for latency (times), as in the design's targets.
    fn better(self, a: f64, b: f64) -> bool {
        match self.kind {
            Kind::Thr => a > b,
            Kind::Lat => a < b,
        }
    }

    fn modes(self) -> (&'static str, &'static str) {
        match self.kind {
            Kind::Thr => ("thr-push", "thr-pull"),
            Kind::Lat => ("lat-rep", "lat-req"),
        }
    }

    /// The first COUNT tried when calibrating (and the whole COUNT with `--quick`).
    fn small_count(self, quick: bool) -> u64 {
        match self.kind {
            Kind::Lat if quick => 200,
            Kind::Lat => 2000,
            Kind::Thr => {
                let bytes = if quick { 4 << 20 } else { 64 << 20 };
                let max = if quick { 20_000 } else { 100_000 };
                (bytes / self.size as u64).clamp(20, max)
            }
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

#[derive(Debug, Clone)]
struct Config {
    quick: bool,
    reps: usize,
    target_secs: f64,
    timeout: Duration,
    impls: Vec<&'static str>,
    tests: Vec<Test>,
}

fn parse(args: &[String]) -> Result<Config> {
    let mut cfg = Config {
        quick: false,
        reps: 5,
        target_secs: 1.5,
        timeout: Duration::ZERO,
        impls: IMPLS.to_vec(),
        tests: Test::all(),
    };
    let mut reps = None;
    let mut timeout = None;
    let mut it = args.iter();
    let number = |flag: &str, v: Option<&String>| -> Result<f64> {
        v.and_then(|v| v.parse::<f64>().ok())
            .filter(|v| *v > 0.0)
            .ok_or_else(|| format!("{flag} takes a positive number"))
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => cfg.quick = true,
            "--reps" => reps = Some(number("--reps", it.next())? as usize),
            "--secs" => cfg.target_secs = number("--secs", it.next())?,
            "--timeout" => timeout = Some(number("--timeout", it.next())?),
            "--impls" => {
                let list = it.next().ok_or("--impls takes a list: zsock,libzmq,...")?;
                cfg.impls =
                    list.split(',')
                        .map(|n| {
                            IMPLS.iter().find(|i| **i == n).copied().ok_or_else(|| {
                                format!("unknown implementation {n}; known: {IMPLS:?}")
                            })
                        })
                        .collect::<Result<_>>()?;
            }
            "--tests" => {
                let list = it
                    .next()
                    .ok_or("--tests takes a list: thr-1,lat-1-cpu0,...")?;
                let all = Test::all();
                cfg.tests = list
                    .split(',')
                    .map(|n| {
                        all.iter().find(|t| t.id() == n).copied().ok_or_else(|| {
                            let ids: Vec<String> = all.iter().map(|t| t.id()).collect();
                            format!("unknown test {n}; known: {}", ids.join(","))
                        })
                    })
                    .collect::<Result<_>>()?;
            }
            other => {
                return Err(format!(
                    "bench: unknown argument {other}\nusage: cargo xtask bench [--quick] \
                     [--reps N] [--secs S] [--timeout S] [--impls a,b] [--tests t1,t2]"
                ))
            }
        }
    }
    cfg.reps = reps.unwrap_or(if cfg.quick { 1 } else { 5 }).max(1);
    // A quick run's cells take well under a second each: a hang need not cost a minute.
    cfg.timeout = Duration::from_secs_f64(timeout.unwrap_or(if cfg.quick { 20.0 } else { 60.0 }));
    Ok(cfg)
}

/// What one successful run measured.
#[derive(Debug, Clone, Default)]
struct RunOk {
    secs: f64,
    msgs_per_s: f64,
    mb_per_s: f64,
    lat_us: f64,
    client_rss_kb: u64,
    server_rss_kb: u64,
}

/// Where the bench binaries are and how to pin.
struct Runner {
    bin_dir: PathBuf,
    taskset: bool,
    timeout: Duration,
    seq: u32,
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
fn tagged_line(path: &Path, tag: &str) -> Option<BTreeMap<String, String>> {
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

fn field(map: &BTreeMap<String, String>, key: &str) -> f64 {
    map.get(key).and_then(|v| v.parse().ok()).unwrap_or(0.0)
}

impl Runner {
    fn command(&self, imp: &str, mode: &str, endpoint: &str, test: Test, count: u64) -> Command {
        let bin = self.bin_dir.join(format!("bench-{imp}"));
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
        cmd.args([mode, endpoint, &test.size.to_string(), &count.to_string()]);
        cmd
    }

    /// One run: the two processes on a fresh endpoint.
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

    fn run_in(&self, dir: &Path, imp: &str, test: Test, count: u64) -> Result<RunOk> {
        let socket = dir.join("ep");
        let endpoint = format!("ipc://{}", socket.display());
        let (server_mode, client_mode) = test.modes();
        let file = |name: &str| -> Result<File> {
            File::create(dir.join(name)).map_err(|e| format!("{name}: {e}"))
        };
        let deadline = Instant::now() + self.timeout;
        let mut server = self
            .command(imp, server_mode, &endpoint, test, count)
            .stdin(Stdio::piped())
            .stdout(file("server.out")?)
            .stderr(file("server.err")?)
            .spawn()
            .map_err(|e| format!("cannot start bench-{imp}: {e}"))?;
        let server_failed = |status: ExitStatus| {
            format!(
                "{server_mode} exited early ({status}): {}",
                last_line(&dir.join("server.err"))
            )
        };
        // Start the connecting side once the socket file exists, so no implementation
        // pays its reconnect interval; it retries by itself anyway.
        while !socket.exists() {
            if let Ok(Some(status)) = server.try_wait() {
                return Err(server_failed(status));
            }
            if Instant::now() >= deadline {
                stop(&mut server);
                return Err(format!(
                    "{server_mode} did not bind within {:?}",
                    self.timeout
                ));
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut client = match self
            .command(imp, client_mode, &endpoint, test, count)
            .stdin(Stdio::null())
            .stdout(file("client.out")?)
            .stderr(file("client.err")?)
            .spawn()
        {
            Ok(c) => c,
            Err(e) => {
                stop(&mut server);
                return Err(format!("cannot start bench-{imp}: {e}"));
            }
        };
        let client_status = loop {
            if let Ok(Some(status)) = client.try_wait() {
                break status;
            }
            if let Ok(Some(status)) = server.try_wait() {
                if !status.success() {
                    stop(&mut client);
                    return Err(server_failed(status));
                }
            }
            if Instant::now() >= deadline {
                stop(&mut client);
                stop(&mut server);
                return Err(format!("timeout after {:?}", self.timeout));
            }
            std::thread::sleep(POLL);
        };
        // The receiver is done: let the sender close.
        drop(server.stdin.take());
        let grace = Instant::now() + Duration::from_secs(10);
        let server_status = loop {
            if let Ok(Some(status)) = server.try_wait() {
                break Some(status);
            }
            if Instant::now() >= grace {
                stop(&mut server);
                break None;
            }
            std::thread::sleep(POLL);
        };
        if !client_status.success() {
            return Err(format!(
                "{client_mode} failed ({client_status}): {}",
                last_line(&dir.join("client.err"))
            ));
        }
        let result = tagged_line(&dir.join("client.out"), "RESULT ")
            .ok_or_else(|| format!("{client_mode} printed no RESULT line"))?;
        match server_status {
            None => return Err(format!("{server_mode} did not exit 10 s after release")),
            Some(s) if !s.success() => return Err(server_failed(s)),
            Some(_) => {}
        }
        let peer = tagged_line(&dir.join("server.out"), "PEER ").unwrap_or_default();
        Ok(RunOk {
            secs: field(&result, "secs"),
            msgs_per_s: field(&result, "msgs_per_s"),
            mb_per_s: field(&result, "mb_per_s"),
            lat_us: field(&result, "lat_us"),
            client_rss_kb: field(&result, "rss_kb") as u64,
            server_rss_kb: field(&peer, "rss_kb") as u64,
        })
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
        let _ = writeln!(
            out,
            "- {mode}; {:.0} s in all; one CPU = both processes {}",
            self.wall.as_secs_f64(),
            self.pinning
        );
        let _ = writeln!(
            out,
            "- cells: median (min-max). Ratios of medians, zsock / other: throughput > 1 and \
             latency < 1 mean zsock is ahead; \"best\" is the best of {}. Compare ratios \
             within this run only.\n",
            PEERS.join(", ")
        );
        let others: Vec<&str> = cfg
            .impls
            .iter()
            .copied()
            .filter(|i| *i != "zsock")
            .collect();
        let has_zsock = cfg.impls.contains(&"zsock");
        let has_peer = cfg.impls.iter().any(|i| PEERS.contains(i));
        let mut head = String::from("| test | unit |");
        let mut rule = String::from("|---|---|");
        for imp in &cfg.impls {
            let _ = write!(head, " {imp} |");
            rule.push_str("---|");
        }
        if has_zsock {
            if has_peer {
                head.push_str(" zsock/best |");
                rule.push_str("---|");
            }
            for o in &others {
                let _ = write!(head, " zsock/{o} |");
                rule.push_str("---|");
            }
        }
        let _ = writeln!(out, "{head}\n{rule}");
        let mut errors = Vec::new();
        for (ti, test) in cfg.tests.iter().enumerate() {
            let mut row = format!("| {} | {} |", test.label(), test.unit());
            let mut medians: BTreeMap<&str, f64> = BTreeMap::new();
            for &imp in &cfg.impls {
                let runs = self.cells.get(&(ti, imp)).map_or(&[][..], Vec::as_slice);
                let mut values: Vec<f64> = runs
                    .iter()
                    .filter_map(|r| r.as_ref().ok())
                    .map(|r| test.value(r))
                    .collect();
                let failed = runs.iter().filter(|r| r.is_err()).count();
                for (rep, r) in runs.iter().enumerate() {
                    if let Err(e) = r {
                        errors.push(format!("{}, {imp}, rep {}: {e}", test.label(), rep + 1));
                    }
                }
                if let Some(Err(e)) = self.counts.get(&(ti, imp)) {
                    errors.push(format!("{}, {imp}, calibration: {e}", test.label()));
                }
                let cell = match stats(&mut values) {
                    None if runs.is_empty() && self.counts.get(&(ti, imp)).is_none() => {
                        "-".to_string()
                    }
                    None => "**error**".to_string(),
                    Some((med, min, max)) => {
                        medians.insert(imp, med);
                        let spread = if values.len() > 1 {
                            format!(" ({}-{})", num(min), num(max))
                        } else {
                            String::new()
                        };
                        let err = if failed > 0 {
                            format!(" **{failed} err**")
                        } else {
                            String::new()
                        };
                        format!("{}{spread}{err}", num(med))
                    }
                };
                let _ = write!(row, " {cell} |");
            }
            if has_zsock {
                let z = medians.get("zsock").copied();
                let ratio = |other: Option<f64>| match (z, other) {
                    (Some(z), Some(o)) if o > 0.0 => format!("{:.2}", z / o),
                    _ => "-".to_string(),
                };
                if has_peer {
                    let best = PEERS
                        .iter()
                        .filter_map(|p| medians.get(p).copied())
                        .reduce(|a, b| if test.better(a, b) { a } else { b });
                    let _ = write!(row, " {} |", ratio(best));
                }
                for o in &others {
                    let _ = write!(row, " {} |", ratio(medians.get(o).copied()));
                }
            }
            let _ = writeln!(out, "{row}");
        }

        let _ = writeln!(
            out,
            "\nPeak RSS (VmHWM) in MiB, largest over the repetitions, sender / receiver:\n"
        );
        let mut head = String::from("| test |");
        let mut rule = String::from("|---|");
        for imp in &cfg.impls {
            let _ = write!(head, " {imp} |");
            rule.push_str("---|");
        }
        let _ = writeln!(out, "{head}\n{rule}");
        for (ti, test) in cfg.tests.iter().enumerate() {
            let mut row = format!("| {} |", test.label());
            for &imp in &cfg.impls {
                let ok: Vec<&RunOk> = self
                    .cells
                    .get(&(ti, imp))
                    .map_or(&[][..], Vec::as_slice)
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

        let _ = writeln!(out, "\nCOUNT per run:\n");
        let mut head = String::from("| test |");
        let mut rule = String::from("|---|");
        for imp in &cfg.impls {
            let _ = write!(head, " {imp} |");
            rule.push_str("---|");
        }
        let _ = writeln!(out, "{head}\n{rule}");
        for (ti, test) in cfg.tests.iter().enumerate() {
            let mut row = format!("| {} |", test.label());
            for &imp in &cfg.impls {
                let cell = match self.counts.get(&(ti, imp)) {
                    Some(Ok(n)) => n.to_string(),
                    Some(Err(_)) => "error".to_string(),
                    None => "-".to_string(),
                };
                let _ = write!(row, " {cell} |");
            }
            let _ = writeln!(out, "{row}");
        }

        if !errors.is_empty() {
            let _ = writeln!(out, "\nErrors:\n");
            for e in &errors {
                let _ = writeln!(out, "- {e}");
            }
        }
        out
    }
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
    let mut runner = Runner {
        bin_dir: target_dir().join("release"),
        taskset,
        timeout: cfg.timeout,
        seq: 0,
    };

    let mut counts: BTreeMap<(usize, &'static str), Result<u64>> = BTreeMap::new();
    let total_cells = cfg.tests.len() * cfg.impls.len();
    if cfg.quick {
        for (ti, test) in cfg.tests.iter().enumerate() {
            for &imp in &cfg.impls {
                counts.insert((ti, imp), Ok(test.small_count(true)));
            }
        }
    } else {
        eprintln!(
            "\n==> calibrate COUNT for a ~{} s run ({total_cells} cells)",
            cfg.target_secs
        );
        let mut n = 0;
        for (ti, &test) in cfg.tests.iter().enumerate() {
            for &imp in &cfg.impls {
                n += 1;
                let c = runner.calibrate(imp, test, cfg.target_secs);
                match &c {
                    Ok(count) => eprintln!(
                        "[{n:>3}/{total_cells}] {:<22} {imp:<7} COUNT {count}",
                        test.label()
                    ),
                    Err(e) => eprintln!(
                        "[{n:>3}/{total_cells}] {:<22} {imp:<7} calibration failed: {e}",
                        test.label()
                    ),
                }
                counts.insert((ti, imp), c);
            }
        }
    }

    eprintln!(
        "\n==> {} repetition(s) of {total_cells} cells, interleaved",
        cfg.reps
    );
    let mut cells: Cells = BTreeMap::new();
    let total = cfg.reps * total_cells;
    let mut n = 0;
    let mut failures = 0;
    for rep in 0..cfg.reps {
        for (ti, &test) in cfg.tests.iter().enumerate() {
            for &imp in &cfg.impls {
                n += 1;
                let Some(&Ok(count)) = counts.get(&(ti, imp)) else {
                    continue;
                };
                let t = Instant::now();
                let r = runner.run(imp, test, count);
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
                    cfg.reps,
                    test.label(),
                    t.elapsed().as_secs_f64()
                );
                cells.entry((ti, imp)).or_default().push(r);
            }
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
    let name = if cfg.quick {
        format!("results-quick-{stamp}.md")
    } else {
        format!("results-{stamp}.md")
    };
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
