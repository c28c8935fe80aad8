//! Transport-level interop with a real libzmq 4.3 (the `zmq` crate builds it from source):
//! both directions, over a path, an abstract name and a wildcard.

use ipc_transport::Message;
use zmtp_codec::SocketType;

use crate::support::*;

fn endpoints(dir: &tempfile::TempDir, tag: &str) -> Vec<String> {
    vec![
        format!("ipc://{}", dir.path().join(tag).display()),
        format!("ipc://@zsock-transport-{tag}-{}", std::process::id()),
        "ipc://*".to_string(),
    ]
}

fn zmq_socket(ctx: &zmq::Context, t: zmq::SocketType) -> zmq::Socket {
    let s = ctx.socket(t).unwrap();
    s.set_linger(0).unwrap();
    s.set_rcvtimeo(10_000).unwrap();
    s.set_sndtimeo(10_000).unwrap();
    s
}

#[test]
fn we_bind_pull_and_libzmq_pushes() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = zmq::Context::new();
    for addr in endpoints(&dir, "a") {
        let pull = engine(SocketType::Pull, |_| {});
        let resolved = pull.bind(&addr).unwrap();
        let push = zmq_socket(&ctx, zmq::PUSH);
        push.connect(&resolved).unwrap();
        push.send_multipart([&b"hello"[..], &[0u8; 300][..]], 0)
            .unwrap();
        let rx = connected_pipe(&pull);
        let m = recv(&pull, rx);
        assert_eq!(m.frames()[0], &b"hello"[..], "{resolved}");
        assert_eq!(m.frames()[1].len(), 300);
    }
}

#[test]
fn libzmq_binds_pull_and_we_push() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = zmq::Context::new();
    for addr in endpoints(&dir, "b") {
        let pull = zmq_socket(&ctx, zmq::PULL);
        pull.bind(&addr).unwrap();
        let resolved = pull.get_last_endpoint().unwrap().unwrap();
        let push = engine(SocketType::Push, |_| {});
        push.connect(&resolved).unwrap();
        let tx = connected_pipe(&push);
        let m: Message = [&b"x"[..], &[1u8; 70_000][..]]
            .into_iter()
            .map(bytes::Bytes::copy_from_slice)
            .collect();
        send(&push, tx, m);
        let got = pull.recv_multipart(0).unwrap();
        assert_eq!(got[0], b"x", "{resolved}");
        assert_eq!(got[1].len(), 70_000);
        drop(pull);
        if addr == "ipc://*" {
            // libzmq 4.3 leaves its wildcard socket file behind (in the working directory
            // when TMPDIR is unset); clean up after it.
            let _ = std::fs::remove_file(resolved.trim_start_matches("ipc://"));
        }
    }
}

#[test]
fn we_bind_push_and_libzmq_pulls() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = zmq::Context::new();
    for addr in endpoints(&dir, "c") {
        let push = engine(SocketType::Push, |_| {});
        let resolved = push.bind(&addr).unwrap();
        let pull = zmq_socket(&ctx, zmq::PULL);
        pull.connect(&resolved).unwrap();
        let tx = connected_pipe(&push);
        for i in 0..100u8 {
            send(&push, tx, vec![i; usize::from(i)]);
        }
        for i in 0..100u8 {
            assert_eq!(pull.recv_bytes(0).unwrap(), vec![i; usize::from(i)]);
        }
    }
}

#[test]
fn our_last_endpoint_strings_match_libzmqs() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = zmq::Context::new();
    let path = format!("ipc://{}", dir.path().join("le").display());
    let abs = format!("ipc://@zsock-le-{}", std::process::id());
    for addr in [path, abs] {
        let ours = engine(SocketType::Pull, |_| {});
        let resolved = ours.bind(&addr).unwrap();
        drop(ours);
        let theirs = zmq_socket(&ctx, zmq::PULL);
        theirs.bind(&addr).unwrap();
        assert_eq!(theirs.get_last_endpoint().unwrap().unwrap(), resolved);
    }
}
