//! Fuzz target `socket_options`: see `zsock::fuzzing::socket_options` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zsock::fuzzing::socket_options(data));
