//! One stream for the whole network: each node's `/events` followed and
//! forwarded unchanged, the manager's own events added, and the merged
//! stream served to any number of WebSocket subscribers.

use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use shared::events::{Event, EventKind};
use tokio::sync::broadcast::error::RecvError;
use tokio_tungstenite::tungstenite;
use tokio_util::sync::CancellationToken;

use crate::network::Manager;

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

/// Follow the node's `/events` until `stop`, reconnecting with a growing
/// pause (250 ms up to 5 s) whenever the connection drops.
pub async fn follow_node(
    manager: Manager,
    slot: usize,
    generation: u64,
    address: String,
    stop: CancellationToken,
) {
    let url = format!("ws://{address}/events");
    let mut pause = FIRST_RETRY;
    loop {
        let connect = tokio::time::timeout(CONNECT_TIMEOUT, tokio_tungstenite::connect_async(&url));
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
                            match serde_json::from_str::<Event>(text.as_str()) {
                                Ok(event) => {
                                    manager.registry().apply_event(slot, generation, &event);
                                    manager.forward(event);
                                }
                                Err(err) => {
                                    tracing::warn!(%address, error = %err, "unreadable node event")
                                }
                            }
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
            Ok(Err(err)) => tracing::debug!(%address, error = %err, "cannot follow node events"),
            Err(_) => tracing::debug!(%address, "node events: connect timed out"),
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(pause) => {}
        }
        pause = (pause * 2).min(LAST_RETRY);
    }
}

/// Serve one subscriber of the manager's `/events`: the snapshot first,
/// then every event as it happens, until it leaves or the manager stops.
pub async fn serve_subscriber(socket: WebSocket, manager: Manager) {
    // Subscribe before taking the snapshot, so nothing falls between them.
    let mut events = manager.subscribe();
    let snapshot = manager.snapshot().await;
    let (mut sink, mut incoming) = socket.split();

    // The reader only notices the subscriber leaving (pings are answered
    // by axum while it reads).
    let left = CancellationToken::new();
    let reader = tokio::spawn({
        let left = left.clone();
        async move {
            while let Some(Ok(message)) = incoming.next().await {
                if matches!(message, Message::Close(_)) {
                    break;
                }
            }
            left.cancel();
        }
    });

    let shutdown = manager.shutdown_signal().clone();
    let mut next = Some(snapshot);
    loop {
        let event = match next.take() {
            Some(event) => event,
            None => tokio::select! {
                _ = left.cancelled() => break,
                _ = shutdown.cancelled() => {
                    let _ = sink.send(Message::Close(None)).await;
                    break;
                }
                received = events.recv() => match received {
                    Ok(event) => event,
                    Err(RecvError::Lagged(count)) => stamp(None, EventKind::EventsDropped { count }),
                    Err(RecvError::Closed) => break,
                },
            },
        };
        let Ok(text) = serde_json::to_string(&event) else {
            continue;
        };
        if sink.send(Message::Text(text.into())).await.is_err() {
            break;
        }
    }
    reader.abort();
}
