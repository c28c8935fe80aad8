//! CURVE (26/CurveZMQ over 37/ZMTP): keys and their Z85 text (32/Z85), the handshake's
//! boxes (HELLO, WELCOME, INITIATE with the vouch, READY) and the MESSAGE boxes of traffic.
//!
//! The cryptography is RustCrypto's NaCl `crypto_box` (X25519 and XSalsa20-Poly1305) and
//! `crypto_secretbox`; nothing here implements a primitive. Every length read from a peer
//! is checked against the fixed sizes of 26/CurveZMQ before anything is sliced, a box that
//! does not open is an error (never a panic), and secret keys are zeroed when dropped.

use bytes::{BufMut, Bytes, BytesMut};
use crypto_box::aead::consts::{U10, U24};
use crypto_box::aead::generic_array::GenericArray;
use crypto_box::aead::rand_core::RngCore;
use crypto_box::aead::{AeadCore, AeadInPlace, KeyInit, OsRng};
use crypto_box::{PublicKey, SalsaBox, SecretKey};
use crypto_secretbox::XSalsa20Poly1305;
use curve25519_dalek::montgomery::MontgomeryPoint;
use poly1305::Poly1305;
use salsa20::cipher::{KeyIvInit, StreamCipher};
use salsa20::{hsalsa, Salsa20};
use subtle::ConstantTimeEq;
use thiserror::Error;
use zeroize::{Zeroize, Zeroizing};

use crate::frame::FrameHeader;

/// Bytes in a CURVE key, public or secret.
pub const KEY_LEN: usize = 32;
/// Characters of a key in Z85 text.
pub const Z85_KEY_LEN: usize = 40;

const TAG: usize = 16;

// Command names and the fixed sizes of 26/CurveZMQ's commands (bodies after the name).
pub(crate) const CMD_MESSAGE: &[u8] = b"MESSAGE";
/// HELLO: version (2), padding (72), C' (32), short nonce (8), box of 64 zeros (80).
const HELLO_BODY: usize = 2 + 72 + 32 + 8 + 80;
/// WELCOME: long nonce (16), box of S' and the cookie (144).
const WELCOME_BODY: usize = 16 + 144;
/// The cookie: long nonce (16), secretbox of C' and s' (80).
const COOKIE: usize = 16 + 80;
/// INITIATE without its metadata: cookie, short nonce, box of C, vouch nonce and vouch.
const INITIATE_MIN: usize = COOKIE + 8 + TAG + 32 + 16 + 80;
/// READY without its metadata: short nonce, box overhead.
const READY_MIN: usize = 8 + TAG;
/// A MESSAGE frame's overhead: its name with length byte, short nonce, tag, flags.
pub const MESSAGE_OVERHEAD: usize = 1 + 7 + 8 + TAG + 1;

// ----- keys -----

/// A CURVE secret key (32 bytes), zeroed when dropped; `Debug` never shows it.
#[derive(Clone)]
pub struct CurveSecretKey([u8; KEY_LEN]);

impl Drop for CurveSecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl CurveSecretKey {
    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> CurveSecretKey {
        CurveSecretKey(bytes)
    }

    /// The key from 32 bytes or 40 characters of Z85 text (how libzmq's options take it).
    pub fn from_option(value: &[u8]) -> Result<CurveSecretKey, KeyError> {
        key_from_option(value).map(CurveSecretKey)
    }

    /// A fresh random key from the operating system's generator.
    pub fn generate() -> CurveSecretKey {
        let bytes = Zeroizing::new(SecretKey::generate(&mut OsRng).to_bytes());
        CurveSecretKey(*bytes)
    }

    /// The matching public key.
    pub fn public_key(&self) -> [u8; KEY_LEN] {
        SecretKey::from_bytes(self.0).public_key().to_bytes()
    }

    /// The key's bytes (for the caller to keep as carefully as this type does).
    pub fn to_bytes(&self) -> Zeroizing<[u8; KEY_LEN]> {
        Zeroizing::new(self.0)
    }

    fn nacl(&self) -> SecretKey {
        SecretKey::from_bytes(self.0)
    }
}

impl PartialEq for CurveSecretKey {
    fn eq(&self, other: &CurveSecretKey) -> bool {
        // Constant time: no early exit on the first different byte.
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl Eq for CurveSecretKey {}

impl std::fmt::Debug for CurveSecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CurveSecretKey(..)")
    }
}

/// A CURVE key pair, as `zmq_curve_keypair` makes one: both halves as Z85 text.
#[derive(Clone, PartialEq, Eq)]
pub struct CurveKeyPair {
    /// The public key, 40 characters of Z85.
    pub public: String,
    /// The secret key, 40 characters of Z85 (zeroed when dropped).
    pub secret: Zeroizing<String>,
}

impl std::fmt::Debug for CurveKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurveKeyPair")
            .field("public", &self.public)
            .finish_non_exhaustive()
    }
}

impl CurveKeyPair {
    /// A fresh key pair.
    pub fn generate() -> CurveKeyPair {
        let secret = CurveSecretKey::generate();
        CurveKeyPair {
            public: z85_encode(&secret.public_key()).unwrap_or_default(),
            secret: Zeroizing::new(z85_encode(&secret.0).unwrap_or_default()),
        }
    }
}

/// The public key of a secret key given as 32 bytes or 40 characters of Z85, as Z85
/// (`zmq_curve_public`).
pub fn curve_public(secret: &[u8]) -> Result<String, KeyError> {
    let secret = CurveSecretKey::from_option(secret)?;
    Ok(z85_encode(&secret.public_key()).unwrap_or_default())
}

/// Why a key option value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum KeyError {
    /// Neither 32 bytes nor 40 characters.
    #[error("a CURVE key is 32 bytes or 40 characters of Z85 text, not {len} bytes")]
    Length {
        /// The length given.
        len: usize,
    },
    /// 40 characters that are not Z85.
    #[error("a 40-character CURVE key must be Z85 text")]
    NotZ85,
}

/// A key from 32 bytes or 40 characters of Z85.
pub fn key_from_option(value: &[u8]) -> Result<[u8; KEY_LEN], KeyError> {
    // libzmq also takes the Z85 text with its terminating NUL (41 bytes).
    let value = match value {
        [text @ .., 0] if text.len() == Z85_KEY_LEN => text,
        v => v,
    };
    match value.len() {
        KEY_LEN => {
            let mut k = [0u8; KEY_LEN];
            k.copy_from_slice(value);
            Ok(k)
        }
        Z85_KEY_LEN => {
            let text = std::str::from_utf8(value).map_err(|_| KeyError::NotZ85)?;
            let bytes = Zeroizing::new(z85_decode(text).ok_or(KeyError::NotZ85)?);
            let mut k = [0u8; KEY_LEN];
            k.copy_from_slice(&bytes);
            Ok(k)
        }
        len => Err(KeyError::Length { len }),
    }
}

// ----- Z85 (32/Z85) -----

const Z85: &[u8; 85] =
    b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#";

/// Encodes bytes as Z85 text (`zmq_z85_encode`); `None` unless the length is a multiple
/// of 4.
pub fn z85_encode(data: &[u8]) -> Option<String> {
    if data.len() % 4 != 0 {
        return None;
    }
    let mut out = String::with_capacity(data.len() / 4 * 5);
    for chunk in data.chunks_exact(4) {
        let mut v = u32::from_be_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        let mut digits = [0u8; 5];
        for d in digits.iter_mut().rev() {
            *d = Z85[(v % 85) as usize]; // < 85
            v /= 85;
        }
        out.extend(digits.iter().map(|&b| char::from(b)));
    }
    Some(out)
}

/// Decodes Z85 text (`zmq_z85_decode`); `None` unless the length is a multiple of 5 and
/// every character and group is valid.
pub fn z85_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if text.len() % 5 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 5 * 4);
    for group in text.chunks_exact(5) {
        let mut v: u64 = 0;
        for &c in group {
            let digit = Z85.iter().position(|&z| z == c)? as u64;
            v = v * 85 + digit;
        }
        let v = u32::try_from(v).ok()?; // a group above 2^32 - 1 is not Z85
        out.extend_from_slice(&v.to_be_bytes());
    }
    Some(out)
}

// ----- boxes -----

fn nonce24(prefix: &[u8], tail: &[u8]) -> GenericArray<u8, U24> {
    let mut n = GenericArray::default();
    n[..prefix.len()].copy_from_slice(prefix);
    n[prefix.len()..prefix.len() + tail.len()].copy_from_slice(tail);
    n
}

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    OsRng.fill_bytes(&mut b);
    b
}

/// Seals `plain` with `cipher` under the nonce `prefix || tail`, appending `tag || box`
/// (NaCl's layout) to `out`.
fn seal_into<A: AeadInPlace + AeadCore<NonceSize = U24>>(
    cipher: &A,
    prefix: &[u8],
    tail: &[u8],
    plain: &[u8],
    out: &mut BytesMut,
) {
    let start = out.len();
    out.put_bytes(0, TAG);
    out.extend_from_slice(plain);
    let (tag, body) = out[start..].split_at_mut(TAG);
    // Cannot fail: no associated data, and the length is far below the cipher's limit.
    if let Ok(t) = cipher.encrypt_in_place_detached(&nonce24(prefix, tail), b"", body) {
        tag.copy_from_slice(&t);
    }
}

fn seal<A: AeadInPlace + AeadCore<NonceSize = U24>>(
    cipher: &A,
    prefix: &[u8],
    tail: &[u8],
    plain: &[u8],
) -> BytesMut {
    let mut out = BytesMut::with_capacity(TAG + plain.len());
    seal_into(cipher, prefix, tail, plain, &mut out);
    out
}

/// Opens `tag || box`; `None` if it is too short or does not authenticate. The plaintext
/// is zeroed when dropped.
fn open<A: AeadInPlace + AeadCore<NonceSize = U24>>(
    cipher: &A,
    prefix: &[u8],
    tail: &[u8],
    boxed: &[u8],
) -> Option<Zeroizing<Vec<u8>>> {
    if boxed.len() < TAG {
        return None;
    }
    let (tag, body) = boxed.split_at(TAG);
    let mut plain = Zeroizing::new(body.to_vec());
    cipher
        .decrypt_in_place_detached(
            &nonce24(prefix, tail),
            b"",
            &mut plain,
            GenericArray::from_slice(tag),
        )
        .ok()?;
    Some(plain)
}

fn salsa_box(public: &[u8; KEY_LEN], secret: &SecretKey) -> SalsaBox {
    SalsaBox::new(&PublicKey::from_bytes(*public), secret)
}

/// Why a CURVE command was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum CurveError {
    /// A command's size is not what 26/CurveZMQ fixes.
    #[error("malformed CURVE {0} command")]
    Malformed(&'static str),
    /// HELLO names a CurveZMQ version other than 1.0.
    #[error("CURVE HELLO of an unknown version")]
    Version,
    /// A box did not open: the wrong key, or bytes altered.
    #[error("the {0} box does not open (wrong key or altered bytes)")]
    Crypto(&'static str),
    /// The vouch does not name this connection's keys.
    #[error("the client's vouch does not match its keys")]
    Vouch,
    /// A nonce not above the last one (a replay or reordering).
    #[error("CURVE nonce out of sequence")]
    Nonce,
}

// ----- the handshake -----

/// A CURVE client's handshake state: its keys and what the server told it.
pub(crate) struct ClientHandshake {
    server: [u8; KEY_LEN],
    public: [u8; KEY_LEN],
    secret: CurveSecretKey,
    short_secret: SecretKey,
    short_public: [u8; KEY_LEN],
    nonce: u64,
    /// From WELCOME: the server's short-term key and the cookie.
    session: Option<(SalsaBox, [u8; KEY_LEN], [u8; COOKIE])>,
}

impl ClientHandshake {
    pub(crate) fn new(
        server: [u8; KEY_LEN],
        public: [u8; KEY_LEN],
        secret: CurveSecretKey,
    ) -> ClientHandshake {
        let short_secret = SecretKey::generate(&mut OsRng);
        ClientHandshake {
            server,
            public,
            secret,
            short_public: short_secret.public_key().to_bytes(),
            short_secret,
            nonce: 1,
            session: None,
        }
    }

    fn next_nonce(&mut self) -> [u8; 8] {
        let n = self.nonce;
        self.nonce += 1;
        n.to_be_bytes()
    }

    /// HELLO's body.
    pub(crate) fn hello(&mut self) -> Bytes {
        let nonce = self.next_nonce();
        let mut b = BytesMut::with_capacity(HELLO_BODY);
        b.put_slice(&[1, 0]);
        b.put_bytes(0, 72);
        b.put_slice(&self.short_public);
        b.put_slice(&nonce);
        let cipher = salsa_box(&self.server, &self.short_secret);
        seal_into(&cipher, b"CurveZMQHELLO---", &nonce, &[0u8; 64], &mut b);
        b.freeze()
    }

    /// Reads WELCOME's body: the server's short-term key and cookie.
    pub(crate) fn welcome(&mut self, body: &[u8]) -> Result<(), CurveError> {
        if body.len() != WELCOME_BODY {
            return Err(CurveError::Malformed("WELCOME"));
        }
        let cipher = salsa_box(&self.server, &self.short_secret);
        let plain = open(&cipher, b"WELCOME-", &body[..16], &body[16..])
            .ok_or(CurveError::Crypto("WELCOME"))?;
        // 32 + 96 bytes: the box's size was fixed above.
        let mut server_short = [0u8; KEY_LEN];
        server_short.copy_from_slice(&plain[..32]);
        let mut cookie = [0u8; COOKIE];
        cookie.copy_from_slice(&plain[32..32 + COOKIE]);
        let session = salsa_box(&server_short, &self.short_secret);
        self.session = Some((session, server_short, cookie));
        Ok(())
    }

    /// INITIATE's body, carrying `metadata` (encoded properties).
    pub(crate) fn initiate(&mut self, metadata: &[u8]) -> Bytes {
        let nonce = self.next_nonce();
        let Some((session, server_short, cookie)) = &self.session else {
            return Bytes::new(); // only called after WELCOME
        };
        // The vouch: C' and S, boxed from our long-term key to the server's short-term one.
        let vouch_nonce: [u8; 16] = random();
        let mut vouched = Zeroizing::new([0u8; 64]);
        vouched[..32].copy_from_slice(&self.short_public);
        vouched[32..].copy_from_slice(&self.server);
        let vouch_cipher = salsa_box(server_short, &self.secret.nacl());
        let vouch = seal(&vouch_cipher, b"VOUCH---", &vouch_nonce, &vouched[..]);
        let mut plain = Zeroizing::new(Vec::with_capacity(32 + 16 + 80 + metadata.len()));
        plain.extend_from_slice(&self.public);
        plain.extend_from_slice(&vouch_nonce);
        plain.extend_from_slice(&vouch);
        plain.extend_from_slice(metadata);
        let mut b = BytesMut::with_capacity(COOKIE + 8 + TAG + plain.len());
        b.put_slice(cookie);
        b.put_slice(&nonce);
        seal_into(session, b"CurveZMQINITIATE", &nonce, &plain, &mut b);
        b.freeze()
    }

    /// Reads READY's body; returns the server's metadata bytes and the traffic session.
    pub(crate) fn ready(&mut self, body: &[u8]) -> Result<(Bytes, CurveSession), CurveError> {
        if body.len() < READY_MIN {
            return Err(CurveError::Malformed("READY"));
        }
        let Some((session, server_short, _)) = self.session.take() else {
            return Err(CurveError::Malformed("READY"));
        };
        let nonce = u64::from_be_bytes(body[..8].try_into().unwrap_or_default());
        let plain = open(&session, b"CurveZMQREADY---", &body[..8], &body[8..])
            .ok_or(CurveError::Crypto("READY"))?;
        let traffic =
            CurveSession::new(&server_short, &self.short_secret, false, self.nonce, nonce);
        Ok((Bytes::copy_from_slice(&plain), traffic))
    }
}

/// A CURVE server's handshake state for one client.
pub(crate) struct ServerHandshake {
    secret: SecretKey,
    public: [u8; KEY_LEN],
    client_short: [u8; KEY_LEN],
    short_secret: Option<SecretKey>,
    cookie_key: Option<Zeroizing<[u8; 32]>>,
    peer_nonce: u64,
    session: Option<SalsaBox>,
    /// The client's long-term key, from INITIATE.
    pub(crate) client: [u8; KEY_LEN],
}

impl ServerHandshake {
    pub(crate) fn new(secret: &CurveSecretKey) -> ServerHandshake {
        ServerHandshake {
            secret: secret.nacl(),
            public: secret.public_key(),
            client_short: [0; KEY_LEN],
            short_secret: None,
            cookie_key: None,
            peer_nonce: 0,
            session: None,
            client: [0; KEY_LEN],
        }
    }

    /// Reads HELLO's body.
    pub(crate) fn hello(&mut self, body: &[u8]) -> Result<(), CurveError> {
        if body.len() != HELLO_BODY {
            return Err(CurveError::Malformed("HELLO"));
        }
        if body[..2] != [1, 0] {
            return Err(CurveError::Version);
        }
        self.client_short.copy_from_slice(&body[74..106]);
        let nonce = &body[106..114];
        let cipher = salsa_box(&self.client_short, &self.secret);
        open(&cipher, b"CurveZMQHELLO---", nonce, &body[114..])
            .ok_or(CurveError::Crypto("HELLO"))?;
        self.peer_nonce = u64::from_be_bytes(nonce.try_into().unwrap_or_default());
        Ok(())
    }

    /// WELCOME's body: a fresh short-term key and the cookie that lets us check INITIATE.
    pub(crate) fn welcome(&mut self) -> Bytes {
        let short = SecretKey::generate(&mut OsRng);
        let cookie_key = Zeroizing::new(random::<32>());
        let cookie_nonce: [u8; 16] = random();
        let mut cookie_plain = Zeroizing::new([0u8; 64]);
        cookie_plain[..32].copy_from_slice(&self.client_short);
        cookie_plain[32..].copy_from_slice(&Zeroizing::new(short.to_bytes())[..]);
        let cookie_cipher = XSalsa20Poly1305::new(GenericArray::from_slice(&cookie_key[..]));
        let cookie_box = seal(
            &cookie_cipher,
            b"COOKIE--",
            &cookie_nonce,
            &cookie_plain[..],
        );
        let mut plain = Zeroizing::new(Vec::with_capacity(128));
        plain.extend_from_slice(&short.public_key().to_bytes());
        plain.extend_from_slice(&cookie_nonce);
        plain.extend_from_slice(&cookie_box);
        let welcome_nonce: [u8; 16] = random();
        let cipher = salsa_box(&self.client_short, &self.secret);
        let mut b = BytesMut::with_capacity(WELCOME_BODY);
        b.put_slice(&welcome_nonce);
        seal_into(&cipher, b"WELCOME-", &welcome_nonce, &plain, &mut b);
        self.short_secret = Some(short);
        self.cookie_key = Some(cookie_key);
        b.freeze()
    }

    /// Reads INITIATE's body: checks the cookie, the box and the vouch; returns the
    /// client's metadata bytes (its long-term key is in `client`).
    pub(crate) fn initiate(&mut self, body: &[u8]) -> Result<Bytes, CurveError> {
        if body.len() < INITIATE_MIN {
            return Err(CurveError::Malformed("INITIATE"));
        }
        let (Some(cookie_key), Some(short)) = (&self.cookie_key, &self.short_secret) else {
            return Err(CurveError::Malformed("INITIATE"));
        };
        let cookie_cipher = XSalsa20Poly1305::new(GenericArray::from_slice(&cookie_key[..]));
        let cookie = open(&cookie_cipher, b"COOKIE--", &body[..16], &body[16..COOKIE])
            .ok_or(CurveError::Crypto("cookie"))?;
        if cookie[..32] != self.client_short
            || cookie[32..64] != Zeroizing::new(short.to_bytes())[..]
        {
            return Err(CurveError::Crypto("cookie"));
        }
        let nonce_bytes = &body[COOKIE..COOKIE + 8];
        let nonce = u64::from_be_bytes(nonce_bytes.try_into().unwrap_or_default());
        if nonce <= self.peer_nonce {
            return Err(CurveError::Nonce);
        }
        let session = salsa_box(&self.client_short, short);
        let plain = open(
            &session,
            b"CurveZMQINITIATE",
            nonce_bytes,
            &body[COOKIE + 8..],
        )
        .ok_or(CurveError::Crypto("INITIATE"))?;
        // plain: C (32), vouch nonce (16), vouch (80), metadata; the size was checked.
        let mut client = [0u8; KEY_LEN];
        client.copy_from_slice(&plain[..32]);
        let vouch_cipher = salsa_box(&client, short);
        let vouched = open(&vouch_cipher, b"VOUCH---", &plain[32..48], &plain[48..128])
            .ok_or(CurveError::Crypto("vouch"))?;
        if vouched[..32] != self.client_short || vouched[32..64] != self.public {
            return Err(CurveError::Vouch);
        }
        self.client = client;
        self.peer_nonce = nonce;
        self.session = Some(session);
        Ok(Bytes::copy_from_slice(&plain[128..]))
    }

    /// READY's body carrying `metadata`, and the traffic session.
    pub(crate) fn ready(&mut self, metadata: &[u8]) -> (Bytes, Option<CurveSession>) {
        let Some(session) = self.session.take() else {
            return (Bytes::new(), None); // only called after INITIATE
        };
        let nonce = 1u64.to_be_bytes();
        let mut b = BytesMut::with_capacity(8 + TAG + metadata.len());
        b.put_slice(&nonce);
        seal_into(&session, b"CurveZMQREADY---", &nonce, metadata, &mut b);
        let traffic = self
            .short_secret
            .as_ref()
            .map(|short| CurveSession::new(&self.client_short, short, true, 2, self.peer_nonce));
        (b.freeze(), traffic)
    }
}

// ----- traffic -----

/// A frame taken out of a MESSAGE box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// More frames of the message follow.
    pub more: bool,
    /// The frame is a command (PING, SUBSCRIBE, ...), its body a command body.
    pub command: bool,
    /// The frame's body.
    pub body: Bytes,
}

/// The traffic of a connection whose CURVE handshake completed: every frame each way is
/// a MESSAGE box under the short-term keys, with nonces that only go up.
pub struct CurveSession {
    /// XSalsa20's subkeys of the two directions: HSalsa20 of the box key and the
    /// direction's nonce prefix (`CurveZMQMESSAGEC` from the client, `...S` from the
    /// server), fixed for the connection, so derived once rather than per message.
    tx: Zeroizing<[u8; 32]>,
    rx: Zeroizing<[u8; 32]>,
    server: bool,
    tx_nonce: u64,
    rx_nonce: u64,
}

/// NaCl's box key (`crypto_box_beforenm`) of our short-term secret and the peer's
/// short-term public key: HSalsa20 of the X25519 shared secret and a zero nonce.
fn box_key(peer: &[u8; KEY_LEN], ours: &SecretKey) -> Zeroizing<[u8; 32]> {
    let secret = Zeroizing::new(ours.to_bytes());
    let shared = Zeroizing::new(MontgomeryPoint(*peer).mul_clamped(*secret).to_bytes());
    let key = hsalsa::<U10>(
        GenericArray::from_slice(&shared[..]),
        &GenericArray::default(),
    );
    Zeroizing::new(key.into())
}

/// XSalsa20's subkey of `key` for nonces that start with `prefix`.
fn subkey(key: &[u8; 32], prefix: &[u8; 16]) -> Zeroizing<[u8; 32]> {
    let sub = hsalsa::<U10>(
        GenericArray::from_slice(key),
        GenericArray::from_slice(prefix),
    );
    Zeroizing::new(sub.into())
}

/// NaCl's secretbox with the subkey already derived: the Salsa20 keystream of the
/// subkey and the nonce's last 8 bytes, its first 32 bytes keying Poly1305, the rest
/// encrypting `buf` in place; returns the tag of the ciphertext.
fn seal_with_subkey(sub: &[u8; 32], nonce: &[u8; 8], buf: &mut [u8]) -> [u8; TAG] {
    let mut cipher = Salsa20::new(
        GenericArray::from_slice(sub),
        GenericArray::from_slice(nonce),
    );
    let mut mac_key = Zeroizing::new(poly1305::Key::default());
    cipher.apply_keystream(&mut mac_key);
    cipher.apply_keystream(buf);
    Poly1305::new(&mac_key).compute_unpadded(buf).into()
}

/// [`seal_with_subkey`] undone: checks the tag (in constant time) before decrypting.
fn open_with_subkey(sub: &[u8; 32], nonce: &[u8; 8], buf: &mut [u8], tag: &[u8]) -> bool {
    let mut cipher = Salsa20::new(
        GenericArray::from_slice(sub),
        GenericArray::from_slice(nonce),
    );
    let mut mac_key = Zeroizing::new(poly1305::Key::default());
    cipher.apply_keystream(&mut mac_key);
    let expected = Poly1305::new(&mac_key).compute_unpadded(buf);
    if !bool::from(expected.as_slice().ct_eq(tag)) {
        return false;
    }
    cipher.apply_keystream(buf);
    true
}

impl std::fmt::Debug for CurveSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CurveSession")
            .field("server", &self.server)
            .finish_non_exhaustive()
    }
}

// Inner flags (libzmq's message flags): MORE and COMMAND.
const INNER_MORE: u8 = 0x01;
const INNER_COMMAND: u8 = 0x02;

const FROM_CLIENT: &[u8; 16] = b"CurveZMQMESSAGEC";
const FROM_SERVER: &[u8; 16] = b"CurveZMQMESSAGES";

impl CurveSession {
    /// The session of the side (`server` or not) whose short-term secret is `ours`, with
    /// the peer's short-term public key `peer`.
    fn new(
        peer: &[u8; KEY_LEN],
        ours: &SecretKey,
        server: bool,
        tx_nonce: u64,
        rx_nonce: u64,
    ) -> CurveSession {
        let key = box_key(peer, ours);
        let (tx, rx) = if server {
            (FROM_SERVER, FROM_CLIENT)
        } else {
            (FROM_CLIENT, FROM_SERVER)
        };
        CurveSession {
            tx: subkey(&key, tx),
            rx: subkey(&key, rx),
            server,
            tx_nonce,
            rx_nonce,
        }
    }

    /// Appends one frame sealed as a MESSAGE: a data frame (as libzmq sends it) holding
    /// the name, the short nonce and the box of the flags and body.
    pub fn seal_frame(&mut self, more: bool, command: bool, body: &[u8], out: &mut BytesMut) {
        let nonce = self.tx_nonce.to_be_bytes();
        self.tx_nonce += 1;
        let size = MESSAGE_OVERHEAD + body.len();
        FrameHeader::data(size as u64, false).encode(out);
        out.put_u8(7);
        out.put_slice(CMD_MESSAGE);
        out.put_slice(&nonce);
        let start = out.len();
        out.put_bytes(0, TAG);
        out.put_u8((u8::from(more) * INNER_MORE) | (u8::from(command) * INNER_COMMAND));
        out.extend_from_slice(body);
        let (tag, boxed) = out[start..].split_at_mut(TAG);
        tag.copy_from_slice(&seal_with_subkey(&self.tx, &nonce, boxed));
    }

    /// Seals every whole frame at the front of `plain` (frames this side encoded itself)
    /// into `out`; returns how many bytes of `plain` it took.
    pub fn seal_stream(&mut self, plain: &[u8], out: &mut BytesMut) -> usize {
        let mut at = 0;
        while let Some(h) = FrameHeader::parse(&plain[at..]) {
            let start = at + h.header_len();
            let Some(end) = usize::try_from(h.size())
                .ok()
                .and_then(|n| start.checked_add(n))
                .filter(|&end| end <= plain.len())
            else {
                break;
            };
            self.seal_frame(h.more(), h.is_command(), &plain[start..end], out);
            at = end;
        }
        at
    }

    /// Opens a MESSAGE data frame's body (name, short nonce, box).
    pub fn open(&mut self, body: &[u8]) -> Result<Opened, CurveError> {
        if body.len() < MESSAGE_OVERHEAD || body[0] != 7 || &body[1..8] != CMD_MESSAGE {
            return Err(CurveError::Malformed("MESSAGE"));
        }
        let nonce_bytes = &body[8..16];
        let nonce = u64::from_be_bytes(nonce_bytes.try_into().unwrap_or_default());
        if nonce <= self.rx_nonce {
            return Err(CurveError::Nonce);
        }
        let mut plain = BytesMut::from(&body[16 + TAG..]);
        let nonce8: [u8; 8] = nonce.to_be_bytes();
        if !open_with_subkey(&self.rx, &nonce8, &mut plain, &body[16..16 + TAG]) {
            return Err(CurveError::Crypto("MESSAGE"));
        }
        self.rx_nonce = nonce;
        let flags = plain[0]; // at least the flags byte: the size was checked
        let body = plain.freeze().slice(1..);
        Ok(Opened {
            more: flags & INNER_MORE != 0,
            command: flags & INNER_COMMAND != 0,
            body,
        })
    }
}

/// A client and a server with fresh long-term keys, the client knowing the server's.
fn fresh_handshakes() -> (ClientHandshake, ServerHandshake) {
    let server_secret = CurveSecretKey::generate();
    let client_secret = CurveSecretKey::generate();
    let server = ServerHandshake::new(&server_secret);
    let client = ClientHandshake::new(
        server_secret.public_key(),
        client_secret.public_key(),
        client_secret,
    );
    (client, server)
}

/// Two ends of a fresh CURVE session, as a completed handshake leaves them (client,
/// server): for fuzzing and benchmarks of the MESSAGE boxes.
pub fn session_pair() -> (CurveSession, CurveSession) {
    let (mut client, mut server) = fresh_handshakes();
    // Each step opens what the other sealed under the keys just made: none can fail.
    let steps = server
        .hello(&client.hello())
        .and_then(|()| client.welcome(&server.welcome()))
        .and_then(|()| server.initiate(&client.initiate(b"")));
    debug_assert!(steps.is_ok());
    let (ready, server_session) = server.ready(b"");
    match (client.ready(&ready), server_session) {
        (Ok((_, c)), Some(s)) => (c, s),
        // Unreachable (see above); a pair that cannot talk is still a pair.
        _ => (
            CurveSession::new_unkeyed(false),
            CurveSession::new_unkeyed(true),
        ),
    }
}

impl CurveSession {
    /// A session under a random key nobody else has.
    fn new_unkeyed(server: bool) -> CurveSession {
        let a = SecretKey::generate(&mut OsRng);
        let b = SecretKey::generate(&mut OsRng).public_key().to_bytes();
        CurveSession::new(&b, &a, server, 1, 0)
    }
}

/// Encoded properties as a handshake sends them.
pub(crate) fn metadata_bytes(md: &crate::Metadata) -> BytesMut {
    let mut b = BytesMut::with_capacity(md.encoded_len());
    md.encode(&mut b);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn z85_matches_rfc_32s_example_and_refuses_bad_text() {
        let bytes = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B];
        assert_eq!(z85_encode(&bytes).as_deref(), Some("HelloWorld"));
        assert_eq!(z85_decode("HelloWorld").as_deref(), Some(&bytes[..]));
        assert_eq!(z85_encode(&[1, 2, 3]), None);
        assert_eq!(z85_decode("Hello"), Some(vec![0x86, 0x4F, 0xD2, 0x6F]));
        assert_eq!(z85_decode("Hell"), None);
        assert_eq!(z85_decode("Hell\""), None);
        assert_eq!(z85_decode("%%%%%"), None, "above 2^32 - 1");
    }

    #[test]
    fn keys_are_taken_as_bytes_or_z85_and_libzmqs_test_pair_matches() {
        // The key pair of libzmq's test_security_curve: its secret gives its public key.
        let public = "Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID";
        let secret = "D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs";
        assert_eq!(curve_public(secret.as_bytes()).unwrap(), public);
        let k = key_from_option(public.as_bytes()).unwrap();
        assert_eq!(key_from_option(&k).unwrap(), k);
        assert_eq!(key_from_option(b"short"), Err(KeyError::Length { len: 5 }));
        assert_eq!(key_from_option(&[b'"'; 40]), Err(KeyError::NotZ85));
        let pair = CurveKeyPair::generate();
        assert_eq!(curve_public(pair.secret.as_bytes()).unwrap(), pair.public);
        assert!(!format!("{pair:?}").contains(pair.secret.as_str()));
    }

    fn handshake(
        server_key: [u8; 32],
    ) -> Result<(CurveSession, CurveSession, [u8; 32]), CurveError> {
        let server_secret = CurveSecretKey::generate();
        let client_secret = CurveSecretKey::generate();
        let mut server = ServerHandshake::new(&server_secret);
        let server_public = if server_key == [0; 32] {
            server_secret.public_key()
        } else {
            server_key
        };
        let mut client = ClientHandshake::new(
            server_public,
            client_secret.public_key(),
            client_secret.clone(),
        );
        server.hello(&client.hello())?;
        client.welcome(&server.welcome())?;
        let md = server.initiate(&client.initiate(b"\x01A\x00\x00\x00\x01B"))?;
        assert_eq!(&md[..], b"\x01A\x00\x00\x00\x01B");
        assert_eq!(server.client, client_secret.public_key());
        let (ready, s) = server.ready(b"");
        let (md, c) = client.ready(&ready)?;
        assert!(md.is_empty());
        Ok((c, s.unwrap(), client_secret.public_key()))
    }

    #[test]
    fn a_handshake_gives_both_sides_one_session() {
        let (mut c, mut s, _) = handshake([0; 32]).unwrap();
        let mut wire = BytesMut::new();
        c.seal_frame(true, false, b"hello", &mut wire);
        c.seal_frame(false, true, b"\x04PING\x00\x00", &mut wire);
        let mut frames = Vec::new();
        let mut dec = crate::Decoder::frames_only(crate::Limits::default());
        while let Some(crate::Item::Frame(f)) = dec.decode(&mut wire).unwrap() {
            assert!(!f.more, "MESSAGE frames carry MORE inside the box");
            frames.push(s.open(&f.body).unwrap());
        }
        assert_eq!(
            frames,
            [
                Opened {
                    more: true,
                    command: false,
                    body: Bytes::from_static(b"hello")
                },
                Opened {
                    more: false,
                    command: true,
                    body: Bytes::from_static(b"\x04PING\x00\x00")
                }
            ]
        );
        // And back.
        let mut wire = BytesMut::new();
        s.seal_frame(false, false, b"", &mut wire);
        let body = wire.split_off(2);
        assert_eq!(c.open(&body).unwrap().body, Bytes::new());
        // Replayed: refused by its nonce.
        assert_eq!(c.open(&body), Err(CurveError::Nonce));
    }

    /// A client and server up to the client's INITIATE, for tampering with it.
    fn to_initiate(tamper: impl FnOnce(&mut ClientHandshake)) -> Result<Bytes, CurveError> {
        let (mut client, mut server) = fresh_handshakes();
        server.hello(&client.hello())?;
        client.welcome(&server.welcome())?;
        tamper(&mut client);
        let initiate = client.initiate(b"");
        server.initiate(&initiate)
    }

    #[test]
    fn an_initiate_whose_vouch_does_not_match_is_refused() {
        assert!(to_initiate(|_| {}).is_ok());
        // The vouch names another server.
        assert_eq!(
            to_initiate(|c| c.server = CurveSecretKey::generate().public_key()),
            Err(CurveError::Vouch)
        );
        // The client claims a long-term key its vouch was not sealed with.
        assert_eq!(
            to_initiate(|c| c.public = CurveSecretKey::generate().public_key()),
            Err(CurveError::Crypto("vouch"))
        );
        // INITIATE's nonce not above HELLO's.
        assert_eq!(to_initiate(|c| c.nonce = 1), Err(CurveError::Nonce));
        // A cookie from another connection.
        assert_eq!(
            to_initiate(|c| {
                if let Some((_, _, cookie)) = &mut c.session {
                    cookie[20] ^= 1;
                }
            }),
            Err(CurveError::Crypto("cookie"))
        );
    }

    #[test]
    fn message_boxes_are_nacls_box_with_the_direction_prefix() {
        // Our MESSAGE box (subkey derived once) against crypto_box's SalsaBox with the full
        // 24-byte nonce, both directions, every length up to 300 and some larger.
        let client = SecretKey::generate(&mut OsRng);
        let server = SecretKey::generate(&mut OsRng);
        let server_public = server.public_key().to_bytes();
        let client_public = client.public_key().to_bytes();
        let mut c = CurveSession::new(&server_public, &client, false, 5, 0);
        let mut s = CurveSession::new(&client_public, &server, true, 9, 0);
        let reference = SalsaBox::new(&PublicKey::from_bytes(server_public), &client);
        let lengths = (0..300).chain([1000, 4096, 65_536]);
        for len in lengths {
            let body: Vec<u8> = (0..len).map(|i| (i * 31 + len) as u8).collect();
            for (side, prefix) in [(&mut c, FROM_CLIENT), (&mut s, FROM_SERVER)] {
                let nonce = side.tx_nonce.to_be_bytes();
                let mut wire = BytesMut::new();
                side.seal_frame(true, false, &body, &mut wire);
                let h = FrameHeader::parse(&wire).unwrap();
                let boxed = &wire[h.header_len() + 16..];
                let mut want = vec![INNER_MORE];
                want.extend_from_slice(&body);
                let tag = reference
                    .encrypt_in_place_detached(&nonce24(prefix, &nonce), b"", &mut want)
                    .unwrap();
                assert_eq!(&boxed[..TAG], &tag[..], "tag, len {len}");
                assert_eq!(&boxed[TAG..], &want[..], "box, len {len}");
            }
        }
        // And each side opens the other's.
        let mut wire = BytesMut::new();
        s.seal_frame(false, true, b"\x04PING\x00\x00", &mut wire);
        let h = FrameHeader::parse(&wire).unwrap();
        let opened = c.open(&wire[h.header_len()..]).unwrap();
        assert!(opened.command && !opened.more);
    }

    #[test]
    fn a_wrong_server_key_fails_at_hello() {
        let wrong = CurveSecretKey::generate().public_key();
        assert_eq!(handshake(wrong).err(), Some(CurveError::Crypto("HELLO")));
    }

    #[test]
    fn any_altered_byte_of_a_message_is_refused() {
        let (mut c, mut s, _) = handshake([0; 32]).unwrap();
        let mut wire = BytesMut::new();
        c.seal_frame(false, false, b"payload", &mut wire);
        let body = wire.split_off(2).freeze();
        for i in 0..body.len() {
            let mut bad = body.to_vec();
            bad[i] ^= 0x40;
            assert!(s.open(&bad).is_err(), "byte {i}");
        }
        assert_eq!(s.open(&body).unwrap().body, Bytes::from_static(b"payload"));
        for n in 0..MESSAGE_OVERHEAD {
            assert!(s.open(&body[..n]).is_err());
        }
    }

    #[test]
    fn seal_stream_seals_whole_frames_only() {
        let (mut c, mut s, _) = handshake([0; 32]).unwrap();
        let mut plain = BytesMut::new();
        crate::encode_frame(&mut plain, b"a", true);
        crate::encode_frame(&mut plain, &[7u8; 300], false);
        let whole = plain.len();
        plain.extend_from_slice(&[0x00, 0x05, b'x']); // a frame still arriving
        let mut out = BytesMut::new();
        assert_eq!(c.seal_stream(&plain, &mut out), whole);
        let mut dec = crate::Decoder::frames_only(crate::Limits::default());
        let mut got = Vec::new();
        while let Some(crate::Item::Frame(f)) = dec.decode(&mut out).unwrap() {
            got.push(s.open(&f.body).unwrap());
        }
        assert_eq!(got.len(), 2);
        assert!(got[0].more && !got[1].more);
        assert_eq!(got[1].body.len(), 300);
    }
}
