//! Helpers for the misbehaviour tests: the administrator, the attacker (a member that
//! speaks the node protocol directly from the test process), and crafted changes.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{ActorId, Automerge, Change, ObjId, ObjType, ReadDoc, Value, ROOT};
use ed25519_dalek::SigningKey;
use fed_crdt::chain::file::ChainFile;
use fed_crdt::chain::Chain;
use fed_crdt::envelope::ChangeEnvelope;
use fed_crdt::ids::{DocId, FederationId, PlatformId};
use fed_crdt::keys::KeyKind;
use fed_crdt::registry::platforms::{profile_change, PlatformProfile};
use fed_crdt::registry::{Document, Outcome};
use fed_crdt::Timestamp;
use fed_e2e::{wait_until, Admin, TestNode};
use fednode::net::protocol::{Announcement, SyncRequest, SyncResponse};
use fednode::net::{NetClient, NetConfig, NetError, NetEvent};
use libp2p::gossipsub::MessageAcceptance;
use libp2p::{Multiaddr, PeerId};
use tokio_util::sync::CancellationToken;

/// A member's secret key, read from its data directory.
pub fn platform_key(dir: &Path) -> SigningKey {
    let secret = fednode::keyfile::read_secret(&dir.join("platform.key"), KeyKind::Ed25519Secret)
        .expect("platform key");
    SigningKey::from_bytes(&secret)
}

/// The attacker's libp2p node: a real member's key, the node's own network code, and a
/// responder that answers every registry sync request with `answers`.
pub struct Attacker {
    pub rt: tokio::runtime::Runtime,
    pub net: NetClient,
    pub key: SigningKey,
    pub id: PlatformId,
    pub federation: FederationId,
    pub answers: Arc<Mutex<Vec<ChangeEnvelope>>>,
    pub shutdown: CancellationToken,
}

impl Attacker {
    /// Starts the node, allows the honest nodes, subscribes to the federation's topic and
    /// dials the honest nodes.
    pub fn start(dir: &Path, federation: FederationId, honest: &[&TestNode]) -> Attacker {
        let key = platform_key(dir);
        let keypair =
            libp2p::identity::Keypair::ed25519_from_bytes(key.to_bytes()).expect("ed25519 keypair");
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let shutdown = CancellationToken::new();
        let answers = Arc::new(Mutex::new(Vec::new()));
        let net = rt.block_on(async {
            let (net, events, event_loop) =
                fednode::net::new(keypair, NetConfig::default(), shutdown.clone())
                    .expect("attacker network");
            tokio::spawn(event_loop.run());
            tokio::spawn(respond(net.clone(), events, answers.clone()));
            net
        });
        let attacker = Attacker {
            rt,
            net,
            id: PlatformId::from(&key),
            key,
            federation,
            answers,
            shutdown,
        };
        attacker.allow(honest);
        // Subscribe first: the subscriptions peers announce on connecting are kept only
        // for topics we have joined.
        attacker
            .rt
            .block_on(attacker.net.join(federation))
            .expect("subscribe to the federation");
        for node in honest {
            attacker.dial(node).expect("the attacker is a member");
        }
        attacker
    }

    /// Lets exactly these nodes connect with the attacker.
    pub fn allow(&self, nodes: &[&TestNode]) {
        let peers: HashSet<PeerId> = nodes.iter().map(|n| peer_id(n)).collect();
        self.rt
            .block_on(self.net.set_allowed_peers(peers, HashSet::new()))
            .expect("allow the honest nodes");
    }

    pub fn dial(&self, node: &TestNode) -> Result<(), NetError> {
        let address: Multiaddr = node.bootstrap.parse().expect("bootstrap address");
        self.rt.block_on(self.net.dial(peer_id(node), address))
    }

    pub fn connected(&self) -> Vec<PeerId> {
        self.rt
            .block_on(self.net.connected_peers())
            .unwrap_or_default()
    }

    pub fn request(&self, node: &TestNode, request: SyncRequest) -> Result<SyncResponse, NetError> {
        self.rt.block_on(self.net.request(peer_id(node), request))
    }

    /// The platforms registry as `node` hands it to a member, rebuilt and checked.
    pub fn registry(&self, node: &TestNode, chain: &Chain) -> Document {
        let document = DocId::platforms_registry(&self.federation);
        let request = SyncRequest::Document {
            federation: self.federation,
            document,
            heads: Vec::new(),
            have: Vec::new(),
        };
        let envelopes = match self.request(node, request) {
            Ok(SyncResponse::Envelopes { envelopes, .. }) => envelopes,
            other => panic!("registry sync answered {other:?}"),
        };
        let (doc, outcomes) = Document::from_envelopes(document, chain, envelopes);
        assert!(
            outcomes.iter().all(|o| matches!(o, Outcome::Accepted(_))),
            "{outcomes:?}"
        );
        doc
    }

    /// Publishes `data` once on the federation's topic (an error means no peer is known
    /// to be subscribed yet).
    pub fn publish(&self, data: &[u8]) -> Result<(), NetError> {
        self.rt
            .block_on(self.net.publish(self.federation, data.to_vec()))
    }

    /// Publishes `data` on the federation's topic again and again (gossip is lossy and
    /// a peer's subscription may not be known yet) until `done`.
    pub fn gossip_until(&self, what: &str, data: &[u8], mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let _ = self.publish(data);
            if done() {
                return;
            }
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Gossips `env` until every honest node has recorded its refusal by `check`.
    pub fn gossip_refused(&self, nodes: &[&TestNode], env: &ChangeEnvelope, check: &str) {
        self.gossip_until(
            &format!("every node refuses {} by `{check}`", env.change_hash),
            &announce(env),
            || nodes.iter().all(|n| refused(n, env, check)),
        );
    }

    /// Answers the honest nodes' registry sync requests with the envelopes of `cases`
    /// until every node has recorded each refusal by its check, then answers with nothing
    /// again.
    pub fn sync_refused(&self, nodes: &[&TestNode], cases: &[(&ChangeEnvelope, &str)]) {
        *self.answers.lock().expect("answers") = cases.iter().map(|(e, _)| (*e).clone()).collect();
        for (env, check) in cases {
            wait_until(
                &format!(
                    "every node refuses {} by `{check}` through anti-entropy",
                    env.change_hash
                ),
                || nodes.iter().all(|n| refused(n, env, check)),
            );
        }
        self.answers.lock().expect("answers").clear();
    }
}

impl Drop for Attacker {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// The attacker's side of anti-entropy: crafted envelopes for every registry request, an
/// empty chain for every chain request; gossip from others is neither checked nor
/// forwarded.
pub async fn respond(
    net: NetClient,
    mut events: fednode::net::NetEvents,
    answers: Arc<Mutex<Vec<ChangeEnvelope>>>,
) {
    while let Some(event) = events.recv().await {
        match event {
            NetEvent::Request {
                request, channel, ..
            } => {
                let response = match request {
                    SyncRequest::Document { .. } | SyncRequest::Documents { .. } => {
                        SyncResponse::Envelopes {
                            envelopes: answers.lock().map(|a| a.clone()).unwrap_or_default(),
                            grants: Vec::new(),
                        }
                    }
                    SyncRequest::Push { .. } => SyncResponse::Received,
                    SyncRequest::Digest { .. } => SyncResponse::Differs,
                    SyncRequest::Chain { .. } => SyncResponse::Chain {
                        records: Vec::new(),
                    },
                };
                net.respond(channel, response);
            }
            NetEvent::Gossip {
                source, message_id, ..
            } => {
                net.report_gossip(message_id, source, MessageAcceptance::Ignore);
            }
            NetEvent::PeerConnected(_) | NetEvent::PeerDisconnected(_) => {}
        }
    }
}

pub fn peer_id(node: &TestNode) -> PeerId {
    node.platform_id.parse().expect("peer id")
}

pub fn platform_id(node: &TestNode) -> PlatformId {
    node.platform_id.parse().expect("platform id")
}

pub fn announce(env: &ChangeEnvelope) -> Vec<u8> {
    Announcement::Change {
        envelope: Box::new(env.clone()),
    }
    .to_bytes()
}

pub fn now_ms() -> i64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after the epoch");
    i64::try_from(since.as_millis()).expect("milliseconds fit")
}

pub fn now() -> Timestamp {
    Timestamp(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock after the epoch")
            .as_secs(),
    )
}

pub fn profile(name: &str) -> PlatformProfile {
    PlatformProfile {
        display_name: name.into(),
        description: format!("{name} data warehouse"),
        contact: "dpo@example.org".into(),
        addresses: Vec::new(),
    }
}

/// The signed change by `key` that sets its own profile to `profile(name)`, citing the
/// chain's head.
pub fn own_profile(doc: &Document, chain: &Chain, key: &SigningKey, name: &str) -> ChangeEnvelope {
    profile_change(doc, chain, key, &profile(name), now_ms())
        .expect("valid profile")
        .expect("something changes")
        .into_envelope()
}

/// A change on a copy of `base` under any actor id, with any edit: what an attacker can
/// build with Automerge alone.
pub fn raw_change(
    base: &Automerge,
    actor: &[u8],
    edit: impl FnOnce(&mut Transaction<'_>),
) -> Change {
    let mut doc = base.clone();
    doc.set_actor(ActorId::from(actor));
    let mut tx = doc.transaction();
    edit(&mut tx);
    let (hash, _) = tx.commit_with(CommitOptions::default().with_time(now_ms()));
    doc.get_change_by_hash(&hash.expect("the edit makes a change"))
        .expect("the change is in the document")
}

/// The map of a platform's entry.
pub fn entry(tx: &Transaction<'_>, platform: &str) -> ObjId {
    match tx.get(ROOT, platform).expect("readable root") {
        Some((Value::Object(ObjType::Map), obj)) => obj,
        other => panic!("no entry for {platform}: {other:?}"),
    }
}

/// Writes a whole, valid profile under `platform`'s key.
pub fn put_profile(tx: &mut Transaction<'_>, platform: &str, name: &str) {
    let obj = tx
        .put_object(ROOT, platform, ObjType::Map)
        .expect("put entry");
    tx.put(&obj, "display_name", name).expect("put");
    tx.put(&obj, "description", "").expect("put");
    tx.put(&obj, "contact", "").expect("put");
    tx.put_object(&obj, "addresses", ObjType::List)
        .expect("put addresses");
}

/// `change` sealed by `key`, citing the chain's head.
pub fn seal(key: &SigningKey, chain: &Chain, change: &Change) -> ChangeEnvelope {
    let state = chain.state();
    ChangeEnvelope::seal(
        key,
        chain.federation(),
        DocId::platforms_registry(&chain.federation()),
        state.seq,
        state.head,
        change,
    )
}

pub fn fetch_chain(node: &TestNode, federation: &FederationId) -> Chain {
    let file = node.get(&format!("/v1/federations/{federation}/chain"));
    ChainFile::parse(&file.to_string())
        .expect("chain file")
        .verify()
        .expect("the node's chain verifies")
        .chain
}

pub fn refusals(node: &TestNode, federation: &FederationId) -> Vec<serde_json::Value> {
    node.get(&format!("/v1/refusals?federation={federation}"))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// Whether `node` has recorded the refusal of `env`'s change by `check`, naming the
/// envelope's author and a reason.
pub fn refused(node: &TestNode, env: &ChangeEnvelope, check: &str) -> bool {
    refusals(node, &env.federation).iter().any(|r| {
        r["change_hash"] == env.change_hash.to_string()
            && r["check"] == check
            && r["author"] == env.author.to_string()
            && r["document"] == env.document.to_string()
            && r["reason"].as_str().is_some_and(|s| !s.is_empty())
    })
}

/// Every member's self-written profile (null if none), by platform id.
pub fn profiles(node: &TestNode, federation: &FederationId) -> BTreeMap<String, serde_json::Value> {
    node.get(&format!("/v1/federations/{federation}/platforms"))["platforms"]
        .as_object()
        .expect("platforms")
        .iter()
        .map(|(id, p)| (id.clone(), p["profile"].clone()))
        .collect()
}

pub fn status(node: &TestNode, federation: &FederationId, platform: &PlatformId) -> String {
    node.get(&format!("/v1/federations/{federation}/platforms"))["platforms"][platform.to_string()]
        ["status"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

pub fn converge(nodes: &[&TestNode], federation: &FederationId, seq: u64) {
    let id = federation.to_string();
    for node in nodes {
        wait_until(&format!("{} reaches seq {seq}", node.platform_id), || {
            node.head_seq(&id) == Some(seq)
        });
    }
}

pub fn log_of(node: &TestNode) -> String {
    std::fs::read_to_string(node.dir.with_extension("log")).unwrap_or_default()
}

/// Honest nodes started one after the other (each bootstrapping from those before),
/// joined to the administrator's federation and connected to each other.
pub fn start_honest(admin: &Admin, dirs: &[PathBuf]) -> Vec<TestNode> {
    let mut nodes: Vec<TestNode> = Vec::new();
    for dir in dirs {
        let bootstrap: Vec<String> = nodes.iter().map(|n| n.bootstrap.clone()).collect();
        let bootstrap: Vec<&str> = bootstrap.iter().map(String::as_str).collect();
        nodes.push(TestNode::start(dir, &bootstrap));
    }
    for n in &nodes {
        admin.join(n);
    }
    wait_until("the honest nodes are connected", || {
        nodes.iter().all(|n| n.peers().len() == nodes.len() - 1)
    });
    nodes
}

/// Starts Mallory's node and waits until every honest node lists her as a peer.
pub fn connect_mallory(dir: &Path, federation: FederationId, nodes: &[&TestNode]) -> Attacker {
    let mallory = Attacker::start(dir, federation, nodes);
    let id = mallory.id.to_string();
    wait_until("mallory is connected to every honest node", || {
        mallory.connected().len() == nodes.len() && nodes.iter().all(|n| n.peers().contains(&id))
    });
    mallory
}

/// Debug logs of the node's own crate, where malformed gossip is reported.
pub fn debug_logs() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| std::env::set_var("RUST_LOG", "info,fednode=debug,fed_engine=debug"));
}
