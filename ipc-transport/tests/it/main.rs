//! Integration tests of ipc-transport: real Unix sockets in temporary directories, real libzmq
//! peers for interop, and child processes (this binary re-run) where a test needs another
//! process or another uid.
mod bind;
mod corpus;
mod creds;
mod engine;
mod heartbeat;
mod libzmq;
#[path = "../common/one_cpu.rs"]
mod one_cpu;
mod shared;
mod support;
