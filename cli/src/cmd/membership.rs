//! `fedctl membership add|update|revoke|rotate-admin|cosign`: records that change who
//! belongs and who administers.

use std::fs;

use anyhow::Context;
use fed_crdt::chain::body::{Expiry, FrontierEntry, RecordBody, Rights, Role};
use fed_crdt::chain::Chain;
use fed_crdt::ids::{AdminKey, PlatformId};
use fed_crdt::Timestamp;

use crate::args::{AddArgs, RevokeArgs, RotateAdminArgs, SignArgs, UpdateArgs};
use crate::chainfile;
use crate::cmd::issue::{issue, read_card, store};
use crate::report::{Refused, Report};

fn parse_rights(text: &str) -> anyhow::Result<Rights> {
    text.parse().map_err(|e| anyhow::anyhow!("--rights: {e}"))
}

fn parse_platform(text: &str) -> anyhow::Result<PlatformId> {
    text.trim()
        .parse()
        .map_err(|e| anyhow::anyhow!("--platform: {e}"))
}

fn member_name(chain: &Chain, platform: &PlatformId) -> String {
    chain
        .state()
        .members
        .get(platform)
        .map_or_else(|| platform.to_string(), |m| m.card.name.clone())
}

/// Admits a platform or relay.
pub fn add(args: &AddArgs) -> anyhow::Result<Report> {
    let card = read_card(&args.card)?;
    let role: Role = args
        .role
        .parse()
        .map_err(|e| anyhow::anyhow!("--role: {e}"))?;
    let rights = match (&args.rights, role) {
        (Some(text), _) => parse_rights(text)?,
        (None, Role::Platform) => Rights::all(),
        (None, Role::Relay) => Rights::none(),
    };
    let expires_at = args
        .expires
        .as_deref()
        .map(str::parse::<Timestamp>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--expires: {e}"))?;
    issue(&args.sign, |_| {
        let summary = format!(
            "admitted {} ({}) as {} with rights {}{}",
            card.name,
            card.platform_id,
            role.name(),
            rights,
            expires_at.map_or_else(String::new, |t| format!(" until {t}"))
        );
        Ok((
            RecordBody::AddPlatform {
                card,
                role,
                rights,
                expires_at,
            },
            summary,
        ))
    })
}

/// Changes a member's rights, expiry or card.
pub fn update(args: &UpdateArgs) -> anyhow::Result<Report> {
    let platform = parse_platform(&args.platform)?;
    let rights = args.rights.as_deref().map(parse_rights).transpose()?;
    let expires_at = args
        .expires
        .as_deref()
        .map(str::parse::<Expiry>)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--expires: {e}"))?;
    let card = args.card.as_deref().map(read_card).transpose()?;
    if rights.is_none() && expires_at.is_none() && card.is_none() {
        anyhow::bail!("nothing to update: give --rights, --expires or --card");
    }
    issue(&args.sign, |chain| {
        let mut changes = Vec::new();
        if let Some(r) = &rights {
            changes.push(format!("rights {r}"));
        }
        if let Some(e) = &expires_at {
            changes.push(format!("expiry {e}"));
        }
        if card.is_some() {
            changes.push("identity card".to_string());
        }
        let summary = format!(
            "updated {} ({platform}): {}",
            member_name(chain, &platform),
            changes.join(", ")
        );
        Ok((
            RecordBody::UpdatePlatform {
                platform,
                rights,
                expires_at,
                card,
            },
            summary,
        ))
    })
}

/// Revokes a member.
pub fn revoke(args: &RevokeArgs) -> anyhow::Result<Report> {
    let platform = parse_platform(&args.platform)?;
    let frontier: Vec<FrontierEntry> = match &args.frontier {
        None => Vec::new(),
        Some(path) => {
            let text = fs::read_to_string(path)
                .with_context(|| format!("cannot read frontier file {}", path.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("frontier file {}", path.display()))?
        }
    };
    issue(&args.sign, |chain| {
        let summary = format!(
            "revoked {} ({platform}), frontier of {} documents",
            member_name(chain, &platform),
            frontier.len()
        );
        Ok((
            RecordBody::RevokePlatform {
                platform,
                frontier,
                reason: args.reason.clone(),
            },
            summary,
        ))
    })
}

/// Replaces the administrator set or threshold.
pub fn rotate_admin(args: &RotateAdminArgs) -> anyhow::Result<Report> {
    let parse = |flag: &str, list: &[String]| -> anyhow::Result<Vec<AdminKey>> {
        list.iter()
            .map(|t| t.trim().parse().map_err(|e| anyhow::anyhow!("{flag}: {e}")))
            .collect()
    };
    let add = parse("--add", &args.add)?;
    let remove = parse("--remove", &args.remove)?;
    if add.is_empty() && remove.is_empty() && args.threshold.is_none() {
        anyhow::bail!("nothing to rotate: give --add, --remove or --threshold");
    }
    issue(&args.sign, |chain| {
        let state = chain.state();
        for r in &remove {
            if !state.is_admin(r) {
                anyhow::bail!("--remove: {r} is not an administrator");
            }
        }
        let mut admins: Vec<AdminKey> = state
            .admins
            .iter()
            .filter(|a| !remove.contains(a))
            .copied()
            .collect();
        for a in add {
            if !admins.contains(&a) {
                admins.push(a);
            }
        }
        let threshold = args.threshold.unwrap_or(state.threshold);
        let summary = format!("administrators now {} of {}", threshold, admins.len());
        Ok((RecordBody::RotateAdmin { admins, threshold }, summary))
    })
}

/// Adds this admin's signature to the pending last record.
pub fn cosign(args: &SignArgs) -> anyhow::Result<Report> {
    let key = chainfile::load_admin_key(&args.admin_key)?;
    let verified = chainfile::load(&args.chain)?;
    let chain = verified.chain;
    let Some(pending) = verified.pending else {
        return Err(Refused::new(format!(
            "{}: nothing to co-sign: the last record already has its signatures",
            args.chain.display()
        ))
        .into());
    };
    let mut record = pending.record;
    record
        .sign(&key)
        .map_err(|e| Refused::new(format!("cannot co-sign: {e}")))?;
    let have = chain
        .check_pending(&record)
        .map_err(|e| Refused::new(format!("cannot co-sign: {e}")))?;
    store(
        &args.chain,
        chain,
        record,
        have,
        format!("co-signed by {}", AdminKey::from(&key)),
    )
}
