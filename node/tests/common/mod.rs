//! What the node's tests add to `node::testing`: wiring nodes together and
//! waiting for them to agree.
#![allow(dead_code, unused_imports)]

use std::time::Duration;

pub use node::testing::{EventStream, TestNode, UnreadEvents, http_client, wait_until};

/// Registers every node with every other one.
pub async fn connect_all(nodes: &[TestNode]) {
    let mut ids = Vec::new();
    for node in nodes {
        ids.push(node.id().await);
    }
    let addresses: Vec<String> = nodes.iter().map(|n| n.address.clone()).collect();
    for node in nodes {
        let body = shared::api::RegisterRequest {
            nodes: ids.clone(),
            addresses: addresses.clone(),
        };
        let response = node.post_json("/nodes/register", &body).await;
        assert_eq!(response.status(), 201);
    }
}

/// Waits (at most 15 s) until every node reports the same best hash at
/// `height` or more; panics naming `what` otherwise.
pub async fn converge(what: &str, nodes: &[TestNode], height: u64) {
    wait_until(what, 150, Duration::from_millis(100), || async {
        let mut tips = Vec::new();
        for node in nodes {
            let status = node.status().await;
            tips.push((status.height, status.best_hash));
        }
        (tips.windows(2).all(|w| w[0] == w[1]) && tips[0].0 >= height).then_some(())
    })
    .await;
}

/// A line of `n` nodes where each dials only the next, by `--peer`
/// (started from the far end, so each one's peer is already listening).
pub fn line(n: usize, extra: &[&str]) -> Vec<TestNode> {
    line_of(n, extra, TestNode::start_with)
}

/// [`line`], started by `start` (e.g. [`TestNode::start_in_ram`]).
pub fn line_of(n: usize, extra: &[&str], start: fn(&[&str]) -> TestNode) -> Vec<TestNode> {
    let mut nodes: Vec<TestNode> = Vec::with_capacity(n);
    for _ in 0..n {
        let mut args: Vec<&str> = extra.to_vec();
        let next = nodes.last().map(|n| n.address.clone());
        if let Some(next) = &next {
            args.extend(["--peer", next.as_str()]);
        }
        nodes.push(start(&args));
    }
    nodes.reverse();
    nodes
}

pub async fn peers(node: &TestNode) -> Vec<shared::api::LinkInfo> {
    node.get::<shared::api::PeersBody>("/peers").await.peers
}

/// A line of `n` nodes whose links are all up.
pub async fn linked_line(n: usize) -> Vec<TestNode> {
    let nodes = line(n, &[]);
    linked(&nodes).await;
    nodes
}

/// A linked line of `n` nodes that agree on one block mined at the start:
/// each store's first commit (a fresh redb file growing) is behind it, so
/// what a test measures next is the network.
pub async fn warmed_line(n: usize) -> Vec<TestNode> {
    let nodes = linked_line(n).await;
    nodes[0].mine().await;
    converge("the line did not agree on a first block", &nodes, 1).await;
    nodes
}

/// Waits until every node of a line is linked with its neighbours.
pub async fn linked(nodes: &[TestNode]) {
    for (i, node) in nodes.iter().enumerate() {
        let expected = usize::from(i > 0) + usize::from(i + 1 < nodes.len());
        wait_until(
            "the line to link up",
            100,
            Duration::from_millis(100),
            || async {
                let links = peers(node).await;
                let connected = links
                    .iter()
                    .filter(|l| l.state == shared::api::LinkState::Connected)
                    .count();
                (connected == expected).then_some(())
            },
        )
        .await;
    }
}

/// Sets conditions through `POST /network/links`; panics unless 200.
pub async fn set_link(node: &TestNode, update: serde_json::Value) -> Vec<shared::api::LinkInfo> {
    let response = node.post_json("/network/links", &update).await;
    assert_eq!(response.status(), 200, "POST /network/links {update}");
    response
        .json::<shared::api::LinksBody>()
        .await
        .expect("links body")
        .links
}
