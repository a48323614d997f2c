//! A block: its stated hash, its header and its entries.
//!
//! JSON keeps the original project's names:
//! `{"hash", "header": {...}, "entries": [...]}`. The binary form, used for
//! storage and the bit-flip property tests, is the stated hash (32 bytes),
//! the header (96 bytes), the entry count (u32 LE) and each entry's encoding.

use serde::{Deserialize, Serialize};

use crate::entry::{Entry, TAG_COINBASE, TAG_DATA};
use crate::hash::{BlockHash, EntryHash, MerkleRoot};
use crate::header::{HEADER_LEN, Header};
use crate::merkle::merkle_root;

/// Most entries one block may carry, coinbase included.
pub const MAX_ENTRIES: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Block {
    /// The hash the sender claims; validation checks it against the header.
    pub hash: BlockHash,
    pub header: Header,
    pub entries: Vec<Entry>,
}

/// Why bytes are not a block.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("the bytes end before the block does")]
    Truncated,
    #[error("{0} bytes follow the block")]
    TrailingBytes(usize),
    #[error("unknown entry tag {0}")]
    UnknownEntryTag(u8),
    #[error("an entry's text is not UTF-8")]
    InvalidUtf8,
    #[error("{0} entries is more than a block may hold")]
    TooManyEntries(u32),
}

impl Block {
    /// Builds a block whose stated hash is its header's hash and whose
    /// merkle root commits to `entries`; `proof` is left for the miner.
    pub fn assemble(mut header: Header, entries: Vec<Entry>) -> Self {
        header.merkle_root = Self::merkle_root_of(&entries);
        Self {
            hash: header.block_hash(),
            header,
            entries,
        }
    }

    /// The merkle root over the entries' hashes.
    pub fn merkle_root_of(entries: &[Entry]) -> MerkleRoot {
        let hashes: Vec<EntryHash> = entries.iter().map(Entry::entry_hash).collect();
        merkle_root(&hashes)
    }

    /// Replaces the header (after mining) and restates the hash.
    pub fn with_header(mut self, header: Header) -> Self {
        self.hash = header.block_hash();
        self.header = header;
        self
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(32 + HEADER_LEN + 4 + 64 * self.entries.len());
        out.extend_from_slice(self.hash.as_bytes());
        out.extend_from_slice(&self.header.to_bytes());
        let count = u32::try_from(self.entries.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&count.to_le_bytes());
        for entry in &self.entries {
            entry.encode_into(&mut out);
        }
        out
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader { bytes };
        let hash = BlockHash::from_bytes(reader.array()?);
        let header = Header::from_bytes(&reader.array()?);
        let count = u32::from_le_bytes(reader.array()?);
        if count as usize > MAX_ENTRIES {
            return Err(DecodeError::TooManyEntries(count));
        }
        let mut entries = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let [tag] = reader.array()?;
            let entry = match tag {
                TAG_COINBASE => {
                    let height = u64::from_le_bytes(reader.array()?);
                    Entry::Coinbase {
                        height,
                        miner: reader.text()?,
                    }
                }
                TAG_DATA => Entry::Data {
                    data: reader.text()?,
                },
                other => return Err(DecodeError::UnknownEntryTag(other)),
            };
            entries.push(entry);
        }
        if !reader.bytes.is_empty() {
            return Err(DecodeError::TrailingBytes(reader.bytes.len()));
        }
        Ok(Self {
            hash,
            header,
            entries,
        })
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        if self.bytes.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn text(&mut self) -> Result<String, DecodeError> {
        let len = u16::from_le_bytes(self.array()?);
        let raw = self.take(usize::from(len))?;
        String::from_utf8(raw.to_vec()).map_err(|_| DecodeError::InvalidUtf8)
    }
}
