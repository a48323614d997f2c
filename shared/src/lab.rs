//! The lab chain: a fixed difficulty chosen from a block interval and the
//! network's total hash rate, for experiments where nodes mine under a
//! hash power cap. At `network_attempts_per_sec` attempts a second in total
//! a block is found every `block_interval_ms` on average, and since the
//! difficulty never retargets that stays true at any height.
//!
//! The genesis block names both parameters in its coinbase, so two lab
//! chains with any different parameter have different genesis hashes (and
//! parameter digests) and their nodes refuse each other at the handshake.
//! Like every preset's genesis, it is validated by its hash alone; its
//! proof is the first nonce below [`GENESIS_SEARCH_LIMIT`] that meets the
//! lab target, or 0 when none does, so building the parameters stays cheap
//! at any rate.

use ruint::Uint;
use ruint::aliases::U256;
use serde::{Deserialize, Serialize};

use crate::block::Block;
use crate::params::{ChainParams, MAX_FUTURE_DRIFT_MS, Preset};
use crate::pow::{PowSearch, SearchOutcome};
use crate::target::{CompactTarget, Target};

/// The easiest target a lab chain may have: regtest's, about two attempts
/// a block.
pub const EASIEST_LAB_BITS: CompactTarget = CompactTarget::from_consensus(0x207f_ffff);

/// How many nonces the genesis proof search tries at most: a fraction of a
/// second on one core, and enough for realistic lab parameters (2^21
/// attempts finds a proof where a block needs up to ~2 million with
/// probability 1 - 1/e or better).
pub const GENESIS_SEARCH_LIMIT: u64 = 1 << 21;

/// The two inputs of a lab chain: with them anyone (the explorer, say)
/// rebuilds its consensus parameters with [`ChainParams::lab`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LabChain {
    /// The mean block interval, in ms.
    pub block_interval_ms: u64,
    /// The network's total proof attempts per second the difficulty is
    /// set for.
    pub network_attempts_per_sec: u64,
}

/// Why a chain a node reports cannot be rebuilt here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainSpecError {
    #[error(transparent)]
    UnknownPreset(#[from] crate::params::UnknownPreset),
    #[error("a lab chain is reported without its block interval and network hash rate")]
    LabWithoutParameters,
    #[error("lab parameters on the {0} chain, which has none")]
    NotLab(Preset),
    #[error(transparent)]
    Lab(#[from] LabParamsError),
}

/// The consensus parameters of the chain named `chain` (a preset's name,
/// as `/status` reports it), with `lab` for the lab chain.
pub fn chain_params(chain: &str, lab: Option<LabChain>) -> Result<ChainParams, ChainSpecError> {
    let preset: Preset = chain.parse()?;
    match (preset.fixed_params(), lab) {
        (Some(params), None) => Ok(params),
        (Some(_), Some(_)) => Err(ChainSpecError::NotLab(preset)),
        (None, Some(lab)) => Ok(ChainParams::lab(
            lab.block_interval_ms,
            lab.network_attempts_per_sec,
        )?),
        (None, None) => Err(ChainSpecError::LabWithoutParameters),
    }
}

/// Why lab parameters cannot make a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabParamsError {
    #[error("the lab block interval must be at least 1 ms")]
    ZeroInterval,
    #[error("the lab network hash rate must be at least 1 attempt per second")]
    ZeroRate,
    /// The target would be easier than [`EASIEST_LAB_BITS`] allows.
    #[error(
        "{network_attempts_per_sec} attempts/s for a block every {block_interval_ms} ms is \
         under 2 attempts a block: easier than the easiest target; raise either"
    )]
    TooEasy {
        block_interval_ms: u64,
        network_attempts_per_sec: u64,
    },
}

/// floor(2^256 / (rate * interval / 1000)), or `None` above 256 bits.
pub fn lab_target(block_interval_ms: u64, network_attempts_per_sec: u64) -> Option<Target> {
    type Wide = Uint<320, 5>;
    let attempts_times_1000 =
        Wide::from(u128::from(block_interval_ms) * u128::from(network_attempts_per_sec));
    if attempts_times_1000.is_zero() {
        return None;
    }
    // 2^256 * 1000 needs more than 256 bits; the quotient may not fit either.
    let quotient: Wide = (Wide::from(1u8) << 256usize) * Wide::from(1000u16) / attempts_times_1000;
    let [l0, l1, l2, l3, high] = quotient.into_limbs();
    (high == 0).then(|| Target::from_be_bytes(U256::from_limbs([l0, l1, l2, l3]).to_be_bytes()))
}

impl ChainParams {
    /// The lab chain: fixed difficulty (no retarget) such that
    /// `network_attempts_per_sec` attempts a second find a block every
    /// `block_interval_ms` on average, within the compact encoding's
    /// precision (it rounds the target down, so blocks are at most
    /// ~2^-15 harder than asked).
    pub fn lab(
        block_interval_ms: u64,
        network_attempts_per_sec: u64,
    ) -> Result<ChainParams, LabParamsError> {
        if block_interval_ms == 0 {
            return Err(LabParamsError::ZeroInterval);
        }
        if network_attempts_per_sec == 0 {
            return Err(LabParamsError::ZeroRate);
        }
        let too_easy = LabParamsError::TooEasy {
            block_interval_ms,
            network_attempts_per_sec,
        };
        let easiest = EASIEST_LAB_BITS.to_target().map_err(|_| too_easy.clone())?;
        let target = lab_target(block_interval_ms, network_attempts_per_sec)
            .filter(|t| *t <= easiest)
            .ok_or(too_easy)?;
        let bits = target.to_compact();
        Ok(ChainParams {
            name: Preset::Lab.name().to_owned(),
            genesis: lab_genesis(bits, block_interval_ms, network_attempts_per_sec),
            pow_limit: bits,
            initial_bits: bits,
            target_spacing_ms: block_interval_ms,
            retarget_window: 0,
            max_future_drift_ms: MAX_FUTURE_DRIFT_MS,
            lab: Some(LabChain {
                block_interval_ms,
                network_attempts_per_sec,
            }),
        })
    }
}

/// The lab genesis: the parameters in its coinbase, and a proof that meets
/// `bits` when one is found among the first [`GENESIS_SEARCH_LIMIT`] nonces.
fn lab_genesis(
    bits: CompactTarget,
    block_interval_ms: u64,
    network_attempts_per_sec: u64,
) -> Block {
    let miner = format!("lab genesis {block_interval_ms} ms {network_attempts_per_sec}/s");
    let unsolved = ChainParams::genesis_with(bits, 0, &miner);
    let Ok(target) = bits.to_target() else {
        return unsolved;
    };
    match PowSearch::new(&unsolved.header, target).search(0..GENESIS_SEARCH_LIMIT, || false) {
        SearchOutcome::Found { header, .. } => Block::assemble(header, unsolved.entries),
        SearchOutcome::Stopped { .. } | SearchOutcome::Exhausted { .. } => unsolved,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{extend_chain, solve};
    use crate::validation::{Rejection, validate_chain};

    type Wide = Uint<320, 5>;

    fn wide(target: Target) -> Wide {
        Wide::from(U256::from_be_bytes(target.to_be_bytes()))
    }

    /// floor(2^256 * 1000 / (interval * rate)) by its definition:
    /// t * d <= 2^256 * 1000 < (t + 1) * d.
    fn is_the_floor(target: Target, interval_ms: u64, rate: u64) -> bool {
        let d = Wide::from(u128::from(interval_ms) * u128::from(rate));
        let n = (Wide::from(1u8) << 256usize) * Wide::from(1000u16);
        let t = wide(target);
        t * d <= n && (t + Wide::from(1u8)) * d > n
    }

    /// The expected attempts a block needs at these bits.
    fn expected_attempts(bits: CompactTarget) -> f64 {
        bits.to_target().unwrap().to_work().to_f64()
    }

    #[test]
    fn a_million_attempts_a_second_for_one_second_is_a_million_attempts() {
        let params = ChainParams::lab(1000, 1_000_000).unwrap();
        let attempts = expected_attempts(params.initial_bits);
        let precision = 1e6 * 2f64.powi(-15) + 1.0;
        assert!((attempts - 1e6).abs() <= precision, "{attempts}");
        assert!(is_the_floor(
            lab_target(1000, 1_000_000).unwrap(),
            1000,
            1_000_000
        ));
        assert_eq!(params.name, "lab");
        assert_eq!(params.target_spacing_ms, 1000);
        assert_eq!(params.retarget_window, 0);
        assert_eq!(params.pow_limit, params.initial_bits);
        assert_eq!(params.genesis.header.bits, params.initial_bits);
    }

    /// A block a second at 50 000 attempts a second.
    const ONE_SECOND_LAB: LabChain = LabChain {
        block_interval_ms: 1000,
        network_attempts_per_sec: 50_000,
    };

    #[test]
    fn a_reported_chain_is_rebuilt_from_its_name_and_lab_inputs() {
        let params = chain_params("lab", Some(ONE_SECOND_LAB)).unwrap();
        assert_eq!(params, ChainParams::lab(1000, 50_000).unwrap());
        assert_eq!(params.lab, Some(ONE_SECOND_LAB));
        assert_eq!(chain_params("regtest", None), Ok(Preset::Regtest.params()));
        assert_eq!(Preset::Regtest.params().lab, None);
    }

    #[test]
    fn a_reported_chain_of_unknown_name_is_refused() {
        assert!(matches!(
            chain_params("mainnet", None),
            Err(ChainSpecError::UnknownPreset(_))
        ));
    }

    #[test]
    fn a_reported_lab_chain_without_inputs_is_refused() {
        assert_eq!(
            chain_params("lab", None),
            Err(ChainSpecError::LabWithoutParameters)
        );
    }

    #[test]
    fn lab_inputs_on_a_fixed_preset_are_refused() {
        assert_eq!(
            chain_params("regtest", Some(ONE_SECOND_LAB)),
            Err(ChainSpecError::NotLab(Preset::Regtest))
        );
    }

    #[test]
    fn reported_lab_inputs_that_make_no_chain_are_refused() {
        let lab = LabChain {
            block_interval_ms: 0,
            ..ONE_SECOND_LAB
        };
        assert_eq!(
            chain_params("lab", Some(lab)),
            Err(ChainSpecError::Lab(LabParamsError::ZeroInterval))
        );
    }

    #[test]
    fn a_zero_interval_is_refused() {
        assert_eq!(ChainParams::lab(0, 1000), Err(LabParamsError::ZeroInterval));
    }

    #[test]
    fn a_zero_rate_is_refused() {
        assert_eq!(ChainParams::lab(1000, 0), Err(LabParamsError::ZeroRate));
    }

    #[test]
    fn a_target_easier_than_the_easiest_is_refused() {
        // Two attempts a block is 2^255, just above regtest's 0x7fffff * 2^232.
        for (interval_ms, rate) in [(1000, 2), (1000, 1), (1, 1), (1, 1999)] {
            assert_eq!(
                ChainParams::lab(interval_ms, rate),
                Err(LabParamsError::TooEasy {
                    block_interval_ms: interval_ms,
                    network_attempts_per_sec: rate,
                }),
                "{interval_ms} ms at {rate}/s"
            );
        }
        assert!(ChainParams::lab(1000, 3).is_ok());
    }

    #[test]
    fn the_parameters_are_deterministic_and_any_difference_changes_the_digest() {
        let base = ChainParams::lab(1000, 1_000_000).unwrap();
        assert_eq!(base, ChainParams::lab(1000, 1_000_000).unwrap());
        assert_eq!(
            base.digest(),
            ChainParams::lab(1000, 1_000_000).unwrap().digest()
        );
        // A slightly higher rate that rounds to the same bits still makes
        // another chain: the genesis names its parameters.
        // (At 10^9/s one more attempt a second moves the target by 10^-9,
        // well inside one step of the 3-byte mantissa.)
        let fast = ChainParams::lab(1000, 1_000_000_000).unwrap();
        let one_more = ChainParams::lab(1000, 1_000_000_001).unwrap();
        assert_eq!(one_more.initial_bits, fast.initial_bits);
        assert_ne!(one_more.digest(), fast.digest());
        for other in [
            ChainParams::lab(1001, 1_000_000).unwrap(),
            ChainParams::lab(2000, 500_000).unwrap(),
        ] {
            assert_ne!(other.digest(), base.digest());
            assert_ne!(other.genesis.hash, base.genesis.hash);
        }
        assert_ne!(base.digest(), Preset::Regtest.params().digest());
    }

    #[test]
    fn the_genesis_meets_its_target_when_the_search_finds_a_proof() {
        let params = ChainParams::lab(1000, 20_000).unwrap();
        let target = params.initial_bits.to_target().unwrap();
        assert!(target.is_met_by(params.genesis.hash));
        assert_eq!(
            validate_chain(&params, std::slice::from_ref(&params.genesis), 0)
                .unwrap()
                .height,
            0
        );
    }

    #[test]
    fn a_genesis_too_hard_to_search_is_still_the_chain_start() {
        // ~10^12 attempts a block: no proof among the first 2^21 nonces.
        let params = ChainParams::lab(1_000_000, 1_000_000_000).unwrap();
        assert_eq!(params.genesis.header.proof, 0);
        let summary = validate_chain(&params, std::slice::from_ref(&params.genesis), 0).unwrap();
        assert_eq!(summary.height, 0);
    }

    #[test]
    fn blocks_at_the_lab_bits_validate_and_others_do_not() {
        let params = ChainParams::lab(100, 10_000).unwrap();
        let mut chain = Vec::new();
        let mut now = params.genesis.header.timestamp;
        extend_chain(&params, &mut chain, 5, "lab-test", || {
            now += 100;
            now
        });
        assert!(chain.iter().all(|b| b.header.bits == params.initial_bits));
        let summary = validate_chain(&params, &chain, now).unwrap();
        assert_eq!(summary.height, 5);

        // The same block at regtest's bits, solved, breaks the fixed bits.
        let mut easier = chain[1].clone();
        easier.header.bits = EASIEST_LAB_BITS;
        let forged = solve(easier).unwrap();
        let error = validate_chain(&params, &[chain[0].clone(), forged], now).unwrap_err();
        assert!(
            matches!(error.reason, Rejection::WrongBits { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn lab_is_a_preset_without_fixed_parameters() {
        assert_eq!("lab".parse::<Preset>(), Ok(Preset::Lab));
        assert_eq!(Preset::Lab.name(), "lab");
        assert_eq!(Preset::Lab.fixed_params(), None);
        assert!(!Preset::ALL.contains(&Preset::Lab));
    }

    #[cfg(not(target_arch = "wasm32"))]
    mod properties {
        use proptest::prelude::*;

        use super::*;

        proptest! {
            #[test]
            fn the_target_is_the_floor_and_its_bits_keep_the_expected_attempts(
                interval_ms in 1u64..=10_000_000,
                rate in 1u64..=1_000_000_000_000,
            ) {
                let expected = interval_ms as f64 * rate as f64 / 1000.0;
                prop_assume!(expected >= 3.0);
                let target = lab_target(interval_ms, rate).unwrap();
                prop_assert!(is_the_floor(target, interval_ms, rate));
                // Compact bits round the target down by at most 2^-15.
                let attempts = expected_attempts(target.to_compact());
                prop_assert!(attempts >= expected.floor() - 1.0, "{attempts} < {expected}");
                prop_assert!(
                    attempts <= expected * (1.0 + 2f64.powi(-15)) + 1.0,
                    "{attempts} > {expected}"
                );
            }
        }
    }
}
