//! Attacks on a chain file and bad input, through the `fedctl` binary: every edit of a
//! signed field is caught and named; bad input fails in one line and changes nothing.

mod util;

use serde_json::{json, Value};
use util::Workspace;

/// A chain of 5 records: genesis, two platforms, a catalog entry, a revocation.
fn five_record_chain() -> (Workspace, String) {
    let ws = Workspace::new();
    ws.federation();
    let (card_a, _) = ws.platform("aphp");
    let (card_b, id_b) = ws.platform("hcl");
    let sign = ["--chain", "chain.json", "--admin-key", "admin.key"];
    let go = |args: &[&str]| {
        let all: Vec<&str> = args.iter().chain(sign.iter()).copied().collect();
        ws.ok(&all);
    };
    go(&[
        "membership",
        "add",
        "--card",
        &card_a,
        "--expires",
        "2099-01-01T00:00:00Z",
    ]);
    go(&["membership", "add", "--card", &card_b, "--rights", "read"]);
    go(&["catalog", "add-entity-type", "--name", "Hospital"]);
    go(&["membership", "revoke", "--platform", &id_b]);
    ws.ok(&["membership", "verify", "--chain", "chain.json"]);
    (ws, id_b)
}

/// Applies `edit` to the chain file, runs verify, and returns (exit code, JSON output).
fn verify_after(ws: &Workspace, original: &Value, edit: impl FnOnce(&mut Value)) -> (i32, Value) {
    let mut chain = original.clone();
    edit(&mut chain);
    ws.set_chain(&chain);
    let run = ws.fedctl(&["membership", "verify", "--chain", "chain.json", "--json"]);
    assert_eq!(
        run.stderr.lines().count(),
        1,
        "one-line error expected: {}",
        run.stderr
    );
    (run.code, run.json())
}

fn flip_hex(s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    let last = chars.len() - 1;
    chars[last] = if chars[last] == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

/// An edit of a chain file's JSON.
type Edit = Box<dyn Fn(&mut Value)>;

#[test]
fn every_signed_field_edit_is_named_by_its_record() {
    let (ws, _) = five_record_chain();
    let original = ws.chain();
    let other_hash = original["records"][1]["prev"].clone();
    let cases: Vec<(&str, usize, Edit)> = vec![
        (
            "genesis name",
            0,
            Box::new(|c| c["records"][0]["body"]["name"] = json!("Evil federation")),
        ),
        (
            "platform name",
            1,
            Box::new(|c| c["records"][1]["body"]["card"]["name"] = json!("Evil")),
        ),
        (
            "encryption key",
            2,
            Box::new(|c| {
                let k = c["records"][2]["body"]["card"]["encryption_key"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                c["records"][2]["body"]["card"]["encryption_key"] = json!(flip_hex(&k));
            }),
        ),
        (
            "a right",
            2,
            Box::new(|c| c["records"][2]["body"]["rights"] = json!(["read", "write_projects"])),
        ),
        (
            "an expiry",
            1,
            Box::new(|c| c["records"][1]["body"]["expires_at"] = json!("2199-01-01T00:00:00Z")),
        ),
        (
            "no expiry",
            1,
            Box::new(|c| c["records"][1]["body"]["expires_at"] = Value::Null),
        ),
        ("a seq", 3, Box::new(|c| c["records"][3]["seq"] = json!(7))),
        (
            "a prev hash",
            3,
            Box::new(move |c| c["records"][3]["prev"] = other_hash.clone()),
        ),
        (
            "issued_at",
            4,
            Box::new(|c| c["records"][4]["issued_at"] = json!("2099-01-01T00:00:00Z")),
        ),
        (
            "a signature",
            4,
            Box::new(|c| {
                let s = c["records"][4]["signatures"][0]["signature"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                c["records"][4]["signatures"][0]["signature"] = json!(flip_hex(&s));
            }),
        ),
        (
            "a catalog name",
            3,
            Box::new(|c| c["records"][3]["body"]["entity_types"][0]["name"] = json!("Prison")),
        ),
        (
            "the threshold",
            0,
            Box::new(|c| c["records"][0]["body"]["threshold"] = json!(2)),
        ),
        (
            "a signature removed",
            2,
            Box::new(|c| c["records"][2]["signatures"] = json!([])),
        ),
    ];
    for (what, index, edit) in cases {
        let (code, out) = verify_after(&ws, &original, edit);
        assert_eq!(code, 1, "{what}: expected refusal, got {out}");
        assert_eq!(
            out["error"]["first_bad_record"]["index"], index,
            "{what}: wrong record named: {out}"
        );
    }
}

#[test]
fn reordered_dropped_and_replayed_records_are_refused() {
    let (ws, _) = five_record_chain();
    let original = ws.chain();

    let (code, out) = verify_after(&ws, &original, |c| {
        if let Some(r) = c["records"].as_array_mut() {
            r.swap(2, 3);
        }
    });
    assert_eq!(
        (code, out["error"]["first_bad_record"]["index"].clone()),
        (1, json!(2)),
        "{out}"
    );

    let (code, out) = verify_after(&ws, &original, |c| {
        if let Some(r) = c["records"].as_array_mut() {
            r.remove(2);
        }
    });
    assert_eq!(
        (code, out["error"]["first_bad_record"]["index"].clone()),
        (1, json!(2)),
        "{out}"
    );

    // A record of another federation (same admin key) spliced in.
    let other = Workspace::new();
    std::fs::copy(ws.path("admin.key"), other.path("admin.key")).expect("copy key");
    other.ok(&[
        "federation",
        "new",
        "--name",
        "Other",
        "--admin-key",
        "admin.key",
        "--out",
        "chain.json",
    ]);
    let (card, _) = other.platform("intruder");
    other.signed_ok("admin.key", &["membership", "add", "--card", &card]);
    let foreign = other.chain()["records"][1].clone();
    let (code, out) = verify_after(&ws, &original, |c| {
        if let Some(r) = c["records"].as_array_mut() {
            r.push(foreign.clone());
        }
    });
    assert_eq!(code, 1, "{out}");
    assert_eq!(out["error"]["first_bad_record"]["index"], 5);
    assert!(
        out["error"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("federation"),
        "{out}"
    );
}

#[test]
fn a_record_signed_by_a_non_admin_is_refused() {
    let (ws, _) = five_record_chain();
    // Build a valid-looking record with an outsider's key, as a copy of the chain.
    ws.admin_key("outsider.key");
    let original = ws.chain();
    let mut forged = original.clone();
    // Make the outsider an "admin" in a private copy, sign there, and splice the record back.
    let (card, _) = ws.platform("extra");
    let refused = ws.signed("outsider.key", &["membership", "add", "--card", &card]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("not an administrator"),
        "{}",
        refused.stderr
    );
    assert_eq!(ws.chain(), original);
    // Replace the issuer and signature of record 4 with the outsider's key.
    let outsider = ws
        .ok(&["key", "public", "--key", "outsider.key", "--json"])
        .json()["public_key"]
        .clone();
    forged["records"][4]["issuer"] = outsider.clone();
    forged["records"][4]["signatures"][0]["admin"] = outsider;
    let (code, out) = verify_after(&ws, &original, |c| *c = forged.clone());
    assert_eq!(code, 1);
    assert_eq!(out["error"]["first_bad_record"]["index"], 4);
    assert!(
        out["error"]["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("not an administrator"),
        "{out}"
    );
}

#[test]
fn an_unsigned_extra_field_is_refused() {
    let (ws, _) = five_record_chain();
    let original = ws.chain();
    let mut chain = original.clone();
    chain["records"][2]["body"]["note"] = json!("admin approved everything");
    ws.set_chain(&chain);
    let run = ws.fedctl(&["membership", "verify", "--chain", "chain.json"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("record #2"), "{}", run.stderr);
    assert!(run.stderr.contains("note"), "{}", run.stderr);
}

fn assert_one_line_failure(run: &util::Run, needle: &str) {
    assert_ne!(run.code, 0, "expected failure");
    assert_eq!(
        run.stderr.lines().count(),
        1,
        "one line expected: {}",
        run.stderr
    );
    assert!(run.stderr.starts_with("fedctl: "), "{}", run.stderr);
    assert!(
        run.stderr.contains(needle),
        "expected `{needle}` in: {}",
        run.stderr
    );
}

#[test]
fn bad_input_fails_in_one_line_and_changes_nothing() {
    let (ws, id_b) = five_record_chain();
    let chain_before = ws.read("chain.json");
    let key_before = ws.read("admin.key");
    let (card, _) = ws.platform("new");

    let run = ws.fedctl(&["membership", "show", "--chain", "missing.json"]);
    assert_one_line_failure(&run, "missing.json");
    assert_eq!(run.code, 2);

    ws.write(
        "broken.json",
        "{\"format\": \"fednet-membership-chain/1\", \"records\": [",
    );
    assert_one_line_failure(
        &ws.fedctl(&["membership", "verify", "--chain", "broken.json"]),
        "broken.json",
    );

    ws.write("other.json", "{\"format\": \"something-else/9\"}");
    assert_one_line_failure(
        &ws.fedctl(&["membership", "verify", "--chain", "other.json"]),
        "something-else/9",
    );

    // An encryption key where a signing key is needed.
    let run = ws.signed(
        "aphp/encryption.key",
        &["membership", "add", "--card", &card],
    );
    assert_one_line_failure(&run, "wrong key type");
    assert_eq!(run.code, 2);

    // An identity card where a key is needed, and a key where a card is needed.
    let run = ws.signed(&card, &["membership", "add", "--card", &card]);
    assert_one_line_failure(&run, "not a key file");
    let run = ws.signed("admin.key", &["membership", "add", "--card", "admin.key"]);
    assert_one_line_failure(&run, "not an identity card");

    // Existing output files are never overwritten.
    assert_one_line_failure(
        &ws.fedctl(&["key", "new", "--out", "admin.key"]),
        "already exists",
    );
    let run = ws.fedctl(&[
        "federation",
        "new",
        "--name",
        "x",
        "--admin-key",
        "admin.key",
        "--out",
        "chain.json",
    ]);
    assert_one_line_failure(&run, "already exists");

    // Malformed values name the flag and what is allowed.
    let run = ws.signed(
        "admin.key",
        &[
            "membership",
            "update",
            "--platform",
            "nope",
            "--rights",
            "read",
        ],
    );
    assert_one_line_failure(&run, "--platform");
    let run = ws.signed(
        "admin.key",
        &[
            "membership",
            "add",
            "--card",
            &card,
            "--rights",
            "read,admin",
        ],
    );
    assert_one_line_failure(&run, "write_projects");
    let run = ws.signed(
        "admin.key",
        &[
            "membership",
            "add",
            "--card",
            &card,
            "--expires",
            "tomorrow",
        ],
    );
    assert_one_line_failure(&run, "RFC 3339");
    let run = ws.signed(
        "admin.key",
        &["membership", "add", "--card", &card, "--role", "admin"],
    );
    assert_one_line_failure(&run, "platform, relay");

    // Refusals by the chain's rules exit 1.
    let run = ws.signed(
        "admin.key",
        &[
            "membership",
            "update",
            "--platform",
            &id_b,
            "--rights",
            "all",
        ],
    );
    assert_one_line_failure(&run, "revoked");
    assert_eq!(run.code, 1);
    let run = ws.signed(
        "admin.key",
        &[
            "membership",
            "add",
            "--card",
            &card,
            "--role",
            "relay",
            "--rights",
            "read",
        ],
    );
    assert_one_line_failure(&run, "relay has no rights");
    assert_eq!(run.code, 1);

    assert_eq!(ws.read("chain.json"), chain_before);
    assert_eq!(ws.read("admin.key"), key_before);
}

#[test]
fn json_errors_are_one_object_on_stdout() {
    let ws = Workspace::new();
    let run = ws.fedctl(&["membership", "show", "--chain", "missing.json", "--json"]);
    assert_eq!(run.code, 2);
    let out = run.json();
    assert_eq!(out["error"]["kind"], "error");
    assert!(out["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .contains("missing.json"));
}
