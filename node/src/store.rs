//! The node's storage: the engine's [`Store`] trait (in `fed-engine`, with its trees,
//! batches and errors) and the implementations that need the operating system.
//!
//! - [`SledStore`]: the on-disk implementation, over sled with a bounded cache.
//! - [`GroupCommit`]: the thread that makes many inputs' writes durable with one flush.
//!
//! Every method blocks (disk I/O and `fsync`); async callers run them off the runtime.

mod group_commit;
mod sled_store;

pub use fed_engine::store::*;
pub use group_commit::{GroupCommit, Synced};
pub use sled_store::SledStore;

/// Sled's cache bound unless configured otherwise: 64 MiB. Sled's own default is 1 GiB,
/// far more than a node on a shared server should take.
pub const DEFAULT_CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// How to open a [`SledStore`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoreConfig {
    /// Upper bound of the page cache, in bytes.
    pub cache_bytes: u64,
    /// Whether each flush is followed by `fdatasync` of the database's files (and of its
    /// directory when files come or go), so that an acknowledged write survives a power
    /// cut and not only a crash of the process. Off only to measure what it costs.
    pub sync_data: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            cache_bytes: DEFAULT_CACHE_BYTES,
            sync_data: true,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
