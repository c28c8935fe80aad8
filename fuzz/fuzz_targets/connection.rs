//! Fuzz target `connection`: see `ipc_transport::fuzzing::connection` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| ipc_transport::fuzzing::connection(data));
