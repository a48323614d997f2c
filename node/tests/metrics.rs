//! `GET /metrics` against a real node process, read back with a
//! Prometheus text parser: the gauges agree with `/status`, the counters
//! count what happened, a rejected block is counted under its rule.

mod common;

use common::{TestNode, linked_line};
use shared::api::StatusBody;
use shared::{Block, Preset, extend_chain};

/// The scrape, checked for its content type and parsed.
async fn scrape(node: &TestNode) -> prometheus_parse::Scrape {
    let response = common::http_client()
        .get(node.url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    assert!(text.ends_with("# EOF\n"), "not OpenMetrics: {text}");
    prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

/// The value of the sample named `name` whose labels include `labels`.
fn value(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    use prometheus_parse::Value;
    scrape
        .samples
        .iter()
        .find(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .and_then(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
            _ => None,
        })
}

fn must(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    value(scrape, name, labels).unwrap_or_else(|| panic!("no {name} {labels:?} in the scrape"))
}

/// A block on the regtest genesis whose proof does not meet its target.
fn block_with_bad_proof() -> Block {
    let params = Preset::Regtest.params();
    let mut chain = Vec::new();
    let mut now = params.genesis.header.timestamp;
    extend_chain(&params, &mut chain, 1, "metrics-test", || {
        now += 1_000;
        now
    });
    let block = chain.pop().unwrap();
    let target = block.header.bits.to_target().unwrap();
    // Half of all hashes meet regtest's target: a few tries find one that does not.
    let header = (0..1_000u64)
        .map(|proof| shared::Header {
            proof,
            ..block.header
        })
        .find(|h| !target.is_met_by(h.block_hash()))
        .expect("a proof above the target");
    block.with_header(header)
}

#[tokio::test]
async fn the_gauges_follow_status_and_the_counters_count() {
    let node = TestNode::start_with(&["--hashrate", "777"]);
    for _ in 0..3 {
        node.mine().await;
    }
    let status: StatusBody = node.status().await;
    let scrape = scrape(&node).await;
    assert_eq!(
        must(&scrape, "powplay_node_best_height", &[]),
        status.height as f64
    );
    assert_eq!(status.height, 3);
    assert_eq!(must(&scrape, "powplay_node_blocks_mined_total", &[]), 3.0);
    assert_eq!(
        must(&scrape, "powplay_node_blocks_accepted_total", &[]),
        0.0
    );
    assert_eq!(
        must(&scrape, "powplay_node_chain_work_attempts", &[]),
        status.chain_work.to_f64()
    );
    assert_eq!(
        must(
            &scrape,
            "powplay_node_hashrate_limit_attempts_per_second",
            &[]
        ),
        777.0
    );
    assert_eq!(must(&scrape, "powplay_node_pending_entries", &[]), 0.0);
    assert_eq!(must(&scrape, "powplay_node_mining", &[]), 0.0);
    assert_eq!(
        value(
            &scrape,
            "powplay_node_blocks_rejected_total",
            &[("reason", "hash_above_target")]
        ),
        None
    );
}

#[tokio::test]
async fn a_block_with_a_bad_proof_is_counted_under_its_rule() {
    let node = TestNode::start();
    let response = node.post_json("/block/new", &block_with_bad_proof()).await;
    assert_eq!(response.status(), 422);
    let scrape = scrape(&node).await;
    assert_eq!(
        must(
            &scrape,
            "powplay_node_blocks_rejected_total",
            &[("reason", "hash_above_target")]
        ),
        1.0
    );
    assert_eq!(must(&scrape, "powplay_node_best_height", &[]), 0.0);

    let response = node.post_json("/block/new", &block_with_bad_proof()).await;
    assert_eq!(response.status(), 422);
    let scrape = self::scrape(&node).await;
    assert_eq!(
        must(
            &scrape,
            "powplay_node_blocks_rejected_total",
            &[("reason", "hash_above_target")]
        ),
        2.0
    );
}

#[tokio::test]
async fn linked_nodes_count_their_peers_and_link_traffic() {
    let nodes = linked_line(2).await;
    nodes[0].mine().await;
    common::converge("the pair did not agree", &nodes, 1).await;
    let miner = scrape(&nodes[0]).await;
    let follower = scrape(&nodes[1]).await;
    for scrape in [&miner, &follower] {
        assert_eq!(
            must(scrape, "powplay_node_peers", &[("state", "connected")]),
            1.0
        );
        assert_eq!(
            must(scrape, "powplay_node_peers", &[("state", "down")]),
            0.0
        );
        assert!(must(scrape, "powplay_node_peer_sent_bytes_total", &[]) > 0.0);
        assert!(must(scrape, "powplay_node_peer_received_bytes_total", &[]) > 0.0);
    }
    assert_eq!(must(&miner, "powplay_node_blocks_mined_total", &[]), 1.0);
    assert_eq!(
        must(&follower, "powplay_node_blocks_accepted_total", &[]),
        1.0
    );
    assert_eq!(must(&follower, "powplay_node_best_height", &[]), 1.0);
    assert_eq!(
        must(&follower, "powplay_node_peer_blocks_received_total", &[]),
        1.0
    );
    assert_eq!(
        must(&miner, "powplay_node_peer_blocks_sent_total", &[]),
        1.0
    );
}

#[tokio::test]
async fn metrics_are_in_the_openapi_document_as_text() {
    let node = TestNode::start();
    let doc: serde_json::Value = node.get("/openapi.json").await;
    let content = &doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"];
    assert!(
        content["application/openmetrics-text; version=1.0.0; charset=utf-8"]["schema"].is_object(),
        "{content}"
    );
}
