//! End to end: the released explorer served by a real manager with three
//! real regtest nodes, driven in real headless Chromium through WebDriver,
//! as a person would use it: mine a block and see it in the node's row and
//! in the tree, inspect it, validate the node's chain, tamper a block and
//! see why it fails, make a fork and watch the reorganization, mine with the
//! whole network, restart and add nodes, shut one down, shut all down and
//! see the page go offline, then reconnect by itself to a new manager. A
//! second story drives a manager started with `--token`: refused without
//! it, working once it is entered in the token field. Screenshots of each
//! step go to `target/e2e-screenshots/`.
//!
//! Processes are started with `node::testing` (the manager's announcement)
//! and the WebDriver server is awaited with its `wait_until`; the stories
//! run one at a time, as each drives a browser, a manager and three nodes.
//!
//! Needs `explorer/dist` (built by `cargo xtask test`; built here with trunk
//! when missing) and `/usr/bin/chromedriver` + `/usr/bin/chromium`. With
//! `E2E_AXE=<axe.min.js>` (which `cargo xtask test` sets) the page is also
//! audited with axe-core; `E2E_BROWSER=firefox` drives Firefox instead.
#![cfg(not(target_arch = "wasm32"))]

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

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const FIREFOX: &str = "/usr/bin/firefox-esr";
/// Every wait polls this often…
const POLL: Duration = Duration::from_millis(200);
/// …at most this many times (60 s).
const MAX_POLLS: u32 = 300;
/// What the manager prints once it listens, and once its nodes are up.
const MANAGER_LISTENING: &str = "manager listening on http://";
const NETWORK_READY: &str = "network ready: ";

/// One story at a time: each drives a browser, a manager and its nodes,
/// which is all two cores can take without making every wait slow.
static ONE_STORY_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

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

/// Sends `signal` to the process group led by `pid`.
fn signal_group(pid: u32, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, "--", &format!("-{pid}")])
        .stderr(Stdio::null())
        .status();
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
struct Manager {
    process: Announced,
    address: String,
    /// The token it was started with, which `/shutdown/all` needs.
    token: Option<String>,
    log: PathBuf,
}

impl Manager {
    /// Waits for the manager to say every node is up.
    fn wait_ready(&self) {
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
fn http_get(address: &str, path: &str, token: Option<&str>) -> std::io::Result<String> {
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

/// Replaces what the input `css` holds with `text`, as typed.
async fn fill(client: &Client, css: &str, text: &str) {
    let input = client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no {css}: {e}"));
    input.clear().await.expect("clear");
    input.send_keys(text).await.expect("type");
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
    start_manager_on(data, dist, "0", None)
}

/// A manager on `port` ("0": any) with three regtest nodes, and with
/// `token` if given; returns once its network is ready.
fn start_manager_on(data: &Path, dist: &Path, port: &str, token: Option<&str>) -> Manager {
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
            "3",
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

    /// Starts the WebDriver server on a free port and waits until its
    /// `/status` says it is ready for a session.
    async fn start_driver(self) -> (Group, u16) {
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

/// The cell `field` (`data-field`) of `address`'s row.
fn cell(address: &str, field: &str) -> String {
    format!("{} [data-field={field}]", row(address))
}

/// The button `action` (`data-action`) of `address`'s row.
fn button(address: &str, action: &str) -> String {
    format!("{} button[data-action={action}]", row(address))
}

/// Waits until the state badge of `address`'s row says `state`.
async fn wait_state(client: &Client, address: &str, state: &str) {
    let what = format!("the {state} badge");
    let badge = format!("{} td .badge", row(address));
    wait_text(client, &badge, &what, |t| t == state).await;
}

async fn click_row(client: &Client, address: &str, action: &str) {
    click(client, &button(address, action)).await;
}

/// A session of `browser` (profile in `temp`) on the explorer `manager`
/// serves, and the driver behind it, which must live as long.
async fn open_explorer(browser: Browser, temp: &Path, manager: &Manager) -> (Group, Client) {
    let (driver, port) = browser.start_driver().await;
    let client = browser.session(port, &temp.join("profile")).await;
    SHOTS.set(browser.name()).ok();
    let page = format!("http://{}/", manager.address);
    client.goto(&page).await.expect("the explorer loads");
    (driver, client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_mines_validates_tampers_and_shuts_down() {
    let _alone = ONE_STORY_AT_A_TIME.lock().await;
    let dist = ensure_dist();
    let temp = TempDir::new();
    let manager = start_manager(&temp.0, &dist);
    let browser = Browser::chosen();
    let (_driver, client) = open_explorer(browser, &temp.0, &manager).await;

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
    let height = mine(&client, &first).await;
    assert!(height >= 1);
    wait_text(&client, &cell(&first, "height"), "the row's height", |t| {
        t == height.to_string()
    })
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
    click_row(&client, &first, "validate").await;
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
    fill(&client, "#tamper-height", "1").await;
    fill(&client, "#tamper-value", "mallory").await;
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
    click_row(&client, &second, "toggle-isolation").await;
    wait_text(&client, &row(&second), "the isolated badge", |t| {
        t.contains("isolated")
    })
    .await;
    mine(&client, &second).await;
    for _ in 0..2 {
        mine(&client, &first).await;
    }
    click_row(&client, &second, "toggle-isolation").await;
    wait_text(
        &client,
        &button(&second, "toggle-isolation"),
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
        &cell(&second, "height"),
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
    wait_text(&client, &cell(&first, "height"), "new blocks", |t| {
        t.parse::<u64>().is_ok_and(|h| h >= top + 3)
    })
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
    click_row(&client, &second, "restart").await;
    let restarted = wait_text(&client, &cell(&second, "result"), "the restart", |t| {
        t.starts_with("Restarted") || t.starts_with("Error")
    })
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
    click_row(&client, &third, "shutdown").await;
    wait_state(&client, &third, "stopped").await;
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
    let manager = start_manager_on(&temp.0, &dist, &port, None);
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

/// A manager started with `--token` (needs the manager's `--token` flag).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_enters_the_token_a_manager_asks_for() {
    let _alone = ONE_STORY_AT_A_TIME.lock().await;
    const TOKEN: &str = "e2e-token-5f3a9c";
    let dist = ensure_dist();
    let temp = TempDir::new();
    let manager = start_manager_on(&temp.0, &dist, "0", Some(TOKEN));
    let browser = Browser::chosen();
    let (_driver, client) = open_explorer(browser, &temp.0, &manager).await;

    // The rows are there (reads need no token), but the event stream does.
    wait_count(&client, "tbody tr", "three node rows", |n| n == 3).await;
    wait_text(&client, "#connection", "the offline badge", |t| {
        t.starts_with("Offline")
    })
    .await;
    let addresses: Vec<String> = futures_text(&client, "tbody tr th").await;
    let first = addresses[0].clone();
    wait_state(&client, &first, "running").await;

    // Without the token a click is refused, and the row says what to do.
    let result = cell(&first, "result");
    click_row(&client, &first, "mine").await;
    let refused = wait_text(&client, &result, "the refusal", |t| t.starts_with("Error")).await;
    assert!(refused.contains("the manager needs a token"), "{refused}");
    screenshot(&client, "09-token-needed").await;

    // A wrong token is refused too, in other words.
    enter_token(&client, "not-the-token").await;
    click_row(&client, &first, "mine").await;
    let wrong = wait_text(&client, &result, "the wrong token's refusal", |t| {
        t.starts_with("Error") && t != refused
    })
    .await;
    assert!(wrong.contains("refused the token"), "{wrong}");

    // With the right one the stream opens and the click works.
    enter_token(&client, TOKEN).await;
    wait_text(&client, "#connection", "the live badge", |t| t == "Live").await;
    let height = mine(&client, &first).await;
    assert!(height >= 1);
    wait_text(&client, &cell(&first, "height"), "the row's height", |t| {
        t == height.to_string()
    })
    .await;
    show(&client, "body").await;
    screenshot(&client, "10-token-accepted").await;

    // A reload in the same tab keeps the token.
    client.refresh().await.expect("the page reloads");
    wait_text(
        &client,
        "#connection",
        "the live badge after a reload",
        |t| t == "Live",
    )
    .await;
    let kept = client
        .find(Locator::Css("#token"))
        .await
        .expect("the token field")
        .prop("value")
        .await
        .expect("its value");
    assert_eq!(kept.as_deref(), Some(TOKEN));

    client.close().await.expect("the browser closes");
    drop(manager);
}

/// Types `token` into the token field and presses **Use token**.
async fn enter_token(client: &Client, token: &str) {
    fill(client, "#token", token).await;
    click(client, "form.token button[type=submit]").await;
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

async fn futures_text(client: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for el in client.find_all(Locator::Css(css)).await.unwrap_or_default() {
        out.push(el.text().await.unwrap_or_default());
    }
    out
}
