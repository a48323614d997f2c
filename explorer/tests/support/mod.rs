//! What every end-to-end story needs: the browsers and their drivers, the
//! manager the explorer is served by, and the WebDriver steps a person
//! takes (click, fill, wait for a text), shared by the story files.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use node::testing::{
    ANNOUNCE_TIMEOUT, Announced, http_client, spawn_announced, wait_exit, wait_until,
};
use serde_json::{Value, json};

pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";
pub const FIREFOX: &str = "/usr/bin/firefox-esr";
/// Every wait polls this often…
pub const POLL: Duration = Duration::from_millis(200);
/// …at most this many times (60 s).
pub const MAX_POLLS: u32 = 300;
/// What the manager prints once it listens, and once its nodes are up.
pub const MANAGER_LISTENING: &str = "manager listening on http://";
pub const NETWORK_READY: &str = "network ready: ";

/// One story at a time: each drives a browser, a manager and its nodes,
/// which is all two cores can take without making every wait slow.
pub static ONE_STORY_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the explorer lives in the workspace")
        .to_path_buf()
}

pub fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| workspace().join("target"), PathBuf::from)
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

pub fn run(command: &mut Command) {
    eprintln!("e2e: running {command:?}");
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(status.success(), "{command:?} failed: {status}");
}

/// Sends `signal` to the process group led by `pid`.
pub fn signal_group(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
}

/// A process in its own process group; dropping it ends the whole group,
/// also when the test panics.
pub struct Group {
    name: &'static str,
    child: Child,
}

impl Group {
    pub fn spawn(name: &'static str, command: &mut Command) -> Self {
        let child = command
            .process_group(0)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self { name, child }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        signal_group(self.child.id(), "-KILL");
        let _ = self.child.wait();
        eprintln!("e2e: {} stopped", self.name);
    }
}

/// The manager, in a process group of its own: asked to shut its network
/// down on drop (its nodes run in process groups of their own), then the
/// whole group is killed, also when the test panics.
pub struct Manager {
    pub process: Announced,
    pub address: String,
    /// The token it was started with, which `/shutdown/all` needs.
    pub token: Option<String>,
    pub log: PathBuf,
}

impl Manager {
    /// Waits for the manager to say every node is up.
    pub fn wait_ready(&self) {
        if self
            .process
            .next_line(NETWORK_READY, ANNOUNCE_TIMEOUT)
            .is_none()
        {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!(
                "the manager's network was not ready within {ANNOUNCE_TIMEOUT:?}; its log:\n{log}"
            );
        }
    }
}

impl Drop for Manager {
    fn drop(&mut self) {
        let child = &mut self.process.child;
        if !matches!(child.try_wait(), Ok(Some(_))) {
            let _ = http_get(&self.address, "/shutdown/all", self.token.as_deref());
            if wait_exit(child, Duration::from_secs(15)).is_none() {
                signal_group(child.id(), "-INT");
                wait_exit(child, Duration::from_secs(5));
            }
        }
        signal_group(child.id(), "-KILL");
        let _ = child.wait();
        eprintln!("e2e: the manager stopped");
    }
}

/// A bare HTTP GET for the clean-up path, where no async runtime may be left.
pub fn http_get(address: &str, path: &str, token: Option<&str>) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    let authorization = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\n{authorization}Connection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// A directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let dir = std::env::temp_dir().join(format!("powplay-e2e-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a temp dir");
        Self(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// chromedriver's `/se/log`: the browser console since the last call.
#[derive(Debug)]
pub struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// Console messages at level SEVERE (errors), read and cleared.
pub async fn console_errors(client: &Client) -> Vec<String> {
    let Ok(Value::Array(entries)) = client.issue_cmd(BrowserLog).await else {
        return vec!["could not read the browser console".to_owned()];
    };
    entries
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

pub async fn text_of(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(el) => el.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Polls `css`'s text until `check` accepts it; returns that text.
pub async fn wait_text(
    client: &Client,
    css: &str,
    what: &str,
    check: impl Fn(&str) -> bool,
) -> String {
    let mut last = String::new();
    for _ in 0..MAX_POLLS {
        last = text_of(client, css).await;
        if check(&last) {
            return last;
        }
        tokio::time::sleep(POLL).await;
    }
    panic!("timed out waiting for {what}: `{css}` says {last:?}");
}

pub async fn count(client: &Client, css: &str) -> usize {
    client
        .find_all(Locator::Css(css))
        .await
        .map_or(0, |v| v.len())
}

pub async fn wait_count(
    client: &Client,
    css: &str,
    what: &str,
    check: impl Fn(usize) -> bool,
) -> usize {
    let mut last = 0;
    for _ in 0..MAX_POLLS {
        last = count(client, css).await;
        if check(last) {
            return last;
        }
        tokio::time::sleep(POLL).await;
    }
    panic!("timed out waiting for {what}: {last} elements match `{css}`");
}

pub async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
}

/// Replaces what the input `css` holds with `text`, as typed.
pub async fn fill(client: &Client, css: &str, text: &str) {
    let input = client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"));
    input.clear().await.expect("clear");
    input.send_keys(text).await.expect("type");
}

/// Scrolls the page so `css` is at the top of the window.
pub async fn show(client: &Client, css: &str) {
    let script = format!("document.querySelector('{css}').scrollIntoView({{block: 'start'}})");
    client.execute(&script, vec![]).await.expect("scrolled");
}

/// Which browser's screenshots these are: Chromium's go straight into
/// `target/e2e-screenshots/`, others into a folder named after them.
pub static SHOTS: std::sync::OnceLock<&str> = std::sync::OnceLock::new();

pub async fn screenshot(client: &Client, name: &str) {
    let mut dir = target_dir().join("e2e-screenshots");
    if let Some(browser) = SHOTS.get().filter(|b| **b != "chromium") {
        dir = dir.join(browser);
    }
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    let png = client.screenshot().await.expect("a screenshot");
    let path = dir.join(format!("{name}.png"));
    std::fs::write(&path, png).expect("screenshot written");
    eprintln!("e2e: saved {}", path.display());
}

/// Builds the explorer bundle if it is not there.
pub fn ensure_dist() -> PathBuf {
    let dist = workspace().join("explorer").join("dist");
    if !dist.join("index.html").exists() {
        eprintln!("e2e: explorer/dist is missing; building it with trunk (takes minutes)");
        run(Command::new("trunk")
            .args(["build", "--release", "--offline"])
            .current_dir(workspace().join("explorer")));
    }
    dist
}

/// Builds (or finds up to date) the manager and node binaries, once per run.
pub fn manager_binary() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        run(Command::new(cargo)
            .args(["build", "-p", "manager", "-p", "node"])
            .current_dir(workspace()));
    });
    target_dir().join("debug").join("manager")
}

pub fn start_manager(data: &Path, dist: &Path) -> Manager {
    start_manager_on(data, dist, "0", None)
}

/// A manager on `port` ("0": any) with three regtest nodes, and with
/// `token` if given; returns once its network is ready.
pub fn start_manager_on(data: &Path, dist: &Path, port: &str, token: Option<&str>) -> Manager {
    start_manager_sized(data, dist, port, token, 3)
}

/// [`start_manager_on`] with `nodes` nodes.
pub fn start_manager_sized(
    data: &Path,
    dist: &Path,
    port: &str,
    token: Option<&str>,
    nodes: usize,
) -> Manager {
    let nodes = nodes.to_string();
    let log = data.join("manager.log");
    let log_file = std::fs::File::options()
        .create(true)
        .append(true)
        .open(&log)
        .expect("manager log");
    let mut command = Command::new(manager_binary());
    command
        .args([
            "-p",
            port,
            "--node-port",
            "0",
            "-a",
            &nodes,
            "--chain",
            "regtest",
        ])
        .arg("--data-dir")
        .arg(data.join("nodes"))
        .arg("--explorer-dir")
        .arg(dist)
        .args(token.into_iter().flat_map(|t| ["--token", t]))
        .process_group(0)
        .stdin(Stdio::null())
        .stderr(log_file);
    let process = spawn_announced(&mut command, MANAGER_LISTENING, ANNOUNCE_TIMEOUT)
        .unwrap_or_else(|err| {
            let log = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("the manager did not announce its address: {err}; its log:\n{log}");
        });
    let manager = Manager {
        address: process.rest.clone(),
        process,
        token: token.map(str::to_owned),
        log,
    };
    manager.wait_ready();
    manager
}

/// The browser the test drives: Chromium, or Firefox with
/// `E2E_BROWSER=firefox` (needs `firefox-esr` and `geckodriver` on PATH).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Browser {
    Chromium,
    Firefox,
}

impl Browser {
    pub fn chosen() -> Self {
        match std::env::var("E2E_BROWSER").as_deref() {
            Ok("firefox") => Self::Firefox,
            _ => Self::Chromium,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Chromium => "chromium",
            Self::Firefox => "firefox",
        }
    }

    /// Starts the WebDriver server on a free port and waits until its
    /// `/status` says it is ready for a session.
    pub async fn start_driver(self) -> (Group, u16) {
        let port = free_port();
        let mut command = match self {
            Self::Chromium => {
                let mut c = Command::new(CHROMEDRIVER);
                c.arg(format!("--port={port}"));
                c
            }
            Self::Firefox => {
                let mut c = Command::new("geckodriver");
                c.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
                c
            }
        };
        let group = Group::spawn(
            "the WebDriver server",
            command.stdout(Stdio::null()).stderr(Stdio::null()),
        );
        let status = format!("http://127.0.0.1:{port}/status");
        let client = http_client();
        wait_until(
            "the WebDriver server to be ready",
            MAX_POLLS,
            Duration::from_millis(100),
            || async {
                let answer = client.get(&status).send().await.ok()?;
                let body: Value = answer.json().await.ok()?;
                body["value"]["ready"].as_bool().filter(|ready| *ready)
            },
        )
        .await;
        (group, port)
    }

    pub async fn session(self, port: u16, profile: &Path) -> Client {
        let mut caps = serde_json::Map::new();
        match self {
            Self::Chromium => {
                caps.insert(
                    "goog:chromeOptions".into(),
                    json!({
                        "binary": CHROMIUM,
                        "args": [
                            "--headless",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-dev-shm-usage",
                            "--no-first-run",
                            "--disable-background-networking",
                            "--window-size=1400,1100",
                            format!("--user-data-dir={}", profile.display()),
                        ],
                    }),
                );
                caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
            }
            Self::Firefox => {
                caps.insert(
                    "moz:firefoxOptions".into(),
                    json!({"binary": FIREFOX, "args": ["-headless", "-width", "1400", "-height", "1100"]}),
                );
            }
        }
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("a WebDriver session");
        let _ = client.set_window_size(1400, 1100).await;
        client
    }

    /// Console errors so far; only chromedriver can tell (geckodriver has
    /// no log endpoint), so Firefox runs skip this check.
    pub async fn console_errors(self, client: &Client) -> Vec<String> {
        match self {
            Self::Chromium => console_errors(client).await,
            Self::Firefox => Vec::new(),
        }
    }
}

pub fn row(address: &str) -> String {
    format!("tr[data-node=\"{address}\"]")
}

/// The cell `field` (`data-field`) of `address`'s row.
pub fn cell(address: &str, field: &str) -> String {
    format!("{} [data-field={field}]", row(address))
}

/// The button `action` (`data-action`) of `address`'s row.
pub fn button(address: &str, action: &str) -> String {
    format!("{} button[data-action={action}]", row(address))
}

/// Waits until the state badge of `address`'s row says `state`.
pub async fn wait_state(client: &Client, address: &str, state: &str) {
    let what = format!("the {state} badge");
    let badge = format!("{} td .badge", row(address));
    wait_text(client, &badge, &what, |t| t == state).await;
}

pub async fn click_row(client: &Client, address: &str, action: &str) {
    click(client, &button(address, action)).await;
}

/// A session of `browser` (profile in `temp`) on the explorer `manager`
/// serves, and the driver behind it, which must live as long.
pub async fn open_explorer(browser: Browser, temp: &Path, manager: &Manager) -> (Group, Client) {
    let (driver, port) = browser.start_driver().await;
    let client = browser.session(port, &temp.join("profile")).await;
    SHOTS.set(browser.name()).ok();
    let page = format!("http://{}/", manager.address);
    client.goto(&page).await.expect("the explorer loads");
    (driver, client)
}

/// Types `token` into the token field and presses **Use token**.
pub async fn enter_token(client: &Client, token: &str) {
    fill(client, "#token", token).await;
    click(client, "form.token button[type=submit]").await;
}

/// Runs axe-core (from the file `E2E_AXE` names) on the page: the rules it
/// breaks, or `None` when no axe-core was given.
pub async fn audit(client: &Client) -> Option<Vec<String>> {
    let path = std::env::var_os("E2E_AXE")?;
    let axe = std::fs::read_to_string(&path).expect("E2E_AXE names axe.min.js");
    client.execute(&axe, vec![]).await.expect("axe-core loads");
    let script = r#"
        const done = arguments[arguments.length - 1];
        axe.run(document, { resultTypes: ['violations'] })
            .then(r => done(r.violations.map(v =>
                `${v.id} (${v.impact}): ${v.help}; ${v.nodes.length} elements, e.g. ` +
                v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(' | '))))
            .catch(e => done([`axe-core failed: ${e}`]));
    "#;
    let found = client
        .execute_async(script, vec![])
        .await
        .expect("axe-core runs");
    Some(
        found
            .as_array()
            .map(|v| {
                v.iter()
                    .map(|x| x.as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default(),
    )
}

/// Clicks Mine in `address`'s row and waits for the new block; its height.
pub async fn mine(client: &Client, address: &str) -> u64 {
    let result = cell(address, "result");
    let before = text_of(client, &result).await;
    click_row(client, address, "mine").await;
    let mined = wait_text(client, &result, "the mined block", |t| {
        t.starts_with("Mined block") && t != before || t.starts_with("Error")
    })
    .await;
    assert!(mined.starts_with("Mined block"), "{mined}");
    mined
        .split_whitespace()
        .nth(2)
        .and_then(|h| h.parse().ok())
        .unwrap_or_else(|| panic!("no height in {mined:?}"))
}

pub async fn futures_text(client: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for el in client.find_all(Locator::Css(css)).await.unwrap_or_default() {
        out.push(el.text().await.unwrap_or_default());
    }
    out
}

/// The network graph's node at `address`: its drawn dot (geckodriver
/// cannot scroll to an SVG `<g>`, so clicks go to the circle).
pub fn graph_node(address: &str) -> String {
    format!("#network-svg g.net-node[data-address=\"{address}\"]")
}

/// The network graph's link between node ids `a` and `b`, either way round.
pub fn graph_link(a: &str, b: &str) -> String {
    format!(
        "#network-svg g.link[data-a=\"{a}\"][data-b=\"{b}\"], #network-svg g.link[data-a=\"{b}\"][data-b=\"{a}\"]"
    )
}

/// An attribute of every element `css` matches.
pub async fn attributes(client: &Client, css: &str, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for el in client.find_all(Locator::Css(css)).await.unwrap_or_default() {
        out.push(el.attr(name).await.ok().flatten().unwrap_or_default());
    }
    out
}
