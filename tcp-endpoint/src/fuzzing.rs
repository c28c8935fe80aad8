//! Entry point shared by the cargo-fuzz target `tcp_endpoint_parse` in `fuzz/` and by the
//! corpus replay under `cargo test`.

use crate::{BindEndpoint, ConnectEndpoint, Host};

/// `tcp_endpoint_parse`: any bytes, as UTF-8 where they are, parsed as a bind and as a
/// connect endpoint. Never panics; whatever parses prints in the canonical form, which
/// parses back to the same value; a connect endpoint never has the `*` host; every error
/// has an errno.
pub fn tcp_endpoint_parse(data: &[u8]) {
    let s = String::from_utf8_lossy(data);
    for input in [s.to_string(), format!("tcp://{s}")] {
        match BindEndpoint::parse(&input) {
            Ok(b) => {
                let text = b.to_string();
                assert_eq!(BindEndpoint::parse(&text).as_ref(), Ok(&b), "{text}");
            }
            Err(e) => assert!(e.errno() > 0),
        }
        match ConnectEndpoint::parse(&input) {
            Ok(c) => {
                assert_ne!(c.host, Host::Any);
                let text = c.to_string();
                assert_eq!(ConnectEndpoint::parse(&text).as_ref(), Ok(&c), "{text}");
            }
            Err(e) => {
                assert!(e.errno() > 0);
                let _ = e.to_string();
            }
        }
    }
}
