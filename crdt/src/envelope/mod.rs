//! Signed change envelopes: how every write to a registry travels and is checked.
//!
//! An Automerge change is never accepted on its own. Its author wraps it in a
//! [`ChangeEnvelope`] that names the federation, the document, the membership record the
//! author relies on, and the change's hash and dependencies, and signs all of it
//! ([`ChangeEnvelope::seal`]). Every node runs [`check_envelope`] on every envelope
//! before the change can touch a document; relays, which cannot decrypt payloads, check
//! the envelope only.
//!
//! - [`check`]: the ordered checks (sizes, signature, citation, membership, revocation
//!   frontier, decoding and actor binding), cheapest first.
//! - [`frontier`]: what the revocation-frontier check needs to know of a document's
//!   history.
//! - [`refusal`]: what a refused envelope is recorded as, and which check refused it.
//!
//! The payload is the change's uncompressed Automerge encoding
//! ([`automerge::Change::raw_bytes`]): a compressed chunk could inflate far beyond
//! [`MAX_CHANGE_BYTES`](crate::limits::MAX_CHANGE_BYTES), which is checked before
//! anything is decoded, so compressed chunks are refused.

mod bytes;
pub mod check;
mod decode;
pub mod frontier;
pub mod refusal;

use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::canon::CanonWriter;
use crate::ids::{ChangeHash, DocId, FederationId, PlatformId, RecordHash, Signature};

pub use check::{check_envelope, check_relayed, Rejection, Wait};
pub use frontier::{FrontierHistory, FrontierStatus, NoHistory};
pub use refusal::{Refusal, RefusalCheck};

/// Domain tag of the bytes an author signs, so that an envelope signature can never pass
/// for a record or card signature made with the same key.
const ENVELOPE_DOMAIN: &str = "fednet/change-envelope/v1";

/// One Automerge change, signed by its author, with what every node needs to check it.
///
/// Serialized with serde (CBOR on the wire); `payload` is written as a byte string, so
/// CBOR carries it compactly. `change_hash` and `deps` are in the clear so that relays and
/// anti-entropy can follow a document's history without decrypting anything.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeEnvelope {
    /// The federation the document belongs to.
    pub federation: FederationId,
    /// The document the change is for.
    pub document: DocId,
    /// The seq of the membership record the author relies on...
    pub cited_seq: u64,
    /// ...and its hash, so that a forked chain cannot be cited by seq alone.
    pub cited_record: RecordHash,
    /// The platform that made and signed the change.
    pub author: PlatformId,
    /// The Automerge hash of the change in `payload`.
    pub change_hash: ChangeHash,
    /// Its Automerge dependencies, in the change's own order.
    pub deps: Vec<ChangeHash>,
    /// The encoded Automerge change.
    #[serde(with = "bytes")]
    pub payload: Vec<u8>,
    /// The author's ed25519 signature over [`ChangeEnvelope::signing_bytes`].
    pub signature: Signature,
}

impl ChangeEnvelope {
    /// Wraps `change` in an envelope and signs it with the author's key.
    ///
    /// The author is the platform of `author_key`; the change's actor id must be that
    /// key's 32 public bytes, or every node will refuse it.
    pub fn seal(
        author_key: &SigningKey,
        federation: FederationId,
        document: DocId,
        cited_seq: u64,
        cited_record: RecordHash,
        change: &automerge::Change,
    ) -> ChangeEnvelope {
        let mut envelope = ChangeEnvelope {
            federation,
            document,
            cited_seq,
            cited_record,
            author: PlatformId::from(author_key),
            change_hash: change.hash().into(),
            deps: change.deps().iter().map(|h| ChangeHash::from(*h)).collect(),
            payload: change.raw_bytes().to_vec(),
            signature: Signature([0; 64]),
        };
        envelope.sign(author_key);
        envelope
    }

    /// Replaces the signature with `key`'s signature over the current fields.
    pub fn sign(&mut self, key: &SigningKey) {
        self.signature = Signature(key.sign(&self.signing_bytes()).to_bytes());
    }

    /// The bytes the author signs: a domain tag, then every field but the signature, the
    /// payload as its SHA-256.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let payload_hash: [u8; 32] = Sha256::digest(&self.payload).into();
        let mut w = CanonWriter::with_domain(ENVELOPE_DOMAIN);
        w.bytes(self.federation.as_bytes())
            .str(self.document.kind.name())
            .bytes(&self.document.id)
            .u64(self.cited_seq)
            .bytes(self.cited_record.as_bytes())
            .bytes(self.author.as_bytes())
            .bytes(self.change_hash.as_bytes())
            .list(&self.deps, |w, d| {
                w.bytes(d.as_bytes());
            })
            .bytes(&payload_hash);
        w.finish()
    }

    /// Whether the signature is the author's over these exact fields (strict ed25519
    /// verification: no malleable or small-order signatures).
    pub fn signature_valid(&self) -> bool {
        let Ok(key) = self.author.verifying_key() else {
            return false;
        };
        let signature = ed25519_dalek::Signature::from_bytes(&self.signature.0);
        key.verify_strict(&self.signing_bytes(), &signature).is_ok()
    }

    /// A refusal of this envelope by `check`, for `reason`.
    pub fn refusal(&self, check: RefusalCheck, reason: impl Into<String>) -> Refusal {
        Refusal {
            federation: self.federation,
            document: self.document,
            change_hash: self.change_hash,
            author: self.author,
            check,
            reason: reason.into(),
        }
    }

    /// Check 6 alone: decodes the payload and checks that it is the change the envelope
    /// names (hash, dependencies) by the envelope's author (actor id).
    ///
    /// # Errors
    ///
    /// A [`Refusal`] by [`RefusalCheck::Decode`], [`RefusalCheck::HashMismatch`],
    /// [`RefusalCheck::DepsMismatch`] or [`RefusalCheck::ActorBinding`].
    pub fn decode(&self) -> Result<automerge::Change, Refusal> {
        decode::decode(self)
    }

    /// The change's hash as Automerge spells it.
    pub fn automerge_hash(&self) -> automerge::ChangeHash {
        self.change_hash.into()
    }

    /// The dependencies as Automerge spells them.
    pub fn automerge_deps(&self) -> Vec<automerge::ChangeHash> {
        self.deps.iter().map(|d| (*d).into()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::{CommitOptions, Transactable};
    use automerge::{ActorId, Automerge, ReadDoc, ROOT};

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn change(author: &SigningKey) -> automerge::Change {
        let mut doc = Automerge::new();
        doc.set_actor(ActorId::from(&author.verifying_key().to_bytes()[..]));
        let mut tx = doc.transaction();
        tx.put(ROOT, "k", "v").unwrap();
        let (hash, _) = tx.commit_with(CommitOptions::default().with_time(5));
        doc.get_change_by_hash(&hash.unwrap()).unwrap()
    }

    fn sealed() -> ChangeEnvelope {
        let author = key(1);
        ChangeEnvelope::seal(
            &author,
            FederationId([2; 32]),
            DocId::platforms_registry(&FederationId([2; 32])),
            3,
            RecordHash([4; 32]),
            &change(&author),
        )
    }

    #[test]
    fn a_sealed_envelope_verifies() {
        let env = sealed();
        assert!(env.signature_valid());
        assert_eq!(env.author, PlatformId::from(&key(1)));
    }

    #[test]
    fn every_signed_field_is_covered() {
        let env = sealed();
        type Edit = Box<dyn Fn(&mut ChangeEnvelope)>;
        let edits: Vec<Edit> = vec![
            Box::new(|e| e.federation = FederationId([9; 32])),
            Box::new(|e| e.document.id[0] ^= 1),
            Box::new(|e| e.document.kind = crate::ids::DocKind::Project),
            Box::new(|e| e.cited_seq += 1),
            Box::new(|e| e.cited_record = RecordHash([9; 32])),
            Box::new(|e| e.author = PlatformId::from(&key(7))),
            Box::new(|e| e.change_hash = ChangeHash([9; 32])),
            Box::new(|e| e.deps.push(ChangeHash([9; 32]))),
            Box::new(|e| e.payload.push(0)),
            Box::new(|e| e.signature.0[0] ^= 1),
        ];
        for (i, edit) in edits.iter().enumerate() {
            let mut copy = env.clone();
            edit(&mut copy);
            assert!(!copy.signature_valid(), "edit #{i} went unnoticed");
        }
    }

    #[test]
    fn signing_bytes_start_with_the_domain_tag() {
        let bytes = sealed().signing_bytes();
        let tag = ENVELOPE_DOMAIN.as_bytes();
        assert_eq!(&bytes[8..8 + tag.len()], tag);
    }

    #[test]
    fn serde_round_trip_keeps_the_payload_compact() {
        let env = sealed();
        let json = serde_json::to_string(&env).unwrap();
        let back: ChangeEnvelope = serde_json::from_str(&json).unwrap();
        assert_eq!(back, env);
        assert!(back.signature_valid());
        let mut value: serde_json::Value = serde_json::from_str(&json).unwrap();
        value["extra"] = serde_json::json!(1);
        assert!(serde_json::from_value::<ChangeEnvelope>(value).is_err());
    }
}
