//! Every failure an HTTP client can see, as JSON `{"error": "..."}` with the
//! status that fits it.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
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

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        Self::Rejected {
            status: rejection.status(),
            message: rejection.body_text(),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::BadRequest(rejection.body_text())
    }
}

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
        (status, Json(ErrorBody { error })).into_response()
    }
}
