//! libzmq's way of authenticating peers (27/ZAP): a handler socket bound at
//! `inproc://zeromq.zap.01` in the context. When a handshake must authenticate its peer
//! and no in-process [`crate::Authenticator`] is installed, the request goes to that
//! handler as a ZAP message, and its reply, when it comes, goes back to the connection that
//! asked; the handshake waits meanwhile (its deadline still counts, so a handler that never
//! answers fails the handshake in time).
//!
//! One [`ZapClient`] per context speaks to the handler: it is the DEALER end of an inproc
//! link to it, made when the first request goes and again if the handler was rebound. It
//! reads replies in the handler's own thread, when the handler's send rings it (after the
//! link's lock is let go), and hands each to its socket through [`ZapWaiter`], which takes
//! no socket lock: the socket's I/O thread applies it on its next turn.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, PoisonError, Weak};

use bytes::Bytes;
use zmtp_codec::{SocketType, ZapError, ZapReply, ZapRequest};

use crate::inproc::{peer_info, InprocSocket, Link, Look, Names, ReaderState, CONNECTER};
use crate::slab::Key;
use crate::Message;

/// The name libzmq's ZAP handlers bind (`inproc://` + this).
pub(crate) const ZAP_HANDLER: &str = "zeromq.zap.01";

/// Most requests waiting for the handler at once; past it a handshake is refused as if
/// the handler were gone (500), so a silent handler cannot make the table grow.
const MAX_PENDING: usize = 10_000;

/// A socket whose connections wait for ZAP replies.
pub(crate) trait ZapWaiter: Send + Sync {
    /// The handler's answer for connection `conn` (or why it could not be used). Takes no
    /// lock of the socket's state.
    fn zap_reply(&self, conn: Key, reply: Result<ZapReply, ZapError>);
}

/// The context's client of its ZAP handler.
pub(crate) struct ZapClient {
    me: Weak<ZapClient>,
    names: Arc<Names>,
    state: Mutex<ClientState>,
}

#[derive(Default)]
struct ClientState {
    link: Option<Arc<Link>>,
    reader: ReaderState,
    queue: VecDeque<Message>,
    next_id: u64,
    pending: HashMap<u64, (Weak<dyn ZapWaiter>, Key)>,
}

/// What became of a request.
pub(crate) enum Submitted {
    /// Sent; the reply comes to the waiter. The id cancels it.
    Sent(u64),
    /// No handler is bound.
    NoHandler,
    /// Too many requests wait already.
    Busy,
}

impl ZapClient {
    pub(crate) fn new(names: Arc<Names>) -> Arc<ZapClient> {
        Arc::new_cyclic(|me| ZapClient {
            me: me.clone(),
            names,
            state: Mutex::default(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ClientState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sends `request` to the handler for connection `conn` of `waiter`.
    pub(crate) fn submit(
        &self,
        request: &ZapRequest,
        waiter: Weak<dyn ZapWaiter>,
        conn: Key,
    ) -> Submitted {
        if !self.names.is_bound(ZAP_HANDLER) {
            return Submitted::NoHandler;
        }
        let mut st = self.state();
        if st.pending.len() >= MAX_PENDING {
            return Submitted::Busy;
        }
        st.next_id += 1;
        let id = st.next_id;
        let mut msg = Message::new();
        msg.push(Bytes::new()); // the delimiter a REP handler expects
        for f in request.to_frames(Bytes::from(id.to_string())) {
            msg.push(f);
        }
        // A link to a handler that went (or was never made) is made now.
        for _ in 0..2 {
            let link = match &st.link {
                Some(l) => l.clone(),
                None => {
                    let l = Arc::new(Link::new());
                    let me: Weak<dyn InprocSocket> = self.me.clone();
                    l.join(
                        CONNECTER,
                        me,
                        Key::NONE,
                        peer_info(SocketType::Dealer, &Bytes::new()),
                        0,
                        0,
                        false,
                    );
                    st.link = Some(l.clone());
                    st.reader = ReaderState::default();
                    st.queue.clear();
                    // (The names' lock, then the handler's state: never under ours.)
                    drop(st);
                    let endpoint = format!("inproc://{ZAP_HANDLER}");
                    self.names.connect(ZAP_HANDLER, &endpoint, l.clone());
                    st = self.state();
                    l
                }
            };
            match link.write(CONNECTER, msg) {
                Ok(()) => {
                    st.pending.insert(id, (waiter, conn));
                    return Submitted::Sent(id);
                }
                Err(back) => {
                    // The handler left: try once more with a fresh link.
                    msg = back;
                    st.link = None;
                }
            }
        }
        Submitted::NoHandler
    }

    /// Forgets a request whose connection went.
    pub(crate) fn cancel(&self, id: u64) {
        self.state().pending.remove(&id);
    }

    /// Takes the handler's replies and hands each to its connection's socket.
    fn read_replies(&self) {
        let mut done = Vec::new();
        {
            let mut st = self.state();
            let Some(link) = st.link.clone() else {
                return;
            };
            let ClientState {
                reader,
                queue,
                pending,
                ..
            } = &mut *st;
            let mut bytes = 0;
            let look = Look {
                discard: false,
                idle_if_empty: true,
            };
            loop {
                link.sync(CONNECTER, queue, &mut bytes, reader, look, None);
                if queue.is_empty() {
                    break;
                }
                for msg in queue.drain(..) {
                    reader.released += 1;
                    let frames = msg.frames();
                    // [delimiter, version, id, status, text, user id, metadata]
                    let Some(id) = frames
                        .get(2)
                        .and_then(|f| std::str::from_utf8(f).ok())
                        .and_then(|f| f.parse::<u64>().ok())
                    else {
                        continue; // a reply to no request of ours
                    };
                    let Some((waiter, conn)) = pending.remove(&id) else {
                        continue;
                    };
                    let reply = match frames.split_first() {
                        Some((delimiter, rest)) if delimiter.is_empty() => {
                            ZapReply::parse(rest, frames[2].as_ref())
                        }
                        _ => Err(ZapError::FrameCount {
                            count: frames.len(),
                        }),
                    };
                    done.push((waiter, conn, reply));
                }
            }
        }
        for (waiter, conn, reply) in done {
            if let Some(w) = waiter.upgrade() {
                w.zap_reply(conn, reply);
            }
        }
    }
}

impl InprocSocket for ZapClient {
    fn ring(&self, _pipe: Key, _lifecycle: bool) {
        self.read_replies();
    }

    fn attach(&self, _link: &Arc<Link>, _side: usize, _endpoint: &str) -> bool {
        false // it binds nothing
    }
}
