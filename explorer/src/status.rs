//! Where each node stands against the chain most nodes are on (the tree's
//! [`BlockTree::main_tip`]): in sync (at the majority tip, or ahead of it
//! on the same chain), lagging (behind on the same chain) or diverged (on
//! another branch, with the height where that branch left the majority
//! chain). What fork-observer shows per node, computed from the block tree
//! the page already keeps.
//!
//! One walk marks the majority chain; each tip then walks back only until
//! it meets that chain, so 100 nodes near the top of a 10 000-block tree
//! cost a few hundred steps.

use std::collections::BTreeMap;

use shared::BlockHash;

use crate::tree::BlockTree;

/// One node's place relative to the majority chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncStatus {
    /// At the majority tip, or `ahead` blocks past it on the same chain.
    InSync { ahead: u64 },
    /// On the majority chain, `behind` blocks below its tip.
    Lagging { behind: u64 },
    /// On another branch, which left the majority chain after the block at
    /// `fork_height` (`None`: the branch's loaded blocks never meet it).
    Diverged { fork_height: Option<u64> },
    /// The node's tip block is not in the tree (yet).
    Unknown,
}

impl SyncStatus {
    /// The word the page shows and the CSS class suffix.
    pub fn word(self) -> &'static str {
        match self {
            SyncStatus::InSync { .. } => "in sync",
            SyncStatus::Lagging { .. } => "lagging",
            SyncStatus::Diverged { .. } => "diverged",
            SyncStatus::Unknown => "unknown",
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            SyncStatus::InSync { .. } => "in-sync",
            SyncStatus::Lagging { .. } => "lagging",
            SyncStatus::Diverged { .. } => "diverged",
            SyncStatus::Unknown => "unknown",
        }
    }

    /// The status in a short sentence: "lagging 2 blocks",
    /// "diverged, fork at height 7".
    pub fn describe(self) -> String {
        match self {
            SyncStatus::InSync { ahead: 0 } => "in sync".to_owned(),
            SyncStatus::InSync { ahead } => format!("in sync, {ahead} ahead"),
            SyncStatus::Lagging { behind: 1 } => "lagging 1 block".to_owned(),
            SyncStatus::Lagging { behind } => format!("lagging {behind} blocks"),
            SyncStatus::Diverged {
                fork_height: Some(h),
            } => format!("diverged, fork at height {h}"),
            SyncStatus::Diverged { fork_height: None } => {
                "diverged, fork below the loaded blocks".to_owned()
            }
            SyncStatus::Unknown => "tip not loaded yet".to_owned(),
        }
    }
}

/// Every node with a known tip, by node id.
pub fn node_statuses(tree: &BlockTree) -> BTreeMap<String, SyncStatus> {
    let Some(main_tip) = tree.main_tip() else {
        return BTreeMap::new();
    };
    let slots = tree.slots();
    let mut on_main = vec![false; slots.len()];
    for at in tree.ancestor_positions(main_tip) {
        on_main[at] = true;
    }
    let main_at = tree.position(&main_tip);
    let main_height = main_at.map_or(0, |at| slots[at].header.index);
    tree.tips()
        .iter()
        .map(|(node, tip)| {
            (
                node.clone(),
                status_of(tree, &on_main, main_at, main_height, tip),
            )
        })
        .collect()
}

fn status_of(
    tree: &BlockTree,
    on_main: &[bool],
    main_at: Option<usize>,
    main_height: u64,
    tip: &BlockHash,
) -> SyncStatus {
    let Some(tip_at) = tree.position(tip) else {
        return SyncStatus::Unknown;
    };
    let slots = tree.slots();
    let tip_height = slots[tip_at].header.index;
    if on_main[tip_at] {
        return SyncStatus::Lagging {
            behind: main_height - tip_height,
        }
        .or_in_sync();
    }
    for at in tree.ancestor_positions(*tip) {
        if Some(at) == main_at {
            return SyncStatus::InSync {
                ahead: tip_height - main_height,
            };
        }
        if on_main[at] {
            return SyncStatus::Diverged {
                fork_height: Some(slots[at].header.index),
            };
        }
    }
    SyncStatus::Diverged { fork_height: None }
}

impl SyncStatus {
    /// Lagging by nothing is in sync.
    fn or_in_sync(self) -> Self {
        match self {
            SyncStatus::Lagging { behind: 0 } => SyncStatus::InSync { ahead: 0 },
            other => other,
        }
    }
}

/// Where `hash` (a stale block, say) left the majority chain: the height
/// of its newest ancestor on that chain, or `None` when it is on it or
/// its loaded ancestors never meet it.
pub fn fork_point(tree: &BlockTree, hash: &BlockHash) -> Option<u64> {
    let main_tip = tree.main_tip()?;
    let slots = tree.slots();
    let mut on_main = vec![false; slots.len()];
    for at in tree.ancestor_positions(main_tip) {
        on_main[at] = true;
    }
    let start = tree.position(hash)?;
    if on_main[start] {
        return None;
    }
    tree.ancestor_positions(*hash)
        .find(|at| on_main[*at])
        .map(|at| slots[at].header.index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::synthetic_tree;

    fn tip_height(tree: &BlockTree, node: &str) -> u64 {
        tree.header(&tree.tips()[node]).unwrap().index
    }

    #[test]
    fn the_majority_is_in_sync_and_a_fork_is_diverged_with_its_fork_point() {
        // node-0 at the main tip (height 29), node-1..3 on forks near the end.
        let mut tree = synthetic_tree(30, 4, 0);
        let main = tree.tips()["node-0"];
        // Two more nodes on the main tip make it the majority.
        tree.set_tip("m1", main);
        tree.set_tip("m2", main);
        let statuses = node_statuses(&tree);
        assert_eq!(statuses["node-0"], SyncStatus::InSync { ahead: 0 });
        assert_eq!(statuses["m1"], SyncStatus::InSync { ahead: 0 });
        // synthetic_tree's fork k starts at height 29 - 3k, on the block below.
        for (node, start) in [("node-1", 26), ("node-2", 23), ("node-3", 20)] {
            assert_eq!(
                statuses[node],
                SyncStatus::Diverged {
                    fork_height: Some(start - 1)
                },
                "{node}"
            );
            assert_eq!(
                fork_point(&tree, &tree.tips()[node]),
                Some(start - 1),
                "{node}"
            );
        }
        assert_eq!(fork_point(&tree, &main), None, "the main tip is on it");
    }

    #[test]
    fn a_node_behind_on_the_same_chain_is_lagging_and_one_ahead_is_in_sync() {
        let mut tree = synthetic_tree(20, 1, 0);
        let main = tree.tips()["node-0"];
        tree.set_tip("m1", main);
        let behind: Vec<BlockHash> = tree.ancestors(main).take(4).collect();
        tree.set_tip("slow", behind[3]);
        let statuses = node_statuses(&tree);
        assert_eq!(statuses["slow"], SyncStatus::Lagging { behind: 3 });
        assert_eq!(statuses["slow"].describe(), "lagging 3 blocks");

        // One node mines on top: the majority (two nodes) is still at
        // `main`, and the miner is ahead on the same chain, not diverged.
        let parent = *tree.header(&main).unwrap();
        let next = shared::Header {
            index: parent.index + 1,
            previous_hash: main,
            ..parent
        };
        let new = tree.insert_header(next).unwrap();
        tree.set_tip("miner", new);
        let statuses = node_statuses(&tree);
        assert_eq!(tip_height(&tree, "miner"), 20);
        assert_eq!(statuses["miner"], SyncStatus::InSync { ahead: 1 });
        assert_eq!(statuses["m1"], SyncStatus::InSync { ahead: 0 });
    }

    #[test]
    fn an_unloaded_tip_is_unknown_and_an_empty_tree_has_no_statuses() {
        assert!(node_statuses(&BlockTree::new()).is_empty());
        let mut tree = synthetic_tree(5, 1, 0);
        tree.set_tip("far", BlockHash::from_bytes([9; 32]));
        let statuses = node_statuses(&tree);
        assert_eq!(statuses["far"], SyncStatus::Unknown);
        assert_eq!(statuses["node-0"], SyncStatus::InSync { ahead: 0 });
    }

    #[test]
    fn a_branch_whose_root_is_missing_is_diverged_without_a_fork_point() {
        let mut tree = synthetic_tree(10, 1, 0);
        let main = tree.tips()["node-0"];
        tree.set_tip("m1", main);
        // A block whose parent the page never loaded.
        let orphan = shared::Header {
            index: 50,
            previous_hash: BlockHash::from_bytes([5; 32]),
            ..*tree.header(&main).unwrap()
        };
        let hash = tree.insert_header(orphan).unwrap();
        tree.set_tip("lost", hash);
        assert_eq!(
            node_statuses(&tree)["lost"],
            SyncStatus::Diverged { fork_height: None }
        );
        assert_eq!(fork_point(&tree, &hash), None);
    }
}
