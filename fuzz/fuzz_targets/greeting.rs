//! Fuzz target `greeting`: see `zmtp_codec::fuzzing::greeting` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zmtp_codec::fuzzing::greeting(data));
