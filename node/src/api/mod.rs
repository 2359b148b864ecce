//! The local HTTP API: JSON on loopback for the platform's own systems and for `fedctl`.
//!
//! Every route but `/openapi.json` needs `Authorization: Bearer <token>`, the token being
//! the contents of `api.token` in the data directory (created at first start, mode 0600).
//! Handlers hold only the engine and network handles, never the swarm or the store.

pub mod error;
mod openapi;
mod routes;

use std::net::SocketAddr;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::Router;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::engine::EngineHandle;
use crate::net::NetClient;
use error::ApiError;

/// Largest request body accepted (a chain file), in bytes.
pub const MAX_API_BODY_BYTES: usize = 16 * 1024 * 1024;

/// Every route: (method, path, summary), for the OpenAPI document. A test calls each one
/// on a running router, so a route listed here without a handler fails the build.
pub const ROUTES: &[(&str, &str, &str)] = &[
    (
        "get",
        "/v1/status",
        "Node status: platform id, federations and chain heads, peers, listen addresses",
    ),
    ("get", "/v1/peers", "Peers connected now"),
    ("get", "/v1/federations", "Federations this node belongs to"),
    (
        "post",
        "/v1/federations",
        "Join a federation: the body is its chain file",
    ),
    (
        "get",
        "/v1/federations/{id}/chain",
        "A federation's membership chain, as a chain file",
    ),
    (
        "post",
        "/v1/federations/{id}/records",
        "Publish newer chain records: the body is a chain file holding them",
    ),
];

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The engine.
    pub engine: EngineHandle,
    /// The network (for listen addresses).
    pub net: NetClient,
    /// SHA-256 of the bearer token (compared digest to digest).
    token_digest: [u8; 32],
}

impl AppState {
    /// State for the router, with the token that requests must carry.
    pub fn new(engine: EngineHandle, net: NetClient, token: &str) -> AppState {
        AppState {
            engine,
            net,
            token_digest: Sha256::digest(token.as_bytes()).into(),
        }
    }
}

async fn require_token(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    let given = request
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| <[u8; 32]>::from(Sha256::digest(t.trim().as_bytes())));
    if given != Some(state.token_digest) {
        return Err(ApiError::unauthorized());
    }
    Ok(next.run(request).await)
}

/// The router with every route, authentication and body limit.
pub fn router(state: AppState) -> Router {
    let protected = Router::new()
        .route("/v1/status", get(routes::status))
        .route("/v1/peers", get(routes::peers))
        .route(
            "/v1/federations",
            get(routes::federations).post(routes::join),
        )
        .route("/v1/federations/{id}/chain", get(routes::chain))
        .route("/v1/federations/{id}/records", post(routes::publish))
        .route("/v1/federations/{id}/platforms", get(routes::platforms))
        .route(
            "/v1/federations/{id}/platforms/me",
            put(routes::set_profile),
        )
        .route("/v1/refusals", get(routes::refusals));
    Router::new()
        .route("/openapi.json", get(openapi::document))
        .merge(protected.route_layer(middleware::from_fn_with_state(state.clone(), require_token)))
        .fallback(|| async { ApiError::not_found("no such endpoint; see /openapi.json") })
        .layer(DefaultBodyLimit::max(MAX_API_BODY_BYTES))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` fires.
///
/// # Errors
///
/// The I/O error that stopped the server.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// Refuses an API address that is not on loopback: the API is for this machine only.
///
/// # Errors
///
/// A message saying why the address is refused.
pub fn check_loopback(addr: &SocketAddr) -> Result<(), String> {
    if addr.ip().is_loopback() {
        Ok(())
    } else {
        Err(format!(
            "--api {addr} is not a loopback address; the API serves this machine only (use 127.0.0.1:PORT)"
        ))
    }
}
