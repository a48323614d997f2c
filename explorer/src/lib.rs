//! The browser explorer: a Leptos (client-side rendered) app that shows a
//! network of nodes through the manager's HTTP API and `/events` stream,
//! and trusts none of them: the block tree keys blocks by the hash it
//! computes itself, and **Validate** re-checks a node's whole chain here with
//! the `shared` crate compiled to WebAssembly.
//!
//! - [`api`]: every HTTP call to the manager, with timeouts, the token and
//!   typed errors.
//! - [`token`]: the manager's token, kept for the tab in `sessionStorage`.
//! - [`live`]: the `/events` WebSocket, reopened by itself when it drops.
//! - [`state`]: the signals every panel reads, and how one event changes them.
//! - [`sync`]: following the network: events, polling, fetching missing blocks.
//! - [`tree`]: the block tree (headers linked by parent, each node's tip).
//! - [`layout`]: where each block is drawn (height -> column, branch -> lane).
//! - [`feed`]: events in plain words.
//! - [`check`]: validating a chain in the browser, and the tamper experiment.
//! - [`clock`]: the browser's clocks, the one place that reads them.
//! - [`charts`]: block interval and difficulty by height.
//! - [`format`]: how hashes, rates and counts are written.
//! - [`status`]: each node against the majority chain (in sync, lagging,
//!   diverged and where).
//! - [`graph`]: the network graph's layout, link lookup and link words.
//! - [`lab`]: what the lab panels follow: the stale rate over time,
//!   propagation delays, the attack's share, refused blocks.
//! - [`plots`]: the lab's charts as data (shapes, axis labels, summary).
//! - [`ui`]: the components, one panel per module.

pub mod api;
pub mod charts;
pub mod check;
pub mod clock;
pub mod feed;
pub mod format;
pub mod graph;
pub mod lab;
pub mod layout;
pub mod live;
pub mod plots;
pub mod state;
pub mod status;
pub mod sync;
pub mod token;
pub mod tree;
pub mod ui;

pub use ui::{App, Shell};
