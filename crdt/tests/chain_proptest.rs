//! Properties of chain files: any change to a signed value, any dropped record and any
//! reordering is refused.

mod common;

use std::sync::LazyLock;

use common::*;
use fed_crdt::chain::body::{CatalogEntries, Expiry, RecordBody, Right, Rights, Role};
use fed_crdt::chain::file::VerifyError;
use fed_crdt::chain::Chain;
use fed_crdt::error::{ChainError, ChainFileError, RecordError};
use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::Value;

/// The sample chain's file and the JSON pointer of every string, number and bool under
/// `records`.
static SAMPLE: LazyLock<(Value, Vec<String>)> = LazyLock::new(|| {
    let value = file_value(&sample_chain(), None);
    let mut leaves = Vec::new();
    collect_leaves(&value["records"], "/records".to_string(), &mut leaves);
    (value, leaves)
});

fn collect_leaves(value: &Value, pointer: String, out: &mut Vec<String>) {
    match value {
        Value::String(_) | Value::Number(_) | Value::Bool(_) => out.push(pointer),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect_leaves(item, format!("{pointer}/{i}"), out);
            }
        }
        Value::Object(map) => {
            for (k, v) in map {
                let key = k.replace('~', "~0").replace('/', "~1");
                collect_leaves(v, format!("{pointer}/{key}"), out);
            }
        }
        Value::Null => {}
    }
}

/// The record a pointer under `/records` falls in.
fn record_index(pointer: &str) -> usize {
    pointer
        .split('/')
        .nth(2)
        .and_then(|s| s.parse().ok())
        .expect("a pointer under /records/N")
}

/// Characters a mutation may write: hex digits, other letters and digits, punctuation,
/// white space, JSON escapes, control and non-ASCII characters.
const ALPHABET: &[char] = &[
    '0',
    '1',
    '7',
    '9',
    'a',
    'b',
    'f',
    'g',
    'z',
    'A',
    'F',
    'Z',
    'K',
    'o',
    '-',
    '_',
    '.',
    ':',
    '/',
    ' ',
    '"',
    '\\',
    '\n',
    '\u{7f}',
    'é',
    '\u{1F600}',
];

#[derive(Clone, Debug)]
struct Mutation {
    leaf: Index,
    position: Index,
    replacement: Index,
    delta: u64,
    down: bool,
}

fn mutation() -> impl Strategy<Value = Mutation> {
    (
        any::<Index>(),
        any::<Index>(),
        any::<Index>(),
        1u64..1_000,
        any::<bool>(),
    )
        .prop_map(|(leaf, position, replacement, delta, down)| Mutation {
            leaf,
            position,
            replacement,
            delta,
            down,
        })
}

/// Changes `leaf` in place; the new value always differs from the old one.
fn mutate(leaf: &mut Value, m: &Mutation) {
    match leaf {
        Value::String(s) => {
            let chars: Vec<char> = s.chars().collect();
            let mut with = ALPHABET[m.replacement.index(ALPHABET.len())];
            if chars.is_empty() {
                s.push(with);
                return;
            }
            let pos = m.position.index(chars.len());
            if with == chars[pos] {
                with = ALPHABET[(m.replacement.index(ALPHABET.len()) + 1) % ALPHABET.len()];
            }
            *s = replace_char(s, pos, with);
        }
        Value::Number(n) => {
            let old = n
                .as_u64()
                .expect("every number in a chain file is unsigned");
            let new = if m.down && old >= m.delta {
                old - m.delta
            } else {
                old + m.delta
            };
            *leaf = Value::from(new);
        }
        Value::Bool(b) => *b = !*b,
        other => panic!("not a leaf: {other}"),
    }
}

/// Which record the verification of a chain file blames, if any.
fn blamed(value: &Value) -> Result<usize, String> {
    match verify_value(value) {
        Err(ChainFileError::Record { index, .. }) => Ok(index),
        Err(other) => Err(format!("unexpected file error: {other}")),
        Ok(Ok(v)) => Err(format!(
            "accepted up to seq {} (pending: {:?})",
            v.chain.state().seq,
            v.pending.map(|p| (p.record.seq, p.have, p.need))
        )),
        Ok(Err(VerifyError::Chain(ChainError::Record { index, .. }))) => Ok(index),
        Ok(Err(other)) => Err(format!("unexpected error: {other}")),
    }
}

#[test]
fn the_sample_chain_has_leaves_in_every_record() {
    let (value, leaves) = &*SAMPLE;
    let records = value["records"].as_array().unwrap().len();
    for i in 0..records {
        assert!(
            leaves.iter().filter(|p| record_index(p) == i).count() >= 6,
            "record {i}"
        );
    }
    assert!(leaves.iter().any(|p| p.ends_with("/seq")));
    assert!(leaves.iter().any(|p| p.ends_with("/threshold")));
    verify_value(value).unwrap().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn any_edit_of_a_record_value_is_refused_at_that_record(m in mutation()) {
        let (original, leaves) = &*SAMPLE;
        let pointer = &leaves[m.leaf.index(leaves.len())];
        let mut value = original.clone();
        let leaf = value.pointer_mut(pointer).expect("leaf exists");
        let before = leaf.clone();
        mutate(leaf, &m);
        prop_assert_ne!(&before, value.pointer(pointer).unwrap());
        let after = value.pointer(pointer).unwrap().clone();
        match blamed(&value) {
            Ok(index) => prop_assert_eq!(
                index,
                record_index(pointer),
                "{} changed from {} to {}",
                pointer,
                before,
                after
            ),
            Err(e) => prop_assert!(
                false,
                "{} changed from {} to {}: {}",
                pointer,
                before,
                after,
                e
            ),
        }
    }
}

/// What a generated chain holds.
#[derive(Clone, Debug)]
struct ChainSpec {
    platforms: Vec<PlatformSpec>,
    update: Index,
    revoke: Index,
    rotate: bool,
    step: u64,
}

#[derive(Clone, Debug)]
struct PlatformSpec {
    name: String,
    relay: bool,
    rights: Vec<bool>,
    expires_in: Option<u64>,
}

fn platform_spec() -> impl Strategy<Value = PlatformSpec> {
    (
        "[A-Za-z][A-Za-z0-9 .-]{0,15}",
        any::<bool>(),
        proptest::collection::vec(any::<bool>(), 4),
        proptest::option::of(1u64..10_000_000),
    )
        .prop_map(|(name, relay, rights, expires_in)| PlatformSpec {
            name,
            relay,
            rights,
            expires_in,
        })
}

fn chain_spec() -> impl Strategy<Value = ChainSpec> {
    (
        proptest::collection::vec(platform_spec(), 1..4),
        any::<Index>(),
        any::<Index>(),
        any::<bool>(),
        0u64..1_000,
    )
        .prop_map(|(platforms, update, revoke, rotate, step)| ChainSpec {
            platforms,
            update,
            revoke,
            rotate,
            step,
        })
}

/// Builds a valid chain: genesis with a catalog, the platforms, an update, a catalog
/// record, a revocation, and optionally an admin rotation followed by a co-signed record.
fn build(spec: &ChainSpec) -> Chain {
    let mut chain = new_chain("generated", &[ADMIN_A], 1);
    let mut at = T0;
    let mut tick = || {
        at += spec.step;
        at
    };
    let seeds: Vec<u8> = (0..spec.platforms.len()).map(|i| 20 + i as u8).collect();
    for (p, seed) in spec.platforms.iter().zip(&seeds) {
        let (role, rights) = if p.relay {
            (Role::Relay, Rights::none())
        } else {
            let granted = Right::ALL
                .into_iter()
                .zip(&p.rights)
                .filter(|(_, on)| **on)
                .map(|(r, _)| r)
                .collect();
            (Role::Platform, granted)
        };
        let now = tick();
        push(
            &mut chain,
            now,
            ADMIN_A,
            add_body(*seed, &p.name, role, rights, p.expires_in.map(|d| now + d)),
        );
    }
    let updated = spec.update.index(seeds.len());
    let body = if spec.platforms[updated].relay {
        update_body(seeds[updated], None, Some(Expiry::Never), None)
    } else {
        update_body(
            seeds[updated],
            Some(Rights::all()),
            Some(Expiry::Never),
            None,
        )
    };
    push(&mut chain, tick(), ADMIN_A, body);
    push(
        &mut chain,
        tick(),
        ADMIN_A,
        RecordBody::catalog(CatalogEntries {
            frameworks: vec![framework("gdpr-6-1-e", "GDPR 6.1.e")],
            entity_types: vec![entity_type("lab", "Laboratory")],
            entities: vec![entity("biolab", "Biolab", "lab")],
        }),
    );
    let revoked = spec.revoke.index(seeds.len());
    push(
        &mut chain,
        tick(),
        ADMIN_A,
        revoke_body(seeds[revoked], Some("ended")),
    );
    if spec.rotate {
        push(
            &mut chain,
            tick(),
            ADMIN_A,
            rotate_body(&[ADMIN_A, ADMIN_B], 2),
        );
        push_signed(
            &mut chain,
            tick(),
            ADMIN_B,
            &[ADMIN_B, ADMIN_A],
            add_platform(P3, "CHU"),
        );
    }
    chain
}

fn expect_refused_at(value: &Value, expected: usize) -> Result<RecordError, TestCaseError> {
    match verify_value(value) {
        Ok(Err(VerifyError::Chain(ChainError::Record { index, reason, .. }))) => {
            prop_assert_eq!(index, expected, "{:?}", reason);
            Ok(reason)
        }
        Ok(Ok(v)) => Err(TestCaseError::fail(format!(
            "accepted up to seq {}",
            v.chain.state().seq
        ))),
        other => Err(TestCaseError::fail(format!("unexpected: {other:?}"))),
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn generated_chains_verify_and_refuse_a_removed_or_swapped_record(
        spec in chain_spec(),
        which in any::<Index>(),
        a in any::<Index>(),
        b in any::<Index>(),
    ) {
        let chain = build(&spec);
        let original = file_value(&chain, None);
        let verified = verify_value(&original)
            .expect("parses")
            .expect("verifies");
        prop_assert!(verified.pending.is_none());
        prop_assert_eq!(verified.chain.state(), chain.state());

        let mut value = original.clone();
        let records = value["records"].as_array_mut().unwrap();
        let removed = which.index(records.len() - 1);
        records.remove(removed);
        let reason = expect_refused_at(&value, removed)?;
        if removed == 0 {
            prop_assert!(matches!(reason, RecordError::FirstNotGenesis { .. }), "{:?}", reason);
        } else {
            prop_assert_eq!(
                reason,
                RecordError::BadSeq { expected: removed as u64, found: removed as u64 + 1 }
            );
        }

        let mut value = original;
        let records = value["records"].as_array_mut().unwrap();
        let n = records.len();
        let i = a.index(n);
        let mut j = b.index(n);
        if i == j {
            j = (j + 1) % n;
        }
        records.swap(i, j);
        let (first, second) = (i.min(j), i.max(j));
        let reason = expect_refused_at(&value, first)?;
        if first == 0 {
            prop_assert!(matches!(reason, RecordError::FirstNotGenesis { .. }), "{:?}", reason);
        } else {
            prop_assert_eq!(
                reason,
                RecordError::BadSeq { expected: first as u64, found: second as u64 }
            );
        }
    }
}

#[test]
fn every_removal_and_swap_of_the_sample_chain_is_refused() {
    let (original, _) = &*SAMPLE;
    let n = original["records"].as_array().unwrap().len();
    for removed in 0..n - 1 {
        let mut value = original.clone();
        value["records"].as_array_mut().unwrap().remove(removed);
        assert_eq!(blamed(&value), Ok(removed), "removing record {removed}");
    }
    for i in 0..n {
        for j in i + 1..n {
            let mut value = original.clone();
            value["records"].as_array_mut().unwrap().swap(i, j);
            assert_eq!(blamed(&value), Ok(i), "swapping records {i} and {j}");
        }
    }
}
