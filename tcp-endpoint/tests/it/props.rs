//! Properties: no input panics the parsers, and what parses prints in a canonical form
//! that parses back to the same value.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU16;

use proptest::prelude::*;
use tcp_endpoint::{BindEndpoint, ConnectEndpoint, Host, Port};

fn host() -> impl Strategy<Value = Host> {
    prop_oneof![
        Just(Host::Any),
        any::<[u8; 4]>().prop_map(|b| Host::V4(Ipv4Addr::from(b))),
        any::<[u8; 16]>().prop_map(|b| Host::V6 {
            addr: Ipv6Addr::from(b),
            scope: None
        }),
        "[a-z][a-z0-9_-]{0,12}(\\.[a-z0-9]{1,8}){0,3}".prop_map(Host::Name),
    ]
}

fn port() -> impl Strategy<Value = Port> {
    prop_oneof![
        Just(Port::Ephemeral),
        (1u16..=u16::MAX).prop_map(|n| Port::Number(NonZeroU16::new(n).unwrap())),
    ]
}

proptest! {
    #[test]
    fn arbitrary_strings_never_panic(s in ".{0,64}", t in "[0-9a-f:.%\\[\\]*;a-z]{0,40}") {
        tcp_endpoint::fuzzing::tcp_endpoint_parse(s.as_bytes());
        tcp_endpoint::fuzzing::tcp_endpoint_parse(t.as_bytes());
    }

    #[test]
    fn bind_endpoints_print_and_parse_back(h in host(), p in port()) {
        let b = BindEndpoint { host: h, port: p };
        prop_assert_eq!(BindEndpoint::parse(&b.to_string()), Ok(b));
    }

    #[test]
    fn connect_endpoints_print_and_parse_back(
        src in proptest::option::of((host(), port())),
        h in host().prop_filter("not *", |h| *h != Host::Any),
        p in 1u16..=u16::MAX,
    ) {
        let c = ConnectEndpoint {
            source: src.map(|(host, port)| BindEndpoint { host, port }),
            host: h,
            port: NonZeroU16::new(p).unwrap(),
        };
        prop_assert_eq!(ConnectEndpoint::parse(&c.to_string()), Ok(c));
    }
}
