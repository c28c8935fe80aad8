//! Cases 1-9 of the reliability catalogue (TESTING.md) that belong to the codec. The
//! socket-level halves of these cases live in the transport's tests.

use std::time::Instant;

use bytes::{BufMut, Bytes, BytesMut};
use zmtp_codec::{
    encode_frame, Command, CommandError, DecodeError, Decoder, FrameHeader, Greeting, Handshake,
    HandshakeConfig, HandshakeError, Item, Limits, MetadataError, SocketType, Subscription,
};

fn frames_limits(max: u64) -> Limits {
    Limits {
        max_frame_size: Some(max),
        max_message_size: Some(max),
        ..Limits::default()
    }
}

#[test]
fn case_01_oversize_frames_are_rejected_from_the_header() {
    let max = 64 * 1024;
    for size in [(1u64 << 63) - 1, u64::MAX, max + 1] {
        let mut src = BytesMut::with_capacity(16);
        FrameHeader::data(size, false).encode(&mut src);
        let cap = src.capacity();
        let err = Decoder::frames_only(frames_limits(max)).decode(&mut src);
        assert_eq!(err, Err(DecodeError::FrameTooLarge { size, limit: max }));
        assert_eq!(src.capacity(), cap, "decoder reserved memory");
    }
    let mut src = BytesMut::new();
    encode_frame(&mut src, &vec![1u8; max as usize], false);
    assert!(matches!(
        Decoder::frames_only(frames_limits(max)).decode(&mut src),
        Ok(Some(Item::Frame(f))) if f.body.len() == max as usize
    ));
}

#[test]
fn case_01_unlimited_declared_2_pow_40_holds_only_what_arrived() {
    let mut src = BytesMut::with_capacity(32);
    FrameHeader::data(1 << 40, false).encode(&mut src);
    src.put_slice(&[0u8; 10]);
    let cap = src.capacity();
    let mut dec = Decoder::frames_only(Limits {
        max_command_size: None,
        ..Limits::default()
    });
    assert_eq!(dec.decode(&mut src), Ok(None));
    assert_eq!(src.len(), 19);
    assert_eq!(src.capacity(), cap);
}

#[test]
fn case_02_fixture_streams_decode_the_same_in_any_split() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut stream = std::fs::read(dir.join("libzmq-greeting.bin")).unwrap();
    for f in [
        "libzmq-ready-dealer.bin",
        "libzmq-multipart.bin",
        "libzmq-ping.bin",
    ] {
        stream.extend(std::fs::read(dir.join(f)).unwrap());
    }
    zmtp_codec::fuzzing::frame_stream(&stream);
    for step in 1..=stream.len() {
        let mut dec = Decoder::new(Limits::default());
        let mut src = BytesMut::new();
        let mut n = 0;
        for chunk in stream.chunks(step) {
            src.extend_from_slice(chunk);
            while dec.decode(&mut src).unwrap().is_some() {
                n += 1;
            }
        }
        assert_eq!(n, 6, "split {step}");
    }
}

#[test]
fn case_03_endless_multipart_hits_the_message_limit_or_frame_cap() {
    let mut dec = Decoder::frames_only(Limits {
        max_message_size: Some(1000),
        ..Limits::default()
    });
    let mut src = BytesMut::new();
    for _ in 0..20 {
        encode_frame(&mut src, &[0u8; 100], true);
    }
    let mut delivered = 0;
    let err = loop {
        match dec.decode(&mut src) {
            Ok(Some(Item::Frame(f))) => {
                assert!(f.more, "a message was completed");
                delivered += 1;
            }
            Err(e) => break e,
            other => panic!("{other:?}"),
        }
    };
    assert_eq!(delivered, 10);
    assert_eq!(
        err,
        DecodeError::MessageTooLarge {
            size: 1100,
            limit: 1000
        }
    );

    let mut dec = Decoder::frames_only(Limits {
        max_message_frames: Some(1000),
        ..Limits::default()
    });
    let mut src = BytesMut::new();
    for _ in 0..1001 {
        encode_frame(&mut src, b"", true);
    }
    for _ in 0..1000 {
        dec.decode(&mut src).unwrap().unwrap();
    }
    assert_eq!(
        dec.decode(&mut src),
        Err(DecodeError::TooManyFrames { limit: 1000 })
    );
}

/// Feeds `peer` into a fresh handshake; returns the result and whether READY was sent.
fn handshake_with(peer: &[u8]) -> (Result<bool, HandshakeError>, bool) {
    let mut hs = Handshake::new(HandshakeConfig::new(SocketType::Dealer), Instant::now());
    let mut out = BytesMut::new();
    hs.poll_transmit(&mut out);
    let greeting_len = out.len();
    let mut src = BytesMut::from(peer);
    let r = hs.handle_input(&mut src).map(|()| hs.is_complete());
    hs.poll_transmit(&mut out);
    let mut sent = out.split_off(greeting_len);
    let mut dec = Decoder::frames_only(Limits::default());
    let mut ready_sent = false;
    while let Ok(Some(item)) = dec.decode(&mut sent) {
        ready_sent |= matches!(item, Item::Command(Command::Ready(_)));
    }
    (r, ready_sent)
}

fn greeting_with(f: impl FnOnce(&mut [u8; 64])) -> Vec<u8> {
    let mut g = Greeting::ours().to_bytes();
    f(&mut g);
    g.to_vec()
}

#[test]
fn case_04_bad_greetings_close_before_ready() {
    let cases: Vec<(Vec<u8>, HandshakeError)> = vec![
        (
            greeting_with(|g| g[0] = 0x01),
            DecodeError::UnversionedPeer.into(),
        ),
        (
            greeting_with(|g| g[9] = 0x00),
            DecodeError::UnversionedPeer.into(),
        ),
        (
            greeting_with(|g| g[10] = 0),
            DecodeError::OldRevision { revision: 0 }.into(),
        ),
        (
            greeting_with(|g| g[10] = 1),
            DecodeError::OldRevision { revision: 1 }.into(),
        ),
        (
            greeting_with(|g| g[10] = 2),
            DecodeError::OldRevision { revision: 2 }.into(),
        ),
        (
            greeting_with(|g| g[32] = 1),
            HandshakeError::AsServerWithNull,
        ),
        (
            greeting_with(|g| g[12..17].copy_from_slice(b"CURVE")),
            HandshakeError::MechanismMismatch {
                ours: "NULL".into(),
                theirs: "CURVE".into(),
            },
        ),
    ];
    for (bytes, want) in cases {
        assert_eq!(handshake_with(&bytes), (Err(want), false));
    }
    // 63 bytes (then EOF): still waiting, nothing but our greeting sent.
    let g = Greeting::ours().to_bytes();
    assert_eq!(handshake_with(&g[..63]), (Ok(false), false));
    for (maj, min) in [(3, 0), (3, 1), (3, 7), (4, 0)] {
        let bytes = greeting_with(|g| {
            g[10] = maj;
            g[11] = min;
        });
        assert_eq!(handshake_with(&bytes), (Ok(false), true), "{maj}.{min}");
    }
}

fn greeting_then(cmds: &[u8]) -> Vec<u8> {
    let mut v = Greeting::ours().to_bytes().to_vec();
    v.extend_from_slice(cmds);
    v
}

fn ready(props: &[u8]) -> Vec<u8> {
    let mut body = b"\x05READY".to_vec();
    body.extend_from_slice(props);
    let mut out = BytesMut::new();
    FrameHeader::command(body.len() as u64).encode(&mut out);
    out.extend_from_slice(&body);
    out.to_vec()
}

#[test]
fn case_05_handshake_abuse_is_refused_with_bounded_memory() {
    assert_eq!(
        handshake_with(&greeting_then(b"\x00\x01x")).0,
        Err(HandshakeError::DataBeforeReady)
    );
    assert_eq!(
        handshake_with(&greeting_then(b"\x04\x07\x04PING\x00\x00")).0,
        Err(HandshakeError::UnexpectedCommand {
            name: "PING".into()
        })
    );
    assert_eq!(
        handshake_with(&greeting_then(b"\x04\x09\x05ERROR\x09ab")).0,
        Err(HandshakeError::Decode(DecodeError::BadCommand {
            name: "ERROR".into(),
            error: CommandError::ErrorReasonTruncated {
                declared: 9,
                available: 2
            },
        }))
    );
    assert_eq!(
        handshake_with(&greeting_then(b"\x04\x09\x05ERROR\x02no")).0,
        Err(HandshakeError::PeerError {
            reason: "no".into()
        })
    );
    // A 1 MiB READY: refused from its header, before the body is buffered.
    let mut big = BytesMut::new();
    FrameHeader::command(1 << 20).encode(&mut big);
    assert_eq!(
        handshake_with(&greeting_then(&big)).0,
        Err(DecodeError::CommandTooLarge {
            size: 1 << 20,
            limit: 64 * 1024
        }
        .into())
    );
    // 100 000 tiny properties: far past the command cap.
    let mut props = Vec::new();
    for i in 0..100_000u32 {
        props.push(4);
        props.extend_from_slice(&i.to_be_bytes());
        props.extend_from_slice(&[0, 0, 0, 0]);
    }
    assert!(matches!(
        handshake_with(&greeting_then(&ready(&props))).0,
        Err(HandshakeError::Decode(DecodeError::CommandTooLarge { .. }))
    ));
    // READY twice: the handshake stops after the first; the second is left as traffic,
    // where the transport treats it as a protocol error.
    let r = ready(b"\x0bSocket-Type\x00\x00\x00\x06DEALER");
    let mut src = BytesMut::from(&greeting_then(&[r.clone(), r.clone()].concat())[..]);
    let mut hs = Handshake::new(HandshakeConfig::new(SocketType::Dealer), Instant::now());
    hs.handle_input(&mut src).unwrap();
    assert!(hs.is_complete());
    assert_eq!(&src[..], &r[..]);
}

#[test]
fn case_06_malformed_ready_metadata() {
    let md = |e: MetadataError| -> Result<bool, HandshakeError> {
        Err(HandshakeError::Decode(DecodeError::BadCommand {
            name: "READY".into(),
            error: CommandError::Metadata(e),
        }))
    };
    let cases: Vec<(Vec<u8>, Result<bool, HandshakeError>)> = vec![
        (
            b"\x00\x00\x00\x00\x00".to_vec(),
            md(MetadataError::EmptyName),
        ),
        (
            b"\x0bSocket".to_vec(),
            md(MetadataError::NameTruncated {
                declared: 11,
                available: 6,
            }),
        ),
        (
            b"\x0bSocket-Type\xff\xff\xff\xffDEALER".to_vec(),
            md(MetadataError::ValueTruncated {
                name: "Socket-Type".into(),
                declared: 0xFFFF_FFFF,
                available: 6,
            }),
        ),
        (
            b"\x0bSocket-Type\x00\x00\x00\x06DEALER\x01".to_vec(),
            md(MetadataError::NameTruncated {
                declared: 1,
                available: 0,
            }),
        ),
        (
            b"\x0bSocket-Type\x00\x00\x00\x06DEALER\x0bsocket-type\x00\x00\x00\x06ROUTER".to_vec(),
            md(MetadataError::Duplicate {
                name: "socket-type".into(),
            }),
        ),
        (b"\x0bsocket-type\x00\x00\x00\x06DEALER".to_vec(), Ok(true)),
        (
            b"\x0bsocket-type\x00\x00\x00\x04PUSH".to_vec(),
            Err(HandshakeError::IncompatibleSocketType {
                ours: SocketType::Dealer,
                theirs: SocketType::Push,
            }),
        ),
        (
            b"\x0bSocket-Type\x00\x00\x00\x06dealer".to_vec(),
            Err(HandshakeError::UnknownSocketType {
                theirs: "dealer".into(),
            }),
        ),
        // No Socket-Type at all: accepted, as libzmq does.
        (b"".to_vec(), Ok(true)),
    ];
    for (props, want) in cases {
        assert_eq!(
            handshake_with(&greeting_then(&ready(&props))).0,
            want,
            "{props:?}"
        );
    }
    // A 60 KiB socket type: the error (which a monitor keeps) carries its first 64
    // characters only.
    let mut long_type = b"\x0bSocket-Type\x00\x00\xf0\x00".to_vec();
    long_type.extend_from_slice(&[0x01; 0xf000]);
    let mut cut = "\u{1}".repeat(64);
    cut.push_str("...");
    assert_eq!(
        handshake_with(&greeting_then(&ready(&long_type))).0,
        Err(HandshakeError::UnknownSocketType { theirs: cut })
    );
    let mut long_id = b"\x0bSocket-Type\x00\x00\x00\x06DEALER\x08Identity\x00\x00\x01\x00".to_vec();
    long_id.extend_from_slice(&[7u8; 256]);
    assert_eq!(
        handshake_with(&greeting_then(&ready(&long_id))).0,
        Err(HandshakeError::IdentityTooLong { len: 256 })
    );
}

fn decode_command(body: &[u8]) -> Result<Option<Item>, DecodeError> {
    let mut src = BytesMut::new();
    FrameHeader::command(body.len() as u64).encode(&mut src);
    src.extend_from_slice(body);
    Decoder::frames_only(Limits {
        max_command_size: None,
        ..Limits::default()
    })
    .decode(&mut src)
}

#[test]
fn case_08_post_handshake_commands() {
    for (body, ttl, ctx) in [
        (&b"\x04PING"[..], 0u16, &b""[..]),
        (b"\x04PING\x01", 0, b""),
        (b"\x04PING\xff\xff", 0xFFFF, b""),
    ] {
        match decode_command(body) {
            Ok(Some(Item::Command(Command::Ping(p)))) => {
                assert_eq!((p.ttl_deciseconds, &p.context[..]), (ttl, ctx));
            }
            other => panic!("{other:?}"),
        }
    }
    for extra in 17..=255usize {
        let mut body = b"\x04PING\x00\x00".to_vec();
        body.extend((0..extra).map(|i| i as u8));
        match decode_command(&body) {
            Ok(Some(Item::Command(Command::Ping(p)))) => {
                assert_eq!(&p.context[..], &body[7..23]);
                // Our PONG carries exactly those 16 bytes.
                let mut out = BytesMut::new();
                Command::Pong { context: p.context }.encode(&mut out);
                assert_eq!(out.len(), 2 + 5 + 16);
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        decode_command(b"\x05HELLOxyz"),
        Ok(Some(Item::Command(Command::Unknown { .. })))
    ));
    let err = decode_command(b"\x09PING").unwrap_err();
    assert!(
        !err.is_fatal(),
        "malformed commands are ignored after the handshake"
    );
}

#[test]
fn case_09_subscriptions_large_and_old_style() {
    let mut body = b"\x09SUBSCRIBE".to_vec();
    body.extend_from_slice(&vec![b't'; 1 << 20]);
    match decode_command(&body) {
        Ok(Some(Item::Command(c))) => {
            let s = Subscription::from_command(&c).unwrap();
            assert!(s.subscribe);
            assert_eq!(s.topic.len(), 1 << 20);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        Subscription::from_data_frame(&Bytes::from_static(b"\x00topic")),
        Some(Subscription {
            subscribe: false,
            topic: Bytes::from_static(b"topic")
        })
    );
    assert_eq!(Subscription::from_data_frame(&Bytes::new()), None);
    // With a frame limit, a huge SUBSCRIBE is refused from its header.
    let mut src = BytesMut::new();
    FrameHeader::command(body.len() as u64).encode(&mut src);
    let mut dec = Decoder::frames_only(Limits {
        max_frame_size: Some(1024),
        max_command_size: None,
        ..Limits::default()
    });
    assert!(matches!(
        dec.decode(&mut src),
        Err(DecodeError::CommandTooLarge { .. })
    ));
}
