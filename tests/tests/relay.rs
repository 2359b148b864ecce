//! A relay in an ordinary cloud: it stores and forwards the sealed envelopes of private
//! documents and never holds anything it could read. Two platforms that are never online
//! at the same time exchange a project and an export request through it, and afterwards
//! no sensitive field's marker appears anywhere in the relay's data directory or log.

use std::path::Path;

use fed_e2e::{occurrences, wait_until, Admin, TestNode};
use serde_json::{json, Value};

/// Marker strings written in every sensitive field.
const MARKERS: [&str; 8] = [
    "MRK-PROJECT-NAME-51c2",
    "MRK-PROJECT-DESC-93ab",
    "MRK-PERSON-NAME-0d4e",
    "mrk-person-mail-77f1@example.org",
    "MRK-EXPORT-TITLE-a8e0",
    "MRK-EXPORT-DATASET-6b19",
    "MRK-EXPORT-PURPOSE-c3d7",
    "MRK-EXPORT-COMMENT-e24f",
];

fn relayed(relay: &TestNode) -> u64 {
    relay.get("/v1/status")["relayed_documents"]
        .as_u64()
        .unwrap_or(0)
}

fn relayed_changes(relay: &TestNode) -> u64 {
    relay.get("/v1/status")["relayed_changes"]
        .as_u64()
        .unwrap_or(0)
}

fn list(node: &TestNode, fed: &str, what: &str) -> Vec<Value> {
    node.get(&format!("/v1/federations/{fed}/{what}"))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn two_platforms_never_online_together_exchange_through_a_relay_that_reads_nothing() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let dir_a = TestNode::init(root, "alpha");
    let dir_b = TestNode::init(root, "beta");
    let dir_r = TestNode::init(root, "relay");
    admin.admit(&dir_a, &[]);
    admin.admit(&dir_b, &[]);
    admin.admit(&dir_r, &["--role", "relay"]);
    let fed = admin.federation();
    let f = fed.as_str();

    // Alpha and the relay only.
    let mut relay = TestNode::start(&dir_r, &[]);
    admin.join(&relay);
    let mut a = TestNode::start(&dir_a, &[&relay.bootstrap]);
    admin.join(&a);
    wait_until("alpha reaches the relay", || {
        a.peers().contains(&relay.platform_id)
    });
    let project = json!({
        "code": "RELAY-1", "name": MARKERS[0], "description": MARKERS[1],
        "start_date": null, "end_date": null, "regulatory_frameworks": [], "entities": [],
        "members": [{"name": MARKERS[2], "email": MARKERS[3], "role": "PI"}]
    });
    let (status, created) = a.call(
        "POST",
        &format!("/v1/federations/{f}/projects"),
        Some(&project.to_string()),
        true,
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_string();
    let share = json!({"recipients": [{"platform_id": dir_platform(&dir_b), "access": "write"}]});
    let (status, _) = a.call(
        "POST",
        &format!("/v1/federations/{f}/projects/{id}/share"),
        Some(&share.to_string()),
        true,
    );
    assert_eq!(status, 200);
    // The relay holds both changes (the create and the share, pushed with its grants),
    // then alpha goes away.
    wait_until("the relay holds the project", || {
        relayed(&relay) == 1 && relayed_changes(&relay) == 2
    });
    let heads = a.get(&format!("/v1/federations/{f}/projects/{id}"))["heads"].clone();
    assert_eq!(a.stop(), 0);

    // Beta comes online with only the relay, and reads the project.
    let mut b = TestNode::start(&dir_b, &[&relay.bootstrap]);
    admin.join(&b);
    wait_until("beta reads the project through the relay", || {
        list(&b, f, "projects")
            .first()
            .is_some_and(|p| p["heads"] == heads)
    });
    let seen = &list(&b, f, "projects")[0];
    assert_eq!(seen["name"], MARKERS[0]);
    assert_eq!(seen["members"][0]["email"], MARKERS[3]);
    // Beta asks alpha for a dataset, while alpha is offline.
    let request = json!({
        "provider": a.platform_id, "project": id,
        "request": {"title": MARKERS[4], "dataset": MARKERS[5], "variables": ["age"],
            "period_start": null, "period_end": null, "population": "adults",
            "purpose": MARKERS[6], "legal_basis": "consent", "pseudonymised": true,
            "delivery_mode": "sftp"}
    });
    let (status, export) = b.call(
        "POST",
        &format!("/v1/federations/{f}/exports"),
        Some(&request.to_string()),
        true,
    );
    assert_eq!(status, 201, "{export}");
    let export_id = export["id"].as_str().expect("id").to_string();
    let path = format!("/v1/federations/{f}/exports/{export_id}");
    let (status, submitted) = b.call(
        "POST",
        &format!("{path}/transitions"),
        Some(&json!({"to": "submitted", "comment": MARKERS[7]}).to_string()),
        true,
    );
    assert_eq!(status, 200, "{submitted}");
    // Both changes of the request too (its create and its submission).
    wait_until("the relay holds the request", || {
        relayed(&relay) == 2 && relayed_changes(&relay) == 4
    });
    assert_eq!(b.stop(), 0);

    // Alpha comes back: the request is there, readable, submitted.
    let a = TestNode::start(&dir_a, &[&relay.bootstrap]);
    wait_until("alpha reads the request through the relay", || {
        a.call("GET", &path, None, true).1["state"] == "submitted"
    });
    let got = a.get(&path);
    assert_eq!(got["request"]["title"], MARKERS[4]);
    assert_eq!(got["request"]["purpose"], MARKERS[6]);
    assert_eq!(got["history"][1]["comment"], MARKERS[7]);
    drop(a);

    // The relay holds ciphertext only: no marker anywhere in its files or its log.
    assert_eq!(relay.stop(), 0);
    let log = dir_r.with_extension("log");
    for marker in MARKERS {
        assert_eq!(
            occurrences(&[&dir_r], &[&log], marker),
            0,
            "{marker} found at the relay"
        );
    }
    // The same search finds what the relay does store: the documents' ids.
    assert!(
        relayed_ids_present(&dir_r, &id),
        "the relay stored the project's envelopes"
    );
    assert!(
        relayed_ids_present(&dir_r, &export_id),
        "the relay stored the request's envelopes"
    );
}

/// The platform id of an initialised (not running) node, from its identity card.
fn dir_platform(dir: &Path) -> String {
    let card: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("identity.card.json")).expect("card"),
    )
    .expect("card json");
    card["platform_id"]
        .as_str()
        .expect("platform id")
        .to_string()
}

/// Whether the relay's files name the document (its envelopes are stored by id).
fn relayed_ids_present(dir: &Path, id: &str) -> bool {
    occurrences(&[dir], &[], id) > 0
}
