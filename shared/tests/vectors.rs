//! Fixed vectors computed independently (Python's hashlib over the byte
//! layout in the header module's docs). The same file runs natively and, in
//! headless Chromium, on the wasm32 build: both must agree with them.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod common;

use common::{VECTOR_HASH, VECTOR_HEADER_HEX, vector_header};
use shared::{Block, ChainParams, Entry, Header, Preset, Rejection, spaced_chain, validate_chain};

#[test]
fn header_encodes_to_the_vector_bytes_and_hash() {
    let header = vector_header();
    assert_eq!(hex::encode(header.to_bytes()), VECTOR_HEADER_HEX);
    assert_eq!(header.block_hash().to_string(), VECTOR_HASH);
}

#[test]
fn vector_bytes_decode_to_the_header() {
    let bytes: [u8; 96] = hex::decode(VECTOR_HEADER_HEX).unwrap().try_into().unwrap();
    assert_eq!(Header::from_bytes(&bytes), vector_header());
}

#[test]
fn genesis_blocks_match_their_vectors() {
    let default = Preset::Default.params();
    assert_eq!(
        default.genesis.header.merkle_root.to_string(),
        "7db45cfa89b990ef344495001d71424ddfc0987c6624bab78546e8bec6d8ef78"
    );
    assert_eq!(
        default.genesis.hash.to_string(),
        "00000069f5c15828dd37d503f6c10be6a987ce47f5f94e57925ddee0e3a7c5ec"
    );
    assert_eq!(
        Preset::Regtest.params().genesis.hash.to_string(),
        "25495c9d4dbd97d473eb4bd9047fc48253bd573137e7794b71a67cacd0951ede"
    );
}

#[test]
fn genesis_proofs_meet_their_targets() {
    for preset in Preset::ALL {
        let genesis = preset.params().genesis;
        let target = genesis.header.bits.to_target().unwrap();
        assert!(target.is_met_by(genesis.hash), "{preset}");
    }
}

#[test]
fn merkle_root_of_three_entries_matches_the_vector() {
    let entries = [
        Entry::coinbase(5, "abc"),
        Entry::data("hello"),
        Entry::data("world"),
    ];
    assert_eq!(
        Block::merkle_root_of(&entries).to_string(),
        "3a0f84df8d180db2b027ef89f7d709f4a707ffa1c364585108e060fb692dc965"
    );
}

#[test]
fn genesis_json_keeps_the_seed_names() {
    let json = serde_json::to_string(&Preset::Default.params().genesis).unwrap();
    assert_eq!(
        json,
        r#"{"hash":"00000069f5c15828dd37d503f6c10be6a987ce47f5f94e57925ddee0e3a7c5ec","header":{"version":1,"index":0,"timestamp":1767225600000,"previous_hash":"0000000000000000000000000000000000000000000000000000000000000000","merkle_root":"7db45cfa89b990ef344495001d71424ddfc0987c6624bab78546e8bec6d8ef78","bits":"1e00ffff","proof":18212191},"entries":[{"type":"coinbase","height":0,"miner":"genesis"}]}"#
    );
    let back: Block = serde_json::from_str(&json).unwrap();
    assert_eq!(back, Preset::Default.params().genesis);
}

#[test]
fn a_mined_regtest_chain_validates_and_a_tampered_one_names_the_block() {
    let params: ChainParams = Preset::Regtest.params();
    let (mut chain, now) = spaced_chain(&params, 20, "vector-miner", 1_000);
    let summary = validate_chain(&params, &chain, now).unwrap();
    assert_eq!(summary.height, 20);
    assert_eq!(summary.tip, chain[20].hash);

    chain[7].entries.push(Entry::data("tampered"));
    let error = validate_chain(&params, &chain, now).unwrap_err();
    assert_eq!(error.index, 7);
    assert!(matches!(error.reason, Rejection::WrongMerkleRoot { .. }));
}
