//! A member that misbehaves is refused at every node, with the reason recorded.
//!
//! Three honest `fednode` processes form a federation. The attacker, Mallory, is a
//! legitimate member (admitted in the chain with her own key) but runs no `fednode`: the
//! test drives a libp2p node of its own with Mallory's key, injects crafted envelopes by
//! gossip and answers the honest nodes' anti-entropy requests with crafted envelopes.
//! Every crafted change must be refused at every honest node with the check that failed
//! recorded in `GET /v1/refusals`; afterwards the honest registry is what it was before
//! the attacks, and the honest nodes still replicate each other's changes.
//!
//! The ignored tests show where the refusal log falls short: a recorded refusal can be
//! rewritten, an accepted change can stay listed as refused, and envelopes for documents
//! the node does not hold are neither checked nor recorded.

#[path = "misbehaviour/support.rs"]
mod support;

use support::*;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{Automerge, ROOT};
use fed_crdt::envelope::ChangeEnvelope;
use fed_crdt::ids::{ChangeHash, DocId, DocKind, FederationId, PlatformId, Signature};
use fed_crdt::limits::MAX_CHANGE_BYTES;
use fed_crdt::registry::platforms::read_profiles;
use fed_crdt::Timestamp;
use fed_e2e::{wait_until, Admin, TestNode};
use fednode::net::protocol::{SyncRequest, SyncResponse};
#[test]
fn a_misbehaving_member_is_refused_at_every_node_and_changes_nothing() {
    debug_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let honest_dirs: Vec<PathBuf> = ["h1", "h2", "h3"]
        .iter()
        .map(|n| TestNode::init(root, n))
        .collect();
    let mallory_dir = TestNode::init(root, "mallory");
    let rex_dir = TestNode::init(root, "rex");
    let eve_dir = TestNode::init(root, "eve");
    let admin = Admin::new(root, "chain.json");
    for dir in honest_dirs.iter().chain([&mallory_dir, &rex_dir]) {
        admin.admit(dir, &[]);
    }
    let eve_expires = Timestamp(now().as_secs() + 5);
    admin.admit(&eve_dir, &["--expires", &eve_expires.to_string()]);
    let federation = admin.chain().federation();
    let fed = federation.to_string();

    let [h1, h2, h3]: [TestNode; 3] = start_honest(&admin, &honest_dirs)
        .try_into()
        .unwrap_or_else(|_| panic!("three nodes"));
    let nodes = [&h1, &h2, &h3];
    for (n, name) in [(&h1, "One"), (&h2, "Two"), (&h3, "Three")] {
        n.set_profile(root, &fed, name);
    }
    wait_until("the honest registry converges", || {
        nodes.iter().all(|n| n.display_names(&fed).len() == 3)
    });
    let chain = fetch_chain(&h1, &federation);
    assert_eq!(chain.head(), admin.chain().head());

    // Mallory, a member, connects to every honest node with her own key.
    let mallory = connect_mallory(&mallory_dir, federation, &nodes);
    let mallory_id = mallory.id.to_string();

    // The injection path works: Mallory's own, valid profile change, sent by gossip
    // only, is accepted everywhere.
    let doc = mallory.registry(&h1, &chain);
    assert_eq!(read_profiles(doc.automerge()).len(), 3);
    let own = own_profile(&doc, &chain, &mallory.key, "Mallory");
    mallory.gossip_until(
        "mallory's valid change is accepted everywhere",
        &announce(&own),
        || {
            nodes.iter().all(|n| {
                n.display_names(&fed).get(&mallory_id).map(String::as_str) == Some("Mallory")
            })
        },
    );
    let before = profiles(&h1, &federation);
    assert_eq!(before.values().filter(|p| !p.is_null()).count(), 4);
    for n in nodes {
        assert_eq!(profiles(n, &federation), before);
        assert!(
            refusals(n, &federation).is_empty(),
            "{:?}",
            refusals(n, &federation)
        );
    }
    let doc = mallory.registry(&h1, &chain);
    let h1_id = platform_id(&h1);
    let h1_key = h1_id.to_string();
    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    let mut expect = |env: &ChangeEnvelope, check: &str| {
        expected.insert((env.change_hash.to_string(), check.to_string()));
    };

    // 1. A bad signature: a valid change of Mallory's own entry, one signature bit flipped.
    let mut bad_signature = own_profile(&doc, &chain, &mallory.key, "Mallory, badly signed");
    bad_signature.signature.0[10] ^= 0x01;
    mallory.gossip_refused(&nodes, &bad_signature, "signature");
    expect(&bad_signature, "signature");

    // 2. The author is not the signer: h1's actor and h1 as author, signed by Mallory.
    let forged = raw_change(doc.automerge(), h1_id.as_bytes(), |tx| {
        let obj = entry(tx, &h1_key);
        tx.put(&obj, "display_name", "Forged by Mallory")
            .expect("put");
    });
    let mut not_the_signer = seal(&mallory.key, &chain, &forged);
    not_the_signer.author = h1_id;
    not_the_signer.sign(&mallory.key);
    mallory.gossip_refused(&nodes, &not_the_signer, "signature");
    expect(&not_the_signer, "signature");

    // 3. The actor id of another platform: written under h1's actor, signed by Mallory as
    //    herself.
    let impersonated = raw_change(doc.automerge(), h1_id.as_bytes(), |tx| {
        let obj = entry(tx, &h1_key);
        tx.put(&obj, "display_name", "Impersonated by Mallory")
            .expect("put");
    });
    let other_actor = seal(&mallory.key, &chain, &impersonated);
    mallory.gossip_refused(&nodes, &other_actor, "actor_binding");
    expect(&other_actor, "actor_binding");

    // 4. An edit of another platform's entry under Mallory's own actor.
    let edit = raw_change(doc.automerge(), mallory.id.as_bytes(), |tx| {
        let obj = entry(tx, &h1_key);
        tx.put(&obj, "display_name", "Pwned by Mallory")
            .expect("put");
    });
    let other_entry = seal(&mallory.key, &chain, &edit);
    mallory.gossip_refused(&nodes, &other_entry, "rule");
    expect(&other_entry, "rule");

    // 7. Malformed bytes: a payload that is no Automerge change, properly signed...
    let mut garbage = own_profile(&doc, &chain, &mallory.key, "Mallory, garbled");
    garbage.payload = b"\x85\x6f\x4a\x83 this is not an automerge change".to_vec();
    garbage.change_hash = ChangeHash(rand::random());
    garbage.deps = Vec::new();
    garbage.signature = Signature([0; 64]);
    garbage.sign(&mallory.key);
    mallory.gossip_refused(&nodes, &garbage, "decode");
    expect(&garbage, "decode");

    // ...and gossip that is no announcement at all: rejected by every node (their logs
    // say so), with nothing to record.
    let malformed_logged = |n: &&TestNode| log_of(n).contains("malformed announcement");
    assert!(!nodes.iter().any(malformed_logged));
    let not_json = b"\x00\x01 not an announcement".to_vec();
    let wrong_shape = br#"{"Change": {"envelope": "not an envelope"}}"#.to_vec();
    mallory.gossip_until("every node rejects the malformed gossip", &not_json, || {
        let _ = mallory.publish(&wrong_shape);
        nodes.iter().all(malformed_logged)
    });

    // Through anti-entropy: Mallory answers the honest nodes' registry requests.
    // 4. Deleting another platform's entry.
    let h2_key = h2.platform_id.clone();
    let delete = raw_change(doc.automerge(), mallory.id.as_bytes(), |tx| {
        tx.delete(ROOT, h2_key.as_str()).expect("delete");
    });
    let delete_entry = seal(&mallory.key, &chain, &delete);
    // 5. Citing a record where Mallory had no right: genesis, before she was admitted.
    let mut at_genesis = own_profile(&doc, &chain, &mallory.key, "Mallory at genesis");
    at_genesis.cited_seq = 0;
    at_genesis.cited_record = chain.records()[0].hash();
    at_genesis.sign(&mallory.key);
    // 7. A payload over MAX_CHANGE_BYTES (gossip could not even carry it).
    let mallory_key = mallory_id.clone();
    let big = raw_change(doc.automerge(), mallory.id.as_bytes(), |tx| {
        let obj = entry(tx, &mallory_key);
        tx.put(&obj, "description", "x".repeat(MAX_CHANGE_BYTES + 1024))
            .expect("put");
    });
    let oversized = seal(&mallory.key, &chain, &big);
    assert!(oversized.payload.len() > MAX_CHANGE_BYTES);
    mallory.sync_refused(
        &nodes,
        &[
            (&delete_entry, "rule"),
            (&at_genesis, "membership"),
            (&oversized, "size"),
        ],
    );
    expect(&delete_entry, "rule");
    expect(&at_genesis, "membership");
    expect(&oversized, "size");

    // 6. A change by an expired platform, dated after its expiry, relayed by Mallory.
    let eve_key = platform_key(&eve_dir);
    let eve_id = PlatformId::from(&eve_key);
    wait_until("eve's membership expires", || now() > eve_expires);
    assert_eq!(status(&h1, &federation, &eve_id), "expired");
    let eve_change = raw_change(doc.automerge(), eve_id.as_bytes(), |tx| {
        put_profile(tx, &eve_id.to_string(), "Eve, expired");
    });
    let expired = seal(&eve_key, &chain, &eve_change);
    mallory.gossip_refused(&nodes, &expired, "expired");
    expect(&expired, "expired");

    // 6. Changes by a revoked platform, relayed by Mallory: citing the revocation, and
    //    citing the record before it (outside the empty frontier).
    let rex_key = platform_key(&rex_dir);
    let rex_id = PlatformId::from(&rex_key);
    admin.sign(&[
        "membership",
        "revoke",
        "--platform",
        &rex_id.to_string(),
        "--reason",
        "misbehaved",
    ]);
    admin.publish(&h1);
    let chain = admin.chain();
    converge(&nodes, &federation, chain.state().seq);
    let rex_change = raw_change(doc.automerge(), rex_id.as_bytes(), |tx| {
        put_profile(tx, &rex_id.to_string(), "Rex, revoked");
    });
    let revoked = seal(&rex_key, &chain, &rex_change);
    mallory.gossip_refused(&nodes, &revoked, "revoked");
    expect(&revoked, "revoked");
    let rex_earlier = raw_change(doc.automerge(), rex_id.as_bytes(), |tx| {
        put_profile(tx, &rex_id.to_string(), "Rex, backdated citation");
    });
    let before_revocation = chain.state().seq - 1;
    let mut outside_frontier = seal(&rex_key, &chain, &rex_earlier);
    outside_frontier.cited_seq = before_revocation;
    outside_frontier.cited_record = chain.records()[before_revocation as usize].hash();
    outside_frontier.sign(&rex_key);
    mallory.sync_refused(&nodes, &[(&outside_frontier, "frontier")]);
    expect(&outside_frontier, "frontier");

    for n in nodes {
        assert_eq!(profiles(n, &federation), before, "{}", n.platform_id);
    }

    // 6. Mallory herself sneaks in a valid change while the administrator revokes her with
    //    a frontier at her last known change: every node had accepted it before learning
    //    of the revocation and acknowledges it, so it stays accepted everywhere
    //    (revocation ends a platform's future, not its past), and she is cut off.
    let doc = mallory.registry(&h1, &chain);
    let sneaked = own_profile(&doc, &chain, &mallory.key, "Mallory, sneaked in");
    mallory.gossip_until(
        "the sneaked change is accepted everywhere",
        &announce(&sneaked),
        || {
            nodes.iter().all(|n| {
                n.display_names(&fed).get(&mallory_id).map(String::as_str)
                    == Some("Mallory, sneaked in")
            })
        },
    );
    let frontier = serde_json::json!([{
        "document": DocId::platforms_registry(&federation).to_string(),
        "heads": [own.change_hash.to_string()],
    }]);
    std::fs::write(root.join("frontier.json"), frontier.to_string()).expect("frontier file");
    admin.sign(&[
        "membership",
        "revoke",
        "--platform",
        &mallory_id,
        "--frontier",
        "frontier.json",
        "--reason",
        "misbehaved",
    ]);
    admin.publish(&h2);
    let chain = admin.chain();
    converge(&nodes, &federation, chain.state().seq);
    wait_until("every node has acknowledged the revocation", || {
        nodes
            .iter()
            .all(|n| log_of(n).contains("revocation acknowledged"))
    });
    for n in nodes {
        assert_eq!(
            n.display_names(&fed).get(&mallory_id).map(String::as_str),
            Some("Mallory, sneaked in"),
            "what {} accepted before the revocation stays",
            n.platform_id
        );
        assert!(!refused(n, &sneaked, "frontier"));
    }
    // Her connections are closed everywhere; she may come back for the chain, and only
    // the chain: that is how a revoked platform learns of its revocation.
    wait_until("mallory's connections are closed everywhere", || {
        mallory.connected().is_empty() && nodes.iter().all(|n| !n.peers().contains(&mallory_id))
    });
    for n in nodes {
        mallory
            .dial(n)
            .expect("a revoked platform may connect for the chain");
    }
    wait_until("mallory is listed as a revoked peer everywhere", || {
        nodes.iter().all(|n| {
            n.get("/v1/status")["revoked_peers"]
                .as_array()
                .is_some_and(|peers| peers.iter().any(|p| *p == mallory_id.as_str()))
        })
    });
    assert!(nodes.iter().all(|n| !n.peers().contains(&mallory_id)));
    for n in nodes {
        let records = match mallory.request(
            n,
            SyncRequest::Chain {
                federation,
                after_seq: 0,
                head: chain.records()[0].hash(),
            },
        ) {
            Ok(SyncResponse::Chain { records }) => records,
            other => panic!("a revoked member gets no chain: {other:?}"),
        };
        assert_eq!(
            records.last().map(|r| r.hash()),
            Some(chain.head()),
            "the chain up to her revocation"
        );
        for request in [
            SyncRequest::Document {
                federation,
                document: DocId::platforms_registry(&federation),
                heads: Vec::new(),
                have: Vec::new(),
            },
            SyncRequest::Digest {
                federation,
                digest: [0; 32],
            },
        ] {
            let answer = mallory.request(n, request);
            assert!(
                matches!(answer, Ok(SyncResponse::Refused { .. })),
                "a revoked member gets more than the chain: {answer:?}"
            );
        }
    }
    // No gossip crosses her connections, either way.
    let late = own_profile(&doc, &chain, &mallory.key, "Mallory, after her revocation");
    assert!(
        fed_e2e::holds_throughout(std::time::Duration::from_secs(3), || mallory
            .publish(&announce(&late))
            .is_err()),
        "a revoked member's gossip found a peer"
    );

    // Every node recorded exactly the refusals above, and its registry is what it was
    // before the attacks.
    // The registry is what it was before the attacks, but for Mallory's entry, which
    // keeps the change every node accepted before her revocation.
    let mut kept = before.clone();
    kept.insert(
        mallory_id.clone(),
        profiles(nodes[0], &federation)[&mallory_id].clone(),
    );
    assert_eq!(kept[&mallory_id]["display_name"], "Mallory, sneaked in");
    for n in nodes {
        let recorded: BTreeSet<(String, String)> = refusals(n, &federation)
            .iter()
            .map(|r| {
                (
                    r["change_hash"].as_str().unwrap_or_default().to_string(),
                    r["check"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect();
        assert_eq!(recorded, expected, "{}", n.platform_id);
        assert_eq!(profiles(n, &federation), kept, "{}", n.platform_id);
        assert_eq!(fetch_chain(n, &federation).head(), chain.head());
    }

    // The honest nodes keep working together.
    h2.set_profile(root, &fed, "Two, after the attacks");
    wait_until("an honest change reaches every node", || {
        nodes.iter().all(|n| {
            n.display_names(&fed)
                .get(&h2.platform_id)
                .map(String::as_str)
                == Some("Two, after the attacks")
        })
    });
    for n in nodes {
        assert_eq!(n.peers().len(), 2, "{}", n.platform_id);
    }
}

/// Two honest nodes, started and connected, and Mallory's data directory: she is
/// admitted with `mallory_rights` but not started.
struct Small {
    _tmp: tempfile::TempDir,
    dirs: Vec<PathBuf>,
    nodes: Vec<TestNode>,
    mallory_dir: PathBuf,
    federation: FederationId,
}

fn small_federation(mallory_rights: &str) -> Small {
    debug_logs();
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dirs: Vec<PathBuf> = ["s1", "s2"]
        .iter()
        .map(|n| TestNode::init(root, n))
        .collect();
    let mallory_dir = TestNode::init(root, "mallory");
    let admin = Admin::new(root, "chain.json");
    for dir in &dirs {
        admin.admit(dir, &[]);
    }
    admin.admit(&mallory_dir, &["--rights", mallory_rights]);
    let federation = admin.chain().federation();
    let nodes = start_honest(&admin, &dirs);
    Small {
        _tmp: tmp,
        dirs,
        nodes,
        mallory_dir,
        federation,
    }
}

#[test]
fn a_recorded_refusal_is_not_rewritten_by_another_envelope_of_the_same_change() {
    let setup = small_federation("all");
    let nodes: Vec<&TestNode> = setup.nodes.iter().collect();
    let mallory = connect_mallory(&setup.mallory_dir, setup.federation, &nodes);
    let chain = fetch_chain(nodes[0], &setup.federation);
    let doc = mallory.registry(nodes[0], &chain);

    // Mallory's change citing genesis, where she was no member: refused and recorded.
    let mut at_genesis = own_profile(&doc, &chain, &mallory.key, "Mallory at genesis");
    at_genesis.cited_seq = 0;
    at_genesis.cited_record = chain.records()[0].hash();
    at_genesis.sign(&mallory.key);
    mallory.gossip_refused(&nodes, &at_genesis, "membership");

    // The same change again, in an envelope that claims an honest author.
    let mut blame = at_genesis.clone();
    blame.author = platform_id(nodes[1]);
    blame.sign(&mallory.key);
    mallory.gossip_refused(&nodes, &blame, "signature");

    for n in &nodes {
        assert!(
            refused(n, &at_genesis, "membership"),
            "{}: the record of Mallory's refusal is gone: {:?}",
            n.platform_id,
            refusals(n, &setup.federation)
        );
    }
}

#[test]
fn an_accepted_honest_change_is_not_listed_as_refused() {
    let mut setup = small_federation("all");
    let federation = setup.federation;
    let fed = federation.to_string();
    // s2 is away while s1 writes its profile.
    assert_eq!(setup.nodes[1].stop(), 0);
    setup.nodes[0].set_profile(&setup.dirs[0], &fed, "One");
    let mallory = connect_mallory(&setup.mallory_dir, federation, &[&setup.nodes[0]]);
    let chain = fetch_chain(&setup.nodes[0], &federation);
    let honest = mallory
        .registry(&setup.nodes[0], &chain)
        .accepted()
        .next()
        .cloned()
        .expect("s1's change");
    assert_eq!(honest.author, platform_id(&setup.nodes[0]));

    // s2 comes back with no address of s1; Mallory reaches it first and hands it a forged
    // envelope of s1's change, then the genuine one.
    let mut forged = honest.clone();
    forged.signature.0[0] ^= 0x01;
    *mallory.answers.lock().expect("answers") = vec![forged.clone(), honest.clone()];
    setup.nodes[1] = TestNode::start(&setup.dirs[1], &[]);
    let s2 = &setup.nodes[1];
    mallory.allow(&[&setup.nodes[0], s2]);
    mallory.dial(s2).expect("mallory reaches s2");
    wait_until("s2 accepts s1's change", || {
        s2.display_names(&fed)
            .get(&setup.nodes[0].platform_id)
            .map(String::as_str)
            == Some("One")
    });
    mallory.answers.lock().expect("answers").clear();
    // The forged envelope did arrive and was refused (the node's log says so)...
    let log = std::fs::read_to_string(setup.dirs[1].with_extension("log")).expect("s2's log");
    assert!(
        log.contains("change refused") && log.contains("check=\"signature\""),
        "the forged envelope was not refused: {log}"
    );
    // ...but once the genuine envelope is accepted, the change is not listed as refused.

    let listed: Vec<serde_json::Value> = refusals(s2, &federation)
        .into_iter()
        .filter(|r| r["change_hash"] == honest.change_hash.to_string())
        .collect();
    assert!(
        listed.is_empty(),
        "s1's accepted change {} is listed as refused: {listed:?}",
        honest.change_hash
    );
}

#[test]
fn envelopes_for_other_documents_are_checked_and_recorded() {
    let setup = small_federation("read");
    let nodes: Vec<&TestNode> = setup.nodes.iter().collect();
    let federation = setup.federation;
    let mallory = connect_mallory(&setup.mallory_dir, federation, &nodes);
    let chain = fetch_chain(nodes[0], &federation);
    let doc = mallory.registry(nodes[0], &chain);

    // A platforms document that is not the federation's registry.
    let change = raw_change(&Automerge::new(), mallory.id.as_bytes(), |tx| {
        put_profile(tx, &mallory.id.to_string(), "Mallory elsewhere");
    });
    let mut not_the_registry = seal(&mallory.key, &chain, &change);
    not_the_registry.document = DocId::random(DocKind::Platforms, rand::random());
    not_the_registry.sign(&mallory.key);
    // A project, by a member without `write_projects`.
    let project = raw_change(&Automerge::new(), mallory.id.as_bytes(), |tx| {
        tx.put(ROOT, "title", "Mallory's project").expect("put");
    });
    let mut no_right = seal(&mallory.key, &chain, &project);
    no_right.document = DocId::random(DocKind::Project, rand::random());
    no_right.sign(&mallory.key);
    // A marker sent after them: once it is refused, they have been handled too.
    let mut marker = own_profile(&doc, &chain, &mallory.key, "Mallory, marker");
    marker.signature.0[0] ^= 0x01;
    let sequence = [
        announce(&not_the_registry),
        announce(&no_right),
        announce(&marker),
    ];
    let deadline = Instant::now() + Duration::from_secs(30);
    while !nodes.iter().all(|n| refused(n, &marker, "signature")) {
        assert!(Instant::now() < deadline, "the marker is never refused");
        for data in &sequence {
            let _ = mallory.publish(data);
        }
        std::thread::sleep(Duration::from_millis(250));
    }

    let mut missing = Vec::new();
    for n in &nodes {
        if !refused(n, &not_the_registry, "citation") {
            missing.push(format!(
                "{}: platforms document that is not the registry",
                n.platform_id
            ));
        }
        if !refused(n, &no_right, "right") {
            missing.push(format!("{}: project without write_projects", n.platform_id));
        }
    }
    assert!(missing.is_empty(), "not refused nor recorded: {missing:#?}");
}
