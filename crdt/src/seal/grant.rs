//! Key grants: how an epoch's key reaches each recipient platform, and nobody else.
//!
//! The author of a grant wraps the epoch key with HPKE (RFC 9180, base mode,
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305) once per recipient, to the
//! encryption key on the recipient's identity card in the chain, and signs the whole
//! grant. The chain is the only source of encryption keys: a grant that wraps a key for
//! any other X25519 key (one an attacker slipped in to read along) is refused, and relays,
//! which hold no key by design, are never recipients.
//!
//! Each slot's HPKE info names the federation, the document, the epoch and the recipient,
//! so a slot copied into another platform's place, another document or another epoch
//! does not open.

use std::collections::BTreeSet;

use ed25519_dalek::{Signer, SigningKey};
use hpke::aead::ChaCha20Poly1305;
use hpke::kdf::HkdfSha256;
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, OpModeR, OpModeS, Serializable};
use serde::{Deserialize, Serialize};

use super::EpochKey;
use crate::canon::CanonWriter;
use crate::chain::body::Role;
use crate::chain::state::MemberStatus;
use crate::chain::Chain;
use crate::error::SealError;
use crate::ids::{ChangeHash, DocId, EncryptionKey, FederationId, PlatformId, Signature};
use crate::limits::MAX_GRANT_RECIPIENTS;

/// Domain tag of the HPKE info of one wrapped key.
const EPOCH_KEY_DOMAIN: &str = "fednet/epoch-key/v1";
/// Domain tag of the bytes a grant's author signs.
const GRANT_DOMAIN: &str = "fednet/key-grant/v1";
/// Length of an X25519 encapsulated key.
const ENCAPSULATED_LEN: usize = 32;
/// Length of a wrapped epoch key: the 32-byte key and the 16-byte tag.
const WRAPPED_LEN: usize = 32 + 16;

/// The epoch key of one document epoch, wrapped for each recipient platform and signed
/// by its author.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyGrant {
    /// The federation of the document.
    pub federation: FederationId,
    /// The document whose epoch key this is.
    pub document: DocId,
    /// The epoch: sealed payloads name it in their header.
    pub epoch: u32,
    /// The change whose arrival starts this epoch (an unshare, say), if any: changes that
    /// depend on it must be sealed under this epoch or a later one.
    pub started_by: Option<ChangeHash>,
    /// The platform that drew the key and signed the grant.
    pub author: PlatformId,
    /// One slot per recipient platform.
    pub wrapped: Vec<WrappedKey>,
    /// The author's ed25519 signature over [`KeyGrant::signing_bytes`].
    pub signature: Signature,
}

/// The epoch key wrapped for one recipient platform.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WrappedKey {
    /// The recipient.
    pub platform: PlatformId,
    /// The recipient's encryption key the epoch key was wrapped for (must be the one the
    /// chain holds for it).
    pub encryption_key: EncryptionKey,
    /// The HPKE encapsulated key (32 bytes), as lower-case hex.
    #[serde(with = "hex_bytes")]
    pub encapsulated: Vec<u8>,
    /// The wrapped epoch key (32-byte key and 16-byte tag), as lower-case hex.
    #[serde(with = "hex_bytes")]
    pub ciphertext: Vec<u8>,
}

/// The HPKE info of the slot of `platform`: binds the wrapped key to its place.
fn slot_info(
    federation: &FederationId,
    document: &DocId,
    epoch: u32,
    platform: &PlatformId,
) -> Vec<u8> {
    let mut w = CanonWriter::with_domain(EPOCH_KEY_DOMAIN);
    w.bytes(federation.as_bytes())
        .str(document.kind.name())
        .bytes(&document.id)
        .u32(epoch)
        .bytes(platform.as_bytes());
    w.finish()
}

impl KeyGrant {
    /// Wraps `key` for every `(platform, encryption key)` in `recipients` and signs the
    /// grant with `author_key`. The ephemeral HPKE keys are drawn from `rng`.
    ///
    /// # Errors
    ///
    /// [`SealError::TooManyRecipients`] or [`SealError::DuplicateRecipient`] for a list
    /// that [`KeyGrant::check`] would refuse; [`SealError::Hpke`] for an encryption key
    /// that X25519 refuses (a low-order point).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        author_key: &SigningKey,
        federation: FederationId,
        document: DocId,
        epoch: u32,
        started_by: Option<ChangeHash>,
        key: &EpochKey,
        recipients: &[(PlatformId, EncryptionKey)],
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<KeyGrant, SealError> {
        check_count(recipients.len())?;
        check_distinct(recipients.iter().map(|(p, _)| p))?;
        let mut wrapped = Vec::with_capacity(recipients.len());
        for (platform, encryption_key) in recipients {
            let hpke_error =
                |e: hpke::HpkeError| SealError::Hpke(format!("wrapping for {platform}: {e}"));
            let public = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(&encryption_key.0)
                .map_err(hpke_error)?;
            let info = slot_info(&federation, &document, epoch, platform);
            let (encapsulated, ciphertext) = hpke::single_shot_seal::<
                ChaCha20Poly1305,
                HkdfSha256,
                X25519HkdfSha256,
                _,
            >(
                &OpModeS::Base, &public, &info, &key.0, &[], rng
            )
            .map_err(hpke_error)?;
            wrapped.push(WrappedKey {
                platform: *platform,
                encryption_key: *encryption_key,
                encapsulated: encapsulated.to_bytes().to_vec(),
                ciphertext,
            });
        }
        let mut grant = KeyGrant {
            federation,
            document,
            epoch,
            started_by,
            author: PlatformId::from(author_key),
            wrapped,
            signature: Signature([0; 64]),
        };
        grant.sign(author_key);
        Ok(grant)
    }

    /// Replaces the signature with `key`'s signature over the current fields.
    pub fn sign(&mut self, key: &SigningKey) {
        self.signature = Signature(key.sign(&self.signing_bytes()).to_bytes());
    }

    /// The bytes the author signs: a domain tag, then every field but the signature.
    pub fn signing_bytes(&self) -> Vec<u8> {
        let mut w = CanonWriter::with_domain(GRANT_DOMAIN);
        w.bytes(self.federation.as_bytes())
            .str(self.document.kind.name())
            .bytes(&self.document.id)
            .u32(self.epoch)
            .opt(self.started_by.as_ref(), |w, h| {
                w.bytes(h.as_bytes());
            })
            .bytes(self.author.as_bytes())
            .list(&self.wrapped, |w, slot| {
                w.bytes(slot.platform.as_bytes())
                    .bytes(slot.encryption_key.as_bytes())
                    .bytes(&slot.encapsulated)
                    .bytes(&slot.ciphertext);
            });
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

    /// Checks the grant against the chain, cheapest first: sizes, signature, then the
    /// author and every recipient against the chain's head.
    ///
    /// The author must be an active platform member. Every recipient must be one too,
    /// listed once, with exactly the encryption key its identity card in the chain
    /// carries: a key substituted on the way would let its holder read the document.
    /// Relays never receive keys, so a relay recipient is refused.
    ///
    /// # Errors
    ///
    /// The first problem found.
    pub fn check(&self, chain: &Chain) -> Result<(), SealError> {
        check_count(self.wrapped.len())?;
        for slot in &self.wrapped {
            check_slot_lengths(slot)?;
        }
        if !self.signature_valid() {
            return Err(SealError::Signature);
        }
        check_member(chain, &self.author)?;
        check_distinct(self.recipients())?;
        let state = chain.state();
        for slot in &self.wrapped {
            check_member(chain, &slot.platform)?;
            let on_card = state
                .members
                .get(&slot.platform)
                .map(|m| m.card.encryption_key);
            if on_card != Some(slot.encryption_key) {
                return Err(SealError::KeySubstituted {
                    platform: slot.platform,
                });
            }
        }
        Ok(())
    }

    /// The epoch key, unwrapped with the X25519 secret key (32 bytes) of `me`.
    ///
    /// # Errors
    ///
    /// [`SealError::NotForMe`] if the grant has no slot for `me`; [`SealError::Unwrap`]
    /// if the slot does not open: wrapped for another key, moved from another slot or
    /// grant, or tampered with.
    pub fn unwrap(&self, me: &PlatformId, my_secret: &[u8; 32]) -> Result<EpochKey, SealError> {
        let slot = self
            .wrapped
            .iter()
            .find(|s| &s.platform == me)
            .ok_or(SealError::NotForMe { platform: *me })?;
        let failed = |_| SealError::Unwrap { platform: *me };
        let secret = <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(my_secret)
            .map_err(|e| SealError::Hpke(e.to_string()))?;
        let encapsulated = <X25519HkdfSha256 as Kem>::EncappedKey::from_bytes(&slot.encapsulated)
            .map_err(failed)?;
        let info = slot_info(&self.federation, &self.document, self.epoch, me);
        let key = hpke::single_shot_open::<ChaCha20Poly1305, HkdfSha256, X25519HkdfSha256>(
            &OpModeR::Base,
            &secret,
            &encapsulated,
            &info,
            &slot.ciphertext,
            &[],
        )
        .map_err(failed)?;
        let key: [u8; 32] = key
            .as_slice()
            .try_into()
            .map_err(|_| SealError::Unwrap { platform: *me })?;
        Ok(EpochKey(key))
    }

    /// The recipient platforms, in the grant's order.
    pub fn recipients(&self) -> impl Iterator<Item = &PlatformId> {
        self.wrapped.iter().map(|w| &w.platform)
    }
}

/// Refuses more recipients than [`MAX_GRANT_RECIPIENTS`].
fn check_count(count: usize) -> Result<(), SealError> {
    if count > MAX_GRANT_RECIPIENTS {
        return Err(SealError::TooManyRecipients {
            count,
            max: MAX_GRANT_RECIPIENTS,
        });
    }
    Ok(())
}

/// Refuses a platform listed twice.
fn check_distinct<'a>(platforms: impl Iterator<Item = &'a PlatformId>) -> Result<(), SealError> {
    let mut seen = BTreeSet::new();
    for platform in platforms {
        if !seen.insert(platform) {
            return Err(SealError::DuplicateRecipient {
                platform: *platform,
            });
        }
    }
    Ok(())
}

/// Refuses a slot whose encapsulated key or wrapped key has the wrong length.
fn check_slot_lengths(slot: &WrappedKey) -> Result<(), SealError> {
    for (what, found, expected) in [
        (
            "encapsulated key",
            slot.encapsulated.len(),
            ENCAPSULATED_LEN,
        ),
        ("wrapped key", slot.ciphertext.len(), WRAPPED_LEN),
    ] {
        if found != expected {
            return Err(SealError::Malformed(format!(
                "the {what} for {} is {found} bytes, expected {expected}",
                slot.platform
            )));
        }
    }
    Ok(())
}

/// Refuses a platform that is not an active platform member at the chain's head.
fn check_member(chain: &Chain, platform: &PlatformId) -> Result<(), SealError> {
    let state = chain.state();
    let not_member = |reason: &str| SealError::NotMember {
        platform: *platform,
        reason: reason.to_string(),
    };
    let Some(member) = state.members.get(platform) else {
        return Err(not_member("is not in this federation"));
    };
    if member.role == Role::Relay {
        return Err(not_member(
            "is a relay, which stores ciphertext and never holds a key",
        ));
    }
    match member.status(state.issued_at) {
        MemberStatus::Active => Ok(()),
        status => Err(not_member(&format!(
            "is {} at the chain's head (seq {})",
            status.name(),
            state.seq
        ))),
    }
}

/// Serde for key material: lower-case hex, one spelling per value like the ids.
mod hex_bytes {
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `bytes` as lower-case hex.
    pub(super) fn serialize<S: Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(bytes))
    }

    /// Reads lower-case hex, refusing any other spelling.
    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(d)?;
        if text.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(serde::de::Error::custom(
                "expected lower-case hex, found upper-case letters",
            ));
        }
        hex::decode(&text)
            .map_err(|e| serde::de::Error::custom(format!("expected lower-case hex: {e}")))
    }
}
