//! The raw `sockaddr_un` handed to `bind(2)` and `connect(2)`.

use std::fmt;
use std::mem::offset_of;

/// Size of `sun_path` on this platform: 108 on Linux, 104 on macOS and the BSDs.
pub(crate) const SUN_PATH_LEN: usize = {
    // SAFETY: `sockaddr_un` is a C struct of integers and a byte array; all-zero is a valid
    // value of it.
    let zeroed: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    zeroed.sun_path.len()
};

/// Offset of `sun_path` in `sockaddr_un` (2 everywhere zsock runs: a 16-bit family, or
/// `sun_len` + an 8-bit family on macOS and the BSDs).
const SUN_PATH_OFFSET: usize = offset_of!(libc::sockaddr_un, sun_path);

/// A Unix socket address ready for `bind(2)`/`connect(2)`: a `sockaddr_un` and the length to
/// pass with it. Built only from a [`SocketPath`](crate::SocketPath) or an
/// [`AbstractName`](crate::AbstractName), so it always fits.
///
/// Layout, on Linux: a pathname is its bytes plus a terminating NUL, and the length counts the
/// NUL; an abstract name is a NUL, then the name, and the length counts no trailing NUL (the
/// kernel takes every counted byte as part of an abstract name, so this is what makes
/// `ipc://@name` here and in libzmq the same socket).
#[derive(Clone, Copy)]
pub struct SockAddr {
    raw: libc::sockaddr_un,
    len: libc::socklen_t,
}

impl SockAddr {
    /// Caller guarantees `path.len() <= MAX_PATH_LEN` and no NUL in `path`.
    pub(crate) fn pathname(path: &[u8]) -> SockAddr {
        debug_assert!(path.len() < SUN_PATH_LEN);
        // The zeroed tail supplies the terminating NUL, which the length counts.
        Self::build(0, path, path.len() + 1)
    }

    /// Caller guarantees `name.len() <= MAX_ABSTRACT_NAME_LEN` and no NUL in `name`.
    pub(crate) fn abstract_name(name: &[u8]) -> SockAddr {
        debug_assert!(name.len() < SUN_PATH_LEN - 1);
        // sun_path[0] stays NUL: that marks the abstract namespace.
        Self::build(1, name, 1 + name.len())
    }

    fn build(skip: usize, bytes: &[u8], path_len: usize) -> SockAddr {
        // SAFETY: `sockaddr_un` is a C struct of integers and a byte array; all-zero is a
        // valid value of it.
        let mut raw: libc::sockaddr_un = unsafe { std::mem::zeroed() };
        raw.sun_family = libc::AF_UNIX as libc::sa_family_t;
        // `zip` stops at the end of `sun_path`: even a broken caller invariant cannot write
        // out of bounds or panic here.
        for (dst, &src) in raw.sun_path.iter_mut().skip(skip).zip(bytes) {
            *dst = src as libc::c_char;
        }
        let len = (SUN_PATH_OFFSET + path_len.min(SUN_PATH_LEN)) as libc::socklen_t;
        #[cfg(any(
            target_vendor = "apple",
            target_os = "freebsd",
            target_os = "dragonfly",
            target_os = "netbsd",
            target_os = "openbsd"
        ))]
        {
            raw.sun_len = len as u8;
        }
        SockAddr { raw, len }
    }

    /// Pointer to pass to `bind(2)`/`connect(2)`, valid while `self` is.
    pub fn as_ptr(&self) -> *const libc::sockaddr {
        (&self.raw as *const libc::sockaddr_un).cast()
    }

    /// The length to pass with [`SockAddr::as_ptr`]: the family field plus the counted
    /// `sun_path` bytes.
    pub fn socklen(&self) -> libc::socklen_t {
        self.len
    }

    /// The whole `sockaddr_un`.
    pub fn as_sockaddr_un(&self) -> &libc::sockaddr_un {
        &self.raw
    }

    /// The counted bytes of `sun_path`: `socklen() - offset_of(sun_path)` of them.
    pub fn sun_path(&self) -> &[u8] {
        let n = (self.len as usize)
            .saturating_sub(SUN_PATH_OFFSET)
            .min(SUN_PATH_LEN);
        // SAFETY: `c_char` and `u8` have the same size and alignment, and `n` is at most the
        // length of `sun_path`, which lives as long as `&self`.
        unsafe { std::slice::from_raw_parts(self.raw.sun_path.as_ptr().cast::<u8>(), n) }
    }
}

impl PartialEq for SockAddr {
    fn eq(&self, other: &SockAddr) -> bool {
        self.len == other.len && self.sun_path() == other.sun_path()
    }
}

impl Eq for SockAddr {}

impl fmt::Debug for SockAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SockAddr")
            .field("sun_path", &self.sun_path().escape_ascii().to_string())
            .field("socklen", &self.len)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn linux_sun_path_is_108_bytes() {
        assert_eq!(SUN_PATH_LEN, 108);
        assert_eq!(SUN_PATH_OFFSET, 2);
    }

    #[test]
    fn pathname_counts_its_terminating_nul() {
        let a = SockAddr::pathname(b"/tmp/x");
        assert_eq!(a.sun_path(), b"/tmp/x\0");
        assert_eq!(a.socklen() as usize, SUN_PATH_OFFSET + 7);
        assert_eq!(
            a.as_sockaddr_un().sun_family,
            libc::AF_UNIX as libc::sa_family_t
        );
    }

    #[test]
    fn abstract_name_has_leading_nul_and_no_trailing_nul() {
        let a = SockAddr::abstract_name(b"name");
        assert_eq!(a.sun_path(), b"\0name");
        assert_eq!(a.socklen() as usize, SUN_PATH_OFFSET + 5);
    }

    #[test]
    fn longest_path_fills_sun_path_exactly() {
        let path = vec![b'p'; SUN_PATH_LEN - 1];
        let a = SockAddr::pathname(&path);
        assert_eq!(a.sun_path().len(), SUN_PATH_LEN);
        assert_eq!(a.sun_path().last(), Some(&0));
    }
}
