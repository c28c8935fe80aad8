//! Heavy content on a subset of pairs (the matrix cells stay fast): PUSH-PULL, DEALER-ROUTER
//! and PAIR-PAIR, each both ways round, with single frames of 0, 1, 255, 256 bytes, 1 MiB
//! and 16 MiB, and multipart messages of 1, 3 and 100 frames; every byte compared.
//!
//! DEALER-ROUTER and PAIR-PAIR echo the message back, so zsock both sends and receives it
//! in every one of their cells; PUSH-PULL goes one way, zsock sending in one direction and
//! receiving in the other. The side that receives first binds (a path, or a wildcard TCP
//! port on 127.0.0.1), so each pair covers both bind directions.
//!
//! 3 pairs x 2 ways x 9 contents x 2 transports = 108 cells, named
//! `content::<pair>::<way>::<ipc|tcp>::<content>`.

use zsock::{Context, SocketType};

use crate::support::*;

/// The pairs that carry heavy content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pattern {
    PushPull,
    DealerRouter,
    PairPair,
}

/// Which socket zsock is: the first sender (`A`: PUSH, DEALER, the PAIR that speaks first)
/// or the first receiver (`B`); libzmq is the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Zsock {
    A,
    B,
}

/// What is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Content {
    Empty,
    OneByte,
    Short255,
    Long256,
    OneMib,
    SixteenMib,
    Frames1,
    Frames3,
    Frames100,
}

const MIB: usize = 1 << 20;

fn message(c: Content) -> Frames {
    match c {
        Content::Empty => vec![Vec::new()],
        Content::OneByte => vec![bytes(1, 1)],
        Content::Short255 => vec![bytes(2, 255)],
        Content::Long256 => vec![bytes(3, 256)],
        Content::OneMib => vec![bytes(4, MIB)],
        Content::SixteenMib => vec![bytes(5, 16 * MIB)],
        // Sizes around zsock's thresholds too: bodies over 2 KiB go out from their own
        // buffers; a batch ends past 256 KiB (64 KiB over CURVE), which the 100 frames'
        // 1.4 MB cross several times, at different frames.
        Content::Frames1 => vec![bytes(6, 2049)],
        Content::Frames3 => vec![Vec::new(), bytes(7, 2048), bytes(8, 65_537)],
        Content::Frames100 => {
            const SIZES: [usize; 10] = [0, 1, 255, 256, 2047, 2048, 2049, 65_535, 65_536, 7];
            (0..100u64)
                .map(|i| bytes(100 + i, SIZES[(i % 10) as usize]))
                .collect()
        }
    }
}

/// The transport a content cell runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Over {
    /// A socket file.
    Ipc,
    /// `tcp://127.0.0.1:*`, the connecting side using the binder's LAST_ENDPOINT.
    Tcp,
}

/// Runs one cell.
pub(crate) fn run(pair: Pattern, zsock_is: Zsock, content: Content, over: Over) {
    use SocketType as T;
    let (ta, tb) = match pair {
        Pattern::PushPull => (T::Push, T::Pull),
        Pattern::DealerRouter => (T::Dealer, T::Router),
        Pattern::PairPair => (T::Pair, T::Pair),
    };
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let dir = tempfile::tempdir().unwrap();
    let addr = match over {
        Over::Ipc => format!("ipc://{}", dir.path().join("content").display()),
        Over::Tcp => "tcp://127.0.0.1:*".to_string(),
    };
    // `b` (the first receiver) binds.
    let (mut zp, mut lp) = match zsock_is {
        Zsock::A => {
            let l = zmq_socket(&zctx, tb);
            l.bind(&addr).unwrap();
            let z = zsock_socket(&ctx, ta);
            z.connect(&zmq_last_endpoint(&l)).unwrap();
            (Zsock(z), Zmq(l))
        }
        Zsock::B => {
            let z = zsock_socket(&ctx, tb);
            let bound = z.bind(&addr).unwrap();
            let l = zmq_socket(&zctx, ta);
            l.connect(&bound).unwrap();
            (Zsock(z), Zmq(l))
        }
    };
    let (a, b): (&mut dyn Peer, &mut dyn Peer) = match zsock_is {
        Zsock::A => (&mut zp, &mut lp),
        Zsock::B => (&mut lp, &mut zp),
    };
    let what = format!("{content:?} {} -> {}", a.describe(), b.describe());
    let back = format!("{content:?} {} -> {}", b.describe(), a.describe());
    let m = message(content);
    match pair {
        Pattern::PushPull => {
            a.send(&m);
            // A second message behind it: the first one's end is where it should be.
            a.send(&[b"after".to_vec()]);
            assert_frames(&b.recv(), &m, &what);
            assert_frames(&b.recv(), &[b"after".to_vec()], &what);
        }
        Pattern::DealerRouter => {
            a.send(&m);
            let mut got = b.recv();
            assert!(!got.is_empty(), "{what}: no frames");
            let id = got.remove(0);
            assert_frames(&got, &m, &what);
            got.insert(0, id);
            b.send(&got);
            assert_frames(&a.recv(), &m, &back);
        }
        Pattern::PairPair => {
            a.send(&m);
            let got = b.recv();
            assert_frames(&got, &m, &what);
            b.send(&got);
            assert_frames(&a.recv(), &m, &back);
        }
    }
    // Both sockets stay open until here: the receiver is done before any sender closes.
}

macro_rules! content_cells {
    ($role:ident, $pair:ident, zsock = $z:ident) => {
        mod $role {
            content_cells!(@over ipc, $pair, zsock = $z, Ipc);
            content_cells!(@over tcp, $pair, zsock = $z, Tcp);
        }
    };
    (@over $over_mod:ident, $pair:ident, zsock = $z:ident, $over:ident) => {
        mod $over_mod {
            use $crate::content::{Content, Over, Pattern, Zsock};
            fn run(pair: Pattern, z: Zsock, content: Content) {
                $crate::content::run(pair, z, content, Over::$over);
            }
            #[test]
            fn empty() {
                run(Pattern::$pair, Zsock::$z, Content::Empty);
            }
            #[test]
            fn one_byte() {
                run(Pattern::$pair, Zsock::$z, Content::OneByte);
            }
            #[test]
            fn short_255() {
                run(Pattern::$pair, Zsock::$z, Content::Short255);
            }
            #[test]
            fn long_256() {
                run(Pattern::$pair, Zsock::$z, Content::Long256);
            }
            #[test]
            fn mib_1() {
                run(Pattern::$pair, Zsock::$z, Content::OneMib);
            }
            #[test]
            fn mib_16() {
                run(Pattern::$pair, Zsock::$z, Content::SixteenMib);
            }
            #[test]
            fn frames_1() {
                run(Pattern::$pair, Zsock::$z, Content::Frames1);
            }
            #[test]
            fn frames_3() {
                run(Pattern::$pair, Zsock::$z, Content::Frames3);
            }
            #[test]
            fn frames_100() {
                run(Pattern::$pair, Zsock::$z, Content::Frames100);
            }
        }
    };
}

mod push_pull {
    content_cells!(zsock_push, PushPull, zsock = A);
    content_cells!(zsock_pull, PushPull, zsock = B);
}

mod dealer_router {
    content_cells!(zsock_dealer, DealerRouter, zsock = A);
    content_cells!(zsock_router, DealerRouter, zsock = B);
}

mod pair_pair {
    content_cells!(zsock_first, PairPair, zsock = A);
    content_cells!(zsock_second, PairPair, zsock = B);
}

/// `Socket::send_copy` (zmq_send: the bytes are copied straight into the connection's
/// batch) reaches a libzmq PULL intact, at sizes around the copy and batch thresholds, in
/// order with messages given to `send`.
#[test]
fn send_copy_reaches_libzmq_intact() {
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let dir = tempfile::tempdir().unwrap();
    let addr = format!("ipc://{}", dir.path().join("copy").display());
    let pull = zmq_socket(&zctx, SocketType::Pull);
    pull.bind(&addr).unwrap();
    let mut push = zsock_socket(&ctx, SocketType::Push);
    push.connect(&addr).unwrap();
    const SIZES: [usize; 9] = [0, 1, 255, 256, 2048, 2049, 65_535, 65_536, MIB];
    let sent: Vec<Vec<u8>> = SIZES
        .iter()
        .enumerate()
        .map(|(i, &n)| bytes(200 + i as u64, n))
        .collect();
    for body in &sent {
        push.send_copy(body, zsock::Flags::NONE).unwrap();
        push.send(&b"after"[..], zsock::Flags::NONE).unwrap();
    }
    for body in &sent {
        let what = format!("send_copy of {} bytes -> libzmq PULL", body.len());
        assert_frames(
            &pull.recv_multipart(0).unwrap(),
            std::slice::from_ref(body),
            &what,
        );
        assert_frames(
            &pull.recv_multipart(0).unwrap(),
            &[b"after".to_vec()],
            &what,
        );
    }
}
