//! Block propagation benchmark: starts N real node processes, links them
//! in a topology (each link dialled once, by `POST /peers/connect`),
//! optionally grows a long chain first (posted to every node before the
//! links exist), sets link conditions on every link, mines B blocks one at
//! a time on varying nodes, and prints one JSON line.
//!
//! - `t50/t90/t100`: from a block's `block_mined` event to the moment 50%,
//!   90% and 100% of the nodes have it (the miner counts; event times, one
//!   clock: loopback), p50 and p99 over the blocks.
//! - `block_bytes_per_block_per_node`: headers and blocks received over
//!   links per new block per node (`/status.block_bytes_received`);
//!   `link_bytes_per_block_per_node` counts every frame (pings, getheaders
//!   and the resync tick too, from `GET /peers`).
//! - `max_hops`: the longest relay path a block took, following each
//!   `block_accepted.from` back to the miner.
//!
//! cargo run --release -p node --example propagation -- --nodes 64 --topology random:8 --blocks 30
//! cargo run --release -p node --example propagation -- --nodes 64 --topology random:8 --grow 10000 --blocks 30
//! cargo run --release -p node --example propagation -- --nodes 64 --topology random:8 --latency-ms 50

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Parser;
use futures_util::StreamExt;
use node::testing::TestNode;
use rand::{Rng, SeedableRng};
use shared::api::{LinkState, MinedBody, NodeIdBody, PeersBody, StatusBody};
use shared::events::{Event, EventKind};
use shared::topology::Topology;
use shared::{BlockHash, Preset};
use tokio::sync::mpsc;

#[derive(Parser)]
struct Args {
    /// Nodes to start.
    #[arg(long, default_value_t = 16)]
    nodes: usize,
    /// Blocks to mine and time.
    #[arg(long, default_value_t = 30)]
    blocks: usize,
    /// Chain preset for every node.
    #[arg(long, default_value = "regtest")]
    chain: Preset,
    /// Grow the chain to this height first (posted to every node).
    #[arg(long, default_value_t = 0)]
    grow: usize,
    /// full, ring, line, star, random:K or small-world:K.
    #[arg(long, default_value = "full")]
    topology: Topology,
    /// Latency on every link, each way.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    #[arg(long, default_value_t = 0)]
    jitter_ms: u64,
    /// Chance a message is lost, on every link, each way.
    #[arg(long, default_value_t = 0.0)]
    loss: f64,
    /// Seed of the random topology.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

async fn get<T: serde::de::DeserializeOwned>(http: &reqwest::Client, url: String) -> Result<T> {
    Ok(http
        .get(&url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?)
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let n = args.nodes;
    if n < 2 {
        bail!("--nodes must be at least 2");
    }
    // Each TestNode is killed when dropped, also on an early error.
    let mut nodes = Vec::new();
    for _ in 0..n {
        nodes.push(TestNode::start_with(&["--chain", args.chain.name()]));
    }
    let addresses: Vec<String> = nodes.iter().map(|n| n.address.clone()).collect();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let mut index_of_id = HashMap::new();
    for (i, address) in addresses.iter().enumerate() {
        let body: NodeIdBody = get(&http, format!("http://{address}/node/id")).await?;
        index_of_id.insert(body.node, i);
    }
    let index_of_address: HashMap<&str, usize> = addresses
        .iter()
        .enumerate()
        .map(|(i, a)| (a.as_str(), i))
        .collect();

    if args.grow > 0 {
        let params = args.chain.params();
        let mut chain = Vec::new();
        let mut now = params.genesis.header.timestamp;
        shared::extend_chain(&params, &mut chain, args.grow, "bench-grower", || {
            now += 1;
            now
        });
        let body = serde_json::json!({ "chain": chain });
        for address in &addresses {
            http.post(format!("http://{address}/chain/replace"))
                .json(&body)
                .send()
                .await?
                .error_for_status()?;
        }
    }

    let edges = args.topology.edges(n, args.seed);
    let mut degree = vec![0usize; n];
    for (a, b) in &edges {
        degree[*a] += 1;
        degree[*b] += 1;
        http.post(format!("http://{}/peers/connect", addresses[*a]))
            .json(&serde_json::json!({ "address": addresses[*b] }))
            .send()
            .await?
            .error_for_status()?;
    }
    // Bounded wait for every link to come up.
    for (i, address) in addresses.iter().enumerate() {
        let mut up = false;
        for _ in 0..300 {
            let peers: PeersBody = get(&http, format!("http://{address}/peers")).await?;
            let connected = peers
                .peers
                .iter()
                .filter(|l| l.state == LinkState::Connected)
                .count();
            if connected >= degree[i] {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        if !up {
            bail!("node {address} did not get its {} links up", degree[i]);
        }
    }
    let conditions = serde_json::json!({
        "latency_ms": args.latency_ms,
        "jitter_ms": args.jitter_ms,
        "loss": args.loss,
    });
    for address in &addresses {
        http.post(format!("http://{address}/network/links"))
            .json(&conditions)
            .send()
            .await?
            .error_for_status()
            .context("POST /network/links")?;
    }

    let (sender, mut events) = mpsc::unbounded_channel::<Event>();
    for address in &addresses {
        let (mut stream, _) =
            tokio_tungstenite::connect_async(format!("ws://{address}/events")).await?;
        let sender = sender.clone();
        tokio::spawn(async move {
            while let Some(Ok(message)) = stream.next().await {
                if let Ok(text) = message.into_text()
                    && let Ok(event) = serde_json::from_str::<Event>(&text)
                    && sender.send(event).is_err()
                {
                    break;
                }
            }
        });
    }

    let (block_bytes_before, link_bytes_before) = total_bytes(&http, &addresses).await?;
    let start_height = {
        let status: StatusBody = get(&http, format!("http://{}/status", addresses[0])).await?;
        status.height
    };
    // Per block: when it was mined, and when each node had it (and from whom).
    let mut mined_at: HashMap<BlockHash, (usize, u64)> = HashMap::new();
    let mut arrivals: HashMap<BlockHash, Vec<(u64, usize, Option<usize>)>> = HashMap::new();
    let (mut t50, mut t90, mut t100) = (Vec::new(), Vec::new(), Vec::new());
    let mut max_hops = 0usize;
    let mut hop_samples = Vec::new();
    let reach = |share: f64| ((n as f64 * share).ceil() as usize).clamp(1, n);
    let mut rng = rand::rngs::StdRng::seed_from_u64(args.seed ^ 0x5eed);
    for _ in 0..args.blocks {
        let miner = rng.random_range(0..n);
        let mined: MinedBody = get(&http, format!("http://{}/mine", addresses[miner])).await?;
        let hash = mined.block.hash;
        // Collect events until every other node accepted this block (bounded).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
        loop {
            if let (Some(_), Some(list)) = (mined_at.get(&hash), arrivals.get(&hash))
                && list.len() >= n - 1
            {
                break;
            }
            let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await else {
                bail!("block {hash} did not reach every node within 120 s");
            };
            let Some(&node) = event.node.as_ref().and_then(|id| index_of_id.get(id)) else {
                continue;
            };
            match event.kind {
                EventKind::BlockMined { hash, .. } => {
                    mined_at.insert(hash, (node, event.at));
                }
                EventKind::BlockAccepted { hash, from, .. } => {
                    let from = from.and_then(|a| index_of_address.get(a.as_str()).copied());
                    arrivals
                        .entry(hash)
                        .or_default()
                        .push((event.at, node, from));
                }
                _ => {}
            }
        }
        let (miner, at) = mined_at[&hash];
        let mut times: Vec<u64> = arrivals[&hash]
            .iter()
            .map(|(t, ..)| t.saturating_sub(at))
            .collect();
        times.push(0);
        times.sort_unstable();
        t50.push(times[reach(0.5) - 1]);
        t90.push(times[reach(0.9) - 1]);
        t100.push(times[n - 1]);
        // Hops: events in time order, each node one more than its sender.
        let mut list = arrivals[&hash].clone();
        list.sort_unstable();
        let mut hops: HashMap<usize, usize> = HashMap::from([(miner, 0)]);
        for (_, node, from) in list {
            let h = from.and_then(|f| hops.get(&f)).map_or(1, |h| h + 1);
            hops.insert(node, h);
        }
        let deepest = hops.values().copied().max().unwrap_or(0);
        max_hops = max_hops.max(deepest);
        hop_samples.push(deepest);
    }
    let (block_bytes_after, link_bytes_after) = total_bytes(&http, &addresses).await?;
    let status: StatusBody = get(&http, format!("http://{}/status", addresses[0])).await?;

    let percentile = |samples: &mut Vec<u64>, p: f64| {
        samples.sort_unstable();
        samples[((samples.len() as f64 - 1.0) * p).round() as usize]
    };
    let per =
        |before: u64, after: u64| ((after - before) as f64 / (args.blocks * n) as f64).round();
    hop_samples.sort_unstable();
    println!(
        "{}",
        serde_json::json!({
            "nodes": n,
            "blocks": args.blocks,
            "topology": args.topology.to_string(),
            "links": edges.len(),
            "latency_ms": args.latency_ms,
            "jitter_ms": args.jitter_ms,
            "loss": args.loss,
            "height_before": start_height,
            "height_after": status.height,
            "t50_p50_ms": percentile(&mut t50, 0.5),
            "t50_p99_ms": percentile(&mut t50, 0.99),
            "t90_p50_ms": percentile(&mut t90, 0.5),
            "t90_p99_ms": percentile(&mut t90, 0.99),
            "t100_p50_ms": percentile(&mut t100, 0.5),
            "t100_p99_ms": percentile(&mut t100, 0.99),
            "block_bytes_per_block_per_node": per(block_bytes_before, block_bytes_after),
            "link_bytes_per_block_per_node": per(link_bytes_before, link_bytes_after),
            "hops_p50": hop_samples[hop_samples.len() / 2],
            "max_hops": max_hops,
        })
    );
    for address in &addresses {
        let _ = http.post(format!("http://{address}/shutdown")).send().await;
    }
    drop(nodes);
    Ok(())
}

/// (block bytes from `/status`, every frame's bytes from `/peers`), summed
/// over the nodes.
async fn total_bytes(http: &reqwest::Client, addresses: &[String]) -> Result<(u64, u64)> {
    let (mut blocks, mut links) = (0, 0);
    for address in addresses {
        let status: StatusBody = get(http, format!("http://{address}/status")).await?;
        blocks += status.block_bytes_received;
        let peers: PeersBody = get(http, format!("http://{address}/peers")).await?;
        links += peers.peers.iter().map(|l| l.bytes_received).sum::<u64>();
    }
    Ok((blocks, links))
}
