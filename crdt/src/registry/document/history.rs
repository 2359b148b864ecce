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

impl Document {
    /// The dependencies of an accepted change.
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
}
