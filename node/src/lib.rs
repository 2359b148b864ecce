//! The federation node `fednode`, as a library so that `fedctl` and the tests share its
//! file formats.
//!
//! - [`identity`]: the platform's keys and identity card in its data directory.
//! - [`keyfile`]: secret key files, created once with mode 0600.
//! - [`net`]: the libp2p event loop and its client handle.
//! - [`engine`]: verified state (membership chains); the only writer of the store.
//! - [`api`]: the local HTTP API.
//! - [`run`]: `fednode run`, wiring everything and shutting down in order.
//! - [`store`]: storage behind a small trait, sled on disk; acknowledged writes are flushed.

pub mod api;
pub mod engine;
pub mod fsutil;
pub mod identity;
pub mod keyfile;
pub mod net;
pub mod run;
pub mod store;
