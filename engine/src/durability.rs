//! What waits for the store: an input's writes are visible at once and leave as one
//! [`Effect::Persist`] batch, but its caller's answer and the messages that carry its own
//! changes to peers wait until the executor says the batch is durable.
//!
//! Why the messages wait too: a change of ours that peers hold but this node lost in a
//! crash would be followed, after the restart, by another change with the same sequence
//! number. Changes received from others need no such care; they are visible at once and
//! made durable with the next batch's sync, and one lost in a crash comes back by
//! anti-entropy.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use fed_crdt::ids::FederationId;
use tracing::{debug, warn};

use crate::command::Answer;
use crate::documents::Written;
use crate::store::{Operation, StoreError};
use crate::{CallId, Effect, Engine, EngineError};

/// The durability bookkeeping of an engine.
#[derive(Default)]
pub(crate) struct Durability {
    /// The last ticket given to a batch.
    ticket: u64,
    /// The last ticket known durable.
    durable: u64,
    /// Inputs whose batches await their sync, oldest first.
    waiting: VecDeque<Deferred>,
    /// Messages the current input sends once its batch is durable.
    outbox: Vec<Effect>,
    /// The current input's reply to its caller.
    reply: Option<(CallId, Result<Answer, EngineError>)>,
    /// A batch failed and the store has not been resumed yet.
    halted: bool,
}

/// One input's batch, waiting for its sync.
struct Deferred {
    ticket: u64,
    /// The reply and the messages, sent once durable.
    effects: Vec<Effect>,
    /// What to leave out of the documents if the batch fails.
    documents: Vec<Written>,
    /// The caller to tell if it fails.
    call: Option<CallId>,
}

/// The error each waiting caller gets when a batch fails: the one failure, shared.
fn shared(e: &Arc<StoreError>) -> EngineError {
    EngineError::Store(StoreError::Backend {
        op: Operation::Flush,
        trees: Vec::new(),
        key: None,
        source: Box::new(Arc::clone(e)),
    })
}

impl Durability {
    /// Whether batches are waiting for their sync.
    pub(crate) fn awaiting(&self) -> bool {
        !self.waiting.is_empty()
    }
}

impl Engine {
    /// Answers the current command: once what this input writes is durable.
    pub(crate) fn reply(&mut self, id: CallId, answer: Result<Answer, EngineError>) {
        self.durability.reply = Some((id, answer));
    }

    /// Sends `effect` once what this input writes is durable (at once if it writes
    /// nothing).
    pub(crate) fn when_durable(&mut self, effect: Effect) {
        self.durability.outbox.push(effect);
    }

    /// After each input: if it wrote anything, hands its batch over and keeps its reply
    /// and messages until the batch is durable; otherwise sends them now.
    pub(crate) fn settle(&mut self) {
        let batch = self.store.take();
        let documents = self.documents.take_written();
        self.keys.take_written();
        self.effects
            .extend(self.documents.take_feed().into_iter().map(Effect::Feed));
        let d = &mut self.durability;
        let mut effects = std::mem::take(&mut d.outbox);
        let call = d.reply.as_ref().map(|(id, _)| *id);
        if let Some((id, answer)) = d.reply.take() {
            effects.push(Effect::Reply { id, answer });
        }
        if batch.is_empty() {
            self.effects.extend(effects);
            self.pushes.stamp(0);
            self.send_pushes();
            return;
        }
        d.ticket += 1;
        self.pushes.stamp(d.ticket);
        self.effects.push(Effect::Persist {
            ticket: d.ticket,
            batch,
        });
        d.waiting.push_back(Deferred {
            ticket: d.ticket,
            effects,
            documents,
            call,
        });
        self.send_pushes();
    }

    /// Sends the pushes whose changes are durable, one in flight per peer.
    fn send_pushes(&mut self) {
        for (peer, federation, batch) in self.pushes.ready(self.durability.durable) {
            let request = crate::protocol::SyncRequest::Push {
                federation,
                envelopes: batch.envelopes,
                grants: batch.grants,
            };
            self.send_request(peer, request, crate::Purpose::Push(peer, federation), false);
        }
    }

    /// Batches up to `up_to` are durable: their inputs are answered and their messages
    /// sent.
    pub(crate) fn handle_durable(&mut self, up_to: u64) {
        self.durability.durable = self.durability.durable.max(up_to);
        while self
            .durability
            .waiting
            .front()
            .is_some_and(|d| d.ticket <= up_to)
        {
            if let Some(done) = self.durability.waiting.pop_front() {
                self.effects.extend(done.effects);
            }
        }
    }

    /// A batch failed: every waiting input fails, the store undoes what was not durable
    /// once resumed, and the documents written are read back without those changes.
    pub(crate) fn handle_persist_failed(&mut self, error: &Arc<StoreError>) {
        let failed: Vec<Deferred> = self.durability.waiting.drain(..).collect();
        self.pushes.drop_after(self.durability.durable);
        warn!(error = %error, waiting = failed.len(), "a batch failed: the writes waiting for it are undone");
        // Resumed before the next write (see `resume_if_halted`).
        self.durability.halted = true;
        let mut unsynced: BTreeMap<_, (FederationId, Vec<_>)> = BTreeMap::new();
        for deferred in failed {
            if let Some(id) = deferred.call {
                self.effects.push(Effect::Reply {
                    id,
                    answer: Err(shared(error)),
                });
            }
            for (id, federation, changes) in deferred.documents {
                unsynced
                    .entry(id)
                    .or_insert_with(|| (federation, Vec::new()))
                    .1
                    .extend(changes);
            }
        }
        // Read back without every failed change (the store shows them until it is
        // resumed), so reads go on while the disk is full.
        for (id, (federation, changes)) in unsynced {
            match self.federations.get(&federation) {
                Some(chain) => self.documents.restore_without(id, chain, changes),
                None => self.documents.set_aside(id, federation),
            }
        }
    }

    /// Before a write, after a failed batch: once the store has undone what was not
    /// durable (it needs space on disk to), the documents set aside are read back and
    /// writes go on.
    pub(crate) fn resume_if_halted(&mut self) {
        if !self.durability.halted {
            return;
        }
        match self.store.base().resume() {
            Ok(()) => {
                self.durability.halted = false;
                for (_, chain) in self.federations.iter() {
                    self.documents.reload_stale(chain);
                }
            }
            Err(e) => debug!(error = %e, "the store cannot be resumed yet"),
        }
    }
}
