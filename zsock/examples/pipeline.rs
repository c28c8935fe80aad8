//! Pipeline: a ventilator pushes 100 tasks to three workers, which push results to a sink.
use zsock::{Context, Flags, SocketType};

fn main() -> zsock::Result<()> {
    let ctx = Context::new();
    let ventilator = ctx.socket(SocketType::Push)?;
    let monitor = ventilator.monitor();
    let tasks = ventilator.bind("ipc://*")?;
    let mut sink = ctx.socket(SocketType::Pull)?;
    let results = sink.bind("ipc://*")?;

    let mut workers = Vec::new();
    for id in 0..3 {
        let (tasks, results, ctx) = (tasks.clone(), results.clone(), ctx.clone());
        workers.push(std::thread::spawn(move || -> zsock::Result<u32> {
            let mut input = ctx.socket(SocketType::Pull)?;
            input.connect(&tasks)?;
            let mut output = ctx.socket(SocketType::Push)?;
            output.connect(&results)?;
            let mut done = 0;
            loop {
                let task = input.recv(Flags::NONE)?;
                if task.is_empty() {
                    return Ok(done); // the ventilator's stop signal
                }
                let n: u32 = String::from_utf8_lossy(&task).parse().unwrap_or(0);
                output.send(format!("{id} {}", n * n), Flags::NONE)?;
                done += 1;
            }
        }));
    }

    // Wait until every worker is connected, or the first would take all the tasks.
    let mut connected = 0;
    while connected < 3 {
        match monitor.next(Some(std::time::Duration::from_secs(10))) {
            Some(zsock::Event::HandshakeSucceeded { .. }) => connected += 1,
            Some(_) => {}
            None => panic!("workers did not connect"),
        }
    }
    let mut ventilator = ventilator;
    for n in 1..=100u32 {
        ventilator.send(n.to_string(), Flags::NONE)?;
    }
    let mut sum = 0u64;
    for _ in 0..100 {
        let result = sink.recv(Flags::NONE)?;
        let text = String::from_utf8_lossy(&result);
        let square: u64 = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        sum += square;
    }
    // One stop signal per worker (PUSH round-robins them).
    for _ in 0..3 {
        ventilator.send("", Flags::NONE)?;
    }
    for (id, w) in workers.into_iter().enumerate() {
        println!(
            "worker {id} did {} tasks",
            w.join().expect("worker thread")?
        );
    }
    println!("sum of squares 1..=100: {sum}");
    assert_eq!(sum, (1..=100u64).map(|n| n * n).sum());
    Ok(())
}
