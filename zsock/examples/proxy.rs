//! The built-in proxy as a broker: REQ clients reach REP workers through `zsock::Proxy`
//! (a ROUTER for the clients, a DEALER for the workers), steered over a control socket
//! that asks for the counters and then stops it.
use zsock::{Context, Flags, Proxy, SocketType};

const CLIENTS: usize = 3;
const REQUESTS: usize = 5;

fn main() -> zsock::Result<()> {
    let ctx = Context::new();
    let mut frontend = ctx.socket(SocketType::Router)?;
    let mut backend = ctx.socket(SocketType::Dealer)?;
    let mut control = ctx.socket(SocketType::Rep)?;
    let front = frontend.bind("ipc://*")?;
    let back = backend.bind("ipc://*")?;
    let steer = control.bind("ipc://*")?;
    let broker = std::thread::spawn(move || {
        Proxy::new(&mut frontend, &mut backend)
            .control(&mut control)
            .run()
    });

    let mut worker = ctx.socket(SocketType::Rep)?;
    worker.connect(&back)?;
    std::thread::spawn(move || -> zsock::Result<()> {
        loop {
            let request = worker.recv_string(Flags::NONE)?;
            worker.send(format!("{request}: done"), Flags::NONE)?;
        }
    });
    for c in 0..CLIENTS {
        let mut client = ctx.socket(SocketType::Req)?;
        client.connect(&front)?;
        for r in 0..REQUESTS {
            client.send(format!("client {c} request {r}"), Flags::NONE)?;
            println!("{}", client.recv_string(Flags::NONE)?);
        }
    }

    let mut steering = ctx.socket(SocketType::Req)?;
    steering.connect(&steer)?;
    steering.send("STATISTICS", Flags::NONE)?;
    let counters = steering.recv_multipart(Flags::NONE)?;
    let frames_in = u64::from_ne_bytes(counters[0][..].try_into().expect("8 bytes"));
    println!("the frontend received {frames_in} frames");
    steering.send("TERMINATE", Flags::NONE)?;
    steering.recv(Flags::NONE)?;
    let stats = broker.join().expect("broker thread")?;
    println!("the backend sent {} bytes", stats.backend.sent_bytes);
    Ok(())
}
