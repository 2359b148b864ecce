//! Export requests: one document per request for a dataset, from a requester platform to
//! the provider platform holding the data, for a project.
//!
//! ```text
//! { "requester": "<platform id>", "provider": "<platform id>",
//!   "project": "project:<32 hex>", "nonce": "<32 hex>",
//!   "request": { "title": str, "dataset": str, "variables": [str],
//!                "period_start": "YYYY-MM-DD"?, "period_end": "YYYY-MM-DD"?,
//!                "population": str, "purpose": str, "legal_basis": str,
//!                "pseudonymised": bool, "delivery_mode": str },
//!   "history": [ { "from": "<state>" | "", "to": "<state>", "author": "<platform id>",
//!                  "at": int (ms), "comment": str, "conditions": str, "reference": str } ] }
//! ```
//!
//! The requester creates the document (its id derives from the requester and `nonce`),
//! and edits `request` while the provider has not taken it up. Every step of the workflow
//! appends one entry to `history`; nothing else ever changes, so the history is the audit
//! trail of the request. The state is not stored: every node folds it from the history
//! (see `fold.rs`), which is how two steps taken concurrently by the two parties resolve
//! the same way everywhere. The rules every node enforces are in `rules/exports.rs`.

mod fold;
mod read;
mod workflow;
mod write;

use serde::{Deserialize, Serialize};

use crate::card::{check_multiline_text, check_text};
use crate::chain::body::Role;
use crate::chain::state::{MemberStatus, MembershipState};
use crate::error::ExportError;
use crate::ids::{DocId, PlatformId};
use crate::limits::{
    MAX_EXPORT_TEXT_BYTES, MAX_EXPORT_TITLE_BYTES, MAX_EXPORT_VARIABLES, MAX_EXPORT_VARIABLE_BYTES,
    MAX_NAME_BYTES,
};
use crate::registry::projects::check_date;
use crate::Timestamp;

pub(crate) use fold::fold;
pub use read::read_export;
pub(crate) use read::{read_strict, Parts};
pub(crate) use workflow::{
    check_entry_limits, check_entry_needs, check_entry_texts, transition_problem,
};
pub use workflow::{who_may, ExportState, Party};
pub use write::{create_export, transition_export, update_export};

/// The root keys of an export request document.
pub(crate) const ROOT_KEYS: [&str; 6] = [
    "requester",
    "provider",
    "project",
    "nonce",
    "request",
    "history",
];
/// The keys of the `request` map (the two period dates may be absent).
pub(crate) const REQUEST_FIELDS: [&str; 10] = [
    "title",
    "dataset",
    "variables",
    "period_start",
    "period_end",
    "population",
    "purpose",
    "legal_basis",
    "pseudonymised",
    "delivery_mode",
];
/// The keys of a history entry, all required.
pub(crate) const ENTRY_FIELDS: [&str; 7] = [
    "from",
    "to",
    "author",
    "at",
    "comment",
    "conditions",
    "reference",
];

/// The dataset a request asks for.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    /// Short title (one line, not empty, at most [`MAX_EXPORT_TITLE_BYTES`]).
    pub title: String,
    /// The dataset asked for (at most [`MAX_EXPORT_TEXT_BYTES`]; line breaks allowed).
    pub dataset: String,
    /// The variables asked for (at most [`MAX_EXPORT_VARIABLES`] distinct names of one
    /// line, each at most [`MAX_EXPORT_VARIABLE_BYTES`]).
    pub variables: Vec<String>,
    /// First day of the period covered, `YYYY-MM-DD`.
    pub period_start: Option<String>,
    /// Last day of the period covered, `YYYY-MM-DD`, not before `period_start`.
    pub period_end: Option<String>,
    /// The population concerned (at most [`MAX_EXPORT_TEXT_BYTES`]).
    pub population: String,
    /// Why the data is needed (at most [`MAX_EXPORT_TEXT_BYTES`]).
    pub purpose: String,
    /// The legal basis of the processing (at most [`MAX_EXPORT_TEXT_BYTES`]).
    pub legal_basis: String,
    /// Whether the data is to be pseudonymised before delivery.
    pub pseudonymised: bool,
    /// How the data is to be delivered (one line, at most [`MAX_NAME_BYTES`]).
    pub delivery_mode: String,
}

/// One step of the workflow as asked for locally (the body of `POST .../transitions`,
/// as fedctl sends it and the node reads it); the strings a step does not use stay
/// empty, and are left out when it is written.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    /// The state to move to.
    pub to: ExportState,
    /// A comment; required as the reason of a rejection.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub comment: String,
    /// The conditions of an approval with conditions (required there, empty elsewhere).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub conditions: String,
    /// The delivery reference of a delivery (required there, empty elsewhere).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reference: String,
}

/// One entry of a request's history, in the order every node reads them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The state its author saw when making it (`None` for the creation).
    pub from: Option<ExportState>,
    /// The state it moves to.
    pub to: ExportState,
    /// Who made it: the requester or the provider.
    pub author: PlatformId,
    /// When, in milliseconds since the epoch: the time of the change that wrote it.
    pub at_ms: i64,
    /// The author's comment.
    pub comment: String,
    /// Conditions of an approval with conditions.
    pub conditions: String,
    /// Reference of a delivery.
    pub reference: String,
    /// False when a concurrent step superseded it (see the fold in `fold.rs`): it is
    /// kept for the audit trail but did not count.
    pub applied: bool,
}

/// An export request document as read from its Automerge document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportView {
    /// The document.
    pub id: DocId,
    /// The platform asking for the data, which created the document.
    pub requester: PlatformId,
    /// The platform holding the data.
    pub provider: PlatformId,
    /// The project the data is for.
    pub project: DocId,
    /// What is asked for.
    pub request: ExportRequest,
    /// Where the workflow stands, folded from the history.
    pub state: ExportState,
    /// The conditions of the approval with conditions that counts, if any.
    pub conditions: Option<String>,
    /// The reference of the delivery that counts, if any.
    pub delivery_reference: Option<String>,
    /// Every entry, in the order every node reads them.
    pub history: Vec<HistoryEntry>,
    /// The latest time of the document's changes, in milliseconds since the epoch.
    pub updated_at_ms: i64,
}

pub(crate) fn field_error(field: &str, problem: impl Into<String>) -> ExportError {
    ExportError::Field {
        field: field.chars().take(80).collect(),
        problem: problem.into(),
    }
}

impl ExportRequest {
    /// Checks every field against its limit, and that the period is ordered.
    ///
    /// # Errors
    ///
    /// [`ExportError::Field`] naming the first bad field.
    pub fn check(&self) -> Result<(), ExportError> {
        let field = |name: &str, r: Result<(), String>| r.map_err(|p| field_error(name, p));
        field(
            "title",
            check_text(&self.title, MAX_EXPORT_TITLE_BYTES, false),
        )?;
        for (name, value) in [
            ("dataset", &self.dataset),
            ("population", &self.population),
            ("purpose", &self.purpose),
            ("legal_basis", &self.legal_basis),
        ] {
            field(name, check_multiline_text(value, MAX_EXPORT_TEXT_BYTES))?;
        }
        field("variables", check_variables(&self.variables))?;
        for (name, date) in [
            ("period_start", &self.period_start),
            ("period_end", &self.period_end),
        ] {
            if let Some(date) = date {
                field(name, check_date(date))?;
            }
        }
        if let (Some(start), Some(end)) = (&self.period_start, &self.period_end) {
            if end < start {
                return Err(field_error(
                    "period_end",
                    format!("is {end}, before the start of the period {start}"),
                ));
            }
        }
        field(
            "delivery_mode",
            check_text(&self.delivery_mode, MAX_NAME_BYTES, true),
        )
    }
}

fn check_variables(variables: &[String]) -> Result<(), String> {
    if variables.len() > MAX_EXPORT_VARIABLES {
        return Err(format!(
            "lists {} variables, at most {MAX_EXPORT_VARIABLES} allowed",
            variables.len()
        ));
    }
    let mut seen = std::collections::BTreeSet::new();
    for v in variables {
        check_text(v, MAX_EXPORT_VARIABLE_BYTES, false)
            .map_err(|p| format!("has a variable that {p}"))?;
        if !seen.insert(v.as_str()) {
            return Err(format!("lists `{}` twice", v.escape_debug()));
        }
    }
    Ok(())
}

/// Why `provider` cannot receive a request from `requester` made at `time_ms` under the
/// membership `state`: it must be another platform (not a relay), active at that time.
/// Every node checks this on the creating change, so a request never names a platform
/// that cannot answer it.
pub(crate) fn check_provider(
    state: &MembershipState,
    requester: &PlatformId,
    provider: &PlatformId,
    time_ms: i64,
) -> Result<(), String> {
    if provider == requester {
        return Err("it is the requester itself; a request goes to another platform".into());
    }
    let secs = u64::try_from(time_ms.div_euclid(1000)).unwrap_or(0);
    match state.members.get(provider) {
        None => Err("it is not a member of the federation".into()),
        Some(m) if m.role != Role::Platform => Err("it is a relay, not a platform".into()),
        Some(m) if !m.rights.contains(crate::chain::body::Right::AnswerExports) => {
            Err("it does not hold the `answer_exports` right".into())
        }
        Some(m) => match m.status(Timestamp(secs)) {
            MemberStatus::Active => Ok(()),
            status => Err(format!("its membership is {}", status.name())),
        },
    }
}
