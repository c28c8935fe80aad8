//! Entry points for the cargo-fuzz targets in `fuzz/` and for the corpus replay under
//! `cargo test`. Each takes arbitrary bytes and must never panic.

use std::cell::RefCell;

use crate::options::{SocketOption, OPTION_NAMES};
use crate::{Context, Socket, SocketType};

thread_local! {
    static SOCKETS: RefCell<Vec<Socket>> = const { RefCell::new(Vec::new()) };
}

/// `socket_options`: the input is lines of `NAME=VALUE` (a name may also be given as a
/// one-byte index into [`OPTION_NAMES`]); each is parsed with [`SocketOption::parse`] and,
/// when it parses, set on a live socket of the type chosen by the first byte. Parsing and
/// setting may fail with an error, never panic; a value that was accepted reads back
/// sanely where a getter exists.
pub fn socket_options(data: &[u8]) {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let ty = SocketType::ALL[usize::from(sel) % SocketType::ALL.len()];
    SOCKETS.with(|cell| {
        let mut socks = cell.borrow_mut();
        if socks.is_empty() {
            let ctx = Context::new();
            for t in SocketType::ALL {
                match ctx.socket(t) {
                    Ok(s) => socks.push(s),
                    Err(_) => return,
                }
            }
        }
        let Some(sock) = socks.iter_mut().find(|s| s.socket_type() == ty) else {
            return;
        };
        for line in rest.split(|&b| b == b'\n') {
            let text = String::from_utf8_lossy(line);
            let (name, value) = match text.split_once('=') {
                Some((n, v)) => (n.to_string(), v.to_string()),
                None => match line.split_first() {
                    Some((&i, v)) => (
                        OPTION_NAMES[usize::from(i) % OPTION_NAMES.len()].to_string(),
                        String::from_utf8_lossy(v).into_owned(),
                    ),
                    None => continue,
                },
            };
            let Ok(opt) = SocketOption::parse(&name, &value) else {
                continue;
            };
            // Never let a fuzz input make the sockets bind or block: options only.
            if sock.set(opt.clone()).is_ok() {
                match opt {
                    SocketOption::SndHwm(v) => assert_eq!(sock.sndhwm(), v),
                    SocketOption::RcvHwm(v) => assert_eq!(sock.rcvhwm(), v),
                    SocketOption::Linger(v) => assert_eq!(sock.linger(), v),
                    SocketOption::RcvTimeo(v) => assert_eq!(sock.rcvtimeo(), v),
                    SocketOption::SndTimeo(v) => assert_eq!(sock.sndtimeo(), v),
                    SocketOption::ReconnectIvl(v) => assert_eq!(sock.reconnect_ivl(), v),
                    SocketOption::Backlog(v) => assert_eq!(sock.backlog(), v),
                    _ => {}
                }
            }
        }
    });
}
