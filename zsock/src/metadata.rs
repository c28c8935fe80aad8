//! What a socket knows of the peer a message came from (`zmq_msg_gets`).

use std::net::SocketAddr;

use bytes::Bytes;
use ipc_transport::{PeerCred, PeerMeta};
use zmtp_codec::SocketType;

/// A peer as a received message's metadata describes it: what it said in its handshake
/// (socket type, routing id, its READY properties) and what the kernel says of it (an ipc
/// peer's process credentials, a tcp peer's address and port).
///
/// From [`Socket::peer`](crate::Socket::peer) for the message received last, or
/// [`Socket::peer_metadata`](crate::Socket::peer_metadata) for a ROUTER's routing id.
/// [`Metadata::gets`] looks properties up by libzmq's names, for code ported from
/// `zmq_msg_gets`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    meta: PeerMeta,
}

impl Metadata {
    pub(crate) fn new(meta: PeerMeta) -> Metadata {
        Metadata { meta }
    }

    /// The peer's socket type (its `Socket-Type` property).
    pub fn socket_type(&self) -> Option<SocketType> {
        self.meta.info.socket_type
    }

    /// The routing id the peer asked for (its `Identity` property, libzmq's ROUTING_ID
    /// option), if it set one.
    pub fn routing_id(&self) -> Option<&Bytes> {
        self.meta.info.identity.as_ref().filter(|id| !id.is_empty())
    }

    /// The peer process's pid, uid and gid (ipc), as the kernel gave them at connect.
    pub fn peer_cred(&self) -> Option<PeerCred> {
        self.meta.creds
    }

    /// The peer's address and port (tcp).
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.meta.addr
    }

    /// The endpoint of the bind or connect the peer's connection came through.
    pub fn endpoint(&self) -> &str {
        &self.meta.endpoint
    }

    /// The user id the context's authenticator or ZAP handler gave the peer (libzmq's
    /// `User-Id`); `None` when nobody was asked about it.
    pub fn user_id(&self) -> Option<&Bytes> {
        self.meta.info.user_id.as_ref()
    }

    /// A property by name (case-insensitive, as ZMTP says): one the authenticator attached
    /// to the peer, else one of the peer's handshake (`Socket-Type`, `Identity`, and any the
    /// peer added: libzmq's ZMQ_METADATA, `X-...`). As in libzmq, the authenticator's win:
    /// a peer cannot pass off its own value for one of them, nor for `User-Id` (the
    /// authenticator's user id, or nothing) or `Peer-Address` (see [`Metadata::gets`]).
    pub fn property(&self, name: &str) -> Option<&Bytes> {
        if name.eq_ignore_ascii_case("User-Id") {
            return self.user_id();
        }
        if name.eq_ignore_ascii_case("Peer-Address") {
            return None;
        }
        self.meta
            .info
            .zap_metadata
            .get(name)
            .or_else(|| self.meta.info.metadata.get(name))
    }

    /// The peer's handshake properties, as sent.
    pub fn properties(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.meta.info.metadata.iter()
    }

    /// A property by libzmq's name, as `zmq_msg_gets` gives it: `Socket-Type`
    /// (`"DEALER"`), `Routing-Id` (the peer's `Identity`), `Peer-Address` (a tcp peer's
    /// IP address without the port, or `localhost:UID:GID:PID` for an ipc peer, as libzmq writes
    /// them), `User-Id` (the authenticator's user id for the peer), or any property of
    /// the peer's handshake or of its authenticator. `None` for what this peer did not
    /// give (libzmq: EINVAL). Names are case-insensitive.
    pub fn gets(&self, name: &str) -> Option<String> {
        let text = |b: &Bytes| String::from_utf8_lossy(b).into_owned();
        if name.eq_ignore_ascii_case("Peer-Address") {
            return ipc_transport::peer_address(self.meta.addr, self.meta.creds);
        }
        if name.eq_ignore_ascii_case("Routing-Id") {
            return self.routing_id().map(text);
        }
        if name.eq_ignore_ascii_case("User-Id") {
            return self.user_id().map(text);
        }
        self.property(name).map(text)
    }
}
