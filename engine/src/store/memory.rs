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
    /// Every sync fails, as on a full disk (see [`MemoryStore::fail_syncs`]).
    failing: bool,
    /// A sync failed: writes are refused until [`Store::resume`] undoes the unsynced ones.
    halted: bool,
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

    /// Makes every sync fail from now on, as on a full disk (`true`), or succeed again
    /// (`false`): a failed sync halts the store until [`Store::resume`], as the node's
    /// store does.
    pub fn fail_syncs(&self, failing: bool) {
        self.lock().failing = failing;
    }

    /// Loses every write not synced yet, as a crash of the process would.
    pub fn crash(&self) {
        let mut inner = self.lock();
        inner.halted = false;
        Self::undo(&mut inner);
    }

    /// Restores what every unsynced write overwrote, newest first.
    fn undo(inner: &mut Inner) {
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
        if inner.halted {
            return Err(StoreError::Halted);
        }
        let Inner { maps, unsynced, .. } = &mut *inner;
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
        let mut inner = self.lock();
        if inner.halted {
            return Err(StoreError::Halted);
        }
        if inner.failing {
            inner.halted = true;
            return Err(StoreError::Backend {
                op: super::Operation::Flush,
                trees: Vec::new(),
                key: None,
                source: Box::new(std::io::Error::other("no space left on device")),
            });
        }
        inner.unsynced.clear();
        Ok(())
    }

    /// After a failed sync, undoes the writes not synced, as the sled store does; nothing
    /// happens if no sync failed (the unsynced writes stay, to be made durable by the
    /// next sync).
    ///
    /// # Errors
    ///
    /// [`StoreError::Halted`] while syncs still fail.
    fn resume(&self) -> Result<(), StoreError> {
        let mut inner = self.lock();
        if !inner.halted {
            return Ok(());
        }
        if inner.failing {
            return Err(StoreError::Halted);
        }
        inner.halted = false;
        Self::undo(&mut inner);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn put(key: &[u8]) -> WriteBatch {
        let mut batch = WriteBatch::new();
        batch.put(Tree::Envelopes, key.to_vec(), b"v".to_vec());
        batch
    }

    fn holds(store: &MemoryStore, key: &[u8]) -> bool {
        store.get(Tree::Envelopes, key).expect("get").is_some()
    }

    #[test]
    fn a_write_applied_at_once_keeps_the_unsynced_ones_before_it() {
        // `apply` resumes first: with no failed sync, that must not undo what was
        // written and is waiting for the next sync.
        let store = MemoryStore::new();
        store.write(put(b"waiting")).expect("write");
        store.apply(put(b"at once")).expect("apply");
        store.crash();
        assert!(holds(&store, b"waiting"), "the sync of `apply` covered it");
        assert!(holds(&store, b"at once"));
    }

    #[test]
    fn a_failed_sync_halts_until_resumed_and_resuming_undoes_the_unsynced() {
        let store = MemoryStore::new();
        store.apply(put(b"durable")).expect("apply");
        store.write(put(b"lost")).expect("write");
        store.fail_syncs(true);
        assert!(store.sync().is_err());
        assert!(matches!(
            store.write(put(b"refused")),
            Err(StoreError::Halted)
        ));
        assert!(
            matches!(store.resume(), Err(StoreError::Halted)),
            "still failing"
        );
        store.fail_syncs(false);
        store.resume().expect("resume");
        assert!(holds(&store, b"durable"));
        assert!(!holds(&store, b"lost"));
        assert!(!holds(&store, b"refused"));
        store.apply(put(b"after")).expect("writes go on");
        assert!(holds(&store, b"after"));
    }
}
