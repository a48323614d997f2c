//! The network lab through the manager: network metrics (`/stats`, the
//! `stats` event, `/metrics`, `/stats/reset`) and hash power commands, on
//! real manager and node processes. Every refused hash rate request is
//! checked to have changed nothing.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{ManagerProcess, wait_until};
use node::testing::http_client;
use serde_json::{Value, json};
use shared::api::{ErrorBody, MinedBody};
use shared::events::EventKind;
use shared::stats::{HashPowerBody, NetworkStats};

async fn stats(manager: &ManagerProcess) -> NetworkStats {
    let (status, stats): (u16, NetworkStats) = manager.get("/stats").await;
    assert_eq!(status, 200);
    stats
}

async fn hash_power(manager: &ManagerProcess) -> HashPowerBody {
    let (status, body): (u16, HashPowerBody) = manager.get("/network/hashrate").await;
    assert_eq!(status, 200);
    body
}

/// Each node's cap, by id: what a refused request must leave alone.
fn caps(body: &HashPowerBody) -> BTreeMap<String, u64> {
    body.nodes
        .iter()
        .map(|node| (node.node.clone(), node.attempts_per_sec))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blocks_mined_show_in_stats_metrics_and_the_stats_event_and_a_reset_clears_them() {
    let manager = ManagerProcess::start(2).await;
    let nodes = manager.nodes().await;
    let (miner, other) = (&nodes[0], &nodes[1]);
    let mut events = manager.events().await;

    for _ in 0..3 {
        let (status, _): (u16, MinedBody) =
            manager.post(&format!("/nodes/{}/mine", miner.id)).await;
        assert_eq!(status, 200);
    }
    manager.converged(3).await;
    let counted = wait_until(
        "the stats to count three blocks that reached both nodes",
        100,
        Duration::from_millis(100),
        || async {
            let stats = stats(&manager).await;
            (stats.propagation.to_100.blocks == 3).then_some(stats)
        },
    )
    .await;
    assert_eq!(counted.running_nodes, 2);
    assert_eq!(counted.blocks_found, 3);
    assert_eq!(counted.best_chain_blocks, 3);
    assert_eq!((counted.stale_blocks, counted.pending_blocks), (0, 0));
    assert_eq!(counted.stale_rate, 0.0);
    assert_eq!(counted.majority_nodes, 2);
    assert_eq!(counted.majority_height, Some(3));
    assert!(counted.forks.is_empty(), "{:?}", counted.forks);
    let row = |id: &str| {
        counted
            .miners
            .iter()
            .find(|row| row.node == id)
            .unwrap_or_else(|| panic!("no miner row for {id}: {:?}", counted.miners))
            .clone()
    };
    assert_eq!(row(&miner.id).blocks_found, 3);
    assert_eq!(row(&miner.id).best_chain_share, 1.0);
    assert_eq!(row(&other.id).blocks_found, 0);
    let to_100 = &counted.propagation.to_100;
    assert!(to_100.p50_ms <= to_100.p99_ms, "{to_100:?}");

    // The same figures as OpenMetrics text.
    let response = http_client()
        .get(format!("{}/metrics", manager.url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("application/openmetrics-text"),
        "{content_type}"
    );
    let text = response.text().await.unwrap();
    let height = format!(
        r#"powplay_node_height{{node="{}",address="{}"}} 3"#,
        miner.id, miner.address
    );
    let found = format!(
        r#"powplay_node_blocks_found{{node="{}",address="{}"}} 3"#,
        miner.id, miner.address
    );
    for line in [height.as_str(), found.as_str(), "powplay_stale_rate 0.0"] {
        assert!(text.lines().any(|l| l == line), "no {line:?} in:\n{text}");
    }
    assert!(
        text.lines()
            .any(|l| l.starts_with(r#"powplay_propagation_seconds_count{reach="100"} "#)),
        "{text}"
    );

    // Every few seconds the figures come on /events too.
    let event = events
        .wait_for(
            "a stats event",
            |event| matches!(&event.kind, EventKind::Stats { stats } if stats.blocks_found == 3),
        )
        .await;
    let EventKind::Stats { stats: carried } = event.kind else {
        unreachable!()
    };
    assert_eq!(carried.best_chain_blocks, 3);

    let (status, reset): (u16, NetworkStats) = manager.post("/stats/reset").await;
    assert_eq!(status, 200);
    assert!(reset.since > counted.since);
    assert_eq!((reset.blocks_found, reset.best_chain_blocks), (0, 0));
    assert_eq!(reset.propagation.to_100.blocks, 0);
    // The network is still there; only the counting started over.
    assert_eq!(reset.majority_height, Some(3));

    let (status, _): (u16, MinedBody) = manager.post(&format!("/nodes/{}/mine", other.id)).await;
    assert_eq!(status, 200);
    manager.converged(4).await;
    let after = wait_until(
        "the stats to count the block after the reset",
        100,
        Duration::from_millis(100),
        || async {
            let stats = stats(&manager).await;
            (stats.best_chain_blocks == 1).then_some(stats)
        },
    )
    .await;
    assert_eq!(after.blocks_found, 1);
    assert_eq!(row_of(&after, &other.id), 1);
    assert_eq!(row_of(&after, &miner.id), 0);
}

fn row_of(stats: &NetworkStats, id: &str) -> u64 {
    stats
        .miners
        .iter()
        .find(|row| row.node == id)
        .map_or(0, |row| row.blocks_found)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_network_total_is_split_equally_by_zipf_or_by_named_shares() {
    let manager = ManagerProcess::start(3).await;
    let nodes = manager.nodes().await;
    let capacity = hash_power(&manager).await;
    assert!(capacity.capacity_attempts_per_sec > 0.0, "{capacity:?}");
    assert!(capacity.cores >= 1);
    assert_eq!(
        capacity.total_attempts_per_sec, 0,
        "no cap before any is set"
    );

    let (status, equal): (u16, HashPowerBody) = manager
        .post_json("/network/hashrate", &json!({"total": 3000}))
        .await;
    assert_eq!(status, 200, "{equal:?}");
    assert_eq!(equal.total_attempts_per_sec, 3000);
    assert!(
        equal.nodes.iter().all(|node| node.attempts_per_sec == 1000),
        "{equal:?}"
    );

    let (status, zipf): (u16, HashPowerBody) = manager
        .post_json(
            "/network/hashrate",
            &json!({"total": 1100, "distribution": "zipf"}),
        )
        .await;
    assert_eq!(status, 200, "{zipf:?}");
    // 1 : 1/2 : 1/3 of 1100 is 600 : 300 : 200.
    let expected: BTreeMap<String, u64> = nodes
        .iter()
        .map(|node| node.id.clone())
        .zip([600, 300, 200])
        .collect();
    assert_eq!(caps(&zipf), expected);

    // Named by id, by port and by host:port; the third node gets 0, which
    // is the least cap, 1 attempt/s.
    let port = common::port_of(&nodes[1].address).to_string();
    let (status, named): (u16, HashPowerBody) = manager
        .post_json(
            "/network/hashrate",
            &json!({"total": 1000, "distribution": {nodes[0].id.clone(): 0.7, port: 0.3}}),
        )
        .await;
    assert_eq!(status, 200, "{named:?}");
    let expected: BTreeMap<String, u64> = nodes
        .iter()
        .map(|node| node.id.clone())
        .zip([700, 300, 1])
        .collect();
    assert_eq!(caps(&named), expected);

    // The nodes themselves say so, and /nodes shows the shares.
    let statuses = manager.statuses().await;
    for status in &statuses {
        assert_eq!(Some(&status.hashrate_limit), expected.get(&status.id));
    }
    let rows = wait_until(
        "/nodes to show the caps",
        40,
        Duration::from_millis(100),
        || async {
            let rows = manager.nodes().await;
            rows.iter()
                .all(|row| expected.get(&row.id) == Some(&row.hashrate_limit))
                .then_some(rows)
        },
    )
    .await;
    let first = &rows[0];
    assert!(
        (first.hash_share - 700.0 / 1001.0).abs() < 1e-9,
        "{first:?}"
    );

    // One node alone; the others keep theirs.
    let (status, one): (u16, HashPowerBody) = manager
        .post_json(
            &format!("/nodes/{}/hashrate", nodes[2].id),
            &json!({"attempts_per_sec": 50}),
        )
        .await;
    assert_eq!(status, 200, "{one:?}");
    let mut expected = expected;
    expected.insert(nodes[2].id.clone(), 50);
    assert_eq!(caps(&one), expected);
}

/// A manager with two nodes capped at 500 attempts/s each, the request
/// `body` to `path` refused with `status` and an error naming the problem
/// (`words`), and every cap as it was. `{first}`, `{first_address}` and
/// `{second}` in `path` or `body` name the nodes.
async fn refused(path: &str, body: Value, status: u16, words: &[&str]) {
    let manager = ManagerProcess::start(2).await;
    let (code, _): (u16, HashPowerBody) = manager
        .post_json("/network/hashrate", &json!({"total": 1000}))
        .await;
    assert_eq!(code, 200);
    let before = hash_power(&manager).await;
    let nodes = manager.nodes().await;
    let named = |text: &str| {
        text.replace("{first}", &nodes[0].id)
            .replace("{first_address}", &nodes[0].address)
            .replace("{second}", &nodes[1].id)
    };
    let path = named(path);
    let body: Value = serde_json::from_str(&named(&body.to_string())).unwrap();

    let (code, error): (u16, ErrorBody) = manager.post_json(&path, &body).await;
    assert_eq!(code, status, "{path} {body}: {error:?}");
    for word in words {
        assert!(
            error.error.contains(word),
            "{word:?} not in {:?}",
            error.error
        );
    }

    let after = hash_power(&manager).await;
    assert_eq!(
        caps(&after),
        caps(&before),
        "a refused request changed a cap"
    );
    assert_eq!(after.total_attempts_per_sec, 1000);
    for status in manager.statuses().await {
        assert_eq!(status.hashrate_limit, 500, "node {} changed", status.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negative_total_is_refused() {
    refused(
        "/network/hashrate",
        json!({"total": -10}),
        400,
        &["total", "negative"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zero_total_is_refused() {
    refused(
        "/network/hashrate",
        json!({"total": 0}),
        400,
        &["total", "at least 1"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_total_over_the_machines_capacity_is_refused() {
    refused(
        "/network/hashrate",
        json!({"total": 1e15}),
        400,
        &["more than this machine can do"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_distribution_is_refused() {
    refused(
        "/network/hashrate",
        json!({"total": 100, "distribution": "pareto"}),
        400,
        &["unknown distribution", "pareto"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_naming_no_node_is_refused() {
    refused(
        "/network/hashrate",
        json!({"total": 100, "distribution": {"nosuchnode": 0.5}}),
        404,
        &["nosuchnode"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_outside_zero_to_one_is_refused() {
    refused(
        "/network/hashrate",
        json!({"total": 100, "distribution": {"{first}": 1.5}}),
        400,
        &["from 0 to 1", "1.5"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shares_summing_over_one_are_refused() {
    refused(
        "/network/hashrate",
        json!({"total": 100, "distribution": {"{first}": 0.75, "{second}": 0.5}}),
        400,
        &["sum to 1.25", "more than 1"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_named_twice_is_refused() {
    refused(
        "/network/hashrate",
        json!({"total": 100, "distribution": {"{first}": 0.2, "{first_address}": 0.2}}),
        400,
        &["name the same node"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_negative_node_rate_is_refused() {
    refused(
        "/nodes/{first}/hashrate",
        json!({"attempts_per_sec": -1}),
        400,
        &["attempts_per_sec", "negative"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_rate_for_an_unknown_node_is_refused() {
    refused(
        "/nodes/nosuchnode/hashrate",
        json!({"attempts_per_sec": 10}),
        404,
        &["nosuchnode"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_rate_over_the_machines_capacity_is_refused() {
    refused(
        "/nodes/{first}/hashrate",
        json!({"attempts_per_sec": 1e15}),
        400,
        &["more than this machine can do"],
    )
    .await;
}
