//! Nodes that find each other, mine, gossip and converge — and a partition
//! that heals with a reorganisation.

mod common;

use std::time::Duration;

use common::{EventStream, TestNode, UnreadEvents, connect_all, converge, wait_until};

/// Pause between polls in `wait_until`.
const STEP: Duration = Duration::from_millis(100);
use futures_util::StreamExt;
use shared::events::EventKind;

#[tokio::test]
async fn two_nodes_converge_after_mining_on_both() {
    let nodes = [TestNode::start(), TestNode::start()];
    connect_all(&nodes).await;
    for _ in 0..3 {
        nodes[0].mine().await;
    }
    converge("the second node did not follow the first", &nodes, 3).await;
    for _ in 0..2 {
        nodes[1].mine().await;
    }
    converge("the first node did not follow the second", &nodes, 5).await;
    let id = nodes[1].id().await;
    let peers = nodes[0].status().await.peers;
    assert_eq!(peers.len(), 1);
    assert_eq!(peers[0].id, id);
}

#[tokio::test]
async fn six_nodes_converge() {
    let nodes: Vec<TestNode> = (0..6).map(|_| TestNode::start()).collect();
    connect_all(&nodes).await;
    // Back-to-back requests on different nodes: a node may mine on its tip
    // before a rival block of the same height arrives, so forks happen.
    for (i, node) in nodes.iter().enumerate() {
        node.mine().await;
        if i % 2 == 0 {
            node.mine().await;
        }
    }
    // Equal-work tips stay split (first seen wins) until a heavier block
    // arrives, as in Bitcoin: once the heights agree, one more block settles it.
    wait_until("the nodes to reach the same height", 100, STEP, || async {
        let mut heights = Vec::new();
        for node in &nodes {
            heights.push(node.status().await.height);
        }
        heights.windows(2).all(|w| w[0] == w[1]).then_some(())
    })
    .await;
    let settled = nodes[0].mine().await;
    converge("six nodes did not agree on one tip", &nodes, settled).await;
}

#[tokio::test]
async fn a_healed_partition_reorganizes_the_lighter_side() {
    let nodes = [TestNode::start(), TestNode::start()];
    connect_all(&nodes).await;
    nodes[0].mine().await;
    converge("convergence", &nodes, 1).await;

    let mut lighter_events = EventStream::of_node(&nodes[1]).await;
    for node in &nodes {
        assert!(node.post("/network/isolate").await.status().is_success());
    }
    for _ in 0..3 {
        nodes[0].mine().await;
    }
    nodes[1].mine().await;
    let (heavy, light) = (nodes[0].status().await, nodes[1].status().await);
    assert_eq!((heavy.height, light.height), (4, 2));
    assert_ne!(heavy.best_hash, light.best_hash);

    for node in &nodes {
        assert!(node.post("/network/reconnect").await.status().is_success());
    }
    converge("the partition did not heal", &nodes, 4).await;
    let reorg = lighter_events
        .wait_for("a chain_reorganized event on the lighter node", |e| {
            matches!(e.kind, EventKind::ChainReorganized { .. })
        })
        .await;
    let EventKind::ChainReorganized {
        old_tip,
        new_tip,
        depth,
        fork_height,
        ..
    } = reorg.kind
    else {
        unreachable!()
    };
    assert_eq!(old_tip, light.best_hash);
    assert_eq!((depth, fork_height), (1, 1));
    // Blocks connect one by one, so the switch happens as soon as the heavier
    // branch's block at height 3 arrives: the new tip is on that branch.
    let heavy_chain: shared::api::ChainBody = nodes[0].get("/chain").await;
    assert!(heavy_chain.chain.iter().any(|b| b.hash == new_tip));
    assert_eq!(
        heavy_chain.chain.last().map(|b| b.hash),
        Some(heavy.best_hash)
    );
    // Both branches are remembered: the lighter one as a valid fork.
    let tips: shared::api::TipsBody = nodes[1].get("/tips").await;
    let statuses: Vec<_> = tips
        .tips
        .iter()
        .map(|t| (t.height, t.status, t.branch_length))
        .collect();
    assert!(
        statuses.contains(&(4, shared::api::TipStatus::Active, 0)),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&(2, shared::api::TipStatus::ValidFork, 1)),
        "{statuses:?}"
    );
}

#[tokio::test]
async fn a_subscriber_sees_block_mined_then_the_peers_block_accepted() {
    let nodes = [TestNode::start(), TestNode::start()];
    connect_all(&nodes).await;
    let mut miner_events = EventStream::of_node(&nodes[0]).await;
    let mut peer_events = EventStream::of_node(&nodes[1]).await;
    let height = nodes[0].mine().await;

    let mined = miner_events
        .wait_for("block_mined", |e| {
            matches!(e.kind, EventKind::BlockMined { .. })
        })
        .await;
    let accepted = peer_events
        .wait_for("block_accepted on the peer", |e| {
            matches!(e.kind, EventKind::BlockAccepted { .. })
        })
        .await;
    let (
        EventKind::BlockMined {
            hash: mined_hash,
            height: mined_height,
            ..
        },
        EventKind::BlockAccepted {
            hash, from, active, ..
        },
    ) = (&mined.kind, &accepted.kind)
    else {
        unreachable!()
    };
    assert_eq!((*mined_height, mined_hash), (height, hash));
    assert!(*active);
    assert_eq!(from.as_deref(), Some(nodes[0].address.as_str()));
    assert_eq!(mined.node.as_deref(), Some(nodes[0].id().await.as_str()));
    assert!(accepted.at >= mined.at);
}

#[tokio::test]
async fn entries_are_relayed_and_mined_into_the_next_block() {
    let nodes = [TestNode::start(), TestNode::start()];
    connect_all(&nodes).await;
    let response = nodes[0]
        .post_json(
            "/entries",
            &shared::api::EntryRequest {
                data: "hello, chain".into(),
            },
        )
        .await;
    assert_eq!(response.status(), 201);
    wait_until("the entry to reach the peer", 50, STEP, || async {
        let pending: shared::api::PendingEntriesBody = nodes[1].get("/entries/pending").await;
        (pending.entries == ["hello, chain"]).then_some(())
    })
    .await;

    let mined: shared::api::MinedBody = nodes[1].get("/mine").await;
    assert_eq!(mined.block.entries[1], shared::Entry::data("hello, chain"));
    converge("convergence", &nodes, 1).await;
    wait_until(
        "the mined entry to leave the other node's pool",
        50,
        STEP,
        || async {
            let pending: shared::api::PendingEntriesBody = nodes[0].get("/entries/pending").await;
            pending.entries.is_empty().then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn continuous_mining_starts_and_stops_with_events() {
    let node = TestNode::start();
    let mut events = EventStream::of_node(&node).await;
    assert!(node.post("/mining/start").await.status().is_success());
    wait_until("continuous mining to produce blocks", 100, STEP, || async {
        (node.status().await.height >= 2).then_some(())
    })
    .await;
    assert!(node.status().await.mining);
    assert!(node.post("/mining/stop").await.status().is_success());
    assert!(!node.status().await.mining);
    events
        .wait_for("mining_started", |e| {
            matches!(e.kind, EventKind::MiningStarted { .. })
        })
        .await;
    events
        .wait_for("mining_stopped", |e| {
            matches!(e.kind, EventKind::MiningStopped)
        })
        .await;
}

#[tokio::test]
async fn an_unreachable_peer_neither_fails_mining_nor_sync() {
    let nodes = [TestNode::start(), TestNode::start()];
    connect_all(&nodes).await;
    // Subscribe first: registering starts a sync with the peer at once.
    let mut events = EventStream::of_node(&nodes[0]).await;
    // A peer that is not there: nothing listens on port 1.
    let dead = serde_json::json!({ "nodes": ["ghost"], "addresses": ["127.0.0.1:1"] });
    assert_eq!(
        nodes[0].post_json("/nodes/register", &dead).await.status(),
        201
    );
    for _ in 0..2 {
        nodes[0].mine().await;
    }
    converge("the live peer missed blocks", &nodes, 2).await;
    events
        .wait_for("peer_unreachable for the dead peer", |e| {
            matches!(&e.kind, EventKind::PeerUnreachable { address, .. } if address == "127.0.0.1:1")
        })
        .await;
    let peers = nodes[0].status().await.peers;
    let ghost = peers
        .iter()
        .find(|p| p.id == "ghost")
        .expect("ghost peer listed");
    assert_eq!(ghost.state, shared::api::PeerState::Unreachable);
}

/// A `/mine` request in progress drops its work when a better chain
/// arrives and finds its block on the new tip instead.
#[tokio::test]
async fn mining_restarts_on_a_better_chain_that_arrives_meanwhile() {
    // Two blocks at the default difficulty, mined here (a few seconds).
    let params = shared::Preset::Default.params();
    let mut better = Vec::new();
    let mut now = params.genesis.header.timestamp;
    shared::extend_chain(&params, &mut better, 2, "rival", || {
        now += 5_000;
        now
    });
    // The node may, rarely, find its block in the moment before the better
    // chain lands; then that attempt proves nothing and a fresh node tries
    // again. Without the restart, every attempt would build on genesis.
    for _attempt in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        let node = TestNode::start_in(dir.path(), &["--chain", "default"]);
        let url = node.url("/mine");
        let mining = tokio::spawn(async move {
            let body: shared::api::MinedBody = common::http_client()
                .get(url)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body.block
        });
        // The block may be found before a poll sees the node mining (a
        // second or less with the SHA-NI kernel): then the task is done.
        wait_until("the node to start mining", 100, STEP, || async {
            (mining.is_finished() || node.status().await.mining).then_some(())
        })
        .await;
        let response = node
            .post_json("/chain/replace", &serde_json::json!({ "chain": better }))
            .await;
        assert_eq!(response.status(), 201);
        let mined = mining.await.unwrap();
        if mined.header.previous_hash == better[2].hash {
            assert_eq!(mined.header.index, 3);
            assert_eq!(node.status().await.best_hash, mined.hash);
            return;
        }
        assert_eq!(mined.header.previous_hash, params.genesis.hash);
    }
    panic!("every /mine kept working on the old tip after a better chain arrived");
}

/// A subscriber that stops reading falls behind without holding the node
/// up: the node keeps answering, and the subscriber is told what it missed.
#[tokio::test]
async fn a_slow_subscriber_is_dropped_behind_not_waited_for() {
    let node = TestNode::start();
    let mut stalled = UnreadEvents::connect(&format!("ws://{}/events", node.address)).await;
    // ~12 MB of entry_added events: far more than the event buffer and the
    // socket buffers hold while nobody reads.
    let payload = "x".repeat(1000);
    let client = common::http_client();
    let url = node.url("/entries");
    let posts = futures_util::stream::iter(0..12_000)
        .map(|i| {
            let client = client.clone();
            let url = url.clone();
            let body = shared::api::EntryRequest {
                data: format!("{i:05}{}", &payload[5..]),
            };
            async move {
                client
                    .post(url)
                    .json(&body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<_>>()
        .await;
    assert!(
        posts.iter().all(|r| matches!(r, Ok(201))),
        "the node stopped answering"
    );
    let dropped = stalled
        .wait_for("an events_dropped notice", |e| {
            matches!(e.kind, EventKind::EventsDropped { .. })
        })
        .await;
    let EventKind::EventsDropped { count } = dropped.kind else {
        unreachable!()
    };
    assert!(count > 0);
}

/// What the original project's `networkmngr.py` does to its nodes, done to
/// ours: ask each for `/node/id`, register the whole list with each (the
/// body double-encoded, as it sent it), `GET /mine` on each in turn, and
/// `GET /shutdown` each. Registering is what links our nodes, so they
/// converge without any call of ours.
#[tokio::test]
async fn the_original_managers_calls_link_mine_and_stop_our_nodes() {
    let mut nodes: Vec<TestNode> = (0..3).map(|_| TestNode::start()).collect();
    let mut ids = Vec::new();
    for node in &nodes {
        ids.push(node.id().await);
    }
    let addresses: Vec<&str> = nodes.iter().map(|n| n.address.as_str()).collect();
    let list = serde_json::json!({ "nodes": ids, "addresses": addresses }).to_string();
    for node in &nodes {
        let response = node.post_json("/nodes/register", &list).await;
        assert_eq!(response.status(), 201);
        let body: shared::api::RegisterResponse = response.json().await.unwrap();
        // Itself is skipped.
        assert_eq!(body.total_nodes, 2);
    }
    for node in &nodes {
        node.mine().await;
    }
    // The blocks cross the links that registering made. Two may tie at one
    // height (first seen wins, as in Bitcoin): once the heights agree, one
    // more block settles it.
    wait_until("the nodes to reach one height", 150, STEP, || async {
        let mut heights = Vec::new();
        for node in &nodes {
            heights.push(node.status().await.height);
        }
        (heights[0] > 0 && heights.windows(2).all(|w| w[0] == w[1])).then_some(())
    })
    .await;
    let settled = nodes[2].mine().await;
    converge("the registered nodes did not follow", &nodes, settled).await;
    for node in &mut nodes {
        let response = common::http_client()
            .get(node.url("/shutdown"))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        assert!(node.wait_exit().success());
    }
}
