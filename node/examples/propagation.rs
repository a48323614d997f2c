//! Block propagation benchmark: starts N real node processes, connects them
//! all to each other, optionally grows a long chain first (regtest), mines B
//! blocks one at a time on random nodes, and prints one JSON line.
//!
//! propagation = from a block's `block_mined` event to the last other
//! node's `block_accepted` for it (event times, one clock: loopback).
//! bytes_received_per_block = block data each node received from peers per
//! new block (pushed blocks, fetched headers and blocks), averaged.
//!
//! cargo run --release -p node --example propagation -- --nodes 16 --blocks 30
//! cargo run --release -p node --example propagation -- --chain regtest --grow 10000 --blocks 100

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::Parser;
use futures_util::StreamExt;
use node::testing::TestNode;
use shared::api::{MinedBody, NodeIdBody, RegisterRequest, StatusBody};
use shared::events::{Event, EventKind};
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
    #[arg(long, default_value = "default")]
    chain: Preset,
    /// Grow the chain to this height first (posted to every node; regtest).
    #[arg(long, default_value_t = 0)]
    grow: usize,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    // Each TestNode is killed when dropped, also on an early error.
    let mut nodes = Vec::new();
    for _ in 0..args.nodes {
        nodes.push(TestNode::start_with(&["--chain", args.chain.name()]));
    }
    let addresses: Vec<String> = nodes.iter().map(|n| n.address.clone()).collect();
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()?;
    let mut ids = Vec::new();
    for address in &addresses {
        let body: NodeIdBody = http
            .get(format!("http://{address}/node/id"))
            .send()
            .await?
            .json()
            .await?;
        ids.push(body.node);
    }
    let register = RegisterRequest {
        nodes: ids.clone(),
        addresses: addresses.clone(),
    };
    for address in &addresses {
        http.post(format!("http://{address}/nodes/register"))
            .json(&register)
            .send()
            .await?
            .error_for_status()?;
    }

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

    let bytes_before = total_bytes(&http, &addresses).await?;
    let mut mined_at: HashMap<BlockHash, u64> = HashMap::new();
    let mut accepted: HashMap<BlockHash, (usize, u64)> = HashMap::new();
    let mut samples = Vec::new();
    for round in 0..args.blocks {
        let miner = &addresses[round * 7 % addresses.len()];
        let mined: MinedBody = http
            .get(format!("http://{miner}/mine"))
            .send()
            .await?
            .json()
            .await?;
        let hash = mined.block.hash;
        // Collect events until every other node accepted this block (bounded).
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            if let (Some(mined), Some((count, last))) = (mined_at.get(&hash), accepted.get(&hash))
                && *count >= args.nodes - 1
            {
                samples.push(last.saturating_sub(*mined));
                break;
            }
            let Ok(Some(event)) = tokio::time::timeout_at(deadline, events.recv()).await else {
                bail!("block {hash} did not reach every node within 30 s");
            };
            match event.kind {
                EventKind::BlockMined { hash, .. } => {
                    mined_at.insert(hash, event.at);
                }
                EventKind::BlockAccepted { hash, .. } => {
                    let entry = accepted.entry(hash).or_insert((0, 0));
                    entry.0 += 1;
                    entry.1 = entry.1.max(event.at);
                }
                _ => {}
            }
        }
    }
    let bytes_after = total_bytes(&http, &addresses).await?;
    let status: StatusBody = http
        .get(format!("http://{}/status", addresses[0]))
        .send()
        .await?
        .json()
        .await?;

    samples.sort_unstable();
    let percentile = |p: f64| samples[((samples.len() as f64 - 1.0) * p).round() as usize];
    let per_block = (bytes_after - bytes_before) as f64 / (args.blocks * args.nodes) as f64;
    println!(
        "{}",
        serde_json::json!({
            "nodes": args.nodes,
            "blocks": args.blocks,
            "propagation_p50_ms": percentile(0.5),
            "propagation_p99_ms": percentile(0.99),
            "bytes_received_per_block": per_block.round(),
            "height": status.height,
        })
    );
    for address in &addresses {
        let _ = http.post(format!("http://{address}/shutdown")).send().await;
    }
    drop(nodes);
    Ok(())
}

async fn total_bytes(http: &reqwest::Client, addresses: &[String]) -> Result<u64> {
    let mut total = 0;
    for address in addresses {
        let status: StatusBody = http
            .get(format!("http://{address}/status"))
            .send()
            .await?
            .json()
            .await?;
        total += status.block_bytes_received;
    }
    Ok(total)
}
