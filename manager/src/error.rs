//! One error type for the manager's API: every failure becomes
//! `{"error": "..."}` with the status that fits it.

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shared::api::ErrorBody;

use crate::client::NodeError;
use crate::process::LaunchError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// No node has this id, port or address.
    #[error("no node {0:?}; use an id, a port or a host:port from GET /nodes")]
    UnknownNode(String),
    /// No shipped scenario has this name.
    #[error("{0}")]
    UnknownScenario(String),
    /// The request itself is wrong (bad JSON, bad parameter, bad address).
    #[error("{message}")]
    BadRequest { status: StatusCode, message: String },
    /// The request is fine but the node's state does not allow it now.
    #[error("{0}")]
    Conflict(String),
    #[error(
        "this manager requires its token: the header `Authorization: Bearer <token>`, or on /events `?access_token=<token>` (a generated token is printed at start)"
    )]
    Unauthorized,
    #[error("the manager is shutting down")]
    ShuttingDown,
    #[error(transparent)]
    Node(#[from] NodeError),
    #[error(transparent)]
    Launch(#[from] LaunchError),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::UnknownNode(_) | ApiError::UnknownScenario(_) => StatusCode::NOT_FOUND,
            ApiError::BadRequest { status, .. } => *status,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            // The node's own verdict on the request passes through.
            ApiError::Node(NodeError::Rejected { status, .. }) => *status,
            ApiError::Node(_) => StatusCode::BAD_GATEWAY,
            ApiError::Launch(LaunchError::Spawn { .. } | LaunchError::Files { .. }) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            ApiError::Launch(_) => StatusCode::BAD_GATEWAY,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let error = match self {
            // The node's words, unchanged, as it would have answered them.
            ApiError::Node(NodeError::Rejected { body, .. }) => body.error,
            other => other.to_string(),
        };
        if status.is_server_error() {
            tracing::warn!(%status, %error, "request failed");
        }
        let mut response = (status, Json(ErrorBody { error })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            node::bearer::challenge(&mut response, "powplay manager");
        }
        response
    }
}

fn rejected(status: StatusCode, text: String) -> ApiError {
    ApiError::BadRequest {
        status,
        message: text,
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        rejected(rejection.status(), rejection.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        rejected(rejection.status(), rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        rejected(rejection.status(), rejection.body_text())
    }
}

node::app_extractors!(ApiError);

impl<T: Serialize> IntoResponse for AppJson<T> {
    fn into_response(self) -> Response {
        Json(self.0).into_response()
    }
}

/// Answers that did not come from a handler (an unknown route, a wrong
/// method, a body over the limit) are plain text; rewrite them as
/// [`ErrorBody`] so every error of the API has the same shape.
pub async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 16 * 1024)
        .await
        .unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
    let reason = status.canonical_reason().unwrap_or("error");
    let error = match (text.is_empty(), status) {
        (_, StatusCode::NOT_FOUND) => "no such path; GET /openapi.json lists the API".to_owned(),
        (_, StatusCode::METHOD_NOT_ALLOWED) => {
            "method not allowed on this path; GET /openapi.json lists the API".to_owned()
        }
        (true, _) => reason.to_owned(),
        (false, _) => format!("{reason}: {text}"),
    };
    let mut rewritten = (status, Json(ErrorBody { error })).into_response();
    // Keep headers such as `Allow` on a 405.
    for (name, value) in parts.headers.iter() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            rewritten.headers_mut().insert(name, value.clone());
        }
    }
    rewritten
}
