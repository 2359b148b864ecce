//! Reading an export request document strictly, now or as of given heads.

use std::collections::BTreeMap;

use automerge::{Automerge, ObjId, ObjType, ReadDoc, ScalarValueRef, ValueRef, ROOT};

use super::{
    check_entry_limits, fold, ExportRequest, ExportState, ExportView, HistoryEntry, ENTRY_FIELDS,
    REQUEST_FIELDS, ROOT_KEYS,
};
use crate::ids::{parse_nonce, DocId, DocKind, PlatformId};
use crate::limits::MAX_EXPORT_VARIABLES;
use crate::registry::as_of::AsOf;

/// The export request in a document, or `None` if the document holds none that reads
/// strictly: single root values of the right types, a valid request, a history that
/// starts with the requester's creation and whose every entry is by one of the parties.
pub fn read_export(id: DocId, doc: &Automerge) -> Option<ExportView> {
    let parts = read_strict(AsOf::at(doc, None)).ok()?;
    let folded = fold(&parts.requester, &parts.provider, &parts.history);
    let mut history = parts.history;
    for (entry, applied) in history.iter_mut().zip(folded.applied) {
        entry.applied = applied;
    }
    let updated_at_ms = doc
        .get_changes_meta(&[])
        .iter()
        .map(|c| c.timestamp)
        .max()
        .unwrap_or_default();
    Some(ExportView {
        id,
        requester: parts.requester,
        provider: parts.provider,
        project: parts.project,
        request: parts.request,
        state: folded.state,
        conditions: folded.conditions,
        delivery_reference: folded.delivery_reference,
        history,
        updated_at_ms,
    })
}

/// One value of a map or a list, as far as export documents care.
enum Item {
    Str(String),
    Int(i64),
    Bool(bool),
    Object(ObjType, ObjId),
    Other,
}

impl Item {
    fn new(value: ValueRef<'_>, id: impl FnOnce() -> ObjId) -> Item {
        match value {
            ValueRef::Object(kind) => Item::Object(kind, id()),
            ValueRef::Scalar(ScalarValueRef::Str(s)) => Item::Str(s.into_owned()),
            ValueRef::Scalar(ScalarValueRef::Int(i)) => Item::Int(i),
            ValueRef::Scalar(ScalarValueRef::Boolean(b)) => Item::Bool(b),
            ValueRef::Scalar(_) => Item::Other,
        }
    }
}

/// Every key of the map `obj` with its value, read in one pass (reading key by key
/// costs a lookup each, which adds up over a long history). A contested key is an
/// error: nothing in an export document is written concurrently.
fn map_items<D: ReadDoc>(at: &AsOf<'_, D>, obj: &ObjId) -> Result<BTreeMap<String, Item>, String> {
    let range = at.map_range(obj, ..);
    let mut out = BTreeMap::new();
    for item in range {
        if item.conflict {
            return Err(format!("`{}` holds conflicting values", quote(&item.key)));
        }
        let value = Item::new(item.value.clone(), || item.id());
        out.insert(item.key.into_owned(), value);
    }
    Ok(out)
}

/// Every item of the list `obj`, read in one pass.
fn list_items<D: ReadDoc>(at: &AsOf<'_, D>, obj: &ObjId) -> Result<Vec<Item>, String> {
    let range = at.list_range(obj, ..);
    range
        .map(|item| {
            if item.conflict {
                Err(format!(
                    "list item #{} holds conflicting values",
                    item.index
                ))
            } else {
                Ok(Item::new(item.value.clone(), || item.id()))
            }
        })
        .collect()
}

/// What an export request document holds, read strictly (history not folded).
pub(crate) struct Parts {
    pub requester: PlatformId,
    pub provider: PlatformId,
    pub project: DocId,
    pub nonce: [u8; 16],
    pub request: ExportRequest,
    /// The history list object: entries are appended to this one list, never to another.
    pub history_obj: ObjId,
    /// The entries, each with `applied` false.
    pub history: Vec<HistoryEntry>,
}

/// Reads a whole export request document; the error says what is wrong.
pub(crate) fn read_strict<D: ReadDoc>(at: AsOf<'_, D>) -> Result<Parts, String> {
    let root = map_items(&at, &ROOT)?;
    only_keys(&root, &ROOT_KEYS, "a root key")?;
    let platform = |field: &str| {
        string(&root, field)?
            .parse::<PlatformId>()
            .map_err(|_| format!("`{field}` must be a platform id"))
    };
    let requester = platform("requester")?;
    let provider = platform("provider")?;
    if requester == provider {
        return Err("the provider must be another platform than the requester".into());
    }
    let project = string(&root, "project")?
        .parse::<DocId>()
        .ok()
        .filter(|id| id.kind == DocKind::Project)
        .ok_or("`project` must be the id of a project document")?;
    let nonce = parse_nonce(&string(&root, "nonce")?)
        .ok_or("`nonce` must be 32 lower-case hex characters")?;
    let request = match root.get("request") {
        Some(Item::Object(ObjType::Map, obj)) => read_request(at, obj)?,
        _ => return Err("`request` must be a map of request fields".into()),
    };
    let history_obj = match root.get("history") {
        Some(Item::Object(ObjType::List, obj)) => obj.clone(),
        _ => return Err("`history` must be a list".into()),
    };
    let mut history = Vec::new();
    for (i, item) in list_items(&at, &history_obj)?.into_iter().enumerate() {
        let entry = match item {
            Item::Object(ObjType::Map, obj) => {
                read_entry(at, &obj).map_err(|e| format!("history entry #{i}: {e}"))?
            }
            _ => return Err(format!("history entry #{i} must be a map")),
        };
        let by_a_party = entry.author == requester || entry.author == provider;
        match (i, entry.from) {
            (0, None) if entry.to == ExportState::Draft && entry.author == requester => {}
            (0, _) => {
                return Err(
                    "the first history entry must be the requester's creation (from \"\" to draft)"
                        .into(),
                )
            }
            (_, None) => return Err(format!("history entry #{i} must name the state it left")),
            (_, Some(_)) if !by_a_party => {
                return Err(format!(
                    "history entry #{i} is by {}, neither the requester nor the provider",
                    entry.author
                ))
            }
            _ => {}
        }
        history.push(entry);
    }
    if history.is_empty() {
        return Err("`history` must start with the creation entry".into());
    }
    Ok(Parts {
        requester,
        provider,
        project,
        nonce,
        request,
        history_obj,
        history,
    })
}

fn read_request<D: ReadDoc>(at: AsOf<'_, D>, obj: &ObjId) -> Result<ExportRequest, String> {
    let map = map_items(&at, obj)?;
    only_keys(&map, &REQUEST_FIELDS, "a request field")?;
    let optional = |field: &str| match map.get(field) {
        None => Ok(None),
        Some(_) => string(&map, field).map(Some),
    };
    let variables = match map.get("variables") {
        Some(Item::Object(ObjType::List, obj)) => {
            let items = list_items(&at, obj)?;
            if items.len() > MAX_EXPORT_VARIABLES {
                return Err(format!(
                    "`variables` lists {} items, at most {MAX_EXPORT_VARIABLES} allowed",
                    items.len()
                ));
            }
            items
                .into_iter()
                .map(|item| match item {
                    Item::Str(s) => Ok(s),
                    _ => Err("`variables` must hold strings".to_string()),
                })
                .collect::<Result<Vec<_>, _>>()?
        }
        _ => return Err("`variables` must be a list".into()),
    };
    let pseudonymised = match map.get("pseudonymised") {
        Some(Item::Bool(b)) => *b,
        _ => return Err("`pseudonymised` must be a boolean".into()),
    };
    let request = ExportRequest {
        title: string(&map, "title")?,
        dataset: string(&map, "dataset")?,
        variables,
        period_start: optional("period_start")?,
        period_end: optional("period_end")?,
        population: string(&map, "population")?,
        purpose: string(&map, "purpose")?,
        legal_basis: string(&map, "legal_basis")?,
        pseudonymised,
        delivery_mode: string(&map, "delivery_mode")?,
    };
    request.check().map_err(|e| e.to_string())?;
    Ok(request)
}

fn read_entry<D: ReadDoc>(at: AsOf<'_, D>, obj: &ObjId) -> Result<HistoryEntry, String> {
    let map = map_items(&at, obj)?;
    only_keys(&map, &ENTRY_FIELDS, "a history field")?;
    let state = |field: &str, name: &str| {
        ExportState::parse(name)
            .ok_or_else(|| format!("`{field}` is `{}`, not a state", quote(name)))
    };
    let from = match string(&map, "from")?.as_str() {
        "" => None,
        name => Some(state("from", name)?),
    };
    let to = state("to", &string(&map, "to")?)?;
    let author = string(&map, "author")?
        .parse::<PlatformId>()
        .map_err(|_| "`author` must be a platform id".to_string())?;
    let Some(Item::Int(at_ms)) = map.get("at") else {
        return Err("`at` must be an integer (milliseconds)".into());
    };
    let entry = HistoryEntry {
        from,
        to,
        author,
        at_ms: *at_ms,
        comment: string(&map, "comment")?,
        conditions: string(&map, "conditions")?,
        reference: string(&map, "reference")?,
        applied: false,
    };
    check_entry_limits(&entry.comment, &entry.conditions, &entry.reference)
        .map_err(|e| e.to_string())?;
    Ok(entry)
}

/// Refuses a key of `map` outside `allowed`.
fn only_keys(map: &BTreeMap<String, Item>, allowed: &[&str], what: &str) -> Result<(), String> {
    match map.keys().find(|k| !allowed.contains(&k.as_str())) {
        Some(unknown) => Err(format!("`{}` is not {what}", quote(unknown))),
        None => Ok(()),
    }
}

fn string(map: &BTreeMap<String, Item>, field: &str) -> Result<String, String> {
    match map.get(field) {
        Some(Item::Str(s)) => Ok(s.clone()),
        None => Err(format!("`{field}` is missing")),
        Some(_) => Err(format!("`{field}` must be a string")),
    }
}

/// At most 80 characters of an untrusted text, escaped.
fn quote(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if s.chars().count() > 80 {
        out.push_str("...");
    }
    out.escape_debug().to_string()
}
