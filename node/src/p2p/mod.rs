//! The peer-to-peer layer: one long-lived link per pair of peers, binary
//! WebSocket frames on `GET /p2p` carrying [`shared::p2p::Message`]s.
//!
//! - [`link`]: one link's life: dial or accept, handshake, the reader and
//!   the shaped writer, pings, the rate limit.
//! - [`relay`]: what a node does with each message: headers-first relay
//!   and sync, block requests and their retries, entries.
//!
//! This module holds the link table every part shares: who the peers are,
//! each link's state, conditions, counters, the hashes each peer is known
//! to have, and the queue its writer drains. The table's lock is a std
//! mutex held for short sections only, never across an `.await`, and never
//! while the tree's lock is taken (the tree is always let go first).

pub mod link;
pub mod relay;

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use shared::api::{LinkConditions, LinkDirection, LinkInfo, LinkState, PeerInfo, PeerState};
use shared::p2p::{Message, encode};
use shared::{BlockHash, Work};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::conditions::{Fate, Shaper};

/// Messages queued for one link's writer; past this the link is too slow
/// and what it is sent is dropped (sync recovers it, as from loss).
pub const SEND_QUEUE: usize = 1024;
/// Block hashes remembered per peer as known to it (Bitcoin keeps a
/// similar rolling filter); the oldest half goes first.
const KNOWN_PER_PEER: usize = 4096;

/// A frame on its way out, with the time the shaper releases it.
pub struct Outgoing {
    pub release_at: tokio::time::Instant,
    pub frame: Vec<u8>,
    pub is_block: bool,
}

/// Counters that outlive a link, so `GET /peers` sums over reconnections.
#[derive(Debug, Default)]
pub struct Stats {
    pub bytes_sent: AtomicU64,
    pub bytes_received: AtomicU64,
    pub blocks_sent: AtomicU64,
    pub blocks_received: AtomicU64,
    /// Last round-trip time in µs; 0 until the first pong.
    pub rtt_us: AtomicU64,
}

/// The live connection of a peer entry.
struct Live {
    serial: u64,
    /// Node id of the side that dialled this link (for collapsing two
    /// links between the same pair to one).
    dialler: String,
    sender: mpsc::Sender<Outgoing>,
    closer: CancellationToken,
    known: KnownHashes,
    /// Why this node ended the link, when it ended it from outside the
    /// link's own task ([`Links::drop_link`]).
    ending: Option<String>,
}

struct Peer {
    id: String,
    direction: LinkDirection,
    state: LinkState,
    /// This node dials it (from `--peer`, register or connect) and redials
    /// it when the link is lost.
    wanted: bool,
    shaper: Shaper,
    last_error: Option<String>,
    banned_until: Option<u64>,
    live: Option<Live>,
    stats: Arc<Stats>,
}

impl Peer {
    fn new(id: &str, direction: LinkDirection, conditions: LinkConditions) -> Self {
        Self {
            id: id.to_owned(),
            direction,
            state: LinkState::Connecting,
            wanted: false,
            shaper: Shaper::new(conditions),
            last_error: None,
            banned_until: None,
            live: None,
            stats: Arc::default(),
        }
    }
}

/// A link that won its place in the table: what its tasks need.
pub struct Registered {
    pub serial: u64,
    pub outgoing: mpsc::Receiver<Outgoing>,
    pub closer: CancellationToken,
    pub stats: Arc<Stats>,
}

/// Why a handshaken link does not join the table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("another link to this peer is kept (the one dialled by the smaller node id)")]
    Duplicate,
    #[error("this node has its maximum of {0} inbound peers")]
    Full(usize),
}

pub struct Links {
    own_address: String,
    own_id: String,
    max_inbound: usize,
    table: Mutex<BTreeMap<String, Peer>>,
    next_serial: AtomicU64,
    /// Origin of the shapers' microsecond clock.
    epoch: Instant,
    /// Conditions new links start with (all down while isolated).
    isolated: std::sync::atomic::AtomicBool,
    /// Bytes of block data received (headers and blocks), for the
    /// propagation benchmark and `/status`.
    pub block_bytes_received: AtomicU64,
    pub requests: relay::Requests,
}

impl Links {
    pub fn new(own_id: &str, own_address: &str, max_inbound: usize) -> Self {
        Self {
            own_address: own_address.to_owned(),
            own_id: own_id.to_owned(),
            max_inbound,
            table: Mutex::new(BTreeMap::new()),
            next_serial: AtomicU64::new(1),
            epoch: Instant::now(),
            isolated: std::sync::atomic::AtomicBool::new(false),
            block_bytes_received: AtomicU64::new(0),
            requests: relay::Requests::default(),
        }
    }

    fn table(&self) -> MutexGuard<'_, BTreeMap<String, Peer>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fresh_conditions(&self) -> LinkConditions {
        LinkConditions {
            down: self.isolated.load(Ordering::Relaxed),
            ..LinkConditions::CLEAR
        }
    }

    /// Adds an address to dial; true if this node did not dial it before.
    /// Our own address is skipped, as the original did.
    pub fn want(&self, id: &str, address: &str) -> bool {
        if address == self.own_address {
            return false;
        }
        let conditions = self.fresh_conditions();
        let mut table = self.table();
        let peer = table
            .entry(address.to_owned())
            .or_insert_with(|| Peer::new(id, LinkDirection::Outbound, conditions));
        if !id.is_empty() && peer.id.is_empty() {
            peer.id = id.to_owned();
        }
        let new = !peer.wanted;
        peer.wanted = true;
        if peer.live.is_none() && peer.state != LinkState::Banned {
            peer.direction = LinkDirection::Outbound;
        }
        new
    }

    /// Whether this node should (still) dial `address`.
    pub fn is_wanted(&self, address: &str) -> bool {
        self.table().get(address).is_some_and(|p| p.wanted)
    }

    /// Whether `address` has a live link (either direction).
    pub fn is_connected(&self, address: &str) -> bool {
        self.table().get(address).is_some_and(|p| p.live.is_some())
    }

    /// Forgets a peer: its link closes and it is not redialled. False if
    /// it was not in the table.
    pub fn forget(&self, address: &str) -> bool {
        let removed = self.table().remove(address);
        if let Some(Live { closer, .. }) = removed.as_ref().and_then(|p| p.live.as_ref()) {
            closer.cancel();
        }
        removed.is_some()
    }

    pub fn set_state(&self, address: &str, state: LinkState, error: Option<String>) {
        if let Some(peer) = self.table().get_mut(address)
            && peer.live.is_none()
            && peer.state != LinkState::Banned
        {
            peer.state = state;
            if error.is_some() {
                peer.last_error = error;
            }
        }
    }

    /// Puts a handshaken link in the table under `address`, or says why
    /// not. Two links between the same pair (both dialled at once) keep
    /// the one dialled by the smaller node id; both ends judge alike, so
    /// they keep the same one.
    pub fn register(
        &self,
        address: &str,
        id: &str,
        direction: LinkDirection,
    ) -> Result<Registered, Refusal> {
        let dialler = match direction {
            LinkDirection::Outbound => self.own_id.clone(),
            LinkDirection::Inbound => id.to_owned(),
        };
        let conditions = self.fresh_conditions();
        let mut table = self.table();
        // The same node under another address counts as the same peer.
        let same_id = table
            .iter()
            .find(|(a, p)| a.as_str() != address && p.id == id && p.live.is_some())
            .map(|(a, _)| a.clone());
        for key in same_id.iter().map(String::as_str).chain([address]) {
            let Some(Live {
                dialler: existing,
                closer,
                ..
            }) = table.get(key).and_then(|p| p.live.as_ref())
            else {
                continue;
            };
            // Same dialler twice means the old link is stale (the peer
            // restarted or redialled): the new one replaces it.
            if *existing != dialler && *existing < dialler {
                return Err(Refusal::Duplicate);
            }
            closer.cancel();
        }
        if direction == LinkDirection::Inbound {
            let inbound = table
                .values()
                .filter(|p| p.live.is_some() && p.direction == LinkDirection::Inbound)
                .count();
            if inbound >= self.max_inbound {
                return Err(Refusal::Full(self.max_inbound));
            }
        }
        if let Some(key) = same_id
            && let Some(peer) = table.get_mut(&key)
        {
            peer.live = None;
            peer.state = LinkState::Down;
        }
        let peer = table
            .entry(address.to_owned())
            .or_insert_with(|| Peer::new(id, direction, conditions));
        let serial = self.next_serial.fetch_add(1, Ordering::Relaxed);
        let (sender, outgoing) = mpsc::channel(SEND_QUEUE);
        let closer = CancellationToken::new();
        peer.id = id.to_owned();
        peer.direction = direction;
        peer.state = LinkState::Connected;
        peer.last_error = None;
        peer.banned_until = None;
        peer.live = Some(Live {
            serial,
            dialler,
            sender,
            closer: closer.clone(),
            known: KnownHashes::default(),
            ending: None,
        });
        Ok(Registered {
            serial,
            outgoing,
            closer,
            stats: Arc::clone(&peer.stats),
        })
    }

    /// A link's tasks ended for `reason`: if it was the peer's current
    /// link, the reason to report (the one [`Self::drop_link`] gave, if the
    /// link was dropped).
    pub fn closed(&self, address: &str, serial: u64, reason: &str) -> Option<String> {
        let mut table = self.table();
        let peer = table.get_mut(address)?;
        if peer.live.as_ref().is_none_or(|l| l.serial != serial) {
            return None;
        }
        let reason = peer
            .live
            .take()
            .and_then(|live| live.ending)
            .unwrap_or_else(|| reason.to_owned());
        if peer.state != LinkState::Banned {
            peer.state = LinkState::Down;
        }
        peer.last_error = Some(reason.clone());
        Some(reason)
    }

    /// Ends the link to `address` for `reason` and keeps the peer: one
    /// this node dials is dialled again. False if there was no link.
    pub fn drop_link(&self, address: &str, reason: &str) -> bool {
        let mut table = self.table();
        let Some(live) = table.get_mut(address).and_then(|p| p.live.as_mut()) else {
            return false;
        };
        live.ending = Some(reason.to_owned());
        live.closer.cancel();
        true
    }

    /// Marks a peer banned until `until` and closes its link.
    pub fn mark_banned(&self, address: &str, id: &str, until: u64, reason: &str) {
        let conditions = self.fresh_conditions();
        let mut table = self.table();
        let peer = table
            .entry(address.to_owned())
            .or_insert_with(|| Peer::new(id, LinkDirection::Inbound, conditions));
        peer.state = LinkState::Banned;
        peer.banned_until = Some(until);
        peer.last_error = Some(reason.to_owned());
        if let Some(live) = peer.live.take() {
            live.closer.cancel();
        }
        drop(table);
        // The loop that ends bans sleeps while there is nothing to do.
        self.requests.asked.notify_one();
    }

    /// Whether a link is shown as banned, to be shown as down once its ban
    /// ends ([`Self::expire_bans`]).
    pub fn any_banned(&self) -> bool {
        self.table()
            .values()
            .any(|peer| peer.state == LinkState::Banned)
    }

    /// Lifts ended bans in the table (the ban list itself decides; this
    /// only keeps `GET /peers` current).
    pub fn expire_bans(&self, now: u64) {
        for peer in self.table().values_mut() {
            if peer.state == LinkState::Banned && peer.banned_until.is_some_and(|u| u <= now) {
                peer.state = LinkState::Down;
                peer.banned_until = None;
            }
        }
    }

    /// Queues `message` for `address` through its shaper; false if it was
    /// dropped (no link, down, lost, or the queue is full).
    pub fn send(&self, address: &str, message: &Message) -> bool {
        let frame = encode(message);
        let mut table = self.table();
        let Some(peer) = table.get_mut(address) else {
            return false;
        };
        self.queue(peer, frame, matches!(message, Message::Block { .. }))
    }

    fn queue(&self, peer: &mut Peer, frame: Vec<u8>, is_block: bool) -> bool {
        let Some(live) = &peer.live else {
            return false;
        };
        let now_us = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
        let fate = peer
            .shaper
            .schedule(now_us, frame.len(), rand::random(), rand::random());
        let Fate::ReleaseAt(at_us) = fate else {
            return false;
        };
        let release_at =
            tokio::time::Instant::from_std(self.epoch) + std::time::Duration::from_micros(at_us);
        live.sender
            .try_send(Outgoing {
                release_at,
                frame,
                is_block,
            })
            .is_ok()
    }

    /// Sends `message` to every connected peer but `except`.
    pub fn broadcast(&self, message: &Message, except: Option<&str>) {
        let frame = encode(message);
        let mut table = self.table();
        for (address, peer) in table.iter_mut() {
            if Some(address.as_str()) != except {
                self.queue(peer, frame.clone(), false);
            }
        }
    }

    /// Announces a block by its header to every connected peer not known
    /// to have it, and remembers they now do.
    pub fn announce(&self, hash: BlockHash, message: &Message) -> usize {
        let frame = encode(message);
        let mut table = self.table();
        let mut sent = 0;
        for peer in table.values_mut() {
            let Some(live) = &mut peer.live else { continue };
            if !live.known.remember(hash) {
                continue;
            }
            if self.queue(peer, frame.clone(), false) {
                sent += 1;
            }
        }
        sent
    }

    /// Records that `address` has (or was told of) `hash`.
    pub fn mark_known(&self, address: &str, hashes: impl IntoIterator<Item = BlockHash>) {
        if let Some(live) = self.table().get_mut(address).and_then(|p| p.live.as_mut()) {
            for hash in hashes {
                live.known.remember(hash);
            }
        }
    }

    /// Whether `address` is known to have (or to have told us of) `hash`.
    pub fn knows(&self, address: &str, hash: &BlockHash) -> bool {
        self.table()
            .get(address)
            .and_then(|p| p.live.as_ref())
            .is_some_and(|l| l.known.contains(hash))
    }

    /// Connected peers known to have `hash`.
    pub fn peers_with(&self, hash: &BlockHash) -> Vec<String> {
        self.table()
            .iter()
            .filter(|(_, p)| p.live.as_ref().is_some_and(|l| l.known.contains(hash)))
            .map(|(a, _)| a.clone())
            .collect()
    }

    pub fn connected(&self) -> Vec<String> {
        self.table()
            .iter()
            .filter(|(_, p)| p.live.is_some())
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// Addresses this node dials.
    pub fn wanted(&self) -> Vec<String> {
        self.table()
            .iter()
            .filter(|(_, p)| p.wanted)
            .map(|(a, _)| a.clone())
            .collect()
    }

    pub fn contains(&self, address: &str) -> bool {
        self.table().contains_key(address)
    }

    pub fn len(&self) -> usize {
        self.table().len()
    }

    pub fn is_empty(&self) -> bool {
        self.table().is_empty()
    }

    /// The link's last measured round-trip time.
    pub fn rtt(&self, address: &str) -> Option<std::time::Duration> {
        let rtt = self
            .table()
            .get(address)?
            .stats
            .rtt_us
            .load(Ordering::Relaxed);
        (rtt > 0).then(|| std::time::Duration::from_micros(rtt))
    }

    pub fn conditions(&self, address: &str) -> Option<LinkConditions> {
        self.table().get(address).map(|p| p.shaper.conditions())
    }

    /// Sets a link's conditions; returns the previous ones.
    pub fn set_conditions(
        &self,
        address: &str,
        conditions: LinkConditions,
    ) -> Option<LinkConditions> {
        let mut table = self.table();
        let peer = table.get_mut(address)?;
        let before = peer.shaper.conditions();
        peer.shaper.set_conditions(conditions);
        Some(before)
    }

    pub fn set_isolated(&self, isolated: bool) {
        self.isolated.store(isolated, Ordering::Relaxed);
    }

    pub fn is_down(&self, address: &str) -> bool {
        self.conditions(address).is_some_and(|c| c.down)
    }

    pub fn addresses(&self) -> Vec<String> {
        self.table().keys().cloned().collect()
    }

    /// id -> address, as `/node/id` shows them.
    pub fn ids(&self) -> BTreeMap<String, String> {
        self.table()
            .iter()
            .filter(|(_, p)| !p.id.is_empty())
            .map(|(a, p)| (p.id.clone(), a.clone()))
            .collect()
    }

    /// (id, address) of the peers this node dials, for persisting.
    pub fn snapshot(&self) -> Vec<(String, String)> {
        self.table()
            .iter()
            .filter(|(_, p)| p.wanted)
            .map(|(a, p)| (p.id.clone(), a.clone()))
            .collect()
    }

    pub fn infos(&self) -> Vec<LinkInfo> {
        self.table()
            .iter()
            .map(|(address, peer)| {
                let stats = &peer.stats;
                let rtt = stats.rtt_us.load(Ordering::Relaxed);
                LinkInfo {
                    address: address.clone(),
                    id: peer.id.clone(),
                    direction: peer.direction,
                    state: peer.state,
                    rtt_ms: (rtt > 0).then(|| rtt as f64 / 1000.0),
                    bytes_sent: stats.bytes_sent.load(Ordering::Relaxed),
                    bytes_received: stats.bytes_received.load(Ordering::Relaxed),
                    blocks_sent: stats.blocks_sent.load(Ordering::Relaxed),
                    blocks_received: stats.blocks_received.load(Ordering::Relaxed),
                    conditions: peer.shaper.conditions(),
                    last_error: peer.last_error.clone(),
                    banned_until: peer.banned_until,
                }
            })
            .collect()
    }

    /// The `/status` view of the table, in the shape it has always had.
    pub fn peer_infos(&self) -> Vec<PeerInfo> {
        self.infos()
            .into_iter()
            .map(|link| PeerInfo {
                id: link.id,
                address: link.address,
                state: match link.state {
                    LinkState::Connecting => PeerState::New,
                    LinkState::Connected => PeerState::Reachable,
                    LinkState::Down | LinkState::Banned => PeerState::Unreachable,
                },
                last_seen: None,
            })
            .collect()
    }
}

/// The block hashes a peer is known to have, about [`KNOWN_PER_PEER`] at
/// most: two generations of a set, the older dropped whole when the newer
/// fills, so that remembering costs the same however full it is (dropping
/// the oldest of one ordered set moved all the others each time).
#[derive(Debug, Default)]
struct KnownHashes {
    newer: HashSet<BlockHash>,
    older: HashSet<BlockHash>,
}

impl KnownHashes {
    fn contains(&self, hash: &BlockHash) -> bool {
        self.newer.contains(hash) || self.older.contains(hash)
    }

    /// Adds `hash`; false if it was there already.
    fn remember(&mut self, hash: BlockHash) -> bool {
        if self.contains(&hash) {
            return false;
        }
        if self.newer.len() >= KNOWN_PER_PEER / 2 {
            self.older = std::mem::take(&mut self.newer);
        }
        self.newer.insert(hash);
        true
    }
}

/// A peer's best chain as it told us (Hello), to decide who syncs from whom.
#[derive(Debug, Clone, Copy)]
pub struct PeerTip {
    pub height: u64,
    pub work: Work,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(id: &str) -> Links {
        Links::new(id, "127.0.0.1:1", 2)
    }

    #[test]
    fn of_two_links_between_a_pair_both_ends_keep_the_one_the_smaller_id_dialled() {
        // "a" < "b". At a: its own outbound link (dialled by a) then b's.
        let at_a = links("a");
        let first = at_a.register("b:1", "b", LinkDirection::Outbound);
        assert!(first.is_ok());
        assert_eq!(
            at_a.register("b:1", "b", LinkDirection::Inbound).err(),
            Some(Refusal::Duplicate)
        );
        // At b, in the other order: b's own link first, then a's replaces it.
        let at_b = links("b");
        let own = at_b.register("a:1", "a", LinkDirection::Outbound).unwrap();
        let kept = at_b.register("a:1", "a", LinkDirection::Inbound).unwrap();
        assert!(own.closer.is_cancelled());
        assert!(!kept.closer.is_cancelled());
        assert!(at_b.closed("a:1", own.serial, "replaced").is_none());
        assert!(at_b.is_connected("a:1"));
    }

    #[test]
    fn known_hashes_keep_the_newest_and_forget_the_oldest_half_at_once() {
        let hash = |n: usize| {
            let mut bytes = [0u8; 32];
            bytes[..8].copy_from_slice(&n.to_le_bytes());
            BlockHash::from_bytes(bytes)
        };
        let mut known = KnownHashes::default();
        for n in 0..KNOWN_PER_PEER {
            assert!(known.remember(hash(n)));
        }
        assert!(!known.remember(hash(0)), "known already");
        assert!((0..KNOWN_PER_PEER).all(|n| known.contains(&hash(n))));
        // One more drops the oldest half, and only it.
        assert!(known.remember(hash(KNOWN_PER_PEER)));
        assert!(!known.contains(&hash(0)));
        assert!(!known.contains(&hash(KNOWN_PER_PEER / 2 - 1)));
        assert!((KNOWN_PER_PEER / 2..=KNOWN_PER_PEER).all(|n| known.contains(&hash(n))));
    }

    #[test]
    fn inbound_links_stop_at_the_maximum() {
        let table = links("z");
        table.register("a:1", "a", LinkDirection::Inbound).unwrap();
        table.register("b:1", "b", LinkDirection::Inbound).unwrap();
        assert_eq!(
            table.register("c:1", "c", LinkDirection::Inbound).err(),
            Some(Refusal::Full(2))
        );
        // Outbound links do not count against it.
        assert!(table.register("d:1", "d", LinkDirection::Outbound).is_ok());
    }

    #[test]
    fn announcing_skips_peers_known_to_have_the_block() {
        let table = links("z");
        let _a = table.register("a:1", "a", LinkDirection::Inbound).unwrap();
        let _b = table.register("b:1", "b", LinkDirection::Inbound).unwrap();
        let hash = BlockHash::ZERO;
        table.mark_known("a:1", [hash]);
        let ping = Message::Ping { nonce: 1 };
        assert_eq!(table.announce(hash, &ping), 1);
        assert_eq!(table.announce(hash, &ping), 0);
        assert_eq!(table.peers_with(&hash).len(), 2);
    }

    #[test]
    fn a_down_link_sends_nothing() {
        let table = links("z");
        let mut link = table.register("a:1", "a", LinkDirection::Inbound).unwrap();
        table.set_conditions(
            "a:1",
            LinkConditions {
                down: true,
                ..LinkConditions::CLEAR
            },
        );
        assert!(!table.send("a:1", &Message::Ping { nonce: 1 }));
        table.set_conditions("a:1", LinkConditions::CLEAR);
        assert!(table.send("a:1", &Message::Ping { nonce: 2 }));
        assert!(link.outgoing.try_recv().is_ok());
    }
}
