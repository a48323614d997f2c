//! A block's byte encoding: whatever decodes encodes back to the very same
//! bytes (one encoding per block), and nothing may panic the decoder.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shared::Block;

fuzz_target!(|bytes: &[u8]| {
    if let Ok(block) = Block::from_bytes(bytes) {
        assert_eq!(block.to_bytes(), bytes);
    }
});
