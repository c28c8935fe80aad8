//! ZeroMQ sockets over `ipc://` (Unix domain sockets), `tcp://` and `inproc://` in pure Rust,
//! wire-compatible with libzmq 4.3: PAIR, PUB, SUB, XPUB, XSUB, REQ, REP, DEALER, ROUTER,
//! PUSH and PULL.
//!
//! What it does: the socket API a libzmq or pyzmq user knows — [`Context`], [`Socket`],
//! `bind`/`connect`/`unbind`/`disconnect`, frame and multipart send/receive with
//! [`Flags::DONTWAIT`] and [`Flags::SNDMORE`] ([`Socket::send`] takes borrowed bytes, which
//! it copies, or owned ones, which it hands over; [`Socket::send_multipart`],
//! [`Socket::recv_multipart`], [`Socket::recv_string`]), options with libzmq's names and
//! defaults ([`SocketOption`]), [`poll`] with items built once ([`PollItem`]), a pollable
//! descriptor per socket ([`Socket::fd`]), the built-in [`proxy`] (and [`Proxy`]), each
//! received message's peer ([`Socket::peer`]), a [`Monitor`] of typed events, and one
//! [`Error`] whose [`kind`](Error::kind) is the errno you know. Messages are [`Message`]s
//! of `Bytes` frames: sending a `Vec<u8>` or `Bytes` never copies the body, and received
//! frames are slices of the read buffer.
//!
//! Sockets of one [`Context`] in different threads also talk over `inproc://NAME`, with no
//! kernel socket and no copy: a message's frames move between the two sockets as they are
//! (libzmq's semantics: connect before bind works, HWM is the sum of both sides').
//!
//! Security as in libzmq: PLAIN and CURVE ([`SocketOption::PlainServer`],
//! [`SocketOption::CurveServer`] and their keys and credentials; [`curve_keypair`], Z85),
//! with peers authenticated by a function ([`Context::set_authenticator`], given 27/ZAP's
//! request; [`Auth`] is a ready-made one with address lists, PLAIN users and CURVE keys)
//! or by a ZAP handler socket bound at `inproc://zeromq.zap.01`; the user id it
//! gives is on the peer's messages ([`Metadata::user_id`]).
//!
//! What it deliberately does not do yet: the other transports (`pgm://`, ...; refused
//! with a clear error), GSSAPI, and the draft socket types.
//! For async code on tokio, the `zsock-tokio` crate wraps a [`Socket`] in an
//! `AsyncSocket`. Coming from pyzmq or the `zmq` crate: see `docs/migration.md` in the
//! repository. The wire protocol lives in `zmtp-codec`, endpoints in `ipc-endpoint` and
//! `tcp-endpoint`, sockets and threads in `ipc-transport`.
//!
//! Threading: a [`Socket`] is `Send`, not `Sync`. The sockets of a [`Context`] share its
//! I/O threads (one unless [`Context::set_io_threads`] says otherwise), and the calling
//! thread reads and writes the Unix socket itself when it can (see ARCHITECTURE.md).
//!
//! ```
//! use zsock::{Context, Flags, SocketOption, SocketType};
//!
//! let ctx = Context::new();
//! let mut publisher = ctx.socket(SocketType::Pub)?;
//! let endpoint = publisher.bind("ipc://*")?;
//! let mut subscriber = ctx.socket(SocketType::Sub)?;
//! subscriber.set(SocketOption::Subscribe("weather".into()))?;
//! subscriber.set(SocketOption::RcvTimeo(50))?;
//! subscriber.connect(&endpoint)?;
//! // Publish until the subscription has reached the publisher.
//! let got = loop {
//!     publisher.send("sports 1-0", Flags::NONE)?;
//!     publisher.send("weather sunny", Flags::NONE)?;
//!     if let Ok(m) = subscriber.recv(Flags::NONE) {
//!         break m;
//!     }
//! };
//! assert_eq!(got, "weather sunny");
//! # Ok::<(), zsock::Error>(())
//! ```

#![forbid(unsafe_code)]

mod auth;
mod error;
pub mod fuzzing;
mod metadata;
mod monitor;
mod options;
mod poll;
mod proxy;
mod routing;
mod sendable;
mod socket;
mod subs;

pub use auth::Auth;
pub use bytes::Bytes;
pub use error::{errno, Error, ErrorKind, Result};
pub use ipc_transport::{
    Authenticator, Errno, Message, PeerCred, TcpOptions, COPY_MAX, READ_AHEAD_MAX,
};
pub use metadata::Metadata;
pub use monitor::{Event, Monitor};
pub use options::{Secret, SocketOption, OPTION_NAMES};
pub use poll::{poll, PollItem};
pub use proxy::{proxy, proxy_steerable, Direction, Proxy, SideStatistics, Statistics};
pub use sendable::{multipart, Payload, Sendable};
pub use socket::{Context, Events, Flags, Socket};
pub use zmtp_codec::curve::{curve_public, z85_decode, z85_encode, CurveKeyPair, KeyError};
pub use zmtp_codec::{Mechanism, SocketType, ZapReply, ZapRequest, ZapStatus};

/// A fresh CURVE key pair as Z85 text (`zmq_curve_keypair`), from the operating system's
/// random generator; the secret half is zeroed when dropped.
///
/// ```
/// let pair = zsock::curve_keypair();
/// assert_eq!(pair.public.len(), 40);
/// assert_eq!(zsock::curve_public(pair.secret.as_bytes()).unwrap(), pair.public);
/// ```
pub fn curve_keypair() -> CurveKeyPair {
    CurveKeyPair::generate()
}
