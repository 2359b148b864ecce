//! Field-level rules (check 8): what a change may do to a document of each kind.
//!
//! A change is applied (to the document or to a fork at its dependencies); the rules see
//! which root keys its operations edit and read the state it makes. One file per
//! document kind.
//!
//! What a change edits is read from its own operations, not from a diff of the document
//! before and after it: a diff walks the whole document (every platform's entry of the
//! registry for one platform's edit), the operations are the change's own size. An
//! operation lies under the root key its object descends from, whether or not it is
//! visible in the end (an edit inside an object a concurrent change deleted still
//! edits under that key), so every node finds the same keys for the same change.

mod exports;
mod platforms;
mod projects;

use std::collections::BTreeSet;

use automerge::legacy::{Key, ObjectId};
use automerge::{Automerge, Change, ChangeHash, ObjId, Prop, ReadDoc};

use crate::chain::Chain;
use crate::ids::{DocId, DocKind, PlatformId};
use crate::registry::as_of::AsOf;
use crate::registry::projects::ProjectView;

/// What a rule sees of one change.
pub(crate) struct RuleInput<'a, D: ReadDoc = Automerge> {
    /// The document the change is for: a private document's creation must match its id.
    pub document: DocId,
    /// The change's author (already bound to its actor id).
    pub author: PlatformId,
    /// The change's own time (its Automerge timestamp, milliseconds since the epoch),
    /// which is signed with it: what a history entry's date must say.
    pub time_ms: i64,
    /// The chain the change was checked against; it holds the cited record.
    pub chain: &'a Chain,
    /// The seq of the membership record the change cites.
    pub cited_seq: u64,
    /// The heads of the fork before the change (its dependencies).
    pub before: &'a [ChangeHash],
    /// The root keys the change's operations edit (see [`touched_keys`]).
    pub touched: &'a BTreeSet<String>,
    /// A document holding the change (and, for a change made on an older state, changes
    /// made concurrently with it): the rules read it at `after_heads`.
    pub after: &'a D,
    /// The heads of the state the change makes, in `after`; `None` when that state is
    /// `after` as it is (a change made on the document's heads).
    pub after_heads: Option<&'a [ChangeHash]>,
}

impl<'a, D: ReadDoc> RuleInput<'a, D> {
    /// The state the change makes: what the rules judge.
    pub(crate) fn state(&self) -> AsOf<'a, D> {
        AsOf::at(self.after, self.after_heads)
    }
}

/// Checks one change against the rules of `kind`; the error says why it is refused.
///
/// A project's rules read the whole document the change makes; that reading is returned
/// so that the document keeps it as its view instead of reading the same state again
/// (each read of a key costs every value it ever had).
pub(crate) fn check<D: ReadDoc>(
    kind: DocKind,
    input: &RuleInput<'_, D>,
) -> Result<Option<ProjectView>, String> {
    match kind {
        DocKind::Platforms => platforms::check(input).map(|()| None),
        DocKind::Project => projects::check(input),
        DocKind::Export => exports::check(input).map(|()| None),
    }
}

/// At most this many characters of an untrusted key are quoted in a message.
const QUOTE_CHARS: usize = 80;

/// `s` quoted for a message, cut at [`QUOTE_CHARS`].
pub(super) fn quote(s: &str) -> String {
    let mut out: String = s.chars().take(QUOTE_CHARS).collect();
    if s.chars().count() > QUOTE_CHARS {
        out.push_str("...");
    }
    out.escape_debug().to_string()
}

/// The root keys under which `change`'s operations lie, read in `doc`, a document that
/// holds the change (objects are found by the operation that made them, which every
/// node holding the change holds).
///
/// # Errors
///
/// An operation on the root that is not keyed by a name (the root is a map), or on an
/// object `doc` does not hold.
pub(crate) fn touched_keys<R: ReadDoc>(
    change: &Change,
    doc: &R,
) -> Result<BTreeSet<String>, String> {
    let mut touched = BTreeSet::new();
    let mut seen_objects: BTreeSet<ObjId> = BTreeSet::new();
    for op in change.decode().operations {
        match (&op.obj, &op.key) {
            (ObjectId::Root, Key::Map(key)) => {
                touched.insert(key.to_string());
            }
            (ObjectId::Root, Key::Seq(_)) => {
                return Err("edits the root as a list; the root is a map".into());
            }
            (ObjectId::Id(id), _) => {
                let obj = ObjId::Id(id.counter(), id.actor().clone(), usize::MAX);
                if !seen_objects.insert(obj.clone()) {
                    continue;
                }
                let path = doc
                    .parents(&obj)
                    .map_err(|e| format!("edits an object the document does not hold: {e}"))?
                    .path();
                match path.first() {
                    Some((_, Prop::Map(key))) => {
                        touched.insert(key.clone());
                    }
                    Some((_, Prop::Seq(i))) => {
                        return Err(format!("edits index {i} of the root, which is a map"));
                    }
                    None => return Err("edits an object that is not under the root".into()),
                }
            }
        }
    }
    Ok(touched)
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, Automerge, ObjType, ReadDoc, ROOT};

    use super::touched_keys;

    #[test]
    fn an_edit_lies_under_the_root_key_its_object_descends_from_even_once_deleted() {
        let mut doc = Automerge::new();
        doc.set_actor(ActorId::from(&[1; 32][..]));
        let mut tx = doc.transaction();
        let project = tx.put_object(ROOT, "project", ObjType::Map).expect("map");
        let members = tx
            .put_object(&project, "members", ObjType::List)
            .expect("list");
        tx.commit();
        // One platform edits deep inside `project`; another, concurrently, deletes it.
        let mut editor = doc.fork();
        editor.set_actor(ActorId::from(&[2; 32][..]));
        let mut tx = editor.transaction();
        tx.insert(&members, 0, "alice").expect("insert");
        let (edit, _) = tx.commit();
        let edit = editor
            .get_change_by_hash(&edit.expect("a change"))
            .expect("made")
            .clone();
        let mut tx = doc.transaction();
        tx.delete(ROOT, "project").expect("delete");
        tx.commit();
        doc.apply_changes([edit.clone()]).expect("applies");
        let touched = touched_keys(&edit, &doc).expect("keys");
        assert_eq!(touched.into_iter().collect::<Vec<_>>(), vec!["project"]);
    }

    #[test]
    fn an_edit_of_an_object_the_document_does_not_hold_is_refused() {
        let mut other = Automerge::new();
        other.set_actor(ActorId::from(&[3; 32][..]));
        let mut tx = other.transaction();
        let map = tx.put_object(ROOT, "project", ObjType::Map).expect("map");
        tx.put(&map, "name", "x").expect("put");
        let (hash, _) = tx.commit();
        let change = other
            .get_change_by_hash(&hash.expect("a change"))
            .expect("made")
            .clone();
        // Read in an empty document: the object its second operation edits is unknown.
        let error = touched_keys(&change, &Automerge::new()).expect_err("unknown object");
        assert!(error.contains("does not hold"), "{error}");
    }
}
