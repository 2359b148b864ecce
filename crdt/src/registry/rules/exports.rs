//! Rules of export request documents: who may take which step, and what never changes.
//!
//! The first change (no dependencies) creates the request: its author is the requester,
//! the document id derives from the requester and the nonce it writes, the provider is
//! another platform active at the record the change cites, the request is valid, and the
//! history holds the creation entry alone, dated with the change.
//!
//! Afterwards, as of the document at the change's dependencies: only the requester and
//! the provider change anything; `requester`, `provider`, `project` and `nonce` never
//! change; the requester edits `request` while the request is `draft` or
//! `information_requested`; and a step appends exactly one entry at the end of
//! `history`, leaving every earlier entry as it was. That entry is by the change's
//! author, dated with the change, leaves the state the history folds to at the
//! dependencies, and is a step the workflow gives the author's party (see
//! [`who_may`](crate::registry::exports::who_may)), with its reason, conditions or
//! delivery reference when the step needs one.

use automerge::{ObjType, ReadDoc, Value, ROOT};

use super::RuleInput;
use crate::chain::body::Right;
use crate::ids::{DocId, DocKind};
use crate::limits::MAX_EXPORT_HISTORY;
use crate::registry::as_of::AsOf;
use crate::registry::exports::{
    check_entry_needs, check_provider, fold, read_strict, transition_problem, ExportState, Parts,
    Party,
};

pub(super) fn check<D: ReadDoc>(input: &RuleInput<'_, D>) -> Result<(), String> {
    let touched = input.touched;
    if touched.is_empty() && input.before.is_empty() {
        return Ok(());
    }
    if input.before.is_empty() {
        return check_creation(input);
    }
    let before = read_strict(AsOf::at(input.after, Some(input.before))).map_err(|e| {
        format!("the export request does not read at the change's dependencies: {e}")
    })?;
    let party = if input.author == before.requester {
        Party::Requester
    } else if input.author == before.provider {
        Party::Provider
    } else {
        return Err(format!(
            "{} is neither the requester {} nor the provider {} of this export request; \
             only they may change it",
            input.author, before.requester, before.provider
        ));
    };
    if touched.is_empty() {
        // A change that edits nothing (a revocation's acknowledgement) vouches for what
        // it depends on: a party may write one, whatever its rights now.
        return Ok(());
    }
    party_right(input, party)?;
    let state = fold(&before.requester, &before.provider, &before.history).state;
    for key in touched {
        match key.as_str() {
            "requester" | "provider" | "project" | "nonce" => {
                return Err(format!("nobody may change `{key}` of an export request"))
            }
            "request" if party != Party::Requester => {
                return Err(
                    "only the requester edits `request`; the provider answers through `history`"
                        .into(),
                )
            }
            "request"
                if !matches!(
                    state,
                    ExportState::Draft | ExportState::InformationRequested
                ) =>
            {
                return Err(format!(
                    "the requester may edit `request` only while the request is draft or \
                     information_requested; it is {state}"
                ))
            }
            "request" | "history" => {}
            other => {
                return Err(format!(
                    "edits the root key `{}`, which an export request does not have",
                    other.escape_debug()
                ))
            }
        }
    }
    if touched.contains("history") {
        check_step(input, &before, state, party)
    } else {
        read_strict(input.state()).map(|_| ())
    }
}

/// The author holds, at the record the change cites, the right its party needs: the
/// requester `request_exports`, the provider `answer_exports`. (The envelope check lets
/// either right through for any export change; which one counts depends on the party.)
fn party_right<D: ReadDoc>(input: &RuleInput<'_, D>, party: Party) -> Result<(), String> {
    let right = match party {
        Party::Requester => Right::RequestExports,
        Party::Provider => Right::AnswerExports,
    };
    let state = input
        .chain
        .state_at(input.cited_seq)
        .ok_or_else(|| format!("the cited record seq {} is unknown", input.cited_seq))?;
    let holds = state
        .members
        .get(&input.author)
        .is_some_and(|m| m.rights.contains(right));
    if holds {
        Ok(())
    } else {
        Err(format!(
            "{} acts as the {party} of this export request without the `{}` right at \
             record seq {}",
            input.author,
            right.name(),
            input.cited_seq
        ))
    }
}

/// A change to `history`: one entry appended to the creation's list, by the change's
/// author, dated with the change, a step the workflow gives its party from `state`.
fn check_step<D: ReadDoc>(
    input: &RuleInput<'_, D>,
    before: &Parts,
    state: ExportState,
    party: Party,
) -> Result<(), String> {
    // A new list, even one copying every entry, would hide the steps appended to the old
    // one concurrently: entries go into the one list the creation made.
    let same_list = matches!(
        input.state().get(ROOT, "history"),
        Ok(Some((Value::Object(ObjType::List), obj))) if obj == before.history_obj
    );
    if !same_list {
        return Err("replaces the `history` list; steps may only be appended to it".into());
    }
    let after = read_strict(input.state())?;
    let (n, m) = (before.history.len(), after.history.len());
    if m > MAX_EXPORT_HISTORY {
        return Err(format!(
            "`history` would hold {m} entries, at most {MAX_EXPORT_HISTORY} allowed"
        ));
    }
    if let Some(i) = (0..n.min(m)).find(|i| before.history.get(*i) != after.history.get(*i)) {
        return Err(format!(
            "inserts before or rewrites history entry #{i}; entries are only appended, and \
             earlier ones never change"
        ));
    }
    if m != n + 1 {
        return Err(format!(
            "must append exactly one entry to `history`, which had {n} entries and would have {m}"
        ));
    }
    let Some(entry) = after.history.last() else {
        return Err("`history` is empty".into());
    };
    if entry.author != input.author {
        return Err(format!(
            "the new history entry names {} as its author, but the change is by {}",
            entry.author, input.author
        ));
    }
    if entry.at_ms != input.time_ms {
        return Err(format!(
            "the new history entry is dated `at` = {} ms, but its change is dated {} ms",
            entry.at_ms, input.time_ms
        ));
    }
    if entry.from != Some(state) {
        return Err(format!(
            "the new history entry leaves {}, but the request is {state} at the change's \
             dependencies",
            entry.from.map_or("no state", ExportState::name)
        ));
    }
    if let Some(problem) = transition_problem(state, entry.to, Some(party), &input.author) {
        return Err(problem);
    }
    check_entry_needs(
        entry.to,
        &entry.comment,
        &entry.conditions,
        &entry.reference,
    )
    .map_err(|e| format!("the new history entry: {e}"))
}

/// The first change: the requester creates its own request, under the id derived from
/// itself and the nonce it writes, to a platform that can answer it.
fn check_creation<D: ReadDoc>(input: &RuleInput<'_, D>) -> Result<(), String> {
    let parts = read_strict(input.state())?;
    if parts.requester != input.author {
        return Err(format!(
            "creates a request from {}; its author {} may only create its own",
            parts.requester, input.author
        ));
    }
    if DocId::derive(DocKind::Export, &input.author, parts.nonce) != input.document {
        return Err(format!(
            "creates {} with a nonce from which its author {} does not derive that id; \
             only the platform that drew the id may create the request",
            input.document, input.author
        ));
    }
    party_right(input, Party::Requester)?;
    let state = input
        .chain
        .state_at(input.cited_seq)
        .ok_or_else(|| format!("the cited record seq {} is unknown", input.cited_seq))?;
    check_provider(&state, &parts.requester, &parts.provider, input.time_ms)
        .map_err(|reason| format!("the provider {} cannot be asked: {reason}", parts.provider))?;
    match parts.history.as_slice() {
        [creation] if creation.at_ms == input.time_ms => check_entry_needs(
            creation.to,
            &creation.comment,
            &creation.conditions,
            &creation.reference,
        )
        .map_err(|e| format!("the creation entry: {e}")),
        [creation] => Err(format!(
            "the creation entry is dated `at` = {} ms, but its change is dated {} ms",
            creation.at_ms, input.time_ms
        )),
        _ => Err(format!(
            "the creating change writes {} history entries; it must write the creation alone",
            parts.history.len()
        )),
    }
}
