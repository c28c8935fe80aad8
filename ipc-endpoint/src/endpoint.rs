//! [`Endpoint`]: parsing, printing, and conversion to socket addresses.

use std::fmt;
use std::io;
use std::os::unix::net::SocketAddr;
use std::str::FromStr;

use crate::addr::SockAddr;
use crate::name::{check_no_nul, os_str};
use crate::{AbstractName, EndpointError, SocketPath, Wildcard};

/// The scheme this crate parses.
const IPC_SCHEME: &str = "ipc";

/// The other ZeroMQ transports zsock carries, which this crate does not parse.
const NOT_CARRIED: [&str; 2] = ["tcp", "inproc"];

/// Which call an endpoint string is for: `*` is a wildcard only for bind.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Bind,
    Connect,
}

/// A valid `ipc://` endpoint.
///
/// Build one with [`Endpoint::parse_bind`] or [`Endpoint::parse_connect`] (or `str::parse`,
/// which is `parse_bind`). Every payload is a checked type, so a value of `Endpoint` always
/// fits the platform's `sun_path` and holds no NUL byte.
///
/// `Display` gives the string libzmq reports as `ZMQ_LAST_ENDPOINT`: `ipc:///tmp/x`,
/// `ipc://rel.sock`, `ipc://@name`, and `ipc://` for [`Endpoint::Unnamed`]. Parsing that string
/// with the same role gives the same value back, with one exception: `ipc://` is the unnamed
/// peer's name, and parsing it is an error (EINVAL), as in libzmq. Paths that are not UTF-8
/// (only the kernel or [`SocketPath::new`] can produce them) print lossily.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A filesystem path, absolute or relative, used as given: `ipc:///tmp/feed.sock`,
    /// `ipc://feed.sock`.
    Path(SocketPath),
    /// A Linux abstract-namespace name: `ipc://@feed`.
    Abstract(AbstractName),
    /// The bind wildcard `ipc://*` (or `ipc://*anything`): the transport makes a private
    /// directory and binds a file `socket` in it. Only [`Endpoint::parse_bind`] produces it.
    Wildcard(Wildcard),
    /// An unbound peer's address (a connecting socket that never called `bind`). Printed as
    /// `ipc://`; never produced by parsing.
    Unnamed,
}

impl Endpoint {
    /// Parses an endpoint given to `bind`: `ipc://*` and every path starting with `*` is the
    /// [`Endpoint::Wildcard`].
    ///
    /// ```
    /// use ipc_endpoint::Endpoint;
    /// assert!(matches!(Endpoint::parse_bind("ipc://*"), Ok(Endpoint::Wildcard(_))));
    /// assert!(matches!(Endpoint::parse_bind("ipc:///tmp/x"), Ok(Endpoint::Path(_))));
    /// assert_eq!(Endpoint::parse_bind("ipc://").unwrap_err().errno(), libc::EINVAL);
    /// ```
    pub fn parse_bind(input: &str) -> Result<Endpoint, EndpointError> {
        parse(input, Role::Bind)
    }

    /// Parses an endpoint given to `connect`: `ipc://*` is a literal file named `*`, so the
    /// result is never [`Endpoint::Wildcard`].
    ///
    /// ```
    /// use ipc_endpoint::Endpoint;
    /// let e = Endpoint::parse_connect("ipc://*").unwrap();
    /// assert!(matches!(&e, Endpoint::Path(p) if p.as_bytes() == b"*"));
    /// ```
    pub fn parse_connect(input: &str) -> Result<Endpoint, EndpointError> {
        parse(input, Role::Connect)
    }

    /// The connect reading of a bind-parsed endpoint: a wildcard becomes the literal path it
    /// was spelled with; everything else is unchanged.
    pub fn into_connect(self) -> Endpoint {
        match self {
            Endpoint::Wildcard(w) => Endpoint::Path(w.into_literal_path()),
            other => other,
        }
    }

    /// The endpoint a kernel address stands for (from `local_addr()` or `peer_addr()`).
    ///
    /// Errors as [`SocketPath::new`] or [`AbstractName::new`] for an address that no
    /// `ipc://` string could name (e.g. an abstract name longer than libzmq allows).
    pub fn from_std_addr(addr: &SocketAddr) -> Result<Endpoint, EndpointError> {
        if let Some(path) = addr.as_pathname() {
            return SocketPath::new(path).map(Endpoint::Path);
        }
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            #[cfg(target_os = "android")]
            use std::os::android::net::SocketAddrExt;
            #[cfg(target_os = "linux")]
            use std::os::linux::net::SocketAddrExt;
            if let Some(name) = addr.as_abstract_name() {
                return AbstractName::new(name).map(Endpoint::Abstract);
            }
        }
        Ok(Endpoint::Unnamed)
    }

    /// The address to `bind(2)`/`connect(2)`, for [`Endpoint::Path`] and
    /// [`Endpoint::Abstract`]. `None` for [`Endpoint::Wildcard`] (the transport resolves it to
    /// a path first; see [`wildcard_socket_path`](crate::wildcard_socket_path)) and for
    /// [`Endpoint::Unnamed`].
    pub fn sock_addr(&self) -> Option<SockAddr> {
        match self {
            Endpoint::Path(p) => Some(p.sock_addr()),
            Endpoint::Abstract(n) => Some(n.sock_addr()),
            Endpoint::Wildcard(_) | Endpoint::Unnamed => None,
        }
    }

    /// The same address as a std [`SocketAddr`], for `bind_addr`/`connect_addr` in std and
    /// mio. `None` exactly when [`Endpoint::sock_addr`] is `None`.
    pub fn std_addr(&self) -> Option<io::Result<SocketAddr>> {
        match self {
            Endpoint::Path(p) => Some(p.std_addr()),
            Endpoint::Abstract(n) => Some(n.std_addr()),
            Endpoint::Wildcard(_) | Endpoint::Unnamed => None,
        }
    }
}

fn parse(input: &str, role: Role) -> Result<Endpoint, EndpointError> {
    // libzmq splits at the first `://`; the address may contain more of them.
    let Some((scheme, address)) = input.split_once("://") else {
        return Err(EndpointError::MissingSeparator {
            input: input.to_owned(),
        });
    };
    // libzmq refuses an empty transport or address (EINVAL) before it looks at the name.
    if scheme.is_empty() {
        return Err(EndpointError::MissingTransport {
            input: input.to_owned(),
        });
    }
    let bytes = address.as_bytes();
    if bytes.is_empty() {
        return Err(EndpointError::EmptyPath);
    }
    // Scheme names are case-sensitive in libzmq: `IPC://x` is EPROTONOSUPPORT.
    if scheme != IPC_SCHEME {
        return Err(match NOT_CARRIED.iter().find(|&&known| known == scheme) {
            Some(known) => EndpointError::TransportNotCarried { scheme: known },
            None => EndpointError::UnknownTransport {
                scheme: scheme.to_owned(),
            },
        });
    }
    // Checked here, before the split at `@`, so the offset counts from the first byte after
    // `ipc://`.
    check_no_nul(bytes)?;
    if let Some(name) = bytes.strip_prefix(b"@") {
        return AbstractName::new(name).map(Endpoint::Abstract);
    }
    let path = SocketPath::new(os_str(bytes))?;
    Ok(match role {
        Role::Bind => match Wildcard::from_path(path) {
            Ok(w) => Endpoint::Wildcard(w),
            Err(path) => Endpoint::Path(path),
        },
        Role::Connect => Endpoint::Path(path),
    })
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    /// Same as [`Endpoint::parse_bind`]; use [`Endpoint::parse_connect`] (or
    /// [`Endpoint::into_connect`]) for a connect.
    fn from_str(s: &str) -> Result<Endpoint, EndpointError> {
        Endpoint::parse_bind(s)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ipc://")?;
        match self {
            Endpoint::Path(p) => f.write_str(&String::from_utf8_lossy(p.as_bytes())),
            Endpoint::Abstract(n) => {
                f.write_str("@")?;
                f.write_str(&String::from_utf8_lossy(n.as_bytes()))
            }
            Endpoint::Wildcard(w) => f.write_str(&String::from_utf8_lossy(w.as_bytes())),
            Endpoint::Unnamed => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_may_contain_another_separator() {
        let e = Endpoint::parse_connect("ipc://a://b").unwrap();
        assert_eq!(e.to_string(), "ipc://a://b");
    }

    #[test]
    fn nul_offset_counts_from_after_the_scheme() {
        assert_eq!(
            Endpoint::parse_bind("ipc://@ab\0"),
            Err(EndpointError::EmbeddedNul { offset: 3 })
        );
    }

    #[test]
    fn into_connect_turns_the_wildcard_into_its_literal_path() {
        let w = Endpoint::parse_bind("ipc://*x").unwrap();
        assert!(matches!(w, Endpoint::Wildcard(_)));
        assert_eq!(
            w.into_connect(),
            Endpoint::parse_connect("ipc://*x").unwrap()
        );
    }

    #[test]
    fn unnamed_prints_as_bare_scheme_and_does_not_parse() {
        assert_eq!(Endpoint::Unnamed.to_string(), "ipc://");
        assert_eq!(
            Endpoint::parse_bind("ipc://"),
            Err(EndpointError::EmptyPath)
        );
        assert_eq!(Endpoint::Unnamed.sock_addr(), None);
    }
}
