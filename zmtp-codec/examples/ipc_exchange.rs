//! Two processes exchange ZMTP messages over a Unix-domain socket, using only this codec
//! and std's blocking sockets. Run with no arguments: the parent binds a PULL endpoint in a
//! temporary directory and starts itself again as a PUSH peer that connects and sends.
//!
//! `cargo run -p zmtp-codec --example ipc_exchange`

use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::Instant;

use bytes::BytesMut;
use zmtp_codec::{encode_frame, Decoder, Event, Handshake, HandshakeConfig, Item, SocketType};

const MESSAGES: usize = 5;

fn handshake(s: &mut UnixStream, ty: SocketType) -> std::io::Result<(Decoder, BytesMut)> {
    let mut hs = Handshake::new(HandshakeConfig::new(ty), Instant::now());
    let mut src = BytesMut::new();
    let mut out = BytesMut::new();
    loop {
        hs.poll_transmit(&mut out);
        s.write_all(&out)?;
        out.clear();
        if let Some(Event::Completed(peer)) = hs.poll_event() {
            println!(
                "[{ty} pid {}] handshake done: peer is {} speaking ZMTP {}.{}",
                std::process::id(),
                peer.socket_type.map_or("?", |t| t.name()),
                peer.version.major,
                peer.version.minor
            );
            return Ok((hs.into_decoder(), src));
        }
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        src.extend_from_slice(&buf[..n]);
        hs.handle_input(&mut src).map_err(std::io::Error::other)?;
    }
}

fn push(path: &str) -> std::io::Result<()> {
    let mut s = UnixStream::connect(path)?;
    let (_, _) = handshake(&mut s, SocketType::Push)?;
    let mut out = BytesMut::new();
    for i in 1..=MESSAGES {
        encode_frame(&mut out, b"hello from push", true);
        encode_frame(&mut out, format!("message {i}").as_bytes(), false);
    }
    s.write_all(&out)?;
    println!(
        "[PUSH pid {}] sent {MESSAGES} two-frame messages",
        std::process::id()
    );
    Ok(())
}

fn pull() -> std::io::Result<()> {
    let dir: PathBuf = std::env::temp_dir().join(format!("zmtp-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("socket");
    let listener = UnixListener::bind(&path)?;
    println!(
        "[PULL pid {}] bound ipc://{}",
        std::process::id(),
        path.display()
    );
    let mut child = std::process::Command::new(std::env::current_exe()?)
        .arg(&path)
        .spawn()?;
    let (mut s, _) = listener.accept()?;
    let (mut dec, mut src) = handshake(&mut s, SocketType::Pull)?;
    let mut parts = Vec::new();
    let mut received = 0;
    while received < MESSAGES {
        match dec.decode(&mut src).map_err(std::io::Error::other)? {
            Some(Item::Frame(f)) => {
                parts.push(String::from_utf8_lossy(&f.body).into_owned());
                if !f.more {
                    received += 1;
                    println!("[PULL pid {}] received {parts:?}", std::process::id());
                    parts.clear();
                }
            }
            Some(_) => {}
            None => {
                let mut buf = [0u8; 4096];
                let n = s.read(&mut buf)?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                src.extend_from_slice(&buf[..n]);
            }
        }
    }
    let status = child.wait()?;
    std::fs::remove_dir_all(&dir)?;
    println!(
        "[PULL pid {}] done: {received} messages; peer exited with {status}",
        std::process::id()
    );
    if status.success() {
        Ok(())
    } else {
        Err(std::io::Error::other("peer failed"))
    }
}

fn main() -> std::io::Result<()> {
    match std::env::args().nth(1) {
        Some(path) => push(&path),
        None => pull(),
    }
}
