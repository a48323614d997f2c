//! Bad requests get clear JSON errors with the right status, never a 5xx
//! for bad input; the manager documents itself and serves the explorer.

mod common;

use common::ManagerProcess;
use node::testing::http_client;
use serde_json::Value;
use shared::api::{AttachRequest, ErrorBody, MessageBody, NodeSummary};

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
async fn the_api_is_documented_and_the_explorer_is_served() {
    let site = tempfile::tempdir().unwrap();
    std::fs::write(site.path().join("index.html"), "<html>explorer here</html>").unwrap();
    let dir = site.path().to_str().unwrap().to_owned();
    let manager = ManagerProcess::start_with(1, &["--explorer-dir", &dir]).await;

    let (status, doc): (u16, Value) = manager.get("/openapi.json").await;
    assert_eq!(status, 200);
    let paths = doc["paths"].as_object().expect("paths");
    for path in [
        "/start/mining",
        "/stop/mining",
        "/shutdown/all",
        "/nodes",
        "/nodes/attach",
        "/nodes/{id}/mine",
        "/nodes/{id}/mining/start",
        "/nodes/{id}/mining/stop",
        "/nodes/{id}/isolate",
        "/nodes/{id}/reconnect",
        "/nodes/{id}/shutdown",
        "/nodes/{id}/restart",
        "/nodes/{id}/chain",
        "/nodes/{id}/status",
        "/nodes/{id}/tips",
        "/nodes/{id}/blocks/{hash}",
        "/events",
    ] {
        assert!(paths.contains_key(path), "{path} is not documented");
    }
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for schema in [
        "NodeSummary",
        "ShutdownReport",
        "Event",
        "ErrorBody",
        "AttachRequest",
    ] {
        assert!(schemas.contains_key(schema), "no schema {schema}");
    }

    let http = http_client();
    for path in ["/", "/some/explorer/route"] {
        let response = http
            .get(format!("{}{path}", manager.url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
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
