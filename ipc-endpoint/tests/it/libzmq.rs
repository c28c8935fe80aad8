//! Interop with a real libzmq 4.3: our address bytes reach libzmq's binds, our `Display` is
//! libzmq's LAST_ENDPOINT, and our errors carry libzmq's errno for the same strings.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use ipc_endpoint::{Endpoint, MAX_ABSTRACT_NAME_LEN, MAX_PATH_LEN};

use crate::support::{connect_raw, connect_sock_addr};

const TIMEOUT: Duration = Duration::from_secs(10);

/// A name no other test (or test run) uses.
fn unique_name() -> String {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    format!(
        "zsock-ep-test-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

fn pull_socket(ctx: &zmq::Context) -> zmq::Socket {
    let pull = ctx.socket(zmq::PULL).unwrap();
    pull.set_linger(0).unwrap();
    pull.set_rcvtimeo(TIMEOUT.as_millis() as i32).unwrap();
    pull
}

/// Speaks ZMTP 3.1 as a PUSH peer over `stream` and sends one message, "hello". Gives the
/// stream back, to be kept open until the message is received.
///
/// The data frame goes out only after libzmq's READY has arrived: libzmq 4.3 treats a frame
/// that reaches it before its own READY is sent as a bad handshake command and closes.
fn push_hello(mut stream: UnixStream) -> UnixStream {
    stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(TIMEOUT)).unwrap();
    // Greeting: signature, version 3.1, mechanism NULL, as-server 0, filler.
    let mut out = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 0x03, 0x01];
    out.extend_from_slice(b"NULL");
    out.resize(64, 0);
    // READY command: Socket-Type = PUSH.
    let mut ready_body = vec![5];
    ready_body.extend_from_slice(b"READY");
    ready_body.push(11);
    ready_body.extend_from_slice(b"Socket-Type");
    ready_body.extend_from_slice(&4u32.to_be_bytes());
    ready_body.extend_from_slice(b"PUSH");
    out.extend_from_slice(&[0x04, ready_body.len() as u8]);
    out.extend_from_slice(&ready_body);
    stream.write_all(&out).unwrap();

    let mut peer_greeting = [0u8; 64];
    stream.read_exact(&mut peer_greeting).unwrap();
    assert_eq!(peer_greeting[0], 0xFF);
    assert_eq!(peer_greeting[9], 0x7F);
    let mut flags = [0u8; 1];
    stream.read_exact(&mut flags).unwrap();
    assert_eq!(flags[0] & 0x04, 0x04, "libzmq's READY is a command");
    let size = if flags[0] & 0x02 != 0 {
        let mut size = [0u8; 8];
        stream.read_exact(&mut size).unwrap();
        u64::from_be_bytes(size) as usize
    } else {
        let mut size = [0u8; 1];
        stream.read_exact(&mut size).unwrap();
        usize::from(size[0])
    };
    let mut ready = vec![0u8; size];
    stream.read_exact(&mut ready).unwrap();
    assert!(ready.starts_with(b"\x05READY"), "{ready:?}");

    // One data frame, no MORE.
    stream.write_all(b"\x00\x05hello").unwrap();
    stream
}

fn assert_receives_hello(pull: &zmq::Socket) {
    let msg = pull
        .recv_bytes(0)
        .expect("libzmq PULL received our message");
    assert_eq!(msg, b"hello");
}

fn last_endpoint(sock: &zmq::Socket) -> String {
    sock.get_last_endpoint().unwrap().unwrap()
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn our_abstract_address_bytes_reach_a_libzmq_bind() {
    let ctx = zmq::Context::new();
    let pull = pull_socket(&ctx);
    let input = format!("ipc://@{}", unique_name());
    pull.bind(&input).unwrap();

    let ours = Endpoint::parse_connect(&input).unwrap();
    assert!(matches!(ours, Endpoint::Abstract(_)));
    assert_eq!(ours.to_string(), last_endpoint(&pull));
    let _conn = push_hello(connect_sock_addr(&ours.sock_addr().unwrap()).unwrap());
    assert_receives_hello(&pull);
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn our_std_abstract_address_reaches_a_libzmq_bind() {
    let ctx = zmq::Context::new();
    let pull = pull_socket(&ctx);
    let input = format!("ipc://@{}", unique_name());
    pull.bind(&input).unwrap();

    let ours = Endpoint::parse_connect(&input).unwrap();
    let std_addr = ours.std_addr().unwrap().unwrap();
    let _conn = push_hello(UnixStream::connect_addr(&std_addr).unwrap());
    assert_receives_hello(&pull);
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn longest_abstract_name_reaches_a_libzmq_bind() {
    let ctx = zmq::Context::new();
    let pull = pull_socket(&ctx);
    let mut name = unique_name();
    name.extend(std::iter::repeat_n('n', MAX_ABSTRACT_NAME_LEN - name.len()));
    let input = format!("ipc://@{name}");
    pull.bind(&input).unwrap();

    let ours = Endpoint::parse_connect(&input).unwrap();
    assert_eq!(ours.to_string(), last_endpoint(&pull));
    let _conn = push_hello(connect_sock_addr(&ours.sock_addr().unwrap()).unwrap());
    assert_receives_hello(&pull);
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn counting_a_trailing_nul_would_name_another_abstract_socket() {
    // The control for the tests above: one more byte in the length and the kernel looks for
    // "name\0", which nobody bound.
    let ctx = zmq::Context::new();
    let pull = pull_socket(&ctx);
    let input = format!("ipc://@{}", unique_name());
    pull.bind(&input).unwrap();

    let addr = Endpoint::parse_connect(&input)
        .unwrap()
        .sock_addr()
        .unwrap();
    let err = connect_raw(addr.as_sockaddr_un(), addr.socklen() + 1).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ECONNREFUSED));
}

#[test]
fn our_path_address_bytes_reach_a_libzmq_bind_in_a_tempdir() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = zmq::Context::new();
    let pull = pull_socket(&ctx);
    let input = format!("ipc://{}/s.sock", dir.path().display());
    pull.bind(&input).unwrap();

    let ours = Endpoint::parse_connect(&input).unwrap();
    assert_eq!(ours.to_string(), last_endpoint(&pull));
    let _conn = push_hello(connect_sock_addr(&ours.sock_addr().unwrap()).unwrap());
    assert_receives_hello(&pull);
}

#[test]
fn longest_path_reaches_a_libzmq_bind() {
    let dir = tempfile::tempdir().unwrap();
    let prefix = format!("{}/", dir.path().display());
    assert!(prefix.len() < MAX_PATH_LEN, "TMPDIR too deep for this test");
    let path = format!("{prefix}{}", "p".repeat(MAX_PATH_LEN - prefix.len()));
    assert_eq!(path.len(), MAX_PATH_LEN);
    let ctx = zmq::Context::new();
    let pull = pull_socket(&ctx);
    let input = format!("ipc://{path}");
    pull.bind(&input).unwrap();

    let ours = Endpoint::parse_connect(&input).unwrap();
    assert_eq!(ours.to_string(), last_endpoint(&pull));
    let _conn = push_hello(connect_sock_addr(&ours.sock_addr().unwrap()).unwrap());
    assert_receives_hello(&pull);
}

/// What libzmq says about `input` on bind (or connect): `None` for success, else the errno.
fn libzmq_errno(ctx: &zmq::Context, input: &str, bind: bool) -> Option<i32> {
    let sock = pull_socket(ctx);
    let result = if bind {
        sock.bind(input)
    } else {
        sock.connect(input)
    };
    result.err().map(|e| e.to_raw())
}

fn our_errno(input: &str, bind: bool) -> Option<i32> {
    let parsed = if bind {
        Endpoint::parse_bind(input)
    } else {
        Endpoint::parse_connect(input)
    };
    parsed.err().map(|e| e.errno())
}

#[test]
fn our_errno_matches_libzmq_for_the_same_strings() {
    let ctx = zmq::Context::new();
    let missing_dir = "/nonexistent-zsock-ep-test";
    let long_path = format!("ipc://{missing_dir}/{}", "x".repeat(MAX_PATH_LEN));
    let exactly_too_long = format!(
        "ipc://{missing_dir}/{}",
        "x".repeat(MAX_PATH_LEN - missing_dir.len())
    );
    let mut bind_and_connect = vec![
        String::new(),
        "x".into(),
        "ipc:/x".into(),
        "://x".into(),
        "ipc://".into(),
        "IPC://".into(),
        "IPC://x".into(),
        "Ipc://x".into(),
        "ipcx://x".into(),
        "ipc://@".into(),
        long_path,
        exactly_too_long,
    ];
    // Binding `ipc://@name` touches no file, so both outcomes can be compared on bind too.
    let mut connect_ok = vec![format!("ipc://{missing_dir}/x"), "ipc://*".to_owned()];
    if cfg!(any(target_os = "linux", target_os = "android")) {
        let mut longest_name = unique_name();
        longest_name.extend(std::iter::repeat_n(
            'n',
            MAX_ABSTRACT_NAME_LEN - longest_name.len(),
        ));
        bind_and_connect.push(format!("ipc://@{longest_name}n"));
        bind_and_connect.push(format!("ipc://@{longest_name}"));
        connect_ok.push(format!("ipc://@{}", unique_name()));
    }
    for input in &bind_and_connect {
        for bind in [true, false] {
            assert_eq!(
                our_errno(input, bind),
                libzmq_errno(&ctx, input, bind),
                "{input:?}, bind: {bind}"
            );
        }
    }
    // Connects that libzmq accepts at once (it retries in the background): so do we.
    for input in &connect_ok {
        assert_eq!(our_errno(input, false), None, "{input:?}");
        assert_eq!(libzmq_errno(&ctx, input, false), None, "{input:?}");
    }
}
