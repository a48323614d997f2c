//! One test per reason a block can be refused: each builds a chain that is
//! valid but for exactly one rule and checks that rule is the one named.
#![cfg(not(target_arch = "wasm32"))]

use shared::{
    Block, BlockHash, ChainParams, CompactTarget, EncodingError, Entry, Header, MerkleRoot, Preset,
    Rejection, Target, expected_bits, extend_chain, solve, spaced_chain, validate_chain,
    validate_headers, validate_headers_after,
};

/// A valid regtest chain of `blocks` blocks after genesis, one second apart,
/// and a clock reading just after its tip.
fn regtest_chain(blocks: usize) -> (ChainParams, Vec<Block>, u64) {
    let params = Preset::Regtest.params();
    let (chain, now) = spaced_chain(&params, blocks, "rules", 1_000);
    (params, chain, now)
}

/// Re-mines `block` after its header was edited, so its stated hash and
/// proof of work are right again and only the edited rule is broken.
fn remined(block: Block) -> Block {
    solve(block).expect("regtest blocks are always solvable")
}

/// Asserts that `refusal`, the `(index, reason)` of a refused chain, is
/// block `index` refused for the rule `pattern`, showing the reason if not.
macro_rules! assert_refused {
    ($refusal:expr, $index:expr, $pattern:pat) => {
        let (index, reason) = $refusal;
        assert_eq!(index, $index, "{reason}");
        assert!(matches!(reason, $pattern), "{reason}");
    };
}

fn first_error(params: &ChainParams, chain: &[Block], now: u64) -> (u64, Rejection) {
    let error = validate_chain(params, chain, now).expect_err("the chain must be refused");
    (error.index, error.reason)
}

#[test]
fn a_valid_chain_is_accepted_with_its_height_and_work() {
    let (params, chain, now) = regtest_chain(12);
    let summary = validate_chain(&params, &chain, now).unwrap();
    assert_eq!(summary.height, 12);
    assert_eq!(summary.tip, chain[12].hash);
    let per_block = params.initial_bits.to_target().unwrap().to_work();
    let mut expected = shared::Work::ZERO;
    for _ in 0..13 {
        expected += per_block;
    }
    assert_eq!(summary.work, expected);
}

#[test]
fn empty_chain() {
    let params = Preset::Regtest.params();
    assert_eq!(first_error(&params, &[], 0).1, Rejection::EmptyChain);
}

#[test]
fn bad_genesis() {
    let (params, mut chain, now) = regtest_chain(3);
    chain[0] = Preset::Default.params().genesis;
    assert_refused!(
        first_error(&params, &chain, now),
        0,
        Rejection::BadGenesis { .. }
    );
}

#[test]
fn bad_encoding_stated_hash_does_not_match_header() {
    let (params, mut chain, now) = regtest_chain(5);
    chain[3].hash = BlockHash::from_bytes([0xab; 32]);
    assert_refused!(
        first_error(&params, &chain, now),
        3,
        Rejection::BadEncoding(EncodingError::HashMismatch { .. })
    );
}

#[test]
fn bad_encoding_unknown_version() {
    let (params, mut chain, now) = regtest_chain(5);
    let mut block = chain[5].clone();
    block.header.version = 2;
    chain[5] = remined(block);
    assert_eq!(
        first_error(&params, &chain, now),
        (5, EncodingError::UnsupportedVersion { version: 2 }.into())
    );
}

/// Rebuilds the tip with other entries (merkle root and proof updated), so
/// only the entry rule under test is broken.
fn with_tip_entries(entries: Vec<Entry>) -> (u64, Rejection) {
    let (params, mut chain, now) = regtest_chain(4);
    let tip = chain.pop().unwrap();
    chain.push(remined(Block::assemble(tip.header, entries)));
    first_error(&params, &chain, now)
}

#[test]
fn bad_encoding_no_entries() {
    assert_eq!(
        with_tip_entries(vec![]),
        (4, EncodingError::NoEntries.into())
    );
}

#[test]
fn bad_encoding_first_entry_not_coinbase() {
    assert_eq!(
        with_tip_entries(vec![Entry::data("no coinbase")]),
        (4, EncodingError::FirstEntryNotCoinbase.into())
    );
}

#[test]
fn bad_encoding_coinbase_names_another_height() {
    assert_eq!(
        with_tip_entries(vec![Entry::coinbase(9, "rules")]),
        (
            4,
            EncodingError::CoinbaseHeightMismatch {
                expected: 4,
                found: 9
            }
            .into()
        )
    );
}

#[test]
fn bad_encoding_second_coinbase() {
    assert_eq!(
        with_tip_entries(vec![Entry::coinbase(4, "a"), Entry::coinbase(4, "b")]),
        (4, EncodingError::ExtraCoinbase { position: 1 }.into())
    );
}

#[test]
fn bad_encoding_oversized_data_entry() {
    let big = "x".repeat(shared::MAX_DATA_BYTES + 1);
    assert_eq!(
        with_tip_entries(vec![Entry::coinbase(4, "a"), Entry::data(big)]),
        (
            4,
            EncodingError::EntryTooLarge {
                position: 1,
                len: shared::MAX_DATA_BYTES + 1,
                max: shared::MAX_DATA_BYTES
            }
            .into()
        )
    );
}

#[test]
fn bad_encoding_too_many_entries() {
    let mut entries = vec![Entry::coinbase(4, "a")];
    entries.extend((0..shared::block::MAX_ENTRIES).map(|i| Entry::data(i.to_string())));
    assert_refused!(
        with_tip_entries(entries),
        4,
        Rejection::BadEncoding(EncodingError::TooManyEntries { .. })
    );
}

#[test]
fn wrong_previous_hash() {
    let (params, mut chain, now) = regtest_chain(6);
    let mut block = chain[4].clone();
    block.header.previous_hash = chain[2].hash;
    chain[4] = remined(block);
    chain.truncate(5);
    assert_eq!(
        first_error(&params, &chain, now),
        (
            4,
            Rejection::WrongPreviousHash {
                expected: chain[3].hash,
                found: chain[2].hash
            }
        )
    );
}

#[test]
fn wrong_index() {
    let (params, mut chain, now) = regtest_chain(4);
    let mut block = chain.pop().unwrap();
    block.header.index = 9;
    block.entries[0] = Entry::coinbase(9, "rules");
    chain.push(remined(Block::assemble(block.header, block.entries)));
    assert_eq!(
        first_error(&params, &chain, now),
        (
            4,
            Rejection::WrongIndex {
                expected: 4,
                found: 9
            }
        )
    );
}

#[test]
fn hash_above_target() {
    let (params, mut chain, now) = regtest_chain(4);
    let target = params.initial_bits.to_target().unwrap();
    let mut header = chain[4].header;
    // About half of all hashes miss the regtest target: find one that does.
    while target.is_met_by(header.block_hash()) {
        header.proof += 1;
    }
    chain[4] = chain[4].clone().with_header(header);
    assert_eq!(
        first_error(&params, &chain, now),
        (
            4,
            Rejection::HashAboveTarget {
                hash: header.block_hash(),
                target
            }
        )
    );
}

#[test]
fn wrong_bits_between_retargets() {
    let (params, mut chain, now) = regtest_chain(4);
    let mut block = chain[4].clone();
    block.header.bits = CompactTarget::from_consensus(0x207f_0000);
    chain[4] = remined(block);
    assert_eq!(
        first_error(&params, &chain, now),
        (
            4,
            Rejection::WrongBits {
                expected: params.initial_bits,
                found: CompactTarget::from_consensus(0x207f_0000)
            }
        )
    );
}

/// Parameters that retarget every 4 blocks from an easy start, so tests
/// reach a retarget height quickly.
fn fast_retarget_params() -> ChainParams {
    let bits = CompactTarget::from_consensus(0x2000_ffff);
    let proof = {
        let genesis = ChainParams::genesis_block(bits, 0);
        solve(genesis).unwrap().header.proof
    };
    ChainParams::new(
        "fast-retarget",
        bits,
        CompactTarget::from_consensus(0x207f_ffff),
        1_000,
        4,
        60_000,
        proof,
    )
}

#[test]
fn retarget_follows_the_observed_spacing() {
    let params = fast_retarget_params();
    // Blocks come twice as slow as the 1 s spacing: the target doubles.
    let (chain, now) = spaced_chain(&params, 4, "rules", 2_000);
    validate_chain(&params, &chain, now).unwrap();
    let old = params.initial_bits.to_target().unwrap();
    let new = chain[4].header.bits.to_target().unwrap();
    assert_eq!(chain[4].header.bits, old_scaled(old, 2, 1));
    assert!(new > old);
}

fn old_scaled(target: Target, num: u8, den: u8) -> CompactTarget {
    let mut bytes = target.to_be_bytes();
    // Exact for these small factors on a target with free low bytes.
    let value = u128::from_be_bytes(bytes[16..].try_into().unwrap());
    let high = u128::from_be_bytes(bytes[..16].try_into().unwrap());
    let high = high * u128::from(num) / u128::from(den);
    bytes[..16].copy_from_slice(&high.to_be_bytes());
    bytes[16..].copy_from_slice(&value.to_be_bytes());
    Target::from_be_bytes(bytes).to_compact()
}

#[test]
fn retarget_is_clamped_to_four_times_either_way() {
    let params = fast_retarget_params();
    let old = params.initial_bits.to_target().unwrap();
    // Far too fast (1 ms apart): the target may shrink by 4x, no more.
    let (fast, _) = spaced_chain(&params, 4, "rules", 1);
    assert_eq!(fast[4].header.bits, old_scaled(old, 1, 4));
    // Far too slow (a minute apart): it may grow by 4x, no more.
    let (slow, now) = spaced_chain(&params, 4, "rules", 60_000);
    assert_eq!(slow[4].header.bits, old_scaled(old, 4, 1));
    validate_chain(&params, &slow, now).unwrap();
}

#[test]
fn retarget_never_exceeds_the_pow_limit() {
    let mut params = fast_retarget_params();
    params.pow_limit = params.initial_bits;
    let headers: Vec<Header> = spaced_chain(&params, 3, "rules", 60_000)
        .0
        .iter()
        .map(|b| b.header)
        .collect();
    assert_eq!(expected_bits(&params, &headers), params.initial_bits);
}

#[test]
fn wrong_bits_at_a_retarget_height() {
    let params = fast_retarget_params();
    let (mut chain, now) = spaced_chain(&params, 4, "rules", 2_000);
    let demanded = chain[4].header.bits;
    let mut block = chain[4].clone();
    block.header.bits = params.initial_bits;
    chain[4] = remined(block);
    assert_eq!(
        first_error(&params, &chain, now),
        (
            4,
            Rejection::WrongBits {
                expected: demanded,
                found: params.initial_bits
            }
        )
    );
}

#[test]
fn timestamp_not_after_the_median_of_the_last_eleven() {
    let (params, mut chain, now) = regtest_chain(14);
    // Median of blocks 3..=13 is block 8's time; block 14 may not be at it.
    let median = chain[8].header.timestamp;
    let mut block = chain[14].clone();
    block.header.timestamp = median;
    chain[14] = remined(block);
    assert_eq!(
        first_error(&params, &chain, now),
        (
            14,
            Rejection::TimestampNotAfterMedian {
                timestamp: median,
                median
            }
        )
    );
    // One millisecond later is fine, even though it is before the parent.
    let mut block = chain[14].clone();
    block.header.timestamp = median + 1;
    chain[14] = remined(block);
    validate_chain(&params, &chain, now).unwrap();
}

#[test]
fn timestamp_too_far_in_the_future() {
    let (params, mut chain, now) = regtest_chain(4);
    let limit = now + params.max_future_drift_ms;
    let mut block = chain[4].clone();
    block.header.timestamp = limit + 1;
    chain[4] = remined(block);
    assert_eq!(
        first_error(&params, &chain, now),
        (
            4,
            Rejection::TimestampTooFarAhead {
                timestamp: limit + 1,
                limit
            }
        )
    );
    // Exactly at the limit is allowed.
    let mut block = chain[4].clone();
    block.header.timestamp = limit;
    chain[4] = remined(block);
    validate_chain(&params, &chain, now).unwrap();
}

#[test]
fn wrong_merkle_root() {
    let (params, mut chain, now) = regtest_chain(4);
    let mut block = chain[2].clone();
    block.header.merkle_root = MerkleRoot::from_bytes([7; 32]);
    chain[2] = remined(block);
    assert_refused!(
        first_error(&params, &chain, now),
        2,
        Rejection::WrongMerkleRoot { .. }
    );
}

#[test]
fn headers_alone_validate_and_name_the_first_bad_one() {
    let (params, chain, now) = regtest_chain(30);
    let mut headers: Vec<Header> = chain.iter().map(|b| b.header).collect();
    let summary = validate_headers(&params, &headers, now).unwrap();
    assert_eq!((summary.height, summary.tip), (30, chain[30].hash));

    // The tail after block 19 checks against the 11 headers before it.
    let context = &headers[9..20];
    let tail =
        validate_headers_after(&params, context, chain[19].hash, &headers[20..], now).unwrap();
    assert_eq!(tail.tip, chain[30].hash);

    headers[25].timestamp = now + params.max_future_drift_ms + 1;
    let error = validate_headers(&params, &headers, now).unwrap_err();
    assert_eq!(error.index, 25);
    assert!(matches!(
        error.reason,
        Rejection::WrongPreviousHash { .. }
            | Rejection::HashAboveTarget { .. }
            | Rejection::TimestampTooFarAhead { .. }
    ));
}

#[test]
fn the_first_retarget_ignores_the_genesis_time() {
    let params = fast_retarget_params();
    // The network starts months after the genesis time, then keeps the
    // spacing exactly: the first retarget must see on-time blocks.
    let mut chain = Vec::new();
    let mut now = params.genesis.header.timestamp + 10_000_000_000;
    extend_chain(&params, &mut chain, 4, "rules", || {
        now += 1_000;
        now
    });
    assert_eq!(chain[4].header.bits, params.initial_bits);
    validate_chain(&params, &chain, now + 1).unwrap();
}

#[test]
fn only_a_future_timestamp_and_a_wrong_stated_hash_are_not_permanent() {
    let hash = BlockHash::ZERO;
    let transient = [
        Rejection::TimestampTooFarAhead {
            timestamp: 2,
            limit: 1,
        },
        Rejection::BadEncoding(EncodingError::HashMismatch {
            stated: hash,
            computed: hash,
        }),
    ];
    for reason in &transient {
        assert!(!reason.is_permanent(), "{reason}");
    }
    let permanent = [
        Rejection::BadEncoding(EncodingError::NoEntries),
        Rejection::WrongIndex {
            expected: 1,
            found: 2,
        },
        Rejection::HashAboveTarget {
            hash,
            target: Target::MAX,
        },
        Rejection::TimestampNotAfterMedian {
            timestamp: 1,
            median: 1,
        },
        Rejection::WrongMerkleRoot {
            expected: MerkleRoot::ZERO,
            found: MerkleRoot::ZERO,
        },
    ];
    for reason in &permanent {
        assert!(reason.is_permanent(), "{reason}");
    }
}
