//! The manager's crash campaign, as a person runs it: `manager crash` kills
//! the manager with SIGKILL ten times at seeded random moments while all
//! three nodes mine (the nodes die with it), and restarts it each time on
//! the same data directory. Its report must say that no node was
//! orphaned, every node came back, no acknowledged block was lost, every
//! chain validated and the nodes agreed again after each kill; and that
//! blocks were acknowledged and looked up, so a campaign that quietly did
//! nothing cannot pass.

use std::process::Command;

use node::testing::node_program;
use serde_json::Value;

const KILLS: u64 = 10;
const NODES: u64 = 3;

#[test]
fn ten_sigkills_of_the_manager_orphan_no_node_and_lose_no_block() {
    let output = Command::new(env!("CARGO_BIN_EXE_manager"))
        .args(["crash", "--kills", &KILLS.to_string()])
        .args(["--nodes", &NODES.to_string(), "--seed", "17"])
        .arg("--node-bin")
        .arg(node_program())
        .output()
        .expect("run manager crash");
    let progress = String::from_utf8_lossy(&output.stderr);
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e}); progress:\n{progress}"));
    eprintln!("{progress}");
    assert!(output.status.success(), "{report:#}");
    assert_eq!(report["held"], true);
    assert_eq!(report["survived"], KILLS);
    for total in ["lost_total", "orphaned_total", "invalid_total"] {
        assert_eq!(report[total], 0, "{total}");
    }
    let records = report["records"].as_array().expect("records");
    assert_eq!(records.len() as u64, KILLS);
    for record in records {
        assert_eq!(record["nodes_back"], NODES, "{record}");
        assert!(record["converged_ms"].as_u64().is_some(), "{record}");
    }
    // Blocks were mined and acknowledged across the kills, and the later
    // checks looked each one up again on its node.
    let acknowledged = report["acknowledged_total"].as_u64().unwrap_or(0);
    assert!(acknowledged >= KILLS, "{report}");
    assert!(
        report["checked_total"].as_u64().unwrap_or(0) >= acknowledged,
        "{report}"
    );
}
