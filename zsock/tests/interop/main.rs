//! zsock against a real libzmq 4.3 (built from source by the `zmq` crate) on ipc and tcp
//! endpoints: every legal RFC 37 socket pair both ways round, both bind directions, over a
//! path, an abstract name, a wildcard and TCP on 127.0.0.1 and [::1]; heavy content over
//! ipc and tcp; pub/sub filtering and
//! resubscription; ROUTER identities; heartbeats (with a SIGSTOPped child process); illegal
//! pairs; bind takeover and LAST_ENDPOINT strings. Every cell is its own test.

mod child;
mod content;
mod curve;
mod heartbeat;
mod identities;
mod illegal;
mod matrix;
mod metadata;
mod proxy;
mod pubsub;
mod security;
mod support;
mod syszmq;
mod takeover;
mod tcp;
