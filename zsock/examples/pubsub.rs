//! Publish-subscribe with filtering: a weather server publishes updates for random zip
//! codes; a client subscribes to one zip code and averages 20 of its updates.
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use zsock::{Context, Flags, SocketOption, SocketType};

fn main() -> zsock::Result<()> {
    let ctx = Context::new();
    let mut publisher = ctx.socket(SocketType::Pub)?;
    let endpoint = publisher.bind("ipc://*")?;
    let done = Arc::new(AtomicBool::new(false));
    let stop = done.clone();
    let server = std::thread::spawn(move || -> zsock::Result<()> {
        let mut seed = 12345u32;
        while !stop.load(Ordering::Relaxed) {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let zip = 10000 + (seed >> 8) % 8;
            let temperature = (seed >> 4) % 40;
            publisher.send(format!("{zip} {temperature}"), Flags::NONE)?;
        }
        Ok(())
    });

    let mut subscriber = ctx.socket(SocketType::Sub)?;
    subscriber.set(SocketOption::Subscribe("10001 ".into()))?;
    subscriber.connect(&endpoint)?;
    let mut total = 0u32;
    for _ in 0..20 {
        let update = subscriber.recv(Flags::NONE)?;
        let text = String::from_utf8_lossy(&update);
        assert!(text.starts_with("10001 "), "filtering failed: {text}");
        total += text[6..].parse::<u32>().unwrap_or(0);
    }
    println!("average temperature for zip 10001: {}", total / 20);
    done.store(true, Ordering::Relaxed);
    server.join().expect("publisher thread")?;
    Ok(())
}
