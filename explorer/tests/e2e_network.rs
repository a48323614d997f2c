//! End to end, the network view: the released explorer served by a real
//! manager with six real regtest nodes, in real headless Chromium (or
//! Firefox with `E2E_BROWSER=firefox`) through WebDriver.
//!
//! 1. A person selects three nodes in the graph and presses Partition,
//!    mines on both sides, sees two branches in the tree and two colours in
//!    the graph (and the minority side diverged), presses Heal, mines once
//!    more, and sees one tip, every node in sync and a reorganization in
//!    the feed.
//! 2. A person clicks a link, sets 300 ms in its form, and reads 300 ms on
//!    the link.
//!
//! Screenshots go to `target/e2e-screenshots/net-*.png`. With `E2E_AXE`
//! the page is audited with axe-core, and no story may leave a console
//! error.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use std::collections::BTreeSet;

use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::key::Key;
use support::*;

/// Presses and releases `key` on whatever has the focus.
async fn press(client: &fantoccini::Client, key: Key) {
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down { value: key.into() })
        .then(KeyAction::Up { value: key.into() });
    client.perform_actions(keys).await.expect("a key press");
}

/// The accessible name of the focused element.
async fn focused_label(client: &fantoccini::Client) -> String {
    client
        .execute(
            "return document.activeElement.getAttribute('aria-label') || '';",
            vec![],
        )
        .await
        .expect("the focused element")
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// The six nodes' addresses and ids, once the page shows them running and
/// live, and the graph has its links.
async fn six_nodes(client: &fantoccini::Client) -> (Vec<String>, Vec<String>) {
    wait_count(client, "#nodes tbody tr", "six node rows", |n| n == 6).await;
    for _ in 0..MAX_POLLS {
        let states: Vec<String> = futures_text(client, "#nodes tbody tr td .badge").await;
        if states.iter().filter(|s| *s == "running").count() == 6 {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    wait_text(client, "#connection", "the live badge", |t| t == "Live").await;
    wait_count(client, "#network-svg g.net-node", "six graph nodes", |n| {
        n == 6
    })
    .await;
    // A full mesh of six: 15 links.
    wait_count(client, "#network-svg g.link", "the links", |n| n == 15).await;
    let addresses: Vec<String> = futures_text(client, "#nodes tbody tr th").await;
    let mut ids = Vec::new();
    for address in &addresses {
        let id = attributes(client, &graph_node(address), "data-node").await;
        ids.push(id.into_iter().next().unwrap_or_default());
    }
    assert!(ids.iter().all(|id| !id.is_empty()), "{ids:?}");
    (addresses, ids)
}

/// The distinct branch colours the graph's running nodes are filled with.
async fn node_colours(client: &fantoccini::Client) -> BTreeSet<String> {
    attributes(client, "#network-svg g.net-node circle.dot", "class")
        .await
        .into_iter()
        .filter_map(|c| {
            c.split_whitespace()
                .find(|w| w.starts_with("lane-"))
                .map(str::to_owned)
        })
        .collect()
}

async fn audit_and_console(browser: Browser, client: &fantoccini::Client) {
    if let Some(violations) = audit(client).await {
        assert!(
            violations.is_empty(),
            "accessibility violations: {violations:#?}"
        );
        eprintln!("e2e: axe-core found no accessibility violations");
    }
    let errors = browser.console_errors(client).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_partitions_the_graph_mines_both_sides_and_heals() {
    let _alone = ONE_STORY_AT_A_TIME.lock().await;
    let dist = ensure_dist();
    let temp = TempDir::new();
    let manager = start_manager_sized(&temp.0, &dist, "0", None, 6);
    let browser = Browser::chosen();
    let (_driver, client) = open_explorer(browser, &temp.0, &manager).await;
    let (addresses, _ids) = six_nodes(&client).await;
    // The legend is there from the start.
    let legend = text_of(&client, ".network-legend").await;
    assert!(
        legend.contains("lagging") && legend.contains("diverged"),
        "{legend}"
    );

    // Select the last three nodes in the graph and partition.
    for address in &addresses[3..] {
        click(&client, &format!("{} circle.dot", graph_node(address))).await;
    }
    let checked = attributes(&client, "#network-svg g.net-node", "aria-checked").await;
    assert_eq!(
        checked.iter().filter(|c| *c == "true").count(),
        3,
        "{checked:?}"
    );
    click(&client, "button[data-action=partition]").await;
    let outcome = wait_text(&client, "#network-outcome-lab", "the partition", |t| {
        !t.is_empty() && !t.ends_with('…')
    })
    .await;
    assert_eq!(outcome, "Partitioned into 2 groups");
    // The nine links across the cut are drawn down (dashed).
    wait_count(
        &client,
        "#network-svg g.link.down",
        "nine links down",
        |n| n == 9,
    )
    .await;

    // Two blocks on one side, one on the other.
    mine(&client, &addresses[0]).await;
    mine(&client, &addresses[0]).await;
    mine(&client, &addresses[3]).await;
    wait_text(&client, "#tree-summary", "two branches", |t| {
        t.contains("in 2 lanes")
    })
    .await;
    for _ in 0..MAX_POLLS {
        if node_colours(&client).await.len() == 2 {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let colours = node_colours(&client).await;
    assert_eq!(colours.len(), 2, "two branch colours: {colours:?}");
    // Both sides have three nodes; the longer chain is the majority, so the
    // other side is diverged, with the fork at genesis.
    let diverged = wait_count(
        &client,
        "#network-svg g.net-node[data-status=diverged]",
        "the diverged side",
        |n| n == 3,
    )
    .await;
    assert_eq!(diverged, 3);
    let label = attributes(&client, &graph_node(&addresses[3]), "aria-label").await;
    assert!(label[0].contains("diverged, fork at height 0"), "{label:?}");
    show(&client, "#network").await;
    screenshot(&client, "net-01-partitioned").await;

    // Heal, and one more block on the longer side reaches everyone.
    click(&client, "button[data-action=heal]").await;
    wait_text(&client, "#network-outcome-lab", "the heal", |t| {
        t.starts_with("Healed")
    })
    .await;
    wait_count(&client, "#network-svg g.link.down", "no link down", |n| {
        n == 0
    })
    .await;
    let top = mine(&client, &addresses[0]).await;
    let side_name = addresses[3].rsplit(':').next().unwrap().to_owned();
    wait_text(&client, "#activity", "the reorganization", |t| {
        t.contains(&format!("{side_name} reorganized"))
    })
    .await;
    for address in &addresses {
        wait_text(
            &client,
            &cell(address, "height"),
            "every node at the top",
            |t| t == top.to_string(),
        )
        .await;
    }
    wait_count(
        &client,
        "#network-svg g.net-node[data-status=in-sync]",
        "every node in sync",
        |n| n == 6,
    )
    .await;
    let colours = node_colours(&client).await;
    assert_eq!(colours.len(), 1, "one tip, one colour: {colours:?}");
    // The losing block is still drawn, stale, beside the main chain.
    wait_count(&client, "#tree-svg g.block.stale", "the stale block", |n| {
        n >= 1
    })
    .await;
    show(&client, "#network").await;
    screenshot(&client, "net-02-healed").await;
    audit_and_console(browser, &client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_sets_300_ms_on_a_link_and_reads_it_there() {
    let _alone = ONE_STORY_AT_A_TIME.lock().await;
    let dist = ensure_dist();
    let temp = TempDir::new();
    let manager = start_manager_sized(&temp.0, &dist, "0", None, 6);
    let browser = Browser::chosen();
    let (_driver, client) = open_explorer(browser, &temp.0, &manager).await;
    let (_addresses, ids) = six_nodes(&client).await;

    // Neighbours on the circle: no other link crosses the middle of theirs.
    let link = graph_link(&ids[0], &ids[1]);
    let first = link.split(", ").next().unwrap().to_owned();
    let second = link.split(", ").nth(1).unwrap().to_owned();
    let one = if count(&client, &first).await == 1 {
        first
    } else {
        second
    };
    click(&client, &format!("{one} line.wire")).await;
    wait_count(&client, "#link-form", "the link's form", |n| n == 1).await;
    fill(&client, "#link-latency", "300").await;
    click(&client, "button[data-action=apply-link]").await;
    let outcome = wait_text(&client, "#network-outcome-lab", "the change", |t| {
        !t.is_empty() && !t.ends_with('…')
    })
    .await;
    assert!(outcome.contains(" set ("), "{outcome}");
    wait_text(
        &client,
        &format!("{one} .link-badge"),
        "300 ms on the link",
        |t| t == "300 ms",
    )
    .await;
    let label = attributes(&client, &one, "aria-label").await;
    assert!(label[0].contains("300 ms"), "{label:?}");
    wait_text(
        &client,
        "#link-form [data-field=conditions]",
        "the form's reading",
        |t| t.contains("300 ms"),
    )
    .await;
    // No other link changed.
    assert_eq!(count(&client, "#network-svg .link-badge").await, 1);
    show(&client, "#network").await;
    screenshot(&client, "net-03-link-300ms").await;

    // From the keyboard: the links are one Tab stop, arrows move among
    // them in drawing order, Enter opens one.
    assert_eq!(
        count(&client, "#network-svg g.link[tabindex='0']").await,
        0,
        "a link is a Tab stop of its own"
    );
    client
        .execute(
            "document.querySelector('#network-svg g.links').focus()",
            vec![],
        )
        .await
        .expect("focus the links");
    let links = attributes(&client, "#network-svg g.link", "aria-label").await;
    press(&client, Key::Down).await;
    assert_eq!(focused_label(&client).await, links[0]);
    press(&client, Key::Down).await;
    press(&client, Key::Down).await;
    assert_eq!(focused_label(&client).await, links[2]);
    press(&client, Key::Up).await;
    assert_eq!(focused_label(&client).await, links[1]);
    press(&client, Key::End).await;
    assert_eq!(focused_label(&client).await, links[links.len() - 1]);
    press(&client, Key::Enter).await;
    wait_count(
        &client,
        "#network-svg g.link.open",
        "the opened link",
        |n| n == 1,
    )
    .await;
    let open = attributes(&client, "#network-svg g.link.open", "aria-label").await;
    assert_eq!(open[0], links[links.len() - 1]);
    audit_and_console(browser, &client).await;
}
