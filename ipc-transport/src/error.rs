//! The transport's error type.

use std::io;

use ipc_endpoint::EndpointError;
use tcp_endpoint::TcpEndpointError;

/// Why a bind, connect, unbind or disconnect failed. [`TransportError::errno`] gives the errno
/// a libzmq user knows; `Display` says what happened in words.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The endpoint string is not valid.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The `tcp://` endpoint string is not valid, or names what this version does not
    /// resolve yet.
    #[error(transparent)]
    TcpEndpoint(#[from] TcpEndpointError),
    /// A `tcp://` name that is no interface of this host (on a bind, or as an IPv6 scope).
    /// ENODEV, as libzmq gives for a name it cannot find.
    #[error("{endpoint}: `{host}` is no interface of this host with an address of the socket's family (IPv4; IPv6 too with the IPV6 option); a bind or source takes an address, `*` or an interface's name")]
    TcpNameNotResolved {
        /// The endpoint as given.
        endpoint: String,
        /// The name.
        host: String,
    },
    /// A connect's host name that does not resolve (to an IPv4 address, or an IPv6 one with
    /// the IPV6 option). ENODEV, as libzmq gives for a name it cannot find.
    #[error("{endpoint}: cannot look up `{host}`: {reason}")]
    TcpHostNotFound {
        /// The endpoint as given.
        endpoint: String,
        /// The name.
        host: String,
        /// What the lookup said.
        reason: String,
    },
    /// A `tcp://` bind to an address no interface of this host has. EADDRNOTAVAIL.
    #[error("cannot bind {endpoint}: no interface of this host has that address")]
    TcpAddrNotLocal {
        /// The endpoint as given.
        endpoint: String,
    },
    /// The address is taken. For a path: something that is not a socket is there, or (with
    /// exclusive bind) a live socket answered. For an abstract name: it is bound. EADDRINUSE.
    #[error("{endpoint} is in use: {reason}")]
    AddrInUse {
        /// The endpoint as given.
        endpoint: String,
        /// What holds it, in words (e.g. "a regular file", "a live socket of pid 42, uid 1000").
        reason: String,
    },
    /// A directory on the path does not exist. ENOENT.
    #[error("cannot bind {endpoint}: directory {dir} does not exist")]
    NoDirectory {
        /// The endpoint as given.
        endpoint: String,
        /// The missing directory.
        dir: String,
    },
    /// No permission to create the socket file (or to reach the path). EACCES.
    #[error("cannot bind {endpoint}: permission denied")]
    PermissionDenied {
        /// The endpoint as given.
        endpoint: String,
    },
    /// unbind/disconnect of an endpoint this socket does not have. ENOENT.
    #[error("{endpoint} is not bound or connected on this socket")]
    UnknownEndpoint {
        /// The endpoint as given.
        endpoint: String,
    },
    /// An `inproc://` endpoint with no name. EINVAL.
    #[error("inproc:// needs a name")]
    InprocEmptyName,
    /// The engine is shut down. ETERM.
    #[error("the socket is closed")]
    Terminated,
    /// Any other system error, with the operation that failed.
    #[error("{op} {endpoint}: {source}")]
    Io {
        /// What was being done ("bind", "listen", "connect", "mkdtemp", ...).
        op: &'static str,
        /// The endpoint as given.
        endpoint: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
}

impl TransportError {
    /// The errno a libzmq user would see for this failure.
    pub fn errno(&self) -> i32 {
        match self {
            TransportError::Endpoint(e) => e.errno(),
            TransportError::TcpEndpoint(e) => e.errno(),
            TransportError::TcpNameNotResolved { .. } | TransportError::TcpHostNotFound { .. } => {
                libc::ENODEV
            }
            TransportError::TcpAddrNotLocal { .. } => libc::EADDRNOTAVAIL,
            TransportError::AddrInUse { .. } => libc::EADDRINUSE,
            TransportError::NoDirectory { .. } | TransportError::UnknownEndpoint { .. } => {
                libc::ENOENT
            }
            TransportError::PermissionDenied { .. } => libc::EACCES,
            TransportError::InprocEmptyName => libc::EINVAL,
            // ETERM is ZeroMQ's own errno (156384765), not a system one.
            TransportError::Terminated => ETERM,
            TransportError::Io { source, .. } => source.raw_os_error().unwrap_or(libc::EIO),
        }
    }
}

/// ZeroMQ's ETERM ("context was terminated"): ZMQ_HAUSNUMERO (156384712) + 53.
pub const ETERM: i32 = 156_384_765;
