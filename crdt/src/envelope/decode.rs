//! Check 6: the payload is one uncompressed Automerge change, and it is the change the
//! envelope names (hash, dependencies) by the envelope's author (actor id).

use automerge::Change;

use crate::envelope::{ChangeEnvelope, Refusal, RefusalCheck};
use crate::ids::ChangeHash;

/// Check 6: the payload decodes as one uncompressed change bound to the envelope.
pub(crate) fn decode(env: &ChangeEnvelope) -> Result<Change, Refusal> {
    decode_bytes(env, &env.payload)
}

/// Check 6 on `payload` (the envelope's own, or the plaintext of its sealed payload).
pub(crate) fn decode_bytes(env: &ChangeEnvelope, payload: &[u8]) -> Result<Change, Refusal> {
    // Chunk header: 4 magic bytes, 4 checksum bytes, then the chunk type (2 = compressed).
    if payload.get(8) == Some(&2) {
        return Err(env.refusal(
            RefusalCheck::Decode,
            "payload is a compressed change; only uncompressed changes are accepted",
        ));
    }
    let change = Change::try_from(payload).map_err(|e| {
        env.refusal(
            RefusalCheck::Decode,
            format!("payload is not an Automerge change: {e}"),
        )
    })?;
    let hash = ChangeHash::from(change.hash());
    if hash != env.change_hash {
        return Err(env.refusal(
            RefusalCheck::HashMismatch,
            format!(
                "payload is change {hash}, the envelope says {}",
                env.change_hash
            ),
        ));
    }
    let deps: Vec<ChangeHash> = change.deps().iter().map(|d| ChangeHash::from(*d)).collect();
    if deps != env.deps {
        return Err(env.refusal(
            RefusalCheck::DepsMismatch,
            format!(
                "payload depends on [{}], the envelope says [{}]",
                short_list(&deps),
                short_list(&env.deps)
            ),
        ));
    }
    let actor = change.actor_id().to_bytes();
    if actor != env.author.as_bytes() {
        return Err(env.refusal(
            RefusalCheck::ActorBinding,
            format!(
                "change actor id {} is not the key of its author {}",
                hex::encode(actor.iter().take(40).copied().collect::<Vec<u8>>()),
                env.author
            ),
        ));
    }
    if change.author().is_some() {
        return Err(env.refusal(
            RefusalCheck::ActorBinding,
            "change carries an Automerge author footer; the author is the envelope's signer",
        ));
    }
    Ok(change)
}

fn short_list(hashes: &[ChangeHash]) -> String {
    hashes
        .iter()
        .map(ChangeHash::fmt_short)
        .collect::<Vec<_>>()
        .join(", ")
}
