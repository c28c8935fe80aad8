//! Request-reply: a REP server answers ten requests from a REQ client over ipc.
use zsock::{Context, Flags, SocketType};

fn main() -> zsock::Result<()> {
    let ctx = Context::new();
    let mut server = ctx.socket(SocketType::Rep)?;
    let endpoint = server.bind("ipc://*")?;
    let worker = std::thread::spawn(move || -> zsock::Result<()> {
        for _ in 0..10 {
            let request = server.recv(Flags::NONE)?;
            let reply = format!("world ({})", String::from_utf8_lossy(&request));
            server.send(reply, Flags::NONE)?;
        }
        Ok(())
    });
    let mut client = ctx.socket(SocketType::Req)?;
    client.connect(&endpoint)?;
    for i in 0..10 {
        client.send(format!("hello {i}"), Flags::NONE)?;
        let reply = client.recv(Flags::NONE)?;
        println!("request {i}: {}", String::from_utf8_lossy(&reply));
    }
    worker.join().expect("server thread")?;
    Ok(())
}
