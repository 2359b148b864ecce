//! Revocation without a frontier ends a platform's future, not its past: a platform that
//! owned a project shared with two others, and whose profile and project the others built
//! on, is revoked; every other node still reads the project, the others' changes and the
//! profile, before and after restarts; the revoked platform learns of its revocation,
//! and its own node refuses its writes from then on.

use fed_e2e::{minimal_project, wait_until, Admin, TestNode};
use serde_json::{json, Value};

fn project(node: &TestNode, path: &str) -> Option<Value> {
    let (status, value) = node.call("GET", path, None, true);
    (status == 200).then_some(value)
}

fn status_of(node: &TestNode, federation: &str, platform: &str) -> (String, Option<String>) {
    let list = node.get(&format!("/v1/federations/{federation}/platforms"));
    let entry = &list["platforms"][platform];
    (
        entry["status"].as_str().unwrap_or_default().to_string(),
        entry["profile"]["display_name"].as_str().map(String::from),
    )
}

#[test]
fn a_revoked_owners_past_stays_and_its_future_reaches_nobody() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let (dirs, nodes) = admin.start_members(&["owner", "writer", "reader"]);
    let [owner, writer, reader]: [TestNode; 3] =
        nodes.try_into().unwrap_or_else(|_| panic!("3 nodes"));
    let federation = admin.federation();
    let owner_id = owner.platform_id.clone();

    owner.set_profile(root, &federation, "Owner platform");
    let body = minimal_project("REV", "by the owner");
    let id = owner.create_project(&federation, &body);
    let path = format!("/v1/federations/{federation}/projects/{id}");
    let recipients = json!({"recipients": [
        {"platform_id": writer.platform_id, "access": "write"},
        {"platform_id": reader.platform_id, "access": "read"}
    ]});
    let (status, answer) = owner.call(
        "POST",
        &format!("{path}/share"),
        Some(&recipients.to_string()),
        true,
    );
    assert_eq!(status, 200, "{answer}");
    // The writer builds on the owner's changes.
    wait_until("the writer reads the project", || {
        project(&writer, &path).is_some()
    });
    let (status, answer) = writer.call(
        "PATCH",
        &path,
        Some(r#"{"description": "edited by the writer"}"#),
        true,
    );
    assert_eq!(status, 200, "{answer}");
    wait_until("everyone reads the writer's edit", || {
        [&owner, &writer, &reader]
            .iter()
            .all(|n| project(n, &path).is_some_and(|p| p["description"] == "edited by the writer"))
    });

    // The administrator revokes the owner, without a frontier.
    admin.sign(&["membership", "revoke", "--platform", &owner_id]);
    admin.publish(&writer);
    let seq = admin.head();
    let others = [&writer, &reader];
    for n in others {
        wait_until("the revocation reaches the others", || {
            n.head_seq(&federation) == Some(seq)
        });
    }
    let check = |nodes: &[&TestNode], when: &str| {
        for n in nodes {
            let p = project(n, &path).unwrap_or_else(|| panic!("{when}: project gone"));
            assert_eq!(p["name"], "by the owner", "{when}");
            assert_eq!(p["description"], "edited by the writer", "{when}");
            assert_eq!(
                status_of(n, &federation, &owner_id),
                ("revoked".to_string(), Some("Owner platform".to_string())),
                "{when}: the revoked owner's profile stays"
            );
            let refusals = n.get(&format!("/v1/refusals?federation={federation}"));
            assert_eq!(refusals, json!([]), "{when}: nothing of the past refused");
        }
    };
    wait_until("both acknowledge the revocation", || {
        others.iter().all(|n| {
            std::fs::read_to_string(n.dir.with_extension("log"))
                .unwrap_or_default()
                .contains("revocation acknowledged")
        })
    });
    check(&others, "after the revocation");

    // The revoked owner learns it: the others let it fetch the chain, and only the
    // chain. Its API then refuses its writes, naming the record and its time, and fedctl
    // shows it.
    wait_until("the revoked owner learns of its revocation", || {
        owner.head_seq(&federation) == Some(seq)
    });
    let record = admin
        .chain()
        .records()
        .last()
        .cloned()
        .expect("the revocation");
    let revoked_at = record.issued_at;
    let ended = format!("revoked by record {seq} issued at {revoked_at}");
    let (status, answer) = owner.call("PATCH", &path, Some(r#"{"name": "late"}"#), true);
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "membership_ended", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("by record {seq} issued at {revoked_at}")),
        "{message}"
    );
    assert_eq!(
        owner.get("/v1/status")["federations"][0]["membership"],
        ended
    );
    let shown = owner.fedctl(root, &["status"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown.stdout.contains(&format!("this platform: {ended}")),
        "{}",
        shown.stdout
    );
    // It still reads what it had: revocation ends its future, not its past.
    assert_eq!(
        project(&owner, &path).map(|p| p["description"].clone()),
        Some(json!("edited by the writer"))
    );
    // The others list it as a revoked peer, not a member.
    for n in others {
        wait_until("the owner is connected for the chain only", || {
            n.get("/v1/status")["revoked_peers"]
                .as_array()
                .is_some_and(|peers| peers.iter().any(|p| *p == owner_id.as_str()))
        });
        assert!(!n.peers().contains(&owner_id));
    }
    // A later edit by the writer reaches the reader: anything the owner sent would have
    // reached it by then too.
    let (status, answer) = writer.call(
        "PATCH",
        &path,
        Some(r#"{"description": "edited after the revocation"}"#),
        true,
    );
    assert_eq!(status, 200, "{answer}");
    wait_until("the reader reads the later edit", || {
        project(&reader, &path).is_some_and(|p| p["description"] == "edited after the revocation")
    });
    for n in others {
        assert_eq!(
            project(n, &path).map(|p| p["name"].clone()),
            Some(json!("by the owner"))
        );
    }
    // Nobody may share it any more: only its owner may, and the owner cannot write.
    let (status, answer) = writer.call(
        "POST",
        &format!("{path}/share"),
        Some(
            &json!({"recipients": [{"platform_id": reader.platform_id, "access": "write"}]})
                .to_string(),
        ),
        true,
    );
    assert_eq!(status, 403, "{answer}");

    // Restarts of the others keep it all.
    let (mut writer, mut reader) = (writer, reader);
    assert_eq!(writer.stop(), 0);
    assert_eq!(reader.stop(), 0);
    writer = TestNode::start(&dirs[1], &[]);
    reader = TestNode::start(&dirs[2], &[&writer.bootstrap]);
    for n in [&writer, &reader] {
        let p = project(n, &path).expect("the project after a restart");
        assert_eq!(p["name"], "by the owner");
        assert_eq!(p["description"], "edited after the revocation");
        assert_eq!(
            status_of(n, &federation, &owner_id).1.as_deref(),
            Some("Owner platform")
        );
    }
}
