//! Operator commands: they talk to a running fednode through its API.

use serde_json::Value;

use super::answer::NodeAnswer;
use crate::api_client::ApiClient;
use crate::args::{ChainArgs, FederationArg, RefusalsArgs, SetProfileArgs};
use crate::chainfile;
use crate::report::Report;

fn federation_lines(list: &Value) -> String {
    let mut out = String::new();
    for f in list.as_array().into_iter().flatten() {
        out.push_str(&format!(
            "  {}  {:<24}  seq {:<4}  {} members{}{}\n",
            f["federation"].as_str().unwrap_or_default(),
            f["name"].as_str().unwrap_or_default(),
            f["head_seq"],
            f["members"],
            if f["forked"] == true { "  FORKED" } else { "" },
            match f["membership"].as_str() {
                Some("active") | None => String::new(),
                Some(ended) => format!("  this platform: {ended}"),
            }
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
        "members connected: {}",
        value["peers"].as_array().map_or(0, Vec::len)
    ));
    let revoked = value["revoked_peers"].as_array().map_or(0, Vec::len);
    if revoked > 0 {
        text.push_str(&format!(
            "\nrevoked platforms connected for the chain only: {revoked}"
        ));
    }
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
    let text = format!("{} members connected\n{}", list.len(), list.join("\n"));
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

/// `fedctl platforms list --federation ID`
pub fn platforms(api: &ApiClient, args: &FederationArg) -> anyhow::Result<Report> {
    let value = api.get(&format!(
        "/v1/federations/{}/platforms",
        args.federation.trim()
    ))?;
    let mut text = format!(
        "{:<52}  {:<20}  {:<8}  {:<8}  {:<20}  contact\n",
        "PLATFORM", "NAME", "ROLE", "STATUS", "DISPLAY NAME"
    );
    for (id, p) in value["platforms"].as_object().into_iter().flatten() {
        text.push_str(&format!(
            "{id:<52}  {:<20}  {:<8}  {:<8}  {:<20}  {}\n",
            p["name"].as_str().unwrap_or_default(),
            p["role"].as_str().unwrap_or_default(),
            p["status"].as_str().unwrap_or_default(),
            p["profile"]["display_name"].as_str().unwrap_or("-"),
            p["profile"]["contact"].as_str().unwrap_or("-"),
        ));
    }
    Ok(Report::new(&NodeAnswer { value, text }))
}

/// `fedctl platforms set-profile --federation ID ...`
pub fn set_profile(api: &ApiClient, args: &SetProfileArgs) -> anyhow::Result<Report> {
    let federation = args.federation.federation.trim();
    let me = api.get("/v1/status")?["platform_id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let current = api.get(&format!("/v1/federations/{federation}/platforms"))?;
    let mut profile = current["platforms"][&me]["profile"].clone();
    if !profile.is_object() {
        profile = serde_json::json!({"display_name": "", "description": "", "contact": "", "addresses": []});
    }
    if let Some(v) = &args.display_name {
        profile["display_name"] = Value::from(v.as_str());
    }
    if let Some(v) = &args.description {
        profile["description"] = Value::from(v.as_str());
    }
    if let Some(v) = &args.contact {
        profile["contact"] = Value::from(v.as_str());
    }
    if !args.addresses.is_empty() {
        profile["addresses"] = Value::from(args.addresses.clone());
    }
    let value = api.put(
        &format!("/v1/federations/{federation}/platforms/me"),
        &profile.to_string(),
    )?;
    let text = match value["change_hash"].as_str() {
        Some(h) => format!("profile updated (change {h})"),
        None => "profile unchanged".to_string(),
    };
    Ok(Report::new(&NodeAnswer { value, text }))
}

/// `fedctl refusals [--federation ID]`
pub fn refusals(api: &ApiClient, args: &RefusalsArgs) -> anyhow::Result<Report> {
    let path = match &args.federation {
        Some(f) => format!("/v1/refusals?federation={}", f.trim()),
        None => "/v1/refusals".to_string(),
    };
    let value = api.get(&path)?;
    let mut text = format!("{} refused changes\n", value.as_array().map_or(0, Vec::len));
    for r in value.as_array().into_iter().flatten() {
        text.push_str(&format!(
            "  {}  {}  by {}  [{}] {}\n",
            r["document"].as_str().unwrap_or_default(),
            r["change_hash"].as_str().unwrap_or_default(),
            r["author"].as_str().unwrap_or_default(),
            r["check"].as_str().unwrap_or_default(),
            r["reason"].as_str().unwrap_or_default(),
        ));
    }
    Ok(Report::new(&NodeAnswer {
        value: serde_json::json!({ "refusals": value }),
        text,
    }))
}
