//! Checking a node's chain in the browser with the very `shared` code the
//! nodes run, and the tamper experiment: change one field of one block in a
//! local copy and see at which block, and why, validation fails.

use std::str::FromStr;

use shared::validation::{BlockError, ChainSummary};
use shared::{Block, BlockHash, ChainParams, CompactTarget, Entry, MerkleRoot, validate_chain};

/// The outcome of validating one chain, with how long it took.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    /// Blocks looked at: all of them, or up to and including the bad one.
    pub blocks_checked: u64,
    pub elapsed_ms: f64,
    pub outcome: Result<ChainSummary, BlockError>,
}

impl CheckReport {
    /// `None` when the run was too quick for the clock to see.
    pub fn blocks_per_second(&self) -> Option<f64> {
        (self.elapsed_ms > 0.0).then(|| self.blocks_checked as f64 * 1000.0 / self.elapsed_ms)
    }

    pub fn is_valid(&self) -> bool {
        self.outcome.is_ok()
    }
}

/// Validates `blocks` (from genesis) under `params`; `clock_ms` is a
/// monotonic millisecond clock (`performance.now()` in the browser).
pub fn check_chain(
    params: &ChainParams,
    blocks: &[Block],
    now_ms: u64,
    clock_ms: impl Fn() -> f64,
) -> CheckReport {
    let started = clock_ms();
    let outcome = validate_chain(params, blocks, now_ms);
    let elapsed_ms = (clock_ms() - started).max(0.0);
    let blocks_checked = match &outcome {
        Ok(_) => blocks.len() as u64,
        Err(err) => err.index + 1,
    };
    CheckReport {
        blocks_checked,
        elapsed_ms,
        outcome,
    }
}

/// The fields a person can change in the tamper experiment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TamperField {
    Timestamp,
    Proof,
    Bits,
    PreviousHash,
    MerkleRoot,
    /// The text of the block's last entry (the coinbase's miner name when it
    /// has no data entries).
    EntryText,
}

impl TamperField {
    pub const ALL: [TamperField; 6] = [
        Self::EntryText,
        Self::Timestamp,
        Self::Proof,
        Self::Bits,
        Self::PreviousHash,
        Self::MerkleRoot,
    ];

    /// The value of the `<option>`.
    pub fn key(self) -> &'static str {
        match self {
            Self::Timestamp => "timestamp",
            Self::Proof => "proof",
            Self::Bits => "bits",
            Self::PreviousHash => "previous_hash",
            Self::MerkleRoot => "merkle_root",
            Self::EntryText => "entry",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Timestamp => "timestamp (ms since 1970)",
            Self::Proof => "proof (nonce)",
            Self::Bits => "bits (8 hex digits)",
            Self::PreviousHash => "previous hash (64 hex digits)",
            Self::MerkleRoot => "merkle root (64 hex digits)",
            Self::EntryText => "text of the last entry",
        }
    }

    pub fn from_key(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.key() == key)
    }

    /// The field's present value in `block`, as the form shows it.
    pub fn current(self, block: &Block) -> String {
        let h = &block.header;
        match self {
            Self::Timestamp => h.timestamp.to_string(),
            Self::Proof => h.proof.to_string(),
            Self::Bits => h.bits.to_string(),
            Self::PreviousHash => h.previous_hash.to_string(),
            Self::MerkleRoot => h.merkle_root.to_string(),
            Self::EntryText => match block.entries.last() {
                Some(Entry::Coinbase { miner, .. }) => miner.clone(),
                Some(Entry::Data { data }) => data.clone(),
                None => String::new(),
            },
        }
    }
}

/// One change to one block of a local copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tamper {
    pub height: u64,
    pub field: TamperField,
    pub value: String,
    /// Also restate the block's hash from the changed header, as a forger
    /// would; otherwise the stale stated hash gives the change away at once.
    pub restate_hash: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TamperError {
    #[error("the chain has no block at height {0}")]
    NoSuchBlock(u64),
    #[error("{0} is not a valid value for the {1}")]
    BadValue(String, &'static str),
}

/// Applies `tamper` to `blocks` (a chain from genesis, so height = position).
pub fn apply_tamper(blocks: &mut [Block], tamper: &Tamper) -> Result<(), TamperError> {
    let block = usize::try_from(tamper.height)
        .ok()
        .and_then(|i| blocks.get_mut(i))
        .ok_or(TamperError::NoSuchBlock(tamper.height))?;
    let value = tamper.value.trim();
    let bad = || TamperError::BadValue(tamper.value.clone(), tamper.field.label());
    let header = &mut block.header;
    match tamper.field {
        TamperField::Timestamp => header.timestamp = value.parse().map_err(|_| bad())?,
        TamperField::Proof => header.proof = value.parse().map_err(|_| bad())?,
        TamperField::Bits => header.bits = CompactTarget::from_str(value).map_err(|_| bad())?,
        TamperField::PreviousHash => {
            header.previous_hash = BlockHash::from_str(value).map_err(|_| bad())?;
        }
        TamperField::MerkleRoot => {
            header.merkle_root = MerkleRoot::from_str(value).map_err(|_| bad())?;
        }
        TamperField::EntryText => match block.entries.last_mut() {
            Some(Entry::Coinbase { miner, .. }) => *miner = tamper.value.clone(),
            Some(Entry::Data { data }) => *data = tamper.value.clone(),
            None => return Err(bad()),
        },
    }
    if tamper.restate_hash {
        block.hash = block.header.block_hash();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::Rejection;
    use shared::{Preset, extend_chain};

    fn chain() -> Vec<Block> {
        let params = Preset::Regtest.params();
        let mut chain = vec![params.genesis.clone()];
        let mut now = 1_767_225_600_000;
        extend_chain(&params, &mut chain, 5, "miner", || {
            now += 1_000;
            now
        });
        chain
    }

    const NOW: u64 = 1_767_225_700_000;

    /// [`chain()`] with one field of block `height` set to `value`.
    fn tampered(height: u64, field: TamperField, value: &str, restate_hash: bool) -> Vec<Block> {
        let mut blocks = chain();
        let tamper = Tamper {
            height,
            field,
            value: value.into(),
            restate_hash,
        };
        apply_tamper(&mut blocks, &tamper).unwrap();
        blocks
    }

    #[test]
    fn a_downloaded_chain_checks_valid() {
        let blocks = chain();
        let report = check_chain(&Preset::Regtest.params(), &blocks, NOW, || 0.0);
        assert!(report.is_valid());
        assert_eq!(report.blocks_checked, 6);
        assert_eq!(report.blocks_per_second(), None);
    }

    /// A lab chain is checked under the rules its node's `/status` names,
    /// and not under regtest's, whose genesis it does not share.
    #[test]
    fn a_lab_chain_checks_valid_under_the_rules_its_status_names() {
        let lab = shared::LabChain {
            block_interval_ms: 1_000,
            network_attempts_per_sec: 16,
        };
        let params = shared::chain_params("lab", Some(lab)).unwrap();
        let mut blocks = vec![params.genesis.clone()];
        let mut now = 1_767_225_600_000;
        extend_chain(&params, &mut blocks, 5, "miner", || {
            now += 1_000;
            now
        });
        assert!(check_chain(&params, &blocks, NOW, || 0.0).is_valid());
        let err = check_chain(&Preset::Regtest.params(), &blocks, NOW, || 0.0)
            .outcome
            .unwrap_err();
        assert_eq!(err.index, 0);
    }

    #[test]
    fn tampering_an_entry_fails_at_that_block() {
        let blocks = tampered(3, TamperField::EntryText, "mallory", true);
        let report = check_chain(&Preset::Regtest.params(), &blocks, NOW, || 0.0);
        let err = report.outcome.unwrap_err();
        assert_eq!(err.index, 3);
        assert!(matches!(err.reason, Rejection::WrongMerkleRoot { .. }));
        assert_eq!(report.blocks_checked, 4);
    }

    #[test]
    fn without_restating_the_hash_the_stated_hash_gives_it_away() {
        let blocks = tampered(2, TamperField::Timestamp, "1767225600001", false);
        let err = check_chain(&Preset::Regtest.params(), &blocks, NOW, || 0.0)
            .outcome
            .unwrap_err();
        assert_eq!(err.index, 2);
        assert!(matches!(err.reason, Rejection::BadEncoding(_)));
    }

    #[test]
    fn bad_values_and_heights_are_refused() {
        let mut blocks = chain();
        let mut tamper = Tamper {
            height: 9,
            field: TamperField::Proof,
            value: "1".into(),
            restate_hash: true,
        };
        assert_eq!(
            apply_tamper(&mut blocks, &tamper),
            Err(TamperError::NoSuchBlock(9))
        );
        tamper.height = 1;
        tamper.value = "many".into();
        assert!(matches!(
            apply_tamper(&mut blocks, &tamper),
            Err(TamperError::BadValue(..))
        ));
        assert_eq!(blocks, chain());
    }
}
