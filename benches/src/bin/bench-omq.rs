//! Bench peer for OMQ.rs (`omq-tokio` 0.33) on a tokio runtime: sockets from
//! `Context::current()`, so their drivers run on the caller's runtime, default `Options`,
//! `send`/`recv`. Current-thread by default (`impl=omq`: the drivers on the caller's one
//! thread, OMQ.rs's own "current_thread" bench setting), multi-thread with
//! `BENCH_RUNTIME=multi` (`impl=omq-mt`: the drivers on the workers, as OMQ.rs's own
//! `OMQ_BENCH_MT_RUNTIME` setting). See the crate docs for the command line; the CPU
//! scenarios run through [`Omq`].
//!
//! The inproc modes ([`zsock_benches::inproc`]) spawn the sending (echoing) side and the
//! measuring side as two tasks on that runtime, one `Context::current()` for both: on the
//! current-thread runtime (the inproc rows' `omq`) the two tasks share its one thread. That
//! was OMQ.rs's fastest setup on two CPUs, ahead of or level with two tasks on the
//! multi-thread runtime (`omq-mt`) and its blocking API on two threads in every inproc row
//! (BENCHMARKS.md).

use std::process::ExitCode;
use std::time::Instant;

use omq_tokio::{Context, Error, Message, Options, Socket, SocketType};
use zsock_benches::cpu::{self, main_with_cpu};
use zsock_benches::inproc::{self, InprocArgs, InprocMode};
use zsock_benches::scale::{Span, Usage};
use zsock_benches::{check_size, payload, released, Args, Flavor, Mode, Outcome, ThrClock, WARMUP};

fn main() -> ExitCode {
    // A bad BENCH_RUNTIME is reported by main_with_cpu, which every other mode goes through.
    let inproc = Flavor::from_env().ok().and_then(|flavor| {
        inproc::main_if_inproc(&flavor.name("omq"), |args| {
            flavor.runtime()?.block_on(inproc_tasks(args))
        })
    });
    inproc.unwrap_or_else(|| main_with_cpu::<Omq>("omq", run))
}

/// The inproc roles as two tasks spawned on the runtime `BENCH_RUNTIME` picks, sockets from
/// `Context::current()`: on the current-thread runtime both sides take turns on the one
/// thread; on the multi-thread one they run on the workers.
async fn inproc_tasks(args: &InprocArgs) -> Result<Span, String> {
    let ctx = Context::current();
    let (side, measuring) = match args.mode {
        InprocMode::Thr => (SocketType::Push, SocketType::Pull),
        InprocMode::Lat => (SocketType::Rep, SocketType::Req),
    };
    let helper = ctx.socket(side, Options::default());
    helper.bind(inproc::ENDPOINT).await.map_err(e)?;
    let socket = ctx.socket(measuring, Options::default());
    socket.connect(inproc::ENDPOINT).await.map_err(e)?;
    let (release, held) = tokio::sync::oneshot::channel::<()>();
    let (mode, size, count, echoes) = (args.mode, args.size, args.count, args.echoes());
    let helper_task = tokio::spawn(async move {
        match mode {
            InprocMode::Thr => {
                let buf = payload(size);
                for _ in 0..count {
                    helper.send(Message::from_slice(&buf)).await.map_err(e)?;
                }
            }
            InprocMode::Lat => {
                for _ in 0..echoes {
                    let m = helper.recv().await.map_err(e)?;
                    let body = m.get(0).unwrap_or_default();
                    check_size(body.len(), size)?;
                    helper.send(Message::from_slice(body)).await.map_err(e)?;
                }
            }
        }
        let _ = held.await;
        helper.close().await.map_err(e)
    });
    let measure_task = tokio::spawn(async move {
        let buf = payload(size);
        match mode {
            InprocMode::Thr => {
                let first = socket.recv().await.map_err(e)?;
                let start = Usage::now();
                check_size(first.byte_len(), size)?;
                for _ in 1..count {
                    let m = socket.recv().await.map_err(e)?;
                    check_size(m.byte_len(), size)?;
                }
                Ok::<Span, String>(start.span_to(Usage::now(), count - 1))
            }
            InprocMode::Lat => {
                for _ in 0..WARMUP {
                    socket.send(Message::from_slice(&buf)).await.map_err(e)?;
                    let m = socket.recv().await.map_err(e)?;
                    check_size(m.byte_len(), size)?;
                }
                let start = Usage::now();
                for _ in 0..count {
                    socket.send(Message::from_slice(&buf)).await.map_err(e)?;
                    let m = socket.recv().await.map_err(e)?;
                    check_size(m.byte_len(), size)?;
                }
                Ok(start.span_to(Usage::now(), count))
            }
        }
    });
    let span = measure_task.await.map_err(|e| e.to_string())??;
    drop(release);
    helper_task.await.map_err(|e| e.to_string())??;
    Ok(span)
}

fn e(e: Error) -> String {
    e.to_string()
}

/// OMQ.rs's calls for the CPU scenarios.
struct Omq;

impl cpu::Library for Omq {
    type Push = Socket;
    type Pull = Socket;

    async fn bind_push(endpoint: &str) -> Result<Socket, String> {
        let push = Context::current().socket(SocketType::Push, Options::default());
        push.bind(endpoint).await.map_err(e)?;
        Ok(push)
    }

    async fn connect_pull(endpoint: &str) -> Result<Socket, String> {
        let pull = Context::current().socket(SocketType::Pull, Options::default());
        pull.connect(endpoint).await.map_err(e)?;
        Ok(pull)
    }

    async fn send(push: &mut Socket, data: &[u8]) -> Result<(), String> {
        push.send(Message::from_slice(data)).await.map_err(e)
    }

    async fn recv(pull: &mut Socket) -> Result<usize, String> {
        pull.recv().await.map(|m| m.byte_len()).map_err(e)
    }

    async fn close(push: Socket) -> Result<(), String> {
        push.close().await.map_err(e)
    }
}

async fn run(args: &Args) -> Result<Outcome, String> {
    let ctx = Context::current();
    let buf = payload(args.size);
    let endpoint = args.endpoint.as_str();
    match args.mode {
        Mode::ThrPush => {
            let push = ctx.socket(SocketType::Push, Options::default());
            push.bind(endpoint).await.map_err(e)?;
            for _ in 0..args.count {
                push.send(Message::from_slice(&buf)).await.map_err(e)?;
            }
            released().await;
            // Options::linger defaults to zero; the receiver has everything by now.
            push.close().await.map_err(e)?;
            Ok(Outcome::Served)
        }
        Mode::ThrPull => {
            let pull = ctx.socket(SocketType::Pull, Options::default());
            pull.connect(endpoint).await.map_err(e)?;
            let mut clock = ThrClock::new();
            let first = pull.recv().await.map_err(e)?;
            clock.start();
            check_size(first.byte_len(), args.size)?;
            for _ in 1..args.count {
                let m = pull.recv().await.map_err(e)?;
                check_size(m.byte_len(), args.size)?;
            }
            clock.stop();
            Ok(clock.outcome())
        }
        Mode::LatRep => {
            let rep = ctx.socket(SocketType::Rep, Options::default());
            rep.bind(endpoint).await.map_err(e)?;
            for _ in 0..args.messages() {
                let m = rep.recv().await.map_err(e)?;
                let body = m.get(0).unwrap_or_default();
                check_size(body.len(), args.size)?;
                rep.send(Message::from_slice(body)).await.map_err(e)?;
            }
            released().await;
            rep.close().await.map_err(e)?;
            Ok(Outcome::Served)
        }
        Mode::LatReq => {
            let req = ctx.socket(SocketType::Req, Options::default());
            req.connect(endpoint).await.map_err(e)?;
            for _ in 0..WARMUP {
                req.send(Message::from_slice(&buf)).await.map_err(e)?;
                let m = req.recv().await.map_err(e)?;
                check_size(m.byte_len(), args.size)?;
            }
            let t = Instant::now();
            for _ in 0..args.count {
                req.send(Message::from_slice(&buf)).await.map_err(e)?;
                let m = req.recv().await.map_err(e)?;
                check_size(m.byte_len(), args.size)?;
            }
            Ok(Outcome::Lat {
                secs: t.elapsed().as_secs_f64(),
            })
        }
    }
}
