//! Sealing and opening one envelope's payload under a document epoch's key.
//!
//! A sealed payload is `SEALED_MAGIC` (4 bytes) ‖ epoch (u32, big-endian) ‖ nonce (24
//! bytes) ‖ XChaCha20-Poly1305 ciphertext and tag. The epoch is in the clear so that a
//! node knows which key to use before it tries any; it is also in the associated data,
//! so changing it makes the payload fail to open rather than open under another epoch.
//!
//! The associated data are the envelope's identifying fields: a ciphertext copied into
//! another envelope (another change, document, author or citation) does not open, so
//! nobody can pass a genuine change's content off as their own or as another change.
//! XChaCha20's 24-byte nonces can be drawn at random without any fear of a collision.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use ed25519_dalek::SigningKey;

use super::EpochKey;
use crate::canon::CanonWriter;
use crate::envelope::ChangeEnvelope;
use crate::error::SealError;
use crate::limits::MAX_SEALED_OVERHEAD;

/// The first bytes of every sealed payload (`FNS1`: fednet sealed, version 1). An
/// Automerge change starts with its own magic bytes, so the two never look alike.
pub const SEALED_MAGIC: [u8; 4] = *b"FNS1";

/// Domain tag of a sealed payload's associated data.
const PAYLOAD_DOMAIN: &str = "fednet/sealed-payload/v1";

/// Length of the header before the ciphertext: magic, epoch, nonce.
const HEADER_LEN: usize = 4 + 4 + 24;

/// Whether `payload` is sealed (starts with [`SEALED_MAGIC`]); it may still be malformed.
pub fn is_sealed(payload: &[u8]) -> bool {
    payload.starts_with(&SEALED_MAGIC)
}

/// The epoch a sealed payload names, or `None` if the payload is not sealed or too short
/// to name one.
pub fn sealed_epoch(payload: &[u8]) -> Option<u32> {
    if !is_sealed(payload) {
        return None;
    }
    let bytes: [u8; 4] = payload.get(4..8)?.try_into().ok()?;
    Some(u32::from_be_bytes(bytes))
}

/// The associated data of a payload sealed in `env` under `epoch`: every field that
/// identifies the change and its author, in canonical form.
fn associated_data(env: &ChangeEnvelope, epoch: u32) -> Vec<u8> {
    let mut w = CanonWriter::with_domain(PAYLOAD_DOMAIN);
    w.bytes(env.federation.as_bytes())
        .str(env.document.kind.name())
        .bytes(&env.document.id)
        .u64(env.cited_seq)
        .bytes(env.cited_record.as_bytes())
        .bytes(env.author.as_bytes())
        .bytes(env.change_hash.as_bytes())
        .list(&env.deps, |w, d| {
            w.bytes(d.as_bytes());
        })
        .u32(epoch);
    w.finish()
}

/// Replaces `env.payload` (the plaintext Automerge change) by its sealed form under
/// `key` for `epoch`, with `nonce` (24 random bytes from the caller), then signs the
/// envelope again with `author_key`.
///
/// The signature covers the sealed payload, so relays check it without any key. The
/// envelope's other fields must be final: they are the associated data.
///
/// # Panics
///
/// If the payload is over 256 GiB, the most XChaCha20-Poly1305 seals in one message
/// (a payload that no envelope carries: see [`crate::limits::MAX_CHANGE_BYTES`]).
pub fn seal_envelope(
    mut env: ChangeEnvelope,
    author_key: &SigningKey,
    key: &EpochKey,
    epoch: u32,
    nonce: [u8; 24],
) -> ChangeEnvelope {
    let aad = associated_data(&env, epoch);
    let cipher = XChaCha20Poly1305::new(&key.0.into());
    let ciphertext = cipher
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &env.payload,
                aad: &aad,
            },
        )
        .expect("a payload held in memory is under the AEAD's 256 GiB limit");
    let mut sealed = Vec::with_capacity(HEADER_LEN + ciphertext.len());
    sealed.extend_from_slice(&SEALED_MAGIC);
    sealed.extend_from_slice(&epoch.to_be_bytes());
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(&ciphertext);
    env.payload = sealed;
    env.sign(author_key);
    env
}

/// The plaintext payload of a sealed envelope, checked against the envelope's
/// identifying fields.
///
/// # Errors
///
/// [`SealError::Malformed`] if the payload is not sealed or too short to hold a header
/// and a tag; [`SealError::Decrypt`] if it does not open: a tampered ciphertext, nonce or
/// epoch, a payload moved from another envelope, or a wrong key all look the same, so
/// that the error tells an attacker nothing.
pub fn open_payload(env: &ChangeEnvelope, key: &EpochKey) -> Result<Vec<u8>, SealError> {
    let payload = &env.payload;
    if !is_sealed(payload) {
        return Err(SealError::Malformed(format!(
            "the payload does not start with the sealed magic bytes {:?}",
            String::from_utf8_lossy(&SEALED_MAGIC)
        )));
    }
    if payload.len() < MAX_SEALED_OVERHEAD {
        return Err(SealError::Malformed(format!(
            "the sealed payload is {} bytes, shorter than its {MAX_SEALED_OVERHEAD}-byte header and tag",
            payload.len()
        )));
    }
    let epoch = sealed_epoch(payload)
        .ok_or_else(|| SealError::Malformed("the sealed header is truncated".into()))?;
    let (nonce, ciphertext) = payload[8..].split_at(HEADER_LEN - 8);
    let aad = associated_data(env, epoch);
    let cipher = XChaCha20Poly1305::new(&key.0.into());
    cipher
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: ciphertext,
                aad: &aad,
            },
        )
        .map_err(|_| SealError::Decrypt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_overhead_is_the_header_and_the_tag() {
        assert_eq!(MAX_SEALED_OVERHEAD, HEADER_LEN + 16);
    }

    #[test]
    fn epochs_are_read_from_sealed_payloads_only() {
        let mut payload = SEALED_MAGIC.to_vec();
        assert_eq!(sealed_epoch(&payload), None);
        payload.extend_from_slice(&7u32.to_be_bytes());
        assert_eq!(sealed_epoch(&payload), Some(7));
        payload[0] = b'X';
        assert_eq!(sealed_epoch(&payload), None);
        assert!(!is_sealed(&payload));
    }
}
