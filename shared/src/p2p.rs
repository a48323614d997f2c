//! The peer-to-peer protocol: the messages two nodes exchange over one
//! long-lived link, their binary encoding, and the handshake rules.
//!
//! A frame carries exactly one [`Message`], encoded with postcard (serde,
//! varint integers, no field names). Headers travel in their 96-byte
//! consensus encoding and blocks in [`Block::to_bytes`], so what a peer
//! hashes is exactly what it received. [`decode`] refuses anything over the
//! limits before a caller sees it, so a hostile peer cannot make a node
//! allocate or loop beyond them.
//!
//! The meaning follows Bitcoin's: `Hello` is `version`, `Headers` both
//! answers `GetHeaders` and announces a new best tip (BIP 130's
//! `sendheaders` behaviour), `GetBlocks` is `getdata`, `Entry` relays a
//! pending data entry (`tx`), `Ping`/`Pong` measure round-trip time.

use core::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use crate::address::{AddressError, parse_host_port};
use crate::block::Block;
use crate::entry::MAX_DATA_BYTES;
use crate::hash::{BlockHash, sha256d};
use crate::header::{HEADER_LEN, Header};
use crate::params::ChainParams;
use crate::target::Work;

/// Bumped when a message changes meaning or shape; peers must match.
pub const PROTOCOL_VERSION: u32 = 1;
/// Largest frame a node sends or accepts: the largest block (1 000 entries
/// of 1 KiB) with room to spare.
pub const MAX_FRAME_BYTES: usize = 2 * 1024 * 1024;
/// Most headers in one `Headers` message (Bitcoin's `MAX_HEADERS_RESULTS`).
pub const MAX_HEADERS: usize = 2000;
/// Most hashes in a locator; ~31 cover any real height.
pub const MAX_LOCATOR: usize = 64;
/// Most hashes one `GetBlocks` or `NotFound` may name.
pub const MAX_BLOCK_REQUEST: usize = 128;
/// Longest node id, reason or listen address in a message.
pub const MAX_TEXT: usize = 256;

/// One message on a peer link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Message {
    /// The first message each way; nothing else is accepted before it.
    Hello(Hello),
    /// The link is refused or closed, and why (sent just before closing).
    Reject {
        reason: String,
    },
    /// Headers oldest first: an answer to `GetHeaders`, or, unasked, an
    /// announcement of the sender's new best tip.
    Headers {
        headers: Vec<WireHeader>,
    },
    /// "Send me the best-chain headers after the first of these you know."
    GetHeaders {
        locator: Vec<WireHash>,
    },
    /// "Send me these blocks."
    GetBlocks {
        hashes: Vec<WireHash>,
    },
    /// One block, asked for or not.
    Block {
        block: WireBlock,
    },
    /// Blocks asked for that the sender does not have.
    NotFound {
        hashes: Vec<WireHash>,
    },
    /// A pending data entry for the next block.
    Entry {
        data: String,
    },
    Ping {
        nonce: u64,
    },
    Pong {
        nonce: u64,
    },
}

/// Who a peer is and where its chain stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub version: u32,
    /// The genesis block's hash: which chain the peer is on.
    pub genesis: WireHash,
    /// [`ChainParams::digest`]: the rest of the consensus parameters, so
    /// two nodes with the same genesis but other rules do not link.
    pub params: [u8; 32],
    pub node_id: String,
    /// `host:port` the peer accepts links on.
    pub listen: String,
    pub best_height: u64,
    /// Cumulative work of the best tip, big-endian.
    pub best_work: [u8; 32],
}

impl Hello {
    pub fn new(
        params: &ChainParams,
        node_id: &str,
        listen: &str,
        best_height: u64,
        best_work: Work,
    ) -> Self {
        Self {
            version: PROTOCOL_VERSION,
            genesis: WireHash(params.genesis_hash()),
            params: params.digest(),
            node_id: node_id.to_owned(),
            listen: listen.to_owned(),
            best_height,
            best_work: best_work.to_be_bytes(),
        }
    }

    pub fn best_work(&self) -> Work {
        Work::from_be_bytes(self.best_work)
    }
}

/// Why a peer's `Hello` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HandshakeError {
    #[error("protocol version {theirs}, this node speaks {ours}")]
    Version { ours: u32, theirs: u32 },
    #[error(
        "another chain: genesis {theirs}, this node's is {ours} (another --chain, or other lab parameters)"
    )]
    OtherGenesis { ours: BlockHash, theirs: BlockHash },
    #[error("same genesis, other consensus parameters (another --chain or block interval)")]
    OtherParams,
    #[error("the peer is this node itself")]
    SelfConnection,
}

/// Whether a link between `ours` and `theirs` may go on.
pub fn check_hello(ours: &Hello, theirs: &Hello) -> Result<(), HandshakeError> {
    if theirs.version != ours.version {
        return Err(HandshakeError::Version {
            ours: ours.version,
            theirs: theirs.version,
        });
    }
    if theirs.genesis != ours.genesis {
        return Err(HandshakeError::OtherGenesis {
            ours: ours.genesis.0,
            theirs: theirs.genesis.0,
        });
    }
    if theirs.params != ours.params {
        return Err(HandshakeError::OtherParams);
    }
    if theirs.node_id == ours.node_id {
        return Err(HandshakeError::SelfConnection);
    }
    Ok(())
}

/// Why bytes from a peer are not a message it may send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("frame of {len} bytes is over the {max}-byte limit")]
    FrameTooLarge { len: usize, max: usize },
    #[error("undecodable frame: {0}")]
    Undecodable(postcard::Error),
    #[error("{count} {what} in one message, more than {max}")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("{what} of {len} bytes is longer than {max}")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("listen address: {0}")]
    BadListenAddress(AddressError),
}

/// The frame for `message`.
pub fn encode(message: &Message) -> Vec<u8> {
    // Encoding into a Vec only fails for types serde cannot describe, and
    // every type here is plain data.
    postcard::to_allocvec(message).expect("peer messages always encode")
}

/// The message in `frame`, if it is one a peer may send: within the frame
/// size, fully consumed, and within every count and length limit.
pub fn decode(frame: &[u8]) -> Result<Message, WireError> {
    if frame.len() > MAX_FRAME_BYTES {
        return Err(WireError::FrameTooLarge {
            len: frame.len(),
            max: MAX_FRAME_BYTES,
        });
    }
    let (message, rest) =
        postcard::take_from_bytes::<Message>(frame).map_err(WireError::Undecodable)?;
    if !rest.is_empty() {
        return Err(WireError::Undecodable(
            postcard::Error::DeserializeBadEncoding,
        ));
    }
    check_limits(&message)?;
    Ok(message)
}

fn check_limits(message: &Message) -> Result<(), WireError> {
    let count = |what, count, max| {
        if count > max {
            Err(WireError::TooMany { what, count, max })
        } else {
            Ok(())
        }
    };
    let text = |what, text: &str, max| {
        if text.len() > max {
            Err(WireError::TooLong {
                what,
                len: text.len(),
                max,
            })
        } else {
            Ok(())
        }
    };
    match message {
        Message::Hello(hello) => {
            text("node id", &hello.node_id, MAX_TEXT)?;
            text("listen address", &hello.listen, MAX_TEXT)?;
            parse_host_port(&hello.listen).map_err(WireError::BadListenAddress)?;
        }
        Message::Reject { reason } => text("reason", reason, MAX_TEXT)?,
        Message::Headers { headers } => count("headers", headers.len(), MAX_HEADERS)?,
        Message::GetHeaders { locator } => count("locator hashes", locator.len(), MAX_LOCATOR)?,
        Message::GetBlocks { hashes } | Message::NotFound { hashes } => {
            count("block hashes", hashes.len(), MAX_BLOCK_REQUEST)?;
        }
        Message::Entry { data } => text("entry", data, MAX_DATA_BYTES)?,
        Message::Block { .. } | Message::Ping { .. } | Message::Pong { .. } => {}
    }
    Ok(())
}

impl ChainParams {
    /// SHA-256d over every consensus field (not the display name): equal
    /// digests mean two nodes judge every block alike.
    pub fn digest(&self) -> [u8; 32] {
        let mut bytes = Vec::with_capacity(32 + 4 * 2 + 8 * 3);
        bytes.extend_from_slice(self.genesis.hash.as_bytes());
        bytes.extend_from_slice(&self.pow_limit.to_consensus().to_le_bytes());
        bytes.extend_from_slice(&self.initial_bits.to_consensus().to_le_bytes());
        bytes.extend_from_slice(&self.target_spacing_ms.to_le_bytes());
        bytes.extend_from_slice(&self.retarget_window.to_le_bytes());
        bytes.extend_from_slice(&self.max_future_drift_ms.to_le_bytes());
        sha256d(&bytes)
    }
}

/// A block hash on the wire: its 32 raw bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WireHash(#[serde(with = "raw_hash")] pub BlockHash);

mod raw_hash {
    use super::*;

    pub fn serialize<S: Serializer>(hash: &BlockHash, serializer: S) -> Result<S::Ok, S::Error> {
        hash.to_bytes().serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<BlockHash, D::Error> {
        <[u8; 32]>::deserialize(deserializer).map(BlockHash::from_bytes)
    }
}

impl From<BlockHash> for WireHash {
    fn from(hash: BlockHash) -> Self {
        Self(hash)
    }
}

/// A newtype that goes over the wire as one byte string: `$encode` gives
/// the bytes, `$decode` takes them back or says why not.
macro_rules! byte_encoded {
    ($(#[$doc:meta])* $name:ident($inner:ty), $encode:expr, $decode:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub struct $name(pub $inner);

        impl From<$inner> for $name {
            fn from(inner: $inner) -> Self {
                Self(inner)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let encode: fn(&$inner) -> Vec<u8> = $encode;
                serializer.serialize_bytes(&encode(&self.0))
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let decode: fn(&[u8]) -> Result<$inner, String> = $decode;
                deserializer.deserialize_bytes(BytesVisitor(|bytes: &[u8]| decode(bytes).map($name)))
            }
        }
    };
}

byte_encoded!(
    /// A header on the wire: its 96-byte consensus encoding.
    WireHeader(Header),
    |header| header.to_bytes().to_vec(),
    |bytes| {
        let array: &[u8; HEADER_LEN] = bytes
            .try_into()
            .map_err(|_| format!("a header is {HEADER_LEN} bytes, not {}", bytes.len()))?;
        Ok(Header::from_bytes(array))
    }
);

byte_encoded!(
    /// A block on the wire: [`Block::to_bytes`].
    WireBlock(Block),
    Block::to_bytes,
    |bytes| Block::from_bytes(bytes).map_err(|e| e.to_string())
);

/// Turns a byte string into `T` with `parse`, for the byte-encoded types.
struct BytesVisitor<F>(F);

impl<T, F: FnOnce(&[u8]) -> Result<T, String>> Visitor<'_> for BytesVisitor<F> {
    type Value = T;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a byte string")
    }

    fn visit_bytes<E: de::Error>(self, bytes: &[u8]) -> Result<T, E> {
        (self.0)(bytes).map_err(E::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Preset;

    fn hello(params: &ChainParams, id: &str) -> Hello {
        Hello::new(params, id, "127.0.0.1:5000", 0, Work::ZERO)
    }

    #[test]
    fn a_header_travels_in_its_96_bytes() {
        let header = Preset::Regtest.params().genesis.header;
        let frame = encode(&Message::Headers {
            headers: vec![header.into()],
        });
        // variant tag, count, byte-string length, the header
        assert_eq!(frame.len(), 1 + 1 + 1 + HEADER_LEN);
        assert_eq!(&frame[3..], &header.to_bytes());
    }

    #[test]
    fn handshake_refuses_each_mismatch() {
        let regtest = Preset::Regtest.params();
        let ours = hello(&regtest, "a");
        assert_eq!(check_hello(&ours, &hello(&regtest, "b")), Ok(()));
        let other_chain = hello(&Preset::Default.params(), "b");
        assert!(matches!(
            check_hello(&ours, &other_chain),
            Err(HandshakeError::OtherGenesis { .. })
        ));
        let mut faster = regtest.clone();
        faster.target_spacing_ms /= 2;
        assert_eq!(
            check_hello(&ours, &hello(&faster, "b")),
            Err(HandshakeError::OtherParams)
        );
        let mut newer = hello(&regtest, "b");
        newer.version += 1;
        assert!(matches!(
            check_hello(&ours, &newer),
            Err(HandshakeError::Version { .. })
        ));
        assert_eq!(
            check_hello(&ours, &hello(&regtest, "a")),
            Err(HandshakeError::SelfConnection)
        );
    }

    #[test]
    fn the_display_name_is_not_consensus() {
        let mut renamed = Preset::Regtest.params();
        renamed.name = "mine".into();
        assert_eq!(renamed.digest(), Preset::Regtest.params().digest());
    }
}

#[cfg(test)]
mod rejections {
    //! One test per reason [`decode`] refuses a frame.
    use super::*;
    use crate::params::Preset;

    fn refused(message: &Message) -> WireError {
        decode(&encode(message)).expect_err("the frame must be refused")
    }

    fn some_hashes(n: usize) -> Vec<WireHash> {
        vec![WireHash(BlockHash::ZERO); n]
    }

    #[test]
    fn frame_too_large() {
        let frame = vec![0u8; MAX_FRAME_BYTES + 1];
        assert_eq!(
            decode(&frame),
            Err(WireError::FrameTooLarge {
                len: MAX_FRAME_BYTES + 1,
                max: MAX_FRAME_BYTES
            })
        );
    }

    #[test]
    fn undecodable_unknown_variant() {
        assert!(matches!(decode(&[200]), Err(WireError::Undecodable(_))));
        assert!(matches!(decode(&[]), Err(WireError::Undecodable(_))));
    }

    #[test]
    fn too_many_headers_hashes_or_blocks() {
        let header = WireHeader(Preset::Regtest.params().genesis.header);
        for (message, named) in [
            (
                Message::Headers {
                    headers: vec![header; MAX_HEADERS + 1],
                },
                "headers",
            ),
            (
                Message::GetHeaders {
                    locator: some_hashes(MAX_LOCATOR + 1),
                },
                "locator hashes",
            ),
            (
                Message::GetBlocks {
                    hashes: some_hashes(MAX_BLOCK_REQUEST + 1),
                },
                "block hashes",
            ),
            (
                Message::NotFound {
                    hashes: some_hashes(MAX_BLOCK_REQUEST + 1),
                },
                "block hashes",
            ),
        ] {
            assert!(
                matches!(refused(&message), WireError::TooMany { what, .. } if what == named),
                "{named}"
            );
        }
    }

    #[test]
    fn too_long_entry_reason_and_id() {
        let entry = Message::Entry {
            data: "x".repeat(MAX_DATA_BYTES + 1),
        };
        assert!(matches!(
            refused(&entry),
            WireError::TooLong { what: "entry", .. }
        ));
        let reject = Message::Reject {
            reason: "x".repeat(MAX_TEXT + 1),
        };
        assert!(matches!(
            refused(&reject),
            WireError::TooLong { what: "reason", .. }
        ));
        let mut hello = Hello::new(&Preset::Regtest.params(), "a", "127.0.0.1:1", 0, Work::ZERO);
        hello.node_id = "x".repeat(MAX_TEXT + 1);
        assert!(matches!(
            refused(&Message::Hello(hello)),
            WireError::TooLong {
                what: "node id",
                ..
            }
        ));
    }

    #[test]
    fn bad_listen_address() {
        let hello = Hello::new(&Preset::Regtest.params(), "a", "nowhere", 0, Work::ZERO);
        assert_eq!(
            refused(&Message::Hello(hello)),
            WireError::BadListenAddress(AddressError::MissingPort)
        );
    }

    #[test]
    fn bad_block_and_bad_header_bytes_are_undecodable() {
        // A `Block` whose byte string is not a block: tag, length 3, 3 bytes.
        let block_tag = encode(&Message::Block {
            block: WireBlock(Preset::Regtest.params().genesis),
        })[0];
        assert!(matches!(
            decode(&[block_tag, 3, 1, 2, 3]),
            Err(WireError::Undecodable(_))
        ));
        // A `Headers` whose one header is 95 bytes.
        let headers_tag = encode(&Message::Headers { headers: vec![] })[0];
        let mut frame = vec![headers_tag, 1, 95];
        frame.extend([0u8; 95]);
        assert!(matches!(decode(&frame), Err(WireError::Undecodable(_))));
    }
}
