//! Helpers for the manager's tests: start a real manager (with real nodes)
//! on free ports, talk to it over HTTP and WebSocket, wait for conditions
//! with a bounded number of attempts, and look at processes and ports.

#![allow(dead_code)]

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::Duration;

use futures_util::StreamExt;
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::{ErrorBody, NodeSummary, NodesBody, StatusBody};
use shared::events::Event;
use tempfile::TempDir;
use tokio_tungstenite::tungstenite::Message;

/// How long a manager may take to start its nodes and register them.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

/// The `node` executable cargo built next to the manager; built here if a
/// `cargo test -p manager` did not build it.
pub fn node_bin() -> &'static Path {
    static NODE: OnceLock<PathBuf> = OnceLock::new();
    NODE.get_or_init(|| {
        let manager = PathBuf::from(env!("CARGO_BIN_EXE_manager"));
        let node = manager.with_file_name("node");
        if !node.exists() {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let status = Command::new(cargo)
                .args(["build", "-p", "node"])
                .status()
                .expect("run cargo build -p node");
            assert!(status.success(), "cargo build -p node failed");
        }
        assert!(node.exists(), "no node binary at {}", node.display());
        node
    })
}

/// A running `manager` process; killed (and its nodes with it) on drop.
pub struct ManagerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT`
    pub url: String,
    pub port: u16,
    /// The `network ready: ...` line.
    pub ready_line: String,
    pub data: TempDir,
    stderr_path: PathBuf,
    http: reqwest::Client,
}

impl ManagerProcess {
    /// A manager on free ports with `nodes` regtest nodes, as a test user
    /// would start it: `manager -p 0 --node-port 0 --chain regtest -a N`.
    pub async fn start(nodes: u16) -> ManagerProcess {
        Self::start_with(nodes, &[]).await
    }

    pub async fn start_with(nodes: u16, extra: &[&str]) -> ManagerProcess {
        let node = node_bin();
        let data = tempfile::tempdir().expect("temp dir");
        let stderr_path = data.path().join("manager.log");
        let stderr = std::fs::File::create(&stderr_path).expect("manager log file");
        let mut child = Command::new(env!("CARGO_BIN_EXE_manager"))
            .args(["-p", "0", "--node-port", "0", "--chain", "regtest", "-a"])
            .arg(nodes.to_string())
            .arg("--data-dir")
            .arg(data.path().join("nodes"))
            .arg("--node-bin")
            .arg(node)
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start the manager");
        let stdout = child.stdout.take().expect("manager stdout");
        let (lines_tx, lines) = mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut manager = ManagerProcess {
            child,
            url: String::new(),
            port: 0,
            ready_line: String::new(),
            data,
            stderr_path,
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(60))
                .build()
                .expect("http client"),
        };
        let listening = manager.next_line(&lines, "manager listening on http://");
        manager.url = format!("http://{listening}");
        manager.port = listening
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("a port in the listening line");
        manager.ready_line = format!(
            "network ready: {}",
            manager.next_line(&lines, "network ready: ")
        );
        manager
    }

    /// The rest of the first stdout line that starts with `prefix`.
    fn next_line(&self, lines: &mpsc::Receiver<String>, prefix: &str) -> String {
        loop {
            match lines.recv_timeout(READY_TIMEOUT) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.to_owned();
                    }
                }
                Err(err) => panic!(
                    "no `{prefix}` line from the manager ({err}); its log:\n{}",
                    self.log()
                ),
            }
        }
    }

    /// The manager's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, as `kill -9` would.
    pub fn kill_hard(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Wait (bounded) for the manager to exit by itself.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        wait_until(
            "the manager to exit",
            200,
            Duration::from_millis(100),
            || {
                let status = self.child.try_wait().expect("try_wait");
                async move { status }
            },
        )
        .await
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> (u16, T) {
        let response = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap_or_else(|err| panic!("GET {path}: {err}"));
        decode(response, path).await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str) -> (u16, T) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap_or_else(|err| panic!("POST {path}: {err}"));
        decode(response, path).await
    }

    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> (u16, T) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .unwrap_or_else(|err| panic!("POST {path}: {err}"));
        decode(response, path).await
    }

    /// A raw body with a JSON content type, for malformed input.
    pub async fn post_raw(&self, path: &str, body: &str) -> (u16, ErrorBody) {
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap_or_else(|err| panic!("POST {path}: {err}"));
        decode(response, path).await
    }

    pub async fn nodes(&self) -> Vec<NodeSummary> {
        let (status, body): (u16, NodesBody) = self.get("/nodes").await;
        assert_eq!(status, 200);
        body.nodes
    }

    /// Each node's own `/status`, through the manager.
    pub async fn statuses(&self) -> Vec<StatusBody> {
        let mut statuses = Vec::new();
        for node in self.nodes().await {
            let (code, status): (u16, StatusBody) =
                self.get(&format!("/nodes/{}/status", node.id)).await;
            assert_eq!(code, 200, "status of {}", node.id);
            statuses.push(status);
        }
        statuses
    }

    /// Wait until every node reports the same best tip at `min_height` or
    /// more; returns the statuses.
    pub async fn converged(&self, min_height: u64) -> Vec<StatusBody> {
        wait_until(
            &format!("every node on one tip at height >= {min_height}"),
            240,
            Duration::from_millis(250),
            || async {
                let statuses = self.statuses().await;
                let first = statuses.first()?;
                let agree = statuses
                    .iter()
                    .all(|status| status.best_hash == first.best_hash);
                (agree && first.height >= min_height).then_some(statuses)
            },
        )
        .await
    }

    /// Subscribe to the manager's `/events`.
    pub async fn events(&self) -> EventStream {
        EventStream::connect(&format!("ws://127.0.0.1:{}/events", self.port)).await
    }
}

impl Drop for ManagerProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- manager log ---\n{}", self.log());
        }
        // The nodes die with it (PR_SET_PDEATHSIG).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn decode<T: DeserializeOwned>(response: reqwest::Response, what: &str) -> (u16, T) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{what} answered {status} with {text:?}: {err}"));
    (status, body)
}

/// Call `check` until it returns `Some`, at most `attempts` times with
/// `pause` between; panic with `what` if it never does.
pub async fn wait_until<T, F, Fut>(what: &str, attempts: u32, pause: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    for _ in 0..attempts {
        if let Some(value) = check().await {
            return value;
        }
        tokio::time::sleep(pause).await;
    }
    panic!("timed out waiting for {what}");
}

/// The manager's event stream, read by a background task.
pub struct EventStream {
    events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    reader: tokio::task::JoinHandle<()>,
}

impl EventStream {
    pub async fn connect(url: &str) -> EventStream {
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|err| panic!("connect to {url}: {err}"));
        let (tx, events) = tokio::sync::mpsc::unbounded_channel();
        let reader = tokio::spawn(async move {
            let (_sink, mut incoming) = stream.split();
            while let Some(Ok(message)) = incoming.next().await {
                if let Message::Text(text) = message {
                    let event: Event = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|err| panic!("unreadable event {text}: {err}"));
                    if tx.send(event).is_err() {
                        break;
                    }
                }
            }
        });
        EventStream { events, reader }
    }

    /// The next event, waiting at most 30 s.
    pub async fn next(&mut self) -> Event {
        tokio::time::timeout(Duration::from_secs(30), self.events.recv())
            .await
            .expect("an event within 30 s")
            .expect("the event stream is open")
    }

    /// Read events until one matches, at most 5000 events or 60 s.
    pub async fn wait_for(&mut self, what: &str, mut matches: impl FnMut(&Event) -> bool) -> Event {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        for _ in 0..5000 {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no {what} event within 60 s"))
                .unwrap_or_else(|| panic!("the event stream closed before a {what} event"));
            if matches(&event) {
                return event;
            }
        }
        panic!("no {what} event among 5000 events");
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// Whether the process exists and is not a zombie.
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

/// Whether nothing listens on the port any more: binding it works.
pub fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

pub fn port_of(address: &str) -> u16 {
    address
        .rsplit(':')
        .next()
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {address:?}"))
}

/// A node the test starts itself, outside the manager (for `/nodes/attach`).
pub struct LoneNode {
    child: Child,
    pub address: String,
    _data: TempDir,
}

impl LoneNode {
    pub fn start() -> LoneNode {
        let data = tempfile::tempdir().expect("temp dir");
        let mut child = Command::new(node_bin())
            .args(["-p", "0", "--chain", "regtest", "--data-dir"])
            .arg(data.path().join("node"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start a node");
        let stdout = child.stdout.take().expect("node stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(address) = line.strip_prefix("listening on http://") {
                    let _ = tx.send(address.trim_end_matches('/').to_owned());
                }
            }
        });
        let address = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the node's listening line");
        LoneNode {
            child,
            address,
            _data: data,
        }
    }
}

impl Drop for LoneNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
