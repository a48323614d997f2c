//! The bearer token (RFC 6750) that guards a manager bound beyond loopback
//! or started with `--token`: commands need `Authorization: Bearer <token>`;
//! `/events` takes that header or, since a browser cannot set headers on a
//! WebSocket, the `access_token` query parameter. Reads stay open.

use axum::extract::{Query, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use node::bearer;
use serde::Deserialize;

use crate::error::ApiError;
use crate::network::Manager;

/// The middleware for commands: the header only.
pub async fn require_bearer(
    State(manager): State<Manager>,
    request: Request,
    next: Next,
) -> Response {
    match manager.token() {
        Some(token) if !bearer::matches(request.headers(), token) => {
            ApiError::Unauthorized.into_response()
        }
        _ => next.run(request).await,
    }
}

/// The middleware for `/events`: the header or `?access_token=`.
pub async fn require_bearer_or_query(
    State(manager): State<Manager>,
    request: Request,
    next: Next,
) -> Response {
    match manager.token() {
        Some(token)
            if !bearer::matches(request.headers(), token)
                && !query_matches(request.uri(), token) =>
        {
            ApiError::Unauthorized.into_response()
        }
        _ => next.run(request).await,
    }
}

#[derive(Deserialize)]
struct AccessToken {
    access_token: Option<String>,
}

fn query_matches(uri: &axum::http::Uri, token: &str) -> bool {
    // A query that does not parse carries no token.
    Query::<AccessToken>::try_from_uri(uri)
        .ok()
        .and_then(|Query(query)| query.access_token)
        .is_some_and(|presented| bearer::same_token(&presented, token))
}

#[cfg(test)]
mod tests {
    use axum::http::Uri;

    use super::*;

    #[test]
    fn the_token_is_taken_from_the_access_token_parameter() {
        let uri = |text: &'static str| Uri::from_static(text);
        assert!(query_matches(&uri("/events?access_token=s3cret"), "s3cret"));
        assert!(query_matches(
            &uri("/events?x=1&access_token=s3cret"),
            "s3cret"
        ));
        for wrong in [
            "/events",
            "/events?access_token=",
            "/events?access_token=s3cre",
            "/events?token=s3cret",
        ] {
            assert!(!query_matches(&uri(wrong), "s3cret"), "{wrong}");
        }
    }
}
