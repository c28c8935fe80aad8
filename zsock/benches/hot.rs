//! The socket-level hot paths in one process, over real Unix sockets: the hand-off from
//! `send` through the engine to `recv` (PUSH to PULL, small and mid-size messages), and the
//! routing decisions (PUB filtering by subscription, ROUTER addressing by routing id).
//! These catch regressions without the two-process harness of `cargo xtask bench`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use zsock::{Context, Flags, Socket, SocketOption, SocketType};

/// Messages per iteration: enough to cross several batches, fewer than the HWMs.
const BURST: usize = 500;

fn endpoint(dir: &tempfile::TempDir, name: &str) -> String {
    format!("ipc://{}", dir.path().join(name).display())
}

fn pair(ctx: &Context, dir: &tempfile::TempDir, a: SocketType, b: SocketType) -> (Socket, Socket) {
    let x = ctx.socket(a).expect("socket");
    let ep = endpoint(dir, &format!("{a:?}-{b:?}"));
    x.bind(&ep).expect("bind");
    let y = ctx.socket(b).expect("socket");
    y.connect(&ep).expect("connect");
    (x, y)
}

/// PUSH to PULL: `send` and `recv` of a burst, both sockets in this thread.
fn hand_off(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = Context::new();
    let (mut push, mut pull) = pair(&ctx, &dir, SocketType::Push, SocketType::Pull);
    let mut g = c.benchmark_group("push_pull_burst");
    for size in [1usize, 64, 1024] {
        let body = vec![0x5Au8; size];
        g.throughput(Throughput::Elements(BURST as u64));
        g.bench_with_input(BenchmarkId::from_parameter(size), &body, |b, body| {
            b.iter(|| {
                for _ in 0..BURST {
                    push.send(body.clone(), Flags::NONE).expect("send");
                }
                for _ in 0..BURST {
                    assert_eq!(pull.recv(Flags::NONE).expect("recv").len(), body.len());
                }
            })
        });
    }
    g.finish();
}

/// PUB to SUB with 100 subscriptions of which one matches half the messages: the PUB's
/// per-pipe filter decides what crosses.
fn pub_filter(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = Context::new();
    let (mut publ, mut sub) = pair(&ctx, &dir, SocketType::Pub, SocketType::Sub);
    for i in 0..100 {
        sub.set(SocketOption::Subscribe(
            format!("topic-{i:03}").into_bytes().into(),
        ))
        .expect("subscribe");
    }
    // Wait until the PUB has the subscriptions: a matching message gets through.
    sub.set(SocketOption::RcvTimeo(10)).expect("rcvtimeo");
    loop {
        publ.send("topic-042 ready", Flags::NONE).expect("send");
        if sub.recv(Flags::NONE).is_ok() {
            break;
        }
    }
    // Drain the other "ready" copies: until none comes for 50 ms.
    sub.set(SocketOption::RcvTimeo(50)).expect("rcvtimeo");
    while sub.recv(Flags::NONE).is_ok() {}
    sub.set(SocketOption::RcvTimeo(-1)).expect("rcvtimeo");
    let mut g = c.benchmark_group("pub_filter");
    g.throughput(Throughput::Elements(BURST as u64));
    g.bench_function("100_subscriptions", |b| {
        b.iter(|| {
            for i in 0..BURST {
                let topic: &[u8] = if i % 2 == 0 {
                    b"topic-077 x"
                } else {
                    b"other x"
                };
                publ.send(topic.to_vec(), Flags::NONE).expect("send");
            }
            for _ in 0..BURST / 2 {
                assert!(sub
                    .recv(Flags::NONE)
                    .expect("recv")
                    .starts_with(b"topic-077"));
            }
        })
    });
    g.finish();
}

/// DEALER to ROUTER and back: the ROUTER looks up the routing id of every reply.
fn router_addressing(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let ctx = Context::new();
    let (mut router, mut dealer) = pair(&ctx, &dir, SocketType::Router, SocketType::Dealer);
    let mut g = c.benchmark_group("router_addressing");
    g.throughput(Throughput::Elements(BURST as u64));
    g.bench_function("round_trips", |b| {
        b.iter(|| {
            for _ in 0..BURST {
                dealer.send("q", Flags::NONE).expect("send");
            }
            for _ in 0..BURST {
                let id = router.recv(Flags::NONE).expect("id");
                let body = router.recv(Flags::NONE).expect("body");
                router.send(id, Flags::SNDMORE).expect("send id");
                router.send(body, Flags::NONE).expect("send body");
            }
            for _ in 0..BURST {
                dealer.recv(Flags::NONE).expect("reply");
            }
        })
    });
    g.finish();
}

criterion_group!(benches, hand_off, pub_filter, router_addressing);
criterion_main!(benches);
