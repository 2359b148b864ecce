//! Ancestry over a document's known changes: for revocation frontiers (check 5), for the
//! author sequence rule and for anti-entropy.

use std::collections::{HashMap, HashSet};

use super::Document;
use crate::envelope::{FrontierHistory, FrontierStatus};
use crate::ids::ChangeHash;

/// Whether `change` is one of `heads` or an ancestor of one, walking dependencies as
/// `deps_of` knows them (`None` for a change it does not know).
pub(super) fn frontier_status<'a>(
    change: &ChangeHash,
    heads: &[ChangeHash],
    deps_of: impl Fn(&ChangeHash) -> Option<&'a [ChangeHash]>,
) -> FrontierStatus {
    if heads.contains(change) {
        return FrontierStatus::Within;
    }
    let mut seen: HashSet<ChangeHash> = heads.iter().copied().collect();
    let mut stack: Vec<ChangeHash> = heads.to_vec();
    let mut complete = true;
    while let Some(hash) = stack.pop() {
        let Some(deps) = deps_of(&hash) else {
            complete = false;
            continue;
        };
        for dep in deps {
            if dep == change {
                return FrontierStatus::Within;
            }
            if seen.insert(*dep) {
                stack.push(*dep);
            }
        }
    }
    if complete {
        FrontierStatus::Outside
    } else {
        FrontierStatus::Unknown
    }
}

/// Every known change reachable from `from` (included), walking dependencies; unknown
/// hashes are skipped.
pub(super) fn ancestors<'a>(
    from: &[ChangeHash],
    deps_of: impl Fn(&ChangeHash) -> Option<&'a [ChangeHash]>,
) -> HashSet<ChangeHash> {
    let mut seen = HashSet::new();
    let mut stack: Vec<ChangeHash> = from.to_vec();
    while let Some(hash) = stack.pop() {
        let Some(deps) = deps_of(&hash) else {
            continue;
        };
        if !seen.insert(hash) {
            continue;
        }
        stack.extend(deps.iter().filter(|d| !seen.contains(*d)).copied());
    }
    seen
}

/// A frozen copy of the known dependency graph, used while a document is rebuilt, with
/// the changes still-active members built on.
pub(super) struct Snapshot(
    pub HashMap<ChangeHash, Vec<ChangeHash>>,
    pub HashSet<ChangeHash>,
);

impl FrontierHistory for Snapshot {
    fn frontier_status(&self, change: &ChangeHash, heads: &[ChangeHash]) -> FrontierStatus {
        frontier_status(change, heads, |h| self.0.get(h).map(Vec::as_slice))
    }

    fn vouched(&self, change: &ChangeHash, _chain: &crate::chain::Chain) -> bool {
        self.1.contains(change)
    }
}

/// Positions in `accepted` of the changes reachable from `ours` but not from `theirs`,
/// ascending: what a peer holding `theirs` (and every ancestor) lacks of what we hold.
///
/// Positions are a topological order (a change is accepted after its dependencies), so
/// walking down from the highest position settles each change once every change that
/// could reach it has been seen, and the walk stops as soon as nothing queued is ours
/// alone: the cost is the changes since the histories met, not the whole history (a
/// peer a few changes behind on a long history costs a few steps, as with Git's
/// negotiation of common commits).
pub(super) fn missing_positions<'a>(
    count: usize,
    ours: &[usize],
    theirs: &[usize],
    deps_of: impl Fn(usize) -> &'a [usize],
) -> Vec<usize> {
    const OURS: u8 = 1;
    const THEIRS: u8 = 2;
    /// Adds `flag` to the change at `at`, queueing it when first seen.
    fn mark(
        flags: &mut [u8],
        queue: &mut std::collections::BinaryHeap<usize>,
        ours_only: &mut usize,
        at: usize,
        flag: u8,
    ) {
        let Some(old) = flags.get(at).copied() else {
            return;
        };
        let new = old | flag;
        if new == old {
            return;
        }
        if old == 0 {
            queue.push(at);
        }
        if old == OURS {
            *ours_only -= 1;
        }
        if new == OURS {
            *ours_only += 1;
        }
        flags[at] = new;
    }
    // One byte per change: cheaper than hashing positions, even for a long history.
    let mut flags = vec![0u8; count];
    let mut queue = std::collections::BinaryHeap::new();
    // Queued changes marked ours alone: while there are none, nothing more is missing.
    let mut ours_only = 0usize;
    for &at in ours {
        mark(&mut flags, &mut queue, &mut ours_only, at, OURS);
    }
    for &at in theirs {
        mark(&mut flags, &mut queue, &mut ours_only, at, THEIRS);
    }
    let mut missing = Vec::new();
    while ours_only > 0 {
        let Some(at) = queue.pop() else { break };
        let flag = flags[at];
        if flag == OURS {
            ours_only -= 1;
            missing.push(at);
        }
        for &dep in deps_of(at) {
            mark(&mut flags, &mut queue, &mut ours_only, dep, flag);
        }
    }
    missing.reverse();
    missing
}

/// The accepted changes in the history of a change's dependencies.
pub(super) enum Past<'a> {
    /// Every accepted change but those at these positions, ascending (what we hold that
    /// the change's author did not): a window since the histories met, not the history.
    AllBut(&'a HashMap<ChangeHash, usize>, Vec<usize>),
    /// These changes (while loading, when the document's heads are not known yet).
    Only(HashSet<ChangeHash>),
}

impl Past<'_> {
    /// Whether `change` is in that history.
    pub(super) fn contains(&self, change: &ChangeHash) -> bool {
        match self {
            Past::AllBut(index, outside) => index
                .get(change)
                .is_some_and(|at| outside.binary_search(at).is_err()),
            Past::Only(set) => set.contains(change),
        }
    }
}

impl Document {
    /// The accepted changes in the history of `deps` (all accepted), found by walking
    /// down from our heads until the walk meets that history (see
    /// [`missing_positions`]), so that a change made a few changes behind costs a few
    /// steps however long the history.
    ///
    /// The sequence, epoch and in-place checks of one change each ask; the last answer is
    /// kept for as long as the accepted list does not change.
    pub(super) fn past_of(&self, deps: &[ChangeHash]) -> Past<'_> {
        let mut key = deps.to_vec();
        key.sort_unstable();
        let kept = self
            .past_memo
            .borrow()
            .as_ref()
            .and_then(|(k, len, outside)| {
                (*k == key && *len == self.accepted.len()).then(|| outside.clone())
            });
        if let Some(outside) = kept {
            return Past::AllBut(&self.index, outside);
        }
        match self.outside_of(deps) {
            Some(outside) => {
                *self.past_memo.borrow_mut() = Some((key, self.accepted.len(), outside.clone()));
                Past::AllBut(&self.index, outside)
            }
            None => Past::Only(ancestors(deps, |h| self.accepted_deps(h))),
        }
    }

    /// The positions of the accepted changes outside the history of `held` (accepted
    /// changes; others are ignored), ascending; `None` while the document's heads are not
    /// all accepted changes (loading).
    pub(super) fn outside_of(&self, held: &[ChangeHash]) -> Option<Vec<usize>> {
        if self.deferred {
            return None;
        }
        let ours: Option<Vec<usize>> = self
            .heads()
            .iter()
            .map(|h| self.index.get(h).copied())
            .collect();
        let theirs = self.positions(held);
        let deps_of = |at: usize| self.dep_positions.get(at).map_or(&[][..], Vec::as_slice);
        Some(missing_positions(
            self.accepted.len(),
            &ours?,
            &theirs,
            deps_of,
        ))
    }

    /// Whether a change with these dependencies has every accepted change in its
    /// history: they are the document's heads. The usual case (a writer builds on all it
    /// holds), in which the checks of its history need no walk of the graph.
    pub(super) fn builds_on_everything(&self, deps: &[ChangeHash]) -> bool {
        if self.deferred {
            return false;
        }
        let mut heads = self.heads();
        heads.sort_unstable();
        let mut deps = deps.to_vec();
        deps.sort_unstable();
        deps == heads
    }

    /// The dependencies of an accepted change.
    pub(super) fn accepted_deps(&self, hash: &ChangeHash) -> Option<&[ChangeHash]> {
        self.index
            .get(hash)
            .and_then(|i| self.accepted.get(*i))
            .map(|e| e.env.deps.as_slice())
    }

    /// The dependencies of any change whose envelope is known to carry it: accepted,
    /// buffered after check 6, or refused for good.
    pub(super) fn known_deps(&self, hash: &ChangeHash) -> Option<&[ChangeHash]> {
        if let Some(deps) = self.accepted_deps(hash) {
            return Some(deps);
        }
        if let Some(p) = self.buffer.bound_entry(hash) {
            return Some(&p.env.deps);
        }
        self.refused.get(hash).map(|r| r.deps.as_slice())
    }

    /// A copy of the known dependency graph.
    pub(super) fn snapshot(&self) -> Snapshot {
        let mut graph: HashMap<ChangeHash, Vec<ChangeHash>> = HashMap::new();
        for e in &self.accepted {
            graph.insert(e.env.change_hash, e.env.deps.clone());
        }
        for (_, p) in self.buffer.iter().filter(|(_, p)| p.bound()) {
            graph.insert(p.env.change_hash, p.env.deps.clone());
        }
        for (hash, r) in &self.refused {
            graph.insert(*hash, r.deps.clone());
        }
        Snapshot(graph, HashSet::new())
    }
}

impl FrontierHistory for Document {
    fn frontier_status(&self, change: &ChangeHash, heads: &[ChangeHash]) -> FrontierStatus {
        frontier_status(change, heads, |h| self.known_deps(h))
    }

    fn vouched(&self, change: &ChangeHash, chain: &crate::chain::Chain) -> bool {
        self.vouched_set(chain).contains(change)
    }
}

impl Document {
    /// Every change in the causal past (excluded) of a change by a member that `chain`
    /// does not revoke, among the accepted changes and the bound buffered ones (which
    /// passed checks 1 to 6). Costs the document's history: it is only asked for changes
    /// of revoked authors.
    pub(super) fn vouched_set(&self, chain: &crate::chain::Chain) -> HashSet<ChangeHash> {
        let state = chain.state();
        let active = |author: &crate::ids::PlatformId| {
            state
                .members
                .get(author)
                .is_some_and(|m| m.revoked.is_none())
        };
        let mut from: Vec<ChangeHash> = self
            .accepted
            .iter()
            .filter(|e| active(&e.env.author))
            .flat_map(|e| e.env.deps.iter().copied())
            .collect();
        from.extend(
            self.buffer
                .iter()
                .filter(|(_, p)| p.bound() && active(&p.env.author))
                .flat_map(|(_, p)| p.env.deps.iter().copied()),
        );
        from.extend(self.vouchers.iter().copied());
        ancestors(&from, |h| self.known_deps(h))
    }

    /// Vouches for `heads` and their past as this node's own acknowledgement of a
    /// revocation, where it may not write one: a platform a private document was
    /// unshared from keeps what it held when it learned of the revocation, though no
    /// member of the audience can tell it what they acknowledged. The caller stores the
    /// heads and vouches for them again when it loads the document.
    pub fn vouch_for(&mut self, heads: &[ChangeHash]) {
        for head in heads {
            if !self.vouchers.contains(head) {
                self.vouchers.push(*head);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(n: u8) -> ChangeHash {
        ChangeHash([n; 32])
    }

    #[test]
    fn frontier_walks_dependencies() {
        // 1 <- 2 <- 3, and 4 on 1.
        let graph = Snapshot(
            HashMap::from([
                (h(1), vec![]),
                (h(2), vec![h(1)]),
                (h(3), vec![h(2)]),
                (h(4), vec![h(1)]),
            ]),
            HashSet::new(),
        );
        assert_eq!(
            graph.frontier_status(&h(3), &[h(3)]),
            FrontierStatus::Within
        );
        assert_eq!(
            graph.frontier_status(&h(1), &[h(3)]),
            FrontierStatus::Within
        );
        assert_eq!(
            graph.frontier_status(&h(4), &[h(3)]),
            FrontierStatus::Outside
        );
        assert_eq!(graph.frontier_status(&h(4), &[]), FrontierStatus::Outside);
        assert_eq!(
            graph.frontier_status(&h(4), &[h(9)]),
            FrontierStatus::Unknown
        );
    }

    #[test]
    fn ancestors_include_the_start() {
        let graph = HashMap::from([(h(1), vec![]), (h(2), vec![h(1)])]);
        let a = ancestors(&[h(2), h(7)], |x| graph.get(x).map(Vec::as_slice));
        assert_eq!(a, HashSet::from([h(1), h(2)]));
    }

    /// Every change of a random graph reachable from `from`, by brute force.
    fn reachable(deps: &[Vec<usize>], from: &[usize]) -> HashSet<usize> {
        let mut seen = HashSet::new();
        let mut stack = from.to_vec();
        while let Some(at) = stack.pop() {
            if seen.insert(at) {
                stack.extend(&deps[at]);
            }
        }
        seen
    }

    #[test]
    fn missing_positions_are_ours_minus_theirs_on_random_histories() {
        use rand::{Rng, SeedableRng};
        for seed in 0..300u64 {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            let n = rng.random_range(1..60usize);
            // Each change depends on up to three earlier ones: a topological order.
            let deps: Vec<Vec<usize>> = (0..n)
                .map(|i| {
                    let k = if i == 0 {
                        0
                    } else {
                        rng.random_range(0..=3usize.min(i))
                    };
                    let mut d: Vec<usize> = (0..k).map(|_| rng.random_range(0..i)).collect();
                    d.sort_unstable();
                    d.dedup();
                    d
                })
                .collect();
            let pick = |rng: &mut rand::rngs::StdRng| -> Vec<usize> {
                let k = rng.random_range(0..4usize);
                (0..k).map(|_| rng.random_range(0..n)).collect()
            };
            let ours = pick(&mut rng);
            let theirs = pick(&mut rng);
            let expected: Vec<usize> = {
                let held = reachable(&deps, &theirs);
                let mut v: Vec<usize> = reachable(&deps, &ours)
                    .into_iter()
                    .filter(|at| !held.contains(at))
                    .collect();
                v.sort_unstable();
                v
            };
            let got = missing_positions(n, &ours, &theirs, |at| deps[at].as_slice());
            assert_eq!(
                got, expected,
                "seed {seed}: ours {ours:?}, theirs {theirs:?}"
            );
        }
    }

    #[test]
    fn a_peer_one_change_behind_costs_one_step() {
        // A line of 10,000 changes; the peer holds all but the last.
        let steps = std::cell::Cell::new(0usize);
        let line: Vec<Vec<usize>> = (0..10_000)
            .map(|at| if at == 0 { vec![] } else { vec![at - 1] })
            .collect();
        let got = missing_positions(line.len(), &[9_999], &[9_998], |at| {
            steps.set(steps.get() + 1);
            line[at].as_slice()
        });
        assert_eq!(got, vec![9_999]);
        assert!(steps.get() <= 2, "walked {} changes", steps.get());
    }
}
