//! Export requests: the workflow across the requester's and the provider's documents,
//! and every step the workflow forbids, refused locally and, when forged, by every node.

mod common;
mod export_support;
mod support;

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ROOT};
use fed_crdt::envelope::{ChangeEnvelope, RefusalCheck};
use fed_crdt::error::ExportError;
use fed_crdt::registry::exports::{
    transition_export, update_export, ExportState, ExportView, Transition,
};
use fed_crdt::registry::Document;

use common::{key, pid, P1, P2, P3};
use export_support::*;
use support::{accept, ms};
use ExportState::*;

/// An edit made with Automerge alone.
type Edit = Box<dyn FnOnce(&mut automerge::transaction::Transaction<'_>)>;

/// Delivers `env` to `doc`, which must accept it.
fn deliver(doc: &mut Document, chain: &fed_crdt::chain::Chain, env: &ChangeEnvelope) {
    accept(doc, chain, env.clone());
}

#[test]
fn the_whole_workflow_across_the_two_platforms() {
    let chain = chain();
    let (mut requester, envs) = created(&chain);
    let mut provider = Document::new(export_id(), &chain);
    deliver(&mut provider, &chain, &envs[0]);

    let mut amended = request();
    amended.variables.push("stage".into());
    let env = update_export(
        &requester,
        &chain,
        &key(P1),
        &amended,
        ms(next_time(&requester)),
    )
    .unwrap()
    .unwrap()
    .into_envelope();
    deliver(&mut requester, &chain, &env);
    deliver(&mut provider, &chain, &env);

    let steps = [
        (P1, Submitted),
        (P2, InformationRequested),
        (P1, Submitted),
        (P2, ApprovedWithConditions),
        (P2, InPreparation),
        (P2, Delivered),
        (P1, Closed),
    ];
    let mut last_ms = 0;
    for (seed, to) in steps {
        if to == Submitted && view(&requester).state == InformationRequested {
            amended.purpose = "Survival study, with staging".into();
            let env = update_export(
                &requester,
                &chain,
                &key(P1),
                &amended,
                ms(next_time(&requester)),
            )
            .unwrap()
            .unwrap()
            .into_envelope();
            deliver(&mut requester, &chain, &env);
            deliver(&mut provider, &chain, &env);
        }
        let (mine, theirs) = if seed == P1 {
            (&mut requester, &mut provider)
        } else {
            (&mut provider, &mut requester)
        };
        let at = next_time(mine);
        let env = step(mine, &chain, seed, to, at);
        last_ms = ms(at);
        deliver(mine, &chain, &env);
        deliver(theirs, &chain, &env);
        assert_eq!(view(&requester), view(&provider));
        assert_eq!(view(&requester).state, to);
    }
    let v: ExportView = view(&requester);
    assert_eq!(
        (v.requester, v.provider, v.project),
        (pid(P1), pid(P2), project_id())
    );
    assert_eq!(v.request, amended);
    assert_eq!(v.conditions.as_deref(), Some("Aggregated results only"));
    assert_eq!(
        v.delivery_reference.as_deref(),
        Some("sftp://provider.example/exports/42")
    );
    assert_eq!(v.updated_at_ms, last_ms);
    let path: Vec<_> = v.history.iter().map(|h| (h.from, h.to)).collect();
    assert_eq!(
        path,
        vec![
            (None, Draft),
            (Some(Draft), Submitted),
            (Some(Submitted), InformationRequested),
            (Some(InformationRequested), Submitted),
            (Some(Submitted), ApprovedWithConditions),
            (Some(ApprovedWithConditions), InPreparation),
            (Some(InPreparation), Delivered),
            (Some(Delivered), Closed),
        ]
    );
    assert!(v.history.iter().all(|h| h.applied));
    assert_eq!(v.history[7].author, pid(P1));
    assert_eq!(v.history[6].author, pid(P2));
    // Every change, history entries appended included, arrived on the provider's heads
    // and was made again rather than applied.
    assert_eq!(provider.replayed(), 10);
}

#[test]
fn forbidden_steps_are_refused_locally_with_the_reason() {
    let chain = chain();
    let (doc, _) = submitted(&chain);
    let illegal = |seed: u8, to: ExportState| match transition_export(
        &doc,
        &chain,
        &key(seed),
        &transition(to),
        ms(NOW + 10),
    ) {
        Err(ExportError::IllegalTransition {
            from,
            to: t,
            reason,
        }) => {
            assert_eq!((from, t), (Submitted, to));
            reason
        }
        other => panic!("{to} by {seed}: expected an illegal transition, got {other:?}"),
    };
    assert_eq!(
        illegal(P1, Approved),
        "the requester may not make submitted → approved; only the provider approves"
    );
    assert!(illegal(P2, Cancelled).contains("only the requester cancels"));
    assert!(illegal(P2, Delivered).contains("nobody may make submitted → delivered"));
    assert!(illegal(P3, Approved).contains("neither the requester nor the provider"));
    assert!(illegal(P1, Submitted).contains("nobody may make submitted → submitted"));

    let texts = |to, edit: fn(&mut Transition)| {
        let mut t = transition(to);
        edit(&mut t);
        match transition_export(&doc, &chain, &key(P2), &t, ms(NOW + 10)) {
            Err(ExportError::Field { field, problem }) => format!("{field}: {problem}"),
            other => panic!("expected a field error, got {other:?}"),
        }
    };
    assert!(
        texts(Rejected, |t| t.comment = " ".into()).starts_with("comment: must give the reason")
    );
    assert!(texts(ApprovedWithConditions, |t| t.conditions.clear()).starts_with("conditions:"));
    assert!(texts(Approved, |t| t.reference = "x".into())
        .starts_with("reference: belongs to a delivery"));

    match update_export(&doc, &chain, &key(P1), &request(), ms(NOW + 10)) {
        Err(ExportError::NotEditable { reason }) => {
            assert!(reason.contains("it is submitted"), "{reason}")
        }
        other => panic!("expected NotEditable, got {other:?}"),
    }
    match update_export(&doc, &chain, &key(P2), &request(), ms(NOW + 10)) {
        Err(ExportError::NotEditable { reason }) => {
            assert!(reason.contains("only the requester"), "{reason}")
        }
        other => panic!("expected NotEditable, got {other:?}"),
    }
}

#[test]
fn forged_steps_the_workflow_forbids_are_refused_by_every_node() {
    let chain = chain();
    let (mut doc, _) = submitted(&chain);
    let t = ms(NOW + 10);
    let cases: Vec<(ChangeEnvelope, &str)> = vec![
        (
            forge_step(&doc, &chain, P1, Approved, t, |_, _| {}),
            "only the provider approves",
        ),
        (
            forge_step(&doc, &chain, P2, Cancelled, t, |_, _| {}),
            "only the requester cancels",
        ),
        (
            forge_step(&doc, &chain, P2, Submitted, t, |_, _| {}),
            "nobody may make submitted → submitted",
        ),
        (
            forge_step(&doc, &chain, P3, Approved, t, |_, _| {}),
            "neither the requester",
        ),
        (
            forge_step(&doc, &chain, P2, InPreparation, t, |_, _| {}),
            "nobody may make submitted → in_preparation",
        ),
        (
            forge_step(&doc, &chain, P2, Rejected, t, |f, _| set(f, "comment", "")),
            "must give the reason of a rejection",
        ),
        (
            forge_step(&doc, &chain, P2, Approved, t, |_, at| *at += 1),
            "but its change is dated",
        ),
        (
            forge_step(&doc, &chain, P2, Approved, t, |f, _| {
                set(f, "author", &pid(P1).to_string())
            }),
            "names",
        ),
        (
            forge_step(&doc, &chain, P2, Approved, t, |f, _| {
                set(f, "from", "draft")
            }),
            "leaves draft, but the request is submitted",
        ),
        (
            forge_step(&doc, &chain, P2, Approved, t, |f, _| set(f, "from", "")),
            "must name the state it left",
        ),
        (
            forge_step(&doc, &chain, P2, Approved, t, |f, _| {
                set(f, "conditions", "Aggregates only")
            }),
            "belong to an approval with conditions only",
        ),
        (
            forge_step(&doc, &chain, P1, Approved, t, |f, _| {
                set(f, "reference", "ref-1")
            }),
            "the requester may not make submitted → approved",
        ),
    ];
    for (env, words) in cases {
        refused_rule(&mut doc, &chain, env, words);
    }

    let edits: Vec<(u8, &str, Edit)> = vec![
        (
            P1,
            "rewrites history entry #1",
            Box::new(|tx| {
                let (_, list) = tx.get(ROOT, "history").unwrap().unwrap();
                let (_, entry) = tx.get(&list, 1).unwrap().unwrap();
                tx.put(&entry, "comment", "rewritten").unwrap();
            }),
        ),
        (
            P2,
            "nobody may change `provider`",
            Box::new(|tx| {
                tx.put(ROOT, "provider", pid(P3).to_string()).unwrap();
            }),
        ),
        (
            P1,
            "nobody may change `project`",
            Box::new(|tx| {
                let other = fed_crdt::ids::DocId::derive(
                    fed_crdt::ids::DocKind::Project,
                    &pid(P2),
                    [1; 16],
                );
                tx.put(ROOT, "project", other.to_string()).unwrap();
            }),
        ),
        (
            P1,
            "edit `request` only while the request is draft",
            Box::new(|tx| {
                let (_, request) = tx.get(ROOT, "request").unwrap().unwrap();
                tx.put(&request, "purpose", "Something else").unwrap();
            }),
        ),
        (
            P2,
            "only the requester edits `request`",
            Box::new(|tx| {
                let (_, request) = tx.get(ROOT, "request").unwrap().unwrap();
                tx.put(&request, "purpose", "Something else").unwrap();
            }),
        ),
        (
            P1,
            "replaces the `history` list",
            Box::new(|tx| {
                tx.put_object(ROOT, "history", ObjType::List).unwrap();
            }),
        ),
        (
            P1,
            "which an export request does not have",
            Box::new(|tx| {
                tx.put(ROOT, "state", "approved").unwrap();
            }),
        ),
        (
            P1,
            "must append exactly one entry",
            Box::new(|tx| {
                let (_, list) = tx.get(ROOT, "history").unwrap().unwrap();
                tx.delete(&list, 1).unwrap();
            }),
        ),
    ];
    for (seed, words, edit) in edits {
        let env = forge(&doc, &chain, seed, t, edit);
        refused_rule(&mut doc, &chain, env, words);
    }
    assert_eq!(view(&doc).state, Submitted);
    assert_eq!(view(&doc).history.len(), 2);

    let (mut draft, _) = created(&chain);
    let env = forge_step(&draft, &chain, P2, Submitted, t, |_, _| {});
    refused_rule(
        &mut draft,
        &chain,
        env,
        "the provider may not make draft → submitted; only the requester submits",
    );
}

#[test]
fn deliveries_need_a_reference_and_two_steps_need_two_changes() {
    let chain = chain();
    let (mut doc, _) = submitted(&chain);
    advance(&mut doc, &chain, &[(P2, Approved), (P2, InPreparation)]);
    let t = ms(NOW + 10);
    let env = forge_step(&doc, &chain, P2, Delivered, t, |f, _| {
        set(f, "reference", "")
    });
    refused_rule(&mut doc, &chain, env, "must give the delivery reference");
    let env = forge(&doc, &chain, P2, t, |tx| {
        let (_, list) = tx.get(ROOT, "history").unwrap().unwrap();
        for (i, to) in [(4, "delivered"), (5, "revoked")] {
            let map = tx.insert_object(&list, i, ObjType::Map).unwrap();
            let from = if to == "delivered" {
                "in_preparation"
            } else {
                "delivered"
            };
            for (k, v) in [
                ("from", from),
                ("to", to),
                ("comment", ""),
                ("conditions", ""),
            ] {
                tx.put(&map, k, v).unwrap();
            }
            tx.put(
                &map,
                "reference",
                if to == "delivered" { "ref" } else { "" },
            )
            .unwrap();
            tx.put(&map, "author", pid(P2).to_string()).unwrap();
            tx.put(&map, "at", t).unwrap();
        }
    });
    refused_rule(&mut doc, &chain, env, "must append exactly one entry");
}

#[test]
fn only_the_requester_creates_its_request_to_a_platform_that_can_answer() {
    let chain = chain();
    let bad_provider = |provider: u8| {
        fed_crdt::registry::exports::create_export(
            &chain,
            &key(P1),
            NONCE,
            pid(provider),
            project_id(),
            &request(),
            ms(NOW),
        )
        .unwrap_err()
    };
    for (seed, words) in [
        (P1, "the requester itself"),
        (support::RELAY, "a relay"),
        (support::STRANGER, "not a member"),
    ] {
        let e = bad_provider(seed);
        assert!(matches!(e, ExportError::BadProvider { .. }), "{e}");
        assert!(e.to_string().contains(words), "{e}");
    }
    let not_a_project = fed_crdt::registry::exports::create_export(
        &chain,
        &key(P1),
        NONCE,
        pid(P2),
        export_id(),
        &request(),
        ms(NOW),
    );
    assert!(matches!(not_a_project, Err(ExportError::Field { field, .. }) if field == "project"));

    // A rival creation of P1's request id, by P2 naming itself the requester.
    let genuine = creation(&chain, &request());
    let mut doc = Document::new(export_id(), &chain);
    let rival = forge_creation(&chain, P2, P2, P3);
    refused_rule_empty(&mut doc, &chain, rival, "does not derive that id");
    let as_p1 = forge_creation(&chain, P2, P1, P3);
    refused_rule_empty(&mut doc, &chain, as_p1, "may only create its own");
    let to_relay = forge_creation(&chain, P1, P1, support::RELAY);
    refused_rule_empty(&mut doc, &chain, to_relay, "a relay");
    accept(&mut doc, &chain, genuine);
    assert_eq!(view(&doc).state, Draft);
}

/// A creation of [`export_id`] by `seed`, naming `requester` and `provider`.
fn forge_creation(
    chain: &fed_crdt::chain::Chain,
    seed: u8,
    requester: u8,
    provider: u8,
) -> ChangeEnvelope {
    let time = ms(NOW);
    let empty = Document::new(export_id(), chain);
    forge(&empty, chain, seed, time, |tx| {
        tx.put(ROOT, "requester", pid(requester).to_string())
            .unwrap();
        tx.put(ROOT, "provider", pid(provider).to_string()).unwrap();
        tx.put(ROOT, "project", project_id().to_string()).unwrap();
        tx.put(ROOT, "nonce", hex::encode(NONCE)).unwrap();
        let r = tx.put_object(ROOT, "request", ObjType::Map).unwrap();
        let req = request();
        for (k, v) in [
            ("title", &req.title),
            ("dataset", &req.dataset),
            ("population", &req.population),
            ("purpose", &req.purpose),
            ("legal_basis", &req.legal_basis),
            ("delivery_mode", &req.delivery_mode),
        ] {
            tx.put(&r, k, v.as_str()).unwrap();
        }
        tx.put_object(&r, "variables", ObjType::List).unwrap();
        tx.put(&r, "pseudonymised", true).unwrap();
        let list = tx.put_object(ROOT, "history", ObjType::List).unwrap();
        let e = tx.insert_object(&list, 0, ObjType::Map).unwrap();
        for (k, v) in [
            ("from", ""),
            ("to", "draft"),
            ("comment", ""),
            ("conditions", ""),
            ("reference", ""),
        ] {
            tx.put(&e, k, v).unwrap();
        }
        tx.put(&e, "author", pid(requester).to_string()).unwrap();
        tx.put(&e, "at", time).unwrap();
    })
}

/// Receives `env` on a document that holds nothing yet; it must be refused by the rules.
fn refused_rule_empty(
    doc: &mut Document,
    chain: &fed_crdt::chain::Chain,
    env: ChangeEnvelope,
    words: &str,
) {
    let r = support::refused_by(&doc.receive(chain, env), RefusalCheck::Rule);
    assert!(r.reason.contains(words), "expected `{words}` in: {r}");
    assert_eq!(doc.accepted().len(), 0);
}

#[test]
fn each_party_needs_the_right_of_its_part() {
    use fed_crdt::chain::body::Right;
    use fed_crdt::registry::Outcome;
    let mut chain = chain();
    let (mut doc, _) = submitted(&chain);
    // P2 keeps `request_exports`, which lets its envelopes through, but loses
    // `answer_exports`, which a provider's steps need.
    common::push(
        &mut chain,
        support::CHAIN_TIME + 100,
        common::ADMIN_A,
        common::update_body(
            P2,
            Some([Right::Read, Right::RequestExports].into_iter().collect()),
            None,
            None,
        ),
    );
    let approve = step(&doc, &chain, P2, Approved, next_time(&doc));
    let outcomes = doc.receive(&chain, approve);
    assert!(
        outcomes.iter().any(|o| matches!(o, Outcome::Refused(r)
            if r.check == RefusalCheck::Rule && r.reason.contains("answer_exports"))),
        "{outcomes:?}"
    );
    assert_eq!(view(&doc).state, Submitted);
    // Nor can a new request be addressed to it.
    let mut empty = Document::new(export_id(), &chain);
    refused_rule_empty(
        &mut empty,
        &chain,
        forge_creation(&chain, P1, P1, P2),
        "answer_exports",
    );
}

/// A change that edits nothing (a revocation's acknowledgement) vouches for what it
/// depends on: either party may write one, a third platform may not.
#[test]
fn only_a_party_writes_a_change_that_edits_nothing() {
    let chain = chain();
    let (mut doc, _) = created(&chain);
    let ack = |doc: &Document, seed: u8| {
        fed_crdt::registry::acknowledge_revocation(
            doc.automerge(),
            &chain,
            doc.id(),
            &key(seed),
            ms(next_time(doc)),
        )
        .expect("an empty change")
        .into_envelope()
    };
    let provider = ack(&doc, P2);
    accept(&mut doc, &chain, provider);
    let outsider = ack(&doc, P3);
    refused_rule(&mut doc, &chain, outsider, "neither the requester");
    let requester = ack(&doc, P1);
    accept(&mut doc, &chain, requester);
}
