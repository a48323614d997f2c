//! Property tests: encodings round-trip, and no single flipped bit of a
//! valid chain's blocks survives decoding plus validation.
#![cfg(not(target_arch = "wasm32"))]

use std::sync::OnceLock;

use proptest::prelude::*;
use shared::{
    Block, BlockHash, ChainParams, CompactTarget, Entry, Header, MerkleRoot, Preset, extend_chain,
    solve, validate_chain,
};

fn any_header() -> impl Strategy<Value = Header> {
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

fn any_entry() -> impl Strategy<Value = Entry> {
    prop_oneof![
        (any::<u64>(), ".{0,20}").prop_map(|(h, m)| Entry::coinbase(h, m)),
        ".{0,60}".prop_map(Entry::data),
    ]
}

fn any_block() -> impl Strategy<Value = Block> {
    (any_header(), prop::collection::vec(any_entry(), 0..6))
        .prop_map(|(header, entries)| Block::assemble(header, entries))
}

/// A valid regtest chain whose blocks carry data entries, built once.
fn sample_chain() -> &'static (ChainParams, Vec<Block>, u64) {
    static CHAIN: OnceLock<(ChainParams, Vec<Block>, u64)> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let params = Preset::Regtest.params();
        let mut chain = Vec::new();
        let mut now = params.genesis.header.timestamp;
        extend_chain(&params, &mut chain, 5, "prop", || {
            now += 1_000;
            now
        });
        // Give the tip two data entries so flips land in entry bytes too.
        let tip = chain.pop().unwrap();
        let entries = vec![
            tip.entries[0].clone(),
            Entry::data("hello, chain"),
            Entry::data("ünïcødé ✓"),
        ];
        chain.push(solve(Block::assemble(tip.header, entries)).unwrap());
        validate_chain(&params, &chain, now + 1).unwrap();
        (params, chain, now + 1)
    })
}

proptest! {
    #[test]
    fn header_bytes_round_trip(header in any_header()) {
        prop_assert_eq!(Header::from_bytes(&header.to_bytes()), header);
    }

    #[test]
    fn block_bytes_round_trip(block in any_block()) {
        prop_assert_eq!(Block::from_bytes(&block.to_bytes()).unwrap(), block);
    }

    #[test]
    fn block_json_round_trips(block in any_block()) {
        let json = serde_json::to_string(&block).unwrap();
        prop_assert_eq!(serde_json::from_str::<Block>(&json).unwrap(), block);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(block) = Block::from_bytes(&bytes) {
            // Whatever decodes must encode back to the very same bytes.
            prop_assert_eq!(block.to_bytes(), bytes);
        }
    }

    #[test]
    fn any_single_bit_flip_is_rejected(which in 0usize..6, bit in any::<prop::sample::Index>()) {
        let (params, chain, now) = sample_chain();
        let mut bytes = chain[which].to_bytes();
        let bit = bit.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        if let Ok(flipped) = Block::from_bytes(&bytes) {
            let mut tampered = chain.clone();
            tampered[which] = flipped;
            let error = validate_chain(params, &tampered, *now);
            prop_assert!(error.is_err(), "flipping bit {} of block {} went unnoticed", bit, which);
            prop_assert_eq!(error.unwrap_err().index, which as u64);
        }
    }
}
