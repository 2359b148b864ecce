//! Rebuilding a document after its chain changed: every accepted and buffered envelope
//! is checked again against the new chain (citation, membership, revocation frontier,
//! time), and the document is materialised from those that still pass.

use std::collections::HashSet;

use automerge::Change;

use super::buffer::{Pending, Waiting};
use super::{refuse_descendant, Document, Entry, Outcome};
use crate::chain::Chain;
use crate::envelope::check::check_against_chain;
use crate::envelope::{Rejection, Wait};
use crate::ids::ChangeHash;

impl Document {
    /// Checks every accepted and buffered envelope again against `chain`, after it has
    /// changed (a revocation with its frontier, most often), and rebuilds the document
    /// without the changes now excluded and their descendants.
    ///
    /// Returns what changed: [`Outcome::Refused`] for changes no longer accepted (or
    /// buffered ones now refused), [`Outcome::Buffered`] for accepted changes that must
    /// wait again (their cited record vanished with a fork, or their frontier's history
    /// is incomplete), [`Outcome::Accepted`] for buffered ones the new chain releases.
    ///
    /// Only the checks that depend on the chain run again: sizes, signatures, decoding
    /// and the field-level rules do not change with it.
    pub fn rebuild(&mut self, chain: &Chain) -> Vec<Outcome> {
        self.chain_head = chain.head();
        let mut out = Vec::new();
        let mut snapshot = self.snapshot();
        snapshot.1 = self.vouched_set(chain);
        let before = self.accepted.len();
        let mut kept: Vec<Entry> = Vec::new();
        let mut kept_set: HashSet<ChangeHash> = HashSet::new();
        let mut demoted: Vec<(Pending, Result<Change, Rejection>)> = Vec::new();
        for entry in std::mem::take(&mut self.accepted) {
            if let Some(dep) = entry
                .env
                .deps
                .iter()
                .find(|d| self.refused.contains_key(*d))
            {
                let refusal = refuse_descendant(&mut self.refused, &entry.env, dep);
                out.push(Outcome::Refused(refusal));
                continue;
            }
            let decision =
                check_against_chain(chain, &entry.env, &snapshot, || Ok(entry.change.clone()));
            // A change whose dependency must wait again waits too.
            let stays = decision.is_ok() && entry.env.deps.iter().all(|d| kept_set.contains(d));
            if stays {
                kept_set.insert(entry.env.change_hash);
                kept.push(entry);
                continue;
            }
            let pending = Pending {
                env: entry.env,
                change: Some(entry.change),
                waiting: Waiting::Deps,
                trusted: true,
            };
            demoted.push((pending, decision));
        }
        let changed = kept.len() != before;
        self.set_accepted(kept);
        if changed {
            self.materialise(&mut out);
        }
        // Accepted changes that no longer pass: refused, or back to the buffer.
        for (pending, decision) in demoted {
            self.decide(chain, pending, decision, true, &mut out);
        }
        // Buffered envelopes: checked against the new chain, without announcing those
        // that keep waiting.
        for pending in self.buffer.take_all() {
            let hash = pending.env.change_hash;
            if self.index.contains_key(&hash) || self.refused.contains_key(&hash) {
                continue;
            }
            let decision = match &pending.change {
                Some(change) => {
                    check_against_chain(chain, &pending.env, &snapshot, || Ok(change.clone()))
                }
                None => check_against_chain(chain, &pending.env, &snapshot, || {
                    self.decode(&pending.env)
                }),
            };
            self.decide(chain, pending, decision, false, &mut out);
        }
        self.release(chain, &mut out);
        self.settle_frontier(chain, &mut out);
        self.release(chain, &mut out);
        out
    }

    /// Re-decides envelopes waiting on a revocation frontier, whose history may have
    /// grown since.
    pub(super) fn settle_frontier(&mut self, chain: &Chain, out: &mut Vec<Outcome>) {
        let waiting: Vec<u64> = self
            .buffer
            .iter()
            .filter(|(_, p)| p.waiting == Waiting::Frontier)
            .map(|(a, _)| a)
            .collect();
        for arrival in waiting {
            let decision = match self.buffer.iter().find(|(a, _)| *a == arrival) {
                Some((_, p)) => match &p.change {
                    Some(change) => check_against_chain(chain, &p.env, self, || Ok(change.clone())),
                    None => continue,
                },
                None => continue,
            };
            if matches!(decision, Err(Rejection::Waiting(Wait::Frontier { .. }))) {
                continue;
            }
            let Some(pending) = self.buffer.remove(arrival) else {
                continue;
            };
            self.decide(chain, pending, decision, false, out);
        }
    }

    /// Acts on the result of re-checking a buffered or demoted envelope against the chain.
    pub(super) fn decide(
        &mut self,
        chain: &Chain,
        pending: Pending,
        decision: Result<Change, Rejection>,
        announce: bool,
        out: &mut Vec<Outcome>,
    ) {
        match decision {
            Ok(change) => self.place(chain, pending.env, change, announce, out),
            Err(Rejection::Waiting(Wait::Chain { .. })) => {
                let pending = Pending {
                    waiting: Waiting::Chain,
                    ..pending
                };
                self.wait(pending, announce, out);
            }
            Err(Rejection::Waiting(Wait::Frontier { change })) => {
                let pending = Pending {
                    env: pending.env,
                    change: Some(*change),
                    waiting: Waiting::Frontier,
                    trusted: pending.trusted,
                };
                self.wait(pending, announce, out);
            }
            Err(Rejection::Refused(refusal)) => {
                self.refuse(&pending.env, pending.change.as_ref(), refusal, out)
            }
        }
    }
}
