//! Link conditions: when (and whether) a message sent over a peer link is
//! released to the wire. This machine's kernel has no netem, so the node
//! shapes what it sends itself, the same on any host.
//!
//! The model is a queue per link: a message first waits for the link to be
//! free (serialisation at `bandwidth_kbps`), then travels `latency_ms` plus
//! a uniform draw from `jitter_ms`. Releases never overtake each other, so a
//! link keeps its order the way TCP does; jitter only stretches the gaps.
//! Loss drops whole messages; recovering from it is sync's job.
//!
//! Times are microseconds on any monotonic origin the caller picks; the
//! randomness comes in as an argument, so the rules are tested exactly.

use shared::api::LinkConditions;

/// What to do with one outgoing message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// Put it on the wire at this time (µs).
    ReleaseAt(u64),
    /// Lost, or the link is down.
    Drop,
}

/// One link's outgoing queue state.
#[derive(Debug, Clone)]
pub struct Shaper {
    conditions: LinkConditions,
    /// When the link finishes serialising what it already took (µs).
    free_at: u64,
    /// When the last message is released: no later message goes earlier.
    last_release: u64,
}

impl Shaper {
    pub fn new(conditions: LinkConditions) -> Self {
        Self {
            conditions,
            free_at: 0,
            last_release: 0,
        }
    }

    pub fn conditions(&self) -> LinkConditions {
        self.conditions
    }

    /// New conditions apply to messages sent from now on; what is queued
    /// keeps the time it was given.
    pub fn set_conditions(&mut self, conditions: LinkConditions) {
        self.conditions = conditions;
    }

    /// The fate of a `bytes`-long message sent at `now`. `loss_draw` and
    /// `jitter_draw` are uniform in [0, 1).
    pub fn schedule(&mut self, now: u64, bytes: usize, loss_draw: f64, jitter_draw: f64) -> Fate {
        let c = self.conditions;
        if c.down || loss_draw < c.loss {
            return Fate::Drop;
        }
        let start = self.free_at.max(now);
        let serialising = match c.bandwidth_kbps {
            0 => 0,
            // bits / (kbit/s) = ms; in µs: bits * 1000 / kbps
            kbps => (bytes as u64).saturating_mul(8_000) / kbps,
        };
        self.free_at = start.saturating_add(serialising);
        let jitter = (c.jitter_ms as f64 * 1000.0 * jitter_draw.clamp(0.0, 1.0)) as u64;
        let travel = c.latency_ms.saturating_mul(1000).saturating_add(jitter);
        let release = self.free_at.saturating_add(travel).max(self.last_release);
        self.last_release = release;
        Fate::ReleaseAt(release)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shaper(change: impl FnOnce(&mut LinkConditions)) -> Shaper {
        let mut conditions = LinkConditions::CLEAR;
        change(&mut conditions);
        Shaper::new(conditions)
    }

    #[test]
    fn a_clear_link_releases_at_once() {
        let mut link = shaper(|_| {});
        assert_eq!(link.schedule(5, 1_000, 0.0, 0.9), Fate::ReleaseAt(5));
    }

    #[test]
    fn latency_delays_every_message_by_the_same_amount() {
        let mut link = shaper(|c| c.latency_ms = 300);
        assert_eq!(link.schedule(0, 10, 0.5, 0.5), Fate::ReleaseAt(300_000));
        assert_eq!(link.schedule(1_000, 10, 0.5, 0.5), Fate::ReleaseAt(301_000));
    }

    #[test]
    fn jitter_never_reorders() {
        let mut link = shaper(|c| {
            c.latency_ms = 10;
            c.jitter_ms = 100;
        });
        // The first draws the most jitter, the second none: it still waits.
        let Fate::ReleaseAt(first) = link.schedule(0, 10, 0.5, 0.99) else {
            panic!("dropped")
        };
        let Fate::ReleaseAt(second) = link.schedule(1, 10, 0.5, 0.0) else {
            panic!("dropped")
        };
        assert!(first > 100_000 && second >= first, "{first} {second}");
    }

    #[test]
    fn bandwidth_queues_messages_behind_each_other() {
        // 8 kbit/s: 1 000 bytes take one second.
        let mut link = shaper(|c| c.bandwidth_kbps = 8);
        assert_eq!(
            link.schedule(0, 1_000, 0.5, 0.0),
            Fate::ReleaseAt(1_000_000)
        );
        assert_eq!(
            link.schedule(0, 1_000, 0.5, 0.0),
            Fate::ReleaseAt(2_000_000)
        );
        // An idle link starts afresh.
        assert_eq!(
            link.schedule(10_000_000, 500, 0.5, 0.0),
            Fate::ReleaseAt(10_500_000)
        );
    }

    #[test]
    fn loss_drops_by_the_draw_and_down_drops_everything() {
        let mut lossy = shaper(|c| c.loss = 0.5);
        assert_eq!(lossy.schedule(0, 1, 0.49, 0.0), Fate::Drop);
        assert_eq!(lossy.schedule(0, 1, 0.5, 0.0), Fate::ReleaseAt(0));
        let mut down = shaper(|c| c.down = true);
        assert_eq!(down.schedule(0, 1, 0.99, 0.0), Fate::Drop);
        down.set_conditions(LinkConditions::CLEAR);
        assert_eq!(down.schedule(7, 1, 0.99, 0.0), Fate::ReleaseAt(7));
    }

    #[test]
    fn a_lowered_latency_does_not_let_messages_overtake() {
        let mut link = shaper(|c| c.latency_ms = 1_000);
        assert_eq!(link.schedule(0, 1, 0.5, 0.0), Fate::ReleaseAt(1_000_000));
        link.set_conditions(LinkConditions::CLEAR);
        assert_eq!(link.schedule(10, 1, 0.5, 0.0), Fate::ReleaseAt(1_000_000));
    }
}
