//! Bench peer for the pure-Rust `zeromq` crate 0.7 on a tokio runtime (default options,
//! `SocketSend::send`/`SocketRecv::recv`): current-thread by default (`impl=zeromq`),
//! multi-thread with `BENCH_RUNTIME=multi` (`impl=zeromq-mt`). See the crate docs for the
//! command line; the CPU scenarios run through [`Zeromq`].

use std::process::ExitCode;
use std::time::{Duration, Instant};

use zeromq::{Socket, SocketRecv, SocketSend, ZmqError, ZmqMessage};
use zsock_benches::cpu::{self, main_with_cpu};
use zsock_benches::{check_size, payload, released, Args, Mode, Outcome, ThrClock, WARMUP};

fn main() -> ExitCode {
    main_with_cpu::<Zeromq>("zeromq", run)
}

fn e(e: ZmqError) -> String {
    e.to_string()
}

fn message(buf: &[u8]) -> ZmqMessage {
    ZmqMessage::from(buf.to_vec())
}

fn body_len(m: &ZmqMessage) -> usize {
    m.get(0).map_or(0, |b| b.len())
}

/// Sends a copy of `buf`. A bound PUSH without a peer returns the message instead of
/// waiting for one (libzmq blocks): wait for the PULL to connect.
async fn push_send(push: &mut zeromq::PushSocket, buf: &[u8]) -> Result<(), String> {
    let mut m = message(buf);
    loop {
        match push.send(m).await {
            Ok(()) => return Ok(()),
            Err(ZmqError::ReturnToSender { message, .. }) => {
                m = message;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            Err(err) => return Err(e(err)),
        }
    }
}

/// The zeromq crate's calls for the CPU scenarios.
struct Zeromq;

impl cpu::Library for Zeromq {
    type Push = zeromq::PushSocket;
    type Pull = zeromq::PullSocket;

    async fn bind_push(endpoint: &str) -> Result<zeromq::PushSocket, String> {
        let mut push = zeromq::PushSocket::new();
        push.bind(endpoint).await.map_err(e)?;
        Ok(push)
    }

    async fn connect_pull(endpoint: &str) -> Result<zeromq::PullSocket, String> {
        let mut pull = zeromq::PullSocket::new();
        pull.connect(endpoint).await.map_err(e)?;
        Ok(pull)
    }

    async fn send(push: &mut zeromq::PushSocket, data: &[u8]) -> Result<(), String> {
        push_send(push, data).await
    }

    async fn recv(pull: &mut zeromq::PullSocket) -> Result<usize, String> {
        pull.recv().await.map(|m| body_len(&m)).map_err(e)
    }
}

async fn run(args: &Args) -> Result<Outcome, String> {
    let buf = payload(args.size);
    match args.mode {
        Mode::ThrPush => {
            let mut push = zeromq::PushSocket::new();
            push.bind(&args.endpoint).await.map_err(e)?;
            for _ in 0..args.count {
                push_send(&mut push, &buf).await?;
            }
            released().await;
            Ok(Outcome::Served)
        }
        Mode::ThrPull => {
            let mut pull = zeromq::PullSocket::new();
            pull.connect(&args.endpoint).await.map_err(e)?;
            let mut clock = ThrClock::new();
            let first = pull.recv().await.map_err(e)?;
            clock.start();
            check_size(body_len(&first), args.size)?;
            for _ in 1..args.count {
                let m = pull.recv().await.map_err(e)?;
                check_size(body_len(&m), args.size)?;
            }
            clock.stop();
            Ok(clock.outcome())
        }
        Mode::LatRep => {
            let mut rep = zeromq::RepSocket::new();
            rep.bind(&args.endpoint).await.map_err(e)?;
            for _ in 0..args.messages() {
                let m = rep.recv().await.map_err(e)?;
                let body = m.get(0).map(|b| b.as_ref()).unwrap_or_default();
                check_size(body.len(), args.size)?;
                rep.send(message(body)).await.map_err(e)?;
            }
            released().await;
            Ok(Outcome::Served)
        }
        Mode::LatReq => {
            let mut req = zeromq::ReqSocket::new();
            req.connect(&args.endpoint).await.map_err(e)?;
            for _ in 0..WARMUP {
                req.send(message(&buf)).await.map_err(e)?;
                let m = req.recv().await.map_err(e)?;
                check_size(body_len(&m), args.size)?;
            }
            let t = Instant::now();
            for _ in 0..args.count {
                req.send(message(&buf)).await.map_err(e)?;
                let m = req.recv().await.map_err(e)?;
                check_size(body_len(&m), args.size)?;
            }
            Ok(Outcome::Lat {
                secs: t.elapsed().as_secs_f64(),
            })
        }
    }
}
