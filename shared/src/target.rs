//! Difficulty: the [`Target`] a block hash must not exceed, its compact
//! 32-bit form [`CompactTarget`] carried in headers, and [`Work`], the
//! expected number of attempts a target stands for.

use core::fmt;
use core::str::FromStr;

use ruint::Uint;
use ruint::aliases::U256;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::hash::{BlockHash, HexVisitor};

/// Display, Debug, FromStr and serde as 64 hex digits, big-endian, for the
/// 256-bit numbers ([`Target`], [`Work`]), with `$error` for bad text.
macro_rules! be_hex_u256 {
    ($name:ident, $error:ident, $(#[$error_doc:meta])* $message:literal) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.to_be_bytes()))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        $(#[$error_doc])*
        #[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
        #[error($message)]
        pub struct $error;

        impl FromStr for $name {
            type Err = $error;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let mut bytes = [0u8; 32];
                hex::decode_to_slice(s, &mut bytes).map_err(|_| $error)?;
                Ok(Self::from_be_bytes(bytes))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer.deserialize_str(HexVisitor::<Self>(core::marker::PhantomData))
            }
        }
    };
}

/// Why a compact target does not stand for a usable target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("compact target {0} has the sign bit set")]
    Negative(CompactTarget),
    #[error("compact target {0} overflows 256 bits")]
    Overflow(CompactTarget),
    #[error("compact target {0} is zero: no hash could meet it")]
    Zero(CompactTarget),
}

/// The largest hash, read as a big-endian 256-bit number, that meets the
/// difficulty.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Target(U256);

impl Target {
    pub const MAX: Self = Self(U256::MAX);

    pub fn from_be_bytes(bytes: [u8; 32]) -> Self {
        Self(U256::from_be_bytes(bytes))
    }

    pub fn to_be_bytes(self) -> [u8; 32] {
        self.0.to_be_bytes()
    }

    /// Whether `hash`, read as a big-endian number, is at or below the target.
    pub fn is_met_by(self, hash: BlockHash) -> bool {
        U256::from_be_bytes(hash.to_bytes()) <= self.0
    }

    /// The target's eight 32-bit words, most significant first: the form the
    /// mining kernel compares SHA-256 state words against.
    pub fn to_be_words(self) -> [u32; 8] {
        let bytes = self.to_be_bytes();
        core::array::from_fn(|i| {
            u32::from_be_bytes([
                bytes[4 * i],
                bytes[4 * i + 1],
                bytes[4 * i + 2],
                bytes[4 * i + 3],
            ])
        })
    }

    /// The expected number of attempts to find a hash at or below this
    /// target: 2^256 / (target + 1).
    pub fn to_work(self) -> Work {
        if self.0 == U256::MAX {
            return Work(U256::from(1u8));
        }
        // 2^256 does not fit in 256 bits; Bitcoin's identity avoids it:
        // 2^256 / (t + 1) == (!t / (t + 1)) + 1.
        Work((!self.0 / (self.0 + U256::from(1u8))) + U256::from(1u8))
    }

    /// The compact form, rounding the target down to a 3-byte mantissa.
    pub fn to_compact(self) -> CompactTarget {
        let mut size = self.0.bit_len().div_ceil(8);
        let mut mantissa: u32 = if size <= 3 {
            (self.0.wrapping_to::<u64>() << (8 * (3 - size))) as u32
        } else {
            (self.0 >> (8 * (size - 3))).wrapping_to::<u32>()
        };
        // The mantissa's top bit is a sign bit in this format: keep it clear.
        if mantissa & 0x0080_0000 != 0 {
            mantissa >>= 8;
            size += 1;
        }
        CompactTarget(mantissa | ((size as u32) << 24))
    }

    /// Scales the target by `numerator / denominator` without overflow,
    /// saturating at [`Target::MAX`].
    pub(crate) fn scaled(self, numerator: u64, denominator: u64) -> Self {
        // Targets near the pow limit times a span in milliseconds overflow
        // 256 bits, so multiply in 320 and divide before narrowing.
        let wide: Uint<320, 5> = self.0.widening_mul(Uint::<64, 1>::from(numerator));
        let quotient = wide / Uint::<320, 5>::from(denominator.max(1));
        let [l0, l1, l2, l3, high] = quotient.into_limbs();
        if high != 0 {
            return Self::MAX;
        }
        Self(U256::from_limbs([l0, l1, l2, l3]))
    }
}

be_hex_u256!(
    Target,
    ParseTargetError,
    /// The error of parsing a target from hex text.
    "a target is 64 hex characters"
);

/// Bitcoin's compact target (`bits`): an exponent byte, then a 3-byte
/// mantissa; target = mantissa * 256^(exponent - 3). Shown as 8 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CompactTarget(u32);

impl CompactTarget {
    pub const fn from_consensus(bits: u32) -> Self {
        Self(bits)
    }

    pub const fn to_consensus(self) -> u32 {
        self.0
    }

    /// The full target, or why these bits do not describe one.
    pub fn to_target(self) -> Result<Target, TargetError> {
        let size = self.0 >> 24;
        let word = self.0 & 0x007f_ffff;
        let value = if size <= 3 {
            U256::from(word >> (8 * (3 - size)))
        } else {
            if word != 0
                && (size > 34 || (word > 0xff && size > 33) || (word > 0xffff && size > 32))
            {
                return Err(TargetError::Overflow(self));
            }
            U256::from(word) << (8 * (size as usize - 3))
        };
        if word != 0 && self.0 & 0x0080_0000 != 0 {
            return Err(TargetError::Negative(self));
        }
        if value.is_zero() {
            return Err(TargetError::Zero(self));
        }
        Ok(Target(value))
    }
}

impl fmt::Display for CompactTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

impl fmt::Debug for CompactTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CompactTarget({self})")
    }
}

/// The error of parsing compact bits from text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bits are 8 hex characters")]
pub struct ParseBitsError;

impl FromStr for CompactTarget {
    type Err = ParseBitsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 8 {
            return Err(ParseBitsError);
        }
        u32::from_str_radix(s, 16)
            .map(Self)
            .map_err(|_| ParseBitsError)
    }
}

impl Serialize for CompactTarget {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for CompactTarget {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(HexVisitor::<Self>(core::marker::PhantomData))
    }
}

/// Cumulative proof of work: the sum of [`Target::to_work`] over a chain's
/// blocks. The best chain is the one with the most work, not the most blocks.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Work(U256);

impl Work {
    pub const ZERO: Self = Self(U256::ZERO);

    pub fn to_be_bytes(self) -> [u8; 32] {
        self.0.to_be_bytes()
    }

    pub fn from_be_bytes(bytes: [u8; 32]) -> Self {
        Self(U256::from_be_bytes(bytes))
    }

    /// The work as a float, for charts and hash-rate estimates only.
    pub fn to_f64(self) -> f64 {
        f64::from(self.0)
    }
}

impl core::ops::Add for Work {
    type Output = Self;

    fn add(self, rhs: Self) -> Self {
        Self(self.0.saturating_add(rhs.0))
    }
}

impl core::ops::AddAssign for Work {
    fn add_assign(&mut self, rhs: Self) {
        *self = *self + rhs;
    }
}

be_hex_u256!(
    Work,
    ParseWorkError,
    /// The error of parsing work from hex text.
    "work is 64 hex characters"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bitcoin_genesis_bits_round_trip() {
        let bits = CompactTarget::from_consensus(0x1d00_ffff);
        let target = bits.to_target().unwrap();
        let mut expected = [0u8; 32];
        expected[4] = 0xff;
        expected[5] = 0xff;
        assert_eq!(target.to_be_bytes(), expected);
        assert_eq!(target.to_compact(), bits);
        // Bitcoin's first block is worth 0x100010001 attempts.
        assert_eq!(
            target.to_work().to_string(),
            format!("{:064x}", 0x1_0001_0001u64)
        );
    }

    #[test]
    fn rejects_bad_compact_forms() {
        for (bits, want) in [
            (0x0000_0000, TargetError::Zero(CompactTarget(0))),
            (
                0x0480_0001,
                TargetError::Negative(CompactTarget(0x0480_0001)),
            ),
            (
                0x2301_0000,
                TargetError::Overflow(CompactTarget(0x2301_0000)),
            ),
        ] {
            assert_eq!(CompactTarget(bits).to_target(), Err(want));
        }
    }

    #[test]
    fn work_of_max_target_is_one() {
        assert_eq!(Target::MAX.to_work().to_f64(), 1.0);
    }

    #[test]
    fn scaling_saturates_instead_of_overflowing() {
        assert_eq!(Target::MAX.scaled(4, 1), Target::MAX);
        let t = CompactTarget(0x1d00_ffff).to_target().unwrap();
        assert_eq!(t.scaled(2, 1).scaled(1, 2), t);
    }
}
