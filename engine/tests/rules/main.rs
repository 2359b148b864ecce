//! The engine's rules, one test each, run on a [`Cluster`] of state machines: no process,
//! socket or disk. The end-to-end suite (`tests/`) keeps what needs real ones.

mod anti_entropy;
mod durability;
mod gossip;
mod privacy;
mod projects;
mod revocation;

pub use fed_engine::testing::Cluster;
