//! ZeroMQ `ipc://` endpoint strings, parsed into typed values that are valid by construction,
//! with the exact socket addresses libzmq would use for them.
//!
//! What it does: [`Endpoint::parse_bind`] and [`Endpoint::parse_connect`] turn a user's string
//! into an [`Endpoint`]: a filesystem path ([`SocketPath`], absolute or relative, used as
//! given), a Linux abstract name ([`AbstractName`], `ipc://@name`), or the bind wildcard
//! ([`Wildcard`], `ipc://*`). Every mistake is an [`EndpointError`] that says what is wrong in
//! words and maps to the errno libzmq gives ([`EndpointError::errno`]). Lengths are measured
//! against the platform's `sun_path` ([`MAX_PATH_LEN`], [`MAX_ABSTRACT_NAME_LEN`]) and a long
//! name is refused, never truncated. [`SockAddr`] is the `sockaddr_un` and length for
//! `bind(2)`/`connect(2)` (abstract names: a leading NUL and no trailing one, as libzmq does),
//! also available as a std `SocketAddr`. `Display` prints what libzmq reports as
//! `ZMQ_LAST_ENDPOINT`. [`wildcard_base_dir`] and [`wildcard_socket_path`] state where a
//! wildcard bind puts its socket.
//!
//! What it deliberately does not do: no sockets, no file system access (it never checks
//! whether a path exists or creates the wildcard's directory; that is the transport's job),
//! and no other IO apart from reading `TMPDIR`, `TEMPDIR` and `TMP` in [`wildcard_base_dir`].
//! Only `ipc://` is parsed: `tcp://` and `inproc://` are recognised and refused with an error
//! that says this parser reads `ipc://` only (zsock parses them elsewhere).
//!
//! No function here panics on any input, whatever its length or bytes ([`fuzzing`] checks it).
//!
//! ```
//! use ipc_endpoint::{Endpoint, EndpointError, MAX_PATH_LEN};
//!
//! let e = Endpoint::parse_connect("ipc://@feed").unwrap();
//! assert_eq!(e.sock_addr().unwrap().sun_path(), b"\0feed");
//! assert_eq!(e.to_string(), "ipc://@feed");
//!
//! let long = format!("ipc:///{}", "x".repeat(MAX_PATH_LEN));
//! let err = Endpoint::parse_bind(&long).unwrap_err();
//! assert_eq!(err, EndpointError::PathTooLong { len: MAX_PATH_LEN + 1, limit: MAX_PATH_LEN });
//! assert_eq!(err.errno(), libc::ENAMETOOLONG);
//! ```

mod addr;
mod endpoint;
mod error;
pub mod fuzzing;
mod name;
mod wildcard;

pub use addr::SockAddr;
pub use endpoint::Endpoint;
pub use error::EndpointError;
pub use name::{AbstractName, SocketPath, Wildcard};
pub use wildcard::{
    wildcard_base_dir, wildcard_base_dir_with, wildcard_socket_path, WILDCARD_DIR_PREFIX,
    WILDCARD_ENV_VARS, WILDCARD_FALLBACK_DIR, WILDCARD_SOCKET_FILE,
};

/// The longest filesystem path, in bytes, that fits `sun_path` with its terminating NUL:
/// 107 on Linux, 103 on macOS and the BSDs.
pub const MAX_PATH_LEN: usize = addr::SUN_PATH_LEN - 1;

/// The longest abstract name, in bytes after the `@`: 106 on Linux. libzmq measures `@name`
/// against the same limit as a path, so the `@` costs one byte (the kernel itself would take
/// one more).
pub const MAX_ABSTRACT_NAME_LEN: usize = addr::SUN_PATH_LEN - 2;
