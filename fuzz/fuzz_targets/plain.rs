//! Fuzz target `plain`: see `zmtp_codec::fuzzing::plain` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zmtp_codec::fuzzing::plain(data));
