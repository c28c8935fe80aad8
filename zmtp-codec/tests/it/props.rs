//! Property tests: encodings fed back in random-sized chunks, and arbitrary input.

use bytes::BytesMut;
use proptest::prelude::*;
use zmtp_codec::{encode_frame, fuzzing, Decoder, Item, Limits};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn frames_round_trip_in_random_chunks(
        frames in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..600), 1..12),
        cuts in prop::collection::vec(1usize..97, 1..40),
    ) {
        let mut wire = BytesMut::new();
        for (i, f) in frames.iter().enumerate() {
            encode_frame(&mut wire, f, i + 1 < frames.len());
        }
        let mut dec = Decoder::frames_only(Limits::default());
        let mut src = BytesMut::new();
        let mut got = Vec::new();
        let mut pos = 0;
        let mut k = 0;
        while pos < wire.len() {
            let n = cuts[k % cuts.len()].min(wire.len() - pos);
            k += 1;
            src.extend_from_slice(&wire[pos..pos + n]);
            pos += n;
            while let Some(item) = dec.decode(&mut src).unwrap() {
                match item {
                    Item::Frame(f) => got.push((f.more, f.body.to_vec())),
                    other => panic!("{other:?}"),
                }
            }
        }
        prop_assert!(src.is_empty());
        let want: Vec<_> = frames.iter().enumerate()
            .map(|(i, f)| (i + 1 < frames.len(), f.clone())).collect();
        prop_assert_eq!(got, want);
    }

    #[test]
    fn arbitrary_streams_never_panic_and_split_the_same(data in prop::collection::vec(any::<u8>(), 0..512)) {
        fuzzing::frame_stream(&data);
    }

    #[test]
    fn arbitrary_greetings_never_panic(data in prop::collection::vec(any::<u8>(), 0..80)) {
        fuzzing::greeting(&data);
    }

    #[test]
    fn arbitrary_commands_never_panic(data in prop::collection::vec(any::<u8>(), 0..300)) {
        fuzzing::command(&data);
    }

    #[test]
    fn arbitrary_handshake_input_never_panics(data in prop::collection::vec(any::<u8>(), 0..300)) {
        fuzzing::handshake(&data);
    }

    #[test]
    fn greeting_prefixed_streams_never_panic(tail in prop::collection::vec(any::<u8>(), 0..300)) {
        let mut data = zmtp_codec::Greeting::ours().to_bytes().to_vec();
        data.extend_from_slice(&tail);
        fuzzing::frame_stream(&data);
        let mut hs = vec![0x11u8];
        hs.extend_from_slice(&data);
        fuzzing::handshake(&hs);
    }
}
