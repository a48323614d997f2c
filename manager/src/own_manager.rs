//! A manager that a campaign (`manager chaos`, `manager crash`) starts as
//! its child: this same executable, on a free port, with nodes on free
//! ports, its log appended to `manager.log` in the data directory. Dropped,
//! it is asked to stop (SIGTERM, which stops its nodes); killed hard, its
//! nodes die with it (each asked the kernel for SIGKILL when the manager's
//! spawner thread dies).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a manager may take to say "network ready".
const READY_WITHIN: Duration = Duration::from_secs(120);

/// Why a campaign (chaos, crash) could not go on.
#[derive(Debug, thiserror::Error)]
pub enum CampaignError {
    #[error("cannot start the manager: {0}")]
    Start(String),
    #[error("the manager stopped answering: {0}")]
    Manager(String),
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot start the manager: {0}")]
    Spawn(#[from] std::io::Error),
    #[error("the manager did not get its network ready (see {0})")]
    NotReady(PathBuf),
}

/// A running manager of our own.
pub struct OwnManager {
    child: Child,
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub url: String,
}

impl OwnManager {
    /// Starts this program as a manager with `args` (`--data-dir` is added)
    /// and returns once it printed "network ready". Blocks: it reads the
    /// child's output.
    pub fn start(args: &[String], data_dir: &Path) -> Result<Self, StartError> {
        std::fs::create_dir_all(data_dir)?;
        let log_path = data_dir.join("manager.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)?;
        let mut child = Command::new(std::env::current_exe()?)
            .args(["-p", "0", "--node-port", "0"])
            .args(args)
            .arg("--data-dir")
            .arg(data_dir.join("nodes"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()?;
        let stdout = child.stdout.take().expect("piped stdout");
        // Read on a thread of its own, so that a manager that never gets
        // ready (nor exits) is given up on at READY_WITHIN.
        let (lines, announced) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            // Bounded: the manager says a few lines before it is ready.
            for line in BufReader::new(stdout).lines().take(1_000) {
                let Ok(line) = line else { break };
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = Instant::now() + READY_WITHIN;
        let mut url = None;
        while let Ok(line) =
            announced.recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            if let Some(rest) = line.strip_prefix("manager listening on ") {
                url = Some(rest.trim().trim_end_matches('/').to_owned());
            }
            if line.starts_with("network ready: ") {
                if let Some(url) = url {
                    return Ok(Self { child, url });
                }
                break;
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(StartError::NotReady(log_path))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as a crash would; waits for the process to be gone.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnManager {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(Some(_))) {
            return;
        }
        // SIGTERM lets it stop its nodes; they die with it regardless.
        // SAFETY: the pid is our own child's, not yet reaped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        for _ in 0..100 {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.kill_hard();
    }
}

/// The arguments of a manager of `nodes` nodes on the lab chain (a block
/// every `block_interval_ms`) that needs `token`, with `node_bin` as the
/// node executable if given.
pub fn lab_args(
    nodes: u16,
    block_interval_ms: u64,
    token: &str,
    node_bin: Option<&Path>,
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "--chain".into(),
        "lab".into(),
        "--block-interval-ms".into(),
        block_interval_ms.to_string(),
        "-a".into(),
        nodes.to_string(),
        "--token".into(),
        token.into(),
    ];
    if let Some(bin) = node_bin {
        args.extend(["--node-bin".into(), bin.display().to_string()]);
    }
    args
}

/// Whether process `pid` exists and is not a zombie (a node whose
/// manager died is reaped by whoever adopts it, not at once).
pub fn process_alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses.
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .and_then(|rest| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}
