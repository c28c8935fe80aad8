//! Authentication of peers (27/ZAP's role, in process): the authenticator a context's
//! sockets ask when a handshake must decide whether to admit a peer.

use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, PoisonError, RwLock, Weak};

use bytes::Bytes;
use zmtp_codec::{ZapReply, ZapRequest, ZapStatus};

use crate::creds::PeerCred;
use crate::inproc::Names;
use crate::slab::Key;
use crate::zap::{Submitted, ZapClient, ZapWaiter};

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

/// A context's authentication: its in-process authenticator if one is installed, else
/// its ZAP handler socket if one is bound (libzmq's way), looked up at each handshake (so
/// either, installed or bound after a socket was made, still applies to it).
pub(crate) struct AuthSlot {
    current: RwLock<Option<Arc<dyn Authenticator>>>,
    zap: Arc<ZapClient>,
}

/// What a handshake's question got.
pub(crate) enum Answer {
    /// The in-process authenticator's verdict.
    Now(ZapReply),
    /// Sent to the ZAP handler (request `id`): the reply comes later.
    Later(u64),
    /// Nobody to ask.
    Nobody,
}

impl AuthSlot {
    pub(crate) fn new(names: Arc<Names>) -> AuthSlot {
        AuthSlot {
            current: RwLock::default(),
            zap: ZapClient::new(names),
        }
    }

    pub(crate) fn set(&self, auth: Option<Arc<dyn Authenticator>>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = auth;
    }

    /// Asks about the peer of connection `conn` of `waiter`: the in-process authenticator
    /// at once, or the ZAP handler, whose reply reaches `waiter` later.
    pub(crate) fn ask(
        &self,
        request: &ZapRequest,
        waiter: &Weak<dyn ZapWaiter>,
        conn: Key,
    ) -> Answer {
        // (Read and clone: the call itself runs without the slot's lock.)
        let auth = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(auth) = auth {
            return Answer::Now(
                catch_unwind(AssertUnwindSafe(|| auth.authenticate(request))).unwrap_or_else(
                    |_| ZapReply::refuse(ZapStatus::InternalError, "the authenticator panicked"),
                ),
            );
        }
        match self.zap.submit(request, waiter.clone(), conn) {
            Submitted::Sent(id) => Answer::Later(id),
            Submitted::NoHandler => Answer::Nobody,
            Submitted::Busy => Answer::Now(ZapReply::refuse(
                ZapStatus::InternalError,
                "too many requests wait for the ZAP handler",
            )),
        }
    }

    /// Forgets a request to the ZAP handler whose connection went.
    pub(crate) fn cancel(&self, id: u64) {
        self.zap.cancel(id);
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
