//! The membership state: what the chain says at one record, obtained by folding it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::card::IdentityCard;
use crate::chain::body::{
    Entity, EntityType, FrontierEntry, RecordBody, RegulatoryFramework, Right, Rights, Role,
};
use crate::chain::record::Record;
use crate::ids::{AdminKey, FederationId, PlatformId, RecordHash};
use crate::timestamp::Timestamp;

/// How a revocation was recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Revocation {
    /// The revoking record.
    pub seq: u64,
    /// When it was issued.
    pub at: Timestamp,
    /// The platform's last accepted changes per document.
    pub frontier: Vec<FrontierEntry>,
    /// Why, if the administrator said.
    pub reason: Option<String>,
}

/// One platform or relay as the chain describes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Member {
    /// Its identity card (the latest one signed into the chain).
    pub card: IdentityCard,
    /// Platform or relay.
    pub role: Role,
    /// What it may do while active.
    pub rights: Rights,
    /// When its membership ends, if ever.
    pub expires_at: Option<Timestamp>,
    /// The record that admitted it.
    pub added_seq: u64,
    /// The last record that changed it.
    pub updated_seq: u64,
    /// Set once revoked; a revoked platform never comes back under the same key.
    pub revoked: Option<Revocation>,
}

/// Whether a platform is a member at a given time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    /// A member now.
    Active,
    /// Its `expires_at` has passed.
    Expired,
    /// Revoked by the administrator.
    Revoked,
    /// Never admitted.
    Unknown,
}

impl MemberStatus {
    /// The status's name.
    pub fn name(self) -> &'static str {
        match self {
            MemberStatus::Active => "active",
            MemberStatus::Expired => "expired",
            MemberStatus::Revoked => "revoked",
            MemberStatus::Unknown => "unknown",
        }
    }
}

impl Member {
    /// The member's status at `now`. Expiry is exclusive: at `expires_at` it is over.
    pub fn status(&self, now: Timestamp) -> MemberStatus {
        if self.revoked.is_some() {
            MemberStatus::Revoked
        } else if self.expires_at.is_some_and(|t| now >= t) {
            MemberStatus::Expired
        } else {
            MemberStatus::Active
        }
    }
}

/// Reference data that only the administrators manage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Catalog {
    /// Regulatory frameworks by id.
    pub frameworks: BTreeMap<String, RegulatoryFramework>,
    /// Entity types by id.
    pub entity_types: BTreeMap<String, EntityType>,
    /// Entities by id.
    pub entities: BTreeMap<String, Entity>,
}

impl Catalog {
    fn apply(
        &mut self,
        frameworks: &[RegulatoryFramework],
        entity_types: &[EntityType],
        entities: &[Entity],
    ) {
        for f in frameworks {
            self.frameworks.insert(f.id.clone(), f.clone());
        }
        for t in entity_types {
            self.entity_types.insert(t.id.clone(), t.clone());
        }
        for e in entities {
            self.entities.insert(e.id.clone(), e.clone());
        }
    }
}

/// The membership state at one record of the chain.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MembershipState {
    /// The federation.
    pub federation: FederationId,
    /// Its display name.
    pub name: String,
    /// The seq of the record this state is at.
    pub seq: u64,
    /// The hash of that record.
    pub head: RecordHash,
    /// When that record was issued.
    pub issued_at: Timestamp,
    /// The administrators.
    pub admins: Vec<AdminKey>,
    /// Signatures needed on a record.
    pub threshold: u32,
    /// Every platform and relay ever admitted, revoked ones included.
    pub members: BTreeMap<PlatformId, Member>,
    /// Regulatory frameworks, entity types and entities.
    pub catalog: Catalog,
}

impl MembershipState {
    /// The state right after a (valid) genesis record.
    pub(crate) fn from_genesis(record: &Record) -> Option<MembershipState> {
        let RecordBody::Genesis {
            name,
            admins,
            threshold,
            catalog,
        } = &record.body
        else {
            return None;
        };
        let mut state = MembershipState {
            federation: record.genesis_federation_id(),
            name: name.clone(),
            seq: 0,
            head: record.hash(),
            issued_at: record.issued_at,
            admins: admins.clone(),
            threshold: *threshold,
            members: BTreeMap::new(),
            catalog: Catalog::default(),
        };
        state.catalog.apply(
            &catalog.frameworks,
            &catalog.entity_types,
            &catalog.entities,
        );
        Some(state)
    }

    /// Applies a record that has been checked against this state.
    pub(crate) fn apply(&mut self, record: &Record) {
        self.apply_hashed(record, record.hash());
    }

    /// [`MembershipState::apply`] for a record whose hash is known.
    pub(crate) fn apply_hashed(&mut self, record: &Record, hash: RecordHash) {
        let seq = record.seq;
        match &record.body {
            RecordBody::Genesis { .. } => {}
            RecordBody::AddPlatform {
                card,
                role,
                rights,
                expires_at,
            } => {
                self.members.insert(
                    card.platform_id,
                    Member {
                        card: card.clone(),
                        role: *role,
                        rights: rights.clone(),
                        expires_at: *expires_at,
                        added_seq: seq,
                        updated_seq: seq,
                        revoked: None,
                    },
                );
            }
            RecordBody::UpdatePlatform {
                platform,
                rights,
                expires_at,
                card,
            } => {
                if let Some(m) = self.members.get_mut(platform) {
                    if let Some(r) = rights {
                        m.rights = r.clone();
                    }
                    if let Some(e) = expires_at {
                        m.expires_at = e.as_option();
                    }
                    if let Some(c) = card {
                        m.card = c.clone();
                    }
                    m.updated_seq = seq;
                }
            }
            RecordBody::RevokePlatform {
                platform,
                frontier,
                reason,
            } => {
                if let Some(m) = self.members.get_mut(platform) {
                    m.revoked = Some(Revocation {
                        seq,
                        at: record.issued_at,
                        frontier: frontier.clone(),
                        reason: reason.clone(),
                    });
                    m.updated_seq = seq;
                }
            }
            RecordBody::RotateAdmin { admins, threshold } => {
                self.admins = admins.clone();
                self.threshold = *threshold;
            }
            RecordBody::Catalog {
                frameworks,
                entity_types,
                entities,
            } => self.catalog.apply(frameworks, entity_types, entities),
        }
        self.seq = seq;
        self.head = hash;
        self.issued_at = record.issued_at;
    }

    /// Whether `admin` is an administrator in this state.
    pub fn is_admin(&self, admin: &AdminKey) -> bool {
        self.admins.contains(admin)
    }

    /// A platform's status at `now`.
    pub fn status(&self, platform: &PlatformId, now: Timestamp) -> MemberStatus {
        self.members
            .get(platform)
            .map_or(MemberStatus::Unknown, |m| m.status(now))
    }

    /// Whether `platform` is an active member at `now`.
    pub fn is_member(&self, platform: &PlatformId, now: Timestamp) -> bool {
        self.status(platform, now) == MemberStatus::Active
    }

    /// Whether `platform` is an active member at `now` holding `right`.
    pub fn has_right(&self, platform: &PlatformId, right: Right, now: Timestamp) -> bool {
        self.members
            .get(platform)
            .is_some_and(|m| m.status(now) == MemberStatus::Active && m.rights.contains(right))
    }

    /// The active members at `now`.
    pub fn active_members(&self, now: Timestamp) -> impl Iterator<Item = (&PlatformId, &Member)> {
        self.members
            .iter()
            .filter(move |(_, m)| m.status(now) == MemberStatus::Active)
    }
}
