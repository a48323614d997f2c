//! The block tree: every valid block this node knows, headers it has not
//! downloaded yet, blocks known to be invalid, and orphans waiting for their
//! parent. The best tip is the one with the most cumulative work (ties go
//! to the first seen); `active` is the best chain by height.
//!
//! The tree only decides; it does no I/O. The node persists a block between
//! [`BlockTree::validate_block`] and [`BlockTree::insert_block`], so nothing
//! enters the tree that is not on disk. The node does not hold the tree
//! across that commit, so the tree remembers which blocks are being stored:
//! another copy of one is not validated (and stored) again, and a child of
//! one waits for it instead of looking like an orphan whose parent must be
//! fetched from peers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use shared::api::{TipInfo, TipStatus};
use shared::validation::Ancestry;
use shared::{
    Block, BlockHash, ChainParams, Header, Rejection, Target, Work, check_block,
    validate_headers_after,
};

/// Most blocks kept waiting for a parent; the oldest are dropped beyond it.
const MAX_ORPHANS: usize = 512;
/// Most invalid blocks remembered; beyond it the cache starts over, which
/// only costs re-validating a block a peer sends again.
const MAX_INVALID: usize = 10_000;
/// Most headers `/headers` returns at once.
pub const MAX_HEADERS: usize = 2000;

#[derive(Debug, Clone)]
struct Entry {
    header: Header,
    /// Cumulative work from genesis through this block.
    work: Work,
    /// The full block, once downloaded and validated.
    block: Option<Arc<Block>>,
    /// Arrival order, to break work ties in favour of the first seen.
    seq: u64,
}

/// A block that passed validation and may be inserted.
#[derive(Debug)]
pub struct Validated {
    hash: BlockHash,
    target: Target,
}

/// What happened to a block offered to the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Offer {
    /// Already known and valid.
    Duplicate,
    /// Validated and being stored by another caller; it joins when that
    /// commit ends.
    BeingStored,
    /// Its parent is being stored; it waits in the orphan pool and joins
    /// right after the parent.
    AfterParent { parent: BlockHash },
    /// Its parent is unknown; it waits in the orphan pool.
    Orphan { missing: BlockHash },
}

/// The best chain moved to another branch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reorg {
    pub old_tip: BlockHash,
    pub new_tip: BlockHash,
    pub depth: u64,
    pub fork_height: u64,
    pub new_height: u64,
}

impl Reorg {
    pub fn event(&self) -> shared::events::EventKind {
        shared::events::EventKind::ChainReorganized {
            old_tip: self.old_tip,
            new_tip: self.new_tip,
            depth: self.depth,
            fork_height: self.fork_height,
            new_height: self.new_height,
        }
    }
}

/// A block that joined the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inserted {
    pub hash: BlockHash,
    pub height: u64,
    pub previous_hash: BlockHash,
    /// On the best chain after the insert.
    pub active: bool,
    pub reorg: Option<Reorg>,
}

pub struct BlockTree {
    params: ChainParams,
    entries: HashMap<BlockHash, Entry>,
    children: HashMap<BlockHash, Vec<BlockHash>>,
    invalid: HashMap<BlockHash, (Header, Rejection)>,
    /// Orphans by the parent they wait for.
    orphans: HashMap<BlockHash, Vec<Block>>,
    orphan_order: Vec<BlockHash>,
    active: Vec<BlockHash>,
    /// Validated and not yet inserted (or abandoned): being stored.
    storing: HashSet<BlockHash>,
    next_seq: u64,
}

impl BlockTree {
    pub fn new(params: ChainParams) -> Self {
        let genesis = params.genesis.clone();
        let work = genesis
            .header
            .bits
            .to_target()
            .map(Target::to_work)
            .unwrap_or(Work::ZERO);
        let mut tree = Self {
            params,
            entries: HashMap::new(),
            children: HashMap::new(),
            invalid: HashMap::new(),
            orphans: HashMap::new(),
            orphan_order: Vec::new(),
            active: vec![genesis.hash],
            storing: HashSet::new(),
            next_seq: 1,
        };
        tree.entries.insert(
            genesis.hash,
            Entry {
                header: genesis.header,
                work,
                block: Some(Arc::new(genesis)),
                seq: 0,
            },
        );
        tree
    }

    pub fn params(&self) -> &ChainParams {
        &self.params
    }

    pub fn best_hash(&self) -> BlockHash {
        self.active[self.active.len() - 1]
    }

    pub fn height(&self) -> u64 {
        (self.active.len() - 1) as u64
    }

    pub fn best_work(&self) -> Work {
        self.entries[&self.best_hash()].work
    }

    /// Blocks of the best chain from height `from`, at most `limit`.
    pub fn active_blocks(&self, from: u64, limit: usize) -> Vec<Arc<Block>> {
        let start = usize::try_from(from)
            .unwrap_or(usize::MAX)
            .min(self.active.len());
        self.active[start..]
            .iter()
            .take(limit)
            .filter_map(|h| self.entries[h].block.clone())
            .collect()
    }

    pub fn block(&self, hash: &BlockHash) -> Option<Arc<Block>> {
        self.entries.get(hash)?.block.clone()
    }

    /// Whether the tree has this block or at least its header.
    pub fn knows(&self, hash: &BlockHash) -> bool {
        self.entries.contains_key(hash)
    }

    pub fn has_block(&self, hash: &BlockHash) -> bool {
        self.entries.get(hash).is_some_and(|e| e.block.is_some())
    }

    fn is_active(&self, hash: &BlockHash, height: u64) -> bool {
        usize::try_from(height)
            .ok()
            .and_then(|h| self.active.get(h))
            == Some(hash)
    }

    /// Whether `hash` is on the best chain.
    pub fn on_best_chain(&self, hash: &BlockHash) -> bool {
        self.entries
            .get(hash)
            .is_some_and(|e| self.is_active(hash, e.header.index))
    }

    /// Cumulative work through `hash`, if the tree knows it.
    pub fn work_of(&self, hash: &BlockHash) -> Option<Work> {
        self.entries.get(hash).map(|e| e.work)
    }

    /// Height of `hash`, if the tree knows it.
    pub fn height_of(&self, hash: &BlockHash) -> Option<u64> {
        self.entries.get(hash).map(|e| e.header.index)
    }

    /// Whether `ancestor` is `tip` or one of its ancestors. Walks back
    /// from `tip` to `ancestor`'s height, so it costs the distance.
    pub fn descends_from(&self, tip: &BlockHash, ancestor: &BlockHash) -> bool {
        let Some(target_height) = self.height_of(ancestor) else {
            return false;
        };
        let mut cursor = *tip;
        while let Some(entry) = self.entries.get(&cursor) {
            if entry.header.index <= target_height {
                return cursor == *ancestor;
            }
            cursor = entry.header.previous_hash;
        }
        false
    }

    /// The ancestry a block on top of `tip` is checked against: what a
    /// miner builds a template on when it does not mine on the best tip.
    pub fn context_of(&self, tip: BlockHash) -> Vec<Header> {
        self.ancestors(tip)
    }

    /// Up to `context_len` headers ending at `tip`, oldest first.
    fn ancestors(&self, tip: BlockHash) -> Vec<Header> {
        let mut headers = Vec::with_capacity(self.params.context_len());
        let mut cursor = Some(tip);
        while let Some(hash) = cursor {
            let Some(entry) = self.entries.get(&hash) else {
                break;
            };
            headers.push(entry.header);
            if headers.len() == self.params.context_len() || entry.header.index == 0 {
                break;
            }
            cursor = Some(entry.header.previous_hash);
        }
        headers.reverse();
        headers
    }

    /// The ancestry the next block on the best tip is checked against: what
    /// a miner builds its template on.
    pub fn tip_context(&self) -> (Vec<Header>, BlockHash) {
        let tip = self.best_hash();
        (self.ancestors(tip), tip)
    }

    /// A locator for the best chain: the last ten hashes, then ever larger
    /// steps back, then genesis (at most ~31 hashes for any real height).
    pub fn locator(&self) -> Vec<BlockHash> {
        let mut hashes = Vec::new();
        let mut height = self.active.len() as i64 - 1;
        let mut step = 1i64;
        while height > 0 {
            hashes.push(self.active[height as usize]);
            if hashes.len() >= 10 {
                step *= 2;
            }
            height -= step;
        }
        hashes.push(self.active[0]);
        hashes
    }

    /// A locator from `tip` back through its own ancestry, which may be
    /// headers only: what a node asks with to go on after a full batch of
    /// headers, before it has their blocks. Same spacing as [`Self::locator`].
    pub fn locator_from(&self, tip: BlockHash) -> Vec<BlockHash> {
        let genesis = self.active[0];
        let mut hashes = Vec::new();
        let mut cursor = tip;
        let mut step = 1u64;
        let mut skip = 0u64;
        while let Some(entry) = self.entries.get(&cursor) {
            if entry.header.index == 0 {
                break;
            }
            if skip == 0 {
                hashes.push(cursor);
                if hashes.len() >= 10 {
                    step *= 2;
                }
                skip = step;
            }
            skip -= 1;
            cursor = entry.header.previous_hash;
        }
        hashes.push(genesis);
        hashes
    }

    /// Best-chain headers after the first locator hash on our best chain
    /// (after genesis if none is), at most `limit`.
    pub fn headers_after(&self, locator: &[BlockHash], limit: usize) -> Vec<Header> {
        let fork = locator
            .iter()
            .find_map(|hash| {
                let entry = self.entries.get(hash)?;
                self.is_active(hash, entry.header.index)
                    .then_some(entry.header.index)
            })
            .unwrap_or(0);
        self.active
            .iter()
            .skip(fork as usize + 1)
            .take(limit.min(MAX_HEADERS))
            .map(|h| self.entries[h].header)
            .collect()
    }

    /// Checks a block against its parent's context. A valid block counts
    /// as being stored until [`BlockTree::insert_block`] or
    /// [`BlockTree::abandon`]; otherwise the tree changes only to remember
    /// an invalid block or keep an orphan.
    pub fn validate_block(&mut self, block: &Block, now_ms: u64) -> Result<Validated, Verdict> {
        let hash = block.header.block_hash();
        let honest = block.hash == hash;
        if honest && self.has_block(&hash) {
            return Err(Verdict::Offer(Offer::Duplicate));
        }
        if honest && self.storing.contains(&hash) {
            return Err(Verdict::Offer(Offer::BeingStored));
        }
        if let Some((_, reason)) = self.invalid.get(&hash) {
            return Err(Verdict::Invalid(reason.clone()));
        }
        let parent_hash = block.header.previous_hash;
        let is_genesis_claim = block.header.index == 0;
        if !is_genesis_claim && !self.has_block(&parent_hash) {
            if !honest {
                return Err(Verdict::Offer(Offer::Orphan {
                    missing: parent_hash,
                }));
            }
            self.add_orphan(block.clone());
            if self.storing.contains(&parent_hash) {
                return Err(Verdict::Offer(Offer::AfterParent {
                    parent: parent_hash,
                }));
            }
            return Err(Verdict::Offer(Offer::Orphan {
                missing: parent_hash,
            }));
        }
        let headers = if is_genesis_claim {
            Vec::new()
        } else {
            self.ancestors(parent_hash)
        };
        let ancestry = (!headers.is_empty()).then_some(Ancestry {
            headers: &headers,
            parent_hash,
        });
        match check_block(&self.params, block, ancestry, now_ms) {
            Ok(target) => {
                self.storing.insert(hash);
                Ok(Validated { hash, target })
            }
            Err(reason) => {
                if reason.is_permanent() {
                    self.remember_invalid(hash, block.header, reason.clone());
                }
                Err(Verdict::Invalid(reason))
            }
        }
    }

    fn remember_invalid(&mut self, hash: BlockHash, header: Header, reason: Rejection) {
        if self.invalid.len() >= MAX_INVALID {
            self.invalid.clear();
        }
        self.invalid.insert(hash, (header, reason));
    }

    fn add_orphan(&mut self, block: Block) {
        let parent = block.header.previous_hash;
        let waiting = self.orphans.entry(parent).or_default();
        if waiting.iter().any(|b| b.hash == block.hash) {
            return;
        }
        waiting.push(block);
        self.orphan_order.push(parent);
        while self.orphan_order.len() > MAX_ORPHANS {
            let oldest = self.orphan_order.remove(0);
            if let Some(list) = self.orphans.get_mut(&oldest) {
                list.remove(0);
                if list.is_empty() {
                    self.orphans.remove(&oldest);
                }
            }
        }
    }

    /// Orphans that were waiting for `parent`, taken out of the pool.
    pub fn take_orphans(&mut self, parent: &BlockHash) -> Vec<Block> {
        let taken = self.orphans.remove(parent).unwrap_or_default();
        if !taken.is_empty() {
            self.orphan_order.retain(|p| p != parent);
        }
        taken
    }

    /// Adds a validated (and stored) block, moving the best tip if it now
    /// has the most work; `None` if the full block is already here (another
    /// copy was inserted since it was validated).
    pub fn insert_block(&mut self, block: Block, validated: Validated) -> Option<Inserted> {
        let Validated { hash, target } = validated;
        self.storing.remove(&hash);
        if self.has_block(&hash) {
            return None;
        }
        let header = block.header;
        let parent_work = self
            .entries
            .get(&header.previous_hash)
            .map_or(Work::ZERO, |e| e.work);
        let seq = self.next_seq;
        self.next_seq += 1;
        let existing_seq = self.entries.get(&hash).map(|e| e.seq);
        self.entries.insert(
            hash,
            Entry {
                header,
                work: parent_work + target.to_work(),
                block: Some(Arc::new(block)),
                seq: existing_seq.unwrap_or(seq),
            },
        );
        if existing_seq.is_none() {
            self.children
                .entry(header.previous_hash)
                .or_default()
                .push(hash);
        }
        let reorg = self.update_best(hash);
        Some(Inserted {
            hash,
            height: header.index,
            previous_hash: header.previous_hash,
            active: self.is_active(&hash, header.index),
            reorg,
        })
    }

    /// Gives up a validated block that could not be stored, so a later
    /// copy is validated (and stored) afresh.
    pub fn abandon(&mut self, validated: Validated) {
        self.storing.remove(&validated.hash);
    }

    /// Adds headers from a peer (oldest first, each connecting to a known
    /// entry or to the header before it) as headers-only entries; `shared`
    /// checks them in context. Returns the hashes whose blocks are still
    /// missing, in order. On a bad header, the good ones before it stay.
    pub fn insert_headers(
        &mut self,
        headers: &[Header],
        now_ms: u64,
    ) -> Result<Vec<BlockHash>, (BlockHash, Rejection)> {
        let hashes: Vec<BlockHash> = headers.iter().map(Header::block_hash).collect();
        let mut missing = Vec::new();
        let mut i = 0;
        while i < headers.len() {
            let hash = hashes[i];
            if let Some((_, reason)) = self.invalid.get(&hash) {
                return Err((hash, reason.clone()));
            }
            if let Some(entry) = self.entries.get(&hash) {
                if entry.block.is_none() {
                    missing.push(hash);
                }
                i += 1;
                continue;
            }
            // A run of new headers, each the parent of the next. A header
            // after a new one is new itself, since every entry's parent is
            // an entry (one remembered as invalid inside a run just fails
            // its check again). Because each one's parent is the header
            // before it, every rejection `shared` gives is about a header
            // itself, never about how the peer strung the batch together.
            let mut end = i + 1;
            while end < headers.len() && headers[end].previous_hash == hashes[end - 1] {
                end += 1;
            }
            let parent = headers[i].previous_hash;
            if !self.entries.contains_key(&parent) {
                return Err((
                    hash,
                    Rejection::WrongPreviousHash {
                        expected: BlockHash::ZERO,
                        found: parent,
                    },
                ));
            }
            let context = self.ancestors(parent);
            let run = &headers[i..end];
            match validate_headers_after(&self.params, &context, parent, run, now_ms) {
                Ok(checked) => self.insert_header_run(run, &hashes[i..end], &checked.targets),
                Err(error) => {
                    // The headers before the bad one passed: keep them, as a
                    // header-by-header check would have.
                    let good = usize::try_from(error.index).map_or(0, |i| i.min(run.len()));
                    if good > 0
                        && let Ok(checked) = validate_headers_after(
                            &self.params,
                            &context,
                            parent,
                            &run[..good],
                            now_ms,
                        )
                    {
                        self.insert_header_run(
                            &run[..good],
                            &hashes[i..i + good],
                            &checked.targets,
                        );
                    }
                    if let Some(bad) = run.get(good)
                        && error.reason.is_permanent()
                    {
                        self.remember_invalid(error.hash, *bad, error.reason.clone());
                    }
                    return Err((error.hash, error.reason));
                }
            }
            missing.extend_from_slice(&hashes[i..end]);
            i = end;
        }
        Ok(missing)
    }

    /// Records checked headers (each the parent of the next, the first
    /// one's parent an entry) as headers-only entries.
    fn insert_header_run(&mut self, run: &[Header], hashes: &[BlockHash], targets: &[Target]) {
        for ((header, hash), target) in run.iter().zip(hashes).zip(targets) {
            let parent = header.previous_hash;
            let parent_work = self.entries[&parent].work;
            let seq = self.next_seq;
            self.next_seq += 1;
            self.entries.insert(
                *hash,
                Entry {
                    header: *header,
                    work: parent_work + target.to_work(),
                    block: None,
                    seq,
                },
            );
            self.children.entry(parent).or_default().push(*hash);
        }
    }

    /// Moves the best tip to `candidate` if its branch is fully downloaded
    /// and has more work (or equal work and was seen first).
    fn update_best(&mut self, candidate: BlockHash) -> Option<Reorg> {
        // The best full-block tip reachable by extending from `candidate`
        // through blocks we already have (orphans resolved earlier may sit
        // above it).
        let candidate = self.best_full_descendant(candidate);
        let old_tip = self.best_hash();
        let (new, old) = (&self.entries[&candidate], &self.entries[&old_tip]);
        let better = new.work > old.work || (new.work == old.work && new.seq < old.seq);
        if candidate == old_tip || !better {
            return None;
        }
        // Walk back from the candidate to the active chain.
        let mut branch = Vec::new();
        let mut cursor = candidate;
        loop {
            let entry = &self.entries[&cursor];
            if self.is_active(&cursor, entry.header.index) {
                break;
            }
            branch.push(cursor);
            cursor = entry.header.previous_hash;
        }
        let fork_height = self.entries[&cursor].header.index;
        let old_height = self.height();
        self.active.truncate(fork_height as usize + 1);
        self.active.extend(branch.iter().rev());
        let depth = old_height - fork_height;
        (depth > 0).then_some(Reorg {
            old_tip,
            new_tip: candidate,
            depth,
            fork_height,
            new_height: self.height(),
        })
    }

    fn best_full_descendant(&self, from: BlockHash) -> BlockHash {
        let mut best = from;
        let mut stack = vec![from];
        while let Some(hash) = stack.pop() {
            let entry = &self.entries[&hash];
            let best_entry = &self.entries[&best];
            if entry.work > best_entry.work {
                best = hash;
            }
            for child in self.children.get(&hash).into_iter().flatten() {
                if self.has_block(child) {
                    stack.push(*child);
                }
            }
        }
        best
    }

    /// Every tip, as Bitcoin Core's `getchaintips` lists them.
    pub fn tips(&self) -> Vec<TipInfo> {
        let mut tips: Vec<TipInfo> = self
            .entries
            .iter()
            .filter(|(hash, _)| {
                self.children
                    .get(*hash)
                    .is_none_or(|kids| kids.iter().all(|k| !self.entries.contains_key(k)))
            })
            .map(|(hash, entry)| {
                let status = if *hash == self.best_hash() {
                    TipStatus::Active
                } else if entry.block.is_some() {
                    TipStatus::ValidFork
                } else {
                    TipStatus::HeadersOnly
                };
                TipInfo {
                    height: entry.header.index,
                    hash: *hash,
                    branch_length: self.branch_length(entry.header),
                    status,
                }
            })
            .collect();
        let known_invalid_parents: HashSet<BlockHash> = self
            .invalid
            .values()
            .map(|(header, _)| header.previous_hash)
            .collect();
        for (hash, (header, _)) in &self.invalid {
            if !known_invalid_parents.contains(hash) {
                tips.push(TipInfo {
                    height: header.index,
                    hash: *hash,
                    branch_length: self.branch_length(*header),
                    status: TipStatus::Invalid,
                });
            }
        }
        tips.sort_by(|a, b| b.height.cmp(&a.height).then(a.hash.cmp(&b.hash)));
        tips
    }

    /// Blocks from the fork point with the best chain up to `header`.
    fn branch_length(&self, header: Header) -> u64 {
        let mut length = 0;
        let mut cursor = header;
        let mut hash = header.block_hash();
        loop {
            if self.is_active(&hash, cursor.index) {
                return length;
            }
            length += 1;
            hash = cursor.previous_hash;
            match self.entries.get(&hash) {
                Some(entry) => cursor = entry.header,
                None => return length,
            }
        }
    }

    /// Loads stored blocks at start-up: they were valid when stored, so
    /// only their place in the tree is recomputed.
    pub fn restore(&mut self, mut blocks: Vec<Block>) {
        blocks.sort_by_key(|b| b.header.index);
        for block in blocks {
            let hash = block.header.block_hash();
            if self.entries.contains_key(&hash) || !self.has_block(&block.header.previous_hash) {
                continue;
            }
            let Ok(target) = block.header.bits.to_target() else {
                continue;
            };
            self.insert_block(block, Validated { hash, target });
        }
    }
}

/// Why a block was not inserted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Offer(Offer),
    Invalid(Rejection),
}

#[cfg(test)]
mod tests;
