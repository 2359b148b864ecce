//! API errors: a stable machine-readable code, an HTTP status and a human message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::engine::EngineError;

/// An error answered by the API as `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Stable code for programs (`unauthorized`, `malformed_json`, `not_found`, ...).
    pub code: &'static str,
    /// What went wrong, for people.
    pub message: String,
}

impl ApiError {
    /// A 400 for a body that is not the JSON expected.
    pub fn malformed(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "malformed_json",
            message: message.into(),
        }
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
        }
    }

    /// A 401.
    pub fn unauthorized() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "missing or wrong bearer token (see api.token in the node's data directory)"
                .into(),
        }
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let (status, code) = match &e {
            EngineError::Shutdown => (StatusCode::SERVICE_UNAVAILABLE, "shutting_down"),
            EngineError::InvalidChain(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_chain"),
            EngineError::NotAMember { .. } => (StatusCode::FORBIDDEN, "not_a_member"),
            EngineError::UnknownFederation(_) => (StatusCode::NOT_FOUND, "unknown_federation"),
            EngineError::TooManyFederations { .. } => {
                (StatusCode::CONFLICT, "too_many_federations")
            }
            EngineError::InvalidProfile(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_profile"),
            EngineError::Refused(_) => (StatusCode::UNPROCESSABLE_ENTITY, "refused"),
            EngineError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            EngineError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            EngineError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            EngineError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            EngineError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage"),
            EngineError::IncompleteHistory { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "incomplete_history")
            }
        };
        ApiError {
            status,
            code,
            message: e.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({"error": {"code": self.code, "message": self.message}});
        (self.status, Json(body)).into_response()
    }
}
