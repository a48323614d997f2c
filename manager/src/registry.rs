//! The node table: what the manager knows about every node, kept fresh by
//! the status poller and by the nodes' own events. A std `Mutex` guards it
//! and is never held across an `.await`.

use std::sync::{Mutex, MutexGuard};

use shared::BlockHash;
use shared::api::{NodeState, NodeSummary, StatusBody};
use shared::events::{Event, EventKind};
use tokio_util::sync::CancellationToken;

use crate::process::{NodeProcess, Placement};

/// One node, spawned by this manager or attached.
#[derive(Debug)]
pub struct NodeEntry {
    /// The manager's own key for the node, stable across restarts.
    pub slot: usize,
    /// The node's id, once it answered `/node/id`.
    pub id: Option<String>,
    /// `host:port`; the port is 0 while an OS-chosen port is not known yet.
    pub address: String,
    pub state: NodeState,
    pub height: Option<u64>,
    pub best_hash: Option<BlockHash>,
    pub mining: bool,
    pub hash_rate: f64,
    pub isolated: bool,
    /// Where a spawned node lives; `None` for an attached node.
    pub placement: Option<Placement>,
    /// The running process, for spawned nodes.
    pub process: Option<NodeProcess>,
    /// Counts (re)starts and stops, so that news from an earlier life of the
    /// node (a late poll, an old event stream) is not applied to this one.
    pub generation: u64,
    /// Stops the task that follows the node's `/events`.
    pub follower: Option<CancellationToken>,
    /// A start, stop or restart is under way; others must wait their turn.
    pub busy: bool,
}

impl NodeEntry {
    pub fn new(slot: usize, address: String, placement: Option<Placement>) -> NodeEntry {
        NodeEntry {
            slot,
            id: None,
            address,
            state: NodeState::Starting,
            height: None,
            best_hash: None,
            mining: false,
            hash_rate: 0.0,
            isolated: false,
            placement,
            process: None,
            generation: 0,
            follower: None,
            busy: false,
        }
    }

    pub fn summary(&self) -> NodeSummary {
        NodeSummary {
            id: self.id.clone().unwrap_or_default(),
            address: self.address.clone(),
            pid: self.process.as_ref().map(|process| process.pid),
            state: self.state,
            height: self.height,
            best_hash: self.best_hash,
            mining: self.mining,
            hash_rate: self.hash_rate,
            isolated: self.isolated,
        }
    }

    /// The node answers requests (or did until the last poll).
    pub fn is_live(&self) -> bool {
        matches!(self.state, NodeState::Running | NodeState::Unreachable)
    }

    /// Whether `key` names this node: its id, its `host:port`, or its port.
    fn matches(&self, key: &str) -> bool {
        if self.id.as_deref() == Some(key) || self.address == key {
            return true;
        }
        key.parse::<u16>()
            .is_ok_and(|port| port != 0 && self.address.rsplit(':').next() == Some(key))
    }

    /// A summary a node or its events vouch for.
    fn apply_status(&mut self, status: &StatusBody) {
        self.id = Some(status.id.clone());
        self.height = Some(status.height);
        self.best_hash = Some(status.best_hash);
        self.mining = status.mining;
        self.hash_rate = status.hash_rate;
        self.isolated = status.isolated;
    }
}

/// What a poll changed, so the caller can say it once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    None,
    /// It answers again.
    Recovered,
    /// It stopped answering.
    Lost,
}

#[derive(Debug, Default)]
pub struct Registry {
    entries: Mutex<Vec<NodeEntry>>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Vec<NodeEntry>> {
        // A panic elsewhere must not take the node table down with it.
        self.entries
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub fn insert(&self, entry: NodeEntry) {
        self.lock().push(entry);
    }

    /// The slot of the node `key` names.
    pub fn find(&self, key: &str) -> Option<usize> {
        let key = key.trim();
        self.lock()
            .iter()
            .find(|entry| entry.matches(key))
            .map(|entry| entry.slot)
    }

    /// Run `f` on the node in `slot` under the lock.
    pub fn with<R>(&self, slot: usize, f: impl FnOnce(&mut NodeEntry) -> R) -> Option<R> {
        self.lock()
            .iter_mut()
            .find(|entry| entry.slot == slot)
            .map(f)
    }

    /// Run `f` on every node under the lock and collect what it returns.
    pub fn collect<R>(&self, mut f: impl FnMut(&NodeEntry) -> Option<R>) -> Vec<R> {
        self.lock().iter().filter_map(&mut f).collect()
    }

    pub fn summaries(&self) -> Vec<NodeSummary> {
        self.lock().iter().map(NodeEntry::summary).collect()
    }

    pub fn summary(&self, slot: usize) -> Option<NodeSummary> {
        self.with(slot, |entry| entry.summary())
    }

    /// The highest best-chain height any node reported.
    pub fn network_height(&self) -> u64 {
        self.lock()
            .iter()
            .filter_map(|entry| entry.height)
            .max()
            .unwrap_or(0)
    }

    /// Store a `/status` answer taken during `generation`.
    pub fn apply_status(&self, slot: usize, generation: u64, status: &StatusBody) -> Transition {
        self.with(slot, |entry| {
            if entry.generation != generation || !entry.is_live() {
                return Transition::None;
            }
            entry.apply_status(status);
            if entry.state == NodeState::Unreachable {
                entry.state = NodeState::Running;
                Transition::Recovered
            } else {
                Transition::None
            }
        })
        .unwrap_or(Transition::None)
    }

    /// A `/status` request taken during `generation` failed.
    pub fn apply_unreachable(&self, slot: usize, generation: u64) -> Transition {
        self.with(slot, |entry| {
            if entry.generation != generation || entry.state != NodeState::Running {
                return Transition::None;
            }
            entry.state = NodeState::Unreachable;
            Transition::Lost
        })
        .unwrap_or(Transition::None)
    }

    /// Keep height, tip and switches current between polls.
    pub fn apply_event(&self, slot: usize, generation: u64, event: &Event) {
        self.with(slot, |entry| {
            if entry.generation != generation {
                return;
            }
            match &event.kind {
                EventKind::BlockMined { height, hash, .. }
                | EventKind::BlockAccepted {
                    height,
                    hash,
                    active: true,
                    ..
                } => {
                    entry.height = Some(*height);
                    entry.best_hash = Some(*hash);
                }
                EventKind::ChainReorganized {
                    new_tip,
                    new_height,
                    ..
                } => {
                    entry.height = Some(*new_height);
                    entry.best_hash = Some(*new_tip);
                }
                EventKind::MiningStarted { .. } => entry.mining = true,
                EventKind::MiningStopped => entry.mining = false,
                EventKind::Isolated => entry.isolated = true,
                EventKind::Reconnected => entry.isolated = false,
                _ => {}
            }
        });
    }
}
