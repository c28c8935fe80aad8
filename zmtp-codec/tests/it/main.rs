//! Integration tests of zmtp-codec: corpus replay, property tests, in-memory handshake
//! pairs, the reliability cases that belong to the codec, and libzmq golden vectors.
mod corpus;
mod handshake_pair;
mod libzmq;
mod plain_libzmq;
mod props;
mod reliability;
mod support;
