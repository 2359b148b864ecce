//! The membership chain end to end: a chain file round trip, history, expiry, the shape
//! of genesis, time and timestamps.

mod common;

use common::*;
use fed_crdt::chain::body::{CatalogEntries, Expiry, RecordBody, Right, Rights, Role};
use fed_crdt::chain::file::{ChainFile, VerifyError};
use fed_crdt::chain::state::MemberStatus;
use fed_crdt::chain::{genesis_record, Chain};
use fed_crdt::error::{ChainError, RecordError};

#[test]
fn chain_file_round_trip_keeps_members_statuses_rights_and_expiry() {
    let mut chain = new_chain("cancer-registry", &[ADMIN_A], 1);
    let expiry = T0 + 86_400;
    push(
        &mut chain,
        T0 + 10,
        ADMIN_A,
        add_body(
            P1,
            "AP-HP",
            Role::Platform,
            rights(&[Right::Read, Right::RequestExports]),
            Some(expiry),
        ),
    );
    push(&mut chain, T0 + 20, ADMIN_A, add_platform(P2, "HCL"));
    push(
        &mut chain,
        T0 + 30,
        ADMIN_A,
        revoke_body(P2, Some("contract ended")),
    );

    let file = ChainFile::new(&chain, None);
    let text = file.to_json();
    assert!(text.ends_with('\n'));
    let parsed = ChainFile::parse(&text).expect("parses");
    assert_eq!(parsed, file);
    assert_eq!(parsed.to_json(), text, "the text form is stable");

    let verified = parsed.verify().expect("valid chain");
    assert!(verified.pending.is_none());
    let state = verified.chain.state();
    assert_eq!(state, chain.state());
    assert_eq!(state.seq, 3);
    assert_eq!(state.name, "cancer-registry");
    assert_eq!(verified.chain.records().len(), 4);
    assert_eq!(
        verified.chain.federation(),
        chain.records()[0].genesis_federation_id()
    );
    assert_eq!(verified.chain.head(), chain.records()[3].hash());
    assert_eq!(state.admins, vec![admin(ADMIN_A)]);
    assert_eq!(state.threshold, 1);
    assert!(state.catalog.entities.contains_key("aphp"));
    assert!(state.catalog.entity_types.contains_key("hospital"));
    assert!(state.catalog.frameworks.contains_key("mr-004"));

    let now = ts(T0 + 40);
    assert_eq!(state.members.len(), 2);
    let p1 = &state.members[&pid(P1)];
    assert_eq!(p1.card.name, "AP-HP");
    assert_eq!(p1.role, Role::Platform);
    assert_eq!(p1.rights, rights(&[Right::Read, Right::RequestExports]));
    assert_eq!(p1.expires_at, Some(ts(expiry)));
    assert_eq!(p1.added_seq, 1);
    assert!(p1.revoked.is_none());
    assert_eq!(state.status(&pid(P1), now), MemberStatus::Active);
    assert!(state.has_right(&pid(P1), Right::Read, now));
    assert!(state.has_right(&pid(P1), Right::RequestExports, now));
    assert!(!state.has_right(&pid(P1), Right::WriteProjects, now));
    assert!(!state.has_right(&pid(P1), Right::AnswerExports, now));

    let p2 = &state.members[&pid(P2)];
    assert_eq!(p2.rights, Rights::all());
    assert_eq!(p2.expires_at, None);
    let revocation = p2.revoked.as_ref().expect("revoked");
    assert_eq!(revocation.seq, 3);
    assert_eq!(revocation.at, ts(T0 + 30));
    assert_eq!(revocation.reason.as_deref(), Some("contract ended"));
    assert_eq!(revocation.frontier.len(), 1);
    assert_eq!(p2.updated_seq, 3);
    assert_eq!(state.status(&pid(P2), now), MemberStatus::Revoked);
    assert!(!state.is_member(&pid(P2), now));
    assert!(!state.has_right(&pid(P2), Right::Read, now));

    assert_eq!(state.status(&pid(P3), now), MemberStatus::Unknown);
    let active: Vec<_> = state.active_members(now).map(|(id, _)| *id).collect();
    assert_eq!(active, vec![pid(P1)]);
}

#[test]
fn sample_chain_round_trips() {
    let chain = sample_chain();
    let verified = verify_value(&file_value(&chain, None))
        .expect("parses")
        .expect("verifies");
    assert!(verified.pending.is_none());
    let state = verified.chain.state();
    assert_eq!(state, chain.state());
    assert_eq!(state.seq, 7);
    assert_eq!(state.admins, vec![admin(ADMIN_A), admin(ADMIN_B)]);
    assert_eq!(state.threshold, 2);
    let now = ts(T0 + 800);
    assert_eq!(state.status(&pid(P1), now), MemberStatus::Active);
    assert_eq!(state.members[&pid(P1)].rights, Rights::all());
    assert_eq!(state.members[&pid(P1)].expires_at, None);
    assert_eq!(
        state.members[&pid(P1)].card.addresses,
        vec!["/ip4/10.0.0.2/tcp/4001".to_string()]
    );
    assert_eq!(state.status(&pid(P2), now), MemberStatus::Revoked);
    assert_eq!(state.members[&pid(P2)].role, Role::Relay);
    assert_eq!(state.status(&pid(P3), now), MemberStatus::Active);
    assert_eq!(state.catalog.entities.len(), 2);
    assert_eq!(state.catalog.entities["biolab"].entity_type, "lab");
}

#[test]
fn state_at_is_the_state_of_the_chain_that_ended_there_past_many_checkpoints() {
    use fed_crdt::chain::STATE_CHECKPOINT_EVERY;
    let mut chain = new_chain("long", &[ADMIN_A], 1);
    let records = 2 * STATE_CHECKPOINT_EVERY + 5;
    for i in 0..records {
        // A new platform at each record, and every third one revoked at the next.
        let seed = 100 + i as u8;
        let body = if i % 3 == 2 {
            revoke_body(seed - 1, Some("rotated"))
        } else {
            add_platform(seed, &format!("platform {i}"))
        };
        push(&mut chain, T0 + 10 * (i as u64 + 1), ADMIN_A, body);
    }
    for seq in 0..=chain.state().seq {
        let prefix = Chain::from_records(chain.records()[..=seq as usize].to_vec())
            .expect("a prefix is a chain");
        assert_eq!(
            chain.state_at(seq).as_deref(),
            Some(prefix.state()),
            "seq {seq}"
        );
        assert_eq!(
            chain.record_hash(seq),
            Some(chain.records()[seq as usize].hash())
        );
    }
}

#[test]
fn state_at_replays_history() {
    let chain = sample_chain();
    let at2 = chain.state_at(2).expect("seq 2 exists");
    assert_eq!(at2.seq, 2);
    assert_eq!(at2.head, chain.records()[2].hash());
    assert_eq!(
        at2.members[&pid(P1)].rights,
        rights(&[Right::Read, Right::WriteProjects])
    );
    assert!(at2.members[&pid(P2)].revoked.is_none());
    assert_eq!(at2.threshold, 1);
    assert_eq!(chain.state_at(7).as_deref(), Some(chain.state()));
    // An older state is folded from the records: it is the state of the chain that
    // ended there.
    let shorter = Chain::from_records(chain.records()[..7].to_vec()).expect("a prefix");
    assert_eq!(chain.state_at(6).as_deref(), Some(shorter.state()));
    assert!(chain.state_at(8).is_none());
}

#[test]
fn empty_chain_is_refused() {
    assert_eq!(
        Chain::from_records(Vec::new()).unwrap_err(),
        ChainError::Empty
    );
    let mut value = file_value(&sample_chain(), None);
    value["records"] = serde_json::json!([]);
    let result = verify_value(&value).expect("parses");
    assert!(matches!(result, Err(VerifyError::Chain(ChainError::Empty))));
}

// Expiry.

#[test]
fn expiry_is_exclusive_and_can_be_lifted() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    let t = T0 + 1_000;
    push(
        &mut chain,
        T0 + 1,
        ADMIN_A,
        add_body(P1, "AP-HP", Role::Platform, Rights::all(), Some(t)),
    );
    let p = pid(P1);
    let state = chain.state();
    assert_eq!(state.status(&p, ts(t - 1)), MemberStatus::Active);
    assert!(state.is_member(&p, ts(t - 1)));
    assert!(state.has_right(&p, Right::Read, ts(t - 1)));
    for now in [t, t + 1, t + 1_000_000] {
        assert_eq!(state.status(&p, ts(now)), MemberStatus::Expired, "at {now}");
        assert!(!state.is_member(&p, ts(now)));
        assert!(!state.has_right(&p, Right::Read, ts(now)));
        assert_eq!(state.active_members(ts(now)).count(), 0);
    }

    push(
        &mut chain,
        t + 10,
        ADMIN_A,
        update_body(P1, None, Some(Expiry::Never), None),
    );
    let state = chain.state();
    assert_eq!(state.members[&p].expires_at, None);
    assert_eq!(state.members[&p].updated_seq, 2);
    for now in [t, t + 10, t + 1_000_000] {
        assert_eq!(state.status(&p, ts(now)), MemberStatus::Active, "at {now}");
        assert!(state.has_right(&p, Right::AnswerExports, ts(now)));
    }

    let later = t + 5_000;
    push(
        &mut chain,
        t + 20,
        ADMIN_A,
        update_body(P1, None, Some(Expiry::At(ts(later))), None),
    );
    let state = chain.state();
    assert_eq!(state.status(&p, ts(later - 1)), MemberStatus::Active);
    assert_eq!(state.status(&p, ts(later)), MemberStatus::Expired);
}

#[test]
fn revocation_outranks_expiry() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    push(
        &mut chain,
        T0 + 1,
        ADMIN_A,
        add_body(P1, "AP-HP", Role::Platform, Rights::all(), Some(T0 + 100)),
    );
    push(&mut chain, T0 + 2, ADMIN_A, revoke_body(P1, None));
    for now in [T0 + 3, T0 + 100, T0 + 200] {
        assert_eq!(
            chain.state().status(&pid(P1), ts(now)),
            MemberStatus::Revoked
        );
    }
}

#[test]
fn expiry_not_after_issued_at_is_refused() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    let at = T0 + 50;
    for expires in [at, at - 1, T0] {
        let reason = refuse(
            &mut chain,
            at,
            ADMIN_A,
            &[ADMIN_A],
            add_body(P1, "AP-HP", Role::Platform, Rights::all(), Some(expires)),
        );
        assert!(
            matches!(&reason, RecordError::Field { field, .. } if field == "expires_at"),
            "{reason:?}"
        );
    }
    push(
        &mut chain,
        at,
        ADMIN_A,
        add_body(P1, "AP-HP", Role::Platform, Rights::all(), Some(at + 1)),
    );
    let reason = refuse(
        &mut chain,
        at + 5,
        ADMIN_A,
        &[ADMIN_A],
        update_body(P1, None, Some(Expiry::At(ts(at + 5))), None),
    );
    assert!(
        matches!(&reason, RecordError::Field { field, .. } if field == "expires_at"),
        "{reason:?}"
    );
}

// Body rules.

#[test]
fn first_record_must_be_a_well_formed_genesis() {
    let chain = sample_chain();
    let err = Chain::from_genesis(chain.records()[1].clone()).unwrap_err();
    assert_eq!(
        err,
        ChainError::Record {
            index: 0,
            seq: 1,
            reason: RecordError::FirstNotGenesis {
                found: "add_platform"
            }
        }
    );

    let mut genesis = genesis_record(
        ts(T0),
        admin(ADMIN_A),
        RecordBody::Genesis {
            name: "fed".into(),
            admins: vec![admin(ADMIN_A)],
            threshold: 1,
            catalog: CatalogEntries::default(),
        },
    );
    genesis.seq = 1;
    genesis.sign(&key(ADMIN_A)).unwrap();
    assert_eq!(
        Chain::from_genesis(genesis).unwrap_err(),
        ChainError::Record {
            index: 0,
            seq: 1,
            reason: RecordError::MalformedGenesis
        }
    );

    let genesis = genesis_signed("  ", &[ADMIN_A], 1, CatalogEntries::default(), T0);
    let err = Chain::from_genesis(genesis).unwrap_err();
    assert!(
        matches!(&err, ChainError::Record { index: 0, reason: RecordError::Field { field, .. }, .. } if field == "name"),
        "{err:?}"
    );
}

#[test]
fn genesis_issuer_must_be_one_of_its_admins() {
    let mut genesis = genesis_record(
        ts(T0),
        admin(OUTSIDER),
        RecordBody::Genesis {
            name: "fed".into(),
            admins: vec![admin(ADMIN_A)],
            threshold: 1,
            catalog: CatalogEntries::default(),
        },
    );
    genesis.sign(&key(OUTSIDER)).unwrap();
    assert_eq!(
        Chain::from_genesis(genesis).unwrap_err(),
        ChainError::Record {
            index: 0,
            seq: 0,
            reason: RecordError::NotAnAdmin {
                admin: admin(OUTSIDER)
            }
        }
    );
}

#[test]
fn time_cannot_go_backwards() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    push(&mut chain, T0 + 100, ADMIN_A, add_platform(P1, "AP-HP"));
    let reason = refuse(
        &mut chain,
        T0 + 99,
        ADMIN_A,
        &[ADMIN_A],
        add_platform(P2, "HCL"),
    );
    assert!(
        matches!(reason, RecordError::TimeWentBackwards { .. }),
        "{reason:?}"
    );
    push(&mut chain, T0 + 100, ADMIN_A, add_platform(P2, "HCL"));
}

#[test]
fn revocation_reason_and_frontier_are_checked() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    push(&mut chain, T0 + 1, ADMIN_A, add_platform(P1, "AP-HP"));
    let reason = refuse(
        &mut chain,
        T0 + 2,
        ADMIN_A,
        &[ADMIN_A],
        revoke_body(P1, Some("bad\nreason")),
    );
    assert!(
        matches!(&reason, RecordError::Field { field, .. } if field == "reason"),
        "{reason:?}"
    );
    let mut body = revoke_body(P1, None);
    if let RecordBody::RevokePlatform { frontier, .. } = &mut body {
        frontier.push(frontier[0].clone());
    }
    let reason = refuse(&mut chain, T0 + 2, ADMIN_A, &[ADMIN_A], body);
    assert!(
        matches!(&reason, RecordError::Field { field, .. } if field == "frontier"),
        "{reason:?}"
    );
}

#[test]
fn timestamps_the_chain_accepts_survive_the_chain_file() {
    let limit = 253_402_300_799;
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    push(
        &mut chain,
        T0 + 1,
        ADMIN_A,
        add_body(P1, "AP-HP", Role::Platform, Rights::all(), Some(limit)),
    );
    verify_value(&file_value(&chain, None))
        .expect("parses")
        .expect("the last second of year 9999 round trips");
}

#[test]
fn timestamps_past_year_9999_are_refused_or_round_trip() {
    let past_limit = 253_402_300_800;
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    let record = next_signed(
        &chain,
        T0 + 1,
        ADMIN_A,
        &[ADMIN_A],
        add_body(P1, "AP-HP", Role::Platform, Rights::all(), Some(past_limit)),
    );
    if chain.append(record).is_ok() {
        let result = verify_value(&file_value(&chain, None)).expect("parses");
        assert!(
            result.is_ok(),
            "the chain accepted the record but its file fails: {:?}",
            result.err()
        );
    }

    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    let record = next_signed(
        &chain,
        past_limit,
        ADMIN_A,
        &[ADMIN_A],
        add_platform(P1, "AP-HP"),
    );
    if chain.append(record).is_ok() {
        let result = verify_value(&file_value(&chain, None)).expect("parses");
        assert!(
            result.is_ok(),
            "the chain accepted the record but its file fails: {:?}",
            result.err()
        );
    }
}
