//! Transport settings (the options a libzmq user sets with setsockopt) and monitor events.

use std::time::Duration;

use bytes::Bytes;
use zmtp_codec::{HeartbeatConfig, SocketType};

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
        }
    }
}

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
        /// The errno.
        errno: i32,
    },
    /// A connection was accepted.
    Accepted {
        /// The listener's endpoint.
        endpoint: String,
        /// The peer's credentials.
        peer: Option<PeerCred>,
    },
    /// accept failed for lack of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM); retrying later.
    AcceptFailed {
        /// The listener's endpoint.
        endpoint: String,
        /// The errno.
        errno: i32,
        /// When the next attempt is made.
        retry_in: Duration,
    },
    /// An accepted peer failed the access filter and was closed before any byte was sent.
    AccessRejected {
        /// The listener's endpoint.
        endpoint: String,
        /// The peer's credentials.
        peer: Option<PeerCred>,
    },
    /// A connect succeeded at the socket level.
    Connected {
        /// The endpoint.
        endpoint: String,
        /// The peer's credentials.
        peer: Option<PeerCred>,
    },
    /// A connect attempt failed and will be retried.
    ConnectRetried {
        /// The endpoint.
        endpoint: String,
        /// Why the attempt failed.
        errno: i32,
        /// The delay before the next attempt.
        delay: Duration,
    },
    /// The ZMTP handshake completed.
    HandshakeSucceeded {
        /// The endpoint.
        endpoint: String,
        /// The peer's credentials.
        peer: Option<PeerCred>,
    },
    /// The ZMTP handshake failed; the connection is closed.
    HandshakeFailed {
        /// The endpoint.
        endpoint: String,
        /// The peer's credentials.
        peer: Option<PeerCred>,
        /// What went wrong.
        reason: String,
    },
    /// An established connection closed.
    Disconnected {
        /// The endpoint.
        endpoint: String,
        /// The peer's credentials.
        peer: Option<PeerCred>,
        /// Why (end of file, protocol error, heartbeat timeout...).
        reason: String,
    },
    /// A listener or connector was closed (unbind, disconnect, socket close).
    Closed {
        /// The endpoint.
        endpoint: String,
    },
}
