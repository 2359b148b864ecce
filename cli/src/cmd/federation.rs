//! `fedctl federation new`: the genesis record.

use std::fmt;

use fed_crdt::chain::body::{CatalogEntries, RecordBody};
use fed_crdt::chain::{genesis_record, Chain};
use fed_crdt::ids::{AdminKey, FederationId};
use serde::Serialize;

use crate::args::FederationNewArgs;
use crate::chainfile;
use crate::report::{Refused, Report};

#[derive(Serialize)]
struct FederationOutput {
    federation: FederationId,
    name: String,
    admins: Vec<AdminKey>,
    threshold: u32,
    chain_file: String,
}

impl fmt::Display for FederationOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "federation {} ({})", self.name, self.federation)?;
        writeln!(
            f,
            "administrators ({} of {} sign each record):",
            self.threshold,
            self.admins.len()
        )?;
        for a in &self.admins {
            writeln!(f, "  {a}")?;
        }
        write!(f, "chain written to {}", self.chain_file)
    }
}

/// Creates the federation's chain file.
pub fn new(args: &FederationNewArgs) -> anyhow::Result<Report> {
    let key = chainfile::load_admin_key(&args.admin_key)?;
    let me = AdminKey::from(&key);
    let mut admins = vec![me];
    for text in &args.admins {
        let admin: AdminKey = text
            .trim()
            .parse()
            .map_err(|e| anyhow::anyhow!("--admins: {e}"))?;
        if !admins.contains(&admin) {
            admins.push(admin);
        }
    }
    let body = RecordBody::Genesis {
        name: args.name.clone(),
        admins: admins.clone(),
        threshold: args.threshold,
        catalog: CatalogEntries::default(),
    };
    let mut genesis = genesis_record(chainfile::now()?, me, body);
    genesis.sign(&key)?;
    let chain = Chain::from_genesis(genesis).map_err(|e| Refused::new(e.to_string()))?;
    chainfile::create(&args.out, &chain)?;
    Ok(Report::new(&FederationOutput {
        federation: chain.federation(),
        name: args.name.clone(),
        admins,
        threshold: args.threshold,
        chain_file: args.out.display().to_string(),
    }))
}
