//! The life of a node: spawning one and waiting until it answers,
//! attaching one that runs elsewhere, stopping (and killing one that will
//! not stop), restarting on the same port and data directory, and shutting
//! the whole network down. One start, stop or restart per node at a time
//! (a `Claim`); news from an earlier life is told apart by `generation`.

use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::future::join_all;
use shared::api::{NodeState, NodeSummary, ShutdownReport};
use shared::events::EventKind;
use tokio_util::sync::CancellationToken;

use crate::error::ApiError;
use crate::network::Manager;
use crate::process::Placement;
use crate::registry::NodeEntry;

/// How long a node gets to exit after `/shutdown` before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(5);

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

    /// `POST /nodes`: one more node, registered with all and all with it.
    pub async fn add_node(&self) -> Result<NodeSummary, ApiError> {
        self.check_open()?;
        let slot = self.new_spawned_entry();
        self.start_node(slot).await?;
        self.register_all().await;
        self.refresh(slot).await;
        self.summary(slot)
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
        self.inner
            .hub
            .follow(slot, generation, address.clone(), follower);
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
        tracing::info!(node = %body.node, %address, "node attached");
        self.follow_attached(slot, 1, body.node, address, follower)
            .await;
        self.summary(slot)
    }

    /// An attached node just marked running in `slot`: follow its events,
    /// say it started, wire it into the topology and read its status.
    async fn follow_attached(
        &self,
        slot: usize,
        generation: u64,
        id: String,
        address: String,
        follower: CancellationToken,
    ) {
        self.inner
            .hub
            .follow(slot, generation, address.clone(), follower);
        self.emit(Some(id), EventKind::NodeStarted { address, pid: None });
        self.register_all().await;
        self.refresh(slot).await;
    }

    /// A node `--discover` found at `address`: attached when it is new,
    /// followed again when it is a stopped node come back, at its old
    /// address or (same id, a pod rescheduled) at a new one.
    pub async fn discovered(&self, address: &str) -> Result<(), ApiError> {
        self.check_open()?;
        let address = attach_address(address)?;
        let body = self.inner.client.node_id(&address).await?;
        let registry = &self.inner.registry;
        let Some(slot) = registry
            .find(&address)
            .or_else(|| registry.find(&body.node))
        else {
            return self.attach(&address).await.map(|_| ());
        };
        let follower = CancellationToken::new();
        let generation = registry
            .with(slot, |entry| {
                if entry.state() != NodeState::Stopped || entry.process().is_some() {
                    return None;
                }
                entry.summary.address = address.clone();
                entry.summary.id = body.node.clone();
                entry.summary.state = NodeState::Running;
                entry.generation += 1;
                entry.follower = Some(follower.clone());
                Some(entry.generation)
            })
            .flatten();
        let Some(generation) = generation else {
            // Live already, or a node this manager runs itself.
            return Ok(());
        };
        tracing::info!(node = %body.node, %address, "discovered node is back");
        self.follow_attached(slot, generation, body.node, address, follower)
            .await;
        Ok(())
    }

    /// A node `--discover` found is no longer behind the name: stopped,
    /// until it is found again.
    pub fn vanished(&self, address: &str) {
        let Some(slot) = self.inner.registry.find(address) else {
            return;
        };
        let attached = self
            .inner
            .registry
            .with(slot, |entry| {
                (entry.process().is_none() && entry.state() != NodeState::Stopped)
                    .then_some(entry.generation)
            })
            .flatten();
        if let Some(generation) = attached {
            self.mark_stopped(slot, generation, "no longer behind the --discover name");
        }
    }

    /// Ask the node to shut down, wait for its process to exit, kill it
    /// if it does not within `EXIT_GRACE` (5 s).
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
