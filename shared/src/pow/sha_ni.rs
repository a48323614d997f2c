//! The x86-64 SHA-extensions kernel: [`LANES`] nonces at once.
//!
//! `sha256rnds2` does two rounds, and the next one needs its result, so a
//! single stream waits out the instruction's latency between every two
//! rounds. Independent nonces have no such chain between them: with
//! [`LANES`] of them in flight the core overlaps their rounds (on the Zen 4
//! this was measured on, about twice the single-stream rate per core).
//!
//! On top of the template's midstate, the first six rounds of the header's
//! second block and its message words 16..20 depend only on the template
//! (the nonce is words 6 and 7, the rest is padding), so they are done once
//! per batch rather than once per nonce.
//!
//! Register layout, as in Intel's white paper: a state is two vectors,
//! `abef` = (A, B, E, F) and `cdgh` = (C, D, G, H), A in the highest lane;
//! message vectors hold words `4j..4j+4`, the lowest word in the lowest lane.

use core::arch::x86_64::*;
use core::ops::Range;

use super::{IV, PROOF_IN_TAIL, PowSearch};

/// Nonces hashed together. Two hide `sha256rnds2`'s latency on the CPU
/// measured; three and four gained nothing there, their state no longer
/// fitting the 16 XMM registers.
pub(super) const LANES: usize = 2;

// `Prepared::hash` puts the nonce in message words 6 and 7.
const _: () = assert!(PROOF_IN_TAIL == 24);

/// Whether this CPU has every feature the kernel is compiled with.
pub(super) fn is_available() -> bool {
    is_x86_feature_detected!("sha")
        && is_x86_feature_detected!("sse2")
        && is_x86_feature_detected!("ssse3")
        && is_x86_feature_detected!("sse4.1")
}

/// The first nonce in `nonces` whose hash meets the target, with its hash.
///
/// # Panics
///
/// If the CPU lacks the SHA extensions; [`PowSearch`] never picks this
/// kernel then.
pub(super) fn first_hit(search: &PowSearch, nonces: Range<u64>) -> Option<(u64, [u32; 8])> {
    // Once per batch of nonces: a cached atomic load per feature.
    assert!(
        is_available(),
        "the SHA-NI kernel needs sha, sse2, ssse3, sse4.1"
    );
    // SAFETY: `first_hit_with_sha` is safe code whose only requirement is
    // that the CPU has the features it is compiled with, checked just above.
    unsafe { first_hit_with_sha(search, nonces) }
}

/// SHA-256 round constants, a round group to a row.
#[rustfmt::skip]
const K: [u32; 64] = [
    0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5,
    0x3956_c25b, 0x59f1_11f1, 0x923f_82a4, 0xab1c_5ed5,
    0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3,
    0x72be_5d74, 0x80de_b1fe, 0x9bdc_06a7, 0xc19b_f174,
    0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc,
    0x2de9_2c6f, 0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da,
    0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7,
    0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967,
    0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc, 0x5338_0d13,
    0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85,
    0xa2bf_e8a1, 0xa81a_664b, 0xc24b_8b70, 0xc76c_51a3,
    0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070,
    0x19a4_c116, 0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5,
    0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
    0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208,
    0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7, 0xc671_78f2,
];

/// Message words 8..16 of the header's second block: the padding bit after
/// its 32 bytes, zeros, and the length, 768 bits.
const INNER_PADDING: [u32; 8] = [0x8000_0000, 0, 0, 0, 0, 0, 0, 768];

/// Message words 8..16 of the outer block: the padding bit after the 32-byte
/// digest, zeros, and the length, 256 bits.
const OUTER_PADDING: [u32; 8] = [0x8000_0000, 0, 0, 0, 0, 0, 0, 256];

/// One nonce's state and its last four message vectors.
#[derive(Clone, Copy)]
struct Lane {
    abef: __m128i,
    cdgh: __m128i,
    /// The last sixteen message words, four to a vector, oldest first;
    /// `w[3]` holds the words of the round group under way.
    w: [__m128i; 4],
}

/// What every nonce of a template shares, computed once per batch.
#[derive(Clone, Copy)]
struct Prepared {
    /// The midstate, added back after the second block.
    mid_abef: __m128i,
    mid_cdgh: __m128i,
    /// The state after rounds 0..4 and after rounds 0..6: the CDGH and the
    /// ABEF halves that rounds 6 and 7 start from.
    abef_after_4: __m128i,
    abef_after_6: __m128i,
    /// Message words 0..4 and 4, 5 (the nonce's words left zero).
    w0: __m128i,
    w4_5: [u32; 2],
    /// Message words 16..20, which no nonce word reaches yet.
    w16: __m128i,
}

/// A vector from four words, `words[0]` in the lowest lane.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn vector(words: [u32; 4]) -> __m128i {
    _mm_set_epi32(
        words[3] as i32,
        words[2] as i32,
        words[1] as i32,
        words[0] as i32,
    )
}

/// Two vectors from eight words: words 0..4 and 4..8.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn halves(w: [u32; 8]) -> [__m128i; 2] {
    [
        vector([w[0], w[1], w[2], w[3]]),
        vector([w[4], w[5], w[6], w[7]]),
    ]
}

/// The round constants of group `j` (rounds `4j..4j+4`).
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn k4(j: usize) -> __m128i {
    vector([K[4 * j], K[4 * j + 1], K[4 * j + 2], K[4 * j + 3]])
}

/// A state in register layout.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn state_vectors(s: &[u32; 8]) -> (__m128i, __m128i) {
    (
        vector([s[5], s[4], s[1], s[0]]),
        vector([s[7], s[6], s[3], s[2]]),
    )
}

/// A state back from register layout.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn state_words(abef: __m128i, cdgh: __m128i) -> [u32; 8] {
    [
        _mm_extract_epi32::<3>(abef) as u32,
        _mm_extract_epi32::<2>(abef) as u32,
        _mm_extract_epi32::<3>(cdgh) as u32,
        _mm_extract_epi32::<2>(cdgh) as u32,
        _mm_extract_epi32::<1>(abef) as u32,
        _mm_extract_epi32::<0>(abef) as u32,
        _mm_extract_epi32::<1>(cdgh) as u32,
        _mm_extract_epi32::<0>(cdgh) as u32,
    ]
}

/// Four rounds with `wk` (message words plus round constants).
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn rounds4(abef: &mut __m128i, cdgh: &mut __m128i, wk: __m128i) {
    *cdgh = _mm_sha256rnds2_epu32(*cdgh, *abef, wk);
    *abef = _mm_sha256rnds2_epu32(*abef, *cdgh, _mm_shuffle_epi32::<0x0E>(wk));
}

/// Message words `4j+16..4j+20` from words `4j..4j+16`.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn schedule(w: &[__m128i; 4]) -> __m128i {
    let t = _mm_add_epi32(
        _mm_sha256msg1_epu32(w[0], w[1]),
        _mm_alignr_epi8::<4>(w[3], w[2]),
    );
    _mm_sha256msg2_epu32(t, w[3])
}

/// Round group `j` on every lane with its own message words `w[3]`, after
/// scheduling them when `j >= 4`.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn lane_group(lanes: &mut [Lane; LANES], j: usize) {
    for lane in lanes.iter_mut() {
        if j >= 4 {
            let next = schedule(&lane.w);
            lane.w = [lane.w[1], lane.w[2], lane.w[3], next];
        }
        let wk = _mm_add_epi32(lane.w[3], k4(j));
        rounds4(&mut lane.abef, &mut lane.cdgh, wk);
    }
}

/// Round group `j` with message words every lane shares.
#[inline]
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn shared_group(lanes: &mut [Lane; LANES], words: __m128i, j: usize) {
    let wk = _mm_add_epi32(words, k4(j));
    for lane in lanes.iter_mut() {
        rounds4(&mut lane.abef, &mut lane.cdgh, wk);
    }
}

/// Round groups 5..16, every lane scheduling its own words. A macro so the
/// groups unroll into the caller with its lanes in registers.
macro_rules! scheduled_groups {
    ($lanes:expr) => {
        lane_group($lanes, 5);
        lane_group($lanes, 6);
        lane_group($lanes, 7);
        lane_group($lanes, 8);
        lane_group($lanes, 9);
        lane_group($lanes, 10);
        lane_group($lanes, 11);
        lane_group($lanes, 12);
        lane_group($lanes, 13);
        lane_group($lanes, 14);
        lane_group($lanes, 15);
    };
}

impl Prepared {
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn new(search: &PowSearch) -> Self {
        let word = |i: usize| {
            let at = 4 * i;
            u32::from_be_bytes([
                search.tail[at],
                search.tail[at + 1],
                search.tail[at + 2],
                search.tail[at + 3],
            ])
        };
        let (mid_abef, mid_cdgh) = state_vectors(&search.midstate);
        let w0 = vector([word(0), word(1), word(2), word(3)]);
        let w4_5 = [word(4), word(5)];

        let (mut abef, mut cdgh) = (mid_abef, mid_cdgh);
        rounds4(&mut abef, &mut cdgh, _mm_add_epi32(w0, k4(0)));
        let abef_after_4 = abef;
        let wk4_5 = vector([w4_5[0].wrapping_add(K[4]), w4_5[1].wrapping_add(K[5]), 0, 0]);
        let abef_after_6 = _mm_sha256rnds2_epu32(cdgh, abef, wk4_5);

        // Words 16..20 read words 0..5, 9..13 and 14, 15: not the nonce.
        let [pad8, pad12] = halves(INNER_PADDING);
        let w16 = schedule(&[w0, vector([w4_5[0], w4_5[1], 0, 0]), pad8, pad12]);
        Self {
            mid_abef,
            mid_cdgh,
            abef_after_4,
            abef_after_6,
            w0,
            w4_5,
            w16,
        }
    }

    /// The SHA-256d states of the header with `proof` set to each nonce.
    #[inline]
    #[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
    fn hash(&self, nonces: [u64; LANES]) -> [(__m128i, __m128i); LANES] {
        let inner_padding = halves(INNER_PADDING);
        let outer_padding = halves(OUTER_PADDING);

        // The header's second block, from round 6: the nonce's words
        // (little-endian bytes read as big-endian words) enter here.
        let mut lanes = nonces.map(|nonce| {
            let w6 = (nonce as u32).swap_bytes();
            let w7 = ((nonce >> 32) as u32).swap_bytes();
            let wk6_7 = vector([w6.wrapping_add(K[6]), w7.wrapping_add(K[7]), 0, 0]);
            Lane {
                abef: _mm_sha256rnds2_epu32(self.abef_after_4, self.abef_after_6, wk6_7),
                cdgh: self.abef_after_6,
                w: [
                    self.w0,
                    vector([self.w4_5[0], self.w4_5[1], w6, w7]),
                    inner_padding[0],
                    inner_padding[1],
                ],
            }
        });
        shared_group(&mut lanes, inner_padding[0], 2);
        shared_group(&mut lanes, inner_padding[1], 3);
        shared_group(&mut lanes, self.w16, 4);
        for lane in lanes.iter_mut() {
            lane.w = [lane.w[1], lane.w[2], lane.w[3], self.w16];
        }
        scheduled_groups!(&mut lanes);

        // The outer hash of the 32-byte digest, from SHA-256's IV.
        let (iv_abef, iv_cdgh) = state_vectors(&IV);
        for lane in lanes.iter_mut() {
            let abef = _mm_add_epi32(lane.abef, self.mid_abef);
            let cdgh = _mm_add_epi32(lane.cdgh, self.mid_cdgh);
            // (A, B, C, D) and (E, F, G, H), the first word lowest.
            let abcd = _mm_shuffle_epi32::<0x1B>(_mm_unpackhi_epi64(cdgh, abef));
            let efgh = _mm_shuffle_epi32::<0x1B>(_mm_unpacklo_epi64(cdgh, abef));
            *lane = Lane {
                abef: iv_abef,
                cdgh: iv_cdgh,
                w: [abcd, efgh, outer_padding[0], outer_padding[1]],
            };
        }
        for lane in lanes.iter_mut() {
            let wk = _mm_add_epi32(lane.w[0], k4(0));
            rounds4(&mut lane.abef, &mut lane.cdgh, wk);
            let wk = _mm_add_epi32(lane.w[1], k4(1));
            rounds4(&mut lane.abef, &mut lane.cdgh, wk);
        }
        shared_group(&mut lanes, outer_padding[0], 2);
        shared_group(&mut lanes, outer_padding[1], 3);
        lane_group(&mut lanes, 4);
        scheduled_groups!(&mut lanes);

        lanes.map(|lane| {
            (
                _mm_add_epi32(lane.abef, iv_abef),
                _mm_add_epi32(lane.cdgh, iv_cdgh),
            )
        })
    }
}

/// [`first_hit`] once the CPU's features are known.
#[target_feature(enable = "sha,sse2,ssse3,sse4.1")]
fn first_hit_with_sha(search: &PowSearch, nonces: Range<u64>) -> Option<(u64, [u32; 8])> {
    let prepared = Prepared::new(search);
    let target = search.target_words;
    // The first lane, in nonce order, whose hash meets the target: the most
    // significant word alone rules out nearly every hash.
    let first_met = |nonces: [u64; LANES], states: [(__m128i, __m128i); LANES], count: usize| {
        (0..count).find_map(|i| {
            let (abef, cdgh) = states[i];
            if _mm_extract_epi32::<3>(abef) as u32 > target[0] {
                return None;
            }
            let words = state_words(abef, cdgh);
            (words <= target).then_some((nonces[i], words))
        })
    };
    let mut next = nonces.start;
    while next < nonces.end {
        // Past the range's end the spare lanes repeat its last nonce and are
        // not looked at.
        let count = (nonces.end - next).min(LANES as u64) as usize;
        let batch: [u64; LANES] = core::array::from_fn(|i| next + i.min(count - 1) as u64);
        if let Some(hit) = first_met(batch, prepared.hash(batch), count) {
            return Some(hit);
        }
        next += count as u64;
    }
    None
}
