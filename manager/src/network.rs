//! The network the manager runs: starting, attaching, registering,
//! stopping and restarting nodes, and keeping the node table fresh.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;
use shared::api::{NodeState, NodeSummary, RegisterRequest, ShutdownReport};
use shared::events::{Event, EventKind};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::client::NodeClient;
use crate::config::Config;
use crate::error::ApiError;
use crate::events;
use crate::process::{NodeProgram, Placement, Spawner};
use crate::registry::{NodeEntry, Registry, Transition};

/// How long a node gets to exit after `/shutdown` before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(5);
/// How often every node's `/status` is read.
const POLL_EVERY: Duration = Duration::from_secs(1);

/// The manager's state, cheap to clone into every task and handler.
#[derive(Debug, Clone)]
pub struct Manager {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    program: NodeProgram,
    data_dir: PathBuf,
    first_port: u16,
    pub(crate) client: NodeClient,
    pub(crate) registry: Registry,
    events: broadcast::Sender<Event>,
    spawner: Spawner,
    /// The running `/start/mining` job: its number and what stops it.
    pub(crate) mining: Mutex<Option<(u64, CancellationToken)>>,
    /// Pulled by Ctrl-C, SIGTERM and `/shutdown/all`.
    shutdown: CancellationToken,
    /// Set once `/shutdown/all` began: no node starts after that.
    closing: AtomicBool,
    token: Option<String>,
    next_slot: AtomicUsize,
    /// Spawned nodes so far, to count ports up from `--node-port`.
    spawned: AtomicU16,
}

/// How one node's stop went.
#[derive(Debug, Clone)]
pub struct Stopped {
    pub address: String,
    pub outcome: String,
    /// It did not exit in time and was killed.
    pub killed: bool,
}

/// Marks a node busy while a start, stop or restart runs; clears it on drop.
struct Claim {
    manager: Manager,
    slot: usize,
}

impl Drop for Claim {
    fn drop(&mut self) {
        self.manager.inner.registry.with(self.slot, |entry| {
            entry.busy = false;
        });
    }
}

impl Manager {
    /// Must be called inside the tokio runtime (it starts the spawner thread).
    pub fn new(
        config: &Config,
        token: Option<String>,
        shutdown: CancellationToken,
    ) -> std::io::Result<Manager> {
        let program = NodeProgram {
            bin: config.node_bin.clone(),
            host: config.host.clone(),
            chain: config.chain,
            threads: config.threads,
            token: token.clone(),
        };
        let (events, _) = broadcast::channel(events::CAPACITY);
        Ok(Manager {
            inner: Arc::new(Inner {
                program,
                data_dir: config.data_dir.clone(),
                first_port: config.node_port,
                client: NodeClient::new(token.clone()),
                registry: Registry::default(),
                events,
                spawner: Spawner::start()?,
                mining: Mutex::new(None),
                shutdown,
                closing: AtomicBool::new(false),
                token,
                next_slot: AtomicUsize::new(0),
                spawned: AtomicU16::new(0),
            }),
        })
    }

    pub fn client(&self) -> &NodeClient {
        &self.inner.client
    }

    pub fn registry(&self) -> &Registry {
        &self.inner.registry
    }

    /// The bearer token nodes and the manager's mutating endpoints require.
    pub fn token(&self) -> Option<&str> {
        self.inner.token.as_deref()
    }

    pub fn shutdown_signal(&self) -> &CancellationToken {
        &self.inner.shutdown
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.inner.events.subscribe()
    }

    /// Put an event on the stream; nobody listening is fine.
    pub fn emit(&self, node: Option<String>, kind: EventKind) {
        let _ = self.inner.events.send(events::stamp(node, kind));
    }

    /// Forward a node's own event unchanged.
    pub(crate) fn forward(&self, event: Event) {
        let _ = self.inner.events.send(event);
    }

    fn check_open(&self) -> Result<(), ApiError> {
        if self.inner.closing.load(Ordering::SeqCst) || self.inner.shutdown.is_cancelled() {
            return Err(ApiError::ShuttingDown);
        }
        Ok(())
    }

    /// A new table row for a node this manager will spawn.
    fn new_spawned_entry(&self) -> usize {
        let slot = self.inner.next_slot.fetch_add(1, Ordering::SeqCst);
        let index = self.inner.spawned.fetch_add(1, Ordering::SeqCst);
        let port = match self.inner.first_port {
            0 => 0,
            first => first.saturating_add(index),
        };
        let placement = Placement::new(&self.inner.data_dir, port, slot);
        let address = format!("{}:{port}", self.inner.program.host);
        self.inner
            .registry
            .insert(NodeEntry::new(slot, address, Some(placement)));
        slot
    }

    fn claim(&self, slot: usize) -> Result<Claim, ApiError> {
        let claimed = self.inner.registry.with(slot, |entry| {
            if entry.busy {
                false
            } else {
                entry.busy = true;
                true
            }
        });
        match claimed {
            Some(true) => Ok(Claim {
                manager: self.clone(),
                slot,
            }),
            Some(false) => Err(ApiError::Conflict(format!(
                "node {} is being started or stopped; try again in a moment",
                self.label(slot)
            ))),
            None => Err(ApiError::UnknownNode(slot.to_string())),
        }
    }

    /// The node's id if known, else its address, for messages.
    fn label(&self, slot: usize) -> String {
        self.inner
            .registry
            .with(slot, |entry| {
                entry.id().unwrap_or(entry.address()).to_owned()
            })
            .unwrap_or_else(|| format!("#{slot}"))
    }

    /// Start `count` nodes, wait until each answers, and register them all
    /// with each other. Returns the failures (the rest of the network runs).
    pub async fn launch_network(&self, count: u16) -> Vec<ApiError> {
        let slots: Vec<usize> = (0..count).map(|_| self.new_spawned_entry()).collect();
        let results = join_all(slots.iter().map(|&slot| self.start_node(slot))).await;
        let failures: Vec<ApiError> = results.into_iter().filter_map(Result::err).collect();
        for failure in &failures {
            tracing::error!(error = %failure, "a node did not start");
        }
        self.register_all().await;
        let running = self.running_count();
        self.emit(None, EventKind::NetworkReady { nodes: running });
        failures
    }

    pub fn running_count(&self) -> usize {
        self.inner
            .registry
            .collect(|entry| (entry.state() == NodeState::Running).then_some(()))
            .len()
    }

    /// `POST /nodes`: one more node, registered with all and all with it.
    pub async fn add_node(&self) -> Result<NodeSummary, ApiError> {
        self.check_open()?;
        let slot = self.new_spawned_entry();
        self.start_node(slot).await?;
        self.register_all().await;
        self.refresh(slot).await;
        self.summary(slot)
    }

    fn summary(&self, slot: usize) -> Result<NodeSummary, ApiError> {
        self.inner
            .registry
            .summary(slot)
            .ok_or_else(|| ApiError::UnknownNode(slot.to_string()))
    }

    /// Spawn the node in `slot`, wait for its `listening on` line and its
    /// id, and follow its events.
    async fn start_node(&self, slot: usize) -> Result<(), ApiError> {
        self.check_open()?;
        let _claim = self.claim(slot)?;
        let prepared = self.inner.registry.with(slot, |entry| {
            entry.generation += 1;
            entry.summary.state = NodeState::Starting;
            entry.summary.isolated = false;
            entry.summary.mining = false;
            (entry.placement.clone(), entry.generation)
        });
        let (Some(placement), generation) = prepared.unwrap_or((None, 0)) else {
            return Err(ApiError::Conflict(format!(
                "node {} was attached, not started by this manager: it cannot be started from here",
                self.label(slot)
            )));
        };
        let launched = self
            .inner
            .spawner
            .launch(&self.inner.program, &placement)
            .await;
        let (address, process) = match launched {
            Ok(launched) => launched,
            Err(err) => {
                self.inner.registry.with(slot, |entry| {
                    entry.summary.state = NodeState::Stopped;
                });
                return Err(err.into());
            }
        };
        let port = shared::address::port_of(&address);
        self.inner.registry.with(slot, |entry| {
            entry.summary.address = address.clone();
            entry.set_process(Some(process.clone()));
            if let Some(placement) = entry.placement.as_mut() {
                // An OS-chosen port is kept: peers know the node by it, so a
                // restart must come back on it.
                placement.port = port;
            }
        });
        tokio::spawn({
            let manager = self.clone();
            let process = process.clone();
            async move {
                let outcome = process.exited().await;
                manager.mark_stopped(slot, generation, &outcome);
            }
        });

        let id = match self.inner.client.node_id(&address).await {
            Ok(body) => body.node,
            Err(err) => {
                process.kill();
                process.exited_within(EXIT_GRACE).await;
                return Err(err.into());
            }
        };
        let follower = CancellationToken::new();
        self.inner.registry.with(slot, |entry| {
            entry.summary.id = id.clone();
            entry.summary.state = NodeState::Running;
            if let Some(old) = entry.follower.replace(follower.clone()) {
                old.cancel();
            }
        });
        tokio::spawn(events::follow_node(
            self.clone(),
            slot,
            generation,
            address.clone(),
            follower,
        ));
        tracing::info!(node = %id, %address, pid = process.pid, "node started");
        self.emit(
            Some(id),
            EventKind::NodeStarted {
                address,
                pid: Some(process.pid),
            },
        );
        self.refresh(slot).await;
        Ok(())
    }

    /// Record that the node of `generation` is gone; the first caller wins.
    fn mark_stopped(&self, slot: usize, generation: u64, outcome: &str) {
        let stopped = self.inner.registry.with(slot, |entry| {
            if entry.generation != generation || entry.state() == NodeState::Stopped {
                return None;
            }
            let address = entry.address().to_owned();
            let kind = EventKind::NodeStopped {
                address: address.clone(),
                outcome: outcome.to_owned(),
            };
            // The table folds the event the explorer gets, the same way.
            entry.summary.apply(&kind);
            entry.set_process(None);
            if let Some(follower) = entry.follower.take() {
                follower.cancel();
            }
            Some((entry.id().map(str::to_owned), address, kind))
        });
        if let Some(Some((id, address, kind))) = stopped {
            tracing::info!(node = id.as_deref().unwrap_or("?"), %address, %outcome, "node stopped");
            self.emit(id, kind);
        }
    }

    /// `POST /nodes/attach`: a node someone else started.
    pub async fn attach(&self, address: &str) -> Result<NodeSummary, ApiError> {
        self.check_open()?;
        let address = attach_address(address)?;
        if let Some(slot) = self.inner.registry.find(&address) {
            return Err(ApiError::Conflict(format!(
                "{address} is already in the network as node {}",
                self.label(slot)
            )));
        }
        let body = self.inner.client.node_id(&address).await?;
        if self.inner.registry.find(&body.node).is_some() {
            return Err(ApiError::Conflict(format!(
                "node {} at {address} is already in the network",
                body.node
            )));
        }
        let slot = self.inner.next_slot.fetch_add(1, Ordering::SeqCst);
        let mut entry = NodeEntry::new(slot, address.clone(), None);
        let follower = CancellationToken::new();
        entry.summary.id = body.node.clone();
        entry.summary.state = NodeState::Running;
        entry.generation = 1;
        entry.follower = Some(follower.clone());
        self.inner.registry.insert(entry);
        tokio::spawn(events::follow_node(
            self.clone(),
            slot,
            1,
            address.clone(),
            follower,
        ));
        tracing::info!(node = %body.node, %address, "node attached");
        self.emit(
            Some(body.node),
            EventKind::NodeStarted { address, pid: None },
        );
        self.register_all().await;
        self.refresh(slot).await;
        self.summary(slot)
    }

    /// Send every running node the list of all running nodes.
    pub async fn register_all(&self) {
        let nodes: Vec<(String, String)> = self.inner.registry.collect(|entry| {
            let id = entry.id()?.to_owned();
            (entry.state() == NodeState::Running).then(|| (id, entry.address().to_owned()))
        });
        let request = RegisterRequest {
            nodes: nodes.iter().map(|(id, _)| id.clone()).collect(),
            addresses: nodes.iter().map(|(_, address)| address.clone()).collect(),
        };
        let client = &self.inner.client;
        let answers = join_all(
            nodes
                .iter()
                .map(|(_, address)| client.register(address, &request)),
        )
        .await;
        for ((id, address), answer) in nodes.iter().zip(answers) {
            match answer {
                Ok(answer) => {
                    tracing::debug!(node = %id, %address, total = answer.total_nodes, "registered peers")
                }
                Err(err) => {
                    tracing::warn!(node = %id, %address, error = %err, "could not register peers")
                }
            }
        }
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

    /// Ask the node to shut down, wait for its process to exit, kill it
    /// if it does not within [`EXIT_GRACE`].
    pub async fn stop_node(&self, slot: usize) -> Result<Stopped, ApiError> {
        let _claim = self.claim(slot)?;
        self.stop_claimed(slot).await
    }

    async fn stop_claimed(&self, slot: usize) -> Result<Stopped, ApiError> {
        let (address, state, process, generation) = self
            .inner
            .registry
            .with(slot, |entry| {
                (
                    entry.address().to_owned(),
                    entry.state(),
                    entry.process().cloned(),
                    entry.generation,
                )
            })
            .ok_or_else(|| ApiError::UnknownNode(slot.to_string()))?;
        if state == NodeState::Stopped {
            return Err(ApiError::Conflict(format!(
                "node {} is already stopped",
                self.label(slot)
            )));
        }
        let asked = self.inner.client.command(&address, "/shutdown").await;
        let Some(process) = process else {
            // An attached node: its process is not ours to wait for or kill.
            asked?;
            let outcome = "shut down on request".to_owned();
            self.mark_stopped(slot, generation, &outcome);
            return Ok(Stopped {
                address,
                outcome,
                killed: false,
            });
        };
        if let Err(err) = &asked {
            tracing::warn!(%address, error = %err, "node did not take /shutdown; killing it");
        }
        let exited = match asked {
            Ok(_) => process.exited_within(EXIT_GRACE).await,
            Err(_) => None,
        };
        let (outcome, killed) = match exited {
            Some(outcome) => (outcome, false),
            None => {
                process.kill();
                let outcome = process
                    .exited_within(EXIT_GRACE)
                    .await
                    .unwrap_or_else(|| "did not die even when killed".to_owned());
                (format!("killed ({outcome})"), true)
            }
        };
        self.mark_stopped(slot, generation, &outcome);
        Ok(Stopped {
            address,
            outcome,
            killed,
        })
    }

    /// `POST /nodes/{id}/restart`: stop it if it runs, start it again on
    /// the same port and data directory, so it comes back with its chain.
    pub async fn restart(&self, slot: usize) -> Result<NodeSummary, ApiError> {
        self.check_open()?;
        let spawned = self
            .inner
            .registry
            .with(slot, |entry| entry.placement.is_some())
            .unwrap_or(false);
        if !spawned {
            return Err(ApiError::Conflict(format!(
                "node {} was attached, not started by this manager: restart it where it runs",
                self.label(slot)
            )));
        }
        {
            let _claim = self.claim(slot)?;
            let state = self.inner.registry.with(slot, |entry| entry.state());
            if state != Some(NodeState::Stopped) {
                self.stop_claimed(slot).await?;
            }
        }
        self.start_node(slot).await?;
        self.register_all().await;
        self.refresh(slot).await;
        self.summary(slot)
    }

    /// `GET /shutdown/all`: stop every node, wait for each process, then
    /// have the manager stop.
    pub async fn shutdown_all(&self) -> ShutdownReport {
        self.inner.closing.store(true, Ordering::SeqCst);
        self.cancel_mining_job();
        let slots = self.inner.registry.collect(|entry| {
            (entry.state() != NodeState::Stopped || entry.process().is_some()).then_some(entry.slot)
        });
        let results = join_all(slots.iter().map(|&slot| self.stop_claimed(slot))).await;
        let mut stopped = Vec::new();
        let mut killed = Vec::new();
        let mut failed = Vec::new();
        for result in results {
            match result {
                Ok(result) if result.killed => killed.push(result.address),
                Ok(result) => stopped.push(result.address),
                Err(err) => failed.push(err.to_string()),
            }
        }
        let mut message = format!(
            "{} nodes shut down, {} had to be killed",
            stopped.len() + killed.len(),
            killed.len()
        );
        if !failed.is_empty() {
            message.push_str(&format!("; not stopped: {}", failed.join("; ")));
        }
        message.push_str("; the manager stops now");
        tracing::info!("{message}");
        ShutdownReport {
            message,
            stopped,
            killed,
        }
    }

    /// Ctrl-C or SIGTERM: stop the nodes this manager started (attached
    /// ones belong to someone else).
    pub async fn stop_spawned(&self) {
        self.inner.closing.store(true, Ordering::SeqCst);
        self.cancel_mining_job();
        let slots = self
            .inner
            .registry
            .collect(|entry| entry.process().is_some().then_some(entry.slot));
        let results = join_all(slots.iter().map(|&slot| self.stop_claimed(slot))).await;
        let killed = results
            .iter()
            .filter(|result| matches!(result, Ok(Stopped { killed: true, .. })))
            .count();
        tracing::info!(
            nodes = slots.len(),
            killed,
            "stopped every node this manager started"
        );
    }

    /// Read the node's `/status` now and store it.
    pub async fn refresh(&self, slot: usize) {
        let Some((address, generation)) = self
            .inner
            .registry
            .with(slot, |entry| (entry.address().to_owned(), entry.generation))
        else {
            return;
        };
        self.poll_one(slot, generation, &address).await;
    }

    async fn poll_one(&self, slot: usize, generation: u64, address: &str) {
        let transition = match self.inner.client.status(address).await {
            Ok(status) => self.inner.registry.apply_status(slot, generation, &status),
            Err(err) => {
                let transition = self.inner.registry.apply_unreachable(slot, generation);
                if transition == Transition::Lost {
                    tracing::warn!(%address, error = %err, "node does not answer");
                }
                transition
            }
        };
        let id = self
            .inner
            .registry
            .with(slot, |entry| entry.id().map(str::to_owned))
            .flatten();
        match transition {
            Transition::Lost => self.emit(
                id,
                EventKind::NodeUnreachable {
                    address: address.to_owned(),
                },
            ),
            Transition::Recovered => tracing::info!(%address, "node answers again"),
            Transition::None => {}
        }
    }

    /// Read every node's `/status` about once a second until shutdown.
    pub async fn poll_forever(&self) {
        let mut ticks = tokio::time::interval(POLL_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = self.inner.shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let live = self.inner.registry.collect(|entry| {
                (entry.is_live() && !entry.busy)
                    .then(|| (entry.slot, entry.generation, entry.address().to_owned()))
            });
            join_all(
                live.iter()
                    .map(|(slot, generation, address)| self.poll_one(*slot, *generation, address)),
            )
            .await;
        }
    }

    /// What a late subscriber needs to draw the present: every node, and
    /// each live node's chain tips.
    pub async fn snapshot(&self) -> Event {
        let live = self.inner.registry.collect(|entry| {
            let id = entry.id()?.to_owned();
            entry.is_live().then(|| (id, entry.address().to_owned()))
        });
        let client = &self.inner.client;
        let answers = join_all(live.iter().map(|(_, address)| client.tips(address))).await;
        let tips: BTreeMap<_, _> = live
            .into_iter()
            .zip(answers)
            .filter_map(|((id, _), answer)| Some((id, answer.ok()?.tips)))
            .collect();
        events::stamp(
            None,
            EventKind::Snapshot {
                nodes: self.inner.registry.summaries(),
                tips,
            },
        )
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

/// `host:port` with a real port, or a 400 that says what is expected.
fn attach_address(address: &str) -> Result<String, ApiError> {
    shared::address::normalize_address(address).map_err(|reason| {
        ApiError::bad_request(format!(
            "address {:?} is not host:port ({reason}); e.g. 127.0.0.1:5000",
            address.trim()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_need_a_host_and_a_real_port() {
        assert_eq!(
            attach_address(" http://127.0.0.1:5000/ ").unwrap(),
            "127.0.0.1:5000"
        );
        for bad in [
            "",
            "127.0.0.1",
            "127.0.0.1:0",
            ":5000",
            "host:99999",
            "a b:1",
            "x/y:1",
        ] {
            let err = attach_address(bad).expect_err(bad);
            assert_eq!(err.status(), axum::http::StatusCode::BAD_REQUEST, "{bad:?}");
        }
    }
}
