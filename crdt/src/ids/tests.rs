//! Unit tests of the identifiers: strict text forms and derived document ids.

use super::*;

fn key(seed: u8) -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&[seed; 32])
}

#[test]
fn platform_id_round_trips_and_looks_like_a_peer_id() {
    let id = PlatformId::from(&key(7));
    let text = id.to_string();
    assert!(text.starts_with("12D3KooW"), "{text}");
    assert_eq!(text.parse::<PlatformId>().unwrap(), id);
}

#[test]
fn platform_id_has_one_spelling() {
    let text = PlatformId::from(&key(7)).to_string();
    // A second leading `1` is a second zero byte; anything else spells another number.
    assert!(format!("1{text}").parse::<PlatformId>().is_err());
    assert!(format!("{text}1").parse::<PlatformId>().is_err());
    assert!(text[1..].parse::<PlatformId>().is_err());
    assert!(format!(" {text}").parse::<PlatformId>().is_err());
}

#[test]
fn platform_id_refuses_other_multihashes() {
    // A PeerId of an RSA or secp256k1 key, or random base58, is not ours.
    assert!("QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"
        .parse::<PlatformId>()
        .is_err());
    assert!("not-base58-0OIl".parse::<PlatformId>().is_err());
    assert!("".parse::<PlatformId>().is_err());
}

#[test]
fn hex_ids_are_strict() {
    let k = AdminKey::from(&key(1));
    let text = k.to_string();
    assert_eq!(text.parse::<AdminKey>().unwrap(), k);
    assert!(text.to_uppercase().parse::<AdminKey>().is_err());
    assert!(text[..62].parse::<AdminKey>().is_err());
    assert!(format!("{text}00").parse::<AdminKey>().is_err());
    assert!(format!(" {}", &text[1..]).parse::<AdminKey>().is_err());
}

#[test]
fn parse_errors_name_what_was_expected() {
    let err = "abc".parse::<FederationId>().unwrap_err().to_string();
    assert!(err.contains("federation id"), "{err}");
    assert!(err.contains("64"), "{err}");
}

#[test]
fn doc_ids_round_trip_and_are_strict() {
    let id = DocId::random(DocKind::Project, [0xab; 16]);
    let text = id.to_string();
    assert_eq!(text, format!("project:{}", "ab".repeat(16)));
    assert_eq!(text.parse::<DocId>().unwrap(), id);
    assert_eq!(id.fmt_short(), "project:abababababab");
    for kind in DocKind::ALL {
        let id = DocId::random(kind, [7; 16]);
        assert_eq!(id.to_string().parse::<DocId>().unwrap(), id);
    }
    for bad in [
        "".to_string(),
        "project".to_string(),
        format!("projects:{}", "ab".repeat(16)),
        format!("Project:{}", "ab".repeat(16)),
        format!("project:{}", "AB".repeat(16)),
        format!("project:{}", "ab".repeat(15)),
        format!("project:{}00", "ab".repeat(16)),
        format!("project::{}", "ab".repeat(16)),
        format!(" project:{}", "ab".repeat(16)),
    ] {
        assert!(bad.parse::<DocId>().is_err(), "{bad} should be refused");
    }
    let err = "folder:00".parse::<DocId>().unwrap_err().to_string();
    assert!(err.contains("folder:00"), "{err}");
}

#[test]
fn doc_ids_serialize_as_strings() {
    let id = DocId::random(DocKind::Export, [1; 16]);
    let json = serde_json::to_string(&id).unwrap();
    assert_eq!(json, format!("\"export:{}\"", "01".repeat(16)));
    assert_eq!(serde_json::from_str::<DocId>(&json).unwrap(), id);
    assert!(serde_json::from_str::<DocId>("\"export:01\"").is_err());
}

#[test]
fn platforms_registry_id_is_derived_from_the_federation() {
    let a = DocId::platforms_registry(&FederationId([1; 32]));
    let b = DocId::platforms_registry(&FederationId([2; 32]));
    assert_eq!(a.kind, DocKind::Platforms);
    assert_ne!(a, b);
    assert_eq!(a, DocId::platforms_registry(&FederationId([1; 32])));
    use sha2::{Digest, Sha256};
    let mut input = b"fednet/platforms-registry/v1".to_vec();
    input.extend_from_slice(&[1; 32]);
    let digest = Sha256::digest(&input);
    assert_eq!(a.id[..], digest[..16]);
}

#[test]
fn private_ids_are_derived_from_kind_creator_and_nonce() {
    let creator = PlatformId::from(&key(5));
    let id = DocId::derive(DocKind::Project, &creator, [3; 16]);
    assert_eq!(id.kind, DocKind::Project);
    assert_eq!(id, DocId::derive(DocKind::Project, &creator, [3; 16]));
    let others = [
        DocId::derive(DocKind::Export, &creator, [3; 16]),
        DocId::derive(DocKind::Project, &PlatformId::from(&key(6)), [3; 16]),
        DocId::derive(DocKind::Project, &creator, [4; 16]),
    ];
    for other in others {
        assert_ne!(other.id, id.id);
    }
    use sha2::{Digest, Sha256};
    let mut input = b"fednet/document-id/v1project".to_vec();
    input.extend_from_slice(creator.as_bytes());
    input.extend_from_slice(&[3; 16]);
    assert_eq!(id.id[..], Sha256::digest(&input)[..16]);
}

#[test]
fn nonces_are_strict_hex() {
    assert_eq!(parse_nonce(&"0a".repeat(16)), Some([10; 16]));
    assert_eq!(parse_nonce(&"0A".repeat(16)), None);
    assert_eq!(parse_nonce(&"0a".repeat(15)), None);
    assert_eq!(parse_nonce(""), None);
}

#[test]
fn a_platform_key_is_decompressed_once_and_a_bad_one_is_refused_every_time() {
    let id = PlatformId::from(&key(9));
    assert_eq!(
        id.verifying_key().expect("a key").to_bytes(),
        key(9).verifying_key().to_bytes()
    );
    // Bytes that are no point of the curve: refused, and refused again (never cached).
    let bad = (0u8..=255)
        .map(|b| PlatformId([b; 32]))
        .find(|p| VerifyingKey::from_bytes(&p.0).is_err())
        .expect("some bytes are not a point");
    assert!(bad.verifying_key().is_err());
    assert!(bad.verifying_key().is_err());
    // Past the cache's limit it starts afresh, and every key still reads right.
    for n in 0..(super::MAX_CACHED_PLATFORM_KEYS + 10) {
        let mut seed = [0u8; 32];
        seed[..8].copy_from_slice(&(n as u64).to_le_bytes());
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let id = PlatformId::from(&signing);
        assert_eq!(
            id.verifying_key().expect("a key").to_bytes(),
            signing.verifying_key().to_bytes()
        );
    }
    assert!(id.verifying_key().is_ok());
}
