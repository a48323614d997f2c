//! The work a node runs in the background, tracked so that shutdown can
//! wait for it before the store is closed.
//!
//! Async tasks only talk to peers and clients, so they stop where they are
//! when shutdown is signalled; what they hand to a blocking job (a block
//! commit, a peer-table write) is a tracked job of its own and runs to the
//! end, so no commit is cut off by the process exit.

use std::future::Future;
use std::time::Duration;

use tokio::runtime::Handle;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tokio_util::task::task_tracker::TrackedFuture;

pub struct Tasks {
    tracker: TaskTracker,
    shutdown: CancellationToken,
    runtime: Handle,
}

impl Tasks {
    /// Tasks on the current runtime that stop on `shutdown`.
    pub fn new(shutdown: CancellationToken) -> Self {
        Self {
            tracker: TaskTracker::new(),
            shutdown,
            runtime: Handle::current(),
        }
    }

    /// Runs `task` until it ends or shutdown is signalled. Callable from
    /// any thread (the miner announces its blocks from its own).
    pub fn spawn<F>(&self, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        let shutdown = self.shutdown.clone();
        self.tracker.spawn_on(
            async move {
                tokio::select! {
                    () = task => {}
                    () = shutdown.cancelled() => {}
                }
            },
            &self.runtime,
        );
    }

    /// Runs blocking work (disk writes, long validation) on the blocking
    /// pool; shutdown waits for it to finish.
    pub fn spawn_blocking<F, T>(&self, work: F) -> JoinHandle<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.tracker.spawn_blocking_on(work, &self.runtime)
    }

    /// Counts a future someone else runs (a WebSocket connection axum
    /// spawns) among the tasks shutdown waits for.
    pub fn track<F: Future>(&self, future: F) -> TrackedFuture<F> {
        self.tracker.track_future(future)
    }

    /// Waits, at most `grace`, for every task to end; false if some did not.
    pub async fn close_and_wait(&self, grace: Duration) -> bool {
        self.tracker.close();
        tokio::time::timeout(grace, self.tracker.wait())
            .await
            .is_ok()
    }
}
