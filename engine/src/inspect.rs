//! What an observer may read of an engine without an input: the simulator's invariants
//! and tests compare nodes through these.

use std::collections::BTreeSet;

use fed_crdt::envelope::Refusal;
use fed_crdt::ids::{ChangeHash, DocId, FederationId, PlatformId};

use crate::Engine;

impl Engine {
    /// The heads of a document this node holds.
    pub fn heads_of(&self, document: &DocId) -> Option<Vec<ChangeHash>> {
        self.documents.get(document).map(|d| d.heads())
    }

    /// Every document this node holds of a federation (the platforms registry and the
    /// private documents that read), with its heads, in id order.
    pub fn documents_of(&self, federation: &FederationId) -> Vec<(DocId, Vec<ChangeHash>)> {
        self.documents.held(federation)
    }

    /// Whether this node holds `change`, accepted, in `document`.
    pub fn holds_change(&self, document: &DocId, change: &ChangeHash) -> bool {
        self.documents
            .get(document)
            .is_some_and(|d| d.is_accepted(change))
    }

    /// The audience of a private document as this node reads it now (empty for one it
    /// cannot read).
    pub fn audience_of(&self, document: &DocId) -> BTreeSet<PlatformId> {
        self.audience(document)
    }

    /// Whether this node holds a key of some epoch of a private document, from a grant
    /// it trusts.
    pub fn holds_key_of(&self, document: &DocId) -> bool {
        !self.keys.epochs(document).is_empty()
    }

    /// The changes this node refused, as it recorded them.
    ///
    /// # Errors
    ///
    /// [`crate::EngineError::Store`] if the records cannot be read.
    pub fn refusals(&self) -> Result<Vec<Refusal>, crate::EngineError> {
        self.documents.refusals(None)
    }

    /// The federations this node is in.
    pub fn federation_ids(&self) -> Vec<FederationId> {
        self.federations.iter().map(|(f, _)| *f).collect()
    }

    /// The chain of a federation this node is in.
    pub fn chain(&self, federation: &FederationId) -> Option<&fed_crdt::chain::Chain> {
        self.federations.get(federation)
    }

    /// Whether batches handed over are still waiting to be durable.
    pub fn awaiting_durability(&self) -> bool {
        self.durability.awaiting()
    }
}
