//! [`MemoryStore`]: the store in memory, for tests of modules that use a [`Store`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{KeyValue, Store, StoreError, Tree, WriteBatch};

/// One map per tree, indexed by [`Tree::index`].
type Maps = [BTreeMap<Vec<u8>, Vec<u8>>; Tree::ALL.len()];

/// A [`Store`] held in memory: same semantics as [`super::SledStore`] (atomic batches,
/// bounded scans in key order), nothing on disk.
///
/// Cloning shares the data, so a test can drop one handle and read through another, as
/// it would reopen a database.
#[derive(Clone, Debug, Default)]
pub struct MemoryStore {
    maps: Arc<Mutex<Maps>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the lock even if a thread panicked while holding it: every change is made
    /// by [`Store::apply`] with infallible map operations, so the maps are never left
    /// half-updated.
    fn lock(&self) -> MutexGuard<'_, Maps> {
        self.maps.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store for MemoryStore {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.lock()[tree.index()].get(key).cloned())
    }

    fn scan_prefix(
        &self,
        tree: Tree,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let maps = self.lock();
        Ok(maps[tree.index()]
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    /// Applies the whole batch under one lock, so no reader sees part of it.
    fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        let mut maps = self.lock();
        for (tree, key, value) in batch.ops() {
            let map = &mut maps[tree.index()];
            match value {
                Some(value) => {
                    map.insert(key.to_vec(), value.to_vec());
                }
                None => {
                    map.remove(key);
                }
            }
        }
        Ok(())
    }

    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn resume(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// The bytes of keys and values held, as the nearest equivalent of a size on disk.
    fn size_on_disk(&self) -> Result<u64, StoreError> {
        let maps = self.lock();
        let bytes: usize = maps
            .iter()
            .flat_map(|m| m.iter())
            .map(|(k, v)| k.len() + v.len())
            .sum();
        Ok(u64::try_from(bytes).unwrap_or(u64::MAX))
    }
}
