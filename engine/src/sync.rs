//! Anti-entropy: what the engine asks connected members, and what it answers them.

use std::collections::VecDeque;

use crate::Verdict;
use fed_crdt::ids::{ChangeHash, DocId, FederationId, PlatformId};
use tracing::{debug, warn};

use super::{Engine, FetchKind, Purpose, RequestId, MAX_RECORDS_PER_RESPONSE};
use crate::protocol::{
    SyncRequest, SyncResponse, HISTORY_SAMPLES, MAX_ENVELOPES_PER_RESPONSE, MAX_GRANTS_PER_PUSH,
    MAX_HAVE_PER_DOCUMENT,
};

impl Engine {
    pub(super) fn answer(&mut self, peer: &PlatformId, request: SyncRequest) -> SyncResponse {
        match request {
            SyncRequest::Push {
                federation,
                envelopes,
                grants,
            } => self.receive_push(*peer, federation, envelopes, grants),
            SyncRequest::Documents {
                federation,
                after,
                until,
                documents,
                grants_held,
                have,
            } => self.answer_documents(
                peer,
                federation,
                super::replicate::Listing {
                    after,
                    until,
                    documents,
                    grants_held,
                    have,
                },
            ),
            SyncRequest::Digest { federation, digest } => {
                if !self
                    .federations
                    .is_member(&federation, peer, self.clock.timestamp())
                {
                    SyncResponse::Refused {
                        reason: "not a shared federation".into(),
                    }
                } else if self.private_digest_for(peer, federation, false) == digest {
                    SyncResponse::InSync
                } else {
                    SyncResponse::Differs
                }
            }
            SyncRequest::Document {
                federation,
                document,
                heads,
                mut have,
            } => {
                have.truncate(MAX_HAVE_PER_DOCUMENT);
                // A private document is named only to its audience: anyone else gets the
                // same answer as for a document that does not exist.
                let in_audience = |d: &&fed_crdt::registry::Document| {
                    let chain = self.federations.get(&federation);
                    match (chain, Some(*peer)) {
                        (Some(chain), Some(asker)) => {
                            self.documents.audience_includes(&d.id(), &asker, chain)
                        }
                        _ => false,
                    }
                };
                let doc = self
                    .documents
                    .get(&document)
                    .filter(|d| d.federation() == federation)
                    .filter(|_| {
                        self.federations
                            .is_member(&federation, peer, self.clock.timestamp())
                    })
                    .filter(in_audience);
                match doc {
                    None => SyncResponse::Refused {
                        reason: "not a shared document".into(),
                    },
                    Some(doc) => SyncResponse::Envelopes {
                        grants: Vec::new(),
                        envelopes: doc.envelopes_missing_from(
                            &heads,
                            &have,
                            MAX_ENVELOPES_PER_RESPONSE,
                        ),
                    },
                }
            }
            SyncRequest::Chain {
                federation,
                after_seq,
                head,
            } => {
                // The same answer whether we do not know the federation or the peer is
                // not in it: a non-member learns nothing. A revoked platform may still
                // fetch the chain, to learn that it was revoked.
                let Some(chain) = self.federations.get(&federation).filter(|_| {
                    self.federations
                        .may_fetch_chain(&federation, peer, self.clock.timestamp())
                }) else {
                    return SyncResponse::Refused {
                        reason: "not a shared federation".into(),
                    };
                };
                if let Some(fork) = chain.fork().filter(|f| after_seq >= f.seq) {
                    // We refused both rivals; show them, so the asker sees the fork too.
                    return SyncResponse::Chain {
                        records: vec![fork.ours.clone(), fork.theirs.clone()],
                    };
                }
                let at = usize::try_from(after_seq).unwrap_or(usize::MAX);
                // Our record at the requester's head differs: send ours from there.
                let rival = chain.records().get(at).is_some_and(|r| r.hash() != head);
                let start = if rival { at } else { at.saturating_add(1) };
                let records = chain
                    .records()
                    .iter()
                    .skip(start)
                    .take(MAX_RECORDS_PER_RESPONSE)
                    .cloned()
                    .collect();
                SyncResponse::Chain { records }
            }
        }
    }

    /// Asks `peer` for what we may lack of `federation` (its chain after our head, the
    /// registry envelopes missing from our heads, the private documents we share), one
    /// page at a time: the answer to one page feeds the documents before the next is
    /// asked.
    pub(super) fn fetch(&mut self, peer: PlatformId, federation: FederationId, kind: FetchKind) {
        let key = (peer, federation, kind);
        if self.in_flight.contains_key(&key) {
            return;
        }
        let requests = match kind {
            FetchKind::Chain => {
                let Some(chain) = self.federations.get(&federation) else {
                    return;
                };
                vec![SyncRequest::Chain {
                    federation,
                    after_seq: chain.state().seq,
                    head: chain.head(),
                }]
            }
            FetchKind::Registry => {
                let document = DocId::platforms_registry(&federation);
                let doc = self.documents.get(&document);
                vec![SyncRequest::Document {
                    federation,
                    document,
                    heads: doc.map(|d| d.heads()).unwrap_or_default(),
                    have: self.have_of(&key, &document),
                }]
            }
            FetchKind::Private => self.private_sync_requests(&peer, federation, &key),
            FetchKind::PrivateDigest => vec![SyncRequest::Digest {
                federation,
                digest: self.private_digest_for(&peer, federation, true),
            }],
        };
        let mut pages: VecDeque<SyncRequest> = requests.into();
        let Some(first) = pages.pop_front() else {
            return;
        };
        self.in_flight.insert(key, pages);
        self.send_request(peer, first, Purpose::Fetch(peer, federation, kind), false);
    }

    /// The answer to one of our requests (or its failure).
    pub(super) fn handle_response(
        &mut self,
        id: RequestId,
        response: Result<SyncResponse, String>,
    ) {
        match self.requests.remove(&id) {
            None => debug!(request = id.0, "answer to no request of ours"),
            Some(Purpose::Push(peer, federation)) => {
                self.pushes.answered(peer, federation);
                if let Err(e) = response {
                    debug!(error = %e, "push failed; anti-entropy will carry it");
                }
            }
            Some(Purpose::Fetch(peer, federation, kind)) => {
                let key = (peer, federation, kind);
                let rest = self.in_flight.remove(&key).unwrap_or_default();
                let failed = response.is_err();
                self.handle_fetched(peer, federation, kind, response);
                // The next page, unless this answer started a fetch afresh (it lists
                // from the new state) or the peer failed (the next round asks again).
                if !failed && !self.in_flight.contains_key(&key) {
                    let mut rest = rest;
                    if let Some(next) = rest.pop_front() {
                        self.in_flight.insert(key, rest);
                        self.send_request(
                            peer,
                            next,
                            Purpose::Fetch(peer, federation, kind),
                            false,
                        );
                    }
                }
            }
        }
    }

    /// What we name to a peer, beyond our heads, of `document` in the fetch `key`:
    /// samples of our history when it is longer than one answer, and what that peer's
    /// last full answers brought that we held already.
    pub(super) fn have_of(
        &self,
        key: &(PlatformId, FederationId, FetchKind),
        document: &DocId,
    ) -> Vec<ChangeHash> {
        let mut have = self
            .documents
            .get(document)
            .filter(|d| d.accepted().len() > MAX_ENVELOPES_PER_RESPONSE)
            .map(|d| d.history_samples(HISTORY_SAMPLES))
            .unwrap_or_default();
        if let Some(held) = self.page_held.get(key).and_then(|h| h.get(document)) {
            have.extend_from_slice(held);
        }
        have.truncate(MAX_HAVE_PER_DOCUMENT);
        have
    }

    /// Notes a full page of changes we held already; whether asking again could bring
    /// more (it cannot once the page names nothing new, or we name as much as a peer
    /// reads).
    fn held_from_pages(
        &mut self,
        key: (PlatformId, FederationId, FetchKind),
        page: &[(DocId, ChangeHash)],
    ) -> bool {
        let held = self.page_held.entry(key).or_default();
        let mut grew = false;
        for (document, hash) in page {
            let named = held.entry(*document).or_default();
            if named.len() < MAX_HAVE_PER_DOCUMENT - HISTORY_SAMPLES && !named.contains(hash) {
                named.push(*hash);
                grew = true;
            }
        }
        grew
    }

    fn handle_fetched(
        &mut self,
        peer: PlatformId,
        federation: FederationId,
        kind: FetchKind,
        response: Result<SyncResponse, String>,
    ) {
        match response {
            Ok(SyncResponse::Chain { records }) => {
                if records.is_empty() {
                    return;
                }
                let full = records.len() >= MAX_RECORDS_PER_RESPONSE;
                match self.federations.receive(&federation, records) {
                    Ok(outcome) => {
                        self.after_chain_change(&federation, &outcome);
                        if full && outcome.appended > 0 && outcome.refused.is_none() {
                            // More may follow: ask again from the new head.
                            self.fetch(peer, federation, FetchKind::Chain);
                        }
                    }
                    Err(e) => {
                        warn!(fed = %federation.fmt_short(), error = %e, "cannot store chain records");
                    }
                }
            }
            Ok(SyncResponse::Envelopes { envelopes, grants }) => {
                let full = envelopes.len() >= MAX_ENVELOPES_PER_RESPONSE;
                let page: Vec<(DocId, ChangeHash)> = envelopes
                    .iter()
                    .map(|e| (e.document, e.change_hash))
                    .collect();
                let mut progressed = false;
                self.receive_grants(
                    federation,
                    grants.into_iter().take(MAX_GRANTS_PER_PUSH).collect(),
                );
                for env in envelopes {
                    if env.federation != federation {
                        continue;
                    }
                    if env.document.kind == fed_crdt::ids::DocKind::Platforms {
                        progressed |= self.receive_envelope(env) == Verdict::Accept;
                    } else {
                        progressed |= !self.receive_or_await_key(peer, env);
                    }
                }
                let key = (peer, federation, kind);
                if full && progressed {
                    self.page_held.remove(&key);
                    self.fetch(peer, federation, kind);
                } else if full && self.held_from_pages(key, &page) {
                    // A full page of what we hold: the peer does not know where our
                    // histories meet. Ask again naming that page, so that it answers
                    // past it.
                    self.fetch(peer, federation, kind);
                } else {
                    self.page_held.remove(&key);
                }
            }
            Ok(SyncResponse::Received | SyncResponse::InSync) => {}
            // The peer's engine is behind; the next round asks again.
            Ok(SyncResponse::Busy) => {
                debug!(peer = %peer, fed = %federation.fmt_short(), "peer busy");
            }
            Ok(SyncResponse::Differs) => {
                self.fetch(peer, federation, FetchKind::Private);
            }
            Ok(SyncResponse::Refused { reason }) => {
                debug!(peer = %peer, fed = %federation.fmt_short(), %reason, "sync refused");
            }
            Err(e) => debug!(peer = %peer, error = %e, "sync failed"),
        }
    }

    pub(super) fn anti_entropy_all(&mut self) {
        let peers: Vec<PlatformId> = self.connected.iter().copied().collect();
        for peer in peers {
            for federation in self.federations.shared_with(&peer, self.clock.timestamp()) {
                self.fetch(peer, federation, FetchKind::Chain);
                self.fetch(peer, federation, FetchKind::Registry);
                self.fetch(peer, federation, FetchKind::PrivateDigest);
            }
        }
    }
}
