//! What check 5 needs of a document's history: whether a change lies behind a
//! revocation frontier.

use crate::ids::ChangeHash;

/// Whether a change is within a revocation frontier, as far as a history can tell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontierStatus {
    /// The change is a frontier head or an ancestor of one.
    Within,
    /// The whole history behind the frontier heads is known and the change is not in it.
    Outside,
    /// Part of that history is missing, so the change may still be an ancestor.
    Unknown,
}

/// A document's history as far as check 5 needs it: which changes lie behind a set of
/// frontier heads.
pub trait FrontierHistory {
    /// Whether `change` is one of `heads` or one of their ancestors.
    fn frontier_status(&self, change: &ChangeHash, heads: &[ChangeHash]) -> FrontierStatus;

    /// Whether `change` lies in the causal past of a change, known here and past checks
    /// 1 to 6, whose author is a member that `chain` does not revoke: a still-active
    /// member built on it, so it counts although its author has been revoked since.
    fn vouched(&self, _change: &ChangeHash, _chain: &crate::chain::Chain) -> bool {
        false
    }
}

/// A history that knows no change: only a frontier head itself is within. For callers
/// without the document, such as relays.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoHistory;

impl FrontierHistory for NoHistory {
    fn frontier_status(&self, change: &ChangeHash, heads: &[ChangeHash]) -> FrontierStatus {
        if heads.contains(change) {
            FrontierStatus::Within
        } else {
            FrontierStatus::Unknown
        }
    }
}
