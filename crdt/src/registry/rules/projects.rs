//! Rules of project documents: who may edit which root key, and what a valid project is.
//!
//! The first change (no dependencies) creates the document: it must write `owner` as its
//! author, a `nonce` from which the document's id derives with that owner, and a valid
//! `project`. Afterwards, as of the document at the change's dependencies: nobody changes
//! `owner` or `nonce`; only the owner edits `shares` and `deleted`; the
//! owner and the platforms shared with `write` edit `project`; once `deleted` is true,
//! only the owner may change anything, and only `deleted`. After the change the document
//! must read as a valid project whose dates are ordered, and whose references exist in
//! the catalog of the membership record the change cites.

use automerge::{ObjType, ReadDoc, ScalarValue, Value, ROOT};

use super::RuleInput;
use crate::ids::{DocId, DocKind};
use crate::registry::projects::{read_strict, Access, Parts, ProjectView};

/// The rules; the reading of the document after the change, when it was read.
pub(super) fn check<D: ReadDoc>(input: &RuleInput<'_, D>) -> Result<Option<ProjectView>, String> {
    let touched = input.touched;
    if touched.is_empty() && input.before.is_empty() {
        return Ok(None);
    }
    if input.before.is_empty() {
        return check_creation(input);
    }
    let before = Before::read(input)?;
    let is_owner = before.owner == input.author.to_string();
    if touched.is_empty() {
        // A change that edits nothing (a revocation's acknowledgement) still vouches, for
        // its author, for everything it depends on: only the project's audience may.
        if is_owner || before.access.is_some() {
            return Ok(None);
        }
        return Err(format!(
            "{} writes in a project that is not shared with it (owner {})",
            input.author, before.owner
        ));
    }
    for key in touched {
        let allowed = match key.as_str() {
            "owner" => return Err("nobody may change the owner of a project".into()),
            "nonce" => {
                return Err(
                    "nobody may change the nonce of a project: its id derives from it".into(),
                )
            }
            "deleted" => is_owner,
            _ if before.deleted => {
                return Err(format!(
                    "edits `{key}` of a deleted project; only its owner may change `deleted`"
                ))
            }
            "shares" => is_owner,
            "project" => is_owner || before.access == Some(Access::Write),
            other => {
                return Err(format!(
                    "edits the root key `{}`, which a project does not have",
                    other.escape_debug()
                ))
            }
        };
        if !allowed {
            return Err(format!(
                "{} may not edit `{key}` of this project (owner {}, access {})",
                input.author,
                before.owner,
                before.access.map_or("none", Access::name)
            ));
        }
    }
    let parts = read_strict(&input.state())?;
    check_result(input, parts, touched.contains("project")).map(Some)
}

/// The first change: its author creates the document as its owner, under the id derived
/// from itself and the nonce it writes. Anyone else's root change for this id names
/// another owner or a nonce that does not give the id, and is refused; the owner's own
/// rival creations all carry its first sequence number, and are refused as a pair.
fn check_creation<D: ReadDoc>(input: &RuleInput<'_, D>) -> Result<Option<ProjectView>, String> {
    let parts = read_strict(&input.state())?;
    if parts.owner != input.author {
        return Err(format!(
            "creates a project owned by {}; its author {} may only create its own",
            parts.owner, input.author
        ));
    }
    if DocId::derive(DocKind::Project, &input.author, parts.nonce) != input.document {
        return Err(format!(
            "creates {} with a nonce from which its author {} does not derive that id; \
             only the platform that drew the id may create the project",
            input.document, input.author
        ));
    }
    check_result(input, parts, true).map(Some)
}

/// The document after the change, read strictly as `parts`: valid, dates ordered,
/// references in the catalog (`details`: when the change edited them). Returns it as
/// the document's view.
fn check_result<D: ReadDoc>(
    input: &RuleInput<'_, D>,
    parts: Parts,
    details: bool,
) -> Result<ProjectView, String> {
    if details {
        parts.project.check().map_err(|e| e.to_string())?;
        let state = input
            .chain
            .state_at(input.cited_seq)
            .ok_or_else(|| format!("the cited record seq {} is unknown", input.cited_seq))?;
        parts
            .project
            .check_catalog(&state.catalog)
            .map_err(|e| e.to_string())?;
    }
    Ok(parts.into_view(input.document))
}

/// What the rules need of the document at the change's dependencies.
struct Before {
    owner: String,
    deleted: bool,
    access: Option<Access>,
}

impl Before {
    fn read<D: ReadDoc>(input: &RuleInput<'_, D>) -> Result<Before, String> {
        let doc = input.after;
        let heads = input.before;
        let owners = doc
            .get_all_at(ROOT, "owner", heads)
            .map_err(|e| e.to_string())?;
        let owner = match owners.as_slice() {
            [(Value::Scalar(v), _)] => match v.as_ref() {
                ScalarValue::Str(s) => s.to_string(),
                _ => return Err("the project has no valid owner".into()),
            },
            _ => return Err("the project has no single owner at the change's dependencies".into()),
        };
        let deleted = matches!(
            doc.get_at(ROOT, "deleted", heads),
            Ok(Some((Value::Scalar(v), _))) if matches!(v.as_ref(), ScalarValue::Boolean(true))
        );
        let access = match doc.get_at(ROOT, "shares", heads) {
            Ok(Some((Value::Object(ObjType::Map), shares))) => {
                match doc.get_at(&shares, input.author.to_string().as_str(), heads) {
                    Ok(Some((Value::Scalar(v), _))) => match v.as_ref() {
                        ScalarValue::Str(s) if s.as_str() == "write" => Some(Access::Write),
                        ScalarValue::Str(s) if s.as_str() == "read" => Some(Access::Read),
                        _ => None,
                    },
                    _ => None,
                }
            }
            _ => None,
        };
        Ok(Before {
            owner,
            deleted,
            access,
        })
    }
}
