//! What nodes say to each other: the sync request-response messages, the gossip
//! announcements and the name of a federation's topic, and the size limits of each. The
//! transport (libp2p) is the node's; these are only the messages.

use fed_crdt::chain::record::Record;
use fed_crdt::envelope::ChangeEnvelope;
use fed_crdt::ids::{ChangeHash, DocId, FederationId};
use fed_crdt::seal::KeyGrant;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Largest sync request accepted, in bytes: room for a pushed change at its size limit,
/// or for the heads of [`MAX_DOCUMENTS_PER_SYNC`] documents.
pub const MAX_SYNC_REQUEST_BYTES: u64 = 1024 * 1024;
/// Most private documents listed in one [`SyncRequest::Documents`]; a platform that shares
/// more with one peer lists them in several requests, by ranges of document ids.
pub const MAX_DOCUMENTS_PER_SYNC: usize = 1024;
/// Most hashes a requester names of one document beyond its heads (`have`): samples of
/// its history and the changes of its last answers that it held already. An answerer
/// reads no more than these.
pub const MAX_HAVE_PER_DOCUMENT: usize = 1024;
/// How many samples of its history (1, 2, 4, … changes back) a requester names with its
/// heads: enough to reach back a million changes.
pub const HISTORY_SAMPLES: usize = 20;
/// Most envelopes pushed in one [`SyncRequest::Push`].
pub const MAX_ENVELOPES_PER_PUSH: usize = 8;
/// Most key grants pushed in one [`SyncRequest::Push`] (a share grants every past epoch).
pub const MAX_GRANTS_PER_PUSH: usize = 256;
/// Largest sync response accepted, in bytes; larger answers are split by the responder.
pub const MAX_SYNC_RESPONSE_BYTES: u64 = 8 * 1024 * 1024;
/// Most envelopes in one sync response (64 changes of at most 64 KiB stay under the
/// response limit).
pub const MAX_ENVELOPES_PER_RESPONSE: usize = 64;
/// Largest gossip message, in bytes: gossip carries announcements and small changes only.
pub const MAX_GOSSIP_BYTES: usize = 64 * 1024;
/// Most topics one subscription message of a remote peer may carry.
pub const MAX_REMOTE_TOPICS: usize = 1024;
/// Most federations (gossip topics) a node may join. gossipsub's default filter allows 100,
/// which would silently cap the federations a platform can belong to.
pub const MAX_FEDERATIONS: usize = 1024;

/// A request from one member to another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncRequest {
    /// "Send me the records of this federation's chain after `after_seq`."
    Chain {
        /// The federation.
        federation: FederationId,
        /// The highest seq the requester holds.
        after_seq: u64,
        /// The hash of the requester's record at `after_seq`: if the responder holds
        /// another record there, it sends it, and the requester sees the fork.
        head: fed_crdt::ids::RecordHash,
    },
    /// "Here are my heads of this document; send me the envelopes I lack."
    Document {
        /// The federation.
        federation: FederationId,
        /// The document.
        document: DocId,
        /// The requester's heads (empty if it has nothing).
        heads: Vec<ChangeHash>,
        /// Other changes the requester holds (see [`MAX_HAVE_PER_DOCUMENT`]): the
        /// answerer leaves them and their ancestors out even when it does not know the
        /// requester's heads.
        #[serde(default)]
        have: Vec<ChangeHash>,
    },
    /// "Here are my heads of the private documents whose audience, as I read them,
    /// includes you; send me what I lack of those whose audience, as you read them,
    /// includes me." Only documents after `after` and up to `until` (in document id
    /// order) are concerned, so that long lists travel in several requests. A document is
    /// only ever named to a platform of its audience.
    Documents {
        /// The federation.
        federation: FederationId,
        /// Concerned documents come after this id (`None`: from the first).
        after: Option<DocId>,
        /// Concerned documents go up to this id, included (`None`: to the last).
        until: Option<DocId>,
        /// The requester's heads of the documents it holds in that range.
        documents: Vec<(DocId, Vec<ChangeHash>)>,
        /// How many key grants the requester holds of each of those documents: the
        /// responder sends its own when it holds more (a grant refused while the
        /// requester's chain lagged, say, comes again).
        #[serde(default)]
        grants_held: Vec<(DocId, u32)>,
        /// Other changes the requester holds of those documents, as in
        /// [`SyncRequest::Document`]; only for documents with long histories.
        #[serde(default)]
        have: Vec<(DocId, Vec<ChangeHash>)>,
    },
    /// "Here is a digest of the private documents we share, as I hold them": the cheap
    /// first step of anti-entropy, a few bytes per federation whatever the number of
    /// documents. The answer is [`SyncResponse::InSync`] or [`SyncResponse::Differs`],
    /// after which the requester sends its full [`SyncRequest::Documents`] listing.
    Digest {
        /// The federation.
        federation: FederationId,
        /// See [`private_digest`].
        digest: [u8; 32],
    },
    /// "Here are new changes of documents whose audience includes you."
    Push {
        /// The federation.
        federation: FederationId,
        /// At most [`MAX_ENVELOPES_PER_PUSH`] envelopes.
        envelopes: Vec<ChangeEnvelope>,
        /// Key grants of those documents (read before the envelopes).
        #[serde(default)]
        grants: Vec<KeyGrant>,
    },
}

/// The answer to a [`SyncRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SyncResponse {
    /// Chain records in seq order (possibly fewer than exist: ask again after the last).
    Chain {
        /// The records.
        records: Vec<Record>,
    },
    /// Envelopes the requester lacks, in causal order (possibly fewer than exist: ask
    /// again with the new heads).
    Envelopes {
        /// The envelopes.
        envelopes: Vec<ChangeEnvelope>,
        /// Key grants of the private documents among them (read before the envelopes).
        #[serde(default)]
        grants: Vec<KeyGrant>,
    },
    /// The digests match: nothing to reconcile.
    InSync,
    /// The digests differ: send the full listing.
    Differs,
    /// Pushed envelopes were received (each went through every check; refusals are the
    /// receiver's business).
    Received,
    /// The responder's engine is behind on its queue and did not read the request: ask
    /// again later (the next anti-entropy round does).
    Busy,
    /// The responder will not answer (not a shared federation, over a limit, ...).
    Refused {
        /// Why, in words.
        reason: String,
    },
}

/// The digest of the private documents two platforms share, as one of them holds them:
/// SHA-256 over each document (in id order) with its sorted heads and the number of key
/// grants of it that name the platform the digest is for. Both sides compute it over the
/// documents whose audience includes the other, so equal digests mean nothing differs.
pub fn private_digest(entries: &[(DocId, Vec<ChangeHash>, u32)]) -> [u8; 32] {
    let mut sorted: Vec<&(DocId, Vec<ChangeHash>, u32)> = entries.iter().collect();
    sorted.sort_by_key(|e| e.0);
    let mut h = Sha256::new();
    h.update(b"fednet/private-digest/v1");
    for (id, heads, grants) in sorted {
        h.update(id.kind.name().as_bytes());
        h.update(id.id);
        let mut heads = heads.clone();
        heads.sort();
        h.update((heads.len() as u64).to_be_bytes());
        for head in heads {
            h.update(head.as_bytes());
        }
        h.update(grants.to_be_bytes());
    }
    h.finalize().into()
}

/// A gossip message: small announcements that tell members what to fetch. Gossip is lossy;
/// anti-entropy repairs whatever an announcement missed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Announcement {
    /// "My chain of this federation is at this record."
    ChainHead {
        /// The federation.
        federation: FederationId,
        /// The head's seq.
        seq: u64,
        /// The head's hash.
        head: fed_crdt::ids::RecordHash,
    },
    /// A new change, small enough to travel by gossip.
    Change {
        /// The signed envelope.
        envelope: Box<ChangeEnvelope>,
    },
}

impl Announcement {
    /// The federation it speaks of, which must be the one whose topic carries it.
    pub fn federation(&self) -> FederationId {
        match self {
            Announcement::ChainHead { federation, .. } => *federation,
            Announcement::Change { envelope } => envelope.federation,
        }
    }

    /// The wire form (JSON: announcements are tiny and readable in captures).
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Parses an announcement, refusing anything over [`MAX_GOSSIP_BYTES`].
    ///
    /// # Errors
    ///
    /// A message naming why the bytes are not an announcement.
    pub fn from_bytes(data: &[u8]) -> Result<Announcement, String> {
        if data.len() > MAX_GOSSIP_BYTES {
            return Err(format!("{} bytes, over {MAX_GOSSIP_BYTES}", data.len()));
        }
        serde_json::from_slice(data).map_err(|e| e.to_string())
    }
}

/// The name of a federation's gossip topic.
///
/// It is a one-way hash of the federation id, not the id itself: gossipsub announces a
/// node's subscriptions to every connected peer, and a peer that shares only another
/// federation with us must not learn this federation's id from it.
pub fn topic_name(federation: &FederationId) -> String {
    let mut h = Sha256::new();
    h.update(b"fednet/gossip-topic/v1");
    h.update(federation.as_bytes());
    format!("fednet/1/{}", hex::encode(h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_does_not_contain_the_federation_id() {
        let fed = FederationId([7; 32]);
        let topic = topic_name(&fed);
        assert!(!topic.contains(&fed.to_string()), "{topic}");
        assert!(!topic.contains(&fed.fmt_short()), "{topic}");
        assert_ne!(topic, topic_name(&FederationId([8; 32])));
    }

    #[test]
    fn the_private_digest_ignores_order_and_sees_every_difference() {
        use fed_crdt::ids::DocKind;
        let doc = |b: u8| DocId::random(DocKind::Project, [b; 16]);
        let (h1, h2) = (ChangeHash([1; 32]), ChangeHash([2; 32]));
        let base = vec![(doc(1), vec![h1, h2], 1), (doc(2), vec![h1], 0)];
        let reordered = vec![(doc(2), vec![h1], 0), (doc(1), vec![h2, h1], 1)];
        assert_eq!(private_digest(&base), private_digest(&reordered));
        let other_head = vec![(doc(1), vec![h1], 1), (doc(2), vec![h1], 0)];
        let other_grants = vec![(doc(1), vec![h1, h2], 2), (doc(2), vec![h1], 0)];
        let missing_doc = vec![(doc(1), vec![h1, h2], 1)];
        for other in [other_head, other_grants, missing_doc] {
            assert_ne!(private_digest(&base), private_digest(&other));
        }
        // A few bytes per federation, whatever the number of documents.
        let request = SyncRequest::Digest {
            federation: FederationId([3; 32]),
            digest: private_digest(&base),
        };
        let bytes = serde_json::to_vec(&request).unwrap_or_default();
        assert!(bytes.len() < 512, "{} bytes", bytes.len());
    }

    #[test]
    fn announcements_over_the_gossip_limit_are_refused() {
        let big = vec![b' '; MAX_GOSSIP_BYTES + 1];
        let err = Announcement::from_bytes(&big).unwrap_err();
        assert!(err.contains("over"), "{err}");
        let a = Announcement::ChainHead {
            federation: FederationId([1; 32]),
            seq: 3,
            head: fed_crdt::ids::RecordHash([2; 32]),
        };
        assert_eq!(Announcement::from_bytes(&a.to_bytes()), Ok(a));
        assert!(Announcement::from_bytes(b"{\"ChainHead\": 1}").is_err());
    }
}
