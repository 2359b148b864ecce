//! Project documents from the attacker's side: who may edit which part, references to the
//! catalog, dates, deletion, and convergence whatever the delivery order.

mod common;
mod support;

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ROOT};
use fed_crdt::chain::body::{CatalogEntries, Entity, EntityType, RecordBody, RegulatoryFramework};
use fed_crdt::chain::Chain;
use fed_crdt::envelope::{ChangeEnvelope, RefusalCheck};
use fed_crdt::error::ProjectError;
use fed_crdt::ids::{DocId, DocKind};
use fed_crdt::registry::projects::{
    create_project, delete_project, read_project, share_project, update_project, Access, Project,
    ProjectMember,
};
use fed_crdt::registry::{acknowledge_revocation, Document};
use rand::seq::SliceRandom;
use rand::SeedableRng;

use common::{key, pid, push, ADMIN_A, P1, P2, P3, T0};
use support::*;

const NOW: u64 = T0 + 1_000;

/// The registry chain with a catalog: framework `gdpr`, entity `aphp`.
fn chain() -> Chain {
    let mut chain = registry_chain();
    push(
        &mut chain,
        CHAIN_TIME + 100,
        ADMIN_A,
        RecordBody::catalog(CatalogEntries {
            frameworks: vec![RegulatoryFramework {
                id: "gdpr".into(),
                name: "GDPR".into(),
                description_url: None,
            }],
            entity_types: vec![EntityType {
                id: "hospital".into(),
                name: "Hospital".into(),
            }],
            entities: vec![Entity {
                id: "aphp".into(),
                name: "AP-HP".into(),
                entity_type: "hospital".into(),
            }],
        }),
    );
    chain
}

fn project(name: &str) -> Project {
    Project {
        code: "COHORT-1".into(),
        name: name.into(),
        description: "A cohort study".into(),
        start_date: Some("2027-01-01".into()),
        end_date: Some("2028-12-31".into()),
        regulatory_frameworks: vec!["gdpr".into()],
        entities: vec!["aphp".into()],
        members: vec![ProjectMember {
            name: "Jeanne Martin".into(),
            email: "jeanne@example.org".into(),
            role: "PI".into(),
        }],
    }
}

/// The nonce P1 draws for its project.
const NONCE: [u8; 16] = [7; 16];

/// The id of P1's project: derived from P1 and [`NONCE`].
fn doc_id() -> DocId {
    DocId::derive(DocKind::Project, &pid(P1), NONCE)
}

/// P1 creates the project and shares it `write` with P2 and `read` with P3; returns the
/// document and the envelopes in order.
fn shared(chain: &Chain) -> (Document, Vec<ChangeEnvelope>) {
    let mut doc = Document::new(doc_id(), chain);
    let (id, create) = create_project(chain, &key(P1), NONCE, &project("Cohort"), ms(NOW))
        .map(|(id, own)| (id, own.into_envelope()))
        .unwrap();
    assert_eq!(id, doc_id());
    accept(&mut doc, chain, create.clone());
    let mut envs = vec![create];
    for (seed, access) in [(P2, Access::Write), (P3, Access::Read)] {
        let env = share_project(&doc, chain, &key(P1), pid(seed), Some(access), ms(NOW + 1))
            .unwrap()
            .unwrap()
            .into_envelope();
        accept(&mut doc, chain, env.clone());
        envs.push(env);
    }
    (doc, envs)
}

fn view(doc: &Document) -> fed_crdt::registry::projects::ProjectView {
    read_project(doc.id(), doc.automerge()).expect("a readable project")
}

#[test]
fn the_owner_creates_and_shares() {
    let chain = chain();
    let (doc, _) = shared(&chain);
    let v = view(&doc);
    assert_eq!(v.owner, pid(P1));
    assert_eq!(v.project, project("Cohort"));
    assert_eq!(v.shares[&pid(P2)], Access::Write);
    assert_eq!(v.shares[&pid(P3)], Access::Read);
    assert!(!v.deleted);
}

#[test]
fn a_write_platform_edits_and_a_read_platform_cannot() {
    let chain = chain();
    let (mut doc, _) = shared(&chain);
    let env = update_project(&doc, &chain, &key(P2), &project("Renamed"), ms(NOW + 2))
        .unwrap()
        .unwrap()
        .into_envelope();
    accept(&mut doc, &chain, env);
    assert_eq!(view(&doc).project.name, "Renamed");

    let env = update_project(&doc, &chain, &key(P3), &project("Hijacked"), ms(NOW + 3))
        .unwrap()
        .unwrap()
        .into_envelope();
    let r = refused_by(&doc.receive(&chain, env), RefusalCheck::Rule);
    assert!(r.reason.contains("may not edit `project`"), "{r}");
    assert_eq!(view(&doc).project.name, "Renamed");
}

#[test]
fn only_the_owner_shares_and_unshares() {
    let chain = chain();
    let (mut doc, _) = shared(&chain);
    let env = share_project(
        &doc,
        &chain,
        &key(P2),
        pid(READER),
        Some(Access::Read),
        ms(NOW + 2),
    )
    .unwrap()
    .unwrap()
    .into_envelope();
    let r = refused_by(&doc.receive(&chain, env), RefusalCheck::Rule);
    assert!(r.reason.contains("may not edit `shares`"), "{r}");

    let env = share_project(&doc, &chain, &key(P1), pid(P3), None, ms(NOW + 3))
        .unwrap()
        .unwrap()
        .into_envelope();
    accept(&mut doc, &chain, env);
    assert!(!view(&doc).shares.contains_key(&pid(P3)));
}

/// An empty change vouches for everything it depends on (a revocation's
/// acknowledgement): the project's audience may write one, and a platform it was unshared
/// from may not, on every node alike, its own included.
#[test]
fn only_the_audience_writes_a_change_that_edits_nothing() {
    let chain = chain();
    let (mut doc, _) = shared(&chain);
    let reader_ack =
        acknowledge_revocation(doc.automerge(), &chain, doc_id(), &key(P3), ms(NOW + 2))
            .expect("an empty change")
            .into_envelope();
    accept(&mut doc, &chain, reader_ack);
    let unshare = share_project(&doc, &chain, &key(P1), pid(P3), None, ms(NOW + 3))
        .unwrap()
        .unwrap()
        .into_envelope();
    accept(&mut doc, &chain, unshare);
    let after = acknowledge_revocation(doc.automerge(), &chain, doc_id(), &key(P3), ms(NOW + 4))
        .expect("an empty change");
    let envelope = after.envelope().clone();
    let own = doc
        .check_own(&chain, after)
        .expect_err("its own node refuses it");
    assert_eq!(own.check, RefusalCheck::Rule);
    assert!(own.reason.contains("not shared with it"), "{own}");
    let r = refused_by(&doc.receive(&chain, envelope), RefusalCheck::Rule);
    assert!(r.reason.contains("not shared with it"), "{r}");
    let writer_ack =
        acknowledge_revocation(doc.automerge(), &chain, doc_id(), &key(P2), ms(NOW + 5))
            .expect("an empty change")
            .into_envelope();
    accept(&mut doc, &chain, writer_ack);
}

#[test]
fn references_must_be_in_the_cited_catalog() {
    let chain = chain();
    let (doc, _) = shared(&chain);
    let mut bad = project("Cohort");
    bad.entities.push("unknown".into());
    assert!(matches!(
        update_project(&doc, &chain, &key(P1), &bad, ms(NOW + 2)),
        Err(ProjectError::Field { .. })
    ));
    let mut doc = doc;
    let change = raw_change(doc.automerge(), &actor(P1), ms(NOW + 2), |tx| {
        let Some((_, obj)) = tx.get(ROOT, "project").unwrap() else {
            panic!("no project map")
        };
        let list = tx
            .put_object(&obj, "regulatory_frameworks", ObjType::List)
            .unwrap();
        tx.insert(&list, 0, "hipaa").unwrap();
    });
    let r = refused_by(
        &doc.receive(&chain, seal(P1, &chain, doc_id(), &change)),
        RefusalCheck::Rule,
    );
    assert!(r.reason.contains("not in the catalog"), "{r}");
}

#[test]
fn dates_must_be_ordered() {
    let chain = chain();
    let (mut doc, _) = shared(&chain);
    let mut bad = project("Cohort");
    bad.end_date = Some("2026-12-31".into());
    assert!(update_project(&doc, &chain, &key(P2), &bad, ms(NOW + 2)).is_err());
    let change = raw_change(doc.automerge(), &actor(P2), ms(NOW + 2), |tx| {
        let Some((_, obj)) = tx.get(ROOT, "project").unwrap() else {
            panic!("no project map")
        };
        tx.put(&obj, "end_date", "2026-12-31").unwrap();
    });
    let r = refused_by(
        &doc.receive(&chain, seal(P2, &chain, doc_id(), &change)),
        RefusalCheck::Rule,
    );
    assert!(r.reason.contains("before the start date"), "{r}");
}

#[test]
fn nobody_creates_a_project_for_another_owner() {
    let chain = chain();
    let mut doc = Document::new(doc_id(), &chain);
    let change = raw_change(&automerge::Automerge::new(), &actor(P2), ms(NOW), |tx| {
        tx.put(ROOT, "owner", pid(P1).to_string()).unwrap();
        tx.put(ROOT, "nonce", hex::encode(NONCE)).unwrap();
        let obj = tx.put_object(ROOT, "project", ObjType::Map).unwrap();
        tx.put(&obj, "code", "X").unwrap();
        tx.put(&obj, "name", "Forged").unwrap();
        tx.put(&obj, "description", "").unwrap();
        for list in ["regulatory_frameworks", "entities", "members"] {
            tx.put_object(&obj, list, ObjType::List).unwrap();
        }
    });
    let r = refused_by(
        &doc.receive(&chain, seal(P2, &chain, doc_id(), &change)),
        RefusalCheck::Rule,
    );
    assert!(r.reason.contains("may only create its own"), "{r}");
}

#[test]
fn nobody_changes_the_owner() {
    let chain = chain();
    let (mut doc, _) = shared(&chain);
    for seed in [P1, P2] {
        let change = raw_change(doc.automerge(), &actor(seed), ms(NOW + 2), |tx| {
            tx.put(ROOT, "owner", pid(P2).to_string()).unwrap();
        });
        let r = refused_by(
            &doc.receive(&chain, seal(seed, &chain, doc_id(), &change)),
            RefusalCheck::Rule,
        );
        assert!(r.reason.contains("nobody may change the owner"), "{r}");
    }
    assert_eq!(view(&doc).owner, pid(P1));
}

#[test]
fn a_deleted_project_is_frozen_but_for_its_owner_undeleting() {
    let chain = chain();
    let (mut doc, _) = shared(&chain);
    let env = delete_project(&doc, &chain, &key(P1), ms(NOW + 2))
        .unwrap()
        .unwrap()
        .into_envelope();
    accept(&mut doc, &chain, env);
    assert!(view(&doc).deleted);

    for seed in [P1, P2] {
        let env = update_project(&doc, &chain, &key(seed), &project("Late"), ms(NOW + 3))
            .unwrap()
            .unwrap()
            .into_envelope();
        let r = refused_by(&doc.receive(&chain, env), RefusalCheck::Rule);
        assert!(r.reason.contains("deleted project"), "{r}");
    }
    let env = share_project(
        &doc,
        &chain,
        &key(P1),
        pid(READER),
        Some(Access::Read),
        ms(NOW + 3),
    )
    .unwrap()
    .unwrap()
    .into_envelope();
    refused_by(&doc.receive(&chain, env), RefusalCheck::Rule);
    let change = raw_change(doc.automerge(), &actor(P2), ms(NOW + 3), |tx| {
        tx.put(ROOT, "deleted", false).unwrap();
    });
    refused_by(
        &doc.receive(&chain, seal(P2, &chain, doc_id(), &change)),
        RefusalCheck::Rule,
    );
    let change = raw_change(doc.automerge(), &actor(P1), ms(NOW + 3), |tx| {
        tx.put(ROOT, "deleted", false).unwrap();
    });
    accept(&mut doc, &chain, seal(P1, &chain, doc_id(), &change));
    assert!(!view(&doc).deleted);
}

#[test]
fn a_platform_without_write_projects_is_refused() {
    let chain = chain();
    let (id, env) = create_project(&chain, &key(READER), NONCE, &project("Cohort"), ms(NOW))
        .map(|(id, own)| (id, own.into_envelope()))
        .unwrap();
    let mut doc = Document::new(id, &chain);
    let r = refused_by(&doc.receive(&chain, env), RefusalCheck::Right);
    assert!(r.reason.contains("write_projects"), "{r}");
}

#[test]
fn three_documents_converge_whatever_the_order() {
    let chain = chain();
    let (mut doc, mut envs) = shared(&chain);
    let edit = update_project(&doc, &chain, &key(P2), &project("By P2"), ms(NOW + 2))
        .unwrap()
        .unwrap()
        .into_envelope();
    accept(&mut doc, &chain, edit.clone());
    envs.push(edit);
    let refused = update_project(&doc, &chain, &key(P3), &project("By P3"), ms(NOW + 3))
        .unwrap()
        .unwrap()
        .into_envelope();
    envs.push(refused);
    let unshare = share_project(&doc, &chain, &key(P1), pid(P3), None, ms(NOW + 4))
        .unwrap()
        .unwrap()
        .into_envelope();
    envs.push(unshare);

    let views: Vec<_> = [1u64, 2, 3]
        .into_iter()
        .map(|seed| {
            let mut order = envs.clone();
            order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
            let mut doc = Document::new(doc_id(), &chain);
            for env in order {
                doc.receive(&chain, env);
            }
            assert_eq!(doc.accepted().len(), 5);
            view(&doc)
        })
        .collect();
    assert_eq!(views[0], views[1]);
    assert_eq!(views[1], views[2]);
    assert_eq!(views[0].project.name, "By P2");
    assert!(!views[0].shares.contains_key(&pid(P3)));
}

#[test]
fn the_view_a_document_keeps_is_the_one_it_reads_after_every_change() {
    let chain = chain();
    let (doc, mut envs) = shared(&chain);
    // An edit and an unshare made concurrently on the same heads (whichever comes second
    // lands on heads the other moved), and a refused edit: the kept view must follow
    // every path.
    for (seed, name, at) in [(P2, "By P2", 2), (P3, "By P3", 4)] {
        envs.push(
            update_project(&doc, &chain, &key(seed), &project(name), ms(NOW + at))
                .unwrap()
                .unwrap()
                .into_envelope(),
        );
    }
    envs.push(
        share_project(&doc, &chain, &key(P1), pid(P3), None, ms(NOW + 5))
            .unwrap()
            .unwrap()
            .into_envelope(),
    );
    for seed in 0..8u64 {
        let mut order = envs.clone();
        order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed));
        let mut doc = Document::new(doc_id(), &chain);
        for env in order {
            doc.receive(&chain, env);
            assert_eq!(
                doc.project_view(),
                read_project(doc.id(), doc.automerge()),
                "seed {seed}, after {} accepted changes",
                doc.accepted().len()
            );
        }
        assert_eq!(doc.accepted().len(), 5, "seed {seed}");
    }
}

#[test]
fn a_concurrent_change_is_judged_where_it_lands_as_it_would_be_on_its_dependencies() {
    let chain = chain();
    let (doc, envs) = shared(&chain);
    let edit = |seed, name: &str, at| {
        update_project(&doc, &chain, &key(seed), &project(name), ms(NOW + at))
            .unwrap()
            .unwrap()
            .into_envelope()
    };
    // Three changes on the same heads: P2's edit, P3's edit (read access: refused) and
    // the owner's unshare of P3. Whichever comes first lands on the heads; the others
    // are judged on a document that already holds it.
    let concurrent = [
        edit(P2, "By P2", 2),
        edit(P3, "By P3", 3),
        share_project(&doc, &chain, &key(P1), pid(P3), None, ms(NOW + 4))
            .unwrap()
            .unwrap()
            .into_envelope(),
    ];
    let mut results = Vec::new();
    for order in [[0, 1, 2], [2, 1, 0], [1, 2, 0], [1, 0, 2]] {
        let mut doc = Document::new(doc_id(), &chain);
        for env in envs.iter().chain(order.iter().map(|i| &concurrent[*i])) {
            doc.receive(&chain, env.clone());
        }
        assert!(doc.judged_in_place() >= 1, "order {order:?}");
        let refused: Vec<_> = doc.refusals().map(|r| (r.change_hash, r.check)).collect();
        assert_eq!(
            refused,
            [(concurrent[1].change_hash, RefusalCheck::Rule)],
            "order {order:?}"
        );
        results.push((doc.heads(), view(&doc)));
    }
    for r in &results {
        assert_eq!(r, &results[0]);
    }
    assert_eq!(results[0].1.project.name, "By P2");
    assert!(!results[0].1.shares.contains_key(&pid(P3)));
}

/// A root change by `seed` that creates project `doc_id()` with `seed` as its owner and
/// `nonce`, as a member who learnt the id would forge it.
fn rival_creation(chain: &Chain, seed: u8, nonce: [u8; 16]) -> ChangeEnvelope {
    let change = raw_change(&automerge::Automerge::new(), &actor(seed), ms(NOW), |tx| {
        tx.put(ROOT, "owner", pid(seed).to_string()).unwrap();
        tx.put(ROOT, "nonce", hex::encode(nonce)).unwrap();
        let obj = tx.put_object(ROOT, "project", ObjType::Map).unwrap();
        tx.put(&obj, "code", "RIVAL").unwrap();
        tx.put(&obj, "name", "Rival").unwrap();
        tx.put(&obj, "description", "").unwrap();
        for list in ["regulatory_frameworks", "entities", "members"] {
            tx.put_object(&obj, list, ObjType::List).unwrap();
        }
        tx.put_object(ROOT, "shares", ObjType::Map).unwrap();
        tx.put(ROOT, "deleted", false).unwrap();
    });
    seal(seed, chain, doc_id(), &change)
}

#[test]
fn a_member_cannot_create_a_project_under_another_owners_id() {
    let chain = chain();
    let (real_id, real) = create_project(&chain, &key(P1), NONCE, &project("Cohort"), ms(NOW))
        .map(|(id, own)| (id, own.into_envelope()))
        .unwrap();
    assert_eq!(real_id, doc_id());
    for nonce in [NONCE, [8; 16]] {
        for rival_first in [true, false] {
            let rival = rival_creation(&chain, P2, nonce);
            let mut doc = Document::new(doc_id(), &chain);
            if rival_first {
                let r = refused_by(&doc.receive(&chain, rival), RefusalCheck::Rule);
                assert!(r.reason.contains("does not derive that id"), "{r}");
                accept(&mut doc, &chain, real.clone());
            } else {
                accept(&mut doc, &chain, real.clone());
                let r = refused_by(&doc.receive(&chain, rival), RefusalCheck::Rule);
                assert!(r.reason.contains("does not derive that id"), "{r}");
            }
            assert_eq!(view(&doc).owner, pid(P1));
            assert_eq!(view(&doc).project, project("Cohort"));
        }
    }
}

#[test]
fn the_nonce_never_changes() {
    let chain = chain();
    let (mut doc, _) = shared(&chain);
    let change = raw_change(doc.automerge(), &actor(P1), ms(NOW + 2), |tx| {
        tx.put(ROOT, "nonce", hex::encode([9u8; 16])).unwrap();
    });
    let r = refused_by(
        &doc.receive(&chain, seal(P1, &chain, doc_id(), &change)),
        RefusalCheck::Rule,
    );
    assert!(r.reason.contains("nobody may change the nonce"), "{r}");
}

#[test]
fn the_owners_double_creation_is_refused_as_a_pair_in_any_order() {
    let chain = chain();
    let (_, first) = create_project(&chain, &key(P1), NONCE, &project("First"), ms(NOW))
        .map(|(id, own)| (id, own.into_envelope()))
        .unwrap();
    let (_, second) = create_project(&chain, &key(P1), NONCE, &project("Second"), ms(NOW))
        .map(|(id, own)| (id, own.into_envelope()))
        .unwrap();
    assert_ne!(first.change_hash, second.change_hash);
    let mut on_first = Document::new(doc_id(), &chain);
    accept(&mut on_first, &chain, first.clone());
    let share = share_project(
        &on_first,
        &chain,
        &key(P1),
        pid(P2),
        Some(Access::Read),
        ms(NOW + 1),
    )
    .unwrap()
    .unwrap()
    .into_envelope();
    let envs = [first.clone(), second.clone(), share.clone()];
    let orders = [
        [0, 1, 2],
        [0, 2, 1],
        [1, 0, 2],
        [1, 2, 0],
        [2, 0, 1],
        [2, 1, 0],
    ];
    for order in orders {
        let mut doc = Document::new(doc_id(), &chain);
        for i in order {
            doc.receive(&chain, envs[i].clone());
        }
        assert_eq!(doc.accepted().len(), 0, "order {order:?}");
        assert_eq!(doc.buffered(), 0, "order {order:?}");
        for env in [&first, &second] {
            let refusal = doc
                .refusals()
                .find(|r| r.change_hash == env.change_hash)
                .unwrap_or_else(|| panic!("order {order:?}: a creation is not refused"));
            assert_eq!(refusal.check, RefusalCheck::Equivocation, "{refusal}");
        }
        assert!(doc.refusals().any(|r| r.change_hash == share.change_hash));
        assert!(read_project(doc_id(), doc.automerge()).is_none());
    }
}

/// The writer's own check runs on the copy its change was made on; it must reach the
/// verdict every other node reaches by applying the envelope, and the copy it keeps
/// must be the document those nodes hold.
#[test]
fn the_writers_own_check_agrees_with_every_other_node() {
    let chain = chain();
    let (mut writer, envs) = shared(&chain);
    let mut other = Document::new(doc_id(), &chain);
    for env in &envs {
        accept(&mut other, &chain, env.clone());
    }
    let replayed = other.replayed();
    for i in 0..20u64 {
        let own = update_project(
            &writer,
            &chain,
            &key(P2),
            &project(&format!("Rev {i}")),
            ms(NOW + 2 + i),
        )
        .unwrap()
        .expect("a change");
        let env = writer.check_own(&chain, own).expect("P2 may write");
        assert_eq!(
            accepted(&writer.receive(&chain, env.clone())),
            [env.change_hash]
        );
        assert_eq!(
            accepted(&other.receive(&chain, env.clone())),
            [env.change_hash]
        );
    }
    assert_eq!(writer.heads(), other.heads());
    assert_eq!(view(&writer), view(&other));
    // Each change arrived on the receiver's heads: it was made again, never applied.
    assert_eq!(other.replayed() - replayed, 20);
    // The kept copy saves and loads like the document built by applying changes.
    let reloaded = automerge::Automerge::load(&writer.automerge().save()).expect("loads");
    assert_eq!(reloaded.get_heads(), other.automerge().get_heads());

    // A read-only platform's edit: refused by its own check as by any other node.
    let own = update_project(&writer, &chain, &key(P3), &project("Hijack"), ms(NOW + 30))
        .unwrap()
        .expect("a change");
    let env = own.envelope().clone();
    let mine = writer.check_own(&chain, own).expect_err("P3 may not edit");
    let theirs = refused_by(&other.receive(&chain, env), RefusalCheck::Rule);
    assert_eq!((mine.check, &mine.reason), (theirs.check, &theirs.reason));
    assert_eq!(view(&writer).project.name, "Rev 19");
}

/// A change made on an older state of the document (another platform's change arrived
/// in between) is checked in full, on a fork at its dependencies.
#[test]
fn an_own_change_made_before_another_arrived_is_checked_in_full() {
    let chain = chain();
    let (mut doc, _) = shared(&chain);
    let own = update_project(&doc, &chain, &key(P2), &project("By P2"), ms(NOW + 2))
        .unwrap()
        .expect("a change");
    let between = share_project(&doc, &chain, &key(P1), pid(P3), None, ms(NOW + 3))
        .unwrap()
        .expect("a change")
        .into_envelope();
    accept(&mut doc, &chain, between);
    let env = doc.check_own(&chain, own).expect("still valid");
    assert_eq!(
        accepted(&doc.receive(&chain, env.clone())),
        [env.change_hash]
    );
    let v = view(&doc);
    assert_eq!(v.project.name, "By P2");
    assert!(!v.shares.contains_key(&pid(P3)));
}

/// Opens nothing: a document under it takes only payloads sealed under a key it lacks.
struct OpensNothing;

impl fed_crdt::registry::document::Sealing for OpensNothing {
    fn open(&self, env: &ChangeEnvelope) -> Result<Vec<u8>, fed_crdt::envelope::Refusal> {
        Err(env.refusal(RefusalCheck::Decrypt, "no key"))
    }

    fn check_epoch(
        &self,
        _env: &ChangeEnvelope,
        _depends_on: &dyn Fn(&fed_crdt::ids::ChangeHash) -> bool,
        _creator: Option<fed_crdt::ids::PlatformId>,
    ) -> Result<(), fed_crdt::envelope::Refusal> {
        Ok(())
    }
}

/// The writer's own change skips verifying the signature it just made, but not the rule
/// that a sealed document's payloads are sealed: one left in the clear is refused.
#[test]
fn an_own_change_left_in_the_clear_in_a_sealed_document_is_refused() {
    let chain = chain();
    let (mut doc, _) = shared(&chain);
    doc.set_sealing(std::sync::Arc::new(OpensNothing));
    let own = update_project(&doc, &chain, &key(P1), &project("Clear"), ms(NOW + 2))
        .unwrap()
        .expect("a change");
    let refusal = doc.check_own(&chain, own).expect_err("left in the clear");
    assert_eq!(refusal.check, RefusalCheck::Decrypt);
    assert!(
        refusal.reason.contains("in the clear"),
        "{}",
        refusal.reason
    );
    assert_eq!(view(&doc).project.name, "Cohort");
}
