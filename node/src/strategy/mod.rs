//! The node's strategy (`--strategy`, `POST /strategy`): which blocks it
//! mines on, which it announces and when, and which it serves. Honest is
//! the default; the others each differ from it in one way:
//!
//! - selfish ([`selfish`]): own blocks are withheld, in the tree (so the
//!   miner builds on them) but neither announced nor served, and published
//!   as Algorithm 1 says.
//! - private: a double spend. Entry A is added and relayed; once a block X
//!   of the best chain holds it, the miner works on a private branch from
//!   X's parent whose first block holds B instead. The branch is withheld
//!   until it has more work than the public chain and X has `z`
//!   confirmations (X itself and z − 1 blocks on top: the public tip is at
//!   height(X) + z − 1 or more), then announced whole.
//! - timestamp and forger: every block found breaks one rule; it never
//!   enters the tree, is announced by header to every peer and served on
//!   request. Honest peers reject it (and ban the sender when the rejection
//!   is permanent); a peer that closes or refuses the link afterwards is
//!   counted as refusing.
//!
//! The strategist's lock is taken after the tree's, never before, and is
//! held for short sections only.

pub mod selfish;

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};

use indexmap::IndexMap;
use shared::strategy::{PrivatePhase, Strategy, StrategyBody, StrategyState};
use shared::{Block, BlockHash, Header};

use crate::chain::{BlockTree, Inserted};
use selfish::Selfish;

/// Offered bad blocks kept to serve on request; the oldest go first.
const OFFERED_KEPT: usize = 64;

/// What the miner builds its next template on.
#[derive(Debug, Clone)]
pub enum Plan {
    /// An honest template on the best tip (honest, selfish, and private
    /// before and after its private branch).
    BestTip,
    /// A template on `head` (the private branch's tip, or the parent of
    /// A's block) carrying `data` instead of the pending entries.
    On {
        head: BlockHash,
        data: Vec<String>,
    },
    /// A block with a bad timestamp on the best tip; `nth` is how many came
    /// before, so blocks on one tip differ.
    Timestamp {
        mode: shared::strategy::TimestampMode,
        nth: u64,
    },
    Forge(shared::strategy::ForgeRule),
}

/// What to do after a block joined the tree.
#[derive(Debug, Default)]
pub struct AfterInsert {
    /// Headers to announce, in order: the withheld ones going out first,
    /// then the block just inserted if it is to be relayed.
    pub announce: Vec<Header>,
    /// How many of them had been withheld (the first `published`).
    pub published: u64,
    /// The miner's base moved off the best tip's track: restart it.
    pub restart_miner: bool,
}

#[derive(Debug, Default)]
struct Offering {
    offered: u64,
    blocks: IndexMap<BlockHash, Block>,
    offered_to: HashSet<String>,
    refused: HashSet<String>,
}

#[derive(Debug)]
struct PrivateRun {
    confirmations: u64,
    entry: String,
    double_spend: String,
    phase: PrivatePhase,
    /// A's block X, its height, and its parent.
    a_block: Option<(BlockHash, u64, BlockHash)>,
    /// The branch's tip (X's parent before the first private block).
    head: BlockHash,
    /// The private blocks, oldest first, withheld until release.
    branch: Vec<Header>,
    /// The most-work block this node announced or heard of.
    public_best: BlockHash,
    released_tip: Option<(BlockHash, u64)>,
}

#[derive(Debug)]
struct Inner {
    strategy: Strategy,
    selfish: Selfish,
    private: Option<PrivateRun>,
    offering: Offering,
}

#[derive(Debug)]
pub struct Strategist {
    inner: Mutex<Inner>,
}

impl Default for Strategist {
    fn default() -> Self {
        Self {
            inner: Mutex::new(Inner {
                strategy: Strategy::Honest,
                selfish: Selfish::default(),
                private: None,
                offering: Offering::default(),
            }),
        }
    }
}

impl Strategist {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn strategy(&self) -> Strategy {
        self.lock().strategy.clone()
    }

    /// Switches to `strategy` (already checked) on `tree`; returns the
    /// withheld headers the old one leaves to announce, as an honest node
    /// would have.
    pub fn set(&self, strategy: Strategy, tree: &BlockTree) -> Vec<Header> {
        let mut inner = self.lock();
        let mut leftover = inner.selfish.publish_everything();
        if let Some(run) = inner.private.take()
            && run.released_tip.is_none()
        {
            leftover.extend(run.branch);
        }
        inner.selfish = Selfish::new(tree.height());
        inner.offering = Offering::default();
        if let Strategy::Private {
            confirmations,
            entry,
            double_spend,
        } = &strategy
        {
            inner.private = Some(PrivateRun {
                confirmations: *confirmations,
                entry: entry.clone(),
                double_spend: double_spend.clone(),
                phase: PrivatePhase::WaitingForEntry,
                a_block: None,
                head: tree.best_hash(),
                branch: Vec::new(),
                public_best: tree.best_hash(),
                released_tip: None,
            });
        }
        inner.strategy = strategy;
        leftover
    }

    /// The strategy and its live state, read against `tree`.
    pub fn body(&self, tree: &BlockTree) -> StrategyBody {
        let inner = self.lock();
        let state = match &inner.strategy {
            Strategy::Honest => StrategyState::Honest,
            Strategy::Selfish => StrategyState::Selfish {
                withheld: inner.selfish.withheld() as u64,
                lead: inner.selfish.lead(),
                published: inner.selfish.published,
                races: inner.selfish.races,
            },
            Strategy::Private { .. } => {
                let run = inner.private.as_ref();
                let a = run.and_then(|r| r.a_block);
                let released = run.is_some_and(|r| r.released_tip.is_some());
                StrategyState::Private {
                    phase: run.map_or(PrivatePhase::WaitingForEntry, |r| r.phase),
                    a_block: a.map(|a| a.0),
                    a_height: a.map(|a| a.1),
                    branch_length: run.map_or(0, |r| r.branch.len() as u64),
                    released,
                    a_reverted: released && a.is_some_and(|a| !tree.on_best_chain(&a.0)),
                }
            }
            Strategy::Timestamp { .. } | Strategy::Forger { .. } => StrategyState::Offering {
                offered: inner.offering.offered,
                refused: inner.offering.refused.len() as u64,
            },
        };
        StrategyBody {
            strategy: inner.strategy.clone(),
            state,
        }
    }

    /// What the miner's next template is built on.
    pub fn plan(&self) -> Plan {
        let inner = self.lock();
        match &inner.strategy {
            Strategy::Honest | Strategy::Selfish => Plan::BestTip,
            Strategy::Private { .. } => match &inner.private {
                Some(run) if run.phase == PrivatePhase::MiningPrivately => Plan::On {
                    head: run.head,
                    // B goes in the branch's first block; A in none.
                    data: if run.branch.is_empty() {
                        vec![run.double_spend.clone()]
                    } else {
                        Vec::new()
                    },
                },
                _ => Plan::BestTip,
            },
            Strategy::Timestamp { mode } => Plan::Timestamp {
                mode: *mode,
                nth: inner.offering.offered,
            },
            Strategy::Forger { rule } => Plan::Forge(*rule),
        }
    }

    /// Whether peers must not hear of or get `hash` yet.
    pub fn is_withheld(&self, hash: &BlockHash) -> bool {
        let inner = self.lock();
        inner.selfish.is_withheld(hash)
            || inner.private.as_ref().is_some_and(|r| {
                r.released_tip.is_none() && r.branch.iter().any(|h| h.block_hash() == *hash)
            })
    }

    /// A bad block this node offered, to serve a peer that asks for it.
    pub fn offered_block(&self, hash: &BlockHash) -> Option<Block> {
        self.lock().offering.blocks.get(hash).cloned()
    }

    /// Records a bad block offered to `peers`.
    pub fn offered(&self, block: Block, peers: Vec<String>) {
        let mut inner = self.lock();
        let offering = &mut inner.offering;
        offering.offered += 1;
        offering.offered_to.extend(peers);
        if offering.blocks.len() >= OFFERED_KEPT {
            offering.blocks.shift_remove_index(0);
        }
        offering.blocks.insert(block.hash, block);
    }

    /// A link to `address` closed or was refused.
    pub fn link_lost(&self, address: &str) {
        let mut inner = self.lock();
        let offering = &mut inner.offering;
        if offering.offered_to.contains(address) {
            offering.refused.insert(address.to_owned());
        }
    }

    /// Decides what to announce after `inserted` (with `header` and data
    /// `entries`) joined `tree`; `mined` says whether this node found it.
    pub fn after_insert(
        &self,
        tree: &BlockTree,
        inserted: &Inserted,
        header: Header,
        mined: bool,
        entries: &[String],
    ) -> AfterInsert {
        let mut inner = self.lock();
        let Inner {
            strategy,
            selfish,
            private,
            ..
        } = &mut *inner;
        match strategy {
            Strategy::Selfish => {
                let announce = if !mined {
                    // Racing, its own block goes out before the block that
                    // set the race off, so a peer that hears of both from
                    // it fetches its own first (the first seen of equal
                    // work is kept): the paper's gamma comes from that.
                    let mut out = selfish.on_others_block(inserted.height);
                    out.push(header);
                    out
                } else if inserted.active {
                    selfish.on_own_block(header)
                } else {
                    // Mined on a tip that had just moved: a stale fork
                    // block, worth nothing to publish.
                    Vec::new()
                };
                let published = announce.len() as u64 - u64::from(!mined);
                AfterInsert {
                    announce,
                    published,
                    restart_miner: false,
                }
            }
            Strategy::Private { .. } => match private {
                Some(run) => run.after_insert(tree, inserted, header, mined, entries),
                None => honest(header),
            },
            _ => honest(header),
        }
    }
}

fn honest(header: Header) -> AfterInsert {
    AfterInsert {
        announce: vec![header],
        ..AfterInsert::default()
    }
}

impl PrivateRun {
    fn after_insert(
        &mut self,
        tree: &BlockTree,
        inserted: &Inserted,
        header: Header,
        mined: bool,
        entries: &[String],
    ) -> AfterInsert {
        let hash = inserted.hash;
        let mut out = AfterInsert::default();
        let private = self.phase == PrivatePhase::MiningPrivately
            && mined
            && header.previous_hash == self.head;
        let relay = (!private).then_some(header);
        if private {
            self.branch.push(header);
            self.head = hash;
            out.restart_miner = true;
        } else {
            let more = tree.work_of(&hash) > tree.work_of(&self.public_best);
            if more {
                self.public_best = hash;
            }
        }
        match self.phase {
            PrivatePhase::WaitingForEntry => {
                if inserted.active && entries.contains(&self.entry) {
                    self.a_block = Some((hash, header.index, header.previous_hash));
                    self.head = header.previous_hash;
                    self.phase = PrivatePhase::MiningPrivately;
                    out.restart_miner = true;
                }
            }
            PrivatePhase::MiningPrivately => {
                if self.ready_to_release(tree) {
                    out.published = self.branch.len() as u64;
                    out.announce.extend(self.branch.iter().copied());
                    let height = tree.height_of(&self.head).unwrap_or(0);
                    self.released_tip = Some((self.head, height));
                    self.phase = PrivatePhase::Released;
                    out.restart_miner = true;
                }
            }
            PrivatePhase::Released => {
                if let Some((_, height)) = self.released_tip
                    && tree.height() > height
                {
                    self.phase = PrivatePhase::Done;
                }
            }
            PrivatePhase::Done => {}
        }
        out.announce.extend(relay);
        out
    }

    /// The branch has more work than the public chain, and the public
    /// chain holds A's block under z confirmations (X counts as one).
    fn ready_to_release(&self, tree: &BlockTree) -> bool {
        let Some((a, a_height, _)) = self.a_block else {
            return false;
        };
        if self.branch.is_empty() || tree.work_of(&self.head) <= tree.work_of(&self.public_best) {
            return false;
        }
        let public_height = tree.height_of(&self.public_best).unwrap_or(0);
        tree.descends_from(&self.public_best, &a)
            && public_height + 1 >= a_height + self.confirmations
    }
}
