//! Fuzz target `frame_stream`: see `zmtp_codec::fuzzing::frame_stream` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zmtp_codec::fuzzing::frame_stream(data));
