//! Every row of IPC.md section 1, for bind and for connect.

use ipc_endpoint::{Endpoint, EndpointError, MAX_ABSTRACT_NAME_LEN, MAX_PATH_LEN};

/// What one parse must give.
#[derive(Debug)]
enum Expect {
    /// A filesystem path with exactly these bytes.
    Path(Vec<u8>),
    /// An abstract name with exactly these bytes (after the `@`).
    Abstract(Vec<u8>),
    /// The wildcard, spelled with these bytes.
    Wildcard(Vec<u8>),
    /// This error.
    Fails(EndpointError),
}

use Expect::{Abstract, Fails, Path, Wildcard};

fn path(s: &str) -> Expect {
    Path(s.as_bytes().to_vec())
}

/// Abstract names exist on Linux and Android; elsewhere every `ipc://@…` is refused.
const HAS_ABSTRACT: bool = cfg!(any(target_os = "linux", target_os = "android"));

/// `expect` where the abstract namespace exists, else `AbstractUnsupported`.
fn on_linux(expect: Expect) -> Expect {
    if HAS_ABSTRACT {
        expect
    } else {
        Fails(EndpointError::AbstractUnsupported)
    }
}

struct Row {
    input: String,
    bind: Expect,
    connect: Expect,
}

fn same(input: impl Into<String>, expect: impl Fn() -> Expect) -> Row {
    Row {
        input: input.into(),
        bind: expect(),
        connect: expect(),
    }
}

fn rows() -> Vec<Row> {
    let longest_path = format!("/{}", "p".repeat(MAX_PATH_LEN - 1));
    let too_long_path = format!("/{}", "p".repeat(MAX_PATH_LEN));
    let longest_name = "n".repeat(MAX_ABSTRACT_NAME_LEN);
    let too_long_name = "n".repeat(MAX_ABSTRACT_NAME_LEN + 1);
    let too_long_wildcard = format!("*{}", "w".repeat(MAX_PATH_LEN));
    vec![
        // `ipc:///abs/path`, `ipc://rel/path`: a filesystem path, used as given.
        same("ipc:///abs/path", || path("/abs/path")),
        same("ipc://rel/path", || path("rel/path")),
        same("ipc://rel.sock", || path("rel.sock")),
        same("ipc://./../x//y/", || path("./../x//y/")),
        // `ipc://@name`: the Linux abstract namespace.
        same("ipc://@name", || on_linux(Abstract(b"name".to_vec()))),
        // `ipc://*` (bind only; any path starting with `*`): the wildcard.
        Row {
            input: "ipc://*".into(),
            bind: Wildcard(b"*".to_vec()),
            // `ipc://*` on connect: a literal file named `*`.
            connect: path("*"),
        },
        Row {
            input: "ipc://*anything/at all".into(),
            bind: Wildcard(b"*anything/at all".to_vec()),
            connect: path("*anything/at all"),
        },
        // A `*` later in the path is an ordinary byte.
        same("ipc:///tmp/*", || path("/tmp/*")),
        // `ipc://` (empty), missing `://`: EINVAL.
        same("ipc://", || Fails(EndpointError::EmptyPath)),
        same("", || {
            Fails(EndpointError::MissingSeparator {
                input: String::new(),
            })
        }),
        same("/tmp/x", || {
            Fails(EndpointError::MissingSeparator {
                input: "/tmp/x".into(),
            })
        }),
        same("ipc:/tmp/x", || {
            Fails(EndpointError::MissingSeparator {
                input: "ipc:/tmp/x".into(),
            })
        }),
        same("://x", || {
            Fails(EndpointError::MissingTransport {
                input: "://x".into(),
            })
        }),
        // `ipc://@`: EINVAL.
        same("ipc://@", || {
            on_linux(Fails(EndpointError::EmptyAbstractName))
        }),
        // Unknown or wrongly-cased scheme: EPROTONOSUPPORT.
        same("IPC://x", || {
            Fails(EndpointError::UnknownTransport {
                scheme: "IPC".into(),
            })
        }),
        same("Ipc://x", || {
            Fails(EndpointError::UnknownTransport {
                scheme: "Ipc".into(),
            })
        }),
        same("ipcx://x", || {
            Fails(EndpointError::UnknownTransport {
                scheme: "ipcx".into(),
            })
        }),
        same(" ipc://x", || {
            Fails(EndpointError::UnknownTransport {
                scheme: " ipc".into(),
            })
        }),
        // ZeroMQ transports this crate does not parse.
        same("tcp://127.0.0.1:5555", || {
            Fails(EndpointError::TransportNotCarried { scheme: "tcp" })
        }),
        same("inproc://x", || {
            Fails(EndpointError::TransportNotCarried { scheme: "inproc" })
        }),
        // 107 bytes work on Linux (MAX_PATH_LEN here); one more is ENAMETOOLONG, on bind and
        // on connect.
        same(format!("ipc://{longest_path}"), || path(&longest_path)),
        same(format!("ipc://{too_long_path}"), || {
            Fails(EndpointError::PathTooLong {
                len: MAX_PATH_LEN + 1,
                limit: MAX_PATH_LEN,
            })
        }),
        // The wildcard's spelling obeys the same limit.
        same(format!("ipc://{too_long_wildcard}"), || {
            Fails(EndpointError::PathTooLong {
                len: MAX_PATH_LEN + 1,
                limit: MAX_PATH_LEN,
            })
        }),
        // Abstract: `@` + at most 106 bytes.
        same(format!("ipc://@{longest_name}"), || {
            on_linux(Abstract(longest_name.as_bytes().to_vec()))
        }),
        same(format!("ipc://@{too_long_name}"), || {
            on_linux(Fails(EndpointError::AbstractNameTooLong {
                len: MAX_ABSTRACT_NAME_LEN + 1,
                limit: MAX_ABSTRACT_NAME_LEN,
            }))
        }),
        // An embedded NUL: EINVAL.
        same("ipc:///tmp/a\0b", || {
            Fails(EndpointError::EmbeddedNul { offset: 6 })
        }),
        same("ipc://@a\0", || {
            Fails(EndpointError::EmbeddedNul { offset: 2 })
        }),
        same("ipc://\0", || {
            Fails(EndpointError::EmbeddedNul { offset: 0 })
        }),
        // Trailing spaces, `?`, `#`: part of the file name; nothing is trimmed.
        same("ipc:///tmp/x  ", || path("/tmp/x  ")),
        same("ipc:///tmp/x?y=1#z", || path("/tmp/x?y=1#z")),
        same("ipc:// lead", || path(" lead")),
        same("ipc://@ name ", || on_linux(Abstract(b" name ".to_vec()))),
    ]
}

fn check(input: &str, got: Result<Endpoint, EndpointError>, want: &Expect) {
    match (&got, want) {
        (Ok(Endpoint::Path(p)), Path(bytes)) => assert_eq!(p.as_bytes(), &bytes[..], "{input:?}"),
        (Ok(Endpoint::Abstract(n)), Abstract(bytes)) => {
            assert_eq!(n.as_bytes(), &bytes[..], "{input:?}")
        }
        (Ok(Endpoint::Wildcard(w)), Wildcard(bytes)) => {
            assert_eq!(w.as_bytes(), &bytes[..], "{input:?}")
        }
        (Err(e), Fails(expected)) => assert_eq!(e, expected, "{input:?}"),
        _ => panic!("{input:?}: got {got:?}, want {want:?}"),
    }
    if let Ok(e) = &got {
        // LAST_ENDPOINT keeps the endpoint as given.
        assert_eq!(e.to_string(), input);
    }
}

#[test]
fn every_section_1_row_parses_as_specified_for_bind_and_connect() {
    for row in rows() {
        check(&row.input, Endpoint::parse_bind(&row.input), &row.bind);
        check(
            &row.input,
            Endpoint::parse_connect(&row.input),
            &row.connect,
        );
        check(&row.input, row.input.parse::<Endpoint>(), &row.bind);
    }
}

#[test]
fn errors_map_to_the_errno_libzmq_sets() {
    let cases = [
        ("", libc::EINVAL),
        ("ipc:/x", libc::EINVAL),
        ("://x", libc::EINVAL),
        ("ipc://", libc::EINVAL),
        ("IPC://", libc::EINVAL),
        ("ipc://@", libc::EINVAL),
        ("ipc://a\0", libc::EINVAL),
        ("IPC://x", libc::EPROTONOSUPPORT),
        ("ipcx://x", libc::EPROTONOSUPPORT),
        ("tcp://x:1", libc::EPROTONOSUPPORT),
        ("inproc://x", libc::EPROTONOSUPPORT),
    ];
    for (input, errno) in cases {
        let e = Endpoint::parse_bind(input).unwrap_err();
        assert_eq!(e.errno(), errno, "{input:?}: {e}");
    }
    let long = format!("ipc://{}", "x".repeat(MAX_PATH_LEN + 24));
    assert_eq!(
        Endpoint::parse_connect(&long).unwrap_err().errno(),
        libc::ENAMETOOLONG
    );
}

#[test]
fn too_long_error_says_the_length_and_the_limit() {
    let long = format!("ipc:///{}", "x".repeat(130));
    let e = Endpoint::parse_bind(&long).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("path is 131 bytes; the limit is {MAX_PATH_LEN}")
    );
}

#[test]
fn transports_not_carried_say_so() {
    let e = Endpoint::parse_connect("tcp://127.0.0.1:5555").unwrap_err();
    assert!(e.to_string().contains("reads `ipc://` only"), "{e}");
}

#[cfg(target_os = "linux")]
#[test]
fn linux_limits_are_107_and_106() {
    assert_eq!(MAX_PATH_LEN, 107);
    assert_eq!(MAX_ABSTRACT_NAME_LEN, 106);
}

#[cfg(target_os = "linux")]
#[test]
fn abstract_address_is_nul_then_name_with_no_trailing_nul() {
    let e = Endpoint::parse_bind("ipc://@name").unwrap();
    let addr = e.sock_addr().unwrap();
    assert_eq!(addr.sun_path(), b"\0name");
    // sa_family_t (2 bytes) + NUL + "name".
    assert_eq!(addr.socklen(), 2 + 1 + 4);
}

#[test]
fn path_address_is_the_path_then_a_counted_nul() {
    let e = Endpoint::parse_connect("ipc:///tmp/x").unwrap();
    let addr = e.sock_addr().unwrap();
    assert_eq!(addr.sun_path(), b"/tmp/x\0");
    let std_addr = e.std_addr().unwrap().unwrap();
    assert_eq!(std_addr.as_pathname(), Some(std::path::Path::new("/tmp/x")));
}

#[test]
fn wildcard_and_unnamed_have_no_address() {
    assert_eq!(Endpoint::parse_bind("ipc://*").unwrap().sock_addr(), None);
    assert!(Endpoint::Unnamed.std_addr().is_none());
}

#[test]
fn unnamed_peer_prints_as_libzmq_reports_it() {
    let (a, _b) = std::os::unix::net::UnixStream::pair().unwrap();
    let e = Endpoint::from_std_addr(&a.peer_addr().unwrap()).unwrap();
    assert_eq!(e, Endpoint::Unnamed);
    assert_eq!(e.to_string(), "ipc://");
}
