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

/// `GET /status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StatusBody {
    pub id: String,
    pub address: String,
    /// The parameter preset's name.
    pub chain: String,
    pub height: u64,
    pub best_hash: BlockHash,
    pub chain_work: Work,
    /// Continuous mining is on, or a `/mine` request is being worked on.
    pub mining: bool,
    /// Proof attempts per second over the last few seconds.
    pub hash_rate: f64,
    pub pending_entries: usize,
    /// Whether the node is cut off from its peers (`/network/isolate`).
    pub isolated: bool,
    /// Bytes of block data received from peers since start: pushed blocks
    /// and fetched headers and blocks (bodies, without HTTP framing).
    pub block_bytes_received: u64,
    pub peers: Vec<PeerInfo>,
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
