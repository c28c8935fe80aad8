//! libzmq's own ipc tests (tests/test_*ipc*.cpp, test_term_endpoint, test_reconnect_ivl,
//! test_hwm_pubsub, test_monitor), ported to zsock with the same assertions.
//!
//! Where libzmq sleeps for SETTLE_TIME to let something happen, these tests wait for the
//! monitor event that says it happened. Where libzmq sleeps to let something *not* happen
//! (no reconnect, no message), a short bounded wait remains, with a comment.
//! Where zsock deliberately does better than libzmq (IPC.md's "better" rules), the
//! test asserts zsock's documented behaviour and says so.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use zsock::{
    Context, ErrorKind, Event, Flags, Monitor, PeerCred, Socket, SocketOption, SocketType,
};

use crate::support::*;

// ---------------------------------------------------------------------------------------
// Helpers shared with spec.rs (libzmq's testutil: bounce, expect_bounce_fail, s_send_seq,
// s_recv_seq, and monitor reading).

/// libzmq's bounce payload.
pub(crate) const CONTENT: &str = "12345678ABCDEFGH12345678abcdefgh";

/// libzmq's SETTLE_TIME, used only where its test waits for something *not* to happen.
pub(crate) const SETTLE: Duration = Duration::from_millis(300);

/// How long an awaited event may take before the test fails (the harness's RCVTIMEO).
pub(crate) const PATIENCE: Duration = Duration::from_secs(10);

/// libzmq's `bounce`: a two-frame message from client to server, and two frames back, with
/// RCVMORE checked on every frame.
pub(crate) fn bounce(server: &mut Socket, client: &mut Socket) {
    client.send(CONTENT, Flags::SNDMORE).unwrap();
    client.send(CONTENT, Flags::NONE).unwrap();
    assert_eq!(server.recv(Flags::NONE).unwrap(), CONTENT);
    assert!(server.rcvmore());
    assert_eq!(server.recv(Flags::NONE).unwrap(), CONTENT);
    assert!(!server.rcvmore());

    server.send(CONTENT, Flags::SNDMORE).unwrap();
    server.send(CONTENT, Flags::NONE).unwrap();
    assert_eq!(client.recv(Flags::NONE).unwrap(), CONTENT);
    assert!(client.rcvmore());
    assert_eq!(client.recv(Flags::NONE).unwrap(), CONTENT);
    assert!(!client.rcvmore());
}

/// A send that either went out or would block (libzmq: `rc == 32 || errno == EAGAIN`).
fn sent_or_again(r: zsock::Result<()>) {
    if let Err(e) = r {
        assert_eq!(e.kind(), ErrorKind::Again, "{e}");
    }
}

/// libzmq's `expect_bounce_fail`: in both directions sending may succeed or time out, but
/// nothing arrives within 250 ms.
pub(crate) fn expect_bounce_fail(server: &mut Socket, client: &mut Socket) {
    const T: i32 = 250;
    client.set(SocketOption::SndTimeo(T)).unwrap();
    sent_or_again(client.send(CONTENT, Flags::SNDMORE));
    sent_or_again(client.send(CONTENT, Flags::NONE));

    // Bounded wait for something that must not happen: no message reaches the server.
    server.set(SocketOption::RcvTimeo(T)).unwrap();
    assert_eq!(
        server.recv(Flags::NONE).unwrap_err().kind(),
        ErrorKind::Again
    );

    server.set(SocketOption::SndTimeo(T)).unwrap();
    sent_or_again(server.send(CONTENT, Flags::SNDMORE));
    sent_or_again(server.send(CONTENT, Flags::NONE));

    client.set(SocketOption::RcvTimeo(T)).unwrap();
    assert_eq!(
        client.recv(Flags::NONE).unwrap_err().kind(),
        ErrorKind::Again
    );

    // libzmq leaves the 250 ms timeouts in place; we restore the harness's 10 s so that a
    // later bounce does not depend on how loaded the machine is.
    for s in [server, client] {
        s.set(SocketOption::SndTimeo(10_000)).unwrap();
        s.set(SocketOption::RcvTimeo(10_000)).unwrap();
    }
}

/// libzmq's `s_send_seq`: one message of these frames ("" is libzmq's null frame), sent
/// frame by frame with SNDMORE as libzmq's helper does. libzmq's helper also sends each
/// string's terminating NUL; we send the bytes only, so the frame sizes libzmq asserts are
/// one less here.
pub(crate) fn send_seq(s: &mut Socket, frames: &[&str]) {
    for (i, f) in frames.iter().enumerate() {
        let more = if i + 1 < frames.len() {
            Flags::SNDMORE
        } else {
            Flags::NONE
        };
        s.send(zsock::Bytes::copy_from_slice(f.as_bytes()), more)
            .unwrap_or_else(|e| panic!("sending frame {i} of {frames:?}: {e}"));
    }
}

/// libzmq's `s_recv_seq`: the next message has exactly these frames.
pub(crate) fn recv_seq(s: &mut Socket, frames: &[&str]) {
    let m = s
        .recv_msg(Flags::NONE)
        .unwrap_or_else(|e| panic!("expected {frames:?}: {e}"));
    let got: Vec<String> = m
        .iter()
        .map(|f| String::from_utf8_lossy(f).into_owned())
        .collect();
    assert_eq!(got, frames);
}

/// The name of an event's kind, for comparing sequences.
pub(crate) fn kind(e: &Event) -> &'static str {
    match e {
        Event::Listening { .. } => "Listening",
        Event::BindFailed { .. } => "BindFailed",
        Event::Accepted { .. } => "Accepted",
        Event::AcceptFailed { .. } => "AcceptFailed",
        Event::AccessRejected { .. } => "AccessRejected",
        Event::Connected { .. } => "Connected",
        Event::ConnectRetried { .. } => "ConnectRetried",
        Event::HandshakeSucceeded { .. } => "HandshakeSucceeded",
        Event::HandshakeFailed { .. } => "HandshakeFailed",
        Event::Disconnected { .. } => "Disconnected",
        Event::Closed { .. } => "Closed",
        _ => "other",
    }
}

fn endpoint_of(e: &Event) -> Option<&str> {
    match e {
        Event::Listening { endpoint }
        | Event::BindFailed { endpoint, .. }
        | Event::Accepted { endpoint, .. }
        | Event::AcceptFailed { endpoint, .. }
        | Event::AccessRejected { endpoint, .. }
        | Event::Connected { endpoint, .. }
        | Event::ConnectRetried { endpoint, .. }
        | Event::HandshakeSucceeded { endpoint, .. }
        | Event::HandshakeFailed { endpoint, .. }
        | Event::Disconnected { endpoint, .. }
        | Event::Closed { endpoint } => Some(endpoint),
        _ => None,
    }
}

/// Reads events until one of kind `want` comes; returns it. Fails after [`PATIENCE`].
pub(crate) fn await_event(mon: &Monitor, want: &str) -> Event {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match mon.next(Some(left)) {
            Some(e) if kind(&e) == want => return e,
            Some(e) => seen.push(e),
            None => panic!("no {want} event within {PATIENCE:?}; saw {seen:?}"),
        }
    }
}

/// Every event still queued (after the socket closed: all it will ever report).
fn drain(mon: &Monitor) -> Vec<Event> {
    std::iter::from_fn(|| mon.try_next()).collect()
}

fn abstract_ep(test: &str) -> String {
    format!("ipc://@zsock-{test}-{}", std::process::id())
}

fn path_of(endpoint: &str) -> PathBuf {
    PathBuf::from(endpoint.strip_prefix("ipc://").expect("an ipc:// endpoint"))
}

/// zsock's wildcard base directory rule (IPC.md section 2, "better"): the first of
/// TMPDIR, TEMPDIR, TMP holding an absolute path, else /tmp.
fn expected_wildcard_base() -> PathBuf {
    ["TMPDIR", "TEMPDIR", "TMP"]
        .iter()
        .filter_map(std::env::var_os)
        .map(PathBuf::from)
        .find(|p| p.is_absolute())
        .unwrap_or_else(|| PathBuf::from("/tmp"))
}

fn own_cred() -> PeerCred {
    // SAFETY: getpid/geteuid/getegid cannot fail and touch no memory of ours.
    unsafe {
        PeerCred {
            pid: libc::getpid(),
            uid: libc::geteuid(),
            gid: libc::getegid(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// test_ipc_wildcard

#[test]
fn wildcard_bind_gives_a_private_socket_under_tmpdir_that_peers_reach() {
    let ctx = Context::new();
    let mut sb = sock(&ctx, SocketType::Pair);
    let endpoint = sb.bind("ipc://*").unwrap();
    assert_eq!(sb.last_endpoint(), endpoint);

    // zsock does better than libzmq here (IPC.md section 2): the private directory is
    // under TMPDIR/TEMPDIR/TMP or /tmp, never the working directory; it is mode 0700 and
    // holds a socket file named `socket`.
    let path = path_of(&endpoint);
    assert!(path.is_absolute(), "{endpoint}");
    assert_eq!(path.file_name().unwrap(), "socket");
    let dir = path.parent().unwrap().to_path_buf();
    assert_eq!(dir.parent().unwrap(), expected_wildcard_base());
    let dir_meta = std::fs::metadata(&dir).unwrap();
    assert_eq!(dir_meta.permissions().mode() & 0o777, 0o700);
    assert!(std::fs::symlink_metadata(&path)
        .unwrap()
        .file_type()
        .is_socket());

    let mut sc = sock(&ctx, SocketType::Pair);
    sc.connect(&endpoint).unwrap();
    bounce(&mut sb, &mut sc);

    drop(sc);
    drop(sb);
    // zsock removes the wildcard's file and directory on close (libzmq leaves them).
    assert!(!dir.exists(), "{} left behind", dir.display());
}

// ---------------------------------------------------------------------------------------
// test_pair_ipc

#[test]
fn pair_bounces_over_a_filesystem_path() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut sb = sock(&ctx, SocketType::Pair);
    let endpoint = sb.bind(&d.ep("tester")).unwrap();
    let mut sc = sock(&ctx, SocketType::Pair);
    sc.connect(&endpoint).unwrap();
    bounce(&mut sb, &mut sc);
}

#[test]
fn path_of_108_bytes_is_too_long_for_bind_and_connect() {
    let ctx = Context::new();
    let sb = sock(&ctx, SocketType::Pair);
    // sun_path holds 108 bytes including the terminating NUL: a 108-byte path cannot fit.
    let long = format!("ipc:///{}", "a".repeat(107));
    assert_eq!(path_of(&long).as_os_str().len(), 108);
    assert_eq!(sb.bind(&long).unwrap_err().kind(), ErrorKind::NameTooLong);
    // IPC.md section 1: the same on connect.
    assert_eq!(
        sb.connect(&long).unwrap_err().kind(),
        ErrorKind::NameTooLong
    );

    // The boundary: 107 bytes still work (not part of libzmq's test).
    let d = Dir::new();
    let base = d.0.path().as_os_str().len() + 1;
    let fits = d.ep(&"b".repeat(107 - base));
    assert_eq!(path_of(&fits).as_os_str().len(), 107);
    sb.bind(&fits).unwrap();
}

// ---------------------------------------------------------------------------------------
// test_reqrep_ipc

#[test]
fn req_rep_bounce_over_a_wildcard_endpoint() {
    let ctx = Context::new();
    let mut sb = sock(&ctx, SocketType::Rep);
    let endpoint = sb.bind("ipc://*").unwrap();
    let mut sc = sock(&ctx, SocketType::Req);
    sc.connect(&sb.last_endpoint()).unwrap();
    assert_eq!(endpoint, sb.last_endpoint());
    bounce(&mut sb, &mut sc);
}

#[test]
fn rep_can_reply_after_the_requester_closed() {
    let ctx = Context::new();
    let mut sb = sock(&ctx, SocketType::Rep);
    let mon = sb.monitor();
    let endpoint = sb.bind("ipc://*").unwrap();
    let mut sc = sock(&ctx, SocketType::Req);
    sc.connect(&endpoint).unwrap();

    sc.send("leakymsg", Flags::NONE).unwrap();
    assert_eq!(sb.recv(Flags::NONE).unwrap(), "leakymsg");
    drop(sc);
    // libzmq sleeps SETTLE_TIME here; we wait until the REP has seen the requester go.
    await_event(&mon, "Disconnected");
    // The reply has nowhere to go: it is dropped, and sending still succeeds.
    sb.send("leakymsg", Flags::NONE).unwrap();
}

// ---------------------------------------------------------------------------------------
// test_rebind_ipc

#[test]
fn new_binder_on_the_same_path_is_reached_by_the_old_pull() {
    let d = Dir::new();
    let endpoint = d.ep("rebind");
    let ctx = Context::new();
    let mut sb0 = sock(&ctx, SocketType::Push);
    let mut sb1 = sock(&ctx, SocketType::Push);
    sb0.bind(&endpoint).unwrap();

    let mut sc = sock(&ctx, SocketType::Pull);
    sc.connect(&endpoint).unwrap();
    sb0.send("42", Flags::NONE).unwrap();
    assert_eq!(sc.recv(Flags::NONE).unwrap(), "42");

    drop(sb0);
    sb1.bind(&endpoint).unwrap();
    // The PULL reconnects on its own; PUSH blocks (up to SNDTIMEO) until it has.
    sb1.send("42", Flags::NONE).unwrap();
    assert_eq!(sc.recv(Flags::NONE).unwrap(), "42");
}

// ---------------------------------------------------------------------------------------
// test_abstract_ipc

#[test]
fn abstract_name_is_reported_as_given_and_bounces() {
    // libzmq uses `ipc://@tmp-tester`; a per-process name keeps parallel runs apart.
    let endpoint = abstract_ep("abstract_ipc");
    let ctx = Context::new();
    let mut sb = sock(&ctx, SocketType::Dealer);
    assert_eq!(sb.bind(&endpoint).unwrap(), endpoint);
    assert_eq!(sb.last_endpoint(), endpoint);

    let mut sc = sock(&ctx, SocketType::Dealer);
    sc.connect(&endpoint).unwrap();
    bounce(&mut sb, &mut sc);
}

#[test]
fn empty_abstract_name_is_invalid() {
    let ctx = Context::new();
    let sb = sock(&ctx, SocketType::Dealer);
    assert_eq!(sb.bind("ipc://@").unwrap_err().kind(), ErrorKind::Invalid);
    // IPC.md section 1: `ipc://@` is invalid whichever way it is used.
    assert_eq!(
        sb.connect("ipc://@").unwrap_err().kind(),
        ErrorKind::Invalid
    );
}

// ---------------------------------------------------------------------------------------
// test_filter_ipc

enum Filtered {
    /// The peer passes the filter: a bounce works.
    Admitted,
    /// The peer is refused: nothing gets through in either direction.
    Rejected,
}

/// libzmq's `bounce_fail`: the client's message is queued but never arrives, and the
/// server has no peer to send to.
fn bounce_fail(server: &mut Socket, client: &mut Socket) {
    client.send(CONTENT, Flags::SNDMORE).unwrap();
    client.send(CONTENT, Flags::NONE).unwrap();

    // Bounded waits for something that must not happen (libzmq: SETTLE_TIME timeouts).
    let t = SETTLE.as_millis() as i32;
    server.set(SocketOption::RcvTimeo(t)).unwrap();
    assert_eq!(
        server.recv(Flags::NONE).unwrap_err().kind(),
        ErrorKind::Again
    );
    server.set(SocketOption::SndTimeo(t)).unwrap();
    assert_eq!(
        server.send(CONTENT, Flags::SNDMORE).unwrap_err().kind(),
        ErrorKind::Again
    );
}

/// libzmq's `run_test`: DEALER server with an optional filter, DEALER client that never
/// reconnects, bound to a path and bounced (or refused).
fn filter_case(filter: Option<SocketOption>, expect: Filtered) {
    let d = Dir::new();
    let endpoint = d.ep("test_filter_ipc.sock");
    let ctx = Context::new();
    let mut sb = sock(&ctx, SocketType::Dealer);
    if let Some(f) = filter {
        sb.set(f).unwrap();
    }
    let mut sc = sock(&ctx, SocketType::Dealer);
    sc.set(SocketOption::ReconnectIvl(-1)).unwrap();
    let mon = sb.monitor();

    sb.bind(&endpoint).unwrap();
    sc.connect(&endpoint).unwrap();
    match expect {
        Filtered::Admitted => bounce(&mut sb, &mut sc),
        Filtered::Rejected => {
            // zsock reports the refusal (IPC.md section 6); libzmq just closes.
            let e = await_event(&mon, "AccessRejected");
            assert_eq!(endpoint_of(&e), Some(endpoint.as_str()));
            bounce_fail(&mut sb, &mut sc);
        }
    }
}

/// libzmq's `init_groups`: the primary group, a supplementary one (or the primary again
/// if there is none), and a group the process is not in.
fn groups() -> (u32, u32, u32) {
    // SAFETY: with a size of 0, getgroups only returns the count and writes nothing.
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    assert!(n >= 0);
    let mut list: Vec<libc::gid_t> = vec![0; n as usize];
    // SAFETY: `list` has room for exactly `list.len()` gids.
    let n = unsafe { libc::getgroups(list.len() as libc::c_int, list.as_mut_ptr()) };
    assert!(n >= 0);
    list.truncate(n as usize);
    // SAFETY: getgid cannot fail.
    let group = unsafe { libc::getgid() };
    // libzmq also requires getgrgid() to know the group; zsock never asks NSS, so any
    // supplementary group the kernel lists will do.
    let supgroup = list.iter().copied().find(|g| *g != group).unwrap_or(group);
    let notgroup = list
        .iter()
        .fold(group + 1, |n, g| if n <= *g { g + 1 } else { n });
    (group, supgroup, notgroup)
}

#[test]
fn ipc_filter_none_admits_the_peer() {
    filter_case(None, Filtered::Admitted);
}

#[test]
fn ipc_filter_uid_admits_the_process_owner() {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    filter_case(Some(SocketOption::IpcFilterUid(uid)), Filtered::Admitted);
}

#[test]
fn ipc_filter_uid_rejects_another_uid() {
    // SAFETY: getuid cannot fail.
    let uid = unsafe { libc::getuid() };
    filter_case(
        Some(SocketOption::IpcFilterUid(uid + 1)),
        Filtered::Rejected,
    );
}

#[test]
fn ipc_filter_gid_admits_the_process_group() {
    let (group, _, _) = groups();
    filter_case(Some(SocketOption::IpcFilterGid(group)), Filtered::Admitted);
}

#[test]
fn ipc_filter_gid_admits_a_supplementary_group() {
    let (_, supgroup, _) = groups();
    filter_case(
        Some(SocketOption::IpcFilterGid(supgroup)),
        Filtered::Admitted,
    );
}

#[test]
fn ipc_filter_gid_rejects_a_group_the_peer_is_not_in() {
    let (_, _, notgroup) = groups();
    filter_case(
        Some(SocketOption::IpcFilterGid(notgroup)),
        Filtered::Rejected,
    );
}

#[test]
fn ipc_filter_pid_admits_the_current_process() {
    let pid = std::process::id() as i32;
    filter_case(Some(SocketOption::IpcFilterPid(pid)), Filtered::Admitted);
}

#[test]
fn ipc_filter_pid_rejects_another_pid() {
    let pid = std::process::id() as i32;
    filter_case(
        Some(SocketOption::IpcFilterPid(pid + 1)),
        Filtered::Rejected,
    );
}

// ---------------------------------------------------------------------------------------
// test_term_endpoint (its ipc parts; the tcp endpoints become paths)

#[test]
fn send_after_unbind_would_block() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut push = sock(&ctx, SocketType::Push);
    let mon = push.monitor();
    let endpoint = push.bind(&d.ep("unbind")).unwrap();
    let mut pull = sock(&ctx, SocketType::Pull);
    pull.connect(&endpoint).unwrap();

    push.send("ABC", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "ABC");

    push.unbind(&endpoint).unwrap();
    // libzmq sleeps to let the unbind settle; we wait for its two effects.
    await_event(&mon, "Disconnected");
    await_event(&mon, "Closed");
    assert_eq!(
        push.send("ABC", Flags::DONTWAIT).unwrap_err().kind(),
        ErrorKind::Again
    );
}

#[test]
fn send_after_disconnect_would_block() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut pull = sock(&ctx, SocketType::Pull);
    let endpoint = pull.bind(&d.ep("disconnect")).unwrap();
    let mut push = sock(&ctx, SocketType::Push);
    let mon = push.monitor();
    push.connect(&endpoint).unwrap();

    push.send("ABC", Flags::NONE).unwrap();
    assert_eq!(pull.recv(Flags::NONE).unwrap(), "ABC");

    push.disconnect(&endpoint).unwrap();
    // libzmq sleeps to let the disconnect settle; we wait until it is reported.
    await_event(&mon, "Closed");
    assert_eq!(
        push.send("ABC", Flags::DONTWAIT).unwrap_err().kind(),
        ErrorKind::Again
    );
}

#[test]
fn unbind_by_last_endpoint_works_for_paths_and_wildcards() {
    let d = Dir::new();
    let ctx = Context::new();
    let push = sock(&ctx, SocketType::Push);
    push.bind(&d.ep("push")).unwrap();
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind("ipc://*").unwrap();

    push.unbind(&push.last_endpoint()).unwrap();
    let wildcard = pull.last_endpoint();
    pull.unbind(&wildcard).unwrap();

    // zsock removes what it bound on unbind (IPC.md section 2, "better"; libzmq leaves
    // the files): the path's socket file, and the wildcard's file and directory.
    assert!(!path_of(&push.last_endpoint()).exists());
    let dir = path_of(&wildcard).parent().unwrap().to_path_buf();
    assert!(!dir.exists(), "{} left behind", dir.display());
}

#[test]
fn unbind_of_the_wildcard_string_is_not_found() {
    let ctx = Context::new();
    let pull = sock(&ctx, SocketType::Pull);
    pull.bind("ipc://*").unwrap();
    assert_eq!(
        pull.unbind("ipc://*").unwrap_err().kind(),
        ErrorKind::NotFound
    );
}

// ---------------------------------------------------------------------------------------
// test_reconnect_ivl (the ipc case)

#[test]
fn reconnect_ivl_minus_one_never_reconnects_but_a_fresh_connect_works() {
    let d = Dir::new();
    let endpoint = d.ep("reconnect");
    let ctx = Context::new();
    let mut sb = sock(&ctx, SocketType::Pair);
    sb.bind(&endpoint).unwrap();

    let mut sc = sock(&ctx, SocketType::Pair);
    sc.set(SocketOption::ReconnectIvl(-1)).unwrap();
    sc.connect(&endpoint).unwrap();
    bounce(&mut sb, &mut sc);

    sb.unbind(&endpoint).unwrap();
    expect_bounce_fail(&mut sb, &mut sc);

    // The path is bound again, but the connector gave up for good: still nothing passes.
    // expect_bounce_fail's 250 ms windows are longer than the 100 ms default interval, so a
    // wrong reconnect would be caught.
    sb.bind(&endpoint).unwrap();
    expect_bounce_fail(&mut sb, &mut sc);

    // A fresh connect works.
    sc.connect(&endpoint).unwrap();
    bounce(&mut sb, &mut sc);
}

/// With RECONNECT_IVL off, a refused connect is the connector's last: the monitor says so
/// with `Closed` (libzmq's CLOSED), once, over ipc and tcp, and no retry is announced; a
/// later disconnect adds no second `Closed`.
#[test]
fn a_failed_connect_with_reconnection_off_ends_in_closed() {
    let d = Dir::new();
    let free_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // (the listener is gone at the end of the statement: refused)
    for (ivl, endpoint) in [
        (-1, d.ep("nobody-here")),
        (0, format!("tcp://127.0.0.1:{free_port}")),
    ] {
        let ctx = Context::new();
        let mut s = sock(&ctx, SocketType::Dealer);
        s.set(SocketOption::ReconnectIvl(ivl)).unwrap();
        let mon = s.monitor();
        s.connect(&endpoint).unwrap();
        let closed = await_event(&mon, "Closed");
        assert_eq!(endpoint_of(&closed), Some(endpoint.as_str()));
        s.disconnect(&endpoint).unwrap();
        drop(s);
        let rest: Vec<Event> = std::iter::from_fn(|| mon.next(Some(PATIENCE))).collect();
        assert!(
            !rest
                .iter()
                .any(|e| matches!(e, Event::Closed { .. } | Event::ConnectRetried { .. })),
            "{endpoint}: {rest:?}"
        );
    }
}

// ---------------------------------------------------------------------------------------
// test_hwm_pubsub (the ipc cases, and test_reset_hwm over ipc instead of tcp)

/// libzmq's `test_defaults`: XPUB with SNDHWM `hwm` takes `count` messages without
/// blocking and the SUB gets all of them.
fn xpub_hwm_defaults(hwm: i32, count: i32) -> i32 {
    let ctx = Context::new();
    let mut publ = sock(&ctx, SocketType::XPub);
    let endpoint = publ.bind("ipc://*").unwrap();
    let mut sub = sock(&ctx, SocketType::Sub);
    sub.connect(&endpoint).unwrap();

    publ.set(SocketOption::SndHwm(hwm)).unwrap();
    sub.set(SocketOption::Subscribe("".into())).unwrap();

    // Wait until the one subscriber has subscribed (to everything).
    assert_eq!(publ.recv(Flags::NONE).unwrap(), &[1u8][..]);

    let mut send_count = 0;
    while send_count < count && publ.send("test message", Flags::DONTWAIT).is_ok() {
        send_count += 1;
    }
    assert_eq!(send_count, hwm);

    // libzmq sleeps SETTLE_TIME, then counts what DONTWAIT receives; we receive each one
    // (bounded by RCVTIMEO), then check that nothing more is there.
    let mut recv_count = 0;
    for _ in 0..send_count {
        assert_eq!(sub.recv(Flags::NONE).unwrap(), "test message");
        recv_count += 1;
    }
    assert_no_message(&mut sub);
    assert_eq!(recv_count, hwm);
    recv_count
}

#[test]
fn xpub_with_hwm_1000_takes_and_delivers_1000_messages() {
    assert_eq!(xpub_hwm_defaults(1000, 1000), 1000);
}

#[test]
fn xpub_with_hwm_100_takes_and_delivers_100_messages() {
    assert_eq!(xpub_hwm_defaults(100, 100), 100);
}

/// libzmq's `receive`: frames until RCVTIMEO expires or "end" comes.
fn receive_until_quiet(sub: &mut Socket, is_termination: &mut bool) -> i32 {
    let mut recv_count = 0;
    *is_termination = false;
    while let Ok(m) = sub.recv(Flags::NONE) {
        recv_count += 1;
        if m == "end" {
            *is_termination = true;
            return recv_count;
        }
    }
    recv_count
}

/// libzmq's `test_blocking`: with XPUB_NODROP, sending fails with EAGAIN at the HWM
/// instead of dropping, and every message that was accepted arrives.
fn xpub_nodrop_blocking(hwm: i32, count: i32) -> i32 {
    let ctx = Context::new();
    let mut publ = sock(&ctx, SocketType::XPub);
    let endpoint = publ.bind("ipc://*").unwrap();
    let mut sub = sock(&ctx, SocketType::Sub);
    sub.connect(&endpoint).unwrap();

    publ.set(SocketOption::SndHwm(hwm)).unwrap();
    publ.set(SocketOption::XpubNodrop(true)).unwrap();
    sub.set(SocketOption::RcvTimeo(10)).unwrap();
    sub.set(SocketOption::Subscribe("".into())).unwrap();

    assert_eq!(publ.recv(Flags::NONE).unwrap(), &[1u8][..]);

    // libzmq sends empty messages and reaches the HWM because its pipes learn of the I/O
    // thread's progress only every HWM/2 messages. zsock's I/O thread moves messages into
    // the kernel's socket buffers at once, and those hold some 100 000 empty frames, so
    // with empty messages whether the XPUB ever sees its HWM is down to timing. With 1 KiB
    // messages, 6000 of them are more than everything between the two sockets can hold
    // (2000 in the XPUB's pipe, the kernel's socket buffers, 1000 in the SUB's pipe), so
    // the HWM must be reached, whatever the timing; the assertions are libzmq's.
    let payload = zsock::Bytes::from(vec![b'x'; 1024]);
    let mut send_count = 0;
    let mut recv_count = 0;
    let mut blocked_count = 0;
    let mut is_termination = false;
    while send_count < count {
        match publ.send(payload.clone(), Flags::DONTWAIT) {
            Ok(()) => send_count += 1,
            Err(e) => {
                // At the HWM the XPUB reports EAGAIN.
                assert_eq!(e.kind(), ErrorKind::Again);
                blocked_count += 1;
                recv_count += receive_until_quiet(&mut sub, &mut is_termination);
            }
        }
    }
    assert!(
        blocked_count > 0,
        "never blocked: sent = {send_count}, received = {recv_count}"
    );

    // Make room for the termination message, send it, and wait for it.
    recv_count += receive_until_quiet(&mut sub, &mut is_termination);
    publ.send("end", Flags::NONE).unwrap();
    while !is_termination {
        recv_count += receive_until_quiet(&mut sub, &mut is_termination);
    }
    recv_count -= 1; // "end"
    assert_eq!(send_count, recv_count);
    recv_count
}

#[test]
fn xpub_nodrop_blocks_at_hwm_and_loses_nothing() {
    assert_eq!(xpub_nodrop_blocking(2000, 6000), 6000);
}

/// libzmq's `test_reset_hwm` (tcp there, ipc here): the HWM counts only messages not yet
/// received, so 9999 and then 1100 messages all pass an HWM of 11024.
#[test]
fn pub_hwm_counts_only_messages_not_yet_received() {
    const FIRST: usize = 9999;
    const SECOND: usize = 1100;
    const HWM: i32 = 11024;
    let d = Dir::new();
    let ctx = Context::new();
    let mut publ = sock(&ctx, SocketType::Pub);
    publ.set(SocketOption::SndHwm(HWM)).unwrap();
    let endpoint = publ.bind(&d.ep("reset_hwm")).unwrap();
    let mut sub = sock(&ctx, SocketType::Sub);
    sub.set(SocketOption::RcvHwm(HWM)).unwrap();
    sub.connect(&endpoint).unwrap();
    sub.set(SocketOption::Subscribe("".into())).unwrap();

    // libzmq sleeps SETTLE_TIME for the subscription to arrive. We publish a probe until
    // one comes through; probes still in flight are skipped below.
    sub.set(SocketOption::RcvTimeo(20)).unwrap();
    loop {
        publ.send("probe", Flags::NONE).unwrap();
        if sub.recv(Flags::NONE).is_ok() {
            break;
        }
    }
    sub.set(SocketOption::RcvTimeo(10_000)).unwrap();

    for round in [FIRST, SECOND] {
        let mut send_count = 0;
        while send_count < round && publ.send("", Flags::DONTWAIT).is_ok() {
            send_count += 1;
        }
        assert_eq!(send_count, round);

        let mut recv_count = 0;
        while recv_count < round {
            let m = sub
                .recv(Flags::NONE)
                .unwrap_or_else(|e| panic!("after {recv_count} of {round}: {e}"));
            if m != "probe" {
                assert!(m.is_empty());
                recv_count += 1;
            }
        }
        assert_no_message(&mut sub);
        assert_eq!(recv_count, round);
    }
}

// ---------------------------------------------------------------------------------------
// test_monitor

/// libzmq's `test_monitor_basic`: DEALER to DEALER, both monitored, a bounce, then both
/// closed. libzmq's client sees CONNECTED (after an optional CONNECT_DELAYED),
/// HANDSHAKE_SUCCEEDED, MONITOR_STOPPED; its server LISTENING, ACCEPTED,
/// HANDSHAKE_SUCCEEDED, DISCONNECTED (or CLOSED first), MONITOR_STOPPED. zsock's events
/// map onto these (ConnectRetried = CONNECT_DELAYED, a closed monitor = MONITOR_STOPPED),
/// and zsock also reports the closing of the client's own connection and endpoint.
#[test]
fn monitor_reports_the_connection_lifecycle_in_order() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut client = sock(&ctx, SocketType::Dealer);
    let mut server = sock(&ctx, SocketType::Dealer);
    let client_mon = client.monitor();
    let server_mon = server.monitor();

    let endpoint = server.bind(&d.ep("monitor")).unwrap();
    client.connect(&endpoint).unwrap();
    bounce(&mut server, &mut client);

    drop(client);
    // libzmq closes both at once and accepts either order on the server; we wait until
    // the server has seen the client go, so the order is fixed.
    let mut server_events = Vec::new();
    loop {
        let e = server_mon
            .next(Some(PATIENCE))
            .unwrap_or_else(|| panic!("no Disconnected; saw {server_events:?}"));
        let done = kind(&e) == "Disconnected";
        server_events.push(e);
        if done {
            break;
        }
    }
    drop(server);
    ctx.term();
    server_events.extend(drain(&server_mon));
    let mut client_events = drain(&client_mon);

    // CONNECT_DELAYED is optional in libzmq; so are connect retries here.
    let retries = client_events
        .iter()
        .take_while(|e| kind(e) == "ConnectRetried")
        .count();
    client_events.drain(..retries);

    let kinds = |v: &[Event]| v.iter().map(kind).collect::<Vec<_>>();
    assert_eq!(
        kinds(&server_events),
        [
            "Listening",
            "Accepted",
            "HandshakeSucceeded",
            "Disconnected",
            "Closed"
        ],
        "{server_events:#?}"
    );
    assert_eq!(
        kinds(&client_events),
        ["Connected", "HandshakeSucceeded", "Disconnected", "Closed"],
        "{client_events:#?}"
    );
    // Every event names the endpoint (libzmq: the event's address).
    for e in server_events.iter().chain(&client_events) {
        assert_eq!(endpoint_of(e), Some(endpoint.as_str()), "{e:?}");
    }
    // zsock also reports the peer's credentials (IPC.md section 6); here both ends are
    // this process.
    for e in server_events.iter().chain(&client_events) {
        if let Event::Accepted { peer, .. }
        | Event::Connected { peer, .. }
        | Event::HandshakeSucceeded { peer, .. } = e
        {
            assert_eq!(*peer, Some(own_cred()), "{e:?}");
        }
    }
    // MONITOR_STOPPED: the closed sockets report nothing more.
    assert!(client_mon.next(Some(Duration::ZERO)).is_none());
    assert!(server_mon.next(Some(Duration::ZERO)).is_none());
}

/// The older libzmq test_monitor: when the binder (REP) closes, the REQ sees DISCONNECTED
/// and then tries again (zsock says why: the path is gone), and CLOSED when it closes.
#[test]
fn monitor_reports_disconnect_then_retries_when_the_binder_goes() {
    let d = Dir::new();
    let ctx = Context::new();
    let mut rep = sock(&ctx, SocketType::Rep);
    let mut req = sock(&ctx, SocketType::Req);
    let req_mon = req.monitor();
    let endpoint = rep.bind(&d.ep("monitor")).unwrap();
    req.connect(&endpoint).unwrap();
    bounce(&mut rep, &mut req);
    drop(rep);

    let mut seen = Vec::new();
    let mut next = || {
        let e = req_mon
            .next(Some(PATIENCE))
            .unwrap_or_else(|| panic!("REQ monitor went quiet; saw {seen:?}"));
        seen.push(e.clone());
        e
    };
    let mut e = next();
    while kind(&e) == "ConnectRetried" {
        e = next(); // libzmq's optional CONNECT_DELAYED
    }
    assert_eq!(kind(&e), "Connected", "{e:?}");
    assert_eq!(kind(&next()), "HandshakeSucceeded");
    let e = next();
    assert_eq!(kind(&e), "Disconnected", "{e:?}");
    // libzmq's CONNECT_RETRIED when the reconnect timer starts...
    let e = next();
    assert_eq!(kind(&e), "ConnectRetried", "{e:?}");
    // ...and then attempts that fail, each with its reason (IPC.md section 3, "better"):
    // zsock removed the socket file when the REP closed, so the retries find none.
    let mut e = e;
    loop {
        match e {
            Event::ConnectRetried {
                endpoint: ref ep,
                errno,
                ..
            } => {
                assert_eq!(*ep, endpoint);
                if errno == Some(zsock::Errno(libc::ENOENT)) {
                    break;
                }
            }
            ref other => panic!("expected ConnectRetried, got {other:?}"),
        }
        e = next();
    }
    drop(req);
    ctx.term();
    let rest: Vec<_> = drain(&req_mon)
        .into_iter()
        .filter(|e| kind(e) != "ConnectRetried")
        .collect();
    assert_eq!(
        rest.iter().map(kind).collect::<Vec<_>>(),
        ["Closed"],
        "{rest:?}"
    );
}
