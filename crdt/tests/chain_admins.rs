//! Administrators: rotation, k-of-n thresholds, co-signing and pending records.

mod common;

use common::*;
use fed_crdt::chain::body::{Right, Rights, Role};
use fed_crdt::chain::file::{ChainFile, VerifiedChain};
use fed_crdt::chain::record::Record;
use fed_crdt::chain::Chain;
use fed_crdt::error::{ChainError, RecordError};

fn verify_with_pending(chain: &Chain, pending: &Record) -> VerifiedChain {
    let text = ChainFile::new(chain, Some(pending)).to_json();
    ChainFile::parse(&text)
        .expect("parses")
        .verify()
        .expect("verifies")
}

#[test]
fn a_rotated_out_admin_can_no_longer_sign() {
    let mut chain = new_chain("fed", &[ADMIN_A, ADMIN_B], 1);
    push(&mut chain, T0 + 1, ADMIN_A, add_platform(P1, "AP-HP"));
    push(&mut chain, T0 + 2, ADMIN_A, rotate_body(&[ADMIN_B], 1));
    assert!(!chain.state().is_admin(&admin(ADMIN_A)));
    assert!(chain.state().is_admin(&admin(ADMIN_B)));
    assert_eq!(chain.state().admins, vec![admin(ADMIN_B)]);

    let reason = refuse(
        &mut chain,
        T0 + 3,
        ADMIN_A,
        &[ADMIN_A],
        add_platform(P2, "HCL"),
    );
    assert_eq!(
        reason,
        RecordError::NotAnAdmin {
            admin: admin(ADMIN_A)
        }
    );
    let reason = refuse(
        &mut chain,
        T0 + 3,
        ADMIN_B,
        &[ADMIN_B, ADMIN_A],
        add_platform(P2, "HCL"),
    );
    assert_eq!(
        reason,
        RecordError::NotAnAdmin {
            admin: admin(ADMIN_A)
        }
    );

    let stale = next_signed(&chain, T0 + 3, ADMIN_A, &[ADMIN_A], add_platform(P2, "HCL"));
    let value = file_value(&chain, Some(&stale));
    assert_eq!(
        refused_record(&value),
        (
            3,
            3,
            RecordError::NotAnAdmin {
                admin: admin(ADMIN_A)
            }
        )
    );

    push(&mut chain, T0 + 3, ADMIN_B, add_platform(P2, "HCL"));
    assert_eq!(chain.state().seq, 3);
}

#[test]
fn a_new_admin_cannot_sign_its_own_rotation() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    let reason = refuse(
        &mut chain,
        T0 + 1,
        ADMIN_C,
        &[ADMIN_C],
        rotate_body(&[ADMIN_C], 1),
    );
    assert_eq!(
        reason,
        RecordError::NotAnAdmin {
            admin: admin(ADMIN_C)
        }
    );
    push(&mut chain, T0 + 1, ADMIN_A, rotate_body(&[ADMIN_C], 1));
    push(&mut chain, T0 + 2, ADMIN_C, add_platform(P1, "AP-HP"));
}

fn two_of_three_by_genesis() -> Chain {
    new_chain("fed", &[ADMIN_A, ADMIN_B, ADMIN_C], 2)
}

fn two_of_three_by_rotation() -> Chain {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    push(
        &mut chain,
        T0 + 1,
        ADMIN_A,
        rotate_body(&[ADMIN_A, ADMIN_B, ADMIN_C], 2),
    );
    assert_eq!(chain.state().threshold, 2);
    chain
}

#[test]
fn genesis_is_signed_by_its_issuer_alone() {
    let chain = two_of_three_by_genesis();
    assert_eq!(chain.records()[0].signatures.len(), 1);
    assert_eq!(chain.state().threshold, 2);
    verify_value(&file_value(&chain, None)).unwrap().unwrap();
}

#[test]
fn k_of_n_records_wait_for_co_signatures() {
    for (label, mut chain) in [
        ("genesis", two_of_three_by_genesis()),
        ("rotation", two_of_three_by_rotation()),
    ] {
        let head = chain.state().clone();
        let at = T0 + 10;
        let mut record = next_signed(&chain, at, ADMIN_A, &[ADMIN_A], add_platform(P1, "AP-HP"));
        let hash = record.hash();

        let err = chain.append(record.clone()).unwrap_err();
        assert_eq!(
            err,
            ChainError::Record {
                index: chain.records().len(),
                seq: record.seq,
                reason: RecordError::NotEnoughSignatures { have: 1, need: 2 }
            },
            "{label}"
        );
        assert_eq!(chain.state(), &head, "{label}");
        assert_eq!(chain.check_pending(&record), Ok(1), "{label}");

        let verified = verify_with_pending(&chain, &record);
        let pending = verified.pending.expect("pending");
        assert_eq!((pending.have, pending.need), (1, 2), "{label}");
        assert_eq!(pending.record, record, "{label}");
        assert_eq!(verified.chain.state(), &head, "{label}: not in effect yet");
        assert!(!verified.chain.state().members.contains_key(&pid(P1)));

        record.sign(&key(ADMIN_B)).unwrap();
        assert_eq!(record.hash(), hash, "{label}: co-signing keeps the hash");
        assert_eq!(chain.check_pending(&record), Ok(2), "{label}");
        let verified = verify_with_pending(&chain, &record);
        assert!(verified.pending.is_none(), "{label}");
        assert_eq!(verified.chain.state().seq, head.seq + 1, "{label}");
        assert!(verified.chain.state().is_member(&pid(P1), ts(at)));

        chain.append(record).unwrap();
        assert_eq!(chain.state(), verified.chain.state(), "{label}");
    }
}

#[test]
fn a_pending_record_counts_every_valid_co_signature() {
    let mut chain = new_chain("fed", &[ADMIN_A, ADMIN_B, ADMIN_C], 3);
    let mut record = next_signed(
        &chain,
        T0 + 1,
        ADMIN_C,
        &[ADMIN_C, ADMIN_A],
        add_platform(P1, "AP-HP"),
    );
    let pending = verify_with_pending(&chain, &record)
        .pending
        .expect("pending");
    assert_eq!((pending.have, pending.need), (2, 3));
    record.sign(&key(ADMIN_B)).unwrap();
    chain.append(record).unwrap();
}

#[test]
fn a_pending_record_is_refused_if_anything_else_is_wrong() {
    let mut chain = two_of_three_by_genesis();
    push_signed(
        &mut chain,
        T0 + 1,
        ADMIN_A,
        &[ADMIN_A, ADMIN_B],
        add_platform(P1, "AP-HP"),
    );
    let twice = next_signed(
        &chain,
        T0 + 2,
        ADMIN_A,
        &[ADMIN_A],
        add_platform(P1, "AP-HP"),
    );
    assert_eq!(
        refused_record(&file_value(&chain, Some(&twice))),
        (
            2,
            2,
            RecordError::AlreadyAdded {
                platform: pid(P1),
                seq: 1
            }
        )
    );

    let relay = next_signed(
        &chain,
        T0 + 2,
        ADMIN_B,
        &[ADMIN_B],
        add_body(P2, "relay", Role::Relay, Rights::all(), None),
    );
    assert!(matches!(
        refused_record(&file_value(&chain, Some(&relay))),
        (2, 2, RecordError::RelayWithRights { .. })
    ));

    let not_issuer = next_signed(&chain, T0 + 2, ADMIN_A, &[ADMIN_B], add_platform(P2, "HCL"));
    assert_eq!(
        refused_record(&file_value(&chain, Some(&not_issuer))),
        (
            2,
            2,
            RecordError::IssuerDidNotSign {
                issuer: admin(ADMIN_A)
            }
        )
    );
}

#[test]
fn only_the_last_record_of_a_file_may_be_pending() {
    let mut chain = two_of_three_by_genesis();
    let short = next_signed(
        &chain,
        T0 + 1,
        ADMIN_A,
        &[ADMIN_A],
        add_platform(P1, "AP-HP"),
    );
    let mut full = short.clone();
    full.sign(&key(ADMIN_C)).unwrap();
    chain.append(full).unwrap();
    let next = next_signed(
        &chain,
        T0 + 2,
        ADMIN_B,
        &[ADMIN_B, ADMIN_C],
        add_platform(P2, "HCL"),
    );
    let value = records_value(&[chain.records()[0].clone(), short, next]);
    assert_eq!(
        refused_record(&value),
        (1, 1, RecordError::NotEnoughSignatures { have: 1, need: 2 })
    );
}

#[test]
fn a_duplicated_signature_is_refused() {
    let mut chain = two_of_three_by_genesis();
    let mut record = next_signed(
        &chain,
        T0 + 1,
        ADMIN_A,
        &[ADMIN_A],
        add_platform(P1, "AP-HP"),
    );
    assert_eq!(
        record.sign(&key(ADMIN_A)),
        Err(RecordError::DuplicateSigner {
            admin: admin(ADMIN_A)
        })
    );
    assert_eq!(record.signatures.len(), 1);

    let dup = record.signatures[0].clone();
    record.signatures.push(dup);
    assert_eq!(
        refused_record(&file_value(&chain, Some(&record))),
        (
            1,
            1,
            RecordError::DuplicateSigner {
                admin: admin(ADMIN_A)
            }
        )
    );
    assert_eq!(
        refuse_record(&mut chain, record),
        RecordError::DuplicateSigner {
            admin: admin(ADMIN_A)
        }
    );

    let mut record = next_signed(
        &chain,
        T0 + 1,
        ADMIN_A,
        &[ADMIN_A, ADMIN_B],
        add_platform(P1, "AP-HP"),
    );
    let dup = record.signatures[1].clone();
    record.signatures.push(dup);
    assert_eq!(
        refuse_record(&mut chain, record),
        RecordError::DuplicateSigner {
            admin: admin(ADMIN_B)
        }
    );
}

#[test]
fn a_co_signature_by_a_rotated_out_admin_is_refused() {
    let mut chain = two_of_three_by_genesis();
    push_signed(
        &mut chain,
        T0 + 1,
        ADMIN_A,
        &[ADMIN_A, ADMIN_C],
        rotate_body(&[ADMIN_A, ADMIN_B], 2),
    );
    assert!(!chain.state().is_admin(&admin(ADMIN_C)));

    let record = next_signed(
        &chain,
        T0 + 2,
        ADMIN_A,
        &[ADMIN_A, ADMIN_C],
        add_platform(P1, "AP-HP"),
    );
    assert_eq!(
        refused_record(&file_value(&chain, Some(&record))),
        (
            2,
            2,
            RecordError::NotAnAdmin {
                admin: admin(ADMIN_C)
            }
        ),
        "not left pending either"
    );
    assert_eq!(
        chain.check_pending(&record),
        Err(RecordError::NotAnAdmin {
            admin: admin(ADMIN_C)
        })
    );
    assert_eq!(
        refuse_record(&mut chain, record),
        RecordError::NotAnAdmin {
            admin: admin(ADMIN_C)
        }
    );

    let record = next_signed(
        &chain,
        T0 + 2,
        ADMIN_C,
        &[ADMIN_C, ADMIN_A, ADMIN_B],
        add_platform(P1, "AP-HP"),
    );
    assert_eq!(
        refuse_record(&mut chain, record),
        RecordError::NotAnAdmin {
            admin: admin(ADMIN_C)
        }
    );

    push_signed(
        &mut chain,
        T0 + 2,
        ADMIN_B,
        &[ADMIN_B, ADMIN_A],
        add_platform(P1, "AP-HP"),
    );
}

#[test]
fn raising_the_threshold_needs_the_old_threshold() {
    let mut chain = new_chain("fed", &[ADMIN_A, ADMIN_B], 1);
    push(
        &mut chain,
        T0 + 1,
        ADMIN_B,
        rotate_body(&[ADMIN_A, ADMIN_B, ADMIN_C], 3),
    );
    let reason = refuse(
        &mut chain,
        T0 + 2,
        ADMIN_A,
        &[ADMIN_A, ADMIN_B],
        rotate_body(&[ADMIN_A], 1),
    );
    assert_eq!(
        reason,
        RecordError::NotEnoughSignatures { have: 2, need: 3 }
    );
    push_signed(
        &mut chain,
        T0 + 2,
        ADMIN_A,
        &[ADMIN_A, ADMIN_B, ADMIN_C],
        rotate_body(&[ADMIN_A], 1),
    );
    push(
        &mut chain,
        T0 + 3,
        ADMIN_A,
        add_body(P1, "AP-HP", Role::Platform, Rights::all(), None),
    );
    assert!(chain
        .state()
        .has_right(&pid(P1), Right::WriteProjects, ts(T0 + 3)));
    verify_value(&file_value(&chain, None)).unwrap().unwrap();
}
