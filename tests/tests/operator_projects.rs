//! The operator's `fedctl projects|exports|events` against two real nodes: the same work
//! as through the API, with `--json` answers and exit codes (1 for what a node refuses).

use fed_e2e::{wait_until, Admin, TestNode};
use serde_json::Value;

fn ok(node: &TestNode, root: &std::path::Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = node.fedctl(root, &all);
    assert_eq!(out.code, 0, "fedctl {args:?}: {}", out.stderr);
    out.json()
}

#[test]
fn projects_and_an_export_request_through_fedctl() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    admin.sign(&[
        "catalog",
        "add-framework",
        "--name",
        "MR-004",
        "--id",
        "mr-004",
    ]);
    let (_, nodes) = admin.start_members(&["alpha", "beta"]);
    let [a, b]: [TestNode; 2] = nodes.try_into().unwrap_or_else(|_| panic!("2 nodes"));
    let fed = admin.federation();
    let f = fed.as_str();

    let created = ok(
        &a,
        root,
        &[
            "projects",
            "create",
            "--federation",
            f,
            "--code",
            "CLI-1",
            "--name",
            "From the CLI",
            "--framework",
            "mr-004",
            "--member",
            "Ada Lovelace <ada@example.org> PI",
        ],
    );
    let project = created["id"].as_str().expect("id").to_string();
    assert_eq!(created["members"][0]["email"], "ada@example.org");
    ok(
        &a,
        root,
        &[
            "projects",
            "share",
            "--federation",
            f,
            "--project",
            &project,
            "--platform",
            &b.platform_id,
            "--access",
            "read",
        ],
    );
    wait_until("beta lists the project", || {
        ok(&b, root, &["projects", "list", "--federation", f])["projects"]
            .as_array()
            .is_some_and(|l| l.len() == 1)
    });
    // A read-only recipient's edit is refused by the node: exit 1, the reason on stderr.
    let refused = b.fedctl(
        root,
        &[
            "projects",
            "update",
            "--federation",
            f,
            "--project",
            &project,
            "--name",
            "Mine now",
        ],
    );
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("read"), "{}", refused.stderr);

    // The live feed at beta sees the request arrive.
    let feed_dir = b.dir.display().to_string();
    let bin = fed_e2e::bin("fedctl");
    let feed = std::process::Command::new(bin)
        .args([
            "--data-dir",
            &feed_dir,
            "events",
            "--federation",
            f,
            "--count",
            "1",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("events");
    wait_until("fedctl reads the feed", || {
        b.get("/v1/status")["event_readers"] == 1
    });
    let export = ok(
        &a,
        root,
        &[
            "exports",
            "create",
            "--federation",
            f,
            "--provider",
            &b.platform_id,
            "--project",
            &project,
            "--title",
            "CLI extract",
            "--variable",
            "age",
            "--pseudonymised",
        ],
    );
    let id = export["id"].as_str().expect("id").to_string();
    let fed_out = feed.wait_with_output().expect("feed ends after one event");
    let line = String::from_utf8_lossy(&fed_out.stdout);
    let event: Value = serde_json::from_str(line.trim()).unwrap_or(Value::Null);
    assert_eq!(event["document"], id.as_str(), "{line}");

    ok(
        &a,
        root,
        &["exports", "submit", "--federation", f, "--export", &id],
    );
    wait_until("beta reads it submitted", || {
        ok(
            &b,
            root,
            &["exports", "show", "--federation", f, "--export", &id],
        )["state"]
            == "submitted"
    });
    // The requester cannot approve its own request.
    let wrong = a.fedctl(
        root,
        &["exports", "approve", "--federation", f, "--export", &id],
    );
    assert_eq!(wrong.code, 1, "{}", wrong.stderr);
    ok(
        &b,
        root,
        &[
            "exports",
            "approve",
            "--federation",
            f,
            "--export",
            &id,
            "--conditions",
            "aggregates only",
        ],
    );
    ok(
        &b,
        root,
        &["exports", "prepare", "--federation", f, "--export", &id],
    );
    let delivered = ok(
        &b,
        root,
        &[
            "exports",
            "deliver",
            "--federation",
            f,
            "--export",
            &id,
            "--reference",
            "sftp://beta/1",
        ],
    );
    assert_eq!(delivered["state"], "delivered");
    wait_until("alpha reads it delivered", || {
        ok(
            &a,
            root,
            &["exports", "list", "--federation", f, "--state", "delivered"],
        )["exports"]
            .as_array()
            .is_some_and(|l| l.len() == 1)
    });
    ok(
        &a,
        root,
        &["exports", "close", "--federation", f, "--export", &id],
    );
    let text = a.fedctl(
        root,
        &["exports", "show", "--federation", f, "--export", &id],
    );
    assert_eq!(text.code, 0);
    assert!(
        text.stdout.contains("closed") && text.stdout.contains("aggregates only"),
        "{}",
        text.stdout
    );
}
