//! Integration tests of zsock over real ipc endpoints in temporary directories.
mod patterns;
mod ports;
mod spec;
mod support;
