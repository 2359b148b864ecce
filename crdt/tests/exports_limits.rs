//! Export request limits: every named limit is accepted at its value and refused one
//! over it, locally (a field error naming the field) and by every node when forged.

mod common;
mod export_support;
mod support;

use automerge::transaction::Transactable;
use automerge::{ObjType, ReadDoc, ROOT};
use fed_crdt::error::ExportError;
use fed_crdt::limits::{
    MAX_EXPORT_HISTORY, MAX_EXPORT_REFERENCE_BYTES, MAX_EXPORT_TEXT_BYTES, MAX_EXPORT_TITLE_BYTES,
    MAX_EXPORT_VARIABLES, MAX_EXPORT_VARIABLE_BYTES, MAX_NAME_BYTES,
};
use fed_crdt::registry::exports::{
    create_export, transition_export, update_export, ExportRequest, ExportState,
};
use fed_crdt::registry::Document;

use common::{key, pid, P1, P2};
use export_support::*;
use support::{accept, ms};
use ExportState::*;

/// Expects a local field error on `field`.
fn field_error<T: std::fmt::Debug>(result: Result<T, ExportError>, field: &str) {
    match result {
        Err(ExportError::Field { field: f, problem }) => {
            assert_eq!(f, field, "{problem}");
        }
        other => panic!("expected a field error on `{field}`, got {other:?}"),
    }
}

/// A request field's limit: `set(request, n)` makes the field `n` long (bytes or items).
struct RequestLimit {
    field: &'static str,
    limit: usize,
    set: fn(&mut ExportRequest, usize),
}

fn request_limits() -> Vec<RequestLimit> {
    vec![
        RequestLimit {
            field: "title",
            limit: MAX_EXPORT_TITLE_BYTES,
            set: |r, n| r.title = "t".repeat(n),
        },
        RequestLimit {
            field: "dataset",
            limit: MAX_EXPORT_TEXT_BYTES,
            set: |r, n| r.dataset = "d\n".repeat(n / 2) + &"d".repeat(n % 2),
        },
        RequestLimit {
            field: "population",
            limit: MAX_EXPORT_TEXT_BYTES,
            set: |r, n| r.population = "p".repeat(n),
        },
        RequestLimit {
            field: "purpose",
            limit: MAX_EXPORT_TEXT_BYTES,
            set: |r, n| r.purpose = "u".repeat(n),
        },
        RequestLimit {
            field: "legal_basis",
            limit: MAX_EXPORT_TEXT_BYTES,
            set: |r, n| r.legal_basis = "l".repeat(n),
        },
        RequestLimit {
            field: "delivery_mode",
            limit: MAX_NAME_BYTES,
            set: |r, n| r.delivery_mode = "m".repeat(n),
        },
        RequestLimit {
            field: "variables",
            limit: MAX_EXPORT_VARIABLES,
            set: |r, n| r.variables = (0..n).map(|i| format!("v{i}")).collect(),
        },
        RequestLimit {
            field: "variables",
            limit: MAX_EXPORT_VARIABLE_BYTES,
            set: |r, n| r.variables = vec!["v".repeat(n)],
        },
    ]
}

#[test]
fn request_fields_at_their_limit_pass_and_over_it_are_refused() {
    let chain = chain();
    for limit in request_limits() {
        let mut at_limit = request();
        (limit.set)(&mut at_limit, limit.limit);
        let env = creation(&chain, &at_limit);
        let mut doc = Document::new(export_id(), &chain);
        accept(&mut doc, &chain, env);
        assert_eq!(view(&doc).request, at_limit, "{}", limit.field);

        let mut over = request();
        (limit.set)(&mut over, limit.limit + 1);
        field_error(
            create_export(
                &chain,
                &key(P1),
                NONCE,
                pid(P2),
                project_id(),
                &over,
                ms(NOW),
            ),
            limit.field,
        );
        field_error(
            update_export(&doc, &chain, &key(P1), &over, ms(NOW + 1)),
            limit.field,
        );

        // The same value forged into the draft by the requester.
        let forged = forge(&doc, &chain, P1, ms(NOW + 1), |tx| {
            let (_, obj) = tx.get(ROOT, "request").unwrap().unwrap();
            match limit.field {
                "variables" => {
                    let list = tx.put_object(&obj, "variables", ObjType::List).unwrap();
                    for (i, v) in over.variables.iter().enumerate() {
                        tx.insert(&list, i, v.as_str()).unwrap();
                    }
                }
                field => {
                    let value = match field {
                        "title" => &over.title,
                        "dataset" => &over.dataset,
                        "population" => &over.population,
                        "purpose" => &over.purpose,
                        "legal_basis" => &over.legal_basis,
                        _ => &over.delivery_mode,
                    };
                    tx.put(&obj, field, value.as_str()).unwrap();
                }
            }
        });
        refused_rule(&mut doc, &chain, forged, "allowed");
    }
}

#[test]
fn the_period_is_two_ordered_dates() {
    let chain = chain();
    let mut r = request();
    r.period_end = Some("2019-12-31".into());
    field_error(
        create_export(&chain, &key(P1), NONCE, pid(P2), project_id(), &r, ms(NOW)),
        "period_end",
    );
    let mut r = request();
    r.period_start = Some("2020-02-30".into());
    field_error(
        create_export(&chain, &key(P1), NONCE, pid(P2), project_id(), &r, ms(NOW)),
        "period_start",
    );
    let (mut doc, _) = created(&chain);
    let forged = forge(&doc, &chain, P1, ms(NOW + 1), |tx| {
        let (_, obj) = tx.get(ROOT, "request").unwrap().unwrap();
        tx.put(&obj, "period_end", "2019-12-31").unwrap();
    });
    refused_rule(&mut doc, &chain, forged, "before the start of the period");
}

#[test]
fn step_texts_at_their_limit_pass_and_over_it_are_refused() {
    let chain = chain();
    type Set = fn(&mut Vec<(&'static str, String)>, usize);
    let cases: [(ExportState, &str, usize, Set); 3] = [
        (Rejected, "comment", MAX_EXPORT_TEXT_BYTES, |f, n| {
            set(f, "comment", &"c".repeat(n))
        }),
        (
            ApprovedWithConditions,
            "conditions",
            MAX_EXPORT_TEXT_BYTES,
            |f, n| set(f, "conditions", &"k".repeat(n)),
        ),
        (
            Delivered,
            "reference",
            MAX_EXPORT_REFERENCE_BYTES,
            |f, n| set(f, "reference", &"r".repeat(n)),
        ),
    ];
    for (to, field, limit, set_text) in cases {
        let (mut doc, _) = submitted(&chain);
        if to == Delivered {
            advance(&mut doc, &chain, &[(P2, Approved), (P2, InPreparation)]);
        }
        let mut t = transition(to);
        let text = |n| "x".repeat(n);
        match field {
            "comment" => t.comment = text(limit + 1),
            "conditions" => t.conditions = text(limit + 1),
            _ => t.reference = text(limit + 1),
        }
        field_error(
            transition_export(&doc, &chain, &key(P2), &t, ms(NOW + 10)),
            field,
        );
        let time = ms(NOW + 10);
        let over = forge_step(&doc, &chain, P2, to, time, |f, _| set_text(f, limit + 1));
        refused_rule(&mut doc, &chain, over, "allowed");
        let at = forge_step(&doc, &chain, P2, to, time, |f, _| set_text(f, limit));
        accept(&mut doc, &chain, at);
        assert_eq!(view(&doc).state, to);
    }
}

#[test]
fn the_history_holds_at_most_its_limit() {
    let chain = chain();
    let (mut doc, _) = submitted(&chain);
    let mut state = Submitted;
    for _ in 2..MAX_EXPORT_HISTORY {
        let (seed, to) = if state == Submitted {
            (P2, InformationRequested)
        } else {
            (P1, Submitted)
        };
        advance(&mut doc, &chain, &[(seed, to)]);
        state = to;
    }
    assert_eq!(view(&doc).history.len(), MAX_EXPORT_HISTORY);
    assert_eq!(view(&doc).state, Submitted);
    field_error(
        transition_export(
            &doc,
            &chain,
            &key(P2),
            &transition(Approved),
            ms(next_time(&doc)),
        ),
        "history",
    );
    let over = forge_step(&doc, &chain, P2, Approved, ms(next_time(&doc)), |_, _| {});
    refused_rule(&mut doc, &chain, over, "at most 256 allowed");
}
