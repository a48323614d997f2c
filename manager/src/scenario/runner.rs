//! Runs a [`Scenario`] from start to end on a network of its own: nodes on
//! OS-chosen ports on loopback, the lab chain at the scenario's interval,
//! driven through the same [`Manager`] calls as the HTTP API. A progress
//! line per step (and every few seconds while mining) goes to the
//! `progress` callback; the figures come back as a [`Report`].

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use shared::api::{LinkConditionsUpdate, NodeState, PartitionRequest};
use shared::events::EventKind;
use shared::stats::{Distribution, NetworkHashrateRequest, NetworkStats};
use shared::{BlockHash, Preset};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use shared::attack::{AttackKind, AttackRequest};
use shared::strategy::{ForgeRule, TimestampMode};

use super::format::{Expect, Scenario, Step};
use super::report::{Check, Measurement, MinerFigures, Report};
use crate::config::Config;
use crate::hashpower::{self, StartPlanError};
use crate::mining::MiningPlan;
use crate::network::Manager;
use crate::theory;

/// How long a node table may take to agree on one tip once mining stopped
/// or a partition healed.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(120);
/// How often the runner looks at the network while it waits.
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// Tips unchanged this long while they differ: a tie of equal work that no
/// node will give up (first seen wins), so one more block settles it.
const TIE_AFTER: Duration = Duration::from_secs(10);
/// How often a progress line is written while mining.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Where the nodes run from and where progress goes.
#[derive(Clone)]
pub struct RunOptions {
    pub node_bin: PathBuf,
    /// Each node's store and log go under it.
    pub data_dir: PathBuf,
    pub progress: Arc<dyn Fn(&str) + Send + Sync>,
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Plan(#[from] StartPlanError),
    #[error("the lab chain cannot be made: {0}")]
    Lab(String),
    #[error("cannot start the node spawner thread: {0}")]
    Spawner(std::io::Error),
    #[error("{failed} of {wanted} nodes did not start: {first}")]
    Nodes {
        failed: usize,
        wanted: u16,
        first: String,
    },
    #[error("step {number} (line {line}, {what}): {message}")]
    Step {
        number: usize,
        line: usize,
        what: String,
        message: String,
    },
}

/// Every block the hub reported: who mined it and on what, and in what
/// order things happened, for the race figures (γ) of a selfish attack.
#[derive(Debug, Default)]
struct BlockLog {
    miner: HashMap<BlockHash, String>,
    parent: HashMap<BlockHash, BlockHash>,
    height: HashMap<BlockHash, u64>,
    /// When each block was mined, as a position in the hub's event order.
    mined_at: HashMap<BlockHash, u64>,
    /// Each time a node published exactly one withheld block: the node, the
    /// block, and the position of the announcement.
    single_releases: Vec<(String, BlockHash, u64)>,
    /// Positions given so far.
    clock: u64,
    /// Races before this position are forgotten (`reset_stats`).
    since: u64,
}

/// What a running `attack` step changed, to undo and to judge it.
#[derive(Debug, Clone)]
struct Attack {
    kind: AttackKind,
    index: usize,
    share: f64,
    confirmations: u64,
}

/// What a partition left, read at the heal: each group's height gain over
/// the height at the split.
#[derive(Debug, Clone)]
struct Split {
    fork_height: u64,
    groups: Vec<Vec<usize>>,
    branch_lengths: Vec<u64>,
}

struct Runner<'a> {
    scenario: &'a Scenario,
    manager: Manager,
    progress: Arc<dyn Fn(&str) + Send + Sync>,
    /// Node index to slot and address, in launch order.
    nodes: Vec<(usize, String)>,
    blocks: Arc<Mutex<BlockLog>>,
    attack: Option<Attack>,
    split_at: Option<(u64, Vec<Vec<usize>>)>,
    split: Option<Split>,
    reset_at: Instant,
    measurements: Vec<Measurement>,
}

/// Run `scenario` on a network of its own and stop every node after,
/// whatever happened.
pub async fn run(scenario: &Scenario, options: RunOptions) -> Result<Report, RunError> {
    let progress = options.progress.clone();
    progress("measuring this machine's hash rate");
    let capacity = hashpower::measure_and_log().await;
    let start_plan = hashpower::start_plan(
        Preset::Lab,
        Some(scenario.block_interval_ms),
        scenario.total_hashrate,
        scenario.nodes,
        capacity,
    )?;
    let lab = start_plan.lab.ok_or(StartPlanError::NoInterval)?;
    let checked = tokio::task::spawn_blocking(move || {
        shared::ChainParams::lab(lab.block_interval_ms, lab.network_hashrate).map(|_| ())
    })
    .await;
    match checked {
        Ok(Ok(())) => {}
        Ok(Err(err)) => return Err(RunError::Lab(err.to_string())),
        Err(err) => return Err(RunError::Lab(err.to_string())),
    }
    let config = Config {
        port: 0,
        host: "127.0.0.1".to_owned(),
        nodes: scenario.nodes,
        node_port: 0,
        chain: Preset::Lab,
        data_dir: options.data_dir.clone(),
        node_bin: options.node_bin.clone(),
        explorer_dir: PathBuf::new(),
        threads: 1,
        ban_secs: None,
        token: None,
        topology: scenario.topology,
        topology_seed: scenario.topology_seed,
        discover: None,
        capacity,
        block_interval_ms: Some(scenario.block_interval_ms),
        total_hashrate: Some(lab.network_hashrate),
        start_plan,
    };
    let shutdown = CancellationToken::new();
    let manager = Manager::new(
        &config,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        None,
        shutdown.clone(),
    )
    .map_err(RunError::Spawner)?;
    manager.spawn_background();
    let blocks = Arc::new(Mutex::new(BlockLog::default()));
    tokio::spawn(log_blocks(manager.clone(), blocks.clone()));

    progress(&format!(
        "starting {} nodes on the lab chain: a block every {} ms at {} attempts/s",
        scenario.nodes, lab.block_interval_ms, lab.network_hashrate
    ));
    let started_at_ms = node::clock::now_ms();
    let failures = manager.launch_network(scenario.nodes).await;
    let outcome = if let Some(first) = failures.first() {
        Err(RunError::Nodes {
            failed: failures.len(),
            wanted: scenario.nodes,
            first: first.to_string(),
        })
    } else {
        let mut nodes = manager.live_addresses();
        nodes.sort();
        let mut runner = Runner {
            scenario,
            manager: manager.clone(),
            progress: progress.clone(),
            nodes,
            blocks,
            attack: None,
            split_at: None,
            split: None,
            reset_at: Instant::now(),
            measurements: Vec::new(),
        };
        runner.run_steps().await.map(|()| Report {
            scenario: scenario.name.clone(),
            nodes: scenario.nodes,
            block_interval_ms: scenario.block_interval_ms,
            total_hashrate: lab.network_hashrate,
            started_at_ms,
            finished_at_ms: node::clock::now_ms(),
            measurements: runner.measurements,
        })
    };
    progress("stopping the nodes");
    manager.cancel_mining_job();
    shutdown.cancel();
    manager.stop_spawned().await;
    outcome
}

/// File who mined each block (`block_mined`) and its parent (from any
/// node's `block_accepted`), until the hub closes.
async fn log_blocks(manager: Manager, log: Arc<Mutex<BlockLog>>) {
    let mut events = manager.subscribe();
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(_)) => continue,
            Err(RecvError::Closed) => return,
        };
        if manager.shutdown_signal().is_cancelled() {
            return;
        }
        let mut log = log.lock().unwrap_or_else(|poison| poison.into_inner());
        log.clock += 1;
        let now = log.clock;
        match event.kind {
            EventKind::BlockMined { hash, height, .. } => {
                if let Some(node) = event.node {
                    log.miner.insert(hash, node);
                }
                log.height.insert(hash, height);
                log.mined_at.insert(hash, now);
            }
            EventKind::BlocksPublished { count: 1, tip } => {
                if let Some(node) = event.node {
                    log.single_releases.push((node, tip, now));
                }
            }
            EventKind::BlockAccepted {
                hash,
                previous_hash,
                height,
                ..
            } => {
                log.parent.insert(hash, previous_hash);
                log.height.insert(hash, height);
            }
            _ => {}
        }
    }
}

/// A short name of a step, for progress lines and errors.
fn describe(step: &Step) -> String {
    match step {
        Step::Links {
            a, b, latency_ms, ..
        } => {
            let end = |i: &Option<usize>| i.map_or("*".to_owned(), |i| format!("node {i}"));
            format!("links {}-{} {latency_ms} ms", end(a), end(b))
        }
        Step::HashPower { shares } => format!("hash_power {shares:?}"),
        Step::ResetStats {} => "reset_stats".to_owned(),
        Step::Mine { blocks } => format!("mine {blocks} blocks"),
        Step::Partition { groups } => format!("partition {groups:?}"),
        Step::Heal {} => "heal".to_owned(),
        Step::Settle {} => "settle".to_owned(),
        Step::Wait { ms } => format!("wait {ms} ms"),
        Step::Attack {
            kind,
            node,
            hashrate_share,
            ..
        } => format!("attack {kind:?} by node {node} with {hashrate_share}"),
        Step::StopAttack {} => "stop_attack".to_owned(),
        Step::Measure { label, .. } => format!("measure {label:?}"),
    }
}

impl Runner<'_> {
    async fn run_steps(&mut self) -> Result<(), RunError> {
        let total = self.scenario.steps.len();
        for (number, step) in self.scenario.steps.iter().enumerate() {
            let what = describe(step.get_ref());
            (self.progress)(&format!("[{}/{total}] {what}", number + 1));
            self.run_step(step.get_ref())
                .await
                .map_err(|message| RunError::Step {
                    number: number + 1,
                    line: self.scenario.line_of_step(number),
                    what,
                    message,
                })?;
        }
        Ok(())
    }

    async fn run_step(&mut self, step: &Step) -> Result<(), String> {
        match step {
            Step::Links {
                a,
                b,
                latency_ms,
                jitter_ms,
                loss,
                bandwidth_kbps,
            } => {
                let end = |index: &Option<usize>| {
                    index.map_or_else(|| "*".to_owned(), |i| self.nodes[i].1.clone())
                };
                let update = LinkConditionsUpdate {
                    peer: None,
                    latency_ms: Some(*latency_ms),
                    jitter_ms: Some(*jitter_ms),
                    loss: Some(*loss),
                    bandwidth_kbps: Some(*bandwidth_kbps),
                    down: None,
                };
                // The same as `POST /network/links`, "*" where no node is named.
                let request = shared::api::NetworkLinksRequest {
                    a: end(a),
                    b: end(b),
                    preset: None,
                    latency_ms: update.latency_ms.map(|v| v as i64),
                    jitter_ms: update.jitter_ms.map(|v| v as i64),
                    loss: update.loss,
                    bandwidth_kbps: update.bandwidth_kbps.map(|v| v as i64),
                    down: None,
                };
                self.manager
                    .set_links(&request)
                    .await
                    .map(|_| ())
                    .map_err(|err| err.to_string())
            }
            Step::HashPower { shares } => {
                let total = self.manager.hash_power().total_attempts_per_sec;
                self.set_shares(total, shares).await
            }
            Step::ResetStats {} => {
                self.manager.reset_stats().await;
                {
                    let mut log = self.blocks.lock().unwrap_or_else(|p| p.into_inner());
                    log.since = log.clock + 1;
                }
                self.reset_at = Instant::now();
                Ok(())
            }
            Step::Mine { blocks } => self.mine(*blocks).await,
            Step::Partition { groups } => {
                let fork_height = self.manager.registry().network_height();
                let request = PartitionRequest {
                    groups: groups
                        .iter()
                        .map(|group| group.iter().map(|&i| self.nodes[i].1.clone()).collect())
                        .collect(),
                };
                self.manager
                    .partition(&request)
                    .await
                    .map_err(|err| err.to_string())?;
                self.split_at = Some((fork_height, groups.clone()));
                Ok(())
            }
            Step::Heal {} => {
                if let Some((fork_height, groups)) = self.split_at.take() {
                    let heights = self.heights();
                    let branch_lengths = groups
                        .iter()
                        .map(|group| {
                            group
                                .iter()
                                .filter_map(|&i| heights[i])
                                .max()
                                .unwrap_or(fork_height)
                                .saturating_sub(fork_height)
                        })
                        .collect();
                    self.split = Some(Split {
                        fork_height,
                        groups,
                        branch_lengths,
                    });
                }
                self.manager.heal().await.map_err(|err| err.to_string())?;
                self.settle().await
            }
            Step::Settle {} => self.settle().await,
            Step::Wait { ms } => {
                tokio::time::sleep(Duration::from_millis(*ms)).await;
                Ok(())
            }
            Step::Attack {
                kind,
                node,
                hashrate_share,
                confirmations,
                mode,
                rule,
            } => {
                self.start_attack(*kind, *node, *hashrate_share, *confirmations, mode, rule)
                    .await
            }
            Step::StopAttack {} => self.stop_attack().await,
            Step::Measure { label, expect } => self.measure(label, *expect).await,
        }
    }

    /// Each node's height (by index), `None` for a node without one.
    fn heights(&self) -> Vec<Option<u64>> {
        let summaries = self.manager.registry().summaries();
        self.nodes
            .iter()
            .map(|(slot, _)| summaries.get(*slot).and_then(|node| node.height))
            .collect()
    }

    async fn set_shares(&self, total: u64, shares: &[f64]) -> Result<(), String> {
        let distribution = Distribution::Shares(
            self.nodes
                .iter()
                .zip(shares)
                .map(|((_, address), share)| (address.clone(), *share))
                .collect(),
        );
        self.manager
            .set_network_hashrate(&NetworkHashrateRequest {
                total: total as f64,
                distribution,
            })
            .await
            .map(|_| ())
            .map_err(|err| err.to_string())
    }

    /// Every miner on until the network's best height grew by `blocks`;
    /// bounded by twenty times the blocks' expected time and a minute.
    async fn mine(&self, blocks: u64) -> Result<(), String> {
        let start = self.manager.registry().network_height();
        let goal = start + blocks;
        self.manager
            .start_mining(MiningPlan::Continuous, Some(blocks));
        let bound = Duration::from_millis(self.scenario.block_interval_ms.saturating_mul(blocks))
            * 20
            + Duration::from_secs(60);
        let began = Instant::now();
        let mut said = Instant::now();
        let outcome = loop {
            let height = self.manager.registry().network_height();
            if height >= goal {
                break Ok(());
            }
            if began.elapsed() > bound {
                break Err(format!(
                    "the network grew {} of {blocks} blocks in {} s",
                    height.saturating_sub(start),
                    bound.as_secs()
                ));
            }
            if said.elapsed() >= PROGRESS_EVERY {
                said = Instant::now();
                (self.progress)(&format!(
                    "      mined {} of {blocks} blocks",
                    height.saturating_sub(start)
                ));
            }
            tokio::time::sleep(LOOK_EVERY).await;
        };
        self.manager.stop_mining().await;
        outcome
    }

    /// Wait until every running node holds the same tip.
    async fn settle(&self) -> Result<(), String> {
        let began = Instant::now();
        let mut last_tips: Vec<Option<BlockHash>> = Vec::new();
        let mut unchanged_since = Instant::now();
        loop {
            let tips: Vec<Option<BlockHash>> = self
                .manager
                .registry()
                .summaries()
                .into_iter()
                .filter(|node| node.state == NodeState::Running)
                .map(|node| node.best_hash)
                .collect();
            if tips
                .first()
                .is_some_and(|first| first.is_some() && tips.iter().all(|tip| tip == first))
            {
                return Ok(());
            }
            if tips != last_tips {
                last_tips = tips.clone();
                unchanged_since = Instant::now();
            } else if unchanged_since.elapsed() > TIE_AFTER {
                // As on a real network, the next block breaks the tie: one
                // from the first node, which every other node then adopts.
                if let Some((_, address)) = self.nodes.first() {
                    (self.progress)("      a tie of equal tips: mining one block to break it");
                    let _ = self.manager.client().mine(address).await;
                }
                unchanged_since = Instant::now();
            }
            if began.elapsed() > SETTLE_TIMEOUT {
                return Err(format!(
                    "the nodes hold {} different tips after {} s",
                    tips.iter().collect::<std::collections::BTreeSet<_>>().len(),
                    SETTLE_TIMEOUT.as_secs()
                ));
            }
            tokio::time::sleep(LOOK_EVERY).await;
        }
    }

    /// The same as `POST /attacks` ([`Manager::start_attack`]).
    async fn start_attack(
        &mut self,
        kind: AttackKind,
        index: usize,
        share: f64,
        confirmations: Option<u64>,
        mode: &Option<TimestampMode>,
        rule: &Option<ForgeRule>,
    ) -> Result<(), String> {
        let request = AttackRequest {
            kind,
            node: self.nodes[index].1.clone(),
            hashrate_share: share,
            confirmations,
            entry: None,
            double_spend: None,
            mode: *mode,
            rule: *rule,
        };
        self.manager
            .start_attack(&request)
            .await
            .map_err(|err| err.to_string())?;
        self.attack = Some(Attack {
            kind,
            index,
            share,
            confirmations: confirmations.unwrap_or(0),
        });
        Ok(())
    }

    /// The same as `POST /attacks/stop`.
    async fn stop_attack(&mut self) -> Result<(), String> {
        self.manager
            .stop_attack()
            .await
            .map_err(|err| err.to_string())?;
        self.attack = None;
        Ok(())
    }

    async fn measure(&mut self, label: &str, expect: Expect) -> Result<(), String> {
        let stats = self.manager.stats().await;
        let elapsed_ms = self.reset_at.elapsed().as_millis() as u64;
        let ids: Vec<String> = {
            let summaries = self.manager.registry().summaries();
            self.nodes
                .iter()
                .map(|(slot, _)| {
                    summaries
                        .get(*slot)
                        .map(|n| n.id.clone())
                        .unwrap_or_default()
                })
                .collect()
        };
        let miners: Vec<MinerFigures> = ids
            .iter()
            .enumerate()
            .map(|(index, id)| {
                let miner = stats.miners.iter().find(|m| &m.node == id);
                MinerFigures {
                    index,
                    node: id.clone(),
                    hash_share: miner.map_or(0.0, |m| m.hash_share),
                    blocks_found: miner.map_or(0, |m| m.blocks_found),
                    best_chain_blocks: miner.map_or(0, |m| m.best_chain_blocks),
                    stale_blocks: miner.map_or(0, |m| m.stale_blocks),
                    best_chain_share: miner.map_or(0.0, |m| m.best_chain_share),
                }
            })
            .collect();
        let checks = match expect {
            Expect::Nothing => Vec::new(),
            Expect::StaleRate => stale_checks(&stats, elapsed_ms, self.scenario.block_interval_ms),
            Expect::Partition => self.partition_checks(&stats)?,
            Expect::Selfish => self.selfish_checks(&miners, &ids)?,
            Expect::DoubleSpend => self.double_spend_checks().await?,
        };
        for check in &checks {
            (self.progress)(&format!(
                "      {label}: {} measured {:.4}, expected {:.4}",
                check.figure, check.measured, check.expected
            ));
        }
        self.measurements.push(Measurement {
            label: label.to_owned(),
            expect,
            elapsed_ms,
            blocks_found: stats.blocks_found,
            best_chain_blocks: stats.best_chain_blocks,
            stale_blocks: stats.stale_blocks,
            stale_rate: stats.stale_rate,
            reorgs: stats.reorgs.count,
            max_reorg_depth: stats.reorgs.depths.keys().max().copied().unwrap_or(0),
            propagation_p50_ms: stats.propagation.to_90.p50_ms,
            propagation_blocks: stats.propagation.to_90.blocks,
            miners,
            checks,
        });
        Ok(())
    }

    fn partition_checks(&self, stats: &NetworkStats) -> Result<Vec<Check>, String> {
        let split = self
            .split
            .as_ref()
            .ok_or("expect = \"partition\" needs a partition and a heal before it")?;
        let winner = split
            .branch_lengths
            .iter()
            .enumerate()
            .max_by_key(|(_, length)| **length)
            .map_or(0, |(at, _)| at);
        let losing: Vec<u64> = split
            .branch_lengths
            .iter()
            .enumerate()
            .filter(|(at, _)| *at != winner)
            .map(|(_, length)| *length)
            .collect();
        let orphaned: u64 = losing.iter().sum();
        let depth = losing.iter().max().copied().unwrap_or(0);
        let groups = format!("{:?}", split.groups);
        Ok(vec![
            Check {
                figure: "stale_blocks".to_owned(),
                measured: stats.stale_blocks as f64,
                expected: orphaned as f64,
                note: format!(
                    "the losing groups' branches since height {} ({groups}: {:?} blocks each)",
                    split.fork_height, split.branch_lengths
                ),
            },
            Check {
                figure: "max_reorg_depth".to_owned(),
                measured: stats.reorgs.depths.keys().max().copied().unwrap_or(0) as f64,
                expected: depth as f64,
                note: "the longest losing branch".to_owned(),
            },
        ])
    }

    /// The attacker's share of the best chain against R(α, γ), with γ
    /// measured from races (see [`races`]).
    fn selfish_checks(
        &self,
        miners: &[MinerFigures],
        ids: &[String],
    ) -> Result<Vec<Check>, String> {
        let attack = self
            .attack
            .as_ref()
            .filter(|attack| attack.kind == AttackKind::Selfish)
            .ok_or("expect = \"selfish\" needs a selfish attack running")?;
        let attacker = &ids[attack.index];
        let races = {
            let log = self
                .blocks
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            races(&log, attacker)
        };
        let gamma = races.gamma();
        let measured = miners[attack.index].best_chain_share;
        let best: u64 = miners.iter().map(|m| m.best_chain_blocks).sum();
        let gamma_used = gamma.unwrap_or(0.0);
        Ok(vec![
            Check {
                figure: "revenue_share".to_owned(),
                measured,
                expected: theory::selfish_revenue(attack.share, gamma_used),
                note: format!(
                    "R(α={}, γ={gamma_used:.3}) over {best} best-chain blocks",
                    attack.share
                ),
            },
            Check {
                figure: "fair_share".to_owned(),
                measured,
                expected: attack.share,
                note: "α, what honest mining would earn".to_owned(),
            },
            Check {
                figure: "gamma".to_owned(),
                measured: gamma_used,
                expected: gamma_used,
                note: format!(
                    "measured, not predicted: {} races; {} settled by honest blocks, {} of them on the attacker's; {} by the attacker",
                    races.races, races.honest_settled, races.on_attacker, races.attacker_settled
                ),
            },
        ])
    }

    /// Whether the attacker's double spend ended on the best chain of an
    /// honest node in place of the paid entry, against the catch-up
    /// probability for its share and the confirmations.
    async fn double_spend_checks(&self) -> Result<Vec<Check>, String> {
        let attack = self
            .attack
            .as_ref()
            .filter(|attack| attack.kind == AttackKind::Private)
            .ok_or("expect = \"double_spend\" needs a private attack running")?;
        let figures = self
            .manager
            .attack_figures()
            .await
            .attack
            .ok_or("the attack has no figures")?;
        let paid = figures.entry_on_best_chain.unwrap_or(false);
        let spent = figures.double_spend_on_best_chain.unwrap_or(false);
        let success = spent && !paid;
        let yes = |on: bool| if on { "yes" } else { "no" };
        Ok(vec![Check {
            figure: "double_spend_won".to_owned(),
            measured: if success { 1.0 } else { 0.0 },
            expected: theory::catch_up_probability(attack.share, attack.confirmations as u32),
            note: format!(
                "q={}, z={}; on the best chain: {:?} {}, {:?} {}",
                attack.share,
                attack.confirmations,
                crate::attacks::DEFAULT_ENTRY,
                yes(paid),
                crate::attacks::DEFAULT_DOUBLE_SPEND,
                yes(spent)
            ),
        }])
    }
}

/// How the 1–1 races of a selfish attack ended, from the block log.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Races {
    /// The attacker published one withheld block to match an honest block
    /// of the same height already mined.
    races: u64,
    /// Races the next block settled that an honest node mined...
    honest_settled: u64,
    /// ...and of those, the ones it mined on the attacker's block.
    on_attacker: u64,
    /// Races the attacker settled itself (its next block).
    attacker_settled: u64,
}

impl Races {
    /// γ: the share of honest power that mined on the attacker's block
    /// during a race, estimated as the share of honest-settled races
    /// settled on it (an honest block lands on the attacker's side with
    /// probability γ, whoever mined the rival).
    fn gamma(&self) -> Option<f64> {
        (self.honest_settled > 0).then(|| self.on_attacker as f64 / self.honest_settled as f64)
    }
}

/// The 1–1 races of Eyal and Sirer's state 0′ since the last reset: each
/// time `attacker` announced a single withheld block A while an honest block
/// B of A's height was already mined, the first block mined after on A or
/// on such a B settles it. A publication that came after a block on top of
/// B was already mined was no race (the honest chain was ahead).
fn races(log: &BlockLog, attacker: &str) -> Races {
    let mut by_height: HashMap<u64, Vec<BlockHash>> = HashMap::new();
    for (hash, height) in &log.height {
        by_height.entry(*height).or_default().push(*hash);
    }
    let is_attackers = |hash: &BlockHash| log.miner.get(hash).is_some_and(|m| m == attacker);
    let mut out = Races::default();
    for (node, block, published_at) in &log.single_releases {
        if node != attacker || *published_at < log.since {
            continue;
        }
        let Some(height) = log.height.get(block) else {
            continue;
        };
        let rivals: Vec<BlockHash> = by_height
            .get(height)
            .into_iter()
            .flatten()
            .filter(|hash| {
                !is_attackers(hash) && log.mined_at.get(*hash).is_some_and(|t| t < published_at)
            })
            .copied()
            .collect();
        if rivals.is_empty() {
            continue;
        }
        // The first block mined on either side.
        let first_child = by_height
            .get(&(height + 1))
            .into_iter()
            .flatten()
            .filter(|hash| {
                log.parent
                    .get(*hash)
                    .is_some_and(|parent| parent == block || rivals.contains(parent))
            })
            .filter_map(|hash| log.mined_at.get(hash).map(|t| (*t, *hash)))
            .min();
        let Some((mined_at, child)) = first_child else {
            continue;
        };
        if mined_at < *published_at {
            continue;
        }
        out.races += 1;
        if is_attackers(&child) {
            out.attacker_settled += 1;
        } else {
            out.honest_settled += 1;
            if log.parent.get(&child) == Some(block) {
                out.on_attacker += 1;
            }
        }
    }
    out
}

/// The measured stale rate against 1 − e^(−τ/T): τ the median time for a
/// block to reach 90 % of the nodes, T the measured mean interval (and
/// the lab chain's T beside it).
fn stale_checks(stats: &NetworkStats, elapsed_ms: u64, interval_ms: u64) -> Vec<Check> {
    let tau = stats.propagation.to_90.p50_ms as f64;
    let measured_t = if stats.best_chain_blocks > 0 {
        elapsed_ms as f64 / stats.best_chain_blocks as f64
    } else {
        interval_ms as f64
    };
    vec![
        Check {
            figure: "stale_rate".to_owned(),
            measured: stats.stale_rate,
            expected: theory::stale_rate(tau, measured_t),
            note: format!(
                "1-e^(-τ/T), τ={tau} ms (p50 to 90% over {} blocks), T={measured_t:.0} ms measured; {} stale of {}",
                stats.propagation.to_90.blocks,
                stats.stale_blocks,
                stats.stale_blocks + stats.best_chain_blocks
            ),
        },
        Check {
            figure: "stale_rate_at_lab_T".to_owned(),
            measured: stats.stale_rate,
            expected: theory::stale_rate(tau, interval_ms as f64),
            note: format!("the same with the lab chain's T={interval_ms} ms"),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(tag: u8) -> BlockHash {
        BlockHash::from_bytes([tag; 32])
    }

    /// A log written as the hub would see it, one call per event.
    #[derive(Default)]
    struct Script(BlockLog);

    impl Script {
        fn tick(&mut self) -> u64 {
            self.0.clock += 1;
            self.0.clock
        }
        fn mined(&mut self, miner: &str, tag: u8, parent: u8, height: u64) -> &mut Self {
            let now = self.tick();
            let log = &mut self.0;
            log.miner.insert(hash(tag), miner.to_owned());
            log.parent.insert(hash(tag), hash(parent));
            log.height.insert(hash(tag), height);
            log.mined_at.insert(hash(tag), now);
            self
        }
        fn published(&mut self, miner: &str, tag: u8) -> &mut Self {
            let now = self.tick();
            self.0
                .single_releases
                .push((miner.to_owned(), hash(tag), now));
            self
        }
    }

    #[test]
    fn a_race_settled_by_an_honest_block_on_the_attackers_counts_toward_gamma() {
        let mut s = Script::default();
        s.mined("a", 1, 0, 1) // withheld
            .mined("h1", 2, 0, 1) // the honest rival
            .published("a", 1) // the race
            .mined("h2", 3, 1, 2); // an honest node mines on the attacker's
        let races = races(&s.0, "a");
        assert_eq!(
            races,
            Races {
                races: 1,
                honest_settled: 1,
                on_attacker: 1,
                attacker_settled: 0
            }
        );
        assert_eq!(races.gamma(), Some(1.0));
    }

    #[test]
    fn races_settled_on_the_honest_side_or_by_the_attacker_are_told_apart() {
        let mut s = Script::default();
        s.mined("a", 1, 0, 1)
            .mined("h1", 2, 0, 1)
            .published("a", 1)
            .mined("h1", 3, 2, 2) // on the honest rival
            .mined("a", 4, 3, 3)
            .mined("h2", 5, 3, 3)
            .published("a", 4)
            .mined("a", 6, 4, 4); // the attacker settles it
        let races = races(&s.0, "a");
        assert_eq!(
            races,
            Races {
                races: 2,
                honest_settled: 1,
                on_attacker: 0,
                attacker_settled: 1
            }
        );
        assert_eq!(races.gamma(), Some(0.0));
    }

    #[test]
    fn a_publication_without_an_earlier_rival_or_after_the_honest_chain_moved_on_is_no_race() {
        let mut s = Script::default();
        // No honest block at its height was mined before it.
        s.mined("a", 1, 0, 1).published("a", 1).mined("h1", 2, 0, 1);
        // The honest side already built on its rival.
        s.mined("a", 3, 1, 2)
            .mined("h1", 4, 1, 2)
            .mined("h1", 5, 4, 3)
            .published("a", 3);
        // A release by another node, and blocks of heights with two honest
        // blocks, are not the attacker's races either.
        s.mined("b", 6, 5, 4)
            .mined("h1", 7, 5, 4)
            .published("b", 6)
            .mined("h2", 8, 6, 5);
        assert_eq!(races(&s.0, "a"), Races::default());
        assert_eq!(races(&s.0, "a").gamma(), None);
    }

    #[test]
    fn races_before_a_reset_are_forgotten() {
        let mut s = Script::default();
        s.mined("a", 1, 0, 1)
            .mined("h1", 2, 0, 1)
            .published("a", 1)
            .mined("h2", 3, 1, 2);
        s.0.since = s.0.clock + 1;
        assert_eq!(races(&s.0, "a"), Races::default());
    }
}
