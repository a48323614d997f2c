//! Random identifiers: node ids and the bearer tokens that guard a
//! process bound beyond loopback.

/// 16 random bytes as 32 lower-case hex digits.
pub fn random_hex_id() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}
