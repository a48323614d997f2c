//! The mining kernels.
//!
//! The 96-byte header spans two SHA-256 blocks, and `proof` lies in the
//! second. So the first block's compression (the midstate) is done once per
//! template, and each attempt costs two compressions: the header's second
//! block, then the 32-byte digest for the outer hash. The outer state words,
//! read most significant first, are the hash as a big-endian number, so they
//! compare directly against the target's words.
//!
//! Two [`Kernel`]s do the hashing: `portable` (one nonce at a time through
//! `sha2`, everywhere) and, on x86-64 CPUs with the SHA extensions,
//! `sha-ni-2way`, which interleaves two nonces. [`PowSearch::new`] takes the
//! fastest one the CPU has; both answer every search identically, and the
//! batching, stop checks and attempt counts live in [`PowSearch::search`]
//! alone.

mod portable;
#[cfg(target_arch = "x86_64")]
mod sha_ni;

use core::ops::Range;

use sha2::compress256;
use sha2::digest::generic_array::GenericArray;

use crate::hash::BlockHash;
use crate::header::{HEADER_LEN, Header, PROOF_OFFSET};
use crate::target::Target;

/// Attempts between two looks at the stop condition.
pub const STOP_CHECK_INTERVAL: u64 = 1 << 16;

/// Where `proof` sits inside the header's second 64-byte block.
const PROOF_IN_TAIL: usize = PROOF_OFFSET - 64;

/// SHA-256's initial state.
const IV: [u32; 8] = [
    0x6a09_e667,
    0xbb67_ae85,
    0x3c6e_f372,
    0xa54f_f53a,
    0x510e_527f,
    0x9b05_688c,
    0x1f83_d9ab,
    0x5be0_cd19,
];

/// What a search ended with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchOutcome {
    /// A proof that meets the target, with the header carrying it.
    Found {
        header: Header,
        hash: BlockHash,
        attempts: u64,
    },
    /// Every nonce in the range was tried.
    Exhausted { attempts: u64 },
    /// The stop condition became true.
    Stopped { attempts: u64 },
}

impl SearchOutcome {
    pub fn attempts(&self) -> u64 {
        match *self {
            Self::Found { attempts, .. }
            | Self::Exhausted { attempts }
            | Self::Stopped { attempts } => attempts,
        }
    }
}

/// The code that hashes the nonces of a search.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kernel {
    /// One nonce at a time through `sha2`'s compression function (which
    /// uses the SHA extensions single-stream when the CPU has them). Runs
    /// on every target, wasm32 included.
    Portable,
    /// Two nonces at once through the x86-64 SHA extensions
    /// (`sha256rnds2`, `sha256msg1/2` with SSE2, SSSE3 and SSE4.1), the
    /// first six rounds of the second block shared per template. Only on
    /// x86-64 CPUs that have them.
    ShaNi2Way,
}

impl Kernel {
    /// Every kernel, slowest first.
    pub const ALL: [Kernel; 2] = [Kernel::Portable, Kernel::ShaNi2Way];

    /// A short stable name, as the bench and logs print it.
    pub fn name(self) -> &'static str {
        match self {
            Kernel::Portable => "portable",
            Kernel::ShaNi2Way => "sha-ni-2way",
        }
    }

    /// Whether this CPU can run the kernel (asked at run time).
    pub fn is_available(self) -> bool {
        match self {
            Kernel::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Kernel::ShaNi2Way => sha_ni::is_available(),
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::ShaNi2Way => false,
        }
    }

    /// The fastest kernel this CPU can run.
    pub fn fastest_available() -> Kernel {
        Kernel::ALL
            .into_iter()
            .rev()
            .find(|kernel| kernel.is_available())
            .unwrap_or(Kernel::Portable)
    }
}

/// [`PowSearch::with_kernel`] was asked for a kernel this CPU cannot run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the {} mining kernel needs CPU features this machine lacks", .0.name())]
pub struct KernelUnavailable(pub Kernel);

/// A header template prepared for searching nonces.
#[derive(Debug, Clone)]
pub struct PowSearch {
    /// Only ever a kernel this CPU can run.
    kernel: Kernel,
    header: Header,
    midstate: [u32; 8],
    /// The header's last 32 bytes, SHA-256 padding and the 768-bit length.
    tail: [u8; 64],
    target_words: [u32; 8],
}

impl PowSearch {
    /// Prepares `header` for the fastest kernel this CPU can run.
    pub fn new(header: &Header, target: Target) -> Self {
        Self::prepare(header, target, Kernel::fastest_available())
    }

    /// Prepares `header` for `kernel`, if this CPU can run it.
    pub fn with_kernel(
        header: &Header,
        target: Target,
        kernel: Kernel,
    ) -> Result<Self, KernelUnavailable> {
        if !kernel.is_available() {
            return Err(KernelUnavailable(kernel));
        }
        Ok(Self::prepare(header, target, kernel))
    }

    fn prepare(header: &Header, target: Target, kernel: Kernel) -> Self {
        let bytes = header.to_bytes();
        let mut midstate = IV;
        compress256(&mut midstate, &[*GenericArray::from_slice(&bytes[..64])]);
        let mut tail = [0u8; 64];
        tail[..HEADER_LEN - 64].copy_from_slice(&bytes[64..]);
        tail[HEADER_LEN - 64] = 0x80;
        tail[56..].copy_from_slice(&((HEADER_LEN as u64) * 8).to_be_bytes());
        Self {
            kernel,
            header: *header,
            midstate,
            tail,
            target_words: target.to_be_words(),
        }
    }

    /// The kernel this search hashes with.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// The name of that kernel (see [`Kernel::name`]).
    pub fn kernel_name(&self) -> &'static str {
        self.kernel.name()
    }

    /// Tries every nonce in `nonces` until one meets the target, the range
    /// ends, or `should_stop` (asked every [`STOP_CHECK_INTERVAL`] attempts)
    /// says so.
    pub fn search(&self, nonces: Range<u64>, should_stop: impl Fn() -> bool) -> SearchOutcome {
        let mut attempts = 0u64;
        let mut next = nonces.start;
        while next < nonces.end {
            if should_stop() {
                return SearchOutcome::Stopped { attempts };
            }
            let batch_end = nonces.end.min(next.saturating_add(STOP_CHECK_INTERVAL));
            if let Some((nonce, words)) = self.first_hit(next..batch_end) {
                let header = Header {
                    proof: nonce,
                    ..self.header
                };
                return SearchOutcome::Found {
                    header,
                    hash: hash_of_words(words),
                    attempts: attempts + (nonce - next) + 1,
                };
            }
            attempts += batch_end - next;
            next = batch_end;
        }
        SearchOutcome::Exhausted { attempts }
    }

    /// The first nonce in `nonces` whose hash meets the target, with the
    /// hash's state words; the one place that picks the kernel.
    fn first_hit(&self, nonces: Range<u64>) -> Option<(u64, [u32; 8])> {
        match self.kernel {
            Kernel::Portable => portable::first_hit(self, nonces),
            #[cfg(target_arch = "x86_64")]
            Kernel::ShaNi2Way => sha_ni::first_hit(self, nonces),
            // `with_kernel` never lets it in off x86-64.
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::ShaNi2Way => portable::first_hit(self, nonces),
        }
    }
}

/// The block hash whose big-endian words are the outer state `words`.
fn hash_of_words(words: [u32; 8]) -> BlockHash {
    let mut bytes = [0u8; 32];
    for (chunk, word) in bytes.chunks_exact_mut(4).zip(words) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    BlockHash::from_bytes(bytes)
}

/// Nonces a thread of [`search_parallel`] takes at a time: about 2 ms of
/// work for one SHA-NI core, so a thread the OS sets aside for a moment
/// leaves the rest of the range to the others instead of holding up the
/// whole call, and taking the next chunk costs one atomic operation.
#[cfg(not(target_arch = "wasm32"))]
pub const PARALLEL_CHUNK: u64 = 1 << 16;

/// Searches `nonces` on `threads` threads, which take it
/// [`PARALLEL_CHUNK`] nonces at a time; the first thread to find a proof
/// stops the others. Not on wasm32, where there are no threads.
#[cfg(not(target_arch = "wasm32"))]
pub fn search_parallel(
    search: &PowSearch,
    nonces: Range<u64>,
    threads: usize,
    should_stop: &(dyn Fn() -> bool + Sync),
) -> SearchOutcome {
    use std::sync::Mutex;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    let end = nonces.end;
    let next = AtomicU64::new(nonces.start);
    // The next chunk, or none once the range is used up (saturating, so a
    // range ending at u64::MAX never wraps round to its start).
    let take_chunk = || {
        next.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |start| {
            (start < end).then(|| start.saturating_add(PARALLEL_CHUNK).min(end))
        })
        .ok()
        .map(|start| start..start.saturating_add(PARALLEL_CHUNK).min(end))
    };
    let found = AtomicBool::new(false);
    let winner: Mutex<Option<(Header, BlockHash)>> = Mutex::new(None);
    let stop = || found.load(Ordering::Relaxed) || should_stop();
    let attempts: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                let (stop, found, winner, take_chunk) = (&stop, &found, &winner, &take_chunk);
                scope.spawn(move || {
                    let mut attempts = 0;
                    while let Some(chunk) = take_chunk() {
                        let outcome = search.search(chunk, stop);
                        attempts += outcome.attempts();
                        match outcome {
                            SearchOutcome::Found { header, hash, .. } => {
                                found.store(true, Ordering::Relaxed);
                                let mut slot = winner.lock().unwrap_or_else(|p| p.into_inner());
                                slot.get_or_insert((header, hash));
                                break;
                            }
                            SearchOutcome::Stopped { .. } => break,
                            SearchOutcome::Exhausted { .. } => {}
                        }
                    }
                    attempts
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    let winner = winner.into_inner().unwrap_or_else(|p| p.into_inner());
    match winner {
        Some((header, hash)) => SearchOutcome::Found {
            header,
            hash,
            attempts,
        },
        None if should_stop() => SearchOutcome::Stopped { attempts },
        None => SearchOutcome::Exhausted { attempts },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Preset;
    use crate::target::CompactTarget;

    /// The default chain's genesis header, at a height and target where a
    /// proof takes ~2^16 attempts.
    fn template() -> Header {
        let genesis = Preset::Default.params().genesis.header;
        Header {
            index: 7,
            bits: CompactTarget::from_consensus(0x1f00_ffff),
            proof: 0,
            ..genesis
        }
    }

    #[test]
    fn kernel_hash_equals_plain_double_sha256() {
        let header = template();
        let search = PowSearch::new(&header, Target::MAX);
        for nonce in [0u64, 1, 0xdead_beef, u64::MAX] {
            let words = portable::hash_words(&search, nonce);
            let plain = Header {
                proof: nonce,
                ..header
            }
            .block_hash();
            assert_eq!(hash_of_words(words), plain);
        }
    }

    /// Every kernel this CPU runs, saying which it skips.
    fn runnable_kernels() -> Vec<Kernel> {
        Kernel::ALL
            .into_iter()
            .filter(|kernel| {
                let runs = kernel.is_available();
                if !runs {
                    eprintln!("{} kernel: not on this CPU, skipped", kernel.name());
                }
                runs
            })
            .collect()
    }

    #[test]
    fn every_kernel_hashes_like_plain_double_sha256() {
        let header = template();
        for kernel in runnable_kernels() {
            let search = PowSearch::with_kernel(&header, Target::MAX, kernel).unwrap();
            // One nonce at a time, then an odd-length run for the lanes.
            for nonce in [0u64, 1, 2, 0xdead_beef, 1 << 32, u64::MAX - 1] {
                let (found, words) = search.first_hit(nonce..nonce + 1).unwrap();
                assert_eq!(found, nonce);
                let plain = Header {
                    proof: nonce,
                    ..header
                }
                .block_hash();
                assert_eq!(hash_of_words(words), plain, "{} at {nonce}", kernel.name());
            }
        }
    }

    #[test]
    fn new_takes_the_fastest_kernel_the_cpu_has() {
        let search = PowSearch::new(&template(), Target::MAX);
        assert_eq!(search.kernel(), Kernel::fastest_available());
        assert_eq!(search.kernel_name(), search.kernel().name());
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("sha") {
            assert_eq!(search.kernel(), Kernel::ShaNi2Way);
        }
        #[cfg(not(target_arch = "x86_64"))]
        assert_eq!(search.kernel(), Kernel::Portable);
    }

    #[test]
    fn stop_flag_ends_the_search() {
        let header = template();
        let impossible = CompactTarget::from_consensus(0x0300_0001)
            .to_target()
            .unwrap();
        let outcome = PowSearch::new(&header, impossible).search(0..u64::MAX, || true);
        assert_eq!(outcome, SearchOutcome::Stopped { attempts: 0 });
    }

    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn parallel_search_tries_every_nonce_once_up_to_the_end_of_the_range() {
        let header = template();
        let impossible = CompactTarget::from_consensus(0x0300_0001)
            .to_target()
            .unwrap();
        let search = PowSearch::new(&header, impossible);
        // Not a whole number of chunks, and a range that ends at the top.
        let ragged = 5 * PARALLEL_CHUNK + 123;
        for (nonces, threads) in [
            (0..ragged, 1),
            (0..ragged, 3),
            (u64::MAX - ragged..u64::MAX, 2),
            (7..7, 2),
        ] {
            let expected = nonces.end - nonces.start;
            assert_eq!(
                search_parallel(&search, nonces.clone(), threads, &|| false),
                SearchOutcome::Exhausted { attempts: expected },
                "{nonces:?} on {threads} threads"
            );
        }
    }

    #[test]
    #[cfg(not(target_arch = "wasm32"))]
    fn parallel_search_finds_a_proof_on_every_thread_count() {
        let header = template();
        let target = header.bits.to_target().unwrap();
        let search = PowSearch::new(&header, target);
        for threads in [1, 2, 3, 8] {
            let outcome = search_parallel(&search, 0..1 << 40, threads, &|| false);
            let SearchOutcome::Found { hash, header, .. } = outcome else {
                panic!("{threads} threads found nothing: {outcome:?}");
            };
            assert_eq!(header.block_hash(), hash);
            assert!(target.is_met_by(hash));
        }
    }
}
