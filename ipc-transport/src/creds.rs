//! Peer credentials and libzmq's IPC access filters.
//!
//! [`PeerCred`] is what the kernel recorded about the other end of a Unix socket when it
//! connected (`SO_PEERCRED`); [`AccessFilter`] is libzmq's `ZMQ_IPC_FILTER_UID`/`GID`/`PID`
//! check on top of it. Supplementary groups come from the kernel (`SO_PEERGROUPS`), never from
//! NSS look-ups (`getpwuid`/`getgrouplist`), which can block on a network directory.
//!
//! Linux only in substance: on other targets this compiles, but every query returns an
//! [`io::ErrorKind::Unsupported`] error (an [`AccessFilter`] with no list set still lets
//! everyone in, since it needs no query).

use std::io;
use std::os::fd::AsFd;

/// The most supplementary groups [`peer_groups`] accepts: Linux's `NGROUPS_MAX`.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
const MAX_GROUPS: usize = 65_536;

/// A peer's credentials from `SO_PEERCRED`, captured by the kernel at connect time (for the
/// connecting side of a connection: the listener's credentials, captured at its `listen`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerCred {
    /// The peer's process id.
    pub pid: i32,
    /// The peer's effective user id.
    pub uid: u32,
    /// The peer's effective group id.
    pub gid: u32,
}

impl PeerCred {
    /// The credentials of the peer of the connected Unix socket `fd`.
    ///
    /// Errors: the `getsockopt` error (e.g. `ENOTCONN`, `ENOTSOCK`); `Unsupported` off Linux.
    #[cfg(target_os = "linux")]
    pub fn of(fd: &impl AsFd) -> io::Result<PeerCred> {
        let (cred, len) = crate::sys::peer_cred(fd)?;
        if len != size_of::<libc::ucred>() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "SO_PEERCRED returned {len} bytes; expected {}",
                    size_of::<libc::ucred>()
                ),
            ));
        }
        Ok(PeerCred {
            pid: cred.pid,
            uid: cred.uid,
            gid: cred.gid,
        })
    }

    /// The credentials of the peer of the connected Unix socket `fd`: unsupported off Linux.
    #[cfg(not(target_os = "linux"))]
    pub fn of(fd: &impl AsFd) -> io::Result<PeerCred> {
        let _ = fd.as_fd();
        Err(unsupported("SO_PEERCRED"))
    }
}

/// The supplementary groups of the peer of the connected Unix socket `fd`, from the kernel
/// (`SO_PEERGROUPS`, Linux 4.13 and later), never from NSS. At most 65 536 groups (Linux's
/// `NGROUPS_MAX`); a larger answer is an `InvalidData` error rather than a larger allocation.
///
/// Errors: the `getsockopt` error (`ENOPROTOOPT` on kernels before 4.13); `Unsupported` off
/// Linux.
#[cfg(target_os = "linux")]
pub(crate) fn peer_groups(fd: &impl AsFd) -> io::Result<Vec<u32>> {
    let gid_size = size_of::<libc::gid_t>();
    // Enough for almost everyone; the kernel says how much it needs when it is not (ERANGE).
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    // The kernel's answer is fixed at connect time, so the second try always fits; the third
    // is there only so that the loop is visibly bounded.
    for _ in 0..3 {
        let (result, len) = crate::sys::peer_groups_into(fd, &mut groups);
        let count = len / gid_size;
        let Err(err) = result else {
            groups.truncate(count);
            return Ok(groups);
        };
        if err.raw_os_error() != Some(libc::ERANGE) || count <= groups.len() {
            return Err(err);
        }
        if count > MAX_GROUPS {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the peer has {count} supplementary groups; the limit is {MAX_GROUPS}"),
            ));
        }
        groups.resize(count, 0);
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        "SO_PEERGROUPS kept asking for a larger buffer",
    ))
}

/// The supplementary groups of the peer of `fd`: unsupported off Linux.
#[cfg(not(target_os = "linux"))]
pub(crate) fn peer_groups(fd: &impl AsFd) -> io::Result<Vec<u32>> {
    let _ = fd.as_fd();
    Err(unsupported("SO_PEERGROUPS"))
}

#[cfg(not(target_os = "linux"))]
fn unsupported(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!("{what} is only read on Linux"),
    )
}

/// libzmq's `ZMQ_IPC_FILTER_UID`, `ZMQ_IPC_FILTER_GID` and `ZMQ_IPC_FILTER_PID`: a peer passes
/// if its uid is in `uids`, or its primary or a supplementary group is in `gids`, or its pid
/// is in `pids`. With all three lists empty everyone passes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessFilter {
    /// User ids let in.
    pub uids: Vec<u32>,
    /// Group ids let in: the peer's primary group or any of its supplementary groups.
    pub gids: Vec<u32>,
    /// Process ids let in.
    pub pids: Vec<i32>,
}

impl AccessFilter {
    /// `true` when no list is set, so every peer passes.
    pub fn is_open(&self) -> bool {
        self.uids.is_empty() && self.gids.is_empty() && self.pids.is_empty()
    }

    /// Checks the peer of the connected Unix socket `fd`: its uid against `uids`, its primary
    /// gid and its supplementary groups (from the kernel, see the module docs) against `gids`,
    /// its pid against `pids`. An open filter passes without asking the kernel anything.
    ///
    /// On a kernel without `SO_PEERGROUPS` (before 4.13) only the primary gid is compared,
    /// which can only turn a peer away, never let one in that should not be.
    ///
    /// Errors: reading the credentials failed (then the caller should close the connection).
    pub fn allows(&self, fd: &impl AsFd) -> io::Result<bool> {
        if self.is_open() {
            return Ok(true);
        }
        let cred = PeerCred::of(fd)?;
        if self.allows_cred(&cred, &[]) {
            return Ok(true);
        }
        if self.gids.is_empty() {
            return Ok(false);
        }
        let groups = match peer_groups(fd) {
            Ok(groups) => groups,
            Err(e) if e.raw_os_error() == Some(libc::ENOPROTOOPT) => Vec::new(),
            Err(e) => return Err(e),
        };
        Ok(self.allows_cred(&cred, &groups))
    }

    /// The same decision as [`AccessFilter::allows`] for known credentials and supplementary
    /// groups, with no system call.
    pub fn allows_cred(&self, cred: &PeerCred, groups: &[u32]) -> bool {
        self.is_open()
            || self.uids.contains(&cred.uid)
            || self.gids.contains(&cred.gid)
            || groups.iter().any(|g| self.gids.contains(g))
            || self.pids.contains(&cred.pid)
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::unix::net::UnixStream;

    use super::*;

    /// This process's supplementary groups, from the kernel.
    fn own_groups() -> Vec<u32> {
        // SAFETY: with a size of 0, getgroups only returns the count and writes nothing.
        let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
        assert!(n >= 0, "{}", io::Error::last_os_error());
        let mut groups = vec![0 as libc::gid_t; n as usize];
        // SAFETY: `groups` has room for `n` entries, the size passed.
        let n = unsafe { libc::getgroups(n, groups.as_mut_ptr()) };
        assert!(n >= 0, "{}", io::Error::last_os_error());
        groups.truncate(n as usize);
        groups
    }

    #[test]
    fn peer_groups_of_a_socketpair_are_our_own_supplementary_groups() {
        let (a, _b) = UnixStream::pair().unwrap();
        let mut got = peer_groups(&a).unwrap();
        let mut want = own_groups();
        got.sort_unstable();
        want.sort_unstable();
        assert_eq!(got, want);
    }

    #[test]
    fn peer_groups_of_an_unconnected_socket_is_an_error_not_a_panic() {
        let file = std::fs::File::open("/").unwrap();
        assert!(peer_groups(&file).is_err());
        assert!(PeerCred::of(&file).is_err());
    }
}
