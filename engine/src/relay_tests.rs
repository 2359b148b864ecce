//! The relay store without a network: what it refuses, and how it follows a document's
//! history without reading it.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use fed_crdt::chain::Chain;
use fed_crdt::registry::projects::{create_project, update_project, Project};
use fed_crdt::registry::Document;
use fed_crdt::seal::{seal_envelope, EpochKey};

use super::*;
use crate::store::MemoryStore;
use crate::testing::{sample_chain, NOW};

fn now_ms(offset: i64) -> i64 {
    i64::try_from(NOW.as_secs()).expect("small") * 1000 + 1_000 + offset
}

/// A project's first three changes, sealed, in causal order.
fn sealed_history() -> (Chain, Vec<ChangeEnvelope>) {
    let chain = Chain::from_records(sample_chain(1)).expect("chain");
    let owner = SigningKey::from_bytes(&[101; 32]);
    let key = EpochKey([3; 32]);
    let project = Project {
        code: "R".into(),
        name: "Relayed".into(),
        ..Project::default()
    };
    let (id, first) = create_project(&chain, &owner, [1; 16], &project, now_ms(0))
        .map(|(id, own)| (id, own.into_envelope()))
        .expect("create");
    let mut doc = Document::new(id, &chain);
    doc.receive(&chain, first.clone());
    let mut plain = vec![first];
    for (i, name) in ["Second", "Third"].iter().enumerate() {
        let next = Project {
            name: (*name).into(),
            ..project.clone()
        };
        let env = update_project(&doc, &chain, &owner, &next, now_ms(i as i64 + 1))
            .expect("update")
            .expect("a change")
            .into_envelope();
        doc.receive(&chain, env.clone());
        plain.push(env);
    }
    let sealed = plain
        .into_iter()
        .map(|env| seal_envelope(env, &owner, &key, 0, [9; 24]))
        .collect();
    (chain, sealed)
}

#[test]
fn a_relay_follows_history_by_dependencies_and_sends_in_causal_order() {
    let (chain, history) = sealed_history();
    let mut relay = RelayStore::new(Arc::new(MemoryStore::default()));
    // Out of order on purpose.
    for env in [history[2].clone(), history[0].clone(), history[1].clone()] {
        assert!(matches!(relay.receive(&chain, env), Ok(Relayed::Stored)));
    }
    assert!(matches!(
        relay.receive(&chain, history[1].clone()),
        Ok(Relayed::Known)
    ));
    let id = history[0].document;
    assert_eq!(relay.heads(&id), vec![history[2].change_hash]);
    let all: Vec<_> = relay
        .missing_from(&id, &[])
        .iter()
        .map(|e| e.change_hash)
        .collect();
    assert_eq!(
        all,
        history.iter().map(|e| e.change_hash).collect::<Vec<_>>()
    );
    let rest: Vec<_> = relay
        .missing_from(&id, &[history[0].change_hash])
        .iter()
        .map(|e| e.change_hash)
        .collect();
    assert_eq!(rest, vec![history[1].change_hash, history[2].change_hash]);
    assert!(relay.missing_from(&id, &relay.heads(&id)).is_empty());
}

#[test]
fn a_relay_refuses_clear_payloads_bad_signatures_and_documents_over_its_limit() {
    let (chain, history) = sealed_history();
    let owner = SigningKey::from_bytes(&[101; 32]);
    let mut relay = RelayStore::with_max_per_document(Arc::new(MemoryStore::default()), 2);
    // In the clear: a relay carries sealed payloads only.
    let mut clear = history[0].clone();
    clear.payload = b"plain text".to_vec();
    clear.sign(&owner);
    let refused = relay.receive(&chain, clear).expect_err("refused");
    assert_eq!(refused.check, RefusalCheck::Decrypt);
    // Altered on the way: the signature no longer holds.
    let mut altered = history[0].clone();
    altered.payload[50] ^= 1;
    let refused = relay.receive(&chain, altered).expect_err("refused");
    assert_eq!(refused.check, RefusalCheck::Signature);
    for env in &history[..2] {
        assert!(matches!(
            relay.receive(&chain, env.clone()),
            Ok(Relayed::Stored)
        ));
    }
    let refused = relay
        .receive(&chain, history[2].clone())
        .expect_err("over the limit");
    assert_eq!(refused.check, RefusalCheck::Size);
    assert!(
        refused.reason.contains("most it keeps"),
        "{}",
        refused.reason
    );
}
