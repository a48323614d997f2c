//! `manager scenario FILE`, as a user runs it: a file with a bad step is
//! refused with its line and starts nothing; a short partition-heal runs
//! end to end on real nodes and reports its figures; the shipped files
//! parse.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use manager::scenario::Scenario;
use manager::scenario::report::Report;
use node::testing::node_program;

/// A short scenario's whole run, nodes' start and stop included.
const RUN_TIMEOUT: Duration = Duration::from_secs(180);

fn test_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name)
}

/// `manager scenario FILE --data-dir DIR`, killed if it outlives `RUN_TIMEOUT`.
fn run_scenario(file: &Path, data_dir: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_manager"))
        .arg("scenario")
        .arg(file)
        .arg("--data-dir")
        .arg(data_dir)
        .arg("--node-bin")
        .arg(node_program())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the manager");
    let began = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if began.elapsed() > RUN_TIMEOUT {
            let _ = child.kill();
            let output = child.wait_with_output().expect("output");
            panic!(
                "the scenario ran over {} s; stderr:\n{}",
                RUN_TIMEOUT.as_secs(),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().expect("output")
}

/// Nodes put their store and log in the data directory: an empty or
/// missing one means none started.
fn nothing_started(data_dir: &Path) -> bool {
    std::fs::read_dir(data_dir).map_or(true, |mut entries| entries.next().is_none())
}

#[test]
fn an_unknown_step_is_refused_with_its_line_and_nothing_runs() {
    let data = tempfile::tempdir().unwrap();
    let nodes = data.path().join("nodes");
    let output = run_scenario(&test_file("unknown-step.toml"), &nodes);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("line 10"), "{stderr}");
    assert!(stderr.contains("teleport"), "{stderr}");
    assert!(nothing_started(&nodes), "a node started: {stderr}");
    assert!(output.stdout.is_empty(), "a report was printed");
}

#[test]
fn a_malformed_step_is_refused_with_its_line_and_nothing_runs() {
    let data = tempfile::tempdir().unwrap();
    let nodes = data.path().join("nodes");
    let output = run_scenario(&test_file("malformed-step.toml"), &nodes);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    // A value serde refuses inside a step is reported at the step's
    // `[[step]]` line (toml buffers a tagged step before it is read).
    assert!(stderr.contains("line 5"), "{stderr}");
    assert!(stderr.contains("-4"), "{stderr}");
    assert!(nothing_started(&nodes), "a node started: {stderr}");
}

#[test]
fn the_shipped_scenarios_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for name in [
        "stale-rate.toml",
        "partition-heal.toml",
        "selfish.toml",
        "double-spend.toml",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let scenario = Scenario::parse(&text).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert!(!scenario.steps.is_empty(), "{name} has no steps");
        assert_eq!(format!("{}.toml", scenario.name), name);
    }
}

#[test]
fn a_short_partition_heal_runs_end_to_end_and_reports_its_figures() {
    let data = tempfile::tempdir_in("/dev/shm")
        .or_else(|_| tempfile::tempdir())
        .unwrap();
    let output = run_scenario(
        &test_file("partition-short.toml"),
        &data.path().join("nodes"),
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "stderr:\n{stderr}");
    // The JSON report first, the table after it.
    let report: Report = serde_json::Deserializer::from_str(&stdout)
        .into_iter()
        .next()
        .expect("a JSON report")
        .unwrap_or_else(|err| panic!("{err}: {stdout}"));
    assert_eq!(report.scenario, "partition-short");
    assert_eq!(report.nodes, 3);
    assert_eq!(report.measurements.len(), 1, "{stdout}");
    let measurement = &report.measurements[0];
    assert_eq!(measurement.label, "2/1 for 4 blocks");
    assert_eq!(measurement.miners.len(), 3);
    assert!(measurement.best_chain_blocks >= 4, "{stdout}");
    let check = |figure: &str| {
        measurement
            .checks
            .iter()
            .find(|check| check.figure == figure)
            .unwrap_or_else(|| panic!("no {figure} check: {stdout}"))
            .clone()
    };
    // Every block of the losing branch is orphaned, and its node reorgs
    // by at least the branch's length (races inside a group add more).
    let stale = check("stale_blocks");
    assert!(stale.measured >= stale.expected, "{stdout}");
    let depth = check("max_reorg_depth");
    assert!(depth.measured >= depth.expected, "{stdout}");
    assert!(stdout.contains("measure") && stdout.contains("max_reorg_depth"));
    assert!(
        stderr.contains("[7/7] measure"),
        "no progress lines: {stderr}"
    );
}
