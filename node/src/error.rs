//! Every failure an HTTP client can see, as JSON `{"error": "..."}` with the
//! status that fits it, and the extractors (`AppJson`, `AppQuery`,
//! `AppPath`) whose rejections are such failures.

use axum::Json;
use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use shared::api::{ErrorBody, InvalidChainBody};
use shared::validation::BlockError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{message}")]
    Rejected { status: StatusCode, message: String },
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("missing or wrong bearer token")]
    Unauthorized,
    #[error("this node is isolated from its peers")]
    Isolated,
    #[error("the posted chain is invalid: {0}")]
    InvalidChain(BlockError),
    #[error("{0}")]
    InvalidBlock(String),
    #[error("the node is shutting down")]
    ShuttingDown,
    #[error("storage failed: {0}")]
    Storage(#[from] crate::store::StoreError),
}

/// What a rejection says beyond its status: serde's own words for a body,
/// axum's text otherwise.
pub fn rejection_detail(rejection: &JsonRejection) -> String {
    std::error::Error::source(rejection).map_or_else(|| rejection.body_text(), ToString::to_string)
}

impl From<JsonRejection> for ApiError {
    /// Malformed JSON is 400, JSON of the wrong shape 422, a body over the
    /// limit 413.
    fn from(rejection: JsonRejection) -> Self {
        let detail = rejection_detail(&rejection);
        match rejection {
            JsonRejection::JsonDataError(_) => Self::Rejected {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: format!("the JSON does not have the expected shape: {detail}"),
            },
            JsonRejection::JsonSyntaxError(_) => {
                Self::BadRequest(format!("the body is not valid JSON: {detail}"))
            }
            other => Self::Rejected {
                status: other.status(),
                message: other.body_text(),
            },
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        Self::Rejected {
            status: rejection.status(),
            message: rejection.body_text(),
        }
    }
}

impl From<WebSocketUpgradeRejection> for ApiError {
    /// A plain GET on a WebSocket endpoint (400), or an upgrade of the
    /// wrong version (426), as JSON like every other refusal.
    fn from(rejection: WebSocketUpgradeRejection) -> Self {
        Self::Rejected {
            status: rejection.status(),
            message: format!("a WebSocket endpoint: {}", rejection.body_text()),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

/// Declares `AppJson`, `AppQuery` and `AppPath`: axum's `Json`, `Query`
/// and `Path` extractors whose rejections become `$error` (which needs a
/// `From` for each of axum's rejections). The node and the manager both
/// declare theirs with it, so their APIs refuse bad input the same way.
#[macro_export]
macro_rules! app_extractors {
    ($error:ident) => {
        /// `axum::Json` whose rejections are this crate's API errors.
        #[derive(Debug, axum::extract::FromRequest)]
        #[from_request(via(axum::Json), rejection($error))]
        pub struct AppJson<T>(pub T);

        /// `axum::extract::Query` whose rejections are this crate's API errors.
        #[derive(Debug, axum::extract::FromRequestParts)]
        #[from_request(via(axum::extract::Query), rejection($error))]
        pub struct AppQuery<T>(pub T);

        /// `axum::extract::Path` whose rejections are this crate's API errors.
        #[derive(Debug, axum::extract::FromRequestParts)]
        #[from_request(via(axum::extract::Path), rejection($error))]
        pub struct AppPath<T>(pub T);
    };
}

app_extractors!(ApiError);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Rejected { status, .. } => *status,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Isolated => StatusCode::FORBIDDEN,
            Self::InvalidChain(error) => {
                let body = InvalidChainBody {
                    error: self.to_string(),
                    index: error.index,
                    reason: error.reason.clone(),
                };
                return (StatusCode::UNPROCESSABLE_ENTITY, Json(body)).into_response();
            }
            Self::InvalidBlock(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::Storage(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let error = self.to_string();
        if status.is_server_error() {
            tracing::error!(%status, %error, "request failed");
        }
        let mut response = (status, Json(ErrorBody { error })).into_response();
        if status == StatusCode::UNAUTHORIZED {
            crate::bearer::challenge(&mut response, "powplay node");
        }
        response
    }
}
