//! Getting changes to whoever should have them.
//!
//! The platforms registry is everyone's: its changes go out on the federation's gossip
//! topic. A project or an export request is its audience's only (see [`super::views`]):
//! its changes are pushed directly to each connected platform of the audience, never
//! gossiped, and anti-entropy ([`SyncRequest::Documents`]) names a private document only
//! to a peer of its audience and answers only with documents whose audience includes
//! the asker. A platform that leaves the audience (an unshare) gets the change that
//! removed it, and nothing after.

use std::collections::{BTreeSet, HashMap};

use fed_crdt::envelope::ChangeEnvelope;
use fed_crdt::ids::{ChangeHash, DocId, DocKind, FederationId, PlatformId};
use fed_crdt::registry::OwnChange;
use fed_crdt::seal::KeyGrant;

use super::{Effect, Engine, EngineError, FetchKind};
use crate::protocol::private_digest;
use crate::protocol::{
    Announcement, SyncRequest, SyncResponse, MAX_DOCUMENTS_PER_SYNC, MAX_ENVELOPES_PER_PUSH,
    MAX_ENVELOPES_PER_RESPONSE, MAX_GRANTS_PER_PUSH, MAX_HAVE_PER_DOCUMENT,
};

impl Engine {
    /// Checks and stores one of this platform's own changes, then sends it on: by
    /// gossip for the platforms registry, to the audience (before and after the change)
    /// for a private document.
    ///
    /// # Errors
    ///
    /// [`EngineError::Refused`] if our own checks refuse it, [`EngineError::Store`].
    pub(super) fn commit_local(
        &mut self,
        own: OwnChange,
        grants: Vec<KeyGrant>,
    ) -> Result<ChangeHash, EngineError> {
        let federation = own.envelope().federation;
        let document = own.envelope().document;
        let chain = self
            .federations
            .get(&federation)
            .ok_or(EngineError::UnknownFederation(federation))?;
        let mut audience: BTreeSet<PlatformId> = self
            .documents
            .view(&document)
            .map(|v| v.audience(chain))
            .unwrap_or_default();
        let change = own.envelope().change_hash;
        self.check_may_write(&federation)?;
        // The same checks every node will run, on our own change, before anything is
        // stored: a change this node would refuse is answered, never recorded (the
        // refusal log is for what other platforms send).
        let env = self.documents.check_own(chain, own)?;
        let received = self.documents.receive(chain, env.clone())?;
        self.note_controller(&env.document);
        if let Some(refusal) = received.refused.iter().find(|r| r.change_hash == change) {
            return Err(EngineError::Refused(refusal.to_string()));
        }
        if env.document.kind == DocKind::Platforms {
            let announcement = Announcement::Change {
                envelope: Box::new(env),
            };
            // Gossiped once durable: a change others hold but this node lost in a crash
            // would be followed by another with the same sequence number. If nobody is
            // subscribed, anti-entropy carries it.
            self.when_durable(Effect::Publish {
                federation,
                data: announcement.to_bytes(),
            });
            return Ok(change);
        }
        if let Some(view) = self.documents.view(&env.document) {
            audience.extend(view.audience(chain));
        }
        self.push(federation, &audience, vec![env], grants);
        Ok(change)
    }

    /// Refuses a write by this platform once its membership has ended: 403 naming the
    /// record that revoked it, or the time it expired.
    pub(super) fn check_may_write(&self, federation: &FederationId) -> Result<(), EngineError> {
        let me = self.me();
        let Some(chain) = self.federations.get(federation) else {
            return Err(EngineError::UnknownFederation(*federation));
        };
        let Some(member) = chain.state().members.get(&me) else {
            return Err(EngineError::MembershipEnded(format!(
                "this platform is not a member of federation {federation}"
            )));
        };
        if let Some(revocation) = &member.revoked {
            return Err(EngineError::MembershipEnded(format!(
                "this platform was revoked from federation {federation} by record {} issued at {}; it may no longer write",
                revocation.seq, revocation.at
            )));
        }
        match member.expires_at {
            Some(at) if self.clock.timestamp() >= at => Err(EngineError::MembershipEnded(format!(
                "this platform's membership of federation {federation} expired at {at}; it may no longer write"
            ))),
            _ => Ok(()),
        }
    }

    /// The audience of a private document as this platform reads it now.
    pub(super) fn audience(&self, document: &DocId) -> BTreeSet<PlatformId> {
        let chain = self
            .documents
            .get(document)
            .and_then(|d| self.federations.get(&d.federation()));
        match (self.documents.view(document), chain) {
            (Some(view), Some(chain)) => view.audience(chain),
            _ => BTreeSet::new(),
        }
    }

    /// Seals and commits this platform's change if there is one (sending `grants` with
    /// it), and names the document to answer with: the change's, or `target` when
    /// nothing needed changing; with the change's hash.
    ///
    /// # Errors
    ///
    /// As [`Engine::seal_local`] and [`Engine::commit_local`]; [`EngineError::Invalid`]
    /// with neither a change nor a target.
    pub(super) fn commit_or_keep(
        &mut self,
        envelope: Option<OwnChange>,
        target: Option<DocId>,
        grants: Vec<KeyGrant>,
    ) -> Result<(DocId, Option<ChangeHash>), EngineError> {
        match (envelope, target) {
            (Some(own), _) => {
                let id = own.envelope().document;
                let own = self.seal_local(own)?;
                let hash = self.commit_local(own, grants)?;
                Ok((id, Some(hash)))
            }
            (None, Some(id)) => Ok((id, None)),
            (None, None) => Err(EngineError::Invalid("nothing to change".into())),
        }
    }

    /// A member's name from its identity card in the federation's chain, or its id.
    pub(super) fn member_name(&self, federation: &FederationId, platform: &PlatformId) -> String {
        self.federations
            .get(federation)
            .and_then(|c| c.state().members.get(platform))
            .map_or_else(|| platform.to_string(), |m| m.card.name.clone())
    }

    /// Pushes envelopes, with key grants, to every connected active member in
    /// `audience` (but us). A grant goes only to the platforms it names and to relays.
    pub(super) fn push(
        &mut self,
        federation: FederationId,
        audience: &BTreeSet<PlatformId>,
        envelopes: Vec<ChangeEnvelope>,
        grants: Vec<KeyGrant>,
    ) {
        let relays: BTreeSet<PlatformId> = self
            .federations
            .get(&federation)
            .map(|c| super::views::relays(c).collect())
            .unwrap_or_default();
        let me = self.me();
        let now = self.clock.timestamp();
        for platform in audience.iter().filter(|p| **p != me) {
            let peer = *platform;
            if !self.connected.contains(&peer)
                || !self.federations.is_member(&federation, &peer, now)
            {
                continue;
            }
            let theirs: Vec<KeyGrant> = grants
                .iter()
                .filter(|g| relays.contains(platform) || g.recipients().any(|r| r == platform))
                .cloned()
                .collect();
            // Sent once what this input wrote is durable, after what was queued before.
            self.pushes
                .queue(peer, federation, envelopes.clone(), theirs);
        }
    }

    /// Takes envelopes a member pushed. One that waits for dependencies we lack makes us
    /// ask that member for what it holds of our shared documents.
    pub(super) fn receive_push(
        &mut self,
        peer: PlatformId,
        federation: FederationId,
        envelopes: Vec<ChangeEnvelope>,
        grants: Vec<KeyGrant>,
    ) -> SyncResponse {
        if !self
            .federations
            .is_member(&federation, &peer, self.clock.timestamp())
        {
            return SyncResponse::Refused {
                reason: "not a shared federation".into(),
            };
        }
        if envelopes.len() > MAX_ENVELOPES_PER_PUSH {
            return SyncResponse::Refused {
                reason: format!(
                    "{} envelopes pushed at once, at most {MAX_ENVELOPES_PER_PUSH} allowed",
                    envelopes.len()
                ),
            };
        }
        if grants.len() > MAX_GRANTS_PER_PUSH {
            return SyncResponse::Refused {
                reason: format!(
                    "{} grants pushed at once, at most {MAX_GRANTS_PER_PUSH} allowed",
                    grants.len()
                ),
            };
        }
        if self.is_relay(&federation) {
            self.relay_grants(peer, federation, &grants);
        }
        self.receive_grants(federation, grants);
        let mut waiting = false;
        for env in envelopes {
            if env.federation != federation {
                continue;
            }
            let document = env.document;
            if self.receive_or_await_key(peer, env) {
                continue;
            }
            waiting |= self
                .documents
                .get(&document)
                .is_some_and(|d| d.buffered() > 0);
        }
        if waiting {
            self.fetch(peer, federation, FetchKind::Private);
        }
        SyncResponse::Received
    }

    /// The requests that reconcile our private documents shared with `peer`: our heads
    /// of each, [`MAX_DOCUMENTS_PER_SYNC`] documents per request, by id ranges.
    pub(super) fn private_sync_requests(
        &self,
        peer: &PlatformId,
        federation: FederationId,
        key: &(PlatformId, FederationId, FetchKind),
    ) -> Vec<SyncRequest> {
        if self.is_relay(&federation) {
            return self.relay_sync_requests(peer, federation);
        }
        let Some(chain) = self.federations.get(&federation) else {
            return Vec::new();
        };
        let heads = self.shared_heads(federation, peer, chain);
        self.paged_sync_requests(federation, heads, Some(key))
    }

    /// Our heads of the private documents whose audience includes both `peer` and
    /// this platform: what we ask `peer` about. A document we were removed from is not
    /// asked about once we hold the change that removed us.
    fn shared_heads(
        &self,
        federation: FederationId,
        peer: &PlatformId,
        chain: &fed_crdt::chain::Chain,
    ) -> Vec<(DocId, Vec<ChangeHash>)> {
        let me = self.me();
        self.documents
            .private_heads_for(federation, peer, chain)
            .into_iter()
            .filter(|(id, _)| self.documents.audience_includes(id, &me, chain))
            .collect()
    }

    /// The digest of the private documents shared with `peer` (see
    /// [`crate::protocol::private_digest`]): as the asker (`asking`, counting the
    /// grants that name us) or as the one asked (counting those that name the peer).
    pub(super) fn private_digest_for(
        &self,
        peer: &PlatformId,
        federation: FederationId,
        asking: bool,
    ) -> [u8; 32] {
        let other = *peer;
        let naming = if asking { self.me() } else { other };
        let count =
            |id: &DocId| u32::try_from(self.keys.grants_naming(id, &naming)).unwrap_or(u32::MAX);
        let heads: Vec<(DocId, Vec<ChangeHash>)> = if self.is_relay(&federation) {
            self.relay_heads_for(federation, &other)
        } else {
            match self.federations.get(&federation) {
                Some(chain) if asking => self.shared_heads(federation, &other, chain),
                Some(chain) => self.documents.private_heads_for(federation, &other, chain),
                None => Vec::new(),
            }
        };
        let entries: Vec<(DocId, Vec<ChangeHash>, u32)> = heads
            .into_iter()
            .map(|(id, heads)| {
                let n = count(&id);
                (id, heads, n)
            })
            .collect();
        private_digest(&entries)
    }

    /// The [`SyncRequest::Documents`] listing `heads` (in id order), by pages of
    /// [`MAX_DOCUMENTS_PER_SYNC`] with their id ranges, and how many grants we hold of
    /// each; one empty request when there is nothing to list. For the fetch `key`, the
    /// documents' `have` too (see [`Engine::have_of`]).
    pub(super) fn paged_sync_requests(
        &self,
        federation: FederationId,
        heads: Vec<(DocId, Vec<ChangeHash>)>,
        key: Option<&(PlatformId, FederationId, FetchKind)>,
    ) -> Vec<SyncRequest> {
        let pages: Vec<&[(DocId, Vec<ChangeHash>)]> =
            heads.chunks(MAX_DOCUMENTS_PER_SYNC).collect();
        if pages.is_empty() {
            return vec![SyncRequest::Documents {
                federation,
                after: None,
                until: None,
                documents: Vec::new(),
                grants_held: Vec::new(),
                have: Vec::new(),
            }];
        }
        let mut requests = Vec::new();
        let mut after = None;
        for (i, page) in pages.iter().enumerate() {
            let until = if i + 1 == pages.len() {
                None
            } else {
                page.last().map(|(id, _)| *id)
            };
            let grants_held = page
                .iter()
                .map(|(id, _)| {
                    let held = self.keys.grants_of(id).len();
                    (*id, u32::try_from(held).unwrap_or(u32::MAX))
                })
                .collect();
            let have = key
                .map(|key| {
                    page.iter()
                        .map(|(id, _)| (*id, self.have_of(key, id)))
                        .filter(|(_, have)| !have.is_empty())
                        .collect()
                })
                .unwrap_or_default();
            requests.push(SyncRequest::Documents {
                federation,
                after,
                until,
                documents: page.to_vec(),
                grants_held,
                have,
            });
            after = until;
        }
        requests
    }

    /// Answers a [`SyncRequest::Documents`]: what the asker lacks of the private
    /// documents in the range whose audience includes it.
    pub(super) fn answer_documents(
        &self,
        peer: &PlatformId,
        federation: FederationId,
        listing: Listing,
    ) -> SyncResponse {
        if self.is_relay(&federation) {
            return self.relay_answer_documents(peer, federation, listing);
        }
        let Listing {
            after,
            until,
            documents,
            grants_held,
            have,
        } = listing;
        let (Some(chain), Some(asker)) = (
            self.federations.get(&federation).filter(|_| {
                self.federations
                    .is_member(&federation, peer, self.clock.timestamp())
            }),
            Some(*peer),
        ) else {
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
        let relay = self
            .federations
            .get(&federation)
            .is_some_and(|c| super::views::relays(c).any(|r| r == asker));
        let mut envelopes = Vec::new();
        let mut grants = Vec::new();
        for (id, mut ours) in self.documents.private_heads_for(federation, &asker, chain) {
            if after.is_some_and(|a| id <= a) || until.is_some_and(|u| id > u) {
                continue;
            }
            // The grants that name the asker (a relay gets them all, to forward).
            let granted: Vec<KeyGrant> = self
                .keys
                .grants_of(&id)
                .into_iter()
                .filter(|g| relay || g.recipients().any(|r| *r == asker))
                .collect();
            let their_heads = theirs.get(&id).cloned().unwrap_or_default();
            let mut sorted = their_heads.clone();
            sorted.sort();
            ours.sort();
            let fewer_grants = held
                .get(&id)
                .is_none_or(|n| usize::try_from(*n).unwrap_or(usize::MAX) < granted.len());
            if sorted == ours && !fewer_grants {
                continue;
            }
            grants.extend(granted);
            if sorted == ours {
                continue;
            }
            if let Some(doc) = self.documents.get(&id) {
                let their_have = have.get(&id).map(Vec::as_slice).unwrap_or_default();
                let room = MAX_ENVELOPES_PER_RESPONSE - envelopes.len();
                envelopes.extend(doc.envelopes_missing_from(&their_heads, their_have, room));
            }
            if envelopes.len() >= MAX_ENVELOPES_PER_RESPONSE {
                envelopes.truncate(MAX_ENVELOPES_PER_RESPONSE);
                break;
            }
        }
        // Documents the asker names but is no longer in the audience of: it missed the
        // push of its removal, and gets the changes it was sent while in the audience.
        for (id, their_heads) in &theirs {
            let room = MAX_ENVELOPES_PER_RESPONSE.saturating_sub(envelopes.len());
            if room == 0 || after.is_some_and(|a| *id <= a) || until.is_some_and(|u| *id > u) {
                continue;
            }
            let Some(doc) = self.documents.get(id).filter(|d| {
                d.federation() == federation
                    && id.kind != DocKind::Platforms
                    && !self.documents.audience_includes(id, &asker, chain)
            }) else {
                continue;
            };
            let departure = super::views::departure(doc, &asker, their_heads, chain, room);
            if !departure.is_empty() {
                grants.extend(
                    self.keys
                        .grants_of(id)
                        .into_iter()
                        .filter(|g| g.recipients().any(|r| *r == asker)),
                );
            }
            envelopes.extend(departure);
        }
        SyncResponse::Envelopes { envelopes, grants }
    }
}

/// A [`SyncRequest::Documents`] as the answerer reads it.
pub(super) struct Listing {
    /// Concerned documents come after this id.
    pub after: Option<DocId>,
    /// Concerned documents go up to this id, included.
    pub until: Option<DocId>,
    /// The requester's heads of each document.
    pub documents: Vec<(DocId, Vec<ChangeHash>)>,
    /// How many key grants the requester holds of each.
    pub grants_held: Vec<(DocId, u32)>,
    /// Other changes the requester holds, by document.
    pub have: Vec<(DocId, Vec<ChangeHash>)>,
}

impl Listing {
    /// The `have` lists by document, each cut to [`MAX_HAVE_PER_DOCUMENT`]: a requester
    /// naming more is read as if it had named that many.
    pub(super) fn have_by_document(
        have: Vec<(DocId, Vec<ChangeHash>)>,
    ) -> HashMap<DocId, Vec<ChangeHash>> {
        have.into_iter()
            .take(MAX_DOCUMENTS_PER_SYNC)
            .map(|(id, mut hashes)| {
                hashes.truncate(MAX_HAVE_PER_DOCUMENT);
                (id, hashes)
            })
            .collect()
    }
}
