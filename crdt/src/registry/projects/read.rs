//! Reading a project document strictly.

use std::collections::BTreeMap;

use automerge::{Automerge, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};

use super::{
    check_date, field_error, Access, Project, ProjectMember, ProjectView, FIELDS, MEMBER_FIELDS,
};
use crate::ids::{parse_nonce, DocId, PlatformId};
use crate::limits::{MAX_PROJECT_MEMBERS, MAX_PROJECT_REFERENCES};

/// The project in a project document, or `None` if the document holds none that reads
/// strictly: a single owner, well-typed fields within their limits, valid shares.
///
/// The dates are not checked for order here: concurrent edits of the two dates by two
/// platforms may leave them crossed until someone edits them again.
pub fn read_project(id: DocId, doc: &Automerge) -> Option<ProjectView> {
    read_strict(doc).ok().map(|parts| parts.into_view(id))
}

/// What a project document holds, read strictly.
pub(crate) struct Parts {
    pub owner: PlatformId,
    /// The creation nonce, from which the document id derives with the owner.
    pub nonce: [u8; 16],
    pub project: Project,
    pub shares: BTreeMap<PlatformId, Access>,
    pub deleted: bool,
}

impl Parts {
    /// The view of document `id` that holds these parts.
    pub(crate) fn into_view(self, id: DocId) -> ProjectView {
        ProjectView {
            id,
            owner: self.owner,
            project: self.project,
            shares: self.shares,
            deleted: self.deleted,
        }
    }
}

/// Reads a whole project document; the error says what is wrong.
pub(crate) fn read_strict<R: ReadDoc>(doc: &R) -> Result<Parts, String> {
    if let Some(unknown) = doc
        .keys(ROOT)
        .find(|k| !["owner", "nonce", "project", "shares", "deleted"].contains(&k.as_str()))
    {
        return Err(format!("the root key `{}` is not allowed", quote(&unknown)));
    }
    let owners = doc.get_all(ROOT, "owner").map_err(|e| e.to_string())?;
    let owner = match owners.as_slice() {
        [(Value::Scalar(v), _)] => match v.as_ref() {
            ScalarValue::Str(s) => s.parse::<PlatformId>().ok(),
            _ => None,
        },
        [] => return Err("the document has no owner".into()),
        [_, _, ..] => return Err("the document has several owners".into()),
        _ => None,
    }
    .ok_or("the owner must be a platform id")?;
    let nonce = string(doc, &ROOT, "nonce")
        .ok()
        .and_then(|s| parse_nonce(&s))
        .ok_or("`nonce` must be 32 lower-case hex characters")?;
    let project = match doc.get(ROOT, "project") {
        Ok(Some((Value::Object(ObjType::Map), obj))) => read_details(doc, &obj)?,
        _ => return Err("`project` must be a map of project fields".into()),
    };
    let mut shares = BTreeMap::new();
    match doc.get(ROOT, "shares") {
        Ok(Some((Value::Object(ObjType::Map), obj))) => {
            for key in doc.keys(&obj) {
                let platform = key
                    .parse::<PlatformId>()
                    .map_err(|_| format!("shares `{}`, not a platform id", quote(&key)))?;
                if platform == owner {
                    return Err("the owner cannot share a project with itself".into());
                }
                let access = string(doc, &obj, &key)
                    .ok()
                    .and_then(|s| Access::parse(&s))
                    .ok_or_else(|| format!("the share of {platform} must be `read` or `write`"))?;
                shares.insert(platform, access);
            }
        }
        Ok(None) => {}
        _ => return Err("`shares` must be a map".into()),
    }
    let deleted = match doc.get(ROOT, "deleted") {
        Ok(Some((Value::Scalar(v), _))) => match v.as_ref() {
            ScalarValue::Boolean(b) => *b,
            _ => return Err("`deleted` must be a boolean".into()),
        },
        Ok(None) => false,
        _ => return Err("`deleted` must be a boolean".into()),
    };
    Ok(Parts {
        owner,
        nonce,
        project,
        shares,
        deleted,
    })
}

fn read_details<R: ReadDoc>(doc: &R, obj: &ObjId) -> Result<Project, String> {
    if let Some(unknown) = doc.keys(obj).find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!("`{}` is not a project field", quote(&unknown)));
    }
    let optional = |field: &str| match doc.get(obj, field) {
        Ok(None) => Ok(None),
        _ => string(doc, obj, field).map(Some),
    };
    let mut members = Vec::new();
    for m in list(doc, obj, "members", MAX_PROJECT_MEMBERS)? {
        let Value::Object(ObjType::Map) = m.0 else {
            return Err("`members` must hold maps".into());
        };
        if doc.keys(&m.1).any(|k| !MEMBER_FIELDS.contains(&k.as_str())) {
            return Err("a member holds an unknown field".into());
        }
        members.push(ProjectMember {
            name: string(doc, &m.1, "name")?,
            email: string(doc, &m.1, "email")?,
            role: string(doc, &m.1, "role")?,
        });
    }
    let strings = |field: &str| -> Result<Vec<String>, String> {
        list(doc, obj, field, MAX_PROJECT_REFERENCES)?
            .into_iter()
            .map(|(v, _)| match v {
                Value::Scalar(s) => match s.as_ref() {
                    ScalarValue::Str(s) => Ok(s.to_string()),
                    _ => Err(format!("`{field}` must hold strings")),
                },
                _ => Err(format!("`{field}` must hold strings")),
            })
            .collect()
    };
    let project = Project {
        code: string(doc, obj, "code")?,
        name: string(doc, obj, "name")?,
        description: string(doc, obj, "description")?,
        start_date: optional("start_date")?,
        end_date: optional("end_date")?,
        regulatory_frameworks: strings("regulatory_frameworks")?,
        entities: strings("entities")?,
        members,
    };
    let unordered = Project {
        end_date: None,
        ..project.clone()
    };
    unordered.check().map_err(|e| e.to_string())?;
    if let Some(end) = &project.end_date {
        check_date(end).map_err(|p| field_error("end_date", p).to_string())?;
    }
    Ok(project)
}

fn string<R: ReadDoc>(doc: &R, obj: &ObjId, field: &str) -> Result<String, String> {
    match doc.get(obj, field) {
        Ok(Some((Value::Scalar(v), _))) => match v.as_ref() {
            ScalarValue::Str(s) => Ok(s.to_string()),
            _ => Err(format!("`{}` must be a string", quote(field))),
        },
        Ok(None) => Err(format!("`{}` is missing", quote(field))),
        _ => Err(format!("`{}` must be a string", quote(field))),
    }
}

fn list<'a, R: ReadDoc>(
    doc: &'a R,
    obj: &ObjId,
    field: &str,
    max: usize,
) -> Result<Vec<(Value<'a>, ObjId)>, String> {
    let Ok(Some((Value::Object(ObjType::List), list))) = doc.get(obj, field) else {
        return Err(format!("`{field}` must be a list"));
    };
    let len = doc.length(&list);
    if len > max {
        return Err(format!(
            "`{field}` lists {len} items, at most {max} allowed"
        ));
    }
    (0..len)
        .map(|i| match doc.get(&list, i) {
            Ok(Some(item)) => Ok(item),
            _ => Err(format!("`{field}` cannot be read")),
        })
        .collect()
}

/// At most 80 characters of an untrusted key, escaped.
fn quote(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if s.chars().count() > 80 {
        out.push_str("...");
    }
    out.escape_debug().to_string()
}
