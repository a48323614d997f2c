//! `GET /` and every path that is not the API: the built explorer, so one
//! URL is all a user opens. Client-side routes fall back to `index.html`.
//!
//! Served for speed: gzip or brotli, whichever the browser takes, and
//! trunk's hashed files (`explorer-<hash>_bg.wasm`, `.js`, `.css`) cached
//! for a year, since a new build gives them new names; `index.html`, which
//! names them, and everything else is revalidated on every load.
//!
//! The files are compressed as they are sent ([`CompressionLayer`]) rather
//! than served from `.gz`/`.br` files beside them, because trunk writes
//! none and the manager serves whatever `--explorer-dir` it is given;
//! brotli runs at tower-http's default quality 4, fast enough to compress a
//! wasm file of a few MiB on the fly.

use std::path::Path;

use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, Response};
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};
use tower_http::set_header::SetResponseHeader;

const IMMUTABLE: HeaderValue = HeaderValue::from_static("public, max-age=31536000, immutable");
const NO_CACHE: HeaderValue = HeaderValue::from_static("no-cache");

const NOT_BUILT: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>powplay manager</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>powplay manager</h1>
<p>The explorer is not built, so there is nothing to show here yet.
Build it and start everything with <code>cargo xtask up</code>
(or <code>trunk build --release</code> in <code>explorer/</code>, then pass
its <code>dist</code> directory to the manager with <code>--explorer-dir</code>).</p>
<p>The manager's API works meanwhile: <a href="/nodes">/nodes</a>,
<a href="/openapi.json">/openapi.json</a>.</p>
</body>
</html>
"#;

/// Serves `dir` if it holds a built explorer, else a page that says how to
/// build one.
pub fn router(dir: &Path) -> Router {
    let index = dir.join("index.html");
    let router = if index.is_file() {
        tracing::info!(dir = %dir.display(), "serving the explorer");
        // The fallback is index.html under any path, even a hashed name
        // that no longer exists: it must never be cached for long.
        let fallback =
            SetResponseHeader::overriding(ServeFile::new(index), header::CACHE_CONTROL, NO_CACHE);
        Router::new().fallback_service(ServeDir::new(dir).fallback(fallback))
    } else {
        tracing::warn!(
            dir = %dir.display(),
            "the explorer is not built (no index.html); `cargo xtask up` builds it"
        );
        Router::new().route("/", get(|| async { Html(NOT_BUILT) }))
    };
    router
        .layer(middleware::from_fn(cache_policy))
        .layer(CompressionLayer::new())
}

/// A year for trunk's hashed files, revalidation for the rest.
async fn cache_policy(request: Request, next: Next) -> Response {
    let hashed = is_hashed_asset(request.uri().path());
    let mut response = next.run(request).await;
    let found = response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED;
    let policy = if hashed && found { IMMUTABLE } else { NO_CACHE };
    response
        .headers_mut()
        .entry(header::CACHE_CONTROL)
        .or_insert(policy);
    response
}

/// Whether the file name carries trunk's content hash:
/// `<name>-<hash>.<ext>` or `<name>-<hash>_bg.wasm`, where the hash is a
/// 64-bit seahash in lower-case hex (up to 16 digits; fewer than 8 only
/// once in four billion builds, so shorter runs are taken for words).
pub fn is_hashed_asset(path: &str) -> bool {
    let file = path.rsplit('/').next().unwrap_or_default();
    let Some((stem, _extension)) = file.split_once('.') else {
        return false;
    };
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(name, hash)| {
        !name.is_empty()
            && (8..=16).contains(&hash.len())
            && hash
                .bytes()
                .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trunk_names_carry_a_hash_and_others_do_not() {
        for hashed in [
            "/explorer-7d3c0f2ab4e91c55_bg.wasm",
            "/explorer-7d3c0f2ab4e91c55.js",
            "/style-3e1f0a9b8c7d6e5f.css",
            "/explorer-d3c0f2ab4e91c5_bg.wasm",
        ] {
            assert!(is_hashed_asset(hashed), "{hashed}");
        }
        for plain in [
            "/",
            "/index.html",
            "/style.css",
            "/explorer_bg.wasm",
            "/some/explorer/route",
            "/snippets/leptos-0.8/inline0.js",
            "/explorer-7D3C0F2AB4E91C55.js",
            "/explorer-7d3c0f2ab4e91c55a.js",
            "/explorer-1a2b.js",
            "/-7d3c0f2ab4e91c55.js",
            "/explorer-7d3c0f2ab4e91c55",
        ] {
            assert!(!is_hashed_asset(plain), "{plain}");
        }
    }
}
