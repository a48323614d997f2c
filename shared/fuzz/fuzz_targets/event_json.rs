//! An event from a node's or the manager's `/events`, as the explorer and
//! the manager read it: whatever decodes round-trips through JSON.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::events::Event;

fuzz_target!(|text: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<Event>(text) {
        let json = serde_json::to_string(&event).expect("an event serializes");
        assert_eq!(serde_json::from_str::<Event>(&json).ok(), Some(event));
    }
});
