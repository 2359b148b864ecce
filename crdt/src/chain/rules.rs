//! The validity rules of one record, checked against the state it builds on.
//!
//! Cheap structural checks come first (size, seq, prev, federation), then signatures,
//! then what the body asks for. The first failure is returned, so an edited `seq` reads
//! as a wrong seq rather than as a bad signature.

use std::collections::BTreeSet;

use crate::card::check_text;
use crate::chain::body::{Entity, EntityType, RecordBody, RegulatoryFramework, Role};
use crate::chain::record::Record;
use crate::chain::state::MembershipState;
use crate::error::RecordError;
use crate::ids::AdminKey;
use crate::limits::*;
use crate::timestamp::Timestamp;

/// How many signatures a record must carry to pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SignaturePolicy {
    /// At least the threshold: the record takes effect.
    Complete,
    /// Any number of valid admin signatures, including the issuer's: the record is
    /// waiting for co-signers.
    Pending,
}

/// Checks `record` as the successor of `state` (`None` for a genesis record) and returns
/// how many valid admin signatures it carries.
pub(crate) fn check_record(
    state: Option<&MembershipState>,
    record: &Record,
    policy: SignaturePolicy,
) -> Result<usize, RecordError> {
    let bytes = record.signing_bytes();
    if bytes.len() > MAX_RECORD_BYTES {
        return Err(RecordError::TooLarge {
            size: bytes.len(),
            limit: MAX_RECORD_BYTES,
        });
    }
    check_links(state, record)?;
    check_time("issued_at", record.issued_at)?;
    let (admins, threshold) = match (state, &record.body) {
        (Some(s), _) => (s.admins.as_slice(), s.threshold),
        (
            None,
            RecordBody::Genesis {
                name,
                admins,
                threshold,
                ..
            },
        ) => {
            field("name", check_text(name, MAX_NAME_BYTES, false))?;
            check_admin_set(admins, *threshold)?;
            // Genesis founds the federation: its issuer alone signs it (see docs/membership.md).
            (admins.as_slice(), 1)
        }
        (None, other) => {
            return Err(RecordError::FirstNotGenesis {
                found: other.kind(),
            })
        }
    };
    let have = check_signatures(record, &bytes, admins)?;
    let need = threshold as usize;
    if policy == SignaturePolicy::Complete && have < need {
        return Err(RecordError::NotEnoughSignatures { have, need });
    }
    match state {
        None => check_catalog(None, &genesis_catalog(record)),
        Some(s) => check_body(s, record),
    }?;
    Ok(have)
}

fn genesis_catalog(record: &Record) -> CatalogRef<'_> {
    match &record.body {
        RecordBody::Genesis { catalog, .. } => CatalogRef {
            frameworks: &catalog.frameworks,
            entity_types: &catalog.entity_types,
            entities: &catalog.entities,
        },
        _ => CatalogRef::default(),
    }
}

fn check_links(state: Option<&MembershipState>, record: &Record) -> Result<(), RecordError> {
    let Some(state) = state else {
        if !matches!(record.body, RecordBody::Genesis { .. }) {
            return Err(RecordError::FirstNotGenesis {
                found: record.body.kind(),
            });
        }
        if record.seq != 0 || record.federation.is_some() || record.prev.is_some() {
            return Err(RecordError::MalformedGenesis);
        }
        return Ok(());
    };
    if matches!(record.body, RecordBody::Genesis { .. }) {
        return Err(RecordError::GenesisNotFirst);
    }
    if record.federation != Some(state.federation) {
        return Err(RecordError::WrongFederation {
            expected: state.federation.to_string(),
            found: record
                .federation
                .map_or_else(|| "none".to_string(), |f| f.to_string()),
        });
    }
    let expected = state.seq + 1;
    if record.seq != expected {
        return Err(RecordError::BadSeq {
            expected,
            found: record.seq,
        });
    }
    if record.prev != Some(state.head) {
        return Err(RecordError::BadPrev {
            expected: state.head.to_string(),
            found: record
                .prev
                .map_or_else(|| "none".to_string(), |p| p.to_string()),
        });
    }
    if record.issued_at < state.issued_at {
        return Err(RecordError::TimeWentBackwards {
            previous: state.issued_at.to_string(),
            found: record.issued_at.to_string(),
        });
    }
    Ok(())
}

/// Every signature must verify and come from a distinct admin; the issuer must be one.
fn check_signatures(
    record: &Record,
    bytes: &[u8],
    admins: &[AdminKey],
) -> Result<usize, RecordError> {
    if !admins.contains(&record.issuer) {
        return Err(RecordError::NotAnAdmin {
            admin: record.issuer,
        });
    }
    let mut seen = BTreeSet::new();
    for sig in &record.signatures {
        if !seen.insert(sig.admin) {
            return Err(RecordError::DuplicateSigner { admin: sig.admin });
        }
        if !admins.contains(&sig.admin) {
            return Err(RecordError::NotAnAdmin { admin: sig.admin });
        }
        if !record.signature_valid(sig, bytes) {
            return Err(RecordError::BadSignature { admin: sig.admin });
        }
    }
    if !seen.contains(&record.issuer) {
        return Err(RecordError::IssuerDidNotSign {
            issuer: record.issuer,
        });
    }
    Ok(seen.len())
}

fn check_admin_set(admins: &[AdminKey], threshold: u32) -> Result<(), RecordError> {
    if admins.is_empty() || admins.len() > MAX_ADMINS {
        return Err(RecordError::BadThreshold {
            threshold,
            admins: admins.len(),
            max: MAX_ADMINS,
        });
    }
    if threshold == 0 || threshold as usize > admins.len() {
        return Err(RecordError::BadThreshold {
            threshold,
            admins: admins.len(),
            max: MAX_ADMINS,
        });
    }
    let mut seen = BTreeSet::new();
    for a in admins {
        if !seen.insert(a) {
            return Err(RecordError::BadAdmins {
                problem: format!("{a} is listed twice"),
            });
        }
        a.verifying_key().map_err(|e| RecordError::BadAdmins {
            problem: format!("{a}: {e}"),
        })?;
    }
    Ok(())
}

fn field(name: &str, r: Result<(), String>) -> Result<(), RecordError> {
    r.map_err(|problem| RecordError::Field {
        field: name.to_string(),
        problem,
    })
}

fn check_body(state: &MembershipState, record: &Record) -> Result<(), RecordError> {
    match &record.body {
        RecordBody::Genesis { .. } => Err(RecordError::GenesisNotFirst),
        RecordBody::AddPlatform {
            card,
            role,
            rights,
            expires_at,
        } => {
            card.verify()?;
            if let Some(m) = state.members.get(&card.platform_id) {
                return Err(RecordError::AlreadyAdded {
                    platform: card.platform_id,
                    seq: m.added_seq,
                });
            }
            if *role == Role::Relay && !rights.is_empty() {
                return Err(RecordError::RelayWithRights {
                    rights: rights.to_string(),
                });
            }
            check_expiry(record, expires_at.as_ref())
        }
        RecordBody::UpdatePlatform {
            platform,
            rights,
            expires_at,
            card,
        } => {
            let member = state
                .members
                .get(platform)
                .ok_or(RecordError::UnknownPlatform {
                    platform: *platform,
                })?;
            if let Some(r) = &member.revoked {
                return Err(RecordError::PlatformRevoked {
                    platform: *platform,
                    seq: r.seq,
                });
            }
            if rights.is_none() && expires_at.is_none() && card.is_none() {
                return Err(RecordError::EmptyUpdate);
            }
            if let Some(card) = card {
                card.verify()?;
                if card.platform_id != *platform {
                    return Err(RecordError::CardForAnotherPlatform {
                        platform: *platform,
                        found: card.platform_id,
                    });
                }
            }
            if let Some(r) = rights {
                if member.role == Role::Relay && !r.is_empty() {
                    return Err(RecordError::RelayWithRights {
                        rights: r.to_string(),
                    });
                }
            }
            check_expiry(record, expires_at.and_then(|e| e.as_option()).as_ref())
        }
        RecordBody::RevokePlatform {
            platform,
            frontier,
            reason,
        } => {
            let member = state
                .members
                .get(platform)
                .ok_or(RecordError::UnknownPlatform {
                    platform: *platform,
                })?;
            if let Some(r) = &member.revoked {
                return Err(RecordError::PlatformRevoked {
                    platform: *platform,
                    seq: r.seq,
                });
            }
            if frontier.len() > MAX_FRONTIER_DOCUMENTS {
                return field(
                    "frontier",
                    Err(format!(
                        "lists {} documents, at most {MAX_FRONTIER_DOCUMENTS} allowed",
                        frontier.len()
                    )),
                );
            }
            let mut docs = BTreeSet::new();
            for entry in frontier {
                field(
                    "frontier.document",
                    check_text(&entry.document, MAX_NAME_BYTES, false),
                )?;
                if !docs.insert(&entry.document) {
                    return field(
                        "frontier",
                        Err(format!("lists document `{}` twice", entry.document)),
                    );
                }
                if entry.heads.len() > MAX_FRONTIER_HEADS {
                    return field(
                        "frontier.heads",
                        Err(format!(
                            "lists {} heads for `{}`, at most {MAX_FRONTIER_HEADS} allowed",
                            entry.heads.len(),
                            entry.document
                        )),
                    );
                }
            }
            if let Some(reason) = reason {
                field("reason", check_text(reason, MAX_REASON_BYTES, false))?;
            }
            Ok(())
        }
        RecordBody::RotateAdmin { admins, threshold } => check_admin_set(admins, *threshold),
        RecordBody::Catalog {
            frameworks,
            entity_types,
            entities,
        } => {
            if frameworks.is_empty() && entity_types.is_empty() && entities.is_empty() {
                return field("catalog", Err("must add at least one entry".into()));
            }
            check_catalog(
                Some(state),
                &CatalogRef {
                    frameworks,
                    entity_types,
                    entities,
                },
            )
        }
    }
}

/// Times past [`Timestamp::MAX`] have no RFC 3339 text form, so a chain file could not
/// carry them.
fn check_time(name: &str, t: Timestamp) -> Result<(), RecordError> {
    if t > Timestamp::MAX {
        return field(
            name,
            Err(format!(
                "is {} seconds, after {}",
                t.as_secs(),
                Timestamp::MAX
            )),
        );
    }
    Ok(())
}

fn check_expiry(record: &Record, expires_at: Option<&Timestamp>) -> Result<(), RecordError> {
    if let Some(t) = expires_at {
        check_time("expires_at", *t)?;
    }
    match expires_at {
        Some(t) if *t <= record.issued_at => field(
            "expires_at",
            Err(format!(
                "is {t}, which is not after the record's issued_at {}",
                record.issued_at
            )),
        ),
        _ => Ok(()),
    }
}

#[derive(Default)]
struct CatalogRef<'a> {
    frameworks: &'a [RegulatoryFramework],
    entity_types: &'a [EntityType],
    entities: &'a [Entity],
}

/// Catalog ids are short, lower-case and URL-safe so that projects can cite them.
fn check_catalog_id(kind: &str, id: &str) -> Result<(), RecordError> {
    let ok_chars = id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    let starts_ok = id
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !ok_chars || !starts_ok || id.len() > MAX_CATALOG_ID_BYTES {
        return field(
            &format!("{kind}.id"),
            Err(format!(
                "`{id}` is not a valid id: use 1 to {MAX_CATALOG_ID_BYTES} characters of a-z, 0-9, '.', '_', '-', starting with a letter or digit"
            )),
        );
    }
    Ok(())
}

fn check_catalog(state: Option<&MembershipState>, c: &CatalogRef<'_>) -> Result<(), RecordError> {
    for (kind, n) in [
        ("frameworks", c.frameworks.len()),
        ("entity_types", c.entity_types.len()),
        ("entities", c.entities.len()),
    ] {
        if n > MAX_CATALOG_ENTRIES_PER_RECORD {
            return field(
                kind,
                Err(format!(
                    "lists {n} entries, at most {MAX_CATALOG_ENTRIES_PER_RECORD} per record"
                )),
            );
        }
    }
    let mut ids = BTreeSet::new();
    for f in c.frameworks {
        check_catalog_id("frameworks", &f.id)?;
        field(
            "frameworks.name",
            check_text(&f.name, MAX_NAME_BYTES, false),
        )?;
        if let Some(url) = &f.description_url {
            field(
                "frameworks.description_url",
                check_text(url, MAX_URL_BYTES, false),
            )?;
        }
        if !ids.insert(("framework", f.id.as_str())) {
            return field("frameworks", Err(format!("lists `{}` twice", f.id)));
        }
    }
    for t in c.entity_types {
        check_catalog_id("entity_types", &t.id)?;
        field(
            "entity_types.name",
            check_text(&t.name, MAX_NAME_BYTES, false),
        )?;
        if !ids.insert(("entity_type", t.id.as_str())) {
            return field("entity_types", Err(format!("lists `{}` twice", t.id)));
        }
    }
    for e in c.entities {
        check_catalog_id("entities", &e.id)?;
        field("entities.name", check_text(&e.name, MAX_NAME_BYTES, false))?;
        if !ids.insert(("entity", e.id.as_str())) {
            return field("entities", Err(format!("lists `{}` twice", e.id)));
        }
        let known = ids.contains(&("entity_type", e.entity_type.as_str()))
            || state.is_some_and(|s| s.catalog.entity_types.contains_key(&e.entity_type));
        if !known {
            return Err(RecordError::UnknownEntityType {
                entity: e.id.clone(),
                entity_type: e.entity_type.clone(),
            });
        }
    }
    Ok(())
}
