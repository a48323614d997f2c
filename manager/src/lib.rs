//! The manager: starts, drives and stops a network of nodes, and gives the
//! explorer one HTTP API and one event stream for all of them.
//!
//! - [`config`]: what to run (ports, node count, chain preset, directories,
//!   token), and `--host` resolved to the one IPv4 address all bind.
//! - [`process`]: node processes: the spawner thread that ties their life to
//!   the manager's, the `listening on` line, exit watching.
//! - [`client`]: typed HTTP calls to a node, each with a timeout.
//! - [`registry`]: the node table behind `GET /nodes`, one [`NodeSummary`]
//!   per node folded from polls and events.
//! - [`hub`]: the event hub: one broadcast of every node's events and the
//!   manager's own, fed by a follower task per node.
//! - [`network`]: [`Manager`], what the manager holds and the questions every
//!   operation asks of it (which node a key names, who is live).
//! - [`lifecycle`]: spawn, attach, stop, restart, shut down all.
//! - [`discovery`]: `--discover NAME:PORT`, attaching the nodes behind a
//!   name (a headless Service, a Compose service) as they come and go.
//! - [`poll`]: every node's `/status` once a second, and the snapshot.
//! - [`mining`]: the background jobs behind `/start/mining` and `/stop/mining`.
//! - [`stats`]: network metrics folded from every node's events (stale
//!   blocks, reorgs, propagation, shares, forks) for `/stats` and the
//!   `stats` event.
//! - [`metrics`]: `GET /metrics`, the same figures and the node table in
//!   OpenMetrics text (prometheus-client).
//! - [`hashpower`]: the machine's capacity, each node's hash rate cap and
//!   how a network total is split.
//! - [`stats_api`]: the handlers of `/stats`, `/stats/reset`, `/metrics` and
//!   the hash rate commands (listed in [`api`] with every other route).
//! - [`topology`]: the network's shape (`--topology`, `POST /network/topology`),
//!   wiring the nodes to it, and `GET /network` from both ends of every link.
//! - [`links`]: link conditions and presets on links between nodes.
//! - [`partition`]: partitions into groups, and healing them.
//! - [`lab_api`]: the `/network/...` routes of those three.
//! - [`events`]: `/events` for WebSocket subscribers (snapshot, then the hub).
//! - [`api`]: every route declared once (utoipa-axum), its handlers, and
//!   `/openapi.json` built from the same list.
//! - [`auth`]: the bearer token on commands and `/events`.
//! - [`statics`]: the built explorer served at `/`, compressed, with cache
//!   headers by file name.
//! - [`error`]: [`ApiError`], every failure as `{"error": ...}` with its status.
//! - [`attacks`]: `/attacks`: a node's strategy and hash share, the
//!   attack's figures from the hub, and putting both back.
//! - [`attack_api`]: the handlers of `/attacks` (listed in [`api`]).
//! - [`scenario_api`]: the handlers of `/scenarios`, `/scenarios/run` and
//!   `/scenarios/status` (listed in [`api`]).
//! - [`theory`]: what theory expects of the experiments (stale rate,
//!   selfish mining revenue, the double spend's catch-up probability).
//! - [`scenario`]: TOML scenario files, their runner on a network of their
//!   own, and the report (`manager scenario FILE`).
//! - [`chaos`]: `manager chaos`, a seeded chaos run on a manager of its own,
//!   with the invariants checked throughout and a JSON report.
//! - [`crash_campaign`]: `manager crash`, the manager (and so every node)
//!   killed with SIGKILL again and again and restarted on the same data,
//!   with what must survive checked after each restart; a JSON report.
//! - [`own_manager`]: a manager such a campaign starts as its child.
//!
//! [`run`] ties them together: resolve the host, bind, announce, launch the
//! nodes, serve until Ctrl-C, SIGTERM or `/shutdown/all`, and stop every
//! node on the way out.
//!
//! [`NodeSummary`]: shared::api::NodeSummary

pub mod api;
pub mod attack_api;
pub mod attacks;
pub mod auth;
pub mod chaos;
pub mod client;
pub mod config;
pub mod crash_campaign;
pub mod discovery;
pub mod error;
pub mod events;
pub mod hashpower;
pub mod hub;
pub mod lab_api;
pub mod lab_record;
pub mod lifecycle;
pub mod links;
pub mod metrics;
pub mod mining;
pub mod network;
pub mod own_manager;
pub mod partition;
pub mod poll;
pub mod process;
pub mod registry;
pub mod scenario;
pub mod scenario_api;
pub mod statics;
pub mod stats;
pub mod stats_api;
pub mod theory;
pub mod topology;

use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

use shared::Preset;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use error::ApiError;
pub use network::Manager;

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Host(#[from] config::HostError),
    #[error("cannot start the node spawner thread: {0}")]
    Spawner(std::io::Error),
    #[error("none of the {0} nodes started (the errors are above)")]
    NoNodes(u16),
    #[error(transparent)]
    StartPlan(#[from] hashpower::StartPlanError),
    #[error(transparent)]
    LabRecord(#[from] lab_record::LabRecordError),
}

/// Logs to stderr with readable local timestamps; `RUST_LOG` overrides the
/// `info` default.
pub fn init_logging() {
    use std::io::IsTerminal;
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::fmt::time::ChronoLocal;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_timer(ChronoLocal::new("%Y-%m-%d %H:%M:%S%.3f".to_owned()))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .try_init();
}

/// A line for people and scripts that wait for it: stdout, flushed at once.
fn announce(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Run the manager until Ctrl-C, SIGTERM or `GET /shutdown/all`.
pub async fn run(mut config: Config) -> Result<(), RunError> {
    let host = config::resolve_host(&config.host).await?;
    // Before any node hashes, so that they do not share the cores with it.
    config.capacity = hashpower::measure_and_log().await;
    let recorded = if config.chain == Preset::Lab {
        lab_record::read(&config.data_dir)?
    } else {
        None
    };
    let total = lab_record::total_to_use(
        &config.data_dir,
        recorded,
        config.block_interval_ms,
        config.total_hashrate,
    )?;
    config.start_plan = hashpower::start_plan(
        config.chain,
        config.block_interval_ms,
        total,
        config.nodes,
        // A recorded total is this data directory's chain: kept even if
        // the machine measures slower today.
        config.capacity.filter(|_| recorded.is_none()),
    )?;
    if let Some(lab) = config.start_plan.lab {
        // Every node would refuse parameters that make no target: say so
        // once, here. (It also searches a genesis proof: a blocking thread.)
        let checked = tokio::task::spawn_blocking(move || {
            shared::ChainParams::lab(lab.block_interval_ms, lab.network_hashrate).map(|_| ())
        })
        .await;
        if let Ok(Err(err)) = checked {
            return Err(hashpower::StartPlanError::from(err).into());
        }
        if recorded.is_some() {
            tracing::info!(
                "the lab chain recorded in {}",
                lab_record::record_path(&config.data_dir).display()
            );
        } else {
            lab_record::write(&config.data_dir, &lab)?;
        }
        tracing::info!(
            interval_ms = lab.block_interval_ms,
            network_hashrate = lab.network_hashrate,
            node_cap = config.start_plan.node_cap.unwrap_or(0),
            "lab chain: a fixed difficulty for a block every {} ms at {} attempts/s",
            lab.block_interval_ms,
            lab.network_hashrate
        );
    }
    let generated = config.token.is_none() && !host.is_loopback();
    let token = match &config.token {
        Some(token) => Some(token.clone()),
        None => generated.then(node::token::random_hex_id),
    };
    let shutdown = CancellationToken::new();
    let manager =
        Manager::new(&config, host, token.clone(), shutdown.clone()).map_err(RunError::Spawner)?;

    let bind = SocketAddr::new(host, config.port);
    let listener = TcpListener::bind(bind)
        .await
        .map_err(|source| RunError::Bind {
            address: bind.to_string(),
            source,
        })?;
    let local = listener.local_addr().map_err(|source| RunError::Bind {
        address: bind.to_string(),
        source,
    })?;
    announce(&format!("manager listening on http://{local}"));
    // Bound to every interface, the manager is still opened locally by loopback.
    let open = if local.ip().is_unspecified() {
        format!("http://127.0.0.1:{}/", local.port())
    } else {
        format!("http://{local}/")
    };
    match &token {
        // A token the user chose is theirs to know; only a new one is shown.
        Some(token) if generated => announce(&format!(
            "{} is not loopback: commands need the header `Authorization: Bearer {token}` \
             (/events takes it too, or `?access_token={token}`)",
            config.host
        )),
        Some(_) => announce(
            "commands need the header `Authorization: Bearer <--token>` \
             (/events takes it too, or `?access_token=<--token>`)",
        ),
        None => {}
    }

    let app = api::app(manager.clone(), &config.explorer_dir);
    let server = tokio::spawn(
        axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.clone().cancelled_owned())
            .into_future(),
    );
    tokio::spawn(watch_signals(shutdown.clone()));
    manager.spawn_background();
    if let Some(target) = config.discover.clone() {
        tokio::spawn(discovery::follow(manager.clone(), target, shutdown.clone()));
    }

    let launch = tokio::spawn({
        let manager = manager.clone();
        let config = config.clone();
        async move {
            let failures = manager.launch_network(config.nodes).await;
            let running = manager.running_count();
            if running == 0 && config.nodes > 0 {
                return Err(RunError::NoNodes(config.nodes));
            }
            let addresses: Vec<String> = manager
                .live_addresses()
                .into_iter()
                .map(|(_, address)| address)
                .collect();
            let failed = if failures.is_empty() {
                String::new()
            } else {
                format!(", {} failed to start (see above)", failures.len())
            };
            let line = format!(
                "network ready: {running} nodes ({}) on the {} chain{failed}; open {open}",
                addresses.join(" "),
                config.chain.name()
            );
            // stdout, not the log: scripts wait for this line, and a person
            // should see it once, not twice.
            announce(&line);
            Ok(())
        }
    });

    let outcome = tokio::select! {
        _ = shutdown.cancelled() => Ok(()),
        launched = launch => match launched {
            Ok(Err(err)) => Err(err),
            _ => {
                shutdown.cancelled().await;
                Ok(())
            }
        },
    };
    shutdown.cancel();
    tracing::info!("stopping");
    manager.stop_spawned().await;
    if tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close within 5 s");
    }
    outcome
}

/// Ctrl-C and SIGTERM pull the same shutdown as `/shutdown/all`.
async fn watch_signals(shutdown: CancellationToken) {
    tokio::select! {
        signal = node::signals::stop_requested() => {
            tracing::info!("{signal}: stopping the network");
        }
        _ = shutdown.cancelled() => {}
    }
    shutdown.cancel();
}
