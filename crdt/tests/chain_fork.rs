//! Records received from peers: old, new, ahead, and rivals that reveal a fork.

mod common;

use common::*;
use fed_crdt::chain::{Chain, Fork, Received};
use fed_crdt::error::{ChainError, RecordError};

/// Genesis, P1 at seq 1, P2 at seq 2.
fn two_members() -> Chain {
    let mut chain = new_chain("fed", &[ADMIN_A, ADMIN_B], 1);
    push(&mut chain, T0 + 1, ADMIN_A, add_platform(P1, "AP-HP"));
    push(&mut chain, T0 + 2, ADMIN_A, add_platform(P2, "HCL"));
    chain
}

#[test]
fn a_rival_record_is_a_fork_and_freezes_the_chain() {
    let mut chain = two_members();
    let ours = chain.records()[2].clone();
    let before = chain.state_at(1).unwrap().into_owned();
    let rival = next_signed(
        &before_chain(&chain, 1),
        T0 + 2,
        ADMIN_B,
        &[ADMIN_B],
        add_platform(P3, "CHU"),
    );
    assert_eq!(rival.seq, 2);
    assert_eq!(rival.prev, Some(chain.records()[1].hash()));

    let err = chain.receive(rival.clone()).unwrap_err();
    assert_eq!(
        err,
        ChainError::Fork {
            seq: 2,
            ours: ours.hash(),
            theirs: rival.hash(),
            prev: chain.records()[1].hash(),
            kept_seq: 1,
        }
    );
    assert_eq!(chain.state().seq, 1);
    assert_eq!(chain.state(), &before);
    assert_eq!(chain.head(), chain.records()[1].hash());
    assert_eq!(chain.records().len(), 2);
    assert!(!chain.state().members.contains_key(&pid(P2)));
    assert!(!chain.state().members.contains_key(&pid(P3)));
    assert_eq!(
        chain.fork(),
        Some(&Fork {
            seq: 2,
            ours: ours.clone(),
            theirs: rival.clone(),
        })
    );

    let forked = ChainError::Forked { seq: 2 };
    assert_eq!(chain.receive(ours.clone()).unwrap_err(), forked);
    assert_eq!(chain.receive(rival).unwrap_err(), forked);
    assert_eq!(chain.append(ours).unwrap_err(), forked);
    let next = next_signed(&chain, T0 + 3, ADMIN_A, &[ADMIN_A], add_platform(P3, "CHU"));
    assert_eq!(chain.append(next.clone()).unwrap_err(), forked);
    assert_eq!(chain.receive(next).unwrap_err(), forked);
    assert_eq!(
        chain.receive(chain.records()[1].clone()).unwrap_err(),
        forked
    );
    assert_eq!(chain.state().seq, 1);
}

/// A copy of `chain` cut back to `seq`.
fn before_chain(chain: &Chain, seq: u64) -> Chain {
    Chain::from_records(chain.records()[..=seq as usize].iter().cloned()).unwrap()
}

#[test]
fn a_deep_fork_falls_back_to_the_record_before_it() {
    let mut chain = two_members();
    push(&mut chain, T0 + 3, ADMIN_A, add_platform(P3, "CHU"));
    push(&mut chain, T0 + 4, ADMIN_A, revoke_body(P2, None));
    let rival = next_signed(
        &before_chain(&chain, 0),
        T0 + 1,
        ADMIN_B,
        &[ADMIN_B],
        add_platform(P3, "CHU"),
    );
    let err = chain.receive(rival).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::Fork {
                seq: 1,
                kept_seq: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(chain.state().seq, 0);
    assert_eq!(chain.records().len(), 1);
    assert!(chain.state().members.is_empty());
    assert_eq!(chain.fork().map(|f| f.seq), Some(1));
}

#[test]
fn known_new_and_future_records() {
    let full = {
        let mut c = two_members();
        push(&mut c, T0 + 3, ADMIN_A, add_platform(P3, "CHU"));
        push(&mut c, T0 + 4, ADMIN_A, revoke_body(P1, None));
        c
    };
    let mut chain = before_chain(&full, 1);

    assert_eq!(
        chain.receive(full.records()[0].clone()),
        Ok(Received::AlreadyHad)
    );
    assert_eq!(
        chain.receive(full.records()[1].clone()),
        Ok(Received::AlreadyHad)
    );
    assert_eq!(chain.state().seq, 1);

    assert_eq!(
        chain.receive(full.records()[3].clone()),
        Err(ChainError::Gap { head: 1, found: 3 })
    );
    assert_eq!(
        chain.receive(full.records()[4].clone()),
        Err(ChainError::Gap { head: 1, found: 4 })
    );
    assert_eq!(chain.state().seq, 1);
    assert!(chain.fork().is_none());

    assert_eq!(
        chain.receive(full.records()[2].clone()),
        Ok(Received::Appended)
    );
    assert_eq!(
        chain.receive(full.records()[2].clone()),
        Ok(Received::AlreadyHad)
    );
    assert_eq!(
        chain.receive(full.records()[3].clone()),
        Ok(Received::Appended)
    );
    assert_eq!(
        chain.receive(full.records()[4].clone()),
        Ok(Received::Appended)
    );
    assert_eq!(chain.state(), full.state());

    let mut far = full.records()[4].clone();
    far.seq = u64::MAX;
    assert_eq!(
        chain.receive(far),
        Err(ChainError::Gap {
            head: 4,
            found: u64::MAX
        })
    );
}

#[test]
fn an_invalid_rival_is_refused_without_a_fork() {
    let mut chain = two_members();
    let base = before_chain(&chain, 1);

    let by_outsider = next_signed(
        &base,
        T0 + 2,
        OUTSIDER,
        &[OUTSIDER],
        add_platform(P3, "CHU"),
    );
    assert_eq!(
        chain.receive(by_outsider).unwrap_err(),
        ChainError::Record {
            index: 2,
            seq: 2,
            reason: RecordError::NotAnAdmin {
                admin: admin(OUTSIDER)
            }
        }
    );

    let mut bad_sig = next_signed(&base, T0 + 2, ADMIN_B, &[ADMIN_B], add_platform(P3, "CHU"));
    bad_sig.signatures[0].signature.0[0] ^= 1;
    assert_eq!(
        chain.receive(bad_sig).unwrap_err(),
        ChainError::Record {
            index: 2,
            seq: 2,
            reason: RecordError::BadSignature {
                admin: admin(ADMIN_B)
            }
        }
    );

    let mut wrong_prev = next_signed(&base, T0 + 2, ADMIN_B, &[], add_platform(P3, "CHU"));
    wrong_prev.prev = Some(chain.records()[2].hash());
    wrong_prev.sign(&key(ADMIN_B)).unwrap();
    let err = chain.receive(wrong_prev).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::Record {
                index: 2,
                seq: 2,
                reason: RecordError::BadPrev { .. }
            }
        ),
        "{err:?}"
    );

    let invalid_body = next_signed(
        &base,
        T0 + 2,
        ADMIN_B,
        &[ADMIN_B],
        add_platform(P1, "AP-HP"),
    );
    assert_eq!(
        chain.receive(invalid_body).unwrap_err(),
        ChainError::Record {
            index: 2,
            seq: 2,
            reason: RecordError::AlreadyAdded {
                platform: pid(P1),
                seq: 1
            }
        }
    );

    let other_genesis = genesis_signed("other", &[ADMIN_A], 1, sample_catalog(), T0);
    let err = chain.receive(other_genesis).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::Record {
                index: 0,
                seq: 0,
                reason: RecordError::WrongFederation { .. }
            }
        ),
        "{err:?}"
    );

    assert!(chain.fork().is_none());
    assert_eq!(chain.state().seq, 2);
    assert_eq!(chain.records().len(), 3);
    push(&mut chain, T0 + 3, ADMIN_A, add_platform(P3, "CHU"));
}

#[test]
fn a_rival_with_too_few_signatures_is_not_a_fork() {
    let mut chain = new_chain("fed", &[ADMIN_A, ADMIN_B, ADMIN_C], 2);
    push_signed(
        &mut chain,
        T0 + 1,
        ADMIN_A,
        &[ADMIN_A, ADMIN_B],
        add_platform(P1, "AP-HP"),
    );
    let base = before_chain(&chain, 0);
    let mut rival = next_signed(&base, T0 + 1, ADMIN_C, &[ADMIN_C], add_platform(P2, "HCL"));
    assert_eq!(
        chain.receive(rival.clone()).unwrap_err(),
        ChainError::Record {
            index: 1,
            seq: 1,
            reason: RecordError::NotEnoughSignatures { have: 1, need: 2 }
        }
    );
    assert!(chain.fork().is_none());
    assert_eq!(chain.state().seq, 1);

    rival.sign(&key(ADMIN_B)).unwrap();
    let err = chain.receive(rival).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::Fork {
                seq: 1,
                kept_seq: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(chain.state().seq, 0);
}

#[test]
fn a_rival_is_checked_against_the_admins_of_its_predecessor() {
    let mut chain = new_chain("fed", &[ADMIN_A, ADMIN_B], 1);
    push(&mut chain, T0 + 1, ADMIN_B, rotate_body(&[ADMIN_B], 1));
    push(&mut chain, T0 + 2, ADMIN_B, add_platform(P1, "AP-HP"));

    let late = next_signed(
        &before_chain(&chain, 1),
        T0 + 2,
        ADMIN_A,
        &[ADMIN_A],
        add_platform(P2, "HCL"),
    );
    assert_eq!(
        chain.receive(late).unwrap_err(),
        ChainError::Record {
            index: 2,
            seq: 2,
            reason: RecordError::NotAnAdmin {
                admin: admin(ADMIN_A)
            }
        }
    );
    assert!(chain.fork().is_none());

    let early = next_signed(
        &before_chain(&chain, 0),
        T0 + 1,
        ADMIN_A,
        &[ADMIN_A],
        add_platform(P2, "HCL"),
    );
    let err = chain.receive(early).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::Fork {
                seq: 1,
                kept_seq: 0,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(chain.state().seq, 0);
    assert_eq!(
        chain.state().admins,
        vec![admin(ADMIN_A), admin(ADMIN_B)],
        "the state falls back to before the rotation"
    );
}
