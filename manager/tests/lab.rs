//! The network lab through the manager: topologies, link conditions,
//! presets, partitions and healing, on real manager and node processes.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use common::{ManagerProcess, wait_until};
use serde_json::{Value, json};
use shared::api::{
    ErrorBody, LinkConditions, LinkState, MinedBody, NetworkBody, NetworkLinksBody, NodeSummary,
};
use shared::topology::Topology;

type Pair = (String, String);

fn pair(a: &str, b: &str) -> Pair {
    if a < b {
        (a.to_owned(), b.to_owned())
    } else {
        (b.to_owned(), a.to_owned())
    }
}

async fn network(manager: &ManagerProcess) -> NetworkBody {
    let (status, body): (u16, NetworkBody) = manager.get("/network").await;
    assert_eq!(status, 200);
    body
}

fn links_of(body: &NetworkBody) -> BTreeSet<Pair> {
    body.links
        .iter()
        .map(|link| pair(&link.a, &link.b))
        .collect()
}

/// The links `topology` gives the nodes in `GET /nodes` order, by id.
fn expected(topology: Topology, nodes: &[NodeSummary], seed: u64) -> BTreeSet<Pair> {
    topology
        .edges(nodes.len(), seed)
        .into_iter()
        .map(|(a, b)| pair(&nodes[a].id, &nodes[b].id))
        .collect()
}

fn degrees(links: &BTreeSet<Pair>) -> BTreeMap<String, usize> {
    let mut degree = BTreeMap::new();
    for (a, b) in links {
        *degree.entry(a.clone()).or_default() += 1;
        *degree.entry(b.clone()).or_default() += 1;
    }
    degree
}

/// Wait (bounded) until `GET /network` shows exactly `links`, each
/// connected and reported by both ends.
async fn links_become(manager: &ManagerProcess, links: &BTreeSet<Pair>) -> NetworkBody {
    wait_until(
        &format!("the network to show exactly {links:?}, all connected"),
        120,
        Duration::from_millis(250),
        || async {
            let body = network(manager).await;
            let settled = body.links.iter().all(|link| {
                link.state == LinkState::Connected
                    && link.conditions.a_to_b.is_some()
                    && link.conditions.b_to_a.is_some()
            });
            (settled && links_of(&body) == *links).then_some(body)
        },
    )
    .await
}

async fn rewire(manager: &ManagerProcess, kind: &str) -> NetworkBody {
    let (status, body): (u16, Value) = manager
        .post_json("/network/topology", &json!({ "kind": kind }))
        .await;
    assert_eq!(status, 200, "{body}");
    let body: NetworkBody = serde_json::from_value(body).unwrap();
    assert_eq!(body.topology.to_string(), kind);
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ring_rewires_to_star_and_line_and_a_new_node_joins_the_ring() {
    let manager = ManagerProcess::start_with(5, &["--topology", "ring"]).await;
    let nodes = manager.nodes().await;
    assert_eq!(network(&manager).await.topology, Topology::Ring);
    let ring = links_become(&manager, &expected(Topology::Ring, &nodes, 0)).await;
    assert_eq!(ring.links.len(), 5);
    assert!(degrees(&links_of(&ring)).values().all(|&d| d == 2));

    rewire(&manager, "star").await;
    let star = links_become(&manager, &expected(Topology::Star, &nodes, 0)).await;
    assert_eq!(degrees(&links_of(&star))[&nodes[0].id], 4, "the hub");

    rewire(&manager, "line").await;
    let line = links_become(&manager, &expected(Topology::Line, &nodes, 0)).await;
    assert_eq!(line.links.len(), 4);

    rewire(&manager, "ring").await;
    let (status, added): (u16, NodeSummary) = manager.post("/nodes").await;
    assert_eq!(status, 201);
    let nodes = manager.nodes().await;
    assert_eq!(nodes.len(), 6);
    let six = links_become(&manager, &expected(Topology::Ring, &nodes, 0)).await;
    assert_eq!(six.links.len(), 6, "a ring of six");
    assert_eq!(degrees(&links_of(&six))[&added.id], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn above_eight_nodes_the_default_is_random_8() {
    let manager = ManagerProcess::start(10).await;
    let nodes = manager.nodes().await;
    let body = network(&manager).await;
    assert_eq!(body.topology, Topology::Random(8));
    let links = links_become(&manager, &expected(Topology::Random(8), &nodes, 0)).await;
    let degree = degrees(&links_of(&links));
    assert_eq!(degree.len(), 10, "every node has links: {degree:?}");
    assert!(degree.values().all(|&d| (2..=8).contains(&d)), "{degree:?}");
    assert!(links.links.len() < 45, "not everyone with everyone");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn link_conditions_by_pair_by_preset_and_by_star_show_both_ways() {
    let manager = ManagerProcess::start(3).await;
    let nodes = manager.nodes().await;
    let (n0, n1, n2) = (&nodes[0], &nodes[1], &nodes[2]);
    links_become(&manager, &expected(Topology::Full, &nodes, 0)).await;

    // By port and by id.
    let port = common::port_of(&n0.address).to_string();
    let (status, body): (u16, NetworkLinksBody) = manager
        .post_json(
            "/network/links",
            &json!({ "a": port, "b": n1.id, "latency_ms": 30, "jitter_ms": 5 }),
        )
        .await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(body.links.len(), 1);
    let view = network(&manager).await;
    for link in &view.links {
        let expected = if pair(&link.a, &link.b) == pair(&n0.id, &n1.id) {
            30
        } else {
            0
        };
        for side in [link.conditions.a_to_b, link.conditions.b_to_a] {
            let side = side.expect("both ends report the link");
            assert_eq!(side.latency_ms, expected, "{link:?}");
        }
    }

    // A preset on every link of n2.
    let (status, body): (u16, NetworkLinksBody) = manager
        .post_json(
            "/network/links",
            &json!({ "a": "*", "b": n2.address, "preset": "wan" }),
        )
        .await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(body.links.len(), 2);
    let view = network(&manager).await;
    for link in &view.links {
        let touches_n2 = link.a == n2.id || link.b == n2.id;
        for side in [link.conditions.a_to_b, link.conditions.b_to_a] {
            let side = side.unwrap();
            if touches_n2 {
                assert_eq!(
                    (side.latency_ms, side.jitter_ms, side.bandwidth_kbps),
                    (40, 10, 100_000),
                    "{link:?}"
                );
            } else {
                assert_eq!(side.latency_ms, 30, "untouched: {link:?}");
            }
        }
    }

    // "*" with "*" is every link; the fields not given stay.
    let (status, body): (u16, NetworkLinksBody) = manager
        .post_json(
            "/network/links",
            &json!({ "a": "*", "b": "*", "loss": 0.25 }),
        )
        .await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(body.links.len(), 3);
    for link in &network(&manager).await.links {
        for side in [link.conditions.a_to_b, link.conditions.b_to_a] {
            let side = side.unwrap();
            assert_eq!(side.loss, 0.25, "{link:?}");
            assert!(side.latency_ms == 30 || side.latency_ms == 40, "{link:?}");
        }
    }
}

/// What a bad request must not change: shape, links, conditions, partition
/// (not counters or round trips, which move by themselves).
fn fingerprint(body: &NetworkBody) -> Value {
    let links: Vec<Value> = body
        .links
        .iter()
        .map(|link| json!([pair(&link.a, &link.b), link.conditions]))
        .collect();
    json!({ "topology": body.topology, "links": links, "partition": body.partition })
}

/// Each bad request answers `status` with an error containing `text`,
/// and `GET /network` is the same afterwards.
async fn refused(manager: &ManagerProcess, cases: &[(&str, Value, u16, &str)]) {
    for (path, body, status, text) in cases {
        let before = fingerprint(&network(manager).await);
        let (code, error): (u16, ErrorBody) = manager.post_json(path, body).await;
        assert_eq!(code, *status, "{path} {body}: {error:?}");
        assert!(
            error.error.contains(text),
            "{path} {body}: {:?} does not say {text:?}",
            error.error
        );
        assert_eq!(
            fingerprint(&network(manager).await),
            before,
            "{path} {body} changed the network"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_link_requests_are_refused_and_change_nothing() {
    let manager = ManagerProcess::start_with(3, &["--topology", "line"]).await;
    let nodes = manager.nodes().await;
    links_become(&manager, &expected(Topology::Line, &nodes, 0)).await;
    let (n0, n2) = (&nodes[0].id, &nodes[2].id);
    refused(
        &manager,
        &[
            (
                "/network/links",
                json!({"a": "nobody", "b": "*", "latency_ms": 5}),
                404,
                "no node \"nobody\"",
            ),
            (
                "/network/links",
                json!({"a": n0, "b": "*", "latency_ms": -5}),
                400,
                "latency_ms must be 0 or more, not -5",
            ),
            (
                "/network/links",
                json!({"a": n0, "b": "*", "bandwidth_kbps": -1}),
                400,
                "bandwidth_kbps must be 0 or more",
            ),
            (
                "/network/links",
                json!({"a": n0, "b": "*", "loss": 1.5}),
                400,
                "loss must be a number from 0 to 1",
            ),
            (
                "/network/links",
                json!({"a": n0, "b": "*", "preset": "moon"}),
                422,
                "unknown variant `moon`",
            ),
            (
                "/network/links",
                json!({"a": n0, "b": "*", "preset": "lan", "loss": 0.1}),
                400,
                "not both",
            ),
            (
                "/network/links",
                json!({"a": n0, "b": "*"}),
                400,
                "nothing to change",
            ),
            (
                "/network/links",
                json!({"a": n0, "b": n0, "down": true}),
                400,
                "a link has two ends",
            ),
            (
                "/network/links",
                json!({"a": n0, "b": n2, "down": true}),
                404,
                "no link between",
            ),
            (
                "/network/links",
                json!({"a": n0, "b": "*", "latency_ms": 700000}),
                400,
                "at most 600000",
            ),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_partitions_and_topologies_are_refused_and_change_nothing() {
    let manager = ManagerProcess::start(3).await;
    let nodes = manager.nodes().await;
    links_become(&manager, &expected(Topology::Full, &nodes, 0)).await;
    let (n0, n1, n2) = (&nodes[0].id, &nodes[1].id, &nodes[2].id);
    refused(
        &manager,
        &[
            (
                "/network/partition",
                json!({"groups": [[n0], ["nobody"]]}),
                404,
                "no node \"nobody\"",
            ),
            (
                "/network/partition",
                json!({"groups": [[n0, n1], [n1]]}),
                400,
                "in groups 1 and 2",
            ),
            (
                "/network/partition",
                json!({"groups": [[n0], []]}),
                400,
                "group 2 is empty",
            ),
            (
                "/network/partition",
                json!({"groups": [[n0, n1, n2]]}),
                400,
                "at least two groups",
            ),
            (
                "/network/partition",
                json!({"groups": []}),
                400,
                "at least two groups",
            ),
            (
                "/network/topology",
                json!({"kind": "mesh"}),
                422,
                "unknown topology \"mesh\"",
            ),
            (
                "/network/topology",
                json!({"kind": "small-world:3"}),
                422,
                "K must be even",
            ),
            (
                "/network/topology",
                json!({"kind": "random:0"}),
                422,
                "K must be at least 2",
            ),
        ],
    )
    .await;
    // Healing a whole network, and partitioning a partitioned one.
    let (code, error): (u16, ErrorBody) = manager.post("/network/heal").await;
    assert_eq!(
        (code, error.error.as_str()),
        (409, "the network is not partitioned")
    );
    let (code, body): (u16, Value) = manager
        .post_json("/network/partition", &json!({"groups": [[n0]]}))
        .await;
    assert_eq!(code, 200, "{body}");
    refused(
        &manager,
        &[
            (
                "/network/partition",
                json!({"groups": [[n1]]}),
                409,
                "already partitioned",
            ),
            (
                "/network/topology",
                json!({"kind": "ring"}),
                409,
                "POST /network/heal first",
            ),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_splits_the_chain_and_healing_joins_it_on_the_most_work() {
    let manager = ManagerProcess::start(5).await;
    let nodes = manager.nodes().await;
    let all = expected(Topology::Full, &nodes, 0);
    links_become(&manager, &all).await;
    let ids: Vec<&str> = nodes.iter().map(|node| node.id.as_str()).collect();
    let ports: Vec<String> = nodes
        .iter()
        .map(|node| common::port_of(&node.address).to_string())
        .collect();
    // One link down by hand before: the heal must leave it down.
    let (status, _): (u16, NetworkLinksBody) = manager
        .post_json(
            "/network/links",
            &json!({"a": ids[2], "b": ids[3], "down": true}),
        )
        .await;
    assert_eq!(status, 200);

    let (status, body): (u16, Value) = manager
        .post_json(
            "/network/partition",
            &json!({"groups": [[ports[0], ports[1]]]}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let body: NetworkBody = serde_json::from_value(body).unwrap();
    assert_eq!(
        body.partition,
        Some(vec![
            vec![ids[0].to_owned(), ids[1].to_owned()],
            vec![ids[2].to_owned(), ids[3].to_owned(), ids[4].to_owned()],
        ])
    );
    let small: BTreeSet<&str> = [ids[0], ids[1]].into();
    for link in &body.links {
        let across = small.contains(link.a.as_str()) != small.contains(link.b.as_str());
        let by_hand = pair(&link.a, &link.b) == pair(ids[2], ids[3]);
        for side in [link.conditions.a_to_b, link.conditions.b_to_a] {
            assert_eq!(side.unwrap().down, across || by_hand, "{link:?}");
        }
    }

    // The small side mines one block, the large side two.
    let (status, one): (u16, MinedBody) = manager.post(&format!("/nodes/{}/mine", ids[0])).await;
    assert_eq!(status, 200);
    let mut two = None;
    for _ in 0..2 {
        let (status, mined): (u16, MinedBody) =
            manager.post(&format!("/nodes/{}/mine", ids[4])).await;
        assert_eq!(status, 200);
        two = Some(mined);
    }
    let two = two.unwrap();
    let sides = wait_until(
        "each side on its own tip",
        120,
        Duration::from_millis(250),
        || async {
            let statuses = manager.statuses().await;
            let on = |hash, range: std::ops::Range<usize>| {
                statuses[range]
                    .iter()
                    .all(|status| status.best_hash == hash)
            };
            (on(one.block.hash, 0..2) && on(two.block.hash, 2..5)).then_some(statuses)
        },
    )
    .await;
    assert_eq!((sides[0].height, sides[4].height), (1, 2));

    let (status, body): (u16, Value) = manager.post_json("/network/heal", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    let healed: NetworkBody = serde_json::from_value(body).unwrap();
    assert_eq!(healed.partition, None);
    for link in &healed.links {
        let by_hand = pair(&link.a, &link.b) == pair(ids[2], ids[3]);
        for side in [link.conditions.a_to_b, link.conditions.b_to_a] {
            assert_eq!(
                side.unwrap().down,
                by_hand,
                "only the hand-set link stays down: {link:?}"
            );
        }
    }
    let statuses = manager.converged(2).await;
    assert!(
        statuses
            .iter()
            .all(|status| status.best_hash == two.block.hash)
    );
}

/// Both directions of every link of `id`, once `GET /network` shows them
/// as `check` wants (bounded wait).
async fn links_of_node_become(
    manager: &ManagerProcess,
    id: &str,
    what: &str,
    check: impl Fn(&LinkConditions) -> bool,
) -> NetworkBody {
    wait_until(what, 120, Duration::from_millis(250), || async {
        let body = network(manager).await;
        let mine: Vec<_> = body
            .links
            .iter()
            .filter(|link| link.a == id || link.b == id)
            .collect();
        let ok = mine.len() == 2
            && mine.iter().all(|link| {
                [link.conditions.a_to_b, link.conditions.b_to_a]
                    .iter()
                    .all(|side| side.as_ref().is_some_and(&check))
            });
        ok.then_some(body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_node_gets_its_links_their_conditions_and_the_partition_back() {
    let manager = ManagerProcess::start_with(4, &["--topology", "ring"]).await;
    let nodes = manager.nodes().await;
    let ring = expected(Topology::Ring, &nodes, 0);
    links_become(&manager, &ring).await;
    let first = nodes[0].id.clone();
    let (status, body): (u16, NetworkLinksBody) = manager
        .post_json(
            "/network/links",
            &json!({ "a": first, "b": "*", "latency_ms": 25 }),
        )
        .await;
    assert_eq!(status, 200, "{body:?}");
    assert_eq!(body.links.len(), 2, "a node of a ring has two links");

    let restart = format!("/nodes/{first}/restart");
    let (status, restarted): (u16, NodeSummary) = manager.post(&restart).await;
    assert_eq!(status, 200, "{restarted:?}");
    assert_eq!(restarted.id, first, "the node keeps its id");
    links_become(&manager, &ring).await;
    links_of_node_become(&manager, &first, "25 ms back both ways", |side| {
        side.latency_ms == 25 && !side.down
    })
    .await;

    let (status, body): (u16, Value) = manager
        .post_json("/network/partition", &json!({ "groups": [[first]] }))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _): (u16, NodeSummary) = manager.post(&restart).await;
    assert_eq!(status, 200);
    links_of_node_become(
        &manager,
        &first,
        "the partition back after a restart",
        |side| side.latency_ms == 25 && side.down,
    )
    .await;

    let (status, body): (u16, Value) = manager.post_json("/network/heal", &json!({})).await;
    assert_eq!(status, 200, "{body}");
    links_of_node_become(&manager, &first, "up again, still 25 ms", |side| {
        side.latency_ms == 25 && !side.down
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attached_node_joins_the_line_at_its_end() {
    let manager = ManagerProcess::start_with(3, &["--topology", "line"]).await;
    let lone = node::testing::TestNode::start();
    let (status, attached): (u16, NodeSummary) = manager
        .post_json("/nodes/attach", &json!({ "address": lone.address }))
        .await;
    assert_eq!(status, 201, "{attached:?}");
    let nodes = manager.nodes().await;
    assert_eq!(nodes.len(), 4);
    let line = links_become(&manager, &expected(Topology::Line, &nodes, 0)).await;
    let degree = degrees(&links_of(&line));
    assert_eq!(
        degree[&attached.id], 1,
        "the new end of the line: {degree:?}"
    );
    assert_eq!(degree[&nodes[2].id], 2, "the old end is in the middle now");
}
