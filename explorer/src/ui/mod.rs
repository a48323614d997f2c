//! The page: a header with the connection badge, the token field and the
//! section links, and one `<section>` per panel. [`App`] starts following
//! the network; [`Shell`] is the same page without that, for component
//! tests (its panels appear once something calls [`Network::mark_heard`],
//! e.g. [`Network::set_nodes`]).

mod attacks;
mod charts;
mod feed_view;
mod hash_power;
mod inspector;
mod metrics;
mod network;
mod nodes;
mod outcome;
mod plot_figure;
mod scenarios;
mod token_field;
mod tree_view;
mod validation;

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::Api;
use crate::live::Connection;
use crate::state::Network;

pub use attacks::AttacksPanel;
pub use charts::ChartsPanel;
pub use feed_view::FeedPanel;
pub use hash_power::HashPowerPanel;
pub use inspector::InspectorPanel;
pub use metrics::MetricsPanel;
pub use network::NetworkPanel;
pub use nodes::NodesPanel;
pub use scenarios::ScenariosPanel;
pub use token_field::TokenField;
pub use tree_view::TreePanel;
pub use validation::{ValidationPanel, run_validation};

/// The explorer, talking to the manager the page's URL names.
#[component]
pub fn App() -> impl IntoView {
    let net = Network::new(Api::from_location());
    provide_context(net);
    let page = view! { <Shell/> };
    // After the shell, whose token field restores a kept token, so the
    // event stream opens with it.
    crate::sync::start(net);
    page
}

/// Rows of panels in `<main>`, shown one after the other.
const PANEL_ROWS: u8 = 8;

/// Every panel, reading the [`Network`] in context.
///
/// The panels appear once the manager has answered (see
/// [`Network::heard`]), top row first and one row per browser task: new
/// content only below what is already drawn moves nothing on the page, and
/// no single task builds the whole page, so the page answers input while
/// it fills in.
#[component]
pub fn Shell() -> impl IntoView {
    let net = expect_context::<Network>();
    // One layout of the tree for every panel that draws branches.
    provide_context(tree_view::PageLayout(Memo::new(move |_| {
        net.tree.with(crate::layout::layout)
    })));
    let rows = RwSignal::new(0u8);
    Effect::new(move |_| {
        if net.heard.get() && rows.get_untracked() == 0 {
            spawn_local(async move {
                for row in 1..=PANEL_ROWS {
                    rows.set(row);
                    TimeoutFuture::new(0).await;
                }
            });
        }
    });
    view! {
        <header class="top">
            <div class="masthead">
                <h1>"powplay explorer"</h1>
                <ConnectionBadge/>
                <TokenField/>
            </div>
            <nav aria-label="Sections">
                <ul>
                    <li><a href="#nodes">"Nodes"</a></li>
                    <li><a href="#tree">"Block tree"</a></li>
                    <li><a href="#network">"Network"</a></li>
                    <li><a href="#inspector">"Inspector"</a></li>
                    <li><a href="#validation">"Validation"</a></li>
                    <li><a href="#charts">"Charts"</a></li>
                    <li><a href="#activity">"Activity"</a></li>
                    <li><a href="#hashpower">"Hash power"</a></li>
                    <li><a href="#attacks">"Attacks"</a></li>
                    <li><a href="#metrics">"Metrics"</a></li>
                    <li><a href="#scenarios">"Scenarios"</a></li>
                </ul>
            </nav>
        </header>
        <main>
            {in_turn(rows, 1, || view! { <NodesPanel/> }.into_any())}
            {in_turn(rows, 2, || view! { <TreePanel/> }.into_any())}
            {in_turn(rows, 3, || view! { <NetworkPanel/> }.into_any())}
            {in_turn(rows, 4, || view! { <Columns><InspectorPanel/><ValidationPanel/></Columns> }.into_any())}
            {in_turn(rows, 5, || view! { <Columns><ChartsPanel/><FeedPanel/></Columns> }.into_any())}
            {in_turn(rows, 6, || view! { <Columns><HashPowerPanel/><AttacksPanel/></Columns> }.into_any())}
            {in_turn(rows, 7, || view! { <MetricsPanel/> }.into_any())}
            {in_turn(rows, 8, || view! { <ScenariosPanel/> }.into_any())}
        </main>
    }
}

/// Panels side by side (stacked on a narrow screen).
#[component]
fn Columns(children: Children) -> impl IntoView {
    view! { <div class="columns">{children()}</div> }
}

/// `panel` once `rows` reaches `row`, built once (not again on later rows).
/// One function for every panel, so the page's code holds it once.
fn in_turn(rows: RwSignal<u8>, row: u8, panel: fn() -> AnyView) -> impl IntoView {
    let visible = Memo::new(move |_| rows.get() >= row);
    move || visible.get().then(panel)
}

/// Live, connecting, or offline with the seconds until the next try.
#[component]
pub fn ConnectionBadge() -> impl IntoView {
    let net = expect_context::<Network>();
    let text = move || match net.connection.get() {
        Connection::Connecting => "Connecting to the manager…".to_owned(),
        Connection::Live => "Live".to_owned(),
        Connection::Offline { retry_in_s } => {
            format!("Offline: the manager does not answer; trying again in {retry_in_s} s")
        }
    };
    let class = move || match net.connection.get() {
        Connection::Connecting => "connection connecting",
        Connection::Live => "connection live",
        Connection::Offline { .. } => "connection offline",
    };
    view! {
        <p id="connection" class=class role="status">{text}</p>
    }
}
