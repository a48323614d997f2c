//! The bearer token (RFC 6750) on the HTTP API of a node and of the
//! manager: whether a request carries it.

use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::Response;

/// The name of the `Authorization: Bearer` scheme in the documents.
pub const BEARER: &str = "bearer";

/// Whether `headers` carry `Authorization: Bearer <token>`.
pub fn matches(headers: &HeaderMap, token: &str) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .is_some_and(|presented| same_token(presented.trim(), token))
}

/// Adds the challenge RFC 6750 §3 asks of a 401: which scheme would have
/// worked, and for what (`realm`, a static name such as `powplay node`).
pub fn challenge(response: &mut Response, realm: &'static str) {
    let value = format!(r#"Bearer realm="{realm}""#);
    // A realm is one of our own static names: always a valid header value.
    if let Ok(value) = HeaderValue::from_str(&value) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
}

/// Compares in time that does not depend on where the first difference is,
/// so response times do not give the token away byte by byte.
pub fn same_token(presented: &str, token: &str) -> bool {
    let (presented, token) = (presented.as_bytes(), token.as_bytes());
    presented.len() == token.len()
        && presented
            .iter()
            .zip(token)
            .fold(0u8, |differs, (a, b)| differs | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    #[test]
    fn only_the_exact_bearer_token_matches() {
        let mut headers = HeaderMap::new();
        assert!(!matches(&headers, "s3cret"));
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert!(matches(&headers, "s3cret"));
        for wrong in [
            "Bearer s3cre",
            "Bearer s3cret2",
            "Basic s3cret",
            "s3cret",
            "Bearer ",
        ] {
            headers.insert(header::AUTHORIZATION, HeaderValue::from_static(wrong));
            assert!(!matches(&headers, "s3cret"), "{wrong}");
        }
    }
}
