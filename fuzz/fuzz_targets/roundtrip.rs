//! Fuzz target `roundtrip`: see `zmtp_codec::fuzzing::roundtrip` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zmtp_codec::fuzzing::roundtrip(data));
