//! Helpers shared by the integration tests.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use zmtp_codec::{Decoder, Event, Handshake, HandshakeConfig, PeerInfo, SocketType};

/// Reads one raw frame (header and body) from a blocking stream, without our decoder:
/// golden vectors must not depend on the code they check.
pub(crate) fn read_raw_frame(s: &mut UnixStream) -> Vec<u8> {
    let mut flags = [0u8; 1];
    s.read_exact(&mut flags).expect("frame flags");
    let mut out = vec![flags[0]];
    let size = if flags[0] & 0x02 != 0 {
        let mut b = [0u8; 8];
        s.read_exact(&mut b).expect("long size");
        out.extend_from_slice(&b);
        u64::from_be_bytes(b) as usize
    } else {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).expect("short size");
        out.push(b[0]);
        usize::from(b[0])
    };
    let start = out.len();
    out.resize(start + size, 0);
    s.read_exact(&mut out[start..]).expect("frame body");
    out
}

/// Runs our handshake machine over a blocking stream as `ty`; returns what the peer said,
/// the decoder for traffic and any bytes that arrived after READY.
pub(crate) fn handshake(s: &mut UnixStream, ty: SocketType) -> (PeerInfo, Decoder, BytesMut) {
    let mut hs = Handshake::new(HandshakeConfig::new(ty), Instant::now());
    let mut src = BytesMut::new();
    let mut out = BytesMut::new();
    loop {
        hs.poll_transmit(&mut out);
        s.write_all(&out).expect("write");
        out.clear();
        if let Some(Event::Completed(peer)) = hs.poll_event() {
            return (peer, hs.into_decoder(), src);
        }
        let mut buf = [0u8; 4096];
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "peer closed during the handshake");
        src.extend_from_slice(&buf[..n]);
        hs.handle_input(&mut src).expect("handshake");
    }
}

/// Reads until `dec` yields an item.
pub(crate) fn next_item(
    s: &mut UnixStream,
    dec: &mut Decoder,
    src: &mut BytesMut,
) -> zmtp_codec::Item {
    loop {
        if let Some(item) = dec.decode(src).expect("decode") {
            return item;
        }
        let mut buf = [0u8; 65536];
        let n = s.read(&mut buf).expect("read");
        assert!(n > 0, "peer closed");
        src.extend_from_slice(&buf[..n]);
    }
}

/// A blocking stream with timeouts, so that a broken test fails instead of hanging.
pub(crate) fn with_timeouts(s: UnixStream) -> UnixStream {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}
