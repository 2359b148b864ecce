//! The platforms registry: one document per federation, one profile per platform.
//!
//! ```text
//! { "<platform id>": { "display_name": str, "description": str, "contact": str,
//!                       "addresses": [str] } }
//! ```
//!
//! Identity, role and rights are not here: they come from the membership chain. Each
//! platform writes only under its own id (the rules in `rules/platforms.rs` see to it),
//! so no two platforms ever create the same object concurrently and nothing is lost to a
//! conflict.

use std::collections::BTreeMap;

use automerge::transaction::{Transactable, Transaction};
use automerge::{Automerge, ObjId, ObjType, ReadDoc, ScalarValue, Value, ROOT};
use ed25519_dalek::SigningKey;
use serde::{Deserialize, Serialize};

use crate::card::{check_multiline_text, check_text};
use crate::chain::Chain;
use crate::error::ProfileError;
use crate::ids::{DocKind, PlatformId};
use crate::limits::{
    MAX_NAME_BYTES, MAX_PROFILE_ADDRESSES, MAX_PROFILE_ADDRESS_BYTES, MAX_PROFILE_CONTACT_BYTES,
    MAX_PROFILE_DESCRIPTION_BYTES,
};
use crate::registry::local::{self, OwnChange};
use crate::registry::Document;

/// The four fields of a profile, as written in the registry.
const FIELDS: [&str; 4] = ["display_name", "description", "contact", "addresses"];

/// A platform's entry in the platforms registry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformProfile {
    /// Display name (not empty, at most [`MAX_NAME_BYTES`]).
    pub display_name: String,
    /// Free text (at most [`MAX_PROFILE_DESCRIPTION_BYTES`]; line breaks and tabs allowed).
    pub description: String,
    /// Whom to contact (at most [`MAX_PROFILE_CONTACT_BYTES`]).
    pub contact: String,
    /// Where the platform's node can be reached (at most [`MAX_PROFILE_ADDRESSES`], each
    /// at most [`MAX_PROFILE_ADDRESS_BYTES`]).
    pub addresses: Vec<String>,
}

impl PlatformProfile {
    /// Checks every field against its limit.
    ///
    /// # Errors
    ///
    /// [`ProfileError::Field`] naming the first bad field.
    pub fn check(&self) -> Result<(), ProfileError> {
        let field = |field: &str, r: Result<(), String>| {
            r.map_err(|problem| ProfileError::Field {
                field: field.to_string(),
                problem,
            })
        };
        field(
            "display_name",
            check_text(&self.display_name, MAX_NAME_BYTES, false),
        )?;
        field("description", check_description(&self.description))?;
        field(
            "contact",
            check_text(&self.contact, MAX_PROFILE_CONTACT_BYTES, true),
        )?;
        if self.addresses.len() > MAX_PROFILE_ADDRESSES {
            return field(
                "addresses",
                Err(format!(
                    "lists {} addresses, at most {MAX_PROFILE_ADDRESSES} allowed",
                    self.addresses.len()
                )),
            );
        }
        for address in &self.addresses {
            field(
                "addresses",
                check_text(address, MAX_PROFILE_ADDRESS_BYTES, false),
            )?;
        }
        Ok(())
    }
}

fn check_description(value: &str) -> Result<(), String> {
    check_multiline_text(value, MAX_PROFILE_DESCRIPTION_BYTES)
}

/// Every platform's profile in a platforms registry, by platform id.
///
/// Entries that are not well-formed profiles under a valid platform id are skipped; a
/// document built from accepted envelopes holds none.
pub fn read_profiles(doc: &Automerge) -> BTreeMap<PlatformId, PlatformProfile> {
    let mut out = BTreeMap::new();
    for key in doc.keys(ROOT) {
        let Ok(platform) = key.parse::<PlatformId>() else {
            continue;
        };
        if let Ok(Some((Value::Object(ObjType::Map), obj))) = doc.get(ROOT, key.as_str()) {
            if let Ok(profile) = read_profile(doc, &obj) {
                out.insert(platform, profile);
            }
        }
    }
    out
}

/// Reads one profile map strictly: the four fields, each of its type, within limits.
pub(crate) fn read_profile<R: ReadDoc>(
    doc: &R,
    obj: &ObjId,
) -> Result<PlatformProfile, ProfileError> {
    let bad = |field: &str, problem: &str| ProfileError::Field {
        field: field.chars().take(80).collect(),
        problem: problem.to_string(),
    };
    if let Some(unknown) = doc.keys(obj).find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(bad(&unknown, "is not a profile field"));
    }
    let string = |field: &str| -> Result<String, ProfileError> {
        match doc.get(obj, field) {
            Ok(Some((Value::Scalar(v), _))) => match v.as_ref() {
                ScalarValue::Str(s) => Ok(s.to_string()),
                _ => Err(bad(field, "must be a string")),
            },
            Ok(Some(_)) => Err(bad(field, "must be a string")),
            Ok(None) => Err(bad(field, "is missing")),
            Err(e) => Err(bad(field, &e.to_string())),
        }
    };
    let addresses = match doc.get(obj, "addresses") {
        Ok(Some((Value::Object(ObjType::List), list))) => {
            let len = doc.length(&list);
            if len > MAX_PROFILE_ADDRESSES {
                return Err(bad(
                    "addresses",
                    &format!("lists {len} addresses, at most {MAX_PROFILE_ADDRESSES} allowed"),
                ));
            }
            let mut out = Vec::with_capacity(len);
            for i in 0..len {
                match doc.get(&list, i) {
                    Ok(Some((Value::Scalar(v), _))) => match v.as_ref() {
                        ScalarValue::Str(s) => out.push(s.to_string()),
                        _ => return Err(bad("addresses", "must hold strings only")),
                    },
                    _ => return Err(bad("addresses", "must hold strings only")),
                }
            }
            out
        }
        Ok(Some(_)) => return Err(bad("addresses", "must be a list of strings")),
        Ok(None) => return Err(bad("addresses", "is missing")),
        Err(e) => return Err(bad("addresses", &e.to_string())),
    };
    let profile = PlatformProfile {
        display_name: string("display_name")?,
        description: string("description")?,
        contact: string("contact")?,
        addresses,
    };
    profile.check()?;
    Ok(profile)
}

/// Makes the signed change that sets the author's own profile in a platforms registry.
///
/// The change is built on a copy of the document: its actor id is the author's 32
/// public-key bytes, it depends on the document's current heads, its timestamp is
/// `now_ms` (milliseconds since the epoch) and the envelope cites the chain's head
/// record. `document` is not modified: feed the envelope to [`Document::receive`] like
/// any other. Only the fields that differ are written.
///
/// Returns `Ok(None)` if the profile already reads exactly so.
///
/// # Errors
///
/// [`ProfileError::Field`] for a profile over its limits,
/// [`ProfileError::NotPlatformsRegistry`] for another kind of document,
/// [`ProfileError::ClockBehind`] if `now_ms` is before the head record's time (every node
/// would refuse the change), [`ProfileError::Automerge`] if Automerge fails.
pub fn profile_change(
    document: &Document,
    chain: &Chain,
    author_key: &SigningKey,
    profile: &PlatformProfile,
    now_ms: i64,
) -> Result<Option<OwnChange>, ProfileError> {
    if document.id().kind != DocKind::Platforms {
        return Err(ProfileError::NotPlatformsRegistry {
            document: document.id(),
        });
    }
    profile.check()?;
    let key = PlatformId::from(author_key).to_string();
    local::seal_change(
        document.automerge(),
        chain,
        document.id(),
        author_key,
        now_ms,
        |tx| write_profile(tx, &key, profile),
    )
}

/// Writes `profile` under the author's root key, touching only the fields that differ.
fn write_profile(
    tx: &mut Transaction<'_>,
    key: &str,
    profile: &PlatformProfile,
) -> Result<(), ProfileError> {
    let obj = match tx.get(ROOT, key)? {
        Some((Value::Object(ObjType::Map), obj)) => obj,
        _ => tx.put_object(ROOT, key, ObjType::Map)?,
    };
    let unknown: Vec<String> = tx
        .keys(&obj)
        .filter(|k| !FIELDS.contains(&k.as_str()))
        .collect();
    for k in unknown {
        tx.delete(&obj, k.as_str())?;
    }
    for (field, value) in [
        ("display_name", &profile.display_name),
        ("description", &profile.description),
        ("contact", &profile.contact),
    ] {
        let same = matches!(
            tx.get(&obj, field)?,
            Some((Value::Scalar(v), _)) if matches!(v.as_ref(), ScalarValue::Str(s) if s == value.as_str())
        );
        if !same {
            tx.put(&obj, field, value.as_str())?;
        }
    }
    let current_addresses = match tx.get(&obj, "addresses")? {
        Some((Value::Object(ObjType::List), list)) => {
            let mut out = Vec::new();
            for i in 0..tx.length(&list) {
                match tx.get(&list, i)? {
                    Some((Value::Scalar(v), _)) => match v.as_ref() {
                        ScalarValue::Str(s) => out.push(s.to_string()),
                        _ => out.push(String::new()),
                    },
                    _ => out.push(String::new()),
                }
            }
            Some(out)
        }
        _ => None,
    };
    if current_addresses.as_ref() != Some(&profile.addresses) {
        let list = tx.put_object(&obj, "addresses", ObjType::List)?;
        for (i, address) in profile.addresses.iter().enumerate() {
            tx.insert(&list, i, address.as_str())?;
        }
    }
    Ok(())
}
