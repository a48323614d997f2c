//! The token field: for a manager that needs a token on its commands. What
//! the reader enters is kept for this tab (see [`crate::token`]) and goes
//! with every command and the event stream from then on.

use leptos::html;
use leptos::prelude::*;

use crate::state::Network;
use crate::token;

#[component]
pub fn TokenField() -> impl IntoView {
    let net = expect_context::<Network>();
    // A reload in the same tab keeps the token, before the first call.
    if let Some(stored) = token::load() {
        net.set_token(&stored);
    }
    let input = NodeRef::<html::Input>::new();
    let apply = move || {
        let typed = input.get_untracked().map(|i| i.value()).unwrap_or_default();
        if net.set_token(&typed) {
            token::save(net.token.get_untracked().as_deref());
        }
    };
    view! {
        <form
            class="token"
            on:submit=move |ev| {
                ev.prevent_default();
                apply();
            }
        >
            <label for="token">"Token"</label>
            <input
                id="token"
                type="password"
                autocomplete="off"
                spellcheck="false"
                aria-describedby="token-hint"
                node_ref=input
                prop:value=move || net.token.get().unwrap_or_default()
                on:change=move |_| apply()
            />
            <button type="submit">"Use token"</button>
            <span id="token-hint" class="token-hint">
                "Only if the manager asks for one; kept in this tab."
            </span>
        </form>
    }
}
