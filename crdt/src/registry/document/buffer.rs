//! The buffer of envelopes that cannot be decided yet, capped per author.
//!
//! The cap protects the node from a flood: a peer cannot make it hold more than
//! [`MAX_PENDING_PER_AUTHOR`] undecided envelopes of one author. It does not apply to
//! changes this node accepted before (read back from its store, or demoted by a chain
//! change): those are the node's own history, and dropping one would lose it for good
//! when every node drops the same one.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::Change;

use crate::envelope::ChangeEnvelope;
use crate::ids::{ChangeHash, PlatformId};
use crate::limits::MAX_PENDING_PER_AUTHOR;

/// What a buffered envelope waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Waiting {
    /// Checks 1 to 6 passed; some dependencies are not accepted yet.
    Deps,
    /// Its author is revoked and the history behind the frontier is incomplete; checks 1
    /// to 6 passed otherwise.
    Frontier,
    /// It cites a record our chain does not have yet; only checks 1 and 2 passed.
    Chain,
}

/// One buffered envelope.
#[derive(Clone, Debug)]
pub(super) struct Pending {
    pub env: ChangeEnvelope,
    /// The decoded change, once check 6 has passed (always for `Deps` and `Frontier`).
    pub change: Option<Change>,
    pub waiting: Waiting,
    /// This node accepted the change before: it is never dropped and does not count
    /// against its author's cap.
    pub trusted: bool,
}

impl Pending {
    /// Whether the payload is known to be the change its envelope names (check 6 passed),
    /// so that the envelope speaks for that change hash.
    pub fn bound(&self) -> bool {
        self.change.is_some()
    }
}

/// Buffered envelopes in arrival order.
#[derive(Clone, Debug, Default)]
pub(super) struct Buffer {
    /// By arrival number.
    entries: BTreeMap<u64, Pending>,
    /// Arrival numbers of bound entries, by change hash (one per hash).
    bound: HashMap<ChangeHash, u64>,
    /// Arrival numbers of untrusted entries per author, to enforce the cap.
    per_author: HashMap<PlatformId, BTreeSet<u64>>,
    next: u64,
}

impl Buffer {
    /// Adds an entry; returns the change hashes of the entries dropped to stay within the
    /// author's cap (oldest first).
    pub fn push(&mut self, pending: Pending) -> Vec<ChangeHash> {
        let arrival = self.next;
        self.next += 1;
        let author = pending.env.author;
        if pending.bound() {
            self.bound.insert(pending.env.change_hash, arrival);
        }
        let trusted = pending.trusted;
        self.entries.insert(arrival, pending);
        let mut dropped = Vec::new();
        if trusted {
            return dropped;
        }
        self.per_author.entry(author).or_default().insert(arrival);
        while self
            .per_author
            .get(&author)
            .is_some_and(|a| a.len() > MAX_PENDING_PER_AUTHOR)
        {
            let oldest = self
                .per_author
                .get(&author)
                .and_then(|a| a.first().copied());
            match oldest.and_then(|a| self.remove(a)) {
                Some(p) => dropped.push(p.env.change_hash),
                None => break,
            }
        }
        dropped
    }

    /// Removes the entry with this arrival number.
    pub fn remove(&mut self, arrival: u64) -> Option<Pending> {
        let pending = self.entries.remove(&arrival)?;
        if self.bound.get(&pending.env.change_hash) == Some(&arrival) {
            self.bound.remove(&pending.env.change_hash);
        }
        if let Some(set) = self.per_author.get_mut(&pending.env.author) {
            set.remove(&arrival);
            if set.is_empty() {
                self.per_author.remove(&pending.env.author);
            }
        }
        Some(pending)
    }

    /// Takes every entry out, in arrival order.
    pub fn take_all(&mut self) -> Vec<Pending> {
        let entries = std::mem::take(&mut self.entries);
        self.bound.clear();
        self.per_author.clear();
        entries.into_values().collect()
    }

    /// The bound entry for this change hash.
    pub fn bound_entry(&self, hash: &ChangeHash) -> Option<&Pending> {
        self.bound.get(hash).and_then(|a| self.entries.get(a))
    }

    /// Whether this exact envelope is buffered already.
    pub fn holds(&self, env: &ChangeEnvelope) -> bool {
        self.bound.contains_key(&env.change_hash) || self.entries.values().any(|p| &p.env == env)
    }

    /// Entries in arrival order, with their arrival numbers.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Pending)> {
        self.entries.iter().map(|(a, p)| (*a, p))
    }

    /// How many envelopes wait.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// How many envelopes of `author` that count against its cap wait.
    pub fn len_for(&self, author: &PlatformId) -> usize {
        self.per_author.get(author).map_or(0, BTreeSet::len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{DocId, FederationId, RecordHash, Signature};

    fn env(author: u8, n: u32) -> ChangeEnvelope {
        let mut hash = [0u8; 32];
        hash[0] = author;
        hash[1..5].copy_from_slice(&n.to_be_bytes());
        ChangeEnvelope {
            federation: FederationId([1; 32]),
            document: DocId::platforms_registry(&FederationId([1; 32])),
            cited_seq: 0,
            cited_record: RecordHash([0; 32]),
            author: PlatformId([author; 32]),
            change_hash: ChangeHash(hash),
            deps: vec![],
            payload: vec![],
            signature: Signature([0; 64]),
        }
    }

    fn pending(author: u8, n: u32) -> Pending {
        Pending {
            env: env(author, n),
            change: None,
            waiting: Waiting::Chain,
            trusted: false,
        }
    }

    #[test]
    fn trusted_entries_are_never_dropped_and_do_not_count() {
        let mut buffer = Buffer::default();
        let total = MAX_PENDING_PER_AUTHOR as u32 * 3;
        for n in 0..total {
            let entry = Pending {
                trusted: true,
                ..pending(1, n)
            };
            assert!(buffer.push(entry).is_empty(), "trusted entry {n} dropped");
        }
        assert_eq!(buffer.len(), total as usize);
        assert_eq!(buffer.len_for(&PlatformId([1; 32])), 0);
        // The untrusted entries of the same author still meet the cap, and only they are
        // dropped.
        for n in 0..=MAX_PENDING_PER_AUTHOR as u32 {
            buffer.push(pending(1, total + n));
        }
        assert_eq!(buffer.len_for(&PlatformId([1; 32])), MAX_PENDING_PER_AUTHOR);
        assert_eq!(buffer.len(), total as usize + MAX_PENDING_PER_AUTHOR);
        assert!(buffer.holds(&env(1, 0)));
        assert!(!buffer.holds(&env(1, total)));
    }

    #[test]
    fn the_oldest_of_an_author_is_dropped_beyond_the_cap() {
        let mut buffer = Buffer::default();
        assert!(buffer.push(pending(2, 0)).is_empty());
        for n in 0..MAX_PENDING_PER_AUTHOR as u32 {
            assert!(buffer.push(pending(1, n)).is_empty());
        }
        let dropped = buffer.push(pending(1, 9_999));
        assert_eq!(dropped, vec![env(1, 0).change_hash]);
        assert_eq!(buffer.len_for(&PlatformId([1; 32])), MAX_PENDING_PER_AUTHOR);
        assert_eq!(buffer.len_for(&PlatformId([2; 32])), 1);
        assert_eq!(buffer.len(), MAX_PENDING_PER_AUTHOR + 1);
        assert!(buffer.holds(&env(1, 9_999)));
        assert!(!buffer.holds(&env(1, 0)));
    }

    #[test]
    fn take_all_keeps_arrival_order_and_empties() {
        let mut buffer = Buffer::default();
        for n in 0..3 {
            buffer.push(pending(1, n));
        }
        let order: Vec<ChangeHash> = buffer
            .take_all()
            .into_iter()
            .map(|p| p.env.change_hash)
            .collect();
        assert_eq!(
            order,
            (0..3).map(|n| env(1, n).change_hash).collect::<Vec<_>>()
        );
        assert_eq!(buffer.len(), 0);
        assert_eq!(buffer.len_for(&PlatformId([1; 32])), 0);
    }
}
