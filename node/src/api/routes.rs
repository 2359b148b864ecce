//! The handlers: node status and peers, federations and their chains.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, Query, State};
use axum::Json;
use fed_crdt::chain::file::ChainFile;
use fed_crdt::envelope::Refusal;
use fed_crdt::ids::{ChangeHash, FederationId};
use fed_crdt::registry::platforms::PlatformProfile;
use serde::{Deserialize, Serialize};

use crate::api::error::ApiError;
use crate::api::{AppState, MAX_API_BODY_BYTES};
use crate::engine::federations::{FederationSummary, ReceiveOutcome};
use crate::engine::{NodeStatus, PlatformEntry};

/// `GET /v1/status`
pub async fn status(State(state): State<AppState>) -> Result<Json<StatusBody>, ApiError> {
    let node = state.engine.status().await?;
    let listen = state
        .net
        .listen_addrs()
        .await
        .map_err(|_| ApiError::from(crate::engine::EngineError::Shutdown))?
        .into_iter()
        .map(|a| a.to_string())
        .collect();
    Ok(Json(StatusBody { node, listen }))
}

/// The status body.
#[derive(Serialize, Deserialize)]
pub struct StatusBody {
    /// Engine state.
    #[serde(flatten)]
    pub node: NodeStatus,
    /// Addresses the node listens on.
    pub listen: Vec<String>,
}

/// `GET /v1/peers`
pub async fn peers(State(state): State<AppState>) -> Result<Json<Vec<String>>, ApiError> {
    Ok(Json(state.engine.status().await?.peers))
}

/// `GET /v1/federations`
pub async fn federations(
    State(state): State<AppState>,
) -> Result<Json<Vec<FederationSummary>>, ApiError> {
    Ok(Json(state.engine.status().await?.federations))
}

/// The answer to a join or a publish.
#[derive(Serialize, Deserialize)]
pub struct ChainChange {
    /// The federation.
    pub federation: FederationId,
    /// What happened to the records.
    #[serde(flatten)]
    pub outcome: ReceiveOutcome,
}

fn parse_chain_file(body: Result<Bytes, BytesRejection>) -> Result<ChainFile, ApiError> {
    let body = body_bytes(body)?;
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::malformed("body is not UTF-8"))?;
    ChainFile::parse(text).map_err(|e| ApiError::malformed(e.to_string()))
}

/// The body, or a JSON error saying why it could not be read (too large, ...).
pub(crate) fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|e| ApiError {
        status: e.status(),
        code: if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            "too_large"
        } else {
            "bad_body"
        },
        message: format!("{e} (at most {MAX_API_BODY_BYTES} bytes)"),
        field: None,
    })
}

/// `POST /v1/federations` with a chain file: join the federation.
pub async fn join(
    State(state): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ChainChange>, ApiError> {
    let file = parse_chain_file(body)?;
    let (federation, outcome) = state.engine.join(file).await?;
    Ok(Json(ChainChange {
        federation,
        outcome,
    }))
}

pub(crate) fn parse_federation(id: &str) -> Result<FederationId, ApiError> {
    id.parse()
        .map_err(|e: fed_crdt::error::ParseIdError| ApiError::not_found(e.to_string()))
}

/// `GET /v1/federations/{id}/chain`
pub async fn chain(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ChainFile>, ApiError> {
    let federation = parse_federation(&id)?;
    Ok(Json(state.engine.chain(federation).await?))
}

/// `POST /v1/federations/{id}/records` with a chain file holding newer records.
pub async fn publish(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ChainChange>, ApiError> {
    let federation = parse_federation(&id)?;
    let file = parse_chain_file(body)?;
    if file.federation != federation {
        return Err(ApiError::malformed(format!(
            "the chain file is for federation {}, not {federation}",
            file.federation
        )));
    }
    let (federation, outcome) = state.engine.publish(file).await?;
    Ok(Json(ChainChange {
        federation,
        outcome,
    }))
}

/// The platforms registry body.
#[derive(Serialize, Deserialize)]
pub struct PlatformsBody {
    /// The federation.
    pub federation: FederationId,
    /// Every member, by platform id.
    pub platforms: std::collections::BTreeMap<String, PlatformEntry>,
}

/// `GET /v1/federations/{id}/platforms`
pub async fn platforms(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<PlatformsBody>, ApiError> {
    let federation = parse_federation(&id)?;
    let entries = state.engine.platforms(federation).await?;
    Ok(Json(PlatformsBody {
        federation,
        platforms: entries
            .into_iter()
            .map(|e| (e.platform_id.to_string(), e))
            .collect(),
    }))
}

/// The answer to a profile change.
#[derive(Serialize, Deserialize)]
pub struct ProfileChange {
    /// The accepted change, or null when the profile already read so.
    pub change_hash: Option<ChangeHash>,
}

/// `PUT /v1/federations/{id}/platforms/me` with a profile.
pub async fn set_profile(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<ProfileChange>, ApiError> {
    let federation = parse_federation(&id)?;
    let body = body_bytes(body)?;
    let profile: PlatformProfile = ApiError::parse_json(&body)?;
    let change_hash = state.engine.set_profile(federation, profile).await?;
    Ok(Json(ProfileChange { change_hash }))
}

/// Query of `GET /v1/refusals`.
#[derive(serde::Deserialize)]
pub struct RefusalQuery {
    /// Only this federation's refusals.
    pub federation: Option<String>,
}

/// `GET /v1/refusals`
pub async fn refusals(
    State(state): State<AppState>,
    Query(query): Query<RefusalQuery>,
) -> Result<Json<Vec<Refusal>>, ApiError> {
    let federation = query
        .federation
        .as_deref()
        .map(parse_federation)
        .transpose()?;
    Ok(Json(state.engine.refusals(federation).await?))
}
