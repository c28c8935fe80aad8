//! A multithreaded server: clients reach a ROUTER over `ipc://`, and a proxy hands their
//! requests to worker threads behind a DEALER over `inproc://` (no kernel socket, no copy
//! between the threads). The workers connect before the DEALER binds: an inproc connect
//! waits for its bind. A control socket, also inproc, stops the proxy at the end.
use zsock::{Context, Flags, Proxy, SocketType};

const WORKERS: usize = 4;
const CLIENTS: usize = 3;
const REQUESTS: usize = 5;

fn main() -> zsock::Result<()> {
    let ctx = Context::new();

    // Workers first: their connects complete when the backend binds below.
    for id in 0..WORKERS {
        let mut worker = ctx.socket(SocketType::Rep)?;
        worker.connect("inproc://workers")?;
        std::thread::spawn(move || -> zsock::Result<()> {
            loop {
                let request = worker.recv_string(Flags::NONE)?;
                worker.send(format!("{request}: done by worker {id}"), Flags::NONE)?;
            }
        });
    }

    let mut frontend = ctx.socket(SocketType::Router)?;
    let endpoint = frontend.bind("ipc://*")?;
    let mut backend = ctx.socket(SocketType::Dealer)?;
    backend.bind("inproc://workers")?;
    let mut control = ctx.socket(SocketType::Pair)?;
    control.bind("inproc://control")?;
    let proxy = std::thread::spawn(move || {
        Proxy::new(&mut frontend, &mut backend)
            .control(&mut control)
            .run()
    });

    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let (ctx, endpoint) = (ctx.clone(), endpoint.clone());
            std::thread::spawn(move || -> zsock::Result<()> {
                let mut client = ctx.socket(SocketType::Req)?;
                client.connect(&endpoint)?;
                for r in 0..REQUESTS {
                    client.send(format!("client {c} request {r}"), Flags::NONE)?;
                    println!("{}", client.recv_string(Flags::NONE)?);
                }
                Ok(())
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client thread")?;
    }

    let mut stop = ctx.socket(SocketType::Pair)?;
    stop.connect("inproc://control")?;
    stop.send("TERMINATE", Flags::NONE)?;
    let stats = proxy.join().expect("proxy thread")?;
    // (A request is three frames at the ROUTER: routing id, empty delimiter, body.)
    println!(
        "the frontend took {} frames and gave back {}",
        stats.frontend.recv_frames, stats.frontend.sent_frames
    );
    Ok(())
}
