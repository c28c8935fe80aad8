//! Received messages' metadata with libzmq peers: the peer's socket type and routing id,
//! its credentials over ipc and its address over tcp, libzmq's property names, a ROUTER's
//! peer by routing id, and a peer that has left.

use zsock::{Context, Flags, SocketType};

use crate::support::{zmq_socket, zsock_socket};

#[test]
fn a_libzmq_dealer_over_ipc_is_known_by_its_message_and_its_routing_id() {
    let dir = tempfile::tempdir().unwrap();
    let ep = format!("ipc://{}", dir.path().join("m").display());
    let ctx = Context::new();
    let mut router = zsock_socket(&ctx, SocketType::Router);
    router.bind(&ep).unwrap();
    let zctx = zmq::Context::new();
    let dealer = zmq_socket(&zctx, SocketType::Dealer);
    dealer.set_identity(b"alice").unwrap();
    dealer.connect(&ep).unwrap();
    dealer.send("hello", 0).unwrap();

    let msg = router.recv_msg(Flags::NONE).unwrap();
    assert_eq!(msg.frames()[0], "alice");
    let peer = router.peer().expect("a received message has metadata");
    assert_eq!(peer.socket_type(), Some(SocketType::Dealer));
    assert_eq!(peer.routing_id().map(|b| &b[..]), Some(&b"alice"[..]));
    let cred = peer.peer_cred().expect("ipc peers have credentials");
    assert_eq!(cred.pid, std::process::id() as i32);
    assert_eq!(peer.peer_addr(), None);
    assert_eq!(peer.endpoint(), ep);
    // libzmq's names, as zmq_msg_gets gives them.
    assert_eq!(peer.gets("Socket-Type").as_deref(), Some("DEALER"));
    assert_eq!(peer.gets("routing-id").as_deref(), Some("alice"));
    let uid = own_uid();
    assert_eq!(
        peer.gets("Peer-Address"),
        Some(format!("localhost:{uid}:{}:{}", cred.gid, cred.pid))
    );
    assert_eq!(peer.gets("User-Id"), None);
    assert_eq!(peer.gets("X-Nothing"), None);
    // The ROUTER's routing id leads to the same peer.
    assert_eq!(router.peer_metadata(b"alice"), Some(peer));
    assert_eq!(router.peer_metadata(b"bob"), None);
}

/// This process's uid, from /proc (no libc call needed in the test).
fn own_uid() -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    line.split_whitespace().nth(2).unwrap().parse().unwrap()
}

#[test]
fn a_libzmq_push_over_tcp_is_known_by_its_address_even_after_it_left() {
    let ctx = Context::new();
    let mut pull = zsock_socket(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let zctx = zmq::Context::new();
    let push = zmq_socket(&zctx, SocketType::Push);
    push.connect(&ep).unwrap();
    push.send("first", 0).unwrap();
    push.send("last", 0).unwrap();
    assert_eq!(pull.peer(), None, "nothing received yet");
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "first");
    let peer = pull.peer().unwrap();
    assert_eq!(peer.socket_type(), Some(SocketType::Push));
    assert_eq!(peer.peer_cred(), None);
    let addr = peer.peer_addr().expect("tcp peers have an address");
    assert_eq!(addr.ip().to_string(), "127.0.0.1");
    assert_ne!(addr.port(), 0);
    assert!(
        !ep.ends_with(&format!(":{}", addr.port())),
        "the peer's own port"
    );
    assert_eq!(peer.gets("Peer-Address").as_deref(), Some("127.0.0.1"));

    // The peer leaves; its last message is taken after, and its metadata stays known.
    let mon = pull.monitor();
    drop(push);
    loop {
        match mon.next(Some(std::time::Duration::from_secs(10))) {
            Some(zsock::Event::Disconnected { .. }) => break,
            Some(_) => {}
            None => panic!("no disconnect"),
        }
    }
    assert_eq!(pull.recv_string(Flags::NONE).unwrap(), "last");
    assert_eq!(pull.peer(), Some(peer));
}
