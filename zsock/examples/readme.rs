//! The README's example, kept compiling and running in CI.
use zsock::{Context, Flags, SocketOption, SocketType};

fn main() -> zsock::Result<()> {
    let ctx = Context::new();
    let mut rep = ctx.socket(SocketType::Rep)?;
    let endpoint = rep.bind("ipc://*")?; // a private 0700 directory under $TMPDIR
    let mut req = ctx.socket(SocketType::Req)?;
    req.set(SocketOption::RcvTimeo(1000))?;
    req.connect(&endpoint)?;

    req.send("ping", Flags::NONE)?;
    let request = rep.recv_msg(Flags::NONE)?; // frames are zero-copy `Bytes`
    rep.send_msg(request, Flags::NONE)?; // echo it back
    assert_eq!(req.recv(Flags::NONE)?, "ping");
    println!("ping echoed over {endpoint}");
    Ok(()) // dropping the sockets removes the socket file and its directory
}
