//! Schemathesis (PyPI; `cargo xtask test` installs it) against a live node
//! and a live manager, each read from its own `/openapi.json`, the way a
//! user would point it at them: every operation with valid and invalid
//! input (examples, coverage and fuzzing), then chains of calls (the
//! stateful phase, over the links it infers between operations).
//!
//! - No answer is a 5xx, and every answer has a documented status,
//!   content type and schema.
//! - A refused request changes nothing: `schemathesis_hooks.py` reads what
//!   a user can see before and after every request that may change
//!   something, and logs whether a refused one left it as it was.
//!
//! The paths that stop things (`/shutdown`, `/shutdown/all`,
//! `/nodes/{id}/shutdown`) are left out; the seed is fixed, so a failure
//! can be replayed.

mod common;

use std::path::Path;
use std::process::Command;

use common::ManagerProcess;
use node::testing::TestNode;
use serde_json::Value;

const TOKEN: &str = "schemathesis-token";
const SEED: &str = "17";
/// What every answer is checked for.
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance";

/// What one run tried and found: schemathesis's JSON report, and the
/// hooks' log of refused requests.
#[derive(Debug)]
struct Run {
    test_cases: u64,
    with_failures: u64,
    errored: u64,
    /// Refused requests whose state was compared before and after.
    refusals_checked: usize,
    /// Of those, skipped because something was mining.
    refusals_busy: usize,
    changed: Vec<String>,
    output: String,
}

/// Runs schemathesis on the document at `base` (a `kind` process) with the
/// token, every phase, `max_examples` per operation, leaving out `stopping`.
fn schemathesis(kind: &str, base: &str, stopping: &[&str], max_examples: u32) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("refusals.log");
    let report = dir.path().join("report.json");
    let hooks = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis_hooks.py");
    let mut command = Command::new("schemathesis");
    command
        .args(["--no-color", "run"])
        .arg(format!("{base}/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {TOKEN}")])
        .args([
            "--seed",
            SEED,
            "--request-timeout",
            "30",
            "--checks",
            CHECKS,
        ])
        .args(["--max-examples", &max_examples.to_string()])
        .args(["--report", "json", "--report-json-path"])
        .arg(&report)
        // Its caches (`.schemathesis`, `.hypothesis`) go with the run.
        .current_dir(dir.path())
        .env("SCHEMATHESIS_HOOKS", &hooks)
        .env("POWPLAY_ST_BASE", base)
        .env("POWPLAY_ST_KIND", kind)
        .env("POWPLAY_ST_LOG", &log);
    for path in stopping {
        command.args(["--exclude-path", path]);
    }
    let output = command.output().unwrap_or_else(|e| {
        panic!(
            "cannot run schemathesis ({e}); `cargo xtask test` installs it, \
             or `pip install schemathesis`"
        )
    });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let report = std::fs::read(&report)
        .unwrap_or_else(|e| panic!("no report from schemathesis ({e}):\n{text}"));
    let report: Value = serde_json::from_slice(&report).expect("a JSON report");
    let count = |field: &str| report["test_cases"][field].as_u64().unwrap_or(u64::MAX);
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    Run {
        test_cases: count("generated"),
        with_failures: count("with_failures"),
        errored: count("errored"),
        refusals_checked: log.lines().filter(|l| *l == "ok").count(),
        refusals_busy: log.lines().filter(|l| *l == "busy").count(),
        changed: log
            .lines()
            .filter(|l| l.starts_with("changed"))
            .map(str::to_owned)
            .collect(),
        output: text,
    }
}

/// Panics unless `run` found nothing wrong and tried at least `at_least`
/// test cases; prints its figures.
fn assert_clean(what: &str, run: &Run, at_least: u64) {
    eprintln!(
        "schemathesis: {what}: {} test cases, {} with failures, {} errored; \
         {} refused requests left everything as it was, {} were not checked (mining), {} changed something",
        run.test_cases,
        run.with_failures,
        run.errored,
        run.refusals_checked,
        run.refusals_busy,
        run.changed.len()
    );
    assert!(
        run.with_failures == 0 && run.errored == 0,
        "{what}:\n{}",
        run.output
    );
    assert!(
        run.changed.is_empty(),
        "{what}: refused requests changed things:\n{}",
        run.changed.join("\n")
    );
    assert!(
        run.refusals_checked >= 100,
        "{what}: only {} refusals checked",
        run.refusals_checked
    );
    assert!(
        run.test_cases >= at_least,
        "{what}: only {} test cases",
        run.test_cases
    );
}

#[test]
fn schemathesis_finds_no_5xx_and_no_refusal_that_changed_a_node() {
    let data = tempfile::tempdir().unwrap();
    let node = TestNode::start_in(data.path(), &["--token", TOKEN]);
    let base = node.url("");
    let run = schemathesis("node", base.trim_end_matches('/'), &["/shutdown"], 240);
    assert_clean("node", &run, 5_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_no_5xx_and_no_refusal_that_changed_the_manager() {
    let manager = ManagerProcess::start_with(2, &["--token", TOKEN]).await;
    let url = manager.url.clone();
    let run = tokio::task::spawn_blocking(move || {
        schemathesis(
            "manager",
            &url,
            &["/shutdown/all", "/nodes/{id}/shutdown"],
            180,
        )
    })
    .await
    .unwrap();
    assert_clean("manager", &run, 5_000);
}
