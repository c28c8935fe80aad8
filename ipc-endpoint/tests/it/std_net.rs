//! Our addresses with std's own Unix sockets: bind with one form, connect with the other, and
//! read the bound address back as the same endpoint.

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};

use ipc_endpoint::{wildcard_socket_path, Endpoint};

use crate::support::connect_sock_addr;

fn bind_connect_and_read_back(endpoint: &Endpoint) {
    let listener = UnixListener::bind_addr(&endpoint.std_addr().unwrap().unwrap()).unwrap();
    assert_eq!(
        Endpoint::from_std_addr(&listener.local_addr().unwrap()).as_ref(),
        Ok(endpoint)
    );
    let mut client = connect_sock_addr(&endpoint.sock_addr().unwrap()).unwrap();
    let (mut server, peer) = listener.accept().unwrap();
    // The connecting side never bound: libzmq reports such a peer as `ipc://`.
    assert_eq!(
        Endpoint::from_std_addr(&peer).unwrap().to_string(),
        "ipc://"
    );
    client.write_all(b"ping").unwrap();
    let mut buf = [0u8; 4];
    server.read_exact(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
}

#[test]
fn path_endpoint_binds_and_connects_with_std() {
    let dir = tempfile::tempdir().unwrap();
    let input = format!("ipc://{}/std.sock", dir.path().display());
    bind_connect_and_read_back(&Endpoint::parse_bind(&input).unwrap());
}

#[test]
fn wildcard_socket_path_binds_with_std() {
    let dir = tempfile::tempdir().unwrap();
    let path = wildcard_socket_path(dir.path()).unwrap();
    bind_connect_and_read_back(&Endpoint::Path(path));
}

#[cfg(any(target_os = "linux", target_os = "android"))]
#[test]
fn abstract_endpoint_binds_and_connects_with_std() {
    let input = format!("ipc://@zsock-ep-std-{}", std::process::id());
    bind_connect_and_read_back(&Endpoint::parse_bind(&input).unwrap());
}

#[test]
fn connecting_to_a_missing_path_is_enoent() {
    let dir = tempfile::tempdir().unwrap();
    let input = format!("ipc://{}/absent", dir.path().display());
    let endpoint = Endpoint::parse_connect(&input).unwrap();
    let err = UnixStream::connect_addr(&endpoint.std_addr().unwrap().unwrap()).unwrap_err();
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
}
