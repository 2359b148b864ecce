//! Every route the OpenAPI document lists is served by the router, with the method it
//! names, and answers JSON (a wrong id or body gets a JSON error, never the fallback).

use fed_e2e::TestNode;

#[test]
fn every_documented_route_is_served() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = TestNode::init(tmp.path(), "routes");
    let node = TestNode::start(&dir, &[]);
    let (status, doc) = node.call("GET", "/openapi.json", None, false);
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().expect("paths");
    assert!(paths.len() >= 20, "{} paths", paths.len());
    let federation = "ab".repeat(32);
    let mut checked = 0;
    for (path, ops) in paths {
        // The live feed streams forever; it has its own test.
        if path == "/v1/events" {
            continue;
        }
        let concrete = path
            .replace("{id}", &federation)
            .replace("{project}", "project:00000000000000000000000000000000")
            .replace("{export}", "export:00000000000000000000000000000000")
            .replace("{platform}", &node.platform_id);
        for method in ops.as_object().expect("methods").keys() {
            let body = (method != "get" && method != "delete").then_some("{}");
            let (status, value) = node.call(&method.to_uppercase(), &concrete, body, true);
            assert_ne!(status, 405, "{method} {path} not routed");
            let message = value["error"]["message"].as_str().unwrap_or_default();
            assert!(
                !message.contains("no such endpoint"),
                "{method} {path} fell through to the fallback"
            );
            assert!(
                status == 200 || value["error"]["code"].is_string(),
                "{method} {path}: {status} {value}"
            );
            checked += 1;
        }
    }
    assert!(checked >= 25, "{checked} routes checked");
}
