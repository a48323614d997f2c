//! The manager killed with SIGKILL, ten times over one data directory.
//! Its nodes die with it (each asked the kernel for SIGKILL when the
//! manager's spawner thread dies), so none is orphaned; a new manager on
//! the same `--data-dir` starts the network again on the same stores, and
//! every block a node acknowledged is still there.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{port_free, port_of, process_alive, wait_until};
use node::testing::{Announced, http_client, node_program, spawn_announced};
use shared::BlockHash;
use shared::api::{MinedBody, NodesBody};

const NODES: u16 = 2;
const KILLS: usize = 10;

fn start_manager(data: &Path) -> Announced {
    let mut command = Command::new(env!("CARGO_BIN_EXE_manager"));
    command
        .args(["-p", "0", "--node-port", "0", "--chain", "regtest", "-a"])
        .arg(NODES.to_string())
        .arg("--data-dir")
        .arg(data)
        .arg("--node-bin")
        .arg(node_program())
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    let manager = spawn_announced(
        &mut command,
        "manager listening on http://",
        Duration::from_secs(120),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    manager
        .next_line("network ready: ", Duration::from_secs(120))
        .expect("the network became ready");
    manager
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_sigkills_of_the_manager_orphan_no_node_and_lose_no_block() {
    let data = node::testing::ram_temp_dir();
    let http = http_client();
    let mut acknowledged: Vec<BlockHash> = Vec::new();
    for kill in 0..KILLS {
        let mut manager = start_manager(data.path());
        let url = format!("http://{}", manager.rest);
        let nodes: NodesBody = http
            .get(format!("{url}/nodes"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(nodes.nodes.len(), usize::from(NODES), "kill {kill}");
        // Every block acknowledged before is on every restarted node (the
        // node that acknowledged it kept it; the other one may fetch it).
        for node in &nodes.nodes {
            for hash in &acknowledged {
                let block = format!("http://{}/blocks/{hash}", node.address);
                wait_until(
                    "an acknowledged block on a restarted node",
                    100,
                    Duration::from_millis(100),
                    || async {
                        let response = http.get(&block).send().await.ok()?;
                        (response.status() == 200).then_some(())
                    },
                )
                .await;
            }
        }
        // One more block, acknowledged by a node, before the next kill.
        let miner = &nodes.nodes[kill % nodes.nodes.len()];
        let mined: MinedBody = http
            .post(format!("http://{}/mine", miner.address))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        acknowledged.push(mined.block.hash);

        let pids: Vec<u32> = nodes.nodes.iter().filter_map(|n| n.pid).collect();
        assert_eq!(pids.len(), usize::from(NODES), "a pid per node");
        manager.child.kill().expect("SIGKILL the manager");
        manager.child.wait().unwrap();
        wait_until(
            "every node to die with the manager",
            100,
            Duration::from_millis(100),
            || async { pids.iter().all(|&pid| !process_alive(pid)).then_some(()) },
        )
        .await;
        for node in &nodes.nodes {
            let port = port_of(&node.address);
            wait_until(
                "a dead node's port to be free",
                50,
                Duration::from_millis(100),
                || async { port_free(port).then_some(()) },
            )
            .await;
        }
    }
    assert_eq!(acknowledged.len(), KILLS);
}
