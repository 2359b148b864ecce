//! The local changes to a project document: create, update, share, delete.
//!
//! Each builds the change on a copy of the document and returns it sealed; the document
//! itself is not modified (feed the envelope to [`Document::receive`] like any other).

use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ObjId, ObjType, ReadDoc, Value, ROOT};
use ed25519_dalek::SigningKey;

use super::{Access, Project};
use crate::chain::Chain;
use crate::error::ProjectError;
use crate::ids::{DocId, DocKind, PlatformId};
use crate::registry::local::{seal_change, OwnChange};
use crate::registry::Document;

/// Makes the signed change that creates a project owned by `owner_key`'s platform, and
/// returns it with the project's id, derived from the owner and `nonce` (see
/// [`DocId::derive`]). The caller draws `nonce` at random: two projects of one owner need
/// two nonces.
///
/// # Errors
///
/// [`ProjectError::Field`] for a bad project or a reference missing from the chain's
/// catalog, [`ProjectError::ClockBehind`], [`ProjectError::Automerge`].
pub fn create_project(
    chain: &Chain,
    owner_key: &SigningKey,
    nonce: [u8; 16],
    project: &Project,
    now_ms: i64,
) -> Result<(DocId, OwnChange), ProjectError> {
    project.check()?;
    project.check_catalog(&chain.state().catalog)?;
    let owner = PlatformId::from(owner_key);
    let doc_id = DocId::derive(DocKind::Project, &owner, nonce);
    let owner = owner.to_string();
    let nonce = hex::encode(nonce);
    let sealed = seal_change::<ProjectError, _>(
        &Automerge::new(),
        chain,
        doc_id,
        owner_key,
        now_ms,
        |tx| {
            tx.put(ROOT, "owner", owner.as_str())?;
            tx.put(ROOT, "nonce", nonce.as_str())?;
            let obj = tx.put_object(ROOT, "project", ObjType::Map)?;
            write_details(tx, &obj, project)?;
            tx.put_object(ROOT, "shares", ObjType::Map)?;
            tx.put(ROOT, "deleted", false)?;
            Ok(())
        },
    )?;
    sealed
        .map(|env| (doc_id, env))
        .ok_or(ProjectError::Unreadable { document: doc_id })
}

/// Makes the signed change that sets a project's details (for its owner or a platform it
/// is shared with `write`; the rules refuse anyone else's). Only differing fields are
/// written. Returns `Ok(None)` if the details already read exactly so.
///
/// # Errors
///
/// As [`create_project`], and [`ProjectError::Unreadable`] if the document holds no
/// project yet.
pub fn update_project(
    document: &Document,
    chain: &Chain,
    author_key: &SigningKey,
    project: &Project,
    now_ms: i64,
) -> Result<Option<OwnChange>, ProjectError> {
    check_kind(document.id())?;
    project.check()?;
    project.check_catalog(&chain.state().catalog)?;
    let view = readable(document)?;
    if view.project == *project {
        return Ok(None);
    }
    let current = view.project;
    seal_change::<ProjectError, _>(
        document.automerge(),
        chain,
        document.id(),
        author_key,
        now_ms,
        |tx| {
            let obj = match tx.get(ROOT, "project")? {
                Some((Value::Object(ObjType::Map), obj)) => obj,
                _ => tx.put_object(ROOT, "project", ObjType::Map)?,
            };
            write_changed(tx, &obj, &current, project)
        },
    )
}

/// Makes the signed change by the owner that shares a project with `platform`
/// (`Some(access)`) or stops sharing it (`None`). Returns `Ok(None)` if nothing changes.
///
/// # Errors
///
/// [`ProjectError::Field`] for sharing with the owner itself, and as [`update_project`].
pub fn share_project(
    document: &Document,
    chain: &Chain,
    owner_key: &SigningKey,
    platform: PlatformId,
    access: Option<Access>,
    now_ms: i64,
) -> Result<Option<OwnChange>, ProjectError> {
    share_project_with(document, chain, owner_key, &[(platform, access)], now_ms)
}

/// Like [`share_project`] for several platforms at once, in one change: either every
/// share in `shares` is made, or none (a bad one refuses the whole list, naming its
/// position as `shares[i]`). Returns `Ok(None)` if nothing changes.
///
/// # Errors
///
/// As [`share_project`]; also for a platform named twice.
pub fn share_project_with(
    document: &Document,
    chain: &Chain,
    owner_key: &SigningKey,
    shares: &[(PlatformId, Option<Access>)],
    now_ms: i64,
) -> Result<Option<OwnChange>, ProjectError> {
    check_kind(document.id())?;
    let view = readable(document)?;
    let mut seen = std::collections::BTreeSet::new();
    for (i, (platform, _)) in shares.iter().enumerate() {
        let field = if shares.len() == 1 {
            "shares".to_string()
        } else {
            format!("shares[{i}]")
        };
        if *platform == view.owner {
            return Err(ProjectError::Field {
                field,
                problem: "cannot name the owner".into(),
            });
        }
        if !seen.insert(*platform) {
            return Err(ProjectError::Field {
                field,
                problem: format!("platform {platform} is named twice"),
            });
        }
    }
    let changes: Vec<(String, Option<Access>)> = shares
        .iter()
        .filter(|(platform, access)| view.shares.get(platform).copied() != *access)
        .map(|(platform, access)| (platform.to_string(), *access))
        .collect();
    if changes.is_empty() {
        return Ok(None);
    }
    seal_change::<ProjectError, _>(
        document.automerge(),
        chain,
        document.id(),
        owner_key,
        now_ms,
        |tx| {
            let shares = match tx.get(ROOT, "shares")? {
                Some((Value::Object(ObjType::Map), obj)) => obj,
                _ => tx.put_object(ROOT, "shares", ObjType::Map)?,
            };
            for (key, access) in &changes {
                match access {
                    Some(access) => tx.put(&shares, key.as_str(), access.name())?,
                    None => tx.delete(&shares, key.as_str())?,
                }
            }
            Ok(())
        },
    )
}

/// Makes the signed change by the owner that marks a project deleted. Returns `Ok(None)`
/// if it already is.
///
/// # Errors
///
/// As [`update_project`].
pub fn delete_project(
    document: &Document,
    chain: &Chain,
    owner_key: &SigningKey,
    now_ms: i64,
) -> Result<Option<OwnChange>, ProjectError> {
    check_kind(document.id())?;
    if readable(document)?.deleted {
        return Ok(None);
    }
    seal_change::<ProjectError, _>(
        document.automerge(),
        chain,
        document.id(),
        owner_key,
        now_ms,
        |tx| {
            tx.put(ROOT, "deleted", true)?;
            Ok(())
        },
    )
}

fn check_kind(document: DocId) -> Result<(), ProjectError> {
    if document.kind == DocKind::Project {
        Ok(())
    } else {
        Err(ProjectError::NotProject { document })
    }
}

fn readable(document: &Document) -> Result<super::ProjectView, ProjectError> {
    document.project_view().ok_or(ProjectError::Unreadable {
        document: document.id(),
    })
}

/// Writes every field of `project` into the empty map `obj`.
fn write_details(
    tx: &mut Transaction<'_>,
    obj: &ObjId,
    project: &Project,
) -> Result<(), ProjectError> {
    write_changed(tx, obj, &Project::default(), project)?;
    for (field, value) in [
        ("code", &project.code),
        ("name", &project.name),
        ("description", &project.description),
    ] {
        if value.is_empty() {
            tx.put(obj, field, "")?;
        }
    }
    for field in ["regulatory_frameworks", "entities", "members"] {
        if tx.get(obj, field)?.is_none() {
            tx.put_object(obj, field, ObjType::List)?;
        }
    }
    Ok(())
}

/// Writes the fields of `new` that differ from `old` into `obj`; lists are replaced whole.
fn write_changed(
    tx: &mut Transaction<'_>,
    obj: &ObjId,
    old: &Project,
    new: &Project,
) -> Result<(), ProjectError> {
    for (field, old, new) in [
        ("code", &old.code, &new.code),
        ("name", &old.name, &new.name),
        ("description", &old.description, &new.description),
    ] {
        if old != new {
            tx.put(obj, field, new.as_str())?;
        }
    }
    for (field, old, new) in [
        ("start_date", &old.start_date, &new.start_date),
        ("end_date", &old.end_date, &new.end_date),
    ] {
        match new {
            Some(date) if old.as_ref() != Some(date) => tx.put(obj, field, date.as_str())?,
            None if old.is_some() => tx.delete(obj, field)?,
            _ => {}
        }
    }
    for (field, old, new) in [
        (
            "regulatory_frameworks",
            &old.regulatory_frameworks,
            &new.regulatory_frameworks,
        ),
        ("entities", &old.entities, &new.entities),
    ] {
        if old != new {
            let list = tx.put_object(obj, field, ObjType::List)?;
            for (i, id) in new.iter().enumerate() {
                tx.insert(&list, i, id.as_str())?;
            }
        }
    }
    if old.members != new.members {
        let list = tx.put_object(obj, "members", ObjType::List)?;
        for (i, m) in new.members.iter().enumerate() {
            let map = tx.insert_object(&list, i, ObjType::Map)?;
            tx.put(&map, "name", m.name.as_str())?;
            tx.put(&map, "email", m.email.as_str())?;
            tx.put(&map, "role", m.role.as_str())?;
        }
    }
    Ok(())
}
