//! The epoch rule: what builds on the start of an epoch is sealed under its key or later.
//!
//! Removing a platform from a private document draws a new epoch key that the removed
//! platform never receives. Its old key still opens the old epoch, so a change that
//! builds on the removal but is sealed under the old key would leak the document's new
//! content to the platform just removed. Nodes therefore refuse such a change, whoever
//! wrote it, as soon as its dependencies are known.
//!
//! Concurrent changes are another matter: a change made without knowledge of the
//! removal may still use the old epoch, since it reveals nothing written after it.

use crate::ids::ChangeHash;
use crate::seal::KeyGrant;

/// The epoch rule for a change sealed under `epoch`: `Some(reason)` if a grant of a later
/// epoch was started by a change among the change's ancestors (`depends_on(started_by)`
/// says whether it is), naming both epochs and the starting change; `None` otherwise.
///
/// When several later epochs apply, the reason names the earliest of them, the first
/// one the change should have used at least.
pub fn superseded_epoch(
    epoch: u32,
    grants: &[KeyGrant],
    depends_on: impl Fn(&ChangeHash) -> bool,
) -> Option<String> {
    let (later, started_by) = grants
        .iter()
        .filter(|g| g.epoch > epoch)
        .filter_map(|g| g.started_by.map(|h| (g.epoch, h)))
        .filter(|(_, h)| depends_on(h))
        .min()?;
    Some(format!(
        "sealed under epoch {epoch}, but it depends on change {started_by}, which started epoch {later}: it must be sealed under epoch {later} or a later one"
    ))
}
