//! The page: a header with the connection badge, the token field and the
//! section links, and one `<section>` per panel. [`App`] starts following the network;
//! [`Shell`] is the same page without that, for component tests.

mod charts;
mod feed_view;
mod inspector;
mod nodes;
mod outcome;
mod token_field;
mod tree_view;
mod validation;

use leptos::prelude::*;

use crate::api::Api;
use crate::live::Connection;
use crate::state::Network;

pub use charts::ChartsPanel;
pub use feed_view::FeedPanel;
pub use inspector::InspectorPanel;
pub use nodes::NodesPanel;
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

/// Every panel, reading the [`Network`] in context.
#[component]
pub fn Shell() -> impl IntoView {
    view! {
        <header class="top">
            <h1>"powplay explorer"</h1>
            <ConnectionBadge/>
            <TokenField/>
            <nav aria-label="Sections">
                <ul>
                    <li><a href="#nodes">"Nodes"</a></li>
                    <li><a href="#tree">"Block tree"</a></li>
                    <li><a href="#inspector">"Inspector"</a></li>
                    <li><a href="#validation">"Validation"</a></li>
                    <li><a href="#charts">"Charts"</a></li>
                    <li><a href="#activity">"Activity"</a></li>
                </ul>
            </nav>
        </header>
        <main>
            <NodesPanel/>
            <TreePanel/>
            <div class="columns">
                <InspectorPanel/>
                <ValidationPanel/>
            </div>
            <div class="columns">
                <ChartsPanel/>
                <FeedPanel/>
            </div>
        </main>
    }
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
