//! The RFC 37 matrix: every legal socket pair with zsock on one side and libzmq on the
//! other, both ways round, both bind/connect directions, over a path, an abstract name, a
//! wildcard bind (`ipc://*`, the connecting side using the binder's LAST_ENDPOINT), and TCP
//! over 127.0.0.1 and [::1] with a wildcard port.
//!
//! 12 pairs x 2 ways round x 2 binders x 5 endpoints = 240 cells, each its own test named
//! `matrix::<pair>::<who is what>::<who binds>_<endpoint>`. For a pair of two different types
//! "ways round" is which library has which type; for DEALER-DEALER, ROUTER-ROUTER and
//! PAIR-PAIR it is which library speaks first.
//!
//! Each cell is a short exchange in both directions where the pattern allows it, of messages
//! with an empty frame, a 1-byte frame, the 255/256-byte short/long boundary and an empty
//! last frame, every byte compared; envelopes (REQ delimiters, ROUTER routing ids) and
//! subscription messages (XPUB) are checked exactly too. Large frames and long multipart
//! messages run on a subset of pairs in `content`.

use std::time::{Duration, Instant};

use zsock::{Context, SocketOption, SocketType};

use crate::support::*;

/// A legal socket pair of RFC 37: `a` and `b` in the order of the pair's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pattern {
    ReqRep,
    ReqRouter,
    DealerRep,
    DealerDealer,
    DealerRouter,
    RouterRouter,
    PubSub,
    PubXsub,
    XpubSub,
    XpubXsub,
    PushPull,
    PairPair,
}

impl Pattern {
    fn types(self) -> (SocketType, SocketType) {
        use SocketType as T;
        match self {
            Pattern::ReqRep => (T::Req, T::Rep),
            Pattern::ReqRouter => (T::Req, T::Router),
            Pattern::DealerRep => (T::Dealer, T::Rep),
            Pattern::DealerDealer => (T::Dealer, T::Dealer),
            Pattern::DealerRouter => (T::Dealer, T::Router),
            Pattern::RouterRouter => (T::Router, T::Router),
            Pattern::PubSub => (T::Pub, T::Sub),
            Pattern::PubXsub => (T::Pub, T::XSub),
            Pattern::XpubSub => (T::XPub, T::Sub),
            Pattern::XpubXsub => (T::XPub, T::XSub),
            Pattern::PushPull => (T::Push, T::Pull),
            Pattern::PairPair => (T::Pair, T::Pair),
        }
    }
}

/// Which of the pair's two sockets (`a`, the first named, who speaks first in symmetric
/// pairs; or `b`) zsock is; libzmq is the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zsock {
    A,
    B,
}

/// Who binds; the other connects to the binder's resolved endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Binder {
    Zsock,
    Libzmq,
}

/// Routing ids of the two ROUTERs in ROUTER-ROUTER cells.
const ROUTER_A: &[u8] = b"router-a";
const ROUTER_B: &[u8] = b"router-b";

/// Runs one cell.
pub(crate) fn run(pair: Pattern, zsock_is: Zsock, binder: Binder, ep: Ep, test: &str) {
    let (ta, tb) = pair.types();
    let (zt, lt) = match zsock_is {
        Zsock::A => (ta, tb),
        Zsock::B => (tb, ta),
    };
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let mut z = zsock_socket(&ctx, zt);
    let l = zmq_socket(&zctx, lt);
    if pair == Pattern::RouterRouter {
        let (zid, lid) = match zsock_is {
            Zsock::A => (ROUTER_A, ROUTER_B),
            Zsock::B => (ROUTER_B, ROUTER_A),
        };
        z.set(SocketOption::RoutingId(zid.to_vec().into())).unwrap();
        l.set_identity(lid).unwrap();
    }

    if ep == Ep::Tcp6 {
        l.set_ipv6(true).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let addr = bind_address(ep, &dir, test);
    let mut _cleanup = None;
    match binder {
        Binder::Zsock => {
            let resolved = z.bind(&addr).unwrap();
            assert_eq!(z.last_endpoint(), resolved);
            if !ep.picked_by_binder() {
                assert_eq!(resolved, addr, "zsock's LAST_ENDPOINT of a bind to {addr}");
            }
            l.connect(&resolved).unwrap();
        }
        Binder::Libzmq => {
            l.bind(&addr).unwrap();
            let resolved = zmq_last_endpoint(&l);
            if ep == Ep::Wildcard {
                _cleanup = Some(LibzmqWildcardFile(resolved.clone()));
            } else if !ep.picked_by_binder() {
                assert_eq!(resolved, addr, "libzmq's LAST_ENDPOINT of a bind to {addr}");
            }
            z.connect(&resolved).unwrap();
        }
    }

    let mut zp = Zsock(z);
    let mut lp = Zmq(l);
    let (a, b): (&mut dyn Peer, &mut dyn Peer) = match zsock_is {
        Zsock::A => (&mut zp, &mut lp),
        Zsock::B => (&mut lp, &mut zp),
    };
    exchange(pair, a, b);
}

/// The pattern's exchange between `a` and `b` (types in the order of the pair's name).
fn exchange(pair: Pattern, a: &mut dyn Peer, b: &mut dyn Peer) {
    let what = format!("{} -> {}", a.describe(), b.describe());
    let back = format!("{} -> {}", b.describe(), a.describe());
    match pair {
        Pattern::ReqRep => {
            for round in 0..2 {
                let q = small_content(10 * round);
                a.send(&q);
                assert_frames(&b.recv(), &q, &what);
                let r = small_content(10 * round + 5);
                b.send(&r);
                assert_frames(&a.recv(), &r, &back);
            }
        }
        Pattern::ReqRouter => {
            for round in 0..2 {
                let q = small_content(10 * round);
                a.send(&q);
                let got = b.recv();
                assert!(got.len() >= 2, "{what}: {} frames", got.len());
                let id = got[0].clone();
                assert!(!id.is_empty(), "{what}: empty routing id");
                assert_frames(&got[1..], &prepend(&[b""], &q), &what);
                let r = small_content(10 * round + 5);
                b.send(&prepend(&[&id, b""], &r));
                assert_frames(&a.recv(), &r, &back);
            }
        }
        Pattern::DealerRep => {
            for round in 0..2 {
                let q = small_content(10 * round);
                a.send(&prepend(&[b""], &q));
                assert_frames(&b.recv(), &q, &what);
                let r = small_content(10 * round + 5);
                b.send(&r);
                assert_frames(&a.recv(), &prepend(&[b""], &r), &back);
            }
        }
        Pattern::DealerDealer | Pattern::PairPair => {
            for round in 0..2 {
                let q = small_content(10 * round);
                a.send(&q);
                assert_frames(&b.recv(), &q, &what);
                let r = small_content(10 * round + 5);
                b.send(&r);
                assert_frames(&a.recv(), &r, &back);
            }
        }
        Pattern::DealerRouter => {
            for round in 0..2 {
                let q = small_content(10 * round);
                a.send(&q);
                let got = b.recv();
                assert!(!got.is_empty(), "{what}: no frames");
                let id = got[0].clone();
                assert!(!id.is_empty(), "{what}: empty routing id");
                assert_frames(&got[1..], &q, &what);
                let r = small_content(10 * round + 5);
                b.send(&prepend(&[&id], &r));
                assert_frames(&a.recv(), &r, &back);
            }
        }
        Pattern::RouterRouter => {
            // `a` speaks first: it must wait until `b`'s routing id is known.
            let q = small_content(0);
            a.send_routed(&prepend(&[ROUTER_B], &q));
            assert_frames(&b.recv(), &prepend(&[ROUTER_A], &q), &what);
            let r = small_content(5);
            b.send(&prepend(&[ROUTER_A], &r));
            assert_frames(&a.recv(), &prepend(&[ROUTER_B], &r), &back);
            let q = small_content(10);
            a.send(&prepend(&[ROUTER_B], &q));
            assert_frames(&b.recv(), &prepend(&[ROUTER_A], &q), &what);
        }
        Pattern::PubSub | Pattern::PubXsub => {
            if pair == Pattern::PubSub {
                b.subscribe(b"t");
            } else {
                b.send(&[b"\x01t".to_vec()]);
            }
            sync_subscription(a, b, b"t");
            publish_and_check(a, b, &what);
        }
        Pattern::XpubSub | Pattern::XpubXsub => {
            if pair == Pattern::XpubSub {
                b.subscribe(b"t");
            } else {
                b.send(&[b"\x01t".to_vec()]);
            }
            // XPUB passes the subscription up: once it has, it is in effect.
            let sub = recv_upstream(a, b);
            assert_frames(
                &sub,
                &[b"\x01t".to_vec()],
                &format!("{back} (subscription)"),
            );
            publish_and_check(a, b, &what);
            if pair == Pattern::XpubXsub {
                // XSUB may send other messages upstream; XPUB receives them as they are.
                let up = vec![b"\x02upstream".to_vec()];
                b.send(&up);
                assert_frames(&a.recv(), &up, &format!("{back} (upstream)"));
            }
        }
        Pattern::PushPull => {
            let q = small_content(0);
            let r = small_content(5);
            a.send(&q);
            a.send(&r);
            assert_frames(&b.recv(), &q, &what);
            assert_frames(&b.recv(), &r, &what);
        }
    }
}

/// Publishes `[topic, "sync", n]` until the subscriber receives one: then its subscription
/// to `topic` (and every subscription sent before it) has reached the publisher. Bounded by
/// [`PATIENCE`], never a fixed sleep. `n` is new for every call, so a sync message left in
/// flight by an earlier call proves nothing and is skipped.
pub(crate) fn sync_subscription(publisher: &mut dyn Peer, sub: &mut dyn Peer, topic: &[u8]) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NONCE: AtomicU64 = AtomicU64::new(0);
    let n = NONCE.fetch_add(1, Ordering::Relaxed).to_be_bytes().to_vec();
    let sync = vec![topic.to_vec(), b"sync".to_vec(), n];
    let deadline = Instant::now() + PATIENCE;
    loop {
        publisher.send(&sync);
        while let Some(m) = sub.recv_within(Duration::from_millis(5)) {
            if is_sync(&m) && m != sync {
                continue; // an earlier call's
            }
            assert_frames(&m, &sync, "first message after subscribing");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{}: the subscription to {topic:?} never reached {}",
            sub.describe(),
            publisher.describe()
        );
    }
}

fn is_sync(m: &[Vec<u8>]) -> bool {
    m.len() == 3 && m[1] == b"sync"
}

/// Receives the next message that is not a left-over sync message of
/// [`sync_subscription`].
pub(crate) fn recv_skipping_sync(sub: &mut dyn Peer) -> Frames {
    loop {
        let m = sub.recv();
        if !is_sync(&m) {
            return m;
        }
    }
}

/// What the XPUB `xpub` receives next from its subscriber `sub`, within [`PATIENCE`].
///
/// A libzmq socket attaches the pipe of a connection it accepted only when its application
/// thread next calls into it, and only then sends it the subscriptions made so far: so
/// while waiting, `sub` is poked (ZMQ_EVENTS) as a libzmq application would be.
pub(crate) fn recv_upstream(xpub: &mut dyn Peer, sub: &mut dyn Peer) -> Frames {
    let deadline = Instant::now() + PATIENCE;
    loop {
        sub.poke();
        if let Some(m) = xpub.recv_within(Duration::from_millis(5)) {
            return m;
        }
        assert!(
            Instant::now() < deadline,
            "{}: nothing from {} within {PATIENCE:?}",
            xpub.describe(),
            sub.describe()
        );
    }
}

/// With `b` subscribed to "t": a message `b` does not want, one it wants (every byte
/// checked), and an end marker; `b` gets exactly the two it wants.
fn publish_and_check(a: &mut dyn Peer, b: &mut dyn Peer, what: &str) {
    let unwanted = prepend(&[b"u-not-subscribed"], &small_content(1));
    let wanted = prepend(&[b"t-data"], &small_content(2));
    let end = vec![b"t-end".to_vec()];
    a.send(&unwanted);
    a.send(&wanted);
    a.send(&end);
    assert_frames(&recv_skipping_sync(b), &wanted, what);
    assert_frames(&recv_skipping_sync(b), &end, what);
}

/// One cell: `cell!(name, Pattern, zsock = A|B, Zsock|Libzmq (binder),
/// Path|Abstract|Wildcard|Tcp|Tcp6)`.
macro_rules! cell {
    ($name:ident, $pair:ident, zsock = $z:ident, $binder:ident, $ep:ident) => {
        #[test]
        fn $name() {
            $crate::matrix::run(
                $crate::matrix::Pattern::$pair,
                $crate::matrix::Zsock::$z,
                $crate::matrix::Binder::$binder,
                $crate::support::Ep::$ep,
                concat!(module_path!(), "::", stringify!($name)),
            );
        }
    };
}

/// The ten cells (2 binders x 5 endpoints) of one pair, one way round, in module `$role`.
macro_rules! cells {
    ($role:ident, $pair:ident, zsock = $z:ident) => {
        mod $role {
            cell!(zsock_binds_path, $pair, zsock = $z, Zsock, Path);
            cell!(zsock_binds_abstract, $pair, zsock = $z, Zsock, Abstract);
            cell!(zsock_binds_wildcard, $pair, zsock = $z, Zsock, Wildcard);
            cell!(libzmq_binds_path, $pair, zsock = $z, Libzmq, Path);
            cell!(libzmq_binds_abstract, $pair, zsock = $z, Libzmq, Abstract);
            cell!(libzmq_binds_wildcard, $pair, zsock = $z, Libzmq, Wildcard);
            cell!(zsock_binds_tcp, $pair, zsock = $z, Zsock, Tcp);
            cell!(libzmq_binds_tcp, $pair, zsock = $z, Libzmq, Tcp);
            cell!(zsock_binds_tcp6, $pair, zsock = $z, Zsock, Tcp6);
            cell!(libzmq_binds_tcp6, $pair, zsock = $z, Libzmq, Tcp6);
        }
    };
}

/// The twelve cells of one pair: both ways round.
macro_rules! pair {
    ($name:ident, $pair:ident, $zsock_a:ident, $zsock_b:ident) => {
        mod $name {
            cells!($zsock_a, $pair, zsock = A);
            cells!($zsock_b, $pair, zsock = B);
        }
    };
}

pair!(req_rep, ReqRep, zsock_req, zsock_rep);
pair!(req_router, ReqRouter, zsock_req, zsock_router);
pair!(dealer_rep, DealerRep, zsock_dealer, zsock_rep);
pair!(dealer_dealer, DealerDealer, zsock_first, libzmq_first);
pair!(dealer_router, DealerRouter, zsock_dealer, zsock_router);
pair!(router_router, RouterRouter, zsock_first, libzmq_first);
pair!(pub_sub, PubSub, zsock_pub, zsock_sub);
pair!(pub_xsub, PubXsub, zsock_pub, zsock_xsub);
pair!(xpub_sub, XpubSub, zsock_xpub, zsock_sub);
pair!(xpub_xsub, XpubXsub, zsock_xpub, zsock_xsub);
pair!(push_pull, PushPull, zsock_push, zsock_pull);
pair!(pair_pair, PairPair, zsock_first, libzmq_first);
