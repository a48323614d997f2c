//! Hash power: what this machine can do (measured once, at start-up, on
//! every core), the cap on each node's miner, and how a network total is
//! split among the nodes (`equal`, `zipf`, or explicit shares). Every
//! request is checked in full before the first node is called, so a bad
//! one changes nothing.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use shared::api::{NodeState, NodeSummary};
use shared::stats::{
    Distribution, HashPowerBody, NetworkHashrateRequest, NodeHashPower, NodeHashrateRequest,
};
use shared::{PowSearch, Preset, Target};

use crate::error::ApiError;
use crate::network::Manager;

/// How long the start-up measurement hashes on every core.
pub const MEASURE_FOR: Duration = Duration::from_millis(400);
/// Shares may sum to 1 give or take this much (decimal fractions in JSON).
const SHARE_SLACK: f64 = 1e-9;

/// What this machine's cores did at start-up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Capacity {
    pub attempts_per_sec: f64,
    pub cores: usize,
}

/// Hash on every core for `duration` with a target nothing meets; blocks
/// the calling thread (run it on a blocking one).
pub fn measure_capacity(duration: Duration) -> Capacity {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let header = Preset::Regtest.params().genesis.header;
    let search = PowSearch::new(&header, Target::from_be_bytes([0; 32]));
    let started = Instant::now();
    let deadline = started + duration;
    let attempts: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..cores)
            .map(|core| {
                let search = &search;
                scope.spawn(move || {
                    let start = (core as u64) << 48;
                    search
                        .search(start..u64::MAX, || Instant::now() >= deadline)
                        .attempts()
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().unwrap_or(0))
            .sum()
    });
    Capacity {
        attempts_per_sec: attempts as f64 / started.elapsed().as_secs_f64(),
        cores,
    }
}

/// The lab chain's fixed difficulty: `network_hashrate` attempts/s find a
/// block every `block_interval_ms` on average. Serialized as the record a
/// data directory keeps of it ([`crate::lab_record`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LabChain {
    pub block_interval_ms: u64,
    pub network_hashrate: u64,
}

/// How the nodes start: the lab chain's parameters, if it is the lab
/// chain, and each node's `--hashrate` cap, if a total was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StartPlan {
    pub lab: Option<LabChain>,
    pub node_cap: Option<u64>,
}

/// Why the command line makes no network.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StartPlanError {
    #[error("--block-interval-ms only goes with --chain lab, not {0}")]
    IntervalNotLab(Preset),
    #[error("--chain lab needs --block-interval-ms")]
    NoInterval,
    #[error("--total-hashrate must be at least 1 attempt/s")]
    ZeroTotal,
    #[error(
        "--total-hashrate {requested} is more than this machine can do ({capacity:.0} attempts/s, measured at start-up)"
    )]
    OverCapacity { requested: u64, capacity: f64 },
    #[error(
        "--chain lab without --total-hashrate takes half the machine's capacity, which was not measured"
    )]
    NoCapacity,
    #[error(transparent)]
    Lab(#[from] shared::LabParamsError),
}

/// The share of the machine a lab network takes when no total is given:
/// half, so the nodes reach their caps with room for the manager, the
/// event streams and whatever else runs.
pub const DEFAULT_LAB_SHARE: f64 = 0.5;

/// What the nodes start with. On the lab chain the difficulty is fixed
/// from the total (given, or [`DEFAULT_LAB_SHARE`] of `capacity`) and
/// `interval_ms`; any total is split equally over the `nodes`.
pub fn start_plan(
    chain: Preset,
    interval_ms: Option<u64>,
    total: Option<u64>,
    nodes: u16,
    capacity: Option<Capacity>,
) -> Result<StartPlan, StartPlanError> {
    let lab = chain == Preset::Lab;
    if !lab && interval_ms.is_some() {
        return Err(StartPlanError::IntervalNotLab(chain));
    }
    let total = match (lab, total) {
        (_, Some(0)) => return Err(StartPlanError::ZeroTotal),
        (_, Some(total)) => Some(total),
        (true, None) => {
            let capacity = capacity.ok_or(StartPlanError::NoCapacity)?;
            Some(((capacity.attempts_per_sec * DEFAULT_LAB_SHARE) as u64).max(1))
        }
        (false, None) => None,
    };
    if let (Some(requested), Some(capacity)) = (total, capacity)
        && requested as f64 > capacity.attempts_per_sec
    {
        return Err(StartPlanError::OverCapacity {
            requested,
            capacity: capacity.attempts_per_sec,
        });
    }
    let lab = match (lab, interval_ms, total) {
        (true, Some(interval), Some(total)) => Some(LabChain {
            block_interval_ms: interval,
            network_hashrate: total,
        }),
        (true, None, _) => return Err(StartPlanError::NoInterval),
        _ => None,
    };
    let node_cap = total
        .filter(|_| nodes > 0)
        .map(|total| cap_for(total, 1.0 / f64::from(nodes)));
    Ok(StartPlan { lab, node_cap })
}

impl LabChain {
    /// The node flags that give every node this chain.
    pub fn node_args(&self) -> Vec<String> {
        vec![
            "--block-interval-ms".to_owned(),
            self.block_interval_ms.to_string(),
            "--network-hashrate".to_owned(),
            self.network_hashrate.to_string(),
        ]
    }
}

/// The manager's hash power facts; the caps themselves live in the node
/// table (`NodeSummary::hashrate_limit`).
#[derive(Debug, Default)]
pub struct HashPower {
    capacity: Mutex<Option<Capacity>>,
    pub lab: Option<LabChain>,
}

impl HashPower {
    pub fn new(capacity: Option<Capacity>, lab: Option<LabChain>) -> HashPower {
        HashPower {
            capacity: Mutex::new(capacity),
            lab,
        }
    }

    pub fn capacity(&self) -> Option<Capacity> {
        *self
            .capacity
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub fn set_capacity(&self, capacity: Capacity) {
        *self
            .capacity
            .lock()
            .unwrap_or_else(|poison| poison.into_inner()) = Some(capacity);
    }
}

/// Why a hash rate request was refused; each names the problem.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HashrateError {
    #[error("{field} must be a number of attempts/s, not {value}")]
    NotANumber { field: &'static str, value: f64 },
    #[error("{field} must not be negative (got {value})")]
    Negative { field: &'static str, value: f64 },
    #[error("total must be at least 1 attempt/s (got {0})")]
    ZeroTotal(f64),
    #[error(
        "{requested} attempts/s in all is more than this machine can do ({capacity:.0} attempts/s, measured at start-up)"
    )]
    OverCapacity { requested: u64, capacity: f64 },
    #[error("unknown distribution {0:?}: use \"equal\", \"zipf\" or {{\"<node>\": share, ...}}")]
    UnknownDistribution(String),
    #[error("the share of {node} must be from 0 to 1 (got {share})")]
    ShareOutOfRange { node: String, share: f64 },
    #[error("the shares sum to {0}, more than 1")]
    SharesOverOne(f64),
    #[error("{first:?} and {second:?} name the same node")]
    NamedTwice { first: String, second: String },
    #[error("no node {0:?}; use an id, a port or a host:port from GET /nodes")]
    UnknownNode(String),
    #[error("no node is running")]
    NoNodes,
}

impl From<HashrateError> for ApiError {
    fn from(error: HashrateError) -> ApiError {
        match error {
            HashrateError::UnknownNode(key) => ApiError::UnknownNode(key),
            HashrateError::NoNodes => ApiError::Conflict(error.to_string()),
            other => ApiError::bad_request(other.to_string()),
        }
    }
}

/// `value` as whole attempts/s (rounded), if it is a finite, non-negative number.
pub fn attempts(field: &'static str, value: f64) -> Result<u64, HashrateError> {
    if !value.is_finite() {
        return Err(HashrateError::NotANumber { field, value });
    }
    if value < 0.0 {
        return Err(HashrateError::Negative { field, value });
    }
    Ok(value.round() as u64)
}

/// Each node's share (same order as `nodes`, which is the table's) under
/// `distribution`; `find` says which of `nodes` a key names.
pub fn shares(
    distribution: &Distribution,
    nodes: &[String],
    find: impl Fn(&str) -> Option<usize>,
) -> Result<Vec<f64>, HashrateError> {
    if nodes.is_empty() {
        return Err(HashrateError::NoNodes);
    }
    let count = nodes.len();
    match distribution {
        Distribution::Named(name) => match name.trim().to_ascii_lowercase().as_str() {
            "equal" => Ok(vec![1.0 / count as f64; count]),
            "zipf" => {
                let weights: Vec<f64> = (1..=count).map(|rank| 1.0 / rank as f64).collect();
                let sum: f64 = weights.iter().sum();
                Ok(weights.into_iter().map(|weight| weight / sum).collect())
            }
            _ => Err(HashrateError::UnknownDistribution(name.clone())),
        },
        Distribution::Shares(named) => {
            let mut shares = vec![0.0; count];
            let mut by: BTreeMap<usize, &str> = BTreeMap::new();
            for (key, share) in named {
                let at = find(key).ok_or_else(|| HashrateError::UnknownNode(key.clone()))?;
                if let Some(first) = by.insert(at, key) {
                    return Err(HashrateError::NamedTwice {
                        first: first.to_owned(),
                        second: key.clone(),
                    });
                }
                if !(0.0..=1.0).contains(share) {
                    return Err(HashrateError::ShareOutOfRange {
                        node: key.clone(),
                        share: *share,
                    });
                }
                shares[at] = *share;
            }
            let sum: f64 = shares.iter().sum();
            if sum > 1.0 + SHARE_SLACK {
                return Err(HashrateError::SharesOverOne(sum));
            }
            Ok(shares)
        }
    }
}

/// The cap for a share of `total`. A node's cap of 0 means none, so a zero
/// share is the smallest cap there is, 1 attempt/s: at any difficulty the
/// lab uses, that node practically never finds a block.
pub fn cap_for(total: u64, share: f64) -> u64 {
    ((total as f64 * share).round() as u64).max(1)
}

fn check_capacity(requested: u64, capacity: Option<Capacity>) -> Result<(), HashrateError> {
    match capacity {
        Some(capacity) if requested as f64 > capacity.attempts_per_sec => {
            Err(HashrateError::OverCapacity {
                requested,
                capacity: capacity.attempts_per_sec,
            })
        }
        _ => Ok(()),
    }
}

/// Fill in each row's set and measured share.
pub fn fill_shares(nodes: &mut [NodeSummary]) {
    let running = |node: &&mut NodeSummary| node.state == NodeState::Running;
    let total: u64 = nodes
        .iter_mut()
        .filter(running)
        .map(|n| n.hashrate_limit)
        .fold(0, u64::saturating_add);
    let measured: f64 = nodes.iter_mut().filter(running).map(|n| n.hash_rate).sum();
    for node in nodes.iter_mut() {
        let on = node.state == NodeState::Running;
        node.hash_share = if on && total > 0 {
            node.hashrate_limit as f64 / total as f64
        } else {
            0.0
        };
        node.measured_share = if on && measured > 0.0 {
            node.hash_rate / measured
        } else {
            0.0
        };
    }
}

impl Manager {
    /// The node table with every share filled in.
    pub fn node_summaries(&self) -> Vec<NodeSummary> {
        let mut nodes = self.registry().summaries();
        fill_shares(&mut nodes);
        nodes
    }

    /// `GET /network/hashrate`.
    pub fn hash_power(&self) -> HashPowerBody {
        let capacity = self.inner.hash_power.capacity();
        let lab = self.inner.hash_power.lab;
        let nodes: Vec<NodeSummary> = self
            .node_summaries()
            .into_iter()
            .filter(|node| node.state == NodeState::Running)
            .collect();
        let total = nodes
            .iter()
            .map(|node| node.hashrate_limit)
            .fold(0, u64::saturating_add);
        let uncapped = nodes.iter().any(|node| node.hashrate_limit == 0);
        HashPowerBody {
            capacity_attempts_per_sec: capacity.map_or(0.0, |c| c.attempts_per_sec),
            cores: capacity.map_or(0, |c| c.cores),
            total_attempts_per_sec: total,
            measured_attempts_per_sec: nodes.iter().map(|node| node.hash_rate).sum(),
            lab_block_interval_ms: lab.map(|lab| lab.block_interval_ms),
            lab_network_hashrate: lab.map(|lab| lab.network_hashrate),
            // An uncapped node makes the total unknown.
            expected_block_interval_ms: lab.filter(|_| total > 0 && !uncapped).map(|lab| {
                lab.block_interval_ms as f64 * lab.network_hashrate as f64 / total as f64
            }),
            nodes: nodes
                .into_iter()
                .map(|node| NodeHashPower {
                    node: node.id,
                    address: node.address,
                    attempts_per_sec: node.hashrate_limit,
                    share: node.hash_share,
                })
                .collect(),
        }
    }

    /// `POST /nodes/{id}/hashrate`: one node's cap; the others keep theirs.
    pub async fn set_node_hashrate(
        &self,
        key: &str,
        request: &NodeHashrateRequest,
    ) -> Result<HashPowerBody, ApiError> {
        let cap = attempts("attempts_per_sec", request.attempts_per_sec)?;
        let (slot, _) = self.resolve(key)?;
        let others: u64 = self
            .registry()
            .collect(|entry| {
                (entry.slot != slot && entry.state() == NodeState::Running)
                    .then_some(entry.summary.hashrate_limit)
            })
            .into_iter()
            .fold(0, u64::saturating_add);
        // Caps are any u64 a request can name, so their sum saturates.
        check_capacity(others.saturating_add(cap), self.inner.hash_power.capacity())?;
        self.apply_caps(&[(slot, cap)]).await?;
        Ok(self.hash_power())
    }

    /// `POST /network/hashrate`: every running node's cap from one total.
    pub async fn set_network_hashrate(
        &self,
        request: &NetworkHashrateRequest,
    ) -> Result<HashPowerBody, ApiError> {
        let total = attempts("total", request.total)?;
        if total == 0 {
            return Err(HashrateError::ZeroTotal(request.total).into());
        }
        let nodes: Vec<(usize, String)> = self.registry().collect(|entry| {
            (entry.state() == NodeState::Running)
                .then(|| (entry.slot, entry.id().unwrap_or(entry.address()).to_owned()))
        });
        let names: Vec<String> = nodes.iter().map(|(_, name)| name.clone()).collect();
        let shares = shares(&request.distribution, &names, |key| {
            let slot = self.registry().find(key)?;
            nodes.iter().position(|(at, _)| *at == slot)
        })?;
        check_capacity(total, self.inner.hash_power.capacity())?;
        let caps: Vec<(usize, u64)> = nodes
            .iter()
            .zip(&shares)
            .map(|((slot, _), share)| (*slot, cap_for(total, *share)))
            .collect();
        self.apply_caps(&caps).await?;
        Ok(self.hash_power())
    }

    /// Send each node its cap (all at once) and note what was set.
    async fn apply_caps(&self, caps: &[(usize, u64)]) -> Result<(), ApiError> {
        let targets: Vec<(usize, String, u64)> = caps
            .iter()
            .filter_map(|(slot, cap)| {
                let address = self.registry().with(*slot, |e| e.address().to_owned())?;
                Some((*slot, address, *cap))
            })
            .collect();
        let client = self.client();
        let answers = join_all(
            targets
                .iter()
                .map(|(_, address, cap)| client.set_hashrate(address, *cap)),
        )
        .await;
        let mut failure = None;
        for ((slot, _, cap), answer) in targets.iter().zip(answers) {
            match answer {
                Ok(_) => {
                    self.registry().with(*slot, |entry| {
                        entry.summary.hashrate_limit = *cap;
                    });
                }
                Err(err) => failure = failure.or(Some(err)),
            }
        }
        match failure {
            Some(err) => Err(err.into()),
            None => Ok(()),
        }
    }
}

/// Measure the machine once, on blocking threads, and log it.
pub async fn measure_and_log() -> Option<Capacity> {
    let capacity = tokio::task::spawn_blocking(|| measure_capacity(MEASURE_FOR))
        .await
        .ok()?;
    tracing::info!(
        "machine capacity: {:.0} attempts/s on {} cores",
        capacity.attempts_per_sec,
        capacity.cores
    );
    Some(capacity)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(count: usize) -> Vec<String> {
        (0..count).map(|k| format!("n{k}")).collect()
    }

    fn find(key: &str) -> Option<usize> {
        key.strip_prefix('n')?.parse().ok().filter(|k| *k < 3)
    }

    #[test]
    fn equal_and_zipf_split_the_whole() {
        let equal = shares(&Distribution::Named("equal".into()), &names(4), find).unwrap();
        assert_eq!(equal, vec![0.25; 4]);
        let zipf = shares(&Distribution::Named("zipf".into()), &names(3), find).unwrap();
        // 1 : 1/2 : 1/3 over 11/6.
        let expected = [6.0 / 11.0, 3.0 / 11.0, 2.0 / 11.0];
        for (got, want) in zipf.iter().zip(expected) {
            assert!((got - want).abs() < 1e-12, "{zipf:?}");
        }
    }

    #[test]
    fn explicit_shares_leave_unnamed_nodes_at_zero() {
        let named = Distribution::Shares(BTreeMap::from([
            ("n0".to_owned(), 0.6),
            ("n2".to_owned(), 0.3),
        ]));
        assert_eq!(
            shares(&named, &names(3), find).unwrap(),
            vec![0.6, 0.0, 0.3]
        );
        assert_eq!(
            cap_for(1000, 0.0),
            1,
            "zero is no cap to a node; 1 is the least"
        );
        assert_eq!(cap_for(1000, 0.6), 600);
    }

    #[test]
    fn each_bad_request_names_its_problem() {
        let of = |pairs: &[(&str, f64)]| {
            Distribution::Shares(pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect())
        };
        let refused =
            |distribution: Distribution| shares(&distribution, &names(3), find).unwrap_err();
        assert_eq!(
            refused(Distribution::Named("pareto".into())),
            HashrateError::UnknownDistribution("pareto".into())
        );
        assert_eq!(
            refused(of(&[("n7", 0.5)])),
            HashrateError::UnknownNode("n7".into())
        );
        assert_eq!(
            refused(of(&[("n1", 1.5)])),
            HashrateError::ShareOutOfRange {
                node: "n1".into(),
                share: 1.5
            }
        );
        assert_eq!(
            refused(of(&[("n1", -0.1)])),
            HashrateError::ShareOutOfRange {
                node: "n1".into(),
                share: -0.1
            }
        );
        assert!(matches!(
            refused(of(&[("n0", 0.6), ("n1", 0.5)])),
            HashrateError::SharesOverOne(sum) if (sum - 1.1).abs() < 1e-9
        ));
        assert_eq!(
            shares(&Distribution::default(), &[], find).unwrap_err(),
            HashrateError::NoNodes
        );
        assert_eq!(
            attempts("total", -5.0).unwrap_err(),
            HashrateError::Negative {
                field: "total",
                value: -5.0
            }
        );
        assert!(matches!(
            attempts("total", f64::NAN).unwrap_err(),
            HashrateError::NotANumber { .. }
        ));
        let capacity = Some(Capacity {
            attempts_per_sec: 1000.0,
            cores: 2,
        });
        assert!(check_capacity(1000, capacity).is_ok());
        assert_eq!(
            check_capacity(1001, capacity).unwrap_err(),
            HashrateError::OverCapacity {
                requested: 1001,
                capacity: 1000.0
            }
        );
    }

    #[test]
    fn a_lab_network_takes_half_the_machine_unless_told_otherwise() {
        let capacity = Some(Capacity {
            attempts_per_sec: 1_000_000.0,
            cores: 2,
        });
        let plan = start_plan(Preset::Lab, Some(1000), None, 4, capacity).unwrap();
        assert_eq!(
            plan.lab,
            Some(LabChain {
                block_interval_ms: 1000,
                network_hashrate: 500_000
            })
        );
        assert_eq!(plan.node_cap, Some(125_000));
        let given = start_plan(Preset::Lab, Some(150), Some(300_000), 3, capacity).unwrap();
        assert_eq!(given.lab.unwrap().network_hashrate, 300_000);
        assert_eq!(given.node_cap, Some(100_000));
        // Other chains keep running uncapped unless a total is given.
        assert_eq!(
            start_plan(Preset::Regtest, None, None, 3, capacity).unwrap(),
            StartPlan::default()
        );
    }

    #[test]
    fn a_start_plan_is_refused_for_each_reason() {
        let capacity = Some(Capacity {
            attempts_per_sec: 1000.0,
            cores: 2,
        });
        assert_eq!(
            start_plan(Preset::Regtest, Some(1000), None, 2, capacity),
            Err(StartPlanError::IntervalNotLab(Preset::Regtest))
        );
        assert_eq!(
            start_plan(Preset::Lab, None, Some(10), 2, capacity),
            Err(StartPlanError::NoInterval)
        );
        assert_eq!(
            start_plan(Preset::Lab, Some(1000), Some(0), 2, capacity),
            Err(StartPlanError::ZeroTotal)
        );
        assert_eq!(
            start_plan(Preset::Lab, Some(1000), Some(1001), 2, capacity),
            Err(StartPlanError::OverCapacity {
                requested: 1001,
                capacity: 1000.0
            })
        );
        assert_eq!(
            start_plan(Preset::Lab, Some(1000), None, 2, None),
            Err(StartPlanError::NoCapacity)
        );
    }

    #[test]
    fn the_machine_does_some_work() {
        let capacity = measure_capacity(Duration::from_millis(50));
        assert!(capacity.cores >= 1);
        assert!(capacity.attempts_per_sec > 0.0, "{capacity:?}");
    }
}
