//! `GET /status` latency while blocks are being committed: starts N real
//! regtest nodes, connects them all to each other, turns on continuous
//! mining on every one with a short pace (so each node writes a block to
//! redb many times a second, its own and its peers'), then times R
//! sequential `GET /status` requests, spread over the nodes, and prints one
//! JSON line.
//!
//! The figure shows whether readers wait behind disk writes: a status
//! request only needs the block tree for a moment, so its latency should
//! not follow the fsync of a block commit.
//!
//! cargo run --release -p node --example status_latency -- --nodes 4 --pace-ms 20 --requests 2000

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use clap::Parser;
use node::testing::{TestNode, http_client, wait_until};
use shared::api::{NodeIdBody, RegisterRequest, StatusBody};

#[derive(Parser)]
struct Args {
    /// Nodes to start (regtest).
    #[arg(long, default_value_t = 4)]
    nodes: usize,
    /// Each node's `--pace-ms`: least time between two blocks it mines.
    #[arg(long, default_value_t = 20)]
    pace_ms: u64,
    /// `GET /status` requests to time.
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// Height every node must reach before timing starts.
    #[arg(long, default_value_t = 20)]
    warm_up: u64,
}

/// The whole measurement may take at most this long.
const TIME_LIMIT: Duration = Duration::from_secs(300);

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    if args.nodes == 0 || args.requests == 0 {
        bail!("--nodes and --requests must be at least 1");
    }
    let pace = args.pace_ms.to_string();
    // Each TestNode is killed when dropped, also on an early error.
    let nodes: Vec<TestNode> = (0..args.nodes)
        .map(|_| TestNode::start_with(&["--pace-ms", &pace]))
        .collect();
    let http = http_client();
    let mut ids = Vec::new();
    for node in &nodes {
        ids.push(node.get::<NodeIdBody>("/node/id").await.node);
    }
    let register = RegisterRequest {
        nodes: ids,
        addresses: nodes.iter().map(|n| n.address.clone()).collect(),
    };
    for node in &nodes {
        node.post_json("/nodes/register", &register)
            .await
            .error_for_status()?;
    }
    for node in &nodes {
        node.post("/mining/start").await.error_for_status()?;
    }
    wait_until(
        "every node to pass the warm-up height",
        600,
        Duration::from_millis(100),
        || async {
            for node in &nodes {
                if node.status().await.height < args.warm_up {
                    return None;
                }
            }
            Some(())
        },
    )
    .await;

    let height_before = nodes[0].status().await.height;
    let started = Instant::now();
    let mut samples = Vec::with_capacity(args.requests);
    for i in 0..args.requests {
        if started.elapsed() > TIME_LIMIT {
            bail!("{} requests took longer than {TIME_LIMIT:?}", i);
        }
        let url = nodes[i % nodes.len()].url("/status");
        let sent = Instant::now();
        let response = http.get(url).send().await?.error_for_status()?;
        let _: StatusBody = response.json().await?;
        samples.push(sent.elapsed());
    }
    let elapsed = started.elapsed();
    let height_after = nodes[0].status().await.height;
    for node in &nodes {
        let _ = node.post("/mining/stop").await;
    }

    samples.sort_unstable();
    let percentile = |p: f64| {
        let at = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[at].as_secs_f64() * 1000.0
    };
    let round = |ms: f64| (ms * 1000.0).round() / 1000.0;
    println!(
        "{}",
        serde_json::json!({
            "nodes": args.nodes,
            "pace_ms": args.pace_ms,
            "requests": args.requests,
            "status_p50_ms": round(percentile(0.5)),
            "status_p99_ms": round(percentile(0.99)),
            "status_max_ms": round(percentile(1.0)),
            "seconds": round(elapsed.as_secs_f64()),
            "blocks_during": height_after.saturating_sub(height_before),
        })
    );
    for node in &nodes {
        let _ = node.post("/shutdown").await;
    }
    drop(nodes);
    Ok(())
}
