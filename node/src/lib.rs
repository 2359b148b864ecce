//! The federation node `fednode`, as a library so that `fedctl` and the tests share its
//! file formats.
//!
//! - [`identity`]: the platform's keys and identity card in its data directory.
//! - [`keyfile`]: secret key files, created once with mode 0600.
//! - [`net`]: the libp2p event loop and its client handle.
//! - [`store`]: storage behind a small trait, sled on disk; acknowledged writes are flushed.

pub mod identity;
pub mod keyfile;
pub mod net;
pub mod store;
