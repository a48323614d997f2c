//! What the lab panels follow between the manager's answers: the stale rate
//! over time (one point per `stats` event), how long blocks took to reach
//! each node (from the events themselves), the running attack's share of
//! the best chain, and the blocks nodes refused.
//!
//! Propagation is measured here rather than read from `/stats`, whose three
//! percentiles cannot draw a distribution: a block's delay at a node is the
//! time of that node's `block_accepted` minus the time of the miner's
//! `block_mined`. Both times are the nodes' own clocks, one machine's clock
//! when the nodes share a host; across hosts their skew is in the figures.

use std::collections::{BTreeMap, HashMap, VecDeque};

use shared::BlockHash;
use shared::attack::AttackFigures;
use shared::events::{Event, EventKind};
use shared::stats::NetworkStats;

/// Points the stale-rate chart keeps: an hour of `stats` events at one per
/// 5 s.
pub const STALE_POINTS: usize = 720;
/// Arrivals the propagation distribution is drawn from (the latest).
pub const ARRIVALS: usize = 4_000;
/// Mined blocks whose time is remembered, to match arrivals against.
const MINED_KEPT: usize = 2_000;
/// Refused blocks the tree panel lists (the latest).
pub const REJECTED_KEPT: usize = 20;

/// The stale rate at one `stats` event.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StalePoint {
    /// ms since the epoch.
    pub at: u64,
    pub stale_rate: f64,
    pub stale_blocks: u64,
    pub blocks: u64,
}

/// Appends `stats` to `history` unless it repeats the last point's time;
/// a reset (fewer blocks than before, or a later `since`) starts afresh.
pub fn push_stats(history: &mut Vec<StalePoint>, stats: &NetworkStats) {
    let point = StalePoint {
        at: stats.at,
        stale_rate: stats.stale_rate,
        stale_blocks: stats.stale_blocks,
        blocks: stats.best_chain_blocks + stats.stale_blocks,
    };
    if let Some(last) = history.last() {
        if last.at == point.at {
            return;
        }
        if point.blocks < last.blocks || point.at < last.at {
            history.clear();
        }
    }
    history.push(point);
    let extra = history.len().saturating_sub(STALE_POINTS);
    history.drain(..extra);
}

/// Block arrivals, matched against when each block was mined.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Propagation {
    mined: HashMap<BlockHash, u64>,
    mined_order: VecDeque<BlockHash>,
    /// Delays in ms, oldest first.
    delays: VecDeque<u64>,
}

impl Propagation {
    /// Folds one event in; says whether it added an arrival.
    pub fn observe(&mut self, event: &Event) -> bool {
        match &event.kind {
            EventKind::BlockMined { hash, .. } => {
                if self.mined.insert(*hash, event.at).is_none() {
                    self.mined_order.push_back(*hash);
                    if self.mined_order.len() > MINED_KEPT
                        && let Some(old) = self.mined_order.pop_front()
                    {
                        self.mined.remove(&old);
                    }
                }
                false
            }
            EventKind::BlockAccepted { hash, .. } => match self.mined.get(hash) {
                Some(&mined_at) => {
                    self.delays.push_back(event.at.saturating_sub(mined_at));
                    if self.delays.len() > ARRIVALS {
                        self.delays.pop_front();
                    }
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    /// The delays, smallest first.
    pub fn sorted(&self) -> Vec<u64> {
        let mut delays: Vec<u64> = self.delays.iter().copied().collect();
        delays.sort_unstable();
        delays
    }
}

/// The value at fraction `q` (0 to 1) of sorted `values`, nearest rank.
pub fn quantile(sorted: &[u64], q: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (q * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// The running attack's share of the best chain as blocks came: one point
/// (best-chain blocks since the start, attacker's share) per new count.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AttackSeries {
    /// Which attack the points are of (its start time).
    pub started_at: u64,
    pub points: Vec<(f64, f64)>,
}

impl AttackSeries {
    /// Folds one `GET /attacks` answer in; a new attack starts a new series.
    pub fn observe(&mut self, figures: &AttackFigures) {
        if figures.started_at != self.started_at {
            *self = Self {
                started_at: figures.started_at,
                points: Vec::new(),
            };
        }
        let blocks = figures.best_chain_blocks as f64;
        if blocks == 0.0 || self.points.last().is_some_and(|(x, _)| *x >= blocks) {
            return;
        }
        self.points.push((blocks, figures.attacker_share));
    }
}

/// A block some node refused, with every node that refused it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedBlock {
    pub hash: BlockHash,
    pub height: u64,
    /// The rule it broke, in plain words.
    pub summary: String,
    /// The refusing nodes' ids, in the order they refused.
    pub nodes: Vec<String>,
    /// The sender's address, as the first refusal names it.
    pub from: Option<String>,
}

/// Folds a `block_rejected` event into `list` (newest first); other events
/// leave it alone. Says whether it changed.
pub fn note_rejection(list: &mut Vec<RejectedBlock>, event: &Event) -> bool {
    let EventKind::BlockRejected {
        hash,
        height,
        summary,
        from,
        ..
    } = &event.kind
    else {
        return false;
    };
    let node = event.node.clone().unwrap_or_default();
    if let Some(known) = list.iter_mut().find(|r| r.hash == *hash) {
        if known.nodes.contains(&node) {
            return false;
        }
        known.nodes.push(node);
        return true;
    }
    list.insert(
        0,
        RejectedBlock {
            hash: *hash,
            height: *height,
            summary: summary.clone(),
            nodes: vec![node],
            from: from.clone(),
        },
    );
    list.truncate(REJECTED_KEPT);
    true
}

/// Reorganisations by depth, as `/stats` counts them, in words.
pub fn reorg_summary(depths: &BTreeMap<u64, u64>) -> String {
    let total: u64 = depths.values().sum();
    if total == 0 {
        return "No reorganisation yet.".to_owned();
    }
    let parts: Vec<String> = depths
        .iter()
        .map(|(depth, n)| format!("{n} of depth {depth}",))
        .collect();
    let noun = if total == 1 {
        "reorganisation"
    } else {
        "reorganisations"
    };
    format!("{total} {noun}: {}.", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::attack::AttackKind;

    fn mined(at: u64, hash: u8) -> Event {
        Event {
            at,
            node: Some("a".into()),
            kind: EventKind::BlockMined {
                height: 1,
                hash: BlockHash::from_bytes([hash; 32]),
                attempts: 1,
                elapsed_ms: 1,
                entries: 0,
            },
        }
    }

    fn accepted(at: u64, node: &str, hash: u8) -> Event {
        Event {
            at,
            node: Some(node.into()),
            kind: EventKind::BlockAccepted {
                height: 1,
                hash: BlockHash::from_bytes([hash; 32]),
                previous_hash: BlockHash::from_bytes([0; 32]),
                from: None,
                active: true,
            },
        }
    }

    #[test]
    fn an_arrival_counts_from_the_miners_event() {
        let mut propagation = Propagation::default();
        assert!(!propagation.observe(&accepted(5, "b", 1)), "mined unseen");
        assert!(!propagation.observe(&mined(1_000, 1)));
        assert!(propagation.observe(&accepted(1_250, "b", 1)));
        assert!(propagation.observe(&accepted(1_040, "c", 1)));
        // A clock a little behind the miner's is no negative delay.
        assert!(propagation.observe(&accepted(990, "d", 1)));
        assert_eq!(propagation.sorted(), vec![0, 40, 250]);
    }

    #[test]
    fn only_the_latest_arrivals_and_mined_blocks_are_kept() {
        let mut propagation = Propagation::default();
        propagation.observe(&mined(0, 1));
        for i in 0..(ARRIVALS as u64 + 10) {
            propagation.observe(&accepted(i, "b", 1));
        }
        let sorted = propagation.sorted();
        assert_eq!(sorted.len(), ARRIVALS);
        assert_eq!(sorted[0], 10, "the oldest ten went");
        for i in 0..(MINED_KEPT as u64 + 1) {
            let mut event = mined(i, 0);
            if let EventKind::BlockMined { hash, .. } = &mut event.kind {
                let mut bytes = [0u8; 32];
                bytes[..8].copy_from_slice(&(i + 100).to_le_bytes());
                *hash = BlockHash::from_bytes(bytes);
            }
            propagation.observe(&event);
        }
        assert_eq!(propagation.mined.len(), MINED_KEPT);
        assert!(
            !propagation.observe(&accepted(9, "b", 1)),
            "the first block mined was forgotten"
        );
    }

    #[test]
    fn quantiles_are_nearest_rank() {
        let sorted: Vec<u64> = (1..=10).collect();
        assert_eq!(quantile(&sorted, 0.5), Some(5));
        assert_eq!(quantile(&sorted, 0.9), Some(9));
        assert_eq!(quantile(&sorted, 0.0), Some(1));
        assert_eq!(quantile(&sorted, 1.0), Some(10));
        assert_eq!(quantile(&[], 0.5), None);
    }

    fn stats(at: u64, best: u64, stale: u64) -> NetworkStats {
        NetworkStats {
            since: 0,
            at,
            running_nodes: 3,
            majority_tip: None,
            majority_height: None,
            majority_nodes: 3,
            blocks_found: best + stale,
            best_chain_blocks: best,
            stale_blocks: stale,
            pending_blocks: 0,
            stale_rate: stale as f64 / (best + stale).max(1) as f64,
            reorgs: Default::default(),
            propagation: Default::default(),
            miners: Vec::new(),
            forks: Vec::new(),
            hash_power: Default::default(),
            events_missed: 0,
        }
    }

    #[test]
    fn the_stale_history_skips_repeats_and_restarts_after_a_reset() {
        let mut history = Vec::new();
        push_stats(&mut history, &stats(5_000, 9, 1));
        push_stats(&mut history, &stats(5_000, 9, 1));
        push_stats(&mut history, &stats(10_000, 18, 2));
        assert_eq!(history.len(), 2);
        assert_eq!(history[1].stale_rate, 0.1);
        assert_eq!(history[1].blocks, 20);
        // POST /stats/reset: the counts fall.
        push_stats(&mut history, &stats(15_000, 1, 0));
        assert_eq!(history.len(), 1);
        for i in 0..(STALE_POINTS as u64 + 5) {
            push_stats(&mut history, &stats(20_000 + i, 1 + i, 0));
        }
        assert_eq!(history.len(), STALE_POINTS);
    }

    fn figures(started_at: u64, blocks: u64, share: f64) -> AttackFigures {
        AttackFigures {
            kind: AttackKind::Selfish,
            node: "a".into(),
            address: "127.0.0.1:5000".into(),
            hashrate_share: 0.33,
            started_at,
            stopped_at: None,
            start_height: 10,
            best_chain_blocks: blocks,
            attacker_blocks: (blocks as f64 * share) as u64,
            attacker_share: share,
            honest_orphaned: 0,
            entry_on_best_chain: None,
            double_spend_on_best_chain: None,
            rejections: BTreeMap::new(),
            bans: Vec::new(),
            strategy: None,
            state: None,
        }
    }

    #[test]
    fn the_share_series_grows_with_the_chain_and_restarts_with_an_attack() {
        let mut series = AttackSeries::default();
        series.observe(&figures(7, 0, 0.0));
        assert!(series.points.is_empty(), "no block yet");
        series.observe(&figures(7, 4, 0.25));
        series.observe(&figures(7, 4, 0.25));
        series.observe(&figures(7, 10, 0.4));
        assert_eq!(series.points, vec![(4.0, 0.25), (10.0, 0.4)]);
        series.observe(&figures(8, 2, 0.5));
        assert_eq!((series.started_at, series.points.len()), (8, 1));
    }

    fn rejected(node: &str, hash: u8) -> Event {
        Event {
            at: 0,
            node: Some(node.into()),
            kind: EventKind::BlockRejected {
                hash: BlockHash::from_bytes([hash; 32]),
                height: 7,
                reason: shared::Rejection::EmptyChain,
                summary: "merkle root does not match".into(),
                from: Some("127.0.0.1:5003".into()),
            },
        }
    }

    #[test]
    fn a_refused_block_is_listed_once_with_every_refusing_node() {
        let mut list = Vec::new();
        assert!(note_rejection(&mut list, &rejected("a", 1)));
        assert!(note_rejection(&mut list, &rejected("b", 1)));
        assert!(!note_rejection(&mut list, &rejected("b", 1)));
        assert!(!note_rejection(&mut list, &mined(0, 2)));
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].nodes, vec!["a", "b"]);
        assert_eq!(list[0].from.as_deref(), Some("127.0.0.1:5003"));
        for hash in 2..(REJECTED_KEPT as u8 + 5) {
            note_rejection(&mut list, &rejected("a", hash));
        }
        assert_eq!(list.len(), REJECTED_KEPT);
        assert_eq!(
            list[0].hash,
            BlockHash::from_bytes([REJECTED_KEPT as u8 + 4; 32])
        );
    }

    #[test]
    fn reorgs_are_told_by_depth() {
        assert_eq!(reorg_summary(&BTreeMap::new()), "No reorganisation yet.");
        let depths = BTreeMap::from([(1, 3), (4, 1)]);
        assert_eq!(
            reorg_summary(&depths),
            "4 reorganisations: 3 of depth 1, 1 of depth 4."
        );
        assert_eq!(
            reorg_summary(&BTreeMap::from([(2, 1)])),
            "1 reorganisation: 1 of depth 2."
        );
    }
}
