//! The documents' limits and audience bookkeeping, without a network.

use std::sync::Arc;

use ed25519_dalek::SigningKey;
use fed_crdt::chain::Chain;
use fed_crdt::ids::{DocKind, PlatformId};
use fed_crdt::registry::projects::{create_project, share_project, Access, Project};

use super::*;
use crate::store::MemoryStore;
use crate::testing::{sample_chain, NOW};

/// The sample chain of admin seed 1: platforms of seeds 101 and 102.
fn chain() -> (Chain, SigningKey, SigningKey) {
    let chain = Chain::from_records(sample_chain(1)).expect("chain");
    (
        chain,
        SigningKey::from_bytes(&[101; 32]),
        SigningKey::from_bytes(&[102; 32]),
    )
}

fn project(code: &str) -> Project {
    Project {
        code: code.into(),
        name: format!("Project {code}"),
        ..Project::default()
    }
}

fn now_ms() -> i64 {
    i64::try_from(NOW.as_secs()).expect("small") * 1000 + 1_000
}

#[test]
fn a_private_document_over_the_limit_is_refused_and_not_kept() {
    let (chain, owner, _) = chain();
    let store = Arc::new(MemoryStore::default());
    let mut docs = Documents::with_max_documents(store, 2);
    docs.open(&chain).expect("open");
    let mut ids = Vec::new();
    for (i, code) in ["A", "B", "C"].iter().enumerate() {
        let (id, env) = create_project(&chain, &owner, [i as u8; 16], &project(code), now_ms())
            .map(|(id, own)| (id, own.into_envelope()))
            .expect("project");
        let received = docs.receive(&chain, env).expect("stored");
        ids.push((id, received));
    }
    assert_eq!(ids[0].1.accepted.len(), 1);
    assert_eq!(ids[1].1.accepted.len(), 1);
    let third = &ids[2].1;
    assert!(third.accepted.is_empty());
    assert_eq!(third.refused.len(), 1);
    assert_eq!(third.refused[0].check.name(), "size");
    assert!(
        third.refused[0].reason.contains("most it keeps (2)"),
        "{}",
        third.refused[0].reason
    );
    assert!(docs.get(&ids[2].0).is_none(), "nothing of it is held");
    assert_eq!(docs.views(chain.federation()).count(), 2);
}

#[test]
fn private_heads_name_a_document_only_to_its_audience() {
    let (chain, owner, other) = chain();
    let other_id = PlatformId::from(&other);
    let store = Arc::new(MemoryStore::default());
    let mut docs = Documents::new(store.clone());
    docs.open(&chain).expect("open");
    let (id, env) = create_project(&chain, &owner, [7; 16], &project("P"), now_ms())
        .map(|(id, own)| (id, own.into_envelope()))
        .expect("project");
    docs.receive(&chain, env).expect("stored");
    assert_eq!(id.kind, DocKind::Project);
    let fed = chain.federation();
    assert!(docs.private_heads_for(fed, &other_id, &chain).is_empty());
    assert!(!docs.audience_includes(&id, &other_id, &chain));

    let doc = docs.get(&id).expect("held");
    let share = share_project(
        doc,
        &chain,
        &owner,
        other_id,
        Some(Access::Read),
        now_ms() + 1,
    )
    .expect("share")
    .expect("a change")
    .into_envelope();
    docs.take_feed();
    docs.receive(&chain, share.clone()).expect("stored");
    let listed = docs.private_heads_for(fed, &other_id, &chain);
    assert_eq!(listed, vec![(id, vec![share.change_hash])]);
    assert!(docs.audience_includes(&id, &other_id, &chain));
    let feed = docs.take_feed();
    let [event] = feed.as_slice() else {
        panic!("the live feed tells of the one change: {feed:?}");
    };
    assert_eq!(event.change, share.change_hash);
    assert_eq!(event.kind, DocKind::Project);

    // Reopened from the store: the same document, the same audience.
    let mut again = Documents::new(store);
    again.open(&chain).expect("reopen");
    assert_eq!(again.private_heads_for(fed, &other_id, &chain), listed);
}
