//! Bench peer for zsock (default options, blocking `send`/`recv`). Every send copies
//! the payload from the user's buffer, as zmq_send does: `send` of borrowed bytes copies
//! them straight into the connection's batch where it can, instead of into a new message. See the crate
//! docs for the command line; the scale scenarios run through [`Zsock`]. The one-pair
//! modes take the `--curve-*` keys (CURVE server on the binding side, client on the
//! connecting side) and report their CPU time ([`Measured`]), with or without CURVE;
//! `bench-zsock curve-keypair` prints a fresh key pair, `PUBLIC SECRET` in Z85, for the
//! harness.

use std::process::ExitCode;
use std::time::Duration;

use zsock::{Bytes, Context, ErrorKind, Events, Flags, PollItem, SocketOption, SocketType};
use zsock_benches::inproc;
use zsock_benches::scale::{self, SocketKind, Wait};
use zsock_benches::{
    check_size, main_with_curve, payload, wait_for_release, Args, Curve, Measured, Meter, Mode,
    WARMUP,
};

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv == ["curve-keypair"] {
        let pair = zsock::curve_keypair();
        println!("{} {}", pair.public, pair.secret.as_str());
        return ExitCode::SUCCESS;
    }
    inproc::main_if_inproc("zsock", inproc::run_blocking::<Zsock>)
        .or_else(|| scale::main_if_scale::<Zsock>("zsock"))
        .unwrap_or_else(|| main_with_curve("zsock", run))
}

/// zsock's calls for the scale scenarios.
struct Zsock;

/// `Ok(false)` for EAGAIN (DONTWAIT, or RCVTIMEO ran out), the message otherwise.
fn unless_again(r: zsock::Result<()>) -> Result<bool, String> {
    match r {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == ErrorKind::Again => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

fn flags(wait: Wait) -> Flags {
    match wait {
        Wait::Block => Flags::NONE,
        Wait::DontWait => Flags::DONTWAIT,
    }
}

impl scale::Library for Zsock {
    type Context = Context;
    type Socket = zsock::Socket;
    type Frame = Bytes;

    fn context() -> Context {
        Context::new()
    }

    fn socket(ctx: &Context, kind: SocketKind) -> Result<zsock::Socket, String> {
        let t = match kind {
            SocketKind::Push => SocketType::Push,
            SocketKind::Pull => SocketType::Pull,
            SocketKind::Pub => SocketType::Pub,
            SocketKind::Sub => SocketType::Sub,
            SocketKind::Router => SocketType::Router,
            SocketKind::Dealer => SocketType::Dealer,
            SocketKind::Req => SocketType::Req,
            SocketKind::Rep => SocketType::Rep,
        };
        ctx.socket(t).map_err(|e| e.to_string())
    }

    fn bind(socket: &zsock::Socket, endpoint: &str) -> Result<(), String> {
        socket.bind(endpoint).map(drop).map_err(|e| e.to_string())
    }

    fn connect(socket: &zsock::Socket, endpoint: &str) -> Result<(), String> {
        socket.connect(endpoint).map_err(|e| e.to_string())
    }

    fn subscribe(socket: &mut zsock::Socket, prefix: &[u8]) -> Result<(), String> {
        let topic = Bytes::copy_from_slice(prefix);
        socket
            .set(SocketOption::Subscribe(topic))
            .map_err(|e| e.to_string())
    }

    fn set_recv_timeout(socket: &mut zsock::Socket, timeout: Duration) -> Result<(), String> {
        let ms = timeout.as_millis().try_into().unwrap_or(i32::MAX);
        socket
            .set(SocketOption::RcvTimeo(ms))
            .map_err(|e| e.to_string())
    }

    fn set_linger_zero(socket: &mut zsock::Socket) -> Result<(), String> {
        socket
            .set(SocketOption::Linger(0))
            .map_err(|e| e.to_string())
    }

    fn new_frame() -> Bytes {
        Bytes::new()
    }

    fn send(socket: &mut zsock::Socket, data: &[u8], wait: Wait) -> Result<bool, String> {
        unless_again(socket.send(data, flags(wait)))
    }

    fn send_more(socket: &mut zsock::Socket, data: &[u8]) -> Result<(), String> {
        socket.send(data, Flags::SNDMORE).map_err(|e| e.to_string())
    }

    fn recv(socket: &mut zsock::Socket, into: &mut Bytes, wait: Wait) -> Result<bool, String> {
        unless_again(socket.recv(flags(wait)).map(|frame| *into = frame))
    }

    fn poll_readable(
        sockets: &[zsock::Socket],
        timeout: Duration,
        ready: &mut Vec<usize>,
    ) -> Result<(), String> {
        let mut items: Vec<PollItem> = sockets
            .iter()
            .map(|s| PollItem::new(s, Events::POLLIN))
            .collect();
        zsock::poll(&mut items, Some(timeout)).map_err(|e| e.to_string())?;
        ready.clear();
        ready.extend((0..items.len()).filter(|&i| items[i].revents.contains(Events::POLLIN)));
        Ok(())
    }

    fn proxy(
        _ctx: Context,
        mut frontend: zsock::Socket,
        mut backend: zsock::Socket,
    ) -> Result<(), String> {
        zsock::proxy(&mut frontend, &mut backend, None)
            .map(drop)
            .map_err(|e| e.to_string())
    }
}

/// A socket of type `t` with this side's CURVE role (options set before bind or connect).
fn socket(ctx: &Context, t: SocketType, curve: Option<&Curve>) -> zsock::Result<zsock::Socket> {
    let mut s = ctx.socket(t)?;
    let key = |k: &str| Bytes::copy_from_slice(k.as_bytes());
    match curve {
        None => {}
        Some(Curve::Server { secret }) => {
            s.set(SocketOption::CurveServer(true))?;
            s.set(SocketOption::CurveSecretKey(key(secret).into()))?;
        }
        Some(Curve::Client {
            server_public,
            public,
            secret,
        }) => {
            s.set(SocketOption::CurveServerKey(key(server_public)))?;
            s.set(SocketOption::CurvePublicKey(key(public)))?;
            s.set(SocketOption::CurveSecretKey(key(secret).into()))?;
        }
    }
    Ok(s)
}

fn run(args: &Args) -> Result<Measured, String> {
    let e = |e: zsock::Error| e.to_string();
    let ctx = Context::new();
    let curve = args.curve.as_ref();
    let buf = payload(args.size);
    match args.mode {
        Mode::ThrPush => {
            let mut push = socket(&ctx, SocketType::Push, curve).map_err(e)?;
            push.bind(&args.endpoint).map_err(e)?;
            push.send(&buf, Flags::NONE).map_err(e)?;
            let meter = Meter::start();
            for _ in 1..args.count {
                push.send(&buf, Flags::NONE).map_err(e)?;
            }
            let span = meter.stop(args.count - 1);
            wait_for_release();
            Ok(Measured::served(span))
        }
        Mode::ThrPull => {
            let mut pull = socket(&ctx, SocketType::Pull, curve).map_err(e)?;
            pull.connect(&args.endpoint).map_err(e)?;
            let first = pull.recv(Flags::NONE).map_err(e)?;
            let meter = Meter::start();
            check_size(first.len(), args.size)?;
            for _ in 1..args.count {
                let m = pull.recv(Flags::NONE).map_err(e)?;
                check_size(m.len(), args.size)?;
            }
            Ok(Measured::thr(meter.stop(args.count - 1)))
        }
        Mode::LatRep => {
            let mut rep = socket(&ctx, SocketType::Rep, curve).map_err(e)?;
            rep.bind(&args.endpoint).map_err(e)?;
            let mut m = rep.recv(Flags::NONE).map_err(e)?;
            let meter = Meter::start();
            for i in 0..args.messages() {
                if i > 0 {
                    m = rep.recv(Flags::NONE).map_err(e)?;
                }
                check_size(m.len(), args.size)?;
                rep.send(&m[..], Flags::NONE).map_err(e)?;
            }
            let span = meter.stop(args.messages());
            wait_for_release();
            Ok(Measured::served(span))
        }
        Mode::LatReq => {
            let mut req = socket(&ctx, SocketType::Req, curve).map_err(e)?;
            req.connect(&args.endpoint).map_err(e)?;
            let trip = |req: &mut zsock::Socket| -> Result<(), String> {
                req.send(&buf, Flags::NONE).map_err(e)?;
                let m = req.recv(Flags::NONE).map_err(e)?;
                check_size(m.len(), args.size)
            };
            for _ in 0..WARMUP {
                trip(&mut req)?;
            }
            let meter = Meter::start();
            for _ in 0..args.count {
                trip(&mut req)?;
            }
            Ok(Measured::lat(meter.stop(args.count)))
        }
    }
}
