//! The network lab's bodies: the manager's `GET /stats` (and the `stats`
//! event that carries the same figures), and the hash power commands
//! `POST /nodes/{id}/hashrate` and `POST /network/hashrate`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::hash::BlockHash;

/// Network metrics since the network started or since `POST /stats/reset`,
/// folded from every node's events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NetworkStats {
    /// When counting began (ms since the epoch): the manager's start or the
    /// last reset.
    pub since: u64,
    /// When these figures were computed.
    pub at: u64,
    /// Running nodes the figures speak of.
    pub running_nodes: usize,
    /// The best tip most running nodes are on (ties: the higher, then the
    /// smaller hash), and how many are on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub majority_tip: Option<BlockHash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub majority_height: Option<u64>,
    pub majority_nodes: usize,
    /// Blocks mined since `since` (`block_mined` events).
    pub blocks_found: u64,
    /// Of those, ancestors of the majority tip (or the tip itself).
    pub best_chain_blocks: u64,
    /// Of those, neither on the best chain nor a descendant of its tip.
    pub stale_blocks: u64,
    /// Of those, descendants of the majority tip that most nodes do not
    /// have yet: neither stale nor on the best chain so far.
    pub pending_blocks: u64,
    /// stale / (stale + best chain); 0 before any block.
    pub stale_rate: f64,
    pub reorgs: ReorgStats,
    pub propagation: PropagationStats,
    /// One row per node that mined or runs.
    pub miners: Vec<MinerStats>,
    /// Branches running nodes are on other than the majority's.
    pub forks: Vec<ForkInfo>,
    pub hash_power: HashPowerBody,
    /// Events the statistics missed because they fell behind the hub.
    pub events_missed: u64,
}

/// `chain_reorganized` events of every node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReorgStats {
    pub count: u64,
    /// How many reorganisations took off this many blocks, by depth (JSON
    /// object keys are strings: `{"1": 3}`).
    #[cfg_attr(feature = "openapi", schema(value_type = BTreeMap<String, u64>))]
    pub depths: BTreeMap<u64, u64>,
}

/// How long blocks took from `block_mined` at their miner to reach a share
/// of the running nodes (`block_mined` or `block_accepted` at each node).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PropagationStats {
    /// To half of the running nodes (the miner counts).
    pub to_50: Percentiles,
    pub to_90: Percentiles,
    pub to_100: Percentiles,
}

/// Percentiles (nearest rank) in ms over `blocks` blocks; zero when there
/// are none.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Percentiles {
    pub blocks: u64,
    pub p50_ms: u64,
    pub p90_ms: u64,
    pub p99_ms: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MinerStats {
    pub node: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// Share of the network's hash power set for it (0 to 1).
    pub hash_share: f64,
    /// Its measured hash rate over all running nodes' (0 to 1).
    pub measured_share: f64,
    pub blocks_found: u64,
    pub best_chain_blocks: u64,
    pub stale_blocks: u64,
    /// Its blocks over all best-chain blocks found since `since`.
    pub best_chain_share: f64,
}

/// A branch some running nodes are on that is not the majority's chain
/// (neither an ancestor nor a descendant of the majority tip).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForkInfo {
    pub tip: BlockHash,
    pub height: u64,
    /// Ids of the nodes on it.
    pub nodes: Vec<String>,
    /// Height of the last block it shares with the majority's chain, when
    /// known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fork_height: Option<u64>,
}

/// The manager's hash power settings: `GET /network/hashrate`, and the
/// answer to both hash rate commands.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HashPowerBody {
    /// What this machine's cores did at start-up, in attempts/s.
    pub capacity_attempts_per_sec: f64,
    pub cores: usize,
    /// Sum of the caps set on the nodes (0 while none is set).
    pub total_attempts_per_sec: u64,
    /// Sum of the running nodes' measured rates.
    pub measured_attempts_per_sec: f64,
    pub nodes: Vec<NodeHashPower>,
    /// Lab chain only: the interval the fixed difficulty was set for, and
    /// the total it assumed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab_block_interval_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab_network_hashrate: Option<u64>,
    /// Lab chain only: the mean block interval the set total gives at the
    /// fixed difficulty (`T · H_lab / total`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_block_interval_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeHashPower {
    pub node: String,
    pub address: String,
    /// The cap set on it in attempts/s; 0 is none.
    pub attempts_per_sec: u64,
    /// That cap over the total set.
    pub share: f64,
}

/// The manager's `POST /nodes/{id}/hashrate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeHashrateRequest {
    /// Cap in attempts/s over all the node's mining threads; 0 is none.
    /// A number, so that a negative or fractional one gets a clear answer.
    pub attempts_per_sec: f64,
}

/// `POST /network/hashrate`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NetworkHashrateRequest {
    /// Attempts/s over all nodes.
    pub total: f64,
    #[serde(default)]
    pub distribution: Distribution,
}

/// How a total is split: `"equal"`, `"zipf"` (∝ 1/rank in the node table's
/// order), or `{"<node id, port or host:port>": share, ...}` with shares in
/// [0, 1] summing to at most 1 (nodes not named get 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(untagged)]
pub enum Distribution {
    Named(String),
    Shares(BTreeMap<String, f64>),
}

impl Default for Distribution {
    fn default() -> Self {
        Distribution::Named("equal".to_owned())
    }
}
