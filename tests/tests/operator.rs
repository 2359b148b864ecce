//! The operator's commands against a running node: `fedctl --data-dir DIR ...`.

use fed_e2e::{run, TestNode};

#[test]
fn operator_commands_read_the_node_and_explain_failures() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let dir = TestNode::init(root, "op");
    assert_eq!(
        run("fedctl", root, &["key", "new", "--out", "admin.key"]).code,
        0
    );
    let new = run(
        "fedctl",
        root,
        &[
            "federation",
            "new",
            "--name",
            "Ops",
            "--admin-key",
            "admin.key",
            "--out",
            "chain.json",
            "--json",
        ],
    );
    let federation = new.json()["federation"].as_str().expect("id").to_string();
    let card = dir.join("identity.card.json").display().to_string();
    let add = run(
        "fedctl",
        root,
        &[
            "membership",
            "add",
            "--chain",
            "chain.json",
            "--admin-key",
            "admin.key",
            "--card",
            &card,
        ],
    );
    assert_eq!(add.code, 0, "{}", add.stderr);

    // Before the node runs: a clear hint, exit 2.
    let down = run("fedctl", root, &["--data-dir", "op", "status"]);
    assert_eq!(down.code, 2);
    assert!(
        down.stderr.contains("is fednode running"),
        "{}",
        down.stderr
    );
    let nowhere = run("fedctl", root, &["status"]);
    assert_eq!(nowhere.code, 2);
    assert!(nowhere.stderr.contains("--data-dir"), "{}", nowhere.stderr);

    let node = TestNode::start(&dir, &[]);
    let join = node.fedctl(
        root,
        &["federation", "join", "--chain", "chain.json", "--json"],
    );
    assert_eq!(join.code, 0, "{}", join.stderr);
    assert_eq!(join.json()["appended"], 2);

    let status = node.fedctl(root, &["status", "--json"]).json();
    assert_eq!(status["platform_id"], node.platform_id.as_str());
    assert_eq!(status["federations"][0]["federation"], federation.as_str());
    let text = node.fedctl(root, &["status"]);
    assert!(text.stdout.contains(&node.platform_id), "{}", text.stdout);
    assert!(text.stdout.contains("Ops"), "{}", text.stdout);

    assert_eq!(
        node.fedctl(root, &["peers", "--json"]).json()["peers"],
        serde_json::json!([])
    );
    let list = node.fedctl(root, &["federation", "list", "--json"]).json();
    assert_eq!(list["federations"][0]["name"], "Ops");

    let set = node.fedctl(
        root,
        &[
            "platforms",
            "set-profile",
            "--federation",
            &federation,
            "--display-name",
            "Ops platform",
            "--contact",
            "ops@example.org",
            "--json",
        ],
    );
    assert_eq!(set.code, 0, "{}", set.stderr);
    assert!(set.json()["change_hash"].is_string());
    // The same profile again changes nothing; other fields are kept when one changes.
    let again = node.fedctl(
        root,
        &[
            "platforms",
            "set-profile",
            "--federation",
            &federation,
            "--display-name",
            "Ops platform",
            "--json",
        ],
    );
    assert!(again.json()["change_hash"].is_null(), "{}", again.stdout);
    let platforms = node
        .fedctl(
            root,
            &["platforms", "list", "--federation", &federation, "--json"],
        )
        .json();
    let me = &platforms["platforms"][&node.platform_id];
    assert_eq!(me["profile"]["contact"], "ops@example.org");
    assert_eq!(me["status"], "active");

    // A profile the rules refuse: exit 1, the field named, nothing written.
    let long = "x".repeat(500);
    let bad = node.fedctl(
        root,
        &[
            "platforms",
            "set-profile",
            "--federation",
            &federation,
            "--display-name",
            &long,
        ],
    );
    assert_eq!(bad.code, 1, "{}", bad.stderr);
    assert!(bad.stderr.contains("display_name"), "{}", bad.stderr);
    let after = node
        .fedctl(
            root,
            &["platforms", "list", "--federation", &federation, "--json"],
        )
        .json();
    assert_eq!(after, platforms);

    let refusals = node.fedctl(root, &["refusals", "--json"]).json();
    assert_eq!(refusals["refusals"], serde_json::json!([]));
    let unknown = node.fedctl(
        root,
        &["platforms", "list", "--federation", &"ab".repeat(32)],
    );
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);
    assert!(
        unknown.stderr.contains("not in federation"),
        "{}",
        unknown.stderr
    );
}
