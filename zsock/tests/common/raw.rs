//! ZMTP bytes written by hand, for raw peers that speak to zsock sockets as a hostile
//! peer would. Shared by the `it` and `bounds` test binaries, each using part of it.
#![allow(dead_code)]

/// Our greeting (3.1, NULL, as-server 0) and a READY announcing socket type `ty`.
pub(crate) fn greeting_and_ready(ty: &str) -> Vec<u8> {
    let mut v = vec![0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0x7F, 3, 1];
    v.extend_from_slice(b"NULL");
    v.resize(64, 0);
    let mut body = b"\x05READY\x0bSocket-Type".to_vec();
    body.extend_from_slice(&(ty.len() as u32).to_be_bytes());
    body.extend_from_slice(ty.as_bytes());
    v.extend_from_slice(&[0x04, body.len() as u8]);
    v.extend_from_slice(&body);
    v
}

/// A frame with flags `short` (short form) or `short | 0x02` (long form) around `body`.
fn frame(short: u8, body: &[u8]) -> Vec<u8> {
    let mut f = match u8::try_from(body.len()) {
        Ok(n) => vec![short, n],
        Err(_) => {
            let mut f = vec![short | 0x02];
            f.extend_from_slice(&(body.len() as u64).to_be_bytes());
            f
        }
    };
    f.extend_from_slice(body);
    f
}

/// A command frame whose body is `body` as it is.
pub(crate) fn command_frame(body: &[u8]) -> Vec<u8> {
    frame(0x04, body)
}

/// A command frame named `name` with `data` after the name.
pub(crate) fn command(name: &[u8], data: &[u8]) -> Vec<u8> {
    let mut body = vec![name.len() as u8];
    body.extend_from_slice(name);
    body.extend_from_slice(data);
    command_frame(&body)
}

/// A data frame, the last of its message.
pub(crate) fn data_frame(body: &[u8]) -> Vec<u8> {
    frame(0x00, body)
}
