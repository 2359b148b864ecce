//! A platform replaces its encryption key: it keeps reading with the retired key until
//! the administrator signs the new one into the chain and the owner grants the document
//! keys again; then the retired key is deleted and everything, old and new, still reads.

use fed_e2e::{run, wait_until, Admin, TestNode};
use serde_json::json;

fn retired_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("retired-keys"))
        .map(|d| d.flatten().count())
        .unwrap_or(0)
}

#[test]
fn a_rotated_encryption_key_takes_over_and_the_old_one_goes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let (dirs, nodes) = admin.start_members(&["owner", "reader"]);
    let [a, mut b]: [TestNode; 2] = nodes.try_into().unwrap_or_else(|_| panic!("2 nodes"));
    let fed = admin.federation();
    let f = fed.as_str();
    let body = json!({"code": "ROT-1", "name": "Rotation", "description": "before",
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
    let share = json!({"recipients": [{"platform_id": b.platform_id, "access": "read"}]});
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
    wait_until("the reader reads the project", || {
        b.call("GET", &path, None, true).0 == 200
    });

    // The reader rotates its key while stopped; it still reads with the retired one.
    assert_eq!(b.stop(), 0);
    let old_card = std::fs::read_to_string(dirs[1].join("identity.card.json")).expect("card");
    let rotated = run(
        "fednode",
        root,
        &["rotate-encryption-key", "--data-dir", "reader"],
    );
    assert_eq!(rotated.code, 0, "{}", rotated.stderr);
    let new_card = std::fs::read_to_string(dirs[1].join("identity.card.json")).expect("card");
    assert_ne!(old_card, new_card);
    assert_eq!(retired_files(&dirs[1]), 1);
    let b = TestNode::start(&dirs[1], &[&a.bootstrap]);
    wait_until("the reader reads with its retired key", || {
        b.call("GET", &path, None, true).1["description"] == "before"
    });
    assert_eq!(
        retired_files(&dirs[1]),
        1,
        "kept: the chain still holds the old key"
    );

    // The administrator signs the new card in; the owner grants the keys again.
    let card = dirs[1].join("identity.card.json").display().to_string();
    admin.sign(&[
        "membership",
        "update",
        "--platform",
        &b.platform_id,
        "--card",
        &card,
    ]);
    admin.publish(&a);
    wait_until("the retired key is deleted", || {
        retired_files(&dirs[1]) == 0
    });
    let (status, _) = a.call(
        "PATCH",
        &path,
        Some(&json!({"description": "after"}).to_string()),
        true,
    );
    assert_eq!(status, 200);
    wait_until("the reader reads what is written after", || {
        b.call("GET", &path, None, true).1["description"] == "after"
    });

    // After a restart, without the retired key, the whole history still reads.
    let mut b = b;
    assert_eq!(b.stop(), 0);
    let b = TestNode::start(&dirs[1], &[&a.bootstrap]);
    wait_until("the reader reads everything with its new key alone", || {
        b.call("GET", &path, None, true).1["description"] == "after"
    });
}
