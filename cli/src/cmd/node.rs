//! Operator commands: they talk to a running fednode through its API.

use std::fmt;

use serde::Serialize;
use serde_json::Value;

use crate::api_client::ApiClient;
use crate::args::ChainArgs;
use crate::chainfile;
use crate::report::Report;

/// Any JSON answer of the node, printed as-is with `--json` and summarised otherwise.
#[derive(Serialize)]
#[serde(transparent)]
struct NodeAnswer {
    value: Value,
    #[serde(skip)]
    text: String,
}

impl fmt::Display for NodeAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn federation_lines(list: &Value) -> String {
    let mut out = String::new();
    for f in list.as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {}  {:<24}  seq {:<4}  {} members{}\n",
            f["federation"].as_str().unwrap_or_default(),
            f["name"].as_str().unwrap_or_default(),
            f["head_seq"],
            f["members"],
            if f["forked"] == true { "  FORKED" } else { "" }
        ));
    }
    out
}

/// `fedctl status`
pub fn status(api: &ApiClient) -> anyhow::Result<Report> {
    let value = api.get("/v1/status")?;
    let mut text = format!(
        "platform {}\nlistening on {}\n",
        value["platform_id"].as_str().unwrap_or_default(),
        value["listen"]
            .as_array()
            .map(|a| a
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "))
            .unwrap_or_default()
    );
    text.push_str(&format!(
        "federations: {}\n",
        value["federations"].as_array().map_or(0, Vec::len)
    ));
    text.push_str(&federation_lines(&value["federations"]));
    text.push_str(&format!(
        "peers connected: {}",
        value["peers"].as_array().map_or(0, Vec::len)
    ));
    Ok(Report::new(&NodeAnswer { value, text }))
}

/// `fedctl peers`
pub fn peers(api: &ApiClient) -> anyhow::Result<Report> {
    let value = api.get("/v1/peers")?;
    let list: Vec<&str> = value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let text = format!("{} peers connected\n{}", list.len(), list.join("\n"));
    Ok(Report::new(&NodeAnswer {
        value: serde_json::json!({ "peers": value }),
        text,
    }))
}

/// `fedctl federation list`
pub fn list(api: &ApiClient) -> anyhow::Result<Report> {
    let value = api.get("/v1/federations")?;
    let text = format!(
        "{} federations\n{}",
        value.as_array().map_or(0, Vec::len),
        federation_lines(&value)
    );
    Ok(Report::new(&NodeAnswer {
        value: serde_json::json!({ "federations": value }),
        text,
    }))
}

fn outcome_text(verb: &str, value: &Value) -> String {
    let mut text = format!(
        "{verb} federation {}: {} records appended, {} already known",
        value["federation"].as_str().unwrap_or_default(),
        value["appended"],
        value["already_had"]
    );
    if let Some(reason) = value["refused"].as_str() {
        text.push_str(&format!("\nrefused: {reason}"));
    }
    text
}

/// `fedctl federation join --chain FILE`
pub fn join(api: &ApiClient, args: &ChainArgs) -> anyhow::Result<Report> {
    // Verify locally first: a bad file gets the same one-line error as offline commands.
    chainfile::load(&args.chain)?;
    let body = std::fs::read_to_string(&args.chain)?;
    let value = api.post("/v1/federations", &body)?;
    let text = outcome_text("joined", &value);
    Ok(Report::new(&NodeAnswer { value, text }))
}

/// `fedctl membership publish --chain FILE`
pub fn publish(api: &ApiClient, args: &ChainArgs) -> anyhow::Result<Report> {
    let verified = chainfile::load(&args.chain)?;
    let body = std::fs::read_to_string(&args.chain)?;
    let federation = verified.chain.federation();
    let value = api.post(&format!("/v1/federations/{federation}/records"), &body)?;
    let text = outcome_text("published to", &value);
    Ok(Report::new(&NodeAnswer { value, text }))
}
