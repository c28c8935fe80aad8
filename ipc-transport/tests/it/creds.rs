//! `PeerCred` and `AccessFilter` over real sockets: socket pairs for this process's own
//! credentials, and (as root) a child of another uid with its own supplementary groups
//! (TESTING.md case 19).

use std::io;
use std::os::unix::net::{SocketAddr, UnixStream};
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use ipc_endpoint::{AbstractName, Endpoint};
use ipc_transport::{AccessFilter, BindOptions, BoundSocket, PeerCred};

use crate::bind::NOBODY;
use crate::bind::{assert_child_passed, child_arg, euid, is_root, self_command, unique_name};

/// Supplementary groups the child of another uid is given (no such groups need to exist).
const CHILD_GROUPS: [u32; 2] = [4242, 4343];

fn egid() -> u32 {
    // SAFETY: getegid has no preconditions and cannot fail.
    unsafe { libc::getegid() }
}

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

fn own_cred() -> PeerCred {
    PeerCred {
        pid: std::process::id() as i32,
        uid: euid(),
        gid: egid(),
    }
}

fn uids(list: &[u32]) -> AccessFilter {
    AccessFilter {
        uids: list.to_vec(),
        ..AccessFilter::default()
    }
}

fn gids(list: &[u32]) -> AccessFilter {
    AccessFilter {
        gids: list.to_vec(),
        ..AccessFilter::default()
    }
}

fn pids(list: &[i32]) -> AccessFilter {
    AccessFilter {
        pids: list.to_vec(),
        ..AccessFilter::default()
    }
}

#[test]
fn peer_cred_of_a_socketpair_is_our_own_pid_uid_gid() {
    let (a, b) = UnixStream::pair().unwrap();
    assert_eq!(PeerCred::of(&a).unwrap(), own_cred());
    assert_eq!(PeerCred::of(&b).unwrap(), own_cred());
}

#[test]
fn peer_cred_of_a_path_connection_names_both_ends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("creds.sock");
    let endpoint = Endpoint::parse_bind(&format!("ipc://{}", path.display())).unwrap();
    let mut bound = BoundSocket::bind(&endpoint, &BindOptions::default()).unwrap();
    let listener = bound.take_listener().unwrap();
    let client = UnixStream::connect(&path).unwrap();
    let (server, _) = listener.accept().unwrap();
    assert_eq!(PeerCred::of(&server).unwrap(), own_cred());
    assert_eq!(PeerCred::of(&client).unwrap(), own_cred());
}

#[test]
fn filter_by_uid_pid_gid() {
    let me = own_cred();
    let groups = own_groups();

    // Pure decisions.
    assert!(uids(&[me.uid]).allows_cred(&me, &[]));
    assert!(!uids(&[me.uid + 1]).allows_cred(&me, &[]));
    assert!(pids(&[me.pid]).allows_cred(&me, &[]));
    assert!(!pids(&[me.pid + 1]).allows_cred(&me, &[]));
    assert!(gids(&[me.gid]).allows_cred(&me, &[]));
    assert!(gids(&[7777]).allows_cred(&me, &[1, 7777]));
    assert!(!gids(&[7777]).allows_cred(&me, &[1, 7778]));
    // Any list matching is enough.
    let mixed = AccessFilter {
        uids: vec![me.uid + 1],
        gids: vec![7777],
        pids: vec![me.pid],
    };
    assert!(mixed.allows_cred(&me, &[]));

    // The same over a real socket.
    let (a, _b) = UnixStream::pair().unwrap();
    assert!(uids(&[me.uid]).allows(&a).unwrap());
    assert!(!uids(&[me.uid + 1]).allows(&a).unwrap());
    assert!(pids(&[me.pid]).allows(&a).unwrap());
    assert!(!pids(&[me.pid + 1]).allows(&a).unwrap());
    assert!(gids(&[me.gid]).allows(&a).unwrap());
    for g in &groups {
        assert!(gids(&[*g]).allows(&a).unwrap(), "supplementary group {g}");
    }
    let foreign = (1..)
        .map(|g: u32| me.gid.wrapping_add(g))
        .find(|g| !groups.contains(g))
        .unwrap();
    assert!(!gids(&[foreign]).allows(&a).unwrap());
}

#[test]
fn empty_filter_passes_everyone() {
    let open = AccessFilter::default();
    assert!(open.is_open());
    assert!(!uids(&[0]).is_open() && !gids(&[0]).is_open() && !pids(&[1]).is_open());
    let stranger = PeerCred {
        pid: 1,
        uid: 12345,
        gid: 54321,
    };
    assert!(open.allows_cred(&stranger, &[]));
    let (a, _b) = UnixStream::pair().unwrap();
    assert!(open.allows(&a).unwrap());
    // An open filter asks the kernel nothing, so even a non-socket passes.
    let file = std::fs::File::open("/").unwrap();
    assert!(open.allows(&file).unwrap());
    assert!(uids(&[0]).allows(&file).is_err());
}

/// As root: a child of uid/gid 65534 with supplementary groups [`CHILD_GROUPS`] connects to
/// our abstract listener; its credentials and groups come from the kernel and the filters
/// decide on them. Otherwise: the same with our own groups over a socket pair.
#[test]
fn filter_rejects_another_uid_and_reads_supplementary_groups_from_the_kernel() {
    const TEST: &str =
        "creds::filter_rejects_another_uid_and_reads_supplementary_groups_from_the_kernel";
    if let Some(name) = child_arg(TEST) {
        use std::os::linux::net::SocketAddrExt;
        let addr = SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        UnixStream::connect_addr(&addr).unwrap();
        return;
    }
    if !is_root() {
        let (a, _b) = UnixStream::pair().unwrap();
        assert!(!uids(&[euid() + 1]).allows(&a).unwrap());
        for g in own_groups() {
            assert!(gids(&[g]).allows(&a).unwrap(), "supplementary group {g}");
        }
        return;
    }
    let name = unique_name("filter");
    let endpoint = Endpoint::Abstract(AbstractName::new(&name).unwrap());
    let mut bound = BoundSocket::bind(&endpoint, &BindOptions::default()).unwrap();
    let listener = bound.take_listener().unwrap();

    let mut cmd = self_command(TEST, &name, None);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    // SAFETY: the closure runs in the forked child before exec and only makes the three
    // system calls below, which are async-signal-safe; it touches no lock or allocation.
    unsafe {
        cmd.pre_exec(|| {
            let groups: [libc::gid_t; 2] = CHILD_GROUPS;
            if libc::setgroups(groups.len(), groups.as_ptr()) != 0
                || libc::setresgid(NOBODY, NOBODY, NOBODY) != 0
                || libc::setresuid(NOBODY, NOBODY, NOBODY) != 0
            {
                return Err(io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = crate::bind::spawn(&mut cmd);
    let child_pid = child.id() as i32;
    let out = child.wait_with_output().unwrap();
    assert_child_passed(
        out.status,
        &String::from_utf8_lossy(&out.stdout),
        &String::from_utf8_lossy(&out.stderr),
    );

    // The child's connection waits in the queue, with its credentials, even after it exited.
    let (conn, _) = listener.accept().unwrap();
    let cred = PeerCred::of(&conn).unwrap();
    assert_eq!(
        cred,
        PeerCred {
            pid: child_pid,
            uid: NOBODY,
            gid: NOBODY,
        }
    );
    assert!(
        !uids(&[euid()]).allows(&conn).unwrap(),
        "another uid passed"
    );
    assert!(uids(&[NOBODY]).allows(&conn).unwrap());
    assert!(gids(&[NOBODY]).allows(&conn).unwrap());
    for g in CHILD_GROUPS {
        assert!(gids(&[g]).allows(&conn).unwrap(), "supplementary group {g}");
    }
    assert!(!gids(&[egid(), 4244]).allows(&conn).unwrap());
    assert!(pids(&[child_pid]).allows(&conn).unwrap());
    assert!(!pids(&[std::process::id() as i32]).allows(&conn).unwrap());
}
