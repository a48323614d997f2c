//! The block tree on its own: real regtest blocks (mined with `shared`),
//! offered in the orders a network delivers them.

use shared::api::TipStatus;
use shared::{Block, BlockHash, ChainParams, Header, MerkleRoot, Preset, Rejection, extend_chain};

use super::{BlockTree, Inserted, MAX_INVALID, MAX_ORPHANS, Offer, Validated, Verdict};

fn params() -> ChainParams {
    Preset::Regtest.params()
}

/// The clock the tree is asked with: long after every test block.
fn now() -> u64 {
    params().genesis.header.timestamp + 1_000_000_000
}

fn genesis() -> Vec<Block> {
    vec![params().genesis]
}

/// `count` blocks mined by `miner` on top of `chain` (genesis first), one
/// second apart. Different miners give different blocks at one height.
fn extend(chain: &[Block], count: usize, miner: &str) -> Vec<Block> {
    let params = params();
    let mut grown = chain.to_vec();
    let mut time = chain[chain.len() - 1].header.timestamp;
    extend_chain(&params, &mut grown, count, miner, || {
        time += 1_000;
        time
    });
    assert_eq!(grown.len(), chain.len() + count, "extend_chain gave up");
    grown.split_off(chain.len())
}

fn joined(a: &[Block], b: &[Block]) -> Vec<Block> {
    [a, b].concat()
}

/// Validates and inserts, as the node does (minus the disk).
fn offer(tree: &mut BlockTree, block: &Block) -> Result<Inserted, Verdict> {
    let validated = tree.validate_block(block, now())?;
    Ok(tree
        .insert_block(block.clone(), validated)
        .expect("validated and not inserted since"))
}

fn offer_all(tree: &mut BlockTree, blocks: &[Block]) -> Vec<Inserted> {
    blocks
        .iter()
        .map(|b| offer(tree, b).unwrap_or_else(|v| panic!("block {}: {v:?}", b.header.index)))
        .collect()
}

fn headers(blocks: &[Block]) -> Vec<Header> {
    blocks.iter().map(|b| b.header).collect()
}

fn hashes(blocks: &[Block]) -> Vec<BlockHash> {
    blocks.iter().map(|b| b.hash).collect()
}

fn active_hashes(tree: &BlockTree) -> Vec<BlockHash> {
    tree.active_blocks(0, usize::MAX)
        .iter()
        .map(|b| b.hash)
        .collect()
}

/// Every tip as (hash, status, branch length).
fn tips(tree: &BlockTree) -> Vec<(BlockHash, TipStatus, u64)> {
    tree.tips()
        .iter()
        .map(|t| (t.hash, t.status, t.branch_length))
        .collect()
}

/// `block` with a merkle root that does not match its entries, re-mined so
/// that only the merkle rule fails.
fn with_wrong_merkle_root(block: &Block) -> Block {
    let mut header = block.header;
    header.merkle_root = MerkleRoot::from_bytes([7; 32]);
    shared::solve(Block {
        header,
        ..block.clone()
    })
    .expect("a regtest proof")
}

#[test]
fn a_new_tree_holds_genesis_as_its_only_active_tip() {
    let tree = BlockTree::new(params());
    assert_eq!(tree.height(), 0);
    assert_eq!(tree.best_hash(), params().genesis.hash);
    assert_eq!(tips(&tree), [(params().genesis.hash, TipStatus::Active, 0)]);
}

#[test]
fn blocks_in_order_extend_the_best_chain() {
    let chain = extend(&genesis(), 3, "a");
    let mut tree = BlockTree::new(params());
    let inserted = offer_all(&mut tree, &chain);
    assert!(inserted.iter().all(|i| i.active && i.reorg.is_none()));
    assert_eq!(inserted[2].height, 3);
    assert_eq!(inserted[2].previous_hash, chain[1].hash);
    assert_eq!(tree.height(), 3);
    assert_eq!(tree.best_hash(), chain[2].hash);
    assert_eq!(active_hashes(&tree), hashes(&joined(&genesis(), &chain)));
    let one = params().genesis.header.bits.to_target().unwrap().to_work();
    assert_eq!(tree.best_work(), one + one + one + one);
}

#[test]
fn a_known_block_is_a_duplicate() {
    let chain = extend(&genesis(), 1, "a");
    let mut tree = BlockTree::new(params());
    offer_all(&mut tree, &chain);
    assert!(matches!(
        offer(&mut tree, &chain[0]),
        Err(Verdict::Offer(Offer::Duplicate))
    ));
    assert!(matches!(
        offer(&mut tree, &params().genesis),
        Err(Verdict::Offer(Offer::Duplicate))
    ));
    assert_eq!(tree.tips().len(), 1);
}

#[test]
fn a_block_being_stored_is_not_validated_again_and_its_child_waits_for_it() {
    let chain = extend(&genesis(), 2, "a");
    let mut tree = BlockTree::new(params());
    // Validated: the node now commits it, without the tree.
    let first = tree.validate_block(&chain[0], now()).unwrap();
    assert_eq!(
        tree.validate_block(&chain[0], now()).unwrap_err(),
        Verdict::Offer(Offer::BeingStored)
    );
    assert_eq!(
        tree.validate_block(&chain[1], now()).unwrap_err(),
        Verdict::Offer(Offer::AfterParent {
            parent: chain[0].hash
        })
    );
    assert!(!tree.has_block(&chain[0].hash), "in the tree before stored");
    let inserted = tree.insert_block(chain[0].clone(), first).unwrap();
    assert!(inserted.active);
    let waiting = tree.take_orphans(&chain[0].hash);
    assert_eq!(hashes(&waiting), [chain[1].hash]);
    offer(&mut tree, &waiting[0]).unwrap();
    assert_eq!(active_hashes(&tree), hashes(&joined(&genesis(), &chain)));
    assert_eq!(tree.children[&chain[0].hash], [chain[1].hash]);
}

#[test]
fn an_abandoned_block_is_validated_afresh_and_inserted_once() {
    let chain = extend(&genesis(), 1, "a");
    let mut tree = BlockTree::new(params());
    // The commit failed: the next copy starts over.
    let failed = tree.validate_block(&chain[0], now()).unwrap();
    tree.abandon(failed);
    let again = tree.validate_block(&chain[0], now()).unwrap();
    assert!(tree.insert_block(chain[0].clone(), again).is_some());
    // A second insert of the same block (only restore makes a `Validated`
    // by hand) changes nothing.
    let restored = Validated {
        hash: chain[0].hash,
        target: chain[0].header.bits.to_target().unwrap(),
    };
    assert_eq!(tree.insert_block(chain[0].clone(), restored), None);
    assert_eq!(tree.children[&params().genesis.hash], [chain[0].hash]);
    assert_eq!(tree.tips().len(), 1);
}

#[test]
fn the_branch_with_most_work_becomes_best() {
    let a = extend(&genesis(), 2, "a");
    let b = extend(&genesis(), 3, "b");
    let mut tree = BlockTree::new(params());
    offer_all(&mut tree, &a);
    let inserted = offer_all(&mut tree, &b);
    // b1 has less work, b2 only as much (a2 was first): no switch yet.
    assert!(!inserted[0].active && !inserted[1].active);
    assert_eq!(inserted[1].reorg, None);
    let reorg = inserted[2].reorg.clone().expect("b3 has the most work");
    assert!(inserted[2].active);
    assert_eq!(reorg.old_tip, a[1].hash);
    assert_eq!(reorg.new_tip, b[2].hash);
    assert_eq!(
        (reorg.depth, reorg.fork_height, reorg.new_height),
        (2, 0, 3)
    );
    assert_eq!(active_hashes(&tree), hashes(&joined(&genesis(), &b)));
}

#[test]
fn equal_work_goes_to_the_first_seen() {
    let a = extend(&genesis(), 1, "a");
    let b = extend(&genesis(), 1, "b");
    for (first, second) in [(&a, &b), (&b, &a)] {
        let mut tree = BlockTree::new(params());
        offer_all(&mut tree, first);
        let later = offer(&mut tree, &second[0]).unwrap();
        assert!(!later.active);
        assert_eq!(later.reorg, None);
        assert_eq!(tree.best_hash(), first[0].hash);
    }
}

#[test]
fn a_child_before_its_parent_waits_as_an_orphan() {
    let chain = extend(&genesis(), 3, "a");
    let mut tree = BlockTree::new(params());
    for block in [&chain[2], &chain[1]] {
        assert_eq!(
            offer(&mut tree, block).unwrap_err(),
            Verdict::Offer(Offer::Orphan {
                missing: block.header.previous_hash
            })
        );
    }
    assert_eq!(tree.height(), 0);
    assert!(!tree.has_block(&chain[2].hash));

    // The parent arrives; what waited for it joins, in turn.
    offer(&mut tree, &chain[0]).unwrap();
    let freed = tree.take_orphans(&chain[0].hash);
    assert_eq!(hashes(&freed), [chain[1].hash]);
    offer(&mut tree, &freed[0]).unwrap();
    let freed = tree.take_orphans(&chain[1].hash);
    assert_eq!(hashes(&freed), [chain[2].hash]);
    offer(&mut tree, &freed[0]).unwrap();
    assert_eq!(tree.best_hash(), chain[2].hash);
    assert!(tree.take_orphans(&chain[1].hash).is_empty(), "taken twice");
}

#[test]
fn the_orphan_pool_drops_the_oldest_beyond_its_bound() {
    let mut tree = BlockTree::new(params());
    let template = extend(&genesis(), 1, "a").remove(0);
    // Orphans are kept before any check of their own, so they need no proof.
    let orphans: Vec<Block> = (0..=MAX_ORPHANS)
        .map(|i| {
            let mut header = template.header;
            let mut parent = [0xee; 32];
            parent[..8].copy_from_slice(&(i as u64).to_le_bytes());
            header.previous_hash = BlockHash::from_bytes(parent);
            Block::assemble(header, template.entries.clone())
        })
        .collect();
    for orphan in &orphans {
        assert!(matches!(
            offer(&mut tree, orphan),
            Err(Verdict::Offer(Offer::Orphan { .. }))
        ));
    }
    assert!(
        tree.take_orphans(&orphans[0].header.previous_hash)
            .is_empty()
    );
    assert_eq!(
        hashes(&tree.take_orphans(&orphans[MAX_ORPHANS].header.previous_hash)),
        [orphans[MAX_ORPHANS].hash]
    );
    assert_eq!(
        hashes(&tree.take_orphans(&orphans[1].header.previous_hash)),
        [orphans[1].hash]
    );
}

#[test]
fn headers_first_then_bodies() {
    let chain = extend(&genesis(), 3, "a");
    let mut tree = BlockTree::new(params());
    let missing = tree.insert_headers(&headers(&chain), now()).unwrap();
    assert_eq!(missing, hashes(&chain));
    // Headers alone never move the best tip: there is nothing to serve.
    assert_eq!(tree.height(), 0);
    assert!(!tree.has_block(&chain[0].hash));
    assert!(tips(&tree).contains(&(chain[2].hash, TipStatus::HeadersOnly, 3)));
    // The same headers again: still missing, nothing added twice.
    assert_eq!(
        tree.insert_headers(&headers(&chain), now()).unwrap(),
        missing
    );

    let inserted = offer_all(&mut tree, &chain);
    assert!(inserted.iter().all(|i| i.active));
    assert_eq!(tree.best_hash(), chain[2].hash);
    assert_eq!(tips(&tree), [(chain[2].hash, TipStatus::Active, 0)]);
    assert!(
        tree.insert_headers(&headers(&chain), now())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn headers_that_connect_to_nothing_are_refused() {
    let chain = extend(&genesis(), 3, "a");
    let mut tree = BlockTree::new(params());
    let (hash, reason) = tree
        .insert_headers(&headers(&chain[1..]), now())
        .unwrap_err();
    assert_eq!(hash, chain[1].hash);
    assert_eq!(
        reason,
        Rejection::WrongPreviousHash {
            expected: BlockHash::ZERO,
            found: chain[0].hash
        }
    );
    assert_eq!(tree.tips().len(), 1, "nothing was added");
}

#[test]
fn a_bad_header_keeps_the_good_ones_before_it_and_is_remembered() {
    let chain = extend(&genesis(), 4, "a");
    let mut batch = headers(&chain);
    batch[2].bits = shared::CompactTarget::from_consensus(0x1f00_ffff);
    let bad = batch[2].block_hash();
    let mut tree = BlockTree::new(params());
    let (hash, reason) = tree.insert_headers(&batch, now()).unwrap_err();
    assert_eq!(hash, bad);
    assert!(matches!(reason, Rejection::WrongBits { .. }), "{reason}");
    let tips = tips(&tree);
    assert!(
        tips.contains(&(chain[1].hash, TipStatus::HeadersOnly, 2)),
        "{tips:?}"
    );
    assert!(tips.contains(&(bad, TipStatus::Invalid, 3)), "{tips:?}");
    // Asked again, the cache answers with the same reason.
    assert_eq!(
        tree.insert_headers(&batch[2..3], now()).unwrap_err(),
        (bad, reason)
    );
}

#[test]
fn an_invalid_block_is_remembered_with_its_reason() {
    let chain = extend(&genesis(), 1, "a");
    let bad = with_wrong_merkle_root(&chain[0]);
    let mut tree = BlockTree::new(params());
    let Err(Verdict::Invalid(reason)) = offer(&mut tree, &bad) else {
        panic!("a wrong merkle root was accepted");
    };
    assert!(
        matches!(reason, Rejection::WrongMerkleRoot { .. }),
        "{reason}"
    );
    assert_eq!(
        offer(&mut tree, &bad).unwrap_err(),
        Verdict::Invalid(reason)
    );
    assert!(tips(&tree).contains(&(bad.hash, TipStatus::Invalid, 1)));
    assert_eq!(tree.height(), 0);
    // Its header, too, is refused from now on.
    assert!(tree.insert_headers(&[bad.header], now()).is_err());
    // The honest block at that height is unaffected.
    offer(&mut tree, &chain[0]).unwrap();
    assert_eq!(tree.best_hash(), chain[0].hash);
}

#[test]
fn the_invalid_cache_is_bounded() {
    let template = extend(&genesis(), 1, "a").remove(0);
    let mut tree = BlockTree::new(params());
    // A wrong merkle root fails before any proof of work is looked at, so
    // these need not be mined.
    for proof in 0..=MAX_INVALID as u64 {
        let mut header = template.header;
        header.merkle_root = MerkleRoot::from_bytes([7; 32]);
        header.proof = proof;
        let block = Block {
            hash: header.block_hash(),
            header,
            entries: template.entries.clone(),
        };
        assert!(matches!(
            offer(&mut tree, &block),
            Err(Verdict::Invalid(Rejection::WrongMerkleRoot { .. }))
        ));
        assert!(tree.invalid.len() <= MAX_INVALID);
    }
    let last = MAX_INVALID as u64;
    assert!(tree.invalid.values().any(|(h, _)| h.proof == last));
}

#[test]
fn a_block_from_the_future_may_come_back_later() {
    let chain = extend(&genesis(), 1, "a");
    let mut tree = BlockTree::new(params());
    let early = chain[0].header.timestamp - params().max_future_drift_ms - 1;
    let Err(Verdict::Invalid(reason)) = tree.validate_block(&chain[0], early) else {
        panic!("a block from the future was accepted");
    };
    assert!(matches!(reason, Rejection::TimestampTooFarAhead { .. }));
    assert!(tips(&tree).iter().all(|t| t.1 != TipStatus::Invalid));
    offer(&mut tree, &chain[0]).unwrap();
    assert_eq!(tree.best_hash(), chain[0].hash);
}

#[test]
fn a_wrong_stated_hash_does_not_condemn_the_real_block() {
    let chain = extend(&genesis(), 1, "a");
    let mut lying = chain[0].clone();
    lying.hash = BlockHash::from_bytes([1; 32]);
    let mut tree = BlockTree::new(params());
    assert!(matches!(
        offer(&mut tree, &lying),
        Err(Verdict::Invalid(Rejection::BadEncoding(
            shared::EncodingError::HashMismatch { .. }
        )))
    ));
    offer(&mut tree, &chain[0]).unwrap();
    assert_eq!(tree.best_hash(), chain[0].hash);
}

#[test]
fn descendants_of_an_invalid_block_never_join() {
    let honest = extend(&genesis(), 1, "a");
    let bad = with_wrong_merkle_root(&honest[0]);
    // Children mined on the invalid block.
    let children = extend(&joined(&genesis(), std::slice::from_ref(&bad)), 2, "b");
    let mut tree = BlockTree::new(params());
    assert!(matches!(offer(&mut tree, &bad), Err(Verdict::Invalid(_))));
    for child in &children {
        assert!(matches!(
            offer(&mut tree, child),
            Err(Verdict::Offer(Offer::Orphan { .. }))
        ));
    }
    assert!(tree.take_orphans(&bad.hash).len() == 1);
    assert_eq!(tree.height(), 0);
    assert!(!tree.has_block(&children[1].hash));
    // As headers, the chain stops at the invalid one.
    let batch = headers(&joined(std::slice::from_ref(&bad), &children));
    assert_eq!(tree.insert_headers(&batch, now()).unwrap_err().0, bad.hash);
    assert!(tips(&tree).iter().all(|t| t.0 != children[1].hash));
}

#[test]
fn a_header_whose_block_proved_invalid_is_refused_from_then_on() {
    let chain = extend(&genesis(), 1, "a");
    let bad = with_wrong_merkle_root(&chain[0]);
    let on_bad = joined(&genesis(), std::slice::from_ref(&bad));
    let peer_chain = joined(std::slice::from_ref(&bad), &extend(&on_bad, 1, "a"));
    let mut tree = BlockTree::new(params());
    // The header is fine (the merkle root cannot be checked without the
    // entries) ...
    assert_eq!(
        tree.insert_headers(&headers(&peer_chain), now()).unwrap(),
        hashes(&peer_chain)
    );
    // ... the body is not ...
    assert!(matches!(offer(&mut tree, &bad), Err(Verdict::Invalid(_))));
    // ... and the next sync round stops there.
    assert_eq!(
        tree.insert_headers(&headers(&peer_chain), now())
            .unwrap_err()
            .0,
        bad.hash
    );
}

#[test]
fn tips_show_every_status() {
    let active = extend(&genesis(), 2, "active");
    let fork = extend(&genesis(), 1, "fork");
    let headers_only = extend(&genesis(), 3, "headers");
    let invalid = with_wrong_merkle_root(&extend(&genesis(), 1, "invalid")[0]);
    let mut tree = BlockTree::new(params());
    offer_all(&mut tree, &active);
    offer_all(&mut tree, &fork);
    tree.insert_headers(&headers(&headers_only), now()).unwrap();
    assert!(offer(&mut tree, &invalid).is_err());

    let mut expected = vec![
        (active[1].hash, TipStatus::Active, 0),
        (fork[0].hash, TipStatus::ValidFork, 1),
        (headers_only[2].hash, TipStatus::HeadersOnly, 3),
        (invalid.hash, TipStatus::Invalid, 1),
    ];
    expected.sort_by_key(|t| t.0);
    let mut got = tips(&tree);
    got.sort_by_key(|t| t.0);
    assert_eq!(got, expected);
    // Highest first.
    assert_eq!(tree.tips()[0].height, 3);
}

#[test]
fn a_hundred_block_reorg() {
    let shared_part = extend(&genesis(), 10, "both");
    let prefix = joined(&genesis(), &shared_part);
    let old = extend(&prefix, 100, "old");
    let new = extend(&prefix, 101, "new");
    let mut tree = BlockTree::new(params());
    offer_all(&mut tree, &shared_part);
    offer_all(&mut tree, &old);
    let inserted = offer_all(&mut tree, &new);
    // Up to equal work the first-seen branch stays.
    assert!(
        inserted[..100]
            .iter()
            .all(|i| !i.active && i.reorg.is_none())
    );
    let reorg = inserted[100].reorg.clone().expect("the longer branch wins");
    assert_eq!(reorg.old_tip, old[99].hash);
    assert_eq!(reorg.new_tip, new[100].hash);
    assert_eq!(
        (reorg.depth, reorg.fork_height, reorg.new_height),
        (100, 10, 111)
    );
    assert_eq!(active_hashes(&tree), hashes(&joined(&prefix, &new)));
    assert!(tips(&tree).contains(&(old[99].hash, TipStatus::ValidFork, 100)));
    // The old branch's event as the node sends it.
    let shared::events::EventKind::ChainReorganized {
        depth, fork_height, ..
    } = reorg.event()
    else {
        panic!("not a reorg event");
    };
    assert_eq!((depth, fork_height), (100, 10));
}

#[test]
fn restore_rebuilds_the_same_tree_from_blocks_in_any_order() {
    let a = extend(&genesis(), 4, "a");
    let b = extend(&genesis(), 5, "b");
    let mut live = BlockTree::new(params());
    offer_all(&mut live, &a);
    offer_all(&mut live, &b);

    let mut stored = joined(&a, &b);
    stored.reverse();
    let mut restored = BlockTree::new(params());
    restored.restore(stored);
    assert_eq!(restored.best_hash(), live.best_hash());
    assert_eq!(restored.best_work(), live.best_work());
    assert_eq!(active_hashes(&restored), active_hashes(&live));
    let (mut x, mut y) = (tips(&restored), tips(&live));
    x.sort_by_key(|t| t.0);
    y.sort_by_key(|t| t.0);
    assert_eq!(x, y);
}

#[test]
fn a_locator_finds_the_fork_point_and_headers_follow_it() {
    let chain = extend(&genesis(), 30, "a");
    let mut tree = BlockTree::new(params());
    offer_all(&mut tree, &chain);
    let locator = tree.locator();
    assert_eq!(
        &locator[..10],
        &hashes(&chain[20..]).into_iter().rev().collect::<Vec<_>>()
    );
    assert_eq!(locator.last(), Some(&params().genesis.hash));
    assert!(locator.len() < 20);

    // A peer at height 5 of the same chain, with one unknown hash first.
    let peer_locator = [BlockHash::from_bytes([9; 32]), chain[4].hash];
    let after = tree.headers_after(&peer_locator, 10);
    assert_eq!(after, headers(&chain[5..15]));
    // Nothing in common: from genesis on.
    assert_eq!(tree.headers_after(&[], 2), headers(&chain[..2]));
    // Ancestry for the next block ends at the tip.
    let (context, tip) = tree.tip_context();
    assert_eq!(tip, chain[29].hash);
    assert_eq!(context.last(), Some(&chain[29].header));
    assert_eq!(context.len(), params().context_len());
}

#[test]
fn a_locator_from_a_headers_only_tip_walks_its_own_ancestry() {
    let chain = extend(&genesis(), 30, "a");
    let mut tree = BlockTree::new(params());
    let headers = headers(&chain);
    let missing = tree.insert_headers(&headers, now()).expect("valid headers");
    assert_eq!(missing.len(), 30);
    let locator = tree.locator_from(chain[29].hash);
    assert_eq!(
        &locator[..10],
        &hashes(&chain[20..]).into_iter().rev().collect::<Vec<_>>()
    );
    // Steps double after ten, and genesis ends it.
    assert_eq!(locator[10], chain[18].hash);
    assert_eq!(locator[11], chain[14].hash);
    assert_eq!(locator.last(), Some(&params().genesis.hash));
    // The best (block) chain is still genesis alone.
    assert_eq!(tree.locator(), vec![params().genesis.hash]);
}
