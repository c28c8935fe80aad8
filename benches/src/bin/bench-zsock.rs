//! Bench peer for zsock (default options, blocking `send_copy`/`recv`). Every send copies
//! the payload from the user's buffer, as zmq_send does: `send_copy` copies it straight
//! into the connection's batch where it can, instead of into a new message. See the crate
//! docs for the command line.

use std::process::ExitCode;
use std::time::Instant;

use zsock::{Context, Flags, SocketType};
use zsock_benches::{
    check_size, main_with, payload, wait_for_release, Args, Mode, Outcome, ThrClock, WARMUP,
};

fn main() -> ExitCode {
    main_with("zsock", run)
}

fn run(args: &Args) -> Result<Outcome, String> {
    let e = |e: zsock::Error| e.to_string();
    let ctx = Context::new();
    let buf = payload(args.size);
    match args.mode {
        Mode::ThrPush => {
            let mut push = ctx.socket(SocketType::Push).map_err(e)?;
            push.bind(&args.endpoint).map_err(e)?;
            for _ in 0..args.count {
                push.send_copy(&buf, Flags::NONE).map_err(e)?;
            }
            wait_for_release();
            Ok(Outcome::Served)
        }
        Mode::ThrPull => {
            let mut pull = ctx.socket(SocketType::Pull).map_err(e)?;
            pull.connect(&args.endpoint).map_err(e)?;
            let mut clock = ThrClock::new();
            let first = pull.recv(Flags::NONE).map_err(e)?;
            clock.start();
            check_size(first.len(), args.size)?;
            for _ in 1..args.count {
                let m = pull.recv(Flags::NONE).map_err(e)?;
                check_size(m.len(), args.size)?;
            }
            clock.stop();
            Ok(clock.outcome())
        }
        Mode::LatRep => {
            let mut rep = ctx.socket(SocketType::Rep).map_err(e)?;
            rep.bind(&args.endpoint).map_err(e)?;
            for _ in 0..args.messages() {
                let m = rep.recv(Flags::NONE).map_err(e)?;
                check_size(m.len(), args.size)?;
                rep.send_copy(&m, Flags::NONE).map_err(e)?;
            }
            wait_for_release();
            Ok(Outcome::Served)
        }
        Mode::LatReq => {
            let mut req = ctx.socket(SocketType::Req).map_err(e)?;
            req.connect(&args.endpoint).map_err(e)?;
            let trip = |req: &mut zsock::Socket| -> Result<(), String> {
                req.send_copy(&buf, Flags::NONE).map_err(e)?;
                let m = req.recv(Flags::NONE).map_err(e)?;
                check_size(m.len(), args.size)
            };
            for _ in 0..WARMUP {
                trip(&mut req)?;
            }
            let t = Instant::now();
            for _ in 0..args.count {
                trip(&mut req)?;
            }
            Ok(Outcome::Lat {
                secs: t.elapsed().as_secs_f64(),
            })
        }
    }
}
