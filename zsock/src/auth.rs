//! A ready-made authenticator with the rules pyzmq's `zmq.auth` and czmq's zauth apply:
//! address allow and deny lists, PLAIN users and passwords, CURVE client keys.

use std::collections::{HashMap, HashSet};

use bytes::Bytes;
use zmtp_codec::{Mechanism, ZapReply, ZapRequest, ZapStatus};

use crate::error::{Error, Result};
use crate::Authenticator;

/// Decides who may connect, for [`Context::set_authenticator`](crate::Context::set_authenticator):
///
/// 1. Addresses first: with an allow list, only addresses on it pass; otherwise an address
///    on the deny list is refused. An address is a tcp peer's IP (`127.0.0.1`, `::1`) or an
///    ipc peer's `localhost:UID:GID:PID`, as in the ZAP request.
/// 2. Then the mechanism: NULL passes (its user id is empty); PLAIN passes with a user name
///    and password added by [`Auth::plain_user`] (the user id is the user name); CURVE
///    passes with a client key added by [`Auth::curve_key`], or any key after
///    [`Auth::curve_allow_any`] (the user id is the key in Z85).
///
/// Everything else is refused with status 400 and words saying why.
///
/// ```
/// use zsock::{Auth, Context};
///
/// let ctx = Context::new();
/// ctx.set_authenticator(
///     Auth::new()
///         .deny("192.0.2.7")
///         .plain_user("admin", "secret")
///         .curve_key("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID")?,
/// );
/// # Ok::<(), zsock::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct Auth {
    allow: HashSet<String>,
    deny: HashSet<String>,
    users: HashMap<Bytes, Bytes>,
    keys: HashSet<[u8; 32]>,
    any_key: bool,
}

impl std::fmt::Debug for Auth {
    // Never prints a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("allow", &self.allow)
            .field("deny", &self.deny)
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("keys", &self.keys.len())
            .field("any_key", &self.any_key)
            .finish()
    }
}

impl Auth {
    /// No rules yet: NULL peers pass, PLAIN and CURVE peers are refused.
    pub fn new() -> Auth {
        Auth::default()
    }

    /// Admits only peers at these addresses (add each with a call).
    pub fn allow(mut self, address: impl Into<String>) -> Auth {
        self.allow.insert(address.into());
        self
    }

    /// Refuses peers at this address (ignored once there is an allow list).
    pub fn deny(mut self, address: impl Into<String>) -> Auth {
        self.deny.insert(address.into());
        self
    }

    /// A PLAIN user name and its password.
    pub fn plain_user(mut self, user: impl Into<Bytes>, password: impl Into<Bytes>) -> Auth {
        self.users.insert(user.into(), password.into());
        self
    }

    /// A CURVE client's public key, 40 characters of Z85 or 32 bytes.
    pub fn curve_key(mut self, public: impl AsRef<[u8]>) -> Result<Auth> {
        let key = zmtp_codec::curve::key_from_option(public.as_ref())
            .map_err(|e| Error::invalid(format!("CURVE client key: {e}")))?;
        self.keys.insert(key);
        Ok(self)
    }

    /// Admits every CURVE client (that knows the server's key), as a CURVE server with no
    /// authenticator would, while the address rules still apply.
    pub fn curve_allow_any(mut self) -> Auth {
        self.any_key = true;
        self
    }

    fn verdict(&self, req: &ZapRequest) -> std::result::Result<Bytes, &'static str> {
        let address = String::from_utf8_lossy(&req.address);
        if !self.allow.is_empty() {
            if !self.allow.contains(address.as_ref()) {
                return Err("address not on the allow list");
            }
        } else if self.deny.contains(address.as_ref()) {
            return Err("address on the deny list");
        }
        match req.mechanism {
            m if m == Mechanism::NULL => Ok(Bytes::new()),
            m if m == Mechanism::PLAIN => match &req.credentials[..] {
                [user, password] if self.users.get(user) == Some(password) => Ok(user.clone()),
                _ => Err("unknown user or wrong password"),
            },
            m if m == Mechanism::CURVE => match &req.credentials[..] {
                [key] => {
                    let known = <[u8; 32]>::try_from(&key[..])
                        .is_ok_and(|k| self.any_key || self.keys.contains(&k));
                    if known {
                        Ok(zmtp_codec::curve::z85_encode(key)
                            .map(Bytes::from)
                            .unwrap_or_default())
                    } else {
                        Err("client key not allowed")
                    }
                }
                _ => Err("malformed CURVE credentials"),
            },
            _ => Err("unknown mechanism"),
        }
    }
}

impl Authenticator for Auth {
    fn authenticate(&self, request: &ZapRequest) -> ZapReply {
        match self.verdict(request) {
            Ok(user) => ZapReply::allow(user),
            Err(why) => ZapReply::refuse(ZapStatus::Denied, why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(address: &str, mechanism: Mechanism, credentials: &[&[u8]]) -> ZapRequest {
        ZapRequest {
            domain: Bytes::new(),
            address: Bytes::copy_from_slice(address.as_bytes()),
            identity: Bytes::new(),
            mechanism,
            credentials: credentials
                .iter()
                .map(|c| Bytes::copy_from_slice(c))
                .collect(),
        }
    }

    fn status(a: &Auth, r: &ZapRequest) -> ZapStatus {
        a.authenticate(r).status
    }

    #[test]
    fn addresses_then_mechanisms_decide() {
        let key = crate::curve_keypair();
        let raw = zmtp_codec::curve::z85_decode(&key.public).unwrap();
        let a = Auth::new()
            .deny("10.0.0.9")
            .plain_user("admin", "secret")
            .curve_key(&key.public)
            .unwrap();
        use ZapStatus::{Denied, Success};
        assert_eq!(status(&a, &req("10.0.0.1", Mechanism::NULL, &[])), Success);
        assert_eq!(status(&a, &req("10.0.0.9", Mechanism::NULL, &[])), Denied);
        let plain = |p: &[u8]| req("10.0.0.1", Mechanism::PLAIN, &[b"admin", p]);
        assert_eq!(status(&a, &plain(b"secret")), Success);
        assert_eq!(&a.authenticate(&plain(b"secret")).user_id[..], b"admin");
        assert_eq!(status(&a, &plain(b"guess")), Denied);
        let curve = |k: &[u8]| req("10.0.0.1", Mechanism::CURVE, &[k]);
        assert_eq!(status(&a, &curve(&raw)), Success);
        assert_eq!(
            a.authenticate(&curve(&raw)).user_id,
            Bytes::from(key.public.clone())
        );
        assert_eq!(status(&a, &curve(&[9; 32])), Denied);
        assert_eq!(
            status(&a.clone().curve_allow_any(), &curve(&[9; 32])),
            Success
        );
        assert_eq!(status(&a, &curve(&[9; 31])), Denied);
        // An allow list overrides the deny list.
        let only = Auth::new().allow("127.0.0.1");
        assert_eq!(
            status(&only, &req("127.0.0.1", Mechanism::NULL, &[])),
            Success
        );
        assert_eq!(
            status(&only, &req("127.0.0.2", Mechanism::NULL, &[])),
            Denied
        );
        assert!(!format!("{a:?}").contains("secret"));
        assert!(Auth::new().curve_key("not a key").is_err());
    }
}
