//! The HTTP API against a real node process: the seed's endpoints, chain
//! replacement, and every kind of bad input an endpoint can get.

mod common;

use common::{EventStream, TestNode};
use node::testing::DocumentedOperation;
use serde_json::json;
use shared::api::{ChainBody, ErrorBody, InvalidChainBody, ReplaceChainResponse, StatusBody};
use shared::events::EventKind;
use shared::{Block, Entry, Preset, Rejection, extend_chain};

/// A valid regtest chain of `blocks` blocks after genesis.
fn local_chain(blocks: usize) -> Vec<Block> {
    let params = Preset::Regtest.params();
    let mut chain = Vec::new();
    let mut now = params.genesis.header.timestamp;
    extend_chain(&params, &mut chain, blocks, "test-client", || {
        now += 1_000;
        now
    });
    chain
}

async fn error_of(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: ErrorBody = response.json().await.expect("an ErrorBody");
    (status, body.error)
}

#[tokio::test]
async fn chain_replace_adopts_only_valid_chains_with_more_work() {
    let node = TestNode::start();
    node.mine().await;
    node.mine().await;
    let before: ChainBody = node.get("/chain").await;

    // Tampered: block 4's content changed after it was mined.
    let mut tampered = local_chain(8);
    tampered[4].entries.push(Entry::data("forged"));
    let response = node
        .post_json("/chain/replace", &json!({ "chain": tampered }))
        .await;
    assert_eq!(response.status(), 422);
    let body: InvalidChainBody = response.json().await.unwrap();
    assert_eq!(body.index, 4);
    assert!(
        matches!(body.reason, Rejection::WrongMerkleRoot { .. }),
        "{:?}",
        body.reason
    );
    let unchanged: ChainBody = node.get("/chain").await;
    assert_eq!(
        unchanged, before,
        "an invalid chain changed the node's state"
    );

    // Longer and valid: adopted.
    let longer = local_chain(5);
    let response = node
        .post_json("/chain/replace", &json!({ "chain": longer }))
        .await;
    assert_eq!(response.status(), 201);
    let body: ReplaceChainResponse = response.json().await.unwrap();
    assert_eq!((body.length, body.tip), (6, longer[5].hash));
    let now: ChainBody = node.get("/chain").await;
    assert_eq!(now.chain, longer);
    assert_eq!(now.length, 6);

    // Shorter (the bare-array form of the body): valid but less work.
    let shorter = local_chain(3);
    let response = node.post_json("/chain/replace", &shorter).await;
    let (status, error) = error_of(response).await;
    assert_eq!(status, 409, "{error}");
    let after: ChainBody = node.get("/chain").await;
    assert_eq!(after.chain, longer);
}

#[tokio::test]
async fn chain_pages_by_height() {
    let node = TestNode::start();
    for _ in 0..5 {
        node.mine().await;
    }
    let page: ChainBody = node.get("/chain?from=2&limit=2").await;
    assert_eq!(page.length, 6);
    let heights: Vec<u64> = page.chain.iter().map(|b| b.header.index).collect();
    assert_eq!(heights, [2, 3]);
}

#[tokio::test]
async fn register_accepts_both_forms_and_refuses_missing_nodes() {
    let node = TestNode::start();
    let plain = json!({ "nodes": ["a1"], "addresses": ["127.0.0.1:1"] });
    let response = node.post_json("/nodes/register", &plain).await;
    assert_eq!(response.status(), 201);
    // The original double-encoded the body as a JSON string.
    let double = json!(json!({ "nodes": ["b2"], "addresses": ["127.0.0.1:2"] }).to_string());
    let response = node.post_json("/nodes/register", &double).await;
    assert_eq!(response.status(), 201);
    let body: shared::api::RegisterResponse = response.json().await.unwrap();
    assert_eq!(body.total_nodes, 2);
    let ids: shared::api::NodeIdBody = node.get("/node/id").await;
    assert_eq!(ids.nodes.get("a1").map(String::as_str), Some("127.0.0.1:1"));
    assert_eq!(ids.nodes.get("b2").map(String::as_str), Some("127.0.0.1:2"));

    let (status, _) = error_of(
        node.post_json("/nodes/register", &json!({ "addresses": [] }))
            .await,
    )
    .await;
    assert_eq!(status, 400);
    // An id without an address cannot be contacted: skipped, and said so.
    let unpaired = json!({ "nodes": ["x", "y"], "addresses": ["127.0.0.1:3"] });
    let response = node.post_json("/nodes/register", &unpaired).await;
    assert_eq!(response.status(), 201);
    let body: shared::api::RegisterResponse = response.json().await.unwrap();
    assert_eq!(body.total_nodes, 3);
    assert!(
        body.message
            .contains("1 id(s) without an address were skipped"),
        "{}",
        body.message
    );
    let bad_address = json!({ "nodes": ["x"], "addresses": ["not an address"] });
    assert_eq!(
        error_of(node.post_json("/nodes/register", &bad_address).await)
            .await
            .0,
        422
    );
}

#[tokio::test]
async fn malformed_and_mistyped_bodies_are_4xx_json() {
    let node = TestNode::start();
    let client = common::http_client();
    for path in [
        "/chain/replace",
        "/nodes/register",
        "/entries",
        "/block/new",
    ] {
        let response = client
            .post(node.url(path))
            .body("{not json")
            .send()
            .await
            .unwrap();
        assert_eq!(error_of(response).await.0, 400, "{path}");
    }
    // Not a chain at all is a bad request; 422 means a consensus rule broke.
    assert_eq!(
        error_of(
            node.post_json("/chain/replace", &json!({ "chain": 5 }))
                .await
        )
        .await
        .0,
        400
    );
    let wrong_types = [
        ("/nodes/register", json!({ "nodes": "abc" })),
        ("/entries", json!({ "data": 42 })),
        ("/block/new", json!({ "hash": "zz" })),
    ];
    for (path, body) in wrong_types {
        assert_eq!(
            error_of(node.post_json(path, &body).await).await.0,
            422,
            "{path}"
        );
    }
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let node = TestNode::start();
    let doc: serde_json::Value = node.get("/openapi.json").await;
    let limit = |path: &str| {
        if path == "/chain/replace" {
            node::api::CHAIN_BODY_LIMIT
        } else {
            node::api::BODY_LIMIT
        }
    };
    let genesis = Preset::Regtest.params().genesis.hash.to_string();
    let base = node.url("");
    let tried = node::testing::assert_bodies_over_the_limit_get_413(
        &common::http_client(),
        base.trim_end_matches('/'),
        &doc,
        "no token needed",
        limit,
        |path| path.replace("{hash}", &genesis),
    )
    .await;
    assert!(tried >= 9, "only {tried} operations take a body");
    // Within the body limit but over the entry limit: refused as bad input.
    let long = json!({ "data": "x".repeat(shared::MAX_DATA_BYTES + 1) });
    assert_eq!(
        error_of(node.post_json("/entries", &long).await).await.0,
        400
    );
}

#[tokio::test]
async fn unknown_hashes_bad_hashes_and_bad_locators() {
    let node = TestNode::start();
    let client = common::http_client();
    let unknown = "ab".repeat(32);
    let response = client
        .get(node.url(&format!("/blocks/{unknown}")))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.0, 404);
    let response = client.get(node.url("/blocks/xyz")).send().await.unwrap();
    assert_eq!(error_of(response).await.0, 400);
    let response = client
        .get(node.url("/headers?locator=nothex"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.0, 400);
    let too_long = vec![unknown.clone(); 65].join(",");
    let response = client
        .get(node.url(&format!("/headers?locator={too_long}")))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.0, 400);
    let response = client
        .get(node.url("/chain?from=abc"))
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(response).await.0, 400);
    let response = client.get(node.url("/no/such/path")).send().await.unwrap();
    assert_eq!(error_of(response).await.0, 404);
    let response = client.delete(node.url("/chain")).send().await.unwrap();
    assert_eq!(error_of(response).await.0, 405);
}

#[tokio::test]
async fn headers_after_a_locator_and_blocks_by_hash() {
    let node = TestNode::start();
    for _ in 0..4 {
        node.mine().await;
    }
    let chain: ChainBody = node.get("/chain").await;
    let locator = format!("{},{}", "cd".repeat(32), chain.chain[2].hash);
    let headers: shared::api::HeadersBody = node.get(&format!("/headers?locator={locator}")).await;
    let heights: Vec<u64> = headers.headers.iter().map(|h| h.index).collect();
    assert_eq!(heights, [3, 4]);
    let block: Block = node.get(&format!("/blocks/{}", chain.chain[3].hash)).await;
    assert_eq!(block, chain.chain[3]);
}

#[tokio::test]
async fn an_invalid_pushed_block_is_refused_with_its_reason() {
    let node = TestNode::start();
    let mut events = EventStream::of_node(&node).await;
    let mut chain = local_chain(1);
    let mut block = chain.pop().unwrap();
    block.header.timestamp = u64::MAX / 2;
    let block = shared::solve(Block::assemble(block.header, block.entries)).unwrap();
    let (status, error) = error_of(node.post_json("/block/new", &block).await).await;
    assert_eq!(status, 422);
    assert!(error.contains("timestamp too far in the future"), "{error}");
    let rejected = events
        .wait_for("block_rejected", |e| {
            matches!(e.kind, EventKind::BlockRejected { .. })
        })
        .await;
    let EventKind::BlockRejected { summary, hash, .. } = rejected.kind else {
        unreachable!()
    };
    assert_eq!(summary, "timestamp too far in the future");
    assert_eq!(hash, block.hash);
    assert_eq!(node.status().await.height, 0);
}

/// Copies of one block at once, and children sent together with their
/// parents: each block joins once (one event), none is lost.
#[tokio::test]
async fn blocks_pushed_at_once_join_once_and_none_is_lost() {
    let node = TestNode::start();
    let mut events = EventStream::of_node(&node).await;
    let chain = local_chain(12);
    // One is stored (200); the others are known by then (200) or find it
    // being stored (202).
    let copies = (0..8).map(|_| node.post_json("/block/new", &chain[1]));
    for response in futures_util::future::join_all(copies).await {
        assert!(
            matches!(response.status().as_u16(), 200 | 202),
            "{}",
            response.status()
        );
    }
    for pair in chain[2..].chunks(2) {
        // The child first, so it often arrives while its parent is stored.
        let pushes = pair.iter().rev().map(|b| node.post_json("/block/new", b));
        for response in futures_util::future::join_all(pushes).await {
            assert!(
                matches!(response.status().as_u16(), 200 | 202),
                "{}",
                response.status()
            );
        }
    }
    common::wait_until(
        "every pushed block to join",
        100,
        std::time::Duration::from_millis(100),
        || async {
            let status = node.status().await;
            (status.best_hash == chain[12].hash).then_some(())
        },
    )
    .await;
    assert_eq!(node.status().await.height, 12);

    // Every block event was sent before the answers; one more event marks
    // the end of them in the stream.
    let marker = shared::api::EntryRequest {
        data: "marker".into(),
    };
    assert_eq!(node.post_json("/entries", &marker).await.status(), 201);
    let mut accepted = std::collections::HashMap::new();
    events
        .wait_for("the marker entry", |e| match &e.kind {
            EventKind::BlockAccepted { hash, .. } => {
                *accepted.entry(*hash).or_insert(0) += 1;
                false
            }
            EventKind::EntryAdded { data, .. } => data == "marker",
            _ => false,
        })
        .await;
    for block in &chain[1..] {
        assert_eq!(
            accepted.get(&block.hash),
            Some(&1),
            "block {}",
            block.header.index
        );
    }
    assert_eq!(accepted.len(), 12);
}

/// What a refused request must not have changed; the hash rate moves by
/// itself.
fn settled(mut status: StatusBody) -> StatusBody {
    status.hash_rate = 0.0;
    status
}

/// The document marks which operations need the token. Each of them
/// refuses a request with no token, a wrong one or another scheme, and
/// takes the right one; all the refusals together change nothing. Every
/// other operation is a read, open to all.
#[tokio::test]
async fn every_mutating_endpoint_needs_the_token_and_reads_stay_open() {
    const TOKEN: &str = "s3cret";
    let dir = tempfile::tempdir().unwrap();
    let node = TestNode::start_in(dir.path(), &["--token", TOKEN]);
    let client = common::http_client();
    let doc: serde_json::Value = node.get("/openapi.json").await;
    let operations = node::testing::documented_operations(&doc);
    let genesis = Preset::Regtest.params().genesis.hash.to_string();
    let url = |path: &str| node.url(&path.replace("{hash}", &genesis));

    node::testing::assert_reads_stay_open(&client, &operations, &url).await;
    let guarded: Vec<_> = operations.iter().filter(|o| o.guarded).collect();
    // The original's GETs that change things are among them.
    for path in ["/mine", "/block/new", "/shutdown", "/p2p"] {
        assert!(
            guarded
                .iter()
                .any(|o| o.path == path && o.method == reqwest::Method::GET),
            "GET {path} is not guarded"
        );
    }
    assert!(guarded.len() >= 19, "{guarded:?}");

    let before = settled(node.get("/status").await);
    for operation in &guarded {
        node::testing::assert_refused_without_token(
            &client,
            &operation.method,
            &url(&operation.path),
            TOKEN,
        )
        .await;
    }
    assert_eq!(
        settled(node.get("/status").await),
        before,
        "a refused request changed the node"
    );
    let chain: ChainBody = node.get("/chain").await;
    assert_eq!(chain.length, 1);

    // With the token each is taken (its body, `{}`, may still be refused);
    // the shutdowns go last.
    let (stops, others): (Vec<&DocumentedOperation>, Vec<&DocumentedOperation>) =
        guarded.iter().partition(|o| o.path == "/shutdown");
    for operation in others.iter().chain(&stops[..1]) {
        if operation.path == "/shutdown" {
            let mined: ChainBody = node.get("/chain").await;
            assert!(mined.length > 1, "the right token mined no block");
        }
        node::testing::assert_taken_with_token(
            &client,
            &operation.method,
            &url(&operation.path),
            TOKEN,
        )
        .await;
    }
}

/// The node endpoints the original project's README documents, with the
/// method it used.
const ORIGINAL_ENDPOINTS: [(&str, &str); 7] = [
    ("get", "/chain"),
    ("post", "/chain/replace"),
    ("post", "/nodes/register"),
    ("get", "/mine"),
    ("get", "/block/new"),
    ("get", "/node/id"),
    ("get", "/shutdown"),
];

/// Every (path, method) the document lists.
fn operations(doc: &serde_json::Value) -> Vec<(String, String)> {
    let paths = doc["paths"].as_object().expect("paths");
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete", "head", "options"] {
            if item.get(method).is_some() {
                operations.push((path.clone(), method.to_owned()));
            }
        }
    }
    operations
}

#[tokio::test]
async fn openapi_documents_the_original_paths_and_only_routed_ones() {
    let node = TestNode::start();
    let doc: serde_json::Value = node.get("/openapi.json").await;
    for (method, path) in ORIGINAL_ENDPOINTS {
        assert!(
            doc["paths"][path][method].is_object(),
            "{method} {path} missing from /openapi.json"
        );
    }
    node::testing::assert_documents_schemas(
        &doc,
        &[
            "Block",
            "Header",
            "ChainBody",
            "StatusBody",
            "ErrorBody",
            "Rejection",
        ],
    );

    // Ask the real node for every documented operation: none may be
    // unrouted (the fallbacks answer 404 and 405). Shutting down gets a
    // node of its own each time.
    let client = common::http_client();
    let genesis = shared::Preset::Regtest.params().genesis.hash.to_string();
    let operations = operations(&doc);
    assert!(operations.len() >= 20, "{operations:?}");
    for (path, method) in operations {
        let stopping = (path == "/shutdown").then(TestNode::start);
        let target = stopping.as_ref().unwrap_or(&node);
        let url = target.url(&path.replace("{hash}", &genesis));
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = client.request(method.clone(), url).send().await.unwrap();
        let status = response.status().as_u16();
        assert!(
            status != 404 && status != 405,
            "{method} {path} is documented but answers {status}"
        );
    }
}

#[tokio::test]
async fn the_openapi_document_is_valid_and_every_response_has_a_schema() {
    let node = TestNode::start();
    let doc: serde_json::Value = node.get("/openapi.json").await;
    node::testing::assert_valid_openapi(&doc);
    let mut ids = std::collections::HashSet::new();
    for (path, method) in operations(&doc) {
        let operation = &doc["paths"][&path][&method];
        let id = operation["operationId"].as_str().unwrap_or_default();
        assert!(ids.insert(id.to_owned()), "operationId {id:?} used twice");
        let responses = operation["responses"].as_object().expect("responses");
        for (status, response) in responses {
            let content = response["content"].as_object();
            assert!(
                content.is_some_and(|c| c.values().all(|m| m["schema"].is_object())),
                "{method} {path} {status} has no schema: {response}"
            );
        }
    }
}

/// A subscriber sends pings and a close, nothing large: a message over the
/// cap ends that subscriber's stream (the node does not buffer it), one
/// under it is ignored, and the node serves on.
#[tokio::test]
async fn an_oversized_message_on_the_event_stream_ends_that_stream_only() {
    let node = TestNode::start();
    let mut small = EventStream::of_node(&node).await;
    let mut large = EventStream::of_node(&node).await;
    let cap = shared::events::MAX_SUBSCRIBER_MESSAGE_BYTES;
    assert!(small.send_text("x".repeat(cap / 2)).await);
    // Its send may fail once the node has hung up, which is the point.
    let _ = large.send_text("x".repeat(cap * 64)).await;
    assert!(
        large.ends_within(std::time::Duration::from_secs(10)).await,
        "the stream of the subscriber that sent {} bytes ended",
        cap * 64
    );

    let height = node.mine().await;
    small
        .wait_for(
            "the mined block",
            |e| matches!(e.kind, EventKind::BlockMined { height: h, .. } if h == height),
        )
        .await;
    let mut fresh = EventStream::of_node(&node).await;
    let height = node.mine().await;
    fresh
        .wait_for(
            "the next mined block",
            |e| matches!(e.kind, EventKind::BlockMined { height: h, .. } if h == height),
        )
        .await;
}
