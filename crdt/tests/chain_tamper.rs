//! Edits of any signed value of a chain file: each is refused, naming the record it
//! affects; values spelled another way do not parse.

mod common;

use common::*;
use fed_crdt::chain::file::VerifyError;
use fed_crdt::error::{ChainFileError, RecordError};
use serde_json::{json, Value};

fn text(s: impl Into<String>) -> impl FnOnce(&mut Value) {
    let s = s.into();
    move |v| *v = Value::String(s)
}

fn hex_flipped(pos: usize) -> impl FnOnce(&mut Value) {
    move |v| {
        let s = v.as_str().expect("a string").to_string();
        *v = Value::String(flip_hex(&s, pos));
    }
}

/// A change made to one value of a chain file.
type Edit = Box<dyn FnOnce(&mut Value)>;

/// One edit of the sample chain file: where, what, and the refusal it must cause.
struct Case {
    what: &'static str,
    pointer: &'static str,
    edit: Edit,
    index: usize,
    seq: u64,
    check: Box<dyn Fn(&RecordError) -> bool>,
}

fn case(
    what: &'static str,
    pointer: &'static str,
    edit: impl FnOnce(&mut Value) + 'static,
    index: usize,
    seq: u64,
    check: impl Fn(&RecordError) -> bool + 'static,
) -> Case {
    Case {
        what,
        pointer,
        edit: Box::new(edit),
        index,
        seq,
        check: Box::new(check),
    }
}

fn is(expected: RecordError) -> impl Fn(&RecordError) -> bool {
    move |r| *r == expected
}

fn run(cases: Vec<Case>) {
    let original = sample_value();
    for c in cases {
        let before = original.pointer(c.pointer).cloned();
        let value = edited(&original, c.pointer, c.edit);
        assert_ne!(
            value.pointer(c.pointer).cloned(),
            before,
            "{}: the edit must change the file",
            c.what
        );
        let (index, seq, reason) = refused_record(&value);
        assert_eq!(
            (index, seq),
            (c.index, c.seq),
            "{}: wrong record named ({reason:?})",
            c.what
        );
        assert!(
            (c.check)(&reason),
            "{}: unexpected reason {reason:?}",
            c.what
        );
    }
}

#[test]
fn editing_a_card_name_is_detected() {
    run(vec![
        case(
            "name of the card admitting P1",
            "/records/1/body/card/name",
            text("AP-HQ"),
            1,
            1,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "name of P1's updated card",
            "/records/3/body/card/name",
            text("Assistance Publique"),
            3,
            3,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "name of the co-signed card of P3",
            "/records/7/body/card/name",
            text("CHU Lil1e"),
            7,
            7,
            is(bad_signature(ADMIN_B)),
        ),
        case(
            "encryption key of P1's card",
            "/records/1/body/card/encryption_key",
            hex_flipped(10),
            1,
            1,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "addresses of P1's card",
            "/records/1/body/card/addresses/0",
            text("/ip4/6.6.6.6/tcp/4001"),
            1,
            1,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "self-signature of P1's card",
            "/records/1/body/card/signature",
            hex_flipped(3),
            1,
            1,
            is(bad_signature(ADMIN_A)),
        ),
    ]);
}

#[test]
fn editing_rights_or_role_is_detected() {
    run(vec![
        case(
            "rights granted to P1",
            "/records/1/body/rights",
            |v| *v = json!(["read", "request_exports"]),
            1,
            1,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "rights granted to P1 (one more)",
            "/records/1/body/rights",
            |v| *v = json!(["read", "write_projects", "answer_exports"]),
            1,
            1,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "rights updated for P1",
            "/records/3/body/rights",
            |v| *v = json!(["read"]),
            3,
            3,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "rights granted to P3",
            "/records/7/body/rights/0",
            text("answer_exports"),
            7,
            7,
            is(bad_signature(ADMIN_B)),
        ),
        case(
            "role of the relay",
            "/records/2/body/role",
            text("platform"),
            2,
            2,
            is(bad_signature(ADMIN_A)),
        ),
    ]);
}

#[test]
fn editing_an_expiry_is_detected() {
    run(vec![
        case(
            "expiry of P1",
            "/records/1/body/expires_at",
            |v| {
                let t: fed_crdt::Timestamp = v.as_str().unwrap().parse().unwrap();
                *v = Value::String(ts(t.0 + 86_400).to_string());
            },
            1,
            1,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "expiry of P1 removed",
            "/records/1/body/expires_at",
            |v| *v = Value::Null,
            1,
            1,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "expiry lifted for P1 turned into a date",
            "/records/3/body/expires_at",
            |v| *v = Value::String(ts(T0 + 5_000).to_string()),
            3,
            3,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "expiry of P3 removed",
            "/records/7/body/expires_at",
            |v| *v = Value::Null,
            7,
            7,
            is(bad_signature(ADMIN_B)),
        ),
        case(
            "expiry of the relay added",
            "/records/2/body/expires_at",
            |v| *v = Value::String(ts(T0 + 5_000).to_string()),
            2,
            2,
            is(bad_signature(ADMIN_A)),
        ),
    ]);
}

#[test]
fn editing_a_seq_is_detected() {
    run(vec![
        case(
            "seq of the genesis",
            "/records/0/seq",
            |v| *v = json!(1),
            0,
            1,
            is(RecordError::MalformedGenesis),
        ),
        case(
            "seq of record 2 raised",
            "/records/2/seq",
            |v| *v = json!(3),
            2,
            3,
            is(RecordError::BadSeq {
                expected: 2,
                found: 3,
            }),
        ),
        case(
            "seq of record 5 lowered",
            "/records/5/seq",
            |v| *v = json!(4),
            5,
            4,
            is(RecordError::BadSeq {
                expected: 5,
                found: 4,
            }),
        ),
        case(
            "seq of the last record",
            "/records/7/seq",
            |v| *v = json!(u64::MAX),
            7,
            u64::MAX,
            is(RecordError::BadSeq {
                expected: 7,
                found: u64::MAX,
            }),
        ),
    ]);
}

#[test]
fn editing_a_prev_hash_is_detected() {
    let bad_prev = |r: &RecordError| matches!(r, RecordError::BadPrev { .. });
    run(vec![
        case(
            "prev of record 1",
            "/records/1/prev",
            hex_flipped(0),
            1,
            1,
            bad_prev,
        ),
        case(
            "prev of record 4",
            "/records/4/prev",
            hex_flipped(63),
            4,
            4,
            bad_prev,
        ),
        case(
            "prev of the last record",
            "/records/7/prev",
            hex_flipped(31),
            7,
            7,
            bad_prev,
        ),
        case(
            "prev of record 3 removed",
            "/records/3/prev",
            |v| *v = Value::Null,
            3,
            3,
            bad_prev,
        ),
    ]);
}

#[test]
fn editing_a_signature_is_detected() {
    run(vec![
        case(
            "signature of the genesis",
            "/records/0/signatures/0/signature",
            hex_flipped(5),
            0,
            0,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "signature of record 5",
            "/records/5/signatures/0/signature",
            hex_flipped(127),
            5,
            5,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "issuer's signature of the co-signed record",
            "/records/7/signatures/0/signature",
            hex_flipped(64),
            7,
            7,
            is(bad_signature(ADMIN_B)),
        ),
        case(
            "co-signature of the co-signed record",
            "/records/7/signatures/1/signature",
            hex_flipped(0),
            7,
            7,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "signer of record 3 renamed to an outsider",
            "/records/3/signatures/0/admin",
            text(admin(OUTSIDER).to_string()),
            3,
            3,
            is(RecordError::NotAnAdmin {
                admin: admin(OUTSIDER),
            }),
        ),
        case(
            "co-signer of record 7 renamed to the issuer",
            "/records/7/signatures/1/admin",
            text(admin(ADMIN_B).to_string()),
            7,
            7,
            is(RecordError::DuplicateSigner {
                admin: admin(ADMIN_B),
            }),
        ),
    ]);
}

#[test]
fn a_removed_cosignature_is_refused_or_leaves_the_record_pending() {
    let original = sample_value();
    let value = edited(&original, "/records/7/signatures", |v| {
        v.as_array_mut().unwrap().pop();
    });
    let verified = verify_value(&value).unwrap().unwrap();
    assert_eq!(
        verified.chain.state().seq,
        6,
        "the last record is not in effect"
    );
    let pending = verified
        .pending
        .expect("the last record waits for co-signers");
    assert_eq!((pending.record.seq, pending.have, pending.need), (7, 1, 2));

    let mut chain = sample_chain();
    push_signed(
        &mut chain,
        T0 + 800,
        ADMIN_A,
        &[ADMIN_A, ADMIN_B],
        revoke_body(P3, None),
    );
    let original = file_value(&chain, None);
    let value = edited(&original, "/records/7/signatures", |v| {
        v.as_array_mut().unwrap().pop();
    });
    let (index, seq, reason) = refused_record(&value);
    assert_eq!((index, seq), (7, 7));
    assert_eq!(
        reason,
        RecordError::NotEnoughSignatures { have: 1, need: 2 }
    );
}

#[test]
fn editing_issued_at_is_detected() {
    run(vec![
        case(
            "issued_at of the genesis",
            "/records/0/issued_at",
            |v| *v = Value::String(ts(T0 - 1).to_string()),
            0,
            0,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "issued_at of record 2, later",
            "/records/2/issued_at",
            |v| *v = Value::String(ts(T0 + 250).to_string()),
            2,
            2,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "issued_at of record 5, before record 4",
            "/records/5/issued_at",
            |v| *v = Value::String(ts(T0 + 399).to_string()),
            5,
            5,
            |r| matches!(r, RecordError::TimeWentBackwards { .. }),
        ),
        case(
            "issued_at of the last record",
            "/records/7/issued_at",
            |v| *v = Value::String(ts(T0 + 701).to_string()),
            7,
            7,
            is(bad_signature(ADMIN_B)),
        ),
    ]);
}

#[test]
fn editing_the_issuer_is_detected() {
    run(vec![
        case(
            "issuer of record 4 set to an outsider",
            "/records/4/issuer",
            text(admin(OUTSIDER).to_string()),
            4,
            4,
            is(RecordError::NotAnAdmin {
                admin: admin(OUTSIDER),
            }),
        ),
        case(
            "issuer of record 2 with one digit changed",
            "/records/2/issuer",
            hex_flipped(7),
            2,
            2,
            |r| matches!(r, RecordError::NotAnAdmin { admin: found } if *found != admin(ADMIN_A)),
        ),
        case(
            "issuer of the co-signed record set to its co-signer",
            "/records/7/issuer",
            text(admin(ADMIN_A).to_string()),
            7,
            7,
            is(bad_signature(ADMIN_B)),
        ),
        case(
            "issuer of the genesis set to an outsider",
            "/records/0/issuer",
            text(admin(OUTSIDER).to_string()),
            0,
            0,
            is(RecordError::NotAnAdmin {
                admin: admin(OUTSIDER),
            }),
        ),
    ]);
}

#[test]
fn editing_the_genesis_is_detected() {
    run(vec![
        case(
            "federation name",
            "/records/0/body/name",
            text("cancer-registrY"),
            0,
            0,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "genesis threshold",
            "/records/0/body/threshold",
            |v| *v = json!(2),
            0,
            0,
            |r| {
                matches!(
                    r,
                    RecordError::BadThreshold {
                        threshold: 2,
                        admins: 1,
                        ..
                    }
                )
            },
        ),
        case(
            "genesis admins",
            "/records/0/body/admins",
            |v| {
                v.as_array_mut()
                    .unwrap()
                    .push(Value::String(admin(OUTSIDER).to_string()))
            },
            0,
            0,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "genesis catalog",
            "/records/0/body/catalog/frameworks/0/description_url",
            text("https://example.org/other"),
            0,
            0,
            is(bad_signature(ADMIN_A)),
        ),
    ]);
}

#[test]
fn editing_the_threshold_of_a_multi_admin_genesis_is_detected() {
    let chain = new_chain("fed", &[ADMIN_A, ADMIN_B, ADMIN_C], 2);
    let original = file_value(&chain, None);
    verify_value(&original).unwrap().unwrap();
    for threshold in [1, 3] {
        let value = edited(&original, "/records/0/body/threshold", |v| {
            *v = json!(threshold)
        });
        assert_eq!(
            refused_record(&value),
            (0, 0, bad_signature(ADMIN_A)),
            "threshold {threshold}"
        );
    }
}

#[test]
fn editing_other_signed_fields_is_detected() {
    run(vec![
        case(
            "threshold of the admin rotation",
            "/records/6/body/threshold",
            |v| *v = json!(1),
            6,
            6,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "admins of the rotation",
            "/records/6/body/admins/1",
            text(admin(ADMIN_C).to_string()),
            6,
            6,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "catalog entity name",
            "/records/4/body/entities/0/name",
            text("Biolab SA"),
            4,
            4,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "revocation reason",
            "/records/5/body/reason",
            text("left the federatioN"),
            5,
            5,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "revocation frontier",
            "/records/5/body/frontier/0/heads/1",
            hex_flipped(2),
            5,
            5,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "revoked platform",
            "/records/5/body/platform",
            text(pid(P1).to_string()),
            5,
            5,
            is(bad_signature(ADMIN_A)),
        ),
        case(
            "federation of record 3",
            "/records/3/federation",
            hex_flipped(12),
            3,
            3,
            |r| matches!(r, RecordError::WrongFederation { .. }),
        ),
    ]);
}

#[test]
fn the_file_federation_must_be_the_genesis_hash() {
    let original = sample_value();
    let value = edited(&original, "/federation", hex_flipped(0));
    match verify_value(&value).expect("parses") {
        Err(VerifyError::File(ChainFileError::FederationMismatch { .. })) => {}
        other => panic!("expected a federation mismatch, got {other:?}"),
    }
}

#[test]
fn values_with_another_spelling_do_not_parse() {
    let original = sample_value();
    let cases: Vec<(&str, usize, Edit)> = vec![
        (
            "/records/1/body/rights",
            1,
            Box::new(|v| *v = json!(["write_projects", "read"])),
        ),
        (
            "/records/1/body/rights",
            1,
            Box::new(|v| *v = json!(["read", "read", "write_projects"])),
        ),
        (
            "/records/1/body/rights/0",
            1,
            Box::new(|v| *v = json!("Read")),
        ),
        (
            "/records/4/prev",
            4,
            Box::new(|v| *v = Value::String(v.as_str().unwrap().to_uppercase())),
        ),
        (
            "/records/2/issued_at",
            2,
            Box::new(|v| *v = Value::String(v.as_str().unwrap().replace('Z', "+00:00"))),
        ),
        (
            "/records/3/body/expires_at",
            3,
            Box::new(|v| *v = json!("Never")),
        ),
        (
            "/records/3/body/platform",
            3,
            Box::new(|v| {
                let s = v.as_str().unwrap().to_string();
                *v = Value::String(s[1..].to_string())
            }),
        ),
        (
            "/records/6/body/threshold",
            6,
            Box::new(|v| *v = json!(u64::from(u32::MAX) + 1)),
        ),
        ("/records/0/seq", 0, Box::new(|v| *v = json!(-1))),
        ("/records/2/seq", 2, Box::new(|v| *v = json!("2"))),
        (
            "/records/5/body/type",
            5,
            Box::new(|v| *v = json!("revoke")),
        ),
        (
            "/records/7",
            7,
            Box::new(|v| {
                v.as_object_mut()
                    .unwrap()
                    .insert("note".into(), json!("unsigned"));
            }),
        ),
        (
            "/records/5/body",
            5,
            Box::new(|v| {
                v.as_object_mut()
                    .unwrap()
                    .insert("comment".into(), json!("unsigned"));
            }),
        ),
        (
            "/records/0/body/catalog/entities/0",
            0,
            Box::new(|v| {
                v.as_object_mut()
                    .unwrap()
                    .insert("country".into(), json!("FR"));
            }),
        ),
        (
            "/records/7/signatures/1",
            7,
            Box::new(|v| {
                v.as_object_mut().unwrap().insert("at".into(), json!("now"));
            }),
        ),
        (
            "/records/7/body/card",
            7,
            Box::new(|v| {
                v.as_object_mut()
                    .unwrap()
                    .insert("email".into(), json!("x@example.org"));
            }),
        ),
    ];
    for (pointer, index, edit) in cases {
        let value = edited(&original, pointer, edit);
        match verify_value(&value) {
            Err(ChainFileError::Record { index: found, .. }) => {
                assert_eq!(found, index, "edit at {pointer}")
            }
            other => panic!("edit at {pointer}: expected a malformed record, got {other:?}"),
        }
    }
}
