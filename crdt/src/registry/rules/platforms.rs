//! Rules of the platforms registry: a platform edits only its own entry, and that entry
//! is a well-formed profile.
//!
//! The root map has one key per platform, its platform id. Every operation of a change
//! must lie under the author's own key: on that key of the root, or in an object that
//! descends from it. After the change, the author's entry (if present) must
//! read as a [`PlatformProfile`](crate::registry::platforms::PlatformProfile) within its
//! limits.

use automerge::{ObjType, ReadDoc, Value, ROOT};

use super::{quote, RuleInput};
use crate::registry::as_of::AsOf;
use crate::registry::platforms::read_profile;

pub(super) fn check<D: ReadDoc>(input: &RuleInput<'_, D>) -> Result<(), String> {
    let own = input.author.to_string();
    if let Some(key) = input.touched.iter().find(|k| **k != own) {
        return Err(format!(
            "edits the entry `{}`; a platform may edit only its own entry `{own}`",
            quote(key)
        ));
    }
    if input.touched.is_empty() {
        return Ok(());
    }
    // The author's entry as the document holds it now, not as of the change's own heads:
    // only the author edits its entry, and every change of the author that the document
    // holds is in this change's history (its changes form one line, and a second one
    // with the same number is judged on a rebuild at its dependencies), so both read the
    // same; reading as of other heads costs a walk of the history to compute them.
    let state = AsOf::at(input.after, None);
    match state.get(ROOT, own.as_str()) {
        Ok(None) => Ok(()),
        Ok(Some((Value::Object(ObjType::Map), obj))) => read_profile(&state, &obj)
            .map(|_| ())
            .map_err(|e| e.to_string()),
        Ok(Some(_)) => Err(format!("the entry `{own}` must be a map of profile fields")),
        Err(e) => Err(format!("the entry `{own}` cannot be read: {e}")),
    }
}
