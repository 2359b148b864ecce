//! The handlers: node status and peers, federations and their chains.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::Json;
use fed_crdt::chain::file::ChainFile;
use fed_crdt::ids::FederationId;
use serde::Serialize;

use crate::api::error::ApiError;
use crate::api::{AppState, MAX_API_BODY_BYTES};
use crate::engine::federations::{FederationSummary, ReceiveOutcome};
use crate::engine::NodeStatus;

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
#[derive(Serialize)]
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
#[derive(Serialize)]
pub struct ChainChange {
    /// The federation.
    pub federation: FederationId,
    /// What happened to the records.
    #[serde(flatten)]
    pub outcome: ReceiveOutcome,
}

fn parse_chain_file(body: Result<Bytes, BytesRejection>) -> Result<ChainFile, ApiError> {
    let body = body.map_err(|e| ApiError {
        status: e.status(),
        code: if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            "too_large"
        } else {
            "bad_body"
        },
        message: format!("{e} (at most {MAX_API_BODY_BYTES} bytes)"),
    })?;
    let text = std::str::from_utf8(&body).map_err(|_| ApiError::malformed("body is not UTF-8"))?;
    ChainFile::parse(text).map_err(|e| ApiError::malformed(e.to_string()))
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

fn parse_federation(id: &str) -> Result<FederationId, ApiError> {
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
