//! A platform removed from a project keeps what it could read before and can read nothing
//! written after, even with its real keys and every sealed envelope in hand.

use std::path::Path;
use std::sync::Arc;

use fed_crdt::envelope::ChangeEnvelope;
use fed_crdt::ids::{DocId, PlatformId};
use fed_crdt::keys::KeyKind;
use fed_crdt::seal::{open_payload, sealed_epoch, KeyGrant};
use fed_e2e::{wait_until, Admin, TestNode};
use fednode::store::{SledStore, Store, StoreConfig, Tree};
use serde_json::json;

const BEFORE: &str = "MRK-BEFORE-UNSHARE-4411";
const AFTER: &str = "MRK-AFTER-UNSHARE-9d02";

/// Every sealed envelope and key grant of `document` in a stopped node's store.
fn sealed_in_store(dir: &Path, document: &DocId) -> (Vec<ChangeEnvelope>, Vec<KeyGrant>) {
    let store: Arc<dyn Store> = Arc::new(
        SledStore::open(&dir.join(fednode::run::STORE_DIR), StoreConfig::default())
            .expect("the owner's store"),
    );
    let prefix = format!("{document}/").into_bytes();
    let envelopes = store
        .scan_prefix(Tree::Envelopes, &prefix, usize::MAX)
        .expect("envelopes")
        .into_iter()
        .map(|(_, v)| serde_json::from_slice(&v).expect("envelope"))
        .collect();
    let grants = store
        .scan_prefix(Tree::Keys, &prefix, usize::MAX)
        .expect("grants")
        .into_iter()
        .map(|(_, v)| serde_json::from_slice(&v).expect("grant"))
        .collect();
    (envelopes, grants)
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn a_removed_platform_reads_what_it_had_and_nothing_written_after() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let (dirs, nodes) = admin.start_members(&["owner", "stays", "leaves"]);
    let [mut a, b, c]: [TestNode; 3] = nodes.try_into().unwrap_or_else(|_| panic!("3 nodes"));
    let fed = admin.federation();
    let f = fed.as_str();
    let body = json!({"code": "EPOCH-1", "name": "Epochs", "description": BEFORE,
        "start_date": null, "end_date": null, "regulatory_frameworks": [], "entities": [], "members": []});
    let (status, created) = a.call(
        "POST",
        &format!("/v1/federations/{f}/projects"),
        Some(&body.to_string()),
        true,
    );
    assert_eq!(status, 201);
    let id = created["id"].as_str().expect("id").to_string();
    let path = format!("/v1/federations/{f}/projects/{id}");
    for n in [&b, &c] {
        let share = json!({"recipients": [{"platform_id": n.platform_id, "access": "read"}]});
        assert_eq!(
            a.call(
                "POST",
                &format!("{path}/share"),
                Some(&share.to_string()),
                true
            )
            .0,
            200
        );
    }
    wait_until("the leaving platform reads the project", || {
        c.call("GET", &path, None, true).1["description"] == BEFORE
    });
    assert_eq!(
        a.call(
            "DELETE",
            &format!("{path}/shares/{}", c.platform_id),
            None,
            true
        )
        .0,
        200
    );
    let (status, _) = a.call(
        "PATCH",
        &path,
        Some(&json!({"description": AFTER}).to_string()),
        true,
    );
    assert_eq!(status, 200);
    wait_until("the platform that stays reads the new text", || {
        b.call("GET", &path, None, true).1["description"] == AFTER
    });
    assert_eq!(
        c.call("GET", &path, None, true).0,
        404,
        "the removed platform lists nothing"
    );

    // Everything sealed of the project, from the owner's store, and the removed
    // platform's real private key.
    assert_eq!(a.stop(), 0);
    let document: DocId = id.parse().expect("doc id");
    let (envelopes, grants) = sealed_in_store(&dirs[0], &document);
    let leaves: PlatformId = c.platform_id.parse().expect("platform id");
    let secret =
        fednode::keyfile::read_secret(&dirs[2].join("encryption.key"), KeyKind::X25519Secret)
            .expect("its encryption key");
    let mut keys = std::collections::BTreeMap::new();
    for grant in &grants {
        if let Ok(key) = grant.unwrap(&leaves, &secret) {
            keys.insert(grant.epoch, key);
        }
    }
    assert_eq!(
        keys.keys().copied().collect::<Vec<u32>>(),
        vec![0],
        "only the first epoch is its"
    );
    assert!(
        grants.iter().any(|g| g.epoch == 1),
        "the unshare started epoch 1"
    );
    let mut read_before = false;
    for env in &envelopes {
        let epoch = sealed_epoch(&env.payload).expect("sealed");
        let opened = keys.get(&epoch).and_then(|k| open_payload(env, k).ok());
        if let Some(plain) = &opened {
            read_before |= contains(plain, BEFORE);
            assert!(
                !contains(plain, AFTER),
                "the removed platform read a later change"
            );
        }
        if contains(&env.payload, AFTER) || contains(&env.payload, BEFORE) {
            panic!("a sealed payload carries a marker in the clear");
        }
        if epoch >= 1 {
            assert!(
                opened.is_none(),
                "an envelope of epoch {epoch} opened with the old key"
            );
        }
    }
    assert!(read_before, "the removed platform still reads what it had");
}
