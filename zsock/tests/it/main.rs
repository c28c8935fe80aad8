//! Integration tests of zsock over real ipc endpoints in temporary directories.
mod api;
mod behaviour;
mod corpus;
mod curve;
mod hostile;
mod inproc;
mod options;
mod patterns;
mod ports;
mod proxy;
#[path = "../common/raw.rs"]
mod raw;
mod reliability;
mod security;
mod spec;
mod support;
mod tcp;
