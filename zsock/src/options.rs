//! Socket options with libzmq's names, defaults, ranges and meanings.

use std::time::Duration;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::SocketType;

/// One socket option and its value, as `zmq_setsockopt` takes them. Integer values use
/// libzmq's conventions (milliseconds; -1 for "infinite" or "off" where libzmq has it).
/// An option of some socket types only (SUBSCRIBE, ROUTER_*, REQ_*, XPUB_*,
/// CONNECT_ROUTING_ID) fails with EINVAL on any other type, as in libzmq; REP takes
/// ROUTER's and PUB XPUB's, as libzmq's do.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocketOption {
    /// ZMQ_SNDHWM: messages queued per peer before send blocks or drops (0: no limit).
    SndHwm(i32),
    /// ZMQ_RCVHWM: messages queued per peer before reading from it pauses (0: no limit);
    /// messages the socket took ahead and has not handed out yet count too, and so do an
    /// XPUB's subscription messages not yet received. Under any mark but 0, a peer is
    /// also read no further while its queued messages come to 4 MiB, counting a few
    /// dozen bytes per frame besides the frames' bytes, so that a peer's empty frames
    /// count too ([`crate::READ_AHEAD_MAX`]; the rest waits in the kernel and the sender's
    /// queue, as with libzmq's HWMs, which are never exact). With MAXMSGSIZE it bounds
    /// what a peer can make the socket hold: ipc-transport's crate docs give the whole
    /// bound (queued messages never keep alive more than `ipc_transport::PIN_FACTOR`
    /// times their own size of read buffers).
    RcvHwm(i32),
    /// ZMQ_LINGER: how long close keeps sending queued messages, in ms (-1: until done).
    Linger(i32),
    /// ZMQ_RCVTIMEO: how long a blocking receive waits, in ms (-1: forever).
    RcvTimeo(i32),
    /// ZMQ_SNDTIMEO: how long a blocking send waits, in ms (-1: forever).
    SndTimeo(i32),
    /// ZMQ_ROUTING_ID: the name this socket gives itself in READY (1 to 255 bytes).
    RoutingId(Bytes),
    /// ZMQ_CONNECT_ROUTING_ID: the routing id a ROUTER gives the peer of its next connect.
    ConnectRoutingId(Bytes),
    /// ZMQ_SUBSCRIBE: SUB receives messages starting with this prefix.
    Subscribe(Bytes),
    /// ZMQ_UNSUBSCRIBE: removes one SUBSCRIBE of the same prefix.
    Unsubscribe(Bytes),
    /// ZMQ_ROUTER_MANDATORY: unroutable messages fail with EHOSTUNREACH, full peers with
    /// EAGAIN, instead of being dropped.
    RouterMandatory(bool),
    /// ZMQ_ROUTER_HANDOVER: a new peer with a taken routing id takes it over. The old peer
    /// stays connected but muted, as in libzmq: nothing is routed to it and what it sends
    /// is dropped (it is not disconnected, so it does not reconnect to take the id back).
    RouterHandover(bool),
    /// ZMQ_REQ_RELAXED: REQ may send a new request before the reply came.
    ReqRelaxed(bool),
    /// ZMQ_REQ_CORRELATE: REQ tags requests and accepts only the matching reply.
    ReqCorrelate(bool),
    /// ZMQ_XPUB_VERBOSE: XPUB passes up every subscription, not only new topics.
    XpubVerbose(bool),
    /// ZMQ_XPUB_NODROP: XPUB/PUB send fails with EAGAIN instead of dropping at HWM.
    XpubNodrop(bool),
    /// ZMQ_CONFLATE: keep only the newest message, in both directions.
    Conflate(bool),
    /// ZMQ_IMMEDIATE: queue messages only to completed connections.
    Immediate(bool),
    /// ZMQ_RECONNECT_IVL in ms (-1 or 0: never reconnect).
    ReconnectIvl(i32),
    /// ZMQ_RECONNECT_IVL_MAX in ms (0: no exponential back-off).
    ReconnectIvlMax(i32),
    /// ZMQ_HANDSHAKE_IVL in ms (0: no limit).
    HandshakeIvl(i32),
    /// ZMQ_HEARTBEAT_IVL in ms (0: off).
    HeartbeatIvl(i32),
    /// ZMQ_HEARTBEAT_TTL in ms, sent in deciseconds (0 to 6553599).
    HeartbeatTtl(i32),
    /// ZMQ_HEARTBEAT_TIMEOUT in ms (0: the heartbeat interval).
    HeartbeatTimeout(i32),
    /// ZMQ_MAXMSGSIZE in bytes, for every frame and command, as in libzmq (-1:
    /// unlimited). A peer that sends a larger frame is disconnected. It also bounds a
    /// connection's read buffers (see [`SocketOption::RcvHwm`]).
    MaxMsgSize(i64),
    /// ZMQ_BACKLOG: listen(2)'s backlog.
    Backlog(i32),
    /// ZMQ_IPC_FILTER_UID: accept peers with this uid (repeatable; any list passing admits).
    IpcFilterUid(u32),
    /// ZMQ_IPC_FILTER_GID: accept peers with this primary or supplementary group.
    IpcFilterGid(u32),
    /// ZMQ_IPC_FILTER_PID: accept peers with this pid.
    IpcFilterPid(i32),
    /// zsock: the mode of socket files this socket binds (e.g. 0o600), applied before the
    /// path becomes visible. `None`: the umask decides. Binds that make no file (abstract
    /// names, `tcp://`, `inproc://`) ignore it, as they ignore the other ipc options.
    IpcFileMode(Option<u32>),
    /// zsock: refuse to bind over a socket file that a live process answers on (the error
    /// names its pid and uid) instead of taking it over.
    IpcExclusiveBind(bool),
    /// ZMQ_IPV6: a `tcp://*` bind listens on IPv6 and IPv4 both, and interface and host
    /// names may resolve to IPv6 addresses (IPv6 first). Bracketed IPv6 addresses work
    /// without it (libzmq needs it for them). Default off.
    Ipv6(bool),
    /// ZMQ_CONNECT_TIMEOUT in ms: a `tcp://` connect not done by then is given up and
    /// tried again after the reconnect interval (0, the default: the system's limit).
    ConnectTimeout(i32),
    /// ZMQ_TCP_KEEPALIVE: SO_KEEPALIVE on `tcp://` connections: 1 on, 0 off, -1 (the
    /// default) the system's setting.
    TcpKeepalive(i32),
    /// ZMQ_TCP_KEEPALIVE_IDLE in seconds before the first probe (-1: the system's).
    TcpKeepaliveIdle(i32),
    /// ZMQ_TCP_KEEPALIVE_CNT: unanswered probes before the connection is dropped (-1:
    /// the system's).
    TcpKeepaliveCnt(i32),
    /// ZMQ_TCP_KEEPALIVE_INTVL in seconds between probes (-1: the system's).
    TcpKeepaliveIntvl(i32),
    /// ZMQ_TCP_MAXRT in ms: how long sent data may go unacknowledged before the
    /// connection is dropped (Linux's TCP_USER_TIMEOUT; 0, the default: the system's).
    TcpMaxrt(i32),
    /// ZMQ_SNDBUF: the kernel send buffer of `tcp://` sockets, in bytes (-1: the system's).
    SndBuf(i32),
    /// ZMQ_RCVBUF: the kernel receive buffer of `tcp://` sockets, in bytes (-1: the
    /// system's).
    RcvBuf(i32),
    /// ZMQ_TOS: the IP type-of-service byte of `tcp://` packets (0, the default: unset).
    Tos(i32),
    /// ZMQ_BINDTODEVICE: bind `tcp://` sockets to this interface (SO_BINDTODEVICE, which
    /// needs CAP_NET_RAW on older kernels); empty: any interface.
    BindToDevice(String),
    /// ZMQ_PLAIN_SERVER: 1 makes the socket a PLAIN server (24/ZMTP-PLAIN): every
    /// connecting peer's user name and password go to the context's authenticator
    /// ([`Context::set_authenticator`](crate::Context::set_authenticator)) or, without
    /// one, to a ZAP handler socket bound at `inproc://zeromq.zap.01`; with neither, every
    /// peer is refused, as in libzmq. 0 goes back to NULL.
    PlainServer(bool),
    /// ZMQ_PLAIN_USERNAME: makes the socket a PLAIN client sending this user name (1 to
    /// 255 bytes); empty goes back to NULL.
    PlainUsername(Bytes),
    /// ZMQ_PLAIN_PASSWORD: the PLAIN client's password (at most 255 bytes); makes the
    /// socket a PLAIN client as PLAIN_USERNAME does.
    PlainPassword(Secret),
    /// ZMQ_ZAP_DOMAIN: the domain the authenticator is told (at most 255 bytes). With the
    /// NULL mechanism, a non-empty domain makes the socket ask the authenticator about each
    /// peer (admitting them all when there is none, unless ZAP_ENFORCE_DOMAIN).
    ZapDomain(Bytes),
    /// ZMQ_ZAP_ENFORCE_DOMAIN: a NULL socket with a ZAP domain refuses its peers when the
    /// context has no authenticator (libzmq's strict mode), and so does a CURVE server.
    /// Default off.
    ZapEnforceDomain(bool),
    /// ZMQ_CURVE_SERVER: 1 makes the socket a CURVE server (26/CurveZMQ), which needs
    /// CURVE_SECRETKEY; every client's public key goes to the context's authenticator,
    /// and without one every client that knows the server's public key is admitted (as in
    /// libzmq). 0 goes back to NULL.
    CurveServer(bool),
    /// ZMQ_CURVE_PUBLICKEY: this socket's long-term public key, 32 bytes or 40 characters
    /// of Z85 (a client derives it from CURVE_SECRETKEY when it is not set).
    CurvePublicKey(Bytes),
    /// ZMQ_CURVE_SECRETKEY: this socket's long-term secret key, 32 bytes or 40 characters
    /// of Z85; kept zeroed-on-drop.
    CurveSecretKey(Secret),
    /// ZMQ_CURVE_SERVERKEY: makes the socket a CURVE client of the server with this
    /// public key (32 bytes or 40 characters of Z85); it also needs CURVE_SECRETKEY.
    CurveServerKey(Bytes),
}

/// A password or secret key given as an option: `Debug` never shows it (options get
/// logged). Made from bytes or text with `.into()`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Bytes);

impl Secret {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl From<Bytes> for Secret {
    fn from(b: Bytes) -> Secret {
        Secret(b)
    }
}

impl From<Vec<u8>> for Secret {
    fn from(b: Vec<u8>) -> Secret {
        Secret(b.into())
    }
}

impl From<&[u8]> for Secret {
    fn from(b: &[u8]) -> Secret {
        Secret(Bytes::copy_from_slice(b))
    }
}

impl From<String> for Secret {
    fn from(s: String) -> Secret {
        Secret(s.into())
    }
}

/// A key pair's secret half as [`curve_keypair`](crate::curve_keypair) gives it.
impl From<&zeroize::Zeroizing<String>> for Secret {
    fn from(s: &zeroize::Zeroizing<String>) -> Secret {
        Secret(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Secret {
        Secret(Bytes::copy_from_slice(s.as_bytes()))
    }
}

/// The option names [`SocketOption::parse`] takes (lower case, libzmq's without `ZMQ_`).
pub const OPTION_NAMES: &[&str] = &[
    "sndhwm",
    "rcvhwm",
    "linger",
    "rcvtimeo",
    "sndtimeo",
    "routing_id",
    "connect_routing_id",
    "subscribe",
    "unsubscribe",
    "router_mandatory",
    "router_handover",
    "req_relaxed",
    "req_correlate",
    "xpub_verbose",
    "xpub_nodrop",
    "conflate",
    "immediate",
    "reconnect_ivl",
    "reconnect_ivl_max",
    "handshake_ivl",
    "heartbeat_ivl",
    "heartbeat_ttl",
    "heartbeat_timeout",
    "maxmsgsize",
    "backlog",
    "ipc_filter_uid",
    "ipc_filter_gid",
    "ipc_filter_pid",
    "ipc_file_mode",
    "ipc_exclusive_bind",
    "ipv6",
    "ipv4only",
    "connect_timeout",
    "tcp_keepalive",
    "tcp_keepalive_idle",
    "tcp_keepalive_cnt",
    "tcp_keepalive_intvl",
    "tcp_maxrt",
    "sndbuf",
    "rcvbuf",
    "tos",
    "bindtodevice",
    "plain_server",
    "plain_username",
    "plain_password",
    "zap_domain",
    "zap_enforce_domain",
    "curve_server",
    "curve_publickey",
    "curve_secretkey",
    "curve_serverkey",
];

fn int<T: std::str::FromStr>(name: &str, v: &str) -> Result<T> {
    v.trim()
        .parse()
        .map_err(|_| Error::invalid(format!("option {name}: `{v}` is not a valid number")))
}

fn boolean(name: &str, v: &str) -> Result<bool> {
    match v.trim() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" => Ok(false),
        _ => Err(Error::invalid(format!(
            "option {name}: `{v}` is not a boolean (use 1/0, true/false)"
        ))),
    }
}

impl SocketOption {
    /// For an option of some socket types only: its libzmq name and those types. libzmq
    /// refuses it on any other type with EINVAL; so does [`Socket::set`]. (REP takes
    /// ROUTER's options and PUB XPUB's, as in libzmq, where they are built on them.)
    ///
    /// [`Socket::set`]: crate::Socket::set
    pub(crate) fn socket_types(&self) -> Option<(&'static str, &'static [SocketType])> {
        use SocketType::{Pub, Rep, Req, Router, Sub, XPub};
        Some(match self {
            SocketOption::Subscribe(_) => ("SUBSCRIBE", &[Sub]),
            SocketOption::Unsubscribe(_) => ("UNSUBSCRIBE", &[Sub]),
            SocketOption::RouterMandatory(_) => ("ROUTER_MANDATORY", &[Router, Rep]),
            SocketOption::RouterHandover(_) => ("ROUTER_HANDOVER", &[Router, Rep]),
            SocketOption::ConnectRoutingId(_) => ("CONNECT_ROUTING_ID", &[Router, Rep]),
            SocketOption::ReqRelaxed(_) => ("REQ_RELAXED", &[Req]),
            SocketOption::ReqCorrelate(_) => ("REQ_CORRELATE", &[Req]),
            SocketOption::XpubVerbose(_) => ("XPUB_VERBOSE", &[XPub, Pub]),
            SocketOption::XpubNodrop(_) => ("XPUB_NODROP", &[XPub, Pub]),
            _ => return None,
        })
    }

    /// Parses `name` and a textual `value` (numbers in decimal, file modes in octal,
    /// booleans as 1/0/true/false, byte strings as given) — what zcat's flags take.
    pub fn parse(name: &str, value: &str) -> Result<SocketOption> {
        let n = name.trim().to_ascii_lowercase().replace('-', "_");
        let n = n.strip_prefix("zmq_").unwrap_or(&n);
        let bytes = || Bytes::copy_from_slice(value.as_bytes());
        Ok(match n {
            "sndhwm" => SocketOption::SndHwm(int(n, value)?),
            "rcvhwm" => SocketOption::RcvHwm(int(n, value)?),
            "linger" => SocketOption::Linger(int(n, value)?),
            "rcvtimeo" => SocketOption::RcvTimeo(int(n, value)?),
            "sndtimeo" => SocketOption::SndTimeo(int(n, value)?),
            "routing_id" | "identity" => SocketOption::RoutingId(bytes()),
            "connect_routing_id" => SocketOption::ConnectRoutingId(bytes()),
            "subscribe" => SocketOption::Subscribe(bytes()),
            "unsubscribe" => SocketOption::Unsubscribe(bytes()),
            "router_mandatory" => SocketOption::RouterMandatory(boolean(n, value)?),
            "router_handover" => SocketOption::RouterHandover(boolean(n, value)?),
            "req_relaxed" => SocketOption::ReqRelaxed(boolean(n, value)?),
            "req_correlate" => SocketOption::ReqCorrelate(boolean(n, value)?),
            "xpub_verbose" => SocketOption::XpubVerbose(boolean(n, value)?),
            "xpub_nodrop" => SocketOption::XpubNodrop(boolean(n, value)?),
            "conflate" => SocketOption::Conflate(boolean(n, value)?),
            "immediate" => SocketOption::Immediate(boolean(n, value)?),
            "reconnect_ivl" => SocketOption::ReconnectIvl(int(n, value)?),
            "reconnect_ivl_max" => SocketOption::ReconnectIvlMax(int(n, value)?),
            "handshake_ivl" => SocketOption::HandshakeIvl(int(n, value)?),
            "heartbeat_ivl" => SocketOption::HeartbeatIvl(int(n, value)?),
            "heartbeat_ttl" => SocketOption::HeartbeatTtl(int(n, value)?),
            "heartbeat_timeout" => SocketOption::HeartbeatTimeout(int(n, value)?),
            "maxmsgsize" => SocketOption::MaxMsgSize(int(n, value)?),
            "backlog" => SocketOption::Backlog(int(n, value)?),
            "ipc_filter_uid" | "filter_uid" => SocketOption::IpcFilterUid(int(n, value)?),
            "ipc_filter_gid" | "filter_gid" => SocketOption::IpcFilterGid(int(n, value)?),
            "ipc_filter_pid" | "filter_pid" => SocketOption::IpcFilterPid(int(n, value)?),
            "ipc_file_mode" | "mode" => {
                let v = value.trim();
                if v.is_empty() || v == "none" {
                    SocketOption::IpcFileMode(None)
                } else {
                    let m = u32::from_str_radix(v.trim_start_matches("0o"), 8).map_err(|_| {
                        Error::invalid(format!("option {n}: `{v}` is not an octal file mode"))
                    })?;
                    SocketOption::IpcFileMode(Some(m))
                }
            }
            "ipc_exclusive_bind" | "exclusive_bind" => {
                SocketOption::IpcExclusiveBind(boolean(n, value)?)
            }
            "ipv6" => SocketOption::Ipv6(boolean(n, value)?),
            "ipv4only" => SocketOption::Ipv6(!boolean(n, value)?),
            "connect_timeout" => SocketOption::ConnectTimeout(int(n, value)?),
            "tcp_keepalive" => SocketOption::TcpKeepalive(int(n, value)?),
            "tcp_keepalive_idle" => SocketOption::TcpKeepaliveIdle(int(n, value)?),
            "tcp_keepalive_cnt" => SocketOption::TcpKeepaliveCnt(int(n, value)?),
            "tcp_keepalive_intvl" => SocketOption::TcpKeepaliveIntvl(int(n, value)?),
            "tcp_maxrt" => SocketOption::TcpMaxrt(int(n, value)?),
            "sndbuf" => SocketOption::SndBuf(int(n, value)?),
            "rcvbuf" => SocketOption::RcvBuf(int(n, value)?),
            "tos" => SocketOption::Tos(int(n, value)?),
            "bindtodevice" | "bind_to_device" => SocketOption::BindToDevice(value.to_string()),
            "plain_server" => SocketOption::PlainServer(boolean(n, value)?),
            "plain_username" => SocketOption::PlainUsername(bytes()),
            "plain_password" => SocketOption::PlainPassword(bytes().into()),
            "zap_domain" => SocketOption::ZapDomain(bytes()),
            "zap_enforce_domain" => SocketOption::ZapEnforceDomain(boolean(n, value)?),
            "curve_server" => SocketOption::CurveServer(boolean(n, value)?),
            "curve_publickey" => SocketOption::CurvePublicKey(bytes()),
            "curve_secretkey" => SocketOption::CurveSecretKey(bytes().into()),
            "curve_serverkey" => SocketOption::CurveServerKey(bytes()),
            _ => {
                return Err(Error::invalid(format!(
                    "unknown socket option `{name}` (known: {})",
                    OPTION_NAMES.join(", ")
                )))
            }
        })
    }
}

/// libzmq's "-1 means infinite" milliseconds, checked.
pub(crate) fn millis_or_infinite(name: &str, v: i32) -> Result<Option<Duration>> {
    match v {
        -1 => Ok(None),
        v if v >= 0 => Ok(Some(Duration::from_millis(v as u64))), // v >= 0
        _ => Err(Error::invalid(format!(
            "{name} must be -1 or at least 0, not {v}"
        ))),
    }
}

/// A TCP option's "-1: the system's value, else at least `min`" (1 for the keepalive
/// settings: Linux refuses 0, which libzmq would find out on every connection).
pub(crate) fn system_or_at_least(name: &str, v: i32, min: i32) -> Result<Option<u32>> {
    match v {
        -1 => Ok(None),
        v if v >= min => Ok(u32::try_from(v).ok()),
        _ => Err(Error::invalid(format!(
            "{name} must be -1 (the system's value) or at least {min}, not {v}"
        ))),
    }
}

/// A keepalive time in seconds: -1 for the system's, else at least 1.
pub(crate) fn secs_or_system(name: &str, v: i32) -> Result<Option<Duration>> {
    Ok(system_or_at_least(name, v, 1)?.map(|s| Duration::from_secs(u64::from(s))))
}

/// Milliseconds where 0 leaves the system's limit (CONNECT_TIMEOUT, TCP_MAXRT).
pub(crate) fn millis_or_system(name: &str, v: i32) -> Result<Option<Duration>> {
    let ms = non_negative(name, v)?;
    Ok((ms > 0).then(|| Duration::from_millis(u64::from(ms))))
}

pub(crate) fn non_negative(name: &str, v: i32) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::invalid(format!("{name} must be at least 0, not {v}")))
}
