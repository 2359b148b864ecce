//! The platforms registry from the engine's side: local profile changes, remote
//! envelopes, and the merged view the API shows.

use crate::Verdict;
use fed_crdt::envelope::ChangeEnvelope;
use fed_crdt::ids::{ChangeHash, DocId, DocKind, FederationId, PlatformId};
use fed_crdt::registry::platforms::{profile_change, read_profiles, PlatformProfile};
use tracing::{debug, warn};

use super::{Engine, EngineError, PlatformEntry};

impl Engine {
    /// Checks and stores an envelope from a peer; the verdict is also gossip's.
    pub(super) fn receive_envelope(&mut self, env: ChangeEnvelope) -> Verdict {
        let Some(chain) = self.federations.get(&env.federation) else {
            return Verdict::Ignore;
        };
        let change = env.change_hash;
        let document = env.document;
        if self.documents.refused_for_good(&env.document, &change) {
            return Verdict::Reject;
        }
        let received = self.documents.receive(chain, env);
        self.note_controller(&document);
        match received {
            Ok(received) => {
                if received.refused.iter().any(|r| r.change_hash == change) {
                    Verdict::Reject
                } else if received.accepted.is_empty() && received.buffered == 0 {
                    // Nothing new (a duplicate): do not forward it again.
                    Verdict::Ignore
                } else {
                    Verdict::Accept
                }
            }
            Err(e) => {
                warn!(error = %e, "cannot store a received change");
                Verdict::Ignore
            }
        }
    }

    /// Tells the keyring whose grants count for a private document, once it reads.
    pub(super) fn note_controller(&self, document: &DocId) {
        if let Some(view) = self.documents.view(document) {
            self.keys.set_controller(*document, view.controller());
        }
    }

    pub(super) fn receive_remote(&mut self, source: PlatformId, env: ChangeEnvelope) -> Verdict {
        if !self
            .federations
            .is_member(&env.federation, &source, self.clock.timestamp())
        {
            return Verdict::Reject;
        }
        if env.document.kind != DocKind::Platforms {
            // Private documents never travel by gossip, which would hand them to every
            // member: whoever sends one there is not following the protocol. The
            // envelope is still checked so that a refusal is recorded, but it is neither
            // kept nor forwarded.
            debug!(peer = %source, doc = %env.document.fmt_short(), "private document gossiped; rejected");
            if self.is_relay(&env.federation) {
                return Verdict::Reject;
            }
            if let Some(chain) = self.federations.get(&env.federation) {
                if let Err(e) = self.documents.check_only(chain, env) {
                    warn!(error = %e, "cannot record a refusal");
                }
            }
            return Verdict::Reject;
        }
        self.receive_envelope(env)
    }

    /// Makes, checks, stores and announces this platform's own profile change.
    pub(super) fn set_profile(
        &mut self,
        federation: FederationId,
        profile: &PlatformProfile,
    ) -> Result<Option<ChangeHash>, EngineError> {
        let chain = self
            .federations
            .get(&federation)
            .ok_or(EngineError::UnknownFederation(federation))?;
        let id = self.documents.open(chain)?;
        let doc = self
            .documents
            .get(&id)
            .ok_or(EngineError::UnknownFederation(federation))?;
        let now_ms = self.clock.millis;
        let env = profile_change(doc, chain, &self.signing, profile, now_ms)
            .map_err(|e| EngineError::InvalidProfile(e.to_string()))?;
        let Some(env) = env else {
            return Ok(None);
        };
        self.commit_local(env, Vec::new()).map(Some)
    }

    /// The registry entries merged with what the chain says of each member.
    pub(super) fn platforms(
        &self,
        federation: &FederationId,
    ) -> Result<Vec<PlatformEntry>, EngineError> {
        let chain = self
            .federations
            .get(federation)
            .ok_or(EngineError::UnknownFederation(*federation))?;
        let profiles = self
            .documents
            .get(&DocId::platforms_registry(federation))
            .map(|d| read_profiles(d.automerge()))
            .unwrap_or_default();
        let now = self.clock.timestamp();
        Ok(chain
            .state()
            .members
            .iter()
            .map(|(id, m)| PlatformEntry {
                platform_id: *id,
                name: m.card.name.clone(),
                role: m.role,
                rights: m.rights.clone(),
                status: m.status(now),
                profile: profiles.get(id).cloned(),
            })
            .collect())
    }
}
