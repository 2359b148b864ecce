//! Builders for the export request tests: a request from P1 to P2, steps taken with the
//! library's writers, and steps forged with Automerge alone.

#![allow(dead_code)]

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ROOT};
use fed_crdt::chain::Chain;
use fed_crdt::envelope::{ChangeEnvelope, RefusalCheck};
use fed_crdt::ids::{DocId, DocKind};
use fed_crdt::registry::exports::{
    create_export, read_export, transition_export, ExportRequest, ExportState, ExportView,
    Transition,
};
use fed_crdt::registry::Document;

use crate::common::{key, pid, P1, P2, T0};
use crate::support::{accept, actor, ms, raw_change, refused_by, registry_chain, seal};

/// When the tests' changes are made, in seconds.
pub const NOW: u64 = T0 + 1_000;
/// The nonce P1 draws for its request.
pub const NONCE: [u8; 16] = [5; 16];

/// The project the requests are for.
pub fn project_id() -> DocId {
    DocId::derive(DocKind::Project, &pid(P1), [7; 16])
}

/// The id of P1's request.
pub fn export_id() -> DocId {
    DocId::derive(DocKind::Export, &pid(P1), NONCE)
}

/// The registry chain: P1, P2 and P3 hold every right.
pub fn chain() -> Chain {
    registry_chain()
}

/// A valid request.
pub fn request() -> ExportRequest {
    ExportRequest {
        title: "Cohort extraction".into(),
        dataset: "Hospital stays and diagnoses".into(),
        variables: vec!["age".into(), "sex".into(), "icd10".into()],
        period_start: Some("2020-01-01".into()),
        period_end: Some("2024-12-31".into()),
        population: "Adults treated for breast cancer".into(),
        purpose: "Survival study".into(),
        legal_basis: "GDPR art. 9(2)(j)".into(),
        pseudonymised: true,
        delivery_mode: "sftp".into(),
    }
}

/// The signed creation of P1's request to P2 for `request`.
pub fn creation(chain: &Chain, request: &ExportRequest) -> ChangeEnvelope {
    let (id, env) = create_export(
        chain,
        &key(P1),
        NONCE,
        pid(P2),
        project_id(),
        request,
        ms(NOW),
    )
    .map(|(id, own)| (id, own.into_envelope()))
    .expect("a valid request");
    assert_eq!(id, export_id());
    env
}

/// P1's request to P2, created and accepted; with the creation envelope.
pub fn created(chain: &Chain) -> (Document, Vec<ChangeEnvelope>) {
    let env = creation(chain, &request());
    let mut doc = Document::new(export_id(), chain);
    accept(&mut doc, chain, env.clone());
    (doc, vec![env])
}

/// A step to `to` with the texts that step needs.
pub fn transition(to: ExportState) -> Transition {
    Transition {
        to,
        comment: if to == ExportState::Rejected {
            "Legal basis insufficient".into()
        } else {
            String::new()
        },
        conditions: if to == ExportState::ApprovedWithConditions {
            "Aggregated results only".into()
        } else {
            String::new()
        },
        reference: if to == ExportState::Delivered {
            "sftp://provider.example/exports/42".into()
        } else {
            String::new()
        },
    }
}

/// The signed step by `seed` to `to` on `doc`, at `at` seconds.
pub fn step(doc: &Document, chain: &Chain, seed: u8, to: ExportState, at: u64) -> ChangeEnvelope {
    transition_export(doc, chain, &key(seed), &transition(to), ms(at))
        .unwrap_or_else(|e| panic!("{to} by {seed} should be allowed: {e}"))
        .into_envelope()
}

/// Takes each step in turn, accepting each, one second after the document's previous
/// change; returns the envelopes.
pub fn advance(
    doc: &mut Document,
    chain: &Chain,
    steps: &[(u8, ExportState)],
) -> Vec<ChangeEnvelope> {
    let mut envs = Vec::new();
    for (seed, to) in steps {
        let env = step(doc, chain, *seed, *to, next_time(doc));
        accept(doc, chain, env.clone());
        envs.push(env);
    }
    envs
}

/// One second after the document's last accepted change, in seconds.
pub fn next_time(doc: &Document) -> u64 {
    NOW + u64::try_from(doc.accepted().len()).expect("small")
}

/// P1's request, created and submitted.
pub fn submitted(chain: &Chain) -> (Document, Vec<ChangeEnvelope>) {
    let (mut doc, mut envs) = created(chain);
    envs.extend(advance(&mut doc, chain, &[(P1, ExportState::Submitted)]));
    (doc, envs)
}

/// The request in `doc`, which must read.
pub fn view(doc: &Document) -> ExportView {
    read_export(doc.id(), doc.automerge()).expect("a readable export request")
}

/// The fields of the entry a correct step by `seed` to `to` appends to `doc`.
pub fn entry_fields(doc: &Document, seed: u8, to: ExportState) -> Vec<(&'static str, String)> {
    let t = transition(to);
    vec![
        ("from", view(doc).state.name().to_string()),
        ("to", to.name().to_string()),
        ("author", pid(seed).to_string()),
        ("comment", t.comment),
        ("conditions", t.conditions),
        ("reference", t.reference),
    ]
}

/// Sets `field` of entry fields to `value`.
pub fn set(fields: &mut [(&'static str, String)], field: &str, value: &str) {
    for (k, v) in fields.iter_mut() {
        if *k == field {
            *v = value.to_string();
        }
    }
}

/// A step by `seed` to `to` built with Automerge alone at `time_ms`: `edit` may change the
/// entry's fields and its `at` before it is written.
pub fn forge_step(
    doc: &Document,
    chain: &Chain,
    seed: u8,
    to: ExportState,
    time_ms: i64,
    edit: impl FnOnce(&mut Vec<(&'static str, String)>, &mut i64),
) -> ChangeEnvelope {
    let mut fields = entry_fields(doc, seed, to);
    let mut at = time_ms;
    edit(&mut fields, &mut at);
    let change = raw_change(doc.automerge(), &actor(seed), time_ms, |tx| {
        let Some((_, list)) = tx.get(ROOT, "history").unwrap() else {
            panic!("no history")
        };
        let end = tx.length(&list);
        let map = tx.insert_object(&list, end, ObjType::Map).unwrap();
        for (k, v) in &fields {
            tx.put(&map, *k, v.as_str()).unwrap();
        }
        tx.put(&map, "at", at).unwrap();
    });
    seal(seed, chain, doc.id(), &change)
}

/// Any change by `seed` on `doc`, built with Automerge alone.
pub fn forge(
    doc: &Document,
    chain: &Chain,
    seed: u8,
    time_ms: i64,
    edit: impl FnOnce(&mut automerge::transaction::Transaction<'_>),
) -> ChangeEnvelope {
    let change = raw_change(doc.automerge(), &actor(seed), time_ms, edit);
    seal(seed, chain, doc.id(), &change)
}

/// Receives `env`, which must be refused by the rules with a reason containing `words`;
/// the document must not change.
pub fn refused_rule(doc: &mut Document, chain: &Chain, env: ChangeEnvelope, words: &str) {
    let before = view(doc);
    let r = refused_by(&doc.receive(chain, env), RefusalCheck::Rule);
    assert!(r.reason.contains(words), "expected `{words}` in: {r}");
    assert_eq!(view(doc), before);
}
