//! Making this platform's own changes: built on a copy of a document under the author's
//! actor id, then sealed citing the chain's head. The document itself is not touched; the
//! caller feeds the envelope back through `Document::receive` like any other.

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{ActorId, Automerge, AutomergeError, ReadDoc};
use ed25519_dalek::SigningKey;

use crate::chain::Chain;
use crate::envelope::ChangeEnvelope;
use crate::ids::{DocId, PlatformId};

/// Whether `now_ms` is before the chain head's time: every node would refuse a change
/// dated before the record it cites.
pub(crate) fn clock_behind(chain: &Chain, now_ms: i64) -> bool {
    i128::from(now_ms) < i128::from(chain.state().issued_at.as_secs()) * 1000
}

/// Applies `edit` in one transaction on a copy of `base` and seals the resulting change.
/// `Ok(None)` if the edit changed nothing.
pub(crate) fn seal_change<E: From<AutomergeError>>(
    base: &Automerge,
    chain: &Chain,
    document: DocId,
    author_key: &SigningKey,
    now_ms: i64,
    edit: impl FnOnce(&mut Transaction<'_>) -> Result<(), E>,
) -> Result<Option<ChangeEnvelope>, E> {
    let author = PlatformId::from(author_key);
    let mut doc = base.clone();
    doc.set_actor(ActorId::from(&author.as_bytes()[..]));
    let mut tx = doc.transaction();
    edit(&mut tx)?;
    if tx.pending_ops() == 0 {
        tx.rollback();
        return Ok(None);
    }
    let (hash, _) = tx.commit_with(CommitOptions::default().with_time(now_ms));
    let change = hash.and_then(|h| doc.get_change_by_hash(&h));
    let state = chain.state();
    Ok(change.map(|change| {
        ChangeEnvelope::seal(
            author_key,
            chain.federation(),
            document,
            state.seq,
            state.head,
            &change,
        )
    }))
}
