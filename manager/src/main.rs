//! `manager`: start a network of nodes and serve the explorer.
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use shared::Preset;
use shared::topology::Topology;

/// Start, drive and stop a network of powplay nodes; serve the explorer.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The manager's port (the URL to open); 0 lets the OS choose
    #[arg(short, long, default_value_t = 4999)]
    port: u16,
    /// How many nodes to start
    #[arg(short = 'a', long = "nodes", default_value_t = 6)]
    nodes: u16,
    /// Port of the first node, the others count up; 0 gives each node a port the OS chooses
    #[arg(long, default_value_t = 5000)]
    node_port: u16,
    /// Parameter preset of every node: default, regtest or lab (a fixed difficulty from --block-interval-ms and the total hash rate)
    #[arg(long, default_value = "default")]
    chain: Preset,
    /// Where nodes keep their chains (`<dir>/node-<port>`) and logs (`<dir>/node-<port>.log`)
    #[arg(long, default_value = "./data")]
    data_dir: PathBuf,
    /// Interface the manager and the nodes bind: an IPv4 address or a name (resolved once, at start); anything but loopback turns on a bearer token
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Bearer token that commands and /events then require, and that the manager sends to its nodes [default: none on loopback, else generated and printed]
    #[arg(long, env = "POWPLAY_TOKEN")]
    token: Option<String>,
    /// The node executable [default: `node` next to this executable]
    #[arg(long)]
    node_bin: Option<PathBuf>,
    /// The built explorer served at `/`
    #[arg(long, default_value = "explorer/dist")]
    explorer_dir: PathBuf,
    /// Mining threads per node
    #[arg(long, default_value_t = 1)]
    threads: u16,
    /// How long each node bans a misbehaving peer, in seconds [default: the node's, 600]
    #[arg(long, value_name = "SECS")]
    ban_secs: Option<u64>,
    /// Lab chain: the mean block interval, in ms, its fixed difficulty is set for
    #[arg(long, value_name = "MS", required_if_eq("chain", "lab"))]
    block_interval_ms: Option<u64>,
    /// The network's total hash rate cap in attempts/s, split equally over the nodes; on the lab chain it also sets the difficulty [default on lab: half the capacity measured at start-up; elsewhere: no cap]
    #[arg(long, value_name = "ATTEMPTS_PER_SEC")]
    total_hashrate: Option<u64>,
    /// Shape of the network: full, ring, line, star, random:K or small-world:K [default: full up to 8 nodes, random:8 beyond]
    #[arg(long)]
    topology: Option<Topology>,
    /// Seed of the random and small-world shapes
    #[arg(long, default_value_t = 0)]
    topology_seed: u64,
    /// Attach the nodes behind NAME:PORT (every address the name resolves to, e.g. a Kubernetes headless Service), again every 3 s as they come and go; with `-a 0` the manager starts none of its own
    #[arg(long, value_name = "NAME:PORT")]
    discover: Option<String>,
    /// Resolve --discover's name in this hosts-format file (`ip name` a line) instead of the system's resolver
    #[arg(long, value_name = "FILE", requires = "discover")]
    hosts_file: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// A chaos run on a manager and nodes of its own, reproducible from a seed: partitions, link loss and latency, kill -9 and restarts, a forger and a selfish miner switched on and off, with the invariants checked throughout; JSON report on stdout, progress on stderr, exit 1 if an invariant failed
    Chaos {
        #[arg(long, default_value_t = 12)]
        nodes: u16,
        #[arg(long, default_value_t = 300)]
        seconds: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The lab chain's mean block interval
        #[arg(long, value_name = "MS", default_value_t = 1000)]
        block_interval_ms: u64,
        /// The node executable [default: `node` next to this executable]
        #[arg(long)]
        node_bin: Option<PathBuf>,
    },
    /// A crash campaign: kill -9 the manager (and with it every node) at random moments while the network mines, restart it on the same data each time, and check that no node was orphaned, every node came back, no acknowledged block was lost, every chain validates and the nodes agree again; JSON report on stdout, progress on stderr, exit 1 if a check failed
    Crash {
        #[arg(long, default_value_t = 10)]
        kills: u32,
        #[arg(long, default_value_t = 3)]
        nodes: u16,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Shortest mining before a kill
        #[arg(long, value_name = "MS", default_value_t = 500)]
        min_run_ms: u64,
        /// Longest mining before a kill
        #[arg(long, value_name = "MS", default_value_t = 3000)]
        max_run_ms: u64,
        /// The lab chain's mean block interval
        #[arg(long, value_name = "MS", default_value_t = 200)]
        block_interval_ms: u64,
        /// The node executable [default: `node` next to this executable]
        #[arg(long)]
        node_bin: Option<PathBuf>,
    },
    /// Run a scenario file headless on a network of its own; JSON report and a table on stdout, progress on stderr
    Scenario {
        /// The scenario's TOML file (see manager/scenarios/)
        file: PathBuf,
        /// Where its nodes keep their chains and logs [default: a fresh temporary directory, removed after]
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// The node executable [default: `node` next to this executable]
        #[arg(long)]
        node_bin: Option<PathBuf>,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    manager::init_logging();
    match cli.command {
        Some(Command::Scenario {
            file,
            data_dir,
            node_bin,
        }) => {
            let report = manager::scenario::run_file(&file, data_dir, node_bin).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            println!("{}", report.table());
            return Ok(());
        }
        Some(Command::Chaos {
            nodes,
            seconds,
            seed,
            block_interval_ms,
            node_bin,
        }) => {
            let options = manager::chaos::ChaosOptions {
                nodes,
                duration: std::time::Duration::from_secs(seconds),
                seed,
                block_interval_ms,
                node_bin,
            };
            let report = manager::chaos::run(&options, |line| eprintln!("chaos: {line}")).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if !report.held {
                std::process::exit(1);
            }
            return Ok(());
        }
        Some(Command::Crash {
            kills,
            nodes,
            seed,
            min_run_ms,
            max_run_ms,
            block_interval_ms,
            node_bin,
        }) => {
            anyhow::ensure!(
                min_run_ms <= max_run_ms,
                "--min-run-ms is over --max-run-ms"
            );
            let options = manager::crash_campaign::CrashOptions {
                kills,
                nodes,
                seed,
                min_run: std::time::Duration::from_millis(min_run_ms),
                max_run: std::time::Duration::from_millis(max_run_ms),
                block_interval_ms,
                node_bin,
            };
            let report =
                manager::crash_campaign::run(&options, |line| eprintln!("crash: {line}")).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            if !report.held {
                std::process::exit(1);
            }
            return Ok(());
        }
        None => {}
    }
    let config = manager::Config {
        port: cli.port,
        host: cli.host,
        nodes: cli.nodes,
        node_port: cli.node_port,
        chain: cli.chain,
        data_dir: cli.data_dir,
        node_bin: cli
            .node_bin
            .unwrap_or_else(manager::config::default_node_bin),
        explorer_dir: cli.explorer_dir,
        threads: cli.threads,
        ban_secs: cli.ban_secs,
        token: cli.token,
        capacity: None,
        block_interval_ms: cli.block_interval_ms,
        total_hashrate: cli.total_hashrate,
        start_plan: Default::default(),
        topology: cli.topology,
        topology_seed: cli.topology_seed,
        discover: cli
            .discover
            .map(|target| manager::discovery::Target::parse(&target, cli.hosts_file))
            .transpose()?,
    };
    manager::run(config).await?;
    Ok(())
}
