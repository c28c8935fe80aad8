//! Bench peer for libzmq 4.3 through the `zmq` crate (default options; one I/O thread per
//! context, as libzmq defaults). See the crate docs for the command line; the scale
//! scenarios run through [`Libzmq`].

use std::process::ExitCode;
use std::time::{Duration, Instant};

use zsock_benches::inproc;
use zsock_benches::scale::{self, SocketKind, Wait};
use zsock_benches::{check_size, payload, wait_for_release, Args, Mode, Outcome, ThrClock, WARMUP};

fn main() -> ExitCode {
    inproc::main_if_inproc("libzmq", inproc::run_blocking::<Libzmq>)
        .unwrap_or_else(|| scale::main_with_scale::<Libzmq>("libzmq", run))
}

/// libzmq's calls for the scale scenarios.
struct Libzmq;

/// `Ok(false)` for EAGAIN (DONTWAIT, or RCVTIMEO ran out), the message otherwise.
fn unless_again(r: zmq::Result<()>) -> Result<bool, String> {
    match r {
        Ok(()) => Ok(true),
        Err(zmq::Error::EAGAIN) => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

fn flags(wait: Wait) -> i32 {
    match wait {
        Wait::Block => 0,
        Wait::DontWait => zmq::DONTWAIT,
    }
}

impl scale::Library for Libzmq {
    type Context = zmq::Context;
    type Socket = zmq::Socket;
    type Frame = zmq::Message;

    fn context() -> zmq::Context {
        zmq::Context::new()
    }

    fn socket(ctx: &zmq::Context, kind: SocketKind) -> Result<zmq::Socket, String> {
        let t = match kind {
            SocketKind::Push => zmq::PUSH,
            SocketKind::Pull => zmq::PULL,
            SocketKind::Pub => zmq::PUB,
            SocketKind::Sub => zmq::SUB,
            SocketKind::Router => zmq::ROUTER,
            SocketKind::Dealer => zmq::DEALER,
            SocketKind::Req => zmq::REQ,
            SocketKind::Rep => zmq::REP,
        };
        ctx.socket(t).map_err(|e| e.to_string())
    }

    fn bind(socket: &zmq::Socket, endpoint: &str) -> Result<(), String> {
        socket.bind(endpoint).map_err(|e| e.to_string())
    }

    fn connect(socket: &zmq::Socket, endpoint: &str) -> Result<(), String> {
        socket.connect(endpoint).map_err(|e| e.to_string())
    }

    fn subscribe(socket: &mut zmq::Socket, prefix: &[u8]) -> Result<(), String> {
        socket.set_subscribe(prefix).map_err(|e| e.to_string())
    }

    fn set_recv_timeout(socket: &mut zmq::Socket, timeout: Duration) -> Result<(), String> {
        let ms = timeout.as_millis().try_into().unwrap_or(i32::MAX);
        socket.set_rcvtimeo(ms).map_err(|e| e.to_string())
    }

    fn set_linger_zero(socket: &mut zmq::Socket) -> Result<(), String> {
        socket.set_linger(0).map_err(|e| e.to_string())
    }

    fn new_frame() -> zmq::Message {
        zmq::Message::new()
    }

    fn send(socket: &mut zmq::Socket, data: &[u8], wait: Wait) -> Result<bool, String> {
        unless_again(socket.send(data, flags(wait)))
    }

    fn send_more(socket: &mut zmq::Socket, data: &[u8]) -> Result<(), String> {
        socket.send(data, zmq::SNDMORE).map_err(|e| e.to_string())
    }

    fn recv(socket: &mut zmq::Socket, into: &mut zmq::Message, wait: Wait) -> Result<bool, String> {
        unless_again(socket.recv(into, flags(wait)))
    }

    fn poll_readable(
        sockets: &[zmq::Socket],
        timeout: Duration,
        ready: &mut Vec<usize>,
    ) -> Result<(), String> {
        let mut items: Vec<zmq::PollItem<'_>> = sockets
            .iter()
            .map(|s| s.as_poll_item(zmq::POLLIN))
            .collect();
        let ms = timeout.as_millis().try_into().unwrap_or(i64::MAX);
        zmq::poll(&mut items, ms).map_err(|e| e.to_string())?;
        ready.clear();
        ready.extend((0..items.len()).filter(|&i| items[i].is_readable()));
        Ok(())
    }

    fn proxy(
        _ctx: zmq::Context,
        frontend: zmq::Socket,
        backend: zmq::Socket,
    ) -> Result<(), String> {
        zmq::proxy(&frontend, &backend).map_err(|e| e.to_string())
    }
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
