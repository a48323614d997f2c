//! The block tree: every block header any node told us about, linked by
//! `previous_hash`, and each node's current tip.
//!
//! Blocks are keyed by the hash computed here from their header, never by
//! the hash a node states: [`BlockTree::insert_block`] runs `shared`'s
//! [`check_block_body`], so a node cannot slip a mislabelled block (or one
//! whose entries are not the ones its header commits to) into the drawing. Parents may be missing (older blocks not loaded yet); such
//! blocks are roots of their own piece of the tree.

use std::collections::{BTreeMap, HashMap};

use shared::{Block, BlockHash, Header, Rejection, check_block_body};

/// One block in the tree. Blocks live in a `Vec` and point at each other by
/// position, so walking and laying out 10 000 blocks costs no hashing.
#[derive(Debug, Clone)]
pub struct Slot {
    pub hash: BlockHash,
    pub header: Header,
    /// Position of the parent, once it is in the tree.
    pub parent: Option<usize>,
    pub children: Vec<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct BlockTree {
    slots: Vec<Slot>,
    by_hash: HashMap<BlockHash, usize>,
    /// Blocks whose parent has not arrived yet, by the parent's hash.
    waiting: HashMap<BlockHash, Vec<usize>>,
    /// Node id -> the hash of that node's best tip.
    tips: BTreeMap<String, BlockHash>,
    /// Bumped on every change, so views can tell cheaply that it moved.
    revision: u64,
}

impl BlockTree {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a header; returns its hash if it was new.
    pub fn insert_header(&mut self, header: Header) -> Option<BlockHash> {
        let hash = header.block_hash();
        if self.by_hash.contains_key(&hash) {
            return None;
        }
        let at = self.slots.len();
        let parent = if header.index > 0 {
            self.by_hash.get(&header.previous_hash).copied()
        } else {
            None
        };
        match parent {
            Some(parent) => self.slots[parent].children.push(at),
            None if header.index > 0 => self
                .waiting
                .entry(header.previous_hash)
                .or_default()
                .push(at),
            None => {}
        }
        let children = self.waiting.remove(&hash).unwrap_or_default();
        for child in &children {
            self.slots[*child].parent = Some(at);
        }
        self.slots.push(Slot {
            hash,
            header,
            parent,
            children,
        });
        self.by_hash.insert(hash, at);
        self.revision += 1;
        Some(hash)
    }

    /// Adds a block's header, but only if the block is what it says it is:
    /// its stated hash is its header's (else
    /// [`shared::EncodingError::HashMismatch`]) and its entries are well
    /// formed and match the header's merkle root.
    pub fn insert_block(&mut self, block: &Block) -> Result<Option<BlockHash>, Rejection> {
        check_block_body(block)?;
        Ok(self.insert_header(block.header))
    }

    pub fn contains(&self, hash: &BlockHash) -> bool {
        self.by_hash.contains_key(hash)
    }

    pub fn position(&self, hash: &BlockHash) -> Option<usize> {
        self.by_hash.get(hash).copied()
    }

    pub fn header(&self, hash: &BlockHash) -> Option<&Header> {
        self.position(hash).map(|at| &self.slots[at].header)
    }

    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// Every block, in the order they arrived.
    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    /// Every block, in no particular order.
    pub fn headers(&self) -> impl Iterator<Item = (&BlockHash, &Header)> {
        self.slots.iter().map(|s| (&s.hash, &s.header))
    }

    /// The children's hashes.
    pub fn children(&self, hash: &BlockHash) -> Vec<BlockHash> {
        self.position(hash)
            .map(|at| {
                self.slots[at]
                    .children
                    .iter()
                    .map(|c| self.slots[*c].hash)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The parent's hash, if the parent is in the tree.
    pub fn parent(&self, hash: &BlockHash) -> Option<BlockHash> {
        let parent = self.slots[self.position(hash)?].parent?;
        Some(self.slots[parent].hash)
    }

    /// Records `node`'s best tip (the block may not be in the tree yet).
    pub fn set_tip(&mut self, node: &str, hash: BlockHash) {
        if self.tips.get(node) != Some(&hash) {
            self.tips.insert(node.to_owned(), hash);
            self.revision += 1;
        }
    }

    /// Forgets a node's tip, e.g. when it was shut down.
    pub fn remove_tip(&mut self, node: &str) {
        if self.tips.remove(node).is_some() {
            self.revision += 1;
        }
    }

    pub fn tips(&self) -> &BTreeMap<String, BlockHash> {
        &self.tips
    }

    /// Positions from `tip` back to the oldest loaded ancestor, tip first.
    pub fn ancestor_positions(&self, tip: BlockHash) -> impl Iterator<Item = usize> + '_ {
        let mut next = self.position(&tip);
        std::iter::from_fn(move || {
            let current = next?;
            next = self.slots[current].parent;
            Some(current)
        })
    }

    /// The hashes from `tip` back to the oldest loaded ancestor, tip first.
    pub fn ancestors(&self, tip: BlockHash) -> impl Iterator<Item = BlockHash> + '_ {
        self.ancestor_positions(tip).map(|at| self.slots[at].hash)
    }

    /// The tip most nodes agree on, ties going to the higher one: the chain
    /// the drawing keeps on its first lane and the charts follow.
    pub fn main_tip(&self) -> Option<BlockHash> {
        let mut votes: HashMap<BlockHash, usize> = HashMap::new();
        for tip in self.tips.values().filter(|tip| self.contains(tip)) {
            *votes.entry(*tip).or_default() += 1;
        }
        let best = votes.into_iter().max_by_key(|(hash, count)| {
            let height = self.header(hash).map_or(0, |h| h.index);
            (*count, height, *hash)
        });
        best.map(|(hash, _)| hash).or_else(|| {
            // No known tip yet: the highest block stands in.
            self.slots
                .iter()
                .max_by_key(|s| (s.header.index, s.hash))
                .map(|s| s.hash)
        })
    }

    /// The nodes whose best chain contains `hash`.
    pub fn holders(&self, hash: &BlockHash) -> Vec<String> {
        let Some(at) = self.position(hash) else {
            return Vec::new();
        };
        let height = self.slots[at].header.index;
        self.tips
            .iter()
            .filter(|(_, tip)| {
                self.ancestor_positions(**tip)
                    .take_while(|p| self.slots[*p].header.index >= height)
                    .any(|p| p == at)
            })
            .map(|(node, _)| node.clone())
            .collect()
    }

    /// Marks every block on some node's best chain, by position.
    pub fn on_best_chains_mask(&self) -> Vec<bool> {
        let mut active = vec![false; self.slots.len()];
        for tip in self.tips.values() {
            for at in self.ancestor_positions(*tip) {
                if active[at] {
                    break;
                }
                active[at] = true;
            }
        }
        active
    }

    /// Whether `hash` is on some node's best chain.
    pub fn is_on_a_best_chain(&self, hash: &BlockHash) -> bool {
        !self.holders(hash).is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::{EncodingError, Entry, Preset, extend_chain};

    fn chain(blocks: usize, miner: &str, start: u64) -> Vec<Block> {
        let params = Preset::Regtest.params();
        let mut chain = vec![params.genesis.clone()];
        let mut now = start;
        extend_chain(&params, &mut chain, blocks, miner, || {
            now += 1_000;
            now
        });
        chain
    }

    #[test]
    fn forks_holders_and_main_tip() {
        let a = chain(5, "a", 1_767_225_600_000);
        let mut b = a[..3].to_vec();
        let params = Preset::Regtest.params();
        let mut now = 1_767_225_700_000;
        extend_chain(&params, &mut b, 1, "b", || {
            now += 1_000;
            now
        });
        let mut tree = BlockTree::new();
        for block in a.iter().chain(&b) {
            tree.insert_block(block).unwrap();
        }
        assert_eq!(tree.len(), 7);
        assert_eq!(tree.children(&a[2].hash).len(), 2);
        tree.set_tip("n1", a[5].hash);
        tree.set_tip("n2", a[5].hash);
        tree.set_tip("n3", b[3].hash);
        assert_eq!(tree.main_tip(), Some(a[5].hash));
        assert_eq!(tree.holders(&a[2].hash), vec!["n1", "n2", "n3"]);
        assert_eq!(tree.holders(&b[3].hash), vec!["n3"]);
        let count = |tree: &BlockTree| tree.on_best_chains_mask().iter().filter(|x| **x).count();
        assert_eq!(count(&tree), 7);
        tree.remove_tip("n3");
        assert_eq!(count(&tree), 6);
        assert!(!tree.is_on_a_best_chain(&b[3].hash));
    }

    #[test]
    fn a_parent_arriving_late_is_linked() {
        let a = chain(3, "a", 1_767_225_600_000);
        let mut tree = BlockTree::new();
        tree.insert_block(&a[3]).unwrap();
        tree.insert_block(&a[1]).unwrap();
        assert_eq!(tree.parent(&a[3].hash), None);
        tree.insert_block(&a[2]).unwrap();
        assert_eq!(tree.parent(&a[3].hash), Some(a[2].hash));
        assert_eq!(tree.parent(&a[2].hash), Some(a[1].hash));
        assert_eq!(tree.children(&a[1].hash), vec![a[2].hash]);
    }

    #[test]
    fn refuses_a_block_that_lies_about_its_hash() {
        let mut blocks = chain(1, "a", 1_767_225_600_000);
        let honest = blocks[1].hash;
        blocks[1].hash = blocks[0].hash;
        let mut tree = BlockTree::new();
        assert_eq!(
            tree.insert_block(&blocks[1]),
            Err(Rejection::BadEncoding(EncodingError::HashMismatch {
                stated: blocks[0].hash,
                computed: honest,
            }))
        );
        assert!(tree.is_empty());
    }

    #[test]
    fn refuses_a_block_whose_entries_are_not_its_headers() {
        let mut blocks = chain(1, "a", 1_767_225_600_000);
        blocks[1].entries.push(Entry::Data {
            data: "slipped in".into(),
        });
        let mut tree = BlockTree::new();
        assert!(matches!(
            tree.insert_block(&blocks[1]),
            Err(Rejection::WrongMerkleRoot { .. })
        ));
        assert!(tree.is_empty());
    }
}
