//! The block tree as a live SVG: heights left to right, forks as lanes
//! below the main chain, stale blocks dashed and grey, each node's tip
//! labelled with the node. It keeps the newest blocks in view until the
//! reader scrolls back, and draws only the columns in sight, so a tree of
//! any size costs the same to draw.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::BlockHash;

use crate::format::{blocks, count, short_hash};
use crate::layout::{Layout, Placed, lane_class, layout};
use crate::state::Network;
use crate::sync;

/// Column width per height.
pub const DX: f64 = 46.0;
/// Row height per lane.
pub const DY: f64 = 40.0;
const BLOCK_W: f64 = 34.0;
const BLOCK_H: f64 = 20.0;
const LEFT: f64 = 16.0;
/// Room for the height axis and the first lane's tip labels.
const TOP: f64 = 40.0;
/// Columns drawn beyond each edge of the view, so scrolling shows no gap.
const SPARE_PX: f64 = 240.0;

fn x_of(height: u64, min_height: u64) -> f64 {
    LEFT + (height - min_height) as f64 * DX
}

fn y_of(lane: u32) -> f64 {
    TOP + f64::from(lane) * DY
}

/// The heights whose columns fall within `left..left + width` pixels.
pub fn heights_in_view(layout: &Layout, left: f64, width: f64) -> (u64, u64) {
    let first = ((left - SPARE_PX - LEFT) / DX).floor().max(0.0) as u64;
    let last = ((left + width + SPARE_PX - LEFT) / DX).ceil().max(0.0) as u64;
    (
        layout.min_height.saturating_add(first),
        layout.min_height.saturating_add(last),
    )
}

/// One block as drawn, with everything that changes its drawing in the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Drawn {
    hash: BlockHash,
    height: u64,
    x: i64,
    y: i64,
    parent_y: Option<i64>,
    stale: bool,
    tip_label: String,
    lane: u32,
}

fn drawn(placed: &Placed, min_height: u64, names: &dyn Fn(&str) -> String) -> Drawn {
    let mut labels: Vec<String> = placed.tip_of.iter().map(|id| names(id)).collect();
    labels.sort_unstable();
    Drawn {
        hash: placed.hash,
        height: placed.height,
        x: x_of(placed.height, min_height) as i64,
        y: y_of(placed.lane) as i64,
        parent_y: placed.parent_lane.map(|lane| y_of(lane) as i64),
        stale: placed.stale,
        tip_label: labels.join(" · "),
        lane: placed.lane,
    }
}

/// A sentence about the whole tree, for screen readers and the curious.
fn summary(layout: &Layout, tips: usize) -> String {
    if layout.blocks.is_empty() {
        return "No blocks loaded yet.".to_owned();
    }
    let stale = layout.blocks.iter().filter(|b| b.stale).count() as u64;
    let older = if layout.min_height > 0 {
        format!(
            " Blocks below height {} are not loaded.",
            count(layout.min_height)
        )
    } else {
        String::new()
    };
    let lanes = if layout.lanes == 1 {
        "1 lane".to_owned()
    } else {
        format!("{} lanes", layout.lanes)
    };
    format!(
        "{} from height {} to {} in {lanes}; {} stale; {} node tips.{older}",
        blocks(layout.blocks.len() as u64),
        count(layout.min_height),
        count(layout.max_height),
        count(stale),
        tips
    )
}

/// The tree's layout, computed once per change for every panel that draws
/// branches (the tree, the network graph's colours).
#[derive(Clone, Copy)]
pub struct PageLayout(pub Memo<Layout>);

/// The page's [`PageLayout`], or a new one where no shell provided it.
pub fn page_layout(net: Network) -> Memo<Layout> {
    use_context::<PageLayout>()
        .map(|p| p.0)
        .unwrap_or_else(|| Memo::new(move |_| net.tree.with(layout)))
}

#[component]
pub fn TreePanel() -> impl IntoView {
    let net = expect_context::<Network>();
    let layout = page_layout(net);
    let scroller = NodeRef::<leptos::html::Div>::new();
    let scroll_left = RwSignal::new(0.0f64);
    let view_width = RwSignal::new(1200.0f64);
    // Keep the newest blocks in view until the reader scrolls back.
    let follow = RwSignal::new(true);
    let older = RwSignal::new(String::new());

    let measure = move || {
        if let Some(el) = scroller.get_untracked() {
            let left = f64::from(el.scroll_left());
            let width = f64::from(el.client_width());
            let max = f64::from(el.scroll_width()) - width;
            scroll_left.set(left);
            if width > 0.0 {
                view_width.set(width);
            }
            follow.set(left >= max - DX);
        }
    };
    let to_newest = move || {
        request_animation_frame(move || {
            // The reader may have scrolled back since this frame was asked
            // for: their place wins.
            if !follow.get_untracked() {
                return;
            }
            if let Some(el) = scroller.get_untracked() {
                el.set_scroll_left(el.scroll_width());
                scroll_left.set(f64::from(el.scroll_left()));
                view_width.set(f64::from(el.client_width()).max(1.0));
            }
        });
    };
    Effect::new(move |_| {
        layout.track();
        if follow.get_untracked() {
            to_newest();
        }
    });

    let width = move || {
        layout.with(|l| {
            if l.blocks.is_empty() {
                0.0
            } else {
                x_of(l.max_height, l.min_height) + BLOCK_W + 120.0
            }
        })
    };
    let height = move || layout.with(|l| y_of(l.lanes.max(1)) + 8.0);
    let visible = move || {
        let names = move |id: &str| net.name_of(id);
        layout.with(|l| {
            let (low, high) = heights_in_view(l, scroll_left.get(), view_width.get());
            l.in_heights(low, high)
                .iter()
                .map(|p| drawn(p, l.min_height, &names))
                .collect::<Vec<_>>()
        })
    };
    let ticks = move || {
        layout.with(|l| {
            let (low, high) = heights_in_view(l, scroll_left.get(), view_width.get());
            let high = high.min(l.max_height);
            (low..=high)
                .filter(|h| h.is_multiple_of(10))
                .map(|h| (h, x_of(h, l.min_height)))
                .collect::<Vec<_>>()
        })
    };
    let load_older = move |_| {
        older.set("Loading older blocks…".to_owned());
        spawn_local(async move {
            older.set(match sync::load_older(net).await {
                Ok(0) => "No older blocks to load.".to_owned(),
                Ok(n) => format!("Loaded {} older blocks.", count(n)),
                Err(err) => format!("Error: {err}"),
            });
        });
    };
    let summary_text = move || {
        let tips = net.tree.with(|t| t.tips().len());
        layout.with(|l| summary(l, tips))
    };

    view! {
        <section id="tree" aria-labelledby="tree-title">
            <h2 id="tree-title">"Block tree"</h2>
            <div class="toolbar">
                <button type="button" on:click=move |_| {
                    follow.set(true);
                    to_newest();
                }>"Jump to newest"</button>
                <button type="button" on:click=load_older>"Load older blocks"</button>
                <span role="status">{move || older.get()}</span>
                <span class="legend">
                    <span class="key key-block">"block"</span>
                    <span class="key key-stale">"stale block"</span>
                    <span class="key key-fork">"fork (each branch its own colour)"</span>
                    <span class="key key-selected">"selected"</span>
                    <span class="key key-tip">"5001: tip of node 5001"</span>
                </span>
            </div>
            <p id="tree-summary">{summary_text}</p>
            <div
                class="tree-scroll"
                // Inline, not only in the stylesheet: drawing only the columns
                // in sight relies on this box scrolling.
                style="overflow-x: auto; overflow-y: hidden; max-width: 100%"
                node_ref=scroller on:scroll=move |_| measure() tabindex="0" role="group" aria-label="Block tree, scrolls sideways">
                <svg
                    id="tree-svg"
                    role="group"
                    aria-labelledby="tree-title"
                    aria-describedby="tree-summary"
                    width=move || width().to_string()
                    height=move || height().to_string()
                >
                    <For
                        each=ticks
                        key=|tick| tick.0
                        children=move |(h, x)| {
                            view! {
                                <text class="tick" x=(x + 2.0).to_string() y="14">{count(h)}</text>
                            }
                        }
                    />
                    <For
                        each=visible
                        key=|d: &Drawn| d.clone()
                        children=move |d: Drawn| view! { <BlockMark d/> }
                    />
                </svg>
            </div>
            <RefusedBlocks/>
        </section>
    }
}

/// Blocks nodes refused: no valid chain holds them, so they are listed
/// under the tree rather than drawn in it, each with its rule and the
/// nodes that refused it.
#[component]
fn RefusedBlocks() -> impl IntoView {
    let net = expect_context::<Network>();
    let items = move || {
        net.rejected.with(|list| {
            list.iter()
                .map(|r| {
                    let by: Vec<String> = r.nodes.iter().map(|id| net.name_of(id)).collect();
                    let from = r
                        .from
                        .as_deref()
                        .map(|a| format!(", sent by {}", crate::format::node_name(a)))
                        .unwrap_or_default();
                    view! {
                        <li>
                            <code>{short_hash(&r.hash)}</code>
                            {format!(" at height {}: {}; refused by {}{from}", count(r.height), r.summary, by.join(", "))}
                        </li>
                    }
                })
                .collect_view()
        })
    };
    view! {
        <Show when=move || net.rejected.with(|l| !l.is_empty())>
            <div id="refused-blocks" class="refused" aria-live="polite">
                <h3>"Refused blocks (in no valid chain, so not drawn)"</h3>
                <ul>{items}</ul>
            </div>
        </Show>
    }
}

#[component]
fn BlockMark(d: Drawn) -> impl IntoView {
    let net = expect_context::<Network>();
    let hash = d.hash;
    let (x, y) = (d.x as f64, d.y as f64);
    let edge = d.parent_y.map(|py| {
        let (x0, y0) = (x - DX + BLOCK_W, py as f64 + BLOCK_H / 2.0);
        let (x1, y1) = (x, y + BLOCK_H / 2.0);
        let mid = (x0 + x1) / 2.0;
        format!("M{x0},{y0} C{mid},{y0} {mid},{y1} {x1},{y1}")
    });
    let selected = move || net.selected.get() == Some(hash);
    let select = move || net.selected.set(Some(hash));
    let stale_word = if d.stale { "stale " } else { "" };
    let tips = if d.tip_label.is_empty() {
        String::new()
    } else {
        format!(", tip of {}", d.tip_label)
    };
    let label = format!(
        "{stale_word}block {} ({}){tips}",
        d.height,
        short_hash(&hash)
    );
    let has_tip = !d.tip_label.is_empty();
    view! {
        {edge.map(|path| view! { <path class="edge" class:stale=d.stale d=path/> })}
        <g
            class=format!("block {}", lane_class(d.lane))
            class:stale=d.stale
            class:selected=selected
            data-hash=hash.to_string()
            data-height=d.height.to_string()
            role="button"
            tabindex="0"
            aria-label=label
            on:click=move |_| select()
            on:keydown=move |ev| {
                if ev.key() == "Enter" || ev.key() == " " {
                    ev.prevent_default();
                    select();
                }
            }
        >
            <rect x=x.to_string() y=y.to_string() width=BLOCK_W.to_string() height=BLOCK_H.to_string() rx="3"/>
            // Clicks go through the label to the block.
            <text class="block-label" pointer-events="none" x=(x + BLOCK_W / 2.0).to_string() y=(y + 14.0).to_string()>
                {d.height.to_string()}
            </text>
        </g>
        {has_tip.then(|| view! {
            <text class="tip-label" x=x.to_string() y=(y - 4.0).to_string()>{d.tip_label.clone()}</text>
        })}
    }
}
