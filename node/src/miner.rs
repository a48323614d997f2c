//! Mining on a dedicated thread (a blocking job the node tracks, never an
//! async worker that serves HTTP). The thread sleeps until continuous mining is on or a `/mine`
//! request waits, builds a template on the best tip, and searches nonces in
//! short rounds; between rounds it refreshes the template (time, pending
//! entries) and it drops the work at once when the best tip changes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

use shared::pow::search_parallel;
use shared::{Block, PowSearch, SearchOutcome};
use tokio::sync::oneshot;

use crate::node::Node;

/// Attempts per thread between two template refreshes.
const ROUND_ATTEMPTS: u64 = 1 << 20;

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

/// The handle the node keeps; the thread shares it.
#[derive(Default)]
pub struct Miner {
    wanted: Mutex<Wanted>,
    wake: Condvar,
    /// Bumped whenever the best tip changes, so work on a stale tip stops.
    tip_generation: AtomicU64,
    shutdown: AtomicBool,
    /// Attempts per second over the last round, as f64 bits.
    hash_rate: AtomicU64,
    busy: AtomicBool,
}

impl Miner {
    fn wanted(&self) -> std::sync::MutexGuard<'_, Wanted> {
        self.wanted.lock().unwrap_or_else(|p| p.into_inner())
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

    pub fn hash_rate(&self) -> f64 {
        f64::from_bits(self.hash_rate.load(Ordering::Relaxed))
    }

    pub fn tip_changed(&self) {
        self.tip_generation.fetch_add(1, Ordering::Relaxed);
    }

    pub fn shut_down(&self) {
        self.shutdown.store(true, Ordering::Relaxed);
        self.wanted().continuous = false;
        self.wake.notify_all();
    }
}

fn run(weak: Weak<Node>, threads: usize, pace: Duration) {
    let mut last_block = Instant::now() - pace;
    loop {
        let Some(node) = weak.upgrade() else { return };
        let miner = &node.miner;
        {
            let mut wanted = miner.wanted();
            while !miner.shutdown.load(Ordering::Relaxed) && !wanted.any() {
                miner.hash_rate.store(0f64.to_bits(), Ordering::Relaxed);
                // Wake now and then to notice a dropped node.
                wanted = miner
                    .wake
                    .wait_timeout(wanted, Duration::from_millis(500))
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
        if let Some(block) = mine_on_tip(&node, threads) {
            last_block = Instant::now();
            let waiters = std::mem::take(&mut miner.wanted().waiters);
            for waiter in waiters {
                let _ = waiter.send(block.clone());
            }
        }
        miner.busy.store(false, Ordering::Relaxed);
    }
}

/// Works on the current best tip until a block is found (and handed to the
/// node), the tip changes, or nobody wants a block any more.
fn mine_on_tip(node: &Arc<Node>, threads: usize) -> Option<Block> {
    let miner = &node.miner;
    let generation = miner.tip_generation.load(Ordering::Relaxed);
    let stop = || {
        miner.shutdown.load(Ordering::Relaxed)
            || miner.tip_generation.load(Ordering::Relaxed) != generation
            || !miner.wanted().any()
    };
    let started = Instant::now();
    let mut attempts = 0u64;
    let mut next_nonce = 0u64;
    loop {
        let template = node.block_template();
        let target = template.header.bits.to_target().ok()?;
        let search = PowSearch::new(&template.header, target);
        let round = ROUND_ATTEMPTS * threads as u64;
        let round_started = Instant::now();
        let outcome = search_parallel(&search, next_nonce..next_nonce + round, threads, &stop);
        next_nonce += round;
        attempts += outcome.attempts();
        let seconds = round_started.elapsed().as_secs_f64();
        if seconds > 0.0 {
            let rate = outcome.attempts() as f64 / seconds;
            miner.hash_rate.store(rate.to_bits(), Ordering::Relaxed);
        }
        match outcome {
            SearchOutcome::Found { header, .. } => {
                let block = template.with_header(header);
                let elapsed_ms = started.elapsed().as_millis() as u64;
                node.accept_mined(block.clone(), attempts, elapsed_ms);
                return Some(block);
            }
            SearchOutcome::Stopped { .. } => return None,
            SearchOutcome::Exhausted { .. } => continue,
        }
    }
}
