//! `/attacks` on a real manager with real nodes: every bad request is
//! refused with a 4xx that names the problem, and changes nothing (no
//! attack, every node's strategy and cap as before).

mod common;

use common::ManagerProcess;
use serde_json::{Value, json};
use shared::api::ErrorBody;
use shared::attack::AttacksBody;
use shared::stats::HashPowerBody;

/// Capped, so an attack has a total to share.
async fn capped_network() -> ManagerProcess {
    let manager = ManagerProcess::start(3).await;
    let (status, _): (u16, HashPowerBody) = manager
        .post_json("/network/hashrate", &json!({"total": 3000}))
        .await;
    assert_eq!(status, 200);
    manager
}

async fn refused(manager: &ManagerProcess, body: Value) -> (u16, String) {
    let (status, error): (u16, ErrorBody) = manager.post_json("/attacks", &body).await;
    (status, error.error)
}

async fn caps(manager: &ManagerProcess) -> Vec<u64> {
    let (_, power): (u16, HashPowerBody) = manager.get("/network/hashrate").await;
    power
        .nodes
        .iter()
        .map(|node| node.attempts_per_sec)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_attack_request_is_refused_and_changes_nothing() {
    let manager = capped_network().await;
    let node = manager.nodes().await.remove(0).id;
    let before = caps(&manager).await;

    let cases = [
        (
            json!({"kind": "bribe", "node": node, "hashrate_share": 0.3}),
            422,
            "bribe",
        ),
        (
            json!({"kind": "selfish", "node": "nobody", "hashrate_share": 0.3}),
            404,
            "nobody",
        ),
        (
            json!({"kind": "selfish", "node": node, "hashrate_share": 1.0}),
            400,
            "hashrate_share",
        ),
        (
            json!({"kind": "selfish", "node": node, "hashrate_share": 0.0}),
            400,
            "hashrate_share",
        ),
        (
            json!({"kind": "private", "node": node, "hashrate_share": 0.3}),
            400,
            "confirmations",
        ),
        (
            json!({"kind": "timestamp", "node": node, "hashrate_share": 0.3}),
            400,
            "mode",
        ),
        (
            json!({"kind": "forger", "node": node, "hashrate_share": 0.3, "rule": "bad_vibes"}),
            400,
            "bad_vibes",
        ),
        (
            json!({"kind": "selfish", "node": node}),
            422,
            "hashrate_share",
        ),
    ];
    for (body, status, names) in cases {
        let (got, error) = refused(&manager, body.clone()).await;
        assert_eq!(got, status, "{body}: {error}");
        assert!(
            error.contains(names),
            "{body}: {error:?} does not name {names}"
        );
    }

    let (status, error): (u16, ErrorBody) = manager.post("/attacks/stop").await;
    assert_eq!(status, 409, "{}", error.error);
    assert!(error.error.contains("no attack"), "{}", error.error);

    let (status, attacks): (u16, AttacksBody) = manager.get("/attacks").await;
    assert_eq!(status, 200);
    assert!(!attacks.running && attacks.attack.is_none(), "{attacks:?}");
    assert_eq!(
        caps(&manager).await,
        before,
        "a refused attack changed a cap"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attack_needs_a_hash_rate_cap_to_share() {
    let manager = ManagerProcess::start(2).await;
    let node = manager.nodes().await.remove(0).id;
    let (status, error) = refused(
        &manager,
        json!({"kind": "selfish", "node": node, "hashrate_share": 0.3}),
    )
    .await;
    assert_eq!(status, 409, "{error}");
    assert!(error.contains("/network/hashrate"), "{error}");
}
