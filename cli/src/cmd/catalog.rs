//! `fedctl catalog ...`: reference data that only administrators manage.

use std::fmt;

use fed_crdt::chain::body::{CatalogEntries, Entity, EntityType, RecordBody, RegulatoryFramework};
use fed_crdt::chain::state::Catalog;
use serde::Serialize;

use crate::args::{
    AddEntityArgs, AddEntityTypeArgs, AddFrameworkArgs, CatalogEntryArgs, ChainArgs,
};
use crate::chainfile;
use crate::cmd::issue::issue;
use crate::report::{Refused, Report};

/// An id derived from a display name: lower-case ASCII letters and digits, dashes between.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

fn entry_id(args: &CatalogEntryArgs) -> anyhow::Result<String> {
    let id = args.id.clone().unwrap_or_else(|| slug(&args.name));
    if id.is_empty() {
        anyhow::bail!("cannot derive an id from --name `{}`; give --id", args.name);
    }
    Ok(id)
}

/// Issues a catalog record adding one entry of `kind`; an existing id is refused unless
/// `--replace` was given, so that a correction is always deliberate.
fn add_entry(
    e: &CatalogEntryArgs,
    kind: &str,
    exists: impl FnOnce(&Catalog, &str) -> bool,
    entries: impl FnOnce(String) -> CatalogEntries,
) -> anyhow::Result<Report> {
    let id = entry_id(e)?;
    issue(&e.sign, |chain| {
        if exists(&chain.state().catalog, &id) && !e.replace {
            return Err(Refused::new(format!(
                "{kind} `{id}` is already in the catalog; use --replace to replace it"
            ))
            .into());
        }
        let summary = format!("{kind} `{id}`: {}", e.name);
        Ok((RecordBody::catalog(entries(id)), summary))
    })
}

/// Adds a regulatory framework.
pub fn add_framework(args: &AddFrameworkArgs) -> anyhow::Result<Report> {
    let e = &args.entry;
    add_entry(
        e,
        "regulatory framework",
        |c, id| c.frameworks.contains_key(id),
        |id| CatalogEntries {
            frameworks: vec![RegulatoryFramework {
                id,
                name: e.name.clone(),
                description_url: args.url.clone(),
            }],
            ..CatalogEntries::default()
        },
    )
}

/// Adds an entity type.
pub fn add_entity_type(args: &AddEntityTypeArgs) -> anyhow::Result<Report> {
    let e = &args.entry;
    add_entry(
        e,
        "entity type",
        |c, id| c.entity_types.contains_key(id),
        |id| CatalogEntries {
            entity_types: vec![EntityType {
                id,
                name: e.name.clone(),
            }],
            ..CatalogEntries::default()
        },
    )
}

/// Adds an entity of an existing entity type.
pub fn add_entity(args: &AddEntityArgs) -> anyhow::Result<Report> {
    let e = &args.entry;
    add_entry(
        e,
        "entity",
        |c, id| c.entities.contains_key(id),
        |id| CatalogEntries {
            entities: vec![Entity {
                id,
                name: e.name.clone(),
                entity_type: args.entity_type.clone(),
            }],
            ..CatalogEntries::default()
        },
    )
}

#[derive(Serialize)]
struct CatalogOutput {
    frameworks: Vec<RegulatoryFramework>,
    entity_types: Vec<EntityType>,
    entities: Vec<Entity>,
}

impl fmt::Display for CatalogOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "regulatory frameworks: {}", self.frameworks.len())?;
        for x in &self.frameworks {
            let url = x.description_url.as_deref().unwrap_or("");
            writeln!(f, "  {:<24}  {}  {url}", x.id, x.name)?;
        }
        writeln!(f, "entity types: {}", self.entity_types.len())?;
        for x in &self.entity_types {
            writeln!(f, "  {:<24}  {}", x.id, x.name)?;
        }
        write!(f, "entities: {}", self.entities.len())?;
        for x in &self.entities {
            write!(f, "\n  {:<24}  {}  ({})", x.id, x.name, x.entity_type)?;
        }
        Ok(())
    }
}

/// Lists the catalog.
pub fn show(args: &ChainArgs) -> anyhow::Result<Report> {
    let verified = chainfile::load(&args.chain)?;
    let c = &verified.chain.state().catalog;
    Ok(Report::new(&CatalogOutput {
        frameworks: c.frameworks.values().cloned().collect(),
        entity_types: c.entity_types.values().cloned().collect(),
        entities: c.entities.values().cloned().collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::slug;

    #[test]
    fn slug_keeps_letters_and_digits() {
        assert_eq!(slug("MR-004 (CNIL)"), "mr-004-cnil");
        assert_eq!(slug("  Hôpital  Necker "), "h-pital-necker");
        assert_eq!(slug("***"), "");
    }
}
