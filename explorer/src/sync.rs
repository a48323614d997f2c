//! Keeping the page in step with the network: follow the event stream,
//! read the node list every few seconds (for hash rates and anything an
//! event did not say), and fetch the blocks the tree is missing.
//!
//! Events name blocks by hash; the tree needs their headers. A missing block
//! is fetched from the node that announced it, then its ancestors one by
//! one until the tree connects; a long gap (a fresh page, a node back from
//! isolation) is filled with `/chain` pages instead, at most
//! [`HISTORY_BLOCKS`] per gap.

use std::time::Duration;

use futures::future::{AbortHandle, Abortable};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::BlockHash;
use shared::events::Event;

use crate::live::follow_events;
use crate::state::{Followup, Network};

/// Events that arrive within this long of each other are applied together.
const BATCH_MS: u64 = 16;
/// How often the node list is read again.
const POLL_EVERY: Duration = Duration::from_secs(3);
/// The panels wait at most this long for the first node list.
const FIRST_LIST_WAIT_MS: u32 = 1_000;
/// Single-block fetches before switching to chain pages.
const WALK_LIMIT: usize = 16;
/// Most blocks one gap fill loads from chain pages.
pub const HISTORY_BLOCKS: u64 = 1_000;
const PAGE: u64 = 500;

/// Starts following the network; runs for as long as the page is open.
pub fn start(net: Network) {
    // The stream that listens now; a new token closes it and opens another,
    // since the token is part of the stream's URL.
    let listening = StoredValue::new(None::<AbortHandle>);
    Effect::new(move |_| {
        let url = net.token.with(|_| net.api().events_url());
        let (stop, registration) = AbortHandle::new_pair();
        if let Some(previous) = listening.try_update_value(|l| l.replace(stop)).flatten() {
            previous.abort();
        }
        // Events are applied in batches, one every BATCH_MS: a block at 100
        // nodes is 100 events within milliseconds, and applied one by one
        // each would redraw the page (Leptos runs effects once per task).
        let queue = StoredValue::new(Vec::<Event>::new());
        let flush = move || {
            let events = queue.try_update_value(std::mem::take).unwrap_or_default();
            for event in events {
                run_followup(net, net.apply(event));
            }
        };
        spawn_local(async move {
            let follow = follow_events(
                url,
                move |event| {
                    let first = queue
                        .try_update_value(|q| {
                            q.push(event);
                            q.len() == 1
                        })
                        .unwrap_or(false);
                    if first {
                        set_timeout(flush, Duration::from_millis(BATCH_MS));
                    }
                },
                move |state| {
                    if net.connection.get_untracked() != state {
                        net.connection.set(state);
                    }
                },
                move || spawn_local(refresh_nodes(net)),
            );
            // Aborted, it drops the socket, which closes it.
            let _ = Abortable::new(follow, registration).await;
        });
    });
    spawn_local(async move {
        TimeoutFuture::new(FIRST_LIST_WAIT_MS).await;
        net.mark_heard();
    });
    spawn_local(async move {
        loop {
            refresh_nodes(net).await;
            TimeoutFuture::new(POLL_EVERY.as_millis() as u32).await;
        }
    });
}

/// Reads `/nodes` again and fetches any tip the tree lacks. A failure is
/// left to the connection badge to report.
pub async fn refresh_nodes(net: Network) {
    let asked = net.list_asked();
    match net.api().nodes().await {
        Ok(nodes) => run_followup(net, net.set_listed(nodes, asked)),
        Err(_) => net.mark_heard(),
    }
}

pub fn run_followup(net: Network, followup: Followup) {
    for (node, hash) in followup.fetch {
        spawn_local(fetch_missing(net, node, hash));
    }
    if followup.refresh_nodes {
        spawn_local(refresh_nodes(net));
    }
}

/// Fetches `hash` from `node` and walks back through its ancestors until
/// the tree connects, switching to chain pages for long gaps.
pub async fn fetch_missing(net: Network, node: String, hash: BlockHash) {
    let api = net.api();
    let mut next = hash;
    let mut lowest_loaded = None;
    for _ in 0..WALK_LIMIT {
        if net.tree.with_untracked(|t| t.contains(&next)) {
            return;
        }
        // Another task is already fetching this block and will go on from it.
        if !net
            .inflight
            .try_update_value(|set| set.insert(next))
            .unwrap_or(false)
        {
            return;
        }
        let block = api.block(&node, &next).await;
        net.inflight.update_value(|set| {
            set.remove(&next);
        });
        let Ok(block) = block else {
            return;
        };
        // A block that lies about its hash is left out of the drawing.
        if net
            .tree
            .try_update(|t| t.insert_block(&block))
            .is_none_or(|r| r.is_err())
        {
            return;
        }
        if block.header.index == 0 {
            return;
        }
        lowest_loaded = Some(block.header.index);
        next = block.header.previous_hash;
        // A fresh page: its history comes faster in pages than one by one.
        if net.tree.with_untracked(|t| t.len()) <= 1 {
            break;
        }
    }
    if net.tree.with_untracked(|t| t.contains(&next)) {
        return;
    }
    if let Some(low) = lowest_loaded {
        load_below(net, &node, low, HISTORY_BLOCKS).await;
    }
}

/// Loads up to `budget` blocks of `node`'s best chain below height `above`,
/// newest page first, stopping once the pages connect to the tree.
pub async fn load_below(net: Network, node: &str, above: u64, budget: u64) {
    let api = net.api();
    let mut top = above;
    let mut loaded = 0;
    while top > 0 && loaded < budget {
        let from = top.saturating_sub(PAGE);
        let limit = top - from;
        let Ok(page) = api.chain_page(node, from, limit).await else {
            return;
        };
        if page.chain.is_empty() {
            return;
        }
        loaded += page.chain.len() as u64;
        let connected = net.tree.try_update(|tree| {
            for block in &page.chain {
                let _ = tree.insert_block(block);
            }
            let first = &page.chain[0].header;
            first.index == 0 || tree.contains(&first.previous_hash)
        });
        if connected.unwrap_or(true) {
            return;
        }
        top = from;
    }
}

/// **Load older blocks**: the [`HISTORY_BLOCKS`] heights below the oldest
/// loaded one, from the first running node.
pub async fn load_older(net: Network) -> Result<u64, String> {
    let lowest = net
        .tree
        .with_untracked(|t| t.headers().map(|(_, h)| h.index).min())
        .unwrap_or(0);
    if lowest == 0 {
        return Ok(0);
    }
    let node = net.nodes.with_untracked(|nodes| {
        nodes
            .iter()
            .find(|n| n.state == shared::api::NodeState::Running && !n.id.is_empty())
            .map(|n| n.id.clone())
    });
    let Some(node) = node else {
        return Err("no running node to ask".to_owned());
    };
    let before = net.tree.with_untracked(|t| t.len());
    load_below(net, &node, lowest, HISTORY_BLOCKS).await;
    Ok((net.tree.with_untracked(|t| t.len()) - before) as u64)
}
