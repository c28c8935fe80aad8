//! The engine of zsock, and its Unix-socket transport: makes ZMTP connections out of
//! stream sockets.
//!
//! What it does: drives each connection (handshake, heartbeats, decoding, output) as a
//! machine without IO, over any stream socket, on I/O threads the sockets of a context
//! share; moves whole [`Message`]s through bounded per-pipe queues with batched, vectored
//! writes; connects and reconnects with jittered back-off. The Unix-domain transport
//! binds (libzmq's takeover semantics, never removing anything that is not a socket;
//! wildcard directories; exclusive bind; socket file mode; cleanup by inode) and accepts
//! (peer credentials, access filters, back-off on fd exhaustion). The TCP transport binds
//! and connects IPv4 and IPv6 addresses. Transports plug in behind one seam, so the
//! engine names none of them.
//!
//! What it deliberately does not do: routing. Which pipe a message goes to, subscriptions'
//! matching and envelopes belong to the layer above (zsock), which plugs in as a handler.
//!
//! # What a peer can make a socket hold
//!
//! Write F for the largest frame or command a peer may send (MAXMSGSIZE when it is set;
//! otherwise whatever the peer sends, as in libzmq). One connection holds at most:
//!
//! - **Read buffers**: the buffer being read into and one spare, each at most
//!   `2 * (F + READ_CHUNK)` bytes ([`READ_CHUNK`]); a buffer grows only while an item
//!   larger than its room is arriving, by at most what has arrived, and an idle connection
//!   gives a large one back. (A connection also keeps handles, up to 18, on earlier
//!   buffers that its queued messages or the message in progress held when it left them,
//!   to read on in them once those are dropped: while held, those bytes are the
//!   messages'. A buffer let go of stays, for the next buffers, until the next sweep of
//!   read buffers, a quarter second later at most, which keeps one: what the spares hold
//!   never exceeds what messages held a moment before.)
//! - **Received messages**: up to RCVHWM whole messages, counting those the socket took
//!   ahead ([`Engine::lock_holding`]) and, for XPUB, the subscription messages the application
//!   has not received ([`Handler::held`]); reading stops at the mark, or earlier, under
//!   any mark but 0, once the queued messages cost [`READ_AHEAD_MAX`] bytes (the message
//!   that crosses it is whole): their bytes, and [`FRAME_COST`] for each place for a
//!   frame's handle ([`Message::queued_cost`]), so that a peer's empty frames count too.
//!   Each message has at most [`MAX_MESSAGE_FRAMES`] frames of at most F bytes. Queued
//!   messages keep alive the read buffers they were sliced from only while they fill at
//!   least one [`PIN_FACTOR`]th of them: a buffer given up with less is copied out of.
//!   So what the queue keeps alive is at most `PIN_FACTOR` times its own bytes, plus one
//!   buffer the application is part way through.
//! - **Output**: SNDHWM messages in the pipe (frames of up to [`UNPIN_MAX`] bytes sliced
//!   from a read buffer, as received frames sent on are, are copied into their own when
//!   they start waiting there, so a waiting message keeps no read buffer alive; a
//!   publisher copies them once, before it sends to its subscribers: [`unpin`]), plus
//!   the batch being written (a batch of
//!   headers and small bodies, and the large bodies it refers to), plus at most one PING
//!   and one PONG: heartbeat commands wait, one of each, while other output waits, so a
//!   peer that pings without reading makes nothing pile up.
//! - **Timers**: one entry per connection, whatever the peer does (re-arming moves it).
//!
//! And what it can make the socket spend: a connection reads at most [`JUNK_PER_TURN`]
//! of traffic that queues nothing (messages a PUB drops, commands, subscriptions) before
//! it stops for a millisecond, so a peer that writes such traffic as fast as the socket
//! reads delays neither the socket's own calls nor the other sockets of its I/O thread
//! for long. A PUB's or XPUB's subscriptions not yet applied count towards RCVHWM as
//! queued messages do.
//!
//! Messages handed to the application keep their read buffer alive for as long as the
//! application keeps them (they are zero-copy slices of it); copy a small part of a large
//! message if you keep it long. Subscriptions (PUB, XPUB) cost each distinct topic's own
//! bytes plus two tree nodes at most, in the layer above.

mod auth;
mod backoff;
mod bind;
mod config;
mod connection;
mod core;
mod creds;
mod engine;
mod error;
pub mod fuzzing;
mod inproc;
mod ipc;
mod message;
mod reactor;
mod slab;
mod sys;
mod tcp;
mod timers;
mod transport;
mod zap;

/// With at most this many connections, a waiting caller polls them itself (and reads
/// what arrives); with more it sleeps on a condition variable the I/O thread signals. The
/// layer above applies the same bound to its pipes: a receive that finds nothing queued
/// on more pipes leaves reading to the I/O thread rather than try each idle connection.
pub const CALLER_POLLED_CONNS: usize = 8;

pub use auth::{peer_address, Authenticator};
pub use backoff::Backoff;
pub use bind::{BindOptions, BoundSocket};
pub use config::{Config, Errno, TcpOptions, TransportEvent};
pub use connection::{COPY_MAX, PIN_FACTOR, READ_CHUNK};
pub use core::{
    unpin, Core, Handler, Notice, PeerMeta, Pipe, PipeId, RecvRead, SendWait, JUNK_PER_TURN,
    MAX_MESSAGE_FRAMES, READ_AHEAD_MAX, RETIRED_PEERS, UNPIN_MAX,
};
pub use creds::{AccessFilter, PeerCred};
pub use engine::{
    poll_descriptors, Closing, Engine, Guard, Monitor, PollClaim, PollWaker, State, Terminator,
    Watcher,
};
pub use error::{TransportError, ETERM};
pub use message::{Message, FRAME_COST};
pub use reactor::IoThreads;

/// Sleeps until one of `fds` is readable or `timeout` passes (`None`: no limit); returns
/// how many are readable. A signal ends the sleep early, as a timeout would (`Ok(0)`).
/// (`zmq_poll`'s wait, for the layer above: every raw system call stays in this crate.)
pub fn wait_readable<'a>(
    fds: impl IntoIterator<Item = std::os::fd::BorrowedFd<'a>>,
    timeout: Option<std::time::Duration>,
) -> std::io::Result<usize> {
    use std::os::fd::AsRawFd;
    let mut polled: Vec<libc::pollfd> = fds
        .into_iter()
        .map(|fd| libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    match sys::poll(&mut polled, timeout) {
        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(0),
        r => r,
    }
}

std::thread_local! {
    static INTERNAL: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Marks the calling thread as one of the stack's own (an I/O thread, the authentication
/// thread).
pub(crate) fn mark_internal_thread() {
    INTERNAL.with(|i| i.set(true));
}

/// Whether the calling thread is one of the stack's own threads (an I/O thread, the
/// authentication thread): there a context's last handle must not wait for its sockets to
/// finish lingering, as that work needs these very threads.
pub fn is_internal_thread() -> bool {
    INTERNAL.with(|i| i.get())
}
