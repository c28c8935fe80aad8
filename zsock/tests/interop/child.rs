//! The child-process side of the cells that stop (SIGSTOP) or kill (SIGKILL) a peer: this
//! test binary re-run by [`ChildPeer::spawn`](crate::support::ChildPeer::spawn) with
//! `ZSOCK_INTEROP_CHILD` set to a spec such as
//! `lib=libzmq;type=pair;connect=ipc:///tmp/x/ep;hb_ivl=50;hb_ttl=500;greet=hello`.
//!
//! Keys: `lib` (zsock | libzmq), `type` (pair, dealer, ...), `bind` or `connect` (an
//! endpoint), `hb_ivl`, `hb_ttl`, `hb_timeout` (ms), `greet` (a message sent once after
//! connecting). The child prints `ZSOCK-INTEROP-CHILD-READY <endpoint>`, then echoes what it
//! receives until it is killed (or for at most 60 s, should its parent vanish).

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use zsock::{Context, SocketOption, SocketType};

use crate::support::*;

/// How long a forgotten child lives.
const CHILD_LIFETIME: Duration = Duration::from_secs(60);

fn parse_type(name: &str) -> SocketType {
    match name {
        "pair" => SocketType::Pair,
        "pub" => SocketType::Pub,
        "sub" => SocketType::Sub,
        "req" => SocketType::Req,
        "rep" => SocketType::Rep,
        "dealer" => SocketType::Dealer,
        "router" => SocketType::Router,
        "pull" => SocketType::Pull,
        "push" => SocketType::Push,
        "xpub" => SocketType::XPub,
        "xsub" => SocketType::XSub,
        other => panic!("child: unknown socket type {other}"),
    }
}

/// Not a matrix cell: the entry point of child processes. Run without
/// `ZSOCK_INTEROP_CHILD` (as in every normal run) it returns at once.
#[test]
fn child_process_entry() {
    let Ok(spec) = std::env::var(CHILD_ENV) else {
        return;
    };
    let kv: HashMap<&str, &str> = spec
        .split(';')
        .filter(|s| !s.is_empty())
        .map(|s| s.split_once('=').expect("child spec is key=value;..."))
        .collect();
    let t = parse_type(kv["type"]);
    let ms = |k: &str| kv.get(k).map(|v| v.parse::<i32>().unwrap());
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let (mut peer, endpoint): (Box<dyn Peer>, String) = match kv["lib"] {
        "zsock" => {
            let mut s = zsock_socket(&ctx, t);
            if let Some(v) = ms("hb_ivl") {
                s.set(SocketOption::HeartbeatIvl(v)).unwrap();
            }
            if let Some(v) = ms("hb_ttl") {
                s.set(SocketOption::HeartbeatTtl(v)).unwrap();
            }
            if let Some(v) = ms("hb_timeout") {
                s.set(SocketOption::HeartbeatTimeout(v)).unwrap();
            }
            let ep = if let Some(ep) = kv.get("bind") {
                s.bind(ep).unwrap()
            } else {
                let ep = kv["connect"];
                s.connect(ep).unwrap();
                ep.to_string()
            };
            (Box::new(Zsock(s)), ep)
        }
        "libzmq" => {
            let s = zmq_socket(&zctx, t);
            if let Some(v) = ms("hb_ivl") {
                s.set_heartbeat_ivl(v).unwrap();
            }
            if let Some(v) = ms("hb_ttl") {
                s.set_heartbeat_ttl(v).unwrap();
            }
            if let Some(v) = ms("hb_timeout") {
                s.set_heartbeat_timeout(v).unwrap();
            }
            let ep = if let Some(ep) = kv.get("bind") {
                s.bind(ep).unwrap();
                zmq_last_endpoint(&s)
            } else {
                let ep = kv["connect"];
                s.connect(ep).unwrap();
                ep.to_string()
            };
            (Box::new(Zmq(s)), ep)
        }
        other => panic!("child: unknown library {other}"),
    };
    println!("{CHILD_READY} {endpoint}");
    std::io::stdout().flush().unwrap();
    if let Some(greeting) = kv.get("greet") {
        peer.send(&[greeting.as_bytes().to_vec()]);
    }
    let start = Instant::now();
    while start.elapsed() < CHILD_LIFETIME {
        if let Some(m) = peer.recv_within(Duration::from_millis(100)) {
            peer.send(&m);
        }
    }
    std::process::exit(0);
}
