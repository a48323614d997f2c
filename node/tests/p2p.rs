//! The peer-to-peer layer with real processes over real links: relay over
//! a line, the peer table and its API, refused handshakes.

mod common;

use std::time::Duration;

use common::{TestNode, converge, linked_line, peers, wait_until};
use shared::api::{LinkDirection, LinkState, NodeIdBody};
use shared::events::EventKind;

const STEP: Duration = Duration::from_millis(100);

#[tokio::test]
async fn a_line_of_five_converges_on_blocks_mined_at_one_end() {
    let nodes = linked_line(5).await;
    let mut far_end = common::EventStream::of_node(&nodes[4]).await;
    for _ in 0..3 {
        nodes[0].mine().await;
    }
    converge("the line did not converge", &nodes, 3).await;
    // The far end heard of it from its only neighbour: relayed, not pushed.
    let accepted = far_end
        .wait_for("a block accepted at the far end", |e| {
            matches!(e.kind, EventKind::BlockAccepted { .. })
        })
        .await;
    match accepted.kind {
        EventKind::BlockAccepted { from, .. } => {
            assert_eq!(from.as_deref(), Some(nodes[3].address.as_str()));
        }
        other => panic!("unexpected {other:?}"),
    }
    // Each node has only its neighbours, and no body crossed a link twice:
    // each of the 3 blocks was received once per node.
    for (i, node) in nodes.iter().enumerate() {
        let links = peers(node).await;
        let expected = usize::from(i > 0) + usize::from(i < 4);
        assert_eq!(links.len(), expected, "links of node {i}: {links:?}");
        let received: u64 = links.iter().map(|l| l.blocks_received).sum();
        let wanted = if i == 0 { 0 } else { 3 };
        assert_eq!(received, wanted, "blocks received by node {i}: {links:?}");
    }
}

#[tokio::test]
async fn peers_are_linked_listed_and_unlinked_live() {
    let (a, b) = (TestNode::start(), TestNode::start());
    let body = serde_json::json!({ "address": b.address });
    assert_eq!(a.post_json("/peers/connect", &body).await.status(), 201);
    assert_eq!(a.post_json("/peers/connect", &body).await.status(), 200);
    let b_id = b.id().await;
    let a_id = a.id().await;
    let at_a = wait_until("a to link with b", 100, STEP, || async {
        let links = peers(&a).await;
        links.into_iter().find(|l| l.state == LinkState::Connected)
    })
    .await;
    assert_eq!(at_a.address, b.address);
    assert_eq!(at_a.id, b_id);
    assert_eq!(at_a.direction, LinkDirection::Outbound);
    let at_b = wait_until("b to list a", 100, STEP, || async {
        peers(&b)
            .await
            .into_iter()
            .find(|l| l.state == LinkState::Connected)
    })
    .await;
    assert_eq!(
        (at_b.address.as_str(), at_b.id.as_str()),
        (a.address.as_str(), a_id.as_str())
    );
    assert_eq!(at_b.direction, LinkDirection::Inbound);
    // Pings measure each link within a few seconds.
    wait_until("a round-trip time", 100, STEP, || async {
        peers(&a).await.first().and_then(|l| l.rtt_ms)
    })
    .await;
    let ids: NodeIdBody = a.get("/node/id").await;
    assert_eq!(ids.nodes.get(&b_id), Some(&b.address));

    assert_eq!(a.post_json("/peers/disconnect", &body).await.status(), 200);
    assert!(peers(&a).await.is_empty());
    wait_until("b to see the link go", 100, STEP, || async {
        peers(&b)
            .await
            .iter()
            .all(|l| l.state == LinkState::Down)
            .then_some(())
    })
    .await;
    // Bad requests are 4xx JSON and change nothing.
    let unknown = serde_json::json!({ "address": "127.0.0.1:9" });
    assert_eq!(
        a.post_json("/peers/disconnect", &unknown).await.status(),
        404
    );
    let bad = serde_json::json!({ "address": "no port" });
    assert_eq!(a.post_json("/peers/connect", &bad).await.status(), 422);
    let myself = serde_json::json!({ "address": a.address });
    assert_eq!(a.post_json("/peers/connect", &myself).await.status(), 400);
    assert!(peers(&a).await.is_empty());
}

#[tokio::test]
async fn both_ends_registering_each_other_keep_one_link() {
    let nodes = [TestNode::start(), TestNode::start()];
    common::connect_all(&nodes).await;
    for node in &nodes {
        let links = wait_until("one connected link", 100, STEP, || async {
            let links = peers(node).await;
            (links.len() == 1 && links[0].state == LinkState::Connected).then_some(links)
        })
        .await;
        assert_eq!(links.len(), 1);
    }
    nodes[0].mine().await;
    converge("the pair did not converge", &nodes, 1).await;
}

#[tokio::test]
async fn a_peer_on_another_chain_is_refused_with_the_reason() {
    let regtest = TestNode::start();
    let other = TestNode::start_with(&["--chain", "default"]);
    let body = serde_json::json!({ "address": other.address });
    assert_eq!(
        regtest.post_json("/peers/connect", &body).await.status(),
        201
    );
    let link = wait_until("the refusal to show", 100, STEP, || async {
        peers(&regtest)
            .await
            .into_iter()
            .find(|l| l.state == LinkState::Down && l.last_error.is_some())
    })
    .await;
    let error = link.last_error.unwrap_or_default();
    assert!(error.contains("genesis"), "last_error: {error}");
    assert!(
        peers(&other)
            .await
            .iter()
            .all(|l| l.state != LinkState::Connected)
    );
}

#[tokio::test]
async fn with_a_token_links_need_it_both_ways() {
    let a = TestNode::start_with(&["--token", "secret"]);
    let b = TestNode::start_with(&["--token", "secret", "--peer", &a.address]);
    let linked = wait_until("b to link with a using the token", 100, STEP, || async {
        peers(&b)
            .await
            .into_iter()
            .find(|l| l.state == LinkState::Connected)
    })
    .await;
    assert_eq!(linked.address, a.address);
    // Without the token the upgrade is refused before any WebSocket.
    let refused = tokio_tungstenite::connect_async(format!("ws://{}/p2p", a.address)).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 401);
        }
        other => panic!("expected 401, got {:?}", other.map(|(_, r)| r.status())),
    }
    // A node with another token is shown down, with the answer as reason.
    let c = TestNode::start_with(&["--token", "other", "--peer", &a.address]);
    let down = wait_until("c's refused link to show", 100, STEP, || async {
        peers(&c)
            .await
            .into_iter()
            .find(|l| l.state == LinkState::Down && l.last_error.is_some())
    })
    .await;
    let error = down.last_error.unwrap_or_default();
    assert!(error.contains("401"), "last_error: {error}");
}
