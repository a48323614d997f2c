//! Component tests: each panel mounted in a real browser with test data,
//! then read back from the DOM as a person would see it. Run with
//! `cargo test -p explorer --target wasm32-unknown-unknown` (headless
//! Chromium through wasm-bindgen-test-runner; see xtask).
#![cfg(target_arch = "wasm32")]

use std::sync::Arc;

use explorer::api::Api;
use explorer::check::check_chain;
use explorer::clock::{monotonic_ms, now_ms};
use explorer::layout::synthetic_tree;
use explorer::state::{Checked, Network, Phase, Validation};
use explorer::token::STORAGE_KEY;
use explorer::tree::BlockTree;
use explorer::ui::{
    ChartsPanel, FeedPanel, InspectorPanel, NodesPanel, Shell, TokenField, TreePanel,
    ValidationPanel,
};
use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use shared::api::{NodeState, NodeSummary};
use shared::events::{Event, EventKind};
use shared::{Block, BlockHash, Preset, extend_chain};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;
use web_sys::{Element, HtmlElement, HtmlInputElement};

wasm_bindgen_test_configure!(run_in_browser);

/// Nothing listens there, so every click fails fast with a visible error.
fn offline_network() -> Network {
    Network::new(Api::new("http://127.0.0.1:9"))
}

fn document() -> web_sys::Document {
    web_sys::window().unwrap().document().unwrap()
}

/// Mounts `view` with `net` in context in a fresh element of the page.
fn mount<V: IntoView + 'static>(net: Network, view: impl FnOnce() -> V + 'static) -> HtmlElement {
    let host: HtmlElement = document().create_element("div").unwrap().unchecked_into();
    document().body().unwrap().append_child(&host).unwrap();
    let handle = leptos::mount::mount_to(host.clone(), move || {
        provide_context(net);
        view()
    });
    handle.forget();
    host
}

/// Lets effects and timers run.
async fn settle() {
    for _ in 0..5 {
        TimeoutFuture::new(0).await;
    }
}

/// Waits (up to ~5 s) until `check` holds.
async fn until(what: &str, check: impl Fn() -> bool) {
    for _ in 0..100 {
        if check() {
            return;
        }
        TimeoutFuture::new(50).await;
    }
    panic!("timed out waiting for: {what}");
}

fn all(root: &Element, selector: &str) -> Vec<Element> {
    let list = root.query_selector_all(selector).unwrap();
    (0..list.length())
        .filter_map(|i| list.item(i))
        .map(|n| n.unchecked_into())
        .collect()
}

fn one(root: &Element, selector: &str) -> Element {
    root.query_selector(selector)
        .unwrap()
        .unwrap_or_else(|| panic!("nothing matches {selector}"))
}

fn text(el: &Element) -> String {
    el.text_content().unwrap_or_default()
}

fn node(id: &str, port: u16, state: NodeState, mining: bool, isolated: bool) -> NodeSummary {
    NodeSummary {
        id: id.to_owned(),
        address: format!("127.0.0.1:{port}"),
        pid: Some(100 + u32::from(port)),
        state,
        height: Some(7),
        best_hash: None,
        mining,
        hash_rate: 1_500_000.0,
        isolated,
        hashrate_limit: 0,
        hash_share: 0.0,
        measured_share: 0.0,
    }
}

fn three_nodes() -> Vec<NodeSummary> {
    vec![
        node("aaaaaaaa11111111", 5001, NodeState::Running, true, false),
        node("bbbbbbbb22222222", 5002, NodeState::Running, false, true),
        node("cccccccc33333333", 5003, NodeState::Stopped, false, false),
    ]
}

/// A real regtest chain of `blocks` mined blocks after genesis.
fn regtest_chain(blocks: usize, miner: &str) -> Vec<Block> {
    let params = Preset::Regtest.params();
    let mut chain = vec![params.genesis.clone()];
    let mut now = 1_767_225_600_000;
    extend_chain(&params, &mut chain, blocks, miner, || {
        now += 1_000;
        now
    });
    chain
}

fn extend(chain: &[Block], blocks: usize, miner: &str) -> Vec<Block> {
    let params = Preset::Regtest.params();
    let mut chain = chain.to_vec();
    let mut now = 1_767_225_900_000;
    extend_chain(&params, &mut chain, blocks, miner, || {
        now += 1_000;
        now
    });
    chain
}

/// A block tree of `blocks`, each `(node id, hash)` of `tips` a node's tip.
fn tree_of<'a>(
    blocks: impl IntoIterator<Item = &'a Block>,
    tips: &[(&str, BlockHash)],
) -> BlockTree {
    let mut tree = BlockTree::new();
    for block in blocks {
        tree.insert_block(block).unwrap();
    }
    for (node, hash) in tips {
        tree.set_tip(node, *hash);
    }
    tree
}

#[wasm_bindgen_test]
async fn nodes_panel_shows_a_row_per_node_and_each_click_shows_its_outcome() {
    let net = offline_network();
    net.set_nodes(three_nodes());
    let host = mount(net, NodesPanel);
    settle().await;

    let rows = all(&host, "tbody tr");
    assert_eq!(rows.len(), 3);
    let first = text(&rows[0]);
    for expected in ["127.0.0.1:5001", "aaaaaaaa", "running", "1.5 MH/s", "yes"] {
        assert!(first.contains(expected), "{expected:?} not in {first:?}");
    }
    assert!(
        !first.contains("11111111"),
        "the id column shows a short id"
    );
    let button = |row: &Element, action: &str| one(row, &format!("button[data-action={action}]"));
    assert_eq!(text(&button(&rows[0], "toggle-mining")), "Stop mining");
    assert_eq!(text(&button(&rows[0], "toggle-isolation")), "Isolate");
    assert_eq!(text(&button(&rows[1], "toggle-mining")), "Start mining");
    assert_eq!(text(&button(&rows[1], "toggle-isolation")), "Reconnect");
    assert!(text(&rows[1]).contains("isolated"));
    assert!(text(&rows[2]).contains("stopped"));
    assert!(button(&rows[2], "mine").has_attribute("disabled"));
    assert!(!button(&rows[0], "mine").has_attribute("disabled"));
    assert_eq!(
        button(&rows[0], "mine")
            .get_attribute("aria-label")
            .as_deref(),
        Some("Mine one block on 5001")
    );
    let toolbar: Vec<String> = all(&host, ".toolbar button").iter().map(text).collect();
    assert_eq!(
        toolbar,
        ["Start mining", "Stop mining", "Add node", "Shut down all"]
    );

    // No manager answers: the click's error shows in that node's row.
    button(&rows[0], "mine")
        .unchecked_into::<HtmlElement>()
        .click();
    let result = one(&rows[0], "[data-field=result]");
    until("the row shows the error", || {
        text(&result).starts_with("Error: cannot reach the manager")
    })
    .await;
    // And a network-wide one beside the network buttons.
    one(&host, "button[data-action=stop-all]")
        .unchecked_into::<HtmlElement>()
        .click();
    let outcome = one(&host, "#network-outcome");
    until("the toolbar shows the error", || {
        text(&outcome).starts_with("Error:")
    })
    .await;

    // An event changes the row without a reload.
    net.apply(Event {
        at: 0,
        node: Some("bbbbbbbb22222222".into()),
        kind: EventKind::MiningStarted {
            mode: shared::events::MiningMode::Continuous,
        },
    });
    settle().await;
    assert_eq!(text(&button(&rows[1], "toggle-mining")), "Stop mining");
}

#[wasm_bindgen_test]
async fn the_page_shows_its_panels_once_the_manager_has_listed_its_nodes() {
    let net = offline_network();
    let host = mount(net, Shell);
    settle().await;
    TimeoutFuture::new(100).await;
    // The header comes at once; the panels wait, so they do not jump.
    assert!(host.query_selector("header #connection").unwrap().is_some());
    assert!(host.query_selector("header input#token").unwrap().is_some());
    assert!(all(&host, "main section").is_empty());

    net.set_nodes(three_nodes());
    until("the nodes panel", || {
        host.query_selector("#nodes").unwrap().is_some()
    })
    .await;
    assert_eq!(
        all(&host, "#nodes tbody tr").len(),
        3,
        "the rows are there when the panel appears"
    );
    until("every panel", || all(&host, "main section").len() == 11).await;
    let order: Vec<String> = all(&host, "main section").iter().map(|s| s.id()).collect();
    assert_eq!(
        order,
        [
            "nodes",
            "tree",
            "network",
            "inspector",
            "validation",
            "charts",
            "activity",
            "hashpower",
            "attacks",
            "metrics",
            "scenarios"
        ]
    );
}

fn session_storage() -> web_sys::Storage {
    web_sys::window()
        .unwrap()
        .session_storage()
        .unwrap()
        .unwrap()
}

#[wasm_bindgen_test]
async fn token_field_keeps_the_token_for_the_tab_and_restores_it_on_mount() {
    let storage = session_storage();
    // A token kept by an earlier page of this tab comes back on mount.
    storage.set_item(STORAGE_KEY, "kept-token").unwrap();
    let net = offline_network();
    let host = mount(net, TokenField);
    settle().await;
    let input: HtmlInputElement = one(&host, "input#token").unchecked_into();
    assert_eq!(input.type_(), "password");
    assert_eq!(input.value(), "kept-token");
    assert_eq!(net.token.get_untracked().as_deref(), Some("kept-token"));
    assert!(
        net.api()
            .events_url()
            .ends_with("/events?access_token=kept-token")
    );
    // Labelled, with its hint read out with it.
    assert_eq!(text(&one(&host, "label[for=token]")), "Token");
    let hint = input.get_attribute("aria-describedby").unwrap();
    assert!(text(&one(&host, &format!("#{hint}"))).contains("kept in this tab"));

    // A new token, pasted with a newline, is taken on change and kept.
    input.set_value(" fresh-token\n");
    input
        .dispatch_event(&web_sys::Event::new("change").unwrap())
        .unwrap();
    settle().await;
    assert_eq!(net.token.get_untracked().as_deref(), Some("fresh-token"));
    assert_eq!(
        storage.get_item(STORAGE_KEY).unwrap().as_deref(),
        Some("fresh-token")
    );
    assert_eq!(input.value(), "fresh-token");

    // Emptied and submitted with the button: no token, none kept.
    input.set_value("");
    one(&host, "form.token button[type=submit]")
        .unchecked_into::<HtmlElement>()
        .click();
    settle().await;
    assert_eq!(net.token.get_untracked(), None);
    assert_eq!(storage.get_item(STORAGE_KEY).unwrap(), None);
    assert!(net.api().events_url().ends_with("/events"));

    // Nothing kept: a fresh mount starts without a token.
    let again = offline_network();
    let host = mount(again, TokenField);
    settle().await;
    let input: HtmlInputElement = one(&host, "input#token").unchecked_into();
    assert_eq!(input.value(), "");
    assert_eq!(again.token.get_untracked(), None);
}

#[wasm_bindgen_test]
async fn tree_draws_forks_stale_blocks_and_labelled_tips() {
    let main = regtest_chain(6, "a");
    let fork = extend(&main[..4], 2, "b");
    let stale = extend(&main[..2], 1, "c");
    let tree = tree_of(
        main.iter().chain(&fork).chain(&stale),
        &[
            ("aaaaaaaa11111111", main[6].hash),
            ("bbbbbbbb22222222", main[6].hash),
            ("cccccccc33333333", fork[5].hash),
        ],
    );
    let net = offline_network();
    net.nodes.set(three_nodes());
    net.tree.set(tree);
    let host = mount(net, TreePanel);
    settle().await;

    let blocks = all(&host, "g.block");
    assert_eq!(blocks.len(), 7 + 2 + 1);
    let stale_blocks = all(&host, "g.block.stale");
    assert_eq!(stale_blocks.len(), 1);
    assert_eq!(
        stale_blocks[0].get_attribute("data-height").as_deref(),
        Some("2")
    );
    let labels: Vec<String> = all(&host, ".tip-label").iter().map(text).collect();
    assert_eq!(labels.len(), 2);
    assert!(labels.contains(&"5001 · 5002".to_owned()), "{labels:?}");
    assert!(labels.contains(&"5003".to_owned()), "{labels:?}");
    // Forks sit on lanes below the main chain.
    let y_of = |hash: &BlockHash| {
        let block = one(&host, &format!("g.block[data-hash=\"{hash}\"]"));
        one(&block, "rect").get_attribute("y").unwrap()
    };
    let main_y = y_of(&main[6].hash);
    assert!(main[..7].iter().all(|b| y_of(&b.hash) == main_y));
    assert_ne!(y_of(&fork[5].hash), main_y);
    assert_ne!(y_of(&stale[2].hash), main_y);
    assert!(text(&one(&host, "#tree-summary")).contains("10 blocks from height 0 to 6"));

    // Clicking a block selects it.
    let tip = main[6].hash.to_string();
    let target = one(&host, &format!("g.block[data-hash=\"{tip}\"]"));
    target
        .dispatch_event(&web_sys::MouseEvent::new("click").unwrap())
        .unwrap();
    settle().await;
    assert_eq!(net.selected.get_untracked(), Some(main[6].hash));
    assert!(target.class_list().contains("selected"));

    // A new block appears as its event's block arrives, without a reload.
    let next = extend(&main, 1, "a");
    net.tree.update(|t| {
        t.insert_block(&next[7]).unwrap();
        t.set_tip("aaaaaaaa11111111", next[7].hash);
    });
    settle().await;
    assert_eq!(all(&host, "g.block").len(), 11);
}

#[wasm_bindgen_test]
async fn feed_says_events_in_plain_words_and_rows_follow_them() {
    let net = offline_network();
    net.set_nodes(three_nodes());
    let host = mount(net, FeedPanel);
    let hash: BlockHash = format!("{:0<64}", "00000a3f").parse().unwrap();
    let followup = net.apply(Event {
        at: 1_767_225_600_000,
        node: Some("cccccccc33333333".into()),
        kind: EventKind::BlockMined {
            height: 42,
            hash,
            attempts: 1,
            elapsed_ms: 1_800,
            entries: 0,
        },
    });
    settle().await;
    let lines: Vec<String> = all(&host, "ol.feed li").iter().map(text).collect();
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].ends_with("5003 mined block 42 (00000a3f…) in 1.8 s"),
        "{lines:?}"
    );
    // The row's numbers move with the event, and the unknown block is fetched.
    let row = net.nodes.get_untracked()[2].clone();
    assert_eq!((row.height, row.best_hash), (Some(42), Some(hash)));
    assert_eq!(followup.fetch, vec![("cccccccc33333333".to_owned(), hash)]);
    // A node list read before the event does not take the row back.
    net.set_nodes(three_nodes());
    let row = net.nodes.get_untracked()[2].clone();
    assert_eq!((row.height, row.best_hash), (Some(42), Some(hash)));
}

#[wasm_bindgen_test]
async fn validation_says_valid_and_a_tampered_copy_fails_at_that_block() {
    let chain = regtest_chain(8, "honest");
    let report = check_chain(&Preset::Regtest.params(), &chain, now_ms(), || 0.0);
    let net = offline_network();
    net.validation.set(Some(Validation {
        node_id: "aaaaaaaa11111111".into(),
        node_name: "5001".into(),
        phase: Phase::Checked(Checked {
            params: Arc::new(Preset::Regtest.params()),
            blocks: Arc::new(chain),
            report,
        }),
    }));
    let host = mount(net, ValidationPanel);
    settle().await;
    let verdict = text(&one(&host, "#validation-result"));
    assert!(
        verdict.starts_with("Valid: every block of 5001's chain (regtest rules)"),
        "{verdict}"
    );
    assert!(verdict.contains("9 blocks checked"), "{verdict}");

    let set = |selector: &str, value: &str| {
        let input: HtmlInputElement = one(&host, selector).unchecked_into();
        input.set_value(value);
        input
            .dispatch_event(&web_sys::Event::new("input").unwrap())
            .unwrap();
    };
    set("#tamper-height", "4");
    settle().await;
    // The form offers the field's present value: the coinbase's miner.
    let value: HtmlInputElement = one(&host, "#tamper-value").unchecked_into();
    assert_eq!(value.value(), "honest");
    set("#tamper-value", "mallory");
    one(&host, "button[data-action=tamper]")
        .unchecked_into::<HtmlElement>()
        .click();
    settle().await;
    let tampered = text(&one(&host, "#tamper-result"));
    assert!(tampered.contains("Invalid: block 4 ("), "{tampered}");
    assert!(
        tampered.contains("merkle root does not match the entries"),
        "{tampered}"
    );
    // The downloaded chain itself is untouched.
    assert!(text(&one(&host, "#validation-result")).starts_with("Valid"));
}

#[wasm_bindgen_test]
async fn inspector_shows_the_header_hash_against_target_and_holders() {
    let chain = regtest_chain(4, "a");
    let tree = tree_of(&chain, &[("aaaaaaaa11111111", chain[4].hash)]);
    let net = offline_network();
    net.nodes.set(three_nodes());
    net.tree.set(tree);
    net.selected.set(Some(chain[3].hash));
    let host = mount(net, InspectorPanel);
    settle().await;
    let shown = text(&host);
    assert!(shown.contains("Block 3"), "{shown}");
    assert!(shown.contains(&chain[3].hash.to_string()));
    assert!(shown.contains(&chain[3].header.previous_hash.to_string()));
    assert!(shown.contains("207fffff"));
    assert!(text(&one(&host, "[data-field=pow-verdict]")).contains("meets the target"));
    assert_eq!(text(&one(&host, "[data-field=holders]")), "5001");
    // The entries come from a node; with none answering, that is said.
    until("the entries' error", || {
        text(&host).contains("could not load the entries")
    })
    .await;
}

#[wasm_bindgen_test]
async fn charts_draw_interval_and_difficulty() {
    let chain = regtest_chain(12, "a");
    let tree = tree_of(&chain, &[("aaaaaaaa11111111", chain[12].hash)]);
    let net = offline_network();
    net.tree.set(tree);
    let host = mount(net, ChartsPanel);
    settle().await;
    let interval = one(&host, "#chart-interval polyline")
        .get_attribute("points")
        .unwrap();
    // No interval from the genesis block, whose time is fixed.
    assert_eq!(interval.split(' ').count(), 11);
    let desc = text(&one(&host, "#chart-interval-desc"));
    assert!(desc.contains("from height 2 to 12"), "{desc}");
    assert!(desc.contains("latest 1.0 s"), "{desc}");
    assert_eq!(
        one(&host, "#chart-difficulty")
            .get_attribute("role")
            .as_deref(),
        Some("img")
    );
}

/// How fast the browser validates a chain: printed, not asserted.
#[wasm_bindgen_test]
async fn benchmark_validation_speed() {
    let chain = regtest_chain(2_000, "bench");
    let report = check_chain(&Preset::Regtest.params(), &chain, now_ms(), monotonic_ms);
    assert!(report.is_valid());
    assert_eq!(report.blocks_checked, 2_001);
    console_log!(
        "validation benchmark: {} blocks in {:.1} ms ({:.0} blocks per second)",
        report.blocks_checked,
        report.elapsed_ms,
        report.blocks_per_second().unwrap_or(f64::INFINITY)
    );
}

/// The figure the issue asks for: a 10 000-block tree with 6 tips, laid out
/// and drawn. Printed, not asserted: timings depend on the machine.
#[wasm_bindgen_test]
async fn benchmark_tree_of_10000_blocks_with_6_tips() {
    let tree = synthetic_tree(10_000, 6, 250);
    assert_eq!(tree.tips().len(), 6);
    let total = tree.len();

    let started = monotonic_ms();
    let layout = explorer::layout::layout(&tree);
    let layout_ms = monotonic_ms() - started;
    assert_eq!(layout.blocks.len(), total);

    let net = offline_network();
    net.tree.set(tree);
    let started = monotonic_ms();
    let host = mount(net, TreePanel);
    // Reading the geometry makes the browser lay the drawing out now.
    let _ = one(&host, "#tree-svg").get_bounding_client_rect();
    let first_draw_ms = monotonic_ms() - started;
    let drawn = all(&host, "g.block").len();
    assert!(
        drawn > 0 && drawn < total,
        "only the columns in sight are drawn ({drawn})"
    );

    // It then follows the newest blocks: the six tips come into view.
    until("the newest blocks in view", || {
        all(&host, "g.block")
            .iter()
            .any(|b| b.get_attribute("data-height").as_deref() == Some("9999"))
    })
    .await;
    let labels: usize = all(&host, ".tip-label")
        .iter()
        .map(|l| text(l).split(" · ").count())
        .sum();
    assert_eq!(labels, 6);

    // One more block on the main tip: what each live update costs.
    let mut update_ms = f64::NAN;
    let tip = net.tree.with_untracked(|t| t.tips()["node-0"]);
    let header = net.tree.with_untracked(|t| *t.header(&tip).unwrap());
    let next = shared::Header {
        index: header.index + 1,
        previous_hash: tip,
        timestamp: header.timestamp + 1_000,
        ..header
    };
    let started = monotonic_ms();
    net.tree.update(|t| {
        let hash = t.insert_header(next).unwrap();
        t.set_tip("node-0", hash);
    });
    // Polled as often as the browser lets a task run, so the figure is
    // the update plus at most one timer tick.
    let mut seen = false;
    for _ in 0..1_000 {
        TimeoutFuture::new(0).await;
        if all(&host, "g.block")
            .iter()
            .any(|b| b.get_attribute("data-height").as_deref() == Some("10000"))
        {
            update_ms = monotonic_ms() - started;
            seen = true;
            break;
        }
    }
    assert!(seen, "the new block was drawn");
    // Scrolled back to the start, the oldest blocks are drawn, and a new
    // block no longer pulls the view to the end.
    let scroller: HtmlElement = one(&host, ".tree-scroll").unchecked_into();
    scroller.set_scroll_left(0);
    scroller
        .dispatch_event(&web_sys::Event::new("scroll").unwrap())
        .unwrap();
    until("the oldest blocks in view", || {
        all(&host, "g.block")
            .iter()
            .any(|b| b.get_attribute("data-height").as_deref() == Some("0"))
    })
    .await;
    let tip = net.tree.with_untracked(|t| t.tips()["node-0"]);
    let header = net.tree.with_untracked(|t| *t.header(&tip).unwrap());
    net.tree.update(|t| {
        let hash = t
            .insert_header(shared::Header {
                index: header.index + 1,
                previous_hash: tip,
                timestamp: header.timestamp + 1_000,
                ..header
            })
            .unwrap();
        t.set_tip("node-0", hash);
    });
    settle().await;
    TimeoutFuture::new(100).await;
    assert_eq!(scroller.scroll_left(), 0, "the reader's place is kept");

    console_log!(
        "tree benchmark: {total} blocks, 6 tips: layout {layout_ms:.1} ms; \
         layout + first draw {first_draw_ms:.1} ms ({drawn} blocks in view); \
         one new block to drawn {update_ms:.1} ms"
    );
}
