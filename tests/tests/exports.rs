//! Export requests across real nodes: the whole workflow with each transition made on the
//! node of the platform allowed to make it, illegal transitions refused, the concurrent
//! cancel/approve case, and the live feed telling the provider of a new request.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use fed_e2e::{wait_until, Admin, TestNode};
use serde_json::{json, Value};

struct Pair {
    _tmp: tempfile::TempDir,
    requester: TestNode,
    provider: TestNode,
    fed: String,
    project: String,
}

/// A requester and a provider sharing one project.
fn pair() -> Pair {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path().to_path_buf();
    let admin = Admin::new(&root, "chain.json");
    let (_, nodes) = admin.start_members(&["requester", "provider"]);
    let [requester, provider]: [TestNode; 2] =
        nodes.try_into().unwrap_or_else(|_| panic!("2 nodes"));
    let fed = admin.federation();
    let body = json!({
        "code": "EXP-1", "name": "Export study", "description": "", "start_date": null,
        "end_date": null, "regulatory_frameworks": [], "entities": [], "members": []
    });
    let (status, project) = requester.call(
        "POST",
        &format!("/v1/federations/{fed}/projects"),
        Some(&body.to_string()),
        true,
    );
    assert_eq!(status, 201, "{project}");
    let project = project["id"].as_str().expect("id").to_string();
    let share = json!({"recipients": [{"platform_id": provider.platform_id, "access": "read"}]});
    let (status, _) = requester.call(
        "POST",
        &format!("/v1/federations/{fed}/projects/{project}/share"),
        Some(&share.to_string()),
        true,
    );
    assert_eq!(status, 200);
    wait_until("the provider sees the project", || {
        provider
            .get(&format!("/v1/federations/{fed}/projects"))
            .as_array()
            .is_some_and(|a| a.len() == 1)
    });
    Pair {
        _tmp: tmp,
        requester,
        provider,
        fed,
        project,
    }
}

fn request_body() -> Value {
    json!({
        "title": "Diabetes cohort extract",
        "dataset": "Stays and lab results of adult diabetic patients",
        "variables": ["hba1c", "age", "sex"],
        "period_start": "2020-01-01", "period_end": "2024-12-31",
        "population": "Adults with type 2 diabetes",
        "purpose": "Outcome study", "legal_basis": "MR-004",
        "pseudonymised": true, "delivery_mode": "sftp"
    })
}

impl Pair {
    fn create(&self) -> String {
        let body = json!({"provider": self.provider.platform_id, "project": self.project, "request": request_body()});
        let (status, created) = self.requester.call(
            "POST",
            &format!("/v1/federations/{}/exports", self.fed),
            Some(&body.to_string()),
            true,
        );
        assert_eq!(status, 201, "{created}");
        assert_eq!(created["state"], "draft");
        created["id"].as_str().expect("id").to_string()
    }

    fn path(&self, id: &str) -> String {
        format!("/v1/federations/{}/exports/{id}", self.fed)
    }

    fn transition(&self, node: &TestNode, id: &str, body: Value) -> (u16, Value) {
        node.call(
            "POST",
            &format!("{}/transitions", self.path(id)),
            Some(&body.to_string()),
            true,
        )
    }

    /// Makes a transition that must be accepted, and waits until the other node reads it.
    fn step(&self, node: &TestNode, id: &str, body: Value) {
        let to = body["to"].clone();
        let (status, value) = self.transition(node, id, body);
        assert_eq!(status, 200, "{to}: {value}");
        assert_eq!(value["state"], to);
        for n in [&self.requester, &self.provider] {
            wait_until(&format!("both nodes read {to}"), || {
                n.get(&self.path(id))["state"] == to
            });
        }
    }

    fn refused(&self, node: &TestNode, id: &str, body: Value, status: u16) {
        let before = node.get(&self.path(id));
        let (got, value) = self.transition(node, id, body.clone());
        assert_eq!(got, status, "{body} should be refused: {value}");
        assert!(value["error"]["message"].is_string(), "{value}");
        assert_eq!(
            node.get(&self.path(id))["heads"],
            before["heads"],
            "nothing changed"
        );
    }
}

#[test]
fn the_export_workflow_runs_across_two_platforms_and_refuses_illegal_steps() {
    let p = pair();
    let (req, prov) = (&p.requester, &p.provider);
    let id = p.create();
    wait_until("the provider sees the request", || {
        prov.call("GET", &p.path(&id), None, true).0 == 200
    });
    let seen = prov.get(&p.path(&id));
    assert_eq!(seen["role"], "provider");
    assert_eq!(seen["request"], request_body());
    assert_eq!(seen["project_code"], "EXP-1");

    // Illegal: the provider submits; the requester approves; skipping states.
    p.refused(prov, &id, json!({"to": "submitted"}), 403);
    p.refused(req, &id, json!({"to": "approved"}), 403);
    p.refused(req, &id, json!({"to": "delivered", "reference": "x"}), 403);
    p.step(req, &id, json!({"to": "submitted", "comment": "please"}));
    p.step(
        prov,
        &id,
        json!({"to": "information_requested", "comment": "which years?"}),
    );
    // Answering may amend the request.
    let mut amended = request_body();
    amended["period_start"] = json!("2021-01-01");
    let (status, value) = req.call(
        "PUT",
        &format!("{}/request", p.path(&id)),
        Some(&amended.to_string()),
        true,
    );
    assert_eq!(status, 200, "{value}");
    p.step(
        req,
        &id,
        json!({"to": "submitted", "comment": "2021 onwards"}),
    );
    let (status, _) = req.call(
        "PUT",
        &format!("{}/request", p.path(&id)),
        Some(&request_body().to_string()),
        true,
    );
    assert!(
        status == 403 || status == 422,
        "no amending once submitted: {status}"
    );
    p.refused(prov, &id, json!({"to": "approved_with_conditions"}), 422);
    p.step(
        prov,
        &id,
        json!({"to": "approved_with_conditions", "conditions": "no free text fields"}),
    );
    p.refused(prov, &id, json!({"to": "cancelled"}), 403);
    p.step(prov, &id, json!({"to": "in_preparation"}));
    p.refused(prov, &id, json!({"to": "delivered"}), 422);
    p.step(
        prov,
        &id,
        json!({"to": "delivered", "reference": "sftp://exports/42"}),
    );
    p.refused(req, &id, json!({"to": "cancelled"}), 403);
    p.step(req, &id, json!({"to": "closed", "comment": "received"}));

    for n in [req, prov] {
        let got = n.get(&p.path(&id));
        assert_eq!(got["request"]["period_start"], "2021-01-01");
        assert_eq!(got["conditions"], "no free text fields");
        assert_eq!(got["delivery_reference"], "sftp://exports/42");
        let states: Vec<&str> = got["history"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|h| h["to"].as_str())
            .collect();
        assert_eq!(
            states,
            [
                "draft",
                "submitted",
                "information_requested",
                "submitted",
                "approved_with_conditions",
                "in_preparation",
                "delivered",
                "closed"
            ]
        );
    }
    // Filters.
    let listed = |n: &TestNode, q: &str| {
        n.get(&format!("/v1/federations/{}/exports{q}", p.fed))
            .as_array()
            .map_or(0, Vec::len)
    };
    assert_eq!(listed(req, "?role=requester"), 1);
    assert_eq!(listed(req, "?role=provider"), 0);
    assert_eq!(listed(prov, "?state=closed&role=provider"), 1);
    assert_eq!(listed(prov, "?state=draft"), 0);
    let (status, err) = prov.call(
        "GET",
        &format!("/v1/federations/{}/exports?state=bogus", p.fed),
        None,
        true,
    );
    assert_eq!(status, 400);
    assert!(
        err["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("approved_with_conditions"),
        "{err}"
    );
}

#[test]
fn a_cancel_and_an_approval_made_together_end_cancelled_everywhere() {
    let p = pair();
    let id = p.create();
    p.step(&p.requester, &id, json!({"to": "submitted"}));
    // Both at once, on the two nodes.
    let (cancel, approve) = std::thread::scope(|s| {
        let c = s.spawn(|| {
            p.transition(
                &p.requester,
                &id,
                json!({"to": "cancelled", "comment": "no longer needed"}),
            )
        });
        let a = s.spawn(|| p.transition(&p.provider, &id, json!({"to": "approved"})));
        (c.join().expect("cancel"), a.join().expect("approve"))
    });
    assert_eq!(
        cancel.0, 200,
        "the requester may always cancel before delivery: {}",
        cancel.1
    );
    for n in [&p.requester, &p.provider] {
        wait_until("both nodes converge", || {
            let a = p.requester.get(&p.path(&id));
            let b = p.provider.get(&p.path(&id));
            a["heads"] == b["heads"] && n.get(&p.path(&id))["state"] == "cancelled"
        });
    }
    let history = p.provider.get(&p.path(&id))["history"].clone();
    if approve.0 == 200 {
        // Made concurrently: both are in the history, the approval superseded.
        let approval = history
            .as_array()
            .into_iter()
            .flatten()
            .find(|h| h["to"] == "approved")
            .unwrap_or_else(|| panic!("approval kept in the history: {history}"));
        let cancelled_after_approval = history
            .as_array()
            .into_iter()
            .flatten()
            .any(|h| h["to"] == "cancelled" && h["from"] == "approved");
        assert!(
            approval["applied"] == false || cancelled_after_approval,
            "{history}"
        );
    }
    // Nothing moves a cancelled request.
    p.refused(&p.provider, &id, json!({"to": "in_preparation"}), 403);
}

/// Reads server-sent events from a node until `want` events named `change` arrived.
fn read_events(node: &TestNode, query: &str, want: usize) -> std::thread::JoinHandle<Vec<Value>> {
    let addr = node.api.trim_start_matches("http://").to_string();
    let token = node.token.clone();
    let query = query.to_string();
    let mut stream = TcpStream::connect(&addr).expect("connect to the API");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(stream, "GET /v1/events{query} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nAccept: text/event-stream\r\n\r\n").expect("request");
    std::thread::spawn(move || {
        let mut events = Vec::new();
        let mut event = String::new();
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(name) = line.strip_prefix("event: ") {
                event = name.trim().to_string();
            } else if let Some(data) = line.strip_prefix("data: ") {
                if event == "change" {
                    if let Ok(v) = serde_json::from_str::<Value>(data) {
                        events.push(v);
                    }
                }
                if events.len() >= want {
                    break;
                }
            }
        }
        events
    })
}

#[test]
fn the_provider_learns_of_a_new_request_from_the_live_feed() {
    let p = pair();
    let feed = read_events(&p.provider, &format!("?federation={}", p.fed), 1);
    wait_until("the feed is read", || {
        p.provider.get("/v1/status")["event_readers"] == 1
    });
    let id = p.create();
    let events = feed.join().expect("feed");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["document"], id.as_str());
    assert_eq!(events[0]["kind"], "export");
    assert_eq!(events[0]["author"], p.requester.platform_id.as_str());
}
