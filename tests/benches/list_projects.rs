//! How long a platform waits to list its projects, through a real node's API.
//!
//! The reference service took 3.6 s to list 500 projects on this machine. This starts one
//! node, creates projects through its API, and times `GET .../projects` at 1, 50 and 500
//! projects, next to the API's floor measured in the same run (`GET /v1/status`, which
//! reads no document). Run: `cargo bench -p fed-e2e --bench list_projects`.

use std::time::{Duration, Instant};

use fed_e2e::{Admin, TestNode};
use serde_json::json;

/// Calls timed per measurement; the median is reported.
const SAMPLES: usize = 30;
/// The reference service's figure for 500 projects, for comparison.
const REFERENCE_500_MS: f64 = 3600.0;

fn median(node: &TestNode, path: &str) -> Duration {
    let mut times: Vec<Duration> = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            let _ = node.get(path);
            start.elapsed()
        })
        .collect();
    times.sort();
    times[SAMPLES / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let root = tmp.path();
    let admin = Admin::new(root, "chain.json");
    let (_, nodes) = admin.start_members(&["bench"]);
    let node = &nodes[0];
    let fed = admin.federation();
    let list = format!("/v1/federations/{fed}/projects");

    let floor = median(node, "/v1/status");
    println!("api floor (GET /v1/status): {:.2} ms", ms(floor));
    let mut created = 0usize;
    let mut create_time = Duration::ZERO;
    for target in [1usize, 50, 500] {
        while created < target {
            let body = json!({
                "code": format!("P-{created:04}"), "name": format!("Project {created}"),
                "description": "A study of some length, to give the listing something to carry.",
                "start_date": "2027-01-01", "end_date": "2028-12-31",
                "regulatory_frameworks": [], "entities": [],
                "members": [{"name": "Ada Lovelace", "email": "ada@example.org", "role": "PI"}]
            });
            let start = Instant::now();
            let (status, answer) = node.call("POST", &list, Some(&body.to_string()), true);
            create_time += start.elapsed();
            assert_eq!(status, 201, "{answer}");
            created += 1;
        }
        let listed = node.get(&list).as_array().map_or(0, Vec::len);
        assert_eq!(listed, target);
        let t = median(node, &list);
        println!(
            "list {target:>3} projects: {:>7.2} ms (median of {SAMPLES}; {:.2} ms over the floor)",
            ms(t),
            ms(t.saturating_sub(floor))
        );
        if target == 500 {
            println!(
                "500 projects: {:.2} ms here vs {REFERENCE_500_MS:.0} ms for the reference service ({:.0}x faster)",
                ms(t),
                REFERENCE_500_MS / ms(t).max(0.001)
            );
        }
    }
    println!(
        "create: {:.2} ms per project on average over {created}",
        ms(create_time) / created as f64
    );
}
