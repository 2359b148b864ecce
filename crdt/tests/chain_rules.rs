//! What each kind of record may do: refusals by the body rules.

mod common;

use common::*;
use fed_crdt::card::IdentityCard;
use fed_crdt::chain::body::{CatalogEntries, Expiry, RecordBody, Right, Rights, Role};
use fed_crdt::chain::Chain;
use fed_crdt::error::{CardError, ChainError, RecordError};
use fed_crdt::ids::Signature;
use fed_crdt::limits::MAX_ADMINS;

#[test]
fn adding_a_platform_twice_is_refused() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    push(&mut chain, T0 + 1, ADMIN_A, add_platform(P1, "AP-HP"));
    let reason = refuse(
        &mut chain,
        T0 + 2,
        ADMIN_A,
        &[ADMIN_A],
        add_platform(P1, "AP-HP again"),
    );
    assert_eq!(
        reason,
        RecordError::AlreadyAdded {
            platform: pid(P1),
            seq: 1
        }
    );

    push(&mut chain, T0 + 3, ADMIN_A, revoke_body(P1, None));
    let reason = refuse(
        &mut chain,
        T0 + 4,
        ADMIN_A,
        &[ADMIN_A],
        add_platform(P1, "AP-HP"),
    );
    assert_eq!(
        reason,
        RecordError::AlreadyAdded {
            platform: pid(P1),
            seq: 1
        },
        "a revoked platform never comes back under the same key"
    );
}

#[test]
fn relay_with_rights_is_refused() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    let reason = refuse(
        &mut chain,
        T0 + 1,
        ADMIN_A,
        &[ADMIN_A],
        add_body(P1, "relay", Role::Relay, rights(&[Right::Read]), None),
    );
    assert_eq!(
        reason,
        RecordError::RelayWithRights {
            rights: "read".into()
        }
    );

    push(
        &mut chain,
        T0 + 1,
        ADMIN_A,
        add_body(P1, "relay", Role::Relay, Rights::none(), None),
    );
    let reason = refuse(
        &mut chain,
        T0 + 2,
        ADMIN_A,
        &[ADMIN_A],
        update_body(P1, Some(Rights::all()), None, None),
    );
    assert!(
        matches!(reason, RecordError::RelayWithRights { .. }),
        "{reason:?}"
    );
}

#[test]
fn unknown_platform_is_refused() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    push(&mut chain, T0 + 1, ADMIN_A, add_platform(P1, "AP-HP"));
    let unknown = RecordError::UnknownPlatform { platform: pid(P2) };
    let reason = refuse(
        &mut chain,
        T0 + 2,
        ADMIN_A,
        &[ADMIN_A],
        update_body(P2, Some(Rights::none()), None, None),
    );
    assert_eq!(reason, unknown);
    let reason = refuse(
        &mut chain,
        T0 + 2,
        ADMIN_A,
        &[ADMIN_A],
        revoke_body(P2, None),
    );
    assert_eq!(reason, unknown);
}

#[test]
fn revoked_platform_cannot_be_updated_or_revoked_again() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    push(&mut chain, T0 + 1, ADMIN_A, add_platform(P1, "AP-HP"));
    push(&mut chain, T0 + 2, ADMIN_A, revoke_body(P1, None));
    let revoked = RecordError::PlatformRevoked {
        platform: pid(P1),
        seq: 2,
    };
    let reason = refuse(
        &mut chain,
        T0 + 3,
        ADMIN_A,
        &[ADMIN_A],
        update_body(P1, None, Some(Expiry::Never), None),
    );
    assert_eq!(reason, revoked);
    let reason = refuse(
        &mut chain,
        T0 + 3,
        ADMIN_A,
        &[ADMIN_A],
        revoke_body(P1, Some("again")),
    );
    assert_eq!(reason, revoked);
}

#[test]
fn update_with_a_card_of_another_platform_is_refused() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    push(&mut chain, T0 + 1, ADMIN_A, add_platform(P1, "AP-HP"));
    let reason = refuse(
        &mut chain,
        T0 + 2,
        ADMIN_A,
        &[ADMIN_A],
        update_body(P1, None, None, Some(card(P2, "HCL"))),
    );
    assert_eq!(
        reason,
        RecordError::CardForAnotherPlatform {
            platform: pid(P1),
            found: pid(P2)
        }
    );

    push(
        &mut chain,
        T0 + 3,
        ADMIN_A,
        update_body(P1, None, None, Some(card(P1, "AP-HP renamed"))),
    );
    assert_eq!(
        chain.state().members[&pid(P1)].card.name,
        "AP-HP renamed",
        "a card of the same platform replaces the old one"
    );
}

#[test]
fn empty_update_is_refused() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    push(&mut chain, T0 + 1, ADMIN_A, add_platform(P1, "AP-HP"));
    let reason = refuse(
        &mut chain,
        T0 + 2,
        ADMIN_A,
        &[ADMIN_A],
        update_body(P1, None, None, None),
    );
    assert_eq!(reason, RecordError::EmptyUpdate);
}

fn forged_card(seed: u8, name: &str) -> IdentityCard {
    let mut card = card(seed, name);
    card.name = format!("{name} (forged)");
    card
}

#[test]
fn card_with_a_bad_self_signature_is_refused() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    let bad_sig = RecordError::Card(CardError::BadSignature { platform: pid(P1) });

    let body = RecordBody::AddPlatform {
        card: forged_card(P1, "AP-HP"),
        role: Role::Platform,
        rights: Rights::all(),
        expires_at: None,
    };
    let reason = refuse(&mut chain, T0 + 1, ADMIN_A, &[ADMIN_A], body);
    assert_eq!(reason, bad_sig);

    let mut signed_by_other = card(P1, "AP-HP");
    signed_by_other.signature = card(P2, "AP-HP").signature;
    let body = RecordBody::AddPlatform {
        card: signed_by_other,
        role: Role::Platform,
        rights: Rights::all(),
        expires_at: None,
    };
    let reason = refuse(&mut chain, T0 + 1, ADMIN_A, &[ADMIN_A], body);
    assert_eq!(reason, bad_sig);

    let mut zero_sig = card(P1, "AP-HP");
    zero_sig.signature = Signature([0; 64]);
    let body = RecordBody::AddPlatform {
        card: zero_sig,
        role: Role::Platform,
        rights: Rights::all(),
        expires_at: None,
    };
    let reason = refuse(&mut chain, T0 + 1, ADMIN_A, &[ADMIN_A], body);
    assert_eq!(reason, bad_sig);

    push(&mut chain, T0 + 1, ADMIN_A, add_platform(P1, "AP-HP"));
    let reason = refuse(
        &mut chain,
        T0 + 2,
        ADMIN_A,
        &[ADMIN_A],
        update_body(P1, None, None, Some(forged_card(P1, "AP-HP"))),
    );
    assert_eq!(reason, bad_sig);
}

#[test]
fn card_with_a_blank_name_is_refused() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    let mut blank = card(P1, "AP-HP");
    blank.name = "   ".into();
    let body = RecordBody::AddPlatform {
        card: blank,
        role: Role::Platform,
        rights: Rights::all(),
        expires_at: None,
    };
    let reason = refuse(&mut chain, T0 + 1, ADMIN_A, &[ADMIN_A], body);
    assert!(
        matches!(
            reason,
            RecordError::Card(CardError::Field { field: "name", .. })
        ),
        "{reason:?}"
    );
}

#[test]
fn catalog_entity_of_unknown_type_is_refused() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    let reason = refuse(
        &mut chain,
        T0 + 1,
        ADMIN_A,
        &[ADMIN_A],
        RecordBody::catalog(CatalogEntries {
            entities: vec![entity("inserm-u900", "Inserm U900", "research-unit")],
            ..CatalogEntries::default()
        }),
    );
    assert_eq!(
        reason,
        RecordError::UnknownEntityType {
            entity: "inserm-u900".into(),
            entity_type: "research-unit".into()
        }
    );

    push(
        &mut chain,
        T0 + 2,
        ADMIN_A,
        RecordBody::catalog(CatalogEntries {
            entities: vec![entity("hcl", "HCL", "hospital")],
            ..CatalogEntries::default()
        }),
    );
    push(
        &mut chain,
        T0 + 3,
        ADMIN_A,
        RecordBody::catalog(CatalogEntries {
            entity_types: vec![entity_type("research-unit", "Research unit")],
            entities: vec![entity("inserm-u900", "Inserm U900", "research-unit")],
            ..CatalogEntries::default()
        }),
    );
    assert_eq!(chain.state().catalog.entities.len(), 3);

    let genesis = genesis_signed(
        "fed",
        &[ADMIN_A],
        1,
        CatalogEntries {
            entities: vec![entity("aphp", "AP-HP", "hospital")],
            ..CatalogEntries::default()
        },
        T0,
    );
    assert_eq!(
        Chain::from_genesis(genesis).unwrap_err(),
        ChainError::Record {
            index: 0,
            seq: 0,
            reason: RecordError::UnknownEntityType {
                entity: "aphp".into(),
                entity_type: "hospital".into()
            }
        }
    );
}

#[test]
fn invalid_catalog_ids_are_refused() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    let cases = [
        (
            CatalogEntries {
                frameworks: vec![framework("Bad Id", "Bad")],
                ..CatalogEntries::default()
            },
            "frameworks.id",
        ),
        (
            CatalogEntries {
                entity_types: vec![entity_type("Bad Id", "Bad")],
                ..CatalogEntries::default()
            },
            "entity_types.id",
        ),
        (
            CatalogEntries {
                entities: vec![entity("Bad Id", "Bad", "hospital")],
                ..CatalogEntries::default()
            },
            "entities.id",
        ),
        (
            CatalogEntries {
                frameworks: vec![framework("-leading-dash", "Bad")],
                ..CatalogEntries::default()
            },
            "frameworks.id",
        ),
        (
            CatalogEntries {
                frameworks: vec![framework("", "Bad")],
                ..CatalogEntries::default()
            },
            "frameworks.id",
        ),
        (
            CatalogEntries {
                frameworks: vec![framework(&"a".repeat(65), "Bad")],
                ..CatalogEntries::default()
            },
            "frameworks.id",
        ),
        (CatalogEntries::default(), "catalog"),
    ];
    for (entries, expected_field) in cases {
        let reason = refuse(
            &mut chain,
            T0 + 1,
            ADMIN_A,
            &[ADMIN_A],
            RecordBody::catalog(entries),
        );
        assert!(
            matches!(&reason, RecordError::Field { field, .. } if field == expected_field),
            "expected a problem with {expected_field}, got {reason:?}"
        );
    }
    push(
        &mut chain,
        T0 + 1,
        ADMIN_A,
        RecordBody::catalog(CatalogEntries {
            frameworks: vec![framework(&format!("a{}", "b".repeat(63)), "Long id")],
            ..CatalogEntries::default()
        }),
    );
}

#[test]
fn impossible_thresholds_are_refused() {
    for (admins, threshold) in [(&[ADMIN_A][..], 0), (&[ADMIN_A, ADMIN_B][..], 3)] {
        let genesis = genesis_signed("fed", admins, threshold, CatalogEntries::default(), T0);
        let err = Chain::from_genesis(genesis).unwrap_err();
        assert_eq!(
            err,
            ChainError::Record {
                index: 0,
                seq: 0,
                reason: RecordError::BadThreshold {
                    threshold,
                    admins: admins.len(),
                    max: MAX_ADMINS
                }
            }
        );
    }

    let mut chain = new_chain("fed", &[ADMIN_A, ADMIN_B], 1);
    for (admins, threshold) in [
        (&[ADMIN_A, ADMIN_B][..], 0),
        (&[ADMIN_A, ADMIN_B][..], 3),
        (&[][..], 1),
    ] {
        let reason = refuse(
            &mut chain,
            T0 + 1,
            ADMIN_A,
            &[ADMIN_A],
            rotate_body(admins, threshold),
        );
        assert!(
            matches!(reason, RecordError::BadThreshold { threshold: t, admins: n, .. } if t == threshold && n == admins.len()),
            "{reason:?}"
        );
    }
    let reason = refuse(
        &mut chain,
        T0 + 1,
        ADMIN_A,
        &[ADMIN_A],
        rotate_body(&[ADMIN_A, ADMIN_A], 1),
    );
    assert!(
        matches!(reason, RecordError::BadAdmins { .. }),
        "{reason:?}"
    );
    push(
        &mut chain,
        T0 + 1,
        ADMIN_A,
        rotate_body(&[ADMIN_A, ADMIN_B, ADMIN_C], 3),
    );
    assert_eq!(chain.state().threshold, 3);
}
