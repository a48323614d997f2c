//! The node itself: the state every handler, the miner thread and the sync
//! tasks share, and the operations on it. Locks are std mutexes held only
//! for short, non-async sections, never across a disk write; anything that
//! writes to disk runs off the async workers (the miner thread, a tracked
//! blocking job, or the peer writer). Talking to peers is [`crate::p2p`]'s.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use indexmap::IndexSet;
use shared::api::{MessageBody, StatusBody};
use shared::block::MAX_ENTRIES;
use shared::events::EventKind;
use shared::strategy::{Strategy, StrategyBody};
use shared::{Block, BlockHash, ChainParams, MAX_DATA_BYTES, block_template};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::bans::Bans;
use crate::chain::{BlockTree, Inserted, Offer, Verdict};
use crate::clock::now_ms;
use crate::error::ApiError;
use crate::events::EventBus;
use crate::metrics::Metrics;
use crate::miner::Miner;
use crate::p2p::{Links, relay};
use crate::store::Store;
use crate::strategy::{Plan, Strategist};
use crate::tasks::Tasks;

/// Above this many new blocks, a replaced chain reports only its tip as
/// accepted, so one `/chain/replace` does not flood every subscriber.
const ACCEPT_EVENTS_PER_REPLACE: usize = 100;
/// Most data entries waiting to be mined.
const MAX_PENDING: usize = 20_000;

/// Where a block came from.
#[derive(Debug, Clone)]
pub enum Source {
    Mined { attempts: u64, elapsed_ms: u64 },
    Peer(Option<String>),
}

/// What became of an offered block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    Stored(Inserted),
    Duplicate,
    /// Another copy is being stored right now.
    BeingStored,
    /// Waits for its parent, which is being stored right now.
    AfterParent {
        parent: BlockHash,
    },
    Orphan {
        missing: BlockHash,
    },
    Invalid(shared::Rejection),
}

impl Accepted {
    /// Whether the block is in the tree, or joins it without anything more
    /// from peers (another request is storing it or its parent).
    pub fn joins(&self) -> bool {
        matches!(
            self,
            Self::Stored(_) | Self::Duplicate | Self::BeingStored | Self::AfterParent { .. }
        )
    }
}

/// How many peers a node takes and how long it bans one.
#[derive(Debug, Clone, Copy)]
pub struct PeerLimits {
    pub max_inbound: usize,
    pub ban_secs: u64,
}

pub struct Node {
    pub id: String,
    pub address: String,
    pub params: ChainParams,
    pub token: Option<String>,
    pub events: EventBus,
    pub links: Links,
    pub bans: Bans,
    pub miner: Miner,
    pub metrics: Metrics,
    /// The strategy (honest unless set) and its state.
    pub strategist: Strategist,
    pub shutdown: CancellationToken,
    /// Background work; shutdown waits for it before the store closes.
    pub tasks: Tasks,
    tree: Mutex<BlockTree>,
    store: Store,
    pending: Mutex<IndexSet<String>>,
    isolated: AtomicBool,
    /// Headers of blocks that joined the tree, for the relay task to
    /// announce (sent under the tree lock, so announced in tree order).
    relay_tx: tokio::sync::mpsc::UnboundedSender<shared::Header>,
    relay_rx: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<shared::Header>>>,
    /// The peer table changed since it was last written.
    peers_dirty: AtomicBool,
    peers_changed: Notify,
}

impl Node {
    pub fn new(
        id: String,
        address: String,
        params: ChainParams,
        token: Option<String>,
        store: Store,
        tree: BlockTree,
        limits: PeerLimits,
    ) -> Self {
        let shutdown = CancellationToken::new();
        let (relay_tx, relay_rx) = tokio::sync::mpsc::unbounded_channel();
        Self {
            events: EventBus::new(id.clone()),
            links: Links::new(&id, &address, limits.max_inbound),
            bans: Bans::new(limits.ban_secs.saturating_mul(1000)),
            id,
            address,
            params,
            token,
            miner: Miner::default(),
            metrics: Metrics::new(),
            strategist: Strategist::default(),
            tasks: Tasks::new(shutdown.clone()),
            shutdown,
            tree: Mutex::new(tree),
            store,
            pending: Mutex::new(IndexSet::new()),
            isolated: AtomicBool::new(false),
            relay_tx,
            relay_rx: Mutex::new(Some(relay_rx)),
            peers_dirty: AtomicBool::new(false),
            peers_changed: Notify::new(),
        }
    }

    pub fn tree(&self) -> MutexGuard<'_, BlockTree> {
        self.tree.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn pending(&self) -> MutexGuard<'_, IndexSet<String>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn is_isolated(&self) -> bool {
        self.isolated.load(Ordering::Relaxed)
    }

    /// The block the miner works on: the best tip, this node as the miner,
    /// and as many pending entries as fit.
    pub fn block_template(&self) -> Block {
        let (ancestors, tip) = self.tree().tip_context();
        let data: Vec<String> = self
            .pending()
            .iter()
            .take(MAX_ENTRIES - 1)
            .cloned()
            .collect();
        block_template(&self.params, &ancestors, tip, &self.id, data, now_ms())
    }

    /// Validates, stores and inserts `block` and then any orphans it frees.
    /// Blocking (disk writes): call from the miner thread or a blocking job.
    ///
    /// A block is on disk before anything says it exists: it enters the
    /// tree (which every answer, event and relay reads) only after its
    /// commit. The tree lock is taken to validate and again to insert, but
    /// never held across the commit, so readers (`/status`, `/chain`, the
    /// miner's template) do not wait for an fsync. The races that opens:
    ///
    /// - Two copies of one block at once: the tree counts a validated block
    ///   as being stored, so the second copy is not validated, stored or
    ///   announced again; it is answered "being stored", not "known",
    ///   since it is not on disk yet. (Should two inserts of one block meet
    ///   anyway, the tree takes the first and the second is a duplicate.)
    /// - A child whose parent is being committed: it waits in the orphan
    ///   pool, without the sync from peers a real orphan starts. The check
    ///   and joining the pool happen in one hold of the lock, the parent's
    ///   insert and taking its orphans in another, so either the parent
    ///   takes the child from the pool or the child finds its parent. If
    ///   the parent's commit fails it is abandoned, and the child waits for
    ///   the next copy like any orphan.
    /// - The tree moving meanwhile: a validation holds for good (it checks
    ///   the block against its own ancestors, which never change), so it is
    ///   still true at the insert.
    pub fn accept_block(&self, block: Block, source: Source) -> Result<Accepted, ApiError> {
        let mut queue = vec![block];
        let mut first = None;
        while let Some(block) = queue.pop() {
            let verdict = self.tree().validate_block(&block, now_ms());
            let outcome = match verdict {
                Ok(validated) => {
                    if let Err(error) = self.store.put_blocks([&block]) {
                        self.tree().abandon(validated);
                        return Err(error.into());
                    }
                    let entries: Vec<String> = data_entries(&block);
                    let header = block.header;
                    let mut tree = self.tree();
                    match tree.insert_block(block, validated) {
                        Some(inserted) => {
                            match &source {
                                Source::Mined { .. } => self.metrics.block_mined(),
                                Source::Peer(_) => self.metrics.block_accepted(),
                            }
                            queue.extend(tree.take_orphans(&inserted.hash));
                            // Still under the lock, so subscribers hear of
                            // blocks in the order they joined the tree.
                            self.after_insert(&tree, &inserted, header, &source, entries);
                            Accepted::Stored(inserted)
                        }
                        None => Accepted::Duplicate,
                    }
                }
                Err(Verdict::Offer(Offer::Duplicate)) => Accepted::Duplicate,
                Err(Verdict::Offer(Offer::BeingStored)) => Accepted::BeingStored,
                Err(Verdict::Offer(Offer::AfterParent { parent })) => {
                    Accepted::AfterParent { parent }
                }
                Err(Verdict::Offer(Offer::Orphan { missing })) => Accepted::Orphan { missing },
                Err(Verdict::Invalid(reason)) => {
                    self.metrics.block_rejected(&reason);
                    let from = match &source {
                        Source::Peer(from) => from.clone(),
                        Source::Mined { .. } => None,
                    };
                    self.events.emit(EventKind::BlockRejected {
                        hash: block.header.block_hash(),
                        height: block.header.index,
                        summary: reason.summary().to_owned(),
                        reason: reason.clone(),
                        from,
                    });
                    Accepted::Invalid(reason)
                }
            };
            first.get_or_insert(outcome);
        }
        Ok(first.unwrap_or(Accepted::Duplicate))
    }

    /// Events, the miner and the entry pool after a block joined the tree.
    fn after_insert(
        &self,
        tree: &BlockTree,
        inserted: &Inserted,
        header: shared::Header,
        source: &Source,
        entries: Vec<String>,
    ) {
        let mined = matches!(source, Source::Mined { .. });
        let decided = self
            .strategist
            .after_insert(tree, inserted, header, mined, &entries);
        // Under the tree lock: the relay task announces in tree order.
        for header in &decided.announce {
            let _ = self.relay_tx.send(*header);
        }
        if decided.published > 0
            && let Some(last) = decided.announce.get(decided.published as usize - 1)
        {
            self.events.emit(EventKind::BlocksPublished {
                count: decided.published,
                tip: last.block_hash(),
            });
        }
        if decided.restart_miner {
            self.miner.tip_changed();
        }
        match source {
            Source::Mined {
                attempts,
                elapsed_ms,
            } => self.events.emit(EventKind::BlockMined {
                height: inserted.height,
                hash: inserted.hash,
                attempts: *attempts,
                elapsed_ms: *elapsed_ms,
                entries: entries.len(),
            }),
            Source::Peer(from) => self.events.emit(EventKind::BlockAccepted {
                height: inserted.height,
                hash: inserted.hash,
                previous_hash: inserted.previous_hash,
                from: from.clone(),
                active: inserted.active,
            }),
        }
        if let Some(reorg) = &inserted.reorg {
            self.reorganized(reorg);
        }
        if inserted.active {
            self.miner.tip_changed();
            if !entries.is_empty() {
                let mined: HashSet<&String> = entries.iter().collect();
                self.pending().retain(|e| !mined.contains(e));
            }
        }
    }

    fn reorganized(&self, reorg: &crate::chain::Reorg) {
        self.metrics.reorganized(reorg.depth);
        self.events.emit(reorg.event());
    }

    /// The `GET /metrics` exposition.
    pub fn metrics_text(&self) -> String {
        let status = self.status();
        let links: Vec<_> = self.links.infos().into_iter().map(|l| l.state).collect();
        self.metrics.encode(&status, &links)
    }

    /// Hands a block the miner found to the tree and announces it, or,
    /// for a strategy that breaks a rule, offers it to peers instead.
    pub fn accept_mined(self: &Arc<Self>, block: Block, attempts: u64, elapsed_ms: u64) {
        match self.strategist.strategy() {
            Strategy::Timestamp { mode } => {
                let deviation = match mode {
                    shared::strategy::TimestampMode::Future => "timestamp too far in the future",
                    shared::strategy::TimestampMode::Past => "timestamp not after the median",
                };
                return self.offer(block, deviation);
            }
            Strategy::Forger { rule } => {
                let block = match rule {
                    shared::strategy::ForgeRule::BadProofOfWork => {
                        let target = block.header.bits.to_target().unwrap_or(shared::Target::MAX);
                        let header = shared::strategy::spoil_proof(block.header, target);
                        block.with_header(header)
                    }
                    _ => block,
                };
                return self.offer(block, rule_name(rule));
            }
            _ => {}
        }
        let source = Source::Mined {
            attempts,
            elapsed_ms,
        };
        let height = block.header.index;
        let storing = std::time::Instant::now();
        // Stored blocks are announced by the relay task, like any other.
        match self.accept_block(block, source) {
            Ok(Accepted::Stored(_)) => tracing::debug!(
                height,
                attempts,
                elapsed_ms,
                store_ms = storing.elapsed().as_millis() as u64,
                "block mined"
            ),
            Ok(other) => tracing::warn!(?other, "mined block not stored"),
            Err(error) => tracing::error!(%error, "mined block not stored"),
        }
    }

    /// Announces a block that breaks a rule to every connected peer and
    /// keeps it to serve; it never enters the tree.
    fn offer(&self, block: Block, deviation: &str) {
        let peers = self.links.connected();
        let (hash, header) = (block.hash, block.header);
        self.strategist.offered(block, peers);
        let sent = self.links.announce(
            hash,
            &shared::p2p::Message::Headers {
                headers: vec![header.into()],
            },
        );
        tracing::info!(%hash, height = header.index, deviation, peers = sent, "bad block offered");
        self.events.emit(EventKind::BlockOffered {
            hash,
            height: header.index,
            deviation: deviation.to_owned(),
            peers: sent,
        });
    }

    /// The template the miner searches a proof for next, as the strategy
    /// wants it.
    pub fn mining_template(&self) -> Block {
        match self.strategist.plan() {
            Plan::BestTip => self.block_template(),
            Plan::On { head, data } => {
                let ancestors = self.tree().context_of(head);
                block_template(&self.params, &ancestors, head, &self.id, data, now_ms())
            }
            Plan::Timestamp { mode, nth } => {
                let (ancestors, _) = self.tree().tip_context();
                let template = self.block_template();
                let mut header = template.header;
                header.timestamp =
                    shared::strategy::bad_timestamp(mode, &self.params, &ancestors, now_ms());
                if mode == shared::strategy::TimestampMode::Past {
                    // Any time at or before the median breaks the rule;
                    // going back one ms per block keeps blocks on one tip
                    // distinct.
                    header.timestamp = header.timestamp.saturating_sub(nth);
                }
                template.with_header(header)
            }
            Plan::Forge(rule) => {
                let (ancestors, _) = self.tree().tip_context();
                let template = self.block_template();
                match ancestors.last() {
                    Some(tip) => shared::strategy::forge_template(rule, template, tip),
                    None => template,
                }
            }
        }
    }

    /// Switches the strategy: what the old one withheld is announced, a
    /// private attack adds and relays its entry A, and the miner restarts.
    pub fn set_strategy(self: &Arc<Self>, strategy: Strategy) -> Result<StrategyBody, ApiError> {
        strategy
            .check()
            .map_err(|e| ApiError::BadRequest(e.to_string()))?;
        if let Strategy::Private { entry, .. } = &strategy {
            // Checked before anything changes: a full pool refuses it.
            if self.add_entry(entry.clone())? {
                self.links.broadcast(
                    &shared::p2p::Message::Entry {
                        data: entry.clone(),
                    },
                    None,
                );
            }
        }
        let leftover = {
            let tree = self.tree();
            let leftover = self.strategist.set(strategy.clone(), &tree);
            for header in &leftover {
                let _ = self.relay_tx.send(*header);
            }
            leftover
        };
        if let Some(last) = leftover.last() {
            self.events.emit(EventKind::BlocksPublished {
                count: leftover.len() as u64,
                tip: last.block_hash(),
            });
        }
        tracing::info!(strategy = strategy.name(), "strategy changed");
        self.events.emit(EventKind::StrategyChanged { strategy });
        self.miner.tip_changed();
        Ok(self.strategy_body())
    }

    pub fn strategy_body(&self) -> StrategyBody {
        let tree = self.tree();
        self.strategist.body(&tree)
    }

    /// Accepts a block pushed over HTTP off the async workers; if it is an
    /// orphan, asks the linked peers for the headers that lead to it.
    pub async fn receive_block(
        self: &Arc<Self>,
        block: Block,
        from: Option<String>,
    ) -> Result<Accepted, ApiError> {
        let node = Arc::clone(self);
        let source = Source::Peer(from);
        let outcome = self
            .tasks
            .spawn_blocking(move || node.accept_block(block, source))
            .await
            .map_err(|_| ApiError::ShuttingDown)??;
        if let Accepted::Orphan { .. } = outcome {
            self.sync_with_all();
        }
        Ok(outcome)
    }

    /// Asks every linked peer (or only `peer`) for the headers after our
    /// locator: at start and on `GET /block/new` (now and then, one peer at a
    /// time: [`Self::sync_with_next`]).
    pub fn sync_with_all(self: &Arc<Self>) {
        relay::resync_all(self);
    }

    pub fn sync_with(self: &Arc<Self>, peer: &str) {
        relay::resync_with(self, peer);
    }

    /// Asks the `turn`-th linked peer (wrapping) for headers: the periodic
    /// safety net, one peer at a time.
    pub fn sync_with_next(self: &Arc<Self>, turn: usize) {
        let peers = self.links.connected();
        if !peers.is_empty() {
            self.sync_with(&peers[turn % peers.len()]);
        }
    }

    /// Starts the tasks of the peer-to-peer layer: the relay of new blocks,
    /// request retries, the resync tick, and a link to every wanted peer.
    pub fn spawn_p2p(self: &Arc<Self>) {
        let receiver = self
            .relay_rx
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(mut receiver) = receiver {
            let node = Arc::clone(self);
            self.tasks.spawn(async move {
                while let Some(header) = receiver.recv().await {
                    relay::announce(&node, header);
                }
            });
        }
        let node = Arc::clone(self);
        self.tasks.spawn(async move {
            let mut retry = tokio::time::interval(relay::RETRY_EVERY);
            retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut resync = tokio::time::interval(relay::RESYNC_EVERY);
            let mut turn = 0usize;
            loop {
                // Timeouts and bans are checked only while there are some:
                // an idle node (hundreds share a machine) sleeps instead of
                // waking twice a second for nothing.
                let busy = !node.links.requests.is_empty() || node.links.any_banned();
                tokio::select! {
                    _ = retry.tick(), if busy => {
                        relay::retry_requests(&node);
                        node.links.expire_bans(now_ms());
                    }
                    () = node.links.requests.asked.notified(), if !busy => {}
                    _ = resync.tick() => {
                        node.sync_with_next(turn);
                        turn = turn.wrapping_add(1);
                    }
                }
            }
        });
        for address in self.links.wanted() {
            self.dial(address);
        }
    }

    /// Keeps a link to `address` (one task per wanted peer).
    pub fn dial(self: &Arc<Self>, address: String) {
        let node = Arc::clone(self);
        self.tasks.spawn(crate::p2p::link::maintain(node, address));
    }

    /// Adds a peer to dial; true if it is new. Our own address is skipped.
    pub fn connect(self: &Arc<Self>, id: &str, address: &str) -> bool {
        let new = self.links.want(id, address);
        if new {
            self.events.emit(EventKind::PeerAdded {
                id: id.to_owned(),
                address: address.to_owned(),
            });
            self.save_peers();
            self.dial(address.to_owned());
        }
        new
    }

    /// Drops the link to `address` and forgets it; false if unknown.
    pub fn disconnect(&self, address: &str) -> bool {
        let known = self.links.forget(address);
        if known {
            self.save_peers();
        }
        known
    }

    /// Bans a misbehaving peer, says so, and returns the reason to log.
    pub fn ban(&self, address: &str, id: &str, reason: &str) -> String {
        let ban = self.bans.ban(address, id, reason, now_ms());
        self.links.mark_banned(address, id, ban.until, reason);
        tracing::warn!(peer = address, reason, until = ban.until, "peer banned");
        self.events.emit(EventKind::PeerBanned {
            address: address.to_owned(),
            reason: reason.to_owned(),
            until: ban.until,
        });
        format!("banned: {reason}")
    }

    /// Changes link conditions on one link or all; a link that comes back
    /// up resyncs both ways.
    pub fn set_link_conditions(
        self: &Arc<Self>,
        update: &shared::api::LinkConditionsUpdate,
    ) -> Result<(), ApiError> {
        let targets = match &update.peer {
            Some(peer) if !self.links.contains(peer) => {
                return Err(ApiError::NotFound(format!("no link to {peer}")));
            }
            Some(peer) => vec![peer.clone()],
            None => self.links.addresses(),
        };
        // Checked for every target before any changes, so a bad value
        // changes nothing.
        let mut changes = Vec::new();
        for peer in targets {
            let current = self.links.conditions(&peer).unwrap_or_default();
            let next = update
                .applied_to(current)
                .map_err(|e| ApiError::BadRequest(e.to_string()))?;
            changes.push((peer, next));
        }
        for (peer, next) in changes {
            if let Some(before) = self.links.set_conditions(&peer, next)
                && before.down
                && !next.down
            {
                self.sync_with(&peer);
            }
        }
        Ok(())
    }

    /// Adopts a whole posted chain if it is valid and has more work.
    /// Blocking: validation and disk writes. As in [`Node::accept_block`],
    /// the blocks are committed without the tree lock and inserted after;
    /// if a better chain arrived meanwhile they stay as a fork and the
    /// answer is `None`, as if they had had less work from the start.
    pub fn replace_chain(&self, chain: Vec<Block>) -> Result<Option<Inserted>, ApiError> {
        let summary = shared::validate_chain(&self.params, &chain, now_ms()).map_err(|error| {
            self.metrics.block_rejected(&error.reason);
            ApiError::InvalidChain(error)
        })?;
        let new: Vec<&Block> = {
            let tree = self.tree();
            if summary.work <= tree.best_work() {
                return Ok(None);
            }
            chain.iter().filter(|b| !tree.has_block(&b.hash)).collect()
        };
        let quiet = new.len() > ACCEPT_EVENTS_PER_REPLACE;
        self.store.put_blocks(new)?;
        let mut tree = self.tree();
        let mut last = None;
        let mut reorg = None;
        for block in chain {
            if tree.has_block(&block.hash) {
                continue;
            }
            let Ok(validated) = tree.validate_block(&block, now_ms()) else {
                continue;
            };
            let entries = data_entries(&block);
            let header = block.header;
            let Some(inserted) = tree.insert_block(block, validated) else {
                continue;
            };
            self.metrics.block_accepted();
            if inserted.reorg.is_some() {
                reorg = inserted.reorg.clone();
            }
            if !quiet {
                self.after_insert(
                    &tree,
                    &Inserted {
                        reorg: None,
                        ..inserted.clone()
                    },
                    header,
                    &Source::Peer(None),
                    entries,
                );
            }
            last = Some((inserted, header));
        }
        let Some((mut tip, tip_header)) = last else {
            return Ok(None);
        };
        // One summary event for the tip when the chain was long, and the
        // reorganisation (if any) once for the whole replace.
        tip.reorg = reorg;
        if quiet {
            self.after_insert(&tree, &tip, tip_header, &Source::Peer(None), Vec::new());
        } else if let Some(reorg) = &tip.reorg {
            self.reorganized(reorg);
        }
        self.miner.tip_changed();
        Ok((tree.best_hash() == tip.hash).then_some(tip))
    }

    /// Adds a data entry to the pool; false if it was already there.
    pub fn add_entry(&self, data: String) -> Result<bool, ApiError> {
        if data.len() > MAX_DATA_BYTES {
            return Err(ApiError::BadRequest(format!(
                "an entry holds at most {MAX_DATA_BYTES} bytes of UTF-8, this one {}",
                data.len()
            )));
        }
        let mut pending = self.pending();
        if pending.contains(&data) {
            return Ok(false);
        }
        if pending.len() >= MAX_PENDING {
            return Err(ApiError::Rejected {
                status: axum::http::StatusCode::TOO_MANY_REQUESTS,
                message: format!(
                    "the entry pool is full ({MAX_PENDING} pending): mine a block first"
                ),
            });
        }
        pending.insert(data.clone());
        let count = pending.len();
        drop(pending);
        self.events.emit(EventKind::EntryAdded {
            data,
            pending: count,
        });
        Ok(true)
    }

    pub fn pending_entries(&self) -> Vec<String> {
        self.pending().iter().cloned().collect()
    }

    pub fn pending_count(&self) -> usize {
        self.pending().len()
    }

    pub fn set_isolated(self: &Arc<Self>, isolated: bool) -> MessageBody {
        let was = self.isolated.swap(isolated, Ordering::Relaxed);
        if was == isolated {
            let state = if isolated {
                "already isolated"
            } else {
                "not isolated"
            };
            return MessageBody {
                message: format!("node is {state}"),
            };
        }
        self.links.set_isolated(isolated);
        let _ = self.set_link_conditions(&shared::api::LinkConditionsUpdate {
            down: Some(isolated),
            ..Default::default()
        });
        if isolated {
            self.events.emit(EventKind::Isolated);
            MessageBody {
                message: "node isolated: every link is down until /network/reconnect".into(),
            }
        } else {
            self.events.emit(EventKind::Reconnected);
            MessageBody {
                message: "node reconnected: every link is up and resyncing".into(),
            }
        }
    }

    pub fn status(&self) -> StatusBody {
        // Read before the tree lock, so it is held for the tree alone.
        let peers = self.links.peer_infos();
        let tree = self.tree();
        StatusBody {
            id: self.id.clone(),
            address: self.address.clone(),
            chain: self.params.name.clone(),
            lab: self.params.lab,
            height: tree.height(),
            best_hash: tree.best_hash(),
            chain_work: tree.best_work(),
            mining: self.miner.is_continuous() || self.miner.is_busy(),
            hash_rate: self.miner.hash_rate(),
            hashrate_limit: self.miner.hashrate_limit(),
            pending_entries: self.pending().len(),
            isolated: self.is_isolated(),
            block_bytes_received: self.links.block_bytes_received.load(Ordering::Relaxed),
            peers,
            strategy: self.strategist.strategy(),
        }
    }

    /// Asks for the peer table to be written; returns at once (the peer
    /// writer does the commit).
    pub fn save_peers(&self) {
        self.peers_dirty.store(true, Ordering::Release);
        self.peers_changed.notify_one();
    }

    /// Starts the peer writer: one task that writes the peer table when
    /// asked, off the async workers. One writer, taking its snapshot when it
    /// writes, means an older table never lands after a newer one; a burst
    /// of changes costs one or two writes.
    pub fn spawn_peer_writer(self: &Arc<Self>) {
        let node = Arc::clone(self);
        self.tasks.spawn(async move {
            loop {
                node.peers_changed.notified().await;
                let writer = Arc::clone(&node);
                let _ = node
                    .tasks
                    .spawn_blocking(move || writer.write_peers_if_changed())
                    .await;
            }
        });
    }

    /// Writes the peer table if it changed since the last write. Blocking;
    /// shutdown calls it once more after every task has ended.
    pub fn write_peers_if_changed(&self) {
        if !self.peers_dirty.swap(false, Ordering::AcqRel) {
            return;
        }
        let peers = self.links.snapshot();
        match serde_json::to_string(&peers) {
            Ok(json) => {
                if let Err(error) = self.store.set_meta(crate::PEERS_KEY, &json) {
                    tracing::error!(%error, "could not save peers");
                }
            }
            Err(error) => tracing::error!(%error, "could not encode peers"),
        }
    }

    /// Stops the miner and waits for every tracked task (at most `grace`),
    /// so nothing is writing when the store closes; the last peer changes
    /// are written here.
    pub async fn wind_down(self: &Arc<Self>, grace: Duration) {
        self.shutdown.cancel();
        self.miner.shut_down();
        if !self.tasks.close_and_wait(grace).await {
            tracing::warn!(?grace, "some tasks were still running at shutdown");
        }
        let node = Arc::clone(self);
        let _ = tokio::task::spawn_blocking(move || node.write_peers_if_changed()).await;
    }
}

fn rule_name(rule: shared::strategy::ForgeRule) -> &'static str {
    use shared::strategy::ForgeRule;
    match rule {
        ForgeRule::BadProofOfWork => "bad proof of work",
        ForgeRule::BadMerkleRoot => "bad merkle root",
        ForgeRule::WrongBits => "wrong bits",
        ForgeRule::WrongPreviousHash => "wrong previous hash",
    }
}

fn data_entries(block: &Block) -> Vec<String> {
    block
        .entries
        .iter()
        .filter_map(|e| match e {
            shared::Entry::Data { data } => Some(data.clone()),
            shared::Entry::Coinbase { .. } => None,
        })
        .collect()
}
