//! Transport settings (the options a libzmq user sets with setsockopt) and monitor events.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use zmtp_codec::{HeartbeatConfig, Security, SocketType, ZapStatus};

use crate::{AccessFilter, BindOptions, PeerCred};

/// Everything the transport needs to know about its socket. New connections take the values
/// current when they start, as in libzmq.
#[derive(Debug, Clone)]
pub struct Config {
    /// Our socket type, sent in READY and checked against the peer's.
    pub socket_type: SocketType,
    /// ROUTING_ID sent in READY by REQ, DEALER and ROUTER.
    pub routing_id: Bytes,
    /// SNDHWM: messages queued per pipe before sending blocks or drops (0: no limit).
    pub sndhwm: usize,
    /// RCVHWM: messages queued per pipe before reading from it pauses (0: no limit);
    /// what the caller took ahead counts too ([`crate::Engine::lock_holding`]).
    pub rcvhwm: usize,
    /// IMMEDIATE: queue messages only to completed connections.
    pub immediate: bool,
    /// RECONNECT_IVL (`None`: never reconnect).
    pub reconnect_ivl: Option<Duration>,
    /// RECONNECT_IVL_MAX (`None`: no exponential back-off).
    pub reconnect_ivl_max: Option<Duration>,
    /// HANDSHAKE_IVL (`None`: no limit).
    pub handshake_ivl: Option<Duration>,
    /// HEARTBEAT_IVL, HEARTBEAT_TIMEOUT, HEARTBEAT_TTL.
    pub heartbeat: HeartbeatConfig,
    /// MAXMSGSIZE, applied to every frame (`None`: unlimited).
    pub max_msg_size: Option<u64>,
    /// CONFLATE: outgoing queues keep only the newest message.
    pub conflate: bool,
    /// Bind options: exclusive, file mode, backlog.
    pub bind: BindOptions,
    /// Access filter for accepted peers.
    pub filter: AccessFilter,
    /// The options of `tcp://` listeners and connections.
    pub tcp: TcpOptions,
    /// The security mechanism and role of new connections (PLAIN_SERVER,
    /// PLAIN_USERNAME/PLAIN_PASSWORD; NULL by default). Not used over `inproc://`.
    pub security: Security,
    /// ZAP_DOMAIN: sent to the authenticator; with NULL, a non-empty domain makes every
    /// connection ask it.
    pub zap_domain: Bytes,
    /// ZAP_ENFORCE_DOMAIN: with no authenticator installed, a NULL socket with a domain
    /// refuses its peers instead of admitting them.
    pub zap_enforce_domain: bool,
}

/// The options of `tcp://` sockets, with libzmq's names and defaults (`Default`: everything
/// as the system has it). Each applies to the listeners bound and connections made after
/// it is set; none applies to `ipc://`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TcpOptions {
    /// TCP_KEEPALIVE: SO_KEEPALIVE on (`Some(true)`), off (`Some(false)`), or as the
    /// system has it (`None`, the default).
    pub keepalive: Option<bool>,
    /// TCP_KEEPALIVE_IDLE: idle time before the first probe (TCP_KEEPIDLE), when keepalive
    /// is on; `None`: the system's.
    pub keepalive_idle: Option<Duration>,
    /// TCP_KEEPALIVE_CNT: unanswered probes before the connection is dropped
    /// (TCP_KEEPCNT), when keepalive is on; `None`: the system's.
    pub keepalive_cnt: Option<u32>,
    /// TCP_KEEPALIVE_INTVL: time between probes (TCP_KEEPINTVL), when keepalive is on;
    /// `None`: the system's.
    pub keepalive_intvl: Option<Duration>,
    /// TCP_MAXRT: how long sent data may stay unacknowledged before the connection is
    /// dropped (Linux's TCP_USER_TIMEOUT); `None`: the system's.
    pub maxrt: Option<Duration>,
    /// SNDBUF: the kernel's send buffer (SO_SNDBUF); `None`: the system's.
    pub sndbuf: Option<usize>,
    /// RCVBUF: the kernel's receive buffer (SO_RCVBUF); `None`: the system's.
    pub rcvbuf: Option<usize>,
    /// TOS: the IP type-of-service byte of outgoing packets (IP_TOS, IPV6_TCLASS); 0, the
    /// default, leaves it alone.
    pub tos: u8,
    /// BINDTODEVICE: the interface every socket is bound to (SO_BINDTODEVICE, which needs
    /// CAP_NET_RAW); `None`: any.
    pub bind_to_device: Option<String>,
    /// IPV6: a `*` bind listens on IPv6 and IPv4 both, interface names and host names may
    /// resolve to IPv6 addresses. Bracketed IPv6 literals work either way.
    pub ipv6: bool,
    /// CONNECT_TIMEOUT: how long a TCP connect may take before it is abandoned and tried
    /// again; `None`: as long as the system lets it.
    pub connect_timeout: Option<Duration>,
}

impl Config {
    /// libzmq's defaults for `socket_type`.
    pub fn new(socket_type: SocketType) -> Config {
        Config {
            socket_type,
            routing_id: Bytes::new(),
            sndhwm: 1000,
            rcvhwm: 1000,
            immediate: false,
            reconnect_ivl: Some(Duration::from_millis(100)),
            reconnect_ivl_max: None,
            handshake_ivl: Some(Duration::from_secs(30)),
            heartbeat: HeartbeatConfig::default(),
            max_msg_size: None,
            conflate: false,
            bind: BindOptions::default(),
            filter: AccessFilter::default(),
            tcp: TcpOptions::default(),
            security: Security::Null,
            zap_domain: Bytes::new(),
            zap_enforce_domain: false,
        }
    }
}

/// A system error number, shown by name: `ECONNREFUSED (Connection refused)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

impl Errno {
    /// The symbolic name (`ECONNREFUSED`), for the errors sockets meet; `None` for others.
    pub fn name(self) -> Option<&'static str> {
        ERRNO_NAMES
            .iter()
            .find(|(n, _)| *n == self.0)
            .map(|(_, name)| *name)
    }

    /// The error of an I/O failure (EIO when it carries no system error: a name that did
    /// not resolve, which says more in its own message).
    pub(crate) fn of(e: &std::io::Error) -> Errno {
        Errno(e.raw_os_error().unwrap_or(libc::EIO))
    }
}

impl std::fmt::Display for Errno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = std::io::Error::from_raw_os_error(self.0).to_string();
        // std's text ends with " (os error N)": the name says that already.
        let text = text.split(" (os error").next().unwrap_or(&text);
        match self.name() {
            Some(name) => write!(f, "{name} ({text})"),
            None => write!(f, "errno {} ({text})", self.0),
        }
    }
}

/// The errnos a socket's events carry, by name.
const ERRNO_NAMES: &[(i32, &str)] = &[
    (libc::EPERM, "EPERM"),
    (libc::ENOENT, "ENOENT"),
    (libc::EINTR, "EINTR"),
    (libc::EIO, "EIO"),
    (libc::EBADF, "EBADF"),
    (libc::EAGAIN, "EAGAIN"),
    (libc::ENOMEM, "ENOMEM"),
    (libc::EACCES, "EACCES"),
    (libc::ENOTDIR, "ENOTDIR"),
    (libc::EISDIR, "EISDIR"),
    (libc::EINVAL, "EINVAL"),
    (libc::ENFILE, "ENFILE"),
    (libc::EMFILE, "EMFILE"),
    (libc::ENOSPC, "ENOSPC"),
    (libc::EROFS, "EROFS"),
    (libc::EPIPE, "EPIPE"),
    (libc::ENAMETOOLONG, "ENAMETOOLONG"),
    (libc::ELOOP, "ELOOP"),
    (libc::ENODEV, "ENODEV"),
    (libc::EPROTO, "EPROTO"),
    (libc::ENOTSOCK, "ENOTSOCK"),
    (libc::EPROTONOSUPPORT, "EPROTONOSUPPORT"),
    (libc::EAFNOSUPPORT, "EAFNOSUPPORT"),
    (libc::EADDRINUSE, "EADDRINUSE"),
    (libc::EADDRNOTAVAIL, "EADDRNOTAVAIL"),
    (libc::ENETDOWN, "ENETDOWN"),
    (libc::ENETUNREACH, "ENETUNREACH"),
    (libc::ECONNABORTED, "ECONNABORTED"),
    (libc::ECONNRESET, "ECONNRESET"),
    (libc::ENOBUFS, "ENOBUFS"),
    (libc::ENOTCONN, "ENOTCONN"),
    (libc::ETIMEDOUT, "ETIMEDOUT"),
    (libc::ECONNREFUSED, "ECONNREFUSED"),
    (libc::EHOSTDOWN, "EHOSTDOWN"),
    (libc::EHOSTUNREACH, "EHOSTUNREACH"),
    (libc::EPROTOTYPE, "EPROTOTYPE"),
    (libc::ENOPROTOOPT, "ENOPROTOOPT"),
];

/// What happened to an endpoint or connection (libzmq's socket monitor events).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TransportEvent {
    /// A bind succeeded; `endpoint` is the resolved one.
    Listening {
        /// The endpoint.
        endpoint: String,
    },
    /// A bind failed.
    BindFailed {
        /// The endpoint as given.
        endpoint: String,
        /// Why.
        errno: Errno,
    },
    /// A connection was accepted.
    Accepted {
        /// The listener's endpoint.
        endpoint: String,
        /// The peer's credentials (ipc).
        peer: Option<PeerCred>,
        /// The peer's address and port (tcp).
        peer_addr: Option<SocketAddr>,
    },
    /// accept failed for lack of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM); retrying later.
    AcceptFailed {
        /// The listener's endpoint.
        endpoint: String,
        /// Why.
        errno: Errno,
        /// When the next attempt is made.
        retry_in: Duration,
    },
    /// An accepted peer failed the access filter and was closed before any byte was sent.
    AccessRejected {
        /// The listener's endpoint.
        endpoint: String,
        /// The peer's credentials (ipc).
        peer: Option<PeerCred>,
        /// The peer's address and port (tcp).
        peer_addr: Option<SocketAddr>,
    },
    /// A connect is in progress (tcp; an ipc connect completes or fails at once).
    ConnectDelayed {
        /// The endpoint.
        endpoint: String,
    },
    /// A connect succeeded at the socket level.
    Connected {
        /// The endpoint.
        endpoint: String,
        /// The peer's credentials (ipc).
        peer: Option<PeerCred>,
        /// The peer's address and port (tcp).
        peer_addr: Option<SocketAddr>,
    },
    /// The next connect attempt is scheduled (libzmq's CONNECT_RETRIED): after an attempt
    /// failed (or, with CONNECT_TIMEOUT, took too long: ETIMEDOUT), or after the connection
    /// was lost or failed its handshake (the `Disconnected` or `HandshakeFailed` before it
    /// says why).
    ConnectRetried {
        /// The endpoint.
        endpoint: String,
        /// Why the attempt failed; `None` when no attempt failed (the connection was lost).
        errno: Option<Errno>,
        /// The delay before the next attempt.
        delay: Duration,
    },
    /// The ZMTP handshake completed.
    HandshakeSucceeded {
        /// The endpoint.
        endpoint: String,
        /// The peer's credentials (ipc).
        peer: Option<PeerCred>,
        /// The peer's address and port (tcp).
        peer_addr: Option<SocketAddr>,
    },
    /// The ZMTP handshake failed; the connection is closed.
    HandshakeFailed {
        /// The endpoint.
        endpoint: String,
        /// The peer's credentials (ipc).
        peer: Option<PeerCred>,
        /// The peer's address and port (tcp).
        peer_addr: Option<SocketAddr>,
        /// What went wrong.
        reason: String,
        /// When authentication refused the peer (our authenticator) or us (the peer's
        /// ERROR): the ZAP status code, as libzmq's HANDSHAKE_FAILED_AUTH gives it.
        auth: Option<ZapStatus>,
    },
    /// An established connection closed.
    Disconnected {
        /// The endpoint.
        endpoint: String,
        /// The peer's credentials (ipc).
        peer: Option<PeerCred>,
        /// The peer's address and port (tcp).
        peer_addr: Option<SocketAddr>,
        /// Why (end of file, protocol error, heartbeat timeout...).
        reason: String,
    },
    /// A listener or connector was closed (unbind, disconnect, socket close), or a
    /// connector with RECONNECT_IVL off gave up: its attempt failed, or its connection was
    /// lost or failed its handshake (once: no second `Closed` when it is disconnected
    /// later).
    Closed {
        /// The endpoint.
        endpoint: String,
    },
}

impl std::fmt::Display for TransportEvent {
    /// One line in words, naming the peer where known and errors by name.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let peer = |f: &mut std::fmt::Formatter<'_>,
                    cred: &Option<PeerCred>,
                    addr: &Option<SocketAddr>| {
            match (addr, cred) {
                (Some(a), _) => write!(f, " (peer {a})"),
                (None, Some(c)) => write!(f, " (peer pid {} uid {} gid {})", c.pid, c.uid, c.gid),
                (None, None) => Ok(()),
            }
        };
        match self {
            TransportEvent::Listening { endpoint } => write!(f, "listening on {endpoint}"),
            TransportEvent::BindFailed { endpoint, errno } => {
                write!(f, "bind to {endpoint} failed: {errno}")
            }
            TransportEvent::Accepted {
                endpoint,
                peer: c,
                peer_addr: a,
            } => {
                write!(f, "accepted a connection on {endpoint}")?;
                peer(f, c, a)
            }
            TransportEvent::AcceptFailed {
                endpoint,
                errno,
                retry_in,
            } => write!(
                f,
                "accept on {endpoint} failed: {errno}; trying again in {retry_in:?}"
            ),
            TransportEvent::AccessRejected {
                endpoint,
                peer: c,
                peer_addr: a,
            } => {
                write!(f, "refused a peer on {endpoint} (access filter)")?;
                peer(f, c, a)
            }
            TransportEvent::ConnectDelayed { endpoint } => {
                write!(f, "connecting to {endpoint}")
            }
            TransportEvent::Connected {
                endpoint,
                peer: c,
                peer_addr: a,
            } => {
                write!(f, "connected to {endpoint}")?;
                peer(f, c, a)
            }
            TransportEvent::ConnectRetried {
                endpoint,
                errno,
                delay,
            } => match errno {
                Some(e) => write!(
                    f,
                    "connect to {endpoint} failed: {e}; trying again in {delay:?}"
                ),
                None => write!(f, "reconnecting to {endpoint} in {delay:?}"),
            },
            TransportEvent::HandshakeSucceeded {
                endpoint,
                peer: c,
                peer_addr: a,
            } => {
                write!(f, "handshake done on {endpoint}")?;
                peer(f, c, a)
            }
            TransportEvent::HandshakeFailed {
                endpoint,
                peer: c,
                peer_addr: a,
                reason,
                auth: _,
            } => {
                write!(f, "handshake failed on {endpoint}")?;
                peer(f, c, a)?;
                write!(f, ": {reason}")
            }
            TransportEvent::Disconnected {
                endpoint,
                peer: c,
                peer_addr: a,
                reason,
            } => {
                write!(f, "disconnected from {endpoint}")?;
                peer(f, c, a)?;
                write!(f, ": {reason}")
            }
            TransportEvent::Closed { endpoint } => write!(f, "closed {endpoint}"),
        }
    }
}
