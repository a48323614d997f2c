//! Helpers for the manager's tests: start a real manager (with real nodes)
//! on free ports and talk to it over HTTP and WebSocket. Starting a lone
//! node, waiting for a condition, following an event stream and reading a
//! process's announcements come from `node::testing`, the one set of test
//! helpers every crate uses.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

use node::testing::{Announced, http_client, node_program, spawn_announced};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::{ErrorBody, NodeSummary, NodesBody, StatusBody};
use tempfile::TempDir;

pub use node::testing::{EventStream, wait_until};

/// How long a manager may take to start its nodes and register them.
const READY_TIMEOUT: Duration = Duration::from_secs(120);
/// The manager's first stdout line, once it serves.
const LISTENING: &str = "manager listening on http://";
/// Its line once every node answers and knows all the others.
const READY: &str = "network ready: ";

/// A running `manager` process; killed (and its nodes with it) on drop.
pub struct ManagerProcess {
    process: Announced,
    /// `http://HOST:PORT`
    pub url: String,
    pub port: u16,
    /// The `network ready: ...` line.
    pub ready_line: String,
    pub data: TempDir,
    stderr_path: PathBuf,
    http: reqwest::Client,
    /// Sent as `Authorization: Bearer` on every request of this helper.
    token: Option<String>,
    /// What it was started with, for [`Self::restart`].
    nodes: u16,
    extra: Vec<String>,
}

/// Starts `manager` over `data` and waits for its network to be ready;
/// returns the process, its listening address and its ready line. Its
/// stderr is appended to `stderr_path`, across restarts.
fn launch(
    data: &Path,
    stderr_path: &Path,
    nodes: u16,
    extra: &[String],
) -> (Announced, String, String) {
    let stderr = std::fs::File::options()
        .create(true)
        .append(true)
        .open(stderr_path)
        .expect("manager log file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_manager"));
    command.args(["-p", "0", "--node-port", "0"]);
    // Regtest unless the test names a chain.
    if !extra.iter().any(|arg| arg == "--chain") {
        command.args(["--chain", "regtest"]);
    }
    command
        .arg("-a")
        .arg(nodes.to_string())
        .arg("--data-dir")
        .arg(data.join("nodes"))
        .arg("--node-bin")
        .arg(node_program())
        .args(extra)
        .stdin(Stdio::null())
        .stderr(stderr);
    let log = || std::fs::read_to_string(stderr_path).unwrap_or_default();
    let process = spawn_announced(&mut command, LISTENING, READY_TIMEOUT)
        .unwrap_or_else(|err| panic!("{err}; the manager's log:\n{}", log()));
    let listening = process.rest.clone();
    let Some(ready) = process.next_line(READY, READY_TIMEOUT) else {
        panic!("no `{READY}` line from the manager; its log:\n{}", log());
    };
    (process, listening, format!("{READY}{ready}"))
}

impl ManagerProcess {
    /// A manager on free ports with `nodes` regtest nodes, as a test user
    /// would start it: `manager -p 0 --node-port 0 --chain regtest -a N`.
    /// `start_with` adds `extra` flags; one of them may name another chain.
    pub async fn start(nodes: u16) -> ManagerProcess {
        Self::start_with(nodes, &[]).await
    }

    pub async fn start_with(nodes: u16, extra: &[&str]) -> ManagerProcess {
        Self::start_in(tempfile::tempdir().expect("temp dir"), nodes, extra).await
    }

    /// [`Self::start_with`], the node stores in memory
    /// ([`node::testing::ram_temp_dir`]): for tests that time the network.
    pub async fn start_in_ram_with(nodes: u16, extra: &[&str]) -> ManagerProcess {
        Self::start_in(node::testing::ram_temp_dir(), nodes, extra).await
    }

    async fn start_in(data: TempDir, nodes: u16, extra: &[&str]) -> ManagerProcess {
        let stderr_path = data.path().join("manager.log");
        let extra: Vec<String> = extra.iter().map(|arg| (*arg).to_owned()).collect();
        let (process, listening, ready_line) = launch(data.path(), &stderr_path, nodes, &extra);
        let token = extra
            .iter()
            .position(|arg| arg == "--token")
            .and_then(|at| extra.get(at + 1))
            .cloned();
        ManagerProcess {
            process,
            url: format!("http://{listening}"),
            port: port_of(&listening),
            ready_line,
            data,
            stderr_path,
            http: http_client(),
            token,
            nodes,
            extra,
        }
    }

    /// A new manager on the same data directory and flags (after
    /// [`Self::kill_hard`], say), as a person restarting it would; it may
    /// listen on another port.
    pub async fn restart(&mut self) {
        let (process, listening, ready_line) =
            launch(self.data.path(), &self.stderr_path, self.nodes, &self.extra);
        self.process = process;
        self.url = format!("http://{listening}");
        self.port = port_of(&listening);
        self.ready_line = ready_line;
    }

    /// The manager's stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.process.child.id()
    }

    /// SIGKILL, as `kill -9` would.
    pub fn kill_hard(&mut self) {
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
    }

    /// Wait (bounded) for the manager to exit by itself.
    pub async fn wait_exit(&mut self) -> ExitStatus {
        wait_until(
            "the manager to exit",
            200,
            Duration::from_millis(100),
            || {
                let status = self.process.child.try_wait().expect("try_wait");
                async move { status }
            },
        )
        .await
    }

    /// Sends `method path` (with the token, if any) as `finish` completes
    /// the request, and decodes the answer.
    async fn exchange<T: DeserializeOwned>(
        &self,
        method: reqwest::Method,
        path: &str,
        finish: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> (u16, T) {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.url));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        let response = finish(request)
            .send()
            .await
            .unwrap_or_else(|err| panic!("{method} {path}: {err}"));
        decode(response, path).await
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> (u16, T) {
        self.exchange(reqwest::Method::GET, path, |request| request)
            .await
    }

    pub async fn post<T: DeserializeOwned>(&self, path: &str) -> (u16, T) {
        self.exchange(reqwest::Method::POST, path, |request| request)
            .await
    }

    pub async fn post_json<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> (u16, T) {
        self.exchange(reqwest::Method::POST, path, |request| request.json(body))
            .await
    }

    /// A raw body with a JSON content type, for malformed input.
    pub async fn post_raw(&self, path: &str, body: &str) -> (u16, ErrorBody) {
        self.exchange(reqwest::Method::POST, path, |request| {
            request
                .header("content-type", "application/json")
                .body(body.to_owned())
        })
        .await
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

    /// `ws://HOST:PORT/events`, with the token as `access_token` if the
    /// manager has one (a browser cannot set headers on a WebSocket).
    pub fn events_url(&self) -> String {
        let url = format!("{}/events", self.url.replacen("http://", "ws://", 1));
        match &self.token {
            Some(token) => format!("{url}?access_token={token}"),
            None => url,
        }
    }

    /// Subscribe to the manager's `/events`.
    pub async fn events(&self) -> EventStream {
        EventStream::connect(&self.events_url()).await
    }
}

impl Drop for ManagerProcess {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("--- manager log ---\n{}", self.log());
        }
        // The nodes die with it (PR_SET_PDEATHSIG).
        let _ = self.process.child.kill();
        let _ = self.process.child.wait();
    }
}

/// GET `url` straight from a node, not through the manager.
pub async fn get_from_node<T: DeserializeOwned>(url: &str) -> (u16, T) {
    let response = http_client()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|err| panic!("GET {url}: {err}"));
    decode(response, url).await
}

async fn decode<T: DeserializeOwned>(response: reqwest::Response, what: &str) -> (u16, T) {
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("{what} answered {status} with {text:?}: {err}"));
    (status, body)
}

/// The port of a `host:port` the manager or a node announced; a test that
/// got something else has found a bug.
pub fn port_of(address: &str) -> u16 {
    shared::address::parse_host_port(address)
        .unwrap_or_else(|err| panic!("{address:?} is not host:port: {err}"))
        .1
}

/// Whether nothing listens on the port any more: binding it works.
pub fn port_free(port: u16) -> bool {
    std::net::TcpListener::bind(("127.0.0.1", port)).is_ok()
}

/// A node process a test started itself; killed when dropped, so that a
/// test, passed or failed, leaves none behind.
pub struct OwnNode(pub Announced);

impl Drop for OwnNode {
    fn drop(&mut self) {
        let _ = self.0.child.kill();
        let _ = self.0.child.wait();
    }
}

/// What a person set on the network: its shape, each link's ends, state
/// and conditions, and the partition (not the counters and round-trip
/// times, which move by themselves).
pub async fn network_settings(
    manager: &ManagerProcess,
) -> (
    String,
    Vec<(
        String,
        String,
        shared::api::LinkState,
        shared::api::DirectedConditions,
    )>,
    Option<Vec<Vec<String>>>,
) {
    let (status, network): (u16, shared::api::NetworkBody) = manager.get("/network").await;
    assert_eq!(status, 200);
    let links = network
        .links
        .into_iter()
        .map(|l| (l.a, l.b, l.state, l.conditions))
        .collect();
    (network.topology.to_string(), links, network.partition)
}
