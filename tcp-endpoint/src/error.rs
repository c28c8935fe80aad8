//! The one error type of this crate.

/// Why a string is not a usable `tcp://` endpoint. `Display` says what is wrong in words;
/// [`TcpEndpointError::errno`] gives the errno a libzmq user would see for the same
/// mistake (EINVAL where libzmq would accept the string and read it leniently).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TcpEndpointError {
    /// No `://` in the string. EINVAL.
    #[error("`{input}` is not an endpoint: it has no `://` (write e.g. `tcp://127.0.0.1:5555`)")]
    NotAnEndpoint {
        /// The string as given.
        input: String,
    },
    /// Another transport, or `tcp` spelled in another case. EPROTONOSUPPORT.
    #[error("`{scheme}://` is not `tcp://` (transport names are lower case)")]
    NotTcp {
        /// The text before `://`.
        scheme: String,
    },
    /// Nothing after `tcp://`. EINVAL.
    #[error("nothing after `tcp://`: write a host and a port, e.g. `tcp://*:5555`")]
    Empty,
    /// A space or control character. EINVAL.
    #[error("the endpoint has a space or control character at byte {offset}")]
    BadCharacter {
        /// Its byte offset in the endpoint string.
        offset: usize,
    },
    /// No `:PORT` after the host, or an empty port. EINVAL.
    #[error("`{endpoint}` has no port: write `HOST:PORT` (`*` as the port to bind any free one)")]
    MissingPort {
        /// The host-and-port part as given.
        endpoint: String,
    },
    /// The port is not a number (or `*`). EINVAL.
    #[error("port `{port}` is not a number from 1 to 65535 (or `*` for any free port)")]
    BadPort {
        /// The port as given.
        port: String,
    },
    /// The port is above 65535. EINVAL.
    #[error("port {port} is out of range: ports go up to 65535")]
    PortOutOfRange {
        /// The port as given.
        port: String,
    },
    /// A connect with port `*` or `0`: there is nothing to connect to. EINVAL.
    #[error("cannot connect to port `{port}`: give the peer's port, 1 to 65535")]
    NoPortToConnectTo {
        /// The port as given.
        port: String,
    },
    /// Nothing before `:PORT`. EINVAL.
    #[error("no host before the port: write an address, a name, or `*` to bind every interface")]
    EmptyHost,
    /// A connect to `*`. EINVAL.
    #[error("cannot connect to `*`: give the peer's address or name")]
    WildcardHostOnConnect,
    /// A host that looks like an IPv6 address (brackets or colons) but is not one, or has
    /// an empty or malformed `%scope`. EINVAL.
    #[error("`{host}` is not an IPv6 address (with an optional `%scope`)")]
    BadAddress {
        /// The host as given.
        host: String,
    },
    /// A name with characters no interface or host name has, or too long. EINVAL.
    #[error("`{name}` is not an interface or host name (letters, digits, `.`, `-`, `_`; at most 253 bytes)")]
    BadName {
        /// The name as given.
        name: String,
    },
    /// `SOURCE;` on a bind (it applies to connects). EINVAL.
    #[error("a source address (`SOURCE;HOST:PORT`) applies to connect, not bind")]
    SourceOnBind,
    /// More than one `;`. EINVAL.
    #[error("more than one `;`: a connect takes at most one source address (`SOURCE;HOST:PORT`)")]
    TwoSources,
    /// The source part of `SOURCE;HOST:PORT` is wrong, and why. EINVAL.
    #[error("the source address `{part}` is wrong: {reason} (write e.g. `127.0.0.1:0;HOST:PORT`)")]
    BadSource {
        /// The source part as given.
        part: String,
        /// What is wrong with it.
        reason: Box<TcpEndpointError>,
    },
}

impl TcpEndpointError {
    /// The errno libzmq sets for the same mistake.
    pub fn errno(&self) -> i32 {
        match self {
            TcpEndpointError::NotTcp { .. } => libc::EPROTONOSUPPORT,
            _ => libc::EINVAL,
        }
    }
}
