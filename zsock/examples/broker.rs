//! ROUTER-DEALER broker: REQ clients talk to REP workers through a broker that polls a
//! ROUTER (clients' side) and a DEALER (workers' side) and moves whole messages between
//! them, envelopes and all. The poll items are built once, as with the `zmq` crate; the
//! ready-made version of this loop is `zsock::proxy` (see the `proxy` example).
use std::time::Duration;

use zsock::{poll, Context, Events, Flags, SocketType};

const CLIENTS: usize = 3;
const REQUESTS: usize = 5;

fn main() -> zsock::Result<()> {
    let ctx = Context::new();
    let mut frontend = ctx.socket(SocketType::Router)?;
    let front = frontend.bind("ipc://*")?;
    let mut backend = ctx.socket(SocketType::Dealer)?;
    let back = backend.bind("ipc://*")?;

    for id in 0..2 {
        let (ctx, back) = (ctx.clone(), back.clone());
        std::thread::spawn(move || -> zsock::Result<()> {
            let mut worker = ctx.socket(SocketType::Rep)?;
            worker.connect(&back)?;
            loop {
                let request = worker.recv(Flags::NONE)?;
                let reply = format!(
                    "{} handled by worker {id}",
                    String::from_utf8_lossy(&request)
                );
                worker.send(reply, Flags::NONE)?;
            }
        });
    }
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let (ctx, front) = (ctx.clone(), front.clone());
        clients.push(std::thread::spawn(move || -> zsock::Result<()> {
            let mut client = ctx.socket(SocketType::Req)?;
            client.connect(&front)?;
            for r in 0..REQUESTS {
                client.send(format!("client {c} request {r}"), Flags::NONE)?;
                let reply = client.recv(Flags::NONE)?;
                println!("{}", String::from_utf8_lossy(&reply));
            }
            Ok(())
        }));
    }

    let mut items = [
        frontend.as_poll_item(Events::POLLIN),
        backend.as_poll_item(Events::POLLIN),
    ];
    let mut moved = 0;
    while moved < 2 * CLIENTS * REQUESTS {
        poll(&mut items, Some(Duration::from_secs(10)))?;
        if items[0].is_readable() {
            let msg = frontend.recv_msg(Flags::DONTWAIT)?;
            backend.send_msg(msg, Flags::NONE)?;
            moved += 1;
        }
        if items[1].is_readable() {
            let msg = backend.recv_msg(Flags::DONTWAIT)?;
            frontend.send_msg(msg, Flags::NONE)?;
            moved += 1;
        }
    }
    for c in clients {
        c.join().expect("client thread")?;
    }
    println!("broker moved {moved} messages");
    Ok(())
}
