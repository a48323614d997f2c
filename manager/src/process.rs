//! Node processes: starting one, reading the line that says where it
//! listens, and owning the child until it exits.
//!
//! Every node is forked by one dedicated thread and asks the kernel
//! (`PR_SET_PDEATHSIG`) for SIGKILL when that thread dies. The thread lives
//! as long as the manager, so a manager that is killed outright, even with
//! SIGKILL, takes its nodes with it. (Tokio's blocking-pool threads come and
//! go, and a node forked from one would be killed when that thread retires.)
//! Each node runs in a process group of its own, so Ctrl-C in the terminal
//! reaches only the manager, which then shuts its nodes down in order.

use std::io;
use std::net::IpAddr;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use shared::Preset;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, watch};

/// How long a node may take from exec to its `listening on` line (opening
/// its store included).
const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);
/// The line a node prints on stdout once it serves.
const LISTENING_PREFIX: &str = "listening on http://";

#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error(
        "could not start the node program {bin}: {reason} (build it with `cargo build -p node`, or pass --node-bin)"
    )]
    Spawn { bin: PathBuf, reason: String },
    #[error("could not prepare {path}: {source}")]
    Files { path: PathBuf, source: io::Error },
    #[error(
        "the node on port {port} {outcome} before it listened; the end of its log {log}:\n{tail}"
    )]
    Exited {
        port: u16,
        outcome: String,
        log: PathBuf,
        tail: String,
    },
    #[error("the node on port {port} did not say where it listens within {}s; see its log {log}", LISTEN_TIMEOUT.as_secs())]
    Silent { port: u16, log: PathBuf },
}

/// How every node of this network is started; the same for all of them.
#[derive(Debug, Clone)]
pub struct NodeProgram {
    pub bin: PathBuf,
    /// A node's `--host` takes an IP address, not a name.
    pub host: IpAddr,
    pub chain: Preset,
    pub threads: u16,
    pub token: Option<String>,
    /// Further node flags, the same for every node (the lab chain's, the
    /// hash rate cap).
    pub extra_args: Vec<String>,
}

/// Where one node lives; kept so a restart brings back the same node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The port to ask for; 0 until an OS-chosen port is known.
    pub port: u16,
    pub data_dir: PathBuf,
    /// The node's stderr (its logs).
    pub log: PathBuf,
}

impl Placement {
    /// `<root>/node-<port>`, or `<root>/node-slot<slot>` while the OS is to
    /// choose the port (the directory must be named before the port is known).
    pub fn new(root: &Path, port: u16, slot: usize) -> Placement {
        let name = if port == 0 {
            format!("node-slot{slot}")
        } else {
            format!("node-{port}")
        };
        Placement {
            port,
            data_dir: root.join(&name),
            log: root.join(format!("{name}.log")),
        }
    }
}

/// A node process the manager started and still owns.
#[derive(Debug, Clone)]
pub struct NodeProcess {
    pub pid: u32,
    kill: mpsc::Sender<()>,
    exit: watch::Receiver<Option<String>>,
}

impl NodeProcess {
    /// Ask for SIGKILL; the watcher reaps the process.
    pub fn kill(&self) {
        let _ = self.kill.try_send(());
    }

    /// How it ended ("exited 0", "killed by signal 9"), once it has.
    pub fn outcome(&self) -> Option<String> {
        self.exit.borrow().clone()
    }

    /// Wait until the process has exited, at most `timeout`.
    pub async fn exited_within(&self, timeout: Duration) -> Option<String> {
        let mut exit = self.exit.clone();
        let ended = exit.wait_for(|outcome| outcome.is_some());
        match tokio::time::timeout(timeout, ended).await {
            Ok(Ok(outcome)) => outcome.clone(),
            // The watcher is gone only after it published an outcome.
            Ok(Err(_)) => self.outcome(),
            Err(_) => None,
        }
    }

    /// Wait for the exit however long it takes.
    pub async fn exited(&self) -> String {
        let mut exit = self.exit.clone();
        let outcome = exit.wait_for(|outcome| outcome.is_some()).await;
        match outcome {
            Ok(outcome) => outcome.clone().unwrap_or_default(),
            Err(_) => self.outcome().unwrap_or_else(|| "ended".to_owned()),
        }
    }
}

struct SpawnRequest {
    command: Command,
    reply: oneshot::Sender<io::Result<Child>>,
}

/// The handle to the thread that forks every node.
#[derive(Debug, Clone)]
pub struct Spawner {
    requests: std::sync::mpsc::Sender<SpawnRequest>,
}

impl Spawner {
    /// Start the spawner thread. It ends when every [`Spawner`] clone is
    /// dropped, and its nodes die with it: only drop it when the manager ends.
    pub fn start() -> io::Result<Spawner> {
        let runtime = tokio::runtime::Handle::current();
        let (requests, incoming) = std::sync::mpsc::channel::<SpawnRequest>();
        std::thread::Builder::new()
            .name("node-spawner".to_owned())
            .spawn(move || {
                // Tokio's child handling (reaping, `wait`) needs the runtime.
                let _runtime = runtime.enter();
                for mut request in incoming {
                    let _ = request.reply.send(request.command.spawn());
                }
            })?;
        Ok(Spawner { requests })
    }

    async fn spawn(&self, command: Command) -> io::Result<Child> {
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(SpawnRequest { command, reply })
            .map_err(|_| io::Error::other("the spawner thread has stopped"))?;
        answer
            .await
            .map_err(|_| io::Error::other("the spawner thread has stopped"))?
    }

    /// Start a node and wait until it says where it listens. Returns its
    /// `host:port` and the process.
    pub async fn launch(
        &self,
        program: &NodeProgram,
        placement: &Placement,
    ) -> Result<(String, NodeProcess), LaunchError> {
        let files_error = |path: &Path| {
            let path = path.to_owned();
            move |source| LaunchError::Files { path, source }
        };
        if let Some(root) = placement.log.parent() {
            std::fs::create_dir_all(root).map_err(files_error(root))?;
        }
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&placement.log)
            .map_err(files_error(&placement.log))?;

        let mut command = Command::new(&program.bin);
        command
            .arg("--port")
            .arg(placement.port.to_string())
            .arg("--host")
            .arg(program.host.to_string())
            .arg("--data-dir")
            .arg(&placement.data_dir)
            .arg("--chain")
            .arg(program.chain.name())
            .arg("--threads")
            .arg(program.threads.to_string())
            .args(&program.extra_args);
        if let Some(token) = &program.token {
            command.arg("--token").arg(token);
        }
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .process_group(0);
        die_with_spawner(&mut command);

        let mut child = self
            .spawn(command)
            .await
            .map_err(|err| LaunchError::Spawn {
                bin: program.bin.clone(),
                reason: err.to_string(),
            })?;
        let pid = child.id().unwrap_or_default();
        let stdout = child.stdout.take();
        let process = watch_child(child, pid);

        let (listening_tx, listening) = oneshot::channel();
        if let Some(stdout) = stdout {
            tokio::spawn(read_stdout(stdout, pid, listening_tx));
        }
        let port = placement.port;
        let watcher = process.clone();
        tokio::select! {
            address = listening => match address {
                Ok(address) => Ok((address, process)),
                // stdout closed without the line: the node is ending.
                Err(_) => Err(exited_error(&process, placement).await),
            },
            _ = watcher.exited() => Err(exited_error(&process, placement).await),
            _ = tokio::time::sleep(LISTEN_TIMEOUT) => {
                process.kill();
                process.exited_within(Duration::from_secs(5)).await;
                Err(LaunchError::Silent { port, log: placement.log.clone() })
            }
        }
    }
}

async fn exited_error(process: &NodeProcess, placement: &Placement) -> LaunchError {
    let outcome = match process.exited_within(Duration::from_secs(5)).await {
        Some(outcome) => outcome,
        None => {
            process.kill();
            process.exited().await;
            "closed its stdout".to_owned()
        }
    };
    LaunchError::Exited {
        port: placement.port,
        outcome,
        log: placement.log.clone(),
        tail: log_tail(&placement.log, 8),
    }
}

/// The last `lines` lines of a node's log, to show why it failed. A
/// backtrace (with `RUST_BACKTRACE` set) would push the error itself out of
/// view, so the tail ends where one begins.
fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let text = match text.rfind("Stack backtrace:") {
        Some(start) => &text[..start],
        None => &text[..],
    };
    let all: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Ask the kernel to SIGKILL the child when the thread that forked it (the
/// spawner thread, alive as long as the manager) dies.
fn die_with_spawner(command: &mut Command) {
    let manager = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs between fork and exec and calls only
    // async-signal-safe functions (prctl, getppid), allocating nothing.
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ) == -1
            {
                return Err(io::Error::last_os_error());
            }
            // The manager may have died between fork and prctl; then no
            // signal would ever come.
            if libc::getppid() != manager {
                return Err(io::Error::from_raw_os_error(libc::ESRCH));
            }
            Ok(())
        });
    }
}

/// A task owns the child: it waits for the exit, or kills on request, and
/// publishes how the process ended.
fn watch_child(mut child: Child, pid: u32) -> NodeProcess {
    let (kill, mut kill_requests) = mpsc::channel::<()>(1);
    let (exit_tx, exit) = watch::channel(None);
    tokio::spawn(async move {
        let status = tokio::select! {
            status = child.wait() => status,
            Some(()) = kill_requests.recv() => {
                let _ = child.start_kill();
                child.wait().await
            }
        };
        let outcome = match status {
            Ok(status) => describe(status),
            Err(err) => format!("could not be waited for ({err})"),
        };
        tracing::debug!(pid, %outcome, "node process ended");
        let _ = exit_tx.send(Some(outcome));
    });
    NodeProcess { pid, kill, exit }
}

/// "exited 0", "exited 2", "killed by signal 9".
pub fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

/// Find the `listening on` line, then keep draining stdout so a node that
/// prints more never blocks on a full pipe.
async fn read_stdout(
    stdout: tokio::process::ChildStdout,
    pid: u32,
    listening: oneshot::Sender<String>,
) {
    let mut listening = Some(listening);
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(rest) = line.trim().strip_prefix(LISTENING_PREFIX) {
            if let Some(reply) = listening.take() {
                let _ = reply.send(rest.trim_end_matches('/').to_owned());
            }
        } else {
            tracing::debug!(pid, %line, "node stdout");
        }
    }
}
