//! End to end: the released explorer served by a real manager with three
//! real regtest nodes, driven in real headless Chromium through WebDriver,
//! as a person would use it: mine a block and see it in the node's row and
//! in the tree, inspect it, validate the node's chain, tamper a block and
//! see why it fails, make a fork and watch the reorganization, mine with the
//! whole network, restart and add nodes, shut one down, shut all down and
//! see the page go offline, then reconnect by itself to a new manager.
//! Screenshots of each step go to `target/e2e-screenshots/`.
//!
//! Needs `explorer/dist` (built by `cargo xtask test`; built here with trunk
//! when missing) and `/usr/bin/chromedriver` + `/usr/bin/chromium`. With
//! `E2E_AXE=<axe.min.js>` (which `cargo xtask test` sets) the page is also
//! audited with axe-core; `E2E_BROWSER=firefox` drives Firefox instead.
#![cfg(not(target_arch = "wasm32"))]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const FIREFOX: &str = "/usr/bin/firefox-esr";
/// Every wait polls this often…
const POLL: Duration = Duration::from_millis(200);
/// …at most this many times (60 s).
const MAX_POLLS: u32 = 300;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the explorer lives in the workspace")
        .to_path_buf()
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| workspace().join("target"), PathBuf::from)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn run(command: &mut Command) {
    eprintln!("e2e: running {command:?}");
    let status = command
        .status()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
    assert!(status.success(), "{command:?} failed: {status}");
}

/// A process in its own process group; dropping it ends the whole group,
/// also when the test panics.
struct Group {
    name: &'static str,
    child: Child,
}

impl Group {
    fn spawn(name: &'static str, command: &mut Command) -> Self {
        let child = command
            .process_group(0)
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Self { name, child }
    }

    fn signal(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }

    /// Whether it exited within `wait`.
    fn exited_within(&mut self, wait: Duration) -> bool {
        let deadline = Instant::now() + wait;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal("-KILL");
        let _ = self.child.wait();
        eprintln!("e2e: {} stopped", self.name);
    }
}

/// The manager: asked to shut its network down on drop (its nodes run in
/// process groups of their own), then killed if it has not exited.
struct Manager {
    group: Group,
    address: String,
}

impl Drop for Manager {
    fn drop(&mut self) {
        if !matches!(self.group.child.try_wait(), Ok(Some(_))) {
            let _ = http_get(&self.address, "/shutdown/all");
            if !self.group.exited_within(Duration::from_secs(15)) {
                self.group.signal("-INT");
                self.group.exited_within(Duration::from_secs(5));
            }
        }
    }
}

/// A bare HTTP GET for the clean-up path, where no async runtime may be left.
fn http_get(address: &str, path: &str) -> std::io::Result<String> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(answer)
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
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
struct BrowserLog;

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
async fn console_errors(client: &Client) -> Vec<String> {
    let Ok(Value::Array(entries)) = client.issue_cmd(BrowserLog).await else {
        return vec!["could not read the browser console".to_owned()];
    };
    entries
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
        .collect()
}

async fn text_of(client: &Client, css: &str) -> String {
    match client.find(Locator::Css(css)).await {
        Ok(el) => el.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Polls `css`'s text until `check` accepts it; returns that text.
async fn wait_text(client: &Client, css: &str, what: &str, check: impl Fn(&str) -> bool) -> String {
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

async fn count(client: &Client, css: &str) -> usize {
    client
        .find_all(Locator::Css(css))
        .await
        .map_or(0, |v| v.len())
}

async fn wait_count(
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

async fn click(client: &Client, css: &str) {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click {css}: {e}"));
}

/// Scrolls the page so `css` is at the top of the window.
async fn show(client: &Client, css: &str) {
    let script = format!("document.querySelector('{css}').scrollIntoView({{block: 'start'}})");
    client.execute(&script, vec![]).await.expect("scrolled");
}

/// Which browser's screenshots these are: Chromium's go straight into
/// `target/e2e-screenshots/`, others into a folder named after them.
static SHOTS: std::sync::OnceLock<&str> = std::sync::OnceLock::new();

async fn screenshot(client: &Client, name: &str) {
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
fn ensure_dist() -> PathBuf {
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
fn manager_binary() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    BUILT.call_once(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        run(Command::new(cargo)
            .args(["build", "-p", "manager", "-p", "node"])
            .current_dir(workspace()));
    });
    target_dir().join("debug").join("manager")
}

fn start_manager(data: &Path, dist: &Path) -> Manager {
    start_manager_on(data, dist, "0")
}

fn start_manager_on(data: &Path, dist: &Path, port: &str) -> Manager {
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(data.join("manager.log"))
        .expect("manager log");
    let mut command = Command::new(manager_binary());
    command
        .args([
            "-p",
            port,
            "--node-port",
            "0",
            "-a",
            "3",
            "--chain",
            "regtest",
        ])
        .arg("--data-dir")
        .arg(data.join("nodes"))
        .arg("--explorer-dir")
        .arg(dist)
        .stdout(Stdio::piped())
        .stderr(log);
    let mut group = Group::spawn("manager", &mut command);
    let stdout = group.child.stdout.take().expect("manager stdout");
    let (lines, announced) = mpsc::channel();
    // Reads the announcement, then keeps draining so the manager never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match announced.recv_timeout(left) {
            Ok(line) => {
                if let Some(url) = line.trim().strip_prefix("manager listening on http://") {
                    return Manager {
                        group,
                        address: url.trim_end_matches('/').to_owned(),
                    };
                }
            }
            Err(_) => {
                let log = std::fs::read_to_string(data.join("manager.log")).unwrap_or_default();
                panic!("the manager did not announce its address within 60 s; its log:\n{log}");
            }
        }
    }
}

/// The browser the test drives: Chromium, or Firefox with
/// `E2E_BROWSER=firefox` (needs `firefox-esr` and `geckodriver` on PATH).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Browser {
    Chromium,
    Firefox,
}

impl Browser {
    fn chosen() -> Self {
        match std::env::var("E2E_BROWSER").as_deref() {
            Ok("firefox") => Self::Firefox,
            _ => Self::Chromium,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Chromium => "chromium",
            Self::Firefox => "firefox",
        }
    }

    /// Starts the WebDriver server on a free port.
    fn start_driver(self) -> (Group, u16) {
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
        for _ in 0..MAX_POLLS {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (group, port);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("the WebDriver server did not listen on port {port}");
    }

    async fn session(self, port: u16, profile: &Path) -> Client {
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
    async fn console_errors(self, client: &Client) -> Vec<String> {
        match self {
            Self::Chromium => console_errors(client).await,
            Self::Firefox => Vec::new(),
        }
    }
}

fn row(address: &str) -> String {
    format!("tr[data-node=\"{address}\"]")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_mines_validates_tampers_and_shuts_down() {
    let dist = ensure_dist();
    let temp = TempDir::new();
    let manager = start_manager(&temp.0, &dist);
    let browser = Browser::chosen();
    let (_driver, port) = browser.start_driver();
    let client = browser.session(port, &temp.0.join("profile")).await;
    SHOTS.set(browser.name()).ok();
    let page = format!("http://{}/", manager.address);
    client.goto(&page).await.expect("the explorer loads");

    // Three running nodes and a live event stream.
    wait_count(&client, "tbody tr", "three node rows", |n| n == 3).await;
    for _ in 0..MAX_POLLS {
        let states: Vec<String> = futures_text(&client, "tbody tr td .badge").await;
        if states.iter().filter(|s| *s == "running").count() == 3 {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    wait_text(&client, "#connection", "the live badge", |t| t == "Live").await;
    let addresses: Vec<String> = futures_text(&client, "tbody tr th").await;
    assert_eq!(addresses.len(), 3);
    let (first, third) = (addresses[0].clone(), addresses[2].clone());
    let first_name = first.rsplit(':').next().unwrap().to_owned();
    screenshot(&client, "01-network").await;

    // Mine on the first node: the block shows in its row and in the tree.
    click(
        &client,
        &format!("{} button[data-action=mine]", row(&first)),
    )
    .await;
    let mined = wait_text(
        &client,
        &format!("{} [data-field=result]", row(&first)),
        "the mined block",
        |t| t.starts_with("Mined block"),
    )
    .await;
    let height: u64 = mined
        .split_whitespace()
        .nth(2)
        .and_then(|h| h.parse().ok())
        .unwrap_or_else(|| panic!("no height in {mined:?}"));
    assert!(height >= 1);
    wait_text(
        &client,
        &format!("{} [data-field=height]", row(&first)),
        "the row's height",
        |t| t == height.to_string(),
    )
    .await;
    let block = format!("#tree-svg g.block[data-height=\"{height}\"]");
    wait_count(&client, &block, "the block in the tree", |n| n >= 1).await;
    wait_text(&client, "#tree-svg", "the tip label", |t| {
        t.contains(&first_name)
    })
    .await;
    wait_text(&client, "#activity", "the feed line", |t| {
        t.contains(&format!("{first_name} mined block {height}"))
    })
    .await;

    // Inspect it.
    // The rect, not the group: geckodriver cannot scroll to an SVG <g>.
    click(&client, &format!("{block} rect")).await;
    wait_text(&client, "#inspector", "the inspector", |t| {
        t.contains(&format!("Block {height}")) && t.contains(&format!("coinbase: height {height}"))
    })
    .await;
    let verdict = text_of(&client, "#inspector [data-field=pow-verdict]").await;
    assert!(verdict.contains("meets the target"), "{verdict}");
    show(&client, "#tree").await;
    screenshot(&client, "02-mined-and-inspected").await;

    // Validate the first node's chain in the browser.
    click(
        &client,
        &format!("{} button[data-action=validate]", row(&first)),
    )
    .await;
    let valid = wait_text(&client, "#validation-result", "the verdict", |t| {
        t.starts_with("Valid:") || t.starts_with("Invalid:") || t.starts_with("Error:")
    })
    .await;
    assert!(valid.starts_with("Valid:"), "{valid}");
    assert!(
        valid.contains("blocks per second") || valid.contains("under a millisecond"),
        "{valid}"
    );
    show(&client, "#tree").await;
    screenshot(&client, "03-validated").await;

    // Tamper with block 1 of the local copy: validation fails there.
    let height_input = client
        .find(Locator::Css("#tamper-height"))
        .await
        .expect("height input");
    height_input.clear().await.expect("clear");
    height_input.send_keys("1").await.expect("type");
    let value_input = client
        .find(Locator::Css("#tamper-value"))
        .await
        .expect("value input");
    value_input.clear().await.expect("clear");
    value_input.send_keys("mallory").await.expect("type");
    click(&client, "button[data-action=tamper]").await;
    let tampered = wait_text(&client, "#tamper-result", "the tampered verdict", |t| {
        !t.is_empty()
    })
    .await;
    assert!(tampered.contains("Invalid: block 1 ("), "{tampered}");
    assert!(
        tampered.contains("merkle root does not match the entries"),
        "{tampered}"
    );
    show(&client, "#validation").await;
    screenshot(&client, "04-tampered").await;

    // A fork: cut the second node off, mine on it and twice on the first,
    // reconnect it. One more block from the first node reaches it; it
    // reorganizes, and its own block is drawn stale.
    let second = addresses[1].clone();
    let second_name = second.rsplit(':').next().unwrap().to_owned();
    click(
        &client,
        &format!("{} button[data-action=toggle-isolation]", row(&second)),
    )
    .await;
    wait_text(&client, &row(&second), "the isolated badge", |t| {
        t.contains("isolated")
    })
    .await;
    mine(&client, &second).await;
    for _ in 0..2 {
        mine(&client, &first).await;
    }
    click(
        &client,
        &format!("{} button[data-action=toggle-isolation]", row(&second)),
    )
    .await;
    wait_text(
        &client,
        &format!("{} button[data-action=toggle-isolation]", row(&second)),
        "Isolate again",
        |t| t == "Isolate",
    )
    .await;
    let top = mine(&client, &first).await;
    wait_text(&client, "#activity", "the reorganization", |t| {
        t.contains(&format!("{second_name} reorganized"))
    })
    .await;
    wait_text(
        &client,
        &format!("{} [data-field=height]", row(&second)),
        "the second node on the longer chain",
        |t| t == top.to_string(),
    )
    .await;
    wait_count(&client, "#tree-svg g.block.stale", "a stale block", |n| {
        n >= 1
    })
    .await;
    let lanes = text_of(&client, "#tree-summary").await;
    assert!(lanes.contains("in 2 lanes"), "{lanes}");
    show(&client, "#tree").await;
    screenshot(&client, "05-fork-and-reorg").await;

    // With E2E_AXE=<path to axe-core's axe.min.js>, the filled page is
    // audited for accessibility too (labels, contrast, landmarks, …).
    if let Some(violations) = audit(&client).await {
        assert!(
            violations.is_empty(),
            "accessibility violations: {violations:#?}"
        );
        eprintln!("e2e: axe-core found no accessibility violations");
    }

    // Nothing so far put an error on the console.
    let errors = browser.console_errors(&client).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");

    // The whole network mines, then stops.
    click(&client, "button[data-action=start-all]").await;
    let started = wait_text(&client, "#network-outcome", "the start's outcome", |t| {
        !t.is_empty() && !t.ends_with('…')
    })
    .await;
    assert!(!started.starts_with("Error"), "{started}");
    wait_text(
        &client,
        &format!("{} [data-field=height]", row(&first)),
        "new blocks",
        |t| t.parse::<u64>().is_ok_and(|h| h >= top + 3),
    )
    .await;
    click(&client, "button[data-action=stop-all]").await;
    let stopped = wait_text(&client, "#network-outcome", "the stop's outcome", |t| {
        !t.is_empty() && !t.ends_with('…') && t != started
    })
    .await;
    assert!(!stopped.starts_with("Error"), "{stopped}");
    wait_text(&client, "#chart-interval-desc", "the interval chart", |t| {
        t.contains("from height")
    })
    .await;
    show(&client, "#charts").await;
    screenshot(&client, "05b-charts-and-activity").await;

    // Restart the second node; add a fourth.
    click(
        &client,
        &format!("{} button[data-action=restart]", row(&second)),
    )
    .await;
    let restarted = wait_text(
        &client,
        &format!("{} [data-field=result]", row(&second)),
        "the restart",
        |t| t.starts_with("Restarted") || t.starts_with("Error"),
    )
    .await;
    assert!(restarted.starts_with("Restarted"), "{restarted}");
    click(&client, "button[data-action=add-node]").await;
    let added = wait_text(&client, "#network-outcome", "the added node", |t| {
        t.starts_with("Added node") || t.starts_with("Error")
    })
    .await;
    assert!(added.starts_with("Added node"), "{added}");
    wait_count(&client, "tbody tr", "four rows", |n| n == 4).await;

    // Shut the third node down: its row says so, and so does the feed.
    click(
        &client,
        &format!("{} button[data-action=shutdown]", row(&third)),
    )
    .await;
    wait_text(
        &client,
        &format!("{} td .badge", row(&third)),
        "the stopped badge",
        |t| t == "stopped",
    )
    .await;
    let third_name = third.rsplit(':').next().unwrap().to_owned();
    wait_text(&client, "#activity", "the stop in the feed", |t| {
        t.contains(&format!("node {third_name} stopped"))
    })
    .await;
    show(&client, "#nodes").await;
    screenshot(&client, "06-node-shut-down").await;
    let after = browser.console_errors(&client).await;
    eprintln!("e2e: console errors after the fork, mining, restart, add and shutdown: {after:?}");

    // Shut down all: the manager stops too, and the page says it is offline.
    click(&client, "button[data-action=shutdown-all]").await;
    wait_text(&client, "#connection", "the offline badge", |t| {
        t.starts_with("Offline")
    })
    .await;
    let states = futures_text(&client, "tbody tr td .badge").await;
    assert!(!states.iter().any(|s| s == "running"), "{states:?}");
    show(&client, "body").await;
    screenshot(&client, "07-offline").await;

    // A manager comes back on the same address: the page reconnects by
    // itself and shows the new network.
    let port = manager.address.rsplit(':').next().unwrap().to_owned();
    drop(manager);
    let manager = start_manager_on(&temp.0, &dist, &port);
    wait_text(&client, "#connection", "the live badge again", |t| {
        t == "Live"
    })
    .await;
    for _ in 0..MAX_POLLS {
        let states = futures_text(&client, "tbody tr td .badge").await;
        if states.iter().filter(|s| *s == "running").count() == 3 {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let states = futures_text(&client, "tbody tr td .badge").await;
    assert_eq!(
        states.iter().filter(|s| *s == "running").count(),
        3,
        "{states:?}"
    );
    screenshot(&client, "08-reconnected").await;

    client.close().await.expect("the browser closes");
    drop(manager);
}

/// Runs axe-core (from the file `E2E_AXE` names) on the page: the rules it
/// breaks, or `None` when no axe-core was given.
async fn audit(client: &Client) -> Option<Vec<String>> {
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
async fn mine(client: &Client, address: &str) -> u64 {
    let result = format!("{} [data-field=result]", row(address));
    let before = text_of(client, &result).await;
    click(
        client,
        &format!("{} button[data-action=mine]", row(address)),
    )
    .await;
    let mined = wait_text(client, &result, "the mined block", |t| {
        t.starts_with("Mined block") && t != before || t.starts_with("Error")
    })
    .await;
    mined
        .split_whitespace()
        .nth(2)
        .and_then(|h| h.parse().ok())
        .unwrap_or_else(|| panic!("no height in {mined:?}"))
}

async fn futures_text(client: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for el in client.find_all(Locator::Css(css)).await.unwrap_or_default() {
        out.push(el.text().await.unwrap_or_default());
    }
    out
}
