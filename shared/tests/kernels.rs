//! The mining kernels agree. For any header, target and nonce range the
//! SHA-NI kernel must find exactly the proof, hash and attempt count the
//! portable kernel finds, stop where it stops, and hash like plain SHA-256d.
//!
//! On a CPU without SHA-NI (and on wasm32) there is no second kernel: the
//! tests say so and check the fallback instead, that `PowSearch::new` takes
//! the portable kernel and that asking for SHA-NI is refused.

#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;
#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

mod common;

use common::{VECTOR_HASH, vector_header};
use shared::pow::{Kernel, KernelUnavailable};
use shared::{Header, PowSearch, Preset, SearchOutcome, Target};

/// The kernel the comparisons check against the portable one: SHA-NI when
/// the CPU has it, otherwise the portable kernel itself, saying so.
fn kernel_under_test() -> Kernel {
    if Kernel::ShaNi2Way.is_available() {
        Kernel::ShaNi2Way
    } else {
        eprintln!(
            "sha-ni-2way: this CPU (or target) has no SHA-NI; checking the portable fallback instead"
        );
        Kernel::Portable
    }
}

/// `header` prepared for `kernel`, which must run here.
fn prepared(header: &Header, target: Target, kernel: Kernel) -> PowSearch {
    PowSearch::with_kernel(header, target, kernel).expect("a kernel this CPU runs")
}

/// The same search with the portable kernel and the one under test.
fn both(header: &Header, target: Target) -> (PowSearch, PowSearch) {
    (
        prepared(header, target, Kernel::Portable),
        prepared(header, target, kernel_under_test()),
    )
}

/// The vector header without its proof, and the target its bits demand
/// (a proof takes ~2^16 attempts).
fn unsolved_vector() -> (Header, Target) {
    let header = Header {
        proof: 0,
        ..vector_header()
    };
    (header, header.bits.to_target().unwrap())
}

#[test]
fn new_takes_sha_ni_when_the_cpu_has_it_and_the_portable_kernel_otherwise() {
    let search = PowSearch::new(&vector_header(), Target::MAX);
    if Kernel::ShaNi2Way.is_available() {
        assert_eq!(search.kernel(), Kernel::ShaNi2Way);
        assert_eq!(search.kernel_name(), "sha-ni-2way");
    } else {
        eprintln!("sha-ni-2way: not on this CPU (or target); checking the fallback");
        assert_eq!(search.kernel(), Kernel::Portable);
        assert_eq!(search.kernel_name(), "portable");
        let refused = PowSearch::with_kernel(&vector_header(), Target::MAX, Kernel::ShaNi2Way);
        let Err(error) = refused else {
            panic!("SHA-NI accepted on a CPU without it");
        };
        assert_eq!(error, KernelUnavailable(Kernel::ShaNi2Way));
        assert_eq!(
            error.to_string(),
            "the sha-ni-2way mining kernel needs CPU features this machine lacks"
        );
    }
}

#[test]
fn the_portable_kernel_can_always_be_forced() {
    let search = PowSearch::with_kernel(&vector_header(), Target::MAX, Kernel::Portable).unwrap();
    assert_eq!(search.kernel(), Kernel::Portable);
    assert_eq!(search.kernel_name(), "portable");
}

#[test]
fn the_forced_fallback_finds_what_the_default_kernel_finds() {
    let (header, target) = unsolved_vector();
    let fallback = prepared(&header, target, Kernel::Portable).search(0..1 << 24, || false);
    let default = PowSearch::new(&header, target).search(0..1 << 24, || false);
    assert_eq!(fallback, default);
    let SearchOutcome::Found {
        header: mined,
        hash,
        ..
    } = fallback
    else {
        panic!("no proof in 2^24 attempts at ~2^16 expected: {fallback:?}");
    };
    assert_eq!(mined.block_hash(), hash);
    assert!(target.is_met_by(hash));
}

#[test]
fn both_kernels_hash_the_vector_header_to_its_vector() {
    let header = vector_header();
    let (portable, fast) = both(&header, Target::MAX);
    for search in [portable, fast] {
        let outcome = search.search(header.proof..header.proof + 1, || false);
        let SearchOutcome::Found {
            header: found,
            hash,
            attempts,
        } = outcome
        else {
            panic!("{}: the maximum target met nothing", search.kernel_name());
        };
        assert_eq!(found, header, "{}", search.kernel_name());
        assert_eq!(hash.to_string(), VECTOR_HASH, "{}", search.kernel_name());
        assert_eq!(attempts, 1);
    }
}

#[test]
fn both_kernels_hash_like_plain_double_sha256_at_the_nonce_edges() {
    let header = vector_header();
    let (portable, fast) = both(&header, Target::MAX);
    let edges = [
        0u64,
        1,
        0xffff_ffff,
        1 << 32,
        0x0123_4567_89ab_cdef,
        u64::MAX - 1,
    ];
    for nonce in edges {
        let plain = Header {
            proof: nonce,
            ..header
        };
        for search in [&portable, &fast] {
            let outcome = search.search(nonce..nonce + 1, || false);
            let expected = SearchOutcome::Found {
                header: plain,
                hash: plain.block_hash(),
                attempts: 1,
            };
            assert_eq!(outcome, expected, "{} at {nonce:#x}", search.kernel_name());
        }
    }
}

#[test]
fn both_kernels_find_the_genesis_proofs() {
    for preset in Preset::ALL {
        let genesis = preset.params().genesis;
        let target = genesis.header.bits.to_target().unwrap();
        let proof = genesis.header.proof;
        // A window that ends at the proof: either kernel finds the same
        // first proof in it, the genesis one at the latest.
        let window = proof.saturating_sub(5_000)..proof + 1;
        let (portable, fast) = both(&genesis.header, target);
        let expected = portable.search(window.clone(), || false);
        assert_eq!(fast.search(window, || false), expected, "{preset}");
        let SearchOutcome::Found { header, hash, .. } = expected else {
            panic!("{preset}: the genesis proof was not found: {expected:?}");
        };
        assert!(header.proof <= proof);
        assert!(target.is_met_by(hash));
        if header.proof == proof {
            assert_eq!(hash, genesis.hash, "{preset}");
        }
        let exact = fast.search(proof..proof + 1, || false);
        assert!(
            matches!(exact, SearchOutcome::Found { hash, .. } if hash == genesis.hash),
            "{preset}: {exact:?}"
        );
    }
}

/// Random headers, targets and ranges: the kernels agree on every outcome.
#[cfg(not(target_arch = "wasm32"))]
mod properties {
    use std::cell::Cell;

    use proptest::prelude::*;
    use shared::pow::{STOP_CHECK_INTERVAL, search_parallel};

    use super::*;

    /// Any header, with its proof left for the search.
    fn any_header() -> impl Strategy<Value = Header> {
        common::any_header().prop_map(|header| Header { proof: 0, ..header })
    }

    /// How a case picks its target.
    #[derive(Debug, Clone)]
    enum TargetChoice {
        /// Every hash meets it: the first nonce is the proof.
        Max,
        /// A random target with this many leading zero bits: small counts
        /// find proofs within a few hundred nonces, larger ones rarely.
        LeadingZeros(u32, [u8; 32]),
        /// No hash meets it: every nonce is tried.
        Impossible,
        /// The hash of the range's nonce `at` (modulo its length), one
        /// below it, or one above it: the most significant words tie, so
        /// the kernel must compare the rest.
        HashOf { at: u64, step: i8 },
    }

    fn any_target_choice() -> impl Strategy<Value = TargetChoice> {
        prop_oneof![
            1 => Just(TargetChoice::Max),
            4 => (0u32..12, any::<[u8; 32]>()).prop_map(|(z, b)| TargetChoice::LeadingZeros(z, b)),
            1 => Just(TargetChoice::Impossible),
            4 => (any::<u64>(), -1i8..=1).prop_map(|(at, step)| TargetChoice::HashOf { at, step }),
        ]
    }

    /// A nonce range: near zero, anywhere, or against `u64::MAX`; of any
    /// length up to a few hundred, odd ones and zero included.
    fn any_range() -> impl Strategy<Value = (u64, u64)> {
        (0u64..300, 0u8..3, any::<u64>()).prop_map(|(len, place, r)| {
            let start = match place {
                0 => r % 1_000,
                1 => r % (u64::MAX - len),
                _ => u64::MAX - len - r % 8,
            };
            (start, start + len)
        })
    }

    /// The big-endian number `bytes` moved by `step` (saturating).
    fn stepped(mut bytes: [u8; 32], step: i8) -> [u8; 32] {
        let (limit, delta): (u8, fn(u8) -> u8) = match step {
            1 => (0xff, |b| b.wrapping_add(1)),
            -1 => (0x00, |b| b.wrapping_sub(1)),
            _ => return bytes,
        };
        if bytes.iter().all(|&b| b == limit) {
            return bytes;
        }
        for byte in bytes.iter_mut().rev() {
            let carries = *byte == limit;
            *byte = delta(*byte);
            if !carries {
                break;
            }
        }
        bytes
    }

    fn target_for(header: &Header, choice: &TargetChoice, (start, end): (u64, u64)) -> Target {
        match *choice {
            TargetChoice::Max => Target::MAX,
            TargetChoice::LeadingZeros(zeros, bytes) => {
                let mut bytes = bytes;
                for (i, byte) in bytes.iter_mut().enumerate() {
                    let bit = 8 * i as u32;
                    if bit + 8 <= zeros {
                        *byte = 0;
                    } else if bit < zeros {
                        *byte &= 0xff >> (zeros - bit);
                    }
                }
                Target::from_be_bytes(bytes)
            }
            TargetChoice::Impossible => Target::from_be_bytes([0; 32]),
            TargetChoice::HashOf { at, step } => {
                let nonce = start + at % (end - start).max(1);
                let hash = Header {
                    proof: nonce,
                    ..*header
                }
                .block_hash();
                Target::from_be_bytes(stepped(hash.to_bytes(), step))
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn the_kernels_agree_on_short_ranges(
            header in any_header(),
            choice in any_target_choice(),
            range in any_range(),
        ) {
            let target = target_for(&header, &choice, range);
            let (portable, fast) = both(&header, target);
            let expected = portable.search(range.0..range.1, || false);
            prop_assert_eq!(fast.search(range.0..range.1, || false), expected);
            match expected {
                SearchOutcome::Found { header: found, hash, attempts } => {
                    prop_assert_eq!(found.block_hash(), hash);
                    prop_assert!(target.is_met_by(hash));
                    prop_assert_eq!(attempts, found.proof - range.0 + 1);
                }
                other => prop_assert_eq!(other, SearchOutcome::Exhausted { attempts: range.1 - range.0 }),
            }
        }
    }

    proptest! {
        // Each case hashes up to three batches with both kernels.
        #![proptest_config(ProptestConfig::with_cases(24))]

        #[test]
        fn the_kernels_agree_across_batches_and_on_stopping(
            header in any_header(),
            zeros in 14u32..20,
            bytes in any::<[u8; 32]>(),
            start in any::<u64>(),
            extra in 0u64..=2 * STOP_CHECK_INTERVAL + 7,
            stop_after in prop::option::of(0u32..4),
        ) {
            let len = STOP_CHECK_INTERVAL - 3 + extra;
            let start = start % (u64::MAX - len);
            let target = target_for(&header, &TargetChoice::LeadingZeros(zeros, bytes), (start, start + len));
            let (portable, fast) = both(&header, target);
            let outcome = |search: &PowSearch| {
                let calls = Cell::new(0u32);
                let stop = || {
                    calls.set(calls.get() + 1);
                    stop_after.is_some_and(|after| calls.get() > after)
                };
                (search.search(start..start + len, stop), calls.get())
            };
            let expected = outcome(&portable);
            prop_assert_eq!(outcome(&fast), expected);
            if let (SearchOutcome::Stopped { attempts }, _) = expected {
                prop_assert_eq!(attempts % STOP_CHECK_INTERVAL, 0);
            }
        }
    }

    #[test]
    fn parallel_search_with_the_forced_fallback_finds_a_proof() {
        let (header, target) = unsolved_vector();
        let search = prepared(&header, target, Kernel::Portable);
        for threads in [1, 2, 3] {
            let outcome = search_parallel(&search, 0..1 << 40, threads, &|| false);
            let SearchOutcome::Found { header, hash, .. } = outcome else {
                panic!("{threads} threads found nothing: {outcome:?}");
            };
            assert_eq!(header.block_hash(), hash);
            assert!(target.is_met_by(hash));
        }
    }
}
