//! An async REQ/REP server with many clients: one REP socket answers the requests of 20
//! client tasks, each with its own REQ socket, on one tokio runtime. A REP socket answers
//! one request at a time, fairly across its clients; while it waits, its task costs nothing
//! and the runtime runs the clients.
use zsock::{Context, SocketType};
use zsock_tokio::AsyncSocket;

const CLIENTS: usize = 20;
const REQUESTS: usize = 5;

#[tokio::main]
async fn main() -> zsock::Result<()> {
    let ctx = Context::new();
    let mut server = AsyncSocket::new(ctx.socket(SocketType::Rep)?)?;
    let endpoint = server.get_ref().bind("ipc://*")?;

    let mut clients = Vec::new();
    for id in 0..CLIENTS {
        let (ctx, endpoint) = (ctx.clone(), endpoint.clone());
        clients.push(tokio::spawn(async move {
            let mut req = AsyncSocket::new(ctx.socket(SocketType::Req)?)?;
            req.get_ref().connect(&endpoint)?;
            for n in 0..REQUESTS {
                req.send(format!("{id} {n}")).await?;
                let reply = req.recv_string().await?;
                assert_eq!(reply, format!("sum {}", id + n));
            }
            Ok::<(), zsock::Error>(())
        }));
    }

    // The server: parse "a b", answer "sum a+b", until every request was answered.
    for _ in 0..CLIENTS * REQUESTS {
        let request = server.recv_string().await?;
        let sum: usize = request
            .split(' ')
            .map(|n| n.parse::<usize>().unwrap_or(0))
            .sum();
        server.send(format!("sum {sum}")).await?;
    }
    for c in clients {
        c.await.expect("client task")?;
    }
    println!(
        "answered {} requests from {CLIENTS} clients",
        CLIENTS * REQUESTS
    );
    Ok(())
}
