//! Bench peer for libzmq with CURVE: the system's libzmq (`libzmq.so.5`, Debian's libzmq5
//! built with libsodium) loaded at run time through [`zsock_benches::syszmq`], since the
//! `zmq` crate's libzmq that `bench-libzmq` links is built without CURVE. The modes,
//! loops and lines of `bench-libzmq` (default options, `zmq_send` from the user buffer,
//! `zmq_msg_recv` into one reused message), plus the `--curve-*` keys (the crate docs):
//! the binding side is the CURVE server, the connecting side its client. Without keys it
//! runs plain (NULL) libzmq 4.3 of the system. Both sides also report their CPU time
//! ([`Measured`]). No scale or inproc modes.

use std::process::ExitCode;

use zsock_benches::syszmq::{self, Ctx, Msg, Sock, PULL, PUSH, REP, REQ};
use zsock_benches::{
    check_size, main_with_curve, payload, wait_for_release, Args, Curve, Measured, Meter, Mode,
    WARMUP,
};

fn main() -> ExitCode {
    main_with_curve("libzmq", run)
}

/// A socket of `kind` with this side's CURVE role (before bind or connect).
fn socket<'c>(ctx: &'c Ctx, kind: i32, curve: Option<&Curve>) -> Result<Sock<'c>, String> {
    let e = |e: syszmq::Error| e.to_string();
    let s = ctx.socket(kind).map_err(e)?;
    match curve {
        None => {}
        Some(Curve::Server { secret }) => s.curve_server(secret.as_bytes()).map_err(e)?,
        Some(Curve::Client {
            server_public,
            public,
            secret,
        }) => s
            .curve_client(
                server_public.as_bytes(),
                public.as_bytes(),
                secret.as_bytes(),
            )
            .map_err(e)?,
    }
    Ok(s)
}

fn run(args: &Args) -> Result<Measured, String> {
    let e = |e: syszmq::Error| e.to_string();
    if args.curve.is_some() && !syszmq::has_curve().map_err(e)? {
        return Err(format!(
            "the system's libzmq {} has no CURVE (zmq_has(\"curve\") is 0)",
            syszmq::version().map_err(e)?
        ));
    }
    let ctx = Ctx::new().map_err(e)?;
    let curve = args.curve.as_ref();
    let buf = payload(args.size);
    let mut msg = Msg::new().map_err(e)?;
    match args.mode {
        Mode::ThrPush => {
            let push = socket(&ctx, PUSH, curve)?;
            push.bind(&args.endpoint).map_err(e)?;
            push.send(&buf).map_err(e)?;
            let meter = Meter::start();
            for _ in 1..args.count {
                push.send(&buf).map_err(e)?;
            }
            let span = meter.stop(args.count - 1);
            // The tail trap (libzmq #4660, #1922): keep the socket open until the
            // receiver is done.
            wait_for_release();
            Ok(Measured::served(span))
        }
        Mode::ThrPull => {
            let pull = socket(&ctx, PULL, curve)?;
            pull.connect(&args.endpoint).map_err(e)?;
            pull.recv(&mut msg).map_err(e)?;
            let meter = Meter::start();
            check_size(msg.len(), args.size)?;
            for _ in 1..args.count {
                pull.recv(&mut msg).map_err(e)?;
                check_size(msg.len(), args.size)?;
            }
            Ok(Measured::thr(meter.stop(args.count - 1)))
        }
        Mode::LatRep => {
            let rep = socket(&ctx, REP, curve)?;
            rep.bind(&args.endpoint).map_err(e)?;
            rep.recv(&mut msg).map_err(e)?;
            let meter = Meter::start();
            for i in 0..args.messages() {
                if i > 0 {
                    rep.recv(&mut msg).map_err(e)?;
                }
                check_size(msg.len(), args.size)?;
                rep.send(msg.as_slice()).map_err(e)?;
            }
            let span = meter.stop(args.messages());
            wait_for_release();
            Ok(Measured::served(span))
        }
        Mode::LatReq => {
            let req = socket(&ctx, REQ, curve)?;
            req.connect(&args.endpoint).map_err(e)?;
            let mut trip = || -> Result<(), String> {
                req.send(&buf).map_err(e)?;
                req.recv(&mut msg).map_err(e)?;
                check_size(msg.len(), args.size)
            };
            for _ in 0..WARMUP {
                trip()?;
            }
            let meter = Meter::start();
            for _ in 0..args.count {
                trip()?;
            }
            Ok(Measured::lat(meter.stop(args.count)))
        }
    }
}
