//! Helpers shared by the test modules.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;

use ipc_endpoint::SockAddr;

/// `connect(2)` with exactly `addr`'s bytes and length, nothing from std in between.
pub(crate) fn connect_raw(
    addr: &libc::sockaddr_un,
    len: libc::socklen_t,
) -> io::Result<UnixStream> {
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_STREAM, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let ptr = (addr as *const libc::sockaddr_un).cast::<libc::sockaddr>();
    // SAFETY: `ptr` points to a live `sockaddr_un`; `len` is at most its size.
    let rc = unsafe { libc::connect(fd.as_raw_fd(), ptr, len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(UnixStream::from(fd))
}

/// `connect(2)` with `addr` as this crate built it.
pub(crate) fn connect_sock_addr(addr: &SockAddr) -> io::Result<UnixStream> {
    connect_raw(addr.as_sockaddr_un(), addr.socklen())
}
