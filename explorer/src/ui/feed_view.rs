//! The activity feed: every node's events in plain words, newest first.

use leptos::prelude::*;

use crate::clock::time_of_day;
use crate::feed::FeedLine;
use crate::state::Network;

#[component]
pub fn FeedPanel() -> impl IntoView {
    let net = expect_context::<Network>();
    view! {
        <section id="activity" aria-labelledby="activity-title">
            <h2 id="activity-title">"Activity"</h2>
            <Show when=move || net.feed.with(Vec::is_empty)>
                <p class="empty">"Nothing has happened yet."</p>
            </Show>
            // The log role sits on a box around the list, so the list keeps
            // its own role; the box scrolls, so it takes keyboard focus.
            <div class="feed-box" role="log" aria-labelledby="activity-title" tabindex="0">
            <ol class="feed">
                <For
                    each=move || net.feed.get()
                    key=|line: &FeedLine| line.seq
                    children=move |line: FeedLine| {
                        view! {
                            <li class:warning=line.warning>
                                <time>{time_of_day(line.at)}</time>
                                " "
                                <span>{line.text}</span>
                            </li>
                        }
                    }
                />
            </ol>
            </div>
        </section>
    }
}
