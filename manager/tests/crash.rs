//! The manager killed with SIGKILL, ten times over one data directory.
//! Its nodes die with it (each asked the kernel for SIGKILL when the
//! manager's spawner thread dies), so none is orphaned; a new manager on
//! the same `--data-dir` starts the network again on the same stores, and
//! every block a node acknowledged is still there.

mod common;

use std::time::Duration;

use common::{ManagerProcess, port_free, port_of, process_alive, wait_until};
use node::testing::http_client;
use shared::BlockHash;
use shared::api::MinedBody;

const NODES: u16 = 2;
const KILLS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_sigkills_of_the_manager_orphan_no_node_and_lose_no_block() {
    let mut manager = ManagerProcess::start_in_ram_with(NODES, &[]).await;
    let http = http_client();
    let mut acknowledged: Vec<BlockHash> = Vec::new();
    for kill in 0..KILLS {
        if kill > 0 {
            manager.restart().await;
        }
        let nodes = manager.nodes().await;
        assert_eq!(nodes.len(), usize::from(NODES), "kill {kill}");
        // Every block acknowledged before is on every restarted node (the
        // node that acknowledged it kept it; the other one may fetch it).
        for node in &nodes {
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
        let miner = &nodes[kill % nodes.len()];
        let mined: MinedBody = http
            .post(format!("http://{}/mine", miner.address))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        acknowledged.push(mined.block.hash);

        let pids: Vec<u32> = nodes.iter().filter_map(|n| n.pid).collect();
        assert_eq!(pids.len(), usize::from(NODES), "a pid per node");
        manager.kill_hard();
        wait_until(
            "every node to die with the manager",
            100,
            Duration::from_millis(100),
            || async { pids.iter().all(|&pid| !process_alive(pid)).then_some(()) },
        )
        .await;
        for node in &nodes {
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
