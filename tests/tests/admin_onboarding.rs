//! The onboarding story end to end, with the real binaries: platforms create their
//! identities with `fednode`, hand their cards to the administrator, who admits them
//! with `fedctl` offline; anyone can then verify the chain.

use fed_e2e::run;

#[test]
fn platforms_are_onboarded_from_their_identity_cards() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();

    // Two platforms initialise their nodes.
    let init = run(
        "fednode",
        d,
        &[
            "init",
            "--data-dir",
            "aphp",
            "--name",
            "AP-HP",
            "--operator",
            "EDS AP-HP",
            "--address",
            "/ip4/127.0.0.1/tcp/4001",
        ],
    );
    assert_eq!(init.code, 0, "{}", init.stderr);
    let card = init.json();
    let aphp = card["platform_id"]
        .as_str()
        .expect("platform_id")
        .to_string();
    assert!(aphp.starts_with("12D3KooW"), "{aphp}");
    assert_eq!(card["name"], "AP-HP");
    assert_eq!(card["addresses"][0], "/ip4/127.0.0.1/tcp/4001");
    assert_eq!(card["encryption_key"].as_str().map(str::len), Some(64));
    assert_eq!(
        run(
            "fednode",
            d,
            &["init", "--data-dir", "hcl", "--name", "HCL"]
        )
        .code,
        0
    );

    // `fednode id` prints the same card again; a second init refuses and keeps it.
    let again = run("fednode", d, &["id", "--data-dir", "aphp"]);
    assert_eq!(again.json(), card);
    let twice = run(
        "fednode",
        d,
        &["init", "--data-dir", "aphp", "--name", "Other"],
    );
    assert_eq!(twice.code, 2);
    assert!(
        twice.stderr.contains("refusing to overwrite"),
        "{}",
        twice.stderr
    );
    assert_eq!(
        run("fednode", d, &["id", "--data-dir", "aphp"]).json(),
        card
    );

    // Secret keys are readable by their owner only.
    #[cfg(unix)]
    for file in ["aphp/platform.key", "aphp/encryption.key"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(d.join(file))
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{file}");
    }

    // The administrator creates the federation and admits both.
    assert_eq!(
        run("fedctl", d, &["key", "new", "--out", "admin.key"]).code,
        0
    );
    let fed = run(
        "fedctl",
        d,
        &[
            "federation",
            "new",
            "--name",
            "Registry",
            "--admin-key",
            "admin.key",
            "--out",
            "chain.json",
            "--json",
        ],
    );
    assert_eq!(fed.code, 0, "{}", fed.stderr);
    for (card, rights) in [
        ("aphp/identity.card.json", "all"),
        ("hcl/identity.card.json", "read,request_exports"),
    ] {
        let add = run(
            "fedctl",
            d,
            &[
                "membership",
                "add",
                "--chain",
                "chain.json",
                "--admin-key",
                "admin.key",
                "--card",
                card,
                "--rights",
                rights,
            ],
        );
        assert_eq!(add.code, 0, "{}", add.stderr);
    }
    let verify = run(
        "fedctl",
        d,
        &["membership", "verify", "--chain", "chain.json", "--json"],
    );
    assert_eq!(verify.code, 0, "{}", verify.stderr);
    assert_eq!(verify.json()["records"], 3);

    let show = run(
        "fedctl",
        d,
        &["membership", "show", "--chain", "chain.json", "--json"],
    )
    .json();
    let members = show["members"].as_array().expect("members");
    let aphp_row = members
        .iter()
        .find(|m| m["platform_id"] == aphp.as_str())
        .expect("AP-HP admitted");
    assert_eq!(aphp_row["operator"], "EDS AP-HP");
    assert_eq!(aphp_row["status"], "active");

    // A card whose encryption key was swapped on its way to the administrator is refused.
    let mut forged = card.clone();
    forged["encryption_key"] = serde_json::json!("11".repeat(32));
    std::fs::write(d.join("forged.card.json"), forged.to_string()).expect("write card");
    let fresh = run(
        "fedctl",
        d,
        &[
            "federation",
            "new",
            "--name",
            "Other",
            "--admin-key",
            "admin.key",
            "--out",
            "other.json",
        ],
    );
    assert_eq!(fresh.code, 0, "{}", fresh.stderr);
    let refused = run(
        "fedctl",
        d,
        &[
            "membership",
            "add",
            "--chain",
            "other.json",
            "--admin-key",
            "admin.key",
            "--card",
            "forged.card.json",
        ],
    );
    assert_ne!(refused.code, 0);
    assert!(
        refused.stderr.contains("not signed by that platform"),
        "{}",
        refused.stderr
    );
}

#[test]
fn fednode_id_without_identity_says_how_to_create_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = run("fednode", dir.path(), &["id", "--data-dir", "nowhere"]);
    assert_eq!(out.code, 2);
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("fednode init"), "{}", out.stderr);
}
