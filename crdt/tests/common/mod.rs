//! Builders shared by the chain integration tests: deterministic keys, identity cards,
//! signed records, a sample chain, and chain-file JSON helpers.

#![allow(dead_code)]

use ed25519_dalek::SigningKey;
use fed_crdt::card::{CardFields, IdentityCard};
use fed_crdt::chain::body::{
    CatalogEntries, Entity, EntityType, Expiry, FrontierEntry, RecordBody, RegulatoryFramework,
    Right, Rights, Role,
};
use fed_crdt::chain::file::{ChainFile, VerifiedChain, VerifyError};
use fed_crdt::chain::record::Record;
use fed_crdt::chain::{genesis_record, Chain};
use fed_crdt::error::{ChainError, ChainFileError, RecordError};
use fed_crdt::ids::{AdminKey, ChangeHash, EncryptionKey, PlatformId};
use fed_crdt::Timestamp;
use serde_json::Value;

/// The time of the sample chain's genesis record.
pub const T0: u64 = 1_800_000_000;

/// The admin key seeds of the sample chain.
pub const ADMIN_A: u8 = 1;
pub const ADMIN_B: u8 = 2;
pub const ADMIN_C: u8 = 3;
/// A key that is never an administrator.
pub const OUTSIDER: u8 = 9;

/// Platform key seeds of the sample chain.
pub const P1: u8 = 11;
pub const P2: u8 = 12;
pub const P3: u8 = 13;

/// Expiry of P1 when the sample chain admits it.
pub const P1_EXPIRY: u64 = T0 + 1_000_000;
/// Expiry of P3 in the sample chain.
pub const P3_EXPIRY: u64 = T0 + 2_000_000;

pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32])
}

pub fn admin(seed: u8) -> AdminKey {
    AdminKey::from(&key(seed))
}

pub fn pid(seed: u8) -> PlatformId {
    PlatformId::from(&key(seed))
}

pub fn ts(secs: u64) -> Timestamp {
    Timestamp(secs)
}

pub fn card_with(seed: u8, name: &str, addresses: &[&str]) -> IdentityCard {
    IdentityCard::sign(
        &key(seed),
        CardFields {
            encryption_key: EncryptionKey([seed.wrapping_add(100); 32]),
            name: name.into(),
            operator: format!("{name} data team"),
            addresses: addresses.iter().map(|a| a.to_string()).collect(),
        },
    )
    .expect("valid card")
}

pub fn card(seed: u8, name: &str) -> IdentityCard {
    card_with(seed, name, &["/ip4/10.0.0.1/tcp/4001"])
}

pub fn rights(list: &[Right]) -> Rights {
    list.iter().copied().collect()
}

pub fn add_body(
    seed: u8,
    name: &str,
    role: Role,
    rights: Rights,
    expires_at: Option<u64>,
) -> RecordBody {
    RecordBody::AddPlatform {
        card: card(seed, name),
        role,
        rights,
        expires_at: expires_at.map(Timestamp),
    }
}

pub fn add_platform(seed: u8, name: &str) -> RecordBody {
    add_body(seed, name, Role::Platform, Rights::all(), None)
}

pub fn update_body(
    seed: u8,
    rights: Option<Rights>,
    expires_at: Option<Expiry>,
    card: Option<IdentityCard>,
) -> RecordBody {
    RecordBody::UpdatePlatform {
        platform: pid(seed),
        rights,
        expires_at,
        card,
    }
}

pub fn revoke_body(seed: u8, reason: Option<&str>) -> RecordBody {
    RecordBody::RevokePlatform {
        platform: pid(seed),
        frontier: vec![FrontierEntry {
            document: "projects/p-001".into(),
            heads: vec![ChangeHash([7; 32]), ChangeHash([8; 32])],
        }],
        reason: reason.map(str::to_string),
    }
}

pub fn rotate_body(admins: &[u8], threshold: u32) -> RecordBody {
    RecordBody::RotateAdmin {
        admins: admins.iter().map(|s| admin(*s)).collect(),
        threshold,
    }
}

pub fn framework(id: &str, name: &str) -> RegulatoryFramework {
    RegulatoryFramework {
        id: id.into(),
        name: name.into(),
        description_url: Some(format!("https://example.org/{id}")),
    }
}

pub fn entity_type(id: &str, name: &str) -> EntityType {
    EntityType {
        id: id.into(),
        name: name.into(),
    }
}

pub fn entity(id: &str, name: &str, entity_type: &str) -> Entity {
    Entity {
        id: id.into(),
        name: name.into(),
        entity_type: entity_type.into(),
    }
}

pub fn sample_catalog() -> CatalogEntries {
    CatalogEntries {
        frameworks: vec![framework("mr-004", "MR-004")],
        entity_types: vec![entity_type("hospital", "Hospital")],
        entities: vec![entity("aphp", "AP-HP", "hospital")],
    }
}

/// A genesis record issued by `admins[0]` and signed by it alone.
pub fn genesis_signed(
    name: &str,
    admins: &[u8],
    threshold: u32,
    catalog: CatalogEntries,
    at: u64,
) -> Record {
    let mut record = genesis_record(
        ts(at),
        admin(admins[0]),
        RecordBody::Genesis {
            name: name.into(),
            admins: admins.iter().map(|s| admin(*s)).collect(),
            threshold,
            catalog,
        },
    );
    record.sign(&key(admins[0])).expect("first signature");
    record
}

/// A chain holding only a valid genesis record.
pub fn new_chain(name: &str, admins: &[u8], threshold: u32) -> Chain {
    Chain::from_genesis(genesis_signed(
        name,
        admins,
        threshold,
        sample_catalog(),
        T0,
    ))
    .expect("valid genesis")
}

/// The next record on `chain`, issued by `issuer` and signed by each of `signers` in turn.
pub fn next_signed(chain: &Chain, at: u64, issuer: u8, signers: &[u8], body: RecordBody) -> Record {
    let mut record = chain.next_record(ts(at), admin(issuer), body);
    for s in signers {
        record.sign(&key(*s)).expect("distinct signers");
    }
    record
}

/// Builds, signs (by the issuer alone) and appends the next record, which must be valid.
pub fn push(chain: &mut Chain, at: u64, issuer: u8, body: RecordBody) -> Record {
    push_signed(chain, at, issuer, &[issuer], body)
}

/// Builds, signs and appends the next record, which must be valid.
pub fn push_signed(
    chain: &mut Chain,
    at: u64,
    issuer: u8,
    signers: &[u8],
    body: RecordBody,
) -> Record {
    let record = next_signed(chain, at, issuer, signers, body);
    chain
        .append(record.clone())
        .unwrap_or_else(|e| panic!("record should be valid: {e}"));
    record
}

/// Builds and signs the next record, appends it, and returns the refusal's index, seq and
/// reason. Panics if the record is accepted.
pub fn refuse(
    chain: &mut Chain,
    at: u64,
    issuer: u8,
    signers: &[u8],
    body: RecordBody,
) -> RecordError {
    let record = next_signed(chain, at, issuer, signers, body);
    refuse_record(chain, record)
}

/// Appends `record`, expecting it to be refused as the next record; checks that the chain
/// did not move and returns the reason.
pub fn refuse_record(chain: &mut Chain, record: Record) -> RecordError {
    let before = chain.state().clone();
    let len = chain.records().len();
    let seq = record.seq;
    let err = chain.append(record).expect_err("record should be refused");
    assert_eq!(
        chain.state(),
        &before,
        "a refused record must not change the state"
    );
    assert_eq!(chain.records().len(), len);
    match err {
        ChainError::Record {
            index,
            seq: found,
            reason,
        } => {
            assert_eq!(index, len, "the refusal names the record's position");
            assert_eq!(found, seq, "the refusal names the record's seq");
            reason
        }
        other => panic!("expected a record error, got {other:?}"),
    }
}

/// The sample chain: every kind of record, the last one co-signed under a 2-of-2 threshold.
///
/// | index | record | issuer | signers |
/// |---|---|---|---|
/// | 0 | genesis, admins [A], threshold 1, catalog | A | A |
/// | 1 | add P1 (platform, read+write_projects, expires) | A | A |
/// | 2 | add P2 (relay) | A | A |
/// | 3 | update P1 (all rights, never expires, new card) | A | A |
/// | 4 | catalog (entity type `lab`, entity `biolab`) | A | A |
/// | 5 | revoke P2 | A | A |
/// | 6 | rotate admins to [A, B], threshold 2 | A | A |
/// | 7 | add P3 (read, expires) | B | B, A |
pub fn sample_chain() -> Chain {
    let mut chain = Chain::from_genesis(genesis_signed(
        "cancer-registry",
        &[ADMIN_A],
        1,
        sample_catalog(),
        T0,
    ))
    .expect("valid genesis");
    push(
        &mut chain,
        T0 + 100,
        ADMIN_A,
        add_body(
            P1,
            "AP-HP",
            Role::Platform,
            rights(&[Right::Read, Right::WriteProjects]),
            Some(P1_EXPIRY),
        ),
    );
    push(
        &mut chain,
        T0 + 200,
        ADMIN_A,
        add_body(P2, "HCL relay", Role::Relay, Rights::none(), None),
    );
    push(
        &mut chain,
        T0 + 300,
        ADMIN_A,
        update_body(
            P1,
            Some(Rights::all()),
            Some(Expiry::Never),
            Some(card_with(P1, "AP-HP", &["/ip4/10.0.0.2/tcp/4001"])),
        ),
    );
    push(
        &mut chain,
        T0 + 400,
        ADMIN_A,
        RecordBody::catalog(CatalogEntries {
            frameworks: vec![],
            entity_types: vec![entity_type("lab", "Laboratory")],
            entities: vec![entity("biolab", "Biolab", "lab")],
        }),
    );
    push(
        &mut chain,
        T0 + 500,
        ADMIN_A,
        revoke_body(P2, Some("left the federation")),
    );
    push(
        &mut chain,
        T0 + 600,
        ADMIN_A,
        rotate_body(&[ADMIN_A, ADMIN_B], 2),
    );
    push_signed(
        &mut chain,
        T0 + 700,
        ADMIN_B,
        &[ADMIN_B, ADMIN_A],
        add_body(
            P3,
            "CHU Lille",
            Role::Platform,
            rights(&[Right::Read]),
            Some(P3_EXPIRY),
        ),
    );
    chain
}

/// The chain file of `chain` (plus a pending record) as a JSON value.
pub fn file_value(chain: &Chain, pending: Option<&Record>) -> Value {
    let text = ChainFile::new(chain, pending).to_json();
    serde_json::from_str(&text).expect("a chain file is JSON")
}

/// A chain file made of these records (genesis first), its federation taken from the
/// first record.
pub fn records_value(records: &[Record]) -> Value {
    let federation = records
        .first()
        .expect("at least one record")
        .genesis_federation_id();
    let file = ChainFile {
        format: fed_crdt::chain::file::CHAIN_FILE_FORMAT.to_string(),
        federation,
        records: records.to_vec(),
    };
    serde_json::from_str(&file.to_json()).expect("a chain file is JSON")
}

/// Writes `value` as text, parses it as a chain file and verifies it.
pub fn verify_value(value: &Value) -> Result<Result<VerifiedChain, VerifyError>, ChainFileError> {
    let text = serde_json::to_string_pretty(value).expect("serialisable");
    ChainFile::parse(&text).map(|file| file.verify())
}

/// Expects the chain file to parse and be refused because of one record; returns its
/// index, seq and reason.
pub fn refused_record(value: &Value) -> (usize, u64, RecordError) {
    match verify_value(value) {
        Err(e) => panic!("the file should parse: {e}"),
        Ok(Ok(v)) => panic!(
            "the file should be refused, but verified to seq {} (pending: {:?})",
            v.chain.state().seq,
            v.pending.map(|p| p.record.seq)
        ),
        Ok(Err(VerifyError::Chain(ChainError::Record { index, seq, reason }))) => {
            (index, seq, reason)
        }
        Ok(Err(other)) => panic!("expected a record error, got {other:?}"),
    }
}

/// A copy of `value` with the value at JSON pointer `pointer` replaced by `f`.
pub fn edited(value: &Value, pointer: &str, f: impl FnOnce(&mut Value)) -> Value {
    let mut copy = value.clone();
    let target = copy
        .pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no value at {pointer}"));
    f(target);
    copy
}

/// The string at `pointer`.
pub fn string_at(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("no string at {pointer}"))
        .to_string()
}

/// `s` with the character at `pos` replaced by `with`.
pub fn replace_char(s: &str, pos: usize, with: char) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| if i == pos { with } else { c })
        .collect()
}

/// A lower-case hex string with one digit changed (it stays valid hex of the same length).
pub fn flip_hex(s: &str, pos: usize) -> String {
    let c = s.chars().nth(pos).expect("position inside the string");
    let with = if c == '0' { '1' } else { '0' };
    replace_char(s, pos, with)
}

/// The sample chain as chain-file JSON, checked to verify as it is.
pub fn sample_value() -> serde_json::Value {
    let value = file_value(&sample_chain(), None);
    let verified = verify_value(&value).expect("parses").expect("verifies");
    assert_eq!(verified.chain.state().seq, 7);
    assert!(verified.pending.is_none());
    value
}

/// The refusal of a signature by the admin of `seed`.
pub fn bad_signature(seed: u8) -> fed_crdt::error::RecordError {
    fed_crdt::error::RecordError::BadSignature { admin: admin(seed) }
}
