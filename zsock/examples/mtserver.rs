//! A multithreaded server, as in the ZeroMQ Guide's mtserver: clients reach a ROUTER over
//! `ipc://`, and a proxy hands their requests to worker threads behind a DEALER over
//! `inproc://` (no kernel socket, no copy between the threads). The workers connect before
//! the DEALER binds: an inproc connect waits for its bind. At the end the context is shut
//! down, which ends the proxy's and the workers' blocking calls with ETERM.
use zsock::{Context, ErrorKind, Flags, SocketType};

const WORKERS: usize = 4;
const CLIENTS: usize = 3;
const REQUESTS: usize = 5;

fn main() -> zsock::Result<()> {
    let ctx = Context::new();

    // Workers first: their connects complete when the backend binds below.
    let mut workers = Vec::new();
    for id in 0..WORKERS {
        let mut worker = ctx.socket(SocketType::Rep)?;
        worker.connect("inproc://workers")?;
        workers.push(std::thread::spawn(move || -> zsock::Result<usize> {
            let mut served = 0;
            loop {
                let request = match worker.recv_string(Flags::NONE) {
                    Ok(r) => r,
                    // The context was shut down: this worker is done.
                    Err(e) if e.kind() == ErrorKind::Terminated => return Ok(served),
                    Err(e) => return Err(e),
                };
                worker.send(format!("{request}: done by worker {id}"), Flags::NONE)?;
                served += 1;
            }
        }));
    }

    let mut frontend = ctx.socket(SocketType::Router)?;
    let endpoint = frontend.bind("ipc://*")?;
    let mut backend = ctx.socket(SocketType::Dealer)?;
    backend.bind("inproc://workers")?;
    let proxy = std::thread::spawn(move || zsock::proxy(&mut frontend, &mut backend, None));

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

    ctx.shutdown();
    let stopped = proxy.join().expect("proxy thread").unwrap_err();
    assert_eq!(stopped.kind(), ErrorKind::Terminated);
    let served: usize = workers
        .into_iter()
        .map(|w| w.join().expect("worker thread"))
        .sum::<zsock::Result<usize>>()?;
    println!("{served} requests served by {WORKERS} workers");
    Ok(())
}
