//! The projects, exports and events commands through the `fedctl` binary, without a node:
//! their help, the values they refuse before any request, and what they send to and print
//! from a stand-in that answers like the node's API.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use fed_crdt::ids::{ChangeHash, DocId, DocKind, FederationId, PlatformId};
use serde_json::{json, Value};

/// One `fedctl` run.
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

/// Runs fedctl in `dir` (which holds the token file `tok`).
fn fedctl(dir: &std::path::Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_fedctl"))
        .args(args)
        .current_dir(dir)
        .env_remove("FEDNODE_DATA_DIR")
        .env_remove("FEDCTL_API")
        .env_remove("FEDCTL_TOKEN_FILE")
        .output()
        .expect("run fedctl");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A scratch directory with a token file, for commands that need an API to resolve.
fn scratch() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("tok"), "secret\n").expect("token");
    dir
}

/// A request as the stand-in received it.
#[derive(Debug)]
struct Seen {
    method: String,
    path: String,
    auth: String,
    body: Value,
}

/// Reads one HTTP request (head, then a body of `Content-Length` bytes).
fn read_request(stream: &TcpStream) -> Seen {
    let mut reader = BufReader::new(stream.try_clone().expect("clone"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("request line");
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let path = parts.next().unwrap_or_default().to_string();
    let (mut length, mut auth) = (0usize, String::new());
    loop {
        line.clear();
        reader.read_line(&mut line).expect("header");
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().expect("length"),
                "authorization" => auth = value.trim().to_string(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).expect("body");
    Seen {
        method,
        path,
        auth,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    }
}

/// A stand-in API answering each connection in turn with the next `(status, body)`; the
/// requests it received arrive on the channel.
fn stand_in(answers: Vec<(u16, Value)>) -> (String, mpsc::Receiver<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (status, body) in answers {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let _ = tx.send(read_request(&stream));
            let body = body.to_string();
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    (url, rx)
}

fn next(rx: &mpsc::Receiver<Seen>) -> Seen {
    rx.recv_timeout(Duration::from_secs(10))
        .expect("a request reached the stand-in")
}

const FED: &str = "ab12";

#[test]
fn help_lists_the_new_commands() {
    let dir = scratch();
    let top = fedctl(dir.path(), &["--help"]);
    for command in ["projects", "exports", "events"] {
        assert!(top.stdout.contains(command), "{command}: {}", top.stdout);
    }
    let projects = fedctl(dir.path(), &["projects", "--help"]);
    for command in [
        "list",
        "show",
        "create",
        "update",
        "share",
        "unshare",
        "delete",
        "recipients",
        "frameworks",
        "entity-types",
        "entities",
    ] {
        assert!(projects.stdout.contains(command), "{command}");
    }
    let exports = fedctl(dir.path(), &["exports", "--help"]);
    for command in [
        "list",
        "show",
        "create",
        "amend",
        "transition",
        "submit",
        "cancel",
        "close",
        "approve",
        "reject",
        "request-info",
        "prepare",
        "deliver",
        "revoke",
    ] {
        assert!(exports.stdout.contains(command), "{command}");
    }
    assert_eq!((top.code, projects.code, exports.code), (0, 0, 0));
}

#[test]
fn bad_values_exit_2_naming_the_flag_and_what_is_allowed() {
    let dir = scratch();
    let project = ["--federation", FED, "--project", "project:1"];
    let export = ["--federation", FED, "--export", "export:1"];
    let cases: Vec<(Vec<&str>, &str, &[&str])> = vec![
        (
            [
                &["projects", "share"][..],
                &project,
                &["--platform", "p", "--access", "admin"],
            ]
            .concat(),
            "--access",
            &["read", "write"],
        ),
        (
            [
                &["exports", "transition"][..],
                &export,
                &["--to", "nowhere"],
            ]
            .concat(),
            "--to",
            &[
                "submitted",
                "information_requested",
                "approved_with_conditions",
            ],
        ),
        (
            vec!["exports", "list", "--federation", FED, "--state", "bogus"],
            "--state",
            &["draft", "in_preparation", "revoked"],
        ),
        (
            vec!["exports", "list", "--federation", FED, "--role", "admin"],
            "--role",
            &["requester", "provider"],
        ),
        (
            [&["projects", "update"][..], &project, &["--member", "Ada"]].concat(),
            "--member",
            &["Name <email>"],
        ),
        (vec!["events", "--count", "0"], "--count", &["1"]),
        (
            [&["exports", "deliver"][..], &export].concat(),
            "--reference",
            &[],
        ),
    ];
    for (args, flag, allowed) in cases {
        let run = fedctl(dir.path(), &args);
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains(flag), "{args:?}: {}", run.stderr);
        for value in allowed {
            assert!(run.stderr.contains(value), "{args:?}: {}", run.stderr);
        }
    }
}

#[test]
fn what_is_wrong_before_any_request_exits_2() {
    let dir = scratch();
    std::fs::write(dir.path().join("bad.json"), "{ not json").expect("write");
    let api = ["--api", "http://127.0.0.1:9", "--token-file", "tok"];
    let cases: [(Vec<&str>, &str); 3] = [
        (
            ["projects", "update", "--federation", FED, "--project", "p"].to_vec(),
            "nothing to change",
        ),
        (
            [
                "projects",
                "create",
                "--federation",
                FED,
                "--from-file",
                "bad.json",
            ]
            .to_vec(),
            "--from-file bad.json: not JSON",
        ),
        (
            [
                "projects",
                "create",
                "--federation",
                FED,
                "--from-file",
                "none.json",
            ]
            .to_vec(),
            "--from-file none.json: cannot read it",
        ),
    ];
    for (args, message) in cases {
        let all: Vec<&str> = args.iter().chain(&api).copied().collect();
        let run = fedctl(dir.path(), &all);
        assert_eq!(run.code, 2, "{all:?}: {}", run.stderr);
        assert!(run.stderr.contains(message), "{all:?}: {}", run.stderr);
    }
}

#[test]
fn a_node_that_is_not_there_exits_2() {
    let dir = scratch();
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let run = fedctl(
        dir.path(),
        &[
            "projects",
            "list",
            "--federation",
            FED,
            "--api",
            &url,
            "--token-file",
            "tok",
        ],
    );
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("cannot reach fednode"),
        "{}",
        run.stderr
    );
}

/// Project ids as the node writes them.
const P01: &str = "project:01010101010101010101010101010101";
const P02: &str = "project:02020202020202020202020202020202";
const P03: &str = "project:03030303030303030303030303030303";
/// An export request id as the node writes it.
const E01: &str = "export:01010101010101010101010101010101";

/// A platform id as the node writes it.
fn platform_id(seed: u8) -> String {
    fed_crdt::ids::PlatformId::from(&ed25519_dalek::SigningKey::from_bytes(&[seed; 32])).to_string()
}

fn project(id: &str, code: &str, conflicts: &[&str]) -> Value {
    json!({
        "id": id, "owner": platform_id(1), "owner_name": "aphp", "access": "owner",
        "code": code, "name": "Diabetes cohort", "description": "", "start_date": null,
        "end_date": null, "regulatory_frameworks": [], "entities": [], "members": [],
        "shares": [], "deleted": false, "conflicts": conflicts, "heads": [],
    })
}

#[test]
fn projects_list_marks_conflicts_and_prints_one_object_with_json() {
    let dir = scratch();
    let list = json!([project(P01, "DIAB", &[P02]), project(P03, "ONCO", &[]),]);
    let (url, rx) = stand_in(vec![(200, list.clone()), (200, list)]);
    let api = ["--api", url.as_str(), "--token-file", "tok"];
    let args = ["projects", "list", "--federation", FED];
    let all: Vec<&str> = args.iter().chain(&api).copied().collect();
    let text = fedctl(dir.path(), &all);
    assert_eq!(text.code, 0, "{}", text.stderr);
    let seen = next(&rx);
    assert_eq!(
        (seen.method.as_str(), seen.path.as_str(), seen.auth.as_str()),
        ("GET", "/v1/federations/ab12/projects", "Bearer secret")
    );
    let conflicted: Vec<&str> = text
        .stdout
        .lines()
        .filter(|l| l.ends_with("CONFLICT"))
        .collect();
    assert_eq!(conflicted.len(), 1, "{}", text.stdout);
    assert!(conflicted[0].starts_with(P01), "{}", text.stdout);

    let all: Vec<&str> = all.into_iter().chain(["--json"]).collect();
    let json = fedctl(dir.path(), &all);
    assert_eq!(json.code, 0, "{}", json.stderr);
    assert_eq!(json.stdout.lines().count(), 1, "{}", json.stdout);
    let value: Value = serde_json::from_str(&json.stdout).expect("JSON");
    assert_eq!(value["projects"][0]["conflicts"][0], P02);
}

#[test]
fn update_patches_only_the_fields_given() {
    let dir = scratch();
    let (url, rx) = stand_in(vec![(200, project(P01, "DIAB2", &[]))]);
    let run = fedctl(
        dir.path(),
        &[
            "projects",
            "update",
            "--federation",
            FED,
            "--project",
            P01,
            "--code",
            "DIAB2",
            "--clear-start-date",
            "--api",
            &url,
            "--token-file",
            "tok",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen = next(&rx);
    assert_eq!(seen.method, "PATCH");
    assert_eq!(seen.path, format!("/v1/federations/ab12/projects/{P01}"));
    assert_eq!(seen.body, json!({"code": "DIAB2", "start_date": ""}));
    assert!(
        run.stdout.starts_with(&format!("updated {P01}")),
        "{}",
        run.stdout
    );
}

fn export_entry(title: &str) -> Value {
    json!({
        "id": E01, "role": "requester", "requester": platform_id(1),
        "requester_name": "aphp", "provider": platform_id(2), "provider_name": "hcl",
        "project": P01, "project_code": "DIAB",
        "request": {
            "title": title, "dataset": "Stays", "variables": ["age"],
            "period_start": "2020-01-01", "period_end": null, "population": "Adults",
            "purpose": "Study", "legal_basis": "MR-004", "pseudonymised": true,
            "delivery_mode": "sftp",
        },
        "state": "draft", "conditions": null, "delivery_reference": null,
        "next": ["submitted", "cancelled"],
        "history": [{"from": null, "to": "draft", "author": platform_id(1), "at_ms": 0,
                     "comment": "", "conditions": "", "reference": "", "applied": true}],
        "heads": [],
    })
}

#[test]
fn amend_starts_from_the_current_request() {
    let dir = scratch();
    let (url, rx) = stand_in(vec![
        (200, export_entry("Old title")),
        (200, export_entry("New title")),
    ]);
    let run = fedctl(
        dir.path(),
        &[
            "exports",
            "amend",
            "--federation",
            FED,
            "--export",
            "export:01",
            "--title",
            "New title",
            "--variable",
            "sex",
            "--api",
            &url,
            "--token-file",
            "tok",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(next(&rx).method, "GET");
    let put = next(&rx);
    assert_eq!(
        (put.method.as_str(), put.path.as_str()),
        ("PUT", "/v1/federations/ab12/exports/export:01/request")
    );
    let mut expected = export_entry("New title")["request"].clone();
    expected["variables"] = json!(["sex"]);
    assert_eq!(put.body, expected);
    assert!(
        run.stdout.contains("submitted, cancelled"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("1970-01-01 00:00:00Z"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_step_the_node_refuses_exits_1() {
    let dir = scratch();
    let refusal = json!({"error": {"code": "forbidden", "message": "only the provider approves"}});
    let (url, rx) = stand_in(vec![(403, refusal)]);
    let run = fedctl(
        dir.path(),
        &[
            "exports",
            "approve",
            "--federation",
            FED,
            "--export",
            "export:01",
            "--conditions",
            "Aggregates only",
            "--api",
            &url,
            "--token-file",
            "tok",
            "--json",
        ],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let seen = next(&rx);
    assert_eq!(
        seen.path,
        "/v1/federations/ab12/exports/export:01/transitions"
    );
    assert_eq!(
        seen.body,
        json!({"to": "approved_with_conditions", "conditions": "Aggregates only"})
    );
    assert!(
        run.stderr.contains("only the provider approves"),
        "{}",
        run.stderr
    );
    let value: Value = serde_json::from_str(run.stdout.trim()).expect("JSON error");
    assert_eq!(value["error"]["kind"], "refused");
    assert_eq!(value["error"]["code"], "forbidden");
}

#[test]
fn events_print_json_lines_and_stop_after_count() {
    let dir = scratch();
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let _ = tx.send(read_request(&stream));
        let change = |n: u8| {
            let event = json!({
                "federation": FederationId([0xab; 32]),
                "document": DocId::random(DocKind::Export, [n; 16]),
                "kind": "export",
                "change": ChangeHash([n; 32]),
                "author": PlatformId::from(&SigningKey::from_bytes(&[n; 32])),
            });
            format!("event: change\ndata: {event}\n\n")
        };
        let feed = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n:\n\n{}event: lagged\ndata: 4\n\n{}{}",
            change(1),
            change(2),
            change(3)
        );
        let _ = stream.write_all(feed.as_bytes());
        // The feed stays open, as the node's does: fedctl must stop on its own.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
        let _ = stream.read(&mut [0; 64]);
    });
    let run = fedctl(
        dir.path(),
        &[
            "events",
            "--federation",
            FED,
            "--count",
            "2",
            "--json",
            "--api",
            &url,
            "--token-file",
            "tok",
        ],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    let seen = next(&rx);
    assert_eq!(seen.path, "/v1/events?federation=ab12");
    let lines: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 3, "{}", run.stdout);
    let document = |n: u8| DocId::random(DocKind::Export, [n; 16]).to_string();
    assert_eq!(lines[0]["document"], document(1));
    assert_eq!(lines[1], json!({"lagged": 4}));
    assert_eq!(lines[2]["document"], document(2));
}
