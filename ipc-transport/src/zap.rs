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

/// Most requests waiting for the handler at once; past it a handshake is refused (500),
/// so a silent handler cannot make the table grow.
const MAX_PENDING: usize = 10_000;

/// The link's SNDHWM: requests written and not yet taken by the handler (its RCVHWM adds
/// to it), so a handler that stopped reading holds a bounded queue; past it a handshake is
/// refused (500).
const LINK_HWM: usize = 1_000;

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
    /// Which link is current: a request remembers the one it went down.
    generation: u64,
    reader: ReaderState,
    queue: VecDeque<Message>,
    next_id: u64,
    pending: HashMap<u64, Pending>,
}

struct Pending {
    waiter: Weak<dyn ZapWaiter>,
    conn: Key,
    generation: u64,
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

    /// Sends `request` to the handler for connection `conn` of `waiter`. Called by a
    /// handshake under its socket's lock: it takes no lock but this client's and the
    /// link's (a new link is joined to the handler by a short-lived thread, as the names'
    /// lock may not be taken here; what is written meanwhile waits in the link).
    pub(crate) fn submit(
        &self,
        request: &ZapRequest,
        waiter: Weak<dyn ZapWaiter>,
        conn: Key,
    ) -> Submitted {
        if !self.names.zap_bound() {
            return Submitted::NoHandler;
        }
        let mut failed = Vec::new();
        let submitted = {
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
            let mut outcome = Submitted::Busy;
            for _ in 0..2 {
                let link = match st.link.clone() {
                    Some(l) => l,
                    None => self.new_link(&mut st, &mut failed),
                };
                match link.write(CONNECTER, msg) {
                    Ok(()) => {
                        let generation = st.generation;
                        st.pending.insert(
                            id,
                            Pending {
                                waiter,
                                conn,
                                generation,
                            },
                        );
                        outcome = Submitted::Sent(id);
                        break;
                    }
                    Err(back) if link.is_peer_closed(CONNECTER) => {
                        // The handler left: once more, down a fresh link.
                        msg = back;
                        st.link = None;
                    }
                    // At the link's HWM: the handler is behind.
                    Err(_) => break,
                }
            }
            outcome
        };
        // The requests of a link that died will get no answer.
        for p in failed {
            if let Some(w) = p.waiter.upgrade() {
                w.zap_reply(p.conn, Err(ZapError::Unanswered));
            }
        }
        submitted
    }

    /// Makes the current link: our end joined now, the handler's by a thread of its own.
    /// The requests still waiting on the previous link are moved to `failed`.
    fn new_link(&self, st: &mut ClientState, failed: &mut Vec<Pending>) -> Arc<Link> {
        let old = st.generation;
        let stale: Vec<u64> = st
            .pending
            .iter()
            .filter(|(_, p)| p.generation == old)
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            if let Some(p) = st.pending.remove(&id) {
                failed.push(p);
            }
        }
        st.generation += 1;
        let link = Arc::new(Link::new());
        let me: Weak<dyn InprocSocket> = self.me.clone();
        link.join(
            CONNECTER,
            me,
            Key::NONE,
            peer_info(SocketType::Dealer, &Bytes::new()),
            LINK_HWM,
            0,
            false,
        );
        st.link = Some(link.clone());
        st.reader = ReaderState::default();
        st.queue.clear();
        let names = self.names.clone();
        let joining = link.clone();
        let spawned = std::thread::Builder::new()
            .name("zsock-zap-join".into())
            .spawn(move || {
                let endpoint = format!("inproc://{ZAP_HANDLER}");
                names.connect(ZAP_HANDLER, &endpoint, joining);
            });
        if spawned.is_err() {
            // No thread to be had: this link never reaches the handler; the requests on
            // it time out with their handshakes, and the next one tries a new link.
            st.link = None;
        }
        link
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
                    let Some(p) = pending.remove(&id) else {
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
                    done.push((p, reply));
                }
            }
        }
        for (p, reply) in done {
            if let Some(w) = p.waiter.upgrade() {
                w.zap_reply(p.conn, reply);
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
