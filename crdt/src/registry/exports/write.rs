//! The local changes to an export request: create, amend the request, take a step.
//!
//! Each checks locally what every node's rules will check, so that a refusal is explained
//! before anything is signed, then builds the change on a copy of the document and returns
//! it sealed; the document itself is not modified (feed the envelope to
//! [`Document::receive`] like any other).

use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ObjId, ObjType, ReadDoc, Value, ROOT};
use ed25519_dalek::SigningKey;

use super::{
    check_entry_texts, check_provider, field_error, read_export, transition_problem, ExportRequest,
    ExportState, ExportView, Party, Transition,
};
use crate::chain::Chain;
use crate::error::ExportError;
use crate::ids::{DocId, DocKind, PlatformId};
use crate::limits::MAX_EXPORT_HISTORY;
use crate::registry::local::{seal_change, OwnChange};
use crate::registry::Document;

/// Makes the signed change by which `requester_key`'s platform asks `provider` for the
/// dataset `request`, for `project`. The request starts as a draft; its id derives from
/// the requester and `nonce` (see [`DocId::derive`]), which the caller draws at random.
///
/// # Errors
///
/// [`ExportError::Field`] for a bad request or a `project` that is not a project id,
/// [`ExportError::BadProvider`] if `provider` is the requester or not an active platform
/// of the chain, [`ExportError::ClockBehind`], [`ExportError::Automerge`].
pub fn create_export(
    chain: &Chain,
    requester_key: &SigningKey,
    nonce: [u8; 16],
    provider: PlatformId,
    project: DocId,
    request: &ExportRequest,
    now_ms: i64,
) -> Result<(DocId, OwnChange), ExportError> {
    let requester = PlatformId::from(requester_key);
    check_provider(chain.state(), &requester, &provider, now_ms)
        .map_err(|reason| ExportError::BadProvider { provider, reason })?;
    if project.kind != DocKind::Project {
        return Err(field_error(
            "project",
            format!("is {project}, not the id of a project document"),
        ));
    }
    request.check()?;
    let id = DocId::derive(DocKind::Export, &requester, nonce);
    let fields = [
        ("requester", requester.to_string()),
        ("provider", provider.to_string()),
        ("project", project.to_string()),
        ("nonce", hex::encode(nonce)),
    ];
    let sealed =
        seal_change::<ExportError, _>(&Automerge::new(), chain, id, requester_key, now_ms, |tx| {
            for (key, value) in &fields {
                tx.put(ROOT, *key, value.as_str())?;
            }
            let obj = tx.put_object(ROOT, "request", ObjType::Map)?;
            write_request(tx, &obj, None, request)?;
            let history = tx.put_object(ROOT, "history", ObjType::List)?;
            let creation = Transition {
                to: ExportState::Draft,
                ..Transition::default()
            };
            append_entry(tx, &history, 0, None, &creation, &requester, now_ms)?;
            Ok(())
        })?;
    sealed
        .map(|env| (id, env))
        .ok_or(ExportError::Unreadable { document: id })
}

/// Makes the signed change by the requester that amends the request while the provider
/// has not taken it up (the request is `draft` or `information_requested`). Only the
/// differing fields are written; the list of variables is replaced whole. Returns
/// `Ok(None)` if the request already reads exactly so.
///
/// # Errors
///
/// [`ExportError::NotEditable`] for anyone but the requester or in another state,
/// [`ExportError::Field`] for a bad request, [`ExportError::NotExport`],
/// [`ExportError::Unreadable`], [`ExportError::ClockBehind`], [`ExportError::Automerge`].
pub fn update_export(
    document: &Document,
    chain: &Chain,
    author_key: &SigningKey,
    request: &ExportRequest,
    now_ms: i64,
) -> Result<Option<OwnChange>, ExportError> {
    let view = readable(document)?;
    let author = PlatformId::from(author_key);
    if author != view.requester {
        return Err(ExportError::NotEditable {
            reason: format!(
                "only the requester {} edits the request; {author} is not it",
                view.requester
            ),
        });
    }
    if !matches!(
        view.state,
        ExportState::Draft | ExportState::InformationRequested
    ) {
        return Err(ExportError::NotEditable {
            reason: format!(
                "it is {}; the requester edits it only while it is draft or information_requested",
                view.state
            ),
        });
    }
    request.check()?;
    if view.request == *request {
        return Ok(None);
    }
    seal_change::<ExportError, _>(
        document.automerge(),
        chain,
        document.id(),
        author_key,
        now_ms,
        |tx| {
            let obj = match tx.get(ROOT, "request")? {
                Some((Value::Object(ObjType::Map), obj)) => obj,
                _ => tx.put_object(ROOT, "request", ObjType::Map)?,
            };
            write_request(tx, &obj, Some(&view.request), request)
        },
    )
}

/// Makes the signed change by which `author_key`'s platform takes one step of the
/// workflow: it appends one entry to the history, from the state the request is in now.
///
/// # Errors
///
/// [`ExportError::IllegalTransition`] if the workflow does not let this platform make
/// this step from the current state, [`ExportError::Field`] for a missing reason,
/// conditions or delivery reference, a text over its limit, or a full history, and as
/// [`update_export`].
pub fn transition_export(
    document: &Document,
    chain: &Chain,
    author_key: &SigningKey,
    transition: &Transition,
    now_ms: i64,
) -> Result<OwnChange, ExportError> {
    let view = readable(document)?;
    let author = PlatformId::from(author_key);
    let party = if author == view.requester {
        Some(Party::Requester)
    } else if author == view.provider {
        Some(Party::Provider)
    } else {
        None
    };
    if let Some(reason) = transition_problem(view.state, transition.to, party, &author) {
        return Err(ExportError::IllegalTransition {
            from: view.state,
            to: transition.to,
            reason,
        });
    }
    check_entry_texts(
        transition.to,
        &transition.comment,
        &transition.conditions,
        &transition.reference,
    )?;
    if view.history.len() >= MAX_EXPORT_HISTORY {
        return Err(field_error(
            "history",
            format!("already holds {MAX_EXPORT_HISTORY} entries, the most allowed"),
        ));
    }
    let sealed = seal_change::<ExportError, _>(
        document.automerge(),
        chain,
        document.id(),
        author_key,
        now_ms,
        |tx| {
            let Some((Value::Object(ObjType::List), history)) = tx.get(ROOT, "history")? else {
                return Err(ExportError::Unreadable {
                    document: document.id(),
                });
            };
            let end = tx.length(&history);
            append_entry(
                tx,
                &history,
                end,
                Some(view.state),
                transition,
                &author,
                now_ms,
            )
        },
    )?;
    sealed.ok_or(ExportError::Unreadable {
        document: document.id(),
    })
}

fn readable(document: &Document) -> Result<ExportView, ExportError> {
    if document.id().kind != DocKind::Export {
        return Err(ExportError::NotExport {
            document: document.id(),
        });
    }
    read_export(document.id(), document.automerge()).ok_or(ExportError::Unreadable {
        document: document.id(),
    })
}

/// Writes the fields of `new` that differ from `old` (every field if there is no `old`)
/// into the request map `obj`; the variables are replaced whole.
fn write_request(
    tx: &mut Transaction<'_>,
    obj: &ObjId,
    old: Option<&ExportRequest>,
    new: &ExportRequest,
) -> Result<(), ExportError> {
    let texts = |r: &ExportRequest| {
        [
            ("title", r.title.clone()),
            ("dataset", r.dataset.clone()),
            ("population", r.population.clone()),
            ("purpose", r.purpose.clone()),
            ("legal_basis", r.legal_basis.clone()),
            ("delivery_mode", r.delivery_mode.clone()),
        ]
    };
    let old_texts = old.map(texts);
    for (i, (field, value)) in texts(new).into_iter().enumerate() {
        let same = old_texts
            .as_ref()
            .and_then(|t| t.get(i))
            .is_some_and(|(_, v)| *v == value);
        if !same {
            tx.put(obj, field, value.as_str())?;
        }
    }
    for (field, new_date, old_date) in [
        (
            "period_start",
            &new.period_start,
            old.map(|o| &o.period_start),
        ),
        ("period_end", &new.period_end, old.map(|o| &o.period_end)),
    ] {
        match new_date {
            Some(date) if old_date.and_then(Option::as_ref) != Some(date) => {
                tx.put(obj, field, date.as_str())?;
            }
            None if old_date.is_some_and(Option::is_some) => tx.delete(obj, field)?,
            _ => {}
        }
    }
    if old.map(|o| &o.variables) != Some(&new.variables) {
        let list = tx.put_object(obj, "variables", ObjType::List)?;
        for (i, v) in new.variables.iter().enumerate() {
            tx.insert(&list, i, v.as_str())?;
        }
    }
    if old.map(|o| o.pseudonymised) != Some(new.pseudonymised) {
        tx.put(obj, "pseudonymised", new.pseudonymised)?;
    }
    Ok(())
}

/// Inserts one history entry at `index` of the list `history`.
fn append_entry(
    tx: &mut Transaction<'_>,
    history: &ObjId,
    index: usize,
    from: Option<ExportState>,
    step: &Transition,
    author: &PlatformId,
    at_ms: i64,
) -> Result<(), ExportError> {
    let entry = tx.insert_object(history, index, ObjType::Map)?;
    tx.put(&entry, "from", from.map_or("", ExportState::name))?;
    tx.put(&entry, "to", step.to.name())?;
    tx.put(&entry, "author", author.to_string())?;
    tx.put(&entry, "at", at_ms)?;
    tx.put(&entry, "comment", step.comment.as_str())?;
    tx.put(&entry, "conditions", step.conditions.as_str())?;
    tx.put(&entry, "reference", step.reference.as_str())?;
    Ok(())
}
