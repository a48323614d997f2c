//! The manager's `GET /metrics`: the node table and the network metrics of
//! [`crate::stats`] in OpenMetrics text, written by `prometheus-client`.
//!
//! The registry is built afresh for each scrape from the same figures as
//! `GET /stats`, so the two never disagree and a `POST /stats/reset` resets
//! both; the block counts are therefore gauges (they go back to 0 on a
//! reset), not counters.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use shared::api::{NodeState, NodeSummary};
use shared::stats::NetworkStats;

/// `Content-Type` of the answer.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct NodeLabels {
    node: String,
    address: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReachLabels {
    /// Share of the running nodes reached, in percent.
    reach: String,
}

type FloatGauge = Gauge<f64, AtomicU64>;

fn propagation_histogram() -> Histogram {
    // 5 ms to ~41 s: a loopback hop up to a slow lab link and beyond.
    Histogram::new(exponential_buckets(0.005, 2.0, 14))
}

/// What each node's row and the metrics say, as OpenMetrics text.
/// `propagation` holds the samples behind `stats.propagation` (to 50, 90
/// and 100 % of the running nodes), in ms.
/// `peers` is each node's connected links, by id, from its last status.
pub fn render(
    nodes: &[NodeSummary],
    peers: &BTreeMap<String, usize>,
    stats: &NetworkStats,
    propagation: &[Vec<u64>; 3],
) -> String {
    let links = peers;
    let mut registry = Registry::with_prefix("powplay");

    let height = Family::<NodeLabels, Gauge>::default();
    let found = Family::<NodeLabels, Gauge>::default();
    let best = Family::<NodeLabels, Gauge>::default();
    let peers = Family::<NodeLabels, Gauge>::default();
    let running = Family::<NodeLabels, Gauge>::default();
    let hash_rate = Family::<NodeLabels, FloatGauge>::default();
    let limit = Family::<NodeLabels, Gauge>::default();
    for node in nodes.iter().filter(|node| !node.id.is_empty()) {
        let labels = NodeLabels {
            node: node.id.clone(),
            address: node.address.clone(),
        };
        let as_gauge = |value: u64| i64::try_from(value).unwrap_or(i64::MAX);
        running
            .get_or_create(&labels)
            .set(i64::from(node.state == NodeState::Running));
        if let Some(value) = node.height {
            height.get_or_create(&labels).set(as_gauge(value));
        }
        hash_rate.get_or_create(&labels).set(node.hash_rate);
        limit
            .get_or_create(&labels)
            .set(as_gauge(node.hashrate_limit));
        if let Some(count) = links.get(&node.id) {
            peers.get_or_create(&labels).set(as_gauge(*count as u64));
        }
        if let Some(miner) = stats.miners.iter().find(|miner| miner.node == node.id) {
            found
                .get_or_create(&labels)
                .set(as_gauge(miner.blocks_found));
            best.get_or_create(&labels)
                .set(as_gauge(miner.best_chain_blocks));
        }
    }
    registry.register("node_running", "1 while the node runs", running);
    registry.register("node_height", "The node's best-chain height", height);
    registry.register(
        "node_blocks_found",
        "Blocks the node mined since the start or the last POST /stats/reset",
        found,
    );
    registry.register(
        "node_best_chain_blocks",
        "Of those, blocks on the majority's best chain",
        best,
    );
    registry.register("node_peers", "The node's connected peer links", peers);
    registry.register(
        "node_hash_rate",
        "The node's measured hash rate, attempts/s",
        hash_rate,
    );
    registry.register(
        "node_hashrate_limit",
        "The cap set on the node, attempts/s (0: none)",
        limit,
    );

    let gauge = |value: u64| {
        let gauge = Gauge::<i64>::default();
        gauge.set(i64::try_from(value).unwrap_or(i64::MAX));
        gauge
    };
    let stale_rate = FloatGauge::default();
    stale_rate.set(stats.stale_rate);
    registry.register(
        "stale_rate",
        "Stale blocks over stale plus best-chain blocks",
        stale_rate,
    );
    registry.register("blocks_found", "Blocks mined", gauge(stats.blocks_found));
    registry.register(
        "stale_blocks",
        "Blocks neither on the majority's chain nor built on its tip",
        gauge(stats.stale_blocks),
    );
    registry.register(
        "reorgs",
        "Chain reorganisations at any node",
        gauge(stats.reorgs.count),
    );
    let depths = Histogram::new(exponential_buckets(1.0, 2.0, 8));
    for (depth, count) in &stats.reorgs.depths {
        for _ in 0..*count {
            depths.observe(*depth as f64);
        }
    }
    registry.register(
        "reorg_depth",
        "Blocks taken off the old branch per reorganisation",
        depths,
    );
    let delays =
        Family::<ReachLabels, Histogram>::new_with_constructor(propagation_histogram as fn() -> _);
    for (reach, sample) in ["50", "90", "100"].into_iter().zip(propagation) {
        let histogram = delays.get_or_create(&ReachLabels {
            reach: reach.to_owned(),
        });
        for ms in sample {
            histogram.observe(*ms as f64 / 1000.0);
        }
    }
    registry.register_with_unit(
        "propagation",
        "Time from block_mined to the block being at this percentage of the running nodes",
        prometheus_client::registry::Unit::Seconds,
        delays,
    );

    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = encode(&mut text, &registry);
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use shared::BlockHash;
    use shared::stats::{PropagationStats, ReorgStats};

    use super::*;

    #[test]
    fn the_text_carries_each_family_and_its_values() {
        let node = NodeSummary {
            id: "abc".to_owned(),
            address: "127.0.0.1:5000".to_owned(),
            pid: None,
            state: NodeState::Running,
            height: Some(42),
            best_hash: Some(BlockHash::ZERO),
            mining: true,
            hash_rate: 1500.5,
            isolated: false,
            hashrate_limit: 2000,
            hash_share: 1.0,
            measured_share: 1.0,
        };
        let stats = NetworkStats {
            since: 0,
            at: 1,
            running_nodes: 1,
            majority_tip: None,
            majority_height: None,
            majority_nodes: 1,
            blocks_found: 10,
            best_chain_blocks: 9,
            stale_blocks: 1,
            pending_blocks: 0,
            stale_rate: 0.1,
            reorgs: ReorgStats {
                count: 3,
                depths: BTreeMap::from([(1, 2), (3, 1)]),
            },
            propagation: PropagationStats::default(),
            miners: Vec::new(),
            forks: Vec::new(),
            hash_power: Default::default(),
            events_missed: 0,
        };
        let peers = BTreeMap::from([("abc".to_owned(), 5)]);
        let samples = [vec![10, 20], vec![30], vec![]];
        let text = render(&[node], &peers, &stats, &samples);
        let labels = r#"{node="abc",address="127.0.0.1:5000"}"#;
        for line in [
            format!("powplay_node_height{labels} 42"),
            format!("powplay_node_peers{labels} 5"),
            format!("powplay_node_hash_rate{labels} 1500.5"),
            format!("powplay_node_hashrate_limit{labels} 2000"),
            "powplay_stale_rate 0.1".to_owned(),
            "powplay_reorgs 3".to_owned(),
            "powplay_reorg_depth_count 3".to_owned(),
            "powplay_reorg_depth_sum 5.0".to_owned(),
            r#"powplay_propagation_seconds_count{reach="50"} 2"#.to_owned(),
            r#"powplay_propagation_seconds_sum{reach="90"} 0.03"#.to_owned(),
        ] {
            assert!(
                text.lines().any(|l| l == line),
                "no line {line:?} in:\n{text}"
            );
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
