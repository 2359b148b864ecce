//! A member that bypasses its own API and sends signed changes to projects and export
//! requests directly is refused by every honest node of the audience, with the reason
//! recorded, and changes nothing. Mallory is a real member (her own key in the chain) with
//! read access to a project, and the requester of an export request; she runs no
//! `fednode` but a libp2p node of the test's own.

// Shared with the registry misbehaviour tests, which use the rest of it.
#[allow(dead_code)]
#[path = "misbehaviour/support.rs"]
mod support;

use support::*;

use std::path::PathBuf;

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ScalarValue, Value, ROOT};
use fed_crdt::envelope::ChangeEnvelope;
use fed_crdt::ids::{DocId, FederationId};
use fed_crdt::registry::exports::{create_export, read_export, ExportRequest};
use fed_crdt::registry::projects::{
    delete_project, read_project, share_project, update_project, Access,
};
use fed_crdt::registry::Document;
use fed_e2e::{wait_until, Admin, TestNode};
use fednode::net::protocol::{
    SyncRequest, SyncResponse, MAX_DOCUMENTS_PER_SYNC, MAX_ENVELOPES_PER_PUSH,
};
use serde_json::json;

/// Every envelope `node` hands Mallory for the private documents shared with her.
fn shared_with_mallory(mallory: &Attacker, node: &TestNode) -> Vec<ChangeEnvelope> {
    let request = SyncRequest::Documents {
        federation: mallory.federation,
        after: None,
        until: None,
        documents: Vec::new(),
    };
    match mallory.request(node, request) {
        Ok(SyncResponse::Envelopes { envelopes, .. }) => envelopes,
        other => panic!("no envelopes: {other:?}"),
    }
}

fn push(mallory: &Attacker, nodes: &[&TestNode], env: &ChangeEnvelope) {
    for n in nodes {
        let request = SyncRequest::Push {
            federation: mallory.federation,
            envelopes: vec![env.clone()],
            grants: Vec::new(),
        };
        assert!(
            matches!(mallory.request(n, request), Ok(SyncResponse::Received)),
            "push accepted for checking"
        );
    }
}

fn push_refused(mallory: &Attacker, nodes: &[&TestNode], env: &ChangeEnvelope, check: &str) {
    push(mallory, nodes, env);
    wait_until(
        &format!("every node refuses {} by `{check}`", env.change_hash),
        || nodes.iter().all(|n| refused(n, env, check)),
    );
}

/// Appends a history entry to an export request with Automerge alone, as Mallory.
fn forged_transition(
    doc: &Document,
    chain: &fed_crdt::chain::Chain,
    mallory: &Attacker,
    from: &str,
    to: &str,
) -> ChangeEnvelope {
    let author = mallory.id.to_string();
    let change = raw_change(doc.automerge(), mallory.id.as_bytes(), |tx| {
        let history = match tx.get(ROOT, "history").expect("readable") {
            Some((Value::Object(ObjType::List), obj)) => obj,
            other => panic!("no history: {other:?}"),
        };
        let at = tx.length(&history);
        let entry = tx.insert_object(&history, at, ObjType::Map).expect("entry");
        tx.put(&entry, "from", from).expect("put");
        tx.put(&entry, "to", to).expect("put");
        tx.put(&entry, "author", author.as_str()).expect("put");
        tx.put(&entry, "at", ScalarValue::Int(now_ms()))
            .expect("put");
        tx.put(&entry, "comment", "").expect("put");
        tx.put(&entry, "conditions", "").expect("put");
        tx.put(&entry, "reference", "ref-1").expect("put");
    });
    let state = chain.state();
    ChangeEnvelope::seal(
        &mallory.key,
        chain.federation(),
        doc.id(),
        state.seq,
        state.head,
        &change,
    )
}

#[test]
fn forged_project_and_export_changes_are_refused_by_the_audience() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let honest_dirs: Vec<PathBuf> = ["owner", "writer", "bystander"]
        .iter()
        .map(|n| TestNode::init(root, n))
        .collect();
    let mallory_dir = TestNode::init(root, "mallory");
    let admin = Admin::new(root, "chain.json");
    for dir in honest_dirs.iter().chain([&mallory_dir]) {
        admin.admit(dir, &[]);
    }
    let federation: FederationId = admin.chain().federation();
    let fed = federation.to_string();
    let [a, b, c]: [TestNode; 3] = start_honest(&admin, &honest_dirs)
        .try_into()
        .unwrap_or_else(|_| panic!("three nodes"));
    let mallory = connect_mallory(&mallory_dir, federation, &[&a, &b, &c]);

    // The owner's project, shared in write with an honest platform and read with Mallory.
    let body = json!({"code": "P-1", "name": "Honest", "description": "", "start_date": null,
        "end_date": null, "regulatory_frameworks": [], "entities": [], "members": []});
    let (status, created) = a.call(
        "POST",
        &format!("/v1/federations/{fed}/projects"),
        Some(&body.to_string()),
        true,
    );
    assert_eq!(status, 201, "{created}");
    let id: DocId = created["id"].as_str().expect("id").parse().expect("doc id");
    for (who, access) in [(&b.platform_id, "write"), (&mallory.id.to_string(), "read")] {
        let share = json!({"recipients": [{"platform_id": who, "access": access}]});
        let (status, _) = a.call(
            "POST",
            &format!("/v1/federations/{fed}/projects/{id}/share"),
            Some(&share.to_string()),
            true,
        );
        assert_eq!(status, 200);
    }
    let path = format!("/v1/federations/{fed}/projects/{id}");
    wait_until("the writer has the project", || {
        b.call("GET", &path, None, true).0 == 200
    });
    let chain = fetch_chain(&a, &federation);
    let (doc, _) = Document::from_envelopes(
        id,
        &chain,
        shared_with_mallory(&mallory, &a)
            .into_iter()
            .filter(|e| e.document == id),
    );
    let view = read_project(id, doc.automerge()).expect("mallory reads the project");
    assert_eq!(view.shares.get(&mallory.id), Some(&Access::Read));

    // A read share edits, shares with itself in write, deletes: signed, well formed, and
    // refused by the rules at every node of the audience.
    let mut hijacked = view.project.clone();
    hijacked.name = "Hijacked".into();
    let now = now_ms();
    let edit = update_project(&doc, &chain, &mallory.key, &hijacked, now)
        .expect("built")
        .expect("a change");
    let self_share = share_project(
        &doc,
        &chain,
        &mallory.key,
        mallory.id,
        Some(Access::Write),
        now,
    )
    .expect("built")
    .expect("a change");
    let delete = delete_project(&doc, &chain, &mallory.key, now)
        .expect("built")
        .expect("a change");
    for env in [&edit, &self_share, &delete] {
        push_refused(&mallory, &[&a, &b], env, "rule");
    }
    for n in [&a, &b] {
        let p = n.get(&path);
        assert_eq!(p["name"], "Honest");
        assert_eq!(p["deleted"], false);
        assert_eq!(p["shares"].as_array().map(Vec::len), Some(2));
    }
    // Over the request limits: refused whole, nothing of them handled.
    let too_many = SyncRequest::Push {
        federation,
        envelopes: vec![edit.clone(); MAX_ENVELOPES_PER_PUSH + 1],
        grants: Vec::new(),
    };
    match mallory.request(&a, too_many) {
        Ok(SyncResponse::Refused { reason }) => assert!(reason.contains("at most"), "{reason}"),
        other => panic!("an oversized push is refused: {other:?}"),
    }
    let listing = SyncRequest::Documents {
        federation,
        after: None,
        until: None,
        documents: (0..=MAX_DOCUMENTS_PER_SYNC)
            .map(|i| {
                (
                    DocId::random(fed_crdt::ids::DocKind::Project, [i as u8; 16]),
                    Vec::new(),
                )
            })
            .collect(),
    };
    match mallory.request(&a, listing) {
        Ok(SyncResponse::Refused { reason }) => assert!(reason.contains("at most"), "{reason}"),
        other => panic!("an oversized listing is refused: {other:?}"),
    }
    // Gossiping a private document is rejected outright: nothing stored, nothing forwarded.
    mallory.publish(&announce(&edit)).ok();
    assert_eq!(c.get(&format!("/v1/federations/{fed}/projects")), json!([]));

    // An export request from Mallory to the owner: her creation and submission are legal.
    let request = ExportRequest {
        title: "Extract".into(),
        dataset: "Everything".into(),
        ..ExportRequest::default()
    };
    let (export, created) = create_export(
        &chain,
        &mallory.key,
        [9; 16],
        platform_id(&a),
        id,
        &request,
        now_ms(),
    )
    .expect("a valid request");
    push(&mallory, &[&a], &created);
    let export_path = format!("/v1/federations/{fed}/exports/{export}");
    wait_until("the provider has the request", || {
        a.call("GET", &export_path, None, true).0 == 200
    });
    let (doc, _) = Document::from_envelopes(export, &chain, [created]);
    assert!(read_export(export, doc.automerge()).is_some());

    // The requester approves its own request, or delivers it: provider-only steps.
    let approve = forged_transition(&doc, &chain, &mallory, "draft", "approved");
    push_refused(&mallory, &[&a], &approve, "rule");
    let skip = forged_transition(&doc, &chain, &mallory, "draft", "delivered");
    push_refused(&mallory, &[&a], &skip, "rule");
    assert_eq!(a.get(&export_path)["state"], "draft");
    // Outside the request's audience, the other honest platforms hold nothing of it.
    for n in [&b, &c] {
        assert_eq!(n.get(&format!("/v1/federations/{fed}/exports")), json!([]));
        assert_eq!(n.call("GET", &export_path, None, true).0, 404);
    }
}
