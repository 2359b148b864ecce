//! What platforms use the federation for, shown on the testnet: the first platform creates
//! a project and shares it with the second, then asks it for a dataset; the second takes
//! the request through to delivery. Every call goes through a node's local API, each
//! transition on the node of the platform allowed to make it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::cluster::{call, get, wait_for, Cluster, Node};

/// Marker strings written in every sensitive field, to search the relay's files for.
pub const MARKERS: [&str; 6] = [
    "MRK-TESTNET-PROJECT-NAME",
    "MRK-TESTNET-PROJECT-DESCRIPTION",
    "mrk-testnet-person@example.org",
    "MRK-TESTNET-EXPORT-TITLE",
    "MRK-TESTNET-EXPORT-DATASET",
    "MRK-TESTNET-DELIVERY-REFERENCE",
];

/// What the scenario leaves behind, for the final JSON line.
pub struct Outcome {
    /// Whether both platforms read every marker back through their API.
    pub markers_read_back: bool,
    /// For each node, how many projects it can read, as read back through its API.
    pub projects_visible: BTreeMap<String, usize>,
    /// How many export requests every concerned node reads as `delivered`.
    pub exports_delivered: usize,
}

/// Runs the scenario; with fewer than two nodes there is nobody to share with.
pub fn run(cluster: &Cluster, timeout: Duration) -> anyhow::Result<Outcome> {
    let fed = cluster.federation()?;
    let nodes = cluster.nodes();
    let platforms: Vec<&Node> = nodes.iter().filter(|n| !n.relay).collect();
    let mut exports_delivered = 0;
    let mut markers_read_back = false;
    if let [owner, provider, ..] = platforms.as_slice() {
        let (owner, provider) = (*owner, *provider);
        let project = call(
            owner,
            "POST",
            &format!("/v1/federations/{fed}/projects"),
            Some(&json!({
                "code": "TESTNET-1", "name": MARKERS[0],
                "description": MARKERS[1],
                "start_date": null, "end_date": null,
                "regulatory_frameworks": [], "entities": [],
                "members": [{"name": "Ada Lovelace", "email": MARKERS[2], "role": "PI"}]
            })),
        )?;
        let project = project["id"].as_str().unwrap_or_default().to_string();
        call(
            owner,
            "POST",
            &format!("/v1/federations/{fed}/projects/{project}/share"),
            Some(&json!({"recipients": [{"platform_id": provider.platform_id, "access": "read"}]})),
        )?;
        wait_for(timeout, || count_projects(provider, &fed) == 1)?;
        let export = call(
            owner,
            "POST",
            &format!("/v1/federations/{fed}/exports"),
            Some(&json!({
                "provider": provider.platform_id, "project": project,
                "request": {
                    "title": MARKERS[3], "dataset": MARKERS[4],
                    "variables": ["age", "sex"], "period_start": "2024-01-01",
                    "period_end": "2024-12-31", "population": "The cohort",
                    "purpose": "Demonstration", "legal_basis": "Testnet",
                    "pseudonymised": true, "delivery_mode": "sftp"
                }
            })),
        )?;
        let export = export["id"].as_str().unwrap_or_default().to_string();
        let path = format!("/v1/federations/{fed}/exports/{export}");
        for (node, to, extra) in [
            (owner, "submitted", json!({})),
            (provider, "approved", json!({})),
            (provider, "in_preparation", json!({})),
            (provider, "delivered", json!({ "reference": MARKERS[5] })),
        ] {
            // The maker must read the previous step before taking the next.
            wait_for(timeout, || get(node, &path).is_ok())?;
            let mut body = extra;
            body["to"] = json!(to);
            let mut last = Err(anyhow::anyhow!("not tried"));
            let _ = wait_for(timeout, || {
                last = call(node, "POST", &format!("{path}/transitions"), Some(&body));
                last.is_ok()
            });
            last?;
        }
        let delivered = wait_for(timeout, || {
            [owner, provider]
                .iter()
                .all(|n| get(n, &path).is_ok_and(|v| v["state"] == "delivered"))
        });
        if delivered.is_ok() {
            exports_delivered = 1;
        }
        let project_path = format!("/v1/federations/{fed}/projects/{project}");
        markers_read_back = [owner, provider].iter().all(|n| {
            let text = format!(
                "{}{}",
                get(n, &project_path).unwrap_or(Value::Null),
                get(n, &path).unwrap_or(Value::Null)
            );
            let missing: Vec<&&str> = MARKERS.iter().filter(|m| !text.contains(**m)).collect();
            if !missing.is_empty() {
                eprintln!("testnet: {} does not read back {missing:?}", n.name);
            }
            missing.is_empty()
        });
        // Let any late push land before counting what each node reads.
        wait_for(timeout, || count_projects(owner, &fed) == 1)?;
    }
    let projects_visible = nodes
        .iter()
        .map(|n| (n.name.clone(), count_projects(n, &fed)))
        .collect();
    Ok(Outcome {
        markers_read_back,
        projects_visible,
        exports_delivered,
    })
}

fn count_projects(node: &Node, fed: &str) -> usize {
    get(node, &format!("/v1/federations/{fed}/projects"))
        .ok()
        .and_then(|v: Value| v.as_array().map(Vec::len))
        .unwrap_or(0)
}
