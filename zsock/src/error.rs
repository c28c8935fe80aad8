//! The one error type users see.

use std::borrow::Cow;
use std::fmt;

use ipc_transport::TransportError;

/// ZeroMQ's own errno values (ZMQ_HAUSNUMERO = 156384712 plus an offset), for errors that
/// have no system errno.
pub mod errno {
    /// The operation is not valid in the socket's current state (e.g. REQ sending twice).
    pub const EFSM: i32 = 156_384_763;
    /// The context or socket was terminated.
    pub const ETERM: i32 = ipc_transport::ETERM;
}

/// What kind of failure: the errno a libzmq user knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// EAGAIN: would block (DONTWAIT, or SNDTIMEO/RCVTIMEO expired, or XPUB_NODROP full).
    Again,
    /// EFSM: the socket's pattern does not allow this now (REQ/REP alternation).
    Fsm,
    /// EHOSTUNREACH: ROUTER_MANDATORY and no peer has the routing id.
    HostUnreachable,
    /// EINVAL: bad argument (option value, endpoint).
    Invalid,
    /// ENAMETOOLONG: the endpoint's path does not fit sun_path.
    NameTooLong,
    /// EADDRINUSE: the address is taken.
    AddrInUse,
    /// EADDRNOTAVAIL: a `tcp://` bind to an address no interface of this host has.
    AddrNotAvailable,
    /// ENODEV: a `tcp://` bind's interface name this machine does not have, or a connect's
    /// host name that does not resolve. (libzmq gives ENODEV for the first; it takes the
    /// second and looks the name up in the background, again at each retry, where zsock
    /// says at once that it does not resolve: see docs/migration.md.)
    NoDevice,
    /// ENOENT: no such directory, or unbind/disconnect of an unknown endpoint.
    NotFound,
    /// EACCES: permission denied.
    PermissionDenied,
    /// EPROTONOSUPPORT: a transport zsock does not carry (not ipc://, tcp:// or inproc://).
    ProtocolNotSupported,
    /// ENOTSUP: the socket type does not support the operation (e.g. recv on PUB).
    NotSupported,
    /// ETERM: the context was shut down ([`Context::shutdown`] or its termination), so
    /// the socket takes no more calls but close.
    ///
    /// [`Context::shutdown`]: crate::Context::shutdown
    Terminated,
    /// ENOTSOCK: the socket is gone (a poll item whose socket was closed).
    NotSocket,
    /// Any other system error.
    Other(i32),
}

impl ErrorKind {
    /// The errno value.
    pub fn errno(self) -> i32 {
        match self {
            ErrorKind::Again => libc::EAGAIN,
            ErrorKind::Fsm => errno::EFSM,
            ErrorKind::HostUnreachable => libc::EHOSTUNREACH,
            ErrorKind::Invalid => libc::EINVAL,
            ErrorKind::NameTooLong => libc::ENAMETOOLONG,
            ErrorKind::AddrInUse => libc::EADDRINUSE,
            ErrorKind::AddrNotAvailable => libc::EADDRNOTAVAIL,
            ErrorKind::NoDevice => libc::ENODEV,
            ErrorKind::NotFound => libc::ENOENT,
            ErrorKind::PermissionDenied => libc::EACCES,
            ErrorKind::ProtocolNotSupported => libc::EPROTONOSUPPORT,
            ErrorKind::NotSupported => libc::ENOTSUP,
            ErrorKind::Terminated => errno::ETERM,
            ErrorKind::NotSocket => libc::ENOTSOCK,
            ErrorKind::Other(e) => e,
        }
    }

    fn from_errno(e: i32) -> ErrorKind {
        match e {
            libc::EAGAIN => ErrorKind::Again,
            libc::EHOSTUNREACH => ErrorKind::HostUnreachable,
            libc::EINVAL => ErrorKind::Invalid,
            libc::ENAMETOOLONG => ErrorKind::NameTooLong,
            libc::EADDRINUSE => ErrorKind::AddrInUse,
            libc::EADDRNOTAVAIL => ErrorKind::AddrNotAvailable,
            libc::ENODEV => ErrorKind::NoDevice,
            libc::ENOENT => ErrorKind::NotFound,
            libc::EACCES => ErrorKind::PermissionDenied,
            libc::EPROTONOSUPPORT => ErrorKind::ProtocolNotSupported,
            libc::ENOTSUP => ErrorKind::NotSupported,
            errno::EFSM => ErrorKind::Fsm,
            errno::ETERM => ErrorKind::Terminated,
            libc::ENOTSOCK => ErrorKind::NotSocket,
            other => ErrorKind::Other(other),
        }
    }
}

/// A failed socket call: a [`kind`](Error::kind) to match on and a message in words.
///
/// Two words wide, so that the `Result` of a send comes back in registers; the common
/// errors with fixed words (EAGAIN, which an event loop sees at every wait; EFSM; ETERM)
/// allocate nothing.
#[derive(Clone)]
pub struct Error(Repr);

#[derive(Clone)]
enum Repr {
    Fixed(&'static Fixed),
    Boxed(Box<Inner>),
}

/// An error with fixed words (see [`fixed_error!`]).
pub(crate) struct Fixed {
    pub(crate) kind: ErrorKind,
    pub(crate) message: &'static str,
}

/// An [`Error`] of a kind and fixed words, made without allocating: a constant.
macro_rules! fixed_error {
    ($kind:ident, $message:expr) => {
        $crate::error::Error::fixed(&$crate::error::Fixed {
            kind: $crate::error::ErrorKind::$kind,
            message: $message,
        })
    };
}
pub(crate) use fixed_error;

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    message: Cow<'static, str>,
    /// The frame a receive took and could not hand out ([`Socket::recv_string`]).
    ///
    /// [`Socket::recv_string`]: crate::Socket::recv_string
    frame: Option<bytes::Bytes>,
}

impl Error {
    /// An error of `kind` with a message.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error(Repr::Boxed(Box::new(Inner {
            kind,
            message: Cow::Owned(message.into()),
            frame: None,
        })))
    }

    /// See [`fixed_error!`].
    pub(crate) fn fixed(fixed: &'static Fixed) -> Error {
        Error(Repr::Fixed(fixed))
    }

    /// The frame a receive took but could not give as asked (a frame that is not UTF-8,
    /// from [`Socket::recv_string`]): nothing received is lost.
    ///
    /// [`Socket::recv_string`]: crate::Socket::recv_string
    pub fn into_frame(self) -> Option<bytes::Bytes> {
        match self.0 {
            Repr::Fixed(_) => None,
            Repr::Boxed(inner) => inner.frame,
        }
    }

    pub(crate) fn with_frame(self, frame: bytes::Bytes) -> Error {
        let mut inner = match self.0 {
            Repr::Fixed(f) => Box::new(Inner {
                kind: f.kind,
                message: Cow::Borrowed(f.message),
                frame: None,
            }),
            Repr::Boxed(inner) => inner,
        };
        inner.frame = Some(frame);
        Error(Repr::Boxed(inner))
    }

    /// What kind of failure.
    pub fn kind(&self) -> ErrorKind {
        match &self.0 {
            Repr::Fixed(f) => f.kind,
            Repr::Boxed(inner) => inner.kind,
        }
    }

    /// The errno a libzmq user would see.
    pub fn errno(&self) -> i32 {
        self.kind().errno()
    }

    fn message(&self) -> &str {
        match &self.0 {
            Repr::Fixed(f) => f.message,
            Repr::Boxed(inner) => &inner.message,
        }
    }

    fn frame(&self) -> Option<&bytes::Bytes> {
        match &self.0 {
            Repr::Fixed(_) => None,
            Repr::Boxed(inner) => inner.frame.as_ref(),
        }
    }

    pub(crate) fn terminated() -> Error {
        fixed_error!(
            Terminated,
            "the socket's context was shut down (Context::shutdown): close the socket"
        )
    }

    pub(crate) fn invalid(what: impl Into<String>) -> Error {
        Error::new(ErrorKind::Invalid, what)
    }

    pub(crate) fn not_supported(what: &str) -> Error {
        Error::new(ErrorKind::NotSupported, what)
    }
}

/// Equal when kind, words and frame are, however each was made.
impl PartialEq for Error {
    fn eq(&self, other: &Error) -> bool {
        self.kind() == other.kind()
            && self.message() == other.message()
            && self.frame() == other.frame()
    }
}

impl Eq for Error {}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind())
            .field("message", &self.message())
            .field("frame", &self.frame())
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for Error {}

/// For `?` in functions that return `io::Result` (an event loop on mio, say): a system
/// errno keeps its `io::ErrorKind` (EAGAIN is `WouldBlock`), ZeroMQ's own (EFSM, ETERM) are
/// `Other`; the zsock error, with its words, is the source either way.
impl From<Error> for std::io::Error {
    fn from(e: Error) -> std::io::Error {
        let kind = match e.kind() {
            ErrorKind::Fsm | ErrorKind::Terminated => std::io::ErrorKind::Other,
            k => std::io::Error::from_raw_os_error(k.errno()).kind(),
        };
        std::io::Error::new(kind, e)
    }
}

impl From<TransportError> for Error {
    fn from(e: TransportError) -> Error {
        Error::new(ErrorKind::from_errno(e.errno()), e.to_string())
    }
}

impl From<zmtp_codec::curve::KeyError> for Error {
    fn from(e: zmtp_codec::curve::KeyError) -> Error {
        Error::invalid(e.to_string())
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Error {
        let kind = e
            .raw_os_error()
            .map_or(ErrorKind::Other(libc::EIO), ErrorKind::from_errno);
        Error::new(kind, e.to_string())
    }
}

/// `Result` with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_keep_the_kind_and_the_words() {
        let again: std::io::Error = fixed_error!(Again, "no message available").into();
        assert_eq!(again.kind(), std::io::ErrorKind::WouldBlock);
        assert_eq!(again.to_string(), "no message available");
        let fsm: std::io::Error = fixed_error!(Fsm, "REQ must receive first").into();
        assert_eq!(fsm.kind(), std::io::ErrorKind::Other);
        let inner = fsm.get_ref().and_then(|e| e.downcast_ref::<Error>());
        assert_eq!(inner.map(Error::kind), Some(ErrorKind::Fsm));
        let taken: std::io::Error = Error::new(ErrorKind::AddrInUse, "in use").into();
        assert_eq!(taken.kind(), std::io::ErrorKind::AddrInUse);
    }

    #[test]
    fn errors_compare_by_kind_words_and_frame_however_made() {
        let fixed = fixed_error!(Again, "no message available");
        let made = Error::new(ErrorKind::Again, "no message available");
        assert_eq!(fixed, made);
        assert_eq!(format!("{fixed:?}"), format!("{made:?}"));
        assert_eq!(fixed.to_string(), "no message available");
        assert_ne!(fixed, Error::new(ErrorKind::Fsm, "no message available"));
        assert_ne!(fixed, Error::new(ErrorKind::Again, "other words"));
        let framed = fixed.clone().with_frame(bytes::Bytes::from_static(b"f"));
        assert_ne!(framed, fixed);
        assert_eq!(framed.kind(), ErrorKind::Again);
        assert_eq!(framed.to_string(), "no message available");
        assert_eq!(framed.into_frame().as_deref(), Some(&b"f"[..]));
        assert_eq!(fixed.into_frame(), None);
    }
}
