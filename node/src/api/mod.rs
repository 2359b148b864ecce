//! The local HTTP API: JSON on loopback for the platform's own systems and for `fedctl`.
//!
//! Every route but `/openapi.json` needs `Authorization: Bearer <token>`, the token being
//! the contents of `api.token` in the data directory (created at first start, mode 0600).
//! Handlers hold only the engine and network handles, never the swarm or the store.

pub mod error;
mod events;
mod exports;
mod openapi;
mod projects;
mod routes;
pub mod serve;

pub use projects::ShareRecipient;
pub use routes::{ChainChange, PlatformsBody, ProfileChange, StatusBody};

use std::net::SocketAddr;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{delete, get, post, put};
use axum::Router;
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::engine::EngineHandle;
use crate::net::NetClient;
use error::ApiError;

/// Largest request body accepted (a chain file), in bytes.
pub const MAX_API_BODY_BYTES: usize = 16 * 1024 * 1024;

/// One route of the API, as the OpenAPI document describes it.
pub struct Route {
    /// `get`, `post`, `put`, `patch` or `delete`.
    pub method: &'static str,
    /// The path, with `{name}` parameters.
    pub path: &'static str,
    /// What it does.
    pub summary: &'static str,
    /// The schema of its JSON body (under `components/schemas`), if it takes one.
    pub body: Option<&'static str>,
}

const fn route(
    method: &'static str,
    path: &'static str,
    summary: &'static str,
    body: Option<&'static str>,
) -> Route {
    Route {
        method,
        path,
        summary,
        body,
    }
}

/// Every route. A test checks that each is in the OpenAPI document and answered by the
/// router (not the fallback).
pub const ROUTES: &[Route] = &[
    route("get", "/v1/status", "Node status: platform id, federations and chain heads, peers, listen addresses", None),
    route("get", "/v1/peers", "Members connected now", None),
    route("get", "/v1/federations", "Federations this node belongs to", None),
    route("post", "/v1/federations", "Join a federation: the body is its chain file", Some("ChainFile")),
    route("get", "/v1/federations/{id}/chain", "A federation's membership chain, as a chain file", None),
    route("post", "/v1/federations/{id}/records", "Publish newer chain records: the body is a chain file holding them", Some("ChainFile")),
    route("get", "/v1/federations/{id}/platforms", "The platforms registry, with what the chain says of each member", None),
    route("put", "/v1/federations/{id}/platforms/me", "Set this platform's own entry in the platforms registry", Some("PlatformProfile")),
    route("get", "/v1/federations/{id}/share-recipients", "Active platforms a project can be shared with (all but this one)", None),
    route("get", "/v1/federations/{id}/regulatory-frameworks", "Regulatory frameworks of the federation's catalog", None),
    route("get", "/v1/federations/{id}/entity-types", "Entity types of the federation's catalog", None),
    route("get", "/v1/federations/{id}/entities", "Entities of the federation's catalog", None),
    route("get", "/v1/federations/{id}/projects", "Projects this platform owns or that are shared with it, with conflicts of code", None),
    route("post", "/v1/federations/{id}/projects", "Create a project owned by this platform (201)", Some("Project")),
    route("get", "/v1/federations/{id}/projects/{project}", "One project", None),
    route("patch", "/v1/federations/{id}/projects/{project}", "Change some details of a project (owner or write share)", Some("ProjectPatch")),
    route("delete", "/v1/federations/{id}/projects/{project}", "Delete a project (owner)", None),
    route("post", "/v1/federations/{id}/projects/{project}/share", "Share a project with platforms, read or write (owner)", Some("Share")),
    route("delete", "/v1/federations/{id}/projects/{project}/shares/{platform}", "Stop sharing a project with a platform (owner)", None),
    route("get", "/v1/federations/{id}/exports", "Export requests this platform makes or serves; filters ?state= and ?role=requester|provider", None),
    route("post", "/v1/federations/{id}/exports", "Ask a platform for a dataset, for a project both can read (201, state draft)", Some("ExportCreate")),
    route("get", "/v1/federations/{id}/exports/{export}", "One export request, with its history", None),
    route("put", "/v1/federations/{id}/exports/{export}/request", "Amend what is asked for (requester, in draft or information_requested)", Some("ExportRequest")),
    route("post", "/v1/federations/{id}/exports/{export}/transitions", "Move an export request along its workflow", Some("Transition")),
    route("get", "/v1/refusals", "Changes refused by this node, with the check and the reason; ?federation=", None),
    route("get", "/v1/events", "Live feed of accepted changes (server-sent events); ?federation=", None),
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
    /// Fires when the node stops: long-lived answers (the live feed) end with it, so
    /// that no client holds the node up.
    pub shutdown: CancellationToken,
}

impl AppState {
    /// State for the router, with the token that requests must carry.
    pub fn new(
        engine: EngineHandle,
        net: NetClient,
        token: &str,
        shutdown: CancellationToken,
    ) -> AppState {
        AppState {
            engine,
            net,
            token_digest: Sha256::digest(token.as_bytes()).into(),
            shutdown,
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

/// Answers 413 at once to a request whose declared length is over the body limit,
/// without waiting for a body that may never come.
async fn refuse_declared_oversize(request: Request, next: Next) -> Result<Response, ApiError> {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_API_BODY_BYTES as u64) {
        return Err(ApiError {
            status: axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            code: "too_large",
            message: format!(
                "the body declares {} bytes; at most {MAX_API_BODY_BYTES} are allowed",
                declared.unwrap_or_default()
            ),
            field: None,
        });
    }
    Ok(next.run(request).await)
}

/// Answers 408 to a request not answered within [`serve::API_REQUEST_TIMEOUT`] (a body
/// that trickles in, most often).
async fn request_timeout(request: Request, next: Next) -> Result<Response, ApiError> {
    tokio::time::timeout(serve::API_REQUEST_TIMEOUT, next.run(request))
        .await
        .map_err(|_| ApiError {
            status: axum::http::StatusCode::REQUEST_TIMEOUT,
            code: "request_timeout",
            message: format!(
                "the request was not complete and answered within {:?}",
                serve::API_REQUEST_TIMEOUT
            ),
            field: None,
        })
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
        .route(
            "/v1/federations/{id}/share-recipients",
            get(projects::share_recipients),
        )
        .route(
            "/v1/federations/{id}/regulatory-frameworks",
            get(projects::frameworks),
        )
        .route(
            "/v1/federations/{id}/entity-types",
            get(projects::entity_types),
        )
        .route("/v1/federations/{id}/entities", get(projects::entities))
        .route(
            "/v1/federations/{id}/projects",
            get(projects::list).post(projects::create),
        )
        .route(
            "/v1/federations/{id}/projects/{project}",
            get(projects::get)
                .patch(projects::patch)
                .delete(projects::delete),
        )
        .route(
            "/v1/federations/{id}/projects/{project}/share",
            post(projects::share),
        )
        .route(
            "/v1/federations/{id}/projects/{project}/shares/{platform}",
            delete(projects::unshare),
        )
        .route(
            "/v1/federations/{id}/exports",
            get(exports::list).post(exports::create),
        )
        .route("/v1/federations/{id}/exports/{export}", get(exports::get))
        .route(
            "/v1/federations/{id}/exports/{export}/request",
            put(exports::amend),
        )
        .route(
            "/v1/federations/{id}/exports/{export}/transitions",
            post(exports::transition),
        )
        .route("/v1/refusals", get(routes::refusals))
        .route("/v1/events", get(events::feed));
    Router::new()
        .route("/openapi.json", get(openapi::document))
        .merge(protected.route_layer(middleware::from_fn_with_state(state.clone(), require_token)))
        .fallback(|| async { ApiError::not_found("no such endpoint; see /openapi.json") })
        .layer(DefaultBodyLimit::max(MAX_API_BODY_BYTES))
        .layer(middleware::from_fn(refuse_declared_oversize))
        .layer(middleware::from_fn(request_timeout))
        .layer(tower_http::timeout::RequestBodyTimeoutLayer::new(
            serve::API_BODY_READ_TIMEOUT,
        ))
        .with_state(state)
}

/// Serves the API on `listener` until `shutdown` fires (see [`serve::serve`]).
///
/// # Errors
///
/// The I/O error that stopped the server.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    limits: serve::ServeLimits,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    serve::serve(listener, router(state), limits, shutdown).await
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
