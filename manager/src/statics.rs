//! `GET /` and every path that is not the API: the built explorer, so one
//! URL is all a user opens. Client-side routes fall back to `index.html`.

use std::path::Path;

use axum::Router;
use axum::response::Html;
use axum::routing::get;
use tower_http::services::{ServeDir, ServeFile};

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
    if index.is_file() {
        tracing::info!(dir = %dir.display(), "serving the explorer");
        Router::new().fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
    } else {
        tracing::warn!(
            dir = %dir.display(),
            "the explorer is not built (no index.html); `cargo xtask up` builds it"
        );
        Router::new().route("/", get(|| async { Html(NOT_BUILT) }))
    }
}
