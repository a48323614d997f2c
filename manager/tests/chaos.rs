//! The chaos run's short version: `manager chaos` for 60 s on 12 nodes,
//! the real program as a person runs it. Its report must say that every
//! invariant held, and that the run did each kind of thing it does, so a
//! run that quietly did nothing cannot pass.

use std::process::Command;

use node::testing::node_program;
use serde_json::Value;

#[test]
fn sixty_seconds_of_chaos_on_twelve_nodes_break_no_invariant() {
    let output = Command::new(env!("CARGO_BIN_EXE_manager"))
        .args(["chaos", "--nodes", "12", "--seconds", "60", "--seed", "17"])
        .arg("--node-bin")
        .arg(node_program())
        .output()
        .expect("run manager chaos");
    let progress = String::from_utf8_lossy(&output.stderr);
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}); progress:\n{progress}"));
    eprintln!("{}", serde_json::to_string_pretty(&report).unwrap());
    assert!(output.status.success(), "progress:\n{progress}");
    assert_eq!(report["held"], true);
    for list in ["invalid_best_chains", "lost_blocks", "server_errors"] {
        assert_eq!(report[list].as_array().map(Vec::len), Some(0), "{list}");
    }
    assert!(
        report["converged_after_ms"]
            .as_u64()
            .is_some_and(|ms| ms <= 30_000)
    );
    let actions = report["actions"].as_object().expect("actions");
    let did = |what: &str| actions.get(what).and_then(Value::as_u64).unwrap_or(0);
    for what in ["partition", "links_shaped", "kill", "restart"] {
        assert!(did(what) >= 1, "no {what} in 60 s: {actions:?}");
    }
    assert!(
        did("forger_on") + did("selfish_on") >= 1,
        "no attack: {actions:?}"
    );
    assert!(
        report["blocks_mined"].as_u64().unwrap_or(0) >= 10,
        "{report}"
    );
    assert!(report["chains_validated"].as_u64().unwrap_or(0) >= 12);
    assert!(report["acknowledged_checked"].as_u64().unwrap_or(0) >= 10);
}
