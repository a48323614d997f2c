//! Helpers for tests and benchmarks that run real processes (feature
//! `testing`): start a node or any program that announces its address on
//! stdout, wait for a condition with a bounded number of attempts, follow a
//! `/events` WebSocket, and check an OpenAPI document. The node's, the
//! manager's and the explorer's tests all use this one set.

use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use shared::api::{MinedBody, NodeIdBody, StatusBody};
use shared::events::Event;
use tokio_tungstenite::tungstenite::Message;

/// What a node prints on stdout once it is ready.
pub const NODE_READY: &str = "listening on http://";
/// How long a process may take to announce itself.
pub const ANNOUNCE_TIMEOUT: Duration = Duration::from_secs(60);

/// A process that printed its announcement; the rest of its stdout keeps
/// being read on a thread, so it never blocks on a full pipe.
pub struct Announced {
    pub child: Child,
    /// The announcement line without its prefix.
    pub rest: String,
    lines: mpsc::Receiver<String>,
}

impl Announced {
    /// The rest of the next stdout line that starts with `prefix`, waiting
    /// at most `timeout`.
    pub fn next_line(&self, prefix: &str, timeout: Duration) -> Option<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            let line = self.lines.recv_timeout(left).ok()?;
            if let Some(rest) = line.trim().strip_prefix(prefix) {
                return Some(rest.to_owned());
            }
        }
    }
}

/// Spawns `command` with stdout piped and waits, at most `timeout`, for a
/// line starting with `prefix`. On failure the child is killed and the
/// error says what was seen.
pub fn spawn_announced(
    command: &mut Command,
    prefix: &str,
    timeout: Duration,
) -> Result<Announced, String> {
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let stdout = child.stdout.take().expect("stdout was piped");
    let (sender, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut announced = Announced {
        child,
        rest: String::new(),
        lines,
    };
    match announced.next_line(prefix, timeout) {
        Some(rest) => {
            announced.rest = rest.trim_end_matches('/').to_owned();
            Ok(announced)
        }
        None => {
            let _ = announced.child.kill();
            let status = announced.child.wait().ok();
            Err(format!(
                "no `{prefix}` line within {timeout:?} from {command:?} (exit: {status:?})"
            ))
        }
    }
}

/// The `node` executable of this build, in the running test's (or
/// example's) target directory, built first (cargo does nothing when it is
/// current).
pub fn node_program() -> &'static Path {
    static NODE: OnceLock<PathBuf> = OnceLock::new();
    NODE.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test's own path");
        // target/<profile>/deps/<test> or target/<profile>/examples/<name>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("a target directory");
        let node = profile_dir.join("node");
        // Always asked for, not only when missing: cargo does nothing when the
        // binary is current, and a stale one left by an older checkout would
        // otherwise run in place of the code under test.
        let release = profile_dir.file_name().is_some_and(|n| n == "release");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let mut build = Command::new(cargo);
        build.args(["build", "--quiet", "-p", "node", "--bin", "node"]);
        if release {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build -p node");
        assert!(status.success(), "cargo build -p node failed");
        assert!(node.exists(), "no node binary at {}", node.display());
        node
    })
}

/// A fresh temporary directory in memory (`/dev/shm`) where the system
/// has one, else in the usual place: for stores of runs that time the
/// network, since on a disk other processes write to one durable commit
/// (an fsync) now and then takes a second or more, and a node relays a
/// block only once it is durable.
pub fn ram_temp_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    shm.is_dir()
        .then(|| tempfile::tempdir_in(shm).ok())
        .flatten()
        .unwrap_or_else(|| tempfile::tempdir().expect("temp dir"))
}

/// A node process on a free port; killed when dropped.
pub struct TestNode {
    pub child: Child,
    /// `host:port`.
    pub address: String,
    pub data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
}

impl TestNode {
    /// A regtest node with a fresh data directory.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// A node with a fresh data directory and extra arguments.
    pub fn start_with(extra: &[&str]) -> Self {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut node = Self::start_in(temp.path(), extra);
        node._temp = Some(temp);
        node
    }

    /// A node whose store is in [`ram_temp_dir`], with extra arguments:
    /// for tests that time the network.
    pub fn start_in_ram(extra: &[&str]) -> Self {
        let temp = ram_temp_dir();
        let mut node = Self::start_in(temp.path(), extra);
        node._temp = Some(temp);
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
        let mut command = Command::new(node_program());
        command
            .args(["-p", "0", "--data-dir"])
            .arg(data_dir)
            .args(chain)
            .args(extra)
            .stdin(Stdio::null())
            // POWPLAY_NODE_STDERR=inherit shows a test's node logs.
            .stderr(match std::env::var("POWPLAY_NODE_STDERR").as_deref() {
                Ok("inherit") => Stdio::inherit(),
                _ => Stdio::null(),
            });
        let announced =
            spawn_announced(&mut command, NODE_READY, ANNOUNCE_TIMEOUT).unwrap_or_else(|e| {
                panic!("{e}");
            });
        Self {
            child: announced.child,
            address: announced.rest,
            data_dir: data_dir.to_path_buf(),
            _temp: None,
        }
    }

    /// The process's resident memory now, in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the node's /proc status");
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc status")
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// GET `path`, which must answer 2xx with JSON.
    pub async fn get<T: DeserializeOwned>(&self, path: &str) -> T {
        let response = http_client().get(self.url(path)).send().await.expect("GET");
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
        http_client()
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST")
    }

    pub async fn post(&self, path: &str) -> reqwest::Response {
        http_client()
            .post(self.url(path))
            .send()
            .await
            .expect("POST")
    }

    pub async fn status(&self) -> StatusBody {
        self.get("/status").await
    }

    pub async fn id(&self) -> String {
        self.get::<NodeIdBody>("/node/id").await.node
    }

    /// Mines one block and returns its height.
    pub async fn mine(&self) -> u64 {
        self.get::<MinedBody>("/mine").await.block.header.index
    }

    /// Waits (at most 10 s) for the process to exit by itself.
    pub fn wait_exit(&mut self) -> ExitStatus {
        wait_exit(&mut self.child, Duration::from_secs(10))
            .unwrap_or_else(|| panic!("node {} did not exit within 10 s", self.address))
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The child's exit status if it exits within `timeout`.
pub fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// An HTTP client for tests: no proxy, a 60 s timeout.
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

/// Calls `check` until it returns `Some`, at most `attempts` times with
/// `pause` between; panics naming `what` if it never does.
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
    panic!("timed out waiting for {what} ({attempts} tries, {pause:?} apart)");
}

/// A subscriber to a `/events` WebSocket (a node's or the manager's), read
/// by a background task.
pub struct EventStream {
    events: tokio::sync::mpsc::UnboundedReceiver<Event>,
    reader: tokio::task::JoinHandle<()>,
    sink: futures_util::stream::SplitSink<
        tokio_tungstenite::WebSocketStream<
            tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
        >,
        Message,
    >,
}

impl EventStream {
    /// Connects to `url` (`ws://host:port/events`).
    pub async fn connect(url: &str) -> EventStream {
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|err| panic!("connect to {url}: {err}"));
        let (sender, events) = tokio::sync::mpsc::unbounded_channel();
        let (sink, mut incoming) = stream.split();
        let reader = tokio::spawn(async move {
            while let Some(Ok(message)) = incoming.next().await {
                if let Message::Text(text) = message {
                    let event: Event = serde_json::from_str(text.as_str())
                        .unwrap_or_else(|err| panic!("unreadable event {text}: {err}"));
                    if sender.send(event).is_err() {
                        break;
                    }
                }
            }
        });
        EventStream {
            events,
            reader,
            sink,
        }
    }

    /// Sends the server a text message (a stream flows the other way, so
    /// this is a client misbehaving); false if the socket is already gone.
    pub async fn send_text(&mut self, text: String) -> bool {
        use futures_util::SinkExt;
        self.sink.send(Message::Text(text.into())).await.is_ok()
    }

    /// Whether the server ends the stream within `timeout`; the events
    /// before the end are dropped.
    pub async fn ends_within(&mut self, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        // Bounded: a live stream says a few events a second at most.
        for _ in 0..10_000 {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(_)) => continue,
                Ok(None) => return true,
                Err(_) => return false,
            }
        }
        false
    }

    /// The node's `/events`.
    pub async fn of_node(node: &TestNode) -> EventStream {
        Self::connect(&format!("ws://{}/events", node.address)).await
    }

    /// The next event, or `None` if none comes within `timeout` or the
    /// stream closed.
    pub async fn next_within(&mut self, timeout: Duration) -> Option<Event> {
        tokio::time::timeout(timeout, self.events.recv())
            .await
            .ok()
            .flatten()
    }

    /// The next event, waiting at most 30 s.
    pub async fn next(&mut self) -> Event {
        self.next_within(Duration::from_secs(30))
            .await
            .expect("an event within 30 s on an open stream")
    }

    /// Reads events until one matches, at most 10 000 events or 60 s;
    /// panics naming `what` otherwise.
    pub async fn wait_for(&mut self, what: &str, mut matches: impl FnMut(&Event) -> bool) -> Event {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        for _ in 0..10_000 {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("no {what} event within 60 s"))
                .unwrap_or_else(|| panic!("the event stream closed before a {what} event"));
            if matches(&event) {
                return event;
            }
        }
        panic!("no {what} event among 10 000 events");
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

/// A `/events` subscriber that reads only when asked, so a test can let it
/// fall behind on purpose.
pub struct UnreadEvents {
    stream: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

impl UnreadEvents {
    pub async fn connect(url: &str) -> UnreadEvents {
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .unwrap_or_else(|err| panic!("connect to {url}: {err}"));
        UnreadEvents { stream }
    }

    /// Reads events until one matches, at most 100 000 events with 15 s
    /// for each; panics naming `what` otherwise.
    pub async fn wait_for(&mut self, what: &str, mut matches: impl FnMut(&Event) -> bool) -> Event {
        for _ in 0..100_000 {
            let message = tokio::time::timeout(Duration::from_secs(15), self.stream.next())
                .await
                .unwrap_or_else(|_| panic!("no {what} event within 15 s"))
                .unwrap_or_else(|| panic!("the event stream closed before a {what} event"))
                .unwrap_or_else(|err| panic!("the event stream failed: {err}"));
            if let Message::Text(text) = message {
                let event: Event = serde_json::from_str(text.as_str())
                    .unwrap_or_else(|err| panic!("unreadable event {text}: {err}"));
                if matches(&event) {
                    return event;
                }
            }
        }
        panic!("no {what} event among 100 000 events");
    }
}

/// Panics unless the OpenAPI `document` defines every schema in `names`.
pub fn assert_documents_schemas(document: &serde_json::Value, names: &[&str]) {
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("components.schemas in the document");
    for name in names {
        assert!(schemas.contains_key(*name), "schema {name} missing");
    }
}

/// Runs `openapi-spec-validator` (PyPI; `cargo xtask test` installs it) on
/// `document` and panics with its report if the document is not valid.
pub fn assert_valid_openapi(document: &serde_json::Value) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("openapi.json");
    std::fs::write(&path, serde_json::to_vec_pretty(document).expect("JSON")).expect("write");
    let output = Command::new("openapi-spec-validator")
        .arg(&path)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run openapi-spec-validator ({e}); `cargo xtask test` installs it, \
                 or `pip install openapi-spec-validator`"
            )
        });
    assert!(
        output.status.success(),
        "openapi-spec-validator refused the document:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One operation of an OpenAPI document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentedOperation {
    pub method: reqwest::Method,
    pub path: String,
    /// It names a security scheme: it needs the token when the process
    /// has one.
    pub guarded: bool,
    /// It documents a request body.
    pub takes_body: bool,
}

/// Every operation `document` lists, in its order.
pub fn documented_operations(document: &serde_json::Value) -> Vec<DocumentedOperation> {
    let paths = document["paths"]
        .as_object()
        .expect("paths in the document");
    let mut operations = Vec::new();
    for (path, item) in paths {
        for method in ["get", "post", "put", "patch", "delete"] {
            let Some(operation) = item.get(method) else {
                continue;
            };
            let guarded = operation["security"].as_array().is_some_and(|schemes| {
                schemes
                    .iter()
                    .any(|s| s.as_object().is_some_and(|s| !s.is_empty()))
            });
            operations.push(DocumentedOperation {
                method: method.to_uppercase().parse().expect("a method"),
                path: path.clone(),
                guarded,
                takes_body: operation.get("requestBody").is_some(),
            });
        }
    }
    operations
}

/// Sends a GET to each operation of `operations` that needs no token, with
/// none, and panics unless each is a GET that is answered without a 401 or
/// a 5xx. `url` turns a documented path into the address to ask.
pub async fn assert_reads_stay_open(
    client: &reqwest::Client,
    operations: &[DocumentedOperation],
    url: impl Fn(&str) -> String,
) {
    for read in operations.iter().filter(|o| !o.guarded) {
        assert_eq!(read.method, reqwest::Method::GET, "{read:?} is not guarded");
        let response = client.get(url(&read.path)).send().await.unwrap();
        let status = response.status();
        assert!(
            status != 401 && !status.is_server_error(),
            "{read:?}: {status}"
        );
    }
}

/// Sends `method url` with the right token and an empty JSON object, and
/// panics if it is answered 401 or a 5xx (the body may still be refused).
pub async fn assert_taken_with_token(
    client: &reqwest::Client,
    method: &reqwest::Method,
    url: &str,
    token: &str,
) {
    let response = client
        .request(method.clone(), url)
        .bearer_auth(token)
        .body("{}")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status();
    assert!(
        status != 401 && !status.is_server_error(),
        "{method} {url} with the token: {status}"
    );
}

/// Sends `method url` with no token and with a wrong one, and panics
/// unless both get 401 with a JSON error and a Bearer challenge. Each
/// request carries an empty JSON object, so that a guard checked only
/// after the body is read would show too.
pub async fn assert_refused_without_token(
    client: &reqwest::Client,
    method: &reqwest::Method,
    url: &str,
    token: &str,
) {
    let request = || client.request(method.clone(), url).body("{}");
    for (what, request) in [
        ("no token", request()),
        ("a wrong token", request().bearer_auth(format!("{token}x"))),
        (
            "another scheme",
            request().basic_auth("powplay", Some(token)),
        ),
    ] {
        let response = request.send().await.expect("the request is answered");
        assert_eq!(response.status(), 401, "{method} {url} with {what}");
        let challenge = response.headers().get("www-authenticate").cloned();
        assert!(
            challenge.is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with("Bearer"))),
            "{method} {url} with {what}: no Bearer challenge"
        );
        let body: shared::api::ErrorBody = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{method} {url} with {what}: not a JSON error: {e}"));
        assert!(!body.error.is_empty());
    }
}

/// Posts a body of `limit + 1` bytes to each operation of `document` that
/// takes one (`limit(path)` says that operation's limit), with the token,
/// and panics unless each answers 413 with a JSON error. Returns how many
/// it tried.
pub async fn assert_bodies_over_the_limit_get_413(
    client: &reqwest::Client,
    base: &str,
    document: &serde_json::Value,
    token: &str,
    limit: impl Fn(&str) -> usize,
    fill: impl Fn(&str) -> String,
) -> usize {
    let mut tried = 0;
    for operation in documented_operations(document)
        .into_iter()
        .filter(|o| o.takes_body)
    {
        // JSON to the last byte, so only its size is wrong.
        let size = limit(&operation.path) + 1;
        let mut body = vec![b' '; size];
        body[0] = b'"';
        body[size - 1] = b'"';
        let url = format!("{base}{}", fill(&operation.path));
        let response = client
            .request(operation.method.clone(), &url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{} {url}: {e}", operation.method));
        assert_eq!(response.status(), 413, "{} {url}", operation.method);
        let error: shared::api::ErrorBody = response
            .json()
            .await
            .unwrap_or_else(|e| panic!("{} {url}: not a JSON error: {e}", operation.method));
        assert!(!error.error.is_empty());
        tried += 1;
    }
    tried
}
