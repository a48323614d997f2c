//! Attack strategies a node can run, as `POST /strategy` takes them and
//! `GET /strategy` and `GET /status` report them, with the live state of
//! each; and the pure rules for the blocks the dishonest ones build (a bad
//! timestamp, a forged header), so the deviations are spelt out next to
//! the consensus rules they break.
//!
//! Every strategy is a node that follows the protocol except for the one
//! deviation it studies; none changes the node's hash power cap.

use serde::{Deserialize, Deserializer, Serialize};

use crate::block::Block;
use crate::entry::Entry;
use crate::hash::BlockHash;
use crate::header::Header;
use crate::params::ChainParams;
use crate::tagged::{self, Fields};
use crate::target::{CompactTarget, Target};
use crate::validation::median_time_past;

fn default_confirmations() -> u64 {
    2
}

fn default_entry() -> String {
    "pay Alice".to_owned()
}

fn default_double_spend() -> String {
    "pay Mallory".to_owned()
}

/// What a node does with the blocks it mines and hears of.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "strategy", rename_all = "snake_case", deny_unknown_fields)]
pub enum Strategy {
    /// Mines on the best tip and announces every block at once.
    #[default]
    Honest,
    /// Eyal and Sirer's selfish mining (Algorithm 1 of "Majority is not
    /// Enough", 2014): withholds its blocks and publishes them to win races.
    Selfish,
    /// A double spend: gets `entry` into the public chain, mines a private
    /// branch from before it carrying `double_spend` instead, and releases
    /// the branch once it has more work and `entry` has `confirmations`
    /// blocks (its own block included: Nakamoto's z).
    Private {
        #[serde(default = "default_confirmations")]
        confirmations: u64,
        #[serde(default = "default_entry")]
        entry: String,
        #[serde(default = "default_double_spend")]
        double_spend: String,
    },
    /// Mines blocks with a timestamp honest nodes refuse and offers them.
    Timestamp { mode: TimestampMode },
    /// Builds blocks that break one consensus rule and offers them.
    Forger { rule: ForgeRule },
}

impl Strategy {
    /// The snake_case name, as in the JSON tag and `--strategy`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Honest => "honest",
            Self::Selfish => "selfish",
            Self::Private { .. } => "private",
            Self::Timestamp { .. } => "timestamp",
            Self::Forger { .. } => "forger",
        }
    }

    /// Checks the parameters serde cannot: a usable confirmation count and
    /// entries that fit in a block and differ.
    pub fn check(&self) -> Result<(), StrategyError> {
        if let Self::Private {
            confirmations,
            entry,
            double_spend,
        } = self
        {
            if *confirmations == 0 || *confirmations > MAX_CONFIRMATIONS {
                return Err(StrategyError::Confirmations(*confirmations));
            }
            for data in [entry, double_spend] {
                if data.is_empty() || data.len() > crate::MAX_DATA_BYTES {
                    return Err(StrategyError::EntrySize(data.len()));
                }
            }
            if entry == double_spend {
                return Err(StrategyError::SameEntries);
            }
        }
        Ok(())
    }
}

/// Most confirmations a private attack waits for.
pub const MAX_CONFIRMATIONS: u64 = 100;

/// Why a strategy's parameters are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategyError {
    #[error("confirmations must be 1 to {MAX_CONFIRMATIONS}, not {0}")]
    Confirmations(u64),
    #[error("an entry must hold 1 to {max} bytes of UTF-8, this one {0}", max = crate::MAX_DATA_BYTES)]
    EntrySize(usize),
    #[error("the double spend must differ from the entry it replaces")]
    SameEntries,
}

/// Which timestamp rule a `timestamp` attacker breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TimestampMode {
    /// Beyond the max future drift (by [`FUTURE_MARGIN_MS`]): refused, but
    /// not for good, so the sender is not banned (as in Bitcoin).
    Future,
    /// Equal to the median time past of the last 11 blocks, so not after
    /// it: refused for good, and the sender banned.
    Past,
}

/// Which consensus rule a `forger` breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ForgeRule {
    /// The hash is above the target (the proof is spoilt after mining).
    BadProofOfWork,
    /// The header's merkle root does not commit to the entries.
    BadMerkleRoot,
    /// The bits are not what the retarget rule demands (half the target).
    WrongBits,
    /// The previous hash names a known block that is not at index − 1:
    /// the parent of the tip, while the index is the tip's plus one.
    /// A block tree reads the parent from `previous_hash`, so honest nodes
    /// refuse it as `wrong_index` (index and named parent disagree).
    WrongPreviousHash,
}

/// How far past the max future drift a `future` block's timestamp is.
pub const FUTURE_MARGIN_MS: u64 = 10 * 60 * 1000;

/// The timestamp a `timestamp` attacker gives the block after `ancestors`
/// (contiguous headers ending at the parent) at `now_ms`.
pub fn bad_timestamp(
    mode: TimestampMode,
    params: &ChainParams,
    ancestors: &[Header],
    now_ms: u64,
) -> u64 {
    match mode {
        TimestampMode::Future => now_ms
            .saturating_add(params.max_future_drift_ms)
            .saturating_add(FUTURE_MARGIN_MS),
        TimestampMode::Past => median_time_past(ancestors),
    }
}

/// The bits a `wrong_bits` forger states instead of `expected`: half the
/// target (twice the work), which the retarget rule never asks for.
pub fn forged_bits(expected: CompactTarget) -> CompactTarget {
    let Ok(target) = expected.to_target() else {
        return CompactTarget::from_consensus(expected.to_consensus() ^ 1);
    };
    let half = target.scaled(1, 2).to_compact();
    if half == expected {
        CompactTarget::from_consensus(expected.to_consensus() ^ 1)
    } else {
        half
    }
}

/// Turns an honest unmined template on the tip (whose header is
/// `tip`) into the one a forger of `rule` searches a proof for. The proof
/// of a `bad_proof_of_work` block is spoilt after mining instead
/// ([`spoil_proof`]), so a forger offers blocks no faster than its hash
/// power allows.
pub fn forge_template(rule: ForgeRule, template: Block, tip: &Header) -> Block {
    let mut header = template.header;
    match rule {
        ForgeRule::BadProofOfWork => {}
        ForgeRule::BadMerkleRoot => {
            let mut committed = template.entries.clone();
            committed.push(Entry::data("an entry the block does not carry"));
            header.merkle_root = Block::merkle_root_of(&committed);
        }
        ForgeRule::WrongBits => header.bits = forged_bits(header.bits),
        ForgeRule::WrongPreviousHash => {
            // On genesis, the tip has no parent: name the tip and skip an
            // index instead, which breaks the same rule.
            if tip.index == 0 {
                header.index = tip.index + 2;
            } else {
                header.previous_hash = tip.previous_hash;
            }
        }
    }
    template.with_header(header)
}

/// The header with the first proof at or after its own whose hash is
/// above `target`, so the block fails its proof of work.
pub fn spoil_proof(mut header: Header, target: Target) -> Header {
    while target.is_met_by(header.block_hash()) {
        header.proof = header.proof.wrapping_add(1);
    }
    header
}

/// Where a private (double-spend) attack stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PrivatePhase {
    /// Entry A is pending: waiting for a block of the best chain to hold it.
    WaitingForEntry,
    /// Mining the private branch from A's block's parent.
    MiningPrivately,
    /// The branch was announced to peers.
    Released,
    /// The best chain has moved past the released branch's tip.
    Done,
}

/// A strategy's live state. Decoded by hand ([`crate::tagged`]).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "strategy", rename_all = "snake_case")]
pub enum StrategyState {
    #[default]
    Honest,
    Selfish {
        /// Own blocks mined and not published yet.
        withheld: u64,
        /// Private chain length minus public chain length.
        lead: i64,
        /// Own blocks published so far.
        published: u64,
        /// Times a block was published to match a public one (Δ = 1).
        races: u64,
    },
    Private {
        phase: PrivatePhase,
        /// Entry A's block on the public chain, once seen.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        a_block: Option<BlockHash>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        a_height: Option<u64>,
        /// Blocks on the private branch.
        branch_length: u64,
        released: bool,
        /// A's block is no longer on this node's best chain (after release).
        a_reverted: bool,
    },
    /// `timestamp` and `forger`.
    Offering {
        /// Bad blocks mined and offered to peers.
        offered: u64,
        /// Peers that closed or refused a link after being offered one
        /// (honest peers ban for a permanent rejection).
        refused: u64,
    },
}

/// Every `strategy` a [`StrategyState`] may name, in declaration order.
const STATES: &[&str] = &["honest", "selfish", "private", "offering"];

impl<'de> Deserialize<'de> for StrategyState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        tagged::decode(deserializer, Self::from_fields)
    }
}

impl StrategyState {
    fn from_fields(f: &mut Fields) -> Result<Self, serde_json::Error> {
        let state = f.tag("strategy")?;
        Ok(match state.as_str() {
            "honest" => Self::Honest,
            "selfish" => Self::Selfish {
                withheld: f.take("withheld")?,
                lead: f.take("lead")?,
                published: f.take("published")?,
                races: f.take("races")?,
            },
            "private" => Self::Private {
                phase: f.take("phase")?,
                a_block: f.optional("a_block")?,
                a_height: f.optional("a_height")?,
                branch_length: f.take("branch_length")?,
                released: f.take("released")?,
                a_reverted: f.take("a_reverted")?,
            },
            "offering" => Self::Offering {
                offered: f.take("offered")?,
                refused: f.take("refused")?,
            },
            other => return Err(tagged::unknown(other, STATES)),
        })
    }
}

/// `GET /strategy`, and the answer of `POST /strategy`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StrategyBody {
    pub strategy: Strategy,
    pub state: StrategyState,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shared_regtest() -> ChainParams {
        crate::Preset::Regtest.params()
    }

    #[test]
    fn the_bodies_parse_with_their_defaults() {
        let private: Strategy = serde_json::from_str(r#"{"strategy":"private"}"#).unwrap();
        assert_eq!(
            private,
            Strategy::Private {
                confirmations: 2,
                entry: "pay Alice".into(),
                double_spend: "pay Mallory".into()
            }
        );
        let forger: Strategy =
            serde_json::from_str(r#"{"strategy":"forger","rule":"wrong_bits"}"#).unwrap();
        assert_eq!(
            forger,
            Strategy::Forger {
                rule: ForgeRule::WrongBits
            }
        );
        let honest: Strategy = serde_json::from_str(r#"{"strategy":"honest"}"#).unwrap();
        assert_eq!(honest, Strategy::Honest);
    }

    #[test]
    fn bad_bodies_are_refused() {
        for body in [
            r#"{"strategy":"greedy"}"#,
            r#"{"strategy":"timestamp"}"#,
            r#"{"strategy":"timestamp","mode":"now"}"#,
            r#"{"strategy":"forger","rule":"bad_everything"}"#,
            r#"{"mode":"past"}"#,
            r#"{"strategy":"forger","rule":"wrong_bits","extra":1}"#,
        ] {
            assert!(serde_json::from_str::<Strategy>(body).is_err(), "{body}");
        }
        let zero = Strategy::Private {
            confirmations: 0,
            entry: "a".into(),
            double_spend: "b".into(),
        };
        assert_eq!(zero.check(), Err(StrategyError::Confirmations(0)));
        let same = Strategy::Private {
            confirmations: 2,
            entry: "a".into(),
            double_spend: "a".into(),
        };
        assert_eq!(same.check(), Err(StrategyError::SameEntries));
    }

    #[test]
    fn a_status_body_without_a_strategy_reads_as_honest() {
        let old = r#"{"id":"a","address":"127.0.0.1:1","chain":"regtest","height":0,
            "best_hash":"0000000000000000000000000000000000000000000000000000000000000000",
            "chain_work":"0000000000000000000000000000000000000000000000000000000000000001",
            "mining":false,"hash_rate":0.0,"pending_entries":0,"isolated":false,
            "block_bytes_received":0,"peers":[]}"#;
        let status: crate::api::StatusBody = serde_json::from_str(old).unwrap();
        assert_eq!(status.strategy, Strategy::Honest);
    }

    #[test]
    fn forged_bits_differ_from_the_expected_ones() {
        for bits in [0x207f_ffff, 0x1d00_ffff, 0x1f0f_ffff, 0x0300_8000] {
            let expected = CompactTarget::from_consensus(bits);
            assert_ne!(forged_bits(expected), expected, "{bits:x}");
        }
    }

    #[test]
    fn a_spoilt_proof_misses_the_target() {
        let params = shared_regtest();
        let tip = params.genesis.header;
        let template =
            crate::block_template(&params, &[tip], params.genesis.hash, "m", [], tip.timestamp);
        let target = template.header.bits.to_target().unwrap();
        let spoilt = spoil_proof(template.header, target);
        assert!(!target.is_met_by(spoilt.block_hash()));
    }

    #[test]
    fn every_state_decodes_to_what_was_serialized() {
        let all = [
            StrategyState::Honest,
            StrategyState::Selfish {
                withheld: 1,
                lead: -2,
                published: 3,
                races: 4,
            },
            StrategyState::Private {
                phase: PrivatePhase::Released,
                a_block: Some(BlockHash::from_bytes([6; 32])),
                a_height: Some(7),
                branch_length: 8,
                released: true,
                a_reverted: false,
            },
            StrategyState::Private {
                phase: PrivatePhase::WaitingForEntry,
                a_block: None,
                a_height: None,
                branch_length: 0,
                released: false,
                a_reverted: true,
            },
            StrategyState::Offering {
                offered: 9,
                refused: 10,
            },
        ];
        for state in all {
            let json = serde_json::to_string(&state).unwrap();
            let back: StrategyState =
                serde_json::from_str(&json).unwrap_or_else(|e| panic!("{json}: {e}"));
            assert_eq!(back, state, "{json}");
            let tag = serde_json::to_value(&state).unwrap()["strategy"].clone();
            assert!(STATES.contains(&tag.as_str().unwrap()), "{json}");
        }
    }

    #[test]
    fn a_state_of_an_unknown_kind_or_short_of_a_field_is_refused() {
        let err = serde_json::from_str::<StrategyState>(r#"{"strategy":"sly"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown variant `sly`"), "{err}");
        let err = serde_json::from_str::<StrategyState>(r#"{"strategy":"offering","offered":1}"#)
            .unwrap_err();
        assert!(err.to_string().contains("missing field `refused`"), "{err}");
        let err =
            serde_json::from_str::<StrategyState>(r#"{"offered":1,"refused":2}"#).unwrap_err();
        assert!(
            err.to_string().contains("missing field `strategy`"),
            "{err}"
        );
    }
}
