//! The handlers of export requests: create, list with filters, get with history, amend,
//! and move along the workflow.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use fed_crdt::ids::{DocId, PlatformId};
use fed_crdt::registry::exports::{ExportRequest, ExportState, Party, Transition};
use serde::Deserialize;

use crate::api::error::ApiError;
use crate::api::projects::{json_body, parse_doc};
use crate::api::routes::parse_federation;
use crate::api::AppState;
use crate::engine::exports::{ExportEntry, ExportOp};

/// The body of a new request.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// The platform holding the data.
    pub provider: PlatformId,
    /// The project the data is for.
    pub project: DocId,
    /// What is asked for.
    pub request: ExportRequest,
}

/// `POST /v1/federations/{id}/exports`
pub async fn create(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<ExportEntry>), ApiError> {
    let federation = parse_federation(&id)?;
    let body: CreateBody = json_body(body)?;
    let op = ExportOp::Create {
        provider: body.provider,
        project: body.project,
        request: Box::new(body.request),
    };
    Ok((
        StatusCode::CREATED,
        Json(*state.engine.exports(federation, op).await?),
    ))
}

/// Filters of the listing.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only requests in this state.
    pub state: Option<String>,
    /// Only requests where this platform is `requester` or `provider`.
    pub role: Option<String>,
}

/// `GET /v1/federations/{id}/exports?state=...&role=...`
pub async fn list(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<ExportEntry>>, ApiError> {
    let federation = parse_federation(&id)?;
    let wanted_state = query
        .state
        .as_deref()
        .map(|s| {
            ExportState::parse(s).ok_or_else(|| {
                ApiError::malformed(format!(
                    "query `state` is `{}`; allowed: {}",
                    s.escape_debug(),
                    ExportState::ALL
                        .iter()
                        .map(|s| s.name())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
        })
        .transpose()?;
    let role = match query.role.as_deref() {
        None => None,
        Some("requester") => Some(Party::Requester),
        Some("provider") => Some(Party::Provider),
        Some(other) => {
            return Err(ApiError::malformed(format!(
                "query `role` is `{}`; allowed: requester, provider",
                other.escape_debug()
            )))
        }
    };
    Ok(Json(
        state
            .engine
            .list_exports(federation, wanted_state, role)
            .await?,
    ))
}

/// `GET /v1/federations/{id}/exports/{export}`
pub async fn get(
    State(state): State<AppState>,
    Path((id, export)): Path<(String, String)>,
) -> Result<Json<ExportEntry>, ApiError> {
    let federation = parse_federation(&id)?;
    let export = parse_doc(&export)?;
    Ok(Json(
        *state
            .engine
            .exports(federation, ExportOp::Get(export))
            .await?,
    ))
}

/// `PUT /v1/federations/{id}/exports/{export}/request`
pub async fn amend(
    State(state): State<AppState>,
    Path((id, export)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ExportEntry>, ApiError> {
    let federation = parse_federation(&id)?;
    let export = parse_doc(&export)?;
    let request: ExportRequest = json_body(body)?;
    let op = ExportOp::Update(export, Box::new(request));
    Ok(Json(*state.engine.exports(federation, op).await?))
}

/// `POST /v1/federations/{id}/exports/{export}/transitions`
pub async fn transition(
    State(state): State<AppState>,
    Path((id, export)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ExportEntry>, ApiError> {
    let federation = parse_federation(&id)?;
    let export = parse_doc(&export)?;
    // The body is the step itself, the type fedctl sends.
    let transition: Transition = json_body(body)?;
    let op = ExportOp::Transition(export, Box::new(transition));
    Ok(Json(*state.engine.exports(federation, op).await?))
}
