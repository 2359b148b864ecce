//! The administrator's workflow through the `fedctl` binary, on real files.

mod util;

use serde_json::Value;
use util::Workspace;

fn member<'a>(show: &'a Value, id: &str) -> &'a Value {
    show["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["platform_id"] == id)
        .unwrap_or_else(|| panic!("{id} not in {show}"))
}

#[test]
fn genesis_add_two_revoke_one_verify_and_show() {
    let ws = Workspace::new();
    let federation = ws.federation();
    let (card_a, id_a) = ws.platform("aphp");
    let (card_b, id_b) = ws.platform("hcl");
    ws.signed_ok("admin.key", &["membership", "add", "--card", &card_a]);
    ws.signed_ok(
        "admin.key",
        &[
            "membership",
            "add",
            "--card",
            &card_b,
            "--rights",
            "read,request-exports",
            "--expires",
            "2099-01-01T00:00:00Z",
        ],
    );
    let revoke = ws.signed_ok(
        "admin.key",
        &[
            "membership",
            "revoke",
            "--platform",
            &id_b,
            "--reason",
            "left the consortium",
            "--json",
        ],
    );
    assert_eq!(revoke.json()["seq"], 3);
    assert_eq!(revoke.json()["status"], "applied");

    let verify = ws
        .ok(&["membership", "verify", "--chain", "chain.json", "--json"])
        .json();
    assert_eq!(verify["valid"], true);
    assert_eq!(verify["records"], 4);
    assert_eq!(verify["federation"], federation.as_str());

    let show = ws
        .ok(&["membership", "show", "--chain", "chain.json", "--json"])
        .json();
    assert_eq!(show["members"].as_array().map(Vec::len), Some(2));
    let a = member(&show, &id_a);
    assert_eq!(a["status"], "active");
    assert_eq!(
        a["rights"],
        serde_json::json!([
            "read",
            "write_projects",
            "request_exports",
            "answer_exports"
        ])
    );
    let b = member(&show, &id_b);
    assert_eq!(b["status"], "revoked");
    assert_eq!(b["revoked_seq"], 3);
    assert_eq!(b["rights"], serde_json::json!(["read", "request_exports"]));
    assert_eq!(b["expires_at"], "2099-01-01T00:00:00Z");

    // The human form names both platforms and their status.
    let text = ws
        .ok(&["membership", "show", "--chain", "chain.json"])
        .stdout;
    assert!(text.contains(&id_a) && text.contains("revoked"), "{text}");
}

#[test]
fn expired_platform_is_not_a_member_after_its_expiry() {
    let ws = Workspace::new();
    ws.federation();
    let (card, id) = ws.platform("aphp");
    ws.signed_ok(
        "admin.key",
        &[
            "membership",
            "add",
            "--card",
            &card,
            "--expires",
            "2090-06-01T00:00:00Z",
        ],
    );
    let status = |at: &str| {
        let show = ws
            .ok(&[
                "membership",
                "show",
                "--chain",
                "chain.json",
                "--at",
                at,
                "--json",
            ])
            .json();
        member(&show, &id)["status"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(status("2090-05-31T23:59:59Z"), "active");
    assert_eq!(status("2090-06-01T00:00:00Z"), "expired");
    assert_eq!(status("2091-01-01T00:00:00Z"), "expired");

    ws.signed_ok(
        "admin.key",
        &[
            "membership",
            "update",
            "--platform",
            &id,
            "--expires",
            "never",
        ],
    );
    assert_eq!(status("2091-01-01T00:00:00Z"), "active");
}

#[test]
fn expiry_in_the_past_is_refused_and_the_chain_is_untouched() {
    let ws = Workspace::new();
    ws.federation();
    let (card, _) = ws.platform("aphp");
    let before = ws.read("chain.json");
    let run = ws.signed(
        "admin.key",
        &[
            "membership",
            "add",
            "--card",
            &card,
            "--expires",
            "2001-01-01T00:00:00Z",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("expires_at"), "{}", run.stderr);
    assert_eq!(ws.read("chain.json"), before);
}

#[test]
fn k_of_n_record_waits_for_a_cosignature() {
    let ws = Workspace::new();
    ws.admin_key("admin.key");
    let second = ws.admin_key("second.key");
    let third = ws.admin_key("third.key");
    let admins = format!("{second},{third}");
    ws.ok(&[
        "federation",
        "new",
        "--name",
        "k-of-n",
        "--admin-key",
        "admin.key",
        "--out",
        "chain.json",
        "--admins",
        &admins,
        "--threshold",
        "2",
    ]);
    let (card, id) = ws.platform("aphp");
    let add = ws.signed_ok(
        "admin.key",
        &["membership", "add", "--card", &card, "--json"],
    );
    assert_eq!(add.json()["status"], "pending");
    assert_eq!(add.json()["signatures"], 1);

    // Not valid yet: verify fails naming the pending record; show does not list it.
    let verify = ws.fedctl(&["membership", "verify", "--chain", "chain.json", "--json"]);
    assert_eq!(verify.code, 1);
    assert_eq!(verify.json()["error"]["first_bad_record"]["seq"], 1);
    assert!(verify.stderr.contains("1 of 2"), "{}", verify.stderr);
    let show = ws
        .ok(&["membership", "show", "--chain", "chain.json", "--json"])
        .json();
    assert_eq!(show["members"].as_array().map(Vec::len), Some(0));
    assert_eq!(show["pending"]["seq"], 1);

    // Another record cannot be stacked on a pending one.
    let (card_b, _) = ws.platform("hcl");
    let stacked = ws.signed("admin.key", &["membership", "add", "--card", &card_b]);
    assert_eq!(stacked.code, 1);
    assert!(stacked.stderr.contains("co-sign"), "{}", stacked.stderr);

    // The same admin cannot count twice.
    let again = ws.signed("admin.key", &["membership", "cosign"]);
    assert_eq!(again.code, 1, "{}", again.stderr);

    // A key that is not an admin cannot co-sign.
    ws.admin_key("outsider.key");
    let outsider = ws.signed("outsider.key", &["membership", "cosign"]);
    assert_eq!(outsider.code, 1, "{}", outsider.stderr);
    assert!(
        outsider.stderr.contains("not an administrator"),
        "{}",
        outsider.stderr
    );

    let cosign = ws.signed_ok("third.key", &["membership", "cosign", "--json"]);
    assert_eq!(cosign.json()["status"], "applied");
    ws.ok(&["membership", "verify", "--chain", "chain.json"]);
    let show = ws
        .ok(&["membership", "show", "--chain", "chain.json", "--json"])
        .json();
    assert_eq!(member(&show, &id)["status"], "active");
}

#[test]
fn rotated_out_admin_can_no_longer_sign() {
    let ws = Workspace::new();
    ws.federation();
    let old = ws
        .ok(&["key", "public", "--key", "admin.key", "--json"])
        .json()["public_key"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let new = ws.admin_key("new.key");
    ws.signed_ok(
        "admin.key",
        &[
            "membership",
            "rotate-admin",
            "--add",
            &new,
            "--remove",
            &old,
        ],
    );
    let (card, _) = ws.platform("aphp");
    let before = ws.read("chain.json");
    let refused = ws.signed("admin.key", &["membership", "add", "--card", &card]);
    assert_eq!(refused.code, 1);
    assert!(
        refused.stderr.contains("not an administrator"),
        "{}",
        refused.stderr
    );
    assert_eq!(ws.read("chain.json"), before);
    ws.signed_ok("new.key", &["membership", "add", "--card", &card]);
    ws.ok(&["membership", "verify", "--chain", "chain.json"]);
}

#[test]
fn catalog_entries_are_added_and_listed() {
    let ws = Workspace::new();
    ws.federation();
    let sign = ["--chain", "chain.json", "--admin-key", "admin.key"];
    let with = |args: &[&str]| -> Vec<String> {
        args.iter()
            .chain(sign.iter())
            .map(|s| s.to_string())
            .collect()
    };
    let run = |args: Vec<String>| {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        ws.fedctl(&refs)
    };
    assert_eq!(
        run(with(&[
            "catalog",
            "add-framework",
            "--name",
            "MR-004",
            "--url",
            "https://www.cnil.fr/mr-004"
        ]))
        .code,
        0
    );
    assert_eq!(
        run(with(&["catalog", "add-entity-type", "--name", "Hospital"])).code,
        0
    );
    assert_eq!(
        run(with(&[
            "catalog",
            "add-entity",
            "--name",
            "Necker",
            "--type",
            "hospital"
        ]))
        .code,
        0
    );
    // An entity of an unknown type and a duplicate id are refused.
    let unknown = run(with(&[
        "catalog",
        "add-entity",
        "--name",
        "Lab X",
        "--type",
        "laboratory",
    ]));
    assert_eq!(unknown.code, 1);
    assert!(unknown.stderr.contains("laboratory"), "{}", unknown.stderr);
    let dup = run(with(&["catalog", "add-framework", "--name", "MR 004"]));
    assert_eq!(dup.code, 1);
    assert!(dup.stderr.contains("--replace"), "{}", dup.stderr);
    assert_eq!(
        run(with(&[
            "catalog",
            "add-framework",
            "--name",
            "MR 004",
            "--replace"
        ]))
        .code,
        0
    );

    let show = ws
        .ok(&["catalog", "show", "--chain", "chain.json", "--json"])
        .json();
    assert_eq!(show["frameworks"][0]["id"], "mr-004");
    assert_eq!(show["frameworks"][0]["name"], "MR 004");
    assert_eq!(show["entities"][0]["entity_type"], "hospital");
    ws.ok(&["membership", "verify", "--chain", "chain.json"]);
}
