//! The one-machine scale benchmark: `manager -a N --chain regtest` (the
//! default topology, random:8 beyond 8 nodes), measured from outside as a
//! person would see it. One JSON line on stdout:
//!
//! - `ready_s`: from starting the manager to its `network ready` line;
//! - `rss_mb_mean`, `rss_mb_max`: each node's resident memory once idle,
//!   and `pss_mb_mean`, the same with the pages nodes share (the binary's
//!   code, libc) divided among them;
//! - `idle_cpu_pct_of_one_core`: every node's CPU time over `--idle-s`
//!   seconds (30) while nothing is mined, as a share of one core; the
//!   manager's own is `manager_idle_cpu_pct`;
//! - `rounds`, `rounds_on_one_tip`: blocks mined one at a time on a random
//!   node, and after how many of them every node reached the same tip
//!   (within 60 s each);
//! - `propagation_to_100_p99_ms`: the manager's `/stats` figure;
//! - `left_behind`: node processes still alive after `/shutdown/all`.
//!
//! ```sh
//! cargo build --release -p manager -p node
//! cargo run --release -p manager --example scale -- --nodes 500
//! ```
//!
//! `--rounds R` (100) and `--idle-s S` change the run. Progress on stderr.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::json;
use shared::api::{MinedBody, NodeState, NodesBody};
use shared::stats::NetworkStats;

struct Setting {
    nodes: u16,
    rounds: u64,
    idle_s: u64,
}

fn parse_args() -> Setting {
    let mut setting = Setting {
        nodes: 500,
        rounds: 100,
        idle_s: 30,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--nodes" => setting.nodes = value.parse().expect("--nodes N"),
            "--rounds" => setting.rounds = value.parse().expect("--rounds R"),
            "--idle-s" => setting.idle_s = value.parse().expect("--idle-s S"),
            other => panic!("unknown flag {other}; see the example's doc comment"),
        }
    }
    setting
}

/// `target/release/NAME`, next to this example's own directory.
fn release_binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("own path");
    let dir = exe.parent().and_then(Path::parent).expect("target/release");
    let path = dir.join(name);
    assert!(
        path.exists(),
        "{} is missing: cargo build --release -p manager -p node",
        path.display()
    );
    path
}

/// utime + stime of `pid`, in clock ticks; `None` once it is gone.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = stat.rsplit(')').next()?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, utime 14, stime 15 (1-based).
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// `field` of `pid`'s `/proc` file `file`, in kB: VmRSS in `status`, Pss
/// in `smaps_rollup`.
fn memory_kb(pid: u32, file: &str, field: &str) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/{file}")).ok()?;
    let line = text.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| stat.rsplit(')').next().map(str::to_owned))
        .and_then(|rest| rest.split_whitespace().next().map(str::to_owned))
        .is_some_and(|state| state != "Z" && state != "X")
}

fn ticks_per_s() -> f64 {
    // The kernel's USER_HZ, 100 on every Linux this runs on.
    100.0
}

async fn get<T: DeserializeOwned>(http: &reqwest::Client, url: &str) -> T {
    http.get(url)
        .send()
        .await
        .and_then(|r| r.error_for_status())
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"))
}

#[tokio::main]
async fn main() {
    let setting = parse_args();
    let data = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let mut manager = Command::new(release_binary("manager"))
        .args(["-p", "0", "--node-port", "0", "--chain", "regtest"])
        .args(["-a", &setting.nodes.to_string()])
        .arg("--data-dir")
        .arg(data.path())
        .arg("--node-bin")
        .arg(release_binary("node"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("manager");
    let mut lines = BufReader::new(manager.stdout.take().unwrap()).lines();
    let mut base = None;
    let ready_s = loop {
        let line = lines
            .next()
            .expect("the manager ended before its network was ready")
            .expect("manager stdout");
        if let Some(rest) = line.strip_prefix("manager listening on ") {
            base = Some(rest.trim().to_owned());
        }
        if line.starts_with("network ready: ") {
            break started.elapsed().as_secs_f64();
        }
    };
    let base = base.expect("a listening line before the ready line");
    eprintln!("scale: {} nodes ready in {ready_s:.1} s", setting.nodes);
    // The rest of its stdout is not read; keep the pipe drained.
    std::thread::spawn(move || for _ in lines {});

    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let nodes: NodesBody = get(&http, &format!("{base}/nodes")).await;
    let pids: Vec<u32> = nodes.nodes.iter().filter_map(|n| n.pid).collect();
    let ids: Vec<String> = nodes.nodes.iter().map(|n| n.id.clone()).collect();

    // Idle: let start-up settle, then memory and CPU.
    tokio::time::sleep(Duration::from_secs(10)).await;
    let mean_mb = |kb: &[u64]| kb.iter().sum::<u64>() as f64 / kb.len().max(1) as f64 / 1024.0;
    let rss: Vec<u64> = pids
        .iter()
        .filter_map(|&pid| memory_kb(pid, "status", "VmRSS:"))
        .collect();
    let pss: Vec<u64> = pids
        .iter()
        .filter_map(|&pid| memory_kb(pid, "smaps_rollup", "Pss:"))
        .collect();
    let rss_mb_mean = mean_mb(&rss);
    let pss_mb_mean = mean_mb(&pss);
    let rss_mb_max = rss.iter().copied().max().unwrap_or(0) as f64 / 1024.0;
    let before: Vec<u64> = pids
        .iter()
        .map(|&pid| cpu_ticks(pid).unwrap_or(0))
        .collect();
    let manager_before = cpu_ticks(manager.id()).unwrap_or(0);
    let idle = Instant::now();
    tokio::time::sleep(Duration::from_secs(setting.idle_s)).await;
    let idle_elapsed = idle.elapsed().as_secs_f64();
    let after: Vec<u64> = pids
        .iter()
        .map(|&pid| cpu_ticks(pid).unwrap_or(0))
        .collect();
    let manager_after = cpu_ticks(manager.id()).unwrap_or(0);
    let node_ticks: u64 = after
        .iter()
        .zip(&before)
        .map(|(a, b)| a.saturating_sub(*b))
        .sum();
    let pct = |ticks: u64| ticks as f64 / ticks_per_s() / idle_elapsed * 100.0;
    let idle_cpu = pct(node_ticks);
    let manager_idle_cpu = pct(manager_after.saturating_sub(manager_before));
    eprintln!(
        "scale: idle RSS {rss_mb_mean:.1} MB mean ({rss_mb_max:.1} max, PSS {pss_mb_mean:.1}), CPU {idle_cpu:.1} % of a core (manager {manager_idle_cpu:.1} %)"
    );

    // Rounds: one block at a time on a random node, then every node on it.
    let mut on_one_tip = 0;
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for round in 0..setting.rounds {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let id = &ids[(seed % ids.len() as u64) as usize];
        let mined: MinedBody = http
            .post(format!("{base}/nodes/{id}/mine"))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("mine")
            .json()
            .await
            .expect("mined body");
        let hash = mined.block.hash;
        let deadline = Instant::now() + Duration::from_secs(60);
        let reached = loop {
            let nodes: NodesBody = get(&http, &format!("{base}/nodes")).await;
            let running = nodes.nodes.iter().filter(|n| n.state == NodeState::Running);
            if running.clone().all(|n| n.best_hash == Some(hash)) {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        on_one_tip += u64::from(reached);
        if round % 10 == 9 {
            eprintln!("scale: {} rounds, {on_one_tip} on one tip", round + 1);
        }
    }
    let stats: NetworkStats = get(&http, &format!("{base}/stats")).await;

    let _ = http.get(format!("{base}/shutdown/all")).send().await;
    let _ = manager.wait();
    // The manager waits for every node it stopped; give the kernel a moment
    // to reap the last ones before counting.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let left_behind = pids.iter().filter(|&&pid| alive(pid)).count();

    println!(
        "{}",
        json!({
            "nodes": setting.nodes,
            "ready_s": (ready_s * 10.0).round() / 10.0,
            "rss_mb_mean": (rss_mb_mean * 10.0).round() / 10.0,
            "rss_mb_max": (rss_mb_max * 10.0).round() / 10.0,
            "pss_mb_mean": (pss_mb_mean * 10.0).round() / 10.0,
            "idle_cpu_pct_of_one_core": (idle_cpu * 10.0).round() / 10.0,
            "manager_idle_cpu_pct": (manager_idle_cpu * 10.0).round() / 10.0,
            "idle_s": setting.idle_s,
            "rounds": setting.rounds,
            "rounds_on_one_tip": on_one_tip,
            "propagation_to_100_p99_ms": stats.propagation.to_100.p99_ms,
            "propagation_blocks": stats.propagation.to_100.blocks,
            "left_behind": left_behind,
        })
    );
}
