//! One peer link from dial (or accept) to close.
//!
//! Both socket kinds (axum's for inbound, tokio-tungstenite's for outbound)
//! are turned into the same pair of channels by two small pump tasks, so
//! the session below is written once. The session sends `Hello`, waits for
//! the peer's, checks it, joins the link table, and then reads: each frame
//! is rate-limited, decoded within `shared::p2p`'s limits and handed to
//! [`relay`](super::relay). A writer task drains the link's queue, waiting
//! for each frame's release time (the link's conditions), so the reader
//! never waits on the shaper and the shaper never reorders.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::extract::ws::{Message as AxumMessage, WebSocket};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use shared::api::{LinkDirection, LinkState};
use shared::events::EventKind;
use shared::p2p::{Hello, MAX_FRAME_BYTES, Message, check_hello, decode, encode};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest};

use super::relay::{self, Stop};
use super::{PeerTip, Registered};
use crate::clock::now_ms;
use crate::node::Node;

/// How long each side waits for the other's `Hello`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a dial may take to become a WebSocket.
const DIAL_TIMEOUT: Duration = Duration::from_secs(3);
/// Three pings fit in the silence limit, so one or two lost ones do not
/// end a link. (A peer that is gone closes its socket; the limit is for one
/// that hangs.)
const PING_EVERY: Duration = Duration::from_secs(20);
/// A link that has said nothing for this long is dead.
const SILENCE_LIMIT: Duration = Duration::from_secs(60);
/// Token bucket per link: sustained messages per second and burst. A sync
/// of thousands of blocks stays far below; a flood does not.
const RATE_PER_SEC: f64 = 500.0;
const RATE_BURST: f64 = 2000.0;
/// Frames buffered between a socket and its session.
const PUMP_BUFFER: usize = 64;

/// What the reader pump hands the session.
enum Inbound {
    Frame(Bytes),
    /// The peer broke the transport's rules (oversized or text frame).
    Bad(String),
    Closed(String),
}

enum Outbound {
    Frame(Vec<u8>),
    Close,
}

/// A socket as two channels.
struct Transport {
    incoming: mpsc::Receiver<Inbound>,
    outgoing: mpsc::Sender<Outbound>,
}

/// Why a link ended before or during its handshake.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("cannot dial: {0}")]
    Dial(String),
    #[error("no hello within {0:?}")]
    HandshakeTimeout(Duration),
    #[error("refused by the peer: {0}")]
    RefusedByPeer(String),
    #[error("refused: {0}")]
    Refused(String),
    #[error("closed during the handshake: {0}")]
    Closed(String),
    #[error("{0}")]
    Protocol(String),
}

fn is_oversize(error: &str) -> bool {
    error.contains("Space limit exceeded") || error.contains("too long")
}

fn axum_transport(node: &Arc<Node>, socket: WebSocket) -> Transport {
    let (mut sink, mut stream) = socket.split();
    let (in_tx, incoming) = mpsc::channel(PUMP_BUFFER);
    let (outgoing, mut out_rx) = mpsc::channel::<Outbound>(PUMP_BUFFER);
    node.tasks.spawn(async move {
        loop {
            let item = match stream.next().await {
                Some(Ok(AxumMessage::Binary(bytes))) => Inbound::Frame(bytes),
                Some(Ok(AxumMessage::Text(_))) => Inbound::Bad("a text frame".into()),
                Some(Ok(AxumMessage::Ping(_) | AxumMessage::Pong(_))) => continue,
                Some(Ok(AxumMessage::Close(_))) | None => Inbound::Closed("closed by peer".into()),
                Some(Err(e)) => {
                    let text = e.to_string();
                    if is_oversize(&text) {
                        Inbound::Bad(format!("an oversized frame ({text})"))
                    } else {
                        Inbound::Closed(text)
                    }
                }
            };
            let last = !matches!(item, Inbound::Frame(_));
            if in_tx.send(item).await.is_err() || last {
                break;
            }
        }
    });
    node.tasks.spawn(async move {
        while let Some(item) = out_rx.recv().await {
            let result = match item {
                Outbound::Frame(frame) => sink.send(AxumMessage::Binary(frame.into())).await,
                Outbound::Close => {
                    let _ = sink.send(AxumMessage::Close(None)).await;
                    break;
                }
            };
            if result.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    Transport { incoming, outgoing }
}

fn tungstenite_transport<S>(
    node: &Arc<Node>,
    socket: tokio_tungstenite::WebSocketStream<S>,
) -> Transport
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use tungstenite::Message as T;
    let (mut sink, mut stream) = socket.split();
    let (in_tx, incoming) = mpsc::channel(PUMP_BUFFER);
    let (outgoing, mut out_rx) = mpsc::channel::<Outbound>(PUMP_BUFFER);
    node.tasks.spawn(async move {
        loop {
            let item = match stream.next().await {
                Some(Ok(T::Binary(bytes))) => Inbound::Frame(bytes),
                Some(Ok(T::Text(_))) => Inbound::Bad("a text frame".into()),
                Some(Ok(T::Ping(_) | T::Pong(_) | T::Frame(_))) => continue,
                Some(Ok(T::Close(_))) | None => Inbound::Closed("closed by peer".into()),
                Some(Err(tungstenite::Error::Capacity(e))) => {
                    Inbound::Bad(format!("an oversized frame ({e})"))
                }
                Some(Err(e)) => Inbound::Closed(e.to_string()),
            };
            let last = !matches!(item, Inbound::Frame(_));
            if in_tx.send(item).await.is_err() || last {
                break;
            }
        }
    });
    node.tasks.spawn(async move {
        while let Some(item) = out_rx.recv().await {
            let result = match item {
                Outbound::Frame(frame) => sink.send(T::Binary(frame.into())).await,
                Outbound::Close => {
                    let _ = sink.send(T::Close(None)).await;
                    break;
                }
            };
            if result.is_err() {
                break;
            }
        }
        let _ = sink.close().await;
    });
    Transport { incoming, outgoing }
}

/// The read buffer of every WebSocket a node or the manager opens or
/// accepts. tungstenite's default, 128 KiB, is zero-filled for each socket
/// as it first reads: at a few links per node and hundreds of nodes (or a
/// thousand hostile connections) that was most of the memory in use. A
/// larger frame takes a few more reads.
pub const READ_BUFFER_BYTES: usize = 8 * 1024;

/// The WebSocket limits both directions use: a frame over
/// `MAX_FRAME_BYTES` ends the link.
pub fn socket_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME_BYTES))
        .max_frame_size(Some(MAX_FRAME_BYTES))
        .read_buffer_size(READ_BUFFER_BYTES)
}

/// Keeps an outbound link to `address` up while this node wants it:
/// dials, runs the link, and redials with a growing pause when it drops.
pub async fn maintain(node: Arc<Node>, address: String) {
    let mut pause = Duration::from_millis(250);
    let mut reported = false;
    while !node.shutdown.is_cancelled() && node.links.is_wanted(&address) {
        let banned = node.bans.active(&address, "", now_ms()).is_some();
        if banned || node.links.is_connected(&address) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        node.links.set_state(&address, LinkState::Connecting, None);
        match dial(&node, &address).await {
            Ok(()) => {
                pause = Duration::from_millis(250);
                reported = false;
            }
            Err(error) => {
                tracing::debug!(peer = %address, %error, "link failed");
                node.links
                    .set_state(&address, LinkState::Down, Some(error.to_string()));
                if !reported {
                    reported = true;
                    node.events.emit(EventKind::PeerUnreachable {
                        address: address.clone(),
                        error: error.to_string(),
                    });
                }
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = node.shutdown.cancelled() => break,
        }
    }
}

/// Dials `address` and runs the link until it ends.
async fn dial(node: &Arc<Node>, address: &str) -> Result<(), LinkError> {
    let mut request = format!("ws://{address}/p2p")
        .into_client_request()
        .map_err(|e| LinkError::Dial(e.to_string()))?;
    if let Some(token) = &node.token
        && let Ok(value) = format!("Bearer {token}").parse()
    {
        request
            .headers_mut()
            .insert(axum::http::header::AUTHORIZATION, value);
    }
    let connect =
        tokio_tungstenite::connect_async_with_config(request, Some(socket_config()), true);
    let (socket, _) = tokio::time::timeout(DIAL_TIMEOUT, connect)
        .await
        .map_err(|_| LinkError::Dial(format!("no answer within {DIAL_TIMEOUT:?}")))?
        .map_err(|e| LinkError::Dial(e.to_string()))?;
    let transport = tungstenite_transport(node, socket);
    run(
        node,
        transport,
        LinkDirection::Outbound,
        Some(address.to_owned()),
    )
    .await
}

/// Runs an inbound link (an upgraded `GET /p2p`).
pub async fn accept(node: Arc<Node>, socket: WebSocket, remote: String) {
    let transport = axum_transport(&node, socket);
    if let Err(error) = run(&node, transport, LinkDirection::Inbound, None).await {
        tracing::debug!(%remote, %error, "inbound link ended");
    }
}

/// Ends a link before it joined the table: Reject (if there is a reason
/// to give), then close.
async fn refuse(transport: &Transport, reason: &str) {
    let reject = Message::Reject {
        reason: reason.chars().take(shared::p2p::MAX_TEXT).collect(),
    };
    let _ = transport
        .outgoing
        .send(Outbound::Frame(encode(&reject)))
        .await;
    let _ = transport.outgoing.send(Outbound::Close).await;
}

/// A peer broke the rules before its hello. One we dialled is banned by
/// the address we dialled; an inbound one has not said who it is, so it
/// is only disconnected (banning its source address would, on loopback or
/// behind a proxy, ban everyone).
fn before_hello(node: &Node, dialled: Option<&str>, reason: String) -> LinkError {
    match dialled {
        Some(address) => {
            node.ban(address, "", &reason);
        }
        None => node.events.emit(EventKind::PeerDisconnected {
            address: "unknown (before hello)".into(),
            reason: reason.clone(),
        }),
    }
    LinkError::Protocol(reason)
}

async fn run(
    node: &Arc<Node>,
    mut transport: Transport,
    direction: LinkDirection,
    dialled: Option<String>,
) -> Result<(), LinkError> {
    let ours = {
        let tree = node.tree();
        Hello::new(
            &node.params,
            &node.id,
            &node.address,
            tree.height(),
            tree.best_work(),
        )
    };
    let _ = transport
        .outgoing
        .send(Outbound::Frame(encode(&Message::Hello(ours.clone()))))
        .await;
    let first = tokio::time::timeout(HANDSHAKE_TIMEOUT, transport.incoming.recv())
        .await
        .map_err(|_| LinkError::HandshakeTimeout(HANDSHAKE_TIMEOUT))?;
    let theirs = match first {
        Some(Inbound::Frame(frame)) => match decode(&frame) {
            Ok(Message::Hello(hello)) => hello,
            Ok(Message::Reject { reason }) => {
                if let Some(address) = &dialled {
                    node.strategist.link_lost(address);
                }
                return Err(LinkError::RefusedByPeer(reason));
            }
            Ok(_) => {
                let reason = "a message before hello".to_owned();
                refuse(&transport, &reason).await;
                return Err(before_hello(node, dialled.as_deref(), reason));
            }
            Err(error) => {
                let reason = format!("an undecodable first frame: {error}");
                refuse(&transport, &reason).await;
                return Err(before_hello(node, dialled.as_deref(), reason));
            }
        },
        Some(Inbound::Bad(reason)) => {
            refuse(&transport, &reason).await;
            return Err(before_hello(node, dialled.as_deref(), reason));
        }
        Some(Inbound::Closed(reason)) => return Err(LinkError::Closed(reason)),
        None => return Err(LinkError::Closed("the socket ended".into())),
    };
    let address = dialled.unwrap_or_else(|| theirs.listen.clone());
    if let Err(error) = check_hello(&ours, &theirs) {
        let reason = error.to_string();
        tracing::warn!(peer = %address, %reason, "peer refused");
        refuse(&transport, &reason).await;
        node.links
            .set_state(&address, LinkState::Down, Some(reason.clone()));
        node.events.emit(EventKind::PeerDisconnected {
            address,
            reason: reason.clone(),
        });
        return Err(LinkError::Refused(reason));
    }
    if let Some(ban) = node.bans.active(&address, &theirs.node_id, now_ms()) {
        let reason = format!("banned until {} ({})", ban.until, ban.reason);
        refuse(&transport, &reason).await;
        return Err(LinkError::Refused(reason));
    }
    let registered = match node.links.register(&address, &theirs.node_id, direction) {
        Ok(registered) => registered,
        Err(refusal) => {
            // A duplicate is closed without a Reject: the pair keeps its
            // other link, and nothing needs saying.
            if refusal != super::Refusal::Duplicate {
                refuse(&transport, &refusal.to_string()).await;
            } else {
                let _ = transport.outgoing.send(Outbound::Close).await;
            }
            return Err(LinkError::Refused(refusal.to_string()));
        }
    };
    tracing::info!(peer = %address, id = %theirs.node_id, ?direction, "peer linked");
    node.events.emit(EventKind::PeerConnected {
        address: address.clone(),
        id: theirs.node_id.clone(),
        direction,
    });
    let tip = PeerTip {
        height: theirs.best_height,
        work: theirs.best_work(),
    };
    let serial = registered.serial;
    let reason = session(node, transport, &address, &theirs.node_id, registered, tip).await;
    node.strategist.link_lost(&address);
    if let Some(reason) = node.links.closed(&address, serial, &reason) {
        tracing::info!(peer = %address, %reason, "peer link closed");
        node.events
            .emit(EventKind::PeerDisconnected { address, reason });
    }
    Ok(())
}

/// The linked part: reads until the link ends and returns why.
async fn session(
    node: &Arc<Node>,
    mut transport: Transport,
    address: &str,
    id: &str,
    registered: Registered,
    tip: PeerTip,
) -> String {
    let Registered {
        mut outgoing,
        closer,
        stats,
        ..
    } = registered;
    let writer_stats = Arc::clone(&stats);
    let (sent_bytes, sent_blocks) = (
        node.metrics.peer_bytes_sent.clone(),
        node.metrics.peer_blocks_sent.clone(),
    );
    let wire = transport.outgoing.clone();
    let writer_closer = closer.clone();
    node.tasks.spawn(async move {
        loop {
            let next = tokio::select! {
                next = outgoing.recv() => next,
                () = writer_closer.cancelled() => None,
            };
            let Some(item) = next else { break };
            // A frame due already (no latency on the link, the usual case)
            // goes at once: a timer for a past instant still waits for the
            // timer's next millisecond tick, a wake-up and a millisecond
            // per frame for nothing.
            if item.release_at > tokio::time::Instant::now() {
                tokio::time::sleep_until(item.release_at).await;
            }
            let len = item.frame.len() as u64;
            if wire.send(Outbound::Frame(item.frame)).await.is_err() {
                break;
            }
            writer_stats.bytes_sent.fetch_add(len, Ordering::Relaxed);
            sent_bytes.inc_by(len);
            if item.is_block {
                writer_stats.blocks_sent.fetch_add(1, Ordering::Relaxed);
                sent_blocks.inc();
            }
        }
        let _ = wire.send(Outbound::Close).await;
    });

    relay::link_up(node, address, tip);
    let mut bucket = TokenBucket::new(RATE_PER_SEC, RATE_BURST);
    let mut ping_every = tokio::time::interval(PING_EVERY);
    let mut last_ping: Option<(u64, Instant)> = None;
    let mut last_heard = Instant::now();
    let mut context = relay::LinkContext::default();
    loop {
        let item = tokio::select! {
            item = transport.incoming.recv() => item,
            _ = ping_every.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    closer.cancel();
                    return format!("silent for {SILENCE_LIMIT:?}");
                }
                let nonce = rand::random();
                if node.links.send(address, &Message::Ping { nonce }) {
                    last_ping = Some((nonce, Instant::now()));
                }
                continue;
            }
            () = closer.cancelled() => return "closed by this node".into(),
            () = node.shutdown.cancelled() => {
                closer.cancel();
                return "shutting down".into();
            }
        };
        let frame = match item {
            Some(Inbound::Frame(frame)) => frame,
            Some(Inbound::Bad(reason)) => {
                closer.cancel();
                return node.ban(address, id, &reason);
            }
            Some(Inbound::Closed(reason)) => {
                closer.cancel();
                return reason;
            }
            None => {
                closer.cancel();
                return "the socket ended".into();
            }
        };
        // A link set down takes nothing in either; it still counts as
        // heard, so it is not dropped as silent while down.
        last_heard = Instant::now();
        if node.links.is_down(address) {
            continue;
        }
        stats
            .bytes_received
            .fetch_add(frame.len() as u64, Ordering::Relaxed);
        node.metrics.peer_bytes_received.inc_by(frame.len() as u64);
        let message = match decode(&frame) {
            Ok(message) => message,
            Err(error) => {
                closer.cancel();
                return node.ban(address, id, &format!("a bad frame: {error}"));
            }
        };
        // A block we asked for is bounded by what we ask, so a fast sync
        // never counts as a flood; everything else is rate-limited.
        let asked = match &message {
            Message::Block { block } => node.links.requests.is_asked_of(address, &block.0.hash),
            _ => false,
        };
        if !asked && !bucket.take(Instant::now()) {
            closer.cancel();
            return node.ban(address, id, "a flood of messages past the rate limit");
        }
        match message {
            Message::Ping { nonce } => {
                node.links.send(address, &Message::Pong { nonce });
            }
            Message::Pong { nonce } => {
                if let Some((sent, at)) = last_ping
                    && sent == nonce
                {
                    let rtt = u64::try_from(at.elapsed().as_micros()).unwrap_or(u64::MAX);
                    stats.rtt_us.store(rtt.max(1), Ordering::Relaxed);
                    last_ping = None;
                }
            }
            Message::Block { .. } | Message::Headers { .. } => {
                node.links
                    .block_bytes_received
                    .fetch_add(frame.len() as u64, Ordering::Relaxed);
                if matches!(message, Message::Block { .. }) {
                    stats.blocks_received.fetch_add(1, Ordering::Relaxed);
                    node.metrics.peer_blocks_received.inc();
                }
                if let Err(stop) = relay::handle(node, address, message, &mut context).await {
                    closer.cancel();
                    return stop_reason(node, address, id, stop);
                }
            }
            other => {
                if let Err(stop) = relay::handle(node, address, other, &mut context).await {
                    closer.cancel();
                    return stop_reason(node, address, id, stop);
                }
            }
        }
        // The node runs on one thread: a peer sending as fast as it can
        // must not keep the HTTP API and the other links waiting.
        tokio::task::yield_now().await;
    }
}

fn stop_reason(node: &Node, address: &str, id: &str, stop: Stop) -> String {
    match stop {
        Stop::Ban(reason) => node.ban(address, id, &reason),
        Stop::Close(reason) => reason,
    }
}

/// Messages a link may send: `rate` per second, `burst` at once.
struct TokenBucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl TokenBucket {
    fn new(rate: f64, burst: f64) -> Self {
        Self {
            rate,
            burst,
            tokens: burst,
            at: Instant::now(),
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.at = now;
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_allows_a_burst_then_the_rate() {
        let start = Instant::now();
        let mut bucket = TokenBucket {
            rate: 10.0,
            burst: 3.0,
            tokens: 3.0,
            at: start,
        };
        assert!((0..3).all(|_| bucket.take(start)));
        assert!(!bucket.take(start));
        assert!(bucket.take(start + Duration::from_millis(100)));
        assert!(!bucket.take(start + Duration::from_millis(100)));
    }
}
