//! The consensus core of the playground: everything a node, the manager and
//! the browser explorer must agree on, with no I/O, no clocks and no async
//! runtime, so it builds natively and for `wasm32-unknown-unknown` alike.
//!
//! - [`address`]: `host:port`, parsed and checked in one place.
//! - [`api`]: request and response bodies of the node's and manager's HTTP APIs.
//! - [`attack`]: the manager's attack commands' bodies (`/attacks`).
//! - [`events`]: the events nodes and the manager stream over WebSocket.
//! - [`hash`]: SHA-256d and the hash newtypes ([`BlockHash`], [`MerkleRoot`],
//!   [`EntryHash`]) that cannot be mixed up.
//! - [`target`]: [`Target`], its compact form [`CompactTarget`] (Bitcoin's
//!   `bits`) and cumulative chain [`Work`].
//! - [`header`]: the 96-byte [`Header`] and its exact byte encoding.
//! - [`entry`]: a block's content, the coinbase-like first [`Entry`] and the
//!   data entries users submit.
//! - [`merkle`]: the merkle root over entry hashes (Bitcoin's odd-count rule).
//! - [`block`]: [`Block`] with its JSON shape and binary encoding.
//! - [`p2p`]: the peer-to-peer messages, their binary encoding and limits,
//!   and the handshake rules.
//! - [`params`]: [`ChainParams`] and their presets, including the genesis block.
//! - [`lab`]: the lab chain, a fixed difficulty from a block interval and
//!   a network hash rate ([`ChainParams::lab`]).
//! - [`validation`]: the consensus rules, one error variant per reason;
//!   `now` is always passed in by the caller.
//! - `openapi` (feature `openapi`): OpenAPI schemas for the hex-string types.
//! - [`pow`]: the mining kernels (SHA-256 midstate, cancellable nonce
//!   search): portable, and two-way SHA-NI chosen at run time on x86-64.
//! - [`scenario`]: the scenario job's bodies: the shipped list, a run, its
//!   status and report.
//! - [`stats`]: the network lab's bodies: `GET /stats` and the hash power
//!   commands.
//! - [`strategy`]: attack strategies (honest, selfish, private, timestamp,
//!   forger), their live state, and the blocks the dishonest ones build.
//! - `tagged`: decoding internally tagged JSON enums field by field, without
//!   serde's buffering (events, rejections, strategy states).
//! - [`template`]: the next block a miner works on, and helpers that grow
//!   valid chains for tests and tools.
//! - [`topology`]: network shapes (full, ring, line, star, random:K,
//!   small-world:K) and their links, the same for the same seed everywhere.

pub mod address;
pub mod api;
pub mod attack;
pub mod block;
pub mod entry;
pub mod events;
pub mod hash;
pub mod header;
pub mod lab;
pub mod merkle;
#[cfg(feature = "openapi")]
mod openapi;
pub mod p2p;
pub mod params;
pub mod pow;
pub mod scenario;
pub mod stats;
pub mod strategy;
mod tagged;
pub mod target;
pub mod template;
pub mod topology;
pub mod validation;

pub use block::{Block, DecodeError};
pub use entry::{Entry, MAX_DATA_BYTES, MAX_MINER_BYTES};
pub use hash::{BlockHash, EntryHash, MerkleRoot, sha256d};
pub use header::{HEADER_LEN, Header};
pub use lab::{ChainSpecError, LabChain, LabParamsError, chain_params};
pub use params::{ChainParams, Preset};
pub use pow::{PowSearch, SearchOutcome};
pub use target::{CompactTarget, Target, TargetError, Work};
pub use template::{block_template, extend_chain, solve, spaced_chain};
pub use validation::{
    Ancestry, BlockError, ChainSummary, EncodingError, Rejection, check_block, check_block_body,
    check_header, expected_bits, median_time_past, validate_chain, validate_headers,
    validate_headers_after,
};
