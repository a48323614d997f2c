//! Selfish mining as a state machine: Algorithm 1 of Eyal and Sirer,
//! "Majority is not Enough: Bitcoin Mining is Vulnerable" (2014), exactly.
//! It only decides which withheld blocks to publish; the node's tree does
//! the rest (it adopts a longer public chain by most work, and in a race
//! keeps the attacker's own block, seen first, as the algorithm wants).
//!
//! Lengths are heights, which on the fixed-difficulty lab chain are work.

use std::collections::VecDeque;

use shared::{BlockHash, Header};

/// The attacker's private and public chain lengths and its withheld blocks.
#[derive(Debug, Clone, Default)]
pub struct Selfish {
    /// Own blocks not published yet, oldest first, with their hashes
    /// (asked for on every `GetHeaders` and `GetBlocks`).
    withheld: VecDeque<(BlockHash, Header)>,
    private_len: u64,
    public_len: u64,
    /// The paper's privateBranchLen.
    private_branch_len: u64,
    pub published: u64,
    pub races: u64,
}

impl Selfish {
    /// Starts with both chains at the node's best height.
    pub fn new(height: u64) -> Self {
        Self {
            private_len: height,
            public_len: height,
            ..Self::default()
        }
    }

    pub fn lead(&self) -> i64 {
        self.private_len as i64 - self.public_len as i64
    }

    pub fn withheld(&self) -> usize {
        self.withheld.len()
    }

    pub fn is_withheld(&self, hash: &BlockHash) -> bool {
        self.withheld.iter().any(|(h, _)| h == hash)
    }

    /// Our pool found a block on the private head: returns what to publish.
    pub fn on_own_block(&mut self, header: Header) -> Vec<Header> {
        let delta_prev = self.lead();
        self.withheld.push_back((header.block_hash(), header));
        self.private_len = header.index;
        self.private_branch_len += 1;
        if delta_prev == 0 && self.private_branch_len == 2 {
            self.private_branch_len = 0;
            return self.publish_all();
        }
        Vec::new()
    }

    /// Others found a block at `height`: returns what to publish. A block
    /// that does not lengthen the public chain (a fork at or below its
    /// height) changes nothing.
    pub fn on_others_block(&mut self, height: u64) -> Vec<Header> {
        if height <= self.public_len {
            return Vec::new();
        }
        // The public chain before this block; a jump of several blocks
        // (a sync) counts as its last one.
        let delta_prev = self.private_len as i64 - (height as i64 - 1);
        self.public_len = height;
        match delta_prev {
            // Adopt: the tree already follows the longer public chain.
            i64::MIN..=0 => {
                self.withheld.clear();
                self.private_len = height;
                self.private_branch_len = 0;
                Vec::new()
            }
            1 => {
                self.races += 1;
                self.publish_last()
            }
            2 => {
                self.private_branch_len = 0;
                self.publish_all()
            }
            _ => self.publish_first(),
        }
    }

    /// Leaving the strategy: everything withheld goes out, as an honest
    /// node would have sent it.
    pub fn publish_everything(&mut self) -> Vec<Header> {
        self.publish_all()
    }

    fn publish_all(&mut self) -> Vec<Header> {
        let all: Vec<Header> = self.withheld.drain(..).map(|(_, h)| h).collect();
        self.published(all)
    }

    fn publish_last(&mut self) -> Vec<Header> {
        let last: Vec<Header> = self
            .withheld
            .pop_back()
            .map(|(_, h)| h)
            .into_iter()
            .collect();
        // Whatever was older than it is public by now (see `publish_first`).
        let older: Vec<Header> = self.withheld.drain(..).map(|(_, h)| h).collect();
        self.published(older.into_iter().chain(last).collect())
    }

    fn publish_first(&mut self) -> Vec<Header> {
        let first: Vec<Header> = self
            .withheld
            .pop_front()
            .map(|(_, h)| h)
            .into_iter()
            .collect();
        self.published(first)
    }

    fn published(&mut self, headers: Vec<Header>) -> Vec<Header> {
        self.published += headers.len() as u64;
        if let Some(last) = headers.last() {
            self.public_len = self.public_len.max(last.index);
        }
        headers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A header at `height`, distinct per (height, tag).
    fn block(height: u64, tag: u64) -> Header {
        Header {
            version: Header::VERSION,
            index: height,
            previous_hash: BlockHash::ZERO,
            merkle_root: shared::MerkleRoot::from_bytes([0; 32]),
            timestamp: 0,
            bits: shared::CompactTarget::from_consensus(0x207f_ffff),
            proof: tag,
        }
    }

    fn heights(headers: &[Header]) -> Vec<u64> {
        headers.iter().map(|h| h.index).collect()
    }

    #[test]
    fn a_first_own_block_is_withheld() {
        let mut s = Selfish::new(10);
        assert!(s.on_own_block(block(11, 0)).is_empty());
        assert_eq!((s.lead(), s.withheld()), (1, 1));
    }

    #[test]
    fn others_block_at_no_lead_is_adopted() {
        let mut s = Selfish::new(10);
        assert!(s.on_others_block(11).is_empty());
        assert_eq!((s.lead(), s.withheld(), s.published), (0, 0, 0));
    }

    #[test]
    fn others_block_at_a_lead_of_one_starts_a_race_with_the_last_block() {
        let mut s = Selfish::new(10);
        s.on_own_block(block(11, 0));
        assert_eq!(heights(&s.on_others_block(11)), vec![11]);
        assert_eq!((s.lead(), s.withheld(), s.races), (0, 0, 1));
    }

    #[test]
    fn winning_a_race_with_the_next_own_block_publishes_it() {
        let mut s = Selfish::new(10);
        s.on_own_block(block(11, 0));
        s.on_others_block(11);
        // Δprev = 0 and privateBranchLen = 2.
        assert_eq!(heights(&s.on_own_block(block(12, 0))), vec![12]);
        assert_eq!((s.lead(), s.withheld(), s.published), (0, 0, 2));
        // privateBranchLen is 0 again: the next own block is withheld.
        assert!(s.on_own_block(block(13, 0)).is_empty());
    }

    #[test]
    fn losing_a_race_adopts_the_public_chain() {
        let mut s = Selfish::new(10);
        s.on_own_block(block(11, 0));
        s.on_others_block(11);
        assert!(s.on_others_block(12).is_empty());
        assert_eq!((s.lead(), s.withheld()), (0, 0));
        // Back to privateBranchLen 0: a new own block is withheld.
        assert!(s.on_own_block(block(13, 0)).is_empty());
    }

    #[test]
    fn others_block_at_a_lead_of_two_publishes_everything() {
        let mut s = Selfish::new(10);
        s.on_own_block(block(11, 0));
        s.on_own_block(block(12, 0));
        assert_eq!(heights(&s.on_others_block(11)), vec![11, 12]);
        assert_eq!((s.lead(), s.withheld(), s.published), (0, 0, 2));
    }

    #[test]
    fn others_block_at_a_larger_lead_publishes_the_first_unpublished() {
        let mut s = Selfish::new(10);
        for h in 11..=14 {
            s.on_own_block(block(h, 0));
        }
        assert_eq!(heights(&s.on_others_block(11)), vec![11]);
        assert_eq!((s.lead(), s.withheld()), (3, 3));
        assert_eq!(heights(&s.on_others_block(12)), vec![12]);
        // Lead 2 before the next: all of it goes.
        assert_eq!(heights(&s.on_others_block(13)), vec![13, 14]);
        assert_eq!((s.lead(), s.withheld(), s.published), (0, 0, 4));
    }

    #[test]
    fn a_block_that_does_not_lengthen_the_public_chain_changes_nothing() {
        let mut s = Selfish::new(10);
        s.on_own_block(block(11, 0));
        s.on_others_block(11);
        assert!(s.on_others_block(11).is_empty());
        assert_eq!((s.lead(), s.races), (0, 1));
    }

    #[test]
    fn withheld_blocks_are_known_by_hash_until_published() {
        let mut s = Selfish::new(0);
        let own = block(1, 7);
        s.on_own_block(own);
        assert!(s.is_withheld(&own.block_hash()));
        assert_eq!(s.publish_everything(), vec![own]);
        assert!(!s.is_withheld(&own.block_hash()));
    }
}
