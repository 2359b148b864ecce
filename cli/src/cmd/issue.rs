//! Making, signing and storing a new record: the path every administrator command that
//! changes the chain goes through.

use std::fmt;
use std::path::Path;

use fed_crdt::chain::body::RecordBody;
use fed_crdt::chain::record::Record;
use fed_crdt::chain::Chain;
use fed_crdt::ids::{AdminKey, FederationId, RecordHash};
use serde::Serialize;

use crate::args::SignArgs;
use crate::chainfile;
use crate::report::{Refused, Report};

/// What a new record did to the chain file.
#[derive(Serialize)]
pub struct RecordOutput {
    /// The federation.
    pub federation: FederationId,
    /// The chain file written.
    pub chain_file: String,
    /// The new record's seq.
    pub seq: u64,
    /// Its kind.
    pub kind: &'static str,
    /// Its hash.
    pub hash: RecordHash,
    /// `applied`, or `pending` while it lacks co-signatures.
    pub status: &'static str,
    /// Valid admin signatures it carries.
    pub signatures: usize,
    /// Signatures it needs.
    pub threshold: usize,
    /// What it does, in words.
    pub summary: String,
}

impl fmt::Display for RecordOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.summary)?;
        write!(
            f,
            "record seq {} ({}) {} in {}",
            self.seq, self.kind, self.status, self.chain_file
        )?;
        if self.status == "pending" {
            write!(
                f,
                "\n{} of {} admin signatures; other admins run `fedctl membership cosign --chain {}`",
                self.signatures, self.threshold, self.chain_file
            )?;
        }
        Ok(())
    }
}

/// Builds a record with `build`, signs it with the admin key, checks it against the
/// chain and writes the file. Nothing is written if any step fails.
pub fn issue(
    sign: &SignArgs,
    build: impl FnOnce(&Chain) -> anyhow::Result<(RecordBody, String)>,
) -> anyhow::Result<Report> {
    let key = chainfile::load_admin_key(&sign.admin_key)?;
    let chain = chainfile::load_for_new_record(&sign.chain)?;
    let (body, summary) = build(&chain)?;
    let now = chainfile::now()?;
    let last = chain.state().issued_at;
    if now < last {
        anyhow::bail!(
            "this machine's clock reads {now}, earlier than the last record's time {last}; check the clock"
        );
    }
    let mut record = chain.next_record(now, AdminKey::from(&key), body);
    record.sign(&key)?;
    let have = chain
        .check_pending(&record)
        .map_err(|e| Refused::new(format!("record refused: {e}")))?;
    store(&sign.chain, chain, record, have, summary)
}

/// Appends `record` (it has `have` valid signatures) and writes the chain file: applied
/// if it has enough signatures, pending after the chain otherwise.
pub fn store(
    path: &Path,
    mut chain: Chain,
    record: Record,
    have: usize,
    summary: String,
) -> anyhow::Result<Report> {
    let need = chain.state().threshold as usize;
    let output = RecordOutput {
        federation: chain.federation(),
        chain_file: path.display().to_string(),
        seq: record.seq,
        kind: record.body.kind(),
        hash: record.hash(),
        status: if have >= need { "applied" } else { "pending" },
        signatures: have,
        threshold: need,
        summary,
    };
    if have >= need {
        chain.append(record)?;
        chainfile::save(path, &chain, None)?;
    } else {
        chainfile::save(path, &chain, Some(&record))?;
    }
    Ok(Report::new(&output))
}

/// Reads an identity card file, with the path in any error.
pub fn read_card(path: &Path) -> anyhow::Result<fed_crdt::card::IdentityCard> {
    Ok(fednode::identity::read_card(path)?)
}
