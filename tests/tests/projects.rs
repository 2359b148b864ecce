//! Projects across real nodes: the reference service's behaviours, ported (a platform
//! sees its own and shared projects and no others; a read-only recipient cannot edit; a
//! non-owner cannot share; an owner can; shared details replicate), and audience-limited
//! replication (an outsider holds nothing of a project, an unshared platform gets nothing
//! written after).

use std::path::Path;

use fed_e2e::{wait_until, Admin, TestNode};
use serde_json::{json, Value};

/// Adds a framework, an entity type and an entity to the catalog, and waits until every
/// node has the record.
fn catalog(admin: &Admin, nodes: &[&TestNode], federation: &str) {
    admin.sign(&[
        "catalog",
        "add-framework",
        "--name",
        "MR-004",
        "--id",
        "mr-004",
    ]);
    admin.sign(&[
        "catalog",
        "add-entity-type",
        "--name",
        "Hospital",
        "--id",
        "hospital",
    ]);
    admin.sign(&[
        "catalog",
        "add-entity",
        "--name",
        "AP-HP",
        "--id",
        "aphp",
        "--type",
        "hospital",
    ]);
    admin.publish(nodes[0]);
    let head = admin.head();
    for n in nodes {
        wait_until("every node has the catalog", || {
            n.head_seq(federation) == Some(head)
        });
    }
}

fn project(code: &str, name: &str) -> Value {
    json!({
        "code": code, "name": name, "description": "A cohort study",
        "start_date": "2027-01-01", "end_date": "2028-12-31",
        "regulatory_frameworks": ["mr-004"], "entities": ["aphp"],
        "members": [{"name": "Ada Lovelace", "email": "ada@example.org", "role": "PI"}]
    })
}

fn projects(node: &TestNode, federation: &str) -> Vec<Value> {
    node.get(&format!("/v1/federations/{federation}/projects"))
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn create(node: &TestNode, federation: &str, body: &Value) -> Value {
    let (status, value) = node.call(
        "POST",
        &format!("/v1/federations/{federation}/projects"),
        Some(&body.to_string()),
        true,
    );
    assert_eq!(status, 201, "create: {value}");
    value
}

fn share(
    node: &TestNode,
    federation: &str,
    project: &str,
    with: &TestNode,
    access: &str,
) -> (u16, Value) {
    let body = json!({"recipients": [{"platform_id": with.platform_id, "access": access}]});
    node.call(
        "POST",
        &format!("/v1/federations/{federation}/projects/{project}/share"),
        Some(&body.to_string()),
        true,
    )
}

/// Whether any file under `dir` holds `needle` as raw bytes.
fn files_contain(dir: &Path, needle: &str) -> bool {
    fed_e2e::occurrences(&[dir], &[], needle) > 0
}

#[test]
fn projects_follow_the_reference_rules_and_reach_only_their_audience() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let (dirs, nodes) = admin.start_members(&["owner", "reader", "outsider"]);
    let [a, b, mut c]: [TestNode; 3] = nodes.try_into().unwrap_or_else(|_| panic!("3 nodes"));
    let federation = admin.federation();
    let fed = federation.as_str();
    catalog(&admin, &[&a, &b, &c], fed);
    // The catalog a project can name, as every node reads it from the chain.
    for (part, id) in [
        ("regulatory-frameworks", "mr-004"),
        ("entity-types", "hospital"),
        ("entities", "aphp"),
    ] {
        let listed = b.get(&format!("/v1/federations/{fed}/{part}"));
        assert_eq!(listed[0]["id"], id, "{part}: {listed}");
    }
    let recipients = a.get(&format!("/v1/federations/{fed}/share-recipients"));
    assert_eq!(recipients.as_array().map(Vec::len), Some(2), "{recipients}");

    // The owner creates two projects; it alone sees them.
    let p1 = create(&a, fed, &project("COHORT-1", "Cohort one"));
    assert_eq!(p1["access"], "owner");
    assert_eq!(p1["owner_name"], "owner");
    assert_eq!(p1["start_date"], "2027-01-01");
    let p2 = create(&a, fed, &project("SECRET-2", "Never shared"));
    let id1 = p1["id"].as_str().expect("id").to_string();
    let id2 = p2["id"].as_str().expect("id").to_string();
    assert_eq!(projects(&a, fed).len(), 2);
    assert!(projects(&b, fed).is_empty());
    assert!(projects(&c, fed).is_empty());

    // Bad input is refused before anything is signed, naming the field.
    let mut unknown_framework = project("BAD-1", "Bad");
    unknown_framework["regulatory_frameworks"] = json!(["gdpr-unknown"]);
    let mut dates_reversed = project("BAD-2", "Bad");
    dates_reversed["end_date"] = json!("2026-01-01");
    for (bad, field) in [
        (unknown_framework, "regulatory_frameworks"),
        (dates_reversed, "end_date"),
    ] {
        let (status, err) = a.call(
            "POST",
            &format!("/v1/federations/{fed}/projects"),
            Some(&bad.to_string()),
            true,
        );
        assert_eq!(status, 422, "{err}");
        let message = err["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(field), "{err}");
    }
    let (status, err) = a.call(
        "POST",
        &format!("/v1/federations/{fed}/projects"),
        Some(&project("COHORT-1", "Same code").to_string()),
        true,
    );
    assert_eq!(status, 409, "a code already used: {err}");
    let (status, err) = a.call(
        "POST",
        &format!("/v1/federations/{fed}/projects"),
        Some("{\"code\": 1}"),
        true,
    );
    assert_eq!(
        status, 422,
        "a value of the wrong type names its field: {err}"
    );
    assert_eq!(err["error"]["field"], "code", "{err}");
    assert_eq!(
        projects(&a, fed).len(),
        2,
        "nothing was created by bad input"
    );

    let crowd: Vec<Value> = (0..=256)
        .map(|_| json!({"platform_id": b.platform_id, "access": "read"}))
        .collect();
    let (status, err) = a.call(
        "POST",
        &format!("/v1/federations/{fed}/projects/{id1}/share"),
        Some(&json!({ "recipients": crowd }).to_string()),
        true,
    );
    assert_eq!(
        status, 422,
        "more recipients than MAX_SHARE_RECIPIENTS: {err}"
    );
    assert_eq!(err["error"]["field"], "recipients", "{err}");
    assert!(projects(&b, fed).is_empty());

    // Shared read-only with the reader: it sees the project, with the owner's name.
    let (status, shared) = share(&a, fed, &id1, &b, "read");
    assert_eq!(status, 200, "{shared}");
    wait_until("the reader sees the shared project", || {
        projects(&b, fed).len() == 1
    });
    let seen = &projects(&b, fed)[0];
    assert_eq!(seen["id"], id1.as_str());
    assert_eq!(seen["access"], "read");
    assert_eq!(seen["owner_name"], "owner");
    assert_eq!(seen["members"], p1["members"]);
    assert!(projects(&c, fed).is_empty(), "the outsider sees nothing");

    // A read-only recipient cannot edit, and a non-owner cannot share.
    let path1 = format!("/v1/federations/{fed}/projects/{id1}");
    let (status, err) = b.call("PATCH", &path1, Some("{\"name\": \"hijacked\"}"), true);
    assert_eq!(status, 403, "{err}");
    let (status, err) = share(&b, fed, &id1, &c, "write");
    assert_eq!(status, 403, "{err}");
    let (status, _) = b.call(
        "GET",
        &format!("/v1/federations/{fed}/projects/{id2}"),
        None,
        true,
    );
    assert_eq!(
        status, 404,
        "an unshared project is not found, not forbidden"
    );

    // The owner shares with the outsider in write; its edit reaches the others.
    let (status, _) = share(&a, fed, &id1, &c, "write");
    assert_eq!(status, 200);
    wait_until("the writer sees the project", || {
        projects(&c, fed).len() == 1
    });
    let (status, edited) = c.call(
        "PATCH",
        &path1,
        Some("{\"name\": \"Cohort one, renamed\"}"),
        true,
    );
    assert_eq!(status, 200, "{edited}");
    assert_eq!(
        edited["description"], "A cohort study",
        "a patch keeps other fields"
    );
    for n in [&a, &b] {
        wait_until("the rename reaches every reader", || {
            n.get(&path1)["name"] == "Cohort one, renamed"
        });
    }

    // Unshared, the former writer gets nothing written afterwards.
    let (status, _) = a.call(
        "DELETE",
        &format!("{path1}/shares/{}", c.platform_id),
        None,
        true,
    );
    assert_eq!(status, 200);
    wait_until("the unshared platform no longer lists it", || {
        projects(&c, fed).is_empty()
    });
    let (status, _) = c.call("PATCH", &path1, Some("{\"name\": \"too late\"}"), true);
    assert_eq!(status, 404);
    let (status, after) = a.call(
        "PATCH",
        &path1,
        Some("{\"description\": \"written after the unshare\"}"),
        true,
    );
    assert_eq!(status, 200, "{after}");
    let heads: Vec<String> = after["heads"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|h| h.as_str().map(String::from))
        .collect();
    assert_eq!(heads.len(), 1);
    wait_until("the reader gets the new description", || {
        b.get(&path1)["heads"] == after["heads"]
    });

    // On disk: the never-shared project is nowhere at the others; the change made after
    // the unshare is at the reader, not at the former writer.
    let mut b = b;
    assert_eq!(b.stop(), 0);
    assert_eq!(c.stop(), 0);
    let hex2 = id2.trim_start_matches("project:");
    assert!(
        !files_contain(&dirs[1], hex2),
        "the reader's store holds the unshared project"
    );
    assert!(
        !files_contain(&dirs[2], hex2),
        "the outsider's store holds the unshared project"
    );
    assert!(
        files_contain(&dirs[1], &heads[0]),
        "the reader stored the change"
    );
    assert!(
        !files_contain(&dirs[2], &heads[0]),
        "the unshared platform stored a later change"
    );
}

#[test]
fn same_code_created_concurrently_shows_a_conflict_on_both() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let (_, nodes) = admin.start_members(&["left", "right"]);
    let [a, b]: [TestNode; 2] = nodes.try_into().unwrap_or_else(|_| panic!("2 nodes"));
    let federation = admin.federation();
    let fed = federation.as_str();
    catalog(&admin, &[&a, &b], fed);

    // Both create "SAME" before either sees the other's (neither is shared yet), then
    // share with each other: each project is visible on both nodes, and both are marked.
    let pa = create(&a, fed, &project("SAME", "Left's"));
    let pb = create(&b, fed, &project("SAME", "Right's"));
    let ida = pa["id"].as_str().expect("id");
    let idb = pb["id"].as_str().expect("id");
    assert_eq!(share(&a, fed, ida, &b, "read").0, 200);
    assert_eq!(share(&b, fed, idb, &a, "read").0, 200);
    for n in [&a, &b] {
        wait_until("both projects are visible on both nodes", || {
            projects(n, fed).len() == 2
        });
        for p in projects(n, fed) {
            let other = if p["id"] == ida { idb } else { ida };
            assert_eq!(p["conflicts"], json!([other]), "{p}");
        }
    }
    // Renaming one resolves it everywhere.
    let (status, _) = a.call(
        "PATCH",
        &format!("/v1/federations/{fed}/projects/{ida}"),
        Some("{\"code\": \"SAME-LEFT\"}"),
        true,
    );
    assert_eq!(status, 200);
    for n in [&a, &b] {
        wait_until("the conflict clears", || {
            projects(n, fed).iter().all(|p| p["conflicts"] == json!([]))
        });
    }
}

#[test]
fn a_platform_offline_when_a_project_is_shared_gets_it_by_anti_entropy() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let (dirs, nodes) = admin.start_members(&["first", "second"]);
    let [a, mut b]: [TestNode; 2] = nodes.try_into().unwrap_or_else(|_| panic!("2 nodes"));
    let federation = admin.federation();
    let fed = federation.as_str();
    catalog(&admin, &[&a, &b], fed);
    assert_eq!(b.stop(), 0);

    // While the second platform is down: created, edited twice, shared with it. No push
    // can reach it; only anti-entropy after it restarts.
    let p = create(&a, fed, &project("LATE-1", "Shared while away"));
    let id = p["id"].as_str().expect("id");
    let path = format!("/v1/federations/{fed}/projects/{id}");
    for name in ["Renamed once", "Renamed twice"] {
        let body = json!({ "name": name }).to_string();
        assert_eq!(a.call("PATCH", &path, Some(&body), true).0, 200);
    }
    assert_eq!(share(&a, fed, id, &b, "write").0, 200);
    let heads = a.get(&path)["heads"].clone();

    let b = TestNode::start(&dirs[1], &[&a.bootstrap]);
    wait_until("the restarted platform has the whole project", || {
        b.call("GET", &path, None, true).1["heads"] == heads
    });
    assert_eq!(b.get(&path)["name"], "Renamed twice");
    assert_eq!(b.get(&path)["access"], "write");
}
