//! The text that tells what a click did: working, done, or the error.

use leptos::prelude::*;

use crate::state::Outcome;

#[component]
pub fn OutcomeText(#[prop(into)] outcome: Signal<Option<Outcome>>) -> impl IntoView {
    let class = move || match outcome.get() {
        Some(Outcome::Working(_)) => "outcome working",
        Some(Outcome::Done(_)) => "outcome done",
        Some(Outcome::Failed(_)) => "outcome failed",
        None => "outcome",
    };
    let text = move || match outcome.get() {
        Some(Outcome::Working(text)) | Some(Outcome::Done(text)) => text,
        Some(Outcome::Failed(text)) => format!("Error: {text}"),
        None => String::new(),
    };
    view! { <span class=class role="status">{text}</span> }
}
