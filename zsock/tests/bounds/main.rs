//! What a hostile peer can make a socket hold, measured with a counting allocator against
//! the bound written in ipc-transport's docs (and ARCHITECTURE.md): read buffers, queued
//! messages and what they keep alive, subscriptions and XPUB notifications. And what many
//! sockets cost the process: threads and descriptors.
//!
//! The allocator counts every live byte of the process, so the tests of this binary run
//! one at a time (each holds [`serial`]'s lock) and measure growth over a baseline taken
//! after the connection was made; the process's threads and descriptors are counted the
//! same way.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use ipc_transport::{FRAME_COST, PIN_FACTOR, READ_AHEAD_MAX, READ_CHUNK, RETIRED_PEERS, UNPIN_MAX};
use raw::{command, command_frame, data_frame, greeting_and_ready};
use zsock::{Bytes, Context, Flags, Socket, SocketOption, SocketType};

#[path = "../common/raw.rs"]
mod raw;

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only a counter is
// kept beside it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The largest command the attacks send between small frames and topics.
const BIG: usize = 250_000;

/// What a connection's read buffers may reserve while the largest item the peer sends is
/// `item` bytes: the buffer being read and a spare, each at most twice the item and a
/// read chunk (the written bound, in ipc-transport's crate docs).
fn read_buffers_bound(item: usize) -> usize {
    2 * 2 * (item + READ_CHUNK)
}

/// What a quiet connection's read buffers may hold: a buffer up to `IDLE_RBUF_MAX` (64 KiB).
const IDLE_BOUND: usize = 64 * 1024;

/// What the test's own sockets, threads and bookkeeping may allocate besides what the
/// attack makes the socket hold (measured at well under this).
const SLACK: usize = 256 * 1024;

fn raw_peer(path: &str, ty: &str) -> UnixStream {
    let mut s = UnixStream::connect(path).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(&greeting_and_ready(ty)).unwrap();
    s
}

/// Reads until `needle` has arrived, while `poke` is called between reads.
fn read_until(s: &mut UnixStream, needle: &[u8], mut poke: impl FnMut()) {
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let mut buf = [0u8; 64 * 1024];
    while !seen.windows(needle.len()).any(|w| w == needle) {
        assert!(
            std::time::Instant::now() < deadline,
            "{needle:?} never came"
        );
        poke();
        match s.read(&mut buf) {
            Ok(0) => panic!("closed before {needle:?} arrived"),
            Ok(n) => seen.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) => panic!("{e}"),
        }
    }
}

/// Sends `frames` from a thread until a write makes no progress for a second (the socket
/// stopped reading), or all are sent. Returns how many went whole, and whether it stalled.
fn write_until_stalled<F: AsRef<[u8]> + Send + 'static>(
    mut s: UnixStream,
    frames: Vec<F>,
) -> (usize, bool, UnixStream) {
    std::thread::spawn(move || {
        s.set_write_timeout(Some(Duration::from_secs(1))).unwrap();
        for (i, f) in frames.iter().enumerate() {
            if s.write_all(f.as_ref()).is_err() {
                return (i, true, s);
            }
        }
        (frames.len(), false, s)
    })
    .join()
    .unwrap()
}

/// Asserts that the process holds at most `bound` bytes more than at `base`.
#[track_caller]
fn assert_held_within(base: usize, bound: usize, what: &str) {
    let grown = live().saturating_sub(base);
    eprintln!("held: {grown} bytes");
    assert!(
        grown <= bound,
        "{grown} bytes held for {what} (bound {bound})"
    );
}

/// `count` messages of `size` bytes (each starts with its number in six digits), each
/// followed by a [`BIG`] unknown command (one buffer, shared): what makes each message's
/// read buffer a new one.
fn numbered_between_junk(count: usize, size: usize) -> Vec<Bytes> {
    let junk = Bytes::from(command(b"JUNK", &vec![0x55; BIG]));
    let mut frames = Vec::with_capacity(2 * count);
    for i in 0..count {
        let mut body = format!("{i:06}").into_bytes();
        body.resize(size, b'.');
        frames.push(Bytes::from(data_frame(&body)));
        frames.push(junk.clone());
    }
    frames
}

/// Writes `frames` to `s` from a thread (the socket reads as the application receives);
/// the stream comes back, open, when all are written.
fn write_from_thread(mut s: UnixStream, frames: Vec<Bytes>) -> std::thread::JoinHandle<UnixStream> {
    std::thread::spawn(move || {
        for f in &frames {
            s.write_all(f).unwrap();
        }
        s
    })
}

/// A PULL bound in `dir` (with `hwm` as its RCVHWM, if given) and a raw PUSH peer
/// connected to it, the handshake done (a first message is through).
fn pull_and_raw_push(
    ctx: &Context,
    dir: &std::path::Path,
    hwm: Option<i32>,
) -> (Socket, UnixStream) {
    let path = dir.join("pull");
    let mut pull = sock(ctx, SocketType::Pull);
    if let Some(hwm) = hwm {
        pull.set(SocketOption::RcvHwm(hwm)).unwrap();
    }
    pull.bind(&format!("ipc://{}", path.display())).unwrap();
    let mut raw = raw_peer(path.to_str().unwrap(), "PUSH");
    raw.write_all(&data_frame(b"first")).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "first");
    (pull, raw)
}

fn sock(ctx: &Context, t: SocketType) -> Socket {
    let mut s = ctx.socket(t).unwrap();
    s.set(SocketOption::Linger(0)).unwrap();
    s.set(SocketOption::RcvTimeo(10_000)).unwrap();
    s
}

/// Issue 17's case 1 (see TESTING.md case 9): a SUB that follows each small SUBSCRIBE with a
/// 250 KB unknown command. Before the bound, each 7-byte topic kept its read buffer alive
/// (hundreds of KiB each, 177 MB for 400); now the topics live in the subscription tree,
/// and the connection's buffers stay within their bound.
#[test]
fn subscriptions_between_large_commands_keep_no_read_buffers_alive() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pub");
    let ctx = Context::new();
    let mut publisher = sock(&ctx, SocketType::Pub);
    publisher
        .bind(&format!("ipc://{}", path.display()))
        .unwrap();
    let mut raw = raw_peer(path.to_str().unwrap(), "SUB");
    raw.write_all(&command(b"SUBSCRIBE", b"ready")).unwrap();
    read_until(&mut raw, b"ready!", || {
        publisher.send_copy(b"ready!", Flags::NONE).unwrap();
    });
    let base = live();
    const TOPICS: usize = 400;
    let junk = command(b"JUNK", &vec![0x55; BIG]);
    for i in 0..TOPICS {
        raw.write_all(&command(b"SUBSCRIBE", format!("t{i:06}").as_bytes()))
            .unwrap();
        raw.write_all(&junk).unwrap();
    }
    raw.write_all(&command(b"SUBSCRIBE", b"sync")).unwrap();
    read_until(&mut raw, b"sync!", || {
        publisher.send_copy(b"sync!", Flags::NONE).unwrap();
    });
    let grown = live().saturating_sub(base);
    eprintln!("held: {grown} bytes");
    // Each topic: its 7 bytes and at most two tree nodes (label, count, child list).
    let topics = TOPICS * (7 + 2 * 64);
    let bound = read_buffers_bound(BIG) + topics + SLACK;
    assert!(
        grown <= bound,
        "{grown} bytes held after {TOPICS} subscriptions (bound {bound})"
    );
}

/// Issue 17's case 1 with a PULL whose application stopped receiving: 400-byte messages,
/// each followed by a 250 KB unknown command. The queue holds RCVHWM messages; what they
/// keep alive is at most PIN_FACTOR times their size, beside the connection's buffers.
#[test]
fn queued_messages_between_large_commands_keep_at_most_pin_factor_alive() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let ctx = Context::new();
    const HWM: usize = 200;
    const SIZE: usize = 400;
    let (mut pull, raw) = pull_and_raw_push(&ctx, dir.path(), Some(HWM as i32));
    let base = live();
    let frames = numbered_between_junk(2 * HWM, SIZE);
    let (sent, stalled, _raw) = write_until_stalled(raw, frames);
    assert!(
        stalled,
        "the PULL kept reading past RCVHWM ({sent} frames sent)"
    );
    let grown = live().saturating_sub(base);
    eprintln!("held: {grown} bytes");
    // The messages themselves: body, and a queue slot and frame handle each.
    let queued = HWM * (SIZE + 128);
    let bound = read_buffers_bound(BIG) + (PIN_FACTOR + 1) * queued + SLACK;
    assert!(
        grown <= bound,
        "{grown} bytes held for {HWM} queued messages (bound {bound})"
    );
    for i in 0..HWM {
        let m = pull.recv(Flags::NONE).unwrap();
        assert_eq!(m.len(), SIZE);
        assert_eq!(&m[..6], format!("{i:06}").as_bytes());
    }
}

/// An echoing ROUTER whose peer never reads its replies: small requests, each followed by
/// a 250 KB unknown command. Each reply waits in the pipe (SNDHWM of them; the ROUTER drops
/// the rest), and a reply that is a slice of a read buffer would keep the whole buffer
/// alive while it waits (about 100 MB for 200 here): the frames are copied out when they
/// start waiting ([`UNPIN_MAX`]), so what waits holds its own bytes only.
#[test]
fn echoed_replies_waiting_for_a_peer_that_does_not_read_keep_no_read_buffers_alive() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("echo");
    let ctx = Context::new();
    const HWM: usize = 200;
    const SIZE: usize = 1000;
    // Enough replies to fill the kernel's buffer and the connection's batch, then the pipe.
    const REQUESTS: usize = 4 * HWM;
    let mut router = sock(&ctx, SocketType::Router);
    router.set(SocketOption::SndHwm(HWM as i32)).unwrap();
    router.bind(&format!("ipc://{}", path.display())).unwrap();
    let mut raw = raw_peer(path.to_str().unwrap(), "DEALER");
    raw.write_all(&data_frame(b"first")).unwrap();
    let first = router.recv_msg(Flags::NONE).unwrap();
    router.send_msg(first, Flags::NONE).unwrap();
    let base = live();
    // (The stream stays open, never read.)
    let writer = write_from_thread(raw, numbered_between_junk(REQUESTS, SIZE));
    for i in 0..REQUESTS {
        let request = router.recv_msg(Flags::NONE).unwrap();
        assert_eq!(&request.frames()[1][..6], format!("{i:06}").as_bytes());
        router.send_msg(request, Flags::NONE).unwrap(); // (dropped past SNDHWM)
    }
    let _raw = writer.join().unwrap();
    // The waiting replies (body, routing id, queue slot and frame handles each) and the
    // connection's read buffers.
    let waiting = HWM * (SIZE + 256);
    let bound = read_buffers_bound(BIG) + waiting + SLACK;
    assert_held_within(
        base,
        bound,
        &format!("{HWM} waiting replies (UNPIN_MAX {UNPIN_MAX})"),
    );
}

/// A proxy's other half: messages received on a PULL (each followed by a 250 KB unknown
/// command) and sent on through a PUB to a subscriber that never reads. The PUB copies a
/// received message's small frames once before it sends to its subscribers
/// (`ipc_transport::unpin`), so the SNDHWM messages waiting for the subscriber keep no
/// read buffer alive.
#[test]
fn messages_forwarded_to_a_subscriber_that_does_not_read_keep_no_read_buffers_alive() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let ctx = Context::new();
    const HWM: usize = 200;
    const SIZE: usize = 1000;
    const MESSAGES: usize = 4 * HWM;
    let (mut pull, raw_push) = pull_and_raw_push(&ctx, dir.path(), None);
    let path = dir.path().join("pub");
    let mut publisher = sock(&ctx, SocketType::Pub);
    publisher.set(SocketOption::SndHwm(HWM as i32)).unwrap();
    publisher
        .bind(&format!("ipc://{}", path.display()))
        .unwrap();
    let mut raw_sub = raw_peer(path.to_str().unwrap(), "SUB");
    raw_sub.write_all(&command(b"SUBSCRIBE", b"")).unwrap();
    read_until(&mut raw_sub, b"ready!", || {
        publisher.send_copy(b"ready!", Flags::NONE).unwrap();
    });
    let base = live();
    let writer = write_from_thread(raw_push, numbered_between_junk(MESSAGES, SIZE));
    for i in 0..MESSAGES {
        let m = pull.recv_msg(Flags::NONE).unwrap();
        assert_eq!(&m.frames()[0][..6], format!("{i:06}").as_bytes());
        publisher.send_msg(m, Flags::NONE).unwrap(); // (dropped past SNDHWM)
    }
    let _raw_push = writer.join().unwrap();
    let waiting = HWM * (SIZE + 256);
    let bound = read_buffers_bound(BIG) + waiting + SLACK;
    assert_held_within(base, bound, &format!("{HWM} waiting messages"));
    drop(raw_sub);
}

/// A PUSH that sends messages of thousands of empty frames: each costs the PULL a frame
/// handle per frame and no bytes. The handles count towards the read-ahead bound as the
/// bytes do ([`FRAME_COST`] each), so the PULL stops reading after a few megabytes of
/// handles rather than at RCVHWM (1,000 such messages would hold 320 MB).
#[test]
fn messages_of_empty_frames_count_towards_the_read_ahead_bound() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let ctx = Context::new();
    let (mut pull, raw) = pull_and_raw_push(&ctx, dir.path(), None);
    let base = live();
    const FRAMES: usize = 10_000;
    const MESSAGES: usize = 1_000;
    let mut message = Vec::with_capacity(2 * FRAMES);
    for _ in 1..FRAMES {
        message.extend_from_slice(&[0x01, 0x00]); // an empty frame, MORE
    }
    message.extend_from_slice(&[0x00, 0x00]); // the last, empty
    let (sent, stalled, _raw) = write_until_stalled(raw, vec![message; MESSAGES]);
    assert!(
        stalled,
        "the PULL kept reading ({sent} messages of {FRAMES} empty frames sent)"
    );
    let grown = live().saturating_sub(base);
    eprintln!("held: {grown} bytes after {sent} messages");
    // The read-ahead bound, the message that crosses it and the one being assembled (its
    // array of frame handles, grown by doubling), and the read buffers.
    let message_cost = FRAMES.next_power_of_two() * FRAME_COST;
    let bound = READ_AHEAD_MAX + 2 * message_cost + read_buffers_bound(0) + SLACK;
    assert!(
        grown <= bound,
        "{grown} bytes held for messages of empty frames (bound {bound})"
    );
    // Every message comes whole, in order, once the application receives.
    for _ in 0..sent {
        let frames = pull.recv_multipart(Flags::NONE).unwrap();
        assert_eq!(frames.len(), FRAMES);
        assert!(frames.iter().all(|f| f.is_empty()));
    }
}

/// DEALERs that pad their READY towards the handshake's 64 KiB cap, send one message each
/// and go: the application keeps the routing id each message came with. Those ids are
/// copied out of the read buffers the handshakes were read into, so keeping them keeps no
/// buffer alive (each would be 64 KiB or more). The socket keeps the metadata of the last
/// `RETIRED_PEERS` departed peers (for their messages still queued), copied out too.
#[test]
fn routing_ids_kept_after_their_peers_left_hold_no_read_buffers() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("router");
    let ctx = Context::new();
    let mut router = sock(&ctx, SocketType::Router);
    let monitor = router.monitor();
    router.bind(&format!("ipc://{}", path.display())).unwrap();
    const PEERS: usize = RETIRED_PEERS + 36;
    const PAD: usize = 60_000;
    let base = live();
    let mut ids = Vec::new();
    for i in 0..PEERS {
        let id = format!("peer{i:02}");
        let mut ready = b"\x05READY".to_vec();
        for (name, value) in [
            (&b"Socket-Type"[..], &b"DEALER"[..]),
            (b"Identity", id.as_bytes()),
            (b"X-Pad", &[0x55; PAD]),
        ] {
            ready.push(name.len() as u8);
            ready.extend_from_slice(name);
            ready.extend_from_slice(&(value.len() as u32).to_be_bytes());
            ready.extend_from_slice(value);
        }
        let mut peer = UnixStream::connect(&path).unwrap();
        let mut greeting = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 1];
        greeting.extend_from_slice(b"NULL");
        greeting.resize(64, 0);
        peer.write_all(&greeting).unwrap();
        peer.write_all(&command_frame(&ready)).unwrap();
        peer.write_all(&data_frame(b"hello")).unwrap();
        let m = router.recv_multipart(Flags::NONE).unwrap();
        assert_eq!((&m[0][..], &m[1][..]), (id.as_bytes(), &b"hello"[..]));
        ids.push(m[0].clone());
        drop(peer);
        loop {
            match monitor.next(Some(Duration::from_secs(10))) {
                Some(zsock::Event::Disconnected { .. }) => break,
                Some(_) => {}
                None => panic!("peer {i}'s departure never reported"),
            }
        }
    }
    let grown = live().saturating_sub(base);
    eprintln!("held: {grown} bytes for {PEERS} routing ids");
    let bound = RETIRED_PEERS * (PAD + 1024) + PEERS * 1024 + SLACK;
    assert!(
        grown <= bound,
        "{grown} bytes held for {PEERS} routing ids of departed peers (bound {bound})"
    );
    drop(ids);
}

/// Issue 17's case 4: SUBSCRIBE/CANCEL pairs to an XPUB whose application does not
/// receive. The subscription messages count towards RCVHWM: the XPUB stops reading at it,
/// and hands every one over, in order, once the application receives.
/// A stream of large messages the application falls behind on and then drops: the
/// connection keeps the buffers they held as spares to read on in, but never more than the
/// messages held a moment before, and gives them back within a few sweeps once the peer
/// is quiet.
#[test]
fn spare_read_buffers_go_back_once_the_messages_are_dropped() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let ctx = Context::new();
    const SIZE: usize = 64 * 1024;
    const COUNT: usize = 48; // 3 MiB: under the read-ahead, all read before any receive
    let (mut pull, raw) = pull_and_raw_push(&ctx, dir.path(), None);
    let base = live();
    let frames = (0..COUNT)
        .map(|i| data_frame(&vec![i as u8; SIZE]))
        .collect();
    let (sent, stalled, _raw) = write_until_stalled(raw, frames);
    assert!(!stalled && sent == COUNT, "{sent} of {COUNT} sent");
    let held: Vec<_> = (0..COUNT)
        .map(|i| {
            let m = pull.recv(Flags::NONE).unwrap();
            assert!(
                m.len() == SIZE && m.iter().all(|&x| x == i as u8),
                "message {i}"
            );
            m
        })
        .collect();
    let while_held = live().saturating_sub(base);
    drop(held);
    let after = live().saturating_sub(base);
    eprintln!("held: {while_held} bytes with the messages, {after} after dropping them");
    assert!(
        after <= while_held,
        "{after} bytes held after the messages went, {while_held} with them"
    );
    // The sweeps (every quarter second) give the spares and the large buffer back.
    let idle = IDLE_BOUND + SLACK;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while live().saturating_sub(base) > idle {
        assert!(
            std::time::Instant::now() < deadline,
            "{} bytes still held by a quiet connection (bound {idle})",
            live().saturating_sub(base)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn xpub_notifications_stop_reading_at_rcvhwm() {
    let _serial = serial();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("xpub");
    let ctx = Context::new();
    const HWM: usize = 100;
    let mut xpub = sock(&ctx, SocketType::XPub);
    xpub.set(SocketOption::RcvHwm(HWM as i32)).unwrap();
    xpub.bind(&format!("ipc://{}", path.display())).unwrap();
    let raw = raw_peer(path.to_str().unwrap(), "SUB");
    let mut first = raw.try_clone().unwrap();
    first.write_all(&command(b"SUBSCRIBE", b"first")).unwrap();
    assert_eq!(xpub.recv(Flags::NONE).unwrap(), "\x01first");
    let base = live();
    let mut frames = Vec::new();
    for i in 0..200_000u32 {
        let topic = format!("t{i}");
        frames.push(command(b"SUBSCRIBE", topic.as_bytes()));
        frames.push(command(b"CANCEL", topic.as_bytes()));
    }
    let (sent, stalled, _raw) = write_until_stalled(raw, frames);
    assert!(
        stalled,
        "the XPUB kept reading past RCVHWM ({sent} frames sent)"
    );
    let grown = live().saturating_sub(base);
    eprintln!("held: {grown} bytes");
    // Each notification: its bytes and a queue slot.
    let notes = HWM * 128;
    let bound = read_buffers_bound(0) + notes + SLACK;
    assert!(
        grown <= bound,
        "{grown} bytes held for {HWM} notifications (bound {bound})"
    );
    for i in 0..sent / 2 {
        let topic = format!("t{i}");
        let m = xpub.recv(Flags::NONE).unwrap();
        assert_eq!(&m[1..], topic.as_bytes());
        assert_eq!(m[0], 1);
        let m = xpub.recv(Flags::NONE).unwrap();
        assert_eq!((m[0], &m[1..]), (0, topic.as_bytes()));
    }
}

/// A PULL bound in `dir` and a PUSH connected to it, after one message `i` went through.
fn exchanging_pair(ctx: &Context, dir: &std::path::Path, i: u32) -> (Socket, Socket) {
    let mut pull = ctx.socket(SocketType::Pull).unwrap();
    let ep = pull.bind(&format!("ipc://{}/p{i}", dir.display())).unwrap();
    let mut push = ctx.socket(SocketType::Push).unwrap();
    push.connect(&ep).unwrap();
    push.send_copy(&i.to_be_bytes(), Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), &i.to_be_bytes()[..]);
    (pull, push)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The process's I/O threads (other tests' threads come and go meanwhile).
fn io_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter(|t| {
            let comm = t.as_ref().unwrap().path().join("comm");
            std::fs::read_to_string(comm).is_ok_and(|c| c.trim() == "zsock-io")
        })
        .count()
}

/// A process's threads and descriptors do not grow with its socket count beyond what each
/// socket needs: 100 PULL sockets bound and 100 PUSH sockets connected to them, one message
/// through each pair, add the context's one I/O thread (its poll, waker and timer
/// descriptors) and, per pair, the listener and both ends of the connection, plus a notify
/// descriptor for each socket whose caller slept in poll(2). Closing the context gives
/// everything back.
#[test]
fn sockets_share_their_contexts_io_thread() {
    let _s = serial();
    const PAIRS: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let (threads_before, fds_before) = (io_threads(), open_fds());
    let ctx = Context::new();
    assert_eq!(ctx.io_threads(), 1);
    let pairs: Vec<_> = (0..PAIRS as u32)
        .map(|i| exchanging_pair(&ctx, dir.path(), i))
        .collect();
    let threads = io_threads() - threads_before;
    let fds = open_fds() - fds_before;
    assert_eq!(threads, 1, "threads added by {} sockets", 2 * PAIRS);
    // Per pair: listener, accepted and connected ends, at most two notify descriptors. The
    // I/O thread: its poll, a second handle on it, a waker and a timer.
    assert!(fds >= PAIRS * 3, "{fds} descriptors for {PAIRS} pairs");
    assert!(fds <= PAIRS * 5 + 4, "{fds} descriptors for {PAIRS} pairs");
    drop(pairs);
    drop(ctx);
    assert_eq!(io_threads(), threads_before);
    assert_eq!(open_fds(), fds_before);
}

/// A socket's notify descriptor (ZMQ_FD, and what a waiting caller sleeps on beside its
/// connections) is made when first needed: sockets that are made, bound, connected and
/// send without waiting cost no descriptor but their connections' and listeners'; `fd()`
/// makes it once and hands out the same one after; a receive that sleeps makes it; the
/// context's end closes them all.
#[test]
fn notify_descriptors_are_made_on_first_need() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let before = open_fds();
    let ctx = Context::new();
    // (The context's I/O thread and its descriptors come with the first socket.)
    let first_socket = ctx.socket(SocketType::Pair).unwrap();
    let base = open_fds();
    let idle: Vec<Socket> = (0..10)
        .map(|_| ctx.socket(SocketType::Dealer).unwrap())
        .collect();
    assert_eq!(open_fds(), base, "10 idle sockets");
    let first = idle[0].fd().unwrap().as_raw_fd();
    assert_eq!(open_fds(), base + 1, "after the first fd()");
    assert_eq!(idle[0].fd().unwrap().as_raw_fd(), first);
    assert_eq!(open_fds(), base + 1, "after the second fd()");

    let mut pull = ctx.socket(SocketType::Pull).unwrap();
    let ep = pull
        .bind(&format!("ipc://{}/lazy", dir.path().display()))
        .unwrap();
    let mut push = ctx.socket(SocketType::Push).unwrap();
    push.connect(&ep).unwrap();
    // (Queued on the connect's pipe at once: the PUSH does not wait.)
    push.send_copy(b"one", Flags::NONE).unwrap();
    // The fd() above, the listener and both ends of the connection.
    let connected = base + 1 + 3;
    while pull.recv(Flags::DONTWAIT).is_err() {
        std::thread::yield_now();
    }
    assert_eq!(open_fds(), connected, "bound, connected, one message");
    // A receive that finds nothing sleeps in poll(2), on its notify descriptor too.
    pull.set(SocketOption::RcvTimeo(5)).unwrap();
    let err = pull.recv(Flags::NONE).unwrap_err();
    assert_eq!(err.kind(), zsock::ErrorKind::Again);
    assert_eq!(open_fds(), connected + 1, "after a receive slept");
    drop((pull, push, idle, first_socket));
    // Terminating the context waits for every socket's close.
    drop(ctx);
    assert_eq!(open_fds(), before, "after the context ended");
}

/// IO_THREADS: set before the first socket, the context runs that many I/O threads for
/// its sockets (placed on the least loaded; every pair exchanges messages); set after, it
/// is refused with EINVAL and the count stays; dropping the context ends them.
#[test]
fn io_threads_are_set_before_the_first_socket_and_shared_by_all() {
    let _s = serial();
    let dir = tempfile::tempdir().unwrap();
    let before = io_threads();
    let ctx = Context::new();
    ctx.set_io_threads(3).unwrap();
    assert_eq!(ctx.io_threads(), 3);
    let pairs: Vec<_> = (0..12)
        .map(|i| exchanging_pair(&ctx, dir.path(), i))
        .collect();
    assert_eq!(io_threads() - before, 3);
    let err = ctx.set_io_threads(2).unwrap_err();
    assert_eq!(err.kind(), zsock::ErrorKind::Invalid);
    assert_eq!(ctx.io_threads(), 3);
    assert!(Context::new().set_io_threads(0).is_err());
    drop(pairs);
    drop(ctx);
    assert_eq!(io_threads(), before);
}
