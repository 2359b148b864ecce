//! [`SledStore`]: the store on disk, one sled database per node.

use std::convert::Infallible;
use std::fmt;
use std::path::{Path, PathBuf};

use sled::transaction::{TransactionError, Transactional};

use super::{KeyValue, Operation, Store, StoreConfig, StoreError, Tree, WriteBatch};

/// The node's database on disk: one sled database, one sled tree per [`Tree`].
///
/// Cloning is cheap and shares the database.
///
/// A failed write (the disk is full, most often) leaves sled unusable until it is
/// reopened, and its batch may already sit in sled's buffers, to reach the disk later.
/// So a failed [`Store::apply`] remembers how to undo its batch, and the next call
/// reopens the database and undoes it first: a write answered with an error is never
/// applied, and writes succeed again as soon as space returns, without a restart.
#[derive(Clone)]
pub struct SledStore {
    /// `None` only between closing and reopening after a failure.
    open: std::sync::Arc<std::sync::RwLock<Option<Open>>>,
    recovery: std::sync::Arc<std::sync::Mutex<Recovery>>,
    dir: PathBuf,
    config: StoreConfig,
    /// What makes a flush reach the drive; `None` when [`StoreConfig::sync_data`] is off.
    durability: Option<std::sync::Arc<Durability>>,
}

/// The open database.
struct Open {
    db: sled::Db,
    /// One handle per tree, indexed by [`Tree::index`], opened once so that no call pays
    /// for a lookup by name.
    trees: [sled::Tree; Tree::ALL.len()],
}

/// What must happen before the store is used again after a failure.
#[derive(Default)]
struct Recovery {
    /// A write or sync failed: reopen before anything else.
    broken: bool,
    /// Batches restoring what failed writes overwrote, oldest first.
    undo: Vec<WriteBatch>,
    /// Batches restoring what the writes since the last successful sync overwrote,
    /// oldest first: if the next sync fails, they join `undo`.
    unsynced: Vec<WriteBatch>,
}

/// sled 0.34 flushes with `sync_file_range`, which neither empties the drive's write
/// cache nor records the file's new length: a flushed write survives `kill -9` but not
/// necessarily a power cut. After each flush the store therefore `fdatasync`s sled's
/// files (data and the metadata needed to read it, such as the length), and `fsync`s
/// the directory whenever its list of files has changed (sled creates snapshot files),
/// so that a new file's name is durable too.
struct Durability {
    dir: PathBuf,
    /// The names of the directory's files when it was last synced.
    synced_listing: std::sync::Mutex<Vec<std::ffi::OsString>>,
}

impl Durability {
    fn listing(dir: &Path) -> std::io::Result<Vec<std::ffi::OsString>> {
        let mut names: Vec<std::ffi::OsString> = std::fs::read_dir(dir)?
            .map(|e| e.map(|e| e.file_name()))
            .collect::<Result<_, _>>()?;
        names.sort();
        Ok(names)
    }

    /// Makes everything sled has flushed durable.
    fn sync(&self) -> std::io::Result<()> {
        let listing = Durability::listing(&self.dir)?;
        for name in &listing {
            let path = self.dir.join(name);
            if path.is_file() {
                std::fs::File::open(&path)?.sync_data()?;
            }
        }
        let mut synced = self
            .synced_listing
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if *synced != listing {
            std::fs::File::open(&self.dir)?.sync_all()?;
            *synced = listing;
        }
        Ok(())
    }
}

/// Shows the directory only: sled's own `Debug` prints every tree's contents, which are
/// health data and may be large.
impl fmt::Debug for SledStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledStore")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens (or creates) the database in `dir`, with the page cache bounded by
    /// `config.cache_bytes`. After a crash, sled recovers to the last flushed state.
    ///
    /// # Errors
    ///
    /// [`StoreError::Locked`] if another process has the directory open,
    /// [`StoreError::Open`] if it cannot be used otherwise (unreadable, corrupt),
    /// [`StoreError::Backend`] if a tree cannot be opened.
    pub fn open(dir: &Path, config: StoreConfig) -> Result<SledStore, StoreError> {
        let open = open_db(dir, config)?;
        let durability = config.sync_data.then(|| {
            std::sync::Arc::new(Durability {
                dir: dir.to_path_buf(),
                synced_listing: std::sync::Mutex::new(Vec::new()),
            })
        });
        let store = SledStore {
            open: std::sync::Arc::new(std::sync::RwLock::new(Some(open))),
            recovery: std::sync::Arc::default(),
            dir: dir.to_path_buf(),
            config,
            durability,
        };
        // The directory and its files, as sled created them, are durable before the
        // first write is acknowledged.
        store.with_open(|open| store.sync_to_disk(open, Vec::new()))?;
        Ok(store)
    }

    /// The database directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `f` on the open database.
    fn with_open<R>(
        &self,
        f: impl FnOnce(&Open) -> Result<R, StoreError>,
    ) -> Result<R, StoreError> {
        let guard = self
            .open
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match guard.as_ref() {
            Some(open) => f(open),
            None => Err(StoreError::Backend {
                op: Operation::Open,
                trees: Vec::new(),
                key: None,
                source: "the store could not be reopened after a failed write".into(),
            }),
        }
    }

    /// Reopens the database after a failed write and undoes what failed writes left;
    /// nothing is done if no write failed.
    fn recover(&self) -> Result<(), StoreError> {
        let mut recovery = self
            .recovery
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !recovery.broken {
            return Ok(());
        }
        {
            let mut open = self
                .open
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Drop the old handles (and sled's lock on the directory) before reopening.
            drop(open.take());
            *open = Some(open_db(&self.dir, self.config)?);
        }
        self.with_open(|open| {
            // Newest first, so that a key written by several gets its oldest value back.
            for undo in recovery.undo.iter().rev() {
                transact(open, undo)?;
            }
            self.sync_to_disk(open, Vec::new())
        })?;
        recovery.undo.clear();
        recovery.broken = false;
        tracing::info!(dir = %self.dir.display(), "store reopened after a failed write");
        Ok(())
    }

    /// Marks the store broken after a failed write or sync: every write since the last
    /// successful sync (and `undo`'s, if given) is to be undone.
    fn failed(&self, undo: Option<WriteBatch>) {
        let mut recovery = self
            .recovery
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        recovery.broken = true;
        let unsynced = std::mem::take(&mut recovery.unsynced);
        recovery.undo.extend(unsynced);
        recovery.undo.extend(undo);
    }

    fn is_broken(&self) -> bool {
        self.recovery
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .broken
    }

    /// sled's flush, then what makes it durable on power loss (see [`Durability`]).
    fn sync_to_disk(&self, open: &Open, trees: Vec<Tree>) -> Result<(), StoreError> {
        open.db.flush().map_err(|e| StoreError::Backend {
            op: Operation::Flush,
            trees: trees.clone(),
            key: None,
            source: sled_source(e),
        })?;
        if let Some(durability) = &self.durability {
            durability.sync().map_err(|e| StoreError::Backend {
                op: Operation::Flush,
                trees,
                key: None,
                source: Box::new(e),
            })?;
        }
        Ok(())
    }
}

/// How long opening waits for the directory's lock to be released. sled releases the
/// lock of a dropped database when its flusher thread ends, a moment after the drop: a
/// store closed and opened again at once (a restart in the same process, a reopen after a
/// failure) would otherwise find it still held, above all on a loaded machine. A lock
/// held longer is another process's.
pub const LOCK_RELEASE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Opens sled in `dir` with every tree.
fn open_db(dir: &Path, config: StoreConfig) -> Result<Open, StoreError> {
    let deadline = std::time::Instant::now() + LOCK_RELEASE_WAIT;
    let db = loop {
        let opened = sled::Config::new()
            .path(dir)
            .cache_capacity(config.cache_bytes)
            .open()
            .map_err(|e| open_error(dir, e));
        match opened {
            Err(StoreError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => break other?,
        }
    };
    let open = |tree: Tree| {
        db.open_tree(tree.name()).map_err(|e| StoreError::Backend {
            op: Operation::Open,
            trees: vec![tree],
            key: None,
            source: sled_source(e),
        })
    };
    // In `Tree::ALL` order; a unit test checks that each handle has its tree's name.
    let trees = [
        open(Tree::Chains)?,
        open(Tree::Envelopes)?,
        open(Tree::Snapshots)?,
        open(Tree::Keys)?,
        open(Tree::SyncState)?,
        open(Tree::Refusals)?,
        open(Tree::Meta)?,
    ];
    tracing::debug!(
        dir = %dir.display(),
        cache_bytes = config.cache_bytes,
        recovered = db.was_recovered(),
        "store opened"
    );
    Ok(Open { db, trees })
}

impl Open {
    fn tree(&self, tree: Tree) -> &sled::Tree {
        &self.trees[tree.index()]
    }
}

/// Runs `batch` as one sled transaction over the trees it touches (sled seals the writes
/// of a multi-tree transaction into one log batch, recovered all or nothing).
fn transact(open: &Open, batch: &WriteBatch) -> Result<(), StoreError> {
    let touched = batch.trees();
    let handles: Vec<&sled::Tree> = touched.iter().map(|&t| open.tree(t)).collect();
    // Position of each tree among the transaction's views.
    let mut view_of = [0usize; Tree::ALL.len()];
    for (i, t) in touched.iter().enumerate() {
        view_of[t.index()] = i;
    }
    let result =
        <[&sled::Tree] as Transactional<Infallible>>::transaction(handles.as_slice(), |views| {
            for (tree, key, value) in batch.ops() {
                let view = &views[view_of[tree.index()]];
                match value {
                    Some(value) => view.insert(key, value)?,
                    None => view.remove(key)?,
                };
            }
            Ok(())
        });
    match result {
        Ok(()) => Ok(()),
        Err(TransactionError::Abort(never)) => match never {},
        Err(TransactionError::Storage(e)) => Err(StoreError::Backend {
            op: Operation::Apply,
            trees: touched,
            key: None,
            source: sled_source(e),
        }),
    }
}

/// [`StoreError::Locked`] when another process holds the directory, which sled 0.34
/// reports only as an I/O error with this message; [`StoreError::Open`] otherwise.
fn open_error(dir: &Path, e: sled::Error) -> StoreError {
    let locked =
        matches!(&e, sled::Error::Io(io) if io.to_string().starts_with("could not acquire lock"));
    if locked {
        StoreError::Locked {
            dir: dir.to_path_buf(),
        }
    } else {
        StoreError::Open {
            dir: dir.to_path_buf(),
            source: sled_source(e),
        }
    }
}

/// sled's error as the trait's opaque source; an I/O error is unwrapped so that
/// [`StoreError::is_storage_full`] finds it without naming sled.
fn sled_source(e: sled::Error) -> crate::store::BackendError {
    match e {
        sled::Error::Io(io) => Box::new(io),
        other => Box::new(other),
    }
}

/// A [`StoreError::Backend`] for one tree and key.
fn backend(op: Operation, tree: Tree, key: Option<&[u8]>, e: sled::Error) -> StoreError {
    StoreError::Backend {
        op,
        trees: vec![tree],
        key: key.map(<[u8]>::to_vec),
        source: sled_source(e),
    }
}

impl Store for SledStore {
    /// Reads do not wait for a failed write to be undone (that needs space on disk):
    /// until the next write, they may still see the failed batch.
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.with_open(|open| {
            let value = open
                .tree(tree)
                .get(key)
                .map_err(|e| backend(Operation::Get, tree, Some(key), e))?;
            Ok(value.map(|v| v.to_vec()))
        })
    }

    fn scan_prefix(
        &self,
        tree: Tree,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StoreError> {
        self.with_open(|open| {
            open.tree(tree)
                .scan_prefix(prefix)
                .take(limit)
                .map(|item| {
                    item.map(|(k, v)| (k.to_vec(), v.to_vec()))
                        .map_err(|e| backend(Operation::Scan, tree, Some(prefix), e))
                })
                .collect()
        })
    }

    /// Runs the batch as one transaction and keeps how to undo it until the next sync
    /// succeeds (see [`SledStore`]).
    fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        if self.is_broken() {
            return Err(StoreError::Halted);
        }
        // The store is marked broken outside `with_open`: `recover` takes the recovery
        // lock before the database's.
        let (result, undo) = self.with_open(|open| {
            // What the batch overwrites, to undo it if it does not reach the disk.
            let mut undo = WriteBatch::new();
            let mut olds = Vec::new();
            for (tree, key, _) in batch.ops() {
                let old = open
                    .tree(tree)
                    .get(key)
                    .map_err(|e| backend(Operation::Get, tree, Some(key), e))?;
                olds.push((tree, key.to_vec(), old.map(|v| v.to_vec())));
            }
            // Undone in reverse, so that a key written twice gets its first old value.
            for (tree, key, old) in olds.into_iter().rev() {
                match old {
                    Some(old) => undo.put(tree, key, old),
                    None => undo.delete(tree, key),
                };
            }
            Ok((transact(open, &batch), undo))
        })?;
        match result {
            Ok(()) => {
                self.recovery
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .unsynced
                    .push(undo);
                Ok(())
            }
            Err(e) => {
                self.failed(Some(undo));
                Err(e)
            }
        }
    }

    /// Flushes and syncs the database; on failure, halts until [`Store::resume`].
    fn sync(&self) -> Result<(), StoreError> {
        if self.is_broken() {
            return Err(StoreError::Halted);
        }
        // Writes made while the flush runs may not be in it: only those before are known
        // durable after it.
        let before = self
            .recovery
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .unsynced
            .len();
        let result = self.with_open(|open| self.sync_to_disk(open, Vec::new()));
        match &result {
            Ok(()) => {
                let mut recovery = self
                    .recovery
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let synced = before.min(recovery.unsynced.len());
                recovery.unsynced.drain(..synced);
            }
            Err(_) => self.failed(None),
        }
        result
    }

    fn resume(&self) -> Result<(), StoreError> {
        self.recover()
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.recover()?;
        self.with_open(|open| self.sync_to_disk(open, Vec::new()))
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.with_open(|open| {
            open.db.size_on_disk().map_err(|e| StoreError::Backend {
                op: Operation::SizeOnDisk,
                trees: Vec::new(),
                key: None,
                source: sled_source(e),
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tree_handles_are_in_tree_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SledStore::open(dir.path(), StoreConfig::default()).expect("open");
        for (i, tree) in Tree::ALL.into_iter().enumerate() {
            assert_eq!(tree.index(), i);
            let name = store
                .with_open(|open| Ok(open.tree(tree).name()))
                .expect("open");
            assert_eq!(&name[..], tree.name().as_bytes());
        }
    }

    #[test]
    fn every_file_of_the_store_is_synced_with_its_name() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SledStore::open(dir.path(), StoreConfig::default()).expect("open");
        let durability = store
            .durability
            .clone()
            .expect("sync_data is on by default");
        let mut batch = WriteBatch::new();
        batch.put(Tree::Envelopes, b"k".to_vec(), vec![7; 4096]);
        store.apply(batch).expect("apply");
        // A file appears in the directory, as sled's snapshots do: the next flush syncs
        // the directory again, so that its name survives a power cut.
        std::fs::write(dir.path().join("snap.test"), b"x").expect("write");
        store.flush().expect("flush");
        let synced = durability
            .synced_listing
            .lock()
            .map(|l| l.clone())
            .unwrap_or_default();
        assert_eq!(synced, Durability::listing(dir.path()).expect("listing"));
        assert!(synced.iter().any(|n| n == "snap.test"));
        let off = tempfile::tempdir().expect("temp dir");
        let unsynced = SledStore::open(
            off.path(),
            StoreConfig {
                sync_data: false,
                ..StoreConfig::default()
            },
        )
        .expect("open");
        assert!(unsynced.durability.is_none());
    }

    #[test]
    fn debug_does_not_dump_contents() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = SledStore::open(dir.path(), StoreConfig::default()).expect("open");
        let mut batch = WriteBatch::new();
        batch.put(Tree::Keys, b"k".to_vec(), b"secret-value".to_vec());
        store.apply(batch).expect("apply");
        let debug = format!("{store:?}");
        assert!(debug.starts_with("SledStore { dir: "), "{debug}");
        assert!(!debug.contains("Tree"), "{debug}");
    }
}
