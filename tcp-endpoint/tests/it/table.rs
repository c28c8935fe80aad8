//! Every form zmq_tcp(7) documents, and the mistakes, each with the errno a libzmq user
//! would see.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::num::{NonZeroU16, NonZeroU32};

use tcp_endpoint::{BindEndpoint, ConnectEndpoint, Host, Port, Scope, TcpEndpointError};

fn port(n: u16) -> Port {
    Port::Number(NonZeroU16::new(n).unwrap())
}

fn bind(s: &str) -> BindEndpoint {
    BindEndpoint::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

fn connect(s: &str) -> ConnectEndpoint {
    ConnectEndpoint::parse(s).unwrap_or_else(|e| panic!("{s}: {e}"))
}

#[test]
fn bind_forms() {
    let cases: &[(&str, Host, Port, &str)] = &[
        ("tcp://*:5555", Host::Any, port(5555), "tcp://*:5555"),
        ("tcp://*:*", Host::Any, Port::Ephemeral, "tcp://*:*"),
        ("tcp://*:0", Host::Any, Port::Ephemeral, "tcp://*:*"),
        (
            "tcp://127.0.0.1:05555",
            Host::V4(Ipv4Addr::LOCALHOST),
            port(5555),
            "tcp://127.0.0.1:5555",
        ),
        (
            "tcp://[::1]:1",
            Host::V6 {
                addr: Ipv6Addr::LOCALHOST,
                scope: None,
            },
            port(1),
            "tcp://[::1]:1",
        ),
        (
            "tcp://::1:65535",
            Host::V6 {
                addr: Ipv6Addr::LOCALHOST,
                scope: None,
            },
            port(65535),
            "tcp://[::1]:65535",
        ),
        (
            "tcp://[fe80::1%eth0]:80",
            Host::V6 {
                addr: "fe80::1".parse().unwrap(),
                scope: Some(Scope::Interface("eth0".into())),
            },
            port(80),
            "tcp://[fe80::1%eth0]:80",
        ),
        (
            "tcp://[fe80::1%3]:80",
            Host::V6 {
                addr: "fe80::1".parse().unwrap(),
                scope: Some(Scope::Index(NonZeroU32::new(3).unwrap())),
            },
            port(80),
            "tcp://[fe80::1%3]:80",
        ),
        (
            "tcp://lo:7000",
            Host::Name("lo".into()),
            port(7000),
            "tcp://lo:7000",
        ),
        (
            "tcp://[1.2.3.4]:9",
            Host::V4(Ipv4Addr::new(1, 2, 3, 4)),
            port(9),
            "tcp://1.2.3.4:9",
        ),
        (
            "tcp://my-host.example_1:9",
            Host::Name("my-host.example_1".into()),
            port(9),
            "tcp://my-host.example_1:9",
        ),
    ];
    for (input, host, p, canonical) in cases {
        let b = bind(input);
        assert_eq!((&b.host, &b.port), (host, p), "{input}");
        assert_eq!(b.to_string(), *canonical, "{input}");
        assert_eq!(bind(canonical), b, "{canonical}");
    }
}

#[test]
fn connect_forms() {
    let c = connect("tcp://localhost:5555");
    assert_eq!(
        (c.source, c.host, c.port.get()),
        (None, Host::Name("localhost".into()), 5555)
    );
    let c = connect("tcp://192.168.1.17:5555;[::1]:6000");
    assert_eq!(
        c.source,
        Some(BindEndpoint {
            host: Host::V4(Ipv4Addr::new(192, 168, 1, 17)),
            port: port(5555)
        })
    );
    assert_eq!(c.port.get(), 6000);
    assert_eq!(c.to_string(), "tcp://192.168.1.17:5555;[::1]:6000");
    let c = connect("tcp://eth0:*;server:1");
    let src = c.source.unwrap();
    assert_eq!(
        (src.host, src.port),
        (Host::Name("eth0".into()), Port::Ephemeral)
    );
    // `*` as the source host: any interface (libzmq's syntax check refuses a leading `*`).
    let c = connect("tcp://*:0;127.0.0.1:80");
    assert_eq!(c.source.unwrap().host, Host::Any);
}

/// An input, whether it is parsed as a bind (else a connect), the error it must give, and
/// its errno.
type Mistake = (&'static str, bool, fn(&TcpEndpointError) -> bool, i32);

#[test]
fn mistakes_say_what_is_wrong_with_libzmqs_errno() {
    use TcpEndpointError as E;
    let einval = libc::EINVAL;
    let cases: &[Mistake] = &[
        (
            "127.0.0.1:80",
            true,
            |e| matches!(e, E::NotAnEndpoint { .. }),
            einval,
        ),
        (
            "TCP://*:80",
            true,
            |e| matches!(e, E::NotTcp { .. }),
            libc::EPROTONOSUPPORT,
        ),
        (
            "ipc://*:80",
            false,
            |e| matches!(e, E::NotTcp { .. }),
            libc::EPROTONOSUPPORT,
        ),
        ("tcp://", true, |e| *e == E::Empty, einval),
        (
            "tcp://*",
            true,
            |e| matches!(e, E::MissingPort { .. }),
            einval,
        ),
        (
            "tcp://*:",
            true,
            |e| matches!(e, E::MissingPort { .. }),
            einval,
        ),
        (
            "tcp://*:567bad",
            true,
            |e| matches!(e, E::BadPort { .. }),
            einval,
        ),
        (
            "tcp://*:-1",
            true,
            |e| matches!(e, E::BadPort { .. }),
            einval,
        ),
        (
            "tcp://*:65536",
            true,
            |e| matches!(e, E::PortOutOfRange { .. }),
            einval,
        ),
        (
            "tcp://*:99999999999999",
            true,
            |e| matches!(e, E::PortOutOfRange { .. }),
            einval,
        ),
        ("tcp://:80", true, |e| *e == E::EmptyHost, einval),
        (
            "tcp://* :80",
            true,
            |e| matches!(e, E::BadCharacter { offset: 7 }),
            einval,
        ),
        (
            "tcp://[::1:80",
            true,
            |e| matches!(e, E::BadAddress { .. }),
            einval,
        ),
        (
            "tcp://[fe80::1%]:80",
            true,
            |e| matches!(e, E::BadAddress { .. }),
            einval,
        ),
        (
            "tcp://[fe80::1%0]:80",
            true,
            |e| matches!(e, E::BadAddress { .. }),
            einval,
        ),
        (
            "tcp://[name]:80",
            true,
            |e| matches!(e, E::BadAddress { .. }),
            einval,
        ),
        (
            "tcp://bad/name:80",
            true,
            |e| matches!(e, E::BadName { .. }),
            einval,
        ),
        (
            "tcp://-x:80",
            true,
            |e| matches!(e, E::BadName { .. }),
            einval,
        ),
        ("tcp://a;*:80", true, |e| *e == E::SourceOnBind, einval),
        (
            "tcp://*:80",
            false,
            |e| *e == E::WildcardHostOnConnect,
            einval,
        ),
        (
            "tcp://host:*",
            false,
            |e| matches!(e, E::NoPortToConnectTo { .. }),
            einval,
        ),
        (
            "tcp://host:0",
            false,
            |e| matches!(e, E::NoPortToConnectTo { .. }),
            einval,
        ),
        (
            "tcp://a:1;host:70000",
            false,
            |e| matches!(e, E::PortOutOfRange { .. }),
            einval,
        ),
        (
            "tcp://a;host:80",
            false,
            |e| matches!(e, E::BadSource { part, reason } if part == "a" && matches!(**reason, E::MissingPort { .. })),
            einval,
        ),
        (
            "tcp://[::1];[::1]:80",
            false,
            |e| matches!(e, E::BadSource { part, reason } if part == "[::1]" && matches!(**reason, E::MissingPort { .. })),
            einval,
        ),
        (
            "tcp://127.0.0.1:0;127.0.0.1:0;127.0.0.1:80",
            false,
            |e| *e == E::TwoSources,
            einval,
        ),
        (
            "tcp://[::1]",
            true,
            |e| matches!(e, E::MissingPort { .. }),
            einval,
        ),
    ];
    for (input, is_bind, is, errno) in cases {
        let err = if *is_bind {
            BindEndpoint::parse(input).unwrap_err()
        } else {
            ConnectEndpoint::parse(input).unwrap_err()
        };
        assert!(is(&err), "{input}: {err:?}");
        assert_eq!(err.errno(), *errno, "{input}");
        assert!(!err.to_string().is_empty());
    }
    // A source's error says it is the source's, and what is wrong with it.
    let e = ConnectEndpoint::parse("tcp://[::1];[::1]:80").unwrap_err();
    let words = e.to_string();
    assert!(
        words.contains("source address `[::1]`") && words.contains("no port"),
        "{words}"
    );
    // The out-of-range message names the limit.
    let e = BindEndpoint::parse("tcp://*:65536").unwrap_err();
    assert!(e.to_string().contains("65535"), "{e}");
}
