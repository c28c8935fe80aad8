//! A sans-IO codec for ZMTP 3.1, the ZeroMQ wire protocol (RFC 37/ZMTP, with 23/ZMTP's
//! NULL mechanism, 24/ZMTP-PLAIN and 26/CurveZMQ), byte-compatible with libzmq 4.3.
//!
//! What it does: encode our 64-byte greeting and decode a peer's from any split of its bytes;
//! decode frames as zero-copy slices of the read buffer; encode frame headers for vectored
//! writes; parse and encode commands (READY and its metadata, ERROR, PING, PONG, SUBSCRIBE,
//! CANCEL, unknown names passed through) and ZMTP 3.0-style subscription frames; run the
//! handshake ([`Handshake`]: NULL, PLAIN and CURVE, with authentication requests and replies
//! as in 27/ZAP) and heartbeats ([`Heartbeat`]) as state machines; seal and open CURVE's
//! MESSAGE boxes and read and write Z85 keys ([`curve`]).
//!
//! What it deliberately does not do: no IO, no sockets, no threads, and no clock reads.
//! Callers pass bytes in, take bytes out, and pass `Instant`s in; deadlines come back out.
//!
//! Safety against peers: no function here panics on any input, and no length read from the
//! wire is ever used to reserve memory. Sizes are checked against [`Limits`] from the frame
//! header, before the body is buffered.
//!
//! ```
//! use bytes::BytesMut;
//! use zmtp_codec::{encode_frame, Decoder, Item, Limits};
//!
//! let mut wire = BytesMut::new();
//! encode_frame(&mut wire, b"hello", true);
//! encode_frame(&mut wire, b"world", false);
//! let mut dec = Decoder::frames_only(Limits::default());
//! let mut parts = Vec::new();
//! while let Some(Item::Frame(f)) = dec.decode(&mut wire).unwrap() {
//!     parts.push(f.body);
//! }
//! assert_eq!(parts, ["hello", "world"]);
//! ```

#![forbid(unsafe_code)]

mod command;
pub mod curve;
mod decoder;
mod error;
mod frame;
pub mod fuzzing;
mod greeting;
mod handshake;
mod heartbeat;
mod security;
mod socket_type;
pub mod wire;

pub use command::{Command, Metadata, Ping, Subscription, MAX_PROPERTIES};
pub use decoder::{Decoder, Item, Limits, DEFAULT_HANDSHAKE_COMMAND_LIMIT};
pub use error::{CommandError, DecodeError, HandshakeError, MetadataError};
pub use frame::{
    encode_frame, put_frame, put_short_frame, short_header, Frame, FrameHeader, HeaderBytes,
};
pub use greeting::{Greeting, Mechanism, Version};
pub use handshake::{Event, Handshake, HandshakeConfig, PeerInfo};
pub use heartbeat::{
    deciseconds_to_ttl, ttl_to_deciseconds, Heartbeat, HeartbeatConfig, HeartbeatError,
};
pub use security::{
    parse_plain_hello, PlainFieldTooLong, Security, ZapError, ZapReply, ZapRequest, ZapStatus,
    PLAIN_MAX_FIELD, ZAP_VERSION,
};
pub use socket_type::SocketType;
