//! The node's event bus: every event is stamped with the time and this
//! node's id and broadcast to the `/events` WebSocket subscribers. Sending
//! never blocks; a subscriber that falls behind misses events and is told.

use shared::events::{Event, EventKind};
use tokio::sync::broadcast;

/// Events buffered per subscriber before a slow one starts missing some.
const EVENT_BUFFER: usize = 4096;

#[derive(Debug, Clone)]
pub struct EventBus {
    node_id: String,
    sender: broadcast::Sender<Event>,
}

impl EventBus {
    pub fn new(node_id: String) -> Self {
        let (sender, _) = broadcast::channel(EVENT_BUFFER);
        Self { node_id, sender }
    }

    pub fn emit(&self, kind: EventKind) {
        let event = Event {
            at: crate::clock::now_ms(),
            node: Some(self.node_id.clone()),
            kind,
        };
        // No subscribers is not an error: events are best-effort telemetry.
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}
