//! Sealing this platform's changes to private documents, and the epochs of their keys.
//!
//! The controller of a document (a project's owner, an export request's requester) draws
//! each epoch's key and grants it to the document's parties, with the encryption keys the
//! administrators signed into the chain. A new platform of the audience is granted every
//! past epoch (it must read the whole history to read the document); a platform that
//! leaves the audience (an unshare, a revocation) is left out of a new epoch, which every
//! later change uses. Changes are sealed under the newest epoch this platform holds.

use std::collections::BTreeSet;

use fed_crdt::envelope::ChangeEnvelope;
use fed_crdt::ids::{ChangeHash, DocId, DocKind, EncryptionKey, FederationId, PlatformId};
use fed_crdt::registry::OwnChange;
use fed_crdt::seal::{is_sealed, seal_envelope, sealed_epoch, EpochKey, KeyGrant};
use tracing::{debug, info, warn};

use super::keys::GrantOutcome;
use super::views::View;
use super::{Engine, EngineError, FetchKind, MAX_AWAITING_KEYS};

impl Engine {
    /// The encryption keys the chain holds for `platforms` (active members only).
    fn encryption_keys(
        &self,
        federation: &FederationId,
        platforms: &BTreeSet<PlatformId>,
    ) -> Result<Vec<(PlatformId, EncryptionKey)>, EngineError> {
        let chain = self
            .federations
            .get(federation)
            .ok_or(EngineError::UnknownFederation(*federation))?;
        let state = chain.state();
        let now = self.clock.timestamp();
        Ok(platforms
            .iter()
            .filter(|p| state.is_member(p, now))
            .filter_map(|p| state.members.get(p).map(|m| (*p, m.card.encryption_key)))
            .collect())
    }

    /// Draws the key of a new epoch of `document` and grants it to `parties`.
    ///
    /// # Errors
    ///
    /// [`EngineError::Invalid`] if the grant cannot be made.
    pub(super) fn start_epoch(
        &mut self,
        federation: FederationId,
        document: DocId,
        started_by: Option<ChangeHash>,
        parties: &BTreeSet<PlatformId>,
    ) -> Result<KeyGrant, EngineError> {
        let chain = self
            .federations
            .get(&federation)
            .ok_or(EngineError::UnknownFederation(federation))?;
        let epoch = self.keys.newest_epoch(&document).map_or(0, |e| e + 1);
        let key = EpochKey(crate::random(&mut self.rng));
        let recipients = self.encryption_keys(&federation, parties)?;
        let grant = self.keys.grant(
            chain,
            &self.signing,
            document,
            (epoch, started_by, &key),
            &recipients,
            &mut self.rng,
        )?;
        info!(fed = %federation.fmt_short(), doc = %document.fmt_short(), epoch, recipients = recipients.len(), "new key epoch");
        Ok(grant)
    }

    /// Grants every epoch this platform holds of `document` to `platform`.
    ///
    /// # Errors
    ///
    /// [`EngineError::Invalid`] if a grant cannot be made.
    pub(super) fn extend_epochs(
        &mut self,
        federation: FederationId,
        document: DocId,
        platform: PlatformId,
    ) -> Result<Vec<KeyGrant>, EngineError> {
        let chain = self
            .federations
            .get(&federation)
            .ok_or(EngineError::UnknownFederation(federation))?;
        let recipients = self.encryption_keys(&federation, &BTreeSet::from([platform]))?;
        let mut grants = Vec::new();
        for (epoch, key) in self.keys.epochs(&document) {
            let started_by = self
                .keys
                .grants_of(&document)
                .iter()
                .find(|g| g.epoch == epoch)
                .and_then(|g| g.started_by);
            grants.push(self.keys.grant(
                chain,
                &self.signing,
                document,
                (epoch, started_by, &key),
                &recipients,
                &mut self.rng,
            )?);
        }
        Ok(grants)
    }

    /// Seals this platform's change to a private document under the newest epoch it
    /// holds; registry changes stay in the clear.
    ///
    /// # Errors
    ///
    /// [`EngineError::Invalid`] if this platform holds no key of the document.
    pub(super) fn seal_local(&mut self, own: OwnChange) -> Result<OwnChange, EngineError> {
        let document = own.envelope().document;
        if document.kind == DocKind::Platforms {
            return Ok(own);
        }
        let (epoch, key) = self.keys.current(&document).ok_or_else(|| {
            EngineError::Invalid(format!(
                "this platform holds no key of {document}; it cannot write to it"
            ))
        })?;
        let nonce = crate::random(&mut self.rng);
        Ok(own.map_envelope(|env| seal_envelope(env, &self.signing, &key, epoch, nonce)))
    }

    /// Takes key grants from a peer, records the refusal of those that do not check, and
    /// feeds the envelopes that were waiting for a key now unwrapped.
    pub(super) fn receive_grants(&mut self, federation: FederationId, grants: Vec<KeyGrant>) {
        let Some(chain) = self.federations.get(&federation) else {
            return;
        };
        let mut opened = Vec::new();
        let mut refusals = Vec::new();
        for grant in grants {
            let slot = (grant.document, grant.epoch);
            match self.keys.receive(chain, grant) {
                Ok(GrantOutcome::Stored { unwrapped: true }) => opened.push(slot),
                Ok(_) => {}
                Err(super::keys::GrantError::Refused(refusal)) => refusals.push(refusal),
                Err(super::keys::GrantError::Store(e)) => {
                    warn!(fed = %federation.fmt_short(), error = %e, "cannot store a key grant; anti-entropy will bring it again");
                }
            }
        }
        for refusal in refusals {
            warn!(doc = %refusal.document.fmt_short(), author = %refusal.author.fmt_short(), reason = %refusal.reason, "key grant refused");
            if let Err(e) = self.documents.record_refusal(*refusal) {
                warn!(error = %e, "cannot record a refusal");
            }
        }
        let unwrapped = !opened.is_empty();
        for slot in opened {
            for env in self.awaiting_keys.remove(&slot).unwrap_or_default() {
                self.receive_envelope(env);
            }
        }
        if unwrapped {
            self.prune_retired_keys();
        }
    }

    /// Feeds a remote envelope, unless it is sealed under an epoch whose key this
    /// platform does not hold yet: then it waits (bounded), and `peer` is asked for what
    /// it holds. Returns whether it waits.
    pub(super) fn receive_or_await_key(&mut self, peer: PlatformId, env: ChangeEnvelope) -> bool {
        if env.document.kind != DocKind::Platforms && self.is_relay(&env.federation) {
            self.relay_receive(peer, env);
            return false;
        }
        let waiting = env.document.kind != DocKind::Platforms
            && is_sealed(&env.payload)
            && sealed_epoch(&env.payload)
                .is_some_and(|epoch| !self.keys.has_key(&env.document, epoch));
        if !waiting {
            self.receive_envelope(env);
            return false;
        }
        let Some(epoch) = sealed_epoch(&env.payload) else {
            return false;
        };
        let total: usize = self.awaiting_keys.values().map(Vec::len).sum();
        if total >= MAX_AWAITING_KEYS {
            debug!(doc = %env.document.fmt_short(), "too many envelopes wait for keys; dropped (anti-entropy brings it back)");
            return true;
        }
        let federation = env.federation;
        let slot = self.awaiting_keys.entry((env.document, epoch)).or_default();
        if !slot.iter().any(|e| e.change_hash == env.change_hash) {
            slot.push(env);
            // Its grant may be on the way: ask the peer that sent it. An envelope that
            // already waited was asked for: asking again at once, when the peer holds no
            // grant this node accepts (a revoked controller's), would never end; the
            // next anti-entropy round asks again.
            self.fetch(peer, federation, FetchKind::Private);
        }
        true
    }

    /// The parties of a private document as this platform reads it.
    pub(super) fn parties(&self, document: &DocId) -> BTreeSet<PlatformId> {
        self.documents
            .view(document)
            .map(View::parties)
            .unwrap_or_default()
    }

    /// After a chain change, for each document this platform controls: a new epoch
    /// without a platform that is no longer an active member; every epoch granted again
    /// to a party whose encryption key the chain now holds anew (a rotated key). Then the
    /// retired secrets nothing needs any more are deleted.
    pub(super) fn rekey(&mut self, federation: FederationId) {
        let me = self.me();
        let now = self.clock.timestamp();
        let Some(chain) = self.federations.get(&federation) else {
            return;
        };
        let state = chain.state();
        let controlled: Vec<DocId> = self
            .documents
            .views(federation)
            .filter(|(_, v)| match v {
                View::Project(p) => p.owner == me,
                View::Export(e) => e.requester == me,
            })
            .map(|(id, _)| *id)
            .collect();
        let mut departed = Vec::new();
        let mut rekeyed = Vec::new();
        for document in controlled {
            if self
                .keys
                .granted_to(&document)
                .iter()
                .any(|p| !state.is_member(p, now))
            {
                departed.push(document);
            }
            let newest = self.keys.newest_epoch(&document);
            let grants = self.keys.grants_of(&document);
            for party in self.parties(&document) {
                let Some(key) = state
                    .members
                    .get(&party)
                    .filter(|_| state.is_member(&party, now))
                    .map(|m| m.card.encryption_key)
                else {
                    continue;
                };
                let current = grants.iter().filter(|g| Some(g.epoch) == newest).any(|g| {
                    g.wrapped
                        .iter()
                        .any(|w| w.platform == party && w.encryption_key == key)
                });
                if !current {
                    rekeyed.push((document, party));
                }
            }
        }
        for document in departed {
            let parties = self.parties(&document);
            match self.start_epoch(federation, document, None, &parties) {
                Ok(grant) => {
                    let audience = self.audience(&document);
                    self.push(federation, &audience, Vec::new(), vec![grant]);
                }
                Err(e) => {
                    warn!(doc = %document.fmt_short(), error = %e, "cannot start a new epoch")
                }
            }
        }
        for (document, party) in rekeyed {
            match self.extend_epochs(federation, document, party) {
                Ok(grants) if !grants.is_empty() => {
                    info!(doc = %document.fmt_short(), platform = %party.fmt_short(), "document keys granted again for a new encryption key");
                    let audience = self.audience(&document);
                    self.push(federation, &audience, Vec::new(), grants);
                }
                Ok(_) => {}
                Err(e) => {
                    warn!(doc = %document.fmt_short(), error = %e, "cannot grant the keys again")
                }
            }
        }
        self.prune_retired_keys();
    }

    /// Deletes the retired encryption secrets nothing needs any more.
    pub(super) fn prune_retired_keys(&mut self) {
        let me = self.me();
        let current: Vec<EncryptionKey> = self
            .federations
            .iter()
            .filter_map(|(_, c)| c.state().members.get(&me).map(|m| m.card.encryption_key))
            .collect();
        for file in self.keys.prune_retired(&current) {
            info!(file = %file.display(), "retired encryption key no longer needed: every document key is granted for the new one");
            self.effects.push(crate::Effect::DeleteRetiredKey { file });
        }
    }
}
