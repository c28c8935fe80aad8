//! Security mechanisms and authentication: which mechanism a side speaks and in which
//! role ([`Security`]), the PLAIN mechanism's commands (24/ZMTP-PLAIN), and the ZAP
//! request and reply (27/ZAP) that a server side hands to an authenticator.
//!
//! A handshake that must authenticate its peer stops and yields
//! [`Event::Authenticate`](crate::Event::Authenticate) with a [`ZapRequest`]; the caller
//! asks its authenticator (a function in the same process, or a ZAP handler socket, whose
//! reply [`ZapReply::parse`] reads) and passes the answer to
//! [`Handshake::authenticated`](crate::Handshake::authenticated).

use bytes::{BufMut, Bytes, BytesMut};
use thiserror::Error;

use crate::command::Metadata;
use crate::curve::CurveSecretKey;
use crate::greeting::Mechanism;

/// Longest PLAIN user name or password (one length byte on the wire).
pub const PLAIN_MAX_FIELD: usize = 255;

/// The security mechanism of one side, with its role and what that role needs.
#[derive(Clone, Default, PartialEq, Eq)]
pub enum Security {
    /// NULL (23/ZMTP): no authentication unless a ZAP domain is set, no encryption.
    #[default]
    Null,
    /// A PLAIN client (24/ZMTP-PLAIN) sending this user name and password (each at most
    /// [`PLAIN_MAX_FIELD`] bytes, checked by [`Security::plain_client`]).
    PlainClient {
        /// The user name.
        username: Bytes,
        /// The password.
        password: Bytes,
    },
    /// A PLAIN server: every client's user name and password go to the authenticator.
    PlainServer,
    /// A CURVE client (26/CurveZMQ) of the server whose long-term public key is `server`,
    /// with its own long-term key pair (`public` derived from `secret` when `None`).
    CurveClient {
        /// The server's public key.
        server: [u8; crate::curve::KEY_LEN],
        /// Our public key, as given (libzmq's CURVE_PUBLICKEY).
        public: Option<[u8; crate::curve::KEY_LEN]>,
        /// Our secret key.
        secret: CurveSecretKey,
    },
    /// A CURVE server with this long-term secret key: every client's long-term public key
    /// goes to the authenticator (when there is one).
    CurveServer {
        /// Our secret key.
        secret: CurveSecretKey,
    },
}

impl std::fmt::Debug for Security {
    // Never prints a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Security::Null => f.write_str("Null"),
            Security::PlainClient { username, .. } => f
                .debug_struct("PlainClient")
                .field("username", username)
                .finish_non_exhaustive(),
            Security::PlainServer => f.write_str("PlainServer"),
            Security::CurveClient { server, .. } => f
                .debug_struct("CurveClient")
                .field("server", &crate::curve::z85_encode(server))
                .finish_non_exhaustive(),
            Security::CurveServer { .. } => f.write_str("CurveServer"),
        }
    }
}

/// A PLAIN user name or password longer than [`PLAIN_MAX_FIELD`] bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[error("a PLAIN user name or password is at most 255 bytes, not {len}")]
pub struct PlainFieldTooLong {
    /// The length given.
    pub len: usize,
}

impl Security {
    /// A PLAIN client, after checking that both fields fit in one length byte.
    pub fn plain_client(
        username: impl Into<Bytes>,
        password: impl Into<Bytes>,
    ) -> Result<Security, PlainFieldTooLong> {
        let (username, password) = (username.into(), password.into());
        for f in [&username, &password] {
            if f.len() > PLAIN_MAX_FIELD {
                return Err(PlainFieldTooLong { len: f.len() });
            }
        }
        Ok(Security::PlainClient { username, password })
    }

    /// The mechanism named in our greeting.
    pub fn mechanism(&self) -> Mechanism {
        match self {
            Security::Null => Mechanism::NULL,
            Security::PlainClient { .. } | Security::PlainServer => Mechanism::PLAIN,
            Security::CurveClient { .. } | Security::CurveServer { .. } => Mechanism::CURVE,
        }
    }

    /// Our greeting's as-server bit.
    pub fn as_server(&self) -> bool {
        matches!(self, Security::PlainServer | Security::CurveServer { .. })
    }
}

// ----- PLAIN commands (24/ZMTP-PLAIN) -----

/// PLAIN's command names.
pub(crate) const CMD_HELLO: &[u8] = b"HELLO";
pub(crate) const CMD_WELCOME: &[u8] = b"WELCOME";
pub(crate) const CMD_INITIATE: &[u8] = b"INITIATE";

/// The body of a PLAIN HELLO after its name: `OCTET username OCTET password`.
pub(crate) fn plain_hello_body(username: &[u8], password: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(2 + username.len() + password.len());
    // Both at most 255 bytes: `Security::plain_client` checked them.
    b.put_u8(username.len().min(PLAIN_MAX_FIELD) as u8);
    b.put_slice(&username[..username.len().min(PLAIN_MAX_FIELD)]);
    b.put_u8(password.len().min(PLAIN_MAX_FIELD) as u8);
    b.put_slice(&password[..password.len().min(PLAIN_MAX_FIELD)]);
    b.freeze()
}

/// Reads a PLAIN HELLO's body (after the name): the user name and the password, with
/// nothing after them. Never panics: every length is checked against what is left.
pub fn parse_plain_hello(body: &Bytes) -> Option<(Bytes, Bytes)> {
    let ulen = usize::from(*body.first()?);
    let rest = body.get(1..)?;
    if rest.len() < ulen + 1 {
        return None;
    }
    let username = body.slice(1..1 + ulen);
    let plen = usize::from(rest[ulen]);
    let pstart = 1 + ulen + 1;
    if body.len() - pstart != plen {
        return None;
    }
    Some((username, body.slice(pstart..)))
}

// ----- ZAP (27/ZAP) -----

/// The ZAP version this side speaks.
pub const ZAP_VERSION: &[u8] = b"1.0";

/// A ZAP status code (27/ZAP: 200, 300, 400 or 500).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZapStatus {
    /// 200: the peer is admitted.
    Success,
    /// 300: a temporary failure; the peer is closed without an ERROR and may try again.
    TemporaryFailure,
    /// 400: the peer's credentials are refused; it is told with an ERROR.
    Denied,
    /// 500: the authenticator failed; the peer is told with an ERROR.
    InternalError,
}

impl ZapStatus {
    /// The numeric code.
    pub fn code(self) -> u16 {
        match self {
            ZapStatus::Success => 200,
            ZapStatus::TemporaryFailure => 300,
            ZapStatus::Denied => 400,
            ZapStatus::InternalError => 500,
        }
    }

    /// The three ASCII digits of the code, as on the wire.
    pub fn as_bytes(self) -> &'static [u8; 3] {
        match self {
            ZapStatus::Success => b"200",
            ZapStatus::TemporaryFailure => b"300",
            ZapStatus::Denied => b"400",
            ZapStatus::InternalError => b"500",
        }
    }

    /// Reads three ASCII digits: `200`, `300`, `400` or `500` (what libzmq accepts).
    pub fn from_bytes(b: &[u8]) -> Option<ZapStatus> {
        match b {
            b"200" => Some(ZapStatus::Success),
            b"300" => Some(ZapStatus::TemporaryFailure),
            b"400" => Some(ZapStatus::Denied),
            b"500" => Some(ZapStatus::InternalError),
            _ => None,
        }
    }
}

impl std::fmt::Display for ZapStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code())
    }
}

/// What a server side asks its authenticator about one peer (27/ZAP's request fields).
#[derive(Clone, PartialEq, Eq)]
pub struct ZapRequest {
    /// The server socket's ZAP domain (ZAP_DOMAIN; may be empty).
    pub domain: Bytes,
    /// The peer's address as the transport describes it (filled in by the transport: the
    /// handshake knows no addresses).
    pub address: Bytes,
    /// The server socket's own routing id (what libzmq sends in this field).
    pub identity: Bytes,
    /// The mechanism: `NULL`, `PLAIN` or `CURVE`.
    pub mechanism: Mechanism,
    /// The mechanism's credentials: none for NULL, user name and password for PLAIN, the
    /// client's 32-byte long-term public key for CURVE.
    pub credentials: Vec<Bytes>,
}

impl std::fmt::Debug for ZapRequest {
    // Never prints a PLAIN password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = if self.mechanism == Mechanism::PLAIN {
            self.credentials.len().min(1)
        } else {
            self.credentials.len()
        };
        f.debug_struct("ZapRequest")
            .field("domain", &self.domain)
            .field("address", &self.address)
            .field("identity", &self.identity)
            .field("mechanism", &self.mechanism.to_string_lossy())
            .field("credentials", &&self.credentials[..shown])
            .finish()
    }
}

impl ZapRequest {
    /// The request as the frames of a ZAP message, after the empty delimiter a REQ or
    /// DEALER adds: version, request id, domain, address, identity, mechanism, then each
    /// credential.
    pub fn to_frames(&self, request_id: Bytes) -> Vec<Bytes> {
        let mut frames = vec![
            Bytes::from_static(ZAP_VERSION),
            request_id,
            self.domain.clone(),
            self.address.clone(),
            self.identity.clone(),
            Bytes::copy_from_slice(self.mechanism.as_bytes()),
        ];
        frames.extend(self.credentials.iter().cloned());
        frames
    }
}

/// An authenticator's answer (27/ZAP's reply fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZapReply {
    /// The verdict.
    pub status: ZapStatus,
    /// Why, in words (never sent to the peer).
    pub text: Bytes,
    /// Who the peer is, for the application (libzmq's `User-Id` message property).
    pub user_id: Bytes,
    /// Properties the authenticator attaches to the peer's messages.
    pub metadata: Metadata,
}

impl ZapReply {
    /// A 200 reply naming the peer `user_id`.
    pub fn allow(user_id: impl Into<Bytes>) -> ZapReply {
        ZapReply {
            status: ZapStatus::Success,
            text: Bytes::from_static(b"OK"),
            user_id: user_id.into(),
            metadata: Metadata::new(),
        }
    }

    /// A refusal with `status` (300 temporary, 400 denied, 500 internal error) saying why.
    /// A refusal never admits the peer: [`ZapStatus::Success`] given here is taken as
    /// [`ZapStatus::Denied`].
    pub fn refuse(status: ZapStatus, text: impl Into<Bytes>) -> ZapReply {
        let status = match status {
            ZapStatus::Success => ZapStatus::Denied,
            other => other,
        };
        ZapReply {
            status,
            text: text.into(),
            user_id: Bytes::new(),
            metadata: Metadata::new(),
        }
    }

    /// Reads a ZAP handler's reply: the frames after the empty delimiter (version,
    /// request id, status code, status text, user id, metadata: exactly six), checked
    /// against the request id that was sent.
    pub fn parse(frames: &[Bytes], request_id: &[u8]) -> Result<ZapReply, ZapError> {
        let [version, id, status, text, user_id, metadata] = frames else {
            return Err(ZapError::FrameCount {
                count: frames.len(),
            });
        };
        if &version[..] != ZAP_VERSION {
            return Err(ZapError::Version);
        }
        if &id[..] != request_id {
            return Err(ZapError::RequestId);
        }
        let status = ZapStatus::from_bytes(status).ok_or(ZapError::StatusCode)?;
        let metadata = Metadata::parse(metadata.clone()).map_err(|_| ZapError::Metadata)?;
        Ok(ZapReply {
            status,
            text: text.clone(),
            user_id: user_id.clone(),
            metadata,
        })
    }
}

/// Why a ZAP handler's reply was refused (libzmq's ZAP protocol errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ZapError {
    /// Not the six frames of a reply.
    #[error("ZAP reply has {count} frames after the delimiter, not 6")]
    FrameCount {
        /// How many came.
        count: usize,
    },
    /// A version other than 1.0.
    #[error("ZAP reply has a version other than 1.0")]
    Version,
    /// A request id other than the one sent.
    #[error("ZAP reply answers another request")]
    RequestId,
    /// A status code other than 200, 300, 400, 500.
    #[error("ZAP reply has an invalid status code")]
    StatusCode,
    /// The metadata frame is not a list of properties.
    #[error("ZAP reply has malformed metadata")]
    Metadata,
    /// The handler went away (unbound, closed, replaced) before it answered.
    #[error("the ZAP handler went away without answering")]
    Unanswered,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_never_admits() {
        assert_eq!(
            ZapReply::refuse(ZapStatus::Success, "no").status,
            ZapStatus::Denied
        );
        for st in [
            ZapStatus::TemporaryFailure,
            ZapStatus::Denied,
            ZapStatus::InternalError,
        ] {
            assert_eq!(ZapReply::refuse(st, "no").status, st);
        }
    }

    #[test]
    fn plain_hello_round_trips_and_rejects_every_malformed_length() {
        let body = plain_hello_body(b"admin", b"secret");
        assert_eq!(&body[..], b"\x05admin\x06secret");
        assert_eq!(
            parse_plain_hello(&body),
            Some((Bytes::from_static(b"admin"), Bytes::from_static(b"secret")))
        );
        assert_eq!(
            parse_plain_hello(&Bytes::from_static(b"\x00\x00")),
            Some((Bytes::new(), Bytes::new()))
        );
        // Every truncation and every extension is refused.
        for n in 0..body.len() {
            assert_eq!(parse_plain_hello(&body.slice(..n)), None, "{n} bytes");
        }
        let mut longer = BytesMut::from(&body[..]);
        longer.put_u8(0);
        assert_eq!(parse_plain_hello(&longer.freeze()), None);
        assert_eq!(
            parse_plain_hello(&Bytes::from_static(b"\xff\x00")),
            None,
            "a user name past the end"
        );
    }

    #[test]
    fn libzmqs_plain_error_form_is_read_and_written() {
        use crate::{Command, Decoder, Item, Limits};
        // What libzmq 4.3's PLAIN server sent a refused client (recorded).
        let mut wire =
            BytesMut::from(&[4u8, 9, 0x5e, b'R', b'R', b'O', b'R', 3, b'4', b'0', b'0'][..]);
        let mut mine = BytesMut::new();
        Command::encode_libzmq_plain_error(b"400", &mut mine);
        assert_eq!(mine, wire);
        let mut dec = Decoder::frames_only(Limits::default());
        assert_eq!(
            dec.decode(&mut wire),
            Ok(Some(Item::Command(Command::Error {
                reason: Bytes::from_static(b"400")
            })))
        );
    }

    #[test]
    fn plain_fields_over_255_bytes_are_refused() {
        assert!(Security::plain_client(vec![b'a'; 255], vec![b'b'; 255]).is_ok());
        assert_eq!(
            Security::plain_client(vec![b'a'; 256], ""),
            Err(PlainFieldTooLong { len: 256 })
        );
    }

    #[test]
    fn zap_replies_are_checked_as_libzmq_checks_them() {
        let good = |status: &'static [u8]| {
            vec![
                Bytes::from_static(b"1.0"),
                Bytes::from_static(b"7"),
                Bytes::from_static(status),
                Bytes::from_static(b"text"),
                Bytes::from_static(b"alice"),
                Bytes::from_static(b"\x03Foo\x00\x00\x00\x03bar"),
            ]
        };
        let r = ZapReply::parse(&good(b"200"), b"7").unwrap();
        assert_eq!(r.status, ZapStatus::Success);
        assert_eq!(&r.user_id[..], b"alice");
        assert_eq!(r.metadata.get("foo").map(|v| &v[..]), Some(&b"bar"[..]));
        for s in [b"300", b"400", b"500"] {
            assert_eq!(
                ZapReply::parse(&good(s), b"7").unwrap().status.as_bytes(),
                s
            );
        }
        assert_eq!(
            ZapReply::parse(&good(b"201"), b"7"),
            Err(ZapError::StatusCode)
        );
        assert_eq!(
            ZapReply::parse(&good(b"200"), b"8"),
            Err(ZapError::RequestId)
        );
        let mut bad = good(b"200");
        bad[0] = Bytes::from_static(b"2.0");
        assert_eq!(ZapReply::parse(&bad, b"7"), Err(ZapError::Version));
        let mut bad = good(b"200");
        bad[5] = Bytes::from_static(b"\x03Foo\x00\x00\x00\x09bar");
        assert_eq!(ZapReply::parse(&bad, b"7"), Err(ZapError::Metadata));
        assert_eq!(
            ZapReply::parse(&good(b"200")[..5], b"7"),
            Err(ZapError::FrameCount { count: 5 })
        );
    }

    #[test]
    fn a_request_has_rfc_27s_frames_in_order() {
        let r = ZapRequest {
            domain: Bytes::from_static(b"global"),
            address: Bytes::from_static(b"127.0.0.1"),
            identity: Bytes::from_static(b"id"),
            mechanism: Mechanism::PLAIN,
            credentials: vec![Bytes::from_static(b"u"), Bytes::from_static(b"p")],
        };
        let frames = r.to_frames(Bytes::from_static(b"1"));
        let want: [&[u8]; 8] = [
            b"1.0",
            b"1",
            b"global",
            b"127.0.0.1",
            b"id",
            b"PLAIN",
            b"u",
            b"p",
        ];
        assert_eq!(frames.len(), want.len());
        for (f, w) in frames.iter().zip(want) {
            assert_eq!(&f[..], w);
        }
        assert!(
            !format!("{r:?}").contains("\"p\""),
            "the password is never printed"
        );
    }
}
