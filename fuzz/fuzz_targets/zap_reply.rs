//! Fuzz target `zap_reply`: see `zmtp_codec::fuzzing::zap_reply` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zmtp_codec::fuzzing::zap_reply(data));
