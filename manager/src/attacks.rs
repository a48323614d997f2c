//! Attacks on the running network: `POST /attacks` gives one node a
//! strategy (the node's `POST /strategy`) and a share of the hash power,
//! `GET /attacks` shows how it fares, `POST /attacks/stop` puts both back.
//!
//! The figures come from the hub: a recorder follows every event from the
//! attack's start (who mined which block, blocks refused and by whom,
//! bans), and the best chain since the start is read from an honest node
//! when asked.
//!
//! Hash power: the attacker gets `hashrate_share` of the network's current
//! total, the others split the rest equally; the caps from before are put
//! back at the stop. A network without a cap has no total to share, so an
//! attack needs one (`POST /network/hashrate` first).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use shared::api::NodeState;
use shared::attack::{
    AttackFigures, AttackKind, AttackRequest, AttacksBody, BanRecord, RejectionCount,
};
use shared::events::EventKind;
use shared::stats::{Distribution, NetworkHashrateRequest};
use shared::strategy::Strategy;
use shared::{BlockHash, Entry};
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::network::Manager;

pub use shared::attack::{DEFAULT_DOUBLE_SPEND, DEFAULT_ENTRY};

/// The manager's attack, running or last run.
#[derive(Debug, Default)]
pub struct Attacks {
    /// Never held across an `.await`.
    current: Mutex<Option<Running>>,
    /// Set while a start or a stop talks to the nodes, so two cannot race.
    busy: AtomicBool,
}

#[derive(Debug, Clone)]
struct Running {
    request: AttackRequest,
    id: String,
    address: String,
    started_at: u64,
    stopped_at: Option<u64>,
    start_height: u64,
    /// Every running node's cap (by address) and the total, before.
    caps_before: BTreeMap<String, u64>,
    total_before: u64,
    record: Arc<Mutex<Record>>,
    recorder: CancellationToken,
}

/// What the recorder saw since the start.
#[derive(Debug, Default)]
struct Record {
    /// Block hash to the id of the node that mined it, and its height.
    mined: HashMap<BlockHash, (String, u64)>,
    rejections: BTreeMap<String, RejectionCount>,
    bans: Vec<BanRecord>,
}

/// Releases [`Attacks::busy`] however the command ends.
struct Busy<'a>(&'a AtomicBool);

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Manager {
    fn attacks(&self) -> &Attacks {
        &self.inner.attacks
    }

    fn attack_turn(&self) -> Result<Busy<'_>, ApiError> {
        let busy = &self.attacks().busy;
        if busy
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(ApiError::Conflict(
                "an attack is being started or stopped; try again in a moment".to_owned(),
            ));
        }
        Ok(Busy(busy))
    }

    /// `POST /attacks`. Every check comes before the first change; a node
    /// that refuses its strategy changes nothing, and a failed hash power
    /// change puts the strategy back.
    pub async fn start_attack(&self, request: &AttackRequest) -> Result<AttacksBody, ApiError> {
        self.check_open()?;
        let share = request.hashrate_share;
        if !(share.is_finite() && share > 0.0 && share < 1.0) {
            return Err(ApiError::bad_request(format!(
                "hashrate_share {share}: the attacker's share is strictly between 0 and 1"
            )));
        }
        let strategy = request
            .strategy()
            .map_err(|err| ApiError::bad_request(err.to_string()))?;
        let _turn = self.attack_turn()?;
        if lock(&self.attacks().current)
            .as_ref()
            .is_some_and(|running| running.stopped_at.is_none())
        {
            return Err(ApiError::Conflict(
                "an attack is already running; POST /attacks/stop first".to_owned(),
            ));
        }
        let (slot, address) = self.resolve(&request.node)?;
        let power = self.hash_power();
        if power.nodes.len() < 2 {
            return Err(ApiError::Conflict(
                "an attack needs 2 or more running nodes".to_owned(),
            ));
        }
        if power.total_attempts_per_sec == 0 || power.nodes.iter().any(|n| n.attempts_per_sec == 0)
        {
            return Err(ApiError::Conflict(
                "the network has no hash rate cap to share: POST /network/hashrate {\"total\": ...} first"
                    .to_owned(),
            ));
        }
        let id = self.label(slot);
        let caps_before: BTreeMap<String, u64> = power
            .nodes
            .iter()
            .map(|node| (node.address.clone(), node.attempts_per_sec))
            .collect();
        let record = Arc::new(Mutex::new(Record::default()));
        let recorder = CancellationToken::new();
        // Subscribed before the strategy changes, so nothing it does is missed.
        let events = self.subscribe();
        tokio::spawn(record_events(events, record.clone(), recorder.clone()));
        let started_at = node::clock::now_ms();
        let start_height = self.registry().network_height();

        if let Err(err) = self.client().set_strategy(&address, &strategy).await {
            recorder.cancel();
            return Err(err.into());
        }
        let honest = (1.0 - share) / (power.nodes.len() - 1) as f64;
        let shares = power
            .nodes
            .iter()
            .map(|node| {
                let of = if node.address == address {
                    share
                } else {
                    honest
                };
                (node.address.clone(), of)
            })
            .collect();
        if let Err(err) = self
            .set_network_hashrate(&NetworkHashrateRequest {
                total: power.total_attempts_per_sec as f64,
                distribution: Distribution::Shares(shares),
            })
            .await
        {
            let _ = self
                .client()
                .set_strategy(&address, &Strategy::Honest)
                .await;
            recorder.cancel();
            return Err(err);
        }
        tracing::info!(
            node = %id,
            kind = ?request.kind,
            share,
            "attack started"
        );
        *lock(&self.attacks().current) = Some(Running {
            request: request.clone(),
            id,
            address,
            started_at,
            stopped_at: None,
            start_height,
            caps_before,
            total_before: power.total_attempts_per_sec,
            record,
            recorder,
        });
        Ok(self.attack_figures().await)
    }

    /// `POST /attacks/stop`: the attacker honest again, every cap as before.
    pub async fn stop_attack(&self) -> Result<AttacksBody, ApiError> {
        let _turn = self.attack_turn()?;
        let running = lock(&self.attacks().current)
            .clone()
            .filter(|running| running.stopped_at.is_none())
            .ok_or_else(|| ApiError::Conflict("no attack is running".to_owned()))?;
        self.client()
            .set_strategy(&running.address, &Strategy::Honest)
            .await?;
        let live: HashSet<String> = self
            .live_addresses()
            .into_iter()
            .map(|(_, address)| address)
            .collect();
        let total = running.total_before.max(1);
        let shares: BTreeMap<String, f64> = running
            .caps_before
            .iter()
            .filter(|(address, _)| live.contains(*address))
            .map(|(address, cap)| (address.clone(), *cap as f64 / total as f64))
            .collect();
        // The attacker is honest again whatever follows: a node that died
        // meanwhile cannot take its cap back, and the attack is over all
        // the same (the chaos run caught this stop answering 502 and
        // leaving the attack marked running).
        if let Err(error) = self
            .set_network_hashrate(&NetworkHashrateRequest {
                total: total as f64,
                distribution: Distribution::Shares(shares),
            })
            .await
        {
            tracing::warn!(%error, "not every hash rate cap was put back after the attack");
        }
        if let Some(current) = lock(&self.attacks().current).as_mut() {
            current.stopped_at = Some(node::clock::now_ms());
        }
        tracing::info!(node = %running.id, "attack stopped");
        // The figures stay readable; the recorder stops with the attack.
        let body = self.attack_figures().await;
        running.recorder.cancel();
        Ok(body)
    }

    /// `GET /attacks`.
    pub async fn attack_figures(&self) -> AttacksBody {
        let Some(running) = lock(&self.attacks().current).clone() else {
            return AttacksBody {
                running: false,
                attack: None,
            };
        };
        // The best chain as an honest node holds it (the attacker's own
        // view may include what it withholds).
        let honest = self
            .registry()
            .collect(|entry| {
                (entry.state() == NodeState::Running && entry.address() != running.address)
                    .then(|| entry.address().to_owned())
            })
            .into_iter()
            .next();
        let chain = match honest {
            Some(address) => self
                .client()
                .chain(&address, Some(running.start_height + 1), None)
                .await
                .map(|body| body.chain)
                .unwrap_or_default(),
            None => Vec::new(),
        };
        let on_chain: HashSet<BlockHash> = chain.iter().map(|block| block.hash).collect();
        let tip_height = chain
            .last()
            .map_or(running.start_height, |b| b.header.index);
        let carries = |text: &str| {
            chain.iter().any(|block| {
                block
                    .entries
                    .iter()
                    .any(|entry| matches!(entry, Entry::Data { data } if data == text))
            })
        };
        let (entry_on_best_chain, double_spend_on_best_chain) =
            if running.request.kind == AttackKind::Private {
                (
                    Some(carries(
                        running.request.entry.as_deref().unwrap_or(DEFAULT_ENTRY),
                    )),
                    Some(carries(
                        running
                            .request
                            .double_spend
                            .as_deref()
                            .unwrap_or(DEFAULT_DOUBLE_SPEND),
                    )),
                )
            } else {
                (None, None)
            };
        // The record's lock ends with this block, before the next `.await`.
        let figures = {
            let record = lock(&running.record);
            let attacker_blocks = chain
                .iter()
                .filter(|block| {
                    record
                        .mined
                        .get(&block.hash)
                        .is_some_and(|(miner, _)| *miner == running.id)
                })
                .count() as u64;
            let honest_orphaned = record
                .mined
                .iter()
                .filter(|(hash, (miner, height))| {
                    *miner != running.id && *height <= tip_height && !on_chain.contains(*hash)
                })
                .count() as u64;
            let best_chain_blocks = chain.len() as u64;
            AttackFigures {
                kind: running.request.kind,
                node: running.id.clone(),
                address: running.address.clone(),
                hashrate_share: running.request.hashrate_share,
                started_at: running.started_at,
                stopped_at: running.stopped_at,
                start_height: running.start_height,
                best_chain_blocks,
                attacker_blocks,
                attacker_share: if best_chain_blocks == 0 {
                    0.0
                } else {
                    attacker_blocks as f64 / best_chain_blocks as f64
                },
                honest_orphaned,
                entry_on_best_chain,
                double_spend_on_best_chain,
                rejections: record.rejections.clone(),
                bans: record.bans.clone(),
                strategy: None,
                state: None,
            }
        };
        // The attacker's own account (what it withholds, its lead, its
        // phase), unless it is gone or slow to answer.
        let figures = match self.client().strategy(&running.address).await {
            Ok(own) => AttackFigures {
                strategy: Some(own.strategy),
                state: Some(own.state),
                ..figures
            },
            Err(_) => figures,
        };
        AttacksBody {
            running: running.stopped_at.is_none(),
            attack: Some(figures),
        }
    }
}

/// Fold the hub's events into `record` until `stop`.
async fn record_events(
    mut events: tokio::sync::broadcast::Receiver<shared::events::Event>,
    record: Arc<Mutex<Record>>,
    stop: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            _ = stop.cancelled() => return,
            received = events.recv() => match received {
                Ok(event) => event,
                Err(RecvError::Lagged(count)) => {
                    tracing::warn!(count, "the attack recorder missed events");
                    continue;
                }
                Err(RecvError::Closed) => return,
            },
        };
        let node = event.node.clone().unwrap_or_default();
        let mut record = lock(&record);
        match event.kind {
            EventKind::BlockMined { hash, height, .. } => {
                record.mined.insert(hash, (node, height));
            }
            EventKind::BlockRejected { reason, .. } => {
                let rule = serde_json::to_value(&reason)
                    .ok()
                    .and_then(|value| value.get("rule")?.as_str().map(str::to_owned))
                    .unwrap_or_else(|| "unknown".to_owned());
                let count = record.rejections.entry(rule).or_default();
                count.count += 1;
                if !count.nodes.contains(&node) {
                    count.nodes.push(node);
                }
            }
            EventKind::PeerBanned {
                address,
                reason,
                until,
            } => record.bans.push(BanRecord {
                node,
                peer: address,
                reason,
                until,
            }),
            _ => {}
        }
    }
}
