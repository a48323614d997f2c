//! The crash campaign (feature `testing`): a node mining continuously is
//! killed with SIGKILL at random moments and restarted on the same data
//! directory, over and over. Before each restart the campaign opens the
//! dead node's store itself and checks that every block the node
//! acknowledged is in it; after the restart it checks that the chain the
//! node serves validates and that the node links up with its peer again
//! and agrees with it.
//!
//! "Acknowledged" is anything that left the node saying it has a block:
//! a `/mine` answer, a `block_mined` event on `/events`, a header
//! announced over a peer link (to a listener the campaign plays itself),
//! and a block a real second node accepted from it. The store is read
//! before the restart because a restarted node would quietly fetch a lost
//! block back from its peer.
//!
//! SIGKILL ends the process, not the machine: the kernel's page cache
//! survives, so this shows the node commits before it acknowledges, not
//! that an fsync reaches the platter.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use rand::{Rng, SeedableRng};
use serde::Serialize;
use shared::api::{ChainBody, LinkState, MinedBody, PeersBody, StatusBody};
use shared::events::{Event, EventKind};
use shared::p2p::{Hello, Message, decode, encode};
use shared::{BlockHash, Preset, Work};
use tokio_tungstenite::tungstenite::Message as Ws;

use crate::store::Store;
use crate::testing::{TestNode, http_client, ram_temp_dir};

/// What to run.
#[derive(Debug, Clone)]
pub struct CrashCampaign {
    pub kills: u32,
    pub seed: u64,
    /// The node mines this long (uniformly at random within) before each
    /// kill, after it caught up with its peer.
    pub min_run: Duration,
    pub max_run: Duration,
    /// Stores in `/dev/shm` rather than on disk.
    pub in_ram: bool,
    /// `--pace-ms` of the mining node: a block every this many ms or so.
    pub pace_ms: u64,
}

impl Default for CrashCampaign {
    fn default() -> Self {
        Self {
            kills: 50,
            seed: 17,
            min_run: Duration::from_millis(100),
            max_run: Duration::from_millis(1500),
            in_ram: false,
            pace_ms: 20,
        }
    }
}

/// What one kill and restart showed.
#[derive(Debug, Clone, Serialize)]
pub struct KillRecord {
    pub kill: u32,
    /// How long the node mined before it was killed.
    pub ran_ms: u64,
    /// Acknowledged blocks seen during this run, by channel.
    pub acked_by_mine: usize,
    pub acked_by_event: usize,
    pub acked_by_announce: usize,
    pub acked_by_peer_accept: usize,
    /// Blocks in the store after the kill.
    pub stored: usize,
    /// Acknowledged (in this run or before) and not in the store.
    pub lost: Vec<BlockHash>,
    /// The highest acknowledged height and the height after the restart.
    pub acked_height: u64,
    pub height_after_restart: u64,
    pub restart_ms: u64,
    /// Empty when the served chain validates.
    pub chain_error: Option<String>,
    /// Time until the node was linked to its peer again and they agreed.
    pub converge_ms: Option<u64>,
}

/// The whole campaign, printed as JSON by the example.
#[derive(Debug, Clone, Serialize)]
pub struct CrashReport {
    pub seed: u64,
    pub kills: u32,
    /// Kills after which every check passed.
    pub survived: u32,
    pub acknowledged_total: usize,
    pub lost_total: usize,
    pub invalid_chains: u32,
    pub failed_restarts: u32,
    pub failed_converges: u32,
    pub final_height: u64,
    pub max_restart_ms: u64,
    pub max_converge_ms: u64,
    pub elapsed_ms: u64,
    pub runs: Vec<KillRecord>,
}

impl CrashReport {
    /// Whether every kill passed every check.
    pub fn is_clean(&self) -> bool {
        self.survived == self.kills
    }
}

#[derive(Default)]
struct Acked {
    by_mine: HashSet<BlockHash>,
    by_event: HashSet<BlockHash>,
    by_announce: HashSet<BlockHash>,
    by_peer_accept: HashSet<BlockHash>,
    heights: Vec<u64>,
}

impl Acked {
    fn all(&self) -> impl Iterator<Item = &BlockHash> {
        self.by_mine
            .iter()
            .chain(&self.by_event)
            .chain(&self.by_announce)
            .chain(&self.by_peer_accept)
    }
}

type Shared = Arc<Mutex<Acked>>;

fn lock(acked: &Shared) -> std::sync::MutexGuard<'_, Acked> {
    acked.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs the campaign; errors only when the harness itself cannot go on
/// (a node that never starts counts as a failed restart first).
pub async fn run(campaign: &CrashCampaign) -> anyhow::Result<CrashReport> {
    let started = Instant::now();
    let mut rng = rand::rngs::StdRng::seed_from_u64(campaign.seed);
    let temp = if campaign.in_ram {
        ram_temp_dir()
    } else {
        tempfile::tempdir()?
    };
    let peer_dir = temp.path().join("peer");
    let miner_dir = temp.path().join("miner");
    let peer = TestNode::start_in(&peer_dir, &[]);
    let peer_address = peer.address.clone();
    let pace = campaign.pace_ms.to_string();
    let miner_args = ["--peer", peer_address.as_str(), "--pace-ms", pace.as_str()];
    let mut miner = TestNode::start_in(&miner_dir, &miner_args);

    // Blocks the peer accepted, across every run: all came from the miner.
    let acked: Shared = Arc::default();
    let peer_events = spawn_event_reader(&peer, Arc::clone(&acked), EventRole::Peer);
    let mut every_acked: HashSet<BlockHash> = HashSet::new();
    let mut runs = Vec::new();
    let (mut failed_restarts, mut failed_converges, mut invalid_chains) = (0, 0, 0);
    let mut max_acked_height = 0;

    for kill in 1..=campaign.kills {
        // This run's listeners, then mining on.
        let events = spawn_event_reader(&miner, Arc::clone(&acked), EventRole::Miner);
        let listener = spawn_announce_listener(&miner, kill, Arc::clone(&acked));
        let post = http_client().post(miner.url("/mining/start")).send().await;
        anyhow::ensure!(
            post.is_ok_and(|r| r.status().is_success()),
            "POST /mining/start failed"
        );
        let mines = spawn_mine_requests(&miner, Arc::clone(&acked));
        let ran = Duration::from_millis(rng.random_range(
            campaign.min_run.as_millis() as u64..=campaign.max_run.as_millis() as u64,
        ));
        tokio::time::sleep(ran).await;
        miner.child.kill()?;
        miner.child.wait()?;
        // What was on the wire before the kill is still read; each reader
        // ends at the socket's end.
        for task in [events, listener, mines] {
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
        // The peer's events about the last blocks may lag a little.
        tokio::time::sleep(Duration::from_millis(100)).await;

        let (counts, run_acked) = {
            let mut acked = lock(&acked);
            let counts = (
                acked.by_mine.len(),
                acked.by_event.len(),
                acked.by_announce.len(),
                acked.by_peer_accept.len(),
            );
            max_acked_height = acked
                .heights
                .iter()
                .copied()
                .max()
                .unwrap_or(0)
                .max(max_acked_height);
            let run_acked: HashSet<BlockHash> = acked.all().copied().collect();
            // The peer's set keeps growing across runs; the rest are per run.
            acked.by_mine.clear();
            acked.by_event.clear();
            acked.by_announce.clear();
            acked.by_peer_accept.clear();
            acked.heights.clear();
            (counts, run_acked)
        };
        every_acked.extend(run_acked);

        let (stored, lost) = check_store(&miner_dir, &every_acked).await?;

        let restart_began = Instant::now();
        let restarted =
            std::panic::catch_unwind(|| TestNode::start_in(&miner_dir, &miner_args)).ok();
        let restart_ms = restart_began.elapsed().as_millis() as u64;
        let (height_after_restart, chain_error, converge_ms, stop) = match restarted {
            Some(restarted) => {
                miner = restarted;
                let (height, chain_error) = check_chain(&miner).await;
                if chain_error.is_some() {
                    invalid_chains += 1;
                }
                let converge_ms = converge(&miner, &peer).await;
                if converge_ms.is_none() {
                    failed_converges += 1;
                }
                (height, chain_error, converge_ms, false)
            }
            None => {
                failed_restarts += 1;
                (0, Some("the node did not start".into()), None, true)
            }
        };
        runs.push(KillRecord {
            kill,
            ran_ms: ran.as_millis() as u64,
            acked_by_mine: counts.0,
            acked_by_event: counts.1,
            acked_by_announce: counts.2,
            acked_by_peer_accept: counts.3,
            stored,
            lost,
            acked_height: max_acked_height,
            height_after_restart,
            restart_ms,
            chain_error,
            converge_ms,
        });
        if stop {
            // With no node left there is nothing to kill again.
            break;
        }
    }
    peer_events.abort();
    let final_height = get::<StatusBody>(&miner, "/status")
        .await
        .map_or(0, |s| s.height);
    let survived = runs
        .iter()
        .filter(|r| {
            r.lost.is_empty()
                && r.chain_error.is_none()
                && r.converge_ms.is_some()
                && r.height_after_restart >= r.acked_height
        })
        .count() as u32;
    Ok(CrashReport {
        seed: campaign.seed,
        kills: campaign.kills,
        survived,
        acknowledged_total: every_acked.len(),
        lost_total: runs.iter().map(|r| r.lost.len()).sum(),
        invalid_chains,
        failed_restarts,
        failed_converges,
        final_height,
        max_restart_ms: runs.iter().map(|r| r.restart_ms).max().unwrap_or(0),
        max_converge_ms: runs.iter().filter_map(|r| r.converge_ms).max().unwrap_or(0),
        elapsed_ms: started.elapsed().as_millis() as u64,
        runs,
    })
}

/// Opens the killed node's store (redb recovers an unclean file here, as
/// the node would) and returns how many blocks it holds and which
/// acknowledged ones it lacks. Closed again before the node restarts.
async fn check_store(
    dir: &Path,
    acked: &HashSet<BlockHash>,
) -> anyhow::Result<(usize, Vec<BlockHash>)> {
    let dir: PathBuf = dir.to_path_buf();
    let acked = acked.clone();
    tokio::task::spawn_blocking(move || {
        let store = Store::open(&dir)?;
        let stored: HashSet<BlockHash> = store.load_blocks()?.iter().map(|b| b.hash).collect();
        let mut lost: Vec<BlockHash> = acked
            .iter()
            .filter(|h| !stored.contains(h))
            .copied()
            .collect();
        lost.sort_by_key(|h| h.to_string());
        Ok((stored.len(), lost))
    })
    .await?
}

async fn get<T: serde::de::DeserializeOwned>(node: &TestNode, path: &str) -> Option<T> {
    let response = http_client().get(node.url(path)).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

/// The height the node serves and, if its chain does not validate, why.
async fn check_chain(node: &TestNode) -> (u64, Option<String>) {
    let Some(chain) = get::<ChainBody>(node, "/chain").await else {
        return (0, Some("GET /chain failed".into()));
    };
    let height = chain.length.saturating_sub(1);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64);
    let params = Preset::Regtest.params();
    match shared::validate_chain(&params, &chain.chain, now) {
        Ok(_) => (height, None),
        Err(error) => (height, Some(format!("{error:?}"))),
    }
}

/// Mining off, then waits (at most 30 s) until the node is linked to its
/// peer and both have the same best block; the time it took.
async fn converge(miner: &TestNode, peer: &TestNode) -> Option<u64> {
    let began = Instant::now();
    let stop = http_client().post(miner.url("/mining/stop")).send().await;
    if !stop.is_ok_and(|r| r.status().is_success()) {
        return None;
    }
    for _ in 0..300 {
        let linked = get::<PeersBody>(miner, "/peers").await.is_some_and(|p| {
            p.peers
                .iter()
                .any(|l| l.address == peer.address && l.state == LinkState::Connected)
        });
        let a = get::<StatusBody>(miner, "/status").await;
        let b = get::<StatusBody>(peer, "/status").await;
        if linked
            && let (Some(a), Some(b)) = (a, b)
            && a.best_hash == b.best_hash
        {
            return Some(began.elapsed().as_millis() as u64);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

#[derive(Clone, Copy)]
enum EventRole {
    Miner,
    Peer,
}

/// Reads `/events` until the socket ends, recording `block_mined` (the
/// miner's) or `block_accepted` (the peer's).
fn spawn_event_reader(
    node: &TestNode,
    acked: Shared,
    role: EventRole,
) -> tokio::task::JoinHandle<()> {
    let url = format!("ws://{}/events", node.address);
    tokio::spawn(async move {
        let Ok((stream, _)) = tokio_tungstenite::connect_async(&url).await else {
            return;
        };
        let (_sink, mut incoming) = stream.split();
        while let Some(Ok(message)) = incoming.next().await {
            let Ws::Text(text) = message else { continue };
            let Ok(event) = serde_json::from_str::<Event>(text.as_str()) else {
                continue;
            };
            let mut acked = lock(&acked);
            match (role, event.kind) {
                (EventRole::Miner, EventKind::BlockMined { hash, height, .. }) => {
                    acked.by_event.insert(hash);
                    acked.heights.push(height);
                }
                (EventRole::Peer, EventKind::BlockAccepted { hash, height, .. }) => {
                    acked.by_peer_accept.insert(hash);
                    acked.heights.push(height);
                }
                _ => {}
            }
        }
    })
}

/// Asks `/mine` again and again until the node dies; records each answer.
fn spawn_mine_requests(node: &TestNode, acked: Shared) -> tokio::task::JoinHandle<()> {
    let url = node.url("/mine");
    tokio::spawn(async move {
        let client = http_client();
        // Bounded: far more than a run mines.
        for _ in 0..100_000 {
            let Ok(response) = client.post(&url).send().await else {
                return;
            };
            let Ok(mined) = response.json::<MinedBody>().await else {
                return;
            };
            let mut acked = lock(&acked);
            acked.by_mine.insert(mined.block.hash);
            acked.heights.push(mined.block.header.index);
        }
    })
}

/// A peer link to the node, played by the campaign: it answers pings and
/// records every header the node announces, until the link ends.
fn spawn_announce_listener(
    node: &TestNode,
    run: u32,
    acked: Shared,
) -> tokio::task::JoinHandle<()> {
    let url = format!("ws://{}/p2p", node.address);
    tokio::spawn(async move {
        let Ok((mut socket, _)) = tokio_tungstenite::connect_async(&url).await else {
            return;
        };
        let params = Preset::Regtest.params();
        // Listening nowhere (port 9, discard): the node never dials it back.
        let id = format!("crash-campaign-listener-{run}");
        let hello = Hello::new(&params, &id, "127.0.0.1:9", 0, Work::ZERO);
        if socket
            .send(Ws::Binary(encode(&Message::Hello(hello)).into()))
            .await
            .is_err()
        {
            return;
        }
        while let Some(Ok(frame)) = socket.next().await {
            let Ws::Binary(bytes) = frame else { continue };
            match decode(&bytes) {
                Ok(Message::Headers { headers }) => {
                    let mut acked = lock(&acked);
                    for header in headers {
                        acked.by_announce.insert(header.0.block_hash());
                        acked.heights.push(header.0.index);
                    }
                }
                Ok(Message::Ping { nonce }) => {
                    let pong = encode(&Message::Pong { nonce });
                    if socket.send(Ws::Binary(pong.into())).await.is_err() {
                        return;
                    }
                }
                _ => {}
            }
        }
    })
}
