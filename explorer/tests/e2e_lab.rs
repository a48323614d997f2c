//! End to end, the lab's panels: the released explorer served by a real
//! manager with three real regtest nodes, in real headless Chromium (or
//! Firefox with `E2E_BROWSER=firefox`) through WebDriver.
//!
//! 1. A person caps the network's hash power, starts a forger on one node
//!    and lets it mine; the others refuse its blocks (listed under the
//!    tree and in the attack's report) and ban it; the person stops the
//!    attack and the caps are back.
//! 2. A person caps the hash power, starts a selfish miner with 40 % of
//!    it, starts every node mining, and watches the attacker's share of
//!    the best chain move on its chart against the fair-share line.
//! 3. A person mines a few blocks and reads the propagation figure, then
//!    runs the stale-rate scenario shortened to 2 blocks a step and reads
//!    its measured-against-expected table.
//!
//! Screenshots go to `target/e2e-screenshots/lab-*.png`. With `E2E_AXE`
//! the page is audited with axe-core, and no story may leave a console
//! error.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use fantoccini::Locator;
use support::*;

/// The three nodes' addresses and ids, once the page shows them running
/// and live.
async fn three_nodes(client: &fantoccini::Client) -> (Vec<String>, Vec<String>) {
    wait_count(client, "#nodes tbody tr", "three node rows", |n| n == 3).await;
    for _ in 0..MAX_POLLS {
        let states: Vec<String> = futures_text(client, "#nodes tbody tr td .badge").await;
        if states.iter().filter(|s| *s == "running").count() == 3 {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    wait_text(client, "#connection", "the live badge", |t| t == "Live").await;
    let addresses: Vec<String> = futures_text(client, "#nodes tbody tr th").await;
    wait_count(
        client,
        "#network-svg g.net-node",
        "three graph nodes",
        |n| n == 3,
    )
    .await;
    let mut ids = Vec::new();
    for address in &addresses {
        let id = attributes(client, &graph_node(address), "data-node").await;
        ids.push(id.into_iter().next().unwrap_or_default());
    }
    assert!(ids.iter().all(|id| !id.is_empty()), "{ids:?}");
    (addresses, ids)
}

async fn choose(client: &fantoccini::Client, select: &str, value: &str) {
    client
        .find(Locator::Css(select))
        .await
        .unwrap_or_else(|e| panic!("no {select}: {e}"))
        .select_by_value(value)
        .await
        .unwrap_or_else(|e| panic!("no option {value} in {select}: {e}"));
}

/// The cap column of the hash power table, top to bottom.
async fn caps(client: &fantoccini::Client) -> Vec<String> {
    futures_text(client, "#hashpower-table tbody tr td:nth-of-type(1)").await
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
async fn a_person_starts_a_forger_and_sees_its_blocks_refused_and_it_banned() {
    let _alone = ONE_STORY_AT_A_TIME.lock().await;
    let dist = ensure_dist();
    let temp = TempDir::new();
    let manager = start_manager_sized(&temp.0, &dist, "0", None, 3);
    let browser = Browser::chosen();
    let (_driver, client) = open_explorer(browser, &temp.0, &manager).await;
    let (addresses, ids) = three_nodes(&client).await;

    // Without caps an attack has no hash power to share.
    show(&client, "#attacks").await;
    choose(&client, "#attack-node", &ids[0]).await;
    fill(&client, "#attack-share", "50").await;
    click(&client, "button[data-action=attack-start]").await;
    let refused = wait_text(&client, "#attacks [role=status]", "the refusal", |t| {
        !t.is_empty() && !t.ends_with('…')
    })
    .await;
    assert!(refused.contains("/network/hashrate"), "{refused}");
    // The browser logs the refused request (409) as an error of its own:
    // that one, and only that one, is expected.
    let logged = browser.console_errors(&client).await;
    assert!(
        logged
            .iter()
            .all(|e| e.contains("/attacks") && e.contains("409")),
        "{logged:#?}"
    );

    // 3 000 attempts/s split equally.
    show(&client, "#hashpower").await;
    fill(&client, "#hp-total", "3000").await;
    click(&client, "button[data-action=hashrate-network]").await;
    let set = wait_text(&client, "#hashpower [role=status]", "the caps", |t| {
        t.starts_with("Set") || t.starts_with("Error")
    })
    .await;
    assert!(set.contains("over 3 nodes"), "{set}");
    for _ in 0..MAX_POLLS {
        if caps(&client).await == ["1,000", "1,000", "1,000"] {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let before = caps(&client).await;
    assert_eq!(before, ["1,000", "1,000", "1,000"]);

    // A forger with half the hash power, breaking the merkle root.
    show(&client, "#attacks").await;
    choose(&client, "#attack-kind", "forger").await;
    choose(&client, "#attack-node", &ids[0]).await;
    choose(&client, "#attack-rule", "bad_merkle_root").await;
    fill(&client, "#attack-share", "50").await;
    click(&client, "button[data-action=attack-start]").await;
    wait_text(&client, "#attack-report h3", "the running attack", |t| {
        t.contains("running since")
    })
    .await;
    for _ in 0..MAX_POLLS {
        if caps(&client).await == ["1,500", "750", "750"] {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    assert_eq!(caps(&client).await, ["1,500", "750", "750"]);

    click_row(&client, &addresses[0], "toggle-mining").await;
    let rejections = wait_text(
        &client,
        "#attack-report [data-field=rejections]",
        "the refusals",
        |t| t.contains("wrong_merkle_root"),
    )
    .await;
    assert!(rejections.contains("refused, by"), "{rejections}");
    let bans = wait_text(&client, "#attack-report [data-field=bans]", "a ban", |t| {
        t.contains("banned")
    })
    .await;
    let forger = addresses[0].rsplit(':').next().unwrap();
    assert!(bans.contains(&format!("banned {forger}")), "{bans}");
    let chain = text_of(&client, "#attack-report [data-field=attacker-share]").await;
    assert!(
        chain.starts_with("0 of "),
        "a forged block on the chain: {chain}"
    );
    // Under the tree: the refused block, its rule and who refused it.
    let listed = wait_text(&client, "#refused-blocks", "the refused blocks", |t| {
        t.contains("refused by")
    })
    .await;
    assert!(listed.contains("merkle root"), "{listed}");
    show(&client, "#attacks").await;
    screenshot(&client, "lab-01-forger").await;

    click(&client, "button[data-action=attack-stop]").await;
    wait_text(&client, "#attacks [role=status]", "the stop", |t| {
        t.starts_with("Stopped")
    })
    .await;
    wait_text(&client, "#attack-report h3", "the finished attack", |t| {
        t.contains("ran from")
    })
    .await;
    for _ in 0..MAX_POLLS {
        if caps(&client).await == before {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    assert_eq!(caps(&client).await, before, "the caps are not back");
    audit_and_console(browser, &client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_starts_a_selfish_miner_and_watches_its_share_move() {
    let _alone = ONE_STORY_AT_A_TIME.lock().await;
    let dist = ensure_dist();
    let temp = TempDir::new();
    let manager = start_manager_sized(&temp.0, &dist, "0", None, 3);
    let browser = Browser::chosen();
    let (_driver, client) = open_explorer(browser, &temp.0, &manager).await;
    let (_addresses, ids) = three_nodes(&client).await;

    show(&client, "#hashpower").await;
    fill(&client, "#hp-total", "3000").await;
    click(&client, "button[data-action=hashrate-network]").await;
    wait_text(&client, "#hashpower [role=status]", "the caps", |t| {
        t.starts_with("Set")
    })
    .await;
    show(&client, "#attacks").await;
    choose(&client, "#attack-kind", "selfish").await;
    choose(&client, "#attack-node", &ids[0]).await;
    fill(&client, "#attack-share", "40").await;
    click(&client, "button[data-action=attack-start]").await;
    wait_text(&client, "#attack-report h3", "the running attack", |t| {
        t.contains("Selfish mining") && t.contains("40.0 %")
    })
    .await;
    let fair = attributes(&client, "#plot-attack polyline.fair", "points").await;
    assert_eq!(fair.len(), 1, "no fair-share line");

    click(&client, "button[data-action=start-all]").await;
    // The chart gains a point each time the best chain grows; it has
    // moved once it has drawn three different shapes of its line.
    let mut shapes = std::collections::BTreeSet::new();
    for _ in 0..(3 * MAX_POLLS) {
        if let Some(points) = attributes(&client, "#plot-attack polyline.series", "points")
            .await
            .into_iter()
            .next()
        {
            shapes.insert(points);
        }
        if shapes.len() >= 3 {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    assert!(
        shapes.len() >= 3,
        "the share chart did not move: {shapes:?}"
    );
    let summary = text_of(&client, "#plot-attack-desc").await;
    assert!(
        summary.starts_with("The attacker has") && summary.ends_with("its fair share is 40.0 %."),
        "{summary}"
    );
    let share = text_of(&client, "#attack-report [data-field=attacker-share]").await;
    assert!(share.contains("fair share 40.0 %"), "{share}");
    show(&client, "#attacks").await;
    screenshot(&client, "lab-02-selfish").await;

    click(&client, "button[data-action=stop-all]").await;
    click(&client, "button[data-action=attack-stop]").await;
    wait_text(&client, "#attacks [role=status]", "the stop", |t| {
        t.starts_with("Stopped")
    })
    .await;
    audit_and_console(browser, &client).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_reads_propagation_and_runs_a_short_scenario() {
    let _alone = ONE_STORY_AT_A_TIME.lock().await;
    let dist = ensure_dist();
    let temp = TempDir::new();
    let manager = start_manager_sized(&temp.0, &dist, "0", None, 3);
    let browser = Browser::chosen();
    let (_driver, client) = open_explorer(browser, &temp.0, &manager).await;
    let (addresses, _ids) = three_nodes(&client).await;

    let empty = text_of(&client, "#plot-propagation-desc").await;
    assert!(empty.contains("no block"), "{empty}");
    mine(&client, &addresses[0]).await;
    mine(&client, &addresses[1]).await;
    // Each block reaches the two other nodes: four arrivals.
    let propagation = wait_text(
        &client,
        "#plot-propagation-desc",
        "the propagation figure",
        |t| t.starts_with("Over the last 4 arrivals"),
    )
    .await;
    assert!(propagation.contains("90 % within"), "{propagation}");
    assert!(
        count(&client, "#plot-propagation polyline.series").await == 1,
        "no CDF drawn"
    );
    show(&client, "#metrics").await;
    screenshot(&client, "lab-03-metrics").await;

    show(&client, "#scenarios").await;
    choose(&client, "#scenario-name", "stale-rate").await;
    fill(&client, "#scenario-blocks", "2").await;
    click(&client, "button[data-action=scenario-run]").await;
    wait_count(&client, "#scenario-progress", "the progress bar", |n| {
        n == 1
    })
    .await;
    // A job of five nodes of its own: give it up to five minutes.
    let mut table = String::new();
    for _ in 0..(5 * MAX_POLLS) {
        table = text_of(&client, "#scenario-result").await;
        if table.contains("stale_rate") || table.contains("failed") {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    assert!(table.contains("stale_rate"), "no report: {table:?}");
    // One measurement per latency the scenario sets.
    let rows = count(&client, "#scenario-table tbody tr").await;
    assert!(rows >= 4, "{rows} rows: {table}");
    let caption = text_of(&client, "#scenario-table caption").await;
    assert!(caption.starts_with("stale-rate: 5 nodes"), "{caption}");
    let href = attributes(&client, "#scenario-download", "href").await;
    assert!(
        href[0].starts_with("data:application/json"),
        "{:?}",
        &href[0][..href[0].len().min(60)]
    );
    // The manager's own network is still its three nodes.
    assert_eq!(count(&client, "#nodes tbody tr").await, 3);
    show(&client, "#scenarios").await;
    screenshot(&client, "lab-04-scenario").await;
    audit_and_console(browser, &client).await;
}
