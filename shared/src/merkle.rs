//! The merkle root over a block's entry hashes, by Bitcoin's rule: pair
//! hashes level by level with SHA-256d, repeating the last one of a level
//! with an odd count. A single entry's hash is the root itself.

use crate::hash::{EntryHash, MerkleRoot, sha256d};

/// The root over `hashes`, or all zeros for none (a block always has at
/// least its first entry, so that case only arises for malformed input).
pub fn merkle_root(hashes: &[EntryHash]) -> MerkleRoot {
    if hashes.is_empty() {
        return MerkleRoot::ZERO;
    }
    let mut level: Vec<[u8; 32]> = hashes.iter().map(|h| h.to_bytes()).collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| {
                let left = pair[0];
                let right = *pair.get(1).unwrap_or(&left);
                let mut both = [0u8; 64];
                both[..32].copy_from_slice(&left);
                both[32..].copy_from_slice(&right);
                sha256d(&both)
            })
            .collect();
    }
    MerkleRoot::from_bytes(level[0])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(byte: u8) -> EntryHash {
        EntryHash::from_bytes([byte; 32])
    }

    fn pair(a: [u8; 32], b: [u8; 32]) -> [u8; 32] {
        let mut both = [0u8; 64];
        both[..32].copy_from_slice(&a);
        both[32..].copy_from_slice(&b);
        sha256d(&both)
    }

    #[test]
    fn one_hash_is_its_own_root() {
        assert_eq!(merkle_root(&[h(7)]).to_bytes(), [7; 32]);
    }

    #[test]
    fn odd_count_repeats_the_last_hash() {
        let ab = pair([1; 32], [2; 32]);
        let cc = pair([3; 32], [3; 32]);
        assert_eq!(merkle_root(&[h(1), h(2), h(3)]).to_bytes(), pair(ab, cc));
    }
}
