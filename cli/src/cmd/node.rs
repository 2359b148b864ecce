//! Operator commands: they talk to a running fednode through its API, and read its
//! answers as the node's own reply types.

use fed_crdt::envelope::Refusal;
use fed_crdt::registry::platforms::PlatformProfile;
use fednode::api::{ChainChange, PlatformsBody, ProfileChange, StatusBody};
use fednode::engine::federations::FederationSummary;

use super::answer::{or_dash, typed, NodeAnswer};
use crate::api_client::ApiClient;
use crate::args::{ChainArgs, FederationArg, RefusalsArgs, SetProfileArgs};
use crate::chainfile;
use crate::report::Report;

fn federation_lines(list: &[FederationSummary]) -> String {
    let mut out = String::new();
    for f in list {
        out.push_str(&format!(
            "  {}  {:<24}  seq {:<4}  {} members{}{}\n",
            f.federation,
            f.name,
            f.head_seq,
            f.members,
            if f.forked { "  FORKED" } else { "" },
            match f.membership.as_str() {
                "active" => String::new(),
                ended => format!("  this platform: {ended}"),
            }
        ));
    }
    out
}

/// `fedctl status`
pub fn status(api: &ApiClient) -> anyhow::Result<Report> {
    let value = api.get("/v1/status")?;
    let status: StatusBody = typed(value.clone(), "the node's status")?;
    let node = &status.node;
    let mut text = format!(
        "platform {}\nlistening on {}\n",
        node.platform_id,
        status.listen.join(", ")
    );
    text.push_str(&format!("federations: {}\n", node.federations.len()));
    text.push_str(&federation_lines(&node.federations));
    text.push_str(&format!("members connected: {}", node.peers.len()));
    if !node.revoked_peers.is_empty() {
        text.push_str(&format!(
            "\nrevoked platforms connected for the chain only: {}",
            node.revoked_peers.len()
        ));
    }
    Ok(Report::new(&NodeAnswer { value, text }))
}

/// `fedctl peers`
pub fn peers(api: &ApiClient) -> anyhow::Result<Report> {
    let value = api.get("/v1/peers")?;
    let list: Vec<String> = typed(value.clone(), "a list of peers")?;
    let text = format!("{} members connected\n{}", list.len(), list.join("\n"));
    Ok(Report::new(&NodeAnswer {
        value: serde_json::json!({ "peers": value }),
        text,
    }))
}

/// `fedctl federation list`
pub fn list(api: &ApiClient) -> anyhow::Result<Report> {
    let value = api.get("/v1/federations")?;
    let list: Vec<FederationSummary> = typed(value.clone(), "a list of federations")?;
    let text = format!("{} federations\n{}", list.len(), federation_lines(&list));
    Ok(Report::new(&NodeAnswer {
        value: serde_json::json!({ "federations": value }),
        text,
    }))
}

fn outcome_text(verb: &str, change: &ChainChange) -> String {
    let mut text = format!(
        "{verb} federation {}: {} records appended, {} already known",
        change.federation, change.outcome.appended, change.outcome.already_had
    );
    if let Some(reason) = &change.outcome.refused {
        text.push_str(&format!("\nrefused: {reason}"));
    }
    text
}

/// Sends a chain file's records to the node, at `path`.
fn send_chain(api: &ApiClient, path: &str, args: &ChainArgs, verb: &str) -> anyhow::Result<Report> {
    let body = std::fs::read_to_string(&args.chain)?;
    let value = api.post(path, &body)?;
    let change: ChainChange = typed(value.clone(), "the outcome of a chain file")?;
    let text = outcome_text(verb, &change);
    Ok(Report::new(&NodeAnswer { value, text }))
}

/// `fedctl federation join --chain FILE`
pub fn join(api: &ApiClient, args: &ChainArgs) -> anyhow::Result<Report> {
    // Verify locally first: a bad file gets the same one-line error as offline commands.
    chainfile::load(&args.chain)?;
    send_chain(api, "/v1/federations", args, "joined")
}

/// `fedctl membership publish --chain FILE`
pub fn publish(api: &ApiClient, args: &ChainArgs) -> anyhow::Result<Report> {
    let verified = chainfile::load(&args.chain)?;
    let federation = verified.chain.federation();
    let path = format!("/v1/federations/{federation}/records");
    send_chain(api, &path, args, "published to")
}

/// `fedctl platforms list --federation ID`
pub fn platforms(api: &ApiClient, args: &FederationArg) -> anyhow::Result<Report> {
    let value = api.get(&format!(
        "/v1/federations/{}/platforms",
        args.federation.trim()
    ))?;
    let body: PlatformsBody = typed(value.clone(), "a platforms registry")?;
    let mut text = format!(
        "{:<52}  {:<20}  {:<8}  {:<8}  {:<20}  contact\n",
        "PLATFORM", "NAME", "ROLE", "STATUS", "DISPLAY NAME"
    );
    for (id, p) in &body.platforms {
        let profile = p.profile.as_ref();
        text.push_str(&format!(
            "{id:<52}  {:<20}  {:<8}  {:<8}  {:<20}  {}\n",
            p.name,
            p.role.name(),
            p.status.name(),
            or_dash(profile.map(|p| p.display_name.as_str())),
            or_dash(profile.map(|p| p.contact.as_str())),
        ));
    }
    Ok(Report::new(&NodeAnswer { value, text }))
}

/// `fedctl platforms set-profile --federation ID ...`: the platform's current profile
/// with the given fields replaced.
pub fn set_profile(api: &ApiClient, args: &SetProfileArgs) -> anyhow::Result<Report> {
    let federation = args.federation.federation.trim();
    let status: StatusBody = typed(api.get("/v1/status")?, "the node's status")?;
    let me = status.node.platform_id.to_string();
    let current: PlatformsBody = typed(
        api.get(&format!("/v1/federations/{federation}/platforms"))?,
        "a platforms registry",
    )?;
    let mut profile: PlatformProfile = current
        .platforms
        .get(&me)
        .and_then(|p| p.profile.clone())
        .unwrap_or_default();
    if let Some(v) = &args.display_name {
        profile.display_name.clone_from(v);
    }
    if let Some(v) = &args.description {
        profile.description.clone_from(v);
    }
    if let Some(v) = &args.contact {
        profile.contact.clone_from(v);
    }
    if !args.addresses.is_empty() {
        profile.addresses.clone_from(&args.addresses);
    }
    let value = api.put(
        &format!("/v1/federations/{federation}/platforms/me"),
        &serde_json::to_string(&profile)?,
    )?;
    let change: ProfileChange = typed(value.clone(), "the outcome of a profile change")?;
    let text = match change.change_hash {
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
    let list: Vec<Refusal> = typed(api.get(&path)?, "a list of refusals")?;
    let mut text = format!("{} refused changes\n", list.len());
    for r in &list {
        text.push_str(&format!(
            "  {}  {}  by {}  [{}] {}\n",
            r.document, r.change_hash, r.author, r.check, r.reason,
        ));
    }
    Ok(Report::new(&NodeAnswer {
        value: serde_json::json!({ "refusals": list }),
        text,
    }))
}
