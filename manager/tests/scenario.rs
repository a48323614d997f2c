//! `manager scenario FILE`, as a user runs it: a file with a bad step is
//! refused with its line and starts nothing; a short partition-heal runs
//! end to end on real nodes and reports its figures; the shipped files
//! parse. Over HTTP: `GET /scenarios` lists the shipped ones, a bad
//! `POST /scenarios/run` is refused with a 4xx and starts nothing, and a
//! short run (`blocks`) mines fewer blocks and counts its steps.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::ManagerProcess;
use manager::scenario::Scenario;
use node::testing::node_program;
use serde_json::{Value, json};
use shared::api::ErrorBody;
use shared::scenario::{JobState, Report, ScenarioStatusBody, ScenariosBody};

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
        "selfish-connected.toml",
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shipped_scenarios_are_listed_and_documented() {
    let manager = ManagerProcess::start(1).await;
    let (status, body): (u16, ScenariosBody) = manager.get("/scenarios").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = body.scenarios.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "stale-rate",
            "partition-heal",
            "selfish",
            "selfish-connected",
            "double-spend"
        ]
    );
    let stale = &body.scenarios[0];
    assert!(stale.description.contains("latency"), "{stale:?}");
    assert_eq!((stale.nodes, stale.block_interval_ms), (5, 1000));
    // Two warm-up blocks, then four stretches of 40.
    assert_eq!(
        (stale.blocks, stale.max_mine_blocks),
        (162, 40),
        "{stale:?}"
    );
    assert!(stale.steps > 10, "{stale:?}");

    let (_, doc): (u16, Value) = manager.get("/openapi.json").await;
    let paths = &doc["paths"];
    assert!(paths["/scenarios"]["get"].is_object(), "GET /scenarios");
    let run = &paths["/scenarios/run"]["post"];
    assert!(run["responses"]["400"].is_object(), "{run}");
    node::testing::assert_documents_schemas(
        &doc,
        &[
            "ScenariosBody",
            "ScenarioInfo",
            "ScenarioRunRequest",
            "ScenarioStatusBody",
            "Report",
            "Measurement",
            "Check",
        ],
    );
    let blocks = &doc["components"]["schemas"]["ScenarioRunRequest"]["properties"]["blocks"];
    assert!(blocks.is_object(), "no blocks setting documented: {doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_run_request_is_refused_and_starts_nothing() {
    let manager = ManagerProcess::start(1).await;
    let cases = [
        (json!({"name": "stale-rate", "blocks": 0}), 400, "blocks"),
        (
            json!({"name": "stale-rate", "blocks": 10_001}),
            400,
            "blocks",
        ),
        (json!({"name": "stale-rate", "blocks": -3}), 422, "blocks"),
        (
            json!({"name": "stale-rate", "blocks": "few"}),
            422,
            "blocks",
        ),
        (json!({"name": "stale-rate", "speed": 2}), 422, "speed"),
        (json!({"blocks": 5}), 422, "name"),
        (json!({"name": "nope", "blocks": 5}), 404, "stale-rate"),
    ];
    for (body, status, names) in cases {
        let (got, error): (u16, ErrorBody) = manager.post_json("/scenarios/run", &body).await;
        assert_eq!(got, status, "{body}: {}", error.error);
        assert!(
            error.error.contains(names),
            "{body}: {:?} does not name {names}",
            error.error
        );
    }
    let (status, error) = manager.post_raw("/scenarios/run", "{not json").await;
    assert!((400..500).contains(&status), "{status}: {}", error.error);
    let (_, after): (u16, ScenarioStatusBody) = manager.get("/scenarios/status").await;
    assert_eq!(
        after.state,
        JobState::Idle,
        "a refused run started: {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_run_mines_at_most_its_blocks_in_each_stretch() {
    use std::time::Duration;

    let manager = ManagerProcess::start_in_ram_with(1, &[]).await;
    let (status, started): (u16, ScenarioStatusBody) = manager
        .post_json(
            "/scenarios/run",
            &json!({"name": "stale-rate", "blocks": 3}),
        )
        .await;
    assert_eq!((status, started.state), (202, JobState::Running));
    assert_eq!(started.blocks, Some(3));
    assert!(started.steps > 10, "{started:?}");
    let steps_seen = std::cell::RefCell::new(Vec::new());
    let done = common::wait_until(
        "the short stale-rate run to end",
        600,
        Duration::from_millis(500),
        || async {
            let (_, body): (u16, ScenarioStatusBody) = manager.get("/scenarios/status").await;
            steps_seen.borrow_mut().push(body.step);
            (body.state != JobState::Running).then_some(body)
        },
    )
    .await;
    let steps_seen = steps_seen.into_inner();
    assert_eq!(done.state, JobState::Done, "{:?}", done.error);
    assert_eq!(done.step, done.steps, "the last step is the last one");
    assert!(
        steps_seen.windows(2).all(|w| w[0] <= w[1]),
        "the step went back: {steps_seen:?}"
    );
    let report = done.report.expect("a report");
    assert_eq!(report.measurements.len(), 4);
    for measurement in &report.measurements {
        // Each stretch stops once the best height grew by 3, not 40: the
        // cap is on the best chain. Blocks found can be many more, since
        // at 1000 ms a block goes stale with probability 0.7-0.95 (the
        // run's own expectation), so three on the best chain take about
        // ten or more found (a run found 11, 7 of them stale).
        assert!(
            (3..=8).contains(&measurement.best_chain_blocks),
            "{measurement:?}"
        );
        assert!(
            measurement.blocks_found >= measurement.best_chain_blocks,
            "{measurement:?}"
        );
        assert!(
            measurement.checks.iter().any(|c| c.figure == "stale_rate"),
            "{measurement:?}"
        );
    }
}
