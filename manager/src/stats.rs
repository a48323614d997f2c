//! Network metrics folded from every node's events: blocks found, stale
//! blocks and the stale rate, reorganisations, propagation times, each
//! miner's share, and the forks open now.
//!
//! [`StatsBook`] is pure: [`StatsBook::apply`] files one event in O(1)
//! (a block record and a node's recent tips), and [`StatsBook::report`]
//! does the walking (the majority's chain, each block's side of it) in
//! O(blocks kept), only when someone asks: `GET /stats`, `GET /metrics` and
//! the `stats` event every [`STATS_EVERY`]. At most [`WINDOW`] blocks are
//! kept, the oldest dropped first.
//!
//! A block's parent comes from `block_accepted` (which names it); for a
//! block no other node has accepted yet, it is the miner's own tip one
//! height below, from the tips its `block_mined`, `block_accepted` and
//! `chain_reorganized` events walked through, since a node mines on its
//! best tip. So `block_mined` need not carry its parent.

use std::cmp::Reverse;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::Duration;

use shared::BlockHash;
use shared::api::{NodeState, NodeSummary};
use shared::events::{Event, EventKind};
use shared::stats::{
    ForkInfo, HashPowerBody, MinerStats, NetworkStats, Percentiles, PropagationStats, ReorgStats,
};
use tokio::sync::broadcast::error::RecvError;

use crate::network::Manager;

/// Blocks kept for classifying and timing.
pub const WINDOW: usize = 10_000;
/// How often the `stats` event goes out.
pub const STATS_EVERY: Duration = Duration::from_secs(5);
/// Tips remembered per node, to find the parent of a block it mined.
const RECENT_TIPS: usize = 16;

/// A node's place in [`StatsBook::names`]; blocks record who saw them by it.
type NodeIndex = u16;

#[derive(Debug)]
struct BlockRecord {
    height: u64,
    parent: Option<BlockHash>,
    miner: Option<NodeIndex>,
    mined_at: Option<u64>,
    /// When each node first had the block, in its own events' times.
    seen: Vec<(NodeIndex, u64)>,
}

impl BlockRecord {
    fn saw(&mut self, node: NodeIndex, at: u64) {
        match self.seen.iter_mut().find(|(who, _)| *who == node) {
            Some((_, first)) => *first = (*first).min(at),
            None => self.seen.push((node, at)),
        }
    }
}

#[derive(Debug, Default)]
pub struct StatsBook {
    since: u64,
    names: Vec<String>,
    index: HashMap<String, NodeIndex>,
    blocks: HashMap<BlockHash, BlockRecord>,
    /// Insertion order, for dropping the oldest.
    order: VecDeque<BlockHash>,
    recent_tips: HashMap<NodeIndex, VecDeque<(BlockHash, u64)>>,
    reorgs: ReorgStats,
    missed: u64,
}

/// Where a block found since `since` stands against the majority's tip.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    BestChain,
    Pending,
    Stale,
}

impl StatsBook {
    /// Counting starts at `since` (ms since the epoch).
    pub fn new(since: u64) -> StatsBook {
        StatsBook {
            since,
            ..StatsBook::default()
        }
    }

    /// Count from `now` again: blocks found, reorgs and propagation start
    /// over; the blocks already known still place the new ones.
    pub fn reset(&mut self, now: u64) {
        self.since = now;
        self.reorgs = ReorgStats::default();
        self.missed = 0;
    }

    /// The hub dropped `count` events before the statistics read them.
    pub fn missed(&mut self, count: u64) {
        self.missed += count;
    }

    pub fn blocks_kept(&self) -> usize {
        self.blocks.len()
    }

    fn intern(&mut self, node: &str) -> NodeIndex {
        if let Some(index) = self.index.get(node) {
            return *index;
        }
        let index = NodeIndex::try_from(self.names.len()).unwrap_or(NodeIndex::MAX);
        self.names.push(node.to_owned());
        self.index.insert(node.to_owned(), index);
        index
    }

    fn record(&mut self, hash: BlockHash, height: u64) -> &mut BlockRecord {
        if !self.blocks.contains_key(&hash) {
            self.order.push_back(hash);
            if self.order.len() > WINDOW
                && let Some(oldest) = self.order.pop_front()
            {
                self.blocks.remove(&oldest);
            }
        }
        self.blocks.entry(hash).or_insert_with(|| BlockRecord {
            height,
            parent: None,
            miner: None,
            mined_at: None,
            seen: Vec::new(),
        })
    }

    fn moved_to(&mut self, node: NodeIndex, hash: BlockHash, height: u64) {
        let tips = self.recent_tips.entry(node).or_default();
        tips.push_back((hash, height));
        if tips.len() > RECENT_TIPS {
            tips.pop_front();
        }
    }

    /// The tip `node` last had at `height`: what it mined on.
    fn tip_below(&self, node: NodeIndex, height: u64) -> Option<BlockHash> {
        let below = height.checked_sub(1)?;
        self.recent_tips
            .get(&node)?
            .iter()
            .rev()
            .find(|(_, at)| *at == below)
            .map(|(hash, _)| *hash)
    }

    /// File one event (node events only; the rest pass by).
    pub fn apply(&mut self, event: &Event) {
        let Some(node) = event.node.as_deref() else {
            return;
        };
        match &event.kind {
            EventKind::BlockMined { height, hash, .. } => {
                let who = self.intern(node);
                let parent = self.tip_below(who, *height);
                let record = self.record(*hash, *height);
                record.miner = Some(who);
                record.mined_at = Some(event.at);
                record.parent = record.parent.or(parent);
                record.saw(who, event.at);
                self.moved_to(who, *hash, *height);
            }
            EventKind::BlockAccepted {
                height,
                hash,
                previous_hash,
                active,
                ..
            } => {
                let who = self.intern(node);
                let record = self.record(*hash, *height);
                record.parent = Some(*previous_hash);
                record.saw(who, event.at);
                if *active {
                    self.moved_to(who, *hash, *height);
                }
            }
            EventKind::ChainReorganized {
                new_tip,
                new_height,
                depth,
                ..
            } => {
                let who = self.intern(node);
                self.moved_to(who, *new_tip, *new_height);
                if event.at >= self.since {
                    self.reorgs.count += 1;
                    *self.reorgs.depths.entry(*depth).or_default() += 1;
                }
            }
            _ => {}
        }
    }

    /// `hash` and its known ancestors.
    fn chain_of(&self, hash: BlockHash) -> HashSet<BlockHash> {
        let mut chain = HashSet::from([hash]);
        let mut at = hash;
        while let Some(parent) = self.blocks.get(&at).and_then(|record| record.parent) {
            if !chain.insert(parent) {
                break;
            }
            at = parent;
        }
        chain
    }

    /// Whether `hash` is `tip` or built on it (walking down to its height).
    fn descends_from(&self, hash: BlockHash, tip: BlockHash, tip_height: u64) -> bool {
        let mut at = hash;
        loop {
            if at == tip {
                return true;
            }
            let Some(record) = self.blocks.get(&at) else {
                return false;
            };
            match record.parent {
                Some(parent) if record.height > tip_height => at = parent,
                _ => return false,
            }
        }
    }

    /// The first block of `hash`'s ancestry on `best`.
    fn meets(&self, hash: BlockHash, best: &HashSet<BlockHash>) -> Option<u64> {
        let mut at = hash;
        for _ in 0..=WINDOW {
            let record = self.blocks.get(&at)?;
            if best.contains(&at) {
                return Some(record.height);
            }
            at = record.parent?;
        }
        None
    }

    /// The figures now. `nodes` is the node table (shares filled in); only
    /// running nodes count as the network.
    pub fn report(
        &self,
        nodes: &[NodeSummary],
        hash_power: HashPowerBody,
        now: u64,
    ) -> NetworkStats {
        self.report_with_samples(nodes, hash_power, now).0
    }

    /// [`StatsBook::report`], and the propagation samples (ms, to 50, 90
    /// and 100 % of the running nodes) behind its percentiles.
    pub fn report_with_samples(
        &self,
        nodes: &[NodeSummary],
        hash_power: HashPowerBody,
        now: u64,
    ) -> (NetworkStats, [Vec<u64>; 3]) {
        let running: Vec<&NodeSummary> = nodes
            .iter()
            .filter(|node| node.state == NodeState::Running && !node.id.is_empty())
            .collect();
        let mut groups: BTreeMap<BlockHash, (u64, Vec<String>)> = BTreeMap::new();
        for node in &running {
            if let Some(hash) = node.best_hash {
                let group = groups.entry(hash).or_insert((0, Vec::new()));
                group.0 = group.0.max(node.height.unwrap_or(0));
                group.1.push(node.id.clone());
            }
        }
        let majority = groups
            .iter()
            .max_by_key(|(hash, (height, ids))| (ids.len(), *height, Reverse(**hash)))
            .map(|(hash, (height, ids))| (*hash, *height, ids.len()));
        let best = majority
            .map(|(tip, _, _)| self.chain_of(tip))
            .unwrap_or_default();
        let standing = |hash: BlockHash| match majority {
            _ if best.contains(&hash) => Standing::BestChain,
            Some((tip, height, _)) if self.descends_from(hash, tip, height) => Standing::Pending,
            _ => Standing::Stale,
        };

        let running_index: HashSet<NodeIndex> = running
            .iter()
            .filter_map(|node| self.index.get(&node.id).copied())
            .collect();
        let shares = [0.5, 0.9, 1.0]
            .map(|fraction: f64| ((fraction * running_index.len() as f64).ceil() as usize).max(1));
        let mut samples: [Vec<u64>; 3] = Default::default();
        // By node index: found, best chain, stale.
        let mut found: BTreeMap<NodeIndex, [u64; 3]> = BTreeMap::new();
        let (mut total, mut on_best, mut stale, mut pending) = (0, 0, 0, 0);
        for (hash, record) in &self.blocks {
            let (Some(miner), Some(mined_at)) = (record.miner, record.mined_at) else {
                continue;
            };
            if mined_at < self.since {
                continue;
            }
            total += 1;
            let counts = found.entry(miner).or_default();
            counts[0] += 1;
            match standing(*hash) {
                Standing::BestChain => {
                    on_best += 1;
                    counts[1] += 1;
                }
                Standing::Stale => {
                    stale += 1;
                    counts[2] += 1;
                }
                Standing::Pending => pending += 1,
            }
            let mut delays: Vec<u64> = record
                .seen
                .iter()
                .filter(|(who, _)| running_index.contains(who))
                .map(|(_, at)| at.saturating_sub(mined_at))
                .collect();
            delays.sort_unstable();
            for (reach, sample) in shares.iter().zip(samples.iter_mut()) {
                if let Some(delay) = delays.get(reach - 1) {
                    sample.push(*delay);
                }
            }
        }

        let mut miners: Vec<MinerStats> = Vec::new();
        let mut listed = HashSet::new();
        for node in nodes {
            let counts = self
                .index
                .get(&node.id)
                .and_then(|index| found.get(index))
                .copied()
                .unwrap_or_default();
            if node.state != NodeState::Running && counts[0] == 0 {
                continue;
            }
            listed.insert(node.id.clone());
            miners.push(miner_row(
                node.id.clone(),
                Some(node.address.clone()),
                node.hash_share,
                node.measured_share,
                counts,
                on_best,
            ));
        }
        for (index, counts) in &found {
            let name = &self.names[usize::from(*index)];
            if !listed.contains(name) {
                miners.push(miner_row(name.clone(), None, 0.0, 0.0, *counts, on_best));
            }
        }

        let forks = match majority {
            Some((tip, tip_height, _)) => groups
                .iter()
                .filter(|(hash, _)| {
                    !best.contains(*hash) && !self.descends_from(**hash, tip, tip_height)
                })
                .map(|(hash, (height, ids))| ForkInfo {
                    tip: *hash,
                    height: *height,
                    nodes: ids.clone(),
                    fork_height: self.meets(*hash, &best),
                })
                .collect(),
            None => Vec::new(),
        };

        for sample in samples.iter_mut() {
            sample.sort_unstable();
        }
        let [to_50, to_90, to_100] = samples.clone().map(|mut sample| percentiles(&mut sample));
        let stats = NetworkStats {
            since: self.since,
            at: now,
            running_nodes: running.len(),
            majority_tip: majority.map(|(tip, _, _)| tip),
            majority_height: majority.map(|(_, height, _)| height),
            majority_nodes: majority.map_or(0, |(_, _, count)| count),
            blocks_found: total,
            best_chain_blocks: on_best,
            stale_blocks: stale,
            pending_blocks: pending,
            stale_rate: ratio(stale, stale + on_best),
            reorgs: self.reorgs.clone(),
            propagation: PropagationStats {
                to_50,
                to_90,
                to_100,
            },
            miners,
            forks,
            hash_power,
            events_missed: self.missed,
        };
        (stats, samples)
    }
}

fn miner_row(
    node: String,
    address: Option<String>,
    hash_share: f64,
    measured_share: f64,
    [found, best, stale]: [u64; 3],
    all_best: u64,
) -> MinerStats {
    MinerStats {
        node,
        address,
        hash_share,
        measured_share,
        blocks_found: found,
        best_chain_blocks: best,
        stale_blocks: stale,
        best_chain_share: ratio(best, all_best),
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Nearest-rank percentiles of `sample`.
pub fn percentiles(sample: &mut [u64]) -> Percentiles {
    sample.sort_unstable();
    let rank = |p: f64| -> u64 {
        if sample.is_empty() {
            return 0;
        }
        let at = ((p * sample.len() as f64).ceil() as usize).clamp(1, sample.len());
        sample[at - 1]
    };
    Percentiles {
        blocks: sample.len() as u64,
        p50_ms: rank(0.50),
        p90_ms: rank(0.90),
        p99_ms: rank(0.99),
    }
}

impl Manager {
    /// The figures of `GET /stats` now. The walk over the kept blocks runs
    /// on a blocking thread (tens of ms for a big network), off the workers
    /// that serve requests.
    pub async fn stats(&self) -> NetworkStats {
        let manager = self.clone();
        tokio::task::spawn_blocking(move || manager.stats_now())
            .await
            .unwrap_or_else(|_| self.stats_now())
    }

    fn stats_now(&self) -> NetworkStats {
        let nodes = self.node_summaries();
        let hash_power = self.hash_power();
        let now = node::clock::now_ms();
        self.inner.stats.lock().report(&nodes, hash_power, now)
    }

    /// `GET /metrics`: the node table and these figures as OpenMetrics
    /// text, on a blocking thread like [`Manager::stats`].
    pub async fn metrics_text(&self) -> String {
        let manager = self.clone();
        tokio::task::spawn_blocking(move || manager.metrics_now())
            .await
            .unwrap_or_default()
    }

    fn metrics_now(&self) -> String {
        let nodes = self.node_summaries();
        let peers = self.registry().peer_counts();
        let hash_power = self.hash_power();
        let now = node::clock::now_ms();
        let (stats, samples) = self
            .inner
            .stats
            .lock()
            .report_with_samples(&nodes, hash_power, now);
        crate::metrics::render(&nodes, &peers, &stats, &samples)
    }

    /// `POST /stats/reset`.
    pub async fn reset_stats(&self) -> NetworkStats {
        self.inner.stats.lock().reset(node::clock::now_ms());
        self.stats().await
    }

    /// File every event of the hub, and put the figures on it every
    /// [`STATS_EVERY`], until shutdown. Each event costs a short lock, so
    /// the hub never waits on the statistics.
    pub async fn keep_stats(&self) {
        let mut events = self.subscribe();
        let mut ticks = tokio::time::interval(STATS_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            tokio::select! {
                _ = self.inner.shutdown.cancelled() => return,
                _ = ticks.tick() => {
                    let stats = self.stats().await;
                    self.emit(None, EventKind::Stats { stats: Box::new(stats) });
                }
                received = events.recv() => match received {
                    Ok(event) => self.inner.stats.lock().apply(&event),
                    Err(RecvError::Lagged(count)) => self.inner.stats.lock().missed(count),
                    Err(RecvError::Closed) => return,
                },
            }
        }
    }
}

/// The book behind a std mutex, never held across an `.await`.
#[derive(Debug)]
pub struct SharedBook(std::sync::Mutex<StatsBook>);

impl SharedBook {
    pub fn new(since: u64) -> SharedBook {
        SharedBook(std::sync::Mutex::new(StatsBook::new(since)))
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, StatsBook> {
        self.0.lock().unwrap_or_else(|poison| poison.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> BlockHash {
        BlockHash::from_bytes([n; 32])
    }

    fn at(at: u64, node: &str, kind: EventKind) -> Event {
        Event {
            at,
            node: Some(node.to_owned()),
            kind,
        }
    }

    fn mined(time: u64, node: &str, height: u64, block: u8) -> Event {
        at(
            time,
            node,
            EventKind::BlockMined {
                height,
                hash: hash(block),
                attempts: 1,
                elapsed_ms: 1,
                entries: 0,
            },
        )
    }

    fn accepted(time: u64, node: &str, height: u64, block: u8, parent: u8, active: bool) -> Event {
        at(
            time,
            node,
            EventKind::BlockAccepted {
                height,
                hash: hash(block),
                previous_hash: hash(parent),
                from: None,
                active,
            },
        )
    }

    fn reorg(time: u64, node: &str, new_tip: u8, new_height: u64, depth: u64) -> Event {
        at(
            time,
            node,
            EventKind::ChainReorganized {
                old_tip: hash(0),
                new_tip: hash(new_tip),
                depth,
                fork_height: new_height - depth - 1,
                new_height,
            },
        )
    }

    /// A running node on `tip` at `height`.
    fn node(id: &str, tip: u8, height: u64) -> NodeSummary {
        NodeSummary {
            id: id.to_owned(),
            address: format!("127.0.0.1:{}", 5000 + u16::from(id.as_bytes()[0])),
            pid: None,
            state: NodeState::Running,
            height: Some(height),
            best_hash: Some(hash(tip)),
            mining: true,
            hash_rate: 1.0,
            isolated: false,
            hashrate_limit: 0,
            hash_share: 0.0,
            measured_share: 0.0,
        }
    }

    fn report(book: &StatsBook, nodes: &[NodeSummary]) -> NetworkStats {
        book.report(nodes, HashPowerBody::default(), 1_000_000)
    }

    /// Genesis is block 100. a mines 1 and 2; b mines its own 2 at the same
    /// time; each gets the other's; a mines 3 and b reorganises onto it.
    fn a_fork_won_by_a(book: &mut StatsBook) {
        book.apply(&accepted(0, "a", 0, 100, 99, true));
        book.apply(&accepted(0, "b", 0, 100, 99, true));
        book.apply(&mined(10, "a", 1, 1));
        book.apply(&accepted(20, "b", 1, 1, 100, true));
        book.apply(&mined(30, "a", 2, 2));
        book.apply(&mined(31, "b", 2, 12));
        book.apply(&accepted(40, "a", 2, 12, 1, false));
        book.apply(&accepted(41, "b", 2, 2, 1, false));
        book.apply(&mined(50, "a", 3, 3));
        book.apply(&accepted(60, "b", 3, 3, 2, true));
        book.apply(&reorg(60, "b", 3, 3, 1));
    }

    #[test]
    fn the_losing_side_of_a_fork_is_stale() {
        let mut book = StatsBook::new(0);
        a_fork_won_by_a(&mut book);
        let stats = report(&book, &[node("a", 3, 3), node("b", 3, 3)]);
        assert_eq!(stats.majority_tip, Some(hash(3)));
        assert_eq!(stats.majority_nodes, 2);
        assert_eq!(stats.blocks_found, 4);
        assert_eq!(stats.best_chain_blocks, 3);
        assert_eq!(stats.stale_blocks, 1);
        assert_eq!(stats.pending_blocks, 0);
        assert_eq!(stats.stale_rate, 0.25);
        let b = stats.miners.iter().find(|m| m.node == "b").unwrap();
        assert_eq!(
            (b.blocks_found, b.best_chain_blocks, b.stale_blocks),
            (1, 0, 1)
        );
        let a = stats.miners.iter().find(|m| m.node == "a").unwrap();
        assert_eq!((a.best_chain_blocks, a.best_chain_share), (3, 1.0));
        assert!(stats.forks.is_empty(), "{:?}", stats.forks);
    }

    #[test]
    fn a_parent_no_other_node_named_is_the_miners_tip_below() {
        let mut book = StatsBook::new(0);
        // b's block at height 2 is never accepted by anyone: its parent is
        // b's tip at height 1, block 1.
        book.apply(&accepted(0, "b", 0, 100, 99, true));
        book.apply(&mined(10, "a", 1, 1));
        book.apply(&accepted(20, "b", 1, 1, 100, true));
        book.apply(&mined(30, "a", 2, 2));
        book.apply(&mined(31, "b", 2, 12));
        book.apply(&mined(50, "a", 3, 3));
        let on_a = report(&book, &[node("a", 3, 3), node("b", 12, 2), node("c", 3, 3)]);
        assert_eq!(on_a.stale_blocks, 1);
        assert_eq!(on_a.best_chain_blocks, 3);
        // b sits on its own branch, which left the majority's at height 1.
        assert_eq!(
            on_a.forks,
            vec![ForkInfo {
                tip: hash(12),
                height: 2,
                nodes: vec!["b".to_owned()],
                fork_height: Some(1),
            }]
        );
    }

    #[test]
    fn blocks_beyond_the_majority_tip_are_pending_not_stale() {
        let mut book = StatsBook::new(0);
        a_fork_won_by_a(&mut book);
        book.apply(&mined(70, "a", 4, 4));
        // b and c are still on 3: block 4 is on its way, and a is ahead, not
        // on a fork.
        let stats = report(&book, &[node("a", 4, 4), node("b", 3, 3), node("c", 3, 3)]);
        assert_eq!(stats.majority_tip, Some(hash(3)));
        assert_eq!((stats.best_chain_blocks, stats.pending_blocks), (3, 1));
        assert_eq!(stats.stale_blocks, 1);
        assert!(stats.forks.is_empty(), "{:?}", stats.forks);
    }

    #[test]
    fn reorgs_are_counted_by_depth() {
        let mut book = StatsBook::new(0);
        for (time, depth) in [(1, 1), (2, 2), (3, 1), (4, 5)] {
            book.apply(&reorg(time, "a", 9, 10, depth));
        }
        let stats = report(&book, &[node("a", 9, 10)]);
        assert_eq!(stats.reorgs.count, 4);
        assert_eq!(
            stats.reorgs.depths,
            BTreeMap::from([(1, 2), (2, 1), (5, 1)])
        );
    }

    #[test]
    fn propagation_counts_the_miner_and_ranks_the_others() {
        let mut book = StatsBook::new(0);
        let nodes = ["a", "b", "c", "d"];
        // Block k reaches b after k ms, c after 10k ms, d after 100k ms.
        for k in 1..=10u8 {
            let t0 = u64::from(k) * 1000;
            let delay = u64::from(k);
            book.apply(&mined(t0, "a", u64::from(k), k));
            book.apply(&accepted(t0 + delay, "b", u64::from(k), k, k - 1, true));
            book.apply(&accepted(
                t0 + 10 * delay,
                "c",
                u64::from(k),
                k,
                k - 1,
                true,
            ));
            if k <= 5 {
                book.apply(&accepted(
                    t0 + 100 * delay,
                    "d",
                    u64::from(k),
                    k,
                    k - 1,
                    true,
                ));
            }
        }
        let table: Vec<_> = nodes.iter().map(|id| node(id, 10, 10)).collect();
        let stats = report(&book, &table);
        // Half of four is the miner and b.
        assert_eq!(
            stats.propagation.to_50,
            Percentiles {
                blocks: 10,
                p50_ms: 5,
                p90_ms: 9,
                p99_ms: 10
            }
        );
        // 90 % of four is all four: only blocks 1..=5 reached d.
        assert_eq!(
            stats.propagation.to_100,
            Percentiles {
                blocks: 5,
                p50_ms: 300,
                p90_ms: 500,
                p99_ms: 500
            }
        );
        assert_eq!(stats.propagation.to_90, stats.propagation.to_100);
        // A node that is not running does not count.
        let mut three = table.clone();
        three[3].state = NodeState::Stopped;
        let stats = report(&book, &three);
        assert_eq!(stats.propagation.to_100.blocks, 10);
        assert_eq!(stats.propagation.to_100.p50_ms, 50);
    }

    #[test]
    fn a_reset_counts_from_then_and_still_places_new_blocks() {
        let mut book = StatsBook::new(0);
        a_fork_won_by_a(&mut book);
        book.reset(65);
        let fresh = report(&book, &[node("a", 3, 3), node("b", 3, 3)]);
        assert_eq!(fresh.since, 65);
        assert_eq!((fresh.blocks_found, fresh.stale_blocks), (0, 0));
        assert_eq!(fresh.reorgs, ReorgStats::default());
        assert_eq!(fresh.propagation.to_50.blocks, 0);
        assert_eq!(fresh.stale_rate, 0.0);
        // A new block on 3, whose ancestry was filed before the reset.
        book.apply(&mined(70, "b", 4, 4));
        book.apply(&accepted(71, "a", 4, 4, 3, true));
        let after = report(&book, &[node("a", 4, 4), node("b", 4, 4)]);
        assert_eq!((after.blocks_found, after.best_chain_blocks), (1, 1));
        assert_eq!(after.propagation.to_100.p50_ms, 1);
    }

    #[test]
    fn only_the_last_window_of_blocks_is_kept() {
        let mut book = StatsBook::new(0);
        let count = WINDOW + 50;
        for k in 0..count {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&(k as u64).to_le_bytes());
            book.apply(&at(
                k as u64,
                "a",
                EventKind::BlockMined {
                    height: k as u64 + 1,
                    hash: BlockHash::from_bytes(bytes),
                    attempts: 1,
                    elapsed_ms: 1,
                    entries: 0,
                },
            ));
        }
        assert_eq!(book.blocks_kept(), WINDOW);
        assert_eq!(book.order.len(), WINDOW);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let mut sample: Vec<u64> = (1..=100).rev().collect();
        let p = percentiles(&mut sample);
        assert_eq!((p.blocks, p.p50_ms, p.p90_ms, p.p99_ms), (100, 50, 90, 99));
        assert_eq!(percentiles(&mut []), Percentiles::default());
        assert_eq!(percentiles(&mut [7]).p99_ms, 7);
    }
}
