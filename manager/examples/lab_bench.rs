//! The network lab benchmark: 32 nodes in a `random:8` topology on the lab
//! chain at a block a second, 300 blocks for each one-way link latency of
//! 0, 100 and 300 ms. One JSON line per setting on stdout: stale rate,
//! reorg depths, propagation percentiles and the blocks counted.
//!
//! ```sh
//! cargo run --release -p manager --example lab_bench
//! ```
//!
//! `--nodes N`, `--blocks B`, `--latencies 0,100,300`, `--total H`
//! change the setting. Each setting runs its own manager (in this
//! process, on a free port) with fresh nodes, so no chain carries over.
//! Progress goes to stderr.

use std::net::TcpListener;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use manager::Config;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::Preset;
use shared::api::{NodesBody, StatusBody};
use shared::stats::NetworkStats;

struct Setting {
    nodes: u16,
    blocks: u64,
    latencies: Vec<u64>,
    /// Attempts/s over the whole network. Small on purpose: 32 nodes share
    /// two cores, and a node starved of CPU would relay late and bend the
    /// stale rate; at 10 000 attempts/s a node the hashing is a few percent
    /// of one core, and the lab difficulty keeps blocks at one a second.
    total: u64,
    topology: String,
}

fn parse_args() -> Setting {
    let mut setting = Setting {
        nodes: 32,
        blocks: 300,
        latencies: vec![0, 100, 300],
        total: 320_000,
        topology: "random:8".to_owned(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--nodes" => setting.nodes = value.parse().expect("--nodes N"),
            "--blocks" => setting.blocks = value.parse().expect("--blocks B"),
            "--total" => setting.total = value.parse().expect("--total H"),
            "--topology" => setting.topology = value,
            "--latencies" => {
                setting.latencies = value
                    .split(',')
                    .map(|ms| ms.trim().parse().expect("--latencies 0,100,300"))
                    .collect()
            }
            other => panic!("unknown flag {other}"),
        }
    }
    setting
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn get<T: DeserializeOwned>(&self, path: &str) -> T {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap_or_else(|err| panic!("GET {path}: {err}"))
            .json()
            .await
            .unwrap_or_else(|err| panic!("GET {path}: {err}"))
    }

    async fn post(&self, url: &str, body: &Value) -> u16 {
        self.http
            .post(url)
            .json(body)
            .send()
            .await
            .unwrap_or_else(|err| panic!("POST {url}: {err}"))
            .status()
            .as_u16()
    }
}

/// The machine's 1-minute load average: other work on the machine slows
/// relaying, so each line says how busy it was.
fn load_average() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|text| text.split_whitespace().next()?.parse().ok())
        .unwrap_or(f64::NAN)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free port")
}

async fn wait<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(started.elapsed() < limit, "no {what} within {limit:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn run_setting(setting: &Setting, latency_ms: u64, data: &std::path::Path) -> Value {
    let port = free_port();
    let config = Config {
        port,
        host: "127.0.0.1".to_owned(),
        nodes: setting.nodes,
        node_port: 0,
        chain: Preset::Lab,
        data_dir: data.join(format!("latency-{latency_ms}")),
        node_bin: node::testing::node_program().to_owned(),
        explorer_dir: PathBuf::from("explorer/dist"),
        threads: 1,
        ban_secs: None,
        token: None,
        capacity: None,
        block_interval_ms: Some(1000),
        total_hashrate: Some(setting.total),
        start_plan: Default::default(),
        topology: Some(setting.topology.parse().expect("a topology")),
        topology_seed: 1,
        discover: None,
    };
    let manager = tokio::spawn(manager::run(config));
    let client = Client {
        http: reqwest::Client::builder().no_proxy().build().unwrap(),
        base: format!("http://127.0.0.1:{port}"),
    };
    let nodes = wait("network", Duration::from_secs(180), || async {
        let response = client
            .http
            .get(format!("{}/nodes", client.base))
            .send()
            .await
            .ok()?;
        let body: NodesBody = response.json().await.ok()?;
        let running = body
            .nodes
            .iter()
            .filter(|node| node.state == shared::api::NodeState::Running && !node.id.is_empty())
            .count();
        (running == usize::from(setting.nodes)).then_some(body.nodes)
    })
    .await;
    // Links come up as the topology is dialled; wait until every node has one.
    wait("every node linked", Duration::from_secs(120), || async {
        let mut linked = 0;
        for node in &nodes {
            let status: StatusBody = client.get(&format!("/nodes/{}/status", node.id)).await;
            linked += usize::from(!status.peers.is_empty());
        }
        (linked == nodes.len()).then_some(())
    })
    .await;
    for node in &nodes {
        let url = format!("http://{}/network/links", node.address);
        let status = client.post(&url, &json!({"latency_ms": latency_ms})).await;
        assert_eq!(status, 200, "latency on {}", node.address);
    }
    let _ = client
        .post(&format!("{}/stats/reset", client.base), &json!({}))
        .await;
    let started = Instant::now();
    let load_at_start = load_average();
    let _: Value = client.get("/start/mining?mode=continuous").await;
    eprintln!(
        "latency {latency_ms} ms: {} nodes mining, {} blocks to go",
        nodes.len(),
        setting.blocks
    );
    let limit = Duration::from_secs(setting.blocks * 3 + 60);
    let last_report = std::cell::Cell::new(Instant::now());
    wait("the blocks", limit, || async {
        let stats: NetworkStats = client.get("/stats").await;
        if last_report.get().elapsed() > Duration::from_secs(30) {
            eprintln!(
                "  {} blocks, stale rate {:.3}",
                stats.blocks_found, stats.stale_rate
            );
            last_report.set(Instant::now());
        }
        (stats.blocks_found >= setting.blocks).then_some(())
    })
    .await;
    let _: Value = client.get("/stop/mining").await;
    let seconds = started.elapsed().as_secs_f64();
    let load_at_end = load_average();
    // Let the last blocks reach every node, so each is either best-chain or
    // stale. A tie at the end (two branches of one height, no miner left to
    // break it) may stay open: the smaller side's blocks count as stale,
    // as one of them will be whichever wins.
    let stats: NetworkStats = wait(
        "every block delivered",
        Duration::from_secs(120),
        || async {
            let body: NodesBody = client.get("/nodes").await;
            let heights: std::collections::BTreeSet<_> =
                body.nodes.iter().map(|node| node.height).collect();
            let stats: NetworkStats = client.get("/stats").await;
            (heights.len() == 1 && stats.pending_blocks == 0).then_some(stats)
        },
    )
    .await;
    let _: Value = client.get("/shutdown/all").await;
    let _ = tokio::time::timeout(Duration::from_secs(30), manager).await;

    json!({
        "nodes": setting.nodes,
        "topology": setting.topology,
        "latency_ms": latency_ms,
        "block_interval_ms": 1000,
        "total_attempts_per_sec": setting.total,
        "seconds": (seconds * 10.0).round() / 10.0,
        "blocks_found": stats.blocks_found,
        "best_chain_blocks": stats.best_chain_blocks,
        "stale_blocks": stats.stale_blocks,
        "stale_rate": stats.stale_rate,
        "reorgs": stats.reorgs.count,
        "reorg_depths": stats.reorgs.depths,
        "propagation_to_50_ms": {"p50": stats.propagation.to_50.p50_ms, "p99": stats.propagation.to_50.p99_ms, "blocks": stats.propagation.to_50.blocks},
        "propagation_to_90_ms": {"p50": stats.propagation.to_90.p50_ms, "p99": stats.propagation.to_90.p99_ms, "blocks": stats.propagation.to_90.blocks},
        "propagation_to_100_ms": {"p50": stats.propagation.to_100.p50_ms, "p99": stats.propagation.to_100.p99_ms, "blocks": stats.propagation.to_100.blocks},
        "events_missed": stats.events_missed,
        "forks_open_at_end": stats.forks.len(),
        "load_average_1m": [load_at_start, load_at_end],
    })
}

#[tokio::main]
async fn main() {
    if std::env::var_os("RUST_LOG").is_some() {
        manager::init_logging();
    }
    let setting = parse_args();
    // Stores in memory, so a busy disk's fsync does not time the network.
    let data = node::testing::ram_temp_dir();
    for latency_ms in setting.latencies.clone() {
        let line = run_setting(&setting, latency_ms, data.path()).await;
        println!("{line}");
    }
}
