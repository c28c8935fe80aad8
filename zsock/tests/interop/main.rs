//! zsock against a real libzmq 4.3 (built from source by the `zmq` crate) on ipc
//! endpoints: every legal RFC 37 socket pair both ways round, both bind directions, over a
//! path, an abstract name and a wildcard; heavy content; pub/sub filtering and
//! resubscription; ROUTER identities; heartbeats (with a SIGSTOPped child process); illegal
//! pairs; bind takeover and LAST_ENDPOINT strings. Every cell is its own test.

mod child;
mod content;
mod heartbeat;
mod identities;
mod illegal;
mod matrix;
mod pubsub;
mod support;
mod takeover;
mod tcp;
