//! One component that draws every [`Plot`]: axes with their labels and end
//! values, the plot's lines, bars and dots (each mark with its value as a
//! tooltip), and the summary in words, which the figure is described by.

use leptos::prelude::*;

use crate::plots::{H, Plot, W};

/// Room for the y values and label on the left, the x values and label
/// below.
const PAD_L: f64 = 58.0;
const PAD_T: f64 = 8.0;
const PAD_B: f64 = 38.0;
const PAD_R: f64 = 14.0;

#[component]
pub fn PlotFigure(id: &'static str, title: &'static str, plot: Signal<Plot>) -> impl IntoView {
    let title_id = format!("{id}-title");
    let desc_id = format!("{id}-desc");
    let bottom = PAD_T + H;
    let drawing = move || {
        plot.with(|p| {
            let lines = p
                .lines
                .iter()
                .map(|l| view! { <polyline class=l.class points=l.points.clone() fill="none"/> })
                .collect_view();
            let bars = p
                .bars
                .iter()
                .map(|b| {
                    view! {
                        <rect class="bar" x=format!("{:.1}", b.x) y=format!("{:.1}", b.y)
                            width=format!("{:.1}", b.w) height=format!("{:.1}", b.h)>
                            <title>{b.label.clone()}</title>
                        </rect>
                    }
                })
                .collect_view();
            let dots = p
                .dots
                .iter()
                .map(|d| {
                    view! {
                        <circle class="dot" cx=format!("{:.1}", d.x) cy=format!("{:.1}", d.y) r="4">
                            <title>{d.label.clone()}</title>
                        </circle>
                    }
                })
                .collect_view();
            view! {
                <text class="axis-label" x=(PAD_L - 4.0).to_string() y=(PAD_T + 8.0).to_string() text-anchor="end">{p.y_ends.1.clone()}</text>
                <text class="axis-label" x=(PAD_L - 4.0).to_string() y=bottom.to_string() text-anchor="end">{p.y_ends.0.clone()}</text>
                <text class="axis-label" x=PAD_L.to_string() y=(bottom + 14.0).to_string()>{p.x_ends.0.clone()}</text>
                <text class="axis-label" x=(PAD_L + W).to_string() y=(bottom + 14.0).to_string() text-anchor="end">{p.x_ends.1.clone()}</text>
                <text class="axis-title" x=(PAD_L + W / 2.0).to_string() y=(bottom + 32.0).to_string() text-anchor="middle">{p.x_label.clone()}</text>
                <text class="axis-title" transform=format!("translate(14,{}) rotate(-90)", PAD_T + H / 2.0) text-anchor="middle">{p.y_label.clone()}</text>
                <g transform=format!("translate({PAD_L},{PAD_T})")>{lines}{bars}{dots}</g>
            }
            .into_any()
        })
    };
    view! {
        <figure class="chart">
            <figcaption id=title_id.clone()>{title}</figcaption>
            <svg
                id=id
                role="img"
                aria-labelledby=title_id
                aria-describedby=desc_id.clone()
                width=(PAD_L + W + PAD_R).to_string()
                height=(bottom + PAD_B).to_string()
            >
                <line class="axis" x1=PAD_L.to_string() y1=PAD_T.to_string() x2=PAD_L.to_string() y2=bottom.to_string()/>
                <line class="axis" x1=PAD_L.to_string() y1=bottom.to_string() x2=(PAD_L + W).to_string() y2=bottom.to_string()/>
                {drawing}
            </svg>
            <p id=desc_id class="chart-desc">{move || plot.with(|p| p.summary.clone())}</p>
        </figure>
    }
}
