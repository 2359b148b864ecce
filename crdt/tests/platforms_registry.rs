//! The platforms registry from the attacker's side: field-level rules, dependency
//! buffering and its cap, the author's sequence, equivocation, revocation frontiers, and
//! convergence whatever the delivery order.

mod common;
mod support;

use std::collections::{BTreeMap, BTreeSet};

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ObjType, ROOT};
use fed_crdt::chain::Chain;
use fed_crdt::envelope::{ChangeEnvelope, RefusalCheck};
use fed_crdt::error::ProfileError;
use fed_crdt::ids::{ChangeHash, DocId, PlatformId};
use fed_crdt::limits::{MAX_NAME_BYTES, MAX_PENDING_PER_AUTHOR};
use fed_crdt::registry::platforms::{profile_change, read_profiles, PlatformProfile};
use fed_crdt::registry::{Document, Outcome};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use common::{key, pid, P1, P2, P3, T0};
use support::*;

/// Receives every envelope in order and returns all outcomes.
fn receive_all(doc: &mut Document, chain: &Chain, envs: &[ChangeEnvelope]) -> Vec<Outcome> {
    envs.iter()
        .flat_map(|e| doc.receive(chain, e.clone()))
        .collect()
}

/// The refusals a document holds for good, as (change, check).
fn refusal_set(doc: &Document) -> BTreeSet<(ChangeHash, RefusalCheck)> {
    doc.refusals().map(|r| (r.change_hash, r.check)).collect()
}

fn profiles(doc: &Document) -> BTreeMap<PlatformId, PlatformProfile> {
    read_profiles(doc.automerge())
}

#[test]
fn a_platform_sets_and_updates_its_own_profile() {
    let chain = registry_chain();
    let mut doc = registry(&chain);
    let first = set_profile(&doc, &chain, P1, "AP-HP", T0 + 1_000);
    assert!(first.deps.is_empty());
    accept(&mut doc, &chain, first.clone());
    assert_eq!(
        profiles(&doc),
        BTreeMap::from([(pid(P1), profile("AP-HP"))])
    );

    // Nothing to change: no change at all.
    let same = profile_change(&doc, &chain, &key(P1), &profile("AP-HP"), ms(T0 + 2_000));
    assert!(same.unwrap().is_none());

    let mut updated = profile("AP-HP");
    updated.description = "Entrepôt de données de santé\nParis".into();
    updated.addresses = vec![];
    let second = profile_change(&doc, &chain, &key(P1), &updated, ms(T0 + 2_000))
        .unwrap()
        .unwrap()
        .into_envelope();
    assert_eq!(second.deps, vec![first.change_hash]);
    // Making the change did not touch the document.
    assert_eq!(doc.heads(), vec![first.change_hash]);
    accept(&mut doc, &chain, second.clone());
    assert_eq!(profiles(&doc)[&pid(P1)], updated);
    assert_eq!(doc.heads(), vec![second.change_hash]);
    let trail: Vec<ChangeHash> = doc.accepted().map(|e| e.change_hash).collect();
    assert_eq!(trail, vec![first.change_hash, second.change_hash]);
}

#[test]
fn a_profile_over_its_limits_is_refused_locally() {
    let chain = registry_chain();
    let doc = registry(&chain);
    let mut bad = profile("AP-HP");
    bad.display_name = "x".repeat(MAX_NAME_BYTES + 1);
    let err = profile_change(&doc, &chain, &key(P1), &bad, ms(T0 + 1_000)).unwrap_err();
    assert!(
        matches!(&err, ProfileError::Field { field, .. } if field == "display_name"),
        "{err}"
    );
    let err = profile_change(&doc, &chain, &key(P1), &profile("AP-HP"), ms(T0)).unwrap_err();
    assert!(matches!(err, ProfileError::ClockBehind { .. }), "{err}");
    let project = Document::new(
        DocId::random(fed_crdt::ids::DocKind::Project, [1; 16]),
        &chain,
    );
    let err =
        profile_change(&project, &chain, &key(P1), &profile("x"), ms(T0 + 1_000)).unwrap_err();
    assert!(
        matches!(err, ProfileError::NotPlatformsRegistry { .. }),
        "{err}"
    );
}

/// The registry with P1's and P2's profiles accepted.
fn two_profiles() -> (Chain, Document) {
    let chain = registry_chain();
    let mut doc = registry(&chain);
    let a = set_profile(&doc, &chain, P1, "AP-HP", T0 + 1_000);
    accept(&mut doc, &chain, a);
    let b = set_profile(&doc, &chain, P2, "HCL", T0 + 1_001);
    accept(&mut doc, &chain, b);
    (chain, doc)
}

/// P2 makes `edit` under its own actor and signs it; the registry must refuse it by a
/// rule, untouched. Returns the reason.
fn refused_rule(edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>)) -> String {
    let (chain, mut doc) = two_profiles();
    let before = (doc.heads(), profiles(&doc));
    let change = raw_change(doc.automerge(), &actor(P2), ms(T0 + 2_000), edit);
    let env = seal(P2, &chain, doc.id(), &change);
    let r = refused_by(&doc.receive(&chain, env), RefusalCheck::Rule);
    assert_eq!(
        (doc.heads(), profiles(&doc)),
        before,
        "a refused change never touches the document"
    );
    r.reason
}

#[test]
fn editing_another_platforms_entry_is_refused() {
    let victim = pid(P1).to_string();
    let reason = refused_rule(|tx| {
        let Some((_, obj)) = automerge::ReadDoc::get(tx, ROOT, victim.as_str()).unwrap() else {
            panic!("P1 has an entry")
        };
        tx.put(&obj, "display_name", "pwned").unwrap();
    });
    assert!(reason.contains(&pid(P1).to_string()), "{reason}");
}

#[test]
fn deleting_or_replacing_another_platforms_entry_is_refused() {
    let victim = pid(P1).to_string();
    refused_rule(|tx| tx.delete(ROOT, victim.as_str()).unwrap());
    let victim = pid(P1).to_string();
    refused_rule(|tx| {
        tx.put_object(ROOT, victim.as_str(), ObjType::Map).unwrap();
    });
    // A key that is no platform at all.
    refused_rule(|tx| tx.put(ROOT, "platforms", "mine").unwrap());
}

#[test]
fn editing_own_entry_and_another_in_one_change_is_refused() {
    let own = pid(P2).to_string();
    let victim = pid(P1).to_string();
    refused_rule(|tx| {
        let Some((_, obj)) = automerge::ReadDoc::get(tx, ROOT, own.as_str()).unwrap() else {
            panic!("P2 has an entry")
        };
        tx.put(&obj, "contact", "new").unwrap();
        tx.delete(ROOT, victim.as_str()).unwrap();
    });
}

fn own_entry_edit(
    edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>, &automerge::ObjId),
) -> String {
    let own = pid(P2).to_string();
    refused_rule(move |tx| {
        let Some((_, obj)) = automerge::ReadDoc::get(tx, ROOT, own.as_str()).unwrap() else {
            panic!("P2 has an entry")
        };
        edit(tx, &obj);
    })
}

#[test]
fn an_unknown_profile_field_is_refused() {
    let reason = own_entry_edit(|tx, obj| tx.put(obj, "role", "admin").unwrap());
    assert!(reason.contains("role"), "{reason}");
}

#[test]
fn an_overlong_display_name_is_refused() {
    let reason = own_entry_edit(|tx, obj| {
        tx.put(obj, "display_name", "x".repeat(MAX_NAME_BYTES + 1))
            .unwrap()
    });
    assert!(reason.contains("display_name"), "{reason}");
}

#[test]
fn fields_of_the_wrong_type_or_missing_are_refused() {
    own_entry_edit(|tx, obj| tx.put(obj, "display_name", 42_i64).unwrap());
    own_entry_edit(|tx, obj| tx.put(obj, "addresses", "one").unwrap());
    own_entry_edit(|tx, obj| {
        let list = tx.put_object(obj, "addresses", ObjType::List).unwrap();
        tx.insert(&list, 0, 7_u64).unwrap();
    });
    own_entry_edit(|tx, obj| tx.delete(obj, "contact").unwrap());
    own_entry_edit(|tx, obj| {
        let list = tx.put_object(obj, "addresses", ObjType::List).unwrap();
        for i in 0..17 {
            tx.insert(&list, i, format!("/ip4/10.0.0.{i}/tcp/1"))
                .unwrap();
        }
    });
    let own = pid(P2).to_string();
    refused_rule(move |tx| tx.put(ROOT, own.as_str(), "just a string").unwrap());
}

#[test]
fn a_platform_may_delete_its_own_entry() {
    let (chain, mut doc) = two_profiles();
    let own = pid(P2).to_string();
    let change = raw_change(doc.automerge(), &actor(P2), ms(T0 + 2_000), |tx| {
        tx.delete(ROOT, own.as_str()).unwrap()
    });
    let env = seal(P2, &chain, doc.id(), &change);
    accept(&mut doc, &chain, env);
    assert_eq!(profiles(&doc).keys().collect::<Vec<_>>(), vec![&pid(P1)]);
}

#[test]
fn a_child_before_its_parent_waits_then_both_are_accepted() {
    let chain = registry_chain();
    let mut author = registry(&chain);
    let parent = set_profile(&author, &chain, P1, "AP-HP", T0 + 1_000);
    accept(&mut author, &chain, parent.clone());
    let child = set_profile(&author, &chain, P1, "AP-HP 2", T0 + 1_001);

    let mut doc = registry(&chain);
    assert_eq!(
        doc.receive(&chain, child.clone()),
        vec![Outcome::Buffered {
            change_hash: child.change_hash
        }]
    );
    assert_eq!(doc.buffered(), 1);
    assert!(doc.heads().is_empty());
    let outcomes = doc.receive(&chain, parent.clone());
    assert_eq!(
        accepted(&outcomes),
        vec![parent.change_hash, child.change_hash]
    );
    assert_eq!(doc.buffered(), 0);
    assert_eq!(profiles(&doc)[&pid(P1)], profile("AP-HP 2"));
    // Receiving either again changes nothing.
    assert!(doc.receive(&chain, child).is_empty());
}

/// P1's own history in the registry: one profile, then `updates` updates, each on the
/// previous; the description of update `i` is `update {i}`.
fn own_history(chain: &Chain, updates: usize) -> Vec<ChangeEnvelope> {
    let registry_id = DocId::platforms_registry(&chain.federation());
    let mut am = Automerge::new();
    am.set_actor(ActorId::from(&actor(P1)[..]));
    let own = pid(P1).to_string();
    let mut envs = Vec::new();
    for i in 0..=updates {
        let mut tx = am.transaction();
        if i == 0 {
            let obj = tx.put_object(ROOT, own.as_str(), ObjType::Map).unwrap();
            tx.put(&obj, "display_name", "AP-HP").unwrap();
            tx.put(&obj, "description", "").unwrap();
            tx.put(&obj, "contact", "").unwrap();
            tx.put_object(&obj, "addresses", ObjType::List).unwrap();
        } else {
            let (_, obj) = automerge::ReadDoc::get(&tx, ROOT, own.as_str())
                .unwrap()
                .unwrap();
            tx.put(&obj, "description", format!("update {i}")).unwrap();
        }
        let (hash, _) = tx.commit_with(
            automerge::transaction::CommitOptions::default().with_time(ms(T0 + 1_000) + i as i64),
        );
        let change = automerge::ReadDoc::get_change_by_hash(&am, &hash.unwrap()).unwrap();
        envs.push(seal(P1, chain, registry_id, &change));
    }
    envs
}

#[test]
fn the_buffer_is_capped_per_author() {
    let chain = registry_chain();
    let envs = own_history(&chain, MAX_PENDING_PER_AUTHOR + 1);
    let mut doc = registry(&chain);
    // Everything but the first: each waits, until the cap drops the oldest.
    let outcomes = receive_all(&mut doc, &chain, &envs[1..]);
    let dropped: Vec<ChangeHash> = outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Dropped { change_hash } => Some(*change_hash),
            _ => None,
        })
        .collect();
    assert_eq!(dropped, vec![envs[1].change_hash]);
    assert_eq!(doc.buffered_for(&pid(P1)), MAX_PENDING_PER_AUTHOR);
    assert_eq!(doc.buffered_for(&pid(P2)), 0);

    // The first arrives; the dropped one is fetched again: everything is accepted.
    let outcomes = doc.receive(&chain, envs[0].clone());
    assert_eq!(accepted(&outcomes), vec![envs[0].change_hash]);
    let outcomes = doc.receive(&chain, envs[1].clone());
    assert_eq!(accepted(&outcomes).len(), MAX_PENDING_PER_AUTHOR + 1);
    assert_eq!(doc.buffered(), 0);
    assert_eq!(doc.accepted().len(), envs.len());
    let last = format!("update {}", MAX_PENDING_PER_AUTHOR + 1);
    assert_eq!(profiles(&doc)[&pid(P1)].description, last);
}

/// Far more stored changes of one author than the buffer cap, read back in any order
/// (a store reads them by hash): every one is accepted again and the last value reads.
#[test]
fn a_long_stored_history_loads_whole_in_any_order() {
    let chain = registry_chain();
    let updates = 5 * MAX_PENDING_PER_AUTHOR;
    let envs = own_history(&chain, updates);
    let last = format!("update {updates}");
    let mut orders: Vec<Vec<ChangeEnvelope>> = vec![envs.iter().rev().cloned().collect()];
    let mut by_hash = envs.clone();
    by_hash.sort_by_key(|e| e.change_hash);
    orders.push(by_hash);
    for seed in 0..3 {
        let mut shuffled = envs.clone();
        shuffled.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        orders.push(shuffled);
    }
    for (n, order) in orders.into_iter().enumerate() {
        let mut doc = registry(&chain);
        let loaded = doc.load_stored(&chain, order);
        assert!(
            loaded.is_complete(),
            "order {n}: {:?} missing",
            loaded.missing.len()
        );
        assert_eq!(loaded.stored, envs.len());
        assert_eq!(loaded.accepted, envs.len(), "order {n}");
        assert!(
            loaded.outcomes.is_empty(),
            "order {n}: {:?}",
            loaded.outcomes.first()
        );
        assert_eq!(doc.buffered(), 0);
        assert_eq!(profiles(&doc)[&pid(P1)].description, last, "order {n}");
    }
}

/// The same history received from the network in reverse order: the cap drops the
/// oldest waiting changes (a flood protection), which is exactly what loading must not do.
#[test]
fn the_cap_still_holds_for_what_the_network_sends() {
    let chain = registry_chain();
    let envs = own_history(&chain, 2 * MAX_PENDING_PER_AUTHOR);
    let mut doc = registry(&chain);
    let outcomes = receive_all(
        &mut doc,
        &chain,
        &envs.iter().rev().cloned().collect::<Vec<_>>(),
    );
    let dropped = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Dropped { .. }))
        .count();
    assert!(dropped > 0, "the network path keeps its cap");
    assert!(doc.accepted().len() < envs.len());
}

/// A stored history with a hole (a change lost from the store) is reported, not served
/// as an older document.
#[test]
fn a_stored_history_with_a_hole_is_reported() {
    let chain = registry_chain();
    let mut envs = own_history(&chain, 10);
    let lost = envs.remove(4).change_hash;
    let mut doc = registry(&chain);
    let loaded = doc.load_stored(&chain, envs.clone());
    assert!(!loaded.is_complete());
    // The change right after the hole names a dependency held nowhere; the 5 after it
    // wait on changes that are themselves waiting.
    assert_eq!(loaded.missing.len(), 1, "{:?}", loaded.missing);
    assert_eq!(doc.buffered(), 6);
    assert!(!loaded.missing.contains(&lost));
    assert_eq!(loaded.accepted, 4);
}

#[test]
fn a_sequence_number_that_skips_is_refused_without_harm() {
    let chain = registry_chain();
    let doc = registry(&chain);
    let env = set_profile(&doc, &chain, P1, "AP-HP", T0 + 1_000);
    let mut expanded = env.decode().unwrap().decode();
    expanded.seq = 3;
    let forged: automerge::Change = expanded.into();
    let mut doc = registry(&chain);
    let r = refused_by(
        &doc.receive(&chain, seal(P1, &chain, doc.id(), &forged)),
        RefusalCheck::Sequence,
    );
    assert!(r.reason.contains("sequence number 3"), "{r}");
    // The genuine change is still welcome.
    accept(&mut doc, &chain, env);
}

#[test]
fn a_change_made_on_an_older_state_is_numbered_by_its_own_history() {
    let chain = registry_chain();
    let mut doc = registry(&chain);
    let c1 = set_profile(&doc, &chain, P1, "AP-HP", T0 + 1_000);
    accept(&mut doc, &chain, c1.clone());
    // P2 builds on c1 alone; P1 goes on with c2.
    let mut behind = registry(&chain);
    accept(&mut behind, &chain, c1.clone());
    let e = set_profile(&behind, &chain, P2, "HCL", T0 + 1_001);
    let c2 = set_profile(&doc, &chain, P1, "AP-HP 2", T0 + 1_002);
    accept(&mut doc, &chain, c2);
    accept(&mut doc, &chain, e.clone());
    // A change of P1 on e (not on c2): its history holds one change of P1, so it must be
    // number 2, whatever the document holds besides.
    accept(&mut behind, &chain, e);
    let genuine = set_profile(&behind, &chain, P1, "AP-HP bis", T0 + 1_003);
    let mut expanded = genuine.decode().unwrap().decode();
    assert_eq!(expanded.seq, 2);
    expanded.seq = 3;
    let forged: automerge::Change = expanded.into();
    let r = refused_by(
        &doc.receive(&chain, seal(P1, &chain, doc.id(), &forged)),
        RefusalCheck::Sequence,
    );
    assert!(r.reason.contains("holds 1 changes"), "{r}");
}

#[test]
fn two_changes_with_one_sequence_number_are_both_refused_in_any_order() {
    let chain = registry_chain();
    let empty = registry(&chain);
    let x = set_profile(&empty, &chain, P1, "AP-HP", T0 + 1_000);
    let y = set_profile(&empty, &chain, P1, "Not AP-HP", T0 + 1_001);
    // P2 builds on x before anyone notices.
    let mut p2 = registry(&chain);
    accept(&mut p2, &chain, x.clone());
    let z = set_profile(&p2, &chain, P2, "HCL", T0 + 1_002);
    let w = set_profile(&empty, &chain, P3, "CHU Lille", T0 + 1_003);

    let orders = [
        vec![x.clone(), z.clone(), y.clone(), w.clone()],
        vec![y.clone(), w.clone(), x.clone(), z.clone()],
        vec![z.clone(), y.clone(), x.clone(), w.clone()],
    ];
    let mut results = Vec::new();
    for order in orders {
        let mut doc = registry(&chain);
        receive_all(&mut doc, &chain, &order);
        results.push((
            doc.heads(),
            profiles(&doc),
            refusal_set(&doc),
            doc.buffered(),
        ));
    }
    let expected_refusals = BTreeSet::from([
        (x.change_hash, RefusalCheck::Equivocation),
        (y.change_hash, RefusalCheck::Equivocation),
        (z.change_hash, RefusalCheck::Dependency),
    ]);
    for r in &results {
        assert_eq!(r, &results[0]);
    }
    assert_eq!(results[0].0, vec![w.change_hash]);
    assert_eq!(results[0].2, expected_refusals);
    assert_eq!(results[0].3, 0);
}

/// P1's c1 and c2; P2's e on c1 and d on c2 and e; P3's f. P1 is then revoked with the
/// frontier {c1}.
struct Revocation {
    before: Chain,
    after: Chain,
    c1: ChangeEnvelope,
    c2: ChangeEnvelope,
    e: ChangeEnvelope,
    d: ChangeEnvelope,
    f: ChangeEnvelope,
}

fn revocation() -> Revocation {
    let before = registry_chain();
    let mut author = registry(&before);
    let c1 = set_profile(&author, &before, P1, "AP-HP", T0 + 1_000);
    accept(&mut author, &before, c1.clone());
    let e = set_profile(&author, &before, P2, "HCL", T0 + 1_001);
    let c2 = set_profile(&author, &before, P1, "AP-HP (moved)", T0 + 1_002);
    accept(&mut author, &before, c2.clone());
    accept(&mut author, &before, e.clone());
    let d = set_profile(&author, &before, P2, "HCL (after c2)", T0 + 1_003);
    let f = set_profile(&registry(&before), &before, P3, "CHU Lille", T0 + 1_004);
    assert_eq!(d.deps.len(), 2);
    let mut after = before.clone();
    let id = author.id();
    revoke(&mut after, T0 + 1_500, P1, id, vec![c1.change_hash]);
    Revocation {
        before,
        after,
        c1,
        c2,
        e,
        d,
        f,
    }
}

/// P1's change made after its revocation, on top of c2: no active member builds on it.
fn late_change(s: &Revocation) -> ChangeEnvelope {
    let mut p1 = registry(&s.before);
    for env in [&s.c1, &s.c2] {
        accept(&mut p1, &s.before, env.clone());
    }
    set_profile(&p1, &s.before, P1, "AP-HP (after revocation)", T0 + 1_600)
}

#[test]
fn a_revocation_keeps_what_active_members_built_on_and_holds_the_rest() {
    let s = revocation();
    let mut doc = registry(&s.before);
    let all = [
        s.c1.clone(),
        s.c2.clone(),
        s.e.clone(),
        s.d.clone(),
        s.f.clone(),
    ];
    let outcomes = receive_all(&mut doc, &s.before, &all);
    assert_eq!(accepted(&outcomes).len(), 5);
    assert_eq!(profiles(&doc)[&pid(P1)], profile("AP-HP (moved)"));

    // c2 is outside the frontier, but P2 (active) built d on it: both stay, and so does
    // the revoked platform's profile.
    let outcomes = doc.rebuild(&s.after);
    assert!(refusals(&outcomes).is_empty(), "{outcomes:?}");
    for env in &all {
        assert!(doc.is_accepted(&env.change_hash));
    }
    assert_eq!(profiles(&doc)[&pid(P1)], profile("AP-HP (moved)"));
    assert_eq!(profiles(&doc)[&pid(P2)], profile("HCL (after c2)"));

    // What P1 writes afterwards, that nobody active builds on, is never applied.
    let late = late_change(&s);
    let outcomes = doc.receive(&s.after, late.clone());
    assert!(accepted(&outcomes).is_empty(), "{outcomes:?}");
    assert!(!doc.is_accepted(&late.change_hash));
    assert_eq!(profiles(&doc)[&pid(P1)], profile("AP-HP (moved)"));
    assert!(doc.rebuild(&s.after).is_empty());
    assert!(!doc.is_accepted(&late.change_hash));
}

#[test]
fn a_revocation_ends_in_the_same_state_whatever_the_order() {
    let s = revocation();
    let late = late_change(&s);
    let all = [
        s.c1.clone(),
        s.c2.clone(),
        s.e.clone(),
        s.d.clone(),
        s.f.clone(),
    ];

    // A: everything before the revocation, then the revocation, then the late change.
    let mut a = registry(&s.before);
    receive_all(&mut a, &s.before, &all);
    a.rebuild(&s.after);
    receive_all(&mut a, &s.after, std::slice::from_ref(&late));

    // B: the revocation first, the changes in reverse.
    let mut b = registry(&s.after);
    let mut reversed: Vec<ChangeEnvelope> = all.iter().rev().cloned().collect();
    reversed.insert(0, late.clone());
    receive_all(&mut b, &s.after, &reversed);

    // C: part before, the revocation arrives with the next envelope (receive rebuilds).
    let mut c = registry(&s.before);
    receive_all(
        &mut c,
        &s.before,
        &[s.c2.clone(), s.f.clone(), s.c1.clone()],
    );
    receive_all(&mut c, &s.after, &[late.clone(), s.d.clone(), s.e.clone()]);

    // D: seeded random orders, all after the revocation.
    let mut others = Vec::new();
    let mut with_late = all.to_vec();
    with_late.push(late.clone());
    for seed in 0..32 {
        let mut order = with_late.clone();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let mut doc = registry(&s.after);
        receive_all(&mut doc, &s.after, &order);
        others.push(doc);
    }

    let state = |doc: &Document| (doc.heads(), profiles(doc), refusal_set(doc), doc.buffered());
    let expected = state(&a);
    assert!(expected.2.is_empty(), "nothing refused: {:?}", expected.2);
    assert_eq!(expected.3, 1, "the late change waits, never applied");
    assert_eq!(expected.1[&pid(P1)], profile("AP-HP (moved)"));
    for doc in [&b, &c].into_iter().chain(others.iter()) {
        assert_eq!(state(doc), expected);
        assert!(!doc.is_accepted(&late.change_hash));
    }
}

#[test]
fn a_revoked_authors_change_waits_until_an_active_member_builds_on_it() {
    let s = revocation();
    let mut doc = registry(&s.after);
    // c2 alone: outside the frontier and built on by nobody yet: recorded as refused,
    // and held, never applied.
    let outcomes = doc.receive(&s.after, s.c2.clone());
    let refused = refusals(&outcomes);
    assert_eq!(refused.len(), 1, "{outcomes:?}");
    assert_eq!(refused[0].check, RefusalCheck::Frontier);
    assert!(refused[0].to_string().contains(&pid(P1).to_string()));
    assert!(accepted(&outcomes).is_empty());
    assert_eq!(doc.buffered(), 1);
    // c1 is within the frontier: accepted; c2 still waits.
    let outcomes = doc.receive(&s.after, s.c1.clone());
    assert_eq!(accepted(&outcomes), vec![s.c1.change_hash]);
    assert!(refusals(&outcomes).is_empty());
    assert!(!doc.is_accepted(&s.c2.change_hash));
    receive_all(&mut doc, &s.after, std::slice::from_ref(&s.e));
    // d, by P2, depends on c2: c2 counts now, and d with it.
    let outcomes = doc.receive(&s.after, s.d.clone());
    let mut got = accepted(&outcomes);
    got.sort();
    let mut want = vec![s.c2.change_hash, s.d.change_hash];
    want.sort();
    assert_eq!(got, want);
    assert_eq!(doc.buffered(), 0);
}

/// Three platforms write their profiles, each on what it had seen.
fn three_platforms() -> (Chain, Vec<ChangeEnvelope>) {
    let chain = registry_chain();
    let mut p1 = registry(&chain);
    let mut p2 = registry(&chain);
    let mut p3 = registry(&chain);
    let a1 = set_profile(&p1, &chain, P1, "AP-HP", T0 + 1_000);
    accept(&mut p1, &chain, a1.clone());
    let b1 = set_profile(&p2, &chain, P2, "HCL", T0 + 1_001);
    accept(&mut p2, &chain, b1.clone());
    accept(&mut p3, &chain, a1.clone());
    let c1 = set_profile(&p3, &chain, P3, "CHU Lille", T0 + 1_002);
    accept(&mut p3, &chain, c1.clone());
    accept(&mut p1, &chain, b1.clone());
    let a2 = set_profile(&p1, &chain, P1, "AP-HP Paris", T0 + 1_003);
    accept(&mut p1, &chain, a2.clone());
    receive_all(&mut p2, &chain, &[a1.clone(), c1.clone()]);
    let b2 = set_profile(&p2, &chain, P2, "Hospices Civils de Lyon", T0 + 1_004);
    accept(&mut p2, &chain, b2.clone());
    receive_all(&mut p3, &chain, &[b1.clone(), a2.clone()]);
    let c2 = set_profile(&p3, &chain, P3, "CHU de Lille", T0 + 1_005);
    (chain, vec![a1, b1, c1, a2, b2, c2])
}

#[test]
fn three_platforms_converge_whatever_the_delivery_order() {
    let (chain, envs) = three_platforms();
    let mut states = Vec::new();
    for seed in [1_u64, 2, 3, 42, 1_000] {
        let mut order = envs.clone();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let mut doc = registry(&chain);
        let outcomes = receive_all(&mut doc, &chain, &order);
        assert_eq!(
            accepted(&outcomes).len(),
            envs.len(),
            "seed {seed}: {outcomes:?}"
        );
        assert!(refusals(&outcomes).is_empty());
        assert_eq!(doc.buffered(), 0);
        states.push((doc.heads(), profiles(&doc)));
    }
    for s in &states {
        assert_eq!(s, &states[0]);
    }
    let expected = BTreeMap::from([
        (pid(P1), profile("AP-HP Paris")),
        (pid(P2), profile("Hospices Civils de Lyon")),
        (pid(P3), profile("CHU de Lille")),
    ]);
    assert_eq!(states[0].1, expected);
    let mut heads = vec![envs[4].change_hash, envs[5].change_hash];
    heads.sort();
    assert_eq!(states[0].0, heads);
}

/// The registry of three platforms in full, and a peer's copy holding its first three
/// changes.
fn full_and_partial() -> (Chain, Vec<ChangeEnvelope>, Document, Document) {
    let (chain, envs) = three_platforms();
    let (full, _) = Document::from_envelopes(
        DocId::platforms_registry(&chain.federation()),
        &chain,
        envs.clone(),
    );
    let mut partial = registry(&chain);
    receive_all(&mut partial, &chain, &envs[..3]);
    (chain, envs, full, partial)
}

#[test]
fn anti_entropy_sends_what_the_peer_lacks() {
    let (chain, envs, full, mut partial) = full_and_partial();

    let missing = full.envelopes_missing_from(&partial.heads(), &[], usize::MAX);
    let hashes: Vec<ChangeHash> = missing.iter().map(|e| e.change_hash).collect();
    assert_eq!(
        hashes,
        envs[3..].iter().map(|e| e.change_hash).collect::<Vec<_>>()
    );
    let outcomes = receive_all(&mut partial, &chain, &missing);
    assert_eq!(accepted(&outcomes).len(), 3);
    assert_eq!(partial.heads(), full.heads());
    assert!(full
        .envelopes_missing_from(&full.heads(), &[], usize::MAX)
        .is_empty());
    // Unknown heads are ignored: everything is sent.
    assert_eq!(
        full.envelopes_missing_from(&[ChangeHash([1; 32])], &[], usize::MAX)
            .len(),
        envs.len()
    );
    // A limit takes the oldest first, in causal order, so that the asker can apply them.
    let all = full.envelopes_missing_from(&[], &[], usize::MAX);
    let first = full.envelopes_missing_from(&[], &[], 2);
    assert_eq!(first, all[..2]);
}

#[test]
fn samples_of_the_peers_history_spare_what_it_holds_when_its_heads_are_unknown() {
    let (_, envs, full, partial) = full_and_partial();
    // 1 and 2 changes back from the newest of three; never more than asked for.
    let samples = partial.history_samples(8);
    assert_eq!(samples, vec![envs[1].change_hash, envs[0].change_hash]);
    assert_eq!(partial.history_samples(1), vec![envs[1].change_hash]);
    // The peer's head stands for a change of its own that `full` never saw: without
    // samples everything is sent; with them, only from the newest sample on.
    let unknown = [ChangeHash([1; 32])];
    let missing = full.envelopes_missing_from(&unknown, &samples, usize::MAX);
    let hashes: Vec<ChangeHash> = missing.iter().map(|e| e.change_hash).collect();
    assert_eq!(
        hashes,
        envs[2..].iter().map(|e| e.change_hash).collect::<Vec<_>>()
    );
}

#[test]
fn a_document_reloads_from_its_stored_envelopes() {
    let (chain, envs) = three_platforms();
    let mut doc = registry(&chain);
    receive_all(&mut doc, &chain, &envs);
    let stored: Vec<ChangeEnvelope> = doc.accepted().cloned().collect();
    let json = serde_json::to_string(&stored).unwrap();
    let back: Vec<ChangeEnvelope> = serde_json::from_str(&json).unwrap();
    let (reloaded, outcomes) = Document::from_envelopes(doc.id(), &chain, back);
    assert_eq!(accepted(&outcomes).len(), envs.len());
    assert_eq!(reloaded.heads(), doc.heads());
    assert_eq!(profiles(&reloaded), profiles(&doc));
}

#[test]
fn malformed_operations_are_refused_without_harm() {
    use automerge::legacy::{ObjectId, OpId, SortedVec};
    let (chain, doc) = two_profiles();
    let own = pid(P2).to_string();
    let change = raw_change(doc.automerge(), &actor(P2), ms(T0 + 2_000), |tx| {
        let (_, obj) = automerge::ReadDoc::get(tx, ROOT, own.as_str())
            .unwrap()
            .unwrap();
        tx.put(&obj, "contact", "x").unwrap();
    });
    let p1_actor = ActorId::from(&actor(P1)[..]);
    type Forge<'a> = Box<dyn Fn(&mut automerge::ExpandedChange) + 'a>;
    let forgeries: Vec<Forge<'_>> = vec![
        // Into an object that does not exist (Automerge itself would panic on it).
        Box::new(|c| c.operations[0].obj = ObjectId::Id(OpId(999, p1_actor.clone()))),
        // Into an object of an actor the document has never seen.
        Box::new(|c| c.operations[0].obj = ObjectId::Id(OpId(1, ActorId::from(&[7_u8; 32][..])))),
        // Claiming to overwrite P1's entry from inside P2's own profile.
        Box::new(|c| c.operations[0].pred = SortedVec::from(vec![OpId(1, p1_actor.clone())])),
    ];
    for (i, forge) in forgeries.iter().enumerate() {
        let mut expanded = change.decode();
        forge(&mut expanded);
        let forged: automerge::Change = expanded.into();
        let mut target = doc.clone();
        let before = (target.heads(), profiles(&target));
        let env = seal(P2, &chain, target.id(), &forged);
        let r = refused_by(&target.receive(&chain, env), RefusalCheck::Malformed);
        assert_eq!(
            (target.heads(), profiles(&target)),
            before,
            "forgery #{i}: {r}"
        );
        assert!(
            Automerge::load(&target.automerge().save()).is_ok(),
            "forgery #{i}"
        );
        // The genuine change still goes through.
        let genuine = seal(P2, &chain, target.id(), &change);
        accept(&mut target, &chain, genuine);
    }
}
