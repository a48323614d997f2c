//! Events nodes and the manager stream over WebSocket (`GET /events`).
//!
//! One JSON object per message: `{"type": ..., "at": <ms>, "node": <id>, ...}`.
//! A node stamps its own id on everything it emits, so the manager forwards
//! node events unchanged and adds its own (`node_started`, `snapshot`, ...)
//! on the same stream; the explorer reads both with this one type.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod decode;

use crate::api::{LinkDirection, NodeState, NodeSummary, TipInfo};
use crate::hash::BlockHash;
use crate::stats::NetworkStats;
use crate::validation::Rejection;

/// The largest message a subscriber may send on an event stream. The
/// stream only flows one way: a subscriber sends at most a ping or a close
/// (control frames carry up to 125 bytes), so anything much larger is
/// someone making the server buffer it, and ends the stream.
pub const MAX_SUBSCRIBER_MESSAGE_BYTES: usize = 1024;

/// Serialized by serde's derive; decoded by hand in `decode` (the JSON
/// shape is the same both ways, and a property test holds them to it).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Event {
    /// Milliseconds since the Unix epoch when the event happened.
    pub at: u64,
    /// Id of the node the event is about; absent for network-wide events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    #[serde(flatten)]
    pub kind: EventKind,
}

/// How a node is mining.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MiningMode {
    /// Mines block after block until stopped.
    Continuous,
    /// Mines one block for a `/mine` request.
    OneBlock,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EventKind {
    /// This node found a block.
    BlockMined {
        height: u64,
        hash: BlockHash,
        /// Proof attempts since work on this template began.
        attempts: u64,
        /// Time from starting on the template to finding the proof.
        elapsed_ms: u64,
        /// Data entries it carries (besides the coinbase).
        entries: usize,
    },
    /// A block from a peer (or a replaced chain) passed validation and is stored.
    BlockAccepted {
        height: u64,
        hash: BlockHash,
        previous_hash: BlockHash,
        /// The sender's address, when known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
        /// Whether the block is now on the best chain.
        active: bool,
    },
    /// A block failed validation.
    BlockRejected {
        hash: BlockHash,
        height: u64,
        reason: Rejection,
        /// The rule in plain words, for feeds.
        summary: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        from: Option<String>,
    },
    /// The best tip moved to another branch.
    ChainReorganized {
        old_tip: BlockHash,
        new_tip: BlockHash,
        /// Blocks taken off the old branch.
        depth: u64,
        fork_height: u64,
        new_height: u64,
    },
    PeerAdded {
        id: String,
        address: String,
    },
    /// A peer stopped answering (said once, until it answers again).
    PeerUnreachable {
        address: String,
        error: String,
    },
    /// A peer link finished its handshake.
    PeerConnected {
        address: String,
        id: String,
        direction: LinkDirection,
    },
    /// A peer link closed or was refused, and why.
    PeerDisconnected {
        address: String,
        reason: String,
    },
    /// A peer misbehaved: it is cut off until `until` (ms since the epoch).
    PeerBanned {
        address: String,
        reason: String,
        until: u64,
    },
    MiningStarted {
        mode: MiningMode,
    },
    MiningStopped,
    /// A data entry joined the pending pool.
    EntryAdded {
        data: String,
        pending: usize,
    },
    /// The node dropped and now ignores its peers (a partition).
    Isolated,
    /// The node restored its peers.
    Reconnected,
    ShuttingDown,
    /// The node's strategy changed (`--strategy`, `POST /strategy`).
    StrategyChanged {
        strategy: crate::strategy::Strategy,
    },
    /// A strategy announced blocks it had withheld.
    BlocksPublished {
        count: u64,
        /// The last of them (the branch's tip).
        tip: BlockHash,
    },
    /// A `timestamp` or `forger` strategy offered a block that breaks a
    /// rule (`deviation`) to `peers` peers.
    BlockOffered {
        hash: BlockHash,
        height: u64,
        deviation: String,
        peers: usize,
    },
    /// This subscriber fell behind and missed `count` events.
    EventsDropped {
        count: u64,
    },
    // --- manager events ---
    /// The manager started a node process.
    NodeStarted {
        address: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid: Option<u32>,
    },
    /// A node process ended or was shut down.
    NodeStopped {
        address: String,
        /// How it ended, e.g. "exited 0" or "killed".
        outcome: String,
    },
    /// A node stopped answering the manager.
    NodeUnreachable {
        address: String,
    },
    /// Every node answers and knows every other node.
    NetworkReady {
        nodes: usize,
    },
    /// The present state, sent first to every new manager subscriber.
    Snapshot {
        nodes: Vec<NodeSummary>,
        /// Each node's chain tips, by node id.
        tips: BTreeMap<String, Vec<TipInfo>>,
    },
    /// The network metrics of `GET /stats`, every few seconds.
    Stats {
        stats: Box<NetworkStats>,
    },
}

impl NodeSummary {
    /// Folds an event about this node into its summary, so the manager's
    /// table and the explorer's rows stay current between polls in the same
    /// way. Returns whether anything changed.
    pub fn apply(&mut self, kind: &EventKind) -> bool {
        let before = self.clone();
        match kind {
            EventKind::BlockMined { height, hash, .. }
            | EventKind::BlockAccepted {
                height,
                hash,
                active: true,
                ..
            } => {
                self.height = Some(*height);
                self.best_hash = Some(*hash);
            }
            EventKind::ChainReorganized {
                new_tip,
                new_height,
                ..
            } => {
                self.height = Some(*new_height);
                self.best_hash = Some(*new_tip);
            }
            EventKind::MiningStarted { .. } => self.mining = true,
            EventKind::MiningStopped => self.mining = false,
            EventKind::Isolated => self.isolated = true,
            EventKind::Reconnected => self.isolated = false,
            EventKind::NodeStopped { .. } => {
                self.state = NodeState::Stopped;
                self.mining = false;
                self.hash_rate = 0.0;
            }
            _ => {}
        }
        *self != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{LinkDirection, TipStatus};
    use crate::strategy::{ForgeRule, Strategy};
    use crate::validation::EncodingError;

    /// One value of every variant, in declaration order, with every
    /// optional field set (the decoder's tests need one of each).
    pub(super) fn one_of_each() -> Vec<EventKind> {
        let hash = BlockHash::from_bytes([7; 32]);
        let other = BlockHash::from_bytes([9; 32]);
        let stats: NetworkStats = serde_json::from_value(serde_json::json!({
            "since": 1, "at": 5_000, "running_nodes": 2, "majority_tip": hash,
            "majority_height": 4, "majority_nodes": 2, "blocks_found": 5,
            "best_chain_blocks": 4, "stale_blocks": 1, "pending_blocks": 0,
            "stale_rate": 0.2, "reorgs": {"count": 1, "depths": {"1": 1}},
            "propagation": {
                "to_50": {"blocks": 3, "p50_ms": 10, "p90_ms": 20, "p99_ms": 30},
                "to_90": {"blocks": 3, "p50_ms": 11, "p90_ms": 21, "p99_ms": 31},
                "to_100": {"blocks": 2, "p50_ms": 12, "p90_ms": 22, "p99_ms": 32}
            },
            "miners": [{"node": "a", "address": "127.0.0.1:5000", "hash_share": 0.5,
                "measured_share": 0.4, "blocks_found": 5, "best_chain_blocks": 4,
                "stale_blocks": 1, "best_chain_share": 1.0}],
            "forks": [{"tip": other, "height": 3, "nodes": ["b"], "fork_height": 2}],
            "hash_power": {"capacity_attempts_per_sec": 1.5, "cores": 2,
                "total_attempts_per_sec": 10, "measured_attempts_per_sec": 9.5,
                "nodes": [{"node": "a", "address": "127.0.0.1:5000",
                    "attempts_per_sec": 10, "share": 1.0}],
                "lab_block_interval_ms": 1000, "lab_network_hashrate": 10,
                "expected_block_interval_ms": 1000.0},
            "events_missed": 3
        }))
        .unwrap();
        let tip = TipInfo {
            height: 3,
            hash: other,
            branch_length: 1,
            status: TipStatus::ValidFork,
        };
        vec![
            EventKind::BlockMined {
                height: 1,
                hash,
                attempts: 2,
                elapsed_ms: 3,
                entries: 4,
            },
            EventKind::BlockAccepted {
                height: 2,
                hash,
                previous_hash: other,
                from: Some("127.0.0.1:5001".into()),
                active: true,
            },
            EventKind::BlockRejected {
                hash,
                height: 3,
                reason: Rejection::BadEncoding(EncodingError::HashMismatch {
                    stated: hash,
                    computed: other,
                }),
                summary: "the stated hash is not the header's".into(),
                from: Some("127.0.0.1:5002".into()),
            },
            EventKind::ChainReorganized {
                old_tip: hash,
                new_tip: other,
                depth: 2,
                fork_height: 5,
                new_height: 8,
            },
            EventKind::PeerAdded {
                id: "b".into(),
                address: "127.0.0.1:5001".into(),
            },
            EventKind::PeerUnreachable {
                address: "127.0.0.1:5001".into(),
                error: "refused".into(),
            },
            EventKind::PeerConnected {
                address: "127.0.0.1:5001".into(),
                id: "b".into(),
                direction: LinkDirection::Outbound,
            },
            EventKind::PeerDisconnected {
                address: "127.0.0.1:5001".into(),
                reason: "closed".into(),
            },
            EventKind::PeerBanned {
                address: "127.0.0.1:5001".into(),
                reason: "sent an invalid block".into(),
                until: 99,
            },
            EventKind::MiningStarted {
                mode: MiningMode::Continuous,
            },
            EventKind::MiningStopped,
            EventKind::EntryAdded {
                data: "ünï ✓".into(),
                pending: 2,
            },
            EventKind::Isolated,
            EventKind::Reconnected,
            EventKind::ShuttingDown,
            EventKind::StrategyChanged {
                strategy: Strategy::Forger {
                    rule: ForgeRule::WrongBits,
                },
            },
            EventKind::BlocksPublished {
                count: 3,
                tip: hash,
            },
            EventKind::BlockOffered {
                hash,
                height: 4,
                deviation: "bad_merkle_root".into(),
                peers: 2,
            },
            EventKind::EventsDropped { count: 7 },
            EventKind::NodeStarted {
                address: "127.0.0.1:5003".into(),
                pid: Some(42),
            },
            EventKind::NodeStopped {
                address: "127.0.0.1:5003".into(),
                outcome: "killed".into(),
            },
            EventKind::NodeUnreachable {
                address: "127.0.0.1:5003".into(),
            },
            EventKind::NetworkReady { nodes: 6 },
            EventKind::Snapshot {
                nodes: vec![summary()],
                tips: BTreeMap::from([("a".to_owned(), vec![tip])]),
            },
            EventKind::Stats {
                stats: Box::new(stats),
            },
        ]
    }

    #[test]
    fn every_variant_decodes_to_what_was_serialized() {
        for (at, kind) in one_of_each().into_iter().enumerate() {
            for node in [None, Some("n1".to_owned())] {
                let event = Event {
                    at: at as u64,
                    node,
                    kind: kind.clone(),
                };
                let json = serde_json::to_string(&event).unwrap();
                let back: Event =
                    serde_json::from_str(&json).unwrap_or_else(|err| panic!("{json}: {err}"));
                assert_eq!(back, event, "{json}");
            }
        }
    }

    fn summary() -> NodeSummary {
        NodeSummary {
            id: "a".into(),
            address: "127.0.0.1:5000".into(),
            pid: None,
            state: NodeState::Running,
            height: Some(1),
            best_hash: Some(BlockHash::ZERO),
            mining: false,
            hash_rate: 5.0,
            isolated: false,
            hashrate_limit: 0,
            hash_share: 0.0,
            measured_share: 0.0,
        }
    }

    #[test]
    fn a_new_tip_moves_height_and_hash() {
        let hash = BlockHash::from_bytes([7; 32]);
        let mut node = summary();
        let mined = EventKind::BlockMined {
            height: 2,
            hash,
            attempts: 1,
            elapsed_ms: 1,
            entries: 0,
        };
        assert!(node.apply(&mined));
        assert_eq!((node.height, node.best_hash), (Some(2), Some(hash)));

        let other = BlockHash::from_bytes([8; 32]);
        let side = EventKind::BlockAccepted {
            height: 3,
            hash: other,
            previous_hash: hash,
            from: None,
            active: false,
        };
        assert!(
            !node.apply(&side),
            "a block off the best chain is no new tip"
        );
        let reorg = EventKind::ChainReorganized {
            old_tip: hash,
            new_tip: other,
            depth: 1,
            fork_height: 1,
            new_height: 3,
        };
        assert!(node.apply(&reorg));
        assert_eq!((node.height, node.best_hash), (Some(3), Some(other)));
    }

    #[test]
    fn switches_and_stopping() {
        let mut node = summary();
        assert!(node.apply(&EventKind::MiningStarted {
            mode: MiningMode::Continuous
        }));
        assert!(node.mining);
        assert!(node.apply(&EventKind::Isolated));
        assert!(node.isolated);
        assert!(node.apply(&EventKind::Reconnected));
        assert!(!node.isolated);
        assert!(node.apply(&EventKind::NodeStopped {
            address: node.address.clone(),
            outcome: "exited 0".into(),
        }));
        assert_eq!(node.state, NodeState::Stopped);
        assert!(!node.mining);
        assert_eq!(node.hash_rate, 0.0);
        assert!(!node.apply(&EventKind::ShuttingDown));
    }
}
