//! Binding a listening Unix socket for an `ipc://` endpoint, and removing what the bind
//! created, and nothing else.
//!
//! [`BoundSocket::bind`] follows libzmq where zsock matches it and does better where
//! IPC.md section 2 says so:
//! - a filesystem path that holds a socket file is taken over (the file is unlinked and bound
//!   anew; an earlier binder silently loses new connections); anything else at the path (a
//!   regular file, a directory, a symbolic link, a FIFO, a device) is left untouched and the
//!   bind fails with [`TransportError::AddrInUse`] naming it;
//! - an abstract name (`ipc://@name`) never touches the filesystem;
//! - the wildcard (`ipc://*`) binds `socket` in a fresh private directory (mode 0700) under
//!   [`wildcard_base_dir`];
//! - [`BindOptions::exclusive`] refuses a path that answers a connect, naming the holder;
//! - [`BindOptions::file_mode`] is applied before the path becomes visible;
//! - [`BoundSocket::remove_files`] removes the socket file only while the path still holds
//!   the inode this bind created, so a later binder's file survives.
//!
//! Every descriptor is an [`OwnedFd`] from the moment it exists, and every file or directory
//! is owned by a guard ([`Files`], [`TempDir`]) from the moment it is created, so a failure at
//! any step closes and removes what the earlier steps made.

use std::fs;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use ipc_endpoint::{
    wildcard_base_dir, wildcard_socket_path, AbstractName, Endpoint, EndpointError, SockAddr,
    SocketPath, WILDCARD_DIR_PREFIX,
};

use crate::creds::PeerCred;
use crate::sys::{self, new_socket};
use crate::TransportError;

/// libzmq's default `ZMQ_BACKLOG`.
const DEFAULT_BACKLOG: i32 = 100;

/// `mkdtemp(3)`'s template suffix.
const MKDTEMP_SUFFIX: &str = "XXXXXX";

/// Prefix of the private directory a bind with [`BindOptions::file_mode`] makes beside the
/// target path (short, so that the temporary socket path fits `sun_path` whenever the target
/// does or nearly does).
const MODE_DIR_PREFIX: &str = ".zsock-";

/// Name of the socket file inside that directory.
const MODE_SOCKET_FILE: &str = "s";

/// Options of a bind.
#[derive(Debug, Clone)]
pub struct BindOptions {
    /// Refuse a filesystem path whose socket answers a connect, instead of taking it over; a
    /// socket file that refuses connections (stale) is still reclaimed. Default `false`
    /// (libzmq's takeover). Abstract names are always exclusive.
    pub exclusive: bool,
    /// Permission bits for the socket file (e.g. `Some(0o600)`), applied before the path
    /// becomes visible; only the bits in `0o7777` are used. Default `None`: the process's
    /// umask applies. Ignored for abstract names, which have no file.
    pub file_mode: Option<u32>,
    /// The `listen(2)` backlog. Default 100, libzmq's `ZMQ_BACKLOG` default. The kernel caps
    /// it at `net.core.somaxconn`.
    pub backlog: i32,
}

impl Default for BindOptions {
    fn default() -> BindOptions {
        BindOptions {
            exclusive: false,
            file_mode: None,
            backlog: DEFAULT_BACKLOG,
        }
    }
}

/// A bound, listening, non-blocking, close-on-exec Unix socket and what to clean up.
///
/// The engine takes the listener with [`BoundSocket::take_listener`] and keeps the
/// `BoundSocket` for as long as the listener lives; dropping the `BoundSocket` (or calling
/// [`BoundSocket::remove_files`]) removes the socket file and the wildcard's directory,
/// whether or not the listener was taken. Unbind should therefore close the listener and drop
/// the `BoundSocket` together.
#[derive(Debug)]
pub struct BoundSocket {
    endpoint: Endpoint,
    listener: Option<UnixListener>,
    files: Files,
}

impl BoundSocket {
    /// Creates a Unix socket, binds it to `endpoint` and listens.
    ///
    /// Errors, by the endpoint's kind:
    /// - path: [`TransportError::AddrInUse`] when something that is not a socket is at the
    ///   path (it is left untouched) or, with [`BindOptions::exclusive`], when the socket
    ///   there accepts connections (the reason names its pid and uid);
    ///   [`TransportError::NoDirectory`] when the directory does not exist (another ENOENT,
    ///   such as bind(2) gives in `/proc`, is [`TransportError::Io`]);
    ///   [`TransportError::PermissionDenied`] when it is not writable (or not searchable);
    /// - abstract name: [`TransportError::AddrInUse`] when another socket holds the name;
    /// - wildcard: [`TransportError::NoDirectory`] or [`TransportError::PermissionDenied`] for
    ///   the base directory, [`TransportError::Endpoint`] when `base/tmpXXXXXX/socket` is too
    ///   long for `sun_path`; whatever was created is removed before returning;
    /// - [`Endpoint::Unnamed`]: [`TransportError::Endpoint`] with
    ///   [`EndpointError::EmptyPath`] (EINVAL, as binding `ipc://` is);
    /// - any other system error: [`TransportError::Io`] naming the failed step.
    pub fn bind(endpoint: &Endpoint, opts: &BindOptions) -> Result<BoundSocket, TransportError> {
        let given = endpoint.to_string();
        match endpoint {
            Endpoint::Path(path) => bind_path(path, opts, &given),
            Endpoint::Abstract(name) => bind_abstract(name, opts, &given),
            Endpoint::Wildcard(_) => bind_wildcard_in(&wildcard_base_dir(), opts, &given),
            Endpoint::Unnamed => Err(TransportError::Endpoint(EndpointError::EmptyPath)),
        }
    }

    /// The resolved endpoint, what `ZMQ_LAST_ENDPOINT` reports: the path as given, the
    /// abstract name, or for a wildcard the generated path (`ipc:///tmp/tmpAbC123/socket`).
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The listener, once; `None` afterwards. The engine wraps it in mio
    /// (`mio::net::UnixListener::from_std`). Taking it does not hand over the clean-up duty:
    /// the files go when this `BoundSocket` is dropped.
    pub fn take_listener(&mut self) -> Option<UnixListener> {
        self.listener.take()
    }

    /// Removes the socket file, but only if the path still holds the inode this bind created
    /// (device and inode compared, so a later binder's file survives, also when a relative
    /// path now resolves elsewhere), then the wildcard's private directory. Idempotent; never
    /// panics; errors (the file or directory is already gone, or not ours) are ignored.
    pub fn remove_files(&mut self) {
        self.files.remove();
    }
}

impl Drop for BoundSocket {
    fn drop(&mut self) {
        self.remove_files();
    }
}

/// A file's identity: device and inode, from `lstat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    fn of(meta: &fs::Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
        }
    }

    /// The identity of what is at `path` now, symbolic links not followed.
    fn at(path: &Path) -> io::Result<FileId> {
        fs::symlink_metadata(path).map(|meta| FileId::of(&meta))
    }
}

/// What a bind created on the filesystem: removed by [`Files::remove`], also on drop, so that
/// an early return during the bind leaves nothing behind.
#[derive(Debug, Default)]
struct Files {
    /// The socket file and the identity it had right after it was created.
    socket: Option<(PathBuf, FileId)>,
    /// The wildcard's private directory, removed after the socket file.
    dir: Option<PathBuf>,
}

impl Files {
    fn remove(&mut self) {
        if let Some((path, id)) = self.socket.take() {
            if FileId::at(&path).is_ok_and(|now| now == id) {
                // A failure here (the file went away in between, or the directory is no longer
                // writable) leaves nothing for us to do.
                let _ = fs::remove_file(&path);
            }
        }
        if let Some(dir) = self.dir.take() {
            // Fails if someone put another file in our private directory: then it stays.
            let _ = fs::remove_dir(&dir);
        }
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        self.remove();
    }
}

/// A private directory (mode 0700, from `mkdtemp`) used while binding with a file mode: the
/// socket is bound and chmod'ed in it, then renamed out. Removed, with the socket file if it
/// is still in it, on drop.
struct TempDir {
    path: PathBuf,
}

impl TempDir {
    fn socket_path(&self) -> PathBuf {
        self.path.join(MODE_SOCKET_FILE)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Only we (and root) can write into a 0700 directory we made: whatever is called
        // `MODE_SOCKET_FILE` in it is our socket, or nothing once it was renamed out.
        let _ = fs::remove_file(self.socket_path());
        let _ = fs::remove_dir(&self.path);
    }
}

/// Binds a filesystem path: clear the path (takeover, or refusal), then bind and listen,
/// directly or through a private directory when a file mode is wanted.
fn bind_path(
    path: &SocketPath,
    opts: &BindOptions,
    given: &str,
) -> Result<BoundSocket, TransportError> {
    let target = path.as_path();
    clear_path(target, opts, given)?;
    let (fd, id) = match opts.file_mode {
        None => bind_direct(target, &path.sock_addr(), opts.backlog, given)?,
        Some(mode) => bind_with_mode(target, mode, opts.backlog, given)?,
    };
    Ok(BoundSocket {
        endpoint: Endpoint::Path(path.clone()),
        listener: Some(UnixListener::from(fd)),
        files: Files {
            socket: Some((target.to_path_buf(), id)),
            dir: None,
        },
    })
}

/// Makes `target` free for our bind, or says why it is not: nothing there is fine; a socket
/// file is unlinked (after a probe, when exclusive); anything else is refused untouched.
fn clear_path(target: &Path, opts: &BindOptions, given: &str) -> Result<(), TransportError> {
    let meta = match fs::symlink_metadata(target) {
        Ok(meta) => meta,
        // Nothing there, or the directory is missing: bind(2) tells which.
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(path_error(given, "lstat", target, e)),
    };
    if !meta.file_type().is_socket() {
        return Err(addr_in_use(given, occupant_reason(&meta)));
    }
    if opts.exclusive {
        let addr = match SocketPath::new(target) {
            Ok(p) => p.sock_addr(),
            Err(e) => return Err(TransportError::Endpoint(e)),
        };
        match probe(&addr).map_err(|e| io_error(given, "probe", e))? {
            Probe::Refused => {}
            Probe::Gone => return Ok(()),
            busy => return Err(addr_in_use(given, busy.reason())),
        }
    }
    // Unlink only the socket we looked at: if the path changed in between, say what is there
    // now rather than remove it.
    match FileId::at(target) {
        Ok(now) if now == FileId::of(&meta) => {}
        Ok(_) => {
            return Err(addr_in_use(
                given,
                "another file replaced the socket file while this bind ran".to_owned(),
            ))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(path_error(given, "lstat", target, e)),
    }
    match fs::remove_file(target) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(path_error(given, "unlink", target, e)),
    }
}

/// What a connect to an existing socket file found.
enum Probe {
    /// Someone accepted: the socket is live. The credentials are the listener's.
    Live(io::Result<PeerCred>),
    /// The accept queue is full (EAGAIN): live, but no credentials to show.
    Full,
    /// No one listens (ECONNREFUSED): a stale file, safe to reclaim.
    Refused,
    /// The file went away (ENOENT).
    Gone,
    /// We may not connect (EACCES): whether it is live is unknown, so it is not ours to take.
    Denied,
}

impl Probe {
    /// Why a bind cannot take the socket, for [`TransportError::AddrInUse`].
    fn reason(self) -> String {
        match self {
            Probe::Live(Ok(cred)) => {
                format!("a live socket of pid {}, uid {}", cred.pid, cred.uid)
            }
            Probe::Live(Err(e)) => format!("a live socket (its owner could not be read: {e})"),
            Probe::Full => "a live socket whose accept queue is full".to_owned(),
            Probe::Denied => {
                "a socket this process may not connect to, so it may be live".to_owned()
            }
            Probe::Refused | Probe::Gone => "a socket".to_owned(),
        }
    }
}

/// Connects to `addr` once, without blocking, to learn whether a listener is behind it. The
/// probe connection is closed at once: a live holder sees a connection that ends before its
/// greeting.
fn probe(addr: &SockAddr) -> io::Result<Probe> {
    let fd = new_socket()?;
    let Err(err) = sys::connect_fd(&fd, addr) else {
        return Ok(Probe::Live(PeerCred::of(&fd)));
    };
    Ok(match err.raw_os_error() {
        Some(libc::ECONNREFUSED) => Probe::Refused,
        Some(libc::EAGAIN) => Probe::Full,
        Some(libc::ENOENT) => Probe::Gone,
        Some(libc::EACCES | libc::EPERM) => Probe::Denied,
        // Unix stream connects complete at once on Linux; elsewhere the connect may still be
        // in progress, and then a listener is there.
        Some(libc::EINPROGRESS) => Probe::Live(PeerCred::of(&fd)),
        _ => return Err(err),
    })
}

/// Binds `addr` (the address of `target`) and listens; returns the listening socket and the
/// identity of the file the bind created.
fn bind_direct(
    target: &Path,
    addr: &SockAddr,
    backlog: i32,
    given: &str,
) -> Result<(OwnedFd, FileId), TransportError> {
    let fd = new_socket().map_err(|e| io_error(given, "socket", e))?;
    if let Err(e) = sys::bind(&fd, addr) {
        return Err(bind_error(given, target, e));
    }
    // Recorded right after the bind: this is the inode clean-up will insist on.
    let id = FileId::at(target).map_err(|e| io_error(given, "stat", e))?;
    // From here on a failure must remove the file: the guard does it.
    let mut files = Files {
        socket: Some((target.to_path_buf(), id)),
        dir: None,
    };
    sys::listen(&fd, backlog).map_err(|e| io_error(given, "listen", e))?;
    // Ownership of the file passes to the caller's `Files`.
    files.socket = None;
    Ok((fd, id))
}

/// Binds with `mode` applied before `target` appears: bind in a private directory beside
/// `target` (same filesystem), chmod, listen, then rename into place without replacing
/// anything.
fn bind_with_mode(
    target: &Path,
    mode: u32,
    backlog: i32,
    given: &str,
) -> Result<(OwnedFd, FileId), TransportError> {
    let parent = parent_dir(target);
    let template = parent.join(format!("{MODE_DIR_PREFIX}{MKDTEMP_SUFFIX}"));
    let dir = TempDir {
        path: sys::make_private_dir(template)
            .map_err(|e| dir_error(given, "mkdtemp", &parent, e))?,
    };
    let tmp_socket = dir.socket_path();
    let fd = new_socket().map_err(|e| io_error(given, "socket", e))?;
    bind_fd_long(&fd, &dir.path, &tmp_socket).map_err(|e| io_error(given, "bind", e))?;
    fs::set_permissions(&tmp_socket, fs::Permissions::from_mode(mode & 0o7777))
        .map_err(|e| io_error(given, "chmod", e))?;
    // A rename keeps the inode, so this is the identity the file will have at `target`.
    let id = FileId::at(&tmp_socket).map_err(|e| io_error(given, "stat", e))?;
    // Listening before the path appears: the first connect through it already succeeds. The
    // directory is 0700, so no one else can connect in the meantime.
    sys::listen(&fd, backlog).map_err(|e| io_error(given, "listen", e))?;
    match rename_noreplace(&tmp_socket, target) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            return Err(match fs::symlink_metadata(target) {
                Ok(meta) => addr_in_use(
                    given,
                    format!("{} appeared while this bind ran", occupant_reason(&meta)),
                ),
                Err(_) => addr_in_use(given, "a file appeared while this bind ran".to_owned()),
            });
        }
        Err(e) => return Err(path_error(given, "rename", target, e)),
    }
    // `dir` is empty now; dropping it removes it.
    drop(dir);
    Ok((fd, id))
}

/// Binds a Linux abstract name. Nothing on the filesystem is looked at.
fn bind_abstract(
    name: &AbstractName,
    opts: &BindOptions,
    given: &str,
) -> Result<BoundSocket, TransportError> {
    let addr = name.sock_addr();
    let fd = new_socket().map_err(|e| io_error(given, "socket", e))?;
    if let Err(e) = sys::bind(&fd, &addr) {
        if e.raw_os_error() != Some(libc::EADDRINUSE) {
            return Err(io_error(given, "bind", e));
        }
        // With exclusive, say who holds it (a connect to an abstract name is harmless: the
        // holder sees a connection that ends before its greeting).
        let reason = match opts.exclusive.then(|| probe(&addr)) {
            Some(Ok(found @ (Probe::Live(_) | Probe::Full))) => found.reason(),
            _ => "another socket is bound to the abstract name".to_owned(),
        };
        return Err(addr_in_use(given, reason));
    }
    sys::listen(&fd, opts.backlog).map_err(|e| io_error(given, "listen", e))?;
    Ok(BoundSocket {
        endpoint: Endpoint::Abstract(name.clone()),
        listener: Some(UnixListener::from(fd)),
        files: Files::default(),
    })
}

/// Binds the wildcard under `base`: `mkdtemp(base/tmpXXXXXX)`, then `socket` in it.
/// [`BoundSocket::bind`] passes [`wildcard_base_dir`]; tests pass their own base.
pub(crate) fn bind_wildcard_in(
    base: &Path,
    opts: &BindOptions,
    given: &str,
) -> Result<BoundSocket, TransportError> {
    let template = base.join(format!("{WILDCARD_DIR_PREFIX}{MKDTEMP_SUFFIX}"));
    let dir = sys::make_private_dir(template).map_err(|e| dir_error(given, "mkdtemp", base, e))?;
    // From here on every failure removes the directory (and the file, once it exists).
    let mut files = Files {
        socket: None,
        dir: Some(dir.clone()),
    };
    let path = wildcard_socket_path(&dir)?;
    let fd = new_socket().map_err(|e| io_error(given, "socket", e))?;
    sys::bind(&fd, &path.sock_addr()).map_err(|e| io_error(given, "bind", e))?;
    let id = FileId::at(path.as_path()).map_err(|e| io_error(given, "stat", e))?;
    files.socket = Some((path.as_path().to_path_buf(), id));
    if let Some(mode) = opts.file_mode {
        // The directory is private (0700), so the file's earlier mode was never reachable.
        fs::set_permissions(path.as_path(), fs::Permissions::from_mode(mode & 0o7777))
            .map_err(|e| io_error(given, "chmod", e))?;
    }
    sys::listen(&fd, opts.backlog).map_err(|e| io_error(given, "listen", e))?;
    Ok(BoundSocket {
        endpoint: Endpoint::Path(path),
        listener: Some(UnixListener::from(fd)),
        files,
    })
}

/// `bind(2)` of `fd` to `path`, a file `name` in the directory `dir`. When `path` is too long
/// for `sun_path` (the target path was near the limit), binds through the directory's
/// descriptor as `/proc/self/fd/N/name` instead.
fn bind_fd_long(fd: &impl AsFd, dir: &Path, path: &Path) -> io::Result<()> {
    if let Ok(p) = SocketPath::new(path) {
        return sys::bind(fd, &p.sock_addr());
    }
    let dir_fd = fs::File::open(dir)?;
    let short = format!("/proc/self/fd/{}/{MODE_SOCKET_FILE}", dir_fd.as_raw_fd());
    let short = SocketPath::new(&short).map_err(io::Error::other)?;
    sys::bind(fd, &short.sock_addr())
}

/// Renames `from` to `to`, failing with EEXIST when `to` exists: atomically with
/// `renameat2(RENAME_NOREPLACE)`; where the kernel or filesystem lacks it, by checking with
/// `lstat` first (leaving a short window).
fn rename_noreplace(from: &Path, to: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    match sys::renameat2_noreplace(from, to) {
        Ok(()) => return Ok(()),
        Err(e) if !matches!(e.raw_os_error(), Some(libc::ENOSYS | libc::EINVAL)) => return Err(e),
        Err(_) => {} // not supported here: the check below
    }
    match fs::symlink_metadata(to) {
        Ok(_) => Err(io::Error::from_raw_os_error(libc::EEXIST)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::rename(from, to),
        Err(e) => Err(e),
    }
}

/// The directory `path` is in: its parent, or `.` for a bare file name.
fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// "a regular file", "a directory", ...: what `meta` describes, for an AddrInUse reason.
fn occupant(meta: &fs::Metadata) -> &'static str {
    let ty = meta.file_type();
    if ty.is_file() {
        "a regular file"
    } else if ty.is_dir() {
        "a directory"
    } else if ty.is_symlink() {
        "a symbolic link"
    } else if ty.is_fifo() {
        "a FIFO"
    } else if ty.is_char_device() {
        "a character device"
    } else if ty.is_block_device() {
        "a block device"
    } else if ty.is_socket() {
        "a socket"
    } else {
        "a file of unknown type"
    }
}

fn occupant_reason(meta: &fs::Metadata) -> String {
    format!(
        "{} is at the path (bind replaces only socket files)",
        occupant(meta)
    )
}

fn addr_in_use(given: &str, reason: String) -> TransportError {
    TransportError::AddrInUse {
        endpoint: given.to_owned(),
        reason,
    }
}

fn io_error(given: &str, op: &'static str, source: io::Error) -> TransportError {
    TransportError::Io {
        op,
        endpoint: given.to_owned(),
        source,
    }
}

/// Maps an error of a step on `path` to the error a libzmq user expects: ENOENT is a missing
/// directory when the directory is indeed missing, EACCES/EPERM a permission problem, the
/// rest (another ENOENT too) [`TransportError::Io`].
fn path_error(given: &str, op: &'static str, path: &Path, e: io::Error) -> TransportError {
    dir_error(given, op, &parent_dir(path), e)
}

/// As [`path_error`], for a step that creates something in `dir`.
fn dir_error(given: &str, op: &'static str, dir: &Path, e: io::Error) -> TransportError {
    match e.raw_os_error() {
        Some(libc::ENOENT) if is_missing(dir) => TransportError::NoDirectory {
            endpoint: given.to_owned(),
            dir: dir.display().to_string(),
        },
        Some(libc::EACCES | libc::EPERM) => TransportError::PermissionDenied {
            endpoint: given.to_owned(),
        },
        _ => io_error(given, op, e),
    }
}

/// Whether nothing is at `dir` (symbolic links not followed). A step in a directory that exists
/// can fail with ENOENT too (bind(2) in /proc does), and then the system's error is the one to
/// report; a check that fails for another reason does not make the directory missing.
fn is_missing(dir: &Path) -> bool {
    fs::symlink_metadata(dir).is_err_and(|e| e.kind() == io::ErrorKind::NotFound)
}

/// The error for a failed `bind(2)` on the path `target`. EADDRINUSE means something
/// appeared at the path after [`clear_path`] looked: say what, without touching it.
fn bind_error(given: &str, target: &Path, e: io::Error) -> TransportError {
    if e.raw_os_error() != Some(libc::EADDRINUSE) {
        return path_error(given, "bind", target, e);
    }
    let reason = match fs::symlink_metadata(target) {
        Ok(meta) if meta.file_type().is_socket() => {
            "another socket file was created at the path while this bind ran".to_owned()
        }
        Ok(meta) => occupant_reason(&meta),
        Err(_) => "the path was taken while this bind ran".to_owned(),
    };
    addr_in_use(given, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wildcard_opts() -> BindOptions {
        BindOptions::default()
    }

    #[test]
    fn wildcard_failure_half_way_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        // base/tmpXXXXXX/socket is then longer than sun_path allows: the failure comes after
        // mkdtemp made the directory.
        let base = tmp.path().join("d".repeat(100));
        fs::create_dir(&base).unwrap();
        let err = bind_wildcard_in(&base, &wildcard_opts(), "ipc://*").unwrap_err();
        assert!(
            matches!(
                err,
                TransportError::Endpoint(EndpointError::PathTooLong { .. })
            ),
            "{err:?}"
        );
        assert_eq!(err.errno(), libc::ENAMETOOLONG);
        assert_eq!(fs::read_dir(&base).unwrap().count(), 0, "left behind");
    }

    #[test]
    fn wildcard_in_missing_base_is_no_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let base = tmp.path().join("missing");
        let err = bind_wildcard_in(&base, &wildcard_opts(), "ipc://*").unwrap_err();
        assert!(
            matches!(&err, TransportError::NoDirectory { dir, .. } if Path::new(dir) == base),
            "{err:?}"
        );
    }

    #[test]
    fn wildcard_in_a_given_base_resolves_under_it() {
        let tmp = tempfile::tempdir().unwrap();
        let mut bound = bind_wildcard_in(tmp.path(), &wildcard_opts(), "ipc://*").unwrap();
        let Endpoint::Path(p) = bound.endpoint().clone() else {
            panic!("not a path: {:?}", bound.endpoint());
        };
        assert_eq!(p.as_path().parent().unwrap().parent().unwrap(), tmp.path());
        bound.remove_files();
        assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
    }

    #[test]
    fn make_private_dir_replaces_the_xs_and_makes_0700() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = sys::make_private_dir(tmp.path().join("tmpXXXXXX")).unwrap();
        let name = dir.file_name().unwrap().to_str().unwrap();
        assert!(name.starts_with("tmp") && name.len() == 9 && !name.ends_with("XXXXXX"));
        let mode = fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o7777, 0o700);
    }

    #[test]
    fn rename_noreplace_refuses_an_existing_target() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        fs::write(&a, b"a").unwrap();
        fs::write(&b, b"b").unwrap();
        let err = rename_noreplace(&a, &b).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EEXIST));
        assert_eq!(fs::read(&b).unwrap(), b"b");
        fs::remove_file(&b).unwrap();
        rename_noreplace(&a, &b).unwrap();
        assert_eq!(fs::read(&b).unwrap(), b"a");
    }

    #[test]
    fn parent_of_a_bare_name_is_the_working_directory() {
        assert_eq!(parent_dir(Path::new("x.sock")), Path::new("."));
        assert_eq!(parent_dir(Path::new("a/x.sock")), Path::new("a"));
        assert_eq!(parent_dir(Path::new("/x.sock")), Path::new("/"));
    }
}
