//! The Unix-socket engine of zsock: makes ZMTP connections out of Unix domain sockets.
//!
//! What it does: binds (libzmq's takeover semantics, never removing anything that is not a
//! socket; wildcard directories; exclusive bind; socket file mode; cleanup by inode), accepts
//! (peer credentials, access filters, back-off on fd exhaustion), connects and reconnects
//! with jittered back-off, drives each connection's handshake and heartbeats through
//! zmtp-codec's sans-IO machines, and moves whole [`Message`]s through bounded per-pipe
//! queues with batched, vectored writes.
//!
//! What it deliberately does not do: routing. Which pipe a message goes to, subscriptions'
//! matching and envelopes belong to the layer above (zsock), which plugs in as a handler.

mod backoff;
mod bind;
mod config;
mod core;
mod creds;
mod engine;
mod error;
mod message;
mod slab;
mod sys;
mod timers;

pub use backoff::Backoff;
pub use bind::{BindOptions, BoundSocket};
pub use config::{Config, TransportEvent};
pub use core::{
    Core, Handler, Notice, Pipe, PipeId, COPY_MAX, MAX_MESSAGE_FRAMES, PIN_FACTOR, READ_CHUNK,
};
pub use creds::{AccessFilter, PeerCred};
pub use engine::{Engine, Guard, Monitor, State};
pub use error::{TransportError, ETERM};
pub use message::Message;
