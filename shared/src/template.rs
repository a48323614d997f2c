//! What the next block must look like: the template a miner searches a
//! proof for, so every miner builds blocks the validation rules accept.

use crate::block::Block;
use crate::entry::Entry;
use crate::hash::BlockHash;
use crate::header::Header;
use crate::params::ChainParams;
use crate::pow::{PowSearch, SearchOutcome};
use crate::validation::{expected_bits, median_time_past};

/// An unmined block (proof 0) on top of `ancestors` (contiguous headers
/// ending at the parent, whose hash is `parent_hash`), carrying a coinbase
/// for `miner` and the given data entries. The timestamp is `now_ms`, or
/// just after the median time past when the clock is behind it.
pub fn block_template(
    params: &ChainParams,
    ancestors: &[Header],
    parent_hash: BlockHash,
    miner: &str,
    data: impl IntoIterator<Item = String>,
    now_ms: u64,
) -> Block {
    let parent = ancestors.last().unwrap_or(&params.genesis.header);
    let index = parent.index + 1;
    let mut entries = vec![Entry::coinbase(index, miner)];
    entries.extend(data.into_iter().map(Entry::data));
    let header = Header {
        version: Header::VERSION,
        index,
        timestamp: now_ms.max(median_time_past(ancestors) + 1),
        previous_hash: parent_hash,
        merkle_root: Block::merkle_root_of(&entries),
        bits: expected_bits(params, ancestors),
        proof: 0,
    };
    Block::assemble(header, entries)
}

/// Searches proofs for `block` on this thread until one meets its bits;
/// `None` if the bits are not a valid target or the nonce space runs out.
/// Meant for tests and tools; nodes use [`PowSearch`] with a stop flag.
pub fn solve(block: Block) -> Option<Block> {
    let target = block.header.bits.to_target().ok()?;
    match PowSearch::new(&block.header, target).search(0..u64::MAX, || false) {
        SearchOutcome::Found { header, .. } => Some(block.with_header(header)),
        _ => None,
    }
}

/// A chain from genesis with `blocks` mined blocks after it, each
/// `spacing_ms` after the one before, and a clock reading just after its
/// tip: the valid chain tests, benchmarks and tools start from.
pub fn spaced_chain(
    params: &ChainParams,
    blocks: usize,
    miner: &str,
    spacing_ms: u64,
) -> (Vec<Block>, u64) {
    let mut chain = Vec::new();
    let mut now = params.genesis.header.timestamp;
    extend_chain(params, &mut chain, blocks, miner, || {
        now += spacing_ms;
        now
    });
    (chain, now + 1)
}

/// Appends `count` mined blocks to `chain` (which must start with the
/// genesis block), with timestamps from `clock`.
pub fn extend_chain(
    params: &ChainParams,
    chain: &mut Vec<Block>,
    count: usize,
    miner: &str,
    mut clock: impl FnMut() -> u64,
) {
    if chain.is_empty() {
        chain.push(params.genesis.clone());
    }
    let context_len = params.context_len();
    let mut headers: Vec<Header> = chain
        .iter()
        .rev()
        .take(context_len)
        .rev()
        .map(|b| b.header)
        .collect();
    for _ in 0..count {
        let parent_hash = chain[chain.len() - 1].hash;
        let template = block_template(params, &headers, parent_hash, miner, [], clock());
        let Some(block) = solve(template) else {
            return;
        };
        headers.push(block.header);
        if headers.len() > context_len {
            headers.remove(0);
        }
        chain.push(block);
    }
}
