//! The 64-byte ZMTP greeting (37/ZMTP, "Version Negotiation" and "Security Handshake").

use bytes::BufMut;

use crate::error::DecodeError;
use crate::wire;

/// A security mechanism name from the greeting (at most 20 bytes, no NUL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mechanism {
    name: [u8; wire::MECHANISM_LEN],
    len: u8,
}

impl Mechanism {
    /// The NULL mechanism (23/ZMTP section "The NULL Security Mechanism").
    pub const NULL: Mechanism = Mechanism::from_static(b"NULL");
    /// The PLAIN mechanism (24/ZMTP-PLAIN).
    pub const PLAIN: Mechanism = Mechanism::from_static(b"PLAIN");
    /// The CURVE mechanism (26/CurveZMQ).
    pub const CURVE: Mechanism = Mechanism::from_static(b"CURVE");

    const fn from_static(s: &[u8]) -> Mechanism {
        let mut name = [0u8; wire::MECHANISM_LEN];
        let mut i = 0;
        while i < s.len() {
            name[i] = s[i];
            i += 1;
        }
        Mechanism {
            name,
            len: s.len() as u8,
        }
    }

    /// Reads the 20-byte field: the name is everything before the first NUL.
    pub fn from_field(field: &[u8; wire::MECHANISM_LEN]) -> Mechanism {
        let len = field
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(wire::MECHANISM_LEN);
        let mut name = [0u8; wire::MECHANISM_LEN];
        name[..len].copy_from_slice(&field[..len]);
        Mechanism {
            name,
            len: len as u8,
        }
    }

    /// The name's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.name[..usize::from(self.len)]
    }

    /// The name as text, non-UTF-8 bytes replaced.
    pub fn to_string_lossy(&self) -> String {
        String::from_utf8_lossy(self.as_bytes()).into_owned()
    }
}

/// A ZMTP protocol version from the greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// Major version ("revision"): 3 for ZMTP 3.x.
    pub major: u8,
    /// Minor version: 0 for ZMTP 3.0, 1 for 3.1.
    pub minor: u8,
}

impl Version {
    /// ZMTP 3.0.
    pub const V3_0: Version = Version { major: 3, minor: 0 };
    /// ZMTP 3.1, what we speak.
    pub const V3_1: Version = Version { major: 3, minor: 1 };

    /// Whether a peer of this version takes subscriptions as SUBSCRIBE/CANCEL commands
    /// (3.1 and later) rather than as `0x01`/`0x00` data frames (3.0).
    pub fn has_subscribe_commands(self) -> bool {
        self >= Version::V3_1
    }
}

/// A peer's decoded greeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Greeting {
    /// The version the peer announced (at least 3.0).
    pub version: Version,
    /// The peer's security mechanism.
    pub mechanism: Mechanism,
    /// The peer's as-server bit.
    pub as_server: bool,
}

impl Greeting {
    /// Our greeting: version 3.1, NULL, as-server 0.
    pub const fn ours() -> Greeting {
        Greeting {
            version: Version::V3_1,
            mechanism: Mechanism::NULL,
            as_server: false,
        }
    }

    /// Appends the full 64 bytes: signature `FF 00*8 7F`, version, mechanism padded with
    /// zeros to 20 bytes, as-server, 31 zero bytes of filler.
    pub fn encode(&self, out: &mut impl BufMut) {
        out.put_slice(&self.to_bytes());
    }

    /// The 64 bytes of this greeting.
    pub fn to_bytes(&self) -> [u8; wire::GREETING_LEN] {
        let mut g = [0u8; wire::GREETING_LEN];
        g[wire::SIG_START] = wire::SIG_FIRST;
        g[wire::SIG_END] = wire::SIG_LAST;
        g[wire::MAJOR] = self.version.major;
        g[wire::MINOR] = self.version.minor;
        let m = self.mechanism.as_bytes();
        g[wire::MECHANISM..wire::MECHANISM + m.len()].copy_from_slice(m);
        g[wire::AS_SERVER] = u8::from(self.as_server);
        g
    }

    /// Checks a prefix of a peer's greeting: as soon as the bytes that decide an error have
    /// arrived, the error is reported, so that an unversioned or old peer is caught after 10
    /// or 11 bytes (libzmq sends its greeting in such steps). `Ok(None)`: more bytes needed.
    ///
    /// Never panics: every index is checked against `bytes.len()` first.
    pub fn decode_prefix(bytes: &[u8]) -> Result<Option<Greeting>, DecodeError> {
        if bytes.len() > wire::SIG_END {
            // 23/ZMTP: a ZMTP 1.0 peer starts with a length byte and its final byte has the
            // low bit clear; we do not speak 1.0.
            if bytes[wire::SIG_START] != wire::SIG_FIRST || bytes[wire::SIG_END] & 0x01 == 0 {
                return Err(DecodeError::UnversionedPeer);
            }
        }
        if bytes.len() > wire::MAJOR && bytes[wire::MAJOR] < wire::VERSION_MAJOR {
            return Err(DecodeError::OldRevision {
                revision: bytes[wire::MAJOR],
            });
        }
        if bytes.len() < wire::GREETING_LEN {
            return Ok(None);
        }
        let mut field = [0u8; wire::MECHANISM_LEN];
        field.copy_from_slice(&bytes[wire::MECHANISM..wire::MECHANISM + wire::MECHANISM_LEN]);
        // The filler (33..64) is ignored, as 37/ZMTP lets future versions use it.
        Ok(Some(Greeting {
            version: Version {
                major: bytes[wire::MAJOR],
                minor: bytes[wire::MINOR],
            },
            mechanism: Mechanism::from_field(&field),
            as_server: bytes[wire::AS_SERVER] != 0,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn our_greeting_has_the_exact_bytes() {
        let g = Greeting::ours().to_bytes();
        let mut want = [0u8; 64];
        want[0] = 0xFF;
        want[9] = 0x7F;
        want[10] = 3;
        want[11] = 1;
        want[12..16].copy_from_slice(b"NULL");
        assert_eq!(g, want);
    }

    #[test]
    fn every_prefix_of_a_good_greeting_needs_more() {
        let g = Greeting::ours().to_bytes();
        for n in 0..64 {
            assert_eq!(Greeting::decode_prefix(&g[..n]), Ok(None), "prefix {n}");
        }
        assert_eq!(Greeting::decode_prefix(&g), Ok(Some(Greeting::ours())));
    }

    #[test]
    fn libzmq_style_padding_is_ignored() {
        let mut g = Greeting::ours().to_bytes();
        g[8] = 1; // libzmq puts identity length + 1 in the padding
        g[40] = 0xAA; // filler
        assert_eq!(Greeting::decode_prefix(&g), Ok(Some(Greeting::ours())));
    }

    #[test]
    fn unversioned_and_old_peers_are_caught_early() {
        let mut g = Greeting::ours().to_bytes();
        g[9] = 0x7E;
        assert_eq!(
            Greeting::decode_prefix(&g[..10]),
            Err(DecodeError::UnversionedPeer)
        );
        let mut g = Greeting::ours().to_bytes();
        g[0] = 0x05;
        assert_eq!(
            Greeting::decode_prefix(&g[..10]),
            Err(DecodeError::UnversionedPeer)
        );
        for rev in [0u8, 1, 2] {
            let mut g = Greeting::ours().to_bytes();
            g[10] = rev;
            assert_eq!(
                Greeting::decode_prefix(&g[..11]),
                Err(DecodeError::OldRevision { revision: rev })
            );
        }
    }

    #[test]
    fn later_versions_are_accepted_and_reported() {
        for (maj, min) in [(3, 0), (3, 1), (3, 7), (4, 0)] {
            let mut g = Greeting::ours().to_bytes();
            g[10] = maj;
            g[11] = min;
            let got = Greeting::decode_prefix(&g).unwrap().unwrap();
            assert_eq!(
                got.version,
                Version {
                    major: maj,
                    minor: min
                }
            );
        }
        assert!(!Version::V3_0.has_subscribe_commands());
        assert!(Version { major: 4, minor: 0 }.has_subscribe_commands());
    }
}
