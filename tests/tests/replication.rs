//! Several real nodes on loopback: membership chains replicate to every member, reach a
//! member that joins late, stop at the federation's edge, and survive kill -9.

use std::path::Path;

use fed_e2e::{run, wait_until, Admin, TestNode};

fn converge(nodes: &[&TestNode], federation: &str, seq: u64) {
    for node in nodes {
        wait_until(&format!("{} reaches seq {seq}", node.platform_id), || {
            node.head_seq(federation) == Some(seq)
        });
    }
}

#[test]
fn members_converge_and_a_late_member_catches_up() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let (_, nodes) = admin.start_members(&["n1", "n2", "n3"]);
    let [n1, n2, n3]: [TestNode; 3] = nodes.try_into().unwrap_or_else(|_| panic!("3 nodes"));
    let federation = admin.federation();

    // A record published at one node reaches every node.
    admin.sign(&["catalog", "add-entity-type", "--name", "Hospital"]);
    admin.publish(&n2);
    converge(&[&n1, &n2, &n3], &federation, admin.head());

    // Every platform writes its registry entry; every node ends with all three.
    let mut expected = std::collections::BTreeMap::new();
    for (n, name) in [(&n1, "One"), (&n2, "Two"), (&n3, "Three")] {
        n.set_profile(root, &federation, name);
        expected.insert(n.platform_id.clone(), name.to_string());
    }
    wait_until("the registry converges on three nodes", || {
        [&n1, &n2, &n3]
            .iter()
            .all(|n| n.display_names(&federation) == expected)
    });

    // A fourth platform is admitted later, joins with the chain of that moment, and
    // catches up with what is published after.
    let d4 = TestNode::init(root, "n4");
    admin.admit(&d4, &[]);
    admin.publish(&n1);
    converge(&[&n1, &n2, &n3], &federation, admin.head());
    let n4 = TestNode::start(&d4, &[&n3.bootstrap]);
    admin.join(&n4);
    admin.sign(&["catalog", "add-framework", "--name", "MR-004"]);
    admin.publish(&n2);
    converge(&[&n1, &n2, &n3, &n4], &federation, admin.head());
    let chain_at_4 = n4.get(&format!("/v1/federations/{federation}/chain"));
    let chain_at_1 = n1.get(&format!("/v1/federations/{federation}/chain"));
    assert_eq!(chain_at_4, chain_at_1);
    // The late member also has every registry entry written before it arrived.
    wait_until("the fourth node catches up with the registry", || {
        n4.display_names(&federation) == expected
    });
    n4.set_profile(root, &federation, "Four");
    wait_until("the fourth entry reaches the others", || {
        [&n1, &n2, &n3]
            .iter()
            .all(|n| n.display_names(&federation).len() == 4)
    });
}

#[test]
fn a_node_stopped_while_others_write_catches_up_after_restart() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let (dirs, nodes) = admin.start_members(&["s1", "s2", "s3"]);
    let [s1, s2, mut s3]: [TestNode; 3] = nodes.try_into().unwrap_or_else(|_| panic!("3 nodes"));
    let federation = admin.federation();
    assert_eq!(s3.stop(), 0, "clean stop");

    // While s3 is down: a chain record and two registry entries.
    admin.sign(&["catalog", "add-entity-type", "--name", "Laboratory"]);
    admin.publish(&s1);
    s1.set_profile(root, &federation, "First");
    s2.set_profile(root, &federation, "Second");
    converge(&[&s1, &s2], &federation, admin.head());
    wait_until("s1 and s2 hold both entries", || {
        s1.display_names(&federation).len() == 2 && s2.display_names(&federation).len() == 2
    });

    s3 = TestNode::start(&dirs[2], &[&s1.bootstrap, &s2.bootstrap]);
    converge(&[&s3], &federation, admin.head());
    let expected = s1.display_names(&federation);
    wait_until("s3 catches up with the registry", || {
        s3.display_names(&federation) == expected
    });
}

#[test]
fn non_members_and_other_federations_learn_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let both = TestNode::init(root, "both");
    let only_b = TestNode::init(root, "only_b");
    let outsider = TestNode::init(root, "outsider");
    let fed_a = Admin::new(root, "a.json");
    fed_a.admit(&both, &[]);
    let fed_b = Admin::new(root, "b.json");
    fed_b.admit(&both, &[]);
    fed_b.admit(&only_b, &[]);

    let n_both = TestNode::start(&both, &[]);
    let n_only_b = TestNode::start(&only_b, &[&n_both.bootstrap]);
    let n_outsider = TestNode::start(&outsider, &[&n_both.bootstrap]);
    fed_a.join(&n_both);
    fed_b.join(&n_both);
    fed_b.join(&n_only_b);
    wait_until("the B members connect", || {
        n_both.peers().contains(&n_only_b.platform_id)
    });

    // More records in A, published while the B-only node is connected, and a registry
    // entry in A.
    fed_a.sign(&["catalog", "add-entity-type", "--name", "Secret A type"]);
    fed_a.publish(&n_both);
    n_both.set_profile(root, &fed_a.federation(), "Secret A profile");
    n_both.set_profile(root, &fed_b.federation(), "Public B profile");
    fed_b.sign(&["catalog", "add-entity-type", "--name", "Hospital"]);
    fed_b.publish(&n_both);
    converge(&[&n_both, &n_only_b], &fed_b.federation(), fed_b.head());

    // The outsider cannot join a federation it is not in, and no member lets it connect.
    let join = n_outsider.fedctl(root, &["federation", "join", "--chain", "b.json"]);
    assert_eq!(join.code, 1, "{}", join.stderr);
    assert!(
        join.stderr.contains("not an active member"),
        "{}",
        join.stderr
    );
    assert!(
        fed_e2e::holds_throughout(std::time::Duration::from_secs(2), || {
            !n_both.peers().contains(&n_outsider.platform_id) && n_outsider.peers().is_empty()
        }),
        "the outsider got a connection: {:?}",
        n_outsider.peers()
    );

    // Nothing of federation A in the B-only node's answers or on its disk.
    let a_id = fed_a.federation();
    let status = n_only_b.get("/v1/status").to_string();
    assert!(!status.contains(&a_id), "{status}");
    let a_bytes = hex_decode(&a_id);
    let a_doc = registry_doc_id(&a_id);
    assert_eq!(
        n_both.display_names(&a_id).get(&n_both.platform_id),
        Some(&"Secret A profile".to_string()),
        "the A member holds its A entry"
    );
    wait_until("the B-only node holds B's registry entry", || {
        n_only_b.display_names(&fed_b.federation()).len() == 1
    });
    for node in [&n_only_b, &n_outsider] {
        for file in files_under(&node.dir) {
            let data = std::fs::read(&file).expect("read store file");
            assert!(
                !contains(&data, a_id.as_bytes()),
                "{} holds A's id",
                file.display()
            );
            assert!(
                !contains(&data, &a_bytes),
                "{} holds A's id bytes",
                file.display()
            );
            assert!(
                !contains(&data, b"Secret A type"),
                "{} holds A's catalog",
                file.display()
            );
            for (needle, what) in [
                (b"Secret A profile".as_slice(), "A's registry entry"),
                (a_doc.as_bytes(), "A's registry document id"),
            ] {
                assert!(!contains(&data, needle), "{} holds {what}", file.display());
            }
        }
    }
}

#[test]
fn a_revoked_member_is_disconnected_everywhere() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let (_, nodes) = admin.start_members(&["r1", "r2", "r3"]);
    let [r1, r2, r3]: [TestNode; 3] = nodes.try_into().unwrap_or_else(|_| panic!("3 nodes"));

    admin.sign(&["membership", "revoke", "--platform", &r3.platform_id]);
    admin.publish(&r1);
    converge(&[&r1, &r2], &admin.federation(), admin.head());
    wait_until("r3 is disconnected from r1 and r2", || {
        !r1.peers().contains(&r3.platform_id) && !r2.peers().contains(&r3.platform_id)
    });
    assert!(
        fed_e2e::holds_throughout(std::time::Duration::from_secs(2), || {
            !r1.peers().contains(&r3.platform_id) && !r2.peers().contains(&r3.platform_id)
        }),
        "r3 reconnected as a member"
    );
}

#[test]
fn acknowledged_records_survive_kill_9() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dir = TestNode::init(root, "durable");
    let admin = Admin::new(root, "chain.json");
    admin.admit(&dir, &[]);
    let mut node = TestNode::start(&dir, &[]);
    admin.join(&node);
    let federation = admin.federation();
    for round in 0..5 {
        admin.sign(&[
            "catalog",
            "add-entity-type",
            "--name",
            &format!("Type {round}"),
        ]);
        admin.publish(&node);
        let acked = admin.head();
        node.kill9();
        node = TestNode::start(&dir, &[]);
        assert_eq!(node.head_seq(&federation), Some(acked), "round {round}");
    }
    let verify = run(
        "fedctl",
        root,
        &["membership", "verify", "--chain", "chain.json"],
    );
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    assert_eq!(node.stop(), 0, "clean shutdown on SIGTERM");
}

#[test]
fn api_errors_are_json_and_change_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dir = TestNode::init(root, "api");
    let admin = Admin::new(root, "chain.json");
    admin.admit(&dir, &[]);
    let node = TestNode::start(&dir, &[]);

    let (status, body) = node.call("GET", "/v1/status", None, false);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("unauthorized"))
    );
    let (status, body) = node.call("POST", "/v1/federations", Some("{not json"), true);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("malformed_json"))
    );
    let (status, body) = node.call(
        "GET",
        &format!("/v1/federations/{}/chain", "ab".repeat(32)),
        None,
        true,
    );
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_federation"))
    );
    let (status, body) = node.call("GET", "/v1/nothing", None, true);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    // A tampered chain is refused whole.
    let text = std::fs::read_to_string(root.join("chain.json")).expect("chain");
    let tampered = text.replacen("\"name\": \"api\"", "\"name\": \"evil\"", 1);
    let (status, body) = node.call("POST", "/v1/federations", Some(&tampered), true);
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (422, Some("invalid_chain")),
        "{body}"
    );
    assert_eq!(node.get("/v1/federations"), serde_json::json!([]));
    // A body over the API's limit is refused: with a JSON error when the client gets to
    // read it, or by closing the connection before the whole body is sent.
    let huge = " ".repeat(17 * 1024 * 1024);
    match node.try_call("POST", "/v1/federations", Some(&huge)) {
        Ok((status, body)) => {
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (413, Some("too_large")),
                "{body}"
            );
        }
        Err(e) => assert!(!e.is_empty()),
    }
    assert_eq!(
        node.get("/v1/federations"),
        serde_json::json!([]),
        "the node still answers"
    );
    // The OpenAPI document lists the endpoints and needs no token.
    let (status, doc) = node.call("GET", "/openapi.json", None, false);
    assert_eq!(status, 200);
    assert!(doc["paths"]["/v1/federations"]["post"].is_object(), "{doc}");
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .filter_map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// The platforms registry's document id of a federation, as nodes derive it.
fn registry_doc_id(federation: &str) -> String {
    let id: fed_crdt::ids::FederationId = federation.parse().expect("federation id");
    fed_crdt::ids::DocId::platforms_registry(&id).to_string()
}

#[test]
fn two_rival_records_are_a_fork_refused_at_every_node() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let (_, nodes) = admin.start_members(&["f1", "f2"]);
    let [f1, f2]: [TestNode; 2] = nodes.try_into().unwrap_or_else(|_| panic!("2 nodes"));
    let federation = admin.federation();
    let before = admin.head();

    // The same predecessor, two different valid records (two copies of the file).
    std::fs::copy(root.join("chain.json"), root.join("rival.json")).expect("copy");
    admin.sign(&["catalog", "add-entity-type", "--name", "Ours"]);
    let rival = Admin {
        root: root.to_path_buf(),
        chain: "rival.json".into(),
    };
    rival.sign(&["catalog", "add-entity-type", "--name", "Theirs"]);
    admin.publish(&f1);
    let out = f2.fedctl(root, &["membership", "publish", "--chain", "rival.json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);

    let forked = |n: &TestNode| {
        n.get("/v1/federations")
            .as_array()
            .and_then(|l| l.first().cloned())
            .is_some_and(|f| f["forked"] == true && f["head_seq"] == before)
    };
    wait_until(
        "both nodes report the fork and keep the last good record",
        || forked(&f1) && forked(&f2),
    );
    assert_eq!(f1.head_seq(&federation), Some(before));
}
