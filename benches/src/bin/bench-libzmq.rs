//! Bench peer for libzmq 4.3 through the `zmq` crate (default options; one I/O thread per
//! context, as libzmq defaults). See the crate docs for the command line.

use std::process::ExitCode;
use std::time::Instant;

use zsock_benches::{
    check_size, main_with, payload, wait_for_release, Args, Mode, Outcome, ThrClock, WARMUP,
};

fn main() -> ExitCode {
    main_with("libzmq", run)
}

fn run(args: &Args) -> Result<Outcome, String> {
    let e = |e: zmq::Error| e.to_string();
    let ctx = zmq::Context::new();
    let buf = payload(args.size);
    // `send(&[u8])` copies the slice into a new zmq_msg_t; `recv` reuses one message
    // object, as libzmq's own perf tools do.
    let mut msg = zmq::Message::new();
    match args.mode {
        Mode::ThrPush => {
            let push = ctx.socket(zmq::PUSH).map_err(e)?;
            push.bind(&args.endpoint).map_err(e)?;
            for _ in 0..args.count {
                push.send(&buf[..], 0).map_err(e)?;
            }
            // The tail trap (libzmq #4660, #1922): closing right after the last send can
            // lose the tail. Keep the socket open until the receiver is done.
            wait_for_release();
            Ok(Outcome::Served)
        }
        Mode::ThrPull => {
            let pull = ctx.socket(zmq::PULL).map_err(e)?;
            pull.connect(&args.endpoint).map_err(e)?;
            let mut clock = ThrClock::new();
            pull.recv(&mut msg, 0).map_err(e)?;
            clock.start();
            check_size(msg.len(), args.size)?;
            for _ in 1..args.count {
                pull.recv(&mut msg, 0).map_err(e)?;
                check_size(msg.len(), args.size)?;
            }
            clock.stop();
            Ok(clock.outcome())
        }
        Mode::LatRep => {
            let rep = ctx.socket(zmq::REP).map_err(e)?;
            rep.bind(&args.endpoint).map_err(e)?;
            for _ in 0..args.messages() {
                rep.recv(&mut msg, 0).map_err(e)?;
                check_size(msg.len(), args.size)?;
                rep.send(&msg[..], 0).map_err(e)?;
            }
            wait_for_release();
            Ok(Outcome::Served)
        }
        Mode::LatReq => {
            let req = ctx.socket(zmq::REQ).map_err(e)?;
            req.connect(&args.endpoint).map_err(e)?;
            let mut trip = || -> Result<(), String> {
                req.send(&buf[..], 0).map_err(e)?;
                req.recv(&mut msg, 0).map_err(e)?;
                check_size(msg.len(), args.size)
            };
            for _ in 0..WARMUP {
                trip()?;
            }
            let t = Instant::now();
            for _ in 0..args.count {
                trip()?;
            }
            Ok(Outcome::Lat {
                secs: t.elapsed().as_secs_f64(),
            })
        }
    }
}
