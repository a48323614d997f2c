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
            // Not one of the shared enum's rules: a body outside the schema.
            json!({"kind": "forger", "node": node, "hashrate_share": 0.3, "rule": "bad_vibes"}),
            422,
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

/// `POST /scenarios/run`: an unknown name is refused with the shipped
/// ones; a shipped scenario runs as a job beside the manager's own
/// network, and its report ends up in `GET /scenarios/status`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shipped_scenario_runs_as_a_background_job() {
    use manager::scenario::jobs::{JobState, ScenarioStatusBody};
    use std::time::Duration;

    let manager = ManagerProcess::start(1).await;
    let (status, idle): (u16, ScenarioStatusBody) = manager.get("/scenarios/status").await;
    assert_eq!((status, idle.state), (200, JobState::Idle));

    let (status, error) = {
        let (status, error): (u16, ErrorBody) = manager
            .post_json("/scenarios/run", &json!({"name": "nope"}))
            .await;
        (status, error.error)
    };
    assert_eq!(status, 404, "{error}");
    assert!(error.contains("partition-heal"), "{error}");

    let (status, started): (u16, ScenarioStatusBody) = manager
        .post_json("/scenarios/run", &json!({"name": "partition-heal"}))
        .await;
    assert_eq!((status, started.state), (202, JobState::Running));
    let (status, error): (u16, ErrorBody) = manager
        .post_json("/scenarios/run", &json!({"name": "partition-heal"}))
        .await;
    assert_eq!(status, 409, "a second job started: {}", error.error);

    let done = common::wait_until(
        "the scenario job to end",
        360,
        Duration::from_millis(500),
        || async {
            let (_, body): (u16, ScenarioStatusBody) = manager.get("/scenarios/status").await;
            (body.state != JobState::Running).then_some(body)
        },
    )
    .await;
    assert_eq!(done.state, JobState::Done, "{:?}", done.error);
    let report = done.report.expect("a report");
    assert_eq!(report.scenario, "partition-heal");
    let measurement = &report.measurements[0];
    assert!(
        measurement
            .checks
            .iter()
            .any(|c| c.figure == "max_reorg_depth"),
        "{measurement:?}"
    );
    assert!(done.progress.iter().any(|line| line.contains("measure")));
    // The manager's own network is still the one node it started.
    assert_eq!(manager.nodes().await.len(), 1);
}

/// A forger's blocks are refused by the others, who ban it; the stop puts
/// the strategy and every cap back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forger_is_refused_and_banned_until_the_attack_stops() {
    use std::time::Duration;

    let manager = capped_network().await;
    let nodes = manager.nodes().await;
    let attacker = nodes[0].id.clone();
    let before = caps(&manager).await;

    let (status, started): (u16, AttacksBody) = manager
        .post_json(
            "/attacks",
            &json!({"kind": "forger", "node": attacker, "hashrate_share": 0.5,
                    "rule": "bad_merkle_root"}),
        )
        .await;
    assert_eq!(status, 200, "{started:?}");
    assert!(started.running);
    let after = caps(&manager).await;
    assert_eq!(after[0], 1500, "the attacker's cap: {after:?}");
    assert_eq!(&after[1..], &[750, 750], "the honest split: {after:?}");

    // A second attack while one runs.
    let (status, error): (u16, ErrorBody) = manager
        .post_json(
            "/attacks",
            &json!({"kind": "selfish", "node": nodes[1].id, "hashrate_share": 0.3}),
        )
        .await;
    assert_eq!(status, 409, "{}", error.error);
    assert!(error.error.contains("already running"), "{}", error.error);

    let (status, _): (u16, Value) = manager
        .post(&format!("/nodes/{attacker}/mining/start"))
        .await;
    assert_eq!(status, 200);
    let seen = common::wait_until(
        "a rejection and a ban of the forger",
        240,
        Duration::from_millis(500),
        || async {
            let (_, body): (u16, AttacksBody) = manager.get("/attacks").await;
            let figures = body.attack?;
            (!figures.rejections.is_empty() && !figures.bans.is_empty()).then_some(figures)
        },
    )
    .await;
    // The forger's rule is named for what it does, the refusal for the
    // consensus rule it breaks.
    let refused = seen
        .rejections
        .get("wrong_merkle_root")
        .unwrap_or_else(|| panic!("not refused for its merkle root: {seen:?}"));
    assert!(refused.count >= 1);
    assert!(!refused.nodes.contains(&attacker), "{seen:?}");
    assert!(
        seen.bans.iter().all(|ban| ban.node != attacker),
        "the forger banned someone: {seen:?}"
    );
    assert_eq!(seen.attacker_blocks, 0, "a forged block on the best chain");

    let (status, stopped): (u16, AttacksBody) = manager.post("/attacks/stop").await;
    assert_eq!(status, 200, "{stopped:?}");
    assert!(!stopped.running);
    assert_eq!(caps(&manager).await, before, "the caps are not back");
    let (_, strategy): (u16, Value) =
        common::get_from_node(&format!("http://{}/strategy", nodes[0].address)).await;
    assert_eq!(strategy["strategy"]["strategy"], "honest", "{strategy}");
}
