//! Export requests from the engine's side: this platform's requests and transitions, and
//! the listing the API shows (requests this platform makes or is asked to serve).

use fed_crdt::ids::{DocId, DocKind, FederationId, PlatformId};
use fed_crdt::registry::exports::{
    create_export, transition_export, update_export, who_may, ExportRequest, ExportState,
    ExportView, Party, Transition,
};
use serde::{Deserialize, Serialize};

use super::views::View;
use super::{Engine, EngineError};

/// An operation on the export requests of a federation.
#[derive(Debug)]
pub enum ExportOp {
    /// One request this platform makes or serves.
    Get(DocId),
    /// Ask `provider` for a dataset, for a project both can read (starts in `draft`).
    Create {
        /// The platform holding the data.
        provider: PlatformId,
        /// The project.
        project: DocId,
        /// What is asked for.
        request: Box<ExportRequest>,
    },
    /// Amend the request (requester, in `draft` or `information_requested`).
    Update(DocId, Box<ExportRequest>),
    /// Move the request along its workflow.
    Transition(DocId, Box<Transition>),
}

/// An export request as the API shows it to this platform: what the node answers and
/// what `fedctl` reads.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ExportEntry {
    /// The request's document.
    pub id: DocId,
    /// This platform's role: `requester` or `provider`.
    pub role: Party,
    /// The platform asking.
    pub requester: PlatformId,
    /// Its name, from its identity card.
    pub requester_name: String,
    /// The platform holding the data.
    pub provider: PlatformId,
    /// Its name, from its identity card.
    pub provider_name: String,
    /// The project the data is for.
    pub project: DocId,
    /// The project's code, if this platform can read the project.
    pub project_code: Option<String>,
    /// What is asked for.
    pub request: ExportRequest,
    /// Where the workflow stands.
    pub state: ExportState,
    /// The conditions of an approval with conditions.
    pub conditions: Option<String>,
    /// The delivery reference, once delivered.
    pub delivery_reference: Option<String>,
    /// The transitions this platform may make now.
    pub next: Vec<ExportState>,
    /// Every transition, in the order every node reads them.
    pub history: Vec<HistoryItem>,
    /// The document's heads here: two nodes showing the same heads show the same request.
    pub heads: Vec<fed_crdt::ids::ChangeHash>,
}

/// One transition of a request's history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HistoryItem {
    /// The state its author saw (`None` for the creation).
    pub from: Option<ExportState>,
    /// The state it moves to.
    pub to: ExportState,
    /// Who made it.
    pub author: PlatformId,
    /// When, in milliseconds since the epoch (the author's clock).
    pub at_ms: i64,
    /// The author's comment (the reason of a rejection).
    pub comment: String,
    /// Conditions of an approval with conditions.
    pub conditions: String,
    /// Delivery reference of a delivery.
    pub reference: String,
    /// False when a concurrent transition that wins on safety superseded it.
    pub applied: bool,
}

fn role_of(view: &ExportView, me: &PlatformId) -> Option<Party> {
    if view.requester == *me {
        Some(Party::Requester)
    } else if view.provider == *me {
        Some(Party::Provider)
    } else {
        None
    }
}

impl ExportOp {
    /// Whether the operation writes (so needs an active membership).
    pub fn writes(&self) -> bool {
        !matches!(self, ExportOp::Get(_))
    }
}

impl Engine {
    pub(super) fn exports(
        &mut self,
        federation: FederationId,
        op: ExportOp,
    ) -> Result<Box<ExportEntry>, EngineError> {
        let chain = self
            .federations
            .get(&federation)
            .ok_or(EngineError::UnknownFederation(federation))?;
        let now_ms = self.clock.millis;
        let invalid = |e: fed_crdt::error::ExportError| EngineError::Invalid(e.to_string());
        let mut grants = Vec::new();
        let (envelope, target) = match op {
            ExportOp::Get(id) => return self.export_entry(federation, id),
            ExportOp::Create {
                provider,
                project,
                request,
            } => {
                self.check_project_for_export(federation, project, provider)?;
                let nonce: [u8; 16] = crate::random(&mut self.rng);
                let (id, env) = create_export(
                    chain,
                    &self.signing,
                    nonce,
                    provider,
                    project,
                    &request,
                    now_ms,
                )
                .map_err(invalid)?;
                let parties = std::collections::BTreeSet::from([self.me(), provider]);
                grants.push(self.start_epoch(federation, id, None, &parties)?);
                (Some(env), None)
            }
            ExportOp::Update(id, request) => {
                let doc = self.export_document(federation, id)?;
                let env =
                    update_export(doc, chain, &self.signing, &request, now_ms).map_err(invalid)?;
                (env, Some(id))
            }
            ExportOp::Transition(id, transition) => {
                let doc = self.export_document(federation, id)?;
                let env = transition_export(doc, chain, &self.signing, &transition, now_ms)
                    .map_err(|e| match e {
                        fed_crdt::error::ExportError::IllegalTransition { .. } => {
                            EngineError::Forbidden(e.to_string())
                        }
                        other => EngineError::Invalid(other.to_string()),
                    })?;
                (Some(env), Some(id))
            }
        };
        let (id, _) = self.commit_or_keep(envelope, target, grants)?;
        self.export_entry(federation, id)
    }

    /// A request is for a project this platform reads and that the provider can read.
    fn check_project_for_export(
        &self,
        federation: FederationId,
        project: DocId,
        provider: PlatformId,
    ) -> Result<(), EngineError> {
        let entry = self
            .list_projects(federation)
            .into_iter()
            .find(|p| p.id == project)
            .ok_or_else(|| EngineError::NotFound(format!("project {project}")))?;
        let provider_reads =
            entry.owner == provider || entry.shares.iter().any(|s| s.platform_id == provider);
        if provider_reads {
            Ok(())
        } else {
            Err(EngineError::Invalid(format!(
                "field `provider`: platform {provider} cannot read project {project}; share it first"
            )))
        }
    }

    fn export_document(
        &self,
        federation: FederationId,
        id: DocId,
    ) -> Result<&fed_crdt::registry::Document, EngineError> {
        self.export_entry(federation, id)?;
        self.documents
            .get(&id)
            .ok_or_else(|| EngineError::NotFound(format!("export request {id}")))
    }

    fn export_entry(
        &self,
        federation: FederationId,
        id: DocId,
    ) -> Result<Box<ExportEntry>, EngineError> {
        if id.kind != DocKind::Export {
            return Err(EngineError::NotFound(format!(
                "{id} is not an export request"
            )));
        }
        self.list_exports(federation)
            .into_iter()
            .find(|e| e.id == id)
            .map(Box::new)
            .ok_or_else(|| EngineError::NotFound(format!("export request {id}")))
    }

    /// The requests this platform makes or serves.
    pub(super) fn list_exports(&self, federation: FederationId) -> Vec<ExportEntry> {
        let me = self.me();
        if self.federations.get(&federation).is_none() {
            return Vec::new();
        }
        let name = |p: &PlatformId| self.member_name(&federation, p);
        let project_code = |id: &DocId| match self.documents.view(id) {
            Some(View::Project(p)) => Some(p.project.code.clone()),
            _ => None,
        };
        self.documents
            .views(federation)
            .filter_map(|(_, view)| match view {
                View::Export(v) => role_of(v, &me).map(|role| (v, role)),
                View::Project(_) => None,
            })
            .map(|(v, role)| ExportEntry {
                id: v.id,
                role,
                requester: v.requester,
                requester_name: name(&v.requester),
                provider: v.provider,
                provider_name: name(&v.provider),
                project: v.project,
                project_code: project_code(&v.project),
                request: v.request.clone(),
                state: v.state,
                conditions: v.conditions.clone(),
                delivery_reference: v.delivery_reference.clone(),
                next: ExportState::ALL
                    .into_iter()
                    .filter(|to| who_may(v.state, *to) == Some(role))
                    .collect(),
                history: v
                    .history
                    .iter()
                    .map(|h| HistoryItem {
                        from: h.from,
                        to: h.to,
                        author: h.author,
                        at_ms: h.at_ms,
                        comment: h.comment.clone(),
                        conditions: h.conditions.clone(),
                        reference: h.reference.clone(),
                        applied: h.applied,
                    })
                    .collect(),
                heads: self
                    .documents
                    .get(&v.id)
                    .map(|d| d.heads())
                    .unwrap_or_default(),
            })
            .collect()
    }
}
