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
