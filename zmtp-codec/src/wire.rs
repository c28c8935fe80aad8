//! Wire constants of ZMTP 3.x, in one place (37/ZMTP sections "Formal Grammar" and
//! "Version Negotiation"). Offsets are into the 64-byte greeting.

/// Length of the whole greeting.
pub const GREETING_LEN: usize = 64;
/// Offset of the signature's first byte (0xFF).
pub const SIG_START: usize = 0;
/// Offset of the signature's last byte (0x7F; its low bit marks a versioned peer).
pub const SIG_END: usize = 9;
/// Offset of the major version ("revision") byte.
pub const MAJOR: usize = 10;
/// Offset of the minor version byte.
pub const MINOR: usize = 11;
/// Offset of the 20-byte mechanism name.
pub const MECHANISM: usize = 12;
/// Length of the mechanism field.
pub const MECHANISM_LEN: usize = 20;
/// Offset of the as-server byte.
pub const AS_SERVER: usize = 32;

/// First signature byte.
pub const SIG_FIRST: u8 = 0xFF;
/// Last signature byte as we send it.
pub const SIG_LAST: u8 = 0x7F;
/// Our version: 3.1.
pub const VERSION_MAJOR: u8 = 0x03;
/// Our minor version.
pub const VERSION_MINOR: u8 = 0x01;

/// Frame flag: more frames follow in this message.
pub const FLAG_MORE: u8 = 0x01;
/// Frame flag: the size is 8 bytes, big-endian.
pub const FLAG_LONG: u8 = 0x02;
/// Frame flag: this frame is a command.
pub const FLAG_COMMAND: u8 = 0x04;

/// Largest body a short frame can carry.
pub const SHORT_MAX: usize = 0xFF;
/// Longest frame header: flags + 8-byte size.
pub const MAX_HEADER_LEN: usize = 9;

/// Command names.
pub const CMD_READY: &[u8] = b"READY";
/// ERROR command name.
pub const CMD_ERROR: &[u8] = b"ERROR";
/// PING command name.
pub const CMD_PING: &[u8] = b"PING";
/// PONG command name.
pub const CMD_PONG: &[u8] = b"PONG";
/// SUBSCRIBE command name (ZMTP 3.1).
pub const CMD_SUBSCRIBE: &[u8] = b"SUBSCRIBE";
/// CANCEL command name (ZMTP 3.1).
pub const CMD_CANCEL: &[u8] = b"CANCEL";

/// The first bytes of ERROR as libzmq's PLAIN mechanism sends it: its C source spells the
/// name `"\x05ERROR"`, a hex escape that swallows the `E`, so the frame carries `0x5E`
/// then `RROR` (every libzmq release; both its PLAIN sides expect this form).
pub const LIBZMQ_PLAIN_ERROR: &[u8] = b"\x5eRROR";

/// Largest PING context echoed in a PONG (37/ZMTP: "up to 16 octets").
pub const MAX_PING_CONTEXT: usize = 16;

/// Metadata property naming the sender's socket type.
pub const PROP_SOCKET_TYPE: &str = "Socket-Type";
/// Metadata property carrying the sender's routing id.
pub const PROP_IDENTITY: &str = "Identity";

/// ZMTP 3.0 subscription messages: first byte of a subscribe data frame.
pub const SUB_3_0_SUBSCRIBE: u8 = 0x01;
/// ZMTP 3.0 subscription messages: first byte of a cancel data frame.
pub const SUB_3_0_CANCEL: u8 = 0x00;
