//! Sealed payloads and key grants from the attacker's side: a sealed payload opens only
//! under its epoch's key in its own envelope, a key grant opens only for the recipient
//! the chain knows, and a change building on a new epoch cannot use the old key.

mod common;
mod support;

use ed25519_dalek::SigningKey;
use fed_crdt::card::{CardFields, IdentityCard};
use fed_crdt::chain::body::{RecordBody, Rights, Role};
use fed_crdt::chain::Chain;
use fed_crdt::envelope::ChangeEnvelope;
use fed_crdt::error::SealError;
use fed_crdt::ids::{ChangeHash, DocId, DocKind, EncryptionKey, PlatformId, RecordHash};
use fed_crdt::limits::{MAX_GRANT_RECIPIENTS, MAX_SEALED_OVERHEAD};
use fed_crdt::seal::{
    is_sealed, open_payload, seal_envelope, sealed_epoch, superseded_epoch, EpochKey, KeyGrant,
};
use hpke::kem::X25519HkdfSha256;
use hpke::{Deserializable, Kem, Serializable};
use rand::rngs::StdRng;
use rand::SeedableRng;

use common::{key, new_chain, pid, push, ADMIN_A, P1, P2, P3, T0};
use support::{registry, set_profile, RELAY, STRANGER};

/// A platform admitted, then revoked.
const REVOKED: u8 = 17;
/// Written in the sealed change, looked for in the ciphertext.
const MARKER: &str = "Cohorte-Confidentielle-7731";
const KEY: EpochKey = EpochKey([0x42; 32]);
const NONCE: [u8; 24] = [9; 24];

/// The X25519 secret key of the platform of `seed`.
fn secret(seed: u8) -> [u8; 32] {
    [seed ^ 0x5a; 32]
}

/// The X25519 public key of [`secret`], as identity cards carry it.
fn public(seed: u8) -> EncryptionKey {
    let secret = <X25519HkdfSha256 as Kem>::PrivateKey::from_bytes(&secret(seed)).unwrap();
    let public = X25519HkdfSha256::sk_to_pk(&secret).to_bytes();
    EncryptionKey(public.into())
}

fn admit(chain: &mut Chain, at: u64, seed: u8, role: Role) {
    let card = IdentityCard::sign(
        &key(seed),
        CardFields {
            encryption_key: public(seed),
            name: format!("platform {seed}"),
            operator: String::new(),
            addresses: vec![],
        },
    )
    .unwrap();
    let rights = match role {
        Role::Relay => Rights::none(),
        Role::Platform => Rights::all(),
    };
    let body = RecordBody::AddPlatform {
        card,
        role,
        rights,
        expires_at: None,
    };
    push(chain, at, ADMIN_A, body);
}

/// P1, P2 and P3, a relay, and a revoked platform, each card carrying [`public`].
fn chain() -> Chain {
    let mut chain = new_chain("sealed", &[ADMIN_A], 1);
    let members = [
        (P1, Role::Platform),
        (P2, Role::Platform),
        (P3, Role::Platform),
        (RELAY, Role::Relay),
        (REVOKED, Role::Platform),
    ];
    for (at, (seed, role)) in (1..).map(|i| T0 + 100 * i).zip(members) {
        admit(&mut chain, at, seed, role);
    }
    let body = RecordBody::RevokePlatform {
        platform: pid(REVOKED),
        frontier: vec![],
        reason: None,
    };
    push(&mut chain, T0 + 1_000, ADMIN_A, body);
    chain
}

/// P1's plaintext profile change carrying [`MARKER`].
fn plaintext_env(chain: &Chain) -> ChangeEnvelope {
    let env = set_profile(&registry(chain), chain, P1, MARKER, T0 + 2_000);
    assert!(
        contains(&env.payload, MARKER.as_bytes()),
        "the plaintext holds the marker"
    );
    env
}

fn sealed(chain: &Chain) -> (Vec<u8>, ChangeEnvelope) {
    let env = plaintext_env(chain);
    (
        env.payload.clone(),
        seal_envelope(env, &key(P1), &KEY, 0, NONCE),
    )
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn document() -> DocId {
    DocId::random(DocKind::Project, [3; 16])
}

/// A grant of epoch 1 (started by change `[5; 32]`) by `author` for `list`.
fn make(
    chain: &Chain,
    author: u8,
    list: &[(PlatformId, EncryptionKey)],
) -> Result<KeyGrant, SealError> {
    let started = Some(ChangeHash([5; 32]));
    let (federation, mut rng) = (chain.federation(), StdRng::seed_from_u64(7));
    KeyGrant::new(
        &key(author),
        federation,
        document(),
        1,
        started,
        &KEY,
        list,
        &mut rng,
    )
}

fn failed(seed: u8) -> Result<EpochKey, SealError> {
    Err(SealError::Unwrap {
        platform: pid(seed),
    })
}

fn malformed<T>(result: Result<T, SealError>) -> bool {
    matches!(result, Err(SealError::Malformed(_)))
}

/// A grant of epoch 1 by `author` for the given recipients with their own keys.
fn grant(chain: &Chain, author: u8, recipients: &[u8]) -> KeyGrant {
    let list: Vec<_> = recipients.iter().map(|s| (pid(*s), public(*s))).collect();
    make(chain, author, &list).unwrap()
}

#[test]
fn a_sealed_payload_round_trips_and_hides_the_change() {
    let chain = chain();
    let (plaintext, env) = sealed(&chain);
    assert!(is_sealed(&env.payload));
    assert!(!is_sealed(&plaintext));
    assert_eq!(sealed_epoch(&env.payload), Some(0));
    assert_eq!(env.payload.len(), plaintext.len() + MAX_SEALED_OVERHEAD);
    assert!(
        env.signature_valid(),
        "the signature covers the sealed payload"
    );
    assert!(!contains(&env.payload, MARKER.as_bytes()));
    assert_eq!(open_payload(&env, &KEY).unwrap(), plaintext);
    let later = seal_envelope(plaintext_env(&chain), &key(P1), &KEY, 7, NONCE);
    assert_eq!(sealed_epoch(&later.payload), Some(7));
    assert_eq!(open_payload(&later, &KEY).unwrap(), plaintext);
}

#[test]
fn a_tampered_payload_does_not_open_and_breaks_the_signature() {
    let (_, env) = sealed(&chain());
    let last = env.payload.len() - 1;
    let first = MAX_SEALED_OVERHEAD - 16;
    for (what, index) in [
        ("ciphertext", first),
        ("tag", last),
        ("nonce", 10),
        ("epoch", 7),
    ] {
        let mut copy = env.clone();
        copy.payload[index] ^= 1;
        assert_eq!(open_payload(&copy, &KEY), Err(SealError::Decrypt), "{what}");
        assert!(!copy.signature_valid(), "{what}");
    }
    assert_eq!(
        open_payload(&env, &EpochKey([0x43; 32])),
        Err(SealError::Decrypt)
    );
}

#[test]
fn a_payload_moved_to_another_envelope_does_not_open() {
    let (_, env) = sealed(&chain());
    type Edit = Box<dyn Fn(&mut ChangeEnvelope)>;
    let edits: Vec<(&str, Edit)> = vec![
        (
            "change hash",
            Box::new(|e| e.change_hash = ChangeHash([9; 32])),
        ),
        ("document", Box::new(|e| e.document = document())),
        ("federation", Box::new(|e| e.federation.0[0] ^= 1)),
        ("author", Box::new(|e| e.author = pid(P2))),
        ("cited seq", Box::new(|e| e.cited_seq -= 1)),
        (
            "cited record",
            Box::new(|e| e.cited_record = RecordHash([9; 32])),
        ),
        ("deps", Box::new(|e| e.deps.push(ChangeHash([9; 32])))),
    ];
    for (what, edit) in edits {
        let mut moved = env.clone();
        edit(&mut moved);
        // The thief signs the envelope as its own: the signature is then fine.
        moved.sign(&key(P2));
        assert_eq!(
            open_payload(&moved, &KEY),
            Err(SealError::Decrypt),
            "{what}"
        );
    }
}

#[test]
fn a_payload_that_is_not_sealed_is_malformed() {
    let chain = chain();
    let (_, env) = sealed(&chain);
    let clear = plaintext_env(&chain);
    assert!(malformed(open_payload(&clear, &KEY)));
    let mut short = env.clone();
    short.payload.truncate(MAX_SEALED_OVERHEAD - 1);
    assert!(malformed(open_payload(&short, &KEY)));
    short.payload.truncate(6);
    assert_eq!(sealed_epoch(&short.payload), None);
}

#[test]
fn every_recipient_unwraps_the_same_key_and_nobody_else() {
    let chain = chain();
    let grant = grant(&chain, P1, &[P1, P2]);
    assert_eq!(grant.check(&chain), Ok(()));
    assert_eq!(
        grant.recipients().copied().collect::<Vec<_>>(),
        vec![pid(P1), pid(P2)]
    );
    for seed in [P1, P2] {
        assert_eq!(grant.unwrap(&pid(seed), &secret(seed)), Ok(KEY));
    }
    assert_eq!(
        grant.unwrap(&pid(P3), &secret(P3)),
        Err(SealError::NotForMe { platform: pid(P3) })
    );
    assert_eq!(
        grant.unwrap(&pid(P2), &secret(P3)),
        failed(P2),
        "another secret"
    );
    assert!(
        !format!("{grant:?}").contains("4242"),
        "the grant holds no clear key"
    );
    let json = serde_json::to_string(&grant).unwrap();
    assert_eq!(serde_json::from_str::<KeyGrant>(&json).unwrap(), grant);
}

#[test]
fn a_slot_moved_elsewhere_does_not_open() {
    let chain = chain();
    let genuine = grant(&chain, P1, &[P1, P2]);
    // P2's slot relabelled as P3's (with P3's card key, so the chain check passes).
    let mut moved = genuine.clone();
    moved.wrapped[1].platform = pid(P3);
    moved.wrapped[1].encryption_key = public(P3);
    moved.sign(&key(P1));
    assert_eq!(moved.check(&chain), Ok(()));
    assert_eq!(moved.unwrap(&pid(P3), &secret(P3)), failed(P3));
    assert_eq!(
        moved.unwrap(&pid(P3), &secret(P2)),
        failed(P3),
        "even with P2's secret"
    );
    type Edit = Box<dyn Fn(&mut KeyGrant)>;
    let edits: Vec<(&str, Edit)> = vec![
        ("another epoch", Box::new(|g| g.epoch = 2)),
        (
            "another document",
            Box::new(|g| g.document = DocId::random(DocKind::Export, [3; 16])),
        ),
        ("another federation", Box::new(|g| g.federation.0[0] ^= 1)),
        ("tampered", Box::new(|g| g.wrapped[1].ciphertext[0] ^= 1)),
        (
            "other encapsulation",
            Box::new(|g| g.wrapped[1].encapsulated[0] ^= 1),
        ),
    ];
    for (what, edit) in edits {
        let mut copy = genuine.clone();
        edit(&mut copy);
        assert_eq!(copy.unwrap(&pid(P2), &secret(P2)), failed(P2), "{what}");
    }
}

#[test]
fn a_substituted_encryption_key_is_refused() {
    let chain = chain();
    // P1 wraps "P2's" key to a key of its own choosing, and could read along.
    let list = [(pid(P2), public(STRANGER))];
    let grant = make(&chain, P1, &list).unwrap();
    assert_eq!(grant.unwrap(&pid(P2), &secret(STRANGER)), Ok(KEY));
    assert_eq!(
        grant.check(&chain),
        Err(SealError::KeySubstituted { platform: pid(P2) })
    );
}

fn not_member(result: Result<(), SealError>, seed: u8) {
    match result {
        Err(SealError::NotMember { platform, reason }) => {
            assert_eq!(platform, pid(seed), "{reason}");
        }
        other => panic!("expected NotMember for {seed}, got {other:?}"),
    }
}

#[test]
fn relays_strangers_and_revoked_platforms_take_no_part() {
    let chain = chain();
    for outsider in [RELAY, STRANGER, REVOKED] {
        not_member(grant(&chain, P1, &[P1, outsider]).check(&chain), outsider);
        not_member(grant(&chain, outsider, &[P1]).check(&chain), outsider);
    }
}

#[test]
fn a_forged_or_edited_grant_is_refused() {
    let chain = chain();
    let genuine = grant(&chain, P1, &[P1, P2]);
    assert!(genuine.signature_valid());
    type Edit = Box<dyn Fn(&mut KeyGrant)>;
    let edits: Vec<(&str, Edit)> = vec![
        ("signature", Box::new(|g| g.signature.0[0] ^= 1)),
        ("epoch", Box::new(|g| g.epoch += 1)),
        ("started_by", Box::new(|g| g.started_by = None)),
        ("document", Box::new(|g| g.document.id[0] ^= 1)),
        ("author", Box::new(|g| g.author = pid(P2))),
        (
            "slot dropped",
            Box::new(|g| {
                g.wrapped.pop();
            }),
        ),
        (
            "slot platform",
            Box::new(|g| g.wrapped[1].platform = pid(P3)),
        ),
        (
            "slot ciphertext",
            Box::new(|g| g.wrapped[1].ciphertext[5] ^= 1),
        ),
        ("signed by another", Box::new(|g| g.sign(&key(P2)))),
        (
            "signed by nobody",
            Box::new(|g| g.sign(&SigningKey::from_bytes(&[0; 32]))),
        ),
    ];
    for (what, edit) in edits {
        let mut copy = genuine.clone();
        edit(&mut copy);
        assert!(!copy.signature_valid(), "{what}");
        assert_eq!(copy.check(&chain), Err(SealError::Signature), "{what}");
    }
    let mut short = genuine;
    short.wrapped[0].encapsulated.pop();
    short.sign(&key(P1));
    assert!(malformed(short.check(&chain)));
}

#[test]
fn a_platform_listed_twice_is_refused() {
    let chain = chain();
    let list = [(pid(P2), public(P2)), (pid(P2), public(P2))];
    let twice = Err(SealError::DuplicateRecipient { platform: pid(P2) });
    assert_eq!(make(&chain, P1, &list).map(|_| ()), twice);
    let mut grant = grant(&chain, P1, &[P1, P2]);
    grant.wrapped.push(grant.wrapped[1].clone());
    grant.sign(&key(P1));
    assert_eq!(grant.check(&chain), twice);
}

#[test]
fn max_grant_recipients_is_enforced() {
    let chain = chain();
    let mut grant = grant(&chain, P1, &[P1]);
    let slot = grant.wrapped[0].clone();
    grant.wrapped = vec![slot; MAX_GRANT_RECIPIENTS];
    grant.sign(&key(P1));
    // At the limit, the count passes and the repetition is what is refused.
    assert_eq!(
        grant.check(&chain),
        Err(SealError::DuplicateRecipient { platform: pid(P1) })
    );
    grant.wrapped.push(grant.wrapped[0].clone());
    grant.sign(&key(P1));
    let too_many = Err(SealError::TooManyRecipients {
        count: MAX_GRANT_RECIPIENTS + 1,
        max: MAX_GRANT_RECIPIENTS,
    });
    assert_eq!(grant.check(&chain), too_many);
    let list: Vec<_> = (0..=MAX_GRANT_RECIPIENTS)
        .map(|i| (PlatformId([i as u8; 32]), public(P1)))
        .collect();
    let made = make(&chain, P1, &list);
    assert_eq!(made.map(|_| ()), too_many);
}

#[test]
fn a_low_order_encryption_key_cannot_be_wrapped_for() {
    let list = [(pid(P2), EncryptionKey([0; 32]))];
    let chain = chain();
    let made = make(&chain, P1, &list);
    assert!(matches!(made, Err(SealError::Hpke(_))), "{made:?}");
}

#[test]
fn key_material_is_lower_case_hex_and_unknown_fields_are_refused() {
    let chain = chain();
    let grant = grant(&chain, P1, &[P2]);
    let value = serde_json::to_value(&grant).unwrap();
    let hex = value["wrapped"][0]["encapsulated"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(hex.len(), 64);
    let mut upper = value.clone();
    upper["wrapped"][0]["encapsulated"] = hex.to_uppercase().into();
    assert!(serde_json::from_value::<KeyGrant>(upper).is_err());
    let mut extra = value;
    extra["wrapped"][0]["secret"] = "00".into();
    assert!(serde_json::from_value::<KeyGrant>(extra).is_err());
}

#[test]
fn a_change_building_on_a_new_epoch_cannot_use_the_old_key() {
    let chain = chain();
    let unshare = ChangeHash([5; 32]);
    let grants = [grant(&chain, P1, &[P1, P2])];
    let reason = superseded_epoch(0, &grants, |h| *h == unshare).expect("superseded");
    for needle in ["epoch 0", "epoch 1", &unshare.to_string()] {
        assert!(reason.contains(needle), "{reason} lacks {needle}");
    }
    let mut unstarted = grants[0].clone();
    unstarted.started_by = None;
    for (epoch, depends, grants, why) in [
        (0, false, &grants, "concurrent with the unshare"),
        (1, true, &grants, "the new epoch itself"),
        (2, true, &grants, "a later epoch"),
        (0, true, &[unstarted], "an epoch started by nothing"),
    ] {
        assert_eq!(superseded_epoch(epoch, grants, |_| depends), None, "{why}");
    }
}
