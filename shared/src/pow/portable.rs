//! The portable kernel: one nonce at a time through `sha2`'s compression
//! function (which uses the CPU's SHA extensions single-stream when it has
//! them). It runs everywhere, wasm32 included, and is what the faster
//! kernels are checked against.

use core::ops::Range;

use sha2::compress256;
use sha2::digest::generic_array::GenericArray;

use super::{IV, PROOF_IN_TAIL, PowSearch};

/// The first nonce in `nonces` whose hash meets the target, with its hash.
pub(super) fn first_hit(search: &PowSearch, nonces: Range<u64>) -> Option<(u64, [u32; 8])> {
    for nonce in nonces {
        let words = hash_words(search, nonce);
        if words <= search.target_words {
            return Some((nonce, words));
        }
    }
    None
}

/// The SHA-256d state words of the header with `proof` set to `nonce`.
#[inline(always)]
pub(super) fn hash_words(search: &PowSearch, nonce: u64) -> [u32; 8] {
    let mut inner_block = search.tail;
    inner_block[PROOF_IN_TAIL..PROOF_IN_TAIL + 8].copy_from_slice(&nonce.to_le_bytes());
    let mut inner = search.midstate;
    compress256(&mut inner, &[GenericArray::from(inner_block)]);

    let mut outer_block = [0u8; 64];
    for (chunk, word) in outer_block.chunks_exact_mut(4).zip(inner) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    outer_block[32] = 0x80;
    outer_block[62] = 0x01; // length: 256 bits
    let mut outer = IV;
    compress256(&mut outer, &[GenericArray::from(outer_block)]);
    outer
}
