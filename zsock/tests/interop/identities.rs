//! ROUTER routing ids across the two libraries: ids the ROUTER makes up (libzmq's shape: a
//! zero byte and a 32-bit counter), ids the peer chooses with ROUTING_ID (DEALER and REQ),
//! and names the ROUTER gives its own connections with CONNECT_ROUTING_ID, which win over
//! the peer's ROUTING_ID. Each both ways round.

use zsock::{Context, SocketOption, SocketType as T};

use crate::support::*;

fn other(lib: Lib) -> Lib {
    match lib {
        Lib::Zsock => Lib::Libzmq,
        Lib::Libzmq => Lib::Zsock,
    }
}

/// A ROUTER of `router` binds; two DEALERs of the other library connect without a
/// ROUTING_ID. The ROUTER names them itself, differently, in libzmq's shape, and routes
/// replies by those names.
fn generated_ids(router: Lib) {
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let dir = tempfile::tempdir().unwrap();
    let mut r = peer(router, &ctx, &zctx, T::Router);
    let ep = r.bind(&format!("ipc://{}", dir.path().join("router").display()));
    let mut dealers: Vec<Box<dyn Peer>> = (0..2)
        .map(|_| {
            let mut d = peer(other(router), &ctx, &zctx, T::Dealer);
            d.connect(&ep);
            d
        })
        .collect();
    let what = format!("{} <-> {}", r.describe(), dealers[0].describe());
    let mut ids = Vec::new();
    for (i, d) in dealers.iter_mut().enumerate() {
        let q = vec![
            format!("from dealer {i}").into_bytes(),
            bytes(i as u64, 256),
        ];
        d.send(&q);
        let got = r.recv();
        assert_frames(&got[1..], &q, &what);
        let id = got[0].clone();
        assert_eq!(
            id.len(),
            5,
            "{what}: generated id {id:?} is a zero and 4 bytes"
        );
        assert_eq!(
            id[0], 0,
            "{what}: generated id {id:?} starts with a zero byte"
        );
        ids.push(id);
    }
    assert_ne!(ids[0], ids[1], "{what}: two peers, one id");
    // Replies in the other order, each routed by its id.
    for i in [1, 0] {
        let reply = vec![
            format!("to dealer {i}").into_bytes(),
            bytes(10 + i as u64, 255),
        ];
        r.send(&prepend(&[&ids[i]], &reply));
        assert_frames(&dealers[i].recv(), &reply, &what);
    }
}

#[test]
fn libzmq_router_generates_ids_for_zsock_dealers() {
    generated_ids(Lib::Libzmq);
}

#[test]
fn zsock_router_generates_ids_for_libzmq_dealers() {
    generated_ids(Lib::Zsock);
}

/// A ROUTER of `router` binds; a `peer_type` of the other library with ROUTING_ID `id`
/// connects. The ROUTER knows it by that id, and (for a DEALER) can speak first.
fn chosen_id(router: Lib, peer_type: T) {
    let id: &[u8] = b"chosen\x00\xff-id";
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let dir = tempfile::tempdir().unwrap();
    let mut r = peer(router, &ctx, &zctx, T::Router);
    let ep = r.bind(&format!("ipc://{}", dir.path().join("router").display()));
    let mut p: Box<dyn Peer> = match other(router) {
        Lib::Zsock => {
            let mut s = zsock_socket(&ctx, peer_type);
            s.set(SocketOption::RoutingId(id.to_vec().into())).unwrap();
            Box::new(Zsock(s))
        }
        Lib::Libzmq => {
            let s = zmq_socket(&zctx, peer_type);
            s.set_identity(id).unwrap();
            Box::new(Zmq(s))
        }
    };
    p.connect(&ep);
    let what = format!("{} <-> {}", r.describe(), p.describe());
    let q = vec![b"request".to_vec(), bytes(1, 300)];
    if peer_type == T::Dealer {
        // The ROUTER speaks first, to the id the peer chose.
        let hello = vec![b"hello".to_vec(), bytes(2, 1)];
        r.send_routed(&prepend(&[id], &hello));
        assert_frames(&p.recv(), &hello, &what);
        p.send(&q);
        assert_frames(&r.recv(), &prepend(&[id], &q), &what);
        r.send(&prepend(&[id], &q));
        assert_frames(&p.recv(), &q, &what);
    } else {
        p.send(&q);
        assert_frames(&r.recv(), &prepend(&[id, b""], &q), &what);
        r.send(&prepend(&[id, b""], &q));
        assert_frames(&p.recv(), &q, &what);
    }
}

#[test]
fn zsock_dealer_routing_id_at_libzmq_router() {
    chosen_id(Lib::Libzmq, T::Dealer);
}

#[test]
fn libzmq_dealer_routing_id_at_zsock_router() {
    chosen_id(Lib::Zsock, T::Dealer);
}

#[test]
fn zsock_req_routing_id_at_libzmq_router() {
    chosen_id(Lib::Libzmq, T::Req);
}

#[test]
fn libzmq_req_routing_id_at_zsock_router() {
    chosen_id(Lib::Zsock, T::Req);
}

/// A ROUTER of `router` (ROUTING_ID "the-router") connects to two binders of the other
/// library, a ROUTER and a DEALER, each with a ROUTING_ID of its own, naming them "peer-1"
/// and "peer-2" with CONNECT_ROUTING_ID. It knows them by those names (not by their own
/// ids), speaks to each first, and gets their replies under the same names; the binding
/// ROUTER knows it as "the-router".
fn connect_routing_id(router: Lib) {
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let dir = tempfile::tempdir().unwrap();
    let mut binders: Vec<(Box<dyn Peer>, String)> =
        [(T::Router, "own-id-1"), (T::Dealer, "own-id-2")]
            .into_iter()
            .enumerate()
            .map(|(i, (t, own))| {
                let mut b: Box<dyn Peer> = match other(router) {
                    Lib::Zsock => {
                        let mut s = zsock_socket(&ctx, t);
                        s.set(SocketOption::RoutingId(own.as_bytes().to_vec().into()))
                            .unwrap();
                        Box::new(Zsock(s))
                    }
                    Lib::Libzmq => {
                        let s = zmq_socket(&zctx, t);
                        s.set_identity(own.as_bytes()).unwrap();
                        Box::new(Zmq(s))
                    }
                };
                let ep = b.bind(&format!(
                    "ipc://{}",
                    dir.path().join(format!("b{i}")).display()
                ));
                (b, ep)
            })
            .collect();
    let names: [&[u8]; 2] = [b"peer-1", b"peer-2"];
    let mut r: Box<dyn Peer> = match router {
        Lib::Zsock => {
            let mut s = zsock_socket(&ctx, T::Router);
            s.set(SocketOption::RoutingId(b"the-router".to_vec().into()))
                .unwrap();
            for ((_, ep), name) in binders.iter().zip(names) {
                s.set(SocketOption::ConnectRoutingId(name.to_vec().into()))
                    .unwrap();
                s.connect(ep).unwrap();
            }
            Box::new(Zsock(s))
        }
        Lib::Libzmq => {
            let mut s = zmq_socket(&zctx, T::Router);
            s.set_identity(b"the-router").unwrap();
            for ((_, ep), name) in binders.iter().zip(names) {
                zmq_set_connect_routing_id(&mut s, name);
                s.connect(ep).unwrap();
            }
            Box::new(Zmq(s))
        }
    };
    for (i, ((b, _), name)) in binders.iter_mut().zip(names).enumerate() {
        let what = format!("{} <-> {}", r.describe(), b.describe());
        let q = vec![format!("to binder {i}").into_bytes(), bytes(i as u64, 256)];
        r.send_routed(&prepend(&[name], &q));
        let got = b.recv();
        let reply = vec![
            format!("from binder {i}").into_bytes(),
            bytes(9 + i as u64, 255),
        ];
        if i == 0 {
            // The binding ROUTER knows the connecting one by its ROUTING_ID.
            assert_frames(&got, &prepend(&[b"the-router"], &q), &what);
            b.send(&prepend(&[b"the-router"], &reply));
        } else {
            assert_frames(&got, &q, &what);
            b.send(&reply);
        }
        assert_frames(&r.recv(), &prepend(&[name], &reply), &what);
    }
}

#[test]
fn zsock_router_connect_routing_id_names_libzmq_peers() {
    connect_routing_id(Lib::Zsock);
}

#[test]
fn libzmq_router_connect_routing_id_names_zsock_peers() {
    connect_routing_id(Lib::Libzmq);
}
