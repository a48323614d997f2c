//! Starting real node processes and talking to them over HTTP and WebSocket.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use shared::api::{NodeIdBody, StatusBody};
use shared::events::Event;

/// A node process on a free port with its own data directory; killed
/// when dropped.
pub struct TestNode {
    pub child: Child,
    pub address: String,
    pub data_dir: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl TestNode {
    /// A regtest node with a fresh data directory.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let data_dir = dir.path().to_path_buf();
        let mut node = Self::start_in(&data_dir, &[]);
        node._dir = Some(dir);
        node
    }

    /// A node on `data_dir` with extra arguments (regtest unless they name
    /// a `--chain`).
    pub fn start_in(data_dir: &Path, extra: &[&str]) -> Self {
        let chain: &[&str] = if extra.contains(&"--chain") {
            &[]
        } else {
            &["--chain", "regtest"]
        };
        let mut child = Command::new(env!("CARGO_BIN_EXE_node"))
            .args(["-p", "0", "--data-dir"])
            .arg(data_dir)
            .args(chain)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read the listening line");
        let address = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Self {
            child,
            address,
            data_dir: data_dir.to_path_buf(),
            _dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> T {
        let response = client().get(self.url(path)).send().await.expect("GET");
        assert!(
            response.status().is_success(),
            "GET {path}: {}",
            response.status()
        );
        response.json().await.expect("JSON body")
    }

    pub async fn post_json<T: serde::Serialize + ?Sized>(
        &self,
        path: &str,
        body: &T,
    ) -> reqwest::Response {
        client()
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn post(&self, path: &str) -> reqwest::Response {
        client().post(self.url(path)).send().await.expect("POST")
    }

    pub async fn status(&self) -> StatusBody {
        self.get("/status").await
    }

    pub async fn id(&self) -> String {
        self.get::<NodeIdBody>("/node/id").await.node
    }

    /// Mines one block and returns its height.
    pub async fn mine(&self) -> u64 {
        let body: shared::api::MinedBody = self.get("/mine").await;
        body.block.header.index
    }

    /// Waits (bounded) for the process to exit by itself.
    pub fn wait_exit(&mut self) -> std::process::ExitStatus {
        for _ in 0..200 {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("node did not exit within 10 s");
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// Registers every node with every other one.
pub async fn connect_all(nodes: &[TestNode]) {
    let mut ids = Vec::new();
    for node in nodes {
        ids.push(node.id().await);
    }
    let addresses: Vec<String> = nodes.iter().map(|n| n.address.clone()).collect();
    for node in nodes {
        let body = shared::api::RegisterRequest {
            nodes: ids.clone(),
            addresses: addresses.clone(),
        };
        let response = node.post_json("/nodes/register", &body).await;
        assert_eq!(response.status(), 201);
    }
}

/// Polls `check` up to `attempts` times, 100 ms apart; true once it holds.
pub async fn eventually<F, Fut>(attempts: usize, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..attempts {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Waits until every node reports the same best hash at `height` or more.
pub async fn converged(nodes: &[TestNode], height: u64) -> bool {
    eventually(150, || async {
        let mut tips = Vec::new();
        for node in nodes {
            let status = node.status().await;
            tips.push((status.height, status.best_hash));
        }
        tips.windows(2).all(|w| w[0] == w[1]) && tips[0].0 >= height
    })
    .await
}

/// A subscriber to a node's `/events`.
pub struct Events {
    stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl Events {
    pub async fn subscribe(node: &TestNode) -> Self {
        let (stream, _) = tokio_tungstenite::connect_async(format!("ws://{}/events", node.address))
            .await
            .expect("connect to /events");
        Self { stream }
    }

    /// The next event, or None after `timeout`.
    pub async fn next(&mut self, timeout: Duration) -> Option<Event> {
        loop {
            let message = tokio::time::timeout(timeout, self.stream.next())
                .await
                .ok()??
                .ok()?;
            if let tokio_tungstenite::tungstenite::Message::Text(text) = message {
                return Some(serde_json::from_str(&text).expect("an Event"));
            }
        }
    }

    /// Events until one matches `wanted` (bounded by count and time).
    pub async fn until(&mut self, mut wanted: impl FnMut(&Event) -> bool) -> Option<Event> {
        for _ in 0..10_000 {
            let event = self.next(Duration::from_secs(15)).await?;
            if wanted(&event) {
                return Some(event);
            }
        }
        None
    }
}
