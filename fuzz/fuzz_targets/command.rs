//! Fuzz target `command`: see `zmtp_codec::fuzzing::command` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zmtp_codec::fuzzing::command(data));
