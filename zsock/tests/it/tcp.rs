//! tcp:// beyond the endpoint: the TCP options (checked, kept, applied), CONNECT_TIMEOUT,
//! source addresses, the IPV6 option, the monitor's view of a TCP connection (in progress,
//! refused, the peer's address), and hostile or broken peers over loopback TCP: a port
//! scanner, an HTTP request, a peer that stops reading, an oversized frame.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use zsock::{Context, ErrorKind, Event, Flags, Socket, SocketOption, SocketType};

use crate::options::{wait_event, wait_handshake, LONG};
use crate::raw::{command, data_frame, greeting_and_ready};
use crate::reliability::{assert_fds_back_to, open_fds, wait_events};
use crate::support::free_port;
use crate::support::*;

/// The `ADDR:PORT` of a `tcp://ADDR:PORT` endpoint.
fn addr_of(ep: &str) -> SocketAddr {
    ep.strip_prefix("tcp://").unwrap().parse().unwrap()
}

/// A PULL bound on a wildcard loopback port, with its endpoint.
fn bound_pull(ctx: &Context) -> (Socket, String) {
    let s = sock(ctx, SocketType::Pull);
    let ep = s.bind("tcp://127.0.0.1:*").unwrap();
    (s, ep)
}

#[test]
fn tcp_options_are_checked_and_read_back() {
    let ctx = Context::new();
    let mut s = sock(&ctx, SocketType::Push);
    let d = s.tcp_options();
    assert_eq!(
        (
            d.keepalive,
            d.keepalive_idle,
            d.keepalive_cnt,
            d.keepalive_intvl
        ),
        (None, None, None, None),
        "libzmq's defaults: the system's keepalive"
    );
    assert_eq!((d.maxrt, d.sndbuf, d.rcvbuf, d.tos), (None, None, None, 0));
    assert_eq!(
        (d.bind_to_device.clone(), d.ipv6, d.connect_timeout),
        (None, false, None)
    );
    for opt in [
        SocketOption::TcpKeepalive(1),
        SocketOption::TcpKeepaliveIdle(30),
        SocketOption::TcpKeepaliveCnt(4),
        SocketOption::TcpKeepaliveIntvl(5),
        SocketOption::TcpMaxrt(2500),
        SocketOption::SndBuf(65536),
        SocketOption::RcvBuf(0),
        SocketOption::Tos(0x28),
        SocketOption::BindToDevice("lo".into()),
        SocketOption::Ipv6(true),
        SocketOption::ConnectTimeout(250),
    ] {
        s.set(opt.clone())
            .unwrap_or_else(|e| panic!("{opt:?}: {e}"));
    }
    let o = s.tcp_options();
    assert_eq!(o.keepalive, Some(true));
    assert_eq!(o.keepalive_idle, Some(Duration::from_secs(30)));
    assert_eq!(o.keepalive_cnt, Some(4));
    assert_eq!(o.keepalive_intvl, Some(Duration::from_secs(5)));
    assert_eq!(o.maxrt, Some(Duration::from_millis(2500)));
    assert_eq!((o.sndbuf, o.rcvbuf, o.tos), (Some(65536), Some(0), 0x28));
    assert_eq!(o.bind_to_device.as_deref(), Some("lo"));
    assert!(o.ipv6);
    assert_eq!(o.connect_timeout, Some(Duration::from_millis(250)));
    // Back to the defaults the way libzmq's users write them.
    for opt in [
        SocketOption::TcpKeepalive(-1),
        SocketOption::TcpMaxrt(0),
        SocketOption::SndBuf(-1),
        SocketOption::BindToDevice(String::new()),
        SocketOption::ConnectTimeout(0),
    ] {
        s.set(opt).unwrap();
    }
    let o = s.tcp_options();
    assert_eq!((o.keepalive, o.maxrt, o.sndbuf), (None, None, None));
    assert_eq!((o.bind_to_device, o.connect_timeout), (None, None));
    // Out of range: EINVAL, with the range in words.
    for (opt, words) in [
        (SocketOption::TcpKeepalive(2), "0 or 1"),
        (SocketOption::TcpKeepaliveIdle(0), "at least 1"),
        (SocketOption::TcpKeepaliveCnt(-2), "at least 1"),
        (SocketOption::TcpKeepaliveIntvl(0), "at least 1"),
        (SocketOption::TcpMaxrt(-1), "at least 0"),
        (SocketOption::SndBuf(-2), "at least 0"),
        (SocketOption::Tos(256), "0 to 255"),
        (
            SocketOption::BindToDevice("sixteen-bytes-xx".into()),
            "15 bytes",
        ),
        (SocketOption::ConnectTimeout(-1), "at least 0"),
    ] {
        let e = s.set(opt.clone()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Invalid, "{opt:?}");
        assert!(e.to_string().contains(words), "{opt:?}: {e}");
    }
    // Text names, as zcat takes them; IPV4ONLY is IPV6's opposite.
    assert_eq!(
        SocketOption::parse("ZMQ_TCP_KEEPALIVE_IDLE", "60").unwrap(),
        SocketOption::TcpKeepaliveIdle(60)
    );
    assert_eq!(
        SocketOption::parse("ipv4only", "0").unwrap(),
        SocketOption::Ipv6(true)
    );
}

/// Every option set at once, on both sides: messages flow (the options reach the kernel:
/// ipc-transport's own tests read them back from the sockets).
#[test]
fn messages_flow_with_every_tcp_option_set() {
    let ctx = Context::new();
    let opts = [
        SocketOption::TcpKeepalive(1),
        SocketOption::TcpKeepaliveIdle(60),
        SocketOption::TcpKeepaliveCnt(3),
        SocketOption::TcpKeepaliveIntvl(10),
        SocketOption::TcpMaxrt(5000),
        SocketOption::SndBuf(1 << 20),
        SocketOption::RcvBuf(1 << 20),
        SocketOption::Tos(0x10),
        SocketOption::ConnectTimeout(5000),
    ];
    let mut pull = sock(&ctx, SocketType::Pull);
    let mut push = sock(&ctx, SocketType::Push);
    for o in &opts {
        pull.set(o.clone()).unwrap();
        push.set(o.clone()).unwrap();
    }
    let ep = pull.bind("tcp://127.0.0.1:*").unwrap();
    push.connect(&ep).unwrap();
    for i in 0..1000u32 {
        push.send_copy(&i.to_le_bytes(), Flags::NONE).unwrap();
    }
    for i in 0..1000u32 {
        assert_eq!(pull.recv(Flags::NONE).unwrap(), &i.to_le_bytes()[..]);
    }
}

/// BINDTODEVICE: `lo` carries loopback traffic; a device that does not exist fails the
/// bind with ENODEV (or EPERM where the process may not bind to devices at all).
#[test]
fn bind_to_device_binds_listeners_and_connections_to_it() {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::BindToDevice("lo".into())).unwrap();
    match pull.bind("tcp://127.0.0.1:*") {
        Ok(ep) => {
            let mut push = sock(&ctx, SocketType::Push);
            push.set(SocketOption::BindToDevice("lo".into())).unwrap();
            push.connect(&ep).unwrap();
            push.send("on lo", Flags::NONE).unwrap();
            assert_eq!(pull.recv(Flags::NONE).unwrap(), "on lo");
        }
        Err(e) => assert_eq!(e.errno(), libc::EPERM, "{e}"),
    }
    let s = sock(&ctx, SocketType::Pull);
    let mut s = s;
    s.set(SocketOption::BindToDevice("nosuchdev9".into()))
        .unwrap();
    let e = s.bind("tcp://127.0.0.1:*").unwrap_err();
    assert!(
        [libc::ENODEV, libc::EPERM].contains(&e.errno()),
        "{e} ({})",
        e.errno()
    );
    assert!(e.to_string().contains("tcp://127.0.0.1:*"), "{e}");
    // The error names the option that failed.
    assert!(e.to_string().contains("BINDTODEVICE"), "{e}");
}

/// The monitor of a TCP connection: the connect in progress, then done (with the peer's
/// address), the handshake, and on the accepting side the connecting peer's address and
/// port, which the disconnect repeats.
#[test]
fn monitor_events_carry_the_peer_address() {
    let ctx = Context::new();
    let (pull, ep) = bound_pull(&ctx);
    let server = addr_of(&ep);
    let pull_mon = pull.monitor();
    let push = sock(&ctx, SocketType::Push);
    let push_mon = push.monitor();
    push.connect(&ep).unwrap();
    let connected = wait_event(&push_mon, "Connected", |e| {
        matches!(e, Event::Connected { .. })
    });
    let Event::Connected { peer_addr, .. } = connected else {
        unreachable!()
    };
    assert_eq!(peer_addr, Some(server));
    let Event::HandshakeSucceeded { peer_addr, .. } = wait_handshake(&push_mon) else {
        unreachable!()
    };
    assert_eq!(peer_addr, Some(server));
    let Event::Accepted { peer_addr, .. } = wait_event(&pull_mon, "Accepted", |e| {
        matches!(e, Event::Accepted { .. })
    }) else {
        unreachable!()
    };
    let client = peer_addr.expect("the accepted peer's address");
    assert!(client.ip().is_loopback() && client.port() != 0, "{client}");
    let Event::HandshakeSucceeded { peer_addr, .. } = wait_handshake(&pull_mon) else {
        unreachable!()
    };
    assert_eq!(peer_addr, Some(client));
    drop(push);
    let Event::Disconnected { peer_addr, .. } = wait_event(&pull_mon, "Disconnected", |e| {
        matches!(e, Event::Disconnected { .. })
    }) else {
        unreachable!()
    };
    assert_eq!(peer_addr, Some(client));
}

/// Closing a connection ourselves while its handshake is still going (here: the peer is a
/// plain listener that never speaks ZMTP) is no failed handshake: the monitor says
/// nothing of it but the connector's `Closed`, as libzmq says nothing.
#[test]
fn a_disconnect_during_the_handshake_is_no_failed_handshake() {
    let ctx = Context::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let ep = format!("tcp://{}", listener.local_addr().unwrap());
    let dealer = sock(&ctx, SocketType::Dealer);
    let mon = dealer.monitor();
    dealer.connect(&ep).unwrap();
    wait_event(&mon, "Connected", |e| matches!(e, Event::Connected { .. }));
    // The connection is accepted by the kernel and stays silent.
    let (_silent, _) = listener.accept().unwrap();
    dealer.disconnect(&ep).unwrap();
    let mut seen = Vec::new();
    loop {
        let e = mon.next(Some(LONG)).expect("an event");
        if matches!(e, Event::Closed { .. }) {
            break;
        }
        seen.push(e);
    }
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, Event::HandshakeFailed { .. })),
        "{seen:?}"
    );
}

/// `disconnect` of an endpoint connected to twice closes both connections, as libzmq's
/// does: a second `disconnect` finds nothing, and nothing is sent any more.
#[test]
fn disconnect_closes_every_connection_to_the_endpoint() {
    let ctx = Context::new();
    let (mut pull, ep) = bound_pull(&ctx);
    let mut push = sock(&ctx, SocketType::Push);
    push.connect(&ep).unwrap();
    push.connect(&ep).unwrap();
    // Both connections carry messages (PUSH deals them round robin).
    for i in 0..4 {
        push.send(format!("m{i}"), Flags::NONE).unwrap();
    }
    for _ in 0..4 {
        pull.recv(Flags::NONE).unwrap();
    }
    push.disconnect(&ep).unwrap();
    let again = push.disconnect(&ep).unwrap_err();
    assert_eq!(again.kind(), ErrorKind::NotFound, "{again}");
    let none = push.send("after", Flags::DONTWAIT).unwrap_err();
    assert_eq!(none.kind(), ErrorKind::Again, "{none}");
}

/// A refused connect is a connect that failed, with its errno, and is tried again: no
/// Connected, no handshake failure, no disconnect before it.
#[test]
fn a_refused_connect_says_econnrefused_and_is_retried() {
    let ctx = Context::new();
    let push = sock(&ctx, SocketType::Push);
    let mon = push.monitor();
    let ep = format!("tcp://127.0.0.1:{}", free_port());
    push.connect(&ep).unwrap();
    let mut seen = Vec::new();
    let retried = loop {
        let e = mon.next(Some(LONG)).expect("an event");
        if let Event::ConnectRetried { errno, .. } = e {
            break errno;
        }
        seen.push(e);
    };
    assert_eq!(retried, Some(zsock::Errno(libc::ECONNREFUSED)));
    assert!(
        seen.iter()
            .all(|e| matches!(e, Event::ConnectDelayed { endpoint } if *endpoint == ep)),
        "{seen:?}"
    );
    // Tried again: the next attempt fails the same way.
    wait_event(
        &mon,
        "a second ConnectRetried",
        |e| matches!(e, Event::ConnectRetried { errno, .. } if *errno == Some(zsock::Errno(libc::ECONNREFUSED))),
    );
}

/// A listener whose backlog is full (a backlog of 0 queues one connection, which the
/// returned stream holds): the kernel drops the next SYN, so a connect to it stays in
/// progress until the listener accepts.
fn full_listener() -> (socket2::Socket, SocketAddr, TcpStream) {
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    listener
        .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
        .unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let filler = TcpStream::connect(addr).unwrap();
    (listener, addr, filler)
}

/// CONNECT_TIMEOUT: a connect that the listener does not answer (its backlog is full, so
/// the kernel drops the SYN) is given up with ETIMEDOUT and tried again; the attempt after
/// the listener makes room gets through.
#[test]
fn connect_timeout_gives_up_a_hanging_connect_and_tries_again() {
    let (listener, addr, filler) = full_listener();
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::ConnectTimeout(100)).unwrap();
    push.set(SocketOption::ReconnectIvl(50)).unwrap();
    let mon = push.monitor();
    let t0 = Instant::now();
    push.connect(&format!("tcp://{addr}")).unwrap();
    wait_event(
        &mon,
        "ConnectRetried with ETIMEDOUT",
        |e| matches!(e, Event::ConnectRetried { errno, .. } if *errno == Some(zsock::Errno(libc::ETIMEDOUT))),
    );
    assert!(t0.elapsed() >= Duration::from_millis(100));
    // Room in the backlog: a later attempt is accepted and greets.
    drop(listener.accept().unwrap());
    drop(filler);
    let (mut conn, _) = listener.accept().unwrap();
    conn.set_read_timeout(Some(LONG)).unwrap();
    let mut greeting = [0u8; 10];
    conn.read_exact(&mut greeting).unwrap();
    assert_eq!((greeting[0], greeting[9]), (0xFF, 0x7F), "a ZMTP signature");
    drop(push);
}

/// HANDSHAKE_IVL counts from the moment the TCP connection is up, not from the connect
/// call: a connect still in progress is governed by CONNECT_TIMEOUT alone, however much
/// longer it is than HANDSHAKE_IVL (as in libzmq, whose handshake starts once the
/// connect completed).
#[test]
fn the_handshake_clock_starts_once_the_connect_completes() {
    let (listener, addr, filler) = full_listener();
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    push.set(SocketOption::HandshakeIvl(50)).unwrap();
    push.set(SocketOption::ConnectTimeout(400)).unwrap();
    push.set(SocketOption::ReconnectIvl(50)).unwrap();
    let mon = push.monitor();
    let t0 = Instant::now();
    push.connect(&format!("tcp://{addr}")).unwrap();
    // The first attempt ends by CONNECT_TIMEOUT, not by the handshake's limit (which
    // would end it after 50 ms as an attempt without an errno).
    let e = wait_event(&mon, "ConnectRetried", |e| {
        matches!(e, Event::ConnectRetried { .. })
    });
    assert!(
        matches!(e, Event::ConnectRetried { errno, .. } if errno == Some(zsock::Errno(libc::ETIMEDOUT))),
        "the connect in progress ends with ETIMEDOUT: {e:?}"
    );
    assert!(t0.elapsed() >= Duration::from_millis(400));
    // Once a connection is up, the handshake's limit applies: a listener that accepts and
    // stays silent fails the handshake by timeout.
    drop(listener.accept().unwrap());
    drop(filler);
    let (silent, _) = listener.accept().unwrap();
    let e = wait_event(&mon, "HandshakeFailed", |e| {
        matches!(e, Event::HandshakeFailed { .. })
    });
    assert!(
        matches!(&e, Event::HandshakeFailed { reason, .. } if reason.contains("in time")),
        "a handshake timeout: {e:?}"
    );
    drop(silent);
}

/// `tcp://SOURCE;HOST:PORT`: the connection leaves from the source address and port (the
/// accepting side sees them); an interface name and a wildcard port work as a source; a
/// source that is no local address fails each attempt with EADDRNOTAVAIL.
#[test]
fn a_connect_leaves_from_its_source_address() {
    let ctx = Context::new();
    let (mut pull, ep) = bound_pull(&ctx);
    let mon = pull.monitor();
    let dest = ep.strip_prefix("tcp://").unwrap();
    let src_port = free_port();
    let mut push = sock(&ctx, SocketType::Push);
    push.connect(&format!("tcp://127.0.0.1:{src_port};{dest}"))
        .unwrap();
    push.send("from a source", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "from a source");
    let Event::Accepted { peer_addr, .. } =
        wait_event(&mon, "Accepted", |e| matches!(e, Event::Accepted { .. }))
    else {
        unreachable!()
    };
    assert_eq!(
        peer_addr,
        Some(format!("127.0.0.1:{src_port}").parse().unwrap())
    );
    // An interface and any port.
    let mut push2 = sock(&ctx, SocketType::Push);
    push2.connect(&format!("tcp://lo:*;{dest}")).unwrap();
    push2.send("from lo", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "from lo");
    // Not a local address: each attempt fails at the bind.
    let bad = sock(&ctx, SocketType::Push);
    let bad_mon = bad.monitor();
    bad.connect(&format!("tcp://192.0.2.1:0;{dest}")).unwrap();
    wait_event(
        &bad_mon,
        "ConnectRetried with EADDRNOTAVAIL",
        |e| matches!(e, Event::ConnectRetried { errno, .. } if *errno == Some(zsock::Errno(libc::EADDRNOTAVAIL))),
    );
}

/// IPV6: `tcp://*` listens on IPv6 and IPv4 both (LAST_ENDPOINT `tcp://[::]:P`, as
/// libzmq reports it); without it, IPv4 only. Bracketed IPv6 addresses need no option.
#[test]
fn the_ipv6_option_makes_a_wildcard_bind_dual_stack() {
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.set(SocketOption::Ipv6(true)).unwrap();
    let ep = pull.bind("tcp://*:*").unwrap();
    let port = ep.strip_prefix("tcp://[::]:").expect(&ep);
    let zctx = zmq::Context::new();
    let z = zctx.socket(zmq::PULL).unwrap();
    z.set_ipv6(true).unwrap();
    z.bind("tcp://*:*").unwrap();
    let theirs = z.get_last_endpoint().unwrap().unwrap();
    assert!(theirs.starts_with("tcp://[::]:"), "libzmq says {theirs}");
    for host in ["127.0.0.1", "[::1]"] {
        let mut push = sock(&ctx, SocketType::Push);
        push.connect(&format!("tcp://{host}:{port}")).unwrap();
        push.send(host, Flags::NONE).unwrap();
        assert_eq!(pull.recv(Flags::NONE).unwrap(), host);
    }
    let v4 = sock(&ctx, SocketType::Pull);
    let ep = v4.bind("tcp://*:*").unwrap();
    assert!(ep.starts_with("tcp://0.0.0.0:"), "{ep}");
    // A bracketed literal without the option (libzmq: ENODEV).
    let v6 = sock(&ctx, SocketType::Pull);
    assert!(v6
        .bind("tcp://[::1]:*")
        .unwrap()
        .starts_with("tcp://[::1]:"));
}

// ---------------------------------------------------------------------------------------
// Hostile and broken peers over TCP: each closes only its own connection, and the good
// peer on the same endpoint keeps going.

/// A good PUSH connected to `ep` sends `n` numbered messages, which `pull` must receive
/// in order.
fn good_peer_gets_through(ctx: &Context, pull: &mut Socket, ep: &str, n: u32) {
    let mut push = sock(ctx, SocketType::Push);
    push.connect(ep).unwrap();
    for i in 0..n {
        push.send_copy(&i.to_le_bytes(), Flags::NONE).unwrap();
    }
    for i in 0..n {
        assert_eq!(pull.recv(Flags::NONE).unwrap(), &i.to_le_bytes()[..]);
    }
}

/// A port scanner connects and closes at once, 200 times, and resets 50 more: nothing
/// leaks and the good peer's messages all arrive.
#[test]
fn a_port_scanner_leaves_no_trace() {
    let ctx = Context::new();
    let (mut pull, ep) = bound_pull(&ctx);
    let mon = pull.monitor();
    good_peer_gets_through(&ctx, &mut pull, &ep, 10);
    let before = open_fds();
    let addr = addr_of(&ep);
    for _ in 0..200 {
        drop(TcpStream::connect(addr).unwrap());
    }
    for _ in 0..50 {
        // Closed with unread data: the kernel resets the connection.
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        s.connect(&addr.into()).unwrap();
        s.set_linger(Some(Duration::ZERO)).unwrap();
        drop(s);
    }
    good_peer_gets_through(&ctx, &mut pull, &ep, 1000);
    // Every scanner connection closed on zsock's side too (before any handshake; the good
    // peers' connections end as disconnects).
    wait_events(&mon, "HandshakeFailed", 250, LONG, |e| {
        matches!(e, Event::HandshakeFailed { .. })
    });
    // The good peer's socket went with good_peer_gets_through: back to where we were.
    assert_fds_back_to(before);
}

/// An HTTP request sent to a ZMTP port is junk: zsock answers with its greeting and closes
/// the connection once the bytes cannot be a greeting.
#[test]
fn an_http_request_to_a_zmtp_port_is_closed() {
    let ctx = Context::new();
    let (mut pull, ep) = bound_pull(&ctx);
    let mon = pull.monitor();
    let mut http = TcpStream::connect(addr_of(&ep)).unwrap();
    http.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    http.set_read_timeout(Some(LONG)).unwrap();
    let mut got = Vec::new();
    http.read_to_end(&mut got).unwrap();
    assert_eq!(got.first(), Some(&0xFF), "zsock's greeting came first");
    let Event::HandshakeFailed {
        reason, peer_addr, ..
    } = wait_event(&mon, "HandshakeFailed", |e| {
        matches!(e, Event::HandshakeFailed { .. })
    })
    else {
        unreachable!()
    };
    assert_eq!(peer_addr, http.local_addr().ok());
    assert!(!reason.is_empty());
    good_peer_gets_through(&ctx, &mut pull, &ep, 100);
}

/// A subscriber over TCP that stops reading until the kernel's buffers fill: the PUB
/// never blocks (it drops for that subscriber at SNDHWM), and a good subscriber receives
/// every message.
#[test]
fn a_subscriber_that_stops_reading_never_blocks_the_publisher() {
    let ctx = Context::new();
    let mut publisher = sock(&ctx, SocketType::Pub);
    publisher.set(SocketOption::SndHwm(100)).unwrap();
    let ep = publisher.bind("tcp://127.0.0.1:*").unwrap();
    let mon = publisher.monitor();
    // The stalled one: a raw SUB that handshakes, subscribes to everything, then sleeps.
    let mut stalled = TcpStream::connect(addr_of(&ep)).unwrap();
    stalled.write_all(&greeting_and_ready("SUB")).unwrap();
    stalled.write_all(&command(b"SUBSCRIBE", b"")).unwrap();
    wait_handshake(&mon);
    let mut good = sock(&ctx, SocketType::Sub);
    good.set(SocketOption::Subscribe("".into())).unwrap();
    good.set(SocketOption::RcvHwm(0)).unwrap();
    good.connect(&ep).unwrap();
    wait_handshake(&mon);
    // Both subscriptions in: a probe reaches the good one.
    loop {
        publisher.send("probe", Flags::NONE).unwrap();
        if let Ok(m) = good.recv(Flags::DONTWAIT) {
            assert_eq!(m, "probe");
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    while good.recv(Flags::DONTWAIT).is_ok() {}
    // 20 MB at the stalled peer: far past its kernel buffers and SNDHWM. Each send
    // returns at once; the good subscriber receives each message before the next is
    // sent, so all of them.
    let body = vec![7u8; 16 * 1024];
    for i in 0..1280u32 {
        let mut m = i.to_le_bytes().to_vec();
        m.extend_from_slice(&body);
        publisher.send(m, Flags::DONTWAIT).unwrap();
        let got = loop {
            let m = good.recv(Flags::NONE).unwrap();
            if m != "probe" {
                break m;
            }
        };
        assert_eq!(got.len(), 4 + body.len());
        assert_eq!(u32::from_le_bytes(got[..4].try_into().unwrap()), i);
    }
    drop(stalled);
}

/// A frame over MAXMSGSIZE from a TCP peer closes that connection right after its header;
/// the good peer goes on.
#[test]
fn an_oversized_frame_over_tcp_closes_only_that_connection() {
    let ctx = Context::new();
    let (mut pull, ep) = bound_pull(&ctx);
    pull.set(SocketOption::MaxMsgSize(1000)).unwrap();
    let mon = pull.monitor();
    let mut raw = TcpStream::connect(addr_of(&ep)).unwrap();
    raw.write_all(&greeting_and_ready("PUSH")).unwrap();
    wait_handshake(&mon);
    raw.write_all(&data_frame(&[1u8; 200])).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap().len(), 200);
    // A long-form header declaring 2^62 bytes, then a little of it.
    let mut huge = vec![0x02];
    huge.extend_from_slice(&(1u64 << 62).to_be_bytes());
    huge.extend_from_slice(&[0u8; 100]);
    raw.write_all(&huge).unwrap();
    let Event::Disconnected { reason, .. } = wait_event(&mon, "Disconnected", |e| {
        matches!(e, Event::Disconnected { .. })
    }) else {
        unreachable!()
    };
    assert!(
        reason.contains("exceeds the limit of 1000 bytes"),
        "{reason}"
    );
    raw.set_read_timeout(Some(LONG)).unwrap();
    let mut rest = Vec::new();
    let _ = raw.read_to_end(&mut rest); // closed (or reset) by zsock
    good_peer_gets_through(&ctx, &mut pull, &ep, 100);
}
