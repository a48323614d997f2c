//! Mining on a dedicated thread (a blocking job the node tracks, never an
//! async worker that serves HTTP). The thread sleeps until continuous mining is on or a `/mine`
//! request waits, builds a template on the best tip, and searches nonces in
//! short rounds; between rounds it refreshes the template (time, pending
//! entries) and it drops the work at once when the best tip changes.
//!
//! A hash power cap (`--hashrate`, `POST /mining/hashrate`) turns the
//! rounds into slices of [`SLICE`]'s worth of attempts at the cap, each
//! followed by a sleep until the slice is paid for. Slices are short next
//! to any block interval, so a block can still be found at any moment
//! (mining stays memoryless), and the sleep wakes at once on a tip change,
//! a cap change or shutdown.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use shared::pow::search_parallel;
use shared::{Block, PowSearch, SearchOutcome};
use tokio::sync::oneshot;

use crate::node::Node;

/// Attempts per thread between two template refreshes, uncapped.
const ROUND_ATTEMPTS: u64 = 1 << 20;
/// How long a capped slice lasts at the cap.
const SLICE: Duration = Duration::from_millis(25);
/// How far back the measured hash rate looks.
const RATE_WINDOW: Duration = Duration::from_secs(2);

#[derive(Default)]
struct Wanted {
    continuous: bool,
    waiters: Vec<oneshot::Sender<Block>>,
}

impl Wanted {
    fn any(&mut self) -> bool {
        self.waiters.retain(|w| !w.is_closed());
        self.continuous || !self.waiters.is_empty()
    }
}

/// Attempts made over stretches of time, for a hash rate that counts the
/// time the cap makes the miner sleep.
#[derive(Default)]
struct RateWindow {
    /// (begin, end, attempts), oldest first; the stretches never overlap.
    stretches: VecDeque<(Instant, Instant, u64)>,
}

impl RateWindow {
    fn record(&mut self, begin: Instant, end: Instant, attempts: u64) {
        self.stretches.push_back((begin, end, attempts));
        while self
            .stretches
            .front()
            .is_some_and(|&(_, old_end, _)| old_end + RATE_WINDOW < end)
        {
            self.stretches.pop_front();
        }
    }

    /// Attempts over the time from the first stretch's begin to the last
    /// one's end. Under a cap each stretch is at least its attempts' worth
    /// at the cap, so this never exceeds the cap.
    fn rate(&self) -> f64 {
        let (Some(first), Some(last)) = (self.stretches.front(), self.stretches.back()) else {
            return 0.0;
        };
        let seconds = last.1.saturating_duration_since(first.0).as_secs_f64();
        if seconds <= 0.0 {
            return 0.0;
        }
        let attempts: u64 = self.stretches.iter().map(|s| s.2).sum();
        attempts as f64 / seconds
    }
}

/// The handle the node keeps; the thread shares it.
#[derive(Default)]
pub struct Miner {
    wanted: Mutex<Wanted>,
    wake: Condvar,
    /// Bumped whenever the best tip changes, so work on a stale tip stops.
    tip_generation: AtomicU64,
    shutdown: AtomicBool,
    /// The cap in attempts per second over all threads; 0 is none.
    limit: AtomicU64,
    /// Bumped on every cap change, so a slice or a sleep at the old cap ends.
    limit_generation: AtomicU64,
    rate: Mutex<RateWindow>,
    busy: AtomicBool,
}

impl Miner {
    fn wanted(&self) -> std::sync::MutexGuard<'_, Wanted> {
        self.wanted.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn rate_window(&self) -> std::sync::MutexGuard<'_, RateWindow> {
        self.rate.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Wakes the thread wherever it waits. Taking the lock first means a
    /// thread that just checked its conditions is already waiting, so the
    /// wake-up is not lost.
    fn wake_thread(&self) {
        drop(self.wanted());
        self.wake.notify_all();
    }

    /// Starts the mining thread for `node`: a tracked blocking job, so
    /// shutdown waits for a block it is storing.
    pub fn spawn(node: &Arc<Node>, threads: usize, pace: Duration) {
        let weak = Arc::downgrade(node);
        drop(
            node.tasks
                .spawn_blocking(move || run(weak, threads.max(1), pace)),
        );
    }

    /// A receiver that gets the next block this node mines.
    pub fn mine_one(&self) -> oneshot::Receiver<Block> {
        let (sender, receiver) = oneshot::channel();
        self.wanted().waiters.push(sender);
        self.wake.notify_all();
        receiver
    }

    /// Turns continuous mining on or off; true if that changed anything.
    pub fn set_continuous(&self, on: bool) -> bool {
        let mut wanted = self.wanted();
        let changed = wanted.continuous != on;
        wanted.continuous = on;
        drop(wanted);
        self.wake.notify_all();
        changed
    }

    pub fn is_continuous(&self) -> bool {
        self.wanted().continuous
    }

    /// Whether the thread is working on a template right now.
    pub fn is_busy(&self) -> bool {
        self.busy.load(Ordering::Relaxed)
    }

    /// Attempts per second over the last [`RATE_WINDOW`], sleeps included;
    /// 0 while idle.
    pub fn hash_rate(&self) -> f64 {
        self.rate_window().rate()
    }

    /// The cap in attempts per second; 0 is none.
    pub fn hashrate_limit(&self) -> u64 {
        self.limit.load(Ordering::Relaxed)
    }

    /// Changes the cap; the thread takes it up within one slice.
    pub fn set_hashrate_limit(&self, attempts_per_sec: u64) {
        self.limit.store(attempts_per_sec, Ordering::Relaxed);
        self.limit_generation.fetch_add(1, Ordering::Relaxed);
        self.wake_thread();
    }

    pub fn tip_changed(&self) {
        self.tip_generation.fetch_add(1, Ordering::Relaxed);
        self.wake_thread();
    }

    pub fn shut_down(&self) {
        self.shutdown.store(true, Ordering::Relaxed);
        self.wanted().continuous = false;
        self.wake.notify_all();
    }
}

/// When the attempts made so far under the cap are paid for: the miner
/// sleeps until then before its next slice.
struct Pacer {
    paid_until: Instant,
    limit_generation: u64,
}

impl Pacer {
    /// Pays for `attempts` made in a slice that began at `started` under
    /// `limit`: their worth of time at the cap, from when the last slice
    /// was paid, or (after a pause) from one [`SLICE`] before this one
    /// began. That one slice of credit is a token bucket's depth: time the
    /// miner spent storing a block is not lost, and a burst is never more
    /// than a slice. Returns the stretch paid for; stretches never overlap
    /// and each lasts at least `attempts / limit` seconds.
    fn pay(&mut self, started: Instant, attempts: u64, limit: u64) -> (Instant, Instant) {
        let credit_from = started.checked_sub(SLICE).unwrap_or(started);
        let begin = self.paid_until.max(credit_from);
        // Rounded up to the nanosecond, so no stretch is paid short.
        let nanos = (u128::from(attempts) * 1_000_000_000).div_ceil(u128::from(limit.max(1)));
        let cost = Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX));
        self.paid_until = begin + cost;
        (begin, self.paid_until)
    }
}

fn run(weak: Weak<Node>, threads: usize, pace: Duration) {
    let mut last_block = Instant::now() - pace;
    let mut pacer = Pacer {
        paid_until: Instant::now(),
        limit_generation: 0,
    };
    loop {
        let Some(node) = weak.upgrade() else { return };
        let miner = &node.miner;
        {
            let mut wanted = miner.wanted();
            while !miner.shutdown.load(Ordering::Relaxed) && !wanted.any() {
                *miner.rate_window() = RateWindow::default();
                // `shut_down` and every request wake it; the timeout is
                // only a backstop, long, since an idle miner that woke twice
                // a second was a third of what an idle node did.
                wanted = miner
                    .wake
                    .wait_timeout(wanted, Duration::from_secs(10))
                    .map(|(guard, _)| guard)
                    .unwrap_or_else(|p| p.into_inner().0);
            }
            // Continuous mining on an easy chain paces itself; a `/mine`
            // request never waits.
            if wanted.waiters.is_empty()
                && last_block.elapsed() < pace
                && !miner.shutdown.load(Ordering::Relaxed)
            {
                let rest = pace - last_block.elapsed();
                drop(miner.wake.wait_timeout(wanted, rest));
                continue;
            }
        }
        if miner.shutdown.load(Ordering::Relaxed) {
            return;
        }
        miner.busy.store(true, Ordering::Relaxed);
        if let Some(block) = mine_on_tip(&node, threads, &mut pacer) {
            last_block = Instant::now();
            let waiters = std::mem::take(&mut miner.wanted().waiters);
            for waiter in waiters {
                let _ = waiter.send(block.clone());
            }
        }
        miner.busy.store(false, Ordering::Relaxed);
    }
}

/// Attempts in one capped slice: [`SLICE`]'s worth at `limit`, at least
/// one, and never more than an uncapped round (a cap above the machine's
/// speed then mines like no cap).
fn slice_attempts(limit: u64, threads: usize) -> u64 {
    let per_slice = u128::from(limit) * SLICE.as_millis() / 1000;
    u64::try_from(per_slice)
        .unwrap_or(u64::MAX)
        .clamp(1, ROUND_ATTEMPTS * threads as u64)
}

/// Works on the current best tip until a block is found (and handed to the
/// node), the tip changes, or nobody wants a block any more.
fn mine_on_tip(node: &Arc<Node>, threads: usize, pacer: &mut Pacer) -> Option<Block> {
    let miner = &node.miner;
    let generation = miner.tip_generation.load(Ordering::Relaxed);
    let tip_stale = || {
        miner.shutdown.load(Ordering::Relaxed)
            || miner.tip_generation.load(Ordering::Relaxed) != generation
            || !miner.wanted().any()
    };
    let started = Instant::now();
    let mut attempts = 0u64;
    let mut next_nonce = 0u64;
    loop {
        let limit_generation = miner.limit_generation.load(Ordering::Relaxed);
        if limit_generation != pacer.limit_generation {
            // Attempts at the old cap say nothing about the new one.
            pacer.limit_generation = limit_generation;
            pacer.paid_until = Instant::now();
            *miner.rate_window() = RateWindow::default();
        }
        let limit = miner.hashrate_limit();
        let stop =
            || tip_stale() || miner.limit_generation.load(Ordering::Relaxed) != limit_generation;
        // Built before the sleep, so the slice starts as soon as it is due.
        let template = node.mining_template();
        let target = template.header.bits.to_target().ok()?;
        if limit > 0 && !sleep_until_paid(miner, pacer.paid_until, generation, limit_generation) {
            if tip_stale() {
                return None;
            }
            continue;
        }
        let search = PowSearch::new(&template.header, target);
        let round = if limit == 0 {
            ROUND_ATTEMPTS * threads as u64
        } else {
            slice_attempts(limit, threads)
        };
        let workers = usize::try_from(round).map_or(threads, |r| threads.min(r));
        let round_started = Instant::now();
        let outcome = search_parallel(&search, next_nonce..next_nonce + round, workers, &stop);
        next_nonce += round;
        attempts += outcome.attempts();
        if limit == 0 {
            miner
                .rate_window()
                .record(round_started, Instant::now(), outcome.attempts());
        } else {
            let (begin, end) = pacer.pay(round_started, outcome.attempts(), limit);
            miner.rate_window().record(begin, end, outcome.attempts());
        }
        match outcome {
            SearchOutcome::Found { header, .. } => {
                let block = template.with_header(header);
                let elapsed_ms = started.elapsed().as_millis() as u64;
                node.accept_mined(block.clone(), attempts, elapsed_ms);
                return Some(block);
            }
            SearchOutcome::Stopped { .. } if tip_stale() => return None,
            SearchOutcome::Stopped { .. } | SearchOutcome::Exhausted { .. } => continue,
        }
    }
}

/// Sleeps until `until` on the miner's condvar; false if the tip or the
/// cap changed first, the node is shutting down, or nobody wants a block.
fn sleep_until_paid(miner: &Miner, until: Instant, tip: u64, limit: u64) -> bool {
    let mut wanted = miner.wanted();
    loop {
        // Checked under the lock: whoever changes a condition takes it
        // before notifying, so the wait below cannot miss that wake-up.
        if miner.shutdown.load(Ordering::Relaxed)
            || miner.tip_generation.load(Ordering::Relaxed) != tip
            || miner.limit_generation.load(Ordering::Relaxed) != limit
            || !wanted.any()
        {
            return false;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return true;
        }
        wanted = miner
            .wake
            .wait_timeout(wanted, left)
            .map(|(guard, _)| guard)
            .unwrap_or_else(|p| p.into_inner().0);
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        /// Whatever the slices' sizes and the gaps between them, the rate
        /// over the paid stretches never exceeds the cap.
        #[test]
        fn the_measured_rate_never_exceeds_the_cap(
            limit in 1u64..10_000_000,
            slices in prop::collection::vec((0u64..5_000_000, 0u64..50_000_000), 1..200),
        ) {
            let origin = Instant::now();
            let mut pacer = Pacer { paid_until: origin, limit_generation: 0 };
            let mut window = RateWindow::default();
            let mut clock = origin;
            for (attempts, gap_ns) in slices {
                let attempts = attempts.min(slice_attempts(limit, 4));
                // A slice starts after the pacer's sleep, or later.
                clock = clock.max(pacer.paid_until) + Duration::from_nanos(gap_ns);
                let (begin, end) = pacer.pay(clock, attempts, limit);
                window.record(begin, end, attempts);
                prop_assert!(window.rate() <= limit as f64 * (1.0 + 1e-9), "{}", window.rate());
            }
        }
    }

    #[test]
    fn a_slice_is_the_caps_worth_of_25_ms_within_bounds() {
        assert_eq!(slice_attempts(40_000, 1), 1_000);
        assert_eq!(slice_attempts(1, 1), 1);
        assert_eq!(slice_attempts(u64::MAX, 2), 2 * ROUND_ATTEMPTS);
    }

    #[test]
    fn an_empty_window_measures_nothing() {
        assert_eq!(RateWindow::default().rate(), 0.0);
    }
}
