//! What a membership record says: the body of each kind of record, with the rights,
//! roles and catalog entries it grants.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::canon::CanonWriter;
use crate::card::IdentityCard;
use crate::ids::{AdminKey, ChangeHash, PlatformId};
use crate::timestamp::Timestamp;

/// One right a platform may hold in a federation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Right {
    /// Receive the federation's registries.
    Read,
    /// Create and edit projects.
    WriteProjects,
    /// Send export requests to other platforms.
    RequestExports,
    /// Answer export requests addressed to this platform.
    AnswerExports,
}

impl Right {
    /// Every right, in canonical order.
    pub const ALL: [Right; 4] = [
        Right::Read,
        Right::WriteProjects,
        Right::RequestExports,
        Right::AnswerExports,
    ];

    /// The right's name as written in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Right::Read => "read",
            Right::WriteProjects => "write_projects",
            Right::RequestExports => "request_exports",
            Right::AnswerExports => "answer_exports",
        }
    }

    fn code(self) -> u8 {
        match self {
            Right::Read => 1,
            Right::WriteProjects => 2,
            Right::RequestExports => 3,
            Right::AnswerExports => 4,
        }
    }
}

/// An unknown right name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown right `{0}`; allowed: read, write_projects, request_exports, answer_exports")]
pub struct UnknownRight(pub String);

impl FromStr for Right {
    type Err = UnknownRight;
    /// Accepts `write_projects` and `write-projects` alike (command lines prefer dashes).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let normal = s.trim().replace('-', "_");
        Right::ALL
            .into_iter()
            .find(|r| r.name() == normal)
            .ok_or_else(|| UnknownRight(s.to_string()))
    }
}

/// A set of rights, kept sorted and without repeats so that it has one canonical form.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Rights(Vec<Right>);

impl Rights {
    /// Every right.
    pub fn all() -> Rights {
        Rights(Right::ALL.to_vec())
    }

    /// No right (what a relay has).
    pub fn none() -> Rights {
        Rights(Vec::new())
    }

    /// Whether the set holds `right`.
    pub fn contains(&self, right: Right) -> bool {
        self.0.contains(&right)
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The rights, in canonical order.
    pub fn iter(&self) -> impl Iterator<Item = Right> + '_ {
        self.0.iter().copied()
    }

    pub(crate) fn encode(&self, w: &mut CanonWriter) {
        w.list(&self.0, |w, r| {
            w.u8(r.code());
        });
    }
}

impl FromIterator<Right> for Rights {
    fn from_iter<I: IntoIterator<Item = Right>>(iter: I) -> Self {
        let mut v: Vec<Right> = iter.into_iter().collect();
        v.sort();
        v.dedup();
        Rights(v)
    }
}

impl FromStr for Rights {
    type Err = UnknownRight;
    /// Parses a comma-separated list; `all` and `none` are accepted too.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "all" => Ok(Rights::all()),
            "none" | "" => Ok(Rights::none()),
            list => list.split(',').map(Right::from_str).collect(),
        }
    }
}

impl fmt::Display for Rights {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("none");
        }
        let names: Vec<&str> = self.0.iter().map(|r| r.name()).collect();
        f.write_str(&names.join(","))
    }
}

impl Serialize for Rights {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<'de> Deserialize<'de> for Rights {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Vec::<Right>::deserialize(d)?;
        if v.windows(2).any(|w| w[0] >= w[1]) {
            return Err(serde::de::Error::custom(
                "rights must be listed once each, in the order read, write_projects, request_exports, answer_exports",
            ));
        }
        Ok(Rights(v))
    }
}

/// What a member does in the federation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A platform: reads and writes registries according to its rights.
    Platform,
    /// A relay: stores and forwards ciphertext, holds no key and no right.
    Relay,
}

impl Role {
    /// The role's name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Platform => "platform",
            Role::Relay => "relay",
        }
    }
}

impl FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "platform" => Ok(Role::Platform),
            "relay" => Ok(Role::Relay),
            other => Err(format!("unknown role `{other}`; allowed: platform, relay")),
        }
    }
}

/// A platform's expiry, as changed by an update.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    /// The membership no longer expires.
    Never,
    /// The membership ends at this time.
    At(Timestamp),
}

impl Expiry {
    /// The expiry as an optional time.
    pub fn as_option(self) -> Option<Timestamp> {
        match self {
            Expiry::Never => None,
            Expiry::At(t) => Some(t),
        }
    }
}

impl FromStr for Expiry {
    type Err = crate::error::ParseIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "never" {
            Ok(Expiry::Never)
        } else {
            s.parse().map(Expiry::At)
        }
    }
}

impl fmt::Display for Expiry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expiry::Never => f.write_str("never"),
            Expiry::At(t) => t.fmt(f),
        }
    }
}

impl Serialize for Expiry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Expiry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A regulatory framework projects can be conducted under (e.g. an MR-004 declaration).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegulatoryFramework {
    /// Stable id, `[a-z0-9._-]`, referenced by projects.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Where the framework is described.
    pub description_url: Option<String>,
}

/// A kind of entity (hospital, laboratory, company, ...).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntityType {
    /// Stable id, `[a-z0-9._-]`.
    pub id: String,
    /// Display name.
    pub name: String,
}

/// An organisation that can be involved in projects.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entity {
    /// Stable id, `[a-z0-9._-]`, referenced by projects.
    pub id: String,
    /// Display name.
    pub name: String,
    /// The id of its [`EntityType`].
    pub entity_type: String,
}

/// Catalog entries added (or replaced, by id) by one record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CatalogEntries {
    /// Regulatory frameworks.
    #[serde(default)]
    pub frameworks: Vec<RegulatoryFramework>,
    /// Entity types.
    #[serde(default)]
    pub entity_types: Vec<EntityType>,
    /// Entities.
    #[serde(default)]
    pub entities: Vec<Entity>,
}

impl CatalogEntries {
    /// Whether nothing is listed.
    pub fn is_empty(&self) -> bool {
        self.frameworks.is_empty() && self.entity_types.is_empty() && self.entities.is_empty()
    }

    fn encode(&self, w: &mut CanonWriter) {
        encode_catalog(w, &self.frameworks, &self.entity_types, &self.entities);
    }
}

fn encode_catalog(
    w: &mut CanonWriter,
    frameworks: &[RegulatoryFramework],
    entity_types: &[EntityType],
    entities: &[Entity],
) {
    w.list(frameworks, |w, f| {
        w.str(&f.id)
            .str(&f.name)
            .opt(f.description_url.as_ref(), |w, u| {
                w.str(u);
            });
    });
    w.list(entity_types, |w, t| {
        w.str(&t.id).str(&t.name);
    });
    w.list(entities, |w, e| {
        w.str(&e.id).str(&e.name).str(&e.entity_type);
    });
}

/// The last accepted changes of a revoked platform in one document, as the administrator
/// saw them; its changes outside this frontier are refused everywhere.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontierEntry {
    /// The document id.
    pub document: String,
    /// The platform's last accepted change hashes in that document.
    pub heads: Vec<ChangeHash>,
}

/// What a record does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum RecordBody {
    /// Creates the federation.
    Genesis {
        /// The federation's display name.
        name: String,
        /// The administrators' public keys.
        admins: Vec<AdminKey>,
        /// How many admin signatures each later record needs.
        threshold: u32,
        /// The initial catalog.
        catalog: CatalogEntries,
    },
    /// Admits a platform or relay.
    AddPlatform {
        /// The platform's self-signed identity card.
        card: IdentityCard,
        /// Platform or relay.
        role: Role,
        /// What it may do.
        rights: Rights,
        /// When the membership ends, if ever.
        expires_at: Option<Timestamp>,
    },
    /// Changes a member's rights, expiry or card (new addresses, rotated encryption key).
    UpdatePlatform {
        /// The member.
        platform: PlatformId,
        /// New rights, if they change.
        rights: Option<Rights>,
        /// New expiry, if it changes.
        expires_at: Option<Expiry>,
        /// New identity card, if it changes.
        card: Option<IdentityCard>,
    },
    /// Removes a member for good.
    RevokePlatform {
        /// The member.
        platform: PlatformId,
        /// Its last accepted changes per document.
        frontier: Vec<FrontierEntry>,
        /// Why, for the record.
        reason: Option<String>,
    },
    /// Replaces the administrator set and threshold.
    RotateAdmin {
        /// The new administrators.
        admins: Vec<AdminKey>,
        /// The new threshold.
        threshold: u32,
    },
    /// Adds or replaces reference data.
    Catalog {
        /// Regulatory frameworks.
        #[serde(default)]
        frameworks: Vec<RegulatoryFramework>,
        /// Entity types.
        #[serde(default)]
        entity_types: Vec<EntityType>,
        /// Entities.
        #[serde(default)]
        entities: Vec<Entity>,
    },
}

impl RecordBody {
    /// The record kind, as written in the `type` field.
    pub fn kind(&self) -> &'static str {
        match self {
            RecordBody::Genesis { .. } => "genesis",
            RecordBody::AddPlatform { .. } => "add_platform",
            RecordBody::UpdatePlatform { .. } => "update_platform",
            RecordBody::RevokePlatform { .. } => "revoke_platform",
            RecordBody::RotateAdmin { .. } => "rotate_admin",
            RecordBody::Catalog { .. } => "catalog",
        }
    }

    /// A `Catalog` body from a set of entries.
    pub fn catalog(entries: CatalogEntries) -> RecordBody {
        RecordBody::Catalog {
            frameworks: entries.frameworks,
            entity_types: entries.entity_types,
            entities: entries.entities,
        }
    }

    pub(crate) fn encode(&self, w: &mut CanonWriter) {
        fn admins(w: &mut CanonWriter, admins: &[AdminKey], threshold: u32) {
            w.list(admins, |w, a| {
                w.bytes(a.as_bytes());
            })
            .u32(threshold);
        }
        fn time(w: &mut CanonWriter, t: &Timestamp) {
            w.u64(t.as_secs());
        }
        match self {
            RecordBody::Genesis {
                name,
                admins: list,
                threshold,
                catalog,
            } => {
                w.u8(1).str(name);
                admins(w, list, *threshold);
                catalog.encode(w);
            }
            RecordBody::AddPlatform {
                card,
                role,
                rights,
                expires_at,
            } => {
                w.u8(2);
                card.encode(w);
                w.str(role.name());
                rights.encode(w);
                w.opt(expires_at.as_ref(), time);
            }
            RecordBody::UpdatePlatform {
                platform,
                rights,
                expires_at,
                card,
            } => {
                w.u8(3).bytes(platform.as_bytes());
                w.opt(rights.as_ref(), |w, r| r.encode(w));
                w.opt(expires_at.as_ref(), |w, e| {
                    w.opt(e.as_option().as_ref(), time);
                });
                w.opt(card.as_ref(), |w, c| c.encode(w));
            }
            RecordBody::RevokePlatform {
                platform,
                frontier,
                reason,
            } => {
                w.u8(4).bytes(platform.as_bytes());
                w.list(frontier, |w, f| {
                    w.str(&f.document).list(&f.heads, |w, h| {
                        w.bytes(h.as_bytes());
                    });
                });
                w.opt(reason.as_ref(), |w, r| {
                    w.str(r);
                });
            }
            RecordBody::RotateAdmin {
                admins: list,
                threshold,
            } => {
                w.u8(5);
                admins(w, list, *threshold);
            }
            RecordBody::Catalog {
                frameworks,
                entity_types,
                entities,
            } => {
                w.u8(6);
                encode_catalog(w, frameworks, entity_types, entities);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rights_parse_from_command_line_forms() {
        let r: Rights = "write-projects,read".parse().unwrap();
        assert_eq!(r.to_string(), "read,write_projects");
        assert_eq!("all".parse::<Rights>().unwrap(), Rights::all());
        assert!("none".parse::<Rights>().unwrap().is_empty());
        let err = "read,admin".parse::<Rights>().unwrap_err();
        assert!(err.to_string().contains("`admin`"), "{err}");
    }

    #[test]
    fn rights_json_must_be_canonical() {
        assert!(serde_json::from_str::<Rights>(r#"["read","write_projects"]"#).is_ok());
        assert!(serde_json::from_str::<Rights>(r#"["write_projects","read"]"#).is_err());
        assert!(serde_json::from_str::<Rights>(r#"["read","read"]"#).is_err());
    }

    #[test]
    fn unknown_body_fields_are_refused() {
        let json = r#"{"type":"rotate_admin","admins":[],"threshold":1,"note":"x"}"#;
        assert!(serde_json::from_str::<RecordBody>(json).is_err());
        let json = r#"{"type":"rotate_admin","admins":[],"threshold":1}"#;
        assert!(serde_json::from_str::<RecordBody>(json).is_ok());
    }

    #[test]
    fn expiry_text() {
        assert_eq!("never".parse::<Expiry>().unwrap(), Expiry::Never);
        assert_eq!(
            "2027-01-01T00:00:00Z"
                .parse::<Expiry>()
                .unwrap()
                .to_string(),
            "2027-01-01T00:00:00Z"
        );
        assert!("soon".parse::<Expiry>().is_err());
    }
}
