//! The hash power cap against real node processes: `--hashrate`, changing
//! it live with `POST /mining/hashrate`, what the miner measures under it,
//! and every bad body.

mod common;

use std::time::Duration;

use common::{TestNode, http_client, wait_until};
use serde_json::json;
use shared::api::{ErrorBody, HashrateBody, StatusBody};

/// How far a measured rate may sit above its cap: float rounding only, as
/// the pacing makes every measured stretch at least its attempts' worth.
fn at_most_cap(rate: f64, cap: u64) -> bool {
    rate <= cap as f64 * 1.000_001 + 1e-6
}

/// Samples `/status` `count` times, 100 ms apart, returning the rates.
async fn sampled_rates(node: &TestNode, count: usize) -> Vec<f64> {
    let mut rates = Vec::with_capacity(count);
    for _ in 0..count {
        rates.push(node.status().await.hash_rate);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    rates
}

#[tokio::test]
async fn the_flag_sets_the_cap_and_the_endpoint_changes_it() {
    let node = TestNode::start_with(&["--hashrate", "5000"]);
    assert_eq!(node.status().await.hashrate_limit, 5000);

    let response = node
        .post_json("/mining/hashrate", &json!({"attempts_per_sec": 20_000}))
        .await;
    assert_eq!(response.status(), 200);
    let body: HashrateBody = response.json().await.unwrap();
    assert_eq!(body.attempts_per_sec, 20_000);
    assert_eq!(node.status().await.hashrate_limit, 20_000);

    let response = node
        .post_json("/mining/hashrate", &json!({"attempts_per_sec": 0}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(node.status().await.hashrate_limit, 0);
}

#[tokio::test]
async fn an_uncapped_node_reports_no_limit() {
    let node = TestNode::start();
    assert_eq!(node.status().await.hashrate_limit, 0);
}

/// On the default chain a block takes ~2^24 attempts, minutes at these
/// caps, so the miner runs slice after slice: its steady state.
#[tokio::test]
async fn a_capped_miner_never_measures_above_its_cap_even_after_a_change() {
    let node = TestNode::start_with(&["--chain", "default", "--hashrate", "50000"]);
    assert_eq!(node.post("/mining/start").await.status(), 200);
    wait_until(
        "a measured rate",
        100,
        Duration::from_millis(100),
        || async { (node.status().await.hash_rate > 0.0).then_some(()) },
    )
    .await;
    let rates = sampled_rates(&node, 20).await;
    println!("capped at 50000/s, measured: {rates:?}");
    assert!(rates.iter().all(|&r| at_most_cap(r, 50_000)), "{rates:?}");
    assert!(rates.iter().all(|&r| r > 0.0), "{rates:?}");

    // Lowered live: the measurement restarts at the new cap.
    let response = node
        .post_json("/mining/hashrate", &json!({"attempts_per_sec": 10_000}))
        .await;
    assert_eq!(response.status(), 200);
    wait_until(
        "the new cap in force",
        100,
        Duration::from_millis(50),
        || async {
            let status = node.status().await;
            (status.hash_rate > 0.0 && at_most_cap(status.hash_rate, 10_000)).then_some(())
        },
    )
    .await;
    let rates = sampled_rates(&node, 20).await;
    println!("capped at 10000/s, measured: {rates:?}");
    assert!(rates.iter().all(|&r| at_most_cap(r, 10_000)), "{rates:?}");
    assert!(rates.iter().all(|&r| r > 0.0), "{rates:?}");

    // Uncapped again: the same node now runs at its full speed.
    let response = node
        .post_json("/mining/hashrate", &json!({"attempts_per_sec": 0}))
        .await;
    assert_eq!(response.status(), 200);
    let full = wait_until(
        "an uncapped rate",
        100,
        Duration::from_millis(100),
        || async {
            let rate = node.status().await.hash_rate;
            (rate > 10_000.0).then_some(rate)
        },
    )
    .await;
    println!("uncapped, measured: {full:.0}/s");
}

#[tokio::test]
async fn a_capped_regtest_node_still_mines_blocks() {
    let node = TestNode::start_with(&["--hashrate", "200", "--pace-ms", "0"]);
    assert_eq!(node.post("/mining/start").await.status(), 200);
    let height = wait_until(
        "five capped blocks",
        300,
        Duration::from_millis(100),
        || async {
            let status = node.status().await;
            assert!(at_most_cap(status.hash_rate, 200), "{}", status.hash_rate);
            (status.height >= 5).then_some(status.height)
        },
    )
    .await;
    assert!(height >= 5);
}

#[tokio::test]
async fn each_bad_body_is_a_4xx_and_changes_nothing() {
    let node = TestNode::start_with(&["--hashrate", "1234"]);
    let client = http_client();
    for body in [
        r#"{"attempts_per_sec": -1}"#,
        r#"{"attempts_per_sec": 1.5}"#,
        r#"{}"#,
        r#"{"attempts_per_sec": "10"}"#,
        r#"{"attempts_per_sec": null}"#,
        r#"{"attempts_per_sec": 18446744073709551616}"#,
        "not json",
        "",
    ] {
        let response = client
            .post(node.url("/mining/hashrate"))
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        assert!(status.is_client_error(), "{body:?} got {status}");
        let error: ErrorBody = response.json().await.expect("an ErrorBody");
        assert!(!error.error.is_empty(), "{body:?}");
        let after: StatusBody = node.status().await;
        assert_eq!(after.hashrate_limit, 1234, "{body:?} changed the cap");
    }
}

#[tokio::test]
async fn changing_the_cap_needs_the_token() {
    let node = TestNode::start_with(&["--token", "s3cret", "--hashrate", "1000"]);
    let client = http_client();
    let body = json!({"attempts_per_sec": 99});
    let response = client
        .post(node.url("/mining/hashrate"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(node.status().await.hashrate_limit, 1000);
    let response = client
        .post(node.url("/mining/hashrate"))
        .bearer_auth("s3cret")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(node.status().await.hashrate_limit, 99);
}
