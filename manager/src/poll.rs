//! Keeping the node table fresh: every live node's `/status` about once a
//! second (events keep it current in between, see [`crate::hub`]), and the
//! snapshot of the present a new `/events` subscriber gets first.

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::future::join_all;
use shared::events::{Event, EventKind};

use crate::hub::stamp;
use crate::network::Manager;
use crate::registry::Transition;

/// How often every node's `/status` is read.
const POLL_EVERY: Duration = Duration::from_secs(1);

impl Manager {
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

    /// Starts what every running manager needs in the background: the
    /// `/status` poll and the metrics folding. Both `run` and the headless
    /// scenario runner call it, so they cannot drift apart.
    pub fn spawn_background(&self) {
        tokio::spawn({
            let manager = self.clone();
            async move { manager.poll_forever().await }
        });
        tokio::spawn({
            let manager = self.clone();
            async move { manager.keep_stats().await }
        });
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
        stamp(
            None,
            EventKind::Snapshot {
                nodes: self.inner.registry.summaries(),
                tips,
            },
        )
    }
}
