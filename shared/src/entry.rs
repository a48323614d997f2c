//! A block's content. The first entry names the miner and the height, like
//! Bitcoin's coinbase (which also makes every block's merkle root unique);
//! the rest are data entries users submitted.
//!
//! Encoding, for hashing and the binary block form: a tag byte, then for a
//! coinbase `height` u64 LE, the miner's UTF-8 length u16 LE and bytes; for
//! data the UTF-8 length u16 LE and bytes. An entry's hash is SHA-256d of it.

use serde::{Deserialize, Serialize};

use crate::hash::{EntryHash, sha256d};

/// Longest data entry, in UTF-8 bytes.
pub const MAX_DATA_BYTES: usize = 1024;
/// Longest miner name in a coinbase entry, in UTF-8 bytes.
pub const MAX_MINER_BYTES: usize = 64;

pub(crate) const TAG_COINBASE: u8 = 0;
pub(crate) const TAG_DATA: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Entry {
    /// First entry of every block: who mined it, at which height.
    Coinbase { height: u64, miner: String },
    /// Text a user submitted (at most [`MAX_DATA_BYTES`]).
    Data { data: String },
}

impl Entry {
    pub fn coinbase(height: u64, miner: impl Into<String>) -> Self {
        Self::Coinbase {
            height,
            miner: miner.into(),
        }
    }

    pub fn data(data: impl Into<String>) -> Self {
        Self::Data { data: data.into() }
    }

    /// Appends the entry's encoding to `out`. Lengths are written as u16;
    /// the validation rules bound them far below that.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Self::Coinbase { height, miner } => {
                out.push(TAG_COINBASE);
                out.extend_from_slice(&height.to_le_bytes());
                push_text(out, miner);
            }
            Self::Data { data } => {
                out.push(TAG_DATA);
                push_text(out, data);
            }
        }
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    pub fn entry_hash(&self) -> EntryHash {
        EntryHash::from_bytes(sha256d(&self.to_bytes()))
    }
}

fn push_text(out: &mut Vec<u8>, text: &str) {
    let len = u16::try_from(text.len()).unwrap_or(u16::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&text.as_bytes()[..usize::from(len)]);
}
