//! Field-level rules (check 8): what a change may do to a document of each kind.
//!
//! A change is applied to a fork of the document at its dependencies, and the patches
//! between the fork before and after are examined along with the resulting state. One
//! file per document kind.

mod exports;
mod platforms;
mod projects;

use automerge::{Automerge, ChangeHash, Patch};

use crate::chain::Chain;
use crate::ids::{DocId, DocKind, PlatformId};
use crate::registry::as_of::AsOf;
use crate::registry::projects::ProjectView;

/// What a rule sees of one change.
pub(crate) struct RuleInput<'a> {
    /// The document the change is for: a private document's creation must match its id.
    pub document: DocId,
    /// The change's author (already bound to its actor id).
    pub author: PlatformId,
    /// The change's own time (its Automerge timestamp, milliseconds since the epoch),
    /// which is signed with it: what a history entry's date must say.
    pub time_ms: i64,
    /// The chain the change was checked against; it holds the cited record.
    pub chain: &'a Chain,
    /// The seq of the membership record the change cites.
    pub cited_seq: u64,
    /// The heads of the fork before the change (its dependencies).
    pub before: &'a [ChangeHash],
    /// The patches from the fork at the change's dependencies to the fork with it.
    pub patches: &'a [Patch],
    /// A document holding the change (and, for a change made on an older state, changes
    /// made concurrently with it): the rules read it at `after_heads`.
    pub after: &'a Automerge,
    /// The heads of the state the change makes, in `after`; `None` when that state is
    /// `after` as it is (a change made on the document's heads).
    pub after_heads: Option<&'a [ChangeHash]>,
}

impl<'a> RuleInput<'a> {
    /// The state the change makes: what the rules judge.
    pub(crate) fn state(&self) -> AsOf<'a> {
        AsOf::at(self.after, self.after_heads)
    }
}

/// Checks one change against the rules of `kind`; the error says why it is refused.
///
/// A project's rules read the whole document the change makes; that reading is returned
/// so that the document keeps it as its view instead of reading the same state again
/// (each read of a key costs every value it ever had).
pub(crate) fn check(kind: DocKind, input: &RuleInput<'_>) -> Result<Option<ProjectView>, String> {
    match kind {
        DocKind::Platforms => platforms::check(input).map(|()| None),
        DocKind::Project => projects::check(input),
        DocKind::Export => exports::check(input).map(|()| None),
    }
}
