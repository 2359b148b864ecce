//! Pushes to each peer, in order and one at a time.
//!
//! Our changes go to the other platforms of a document's audience as they are made. Sent
//! as one request each, concurrently, they cost a request per change and per peer and
//! arrive in any order, so that a peer receiving a change before its dependency holds it
//! and asks us for our history. Here each peer and federation has a queue: at most one
//! push is in flight, and when its answer comes the next takes everything queued since
//! (up to the per-push limits). Under load a push carries many changes for the cost of
//! one; idle, a change leaves at once. A push that fails is not sent again: anti-entropy
//! carries what it held.
//!
//! What a change of ours needs before it leaves: the batch that stored it durable (see
//! `durability.rs`). Entries are stamped with that batch's ticket when the input that
//! queued them ends, and only those whose ticket is durable are sent.

use std::collections::{HashMap, VecDeque};

use fed_crdt::envelope::ChangeEnvelope;
use fed_crdt::ids::{FederationId, PlatformId};
use fed_crdt::seal::KeyGrant;

use crate::protocol::{MAX_ENVELOPES_PER_PUSH, MAX_GRANTS_PER_PUSH};

/// Most envelopes queued for one peer in one federation; past it, new ones are not
/// queued (anti-entropy carries them), so a peer that stopped answering costs bounded
/// memory.
pub const MAX_QUEUED_PUSH_ENVELOPES: usize = 4_096;

/// What leaves in one push.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub(crate) envelopes: Vec<ChangeEnvelope>,
    pub(crate) grants: Vec<KeyGrant>,
}

/// One queued item with the ticket that must be durable before it leaves (`None`: the
/// input being handled, stamped when it ends).
type Stamped<T> = (Option<u64>, T);

#[derive(Default)]
struct Queue {
    envelopes: VecDeque<Stamped<ChangeEnvelope>>,
    grants: VecDeque<Stamped<KeyGrant>>,
    in_flight: bool,
}

/// The push queues of an engine, by peer and federation.
#[derive(Default)]
pub(crate) struct Pushes {
    queues: HashMap<(PlatformId, FederationId), Queue>,
    /// Envelopes not queued because a queue was full.
    dropped: u64,
}

impl Pushes {
    /// Queues envelopes and grants for `peer`, to leave once the current input's batch
    /// is durable.
    pub(crate) fn queue(
        &mut self,
        peer: PlatformId,
        federation: FederationId,
        envelopes: Vec<ChangeEnvelope>,
        grants: Vec<KeyGrant>,
    ) {
        let queue = self.queues.entry((peer, federation)).or_default();
        for env in envelopes {
            if queue.envelopes.len() >= MAX_QUEUED_PUSH_ENVELOPES {
                self.dropped += 1;
                continue;
            }
            queue.envelopes.push_back((None, env));
        }
        queue.grants.extend(grants.into_iter().map(|g| (None, g)));
    }

    /// The input being handled ended: what it queued waits for `ticket` (0 when it
    /// wrote nothing, so nothing to wait for).
    pub(crate) fn stamp(&mut self, ticket: u64) {
        for queue in self.queues.values_mut() {
            // Stamped entries come first: the input's own are at the back.
            let envelopes = queue.envelopes.iter_mut().rev().map(|(s, _)| s);
            let grants = queue.grants.iter_mut().rev().map(|(s, _)| s);
            for stamp in envelopes.take_while(|s| s.is_none()) {
                *stamp = Some(ticket);
            }
            for stamp in grants.take_while(|s| s.is_none()) {
                *stamp = Some(ticket);
            }
        }
    }

    /// The pushes to send now, with every ticket up to `durable` durable: one per queue
    /// with no push in flight and something ready, which is then in flight.
    pub(crate) fn ready(&mut self, durable: u64) -> Vec<(PlatformId, FederationId, Batch)> {
        let is_ready = |s: &Option<u64>| s.is_some_and(|t| t <= durable);
        let mut out = Vec::new();
        for (key, queue) in &mut self.queues {
            if queue.in_flight {
                continue;
            }
            let mut batch = Batch::default();
            while batch.envelopes.len() < MAX_ENVELOPES_PER_PUSH
                && queue.envelopes.front().is_some_and(|(s, _)| is_ready(s))
            {
                if let Some((_, env)) = queue.envelopes.pop_front() {
                    batch.envelopes.push(env);
                }
            }
            while batch.grants.len() < MAX_GRANTS_PER_PUSH
                && queue.grants.front().is_some_and(|(s, _)| is_ready(s))
            {
                if let Some((_, grant)) = queue.grants.pop_front() {
                    batch.grants.push(grant);
                }
            }
            if !batch.envelopes.is_empty() || !batch.grants.is_empty() {
                queue.in_flight = true;
                out.push((key.0, key.1, batch));
            }
        }
        // The same order whatever the map's: the simulator replays runs.
        out.sort_by_key(|(peer, federation, _)| (*peer, *federation));
        out
    }

    /// The push in flight to `peer` was answered (or failed): the next may leave.
    pub(crate) fn answered(&mut self, peer: PlatformId, federation: FederationId) {
        if let Some(queue) = self.queues.get_mut(&(peer, federation)) {
            queue.in_flight = false;
            if queue.envelopes.is_empty() && queue.grants.is_empty() {
                self.queues.remove(&(peer, federation));
            }
        }
    }

    /// `peer` disconnected: what was queued for it is dropped (when it connects again,
    /// each side fetches what it lacks from the other).
    pub(crate) fn forget_peer(&mut self, peer: &PlatformId) {
        self.queues.retain(|(p, _), _| p != peer);
    }

    /// Batches after `durable` failed: what they queued is dropped with them (those
    /// changes are undone).
    pub(crate) fn drop_after(&mut self, durable: u64) {
        let failed = |s: &Option<u64>| s.is_some_and(|t| t > durable);
        for queue in self.queues.values_mut() {
            queue.envelopes.retain(|(s, _)| !failed(s));
            queue.grants.retain(|(s, _)| !failed(s));
        }
    }

    /// Envelopes not queued because a peer's queue was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use fed_crdt::ids::{ChangeHash, DocId, RecordHash, Signature};

    fn peer(n: u8) -> PlatformId {
        PlatformId::from(&SigningKey::from_bytes(&[n; 32]))
    }

    fn federation() -> FederationId {
        FederationId([9; 32])
    }

    /// A distinct envelope (only its identity matters here).
    fn env(n: u8) -> ChangeEnvelope {
        ChangeEnvelope {
            federation: federation(),
            document: DocId::platforms_registry(&federation()),
            cited_seq: 0,
            cited_record: RecordHash([0; 32]),
            author: peer(7),
            change_hash: ChangeHash([n; 32]),
            deps: Vec::new(),
            payload: Vec::new(),
            signature: Signature([0; 64]),
        }
    }

    #[test]
    fn a_change_leaves_only_once_its_batch_is_durable() {
        let mut pushes = Pushes::default();
        pushes.queue(peer(1), federation(), vec![env(1)], Vec::new());
        assert!(
            pushes.ready(10).is_empty(),
            "unstamped: the input is not over"
        );
        pushes.stamp(3);
        assert!(pushes.ready(2).is_empty(), "batch 3 is not durable yet");
        let sent = pushes.ready(3);
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].2.envelopes, vec![env(1)]);
    }

    #[test]
    fn one_push_in_flight_per_peer_and_the_next_takes_what_queued_meanwhile() {
        let mut pushes = Pushes::default();
        pushes.queue(peer(1), federation(), vec![env(1)], Vec::new());
        pushes.stamp(0);
        assert_eq!(pushes.ready(0).len(), 1);
        for n in 2..=4 {
            pushes.queue(peer(1), federation(), vec![env(n)], Vec::new());
            pushes.stamp(0);
        }
        assert!(pushes.ready(0).is_empty(), "the first push is in flight");
        pushes.answered(peer(1), federation());
        let sent = pushes.ready(0);
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].2.envelopes,
            vec![env(2), env(3), env(4)],
            "in order"
        );
    }

    #[test]
    fn a_push_carries_at_most_the_limit_and_in_order() {
        let mut pushes = Pushes::default();
        let many: Vec<_> = (0..(MAX_ENVELOPES_PER_PUSH as u8 + 3)).map(env).collect();
        pushes.queue(peer(1), federation(), many.clone(), Vec::new());
        pushes.stamp(0);
        let first = pushes.ready(0);
        assert_eq!(first[0].2.envelopes, many[..MAX_ENVELOPES_PER_PUSH]);
        pushes.answered(peer(1), federation());
        let second = pushes.ready(0);
        assert_eq!(second[0].2.envelopes, many[MAX_ENVELOPES_PER_PUSH..]);
    }

    #[test]
    fn peers_do_not_wait_for_each_other() {
        let mut pushes = Pushes::default();
        pushes.queue(peer(1), federation(), vec![env(1)], Vec::new());
        pushes.queue(peer(2), federation(), vec![env(1)], Vec::new());
        pushes.stamp(0);
        assert_eq!(pushes.ready(0).len(), 2);
    }

    #[test]
    fn a_full_queue_takes_no_more_and_counts_what_it_dropped() {
        let mut pushes = Pushes::default();
        let too_many = MAX_QUEUED_PUSH_ENVELOPES + 5;
        let envelopes = (0..too_many).map(|n| env((n % 250) as u8)).collect();
        pushes.queue(peer(1), federation(), envelopes, Vec::new());
        assert_eq!(pushes.dropped(), 5);
    }

    #[test]
    fn what_a_failed_batch_queued_never_leaves_and_a_disconnect_forgets_the_peer() {
        let mut pushes = Pushes::default();
        pushes.queue(peer(1), federation(), vec![env(1)], Vec::new());
        pushes.stamp(1);
        pushes.queue(peer(1), federation(), vec![env(2)], Vec::new());
        pushes.stamp(2);
        pushes.drop_after(1);
        let sent = pushes.ready(5);
        assert_eq!(sent[0].2.envelopes, vec![env(1)]);
        pushes.queue(peer(2), federation(), vec![env(3)], Vec::new());
        pushes.stamp(0);
        pushes.forget_peer(&peer(2));
        assert!(pushes.ready(5).is_empty());
    }
}
