//! Mining and validation throughput, printed as one JSON line.
//!
//! `kernel` is the kernel `PowSearch::new` picks on this CPU; the
//! `attempts_per_sec_*` figures are its rates, and
//! `portable_attempts_per_sec_1_thread` is the portable kernel's, forced,
//! in the same run. `sha256_compressions_per_sec` is measured in the same
//! run too, by hashing 16 KiB buffers with `sha2` (SHA-NI single-stream
//! where the CPU has it): the single-stream limit. An attempt costs two
//! compressions, so `ratio_to_limit` = one-thread attempts / (compressions
//! / 2) says how far a kernel gets past what one stream of SHA-256 allows,
//! and `all_threads_speedup` = all-threads attempts / one-thread attempts.

#[cfg(target_arch = "wasm32")]
fn main() {
    // The bench measures native threads; there is nothing to run in a browser.
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main();
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::time::{Duration, Instant};

    use serde::Serialize;
    use sha2::{Digest, Sha256};
    use shared::pow::{Kernel, search_parallel};
    use shared::{CompactTarget, Header, PowSearch, Preset, spaced_chain, validate_headers};

    /// How long each throughput measurement runs.
    const MEASURE_FOR: Duration = Duration::from_millis(400);
    /// Interleaved rounds of the four throughput measurements.
    const ROUNDS: usize = 6;

    /// The printed line, in this field order.
    #[derive(Serialize)]
    struct Report {
        threads: usize,
        kernel: &'static str,
        attempts_per_sec_1_thread: u64,
        attempts_per_sec_all_threads: u64,
        portable_attempts_per_sec_1_thread: u64,
        sha256_compressions_per_sec: u64,
        ratio_to_limit: f64,
        portable_ratio_to_limit: f64,
        all_threads_speedup: f64,
        validate_100k_headers_ms: f64,
    }

    pub fn main() {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let header = Preset::Default.params().genesis.header;
        // A target no hash meets: every nonce in the range gets tried.
        let impossible = CompactTarget::from_consensus(0x0300_0001)
            .to_target()
            .unwrap();
        let search = PowSearch::new(&header, impossible);
        let portable = PowSearch::with_kernel(&header, impossible, Kernel::Portable)
            .expect("the portable kernel runs everywhere");

        let buffer = vec![0x5au8; 16 * 1024];
        // 256 message blocks plus one padding block per buffer.
        let compressions_per_buffer = (buffer.len() / 64 + 1) as u64;

        // The machine is shared: interleave short measurements of the four
        // rates and keep each one's best, so a burst of outside load skews
        // none of the ratios more than the others.
        let (mut one_thread, mut all_threads) = (0f64, 0f64);
        let (mut portable_one_thread, mut compressions) = (0f64, 0f64);
        for _ in 0..ROUNDS {
            one_thread = one_thread.max(rate(|round| {
                let start = round << 24;
                search.search(start..start + (1 << 20), || false).attempts()
            }));
            portable_one_thread = portable_one_thread.max(rate(|round| {
                let start = round << 24;
                portable
                    .search(start..start + (1 << 20), || false)
                    .attempts()
            }));
            compressions = compressions.max(rate(|_| {
                let mut sink = 0u8;
                for _ in 0..64 {
                    sink ^= Sha256::digest(&buffer)[0];
                }
                std::hint::black_box(sink);
                64 * compressions_per_buffer
            }));
            all_threads = all_threads.max(rate(|round| {
                let start = round << 32;
                search_parallel(
                    &search,
                    start..start + (threads as u64) * (1 << 20),
                    threads,
                    &|| false,
                )
                .attempts()
            }));
        }

        let params = Preset::Regtest.params();
        let (chain, now) = spaced_chain(&params, 99_999, "bench", 1_000);
        let headers: Vec<Header> = chain.iter().map(|b| b.header).collect();
        let validate_ms = (0..5)
            .map(|_| {
                let started = Instant::now();
                let summary =
                    validate_headers(&params, &headers, now).expect("bench chain is valid");
                assert_eq!(summary.height, 99_999);
                started.elapsed().as_secs_f64() * 1e3
            })
            .fold(f64::INFINITY, f64::min);

        let limit = compressions / 2.0;
        let report = Report {
            threads,
            kernel: search.kernel_name(),
            attempts_per_sec_1_thread: one_thread.round() as u64,
            attempts_per_sec_all_threads: all_threads.round() as u64,
            portable_attempts_per_sec_1_thread: portable_one_thread.round() as u64,
            sha256_compressions_per_sec: compressions.round() as u64,
            ratio_to_limit: rounded(one_thread / limit, 3),
            portable_ratio_to_limit: rounded(portable_one_thread / limit, 3),
            all_threads_speedup: rounded(all_threads / one_thread, 3),
            validate_100k_headers_ms: rounded(validate_ms, 1),
        };
        println!(
            "{}",
            serde_json::to_string(&report).expect("the report serializes")
        );
    }

    /// `x` with `digits` decimals, for a readable line.
    fn rounded(x: f64, digits: i32) -> f64 {
        let scale = 10f64.powi(digits);
        (x * scale).round() / scale
    }

    /// Units per second of `work(round)` (which returns the units it did),
    /// repeated for [`MEASURE_FOR`].
    fn rate(mut work: impl FnMut(u64) -> u64) -> f64 {
        let started = Instant::now();
        let mut units = 0u64;
        let mut round = 0u64;
        while started.elapsed() < MEASURE_FOR {
            units += work(round);
            round += 1;
        }
        units as f64 / started.elapsed().as_secs_f64()
    }
}
