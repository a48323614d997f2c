//! Stories of a user driving a network through the manager: real manager
//! and node processes on free ports, real HTTP and WebSocket.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{ManagerProcess, get_from_node, port_free, port_of, wait_until};
use manager::own_manager::process_alive;
use node::testing::TestNode;
use shared::api::{
    AttachRequest, ChainBody, MessageBody, MinedBody, NodeIdBody, NodeState, NodeSummary,
    ShutdownReport, StatusBody,
};
use shared::events::EventKind;

/// Ask a node directly (not through the manager) whom it knows.
async fn peers_of(address: &str) -> BTreeSet<String> {
    let (_, body): (u16, NodeIdBody) = get_from_node(&format!("http://{address}/node/id")).await;
    body.nodes.into_keys().collect()
}

/// The node's peer table holds every id in `all` but its own.
async fn assert_knows_all_others(node: &NodeSummary, all: &BTreeSet<String>) {
    let mut others = all.clone();
    others.remove(&node.id);
    assert_eq!(
        peers_of(&node.address).await,
        others,
        "peers of {}",
        node.id
    );
}

fn ids(nodes: &[NodeSummary]) -> BTreeSet<String> {
    nodes.iter().map(|node| node.id.clone()).collect()
}

/// A manager that spawned `count` nodes: it, its nodes and their pids.
async fn spawned(count: u16) -> (ManagerProcess, Vec<NodeSummary>, Vec<u32>) {
    let manager = ManagerProcess::start(count).await;
    let nodes = manager.nodes().await;
    let pids: Vec<u32> = nodes.iter().filter_map(|node| node.pid).collect();
    assert_eq!(pids.len(), usize::from(count), "a pid per node: {nodes:?}");
    (manager, nodes, pids)
}

/// The manager said `network ready: <count> nodes` and lists `count`
/// running nodes with distinct ids, each knowing all the others; they are
/// returned.
async fn ready_nodes(manager: &ManagerProcess, count: usize) -> Vec<NodeSummary> {
    assert!(
        manager
            .ready_line
            .starts_with(&format!("network ready: {count} nodes")),
        "{}",
        manager.ready_line
    );
    let nodes = manager.nodes().await;
    assert_eq!(nodes.len(), count);
    let all = ids(&nodes);
    assert_eq!(all.len(), count, "distinct ids: {nodes:?}");
    for node in &nodes {
        assert_eq!(node.state, NodeState::Running, "{node:?}");
        assert_knows_all_others(node, &all).await;
    }
    nodes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_network_is_registered_and_mines_to_one_tip_in_the_background() {
    let manager = ManagerProcess::start(3).await;
    for node in &ready_nodes(&manager, 3).await {
        assert!(node.pid.is_some(), "spawned nodes have a pid: {node:?}");
        assert_eq!(node.height, Some(0), "a fresh node is at genesis: {node:?}");
    }

    let (status, body): (u16, MessageBody) = manager.get("/start/mining?blocks=5").await;
    assert_eq!(status, 202, "{body:?}");
    // The answer came before the work: rounds ask the first node only after 1-3 s.
    let heights: Vec<u64> = manager
        .statuses()
        .await
        .iter()
        .map(|status| status.height)
        .collect();
    assert!(heights.iter().all(|&height| height < 5), "{heights:?}");

    let statuses = manager.converged(5).await;
    let tip = statuses[0].best_hash;
    let table = manager.nodes().await;
    wait_until(
        "the node table to show the tip",
        40,
        Duration::from_millis(250),
        || async {
            let table = manager.nodes().await;
            table
                .iter()
                .all(|node| node.best_hash == Some(tip))
                .then_some(())
        },
    )
    .await;
    assert_eq!(table.len(), 3);

    let (status, body): (u16, MessageBody) = manager.get("/stop/mining").await;
    assert_eq!(status, 200, "{body:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_node_forks_and_reorganizes_when_it_reconnects() {
    let manager = ManagerProcess::start(3).await;
    let mut events = manager.events().await;
    let first = events.next().await;
    let EventKind::Snapshot { nodes, tips } = &first.kind else {
        panic!("the first event is not a snapshot: {first:?}");
    };
    assert_eq!(nodes.len(), 3);
    assert_eq!(tips.len(), 3, "tips of every node: {tips:?}");

    let table = manager.nodes().await;
    let (a, b, c) = (&table[0].id, &table[1].id, &table[2].id);

    let (status, _): (u16, MinedBody) = manager.post(&format!("/nodes/{a}/mine")).await;
    assert_eq!(status, 200);
    manager.converged(1).await;

    let (status, _): (u16, MessageBody) = manager.post(&format!("/nodes/{c}/isolate")).await;
    assert_eq!(status, 200);
    let isolated = manager.nodes().await;
    assert!(isolated[2].isolated, "{:?}", isolated[2]);

    // Both sides of the partition mine; the majority side mines more.
    let (_, lone): (u16, MinedBody) = manager.post(&format!("/nodes/{c}/mine")).await;
    for _ in 0..2 {
        let (status, _): (u16, MinedBody) = manager.post(&format!("/nodes/{a}/mine")).await;
        assert_eq!(status, 200);
    }
    let majority = wait_until("b to follow a", 120, Duration::from_millis(250), || async {
        let (_, status_a): (u16, StatusBody) = manager.get(&format!("/nodes/{a}/status")).await;
        let (_, status_b): (u16, StatusBody) = manager.get(&format!("/nodes/{b}/status")).await;
        (status_a.height == 3 && status_b.best_hash == status_a.best_hash)
            .then_some(status_a.best_hash)
    })
    .await;
    let (_, status_c): (u16, StatusBody) = manager.get(&format!("/nodes/{c}/status")).await;
    assert_eq!(
        status_c.height, 2,
        "the isolated node kept its own block only"
    );
    assert_eq!(status_c.best_hash, lone.block.hash);
    assert_ne!(status_c.best_hash, majority);

    let (status, _): (u16, MessageBody) = manager.post(&format!("/nodes/{c}/reconnect")).await;
    assert_eq!(status, 200);
    let statuses = manager.converged(3).await;
    assert!(statuses.iter().all(|status| status.best_hash == majority));
    let reorg = events
        .wait_for("chain_reorganized", |event| {
            matches!(event.kind, EventKind::ChainReorganized { .. })
                && event.node.as_deref() == Some(c.as_str())
        })
        .await;
    let EventKind::ChainReorganized { new_tip, depth, .. } = reorg.kind else {
        unreachable!()
    };
    assert_eq!(new_tip, majority);
    assert_eq!(depth, 1, "one block taken off the isolated branch");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_comes_back_with_its_chain() {
    let manager = ManagerProcess::start(3).await;
    let table = manager.nodes().await;
    let (a, b) = (&table[0].id, &table[1]);
    for _ in 0..3 {
        let (status, _): (u16, MinedBody) = manager.post(&format!("/nodes/{a}/mine")).await;
        assert_eq!(status, 200);
    }
    let before = manager.converged(3).await[1].clone();
    let mut events = manager.events().await;

    let (status, after): (u16, NodeSummary) =
        manager.post(&format!("/nodes/{}/restart", b.id)).await;
    assert_eq!(status, 200, "{after:?}");
    assert_eq!(after.id, b.id, "the same node (its id is stored)");
    assert_eq!(after.address, b.address, "on the same port");
    assert_eq!(after.state, NodeState::Running);
    assert_ne!(after.pid, b.pid, "a new process");
    assert_eq!(after.height, Some(3));
    assert_eq!(after.best_hash, Some(before.best_hash));
    let old_pid = b.pid.expect("pid");
    assert!(!process_alive(old_pid), "the old process is gone");

    let (_, chain): (u16, ChainBody) = manager.get(&format!("/nodes/{}/chain", b.id)).await;
    assert_eq!(chain.length, 4);
    let stopped = events
        .wait_for("node_stopped", |event| {
            matches!(event.kind, EventKind::NodeStopped { .. })
        })
        .await;
    assert_eq!(stopped.node.as_deref(), Some(b.id.as_str()));
    let started = events
        .wait_for("node_started", |event| {
            matches!(event.kind, EventKind::NodeStarted { .. })
        })
        .await;
    assert_eq!(started.node.as_deref(), Some(b.id.as_str()));

    // It still takes part: a block mined elsewhere reaches it.
    let (status, _): (u16, MinedBody) = manager.post(&format!("/nodes/{a}/mine")).await;
    assert_eq!(status, 200);
    manager.converged(4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_can_be_added_attached_and_mined_continuously() {
    let manager = ManagerProcess::start(3).await;
    let (status, added): (u16, NodeSummary) = manager.post("/nodes").await;
    assert_eq!(status, 201, "{added:?}");
    assert_eq!(added.state, NodeState::Running);
    assert!(!added.id.is_empty());

    let lone = TestNode::start();
    let request = AttachRequest {
        address: lone.address.clone(),
    };
    let (status, attached): (u16, NodeSummary) = manager.post_json("/nodes/attach", &request).await;
    assert_eq!(status, 201, "{attached:?}");
    assert_eq!(attached.address, lone.address);
    assert_eq!(attached.pid, None, "not the manager's process");
    let (status, _): (u16, shared::api::ErrorBody) =
        manager.post_json("/nodes/attach", &request).await;
    assert_eq!(status, 409, "attaching twice is refused");

    let nodes = manager.nodes().await;
    assert_eq!(nodes.len(), 5);
    let all = ids(&nodes);
    for node in &nodes {
        assert_knows_all_others(node, &all).await;
    }

    let (status, _): (u16, MessageBody) =
        manager.get("/start/mining?mode=continuous&blocks=3").await;
    assert_eq!(status, 202);
    // The job switches every miner off once the network grew by 3 blocks.
    let statuses = wait_until(
        "every miner off at height >= 3",
        240,
        Duration::from_millis(250),
        || async {
            let statuses = manager.statuses().await;
            let done = statuses
                .iter()
                .all(|status| !status.mining && status.height >= 3);
            done.then_some(statuses)
        },
    )
    .await;
    assert_eq!(statuses.len(), 5);
    // Five miners at once can leave tips of equal work side by side; the
    // next block settles it, as in Bitcoin.
    let highest = statuses.iter().map(|status| status.height).max().unwrap();
    let (status, _): (u16, MinedBody) = manager.post(&format!("/nodes/{}/mine", added.id)).await;
    assert_eq!(status, 200);
    manager.converged(highest + 1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_all_leaves_no_process_and_no_port_behind() {
    let (mut manager, nodes, pids) = spawned(3).await;
    assert!(pids.iter().all(|&pid| process_alive(pid)));

    let (status, report): (u16, ShutdownReport) = manager.get("/shutdown/all").await;
    assert_eq!(status, 200);
    assert_eq!(report.stopped.len(), 3, "{report:?}");
    assert!(report.killed.is_empty(), "{report:?}");
    // The report comes after the processes exited, not before.
    for pid in &pids {
        assert!(
            !process_alive(*pid),
            "node {pid} still runs after the report"
        );
    }

    let exit = manager.wait_exit().await;
    assert!(exit.success(), "manager exit: {exit:?}");
    for node in &nodes {
        assert!(
            port_free(port_of(&node.address)),
            "{} still bound",
            node.address
        );
    }
    assert!(port_free(manager.port), "the manager's port is still bound");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_the_manager_with_sigkill_takes_its_nodes_along() {
    let (mut manager, nodes, pids) = spawned(3).await;

    manager.kill_hard();
    wait_until(
        "every node process to die",
        100,
        Duration::from_millis(100),
        || async { pids.iter().all(|&pid| !process_alive(pid)).then_some(()) },
    )
    .await;
    for node in &nodes {
        let port = port_of(&node.address);
        wait_until(
            "the node's port to be free",
            50,
            Duration::from_millis(100),
            || async { port_free(port).then_some(()) },
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_every_node_and_the_manager_exits_cleanly() {
    let (mut manager, _, pids) = spawned(2).await;

    // SAFETY: kill(2) on the manager's own pid, which this test owns.
    let sent = unsafe { libc::kill(manager.pid() as libc::pid_t, libc::SIGINT) };
    assert_eq!(sent, 0);
    let exit = manager.wait_exit().await;
    assert!(exit.success(), "manager exit: {exit:?}");
    for pid in pids {
        assert!(!process_alive(pid), "node {pid} outlived the manager");
    }
    assert!(
        manager.log().contains("outcome=exited 0"),
        "nodes shut down in order:\n{}",
        manager.log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_on_localhost_hands_its_nodes_the_address_localhost_names() {
    let manager = ManagerProcess::start_with(2, &["--host", "localhost"]).await;
    // Each node answers directly (whom it knows) and through the manager.
    let nodes = ready_nodes(&manager, 2).await;
    assert!(
        manager.url.starts_with("http://127.0.0.1:"),
        "the manager binds the address too: {}",
        manager.url
    );
    for node in &nodes {
        assert!(node.address.starts_with("127.0.0.1:"), "{node:?}");
        let (status, body): (u16, StatusBody) =
            manager.get(&format!("/nodes/{}/status", node.id)).await;
        assert_eq!(status, 200);
        assert_eq!(body.id, node.id);
    }
    // Loopback, so no token: a command works as it is.
    let (status, _): (u16, MinedBody) = manager.post(&format!("/nodes/{}/mine", nodes[0].id)).await;
    assert_eq!(status, 200);
    manager.converged(1).await;
}
