//! What waits for the store: an input's writes are visible at once, but its caller's
//! answer and the messages that carry its own changes to peers wait until the group
//! commit thread says they are durable (`store/group_commit.rs`).
//!
//! Why the messages wait too: a change of ours that peers hold but this node lost in a
//! crash would be followed, after the restart, by another change with the same sequence
//! number. Changes received from others need no such care; they are visible at once and
//! made durable with the next sync, and one lost in a crash comes back by anti-entropy.

use std::sync::Arc;

use fed_crdt::ids::FederationId;
use libp2p::PeerId;
use tracing::{debug, warn};

use super::{Engine, EngineError};
use crate::net::protocol::SyncRequest;
use crate::store::{Operation, StoreError, Synced};

/// A message to send once what the input wrote is durable.
#[derive(Debug)]
pub(super) enum Outgoing {
    /// Gossip on a federation's topic.
    Announce {
        /// The federation.
        federation: FederationId,
        /// The announcement's bytes.
        data: Vec<u8>,
    },
    /// A request to a peer (a push of our changes).
    Request {
        /// The peer.
        peer: PeerId,
        /// The request.
        request: SyncRequest,
    },
}

/// The answer to an API caller, given the outcome of making its writes durable.
pub(super) type Reply = Box<dyn FnOnce(Result<(), EngineError>) + Send>;

/// One input's writes, waiting for their sync.
pub(super) struct Deferred {
    ticket: u64,
    reply: Option<Reply>,
    outgoing: Vec<Outgoing>,
    documents: Vec<crate::engine::documents::Written>,
}

/// The error each waiting caller gets when a sync fails: the one failure, shared.
fn shared(e: &Arc<StoreError>) -> EngineError {
    EngineError::Store(StoreError::Backend {
        op: Operation::Flush,
        trees: Vec::new(),
        key: None,
        source: Box::new(Arc::clone(e)),
    })
}

impl Engine {
    /// Answers the API later: once what the current input writes is durable.
    pub(super) fn reply_when_durable<T: Send + 'static>(
        &mut self,
        reply: tokio::sync::oneshot::Sender<Result<T, EngineError>>,
        answer: Result<T, EngineError>,
    ) {
        self.pending_reply = Some(Box::new(move |durable| {
            let _ = reply.send(durable.and(answer));
        }));
    }

    /// After each input: if it wrote anything, asks for a sync and keeps its answer and
    /// messages until then; otherwise sends them now.
    pub(super) fn settle(&mut self) {
        let documents = self.documents.take_written();
        let reply = self.pending_reply.take();
        let outgoing = std::mem::take(&mut self.outbox);
        let wrote_keys = self.keys.take_written();
        if documents.is_empty() && !wrote_keys {
            self.send_all(outgoing);
            if let Some(reply) = reply {
                reply(Ok(()));
            }
            return;
        }
        self.ticket += 1;
        self.commit.sync(self.ticket);
        self.waiting.push_back(Deferred {
            ticket: self.ticket,
            reply,
            outgoing,
            documents,
        });
    }

    /// A sync's answer: its inputs are answered and their messages sent; on failure every
    /// waiting input fails, the store undoes what was not durable, and the documents
    /// written are read back from it.
    pub(super) fn handle_synced(&mut self, synced: Synced) {
        match synced.result {
            Ok(()) => {
                while self
                    .waiting
                    .front()
                    .is_some_and(|d| d.ticket <= synced.up_to)
                {
                    let Some(done) = self.waiting.pop_front() else {
                        break;
                    };
                    self.send_all(done.outgoing);
                    if let Some(reply) = done.reply {
                        reply(Ok(()));
                    }
                }
            }
            Err(e) => {
                warn!(error = %e, waiting = self.waiting.len(), "a sync failed: the writes waiting for it are undone");
                let failed: Vec<Deferred> = self.waiting.drain(..).collect();
                // Resumed before the next write (see `resume_if_halted`).
                self.halted = true;
                let mut unsynced: std::collections::BTreeMap<_, (FederationId, Vec<_>)> =
                    std::collections::BTreeMap::new();
                for deferred in failed {
                    if let Some(reply) = deferred.reply {
                        reply(Err(shared(&e)));
                    }
                    for (id, federation, changes) in deferred.documents {
                        unsynced
                            .entry(id)
                            .or_insert_with(|| (federation, Vec::new()))
                            .1
                            .extend(changes);
                    }
                }
                // Read back without every failed change (the store shows them until it
                // is resumed), so reads go on while the disk is full.
                for (id, (federation, changes)) in unsynced {
                    match self.federations.get(&federation) {
                        Some(chain) => self.documents.restore_without(id, chain, changes),
                        None => self.documents.set_aside(id, federation),
                    }
                }
            }
        }
    }

    /// Before a write, after a failed sync: once the store has undone what was not
    /// durable (it needs space on disk to), the documents set aside are read back and
    /// writes go on.
    pub(super) fn resume_if_halted(&mut self) {
        if !self.halted {
            return;
        }
        match self.store.resume() {
            Ok(()) => {
                self.halted = false;
                for (_, chain) in self.federations.iter() {
                    self.documents.reload_stale(chain);
                }
            }
            Err(e) => debug!(error = %e, "the store cannot be resumed yet"),
        }
    }

    fn send_all(&self, outgoing: Vec<Outgoing>) {
        for message in outgoing {
            match message {
                Outgoing::Announce { federation, data } => self.net.announce(federation, data),
                Outgoing::Request { peer, request } => {
                    let net = self.net.clone();
                    tokio::spawn(async move {
                        if let Err(e) = net.request(peer, request).await {
                            debug!(peer = %peer, error = %e, "push failed; anti-entropy will carry it");
                        }
                    });
                }
            }
        }
    }
}
