//! The event hub: one broadcast channel for the whole network, and the
//! follower tasks that feed it. A follower reads one node's `/events`,
//! folds each event into the node table and forwards it unchanged; the
//! manager adds its own events (`node_started`, `node_stopped`, …). The
//! manager owns the hub; the WebSocket side ([`crate::events`]) only
//! subscribes to it, so neither reaches back into the manager.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{HeaderValue, header};
use futures_util::StreamExt;
use shared::events::{Event, EventKind};
use tokio::sync::broadcast;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_util::sync::CancellationToken;

use crate::registry::Registry;

/// Events buffered per subscriber; one that falls further behind is told how
/// many it missed and carries on.
pub const CAPACITY: usize = 4096;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
const FIRST_RETRY: Duration = Duration::from_millis(250);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// An event that happens now.
pub fn stamp(node: Option<String>, kind: EventKind) -> Event {
    Event {
        at: node::clock::now_ms(),
        node,
        kind,
    }
}

/// Cheap to clone; every clone sends on the same channel.
#[derive(Debug, Clone)]
pub struct Hub {
    sender: broadcast::Sender<Event>,
    /// Where followers fold the events they read.
    registry: Arc<Registry>,
    /// Sent to the nodes' `/events` too, should they ever ask for it.
    token: Option<String>,
}

impl Hub {
    pub fn new(registry: Arc<Registry>, token: Option<String>) -> Hub {
        let (sender, _) = broadcast::channel(CAPACITY);
        Hub {
            sender,
            registry,
            token,
        }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }

    /// Put an event that happens now on the stream; nobody listening is fine.
    pub fn emit(&self, node: Option<String>, kind: EventKind) {
        let _ = self.sender.send(stamp(node, kind));
    }

    /// Follow the node in `slot` (during `generation`) at `address` until
    /// `stop` is pulled, on a task of its own.
    pub fn follow(&self, slot: usize, generation: u64, address: String, stop: CancellationToken) {
        tokio::spawn(self.clone().follow_node(slot, generation, address, stop));
    }

    /// Reconnects with a growing pause (250 ms up to 5 s) whenever the
    /// connection drops.
    async fn follow_node(
        self,
        slot: usize,
        generation: u64,
        address: String,
        stop: CancellationToken,
    ) {
        let url = format!("ws://{address}/events");
        let mut pause = FIRST_RETRY;
        loop {
            let Some(request) = self.request(&url) else {
                tracing::warn!(%address, "cannot follow node events: not a usable URL");
                return;
            };
            let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                .read_buffer_size(node::p2p::link::READ_BUFFER_BYTES);
            let connect = tokio::time::timeout(
                CONNECT_TIMEOUT,
                tokio_tungstenite::connect_async_with_config(request, Some(config), false),
            );
            let connected = tokio::select! {
                _ = stop.cancelled() => return,
                connected = connect => connected,
            };
            match connected {
                Ok(Ok((mut stream, _))) => {
                    tracing::debug!(%address, "following node events");
                    pause = FIRST_RETRY;
                    loop {
                        let message = tokio::select! {
                            _ = stop.cancelled() => {
                                let _ = stream.close(None).await;
                                return;
                            }
                            message = stream.next() => message,
                        };
                        match message {
                            Some(Ok(tungstenite::Message::Text(text))) => {
                                self.forward(slot, generation, &address, text.as_str())
                            }
                            Some(Ok(_)) => {}
                            Some(Err(err)) => {
                                tracing::debug!(%address, error = %err, "node event stream broke");
                                break;
                            }
                            None => break,
                        }
                    }
                }
                Ok(Err(err)) => {
                    tracing::debug!(%address, error = %err, "cannot follow node events")
                }
                Err(_) => tracing::debug!(%address, "node events: connect timed out"),
            }
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(LAST_RETRY);
        }
    }

    /// The handshake request, built anew for every attempt (it is not `Clone`).
    fn request(&self, url: &str) -> Option<tungstenite::handshake::client::Request> {
        let mut request = url.into_client_request().ok()?;
        if let Some(token) = &self.token {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).ok()?;
            request.headers_mut().insert(header::AUTHORIZATION, value);
        }
        Some(request)
    }

    /// Fold a node's event into its row, then pass it on unchanged.
    fn forward(&self, slot: usize, generation: u64, address: &str, text: &str) {
        match serde_json::from_str::<Event>(text) {
            Ok(event) => {
                self.registry.apply_event(slot, generation, &event);
                let _ = self.sender.send(event);
            }
            Err(err) => tracing::warn!(%address, error = %err, "unreadable node event"),
        }
    }
}
