//! Bad requests get clear JSON errors with the right status, never a 5xx
//! for bad input; a token guards commands and the event stream; the
//! manager documents every route it serves, and serves the explorer
//! compressed and cached by name.

mod common;

use common::{EventStream, ManagerProcess};
use node::testing::http_client;
use serde_json::Value;
use shared::api::{AttachRequest, ErrorBody, MessageBody, MinedBody, NodeSummary};
use shared::events::EventKind;

const TOKEN: &str = "s3cret-for-this-test";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_json_errors() {
    let manager = ManagerProcess::start(1).await;
    let node = manager.nodes().await.remove(0);

    let (status, body): (u16, ErrorBody) = manager.get("/nodes/no-such-node/status").await;
    assert_eq!(status, 404);
    assert!(body.error.contains("no-such-node"), "{body:?}");
    let (status, _): (u16, ErrorBody) = manager.post("/nodes/no-such-node/mine").await;
    assert_eq!(status, 404);

    // Not JSON, and JSON without the field.
    let (status, body) = manager.post_raw("/nodes/attach", "{not json").await;
    assert_eq!(status, 400, "{body:?}");
    let (status, body) = manager.post_raw("/nodes/attach", r#"{"addr": "x"}"#).await;
    assert_eq!(status, 422, "{body:?}");
    assert!(body.error.contains("address"), "{body:?}");

    let (status, body): (u16, ErrorBody) = manager
        .post_json(
            "/nodes/attach",
            &AttachRequest {
                address: "not an address".to_owned(),
            },
        )
        .await;
    assert_eq!(status, 400, "{body:?}");

    // Nothing listens on a port we just had and released.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let (status, body): (u16, ErrorBody) = manager
        .post_json(
            "/nodes/attach",
            &AttachRequest {
                address: dead.to_string(),
            },
        )
        .await;
    assert_eq!(status, 502, "{body:?}");
    assert!(body.error.contains(&dead.to_string()), "{body:?}");

    let (status, body): (u16, ErrorBody) = manager
        .get(&format!("/nodes/{}/blocks/not-a-hash", node.id))
        .await;
    assert_eq!(status, 400, "{body:?}");
    let unknown = "ab".repeat(32);
    let (status, body): (u16, ErrorBody) = manager
        .get(&format!("/nodes/{}/blocks/{unknown}", node.id))
        .await;
    assert_eq!(status, 404, "the node's own 404 passes through: {body:?}");

    let (status, _): (u16, ErrorBody) = manager.get("/start/mining?mode=sideways").await;
    assert_eq!(status, 400);
    let (status, _): (u16, ErrorBody) = manager.get("/no/such/api").await;
    assert_eq!(status, 404);
    let (status, _): (u16, ErrorBody) = manager.get("/nodes/attach").await;
    assert_eq!(status, 405);

    // The port and the address name the node too.
    let port = common::port_of(&node.address);
    let (status, _): (u16, Value) = manager.get(&format!("/nodes/{port}/tips")).await;
    assert_eq!(status, 200);
    let (status, _): (u16, Value) = manager.get(&format!("/nodes/{}/tips", node.address)).await;
    assert_eq!(status, 200);

    // A stopped node says so, and comes back on request.
    let (status, body): (u16, MessageBody) =
        manager.post(&format!("/nodes/{}/shutdown", node.id)).await;
    assert_eq!(status, 200, "{body:?}");
    let (status, body): (u16, ErrorBody) = manager.post(&format!("/nodes/{}/mine", node.id)).await;
    assert_eq!(status, 409, "{body:?}");
    assert!(body.error.contains("stopped"), "{body:?}");
    let (status, back): (u16, NodeSummary) =
        manager.post(&format!("/nodes/{}/restart", node.id)).await;
    assert_eq!(status, 200, "{back:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_route_is_served_and_the_document_is_valid() {
    // With a token, every command answers 401 to a request without it, so
    // each route can be tried without shutting anything down.
    let manager = ManagerProcess::start_with(1, &["--token", TOKEN]).await;
    let node = manager.nodes().await.remove(0);
    let hash = node
        .best_hash
        .expect("a running node has a tip")
        .to_string();

    let response = http_client()
        .get(format!("{}/openapi.json", manager.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the document is open to read");
    let doc: Value = response.json().await.unwrap();
    node::testing::assert_valid_openapi(&doc);

    let paths = doc["paths"].as_object().expect("paths");
    // The original project's endpoints keep their paths and method.
    for path in ["/start/mining", "/stop/mining", "/shutdown/all"] {
        assert!(
            paths
                .get(path)
                .is_some_and(|item| item.get("get").is_some()),
            "GET {path} is not documented"
        );
    }
    node::testing::assert_documents_schemas(
        &doc,
        &[
            "NodeSummary",
            "ShutdownReport",
            "Event",
            "ErrorBody",
            "AttachRequest",
            "NetworkBody",
            "NetworkLink",
            "NetworkLinksRequest",
            "NetworkLinksBody",
            "LinkPreset",
            "PartitionRequest",
            "TopologyRequest",
            "AttackRequest",
            "AttacksBody",
            "AttackFigures",
        ],
    );

    let http = http_client();
    let mut tried = 0;
    for (path, item) in paths {
        let url = format!(
            "{}{}",
            manager.url,
            path.replace("{id}", &node.id).replace("{hash}", &hash)
        );
        for (method, operation) in item.as_object().expect("a path item") {
            let responses = operation["responses"].as_object().expect("responses");
            for (code, response) in responses {
                let has_schema = response["content"].as_object().is_some_and(|content| {
                    content.values().all(|media| media.get("schema").is_some())
                });
                assert!(has_schema, "{method} {path} {code} has no schema");
            }
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let status = http
                .request(method.clone(), &url)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16();
            assert!(
                status != 404 && status != 405,
                "{method} {path} is documented but answers {status}"
            );
            // The document says which routes want the token, and only those do.
            assert_eq!(
                status == 401,
                responses.contains_key("401"),
                "{method} {path} answered {status} without a token"
            );
            tried += 1;
        }
    }
    assert!(tried >= 19, "only {tried} operations documented");
}

/// What a refused command must not have changed.
fn settled(
    nodes: Vec<NodeSummary>,
) -> Vec<(String, shared::api::NodeState, Option<u64>, bool, bool, u64)> {
    nodes
        .into_iter()
        .map(|n| {
            (
                n.id,
                n.state,
                n.height,
                n.mining,
                n.isolated,
                n.hashrate_limit,
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_body_over_the_limit_gets_413() {
    let manager = ManagerProcess::start_with(1, &["--token", TOKEN]).await;
    let node = manager.nodes().await.remove(0);
    let (_, doc): (u16, Value) = manager.get("/openapi.json").await;
    let genesis = shared::Preset::Regtest.params().genesis.hash.to_string();
    let tried = node::testing::assert_bodies_over_the_limit_get_413(
        &http_client(),
        &manager.url,
        &doc,
        TOKEN,
        |_| manager::api::BODY_LIMIT,
        |path| path.replace("{id}", &node.id).replace("{hash}", &genesis),
    )
    .await;
    assert!(tried >= 8, "only {tried} operations take a body");
    // Nothing was taken: the node is as it was.
    assert_eq!(manager.nodes().await.remove(0).height, node.height);
}

/// The document marks which operations need the token. Each of them
/// refuses a request with no token, a wrong one or another scheme, and
/// takes the right one; all the refusals together change nothing. Every
/// other operation is a read, open to all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_needs_the_token_and_reads_stay_open() {
    let manager = ManagerProcess::start_with(2, &["--token", TOKEN]).await;
    let nodes = manager.nodes().await;
    let http = http_client();
    let (_, doc): (u16, Value) = manager.get("/openapi.json").await;
    let operations = node::testing::documented_operations(&doc);
    let genesis = shared::Preset::Regtest.params().genesis.hash.to_string();
    let url = |path: &str| {
        let path = path
            .replace("{id}", &nodes[1].id)
            .replace("{hash}", &genesis);
        format!("{}{path}", manager.url)
    };

    node::testing::assert_reads_stay_open(&http, &operations, &url).await;
    let guarded: Vec<_> = operations.iter().filter(|o| o.guarded).collect();
    // The original's GETs that change things are among them.
    for path in ["/start/mining", "/stop/mining", "/shutdown/all"] {
        assert!(
            guarded
                .iter()
                .any(|o| o.path == path && o.method == reqwest::Method::GET),
            "GET {path} is not guarded"
        );
    }
    assert!(guarded.len() >= 22, "{guarded:?}");

    let settings = common::network_settings(&manager).await;
    let before = settled(manager.nodes().await);
    for operation in &guarded {
        node::testing::assert_refused_without_token(
            &http,
            &operation.method,
            &url(&operation.path),
            TOKEN,
        )
        .await;
    }
    assert_eq!(
        settled(manager.nodes().await),
        before,
        "a refused command changed a node"
    );
    assert_eq!(common::network_settings(&manager).await, settings);

    // With the token each is taken (its body, `{}`, may still be refused).
    // What stops things goes last, the manager itself at the very end.
    let rank = |path: &str| match path {
        "/shutdown/all" => 2,
        p if p.ends_with("/shutdown") || p.ends_with("/restart") => 1,
        _ => 0,
    };
    let mut ordered = guarded.clone();
    ordered.sort_by_key(|o| rank(&o.path));
    for operation in ordered {
        node::testing::assert_taken_with_token(
            &http,
            &operation.method,
            &url(&operation.path),
            TOKEN,
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_commands_and_the_event_stream() {
    let manager = ManagerProcess::start_with(1, &["--token", TOKEN]).await;
    let node = manager.nodes().await.remove(0);
    let http = http_client();

    // Reads stay open.
    let response = http
        .get(format!("{}/nodes", manager.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // A command: no token, a wrong one, the query form (for /events only),
    // then the right one.
    let mine = format!("{}/nodes/{}/mine", manager.url, node.id);
    for (what, request) in [
        ("no token", http.post(&mine)),
        ("a wrong token", http.post(&mine).bearer_auth("wrong")),
        (
            "the token in the query",
            http.post(format!("{mine}?access_token={TOKEN}")),
        ),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401, "{what}");
        let challenge = response.headers().get("www-authenticate").cloned();
        assert!(
            challenge.is_some_and(|value| value.to_str().unwrap().starts_with("Bearer")),
            "{what}: no Bearer challenge"
        );
        let body: ErrorBody = response.json().await.expect("a JSON error");
        assert!(body.error.contains("Authorization: Bearer"), "{body:?}");
    }
    let response = http.post(&mine).bearer_auth(TOKEN).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let mined: MinedBody = response.json().await.unwrap();
    assert_eq!(mined.block.header.index, 1);

    // The WebSocket, which a browser opens without headers.
    let events = format!("ws://127.0.0.1:{}/events", manager.port);
    assert_eq!(ws_handshake(&events, None).await, 401, "no token");
    let wrong = format!("{events}?access_token=wrong");
    assert_eq!(
        ws_handshake(&wrong, None).await,
        401,
        "a wrong access_token"
    );
    assert_eq!(
        ws_handshake(&events, Some("wrong")).await,
        401,
        "a wrong bearer"
    );
    assert_eq!(
        ws_handshake(&events, Some(TOKEN)).await,
        101,
        "the bearer header"
    );
    let mut stream = EventStream::connect(&format!("{events}?access_token={TOKEN}")).await;
    let first = stream.next().await;
    assert!(
        matches!(first.kind, EventKind::Snapshot { .. }),
        "the access_token works: {first:?}"
    );

    // `trunk serve` on another port may send the header.
    let preflight = http
        .request(reqwest::Method::OPTIONS, &mine)
        .header("origin", "http://127.0.0.1:8080")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let allowed = preflight
        .headers()
        .get("access-control-allow-headers")
        .map(|value| value.to_str().unwrap().to_ascii_lowercase())
        .unwrap_or_default();
    assert!(allowed.contains("authorization"), "allowed: {allowed:?}");
}

/// The status a WebSocket handshake got: 101 if it was taken.
async fn ws_handshake(url: &str, bearer: Option<&str>) -> u16 {
    use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};
    let mut request = url.into_client_request().unwrap();
    if let Some(token) = bearer {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((_stream, response)) => response.status().as_u16(),
        Err(tungstenite::Error::Http(response)) => response.status().as_u16(),
        Err(err) => panic!("{url}: {err}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_explorer_is_served_compressed_and_cached_by_name() {
    const WASM: &str = "explorer-7d3c0f2ab4e91c55_bg.wasm";
    const JS: &str = "explorer-7d3c0f2ab4e91c55.js";
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "<html>explorer here</html>").unwrap();
    // Compressible like real code: the same few instructions over and over.
    let wasm: Vec<u8> = b"\0asm\x01\0\0\0"
        .iter()
        .copied()
        .chain((0..200_000u32).map(|i| (i % 7 * 13 % 251) as u8))
        .collect();
    std::fs::write(site.path().join(WASM), &wasm).unwrap();
    std::fs::write(
        site.path().join(JS),
        "export function start() {}\n".repeat(500),
    )
    .unwrap();
    let dir = site.path().to_str().unwrap().to_owned();
    let manager = ManagerProcess::start_with(0, &["--explorer-dir", &dir]).await;
    let http = http_client();
    let get = |path: &str, encoding: Option<&str>| {
        let mut request = http.get(format!("{}{path}", manager.url));
        if let Some(encoding) = encoding {
            request = request.header("accept-encoding", encoding);
        }
        request.send()
    };
    let header = |response: &reqwest::Response, name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
    };

    let response = get(&format!("/{WASM}"), Some("gzip")).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type").as_deref(),
        Some("application/wasm")
    );
    assert_eq!(
        header(&response, "content-encoding").as_deref(),
        Some("gzip")
    );
    assert_eq!(
        header(&response, "cache-control").as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    let body = response.bytes().await.unwrap();
    assert_eq!(&body[..2], &[0x1f, 0x8b], "a gzip stream");
    assert!(
        body.len() < wasm.len() / 4,
        "{} compressed bytes for {}",
        body.len(),
        wasm.len()
    );
    let response = get(&format!("/{WASM}"), Some("br")).await.unwrap();
    assert_eq!(header(&response, "content-encoding").as_deref(), Some("br"));
    assert!(response.bytes().await.unwrap().len() < wasm.len() / 4);
    let response = get(&format!("/{JS}"), Some("gzip, br")).await.unwrap();
    assert!(
        header(&response, "content-encoding").is_some(),
        "JS is compressed too"
    );
    assert_eq!(
        header(&response, "cache-control").as_deref(),
        Some("public, max-age=31536000, immutable")
    );
    // Asked for nothing, the file comes as it is.
    let response = get(&format!("/{WASM}"), None).await.unwrap();
    assert_eq!(header(&response, "content-encoding"), None);
    assert_eq!(response.bytes().await.unwrap().len(), wasm.len());

    // index.html and the SPA fallback are revalidated on every load, even
    // under a hashed name that this build does not have.
    for path in [
        "/",
        "/index.html",
        "/some/explorer/route",
        "/explorer-0123456789abcdef_bg.wasm",
    ] {
        let response = get(path, None).await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            header(&response, "cache-control").as_deref(),
            Some("no-cache"),
            "{path}"
        );
        assert!(
            response.text().await.unwrap().contains("explorer here"),
            "{path}"
        );
    }

    let cors = http
        .get(format!("{}/nodes", manager.url))
        .header("origin", "http://127.0.0.1:8080")
        .send()
        .await
        .unwrap();
    assert_eq!(
        cors.headers()
            .get("access-control-allow-origin")
            .map(|value| value.to_str().unwrap()),
        Some("*")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_built_explorer_the_root_says_how_to_build_it() {
    let manager =
        ManagerProcess::start_with(0, &["--explorer-dir", "/nonexistent/explorer/dist"]).await;
    assert!(manager.ready_line.starts_with("network ready: 0 nodes"));
    let page = http_client()
        .get(format!("{}/", manager.url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("cargo xtask up"), "{page}");
    assert!(manager.nodes().await.is_empty());
}

#[test]
fn a_missing_node_program_is_named_and_the_manager_exits_with_an_error() {
    let data = tempfile::tempdir().unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_manager"))
        .args(["-p", "0", "--node-port", "0", "-a", "2", "--node-bin"])
        .arg(data.path().join("no-such-node"))
        .arg("--data-dir")
        .arg(data.path())
        .env("RUST_BACKTRACE", "0")
        .output()
        .expect("run the manager");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("could not start the node program") && stderr.contains("no-such-node"),
        "{stderr}"
    );
    assert!(stderr.contains("none of the 2 nodes started"), "{stderr}");
}

/// A subscriber sends pings and a close, nothing large: a message over the
/// cap ends that subscriber's stream (the manager does not buffer it), one
/// under it is ignored, and the manager serves on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_message_on_the_event_stream_ends_that_stream_only() {
    let manager = ManagerProcess::start(1).await;
    let node = manager.nodes().await.remove(0);
    let mut small = manager.events().await;
    let mut large = manager.events().await;
    for stream in [&mut small, &mut large] {
        stream
            .wait_for("the snapshot", |e| {
                matches!(e.kind, EventKind::Snapshot { .. })
            })
            .await;
    }
    let cap = shared::events::MAX_SUBSCRIBER_MESSAGE_BYTES;
    assert!(small.send_text("x".repeat(cap / 2)).await);
    // Its send may fail once the manager has hung up, which is the point.
    let _ = large.send_text("x".repeat(cap * 64)).await;
    assert!(
        large.ends_within(std::time::Duration::from_secs(10)).await,
        "the stream of the subscriber that sent {} bytes ended",
        cap * 64
    );

    let (status, mined): (u16, MinedBody) = manager.post(&format!("/nodes/{}/mine", node.id)).await;
    assert_eq!(status, 200);
    let height = mined.block.header.index;
    small
        .wait_for(
            "the mined block",
            |e| matches!(e.kind, EventKind::BlockMined { height: h, .. } if h == height),
        )
        .await;
    let mut fresh = manager.events().await;
    fresh
        .wait_for("a new subscriber's snapshot", |e| {
            matches!(e.kind, EventKind::Snapshot { .. })
        })
        .await;
}
