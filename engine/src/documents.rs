//! The documents of our federations, materialised from stored envelopes: each
//! federation's platforms registry, and the projects and export requests this platform
//! is in the audience of.
//!
//! Every envelope, local or remote, goes through [`fed_crdt::registry::Document::receive`];
//! what it accepts is stored (flushed) before anyone hears of it, what it refuses is
//! recorded with its reason, and nothing else ever touches a document.

use std::collections::BTreeMap;
use std::sync::Arc;

use fed_crdt::chain::Chain;
use fed_crdt::envelope::{ChangeEnvelope, Refusal, RefusalCheck};
use fed_crdt::ids::{ChangeHash, DocId, DocKind, FederationId, PlatformId};
use fed_crdt::registry::document::Sealing;
use fed_crdt::registry::{Document, Outcome, OwnChange};
use serde::{Deserialize, Serialize};
use tracing::{debug, error, warn};

use crate::store::{Store, Tree, WriteBatch};
use crate::views::View;
use crate::EngineError;

/// Most envelopes stored for one document (registries have short histories).
pub const MAX_ENVELOPES_PER_DOCUMENT: usize = 100_000;
/// Most refusals listed by one API call.
pub const MAX_REFUSALS_LISTED: usize = 1_000;
/// Most refusal records cleared when a change is finally accepted (one per claimed author).
pub const MAX_REFUSALS_PER_CHANGE: usize = 1_024;
/// Most private documents (projects and export requests) held for one federation; the
/// first change of one more is recorded as refused, and nothing of it is kept.
pub const MAX_DOCUMENTS_PER_FEDERATION: usize = 100_000;
/// Heads read back per document from what [`Documents::vouch`] stored: one set per
/// revocation the node learned of while outside the document's audience.
pub const MAX_VOUCHERS_PER_DOCUMENT: usize = 1_024;
/// Accepted changes kept for live-feed subscribers that read slowly; one that falls
/// further behind is told how many it missed.
pub const CHANGE_FEED_BUFFER: usize = 1_024;

/// One accepted change, as the live feed tells it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ChangeEvent {
    /// The federation.
    pub federation: FederationId,
    /// The document.
    pub document: DocId,
    /// `platforms`, `project` or `export`.
    pub kind: DocKind,
    /// The change.
    pub change: ChangeHash,
    /// Its author.
    pub author: PlatformId,
}

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

/// Where the heads a node vouches for without a change are stored, in [`Tree::Meta`].
fn voucher_prefix(document: &DocId) -> Vec<u8> {
    format!("vouched/{document}/").into_bytes()
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
    docs: BTreeMap<DocId, Document>,
    /// What each readable private document reads as, refreshed whenever its accepted
    /// changes change, so that listings never re-read Automerge documents.
    views: BTreeMap<DocId, View>,
    /// Accepted changes not yet handed to the live feed ([`Documents::take_feed`]).
    feed: Vec<ChangeEvent>,
    max_documents: usize,
    /// How private documents open their sealed payloads (none: payloads must be clear,
    /// as in tests of the document bookkeeping alone).
    sealing: Option<Arc<dyn Sealing>>,
    /// Federations this node relays: their private documents are held sealed by the
    /// relay store, never here.
    relayed: std::collections::HashSet<FederationId>,
    /// Documents dropped from memory after a failed write, to read back from the store
    /// once it can be read, by federation.
    stale: BTreeMap<DocId, FederationId>,
    /// The changes of the last batch that failed to be stored, which the document read
    /// back must not hold.
    unstored: std::collections::HashSet<ChangeHash>,
    /// Documents written to the store since [`Documents::take_written`] was last called:
    /// their writes are not durable until the engine's next sync.
    written: Vec<Written>,
    /// The new document on which [`Documents::check_own`] last passed a creation: it
    /// holds the checked result, so receiving the creation next does not redo it.
    fresh: Option<Document>,
}

/// A document written since the engine's last sync request, with the changes accepted
/// in it (to leave out if the sync fails).
pub(crate) type Written = (DocId, FederationId, Vec<ChangeHash>);

impl Documents {
    /// An empty set; documents are opened with [`Documents::open`].
    pub fn new(store: Arc<dyn Store>) -> Documents {
        Documents {
            store,
            docs: BTreeMap::new(),
            views: BTreeMap::new(),
            feed: Vec::new(),
            max_documents: MAX_DOCUMENTS_PER_FEDERATION,
            sealing: None,
            relayed: std::collections::HashSet::new(),
            stale: BTreeMap::new(),
            unstored: std::collections::HashSet::new(),
            written: Vec::new(),
            fresh: None,
        }
    }

    /// This node relays `federation`: its private documents are not opened here.
    pub fn mark_relayed(&mut self, federation: FederationId) {
        self.relayed.insert(federation);
    }

    /// Private documents opened from now on are sealed, and open with `sealing`.
    pub fn set_sealing(&mut self, sealing: Arc<dyn Sealing>) {
        self.sealing = Some(sealing);
    }

    /// A new, empty document of `chain`'s federation, sealed if it is private.
    fn empty(&self, id: DocId, chain: &Chain) -> Document {
        let mut doc = Document::new(id, chain);
        if let (Some(sealing), true) = (&self.sealing, id.kind != DocKind::Platforms) {
            doc.set_sealing(sealing.clone());
        }
        doc
    }

    /// The same, holding at most `max` private documents per federation.
    pub fn with_max_documents(store: Arc<dyn Store>, max: usize) -> Documents {
        Documents {
            max_documents: max,
            ..Documents::new(store)
        }
    }

    /// The changes accepted since the last call, for the live feed.
    pub fn take_feed(&mut self) -> Vec<ChangeEvent> {
        std::mem::take(&mut self.feed)
    }

    /// Opens (from the store, the first time) the platforms registry of a federation and
    /// the private documents stored for it.
    ///
    /// # Errors
    ///
    /// [`EngineError::Store`] if the stored envelopes cannot be read.
    pub fn open(&mut self, chain: &Chain) -> Result<DocId, EngineError> {
        let id = DocId::platforms_registry(&chain.federation());
        if self.docs.contains_key(&id) {
            return Ok(id);
        }
        let envelopes = self.stored(&doc_prefix(&id))?;
        self.load(id, chain, envelopes)?;
        if self.relayed.contains(&chain.federation()) {
            return Ok(id);
        }
        let mut private: BTreeMap<DocId, Vec<ChangeEnvelope>> = BTreeMap::new();
        for kind in [DocKind::Project, DocKind::Export] {
            let prefix = format!("{}:", kind.name()).into_bytes();
            for env in self.stored(&prefix)? {
                if env.federation == chain.federation() {
                    private.entry(env.document).or_default().push(env);
                }
            }
        }
        for (doc, envelopes) in private {
            self.load(doc, chain, envelopes)?;
        }
        Ok(id)
    }

    /// Stored envelopes under a key prefix; unreadable ones are logged and skipped.
    fn stored(&self, prefix: &[u8]) -> Result<Vec<ChangeEnvelope>, EngineError> {
        let limit = MAX_ENVELOPES_PER_DOCUMENT.saturating_mul(MAX_DOCUMENTS_PER_FEDERATION);
        let rows = self.store.scan_prefix(Tree::Envelopes, prefix, limit)?;
        Ok(rows
            .into_iter()
            .filter_map(|(key, value)| match serde_json::from_slice(&value) {
                Ok(env) => Some(env),
                Err(e) => {
                    warn!(key = %hex::encode(&key), error = %e, "unreadable stored envelope skipped");
                    None
                }
            })
            .collect())
    }

    /// Loads a document from its stored envelopes. Every one of them was accepted by
    /// this node: each is accepted again or refused (the chain now excludes it) and the
    /// refusal recorded; if any still waits for a dependency, part of the history is lost
    /// and the node refuses to go on rather than serve an older document.
    fn load(
        &mut self,
        id: DocId,
        chain: &Chain,
        envelopes: Vec<ChangeEnvelope>,
    ) -> Result<(), EngineError> {
        let mut doc = self.empty(id, chain);
        doc.vouch_for(&self.stored_vouchers(&id)?);
        let loaded = doc.load_stored(chain, envelopes);
        if let Some(first) = loaded.missing.first() {
            error!(doc = %id, stored = loaded.stored, missing = loaded.missing.len(), "stored changes depend on changes the store does not hold");
            return Err(EngineError::IncompleteHistory {
                document: id,
                stored: loaded.stored,
                missing: loaded.missing.len(),
                first: *first,
            });
        }
        debug!(doc = %id.fmt_short(), stored = loaded.stored, accepted = loaded.accepted, "document loaded");
        self.docs.insert(id, doc);
        // Re-checking at load can refuse what the chain now excludes: record it. Nothing
        // is told to the live feed: these changes were accepted before.
        self.persist_quietly(&id, loaded.outcomes)?;
        self.refresh_view(&id);
        Ok(())
    }

    /// Vouches for the heads of document `id` as held now, without a change (see
    /// `Document::vouch_for`), and stores them so that a restart vouches again.
    ///
    /// # Errors
    ///
    /// [`EngineError::Store`] if the heads cannot be stored; the document then does not
    /// vouch for them either.
    pub fn vouch(&mut self, id: &DocId) -> Result<(), EngineError> {
        let Some(doc) = self.docs.get_mut(id) else {
            return Ok(());
        };
        let heads = doc.heads();
        let mut batch = WriteBatch::new();
        for head in &heads {
            let mut key = voucher_prefix(id);
            key.extend_from_slice(head.as_bytes());
            batch.put(Tree::Meta, key, Vec::new());
        }
        self.store.write(batch)?;
        doc.vouch_for(&heads);
        self.written.push((*id, doc.federation(), Vec::new()));
        Ok(())
    }

    /// The heads stored by [`Documents::vouch`] for document `id`.
    fn stored_vouchers(&self, id: &DocId) -> Result<Vec<ChangeHash>, EngineError> {
        let prefix = voucher_prefix(id);
        let rows = self
            .store
            .scan_prefix(Tree::Meta, &prefix, MAX_VOUCHERS_PER_DOCUMENT)?;
        Ok(rows
            .into_iter()
            .filter_map(|(key, _)| {
                let bytes: [u8; 32] = key.get(prefix.len()..)?.try_into().ok()?;
                Some(ChangeHash(bytes))
            })
            .collect())
    }

    /// The documents of `federation` held here in which any of `authors` has an
    /// accepted change.
    pub fn authored_by(&self, federation: &FederationId, authors: &[PlatformId]) -> Vec<DocId> {
        self.docs
            .iter()
            .filter(|(_, d)| d.federation() == *federation)
            .filter(|(_, d)| d.accepted().any(|e| authors.contains(&e.author)))
            .map(|(id, _)| *id)
            .collect()
    }

    /// The document, if open.
    pub fn get(&self, id: &DocId) -> Option<&Document> {
        self.docs.get(id)
    }

    /// What a private document reads as, if it is held and readable.
    pub fn view(&self, id: &DocId) -> Option<&View> {
        self.views.get(id)
    }

    /// The readable private documents of a federation, in id order.
    pub fn views(&self, federation: FederationId) -> impl Iterator<Item = (&DocId, &View)> {
        self.views.iter().filter(move |(id, _)| {
            self.docs
                .get(id)
                .is_some_and(|d| d.federation() == federation)
        })
    }

    /// Every document held of `federation` (its platforms registry, and the private
    /// documents that read), with its heads, in id order.
    pub fn held(&self, federation: &FederationId) -> Vec<(DocId, Vec<ChangeHash>)> {
        self.docs
            .iter()
            .filter(|(_, d)| d.federation() == *federation)
            .map(|(id, d)| (*id, d.heads()))
            .collect()
    }

    /// Whether `platform` is in the audience of the document: any member for a
    /// platforms registry, the parties and relays for a private document (none while it
    /// does not read as its kind).
    pub fn audience_includes(&self, id: &DocId, platform: &PlatformId, chain: &Chain) -> bool {
        match id.kind {
            DocKind::Platforms => true,
            _ => self
                .views
                .get(id)
                .is_some_and(|v| v.includes(chain, platform)),
        }
    }

    /// Our heads of the private documents of `federation` whose audience includes
    /// `platform`, in id order.
    pub fn private_heads_for(
        &self,
        federation: FederationId,
        platform: &PlatformId,
        chain: &Chain,
    ) -> Vec<(DocId, Vec<ChangeHash>)> {
        self.views(federation)
            .filter(|(_, v)| v.includes(chain, platform))
            .filter_map(|(id, _)| self.docs.get(id).map(|d| (*id, d.heads())))
            .collect()
    }

    /// Checks and applies an envelope (from a peer or from this node's own API).
    ///
    /// # Errors
    ///
    /// [`EngineError::Store`] if the outcome cannot be stored; then nothing is announced.
    pub fn receive(&mut self, chain: &Chain, env: ChangeEnvelope) -> Result<Received, EngineError> {
        self.reload_stale(chain);
        let id = env.document;
        match self.receive_unstored(chain, env) {
            Err(EngineError::Store(e)) => {
                self.restore(id, chain);
                Err(EngineError::Store(e))
            }
            other => other,
        }
    }

    fn receive_unstored(
        &mut self,
        chain: &Chain,
        env: ChangeEnvelope,
    ) -> Result<Received, EngineError> {
        let id = env.document;
        let Some(doc) = self.docs.get_mut(&id) else {
            let federation = chain.federation();
            let held = self
                .docs
                .values()
                .filter(|d| d.federation() == federation && d.id().kind != DocKind::Platforms)
                .count();
            let mut new = match self.fresh.take() {
                Some(fresh) if fresh.id() == id && fresh.federation() == federation => fresh,
                _ => self.empty(id, chain),
            };
            let mut outcomes = new.receive(chain, env);
            if id.kind != DocKind::Platforms && held < self.max_documents {
                if outcomes
                    .iter()
                    .any(|o| matches!(o, Outcome::Accepted(_) | Outcome::Buffered { .. }))
                {
                    self.docs.insert(id, new);
                }
                return self.persist(&id, outcomes);
            }
            // A platforms document that is not the registry, or a private document over
            // the limit, still goes through every check so that a refusal is recorded;
            // nothing of it is kept.
            let over = id.kind != DocKind::Platforms;
            outcomes = outcomes
                .into_iter()
                .filter_map(|o| match o {
                    Outcome::Refused(r) => Some(Outcome::Refused(r)),
                    Outcome::Accepted(env) if over => Some(Outcome::Refused(env.refusal(
                        RefusalCheck::Size,
                        format!(
                            "this node holds {held} private documents of the federation, the most it keeps ({})",
                            self.max_documents
                        ),
                    ))),
                    _ => None,
                })
                .collect();
            return self.persist(&id, outcomes);
        };
        if doc.is_accepted(&env.change_hash) {
            return Ok(Received::default());
        }
        let outcomes = doc.receive(chain, env);
        self.persist(&id, outcomes)
    }

    /// Runs on this platform's own change every check a receiving node will run, and
    /// changes nothing: the answer to a local write that would be refused.
    ///
    /// # Errors
    ///
    /// [`EngineError::Refused`] naming the check and the reason.
    pub fn check_own(
        &mut self,
        chain: &Chain,
        own: OwnChange,
    ) -> Result<ChangeEnvelope, EngineError> {
        let document = own.envelope().document;
        let checked = match self.docs.get_mut(&document) {
            Some(doc) => doc.check_own(chain, own),
            None => {
                // A creation: the document that checked it is the one to receive it.
                let mut fresh = self.empty(document, chain);
                let checked = fresh.check_own(chain, own);
                self.fresh = checked.is_ok().then_some(fresh);
                checked
            }
        };
        checked.map_err(|r| EngineError::Refused(format!("{}: {}", r.check.name(), r.reason)))
    }

    /// Checks an envelope that must not be kept whatever the outcome (a private document
    /// that arrived by gossip): a refusal is recorded, nothing else is stored.
    ///
    /// # Errors
    ///
    /// [`EngineError::Store`] if the refusal cannot be stored.
    pub fn check_only(
        &mut self,
        chain: &Chain,
        env: ChangeEnvelope,
    ) -> Result<Received, EngineError> {
        let id = env.document;
        let outcomes = match self.docs.get(&id) {
            // A held document checks it on a copy, so that its dependencies are known.
            Some(doc) => doc.clone().receive(chain, env),
            None => self.empty(id, chain).receive(chain, env),
        };
        let refused = outcomes
            .into_iter()
            .filter(|o| matches!(o, Outcome::Refused(_)))
            .collect();
        self.persist_quietly(&id, refused)
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

    /// Records a refusal that no document decided (a key grant that does not check).
    ///
    /// # Errors
    ///
    /// [`EngineError::Store`] if it cannot be stored.
    pub fn record_refusal(&mut self, refusal: Refusal) -> Result<(), EngineError> {
        let id = refusal.document;
        self.persist_quietly(&id, vec![Outcome::Refused(refusal)])
            .map(|_| ())
    }

    /// Stores the outcomes, then tells the live feed of the accepted changes.
    fn persist(&mut self, id: &DocId, outcomes: Vec<Outcome>) -> Result<Received, EngineError> {
        let received = self.persist_quietly(id, outcomes)?;
        for env in &received.accepted {
            self.feed.push(ChangeEvent {
                federation: env.federation,
                document: env.document,
                kind: env.document.kind,
                change: env.change_hash,
                author: env.author,
            });
        }
        Ok(received)
    }

    /// Re-reads a private document after its accepted changes changed.
    fn refresh_view(&mut self, id: &DocId) {
        match self.docs.get(id).and_then(View::read) {
            Some(view) => {
                self.views.insert(*id, view);
            }
            None => {
                self.views.remove(id);
            }
        }
    }

    /// Stores accepted envelopes and refusals in one flushed batch.
    fn persist_quietly(
        &mut self,
        id: &DocId,
        outcomes: Vec<Outcome>,
    ) -> Result<Received, EngineError> {
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
        let wrote = !batch.is_empty();
        if let Err(e) = self.store.write(batch) {
            self.unstored = received.accepted.iter().map(|e| e.change_hash).collect();
            return Err(e.into());
        }
        let federation = received
            .accepted
            .first()
            .map(|e| e.federation)
            .or_else(|| received.refused.first().map(|r| r.federation));
        if let (true, Some(federation)) = (wrote, federation) {
            let changes = received.accepted.iter().map(|e| e.change_hash).collect();
            self.written.push((*id, federation, changes));
        }
        if !received.accepted.is_empty() || !received.refused.is_empty() {
            self.refresh_view(id);
        }
        Ok(received)
    }

    /// The documents written since the last call, whose writes await a sync.
    pub(crate) fn take_written(&mut self) -> Vec<Written> {
        std::mem::take(&mut self.written)
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

#[path = "documents_restore.rs"]
mod restore;

#[cfg(test)]
#[path = "documents_tests.rs"]
mod tests;
