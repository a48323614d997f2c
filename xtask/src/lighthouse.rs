//! `cargo xtask lighthouse`: build everything in release, start a manager
//! with three regtest nodes on a free port, and let Lighthouse (desktop
//! preset, headless Chromium) score the explorer it serves. Prints one JSON
//! line per run and one with the medians; the full reports stay in
//! `target/lighthouse/`. Scores depend on the machine's load, so this is a
//! benchmark, not a test.

use crate::{cmd, install, up};
use anyhow::{Context, Result, bail};
use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};

#[derive(clap::Args)]
pub struct Args {
    /// How many times Lighthouse loads the page
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    runs: u32,
}

/// The manager's arguments: a free port, three regtest nodes on free ports.
const NETWORK: &str = "-p 0 --node-port 0 -a 3 --chain regtest";

/// The figures kept from one report.
const AUDITS: &[&str] = &[
    "first-contentful-paint",
    "largest-contentful-paint",
    "total-blocking-time",
    "cumulative-layout-shift",
    "speed-index",
];

/// The manager under test, in a process group of its own that is killed
/// (with its nodes) when this is dropped.
struct Manager(Child);

impl Drop for Manager {
    fn drop(&mut self) {
        let group = format!("-{}", self.0.id());
        let _ = cmd::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.0.wait();
    }
}

pub fn run(args: &Args) -> Result<()> {
    install::chromium()?;
    let lighthouse = install::lighthouse()?;
    up::build_release()?;

    let data = cmd::target_dir().join("lighthouse");
    let _ = std::fs::remove_dir_all(data.join("nodes"));
    std::fs::create_dir_all(&data)?;
    let mut manager = up::release_manager(NETWORK.split(' '));
    manager
        .arg("--data-dir")
        .arg(data.join("nodes"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut manager, 0);
    let mut manager = Manager(manager.spawn().context("start the manager")?);
    let url = announced_url(&mut manager.0)?;
    println!("==> the manager serves the explorer at {url}");

    let mut runs = Vec::new();
    for run in 1..=args.runs {
        let report = data.join(format!("report-{run}.json"));
        let profile = data.join(format!("chromium-profile-{run}"));
        let _ = std::fs::remove_dir_all(&profile);
        let mut command = cmd::new(&lighthouse);
        command
            .arg(&url)
            .args([
                "--preset=desktop",
                "--only-categories=performance,accessibility",
                "--output=json",
                "--quiet",
            ])
            .arg(format!("--output-path={}", report.display()))
            .arg(format!(
                "--chrome-flags=--headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
                 --user-data-dir={}",
                profile.display()
            ))
            .env("CHROME_PATH", install::CHROMIUM);
        cmd::run_reaping_group(&mut command)?;
        let figures = figures(&std::fs::read_to_string(&report)?)?;
        println!("{figures}");
        runs.push(figures);
    }
    println!("{}", medians(&runs));
    Ok(())
}

/// Reads the manager's stdout until it says where it listens and that the
/// network is ready; the rest of its output is drained on a thread. A
/// manager that fails exits, which ends the stream.
fn announced_url(manager: &mut Child) -> Result<String> {
    let mut lines = BufReader::new(manager.stdout.take().context("manager stdout")?).lines();
    let mut url = None;
    for line in lines.by_ref().map_while(Result::ok) {
        if let Some(address) = line.trim().strip_prefix("manager listening on http://") {
            url = Some(format!("http://{}/", address.trim_end_matches('/')));
        } else if line.starts_with("network ready") {
            std::thread::spawn(move || lines.for_each(drop));
            return url.context("the manager said ready before saying where it listens");
        }
    }
    bail!("the manager exited before its network was ready")
}

/// One run's scores and timings as a JSON object.
fn figures(report: &str) -> Result<serde_json::Value> {
    let report: serde_json::Value = serde_json::from_str(report)?;
    let mut figures = serde_json::Map::new();
    for category in ["performance", "accessibility"] {
        figures.insert(
            category.into(),
            report["categories"][category]["score"].clone(),
        );
    }
    for audit in AUDITS {
        let value = &report["audits"][audit]["numericValue"];
        figures.insert((*audit).into(), value.clone());
    }
    Ok(serde_json::Value::Object(figures))
}

/// The median of every figure over the runs.
fn medians(runs: &[serde_json::Value]) -> serde_json::Value {
    let mut medians = serde_json::Map::new();
    medians.insert("runs".into(), runs.len().into());
    let names = ["performance", "accessibility"]
        .into_iter()
        .chain(AUDITS.iter().copied());
    for name in names {
        let mut values: Vec<f64> = runs.iter().filter_map(|r| r[name].as_f64()).collect();
        values.sort_by(f64::total_cmp);
        if let Some(median) = values.get(values.len() / 2) {
            medians.insert(format!("median_{name}"), (*median).into());
        }
    }
    serde_json::Value::Object(medians)
}
