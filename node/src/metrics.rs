//! `GET /metrics`: the node's counters and gauges in the OpenMetrics text
//! format, with `prometheus-client` doing the encoding. Counters go up
//! where things happen (a block mined, accepted or rejected, a reorg, a
//! frame over a peer link); gauges are read from the node's state when
//! scraped, so they cannot drift from what `/status` says.

use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::{Registry, Unit};
use shared::Rejection;
use shared::api::{LinkState, StatusBody};

/// What `GET /metrics` answers with.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    /// The rejection's rule, snake_case (`hash_above_target`, …).
    pub reason: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StateLabel {
    pub state: &'static str,
}

type FloatGauge = Gauge<f64, AtomicU64>;

/// Every metric, and the registry that encodes them.
pub struct Metrics {
    registry: Registry,
    blocks_mined: Counter,
    blocks_accepted: Counter,
    blocks_rejected: Family<ReasonLabel, Counter>,
    reorgs: Counter,
    reorg_depth: Histogram,
    pub peer_bytes_sent: Counter,
    pub peer_bytes_received: Counter,
    pub peer_blocks_sent: Counter,
    pub peer_blocks_received: Counter,
    best_height: Gauge,
    chain_work: FloatGauge,
    hash_rate: FloatGauge,
    hashrate_limit: Gauge,
    pending_entries: Gauge,
    mining: Gauge,
    peers: Family<StateLabel, Gauge>,
}

const LINK_STATES: [(LinkState, &str); 4] = [
    (LinkState::Connecting, "connecting"),
    (LinkState::Connected, "connected"),
    (LinkState::Down, "down"),
    (LinkState::Banned, "banned"),
];

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("powplay_node");
        let metrics = Self {
            blocks_mined: Counter::default(),
            blocks_accepted: Counter::default(),
            blocks_rejected: Family::default(),
            reorgs: Counter::default(),
            // Depths 1, 2, 4, … 512 blocks.
            reorg_depth: Histogram::new(exponential_buckets(1.0, 2.0, 10)),
            peer_bytes_sent: Counter::default(),
            peer_bytes_received: Counter::default(),
            peer_blocks_sent: Counter::default(),
            peer_blocks_received: Counter::default(),
            best_height: Gauge::default(),
            chain_work: FloatGauge::default(),
            hash_rate: FloatGauge::default(),
            hashrate_limit: Gauge::default(),
            pending_entries: Gauge::default(),
            mining: Gauge::default(),
            peers: Family::default(),
            registry: Registry::default(),
        };
        let r = &mut registry;
        r.register(
            "best_height",
            "Height of the best chain's tip",
            metrics.best_height.clone(),
        );
        r.register_with_unit(
            "chain_work",
            "Expected proof attempts behind the best tip (a float: it can pass 2^53)",
            Unit::Other("attempts".into()),
            metrics.chain_work.clone(),
        );
        r.register(
            "blocks_mined",
            "Blocks this node mined that joined its tree",
            metrics.blocks_mined.clone(),
        );
        r.register(
            "blocks_accepted",
            "Blocks from peers or HTTP that joined the tree",
            metrics.blocks_accepted.clone(),
        );
        r.register(
            "blocks_rejected",
            "Blocks refused, by the consensus rule they broke",
            metrics.blocks_rejected.clone(),
        );
        r.register(
            "reorgs",
            "Best-chain reorganisations",
            metrics.reorgs.clone(),
        );
        r.register_with_unit(
            "reorg_depth",
            "Blocks taken off the best chain per reorganisation",
            Unit::Other("blocks".into()),
            metrics.reorg_depth.clone(),
        );
        r.register("peers", "Peer links by state", metrics.peers.clone());
        r.register_with_unit(
            "peer_sent",
            "Bytes of frames sent over peer links",
            Unit::Bytes,
            metrics.peer_bytes_sent.clone(),
        );
        r.register_with_unit(
            "peer_received",
            "Bytes of frames received over peer links",
            Unit::Bytes,
            metrics.peer_bytes_received.clone(),
        );
        r.register(
            "peer_blocks_sent",
            "Blocks sent over peer links",
            metrics.peer_blocks_sent.clone(),
        );
        r.register(
            "peer_blocks_received",
            "Blocks received over peer links",
            metrics.peer_blocks_received.clone(),
        );
        r.register_with_unit(
            "hash_rate",
            "Measured proof attempts per second over the last ~2 s, sleeps under the cap included",
            Unit::Other("attempts_per_second".into()),
            metrics.hash_rate.clone(),
        );
        r.register_with_unit(
            "hashrate_limit",
            "The cap on proof attempts per second; 0 is none",
            Unit::Other("attempts_per_second".into()),
            metrics.hashrate_limit.clone(),
        );
        r.register(
            "pending_entries",
            "Data entries waiting to be mined",
            metrics.pending_entries.clone(),
        );
        r.register(
            "mining",
            "1 while continuous mining is on or a /mine request is worked on",
            metrics.mining.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }

    pub fn block_mined(&self) {
        self.blocks_mined.inc();
    }

    pub fn block_accepted(&self) {
        self.blocks_accepted.inc();
    }

    pub fn block_rejected(&self, reason: &Rejection) {
        self.blocks_rejected
            .get_or_create(&ReasonLabel {
                reason: reason.rule(),
            })
            .inc();
    }

    pub fn reorganized(&self, depth: u64) {
        self.reorgs.inc();
        self.reorg_depth.observe(depth as f64);
    }

    /// The exposition, with the gauges set from `status` and the links'
    /// states first.
    pub fn encode(&self, status: &StatusBody, links: &[LinkState]) -> String {
        let int = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.best_height.set(int(status.height));
        self.chain_work.set(status.chain_work.to_f64());
        self.hash_rate.set(status.hash_rate);
        self.hashrate_limit.set(int(status.hashrate_limit));
        self.pending_entries.set(int(status.pending_entries as u64));
        self.mining.set(i64::from(status.mining));
        // Every state, so one that empties shows 0 rather than its last count.
        for (state, name) in LINK_STATES {
            let count = links.iter().filter(|&&s| s == state).count();
            self.peers
                .get_or_create(&StateLabel { state: name })
                .set(int(count as u64));
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
