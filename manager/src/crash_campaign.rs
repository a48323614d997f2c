//! `manager crash`: the manager killed with SIGKILL at random moments while
//! every node mines, over and over, each time restarted by a new manager on
//! the same data directory. It is Bitcoin Core's feature_dbcrash.py turned
//! on the whole network: the nodes die with the manager (the kernel sends
//! each SIGKILL when the manager's spawner thread dies), so each kill is a
//! crash of every node at once, mid-write.
//!
//! After each kill it checks that no node outlived the manager (orphaned),
//! and after each restart that:
//!
//! - the new manager brings up every node (same ids, same stores);
//! - every block a node acknowledged (its `block_mined` event reached the
//!   manager's stream) is on that node;
//! - every node's best chain validates by `shared`'s rules;
//! - the nodes link up again and agree on one tip, the one with the most
//!   work, within 30 s.
//!
//! A node may fetch a block it lost back from a peer, but only if a peer
//! has it; `node`'s crash campaign reads a dead node's store itself.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use shared::api::NodeState;

use crate::chaos::{
    Acknowledged, Http, acknowledged_count, converge, follow_mined, short, validate_best_chain,
};
use crate::own_manager::{self, CampaignError, OwnManager, process_alive};

/// What to run.
#[derive(Debug, Clone)]
pub struct CrashOptions {
    pub kills: u32,
    pub nodes: u16,
    pub seed: u64,
    /// The network mines this long (uniformly at random within) before each
    /// kill.
    pub min_run: Duration,
    pub max_run: Duration,
    /// The lab chain's block interval.
    pub block_interval_ms: u64,
    /// The node executable; else the manager's default (next to it).
    pub node_bin: Option<PathBuf>,
}

/// How long the nodes may take to die with their manager.
const DIE_WITHIN: Duration = Duration::from_secs(10);

/// What one kill and the restart after it showed.
#[derive(Debug, Clone, Serialize)]
pub struct KillRecord {
    pub kill: u32,
    /// How long the network mined before the kill.
    pub ran_ms: u64,
    /// Blocks acknowledged in this run (`block_mined` events seen).
    pub acknowledged: usize,
    /// Node processes still alive 10 s after the manager was killed.
    pub orphaned: Vec<u32>,
    /// From starting the new manager to its "network ready".
    pub restart_ms: u64,
    /// Nodes the new manager brought up, of those before.
    pub nodes_back: usize,
    /// Acknowledged blocks (from every run so far) looked up on their node.
    pub checked: usize,
    pub lost: Vec<String>,
    pub invalid_chains: Vec<String>,
    /// From "network ready" to one tip on every node.
    pub converged_ms: Option<u64>,
    pub height: Option<u64>,
    pub ok: bool,
}

/// The campaign's figures.
#[derive(Debug, Serialize)]
pub struct CrashReport {
    pub seed: u64,
    pub nodes: u16,
    pub kills: u32,
    /// Kills after which every check held.
    pub survived: u32,
    pub acknowledged_total: usize,
    pub checked_total: usize,
    pub lost_total: usize,
    pub orphaned_total: usize,
    pub invalid_total: usize,
    /// The restarts' "network ready", slowest.
    pub max_restart_ms: u64,
    pub max_converged_ms: Option<u64>,
    /// Requests to the managers and nodes; 5xx answers are kept.
    pub requests: u64,
    pub server_errors: Vec<String>,
    pub records: Vec<KillRecord>,
    pub held: bool,
}

/// Runs the campaign of `options` and reports; `progress` gets a line per
/// kill.
pub async fn run(
    options: &CrashOptions,
    progress: impl Fn(&str),
) -> Result<CrashReport, CampaignError> {
    let data = tempfile::tempdir().map_err(|e| CampaignError::Start(e.to_string()))?;
    let token = node::token::random_hex_id();
    let args = own_manager::lab_args(
        options.nodes,
        options.block_interval_ms,
        &token,
        options.node_bin.as_deref(),
    );
    let start = |args: Vec<String>, dir: PathBuf| async move {
        tokio::task::spawn_blocking(move || OwnManager::start(&args, &dir))
            .await
            .map_err(|e| CampaignError::Start(e.to_string()))?
            .map_err(|e| CampaignError::Start(e.to_string()))
    };

    let mut rng = StdRng::seed_from_u64(options.seed);
    let acknowledged = Acknowledged::default();
    let mut records: Vec<KillRecord> = Vec::new();
    let mut requests = 0;
    let mut server_errors = Vec::new();
    let mut node_ids: Vec<String> = Vec::new();
    let mut ran = None;
    for round in 0..=options.kills {
        let started = Instant::now();
        let mut own = start(args.clone(), data.path().to_owned()).await?;
        let restart_ms = started.elapsed().as_millis() as u64;
        let mut http =
            Http::new(&own.url, &token).map_err(|e| CampaignError::Start(e.to_string()))?;
        let nodes = http.nodes().await?;
        let ready = Instant::now();

        if let Some((kill, ran_ms, acked_in_run, orphaned)) = ran.take() {
            let mut record = KillRecord {
                kill,
                ran_ms,
                acknowledged: acked_in_run,
                orphaned,
                restart_ms,
                nodes_back: nodes
                    .iter()
                    .filter(|n| n.state == NodeState::Running && node_ids.contains(&n.id))
                    .count(),
                checked: 0,
                lost: Vec::new(),
                invalid_chains: Vec::new(),
                converged_ms: None,
                height: None,
                ok: false,
            };
            let blocks: Vec<(String, String, shared::BlockHash)> = {
                let acknowledged = acknowledged.lock().unwrap_or_else(|p| p.into_inner());
                nodes
                    .iter()
                    .flat_map(|node| {
                        acknowledged
                            .get(&node.id)
                            .into_iter()
                            .flatten()
                            .map(|hash| (node.id.clone(), node.address.clone(), *hash))
                    })
                    .collect()
            };
            for (id, address, hash) in blocks {
                record.checked += 1;
                match http.node_get(&address, &format!("/blocks/{hash}")).await {
                    Some((200, _)) => {}
                    answer => record.lost.push(format!(
                        "{hash} of {}: {:?}",
                        short(&id),
                        answer.map(|a| a.0)
                    )),
                }
            }
            for node in &nodes {
                match validate_best_chain(&mut http, node).await {
                    Some(Ok(())) => {}
                    Some(Err(error)) => record
                        .invalid_chains
                        .push(format!("{}: {error}", short(&node.id))),
                    None => record
                        .invalid_chains
                        .push(format!("{}: did not answer", short(&node.id))),
                }
            }
            let mut actions = BTreeMap::new();
            let (_, agreed) = converge(&mut http, ready, &mut actions).await?;
            if let Some(height) = agreed {
                record.converged_ms = Some(ready.elapsed().as_millis() as u64);
                record.height = Some(height);
            }
            record.ok = record.orphaned.is_empty()
                && record.nodes_back == node_ids.len()
                && record.lost.is_empty()
                && record.invalid_chains.is_empty()
                && record.converged_ms.is_some();
            progress(&format!(
                "kill {kill}: ran {ran_ms} ms, {acked_in_run} acknowledged; back in {restart_ms} ms, \
                 {} checked, {} lost, {} orphaned, converged {:?} ms{}",
                record.checked,
                record.lost.len(),
                record.orphaned.len(),
                record.converged_ms,
                if record.ok { "" } else { ": FAILED" }
            ));
            records.push(record);
        } else {
            node_ids = nodes.iter().map(|n| n.id.clone()).collect();
        }

        if round == options.kills {
            requests += http.requests;
            server_errors.append(&mut http.server_errors);
            break;
        }
        // Mine, follow the acknowledgements, and kill at a random moment.
        let before = acknowledged_count(&acknowledged);
        let events = format!(
            "{}/events?access_token={token}",
            own.url.replacen("http://", "ws://", 1)
        );
        let follower = tokio::spawn(follow_mined(events, acknowledged.clone()));
        http.manager_get("/start/mining?mode=continuous").await;
        let run_for = rng.random_range(options.min_run..=options.max_run);
        tokio::time::sleep(run_for).await;
        let pids: Vec<u32> = http.nodes().await?.iter().filter_map(|n| n.pid).collect();
        own.kill_hard();
        follower.abort();
        let _ = follower.await;
        let died = Instant::now();
        while died.elapsed() < DIE_WITHIN && pids.iter().any(|&pid| process_alive(pid)) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let orphaned: Vec<u32> = pids.into_iter().filter(|&pid| process_alive(pid)).collect();
        for &pid in &orphaned {
            // Not to leave them running whatever the report says.
            // SAFETY: a pid the manager reported for its own node.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        requests += http.requests;
        server_errors.append(&mut http.server_errors);
        ran = Some((
            round + 1,
            run_for.as_millis() as u64,
            acknowledged_count(&acknowledged) - before,
            orphaned,
        ));
    }

    let survived = records.iter().filter(|r| r.ok).count() as u32;
    let report = CrashReport {
        seed: options.seed,
        nodes: options.nodes,
        kills: options.kills,
        survived,
        acknowledged_total: acknowledged_count(&acknowledged),
        checked_total: records.iter().map(|r| r.checked).sum(),
        lost_total: records.iter().map(|r| r.lost.len()).sum(),
        orphaned_total: records.iter().map(|r| r.orphaned.len()).sum(),
        invalid_total: records.iter().map(|r| r.invalid_chains.len()).sum(),
        max_restart_ms: records.iter().map(|r| r.restart_ms).max().unwrap_or(0),
        max_converged_ms: records.iter().filter_map(|r| r.converged_ms).max(),
        requests,
        held: survived == options.kills && server_errors.is_empty(),
        server_errors,
        records,
    };
    Ok(report)
}
