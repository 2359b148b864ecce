//! The engine's executor: runs the `fed-engine` state machine over the network and the
//! store.
//!
//! One task owns the [`fed_engine::Engine`]. It feeds it inputs (the API's commands
//! through an [`EngineHandle`], the network's events, the answers of our requests, the
//! store thread's sync reports, a timer) with the time, and carries out the effects it
//! returns. It never awaits the network: requests run in tasks whose answers come back
//! as inputs, and every other network call posts a command. It never flushes: batches
//! are written at once (a memory operation) and made durable by the group commit thread.

mod handle;

pub use fed_engine::{documents, exports, federations, keys, projects, relay, views};
pub use fed_engine::{EngineError, NodeStatus, PlatformEntry};
pub use handle::EngineHandle;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::SigningKey;
use fed_engine::protocol::SyncResponse;
use fed_engine::{CallId, Clock, Effect, GossipId, InboundId, Input, RequestId, Verdict};
use libp2p::gossipsub::{MessageAcceptance, MessageId};
use libp2p::request_response::ResponseChannel;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::net::{NetClient, NetEvent, NetEvents};
use crate::store::{GroupCommit, Store, StoreError, Synced};
use handle::{Call, Reply};

/// How often every federation is reconciled with every connected member.
pub const DEFAULT_ANTI_ENTROPY_INTERVAL: Duration = Duration::from_secs(10);
/// Commands the API may queue before its callers wait for room.
pub const COMMAND_QUEUE: usize = 256;

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// How often to reconcile with every connected member.
    pub anti_entropy_interval: Duration,
    /// Peers to dial at start (multiaddrs ending in `/p2p/<peer id>`).
    pub bootstrap: Vec<Multiaddr>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            anti_entropy_interval: DEFAULT_ANTI_ENTROPY_INTERVAL,
            bootstrap: Vec::new(),
        }
    }
}

/// The engine task: the state machine and what carries out its effects.
pub struct Executor {
    engine: fed_engine::Engine,
    net: NetClient,
    anti_entropy_interval: Duration,
    commands: mpsc::Receiver<Call>,
    /// Answers of our requests, which run as tasks.
    answers: mpsc::UnboundedReceiver<(RequestId, Result<SyncResponse, String>)>,
    answer_sender: mpsc::UnboundedSender<(RequestId, Result<SyncResponse, String>)>,
    /// Makes batches durable, many at a time, off the runtime.
    store: Arc<dyn Store>,
    commit: GroupCommit,
    synced: mpsc::UnboundedReceiver<Synced>,
    feed: broadcast::Sender<documents::ChangeEvent>,
    /// Callers waiting for their reply, gossip for its verdict, peers for their answer.
    calls: HashMap<CallId, Reply>,
    gossip: HashMap<GossipId, MessageId>,
    inbound: HashMap<InboundId, ResponseChannel<SyncResponse>>,
    next_id: u64,
}

/// A platform id as a libp2p peer id (they are the same key).
pub fn peer_id(platform: &fed_crdt::ids::PlatformId) -> Option<PeerId> {
    platform.to_string().parse().ok()
}

/// A libp2p peer id as a platform id, if it is an ed25519 key.
pub fn platform_id(peer: &PeerId) -> Option<fed_crdt::ids::PlatformId> {
    peer.to_string().parse().ok()
}

/// Builds the engine over the stored state; spawn [`Executor::run`].
///
/// # Errors
///
/// [`EngineError::Store`] if the stored state cannot be read or the store thread cannot
/// start; [`EngineError::IncompleteHistory`].
pub fn new(
    signing: SigningKey,
    keys: ([u8; 32], Vec<(std::path::PathBuf, [u8; 32])>),
    store: Arc<dyn Store>,
    net: NetClient,
    config: EngineConfig,
) -> Result<(EngineHandle, Executor), EngineError> {
    let mut bootstrap = Vec::new();
    for address in &config.bootstrap {
        let peer = address.iter().find_map(|p| match p {
            libp2p::multiaddr::Protocol::P2p(peer) => platform_id(&peer),
            _ => None,
        });
        match peer {
            Some(peer) => bootstrap.push((peer, address.to_string())),
            None => {
                warn!(%address, "bootstrap address has no /p2p/<peer id> of a platform; skipped")
            }
        }
    }
    let engine = fed_engine::Engine::new(
        signing,
        keys,
        store.clone(),
        fed_engine::EngineConfig { bootstrap },
        rand::random(),
    )?;
    let (sender, commands) = mpsc::channel(COMMAND_QUEUE);
    let (answer_sender, answers) = mpsc::unbounded_channel();
    let (commit, synced) = GroupCommit::start(store.clone()).map_err(|e| {
        EngineError::Store(StoreError::Backend {
            op: crate::store::Operation::Open,
            trees: Vec::new(),
            key: None,
            source: Box::new(e),
        })
    })?;
    let feed = broadcast::channel(documents::CHANGE_FEED_BUFFER).0;
    Ok((
        EngineHandle {
            sender,
            feed: feed.clone(),
        },
        Executor {
            engine,
            net,
            anti_entropy_interval: config.anti_entropy_interval,
            commands,
            answers,
            answer_sender,
            store,
            commit,
            synced,
            feed,
            calls: HashMap::new(),
            gossip: HashMap::new(),
            inbound: HashMap::new(),
            next_id: 0,
        },
    ))
}

/// The wall clock, for the input about to be handled.
fn clock() -> Clock {
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    Clock::at_millis(millis)
}

impl Executor {
    /// Runs until shutdown or until every handle and the network are gone.
    pub async fn run(mut self, mut events: NetEvents, shutdown: CancellationToken) {
        self.feed(Input::Start);
        let mut timer = tokio::time::interval(self.anti_entropy_interval);
        loop {
            let input = tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                Some(synced) = self.synced.recv() => match synced.result {
                    Ok(()) => Input::Durable { up_to: synced.up_to },
                    Err(error) => Input::PersistFailed { error },
                },
                call = self.commands.recv() => match call {
                    Some(call) => self.call(call),
                    None => break,
                },
                Some((id, response)) = self.answers.recv() => Input::Response { id, response },
                event = events.recv() => match event {
                    Some(e) => match self.event(e) {
                        Some(input) => input,
                        None => continue,
                    },
                    None => break,
                },
                _ = timer.tick() => Input::Tick,
            };
            self.feed(input);
        }
        info!("engine stopped");
    }

    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    fn call(&mut self, (command, reply): Call) -> Input {
        let id = CallId(self.next_id());
        self.calls.insert(id, reply);
        Input::Call { id, command }
    }

    /// A network event as an input; none for a peer that is not a platform (the network
    /// lets none connect, but its messages would then be nobody's).
    fn event(&mut self, event: NetEvent) -> Option<Input> {
        match event {
            NetEvent::PeerConnected(peer) => platform_id(&peer).map(Input::Connected),
            NetEvent::PeerDisconnected(peer) => platform_id(&peer).map(Input::Disconnected),
            NetEvent::Gossip {
                topic,
                source,
                message_id,
                data,
            } => {
                let Some(platform) = platform_id(&source) else {
                    self.net
                        .report_gossip(message_id, source, MessageAcceptance::Reject);
                    return None;
                };
                let id = GossipId(self.next_id());
                self.gossip.insert(id, message_id);
                Some(Input::Gossip {
                    id,
                    source: platform,
                    topic: topic.into_string(),
                    data,
                })
            }
            NetEvent::Request {
                peer,
                request,
                channel,
            } => {
                let Some(platform) = platform_id(&peer) else {
                    self.net.respond(
                        channel,
                        SyncResponse::Refused {
                            reason: "not a shared federation".into(),
                        },
                    );
                    return None;
                };
                let id = InboundId(self.next_id());
                self.inbound.insert(id, channel);
                Some(Input::Request {
                    id,
                    peer: platform,
                    request,
                })
            }
        }
    }

    /// Hands one input to the engine and carries out what it says, in order.
    fn feed(&mut self, input: Input) {
        for effect in self.engine.handle(input, clock()) {
            self.carry_out(effect);
        }
    }

    fn carry_out(&mut self, effect: Effect) {
        match effect {
            Effect::Subscribe(federation) => self.net.subscribe(federation),
            Effect::Publish { federation, data } => self.net.announce(federation, data),
            Effect::Request { id, peer, request } => {
                let answers = self.answer_sender.clone();
                let Some(peer) = peer_id(&peer) else {
                    let _ = answers.send((id, Err("not a peer id".into())));
                    return;
                };
                let net = self.net.clone();
                tokio::spawn(async move {
                    let response = net.request(peer, request).await.map_err(|e| e.to_string());
                    let _ = answers.send((id, response));
                });
            }
            Effect::Respond { id, response } => {
                if let Some(channel) = self.inbound.remove(&id) {
                    self.net.respond(channel, response);
                }
            }
            Effect::Verdict {
                id,
                source,
                verdict,
            } => {
                if let (Some(message_id), Some(source)) =
                    (self.gossip.remove(&id), peer_id(&source))
                {
                    let acceptance = match verdict {
                        Verdict::Accept => MessageAcceptance::Accept,
                        Verdict::Ignore => MessageAcceptance::Ignore,
                        Verdict::Reject => MessageAcceptance::Reject,
                    };
                    self.net.report_gossip(message_id, source, acceptance);
                }
            }
            Effect::AllowPeers {
                members,
                chain_only,
            } => {
                let peers =
                    |set: std::collections::HashSet<_>| set.iter().filter_map(peer_id).collect();
                self.net.allow_peers(peers(members), peers(chain_only));
            }
            Effect::Dial { peer, addresses } => {
                let Some(peer) = peer_id(&peer) else {
                    return;
                };
                let parsed = addresses.iter().filter_map(|a| a.parse::<Multiaddr>().ok());
                self.net.connect(peer, parsed.collect());
            }
            // Nobody listening is not an error.
            Effect::Feed(event) => {
                let _ = self.feed.send(event);
            }
            Effect::Persist { ticket, batch } => match self.store.write(batch) {
                Ok(()) => self.commit.sync(ticket),
                Err(error) => self.feed(Input::PersistFailed {
                    error: Arc::new(error),
                }),
            },
            Effect::Reply { id, answer } => {
                if let Some(reply) = self.calls.remove(&id) {
                    let answer = answer.map(|answer| match answer {
                        fed_engine::Answer::Status(mut status) => {
                            status.gossip_dropped = self.net.stats().gossip_dropped();
                            status.requests_busy = self.net.stats().requests_busy();
                            status.event_readers = self.feed.receiver_count();
                            fed_engine::Answer::Status(status)
                        }
                        other => other,
                    });
                    reply(answer);
                }
            }
            Effect::DeleteRetiredKey { file } => match std::fs::remove_file(&file) {
                Ok(()) => info!(file = %file.display(), "retired encryption key deleted"),
                Err(e) => {
                    debug!(file = %file.display(), error = %e, "cannot delete a retired key; it is pruned again at the next start");
                }
            },
        }
    }
}
