//! Benchmark: the released explorer at scale, in headless Chromium, served
//! by a real manager. Two networks:
//!
//! - `nodes`: 100 regtest nodes (random:8, as the manager lays out more
//!   than eight);
//! - `blocks`: 3 regtest nodes given a chain of `--height` blocks (10 000
//!   by default, grown in memory and posted to each node's `/chain/replace`) before
//!   the page is reloaded.
//!
//! For each it prints one JSON line: the time from navigation start to the
//! page being interactive with everything drawn (every node in the graph
//! and the table; the tree holding its window of recent blocks), and, for five
//! blocks mined from the page, the longest frame in the 3 s after the
//! click and the time until the tree shows the new tip. Frames are
//! `requestAnimationFrame` intervals measured in the page. Figures depend
//! on the machine's load: compare them within one run.
//!
//! `cargo run -p explorer --example scale_bench [-- --nodes 100 --height 10000]`
//! (it builds the debug manager and node the end-to-end tests use)

// A native program: it drives a browser. Built for wasm32 (the workspace's
// wasm clippy builds every target), it is an empty one.
#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
#[path = "../tests/support/mod.rs"]
mod support;

#[cfg(not(target_arch = "wasm32"))]
#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    bench::run().await;
}

#[cfg(not(target_arch = "wasm32"))]
mod bench {
    use std::time::{Duration, Instant};

    use super::support::*;
    use fantoccini::Client;
    use serde_json::{Value, json};

    /// In the page: records when `ready()` first holds (ms since navigation
    /// start) into `window.__ready`, and every frame's time into
    /// `window.__frames`.
    const WATCH: &str = r#"
const ready = new Function(arguments[0]);
window.__frames = [];
window.__ready = null;
const frame = (t) => {
  window.__frames.push(t);
  if (window.__ready === null && ready()) window.__ready = performance.now();
  requestAnimationFrame(frame);
};
requestAnimationFrame(frame);
return performance.now();
"#;

    async fn js(client: &Client, script: &str, args: Vec<Value>) -> Value {
        client
            .execute(script, args)
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Waits (up to `limit`) for `window.__ready`, set by [`WATCH`].
    async fn ready_at(client: &Client, limit: Duration) -> f64 {
        let start = Instant::now();
        loop {
            if let Some(at) = js(client, "return window.__ready;", vec![]).await.as_f64() {
                return at;
            }
            assert!(
                start.elapsed() < limit,
                "the page was not ready in {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks `address`'s Mine button five times, 3 s apart; for each, the
    /// longest frame in the 3 s after the click and the time until the tree
    /// summary changes (the new tip drawn).
    async fn frames_after_blocks(client: &Client, address: &str) -> Value {
        let mut longest = Vec::new();
        let mut drawn = Vec::new();
        for _ in 0..5 {
            let mark = js(
                client,
                r#"
            window.__summary = document.querySelector('#tree-summary').textContent;
            window.__drawn = null;
            const t0 = performance.now();
            const watch = () => {
              if (document.querySelector('#tree-summary').textContent !== window.__summary) {
                window.__drawn = performance.now() - t0;
              } else requestAnimationFrame(watch);
            };
            requestAnimationFrame(watch);
            document.querySelector(arguments[0]).click();
            return t0;
            "#,
                vec![json!(button(address, "mine"))],
            )
            .await
            .as_f64()
            .expect("a time");
            tokio::time::sleep(Duration::from_secs(3)).await;
            let frames: Vec<f64> = serde_json::from_value(
                js(
                    client,
                    "const f = window.__frames; window.__frames = f.slice(-1); return f;",
                    vec![],
                )
                .await,
            )
            .expect("frame times");
            let after: Vec<f64> = frames.into_iter().filter(|t| *t >= mark).collect();
            let worst = after.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max);
            longest.push(worst);
            drawn.push(js(client, "return window.__drawn;", vec![]).await);
        }
        json!({ "longest_frame_ms": longest, "new_tip_drawn_ms": drawn })
    }

    fn arg(name: &str, default: u64) -> u64 {
        let args: Vec<String> = std::env::args().collect();
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(|v| {
                v.parse()
                    .unwrap_or_else(|_| panic!("{name} takes a number"))
            })
            .unwrap_or(default)
    }

    async fn first_address(client: &Client) -> String {
        futures_text(client, "#nodes tbody tr th").await[0].clone()
    }

    pub async fn run() {
        let nodes = arg("--nodes", 100) as usize;
        let height = arg("--height", 10_000);
        let dist = ensure_dist();

        // 100 nodes.
        {
            let temp = TempDir::new();
            let started = Instant::now();
            let manager = start_manager_sized(&temp.0, &dist, "0", None, nodes);
            let network_ms = started.elapsed().as_millis();
            let (_driver, client) = open_explorer(Browser::Chromium, &temp.0, &manager).await;
            // WebDriver hands the page over after its load event, so the
            // watcher starts then; `watch_from_ms` says when. If the page were
            // ready before it, the figure would be that time, an upper bound.
            let ready = format!(
                "return document.querySelectorAll('#network-svg g.net-node').length >= {nodes} \
             && document.querySelectorAll('#nodes tbody tr').length > 0;"
            );
            client.refresh().await.expect("reload");
            let watch_from = js(&client, WATCH, vec![json!(ready)]).await;
            let ready_ms = ready_at(&client, Duration::from_secs(120)).await;
            let address = first_address(&client).await;
            let frames = frames_after_blocks(&client, &address).await;
            let links = count(&client, "#network-svg g.link").await;
            println!(
                "{}",
                json!({
                    "bench": "explorer_scale", "case": "nodes", "nodes": nodes, "links": links,
                    "network_start_ms": network_ms,
                    "watch_from_ms": watch_from,
                    "navigation_to_ready_ms": ready_ms,
                    "after_a_block": frames,
                })
            );
        }

        // A chain of `height` blocks.
        {
            let temp = TempDir::new();
            let manager = start_manager_sized(&temp.0, &dist, "0", None, 3);
            let (_driver, client) = open_explorer(Browser::Chromium, &temp.0, &manager).await;
            wait_count(&client, "#nodes tbody tr", "three rows", |n| n == 3).await;
            let addresses = futures_text(&client, "#nodes tbody tr th").await;
            let address = addresses[0].clone();
            // Mining 10 000 regtest blocks takes hours here (a commit per
            // block); a chain grown in memory, as the propagation benchmark
            // does, is posted to every node instead.
            let grown = Instant::now();
            let params = shared::Preset::Regtest.params();
            let mut chain = Vec::new();
            let mut now = params.genesis.header.timestamp;
            shared::extend_chain(&params, &mut chain, height as usize, "bench-grower", || {
                now += 1;
                now
            });
            let body = json!({ "chain": chain });
            // To every node, isolated meanwhile: relaying 10 000 blocks
            // from one node to the others takes minutes here (their block
            // download runs at tens of blocks a second in this build).
            let http = node::testing::http_client();
            let ids: Vec<String> =
                attributes(&client, "#network-svg g.net-node", "data-node").await;
            let manager_url = format!("http://{}", manager.address);
            for id in &ids {
                let to = format!("{manager_url}/nodes/{id}/isolate");
                let status = http.post(to).send().await.expect("isolate").status();
                assert!(status.is_success(), "isolate {id}: {status}");
            }
            for node in &addresses {
                let answer = http
                    .post(format!("http://{node}/chain/replace"))
                    .json(&body)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("{node}: {e}"));
                let status = answer.status().as_u16();
                assert_eq!(status, 201, "{node} did not take the chain");
            }
            for id in &ids {
                let to = format!("{manager_url}/nodes/{id}/reconnect");
                let status = http.post(to).send().await.expect("reconnect").status();
                assert!(status.is_success(), "reconnect {id}: {status}");
            }
            for node in &addresses {
                wait_text(&client, &cell(node, "height"), "the grown chain", |t| {
                    t.replace(',', "") == height.to_string()
                })
                .await;
            }
            let mining_s = grown.elapsed().as_secs();
            client.refresh().await.expect("reload");
            // Ready once the tree holds its window of recent blocks (the
            // page loads the newest ones, not all 10 000).
            let ready = "const s = document.querySelector('#tree-summary')?.textContent ?? ''; \
                     return s.includes('Blocks below height') \
                     && document.querySelectorAll('#tree-svg g.block').length > 0;";
            let watch_from = js(&client, WATCH, vec![json!(ready)]).await;
            let ready_ms = ready_at(&client, Duration::from_secs(120)).await;
            let drawn_blocks = count(&client, "#tree-svg g.block").await;
            let summary = text_of(&client, "#tree-summary").await;
            let frames = frames_after_blocks(&client, &address).await;
            println!(
                "{}",
                json!({
                    "bench": "explorer_scale", "case": "blocks", "height": height,
                    "grow_and_post_s": mining_s,
                    "watch_from_ms": watch_from,
                    "navigation_to_ready_ms": ready_ms,
                    "blocks_drawn": drawn_blocks, "tree_summary": summary,
                    "after_a_block": frames,
                })
            );
        }
    }
}
