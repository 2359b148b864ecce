//! The handlers of projects, the catalog they refer to, and the platforms a project can be
//! shared with: what the reference service offered, per federation.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use fed_crdt::chain::body::{Entity, EntityType, RegulatoryFramework, Role};
use fed_crdt::chain::state::{Catalog, MemberStatus};
use fed_crdt::ids::{DocId, PlatformId};
use fed_crdt::registry::projects::{Access, Project};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::api::error::ApiError;
use crate::api::routes::{body_bytes, parse_federation};
use crate::api::AppState;
use crate::engine::projects::{ProjectEntry, ProjectOp, ProjectPatch};

/// A JSON body of type `T`, or a 400 naming what is wrong with it.
pub(crate) fn json_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiError> {
    let body = body_bytes(body)?;
    ApiError::parse_json(&body)
}

/// A document id from the path, or a 404 saying what an id looks like.
pub(crate) fn parse_doc(id: &str) -> Result<DocId, ApiError> {
    id.parse()
        .map_err(|e: fed_crdt::error::ParseIdError| ApiError::not_found(e.to_string()))
}

/// `GET /v1/federations/{id}/projects`
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<ProjectEntry>>, ApiError> {
    let federation = parse_federation(&id)?;
    Ok(Json(state.engine.list_projects(federation).await?))
}

/// `POST /v1/federations/{id}/projects`
pub async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ProjectEntry>), ApiError> {
    let federation = parse_federation(&id)?;
    let project: Project = json_body(body)?;
    let answer = state
        .engine
        .projects(federation, ProjectOp::Create(Box::new(project)))
        .await?;
    Ok((StatusCode::CREATED, Json(*answer)))
}

/// `GET /v1/federations/{id}/projects/{project}`
pub async fn get(
    State(state): State<AppState>,
    Path((id, project)): Path<(String, String)>,
) -> Result<Json<ProjectEntry>, ApiError> {
    let federation = parse_federation(&id)?;
    let project = parse_doc(&project)?;
    Ok(Json(
        *state
            .engine
            .projects(federation, ProjectOp::Get(project))
            .await?,
    ))
}

/// `PATCH /v1/federations/{id}/projects/{project}`
pub async fn patch(
    State(state): State<AppState>,
    Path((id, project)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ProjectEntry>, ApiError> {
    let federation = parse_federation(&id)?;
    let project = parse_doc(&project)?;
    let patch: ProjectPatch = json_body(body)?;
    Ok(Json(
        *state
            .engine
            .projects(federation, ProjectOp::Update(project, Box::new(patch)))
            .await?,
    ))
}

/// `DELETE /v1/federations/{id}/projects/{project}`
pub async fn delete(
    State(state): State<AppState>,
    Path((id, project)): Path<(String, String)>,
) -> Result<Json<ProjectEntry>, ApiError> {
    let federation = parse_federation(&id)?;
    let project = parse_doc(&project)?;
    Ok(Json(
        *state
            .engine
            .projects(federation, ProjectOp::Delete(project))
            .await?,
    ))
}

/// The body of a share.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareBody {
    /// The platforms to share with, and their access.
    pub recipients: Vec<Recipient>,
}

/// One platform to share with.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    /// The platform.
    pub platform_id: PlatformId,
    /// `read` or `write`.
    pub access: Access,
}

/// Most recipients in one share call.
pub const MAX_SHARE_RECIPIENTS: usize = 256;

/// `POST /v1/federations/{id}/projects/{project}/share`
pub async fn share(
    State(state): State<AppState>,
    Path((id, project)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ProjectEntry>, ApiError> {
    let federation = parse_federation(&id)?;
    let project = parse_doc(&project)?;
    let body: ShareBody = json_body(body)?;
    if body.recipients.is_empty() || body.recipients.len() > MAX_SHARE_RECIPIENTS {
        return Err(ApiError::invalid(
            "recipients",
            format!(
                "field `recipients` lists {} platforms; 1 to {MAX_SHARE_RECIPIENTS} allowed",
                body.recipients.len()
            ),
        ));
    }
    // One change for every recipient: the call is all or nothing.
    let shares = body
        .recipients
        .into_iter()
        .map(|r| (r.platform_id, Some(r.access)))
        .collect();
    Ok(Json(
        *state
            .engine
            .projects(federation, ProjectOp::Share(project, shares))
            .await?,
    ))
}

/// `DELETE /v1/federations/{id}/projects/{project}/shares/{platform}`
pub async fn unshare(
    State(state): State<AppState>,
    Path((id, project, platform)): Path<(String, String, String)>,
) -> Result<Json<ProjectEntry>, ApiError> {
    let federation = parse_federation(&id)?;
    let project = parse_doc(&project)?;
    let platform: PlatformId = platform
        .parse()
        .map_err(|e: fed_crdt::error::ParseIdError| ApiError::not_found(e.to_string()))?;
    Ok(Json(
        *state
            .engine
            .projects(
                federation,
                ProjectOp::Share(project, vec![(platform, None)]),
            )
            .await?,
    ))
}

/// One part of a federation's catalog, as a list.
async fn catalog_part<T>(
    state: &AppState,
    id: &str,
    part: impl FnOnce(Catalog) -> std::collections::BTreeMap<String, T>,
) -> Result<Json<Vec<T>>, ApiError> {
    let catalog = state.engine.catalog(parse_federation(id)?).await?;
    Ok(Json(part(catalog).into_values().collect()))
}

/// `GET /v1/federations/{id}/regulatory-frameworks`
pub async fn frameworks(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<RegulatoryFramework>>, ApiError> {
    catalog_part(&state, &id, |c| c.frameworks).await
}

/// `GET /v1/federations/{id}/entity-types`
pub async fn entity_types(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<EntityType>>, ApiError> {
    catalog_part(&state, &id, |c| c.entity_types).await
}

/// `GET /v1/federations/{id}/entities`
pub async fn entities(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<Entity>>, ApiError> {
    catalog_part(&state, &id, |c| c.entities).await
}

/// A platform a project can be shared with.
#[derive(Serialize, Deserialize)]
pub struct ShareRecipient {
    /// The platform.
    pub platform_id: PlatformId,
    /// Its name, from its identity card.
    pub name: String,
}

/// `GET /v1/federations/{id}/share-recipients`: the active platforms (not relays), but
/// this one.
pub async fn share_recipients(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<ShareRecipient>>, ApiError> {
    let federation = parse_federation(&id)?;
    let me = state.engine.status().await?.platform_id;
    let platforms = state.engine.platforms(federation).await?;
    Ok(Json(
        platforms
            .into_iter()
            .filter(|p| p.platform_id != me)
            .filter(|p| p.role == Role::Platform && p.status == MemberStatus::Active)
            .map(|p| ShareRecipient {
                platform_id: p.platform_id,
                name: p
                    .profile
                    .map(|profile| profile.display_name)
                    .unwrap_or(p.name),
            })
            .collect(),
    ))
}
