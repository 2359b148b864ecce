//! Records moved, dropped, replayed or signed by the wrong key, and values shadowed by
//! duplicated keys: each is refused.

mod common;

use common::*;
use fed_crdt::chain::body::{CatalogEntries, RecordBody};
use fed_crdt::chain::file::{ChainFile, VerifyError};
use fed_crdt::chain::record::AdminSignature;
use fed_crdt::chain::{genesis_record, Chain};
use fed_crdt::error::{ChainError, RecordError};
use fed_crdt::ids::{AdminKey, Signature};
use serde_json::json;

#[test]
fn swapped_records_are_refused() {
    let original = sample_value();
    let mut value = original.clone();
    value["records"].as_array_mut().unwrap().swap(2, 3);
    assert_eq!(
        refused_record(&value),
        (
            2,
            3,
            RecordError::BadSeq {
                expected: 2,
                found: 3
            }
        )
    );

    let mut value = original.clone();
    value["records"].as_array_mut().unwrap().swap(1, 7);
    assert_eq!(
        refused_record(&value),
        (
            1,
            7,
            RecordError::BadSeq {
                expected: 1,
                found: 7
            }
        )
    );

    let mut value = original;
    value["records"].as_array_mut().unwrap().swap(0, 4);
    assert_eq!(
        refused_record(&value),
        (0, 4, RecordError::FirstNotGenesis { found: "catalog" })
    );
}

#[test]
fn swapped_records_with_their_seqs_swapped_too_are_refused() {
    let mut value = sample_value();
    let records = value["records"].as_array_mut().unwrap();
    records.swap(2, 3);
    records[2]["seq"] = json!(2);
    records[3]["seq"] = json!(3);
    let (index, seq, reason) = refused_record(&value);
    assert_eq!((index, seq), (2, 2));
    assert!(matches!(reason, RecordError::BadPrev { .. }), "{reason:?}");
}

#[test]
fn a_dropped_record_is_refused() {
    let original = sample_value();
    let mut value = original.clone();
    value["records"].as_array_mut().unwrap().remove(3);
    assert_eq!(
        refused_record(&value),
        (
            3,
            4,
            RecordError::BadSeq {
                expected: 3,
                found: 4
            }
        )
    );

    let mut value = original.clone();
    let records = value["records"].as_array_mut().unwrap();
    records.remove(3);
    for (i, r) in records.iter_mut().enumerate() {
        r["seq"] = json!(i);
    }
    let (index, seq, reason) = refused_record(&value);
    assert_eq!((index, seq), (3, 3));
    assert!(matches!(reason, RecordError::BadPrev { .. }), "{reason:?}");

    let mut value = original;
    value["records"].as_array_mut().unwrap().remove(0);
    let err = verify_value(&value).expect("parses").unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::Chain(ChainError::Record {
                index: 0,
                seq: 1,
                reason: RecordError::FirstNotGenesis { .. }
            })
        ),
        "{err:?}"
    );
}

#[test]
fn dropping_the_last_record_leaves_a_valid_prefix() {
    let mut value = sample_value();
    value["records"].as_array_mut().unwrap().pop();
    let verified = verify_value(&value).unwrap().unwrap();
    assert_eq!(verified.chain.state().seq, 6);
}

/// A federation with the same admin key and a different genesis, with P1 at seq 1.
fn other_federation() -> Chain {
    let mut chain = Chain::from_genesis(genesis_signed(
        "other-registry",
        &[ADMIN_A],
        1,
        sample_catalog(),
        T0,
    ))
    .unwrap();
    push(&mut chain, T0 + 100, ADMIN_A, add_platform(P1, "AP-HP"));
    push(&mut chain, T0 + 200, ADMIN_A, add_platform(P3, "CHU Lille"));
    chain
}

#[test]
fn a_record_replayed_from_another_federation_is_refused() {
    let other = other_federation();
    let mut chain = new_chain("cancer-registry", &[ADMIN_A], 1);
    assert_ne!(chain.federation(), other.federation());

    let replayed = other.records()[1].clone();
    let reason = refuse_record(&mut chain, replayed.clone());
    assert_eq!(
        reason,
        RecordError::WrongFederation {
            expected: chain.federation().to_string(),
            found: other.federation().to_string(),
        }
    );

    let mut value = file_value(&chain, Some(&replayed));
    assert_eq!(
        refused_record(&value),
        (
            1,
            1,
            RecordError::WrongFederation {
                expected: chain.federation().to_string(),
                found: other.federation().to_string(),
            }
        )
    );

    value["records"][1]["federation"] = json!(chain.federation().to_string());
    let (index, seq, reason) = refused_record(&value);
    assert_eq!((index, seq), (1, 1));
    assert!(matches!(reason, RecordError::BadPrev { .. }), "{reason:?}");

    value["records"][1]["prev"] = json!(chain.head().to_string());
    assert_eq!(refused_record(&value), (1, 1, bad_signature(ADMIN_A)));

    let mut full = sample_value();
    full["records"][2] = serde_json::to_value(&other.records()[2]).unwrap();
    let (index, seq, reason) = refused_record(&full);
    assert_eq!((index, seq), (2, 2));
    assert!(
        matches!(reason, RecordError::WrongFederation { .. }),
        "{reason:?}"
    );
}

#[test]
fn a_genesis_of_another_federation_cannot_be_spliced_in() {
    let other = other_federation();
    let mut value = sample_value();
    value["records"][0] = serde_json::to_value(&other.records()[0]).unwrap();
    let (index, seq, reason) = refused_record(&value);
    assert_eq!((index, seq), (1, 1));
    assert!(
        matches!(reason, RecordError::WrongFederation { .. }),
        "{reason:?}"
    );
}

#[test]
fn a_record_signed_by_a_non_admin_is_refused() {
    let mut chain = new_chain("fed", &[ADMIN_A, ADMIN_B], 1);

    let reason = refuse(
        &mut chain,
        T0 + 1,
        OUTSIDER,
        &[OUTSIDER],
        add_platform(P1, "AP-HP"),
    );
    assert_eq!(
        reason,
        RecordError::NotAnAdmin {
            admin: admin(OUTSIDER)
        }
    );

    let reason = refuse(
        &mut chain,
        T0 + 1,
        ADMIN_A,
        &[OUTSIDER],
        add_platform(P1, "AP-HP"),
    );
    assert_eq!(
        reason,
        RecordError::NotAnAdmin {
            admin: admin(OUTSIDER)
        }
    );

    let mut record = next_signed(
        &chain,
        T0 + 1,
        ADMIN_A,
        &[OUTSIDER],
        add_platform(P1, "AP-HP"),
    );
    record.signatures[0].admin = admin(ADMIN_A);
    let value = file_value(&chain, Some(&record));
    let reason = refuse_record(&mut chain, record);
    assert_eq!(reason, bad_signature(ADMIN_A));
    assert_eq!(refused_record(&value), (1, 1, bad_signature(ADMIN_A)));

    let mut record = next_signed(
        &chain,
        T0 + 1,
        ADMIN_A,
        &[ADMIN_B],
        add_platform(P1, "AP-HP"),
    );
    record.signatures[0].admin = admin(ADMIN_A);
    assert_eq!(refuse_record(&mut chain, record), bad_signature(ADMIN_A));

    let reason = refuse(
        &mut chain,
        T0 + 1,
        ADMIN_A,
        &[ADMIN_B],
        add_platform(P1, "AP-HP"),
    );
    assert_eq!(
        reason,
        RecordError::IssuerDidNotSign {
            issuer: admin(ADMIN_A)
        }
    );

    let reason = refuse(&mut chain, T0 + 1, ADMIN_A, &[], add_platform(P1, "AP-HP"));
    assert_eq!(
        reason,
        RecordError::IssuerDidNotSign {
            issuer: admin(ADMIN_A)
        }
    );

    let mut record = next_signed(&chain, T0 + 1, ADMIN_A, &[], add_platform(P1, "AP-HP"));
    record.signatures.push(AdminSignature {
        admin: AdminKey([0xff; 32]),
        signature: Signature([0; 64]),
    });
    assert_eq!(
        refuse_record(&mut chain, record),
        RecordError::NotAnAdmin {
            admin: AdminKey([0xff; 32])
        }
    );

    push(&mut chain, T0 + 1, ADMIN_B, add_platform(P1, "AP-HP"));
}

#[test]
fn a_genesis_record_in_second_position_is_refused() {
    let mut chain = new_chain("fed", &[ADMIN_A], 1);
    let body = RecordBody::Genesis {
        name: "fed-2".into(),
        admins: vec![admin(ADMIN_A)],
        threshold: 1,
        catalog: CatalogEntries::default(),
    };

    let mut second = genesis_record(ts(T0 + 1), admin(ADMIN_A), body.clone());
    second.sign(&key(ADMIN_A)).unwrap();
    assert_eq!(
        refuse_record(&mut chain, second.clone()),
        RecordError::GenesisNotFirst
    );

    let linked = next_signed(&chain, T0 + 1, ADMIN_A, &[ADMIN_A], body);
    assert_eq!(
        refuse_record(&mut chain, linked),
        RecordError::GenesisNotFirst
    );

    let value = records_value(&[chain.records()[0].clone(), second]);
    assert_eq!(refused_record(&value), (1, 0, RecordError::GenesisNotFirst));

    let mut value = sample_value();
    let genesis = value["records"][0].clone();
    value["records"].as_array_mut().unwrap().insert(1, genesis);
    assert_eq!(refused_record(&value), (1, 0, RecordError::GenesisNotFirst));
}

#[test]
fn records_refused_by_the_chain_are_refused_in_a_file() {
    let chain = sample_chain();
    let mut records = chain.records().to_vec();
    records[4].signatures.clear();
    let err = Chain::from_records(records.clone()).unwrap_err();
    assert_eq!(
        err,
        ChainError::Record {
            index: 4,
            seq: 4,
            reason: RecordError::IssuerDidNotSign {
                issuer: admin(ADMIN_A)
            }
        }
    );
    let text = ChainFile {
        format: fed_crdt::chain::file::CHAIN_FILE_FORMAT.into(),
        federation: chain.federation(),
        records,
    }
    .to_json();
    match ChainFile::parse(&text).unwrap().verify() {
        Err(VerifyError::Chain(e)) => assert_eq!(e, err),
        other => panic!("expected {err:?}, got {other:?}"),
    }
}

/// The chain file text with `line` inserted before the first line that contains `anchor`,
/// at the same indentation.
fn insert_line_before(text: &str, anchor: &str, line: &str) -> String {
    let at = text.find(anchor).expect("anchor in the file");
    let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
    let indent = &text[start..at];
    format!("{}{indent}{line}\n{}", &text[..start], &text[start..])
}

#[test]
fn a_duplicated_key_in_the_file_header_is_refused() {
    let text = ChainFile::new(&sample_chain(), None).to_json();
    let doubled = insert_line_before(
        &text,
        "\"format\":",
        "\"format\": \"fednet-membership-chain/1\",",
    );
    assert!(ChainFile::parse(&doubled).is_err());
}

#[test]
fn a_duplicated_key_inside_a_record_is_refused() {
    let chain = sample_chain();
    let text = ChainFile::new(&chain, None).to_json();
    assert!(ChainFile::parse(&text).unwrap().verify().is_ok());
    let outsider = format!("\"issuer\": \"{}\",", admin(OUTSIDER));
    for (anchor, line) in [
        ("\"seq\": 1,", outsider.as_str()),
        ("\"seq\": 2,", "\"seq\": 5,"),
        (
            "\"rights\": [",
            "\"rights\": [\"read\", \"write_projects\", \"request_exports\", \"answer_exports\"],",
        ),
        ("\"name\": \"AP-HP\"", "\"name\": \"Another platform\","),
    ] {
        let doubled = insert_line_before(&text, anchor, line);
        let verified = ChainFile::parse(&doubled).map(|f| f.verify().map(|v| v.chain.state().seq));
        assert!(
            !matches!(verified, Ok(Ok(_))),
            "a file with `{line}` shadowed by the signed value still verifies"
        );
    }
}
