//! Projects: one document per project, owned by the platform that created it.
//!
//! ```text
//! { "owner": "<platform id>",
//!   "project": { "code": str, "name": str, "description": str,
//!                "start_date": "YYYY-MM-DD"?, "end_date": "YYYY-MM-DD"?,
//!                "regulatory_frameworks": [str], "entities": [str],
//!                "members": [{ "name": str, "email": str, "role": str }] },
//!   "shares": { "<platform id>": "read" | "write" },
//!   "deleted": bool }
//! ```
//!
//! `owner` is written once, by the creating change. Only the owner edits `shares` and
//! `deleted`; the owner and the platforms shared with `write` edit `project`; every node
//! enforces this (the rules in `rules/projects.rs`). Lists are replaced whole, so that
//! concurrent edits resolve to one author's list rather than an interleaving.

mod read;
mod write;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::card::{check_multiline_text, check_text};
use crate::chain::state::Catalog;
use crate::error::ProjectError;
use crate::ids::{DocId, PlatformId};
use crate::limits::{
    MAX_CATALOG_ID_BYTES, MAX_NAME_BYTES, MAX_PROJECT_CODE_BYTES, MAX_PROJECT_DESCRIPTION_BYTES,
    MAX_PROJECT_EMAIL_BYTES, MAX_PROJECT_MEMBERS, MAX_PROJECT_REFERENCES,
};

pub use read::read_project;
pub(crate) use read::{read_strict, Parts};
pub use write::{
    create_project, delete_project, share_project, share_project_with, update_project,
};

/// The keys of the `project` map.
pub(crate) const FIELDS: [&str; 8] = [
    "code",
    "name",
    "description",
    "start_date",
    "end_date",
    "regulatory_frameworks",
    "entities",
    "members",
];
/// The keys of a member map.
pub(crate) const MEMBER_FIELDS: [&str; 3] = ["name", "email", "role"];

/// The details of a project.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Project {
    /// Short code (1 to [`MAX_PROJECT_CODE_BYTES`] bytes of `[A-Za-z0-9._-]`).
    pub code: String,
    /// Display name (not empty, at most [`MAX_NAME_BYTES`]).
    pub name: String,
    /// Free text (at most [`MAX_PROJECT_DESCRIPTION_BYTES`]; line breaks and tabs allowed).
    pub description: String,
    /// First day, `YYYY-MM-DD`.
    pub start_date: Option<String>,
    /// Last day, `YYYY-MM-DD`, not before `start_date`.
    pub end_date: Option<String>,
    /// Ids of regulatory frameworks of the chain's catalog.
    pub regulatory_frameworks: Vec<String>,
    /// Ids of entities of the chain's catalog.
    pub entities: Vec<String>,
    /// The people working on the project (at most [`MAX_PROJECT_MEMBERS`]).
    pub members: Vec<ProjectMember>,
}

/// A person working on a project.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectMember {
    /// Full name (not empty, at most [`MAX_NAME_BYTES`]).
    pub name: String,
    /// E-mail address (contains `@`, at most [`MAX_PROJECT_EMAIL_BYTES`]).
    pub email: String,
    /// Role in the project (at most [`MAX_NAME_BYTES`], may be empty).
    pub role: String,
}

/// What a platform a project is shared with may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Read the project.
    Read,
    /// Read and edit the project's details.
    Write,
}

impl Access {
    /// The access as written in the document (`read`, `write`).
    pub fn name(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }

    fn parse(s: &str) -> Option<Access> {
        match s {
            "read" => Some(Access::Read),
            "write" => Some(Access::Write),
            _ => None,
        }
    }
}

/// A project document as read from its Automerge document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectView {
    /// The document.
    pub id: DocId,
    /// The platform that created it.
    pub owner: PlatformId,
    /// Its details.
    pub project: Project,
    /// The platforms it is shared with, and their access.
    pub shares: BTreeMap<PlatformId, Access>,
    /// Whether the owner deleted it.
    pub deleted: bool,
}

pub(crate) fn field_error(field: &str, problem: impl Into<String>) -> ProjectError {
    ProjectError::Field {
        field: field.chars().take(80).collect(),
        problem: problem.into(),
    }
}

impl Project {
    /// Checks every field against its limit, and that the dates are ordered.
    ///
    /// # Errors
    ///
    /// [`ProjectError::Field`] naming the first bad field.
    pub fn check(&self) -> Result<(), ProjectError> {
        let field = |name: &str, r: Result<(), String>| r.map_err(|p| field_error(name, p));
        field("code", check_code(&self.code))?;
        field("name", check_text(&self.name, MAX_NAME_BYTES, false))?;
        field("description", check_description(&self.description))?;
        for (name, date) in [
            ("start_date", &self.start_date),
            ("end_date", &self.end_date),
        ] {
            if let Some(date) = date {
                field(name, check_date(date))?;
            }
        }
        if let (Some(start), Some(end)) = (&self.start_date, &self.end_date) {
            if end < start {
                return Err(field_error(
                    "end_date",
                    format!("is {end}, before the start date {start}"),
                ));
            }
        }
        for (name, ids) in [
            ("regulatory_frameworks", &self.regulatory_frameworks),
            ("entities", &self.entities),
        ] {
            field(name, check_references(ids))?;
        }
        if self.members.len() > MAX_PROJECT_MEMBERS {
            return Err(field_error(
                "members",
                format!(
                    "lists {} people, at most {MAX_PROJECT_MEMBERS} allowed",
                    self.members.len()
                ),
            ));
        }
        for m in &self.members {
            field("members.name", check_text(&m.name, MAX_NAME_BYTES, false))?;
            field(
                "members.email",
                check_text(&m.email, MAX_PROJECT_EMAIL_BYTES, false).and_then(|()| {
                    if m.email.contains('@') {
                        Ok(())
                    } else {
                        Err("must contain `@`".into())
                    }
                }),
            )?;
            field("members.role", check_text(&m.role, MAX_NAME_BYTES, true))?;
        }
        Ok(())
    }

    /// Checks that every referenced framework and entity is in `catalog`.
    ///
    /// # Errors
    ///
    /// [`ProjectError::Field`] naming the first unknown id.
    pub fn check_catalog(&self, catalog: &Catalog) -> Result<(), ProjectError> {
        if let Some(id) = self
            .regulatory_frameworks
            .iter()
            .find(|id| !catalog.frameworks.contains_key(*id))
        {
            return Err(field_error(
                "regulatory_frameworks",
                format!("names `{id}`, which is not in the catalog"),
            ));
        }
        if let Some(id) = self
            .entities
            .iter()
            .find(|id| !catalog.entities.contains_key(*id))
        {
            return Err(field_error(
                "entities",
                format!("names `{id}`, which is not in the catalog"),
            ));
        }
        Ok(())
    }
}

fn check_code(code: &str) -> Result<(), String> {
    if code.is_empty() || code.len() > MAX_PROJECT_CODE_BYTES {
        return Err(format!(
            "is {} bytes, 1 to {MAX_PROJECT_CODE_BYTES} allowed",
            code.len()
        ));
    }
    if !code
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return Err("must hold only `A-Z a-z 0-9 . _ -`".into());
    }
    Ok(())
}

fn check_description(value: &str) -> Result<(), String> {
    check_multiline_text(value, MAX_PROJECT_DESCRIPTION_BYTES)
}

/// A calendar date written `YYYY-MM-DD` (so that text order is date order).
pub(crate) fn check_date(date: &str) -> Result<(), String> {
    let bad = || {
        format!(
            "is `{}`, not a date written YYYY-MM-DD",
            date.escape_debug()
        )
    };
    let b = date.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let number = |s: &[u8]| -> Option<u32> {
        s.iter().try_fold(0u32, |n, d| {
            d.is_ascii_digit().then(|| n * 10 + u32::from(d - b'0'))
        })
    };
    let (Some(year), Some(month), Some(day)) = (number(&b[..4]), number(&b[5..7]), number(&b[8..]))
    else {
        return Err(bad());
    };
    let month = u8::try_from(month)
        .ok()
        .and_then(|m| time::Month::try_from(m).ok());
    let valid = match (i32::try_from(year), month, u8::try_from(day)) {
        (Ok(y), Some(m), Ok(d)) => time::Date::from_calendar_date(y, m, d).is_ok(),
        _ => false,
    };
    if valid {
        Ok(())
    } else {
        Err(bad())
    }
}

fn check_references(ids: &[String]) -> Result<(), String> {
    if ids.len() > MAX_PROJECT_REFERENCES {
        return Err(format!(
            "lists {} ids, at most {MAX_PROJECT_REFERENCES} allowed",
            ids.len()
        ));
    }
    let mut seen = BTreeSet::new();
    for id in ids {
        check_text(id, MAX_CATALOG_ID_BYTES, false)?;
        if !seen.insert(id.as_str()) {
            return Err(format!("lists `{id}` twice"));
        }
    }
    Ok(())
}
