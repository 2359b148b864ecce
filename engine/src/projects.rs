//! Projects from the engine's side: this platform's changes to them, and the listing the
//! API shows (what it owns and what is shared with it, never anything else).

use std::collections::{BTreeMap, BTreeSet};

use fed_crdt::ids::{DocId, DocKind, FederationId, PlatformId};
use fed_crdt::registry::projects::{
    create_project, delete_project, share_project_with, update_project, Access, Project,
    ProjectView,
};
use serde::{Deserialize, Serialize};

use super::views::View;
use super::{Engine, EngineError};

/// An operation on the projects of a federation.
#[derive(Debug)]
pub enum ProjectOp {
    /// One of the projects this platform owns or that are shared with it.
    Get(DocId),
    /// Create a project owned by this platform.
    Create(Box<Project>),
    /// Change some of a project's details (owner or `write` share); the fields not named
    /// keep their value as of the change, whoever wrote it last.
    Update(DocId, Box<ProjectPatch>),
    /// Share with platforms (`Some`) or stop sharing (`None`), all in one change or
    /// none at all; owner only.
    Share(DocId, Vec<(PlatformId, Option<Access>)>),
    /// Mark deleted; owner only.
    Delete(DocId),
}

/// The details to change; `None` leaves a field as it is. A date given as an empty
/// string removes it.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    /// New code.
    #[serde(default, deserialize_with = "present")]
    pub code: Option<String>,
    /// New name.
    #[serde(default, deserialize_with = "present")]
    pub name: Option<String>,
    /// New description.
    #[serde(default, deserialize_with = "present")]
    pub description: Option<String>,
    /// New first day (`""` to remove).
    #[serde(default, deserialize_with = "present")]
    pub start_date: Option<String>,
    /// New last day (`""` to remove).
    #[serde(default, deserialize_with = "present")]
    pub end_date: Option<String>,
    /// New list of framework ids.
    #[serde(default, deserialize_with = "present")]
    pub regulatory_frameworks: Option<Vec<String>>,
    /// New list of entity ids.
    #[serde(default, deserialize_with = "present")]
    pub entities: Option<Vec<String>>,
    /// New list of people.
    #[serde(default, deserialize_with = "present")]
    pub members: Option<Vec<fed_crdt::registry::projects::ProjectMember>>,
}

impl ProjectOp {
    /// Whether the operation writes (so needs an active membership).
    pub fn writes(&self) -> bool {
        !matches!(self, ProjectOp::Get(_))
    }
}

/// A patch field that is given must hold a value: `null` is refused (naming the field)
/// rather than read as "leave it as it is", which would answer 200 and do nothing.
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

impl ProjectPatch {
    /// `current` with the patch applied.
    pub fn apply(self, current: &Project) -> Project {
        let date = |new: Option<String>, old: &Option<String>| match new {
            Some(d) if d.is_empty() => None,
            Some(d) => Some(d),
            None => old.clone(),
        };
        Project {
            code: self.code.unwrap_or_else(|| current.code.clone()),
            name: self.name.unwrap_or_else(|| current.name.clone()),
            description: self
                .description
                .unwrap_or_else(|| current.description.clone()),
            start_date: date(self.start_date, &current.start_date),
            end_date: date(self.end_date, &current.end_date),
            regulatory_frameworks: self
                .regulatory_frameworks
                .unwrap_or_else(|| current.regulatory_frameworks.clone()),
            entities: self.entities.unwrap_or_else(|| current.entities.clone()),
            members: self.members.unwrap_or_else(|| current.members.clone()),
        }
    }
}

/// A project as the API shows it to this platform: what the node answers and what
/// `fedctl` reads.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ProjectEntry {
    /// The project's document.
    pub id: DocId,
    /// The owner.
    pub owner: PlatformId,
    /// The owner's name, from its identity card in the chain.
    pub owner_name: String,
    /// This platform's access: `owner`, `write` or `read`.
    pub access: ProjectAccess,
    /// The details.
    #[serde(flatten)]
    pub project: Project,
    /// The platforms it is shared with.
    pub shares: Vec<ShareEntry>,
    /// Set once the owner deleted it.
    pub deleted: bool,
    /// Other projects visible here with the same code (made concurrently on two nodes):
    /// both sides show the conflict until one is renamed or deleted.
    pub conflicts: Vec<DocId>,
    /// The document's heads here: two nodes showing the same heads show the same project.
    pub heads: Vec<fed_crdt::ids::ChangeHash>,
}

/// This platform's access to a project, as the API names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProjectAccess {
    /// It created the project.
    Owner,
    /// It may edit the details.
    Write,
    /// It may read them.
    Read,
}

impl ProjectAccess {
    /// The access as the API writes it.
    pub fn name(self) -> &'static str {
        match self {
            ProjectAccess::Owner => "owner",
            ProjectAccess::Write => "write",
            ProjectAccess::Read => "read",
        }
    }
}

/// One platform a project is shared with.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShareEntry {
    /// The platform.
    pub platform_id: PlatformId,
    /// Its name, from its identity card.
    pub name: String,
    /// `read` or `write`.
    pub access: Access,
}

/// This platform's access to a project, if any.
fn access_of(view: &ProjectView, me: &PlatformId) -> Option<ProjectAccess> {
    if view.owner == *me {
        Some(ProjectAccess::Owner)
    } else {
        view.shares.get(me).map(|a| match a {
            Access::Read => ProjectAccess::Read,
            Access::Write => ProjectAccess::Write,
        })
    }
}

impl Engine {
    pub(super) fn projects(
        &mut self,
        federation: FederationId,
        op: ProjectOp,
    ) -> Result<Box<ProjectEntry>, EngineError> {
        let chain = self
            .federations
            .get(&federation)
            .ok_or(EngineError::UnknownFederation(federation))?;
        let now_ms = self.clock.millis;
        let target = match &op {
            ProjectOp::Update(id, _) | ProjectOp::Share(id, _) | ProjectOp::Delete(id) => Some(*id),
            _ => None,
        };
        let mut grants = Vec::new();
        let mut unshared = false;
        let envelope = match op {
            ProjectOp::Get(id) => return self.project_entry(federation, id),
            ProjectOp::Create(project) => {
                self.check_code_free(federation, &project.code, None)?;
                let nonce: [u8; 16] = crate::random(&mut self.rng);
                let (id, env) = create_project(chain, &self.signing, nonce, &project, now_ms)
                    .map_err(|e| EngineError::Invalid(e.to_string()))?;
                let me = self.me();
                grants.push(self.start_epoch(federation, id, None, &BTreeSet::from([me]))?);
                Some(env)
            }
            ProjectOp::Update(id, patch) => {
                let doc = self.readable_project(
                    federation,
                    id,
                    &[Some(ProjectAccess::Owner), Some(ProjectAccess::Write)],
                )?;
                self.check_not_deleted(id)?;
                let current = match self.documents.view(&id) {
                    Some(View::Project(v)) => v.project.clone(),
                    _ => return Err(EngineError::NotFound(format!("project {id}"))),
                };
                let project = patch.apply(&current);
                if project.code != current.code {
                    self.check_code_free(federation, &project.code, Some(id))?;
                }
                update_project(doc, chain, &self.signing, &project, now_ms)
                    .map_err(|e| EngineError::Invalid(e.to_string()))?
            }
            ProjectOp::Share(id, shares) => {
                let doc = self.readable_project(federation, id, &[Some(ProjectAccess::Owner)])?;
                self.check_not_deleted(id)?;
                // Every recipient is checked before anything is signed: one bad
                // recipient refuses the whole call.
                let now = self.clock.timestamp();
                for (i, (platform, access)) in shares.iter().enumerate() {
                    if access.is_some() && !chain.state().is_member(platform, now) {
                        return Err(EngineError::Invalid(format!(
                            "field `recipients[{i}].platform_id`: platform {platform} is not an active member of the federation"
                        )));
                    }
                }
                let env = share_project_with(doc, chain, &self.signing, &shares, now_ms)
                    .map_err(|e| EngineError::Invalid(e.to_string()))?;
                if env.is_some() {
                    let parties = self.parties(&id);
                    for (platform, access) in &shares {
                        match access {
                            // A new party reads the whole history: every past epoch.
                            Some(_) if !parties.contains(platform) => {
                                grants.extend(self.extend_epochs(federation, id, *platform)?);
                            }
                            None => unshared |= parties.contains(platform),
                            Some(_) => {}
                        }
                    }
                }
                env
            }
            ProjectOp::Delete(id) => {
                let doc = self.readable_project(federation, id, &[Some(ProjectAccess::Owner)])?;
                delete_project(doc, chain, &self.signing, now_ms)
                    .map_err(|e| EngineError::Invalid(e.to_string()))?
            }
        };
        // No envelope: the project already read as asked; answer it as it is.
        let (id, change) = self.commit_or_keep(envelope, target, grants)?;
        if let (true, Some(change)) = (unshared, change) {
            // Whatever is written after the unshare is sealed under a key the platform
            // that left does not get.
            let parties = self.parties(&id);
            let grant = self.start_epoch(federation, id, Some(change), &parties)?;
            let audience = self.audience(&id);
            self.push(federation, &audience, Vec::new(), vec![grant]);
        }
        self.project_entry(federation, id)
    }

    /// Refuses to write to a deleted project: 409, before anything is signed.
    fn check_not_deleted(&self, id: DocId) -> Result<(), EngineError> {
        match self.documents.view(&id) {
            Some(View::Project(v)) if v.deleted => Err(EngineError::Deleted(format!(
                "project {id} is deleted; it can be read but no longer changed or shared"
            ))),
            _ => Ok(()),
        }
    }

    /// Refuses a code that a project visible here (other than `except`) already has.
    fn check_code_free(
        &self,
        federation: FederationId,
        code: &str,
        except: Option<DocId>,
    ) -> Result<(), EngineError> {
        // The projects the listing shows (visible here, not deleted), read from the
        // views without building the listing: this runs on every create.
        let me = self.me();
        let taken = self
            .documents
            .views(federation)
            .find_map(|(id, view)| match view {
                View::Project(v)
                    if !v.deleted
                        && Some(*id) != except
                        && v.project.code == code
                        && access_of(v, &me).is_some() =>
                {
                    Some((*id, v.owner))
                }
                _ => None,
            });
        match taken {
            Some((id, owner)) => Err(EngineError::Conflict(format!(
                "field `code`: `{code}` is already used by project {id} (owner {})",
                self.member_name(&federation, &owner)
            ))),
            None => Ok(()),
        }
    }

    /// The project's document, if this platform's access is one of `allowed`.
    fn readable_project(
        &self,
        federation: FederationId,
        id: DocId,
        allowed: &[Option<ProjectAccess>],
    ) -> Result<&fed_crdt::registry::Document, EngineError> {
        let me = self.me();
        let view = match self.documents.view(&id) {
            Some(View::Project(v)) if self.in_federation(&id, federation) => v,
            _ => return Err(EngineError::NotFound(format!("project {id}"))),
        };
        let access = access_of(view, &me);
        if access.is_none() {
            return Err(EngineError::NotFound(format!("project {id}")));
        }
        if !allowed.contains(&access) {
            return Err(EngineError::Forbidden(format!(
                "this platform's access to project {id} is `{}`; this needs {}",
                access.map_or("none", ProjectAccess::name),
                allowed
                    .iter()
                    .flatten()
                    .map(|a| format!("`{}`", a.name()))
                    .collect::<Vec<_>>()
                    .join(" or ")
            )));
        }
        self.documents
            .get(&id)
            .ok_or_else(|| EngineError::NotFound(format!("project {id}")))
    }

    fn in_federation(&self, id: &DocId, federation: FederationId) -> bool {
        self.documents
            .get(id)
            .is_some_and(|d| d.federation() == federation)
    }

    fn project_entry(
        &self,
        federation: FederationId,
        id: DocId,
    ) -> Result<Box<ProjectEntry>, EngineError> {
        let not_found = || EngineError::NotFound(format!("project {id}"));
        if id.kind != DocKind::Project {
            return Err(EngineError::NotFound(format!("{id} is not a project")));
        }
        if self.federations.get(&federation).is_none() || !self.in_federation(&id, federation) {
            return Err(not_found());
        }
        let me = self.me();
        let (view, access) = match self.documents.view(&id) {
            Some(View::Project(v)) => (v, access_of(v, &me).ok_or_else(not_found)?),
            _ => return Err(not_found()),
        };
        let mut entry = self.entry_of(federation, &id, view, access);
        if !entry.deleted {
            // The other live projects with its code: one pass over the views, no heads.
            entry.conflicts = self
                .documents
                .views(federation)
                .filter_map(|(other, view)| match view {
                    View::Project(v) if *other != id && !v.deleted => Some((other, v)),
                    _ => None,
                })
                .filter(|(_, v)| {
                    v.project.code == entry.project.code && access_of(v, &me).is_some()
                })
                .map(|(other, _)| *other)
                .collect();
        }
        Ok(Box::new(entry))
    }

    /// The projects this platform can read, deleted ones left out.
    pub(super) fn list_projects(&self, federation: FederationId) -> Vec<ProjectEntry> {
        self.list_projects_with_deleted(federation)
            .into_iter()
            .filter(|p| !p.deleted)
            .collect()
    }

    /// One project as this platform reads it, without its conflicts.
    fn entry_of(
        &self,
        federation: FederationId,
        id: &DocId,
        v: &ProjectView,
        access: ProjectAccess,
    ) -> ProjectEntry {
        let name = |p: &PlatformId| self.member_name(&federation, p);
        ProjectEntry {
            id: *id,
            owner: v.owner,
            owner_name: name(&v.owner),
            access,
            project: v.project.clone(),
            shares: v
                .shares
                .iter()
                .map(|(p, a)| ShareEntry {
                    platform_id: *p,
                    name: name(p),
                    access: *a,
                })
                .collect(),
            deleted: v.deleted,
            conflicts: Vec::new(),
            heads: self
                .documents
                .get(id)
                .map(|d| d.heads())
                .unwrap_or_default(),
        }
    }

    fn list_projects_with_deleted(&self, federation: FederationId) -> Vec<ProjectEntry> {
        let me = self.me();
        if self.federations.get(&federation).is_none() {
            return Vec::new();
        }
        let mut entries: Vec<ProjectEntry> = self
            .documents
            .views(federation)
            .filter_map(|(id, view)| match view {
                View::Project(v) => access_of(v, &me).map(|access| (id, v, access)),
                View::Export(_) => None,
            })
            .map(|(id, v, access)| self.entry_of(federation, id, v, access))
            .collect();
        let mut by_code: BTreeMap<String, Vec<DocId>> = BTreeMap::new();
        for e in entries.iter().filter(|e| !e.deleted) {
            by_code
                .entry(e.project.code.clone())
                .or_default()
                .push(e.id);
        }
        for e in entries.iter_mut().filter(|e| !e.deleted) {
            if let Some(ids) = by_code.get(&e.project.code) {
                e.conflicts = ids.iter().filter(|i| **i != e.id).copied().collect();
            }
        }
        entries
    }
}
