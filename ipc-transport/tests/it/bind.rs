//! `BoundSocket::bind` and its clean-up, over real sockets in temporary directories: the
//! cases of IPC.md section 2 and TESTING.md cases 15, 16, 18 and 19.
//!
//! Tests that need another process or another uid re-run this test binary with one test
//! selected and [`CHILD_ENV`] set, so the child plays its part of the same test (see
//! [`self_command`]). As root (CI), the child drops to uid 65534.

use std::ffi::CString;
use std::fs;
use std::io::{self, BufRead, BufReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use ipc_endpoint::{wildcard_base_dir, AbstractName, Endpoint, SocketPath, MAX_PATH_LEN};
use ipc_transport::{BindOptions, BoundSocket, TransportError};

/// Set in a child process started by [`self_command`]: `test-name=argument`.
pub(crate) const CHILD_ENV: &str = "ZSOCK_IT_CHILD";

/// The uid (and gid) children run as when the tests run as root.
pub(crate) const NOBODY: u32 = 65_534;

/// How long a test waits for libzmq's IO thread to act.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Printed by a child once it is ready for the parent's next step.
const READY: &str = "zsock-child-ready";

/// The argument given to this process, when it is the child of the test `test`.
pub(crate) fn child_arg(test: &str) -> Option<String> {
    let value = std::env::var(CHILD_ENV).ok()?;
    let (name, arg) = value.split_once('=')?;
    (name == test).then(|| arg.to_owned())
}

/// A command that re-runs this test binary with only the test `test` selected, in its child
/// role with `arg`; as `uid` (and the same gid) when given.
pub(crate) fn self_command(test: &str, arg: &str, uid: Option<u32>) -> Command {
    let mut cmd = Command::new(std::env::current_exe().expect("current_exe"));
    cmd.args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, format!("{test}={arg}"))
        .stdin(Stdio::null());
    if let Some(uid) = uid {
        // std also drops the supplementary groups when root changes uid.
        cmd.uid(uid).gid(uid);
    }
    cmd
}

/// Checks that a child's libtest run ran exactly its one test and that it passed.
pub(crate) fn assert_child_passed(status: std::process::ExitStatus, stdout: &str, stderr: &str) {
    assert!(
        status.success() && stdout.contains("1 passed"),
        "child failed ({status}):\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
}

/// Held while a child is forked. A forked child holds a copy of every descriptor of this
/// process until its exec, so a socket closed meanwhile keeps its name bound; a test that needs
/// a name freed the moment its socket closes holds this lock across the close.
static FORKS: Mutex<()> = Mutex::new(());

/// Keeps other tests from forking while the guard lives.
pub(crate) fn no_forks() -> MutexGuard<'static, ()> {
    FORKS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Spawns `cmd` while no test is relying on a close taking effect at once.
pub(crate) fn spawn(cmd: &mut Command) -> Child {
    let _forking = no_forks();
    cmd.spawn().expect("spawn child")
}

/// Runs `cmd` to its end and checks it as [`assert_child_passed`] does.
pub(crate) fn run_child(mut cmd: Command) {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let out = spawn(&mut cmd).wait_with_output().expect("wait for child");
    assert_child_passed(
        out.status,
        &String::from_utf8_lossy(&out.stdout),
        &String::from_utf8_lossy(&out.stderr),
    );
}

/// This process's effective uid.
pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

pub(crate) fn is_root() -> bool {
    euid() == 0
}

/// An abstract name no other test (or test run) uses.
pub(crate) fn unique_name(tag: &str) -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "zsock-it-{tag}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn path_endpoint(path: &Path) -> Endpoint {
    Endpoint::Path(SocketPath::new(path).expect("valid test path"))
}

fn bind(endpoint: &Endpoint) -> Result<BoundSocket, TransportError> {
    BoundSocket::bind(endpoint, &BindOptions::default())
}

fn exclusive() -> BindOptions {
    BindOptions {
        exclusive: true,
        ..BindOptions::default()
    }
}

fn with_mode(mode: u32) -> BindOptions {
    BindOptions {
        file_mode: Some(mode),
        ..BindOptions::default()
    }
}

/// A socket file with no listener behind it, as a killed process leaves.
fn make_stale_socket_file(path: &Path) {
    drop(UnixListener::bind(path).unwrap());
    assert!(fs::symlink_metadata(path).unwrap().file_type().is_socket());
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Waits (poll(2), not a sleep) until `listener` has a connection, then accepts it.
fn accept_within(listener: &UnixListener, timeout: Duration) -> UnixStream {
    let mut pfd = libc::pollfd {
        fd: listener.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: `pfd` is one valid pollfd, and 1 is the count passed.
    let n = unsafe { libc::poll(&mut pfd, 1, timeout.as_millis() as libc::c_int) };
    assert!(n > 0, "no connection within {timeout:?} (poll: {n})");
    listener.accept().unwrap().0
}

/// Accepts a connection that already completed (Unix connects complete synchronously).
fn accept_now(listener: &UnixListener) -> UnixStream {
    accept_within(listener, Duration::ZERO)
}

/// A non-blocking `connect(2)` to `path`: `Err(EAGAIN)` when the accept queue is full.
fn connect_nonblocking(path: &Path) -> io::Result<OwnedFd> {
    let addr = SocketPath::new(path).unwrap().sock_addr();
    // SAFETY: socket(2) takes no pointers; the result is checked before use.
    let raw = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    assert!(raw >= 0, "{}", io::Error::last_os_error());
    // SAFETY: a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: `addr` outlives the call and `socklen()` is at most its size.
    let rc = unsafe { libc::connect(fd.as_raw_fd(), addr.as_ptr(), addr.socklen()) };
    if rc == 0 {
        Ok(fd)
    } else {
        Err(io::Error::last_os_error())
    }
}

fn assert_addr_in_use(err: &TransportError, reason_has: &str) {
    match err {
        TransportError::AddrInUse { reason, .. } => {
            assert!(reason.contains(reason_has), "reason {reason:?}")
        }
        other => panic!("expected AddrInUse ({reason_has}), got {other:?}"),
    }
    assert_eq!(err.errno(), libc::EADDRINUSE);
}

#[test]
fn bind_over_stale_socket_file_takes_it_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stale.sock");
    make_stale_socket_file(&path);

    let mut bound = bind(&path_endpoint(&path)).unwrap();
    assert_eq!(bound.endpoint(), &path_endpoint(&path));
    let listener = bound.take_listener().unwrap();
    let _client = UnixStream::connect(&path).unwrap();
    accept_now(&listener);
}

#[test]
fn bind_over_live_socket_takes_it_over_and_new_connections_reach_the_new_binder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("live.sock");
    let old = UnixListener::bind(&path).unwrap();
    old.set_nonblocking(true).unwrap();

    let mut bound = bind(&path_endpoint(&path)).unwrap();
    let new = bound.take_listener().unwrap();
    let _client = UnixStream::connect(&path).unwrap();
    accept_now(&new);
    assert_eq!(
        old.accept().unwrap_err().kind(),
        io::ErrorKind::WouldBlock,
        "the earlier binder must lose new connections"
    );
}

#[test]
fn bind_over_regular_file_fails_and_keeps_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data.sock");
    fs::write(&path, b"precious contents").unwrap();

    let err = bind(&path_endpoint(&path)).unwrap_err();
    assert_addr_in_use(&err, "a regular file");
    assert_eq!(fs::read(&path).unwrap(), b"precious contents");
    // Exclusive changes nothing for files that are not sockets.
    let err = BoundSocket::bind(&path_endpoint(&path), &exclusive()).unwrap_err();
    assert_addr_in_use(&err, "a regular file");
    assert_eq!(fs::read(&path).unwrap(), b"precious contents");
}

#[test]
fn bind_over_directory_fails() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("subdir");
    fs::create_dir(&path).unwrap();
    fs::write(path.join("inside"), b"x").unwrap();

    let err = bind(&path_endpoint(&path)).unwrap_err();
    assert_addr_in_use(&err, "a directory");
    assert!(path.join("inside").exists());
}

#[test]
fn bind_over_symlink_fails_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    // Even a link to a stale socket is not a socket: bind leaves both alone.
    let target = dir.path().join("target.sock");
    make_stale_socket_file(&target);
    let link = dir.path().join("link.sock");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let dangling = dir.path().join("dangling.sock");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();

    for path in [&link, &dangling] {
        let err = bind(&path_endpoint(path)).unwrap_err();
        assert_addr_in_use(&err, "a symbolic link");
        assert!(fs::symlink_metadata(path).unwrap().file_type().is_symlink());
    }
    assert_eq!(fs::read_link(&link).unwrap(), target);
    assert!(fs::symlink_metadata(&target)
        .unwrap()
        .file_type()
        .is_socket());
    assert!(!dir.path().join("nowhere").exists());
}

#[test]
fn bind_in_missing_directory_is_enoent() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    let err = bind(&path_endpoint(&missing.join("x.sock"))).unwrap_err();
    match &err {
        TransportError::NoDirectory { dir, .. } => assert_eq!(Path::new(dir), missing),
        other => panic!("expected NoDirectory, got {other:?}"),
    }
    assert_eq!(err.errno(), libc::ENOENT);
    assert!(!missing.exists());
}

/// /proc exists, but bind(2) and mkdir(2) there fail with ENOENT: the error is the system's
/// (still ENOENT), not a claim that /proc is missing.
#[test]
fn enoent_in_an_existing_directory_does_not_say_it_is_missing() {
    let path = PathBuf::from(format!("/proc/zsock-test-{}.ipc", std::process::id()));
    for opts in [BindOptions::default(), with_mode(0o600)] {
        let err = BoundSocket::bind(&path_endpoint(&path), &opts).unwrap_err();
        assert!(matches!(err, TransportError::Io { .. }), "{err:?}");
        assert_eq!(err.errno(), libc::ENOENT);
        let text = err.to_string();
        assert!(!text.contains("does not exist"), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
    }
}

/// Root ignores directory permissions, so as root this test re-runs itself as uid 65534.
#[test]
fn bind_in_readonly_directory_is_eacces() {
    const TEST: &str = "bind::bind_in_readonly_directory_is_eacces";
    let check = |ro: &Path| {
        for opts in [BindOptions::default(), with_mode(0o600)] {
            let err = BoundSocket::bind(&path_endpoint(&ro.join("x.sock")), &opts).unwrap_err();
            assert!(
                matches!(err, TransportError::PermissionDenied { .. }),
                "{err:?}"
            );
            assert_eq!(err.errno(), libc::EACCES);
        }
        assert_eq!(fs::read_dir(ro).unwrap().count(), 0, "created something");
    };
    if let Some(ro) = child_arg(TEST) {
        check(Path::new(&ro));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    fs::create_dir(&ro).unwrap();
    chmod(&ro, 0o555);
    if is_root() {
        chmod(dir.path(), 0o755);
        run_child(self_command(TEST, ro.to_str().unwrap(), Some(NOBODY)));
    } else {
        check(&ro);
    }
    chmod(&ro, 0o755);
}

#[test]
fn abstract_double_bind_is_addr_in_use() {
    let name = unique_name("double");
    let endpoint = Endpoint::Abstract(AbstractName::new(&name).unwrap());
    let first = bind(&endpoint).unwrap();
    assert_eq!(first.endpoint().to_string(), format!("ipc://@{name}"));

    let err = bind(&endpoint).unwrap_err();
    assert_addr_in_use(&err, "abstract name");
    // Exclusive says who holds it: this process.
    let err = BoundSocket::bind(&endpoint, &exclusive()).unwrap_err();
    assert_addr_in_use(&err, &format!("pid {}, uid ", std::process::id()));

    // The name is free again once the holder is gone (and no fork holds a copy of it).
    let _no_forks = no_forks();
    drop(first);
    bind(&endpoint).unwrap();
}

/// Runs in a child whose working directory holds a file named `@name`, so that no test of
/// this process has to change its working directory.
#[test]
fn abstract_bind_never_touches_a_file_named_like_it() {
    const TEST: &str = "bind::abstract_bind_never_touches_a_file_named_like_it";
    if let Some(name) = child_arg(TEST) {
        let file = Path::new(&name).to_path_buf();
        let endpoint = Endpoint::parse_bind(&format!("ipc://{name}")).unwrap();
        assert!(matches!(endpoint, Endpoint::Abstract(_)));
        let mut bound = BoundSocket::bind(&endpoint, &exclusive()).unwrap();
        assert_eq!(fs::read(&file).unwrap(), b"not a socket");
        bound.remove_files();
        drop(bound);
        assert_eq!(fs::read(&file).unwrap(), b"not a socket");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let name = format!("@{}", unique_name("file"));
    fs::write(dir.path().join(&name), b"not a socket").unwrap();
    let mut cmd = self_command(TEST, &name, None);
    cmd.current_dir(dir.path());
    run_child(cmd);
    assert_eq!(fs::read(dir.path().join(&name)).unwrap(), b"not a socket");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn wildcard_bind_makes_private_dir_and_remove_files_deletes_it() {
    let endpoint = Endpoint::parse_bind("ipc://*").unwrap();
    let mut bound = bind(&endpoint).unwrap();
    let Endpoint::Path(path) = bound.endpoint().clone() else {
        panic!("wildcard resolved to {:?}", bound.endpoint());
    };
    let path = path.as_path().to_path_buf();
    assert_eq!(
        bound.endpoint().to_string(),
        format!("ipc://{}", path.display())
    );
    assert_eq!(path.file_name().unwrap(), "socket");
    let private = path.parent().unwrap().to_path_buf();
    let dir_name = private.file_name().unwrap().to_str().unwrap();
    assert!(
        dir_name.starts_with("tmp") && dir_name.len() == 9,
        "{dir_name}"
    );
    assert_eq!(private.parent().unwrap(), wildcard_base_dir());
    assert_eq!(mode_of(&private), 0o700);
    assert!(fs::symlink_metadata(&path).unwrap().file_type().is_socket());

    let listener = bound.take_listener().unwrap();
    let _client = UnixStream::connect(&path).unwrap();
    accept_now(&listener);

    bound.remove_files();
    assert!(!path.exists() && !private.exists());
    bound.remove_files(); // idempotent
    drop(bound);
}

#[test]
fn wildcard_bind_applies_file_mode() {
    let endpoint = Endpoint::parse_bind("ipc://*").unwrap();
    let bound = BoundSocket::bind(&endpoint, &with_mode(0o660)).unwrap();
    let Endpoint::Path(path) = bound.endpoint().clone() else {
        panic!("wildcard resolved to {:?}", bound.endpoint());
    };
    assert_eq!(mode_of(path.as_path()), 0o660);
    let private = path.as_path().parent().unwrap().to_path_buf();
    drop(bound);
    assert!(!private.exists());
}

#[test]
fn remove_files_spares_a_later_binders_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("shared.sock");
    let mut a = bind(&path_endpoint(&path)).unwrap();
    let mut b = bind(&path_endpoint(&path)).unwrap();

    a.remove_files();
    drop(a);
    assert!(fs::symlink_metadata(&path).unwrap().file_type().is_socket());
    let listener = b.take_listener().unwrap();
    let _client = UnixStream::connect(&path).unwrap();
    accept_now(&listener);

    drop(b);
    assert!(!path.exists());
}

#[test]
fn drop_removes_the_socket_file() {
    let dir = tempfile::tempdir().unwrap();
    for (name, opts) in [
        ("plain.sock", BindOptions::default()),
        ("mode.sock", with_mode(0o600)),
    ] {
        let path = dir.path().join(name);
        let mut bound = BoundSocket::bind(&path_endpoint(&path), &opts).unwrap();
        // Taking the listener does not take the clean-up duty away.
        let listener = bound.take_listener().unwrap();
        drop(bound);
        assert!(fs::symlink_metadata(&path).is_err(), "{name} left behind");
        drop(listener);
    }
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// The holder is another process (as uid 65534 when root), started from this test.
#[test]
fn exclusive_bind_refuses_a_live_socket_naming_pid_and_uid() {
    const TEST: &str = "bind::exclusive_bind_refuses_a_live_socket_naming_pid_and_uid";
    if let Some(path) = child_arg(TEST) {
        let _listener = UnixListener::bind(&path).unwrap();
        println!("{READY}");
        // Hold the socket until the parent closes our stdin.
        io::stdin().read_to_end(&mut Vec::new()).unwrap();
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o777);
    let path = dir.path().join("held.sock");
    let (uid, as_uid) = if is_root() {
        (NOBODY, Some(NOBODY))
    } else {
        (euid(), None)
    };
    let mut cmd = self_command(TEST, path.to_str().unwrap(), as_uid);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn(&mut cmd);
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert_ne!(
            stdout.read_line(&mut line).unwrap(),
            0,
            "child ended before it was ready:\n{seen}"
        );
        seen.push_str(&line);
        if line.contains(READY) {
            break;
        }
    }

    let err = BoundSocket::bind(&path_endpoint(&path), &exclusive()).unwrap_err();
    assert_addr_in_use(
        &err,
        &format!("a live socket of pid {}, uid {uid}", child.id()),
    );
    assert!(fs::symlink_metadata(&path).unwrap().file_type().is_socket());
    UnixStream::connect(&path).expect("the holder still listens");

    drop(child.stdin.take());
    stdout.read_to_string(&mut seen).unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert_child_passed(child.wait().unwrap(), &seen, &stderr);
}

#[test]
fn exclusive_bind_reclaims_a_stale_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stale.sock");
    make_stale_socket_file(&path);

    let mut bound = BoundSocket::bind(&path_endpoint(&path), &exclusive()).unwrap();
    let listener = bound.take_listener().unwrap();
    let _client = UnixStream::connect(&path).unwrap();
    accept_now(&listener);
}

#[test]
fn exclusive_bind_refuses_a_libzmq_binder() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("zmq.sock");
    let ctx = zmq::Context::new();
    let pull = ctx.socket(zmq::PULL).unwrap();
    pull.set_linger(0).unwrap();
    pull.bind(&format!("ipc://{}", path.display())).unwrap();

    let err = BoundSocket::bind(&path_endpoint(&path), &exclusive()).unwrap_err();
    assert_addr_in_use(
        &err,
        &format!("a live socket of pid {}, uid ", std::process::id()),
    );
}

/// Watches `dir` for entries created or moved in; returns the inotify descriptor.
fn watch_dir(dir: &Path) -> OwnedFd {
    // SAFETY: inotify_init1 takes no pointers; the result is checked before use.
    let raw = unsafe { libc::inotify_init1(libc::IN_NONBLOCK | libc::IN_CLOEXEC) };
    assert!(raw >= 0, "{}", io::Error::last_os_error());
    // SAFETY: a fresh descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let c = CString::new(dir.as_os_str().as_bytes()).unwrap();
    let mask = libc::IN_CREATE | libc::IN_MOVED_TO | libc::IN_ATTRIB;
    // SAFETY: `c` is a NUL-terminated path that outlives the call.
    let wd = unsafe { libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), mask) };
    assert!(wd >= 0, "{}", io::Error::last_os_error());
    fd
}

/// The events queued on `fd` so far, as (mask, name) pairs.
fn drain_events(fd: &OwnedFd) -> Vec<(u32, String)> {
    const HEADER: usize = size_of::<libc::inotify_event>();
    let mut buf = vec![0u8; 64 * 1024];
    let mut events = Vec::new();
    loop {
        // SAFETY: `buf` is writable for its whole length, the size passed.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            let err = io::Error::last_os_error();
            assert_eq!(err.kind(), io::ErrorKind::WouldBlock, "{err}");
            return events;
        }
        let mut rest = &buf[..n as usize];
        while rest.len() >= HEADER {
            let word = |i: usize| u32::from_ne_bytes(rest[i..i + 4].try_into().unwrap());
            let (mask, len) = (word(4), word(12) as usize);
            let name = &rest[HEADER..HEADER + len];
            let name = name.split(|&b| b == 0).next().unwrap_or_default();
            events.push((mask, String::from_utf8_lossy(name).into_owned()));
            rest = &rest[HEADER + len..];
        }
    }
}

#[test]
fn file_mode_is_applied_before_the_path_appears() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("private.sock");
    let watch = watch_dir(dir.path());

    let mut bound = BoundSocket::bind(&path_endpoint(&path), &with_mode(0o600)).unwrap();
    assert_eq!(mode_of(&path), 0o600);
    assert!(fs::symlink_metadata(&path).unwrap().file_type().is_socket());
    // The temporary directory is gone: the socket is the only entry.
    let entries: Vec<PathBuf> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(entries, std::slice::from_ref(&path));
    // The path came into being by a rename of the finished file: never created in place
    // (with the umask's mode) and never chmod'ed there.
    let at_path: Vec<u32> = drain_events(&watch)
        .into_iter()
        .filter(|(_, name)| name == "private.sock")
        .map(|(mask, _)| mask)
        .collect();
    assert_eq!(at_path, [libc::IN_MOVED_TO], "events at the path");

    let listener = bound.take_listener().unwrap();
    let _client = UnixStream::connect(&path).unwrap();
    accept_now(&listener);
}

#[test]
fn file_mode_works_for_a_path_at_the_length_limit() {
    let dir = tempfile::tempdir().unwrap();
    // parent/x.sock is exactly MAX_PATH_LEN bytes, so the temporary socket path beside it
    // does not fit sun_path and the bind goes through the directory's descriptor.
    let name = "x.sock";
    let used = dir.path().as_os_str().len() + 1 + 1 + name.len();
    let parent = dir.path().join("d".repeat(MAX_PATH_LEN - used));
    fs::create_dir(&parent).unwrap();
    let path = parent.join(name);
    assert_eq!(path.as_os_str().len(), MAX_PATH_LEN);

    let mut bound = BoundSocket::bind(&path_endpoint(&path), &with_mode(0o640)).unwrap();
    assert_eq!(mode_of(&path), 0o640);
    assert_eq!(fs::read_dir(&parent).unwrap().count(), 1);
    let listener = bound.take_listener().unwrap();
    let _client = UnixStream::connect(&path).unwrap();
    accept_now(&listener);
    drop(bound);
    assert_eq!(fs::read_dir(&parent).unwrap().count(), 0);
}

/// TESTING.md case 19: a 0600 socket keeps another uid out. As root the other uid is a
/// child running as 65534; otherwise mode 0 keeps even the owner out.
#[test]
fn file_mode_0600_keeps_another_uid_out() {
    const TEST: &str = "bind::file_mode_0600_keeps_another_uid_out";
    let refused = |path: &Path| {
        let err = UnixStream::connect(path).unwrap_err();
        assert_eq!(err.raw_os_error(), Some(libc::EACCES), "{err}");
    };
    if let Some(path) = child_arg(TEST) {
        refused(Path::new(&path));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    chmod(dir.path(), 0o755);
    let path = dir.path().join("owner-only.sock");
    if is_root() {
        let _bound = BoundSocket::bind(&path_endpoint(&path), &with_mode(0o600)).unwrap();
        run_child(self_command(TEST, path.to_str().unwrap(), Some(NOBODY)));
        // The owner itself still gets in.
        UnixStream::connect(&path).unwrap();
    } else {
        let _bound = BoundSocket::bind(&path_endpoint(&path), &with_mode(0o000)).unwrap();
        refused(&path);
    }
}

#[test]
fn backlog_is_applied() {
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("small.sock");
    let large = dir.path().join("large.sock");
    let opts = BindOptions {
        backlog: 2,
        ..BindOptions::default()
    };
    let _small = BoundSocket::bind(&path_endpoint(&small), &opts).unwrap();
    let _large = bind(&path_endpoint(&large)).unwrap();

    // Linux queues backlog + 1 connections; the next non-blocking connect gets EAGAIN.
    let mut held = Vec::new();
    let refused = (0..10).find_map(|_| match connect_nonblocking(&small) {
        Ok(fd) => {
            held.push(fd);
            None
        }
        Err(e) => Some(e),
    });
    let err = refused.expect("a backlog of 2 took 10 connections");
    assert_eq!(err.raw_os_error(), Some(libc::EAGAIN), "{err}");
    assert!((2..=3).contains(&held.len()), "{} queued", held.len());
    // The default backlog (100) takes them all.
    for _ in 0..10 {
        held.push(connect_nonblocking(&large).unwrap());
    }
}

#[test]
fn libzmq_can_connect_to_our_bind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ours.sock");
    let mut bound = bind(&path_endpoint(&path)).unwrap();
    let listener = bound.take_listener().unwrap();

    let ctx = zmq::Context::new();
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.set_linger(0).unwrap();
    push.connect(&bound.endpoint().to_string()).unwrap();
    let mut conn = accept_within(&listener, TIMEOUT);
    conn.set_read_timeout(Some(TIMEOUT)).unwrap();
    // libzmq opens with the 10-byte greeting signature.
    let mut signature = [0u8; 10];
    conn.read_exact(&mut signature).unwrap();
    assert_eq!(signature[0], 0xFF);
    assert_eq!(signature[9], 0x7F);
}

#[test]
fn we_take_over_a_path_libzmq_bound() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("theirs.sock");
    let endpoint = format!("ipc://{}", path.display());
    let ctx = zmq::Context::new();
    let pull = ctx.socket(zmq::PULL).unwrap();
    pull.set_linger(0).unwrap();
    pull.bind(&endpoint).unwrap();

    let mut bound = bind(&path_endpoint(&path)).unwrap();
    let listener = bound.take_listener().unwrap();
    let push = ctx.socket(zmq::PUSH).unwrap();
    push.set_linger(0).unwrap();
    push.connect(&endpoint).unwrap();
    let mut conn = accept_within(&listener, TIMEOUT);
    conn.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut signature = [0u8; 10];
    conn.read_exact(&mut signature).unwrap();
    assert_eq!((signature[0], signature[9]), (0xFF, 0x7F));
}
