//! SHA-256d and the 32-byte hash newtypes.
//!
//! Every hash is shown as lower-case hex of its 32 bytes in order (no byte
//! reversal as in Bitcoin's display), so a block hash that meets a hard
//! target visibly starts with zeros.

use core::fmt;
use core::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// SHA-256 applied twice, as Bitcoin does for headers, entries and merkle nodes.
pub fn sha256d(bytes: &[u8]) -> [u8; 32] {
    let once = Sha256::digest(bytes);
    Sha256::digest(once).into()
}

/// The error of parsing a hash from hex text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a hash is 64 hex characters")]
pub struct ParseHashError;

/// Parses any `FromStr` type from a JSON string without an allocation.
pub(crate) struct HexVisitor<T>(pub(crate) core::marker::PhantomData<T>);

impl<T: FromStr> serde::de::Visitor<'_> for HexVisitor<T>
where
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a hex string")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
}

macro_rules! hash_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
        pub struct $name([u8; 32]);

        impl $name {
            /// All zero bytes: the genesis block's `previous_hash`.
            pub const ZERO: Self = Self([0; 32]);

            pub const fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            pub const fn to_bytes(self) -> [u8; 32] {
                self.0
            }

            pub const fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// The first `n` hex characters, for logs and labels.
            pub fn short(&self, n: usize) -> String {
                let mut s = self.to_string();
                s.truncate(n.min(64));
                s
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut buf = [0u8; 64];
                // Encoding into a buffer of exactly twice the length cannot fail.
                hex::encode_to_slice(self.0, &mut buf).map_err(|_| fmt::Error)?;
                f.write_str(core::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl FromStr for $name {
            type Err = ParseHashError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(s, &mut bytes).map_err(|_| ParseHashError)?;
                Ok(Self(bytes))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(HexVisitor::<$name>(core::marker::PhantomData))
            }
        }
    };
}

hash_newtype!(
    /// SHA-256d of a block's 96-byte header.
    BlockHash
);
hash_newtype!(
    /// The root of the merkle tree over a block's entry hashes.
    MerkleRoot
);
hash_newtype!(
    /// SHA-256d of one entry's encoding.
    EntryHash
);
