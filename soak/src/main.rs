//! `zsock-soak`: minutes of random SIGKILLs and restarts of a binder and 8 connectors, with a
//! hostile client sending malformed input all along and a ROUTER holding 5 000 connections
//! (TESTING.md case 24, and the long forms of cases 20 and 14). `cargo xtask soak
//! [--minutes N]` builds it in release and runs it.
//!
//! One binary plays every part. With no role argument it is the orchestrator: it re-runs
//! itself as `binder`, `connector`, `hostile` and `hold` children (see `roles`), reads the
//! lines they print, kills and restarts them at random, samples their RSS every second, and
//! at the end prints the figures TESTING.md lists and exits non-zero if any counter
//! that must be zero is not (panics, aborts, corrupted or duplicated messages, losses that no
//! kill explains, descriptor leaks, leftover socket files).
//!
//! What it deliberately does not do: judge speed. Reconnect times and gaps are reported, not
//! asserted.

mod common;
mod roles;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{mono_ns, open_fds, rss_kib, Rng};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize| args.get(i).cloned().unwrap_or_default();
    let num = |i: usize| arg(i).parse::<u64>().unwrap_or(0);
    match args.first().map(String::as_str) {
        Some("binder") => roles::binder(&arg(1), &arg(2)),
        Some("connector") => {
            roles::connector(&arg(1), num(2) as u32, num(3) as u32, num(4) as u32, num(5))
        }
        Some("hostile") => roles::hostile(&arg(1), &arg(2), num(3)),
        Some("hold") => roles::hold(&arg(1), num(2) as usize),
        _ => {
            return match Opts::parse(&args) {
                Ok(opts) => orchestrate(opts),
                Err(e) => {
                    eprintln!("zsock-soak: {e}");
                    eprintln!(
                        "usage: zsock-soak [--minutes N | --seconds N] [--connections N] \
                         [--connectors N] [--rate MSGS_PER_S] [--seed N]"
                    );
                    ExitCode::from(2)
                }
            }
        }
    }
    ExitCode::SUCCESS
}

struct Opts {
    duration: Duration,
    connections: usize,
    connectors: u32,
    rate: u32,
    seed: u64,
}

impl Opts {
    fn parse(args: &[String]) -> Result<Opts, String> {
        let mut o = Opts {
            duration: Duration::from_secs(180),
            connections: 5000,
            connectors: 8,
            rate: 500,
            seed: mono_ns() ^ u64::from(std::process::id()),
        };
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let mut value = || -> Result<f64, String> {
                it.next()
                    .and_then(|v| v.parse::<f64>().ok())
                    .filter(|v| *v >= 0.0)
                    .ok_or_else(|| format!("{a} takes a number"))
            };
            match a.as_str() {
                "--minutes" => o.duration = Duration::from_secs_f64(value()? * 60.0),
                "--seconds" => o.duration = Duration::from_secs_f64(value()?),
                "--connections" => o.connections = value()? as usize,
                "--connectors" => o.connectors = (value()? as u32).max(1),
                "--rate" => o.rate = (value()? as u32).max(1),
                "--seed" => o.seed = value()? as u64,
                other => return Err(format!("unknown argument `{other}`")),
            }
        }
        Ok(o)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Role {
    Binder,
    Connector(u32),
    Hostile,
    Hold,
}

impl Role {
    fn class(self) -> &'static str {
        match self {
            Role::Binder => "binder",
            Role::Connector(_) => "connectors",
            Role::Hostile => "hostile",
            Role::Hold => "hold",
        }
    }
}

struct Proc {
    role: Role,
    child: Child,
    stdin: Option<ChildStdin>,
    reader: Option<JoinHandle<()>>,
}

/// A line a child printed (`None`: its stdout closed), and when it was read.
struct Out {
    id: u64,
    line: Option<String>,
    at: Instant,
}

/// One binder process's life.
struct BinderRun {
    id: u64,
    bound_mono: Option<u64>,
    first_msg_at: Option<Instant>,
    killed_at: Option<Instant>,
    /// Messages that vanished in the kill before this run (seen as gaps at its start).
    lost_at_start: u64,
    reconnect_ms: Vec<f64>,
    hs_seen: HashSet<i32>,
}

/// One connector process's message stream, as the binders saw it.
struct Stream {
    last: u64,
    binder: u64,
}

#[derive(Default)]
struct Stats {
    panics: u64,
    aborts: u64,
    unexpected: Vec<String>,
    errors: Vec<String>,
    corrupted: u64,
    corrupted_examples: Vec<String>,
    duplicated: u64,
    lost_unexplained: u64,
    delivered: u64,
    binder_kills: u64,
    connector_kills: u64,
    binders: Vec<BinderRun>,
    streams: HashMap<(u32, u32), Stream>,
    /// (conn, epoch) -> when that connector process started (CLOCK_MONOTONIC).
    epoch_started: HashMap<(u32, u32), u64>,
    /// Connector pid -> when it started.
    connector_pids: HashMap<i32, u64>,
    connector_restart_to_first_ms: Vec<f64>,
    restart_pending_first: HashMap<(u32, u32), Instant>,
    sent_final: Vec<(u32, u32, u64)>,
    fds: Vec<(String, usize, usize)>,
    hold_ready: Option<String>,
    hold_rounds: Vec<String>,
    hold_rss: Vec<u64>,
    hold_lost: u64,
    hold_wrong: u64,
    hold_dup: u64,
    hold_end: Option<String>,
    hostile_end: Option<String>,
    binder_ends: Vec<String>,
    /// (class, minute) -> peak RSS in KiB.
    rss_peak: BTreeMap<(usize, &'static str), u64>,
}

/// The number after `key` in a line of `key value` pairs.
fn field(line: &str, key: &str) -> Option<u64> {
    let mut words = line.split_whitespace();
    while let Some(w) = words.next() {
        if w == key {
            return words.next()?.parse().ok();
        }
    }
    None
}

struct Soak {
    opts: Opts,
    exe: PathBuf,
    dir: PathBuf,
    bind_ep: String,
    /// The binder's second endpoint, on loopback TCP, which only the hostile client uses.
    bind_tcp: String,
    hold_ep: String,
    rng: Rng,
    tx: Sender<Out>,
    rx: Receiver<Out>,
    next_id: u64,
    live: HashMap<u64, Proc>,
    roles: HashMap<u64, Role>,
    binder: Option<u64>,
    connectors: Vec<Option<u64>>,
    epochs: Vec<u32>,
    restarts: Vec<(Instant, Role)>,
    /// Processes asked to stop (stdin closed); their end is expected.
    stopping: HashSet<u64>,
    ended: HashSet<u64>,
    start: Instant,
    stats: Stats,
}

impl Soak {
    fn spawn(&mut self, role: Role) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let mut cmd = Command::new(&self.exe);
        match role {
            Role::Binder => {
                cmd.args(["binder", &self.bind_ep, &self.bind_tcp]);
            }
            Role::Connector(c) => {
                let epoch = self.epochs[c as usize];
                self.epochs[c as usize] += 1;
                let seed = self.rng.next_u64();
                cmd.args([
                    "connector".to_string(),
                    self.bind_ep.clone(),
                    c.to_string(),
                    epoch.to_string(),
                    self.opts.rate.to_string(),
                    seed.to_string(),
                ]);
                self.stats.epoch_started.insert((c, epoch), mono_ns());
                if epoch > 0 {
                    self.stats
                        .restart_pending_first
                        .insert((c, epoch), Instant::now());
                }
            }
            Role::Hostile => {
                let seed = self.rng.next_u64();
                cmd.args([
                    "hostile".to_string(),
                    self.bind_ep.clone(),
                    self.bind_tcp.clone(),
                    seed.to_string(),
                ]);
            }
            Role::Hold => {
                cmd.args([
                    "hold".to_string(),
                    self.hold_ep.clone(),
                    self.opts.connections.to_string(),
                ]);
            }
        }
        let started = mono_ns();
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn a soak child");
        if let Role::Connector(_) = role {
            self.stats.connector_pids.insert(child.id() as i32, started);
        }
        let stdout = child.stdout.take().expect("piped stdout");
        let tx = self.tx.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let at = Instant::now();
                if tx
                    .send(Out {
                        id,
                        line: Some(line),
                        at,
                    })
                    .is_err()
                {
                    return;
                }
            }
            let _ = tx.send(Out {
                id,
                line: None,
                at: Instant::now(),
            });
        });
        self.live.insert(
            id,
            Proc {
                role,
                stdin: child.stdin.take(),
                child,
                reader: Some(reader),
            },
        );
        self.roles.insert(id, role);
        match role {
            Role::Binder => {
                self.binder = Some(id);
                self.stats.binders.push(BinderRun {
                    id,
                    bound_mono: None,
                    first_msg_at: None,
                    killed_at: None,
                    lost_at_start: 0,
                    reconnect_ms: Vec::new(),
                    hs_seen: HashSet::new(),
                });
            }
            Role::Connector(c) => self.connectors[c as usize] = Some(id),
            _ => {}
        }
        id
    }

    /// SIGKILLs `id` and reaps it; every line it printed is in the channel afterwards.
    fn kill(&mut self, id: u64) {
        let Some(mut p) = self.live.remove(&id) else {
            return;
        };
        let _ = p.child.kill();
        let _ = p.child.wait();
        if let Some(r) = p.reader.take() {
            let _ = r.join();
        }
        self.ended.insert(id);
        match p.role {
            Role::Binder => {
                self.binder = None;
                self.stats.binder_kills += 1;
                if let Some(run) = self.stats.binders.iter_mut().find(|r| r.id == id) {
                    run.killed_at = Some(Instant::now());
                }
            }
            Role::Connector(c) => {
                self.connectors[c as usize] = None;
                self.stats.connector_kills += 1;
            }
            _ => {}
        }
    }

    fn classify_exit(&mut self, what: &str, status: ExitStatus) {
        if status.code() == Some(101) {
            self.stats.panics += 1;
        }
        if status.code() == Some(134) || status.signal() == Some(libc::SIGABRT) {
            self.stats.aborts += 1;
        }
        self.stats.unexpected.push(format!("{what}: {status}"));
    }

    fn handle(&mut self, out: Out) {
        let Some(role) = self.roles.get(&out.id).copied() else {
            return;
        };
        let Some(line) = out.line else {
            self.ended.insert(out.id);
            if self.stopping.contains(&out.id) || !self.live.contains_key(&out.id) {
                return;
            }
            // Nobody asked it to end: reap it and find out why.
            if let Some(mut p) = self.live.remove(&out.id) {
                let status = p.child.wait().expect("wait");
                if let Some(r) = p.reader.take() {
                    let _ = r.join();
                }
                self.classify_exit(&format!("{role:?} (id {}) ended", out.id), status);
                match role {
                    Role::Binder => self.binder = None,
                    Role::Connector(c) => self.connectors[c as usize] = None,
                    _ => {}
                }
                self.restarts.push((Instant::now(), role));
            }
            return;
        };
        let mut words = line.split_whitespace();
        match words.next().unwrap_or("") {
            "panic" => {
                self.stats.panics += 1;
                eprintln!("zsock-soak: {role:?} {line}");
            }
            "error" => {
                eprintln!("zsock-soak: {role:?} {line}");
                self.stats.errors.push(format!("{role:?}: {line}"));
            }
            "fds" => {
                let mut n = || words.next().and_then(|w| w.parse().ok());
                let (a, b) = (n().unwrap_or(0), n().unwrap_or(usize::MAX));
                self.stats.fds.push((format!("{role:?}"), a, b));
            }
            "panics" => {}
            "bound" => {
                let t = words.next().and_then(|w| w.parse().ok());
                if let Some(run) = self.stats.binders.iter_mut().find(|r| r.id == out.id) {
                    run.bound_mono = t;
                }
            }
            "hs" => self.handshake(out.id, &line),
            "m" => self.message(out.id, &line, out.at),
            "bad" => {
                self.stats.corrupted += 1;
                if self.stats.corrupted_examples.len() < 10 {
                    self.stats.corrupted_examples.push(line.clone());
                }
            }
            "binder-end" => self.stats.binder_ends.push(line),
            "sent" => {
                let v: Vec<u64> = words.filter_map(|w| w.parse().ok()).collect();
                if let [c, e, n] = v[..] {
                    self.stats.sent_final.push((c as u32, e as u32, n));
                }
            }
            "hostile-end" => self.stats.hostile_end = Some(line),
            "hold-ready" => {
                self.stats.hold_lost += field(&line, "lost").unwrap_or(0);
                self.stats.hold_wrong += field(&line, "wrong").unwrap_or(0);
                self.stats.hold_dup += field(&line, "duplicated").unwrap_or(0);
                self.stats.hold_ready = Some(line);
            }
            "hold-round" => {
                self.stats.hold_lost += field(&line, "lost").unwrap_or(0);
                self.stats.hold_wrong += field(&line, "wrong").unwrap_or(0);
                self.stats.hold_dup += field(&line, "duplicated").unwrap_or(0);
                if let Some(r) = field(&line, "rss") {
                    self.stats.hold_rss.push(r);
                }
                self.stats.hold_rounds.push(line);
            }
            "hold-end" => self.stats.hold_end = Some(line),
            _ => {}
        }
    }

    fn run_index(&self, binder: u64) -> Option<usize> {
        self.stats.binders.iter().position(|r| r.id == binder)
    }

    fn handshake(&mut self, binder: u64, line: &str) {
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|w| w.parse().ok())
            .collect();
        let [at, pid] = v[..] else { return };
        let pid = pid as i32;
        let Some(i) = self.run_index(binder) else {
            return;
        };
        let started = self.stats.connector_pids.get(&pid).copied();
        let run = &mut self.stats.binders[i];
        // A reconnect: a connector that was running before this binder bound (only after a
        // restart; the first binder's connectors connect for the first time).
        if let (true, Some(bound), Some(started)) = (i > 0, run.bound_mono, started) {
            if started < bound && run.hs_seen.insert(pid) {
                run.reconnect_ms.push((at as f64 - bound as f64) / 1e6);
            }
        }
    }

    fn message(&mut self, binder: u64, line: &str, at: Instant) {
        let v: Vec<u64> = line
            .split_whitespace()
            .skip(1)
            .filter_map(|w| w.parse().ok())
            .collect();
        let [c, e, s] = v[..] else {
            self.stats.corrupted += 1;
            return;
        };
        let key = (c as u32, e as u32);
        self.stats.delivered += 1;
        let Some(i) = self.run_index(binder) else {
            return;
        };
        if self.stats.binders[i].first_msg_at.is_none() {
            self.stats.binders[i].first_msg_at = Some(at);
        }
        if let Some(t) = self.stats.restart_pending_first.remove(&key) {
            self.stats
                .connector_restart_to_first_ms
                .push(at.duration_since(t).as_secs_f64() * 1e3);
        }
        match self.stats.streams.get_mut(&key) {
            Some(st) => {
                if s <= st.last {
                    self.stats.duplicated += 1;
                    return;
                }
                let gap = s - st.last - 1;
                if gap > 0 {
                    if st.binder == binder {
                        self.stats.lost_unexplained += gap;
                    } else {
                        self.stats.binders[i].lost_at_start += gap;
                    }
                }
                st.last = s;
                st.binder = binder;
            }
            None => {
                if s > 0 {
                    // Its first messages went to an earlier binder that died with them:
                    // explained only if this connector ran before this binder bound.
                    let started = self.stats.epoch_started.get(&key).copied();
                    let bound = self.stats.binders[i].bound_mono;
                    match (started, bound) {
                        (Some(st), Some(b)) if i > 0 && st < b => {
                            self.stats.binders[i].lost_at_start += s
                        }
                        _ => self.stats.lost_unexplained += s,
                    }
                }
                self.stats.streams.insert(key, Stream { last: s, binder });
            }
        }
    }

    fn sample(&mut self) {
        let minute = (self.start.elapsed().as_secs() / 60) as usize;
        let mut peaks: Vec<(&'static str, u64)> =
            vec![("orchestrator", rss_kib(None).unwrap_or(0))];
        for p in self.live.values() {
            if let Some(r) = rss_kib(Some(p.child.id())) {
                peaks.push((p.role.class(), r));
            }
        }
        for (class, r) in peaks {
            let e = self.stats.rss_peak.entry((minute, class)).or_insert(0);
            *e = (*e).max(r);
        }
    }

    /// Handles output until `deadline` (or until `done` says to stop).
    fn pump_until(&mut self, deadline: Instant, mut done: impl FnMut(&Soak) -> bool) -> bool {
        loop {
            if done(self) {
                return true;
            }
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            match self
                .rx
                .recv_timeout((deadline - now).min(Duration::from_millis(200)))
            {
                Ok(out) => self.handle(out),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => return done(self),
            }
        }
    }

    /// Closes the stdin of `ids`, waits for them to end by themselves and checks their exit.
    fn stop(&mut self, ids: &[u64], timeout: Duration) {
        for id in ids {
            self.stopping.insert(*id);
            if let Some(p) = self.live.get_mut(id) {
                drop(p.stdin.take());
            }
        }
        let deadline = Instant::now() + timeout;
        let ids_owned = ids.to_vec();
        self.pump_until(deadline, |s| ids_owned.iter().all(|i| s.ended.contains(i)));
        for id in ids {
            let Some(mut p) = self.live.remove(id) else {
                continue;
            };
            let role = p.role;
            if !self.ended.contains(id) {
                let _ = p.child.kill();
                self.stats.unexpected.push(format!(
                    "{role:?} (id {id}) did not stop within {timeout:?}"
                ));
            }
            let status = p.child.wait().expect("wait");
            if let Some(r) = p.reader.take() {
                let _ = r.join();
            }
            if !status.success() {
                self.classify_exit(&format!("{role:?} (id {id}) at the end"), status);
            }
        }
    }

    fn progress(&self) {
        eprintln!(
            "zsock-soak: {:>4}s: {} messages delivered, kills: {} binder / {} connector, \
             corrupted {}, duplicated {}, panics {}, aborts {}",
            self.start.elapsed().as_secs(),
            self.stats.delivered,
            self.stats.binder_kills,
            self.stats.connector_kills,
            self.stats.corrupted,
            self.stats.duplicated,
            self.stats.panics,
            self.stats.aborts
        );
    }
}

/// A loopback TCP port nothing listens on now, for the binder, which binds it again after
/// each restart (SO_REUSEADDR, as libzmq sets it).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    l.local_addr().expect("its address").port()
}

fn orchestrate(opts: Opts) -> ExitCode {
    let fds_before = open_fds();
    let dir = std::env::temp_dir().join(format!("zsock-soak-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        eprintln!("zsock-soak: cannot create {}: {e}", dir.display());
        return ExitCode::FAILURE;
    }
    let (tx, rx) = mpsc::channel();
    let mut s = Soak {
        exe: std::env::current_exe().expect("current_exe"),
        bind_ep: format!("ipc://{}", dir.join("binder.sock").display()),
        bind_tcp: format!("tcp://127.0.0.1:{}", free_port()),
        hold_ep: format!("ipc://{}", dir.join("hold.sock").display()),
        dir,
        rng: Rng::new(opts.seed),
        connectors: vec![None; opts.connectors as usize],
        epochs: vec![0; opts.connectors as usize],
        opts,
        tx,
        rx,
        next_id: 0,
        live: HashMap::new(),
        roles: HashMap::new(),
        binder: None,
        restarts: Vec::new(),
        stopping: HashSet::new(),
        ended: HashSet::new(),
        start: Instant::now(),
        stats: Stats::default(),
    };
    eprintln!(
        "zsock-soak: {:?}, {} connectors at {} msg/s each, {} held connections, seed {}; \
         endpoints in {}",
        s.opts.duration,
        s.opts.connectors,
        s.opts.rate,
        s.opts.connections,
        s.opts.seed,
        s.dir.display()
    );

    // The holder first: its memory per connection is measured on a quiet machine.
    let hold = s.spawn(Role::Hold);
    let held = s.pump_until(Instant::now() + Duration::from_secs(180), |s| {
        s.stats.hold_ready.is_some() || s.ended.contains(&hold)
    });
    if let Some(r) = &s.stats.hold_ready {
        eprintln!("zsock-soak: {r}");
    } else {
        s.stats
            .errors
            .push(format!("the holder never got ready (in time: {held})"));
    }
    let first = s.spawn(Role::Binder);
    s.pump_until(Instant::now() + Duration::from_secs(30), |s| {
        s.stats.binders[0].bound_mono.is_some() || s.ended.contains(&first)
    });
    for c in 0..s.opts.connectors {
        s.spawn(Role::Connector(c));
    }
    let hostile = s.spawn(Role::Hostile);

    s.start = Instant::now();
    let end = s.start + s.opts.duration;
    let mut next_kill = s.start + s.rng.millis(1500, 4500);
    let mut next_sample = s.start;
    let mut next_progress = s.start + Duration::from_secs(30);
    while Instant::now() < end {
        let now = Instant::now();
        let mut wake = end.min(next_kill).min(next_sample);
        for (at, _) in &s.restarts {
            wake = wake.min(*at);
        }
        if let Ok(out) = s.rx.recv_timeout(wake.saturating_duration_since(now)) {
            s.handle(out);
        }
        let now = Instant::now();
        if now >= next_sample {
            s.sample();
            next_sample = now + Duration::from_secs(1);
        }
        if now >= next_progress {
            s.progress();
            next_progress = now + Duration::from_secs(30);
        }
        let due: Vec<Role> = s
            .restarts
            .iter()
            .filter(|(at, _)| *at <= now)
            .map(|(_, r)| *r)
            .collect();
        s.restarts.retain(|(at, _)| *at > now);
        for role in due {
            s.spawn(role);
        }
        if now >= next_kill {
            next_kill = now + s.rng.millis(1500, 4500);
            let victim = if s.rng.below(10) < 4 {
                s.binder.map(|b| (b, Role::Binder, s.rng.millis(0, 500)))
            } else {
                let c = s.rng.below(u64::from(s.opts.connectors)) as u32;
                s.connectors[c as usize].map(|id| (id, Role::Connector(c), s.rng.millis(0, 300)))
            };
            if let Some((id, role, delay)) = victim {
                s.kill(id);
                s.restarts.push((Instant::now() + delay, role));
            }
        }
    }

    // The end: everyone back up, a quiet moment, then a clean stop of each.
    for (_, role) in std::mem::take(&mut s.restarts) {
        s.spawn(role);
    }
    s.pump_until(Instant::now() + Duration::from_secs(3), |_| false);
    s.sample();
    let connectors: Vec<u64> = s.connectors.iter().flatten().copied().collect();
    s.stop(&connectors, Duration::from_secs(30));
    s.stop(&[hostile], Duration::from_secs(30));
    if let Some(b) = s.binder {
        s.stop(&[b], Duration::from_secs(30));
    }
    s.stop(&[hold], Duration::from_secs(120));
    while let Ok(out) = s.rx.try_recv() {
        s.handle(out);
    }
    let leftovers: Vec<String> = std::fs::read_dir(&s.dir)
        .map(|d| {
            d.filter_map(|e| Some(e.ok()?.file_name().to_string_lossy().into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let _ = std::fs::remove_dir_all(&s.dir);
    let ok = report(&s, &leftovers);
    let Soak { tx, rx, live, .. } = s;
    drop((tx, rx, live));
    let fds_after = open_fds();
    println!("  orchestrator fds: {fds_before} before, {fds_after} after");
    if ok && fds_after <= fds_before {
        println!("zsock-soak: PASS");
        ExitCode::SUCCESS
    } else {
        println!("zsock-soak: FAIL");
        ExitCode::FAILURE
    }
}

fn stats_ms(v: &[f64]) -> String {
    if v.is_empty() {
        return "n/a".into();
    }
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let pct = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    format!(
        "min {:.0} / median {:.0} / p95 {:.0} / max {:.0} ms (n={})",
        v[0],
        pct(0.5),
        pct(0.95),
        v[v.len() - 1],
        v.len()
    )
}

/// Prints the figures; returns whether every must-be-zero counter is zero.
fn report(s: &Soak, leftovers: &[String]) -> bool {
    let st = &s.stats;
    let secs = s.start.elapsed().as_secs_f64();
    let mut lost_at_end = 0u64;
    for (c, e, n) in &st.sent_final {
        let last = st.streams.get(&(*c, *e)).map(|x| x.last + 1).unwrap_or(0);
        lost_at_end += n.saturating_sub(last);
    }
    let fd_leaks: Vec<&(String, usize, usize)> = st.fds.iter().filter(|(_, a, b)| b > a).collect();
    let restarts: Vec<&BinderRun> = st.binders.iter().skip(1).collect();
    let gaps: Vec<f64> = restarts.iter().map(|r| r.lost_at_start as f64).collect();
    let mut times = Vec::new();
    for w in st.binders.windows(2) {
        if let (Some(k), Some(f)) = (w[0].killed_at, w[1].first_msg_at) {
            times.push(f.duration_since(k).as_secs_f64() * 1e3);
        }
    }
    let reconnects: Vec<f64> = restarts
        .iter()
        .flat_map(|r| r.reconnect_ms.iter().copied())
        .collect();
    let over = reconnects.iter().filter(|r| **r > 300.0).count();

    println!(
        "\n=== zsock soak: {:.1} min, seed {} ===",
        secs / 60.0,
        s.opts.seed
    );
    println!("  panics: {}", st.panics);
    println!("  aborts: {}", st.aborts);
    println!(
        "  unexpected exits: {} {:?}",
        st.unexpected.len(),
        st.unexpected
    );
    println!(
        "  errors reported by children: {} {:?}",
        st.errors.len(),
        st.errors
    );
    println!(
        "  corrupted messages: {} {:?}",
        st.corrupted, st.corrupted_examples
    );
    println!("  duplicated or reordered messages: {}", st.duplicated);
    println!("  messages lost without a kill: {}", st.lost_unexplained);
    println!("  messages lost at the clean stop: {lost_at_end}");
    println!(
        "  messages delivered: {} ({:.0}/s) from {} connector processes",
        st.delivered,
        st.delivered as f64 / secs.max(1e-9),
        st.epoch_started.len()
    );
    println!(
        "  kills (SIGKILL): binder {}, connectors {}",
        st.binder_kills, st.connector_kills
    );
    println!("  gap per binder kill, messages lost: {}", {
        let g = stats_ms(&gaps);
        g.replace(" ms", "")
    });
    println!(
        "  gap per binder kill, kill to next binder's first message: {}",
        stats_ms(&times)
    );
    println!(
        "  reconnect after a new bind (per connector): {}; over RECONNECT_IVL + 200 ms: {over}",
        stats_ms(&reconnects)
    );
    println!(
        "  connector restart to its first delivered message: {}",
        stats_ms(&st.connector_restart_to_first_ms)
    );
    for (i, r) in restarts.iter().enumerate() {
        let t = st.binders[i]
            .killed_at
            .zip(r.first_msg_at)
            .map(|(k, f)| format!("{:.0} ms", f.duration_since(k).as_secs_f64() * 1e3))
            .unwrap_or_else(|| "-".into());
        let rc = r.reconnect_ms.iter().copied().fold(0.0, f64::max);
        println!(
            "    kill {:>2}: {:>5} messages lost, first message {t} after the kill, slowest \
             reconnect {rc:.0} ms after the bind",
            i + 1,
            r.lost_at_start
        );
    }
    if let Some(h) = &st.hostile_end {
        println!("  hostile: {h}");
    }
    for b in &st.binder_ends {
        println!("  final binder: {b}");
    }
    println!(
        "  connections held: {}",
        st.hold_ready.as_deref().unwrap_or("holder never ready")
    );
    if let Some(line) = &st.hold_ready {
        let n = field(line, "peers").unwrap_or(0).max(1);
        let before = field(line, "rss-before").unwrap_or(0);
        let per = |k: u64| k.saturating_sub(before) * 1024 / n;
        println!(
            "    memory per idle connection: {} B connected, {} B after 10 echoes each",
            per(field(line, "rss-connected").unwrap_or(0)),
            per(field(line, "rss-after-echoes").unwrap_or(0))
        );
    }
    println!(
        "    echo rounds during the soak: {} (lost {}, wrong {}, duplicated {}); holder RSS \
         first/last round: {:?}/{:?} KiB",
        st.hold_rounds.len(),
        st.hold_lost,
        st.hold_wrong,
        st.hold_dup,
        st.hold_rss.first(),
        st.hold_rss.last()
    );
    if let Some(h) = &st.hold_end {
        println!("    {h}");
    }
    println!(
        "  fds back to baseline (graceful exits): {} of {}",
        st.fds.len() - fd_leaks.len(),
        st.fds.len()
    );
    for (who, a, b) in &st.fds {
        println!("    {who}: {a} before, {b} after");
    }
    println!("  leftover files in the endpoint directory: {leftovers:?}");
    println!("  peak RSS per minute (KiB):");
    let minutes: Vec<usize> = {
        let mut m: Vec<usize> = st.rss_peak.keys().map(|(m, _)| *m).collect();
        m.dedup();
        m
    };
    for m in &minutes {
        let row: Vec<String> = ["orchestrator", "binder", "connectors", "hostile", "hold"]
            .iter()
            .map(|c| format!("{c} {}", st.rss_peak.get(&(*m, *c)).copied().unwrap_or(0)))
            .collect();
        println!("    minute {}: {}", m + 1, row.join(", "));
    }
    // Flat memory: the long-lived holder's last sample within 25% (+4 MiB) of its first.
    let flat = match (st.hold_rss.first(), st.hold_rss.last()) {
        (Some(a), Some(b)) => *b <= a + a / 4 + 4096,
        _ => true,
    };
    println!("  holder memory flat: {flat}");
    st.panics == 0
        && st.aborts == 0
        && st.unexpected.is_empty()
        && st.errors.is_empty()
        && st.corrupted == 0
        && st.duplicated == 0
        && st.lost_unexplained == 0
        && lost_at_end == 0
        && fd_leaks.is_empty()
        && st.hold_lost == 0
        && st.hold_wrong == 0
        && st.hold_dup == 0
        && st.hold_ready.is_some()
        && leftovers.is_empty()
        && flat
}
