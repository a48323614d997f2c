//! [`Manager`], the network the manager runs: what it holds (the node
//! table, the event hub, the node client, the spawner) and the questions
//! every operation asks of it (which node a key names, which nodes are
//! live, who knows whom). Starting and stopping nodes is in
//! [`crate::lifecycle`], keeping the table fresh in [`crate::poll`], the
//! mining jobs in [`crate::mining`].

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use shared::api::{NodeState, NodeSummary};
use shared::events::{Event, EventKind};
use shared::topology::Topology;
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::client::NodeClient;
use crate::config::Config;
use crate::error::ApiError;
use crate::hashpower::HashPower;
use crate::hub::Hub;
use crate::process::{NodeProgram, Spawner};
use crate::registry::Registry;
use crate::stats::SharedBook;
use crate::topology::Lab;

/// The lab chain's flags and the hash rate cap every node starts with.
fn node_args(config: &Config) -> Vec<String> {
    let plan = &config.start_plan;
    let mut args = plan.lab.map(|lab| lab.node_args()).unwrap_or_default();
    if let Some(cap) = plan.node_cap {
        args.extend(["--hashrate".to_owned(), cap.to_string()]);
    }
    if let Some(secs) = config.ban_secs {
        args.extend(["--ban-secs".to_owned(), secs.to_string()]);
    }
    args
}

/// The manager's state, cheap to clone into every task and handler.
#[derive(Debug, Clone)]
pub struct Manager {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) program: NodeProgram,
    pub(crate) data_dir: PathBuf,
    pub(crate) first_port: u16,
    pub(crate) client: NodeClient,
    /// Shared with the hub, whose followers fold node events into it.
    pub(crate) registry: Arc<Registry>,
    pub(crate) hub: Hub,
    pub(crate) spawner: Spawner,
    /// The running `/start/mining` job: its number and what stops it.
    pub(crate) mining: Mutex<Option<(u64, CancellationToken)>>,
    /// Pulled by Ctrl-C, SIGTERM and `/shutdown/all`.
    pub(crate) shutdown: CancellationToken,
    /// Set once `/shutdown/all` began: no node starts after that.
    pub(crate) closing: AtomicBool,
    token: Option<String>,
    pub(crate) next_slot: AtomicUsize,
    /// Spawned nodes so far, to count ports up from `--node-port`.
    pub(crate) spawned: AtomicU16,
    /// The network metrics, fed by [`Manager::keep_stats`].
    pub(crate) stats: SharedBook,
    pub(crate) hash_power: HashPower,
    /// The topology, the partition ([`crate::topology`]).
    pub(crate) lab: Lab,
    /// The attack `/attacks` runs ([`crate::attacks`]).
    pub(crate) attacks: crate::attacks::Attacks,
    /// The scenario job of `/scenarios/run` ([`crate::scenario::jobs`]).
    pub(crate) scenarios: crate::scenario::jobs::Jobs,
}

impl Manager {
    /// Must be called inside the tokio runtime (it starts the spawner thread).
    /// `host` is the address every node binds ([`crate::config::resolve_host`]).
    pub fn new(
        config: &Config,
        host: IpAddr,
        token: Option<String>,
        shutdown: CancellationToken,
    ) -> std::io::Result<Manager> {
        let program = NodeProgram {
            bin: config.node_bin.clone(),
            host,
            chain: config.chain,
            threads: config.threads,
            token: token.clone(),
            extra_args: node_args(config),
        };
        let registry = Arc::new(Registry::default());
        let hub = Hub::new(registry.clone(), token.clone());
        Ok(Manager {
            inner: Arc::new(Inner {
                program,
                data_dir: config.data_dir.clone(),
                first_port: config.node_port,
                client: NodeClient::new(token.clone()),
                registry,
                hub,
                spawner: Spawner::start()?,
                mining: Mutex::new(None),
                shutdown,
                closing: AtomicBool::new(false),
                token,
                next_slot: AtomicUsize::new(0),
                spawned: AtomicU16::new(0),
                stats: SharedBook::new(node::clock::now_ms()),
                hash_power: HashPower::new(config.capacity, config.start_plan.lab),
                lab: Lab::new(
                    config
                        .topology
                        .unwrap_or_else(|| Topology::default_for(config.nodes.into())),
                    config.topology_seed,
                ),
                attacks: Default::default(),
                scenarios: Default::default(),
            }),
        })
    }

    pub fn client(&self) -> &NodeClient {
        &self.inner.client
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The bearer token the nodes, the manager's commands and its `/events` require.
    pub fn token(&self) -> Option<&str> {
        self.inner.token.as_deref()
    }

    pub fn shutdown_signal(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.hub.subscribe()
    }

    /// Put one of the manager's own events on the stream.
    pub fn emit(&self, node: Option<String>, kind: EventKind) {
        self.inner.hub.emit(node, kind);
    }

    pub(crate) fn check_open(&self) -> Result<(), ApiError> {
        if self.inner.closing.load(Ordering::SeqCst) || self.inner.shutdown.is_cancelled() {
            return Err(ApiError::ShuttingDown);
        }
        Ok(())
    }

    /// The node's id if known, else its address, for messages.
    pub(crate) fn label(&self, slot: usize) -> String {
        self.inner
            .registry
            .with(slot, |entry| {
                entry.id().unwrap_or(entry.address()).to_owned()
            })
            .unwrap_or_else(|| format!("#{slot}"))
    }

    pub fn running_count(&self) -> usize {
        self.inner
            .registry
            .collect(|entry| (entry.state() == NodeState::Running).then_some(()))
            .len()
    }

    pub(crate) fn summary(&self, slot: usize) -> Result<NodeSummary, ApiError> {
        self.inner
            .registry
            .summary(slot)
            .ok_or_else(|| ApiError::UnknownNode(slot.to_string()))
    }

    /// Link every node to its neighbours in the network's topology
    /// ([`crate::topology`]), and drop the links it does not have.
    pub async fn register_all(&self) {
        self.wire().await;
    }

    /// The slot and address of the node `key` names (id, port or address),
    /// provided it is up.
    pub fn resolve(&self, key: &str) -> Result<(usize, String), ApiError> {
        let slot = self
            .inner
            .registry
            .find(key)
            .ok_or_else(|| ApiError::UnknownNode(key.to_owned()))?;
        let (state, address) = self
            .inner
            .registry
            .with(slot, |entry| (entry.state(), entry.address().to_owned()))
            .ok_or_else(|| ApiError::UnknownNode(key.to_owned()))?;
        match state {
            NodeState::Running | NodeState::Unreachable => Ok((slot, address)),
            NodeState::Starting => Err(ApiError::Conflict(format!(
                "node {key} is starting; try again in a moment"
            ))),
            NodeState::Stopped => Err(ApiError::Conflict(format!(
                "node {key} is stopped; POST /nodes/{key}/restart brings it back"
            ))),
        }
    }

    /// The slot of the node `key` names, whatever its state.
    pub fn find(&self, key: &str) -> Result<usize, ApiError> {
        self.inner
            .registry
            .find(key)
            .ok_or_else(|| ApiError::UnknownNode(key.to_owned()))
    }

    /// Pulled on the way out, so the job stops asking nodes to mine.
    pub(crate) fn cancel_mining_job(&self) {
        let job = self
            .inner
            .mining
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
            .take();
        if let Some((_, job)) = job {
            job.cancel();
        }
    }

    /// The live nodes' addresses, for commands sent to all of them.
    pub fn live_addresses(&self) -> Vec<(usize, String)> {
        self.inner.registry.collect(|entry| {
            (entry.state() == NodeState::Running).then(|| (entry.slot, entry.address().to_owned()))
        })
    }
}
