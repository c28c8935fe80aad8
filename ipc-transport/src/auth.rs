//! Authentication of peers (27/ZAP's role, in process): the authenticator a context's
//! sockets ask when a handshake must decide whether to admit a peer.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};

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
/// It runs on the context's authentication thread, one request at a time, as a ZAP
/// handler would: a slow one (a lookup in a database or a directory) delays the context's
/// other handshakes that need it, each still bounded by its socket's HANDSHAKE_IVL, and
/// never the traffic of established connections or the handshakes that need no
/// authentication. A panic in it refuses the peer with status 500. At most 10,000
/// requests wait for it; past that a handshake is refused (500).
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

/// Most requests that wait for a context's in-process [`Authenticator`] at once.
const AUTH_QUEUE_MAX: usize = 10_000;

/// Request ids of the in-process authenticator have this bit; the ZAP handler's do not
/// (they count up from 1), so a cancel knows whose it is.
const IN_PROCESS: u64 = 1 << 63;

/// A context's authentication: its in-process authenticator if one is installed, else
/// its ZAP handler socket if one is bound (libzmq's way), looked up at each handshake (so
/// either, installed or bound after a socket was made, still applies to it).
pub(crate) struct AuthSlot {
    current: RwLock<Option<Arc<dyn Authenticator>>>,
    zap: Arc<ZapClient>,
    /// The authentication thread, started by the first request for it.
    worker: Mutex<Option<Worker>>,
    next_id: AtomicU64,
}

/// The thread that runs the in-process authenticator, and what waits for it.
struct Worker {
    jobs: SyncSender<Job>,
    /// Requests asked and neither answered nor cancelled.
    pending: Arc<Mutex<HashSet<u64>>>,
}

/// One request for the authentication thread.
struct Job {
    id: u64,
    /// The authenticator installed when the handshake asked.
    auth: Arc<dyn Authenticator>,
    request: ZapRequest,
    waiter: Weak<dyn ZapWaiter>,
    conn: Key,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The verdict of `auth` on `request`; a panic is a refusal (500).
fn verdict(auth: &dyn Authenticator, request: &ZapRequest) -> ZapReply {
    catch_unwind(AssertUnwindSafe(|| auth.authenticate(request))).unwrap_or_else(|_| {
        ZapReply::refuse(ZapStatus::InternalError, "the authenticator panicked")
    })
}

/// The authentication thread: each request still wanted is answered, in order; the
/// thread ends once its `AuthSlot` is gone (the sender's end dropped), which every socket
/// of the context holds: when the context and its sockets are.
fn serve(jobs: Receiver<Job>, pending: Arc<Mutex<HashSet<u64>>>) {
    crate::mark_internal_thread();
    while let Ok(job) = jobs.recv() {
        // (A panic anywhere in a job, the drop of what it holds included, is that job's
        // alone: the thread goes on.)
        let _ = catch_unwind(AssertUnwindSafe(|| answer(job, &pending)));
    }
}

/// One request of [`serve`]: asked and delivered unless its connection went meanwhile
/// (which then costs its authenticator no call).
fn answer(job: Job, pending: &Mutex<HashSet<u64>>) {
    if !lock(pending).contains(&job.id) {
        return;
    }
    let reply = verdict(job.auth.as_ref(), &job.request);
    if lock(pending).remove(&job.id) {
        if let Some(waiter) = job.waiter.upgrade() {
            waiter.zap_reply(job.conn, Ok(reply));
        }
    }
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
            worker: Mutex::new(None),
            next_id: AtomicU64::new(0),
        }
    }

    pub(crate) fn set(&self, auth: Option<Arc<dyn Authenticator>>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = auth;
    }

    /// Asks about the peer of connection `conn` of `waiter`: the in-process authenticator
    /// on the authentication thread, or the ZAP handler; either reply reaches `waiter`
    /// later.
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
            return self.ask_in_process(auth, request, waiter, conn);
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

    /// Queues `request` for the authentication thread (started now if it is not yet).
    fn ask_in_process(
        &self,
        auth: Arc<dyn Authenticator>,
        request: &ZapRequest,
        waiter: &Weak<dyn ZapWaiter>,
        conn: Key,
    ) -> Answer {
        let mut worker = lock(&self.worker);
        let w = match &mut *worker {
            Some(w) => w,
            slot @ None => {
                let (jobs, rx) = sync_channel(AUTH_QUEUE_MAX);
                let pending = Arc::new(Mutex::new(HashSet::new()));
                let theirs = pending.clone();
                let spawned = std::thread::Builder::new()
                    .name("zsock-auth".into())
                    .spawn(move || serve(rx, theirs));
                if spawned.is_err() {
                    // (No thread to be had: answered here, as a last resort.)
                    return Answer::Now(verdict(auth.as_ref(), request));
                }
                slot.insert(Worker { jobs, pending })
            }
        };
        let id = IN_PROCESS | self.next_id.fetch_add(1, Ordering::Relaxed);
        lock(&w.pending).insert(id);
        let job = Job {
            id,
            auth,
            request: request.clone(),
            waiter: waiter.clone(),
            conn,
        };
        let (job, why) = match w.jobs.try_send(job) {
            Ok(()) => return Answer::Later(id),
            Err(TrySendError::Full(job)) => (job, "too many requests wait for the authenticator"),
            Err(TrySendError::Disconnected(job)) => {
                // (The thread is gone: the next request starts another.)
                *worker = None;
                (job, "the authentication thread is gone")
            }
        };
        if let Some(w) = worker.as_ref() {
            lock(&w.pending).remove(&id);
        }
        drop(worker);
        // (What the refused request holds goes outside the locks.)
        drop(job);
        Answer::Now(ZapReply::refuse(ZapStatus::InternalError, why))
    }

    /// Forgets a request whose connection went.
    pub(crate) fn cancel(&self, id: u64) {
        if id & IN_PROCESS == 0 {
            self.zap.cancel(id);
        } else if let Some(w) = lock(&self.worker).as_ref() {
            lock(&w.pending).remove(&id);
        }
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
