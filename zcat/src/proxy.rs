//! `zcat proxy`: the built-in proxy between two sockets, optionally printing what passes.

use std::os::fd::AsFd;
use std::process::ExitCode;

use zsock::{Context, Direction, Proxy, Socket, SocketOption, SocketType};

use crate::printer::Printer;
use crate::{attach, parse_type, signal_fd, text, usage_or};

pub(crate) const USAGE: &str =
    "usage: zcat proxy FRONT_TYPE BACK_TYPE [--front-bind EP]... [--front-connect EP]...
                  [--back-bind EP]... [--back-connect EP]... [--print]
  FRONT_TYPE, BACK_TYPE   the two sockets' types: router dealer (a broker), xsub xpub (a
                          forwarder), pull push (a streamer), ...
  --front-bind EP, --back-bind EP
                          bind that side (repeatable); prints `bound EP` on stderr
  --front-connect EP, --back-connect EP
                          connect that side (repeatable)
  --print                 write each message that passes as a line, `> ` before those
                          going front to back and `< ` before those going back to front
Runs until SIGINT or SIGTERM, then closes at once (socket files are removed).";

/// `zcat proxy`'s command line.
#[derive(Debug)]
struct ProxyArgs {
    front: Side,
    back: Side,
    print: bool,
}

/// One side of the proxy: its type and endpoints.
#[derive(Debug)]
struct Side {
    ty: SocketType,
    binds: Vec<String>,
    connects: Vec<String>,
}

impl Side {
    fn new(ty: SocketType) -> Side {
        Side {
            ty,
            binds: Vec::new(),
            connects: Vec::new(),
        }
    }

    /// The side's socket, bound (each bind printed) and connected.
    fn open(&self, ctx: &Context) -> Result<Socket, String> {
        let s = ctx
            .socket(self.ty)
            .map_err(|e| format!("cannot create socket: {e}"))?;
        attach(&s, &self.binds, &self.connects)?;
        Ok(s)
    }
}

fn parse(argv: &[String]) -> Result<ProxyArgs, String> {
    let ty = |s: Option<&String>, which: &str| {
        let s = s.ok_or_else(|| format!("missing {which} socket type"))?;
        parse_type(s).ok_or_else(|| format!("unknown socket type `{s}`"))
    };
    let mut it = argv.iter();
    let first = it.next();
    if first.is_some_and(|a| a == "--help" || a == "-h") {
        return Err(String::new());
    }
    let mut a = ProxyArgs {
        front: Side::new(ty(first, "frontend")?),
        back: Side::new(ty(it.next(), "backend")?),
        print: false,
    };
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{arg} needs an endpoint"))
        };
        match arg.as_str() {
            "--front-bind" => a.front.binds.push(value()?),
            "--front-connect" => a.front.connects.push(value()?),
            "--back-bind" => a.back.binds.push(value()?),
            "--back-connect" => a.back.connects.push(value()?),
            "--print" => a.print = true,
            "--help" | "-h" => return Err(String::new()),
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    for (side, name) in [(&a.front, "front"), (&a.back, "back")] {
        if side.binds.is_empty() && side.connects.is_empty() {
            return Err(format!(
                "give the {name}end at least one --{name}-bind or --{name}-connect"
            ));
        }
    }
    Ok(a)
}

/// Runs `zcat proxy` with its arguments (after `proxy`).
pub(crate) fn main(argv: &[String]) -> ExitCode {
    let args = match usage_or(parse(argv), USAGE) {
        Ok(a) => a,
        Err(code) => return code,
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("zcat: {e}");
            ExitCode::from(2)
        }
    }
}

fn run(args: &ProxyArgs) -> Result<(), String> {
    // Before the context's threads start, so that every thread blocks the signals.
    let sig = signal_fd().map_err(|e| format!("signalfd: {e}"))?;
    let ctx = Context::new();
    let mut front = args.front.open(&ctx)?;
    let mut back = args.back.open(&ctx)?;
    // Standard output is written by a thread of its own: a reader that stops reading slows
    // the proxy down (the tap waits for room, and the sockets' HWMs push back on the peers)
    // but never keeps SIGINT or SIGTERM from stopping it.
    let mut printer = match args.print {
        true => Some(Printer::start().map_err(|e| format!("stdout: {e}"))?),
        false => None,
    };
    let mut proxy = Proxy::new(&mut front, &mut back).stop_on(sig.as_fd());
    if let Some(printer) = printer.as_mut() {
        let sig = &sig;
        let mut out_gone = false;
        proxy = proxy.tap(move |dir, m| {
            let mark = match dir {
                Direction::FrontToBack => '>',
                Direction::BackToFront => '<',
            };
            // A reader that went away does not stop the proxy; the signal stops the wait
            // (the proxy then sees it and returns).
            if !out_gone {
                let line = format!("{mark} {}", text::format_message(m));
                out_gone = printer.print_or_stop(line, sig).is_err();
            }
        });
    }
    let result = proxy.run().map(drop).map_err(|e| format!("proxy: {e}"));
    if let Some(p) = printer.as_mut() {
        // Stopped by a signal (still pending on the descriptor): exit at once, as zcat's
        // other commands do, leaving a write that cannot finish behind. (An error ends the
        // proxy with the signal absent: then what was printed goes out first.)
        let _ = p.finish(&sig);
    }
    // Stopped by a signal (or failed): close at once; socket files are removed.
    for s in [&mut front, &mut back] {
        let _ = s.set(SocketOption::Linger(0));
    }
    drop((front, back));
    drop(ctx);
    result
}
