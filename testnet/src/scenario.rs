//! What platforms use the federation for, shown on the testnet: the first platform creates
//! a project and shares it with the second, then asks it for a dataset; the second takes
//! the request through to delivery. Every call goes through a node's local API, each
//! transition on the node of the platform allowed to make it.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use crate::cluster::{call, get, wait_for, Cluster, Node};

/// What the scenario leaves behind, for the final JSON line.
pub struct Outcome {
    /// For each node, how many projects it can read, as read back through its API.
    pub projects_visible: BTreeMap<String, usize>,
    /// How many export requests every concerned node reads as `delivered`.
    pub exports_delivered: usize,
}

/// Runs the scenario; with fewer than two nodes there is nobody to share with.
pub fn run(cluster: &Cluster, timeout: Duration) -> anyhow::Result<Outcome> {
    let fed = cluster.federation()?;
    let nodes = cluster.nodes();
    let mut exports_delivered = 0;
    if let [owner, provider, ..] = nodes {
        let project = call(
            owner,
            "POST",
            &format!("/v1/federations/{fed}/projects"),
            Some(&json!({
                "code": "TESTNET-1", "name": "Testnet cohort",
                "description": "A project shared between two platforms",
                "start_date": null, "end_date": null,
                "regulatory_frameworks": [], "entities": [], "members": []
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
                    "title": "Testnet extract", "dataset": "Every stay of the cohort",
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
            (
                provider,
                "delivered",
                json!({"reference": "sftp://testnet/extract-1"}),
            ),
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
        // Let any late push land before counting what each node reads.
        wait_for(timeout, || count_projects(owner, &fed) == 1)?;
    }
    let projects_visible = nodes
        .iter()
        .map(|n| (n.name.clone(), count_projects(n, &fed)))
        .collect();
    Ok(Outcome {
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
