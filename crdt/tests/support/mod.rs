//! Builders for the envelope and registry tests: a chain of platforms, signed profile
//! changes, raw (possibly malicious) Automerge changes, and outcome helpers.

#![allow(dead_code)]

use automerge::transaction::{CommitOptions, Transaction};
use automerge::{ActorId, Automerge, Change, ReadDoc};
use fed_crdt::chain::body::{FrontierEntry, RecordBody, Right, Rights, Role};
use fed_crdt::chain::Chain;
use fed_crdt::envelope::{ChangeEnvelope, Refusal, RefusalCheck};
use fed_crdt::ids::{ChangeHash, DocId};
use fed_crdt::registry::platforms::{profile_change, PlatformProfile};
use fed_crdt::registry::{Document, Outcome};

use crate::common::{add_body, key, new_chain, pid, push, ADMIN_A, T0};

/// Platform key seeds of the registry chain (P1..P3 come from `common`).
pub use crate::common::{P1, P2, P3};
/// A relay of the registry chain.
pub const RELAY: u8 = 14;
/// A platform with `read` only (no write_projects, no export rights).
pub const READER: u8 = 15;
/// A key that is never admitted.
pub const STRANGER: u8 = 16;
/// P3's membership ends at this time.
pub const P3_EXPIRES: u64 = T0 + 10_000;
/// When the registry chain's last record was issued.
pub const CHAIN_TIME: u64 = T0 + 500;

/// Milliseconds since the epoch of a time in seconds.
pub fn ms(secs: u64) -> i64 {
    i64::try_from(secs).expect("small") * 1000
}

/// Genesis, then P1 and P2 (all rights), P3 (all rights, expires), a relay and a reader.
pub fn registry_chain() -> Chain {
    let mut chain = new_chain("registry", &[ADMIN_A], 1);
    push(
        &mut chain,
        T0 + 100,
        ADMIN_A,
        add_body(P1, "AP-HP", Role::Platform, Rights::all(), None),
    );
    push(
        &mut chain,
        T0 + 200,
        ADMIN_A,
        add_body(P2, "HCL", Role::Platform, Rights::all(), None),
    );
    push(
        &mut chain,
        T0 + 300,
        ADMIN_A,
        add_body(
            P3,
            "CHU Lille",
            Role::Platform,
            Rights::all(),
            Some(P3_EXPIRES),
        ),
    );
    push(
        &mut chain,
        T0 + 400,
        ADMIN_A,
        add_body(RELAY, "relay", Role::Relay, Rights::none(), None),
    );
    push(
        &mut chain,
        CHAIN_TIME,
        ADMIN_A,
        add_body(
            READER,
            "reader",
            Role::Platform,
            [Right::Read].into_iter().collect(),
            None,
        ),
    );
    chain
}

/// Appends a revocation of `seed` with `frontier` heads for `document`.
pub fn revoke(chain: &mut Chain, at: u64, seed: u8, document: DocId, heads: Vec<ChangeHash>) {
    push(
        chain,
        at,
        ADMIN_A,
        RecordBody::RevokePlatform {
            platform: pid(seed),
            frontier: vec![FrontierEntry {
                document: document.to_string(),
                heads,
            }],
            reason: Some("left".into()),
        },
    );
}

/// The chain's platforms registry, empty.
pub fn registry(chain: &Chain) -> Document {
    Document::new(DocId::platforms_registry(&chain.federation()), chain)
}

/// A valid profile named `name`.
pub fn profile(name: &str) -> PlatformProfile {
    PlatformProfile {
        display_name: name.into(),
        description: format!("{name} clinical data warehouse"),
        contact: format!("dpo@{}.example", name.to_lowercase()),
        addresses: vec!["/ip4/10.0.0.1/tcp/4001".into()],
    }
}

/// The signed change by `seed` that sets its profile to `profile(name)` on `doc`.
pub fn set_profile(doc: &Document, chain: &Chain, seed: u8, name: &str, at: u64) -> ChangeEnvelope {
    profile_change(doc, chain, &key(seed), &profile(name), ms(at))
        .expect("valid profile")
        .expect("something changes")
        .into_envelope()
}

/// A change made on a copy of `base` under any actor id, with any edit: what an attacker
/// can build with Automerge alone.
pub fn raw_change(
    base: &Automerge,
    actor: &[u8],
    time_ms: i64,
    edit: impl FnOnce(&mut Transaction<'_>),
) -> Change {
    let mut doc = base.clone();
    doc.set_actor(ActorId::from(actor));
    let mut tx = doc.transaction();
    edit(&mut tx);
    let (hash, _) = tx.commit_with(CommitOptions::default().with_time(time_ms));
    doc.get_change_by_hash(&hash.expect("the edit makes a change"))
        .expect("the change is in the document")
}

/// `change` sealed by `seed` for `document`, citing the chain's head.
pub fn seal(seed: u8, chain: &Chain, document: DocId, change: &Change) -> ChangeEnvelope {
    ChangeEnvelope::seal(
        &key(seed),
        chain.federation(),
        document,
        chain.state().seq,
        chain.head(),
        change,
    )
}

/// The public key bytes of `seed` (what its actor id must be).
pub fn actor(seed: u8) -> [u8; 32] {
    *pid(seed).as_bytes()
}

/// The hashes accepted, in order.
pub fn accepted(outcomes: &[Outcome]) -> Vec<ChangeHash> {
    outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Accepted(env) => Some(env.change_hash),
            _ => None,
        })
        .collect()
}

/// The refusals, in order.
pub fn refusals(outcomes: &[Outcome]) -> Vec<Refusal> {
    outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Refused(r) => Some(r.clone()),
            _ => None,
        })
        .collect()
}

/// The single refusal among `outcomes`, which must be by `check`.
pub fn refused_by(outcomes: &[Outcome], check: RefusalCheck) -> Refusal {
    match outcomes {
        [Outcome::Refused(r)] => {
            assert_eq!(r.check, check, "refused for another reason: {r}");
            r.clone()
        }
        other => panic!("expected one refusal by {check}, got {other:?}"),
    }
}

/// Receives `env`, which must be accepted alone.
pub fn accept(doc: &mut Document, chain: &Chain, env: ChangeEnvelope) {
    let hash = env.change_hash;
    let outcomes = doc.receive(chain, env);
    assert_eq!(accepted(&outcomes), vec![hash], "{outcomes:?}");
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
}

/// Whether the document's root holds the key of `seed`'s platform.
pub fn has_entry(doc: &Document, seed: u8) -> bool {
    doc.automerge()
        .get(automerge::ROOT, pid(seed).to_string().as_str())
        .ok()
        .flatten()
        .is_some()
}
