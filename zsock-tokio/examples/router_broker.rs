//! An async ROUTER-DEALER broker with `tokio::select!`: REQ clients talk to REP workers
//! through a broker task that waits on both of its sockets at once and moves whole
//! messages (envelopes included) from one to the other. Each branch's receive is cancel
//! safe, so the branch that loses a `select!` loses no message.
use zsock::{Context, SocketType};
use zsock_tokio::AsyncSocket;

const CLIENTS: usize = 4;
const WORKERS: usize = 2;
const REQUESTS: usize = 10;

#[tokio::main]
async fn main() -> zsock::Result<()> {
    let ctx = Context::new();
    let mut frontend = AsyncSocket::new(ctx.socket(SocketType::Router)?)?;
    let front = frontend.get_ref().bind("ipc://*")?;
    let mut backend = AsyncSocket::new(ctx.socket(SocketType::Dealer)?)?;
    let back = backend.get_ref().bind("ipc://*")?;

    for id in 0..WORKERS {
        tokio::spawn(worker(ctx.clone(), back.clone(), id));
    }

    let mut clients = Vec::new();
    for id in 0..CLIENTS {
        let (ctx, front) = (ctx.clone(), front.clone());
        clients.push(tokio::spawn(async move {
            let mut client = AsyncSocket::new(ctx.socket(SocketType::Req)?)?;
            client.get_ref().connect(&front)?;
            for n in 0..REQUESTS {
                let request = format!("job {id}.{n}");
                client.send(&request).await?;
                let reply = client.recv_string().await?;
                assert!(reply.starts_with(&format!("{request} done by worker")));
            }
            Ok::<(), zsock::Error>(())
        }));
    }

    // The broker, until every client has had its replies.
    let mut clients_done = futures::future::try_join_all(clients);
    let mut moved = 0usize;
    loop {
        tokio::select! {
            request = frontend.recv_msg() => {
                backend.send_msg(request?).await?;
                moved += 1;
            }
            reply = backend.recv_msg() => {
                frontend.send_msg(reply?).await?;
                moved += 1;
            }
            done = &mut clients_done => {
                for r in done.expect("client task") {
                    r?;
                }
                break;
            }
        }
    }
    println!("broker moved {moved} messages for {CLIENTS} clients and {WORKERS} workers");
    Ok(())
}

/// A REP worker: answers each request it is given, until the runtime ends.
async fn worker(ctx: Context, back: String, id: usize) -> zsock::Result<()> {
    let mut worker = AsyncSocket::new(ctx.socket(SocketType::Rep)?)?;
    worker.get_ref().connect(&back)?;
    loop {
        let request = worker.recv_string().await?;
        worker
            .send(format!("{request} done by worker {id}"))
            .await?;
    }
}
