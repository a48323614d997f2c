//! What several of `shared`'s test files use: the fixed header vector and
//! proptest strategies for headers, entries and blocks.
#![allow(dead_code, unused_imports)]

use shared::{BlockHash, CompactTarget, Header, MerkleRoot};

/// The vector header's bytes and SHA-256d, computed with Python's hashlib
/// over the byte layout in the header module's docs.
pub const VECTOR_HEADER_HEX: &str = "010000002a000000000000001111111111111111111111111111111111111111111111111111111111111111\
2222222222222222222222222222222222222222222222222222222222222222\
7ba8da769b010000ffff001f15cd5b0700000000";
pub const VECTOR_HASH: &str = "72090d0829ab936492362649792178c82251b3a6aa44ff064f97894648ab0429";

pub fn vector_header() -> Header {
    Header {
        version: 1,
        index: 42,
        timestamp: 1_767_225_600_123,
        previous_hash: BlockHash::from_bytes([0x11; 32]),
        merkle_root: MerkleRoot::from_bytes([0x22; 32]),
        bits: CompactTarget::from_consensus(0x1f00_ffff),
        proof: 123_456_789,
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use strategies::*;

#[cfg(not(target_arch = "wasm32"))]
mod strategies {
    use proptest::prelude::*;
    use shared::{Block, BlockHash, CompactTarget, Entry, Header, MerkleRoot};

    pub fn any_header() -> impl Strategy<Value = Header> {
        (
            any::<u32>(),
            any::<u64>(),
            any::<[u8; 32]>(),
            any::<[u8; 32]>(),
            any::<u64>(),
            any::<u32>(),
            any::<u64>(),
        )
            .prop_map(
                |(version, index, prev, merkle, timestamp, bits, proof)| Header {
                    version,
                    index,
                    timestamp,
                    previous_hash: BlockHash::from_bytes(prev),
                    merkle_root: MerkleRoot::from_bytes(merkle),
                    bits: CompactTarget::from_consensus(bits),
                    proof,
                },
            )
    }

    pub fn any_entry() -> impl Strategy<Value = Entry> {
        prop_oneof![
            (any::<u64>(), ".{0,20}").prop_map(|(h, m)| Entry::coinbase(h, m)),
            ".{0,60}".prop_map(Entry::data),
        ]
    }

    pub fn any_block() -> impl Strategy<Value = Block> {
        (any_header(), prop::collection::vec(any_entry(), 0..6))
            .prop_map(|(header, entries)| Block::assemble(header, entries))
    }
}
