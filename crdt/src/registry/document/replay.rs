//! Applying a received change by making it again.
//!
//! Automerge applies a change by walking every operation of each object the change
//! edits, including every value a key ever had: a project patched five thousand times
//! costs milliseconds per change to apply. A transaction that makes the same edit costs
//! a fraction of that whatever the history. So a change built on the document's heads
//! is first made again, as its author, in a transaction on a copy of the document; if
//! the transaction produces a change with the same hash, it is that change (the hash
//! covers every byte of it) and the copy is the document with it applied. Anything the replay does not reproduce exactly (an operation
//! kind our documents never write, a change made against another state, an attacker's
//! hand-built operations) is left to Automerge's own application.

use std::panic::{catch_unwind, AssertUnwindSafe};

use automerge::legacy::{ElementId, Key, ObjectId, OpId, OpType};
use automerge::transaction::{CommitOptions, Transactable, Transaction};
use automerge::{Automerge, Change, ObjId, ObjType, ReadDoc, ROOT};

/// `change` made again on a copy of `doc`: `None` unless the result is exactly
/// `change`. `doc` must be at the change's dependencies.
pub(super) fn replay(doc: &Automerge, change: &Change) -> Option<Automerge> {
    let mut fork = doc.clone();
    match replay_in_place(&mut fork, change, |_| Ok::<(), ()>(())) {
        InPlace::Applied(()) => Some(fork),
        _ => None,
    }
}

/// What became of making a change again on the document itself.
pub(super) enum InPlace<T, E> {
    /// The document now holds the change; what the check said of it.
    Applied(T),
    /// The check refused it: rolled back, the document is as it was.
    Refused(E),
    /// The replay does not reproduce it: rolled back, the document is as it was.
    NotReproduced,
    /// The replay committed another change, or Automerge panicked on the way: the
    /// document must be rebuilt from its accepted changes.
    Spoiled,
}

/// `change` made again in a transaction on `doc` itself, `check` run on the
/// transaction (which reads with the change's operations in it) before it commits.
///
/// Copying a document for every change costs its size twice (the copy, then dropping
/// the document it replaces): most of what a node with long histories spends. Here
/// nothing is copied: a refused or unreproduced change is rolled back, and only a
/// replay that commits something other than `change` (an operation sequence no honest
/// writer makes) costs a rebuild. `doc` must be at the change's dependencies.
pub(super) fn replay_in_place<T, E>(
    doc: &mut Automerge,
    change: &Change,
    check: impl FnOnce(&Transaction<'_>) -> Result<T, E>,
) -> InPlace<T, E> {
    if change.author().is_some() || !change.extra_bytes().is_empty() || change.is_empty() {
        return InPlace::NotReproduced;
    }
    doc.set_actor(change.actor_id().clone());
    let ops = change.decode().operations;
    let mut options = CommitOptions::default().with_time(change.timestamp());
    if let Some(message) = change.message() {
        options = options.with_message(message);
    }
    let expected = change.hash();
    let made = catch_unwind(AssertUnwindSafe(move || {
        let mut tx = doc.transaction();
        let mut last_insert = None;
        for op in &ops {
            if replay_op(&mut tx, op, &mut last_insert).is_none() {
                tx.rollback();
                return InPlace::NotReproduced;
            }
        }
        match check(&tx) {
            Err(e) => {
                tx.rollback();
                InPlace::Refused(e)
            }
            Ok(t) => match tx.commit_with(options) {
                (Some(hash), _) if hash == expected => InPlace::Applied(t),
                _ => InPlace::Spoiled,
            },
        }
    }));
    made.unwrap_or(InPlace::Spoiled)
}

/// The list element inserted last, and its index: the next insert usually follows it.
type LastInsert = Option<(ObjId, ObjId, usize)>;

/// Makes one operation again; `None` if it is not one the replay reproduces.
fn replay_op(
    tx: &mut Transaction<'_>,
    op: &automerge::legacy::Op,
    last: &mut LastInsert,
) -> Option<()> {
    let obj = object(&op.obj);
    match (&op.key, op.insert) {
        (Key::Map(key), false) => {
            let key = key.as_str();
            match &op.action {
                OpType::Put(value) => tx.put(&obj, key, value.clone()).ok()?,
                OpType::Make(kind @ (ObjType::Map | ObjType::List)) => {
                    tx.put_object(&obj, key, *kind).ok().map(drop)?
                }
                OpType::Delete => tx.delete(&obj, key).ok()?,
                OpType::Increment(by) => tx.increment(&obj, key, *by).ok()?,
                _ => return None,
            }
        }
        (Key::Seq(after), true) => {
            let index = match after {
                ElementId::Head => 0,
                ElementId::Id(id) => {
                    let after = element(id);
                    match last.as_ref() {
                        Some((list, element, i)) if *list == obj && *element == after => i + 1,
                        _ => index_of(tx, &obj, &after)? + 1,
                    }
                }
            };
            let id = match &op.action {
                OpType::Put(value) => {
                    tx.insert(&obj, index, value.clone()).ok()?;
                    tx.list_range(&obj, index..=index).next()?.id()
                }
                OpType::Make(kind @ (ObjType::Map | ObjType::List)) => {
                    tx.insert_object(&obj, index, *kind).ok()?
                }
                _ => return None,
            };
            *last = Some((obj, id, index));
        }
        (Key::Seq(ElementId::Id(id)), false) => {
            let index = index_of(tx, &obj, &element(id))?;
            *last = None;
            match &op.action {
                OpType::Put(value) => tx.put(&obj, index, value.clone()).ok()?,
                OpType::Delete => tx.delete(&obj, index).ok()?,
                OpType::Increment(by) => tx.increment(&obj, index, *by).ok()?,
                _ => return None,
            }
        }
        (Key::Seq(ElementId::Head), false) | (Key::Map(_), true) => return None,
    }
    Some(())
}

/// An object named in an operation. The actor's index in the document is only a hint
/// to Automerge, which looks the actor up when the hint is wrong.
fn object(id: &ObjectId) -> ObjId {
    match id {
        ObjectId::Root => ROOT,
        ObjectId::Id(id) => element(id),
    }
}

fn element(id: &OpId) -> ObjId {
    ObjId::Id(id.counter(), id.actor().clone(), usize::MAX)
}

/// The index of a visible element of `list`.
fn index_of(tx: &Transaction<'_>, list: &ObjId, element: &ObjId) -> Option<usize> {
    tx.list_range(list, ..)
        .find(|item| item.id() == *element)
        .map(|item| item.index)
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, Automerge, Change, ObjType, ReadDoc, ScalarValue, ROOT};

    use super::replay;

    fn actor(n: u8) -> ActorId {
        ActorId::from(&[n; 32][..])
    }

    /// The change `edit` makes on a copy of `doc` as `author`.
    fn change_on(
        doc: &Automerge,
        author: u8,
        edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
    ) -> Change {
        let mut copy = doc.clone();
        copy.set_actor(actor(author));
        let mut tx = copy.transaction();
        edit(&mut tx);
        let (hash, _) = tx.commit_with(
            automerge::transaction::CommitOptions::default().with_time(1_700_000_000_000),
        );
        let hash = hash.expect("the edit changes something");
        copy.get_change_by_hash(&hash).expect("made").clone()
    }

    /// Replays `change` on `doc` and checks the result is the document Automerge's own
    /// application gives, byte for byte, and that the root keys its operations name are
    /// those a diff of the document finds.
    fn replays_exactly(doc: &Automerge, change: &Change) {
        let made = replay(doc, change).expect("the change is made again");
        let mut applied = doc.clone();
        applied.apply_changes([change.clone()]).expect("applies");
        assert_eq!(made.get_heads(), applied.get_heads());
        assert_eq!(made.save(), applied.save());
        let mut in_place = doc.clone();
        let outcome = super::replay_in_place(&mut in_place, change, |_| Ok::<_, ()>(()));
        assert!(matches!(outcome, super::InPlace::Applied(())));
        assert_eq!(
            in_place.save(),
            applied.save(),
            "made again on the document itself"
        );
        let before = doc.get_heads();
        let after = applied.get_heads();
        let diffed = applied.diff(&before, &after);
        let keys = |p: &[automerge::Patch]| {
            let mut keys: Vec<String> = p
                .iter()
                .map(|p| match (p.path.first(), &p.action) {
                    (Some((_, prop)), _) => prop.to_string(),
                    (None, automerge::PatchAction::PutMap { key, .. }) => key.clone(),
                    (None, automerge::PatchAction::DeleteMap { key }) => key.clone(),
                    (
                        None,
                        automerge::PatchAction::Increment {
                            prop: automerge::Prop::Map(key),
                            ..
                        },
                    ) => key.clone(),
                    (None, other) => format!("{other:?}"),
                })
                .collect();
            keys.sort();
            keys.dedup();
            keys
        };
        let touched: Vec<String> = crate::registry::rules::touched_keys(change, &made)
            .expect("keys")
            .into_iter()
            .collect();
        assert_eq!(touched, keys(&diffed), "the same root keys are touched");
    }

    /// A document shaped like a project: nested maps, lists of strings and of maps.
    fn project() -> Automerge {
        let mut doc = Automerge::new();
        doc.set_actor(actor(1));
        let mut tx = doc.transaction();
        tx.put(ROOT, "owner", "p1").expect("put");
        let project = tx.put_object(ROOT, "project", ObjType::Map).expect("map");
        tx.put(&project, "description", "first").expect("put");
        let list = tx
            .put_object(&project, "entities", ObjType::List)
            .expect("list");
        for (i, e) in ["a", "b", "c"].iter().enumerate() {
            tx.insert(&list, i, *e).expect("insert");
        }
        tx.put_object(ROOT, "shares", ObjType::Map).expect("map");
        tx.commit();
        for n in 0..50 {
            let mut tx = doc.transaction();
            tx.put(&project, "description", format!("rev {n}"))
                .expect("put");
            tx.commit();
        }
        doc
    }

    fn object(doc: &Automerge, key: &str) -> automerge::ObjId {
        match doc.get(ROOT, key) {
            Ok(Some((automerge::Value::Object(_), id))) => id,
            other => panic!("no object {key}: {other:?}"),
        }
    }

    #[test]
    fn a_field_overwritten_by_another_platform_is_made_again() {
        let doc = project();
        let p = object(&doc, "project");
        let change = change_on(&doc, 2, |tx| {
            tx.put(&p, "description", "from p2").expect("put");
        });
        replays_exactly(&doc, &change);
    }

    #[test]
    fn new_lists_of_maps_deletes_and_counters_are_made_again() {
        let doc = project();
        let p = object(&doc, "project");
        let shares = object(&doc, "shares");
        let change = change_on(&doc, 1, |tx| {
            let members = tx.put_object(&p, "members", ObjType::List).expect("list");
            for i in 0..3 {
                let m = tx.insert_object(&members, i, ObjType::Map).expect("map");
                tx.put(&m, "name", format!("member {i}")).expect("put");
            }
            let entities = tx.put_object(&p, "entities", ObjType::List).expect("list");
            tx.insert(&entities, 0, "z").expect("insert");
            tx.put(&shares, "p2", "write").expect("put");
            tx.delete(&p, "description").expect("delete");
            tx.put(ROOT, "views", ScalarValue::counter(0))
                .expect("counter");
        });
        replays_exactly(&doc, &change);
        let mut later = doc.clone();
        later.apply_changes([change]).expect("applies");
        let change = change_on(&later, 3, |tx| {
            tx.increment(ROOT, "views", 2).expect("increment");
            tx.delete(&shares, "p2").expect("delete");
        });
        replays_exactly(&later, &change);
    }

    #[test]
    fn appending_to_inserting_into_and_deleting_from_an_existing_list_are_made_again() {
        let doc = project();
        let p = object(&doc, "project");
        let list = match doc.get(&p, "entities") {
            Ok(Some((_, id))) => id,
            other => panic!("no list: {other:?}"),
        };
        let change = change_on(&doc, 2, |tx| {
            tx.insert(&list, 3, "d").expect("append");
            tx.insert(&list, 1, "a2").expect("insert");
            tx.delete(&list, 0).expect("delete");
            tx.put(&list, 0, "a2 again").expect("overwrite");
            let entry = tx.insert_object(&list, 2, ObjType::Map).expect("map");
            tx.put(&entry, "at", 1).expect("put");
        });
        replays_exactly(&doc, &change);
    }

    #[test]
    fn a_first_change_of_a_new_author_on_an_empty_document_is_made_again() {
        let doc = Automerge::new();
        let change = change_on(&doc, 9, |tx| {
            tx.put(ROOT, "nonce", "n").expect("put");
            let m = tx.put_object(ROOT, "project", ObjType::Map).expect("map");
            tx.put(&m, "code", "C").expect("put");
        });
        replays_exactly(&doc, &change);
    }

    #[test]
    fn a_change_made_on_another_state_is_left_to_automerge() {
        let doc = project();
        let p = object(&doc, "project");
        let change = change_on(&doc, 2, |tx| {
            tx.put(&p, "description", "from p2").expect("put");
        });
        // The same edit, but the document moved on meanwhile: the replay makes another
        // change (other dependencies, other predecessors), so it is not used.
        let mut moved = doc.clone();
        let mut tx = moved.transaction();
        tx.put(&p, "description", "concurrent").expect("put");
        tx.commit();
        assert!(replay(&moved, &change).is_none());
    }

    #[test]
    fn a_change_whose_operations_name_unknown_objects_is_left_to_automerge() {
        let doc = project();
        let mut other = Automerge::new();
        other.set_actor(actor(4));
        let mut tx = other.transaction();
        let foreign = tx.put_object(ROOT, "project", ObjType::Map).expect("map");
        tx.commit();
        let change = change_on(&other, 4, |tx| {
            tx.put(&foreign, "description", "elsewhere").expect("put");
        });
        assert!(replay(&doc, &change).is_none());
    }

    #[test]
    fn in_place_a_refused_change_leaves_the_document_as_it_was_and_an_accepted_one_is_exact() {
        use super::{replay_in_place, InPlace};
        let doc = project();
        let change = change_on(&doc, 2, |tx| {
            tx.put(ROOT, "owner", "p2").expect("put");
        });
        let mut refused = doc.clone();
        let outcome = replay_in_place(&mut refused, &change, |tx| {
            // The check reads the change's own operations before it commits.
            let owner = tx
                .get(ROOT, "owner")
                .ok()
                .flatten()
                .map(|(v, _)| v.to_string());
            Err::<(), _>(owner)
        });
        let InPlace::Refused(seen) = outcome else {
            panic!("the check refused it");
        };
        assert_eq!(seen.as_deref(), Some("\"p2\""));
        assert_eq!(refused.get_heads(), doc.get_heads());
        assert_eq!(refused.save(), doc.save(), "rolled back, byte for byte");

        let mut accepted = doc.clone();
        let outcome = replay_in_place(&mut accepted, &change, |_| Ok::<_, ()>(7));
        assert!(matches!(outcome, InPlace::Applied(7)));
        let mut applied = doc.clone();
        applied.apply_changes([change]).expect("applies");
        assert_eq!(accepted.save(), applied.save());
    }

    #[test]
    fn in_place_an_empty_change_is_left_to_automerge() {
        use super::{replay_in_place, InPlace};
        let mut doc = project();
        let mut copy = doc.clone();
        copy.set_actor(actor(3));
        let hash = copy.empty_commit(automerge::transaction::CommitOptions::default());
        let empty = copy.get_change_by_hash(&hash).expect("made").clone();
        let before = doc.save();
        assert!(matches!(
            replay_in_place(&mut doc, &empty, |_| Ok::<_, ()>(())),
            InPlace::NotReproduced
        ));
        assert_eq!(doc.save(), before);
    }
}
