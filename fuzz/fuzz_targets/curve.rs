//! Fuzz target `curve`: see `zmtp_codec::fuzzing::curve` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zmtp_codec::fuzzing::curve(data));
