//! The inproc rows (BENCHMARKS.md, "inproc://"): two threads of one process exchanging
//! messages over `inproc://` sockets of one context. The command lines:
//! ```text
//! bench-NAME [--cpu N] inproc-thr SIZE COUNT   # PUSH thread sends COUNT, PULL thread receives them
//! bench-NAME [--cpu N] inproc-lat SIZE COUNT   # REP thread echoes, REQ: 1000 warm-up + COUNT trips
//! ```
//! print, like the other modes,
//! ```text
//! RESULT kind=thr impl=NAME size=S count=N secs=T msgs_per_s=X mb_per_s=Y cpu_s=C csw=W rss_kb=K
//! RESULT kind=lat impl=NAME size=S count=N secs=T lat_us=L cpu_s=C csw=W rss_kb=K
//! ```
//! and no PEER line (there is one process). The roles are those of the two-process rows:
//! the PUSH (REP) binds [`ENDPOINT`], the PULL (REQ) connects, both sockets created on
//! the one context before the sending (echoing) thread starts with its socket; every send
//! copies the payload from a user buffer; the PULL times from its first message to its last
//! (T, and `(COUNT-1)/T` messages per second), the REQ its COUNT timed round trips (half the
//! mean round trip). The sending thread keeps its socket open until the measuring thread is
//! done. `cpu_s` and `csw` are the process's CPU time (user + system, every thread: both
//! sides and the library's own threads) and context switches over the same span, from
//! `getrusage(RUSAGE_SELF)` ([`Usage`]), so CPU time per message is `cpu_s / (COUNT-1)` and
//! per round trip `cpu_s / COUNT`.
//!
//! The blocking libraries (zsock, libzmq) run [`run_blocking`], written once against
//! [`scale::Library`]; `bench-omq` has its own async loop.

use std::fmt;
use std::process::ExitCode;
use std::sync::mpsc;

use crate::scale::{self, SocketKind, Span, Usage, Wait};
use crate::{
    check_size, parse_cpu, payload, peak_rss_kb, print_outcome, usage_error, Args, Mode, Outcome,
    Report, WARMUP,
};

/// The endpoint both threads use (the process is fresh, so the name is free).
pub const ENDPOINT: &str = "inproc://zsock-bench";

/// An inproc role: both threads of one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InprocMode {
    /// PUSH thread sends COUNT messages, PULL thread receives them; RESULT kind=thr.
    Thr,
    /// REP thread echoes, REQ thread makes [`WARMUP`] + COUNT round trips; RESULT kind=lat.
    Lat,
}

impl InprocMode {
    /// The mode's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            InprocMode::Thr => "inproc-thr",
            InprocMode::Lat => "inproc-lat",
        }
    }

    /// `thr` or `lat`, as in the two-process rows' RESULT lines.
    pub fn kind(self) -> &'static str {
        match self {
            InprocMode::Thr => "thr",
            InprocMode::Lat => "lat",
        }
    }
}

/// A parsed inproc command line.
#[derive(Debug, Clone)]
pub struct InprocArgs {
    /// The role.
    pub mode: InprocMode,
    /// Message size in bytes.
    pub size: usize,
    /// COUNT: messages (thr) or timed round trips (lat).
    pub count: u64,
    /// `--cpu N`: the CPU the process was pinned to.
    pub cpu: Option<usize>,
}

impl InprocArgs {
    /// Messages the echoing REP handles: COUNT + [`WARMUP`].
    pub fn echoes(&self) -> u64 {
        self.count + WARMUP
    }
}

const USAGE: &str = "usage: BIN [--cpu N] inproc-thr|inproc-lat SIZE COUNT";

/// Whether a command line (without the program name) asks for an inproc mode.
pub fn is_inproc_command(args: &[String]) -> bool {
    parse_cpu(args).is_ok_and(|(_, rest)| rest.first().is_some_and(|m| m.starts_with("inproc-")))
}

/// Parses `[--cpu N] inproc-thr|inproc-lat SIZE COUNT` (without the program name).
pub fn parse_inproc_args(args: &[String]) -> Result<InprocArgs, String> {
    let (cpu, rest) = parse_cpu(args)?;
    let [mode, size, count] = rest[..] else {
        return Err(USAGE.into());
    };
    let mode = match mode {
        "inproc-thr" => InprocMode::Thr,
        "inproc-lat" => InprocMode::Lat,
        _ => return Err(format!("unknown mode `{mode}`\n{USAGE}")),
    };
    let size = size
        .parse()
        .map_err(|_| format!("SIZE `{size}` is not a number"))?;
    let count: u64 = count
        .parse()
        .map_err(|_| format!("COUNT `{count}` is not a number"))?;
    let min = match mode {
        InprocMode::Thr => 2,
        InprocMode::Lat => 1,
    };
    if count < min {
        return Err(format!("COUNT must be at least {min} for {}", mode.name()));
    }
    Ok(InprocArgs {
        mode,
        size,
        count,
        cpu,
    })
}

/// The RESULT line of an inproc run: `span` is the measured window (its `msgs` are not
/// printed: the rate comes from COUNT, as in the two-process rows).
#[derive(Debug, Clone)]
pub struct InprocReport<'a> {
    /// Implementation name.
    pub imp: &'a str,
    /// The command line.
    pub args: &'a InprocArgs,
    /// The measured window and the process's CPU time and context switches in it.
    pub span: Span,
    /// Peak RSS in KiB, if known.
    pub rss_kb: Option<u64>,
}

impl fmt::Display for InprocReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The two-process RESULT line, then what only these rows report.
        let InprocArgs {
            mode, size, count, ..
        } = *self.args;
        let secs = self.span.secs;
        let (mode, outcome) = match mode {
            InprocMode::Thr => (Mode::ThrPull, Outcome::Thr { secs }),
            InprocMode::Lat => (Mode::LatReq, Outcome::Lat { secs }),
        };
        let args = Args {
            mode,
            endpoint: String::new(),
            size,
            count,
            cpu: None,
            curve: None,
        };
        let line = Report {
            imp: self.imp,
            args: &args,
            outcome,
            rss_kb: None,
            span: None,
        };
        write!(
            f,
            "{line} cpu_s={:.6} csw={}",
            self.span.cpu_s, self.span.switches
        )?;
        if let Some(kb) = self.rss_kb {
            write!(f, " rss_kb={kb}")?;
        }
        Ok(())
    }
}

/// For a bench binary's `main`: if the command line asks for an inproc mode, runs it with
/// `run` (which returns the measured span) and prints its RESULT line; `None` otherwise,
/// for the binary's other modes.
pub fn main_if_inproc(
    imp: &str,
    run: impl FnOnce(&InprocArgs) -> Result<Span, String>,
) -> Option<ExitCode> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if !is_inproc_command(&argv) {
        return None;
    }
    let args = match parse_inproc_args(&argv) {
        Ok(a) => a,
        Err(e) => return Some(usage_error(imp, &e)),
    };
    Some(print_outcome(imp, args.mode.name(), args.cpu, || {
        let span = run(&args)?;
        Ok(InprocReport {
            imp,
            args: &args,
            span,
            rss_kb: peak_rss_kb(),
        }
        .to_string())
    }))
}

/// One inproc role with a blocking library `L`: both sockets on one context, the sending
/// (echoing) side on a new thread, the measuring side on the calling thread.
pub fn run_blocking<L: scale::Library + 'static>(args: &InprocArgs) -> Result<Span, String> {
    let ctx = L::context();
    let (side, measuring) = match args.mode {
        InprocMode::Thr => (SocketKind::Push, SocketKind::Pull),
        InprocMode::Lat => (SocketKind::Rep, SocketKind::Req),
    };
    let helper = L::socket(&ctx, side)?;
    L::bind(&helper, ENDPOINT)?;
    let mut socket = L::socket(&ctx, measuring)?;
    L::connect(&socket, ENDPOINT)?;
    // The helper keeps its socket until this sender is dropped (the receiver is done).
    let (release, held) = mpsc::channel::<()>();
    let (mode, size, count, echoes) = (args.mode, args.size, args.count, args.echoes());
    let thread = std::thread::spawn(move || -> Result<(), String> {
        let mut helper = helper;
        match mode {
            InprocMode::Thr => {
                let buf = payload(size);
                for _ in 0..count {
                    sent(L::send(&mut helper, &buf, Wait::Block)?)?;
                }
            }
            InprocMode::Lat => {
                let mut frame = L::new_frame();
                for _ in 0..echoes {
                    received(L::recv(&mut helper, &mut frame, Wait::Block)?)?;
                    check_size(frame.len(), size)?;
                    sent(L::send(&mut helper, &frame, Wait::Block)?)?;
                }
            }
        }
        let _ = held.recv();
        drop(helper);
        Ok(())
    });
    let measured = match mode {
        InprocMode::Thr => pull::<L>(&mut socket, size, count),
        InprocMode::Lat => request::<L>(&mut socket, size, count),
    };
    let span = match measured {
        Ok(span) => span,
        Err(e) => {
            // The other thread may wait forever; terminating the context would wait for
            // it (zmq_ctx_term). The process ends with the error.
            std::mem::forget(ctx);
            return Err(e);
        }
    };
    drop(release);
    match thread.join() {
        Ok(r) => r?,
        Err(_) => return Err("the sending thread panicked".into()),
    }
    drop(socket);
    drop(ctx);
    Ok(span)
}

fn sent(done: bool) -> Result<(), String> {
    if done {
        Ok(())
    } else {
        Err("a blocking send returned without sending".into())
    }
}

fn received(done: bool) -> Result<(), String> {
    if done {
        Ok(())
    } else {
        Err("a blocking receive returned without a message".into())
    }
}

/// Receives COUNT messages: the span from the first to the last.
fn pull<L: scale::Library>(pull: &mut L::Socket, size: usize, count: u64) -> Result<Span, String> {
    let mut frame = L::new_frame();
    received(L::recv(pull, &mut frame, Wait::Block)?)?;
    let start = Usage::now();
    check_size(frame.len(), size)?;
    for _ in 1..count {
        received(L::recv(pull, &mut frame, Wait::Block)?)?;
        check_size(frame.len(), size)?;
    }
    Ok(start.span_to(Usage::now(), count - 1))
}

/// [`WARMUP`] round trips, then COUNT timed ones.
fn request<L: scale::Library>(
    req: &mut L::Socket,
    size: usize,
    count: u64,
) -> Result<Span, String> {
    let buf = payload(size);
    let mut frame = L::new_frame();
    let mut trip = |req: &mut L::Socket| -> Result<(), String> {
        sent(L::send(req, &buf, Wait::Block)?)?;
        received(L::recv(req, &mut frame, Wait::Block)?)?;
        check_size(frame.len(), size)
    };
    for _ in 0..WARMUP {
        trip(req)?;
    }
    let start = Usage::now();
    for _ in 0..count {
        trip(req)?;
    }
    Ok(start.span_to(Usage::now(), count))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn parses_the_inproc_command_lines() {
        assert!(is_inproc_command(&argv("inproc-thr 64 1000")));
        assert!(is_inproc_command(&argv("--cpu 0 inproc-lat 1 10")));
        assert!(!is_inproc_command(&argv("thr-pull ipc:///tmp/x 64 1000")));
        let a = parse_inproc_args(&argv("inproc-thr 64 1000")).unwrap();
        assert_eq!(
            (a.mode, a.size, a.count, a.cpu),
            (InprocMode::Thr, 64, 1000, None)
        );
        let a = parse_inproc_args(&argv("--cpu 1 inproc-lat 1 10")).unwrap();
        assert_eq!(
            (a.mode, a.echoes(), a.cpu),
            (InprocMode::Lat, 10 + WARMUP, Some(1))
        );
        assert!(parse_inproc_args(&argv("inproc-thr 64 1")).is_err());
        assert!(parse_inproc_args(&argv("inproc-thr inproc://x 64 10")).is_err());
        assert!(parse_inproc_args(&argv("inproc-pub 64 10")).is_err());
    }

    #[test]
    fn result_lines_carry_the_cpu_fields() {
        let span = Span {
            msgs: 1000,
            secs: 0.5,
            cpu_s: 0.75,
            switches: 12,
        };
        let args = parse_inproc_args(&argv("inproc-thr 1000 1001")).unwrap();
        let r = InprocReport {
            imp: "zsock",
            args: &args,
            span,
            rss_kb: Some(1234),
        };
        assert_eq!(
            r.to_string(),
            "RESULT kind=thr impl=zsock size=1000 count=1001 secs=0.500000 \
             msgs_per_s=2000.0 mb_per_s=2.000 cpu_s=0.750000 csw=12 rss_kb=1234"
        );
        let args = parse_inproc_args(&argv("inproc-lat 1 100")).unwrap();
        let r = InprocReport {
            imp: "omq",
            args: &args,
            span: Span {
                secs: 0.002,
                ..span
            },
            rss_kb: None,
        };
        assert_eq!(
            r.to_string(),
            "RESULT kind=lat impl=omq size=1 count=100 secs=0.002000 lat_us=10.000 \
             cpu_s=0.750000 csw=12"
        );
    }
}
