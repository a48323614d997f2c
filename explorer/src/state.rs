//! What the page knows, as signals every panel reads: the nodes, the block
//! tree, the feed, the connection, the manager's token, the selected block,
//! the outcome of each button and the validation run. [`Network::apply`] folds one event into
//! it and says what must be fetched to complete the picture.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use leptos::prelude::*;
use shared::api::{NodeState, NodeSummary, TipStatus};
use shared::events::{Event, EventKind};
use shared::stats::NetworkStats;
use shared::{Block, BlockHash, ChainParams};

use crate::api::Api;
use crate::check::CheckReport;
use crate::feed::{FeedLine, Names, describe};
use crate::lab::{Propagation, RejectedBlock, StalePoint, note_rejection, push_stats};
use crate::live::Connection;
use crate::tree::BlockTree;

/// Lines the feed keeps; older ones scroll away.
pub const FEED_LINES: usize = 200;

/// What a click led to, shown next to the button.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Working(String),
    Done(String),
    Failed(String),
}

/// The validation panel: one node's chain, downloaded and checked here.
#[derive(Debug, Clone, PartialEq)]
pub struct Validation {
    pub node_id: String,
    /// The node's name as the page shows it ("5001").
    pub node_name: String,
    pub phase: Phase,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Downloading { got: u64, total: u64 },
    Failed(String),
    Checked(Checked),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Checked {
    /// The rules the chain was checked under, rebuilt from the node's
    /// `/status`.
    pub params: Arc<ChainParams>,
    /// The chain as the node sent it; tampering works on copies.
    pub blocks: Arc<Vec<Block>>,
    pub report: CheckReport,
}

/// Work an event leaves for [`crate::sync`]: blocks to fetch (from which
/// node) and whether the node list must be read again.
#[derive(Debug, Default, PartialEq)]
pub struct Followup {
    pub fetch: Vec<(String, BlockHash)>,
    pub refresh_nodes: bool,
}

#[derive(Clone, Copy)]
pub struct Network {
    /// The manager; [`Network::api`] hands it out with the token attached.
    pub api: StoredValue<Api>,
    /// The manager's token as the reader gave it; `None` for a manager
    /// without one. Changing it reopens the event stream.
    pub token: RwSignal<Option<String>>,
    pub nodes: RwSignal<Vec<NodeSummary>>,
    pub tree: RwSignal<BlockTree>,
    /// Newest first.
    pub feed: RwSignal<Vec<FeedLine>>,
    pub connection: RwSignal<Connection>,
    /// Whether the manager has told the page its nodes once (or failed to,
    /// or took too long): the panels wait for it, so they appear with the
    /// rows in them rather than jump when the rows arrive.
    pub heard: RwSignal<bool>,
    pub selected: RwSignal<Option<BlockHash>>,
    /// The last outcome of a button in each node's row, by node address.
    pub row_outcomes: RwSignal<BTreeMap<String, Outcome>>,
    /// The last outcome of a network-wide button.
    pub network_outcome: RwSignal<Option<Outcome>>,
    pub validation: RwSignal<Option<Validation>>,
    /// Blocks being fetched right now, so each is asked for once.
    pub(crate) inflight: StoredValue<HashSet<BlockHash>>,
    feed_seq: StoredValue<u64>,
    /// Counts the stops applied from events and reports; `stops` holds the
    /// count at each address's latest one, so a node list asked for before
    /// a stop cannot bring the stopped row back (see [`Self::set_listed`]).
    stop_count: StoredValue<u64>,
    stops: StoredValue<BTreeMap<String, u64>>,
    /// The latest blocks seen travelling a link, oldest first, for the
    /// network graph's animation (at most [`FLIGHTS`]).
    pub flights: RwSignal<Vec<Flight>>,
    /// The manager's latest network metrics (`stats` events, `/stats`).
    pub stats: RwSignal<Option<Arc<NetworkStats>>>,
    pub stale_history: RwSignal<Vec<StalePoint>>,
    /// Every arrival folds in here; [`Self::delays`] shows them, sorted,
    /// at each `stats` event rather than at every arrival.
    propagation: StoredValue<Propagation>,
    pub delays: RwSignal<Arc<Vec<u64>>>,
    /// Blocks nodes refused, newest first.
    pub rejected: RwSignal<Vec<RejectedBlock>>,
}

/// Travelling blocks the network graph keeps drawn; older ones have
/// finished their animation long before they drop out.
pub const FLIGHTS: usize = 32;

/// A block that reached node `to` from the node at address `from`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flight {
    pub seq: u64,
    pub from: String,
    pub to: String,
}

impl Network {
    pub fn new(api: Api) -> Self {
        Self {
            api: StoredValue::new(api),
            token: RwSignal::new(None),
            nodes: RwSignal::new(Vec::new()),
            tree: RwSignal::new(BlockTree::new()),
            feed: RwSignal::new(Vec::new()),
            connection: RwSignal::new(Connection::Connecting),
            heard: RwSignal::new(false),
            selected: RwSignal::new(None),
            row_outcomes: RwSignal::new(BTreeMap::new()),
            network_outcome: RwSignal::new(None),
            validation: RwSignal::new(None),
            inflight: StoredValue::new(HashSet::new()),
            feed_seq: StoredValue::new(0),
            stop_count: StoredValue::new(0),
            stops: StoredValue::new(BTreeMap::new()),
            flights: RwSignal::new(Vec::new()),
            stats: RwSignal::new(None),
            stale_history: RwSignal::new(Vec::new()),
            propagation: StoredValue::new(Propagation::default()),
            delays: RwSignal::new(Arc::new(Vec::new())),
            rejected: RwSignal::new(Vec::new()),
        }
    }

    /// Starts the lab's figures afresh from `stats` (the answer to
    /// `POST /stats/reset`): no history, no arrivals.
    pub fn reset_figures(&self, stats: NetworkStats) {
        self.stale_history.set(Vec::new());
        self.propagation.set_value(Propagation::default());
        self.set_stats(stats);
    }

    /// Takes the manager's network metrics: the latest figures, a point of
    /// the stale-rate history, and the propagation delays so far.
    pub fn set_stats(&self, stats: NetworkStats) {
        self.stale_history
            .update(|history| push_stats(history, &stats));
        self.stats.set(Some(Arc::new(stats)));
        let sorted = self.propagation.with_value(Propagation::sorted);
        if self.delays.with_untracked(|d| **d != sorted) {
            self.delays.set(Arc::new(sorted));
        }
    }

    /// The manager, with the present token on its commands and events.
    pub fn api(&self) -> Api {
        let token = self.token.get_untracked();
        self.api.get_value().with_token(token.as_deref())
    }

    /// Takes what the reader typed as the token; says whether it changed.
    pub fn set_token(&self, typed: &str) -> bool {
        let token = crate::token::normalize(typed);
        let changed = self.token.with_untracked(|t| *t != token);
        if changed {
            self.token.set(token);
        }
        changed
    }

    /// "5003" for the node with this id, or the start of the id.
    pub fn name_of(&self, id: &str) -> String {
        self.nodes.with_untracked(|nodes| Names(nodes).of(id))
    }

    /// Notes that the page has heard from the manager (see [`Self::heard`]).
    pub fn mark_heard(&self) {
        if !self.heard.get_untracked() {
            self.heard.set(true);
        }
    }

    pub fn set_row_outcome(&self, address: &str, outcome: Outcome) {
        self.row_outcomes.update(|map| {
            map.insert(address.to_owned(), outcome);
        });
    }

    /// Marks the asking of a node list: the value goes to
    /// [`Self::set_listed`] with the answer.
    pub fn list_asked(&self) -> u64 {
        self.stop_count.get_value()
    }

    /// Takes the answer to a node list asked for at `asked` (from
    /// [`Self::list_asked`]). The list may have been read before a stop the
    /// page has applied since, as a row's stop from the report of **Shut
    /// down all** is: such a row stays stopped. A node started again after
    /// the stop sends `node_started`, whose own list is asked for later.
    pub fn set_listed(&self, mut nodes: Vec<NodeSummary>, asked: u64) -> Followup {
        self.stops.with_value(|stops| {
            for node in &mut nodes {
                if stops.get(&node.address).is_some_and(|&at| at > asked) {
                    node.apply(&EventKind::NodeStopped {
                        address: node.address.clone(),
                        outcome: "stopped".to_owned(),
                    });
                }
            }
        });
        self.set_nodes(nodes)
    }

    /// Takes a fresh node list: the rows, and each running node's tip.
    ///
    /// A list can be older than the events already applied (it was read
    /// before they arrived), so a node's height never goes back here; a
    /// real move to a lower tip comes as a `chain_reorganized` event.
    pub fn set_nodes(&self, mut nodes: Vec<NodeSummary>) -> Followup {
        self.nodes.with_untracked(|known| {
            for node in &mut nodes {
                let Some(old) = known
                    .iter()
                    .find(|k| k.address == node.address && k.id == node.id)
                else {
                    continue;
                };
                if old.height > node.height {
                    node.height = old.height;
                    node.best_hash = old.best_hash;
                }
            }
        });
        let mut followup = Followup::default();
        self.tree.update(|tree| {
            // Nodes the manager no longer lists (a new manager) leave no label.
            let listed: Vec<String> = tree
                .tips()
                .keys()
                .filter(|id| !nodes.iter().any(|n| &n.id == *id))
                .cloned()
                .collect();
            for id in listed {
                tree.remove_tip(&id);
            }
            for node in &nodes {
                match (node.state, node.best_hash) {
                    (NodeState::Running, Some(best)) if !node.id.is_empty() => {
                        tree.set_tip(&node.id, best);
                        if !tree.contains(&best) {
                            followup.fetch.push((node.id.clone(), best));
                        }
                    }
                    (NodeState::Stopped, _) => tree.remove_tip(&node.id),
                    _ => {}
                }
            }
        });
        self.nodes.set(nodes);
        self.mark_heard();
        followup
    }

    /// Folds one event into the page.
    pub fn apply(&self, event: Event) -> Followup {
        if let EventKind::Stats { stats } = event.kind {
            self.set_stats(*stats);
            return Followup::default();
        }
        self.propagation.update_value(|p| {
            p.observe(&event);
        });
        if matches!(event.kind, EventKind::BlockRejected { .. }) {
            self.rejected
                .maybe_update(|list| note_rejection(list, &event));
        }
        let (text, warning) = self
            .nodes
            .with_untracked(|nodes| describe(&event, &Names(nodes)));
        let seq = self.feed_seq.get_value() + 1;
        self.feed_seq.set_value(seq);
        self.feed.update(|feed| {
            feed.insert(
                0,
                FeedLine {
                    seq,
                    at: event.at,
                    text,
                    warning,
                },
            );
            feed.truncate(FEED_LINES);
        });

        let node_id = event.node.clone().unwrap_or_default();
        if let EventKind::BlockAccepted {
            from: Some(from), ..
        } = &event.kind
            && !node_id.is_empty()
        {
            self.flights.update(|flights| {
                flights.push(Flight {
                    seq,
                    from: from.clone(),
                    to: node_id.clone(),
                });
                let extra = flights.len().saturating_sub(FLIGHTS);
                flights.drain(..extra);
            });
        }
        // The row: the same fold the manager applies to its own table.
        match &event.kind {
            EventKind::NodeStopped { address, .. } => self.node_stopped(address, &event.kind),
            kind => self.update_node(&node_id, |n| n.apply(kind)),
        }

        // The drawing, and what is left to fetch.
        let mut followup = Followup::default();
        match event.kind {
            EventKind::Snapshot { nodes, tips } => {
                followup = self.set_nodes(nodes);
                self.tree.update(|tree| {
                    for (id, tips) in &tips {
                        for tip in tips.iter().filter(|t| t.status == TipStatus::Active) {
                            tree.set_tip(id, tip.hash);
                        }
                        // Forks a node keeps are drawn too, not only its best chain.
                        for tip in tips {
                            if !tree.contains(&tip.hash) && tip.status != TipStatus::HeadersOnly {
                                followup.fetch.push((id.clone(), tip.hash));
                            }
                        }
                    }
                });
            }
            EventKind::BlockMined { hash, .. }
            | EventKind::BlockAccepted {
                hash, active: true, ..
            }
            | EventKind::ChainReorganized { new_tip: hash, .. } => {
                if !node_id.is_empty() {
                    self.tree.update(|tree| tree.set_tip(&node_id, hash));
                }
                self.want(&node_id, hash, &mut followup);
            }
            EventKind::BlockAccepted { hash, .. } => self.want(&node_id, hash, &mut followup),
            EventKind::NodeStopped { .. }
            | EventKind::NodeStarted { .. }
            | EventKind::NodeUnreachable { .. }
            | EventKind::NetworkReady { .. }
            | EventKind::EventsDropped { .. } => followup.refresh_nodes = true,
            _ => {}
        }
        followup
    }

    /// The node at `address` has stopped (an event, or the report of
    /// **Shut down all**): its row says so and its tip label goes.
    pub fn node_stopped(&self, address: &str, stopped: &EventKind) {
        let count = self.stop_count.get_value() + 1;
        self.stop_count.set_value(count);
        self.stops.update_value(|stops| {
            stops.insert(address.to_owned(), count);
        });
        let mut id = None;
        self.nodes.maybe_update(|nodes| {
            let mut changed = false;
            for node in nodes.iter_mut().filter(|n| n.address == address) {
                changed |= node.apply(stopped);
                id = Some(node.id.clone());
            }
            changed
        });
        if let Some(id) = id {
            self.tree.update(|tree| tree.remove_tip(&id));
        }
    }

    /// Asks for `hash` from `node_id` unless the tree has it.
    fn want(&self, node_id: &str, hash: BlockHash, followup: &mut Followup) {
        if !node_id.is_empty() && !self.tree.with_untracked(|tree| tree.contains(&hash)) {
            followup.fetch.push((node_id.to_owned(), hash));
        }
    }

    /// Changes the row of node `id`; the rows are only told when `change`
    /// says it changed something.
    fn update_node(&self, id: &str, change: impl FnOnce(&mut NodeSummary) -> bool) {
        if id.is_empty() {
            return;
        }
        self.nodes
            .maybe_update(|nodes| nodes.iter_mut().find(|n| n.id == id).is_some_and(change));
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A running node at `127.0.0.1:port` with its tip at height 3; the
    /// feed's tests name nodes with it too.
    pub(crate) fn running(id: &str, port: u16) -> NodeSummary {
        NodeSummary {
            id: id.to_owned(),
            address: format!("127.0.0.1:{port}"),
            pid: None,
            state: NodeState::Running,
            height: Some(3),
            best_hash: Some(BlockHash::from_bytes([3; 32])),
            mining: false,
            hash_rate: 10.0,
            isolated: false,
            hashrate_limit: 0,
            hash_share: 0.0,
            measured_share: 0.0,
        }
    }

    fn event(node: Option<&str>, kind: EventKind) -> Event {
        Event {
            at: 0,
            node: node.map(str::to_owned),
            kind,
        }
    }

    fn network() -> Network {
        let net = Network::new(Api::new("http://127.0.0.1:9"));
        assert!(!net.heard.get_untracked());
        net.set_nodes(vec![running("a", 5000), running("b", 5001)]);
        assert!(
            net.heard.get_untracked(),
            "a node list is news from the manager"
        );
        net
    }

    #[test]
    fn a_new_tip_moves_the_row_and_the_label_and_asks_for_the_block() {
        let net = network();
        let hash = BlockHash::from_bytes([4; 32]);
        let followup = net.apply(event(
            Some("b"),
            EventKind::BlockMined {
                height: 4,
                hash,
                attempts: 1,
                elapsed_ms: 1,
                entries: 0,
            },
        ));
        let row = net.nodes.get_untracked()[1].clone();
        assert_eq!((row.height, row.best_hash), (Some(4), Some(hash)));
        assert_eq!(
            net.tree.with_untracked(|t| t.tips().get("b").copied()),
            Some(hash)
        );
        assert_eq!(followup.fetch, vec![("b".to_owned(), hash)]);
        assert_eq!(net.feed.with_untracked(Vec::len), 1);
        // The other row is untouched.
        assert_eq!(net.nodes.get_untracked()[0].height, Some(3));
    }

    #[test]
    fn a_side_block_is_fetched_but_moves_nothing() {
        let net = network();
        let side = BlockHash::from_bytes([9; 32]);
        let followup = net.apply(event(
            Some("a"),
            EventKind::BlockAccepted {
                height: 4,
                hash: side,
                previous_hash: BlockHash::from_bytes([3; 32]),
                from: None,
                active: false,
            },
        ));
        assert_eq!(net.nodes.get_untracked()[0].height, Some(3));
        assert_ne!(
            net.tree.with_untracked(|t| t.tips().get("a").copied()),
            Some(side)
        );
        assert_eq!(followup.fetch, vec![("a".to_owned(), side)]);
    }

    #[test]
    fn a_stopped_node_is_found_by_address_and_loses_its_label() {
        let net = network();
        assert!(net.tree.with_untracked(|t| t.tips().contains_key("b")));
        net.apply(event(
            Some("b"),
            EventKind::MiningStarted {
                mode: shared::events::MiningMode::Continuous,
            },
        ));
        assert!(net.nodes.get_untracked()[1].mining);
        // The manager's own event names no node, only the address.
        let followup = net.apply(event(
            None,
            EventKind::NodeStopped {
                address: "127.0.0.1:5001".into(),
                outcome: "exited 0".into(),
            },
        ));
        let row = net.nodes.get_untracked()[1].clone();
        assert_eq!(row.state, NodeState::Stopped);
        assert!(!row.mining);
        assert_eq!(row.hash_rate, 0.0);
        assert!(!net.tree.with_untracked(|t| t.tips().contains_key("b")));
        assert!(net.tree.with_untracked(|t| t.tips().contains_key("a")));
        assert!(followup.refresh_nodes);
    }

    #[test]
    fn a_list_asked_for_before_a_stop_does_not_bring_the_row_back() {
        let net = network();
        let asked = net.list_asked();
        // Shut down all: the report marks the row while the list is away.
        net.node_stopped(
            "127.0.0.1:5001",
            &EventKind::NodeStopped {
                address: "127.0.0.1:5001".into(),
                outcome: "stopped".into(),
            },
        );
        net.set_listed(vec![running("a", 5000), running("b", 5001)], asked);
        let states: Vec<_> = net.nodes.get_untracked().iter().map(|n| n.state).collect();
        assert_eq!(states, [NodeState::Running, NodeState::Stopped]);
        assert!(!net.tree.with_untracked(|t| t.tips().contains_key("b")));
        // A list asked for after the stop says what is true now: started again.
        let asked = net.list_asked();
        net.set_listed(vec![running("a", 5000), running("b", 5001)], asked);
        assert_eq!(net.nodes.get_untracked()[1].state, NodeState::Running);
    }

    #[test]
    fn the_token_reaches_every_call_and_a_blank_one_is_none() {
        let net = network();
        assert_eq!(
            net.api().authorization(&crate::api::Call::stop_mining()),
            None
        );
        assert!(net.set_token("  s3cret \n"));
        assert_eq!(net.token.get_untracked().as_deref(), Some("s3cret"));
        assert!(!net.set_token("s3cret"), "the same token is no change");
        assert_eq!(
            net.api().authorization(&crate::api::Call::stop_mining()),
            Some("Bearer s3cret".to_owned())
        );
        assert!(
            net.api()
                .events_url()
                .ends_with("/events?access_token=s3cret")
        );
        assert!(net.set_token(" "));
        assert_eq!(net.token.get_untracked(), None);
        assert!(net.api().events_url().ends_with("/events"));
    }

    #[test]
    fn a_block_from_a_peer_is_a_flight_and_only_the_latest_are_kept() {
        let net = network();
        for i in 0..(FLIGHTS as u8 + 3) {
            net.apply(event(
                Some("a"),
                EventKind::BlockAccepted {
                    height: 4,
                    hash: BlockHash::from_bytes([i; 32]),
                    previous_hash: BlockHash::from_bytes([3; 32]),
                    from: Some("127.0.0.1:5001".into()),
                    active: false,
                },
            ));
        }
        // A block without a sender (mined, or from the manager) is none.
        net.apply(event(
            Some("a"),
            EventKind::BlockAccepted {
                height: 4,
                hash: BlockHash::from_bytes([200; 32]),
                previous_hash: BlockHash::from_bytes([3; 32]),
                from: None,
                active: false,
            },
        ));
        let flights = net.flights.get_untracked();
        assert_eq!(flights.len(), FLIGHTS);
        assert!(
            flights
                .iter()
                .all(|f| f.from == "127.0.0.1:5001" && f.to == "a")
        );
        assert!(flights.windows(2).all(|w| w[0].seq < w[1].seq));
        assert_eq!(flights.last().unwrap().seq, FLIGHTS as u64 + 3);
    }

    #[test]
    fn a_stats_event_adds_a_point_and_shows_the_arrivals_so_far() {
        let net = network();
        let hash = BlockHash::from_bytes([4; 32]);
        net.apply(Event {
            at: 1_000,
            node: Some("a".into()),
            kind: EventKind::BlockMined {
                height: 4,
                hash,
                attempts: 1,
                elapsed_ms: 1,
                entries: 0,
            },
        });
        net.apply(Event {
            at: 1_120,
            node: Some("b".into()),
            kind: EventKind::BlockAccepted {
                height: 4,
                hash,
                previous_hash: BlockHash::from_bytes([3; 32]),
                from: Some("127.0.0.1:5000".into()),
                active: true,
            },
        });
        assert!(
            net.delays.get_untracked().is_empty(),
            "shown at the next stats"
        );
        let feed_before = net.feed.with_untracked(Vec::len);
        let stats: NetworkStats = serde_json::from_value(serde_json::json!({
            "since": 0, "at": 5_000, "running_nodes": 2, "majority_nodes": 2,
            "blocks_found": 1, "best_chain_blocks": 1, "stale_blocks": 0,
            "pending_blocks": 0, "stale_rate": 0.0,
            "reorgs": {"count": 0, "depths": {}},
            "propagation": {
                "to_50": {"blocks": 0, "p50_ms": 0, "p90_ms": 0, "p99_ms": 0},
                "to_90": {"blocks": 0, "p50_ms": 0, "p90_ms": 0, "p99_ms": 0},
                "to_100": {"blocks": 0, "p50_ms": 0, "p90_ms": 0, "p99_ms": 0}
            },
            "miners": [], "forks": [],
            "hash_power": {"capacity_attempts_per_sec": 1.0, "cores": 2,
                "total_attempts_per_sec": 0, "measured_attempts_per_sec": 0.0, "nodes": []},
            "events_missed": 0
        }))
        .unwrap();
        net.apply(Event {
            at: 5_000,
            node: None,
            kind: EventKind::Stats {
                stats: Box::new(stats),
            },
        });
        assert_eq!(*net.delays.get_untracked(), vec![120]);
        assert_eq!(net.stale_history.with_untracked(Vec::len), 1);
        assert_eq!(
            net.stats.with_untracked(|s| s.as_ref().map(|s| s.at)),
            Some(5_000)
        );
        assert_eq!(
            net.feed.with_untracked(Vec::len),
            feed_before,
            "no feed line"
        );
    }

    #[test]
    fn a_refused_block_is_listed_with_its_refusing_node() {
        let net = network();
        net.apply(Event {
            at: 0,
            node: Some("b".into()),
            kind: EventKind::BlockRejected {
                hash: BlockHash::from_bytes([8; 32]),
                height: 5,
                reason: shared::Rejection::EmptyChain,
                summary: "the chain has no blocks".into(),
                from: None,
            },
        });
        let rejected = net.rejected.get_untracked();
        assert_eq!(rejected.len(), 1);
        assert_eq!(rejected[0].nodes, vec!["b"]);
    }
}
