//! Property tests: valid endpoints round-trip through `Display`, over-long ones always fail,
//! and no input panics.

use ipc_endpoint::{fuzzing, Endpoint, EndpointError, MAX_ABSTRACT_NAME_LEN, MAX_PATH_LEN};
use proptest::prelude::*;

/// `s` cut to at most `max` bytes, at a char boundary.
fn truncate(mut s: String, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
    s
}

/// Any path an `ipc://` string can name: 1 to MAX_PATH_LEN bytes, no NUL, not starting with
/// `@` (that is an abstract name).
fn valid_path() -> impl Strategy<Value = String> {
    "[^\\x00@][^\\x00]{0,120}".prop_map(|s| truncate(s, MAX_PATH_LEN))
}

fn valid_abstract_name() -> impl Strategy<Value = String> {
    "[^\\x00][^\\x00]{0,120}".prop_map(|s| truncate(s, MAX_ABSTRACT_NAME_LEN))
}

/// Strings built from the pieces that matter to the parser.
fn endpoint_like() -> impl Strategy<Value = String> {
    "(ipc|IPC|ipcx|tcp|inproc|)(://|:/|)[@*/a. ?#\\x00é]{0,130}"
}

proptest! {
    #[test]
    fn every_valid_path_round_trips_through_display(path in valid_path()) {
        let input = format!("ipc://{path}");
        for parse in [Endpoint::parse_bind, Endpoint::parse_connect] {
            let e = parse(&input).unwrap();
            prop_assert_eq!(e.to_string(), input.clone());
            prop_assert_eq!(parse(&e.to_string()).unwrap(), e);
        }
        // Connect never sees a wildcard; bind sees one exactly when the path starts with `*`.
        let bind = Endpoint::parse_bind(&input).unwrap();
        prop_assert_eq!(matches!(bind, Endpoint::Wildcard(_)), path.starts_with('*'));
        prop_assert!(matches!(Endpoint::parse_connect(&input).unwrap(), Endpoint::Path(_)));
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn every_valid_abstract_name_round_trips_through_display(name in valid_abstract_name()) {
        let input = format!("ipc://@{name}");
        let e = Endpoint::parse_bind(&input).unwrap();
        prop_assert_eq!(e.to_string(), input.clone());
        prop_assert_eq!(Endpoint::parse_bind(&e.to_string()).unwrap(), e.clone());
        let addr = e.sock_addr().unwrap();
        prop_assert_eq!(addr.sun_path().len(), 1 + name.len());
    }

    #[test]
    fn every_address_over_the_limit_fails_with_its_length_and_the_limit(
        address in "[^\\x00]{108,300}",
    ) {
        prop_assert!(address.len() > MAX_PATH_LEN);
        let input = format!("ipc://{address}");
        for parse in [Endpoint::parse_bind, Endpoint::parse_connect] {
            let err = parse(&input).unwrap_err();
            let expected = match address.strip_prefix('@') {
                Some(_) if !cfg!(any(target_os = "linux", target_os = "android")) => {
                    EndpointError::AbstractUnsupported
                }
                Some(name) => EndpointError::AbstractNameTooLong {
                    len: name.len(),
                    limit: MAX_ABSTRACT_NAME_LEN,
                },
                None => EndpointError::PathTooLong { len: address.len(), limit: MAX_PATH_LEN },
            };
            if expected != EndpointError::AbstractUnsupported {
                prop_assert_eq!(err.errno(), libc::ENAMETOOLONG);
            }
            prop_assert_eq!(err, expected);
        }
    }

    #[test]
    fn every_address_of_108_bytes_or_more_fails(
        chars in proptest::collection::vec(any::<char>(), 108..300),
    ) {
        let input = format!("ipc://{}", chars.into_iter().collect::<String>());
        prop_assert!(Endpoint::parse_bind(&input).is_err());
        prop_assert!(Endpoint::parse_connect(&input).is_err());
    }

    #[test]
    fn no_byte_string_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        fuzzing::endpoint_parse(&data);
    }

    #[test]
    fn no_endpoint_like_string_panics(input in endpoint_like()) {
        fuzzing::endpoint_parse(input.as_bytes());
    }

    #[test]
    fn no_unicode_string_panics(input in any::<String>()) {
        fuzzing::endpoint_parse(input.as_bytes());
    }
}
