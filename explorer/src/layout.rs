//! Where each block of the tree is drawn: its height is its column, its
//! branch gets a lane (row). The chain most nodes are on keeps lane 0, and
//! every fork opens the lowest lane that is free over its length, so forks
//! read as branches and stale ones end where they were abandoned.
//!
//! Linear in the number of blocks apart from one sort, so the whole tree is
//! laid out again on every change; the view then draws only the columns in
//! sight.

use std::collections::HashMap;

use shared::BlockHash;

use crate::tree::BlockTree;

/// One block's place in the drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct Placed {
    pub hash: BlockHash,
    pub height: u64,
    pub lane: u32,
    /// The parent's lane, when the parent is in the tree.
    pub parent_lane: Option<u32>,
    /// Not on any node's best chain (while at least one tip is known).
    pub stale: bool,
    /// The nodes whose best tip this block is.
    pub tip_of: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Layout {
    /// Sorted by height, then lane.
    pub blocks: Vec<Placed>,
    pub min_height: u64,
    pub max_height: u64,
    pub lanes: u32,
}

impl Layout {
    /// The blocks with heights in `low..=high`.
    pub fn in_heights(&self, low: u64, high: u64) -> &[Placed] {
        let start = self.blocks.partition_point(|b| b.height < low);
        let end = self.blocks.partition_point(|b| b.height <= high);
        &self.blocks[start..end.max(start)]
    }

    pub fn find(&self, hash: &BlockHash) -> Option<&Placed> {
        self.blocks.iter().find(|b| b.hash == *hash)
    }
}

/// Lays the whole tree out.
pub fn layout(tree: &BlockTree) -> Layout {
    let slots = tree.slots();
    if slots.is_empty() {
        return Layout::default();
    }
    let n = slots.len();
    let active = tree.on_best_chains_mask();
    let mut main_path = vec![false; n];
    if let Some(tip) = tree.main_tip() {
        for at in tree.ancestor_positions(tip) {
            main_path[at] = true;
        }
    }

    let mut by_height: Vec<usize> = (0..n).collect();
    by_height.sort_unstable_by_key(|at| (slots[*at].header.index, *at));
    // Highest height reachable below each block: a branch follows its
    // longest continuation.
    let mut reach = vec![0u64; n];
    for at in by_height.iter().rev() {
        let own = slots[*at].header.index;
        reach[*at] = slots[*at]
            .children
            .iter()
            .map(|c| reach[*c])
            .max()
            .unwrap_or(own)
            .max(own);
    }
    let rank = |at: usize| (main_path[at], active[at], reach[at], std::cmp::Reverse(at));

    // Cut the tree into branches: a branch starts at a root or at a
    // non-first child and follows first children to its end.
    let mut starts: Vec<usize> = by_height
        .iter()
        .copied()
        .filter(|at| slots[*at].parent.is_none())
        .collect();
    starts.sort_unstable_by_key(|at| rank(*at));
    let mut branches: Vec<(usize, usize)> = Vec::new(); // (first, last)
    let mut lane_of = vec![u32::MAX; n];
    let mut branch_of = vec![0usize; n];
    let mut kids: Vec<usize> = Vec::new();
    while let Some(start) = starts.pop() {
        let branch = branches.len();
        let mut current = start;
        loop {
            branch_of[current] = branch;
            kids.clear();
            kids.extend_from_slice(&slots[current].children);
            if kids.is_empty() {
                break;
            }
            kids.sort_unstable_by_key(|at| std::cmp::Reverse(rank(*at)));
            // Later siblings become branches of their own.
            starts.extend(kids.iter().skip(1).rev().copied());
            current = kids[0];
        }
        branches.push((start, current));
    }

    // The main branch first, then by where they start: greedy interval
    // partitioning, which needs the fewest lanes for that order.
    let height = |at: usize| slots[at].header.index;
    let mut order: Vec<usize> = (0..branches.len()).collect();
    order.sort_unstable_by_key(|b| (!main_path[branches[*b].0], height(branches[*b].0), *b));
    let mut lane_free_from: Vec<u64> = Vec::new();
    let mut branch_lane = vec![0u32; branches.len()];
    for b in order {
        let (first, last) = (height(branches[b].0), height(branches[b].1));
        let lane = match lane_free_from.iter().position(|free| *free <= first) {
            Some(lane) => lane,
            None => {
                lane_free_from.push(0);
                lane_free_from.len() - 1
            }
        };
        // One empty column after a branch keeps the next one in this lane
        // from looking like its continuation.
        lane_free_from[lane] = last + 2;
        branch_lane[b] = lane as u32;
    }
    for at in 0..n {
        lane_of[at] = branch_lane[branch_of[at]];
    }

    let mut tips_at: HashMap<usize, Vec<String>> = HashMap::new();
    for (node, tip) in tree.tips() {
        if let Some(at) = tree.position(tip) {
            tips_at.entry(at).or_default().push(node.clone());
        }
    }
    let any_tip_known = !tips_at.is_empty();
    let mut blocks: Vec<Placed> = by_height
        .iter()
        .map(|at| {
            let slot = &slots[*at];
            Placed {
                hash: slot.hash,
                height: slot.header.index,
                lane: lane_of[*at],
                parent_lane: slot.parent.map(|p| lane_of[p]),
                stale: any_tip_known && !active[*at],
                tip_of: tips_at.remove(at).unwrap_or_default(),
            }
        })
        .collect();
    blocks.sort_unstable_by_key(|b| (b.height, b.lane));
    Layout {
        min_height: blocks.first().map_or(0, |b| b.height),
        max_height: blocks.last().map_or(0, |b| b.height),
        lanes: lane_free_from.len() as u32,
        blocks,
    }
}

/// Branch colours: lane `k` is drawn in colour `k % LANE_COLOURS` (CSS
/// classes `lane-0` …), in the block tree and on the network graph alike,
/// so a node is filled with the colour of the branch its tip is on.
pub const LANE_COLOURS: u32 = 8;

pub fn lane_class(lane: u32) -> String {
    format!("lane-{}", lane % LANE_COLOURS)
}

/// The lane of each node's tip, by node id (nodes whose tip is not drawn
/// are left out).
pub fn tip_lanes(layout: &Layout) -> HashMap<String, u32> {
    layout
        .blocks
        .iter()
        .flat_map(|b| b.tip_of.iter().map(move |node| (node.clone(), b.lane)))
        .collect()
}

/// A tree for tests and the benchmark: one chain of `length` blocks from
/// genesis, with `forks` side branches near its end and a stale branch every
/// `stale_every` heights. Headers are made up (not mined): the layout only
/// needs heights and parents. Node tips are `node-0`, `node-1`, ….
pub fn synthetic_tree(length: u64, forks: u64, stale_every: u64) -> BlockTree {
    use shared::{CompactTarget, Header, MerkleRoot};
    let header = |index: u64, previous_hash: BlockHash, salt: u64| Header {
        version: Header::VERSION,
        index,
        timestamp: 1_767_225_600_000 + index * 1_000 + salt,
        previous_hash,
        merkle_root: MerkleRoot::ZERO,
        bits: CompactTarget::from_consensus(0x207f_ffff),
        proof: salt,
    };
    let mut tree = BlockTree::new();
    let mut main = Vec::with_capacity(length as usize);
    let mut parent = BlockHash::ZERO;
    for index in 0..length {
        let hash = tree
            .insert_header(header(index, parent, 0))
            .unwrap_or(parent);
        main.push(hash);
        parent = hash;
        if stale_every > 0 && index > 0 && index % stale_every == 0 {
            tree.insert_header(header(index, main[index as usize - 1], 7));
        }
    }
    let tip = main[main.len() - 1];
    tree.set_tip("node-0", tip);
    for fork in 1..forks {
        let start = length.saturating_sub(1 + 3 * fork).max(1);
        let mut parent = main[start as usize - 1];
        for index in start..(start + 2 + fork % 3) {
            parent = tree
                .insert_header(header(index, parent, 100 + fork))
                .unwrap_or(parent);
        }
        tree.set_tip(&format!("node-{fork}"), parent);
    }
    tree
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn main_chain_on_lane_zero_forks_below() {
        let tree = synthetic_tree(50, 3, 10);
        let layout = layout(&tree);
        assert_eq!(layout.blocks.len(), tree.len());
        assert_eq!(layout.min_height, 0);
        let main_tip = tree.main_tip().unwrap();
        let tip = layout.find(&main_tip).unwrap();
        assert_eq!(tip.lane, 0);
        assert!(!tip.stale);
        // The stale siblings every ten heights are off every best chain.
        let stale: Vec<_> = layout.blocks.iter().filter(|b| b.stale).collect();
        assert_eq!(stale.len(), 4);
        assert!(stale.iter().all(|b| b.lane > 0 && b.parent_lane == Some(0)));
        // Each node's tip is labelled with it.
        let labelled: usize = layout.blocks.iter().map(|b| b.tip_of.len()).sum();
        assert_eq!(labelled, 3);
        assert_no_shared_cells(&layout);
        assert!(layout.lanes >= 3);
        assert_eq!(layout.in_heights(10, 10).len(), 2);
        // The main chain's nodes get lane 0's colour, the forks others.
        let lanes = tip_lanes(&layout);
        assert_eq!(lanes.len(), 3);
        assert_eq!(lanes["node-0"], 0);
        assert!(lanes["node-1"] > 0 && lanes["node-2"] > 0);
        assert_ne!(lanes["node-1"], lanes["node-2"]);
        assert_eq!(lane_class(9), "lane-1");
    }

    /// No two blocks are drawn in the same (height, lane) cell.
    fn assert_no_shared_cells(layout: &Layout) {
        let mut cells = HashSet::new();
        assert!(
            layout
                .blocks
                .iter()
                .all(|b| cells.insert((b.height, b.lane)))
        );
    }

    #[test]
    fn ten_thousand_blocks_with_six_tips() {
        let tree = synthetic_tree(10_000, 6, 500);
        let layout = layout(&tree);
        assert_eq!(layout.blocks.len(), tree.len());
        assert_eq!(tree.tips().len(), 6);
        assert_no_shared_cells(&layout);
    }
}
