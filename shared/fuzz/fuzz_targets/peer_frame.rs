//! A frame from a peer: whatever `decode` takes must encode and decode
//! back to the same message, and nothing may panic it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::p2p;

fuzz_target!(|frame: &[u8]| {
    if let Ok(message) = p2p::decode(frame) {
        let again = p2p::encode(&message);
        assert_eq!(p2p::decode(&again), Ok(message));
        // The encoding is minimal, so a message never takes more bytes
        // than the frame it came in.
        assert!(again.len() <= frame.len());
    }
});
