//! Authentication of peers (27/ZAP's role, in process): the authenticator a context's
//! sockets ask when a handshake must decide whether to admit a peer.

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, PoisonError, RwLock};

use bytes::Bytes;
use zmtp_codec::{ZapReply, ZapRequest, ZapStatus};

use crate::creds::PeerCred;

/// Decides whether a peer may connect: the in-process counterpart of a ZAP handler. It
/// gets 27/ZAP's request (domain, the peer's address, the server socket's routing id,
/// mechanism, credentials) and answers with a status, a user id and properties.
///
/// It runs in the thread driving the handshake (a socket's I/O thread, or a caller's
/// thread inside a send, receive or poll) while that socket is locked: keep it quick and do
/// not use the socket from inside it. A panic in it refuses the peer with status 500.
pub trait Authenticator: Send + Sync + 'static {
    /// The verdict on one peer.
    fn authenticate(&self, request: &ZapRequest) -> ZapReply;
}

impl<F> Authenticator for F
where
    F: Fn(&ZapRequest) -> ZapReply + Send + Sync + 'static,
{
    fn authenticate(&self, request: &ZapRequest) -> ZapReply {
        self(request)
    }
}

/// A context's authenticator, shared by its sockets and looked up at each handshake (so
/// one installed after a socket was made still applies to it, as a libzmq ZAP handler
/// started late does).
#[derive(Default)]
pub(crate) struct AuthSlot {
    current: RwLock<Option<Arc<dyn Authenticator>>>,
}

impl AuthSlot {
    pub(crate) fn set(&self, auth: Option<Arc<dyn Authenticator>>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = auth;
    }

    /// The authenticator's answer; `None` when there is none.
    pub(crate) fn ask(&self, request: &ZapRequest) -> Option<ZapReply> {
        // (Read and clone: the call itself runs without the slot's lock.)
        let auth = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()?;
        Some(
            catch_unwind(AssertUnwindSafe(|| auth.authenticate(request))).unwrap_or_else(|_| {
                ZapReply::refuse(ZapStatus::InternalError, "the authenticator panicked")
            }),
        )
    }
}

/// A peer's address as libzmq writes it in a ZAP request and the `Peer-Address` message
/// property: a tcp peer's IP address without the port, an ipc peer's `localhost:UID:GID:PID`
/// (what a libzmq built with SO_PEERCRED, as distributions build it, writes).
pub fn peer_address(addr: Option<SocketAddr>, creds: Option<PeerCred>) -> Option<String> {
    match (addr, creds) {
        (Some(addr), _) => Some(addr.ip().to_string()),
        (None, Some(c)) => Some(format!("localhost:{}:{}:{}", c.uid, c.gid, c.pid)),
        (None, None) => None,
    }
}

/// [`peer_address`] as a ZAP request's field (empty when unknown).
pub(crate) fn zap_address(addr: Option<SocketAddr>, creds: Option<PeerCred>) -> Bytes {
    peer_address(addr, creds)
        .map(Bytes::from)
        .unwrap_or_default()
}
