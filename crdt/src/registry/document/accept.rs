//! Accepting a change whose dependencies are all accepted: the author's sequence, the
//! field-level rules on a fork, equivocation, and finally the real document.

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};

use automerge::{Automerge, Change, ReadDoc};

use super::{history, refuse_descendant, replay, Document, Entry, Outcome, RefusedChange};
use crate::chain::Chain;
use crate::envelope::check::{check_against_chain, check_signature, check_sizes};
use crate::envelope::{ChangeEnvelope, Refusal, RefusalCheck, Rejection};
use crate::ids::{ChangeHash, RecordHash};
use crate::registry::local::OwnChange;
use crate::registry::projects::ProjectView;
use crate::registry::rules::{self, RuleInput};

/// A change that passed every check on a document at `heads` under chain head
/// `chain_head`, and the document with it applied.
#[derive(Clone, Debug)]
pub(super) struct Checked {
    envelope: ChangeEnvelope,
    change: Change,
    chain_head: RecordHash,
    heads: Vec<automerge::ChangeHash>,
    applied: Applied,
}

/// A document with a change applied by the checks, and what the rules read of it.
#[derive(Clone, Debug)]
pub(super) struct Applied {
    doc: Automerge,
    view: Option<ProjectView>,
}

impl Checked {
    /// Whether this is `env`, checked against `chain` on a document at `heads`.
    fn passed(&self, env: &ChangeEnvelope, chain: &Chain, heads: &[automerge::ChangeHash]) -> bool {
        self.envelope == *env && self.chain_head == chain.head() && self.heads == heads
    }
}

impl Document {
    /// Runs the checks that need the dependencies, then applies the change. Everything
    /// refused here is refused for good (the payload is bound to the author by now).
    ///
    /// A change this node accepted before (read back from its store, or demoted by a
    /// chain change) skips the sequence, epoch and field-level checks: they depend only
    /// on the change and its history, which have not changed, and running them costs the
    /// whole history each time, which would make loading a document quadratic.
    pub(super) fn accept(&mut self, chain: &Chain, entry: Entry, out: &mut Vec<Outcome>) {
        let checked_before = self.accepted_once.contains(&entry.env.change_hash);
        if !checked_before && self.deferred {
            // The rules read the document: bring it up to date first.
            self.deferred = false;
            self.materialise(out);
        }
        let heads = self.doc.get_heads();
        let own = self
            .checked
            .take()
            .filter(|c| c.passed(&entry.env, chain, &heads));
        let checked = if checked_before {
            // The epoch rule walks the change's history too; like a rebuild after a
            // chain change, reloading does not run it again.
            Ok(None)
        } else if let Some(own) = own {
            // Passed by `check_own` on this very document a moment ago.
            Ok(Some(own.applied))
        } else {
            self.check_sequence(&entry)
                .and_then(|()| self.check_epoch(&entry))
                .and_then(|()| self.check_rules(chain, &entry, Some(out)))
        };
        let applied = match checked {
            Ok(applied) => applied,
            Err(refusal) => {
                self.refuse(&entry.env, Some(&entry.change), refusal, out);
                return;
            }
        };
        let seq = entry.change.seq();
        let key = (entry.env.author, seq);
        if let Some(other) = self.seqs.get(&key).copied() {
            let reason = |a: ChangeHash, b: ChangeHash| {
                format!(
                    "{} made changes {a} and {b} with the same sequence number {seq}; both are refused",
                    entry.env.author
                )
            };
            let ours = entry.env.refusal(
                RefusalCheck::Equivocation,
                reason(entry.env.change_hash, other),
            );
            self.refuse(&entry.env, Some(&entry.change), ours, out);
            let theirs = self
                .index
                .get(&other)
                .and_then(|i| self.accepted.get(*i))
                .map(|e| {
                    e.env.refusal(
                        RefusalCheck::Equivocation,
                        reason(other, entry.env.change_hash),
                    )
                });
            self.exclude(theirs.into_iter().collect(), out);
            return;
        }
        if self.deferred {
            // Loading: the document is materialised once, when the load ends.
            self.seqs.insert(key, entry.env.change_hash);
            self.index
                .insert(entry.env.change_hash, self.accepted.len());
            out.push(Outcome::Accepted(entry.env.clone()));
            self.push_accepted(entry);
            return;
        }
        if let Some(Applied { doc, view }) = applied {
            // The checks applied it to a copy of this very document: that copy is it,
            // and what the rules read of it is its view.
            self.doc = doc;
            self.keep_view(view);
        } else if let Err(e) = self.doc.apply_changes([entry.change.clone()]) {
            let refusal = entry.env.refusal(
                RefusalCheck::Malformed,
                format!("Automerge cannot apply the change: {e}"),
            );
            self.refuse(&entry.env, Some(&entry.change), refusal, out);
            self.materialise(out);
            return;
        }
        self.seqs.insert(key, entry.env.change_hash);
        self.accepted_once.insert(entry.env.change_hash);
        self.index
            .insert(entry.env.change_hash, self.accepted.len());
        out.push(Outcome::Accepted(entry.env.clone()));
        self.push_accepted(entry);
    }

    /// Every check [`Document::receive`] would run on `own`, without changing anything
    /// but a cache: the writer's check of its own change before it is stored or sent, so
    /// that a change its own node would refuse is answered to the writer and never
    /// recorded. Returns the envelope to store, send and receive.
    ///
    /// The rules run on the copy of the document the change was made on when that copy
    /// is of this document as it is now; the checked copy and the decoded change are kept
    /// so that receiving the same envelope next neither decodes nor applies it again.
    ///
    /// # Errors
    ///
    /// The refusal that receiving the envelope would record. A change that would wait
    /// (for a dependency, a chain record or a frontier) is refused too: the writer
    /// builds on what it holds, so it never has to wait.
    pub fn check_own(
        &mut self,
        chain: &Chain,
        mut own: OwnChange,
    ) -> Result<ChangeEnvelope, Refusal> {
        let made = own.take_made();
        let env = own.into_envelope();
        check_sizes(&env)?;
        // A change made on this node a moment ago was signed with this node's key, from
        // the change it carries: checking that signature, or decoding the payload back
        // into the change, would prove nothing and cost a verification and a decode.
        let kept = made.as_ref().map(|m| m.change.clone());
        if kept.is_none() {
            check_signature(&env)?;
        }
        let decode = || match kept {
            // Still refused if it was left in the clear in a sealed document.
            Some(change) => self.check_form(&env).map(|()| change),
            None => self.decode(&env),
        };
        let change = match check_against_chain(chain, &env, self, decode) {
            Ok(change) => change,
            Err(Rejection::Refused(refusal)) => return Err(refusal),
            Err(Rejection::Waiting(_)) => {
                return Err(env.refusal(
                    RefusalCheck::Membership,
                    "the change cannot be decided against this node's chain yet",
                ))
            }
        };
        if let Some(dep) = env.deps.iter().find(|d| !self.index.contains_key(*d)) {
            return Err(env.refusal(
                RefusalCheck::Dependency,
                format!("depends on change {dep}, which this document has not accepted"),
            ));
        }
        let entry = Entry { env, change };
        self.check_sequence(&entry)
            .and_then(|()| self.check_epoch(&entry))?;
        let heads = self.doc.get_heads();
        let made = made.filter(|m| m.base == heads && self.on_heads(&entry));
        let applied = match made {
            Some(made) => {
                let view = self.check_fields(chain, &entry, &made.base, &made.after, None)?;
                Some(Applied {
                    doc: made.after,
                    view,
                })
            }
            None => self.check_rules(chain, &entry, None)?,
        };
        let Entry { env, change } = entry;
        self.checked = applied.map(|applied| {
            Box::new(Checked {
                envelope: env.clone(),
                change,
                chain_head: chain.head(),
                heads,
                applied,
            })
        });
        Ok(env)
    }

    /// The decoded change of `env` if [`Document::check_own`] passed this very envelope
    /// against this chain on this document as it is.
    pub(super) fn checked_own(&self, chain: &Chain, env: &ChangeEnvelope) -> Option<Change> {
        let heads = self.doc.get_heads();
        self.checked
            .as_ref()
            .filter(|c| c.passed(env, chain, &heads))
            .map(|c| c.change.clone())
    }

    /// The author's sequence number must be one more than the number of its changes in
    /// the change's history: its changes form one line, as Automerge requires.
    fn check_sequence(&self, entry: &Entry) -> Result<(), Refusal> {
        let seq = entry.change.seq();
        if self.builds_on_everything(&entry.env.deps) {
            // Every accepted change is in its history, and each author's accepted
            // changes are numbered 1..=m: it must be m + 1.
            let author = entry.env.author;
            let after_last = seq == 1 || self.seqs.contains_key(&(author, seq - 1));
            if seq >= 1 && after_last && !self.seqs.contains_key(&(author, seq)) {
                return Ok(());
            }
        }
        // Its author's accepted changes are numbered 1..=m and each has the ones before
        // in its history (this rule, applied to each): the history holds seq - 1 of them
        // if and only if it holds number seq - 1 and not number seq.
        let author = entry.env.author;
        let past = self.past_of(&entry.env.deps);
        let holds = |n: u64| {
            self.seqs
                .get(&(author, n))
                .is_some_and(|h| past.contains(h))
        };
        if seq >= 1 && (seq == 1 || holds(seq - 1)) && !holds(seq) {
            return Ok(());
        }
        let past = history::ancestors(&entry.env.deps, |h| self.accepted_deps(h));
        let own = past
            .iter()
            .filter_map(|h| self.index.get(h))
            .filter(|i| {
                self.accepted
                    .get(**i)
                    .is_some_and(|e| e.env.author == entry.env.author)
            })
            .count() as u64;
        if own.checked_add(1) == Some(seq) {
            Ok(())
        } else {
            Err(entry.env.refusal(
                RefusalCheck::Sequence,
                format!(
                    "change has sequence number {seq}, but its history holds {own} changes of {}",
                    entry.env.author
                ),
            ))
        }
    }

    /// Check 8: applies the change to a fork at its dependencies and lets the rules of
    /// the document's kind examine the root keys it edits and the result. A change on the
    /// document's heads is made again rather than applied where that reproduces it (see
    /// [`replay`]). Returns the fork if it was taken at the document's heads (the
    /// document with the change applied).
    ///
    /// When accepting (`out` given), a change on the heads is made again on the document
    /// itself and checked before it commits (see [`replay::replay_in_place`]); the
    /// writer's own check (`out` is `None`) changes nothing, so it works on a copy.
    fn check_rules(
        &mut self,
        chain: &Chain,
        entry: &Entry,
        out: Option<&mut Vec<Outcome>>,
    ) -> Result<Option<Applied>, Refusal> {
        let refuse = |check, reason: String| entry.env.refusal(check, reason);
        let mut deps = entry.change.deps().to_vec();
        deps.sort_unstable();
        let at_heads = self.on_heads(entry);
        let equivocates = self
            .seqs
            .contains_key(&(entry.env.author, entry.change.seq()));
        if let (true, false, Some(out)) = (at_heads, equivocates, out) {
            let before = self.doc.get_heads();
            let mut doc = std::mem::take(&mut self.doc);
            let outcome = replay::replay_in_place(&mut doc, &entry.change, |tx| {
                self.check_fields(chain, entry, &before, tx, None)
            });
            match outcome {
                replay::InPlace::Applied(view) => {
                    self.replayed += 1;
                    return Ok(Some(Applied { doc, view }));
                }
                replay::InPlace::Refused(refusal) => {
                    self.doc = doc;
                    return Err(refusal);
                }
                replay::InPlace::NotReproduced => self.doc = doc,
                replay::InPlace::Spoiled => {
                    self.replay_spoiled += 1;
                    self.materialise(out);
                }
            }
        } else if at_heads {
            if let Some(fork) = replay::replay(&self.doc, &entry.change) {
                self.replayed += 1;
                let before = self.doc.get_heads();
                let view = self.check_fields(chain, entry, &before, &fork, None)?;
                return Ok(Some(Applied { doc: fork, view }));
            }
        }
        // A change made on an older state is applied to a copy of the document as it is
        // and judged as of its own hash (see `AsOf`), when everything it names lies in
        // its own past: it then makes there exactly the state it would make on its
        // dependencies alone. Otherwise the document is rebuilt at its dependencies,
        // which replays the whole history.
        // Not for a second change of its author with the same number either: the document
        // holds the first, so Automerge would take it for a malformed change instead of
        // letting the equivocation check refuse both.
        let in_place = at_heads
            || (!deps.is_empty() && !equivocates && self.names_only_its_past(entry, &deps));
        let fork = if in_place {
            self.doc.clone()
        } else if deps.is_empty() {
            Automerge::new()
        } else {
            self.doc.fork_at(&deps).map_err(|e| {
                refuse(
                    RefusalCheck::Malformed,
                    format!("cannot fork the document at the change's dependencies: {e}"),
                )
            })?
        };
        let before = if in_place && !at_heads {
            deps.clone()
        } else {
            fork.get_heads()
        };
        let change = entry.change.clone();
        let hash = change.hash();
        // Automerge asserts on some malformed changes; the fork is thrown away either way.
        // Once applied, the change is read back from the fork: operations whose
        // predecessors lie elsewhere in the document apply, but read back (and save) as
        // another change, leaving a document whose saved form no longer loads.
        let applied = catch_unwind(AssertUnwindSafe(move || {
            let mut fork = fork;
            fork.apply_changes([change]).map(|()| {
                let read_back = fork.get_change_by_hash(&hash).map(|c| c.hash());
                (fork, read_back)
            })
        }));
        let fork =
            match applied {
                Ok(Ok((fork, Some(read_back)))) if read_back == hash => fork,
                Ok(Ok((_, None))) => {
                    return Err(refuse(
                        RefusalCheck::Malformed,
                        "Automerge did not apply the change on its dependencies".into(),
                    ))
                }
                Ok(Ok((_, Some(_)))) => return Err(refuse(
                    RefusalCheck::Malformed,
                    "the change's operations name predecessors that are not where they claim to be"
                        .into(),
                )),
                Ok(Err(e)) => {
                    return Err(refuse(
                        RefusalCheck::Malformed,
                        format!("Automerge cannot apply the change: {e}"),
                    ))
                }
                Err(_) => {
                    return Err(refuse(
                        RefusalCheck::Malformed,
                        "Automerge cannot apply the change: malformed operations".into(),
                    ))
                }
            };
        if in_place && !at_heads {
            self.judged_in_place += 1;
            let after = [hash];
            self.check_fields(chain, entry, &before, &fork, Some(&after))?;
            // The copy is this document with the change: no second application.
            return Ok(Some(Applied {
                doc: fork,
                view: None,
            }));
        }
        let view = self.check_fields(chain, entry, &before, &fork, None)?;
        Ok(at_heads.then_some(Applied { doc: fork, view }))
    }

    /// Whether every object, list element and overwritten operation that `entry`'s
    /// operations name was made by a change in its past (`deps` and their ancestors) or
    /// by itself: then applying it to the document as it is changes nothing about the
    /// state it makes, nor whether it applies.
    fn names_only_its_past(&self, entry: &Entry, deps: &[automerge::ChangeHash]) -> bool {
        use automerge::legacy::{ElementId, Key, ObjectId, OpId};
        let change = &entry.change;
        let actor = change.actor_id();
        let own = change.start_op().get()..change.start_op().get() + change.len() as u64;
        let deps: Vec<ChangeHash> = deps.iter().copied().map(ChangeHash::from).collect();
        let past = self.past_of(&deps);
        let in_past = |id: &OpId| {
            if id.actor() == actor && own.contains(&id.counter()) {
                return true;
            }
            let exid = automerge::ObjId::Id(id.counter(), id.actor().clone(), usize::MAX);
            self.doc
                .hash_for_opid(&exid)
                .is_some_and(|h| past.contains(&ChangeHash::from(h)))
        };
        change.decode().operations.iter().all(|op| {
            let obj = match &op.obj {
                ObjectId::Root => true,
                ObjectId::Id(id) => in_past(id),
            };
            let key = match &op.key {
                Key::Seq(ElementId::Id(id)) => in_past(id),
                Key::Map(_) | Key::Seq(ElementId::Head) => true,
            };
            obj && key && op.pred.iter().all(in_past)
        })
    }

    /// Whether `entry` was made on the document as it is now: every head is among its
    /// dependencies, and the others are accepted changes (Automerge also names the
    /// author's previous change, which may lie under a head).
    fn on_heads(&self, entry: &Entry) -> bool {
        let deps = entry.change.deps();
        entry.env.deps.iter().all(|d| self.index.contains_key(d))
            && self.doc.get_heads().iter().all(|h| deps.contains(h))
    }

    /// The rules of the document's kind, on the root keys the change edits and the
    /// document it made (`after`, at `after_heads` if given), from `before`; what they
    /// read of `after`.
    fn check_fields<D: automerge::ReadDoc>(
        &self,
        chain: &Chain,
        entry: &Entry,
        before: &[automerge::ChangeHash],
        after: &D,
        after_heads: Option<&[automerge::ChangeHash]>,
    ) -> Result<Option<ProjectView>, Refusal> {
        let touched = rules::touched_keys(&entry.change, after)
            .map_err(|reason| entry.env.refusal(RefusalCheck::Rule, reason))?;
        let input = RuleInput {
            document: self.id,
            author: entry.env.author,
            time_ms: entry.change.timestamp(),
            chain,
            cited_seq: entry.env.cited_seq,
            before,
            touched: &touched,
            after,
            after_heads,
        };
        rules::check(self.id.kind, &input)
            .map_err(|reason| entry.env.refusal(RefusalCheck::Rule, reason))
    }

    /// Removes accepted changes for good, with every accepted change that depends on
    /// them, and rebuilds the document without them.
    pub(super) fn exclude(&mut self, refusals: Vec<Refusal>, out: &mut Vec<Outcome>) {
        let mut gone: HashSet<ChangeHash> = HashSet::new();
        for refusal in refusals {
            let hash = refusal.change_hash;
            if let Some(entry) = self.index.get(&hash).and_then(|i| self.accepted.get(*i)) {
                self.refused.insert(
                    hash,
                    RefusedChange {
                        refusal: refusal.clone(),
                        deps: entry.env.deps.clone(),
                    },
                );
                gone.insert(hash);
                out.push(Outcome::Refused(refusal));
            }
        }
        if gone.is_empty() {
            return;
        }
        for entry in &self.accepted {
            if gone.contains(&entry.env.change_hash) {
                continue;
            }
            if let Some(dep) = entry.env.deps.iter().find(|d| gone.contains(*d)) {
                let refusal = refuse_descendant(&mut self.refused, &entry.env, dep);
                gone.insert(entry.env.change_hash);
                out.push(Outcome::Refused(refusal));
            }
        }
        let kept: Vec<Entry> = std::mem::take(&mut self.accepted)
            .into_iter()
            .filter(|e| !gone.contains(&e.env.change_hash))
            .collect();
        self.set_accepted(kept);
        self.materialise(out);
    }

    /// Appends a change to the accepted list (its dependencies are in it).
    fn push_accepted(&mut self, entry: Entry) {
        let positions = self.positions(&entry.env.deps);
        self.dep_positions.push(positions);
        self.accepted.push(entry);
    }

    /// The positions of these accepted changes in the accepted list.
    pub(super) fn positions(&self, hashes: &[ChangeHash]) -> Vec<usize> {
        hashes
            .iter()
            .filter_map(|h| self.index.get(h).copied())
            .collect()
    }

    /// Replaces the accepted list (in causal order) and the indexes derived from it.
    pub(super) fn set_accepted(&mut self, accepted: Vec<Entry>) {
        self.index = accepted
            .iter()
            .enumerate()
            .map(|(i, e)| (e.env.change_hash, i))
            .collect();
        self.seqs = accepted
            .iter()
            .map(|e| ((e.env.author, e.change.seq()), e.env.change_hash))
            .collect();
        self.accepted = accepted;
        // Positions may now name other changes, even at the same length.
        self.past_memo.take();
        self.dep_positions = self
            .accepted
            .iter()
            .map(|e| self.positions(&e.env.deps))
            .collect();
    }

    /// Rebuilds the Automerge document from the accepted changes. A change Automerge
    /// cannot apply (which the checks should make impossible) is dropped from the
    /// accepted list with its descendants, and reported.
    ///
    /// All the changes are first applied in one batch, which Automerge does in one pass;
    /// only if that fails are they applied one by one to find the culprit.
    pub(super) fn materialise(&mut self, out: &mut Vec<Outcome>) {
        let mut batch = Automerge::new();
        let changes: Vec<automerge::Change> =
            self.accepted.iter().map(|e| e.change.clone()).collect();
        let applied = catch_unwind(AssertUnwindSafe(move || {
            batch.apply_changes(changes).map(|()| batch)
        }));
        if let Ok(Ok(batch)) = applied {
            let whole = self
                .accepted
                .iter()
                .all(|e| batch.get_change_by_hash(&e.change.hash()).is_some());
            if whole {
                self.doc = batch;
                return;
            }
        }
        let mut doc = Automerge::new();
        let mut failed: HashSet<ChangeHash> = HashSet::new();
        for entry in &self.accepted {
            let result = match entry.env.deps.iter().find(|d| failed.contains(*d)) {
                Some(dep) => Err((
                    RefusalCheck::Dependency,
                    format!("depends on change {dep}, which was refused"),
                )),
                None => doc.apply_changes([entry.change.clone()]).map_err(|e| {
                    (
                        RefusalCheck::Malformed,
                        format!("Automerge cannot apply the change: {e}"),
                    )
                }),
            };
            if let Err((check, reason)) = result {
                let refusal = entry.env.refusal(check, reason);
                failed.insert(entry.env.change_hash);
                self.refused.insert(
                    entry.env.change_hash,
                    RefusedChange {
                        refusal: refusal.clone(),
                        deps: entry.env.deps.clone(),
                    },
                );
                out.push(Outcome::Refused(refusal));
            }
        }
        if !failed.is_empty() {
            let kept = std::mem::take(&mut self.accepted)
                .into_iter()
                .filter(|e| !failed.contains(&e.env.change_hash))
                .collect();
            self.set_accepted(kept);
        }
        self.doc = doc;
    }
}
