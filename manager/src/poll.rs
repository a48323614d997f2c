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

/// How often the poll runs.
const POLL_EVERY: Duration = Duration::from_secs(1);
/// Most `/status` reads in one run. A larger network is read in turns, so
/// each of 500 nodes is read every 5 s instead of 500 reads every second
/// (the nodes' events keep the table current in between).
const POLLS_PER_RUN: usize = 100;

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

    /// Read every node's `/status` about once a second until shutdown, or
    /// every `live / POLLS_PER_RUN` seconds on a larger network.
    pub async fn poll_forever(&self) {
        let mut ticks = tokio::time::interval(POLL_EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut turn = 0;
        loop {
            tokio::select! {
                _ = self.inner.shutdown.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let live = self.inner.registry.collect(|entry| {
                (entry.is_live() && !entry.busy)
                    .then(|| (entry.slot, entry.generation, entry.address().to_owned()))
            });
            let (now, next) = polled_in_turn(live.len(), turn);
            turn = next;
            join_all(
                live[now]
                    .iter()
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

/// Which of `live` nodes this run reads, by position, and the turn after it:
/// all of them while there are at most [`POLLS_PER_RUN`], else the next
/// slice of that many, wrapping.
fn polled_in_turn(live: usize, turn: usize) -> (std::ops::Range<usize>, usize) {
    if live <= POLLS_PER_RUN {
        return (0..live, 0);
    }
    let start = (turn * POLLS_PER_RUN) % live;
    let end = (start + POLLS_PER_RUN).min(live);
    let next = if end == live { 0 } else { turn + 1 };
    (start..end, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_network_is_read_whole_every_run() {
        assert_eq!(polled_in_turn(6, 0), (0..6, 0));
        assert_eq!(polled_in_turn(POLLS_PER_RUN, 3), (0..POLLS_PER_RUN, 0));
    }

    #[test]
    fn a_large_network_is_read_in_turns_that_cover_every_node() {
        let live = 2 * POLLS_PER_RUN + 50;
        let mut turn = 0;
        let mut read = vec![0; live];
        for _ in 0..3 {
            let (range, next) = polled_in_turn(live, turn);
            assert!(range.len() <= POLLS_PER_RUN);
            for at in range {
                read[at] += 1;
            }
            turn = next;
        }
        assert!(read.iter().all(|&times| times == 1), "{read:?}");
        assert_eq!(turn, 0, "and it starts over");
    }
}
