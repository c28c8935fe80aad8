//! ZMTP commands (37/ZMTP "Commands"): READY with metadata, ERROR, PING, PONG, SUBSCRIBE,
//! CANCEL; any other name passes through as [`Command::Unknown`].
//!
//! Parsing slices the frame body (`Bytes`), so names, values and topics are never copied.
//! Every index is checked against the remaining length before it is used: no parse panics.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::{CommandError, MetadataError};
use crate::frame::FrameHeader;
use crate::wire;

/// Most properties one READY may carry; more is treated as abuse.
pub const MAX_PROPERTIES: usize = 256;

/// READY's metadata: name/value properties in the order received. Names compare
/// case-insensitively (37/ZMTP: "Property names SHALL be case-insensitive").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    props: Vec<(Bytes, Bytes)>,
}

impl Metadata {
    /// Empty metadata.
    pub fn new() -> Metadata {
        Metadata::default()
    }

    /// Adds a property (builder style). Names over 255 bytes are cut to 255 and values over
    /// `u32::MAX` bytes cannot be encoded; both are local programming errors, not peer input.
    pub fn with(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Metadata {
        self.push(name.into(), value.into());
        self
    }

    /// Adds a property.
    pub fn push(&mut self, name: Bytes, value: Bytes) {
        self.props.push((name, value));
    }

    /// The value of the first property named `name`, compared case-insensitively.
    pub fn get(&self, name: &str) -> Option<&Bytes> {
        self.props
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
            .map(|(_, v)| v)
    }

    /// The same properties, copied into one buffer of their own: parsed ones are slices of
    /// the buffer their command was read into, which they would keep alive whole for as
    /// long as they are kept.
    pub fn detached(&self) -> Metadata {
        let total = self.props.iter().map(|(n, v)| n.len() + v.len()).sum();
        let mut buf = BytesMut::with_capacity(total);
        for (n, v) in &self.props {
            buf.extend_from_slice(n);
            buf.extend_from_slice(v);
        }
        let mut all = buf.freeze();
        let props = self
            .props
            .iter()
            .map(|(n, v)| {
                let name = all.split_to(n.len());
                (name, all.split_to(v.len()))
            })
            .collect();
        Metadata { props }
    }

    /// All properties, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &Bytes)> {
        self.props.iter().map(|(n, v)| (n, v))
    }

    /// Number of properties.
    pub fn len(&self) -> usize {
        self.props.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.props.is_empty()
    }

    /// Parses `*property` where `property = OCTET name 4OCTET value`.
    pub fn parse(mut data: Bytes) -> Result<Metadata, MetadataError> {
        let mut md = Metadata::new();
        while !data.is_empty() {
            if md.props.len() == MAX_PROPERTIES {
                return Err(MetadataError::TooManyProperties {
                    limit: MAX_PROPERTIES,
                });
            }
            let name_len = usize::from(data[0]);
            if name_len == 0 {
                return Err(MetadataError::EmptyName);
            }
            if data.len() - 1 < name_len {
                return Err(MetadataError::NameTruncated {
                    declared: name_len,
                    available: data.len() - 1,
                });
            }
            let name = data.slice(1..1 + name_len);
            let rest = &data[1 + name_len..];
            let lossy = || String::from_utf8_lossy(&name).into_owned();
            if rest.len() < 4 {
                return Err(MetadataError::ValueLengthTruncated { name: lossy() });
            }
            let value_len = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
            let available = rest.len() - 4;
            // u32 -> u64 is lossless; compare before converting to usize.
            if u64::from(value_len) > available as u64 {
                return Err(MetadataError::ValueTruncated {
                    name: lossy(),
                    declared: u64::from(value_len),
                    available,
                });
            }
            let value_len = value_len as usize; // <= available, so it fits
            if md.get_bytes(&name).is_some() {
                return Err(MetadataError::Duplicate { name: lossy() });
            }
            let start = 1 + name_len + 4;
            let value = data.slice(start..start + value_len);
            md.props.push((name, value));
            data = data.slice(start + value_len..);
        }
        Ok(md)
    }

    fn get_bytes(&self, name: &[u8]) -> Option<&Bytes> {
        self.props
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Encoded length of the properties.
    pub fn encoded_len(&self) -> usize {
        self.props
            .iter()
            .map(|(n, v)| 1 + n.len().min(255) + 4 + v.len())
            .sum()
    }

    /// Appends the properties.
    pub fn encode(&self, out: &mut impl BufMut) {
        for (n, v) in &self.props {
            let n = &n[..n.len().min(255)];
            out.put_u8(n.len() as u8); // <= 255 by the slice above
            out.put_slice(n);
            out.put_u32(u32::try_from(v.len()).unwrap_or(u32::MAX));
            out.put_slice(v);
        }
    }
}

/// A PING (37/ZMTP "Connection Heartbeat").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ping {
    /// The peer's time-to-live in deciseconds (0 = none).
    pub ttl_deciseconds: u16,
    /// The context to echo, at most 16 bytes.
    pub context: Bytes,
}

/// ERROR's data: `OCTET reason`, bytes after the reason ignored.
fn parse_error_reason(data: Bytes) -> Result<Command, CommandError> {
    let Some(&len) = data.first() else {
        return Err(CommandError::ErrorReasonMissing);
    };
    let len = usize::from(len);
    if data.len() - 1 < len {
        return Err(CommandError::ErrorReasonTruncated {
            declared: len,
            available: data.len() - 1,
        });
    }
    Ok(Command::Error {
        reason: data.slice(1..1 + len),
    })
}

/// A ZMTP command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// READY with the sender's metadata.
    Ready(Metadata),
    /// ERROR with a reason (at most 255 bytes).
    Error {
        /// Why the peer closes.
        reason: Bytes,
    },
    /// PING.
    Ping(Ping),
    /// PONG echoing a PING's context.
    Pong {
        /// The echoed context.
        context: Bytes,
    },
    /// SUBSCRIBE (ZMTP 3.1).
    Subscribe(Bytes),
    /// CANCEL (ZMTP 3.1).
    Cancel(Bytes),
    /// A command this codec does not interpret.
    Unknown {
        /// Its name.
        name: Bytes,
        /// Everything after the name.
        body: Bytes,
    },
}

impl Command {
    /// The command's wire name.
    pub fn name(&self) -> &[u8] {
        match self {
            Command::Ready(_) => wire::CMD_READY,
            Command::Error { .. } => wire::CMD_ERROR,
            Command::Ping(_) => wire::CMD_PING,
            Command::Pong { .. } => wire::CMD_PONG,
            Command::Subscribe(_) => wire::CMD_SUBSCRIBE,
            Command::Cancel(_) => wire::CMD_CANCEL,
            Command::Unknown { name, .. } => name,
        }
    }

    /// Parses a command frame's body: `OCTET name *OCTET data`.
    pub fn parse(body: Bytes) -> Result<Command, CommandError> {
        let Some(&name_len) = body.first() else {
            return Err(CommandError::Empty);
        };
        let name_len = usize::from(name_len);
        if name_len == 0 {
            return Err(CommandError::EmptyName);
        }
        if body.starts_with(wire::LIBZMQ_PLAIN_ERROR) {
            // libzmq's PLAIN mechanism writes ERROR's name as the C literal "\x05ERROR",
            // which C reads as the byte 0x5E followed by "RROR": a refused PLAIN client
            // gets `5E 'RROR' len reason`. Read it as the ERROR it means.
            let data = body.slice(wire::LIBZMQ_PLAIN_ERROR.len()..);
            return parse_error_reason(data);
        }
        if body.len() - 1 < name_len {
            return Err(CommandError::NameTruncated {
                declared: name_len,
                available: body.len() - 1,
            });
        }
        let name = &body[1..1 + name_len];
        let data = body.slice(1 + name_len..);
        Ok(match name {
            wire::CMD_READY => Command::Ready(Metadata::parse(data)?),
            wire::CMD_ERROR => parse_error_reason(data)?,
            wire::CMD_PING => {
                // A PING too short to hold its TTL has TTL 0 and an empty context: we never
                // echo bytes the peer did not send in this command.
                if data.len() < 2 {
                    Command::Ping(Ping {
                        ttl_deciseconds: 0,
                        context: Bytes::new(),
                    })
                } else {
                    let end = data.len().min(2 + wire::MAX_PING_CONTEXT);
                    Command::Ping(Ping {
                        ttl_deciseconds: u16::from_be_bytes([data[0], data[1]]),
                        context: data.slice(2..end),
                    })
                }
            }
            // Contexts are at most 16 bytes (37/ZMTP); a longer one is cut like PING's.
            wire::CMD_PONG => Command::Pong {
                context: data.slice(..data.len().min(wire::MAX_PING_CONTEXT)),
            },
            wire::CMD_SUBSCRIBE => Command::Subscribe(data),
            wire::CMD_CANCEL => Command::Cancel(data),
            _ => Command::Unknown {
                name: body.slice(1..1 + name_len),
                body: data,
            },
        })
    }

    /// Appends ERROR as libzmq's PLAIN mechanism writes it (see [`wire::LIBZMQ_PLAIN_ERROR`]):
    /// the form libzmq's PLAIN clients recognise as a refusal with a ZAP status code. Our
    /// decoder reads both forms.
    pub fn encode_libzmq_plain_error(reason: &[u8], out: &mut BytesMut) {
        let reason = &reason[..reason.len().min(255)];
        let len = wire::LIBZMQ_PLAIN_ERROR.len() + 1 + reason.len();
        FrameHeader::command(len as u64).encode(out);
        out.put_slice(wire::LIBZMQ_PLAIN_ERROR);
        out.put_u8(reason.len() as u8); // <= 255 by the slice above
        out.put_slice(reason);
    }

    /// Parses a command frame's body as [`Command::parse`] does for ERROR, and leaves every
    /// other command unparsed ([`Command::Unknown`]): for a mechanism whose commands carry
    /// boxes where ZMTP's READY would carry properties (CURVE's READY).
    pub fn parse_raw(body: Bytes) -> Result<Command, CommandError> {
        let name_len = usize::from(*body.first().ok_or(CommandError::Empty)?);
        if body.starts_with(wire::LIBZMQ_PLAIN_ERROR)
            || body.get(1..1 + name_len) == Some(wire::CMD_ERROR)
        {
            return Command::parse(body);
        }
        if name_len == 0 {
            return Err(CommandError::EmptyName);
        }
        if body.len() - 1 < name_len {
            return Err(CommandError::NameTruncated {
                declared: name_len,
                available: body.len() - 1,
            });
        }
        Ok(Command::Unknown {
            name: body.slice(1..1 + name_len),
            body: body.slice(1 + name_len..),
        })
    }

    /// Length of the command body (name length byte, name, data).
    pub fn body_len(&self) -> usize {
        1 + self.name().len()
            + match self {
                Command::Ready(md) => md.encoded_len(),
                Command::Error { reason } => 1 + reason.len().min(255),
                Command::Ping(p) => 2 + p.context.len().min(wire::MAX_PING_CONTEXT),
                Command::Pong { context } => context.len().min(wire::MAX_PING_CONTEXT),
                Command::Subscribe(t) | Command::Cancel(t) => t.len(),
                Command::Unknown { body, .. } => body.len(),
            }
    }

    /// Appends the whole command frame (header and body). PONG and PING contexts are cut
    /// to 16 bytes and ERROR reasons to 255, as the grammar requires.
    pub fn encode(&self, out: &mut BytesMut) {
        let len = self.body_len();
        out.reserve(len + wire::MAX_HEADER_LEN);
        FrameHeader::command(len as u64).encode(out);
        let name = self.name();
        out.put_u8(name.len().min(255) as u8);
        out.put_slice(&name[..name.len().min(255)]);
        match self {
            Command::Ready(md) => md.encode(out),
            Command::Error { reason } => {
                let r = &reason[..reason.len().min(255)];
                out.put_u8(r.len() as u8);
                out.put_slice(r);
            }
            Command::Ping(p) => {
                out.put_u16(p.ttl_deciseconds);
                out.put_slice(&p.context[..p.context.len().min(wire::MAX_PING_CONTEXT)]);
            }
            Command::Pong { context } => {
                out.put_slice(&context[..context.len().min(wire::MAX_PING_CONTEXT)]);
            }
            Command::Subscribe(t) | Command::Cancel(t) => out.put_slice(t),
            Command::Unknown { body, .. } => out.put_slice(body),
        }
    }
}

/// A subscription change, however it travelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// `true` to subscribe, `false` to cancel.
    pub subscribe: bool,
    /// The topic prefix.
    pub topic: Bytes,
}

impl Subscription {
    /// Reads a ZMTP 3.0-style subscription: a single-frame data message whose first byte is
    /// `0x01` (subscribe) or `0x00` (cancel). Any other message is not a subscription.
    pub fn from_data_frame(body: &Bytes) -> Option<Subscription> {
        match body.first() {
            Some(&wire::SUB_3_0_SUBSCRIBE) => Some(Subscription {
                subscribe: true,
                topic: body.slice(1..),
            }),
            Some(&wire::SUB_3_0_CANCEL) => Some(Subscription {
                subscribe: false,
                topic: body.slice(1..),
            }),
            _ => None,
        }
    }

    /// Reads a SUBSCRIBE or CANCEL command.
    pub fn from_command(cmd: &Command) -> Option<Subscription> {
        match cmd {
            Command::Subscribe(t) => Some(Subscription {
                subscribe: true,
                topic: t.clone(),
            }),
            Command::Cancel(t) => Some(Subscription {
                subscribe: false,
                topic: t.clone(),
            }),
            _ => None,
        }
    }

    /// Appends this subscription in the form a peer of `version` expects: a command for
    /// 3.1 and later, a data frame for 3.0.
    pub fn encode(&self, version: crate::Version, out: &mut BytesMut) {
        if version.has_subscribe_commands() {
            let cmd = if self.subscribe {
                Command::Subscribe(self.topic.clone())
            } else {
                Command::Cancel(self.topic.clone())
            };
            cmd.encode(out);
        } else {
            let len = 1 + self.topic.len();
            FrameHeader::data(len as u64, false).encode(out);
            out.put_u8(if self.subscribe {
                wire::SUB_3_0_SUBSCRIBE
            } else {
                wire::SUB_3_0_CANCEL
            });
            out.put_slice(&self.topic);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Buf;

    fn body_of(cmd: &Command) -> Bytes {
        let mut out = BytesMut::new();
        cmd.encode(&mut out);
        let hdr = FrameHeader::parse(&out).unwrap();
        out.advance(hdr.header_len());
        out.freeze()
    }

    /// Detached metadata is equal, and shares nothing with the command it came from.
    #[test]
    fn detached_metadata_is_equal_and_owns_its_bytes() {
        let c = Command::Ready(
            Metadata::new()
                .with("Socket-Type", "DEALER")
                .with("Identity", "")
                .with("X-Pad", vec![7u8; 1000]),
        );
        let Ok(Command::Ready(parsed)) = Command::parse(body_of(&c)) else {
            panic!("READY");
        };
        let detached = parsed.detached();
        assert_eq!(detached, parsed);
        // Parsed values are slices of the body; detached ones are not.
        let parsed_pad = parsed.get("X-Pad").unwrap();
        let detached_pad = detached.get("X-Pad").unwrap();
        assert_ne!(parsed_pad.as_ptr(), detached_pad.as_ptr());
        drop(parsed);
        assert_eq!(&detached_pad[..], &[7u8; 1000][..]);
    }

    #[test]
    fn every_command_round_trips() {
        let cmds = [
            Command::Ready(
                Metadata::new()
                    .with("Socket-Type", "DEALER")
                    .with("Identity", ""),
            ),
            Command::Error {
                reason: Bytes::from_static(b"Invalid socket type"),
            },
            Command::Ping(Ping {
                ttl_deciseconds: 0xFFFF,
                context: Bytes::from_static(b"0123456789abcdef"),
            }),
            Command::Pong {
                context: Bytes::from_static(b"ctx"),
            },
            Command::Subscribe(Bytes::from_static(b"topic")),
            Command::Cancel(Bytes::new()),
            Command::Unknown {
                name: Bytes::from_static(b"HELLO"),
                body: Bytes::from_static(b"\x00\x01"),
            },
        ];
        for c in cmds {
            assert_eq!(Command::parse(body_of(&c)), Ok(c.clone()));
        }
    }

    #[test]
    fn property_names_are_case_insensitive() {
        let md = Metadata::parse(
            body_of(&Command::Ready(Metadata::new().with("socket-type", "PUB"))).slice(6..),
        )
        .unwrap();
        assert_eq!(md.get("Socket-Type").map(|v| &v[..]), Some(&b"PUB"[..]));
    }

    #[test]
    fn malformed_metadata_is_reported_precisely() {
        let cases: &[(&[u8], MetadataError)] = &[
            (b"\x00\x00\x00\x00\x00", MetadataError::EmptyName),
            (
                b"\x05Ab",
                MetadataError::NameTruncated {
                    declared: 5,
                    available: 2,
                },
            ),
            (
                b"\x01A\x00\x00",
                MetadataError::ValueLengthTruncated { name: "A".into() },
            ),
            (
                b"\x01A\xFF\xFF\xFF\xFFxy",
                MetadataError::ValueTruncated {
                    name: "A".into(),
                    declared: 0xFFFF_FFFF,
                    available: 2,
                },
            ),
            (
                b"\x01A\x00\x00\x00\x00\x01a\x00\x00\x00\x00",
                MetadataError::Duplicate { name: "a".into() },
            ),
            (
                b"\x01A\x00\x00\x00\x00\x07",
                MetadataError::NameTruncated {
                    declared: 7,
                    available: 0,
                },
            ),
        ];
        for (input, err) in cases {
            assert_eq!(
                Metadata::parse(Bytes::copy_from_slice(input)),
                Err(err.clone()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn too_many_properties_is_an_error() {
        let mut md = Metadata::new();
        for i in 0..=MAX_PROPERTIES {
            md.push(Bytes::from(format!("p{i}")), Bytes::new());
        }
        let mut out = BytesMut::new();
        md.encode(&mut out);
        assert_eq!(
            Metadata::parse(out.freeze()),
            Err(MetadataError::TooManyProperties {
                limit: MAX_PROPERTIES
            })
        );
    }

    #[test]
    fn short_and_long_pings_never_echo_foreign_bytes() {
        for (body, ctx) in [
            (&b"\x04PING"[..], &b""[..]),
            (b"\x04PINGx", b""),
            (b"\x04PING\x00\x01", b""),
            (
                b"\x04PING\x00\x01abcdefghijklmnopqrstuvwxyz",
                b"abcdefghijklmnop",
            ),
        ] {
            match Command::parse(Bytes::copy_from_slice(body)) {
                Ok(Command::Ping(p)) => assert_eq!(&p.context[..], ctx),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn error_command_bounds_are_checked() {
        assert_eq!(
            Command::parse(Bytes::from_static(b"\x05ERROR\x09abc")),
            Err(CommandError::ErrorReasonTruncated {
                declared: 9,
                available: 3
            })
        );
        assert_eq!(
            Command::parse(Bytes::from_static(b"\x05ERROR")),
            Err(CommandError::ErrorReasonMissing)
        );
        assert_eq!(
            Command::parse(Bytes::from_static(b"\x09READY")),
            Err(CommandError::NameTruncated {
                declared: 9,
                available: 5
            })
        );
        assert_eq!(Command::parse(Bytes::new()), Err(CommandError::Empty));
        assert_eq!(
            Command::parse(Bytes::from_static(b"\x00")),
            Err(CommandError::EmptyName)
        );
    }

    #[test]
    fn subscriptions_in_both_forms() {
        let s = Subscription {
            subscribe: true,
            topic: Bytes::from_static(b"A"),
        };
        let mut v31 = BytesMut::new();
        s.encode(crate::Version::V3_1, &mut v31);
        assert_eq!(&v31[..], b"\x04\x0b\x09SUBSCRIBEA");
        let mut v30 = BytesMut::new();
        s.encode(crate::Version::V3_0, &mut v30);
        assert_eq!(&v30[..], b"\x00\x02\x01A");
        assert_eq!(
            Subscription::from_data_frame(&Bytes::from_static(b"\x01A")),
            Some(s)
        );
        assert_eq!(
            Subscription::from_data_frame(&Bytes::from_static(b"hello")),
            None
        );
    }
}
