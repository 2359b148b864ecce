//! The engine as a relay: store and forward the sealed envelopes and key grants of the
//! federations where this node's role is `relay`, and serve them to the platforms the
//! keys are granted to, including those that were offline when a change was made.

use super::replicate::Listing;
use std::collections::{BTreeSet, HashMap};

use fed_crdt::envelope::ChangeEnvelope;
use fed_crdt::ids::{ChangeHash, DocId, FederationId, PlatformId};
use fed_crdt::seal::KeyGrant;
use tracing::{debug, warn};

use super::relay::Relayed;
use super::views::relays;
use super::{is_relay_in, Engine};
use crate::protocol::{
    SyncRequest, SyncResponse, MAX_DOCUMENTS_PER_SYNC, MAX_ENVELOPES_PER_RESPONSE,
};

impl Engine {
    /// Whether this node relays `federation`.
    pub(super) fn is_relay(&self, federation: &FederationId) -> bool {
        self.federations
            .get(federation)
            .is_some_and(|c| is_relay_in(c, &self.me()))
    }

    /// Who a relayed document goes to: the platforms its newest epoch is granted to, and
    /// the other relays.
    fn relay_audience(&self, federation: &FederationId, document: &DocId) -> BTreeSet<PlatformId> {
        let mut audience: BTreeSet<PlatformId> =
            self.keys.granted_to(document).into_iter().collect();
        if let Some(chain) = self.federations.get(federation) {
            audience.extend(relays(chain));
        }
        audience
    }

    /// Stores a sealed envelope and forwards it to the document's audience (but the
    /// peer it came from).
    pub(super) fn relay_receive(&mut self, peer: PlatformId, env: ChangeEnvelope) {
        let Some(chain) = self.federations.get(&env.federation) else {
            return;
        };
        match self.relay.receive(chain, env.clone()) {
            Ok(Relayed::Stored) => {
                let mut audience = self.relay_audience(&env.federation, &env.document);
                audience.remove(&peer);
                let federation = env.federation;
                self.push(federation, &audience, vec![env], Vec::new());
            }
            Ok(Relayed::Known) => {}
            Ok(Relayed::Waiting) => {
                debug!(doc = %env.document.fmt_short(), "relayed envelope cites a record not held yet");
            }
            Err(refusal) => {
                warn!(doc = %refusal.document.fmt_short(), check = refusal.check.name(), reason = %refusal.reason, "relayed envelope refused");
                if let Err(e) = self.documents.record_refusal(*refusal) {
                    warn!(error = %e, "cannot record a refusal");
                }
            }
        }
    }

    /// Forwards key grants to the platforms they name (but the peer they came from).
    pub(super) fn relay_grants(
        &mut self,
        peer: PlatformId,
        federation: FederationId,
        grants: &[KeyGrant],
    ) {
        for grant in grants {
            let audience: BTreeSet<PlatformId> =
                grant.recipients().copied().filter(|p| *p != peer).collect();
            self.push(federation, &audience, Vec::new(), vec![grant.clone()]);
        }
    }

    /// Answers a platform's anti-entropy request from the relay store.
    pub(super) fn relay_answer_documents(
        &self,
        peer: &PlatformId,
        federation: FederationId,
        listing: Listing,
    ) -> SyncResponse {
        let Listing {
            after,
            until,
            documents,
            grants_held,
            have,
        } = listing;
        let Some(asker) = Some(*peer).filter(|_| {
            self.federations
                .is_member(&federation, peer, self.clock.timestamp())
        }) else {
            return SyncResponse::Refused {
                reason: "not a shared federation".into(),
            };
        };
        if documents.len() > MAX_DOCUMENTS_PER_SYNC {
            return SyncResponse::Refused {
                reason: format!(
                    "{} documents listed, at most {MAX_DOCUMENTS_PER_SYNC} allowed",
                    documents.len()
                ),
            };
        }
        let theirs: HashMap<DocId, Vec<ChangeHash>> = documents.into_iter().collect();
        let have = Listing::have_by_document(have);
        let held: HashMap<DocId, u32> = grants_held.into_iter().collect();
        let mut envelopes = Vec::new();
        let mut grants = Vec::new();
        let ids: Vec<DocId> = self.relay.documents(federation).copied().collect();
        for id in ids {
            if after.is_some_and(|a| id <= a) || until.is_some_and(|u| id > u) {
                continue;
            }
            if !self.relay_audience(&federation, &id).contains(&asker) {
                continue;
            }
            let granted: Vec<_> = self
                .keys
                .grants_of(&id)
                .into_iter()
                .filter(|g| g.recipients().any(|r| *r == asker))
                .collect();
            let mut their_heads = theirs.get(&id).cloned().unwrap_or_default();
            their_heads.sort();
            let same = their_heads == self.relay.heads(&id);
            let fewer_grants = held
                .get(&id)
                .is_none_or(|n| usize::try_from(*n).unwrap_or(usize::MAX) < granted.len());
            if same && !fewer_grants {
                continue;
            }
            grants.extend(granted);
            if same {
                continue;
            }
            // The relay's walk treats what the platform holds alike, heads or not.
            let mut held = their_heads;
            held.extend(have.get(&id).into_iter().flatten().copied());
            envelopes.extend(self.relay.missing_from(&id, &held));
            if envelopes.len() >= MAX_ENVELOPES_PER_RESPONSE {
                envelopes.truncate(MAX_ENVELOPES_PER_RESPONSE);
                break;
            }
        }
        SyncResponse::Envelopes { envelopes, grants }
    }

    /// The relay's anti-entropy requests to a platform: its heads of the documents
    /// granted to that platform.
    pub(super) fn relay_sync_requests(
        &self,
        peer: &PlatformId,
        federation: FederationId,
    ) -> Vec<SyncRequest> {
        let heads = self.relay_heads_for(federation, peer);
        self.paged_sync_requests(federation, heads, None)
    }

    /// The relay's heads of the documents whose keys are granted to `platform`.
    pub(super) fn relay_heads_for(
        &self,
        federation: FederationId,
        platform: &PlatformId,
    ) -> Vec<(DocId, Vec<ChangeHash>)> {
        self.relay
            .documents(federation)
            .filter(|id| self.relay_audience(&federation, id).contains(platform))
            .map(|id| (*id, self.relay.heads(id)))
            .collect()
    }
}
