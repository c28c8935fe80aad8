//! The README's async example, kept compiling and running in CI.
use zsock::{Context, SocketType};
use zsock_tokio::AsyncSocket;

#[tokio::main]
async fn main() -> zsock::Result<()> {
    let ctx = Context::new();
    let mut rep = AsyncSocket::new(ctx.socket(SocketType::Rep)?)?;
    let endpoint = rep.get_ref().bind("tcp://127.0.0.1:*")?;
    let mut req = AsyncSocket::new(ctx.socket(SocketType::Req)?)?;
    req.get_ref().connect(&endpoint)?;
    req.send("ping").await?;
    let request = rep.recv_msg().await?;
    rep.send_msg(request).await?;
    assert_eq!(req.recv().await?, "ping");
    println!("ping echoed over {endpoint}");
    Ok(())
}
