//! What a relay holds: the sealed envelopes of the private documents of the federations
//! it serves, as received, with no key to open them.
//!
//! A relay checks what it can without plaintext ([`check_relayed`]: sizes, signature,
//! citation, membership) and refuses a private payload in the clear. It follows each
//! document's history by the dependencies written in the clear on every envelope, so it
//! can answer "what do I lack?" like a platform, and it serves a document only to the
//! platforms its newest key grant names.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use fed_crdt::chain::Chain;
use fed_crdt::envelope::{check_relayed, ChangeEnvelope, Refusal, RefusalCheck, Rejection};
use fed_crdt::ids::{ChangeHash, DocId, DocKind, FederationId};
use fed_crdt::seal::is_sealed;
use tracing::warn;

use crate::store::{Store, Tree, WriteBatch};
use crate::EngineError;

/// Most envelopes a relay keeps for one document.
pub const MAX_RELAYED_ENVELOPES_PER_DOCUMENT: usize = 100_000;

/// One document's sealed envelopes.
#[derive(Default)]
struct Sealed {
    federation: Option<FederationId>,
    envelopes: Vec<ChangeEnvelope>,
    index: HashMap<ChangeHash, usize>,
}

/// The relay's documents.
pub struct RelayStore {
    store: Arc<dyn Store>,
    docs: BTreeMap<DocId, Sealed>,
    max_per_document: usize,
}

/// What became of an envelope given to the relay.
#[derive(Debug)]
pub enum Relayed {
    /// Stored (flushed): forward it.
    Stored,
    /// Already held.
    Known,
    /// Not decidable yet (the chain lacks the cited record); not stored.
    Waiting,
}

fn key(env: &ChangeEnvelope) -> Vec<u8> {
    let mut key = format!("{}/", env.document).into_bytes();
    key.extend_from_slice(env.change_hash.as_bytes());
    key
}

impl RelayStore {
    /// Loads the stored private envelopes of `federation`.
    ///
    /// # Errors
    ///
    /// [`EngineError::Store`] if the store cannot be read.
    pub fn load(&mut self, federation: FederationId) -> Result<(), EngineError> {
        for kind in [DocKind::Project, DocKind::Export] {
            let prefix = format!("{}:", kind.name()).into_bytes();
            for (k, value) in self
                .store
                .scan_prefix(Tree::Envelopes, &prefix, usize::MAX)?
            {
                match serde_json::from_slice::<ChangeEnvelope>(&value) {
                    Ok(env) if env.federation == federation => self.insert(env),
                    Ok(_) => {}
                    Err(e) => {
                        warn!(key = %hex::encode(&k), error = %e, "unreadable relayed envelope skipped");
                    }
                }
            }
        }
        Ok(())
    }

    /// An empty relay store over `store`.
    pub fn new(store: Arc<dyn Store>) -> RelayStore {
        RelayStore {
            store,
            docs: BTreeMap::new(),
            max_per_document: MAX_RELAYED_ENVELOPES_PER_DOCUMENT,
        }
    }

    /// The same, keeping at most `max` envelopes per document.
    pub fn with_max_per_document(store: Arc<dyn Store>, max: usize) -> RelayStore {
        RelayStore {
            max_per_document: max,
            ..RelayStore::new(store)
        }
    }

    fn insert(&mut self, env: ChangeEnvelope) {
        let doc = self.docs.entry(env.document).or_default();
        if doc.index.contains_key(&env.change_hash) {
            return;
        }
        doc.federation = Some(env.federation);
        doc.index.insert(env.change_hash, doc.envelopes.len());
        doc.envelopes.push(env);
    }

    /// Checks and stores a sealed envelope.
    ///
    /// # Errors
    ///
    /// The refusal to record.
    pub fn receive(&mut self, chain: &Chain, env: ChangeEnvelope) -> Result<Relayed, Box<Refusal>> {
        if self
            .docs
            .get(&env.document)
            .is_some_and(|d| d.index.contains_key(&env.change_hash))
        {
            return Ok(Relayed::Known);
        }
        match check_relayed(chain, &env) {
            Ok(()) => {}
            Err(Rejection::Refused(refusal)) => return Err(Box::new(refusal)),
            Err(Rejection::Waiting(_)) => return Ok(Relayed::Waiting),
        }
        if !is_sealed(&env.payload) {
            return Err(Box::new(env.refusal(
                RefusalCheck::Decrypt,
                "the payload of a private document is in the clear; a relay only carries sealed payloads",
            )));
        }
        let held = self
            .docs
            .get(&env.document)
            .map_or(0, |d| d.envelopes.len());
        if held >= self.max_per_document {
            return Err(Box::new(env.refusal(
                RefusalCheck::Size,
                format!("the relay holds {held} envelopes of this document, the most it keeps"),
            )));
        }
        let mut batch = WriteBatch::new();
        batch.put(
            Tree::Envelopes,
            key(&env),
            serde_json::to_vec(&env).unwrap_or_default(),
        );
        self.store
            .apply(batch)
            .map_err(|e| Box::new(env.refusal(RefusalCheck::Size, format!("cannot store: {e}"))))?;
        self.insert(env);
        Ok(Relayed::Stored)
    }

    /// The documents of a federation, in id order.
    pub fn documents(&self, federation: FederationId) -> impl Iterator<Item = &DocId> {
        self.docs
            .iter()
            .filter(move |(_, d)| d.federation == Some(federation))
            .map(|(id, _)| id)
    }

    /// How many envelopes of `federation` are held.
    pub fn changes(&self, federation: FederationId) -> usize {
        self.docs
            .values()
            .filter(|d| d.federation == Some(federation))
            .map(|d| d.envelopes.len())
            .sum()
    }

    /// A document's heads: the changes no other change depends on.
    pub fn heads(&self, document: &DocId) -> Vec<ChangeHash> {
        let Some(doc) = self.docs.get(document) else {
            return Vec::new();
        };
        let depended: HashSet<&ChangeHash> =
            doc.envelopes.iter().flat_map(|e| e.deps.iter()).collect();
        let mut heads: Vec<ChangeHash> = doc
            .envelopes
            .iter()
            .map(|e| e.change_hash)
            .filter(|h| !depended.contains(h))
            .collect();
        heads.sort();
        heads
    }

    /// The envelopes a peer with `their_heads` lacks, each after its dependencies.
    pub fn missing_from(
        &self,
        document: &DocId,
        their_heads: &[ChangeHash],
    ) -> Vec<ChangeEnvelope> {
        let Some(doc) = self.docs.get(document) else {
            return Vec::new();
        };
        let deps_of = |h: &ChangeHash| {
            doc.index
                .get(h)
                .and_then(|i| doc.envelopes.get(*i))
                .map(|e| e.deps.clone())
                .unwrap_or_default()
        };
        let mut theirs: HashSet<ChangeHash> = HashSet::new();
        let mut stack: Vec<ChangeHash> = their_heads.to_vec();
        while let Some(h) = stack.pop() {
            if theirs.insert(h) {
                stack.extend(deps_of(&h));
            }
        }
        // Causal order: repeatedly take the envelopes whose dependencies are placed.
        let mut placed: HashSet<ChangeHash> = theirs.clone();
        let mut left: Vec<&ChangeEnvelope> = doc
            .envelopes
            .iter()
            .filter(|e| !theirs.contains(&e.change_hash))
            .collect();
        let mut out = Vec::new();
        loop {
            let before = left.len();
            left.retain(|e| {
                let ready = e
                    .deps
                    .iter()
                    .all(|d| placed.contains(d) || !doc.index.contains_key(d));
                if ready {
                    placed.insert(e.change_hash);
                    out.push((*e).clone());
                }
                !ready
            });
            if left.is_empty() || left.len() == before {
                break;
            }
        }
        out.extend(left.into_iter().cloned());
        out
    }
}

#[cfg(test)]
#[path = "relay_tests.rs"]
mod tests;
