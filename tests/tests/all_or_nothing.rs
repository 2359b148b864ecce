//! A call answered with an error changes nothing: every recipient, field and step is
//! checked before anything is signed, and a share of several platforms is one change.

use fed_e2e::{minimal_project, wait_until, Admin, TestNode};
use serde_json::{json, Value};

/// Everything a failed call could have left behind, as the owner and the member see it.
fn state(nodes: &[&TestNode], federation: &str) -> Vec<Value> {
    nodes
        .iter()
        .flat_map(|n| {
            [
                n.get(&format!("/v1/federations/{federation}/projects")),
                n.get(&format!("/v1/federations/{federation}/exports")),
                n.get(&format!("/v1/refusals?federation={federation}")),
            ]
        })
        .collect()
}

#[test]
fn no_call_answered_with_an_error_leaves_a_change_behind() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let (_, nodes) = admin.start_members(&["owner", "member"]);
    let [owner, member]: [TestNode; 2] = nodes.try_into().unwrap_or_else(|_| panic!("2 nodes"));
    let federation = admin.federation();
    let outsider_dir = TestNode::init(root, "outsider");
    let card: Value = serde_json::from_str(
        &std::fs::read_to_string(outsider_dir.join("identity.card.json")).expect("card"),
    )
    .expect("card json");
    let outsider = card["platform_id"]
        .as_str()
        .expect("platform id")
        .to_string();

    let body = minimal_project("AON", "All or nothing");
    let project = owner.create_project(&federation, &body);
    let projects = format!("/v1/federations/{federation}/projects");
    let one = format!("{projects}/{project}");
    let share = format!("{one}/share");
    let recipient = |id: &str, access: &str| json!({"platform_id": id, "access": access});
    let failing: Vec<(&str, String, Value, u16)> = vec![
        (
            "POST",
            share.clone(),
            json!({"recipients": [recipient(&member.platform_id, "read"), recipient(&outsider, "read")]}),
            422,
        ),
        (
            "POST",
            share.clone(),
            json!({"recipients": [recipient(&member.platform_id, "read"), recipient(&owner.platform_id, "write")]}),
            422,
        ),
        (
            "POST",
            share.clone(),
            json!({"recipients": [recipient(&member.platform_id, "read"), recipient(&member.platform_id, "write")]}),
            422,
        ),
        (
            "POST",
            share.clone(),
            json!({"recipients": [recipient(&member.platform_id, "read"), {"platform_id": member.platform_id, "access": "all"}]}),
            422,
        ),
        ("PATCH", one.clone(), json!({"name": null}), 422),
        (
            "PATCH",
            one.clone(),
            json!({"name": "Projet\u{202E}txt.exe"}),
            422,
        ),
        ("PATCH", one.clone(), json!({"name": ""}), 422),
        (
            "PATCH",
            one.clone(),
            json!({"name": "ok", "end_date": "not a date"}),
            422,
        ),
        (
            "POST",
            projects.clone(),
            json!({"code": "AON", "name": "Same code", "description": "", "start_date": "2027-01-01", "end_date": "2028-12-31", "regulatory_frameworks": [], "entities": [], "members": []}),
            409,
        ),
    ];
    let before = state(&[&owner, &member], &federation);
    for (method, path, body, expected) in &failing {
        let (status, answer) = owner.call(method, path, Some(&body.to_string()), true);
        assert!(
            status >= 400,
            "{method} {path} {body} was accepted: {answer}"
        );
        assert_eq!(status, *expected, "{method} {path} {body}: {answer}");
        assert_eq!(
            state(&[&owner, &member], &federation),
            before,
            "{method} {path} {body} answered {status} yet changed something"
        );
    }

    // The same share without the bad recipient is made, as one change.
    let (status, answer) = owner.call(
        "POST",
        &share,
        Some(&json!({"recipients": [recipient(&member.platform_id, "read")]}).to_string()),
        true,
    );
    assert_eq!(status, 200, "{answer}");
    wait_until("the member reads the project", || {
        member
            .try_call("GET", &one, None)
            .is_ok_and(|(status, _)| status == 200)
    });
}

/// Every 4xx about a body names the JSON path of the field to blame; only a body that is
/// not JSON at all is `malformed_json`.
#[test]
fn errors_name_the_offending_field() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let (_, nodes) = admin.start_members(&["owner", "member"]);
    let [owner, member]: [TestNode; 2] = nodes.try_into().unwrap_or_else(|_| panic!("2 nodes"));
    let federation = admin.federation();
    let body = minimal_project("FLD", "Fields");
    let project = owner.create_project(&federation, &body);
    let one = format!("/v1/federations/{federation}/projects/{project}");
    let share = format!("{one}/share");
    let profile = format!("/v1/federations/{federation}/platforms/me");
    // (method, path, body, status, code, field named)
    type Case<'a> = (&'a str, &'a str, String, u16, &'a str, Option<&'a str>);
    let cases: Vec<Case> = vec![
        ("POST", &share, r#"{"recipients": "all"}"#.into(), 422, "invalid", Some("recipients")),
        (
            "POST",
            &share,
            json!({"recipients": [{"platform_id": member.platform_id, "access": "read"}, {"platform_id": member.platform_id, "access": "all"}]}).to_string(),
            422,
            "invalid",
            Some("recipients[1].access"),
        ),
        (
            "POST",
            &share,
            json!({"recipients": [{"platform_id": "not-a-platform", "access": "read"}]}).to_string(),
            422,
            "invalid",
            Some("recipients[0].platform_id"),
        ),
        ("PATCH", &one, r#"{"name": null}"#.into(), 422, "invalid", Some("name")),
        ("PATCH", &one, r#"{"colour": "red"}"#.into(), 422, "invalid", Some("colour")),
        ("PUT", &profile, r#"{"display_name": "X", "description": "", "addresses": []}"#.into(), 422, "invalid", Some("contact")),
        ("PATCH", &one, r#"{"name": "x""#.into(), 400, "malformed_json", None),
        ("PATCH", &one, "not json".into(), 400, "malformed_json", None),
    ];
    for (method, path, body, status, code, field) in cases {
        let (got, answer) = owner.call(method, path, Some(&body), true);
        assert_eq!(got, status, "{method} {path} {body}: {answer}");
        assert_eq!(answer["error"]["code"], code, "{body}: {answer}");
        match field {
            Some(field) => assert_eq!(answer["error"]["field"], field, "{body}: {answer}"),
            None => assert!(answer["error"].get("field").is_none(), "{body}: {answer}"),
        }
    }
}

/// The writer checks its own change before anything is stored: a deleted project answers
/// 409, an ended membership 403 naming when it ended, and the refusal log stays empty
/// (it is for changes other platforms send).
#[test]
fn own_writes_that_would_be_refused_are_answered_and_never_recorded() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let owner_dir = TestNode::init(root, "owner");
    let brief_dir = TestNode::init(root, "brief");
    let expires = fed_crdt::Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            + 8,
    );
    admin.admit(&owner_dir, &[]);
    admin.admit(&brief_dir, &["--expires", &expires.to_string()]);
    let owner = TestNode::start(&owner_dir, &[]);
    let brief = TestNode::start(&brief_dir, &[&owner.bootstrap]);
    admin.join(&owner);
    admin.join(&brief);
    let federation = admin.federation();
    let refusals = format!("/v1/refusals?federation={federation}");

    let body = minimal_project("DEL", "To delete");
    let project = owner.create_project(&federation, &body);
    let one = format!("/v1/federations/{federation}/projects/{project}");
    let (status, answer) = owner.call("DELETE", &one, None, true);
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = owner.call("PATCH", &one, Some(r#"{"name": "again"}"#), true);
    assert_eq!(status, 409, "{answer}");
    assert_eq!(answer["error"]["code"], "deleted", "{answer}");

    let profile = format!("/v1/federations/{federation}/platforms/me");
    let body = json!({"display_name": "Brief", "description": "", "contact": "", "addresses": []});
    wait_until("the brief membership has expired", || {
        let (status, _) = brief.call("PUT", &profile, Some(&body.to_string()), true);
        status == 403
    });
    let (status, answer) = brief.call("PUT", &profile, Some(&body.to_string()), true);
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "membership_ended", "{answer}");
    let message = answer["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains(&expires.to_string()), "{message}");
    // The operator sees it in the status, through the API and fedctl.
    let status = brief.get("/v1/status");
    assert_eq!(
        status["federations"][0]["membership"],
        format!("expired at {expires}"),
        "{status}"
    );
    let shown = brief.fedctl(root, &["status"]);
    assert_eq!(shown.code, 0, "{}", shown.stderr);
    assert!(
        shown
            .stdout
            .contains(&format!("this platform: expired at {expires}")),
        "{}",
        shown.stdout
    );
    assert_eq!(
        owner.get("/v1/status")["federations"][0]["membership"],
        "active"
    );

    assert_eq!(
        owner.get(&refusals),
        json!([]),
        "the owner recorded nothing"
    );
    assert_eq!(
        brief.get(&refusals),
        json!([]),
        "the expired platform recorded nothing"
    );
}
