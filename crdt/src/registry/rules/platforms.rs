//! Rules of the platforms registry: a platform edits only its own entry, and that entry
//! is a well-formed profile.
//!
//! The root map has one key per platform, its platform id. Every patch of a change must
//! lie under the author's own key: either its first path element is that key, or it is a
//! root-level patch of that key. After the change, the author's entry (if present) must
//! read as a [`PlatformProfile`](crate::registry::platforms::PlatformProfile) within its
//! limits.

use automerge::{ObjType, Patch, PatchAction, Prop, ReadDoc, Value, ROOT};

use super::RuleInput;
use crate::registry::platforms::read_profile;

/// At most this many characters of an untrusted key are quoted in a message.
const QUOTE_CHARS: usize = 80;

pub(super) fn check(input: &RuleInput<'_>) -> Result<(), String> {
    let own = input.author.to_string();
    let mut touched = false;
    for patch in input.patches {
        let key = top_key(patch)?;
        if key != own {
            return Err(format!(
                "edits the entry `{}`; a platform may edit only its own entry `{own}`",
                quote(key)
            ));
        }
        touched = true;
    }
    if !touched {
        return Ok(());
    }
    let state = input.state();
    match state.get(ROOT, own.as_str()) {
        Ok(None) => Ok(()),
        Ok(Some((Value::Object(ObjType::Map), obj))) => read_profile(&state, &obj)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Ok(Some(_)) => Err(format!("the entry `{own}` must be a map of profile fields")),
        Err(e) => Err(format!("the entry `{own}` cannot be read: {e}")),
    }
}

/// The root key a patch lies under.
pub(super) fn top_key(patch: &Patch) -> Result<&str, String> {
    if let Some((_, prop)) = patch.path.first() {
        return match prop {
            Prop::Map(key) => Ok(key.as_str()),
            Prop::Seq(i) => Err(format!("edits index {i} of the root, which is a map")),
        };
    }
    match &patch.action {
        PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key } => Ok(key.as_str()),
        PatchAction::Conflict {
            prop: Prop::Map(key),
        }
        | PatchAction::Increment {
            prop: Prop::Map(key),
            ..
        } => Ok(key.as_str()),
        other => Err(format!(
            "makes a root-level edit of an unexpected kind ({})",
            action_name(other)
        )),
    }
}

fn action_name(action: &PatchAction) -> &'static str {
    match action {
        PatchAction::PutMap { .. } => "put_map",
        PatchAction::PutSeq { .. } => "put_seq",
        PatchAction::Insert { .. } => "insert",
        PatchAction::SpliceText { .. } => "splice_text",
        PatchAction::Increment { .. } => "increment",
        PatchAction::Conflict { .. } => "conflict",
        PatchAction::DeleteMap { .. } => "delete_map",
        PatchAction::DeleteSeq { .. } => "delete_seq",
        PatchAction::Mark { .. } => "mark",
    }
}

fn quote(s: &str) -> String {
    let mut out: String = s.chars().take(QUOTE_CHARS).collect();
    if s.chars().count() > QUOTE_CHARS {
        out.push_str("...");
    }
    out.escape_debug().to_string()
}
