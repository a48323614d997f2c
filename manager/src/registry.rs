//! The node table: what the manager knows about every node, kept fresh by
//! the status poller and by the nodes' own events. A std `Mutex` guards it
//! and is never held across an `.await`.

use std::sync::{Mutex, MutexGuard};

use shared::address::port_of;
use shared::api::{NodeState, NodeSummary, StatusBody};
use shared::events::Event;
use tokio_util::sync::CancellationToken;

use crate::process::{NodeProcess, Placement};

/// One node, spawned by this manager or attached.
#[derive(Debug)]
pub struct NodeEntry {
    /// The manager's own key for the node, stable across restarts.
    pub slot: usize,
    /// The row `GET /nodes` shows. Its `id` is empty until the node first
    /// answered; its `address` has port 0 while an OS-chosen port is not
    /// known yet; its `pid` follows [`NodeEntry::set_process`].
    pub summary: NodeSummary,
    /// Where a spawned node lives; `None` for an attached node.
    pub placement: Option<Placement>,
    /// The running process, for spawned nodes.
    process: Option<NodeProcess>,
    /// Counts (re)starts and stops, so that news from an earlier life of the
    /// node (a late poll, an old event stream) is not applied to this one.
    pub generation: u64,
    /// Stops the task that follows the node's `/events`.
    pub follower: Option<CancellationToken>,
    /// A start, stop or restart is under way; others must wait their turn.
    pub busy: bool,
    /// Connected peer links, from the last `/status`.
    pub peers: Option<usize>,
}

impl NodeEntry {
    pub fn new(slot: usize, address: String, placement: Option<Placement>) -> NodeEntry {
        NodeEntry {
            slot,
            summary: NodeSummary {
                id: String::new(),
                address,
                pid: None,
                state: NodeState::Starting,
                height: None,
                best_hash: None,
                mining: false,
                hash_rate: 0.0,
                isolated: false,
                hashrate_limit: 0,
                hash_share: 0.0,
                measured_share: 0.0,
            },
            placement,
            process: None,
            generation: 0,
            follower: None,
            busy: false,
            peers: None,
        }
    }

    /// The node's id, once it answered `/node/id`.
    pub fn id(&self) -> Option<&str> {
        Some(self.summary.id.as_str()).filter(|id| !id.is_empty())
    }

    pub fn address(&self) -> &str {
        &self.summary.address
    }

    pub fn state(&self) -> NodeState {
        self.summary.state
    }

    pub fn process(&self) -> Option<&NodeProcess> {
        self.process.as_ref()
    }

    /// The process and the pid shown for it change together.
    pub fn set_process(&mut self, process: Option<NodeProcess>) {
        self.summary.pid = process.as_ref().map(|process| process.pid);
        self.process = process;
    }

    /// The node answers requests (or did until the last poll).
    pub fn is_live(&self) -> bool {
        matches!(self.state(), NodeState::Running | NodeState::Unreachable)
    }

    /// Whether `key` names this node: its id, its `host:port`, or its port.
    fn matches(&self, key: &str) -> bool {
        if self.id() == Some(key) || self.address() == key {
            return true;
        }
        // Digits only: `u16::from_str` would also take "+5000".
        !key.is_empty()
            && key.bytes().all(|byte| byte.is_ascii_digit())
            && key
                .parse::<u16>()
                .is_ok_and(|port| port != 0 && port == port_of(self.address()))
    }

    /// What the node's own `/status` vouches for.
    fn apply_status(&mut self, status: &StatusBody) {
        let summary = &mut self.summary;
        summary.id = status.id.clone();
        summary.height = Some(status.height);
        summary.best_hash = Some(status.best_hash);
        summary.mining = status.mining;
        summary.hash_rate = status.hash_rate;
        summary.isolated = status.isolated;
        summary.hashrate_limit = status.hashrate_limit;
        // Known peers that answered: the links `/status` vouches for.
        self.peers = Some(
            status
                .peers
                .iter()
                .filter(|peer| peer.state == shared::api::PeerState::Reachable)
                .count(),
        );
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
        self.lock()
            .iter()
            .map(|entry| entry.summary.clone())
            .collect()
    }

    pub fn summary(&self, slot: usize) -> Option<NodeSummary> {
        self.with(slot, |entry| entry.summary.clone())
    }

    /// Each node's connected links, by id, as its last `/status` said.
    pub fn peer_counts(&self) -> std::collections::BTreeMap<String, usize> {
        self.lock()
            .iter()
            .filter_map(|entry| Some((entry.id()?.to_owned(), entry.peers?)))
            .collect()
    }

    /// The highest best-chain height any node reported.
    pub fn network_height(&self) -> u64 {
        self.lock()
            .iter()
            .filter_map(|entry| entry.summary.height)
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
            if entry.state() == NodeState::Unreachable {
                entry.summary.state = NodeState::Running;
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
            if entry.generation != generation || entry.state() != NodeState::Running {
                return Transition::None;
            }
            entry.summary.state = NodeState::Unreachable;
            Transition::Lost
        })
        .unwrap_or(Transition::None)
    }

    /// Keep height, tip and switches current between polls.
    pub fn apply_event(&self, slot: usize, generation: u64, event: &Event) {
        self.with(slot, |entry| {
            if entry.generation == generation {
                entry.summary.apply(&event.kind);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::BlockHash;
    use shared::events::EventKind;

    fn table() -> Registry {
        let registry = Registry::default();
        let mut entry = NodeEntry::new(0, "127.0.0.1:5000".to_owned(), None);
        entry.summary.id = "abc".to_owned();
        entry.summary.state = NodeState::Running;
        entry.generation = 2;
        registry.insert(entry);
        registry.insert(NodeEntry::new(1, "127.0.0.1:0".to_owned(), None));
        registry
    }

    #[test]
    fn a_node_is_named_by_its_id_its_address_or_its_port() {
        let registry = table();
        for key in ["abc", "127.0.0.1:5000", "5000", " 5000 "] {
            assert_eq!(registry.find(key), Some(0), "{key:?}");
        }
        // Port 0 means "not known yet", and a port is digits only.
        for key in ["0", "+5000", "", "abd", "5001"] {
            assert_eq!(registry.find(key), None, "{key:?}");
        }
    }

    #[test]
    fn events_fold_into_the_summary_of_the_current_life_only() {
        let registry = table();
        let hash = BlockHash::from_bytes([9; 32]);
        let event = |kind| Event {
            at: 1,
            node: Some("abc".to_owned()),
            kind,
        };
        let mined = EventKind::BlockMined {
            height: 7,
            hash,
            attempts: 1,
            elapsed_ms: 1,
            entries: 0,
        };
        registry.apply_event(0, 1, &event(mined.clone()));
        assert_eq!(registry.summary(0).unwrap().height, None, "an old life");
        registry.apply_event(0, 2, &event(mined));
        let summary = registry.summary(0).unwrap();
        assert_eq!((summary.height, summary.best_hash), (Some(7), Some(hash)));
        assert_eq!(registry.network_height(), 7);
    }

    #[test]
    fn a_lost_node_is_reported_once_and_its_return_too() {
        let registry = table();
        let status = StatusBody {
            id: "abc".to_owned(),
            address: "127.0.0.1:5000".to_owned(),
            chain: "regtest".to_owned(),
            lab: None,
            height: 3,
            best_hash: BlockHash::from_bytes([3; 32]),
            chain_work: shared::Work::ZERO,
            mining: true,
            hash_rate: 10.0,
            hashrate_limit: 0,
            pending_entries: 0,
            isolated: false,
            block_bytes_received: 0,
            peers: Vec::new(),
            strategy: Default::default(),
        };
        assert_eq!(registry.apply_unreachable(0, 2), Transition::Lost);
        assert_eq!(registry.apply_unreachable(0, 2), Transition::None);
        assert_eq!(registry.apply_status(0, 1, &status), Transition::None);
        assert_eq!(registry.summary(0).unwrap().state, NodeState::Unreachable);
        assert_eq!(registry.apply_status(0, 2, &status), Transition::Recovered);
        let summary = registry.summary(0).unwrap();
        assert_eq!(summary.state, NodeState::Running);
        assert_eq!((summary.height, summary.mining), (Some(3), true));
    }
}
