//! The lab chain against real node processes: capped miners on a fixed
//! difficulty, a second node that accepts every block, nodes on other lab
//! parameters that refuse each other, and the flags' errors.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{EventStream, TestNode, converge, peers, wait_until};
use shared::ChainParams;
use shared::api::{ChainBody, LinkState};
use shared::events::EventKind;

/// Mean block interval: 500 ms at 20 000 attempts a second in total.
const INTERVAL_MS: &str = "500";
const RATE: &str = "20000";

fn lab_args<'a>(interval_ms: &'a str, rate: &'a str) -> Vec<&'a str> {
    vec![
        "--chain",
        "lab",
        "--block-interval-ms",
        interval_ms,
        "--network-hashrate",
        rate,
    ]
}

/// The miner alone holds the network's whole hash rate, so blocks come
/// every 500 ms on average; the test prints the mean it saw.
#[tokio::test]
async fn a_capped_lab_miner_makes_blocks_at_the_lab_bits_that_a_second_node_accepts() {
    let params = ChainParams::lab(500, 20_000).unwrap();
    let mut miner_args = lab_args(INTERVAL_MS, RATE);
    miner_args.extend(["--hashrate", RATE]);
    let miner = TestNode::start_with(&miner_args);
    let mut follower_args = lab_args(INTERVAL_MS, RATE);
    follower_args.extend(["--peer", miner.address.as_str()]);
    let follower = TestNode::start_with(&follower_args);
    let status = miner.status().await;
    assert_eq!(status.chain, "lab");
    assert_eq!(status.hashrate_limit, 20_000);
    assert_eq!(status.best_hash, params.genesis.hash);
    // What /status says is enough to rebuild the rules (the explorer's
    // validation does).
    assert_eq!(
        status.lab,
        Some(shared::LabChain {
            block_interval_ms: 500,
            network_attempts_per_sec: 20_000
        })
    );
    assert_eq!(
        shared::chain_params(&status.chain, status.lab),
        Ok(params.clone())
    );
    wait_until(
        "the two lab nodes linked",
        100,
        Duration::from_millis(100),
        || async {
            let links = peers(&follower).await;
            links
                .iter()
                .any(|l| l.state == LinkState::Connected)
                .then_some(())
        },
    )
    .await;

    let mut follower_events = EventStream::of_node(&follower).await;
    assert_eq!(miner.post("/mining/start").await.status(), 200);
    const BLOCKS: u64 = 20;
    // 20 blocks at a 500 ms mean: seconds; 240 s is the bound, not a target.
    wait_until(
        "20 lab blocks",
        2400,
        Duration::from_millis(100),
        || async { (miner.status().await.height >= BLOCKS).then_some(()) },
    )
    .await;
    assert_eq!(miner.post("/mining/stop").await.status(), 200);
    let height = miner.status().await.height;
    let nodes = [miner, follower];
    converge("the follower did not take the lab chain", &nodes, height).await;
    let [miner, follower] = nodes;

    let chain: ChainBody = miner.get("/chain").await;
    let followed: ChainBody = follower.get("/chain").await;
    assert_eq!(chain.chain, followed.chain);
    assert!(
        chain
            .chain
            .iter()
            .all(|b| b.header.bits == params.initial_bits),
        "a block is not at the lab bits {}",
        params.initial_bits
    );
    // Everything the follower got it accepted, and nothing was rejected.
    let mut accepted = 0;
    while let Some(event) = follower_events
        .next_within(Duration::from_millis(500))
        .await
    {
        match event.kind {
            EventKind::BlockAccepted { .. } => accepted += 1,
            EventKind::BlockRejected { reason, .. } => panic!("follower rejected {reason:?}"),
            _ => {}
        }
    }
    assert_eq!(accepted, height, "blocks accepted by the follower");

    // From block 1: the genesis time is fixed long before the run.
    let mined = &chain.chain[1..];
    let span = mined.last().unwrap().header.timestamp - mined[0].header.timestamp;
    let intervals = mined.len() as u64 - 1;
    println!(
        "lab 500 ms at 20000/s, one node capped at 20000/s: mean interval {} ms over {intervals} intervals",
        span / intervals
    );
}

#[tokio::test]
async fn lab_nodes_on_other_parameters_refuse_each_other_and_say_why() {
    let first = TestNode::start_with(&lab_args("1000", "20000"));
    let mut args = lab_args("1000", "20001");
    args.extend(["--peer", first.address.as_str()]);
    let second = TestNode::start_with(&args);
    let reason = wait_until(
        "a refused link",
        100,
        Duration::from_millis(100),
        || async {
            let links = peers(&second).await;
            assert!(
                links.iter().all(|l| l.state != LinkState::Connected),
                "{links:?}"
            );
            links.iter().find_map(|l| l.last_error.clone())
        },
    )
    .await;
    assert!(reason.contains("another chain"), "{reason}");
    assert!(reason.contains("lab parameters"), "{reason}");
}

/// Runs the node with `args` and returns its exit code and stderr.
fn refused(args: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(node::testing::node_program())
        .args(["-p", "0", "--data-dir"])
        .arg(dir.path())
        .args(args)
        .env("RUST_BACKTRACE", "0")
        .stdin(Stdio::null())
        .output()
        .expect("run the node");
    assert!(
        !String::from_utf8_lossy(&output.stdout).contains("listening"),
        "{args:?} started a node"
    );
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn lab_without_its_parameters_is_refused() {
    for args in [
        &["--chain", "lab"][..],
        &["--chain", "lab", "--block-interval-ms", "1000"],
        &["--chain", "lab", "--network-hashrate", "1000"],
    ] {
        let (code, stderr) = refused(args);
        assert_ne!(code, Some(0), "{args:?}");
        assert!(stderr.contains("required"), "{args:?}: {stderr}");
    }
}

#[test]
fn lab_parameters_with_another_preset_are_refused() {
    for chain in ["default", "regtest"] {
        let (code, stderr) = refused(&["--chain", chain, "--block-interval-ms", "1000"]);
        assert_ne!(code, Some(0), "{chain}");
        assert!(
            stderr.contains("only go with --chain lab"),
            "{chain}: {stderr}"
        );
    }
}

#[test]
fn bad_lab_parameters_are_refused() {
    for (interval, rate, says) in [
        ("0", "1000", "interval"),
        ("1000", "0", "hash rate"),
        ("1000", "1", "easier than the easiest target"),
    ] {
        let (code, stderr) = refused(&lab_args(interval, rate));
        assert_ne!(code, Some(0), "{interval} {rate}");
        assert!(stderr.contains(says), "{interval} {rate}: {stderr}");
    }
}
