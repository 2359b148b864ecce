//! Group commit: one thread makes the engine's writes durable, many at a time.
//!
//! The engine writes each input's batch at once (visible, not yet durable) and asks this
//! thread for a sync, with a ticket. The thread takes every ticket waiting, syncs once and
//! answers with the highest: every write made before that ticket was asked for is then
//! durable. Concurrent API writes thus share one flush, and the flush (a few fsyncs) runs
//! off the async runtime; the engine answers a write's caller only when its ticket is
//! durable.

use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::mpsc;

use super::{Store, StoreError};

/// What a sync made durable: every write made before ticket `up_to` was asked for, or,
/// on failure, nothing since the last successful sync (the store is then halted).
#[derive(Debug)]
pub struct Synced {
    /// The highest ticket this sync answers.
    pub up_to: u64,
    /// The sync's outcome, shared by every ticket it answers.
    pub result: Result<(), Arc<StoreError>>,
    /// How many tickets this one sync answered.
    pub tickets: usize,
}

/// The handle the engine asks syncs through; dropping it ends the thread.
#[derive(Debug)]
pub struct GroupCommit {
    tickets: std::sync::mpsc::Sender<u64>,
    thread: Option<JoinHandle<()>>,
}

impl GroupCommit {
    /// Starts the thread; its answers arrive on the returned receiver.
    ///
    /// # Errors
    ///
    /// The I/O error if the thread cannot be started.
    pub fn start(
        store: Arc<dyn Store>,
    ) -> std::io::Result<(GroupCommit, mpsc::UnboundedReceiver<Synced>)> {
        let (tickets, waiting) = std::sync::mpsc::channel::<u64>();
        let (done, answers) = mpsc::unbounded_channel();
        let thread = std::thread::Builder::new()
            .name("store-sync".into())
            .spawn(move || {
                while let Ok(first) = waiting.recv() {
                    let mut up_to = first;
                    let mut count = 1;
                    while let Ok(next) = waiting.try_recv() {
                        up_to = up_to.max(next);
                        count += 1;
                    }
                    let result = store.sync().map_err(Arc::new);
                    let answer = Synced {
                        up_to,
                        result,
                        tickets: count,
                    };
                    if done.send(answer).is_err() {
                        break;
                    }
                }
            })?;
        Ok((
            GroupCommit {
                tickets,
                thread: Some(thread),
            },
            answers,
        ))
    }

    /// Asks for every write made so far to be made durable; the answer names `ticket`
    /// or a later one.
    pub fn sync(&self, ticket: u64) {
        // The thread ends only when this handle is dropped.
        let _ = self.tickets.send(ticket);
    }
}

impl Drop for GroupCommit {
    /// Ends the thread once it has answered what it was asked.
    fn drop(&mut self) {
        let (closed, _) = std::sync::mpsc::channel();
        drop(std::mem::replace(&mut self.tickets, closed));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{KeyValue, MemoryStore, Tree, WriteBatch};
    use std::sync::Mutex;

    /// A store whose syncs each wait for a go from the test, and are counted.
    struct GatedStore {
        inner: MemoryStore,
        go: Mutex<std::sync::mpsc::Receiver<()>>,
        entered: Mutex<std::sync::mpsc::Sender<()>>,
    }

    impl Store for GatedStore {
        fn get(&self, tree: Tree, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
            self.inner.get(tree, key)
        }
        fn scan_prefix(&self, t: Tree, p: &[u8], l: usize) -> Result<Vec<KeyValue>, StoreError> {
            self.inner.scan_prefix(t, p, l)
        }
        fn write(&self, batch: WriteBatch) -> Result<(), StoreError> {
            self.inner.write(batch)
        }
        fn sync(&self) -> Result<(), StoreError> {
            let _ = self.entered.lock().map(|e| e.send(()));
            let _ = self.go.lock().map(|g| g.recv());
            Ok(())
        }
        fn resume(&self) -> Result<(), StoreError> {
            Ok(())
        }
        fn flush(&self) -> Result<(), StoreError> {
            Ok(())
        }
        fn size_on_disk(&self) -> Result<u64, StoreError> {
            Ok(0)
        }
    }

    #[tokio::test]
    async fn tickets_asked_during_a_sync_share_the_next_one() {
        let (go, gate) = std::sync::mpsc::channel();
        let (entered_tx, entered) = std::sync::mpsc::channel();
        let store: Arc<dyn Store> = Arc::new(GatedStore {
            inner: MemoryStore::new(),
            go: Mutex::new(gate),
            entered: Mutex::new(entered_tx),
        });
        let (commit, mut answers) = GroupCommit::start(store).expect("start");
        commit.sync(1);
        entered.recv().expect("the first sync starts");
        // Nine more writes ask while the first sync runs.
        for ticket in 2..=10 {
            commit.sync(ticket);
        }
        go.send(()).expect("release the first sync");
        let first = answers.recv().await.expect("first answer");
        assert_eq!((first.up_to, first.tickets), (1, 1));
        entered.recv().expect("the second sync starts");
        go.send(()).expect("release the second sync");
        let second = answers.recv().await.expect("second answer");
        assert_eq!(
            (second.up_to, second.tickets),
            (10, 9),
            "the nine share one sync"
        );
        assert!(second.result.is_ok());
        drop(commit);
        assert!(answers.recv().await.is_none(), "the thread has ended");
    }
}
