//! [`MemoryStore`]: the store in memory, for tests of modules that use a [`Store`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{KeyValue, Store, StoreError, Tree, WriteBatch};

/// One map per tree, indexed by [`Tree::index`].
type Maps = [BTreeMap<Vec<u8>, Vec<u8>>; Tree::ALL.len()];

/// What a key held before an unsynced write: restored by [`MemoryStore::crash`].
type Undo = (Tree, Vec<u8>, Option<Vec<u8>>);

/// A [`Store`] held in memory: same semantics as the node's sled store (atomic batches,
/// bounded scans in key order, writes durable only once synced), nothing on disk.
///
/// Cloning shares the data, so a test can drop one handle and read through another, as
/// it would reopen a database; [`MemoryStore::crash`] loses what was not synced, as a
/// killed process would.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Debug, Default)]
struct Inner {
    maps: Maps,
    /// Writes since the last sync, oldest first.
    unsynced: Vec<Undo>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the lock even if a thread panicked while holding it: every change is made
    /// by [`Store::apply`] with infallible map operations, so the maps are never left
    /// half-updated.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Loses every write not synced yet, as a crash of the process would.
    pub fn crash(&self) {
        let mut inner = self.lock();
        let undo = std::mem::take(&mut inner.unsynced);
        for (tree, key, old) in undo.into_iter().rev() {
            let map = &mut inner.maps[tree.index()];
            match old {
                Some(value) => map.insert(key, value),
                None => map.remove(&key),
            };
        }
    }
}

impl Store for MemoryStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock().maps[tree.index()].get(key).cloned())
    }

    fn scan_prefix(
        &self,
        tree: Tree,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let inner = self.lock();
        Ok(inner.maps[tree.index()]
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    /// Applies the whole batch under one lock, so no reader sees part of it.
    fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut inner = self.lock();
        let Inner { maps, unsynced } = &mut *inner;
        for (tree, key, value) in batch.ops() {
            let map = &mut maps[tree.index()];
            let old = match value {
                Some(value) => map.insert(key.to_vec(), value.to_vec()),
                None => map.remove(key),
            };
            unsynced.push((tree, key.to_vec(), old));
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.lock().unsynced.clear();
        Ok(())
    }

    /// Undoes the writes not synced, as the sled store does after a failed sync.
    fn resume(&self) -> Result<(), StoreError> {
        self.crash();
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The bytes of keys and values held, as the nearest equivalent of a size on disk.
    fn size_on_disk(&self) -> Result<u64, StoreError> {
        let inner = self.lock();
        let bytes: usize = inner
            .maps
            .iter()
            .flat_map(|m| m.iter())
            .map(|(k, v)| k.len() + v.len())
            .sum();
        Ok(u64::try_from(bytes).unwrap_or(u64::MAX))
    }
}
