//! Chain parameters: everything two nodes must share to agree on validity.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::block::Block;
use crate::entry::Entry;
use crate::hash::{BlockHash, MerkleRoot};
use crate::header::Header;
use crate::target::{CompactTarget, Target};

/// How many previous timestamps the median-time-past rule looks at.
pub const MEDIAN_TIME_SPAN: usize = 11;

/// How far ahead of a validator's clock every preset lets a timestamp be.
pub(crate) const MAX_FUTURE_DRIFT_MS: u64 = 60_000;

/// 2026-01-01T00:00:00Z, the genesis time of every preset.
const GENESIS_TIMESTAMP_MS: u64 = 1_767_225_600_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainParams {
    /// The preset's name, shown by nodes and the explorer.
    pub name: String,
    /// The first block; every chain starts with exactly this block.
    pub genesis: Block,
    /// The easiest target any block may have; retargeting never goes above.
    pub pow_limit: CompactTarget,
    /// `bits` of the genesis block and of every block until the first retarget.
    pub initial_bits: CompactTarget,
    /// The block interval the retarget rule steers towards, in milliseconds.
    pub target_spacing_ms: u64,
    /// Difficulty is recomputed at every height that is a multiple of this
    /// (at least 3); 0 never retargets (regtest).
    pub retarget_window: u64,
    /// How far ahead of the validator's clock a timestamp may be.
    pub max_future_drift_ms: u64,
    /// What a lab chain was made from ([`ChainParams::lab`]); `None` on
    /// the fixed presets. Not a rule of its own: the genesis block, and so
    /// the parameter digest, already differ with either input.
    #[serde(default)]
    pub lab: Option<crate::lab::LabChain>,
}

/// The named parameter sets nodes can be started with (`--chain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// A six-node network on a two-core machine finds a block every few seconds.
    #[default]
    Default,
    /// Minimum difficulty and no retargeting: tests and benchmarks grow
    /// thousands of blocks in seconds.
    Regtest,
    /// A fixed difficulty for a block interval at a network hash rate,
    /// both chosen at start: see [`ChainParams::lab`].
    Lab,
}

impl Preset {
    /// The presets whose parameters are fixed (every one but [`Preset::Lab`]).
    pub const ALL: [Preset; 2] = [Preset::Default, Preset::Regtest];

    pub fn name(self) -> &'static str {
        match self {
            Self::Default => "default",
            Self::Regtest => "regtest",
            Self::Lab => "lab",
        }
    }

    /// The parameters of a fixed preset.
    ///
    /// # Panics
    ///
    /// On [`Preset::Lab`], whose parameters depend on its block interval
    /// and network hash rate ([`ChainParams::lab`]); for a preset that came
    /// from input, use [`Preset::fixed_params`].
    pub fn params(self) -> ChainParams {
        self.fixed_params()
            .expect("the lab chain's parameters come from ChainParams::lab")
    }

    /// The parameters of a fixed preset; `None` for [`Preset::Lab`].
    pub fn fixed_params(self) -> Option<ChainParams> {
        // (initial bits, pow limit, spacing ms, retarget window, genesis proof)
        let (initial_bits, pow_limit, spacing_ms, window, proof) = match self {
            // ~2^24 attempts a block at first: a second or two for one
            // SHA-NI core; the retarget then steers towards the spacing.
            Self::Default => (0x1e00_ffff, 0x1f00_ffff, 5_000, 10, DEFAULT_GENESIS_PROOF),
            Self::Regtest => (0x207f_ffff, 0x207f_ffff, 1_000, 0, REGTEST_GENESIS_PROOF),
            Self::Lab => return None,
        };
        Some(ChainParams::new(
            self.name(),
            CompactTarget::from_consensus(initial_bits),
            CompactTarget::from_consensus(pow_limit),
            spacing_ms,
            window,
            MAX_FUTURE_DRIFT_MS,
            proof,
        ))
    }
}

/// Nonces that make each preset's genesis hash meet its initial target,
/// found once with [`crate::pow`]; a test checks them.
const DEFAULT_GENESIS_PROOF: u64 = 18_212_191;
const REGTEST_GENESIS_PROOF: u64 = 2;

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The error of naming a preset that does not exist.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown chain preset {0:?}; known: default, regtest, lab")]
pub struct UnknownPreset(pub String);

impl FromStr for Preset {
    type Err = UnknownPreset;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .chain([Self::Lab])
            .find(|p| p.name() == s)
            .ok_or_else(|| UnknownPreset(s.to_owned()))
    }
}

impl ChainParams {
    /// Parameters with the genesis block built from `initial_bits` and
    /// `genesis_proof`.
    pub fn new(
        name: &str,
        initial_bits: CompactTarget,
        pow_limit: CompactTarget,
        target_spacing_ms: u64,
        retarget_window: u64,
        max_future_drift_ms: u64,
        genesis_proof: u64,
    ) -> Self {
        Self {
            name: name.to_owned(),
            genesis: Self::genesis_block(initial_bits, genesis_proof),
            pow_limit,
            initial_bits,
            target_spacing_ms,
            retarget_window,
            max_future_drift_ms,
            lab: None,
        }
    }

    /// The genesis block for these initial bits and proof.
    pub fn genesis_block(bits: CompactTarget, proof: u64) -> Block {
        Self::genesis_with(bits, proof, "genesis")
    }

    /// A genesis block whose coinbase says `miner` (the lab chain names its
    /// parameters there); `assemble` fills in the merkle root.
    pub(crate) fn genesis_with(bits: CompactTarget, proof: u64, miner: &str) -> Block {
        let header = Header {
            version: Header::VERSION,
            index: 0,
            timestamp: GENESIS_TIMESTAMP_MS,
            previous_hash: BlockHash::ZERO,
            merkle_root: MerkleRoot::ZERO,
            bits,
            proof,
        };
        Block::assemble(header, vec![Entry::coinbase(0, miner)])
    }

    pub fn genesis_hash(&self) -> BlockHash {
        self.genesis.hash
    }

    /// The easiest target, as a full number.
    pub fn pow_limit_target(&self) -> Target {
        // Presets and tests only build parameters with a valid limit.
        self.pow_limit.to_target().unwrap_or(Target::MAX)
    }

    /// How many ancestors (ending at the parent) a header's checks need.
    pub fn context_len(&self) -> usize {
        MEDIAN_TIME_SPAN.max(usize::try_from(self.retarget_window).unwrap_or(usize::MAX))
    }
}
