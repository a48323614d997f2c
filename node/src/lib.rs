//! A proof-of-work node of the powplay playground.
//!
//! - [`config`]: the command line.
//! - [`clock`]: the wall clock (`shared` takes time as an argument).
//! - [`conditions`]: link conditions (latency, jitter, loss, bandwidth,
//!   down) as a release schedule for what a node sends over a link.
//! - [`signals`]: Ctrl-C and SIGTERM, for the node and the manager.
//! - [`token`]: random node ids and bearer tokens.
//! - [`bearer`]: checking a request's bearer token (node and manager).
//! - [`openapi`]: what both OpenAPI documents say alike: which operations
//!   need the token, and the refusals of bad input.
//! - [`chain`]: the block tree — every valid block, headers-only entries,
//!   invalid blocks, orphans and blocks being stored — and the best tip by
//!   most work. Consensus checks are `shared`'s; the tree only keeps score.
//! - [`store`]: the redb database under `--data-dir` (blocks, id, peers).
//! - [`miner`]: the mining thread, its stop flag, its hash power cap and
//!   its measured hash rate.
//! - [`p2p`]: the peer-to-peer layer: one WebSocket link per pair of
//!   peers on `GET /p2p` ([`p2p::link`]), headers-first relay and sync over
//!   any topology ([`p2p::relay`]), and the link table (states, counters,
//!   conditions, what each peer is known to have).
//! - [`strategy`]: the node's strategy (honest, selfish, private,
//!   timestamp, forger): what it mines on, announces, withholds and serves.
//! - [`bans`]: peers cut off for misbehaving, by address and node id.
//! - [`node`]: the shared state and the operations on it (accept a block,
//!   replace the chain, entries, connect/disconnect, link conditions and
//!   isolation, bans, the peer writer, winding down).
//! - [`tasks`]: the background work the node runs, tracked so shutdown
//!   waits for it before the store closes.
//! - [`events`]: the broadcast bus behind `GET /events`.
//! - [`metrics`]: the counters and gauges behind `GET /metrics`
//!   (OpenMetrics text, prometheus-client).
//! - [`api`]: the routes, each declared once for the router and the
//!   OpenAPI document (utoipa-axum), and their handlers.
//! - [`error`]: every failure as JSON with the right status, and the
//!   extractors whose rejections are such failures.
//! - `testing` (feature `testing`): helpers for tests that run real
//!   processes, shared by every crate's tests.
//! - `crash_campaign` (feature `testing`): kill -9 a mining node again and
//!   again and check it kept everything it acknowledged.
//!
//! [`run`] binds, restores the store, starts the miner and serves until
//! `/shutdown`, Ctrl-C or SIGTERM, then waits for work in flight and closes
//! the store.

pub mod api;
pub mod bans;
pub mod bearer;
pub mod chain;
pub mod clock;
pub mod conditions;
pub mod config;
#[cfg(feature = "testing")]
pub mod crash_campaign;
pub mod error;
pub mod events;
pub mod metrics;
pub mod miner;
pub mod node;
pub mod openapi;
pub mod p2p;
pub mod signals;
pub mod store;
pub mod strategy;
pub mod tasks;
#[cfg(feature = "testing")]
pub mod testing;
pub mod token;

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

pub use config::Config;

use crate::chain::BlockTree;
use crate::miner::Miner;
use crate::node::{Node, PeerLimits};
use crate::store::Store;

const NODE_ID_KEY: &str = "node_id";
pub(crate) const PEERS_KEY: &str = "peers";
/// How long shutdown waits for work in flight before it closes the store.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs a node until it is told to stop.
pub async fn run(config: Config) -> anyhow::Result<()> {
    // Checked before anything binds or touches the disk. A lab genesis may
    // search up to 2^21 nonces: off the async workers.
    let chain_config = config.clone();
    let params = tokio::task::spawn_blocking(move || chain_config.chain_params()).await??;
    let strategy = config.strategy().map_err(anyhow::Error::msg)?;
    let listener = tokio::net::TcpListener::bind((config.host, config.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", config.host, config.port))?;
    let local = listener.local_addr()?;
    // Peers need an address they can reach: an unspecified bind address
    // is advertised as loopback.
    let advertised_host = if config.host.is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        config.host.to_string()
    };
    let address = format!("{advertised_host}:{}", local.port());
    let token = match (&config.token, config.host.is_loopback()) {
        (Some(token), _) => Some(token.clone()),
        (None, true) => None,
        (None, false) => {
            let token = token::random_hex_id();
            eprintln!("binding {} needs a token; generated: {token}", config.host);
            Some(token)
        }
    };

    let data_dir = config.data_dir_for(local.port());
    let store = Store::open(&data_dir)?;
    store.claim_for_chain(&params, &data_dir)?;
    let id = match store.get_meta(NODE_ID_KEY)? {
        Some(id) => id,
        None => {
            let id = token::random_hex_id();
            store.set_meta(NODE_ID_KEY, &id)?;
            id
        }
    };
    let mut tree = BlockTree::new(params.clone());
    tree.restore(store.load_blocks()?);
    let saved_peers: Vec<(String, String)> = store
        .get_meta(PEERS_KEY)?
        .and_then(|json| serde_json::from_str(&json).ok())
        .unwrap_or_default();
    tracing::info!(
        id = %id, address = %address, chain = %params.name, height = tree.height(),
        data_dir = %data_dir.display(), "node starting"
    );

    let limits = PeerLimits {
        max_inbound: config.max_peers,
        ban_secs: config.ban_secs,
    };
    let node = Arc::new(Node::new(
        id,
        address.clone(),
        params,
        token,
        store,
        tree,
        limits,
    ));
    for (peer_id, peer_address) in &saved_peers {
        node.links.want(peer_id, peer_address);
    }
    for peer in &config.peers {
        if !shared::address::is_host_port(peer) {
            tracing::warn!(peer = %peer, "--peer is not host:port; ignored");
            continue;
        }
        if node.links.want("", peer) {
            node.save_peers();
        }
    }
    node.spawn_peer_writer();
    node.spawn_p2p();
    node.miner.set_hashrate_limit(config.hashrate);
    if strategy != shared::strategy::Strategy::Honest {
        node.set_strategy(strategy)?;
    }
    Miner::spawn(
        &node,
        config.threads,
        Duration::from_millis(config.pace_ms()),
    );
    spawn_signal_handler(Arc::clone(&node));

    println!("listening on http://{address}");
    std::io::stdout().flush()?;

    let shutdown = node.shutdown.clone();
    // Peer links are many small messages each way; Nagle's algorithm
    // (with delayed ACKs) would hold some of them for tens of ms.
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, api::app(Arc::clone(&node)))
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    node.wind_down(SHUTDOWN_GRACE).await;
    // Every task has let go of the node; dropping it closes the store.
    match Arc::into_inner(node) {
        Some(node) => {
            let _ = tokio::task::spawn_blocking(move || drop(node)).await;
            tracing::info!("node stopped, store closed");
        }
        None => tracing::warn!("node stopped; a task still holds it, the store closes at exit"),
    }
    Ok(())
}

fn spawn_signal_handler(node: Arc<Node>) {
    let tasks = Arc::clone(&node);
    tasks.tasks.spawn(async move {
        tokio::select! {
            _ = signals::stop_requested() => {}
            () = node.shutdown.cancelled() => return,
        }
        node.events.emit(shared::events::EventKind::ShuttingDown);
        node.shutdown.cancel();
    });
}
