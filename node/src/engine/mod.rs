//! The engine: turns network events and API commands into verified state.
//!
//! One task owns the federations' chains (and later the documents); the API and the
//! network talk to it through an [`EngineHandle`], like the network's `NetClient`. Chain
//! records reach it from operators (join, publish), from gossip announcements (fetch what
//! a member says it has) and from anti-entropy (ask every connected member, on connect and
//! on a timer); whatever the path, they go through the same checks and are stored before
//! they count.

pub mod documents;
mod durability;
pub mod exports;
pub mod federations;
mod handle;
pub mod keys;
pub mod projects;
mod registry;
pub mod relay;
mod relay_engine;
mod replicate;
mod revocation;
mod sealed;
mod sync;
pub mod views;

pub use handle::{EngineCommand, EngineError, EngineHandle, NodeStatus, PlatformEntry};

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fed_crdt::chain::file::ChainFile;
use fed_crdt::ids::{FederationId, PlatformId};
use fed_crdt::Timestamp;
use libp2p::gossipsub::MessageAcceptance;
use libp2p::{Multiaddr, PeerId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use ed25519_dalek::SigningKey;

use crate::net::protocol::{federation_topic, Announcement, SyncResponse};
use crate::net::{NetClient, NetError, NetEvent, NetEvents};
use crate::store::{GroupCommit, Store, Synced};
use documents::Documents;
use federations::{Federations, ReceiveOutcome};

/// Most chain records sent in one sync response.
pub const MAX_RECORDS_PER_RESPONSE: usize = 256;
/// Least time between two dials of the same unconnected member.
pub const DIAL_BACKOFF: Duration = Duration::from_secs(5);
/// How often every federation is reconciled with every connected member.
pub const DEFAULT_ANTI_ENTROPY_INTERVAL: Duration = Duration::from_secs(10);

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

/// The engine task's state.
pub struct Engine {
    federations: Federations,
    documents: Documents,
    /// Keys of private documents.
    keys: keys::Keyring,
    /// Sealed private documents of the federations this node relays.
    relay: relay::RelayStore,
    /// Sealed envelopes waiting for the key of their epoch, by document and epoch.
    awaiting_keys: HashMap<(fed_crdt::ids::DocId, u32), Vec<fed_crdt::envelope::ChangeEnvelope>>,
    /// This platform's key: signs its own changes.
    signing: SigningKey,
    /// Addresses given with `--bootstrap`, by peer; dialled whenever that peer is allowed
    /// and not connected (identity cards supply the others).
    bootstrap: HashMap<PeerId, Vec<Multiaddr>>,
    net: NetClient,
    config: EngineConfig,
    commands: mpsc::Receiver<EngineCommand>,
    /// Answers of chain fetches, which run as tasks so that the engine keeps serving
    /// (two engines fetching from each other must not wait on each other).
    fetched: mpsc::Receiver<Fetched>,
    fetched_sender: mpsc::Sender<Fetched>,
    /// When each unconnected member was last dialled.
    last_dial: HashMap<PeerId, Instant>,
    /// Fetches under way, so that announcements and timers do not pile them up.
    in_flight: HashSet<(PeerId, FederationId, FetchKind)>,
    /// Peers connected now, from the network's connection events (never asked of the
    /// network, which the engine does not wait on).
    connected: HashSet<PeerId>,
    /// The store, for reads and to resume it after a failed sync.
    store: Arc<dyn Store>,
    /// Makes writes durable, many at a time, off the runtime.
    commit: GroupCommit,
    /// Its answers.
    synced: mpsc::UnboundedReceiver<Synced>,
    /// The last sync ticket asked for.
    ticket: u64,
    /// Inputs whose writes await their sync, oldest first.
    waiting: std::collections::VecDeque<durability::Deferred>,
    /// Messages the current input sends once its writes are durable.
    outbox: Vec<durability::Outgoing>,
    /// The current input's answer to its API caller, sent once its writes are durable.
    pending_reply: Option<durability::Reply>,
    /// A sync failed and the store has not been resumed yet.
    halted: bool,
}

/// What a fetch asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum FetchKind {
    /// Chain records after our head.
    Chain,
    /// Platforms registry envelopes missing from our heads.
    Registry,
    /// What we lack of the private documents shared with the peer.
    Private,
    /// Whether anything differs in those documents (a digest first, the listing after).
    PrivateDigest,
}

/// The answer of one fetch.
struct Fetched {
    peer: PeerId,
    federation: FederationId,
    kind: FetchKind,
    response: Result<SyncResponse, NetError>,
}

/// Most sealed envelopes kept waiting for the key of their epoch, over all documents.
pub const MAX_AWAITING_KEYS: usize = 4_096;

/// Builds the engine over the stored state; spawn [`Engine::run`].
///
/// # Errors
///
/// [`EngineError::Store`] if the stored chains cannot be read.
pub fn new(
    signing: SigningKey,
    (encryption_secret, retired): ([u8; 32], Vec<(std::path::PathBuf, [u8; 32])>),
    store: Arc<dyn Store>,
    net: NetClient,
    config: EngineConfig,
) -> Result<(EngineHandle, Engine), EngineError> {
    let me = PlatformId::from(&signing);
    let engine_store = store.clone();
    let federations = Federations::load(me, store.clone())?;
    let keys = keys::Keyring::load(me, encryption_secret, retired, store.clone())?;
    let mut documents = Documents::new(store.clone());
    documents.set_sealing(keys.sealing());
    let mut relay = relay::RelayStore::new(store);
    for (federation, chain) in federations.iter() {
        if is_relay_in(chain, &me) {
            documents.mark_relayed(*federation);
            relay.load(*federation)?;
        }
        documents.open(chain)?;
    }
    let mut bootstrap: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
    for address in &config.bootstrap {
        match address.iter().find_map(|p| match p {
            libp2p::multiaddr::Protocol::P2p(peer) => Some(peer),
            _ => None,
        }) {
            Some(peer) => bootstrap.entry(peer).or_default().push(address.clone()),
            None => warn!(%address, "bootstrap address has no /p2p/<peer id>; skipped"),
        }
    }
    let (sender, commands) = mpsc::channel(256);
    let (fetched_sender, fetched) = mpsc::channel(256);
    let (commit, synced) = GroupCommit::start(engine_store.clone()).map_err(|e| {
        EngineError::Store(crate::store::StoreError::Backend {
            op: crate::store::Operation::Open,
            trees: Vec::new(),
            key: None,
            source: Box::new(e),
        })
    })?;
    Ok((
        EngineHandle {
            sender,
            events: documents.events(),
        },
        Engine {
            federations,
            documents,
            keys,
            relay,
            awaiting_keys: HashMap::new(),
            signing,
            bootstrap,
            net,
            config,
            commands,
            fetched,
            fetched_sender,
            in_flight: HashSet::new(),
            last_dial: HashMap::new(),
            connected: HashSet::new(),
            store: engine_store,
            commit,
            synced,
            ticket: 0,
            waiting: std::collections::VecDeque::new(),
            outbox: Vec::new(),
            pending_reply: None,
            halted: false,
        },
    ))
}

/// Whether `me` is a relay of the chain's federation.
fn is_relay_in(chain: &fed_crdt::chain::Chain, me: &PlatformId) -> bool {
    chain
        .state()
        .members
        .get(me)
        .is_some_and(|m| m.role == fed_crdt::chain::body::Role::Relay)
}

/// Milliseconds since the epoch, for the time of our own changes.
fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Whole seconds since the epoch, for membership checks.
fn now() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

impl Engine {
    /// Runs until shutdown or until every handle and the network are gone.
    pub async fn run(mut self, mut events: NetEvents, shutdown: CancellationToken) {
        self.refresh_peers().await;
        let held: Vec<fed_crdt::ids::DocId> = self
            .federation_ids()
            .into_iter()
            .flat_map(|f| {
                self.documents
                    .views(f)
                    .map(|(id, _)| *id)
                    .collect::<Vec<_>>()
            })
            .collect();
        for document in held {
            self.note_controller(&document);
        }
        self.prune_retired_keys();
        for federation in self.federation_ids() {
            self.net.subscribe(federation);
        }
        let mut timer = tokio::time::interval(self.config.anti_entropy_interval);
        loop {
            tokio::select! {
                biased;
                _ = shutdown.cancelled() => break,
                Some(synced) = self.synced.recv() => self.handle_synced(synced),
                command = self.commands.recv() => match command {
                    Some(c) => self.handle_command(c).await,
                    None => break,
                },
                Some(done) = self.fetched.recv() => self.handle_fetched(done).await,
                event = events.recv() => match event {
                    Some(e) => self.handle_event(e).await,
                    None => break,
                },
                _ = timer.tick() => {
                    self.refresh_peers().await;
                    self.anti_entropy_all().await;
                }
            }
            self.settle();
        }
        info!("engine stopped");
    }

    fn federation_ids(&self) -> Vec<FederationId> {
        self.federations.iter().map(|(f, _)| *f).collect()
    }

    async fn handle_command(&mut self, command: EngineCommand) {
        // Resuming reopens the store, which a full disk may refuse, and reads fail until
        // it succeeds: only a write tries it.
        let writes = match &command {
            EngineCommand::Join { .. }
            | EngineCommand::Publish { .. }
            | EngineCommand::SetProfile { .. } => true,
            EngineCommand::Projects { op, .. } => op.writes(),
            EngineCommand::Exports { op, .. } => op.writes(),
            _ => false,
        };
        if writes {
            self.resume_if_halted();
        }
        match command {
            EngineCommand::Join { file, reply } => {
                let result = self.federations.join(&file, now());
                if let Ok((federation, outcome)) = &result {
                    self.net.subscribe(*federation);
                    self.after_chain_change(federation, outcome).await;
                }
                let _ = reply.send(result);
            }
            EngineCommand::Publish { file, reply } => {
                let result = match file.verify() {
                    Err(e) => Err(EngineError::InvalidChain(e.to_string())),
                    Ok(v) => {
                        let federation = v.chain.federation();
                        self.federations
                            .receive(&federation, v.chain.records().to_vec())
                            .map(|o| (federation, o))
                    }
                };
                if let Ok((federation, outcome)) = &result {
                    self.after_chain_change(federation, outcome).await;
                }
                let _ = reply.send(result);
            }
            EngineCommand::Status { reply } => {
                let chain_only = self.federations.chain_only_peers(now());
                let (revoked_peers, peers): (Vec<PeerId>, Vec<PeerId>) =
                    self.connected.iter().partition(|p| chain_only.contains(p));
                let names = |peers: Vec<PeerId>| peers.iter().map(PeerId::to_string).collect();
                let relayed_documents = self
                    .federation_ids()
                    .into_iter()
                    .map(|f| self.relay.documents(f).count())
                    .sum();
                let _ = reply.send(NodeStatus {
                    platform_id: self.me(),
                    federations: self.federations.summaries(now()),
                    peers: names(peers),
                    revoked_peers: names(revoked_peers),
                    relayed_documents,
                    gossip_dropped: self.net.stats().gossip_dropped(),
                    requests_busy: self.net.stats().requests_busy(),
                });
            }
            EngineCommand::SetProfile {
                federation,
                profile,
                reply,
            } => {
                let result = match self.check_may_write(&federation) {
                    Ok(()) => self.set_profile(federation, &profile).await,
                    Err(e) => Err(e),
                };
                self.reply_when_durable(reply, result);
            }
            EngineCommand::Platforms { federation, reply } => {
                let _ = reply.send(self.platforms(&federation));
            }
            EngineCommand::Refusals { federation, reply } => {
                let _ = reply.send(self.documents.refusals(federation.as_ref()));
            }
            EngineCommand::Projects {
                federation,
                op,
                reply,
            } => {
                let answer = match op.writes().then(|| self.check_may_write(&federation)) {
                    Some(Err(e)) => Err(e),
                    _ => self.projects(federation, op).await,
                };
                self.reply_when_durable(reply, answer);
            }
            EngineCommand::Exports {
                federation,
                op,
                reply,
            } => {
                let answer = match op.writes().then(|| self.check_may_write(&federation)) {
                    Some(Err(e)) => Err(e),
                    _ => self.exports(federation, op).await,
                };
                self.reply_when_durable(reply, answer);
            }
            EngineCommand::Catalog { federation, reply } => {
                let result = self
                    .federations
                    .get(&federation)
                    .map(|c| c.state().catalog.clone())
                    .ok_or(EngineError::UnknownFederation(federation));
                let _ = reply.send(result);
            }
            EngineCommand::Chain { federation, reply } => {
                let result = self
                    .federations
                    .get(&federation)
                    .map(|c| ChainFile::new(c, None))
                    .ok_or(EngineError::UnknownFederation(federation));
                let _ = reply.send(result);
            }
        }
    }

    fn me(&self) -> PlatformId {
        self.federations.me()
    }

    /// After records were appended: update who may connect, announce the new head.
    async fn after_chain_change(&mut self, federation: &FederationId, outcome: &ReceiveOutcome) {
        if outcome.appended == 0 {
            return;
        }
        self.acknowledge_revocations(federation, outcome.appended)
            .await;
        if let Some(chain) = self.federations.get(federation) {
            if is_relay_in(chain, &self.me()) {
                self.documents.mark_relayed(*federation);
                if let Err(e) = self.relay.load(*federation) {
                    warn!(fed = %federation.fmt_short(), error = %e, "cannot load relayed documents");
                }
            }
            let opened = self.documents.open(chain);
            let rebuilt = opened.and_then(|_| self.documents.rebuild(federation, chain));
            if let Err(e) = rebuilt {
                warn!(fed = %federation.fmt_short(), error = %e, "cannot re-check documents");
            }
        }
        self.refresh_peers().await;
        self.rekey(*federation).await;
        if let Some(chain) = self.federations.get(federation) {
            let announcement = Announcement::ChainHead {
                federation: *federation,
                seq: chain.state().seq,
                head: chain.head(),
            };
            // If nobody is subscribed yet, anti-entropy carries it.
            self.net.announce(*federation, announcement.to_bytes());
        }
    }

    /// Allows exactly the active members of our federations (and, for the chain only,
    /// the platforms they revoked), and dials the members with known addresses that are
    /// not connected.
    async fn refresh_peers(&mut self) {
        let now = now();
        let allowed = self.federations.allowed_peers(now);
        let chain_only = self.federations.chain_only_peers(now);
        self.net.allow_peers(allowed.clone(), chain_only);
        let mut targets: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
        for (peer, addresses) in self.federations.member_addresses(now) {
            let parsed = addresses.iter().filter_map(|a| a.parse::<Multiaddr>().ok());
            targets.entry(peer).or_default().extend(parsed);
        }
        for (peer, addresses) in &self.bootstrap {
            if allowed.contains(peer) {
                targets
                    .entry(*peer)
                    .or_default()
                    .extend(addresses.iter().cloned());
            }
        }
        let now_instant = Instant::now();
        for (peer, addresses) in targets {
            if self.connected.contains(&peer) {
                continue;
            }
            // An unreachable member is retried, but not on every tick.
            if self
                .last_dial
                .get(&peer)
                .is_some_and(|t| now_instant.duration_since(*t) < DIAL_BACKOFF)
            {
                continue;
            }
            self.last_dial.insert(peer, now_instant);
            self.net.connect(peer, addresses);
        }
    }

    async fn handle_event(&mut self, event: NetEvent) {
        if matches!(event, NetEvent::Gossip { .. } | NetEvent::Request { .. }) {
            self.resume_if_halted();
        }
        match event {
            NetEvent::PeerConnected(peer) => {
                self.connected.insert(peer);
                for federation in self.federations.shared_with(&peer, now()) {
                    self.fetch(peer, federation, FetchKind::Chain).await;
                    self.fetch(peer, federation, FetchKind::Registry).await;
                    self.fetch(peer, federation, FetchKind::PrivateDigest).await;
                }
            }
            // Redial at once (within the dial backoff): a peer whose rule changed was
            // disconnected to reconnect under the new one.
            NetEvent::PeerDisconnected(peer) => {
                self.connected.remove(&peer);
                self.refresh_peers().await;
            }
            NetEvent::Gossip {
                topic,
                source,
                message_id,
                data,
            } => {
                let verdict = match Announcement::from_bytes(&data) {
                    Err(e) => {
                        debug!(peer = %source, error = %e, "malformed announcement");
                        MessageAcceptance::Reject
                    }
                    // A member of two federations must not carry one's data into the
                    // other's topic, where gossipsub would forward it to peers that are
                    // not members of the first.
                    Ok(announcement)
                        if federation_topic(&announcement.federation()).hash() != topic =>
                    {
                        warn!(peer = %source, fed = %announcement.federation().fmt_short(), "announcement rejected: it names a federation that is not its topic's");
                        MessageAcceptance::Reject
                    }
                    Ok(Announcement::Change { envelope }) => {
                        self.receive_remote(source, *envelope).await
                    }
                    Ok(Announcement::ChainHead {
                        federation,
                        seq,
                        head,
                    }) => {
                        if !self.federations.is_member(&federation, &source, now()) {
                            MessageAcceptance::Reject
                        } else {
                            let (ours, our_head) = self
                                .federations
                                .get(&federation)
                                .map_or((0, None), |c| (c.state().seq, Some(c.head())));
                            // Ahead of us, or a different record at our head (a fork).
                            if seq > ours || (seq == ours && our_head != Some(head)) {
                                self.fetch(source, federation, FetchKind::Chain).await;
                            }
                            MessageAcceptance::Accept
                        }
                    }
                };
                self.net.report_gossip(message_id, source, verdict);
            }
            NetEvent::Request {
                peer,
                request,
                channel,
            } => {
                let response = self.answer(&peer, request).await;
                self.net.respond(channel, response);
            }
        }
    }
}
