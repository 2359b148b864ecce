//! A deterministic simulator of a federation: many nodes of the engine's state machine
//! (`fed-engine`) in one process, in virtual time, over a seeded network that delays,
//! reorders, duplicates and drops messages, partitions and heals, and crashes nodes and
//! restarts them from what their stores made durable.
//!
//! A run is a function of its [`Options`]: the same nodes, seed and steps give the same
//! messages in the same order and the same [`Report`]. After the workload the network
//! heals, every node restarts, anti-entropy runs, and [`check`] states the invariants.

pub mod check;
mod network;
mod workload;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use fed_crdt::ids::{ChangeHash, DocId, PlatformId};
use fed_engine::store::MemoryStore;
use fed_engine::{Clock, Engine, EngineConfig, Input};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;

use fed_engine::testing::world::{self, World};
use network::Event;

/// Virtual milliseconds between two anti-entropy rounds of a node.
pub const TICK_MS: i64 = 10_000;
/// Virtual milliseconds between two workload steps.
pub const STEP_MS: i64 = 10;
/// Virtual milliseconds after the workload for the nodes to converge: enough rounds of
/// anti-entropy for a change to cross a network that just healed.
pub const SETTLE_MS: i64 = 6 * TICK_MS;

/// What to run.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// How many platforms (each runs a node).
    pub nodes: usize,
    /// The seed every random choice comes from.
    pub seed: u64,
    /// Workload steps (each an operator's write, a fault, or an attack).
    pub steps: usize,
}

/// What a run did and whether the invariants held.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Nodes.
    pub nodes: usize,
    /// The seed.
    pub seed: u64,
    /// Workload steps.
    pub steps: usize,
    /// Messages delivered (gossip, requests, answers).
    pub messages: u64,
    /// Messages the network dropped.
    pub dropped: u64,
    /// Writes acknowledged to an operator.
    pub writes_acknowledged: u64,
    /// Writes refused to an operator (a rule, a revoked writer, a failed store).
    pub writes_refused: u64,
    /// Crashes.
    pub crashes: u64,
    /// Partitions.
    pub partitions: u64,
    /// Forged or rule-breaking changes sent by the misbehaving member.
    pub attacks: u64,
    /// Platforms revoked.
    pub revocations: u64,
    /// Gossip messages a node rejected as breaking a rule.
    pub rejected_gossip: u64,
    /// Platforms that some readers of a private document count in its audience and
    /// others do not: unshared, they never received the change that removed them.
    pub unshared_unaware: u64,
    /// Virtual time the run covered, in milliseconds.
    pub virtual_ms: i64,
    /// Whether every node holds what its audience holds.
    pub converged: bool,
    /// Invariants broken.
    pub violations: usize,
    /// The first few, in words.
    pub first_violations: Vec<String>,
    /// What the workload did, step by step, and what the operators were answered: read
    /// next to a violation, it says how the run got there.
    #[serde(skip)]
    pub trace: Vec<String>,
}

/// One simulated node: its platform, its durable store, and its engine while it runs.
struct Node {
    id: PlatformId,
    store: MemoryStore,
    engine: Option<Engine>,
    /// Bumped at each crash: events addressed to an earlier run of the node are dropped.
    incarnation: u64,
    /// Peers it allows: fully, and for the chain only.
    members: BTreeSet<PlatformId>,
    chain_only: BTreeSet<PlatformId>,
    /// The last ticket written, and whether a sync is under way.
    written: u64,
    syncing: bool,
    /// The partition side it is on.
    side: u8,
}

/// What the workload waits to hear of one of its commands.
#[derive(Clone, Debug)]
enum Expect {
    /// A write whose acknowledgement names the document.
    Write(Option<DocId>),
    /// A project create: on success the project is the owner's to edit.
    Create,
    /// An export request create: on success its parties are its audience.
    Export,
    /// A write the engine must refuse (a revoked platform writing).
    Refusal,
    /// Nothing to check.
    Other,
}

/// A whole simulated federation.
pub struct Sim {
    options: Options,
    rng: StdRng,
    now: i64,
    /// The virtual time the run started at.
    start: i64,
    world: World,
    nodes: Vec<Node>,
    index: HashMap<PlatformId, usize>,
    events: BTreeMap<(i64, u64), Event>,
    next_event: u64,
    /// Connected pairs, lower index first.
    links: BTreeSet<(usize, usize)>,
    /// Peers' requests being handled: (responder, its number) to (asker, our number).
    inbound: HashMap<(usize, u64), (usize, fed_engine::RequestId)>,
    next_number: u64,
    calls: HashMap<(usize, u64), Expect>,
    /// Projects each owner created, for the workload to edit and share.
    projects: Vec<(usize, DocId)>,
    /// Every platform a document was ever shared with, and its owner.
    ever_shared: HashMap<DocId, BTreeSet<PlatformId>>,
    /// Platforms first shared a document by its owner after the owner's revocation: no
    /// key can reach them.
    keyless: BTreeSet<(DocId, PlatformId)>,
    /// Changes acknowledged to an operator, by node.
    acknowledged: Vec<(usize, DocId, ChangeHash)>,
    /// Changes forged by the misbehaving member, which no honest node may accept.
    forged: Vec<(DocId, ChangeHash)>,
    revoked: BTreeSet<usize>,
    /// Answers the outsider got that were not refusals.
    outsider_answers: u64,
    report: Report,
    violations: Vec<String>,
    /// The lines of [`Report::trace`].
    trace: Vec<String>,
}

impl Sim {
    /// A federation of `options.nodes` platforms, every node started and connected.
    pub fn new(options: Options) -> Sim {
        let world = World::new(options.nodes);
        let nodes = world
            .platforms
            .iter()
            .chain(std::iter::once(&world.outsider))
            .map(|p| Node {
                id: p.id,
                store: MemoryStore::new(),
                engine: None,
                incarnation: 0,
                members: BTreeSet::new(),
                chain_only: BTreeSet::new(),
                written: 0,
                syncing: false,
                side: 0,
            })
            .collect();
        let index = world
            .platforms
            .iter()
            .chain(std::iter::once(&world.outsider))
            .enumerate()
            .map(|(i, p)| (p.id, i))
            .collect();
        let start = i64::try_from(world::ISSUED_AT.as_secs()).unwrap_or(0) * 1000 + 1000;
        let mut sim = Sim {
            options,
            rng: StdRng::seed_from_u64(options.seed),
            now: start,
            start,
            world,
            nodes,
            index,
            events: BTreeMap::new(),
            next_event: 0,
            links: BTreeSet::new(),
            inbound: HashMap::new(),
            next_number: 0,
            calls: HashMap::new(),
            projects: Vec::new(),
            ever_shared: HashMap::new(),
            keyless: BTreeSet::new(),
            acknowledged: Vec::new(),
            forged: Vec::new(),
            revoked: BTreeSet::new(),
            outsider_answers: 0,
            report: Report {
                nodes: options.nodes,
                seed: options.seed,
                steps: options.steps,
                ..Report::default()
            },
            violations: Vec::new(),
            trace: Vec::new(),
        };
        let file = fed_crdt::chain::file::ChainFile::new(&sim.world.chain, None);
        for i in 0..sim.nodes.len() {
            sim.boot(i);
            if i < options.nodes {
                sim.call(
                    i,
                    fed_engine::Command::Join(Box::new(file.clone())),
                    Expect::Other,
                );
            }
        }
        sim
    }

    /// The platform admitted to no federation.
    fn outsider(&self) -> usize {
        self.options.nodes
    }

    /// The run of `options` with the fewest workload steps that still breaks an invariant,
    /// found by bisecting the step count (a run of fewer steps is a prefix of the same
    /// workload): its report, trace included. `None` if `options` itself breaks none.
    pub fn shortest_failing(options: Options) -> Option<Report> {
        let mut failing = Sim::new(options).run();
        if failing.violations == 0 {
            return None;
        }
        let (mut passes, mut fails) = (0, options.steps);
        while fails - passes > 1 {
            let steps = passes + (fails - passes) / 2;
            let report = Sim::new(Options { steps, ..options }).run();
            if report.violations > 0 {
                (fails, failing) = (steps, report);
            } else {
                passes = steps;
            }
        }
        Some(failing)
    }

    /// Runs the workload, heals everything, lets the nodes converge, checks.
    pub fn run(mut self) -> Report {
        for step in 0..self.options.steps {
            let at = self.now + STEP_MS;
            self.run_until(at);
            self.step(step);
        }
        self.heal();
        for i in 0..self.nodes.len() {
            if self.nodes[i].engine.is_none() {
                self.boot(i);
            }
        }
        let end = self.now + SETTLE_MS;
        self.run_until(end);
        self.report.virtual_ms = self.now - self.start;
        check::check(&mut self);
        self.report.violations = self.violations.len();
        self.report.first_violations = self.violations.iter().take(5).cloned().collect();
        self.report.trace = self.trace;
        self.report
    }

    /// Notes one line of the run's trace, at the current virtual time.
    fn note(&mut self, line: String) {
        let at = self.now - self.start;
        self.trace.push(format!("{at:>8} ms  {line}"));
    }

    /// A random number below `n` (0 for none).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            self.rng.random_range(0..n)
        }
    }

    /// True with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    /// Starts (or restarts) node `i` from its store.
    fn boot(&mut self, i: usize) {
        let platform = self.world.platforms.get(i).unwrap_or(&self.world.outsider);
        let seed: [u8; 32] = self.rng.random();
        let engine = Engine::new(
            platform.signing.clone(),
            (platform.encryption_secret, Vec::new()),
            std::sync::Arc::new(self.nodes[i].store.clone()),
            EngineConfig::default(),
            seed,
        );
        if self.nodes[i].incarnation > 0 {
            self.note(format!("node {i} restarts from its store"));
        }
        match engine {
            Ok(engine) => {
                self.nodes[i].engine = Some(engine);
                self.nodes[i].written = 0;
                self.nodes[i].syncing = false;
                self.feed(i, Input::Start);
                let first = self.now + 1 + i64::try_from(self.below(1000)).unwrap_or(0);
                self.schedule(first, Event::Tick { node: i });
            }
            Err(e) => self
                .violations
                .push(format!("node {i} cannot restart from its store: {e}")),
        }
    }

    /// Hands node `i` an input and carries out its effects.
    fn feed(&mut self, i: usize, input: Input) {
        let now = Clock::at_millis(self.now);
        let Some(engine) = self.nodes[i].engine.as_mut() else {
            return;
        };
        let effects = engine.handle(input, now);
        for effect in effects {
            self.carry_out(i, effect);
        }
    }

    /// An operator's command to node `i`.
    fn call(&mut self, i: usize, command: fed_engine::Command, expect: Expect) {
        self.next_number += 1;
        let id = fed_engine::CallId(self.next_number);
        self.calls.insert((i, id.0), expect);
        self.feed(i, Input::Call { id, command });
    }

    fn schedule(&mut self, at: i64, event: Event) {
        self.next_event += 1;
        self.events.insert((at, self.next_event), event);
    }

    /// Handles every event due up to `until`, then sets the clock there.
    fn run_until(&mut self, until: i64) {
        while let Some(entry) = self.events.first_entry() {
            if entry.key().0 > until {
                break;
            }
            let ((at, _), event) = entry.remove_entry();
            self.now = self.now.max(at);
            self.deliver(event);
        }
        self.now = self.now.max(until);
    }
}
