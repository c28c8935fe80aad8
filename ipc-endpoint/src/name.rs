//! The validated pieces an [`Endpoint`](crate::Endpoint) is made of: a filesystem path, an
//! abstract name, and the bind wildcard. Each can only be built through a checking
//! constructor, so holding one means it fits the platform's `sun_path`.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::addr::SockAddr;
use crate::{EndpointError, MAX_ABSTRACT_NAME_LEN, MAX_PATH_LEN};

/// Offset of the first NUL byte in `bytes`, as an error.
pub(crate) fn check_no_nul(bytes: &[u8]) -> Result<(), EndpointError> {
    match bytes.iter().position(|&b| b == 0) {
        Some(offset) => Err(EndpointError::EmbeddedNul { offset }),
        None => Ok(()),
    }
}

/// A filesystem path for a Unix socket, used exactly as given (a relative path is resolved
/// against the process's working directory by the kernel, at bind or connect time).
///
/// Invariant: 1 to [`MAX_PATH_LEN`] bytes, no NUL byte, first byte not `@`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SocketPath(PathBuf);

impl SocketPath {
    /// Checks `path` and keeps it as given: nothing is trimmed, normalised or made absolute.
    ///
    /// Errors: [`EmptyPath`](EndpointError::EmptyPath),
    /// [`EmbeddedNul`](EndpointError::EmbeddedNul),
    /// [`PathStartsWithAt`](EndpointError::PathStartsWithAt) (write `./@x` for a file named
    /// `@x`), [`PathTooLong`](EndpointError::PathTooLong).
    pub fn new(path: impl AsRef<Path>) -> Result<SocketPath, EndpointError> {
        let path = path.as_ref();
        let bytes = path.as_os_str().as_bytes();
        if bytes.is_empty() {
            return Err(EndpointError::EmptyPath);
        }
        check_no_nul(bytes)?;
        if bytes.first() == Some(&b'@') {
            return Err(EndpointError::PathStartsWithAt);
        }
        if bytes.len() > MAX_PATH_LEN {
            return Err(EndpointError::PathTooLong {
                len: bytes.len(),
                limit: MAX_PATH_LEN,
            });
        }
        Ok(SocketPath(path.to_path_buf()))
    }

    /// The path.
    pub fn as_path(&self) -> &Path {
        &self.0
    }

    /// The path's bytes, without a terminating NUL.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_os_str().as_bytes()
    }

    /// The `sockaddr_un` for `bind(2)`/`connect(2)`: the path's bytes, a terminating NUL, and a
    /// length that counts that NUL.
    pub fn sock_addr(&self) -> SockAddr {
        SockAddr::pathname(self.as_bytes())
    }

    /// The same address as a std [`SocketAddr`] (for `UnixListener::bind_addr` and
    /// `UnixStream::connect_addr`, in std and in mio). The invariant makes std's own checks
    /// pass, but its result is passed on rather than unwrapped.
    pub fn std_addr(&self) -> io::Result<SocketAddr> {
        SocketAddr::from_pathname(&self.0)
    }
}

/// A name in Linux's abstract socket namespace: `ipc://@name`. No file is created; the name
/// disappears with the last socket bound to it.
///
/// Invariant: 1 to [`MAX_ABSTRACT_NAME_LEN`] bytes, no NUL byte, and the platform has an
/// abstract namespace (Linux or Android).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AbstractName(Vec<u8>);

impl AbstractName {
    /// Checks `name` (the bytes after `@`, without the `@`).
    ///
    /// Errors: [`AbstractUnsupported`](EndpointError::AbstractUnsupported) off Linux and
    /// Android, [`EmptyAbstractName`](EndpointError::EmptyAbstractName),
    /// [`EmbeddedNul`](EndpointError::EmbeddedNul),
    /// [`AbstractNameTooLong`](EndpointError::AbstractNameTooLong).
    pub fn new(name: impl AsRef<[u8]>) -> Result<AbstractName, EndpointError> {
        if !cfg!(any(target_os = "linux", target_os = "android")) {
            return Err(EndpointError::AbstractUnsupported);
        }
        let name = name.as_ref();
        if name.is_empty() {
            return Err(EndpointError::EmptyAbstractName);
        }
        check_no_nul(name)?;
        if name.len() > MAX_ABSTRACT_NAME_LEN {
            return Err(EndpointError::AbstractNameTooLong {
                len: name.len(),
                limit: MAX_ABSTRACT_NAME_LEN,
            });
        }
        Ok(AbstractName(name.to_vec()))
    }

    /// The name's bytes: no `@`, no leading NUL.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The `sockaddr_un` for `bind(2)`/`connect(2)`: a NUL, then the name; the length counts
    /// no trailing NUL. This is the address libzmq builds for `ipc://@name`, so both reach the
    /// same socket.
    pub fn sock_addr(&self) -> SockAddr {
        SockAddr::abstract_name(&self.0)
    }

    /// The same address as a std [`SocketAddr`].
    #[cfg(any(target_os = "linux", target_os = "android"))]
    pub fn std_addr(&self) -> io::Result<SocketAddr> {
        #[cfg(target_os = "android")]
        use std::os::android::net::SocketAddrExt;
        #[cfg(target_os = "linux")]
        use std::os::linux::net::SocketAddrExt;
        SocketAddr::from_abstract_name(&self.0)
    }

    /// The same address as a std [`SocketAddr`]. Unreachable here: no `AbstractName` can be
    /// built on a platform without the abstract namespace.
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    pub fn std_addr(&self) -> io::Result<SocketAddr> {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            EndpointError::AbstractUnsupported,
        ))
    }
}

/// The bind wildcard: `ipc://*`, or any path starting with `*` (what follows the `*` is
/// ignored, as libzmq ignores it). The transport binds a file `socket` in a fresh private
/// directory under [`wildcard_base_dir`](crate::wildcard_base_dir).
///
/// Invariant: a valid [`SocketPath`] whose first byte is `*` (so even the ignored spelling
/// obeys the length limit, and a connect to the same string names a real path).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Wildcard(SocketPath);

impl Wildcard {
    /// The wildcard spelled `path`, if `path` starts with `*`; otherwise `path` back.
    pub fn from_path(path: SocketPath) -> Result<Wildcard, SocketPath> {
        if path.as_bytes().first() == Some(&b'*') {
            Ok(Wildcard(path))
        } else {
            Err(path)
        }
    }

    /// The spelling as a literal path: what `ipc://*…` means on connect (a file named `*…`
    /// relative to the working directory).
    pub fn literal_path(&self) -> &SocketPath {
        &self.0
    }

    /// Consumes the wildcard, giving its spelling as a literal path.
    pub fn into_literal_path(self) -> SocketPath {
        self.0
    }

    /// The spelling's bytes, starting with `*`.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// `bytes` as an `OsStr` (Unix: any bytes are a valid `OsStr`).
pub(crate) fn os_str(bytes: &[u8]) -> &OsStr {
    OsStr::from_bytes(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_keeps_trailing_space_and_punctuation() {
        let p = SocketPath::new("a b ?#").unwrap();
        assert_eq!(p.as_bytes(), b"a b ?#");
    }

    #[test]
    fn path_at_the_limit_is_accepted_one_more_is_rejected() {
        let ok = "x".repeat(MAX_PATH_LEN);
        assert!(SocketPath::new(&ok).is_ok());
        let long = "x".repeat(MAX_PATH_LEN + 1);
        assert_eq!(
            SocketPath::new(long),
            Err(EndpointError::PathTooLong {
                len: MAX_PATH_LEN + 1,
                limit: MAX_PATH_LEN
            })
        );
    }

    #[test]
    fn path_starting_with_at_is_refused() {
        assert_eq!(SocketPath::new("@x"), Err(EndpointError::PathStartsWithAt));
        assert!(SocketPath::new("./@x").is_ok());
    }

    #[test]
    fn nul_offset_is_reported() {
        assert_eq!(
            SocketPath::new(os_str(b"ab\0c")),
            Err(EndpointError::EmbeddedNul { offset: 2 })
        );
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn abstract_name_limits() {
        assert!(AbstractName::new(vec![b'n'; MAX_ABSTRACT_NAME_LEN]).is_ok());
        assert_eq!(
            AbstractName::new(vec![b'n'; MAX_ABSTRACT_NAME_LEN + 1]),
            Err(EndpointError::AbstractNameTooLong {
                len: MAX_ABSTRACT_NAME_LEN + 1,
                limit: MAX_ABSTRACT_NAME_LEN
            })
        );
        assert_eq!(
            AbstractName::new(b""),
            Err(EndpointError::EmptyAbstractName)
        );
    }

    #[test]
    fn wildcard_needs_a_leading_star() {
        assert!(Wildcard::from_path(SocketPath::new("*").unwrap()).is_ok());
        assert!(Wildcard::from_path(SocketPath::new("*x").unwrap()).is_ok());
        let plain = SocketPath::new("x*").unwrap();
        assert_eq!(Wildcard::from_path(plain.clone()), Err(plain));
    }
}
