//! Pub/sub between the two libraries beyond the matrix: prefix filtering, unsubscribe (with
//! counted duplicate subscriptions), a thousand topics, resubscription after the binder
//! restarts, and the wire form of subscriptions: a libzmq 4.3 SUB speaks ZMTP 3.1 and sends
//! SUBSCRIBE/CANCEL commands (so every cell where zsock publishes to a libzmq SUB parses
//! them), a libzmq XSUB sends ZMTP 3.0-style `\x01topic` data frames.
//!
//! A subscriber never sleeps for its subscription to arrive: the publisher publishes until
//! the first matching message comes (`sync_subscription`), or an XPUB receives the
//! subscription message itself.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};

use zsock::{Context, SocketType as T};

use crate::matrix::{recv_skipping_sync, recv_upstream, sync_subscription};
use crate::support::*;

/// Subscribes `sub` (a SUB, or an XSUB by message) to `topic`.
fn subscribe(sub: &mut dyn Peer, xsub: bool, topic: &[u8]) {
    if xsub {
        sub.send(&[prepend_byte(1, topic)]);
    } else {
        sub.subscribe(topic);
    }
}

fn prepend_byte(b: u8, rest: &[u8]) -> Vec<u8> {
    let mut v = vec![b];
    v.extend_from_slice(rest);
    v
}

/// A publisher of `publ` (binding a path) and a subscriber of `subl` connected to it.
struct PubSub {
    ctx: Context,
    zctx: zmq::Context,
    _dir: tempfile::TempDir,
    endpoint: String,
    publisher: Box<dyn Peer>,
    sub: Box<dyn Peer>,
}

fn pubsub(publ: Lib, pt: T, subl: Lib, st: T) -> PubSub {
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let dir = tempfile::tempdir().unwrap();
    let mut publisher = peer(publ, &ctx, &zctx, pt);
    let mut sub = peer(subl, &ctx, &zctx, st);
    publisher.set_hwm(0);
    sub.set_hwm(0);
    let endpoint = publisher.bind(&format!("ipc://{}", dir.path().join("pub").display()));
    sub.connect(&endpoint);
    PubSub {
        ctx,
        zctx,
        _dir: dir,
        endpoint,
        publisher,
        sub,
    }
}

// ---------------------------------------------------------------------------------------
// Prefix filtering

/// Subscriptions "ab" (twice), "abc" and "x\0y"; of the topics below, the subscriber gets
/// exactly those starting with one of them, once each, in order.
fn prefix_filtering(publ: Lib, subl: Lib, xsub: bool) {
    let st = if xsub { T::XSub } else { T::Sub };
    let mut p = pubsub(publ, T::Pub, subl, st);
    for topic in [&b"ab"[..], b"ab", b"abc", b"x\0y"] {
        subscribe(&mut *p.sub, xsub, topic);
    }
    // Subscriptions travel in order on one connection: the last one syncs them all.
    sync_subscription(&mut *p.publisher, &mut *p.sub, b"x\0y");
    let topics: [&[u8]; 14] = [
        b"", b"a", b"ab", b"abc", b"abd", b"b", b"aab", b"x", b"x\0", b"x\0y", b"x\0yz", b"X\0y",
        b"Ab", b"ab\xff",
    ];
    for (i, t) in topics.iter().enumerate() {
        p.publisher
            .send(&[t.to_vec(), format!("message {i}").into_bytes()]);
    }
    p.publisher.send(&[b"x\0y".to_vec(), b"end".to_vec()]);
    let mut got = Vec::new();
    loop {
        let m = recv_skipping_sync(&mut *p.sub);
        if m[1] == b"end" {
            break;
        }
        got.push(m);
    }
    let want: Vec<Frames> = topics
        .iter()
        .enumerate()
        .filter(|(_, t)| t.starts_with(b"ab") || t.starts_with(b"x\0y"))
        .map(|(i, t)| vec![t.to_vec(), format!("message {i}").into_bytes()])
        .collect();
    assert_eq!(
        got,
        want,
        "{} -> {}",
        p.publisher.describe(),
        p.sub.describe()
    );
}

#[test]
fn prefix_filtering_zsock_pub_libzmq_sub() {
    prefix_filtering(Lib::Zsock, Lib::Libzmq, false);
}

#[test]
fn prefix_filtering_libzmq_pub_zsock_sub() {
    prefix_filtering(Lib::Libzmq, Lib::Zsock, false);
}

#[test]
fn prefix_filtering_zsock_pub_libzmq_xsub() {
    prefix_filtering(Lib::Zsock, Lib::Libzmq, true);
}

#[test]
fn prefix_filtering_libzmq_pub_zsock_xsub() {
    prefix_filtering(Lib::Libzmq, Lib::Zsock, true);
}

// ---------------------------------------------------------------------------------------
// Unsubscribe

/// Unsubscribes `sub` (a SUB, or an XSUB by message) from `topic`.
fn unsubscribe_from(sub: &mut dyn Peer, xsub: bool, topic: &[u8]) {
    if xsub {
        sub.send(&[prepend_byte(0, topic)]);
    } else {
        sub.unsubscribe(topic);
    }
}

/// "a" subscribed twice and "b": one UNSUBSCRIBE of "a" leaves it subscribed, the second
/// removes it. What arrives shows it; an XPUB publisher shows it also by the subscription
/// messages it passes up (exactly one "\x01a", no "\x00a" until the second UNSUBSCRIBE),
/// and an XSUB subscriber (which in libzmq does not filter what it receives) by receiving
/// only what the publisher still sends it.
///
/// Both libraries' SUB and XSUB send SUBSCRIBE for every subscription (libzmq) or for new
/// topics (zsock), and CANCEL only when the last subscription to a topic goes.
///
/// The `reference_*` cells run the same steps with libzmq on both sides: what the
/// expectations are taken from.
fn unsubscribe(publ: Lib, subl: Lib, xpub: bool, xsub: bool) {
    let pt = if xpub { T::XPub } else { T::Pub };
    let st = if xsub { T::XSub } else { T::Sub };
    let mut p = pubsub(publ, pt, subl, st);
    let (publisher, sub) = (&mut *p.publisher, &mut *p.sub);
    let what = format!("{} -> {}", sub.describe(), publisher.describe());

    subscribe(sub, xsub, b"a");
    subscribe(sub, xsub, b"a");
    subscribe(sub, xsub, b"b");
    if xpub {
        // Made before the connection was up: a subscriber sends them in any order then.
        let mut subs = vec![recv_upstream(publisher, sub), recv_upstream(publisher, sub)];
        subs.sort();
        assert_eq!(
            subs,
            vec![vec![b"\x01a".to_vec()], vec![b"\x01b".to_vec()]],
            "{what}"
        );
    }
    sync_subscription(publisher, sub, b"b");

    // One of the two "a" subscriptions goes: "a" still arrives.
    unsubscribe_from(sub, xsub, b"a");
    subscribe(sub, xsub, b"c");
    if xpub {
        assert_frames(&recv_upstream(publisher, sub), &[b"\x01c".to_vec()], &what);
    }
    sync_subscription(publisher, sub, b"c");
    publisher.send(&[b"a1".to_vec()]);
    publisher.send(&[b"b1".to_vec()]);
    publisher.send(&[b"c-end".to_vec()]);
    let step = format!("{what}, after one of two UNSUBSCRIBEs of \"a\"");
    for want in [&b"a1"[..], b"b1", b"c-end"] {
        assert_frames(&recv_skipping_sync(sub), &[want.to_vec()], &step);
    }

    // The second goes too: "a" no longer arrives.
    unsubscribe_from(sub, xsub, b"a");
    subscribe(sub, xsub, b"d");
    let step = format!("{what}, after both UNSUBSCRIBEs of \"a\"");
    if xpub {
        assert_frames(&recv_upstream(publisher, sub), &[b"\x00a".to_vec()], &step);
        assert_frames(&recv_upstream(publisher, sub), &[b"\x01d".to_vec()], &step);
    }
    sync_subscription(publisher, sub, b"d");
    publisher.send(&[b"a2".to_vec()]);
    publisher.send(&[b"b2".to_vec()]);
    publisher.send(&[b"d-end".to_vec()]);
    for want in [&b"b2"[..], b"d-end"] {
        assert_frames(&recv_skipping_sync(sub), &[want.to_vec()], &step);
    }
}

#[test]
fn unsubscribe_zsock_pub_libzmq_sub() {
    unsubscribe(Lib::Zsock, Lib::Libzmq, false, false);
}

#[test]
fn unsubscribe_libzmq_pub_zsock_sub() {
    unsubscribe(Lib::Libzmq, Lib::Zsock, false, false);
}

#[test]
fn unsubscribe_zsock_xpub_libzmq_sub() {
    unsubscribe(Lib::Zsock, Lib::Libzmq, true, false);
}

#[test]
fn unsubscribe_libzmq_xpub_zsock_sub() {
    unsubscribe(Lib::Libzmq, Lib::Zsock, true, false);
}

#[test]
fn unsubscribe_zsock_pub_libzmq_xsub() {
    unsubscribe(Lib::Zsock, Lib::Libzmq, false, true);
}

#[test]
fn unsubscribe_reference_libzmq_xpub_libzmq_sub() {
    unsubscribe(Lib::Libzmq, Lib::Libzmq, true, false);
}

#[test]
fn unsubscribe_reference_libzmq_pub_libzmq_xsub() {
    unsubscribe(Lib::Libzmq, Lib::Libzmq, false, true);
}

#[test]
fn unsubscribe_libzmq_pub_zsock_xsub() {
    unsubscribe(Lib::Libzmq, Lib::Zsock, false, true);
}

// ---------------------------------------------------------------------------------------
// Many topics

const TOPICS: usize = 1000;

fn topic(i: usize) -> Vec<u8> {
    format!("topic-{i:04}").into_bytes()
}

/// A thousand subscriptions; each of a thousand matching messages arrives once, in order,
/// and a thousand others (sharing no prefix) do not. With an XPUB publisher, it receives
/// the thousand subscription messages first, in order.
fn many_topics(publ: Lib, xpub: bool) {
    let subl = match publ {
        Lib::Zsock => Lib::Libzmq,
        Lib::Libzmq => Lib::Zsock,
    };
    let pt = if xpub { T::XPub } else { T::Pub };
    let mut p = pubsub(publ, pt, subl, T::Sub);
    let (publisher, sub) = (&mut *p.publisher, &mut *p.sub);
    let what = format!("{} -> {}", publisher.describe(), sub.describe());
    // Connected first, so the thousand go out in order as they are made.
    sub.subscribe(b"sync-0");
    if xpub {
        assert_frames(
            &recv_upstream(publisher, sub),
            &[b"\x01sync-0".to_vec()],
            &what,
        );
    }
    sync_subscription(publisher, sub, b"sync-0");
    for i in 0..TOPICS {
        sub.subscribe(&topic(i));
    }
    sub.subscribe(b"sync-1");
    if xpub {
        for i in 0..TOPICS {
            let want = prepend_byte(1, &topic(i));
            assert_frames(&recv_upstream(publisher, sub), &[want], &what);
        }
        assert_frames(
            &recv_upstream(publisher, sub),
            &[b"\x01sync-1".to_vec()],
            &what,
        );
    }
    sync_subscription(publisher, sub, b"sync-1");
    for i in 0..TOPICS {
        publisher.send(&[format!("other-{i:04}").into_bytes()]);
        publisher.send(&[topic(i), bytes(i as u64, i % 300)]);
    }
    publisher.send(&[b"sync-1".to_vec(), b"end".to_vec()]);
    for i in 0..TOPICS {
        assert_frames(
            &recv_skipping_sync(sub),
            &[topic(i), bytes(i as u64, i % 300)],
            &what,
        );
    }
    assert_frames(
        &recv_skipping_sync(sub),
        &[b"sync-1".to_vec(), b"end".to_vec()],
        &what,
    );
}

#[test]
fn many_topics_zsock_pub_libzmq_sub() {
    many_topics(Lib::Zsock, false);
}

#[test]
fn many_topics_libzmq_pub_zsock_sub() {
    many_topics(Lib::Libzmq, false);
}

#[test]
fn many_topics_zsock_xpub_libzmq_sub() {
    many_topics(Lib::Zsock, true);
}

#[test]
fn many_topics_libzmq_xpub_zsock_sub() {
    many_topics(Lib::Libzmq, true);
}

// ---------------------------------------------------------------------------------------
// Resubscription after the binder restarts

/// The publisher (binding a path) closes and a new one of the same library binds the same
/// path; the subscriber reconnects and subscribes again by itself. A PUB publisher shows it
/// by delivering both topics again; an XPUB publisher by receiving both subscriptions.
fn resubscribe(publ: Lib, xpub: bool) {
    let subl = match publ {
        Lib::Zsock => Lib::Libzmq,
        Lib::Libzmq => Lib::Zsock,
    };
    let (pt, st) = if xpub {
        (T::XPub, T::XSub)
    } else {
        (T::Pub, T::Sub)
    };
    let mut p = pubsub(publ, pt, subl, st);
    let what = format!("{} -> {}", p.sub.describe(), p.publisher.describe());
    subscribe(&mut *p.sub, xpub, b"r1");
    subscribe(&mut *p.sub, xpub, b"r2");
    sync_subscription(&mut *p.publisher, &mut *p.sub, b"r2");

    for restart in 0..2 {
        // Close the binder and bind a new one on the same path.
        p.publisher = peer(publ, &p.ctx, &p.zctx, pt);
        p.publisher.set_hwm(0);
        let again = p.publisher.bind(&p.endpoint);
        assert_eq!(again, p.endpoint);
        let (publisher, sub) = (&mut *p.publisher, &mut *p.sub);
        if xpub {
            // Both subscriptions come again, in either order.
            let mut subs = vec![recv_upstream(publisher, sub), recv_upstream(publisher, sub)];
            subs.sort();
            assert_eq!(
                subs,
                vec![vec![b"\x01r1".to_vec()], vec![b"\x01r2".to_vec()]],
                "{what}, restart {restart}"
            );
        }
        sync_subscription(publisher, sub, b"r1");
        sync_subscription(publisher, sub, b"r2");
        publisher.send(&[b"q-not-subscribed".to_vec()]);
        publisher.send(&[b"r1".to_vec(), b"after restart".to_vec()]);
        publisher.send(&[b"r2".to_vec(), b"after restart".to_vec()]);
        for t in [&b"r1"[..], b"r2"] {
            assert_frames(
                &recv_skipping_sync(sub),
                &[t.to_vec(), b"after restart".to_vec()],
                &format!("{what}, restart {restart}"),
            );
        }
    }
}

#[test]
fn resubscribe_after_zsock_pub_restarts_libzmq_sub() {
    resubscribe(Lib::Zsock, false);
}

#[test]
fn resubscribe_after_libzmq_pub_restarts_zsock_sub() {
    resubscribe(Lib::Libzmq, false);
}

#[test]
fn resubscribe_after_zsock_xpub_restarts_libzmq_xsub() {
    resubscribe(Lib::Zsock, true);
}

#[test]
fn resubscribe_after_libzmq_xpub_restarts_zsock_xsub() {
    resubscribe(Lib::Libzmq, true);
}

// ---------------------------------------------------------------------------------------
// The wire form of subscriptions

/// Reads one ZMTP frame: (flags, body).
fn read_frame(s: &mut UnixStream) -> (u8, Vec<u8>) {
    let mut head = [0u8; 2];
    s.read_exact(&mut head).unwrap();
    let len = if head[0] & 0x02 != 0 {
        let mut rest = [0u8; 7];
        s.read_exact(&mut rest).unwrap();
        let mut be = [0u8; 8];
        be[0] = head[1];
        be[1..].copy_from_slice(&rest);
        u64::from_be_bytes(be)
    } else {
        u64::from(head[1])
    };
    let mut body = vec![0u8; usize::try_from(len).unwrap()];
    s.read_exact(&mut body).unwrap();
    (head[0], body)
}

/// A raw ZMTP 3.1 PUB: greeting and READY, then returns the peer's greeting.
fn raw_pub_handshake(s: &mut UnixStream) -> [u8; 64] {
    let mut greeting = [0u8; 64];
    greeting[0] = 0xff;
    greeting[9] = 0x7f;
    greeting[10] = 3;
    greeting[11] = 1;
    greeting[12..16].copy_from_slice(b"NULL");
    s.write_all(&greeting).unwrap();
    let mut theirs = [0u8; 64];
    s.read_exact(&mut theirs).unwrap();
    let mut ready = vec![0x04, 25];
    ready.extend_from_slice(b"\x05READY\x0bSocket-Type\x00\x00\x00\x03PUB");
    s.write_all(&ready).unwrap();
    let (flags, body) = read_frame(s);
    assert_eq!(flags, 0x04, "READY is a command");
    assert!(body.starts_with(b"\x05READY"), "{body:?}");
    theirs
}

/// A SUB of `lib` connected to a raw ZMTP 3.1 PUB announces version 3.1 and sends
/// SUBSCRIBE and CANCEL as commands (RFC 37's ZMTP 3.1 form): subscribed before the
/// connection, and after it.
fn sub_speaks_zmtp31(lib: Lib) {
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw-pub");
    let listener = UnixListener::bind(&path).unwrap();
    let mut sub = peer(lib, &ctx, &zctx, T::Sub);
    sub.subscribe(b"before");
    sub.connect(&format!("ipc://{}", path.display()));
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    let theirs = raw_pub_handshake(&mut s);
    let what = sub.describe();
    assert_eq!(
        (theirs[10], theirs[11]),
        (3, 1),
        "{what} announces ZMTP 3.1"
    );
    assert_eq!(
        read_frame(&mut s),
        (0x04, b"\x09SUBSCRIBEbefore".to_vec()),
        "{what}"
    );
    sub.subscribe(b"after");
    assert_eq!(
        read_frame(&mut s),
        (0x04, b"\x09SUBSCRIBEafter".to_vec()),
        "{what}"
    );
    sub.unsubscribe(b"before");
    assert_eq!(
        read_frame(&mut s),
        (0x04, b"\x06CANCELbefore".to_vec()),
        "{what}"
    );
}

#[test]
fn libzmq_sub_sends_zmtp31_subscribe_commands() {
    sub_speaks_zmtp31(Lib::Libzmq);
}

#[test]
fn zsock_sub_sends_zmtp31_subscribe_commands() {
    sub_speaks_zmtp31(Lib::Zsock);
}

/// A libzmq XSUB sends a subscription written as a message as a `\x01topic` data frame,
/// even to a ZMTP 3.1 peer (so the `pub_xsub`/`xpub_xsub` cells exercise that form), and
/// the ones it resends on a new connection as commands.
#[test]
fn libzmq_xsub_sends_data_frame_subscriptions() {
    let zctx = zmq::Context::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("raw-pub");
    let listener = UnixListener::bind(&path).unwrap();
    let xsub = zmq_socket(&zctx, T::XSub);
    xsub.send(&b"\x01before"[..], 0).unwrap();
    xsub.connect(&format!("ipc://{}", path.display())).unwrap();
    let (mut s, _) = listener.accept().unwrap();
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    raw_pub_handshake(&mut s);
    assert_eq!(read_frame(&mut s), (0x04, b"\x09SUBSCRIBEbefore".to_vec()));
    xsub.send(&b"\x01after"[..], 0).unwrap();
    assert_eq!(read_frame(&mut s), (0x00, b"\x01after".to_vec()));
}
