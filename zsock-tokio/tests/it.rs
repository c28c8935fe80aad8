//! zsock-tokio over real sockets: both tokio runtimes, ipc and tcp, libzmq peers, the
//! Stream and Sink, cancellation, edge-triggered readiness, and idleness.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use zsock::{Context, Event, Events, Flags, Message, SocketOption, SocketType};
use zsock_tokio::AsyncSocket;

/// A bound for waits that end on an event: reached only when the test fails.
const LONG: Duration = Duration::from_secs(20);

async fn within<F: Future>(what: &str, f: F) -> F::Output {
    match tokio::time::timeout(LONG, f).await {
        Ok(v) => v,
        Err(_) => panic!("{what}: nothing within {LONG:?}"),
    }
}

fn asock(ctx: &Context, t: SocketType) -> AsyncSocket {
    AsyncSocket::new(ctx.socket(t).unwrap()).unwrap()
}

/// An async PULL bound to an ipc endpoint and a blocking PUSH connected to it.
fn pull_and_push(ctx: &Context) -> (AsyncSocket, zsock::Socket) {
    let pull = asock(ctx, SocketType::Pull);
    let ep = pull.get_ref().bind("ipc://*").unwrap();
    let push = ctx.socket(SocketType::Push).unwrap();
    push.connect(&ep).unwrap();
    (pull, push)
}

/// A bound REP and a connected REQ over `transport` ("ipc", "tcp" or "inproc").
fn req_rep(ctx: &Context, transport: &str) -> (AsyncSocket, AsyncSocket) {
    let rep = asock(ctx, SocketType::Rep);
    let ep = match transport {
        "ipc" => rep.get_ref().bind("ipc://*").unwrap(),
        "inproc" => rep.get_ref().bind("inproc://req-rep").unwrap(),
        _ => rep.get_ref().bind("tcp://127.0.0.1:*").unwrap(),
    };
    let req = asock(ctx, SocketType::Req);
    req.get_ref().connect(&ep).unwrap();
    (rep, req)
}

async fn round_trips(rep: AsyncSocket, mut req: AsyncSocket, n: usize) {
    let server = tokio::spawn(async move {
        let mut rep = rep;
        for _ in 0..n {
            let m = rep.recv_msg().await.unwrap();
            rep.send_msg(m).await.unwrap();
        }
        rep
    });
    for i in 0..n {
        let body = format!("request {i}");
        req.send(&body).await.unwrap();
        assert_eq!(req.recv().await.unwrap(), body.as_bytes());
    }
    within("the server's end", server).await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn req_rep_over_ipc_on_the_current_thread_runtime() {
    let ctx = Context::new();
    let (rep, req) = req_rep(&ctx, "ipc");
    within("1000 round trips", round_trips(rep, req, 1000)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn req_rep_over_tcp_on_the_multi_thread_runtime() {
    let ctx = Context::new();
    let (rep, req) = req_rep(&ctx, "tcp");
    within("1000 round trips", round_trips(rep, req, 1000)).await;
}

#[tokio::test(flavor = "current_thread")]
async fn req_rep_over_inproc_on_the_current_thread_runtime() {
    let ctx = Context::new();
    let (rep, req) = req_rep(&ctx, "inproc");
    within("1000 round trips", round_trips(rep, req, 1000)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn req_rep_over_inproc_on_the_multi_thread_runtime() {
    let ctx = Context::new();
    let (rep, req) = req_rep(&ctx, "inproc");
    within("1000 round trips", round_trips(rep, req, 1000)).await;
}

/// An async PULL fed over inproc by a blocking PUSH in another thread: every message, in
/// order, whether it came while the task waited or while it was busy.
#[tokio::test(flavor = "current_thread")]
async fn an_async_pull_takes_an_inproc_stream_from_a_thread() {
    let ctx = Context::new();
    let mut pull = asock(&ctx, SocketType::Pull);
    pull.get_ref().bind("inproc://stream").unwrap();
    let mut push = ctx.socket(SocketType::Push).unwrap();
    push.connect("inproc://stream").unwrap();
    let sender = std::thread::spawn(move || {
        for i in 0..20_000u32 {
            push.send(i.to_be_bytes().as_slice(), zsock::Flags::NONE)
                .unwrap();
        }
        push
    });
    for i in 0..20_000u32 {
        let m = within("the next message", pull.recv()).await.unwrap();
        assert_eq!(m, i.to_be_bytes().as_slice());
    }
    let _push = sender.join().unwrap();
}

/// A PUSH used as a Sink, a PULL as a Stream: every message, whole and in order, multipart
/// ones included; on both runtimes.
async fn sink_to_stream() {
    let ctx = Context::new();
    let mut pull = asock(&ctx, SocketType::Pull);
    let ep = pull.get_ref().bind("ipc://*").unwrap();
    let mut push = asock(&ctx, SocketType::Push);
    push.get_mut().set(SocketOption::SndHwm(10)).unwrap();
    push.get_ref().connect(&ep).unwrap();
    const N: usize = 20_000;
    let producer = tokio::spawn(async move {
        let mut msgs = futures::stream::iter(0..N).map(|i| {
            let mut m = Message::new();
            m.push(Bytes::from(i.to_string()));
            if i % 3 == 0 {
                m.push(Bytes::new());
                m.push(Bytes::from_static(b"tail"));
            }
            Ok::<_, zsock::Error>(m)
        });
        push.send_all(&mut msgs).await.unwrap();
        SinkExt::<Message>::close(&mut push).await.unwrap();
        push
    });
    let got: Vec<Message> = within(
        "all messages",
        (&mut pull).take(N).map(Result::unwrap).collect(),
    )
    .await;
    for (i, m) in got.iter().enumerate() {
        assert_eq!(
            m.frames()[0],
            i.to_string().as_bytes(),
            "message {i} in order"
        );
        let want = if i % 3 == 0 { 3 } else { 1 };
        assert_eq!(m.len(), want, "message {i} whole");
    }
    within("the producer's end", producer).await.unwrap();
}

#[tokio::test(flavor = "current_thread")]
async fn sink_to_stream_on_the_current_thread_runtime() {
    sink_to_stream().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sink_to_stream_on_the_multi_thread_runtime() {
    sink_to_stream().await;
}

/// ZMQ_FD's edge: messages that arrived while no task polled, after someone emptied the
/// notify descriptor (EVENTS), are all received; none waits for a further arrival.
#[tokio::test(flavor = "current_thread")]
async fn messages_that_came_while_nobody_polled_are_not_stranded() {
    let ctx = Context::new();
    let (mut pull, mut push) = pull_and_push(&ctx);
    const N: usize = 500;
    for i in 0..N {
        push.send(i.to_string(), Flags::NONE).unwrap();
    }
    // Wait (without the async API) until input is there; EVENTS empties the descriptor,
    // so its readiness is spent before the task first polls.
    within("input", async {
        while !pull.get_ref().events().contains(Events::POLLIN) {
            tokio::task::yield_now().await;
        }
    })
    .await;
    for i in 0..N {
        let m = within("a queued message", pull.recv()).await.unwrap();
        assert_eq!(m, i.to_string().as_bytes());
    }
    // More while the task is busy elsewhere, then received with nothing else arriving.
    for i in 0..N {
        push.send(i.to_string(), Flags::NONE).unwrap();
    }
    tokio::task::yield_now().await;
    for i in 0..N {
        let m = within("a later message", pull.recv()).await.unwrap();
        assert_eq!(m, i.to_string().as_bytes());
    }
}

/// A receive dropped before it completed (a timeout, a losing select branch) loses no
/// message: every one arrives, in order, across thousands of cancelled receives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_receive_loses_no_message() {
    let ctx = Context::new();
    let mut pull = asock(&ctx, SocketType::Pull);
    let ep = pull.get_ref().bind("ipc://*").unwrap();
    const N: usize = 3_000;
    let sender = std::thread::spawn({
        let ctx = ctx.clone();
        move || {
            let mut push = ctx.socket(SocketType::Push).unwrap();
            push.connect(&ep).unwrap();
            for i in 0..N {
                push.send(i.to_string(), Flags::NONE).unwrap();
                if i % 10 == 0 {
                    std::thread::yield_now();
                }
            }
            push
        }
    });
    let mut next = 0;
    let mut cancelled = 0;
    while next < N {
        // Polled once, then dropped if it is not ready.
        let once = { futures::poll!(Box::pin(pull.recv())) };
        match once {
            Poll::Ready(m) => {
                assert_eq!(
                    m.unwrap(),
                    next.to_string().as_bytes(),
                    "in order, none lost"
                );
                next += 1;
            }
            Poll::Pending => {
                cancelled += 1;
                // Sometimes a receive that waits a little and is then given up.
                if cancelled % 2 == 0 {
                    let _ = tokio::time::timeout(Duration::from_micros(200), pull.recv_msg())
                        .await
                        .map(|m| {
                            assert_eq!(m.unwrap().frames()[0], next.to_string().as_bytes());
                            next += 1;
                        });
                } else {
                    tokio::task::yield_now().await;
                }
            }
        }
    }
    drop(sender.join().unwrap());
}

/// A send dropped before it completed sent none of its message; one that completed sent
/// all of it: at SNDHWM 1 with large frames and a slow reader, many sends are given up by
/// a timeout, and the reader gets exactly the messages whose sends completed, each whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_send_sends_all_of_its_message_or_nothing() {
    let ctx = Context::new();
    let mut push = asock(&ctx, SocketType::Push);
    push.get_mut().set(SocketOption::SndHwm(1)).unwrap();
    let ep = push.get_ref().bind("ipc://*").unwrap();
    const BIG: usize = 256 * 1024; // more than the kernel's socket buffers hold at once
    let reader = std::thread::spawn({
        let ctx = ctx.clone();
        move || {
            let mut pull = ctx.socket(SocketType::Pull).unwrap();
            pull.set(SocketOption::RcvHwm(1)).unwrap();
            pull.connect(&ep).unwrap();
            let mut got = Vec::new();
            loop {
                let m = pull.recv_multipart(Flags::NONE).unwrap();
                if m[0] == "end" {
                    return got;
                }
                assert_eq!(m.len(), 3, "a whole message");
                assert_eq!((m[1].len(), &m[2][..]), (BIG, &b"last"[..]));
                got.push(m[0].clone());
                std::thread::sleep(Duration::from_millis(1)); // a slow reader
            }
        }
    });
    let middle = Bytes::from(vec![7u8; BIG]);
    let mut completed = Vec::new();
    let mut given_up = 0;
    for i in 0..300u32 {
        let frames = [
            Bytes::from(i.to_string()),
            middle.clone(),
            Bytes::from_static(b"last"),
        ];
        match tokio::time::timeout(Duration::from_micros(300), push.send_multipart(frames)).await {
            Ok(r) => {
                r.unwrap();
                completed.push(Bytes::from(i.to_string()));
            }
            Err(_) => given_up += 1,
        }
    }
    within("the end marker", push.send("end")).await.unwrap();
    let got = reader.join().unwrap();
    assert_eq!(got, completed, "exactly the completed sends, in order");
    assert!(
        given_up > 0,
        "no send was given up: the test cancelled nothing"
    );
    assert!(!completed.is_empty(), "no send completed");
}

/// CPU time (user and system) of the calling thread so far.
fn thread_cpu() -> Duration {
    let mut ru = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes a rusage into the zeroed buffer; the result is checked.
    let ru = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_THREAD, ru.as_mut_ptr()), 0);
        ru.assume_init()
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Counts the polls of a future: a task that busy-loops polls thousands of times.
struct Counted<F> {
    inner: Pin<Box<F>>,
    polls: Arc<AtomicUsize>,
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        self.polls.fetch_add(1, Ordering::Relaxed);
        self.inner.as_mut().poll(cx)
    }
}

/// An idle AsyncSocket does not spin: a receive that waits 300 ms on a connected, silent
/// peer tries again only during its first microseconds (on more than one CPU it polls
/// for an answer for a moment, yielding between tries, before it sleeps), then is not
/// polled at all until a message comes, and completes then.
#[tokio::test(flavor = "current_thread")]
async fn an_idle_receive_sleeps() {
    let ctx = Context::new();
    let mut pull = asock(&ctx, SocketType::Pull);
    let ep = pull.get_ref().bind("ipc://*").unwrap();
    let mut mon = pull.monitor().unwrap();
    let mut push = ctx.socket(SocketType::Push).unwrap();
    push.connect(&ep).unwrap();
    within("the handshake", async {
        while !matches!(mon.next().await, Some(Event::HandshakeSucceeded { .. })) {}
    })
    .await;
    let polls = Arc::new(AtomicUsize::new(0));
    let cpu0 = thread_cpu();
    let recv = Counted {
        inner: Box::pin(pull.recv()),
        polls: polls.clone(),
    };
    tokio::pin!(recv);
    tokio::select! {
        _ = &mut recv => panic!("nothing was sent"),
        _ = tokio::time::sleep(Duration::from_millis(100)) => {}
    }
    let asleep = polls.load(Ordering::Relaxed);
    tokio::select! {
        _ = &mut recv => panic!("nothing was sent"),
        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
    }
    // (Once by this select as it starts, and nothing else.)
    let idle_polls = polls.load(Ordering::Relaxed) - asleep;
    assert!(
        idle_polls <= 2,
        "an idle receive was polled {idle_polls} times in 200 ms"
    );
    // Nor does it spin within a poll: the thread (the runtime's only one) used a small
    // part of those 300 ms (a spin uses all of them).
    let cpu = thread_cpu() - cpu0;
    assert!(
        cpu < Duration::from_millis(100),
        "{cpu:?} of CPU while idle"
    );
    push.send("wake", Flags::NONE).unwrap();
    assert_eq!(within("the message", recv).await.unwrap(), "wake");
}

/// A receive whose messages come a few milliseconds apart stops spinning for them: after
/// two spins that found nothing it sleeps at once, polled once to start and once when
/// the message comes (on one CPU it never spins).
#[tokio::test(flavor = "current_thread")]
async fn receives_at_a_slow_rate_stop_spinning() {
    let ctx = Context::new();
    let (mut pull, mut push) = pull_and_push(&ctx);
    let sender = std::thread::spawn(move || {
        for i in 0..8u8 {
            std::thread::sleep(Duration::from_millis(5));
            push.send([i].as_slice(), Flags::NONE).unwrap();
        }
        push
    });
    let mut polls_of = Vec::new();
    for i in 0..8u8 {
        let polls = Arc::new(AtomicUsize::new(0));
        let recv = Counted {
            inner: Box::pin(pull.recv()),
            polls: polls.clone(),
        };
        assert_eq!(within("a message", recv).await.unwrap(), [i].as_slice());
        polls_of.push(polls.load(Ordering::Relaxed));
    }
    drop(sender.join().unwrap());
    // (The first receives may spin; from the fourth on, none does.)
    assert!(
        polls_of[3..].iter().all(|&n| n <= 3),
        "polls per receive: {polls_of:?}"
    );
}

/// The monitor as an async stream: listening, accepted, handshake, then the end when the
/// socket closes.
#[tokio::test(flavor = "current_thread")]
async fn the_monitor_stream_ends_when_the_socket_closes() {
    let ctx = Context::new();
    let rep = asock(&ctx, SocketType::Rep);
    let mut mon = rep.monitor().unwrap();
    let ep = rep.get_ref().bind("tcp://127.0.0.1:*").unwrap();
    let req = asock(&ctx, SocketType::Req);
    req.get_ref().connect(&ep).unwrap();
    let mut seen = Vec::new();
    within("accepted and handshake", async {
        while let Some(e) = mon.next().await {
            let done = matches!(e, Event::HandshakeSucceeded { .. });
            seen.push(e);
            if done {
                break;
            }
        }
    })
    .await;
    assert!(matches!(seen[0], Event::Listening { .. }), "{seen:?}");
    assert!(
        seen.iter().any(|e| matches!(e, Event::Accepted { .. })),
        "{seen:?}"
    );
    drop(rep);
    // The rest of the events, then the end.
    let rest: Vec<Event> = within("the stream's end", (&mut mon).collect()).await;
    assert!(mon.try_next().is_none());
    assert!(
        rest.iter().all(|e| !matches!(e, Event::Listening { .. })),
        "{rest:?}"
    );
    drop(req);
}

/// Against libzmq: a libzmq REQ client (in a thread of its own) and an async zsock REP
/// server over tcp; a libzmq PUB and an async zsock SUB used as a Stream over ipc.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn against_libzmq_peers() {
    let ctx = Context::new();
    let mut rep = asock(&ctx, SocketType::Rep);
    let ep = rep.get_ref().bind("tcp://127.0.0.1:*").unwrap();
    let client = std::thread::spawn(move || {
        let zctx = zmq::Context::new();
        let req = zctx.socket(zmq::REQ).unwrap();
        req.connect(&ep).unwrap();
        for i in 0..100 {
            req.send_multipart([format!("q{i}").as_bytes(), b"", b"x"], 0)
                .unwrap();
            let reply = req.recv_multipart(0).unwrap();
            assert_eq!(reply, vec![format!("a{i}").into_bytes()]);
        }
    });
    for i in 0..100 {
        let m = within("a libzmq request", rep.recv_multipart())
            .await
            .unwrap();
        assert_eq!(
            m,
            vec![
                Bytes::from(format!("q{i}")),
                Bytes::new(),
                Bytes::from_static(b"x")
            ]
        );
        rep.send(format!("a{i}")).await.unwrap();
    }
    client.join().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let ep = format!("ipc://{}/pub.sock", dir.path().display());
    let zctx = zmq::Context::new();
    let publisher = zctx.socket(zmq::PUB).unwrap();
    publisher.bind(&ep).unwrap();
    let mut sub = asock(&ctx, SocketType::Sub);
    sub.get_mut()
        .set(SocketOption::Subscribe("news".into()))
        .unwrap();
    sub.get_ref().connect(&ep).unwrap();
    // Publish until the subscription reached libzmq (a SUB joins late, as in libzmq).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let publishing = std::thread::spawn({
        let stop = stop.clone();
        move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                publisher.send("other", 0).unwrap();
                publisher.send(format!("news {i}").as_bytes(), 0).unwrap();
                i += 1;
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    });
    let got: Vec<Message> = within(
        "news from libzmq",
        (&mut sub).take(50).map(Result::unwrap).collect(),
    )
    .await;
    stop.store(true, Ordering::Relaxed);
    publishing.join().unwrap();
    assert!(
        got.iter().all(|m| m.frames()[0].starts_with(b"news ")),
        "only what was subscribed"
    );
}

/// A waiting task watches its connections itself (they are lent to its wait): a peer
/// that leaves during the wait is seen (Disconnected), and a peer that comes later
/// delivers to the same waiting receive.
#[tokio::test(flavor = "current_thread")]
async fn a_peer_leaving_during_a_wait_is_seen_and_the_next_one_delivers() {
    let ctx = Context::new();
    let mut pull = asock(&ctx, SocketType::Pull);
    let ep = pull.get_ref().bind("ipc://*").unwrap();
    let mut mon = pull.monitor().unwrap();
    let mut first = ctx.socket(SocketType::Push).unwrap();
    first.connect(&ep).unwrap();
    first.send("one", Flags::NONE).unwrap();
    assert_eq!(
        within("the first message", pull.recv()).await.unwrap(),
        "one"
    );
    let recv = pull.recv();
    tokio::pin!(recv);
    // The receive waits (its connection lent to it) while the peer leaves.
    assert!(futures::poll!(&mut recv).is_pending());
    drop(first);
    within("Disconnected", async {
        while !matches!(mon.next().await, Some(Event::Disconnected { .. })) {}
    })
    .await;
    assert!(futures::poll!(&mut recv).is_pending());
    let mut second = ctx.socket(SocketType::Push).unwrap();
    second.connect(&ep).unwrap();
    second.send("two", Flags::NONE).unwrap();
    assert_eq!(
        within("the second peer's message", recv).await.unwrap(),
        "two"
    );
}

/// A wait given up (its connections lent to it) leaves the socket whole: the blocking API
/// on the same socket, and a later async receive, get what comes next.
#[tokio::test(flavor = "current_thread")]
async fn a_wait_given_up_leaves_the_socket_to_the_blocking_api() {
    let ctx = Context::new();
    let (mut pull, mut push) = pull_and_push(&ctx);
    push.send("warm", Flags::NONE).unwrap();
    assert_eq!(within("warm-up", pull.recv()).await.unwrap(), "warm");
    for _ in 0..3 {
        assert!(tokio::time::timeout(Duration::from_millis(20), pull.recv())
            .await
            .is_err());
    }
    push.send("later", Flags::NONE).unwrap();
    assert_eq!(
        within("an async receive after", pull.recv()).await.unwrap(),
        "later"
    );
    assert!(tokio::time::timeout(Duration::from_millis(5), pull.recv())
        .await
        .is_err());
    let mut blocking = pull.into_inner();
    push.send("blocking", Flags::NONE).unwrap();
    blocking.set(SocketOption::RcvTimeo(20_000)).unwrap();
    assert_eq!(blocking.recv(Flags::NONE).unwrap(), "blocking");
}

/// ROUTER_MANDATORY: a send to a peer that is full waits (it neither fails nor spins, and
/// the runtime's thread stays free) until the peer reads, then completes.
#[tokio::test(flavor = "current_thread")]
async fn a_router_mandatory_send_to_a_full_peer_waits_without_spinning() {
    let ctx = Context::new();
    let mut router = asock(&ctx, SocketType::Router);
    router
        .get_mut()
        .set(SocketOption::RouterMandatory(true))
        .unwrap();
    router.get_mut().set(SocketOption::SndHwm(1)).unwrap();
    let mut mon = zsock_tokio::AsyncMonitor::new(router.get_ref().monitor()).unwrap();
    let ep = router.get_ref().bind("ipc://*").unwrap();
    let mut dealer = ctx.socket(SocketType::Dealer).unwrap();
    dealer
        .set(SocketOption::RoutingId(Bytes::from_static(b"peer")))
        .unwrap();
    dealer.set(SocketOption::RcvHwm(1)).unwrap();
    dealer.connect(&ep).unwrap();
    within("the handshake", async {
        while !matches!(mon.next().await, Some(Event::HandshakeSucceeded { .. })) {}
    })
    .await;
    let body = Bytes::from(vec![1u8; 64 * 1024]);
    // Fill the peer (it does not read) until a send has to wait.
    let mut sent = 0;
    loop {
        let send = router.send_multipart([Bytes::from_static(b"peer"), body.clone()]);
        match tokio::time::timeout(Duration::from_millis(50), send).await {
            Ok(r) => {
                r.unwrap();
                sent += 1;
                assert!(sent < 10_000, "the peer never filled");
            }
            Err(_) => break, // a send waited, and the runtime ran the timer meanwhile
        }
    }
    let cpu0 = thread_cpu();
    let waited = tokio::time::timeout(
        Duration::from_millis(300),
        router.send_multipart([Bytes::from_static(b"peer"), body.clone()]),
    )
    .await;
    assert!(waited.is_err(), "the peer is full: the send waits");
    let cpu = thread_cpu() - cpu0;
    assert!(
        cpu < Duration::from_millis(100),
        "{cpu:?} of CPU in a 300 ms wait"
    );
    // The peer reads everything; a waiting send then completes.
    let reader = std::thread::spawn(move || {
        dealer.set(SocketOption::RcvTimeo(20_000)).unwrap();
        for _ in 0..=sent {
            assert_eq!(dealer.recv(Flags::NONE).unwrap().len(), 64 * 1024);
        }
        dealer
    });
    within(
        "a send once the peer reads",
        router.send_multipart([Bytes::from_static(b"peer"), body]),
    )
    .await
    .unwrap();
    drop(reader.join().unwrap());
}

/// A message the Sink accepted but could not hand over yet (no peer) goes before a later
/// async send: order is kept.
#[tokio::test(flavor = "current_thread")]
async fn a_sink_message_goes_before_a_later_send() {
    let ctx = Context::new();
    let mut push = asock(&ctx, SocketType::Push);
    let ep = push.get_ref().bind("ipc://*").unwrap();
    // No peer yet: the Sink keeps the message.
    futures::SinkExt::<Message>::feed(&mut push, Message::from("first"))
        .await
        .unwrap();
    let mut pull = asock(&ctx, SocketType::Pull);
    pull.get_ref().connect(&ep).unwrap();
    within("the second send", push.send("second"))
        .await
        .unwrap();
    assert_eq!(within("first", pull.recv()).await.unwrap(), "first");
    assert_eq!(within("second", pull.recv()).await.unwrap(), "second");
}

/// Large messages to a reader that pauses for longer than a connection stays lent: an
/// async send keeps a large body while the connection writes earlier output (it is not
/// copied into the queue), and is woken when the output is written, whether the task or the
/// I/O thread wrote it. Every message arrives, whole and in order.
#[tokio::test(flavor = "current_thread")]
async fn large_sends_to_a_pausing_reader_all_arrive() {
    let ctx = Context::new();
    let mut push = asock(&ctx, SocketType::Push);
    let ep = push.get_ref().bind("ipc://*").unwrap();
    const N: u32 = 300;
    const BIG: usize = 64 * 1024;
    let reader = std::thread::spawn({
        let ctx = ctx.clone();
        move || {
            let mut pull = ctx.socket(SocketType::Pull).unwrap();
            pull.set(SocketOption::RcvTimeo(20_000)).unwrap();
            pull.connect(&ep).unwrap();
            for i in 0..N {
                let m = pull.recv(Flags::NONE).unwrap();
                assert_eq!(m.len(), BIG, "message {i} whole");
                assert_eq!(&m[..4], &i.to_be_bytes()[..], "message {i} in order");
                if i % 20 == 19 {
                    std::thread::sleep(Duration::from_millis(20)); // longer than a lend
                }
            }
        }
    });
    let mut body = vec![0u8; BIG];
    for i in 0..N {
        body[..4].copy_from_slice(&i.to_be_bytes());
        within("a large send", push.send(&body[..])).await.unwrap();
    }
    within(
        "the reader's end",
        tokio::task::spawn_blocking(move || reader.join()),
    )
    .await
    .unwrap()
    .unwrap();
}

/// CURVE under the async API, on both runtimes: the batch is sealed as it is written, and
/// received boxes are opened where the task reads (large bodies included).
async fn curve_round_trips() {
    let ctx = Context::new();
    let (server, client) = (zsock::curve_keypair(), zsock::curve_keypair());
    let mut rep = asock(&ctx, SocketType::Rep);
    rep.get_mut().set(SocketOption::CurveServer(true)).unwrap();
    rep.get_mut()
        .set(SocketOption::CurveSecretKey(
            server.secret.as_bytes().to_vec().into(),
        ))
        .unwrap();
    let ep = rep.get_ref().bind("tcp://127.0.0.1:*").unwrap();
    let mut req = asock(&ctx, SocketType::Req);
    req.get_mut()
        .set(SocketOption::CurveServerKey(server.public.clone().into()))
        .unwrap();
    req.get_mut()
        .set(SocketOption::CurveSecretKey(
            client.secret.as_bytes().to_vec().into(),
        ))
        .unwrap();
    req.get_ref().connect(&ep).unwrap();
    let big = vec![5u8; 300_000];
    for i in 0..50usize {
        let body = if i % 10 == 9 {
            big.clone()
        } else {
            i.to_be_bytes().to_vec()
        };
        within("a CURVE request", req.send(body.clone()))
            .await
            .unwrap();
        let got = within("the request", rep.recv()).await.unwrap();
        assert_eq!(&got[..], &body[..]);
        within("a CURVE reply", rep.send(got)).await.unwrap();
        let back = within("the reply", req.recv()).await.unwrap();
        assert_eq!(&back[..], &body[..]);
    }
}

#[tokio::test(flavor = "current_thread")]
async fn curve_on_the_current_thread_runtime() {
    curve_round_trips().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curve_on_the_multi_thread_runtime() {
    curve_round_trips().await;
}

/// RCVTIMEO bounds an async receive as it bounds a blocking one: EAGAIN once it has passed,
/// and the socket receives what comes afterwards; 0 takes what is there or says EAGAIN.
#[tokio::test(flavor = "current_thread")]
async fn rcvtimeo_bounds_async_receives() {
    let ctx = Context::new();
    let (mut pull, mut push) = pull_and_push(&ctx);
    pull.get_mut().set(SocketOption::RcvTimeo(50)).unwrap();
    for e in [
        within("recv under RCVTIMEO", pull.recv())
            .await
            .unwrap_err(),
        within("recv_msg under RCVTIMEO", pull.recv_msg())
            .await
            .unwrap_err(),
        within("recv_multipart under RCVTIMEO", pull.recv_multipart())
            .await
            .unwrap_err(),
        within("recv_string under RCVTIMEO", pull.recv_string())
            .await
            .unwrap_err(),
    ] {
        assert_eq!(e.kind(), zsock::ErrorKind::Again, "{e}");
    }
    push.send("after", Flags::NONE).unwrap();
    assert_eq!(
        within("recv after a timeout", pull.recv()).await.unwrap(),
        "after"
    );
    pull.get_mut().set(SocketOption::RcvTimeo(0)).unwrap();
    let e = within("recv with RCVTIMEO 0", pull.recv())
        .await
        .unwrap_err();
    assert_eq!(e.kind(), zsock::ErrorKind::Again, "{e}");
    push.send("there", Flags::NONE).unwrap();
    // (Taken by the socket before the try, as a blocking DONTWAIT receive would need.)
    let mut got = None;
    for _ in 0..10_000 {
        match pull.recv().await {
            Ok(m) => {
                got = Some(m);
                break;
            }
            Err(e) => assert_eq!(e.kind(), zsock::ErrorKind::Again, "{e}"),
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(got.as_deref(), Some(&b"there"[..]));
}

/// SNDTIMEO bounds an async send: a REQ with no peer says EAGAIN once it has passed,
/// keeps nothing of the message, and sends once a peer is there.
#[tokio::test(flavor = "current_thread")]
async fn sndtimeo_bounds_async_sends() {
    let ctx = Context::new();
    let mut req = asock(&ctx, SocketType::Req);
    req.get_mut().set(SocketOption::SndTimeo(50)).unwrap();
    let e = within("send under SNDTIMEO", req.send("nobody"))
        .await
        .unwrap_err();
    assert_eq!(e.kind(), zsock::ErrorKind::Again, "{e}");
    let e = within(
        "send_msg under SNDTIMEO",
        req.send_msg(Bytes::from("nobody")),
    )
    .await
    .unwrap_err();
    assert_eq!(e.kind(), zsock::ErrorKind::Again, "{e}");
    let rep = ctx.socket(SocketType::Rep).unwrap();
    let ep = rep.bind("ipc://*").unwrap();
    req.get_ref().connect(&ep).unwrap();
    within("send once a peer is there", req.send("hello"))
        .await
        .unwrap();
    let mut rep = AsyncSocket::new(rep).unwrap();
    // The first request the REP sees is the one sent after the timeouts.
    assert_eq!(within("the request", rep.recv()).await.unwrap(), "hello");
}

/// The two halves of `StreamExt::split` wait at once, the `Sink` for room and the `Stream`
/// for a message: each is woken by what it waits for. (tokio keeps one waker per
/// descriptor, and the half that began to wait second took the other's: the send never
/// completed.)
async fn split_halves_wait_at_once(ctx: &Context) {
    let mut dealer = ctx.socket(SocketType::Dealer).unwrap();
    dealer.set(SocketOption::SndHwm(1)).unwrap();
    dealer.set(SocketOption::Linger(0)).unwrap();
    dealer.connect("inproc://split-halves").unwrap();
    let (mut sink, mut stream) = AsyncSocket::new(dealer).unwrap().split();
    let send = tokio::spawn(async move {
        sink.send(Message::from("one")).await.unwrap();
        // No peer yet: the queue is full, this waits for room.
        sink.send(Message::from("two")).await.unwrap();
        sink
    });
    let recv = tokio::spawn(async move { stream.next().await.map(|m| m.unwrap()) });
    // Both halves wait now (each task ran until it waited).
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let mut peer = asock(ctx, SocketType::Dealer);
    peer.get_ref().bind("inproc://split-halves").unwrap();
    assert_eq!(within("one", peer.recv()).await.unwrap(), "one");
    assert_eq!(within("two", peer.recv()).await.unwrap(), "two");
    let _sink = within("the send half", send).await.unwrap();
    peer.send("back").await.unwrap();
    let got = within("the receive half", recv).await.unwrap();
    assert_eq!(
        got.map(|m| m.frames()[0].clone()),
        Some(Bytes::from("back"))
    );
}

#[tokio::test(flavor = "current_thread")]
async fn split_halves_wait_at_once_on_the_current_thread_runtime() {
    split_halves_wait_at_once(&Context::new()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_halves_wait_at_once_on_the_multi_thread_runtime() {
    split_halves_wait_at_once(&Context::new()).await;
}
