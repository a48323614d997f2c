//! `/start/mining` and `/stop/mining`: the network mines in the background
//! while the request that started it has long been answered.
//!
//! Rounds walk the running nodes and ask one to mine a block every 1–3 s
//! (the seed's README), never sending a node a second `/mine` while its
//! first is still being worked on. Continuous mode switches every node's
//! own miner on. Either stops after `blocks` network blocks (the highest
//! best-chain height any node reports grew by that much), or when asked.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;
use serde::Deserialize;
use shared::api::MessageBody;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use utoipa::{IntoParams, ToSchema};

use crate::client::NodeError;
use crate::network::Manager;

/// How `/start/mining` mines.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MiningPlan {
    /// One node at a time is asked for one block, every 1–3 s.
    #[default]
    Rounds,
    /// Every node mines block after block.
    Continuous,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MiningQuery {
    /// `rounds` (default) or `continuous`.
    pub mode: Option<MiningPlan>,
    /// Stop once the network's best height grew by this many blocks.
    pub blocks: Option<u64>,
}

/// How often a job looks whether the network reached its goal.
const GOAL_CHECK: Duration = Duration::from_millis(250);

impl Manager {
    /// Start a mining job in the background, replacing any running one.
    pub fn start_mining(&self, plan: MiningPlan, blocks: Option<u64>) -> MessageBody {
        static JOBS: AtomicU64 = AtomicU64::new(0);
        let number = JOBS.fetch_add(1, Ordering::SeqCst);
        let job = CancellationToken::new();
        let previous = lock(&self.inner.mining).replace((number, job.clone()));
        if let Some((_, previous)) = previous {
            previous.cancel();
        }
        let goal = blocks.map(|blocks| self.registry().network_height() + blocks);
        let nodes = self.live_addresses().len();
        let until = match blocks {
            Some(blocks) => format!("until the network has grown by {blocks} blocks"),
            None => "until GET /stop/mining".to_owned(),
        };
        let message = match plan {
            MiningPlan::Rounds => {
                tokio::spawn(rounds(self.clone(), number, job, goal));
                format!("mining in rounds on {nodes} nodes, one /mine request every 1-3 s, {until}")
            }
            MiningPlan::Continuous => {
                tokio::spawn(continuous(self.clone(), number, job, goal));
                format!("continuous mining on {nodes} nodes, {until}")
            }
        };
        tracing::info!("{message}");
        MessageBody { message }
    }

    /// Stop the job and every node's miner.
    pub async fn stop_mining(&self) -> MessageBody {
        self.cancel_mining_job();
        let stopped = stop_all(self).await;
        let message = format!("mining stopped on {stopped} nodes");
        tracing::info!("{message}");
        MessageBody { message }
    }

    fn reached(&self, goal: Option<u64>) -> bool {
        goal.is_some_and(|goal| self.registry().network_height() >= goal)
    }

    /// Forget job `number` unless another job has replaced it.
    fn finish_job(&self, number: u64) {
        let mut current = lock(&self.inner.mining);
        if current
            .as_ref()
            .is_some_and(|(current, _)| *current == number)
        {
            current.take();
        }
    }
}

/// The bodiless command `path` to every running node at once; each node's
/// address with its answer.
async fn command_all(
    manager: &Manager,
    path: &str,
) -> Vec<(String, Result<MessageBody, NodeError>)> {
    let addresses: Vec<String> = manager
        .live_addresses()
        .into_iter()
        .map(|(_, address)| address)
        .collect();
    let client = manager.client();
    let answers = join_all(
        addresses
            .iter()
            .map(|address| client.command(address, path)),
    )
    .await;
    addresses.into_iter().zip(answers).collect()
}

/// `/mining/stop` to every running node; how many took it.
async fn stop_all(manager: &Manager) -> usize {
    command_all(manager, "/mining/stop")
        .await
        .iter()
        .filter(|(_, answer)| answer.is_ok())
        .count()
}

async fn rounds(manager: Manager, number: u64, job: CancellationToken, goal: Option<u64>) {
    // A continuous job this one replaced must not keep the miners running.
    stop_all(&manager).await;
    let busy: Arc<Mutex<HashSet<usize>>> = Arc::default();
    // Requests still out when the job ends are dropped with it.
    let mut requests = JoinSet::new();
    'job: loop {
        let nodes = manager.live_addresses();
        if nodes.is_empty() {
            tokio::select! {
                _ = job.cancelled() => break 'job,
                _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
            }
        }
        for (slot, address) in nodes {
            let pause = Duration::from_millis(rand::random_range(1000..=3000));
            tokio::select! {
                _ = job.cancelled() => break 'job,
                _ = tokio::time::sleep(pause) => {}
            }
            while requests.try_join_next().is_some() {}
            if manager.reached(goal) {
                tracing::info!(
                    height = manager.registry().network_height(),
                    "mining goal reached"
                );
                break 'job;
            }
            if !lock(&busy).insert(slot) {
                continue;
            }
            let manager = manager.clone();
            let busy = busy.clone();
            requests.spawn(async move {
                match manager.client().mine(&address).await {
                    Ok(mined) => tracing::info!(
                        %address,
                        height = mined.block.header.index,
                        hash = %mined.block.hash,
                        "mined on request"
                    ),
                    Err(err) => tracing::warn!(%address, error = %err, "mine request failed"),
                }
                lock(&busy).remove(&slot);
            });
        }
    }
    requests.abort_all();
    manager.finish_job(number);
}

async fn continuous(manager: Manager, number: u64, job: CancellationToken, goal: Option<u64>) {
    for (address, answer) in command_all(&manager, "/mining/start").await {
        if let Err(err) = answer {
            tracing::warn!(%address, error = %err, "could not start mining");
        }
    }
    if goal.is_none() {
        // Runs until /stop/mining, which also stops the miners.
        job.cancelled().await;
        return;
    }
    loop {
        if manager.reached(goal) {
            tracing::info!(
                height = manager.registry().network_height(),
                "mining goal reached"
            );
            stop_all(&manager).await;
            break;
        }
        tokio::select! {
            _ = job.cancelled() => break,
            _ = tokio::time::sleep(GOAL_CHECK) => {}
        }
    }
    manager.finish_job(number);
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poison| poison.into_inner())
}
