//! The store on disk: a restart, graceful or `kill -9`, keeps the node's id,
//! its peers and every block it acknowledged.

mod common;

use std::time::Duration;

use common::TestNode;
use shared::api::ChainBody;

#[tokio::test]
async fn a_graceful_restart_keeps_id_chain_and_peers() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = TestNode::start_in(dir.path(), &[]);
    let id = node.id().await;
    for _ in 0..3 {
        node.mine().await;
    }
    let register = serde_json::json!({ "nodes": ["peer-1"], "addresses": ["127.0.0.1:9"] });
    assert_eq!(
        node.post_json("/nodes/register", &register).await.status(),
        201
    );
    let chain: ChainBody = node.get("/chain").await;

    let response = node.post("/shutdown").await;
    assert_eq!(response.status(), 200);
    assert!(node.wait_exit().success(), "the node did not exit 0");

    let restarted = TestNode::start_in(dir.path(), &[]);
    assert_eq!(restarted.id().await, id);
    let after: ChainBody = restarted.get("/chain").await;
    assert_eq!(after, chain);
    let ids: shared::api::NodeIdBody = restarted.get("/node/id").await;
    assert_eq!(
        ids.nodes.get("peer-1").map(String::as_str),
        Some("127.0.0.1:9")
    );
}

#[tokio::test]
async fn kill_9_keeps_every_acknowledged_block() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = TestNode::start_in(dir.path(), &[]);
    let mut acknowledged = Vec::new();
    for _ in 0..6 {
        let mined: shared::api::MinedBody = node.get("/mine").await;
        acknowledged.push(mined.block.hash);
    }
    node.child.kill().expect("SIGKILL");
    node.child.wait().unwrap();

    let restarted = TestNode::start_in(dir.path(), &[]);
    let chain: ChainBody = restarted.get("/chain").await;
    let hashes: Vec<_> = chain.chain.iter().skip(1).map(|b| b.hash).collect();
    assert_eq!(hashes, acknowledged);
}

/// A store remembers its chain: a node on other consensus parameters
/// refuses it, says why, and leaves it as it was for the node it belongs to
/// (Bitcoin Core's "Wrong datadir for network?").
#[tokio::test]
async fn a_node_on_another_chain_refuses_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let mut node = TestNode::start_in(dir.path(), &[]);
    node.mine().await;
    let chain: ChainBody = node.get("/chain").await;
    assert_eq!(node.post("/shutdown").await.status(), 200);
    assert!(node.wait_exit().success());

    for other in [
        &["--chain", "default"][..],
        &[
            "--chain",
            "lab",
            "--block-interval-ms",
            "1000",
            "--network-hashrate",
            "1000",
        ],
    ] {
        let mut refused = std::process::Command::new(node::testing::node_program())
            .args(["-p", "0", "--data-dir"])
            .arg(dir.path())
            .args(other)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Bounded: a node that took the store would run until killed.
        let Some(status) = node::testing::wait_exit(&mut refused, Duration::from_secs(60)) else {
            refused.kill().unwrap();
            panic!("a node on {other:?} took a regtest store");
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut refused.stderr.take().unwrap(), &mut stderr).unwrap();
        assert!(!status.success(), "{other:?}");
        assert!(
            stderr.contains("holds another chain (regtest"),
            "{other:?}: {stderr}"
        );
    }

    let again = TestNode::start_in(dir.path(), &[]);
    let after: ChainBody = again.get("/chain").await;
    assert_eq!(after, chain);
}
