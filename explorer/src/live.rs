//! The manager's event stream: one WebSocket that is opened again by
//! itself whenever it drops, with a growing pause between attempts, and
//! that reports whether the page is live or offline.

use futures::StreamExt;
use gloo_net::websocket::Message;
use gloo_net::websocket::futures::WebSocket;
use gloo_timers::future::TimeoutFuture;
use shared::events::Event;

/// Whether the page hears the network right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    Connecting,
    Live,
    /// The stream dropped or could not be opened; the next try is in
    /// `retry_in_s` seconds.
    Offline {
        retry_in_s: u32,
    },
}

/// Longest pause between two attempts.
const MAX_BACKOFF_S: u32 = 8;

/// Listens to `url` for as long as the page lives: every event goes to
/// `on_event` (in order), every change of connection to `on_state`, and
/// `on_reconnect` runs each time the stream is back after a drop, so
/// the caller can catch up on what it missed.
pub async fn follow_events(
    url: String,
    on_event: impl Fn(Event),
    on_state: impl Fn(Connection),
    on_reconnect: impl Fn(),
) {
    let mut backoff_s = 1;
    let mut dropped_before = false;
    loop {
        on_state(Connection::Connecting);
        if let Ok(mut socket) = WebSocket::open(&url) {
            let mut live = false;
            while let Some(message) = socket.next().await {
                let Ok(Message::Text(text)) = message else {
                    if message.is_err() {
                        break;
                    }
                    continue;
                };
                if !live {
                    live = true;
                    backoff_s = 1;
                    on_state(Connection::Live);
                    if dropped_before {
                        on_reconnect();
                    }
                }
                // An event kind this build does not know is skipped, not fatal:
                // the manager may be newer than the page.
                if let Ok(event) = serde_json::from_str::<Event>(&text) {
                    on_event(event);
                }
            }
        }
        dropped_before = true;
        for left in (1..=backoff_s).rev() {
            on_state(Connection::Offline { retry_in_s: left });
            TimeoutFuture::new(1_000).await;
        }
        backoff_s = (backoff_s * 2).min(MAX_BACKOFF_S);
    }
}
