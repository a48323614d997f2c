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
    fake_peer_as(node, "fake-peer", LIAR).await
}

/// A handshaken fake peer that calls itself `id` listening on `address`.
async fn fake_peer_as(node: &TestNode, id: &str, address: &str) -> Socket {
    let params = Preset::Regtest.params();
    let mut socket = open(node).await;
    let hello = Hello::new(&params, id, address, 0, Work::from_be_bytes([0; 32]));
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

// A hostile peer: it floods, announces blocks it never sends, sends
// orphans by the thousand and opens a thousand connections. Each time the
// node answers `/status` throughout, cuts the peer off, and grows its RSS
// by no more than `RSS_GROWTH_KIB`.

/// What the node's resident memory may grow by while a hostile peer works
/// on it. Its own bounds are far smaller: 512 orphans, 128 requests and
/// 4 000 fetches per peer, 125 inbound links; this leaves room for the
/// allocator keeping what it freed.
const RSS_GROWTH_KIB: u64 = 32 * 1024;

/// Asks `/status` over and over until `stop` is set; returns how many
/// answers came. Each request may take 10 s, so an unresponsive node
/// fails the test rather than slowing it.
fn keep_asking(
    node: &TestNode,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<u32> {
    let url = node.url("/status");
    tokio::spawn(async move {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut answered = 0;
        // Bounded: 10 000 asks at most.
        for _ in 0..10_000 {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                break;
            }
            let response = client
                .get(&url)
                .send()
                .await
                .expect("the node answers while attacked");
            assert_eq!(response.status(), 200);
            answered += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        answered
    })
}

/// Runs `attack` while `/status` is asked in the background; returns the
/// answers that came meanwhile (at least one, or the test fails) and the
/// node's RSS growth in KiB, which must be within [`RSS_GROWTH_KIB`].
async fn under_attack<F: std::future::Future<Output = ()>>(
    node: &TestNode,
    attack: F,
) -> (u32, u64) {
    let before = node.rss_kib();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let asking = keep_asking(node, stop.clone());
    attack.await;
    let during = node.rss_kib();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let answered = asking.await.expect("the asking task");
    assert!(answered >= 1, "no /status answer during the attack");
    let grown = during.saturating_sub(before);
    assert!(
        grown <= RSS_GROWTH_KIB,
        "RSS grew by {grown} KiB (from {before} KiB), more than {RSS_GROWTH_KIB}"
    );
    eprintln!("hostile: {answered} /status answers; RSS {before} -> {during} KiB");
    (answered, grown)
}

/// A header that connects to nothing the node has.
fn stray_header(n: u64) -> shared::Header {
    let mut header = Preset::Regtest.params().genesis.header;
    let mut previous = [0u8; 32];
    previous[..8].copy_from_slice(&n.to_le_bytes());
    previous[31] = 1;
    header.previous_hash = shared::BlockHash::from_bytes(previous);
    header.index = n + 1;
    header
}

/// Writes `frame` up to `count` times, until the node cuts the link;
/// returns how many went out.
async fn flood(socket: &mut Socket, count: u64, frame: impl Fn(u64) -> Vec<u8>) -> u64 {
    let mut sent = 0;
    for n in 0..count {
        if socket.send(Ws::Binary(frame(n).into())).await.is_err() {
            break;
        }
        sent += 1;
    }
    assert!(
        ends(socket).await.is_some(),
        "the link stayed up after {sent} messages"
    );
    sent
}

/// Two floods of headers: ones that connect to nothing (each would cost a
/// lookup and a `GetHeaders` back), then one valid header over and over,
/// past the rate limit.
#[tokio::test]
async fn a_header_flood_gets_the_peer_banned_and_the_node_answers_throughout() {
    let node = TestNode::start();
    let mut events = EventStream::of_node(&node).await;

    let mut socket = fake_peer(&node).await;
    let mut sent = 0;
    under_attack(&node, async {
        sent = flood(&mut socket, 5_000, |batch| {
            let headers = (0..100)
                .map(|i| stray_header(batch * 100 + i).into())
                .collect();
            encode(&Message::Headers { headers })
        })
        .await;
    })
    .await;
    eprintln!("hostile: stray headers cut off after {sent} messages were written");
    assert_banned(&node, &mut events, "connect to nothing").await;

    let params = Preset::Regtest.params();
    let mut chain = Vec::new();
    let mut now = params.genesis.header.timestamp;
    shared::extend_chain(&params, &mut chain, 1, "flood", || {
        now += 1;
        now
    });
    let header = chain[1].header;
    let second = "127.0.0.1:2";
    let mut socket = fake_peer_as(&node, "second-fake-peer", second).await;
    under_attack(&node, async {
        sent = flood(&mut socket, 20_000, |_| {
            encode(&Message::Headers {
                headers: vec![header.into()],
            })
        })
        .await;
    })
    .await;
    eprintln!("hostile: a repeated header cut off after {sent} messages were written");
    let banned = events
        .wait_for(
            "the second ban",
            |e| matches!(&e.kind, EventKind::PeerBanned { address, .. } if address == second),
        )
        .await;
    assert!(
        matches!(&banned.kind, EventKind::PeerBanned { reason, .. } if reason.contains("flood")),
        "{banned:?}"
    );
    assert_eq!(node.status().await.height, 0);
}

#[tokio::test]
async fn a_peer_announcing_blocks_it_never_sends_is_dropped() {
    let node = TestNode::start();
    let mut events = EventStream::of_node(&node).await;
    // A valid chain whose headers the peer announces and whose bodies it
    // keeps: two full batches of headers.
    let params = Preset::Regtest.params();
    let mut chain = Vec::new();
    let mut now = params.genesis.header.timestamp;
    shared::extend_chain(
        &params,
        &mut chain,
        2 * shared::p2p::MAX_HEADERS,
        "teaser",
        || {
            now += 1;
            now
        },
    );
    let headers: Vec<shared::Header> = chain[1..].iter().map(|b| b.header).collect();
    let mut socket = fake_peer(&node).await;
    let mut asked = 0usize;
    under_attack(&node, async {
        for batch in headers.chunks(shared::p2p::MAX_HEADERS) {
            let frame = encode(&Message::Headers {
                headers: batch.iter().map(|h| (*h).into()).collect(),
            });
            socket.send(Ws::Binary(frame.into())).await.unwrap();
        }
        // Answer nothing but pings, as a peer that is there and silent
        // would; bounded by the node's own patience.
        for _ in 0..10_000 {
            match next_message(&mut socket).await {
                None => break,
                Some(Message::GetBlocks { hashes }) => asked += hashes.len(),
                Some(Message::Ping { nonce }) => {
                    let pong = encode(&Message::Pong { nonce });
                    let _ = socket.send(Ws::Binary(pong.into())).await;
                }
                Some(_) => {}
            }
        }
    })
    .await;
    assert!(asked >= 1, "the node asked for no block");
    let dropped = events
        .wait_for("the dropped link", |e| {
            matches!(e.kind, EventKind::PeerDisconnected { .. })
        })
        .await;
    match dropped.kind {
        EventKind::PeerDisconnected { address, reason } => {
            assert_eq!(address, LIAR);
            assert!(reason.contains("unanswered"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
    eprintln!("hostile: the node asked for {asked} blocks before it dropped the peer");
    // It knows the headers, has none of the blocks, and serves on.
    let status = node.status().await;
    assert_eq!(status.height, 0);
    let tips: shared::api::TipsBody = node.get("/tips").await;
    assert!(
        tips.tips
            .iter()
            .any(|t| t.height == headers.len() as u64
                && t.status == shared::api::TipStatus::HeadersOnly),
        "{tips:?}"
    );
}

/// Orphans: blocks on parents nobody has, valid apart from that.
fn orphans(count: u64) -> Vec<Block> {
    let params = Preset::Regtest.params();
    (0..count)
        .map(|n| {
            let mut parent = [0u8; 32];
            parent[..8].copy_from_slice(&n.to_le_bytes());
            parent[31] = 2;
            let template = block_template(
                &params,
                &[params.genesis.header],
                shared::BlockHash::from_bytes(parent),
                "orphan",
                Vec::new(),
                params.genesis.header.timestamp + 1000 + n,
            );
            shared::solve(template).expect("a regtest proof")
        })
        .collect()
}

#[tokio::test]
async fn ten_thousand_orphans_get_the_peer_banned_and_fill_no_memory() {
    let node = TestNode::start();
    let mut events = EventStream::of_node(&node).await;
    let blocks = orphans(10_000);
    let mut socket = fake_peer(&node).await;
    let mut sent = 0usize;
    under_attack(&node, async {
        // Over the peer link: unasked blocks, so the peer is banned soon.
        for block in &blocks {
            let frame = encode(&Message::Block {
                block: block.clone().into(),
            });
            if socket.send(Ws::Binary(frame.into())).await.is_err() {
                break;
            }
            sent += 1;
        }
        assert!(ends(&mut socket).await.is_some(), "the link stayed up");
        // Over HTTP, the original's `/block/new` takes each one; the pool
        // keeps the newest 512. Bounded: 10 000 requests, 16 at a time.
        let client = common::http_client();
        let url = node.url("/block/new");
        let statuses: Vec<u16> = futures_util::stream::iter(&blocks)
            .map(|block| {
                let request = client.post(&url).json(block).send();
                async move { request.await.expect("an answer").status().as_u16() }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        assert!(
            statuses.iter().all(|s| *s == 202),
            "{:?}",
            statuses.iter().find(|s| **s != 202)
        );
    })
    .await;
    eprintln!("hostile: {sent} orphan frames written before the cut");
    assert_banned(&node, &mut events, "nobody asked for").await;
    assert_eq!(node.status().await.height, 0);
}

#[tokio::test]
async fn a_thousand_connections_are_refused_or_timed_out_and_the_node_serves_on() {
    let node = TestNode::start();
    let mut sockets = Vec::new();
    under_attack(&node, async {
        // Half say hello under names of their own, half say nothing.
        for n in 0..1_000u32 {
            let socket = if n % 2 == 0 {
                fake_peer_as(
                    &node,
                    &format!("crowd-{n}"),
                    &format!("127.0.0.1:{}", 20_000 + n),
                )
                .await
            } else {
                open(&node).await
            };
            sockets.push(socket);
        }
        assert_eq!(node.status().await.height, 0);
    })
    .await;
    let linked = peers(&node).await;
    let connected = linked
        .iter()
        .filter(|l| l.state == LinkState::Connected)
        .count();
    eprintln!("hostile: 1 000 connections open, {connected} linked");
    assert!(connected <= 125, "{connected} links, past --max-peers 125");
    // The node ends each silent one (its handshake timeout) and refuses
    // each hello past its limit: every socket but the linked ones ends,
    // all within one wait of 10 s.
    let waits = sockets.iter_mut().map(|socket| {
        tokio::time::timeout(Duration::from_secs(10), async move {
            // Bounded: what the node sends a socket before it ends it.
            for _ in 0..1_000 {
                match socket.next().await {
                    None | Some(Err(_) | Ok(Ws::Close(_))) => return,
                    Some(Ok(_)) => {}
                }
            }
        })
    });
    let ended = futures_util::future::join_all(waits)
        .await
        .iter()
        .filter(|waited| waited.is_ok())
        .count();
    assert!(
        ended >= 1_000 - connected,
        "{ended} of 1 000 ended; {connected} linked"
    );
    assert_eq!(node.status().await.height, 0);
}

/// An idle network still at genesis sends the genesis header in every
/// resync (a node's tip, announced), and genesis has no parent: a peer
/// doing so, however often, connects to what the node has and is not
/// banned for headers that "connect to nothing". (It was: an idle network
/// at height 0 banned its own honest peers after ten resyncs.)
#[tokio::test]
async fn a_peer_repeating_the_genesis_header_stays_linked() {
    let node = TestNode::start();
    let mut socket = fake_peer(&node).await;
    let genesis = Preset::Regtest.params().genesis.header;
    let announce = encode(&Message::Headers {
        headers: vec![genesis.into()],
    });
    for _ in 0..30 {
        socket
            .send(Ws::Binary(announce.clone().into()))
            .await
            .unwrap();
    }
    let ping = encode(&Message::Ping { nonce: 17 });
    socket.send(Ws::Binary(ping.into())).await.unwrap();
    // Bounded: the node answers a ping among at most a few resync messages.
    let mut answered = false;
    for _ in 0..100 {
        match next_message(&mut socket).await {
            Some(Message::Pong { nonce: 17 }) => {
                answered = true;
                break;
            }
            Some(Message::Reject { reason }) => panic!("the node refused the peer: {reason}"),
            None => panic!("the node ended the link"),
            Some(_) => {}
        }
    }
    assert!(answered, "no pong");
    let link = peers(&node).await.into_iter().find(|l| l.address == LIAR);
    assert_eq!(link.map(|l| l.state), Some(LinkState::Connected));
}
