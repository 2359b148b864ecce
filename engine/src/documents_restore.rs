//! After a write that could not be stored: the document in memory is read back from
//! the store without the failed batch, or set aside until the store can be read, so
//! that a write answered with an error is never applied.

use fed_crdt::chain::Chain;
use fed_crdt::envelope::ChangeEnvelope;
use fed_crdt::ids::DocId;
use tracing::{debug, warn};

use super::{doc_prefix, Documents};

impl Documents {
    /// After a failed write, the document in memory may hold a change that is not stored:
    /// read it back from the store (which first undoes the failed batch). If the store
    /// cannot be read yet, the document leaves memory until it can.
    pub(crate) fn restore(&mut self, id: DocId, chain: &Chain) {
        self.docs.remove(&id);
        self.views.remove(&id);
        let unstored = std::mem::take(&mut self.unstored);
        let restored = self.stored(&doc_prefix(&id)).and_then(|envelopes| {
            // The store may still show the failed batch until its next write undoes it.
            let envelopes: Vec<ChangeEnvelope> = envelopes
                .into_iter()
                .filter(|e| !unstored.contains(&e.change_hash))
                .collect();
            if envelopes.is_empty() {
                Ok(())
            } else {
                self.load(id, chain, envelopes)
            }
        });
        match restored {
            Ok(()) => {
                self.stale.remove(&id);
                debug!(doc = %id.fmt_short(), "document read back from the store after a failed write");
            }
            Err(e) => {
                warn!(doc = %id.fmt_short(), error = %e, "document set aside until the store can be read");
                self.stale.insert(id, chain.federation());
            }
        }
    }

    /// Reads a document back from the store without `changes` (written, but not made
    /// durable: the store may show them until it has undone them).
    pub(crate) fn restore_without(
        &mut self,
        id: DocId,
        chain: &Chain,
        changes: impl IntoIterator<Item = fed_crdt::ids::ChangeHash>,
    ) {
        self.unstored = changes.into_iter().collect();
        self.restore(id, chain);
    }

    /// Takes a document out of memory until the store can be read back without what it
    /// failed to make durable ([`Documents::reload_stale`]).
    pub(crate) fn set_aside(&mut self, id: DocId, federation: fed_crdt::ids::FederationId) {
        self.docs.remove(&id);
        self.views.remove(&id);
        self.stale.insert(id, federation);
    }

    /// Reads back the documents of `chain`'s federation set aside by [`Documents::restore`].
    pub(crate) fn reload_stale(&mut self, chain: &Chain) {
        let federation = chain.federation();
        let stale: Vec<DocId> = self
            .stale
            .iter()
            .filter(|(_, f)| **f == federation)
            .map(|(id, _)| *id)
            .collect();
        for id in stale {
            self.restore(id, chain);
        }
    }
}
