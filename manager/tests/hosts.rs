//! Nodes on separate hosts: each node runs in a network namespace of its
//! own, with its own address on a bridge, and the manager (in the test's
//! namespace) drives them by address, not over loopback. They mine,
//! converge, are partitioned and healed over those addresses; and off
//! loopback a node refuses commands and peer links without the token.
//!
//! Creating namespaces needs root. Without it the test says so in its
//! output and does nothing else. Every address it uses is in
//! 198.18.K.0/24 (RFC 2544's benchmarking range), on the namespaces and
//! the bridge it creates, and it removes them when it ends, passed or not.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::{ManagerProcess, OwnNode, wait_until};
use node::testing::{ANNOUNCE_TIMEOUT, NODE_READY, http_client, node_program, spawn_announced};
use serde_json::json;
use shared::api::{MinedBody, NodeSummary, NodesBody, StatusBody};

const TOKEN: &str = "separate-hosts-token";
const NODES: usize = 3;
const PORT: u16 = 5000;

/// `ip ARGS…`, which must succeed.
fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("running ip");
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A bridge in the test's namespace and `NODES` namespaces on it, each
/// with one address; all removed on drop.
struct Hosts {
    bridge: String,
    namespaces: Vec<String>,
    subnet: String,
}

impl Hosts {
    fn create() -> Hosts {
        let tag = std::process::id() % 100_000;
        let subnet = format!("198.18.{}", tag % 250);
        let mut hosts = Hosts {
            bridge: format!("ppbr{tag}"),
            namespaces: Vec::new(),
            subnet,
        };
        ip(&["link", "add", &hosts.bridge, "type", "bridge"]);
        ip(&[
            "addr",
            "add",
            &format!("{}.1/24", hosts.subnet),
            "dev",
            &hosts.bridge,
        ]);
        ip(&["link", "set", &hosts.bridge, "up"]);
        for i in 0..NODES {
            let namespace = format!("pphost{tag}-{i}");
            ip(&["netns", "add", &namespace]);
            hosts.namespaces.push(namespace.clone());
            let (outer, inner) = (format!("ppv{tag}o{i}"), format!("ppv{tag}i{i}"));
            ip(&[
                "link", "add", &outer, "type", "veth", "peer", "name", &inner,
            ]);
            ip(&["link", "set", &inner, "netns", &namespace]);
            ip(&["link", "set", &outer, "master", &hosts.bridge, "up"]);
            let address = format!("{}/24", hosts.address(i));
            ip(&["-n", &namespace, "addr", "add", &address, "dev", &inner]);
            ip(&["-n", &namespace, "link", "set", &inner, "up"]);
            ip(&["-n", &namespace, "link", "set", "lo", "up"]);
        }
        hosts
    }

    /// Host `i`'s address.
    fn address(&self, i: usize) -> String {
        format!("{}.{}", self.subnet, 10 + i)
    }

    /// A regtest node in namespace `i`, bound to its address.
    fn node(&self, i: usize, data: &std::path::Path) -> OwnNode {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.namespaces[i]])
            .arg(node_program())
            .args(["--chain", "regtest", "--host", &self.address(i)])
            .args(["--port", &PORT.to_string(), "--token", TOKEN])
            .arg("--data-dir")
            .arg(data.join(format!("host-{i}")))
            .stdin(Stdio::null())
            .stderr(Stdio::null());
        OwnNode(
            spawn_announced(&mut command, NODE_READY, ANNOUNCE_TIMEOUT)
                .unwrap_or_else(|err| panic!("node in {}: {err}", self.namespaces[i])),
        )
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end in it, and with it the
        // other end; the bridge goes last.
        for namespace in &self.namespaces {
            let _ = Command::new("ip")
                .args(["netns", "del", namespace])
                .status();
        }
        let _ = Command::new("ip")
            .args(["link", "del", &self.bridge])
            .status();
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let uid = status.lines().find(|line| line.starts_with("Uid:"))?;
            uid.split_whitespace().nth(1).map(|uid| uid == "0")
        })
        .unwrap_or(false)
}

async fn statuses(manager: &ManagerProcess, nodes: &[NodeSummary]) -> Vec<StatusBody> {
    let mut statuses = Vec::new();
    for node in nodes {
        let (code, status): (u16, StatusBody) =
            manager.get(&format!("/nodes/{}/status", node.id)).await;
        assert_eq!(code, 200);
        statuses.push(status);
    }
    statuses
}

/// Waits until every one of `nodes` is on one tip at `height` or more.
async fn on_one_tip(manager: &ManagerProcess, nodes: &[NodeSummary], height: u64) {
    wait_until(
        &format!("{} nodes on one tip at height >= {height}", nodes.len()),
        240,
        Duration::from_millis(250),
        || async {
            let statuses = statuses(manager, nodes).await;
            let first = &statuses[0];
            let one = statuses.iter().all(|s| s.best_hash == first.best_hash);
            (one && first.height >= height).then_some(())
        },
    )
    .await
}

async fn mine(manager: &ManagerProcess, node: &NodeSummary) -> u64 {
    let (code, mined): (u16, MinedBody) = manager.post(&format!("/nodes/{}/mine", node.id)).await;
    assert_eq!(code, 200, "mine on {}", node.address);
    mined.block.header.index
}

#[tokio::test]
async fn nodes_on_their_own_hosts_mine_converge_split_and_heal_over_their_addresses() {
    if !is_root() {
        println!("skipped: creating network namespaces needs root, and this test is not root");
        return;
    }
    let hosts = Hosts::create();
    let data = tempfile::tempdir().unwrap();
    // Declared after `hosts`, so dropped (killed) before the namespaces go.
    let _nodes: Vec<OwnNode> = (0..NODES).map(|i| hosts.node(i, data.path())).collect();
    let addresses: Vec<String> = (0..NODES)
        .map(|i| format!("{}:{PORT}", hosts.address(i)))
        .collect();

    // Off loopback a node takes no command and no peer link without the
    // token, and refuses a wrong one.
    let http = http_client();
    let mine_url = format!("http://{}/mine", addresses[0]);
    let p2p_url = format!("http://{}/p2p", addresses[0]);
    for (url, method) in [(&mine_url, "POST"), (&p2p_url, "GET")] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let bare = http
            .request(method.clone(), url.as_str())
            .send()
            .await
            .unwrap();
        assert_eq!(bare.status(), 401, "{method} {url} without a token");
        let wrong = http
            .request(method.clone(), url.as_str())
            .bearer_auth("not-the-token")
            .send()
            .await
            .unwrap();
        assert_eq!(wrong.status(), 401, "{method} {url} with a wrong token");
    }
    let with_token = http
        .post(&mine_url)
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), 200, "POST {mine_url} with the token");

    // The manager starts none, attaches the three by address, and links
    // them to each other over the bridge.
    let manager = ManagerProcess::start_with(0, &["--token", TOKEN]).await;
    for address in &addresses {
        let (code, _): (u16, NodeSummary) = manager
            .post_json("/nodes/attach", &json!({ "address": address }))
            .await;
        assert_eq!(code, 201, "attach {address}");
    }
    let (_, body): (u16, NodesBody) = manager.get("/nodes").await;
    let mut nodes = body.nodes;
    nodes.sort_by(|a, b| a.address.cmp(&b.address));
    assert_eq!(
        nodes.iter().map(|n| n.address.clone()).collect::<Vec<_>>(),
        addresses
    );
    // The block host 0 mined before it had peers reaches the others, and
    // so does a new one.
    on_one_tip(&manager, &nodes, 1).await;
    let height = mine(&manager, &nodes[2]).await;
    on_one_tip(&manager, &nodes, height).await;
    // Every link is between the hosts' own addresses.
    for address in &addresses {
        wait_until(
            &format!("{address} linked with the other hosts"),
            120,
            Duration::from_millis(250),
            || async {
                let peers: serde_json::Value = http
                    .get(format!("http://{address}/peers"))
                    .send()
                    .await
                    .ok()?
                    .json()
                    .await
                    .ok()?;
                let mut linked: Vec<String> = peers["peers"]
                    .as_array()?
                    .iter()
                    .filter(|p| p["state"] == "connected")
                    .filter_map(|p| p["address"].as_str().map(str::to_owned))
                    .collect();
                linked.sort();
                let others: Vec<String> = addresses
                    .iter()
                    .filter(|a| *a != address)
                    .cloned()
                    .collect();
                (linked == others).then_some(())
            },
        )
        .await;
    }

    // Host 0 alone against hosts 1 and 2: each side mines, and they part.
    let groups = json!({ "groups": [[nodes[0].id], [nodes[1].id, nodes[2].id]] });
    let (code, _): (u16, serde_json::Value) =
        manager.post_json("/network/partition", &groups).await;
    assert_eq!(code, 200);
    let alone = mine(&manager, &nodes[0]).await;
    let first = mine(&manager, &nodes[1]).await;
    on_one_tip(&manager, &nodes[1..], first).await;
    let majority = mine(&manager, &nodes[2]).await;
    on_one_tip(&manager, &nodes[1..], majority).await;
    assert!(majority > alone);
    let split = statuses(&manager, &nodes).await;
    assert_eq!(split[0].height, alone);
    assert_ne!(
        split[0].best_hash, split[1].best_hash,
        "two branches while parted"
    );

    // Healed, all three follow the longer branch.
    let (code, _): (u16, serde_json::Value) = manager.post("/network/heal").await;
    assert_eq!(code, 200);
    on_one_tip(&manager, &nodes, majority).await;
    let healed = statuses(&manager, &nodes).await;
    assert_eq!(healed[0].best_hash, split[1].best_hash);
}
