//! Binding a path the other library holds: libzmq binds over a path zsock has bound (live,
//! or left behind by a killed process) and the other way round. The new binder gets every
//! new connection, connections made before stay with the old one, and closing the old
//! binder leaves the new one's socket file alone. LAST_ENDPOINT strings are libzmq's for
//! the same bind: paths (odd characters, `//` and `./`, relative), abstract names, and the
//! shape of the wildcard's generated path.

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zsock::{Context, SocketType as T};

use crate::support::*;

fn is_socket(p: &Path) -> bool {
    std::fs::symlink_metadata(p).is_ok_and(|m| m.file_type().is_socket())
}

fn other(lib: Lib) -> Lib {
    match lib {
        Lib::Zsock => Lib::Libzmq,
        Lib::Libzmq => Lib::Zsock,
    }
}

/// `old` binds a PULL to a path and a PUSH of the other library connects to it; then `new`
/// (the other library) binds a PULL to the same path while `old` still holds it.
fn live_takeover(old: Lib) {
    let new = other(old);
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("taken");
    let addr = format!("ipc://{}", path.display());

    let mut old_pull = peer(old, &ctx, &zctx, T::Pull);
    let old_ep = old_pull.bind(&addr);
    let mut early_push = peer(new, &ctx, &zctx, T::Push);
    early_push.connect(&old_ep);
    early_push.send(&[b"early".to_vec()]);
    assert_frames(
        &old_pull.recv(),
        &[b"early".to_vec()],
        "before the takeover",
    );

    let mut new_pull = peer(new, &ctx, &zctx, T::Pull);
    let new_ep = new_pull.bind(&addr);
    let what = format!(
        "{} took over from {}",
        new_pull.describe(),
        old_pull.describe()
    );
    assert_eq!(new_ep, old_ep, "{what}: LAST_ENDPOINT of the same bind");
    assert!(is_socket(&path), "{what}: no socket file");

    // A new connection reaches the new binder.
    let mut late_push = peer(old, &ctx, &zctx, T::Push);
    late_push.connect(&new_ep);
    late_push.send(&[b"late".to_vec()]);
    assert_frames(&new_pull.recv(), &[b"late".to_vec()], &what);
    // The connection made before stays with the old binder.
    early_push.send(&[b"early again".to_vec()]);
    assert_frames(&old_pull.recv(), &[b"early again".to_vec()], &what);
    assert!(
        old_pull.recv_within(Duration::from_millis(50)).is_none(),
        "{what}: the old binder got more"
    );

    // Closing the old binder leaves the new one's file: still reachable.
    drop(old_pull);
    drop(early_push);
    assert!(
        is_socket(&path),
        "{what}: closing the old binder removed the file"
    );
    let mut after_push = peer(old, &ctx, &zctx, T::Push);
    after_push.connect(&new_ep);
    after_push.send(&[b"after".to_vec()]);
    assert_frames(&new_pull.recv(), &[b"after".to_vec()], &what);
    drop(late_push);
    drop(after_push);
    drop(new_pull);
    if new == Lib::Zsock {
        // zsock removes its own socket file on close (libzmq leaves it).
        assert!(!path.exists(), "{what}: zsock left its socket file");
    }
}

#[test]
fn libzmq_binds_a_path_zsock_holds() {
    live_takeover(Lib::Zsock);
}

#[test]
fn zsock_binds_a_path_libzmq_holds() {
    live_takeover(Lib::Libzmq);
}

/// A child process of library `old` binds a PULL to a path and is SIGKILLed, leaving a
/// stale socket file; the other library binds the same path and gets new connections.
fn stale_takeover(old: Lib) {
    let new = other(old);
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("stale");
    let addr = format!("ipc://{}", path.display());
    let lib = match old {
        Lib::Zsock => "zsock",
        Lib::Libzmq => "libzmq",
    };
    let mut child = ChildPeer::spawn(&format!("lib={lib};type=pull;bind={addr}"));
    let child_ep = child.endpoint.clone();
    child.kill();
    assert!(
        is_socket(&path),
        "the killed {lib} process left no socket file"
    );

    let mut pull = peer(new, &ctx, &zctx, T::Pull);
    let ep = pull.bind(&addr);
    let what = format!("{} over a stale {lib} socket file", pull.describe());
    assert_eq!(ep, child_ep, "{what}: LAST_ENDPOINT of the same bind");
    let mut push = peer(old, &ctx, &zctx, T::Push);
    push.connect(&ep);
    push.send(&[b"over stale".to_vec()]);
    assert_frames(&pull.recv(), &[b"over stale".to_vec()], &what);
}

#[test]
fn libzmq_binds_over_a_stale_zsock_socket_file() {
    stale_takeover(Lib::Zsock);
}

#[test]
fn zsock_binds_over_a_stale_libzmq_socket_file() {
    stale_takeover(Lib::Libzmq);
}

/// `path` relative to the current directory, through `..` (no chdir: tests share it).
fn relative_to_cwd(path: &Path) -> PathBuf {
    let cwd = std::env::current_dir().unwrap();
    let mut rel = PathBuf::new();
    for _ in cwd.components().skip(1) {
        rel.push("..");
    }
    rel.join(path.strip_prefix("/").unwrap())
}

/// For each address: zsock binds (the returned string and `last_endpoint()`), closes, and
/// libzmq binds the same; the strings are equal.
#[test]
fn last_endpoint_strings_match_libzmq() {
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let pid = std::process::id();
    let addrs = [
        format!("ipc://{d}/plain"),
        format!("ipc://{d}/with space, ünïcode & $ymbols"),
        format!("ipc://{d}//double-slash"),
        format!("ipc://{d}/./dot"),
        format!(
            "ipc://{}",
            relative_to_cwd(&dir.path().join("relative")).display()
        ),
        format!("ipc://@zsock-interop-last-endpoint-{pid}"),
        format!("ipc://@zsock interop: abstract with spaces {pid}"),
    ];
    for addr in &addrs {
        let z = zsock_socket(&ctx, T::Pull);
        let ours = z.bind(addr).unwrap();
        assert_eq!(z.last_endpoint(), ours, "{addr}");
        drop(z);
        let l = zmq_socket(&zctx, T::Pull);
        l.bind(addr).unwrap();
        let theirs = zmq_last_endpoint(&l);
        assert_eq!(ours, theirs, "LAST_ENDPOINT after binding {addr}");
        // libzmq leaves its socket files; the next address must not trip on this one.
        drop(l);
    }
}

/// `ipc://*` with TMPDIR set (in child processes, so no test changes this process's
/// environment): both libraries name a fresh `tmpXXXXXX` (mkstemp/mkdtemp's template) in
/// TMPDIR, and each reaches the other's endpoint.
///
/// zsock makes `$TMPDIR/tmpXXXXXX/socket` in a private directory, as libzmq 4.3 does when
/// built with HAVE_MKDTEMP (its CMake and autotools builds on Linux); the libzmq the `zmq`
/// crate builds lacks HAVE_MKDTEMP and binds the file `$TMPDIR/tmpXXXXXX` itself. The test
/// accepts exactly those two shapes.
#[test]
fn wildcard_endpoints_have_libzmqs_shape() {
    let ctx = Context::new();
    let zctx = zmq::Context::new();
    let tmp = tempfile::tempdir().unwrap();
    let tmpdir = tmp.path().to_str().unwrap();
    let spec = |lib: &str| format!("lib={lib};type=pair;bind=ipc://*");
    let zchild = ChildPeer::spawn_with_env(&spec("zsock"), &[("TMPDIR", tmpdir)]);
    let lchild = ChildPeer::spawn_with_env(&spec("libzmq"), &[("TMPDIR", tmpdir)]);
    let random_part = |ep: &str, rest: &str| {
        let p = ep
            .strip_prefix(&format!("ipc://{tmpdir}/"))
            .unwrap_or_else(|| panic!("{ep} is not in TMPDIR {tmpdir}"));
        let name = p
            .strip_suffix(rest)
            .unwrap_or_else(|| panic!("{ep} does not end in {rest:?}"));
        assert!(
            name.len() == 9 && name.starts_with("tmp") && !name.contains('/'),
            "{ep}: {name} is not tmpXXXXXX"
        );
    };
    random_part(&zchild.endpoint, "/socket");
    random_part(&lchild.endpoint, "");

    let mut zpair = Zsock(zsock_socket(&ctx, T::Pair));
    let mut lpair = Zmq(zmq_socket(&zctx, T::Pair));
    zpair.connect(&lchild.endpoint);
    lpair.connect(&zchild.endpoint);
    zpair.send(&[b"to libzmq's wildcard".to_vec()]);
    lpair.send(&[b"to zsock's wildcard".to_vec()]);
    assert_frames(&zpair.recv(), &[b"to libzmq's wildcard".to_vec()], "echo");
    assert_frames(&lpair.recv(), &[b"to zsock's wildcard".to_vec()], "echo");
}
