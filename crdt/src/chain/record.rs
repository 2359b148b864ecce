//! One signed membership record: its fields, canonical bytes, hash and signatures.

use ed25519_dalek::{Signer, SigningKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::canon::CanonWriter;
use crate::chain::body::RecordBody;
use crate::error::RecordError;
use crate::ids::{AdminKey, FederationId, RecordHash, Signature};
use crate::timestamp::Timestamp;

const RECORD_DOMAIN: &str = "fednet/membership-record/v1";

/// One administrator's signature over a record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSignature {
    /// The administrator's public key.
    pub admin: AdminKey,
    /// Its signature over the record's canonical bytes.
    pub signature: Signature,
}

/// A membership record. Every field but `signatures` is covered by the signatures and
/// by the record's hash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The federation; absent only in the genesis record, whose hash *is* the federation id.
    pub federation: Option<FederationId>,
    /// Position in the chain, 0 for genesis.
    pub seq: u64,
    /// Hash of the previous record; absent only in genesis.
    pub prev: Option<RecordHash>,
    /// When the administrator made the record.
    pub issued_at: Timestamp,
    /// The administrator who made it.
    pub issuer: AdminKey,
    /// What it does.
    pub body: RecordBody,
    /// Administrators' signatures (the issuer's and, with k-of-n, co-signers').
    pub signatures: Vec<AdminSignature>,
}

impl Record {
    /// The bytes that administrators sign: a domain tag and every field but the signatures.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut w = CanonWriter::with_domain(RECORD_DOMAIN);
        w.opt(self.federation.as_ref(), |w, f| {
            w.bytes(f.as_bytes());
        })
        .u64(self.seq)
        .opt(self.prev.as_ref(), |w, p| {
            w.bytes(p.as_bytes());
        })
        .u64(self.issued_at.as_secs())
        .bytes(self.issuer.as_bytes());
        self.body.encode(&mut w);
        w.finish()
    }

    /// The record's hash. Signatures are not part of it, so co-signing does not change it.
    pub fn hash(&self) -> RecordHash {
        RecordHash(Sha256::digest(self.signing_bytes()).into())
    }

    /// The id of the federation this record founds, if it is a genesis record.
    pub fn genesis_federation_id(&self) -> FederationId {
        FederationId(self.hash().0)
    }

    /// Adds `key`'s signature.
    ///
    /// # Errors
    ///
    /// [`RecordError::DuplicateSigner`] if that key has signed already.
    pub fn sign(&mut self, key: &SigningKey) -> Result<(), RecordError> {
        let admin = AdminKey::from(key);
        if self.signatures.iter().any(|s| s.admin == admin) {
            return Err(RecordError::DuplicateSigner { admin });
        }
        let signature = Signature(key.sign(&self.signing_bytes()).to_bytes());
        self.signatures.push(AdminSignature { admin, signature });
        Ok(())
    }

    /// Whether `admin`'s signature is present and valid (strict ed25519 verification).
    pub(crate) fn signature_valid(&self, sig: &AdminSignature, bytes: &[u8]) -> bool {
        let Ok(key) = sig.admin.verifying_key() else {
            return false;
        };
        let signature = ed25519_dalek::Signature::from_bytes(&sig.signature.0);
        key.verify_strict(bytes, &signature).is_ok()
    }
}
