//! Bench peer for zsock's async API (`zsock-tokio`'s `AsyncSocket`, default options) on a
//! tokio runtime (`BENCH_RUNTIME=current|multi`; `impl=zsock-tokio` or `zsock-tokio-mt`).
//! Every send copies the payload from the user's buffer: `AsyncSocket::send` of borrowed
//! bytes copies them, as the blocking `Socket::send` (zmq_send) does. See the crate docs
//! for the command line; the CPU scenarios run through [`ZsockTokio`].

use std::process::ExitCode;
use std::time::Instant;

use zsock::{Context, SocketType};
use zsock_benches::cpu::{self, main_with_cpu};
use zsock_benches::{check_size, payload, released, Args, Mode, Outcome, ThrClock, WARMUP};
use zsock_tokio::AsyncSocket;

fn main() -> ExitCode {
    main_with_cpu::<ZsockTokio>("zsock-tokio", run)
}

fn e(e: zsock::Error) -> String {
    e.to_string()
}

/// A socket with the context it was made in (dropped after it).
struct Owned {
    socket: AsyncSocket,
    _ctx: Context,
}

/// A new socket of type `t` in a context of its own, bound to `endpoint` or connected to
/// it. Within the runtime (`AsyncSocket::new` registers with its reactor).
fn open(t: SocketType, endpoint: &str, bind: bool) -> Result<Owned, String> {
    let ctx = Context::new();
    let socket = AsyncSocket::new(ctx.socket(t).map_err(e)?).map_err(e)?;
    if bind {
        socket.get_ref().bind(endpoint).map_err(e)?;
    } else {
        // zsock connects (and reconnects) by itself: no retry loop.
        socket.get_ref().connect(endpoint).map_err(e)?;
    }
    Ok(Owned { socket, _ctx: ctx })
}

/// zsock-tokio's calls for the CPU scenarios.
struct ZsockTokio;

impl cpu::Library for ZsockTokio {
    type Push = Owned;
    type Pull = Owned;

    async fn bind_push(endpoint: &str) -> Result<Owned, String> {
        open(SocketType::Push, endpoint, true)
    }

    async fn connect_pull(endpoint: &str) -> Result<Owned, String> {
        open(SocketType::Pull, endpoint, false)
    }

    async fn send(push: &mut Owned, data: &[u8]) -> Result<(), String> {
        push.socket.send(data).await.map_err(e)
    }

    async fn recv(pull: &mut Owned) -> Result<usize, String> {
        pull.socket.recv().await.map(|m| m.len()).map_err(e)
    }
}

async fn run(args: &Args) -> Result<Outcome, String> {
    let buf = payload(args.size);
    let endpoint = args.endpoint.as_str();
    match args.mode {
        Mode::ThrPush => {
            let mut push = open(SocketType::Push, endpoint, true)?;
            for _ in 0..args.count {
                push.socket.send(&buf[..]).await.map_err(e)?;
            }
            released().await;
            Ok(Outcome::Served)
        }
        Mode::ThrPull => {
            let mut pull = open(SocketType::Pull, endpoint, false)?;
            let mut clock = ThrClock::new();
            let first = pull.socket.recv().await.map_err(e)?;
            clock.start();
            check_size(first.len(), args.size)?;
            for _ in 1..args.count {
                let m = pull.socket.recv().await.map_err(e)?;
                check_size(m.len(), args.size)?;
            }
            clock.stop();
            Ok(clock.outcome())
        }
        Mode::LatRep => {
            let mut rep = open(SocketType::Rep, endpoint, true)?;
            for _ in 0..args.messages() {
                let m = rep.socket.recv().await.map_err(e)?;
                check_size(m.len(), args.size)?;
                rep.socket.send(&m[..]).await.map_err(e)?;
            }
            released().await;
            Ok(Outcome::Served)
        }
        Mode::LatReq => {
            let mut req = open(SocketType::Req, endpoint, false)?;
            for _ in 0..WARMUP {
                req.socket.send(&buf[..]).await.map_err(e)?;
                let m = req.socket.recv().await.map_err(e)?;
                check_size(m.len(), args.size)?;
            }
            let t = Instant::now();
            for _ in 0..args.count {
                req.socket.send(&buf[..]).await.map_err(e)?;
                let m = req.socket.recv().await.map_err(e)?;
                check_size(m.len(), args.size)?;
            }
            Ok(Outcome::Lat {
                secs: t.elapsed().as_secs_f64(),
            })
        }
    }
}
