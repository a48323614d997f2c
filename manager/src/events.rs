//! The manager's `/events` for WebSocket subscribers: a snapshot of the
//! present first, then every event of the [`crate::hub`] as it happens,
//! until the subscriber leaves or the manager stops.

use axum::extract::ws::{Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use shared::events::{Event, EventKind};
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::hub::stamp;

/// Serve one subscriber. `events` must have been subscribed before
/// `snapshot` was taken, so nothing falls between them.
pub async fn serve_subscriber(
    socket: WebSocket,
    mut events: broadcast::Receiver<Event>,
    snapshot: Event,
    shutdown: CancellationToken,
) {
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
