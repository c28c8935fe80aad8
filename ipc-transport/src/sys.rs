//! Every raw system call of the crate, each behind a safe function: sockets (create,
//! connect, bind, listen; connect to a raw `sockaddr_un`, abstract names included), peer
//! credentials and groups (`SO_PEERCRED`, `SO_PEERGROUPS`), files (`mkdtemp`,
//! `renameat2(RENAME_NOREPLACE)`), reads into a buffer's spare capacity, (vectored) writes
//! with MSG_NOSIGNAL, poll, the monotonic clock as nanoseconds, the eventfds and timerfds
//! the I/O threads and waiting callers sleep on, the epoll set an event loop's task waits
//! on, and network interfaces' addresses and
//! indexes (for `tcp://` endpoints that name one). (Tests keep their own.)

use std::ffi::{CString, OsString};
use std::io::{self, IoSlice};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use bytes::BytesMut;
use ipc_endpoint::SockAddr;

/// A non-blocking, close-on-exec AF_UNIX stream socket, connected (or failed) to `addr`.
/// Unix-domain connects complete at once: EAGAIN means the listener's backlog is full.
pub(crate) fn connect(addr: &SockAddr) -> io::Result<OwnedFd> {
    let fd = new_socket()?;
    // SAFETY: `addr` points to a valid sockaddr_un of `socklen` bytes.
    let rc = unsafe { libc::connect(fd.as_raw_fd(), addr.as_ptr(), addr.socklen()) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(fd)
}

/// CLOCK_MONOTONIC (the clock of `Instant`) in nanoseconds: for a per-send comparison,
/// without `Instant`'s checked arithmetic (a third of a send's clock cost).
pub(crate) fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    // (Both fields are non-negative for this clock.)
    (ts.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(ts.tv_nsec as u64)
}

// The hot calls (read, send, poll) go by syscall(2): glibc's wrappers of them are
// cancellation points, and entering and leaving one costs a send or a read a third more
// instructions. Nothing here uses pthread cancellation.

/// poll(2) of `fds` for up to `timeout` (`None`: no limit), by ppoll, which every Linux
/// architecture has and which waits at least the time given, to the nanosecond.
pub(crate) fn poll(
    fds: &mut [libc::pollfd],
    timeout: Option<std::time::Duration>,
) -> io::Result<usize> {
    // ppoll writes the time left back into it.
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    let tsp = match timeout {
        None => std::ptr::null_mut(),
        Some(t) => {
            ts.tv_sec = t.as_secs().min(i32::MAX as u64) as libc::time_t;
            ts.tv_nsec = t.subsec_nanos() as libc::c_long;
            &mut ts as *mut libc::timespec
        }
    };
    // SAFETY: `fds` is a live array of `fds.len()` pollfd structs, `tsp` null or a valid,
    // writable timespec, and no signal mask is given.
    let n = unsafe {
        libc::syscall(
            libc::SYS_ppoll,
            fds.as_mut_ptr(),
            fds.len() as libc::nfds_t,
            tsp,
            std::ptr::null::<libc::sigset_t>(),
            0usize,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize) // n >= 0 checked above
}

/// Receives once from a stream socket into the spare capacity of `buf` (which must have
/// some). `Ok(0)`: end of stream. `recv` rather than `read`: the kernel takes the socket
/// call without the file layer's checks and position lookup.
pub(crate) fn read_into(fd: &impl AsRawFd, buf: &mut BytesMut) -> io::Result<usize> {
    let spare = buf.spare_capacity_mut();
    // SAFETY: `spare` is writable memory of `spare.len()` bytes owned by `buf`; no source
    // address is asked for.
    let n = unsafe {
        libc::syscall(
            libc::SYS_recvfrom,
            fd.as_raw_fd(),
            spare.as_mut_ptr(),
            spare.len(),
            0,
            std::ptr::null_mut::<libc::sockaddr>(),
            std::ptr::null_mut::<libc::socklen_t>(),
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = n as usize; // (n >= 0, checked above)

    // SAFETY: the kernel initialised the first `n` bytes of the spare capacity.
    unsafe { buf.set_len(buf.len() + n) };
    Ok(n)
}

/// `send` of `buf` with MSG_NOSIGNAL (a closed peer gives EPIPE, never SIGPIPE).
fn send(fd: &impl AsRawFd, buf: &[u8]) -> io::Result<usize> {
    // SAFETY: `buf` is readable memory of `buf.len()` bytes for the call.
    let n = unsafe {
        libc::syscall(
            libc::SYS_sendto,
            fd.as_raw_fd(),
            buf.as_ptr(),
            buf.len(),
            libc::MSG_NOSIGNAL,
            std::ptr::null::<libc::sockaddr>(),
            0 as libc::socklen_t,
        )
    };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize) // n >= 0 checked above
}

/// `sendmsg` of `bufs` with MSG_NOSIGNAL: a closed peer gives EPIPE, never SIGPIPE. One
/// buffer goes by `send`, which the kernel takes with less work (no header or vector to
/// copy in and check): a request or reply is usually one.
pub(crate) fn send_vectored(fd: &impl AsRawFd, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    if let [one] = bufs {
        return send(fd, one);
    }
    // SAFETY: an all-zero msghdr is valid (no name, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // IoSlice is ABI-compatible with iovec on Unix.
    msg.msg_iov = bufs.as_ptr() as *mut libc::iovec;
    msg.msg_iovlen = bufs.len() as _;
    // SAFETY: msg points to `bufs`, which outlives the call.
    let n = unsafe { libc::sendmsg(fd.as_raw_fd(), &msg, libc::MSG_NOSIGNAL) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(n as usize) // n >= 0 checked above
}

/// Sleeps until `fd` can take more output or `timeout` passes (then `false`). A signal
/// ends the sleep early, as a timeout would.
pub(crate) fn wait_writable(fd: &impl AsRawFd, timeout: std::time::Duration) -> bool {
    let mut p = [libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    }];
    poll(&mut p, Some(timeout)).is_ok_and(|n| n > 0)
        && p[0].revents & (libc::POLLOUT | libc::POLLERR | libc::POLLHUP) != 0
}

/// A new `AF_UNIX` stream socket, non-blocking and close-on-exec.
pub(crate) fn new_socket() -> io::Result<OwnedFd> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    let ty = libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let ty = libc::SOCK_STREAM;
    // SAFETY: socket(2) takes no pointers; the result is checked before use.
    let raw = unsafe { libc::socket(libc::AF_UNIX, ty, 0) };
    if raw < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `raw` is a descriptor socket(2) just returned, owned by nothing else.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    set_nonblocking_cloexec(&fd)?;
    Ok(fd)
}

/// Where `socket(2)` has no `SOCK_NONBLOCK`/`SOCK_CLOEXEC`: sets both afterwards (leaving the
/// window in which a concurrent fork+exec could inherit the descriptor, as std does there).
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn set_nonblocking_cloexec(fd: &OwnedFd) -> io::Result<()> {
    let raw = fd.as_raw_fd();
    // SAFETY: fcntl(2) with integer arguments on a descriptor `fd` keeps open.
    let flags = unsafe { libc::fcntl(raw, libc::F_GETFL) };
    // SAFETY: as above.
    if flags < 0
        || unsafe { libc::fcntl(raw, libc::F_SETFL, flags | libc::O_NONBLOCK) } < 0
        || unsafe { libc::fcntl(raw, libc::F_SETFD, libc::FD_CLOEXEC) } < 0
    {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A new non-blocking eventfd, counter zero.
pub(crate) fn new_eventfd() -> io::Result<OwnedFd> {
    // SAFETY: plain system call; the result is checked before it is owned.
    let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Adds one to an eventfd's counter: it becomes readable. A full counter (EAGAIN) leaves it
/// readable too.
pub(crate) fn signal_eventfd(fd: &OwnedFd) {
    let one: u64 = 1;
    // SAFETY: writes 8 bytes from a live u64 to an eventfd.
    unsafe { libc::write(fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
}

/// Empties an eventfd's counter (or a timerfd's expiry count, also 8 bytes).
pub(crate) fn drain_eventfd(fd: &OwnedFd) {
    let mut v: u64 = 0;
    // SAFETY: reads at most 8 bytes into a live u64; EAGAIN when it is already empty.
    unsafe { libc::read(fd.as_raw_fd(), (&mut v as *mut u64).cast(), 8) };
}

/// A new epoll instance (close-on-exec): the descriptor an event loop's task waits on for
/// a socket (see `Engine::wait_fd`).
pub(crate) fn new_epoll() -> io::Result<OwnedFd> {
    // SAFETY: plain system call; the result is checked before it is owned.
    let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a fresh descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// What an epoll set watches a descriptor for (level-triggered): input (and the peer's
/// end), room to write, either or neither (errors and hang-ups are always reported).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EpollInterest {
    pub(crate) readable: bool,
    pub(crate) writable: bool,
}

impl EpollInterest {
    fn bits(self) -> u32 {
        let mut ev = 0;
        if self.readable {
            ev |= libc::EPOLLIN | libc::EPOLLRDHUP;
        }
        if self.writable {
            ev |= libc::EPOLLOUT;
        }
        ev as u32
    }
}

/// A change to an epoll set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EpollChange {
    Add(EpollInterest),
    Modify(EpollInterest),
    Remove,
}

/// Applies `change` to `fd` in the epoll set `ep`. A descriptor that closes leaves every
/// set by itself.
pub(crate) fn epoll_ctl(ep: &OwnedFd, fd: i32, change: EpollChange) -> io::Result<()> {
    let (op, events) = match change {
        EpollChange::Add(i) => (libc::EPOLL_CTL_ADD, i.bits()),
        EpollChange::Modify(i) => (libc::EPOLL_CTL_MOD, i.bits()),
        EpollChange::Remove => (libc::EPOLL_CTL_DEL, 0),
    };
    let mut ev = libc::epoll_event { events, u64: 0 };
    // SAFETY: `ev` lives across the call; the kernel validates both descriptors.
    if unsafe { libc::epoll_ctl(ep.as_raw_fd(), op, fd, &mut ev) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A non-blocking monotonic timerfd.
pub(crate) fn new_timerfd() -> io::Result<OwnedFd> {
    // SAFETY: plain system call; the result is checked before it is owned.
    let fd = unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a new descriptor nobody else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Makes the timerfd fire once, `after` from now (under a second; at least 1 ns, since 0
/// disarms it).
pub(crate) fn arm_timerfd(fd: &OwnedFd, after: std::time::Duration) {
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: 0,
            tv_nsec: after.subsec_nanos().max(1) as libc::c_long,
        },
    };
    // SAFETY: `spec` is a live itimerspec; a failure only leaves the epoll timeout in charge.
    unsafe { libc::timerfd_settime(fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
}

/// A call's `0` as `Ok`, anything else as the errno it left.
fn zero_or_errno(rc: impl Into<i64>) -> io::Result<()> {
    let rc: i64 = rc.into();
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// `bind(2)` of `fd` to `addr`.
pub(crate) fn bind(fd: &impl AsFd, addr: &SockAddr) -> io::Result<()> {
    // SAFETY: `addr.as_ptr()` points to a `sockaddr_un` that lives as long as `addr`, and
    // `socklen()` is at most its size; the descriptor is borrowed, open.
    let rc = unsafe { libc::bind(fd.as_fd().as_raw_fd(), addr.as_ptr(), addr.socklen()) };
    zero_or_errno(rc)
}

/// `listen(2)` on `fd`.
pub(crate) fn listen(fd: &impl AsFd, backlog: i32) -> io::Result<()> {
    // SAFETY: listen(2) takes no pointers; the descriptor is borrowed, open.
    let rc = unsafe { libc::listen(fd.as_fd().as_raw_fd(), backlog) };
    zero_or_errno(rc)
}

/// `mkdtemp(3)`: creates a new directory, mode 0700, from `template` (ending in `XXXXXX`),
/// and returns its path.
pub(crate) fn make_private_dir(template: PathBuf) -> io::Result<PathBuf> {
    let mut buf = CString::new(template.into_os_string().into_vec())
        .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?
        .into_bytes_with_nul();
    // SAFETY: `buf` is a NUL-terminated, writable buffer that outlives the call; mkdtemp only
    // rewrites the six `X` before the NUL, in place.
    let rc = unsafe { libc::mkdtemp(buf.as_mut_ptr().cast()) };
    if rc.is_null() {
        return Err(io::Error::last_os_error());
    }
    buf.pop(); // the NUL
    Ok(PathBuf::from(OsString::from_vec(buf)))
}

/// `renameat2(RENAME_NOREPLACE)`: renames `from` to `to` unless `to` exists (EEXIST),
/// atomically. ENOSYS or EINVAL where the kernel or filesystem lacks it.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(crate) fn renameat2_noreplace(from: &std::path::Path, to: &std::path::Path) -> io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    let nul = |p: &std::path::Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
    };
    let (from_c, to_c) = (nul(from)?, nul(to)?);
    // SAFETY: both pointers are NUL-terminated strings that outlive the call; AT_FDCWD
    // resolves relative paths against the working directory, as the rest of bind does.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            from_c.as_ptr(),
            libc::AT_FDCWD,
            to_c.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    zero_or_errno(rc)
}

/// `connect(2)` of the socket `fd` to `addr`, once (no retry on EINTR or EINPROGRESS).
pub(crate) fn connect_fd(fd: &impl AsFd, addr: &SockAddr) -> io::Result<()> {
    // SAFETY: `addr.as_ptr()` points to a `sockaddr_un` that lives as long as `addr`, and
    // `socklen()` is at most its size; the descriptor is borrowed, open.
    let rc = unsafe { libc::connect(fd.as_fd().as_raw_fd(), addr.as_ptr(), addr.socklen()) };
    zero_or_errno(rc)
}

/// `getsockopt(SO_PEERCRED)` of the connected Unix socket `fd`: the credentials and how
/// many bytes the kernel wrote.
#[cfg(target_os = "linux")]
pub(crate) fn peer_cred(fd: &impl AsFd) -> io::Result<(libc::ucred, usize)> {
    // SAFETY: `ucred` is a C struct of three integers; all-zero is a valid value of it.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` is a writable `ucred` that outlives the call and `len` is its size, so
    // the kernel writes at most that many bytes; the descriptor is borrowed, open.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok((cred, len as usize))
}

/// `getsockopt(SO_PEERGROUPS)` of the connected Unix socket `fd` into `groups`: the result,
/// and the length in bytes the kernel reported (on ERANGE: the length it needs).
#[cfg(target_os = "linux")]
pub(crate) fn peer_groups_into(
    fd: &impl AsFd,
    groups: &mut [libc::gid_t],
) -> (io::Result<()>, usize) {
    let mut len = std::mem::size_of_val(groups) as libc::socklen_t;
    // SAFETY: `groups` is a writable buffer of exactly `len` bytes that outlives the call;
    // the kernel writes at most `len` bytes; the descriptor is borrowed, open.
    let rc = unsafe {
        libc::getsockopt(
            fd.as_fd().as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERGROUPS,
            groups.as_mut_ptr().cast(),
            &mut len,
        )
    };
    let result = if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    };
    (result, len as usize)
}

/// The first address of the family asked for (IPv6 if `v6`, else IPv4) on the network
/// interface named `name` (exact, case-sensitive). `Ok(None)`: no such interface, or no
/// address of that family on it.
pub(crate) fn interface_address(name: &str, v6: bool) -> io::Result<Option<std::net::IpAddr>> {
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list it allocated into `list`, freed below.
    if unsafe { libc::getifaddrs(&mut list) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut found = None;
    let mut at = list;
    while !at.is_null() {
        // SAFETY: `at` is a node of the list getifaddrs returned, alive until freeifaddrs.
        let ifa = unsafe { &*at };
        at = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let ifname = unsafe { std::ffi::CStr::from_ptr(ifa.ifa_name) };
        if ifname.to_bytes() != name.as_bytes() {
            continue;
        }
        // SAFETY: ifa_addr points to a sockaddr whose family says its real type.
        let family = i32::from(unsafe { (*ifa.ifa_addr).sa_family });
        if family == libc::AF_INET && !v6 {
            // SAFETY: an AF_INET address is a sockaddr_in.
            let sin = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in) };
            found = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                sin.sin_addr.s_addr,
            ))));
            break;
        }
        if family == libc::AF_INET6 && v6 {
            // SAFETY: an AF_INET6 address is a sockaddr_in6.
            let sin6 = unsafe { &*(ifa.ifa_addr as *const libc::sockaddr_in6) };
            found = Some(IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr)));
            break;
        }
    }
    // SAFETY: `list` came from getifaddrs and is freed once; no reference into it remains.
    unsafe { libc::freeifaddrs(list) };
    Ok(found)
}

/// The index of the network interface named `name` (an IPv6 scope), if there is one.
pub(crate) fn interface_index(name: &str) -> Option<u32> {
    let name = CString::new(name).ok()?;
    // SAFETY: `name` is a valid NUL-terminated string for the call.
    let i = unsafe { libc::if_nametoindex(name.as_ptr()) };
    (i != 0).then_some(i)
}
