//! Request and response bodies of the node's and the manager's HTTP APIs,
//! so servers and clients (the manager, the explorer, tests) share one
//! definition of every JSON shape.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::block::Block;
use crate::hash::BlockHash;
use crate::header::Header;
use crate::target::Work;
use crate::validation::Rejection;

/// Every error answer: `{"error": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ErrorBody {
    pub error: String,
}

/// `POST /chain/replace` with an invalid chain: 422 with the first bad block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct InvalidChainBody {
    pub error: String,
    /// Position of the first invalid block in the posted chain.
    pub index: u64,
    pub reason: Rejection,
}

/// A plain confirmation: `{"message": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MessageBody {
    pub message: String,
}

/// `GET /chain`: the best chain (or a page of it) and its full length.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainBody {
    pub chain: Vec<Block>,
    /// Blocks in the whole best chain, genesis included.
    pub length: u64,
}

/// `POST /chain/replace`: the chain to adopt if it is valid and has more work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplaceChainRequest {
    /// The whole chain, genesis first.
    #[cfg_attr(feature = "openapi", schema(min_items = 1))]
    pub chain: Vec<Block>,
}

/// `POST /chain/replace` answered 201.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplaceChainResponse {
    pub message: String,
    pub length: u64,
    pub tip: BlockHash,
}

/// `POST /nodes/register`. The original sent this object double-encoded as
/// a JSON string; both forms are accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    /// Node ids, matched by position with `addresses`.
    pub nodes: Vec<String>,
    /// `host:port` of each node.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<crate::address::HostPortText>))]
    pub addresses: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterResponse {
    pub message: String,
    pub total_nodes: usize,
}

/// `GET /node/id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeIdBody {
    pub node: String,
    pub address: String,
    /// Known peers: id -> `host:port`.
    pub nodes: BTreeMap<String, String>,
}

/// `GET /mine`: the block this node mined.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MinedBody {
    pub message: String,
    pub block: Block,
}

/// `GET /headers`: headers after the locator's fork point, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HeadersBody {
    pub headers: Vec<Header>,
}

/// `POST /entries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EntryRequest {
    /// Text, at most 1 KiB of UTF-8.
    pub data: String,
}

/// `GET /entries/pending`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingEntriesBody {
    pub entries: Vec<String>,
}

/// A chain tip's standing, as Bitcoin Core's `getchaintips` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum TipStatus {
    /// The best chain's tip.
    Active,
    /// A valid branch with less work.
    ValidFork,
    /// Headers known, blocks not (yet) downloaded.
    HeadersOnly,
    /// The branch contains an invalid block.
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TipInfo {
    pub height: u64,
    pub hash: BlockHash,
    /// Blocks from the fork point with the best chain (0 for the active tip).
    pub branch_length: u64,
    pub status: TipStatus,
}

/// `GET /tips`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TipsBody {
    pub tips: Vec<TipInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PeerState {
    /// Not contacted yet.
    New,
    /// Answered the last request.
    Reachable,
    /// The last request failed.
    Unreachable,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PeerInfo {
    pub id: String,
    pub address: String,
    pub state: PeerState,
    /// When it last answered, in ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<u64>,
}

/// Which side dialled a peer link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LinkDirection {
    /// The peer dialled this node.
    Inbound,
    /// This node dialled the peer.
    Outbound,
}

/// Where a peer link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    /// Dialling, or the handshake is under way.
    Connecting,
    /// Handshake done; messages flow.
    Connected,
    /// No live connection (it failed, closed or was refused; see
    /// `last_error`). Outbound links are redialled.
    Down,
    /// Cut off for misbehaving, until `banned_until`.
    Banned,
}

/// One peer link, as `GET /peers` and `/network/links` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkInfo {
    /// The peer's listen `host:port`.
    pub address: String,
    /// The peer's node id (empty until its handshake).
    pub id: String,
    pub direction: LinkDirection,
    pub state: LinkState,
    /// Round-trip time of the last ping.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    pub blocks_sent: u64,
    pub blocks_received: u64,
    pub conditions: LinkConditions,
    /// Why the link last failed or was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// While banned: until when, in ms since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub banned_until: Option<u64>,
}

/// `GET /peers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PeersBody {
    pub peers: Vec<LinkInfo>,
}

/// `POST /peers/connect` and `POST /peers/disconnect`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PeerAddressRequest {
    /// The peer's `host:port`.
    #[cfg_attr(feature = "openapi", schema(value_type = crate::address::HostPortText))]
    pub address: String,
}

/// `GET /network/links` and the answer to `POST /network/links`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinksBody {
    pub links: Vec<LinkInfo>,
}

/// `GET /status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusBody {
    pub id: String,
    pub address: String,
    /// The parameter preset's name.
    pub chain: String,
    /// The lab chain's two inputs (`--chain lab`), from which
    /// [`crate::lab::chain_params`] rebuilds its rules; absent on the
    /// fixed presets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab: Option<crate::lab::LabChain>,
    pub height: u64,
    pub best_hash: BlockHash,
    pub chain_work: Work,
    /// Continuous mining is on, or a `/mine` request is being worked on.
    pub mining: bool,
    /// Proof attempts per second over the last second or two, sleep under
    /// the cap included.
    pub hash_rate: f64,
    /// The cap on proof attempts per second (`--hashrate`,
    /// `POST /mining/hashrate`); 0 means none.
    #[serde(default)]
    pub hashrate_limit: u64,
    pub pending_entries: usize,
    /// Whether the node is cut off from its peers (`/network/isolate`).
    pub isolated: bool,
    /// Bytes of block data received from peers since start: pushed blocks
    /// and fetched headers and blocks (bodies, without HTTP framing).
    pub block_bytes_received: u64,
    pub peers: Vec<PeerInfo>,
    /// The strategy this node runs (`honest` unless set).
    #[serde(default)]
    pub strategy: crate::strategy::Strategy,
}

/// A node as the manager sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    Starting,
    Running,
    Stopped,
    Unreachable,
}

/// One row of the manager's `GET /nodes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodeSummary {
    /// The node's id (empty until it first answered).
    pub id: String,
    pub address: String,
    /// Process id, for nodes the manager spawned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    pub state: NodeState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub best_hash: Option<BlockHash>,
    pub mining: bool,
    pub hash_rate: f64,
    pub isolated: bool,
    /// The hash rate cap the manager set on it, in attempts/s; 0 is none.
    #[serde(default)]
    pub hashrate_limit: u64,
    /// That cap over the total the manager set (0 to 1).
    #[serde(default)]
    pub hash_share: f64,
    /// Its measured hash rate over all running nodes' (0 to 1).
    #[serde(default)]
    pub measured_share: f64,
}

/// The manager's `GET /nodes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NodesBody {
    pub nodes: Vec<NodeSummary>,
}

/// The manager's `POST /nodes/attach`: a node already running elsewhere.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttachRequest {
    /// `host:port` of the running node.
    pub address: String,
}

/// The manager's `GET /shutdown/all`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShutdownReport {
    pub message: String,
    /// Addresses of nodes that exited after being asked to.
    pub stopped: Vec<String>,
    /// Addresses of nodes that had to be killed.
    pub killed: Vec<String>,
}

/// What a node does to the messages it sends over one peer link: the lab's
/// stand-in for netem, applied the same on any host.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkConditions {
    /// One-way delay added to every message, in ms.
    pub latency_ms: u64,
    /// Extra delay drawn uniformly from 0 to this, in ms; order is kept.
    pub jitter_ms: u64,
    /// Chance from 0 to 1 that a whole message is dropped.
    pub loss: f64,
    /// Link speed in kbit/s, for each message's serialisation delay; 0 is
    /// unlimited.
    pub bandwidth_kbps: u64,
    /// Nothing is sent or taken either way until it is up again.
    pub down: bool,
}

impl LinkConditions {
    /// A perfect link: what every link starts as.
    pub const CLEAR: Self = Self {
        latency_ms: 0,
        jitter_ms: 0,
        loss: 0.0,
        bandwidth_kbps: 0,
        down: false,
    };
}

impl Default for LinkConditions {
    fn default() -> Self {
        Self::CLEAR
    }
}

/// `POST /network/links`: the fields given change, on one link (`peer`) or
/// on every link (no `peer`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LinkConditionsUpdate {
    /// `host:port` of the peer; every link if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<crate::address::HostPortText>))]
    pub peer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jitter_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1.0))]
    pub loss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_kbps: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<bool>,
}

/// Why a [`LinkConditionsUpdate`] cannot be applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConditionsError {
    #[error("loss must be a number from 0 to 1")]
    LossOutOfRange,
    #[error("latency_ms and jitter_ms must be at most 600000 (ten minutes)")]
    DelayTooLong,
}

/// Longest latency or jitter a link may be given: ten minutes.
pub const MAX_LINK_DELAY_MS: u64 = 600_000;

impl LinkConditionsUpdate {
    /// `current` with the given fields changed, or why not.
    pub fn applied_to(&self, current: LinkConditions) -> Result<LinkConditions, ConditionsError> {
        if let Some(loss) = self.loss
            && !(0.0..=1.0).contains(&loss)
        {
            return Err(ConditionsError::LossOutOfRange);
        }
        let delay_ok = |ms: Option<u64>| ms.is_none_or(|ms| ms <= MAX_LINK_DELAY_MS);
        if !delay_ok(self.latency_ms) || !delay_ok(self.jitter_ms) {
            return Err(ConditionsError::DelayTooLong);
        }
        Ok(LinkConditions {
            latency_ms: self.latency_ms.unwrap_or(current.latency_ms),
            jitter_ms: self.jitter_ms.unwrap_or(current.jitter_ms),
            loss: self.loss.unwrap_or(current.loss),
            bandwidth_kbps: self.bandwidth_kbps.unwrap_or(current.bandwidth_kbps),
            down: self.down.unwrap_or(current.down),
        })
    }
}

// ---------------------------------------------------------------------------
// The manager's network lab: `GET /network`, `POST /network/topology`,
// `POST /network/links`, `POST /network/partition`, `POST /network/heal`.
// ---------------------------------------------------------------------------

/// The manager's `POST /network/topology`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct TopologyRequest {
    /// `full`, `ring`, `line`, `star`, `random:K` or `small-world:K`.
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "ring"))]
    pub kind: crate::topology::Topology,
}

/// What each end of a link applies to what it sends: `a_to_b` is set at
/// `a`, `b_to_a` at `b`; `None` where that end does not report the link.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DirectedConditions {
    pub a_to_b: Option<LinkConditions>,
    pub b_to_a: Option<LinkConditions>,
}

/// One link between two of the manager's nodes, put together from both
/// ends' `GET /peers`. `a` is the node listed first in `GET /nodes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NetworkLink {
    /// Node id of one end.
    pub a: String,
    /// Node id of the other end.
    pub b: String,
    pub a_address: String,
    pub b_address: String,
    /// `connected` when both ends say so; otherwise the worse of the two.
    pub state: LinkState,
    pub conditions: DirectedConditions,
    /// Last ping round trip, as `a` measured it (else `b`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_ms: Option<f64>,
    pub bytes_a_to_b: u64,
    pub bytes_b_to_a: u64,
}

/// The manager's `GET /network`: nodes, links, the shape and any partition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NetworkBody {
    #[cfg_attr(feature = "openapi", schema(value_type = String, example = "random:8"))]
    pub topology: crate::topology::Topology,
    pub nodes: Vec<NodeSummary>,
    pub links: Vec<NetworkLink>,
    /// The groups of the current partition, by node id; `null` when whole.
    pub partition: Option<Vec<Vec<String>>>,
}

/// Named link conditions, each way (latency is one way, per direction).
/// Round figures of typical networks, not measurements of any one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum LinkPreset {
    /// 1 ms, no jitter, no loss, 1 Gbit/s: switched Ethernet in one room.
    Lan,
    /// 40 ms ± 10 ms, no loss, 100 Mbit/s: across a continent (~80 ms
    /// round trip, e.g. US coast to coast).
    Wan,
    /// 150 ms ± 30 ms, 1% loss, 20 Mbit/s: between continents (ITU-T G.114
    /// takes 150 ms one way as the edge of good; Europe to Asia or
    /// Australia is 250-300 ms round trip).
    Global,
    /// 20 ms ± 20 ms with 5% loss, 10 Mbit/s: a congested Wi-Fi or mobile link.
    Lossy,
}

impl LinkPreset {
    /// The conditions the preset stands for; `down` is not part of it.
    pub fn update(self) -> LinkConditionsUpdate {
        let (latency, jitter, loss, kbps) = match self {
            LinkPreset::Lan => (1, 0, 0.0, 1_000_000),
            LinkPreset::Wan => (40, 10, 0.0, 100_000),
            LinkPreset::Global => (150, 30, 0.01, 20_000),
            LinkPreset::Lossy => (20, 20, 0.05, 10_000),
        };
        LinkConditionsUpdate {
            peer: None,
            latency_ms: Some(latency),
            jitter_ms: Some(jitter),
            loss: Some(loss),
            bandwidth_kbps: Some(kbps),
            down: None,
        }
    }
}

/// The manager's `POST /network/links`: set both directions of every link
/// between `a` and `b`. Either a preset or explicit fields, not both; the
/// fields given change, the others stay.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NetworkLinksRequest {
    /// A node (id, port or host:port) or `*` for every node.
    pub a: String,
    /// A node (id, port or host:port) or `*` for every node.
    pub b: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preset: Option<LinkPreset>,
    /// One-way delay in ms (signed here so a negative value is named, not
    /// just refused as "not a u64").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 600000))]
    pub latency_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 600000))]
    pub jitter_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0.0, maximum = 1.0))]
    pub loss: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0))]
    pub bandwidth_kbps: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub down: Option<bool>,
}

/// The answer to the manager's `POST /network/links`: the links it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NetworkLinksBody {
    pub links: Vec<NetworkLink>,
}

/// The manager's `POST /network/partition`: nodes (id, port or
/// host:port) per group; the nodes not named form one more group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct PartitionRequest {
    pub groups: Vec<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_changes_only_the_fields_it_names() {
        let update = LinkConditionsUpdate {
            latency_ms: Some(300),
            down: Some(true),
            ..Default::default()
        };
        let current = LinkConditions {
            loss: 0.5,
            ..LinkConditions::CLEAR
        };
        let next = update.applied_to(current).unwrap();
        assert_eq!(
            next,
            LinkConditions {
                latency_ms: 300,
                loss: 0.5,
                down: true,
                ..LinkConditions::CLEAR
            }
        );
    }

    #[test]
    fn an_update_out_of_range_is_refused() {
        for loss in [-0.1, 1.5, f64::NAN] {
            let update = LinkConditionsUpdate {
                loss: Some(loss),
                ..Default::default()
            };
            assert_eq!(
                update.applied_to(LinkConditions::CLEAR),
                Err(ConditionsError::LossOutOfRange),
                "{loss}"
            );
        }
        let update = LinkConditionsUpdate {
            jitter_ms: Some(MAX_LINK_DELAY_MS + 1),
            ..Default::default()
        };
        assert_eq!(
            update.applied_to(LinkConditions::CLEAR),
            Err(ConditionsError::DelayTooLong)
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let parsed = serde_json::from_str::<LinkConditionsUpdate>(r#"{"latency":5}"#);
        assert!(parsed.is_err());
        let negative = serde_json::from_str::<LinkConditionsUpdate>(r#"{"latency_ms":-5}"#);
        assert!(negative.is_err(), "a negative latency is not a u64");
    }
}

/// `POST /mining/hashrate`: the new cap on the node's proof attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HashrateRequest {
    /// Attempts per second over all mining threads; 0 removes the cap.
    pub attempts_per_sec: u64,
}

/// The answer to `POST /mining/hashrate`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct HashrateBody {
    /// The cap now in force; 0 means none.
    pub attempts_per_sec: u64,
    /// Attempts per second measured over the last second or two, up to
    /// the change (the miner takes the new cap up within one slice).
    pub measured_attempts_per_sec: f64,
}
