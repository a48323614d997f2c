//! The validation panel: download a node's chain, check every block here
//! with `shared`, and the tamper experiment on a local copy.

use std::sync::Arc;

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::check::{CheckReport, Tamper, TamperField, apply_tamper, check_chain};
use crate::clock::{monotonic_ms, now_ms};
use crate::format::{count, short_hash};
use crate::state::{Checked, Network, Phase, Validation};

/// **Validate**: downloads `node_id`'s chain and checks it, showing each
/// step in the validation panel.
pub fn run_validation(net: Network, node_id: String, node_name: String) {
    let set_phase = move |id: &str, phase: Phase| {
        net.validation.update(|v| match v {
            Some(v) if v.node_id == id => v.phase = phase,
            _ => {}
        });
    };
    net.validation.set(Some(Validation {
        node_id: node_id.clone(),
        node_name,
        phase: Phase::Downloading { got: 0, total: 0 },
    }));
    let api = net.api();
    spawn_local(async move {
        let params = match api.status(&node_id).await {
            Ok(status) => match shared::chain_params(&status.chain, status.lab) {
                Ok(params) => Arc::new(params),
                Err(err) => return set_phase(&node_id, Phase::Failed(err.to_string())),
            },
            Err(err) => return set_phase(&node_id, Phase::Failed(err.to_string())),
        };
        let progress_id = node_id.clone();
        let blocks = api
            .whole_chain(&node_id, move |got, total| {
                set_phase(&progress_id, Phase::Downloading { got, total })
            })
            .await;
        let blocks = match blocks {
            Ok(blocks) => blocks,
            Err(err) => return set_phase(&node_id, Phase::Failed(err.to_string())),
        };
        let report = check_chain(&params, &blocks, now_ms(), monotonic_ms);
        set_phase(
            &node_id,
            Phase::Checked(Checked {
                params,
                blocks: Arc::new(blocks),
                report,
            }),
        );
    });
}

/// The report in words: "Valid: …" or "Invalid: block N …".
pub fn describe_report(report: &CheckReport, whose: &str) -> String {
    let speed = match report.blocks_per_second() {
        Some(rate) => format!(
            "{} checked in {:.1} ms ({} blocks per second)",
            blocks_word(report.blocks_checked),
            report.elapsed_ms,
            count(rate.round() as u64)
        ),
        None => format!(
            "{} checked in under a millisecond",
            blocks_word(report.blocks_checked)
        ),
    };
    match &report.outcome {
        Ok(summary) => format!(
            "Valid: every block of {whose} passes every rule, up to height {} (tip {}). {speed}.",
            count(summary.height),
            short_hash(&summary.tip)
        ),
        Err(err) => format!(
            "Invalid: block {} ({}) of {whose} breaks a rule: {}. In detail: {}. {speed}.",
            count(err.index),
            short_hash(&err.hash),
            err.reason.summary(),
            err.reason
        ),
    }
}

fn blocks_word(n: u64) -> String {
    crate::format::blocks(n)
}

#[component]
pub fn ValidationPanel() -> impl IntoView {
    let net = expect_context::<Network>();
    let content = move || {
        let Some(validation) = net.validation.get() else {
            return view! {
                <p class="empty">
                    "Press Validate in a node's row: the page downloads that node's chain and checks every block itself, with the same rules the nodes run."
                </p>
            }
            .into_any();
        };
        let name = validation.node_name.clone();
        match validation.phase {
            Phase::Downloading { got, total } => view! {
                <p role="status" id="validation-result">
                    {format!("Downloading {name}'s chain: {} of {} blocks…", count(got), count(total))}
                </p>
            }
            .into_any(),
            Phase::Failed(err) => view! {
                <p role="status" id="validation-result" class="outcome failed">
                    {format!("Error: could not validate {name}'s chain: {err}")}
                </p>
            }
            .into_any(),
            Phase::Checked(checked) => view! { <CheckedView name checked/> }.into_any(),
        }
    };
    view! {
        <section id="validation" aria-labelledby="validation-title">
            <h2 id="validation-title">"Validation"</h2>
            {content}
        </section>
    }
}

#[component]
fn CheckedView(name: String, checked: Checked) -> impl IntoView {
    let whose = format!("{name}'s chain ({} rules)", checked.params.name);
    let valid = checked.report.is_valid();
    let result = describe_report(&checked.report, &whose);
    let last = checked.blocks.len().saturating_sub(1) as u64;
    let height = RwSignal::new(last.min(1));
    let field = RwSignal::new(TamperField::EntryText);
    let blocks = checked.blocks.clone();
    let current = move || {
        let h = height.get();
        blocks
            .get(h as usize)
            .map(|b| field.get().current(b))
            .unwrap_or_default()
    };
    let value = RwSignal::new(String::new());
    // A new block or field starts from its present value.
    Effect::new(move |_| value.set(current()));
    let restate = RwSignal::new(true);
    // Kept here, not in the shared state, so the form keeps what the
    // person typed across tries.
    let tamper_text = RwSignal::new(String::new());
    let params = checked.params.clone();
    let original = checked.blocks.clone();
    let tamper = move |_| {
        let tamper = Tamper {
            height: height.get_untracked(),
            field: field.get_untracked(),
            value: value.get_untracked(),
            restate_hash: restate.get_untracked(),
        };
        let mut copy = (*original).clone();
        let outcome = apply_tamper(&mut copy, &tamper)
            .map(|()| check_chain(&params, &copy, now_ms(), monotonic_ms));
        let what = format!(
            "Tampered copy (block {}, {} set to {:?}{})",
            tamper.height,
            tamper.field.key(),
            tamper.value,
            if tamper.restate_hash {
                ", hash restated"
            } else {
                ""
            }
        );
        tamper_text.set(match outcome {
            Ok(report) => format!("{what}: {}", describe_report(&report, "the copy")),
            Err(err) => format!("{what}: could not apply: {err}"),
        });
    };
    view! {
        <p role="status" id="validation-result" class=if valid { "verdict valid" } else { "verdict invalid" }>
            {result}
        </p>
        <form class="tamper" on:submit=move |ev| {
            ev.prevent_default();
            tamper(());
        }>
            <fieldset>
                <legend>"Tamper with a local copy"</legend>
                <p class="hint">
                    "Change one field of one block in a copy of this chain and validate the copy. Each try starts from the chain as downloaded; nothing is sent to any node."
                </p>
                <label for="tamper-height">"Block height"</label>
                <input
                    id="tamper-height"
                    type="number"
                    min="0"
                    max=last.to_string()
                    prop:value=move || height.get().to_string()
                    on:input=move |ev| {
                        if let Ok(h) = event_target_value(&ev).trim().parse::<u64>() {
                            height.set(h.min(last));
                        }
                    }
                />
                <label for="tamper-field">"Field"</label>
                <select
                    id="tamper-field"
                    on:change=move |ev| {
                        if let Some(f) = TamperField::from_key(&event_target_value(&ev)) {
                            field.set(f);
                        }
                    }
                >
                    {TamperField::ALL
                        .into_iter()
                        .map(|f| {
                            view! {
                                <option value=f.key() selected=move || field.get() == f>
                                    {f.label()}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
                <label for="tamper-value">"New value"</label>
                <input
                    id="tamper-value"
                    type="text"
                    prop:value=move || value.get()
                    on:input=move |ev| value.set(event_target_value(&ev))
                />
                <div class="check">
                    <input
                        id="tamper-restate"
                        type="checkbox"
                        prop:checked=move || restate.get()
                        on:change=move |ev| restate.set(event_target_checked(&ev))
                    />
                    <label for="tamper-restate">"Restate the block's hash, as a forger would"</label>
                </div>
                <button type="submit" data-action="tamper">"Tamper and validate"</button>
            </fieldset>
        </form>
        <p role="status" id="tamper-result" class="verdict">
            {move || tamper_text.get()}
        </p>
    }
}
