//! What a federation node decides, as a state machine.
//!
//! [`Engine::handle`] takes one [`Input`] (a peer connected, a gossip message, a peer's
//! request or the answer to ours, an operator's [`Command`], a timer tick, the store's
//! word that a batch is durable) with the time, and returns the [`Effect`]s to carry out
//! (send a request, answer one, publish, persist a batch, emit a feed event, allow peers,
//! dial, reply to a command). It does no I/O: the time comes in with each input, its
//! randomness from a seed given at construction, and the network and the disk are the
//! executor's. The node's executor (`fednode`) runs it over libp2p and sled; the
//! simulator (`testnet/simulate`) runs many of it over a seeded network in virtual time.
//!
//! The engine reads its store directly (documents are paged from it) but never writes
//! it: what one input writes is staged ([`store::Staged`]) and leaves as one
//! [`Effect::Persist`] batch. Replies to commands and the messages that carry this
//! platform's own changes wait until that batch is durable ([`Input::Durable`]).

mod calls;
pub mod command;
pub mod documents;
mod durability;
mod error;
pub mod exports;
pub mod federations;
mod inspect;
mod io;
pub mod keys;
mod peers;
pub mod projects;
pub mod protocol;
mod pushes;
mod registry;
pub mod relay;
mod relay_engine;
mod replicate;
mod revocation;
mod sealed;
pub mod store;
mod sync;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod views;

pub use command::{Answer, Command, NodeStatus, PlatformEntry};
pub use error::EngineError;
pub use io::{CallId, Clock, Effect, GossipId, InboundId, Input, RequestId, Verdict};

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use ed25519_dalek::SigningKey;
use fed_crdt::chain::file::ChainFile;
use fed_crdt::envelope::ChangeEnvelope;
use fed_crdt::ids::{DocId, FederationId, PlatformId};
use rand_chacha::rand_core::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use tracing::{debug, warn};

use documents::Documents;
use federations::{Federations, ReceiveOutcome};
use protocol::{topic_name, Announcement, SyncRequest};
use store::{Staged, Store};

/// Most chain records sent in one sync response.
pub const MAX_RECORDS_PER_RESPONSE: usize = 256;
/// Least time between two dials of the same unconnected member, in milliseconds.
pub const DIAL_BACKOFF_MS: i64 = 5_000;
/// Most sealed envelopes kept waiting for the key of their epoch, over all documents.
pub const MAX_AWAITING_KEYS: usize = 4_096;

/// Engine settings.
#[derive(Clone, Debug, Default)]
pub struct EngineConfig {
    /// Peers to dial whenever they are allowed and not connected, with their addresses
    /// (identity cards supply the others').
    pub bootstrap: Vec<(PlatformId, String)>,
}

/// Per fetch (peer, federation, kind), the changes by document that its last full
/// answers brought and that we held already.
type PageHeld =
    HashMap<(PlatformId, FederationId, FetchKind), HashMap<DocId, Vec<fed_crdt::ids::ChangeHash>>>;

/// What a node's engine knows and decides. See the crate's documentation.
pub struct Engine {
    federations: Federations,
    documents: Documents,
    /// Keys of private documents.
    keys: keys::Keyring,
    /// Sealed private documents of the federations this node relays.
    relay: relay::RelayStore,
    /// Sealed envelopes waiting for the key of their epoch, by document and epoch.
    awaiting_keys: HashMap<(DocId, u32), Vec<ChangeEnvelope>>,
    /// This platform's key: signs its own changes.
    signing: SigningKey,
    /// Addresses given at start, by peer.
    bootstrap: HashMap<PlatformId, Vec<String>>,
    /// When each unconnected member was last dialled (milliseconds).
    last_dial: HashMap<PlatformId, i64>,
    /// Fetches under way, with the pages still to ask, so that announcements and timers
    /// do not pile them up.
    in_flight: HashMap<(PlatformId, FederationId, FetchKind), VecDeque<SyncRequest>>,
    /// Changes a peer's last full answers to a fetch brought that we held already, by
    /// document: named to it as `have` in the next request, so that its answer goes on
    /// past them (see [`Engine::held_from_pages`]). Forgotten once a page brings news.
    page_held: PageHeld,
    /// Our changes on their way to each peer, one push in flight at a time.
    pushes: pushes::Pushes,
    /// Our requests awaiting their answer, and what each was for.
    requests: HashMap<RequestId, Purpose>,
    next_request: u64,
    /// Peers connected now, from the executor's connection inputs.
    connected: BTreeSet<PlatformId>,
    /// The store: read directly, written only through the batch of each input.
    store: Arc<Staged>,
    /// The time of the input being handled.
    clock: Clock,
    /// Nonces and keys.
    rng: ChaCha20Rng,
    /// Effects of the input being handled.
    effects: Vec<Effect>,
    durability: durability::Durability,
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

/// What one of our requests was for.
#[derive(Clone, Copy, Debug)]
enum Purpose {
    /// A page of a fetch.
    Fetch(PlatformId, FederationId, FetchKind),
    /// A push of changes to a peer in a federation: its answer lets the next leave.
    Push(PlatformId, FederationId),
}

/// Whether `me` is a relay of the chain's federation.
fn is_relay_in(chain: &fed_crdt::chain::Chain, me: &PlatformId) -> bool {
    chain
        .state()
        .members
        .get(me)
        .is_some_and(|m| m.role == fed_crdt::chain::body::Role::Relay)
}

/// `N` bytes from the engine's seeded generator (a free function, so that it borrows
/// only the generator).
fn random<const N: usize>(rng: &mut ChaCha20Rng) -> [u8; N] {
    let mut out = [0; N];
    rng.fill_bytes(&mut out);
    out
}

impl Engine {
    /// Builds the engine over the stored state. `seed` feeds every nonce and key it
    /// makes: the node gives fresh entropy, the simulator a seed of its run.
    ///
    /// # Errors
    ///
    /// [`EngineError::Store`] if the stored state cannot be read,
    /// [`EngineError::IncompleteHistory`] if it lacks part of a document's history.
    pub fn new(
        signing: SigningKey,
        (encryption_secret, retired): ([u8; 32], Vec<(std::path::PathBuf, [u8; 32])>),
        store: Arc<dyn Store>,
        config: EngineConfig,
        seed: [u8; 32],
    ) -> Result<Engine, EngineError> {
        let me = PlatformId::from(&signing);
        let staged = Arc::new(Staged::new(store));
        let shared: Arc<dyn Store> = staged.clone();
        let federations = Federations::load(me, shared.clone())?;
        let keys = keys::Keyring::load(me, encryption_secret, retired, shared.clone())?;
        let mut documents = Documents::new(shared.clone());
        documents.set_sealing(keys.sealing());
        let mut relay = relay::RelayStore::new(shared);
        for (federation, chain) in federations.iter() {
            if is_relay_in(chain, &me) {
                documents.mark_relayed(*federation);
                relay.load(*federation)?;
            }
            documents.open(chain)?;
        }
        let mut bootstrap: HashMap<PlatformId, Vec<String>> = HashMap::new();
        for (peer, address) in config.bootstrap {
            bootstrap.entry(peer).or_default().push(address);
        }
        Ok(Engine {
            federations,
            documents,
            keys,
            relay,
            awaiting_keys: HashMap::new(),
            signing,
            bootstrap,
            last_dial: HashMap::new(),
            in_flight: HashMap::new(),
            page_held: HashMap::new(),
            pushes: pushes::Pushes::default(),
            requests: HashMap::new(),
            next_request: 0,
            connected: BTreeSet::new(),
            store: staged,
            clock: Clock::default(),
            rng: ChaCha20Rng::from_seed(seed),
            effects: Vec::new(),
            durability: durability::Durability::default(),
        })
    }

    /// Handles one input at time `now` and returns what to do about it, in order.
    pub fn handle(&mut self, input: Input, now: Clock) -> Vec<Effect> {
        self.clock = now;
        match input {
            Input::Start => self.start(),
            Input::Tick => {
                self.refresh_peers();
                self.anti_entropy_all();
            }
            Input::Connected(peer) => self.peer_connected(peer),
            Input::Disconnected(peer) => {
                self.connected.remove(&peer);
                // A fetch whose connection closed may never be answered: forget it, so
                // that the next round asks again (a late answer is still taken).
                self.in_flight.retain(|(p, _, _), _| *p != peer);
                self.page_held.retain(|(p, _, _), _| *p != peer);
                self.pushes.forget_peer(&peer);
                // Redial at once (within the dial backoff): a peer whose rule changed was
                // disconnected to reconnect under the new one.
                self.refresh_peers();
            }
            Input::Gossip {
                id,
                source,
                topic,
                data,
            } => {
                self.resume_if_halted();
                let verdict = self.gossip(source, &topic, &data);
                self.effects.push(Effect::Verdict {
                    id,
                    source,
                    verdict,
                });
            }
            Input::Request { id, peer, request } => {
                self.resume_if_halted();
                let response = self.answer(&peer, request);
                self.effects.push(Effect::Respond { id, response });
            }
            Input::Response { id, response } => self.handle_response(id, response),
            Input::Call { id, command } => self.call(id, command),
            Input::Durable { up_to } => self.handle_durable(up_to),
            Input::PersistFailed { error } => self.handle_persist_failed(&error),
        }
        self.settle();
        std::mem::take(&mut self.effects)
    }

    /// This platform.
    pub fn me(&self) -> PlatformId {
        self.federations.me()
    }

    /// What the node does once, when it starts.
    fn start(&mut self) {
        self.refresh_peers();
        let held: Vec<DocId> = self
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
            self.effects.push(Effect::Subscribe(federation));
        }
    }

    fn peer_connected(&mut self, peer: PlatformId) {
        self.connected.insert(peer);
        for federation in self.federations.shared_with(&peer, self.clock.timestamp()) {
            self.fetch(peer, federation, FetchKind::Chain);
            self.fetch(peer, federation, FetchKind::Registry);
            self.fetch(peer, federation, FetchKind::PrivateDigest);
        }
    }

    /// A gossip message's verdict: what it says is checked like anything else.
    fn gossip(&mut self, source: PlatformId, topic: &str, data: &[u8]) -> Verdict {
        match Announcement::from_bytes(data) {
            Err(e) => {
                debug!(peer = %source, error = %e, "malformed announcement");
                Verdict::Reject
            }
            // A member of two federations must not carry one's data into the other's
            // topic, where gossipsub would forward it to peers that are not members of
            // the first.
            Ok(announcement) if topic_name(&announcement.federation()) != topic => {
                warn!(peer = %source, fed = %announcement.federation().fmt_short(), "announcement rejected: it names a federation that is not its topic's");
                Verdict::Reject
            }
            Ok(Announcement::Change { envelope }) => self.receive_remote(source, *envelope),
            Ok(Announcement::ChainHead {
                federation,
                seq,
                head,
            }) => {
                if !self
                    .federations
                    .is_member(&federation, &source, self.clock.timestamp())
                {
                    return Verdict::Reject;
                }
                let (ours, our_head) = self
                    .federations
                    .get(&federation)
                    .map_or((0, None), |c| (c.state().seq, Some(c.head())));
                // Ahead of us, or a different record at our head (a fork).
                if seq > ours || (seq == ours && our_head != Some(head)) {
                    self.fetch(source, federation, FetchKind::Chain);
                }
                Verdict::Accept
            }
        }
    }

    /// After records were appended: update who may connect, announce the new head.
    fn after_chain_change(&mut self, federation: &FederationId, outcome: &ReceiveOutcome) {
        if outcome.appended == 0 {
            return;
        }
        self.acknowledge_revocations(federation, outcome.appended);
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
        self.refresh_peers();
        self.rekey(*federation);
        if let Some(chain) = self.federations.get(federation) {
            let announcement = Announcement::ChainHead {
                federation: *federation,
                seq: chain.state().seq,
                head: chain.head(),
            };
            // If nobody is subscribed yet, anti-entropy carries it.
            self.effects.push(Effect::Publish {
                federation: *federation,
                data: announcement.to_bytes(),
            });
        }
    }

    /// A chain file of a federation this node is in, for the API.
    fn chain_file(&self, federation: &FederationId) -> Result<ChainFile, EngineError> {
        self.federations
            .get(federation)
            .map(|c| ChainFile::new(c, None))
            .ok_or(EngineError::UnknownFederation(*federation))
    }
}
