//! Async PUB/SUB with a timer: a publisher task sends a weather reading for two cities
//! every 20 ms from a `tokio::time::interval`; a subscriber, a `Stream` of messages,
//! takes the first ten readings of the city it subscribed to. (A subscriber joins late:
//! what is published before its subscription reaches the publisher is not for it, as in
//! any ZeroMQ PUB/SUB, so the publisher keeps publishing until the subscriber is done.)
use std::time::Duration;

use futures::StreamExt;
use zsock::{Context, SocketOption, SocketType};
use zsock_tokio::AsyncSocket;

#[tokio::main(flavor = "current_thread")]
async fn main() -> zsock::Result<()> {
    let ctx = Context::new();
    let mut publisher = AsyncSocket::new(ctx.socket(SocketType::Pub)?)?;
    let endpoint = publisher.get_ref().bind("tcp://127.0.0.1:*")?;

    let mut subscriber = AsyncSocket::new(ctx.socket(SocketType::Sub)?)?;
    subscriber
        .get_mut()
        .set(SocketOption::Subscribe("oslo ".into()))?;
    subscriber.get_ref().connect(&endpoint)?;

    let publishing = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for n in 0u32.. {
            tick.tick().await;
            publisher.send(format!("lima {}", 18 + n % 5)).await?;
            publisher.send(format!("oslo {}", n % 7)).await?;
        }
        Ok::<(), zsock::Error>(())
    });

    let readings: Vec<String> = (&mut subscriber)
        .take(10)
        .map(|m| {
            let m = m.expect("a reading");
            String::from_utf8_lossy(&m.frames()[0]).into_owned()
        })
        .collect()
        .await;
    publishing.abort();
    assert!(readings.iter().all(|r| r.starts_with("oslo ")));
    println!("oslo: {}", readings.join(", "));
    Ok(())
}
