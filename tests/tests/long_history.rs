//! A document with a long history comes back whole after a restart: stored changes are
//! read back in key order, not in causal order, and none of them may be dropped while its
//! dependencies load (the buffer cap is for what the network sends, not for what this
//! node accepted).

use fed_e2e::{minimal_project, wait_until, Admin, TestNode};
use serde_json::{json, Value};

/// How many times the owner patches its project and its profile: 5,000 unless
/// `FED_LONG_HISTORY_EDITS` says otherwise (any number over the buffer cap of 1,024
/// showed the loss).
/// How long a restart may take to load such a store in a debug build on a loaded machine.
const START_DEADLINE: std::time::Duration = std::time::Duration::from_secs(300);

fn edits() -> usize {
    std::env::var("FED_LONG_HISTORY_EDITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000)
}

fn project_name(node: &TestNode, federation: &str, project: &str) -> Option<String> {
    let (status, value) = node.call(
        "GET",
        &format!("/v1/federations/{federation}/projects/{project}"),
        None,
        true,
    );
    (status == 200).then(|| value["name"].as_str().map(String::from))?
}

fn profile_description(node: &TestNode, federation: &str, platform: &str) -> Option<String> {
    let list = node.get(&format!("/v1/federations/{federation}/platforms"));
    let entries = list["platforms"]
        .as_object()
        .expect("the platforms list is an object keyed by platform id");
    entries
        .get(platform)
        .and_then(|p| p["profile"]["description"].as_str().map(String::from))
}

fn last_values_hold(
    nodes: &[&TestNode],
    federation: &str,
    project: &str,
    owner: &str,
    last: &str,
) -> bool {
    nodes.iter().all(|n| {
        project_name(n, federation, project).as_deref() == Some(last)
            && profile_description(n, federation, owner).as_deref() == Some(last)
    })
}

#[test]
fn thousands_of_edits_survive_sigterm_and_sigkill_restarts() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let (dirs, nodes) = admin.start_members(&["owner", "reader"]);
    let [owner, reader]: [TestNode; 2] = nodes.try_into().unwrap_or_else(|_| panic!("2 nodes"));
    let federation = admin.federation();

    let project = owner.create_project(&federation, &minimal_project("LONG", "rev--1"));
    let (status, shared) = owner.share(&federation, &project, &reader.platform_id, "read");
    assert_eq!(status, 200, "share: {shared}");

    let profile_path = format!("/v1/federations/{federation}/platforms/me");
    let project_path = format!("/v1/federations/{federation}/projects/{project}");
    let edits = edits();
    for i in 0..edits {
        let rev = format!("rev-{i}");
        let (status, value) = owner.call(
            "PATCH",
            &project_path,
            Some(&json!({ "name": rev }).to_string()),
            true,
        );
        assert_eq!(status, 200, "patch {i}: {value}");
        let profile: Value = json!({
            "display_name": "Owner", "description": rev, "contact": "", "addresses": []
        });
        let (status, value) = owner.call("PUT", &profile_path, Some(&profile.to_string()), true);
        assert_eq!(status, 200, "profile {i}: {value}");
    }
    let last = format!("rev-{}", edits - 1);
    let owner_id = owner.platform_id.clone();
    wait_until("both nodes read the last edit", || {
        last_values_hold(&[&owner, &reader], &federation, &project, &owner_id, &last)
    });

    // A clean stop of both nodes, then a crash of both: each time both read the last edit.
    let (mut owner, mut reader) = (owner, reader);
    for crash in [false, true] {
        if crash {
            owner.kill9();
            reader.kill9();
        } else {
            assert_eq!(owner.stop(), 0, "owner stops cleanly");
            assert_eq!(reader.stop(), 0, "reader stops cleanly");
        }
        let began = std::time::Instant::now();
        owner = TestNode::start_within(&dirs[0], &[], &[], START_DEADLINE);
        reader = TestNode::start_within(&dirs[1], &[&owner.bootstrap], &[], START_DEADLINE);
        eprintln!(
            "restart after {} (crash: {crash}): both nodes answer after {:?}",
            if crash { "SIGKILL" } else { "SIGTERM" },
            began.elapsed()
        );
        for node in [&owner, &reader] {
            assert_eq!(
                project_name(node, &federation, &project).as_deref(),
                Some(last.as_str()),
                "project name after restart (crash: {crash})"
            );
            assert_eq!(
                profile_description(node, &federation, &owner_id).as_deref(),
                Some(last.as_str()),
                "profile after restart (crash: {crash})"
            );
        }
    }
}
