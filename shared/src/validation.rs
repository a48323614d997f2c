//! The consensus rules. Each reason a block can be refused has its own
//! [`Rejection`] variant; [`BlockError`] adds which block it was.
//!
//! Context comes in as arguments: the ancestors of the block being checked
//! (a contiguous run of headers ending at its parent, at least
//! [`ChainParams::context_len`] long unless the chain is shorter) and `now`,
//! the caller's clock in milliseconds since the Unix epoch.

use serde::{Deserialize, Deserializer, Serialize};

use crate::block::{Block, MAX_ENTRIES};
use crate::entry::{Entry, MAX_DATA_BYTES, MAX_MINER_BYTES};
use crate::hash::{BlockHash, MerkleRoot};
use crate::header::Header;
use crate::params::{ChainParams, MEDIAN_TIME_SPAN};
use crate::tagged::{self, Fields};
use crate::target::{CompactTarget, Target, Work};

/// Why a block is not well formed, before any chain context.
///
/// Decoded by hand ([`crate::tagged`]), as is [`Rejection`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum EncodingError {
    #[error("stated hash {stated} is not the header's hash {computed}")]
    HashMismatch {
        stated: BlockHash,
        computed: BlockHash,
    },
    #[error("header version {version} is unknown")]
    UnsupportedVersion { version: u32 },
    #[error("the block has no entries")]
    NoEntries,
    #[error("{count} entries is more than a block may hold")]
    TooManyEntries { count: usize },
    #[error("the first entry is not a coinbase")]
    FirstEntryNotCoinbase,
    #[error("the coinbase names height {found}, the header {expected}")]
    CoinbaseHeightMismatch { expected: u64, found: u64 },
    #[error("entry {position} is a second coinbase")]
    ExtraCoinbase { position: usize },
    #[error("entry {position} holds {len} bytes, more than {max}")]
    EntryTooLarge {
        position: usize,
        len: usize,
        max: usize,
    },
}

/// Why a block is refused: one variant per consensus rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Rejection {
    #[error("bad encoding: {0}")]
    BadEncoding(EncodingError),
    #[error("the chain has no blocks")]
    EmptyChain,
    #[error("not the genesis block of this chain: expected {expected}, found {found}")]
    BadGenesis {
        expected: BlockHash,
        found: BlockHash,
    },
    #[error("wrong index: expected {expected}, found {found}")]
    WrongIndex { expected: u64, found: u64 },
    #[error("previous_hash {found} is not the parent's hash {expected}")]
    WrongPreviousHash {
        expected: BlockHash,
        found: BlockHash,
    },
    #[error("bits {found} are not what the retarget rule demands ({expected})")]
    WrongBits {
        expected: CompactTarget,
        found: CompactTarget,
    },
    #[error("hash {hash} is above the target {target}")]
    HashAboveTarget { hash: BlockHash, target: Target },
    #[error("timestamp {timestamp} is not after the median of the previous blocks ({median})")]
    TimestampNotAfterMedian { timestamp: u64, median: u64 },
    #[error("timestamp too far in the future: {timestamp} is after {limit}")]
    TimestampTooFarAhead { timestamp: u64, limit: u64 },
    #[error("merkle root {found} does not match the entries ({expected})")]
    WrongMerkleRoot {
        expected: MerkleRoot,
        found: MerkleRoot,
    },
}

impl Rejection {
    /// Whether the block is invalid for good, so a node may remember it as
    /// invalid and refuse it unchecked next time. A block from the future
    /// may become valid later; a wrong stated hash says nothing about the
    /// real block with that header.
    pub fn is_permanent(&self) -> bool {
        !matches!(
            self,
            Self::TimestampTooFarAhead { .. }
                | Self::BadEncoding(EncodingError::HashMismatch { .. })
        )
    }

    /// The rule's snake_case name, as in the JSON `rule` tag: a stable
    /// label for metrics.
    pub fn rule(&self) -> &'static str {
        match self {
            Self::BadEncoding(_) => "bad_encoding",
            Self::EmptyChain => "empty_chain",
            Self::BadGenesis { .. } => "bad_genesis",
            Self::WrongIndex { .. } => "wrong_index",
            Self::WrongPreviousHash { .. } => "wrong_previous_hash",
            Self::WrongBits { .. } => "wrong_bits",
            Self::HashAboveTarget { .. } => "hash_above_target",
            Self::TimestampNotAfterMedian { .. } => "timestamp_not_after_median",
            Self::TimestampTooFarAhead { .. } => "timestamp_too_far_ahead",
            Self::WrongMerkleRoot { .. } => "wrong_merkle_root",
        }
    }

    /// A short plain-words reason, for activity feeds.
    pub fn summary(&self) -> &'static str {
        match self {
            Self::BadEncoding(_) => "bad encoding",
            Self::EmptyChain => "empty chain",
            Self::BadGenesis { .. } => "wrong genesis block",
            Self::WrongIndex { .. } => "wrong index",
            Self::WrongPreviousHash { .. } => "wrong previous hash",
            Self::WrongBits { .. } => "wrong difficulty bits",
            Self::HashAboveTarget { .. } => "hash above target",
            Self::TimestampNotAfterMedian { .. } => {
                "timestamp not after the median of the last 11 blocks"
            }
            Self::TimestampTooFarAhead { .. } => "timestamp too far in the future",
            Self::WrongMerkleRoot { .. } => "merkle root does not match the entries",
        }
    }
}

/// Every `problem` an [`EncodingError`] may name, in declaration order.
const PROBLEMS: &[&str] = &[
    "hash_mismatch",
    "unsupported_version",
    "no_entries",
    "too_many_entries",
    "first_entry_not_coinbase",
    "coinbase_height_mismatch",
    "extra_coinbase",
    "entry_too_large",
];

/// Every `rule` a [`Rejection`] may name, in declaration order.
const RULES: &[&str] = &[
    "bad_encoding",
    "empty_chain",
    "bad_genesis",
    "wrong_index",
    "wrong_previous_hash",
    "wrong_bits",
    "hash_above_target",
    "timestamp_not_after_median",
    "timestamp_too_far_ahead",
    "wrong_merkle_root",
];

impl EncodingError {
    fn from_fields(f: &mut Fields) -> Result<Self, serde_json::Error> {
        let problem = f.tag("problem")?;
        Ok(match problem.as_str() {
            "hash_mismatch" => Self::HashMismatch {
                stated: f.take("stated")?,
                computed: f.take("computed")?,
            },
            "unsupported_version" => Self::UnsupportedVersion {
                version: f.take("version")?,
            },
            "no_entries" => Self::NoEntries,
            "too_many_entries" => Self::TooManyEntries {
                count: f.take("count")?,
            },
            "first_entry_not_coinbase" => Self::FirstEntryNotCoinbase,
            "coinbase_height_mismatch" => Self::CoinbaseHeightMismatch {
                expected: f.take("expected")?,
                found: f.take("found")?,
            },
            "extra_coinbase" => Self::ExtraCoinbase {
                position: f.take("position")?,
            },
            "entry_too_large" => Self::EntryTooLarge {
                position: f.take("position")?,
                len: f.take("len")?,
                max: f.take("max")?,
            },
            other => return Err(tagged::unknown(other, PROBLEMS)),
        })
    }
}

impl Rejection {
    fn from_fields(f: &mut Fields) -> Result<Self, serde_json::Error> {
        let rule = f.tag("rule")?;
        Ok(match rule.as_str() {
            // A newtype variant of an internally tagged enum: the encoding
            // error's own tag and fields sit beside `rule`.
            "bad_encoding" => Self::BadEncoding(EncodingError::from_fields(f)?),
            "empty_chain" => Self::EmptyChain,
            "bad_genesis" => Self::BadGenesis {
                expected: f.take("expected")?,
                found: f.take("found")?,
            },
            "wrong_index" => Self::WrongIndex {
                expected: f.take("expected")?,
                found: f.take("found")?,
            },
            "wrong_previous_hash" => Self::WrongPreviousHash {
                expected: f.take("expected")?,
                found: f.take("found")?,
            },
            "wrong_bits" => Self::WrongBits {
                expected: f.take("expected")?,
                found: f.take("found")?,
            },
            "hash_above_target" => Self::HashAboveTarget {
                hash: f.take("hash")?,
                target: f.take("target")?,
            },
            "timestamp_not_after_median" => Self::TimestampNotAfterMedian {
                timestamp: f.take("timestamp")?,
                median: f.take("median")?,
            },
            "timestamp_too_far_ahead" => Self::TimestampTooFarAhead {
                timestamp: f.take("timestamp")?,
                limit: f.take("limit")?,
            },
            "wrong_merkle_root" => Self::WrongMerkleRoot {
                expected: f.take("expected")?,
                found: f.take("found")?,
            },
            other => return Err(tagged::unknown(other, RULES)),
        })
    }
}

impl<'de> Deserialize<'de> for EncodingError {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        tagged::decode(deserializer, Self::from_fields)
    }
}

impl<'de> Deserialize<'de> for Rejection {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        tagged::decode(deserializer, Self::from_fields)
    }
}

impl From<EncodingError> for Rejection {
    fn from(e: EncodingError) -> Self {
        Self::BadEncoding(e)
    }
}

/// A refused block: its position, its hash as computed from its header, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[error("block {index} ({hash}) is invalid: {reason}")]
pub struct BlockError {
    /// Position in the checked chain (= height for chains from genesis).
    pub index: u64,
    pub hash: BlockHash,
    pub reason: Rejection,
}

/// What a valid chain adds up to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChainSummary {
    pub tip: BlockHash,
    pub height: u64,
    /// Work of the checked headers only (for a chain from genesis: all of it).
    pub work: Work,
}

/// The block's parent and the ancestors before it.
#[derive(Debug, Clone, Copy)]
pub struct Ancestry<'a> {
    /// Contiguous headers ending at the parent (see the module docs).
    pub headers: &'a [Header],
    /// The parent's hash, which the caller already knows.
    pub parent_hash: BlockHash,
}

/// Median of the last (up to) eleven timestamps of `ancestors`.
pub fn median_time_past(ancestors: &[Header]) -> u64 {
    let start = ancestors.len().saturating_sub(MEDIAN_TIME_SPAN);
    let mut times = [0u64; MEDIAN_TIME_SPAN];
    let recent = &ancestors[start..];
    for (slot, header) in times.iter_mut().zip(recent) {
        *slot = header.timestamp;
    }
    let times = &mut times[..recent.len()];
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or(0)
}

/// The `bits` the block after `ancestors` must carry.
///
/// At heights that are multiples of the retarget window the target is
/// scaled by how long the previous window took against how long it should
/// have taken, clamped to a factor of four either way and never easier than
/// the pow limit. The span runs from the block at `height - window` to the
/// parent; the first window starts at block 1 instead, because the genesis
/// block's time is fixed long before any network runs.
pub fn expected_bits(params: &ChainParams, ancestors: &[Header]) -> CompactTarget {
    let Some(parent) = ancestors.last() else {
        return params.initial_bits;
    };
    let window = params.retarget_window;
    let height = parent.index + 1;
    if window < 3 || height % window != 0 {
        return parent.bits;
    }
    let first_height = (height - window).max(1);
    let intervals = parent.index - first_height;
    let back = usize::try_from(intervals).unwrap_or(usize::MAX);
    if ancestors.len() <= back {
        // The caller gave too little context to recompute: keep the bits,
        // which is what a too-short context check would also conclude.
        return parent.bits;
    }
    let first = ancestors[ancestors.len() - 1 - back];
    let expected_span = intervals.saturating_mul(params.target_spacing_ms).max(1);
    let actual_span = parent
        .timestamp
        .saturating_sub(first.timestamp)
        .clamp(expected_span / 4, expected_span.saturating_mul(4))
        .max(1);
    let Ok(old) = parent.bits.to_target() else {
        return params.pow_limit;
    };
    old.scaled(actual_span, expected_span)
        .min(params.pow_limit_target())
        .to_compact()
}

/// Checks a header against its ancestry (`None` for the genesis block),
/// given the hash the caller computed from it. Returns the target it met.
pub fn check_header(
    params: &ChainParams,
    header: &Header,
    hash: BlockHash,
    ancestry: Option<Ancestry<'_>>,
    now_ms: u64,
) -> Result<Target, Rejection> {
    let Some(ancestry) = ancestry.filter(|a| !a.headers.is_empty()) else {
        if hash != params.genesis.hash {
            return Err(Rejection::BadGenesis {
                expected: params.genesis.hash,
                found: hash,
            });
        }
        return Ok(params
            .genesis
            .header
            .bits
            .to_target()
            .unwrap_or(Target::MAX));
    };
    if header.version != Header::VERSION {
        return Err(EncodingError::UnsupportedVersion {
            version: header.version,
        }
        .into());
    }
    let parent = ancestry.headers[ancestry.headers.len() - 1];
    if header.index != parent.index + 1 {
        return Err(Rejection::WrongIndex {
            expected: parent.index + 1,
            found: header.index,
        });
    }
    if header.previous_hash != ancestry.parent_hash {
        return Err(Rejection::WrongPreviousHash {
            expected: ancestry.parent_hash,
            found: header.previous_hash,
        });
    }
    let expected = expected_bits(params, ancestry.headers);
    if header.bits != expected {
        return Err(Rejection::WrongBits {
            expected,
            found: header.bits,
        });
    }
    // Expected bits always come from a valid target.
    let target = header.bits.to_target().unwrap_or(Target::MAX);
    if !target.is_met_by(hash) {
        return Err(Rejection::HashAboveTarget { hash, target });
    }
    let median = median_time_past(ancestry.headers);
    if header.timestamp <= median {
        return Err(Rejection::TimestampNotAfterMedian {
            timestamp: header.timestamp,
            median,
        });
    }
    let limit = now_ms.saturating_add(params.max_future_drift_ms);
    if header.timestamp > limit {
        return Err(Rejection::TimestampTooFarAhead {
            timestamp: header.timestamp,
            limit,
        });
    }
    Ok(target)
}

/// Checks what a block says about itself: the stated hash, the entries'
/// shape and sizes, and the merkle root. Returns the header's hash.
pub fn check_block_body(block: &Block) -> Result<BlockHash, Rejection> {
    let computed = block.header.block_hash();
    if block.hash != computed {
        return Err(EncodingError::HashMismatch {
            stated: block.hash,
            computed,
        }
        .into());
    }
    let entries = &block.entries;
    if entries.len() > MAX_ENTRIES {
        return Err(EncodingError::TooManyEntries {
            count: entries.len(),
        }
        .into());
    }
    match entries.first() {
        None => return Err(EncodingError::NoEntries.into()),
        Some(Entry::Coinbase { height, miner }) => {
            if *height != block.header.index {
                return Err(EncodingError::CoinbaseHeightMismatch {
                    expected: block.header.index,
                    found: *height,
                }
                .into());
            }
            if miner.len() > MAX_MINER_BYTES {
                return Err(EncodingError::EntryTooLarge {
                    position: 0,
                    len: miner.len(),
                    max: MAX_MINER_BYTES,
                }
                .into());
            }
        }
        Some(Entry::Data { .. }) => return Err(EncodingError::FirstEntryNotCoinbase.into()),
    }
    for (position, entry) in entries.iter().enumerate().skip(1) {
        match entry {
            Entry::Coinbase { .. } => {
                return Err(EncodingError::ExtraCoinbase { position }.into());
            }
            Entry::Data { data } if data.len() > MAX_DATA_BYTES => {
                return Err(EncodingError::EntryTooLarge {
                    position,
                    len: data.len(),
                    max: MAX_DATA_BYTES,
                }
                .into());
            }
            Entry::Data { .. } => {}
        }
    }
    let expected = Block::merkle_root_of(entries);
    if block.header.merkle_root != expected {
        return Err(Rejection::WrongMerkleRoot {
            expected,
            found: block.header.merkle_root,
        });
    }
    Ok(computed)
}

/// Checks a whole block: its body, then its header in context.
pub fn check_block(
    params: &ChainParams,
    block: &Block,
    ancestry: Option<Ancestry<'_>>,
    now_ms: u64,
) -> Result<Target, Rejection> {
    let hash = check_block_body(block)?;
    check_header(params, &block.header, hash, ancestry, now_ms)
}

/// Validates a chain of full blocks from genesis; the error names the first
/// invalid block.
pub fn validate_chain(
    params: &ChainParams,
    blocks: &[Block],
    now_ms: u64,
) -> Result<ChainSummary, BlockError> {
    let headers: Vec<Header> = blocks.iter().map(|b| b.header).collect();
    walk_headers(
        params,
        &[],
        None,
        &headers,
        now_ms,
        |i| check_block_body(&blocks[i]),
        drop,
    )
}

/// Validates headers alone from genesis (no entries, no merkle check): what
/// a syncing node can check before it downloads the blocks.
pub fn validate_headers(
    params: &ChainParams,
    headers: &[Header],
    now_ms: u64,
) -> Result<ChainSummary, BlockError> {
    walk_headers(
        params,
        &[],
        None,
        headers,
        now_ms,
        |i| Ok(headers[i].block_hash()),
        drop,
    )
}

/// Headers that passed [`validate_headers_after`]: what they add up to,
/// and the target each one met, so a block tree can record every header's
/// work without checking anything itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedHeaders {
    pub tip: BlockHash,
    pub height: u64,
    /// Work of the checked headers only.
    pub work: Work,
    /// The target header `i` met; its work is `targets[i].to_work()`.
    pub targets: Vec<Target>,
}

impl CheckedHeaders {
    pub fn summary(&self) -> ChainSummary {
        ChainSummary {
            tip: self.tip,
            height: self.height,
            work: self.work,
        }
    }
}

/// Validates `headers` that continue a known chain whose last
/// `context_len` headers are `context` (ending at the block with
/// `context_tip`). The work counts `headers` only; indices in errors are
/// positions in `headers`.
pub fn validate_headers_after(
    params: &ChainParams,
    context: &[Header],
    context_tip: BlockHash,
    headers: &[Header],
    now_ms: u64,
) -> Result<CheckedHeaders, BlockError> {
    let mut targets = Vec::with_capacity(headers.len());
    let summary = walk_headers(
        params,
        context,
        Some(context_tip),
        headers,
        now_ms,
        |i| Ok(headers[i].block_hash()),
        |target| targets.push(target),
    )?;
    Ok(CheckedHeaders {
        tip: summary.tip,
        height: summary.height,
        work: summary.work,
        targets,
    })
}

/// The one loop behind every chain validation: `hash_of(i)` checks what
/// item `i` says about itself and returns its header's hash; `met` hears
/// the target of each header that passed, in order.
fn walk_headers(
    params: &ChainParams,
    context: &[Header],
    context_tip: Option<BlockHash>,
    headers: &[Header],
    now_ms: u64,
    hash_of: impl Fn(usize) -> Result<BlockHash, Rejection>,
    mut met: impl FnMut(Target),
) -> Result<ChainSummary, BlockError> {
    let joined;
    let all: &[Header] = if context.is_empty() {
        headers
    } else {
        joined = [context, headers].concat();
        &joined
    };
    let offset = context.len();
    let context_len = params.context_len();
    let mut parent_hash = context_tip;
    let mut work = Work::ZERO;
    for (i, header) in headers.iter().enumerate() {
        let at = offset + i;
        let fail = |hash: BlockHash, reason: Rejection| BlockError {
            index: i as u64,
            hash,
            reason,
        };
        let hash = hash_of(i).map_err(|reason| fail(header.block_hash(), reason))?;
        let ancestry = parent_hash.map(|parent_hash| Ancestry {
            headers: &all[at.saturating_sub(context_len)..at],
            parent_hash,
        });
        let target =
            check_header(params, header, hash, ancestry, now_ms).map_err(|r| fail(hash, r))?;
        met(target);
        work += target.to_work();
        parent_hash = Some(hash);
    }
    match parent_hash {
        Some(tip) if !headers.is_empty() => Ok(ChainSummary {
            tip,
            height: headers[headers.len() - 1].index,
            work,
        }),
        _ => Err(BlockError {
            index: 0,
            hash: BlockHash::ZERO,
            reason: Rejection::EmptyChain,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Preset;
    use crate::template::spaced_chain;

    #[test]
    fn headers_after_report_the_target_of_each_header() {
        let params = Preset::Regtest.params();
        let (chain, now) = spaced_chain(&params, 5, "validation", 1_000);
        let headers: Vec<Header> = chain.iter().map(|b| b.header).collect();
        let checked =
            validate_headers_after(&params, &headers[..2], chain[1].hash, &headers[2..], now)
                .unwrap();
        assert_eq!(checked.targets.len(), 4);
        let sum = checked
            .targets
            .iter()
            .fold(Work::ZERO, |sum, target| sum + target.to_work());
        assert_eq!(sum, checked.work);
        assert_eq!(checked.summary().tip, chain[5].hash);
        assert_eq!(checked.summary().height, 5);
    }

    /// Every encoding problem, each with fields of distinct values.
    fn every_encoding_error() -> Vec<EncodingError> {
        vec![
            EncodingError::HashMismatch {
                stated: BlockHash::from_bytes([1; 32]),
                computed: BlockHash::from_bytes([2; 32]),
            },
            EncodingError::UnsupportedVersion { version: 9 },
            EncodingError::NoEntries,
            EncodingError::TooManyEntries { count: 5_000 },
            EncodingError::FirstEntryNotCoinbase,
            EncodingError::CoinbaseHeightMismatch {
                expected: 3,
                found: 4,
            },
            EncodingError::ExtraCoinbase { position: 2 },
            EncodingError::EntryTooLarge {
                position: 1,
                len: 300,
                max: 256,
            },
        ]
    }

    /// Every rule, each with fields of distinct values.
    fn every_rejection() -> Vec<Rejection> {
        let (a, b) = (
            BlockHash::from_bytes([3; 32]),
            BlockHash::from_bytes([4; 32]),
        );
        vec![
            Rejection::BadEncoding(EncodingError::NoEntries),
            Rejection::EmptyChain,
            Rejection::BadGenesis {
                expected: a,
                found: b,
            },
            Rejection::WrongIndex {
                expected: 1,
                found: 2,
            },
            Rejection::WrongPreviousHash {
                expected: b,
                found: a,
            },
            Rejection::WrongBits {
                expected: CompactTarget::from_consensus(0x207f_ffff),
                found: CompactTarget::from_consensus(0x1d00_ffff),
            },
            Rejection::HashAboveTarget {
                hash: a,
                target: Target::MAX,
            },
            Rejection::TimestampNotAfterMedian {
                timestamp: 1,
                median: 2,
            },
            Rejection::TimestampTooFarAhead {
                timestamp: 2,
                limit: 1,
            },
            Rejection::WrongMerkleRoot {
                expected: MerkleRoot::ZERO,
                found: MerkleRoot::from_bytes([5; 32]),
            },
        ]
    }

    #[test]
    fn each_rule_name_is_its_json_tag() {
        let all = every_rejection();
        assert_eq!(all.len(), RULES.len());
        for (rejection, name) in all.iter().zip(RULES) {
            let json = serde_json::to_value(rejection).unwrap();
            assert_eq!(json["rule"], rejection.rule(), "{rejection:?}");
            assert_eq!(json["rule"], *name, "RULES is in declaration order");
        }
        let all = every_encoding_error();
        assert_eq!(all.len(), PROBLEMS.len());
        for (problem, name) in all.iter().zip(PROBLEMS) {
            assert_eq!(serde_json::to_value(problem).unwrap()["problem"], *name);
        }
    }

    #[test]
    fn every_rejection_decodes_to_what_was_serialized() {
        let nested = every_encoding_error()
            .into_iter()
            .map(Rejection::BadEncoding);
        for rejection in every_rejection().into_iter().chain(nested) {
            let json = serde_json::to_string(&rejection).unwrap();
            let back: Rejection =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(back, rejection, "{json}");
        }
        for problem in every_encoding_error() {
            let json = serde_json::to_string(&problem).unwrap();
            assert_eq!(
                serde_json::from_str::<EncodingError>(&json).unwrap(),
                problem
            );
        }
    }

    #[test]
    fn an_unknown_rule_or_problem_is_refused_by_name() {
        let err = serde_json::from_str::<Rejection>(r#"{"rule":"too_shiny"}"#).unwrap_err();
        assert!(
            err.to_string().contains("unknown variant `too_shiny`"),
            "{err}"
        );
        let err = serde_json::from_str::<Rejection>(r#"{"rule":"bad_encoding","problem":"odd"}"#)
            .unwrap_err();
        assert!(err.to_string().contains("unknown variant `odd`"), "{err}");
    }

    #[test]
    fn a_rejection_without_its_tag_or_fields_is_refused() {
        let err = serde_json::from_str::<Rejection>(r#"{"expected":1,"found":2}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `rule`"), "{err}");
        let err = serde_json::from_str::<Rejection>(r#"{"rule":"bad_encoding"}"#).unwrap_err();
        assert!(err.to_string().contains("missing field `problem`"), "{err}");
        let err = serde_json::from_str::<Rejection>(r#"{"rule":"wrong_index","expected":1}"#)
            .unwrap_err();
        assert!(err.to_string().contains("missing field `found`"), "{err}");
        let err = serde_json::from_str::<Rejection>(
            r#"{"rule":"wrong_bits","expected":"zz","found":"1d00ffff"}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("field `expected`"), "{err}");
    }
}
