//! The node's storage: one database per node, split into named trees, behind the
//! [`Store`] trait so that the engine does not depend on the database engine.
//!
//! - [`Store`]: reads, bounded prefix scans, and atomic [`WriteBatch`]es that are flushed
//!   to disk before [`Store::apply`] returns, so a write acknowledged to anyone survives
//!   `kill -9`.
//! - [`Tree`]: every tree the node uses, named in one place (this file).
//! - the node's on-disk implementation, over sled, lives in `fednode`.
//! - [`MemoryStore`]: an in-memory implementation for tests of other modules.
//! - [`chains`]: typed helpers for the membership chains.
//!
//! Every method blocks (disk I/O and `fsync`); async callers run them in
//! `spawn_blocking`, never while holding a lock.

use std::fmt;
use std::path::PathBuf;

pub mod chains;
mod memory;
mod staged;

pub use chains::{federations, load_chain_records, save_chain_record};
pub use memory::MemoryStore;
pub use staged::Staged;

/// How many bytes of a key an error message shows; longer keys are cut with `...`.
const MAX_KEY_BYTES_IN_ERRORS: usize = 48;

const CHAINS_TREE: &str = "chains";
const ENVELOPES_TREE: &str = "envelopes";
const SNAPSHOTS_TREE: &str = "snapshots";
const KEYS_TREE: &str = "keys";
const SYNC_STATE_TREE: &str = "sync_state";
const REFUSALS_TREE: &str = "refusals";
const META_TREE: &str = "meta";

/// A tree of the store. The on-disk names are fixed: renaming one would orphan its data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tree {
    /// Membership chain records, per federation (see [`chains`]).
    Chains,
    /// Accepted signed change envelopes.
    Envelopes,
    /// Document snapshots.
    Snapshots,
    /// Document keys.
    Keys,
    /// Sync state per peer and document.
    SyncState,
    /// Refused changes with the reason for each.
    Refusals,
    /// Everything else: indexes, schema version, node-wide settings.
    Meta,
}

impl Tree {
    /// Every tree, in a fixed order; [`Tree::index`] is the position in this array.
    pub const ALL: [Tree; 7] = [
        Tree::Chains,
        Tree::Envelopes,
        Tree::Snapshots,
        Tree::Keys,
        Tree::SyncState,
        Tree::Refusals,
        Tree::Meta,
    ];

    /// The tree's name in the database.
    pub const fn name(self) -> &'static str {
        match self {
            Tree::Chains => CHAINS_TREE,
            Tree::Envelopes => ENVELOPES_TREE,
            Tree::Snapshots => SNAPSHOTS_TREE,
            Tree::Keys => KEYS_TREE,
            Tree::SyncState => SYNC_STATE_TREE,
            Tree::Refusals => REFUSALS_TREE,
            Tree::Meta => META_TREE,
        }
    }

    /// The position in [`Tree::ALL`], so implementations can keep one handle per tree in
    /// an array.
    pub const fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Puts and deletes over one or more trees, applied all together or not at all.
///
/// Operations apply in the order added; a later operation on the same tree and key wins.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteBatch {
    ops: Vec<BatchOp>,
}

/// One operation of a [`WriteBatch`]; `value: None` deletes the key.
#[derive(Clone, Debug, PartialEq, Eq)]
struct BatchOp {
    tree: Tree,
    key: Vec<u8>,
    value: Option<Vec<u8>>,
}

impl WriteBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key` to `value` in `tree`.
    pub fn put(
        &mut self,
        tree: Tree,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> &mut Self {
        self.ops.push(BatchOp {
            tree,
            key: key.into(),
            value: Some(value.into()),
        });
        self
    }

    /// Removes `key` from `tree`; removing an absent key is not an error.
    pub fn delete(&mut self, tree: Tree, key: impl Into<Vec<u8>>) -> &mut Self {
        self.ops.push(BatchOp {
            tree,
            key: key.into(),
            value: None,
        });
        self
    }

    /// Whether the batch holds no operation.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// How many operations the batch holds.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// The trees the batch touches, each once, in [`Tree::ALL`] order.
    pub fn trees(&self) -> Vec<Tree> {
        let mut touched = [false; Tree::ALL.len()];
        for op in &self.ops {
            touched[op.tree.index()] = true;
        }
        Tree::ALL
            .into_iter()
            .filter(|t| touched[t.index()])
            .collect()
    }

    /// Adds every operation of `other` after this batch's own.
    pub fn append(&mut self, other: WriteBatch) {
        self.ops.extend(other.ops);
    }

    /// The operations in order: tree, key, and the new value (`None` for a delete).
    pub fn ops(&self) -> impl Iterator<Item = (Tree, &[u8], Option<&[u8]>)> {
        self.ops
            .iter()
            .map(|op| (op.tree, op.key.as_slice(), op.value.as_deref()))
    }
}

/// A key and its value, as returned by [`Store::scan_prefix`].
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// The storage operations of the node.
///
/// Implementations are shared between threads; every method blocks.
pub trait Store: Send + Sync + 'static {
    /// The value of `key` in `tree`, if any.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the database cannot be read.
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;

    /// At most `limit` key/value pairs of `tree` whose key starts with `prefix`, in key
    /// order. The limit is mandatory so that no caller loads a whole tree by mistake; a
    /// caller that must know whether more exist asks for one more than it wants.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the database cannot be read.
    fn scan_prefix(
        &self,
        tree: Tree,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StoreError>;

    /// Applies every operation of `batch` atomically, across trees, then flushes to disk.
    /// When this returns `Ok`, the batch survives a crash of the process or the machine;
    /// after a crash before that, either all of the batch is there or none of it. A store
    /// halted by a failed [`Store::sync`] is resumed first.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the batch cannot be applied or flushed; the write must
    /// then not be acknowledged to anyone.
    fn apply(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.resume()?;
        self.write(batch)?;
        self.sync()
    }

    /// Applies every operation of `batch` atomically, across trees, visible to reads at
    /// once; it is durable only once a later [`Store::sync`] succeeds. This is how writes
    /// share one flush (group commit): write each, sync once, acknowledge them all.
    ///
    /// # Errors
    ///
    /// [`StoreError::Halted`] after a failed sync, until [`Store::resume`];
    /// [`StoreError::Backend`] if the batch cannot be applied (the store then halts).
    fn write(&self, batch: WriteBatch) -> Result<(), StoreError>;

    /// Makes every write so far durable (see [`Store::apply`] for what that means).
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the flush fails. The store then halts: the writes since
    /// the last successful sync are not durable and must not be acknowledged, and no
    /// write is taken until [`Store::resume`] has undone them.
    fn sync(&self) -> Result<(), StoreError>;

    /// After a failed sync or write: undoes every write since the last successful sync and
    /// takes writes again. Nothing happens if the store is not halted.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the store cannot be reopened or the undo written (the
    /// disk is still full); the store stays halted and a later call tries again.
    fn resume(&self) -> Result<(), StoreError>;

    /// Writes everything buffered to disk; called last at shutdown.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the flush fails.
    fn flush(&self) -> Result<(), StoreError>;

    /// The space the store takes on disk, in bytes, for status and metrics.
    ///
    /// # Errors
    ///
    /// [`StoreError::Backend`] if the size cannot be determined.
    fn size_on_disk(&self) -> Result<u64, StoreError>;
}

/// What the store was doing when it failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// Opening the database or one of its trees.
    Open,
    /// Reading one key.
    Get,
    /// Scanning a prefix.
    Scan,
    /// Applying a write batch.
    Apply,
    /// Flushing to disk (also after applying a batch).
    Flush,
    /// Measuring the size on disk.
    SizeOnDisk,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operation::Open => "open",
            Operation::Get => "get",
            Operation::Scan => "prefix scan",
            Operation::Apply => "apply batch",
            Operation::Flush => "flush",
            Operation::SizeOnDisk => "size on disk",
        })
    }
}

/// The database engine's own error, kept opaque so that the trait does not name it.
pub type BackendError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A storage operation that failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Another process holds the database open.
    #[error("the store in {dir} is in use by another process (another fednode with the same data directory?)")]
    Locked {
        /// The database directory.
        dir: PathBuf,
    },
    /// The database directory cannot be opened.
    #[error("cannot open the store in {dir}: {source}")]
    Open {
        /// The database directory.
        dir: PathBuf,
        /// The engine's error.
        source: BackendError,
    },
    /// The database engine failed.
    #[error("store {op} failed on {}: {source}", describe_target(.trees, .key.as_deref()))]
    Backend {
        /// What was attempted.
        op: Operation,
        /// The trees involved; empty when the whole database was concerned.
        trees: Vec<Tree>,
        /// The key involved, when there was one.
        key: Option<Vec<u8>>,
        /// The engine's error.
        source: BackendError,
    },
    /// A key in a tree does not have the layout that tree uses.
    #[error("corrupt key {} in tree `{tree}`: {reason}", format_key(.key))]
    CorruptKey {
        /// The tree.
        tree: Tree,
        /// The key found.
        key: Vec<u8>,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A stored membership record is not valid JSON for a record.
    #[error("stored record {seq} of federation {federation} is corrupt: {source}")]
    CorruptRecord {
        /// The federation, from the key.
        federation: fed_crdt::ids::FederationId,
        /// The sequence number, from the key.
        seq: u64,
        /// The decoder's complaint.
        source: serde_json::Error,
    },
    /// A stored membership record is valid but filed under another federation or seq.
    #[error("stored record {seq} of federation {federation} holds record {found_seq} of federation {found_federation}")]
    MisplacedRecord {
        /// The federation, from the key.
        federation: fed_crdt::ids::FederationId,
        /// The sequence number, from the key.
        seq: u64,
        /// The federation the record belongs to.
        found_federation: fed_crdt::ids::FederationId,
        /// The record's own sequence number.
        found_seq: u64,
    },
    /// A record to save belongs to another federation than the one given.
    #[error("record {seq} belongs to federation {found}, not {federation}; not saved")]
    WrongFederation {
        /// The federation it was to be saved under.
        federation: fed_crdt::ids::FederationId,
        /// The record's sequence number.
        seq: u64,
        /// The federation the record names (or founds, for a genesis record).
        found: fed_crdt::ids::FederationId,
    },
    /// A record cannot be encoded.
    #[error("cannot encode record {seq} of federation {federation}: {source}")]
    Encode {
        /// The federation.
        federation: fed_crdt::ids::FederationId,
        /// The record's sequence number.
        seq: u64,
        /// The encoder's complaint.
        source: serde_json::Error,
    },
    /// A sync failed; the store takes no write until the writes it could not make
    /// durable are undone ([`Store::resume`]).
    #[error("the store is halted after a write that did not reach the disk")]
    Halted,
    /// More entries than a named limit allows; nothing was returned.
    #[error("tree `{tree}` holds more than {limit} {what} ({limit_name})")]
    TooMany {
        /// The tree.
        tree: Tree,
        /// What was counted.
        what: &'static str,
        /// The limit.
        limit: usize,
        /// The constant that sets it.
        limit_name: &'static str,
    },
}

impl StoreError {
    /// Whether the failure is a full disk (or quota): the write can succeed once space
    /// is freed, and the API answers 507.
    pub fn is_storage_full(&self) -> bool {
        let StoreError::Backend { source, .. } = self else {
            return false;
        };
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source.as_ref());
        while let Some(error) = cause {
            if let Some(io) = error.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::StorageFull
                    || io.raw_os_error() == Some(28) // ENOSPC
                    || io.raw_os_error() == Some(122)
                // EDQUOT
                {
                    return true;
                }
            }
            cause = error.source();
        }
        // Some engines keep only the message of the I/O error they met.
        source.to_string().contains("No space left on device")
    }
}

/// "tree `x`, key 00ab..", "trees `x`, `y`" or "the database", for error messages.
fn describe_target(trees: &[Tree], key: Option<&[u8]>) -> String {
    let mut out = match trees {
        [] => "the database".to_string(),
        [tree] => format!("tree `{tree}`"),
        _ => {
            let names: Vec<String> = trees.iter().map(|t| format!("`{t}`")).collect();
            format!("trees {}", names.join(", "))
        }
    };
    if let Some(key) = key {
        out.push_str(", key ");
        out.push_str(&format_key(key));
    }
    out
}

/// A key as lower-case hex, cut after [`MAX_KEY_BYTES_IN_ERRORS`] bytes.
fn format_key(key: &[u8]) -> String {
    let mut out: String = key
        .iter()
        .take(MAX_KEY_BYTES_IN_ERRORS)
        .map(|b| format!("{b:02x}"))
        .collect();
    if key.is_empty() {
        out.push_str("(empty)");
    } else if key.len() > MAX_KEY_BYTES_IN_ERRORS {
        out.push_str("...");
    }
    out
}
