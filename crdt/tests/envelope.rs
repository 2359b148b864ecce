//! Change envelopes from the attacker's side: every check of the envelope (sizes,
//! signature, citation, membership, time, decoding and binding) refuses what it should,
//! with the check named, and never lets a refusal of a forged envelope harm the genuine
//! change it imitates.

mod common;
mod support;

use automerge::transaction::Transactable;
use automerge::{Automerge, ROOT};
use fed_crdt::envelope::{
    check_envelope, ChangeEnvelope, NoHistory, RefusalCheck, Rejection, Wait,
};
use fed_crdt::ids::{ChangeHash, DocId, DocKind, FederationId, PlatformId, RecordHash};
use fed_crdt::limits::{MAX_CHANGE_BYTES, MAX_CHANGE_DEPS};
use fed_crdt::registry::Outcome;

use common::{add_platform, key, pid, push, ADMIN_A, P1, P2, P3, T0};
use support::*;

/// P1's genuine profile change on an empty registry, and the chain.
fn genuine() -> (fed_crdt::chain::Chain, ChangeEnvelope) {
    let chain = registry_chain();
    let doc = registry(&chain);
    let env = set_profile(&doc, &chain, P1, "AP-HP", T0 + 1_000);
    (chain, env)
}

fn refused_alone(env: ChangeEnvelope, check: RefusalCheck) -> fed_crdt::envelope::Refusal {
    let chain = registry_chain();
    let mut doc = registry(&chain);
    let hash = env.change_hash;
    let refusal = refused_by(&doc.receive(&chain, env), check);
    assert!(!doc.is_accepted(&hash));
    assert!(
        doc.heads().is_empty(),
        "a refused change never touches the document"
    );
    refusal
}

#[test]
fn a_genuine_envelope_passes_every_check() {
    let (chain, env) = genuine();
    let change = check_envelope(&chain, &env, &NoHistory).expect("valid");
    assert_eq!(ChangeHash::from(change.hash()), env.change_hash);
    let mut doc = registry(&chain);
    accept(&mut doc, &chain, env);
}

#[test]
fn a_tampered_signature_is_refused() {
    let (_, mut env) = genuine();
    env.signature.0[10] ^= 0x01;
    let r = refused_alone(env.clone(), RefusalCheck::Signature);
    assert_eq!(r.author, pid(P1));
    assert!(r.to_string().contains(&pid(P1).to_string()), "{r}");
}

#[test]
fn swapping_the_author_for_another_member_breaks_the_signature() {
    let (_, mut env) = genuine();
    env.author = pid(P2);
    refused_alone(env, RefusalCheck::Signature);
}

#[test]
fn a_change_under_another_platforms_actor_is_refused() {
    // P2 writes its own entry, but under P1's actor id, and signs as itself.
    let chain = registry_chain();
    let doc = registry(&chain);
    let own_key = pid(P2).to_string();
    let change = raw_change(doc.automerge(), &actor(P1), ms(T0 + 1_000), |tx| {
        let obj = tx
            .put_object(ROOT, own_key.as_str(), automerge::ObjType::Map)
            .unwrap();
        tx.put(&obj, "display_name", "HCL").unwrap();
    });
    let env = seal(P2, &chain, doc.id(), &change);
    let r = refused_alone(env, RefusalCheck::ActorBinding);
    assert!(r.reason.contains(&pid(P2).to_string()), "{r}");
}

#[test]
fn wrapping_someone_elses_change_does_not_get_it_refused() {
    // P2 re-signs P1's genuine change as its own author: refused (actor binding), and
    // P1's own envelope of the same change is still accepted afterwards.
    let (chain, genuine) = genuine();
    let change = genuine.decode().expect("genuine payload");
    let forged = seal(P2, &chain, genuine.document, &change);
    let mut doc = registry(&chain);
    refused_by(&doc.receive(&chain, forged), RefusalCheck::ActorBinding);
    accept(&mut doc, &chain, genuine);
}

#[test]
fn hash_and_deps_must_match_the_payload() {
    let (_, env) = genuine();
    let mut wrong_hash = env.clone();
    wrong_hash.change_hash = ChangeHash([7; 32]);
    wrong_hash.sign(&key(P1));
    let r = refused_alone(wrong_hash, RefusalCheck::HashMismatch);
    assert!(r.reason.contains(&env.change_hash.to_string()), "{r}");

    let mut wrong_deps = env.clone();
    wrong_deps.deps = vec![ChangeHash([8; 32])];
    wrong_deps.sign(&key(P1));
    refused_alone(wrong_deps, RefusalCheck::DepsMismatch);
}

#[test]
fn an_oversized_payload_is_refused_before_decoding() {
    let (_, mut env) = genuine();
    // Not a change at all: if it were decoded, the refusal would be `decode`.
    env.payload = vec![0xff; MAX_CHANGE_BYTES + 1];
    env.sign(&key(P1));
    let r = refused_alone(env.clone(), RefusalCheck::Size);
    assert!(r.reason.contains(&MAX_CHANGE_BYTES.to_string()), "{r}");
    // Signature checks come after sizes: an unsigned oversized envelope is still `size`.
    env.signature.0[0] ^= 1;
    refused_alone(env, RefusalCheck::Size);
}

#[test]
fn too_many_dependencies_are_refused_before_decoding() {
    let (_, mut env) = genuine();
    env.deps = (0..=MAX_CHANGE_DEPS)
        .map(|i| ChangeHash([i as u8; 32]))
        .collect();
    env.sign(&key(P1));
    refused_alone(env, RefusalCheck::Size);
}

#[test]
fn a_garbage_payload_is_refused_by_decoding() {
    let (_, mut env) = genuine();
    env.payload = b"not an automerge change".to_vec();
    env.sign(&key(P1));
    refused_alone(env.clone(), RefusalCheck::Decode);
    env.payload.clear();
    env.sign(&key(P1));
    refused_alone(env, RefusalCheck::Decode);
}

#[test]
fn a_compressed_payload_is_refused() {
    let chain = registry_chain();
    let doc = registry(&chain);
    let own_key = pid(P1).to_string();
    let mut change = raw_change(doc.automerge(), &actor(P1), ms(T0 + 1_000), |tx| {
        let obj = tx
            .put_object(ROOT, own_key.as_str(), automerge::ObjType::Map)
            .unwrap();
        tx.put(&obj, "description", "x".repeat(900)).unwrap();
    });
    let compressed = change.bytes().to_vec();
    assert_ne!(
        compressed,
        change.raw_bytes(),
        "large enough to be compressed"
    );
    let mut env = seal(P1, &chain, doc.id(), &change);
    env.payload = compressed;
    env.sign(&key(P1));
    let r = refused_alone(env, RefusalCheck::Decode);
    assert!(r.reason.contains("compressed"), "{r}");
}

#[test]
fn a_record_with_another_hash_at_the_cited_seq_is_refused() {
    let (_, mut env) = genuine();
    env.cited_record = RecordHash([3; 32]);
    env.sign(&key(P1));
    let r = refused_alone(env, RefusalCheck::Citation);
    assert!(r.reason.contains(&RecordHash([3; 32]).to_string()), "{r}");
}

#[test]
fn another_federation_is_refused() {
    let (_, mut env) = genuine();
    env.federation = FederationId([5; 32]);
    env.document = DocId::platforms_registry(&env.federation);
    env.sign(&key(P1));
    let chain = registry_chain();
    let err = check_envelope(&chain, &env, &NoHistory).expect_err("other federation");
    match err {
        Rejection::Refused(r) => assert_eq!(r.check, RefusalCheck::Citation),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_platforms_document_that_is_not_the_registry_is_refused() {
    let (chain, mut env) = genuine();
    env.document = DocId::random(DocKind::Platforms, [9; 16]);
    env.sign(&key(P1));
    let err = check_envelope(&chain, &env, &NoHistory).expect_err("not the registry");
    assert!(matches!(err, Rejection::Refused(r) if r.check == RefusalCheck::Citation));
}

#[test]
fn an_envelope_for_another_document_is_refused_by_the_document() {
    let (chain, mut env) = genuine();
    let other = fed_crdt::registry::Document::new(DocId::random(DocKind::Project, [1; 16]), &chain);
    env.document = other.id();
    env.sign(&key(P1));
    let mut doc = registry(&chain);
    refused_by(&doc.receive(&chain, env), RefusalCheck::Document);
}

#[test]
fn a_citation_of_a_record_we_lack_waits_for_the_chain() {
    let chain = registry_chain();
    let mut longer = chain.clone();
    push(
        &mut longer,
        T0 + 600,
        ADMIN_A,
        add_platform(STRANGER, "newcomer"),
    );
    let doc = registry(&longer);
    let env = set_profile(&doc, &longer, STRANGER, "Newcomer", T0 + 1_000);
    assert_eq!(env.cited_seq, chain.state().seq + 1);

    let err = check_envelope(&chain, &env, &NoHistory).expect_err("waits");
    assert!(
        matches!(err, Rejection::Waiting(Wait::Chain { .. })),
        "{err:?}"
    );

    let mut doc = registry(&chain);
    let outcomes = doc.receive(&chain, env.clone());
    assert_eq!(
        outcomes,
        vec![Outcome::Buffered {
            change_hash: env.change_hash
        }]
    );
    // The chain catches up: the envelope is released.
    let outcomes = doc.rebuild(&longer);
    assert_eq!(accepted(&outcomes), vec![env.change_hash]);
    assert_eq!(doc.buffered(), 0);
}

#[test]
fn an_author_outside_the_chain_is_refused() {
    let chain = registry_chain();
    let doc = registry(&chain);
    let own_key = pid(STRANGER).to_string();
    let change = raw_change(doc.automerge(), &actor(STRANGER), ms(T0 + 1_000), |tx| {
        tx.put_object(ROOT, own_key.as_str(), automerge::ObjType::Map)
            .unwrap();
    });
    let r = refused_alone(
        seal(STRANGER, &chain, doc.id(), &change),
        RefusalCheck::Membership,
    );
    assert!(r.reason.contains(&pid(STRANGER).to_string()), "{r}");
}

#[test]
fn a_relay_authors_nothing() {
    let chain = registry_chain();
    let doc = registry(&chain);
    let own_key = pid(RELAY).to_string();
    let change = raw_change(doc.automerge(), &actor(RELAY), ms(T0 + 1_000), |tx| {
        tx.put_object(ROOT, own_key.as_str(), automerge::ObjType::Map)
            .unwrap();
    });
    let r = refused_alone(
        seal(RELAY, &chain, doc.id(), &change),
        RefusalCheck::Membership,
    );
    assert!(r.reason.contains("relay"), "{r}");
}

#[test]
fn an_author_revoked_at_the_cited_record_is_refused() {
    let mut chain = registry_chain();
    let registry_id = DocId::platforms_registry(&chain.federation());
    revoke(&mut chain, T0 + 600, P2, registry_id, vec![]);
    let doc = registry(&chain);
    let env = set_profile(&doc, &chain, P2, "HCL", T0 + 1_000);
    let mut doc = registry(&chain);
    let r = refused_by(&doc.receive(&chain, env), RefusalCheck::Revoked);
    assert!(r.reason.contains("seq 6"), "{r}");
}

#[test]
fn an_author_expired_at_the_changes_time_is_refused() {
    let chain = registry_chain();
    let doc = registry(&chain);
    // One millisecond before the expiry: still a member.
    let before = fed_crdt::registry::platforms::profile_change(
        &doc,
        &chain,
        &key(P3),
        &profile("CHU Lille"),
        ms(P3_EXPIRES) - 1,
    )
    .unwrap()
    .unwrap()
    .into_envelope();
    assert!(check_envelope(&chain, &before, &NoHistory).is_ok());
    // At the expiry: no longer (expiry is exclusive).
    let at = set_profile(&doc, &chain, P3, "CHU Lille", P3_EXPIRES);
    let r = refused_alone(at, RefusalCheck::Expired);
    assert!(r.reason.contains("expired"), "{r}");
}

#[test]
fn a_change_dated_before_its_cited_record_is_refused() {
    let chain = registry_chain();
    let doc = registry(&chain);
    let own_key = pid(P1).to_string();
    let change = raw_change(doc.automerge(), &actor(P1), ms(CHAIN_TIME) - 1, |tx| {
        tx.put_object(ROOT, own_key.as_str(), automerge::ObjType::Map)
            .unwrap();
    });
    refused_alone(seal(P1, &chain, doc.id(), &change), RefusalCheck::Time);
}

#[test]
fn project_documents_need_write_projects_and_follow_their_rules() {
    let chain = registry_chain();
    let project = DocId::random(DocKind::Project, [4; 16]);
    let change = raw_change(&Automerge::new(), &actor(READER), ms(T0 + 1_000), |tx| {
        tx.put(ROOT, "name", "cohort").unwrap();
    });
    let mut doc = fed_crdt::registry::Document::new(project, &chain);
    let r = refused_by(
        &doc.receive(&chain, seal(READER, &chain, project, &change)),
        RefusalCheck::Right,
    );
    assert!(r.reason.contains("write_projects"), "{r}");

    let change = raw_change(&Automerge::new(), &actor(P1), ms(T0 + 1_000), |tx| {
        tx.put(ROOT, "name", "cohort").unwrap();
    });
    let r = refused_by(
        &doc.receive(&chain, seal(P1, &chain, project, &change)),
        RefusalCheck::Rule,
    );
    assert!(r.reason.contains("root key"), "{r}");
}

#[test]
fn export_documents_need_an_export_right() {
    let chain = registry_chain();
    let export = DocId::random(DocKind::Export, [5; 16]);
    let change = raw_change(&Automerge::new(), &actor(READER), ms(T0 + 1_000), |tx| {
        tx.put(ROOT, "status", "submitted").unwrap();
    });
    let env = seal(READER, &chain, export, &change);
    let err = check_envelope(&chain, &env, &NoHistory).expect_err("no export right");
    assert!(matches!(err, Rejection::Refused(r) if r.check == RefusalCheck::Right));
}

#[test]
fn refusals_name_the_ids() {
    let (_, mut env) = genuine();
    env.signature.0[0] ^= 1;
    let r = refused_alone(env.clone(), RefusalCheck::Signature);
    assert_eq!(r.federation, env.federation);
    assert_eq!(r.document, env.document);
    assert_eq!(r.change_hash, env.change_hash);
    let text = r.to_string();
    assert!(text.contains(&env.document.to_string()), "{text}");
    assert!(text.contains(&env.change_hash.to_string()), "{text}");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["check"], "signature");
    assert_eq!(json["author"], PlatformId::from(&key(P1)).to_string());
}

#[test]
fn a_revoked_author_without_a_frontier_for_the_document_is_refused() {
    let (before, env) = genuine();
    let mut after = before.clone();
    // The revocation lists a frontier for another document only.
    revoke(
        &mut after,
        T0 + 600,
        P1,
        DocId::random(DocKind::Project, [1; 16]),
        vec![],
    );
    let mut doc = registry(&after);
    let r = refused_by(&doc.receive(&after, env.clone()), RefusalCheck::Frontier);
    assert!(
        r.reason.contains("outside the revocation's frontier"),
        "{r}"
    );
    assert!(!doc.is_accepted(&env.change_hash), "held, never applied");
}

#[test]
fn without_history_only_a_frontier_head_itself_is_decided() {
    let (before, head) = genuine();
    let mut author = registry(&before);
    accept(&mut author, &before, head.clone());
    let later = set_profile(&author, &before, P1, "AP-HP 2", T0 + 1_001);
    let mut after = before.clone();
    revoke(
        &mut after,
        T0 + 600,
        P1,
        head.document,
        vec![later.change_hash],
    );
    assert!(check_envelope(&after, &later, &NoHistory).is_ok());
    let err = check_envelope(&after, &head, &NoHistory).expect_err("undecided");
    assert!(
        matches!(err, Rejection::Waiting(Wait::Frontier { .. })),
        "{err:?}"
    );
    // A document that knows `later` knows `head` is behind it.
    let mut doc = registry(&after);
    assert_eq!(
        doc.receive(&after, later.clone()),
        vec![Outcome::Buffered {
            change_hash: later.change_hash
        }]
    );
    let outcomes = doc.receive(&after, head.clone());
    assert_eq!(
        accepted(&outcomes),
        vec![head.change_hash, later.change_hash]
    );
}
