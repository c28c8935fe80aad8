//! Integration tests of ipc-endpoint.
mod corpus;
mod libzmq;
mod props;
mod std_net;
mod support;
mod table;
