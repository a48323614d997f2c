//! Relay and sync over links, headers first, the way Bitcoin does it.
//!
//! A node announces every new valid block by its header to each peer not
//! known to have it. A peer that hears of a header it lacks checks and
//! records it in the tree, then asks the announcer for the body; a header
//! that does not connect makes it ask for headers after its locator
//! instead. So a body crosses a link only when asked for, once, and any
//! connected topology converges. Requests are tracked: one peer is asked
//! for a block at a time, and a request with no answer in a few seconds
//! goes to another peer that has the block (a lost message is recovered).
//! A periodic `GetHeaders` to every peer recovers a lost announcement.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indexmap::IndexSet;
use shared::events::EventKind;
use shared::p2p::{MAX_BLOCK_REQUEST, MAX_HEADERS, Message, WireHash};
use shared::{BlockHash, Header};

use super::PeerTip;
use crate::clock::now_ms;
use crate::node::{Accepted, Node, Source};

/// A block asked for and not received within this is asked for again,
/// when the peer's round-trip time is not known yet.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(2);
/// Otherwise: two round trips plus this, at least `MIN_REQUEST_TIMEOUT`,
/// so a slow link is not asked twice and a lost answer on a fast one is
/// noticed soon.
const REQUEST_SLACK: Duration = Duration::from_millis(500);
const MIN_REQUEST_TIMEOUT: Duration = Duration::from_secs(1);

fn request_timeout(rtt: Option<Duration>) -> Duration {
    rtt.map_or(REQUEST_TIMEOUT, |rtt| {
        (rtt * 2 + REQUEST_SLACK).max(MIN_REQUEST_TIMEOUT)
    })
}
/// How often requests are checked for timeouts.
pub const RETRY_EVERY: Duration = Duration::from_millis(500);
/// How often one peer, each in turn, is asked for headers after our
/// locator. Only a safety net: a block is announced as it arrives, and
/// headers that do not connect are asked about at once, so a lost
/// announcement is found at the next block; this finds it when no next
/// block comes, from whichever peer has the block. Asking every peer every
/// time, two messages each way on every link, was most of what an idle
/// network of 500 nodes did.
pub const RESYNC_EVERY: Duration = Duration::from_secs(5);
/// Blocks nobody asked for that a peer may send before it is banned
/// (a new block is always announced by header first).
const MAX_UNSOLICITED: u32 = 16;
/// Rounds of requests in a row a peer may leave unanswered (neither the
/// block nor `NotFound`) before its link is dropped: a peer that announces
/// blocks and never sends them holds up no sync for long. A lost message
/// explains one round; six in a row on a link that is not down is a peer
/// that does not answer. Dropped, not banned: one this node dials is
/// dialled again, and a lossy link costs a reconnection at worst.
const MAX_STALLS: u32 = 6;

/// Why a link must end after a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The peer misbehaved.
    Ban(String),
    /// The peer said goodbye.
    Close(String),
}

/// Most block hashes a link remembers to fetch from its peer; more wait
/// for the next round of headers.
const MAX_TO_FETCH: usize = 2 * MAX_HEADERS;

/// `Headers` messages in a row that connect to nothing we have, before the
/// peer is banned (Bitcoin's MAX_NUM_UNCONNECTING_HEADERS_MSGS): each one
/// costs a lookup and a `GetHeaders` back, and an honest peer's answer to
/// that connects.
const MAX_UNCONNECTING: u32 = 10;

/// Per-link state the relay keeps between messages.
#[derive(Debug, Default)]
pub struct LinkContext {
    unsolicited: u32,
    unconnecting: u32,
    /// Blocks whose headers this peer sent and that we still lack, oldest
    /// first; asked for [`MAX_BLOCK_REQUEST`] at a time, topped up as
    /// answers arrive.
    to_fetch: IndexSet<BlockHash>,
    /// Some were left out (the bound above): once `to_fetch` drains, ask
    /// the peer for headers again.
    more_to_fetch: bool,
}

#[derive(Debug, Clone)]
struct Request {
    peer: String,
    at: Instant,
}

/// Blocks asked for and not yet received: at most one peer per block and
/// at most [`MAX_BLOCK_REQUEST`] blocks per peer, so memory per peer is
/// bounded.
///
/// A peer that keeps answering is never timed out, however long its queue
/// of answers: a request expires only when its peer has delivered nothing
/// for the timeout (Bitcoin's stall detection), so a long sync from one
/// peer does not ask it for the same bodies twice.
#[derive(Debug, Default)]
pub struct Requests {
    in_flight: Mutex<InFlight>,
    /// Signalled when a request goes out, so the retry loop, asleep while
    /// nothing is asked, starts checking timeouts again.
    pub asked: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct InFlight {
    requests: HashMap<BlockHash, Request>,
    /// When each peer with requests out last delivered one.
    progress: HashMap<String, Instant>,
    /// Rounds of expired requests in a row, by peer.
    stalls: HashMap<String, u32>,
}

impl Requests {
    fn lock(&self) -> std::sync::MutexGuard<'_, InFlight> {
        self.in_flight.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Of `hashes`, the ones to ask `peer` for now; records them.
    fn claim(&self, peer: &str, hashes: &[BlockHash], now: Instant) -> (Vec<BlockHash>, bool) {
        let mut guard = self.lock();
        let InFlight { requests, .. } = &mut *guard;
        let mut load = requests.values().filter(|r| r.peer == peer).count();
        let mut claimed = Vec::new();
        let mut truncated = false;
        for hash in hashes {
            if requests.contains_key(hash) {
                continue;
            }
            if load >= MAX_BLOCK_REQUEST {
                truncated = true;
                break;
            }
            requests.insert(
                *hash,
                Request {
                    peer: peer.to_owned(),
                    at: now,
                },
            );
            claimed.push(*hash);
            load += 1;
        }
        drop(guard);
        if !claimed.is_empty() {
            self.asked.notify_one();
        }
        (claimed, truncated)
    }

    /// Whether `hash` is asked of `peer` right now.
    pub fn is_asked_of(&self, peer: &str, hash: &BlockHash) -> bool {
        self.lock()
            .requests
            .get(hash)
            .is_some_and(|r| r.peer == peer)
    }

    /// A block arrived from `peer` at `now`: whether it was asked of that
    /// peer (which then counts as making progress). The peer is not
    /// stalling.
    fn arrived(&self, peer: &str, hash: &BlockHash, now: Instant) -> bool {
        let mut guard = self.lock();
        let asked = guard.requests.get(hash).is_some_and(|r| r.peer == peer);
        guard.requests.remove(hash);
        // Any block from the peer, even one asked of it long ago and
        // asked again since (a link slower than its timeout), shows it
        // answers.
        guard.stalls.remove(peer);
        if asked {
            if guard.requests.values().any(|r| r.peer == peer) {
                guard.progress.insert(peer.to_owned(), now);
            } else {
                guard.progress.remove(peer);
            }
        }
        asked
    }

    /// `peer` answered that it lacks `hash`.
    fn forget(&self, peer: &str, hash: &BlockHash) {
        let mut guard = self.lock();
        if guard.requests.get(hash).is_some_and(|r| r.peer == peer) {
            guard.requests.remove(hash);
            guard.stalls.remove(peer);
        }
    }

    /// Takes the peers that let [`MAX_STALLS`] rounds of requests in a row
    /// expire.
    fn take_stalled(&self) -> Vec<String> {
        let mut guard = self.lock();
        let stalled: Vec<String> = guard
            .stalls
            .iter()
            .filter(|(_, rounds)| **rounds >= MAX_STALLS)
            .map(|(peer, _)| peer.clone())
            .collect();
        for peer in &stalled {
            guard.stalls.remove(peer);
        }
        stalled
    }

    /// Takes the requests whose peer delivered nothing for its timeout
    /// since they were made, with the peer asked.
    fn expired(
        &self,
        now: Instant,
        timeout: impl Fn(&str) -> Duration,
    ) -> Vec<(BlockHash, String)> {
        let mut guard = self.lock();
        let InFlight {
            requests,
            progress,
            stalls,
        } = &mut *guard;
        let old: Vec<(BlockHash, String)> = requests
            .iter()
            .filter(|(_, r)| {
                let since = progress.get(&r.peer).map_or(r.at, |p| (*p).max(r.at));
                now.saturating_duration_since(since) >= timeout(&r.peer)
            })
            .map(|(h, r)| (*h, r.peer.clone()))
            .collect();
        for (hash, peer) in &old {
            requests.remove(hash);
            progress.remove(peer);
        }
        let peers: std::collections::HashSet<&String> = old.iter().map(|(_, peer)| peer).collect();
        for peer in peers {
            *stalls.entry(peer.clone()).or_default() += 1;
        }
        old
    }

    pub fn len(&self) -> usize {
        self.lock().requests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().requests.is_empty()
    }
}

fn get_headers(node: &Node) -> Message {
    let locator = node.tree().locator();
    Message::GetHeaders {
        locator: locator
            .into_iter()
            .take(shared::p2p::MAX_LOCATOR)
            .map(WireHash)
            .collect(),
    }
}

/// Pending entries handed to a peer when a link joins.
const ENTRIES_ON_LINK_UP: usize = 1000;

/// A link just joined: the side behind asks for headers, and the peer gets
/// our pending entries (one relayed just before the link existed would
/// otherwise never reach it).
pub fn link_up(node: &Arc<Node>, peer: &str, tip: PeerTip) {
    let ours = node.tree().best_work();
    if tip.work > ours {
        node.links.send(peer, &get_headers(node));
    }
    for data in node.pending_entries().into_iter().take(ENTRIES_ON_LINK_UP) {
        node.links.send(peer, &Message::Entry { data });
    }
}

/// Both ways after a link comes back up: ask for headers, and announce our
/// tip so the other side asks too if it is behind.
pub fn resync_with(node: &Arc<Node>, peer: &str) {
    node.links.send(peer, &get_headers(node));
    let tip = {
        let tree = node.tree();
        tree.block(&tree.best_hash()).map(|b| b.header)
    };
    // Every peer has genesis: at height 0 there is nothing to announce.
    let tip = tip.filter(|h| h.index > 0);
    if let Some(header) = tip.filter(|h| !node.strategist.is_withheld(&h.block_hash())) {
        node.links.send(
            peer,
            &Message::Headers {
                headers: vec![header.into()],
            },
        );
    }
}

/// Asks every connected peer for headers after our locator.
pub fn resync_all(node: &Arc<Node>) {
    let message = get_headers(node);
    for peer in node.links.connected() {
        node.links.send(&peer, &message);
    }
}

/// Announces a block that just joined the tree to each peer not known to
/// have it.
pub fn announce(node: &Node, header: Header) {
    let hash = header.block_hash();
    node.links.announce(
        hash,
        &Message::Headers {
            headers: vec![header.into()],
        },
    );
}

/// Adds `missing` to what this link fetches, then asks for what it can.
fn request_blocks(node: &Node, peer: &str, missing: &[BlockHash], context: &mut LinkContext) {
    for hash in missing {
        if context.to_fetch.len() >= MAX_TO_FETCH {
            context.more_to_fetch = true;
            break;
        }
        context.to_fetch.insert(*hash);
    }
    fetch_more(node, peer, context);
}

/// Asks `peer` for the blocks still to fetch that no one is being asked
/// for, up to the per-peer bound; when nothing is left and some were left
/// out, asks for headers again to find them.
fn fetch_more(node: &Node, peer: &str, context: &mut LinkContext) {
    {
        let tree = node.tree();
        context.to_fetch.retain(|hash| !tree.has_block(hash));
    }
    if context.to_fetch.is_empty() {
        if std::mem::take(&mut context.more_to_fetch) {
            node.links.send(peer, &get_headers(node));
        }
        return;
    }
    let wanted: Vec<BlockHash> = context.to_fetch.iter().copied().collect();
    let (claimed, _) = node.links.requests.claim(peer, &wanted, Instant::now());
    if !claimed.is_empty() {
        node.links.send(
            peer,
            &Message::GetBlocks {
                hashes: claimed.into_iter().map(WireHash).collect(),
            },
        );
    }
}

/// What this node does with one message from `peer`.
pub async fn handle(
    node: &Arc<Node>,
    peer: &str,
    message: Message,
    context: &mut LinkContext,
) -> Result<(), Stop> {
    match message {
        Message::Hello(_) => Err(Stop::Ban("a second hello".into())),
        Message::Reject { reason } => Err(Stop::Close(format!("the peer closed: {reason}"))),
        Message::Headers { headers } => on_headers(
            node,
            peer,
            headers.into_iter().map(|h| h.0).collect(),
            context,
        ),
        Message::GetHeaders { locator } => {
            let locator: Vec<BlockHash> = locator.into_iter().map(|h| h.0).collect();
            let headers = node.tree().headers_after(&locator, MAX_HEADERS);
            // A strategy's withheld blocks end what peers may learn.
            let headers: Vec<Header> = headers
                .into_iter()
                .take_while(|h| !node.strategist.is_withheld(&h.block_hash()))
                .collect();
            node.links.send(
                peer,
                &Message::Headers {
                    headers: headers.into_iter().map(Into::into).collect(),
                },
            );
            Ok(())
        }
        Message::GetBlocks { hashes } => {
            let mut not_found = Vec::new();
            for WireHash(hash) in hashes {
                let block = node.tree().block(&hash);
                let block = match block {
                    Some(_) if node.strategist.is_withheld(&hash) => None,
                    Some(block) => Some(block),
                    None => node.strategist.offered_block(&hash).map(Arc::new),
                };
                match block {
                    Some(block) => {
                        node.links.mark_known(peer, [hash]);
                        node.links.send(
                            peer,
                            &Message::Block {
                                block: shared::Block::clone(&block).into(),
                            },
                        );
                    }
                    None => not_found.push(WireHash(hash)),
                }
            }
            if !not_found.is_empty() {
                node.links
                    .send(peer, &Message::NotFound { hashes: not_found });
            }
            Ok(())
        }
        Message::Block { block } => on_block(node, peer, block.0, context).await,
        Message::NotFound { hashes } => {
            for WireHash(hash) in hashes {
                node.links.requests.forget(peer, &hash);
            }
            Ok(())
        }
        Message::Entry { data } => {
            if let Ok(true) = node.add_entry(data.clone()) {
                node.links.broadcast(&Message::Entry { data }, Some(peer));
            }
            Ok(())
        }
        // The link answers pings itself; a stray pong means nothing.
        Message::Ping { .. } | Message::Pong { .. } => Ok(()),
    }
}

fn on_headers(
    node: &Arc<Node>,
    peer: &str,
    headers: Vec<Header>,
    context: &mut LinkContext,
) -> Result<(), Stop> {
    let Some(first) = headers.first() else {
        return Ok(());
    };
    let full = headers.len() >= MAX_HEADERS;
    // Checked under the same hold of the lock as the insert, so a parent
    // that arrives meanwhile cannot make us ask twice.
    let outcome = {
        let mut tree = node.tree();
        // A batch that starts with a header we have connects too: genesis
        // has no parent, and a peer still at height 0 may announce it (an
        // older node does, in every resync).
        if tree.knows(&first.previous_hash) || tree.knows(&first.block_hash()) {
            Some(tree.insert_headers(&headers, now_ms()))
        } else {
            None
        }
    };
    if outcome.is_none() {
        context.unconnecting += 1;
        if context.unconnecting > MAX_UNCONNECTING {
            return Err(Stop::Ban(format!(
                "more than {MAX_UNCONNECTING} headers messages in a row that connect to nothing"
            )));
        }
    } else {
        context.unconnecting = 0;
        node.links
            .mark_known(peer, headers.iter().map(Header::block_hash));
    }
    match outcome {
        None => {
            // It does not connect to anything we have: a gap to fill.
            node.links.send(peer, &get_headers(node));
            Ok(())
        }
        Some(Err((hash, reason))) => {
            let height = headers
                .iter()
                .find(|h| h.block_hash() == hash)
                .map_or(0, |h| h.index);
            node.events.emit(EventKind::BlockRejected {
                hash,
                height,
                summary: reason.summary().to_owned(),
                reason: reason.clone(),
                from: Some(peer.to_owned()),
            });
            if reason.is_permanent() {
                Err(Stop::Ban(format!("an invalid header {hash}: {reason}")))
            } else {
                Ok(())
            }
        }
        Some(Ok(missing)) => {
            request_blocks(node, peer, &missing, context);
            if full && let Some(last) = headers.last() {
                // Go on from the last header, not from our best block:
                // the blocks of this batch have not arrived yet.
                let locator = node.tree().locator_from(last.block_hash());
                node.links.send(
                    peer,
                    &Message::GetHeaders {
                        locator: locator
                            .into_iter()
                            .take(shared::p2p::MAX_LOCATOR)
                            .map(WireHash)
                            .collect(),
                    },
                );
            }
            Ok(())
        }
    }
}

async fn on_block(
    node: &Arc<Node>,
    peer: &str,
    block: shared::Block,
    context: &mut LinkContext,
) -> Result<(), Stop> {
    let hash = block.hash;
    // A block whose header this peer gave us (announced, or in answer to
    // GetHeaders) is one it may send, even late after a retry; only one it
    // never spoke of counts as unsolicited.
    let announced = node.links.knows(peer, &hash);
    node.links.mark_known(peer, [hash]);
    let asked = node.links.requests.arrived(peer, &hash, Instant::now());
    if !asked && !announced {
        context.unsolicited += 1;
        if context.unsolicited > MAX_UNSOLICITED {
            return Err(Stop::Ban(format!(
                "more than {MAX_UNSOLICITED} blocks nobody asked for"
            )));
        }
    }
    let worker = Arc::clone(node);
    let source = Source::Peer(Some(peer.to_owned()));
    let outcome = node
        .tasks
        .spawn_blocking(move || worker.accept_block(block, source))
        .await;
    match outcome {
        Ok(Ok(Accepted::Invalid(reason))) if reason.is_permanent() => {
            return Err(Stop::Ban(format!("an invalid block {hash}: {reason}")));
        }
        Ok(Ok(Accepted::Orphan { .. })) => {
            node.links.send(peer, &get_headers(node));
        }
        Ok(Ok(_)) => {}
        Ok(Err(error)) => tracing::error!(%error, "block from a peer not stored"),
        Err(_) => return Err(Stop::Close("shutting down".into())),
    }
    // Keep the pipe full while a sync is under way.
    if asked {
        fetch_more(node, peer, context);
    }
    Ok(())
}

/// Asks again for blocks whose request timed out, from another peer that
/// has them if there is one; drops the link of a peer that stopped
/// answering (see [`MAX_STALLS`]).
pub fn retry_requests(node: &Node) {
    for peer in node.links.requests.take_stalled() {
        // A link the lab took down loses every request: that is no stall.
        if !node.links.is_down(&peer) {
            let reason = format!("left {MAX_STALLS} rounds of block requests in a row unanswered");
            if node.links.drop_link(&peer, &reason) {
                tracing::warn!(%peer, %reason, "peer link dropped");
            }
        }
    }
    let timeout = |peer: &str| request_timeout(node.links.rtt(peer));
    for (hash, asked) in node.links.requests.expired(Instant::now(), timeout) {
        if node.tree().has_block(&hash) {
            continue;
        }
        let holders = node.links.peers_with(&hash);
        let Some(peer) = holders
            .iter()
            .find(|p| **p != asked)
            .or_else(|| holders.first())
        else {
            continue;
        };
        let (claimed, _) = node.links.requests.claim(peer, &[hash], Instant::now());
        if !claimed.is_empty() {
            tracing::debug!(%hash, from = %peer, "block request retried");
            node.links.send(
                peer,
                &Message::GetBlocks {
                    hashes: vec![WireHash(hash)],
                },
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(n: u8) -> BlockHash {
        BlockHash::from_bytes([n; 32])
    }

    #[test]
    fn a_request_waits_two_round_trips_and_some_slack() {
        assert_eq!(request_timeout(None), REQUEST_TIMEOUT);
        assert_eq!(
            request_timeout(Some(Duration::from_micros(200))),
            MIN_REQUEST_TIMEOUT
        );
        assert_eq!(
            request_timeout(Some(Duration::from_millis(600))),
            Duration::from_millis(1700)
        );
    }

    #[test]
    fn a_peer_that_keeps_delivering_is_not_timed_out() {
        let requests = Requests::default();
        let start = Instant::now();
        requests.claim("a", &[hash(1), hash(2), hash(3)], start);
        let fixed = |_: &str| REQUEST_TIMEOUT;
        // One answer just before the timeout resets the clock for the rest.
        let later = start + REQUEST_TIMEOUT - Duration::from_millis(1);
        assert!(requests.arrived("a", &hash(1), later));
        assert!(requests.expired(start + REQUEST_TIMEOUT, fixed).is_empty());
        // Silence for a whole timeout after that: the rest expire.
        let expired = requests.expired(later + REQUEST_TIMEOUT, fixed);
        assert_eq!(expired.len(), 2);
    }

    #[test]
    fn a_peer_is_stalled_after_rounds_in_a_row_without_an_answer() {
        let requests = Requests::default();
        let fixed = |_: &str| REQUEST_TIMEOUT;
        let mut now = Instant::now();
        for round in 1..=MAX_STALLS {
            requests.claim("a", &[hash(1), hash(2)], now);
            requests.claim("b", &[hash(3)], now);
            now += REQUEST_TIMEOUT;
            assert_eq!(requests.expired(now, fixed).len(), 3, "round {round}");
            if round == 2 {
                // An answer from b resets b's count, not a's.
                requests.claim("b", &[hash(3)], now);
                assert!(requests.arrived("b", &hash(3), now));
            }
        }
        assert_eq!(requests.take_stalled(), vec!["a".to_owned()]);
        assert!(requests.take_stalled().is_empty(), "taken once");
        // NotFound is an answer too.
        for _ in 0..MAX_STALLS - 1 {
            requests.claim("c", &[hash(4)], now);
            now += REQUEST_TIMEOUT;
            requests.expired(now, fixed);
        }
        requests.claim("c", &[hash(4)], now);
        requests.forget("c", &hash(4));
        requests.claim("c", &[hash(4)], now);
        now += REQUEST_TIMEOUT;
        requests.expired(now, fixed);
        assert!(requests.take_stalled().is_empty());
    }

    #[test]
    fn a_block_is_asked_of_one_peer_at_a_time() {
        let requests = Requests::default();
        let now = Instant::now();
        let (first, _) = requests.claim("a", &[hash(1), hash(2)], now);
        assert_eq!(first, vec![hash(1), hash(2)]);
        let (second, _) = requests.claim("b", &[hash(2), hash(3)], now);
        assert_eq!(second, vec![hash(3)]);
    }

    #[test]
    fn requests_per_peer_are_bounded() {
        let requests = Requests::default();
        let many: Vec<BlockHash> = (0..=MAX_BLOCK_REQUEST)
            .map(|i| {
                let mut bytes = [0; 32];
                bytes[..8].copy_from_slice(&(i as u64).to_le_bytes());
                BlockHash::from_bytes(bytes)
            })
            .collect();
        let (claimed, truncated) = requests.claim("a", &many, Instant::now());
        assert_eq!(claimed.len(), MAX_BLOCK_REQUEST);
        assert!(truncated);
    }

    #[test]
    fn an_answer_from_another_peer_is_unsolicited_and_a_timeout_frees_the_block() {
        let requests = Requests::default();
        let start = Instant::now();
        requests.claim("a", &[hash(1), hash(2)], start);
        assert!(!requests.arrived("b", &hash(1), start));
        let fixed = |_: &str| REQUEST_TIMEOUT;
        let early = requests.expired(start + Duration::from_millis(10), fixed);
        assert!(early.is_empty());
        let expired = requests.expired(start + REQUEST_TIMEOUT, fixed);
        assert_eq!(expired, vec![(hash(2), "a".to_owned())]);
        assert!(requests.is_empty());
    }
}
