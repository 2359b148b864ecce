//! [`Cluster`]: a few engines wired together with no faults, for the tests of one rule.
//!
//! Each effect becomes the input it would cause, at once and in order: a publish
//! reaches every connected member subscribed to the topic, a request is answered by its
//! peer, a batch is written to the node's [`MemoryStore`] and made durable (unless the
//! test holds it). Time moves only when the test says. The simulator does the same with
//! delays, losses and crashes; this is its lossless, step-by-step cousin.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::sync::Arc;

use fed_crdt::chain::file::ChainFile;
use fed_crdt::ids::{ChangeHash, DocId, FederationId, PlatformId};
use fed_crdt::registry::platforms::PlatformProfile;
use fed_crdt::registry::projects::{Access, Project};

use super::world::{Platform, World, ISSUED_AT};
use crate::documents::ChangeEvent;
use crate::projects::{ProjectEntry, ProjectOp, ProjectPatch};
use crate::protocol::{topic_name, SyncRequest, SyncResponse};
use crate::store::MemoryStore;
use crate::{Answer, CallId, Clock, Command, Effect, Engine, EngineConfig, EngineError};
use crate::{GossipId, InboundId, Input, RequestId, Verdict};

/// Most inputs one [`Cluster::run`] handles: more means the engines never go quiet.
pub const MAX_INPUTS_PER_RUN: usize = 100_000;

/// One engine and what the harness saw it do.
pub struct Node {
    /// The state machine.
    pub engine: Engine,
    /// Its store, shared with the engine.
    pub store: MemoryStore,
    /// Topics it subscribed to.
    pub subscribed: BTreeSet<FederationId>,
    /// Peers it allows as members, and to fetch the chain only.
    pub members: HashSet<PlatformId>,
    /// Revoked peers it lets fetch the chain.
    pub chain_only: HashSet<PlatformId>,
    /// Peers it asked to dial.
    pub dialled: Vec<PlatformId>,
    /// Its live feed.
    pub feed: Vec<ChangeEvent>,
    /// The verdicts it gave on gossip, by message.
    pub verdicts: BTreeMap<GossipId, Verdict>,
    /// Its requests, as sent.
    pub requests: Vec<(PlatformId, SyncRequest)>,
    /// Its answers to requests the test sent it.
    pub answers: BTreeMap<InboundId, SyncResponse>,
    /// Messages it published.
    pub published: usize,
    /// Batches not made durable yet (while held), oldest first.
    pub unsynced: Vec<u64>,
    /// Hold batches instead of making them durable at once.
    pub hold: bool,
    replies: BTreeMap<CallId, Result<Answer, EngineError>>,
}

/// Engines of the platforms of one [`World`], linked by a lossless network.
pub struct Cluster {
    /// The administrator, the platforms and the chain.
    pub world: World,
    /// The nodes, by platform index.
    pub nodes: Vec<Node>,
    /// The time inputs are handled at.
    pub now: Clock,
    links: BTreeSet<(usize, usize)>,
    queue: VecDeque<(usize, Input)>,
    /// Our requests in flight: (to, inbound id) to (from, request id).
    inbound: BTreeMap<(usize, InboundId), (usize, RequestId)>,
    next_number: u64,
}

impl Cluster {
    /// `nodes` platforms of one federation, each started and joined, not connected.
    ///
    /// # Panics
    ///
    /// If an engine cannot start or join: the harness is for tests.
    pub fn new(nodes: usize) -> Cluster {
        let world = World::new(nodes);
        let now = Clock::at_millis(i64::try_from(ISSUED_AT.as_secs()).unwrap_or(0) * 1000 + 1000);
        let mut cluster = Cluster {
            nodes: world.platforms.iter().map(|p| start(p, None)).collect(),
            world,
            now,
            links: BTreeSet::new(),
            queue: VecDeque::new(),
            inbound: BTreeMap::new(),
            next_number: 0,
        };
        for i in 0..nodes {
            cluster.input(i, Input::Start);
        }
        cluster.run();
        let file = ChainFile::new(&cluster.world.chain, None);
        for i in 0..nodes {
            if let Err(e) = cluster.call(i, Command::Join(Box::new(file.clone()))) {
                panic!("node {i} cannot join: {e}");
            }
        }
        cluster
    }

    /// The federation.
    pub fn federation(&self) -> FederationId {
        self.world.chain.federation()
    }

    /// Platform `i`'s id.
    pub fn id(&self, i: usize) -> PlatformId {
        self.world.platforms[i].id
    }

    /// The node of a platform.
    fn index(&self, platform: &PlatformId) -> Option<usize> {
        self.world.platforms.iter().position(|p| p.id == *platform)
    }

    /// Connects `i` and `j` (if each allows the other) and lets them reconcile.
    pub fn connect(&mut self, i: usize, j: usize) {
        let (a, b) = (self.id(i), self.id(j));
        let allows = |n: &Node, p: &PlatformId| n.members.contains(p) || n.chain_only.contains(p);
        if !allows(&self.nodes[i], &b) || !allows(&self.nodes[j], &a) {
            return;
        }
        if self.links.insert((i.min(j), i.max(j))) {
            self.input(i, Input::Connected(b));
            self.input(j, Input::Connected(a));
        }
        self.run();
    }

    /// Connects every pair.
    pub fn connect_all(&mut self) {
        for i in 0..self.nodes.len() {
            for j in i + 1..self.nodes.len() {
                self.connect(i, j);
            }
        }
    }

    /// Disconnects `i` and `j`.
    pub fn disconnect(&mut self, i: usize, j: usize) {
        if self.links.remove(&(i.min(j), i.max(j))) {
            let (a, b) = (self.id(i), self.id(j));
            self.input(i, Input::Disconnected(b));
            self.input(j, Input::Disconnected(a));
            self.run();
        }
    }

    /// Whether `i` and `j` are connected.
    pub fn linked(&self, i: usize, j: usize) -> bool {
        self.links.contains(&(i.min(j), i.max(j)))
    }

    /// Runs `command` at node `i` until everything settles; its reply.
    ///
    /// # Panics
    ///
    /// If no reply comes (the node holds its batches: use [`Cluster::call_held`]).
    pub fn call(&mut self, i: usize, command: Command) -> Result<Answer, EngineError> {
        let id = self.call_held(i, command);
        self.reply(i, id)
            .unwrap_or_else(|| panic!("node {i} never replied to call {id:?}"))
    }

    /// Sends `command` to node `i` and runs; the call's number, for [`Cluster::reply`].
    pub fn call_held(&mut self, i: usize, command: Command) -> CallId {
        let id = CallId(self.number());
        self.input(i, Input::Call { id, command });
        self.run();
        id
    }

    /// The reply to call `id` at node `i`, if it came.
    pub fn reply(&mut self, i: usize, id: CallId) -> Option<Result<Answer, EngineError>> {
        self.nodes[i].replies.remove(&id)
    }

    /// Gossip from `source` (anyone, forged or not) delivered to node `to`; its verdict.
    pub fn gossip(&mut self, to: usize, source: PlatformId, data: Vec<u8>) -> Option<Verdict> {
        let id = GossipId(self.number());
        let topic = topic_name(&self.federation());
        self.input(
            to,
            Input::Gossip {
                id,
                source,
                topic,
                data,
            },
        );
        self.run();
        self.nodes[to].verdicts.get(&id).copied()
    }

    /// A request from `peer` (anyone) to node `to`; its answer.
    pub fn request(
        &mut self,
        to: usize,
        peer: PlatformId,
        request: SyncRequest,
    ) -> Option<SyncResponse> {
        let id = InboundId(self.number());
        self.input(to, Input::Request { id, peer, request });
        self.run();
        self.nodes[to].answers.remove(&id)
    }

    /// Node `i` sets its platform profile's description; the change, if any.
    pub fn set_profile(
        &mut self,
        i: usize,
        description: &str,
    ) -> Result<Option<ChangeHash>, EngineError> {
        let profile = PlatformProfile {
            display_name: format!("Platform {i}"),
            description: description.into(),
            ..PlatformProfile::default()
        };
        let federation = self.federation();
        match self.call(
            i,
            Command::SetProfile {
                federation,
                profile,
            },
        )? {
            Answer::Profile(change) => Ok(change),
            other => panic!("a profile write answered {other:?}"),
        }
    }

    /// Node `i` runs a project operation; the project it answers with.
    pub fn project(&mut self, i: usize, op: ProjectOp) -> Result<ProjectEntry, EngineError> {
        let federation = self.federation();
        match self.call(i, Command::Projects { federation, op })? {
            Answer::Project(entry) => Ok(*entry),
            other => panic!("a project operation answered {other:?}"),
        }
    }

    /// Node `i` creates a project with this code; its id.
    ///
    /// # Panics
    ///
    /// If the create fails.
    pub fn create_project(&mut self, i: usize, code: &str) -> DocId {
        let project = Project {
            code: code.into(),
            name: format!("Project {code}"),
            ..Project::default()
        };
        match self.project(i, ProjectOp::Create(Box::new(project))) {
            Ok(entry) => entry.id,
            Err(e) => panic!("node {i} cannot create project {code}: {e}"),
        }
    }

    /// Node `i` changes a project's description.
    pub fn describe(
        &mut self,
        i: usize,
        id: DocId,
        description: &str,
    ) -> Result<ProjectEntry, EngineError> {
        let patch = ProjectPatch {
            description: Some(description.into()),
            ..ProjectPatch::default()
        };
        self.project(i, ProjectOp::Update(id, Box::new(patch)))
    }

    /// Node `i` shares a project with node `j` (`None`: stops sharing).
    pub fn share(
        &mut self,
        i: usize,
        id: DocId,
        j: usize,
        access: Option<Access>,
    ) -> Result<ProjectEntry, EngineError> {
        let platform = self.id(j);
        self.project(i, ProjectOp::Share(id, vec![(platform, access)]))
    }

    /// The administrator revokes node `j` and hands the record to node `at`.
    pub fn revoke(&mut self, j: usize, at: usize) -> Result<Answer, EngineError> {
        let chain = self.world.revoke(self.id(j));
        self.call(at, Command::Publish(Box::new(ChainFile::new(&chain, None))))
    }

    /// A timer tick at every node.
    pub fn tick(&mut self) {
        for i in 0..self.nodes.len() {
            self.input(i, Input::Tick);
        }
        self.run();
    }

    /// Moves time on by `millis`.
    pub fn advance(&mut self, millis: i64) {
        self.now = Clock::at_millis(self.now.millis + millis);
    }

    /// Syncs node `i`'s store for its held batches: they become durable, or the node is
    /// told the sync failed (see [`MemoryStore::fail_syncs`]).
    pub fn sync(&mut self, i: usize) {
        use crate::store::Store;
        if let Some(&up_to) = self.nodes[i].unsynced.last() {
            self.nodes[i].unsynced.clear();
            let input = match self.nodes[i].store.sync() {
                Ok(()) => Input::Durable { up_to },
                Err(e) => Input::PersistFailed { error: Arc::new(e) },
            };
            self.input(i, input);
            self.run();
        }
    }

    /// Node `i` crashes (losing what was not synced) and starts again from its store.
    ///
    /// # Panics
    ///
    /// If it cannot start from what it stored.
    pub fn restart(&mut self, i: usize) {
        let links: Vec<usize> = (0..self.nodes.len())
            .filter(|&j| self.linked(i, j))
            .collect();
        for &j in &links {
            self.disconnect(i, j);
        }
        self.queue.retain(|(n, _)| *n != i);
        self.nodes[i].store.crash();
        let store = self.nodes[i].store.clone();
        self.nodes[i] = start(&self.world.platforms[i], Some(store));
        self.input(i, Input::Start);
        self.run();
    }

    /// Queues an input for node `i`.
    pub fn input(&mut self, i: usize, input: Input) {
        self.queue.push_back((i, input));
    }

    /// Handles queued inputs, and the inputs their effects cause, until none is left.
    ///
    /// # Panics
    ///
    /// After [`MAX_INPUTS_PER_RUN`] inputs.
    pub fn run(&mut self) {
        let mut handled = 0;
        while let Some((i, input)) = self.queue.pop_front() {
            handled += 1;
            assert!(handled <= MAX_INPUTS_PER_RUN, "the engines never go quiet");
            let now = self.now;
            let effects = self.nodes[i].engine.handle(input, now);
            for effect in effects {
                self.carry_out(i, effect);
            }
        }
    }

    fn number(&mut self) -> u64 {
        self.next_number += 1;
        self.next_number
    }

    fn carry_out(&mut self, i: usize, effect: Effect) {
        let me = self.id(i);
        match effect {
            Effect::Subscribe(federation) => {
                self.nodes[i].subscribed.insert(federation);
            }
            Effect::Publish { federation, data } => {
                self.nodes[i].published += 1;
                let topic = topic_name(&federation);
                for j in 0..self.nodes.len() {
                    let reaches = j != i
                        && self.linked(i, j)
                        && self.nodes[j].subscribed.contains(&federation)
                        && self.nodes[j].members.contains(&me);
                    if reaches {
                        let id = GossipId(self.number());
                        self.input(
                            j,
                            Input::Gossip {
                                id,
                                source: me,
                                topic: topic.clone(),
                                data: data.clone(),
                            },
                        );
                    }
                }
            }
            Effect::Request { id, peer, request } => {
                self.nodes[i].requests.push((peer, request.clone()));
                match self.index(&peer).filter(|&j| self.linked(i, j)) {
                    Some(j) => {
                        let inbound = InboundId(self.number());
                        self.inbound.insert((j, inbound), (i, id));
                        self.input(
                            j,
                            Input::Request {
                                id: inbound,
                                peer: me,
                                request,
                            },
                        );
                    }
                    None => self.input(
                        i,
                        Input::Response {
                            id,
                            response: Err("not connected".into()),
                        },
                    ),
                }
            }
            Effect::Respond { id, response } => match self.inbound.remove(&(i, id)) {
                Some((from, request)) => self.input(
                    from,
                    Input::Response {
                        id: request,
                        response: Ok(response),
                    },
                ),
                None => {
                    self.nodes[i].answers.insert(id, response);
                }
            },
            Effect::Verdict { id, verdict, .. } => {
                self.nodes[i].verdicts.insert(id, verdict);
            }
            Effect::AllowPeers {
                members,
                chain_only,
            } => {
                self.nodes[i].members = members;
                self.nodes[i].chain_only = chain_only;
            }
            Effect::Dial { peer, .. } => self.nodes[i].dialled.push(peer),
            Effect::Feed(event) => self.nodes[i].feed.push(event),
            Effect::Persist { ticket, batch } => {
                use crate::store::Store;
                match self.nodes[i].store.write(batch) {
                    Ok(()) if self.nodes[i].hold => self.nodes[i].unsynced.push(ticket),
                    Ok(()) => {
                        let synced = self.nodes[i].store.sync();
                        let input = match synced {
                            Ok(()) => Input::Durable { up_to: ticket },
                            Err(e) => Input::PersistFailed { error: Arc::new(e) },
                        };
                        self.input(i, input);
                    }
                    Err(e) => self.input(i, Input::PersistFailed { error: Arc::new(e) }),
                }
            }
            Effect::Reply { id, answer } => {
                self.nodes[i].replies.insert(id, answer);
            }
            Effect::DeleteRetiredKey { .. } => {}
        }
    }
}

/// An engine for `platform` over `store` (a new one if none).
fn start(platform: &Platform, store: Option<MemoryStore>) -> Node {
    let store = store.unwrap_or_default();
    let seed = platform.encryption_secret;
    let engine = Engine::new(
        platform.signing.clone(),
        (platform.encryption_secret, Vec::new()),
        Arc::new(store.clone()),
        EngineConfig::default(),
        seed,
    );
    let engine = match engine {
        Ok(engine) => engine,
        Err(e) => panic!("an engine cannot start from its store: {e}"),
    };
    Node {
        engine,
        store,
        subscribed: BTreeSet::new(),
        members: HashSet::new(),
        chain_only: HashSet::new(),
        dialled: Vec::new(),
        feed: Vec::new(),
        verdicts: BTreeMap::new(),
        requests: Vec::new(),
        answers: BTreeMap::new(),
        published: 0,
        unsynced: Vec::new(),
        hold: false,
        replies: BTreeMap::new(),
    }
}
