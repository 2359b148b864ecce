//! The state of an export request, folded from its history.
//!
//! Each step is appended to the history list citing the state its author saw (`from`).
//! When the two parties take a step concurrently, both entries end up in the list, in an
//! order Automerge fixes identically on every node. The fold walks that list once:
//!
//! - the creation entry sets `draft`;
//! - an entry whose `from` is the current state is applied;
//! - any other entry was made concurrently with one already applied. It is applied only
//!   if it stops the request ([`ExportState::is_stopping`]) and its author's party may
//!   still make that stop from the current state; the entries applied since the state
//!   was its `from` raced it and are marked superseded. Every other such entry is
//!   superseded itself.
//!
//! So a cancellation and an approval made concurrently from `submitted` end `cancelled`
//! whatever their order in the list, with the approval superseded: when one party says
//! stop while the other moves on, stopping is the safe answer for health data. The list
//! order, and therefore the result, is the same on every node.

use super::{who_may, ExportState, HistoryEntry, Party};
use crate::ids::PlatformId;

/// The result of the fold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Folded {
    /// The state the request is in.
    pub state: ExportState,
    /// For each entry, whether it counts.
    pub applied: Vec<bool>,
    /// The conditions of the last approval with conditions that counts.
    pub conditions: Option<String>,
    /// The reference of the last delivery that counts.
    pub delivery_reference: Option<String>,
}

/// Folds `history` (read strictly: its first entry is the creation) into a state.
pub(crate) fn fold(
    requester: &PlatformId,
    provider: &PlatformId,
    history: &[HistoryEntry],
) -> Folded {
    let party = |author: &PlatformId| {
        if author == requester {
            Some(Party::Requester)
        } else if author == provider {
            Some(Party::Provider)
        } else {
            None
        }
    };
    let mut applied = vec![false; history.len()];
    let mut state = ExportState::Draft;
    // The applied entries in order, with the state each led to.
    let mut trail: Vec<(usize, ExportState)> = Vec::new();
    for (i, entry) in history.iter().enumerate() {
        let Some(from) = entry.from else {
            if i == 0 && entry.to == ExportState::Draft {
                trail.push((i, ExportState::Draft));
            }
            continue;
        };
        let allowed =
            |from| party(&entry.author).is_some_and(|p| who_may(from, entry.to) == Some(p));
        if from == state && allowed(state) {
            trail.push((i, entry.to));
            state = entry.to;
        } else if entry.to.is_stopping() && allowed(state) {
            if let Some(pos) = trail.iter().rposition(|(_, s)| *s == from) {
                trail.truncate(pos + 1);
            }
            trail.push((i, entry.to));
            state = entry.to;
        }
    }
    for (i, _) in &trail {
        if let Some(a) = applied.get_mut(*i) {
            *a = true;
        }
    }
    let last_applied = |to: ExportState| {
        trail
            .iter()
            .rev()
            .filter_map(|(i, _)| history.get(*i))
            .find(|e| e.to == to)
    };
    Folded {
        state,
        conditions: last_applied(ExportState::ApprovedWithConditions).map(|e| e.conditions.clone()),
        delivery_reference: last_applied(ExportState::Delivered).map(|e| e.reference.clone()),
        applied,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ExportState::*;

    const R: PlatformId = PlatformId([1; 32]);
    const P: PlatformId = PlatformId([2; 32]);

    fn entry(from: Option<ExportState>, to: ExportState, author: PlatformId) -> HistoryEntry {
        HistoryEntry {
            from,
            to,
            author,
            at_ms: 0,
            comment: String::new(),
            conditions: if to == ApprovedWithConditions {
                "aggregate only".into()
            } else {
                String::new()
            },
            reference: if to == Delivered {
                "sftp://x".into()
            } else {
                String::new()
            },
            applied: false,
        }
    }

    fn submitted() -> Vec<HistoryEntry> {
        vec![entry(None, Draft, R), entry(Some(Draft), Submitted, R)]
    }

    #[test]
    fn a_sequence_of_steps_is_applied_in_turn() {
        let mut h = submitted();
        h.push(entry(Some(Submitted), ApprovedWithConditions, P));
        h.push(entry(Some(ApprovedWithConditions), InPreparation, P));
        h.push(entry(Some(InPreparation), Delivered, P));
        let f = fold(&R, &P, &h);
        assert_eq!(f.state, Delivered);
        assert!(f.applied.iter().all(|a| *a));
        assert_eq!(f.conditions.as_deref(), Some("aggregate only"));
        assert_eq!(f.delivery_reference.as_deref(), Some("sftp://x"));
    }

    #[test]
    fn a_concurrent_stop_wins_in_either_list_order() {
        let mut asked = submitted();
        asked.push(entry(Some(Submitted), InformationRequested, P));
        for (base, stop, stopper, other, other_author) in [
            (submitted(), Cancelled, R, Approved, P),
            (submitted(), Cancelled, R, ApprovedWithConditions, P),
            (submitted(), Cancelled, R, InformationRequested, P),
            (asked.clone(), Rejected, P, Submitted, R),
            (asked, Cancelled, R, Rejected, P),
        ] {
            let from = base.last().map_or(Draft, |e| e.to);
            let stop_entry = entry(Some(from), stop, stopper);
            let other_entry = entry(Some(from), other, other_author);
            for stop_first in [true, false] {
                let mut h = base.clone();
                if stop_first {
                    h.extend([stop_entry.clone(), other_entry.clone()]);
                } else {
                    h.extend([other_entry.clone(), stop_entry.clone()]);
                }
                let f = fold(&R, &P, &h);
                let n = h.len();
                let (stop_at, other_at) = if stop_first {
                    (n - 2, n - 1)
                } else {
                    (n - 1, n - 2)
                };
                let expected = if other.is_stopping() && !stop_first {
                    other
                } else {
                    stop
                };
                assert_eq!(
                    f.state, expected,
                    "{stop} vs {other}, stop first: {stop_first}"
                );
                if expected == stop {
                    assert!(
                        f.applied[stop_at] && !f.applied[other_at],
                        "{stop} vs {other}"
                    );
                }
                assert_eq!(f.conditions, None);
            }
        }
    }

    #[test]
    fn a_rejection_listed_before_an_approval_wins() {
        let mut h = submitted();
        h.push(entry(Some(Submitted), Rejected, P));
        h.push(entry(Some(Submitted), Approved, P));
        let f = fold(&R, &P, &h);
        assert_eq!(f.state, Rejected);
        assert_eq!(f.applied, vec![true, true, true, false]);
    }

    #[test]
    fn steps_after_a_superseded_one_are_superseded() {
        let mut h = submitted();
        h.push(entry(Some(Submitted), Approved, P));
        h.push(entry(Some(Approved), InPreparation, P));
        h.push(entry(Some(Submitted), Cancelled, R));
        let f = fold(&R, &P, &h);
        assert_eq!(f.state, Cancelled);
        assert_eq!(f.applied, vec![true, true, false, false, true]);

        let mut h = submitted();
        h.push(entry(Some(Submitted), Cancelled, R));
        h.push(entry(Some(Submitted), Approved, P));
        h.push(entry(Some(Approved), InPreparation, P));
        let f = fold(&R, &P, &h);
        assert_eq!(f.state, Cancelled);
        assert_eq!(f.applied, vec![true, true, true, false, false]);
    }

    #[test]
    fn a_stop_no_longer_allowed_does_not_count() {
        let mut h = submitted();
        h.push(entry(Some(Submitted), Approved, P));
        h.push(entry(Some(Approved), InPreparation, P));
        h.push(entry(Some(InPreparation), Delivered, P));
        h.push(entry(Some(Submitted), Cancelled, R));
        let f = fold(&R, &P, &h);
        assert_eq!(f.state, Delivered);
        assert_eq!(f.applied, vec![true, true, true, true, true, false]);
    }

    #[test]
    fn entries_by_others_or_out_of_the_table_do_not_count() {
        let mut h = submitted();
        h.push(entry(Some(Submitted), Approved, PlatformId([3; 32])));
        h.push(entry(Some(Submitted), Approved, R));
        h.push(entry(Some(Submitted), Cancelled, P));
        let f = fold(&R, &P, &h);
        assert_eq!(f.state, Submitted);
        assert_eq!(f.applied, vec![true, true, false, false, false]);
    }
}
