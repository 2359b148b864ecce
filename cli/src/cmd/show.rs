//! `fedctl membership show` and `fedctl membership verify`: reading a chain.

use std::fmt;

use fed_crdt::chain::body::{Rights, Role};
use fed_crdt::chain::file::VerifiedChain;
use fed_crdt::chain::state::MemberStatus;
use fed_crdt::ids::{AdminKey, FederationId, PlatformId, RecordHash};
use fed_crdt::Timestamp;
use serde::Serialize;
use serde_json::json;

use crate::args::{ChainArgs, ShowArgs};
use crate::chainfile;
use crate::report::{Refused, Report};

#[derive(Serialize)]
struct MemberRow {
    platform_id: PlatformId,
    name: String,
    operator: String,
    role: Role,
    rights: Rights,
    expires_at: Option<Timestamp>,
    status: MemberStatus,
    added_seq: u64,
    revoked_seq: Option<u64>,
}

#[derive(Serialize)]
struct PendingRow {
    seq: u64,
    kind: &'static str,
    signatures: usize,
    threshold: usize,
}

#[derive(Serialize)]
struct ShowOutput {
    federation: FederationId,
    name: String,
    at: Timestamp,
    seq: u64,
    head: RecordHash,
    admins: Vec<AdminKey>,
    threshold: u32,
    members: Vec<MemberRow>,
    pending: Option<PendingRow>,
}

impl fmt::Display for ShowOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "federation {} ({})", self.name, self.federation)?;
        writeln!(
            f,
            "head seq {} ({}), as of {}",
            self.seq,
            self.head.fmt_short(),
            self.at
        )?;
        writeln!(
            f,
            "administrators: {} of {}",
            self.threshold,
            self.admins.len()
        )?;
        for a in &self.admins {
            writeln!(f, "  {a}")?;
        }
        writeln!(f, "members: {}", self.members.len())?;
        writeln!(
            f,
            "  {:<52}  {:<20}  {:<8}  {:<8}  {:<20}  rights",
            "PLATFORM", "NAME", "ROLE", "STATUS", "EXPIRES"
        )?;
        for m in &self.members {
            writeln!(
                f,
                "  {:<52}  {:<20}  {:<8}  {:<8}  {:<20}  {}",
                m.platform_id,
                m.name,
                m.role.name(),
                m.status.name(),
                m.expires_at
                    .map_or_else(|| "never".into(), |t| t.to_string()),
                m.rights
            )?;
        }
        if let Some(p) = &self.pending {
            write!(
                f,
                "pending: record seq {} ({}) has {} of {} signatures",
                p.seq, p.kind, p.signatures, p.threshold
            )?;
        }
        Ok(())
    }
}

fn pending_row(v: &VerifiedChain) -> Option<PendingRow> {
    v.pending.as_ref().map(|p| PendingRow {
        seq: p.record.seq,
        kind: p.record.body.kind(),
        signatures: p.have,
        threshold: p.need,
    })
}

/// Shows the membership state at a time.
pub fn show(args: &ShowArgs) -> anyhow::Result<Report> {
    let at = match &args.at {
        Some(t) => t.parse().map_err(|e| anyhow::anyhow!("--at: {e}"))?,
        None => chainfile::now()?,
    };
    let verified = chainfile::load(&args.chain.chain)?;
    let state = verified.chain.state();
    let members = state
        .members
        .iter()
        .map(|(id, m)| MemberRow {
            platform_id: *id,
            name: m.card.name.clone(),
            operator: m.card.operator.clone(),
            role: m.role,
            rights: m.rights.clone(),
            expires_at: m.expires_at,
            status: m.status(at),
            added_seq: m.added_seq,
            revoked_seq: m.revoked.as_ref().map(|r| r.seq),
        })
        .collect();
    Ok(Report::new(&ShowOutput {
        federation: state.federation,
        name: state.name.clone(),
        at,
        seq: state.seq,
        head: state.head,
        admins: state.admins.clone(),
        threshold: state.threshold,
        members,
        pending: pending_row(&verified),
    }))
}

#[derive(Serialize)]
struct VerifyOutput {
    valid: bool,
    federation: FederationId,
    records: usize,
    head_seq: u64,
    head: RecordHash,
}

impl fmt::Display for VerifyOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "valid: {} records, federation {}, head seq {} ({})",
            self.records, self.federation, self.head_seq, self.head
        )
    }
}

/// Verifies every record; a pending last record makes the chain not (yet) valid.
pub fn verify(args: &ChainArgs) -> anyhow::Result<Report> {
    let verified = chainfile::load(&args.chain)?;
    if let Some(p) = &verified.pending {
        let index = verified.chain.records().len();
        return Err(Refused {
            message: format!(
                "{}: record #{index} (seq {}) is not valid yet: {} of {} required admin signatures (co-sign with `fedctl membership cosign`)",
                args.chain.display(),
                p.record.seq,
                p.have,
                p.need
            ),
            detail: json!({
                "first_bad_record": {"index": index, "seq": p.record.seq},
                "reason": format!("{} of {} required admin signatures", p.have, p.need),
                "pending": true,
            }),
        }
        .into());
    }
    let state = verified.chain.state();
    Ok(Report::new(&VerifyOutput {
        valid: true,
        federation: state.federation,
        records: verified.chain.records().len(),
        head_seq: state.seq,
        head: state.head,
    }))
}
