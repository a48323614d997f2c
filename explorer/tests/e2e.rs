//! End to end: the released explorer served by a real manager with three
//! real regtest nodes, driven in real headless Chromium through WebDriver,
//! as a person would use it: mine a block and see it in the node's row and
//! in the tree, inspect it, validate the node's chain, tamper a block and
//! see why it fails, make a fork and watch the reorganization, mine with the
//! whole network, restart and add nodes, shut one down, shut all down and
//! see the page go offline, then reconnect by itself to a new manager. A
//! second story drives a manager started with `--token`: refused without
//! it, working once it is entered in the token field. Screenshots of each
//! step go to `target/e2e-screenshots/`.
//!
//! Processes are started with `node::testing` (the manager's announcement)
//! and the WebDriver server is awaited with its `wait_until`; the stories
//! run one at a time, as each drives a browser, a manager and three nodes.
//!
//! Needs `explorer/dist` (built by `cargo xtask test`; built here with trunk
//! when missing) and `/usr/bin/chromedriver` + `/usr/bin/chromium`. With
//! `E2E_AXE=<axe.min.js>` (which `cargo xtask test` sets) the page is also
//! audited with axe-core; `E2E_BROWSER=firefox` drives Firefox instead.
#![cfg(not(target_arch = "wasm32"))]

mod support;

use fantoccini::Locator;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_mines_validates_tampers_and_shuts_down() {
    let _alone = ONE_STORY_AT_A_TIME.lock().await;
    let dist = ensure_dist();
    let temp = TempDir::new();
    let manager = start_manager(&temp.0, &dist);
    let browser = Browser::chosen();
    let (_driver, client) = open_explorer(browser, &temp.0, &manager).await;

    // Three running nodes and a live event stream.
    wait_count(&client, "#nodes tbody tr", "three node rows", |n| n == 3).await;
    for _ in 0..MAX_POLLS {
        let states: Vec<String> = futures_text(&client, "#nodes tbody tr td .badge").await;
        if states.iter().filter(|s| *s == "running").count() == 3 {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    wait_text(&client, "#connection", "the live badge", |t| t == "Live").await;
    let addresses: Vec<String> = futures_text(&client, "#nodes tbody tr th").await;
    assert_eq!(addresses.len(), 3);
    let (first, third) = (addresses[0].clone(), addresses[2].clone());
    let first_name = first.rsplit(':').next().unwrap().to_owned();
    screenshot(&client, "01-network").await;

    // Mine on the first node: the block shows in its row and in the tree.
    let height = mine(&client, &first).await;
    assert!(height >= 1);
    wait_text(&client, &cell(&first, "height"), "the row's height", |t| {
        t == height.to_string()
    })
    .await;
    let block = format!("#tree-svg g.block[data-height=\"{height}\"]");
    wait_count(&client, &block, "the block in the tree", |n| n >= 1).await;
    wait_text(&client, "#tree-svg", "the tip label", |t| {
        t.contains(&first_name)
    })
    .await;
    wait_text(&client, "#activity", "the feed line", |t| {
        t.contains(&format!("{first_name} mined block {height}"))
    })
    .await;

    // Inspect it.
    // The rect, not the group: geckodriver cannot scroll to an SVG <g>.
    click(&client, &format!("{block} rect")).await;
    wait_text(&client, "#inspector", "the inspector", |t| {
        t.contains(&format!("Block {height}")) && t.contains(&format!("coinbase: height {height}"))
    })
    .await;
    let verdict = text_of(&client, "#inspector [data-field=pow-verdict]").await;
    assert!(verdict.contains("meets the target"), "{verdict}");
    show(&client, "#tree").await;
    screenshot(&client, "02-mined-and-inspected").await;

    // Validate the first node's chain in the browser.
    click_row(&client, &first, "validate").await;
    let valid = wait_text(&client, "#validation-result", "the verdict", |t| {
        t.starts_with("Valid:") || t.starts_with("Invalid:") || t.starts_with("Error:")
    })
    .await;
    assert!(valid.starts_with("Valid:"), "{valid}");
    assert!(
        valid.contains("blocks per second") || valid.contains("under a millisecond"),
        "{valid}"
    );
    show(&client, "#tree").await;
    screenshot(&client, "03-validated").await;

    // Tamper with block 1 of the local copy: validation fails there.
    fill(&client, "#tamper-height", "1").await;
    fill(&client, "#tamper-value", "mallory").await;
    click(&client, "button[data-action=tamper]").await;
    let tampered = wait_text(&client, "#tamper-result", "the tampered verdict", |t| {
        !t.is_empty()
    })
    .await;
    assert!(tampered.contains("Invalid: block 1 ("), "{tampered}");
    assert!(
        tampered.contains("merkle root does not match the entries"),
        "{tampered}"
    );
    show(&client, "#validation").await;
    screenshot(&client, "04-tampered").await;

    // A fork: cut the second node off, mine on it and twice on the first,
    // reconnect it. One more block from the first node reaches it; it
    // reorganizes, and its own block is drawn stale.
    let second = addresses[1].clone();
    let second_name = second.rsplit(':').next().unwrap().to_owned();
    click_row(&client, &second, "toggle-isolation").await;
    wait_text(&client, &row(&second), "the isolated badge", |t| {
        t.contains("isolated")
    })
    .await;
    mine(&client, &second).await;
    for _ in 0..2 {
        mine(&client, &first).await;
    }
    click_row(&client, &second, "toggle-isolation").await;
    wait_text(
        &client,
        &button(&second, "toggle-isolation"),
        "Isolate again",
        |t| t == "Isolate",
    )
    .await;
    let top = mine(&client, &first).await;
    wait_text(&client, "#activity", "the reorganization", |t| {
        t.contains(&format!("{second_name} reorganized"))
    })
    .await;
    wait_text(
        &client,
        &cell(&second, "height"),
        "the second node on the longer chain",
        |t| t == top.to_string(),
    )
    .await;
    wait_count(&client, "#tree-svg g.block.stale", "a stale block", |n| {
        n >= 1
    })
    .await;
    let lanes = text_of(&client, "#tree-summary").await;
    assert!(lanes.contains("in 2 lanes"), "{lanes}");
    show(&client, "#tree").await;
    screenshot(&client, "05-fork-and-reorg").await;

    // With E2E_AXE=<path to axe-core's axe.min.js>, the filled page is
    // audited for accessibility too (labels, contrast, landmarks, …).
    if let Some(violations) = audit(&client).await {
        assert!(
            violations.is_empty(),
            "accessibility violations: {violations:#?}"
        );
        eprintln!("e2e: axe-core found no accessibility violations");
    }

    // Nothing so far put an error on the console.
    let errors = browser.console_errors(&client).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");

    // The whole network mines, then stops.
    click(&client, "button[data-action=start-all]").await;
    let started = wait_text(&client, "#network-outcome", "the start's outcome", |t| {
        !t.is_empty() && !t.ends_with('…')
    })
    .await;
    assert!(!started.starts_with("Error"), "{started}");
    wait_text(&client, &cell(&first, "height"), "new blocks", |t| {
        t.parse::<u64>().is_ok_and(|h| h >= top + 3)
    })
    .await;
    click(&client, "button[data-action=stop-all]").await;
    let stopped = wait_text(&client, "#network-outcome", "the stop's outcome", |t| {
        !t.is_empty() && !t.ends_with('…') && t != started
    })
    .await;
    assert!(!stopped.starts_with("Error"), "{stopped}");
    wait_text(&client, "#chart-interval-desc", "the interval chart", |t| {
        t.contains("from height")
    })
    .await;
    show(&client, "#charts").await;
    screenshot(&client, "05b-charts-and-activity").await;

    // Restart the second node; add a fourth.
    click_row(&client, &second, "restart").await;
    let restarted = wait_text(&client, &cell(&second, "result"), "the restart", |t| {
        t.starts_with("Restarted") || t.starts_with("Error")
    })
    .await;
    assert!(restarted.starts_with("Restarted"), "{restarted}");
    click(&client, "button[data-action=add-node]").await;
    let added = wait_text(&client, "#network-outcome", "the added node", |t| {
        t.starts_with("Added node") || t.starts_with("Error")
    })
    .await;
    assert!(added.starts_with("Added node"), "{added}");
    wait_count(&client, "#nodes tbody tr", "four rows", |n| n == 4).await;

    // Shut the third node down: its row says so, and so does the feed.
    click_row(&client, &third, "shutdown").await;
    wait_state(&client, &third, "stopped").await;
    let third_name = third.rsplit(':').next().unwrap().to_owned();
    wait_text(&client, "#activity", "the stop in the feed", |t| {
        t.contains(&format!("node {third_name} stopped"))
    })
    .await;
    show(&client, "#nodes").await;
    screenshot(&client, "06-node-shut-down").await;
    let after = browser.console_errors(&client).await;
    eprintln!("e2e: console errors after the fork, mining, restart, add and shutdown: {after:?}");

    // Shut down all: the manager stops too, and the page says it is offline.
    click(&client, "button[data-action=shutdown-all]").await;
    // The report marks the rows; the stream may close before it comes
    // back, so the offline badge alone does not mean the rows are marked.
    let report = wait_text(&client, "#network-outcome", "the shutdown report", |t| {
        t.contains("the manager stops now") || t.starts_with("Error")
    })
    .await;
    assert!(report.contains("nodes shut down"), "{report}");
    assert!(!report.contains("not stopped"), "{report}");
    wait_text(&client, "#connection", "the offline badge", |t| {
        t.starts_with("Offline")
    })
    .await;
    let states = futures_text(&client, "#nodes tbody tr td .badge").await;
    assert!(!states.iter().any(|s| s == "running"), "{states:?}");
    show(&client, "body").await;
    screenshot(&client, "07-offline").await;

    // A manager comes back on the same address: the page reconnects by
    // itself and shows the new network.
    let port = manager.address.rsplit(':').next().unwrap().to_owned();
    drop(manager);
    let manager = start_manager_on(&temp.0, &dist, &port, None);
    wait_text(&client, "#connection", "the live badge again", |t| {
        t == "Live"
    })
    .await;
    for _ in 0..MAX_POLLS {
        let states = futures_text(&client, "#nodes tbody tr td .badge").await;
        if states.iter().filter(|s| *s == "running").count() == 3 {
            break;
        }
        tokio::time::sleep(POLL).await;
    }
    let states = futures_text(&client, "#nodes tbody tr td .badge").await;
    assert_eq!(
        states.iter().filter(|s| *s == "running").count(),
        3,
        "{states:?}"
    );
    screenshot(&client, "08-reconnected").await;

    client.close().await.expect("the browser closes");
    drop(manager);
}

/// A manager started with `--token` (needs the manager's `--token` flag).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_enters_the_token_a_manager_asks_for() {
    let _alone = ONE_STORY_AT_A_TIME.lock().await;
    const TOKEN: &str = "e2e-token-5f3a9c";
    let dist = ensure_dist();
    let temp = TempDir::new();
    let manager = start_manager_on(&temp.0, &dist, "0", Some(TOKEN));
    let browser = Browser::chosen();
    let (_driver, client) = open_explorer(browser, &temp.0, &manager).await;

    // The rows are there (reads need no token), but the event stream does.
    wait_count(&client, "#nodes tbody tr", "three node rows", |n| n == 3).await;
    wait_text(&client, "#connection", "the offline badge", |t| {
        t.starts_with("Offline")
    })
    .await;
    let addresses: Vec<String> = futures_text(&client, "#nodes tbody tr th").await;
    let first = addresses[0].clone();
    wait_state(&client, &first, "running").await;

    // Without the token a click is refused, and the row says what to do.
    let result = cell(&first, "result");
    click_row(&client, &first, "mine").await;
    let refused = wait_text(&client, &result, "the refusal", |t| t.starts_with("Error")).await;
    assert!(refused.contains("the manager needs a token"), "{refused}");
    screenshot(&client, "09-token-needed").await;

    // A wrong token is refused too, in other words.
    enter_token(&client, "not-the-token").await;
    click_row(&client, &first, "mine").await;
    let wrong = wait_text(&client, &result, "the wrong token's refusal", |t| {
        t.starts_with("Error") && t != refused
    })
    .await;
    assert!(wrong.contains("refused the token"), "{wrong}");

    // With the right one the stream opens and the click works.
    enter_token(&client, TOKEN).await;
    wait_text(&client, "#connection", "the live badge", |t| t == "Live").await;
    let height = mine(&client, &first).await;
    assert!(height >= 1);
    wait_text(&client, &cell(&first, "height"), "the row's height", |t| {
        t == height.to_string()
    })
    .await;
    show(&client, "body").await;
    screenshot(&client, "10-token-accepted").await;

    // A reload in the same tab keeps the token.
    client.refresh().await.expect("the page reloads");
    wait_text(
        &client,
        "#connection",
        "the live badge after a reload",
        |t| t == "Live",
    )
    .await;
    let kept = client
        .find(Locator::Css("#token"))
        .await
        .expect("the token field")
        .prop("value")
        .await
        .expect("its value");
    assert_eq!(kept.as_deref(), Some(TOKEN));

    client.close().await.expect("the browser closes");
    drop(manager);
}
