//! Integration tests of tcp-endpoint: a table of accepted and refused strings, properties
//! over arbitrary and generated input, and the fuzz corpus replayed.

mod corpus;
mod props;
mod table;
