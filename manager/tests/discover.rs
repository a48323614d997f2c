//! `--discover NAME:PORT`: a manager that starts no node of its own finds
//! real nodes behind a name that resolves to several addresses, as a
//! Kubernetes headless Service or a Compose service name does. The name
//! resolves through a hosts-format file (`--hosts-file`), and the nodes
//! listen on 127.0.0.2, .3 and .4, all on one port, as pods would on their
//! own IPs: Linux routes all of 127.0.0.0/8 to the loopback interface.
//!
//! Nodes come (attached, linked, mining converges), go (marked stopped)
//! and come back (followed again, in the same row).

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{ManagerProcess, OwnNode, port_of, wait_until};
use node::testing::{ANNOUNCE_TIMEOUT, NODE_READY, node_program, spawn_announced};
use shared::api::{MinedBody, NodeState, NodeSummary};

/// A regtest node on `host:port` (port 0: any), its store under `data`.
fn node_at(data: &Path, host: &str, port: u16) -> OwnNode {
    let mut command = Command::new(node_program());
    command
        .args([
            "--chain",
            "regtest",
            "--host",
            host,
            "-p",
            &port.to_string(),
        ])
        .arg("--data-dir")
        .arg(data.join(host))
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    OwnNode(
        spawn_announced(&mut command, NODE_READY, ANNOUNCE_TIMEOUT)
            .unwrap_or_else(|err| panic!("{err}")),
    )
}

fn hosts(path: &Path, ips: &[&str]) {
    let text: String = ips.iter().map(|ip| format!("{ip} nodes\n")).collect();
    std::fs::write(path, format!("# written by the discover test\n{text}")).unwrap();
}

/// The rows, by address, once `ready` holds for them.
async fn wait_for_rows(
    manager: &ManagerProcess,
    what: &str,
    ready: impl Fn(&[NodeSummary]) -> bool,
) -> Vec<NodeSummary> {
    wait_until(what, 120, Duration::from_millis(250), || async {
        let mut rows = manager.nodes().await;
        rows.sort_by(|a, b| a.address.cmp(&b.address));
        ready(&rows).then_some(rows)
    })
    .await
}

fn states(rows: &[NodeSummary]) -> Vec<(String, NodeState)> {
    rows.iter()
        .map(|row| (row.address.clone(), row.state))
        .collect()
}

#[tokio::test]
async fn nodes_behind_a_name_are_attached_stopped_and_followed_again_as_they_come_and_go() {
    let dir = tempfile::tempdir().unwrap();
    let first = node_at(dir.path(), "127.0.0.2", 0);
    let port = port_of(&first.0.rest);
    let _second = node_at(dir.path(), "127.0.0.3", port);
    let _third = node_at(dir.path(), "127.0.0.4", port);
    let [a, b, c] = ["127.0.0.2", "127.0.0.3", "127.0.0.4"].map(|ip| format!("{ip}:{port}"));

    let hosts_file = dir.path().join("hosts");
    hosts(&hosts_file, &["127.0.0.2", "127.0.0.3"]);
    let target = format!("nodes:{port}");
    let manager = ManagerProcess::start_with(
        0,
        &[
            "--discover",
            &target,
            "--hosts-file",
            hosts_file.to_str().unwrap(),
        ],
    )
    .await;

    // Two behind the name: both attached.
    let running = |rows: &[NodeSummary], want: &[&String]| {
        rows.len() == want.len()
            && rows
                .iter()
                .zip(want)
                .all(|(row, address)| row.address == **address && row.state == NodeState::Running)
    };
    wait_for_rows(&manager, "the two nodes behind the name attached", |rows| {
        running(rows, &[&a, &b])
    })
    .await;

    // A third appears: attached too, and linked with the others, so a block
    // mined on it reaches them.
    hosts(&hosts_file, &["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
    let rows = wait_for_rows(&manager, "the third node attached", |rows| {
        running(rows, &[&a, &b, &c])
    })
    .await;
    let (code, mined): (u16, MinedBody) =
        manager.post(&format!("/nodes/{}/mine", rows[2].id)).await;
    assert_eq!(code, 200);
    let statuses = manager.converged(mined.block.header.index).await;
    assert_eq!(statuses.len(), 3);

    // One leaves the name: stopped, the others still running.
    hosts(&hosts_file, &["127.0.0.2", "127.0.0.4"]);
    let rows = wait_for_rows(&manager, "the node gone from the name stopped", |rows| {
        rows.len() == 3 && rows[1].state == NodeState::Stopped
    })
    .await;
    assert_eq!(
        states(&rows),
        [
            (a.clone(), NodeState::Running),
            (b.clone(), NodeState::Stopped),
            (c.clone(), NodeState::Running)
        ]
    );
    let id_of_b = rows[1].id.clone();

    // It comes back: the same row runs again, no new one.
    hosts(&hosts_file, &["127.0.0.2", "127.0.0.3", "127.0.0.4"]);
    let rows = wait_for_rows(
        &manager,
        "the node back behind the name followed again",
        |rows| running(rows, &[&a, &b, &c]),
    )
    .await;
    assert_eq!(rows[1].id, id_of_b);
    let (code, mined): (u16, MinedBody) =
        manager.post(&format!("/nodes/{}/mine", rows[0].id)).await;
    assert_eq!(code, 200);
    manager.converged(mined.block.header.index).await;
}

#[test]
fn a_discover_target_without_a_port_stops_the_manager_with_a_message() {
    let out = Command::new(env!("CARGO_BIN_EXE_manager"))
        .args(["-p", "0", "-a", "0", "--discover", "node-headless"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--discover wants NAME:PORT"), "{stderr}");
}
