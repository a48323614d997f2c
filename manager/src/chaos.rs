//! `manager chaos`: a chaos run reproducible from a seed. It starts a
//! manager of its own (this same program, with a token) and its nodes on
//! the lab chain, mining all the time, and every second or few does one
//! random thing through the manager's HTTP API, as a person would:
//! partition the network or heal it, set loss and latency on a node's
//! links or clear them, `kill -9` a node or restart one, switch a forger or
//! a selfish miner on or off.
//!
//! Throughout, it checks what must hold whatever happens:
//!
//! - no node's best chain holds an invalid block (each running node's
//!   `/chain`, validated here by `shared`'s rules, every few seconds);
//! - no block a node acknowledged is lost: each block in a `block_mined`
//!   event on the manager's stream must still be on its node, checked after
//!   every restart of that node and at the end;
//! - no endpoint answers 5xx (every answer to the run's own requests);
//! - after the final heal (attacks off, links clear, the network whole,
//!   killed nodes restarted, mining stopped), every live node is on one tip,
//!   the one with the most work, within 30 s.
//!
//! The nodes' bans are shortened (`--ban-secs`) so that a forger switched
//! off is let back in before the end; the time it takes counts in the 30 s.
//! A restarted node may fetch a block it lost back from its peers, so the
//! loss check here is end to end; `node`'s crash campaign reads the dead
//! node's store itself.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use serde_json::{Value, json};
use shared::BlockHash;
use shared::api::{ChainBody, NodeState, NodeSummary, NodesBody, StatusBody};
use shared::events::{Event, EventKind};

use crate::own_manager::{self, CampaignError, OwnManager};

/// What to run.
#[derive(Debug, Clone)]
pub struct ChaosOptions {
    pub nodes: u16,
    pub duration: Duration,
    pub seed: u64,
    /// The lab chain's block interval.
    pub block_interval_ms: u64,
    /// The node executable; else the manager's default (next to it).
    pub node_bin: Option<PathBuf>,
}

/// How long every live node may take to agree after the final heal.
const CONVERGE_WITHIN: Duration = Duration::from_secs(30);
/// How often the chains are validated.
const CHECK_EVERY: Duration = Duration::from_secs(10);
/// The nodes' ban length: a forger switched off is let back in this soon.
const BAN_SECS: u64 = 5;
/// A node is killed at most this many at a time, so most keep mining.
const MAX_KILLED: usize = 2;
/// Tips of equal work unchanged this long after the heal get one block.
const TIE_AFTER: Duration = Duration::from_secs(5);

/// What the run did and what held.
#[derive(Debug, Serialize)]
pub struct ChaosReport {
    pub seed: u64,
    pub nodes: u16,
    pub seconds: u64,
    pub block_interval_ms: u64,
    /// How many times each kind of thing was done.
    pub actions: BTreeMap<String, u64>,
    pub blocks_mined: u64,
    /// Chains validated (one per running node at each check).
    pub chains_validated: u64,
    /// Acknowledged blocks looked up on their node.
    pub acknowledged_checked: u64,
    pub requests: u64,
    /// Requests that found their node killed (no answer): expected.
    pub unanswered: u64,
    pub invalid_best_chains: Vec<String>,
    pub lost_blocks: Vec<String>,
    pub server_errors: Vec<String>,
    /// The manager's 502s naming a node this run had killed and the
    /// manager had not yet seen die: right answers, listed, not failures.
    pub killed_node_answers: Vec<String>,
    /// From the final heal to one tip on every live node.
    pub converged_after_ms: Option<u64>,
    pub final_height: Option<u64>,
    pub held: bool,
}

/// Starts this program as a manager of `nodes` lab nodes on free ports,
/// its data in a fresh temporary directory (removed after the run).
fn start_manager(
    options: &ChaosOptions,
    token: &str,
) -> Result<(OwnManager, tempfile::TempDir), CampaignError> {
    let data = tempfile::tempdir().map_err(|e| CampaignError::Start(e.to_string()))?;
    let mut args = own_manager::lab_args(
        options.nodes,
        options.block_interval_ms,
        token,
        options.node_bin.as_deref(),
    );
    args.extend(["--ban-secs".into(), BAN_SECS.to_string()]);
    let own =
        OwnManager::start(&args, data.path()).map_err(|e| CampaignError::Start(e.to_string()))?;
    Ok((own, data))
}

/// The run's HTTP side: every answer is counted, and each 5xx kept.
pub(crate) struct Http {
    pub(crate) client: reqwest::Client,
    pub(crate) manager: String,
    pub(crate) token: String,
    pub(crate) requests: u64,
    pub(crate) unanswered: u64,
    pub(crate) server_errors: Vec<String>,
    /// Addresses of the nodes the run killed.
    pub(crate) killed_addresses: HashSet<String>,
    pub(crate) killed_node_answers: Vec<String>,
}

impl Http {
    /// A client for the manager at `manager`, sending `token`.
    pub(crate) fn new(manager: &str, token: &str) -> Result<Self, reqwest::Error> {
        Ok(Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()?,
            manager: manager.to_owned(),
            token: token.to_owned(),
            requests: 0,
            unanswered: 0,
            server_errors: Vec::new(),
            killed_addresses: HashSet::new(),
            killed_node_answers: Vec::new(),
        })
    }

    pub(crate) async fn send(
        &mut self,
        request: reqwest::RequestBuilder,
        what: &str,
    ) -> Option<(u16, Value)> {
        self.requests += 1;
        let Ok(response) = request.bearer_auth(&self.token).send().await else {
            self.unanswered += 1;
            return None;
        };
        let status = response.status().as_u16();
        let body = response.json::<Value>().await.unwrap_or(Value::Null);
        // The manager's 502 for a node the run itself just killed, before
        // the manager saw it die, is the right answer; it is counted apart.
        let killed = self.killed_addresses.iter().any(|address| {
            body["error"]
                .as_str()
                .is_some_and(|e| e.contains(address.as_str()) && e.contains("did not answer"))
        });
        if status == 502 && killed {
            self.killed_node_answers.push(format!("{what}: {body}"));
        } else if status >= 500 {
            self.server_errors.push(format!("{what}: {status} {body}"));
        }
        Some((status, body))
    }

    pub(crate) async fn manager_get(&mut self, path: &str) -> Option<(u16, Value)> {
        let request = self.client.get(format!("{}{path}", self.manager));
        self.send(request, &format!("GET {path}")).await
    }

    pub(crate) async fn manager_post(&mut self, path: &str, body: Value) -> Option<(u16, Value)> {
        let request = self
            .client
            .post(format!("{}{path}", self.manager))
            .json(&body);
        self.send(request, &format!("POST {path} {body}")).await
    }

    pub(crate) async fn node_get(&mut self, address: &str, path: &str) -> Option<(u16, Value)> {
        let request = self.client.get(format!("http://{address}{path}"));
        self.send(request, &format!("GET {address}{path}")).await
    }

    pub(crate) async fn nodes(&mut self) -> Result<Vec<NodeSummary>, CampaignError> {
        let (_, body) = self
            .manager_get("/nodes")
            .await
            .ok_or_else(|| CampaignError::Manager("GET /nodes".into()))?;
        let nodes: NodesBody =
            serde_json::from_value(body).map_err(|e| CampaignError::Manager(e.to_string()))?;
        Ok(nodes.nodes)
    }
}

/// Blocks each node acknowledged (`block_mined`), by node id, from the
/// manager's event stream.
pub(crate) type Acknowledged = Arc<Mutex<HashMap<String, Vec<BlockHash>>>>;

/// How many blocks were acknowledged, on all nodes together.
pub(crate) fn acknowledged_count(acknowledged: &Acknowledged) -> usize {
    acknowledged
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .values()
        .map(Vec::len)
        .sum()
}

pub(crate) async fn follow_mined(url: String, acknowledged: Acknowledged) {
    let Ok((mut stream, _)) = tokio_tungstenite::connect_async(url).await else {
        return;
    };
    while let Some(Ok(message)) = stream.next().await {
        let Ok(text) = message.to_text() else {
            continue;
        };
        let Ok(event) = serde_json::from_str::<Event>(text) else {
            continue;
        };
        if let (EventKind::BlockMined { hash, .. }, Some(node)) = (event.kind, event.node) {
            acknowledged
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .entry(node)
                .or_default()
                .push(hash);
        }
    }
}

/// What is on now.
#[derive(Default)]
struct Chaos {
    partitioned: bool,
    /// Node ids with conditions on their links.
    shaped: HashSet<String>,
    /// Killed nodes: id.
    killed: Vec<String>,
    /// The attacker and whether it forges (else it is selfish).
    attack: Option<(String, bool)>,
    actions: BTreeMap<String, u64>,
}

impl Chaos {
    fn did(&mut self, what: &str) {
        *self.actions.entry(what.to_owned()).or_default() += 1;
    }
}

/// Runs the chaos of `options` and reports; `progress` gets a line per
/// action.
pub async fn run(
    options: &ChaosOptions,
    progress: impl Fn(&str),
) -> Result<ChaosReport, CampaignError> {
    let token = node::token::random_hex_id();
    let (own, _data) = {
        let options = options.clone();
        let token = token.clone();
        tokio::task::spawn_blocking(move || start_manager(&options, &token))
            .await
            .map_err(|e| CampaignError::Start(e.to_string()))??
    };
    let url = own.url.clone();
    progress(&format!("manager at {url}, {} nodes", options.nodes));
    let mut http = Http::new(&url, &token).map_err(|e| CampaignError::Start(e.to_string()))?;
    let acknowledged = Acknowledged::default();
    let events = format!(
        "{}/events?access_token={token}",
        url.replacen("http://", "ws://", 1)
    );
    let follower = tokio::spawn(follow_mined(events, acknowledged.clone()));

    let mut rng = StdRng::seed_from_u64(options.seed);
    let mut chaos = Chaos::default();
    let mut report = ChaosReport {
        seed: options.seed,
        nodes: options.nodes,
        seconds: options.duration.as_secs(),
        block_interval_ms: options.block_interval_ms,
        actions: BTreeMap::new(),
        blocks_mined: 0,
        chains_validated: 0,
        acknowledged_checked: 0,
        requests: 0,
        unanswered: 0,
        invalid_best_chains: Vec::new(),
        lost_blocks: Vec::new(),
        server_errors: Vec::new(),
        killed_node_answers: Vec::new(),
        converged_after_ms: None,
        final_height: None,
        held: false,
    };
    http.manager_get("/start/mining?mode=continuous").await;

    let started = Instant::now();
    let mut last_check = Instant::now();
    while started.elapsed() < options.duration {
        let pause = Duration::from_millis(rng.random_range(500..3_000));
        tokio::time::sleep(pause).await;
        let nodes = http.nodes().await?;
        let what = act(
            &mut http,
            &mut chaos,
            &nodes,
            &mut rng,
            &acknowledged,
            &mut report,
        )
        .await;
        progress(&format!(
            "{:>5.1} s  {what}",
            started.elapsed().as_secs_f64()
        ));
        if last_check.elapsed() >= CHECK_EVERY {
            last_check = Instant::now();
            validate_chains(&mut http, &nodes, &chaos, &mut report).await;
        }
    }

    // The final heal: everything off, everyone back, mining stopped.
    progress("final heal");
    let healed = Instant::now();
    if chaos.attack.take().is_some() {
        http.manager_post("/attacks/stop", json!({})).await;
    }
    http.manager_post("/network/heal", json!({})).await;
    http.manager_post(
        "/network/links",
        json!({"a": "*", "b": "*", "latency_ms": 0, "jitter_ms": 0, "loss": 0.0, "down": false}),
    )
    .await;
    for id in std::mem::take(&mut chaos.killed) {
        restart(&mut http, &id, &acknowledged, &mut report).await;
    }
    http.manager_get("/stop/mining").await;
    let (nodes, agreed) = converge(&mut http, healed, &mut chaos.actions).await?;
    if let Some(height) = agreed {
        report.converged_after_ms = Some(healed.elapsed().as_millis() as u64);
        report.final_height = Some(height);
    }
    validate_chains(&mut http, &nodes, &chaos, &mut report).await;
    for node in nodes.iter().filter(|n| n.state == NodeState::Running) {
        check_acknowledged(&mut http, node, &acknowledged, &mut report).await;
    }
    follower.abort();
    drop(own);

    report.actions = chaos.actions;
    report.blocks_mined = acknowledged_count(&acknowledged) as u64;
    report.requests = http.requests;
    report.unanswered = http.unanswered;
    report.server_errors = http.server_errors;
    report.killed_node_answers = http.killed_node_answers;
    report.held = report.invalid_best_chains.is_empty()
        && report.lost_blocks.is_empty()
        && report.server_errors.is_empty()
        && report.converged_after_ms.is_some();
    Ok(report)
}

/// Does one random thing that makes sense now; says what.
async fn act(
    http: &mut Http,
    chaos: &mut Chaos,
    nodes: &[NodeSummary],
    rng: &mut StdRng,
    acknowledged: &Acknowledged,
    report: &mut ChaosReport,
) -> String {
    let running: Vec<&NodeSummary> = nodes
        .iter()
        .filter(|n| n.state == NodeState::Running && !n.id.is_empty())
        .collect();
    let attacker = chaos.attack.as_ref().map(|(id, _)| id.clone());
    let bystanders: Vec<&NodeSummary> = running
        .iter()
        .copied()
        .filter(|n| Some(&n.id) != attacker.as_ref())
        .collect();
    match rng.random_range(0..6) {
        0 if !chaos.partitioned && running.len() >= 2 => {
            let mut ids: Vec<&str> = running.iter().map(|n| n.id.as_str()).collect();
            ids.shuffle(rng);
            let cut = rng.random_range(1..ids.len());
            http.manager_post("/network/partition", json!({"groups": [&ids[..cut]]}))
                .await;
            chaos.partitioned = true;
            chaos.did("partition");
            format!("partition: {} | {}", cut, ids.len() - cut)
        }
        0 | 1 if chaos.partitioned => {
            http.manager_post("/network/heal", json!({})).await;
            chaos.partitioned = false;
            chaos.did("heal");
            "heal".into()
        }
        1 | 2 => {
            let Some(node) = running.choose(rng) else {
                return "nothing (no node running)".into();
            };
            if chaos.shaped.remove(&node.id) {
                http.manager_post(
                    "/network/links",
                    json!({"a": node.id, "b": "*", "latency_ms": 0, "jitter_ms": 0, "loss": 0.0}),
                )
                .await;
                chaos.did("links_cleared");
                return format!("links of {} cleared", short(&node.id));
            }
            let latency = rng.random_range(0..300);
            let loss = f64::from(rng.random_range(0..30u32)) / 100.0;
            http.manager_post(
                "/network/links",
                json!({"a": node.id, "b": "*", "latency_ms": latency, "loss": loss}),
            )
            .await;
            chaos.shaped.insert(node.id.clone());
            chaos.did("links_shaped");
            format!("links of {}: {latency} ms, loss {loss}", short(&node.id))
        }
        3 if chaos.killed.len() < MAX_KILLED && bystanders.len() > 2 => {
            let node = bystanders.choose(rng).expect("some bystanders");
            let Some(pid) = node.pid else {
                return "nothing (no pid)".into();
            };
            // SAFETY: a pid the manager reports for a node it started.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            chaos.killed.push(node.id.clone());
            http.killed_addresses.insert(node.address.clone());
            chaos.shaped.remove(&node.id);
            chaos.did("kill");
            format!("kill -9 {}", short(&node.id))
        }
        3 | 4 if !chaos.killed.is_empty() => {
            let id = chaos.killed.remove(rng.random_range(0..chaos.killed.len()));
            restart(http, &id, acknowledged, report).await;
            chaos.did("restart");
            format!("restart {}", short(&id))
        }
        _ => match chaos.attack.take() {
            Some((id, forges)) => {
                http.manager_post("/attacks/stop", json!({})).await;
                let kind = if forges { "forger" } else { "selfish" };
                chaos.did(&format!("{kind}_off"));
                format!("{kind} {} off", short(&id))
            }
            None => {
                let Some(node) = bystanders.choose(rng) else {
                    return "nothing (no node for an attack)".into();
                };
                let forges = rng.random_bool(0.5);
                let request = if forges {
                    json!({"kind": "forger", "node": node.id, "hashrate_share": 0.2, "rule": "bad_merkle_root"})
                } else {
                    json!({"kind": "selfish", "node": node.id, "hashrate_share": 0.3})
                };
                let answer = http.manager_post("/attacks", request).await;
                if answer.is_some_and(|(status, _)| status == 200) {
                    chaos.attack = Some((node.id.clone(), forges));
                    let kind = if forges { "forger" } else { "selfish" };
                    chaos.did(&format!("{kind}_on"));
                    format!("{kind} {} on", short(&node.id))
                } else {
                    chaos.did("attack_refused");
                    "an attack refused".into()
                }
            }
        },
    }
}

/// A node id as the reports show it: its first 8 characters.
pub(crate) fn short(id: &str) -> &str {
    &id[..id.len().min(8)]
}

/// Restarts node `id` and checks it still has every block it acknowledged.
async fn restart(http: &mut Http, id: &str, acknowledged: &Acknowledged, report: &mut ChaosReport) {
    let answer = http
        .manager_post(&format!("/nodes/{id}/restart"), json!({}))
        .await;
    let Some((200, body)) = answer else { return };
    let Ok(node) = serde_json::from_value::<NodeSummary>(body) else {
        return;
    };
    check_acknowledged(http, &node, acknowledged, report).await;
}

/// Every block `node` acknowledged must be on it.
async fn check_acknowledged(
    http: &mut Http,
    node: &NodeSummary,
    acknowledged: &Acknowledged,
    report: &mut ChaosReport,
) {
    let blocks = acknowledged
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&node.id)
        .cloned()
        .unwrap_or_default();
    for hash in blocks {
        report.acknowledged_checked += 1;
        match http
            .node_get(&node.address, &format!("/blocks/{hash}"))
            .await
        {
            Some((200, _)) | None => {}
            Some((status, _)) => report
                .lost_blocks
                .push(format!("{hash} of {} ({status})", short(&node.id))),
        }
    }
}

/// Validates each running node's best chain by `shared`'s rules.
async fn validate_chains(
    http: &mut Http,
    nodes: &[NodeSummary],
    chaos: &Chaos,
    report: &mut ChaosReport,
) {
    for node in nodes.iter().filter(|n| n.state == NodeState::Running) {
        if chaos.killed.contains(&node.id) {
            continue;
        }
        let Some(checked) = validate_best_chain(http, node).await else {
            continue;
        };
        report.chains_validated += 1;
        if let Err(error) = checked {
            report
                .invalid_best_chains
                .push(format!("{}: {error}", short(&node.id)));
        }
    }
}

/// `node`'s best chain (`/chain`) validated by `shared`'s rules for the
/// chain it says it is on (`/status`): why not, if it is invalid; `None`
/// if the node did not answer.
pub(crate) async fn validate_best_chain(
    http: &mut Http,
    node: &NodeSummary,
) -> Option<Result<(), String>> {
    let Some((200, status)) = http.node_get(&node.address, "/status").await else {
        return None;
    };
    let status = serde_json::from_value::<StatusBody>(status).ok()?;
    let Some((200, chain)) = http.node_get(&node.address, "/chain").await else {
        return None;
    };
    let Ok(chain) = serde_json::from_value::<ChainBody>(chain) else {
        return Some(Err("/chain did not parse".into()));
    };
    let checked = tokio::task::spawn_blocking(move || {
        let params =
            shared::lab::chain_params(&status.chain, status.lab).map_err(|e| e.to_string())?;
        shared::validate_chain(&params, &chain.chain, node::clock::now_ms())
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    Some(checked)
}

/// Waits until every running node is on one tip, the one with the most
/// work, at most [`CONVERGE_WITHIN`] after `since`: the nodes last seen,
/// and the tip's height if they agreed. Tips of equal work get one more
/// block after [`TIE_AFTER`] (first seen wins on each node, so no node gives
/// up its own; the scenarios settle ties the same way), counted in
/// `actions` as `tie_broken`.
pub(crate) async fn converge(
    http: &mut Http,
    since: Instant,
    actions: &mut BTreeMap<String, u64>,
) -> Result<(Vec<NodeSummary>, Option<u64>), CampaignError> {
    let mut nodes = Vec::new();
    let mut tie_broken = Instant::now();
    // Bounded by the 30 s.
    while since.elapsed() < CONVERGE_WITHIN {
        nodes = http.nodes().await?;
        match look(http, &nodes).await {
            Look::OneTip(height) => return Ok((nodes, Some(height))),
            Look::Tie(address) if tie_broken.elapsed() >= TIE_AFTER => {
                tie_broken = Instant::now();
                let request = http.client.post(format!("http://{address}/mine"));
                http.send(request, "POST /mine to break a tie").await;
                *actions.entry("tie_broken".into()).or_default() += 1;
            }
            Look::Tie(_) | Look::Apart => {}
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Ok((nodes, None))
}

/// Where the running nodes are.
enum Look {
    /// All on one tip, the one with the most work any has: its height.
    OneTip(u64),
    /// On tips of equal work that differ; a node to mine on.
    Tie(String),
    Apart,
}

async fn look(http: &mut Http, nodes: &[NodeSummary]) -> Look {
    let mut tips = Vec::new();
    for node in nodes.iter().filter(|n| n.state == NodeState::Running) {
        let Some((200, status)) = http.node_get(&node.address, "/status").await else {
            return Look::Apart;
        };
        let Ok(status) = serde_json::from_value::<StatusBody>(status) else {
            return Look::Apart;
        };
        tips.push((
            status.best_hash,
            status.chain_work,
            status.height,
            node.address.clone(),
        ));
    }
    let (Some(first), Some(most)) = (tips.first(), tips.iter().map(|t| t.1).max()) else {
        return Look::Apart;
    };
    if tips.iter().all(|t| t.0 == first.0) && first.1 == most {
        Look::OneTip(first.2)
    } else if tips.iter().all(|t| t.1 == most) {
        Look::Tie(first.3.clone())
    } else {
        Look::Apart
    }
}
