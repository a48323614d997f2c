//! The block header and its one exact byte encoding.
//!
//! Fields, in this order, little-endian: `version` u32, `index` u64,
//! `previous_hash` 32 bytes, `merkle_root` 32 bytes, `timestamp` u64
//! (milliseconds since the Unix epoch), `bits` u32, `proof` u64: 96 bytes.
//! The block hash is SHA-256d of those bytes, so the proof of work commits to
//! every field, including the content through `merkle_root`.

use serde::{Deserialize, Serialize};

use crate::hash::{BlockHash, MerkleRoot, sha256d};
use crate::target::CompactTarget;

/// Length of an encoded header in bytes.
pub const HEADER_LEN: usize = 96;

/// Byte offset of `proof` in the encoding; the mining kernel rewrites it.
pub(crate) const PROOF_OFFSET: usize = 88;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Header {
    pub version: u32,
    /// Height in the chain; genesis is 0.
    pub index: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp: u64,
    pub previous_hash: BlockHash,
    pub merkle_root: MerkleRoot,
    pub bits: CompactTarget,
    /// The nonce the miner varies.
    pub proof: u64,
}

impl Header {
    /// The only header version this chain knows.
    pub const VERSION: u32 = 1;

    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..4].copy_from_slice(&self.version.to_le_bytes());
        out[4..12].copy_from_slice(&self.index.to_le_bytes());
        out[12..44].copy_from_slice(self.previous_hash.as_bytes());
        out[44..76].copy_from_slice(self.merkle_root.as_bytes());
        out[76..84].copy_from_slice(&self.timestamp.to_le_bytes());
        out[84..88].copy_from_slice(&self.bits.to_consensus().to_le_bytes());
        out[PROOF_OFFSET..96].copy_from_slice(&self.proof.to_le_bytes());
        out
    }

    pub fn from_bytes(bytes: &[u8; HEADER_LEN]) -> Self {
        // Fixed-size subslices of a fixed-size array: the conversions cannot fail.
        let u32_at = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap());
        let hash_at = |at: usize| -> [u8; 32] { bytes[at..at + 32].try_into().unwrap() };
        Self {
            version: u32_at(0),
            index: u64_at(4),
            previous_hash: BlockHash::from_bytes(hash_at(12)),
            merkle_root: MerkleRoot::from_bytes(hash_at(44)),
            timestamp: u64_at(76),
            bits: CompactTarget::from_consensus(u32_at(84)),
            proof: u64_at(PROOF_OFFSET),
        }
    }

    /// SHA-256d of the 96-byte encoding.
    pub fn block_hash(&self) -> BlockHash {
        BlockHash::from_bytes(sha256d(&self.to_bytes()))
    }
}
