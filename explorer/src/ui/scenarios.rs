//! The scenarios panel: pick a shipped scenario, optionally shorten it,
//! run it with a progress bar, and keep its table of measured against
//! expected on the page, with the whole report to download as JSON.

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::scenario::{JobState, Report, ScenarioInfo, ScenarioStatusBody};

use super::outcome::OutcomeText;
use crate::api::JsonCall;
use crate::state::{Network, Outcome};

const POLL_MS: u32 = 1_000;

/// The report as a `data:` URL, for the download link.
fn report_href(report: &Report) -> String {
    let json = serde_json::to_string_pretty(report).unwrap_or_default();
    let encoded: String = js_sys::encode_uri_component(&json).into();
    format!("data:application/json;charset=utf-8,{encoded}")
}

#[component]
pub fn ScenariosPanel() -> impl IntoView {
    let net = expect_context::<Network>();
    let shipped = RwSignal::new(Vec::<ScenarioInfo>::new());
    let status = RwSignal::new(ScenarioStatusBody::default());
    let chosen = RwSignal::new(String::new());
    let blocks = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Outcome>);
    let polling = StoredValue::new(false);

    let poll = move || {
        if polling.get_value() {
            return;
        }
        polling.set_value(true);
        spawn_local(async move {
            while let Ok(answer) = net.api().scenario_status().await {
                let running = answer.state == JobState::Running;
                status.set(answer);
                if !running {
                    break;
                }
                TimeoutFuture::new(POLL_MS).await;
            }
            polling.set_value(false);
        });
    };
    spawn_local(async move {
        if let Ok(body) = net.api().scenarios().await {
            if let Some(first) = body.scenarios.first()
                && chosen.get_untracked().is_empty()
            {
                chosen.set(first.name.clone());
            }
            shipped.set(body.scenarios);
        }
    });
    poll();

    let run = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let name = chosen.get_untracked();
        let typed = blocks.get_untracked();
        let limit = match typed.trim() {
            "" => None,
            text => {
                match text.parse::<u64>() {
                    Ok(n) if n >= 1 => Some(n),
                    _ => {
                        outcome.set(Some(Outcome::Failed("Blocks must be a whole number of 1 or more, or empty for the whole run".into())));
                        return;
                    }
                }
            }
        };
        outcome.set(Some(Outcome::Working(format!("Starting {name}…"))));
        spawn_local(async move {
            let result: Result<ScenarioStatusBody, _> = net
                .api()
                .send_json(JsonCall::scenario_run(&name, limit))
                .await;
            match result {
                Ok(answer) => {
                    outcome.set(Some(Outcome::Done(format!(
                        "{name} runs on nodes of its own"
                    ))));
                    status.set(answer);
                    poll();
                }
                Err(err) => outcome.set(Some(Outcome::Failed(err.to_string()))),
            }
        });
    };

    let running = move || status.with(|s| s.state == JobState::Running);
    let description = move || {
        let name = chosen.get();
        shipped.with(|list| {
            list.iter().find(|s| s.name == name).map(|s| {
                format!(
                    "{}: {} nodes, a block every {:.1} s, {} steps mining {} blocks.",
                    s.description,
                    s.nodes,
                    s.block_interval_ms as f64 / 1000.0,
                    s.steps,
                    s.blocks
                )
            })
        })
    };
    let options = move || {
        shipped.with(|list| {
            list.iter()
                .map(|s| view! { <option value=s.name.clone()>{s.name.clone()}</option> })
                .collect_view()
        })
    };
    let progress = move || {
        status.with(|s| {
            (s.state != JobState::Idle).then(|| {
                let last = s.progress.last().cloned().unwrap_or_default();
                let state = match s.state {
                    JobState::Running => "running",
                    JobState::Done => "done",
                    JobState::Failed => "failed",
                    JobState::Idle => "idle",
                };
                let title = format!(
                    "{} ({state}{}): step {} of {}",
                    s.name.clone().unwrap_or_default(),
                    s.blocks.map(|b| format!(", at most {b} blocks a step")).unwrap_or_default(),
                    s.step,
                    s.steps
                );
                let error = s.error.clone().map(|e| view! { <p class="outcome failed" role="alert">{format!("Error: {e}")}</p> });
                view! {
                    <label for="scenario-progress">{title}</label>
                    <progress id="scenario-progress" max=s.steps.max(1).to_string() value=s.step.to_string()></progress>
                    <p class="hint" id="scenario-last">{last}</p>
                    {error}
                }
                .into_any()
            })
        })
    };
    let table = move || {
        status.with(|s| {
            s.report.as_ref().map(|report| {
                let rows = report
                    .rows()
                    .into_iter()
                    .map(|row| {
                        view! {
                            <tr>
                                <td>{row.measure.to_owned()}</td>
                                <td>{row.check.figure.clone()}</td>
                                <td class="num">{format!("{:.4}", row.check.measured)}</td>
                                <td class="num">{format!("{:.4}", row.check.expected)}</td>
                                <td>{row.check.note.clone()}</td>
                            </tr>
                        }
                    })
                    .collect_view();
                let file = format!("{}-report.json", report.scenario);
                view! {
                    <table id="scenario-table">
                        <caption>{format!(
                            "{}: {} nodes, a block every {:.1} s; measured against expected",
                            report.scenario,
                            report.nodes,
                            report.block_interval_ms as f64 / 1000.0
                        )}</caption>
                        <thead>
                            <tr>
                                <th scope="col">"Measure"</th>
                                <th scope="col">"Figure"</th>
                                <th scope="col">"Measured"</th>
                                <th scope="col">"Expected"</th>
                                <th scope="col">"Note"</th>
                            </tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                    <a id="scenario-download" href=report_href(report) download=file>"Download the report (JSON)"</a>
                }
                .into_any()
            })
        })
    };

    view! {
        <section id="scenarios" aria-labelledby="scenarios-title">
            <h2 id="scenarios-title">"Scenarios"</h2>
            <form class="toolbar" on:submit=run aria-label="Run a scenario">
                <label for="scenario-name">"Scenario"</label>
                <select id="scenario-name" prop:value=move || chosen.get() on:change=move |ev| chosen.set(event_target_value(&ev))>
                    {options}
                </select>
                <label for="scenario-blocks">"Blocks per step (empty: as shipped)"</label>
                <input id="scenario-blocks" type="text" inputmode="numeric" class="short"
                    prop:value=move || blocks.get() on:input=move |ev| blocks.set(event_target_value(&ev))/>
                <button type="submit" data-action="scenario-run" disabled=running>"Run"</button>
                <OutcomeText outcome=outcome/>
            </form>
            <p class="hint" id="scenario-description">{description}</p>
            <div class="scenario-progress" aria-live="polite">{progress}</div>
            <div class="table-scroll" id="scenario-result">{table}</div>
        </section>
    }
}
