//! The registry documents of our federations, materialised from stored envelopes.
//!
//! Every envelope, local or remote, goes through [`fed_crdt::registry::Document::receive`];
//! what it accepts is stored (flushed) before anyone hears of it, what it refuses is
//! recorded with its reason, and nothing else ever touches a document.

use std::collections::HashMap;
use std::sync::Arc;

use fed_crdt::chain::Chain;
use fed_crdt::envelope::{ChangeEnvelope, Refusal};
use fed_crdt::ids::{ChangeHash, DocId, FederationId};
use fed_crdt::registry::{Document, Outcome};
use tracing::{debug, warn};

use crate::engine::EngineError;
use crate::store::{Store, Tree, WriteBatch};

/// Most envelopes stored for one document (registries have short histories).
pub const MAX_ENVELOPES_PER_DOCUMENT: usize = 100_000;
/// Most refusals listed by one API call.
pub const MAX_REFUSALS_LISTED: usize = 1_000;
/// Most refusal records cleared when a change is finally accepted (one per claimed author).
pub const MAX_REFUSALS_PER_CHANGE: usize = 1_024;

/// `<doc id>/` then the change hash: the key of an accepted envelope, and the prefix of
/// the refusals of that change.
fn change_key(document: &DocId, change: &ChangeHash) -> Vec<u8> {
    let mut key = doc_prefix(document);
    key.extend_from_slice(change.as_bytes());
    key
}

/// A refusal's key: the change key, then the author the envelope named. Two envelopes of
/// one change that fail for different authors are two records: a later envelope never
/// rewrites what an earlier one was refused for.
fn refusal_key(refusal: &Refusal) -> Vec<u8> {
    let mut key = change_key(&refusal.document, &refusal.change_hash);
    key.extend_from_slice(refusal.author.as_bytes());
    key
}

fn doc_prefix(document: &DocId) -> Vec<u8> {
    format!("{document}/").into_bytes()
}

/// What happened to envelopes handed to the documents.
#[derive(Clone, Debug, Default)]
pub struct Received {
    /// Envelopes newly accepted (to announce).
    pub accepted: Vec<ChangeEnvelope>,
    /// Refusals recorded.
    pub refused: Vec<Refusal>,
    /// Envelopes waiting for their dependencies.
    pub buffered: usize,
}

/// The documents of every federation we belong to.
pub struct Documents {
    store: Arc<dyn Store>,
    docs: HashMap<DocId, Document>,
}

impl Documents {
    /// An empty set; documents are opened with [`Documents::open`].
    pub fn new(store: Arc<dyn Store>) -> Documents {
        Documents {
            store,
            docs: HashMap::new(),
        }
    }

    /// Opens (from the store, the first time) the platforms registry of a federation.
    ///
    /// # Errors
    ///
    /// [`EngineError::Store`] if the stored envelopes cannot be read.
    pub fn open(&mut self, chain: &Chain) -> Result<DocId, EngineError> {
        let id = DocId::platforms_registry(&chain.federation());
        if self.docs.contains_key(&id) {
            return Ok(id);
        }
        let stored = self.store.scan_prefix(
            Tree::Envelopes,
            &doc_prefix(&id),
            MAX_ENVELOPES_PER_DOCUMENT,
        )?;
        let envelopes = stored.into_iter().filter_map(|(key, value)| {
            match serde_json::from_slice::<ChangeEnvelope>(&value) {
                Ok(env) => Some(env),
                Err(e) => {
                    warn!(doc = %id.fmt_short(), key = %hex::encode(&key), error = %e, "unreadable stored envelope skipped");
                    None
                }
            }
        });
        let (doc, outcomes) = Document::from_envelopes(id, chain, envelopes);
        self.docs.insert(id, doc);
        // Re-checking at load can refuse what the chain now excludes: record it.
        self.persist(&id, outcomes)?;
        Ok(id)
    }

    /// The document, if open.
    pub fn get(&self, id: &DocId) -> Option<&Document> {
        self.docs.get(id)
    }

    /// Checks and applies an envelope (from a peer or from this node's own API).
    ///
    /// # Errors
    ///
    /// [`EngineError::Store`] if the outcome cannot be stored; then nothing is announced.
    pub fn receive(&mut self, chain: &Chain, env: ChangeEnvelope) -> Result<Received, EngineError> {
        let id = env.document;
        let Some(doc) = self.docs.get_mut(&id) else {
            // A document we do not hold (a project before projects exist here, a
            // platforms document that is not the registry) still goes through every
            // check, so that its refusal is recorded; nothing of it is kept.
            let mut transient = Document::new(id, chain);
            let outcomes = transient
                .receive(chain, env)
                .into_iter()
                .filter(|o| matches!(o, Outcome::Refused(_)))
                .collect();
            return self.persist(&id, outcomes);
        };
        if doc.is_accepted(&env.change_hash) {
            return Ok(Received::default());
        }
        let outcomes = doc.receive(chain, env);
        self.persist(&id, outcomes)
    }

    /// Whether the document holds `change` as refused for good.
    pub fn refused_for_good(&self, document: &DocId, change: &ChangeHash) -> bool {
        self.docs
            .get(document)
            .is_some_and(|d| d.refusals().any(|r| r.change_hash == *change))
    }

    /// Re-checks every document of a federation after its chain changed (revocation,
    /// expiry) and records what is now refused.
    ///
    /// # Errors
    ///
    /// [`EngineError::Store`] if the refusals cannot be stored.
    pub fn rebuild(&mut self, federation: &FederationId, chain: &Chain) -> Result<(), EngineError> {
        let ids: Vec<DocId> = self
            .docs
            .iter()
            .filter(|(_, d)| d.federation() == *federation)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            if let Some(doc) = self.docs.get_mut(&id) {
                let outcomes = doc.rebuild(chain);
                self.persist(&id, outcomes)?;
            }
        }
        Ok(())
    }

    /// Stores accepted envelopes and refusals in one flushed batch.
    fn persist(&self, id: &DocId, outcomes: Vec<Outcome>) -> Result<Received, EngineError> {
        let mut batch = WriteBatch::new();
        let mut received = Received::default();
        for outcome in outcomes {
            match outcome {
                Outcome::Accepted(env) => {
                    let key = change_key(id, &env.change_hash);
                    // A change that stays accepted is never listed as refused, whatever
                    // forged envelope of it came first.
                    for (old, _) in
                        self.store
                            .scan_prefix(Tree::Refusals, &key, MAX_REFUSALS_PER_CHANGE)?
                    {
                        batch.delete(Tree::Refusals, old);
                    }
                    let value = serde_json::to_vec(&env).unwrap_or_default();
                    batch.put(Tree::Envelopes, key, value);
                    received.accepted.push(env);
                }
                Outcome::Refused(refusal) => {
                    warn!(doc = %id.fmt_short(), change = %refusal.change_hash.fmt_short(), author = %refusal.author.fmt_short(), check = refusal.check.name(), reason = %refusal.reason, "change refused");
                    // A change accepted earlier and refused now has left the document.
                    let still_accepted = self
                        .docs
                        .get(id)
                        .is_some_and(|d| d.is_accepted(&refusal.change_hash));
                    if !still_accepted {
                        batch.delete(Tree::Envelopes, change_key(id, &refusal.change_hash));
                    }
                    batch.put(
                        Tree::Refusals,
                        refusal_key(&refusal),
                        serde_json::to_vec(&refusal).unwrap_or_default(),
                    );
                    received.refused.push(refusal);
                }
                Outcome::Buffered { change_hash } => {
                    debug!(doc = %id.fmt_short(), change = %change_hash.fmt_short(), "change waits for its dependencies");
                    received.buffered += 1;
                }
                Outcome::Dropped { change_hash } => {
                    debug!(doc = %id.fmt_short(), change = %change_hash.fmt_short(), "buffered change dropped (author over the cap)");
                }
            }
        }
        self.store.apply(batch)?;
        Ok(received)
    }

    /// Recorded refusals, optionally of one federation, at most [`MAX_REFUSALS_LISTED`].
    ///
    /// # Errors
    ///
    /// [`EngineError::Store`] if the store cannot be read.
    pub fn refusals(&self, federation: Option<&FederationId>) -> Result<Vec<Refusal>, EngineError> {
        let rows = self
            .store
            .scan_prefix(Tree::Refusals, b"", MAX_REFUSALS_LISTED * 4)?;
        Ok(rows
            .into_iter()
            .filter_map(|(_, v)| serde_json::from_slice::<Refusal>(&v).ok())
            .filter(|r| federation.is_none_or(|f| r.federation == *f))
            .take(MAX_REFUSALS_LISTED)
            .collect())
    }
}
