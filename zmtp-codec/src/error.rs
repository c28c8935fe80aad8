//! The codec's errors: plain comparable values, each saying what was wrong.

use thiserror::Error;

/// Why a command frame's body could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CommandError {
    /// A command frame with no bytes at all (not even the name length).
    #[error("command frame is empty")]
    Empty,
    /// The name length points past the end of the frame.
    #[error("command name of {declared} bytes runs past the {available} bytes of the frame")]
    NameTruncated {
        /// The declared name length.
        declared: usize,
        /// The bytes left in the frame.
        available: usize,
    },
    /// A zero-length command name.
    #[error("command name is empty")]
    EmptyName,
    /// READY's metadata is malformed.
    #[error("READY metadata: {0}")]
    Metadata(#[from] MetadataError),
    /// ERROR's reason length points past the end of the frame.
    #[error("ERROR reason of {declared} bytes runs past the {available} bytes of the frame")]
    ErrorReasonTruncated {
        /// The declared reason length.
        declared: usize,
        /// The bytes left in the frame.
        available: usize,
    },
    /// ERROR without its reason-length byte.
    #[error("ERROR command has no reason length")]
    ErrorReasonMissing,
}

/// Why READY's metadata could not be read (37/ZMTP "metadata = *property").
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum MetadataError {
    /// A property name of length zero (37/ZMTP: `name = OCTET 1*255name-char`).
    #[error("property name is empty")]
    EmptyName,
    /// The name runs past the end of the command.
    #[error("property name of {declared} bytes runs past the {available} bytes left")]
    NameTruncated {
        /// The declared name length.
        declared: usize,
        /// The bytes left in the command.
        available: usize,
    },
    /// The 4-byte value length is cut off.
    #[error("property {name:?} has no complete 4-byte value length")]
    ValueLengthTruncated {
        /// The property's name.
        name: String,
    },
    /// The value runs past the end of the command.
    #[error("property {name:?} declares a {declared}-byte value but {available} bytes are left")]
    ValueTruncated {
        /// The property's name.
        name: String,
        /// The declared value length.
        declared: u64,
        /// The bytes left in the command.
        available: usize,
    },
    /// The same property twice (compared case-insensitively).
    #[error("property {name:?} appears twice")]
    Duplicate {
        /// The property's name.
        name: String,
    },
    /// More properties than the handshake allows.
    #[error("more than {limit} properties")]
    TooManyProperties {
        /// The limit.
        limit: usize,
    },
}

/// Why a byte stream from a peer cannot be decoded. Every variant is fatal for the
/// connection except [`DecodeError::BadCommand`], after which the decoder has consumed the
/// offending frame and can go on (post-handshake, malformed commands are ignored).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The signature is not `FF .. .. .. .. .. .. .. .. 7F` with the low bit set: the peer
    /// speaks ZMTP 1.0 or is not a ZMTP peer at all.
    #[error("peer did not send a versioned ZMTP signature (ZMTP 1.0 or not ZMTP)")]
    UnversionedPeer,
    /// The peer announced ZMTP revision 1 or 2 (or 0), which we do not speak.
    #[error("peer speaks ZMTP revision {revision}; revision 3 or later is required")]
    OldRevision {
        /// The revision byte the peer sent.
        revision: u8,
    },
    /// A frame larger than the frame limit (checked from the header alone).
    #[error("frame of {size} bytes exceeds the limit of {limit} bytes")]
    FrameTooLarge {
        /// The size the header declared.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// A message growing past the message limit (checked from each header).
    #[error("message of at least {size} bytes exceeds the limit of {limit} bytes")]
    MessageTooLarge {
        /// The size the message would reach with this frame.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// A message with more frames than allowed.
    #[error("message has more than {limit} frames")]
    TooManyFrames {
        /// The limit in force.
        limit: u64,
    },
    /// A command frame larger than the command limit.
    #[error("command of {size} bytes exceeds the limit of {limit} bytes")]
    CommandTooLarge {
        /// The size the header declared.
        size: u64,
        /// The limit in force.
        limit: u64,
    },
    /// A command frame whose body is malformed. The frame was consumed.
    #[error("malformed {name} command: {error}")]
    BadCommand {
        /// The command's name, lossily decoded.
        name: String,
        /// What was wrong.
        error: CommandError,
    },
}

impl DecodeError {
    /// Whether the connection must be closed. Only a malformed command is recoverable.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, DecodeError::BadCommand { .. })
    }
}

/// Why a handshake failed. More reasons may come: match with a `_` arm.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The byte stream could not be decoded.
    #[error(transparent)]
    Decode(#[from] DecodeError),
    /// The peer's mechanism is not ours.
    #[error("peer uses security mechanism {theirs:?}; this side uses {ours}")]
    MechanismMismatch {
        /// Our mechanism name.
        ours: String,
        /// The peer's mechanism name.
        theirs: String,
    },
    /// Both sides are servers of a mechanism with a client and a server role (seen when
    /// the peer sets as-server in its greeting, which libzmq 4.3 never does).
    #[error("both sides are {mechanism} servers")]
    RoleMismatch {
        /// The mechanism.
        mechanism: String,
    },
    /// Both sides are clients of a mechanism with a client and a server role: the peer
    /// sent the HELLO that only a client sends.
    #[error(
        "both sides are {mechanism} clients (the peer sent HELLO; one side must be the server)"
    )]
    BothClients {
        /// The mechanism.
        mechanism: String,
    },
    /// A mechanism command whose body is malformed (a HELLO's lengths, a WELCOME with a
    /// body).
    #[error("malformed {name} command")]
    MalformedCommand {
        /// The command's name.
        name: String,
    },
    /// Our authenticator refused the peer.
    #[error("authentication refused the peer (ZAP status {status}: {text})")]
    Refused {
        /// The status code.
        status: crate::ZapStatus,
        /// The authenticator's words.
        text: String,
    },
    /// The peer refused our credentials (its ERROR carried this ZAP status code).
    #[error("peer refused our credentials (ZAP status {status})")]
    AuthFailed {
        /// The status code.
        status: crate::ZapStatus,
    },
    /// The mechanism needs an authenticator and none is installed.
    #[error("{mechanism} server needs an authenticator and none is installed")]
    NoAuthenticator {
        /// The mechanism.
        mechanism: String,
    },
    /// A CURVE command was malformed, did not open, or broke the nonce order.
    #[error(transparent)]
    Curve(#[from] crate::curve::CurveError),
    /// A ZAP handler answered with a malformed reply.
    #[error(transparent)]
    Zap(#[from] crate::ZapError),
    /// The NULL mechanism has no server role (23/ZMTP: as-server SHALL be zero).
    #[error("peer set as-server with the NULL mechanism")]
    AsServerWithNull,
    /// A data frame arrived before the handshake completed.
    #[error("peer sent a message frame before READY")]
    DataBeforeReady,
    /// A command other than READY (or ERROR) arrived first.
    #[error("peer sent {name} before READY")]
    UnexpectedCommand {
        /// The command's name.
        name: String,
    },
    /// The peer's socket type may not talk to ours.
    #[error("peer socket type {theirs} is not compatible with {ours}")]
    IncompatibleSocketType {
        /// Our type.
        ours: crate::SocketType,
        /// The peer's type.
        theirs: crate::SocketType,
    },
    /// The peer's `Socket-Type` value names no socket type we know.
    #[error("peer socket type {theirs:?} is unknown")]
    UnknownSocketType {
        /// The value as sent, lossily decoded.
        theirs: String,
    },
    /// The peer's routing id is over 255 bytes.
    #[error("peer identity of {len} bytes exceeds 255 bytes")]
    IdentityTooLong {
        /// Its length.
        len: usize,
    },
    /// The peer sent ERROR during the handshake.
    #[error("peer refused the handshake: {reason}")]
    PeerError {
        /// The reason the peer gave, lossily decoded.
        reason: String,
    },
    /// The handshake did not complete within the handshake interval.
    #[error("handshake did not complete in time")]
    Timeout,
}
