//! Making this platform's own changes: built on a copy of a document under the author's
//! actor id, then sealed citing the chain's head. The document itself is not touched; the
//! caller checks the [`OwnChange`] with `Document::check_own` and then feeds its envelope
//! through `Document::receive` like any other.

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{ActorId, Automerge, AutomergeError, ReadDoc};
use ed25519_dalek::SigningKey;

use crate::chain::Chain;
use crate::envelope::ChangeEnvelope;
use crate::error::{ExportError, ProfileError, ProjectError};
use crate::ids::{DocId, PlatformId};
use crate::Timestamp;

/// Whether `now_ms` is before the chain head's time: every node would refuse a change
/// dated before the record it cites.
fn clock_behind(chain: &Chain, now_ms: i64) -> bool {
    i128::from(now_ms) < i128::from(chain.state().issued_at.as_secs()) * 1000
}

/// The error a writer returns when the local clock is behind the chain's head.
pub(crate) trait ClockBehind {
    /// The clock said `now_ms`, before the head record `seq` issued at `issued_at`.
    fn clock_behind(now_ms: i64, seq: u64, issued_at: Timestamp) -> Self;
}

macro_rules! clock_behind_error {
    ($($error:ident),*) => {$(
        impl ClockBehind for $error {
            fn clock_behind(now_ms: i64, seq: u64, issued_at: Timestamp) -> Self {
                $error::ClockBehind { now_ms, seq, issued_at }
            }
        }
    )*};
}

clock_behind_error!(ProfileError, ProjectError, ExportError);

/// One of this platform's own changes: its signed envelope, and the copy of the document
/// it was made on with the change in it.
///
/// The copy is what spares the writer's node a second application: applying a change
/// costs Automerge a walk of the edited object's whole history (every value a key ever
/// had), while the transaction that made it did not. `Document::check_own` runs the
/// rules on the copy and, when the change is accepted, the copy becomes the document.
#[derive(Clone, Debug)]
pub struct OwnChange {
    envelope: ChangeEnvelope,
    made: Option<Box<Made>>,
}

/// The document a change was made on, with it.
#[derive(Clone, Debug)]
pub(crate) struct Made {
    /// The heads of the document the change was made on: its dependencies.
    pub(crate) base: Vec<automerge::ChangeHash>,
    /// That document with the change applied.
    pub(crate) after: Automerge,
    /// The change itself, as the envelope carries it.
    pub(crate) change: automerge::Change,
}

impl OwnChange {
    /// The signed envelope.
    pub fn envelope(&self) -> &ChangeEnvelope {
        &self.envelope
    }

    /// The signed envelope, for sending or storing.
    pub fn into_envelope(self) -> ChangeEnvelope {
        self.envelope
    }

    /// Replaces the envelope with another form of the same change (its payload sealed
    /// under the document's epoch key, say). A different change loses the copy: it is
    /// checked like a change from anyone else.
    #[must_use]
    pub fn map_envelope(self, f: impl FnOnce(ChangeEnvelope) -> ChangeEnvelope) -> OwnChange {
        let hash = self.envelope.change_hash;
        let envelope = f(self.envelope);
        let made = self.made.filter(|_| envelope.change_hash == hash);
        OwnChange { envelope, made }
    }

    /// The copy of the document with the change, if it was kept.
    pub(crate) fn take_made(&mut self) -> Option<Box<Made>> {
        self.made.take()
    }
}

impl From<ChangeEnvelope> for OwnChange {
    /// An envelope made elsewhere (no copy of the document): checked in full.
    fn from(envelope: ChangeEnvelope) -> OwnChange {
        OwnChange {
            envelope,
            made: None,
        }
    }
}

impl From<OwnChange> for ChangeEnvelope {
    fn from(own: OwnChange) -> ChangeEnvelope {
        own.envelope
    }
}

/// Applies `edit` in one transaction on a copy of `base` and seals the resulting change,
/// refusing a clock behind the chain's head (every node would refuse a change dated
/// before the record it cites). `Ok(None)` if the edit changed nothing.
pub(crate) fn seal_change<E, F>(
    base: &Automerge,
    chain: &Chain,
    document: DocId,
    author_key: &SigningKey,
    now_ms: i64,
    edit: F,
) -> Result<Option<OwnChange>, E>
where
    E: From<AutomergeError> + ClockBehind,
    F: FnOnce(&mut Transaction<'_>) -> Result<(), E>,
{
    if clock_behind(chain, now_ms) {
        let state = chain.state();
        return Err(E::clock_behind(now_ms, state.seq, state.issued_at));
    }
    let author = PlatformId::from(author_key);
    let mut doc = base.clone();
    doc.set_actor(ActorId::from(&author.as_bytes()[..]));
    let base_heads = doc.get_heads();
    let mut tx = doc.transaction();
    edit(&mut tx)?;
    if tx.pending_ops() == 0 {
        tx.rollback();
        return Ok(None);
    }
    let (hash, _) = tx.commit_with(CommitOptions::default().with_time(now_ms));
    let Some(change) = hash.and_then(|h| doc.get_change_by_hash(&h)) else {
        return Ok(None);
    };
    let change = change.clone();
    let envelope = seal_at_head(author_key, chain, document, &change);
    Ok(Some(OwnChange {
        envelope,
        made: Some(Box::new(Made {
            base: base_heads,
            after: doc,
            change,
        })),
    }))
}

/// The envelope of `change`, signed by `author_key`, citing the chain's head.
fn seal_at_head(
    author_key: &SigningKey,
    chain: &Chain,
    document: DocId,
    change: &automerge::Change,
) -> ChangeEnvelope {
    let state = chain.state();
    ChangeEnvelope::seal(
        author_key,
        chain.federation(),
        document,
        state.seq,
        state.head,
        change,
    )
}

/// Makes this platform's acknowledgement of a revocation in `document`: an empty change
/// whose dependencies are the document's heads. Written by each node when it learns of
/// the revocation, it puts every change of the revoked platform that this node had
/// accepted by then in the causal past of a still-active member's change, so that every
/// node keeps them (see `docs/membership.md`). `None` if the document is empty or the
/// clock is behind the chain's head.
pub fn acknowledge_revocation(
    base: &Automerge,
    chain: &Chain,
    document: DocId,
    author_key: &SigningKey,
    now_ms: i64,
) -> Option<OwnChange> {
    if base.get_heads().is_empty() || clock_behind(chain, now_ms) {
        return None;
    }
    let author = PlatformId::from(author_key);
    let mut doc = base.clone();
    doc.set_actor(ActorId::from(&author.as_bytes()[..]));
    let hash = doc.empty_commit(CommitOptions::default().with_time(now_ms));
    let change = doc.get_change_by_hash(&hash)?;
    Some(seal_at_head(author_key, chain, document, &change).into())
}
