//! Two small line charts along the main chain: block interval and
//! difficulty by height.

use leptos::prelude::*;

use crate::charts::{Point, polyline, range, series};
use crate::format::{big_number, count};
use crate::state::Network;

/// Blocks the charts look back over.
const SPAN: usize = 200;
const W: f64 = 420.0;
const H: f64 = 120.0;
/// Room on the left for the value labels and below for the heights.
const PAD_L: f64 = 84.0;
const PAD_B: f64 = 20.0;

#[component]
pub fn ChartsPanel() -> impl IntoView {
    let net = expect_context::<Network>();
    let data = Memo::new(move |_| net.tree.with(|t| series(t, SPAN)));
    view! {
        <section id="charts" aria-labelledby="charts-title">
            <h2 id="charts-title">"Charts"</h2>
            <p class="hint">{format!("The last {SPAN} blocks of the chain most nodes are on.")}</p>
            <LineChart
                id="chart-interval"
                title="Block interval (seconds)"
                points=Signal::derive(move || data.with(|d| d.interval_s.clone()))
                value=|v| if v < 1e4 { format!("{v:.1} s") } else { format!("{v:.2e} s") }
            />
            <LineChart
                id="chart-difficulty"
                title="Difficulty (expected attempts per block)"
                points=Signal::derive(move || data.with(|d| d.difficulty.clone()))
                value=big_number
            />
        </section>
    }
}

#[component]
fn LineChart(
    id: &'static str,
    title: &'static str,
    points: Signal<Vec<Point>>,
    value: fn(f64) -> String,
) -> impl IntoView {
    let title_id = format!("{id}-title");
    let desc = move || {
        points.with(|p| match (range(p), p.first(), p.last()) {
            (Some((lo, hi)), Some(first), Some(last)) => format!(
                "{title} from height {} to {}: lowest {}, highest {}, latest {}.",
                count(first.0),
                count(last.0),
                value(lo),
                value(hi),
                value(last.1)
            ),
            _ => format!("{title}: no blocks yet."),
        })
    };
    let line = move || points.with(|p| polyline(p, W, H));
    let labels = move || {
        points.with(|p| range(p).map(|(lo, hi)| (value(hi), value(lo), p[0].0, p[p.len() - 1].0)))
    };
    view! {
        <figure class="chart">
            <figcaption id=title_id.clone()>{title}</figcaption>
            <svg
                id=id
                role="img"
                aria-labelledby=title_id
                aria-describedby=format!("{id}-desc")
                width=(PAD_L + W + 8.0).to_string()
                height=(H + PAD_B + 8.0).to_string()
            >
                <line class="axis" x1=PAD_L.to_string() y1="4" x2=PAD_L.to_string() y2=(H + 4.0).to_string()/>
                <line class="axis" x1=PAD_L.to_string() y1=(H + 4.0).to_string() x2=(PAD_L + W).to_string() y2=(H + 4.0).to_string()/>
                {move || labels().map(|(hi, lo, first, last)| view! {
                    <text class="axis-label" x=(PAD_L - 4.0).to_string() y="12" text-anchor="end">{hi}</text>
                    <text class="axis-label" x=(PAD_L - 4.0).to_string() y=(H + 4.0).to_string() text-anchor="end">{lo}</text>
                    <text class="axis-label" x=PAD_L.to_string() y=(H + PAD_B).to_string()>{count(first)}</text>
                    <text class="axis-label" x=(PAD_L + W).to_string() y=(H + PAD_B).to_string() text-anchor="end">{count(last)}</text>
                })}
                <g transform=format!("translate({PAD_L},4)")>
                    <polyline class="series" points=line fill="none"/>
                </g>
            </svg>
            <p id=format!("{id}-desc") class="chart-desc">{desc}</p>
        </figure>
    }
}
