//! Peers that break the rules, played by the test itself speaking the
//! protocol over a real `/p2p` WebSocket: they are cut off (and banned once
//! they said who they are), and the node keeps serving.

mod common;

use std::time::Duration;

use common::{EventStream, TestNode, converge, peers, wait_until};
use futures_util::{SinkExt, StreamExt};
use shared::api::LinkState;
use shared::events::EventKind;
use shared::p2p::{Hello, Message, decode, encode};
use shared::{Block, Preset, Work, block_template};
use tokio_tungstenite::tungstenite::Message as Ws;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const STEP: Duration = Duration::from_millis(100);
/// The listen address the fake peer claims.
const LIAR: &str = "127.0.0.1:1";

async fn open(node: &TestNode) -> Socket {
    let (socket, _) = tokio_tungstenite::connect_async(format!("ws://{}/p2p", node.address))
        .await
        .expect("the /p2p upgrade");
    socket
}

/// The next peer message, or `None` when the link ends (within 10 s).
async fn next_message(socket: &mut Socket) -> Option<Message> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("the node said nothing for 10 s");
        match frame {
            Some(Ok(Ws::Binary(bytes))) => return Some(decode(&bytes).expect("a valid message")),
            Some(Ok(Ws::Ping(_) | Ws::Pong(_))) => continue,
            _ => return None,
        }
    }
}

/// Whether the node ends the link (it may say why first).
async fn ends(socket: &mut Socket) -> Option<String> {
    let mut reason = None;
    // Bounded: a node that ends the link says little before.
    for _ in 0..100 {
        match next_message(socket).await {
            None => return reason.or(Some(String::new())),
            Some(Message::Reject { reason: why }) => reason = Some(why),
            Some(_) => {}
        }
    }
    None
}

/// A handshaken fake peer on the regtest chain.
async fn fake_peer(node: &TestNode) -> Socket {
    let params = Preset::Regtest.params();
    let mut socket = open(node).await;
    let hello = Hello::new(&params, "fake-peer", LIAR, 0, Work::from_be_bytes([0; 32]));
    socket
        .send(Ws::Binary(encode(&Message::Hello(hello)).into()))
        .await
        .unwrap();
    match next_message(&mut socket).await {
        Some(Message::Hello(theirs)) => assert_eq!(theirs.genesis.0, params.genesis.hash),
        other => panic!("expected the node's hello, got {other:?}"),
    }
    socket
}

/// A block on genesis whose proof does not meet its target.
fn bad_pow_block() -> Block {
    let params = Preset::Regtest.params();
    let genesis = params.genesis.header;
    let template = block_template(
        &params,
        &[genesis],
        params.genesis.hash,
        "cheat",
        Vec::new(),
        shared::Block::clone(&params.genesis).header.timestamp + 1000,
    );
    let target = template.header.bits.to_target().expect("regtest bits");
    (0..10_000u64)
        .map(|proof| {
            let mut header = template.header;
            header.proof = proof;
            template.clone().with_header(header)
        })
        .find(|b| !target.is_met_by(b.hash))
        .expect("some proof misses the target")
}

async fn assert_banned(node: &TestNode, events: &mut EventStream, why: &str) {
    let banned = events
        .wait_for("a peer_banned event", |e| {
            matches!(e.kind, EventKind::PeerBanned { .. })
        })
        .await;
    match banned.kind {
        EventKind::PeerBanned {
            address,
            reason,
            until,
        } => {
            assert_eq!(address, LIAR);
            assert!(reason.contains(why), "reason: {reason}");
            assert!(
                until > banned.at,
                "until {until} is not after {}",
                banned.at
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let link = peers(node).await.into_iter().find(|l| l.address == LIAR);
    let link = link.expect("the banned peer is listed");
    assert_eq!(link.state, LinkState::Banned);
    assert!(link.banned_until.is_some());
}

#[tokio::test]
async fn a_peer_sending_a_block_with_bad_proof_of_work_is_banned() {
    let node = TestNode::start();
    let mut events = EventStream::of_node(&node).await;
    let mut socket = fake_peer(&node).await;
    let block = bad_pow_block();
    socket
        .send(Ws::Binary(
            encode(&Message::Block {
                block: block.into(),
            })
            .into(),
        ))
        .await
        .unwrap();
    assert!(ends(&mut socket).await.is_some(), "the link stayed up");
    assert_banned(&node, &mut events, "above the target").await;
    assert_eq!(node.status().await.height, 0);

    // Back with the same identity: refused while the ban lasts.
    let mut again = open(&node).await;
    let params = Preset::Regtest.params();
    let hello = Hello::new(&params, "fake-peer", LIAR, 0, Work::from_be_bytes([0; 32]));
    again
        .send(Ws::Binary(encode(&Message::Hello(hello)).into()))
        .await
        .unwrap();
    let reason = ends(&mut again).await.expect("the banned peer was let in");
    assert!(reason.contains("banned"), "reason: {reason}");
}

#[tokio::test]
async fn a_garbage_first_frame_gets_the_sender_disconnected_and_the_node_serves_on() {
    let node = TestNode::start();
    let mut socket = open(&node).await;
    socket
        .send(Ws::Binary(vec![0xff; 64].into()))
        .await
        .unwrap();
    let reason = ends(&mut socket).await.expect("the link stayed up");
    assert!(reason.contains("undecodable"), "reason: {reason}");

    // Everything else still works, a real peer included.
    let peer = TestNode::start_with(&["--peer", &node.address]);
    node.mine().await;
    converge(
        "a real peer did not sync after the garbage",
        &[node, peer],
        1,
    )
    .await;
}

#[tokio::test]
async fn garbage_after_the_handshake_gets_the_peer_banned() {
    let node = TestNode::start();
    let mut events = EventStream::of_node(&node).await;
    let mut socket = fake_peer(&node).await;
    socket
        .send(Ws::Binary(vec![0x7f, 1, 2, 3].into()))
        .await
        .unwrap();
    assert!(ends(&mut socket).await.is_some(), "the link stayed up");
    assert_banned(&node, &mut events, "bad frame").await;
    assert_eq!(node.status().await.height, 0);
}

#[tokio::test]
async fn an_oversized_frame_ends_the_link_with_a_ban() {
    let node = TestNode::start();
    let mut events = EventStream::of_node(&node).await;
    let mut socket = fake_peer(&node).await;
    let huge = vec![0u8; shared::p2p::MAX_FRAME_BYTES + 1024];
    // The node may close while the frame is still being written.
    let _ = socket.send(Ws::Binary(huge.into())).await;
    assert!(ends(&mut socket).await.is_some(), "the link stayed up");
    assert_banned(&node, &mut events, "oversized").await;
}

#[tokio::test]
async fn a_message_flood_past_the_rate_limit_gets_the_peer_banned() {
    let node = TestNode::start();
    let mut events = EventStream::of_node(&node).await;
    let mut socket = fake_peer(&node).await;
    let ping = encode(&Message::Ping { nonce: 7 });
    // Far past the burst, bounded; the node may cut us off midway.
    for _ in 0..5000 {
        if socket.send(Ws::Binary(ping.clone().into())).await.is_err() {
            break;
        }
    }
    assert_banned(&node, &mut events, "flood").await;
    wait_until("the node to still answer", 50, STEP, || async {
        (node.status().await.height == 0).then_some(())
    })
    .await;
}

/// Valid frames in the wrong order: each kind of message other than
/// `Hello` as the first frame ends the link before the peer joins, and the
/// node serves on.
#[tokio::test]
async fn every_message_before_hello_ends_the_link() {
    let node = TestNode::start();
    let genesis = Preset::Regtest.params().genesis;
    let zero = shared::p2p::WireHash(shared::BlockHash::ZERO);
    for first in [
        Message::Headers {
            headers: vec![genesis.header.into()],
        },
        Message::GetHeaders {
            locator: vec![zero],
        },
        Message::GetBlocks { hashes: vec![zero] },
        Message::Block {
            block: genesis.clone().into(),
        },
        Message::NotFound { hashes: vec![zero] },
        Message::Entry { data: "x".into() },
        Message::Ping { nonce: 1 },
        Message::Pong { nonce: 1 },
    ] {
        let mut socket = open(&node).await;
        socket
            .send(Ws::Binary(encode(&first).into()))
            .await
            .unwrap();
        let reason = ends(&mut socket)
            .await
            .unwrap_or_else(|| panic!("the link stayed up after {first:?}"));
        assert!(reason.contains("before hello"), "{first:?}: {reason}");
    }
    let linked = peers(&node).await;
    assert!(
        linked.iter().all(|l| l.state != LinkState::Connected),
        "{linked:?}"
    );
    assert_eq!(node.status().await.height, 0);
}

/// A second `Hello` after the handshake gets the peer banned.
#[tokio::test]
async fn a_second_hello_gets_the_peer_banned() {
    let node = TestNode::start();
    let mut events = EventStream::of_node(&node).await;
    let mut socket = fake_peer(&node).await;
    let params = Preset::Regtest.params();
    let hello = Hello::new(&params, "fake-peer", LIAR, 0, Work::from_be_bytes([0; 32]));
    socket
        .send(Ws::Binary(encode(&Message::Hello(hello)).into()))
        .await
        .unwrap();
    assert!(ends(&mut socket).await.is_some(), "the link stayed up");
    assert_banned(&node, &mut events, "second hello").await;
}
