//! Fuzz target `tcp_endpoint_parse`: see `tcp_endpoint::fuzzing::tcp_endpoint_parse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| tcp_endpoint::fuzzing::tcp_endpoint_parse(data));
