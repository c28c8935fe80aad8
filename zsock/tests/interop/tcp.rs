//! tcp:// over loopback (127.0.0.1 and [::1]): zsock with zsock and with a real libzmq,
//! both bind directions; LAST_ENDPOINT for a wildcard port; endpoint errors beside
//! libzmq's. (zsock-only tcp behaviour, options and hostile peers: the `it` tests.)

use zsock::{Context, ErrorKind, Flags, SocketType};

use crate::support::*;

/// A PUSH binds `ep` (a wildcard port), a PULL connects to what bind reported; both zsock.
fn zsock_pair_over(ep: &str) {
    let ctx = Context::new();
    let push = zsock_socket(&ctx, SocketType::Push);
    let mut pull = zsock_socket(&ctx, SocketType::Pull);
    let bound = push.bind(ep).unwrap();
    assert!(!bound.ends_with(":*") && !bound.ends_with(":0"), "{bound}");
    pull.connect(&bound).unwrap();
    let mut push = push;
    for i in 0..100u32 {
        push.send(i.to_be_bytes().to_vec(), Flags::NONE).unwrap();
    }
    for i in 0..100u32 {
        assert_eq!(pull.recv(Flags::NONE).unwrap(), i.to_be_bytes().to_vec());
    }
}

#[test]
fn zsock_to_zsock_over_ipv4_and_ipv6_loopback() {
    zsock_pair_over("tcp://127.0.0.1:*");
    zsock_pair_over("tcp://[::1]:*");
}

#[test]
fn a_wildcard_port_reports_the_real_one_like_libzmq() {
    let ctx = Context::new();
    let s = zsock_socket(&ctx, SocketType::Pull);
    let bound = s.bind("tcp://127.0.0.1:*").unwrap();
    let port: u16 = bound
        .strip_prefix("tcp://127.0.0.1:")
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(port, 0);
    assert_eq!(s.last_endpoint(), bound);
    let v6 = s.bind("tcp://[::1]:*").unwrap();
    assert!(v6.starts_with("tcp://[::1]:"), "{v6}");
    // Unbind takes the resolved endpoint.
    s.unbind(&bound).unwrap();
    // libzmq's own format for the same kind of bind.
    let zctx = zmq::Context::new();
    let z = zmq_socket(&zctx, SocketType::Pull);
    z.bind("tcp://127.0.0.1:*").unwrap();
    let theirs = zmq_last_endpoint(&z);
    assert!(theirs.starts_with("tcp://127.0.0.1:"), "{theirs}");
}

#[test]
fn zsock_and_libzmq_exchange_over_tcp_both_ways() {
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    // zsock binds, libzmq connects.
    let mut rep = zsock_socket(&ctx, SocketType::Rep);
    let ep = rep.bind("tcp://127.0.0.1:*").unwrap();
    let req = zmq_socket(&zctx, SocketType::Req);
    req.connect(&ep).unwrap();
    req.send("ping", 0).unwrap();
    assert_eq!(rep.recv(Flags::NONE).unwrap(), "ping");
    rep.send("pong", Flags::NONE).unwrap();
    assert_eq!(req.recv_bytes(0).unwrap(), b"pong");
    // libzmq binds (IPv6), zsock connects; a multipart message with an empty frame.
    let zpull = zmq_socket(&zctx, SocketType::Pull);
    zpull.set_ipv6(true).unwrap();
    zpull.bind("tcp://[::1]:*").unwrap();
    let ep = zmq_last_endpoint(&zpull);
    let mut push = zsock_socket(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    push.send("a", Flags::SNDMORE).unwrap();
    push.send(Vec::new(), Flags::SNDMORE).unwrap();
    push.send(vec![7u8; 70_000], Flags::NONE).unwrap();
    let got = zpull.recv_multipart(0).unwrap();
    assert_eq!(got, vec![b"a".to_vec(), Vec::new(), vec![7u8; 70_000]]);
}

/// A connect may name the host: `localhost` (from the hosts file, no DNS query) is looked
/// up when the socket connects, and reached.
#[test]
fn connecting_to_a_host_name() {
    let ctx = Context::new();
    let mut pull = zsock_socket(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let port = ep.rsplit_once(':').unwrap().1;
    let mut push = zsock_socket(&ctx, SocketType::Push);
    push.connect(&format!("tcp://localhost:{port}")).unwrap();
    push.send("by name", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "by name");
}

/// A bind may name an interface: `lo` binds its IPv4 address, and LAST_ENDPOINT says
/// which. (The libzmq the `zmq` crate builds here has no interface lookup: it answers
/// ENODEV to the same bind, so there is nothing to compare with. The same build also
/// takes TCP_KEEPALIVE without setting SO_KEEPALIVE and refuses BINDTODEVICE with
/// ENOTSUP: those compare only against a full build such as Debian's libzmq5, which zsock
/// matches on all three.)
#[test]
fn binding_an_interface_by_name_binds_its_address() {
    let ctx = Context::new();
    let mut pull = zsock_socket(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://lo:*").unwrap();
    assert!(ep.starts_with("tcp://127.0.0.1:"), "{ep}");
    let mut push = zsock_socket(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    push.send("via lo", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "via lo");
    let e = pull.bind("tcp://no-such-if9:*").unwrap_err();
    assert_eq!(e.errno(), libc::ENODEV, "{e}");
}

/// Each endpoint mistake has libzmq's errno and says what is wrong.
#[test]
fn tcp_endpoint_errors_say_what_is_wrong() {
    let ctx = Context::new();
    let s = zsock_socket(&ctx, SocketType::Pull);
    // A bind takes an interface's name, not a host name.
    let e = s.bind("tcp://localhost:5555").unwrap_err();
    assert_eq!(e.errno(), libc::ENODEV, "{e}");
    assert_eq!(e.kind(), ErrorKind::NoDevice, "{e}");
    assert!(e.to_string().contains("no interface"), "{e}");
    let e = s.bind("tcp://*:65536").unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL);
    assert!(e.to_string().contains("65535"), "{e}");
    let e = s.bind("tcp://127.0.0.1").unwrap_err();
    assert_eq!(e.errno(), libc::EINVAL, "{e}");
    assert!(e.to_string().contains("port"), "{e}");
    // An address no interface has (TEST-NET-1, never local).
    let e = s.bind("tcp://192.0.2.1:*").unwrap_err();
    assert_eq!(e.errno(), libc::EADDRNOTAVAIL, "{e}");
    assert_eq!(e.kind(), ErrorKind::AddrNotAvailable, "{e}");
    assert!(e.to_string().contains("no interface of this host"), "{e}");
    // A port taken, by libzmq here.
    let zctx = zmq::Context::new();
    let z = zmq_socket(&zctx, SocketType::Pull);
    z.bind("tcp://127.0.0.1:*").unwrap();
    let taken = zmq_last_endpoint(&z);
    let e = s.bind(&taken).unwrap_err();
    assert_eq!(e.errno(), libc::EADDRINUSE, "{e}");
    assert!(e.to_string().contains("in use"), "{e}");
    // A source address whose interface does not exist.
    let e = s
        .connect(&format!("tcp://no-such-if9:0;{}", &taken["tcp://".len()..]))
        .unwrap_err();
    assert_eq!(e.errno(), libc::ENODEV, "{e}");
}

/// A connect to a port nobody listens on is refused asynchronously and retried: once a
/// PULL binds there, the message queued before arrives.
#[test]
fn a_refused_connect_is_retried_until_the_binder_comes() {
    let ctx = Context::new();
    // A free port: bind, read it, unbind.
    let probe = zsock_socket(&ctx, SocketType::Pull);
    let ep = probe.bind("tcp://127.0.0.1:*").unwrap();
    drop(probe);
    let mut push = zsock_socket(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    push.send("early", Flags::NONE).unwrap();
    let mut pull = zsock_socket(&ctx, SocketType::Pull);
    pull.bind(&ep).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "early");
}

/// Junk from a raw TCP client closes that connection only: a well-behaved peer on the same
/// endpoint still gets through.
#[test]
fn junk_over_tcp_closes_only_that_connection() {
    use std::io::{Read, Write};
    let ctx = Context::new();
    let mut pull = zsock_socket(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let addr = ep.strip_prefix("tcp://").unwrap();
    let mut raw = std::net::TcpStream::connect(addr).unwrap();
    raw.write_all(&[0xFF; 200]).unwrap();
    raw.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    let mut rest = Vec::new();
    let _ = raw.read_to_end(&mut rest); // closed by zsock (after its greeting)
    let mut push = zsock_socket(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    push.send("fine", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "fine");
}

/// An endpoint connected to twice: one `disconnect` closes both connections, and a second
/// finds nothing (ENOENT), in both stacks.
#[test]
fn one_disconnect_ends_every_connection_to_the_endpoint_as_in_libzmq() {
    let ctx = Context::new();
    let pull = zsock_socket(&ctx, SocketType::Pull);
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    let push = zsock_socket(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    push.connect(&ep).unwrap();
    push.disconnect(&ep).unwrap();
    let ours = push.disconnect(&ep).unwrap_err();
    assert_eq!(ours.kind(), ErrorKind::NotFound, "{ours}");
    let zctx = zmq::Context::new();
    let z = zmq_socket(&zctx, SocketType::Push);
    z.connect(&ep).unwrap();
    z.connect(&ep).unwrap();
    z.disconnect(&ep).unwrap();
    assert_eq!(z.disconnect(&ep), Err(zmq::Error::ENOENT));
}
