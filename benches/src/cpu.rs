//! What an async receiver costs in CPU while it waits: idle (a connected peer that sends
//! nothing) and at a modest, timer-paced rate. Written once against [`Library`] so
//! `bench-zsock-tokio`, `bench-zeromq` and `bench-omq` run the same loops, on the runtime
//! [`crate::RUNTIME_VAR`] picks. The command lines:
//! ```text
//! bench-NAME [--cpu N] cpu-push ENDPOINT RATE SECS   # PUSH binds, sends the paced messages
//! bench-NAME [--cpu N] cpu-pull ENDPOINT RATE SECS   # PULL connects, receives them; RESULT
//! ```
//! Both sides take the same RATE (messages per second, 0 for idle) and SECS, and so agree
//! on the number of messages: RATE x SECS (rounded, at least 1). With RATE 0 the PUSH
//! binds, sleeps SECS and sends one message, which ends the PULL's wait. With RATE > 0 it
//! sends the first message as soon as it can (once a peer has connected) and message `i`
//! at `i / RATE` seconds after it, each on a tokio timer (`sleep_until`, so the pace does
//! not drift). Every message is [`SIZE`] bytes copied from a user buffer, as in the other
//! modes; the PUSH stays open until released, like thr-push.
//!
//! The PULL measures from just after its connect call until it has received the last
//! message, with `getrusage(RUSAGE_SELF)` (user + system CPU of every thread of the
//! process: the runtime's workers and the library's own threads included) at both ends,
//! and prints
//! ```text
//! RESULT kind=cpu impl=NAME rate=R msgs=N secs=T cpu_s=C cpu_ms_per_s=X csw=W rss_kb=K
//! PEER kind=cpu role=cpu-push impl=NAME rate=R msgs=N secs=T cpu_s=C cpu_ms_per_s=X csw=W rss_kb=K
//! ```
//! `cpu_ms_per_s` is CPU milliseconds per second of wall time (10 is 1% of one CPU), `csw`
//! the voluntary and involuntary context switches in the span. The PEER line is the PUSH's
//! own: from its first send to its last (RATE > 0), or from its bind to its one send.

use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

use crate::scale::{Span, Usage};
use crate::{
    main_with_tokio, parse_cpu, payload, peak_rss_kb, print_outcome, released, usage_error, Args,
    Flavor, Outcome,
};

/// Size of every message of the CPU scenarios.
pub const SIZE: usize = 64;

/// The calls the CPU scenarios make, implemented by each async bench binary for its
/// library with default options. Errors are rendered as text.
#[allow(async_fn_in_trait)] // run with block_on on the calling thread: no Send needed
pub trait Library {
    /// A PUSH socket (with whatever must outlive it, such as its context).
    type Push;
    /// A PULL socket (likewise).
    type Pull;

    /// A PUSH bound to `endpoint`.
    async fn bind_push(endpoint: &str) -> Result<Self::Push, String>;
    /// A PULL connected to `endpoint` (retrying if the library does not).
    async fn connect_pull(endpoint: &str) -> Result<Self::Pull, String>;
    /// Sends `data` as one message, copying it; waits for a peer if there is none yet.
    async fn send(push: &mut Self::Push, data: &[u8]) -> Result<(), String>;
    /// Receives one message and returns the size of its (first) frame.
    async fn recv(pull: &mut Self::Pull) -> Result<usize, String>;
    /// Closes a PUSH once released.
    async fn close(push: Self::Push) -> Result<(), String> {
        drop(push);
        Ok(())
    }
}

/// One side of a CPU scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CpuMode {
    /// PUSH binds and sends the paced messages.
    Push,
    /// PULL connects, receives them and prints RESULT.
    Pull,
}

impl CpuMode {
    /// The mode's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            CpuMode::Push => "cpu-push",
            CpuMode::Pull => "cpu-pull",
        }
    }
}

/// A parsed CPU-scenario command line.
#[derive(Debug, Clone)]
pub struct CpuArgs {
    /// The side.
    pub mode: CpuMode,
    /// The endpoint as given.
    pub endpoint: String,
    /// Messages per second; 0: idle, one message after SECS.
    pub rate: f64,
    /// How long the scenario lasts.
    pub secs: f64,
    /// `--cpu N`: the CPU the process was pinned to.
    pub cpu: Option<usize>,
}

impl CpuArgs {
    /// Messages both sides handle: RATE x SECS, at least one.
    pub fn messages(&self) -> u64 {
        ((self.rate * self.secs).round() as u64).max(1)
    }
}

const USAGE: &str = "usage: BIN [--cpu N] cpu-push|cpu-pull ENDPOINT RATE SECS";

/// Whether a command line (without the program name) asks for a CPU scenario.
pub fn is_cpu_command(args: &[String]) -> bool {
    parse_cpu(args).is_ok_and(|(_, rest)| rest.first().is_some_and(|m| m.starts_with("cpu-")))
}

/// Parses `[--cpu N] cpu-push|cpu-pull ENDPOINT RATE SECS` (without the program name).
pub fn parse_cpu_args(args: &[String]) -> Result<CpuArgs, String> {
    let (cpu, rest) = parse_cpu(args)?;
    let [mode, endpoint, rate, secs] = rest[..] else {
        return Err(USAGE.into());
    };
    let mode = match mode {
        "cpu-push" => CpuMode::Push,
        "cpu-pull" => CpuMode::Pull,
        _ => return Err(format!("unknown mode `{mode}`\n{USAGE}")),
    };
    let rate = rate
        .parse::<f64>()
        .ok()
        .filter(|r| *r >= 0.0 && r.is_finite())
        .ok_or_else(|| format!("RATE `{rate}` is not a number of at least 0"))?;
    let secs = secs
        .parse::<f64>()
        .ok()
        .filter(|s| *s > 0.0 && s.is_finite())
        .ok_or_else(|| format!("SECS `{secs}` is not a positive number"))?;
    Ok(CpuArgs {
        mode,
        endpoint: endpoint.to_string(),
        rate,
        secs,
        cpu,
    })
}

/// The RESULT or PEER line of a CPU scenario.
#[derive(Debug, Clone)]
pub struct CpuReport<'a> {
    /// Implementation name.
    pub imp: &'a str,
    /// The command line.
    pub args: &'a CpuArgs,
    /// The side's span.
    pub span: Span,
    /// Peak RSS in KiB, if known.
    pub rss_kb: Option<u64>,
}

impl fmt::Display for CpuReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (imp, s) = (self.imp, &self.span);
        match self.args.mode {
            CpuMode::Pull => write!(f, "RESULT kind=cpu impl={imp}")?,
            CpuMode::Push => write!(f, "PEER kind=cpu role=cpu-push impl={imp}")?,
        }
        let per_s = if s.secs > 0.0 {
            s.cpu_s * 1e3 / s.secs
        } else {
            0.0
        };
        write!(
            f,
            " rate={} msgs={} secs={:.6} cpu_s={:.6} cpu_ms_per_s={per_s:.4} csw={}",
            self.args.rate, s.msgs, s.secs, s.cpu_s, s.switches
        )?;
        if let Some(kb) = self.rss_kb {
            write!(f, " rss_kb={kb}")?;
        }
        Ok(())
    }
}

/// The `main` of an async bench binary: CPU scenarios run here with library `L`, every
/// other command line goes to [`main_with_tokio`] and `run`. Both on the runtime
/// [`crate::RUNTIME_VAR`] picks, under the name [`Flavor::name`] gives.
pub fn main_with_cpu<L: Library>(
    imp: &str,
    run: impl AsyncFnOnce(&Args) -> Result<Outcome, String>,
) -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if !is_cpu_command(&argv) {
        return main_with_tokio(imp, run);
    }
    let (flavor, args) = match Flavor::from_env().and_then(|f| Ok((f, parse_cpu_args(&argv)?))) {
        Ok(v) => v,
        Err(e) => return usage_error(imp, &e),
    };
    let name = flavor.name(imp);
    print_outcome(&name, args.mode.name(), args.cpu, || {
        let span = flavor.runtime()?.block_on(run_cpu::<L>(&args))?;
        Ok(CpuReport {
            imp: &name,
            args: &args,
            span,
            rss_kb: peak_rss_kb(),
        }
        .to_string())
    })
}

/// Runs one side of a CPU scenario with library `L`: the span it measured.
pub async fn run_cpu<L: Library>(args: &CpuArgs) -> Result<Span, String> {
    let n = args.messages();
    let buf = payload(SIZE);
    match args.mode {
        CpuMode::Push => {
            let mut push = L::bind_push(&args.endpoint).await?;
            let start;
            if args.rate == 0.0 {
                start = Usage::now();
                tokio::time::sleep(Duration::from_secs_f64(args.secs)).await;
                L::send(&mut push, &buf).await?;
            } else {
                let period = Duration::from_secs_f64(1.0 / args.rate);
                L::send(&mut push, &buf).await?;
                start = Usage::now();
                let t0 = tokio::time::Instant::now();
                for i in 1..n {
                    let due = t0 + period.mul_f64(i as f64);
                    tokio::time::sleep_until(due).await;
                    L::send(&mut push, &buf).await?;
                }
            }
            let span = start.span_to(Usage::now(), n);
            released().await;
            L::close(push).await?;
            Ok(span)
        }
        CpuMode::Pull => {
            let mut pull = L::connect_pull(&args.endpoint).await?;
            let start = Usage::now();
            for _ in 0..n {
                let got = L::recv(&mut pull).await?;
                crate::check_size(got, SIZE)?;
            }
            Ok(start.span_to(Usage::now(), n))
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
    fn parses_both_sides_and_counts_the_messages() {
        assert!(is_cpu_command(&argv("--cpu 0 cpu-pull ipc:///tmp/x 0 2")));
        assert!(!is_cpu_command(&argv("thr-pull ipc:///tmp/x 1 2")));
        let a = parse_cpu_args(&argv("cpu-push ipc:///tmp/x 1000 3")).unwrap();
        assert_eq!((a.mode, a.messages(), a.cpu), (CpuMode::Push, 3000, None));
        let a = parse_cpu_args(&argv("--cpu 1 cpu-pull ipc:///tmp/x 0 2")).unwrap();
        assert_eq!((a.mode, a.messages(), a.cpu), (CpuMode::Pull, 1, Some(1)));
        assert!(parse_cpu_args(&argv("cpu-pull ipc:///tmp/x -1 2")).is_err());
        assert!(parse_cpu_args(&argv("cpu-pull ipc:///tmp/x 10 0")).is_err());
        assert!(parse_cpu_args(&argv("cpu-pull ipc:///tmp/x 10")).is_err());
    }

    #[test]
    fn cpu_lines_carry_the_harness_fields() {
        let args = parse_cpu_args(&argv("cpu-pull ipc:///tmp/x 1000 3")).unwrap();
        let span = Span {
            msgs: 3000,
            secs: 3.0,
            cpu_s: 0.06,
            switches: 12,
        };
        let r = CpuReport {
            imp: "zsock-tokio-mt",
            args: &args,
            span,
            rss_kb: Some(10),
        };
        assert_eq!(
            r.to_string(),
            "RESULT kind=cpu impl=zsock-tokio-mt rate=1000 msgs=3000 secs=3.000000 \
             cpu_s=0.060000 cpu_ms_per_s=20.0000 csw=12 rss_kb=10"
        );
    }

    #[test]
    fn the_runtime_flavour_names_the_implementation() {
        assert_eq!(Flavor::parse("").unwrap(), Flavor::Current);
        assert_eq!(Flavor::parse("current").unwrap(), Flavor::Current);
        assert_eq!(Flavor::parse("multi").unwrap(), Flavor::Multi);
        assert!(Flavor::parse("mt").is_err());
        assert_eq!(Flavor::Current.name("omq"), "omq");
        assert_eq!(Flavor::Multi.name("zsock-tokio"), "zsock-tokio-mt");
    }
}
