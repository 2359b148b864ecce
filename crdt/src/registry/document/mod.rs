//! One registry document as a state machine: envelopes in, outcomes out.
//!
//! [`Document::receive`] takes one envelope from anywhere (the local platform, gossip,
//! anti-entropy, storage at start-up) and returns what became of it, and of any envelope
//! it released or excluded:
//!
//! - checks 1 to 6 run first ([`crate::envelope::check_envelope`]);
//! - check 7: an envelope whose dependencies are not all accepted waits in a buffer
//!   (at most [`MAX_PENDING_PER_AUTHOR`](crate::limits::MAX_PENDING_PER_AUTHOR) per
//!   author from the network; beyond that the oldest are dropped, but never a change this
//!   node accepted before, see [`Document::load_stored`]), as does one citing a record
//!   the chain does not have yet, or one whose revocation frontier cannot be decided yet;
//! - then the author's changes must follow each other (its Automerge sequence number is
//!   one more than the number of its changes in the change's history);
//! - check 8: the change is applied to a fork of the document at its dependencies and
//!   the kind's rules examine the root keys its operations edit and the state it makes;
//!   a refused change never touches the document.
//!   A change whose operations Automerge cannot apply on that fork, or that does not read
//!   back from it as the same change (operations naming predecessors elsewhere in the
//!   document), is refused as malformed;
//! - an author that makes two different changes with one sequence number (which
//!   Automerge cannot hold together) gets both refused, whichever came first.
//!
//! Refusals that any envelope of the same change would get
//! ([`RefusalCheck::refuses_the_change`]) refuse the change for good, and its
//! descendants with it. The others refuse one
//! envelope: another envelope of the same change may still be accepted, and descendants
//! wait for it.
//!
//! The Automerge document is always materialised from the accepted envelopes. When the
//! chain changes (a revocation with its frontier, say), [`Document::rebuild`] re-checks
//! them and rebuilds the document without those now excluded and their descendants, so
//! every node ends in the same state whatever the arrival order.

mod accept;
mod buffer;
mod history;
mod load;
mod rebuild;
mod replay;
mod sealing;

pub use load::Loaded;
pub use sealing::Sealing;

use std::collections::{HashMap, HashSet};

use automerge::{Automerge, Change};

use crate::chain::Chain;
use crate::envelope::check::{check_against_chain, check_signature, check_sizes};
use crate::envelope::{ChangeEnvelope, Refusal, RefusalCheck, Rejection, Wait};
use crate::ids::{ChangeHash, DocId, DocKind, FederationId, PlatformId, RecordHash};
use crate::registry::projects::{read_project, ProjectView};
use buffer::{Buffer, Pending, Waiting};

/// What became of an envelope.
#[derive(Clone, Debug, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum Outcome {
    /// The change is applied to the document; store the envelope.
    Accepted(ChangeEnvelope),
    /// The envelope is refused. A refusal never names a change that stays accepted: if
    /// its change had been accepted before (a revocation or an equivocation came to light
    /// since), it has left the document.
    Refused(Refusal),
    /// The envelope waits (for dependencies, the chain, or the frontier's history).
    Buffered {
        /// The change it carries.
        change_hash: ChangeHash,
    },
    /// A buffered envelope was dropped to keep its author within the buffer cap.
    Dropped {
        /// The change it carried.
        change_hash: ChangeHash,
    },
}

/// An accepted envelope and its decoded change.
#[derive(Clone, Debug)]
struct Entry {
    env: ChangeEnvelope,
    change: Change,
}

/// A change refused for good, with its dependencies (known to be its own), which still
/// count as history for revocation frontiers.
#[derive(Clone, Debug)]
struct RefusedChange {
    refusal: Refusal,
    deps: Vec<ChangeHash>,
}

/// Records `env`'s change as refused because it depends on the refused change `dep`, and
/// returns the refusal.
fn refuse_descendant(
    refused: &mut HashMap<ChangeHash, RefusedChange>,
    env: &ChangeEnvelope,
    dep: &ChangeHash,
) -> Refusal {
    let refusal = env.refusal(
        RefusalCheck::Dependency,
        format!("depends on change {dep}, which was refused"),
    );
    refused.insert(
        env.change_hash,
        RefusedChange {
            refusal: refusal.clone(),
            deps: env.deps.clone(),
        },
    );
    refusal
}

/// A [`Document::past_of`] answer kept: the dependencies asked about (sorted), the
/// length of the accepted list then, and the positions outside their history.
type PastMemo = (Vec<ChangeHash>, usize, Vec<usize>);

/// A registry document built from accepted envelopes.
#[derive(Clone, Debug)]
pub struct Document {
    id: DocId,
    federation: FederationId,
    /// Materialised from `accepted`, in that order; never touched by anything else.
    doc: Automerge,
    /// Accepted envelopes in causal order (each after its dependencies).
    accepted: Vec<Entry>,
    /// Position in `accepted` by change hash.
    index: HashMap<ChangeHash, usize>,
    /// The positions in `accepted` of each accepted change's dependencies: history walks
    /// follow these without a lookup per step.
    dep_positions: Vec<Vec<usize>>,
    /// The last [`Document::past_of`] answer: the dependencies asked about, the length of
    /// the accepted list then, and the positions outside their history.
    past_memo: std::cell::RefCell<Option<PastMemo>>,
    /// The accepted change of each author and sequence number, to detect equivocation.
    seqs: HashMap<(PlatformId, u64), ChangeHash>,
    buffer: Buffer,
    /// Changes refused for good: their descendants are refused too.
    refused: HashMap<ChangeHash, RefusedChange>,
    /// Every change this node accepted, here or before a restart (read back from its
    /// store), so after every check: the buffer never drops one of them while it waits
    /// for its dependencies, and the checks that depend only on its history do not run
    /// again.
    accepted_once: HashSet<ChangeHash>,
    /// While stored envelopes load, accepted changes are not applied one by one (each
    /// application costs the whole document): the document is materialised once at the
    /// end. Only changes accepted before may be accepted meanwhile.
    deferred: bool,
    /// The chain head the accepted set was last checked against.
    chain_head: RecordHash,
    /// How sealed payloads are opened, for a private document.
    sealing: Option<sealing::SealingRef>,
    /// The writer's own change as [`Document::check_own`] last passed it, with the
    /// document it makes: receiving that change next needs neither the checks nor the
    /// application again (each costs the whole document).
    checked: Option<Box<accept::Checked>>,
    /// How many received changes were made again rather than applied (see [`replay`]).
    replayed: u64,
    /// How many replays on the document itself committed another change, so that the
    /// document was rebuilt.
    replay_spoiled: u64,
    /// How many changes made on an older state were judged on the document as it is,
    /// as of their own hash, rather than on a rebuild at their dependencies.
    judged_in_place: u64,
    /// What the rules read of the document when they last applied a change to it, and
    /// the heads it was read at: a project's view, read once per change.
    kept_view: Option<Box<(Vec<automerge::ChangeHash>, ProjectView)>>,
    /// Heads this node vouches for without a change of its own (see
    /// [`Document::vouch_for`]).
    vouchers: Vec<ChangeHash>,
}

impl Document {
    /// An empty document of `chain`'s federation.
    pub fn new(id: DocId, chain: &Chain) -> Document {
        Document {
            id,
            federation: chain.federation(),
            doc: Automerge::new(),
            accepted: Vec::new(),
            index: HashMap::new(),
            dep_positions: Vec::new(),
            past_memo: std::cell::RefCell::new(None),
            seqs: HashMap::new(),
            buffer: Buffer::default(),
            refused: HashMap::new(),
            accepted_once: HashSet::new(),
            deferred: false,
            chain_head: chain.head(),
            sealing: None,
            checked: None,
            replayed: 0,
            replay_spoiled: 0,
            judged_in_place: 0,
            kept_view: None,
            vouchers: Vec::new(),
        }
    }

    /// A document built from envelopes received in the order given, with what became of
    /// each, as if they had come from the network one by one (the buffer cap applies).
    /// A node loading its own store uses [`Document::load_stored`].
    pub fn from_envelopes(
        id: DocId,
        chain: &Chain,
        envelopes: impl IntoIterator<Item = ChangeEnvelope>,
    ) -> (Document, Vec<Outcome>) {
        let mut doc = Document::new(id, chain);
        let mut outcomes = Vec::new();
        for env in envelopes {
            outcomes.extend(doc.receive(chain, env));
        }
        (doc, outcomes)
    }

    /// Like [`Document::from_envelopes`], for a private document whose payloads are
    /// sealed and opened with `sealing`.
    pub fn from_sealed_envelopes(
        id: DocId,
        chain: &Chain,
        envelopes: impl IntoIterator<Item = ChangeEnvelope>,
        sealing: std::sync::Arc<dyn Sealing>,
    ) -> (Document, Vec<Outcome>) {
        let mut doc = Document::new(id, chain);
        doc.set_sealing(sealing);
        let mut outcomes = Vec::new();
        for env in envelopes {
            outcomes.extend(doc.receive(chain, env));
        }
        (doc, outcomes)
    }

    /// The document's id.
    pub fn id(&self) -> DocId {
        self.id
    }

    /// The federation it belongs to.
    pub fn federation(&self) -> FederationId {
        self.federation
    }

    /// The project this document holds, or `None` if it is not a project document or
    /// does not read as one. Read from the document unless the rules read it at its
    /// current heads, when they last accepted a change.
    pub fn project_view(&self) -> Option<ProjectView> {
        if self.id.kind != DocKind::Project {
            return None;
        }
        match self.kept_view.as_deref() {
            Some((heads, view)) if *heads == self.doc.get_heads() => Some(view.clone()),
            _ => read_project(self.id, &self.doc),
        }
    }

    /// Keeps what the rules read of the document as it now is.
    fn keep_view(&mut self, view: Option<ProjectView>) {
        self.kept_view = view.map(|view| Box::new((self.doc.get_heads(), view)));
    }

    /// The Automerge document materialised from the accepted envelopes.
    pub fn automerge(&self) -> &Automerge {
        &self.doc
    }

    /// The document's heads, sorted.
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.doc
            .get_heads()
            .into_iter()
            .map(ChangeHash::from)
            .collect()
    }

    /// The accepted envelopes in causal order: the audit trail of this document.
    pub fn accepted(&self) -> impl ExactSizeIterator<Item = &ChangeEnvelope> {
        self.accepted.iter().map(|e| &e.env)
    }

    /// Whether the change is accepted.
    pub fn is_accepted(&self, change: &ChangeHash) -> bool {
        self.index.contains_key(change)
    }

    /// The changes refused for good (with their descendants), in no particular order.
    pub fn refusals(&self) -> impl Iterator<Item = &Refusal> {
        self.refused.values().map(|r| &r.refusal)
    }

    /// How many envelopes wait in the buffer.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }

    /// How many of the changes this document checked were made again in a transaction
    /// rather than applied by Automerge: the cheap path, which every honest change on
    /// the document's heads should take.
    pub fn replayed(&self) -> u64 {
        self.replayed
    }

    /// How many replays on the document itself committed something other than the
    /// change, so that the document was rebuilt from its accepted changes: none for
    /// changes made by this software.
    pub fn replay_spoiled(&self) -> u64 {
        self.replay_spoiled
    }

    /// How many changes made on an older state this document judged as of their own
    /// hash on the document as it is: the cheap path for a concurrent change, which
    /// every honest one should take.
    pub fn judged_in_place(&self) -> u64 {
        self.judged_in_place
    }

    /// How many envelopes of `author` wait in the buffer.
    pub fn buffered_for(&self, author: &PlatformId) -> usize {
        self.buffer.len_for(author)
    }

    /// Hashes of accepted changes 1, 2, 4, 8, … places back from the newest (at most
    /// `limit`), in that order. Named to a peer with our heads, they let it find where
    /// our histories meet even when it does not know our newest changes: without them,
    /// it could only send its history from the start, one page at a time, and would send
    /// the same first page at every round.
    pub fn history_samples(&self, limit: usize) -> Vec<ChangeHash> {
        let newest = self.accepted.len();
        std::iter::successors(Some(1usize), |d| d.checked_mul(2))
            .take_while(|d| *d < newest)
            .take(limit)
            .filter_map(|d| self.accepted.get(newest - 1 - d))
            .map(|e| e.env.change_hash)
            .collect()
    }

    /// The accepted envelopes that a peer lacks, in causal order, when it holds
    /// `their_heads` and the changes `their_have` (samples of its history, see
    /// [`Document::history_samples`]), with all their ancestors; the first `limit` of
    /// them. Hashes we do not know are ignored (the peer has something we lack).
    pub fn envelopes_missing_from(
        &self,
        their_heads: &[ChangeHash],
        their_have: &[ChangeHash],
        limit: usize,
    ) -> Vec<ChangeEnvelope> {
        // A peer in step, as most are at most ticks, costs no walk of the history.
        let mut sorted = their_heads.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        if !self.deferred && sorted == self.heads() {
            return Vec::new();
        }
        let mut held = their_heads.to_vec();
        held.extend_from_slice(their_have);
        match self.outside_of(&held) {
            Some(missing) => missing
                .into_iter()
                .take(limit)
                .filter_map(|at| self.accepted.get(at))
                .map(|e| e.env.clone())
                .collect(),
            // Still loading: the document's heads are not the accepted changes' yet.
            None => {
                let theirs = history::ancestors(&held, |h| self.accepted_deps(h));
                self.accepted
                    .iter()
                    .filter(|e| !theirs.contains(&e.env.change_hash))
                    .take(limit)
                    .map(|e| e.env.clone())
                    .collect()
            }
        }
    }

    /// Takes one envelope and returns what became of it and of every envelope it released
    /// or excluded. If `chain` has changed since the last call, the document is first
    /// rebuilt against it (see [`Document::rebuild`]).
    pub fn receive(&mut self, chain: &Chain, env: ChangeEnvelope) -> Vec<Outcome> {
        let mut out = Vec::new();
        if chain.head() != self.chain_head {
            out.extend(self.rebuild(chain));
        }
        self.admit(chain, env, &mut out);
        self.release(chain, &mut out);
        self.settle_frontier(chain, &mut out);
        self.release(chain, &mut out);
        out
    }

    /// Runs checks 1 to 6 on a new envelope and places it.
    fn admit(&mut self, chain: &Chain, env: ChangeEnvelope, out: &mut Vec<Outcome>) {
        let hash = env.change_hash;
        if self.index.contains_key(&hash)
            || self.refused.contains_key(&hash)
            || self.buffer.holds(&env)
        {
            return;
        }
        if env.document != self.id {
            let reason = format!("envelope is for {}, not {}", env.document, self.id);
            out.push(Outcome::Refused(
                env.refusal(RefusalCheck::Document, reason),
            ));
            return;
        }
        let checked = match self.checked_own(chain, &env) {
            // This node's own change, which `check_own` passed a moment ago.
            Some(change) => Ok(change),
            None => check_sizes(&env)
                .and_then(|()| check_signature(&env))
                .map_err(Rejection::Refused)
                .and_then(|()| check_against_chain(chain, &env, self, || self.decode(&env))),
        };
        match checked {
            Ok(change) => self.place(chain, env, change, true, out),
            Err(Rejection::Waiting(Wait::Chain { .. })) => self.wait(
                Pending {
                    env,
                    change: None,
                    waiting: Waiting::Chain,
                    trusted: false,
                },
                true,
                out,
            ),
            Err(Rejection::Waiting(Wait::Frontier { change })) => {
                // A revoked platform's change that nothing active built on: recorded as
                // refused so that operators and auditors see it, and held (never
                // applied) in case an active member's change turns out to build on it;
                // if one does, it is accepted and the record cleared.
                let revoked_at = chain
                    .state()
                    .members
                    .get(&env.author)
                    .and_then(|m| m.revoked.as_ref())
                    .map(|r| r.seq);
                let refusal = env.refusal(
                    RefusalCheck::Frontier,
                    format!(
                        "{} was revoked by record {}; this change is outside the revocation's frontier and no active member has built on it",
                        env.author,
                        revoked_at.map_or_else(|| "?".to_string(), |s| s.to_string())
                    ),
                );
                self.wait(
                    Pending {
                        env,
                        change: Some(*change),
                        waiting: Waiting::Frontier,
                        trusted: false,
                    },
                    false,
                    out,
                );
                out.push(Outcome::Refused(refusal));
            }
            Err(Rejection::Refused(refusal)) => self.refuse(&env, None, refusal, out),
        }
    }

    /// Check 7 for an envelope that passed 1 to 6: accept it, buffer it, or refuse it
    /// because a dependency was refused for good. Envelopes this releases are left to
    /// [`Document::release`], so that a long chain of them is not decided recursively.
    fn place(
        &mut self,
        chain: &Chain,
        env: ChangeEnvelope,
        change: Change,
        announce: bool,
        out: &mut Vec<Outcome>,
    ) {
        if let Some(dep) = env.deps.iter().find(|d| self.refused.contains_key(*d)) {
            let reason = format!("depends on change {dep}, which was refused");
            let refusal = env.refusal(RefusalCheck::Dependency, reason);
            self.refuse(&env, Some(&change), refusal, out);
            return;
        }
        if env.deps.iter().all(|d| self.index.contains_key(d)) {
            self.accept(chain, Entry { env, change }, out);
        } else {
            let pending = Pending {
                env,
                change: Some(change),
                waiting: Waiting::Deps,
                trusted: false,
            };
            self.wait(pending, announce, out);
        }
    }

    /// Buffers an envelope (announcing it if it is new) and enforces the author's cap,
    /// which spares a change this node accepted before once its payload is bound to it.
    fn wait(&mut self, mut pending: Pending, announce: bool, out: &mut Vec<Outcome>) {
        let change_hash = pending.env.change_hash;
        pending.trusted |= pending.bound() && self.accepted_once.contains(&change_hash);
        let dropped = self.buffer.push(pending);
        if announce && !dropped.contains(&change_hash) {
            out.push(Outcome::Buffered { change_hash });
        }
        out.extend(
            dropped
                .into_iter()
                .map(|change_hash| Outcome::Dropped { change_hash }),
        );
    }

    /// Records a refusal. One that holds for the change itself is kept against its hash
    /// (so that [`Document::release`] refuses its buffered descendants) once the payload
    /// is known to be that change by that author; `change` is the decoded change if check
    /// 6 has passed.
    fn refuse(
        &mut self,
        env: &ChangeEnvelope,
        change: Option<&Change>,
        refusal: Refusal,
        out: &mut Vec<Outcome>,
    ) {
        if refusal.check.refuses_the_change() && (change.is_some() || self.decode(env).is_ok()) {
            self.refused.insert(
                env.change_hash,
                RefusedChange {
                    refusal: refusal.clone(),
                    deps: env.deps.clone(),
                },
            );
        }
        out.push(Outcome::Refused(refusal));
    }

    /// Accepts or refuses every buffered envelope whose dependencies are now decided,
    /// until none is left.
    fn release(&mut self, chain: &Chain, out: &mut Vec<Outcome>) {
        loop {
            let ready = self.buffer.iter().find_map(|(arrival, p)| {
                if p.waiting != Waiting::Deps {
                    return None;
                }
                let decided = p.env.deps.iter().all(|d| self.index.contains_key(d))
                    || p.env.deps.iter().any(|d| self.refused.contains_key(d));
                decided.then_some(arrival)
            });
            let Some(arrival) = ready else {
                return;
            };
            let Some(pending) = self.buffer.remove(arrival) else {
                return;
            };
            match pending.change {
                Some(change) => self.place(chain, pending.env, change, false, out),
                None => return,
            }
        }
    }
}
