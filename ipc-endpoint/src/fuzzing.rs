//! Entry point shared by the cargo-fuzz target `endpoint_parse` in `fuzz/` and by the corpus
//! replay under `cargo test`. It takes arbitrary bytes, must never panic on them, and checks
//! this crate's invariants with assertions (an assertion failure is a bug the fuzzer found).

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use crate::{
    AbstractName, Endpoint, EndpointError, SocketPath, MAX_ABSTRACT_NAME_LEN, MAX_PATH_LEN,
};

const SCHEME: &str = "ipc://";

/// `endpoint_parse`: `data` as a whole endpoint string, as the address after `ipc://`, and as
/// the raw bytes of a path and of an abstract name.
///
/// Checked: bind and connect parsing agree (connect is bind with the wildcard made literal);
/// a parsed endpoint prints as exactly the input and re-parses to the same value; its socket
/// address holds exactly its bytes within `sun_path`; an address longer than the limit never
/// parses; every error maps to EINVAL, ENAMETOOLONG or EPROTONOSUPPORT.
pub fn endpoint_parse(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        check_str(text);
        check_str(&format!("{SCHEME}{text}"));
    }
    check_raw_bytes(data);
}

fn check_str(input: &str) {
    let bind = Endpoint::parse_bind(input);
    let connect = Endpoint::parse_connect(input);
    assert_eq!(connect, bind.clone().map(Endpoint::into_connect));
    if let Some(address) = input.strip_prefix(SCHEME) {
        if address.len() > MAX_PATH_LEN {
            assert!(bind.is_err(), "{} address bytes parsed", address.len());
        }
    }
    for (parsed, is_bind) in [(&bind, true), (&connect, false)] {
        match parsed {
            Ok(endpoint) => check_parsed(endpoint, input, is_bind),
            Err(err) => check_error(err),
        }
    }
}

fn check_parsed(endpoint: &Endpoint, input: &str, is_bind: bool) {
    // Nothing is trimmed or rewritten: printing gives the input back byte for byte.
    let shown = endpoint.to_string();
    assert_eq!(shown, input);
    let again = if is_bind {
        Endpoint::parse_bind(&shown)
    } else {
        Endpoint::parse_connect(&shown)
    };
    assert_eq!(again.as_ref(), Ok(endpoint));
    match endpoint {
        Endpoint::Path(path) => check_path(path),
        Endpoint::Abstract(name) => check_abstract(name),
        Endpoint::Wildcard(w) => {
            assert!(is_bind, "connect produced a wildcard");
            assert_eq!(w.as_bytes().first(), Some(&b'*'));
            assert_eq!(endpoint.sock_addr(), None);
            assert!(endpoint.std_addr().is_none());
            check_path(w.literal_path());
        }
        Endpoint::Unnamed => panic!("parsing produced Endpoint::Unnamed from {input:?}"),
    }
}

fn check_path(path: &SocketPath) {
    let bytes = path.as_bytes();
    assert!(!bytes.is_empty() && bytes.len() <= MAX_PATH_LEN);
    assert!(!bytes.contains(&0));
    assert_ne!(bytes.first(), Some(&b'@'));
    let addr = path.sock_addr();
    let mut expected = bytes.to_vec();
    expected.push(0);
    assert_eq!(addr.sun_path(), &expected[..]);
    match path.std_addr() {
        Ok(std_addr) => {
            assert_eq!(std_addr.as_pathname(), Some(path.as_path()));
            assert_eq!(
                Endpoint::from_std_addr(&std_addr),
                Ok(Endpoint::Path(path.clone()))
            );
        }
        Err(e) => panic!("std refused a valid path {path:?}: {e}"),
    }
}

fn check_abstract(name: &AbstractName) {
    let bytes = name.as_bytes();
    assert!(!bytes.is_empty() && bytes.len() <= MAX_ABSTRACT_NAME_LEN);
    assert!(!bytes.contains(&0));
    let addr = name.sock_addr();
    assert_eq!(addr.sun_path().first(), Some(&0));
    assert_eq!(addr.sun_path().get(1..), Some(bytes));
    match name.std_addr() {
        Ok(std_addr) => assert_eq!(
            Endpoint::from_std_addr(&std_addr),
            Ok(Endpoint::Abstract(name.clone()))
        ),
        Err(e) => panic!("std refused a valid abstract name {name:?}: {e}"),
    }
}

fn check_error(err: &EndpointError) {
    assert!(
        [libc::EINVAL, libc::ENAMETOOLONG, libc::EPROTONOSUPPORT].contains(&err.errno()),
        "{err:?}"
    );
    assert!(!err.to_string().is_empty());
    match *err {
        EndpointError::PathTooLong { len, limit } => {
            assert_eq!(limit, MAX_PATH_LEN);
            assert!(len > limit);
        }
        EndpointError::AbstractNameTooLong { len, limit } => {
            assert_eq!(limit, MAX_ABSTRACT_NAME_LEN);
            assert!(len > limit);
        }
        _ => {}
    }
}

fn check_raw_bytes(data: &[u8]) {
    match SocketPath::new(OsStr::from_bytes(data)) {
        Ok(path) => {
            assert_eq!(path.as_bytes(), data);
            check_path(&path);
            // A UTF-8 path prints as an endpoint that parses back to it.
            if std::str::from_utf8(data).is_ok() {
                let endpoint = Endpoint::Path(path);
                assert_eq!(
                    Endpoint::parse_connect(&endpoint.to_string()).as_ref(),
                    Ok(&endpoint)
                );
            }
        }
        Err(err) => check_error(&err),
    }
    match AbstractName::new(data) {
        Ok(name) => {
            assert_eq!(name.as_bytes(), data);
            check_abstract(&name);
        }
        Err(err) => check_error(&err),
    }
}
