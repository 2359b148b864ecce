//! The keyring without a network: which grants it keeps, and its limit.

use super::*;
use crate::store::MemoryStore;
use crate::testing::sample_chain;
use fed_crdt::ids::DocKind;

#[test]
fn grants_are_checked_kept_once_and_capped() {
    let chain = Chain::from_records(sample_chain(1)).expect("chain");
    let owner = SigningKey::from_bytes(&[101; 32]);
    let other = PlatformId::from(&SigningKey::from_bytes(&[102; 32]));
    let other_key = chain.state().members[&other].card.encryption_key;
    let ring = Keyring::load(
        PlatformId::from(&owner),
        [5; 32],
        Vec::new(),
        Arc::new(MemoryStore::default()),
    )
    .expect("keyring")
    .with_max_grants(1);
    let doc = DocId::random(DocKind::Project, [1; 16]);
    let grant = |epoch: u32, key: EncryptionKey| {
        KeyGrant::new(
            &owner,
            chain.federation(),
            doc,
            epoch,
            None,
            &EpochKey([epoch as u8; 32]),
            &[(other, key)],
            &mut rand::rng(),
        )
        .expect("grant")
    };
    // A key the chain does not hold for that platform.
    let refused = |result: Result<GrantOutcome, GrantError>| match result {
        Err(GrantError::Refused(refusal)) => refusal,
        other => panic!("expected a refusal, got {other:?}"),
    };
    let substituted = refused(ring.receive(&chain, grant(0, EncryptionKey([42; 32]))));
    assert_eq!(substituted.check, RefusalCheck::Grant);
    assert!(substituted.reason.contains("key"), "{}", substituted.reason);
    assert!(ring.grants_of(&doc).is_empty(), "nothing kept of it");
    let first = grant(0, other_key);
    assert_eq!(
        ring.receive(&chain, first.clone()).ok(),
        Some(GrantOutcome::Stored { unwrapped: false })
    );
    assert_eq!(ring.receive(&chain, first).ok(), Some(GrantOutcome::Known));
    assert_eq!(ring.granted_to(&doc), vec![other]);
    assert_eq!(ring.grants_naming(&doc, &other), 1);
    assert_eq!(ring.grants_naming(&doc, &PlatformId::from(&owner)), 0);
    let over = refused(ring.receive(&chain, grant(1, other_key)));
    assert!(over.reason.contains("the most kept (1)"), "{}", over.reason);
    assert_eq!(ring.newest_epoch(&doc), Some(0));
}
