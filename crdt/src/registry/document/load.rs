//! Loading a document from what this node stored: every stored change was accepted here
//! before, so none of them is dropped while its dependencies load, and what cannot be
//! placed is reported rather than left waiting in silence.
//!
//! A store reads envelopes back in key order (by change hash), which is not causal
//! order. They are first put in causal order (each after the dependencies it has among
//! them) so that loading is one pass; the changes are also marked as accepted before, so
//! that the per-author buffer cap, which protects against floods from the network, never
//! applies to them, whatever order they come in.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use super::{Document, Outcome};
use crate::chain::Chain;
use crate::envelope::ChangeEnvelope;
use crate::ids::ChangeHash;

/// What became of a document's stored envelopes.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Outcomes of the changes that were not accepted again: refusals (the chain now
    /// excludes them) and envelopes that wait.
    pub outcomes: Vec<Outcome>,
    /// How many stored envelopes were read.
    pub stored: usize,
    /// How many distinct changes are accepted after loading.
    pub accepted: usize,
    /// Stored changes still waiting for a dependency that is neither stored nor refused:
    /// the store lost part of this document's history.
    pub missing: Vec<ChangeHash>,
}

impl Loaded {
    /// Whether every stored change is accepted again or explicitly refused.
    pub fn is_complete(&self) -> bool {
        self.missing.is_empty()
    }
}

/// `envelopes` with each one after those of its dependencies that are among them.
/// Changes with no dependency inside the set come first, by hash, so the order is the
/// same on every node; envelopes of one change keep their relative order.
pub(super) fn causal_order(envelopes: Vec<ChangeEnvelope>) -> Vec<ChangeEnvelope> {
    let mut by_hash: BTreeMap<ChangeHash, Vec<ChangeEnvelope>> = BTreeMap::new();
    for env in envelopes {
        by_hash.entry(env.change_hash).or_default().push(env);
    }
    let mut waiting_on: HashMap<ChangeHash, usize> = HashMap::new();
    let mut children: HashMap<ChangeHash, Vec<ChangeHash>> = HashMap::new();
    for (hash, envs) in &by_hash {
        // Every envelope of one change names the same dependencies once bound; an
        // unbound one naming others is refused on admission, whatever its place.
        let deps: HashSet<ChangeHash> = envs
            .iter()
            .flat_map(|e| e.deps.iter().copied())
            .filter(|d| by_hash.contains_key(d) && d != hash)
            .collect();
        waiting_on.insert(*hash, deps.len());
        for dep in deps {
            children.entry(dep).or_default().push(*hash);
        }
    }
    let mut ready: VecDeque<ChangeHash> = waiting_on
        .iter()
        .filter(|(_, n)| **n == 0)
        .map(|(h, _)| *h)
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut ordered = Vec::with_capacity(by_hash.len());
    while let Some(hash) = ready.pop_front() {
        if let Some(envs) = by_hash.remove(&hash) {
            ordered.extend(envs);
        }
        for child in children.remove(&hash).unwrap_or_default() {
            if let Some(n) = waiting_on.get_mut(&child) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    ready.push_back(child);
                }
            }
        }
    }
    // A cycle cannot be made with hashes; whatever is left is placed last and waits.
    ordered.extend(by_hash.into_values().flatten());
    ordered
}

impl Document {
    /// Like [`Document::receive`], for an envelope this node stored after accepting it:
    /// it is never dropped from the buffer while it waits for its dependencies.
    pub fn receive_stored(&mut self, chain: &Chain, env: ChangeEnvelope) -> Vec<Outcome> {
        self.accepted_once.insert(env.change_hash);
        self.receive(chain, env)
    }

    /// Loads stored envelopes (in any order) into this empty document and reports what
    /// became of them. Accepting them again is not reported (they were accepted before);
    /// refusals are, since the chain may exclude now what it allowed then.
    pub fn load_stored(
        &mut self,
        chain: &Chain,
        envelopes: impl IntoIterator<Item = ChangeEnvelope>,
    ) -> Loaded {
        let envelopes: Vec<ChangeEnvelope> = envelopes.into_iter().collect();
        let stored = envelopes.len();
        for env in &envelopes {
            self.accepted_once.insert(env.change_hash);
        }
        let mut outcomes = Vec::new();
        self.deferred = true;
        for env in causal_order(envelopes) {
            outcomes.extend(self.receive(chain, env));
        }
        if self.deferred {
            self.deferred = false;
            self.materialise(&mut outcomes);
        }
        // A revoked platform's change waits while what vouches for it has not loaded yet
        // (it comes later in causal order); accepted by the end, it was never refused.
        outcomes.retain(|o| match o {
            Outcome::Accepted(_) => false,
            Outcome::Refused(r) => !self.index.contains_key(&r.change_hash),
            _ => true,
        });
        // A change of a revoked platform that no active member built on waits, as it
        // should; what is missing is a dependency held nowhere, not even waiting.
        let missing: Vec<ChangeHash> = self
            .buffer
            .iter()
            .filter(|(_, p)| {
                p.env.deps.iter().any(|d| {
                    !self.index.contains_key(d)
                        && !self.refused.contains_key(d)
                        && self.buffer.bound_entry(d).is_none()
                })
            })
            .map(|(_, p)| p.env.change_hash)
            .collect();
        Loaded {
            outcomes,
            stored,
            accepted: self.accepted.len(),
            missing,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{DocId, FederationId, PlatformId, RecordHash, Signature};

    fn env(n: u8, deps: &[u8]) -> ChangeEnvelope {
        ChangeEnvelope {
            federation: FederationId([1; 32]),
            document: DocId::platforms_registry(&FederationId([1; 32])),
            cited_seq: 0,
            cited_record: RecordHash([0; 32]),
            author: PlatformId([1; 32]),
            change_hash: ChangeHash([n; 32]),
            deps: deps.iter().map(|d| ChangeHash([*d; 32])).collect(),
            payload: vec![],
            signature: Signature([0; 64]),
        }
    }

    fn position(order: &[ChangeEnvelope], n: u8) -> usize {
        order
            .iter()
            .position(|e| e.change_hash == ChangeHash([n; 32]))
            .unwrap_or(usize::MAX)
    }

    #[test]
    fn every_change_comes_after_its_dependencies_whatever_the_input_order() {
        // 9 <- 5 <- 7, 9 <- 3, {7, 3} <- 1, and 2 depends on a change not in the set.
        let graph = [
            env(9, &[]),
            env(5, &[9]),
            env(7, &[5]),
            env(3, &[9]),
            env(1, &[7, 3]),
            env(2, &[200]),
        ];
        let edges: [(u8, u8); 5] = [(5, 9), (7, 5), (3, 9), (1, 7), (1, 3)];
        let mut input: Vec<ChangeEnvelope> = graph.to_vec();
        for rotation in 0..input.len() {
            input.rotate_left(1);
            if rotation % 2 == 1 {
                input.reverse();
            }
            let order = causal_order(input.clone());
            assert_eq!(order.len(), graph.len(), "nothing lost");
            for (child, dep) in edges {
                assert!(
                    position(&order, dep) < position(&order, child),
                    "{dep} before {child} in rotation {rotation}"
                );
            }
        }
    }
}
