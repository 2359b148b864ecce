//! The simulated network and disks: how effects become later inputs.
//!
//! Every pair of nodes on the same side of a partition that allow each other is
//! connected. Gossip goes straight to every connected member (a flood, where gossipsub
//! would forward along a mesh); each message is delayed by a random latency, so messages
//! overtake each other, and some are duplicated or dropped. A dropped request, or one to
//! a node that crashed, is answered by a failure after a timeout, as libp2p does. A batch
//! is durable only once its simulated flush completes; a crash before that loses it.

use fed_crdt::ids::PlatformId;
use fed_engine::protocol::{SyncRequest, SyncResponse};
use fed_engine::{Effect, GossipId, InboundId, Input, RequestId, Verdict};

use crate::{Expect, Sim, TICK_MS};

/// Chance that the network drops a message.
pub const DROP: f64 = 0.03;
/// Chance that it delivers a gossip message twice.
pub const DUPLICATE: f64 = 0.02;
/// Most latency of one message, in virtual milliseconds.
pub const MAX_LATENCY_MS: usize = 40;
/// How long a request waits for an answer before it fails.
pub const REQUEST_TIMEOUT_MS: i64 = 500;
/// Most time one flush of a store takes.
pub const MAX_FLUSH_MS: usize = 4;

/// Something that happens at a virtual time.
#[derive(Debug)]
pub(crate) enum Event {
    /// A node's anti-entropy timer.
    Tick { node: usize },
    /// A gossip message reaches a node.
    Gossip {
        to: usize,
        incarnation: u64,
        from: PlatformId,
        topic: String,
        data: Vec<u8>,
    },
    /// A request reaches a node.
    Request {
        to: usize,
        from: usize,
        id: RequestId,
        request: SyncRequest,
    },
    /// An answer (or a failure) reaches the node that asked.
    Response {
        to: usize,
        incarnation: u64,
        id: RequestId,
        response: Result<SyncResponse, String>,
    },
    /// A node's flush completes.
    Flushed { node: usize, incarnation: u64 },
    /// Restart a crashed node.
    Restart { node: usize },
    /// End a partition.
    Heal,
}

impl Sim {
    fn latency(&mut self) -> i64 {
        1 + i64::try_from(self.below(MAX_LATENCY_MS)).unwrap_or(0)
    }

    fn up(&self, i: usize) -> bool {
        self.nodes[i].engine.is_some()
    }

    /// Whether `i` and `j` are connected now.
    pub(crate) fn linked(&self, i: usize, j: usize) -> bool {
        self.links.contains(&(i.min(j), i.max(j)))
    }

    /// Whether `i` lets `j` connect at all, and as a full member.
    fn allows(&self, i: usize, j: usize) -> (bool, bool) {
        let peer = self.nodes[j].id;
        let member = self.nodes[i].members.contains(&peer);
        (member || self.nodes[i].chain_only.contains(&peer), member)
    }

    /// Whether gossip from `i` reaches `j`: both allow each other as members.
    fn gossips(&self, i: usize, j: usize) -> bool {
        self.linked(i, j) && self.allows(i, j).1 && self.allows(j, i).1
    }

    pub(crate) fn deliver(&mut self, event: Event) {
        match event {
            Event::Tick { node } => {
                if self.up(node) {
                    self.feed(node, Input::Tick);
                    let next = self.now + TICK_MS;
                    self.schedule(next, Event::Tick { node });
                }
            }
            Event::Gossip {
                to,
                incarnation,
                from,
                topic,
                data,
            } => {
                if self.nodes[to].incarnation == incarnation {
                    self.report.messages += 1;
                    self.next_number += 1;
                    let id = GossipId(self.next_number);
                    self.feed(
                        to,
                        Input::Gossip {
                            id,
                            source: from,
                            topic,
                            data,
                        },
                    );
                }
            }
            Event::Request {
                to,
                from,
                id,
                request,
            } => {
                if !self.up(to) || !self.linked(from, to) {
                    self.fail_request(from, id);
                    return;
                }
                self.report.messages += 1;
                self.next_number += 1;
                let number = self.next_number;
                self.inbound.insert((to, number), (from, id));
                self.feed(
                    to,
                    Input::Request {
                        id: InboundId(number),
                        peer: self.nodes[from].id,
                        request,
                    },
                );
            }
            Event::Response {
                to,
                incarnation,
                id,
                response,
            } => {
                if self.nodes[to].incarnation == incarnation {
                    self.report.messages += 1;
                    self.feed(to, Input::Response { id, response });
                }
            }
            Event::Flushed { node, incarnation } => {
                if self.nodes[node].incarnation == incarnation {
                    use fed_engine::store::Store;
                    let up_to = self.nodes[node].written;
                    self.nodes[node].syncing = false;
                    match self.nodes[node].store.sync() {
                        Ok(()) => self.feed(node, Input::Durable { up_to }),
                        Err(error) => self.feed(
                            node,
                            Input::PersistFailed {
                                error: std::sync::Arc::new(error),
                            },
                        ),
                    }
                }
            }
            Event::Restart { node } => {
                if !self.up(node) {
                    self.boot(node);
                }
            }
            Event::Heal => self.heal(),
        }
    }

    /// The request `id` of `asker` fails after the timeout.
    fn fail_request(&mut self, asker: usize, id: RequestId) {
        let at = self.now + REQUEST_TIMEOUT_MS;
        let incarnation = self.nodes[asker].incarnation;
        self.schedule(
            at,
            Event::Response {
                to: asker,
                incarnation,
                id,
                response: Err("timed out".into()),
            },
        );
    }

    pub(crate) fn carry_out(&mut self, i: usize, effect: Effect) {
        match effect {
            // Every node is in the one federation: it takes gossip once it joined.
            Effect::Subscribe(_) => {}
            Effect::Publish { federation, data } => {
                let topic = fed_engine::protocol::topic_name(&federation);
                let from = self.nodes[i].id;
                for j in 0..self.nodes.len() {
                    if j != i && self.gossips(i, j) {
                        self.send_gossip(j, from, &topic, &data);
                    }
                }
            }
            Effect::Request { id, peer, request } => {
                let Some(&j) = self.index.get(&peer) else {
                    self.fail_request(i, id);
                    return;
                };
                if !self.linked(i, j) || self.chance(crate::network::DROP) {
                    self.report.dropped += 1;
                    self.fail_request(i, id);
                    return;
                }
                let at = self.now + self.latency();
                self.schedule(
                    at,
                    Event::Request {
                        to: j,
                        from: i,
                        id,
                        request,
                    },
                );
            }
            Effect::Respond { id, response } => {
                let Some((asker, request)) = self.inbound.remove(&(i, id.0)) else {
                    return;
                };
                if asker == self.outsider() {
                    if !matches!(response, SyncResponse::Refused { .. }) {
                        self.outsider_answers += 1;
                    }
                    return;
                }
                if self.chance(DROP) {
                    self.report.dropped += 1;
                    self.fail_request(asker, request);
                    return;
                }
                let at = self.now + self.latency();
                let incarnation = self.nodes[asker].incarnation;
                self.schedule(
                    at,
                    Event::Response {
                        to: asker,
                        incarnation,
                        id: request,
                        response: Ok(response),
                    },
                );
            }
            Effect::Verdict { verdict, .. } => {
                if verdict == Verdict::Reject {
                    self.report.rejected_gossip += 1;
                }
            }
            Effect::AllowPeers {
                members,
                chain_only,
            } => {
                self.nodes[i].members = members.into_iter().collect();
                self.nodes[i].chain_only = chain_only.into_iter().collect();
                let linked: Vec<usize> = (0..self.nodes.len())
                    .filter(|j| self.linked(i, *j))
                    .collect();
                for j in linked {
                    if !self.allows(i, j).0 {
                        self.unlink(i, j);
                    }
                }
            }
            Effect::Dial { peer, .. } => {
                if let Some(&j) = self.index.get(&peer) {
                    self.try_link(i, j);
                }
            }
            Effect::Feed(_) | Effect::DeleteRetiredKey { .. } => {}
            Effect::Persist { ticket, batch } => {
                use fed_engine::store::Store;
                match self.nodes[i].store.write(batch) {
                    Ok(()) => {
                        self.nodes[i].written = ticket;
                        if !self.nodes[i].syncing {
                            self.nodes[i].syncing = true;
                            let at =
                                self.now + 1 + i64::try_from(self.below(MAX_FLUSH_MS)).unwrap_or(0);
                            let incarnation = self.nodes[i].incarnation;
                            self.schedule(
                                at,
                                Event::Flushed {
                                    node: i,
                                    incarnation,
                                },
                            );
                        }
                    }
                    Err(error) => self.feed(
                        i,
                        Input::PersistFailed {
                            error: std::sync::Arc::new(error),
                        },
                    ),
                }
            }
            Effect::Reply { id, answer } => {
                let expect = self.calls.remove(&(i, id.0)).unwrap_or(Expect::Other);
                self.replied(i, expect, answer);
            }
        }
    }

    /// A gossip message from `from` to node `j`, maybe dropped, maybe twice.
    pub(crate) fn send_gossip(&mut self, j: usize, from: PlatformId, topic: &str, data: &[u8]) {
        if self.chance(DROP) {
            self.report.dropped += 1;
            return;
        }
        let copies = if self.chance(DUPLICATE) { 2 } else { 1 };
        for _ in 0..copies {
            let at = self.now + self.latency();
            let incarnation = self.nodes[j].incarnation;
            self.schedule(
                at,
                Event::Gossip {
                    to: j,
                    incarnation,
                    from,
                    topic: topic.to_string(),
                    data: data.to_vec(),
                },
            );
        }
    }

    /// Connects `i` and `j` if both run, are on the same side and allow each other.
    fn try_link(&mut self, i: usize, j: usize) {
        if i == j
            || self.linked(i, j)
            || !self.up(i)
            || !self.up(j)
            || self.nodes[i].side != self.nodes[j].side
            || !self.allows(i, j).0
            || !self.allows(j, i).0
        {
            return;
        }
        self.links.insert((i.min(j), i.max(j)));
        let (a, b) = (self.nodes[i].id, self.nodes[j].id);
        self.feed(i, Input::Connected(b));
        self.feed(j, Input::Connected(a));
    }

    fn unlink(&mut self, i: usize, j: usize) {
        if self.links.remove(&(i.min(j), i.max(j))) {
            let (a, b) = (self.nodes[i].id, self.nodes[j].id);
            self.feed(i, Input::Disconnected(b));
            self.feed(j, Input::Disconnected(a));
        }
    }

    /// Node `i` dies: what it had not synced is lost, its peers see it go, the requests
    /// it was answering fail.
    pub(crate) fn crash(&mut self, i: usize) {
        if !self.up(i) {
            return;
        }
        self.report.crashes += 1;
        self.note(format!("node {i} crashes"));
        self.nodes[i].engine = None;
        self.nodes[i].incarnation += 1;
        self.nodes[i].store.crash();
        let linked: Vec<usize> = (0..self.nodes.len())
            .filter(|j| self.linked(i, *j))
            .collect();
        for j in linked {
            self.links.remove(&(i.min(j), i.max(j)));
            let id = self.nodes[i].id;
            self.feed(j, Input::Disconnected(id));
        }
        let answering: Vec<(u64, usize, RequestId)> = self
            .inbound
            .iter()
            .filter(|((to, _), _)| *to == i)
            .map(|((_, n), (asker, id))| (*n, *asker, *id))
            .collect();
        for (n, asker, id) in answering {
            self.inbound.remove(&(i, n));
            self.fail_request(asker, id);
        }
        self.calls.retain(|(node, _), _| *node != i);
        let at = self.now + 500 + i64::try_from(self.below(3000)).unwrap_or(0);
        self.schedule(at, Event::Restart { node: i });
    }

    /// Splits the nodes in two sides at random; links across are cut.
    pub(crate) fn partition(&mut self) {
        self.report.partitions += 1;
        for i in 0..self.nodes.len() {
            self.nodes[i].side = u8::from(self.chance(0.5));
        }
        let across: Vec<(usize, usize)> = self
            .links
            .iter()
            .filter(|(i, j)| self.nodes[*i].side != self.nodes[*j].side)
            .copied()
            .collect();
        for (i, j) in across {
            self.unlink(i, j);
        }
        let at = self.now + 2000 + i64::try_from(self.below(8000)).unwrap_or(0);
        self.schedule(at, Event::Heal);
        let side: Vec<usize> = (0..self.nodes.len())
            .filter(|i| self.nodes[*i].side == 1)
            .collect();
        self.note(format!("the network splits nodes {side:?} from the others"));
    }

    /// Ends any partition; nodes reconnect when they next dial.
    pub(crate) fn heal(&mut self) {
        self.note("the network heals".into());
        for node in &mut self.nodes {
            node.side = 0;
        }
        for i in 0..self.nodes.len() {
            if self.up(i) {
                self.feed(i, Input::Tick);
            }
        }
    }

    /// What the workload learns from a reply.
    fn replied(
        &mut self,
        i: usize,
        expect: Expect,
        answer: Result<fed_engine::Answer, fed_engine::EngineError>,
    ) {
        self.workload_replied(i, expect, answer);
    }
}
