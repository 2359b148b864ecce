//! API errors: a stable machine-readable code, an HTTP status and a human message.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

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
    /// The JSON path of the offending field of the body (`recipients[1].access`), when
    /// one is to blame.
    pub field: Option<String>,
}

impl ApiError {
    /// A 422 for a well-formed body with a bad value at `field`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            code: "invalid",
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// Reads a JSON body into `T`. A body that is not JSON at all is 400
    /// `malformed_json`; JSON with a value of the wrong type, a missing or unknown field
    /// is 422 `invalid`, naming the field's path.
    ///
    /// # Errors
    ///
    /// As above.
    pub fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
        let mut deserializer = serde_json::Deserializer::from_slice(body);
        let value: T = serde_path_to_error::deserialize(&mut deserializer).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            match inner.classify() {
                serde_json::error::Category::Data => {
                    let message = strip_position(&inner.to_string());
                    let within = if path == "." { String::new() } else { path };
                    // A missing field is reported at the object that lacks it.
                    let field = match message
                        .strip_prefix("missing field `")
                        .and_then(|rest| rest.split_once('`'))
                    {
                        Some((name, _)) if within.is_empty() => name.to_string(),
                        Some((name, _)) => format!("{within}.{name}"),
                        None => within,
                    };
                    let message = if field.is_empty() {
                        message
                    } else {
                        format!("field `{field}`: {message}")
                    };
                    ApiError::invalid(field, message)
                }
                _ => ApiError::malformed(format!("the body is not valid JSON: {inner}")),
            }
        })?;
        deserializer
            .end()
            .map_err(|e| ApiError::malformed(format!("the body is not valid JSON: {e}")))?;
        Ok(value)
    }

    /// A 400 for a body that is not the JSON expected.
    pub fn malformed(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            code: "malformed_json",
            message: message.into(),
            field: None,
        }
    }

    /// A 404.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            code: "not_found",
            message: message.into(),
            field: None,
        }
    }

    /// A 401.
    pub fn unauthorized() -> ApiError {
        ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthorized",
            message: "missing or wrong bearer token (see api.token in the node's data directory)"
                .into(),
            field: None,
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
            EngineError::Deleted(_) => (StatusCode::CONFLICT, "deleted"),
            EngineError::MembershipEnded(_) => (StatusCode::FORBIDDEN, "membership_ended"),
            EngineError::Store(e) if e.is_storage_full() => {
                (StatusCode::INSUFFICIENT_STORAGE, "storage_full")
            }
            EngineError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "storage"),
            EngineError::IncompleteHistory { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, "incomplete_history")
            }
        };
        ApiError {
            status,
            code,
            field: field_named(&e.to_string()),
            message: e.to_string(),
        }
    }
}

/// The body of every error answer, as the node writes it and `fedctl` reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The error.
    pub error: ErrorDetail,
}

/// What an error answer says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    /// Stable code for programs (`unauthorized`, `malformed_json`, `not_found`, ...).
    pub code: String,
    /// What went wrong, for people.
    pub message: String,
    /// The JSON path of the offending field of the body, when one is to blame.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message,
                field: self.field,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

/// A serde_json message without its " at line 1 column 17" tail: the field's path says
/// where, better.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_string(),
        None => message.to_string(),
    }
}

/// The field a rule's message names (`field `recipients[0].platform_id`: ...`), if any.
fn field_named(message: &str) -> Option<String> {
    let rest = message.split_once("field `")?.1;
    let (field, _) = rest.split_once('`')?;
    Some(field.to_string())
}
