//! Waiting on a zsock socket from an external event loop (mio) through its pollable file
//! descriptor, as libzmq users do with ZMQ_FD. The same descriptor works with tokio's
//! `AsyncFd` or a plain poll(2).
use std::os::fd::AsRawFd;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events as MioEvents, Interest, Poll, Token};
use zsock::{Context, ErrorKind, Events, Flags, SocketType};

fn main() -> std::io::Result<()> {
    let ctx = Context::new();
    // (`?` turns a zsock::Error into an io::Error: EAGAIN is WouldBlock, and so on.)
    let mut pull = ctx.socket(SocketType::Pull)?;
    let endpoint = pull.bind("ipc://*")?;
    let sender = std::thread::spawn(move || -> zsock::Result<()> {
        let mut push = ctx.socket(SocketType::Push)?;
        push.connect(&endpoint)?;
        for i in 0..20 {
            push.send(format!("event {i}"), Flags::NONE)?;
            std::thread::sleep(Duration::from_millis(2)); // a trickle, to exercise wake-ups
        }
        Ok(())
    });

    let mut poll = Poll::new()?;
    let fd = pull.fd()?.as_raw_fd();
    poll.registry()
        .register(&mut SourceFd(&fd), Token(0), Interest::READABLE)?;
    let mut events = MioEvents::with_capacity(8);
    let mut received = 0;
    while received < 20 {
        poll.poll(&mut events, Some(Duration::from_secs(10)))?;
        // The descriptor says "something may have changed": drain while EVENTS says POLLIN.
        // (Receiving with DONTWAIT until EAGAIN, without EVENTS, works as well.)
        while pull.events().contains(Events::POLLIN) {
            match pull.recv(Flags::DONTWAIT) {
                Ok(m) => {
                    println!("{}", String::from_utf8_lossy(&m));
                    received += 1;
                }
                Err(e) if e.kind() == ErrorKind::Again => break,
                Err(e) => return Err(e.into()),
            }
        }
    }
    sender.join().expect("sender thread")?;
    println!("received {received} messages through the event loop");
    Ok(())
}
