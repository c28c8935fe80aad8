//! Fuzz target `endpoint_parse`: see `ipc_endpoint::fuzzing::endpoint_parse` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ipc_endpoint::fuzzing::endpoint_parse(data));
