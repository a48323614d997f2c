//! Crash campaign: kills a continuously mining node with SIGKILL at random
//! moments, restarts it each time, and checks its store kept every block it
//! acknowledged, its chain validates and it agrees with its peer again
//! (see `node::crash_campaign`). Prints one JSON report; exits 1 if any
//! kill failed a check.
//!
//! cargo run --release -p node --example crash_campaign -- --kills 50

use std::time::Duration;

use clap::Parser;
use node::crash_campaign::{CrashCampaign, run};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 50)]
    kills: u32,
    #[arg(long, default_value_t = 17)]
    seed: u64,
    /// Shortest and longest time the node mines before a kill.
    #[arg(long, default_value_t = 100)]
    min_run_ms: u64,
    #[arg(long, default_value_t = 1500)]
    max_run_ms: u64,
    /// The miner's --pace-ms.
    #[arg(long, default_value_t = 20)]
    pace_ms: u64,
    /// Stores in /dev/shm instead of a temporary directory on disk.
    #[arg(long)]
    ram: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let campaign = CrashCampaign {
        kills: args.kills,
        seed: args.seed,
        min_run: Duration::from_millis(args.min_run_ms),
        max_run: Duration::from_millis(args.max_run_ms.max(args.min_run_ms)),
        in_ram: args.ram,
        pace_ms: args.pace_ms,
    };
    let report = run(&campaign).await?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !report.is_clean() {
        std::process::exit(1);
    }
    Ok(())
}
