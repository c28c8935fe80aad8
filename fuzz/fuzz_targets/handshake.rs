//! Fuzz target `handshake`: see `zmtp_codec::fuzzing::handshake` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zmtp_codec::fuzzing::handshake(data));
