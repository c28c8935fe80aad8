//! ZeroMQ `tcp://` endpoint strings parsed into typed parts.
//!
//! ```
//! use tcp_endpoint::{BindEndpoint, ConnectEndpoint, Host, Port};
//!
//! let b = BindEndpoint::parse("tcp://*:*").unwrap();
//! assert_eq!((b.host, b.port), (Host::Any, Port::Ephemeral));
//!
//! let c = ConnectEndpoint::parse("tcp://127.0.0.1:0;[::1]:5555").unwrap();
//! assert_eq!(c.port.get(), 5555);
//! assert_eq!(c.to_string(), "tcp://127.0.0.1:*;[::1]:5555");
//! ```
//!
//! The forms are libzmq's (zmq_tcp(7)). A bind endpoint is `tcp://HOST:PORT` where HOST is
//! `*` (every interface), an IPv4 address, an IPv6 address (bracketed, or bare as libzmq
//! also takes it), or a name (an interface such as `lo` or `eth0`, else a host name), and
//! PORT is a number or `*` (any free port; `0` means the same). A connect endpoint is
//! `tcp://[SOURCE;]HOST:PORT`: HOST may not be `*`, PORT must be a real port, and the
//! optional SOURCE is a bind endpoint the connection is made from.
//!
//! What this crate checks is syntax; what a name means (an interface's address, a DNS
//! lookup) is for the transport to find when it binds or connects. Where libzmq reads
//! garbage leniently, this crate refuses it with an error that says what is wrong: a port
//! with trailing junk (`567bad`), above 65535 (libzmq wraps it round), or empty; a `*` or
//! `0` port to connect to; a source address on a bind (libzmq resolves and ignores it);
//! spaces anywhere. Every error maps to the errno libzmq gives for the same mistake, or
//! EINVAL where libzmq would accept it.

#![forbid(unsafe_code)]

mod error;
pub mod fuzzing;

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::num::{NonZeroU16, NonZeroU32};

pub use error::TcpEndpointError;

/// The longest name accepted as a host: a DNS name's limit (an interface name is shorter).
pub const MAX_NAME_LEN: usize = 253;

/// Where a socket binds or connects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// `*`: every interface (bind and source addresses only).
    Any,
    /// An IPv4 address.
    V4(Ipv4Addr),
    /// An IPv6 address, with the scope (zone) a link-local address needs.
    V6 {
        /// The address.
        addr: Ipv6Addr,
        /// What followed `%`, if anything.
        scope: Option<Scope>,
    },
    /// A name: an interface (`lo`, `eth0`) or a host name, for the transport to look up.
    Name(String),
}

/// An IPv6 scope: an interface index or name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// `%3`.
    Index(NonZeroU32),
    /// `%eth0`.
    Interface(String),
}

/// A port to bind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Port {
    /// `*` or `0`: a free port the system picks; the bound endpoint reports which.
    Ephemeral,
    /// A port number.
    Number(NonZeroU16),
}

/// A parsed bind endpoint (also the form of a connect endpoint's source address).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BindEndpoint {
    /// Where to listen.
    pub host: Host,
    /// On which port.
    pub port: Port,
}

/// A parsed connect endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConnectEndpoint {
    /// The local address to connect from (`tcp://SOURCE;HOST:PORT`), if given.
    pub source: Option<BindEndpoint>,
    /// Where to connect: never [`Host::Any`].
    pub host: Host,
    /// The peer's port.
    pub port: NonZeroU16,
}

const SCHEME: &str = "tcp://";

/// The part after `tcp://`, or the error libzmq gives for a string that is not a tcp
/// endpoint.
fn strip_scheme(input: &str) -> Result<&str, TcpEndpointError> {
    let Some((scheme, rest)) = input.split_once("://") else {
        return Err(TcpEndpointError::NotAnEndpoint {
            input: input.to_string(),
        });
    };
    if scheme != "tcp" {
        return Err(TcpEndpointError::NotTcp {
            scheme: scheme.to_string(),
        });
    }
    if rest.is_empty() {
        return Err(TcpEndpointError::Empty);
    }
    if let Some(at) = rest.find(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(TcpEndpointError::BadCharacter {
            offset: SCHEME.len() + at,
        });
    }
    Ok(rest)
}

impl BindEndpoint {
    /// Parses `tcp://HOST:PORT` for a bind.
    pub fn parse(input: &str) -> Result<BindEndpoint, TcpEndpointError> {
        let rest = strip_scheme(input)?;
        if rest.contains(';') {
            return Err(TcpEndpointError::SourceOnBind);
        }
        parse_bind_part(rest)
    }
}

impl ConnectEndpoint {
    /// Parses `tcp://[SOURCE;]HOST:PORT` for a connect.
    pub fn parse(input: &str) -> Result<ConnectEndpoint, TcpEndpointError> {
        let rest = strip_scheme(input)?;
        let (source, dest) = match rest.split_once(';') {
            Some((_, dst)) if dst.contains(';') => return Err(TcpEndpointError::TwoSources),
            Some((src, dst)) => {
                let source = parse_bind_part(src).map_err(|e| TcpEndpointError::BadSource {
                    part: src.to_string(),
                    reason: Box::new(e),
                })?;
                (Some(source), dst)
            }
            None => (None, rest),
        };
        let (host, port) = split_port(dest)?;
        let host = parse_host(host)?;
        if host == Host::Any {
            return Err(TcpEndpointError::WildcardHostOnConnect);
        }
        let port = match parse_port(port)? {
            Port::Number(n) => n,
            Port::Ephemeral => {
                return Err(TcpEndpointError::NoPortToConnectTo {
                    port: port.to_string(),
                })
            }
        };
        Ok(ConnectEndpoint { source, host, port })
    }
}

fn parse_bind_part(s: &str) -> Result<BindEndpoint, TcpEndpointError> {
    let (host, port) = split_port(s)?;
    Ok(BindEndpoint {
        host: parse_host(host)?,
        port: parse_port(port)?,
    })
}

/// Splits `HOST:PORT` at the last colon (a bare IPv6 address has colons of its own; a
/// bracketed one with nothing after it has no port).
fn split_port(s: &str) -> Result<(&str, &str), TcpEndpointError> {
    match s.rsplit_once(':') {
        Some((host, port)) if !port.is_empty() && !s.ends_with(']') => Ok((host, port)),
        _ => Err(TcpEndpointError::MissingPort {
            endpoint: s.to_string(),
        }),
    }
}

fn parse_port(s: &str) -> Result<Port, TcpEndpointError> {
    if s == "*" {
        return Ok(Port::Ephemeral);
    }
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TcpEndpointError::BadPort {
            port: s.to_string(),
        });
    }
    // All digits: leading zeros are fine (`05555`, as libzmq reads it); too many digits
    // for a u32 is out of range like any other large number.
    let n = s.parse::<u32>().unwrap_or(u32::MAX);
    match u16::try_from(n) {
        Ok(0) => Ok(Port::Ephemeral),
        Ok(n) => Ok(NonZeroU16::new(n).map_or(Port::Ephemeral, Port::Number)),
        Err(_) => Err(TcpEndpointError::PortOutOfRange {
            port: s.to_string(),
        }),
    }
}

fn parse_host(s: &str) -> Result<Host, TcpEndpointError> {
    if s.is_empty() {
        return Err(TcpEndpointError::EmptyHost);
    }
    let bracketed = s.len() >= 2 && s.starts_with('[') && s.ends_with(']');
    let inner = if bracketed { &s[1..s.len() - 1] } else { s };
    if inner == "*" {
        return Ok(Host::Any);
    }
    if let Ok(v4) = inner.parse::<Ipv4Addr>() {
        return Ok(Host::V4(v4));
    }
    if bracketed || inner.contains(':') {
        return parse_v6(inner).ok_or_else(|| TcpEndpointError::BadAddress {
            host: s.to_string(),
        });
    }
    parse_name(inner).map(Host::Name)
}

/// An IPv6 address with an optional `%scope`.
fn parse_v6(s: &str) -> Option<Host> {
    let (addr, scope) = match s.rsplit_once('%') {
        Some((a, z)) => (a, Some(parse_scope(z)?)),
        None => (s, None),
    };
    Some(Host::V6 {
        addr: addr.parse().ok()?,
        scope,
    })
}

fn parse_scope(z: &str) -> Option<Scope> {
    if z.bytes().all(|b| b.is_ascii_digit()) {
        return z.parse().ok().and_then(NonZeroU32::new).map(Scope::Index);
    }
    parse_name(z).ok().map(Scope::Interface)
}

/// An interface or host name: letters, digits, `.`, `-` and `_`, not starting with `.`
/// or `-`, at most [`MAX_NAME_LEN`] bytes.
fn parse_name(s: &str) -> Result<String, TcpEndpointError> {
    let ok = !s.is_empty()
        && s.len() <= MAX_NAME_LEN
        && !s.starts_with(['.', '-'])
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(TcpEndpointError::BadName {
            name: s.to_string(),
        })
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Any => f.write_str("*"),
            Host::V4(a) => write!(f, "{a}"),
            Host::V6 { addr, scope: None } => write!(f, "[{addr}]"),
            Host::V6 {
                addr,
                scope: Some(Scope::Index(i)),
            } => write!(f, "[{addr}%{i}]"),
            Host::V6 {
                addr,
                scope: Some(Scope::Interface(n)),
            } => write!(f, "[{addr}%{n}]"),
            Host::Name(n) => f.write_str(n),
        }
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Port::Ephemeral => f.write_str("*"),
            Port::Number(n) => write!(f, "{n}"),
        }
    }
}

impl BindEndpoint {
    /// `HOST:PORT` without the scheme (the form a source address takes).
    fn write_part(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl fmt::Display for BindEndpoint {
    /// The canonical form: `tcp://HOST:PORT`, IPv6 bracketed, `*` for any host or port.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SCHEME)?;
        self.write_part(f)
    }
}

impl fmt::Display for ConnectEndpoint {
    /// The canonical form: `tcp://[SOURCE;]HOST:PORT`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(SCHEME)?;
        if let Some(src) = &self.source {
            src.write_part(f)?;
            f.write_str(";")?;
        }
        write!(f, "{}:{}", self.host, self.port)
    }
}
