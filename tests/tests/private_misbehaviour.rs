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

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ScalarValue, Value, ROOT};
use fed_crdt::envelope::{ChangeEnvelope, Refusal, RefusalCheck};
use fed_crdt::ids::{DocId, FederationId, PlatformId};
use fed_crdt::keys::KeyKind;
use fed_crdt::registry::document::Sealing;
use fed_crdt::registry::exports::{create_export, read_export, ExportRequest};
use fed_crdt::registry::projects::{
    delete_project, read_project, share_project, update_project, Access,
};
use fed_crdt::registry::Document;
use fed_crdt::seal::{open_payload, seal_envelope, sealed_epoch, EpochKey, KeyGrant};
use fed_e2e::{wait_until, Admin, TestNode};
use fednode::net::protocol::{
    SyncRequest, SyncResponse, MAX_DOCUMENTS_PER_SYNC, MAX_ENVELOPES_PER_PUSH, MAX_GRANTS_PER_PUSH,
};
use serde_json::json;

/// The epoch keys Mallory unwrapped with her own encryption key, and the grants seen.
#[derive(Default)]
struct MalloryKeys {
    keys: Mutex<HashMap<(DocId, u32), EpochKey>>,
    grants: Mutex<Vec<KeyGrant>>,
}

impl MalloryKeys {
    fn key(&self, doc: DocId, epoch: u32) -> EpochKey {
        self.keys
            .lock()
            .expect("keys")
            .get(&(doc, epoch))
            .cloned()
            .unwrap_or_else(|| panic!("mallory holds no key of epoch {epoch}"))
    }
}

impl Sealing for MalloryKeys {
    fn open(&self, env: &ChangeEnvelope) -> Result<Vec<u8>, Refusal> {
        let epoch = sealed_epoch(&env.payload).unwrap_or(u32::MAX);
        let key = self
            .keys
            .lock()
            .expect("keys")
            .get(&(env.document, epoch))
            .cloned();
        key.and_then(|k| open_payload(env, &k).ok())
            .ok_or_else(|| env.refusal(RefusalCheck::Decrypt, "no key"))
    }
    fn check_epoch(
        &self,
        _: &ChangeEnvelope,
        _: &dyn Fn(&fed_crdt::ids::ChangeHash) -> bool,
        _: Option<PlatformId>,
    ) -> Result<(), Refusal> {
        Ok(())
    }
}

/// Every envelope `node` hands Mallory for the private documents shared with her; the
/// grants naming her are unwrapped with her real key.
fn shared_with_mallory(
    mallory: &Attacker,
    node: &TestNode,
    secret: &[u8; 32],
    keys: &MalloryKeys,
) -> Vec<ChangeEnvelope> {
    let request = SyncRequest::Documents {
        federation: mallory.federation,
        after: None,
        until: None,
        documents: Vec::new(),
        grants_held: Vec::new(),
        have: Vec::new(),
    };
    match mallory.request(node, request) {
        Ok(SyncResponse::Envelopes { envelopes, grants }) => {
            for grant in grants {
                if let Ok(key) = grant.unwrap(&mallory.id, secret) {
                    keys.keys
                        .lock()
                        .expect("keys")
                        .insert((grant.document, grant.epoch), key);
                }
                keys.grants.lock().expect("grants").push(grant);
            }
            envelopes
        }
        other => panic!("no envelopes: {other:?}"),
    }
}

/// Mallory's view of a document, opened with her keys.
fn mallory_doc(
    mallory: &Attacker,
    node: &TestNode,
    chain: &fed_crdt::chain::Chain,
    id: DocId,
    secret: &[u8; 32],
    keys: &Arc<MalloryKeys>,
) -> Document {
    let envelopes = shared_with_mallory(mallory, node, secret, keys);
    let sealing: Arc<dyn Sealing> = keys.clone();
    let (doc, _) = Document::from_sealed_envelopes(
        id,
        chain,
        envelopes.into_iter().filter(|e| e.document == id),
        sealing,
    );
    doc
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
    let secret =
        fednode::keyfile::read_secret(&mallory_dir.join("encryption.key"), KeyKind::X25519Secret)
            .expect("mallory's encryption key");
    let keys = Arc::new(MalloryKeys::default());
    let doc = mallory_doc(&mallory, &a, &chain, id, &secret, &keys);
    let view = read_project(id, doc.automerge()).expect("mallory reads the project");
    let seal = |env: ChangeEnvelope, epoch: u32| {
        seal_envelope(
            env,
            &mallory.key,
            &keys.key(id, epoch),
            epoch,
            rand::random(),
        )
    };
    assert_eq!(view.shares.get(&mallory.id), Some(&Access::Read));

    // A read share edits, shares with itself in write, deletes: signed, well formed, and
    // refused by the rules at every node of the audience.
    let mut hijacked = view.project.clone();
    hijacked.name = "Hijacked".into();
    let now = now_ms();
    let plain_edit = update_project(&doc, &chain, &mallory.key, &hijacked, now)
        .expect("built")
        .expect("a change")
        .into_envelope();
    let edit = seal(plain_edit.clone(), 0);
    let self_share = share_project(
        &doc,
        &chain,
        &mallory.key,
        mallory.id,
        Some(Access::Write),
        now,
    )
    .expect("built")
    .expect("a change")
    .into_envelope();
    let self_share = seal(self_share, 0);
    let delete = seal(
        delete_project(&doc, &chain, &mallory.key, now)
            .expect("built")
            .expect("a change")
            .into_envelope(),
        0,
    );
    for env in [&edit, &self_share, &delete] {
        push_refused(&mallory, &[&a, &b], env, "rule");
    }
    for n in [&a, &b] {
        let p = n.get(&path);
        assert_eq!(p["name"], "Honest");
        assert_eq!(p["deleted"], false);
        assert_eq!(p["shares"].as_array().map(Vec::len), Some(2));
    }

    // Sealing attacks, now as a writer (so that only the sealing can be at fault).
    let write = json!({"recipients": [{"platform_id": mallory.id.to_string(), "access": "write"}]});
    let (status, _) = a.call(
        "POST",
        &format!("{path}/share"),
        Some(&write.to_string()),
        true,
    );
    assert_eq!(status, 200);
    wait_until("mallory is a writer", || {
        a.get(&path)["shares"].as_array().is_some_and(|l| {
            l.iter()
                .any(|s| s["access"] == "write" && s["platform_id"] == mallory.id.to_string())
        })
    });
    let doc = mallory_doc(&mallory, &a, &chain, id, &secret, &keys);
    let mut renamed = read_project(id, doc.automerge()).expect("readable").project;
    renamed.name = "Renamed by Mallory".into();
    let plain = update_project(&doc, &chain, &mallory.key, &renamed, now_ms())
        .expect("built")
        .expect("a change")
        .into_envelope();
    // In the clear: a private document's payload must be sealed.
    push_refused(&mallory, &[&a, &b], &plain, "decrypt");
    // Tampered ciphertext, signed again by Mallory: the AEAD tag fails.
    let mut tampered = seal(plain.clone(), 0);
    let last = tampered.payload.len() - 1;
    tampered.payload[last] ^= 0x01;
    tampered.sign(&mallory.key);
    push_refused(&mallory, &[&a, &b], &tampered, "decrypt");
    // Tampered on the way (a relay, say): the author's signature fails first.
    let mut in_transit = seal(plain.clone(), 0);
    in_transit.payload[40] ^= 0x01;
    push_refused(&mallory, &[&a, &b], &in_transit, "signature");
    // Wrong associated data: another change's sealed payload under this envelope.
    let mut moved = seal(plain.clone(), 0);
    moved.payload = edit.payload.clone();
    moved.sign(&mallory.key);
    push_refused(&mallory, &[&a, &b], &moved, "decrypt");
    // A key "granted" to the writer but wrapped for Mallory's own encryption key.
    let mallory_card_key = chain.state().members[&mallory.id].card.encryption_key;
    let mut substituted = KeyGrant::new(
        &mallory.key,
        federation,
        id,
        7,
        None,
        &EpochKey([7; 32]),
        &[(platform_id(&b), mallory_card_key)],
        &mut rand::rng(),
    )
    .expect("a grant");
    substituted.sign(&mallory.key);
    let flood = SyncRequest::Push {
        federation,
        envelopes: Vec::new(),
        grants: vec![substituted.clone(); MAX_GRANTS_PER_PUSH + 1],
    };
    match mallory.request(&a, flood) {
        Ok(SyncResponse::Refused { reason }) => assert!(reason.contains("at most"), "{reason}"),
        other => panic!("a push of too many grants is refused: {other:?}"),
    }
    let grant_push = SyncRequest::Push {
        federation,
        envelopes: Vec::new(),
        grants: vec![substituted.clone()],
    };
    assert!(matches!(
        mallory.request(&a, grant_push),
        Ok(SyncResponse::Received)
    ));
    wait_until("the substituted grant is refused", || {
        refusals(&a, &federation)
            .iter()
            .any(|r| r["check"] == "grant" && r["author"] == mallory.id.to_string())
    });
    // The honest sealed change goes through.
    let honest = seal(plain, 0);
    push(&mallory, &[&a, &b], &honest);
    for n in [&a, &b] {
        wait_until("mallory's sealed edit is accepted", || {
            n.get(&path)["name"] == "Renamed by Mallory"
        });
    }

    // After an unshare, the owner starts a new epoch; a change that depends on the
    // unshare but is sealed under the old epoch (a replay of the old key) is refused.
    let (status, _) = a.call(
        "DELETE",
        &format!("{path}/shares/{}", b.platform_id),
        None,
        true,
    );
    assert_eq!(status, 200);
    let mut doc = mallory_doc(&mallory, &a, &chain, id, &secret, &keys);
    wait_until("mallory holds the new epoch", || {
        doc = mallory_doc(&mallory, &a, &chain, id, &secret, &keys);
        keys.keys.lock().expect("keys").contains_key(&(id, 1))
            && read_project(id, doc.automerge())
                .is_some_and(|p| !p.shares.contains_key(&platform_id(&b)))
    });
    let mut again = read_project(id, doc.automerge()).expect("readable").project;
    again.description = "after the unshare".into();
    let after = update_project(&doc, &chain, &mallory.key, &again, now_ms())
        .expect("built")
        .expect("a change")
        .into_envelope();
    let replayed = seal(after.clone(), 0);
    push_refused(&mallory, &[&a], &replayed, "epoch");
    push(&mallory, &[&a], &seal(after, 1));
    wait_until("the same change under the new epoch is accepted", || {
        a.get(&path)["description"] == "after the unshare"
    });

    // Removed in turn, Mallory grants a later "epoch" of her own to the owner, hoping it
    // will seal what it writes next with a key she knows: only the owner's grants count.
    let (status, _) = a.call(
        "DELETE",
        &format!("{path}/shares/{}", mallory.id),
        None,
        true,
    );
    assert_eq!(status, 200);
    let owner_key = chain.state().members[&platform_id(&a)].card.encryption_key;
    let rogue = KeyGrant::new(
        &mallory.key,
        federation,
        id,
        9,
        None,
        &EpochKey([9; 32]),
        &[(platform_id(&a), owner_key)],
        &mut rand::rng(),
    )
    .expect("a grant");
    let request = SyncRequest::Push {
        federation,
        envelopes: Vec::new(),
        grants: vec![rogue],
    };
    assert!(matches!(
        mallory.request(&a, request),
        Ok(SyncResponse::Received)
    ));
    // The answer comes once the push is handled, and the patch is handled after it.
    let (status, _) = a.call(
        "PATCH",
        &path,
        Some(&json!({"description": "after mallory left"}).to_string()),
        true,
    );
    assert_eq!(status, 200);
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
        grants_held: Vec::new(),
        have: Vec::new(),
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
    let (export, plain_created) = create_export(
        &chain,
        &mallory.key,
        [9; 16],
        platform_id(&a),
        id,
        &request,
        now_ms(),
    )
    .map(|(id, own)| (id, own.into_envelope()))
    .expect("a valid request");
    let export_key = EpochKey(rand::random());
    let export_grant = KeyGrant::new(
        &mallory.key,
        federation,
        export,
        0,
        None,
        &export_key,
        &[
            (mallory.id, mallory_card_key),
            (
                platform_id(&a),
                chain.state().members[&platform_id(&a)].card.encryption_key,
            ),
        ],
        &mut rand::rng(),
    )
    .expect("a grant");
    keys.keys
        .lock()
        .expect("keys")
        .insert((export, 0), export_key.clone());
    let created = seal_envelope(plain_created, &mallory.key, &export_key, 0, rand::random());
    let request = SyncRequest::Push {
        federation,
        envelopes: vec![created.clone()],
        grants: vec![export_grant],
    };
    assert!(matches!(
        mallory.request(&a, request),
        Ok(SyncResponse::Received)
    ));
    let export_path = format!("/v1/federations/{fed}/exports/{export}");
    wait_until("the provider has the request", || {
        a.call("GET", &export_path, None, true).0 == 200
    });
    let export_sealing: Arc<dyn Sealing> = keys.clone();
    let (doc, _) = Document::from_sealed_envelopes(export, &chain, [created], export_sealing);
    assert!(read_export(export, doc.automerge()).is_some());
    let seal_export =
        |env: ChangeEnvelope| seal_envelope(env, &mallory.key, &export_key, 0, rand::random());

    // The requester approves its own request, or delivers it: provider-only steps.
    let approve = seal_export(forged_transition(
        &doc, &chain, &mallory, "draft", "approved",
    ));
    push_refused(&mallory, &[&a], &approve, "rule");
    let skip = seal_export(forged_transition(
        &doc,
        &chain,
        &mallory,
        "draft",
        "delivered",
    ));
    push_refused(&mallory, &[&a], &skip, "rule");
    assert_eq!(a.get(&export_path)["state"], "draft");
    // What the owner wrote after Mallory left is sealed under its own epoch 2, never
    // under Mallory's epoch 9.
    let mut a = a;
    assert_eq!(a.stop(), 0);
    let store = fednode::store::SledStore::open(
        &honest_dirs[0].join(fednode::run::STORE_DIR),
        fednode::store::StoreConfig::default(),
    )
    .expect("the owner's store");
    let epochs: Vec<u32> = fednode::store::Store::scan_prefix(
        &store,
        fednode::store::Tree::Envelopes,
        format!("{id}/").as_bytes(),
        usize::MAX,
    )
    .expect("envelopes")
    .into_iter()
    .filter_map(|(_, v)| serde_json::from_slice::<ChangeEnvelope>(&v).ok())
    .filter_map(|e| sealed_epoch(&e.payload))
    .collect();
    assert_eq!(epochs.iter().max(), Some(&2), "{epochs:?}");
    drop(store);

    // Outside the request's audience, the other honest platforms hold nothing of it.
    for n in [&b, &c] {
        assert_eq!(n.get(&format!("/v1/federations/{fed}/exports")), json!([]));
        assert_eq!(n.call("GET", &export_path, None, true).0, 404);
    }
}
