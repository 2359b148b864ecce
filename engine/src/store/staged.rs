//! [`Staged`]: the store as the engine sees it while it handles one input.
//!
//! Everything one input writes (a change, the key grant that came with it, the refusal
//! records it cleared) must reach the disk as one atomic batch, and the engine does no
//! I/O of its own. So its writes are staged here: reads see them at once, and after the
//! input the whole batch is taken and handed to the executor as one effect.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::{KeyValue, Store, StoreError, Tree, WriteBatch};

/// A store whose writes wait in one batch until [`Staged::take`].
pub struct Staged {
    base: Arc<dyn Store>,
    pending: Mutex<WriteBatch>,
}

impl Staged {
    /// Stages writes over `base`, which holds what earlier inputs wrote.
    pub fn new(base: Arc<dyn Store>) -> Self {
        Staged {
            base,
            pending: Mutex::new(WriteBatch::new()),
        }
    }

    fn pending(&self) -> MutexGuard<'_, WriteBatch> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// What was written since the last call, as one batch.
    pub fn take(&self) -> WriteBatch {
        std::mem::take(&mut *self.pending())
    }

    /// The store underneath, for what must bypass staging (resuming it).
    pub fn base(&self) -> &Arc<dyn Store> {
        &self.base
    }
}

impl std::fmt::Debug for Staged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Staged")
            .field("pending", &self.pending().len())
            .finish_non_exhaustive()
    }
}

impl Store for Staged {
    fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let staged = self
            .pending()
            .ops()
            .filter(|(t, k, _)| *t == tree && *k == key)
            .last()
            .map(|(_, _, v)| v.map(<[u8]>::to_vec));
        match staged {
            Some(value) => Ok(value),
            None => self.base.get(tree, key),
        }
    }

    /// The base's rows with the staged operations laid over them. Staged deletes may hide
    /// base rows, so the base is asked for as many more rows as there are staged ops.
    fn scan_prefix(
        &self,
        tree: Tree,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<KeyValue>, StoreError> {
        let pending = self.pending();
        let ours: Vec<(&[u8], Option<&[u8]>)> = pending
            .ops()
            .filter(|(t, k, _)| *t == tree && k.starts_with(prefix))
            .map(|(_, k, v)| (k, v))
            .collect();
        let rows = self
            .base
            .scan_prefix(tree, prefix, limit.saturating_add(ours.len()))?;
        if ours.is_empty() {
            return Ok(rows);
        }
        let mut merged: std::collections::BTreeMap<Vec<u8>, Vec<u8>> = rows.into_iter().collect();
        for (key, value) in ours {
            match value {
                Some(value) => merged.insert(key.to_vec(), value.to_vec()),
                None => merged.remove(key),
            };
        }
        Ok(merged.into_iter().take(limit).collect())
    }

    fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
        self.pending().append(batch);
        Ok(())
    }

    /// Durability is the executor's: it syncs the batch once it has written it.
    fn sync(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn resume(&self) -> Result<(), StoreError> {
        self.base.resume()
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn size_on_disk(&self) -> Result<u64, StoreError> {
        self.base.size_on_disk()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;

    fn staged_over(rows: &[(&[u8], &[u8])]) -> (MemoryStore, Staged) {
        let base = MemoryStore::new();
        let mut batch = WriteBatch::new();
        for (k, v) in rows {
            batch.put(Tree::Envelopes, *k, *v);
        }
        base.write(batch).expect("write");
        (base.clone(), Staged::new(Arc::new(base)))
    }

    #[test]
    fn staged_writes_are_read_back_before_they_reach_the_base() {
        let (base, staged) = staged_over(&[(b"a1", b"old")]);
        let mut batch = WriteBatch::new();
        batch
            .put(Tree::Envelopes, b"a1".to_vec(), b"new".to_vec())
            .put(Tree::Envelopes, b"a2".to_vec(), b"two".to_vec());
        staged.write(batch).expect("stage");
        assert_eq!(
            staged.get(Tree::Envelopes, b"a1").expect("get"),
            Some(b"new".to_vec())
        );
        assert_eq!(
            base.get(Tree::Envelopes, b"a1").expect("get"),
            Some(b"old".to_vec())
        );
        let taken = staged.take();
        assert_eq!(taken.len(), 2);
        assert!(staged.take().is_empty(), "take empties the stage");
    }

    #[test]
    fn a_scan_lays_staged_deletes_and_puts_over_the_base_within_its_limit() {
        let (_, staged) =
            staged_over(&[(b"a1", b"1"), (b"a2", b"2"), (b"a3", b"3"), (b"b1", b"x")]);
        let mut batch = WriteBatch::new();
        batch
            .delete(Tree::Envelopes, b"a1".to_vec())
            .put(Tree::Envelopes, b"a0".to_vec(), b"0".to_vec())
            .put(Tree::Keys, b"a9".to_vec(), b"other tree".to_vec());
        staged.write(batch).expect("stage");
        let rows = staged.scan_prefix(Tree::Envelopes, b"a", 2).expect("scan");
        let keys: Vec<&[u8]> = rows.iter().map(|(k, _)| k.as_slice()).collect();
        assert_eq!(keys, vec![b"a0".as_slice(), b"a2".as_slice()]);
        let all = staged.scan_prefix(Tree::Envelopes, b"a", 10).expect("scan");
        assert_eq!(
            all.len(),
            3,
            "a0, a2, a3: a1 deleted, b1 outside the prefix"
        );
    }
}
