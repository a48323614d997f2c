//! The hash power panel: each node's cap, its set share and its measured
//! share, a form to cap one node, and distribution presets for the whole
//! network. On a lab chain the block interval follows the total, and the
//! panel says which interval the caps give.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::api::NodeState;
use shared::stats::HashPowerBody;

use super::outcome::OutcomeText;
use crate::api::JsonCall;
use crate::format::{count, hash_rate, node_name, percent};
use crate::state::{Network, Outcome};

/// Sends one hash power command and shows what it did.
fn set_power(net: Network, outcome: RwSignal<Option<Outcome>>, working: String, json: JsonCall) {
    outcome.set(Some(Outcome::Working(working)));
    spawn_local(async move {
        let result: Result<HashPowerBody, _> = net.api().send_json(json).await;
        outcome.set(Some(match result {
            Ok(body) => Outcome::Done(format!(
                "Set: {} attempts/s in all over {} nodes{}",
                count(body.total_attempts_per_sec),
                body.nodes.len(),
                body.expected_block_interval_ms
                    .map(|ms| format!(", a block every {:.1} s expected", ms / 1000.0))
                    .unwrap_or_default()
            )),
            Err(err) => Outcome::Failed(err.to_string()),
        }));
        // The capacity line reads the stats, which otherwise come every 5 s.
        if let Ok(stats) = net.api().stats().await {
            net.set_stats(stats);
        }
        crate::sync::refresh_nodes(net).await;
    });
}

#[component]
pub fn HashPowerPanel() -> impl IntoView {
    let net = expect_context::<Network>();
    let outcome = RwSignal::new(None::<Outcome>);
    let total = RwSignal::new(String::new());
    let distribution = RwSignal::new("equal".to_owned());
    let node = RwSignal::new(String::new());
    let cap = RwSignal::new(String::new());

    let power = move || net.stats.with(|s| s.as_ref().map(|s| s.hash_power.clone()));
    let capacity = move || {
        power().map(|p| {
            let interval = p
                .expected_block_interval_ms
                .map(|ms| format!(" On this lab chain the caps give a block every {:.1} s.", ms / 1000.0))
                .unwrap_or_default();
            format!(
                "This machine did {} attempts/s on {} cores at start-up; the caps set add up to {} attempts/s.{interval}",
                count(p.capacity_attempts_per_sec as u64),
                p.cores,
                count(p.total_attempts_per_sec),
            )
        })
    };

    let preset = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let Ok(value) = total.get_untracked().trim().parse::<f64>() else {
            outcome.set(Some(Outcome::Failed(
                "The total must be a number of attempts per second".into(),
            )));
            return;
        };
        let how = distribution.get_untracked();
        set_power(
            net,
            outcome,
            format!("Splitting {value} attempts/s ({how})…"),
            JsonCall::network_hashrate(value, &how),
        );
    };
    let one = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let id = node.get_untracked();
        let id = if id.is_empty() {
            net.nodes
                .with_untracked(|n| n.first().map(|n| n.id.clone()).unwrap_or_default())
        } else {
            id
        };
        let Ok(value) = cap.get_untracked().trim().parse::<f64>() else {
            outcome.set(Some(Outcome::Failed(
                "The cap must be a number of attempts per second (0 for none)".into(),
            )));
            return;
        };
        let name = net.name_of(&id);
        set_power(
            net,
            outcome,
            format!("Capping {name} at {value} attempts/s…"),
            JsonCall::node_hashrate(&id, value),
        );
    };

    let options = move || {
        net.nodes.with(|nodes| {
            nodes
                .iter()
                .filter(|n| n.state == NodeState::Running)
                .map(|n| view! { <option value=n.id.clone()>{node_name(&n.address)}</option> })
                .collect_view()
        })
    };
    let rows = move || {
        net.nodes.with(|nodes| {
            nodes
                .iter()
                .filter(|n| n.state == NodeState::Running)
                .map(|n| {
                    let limit = if n.hashrate_limit == 0 {
                        "none".to_owned()
                    } else {
                        count(n.hashrate_limit)
                    };
                    view! {
                        <tr>
                            <th scope="row">{node_name(&n.address)}</th>
                            <td>{limit}</td>
                            <td>{percent(n.hash_share)}</td>
                            <td>{percent(n.measured_share)}</td>
                            <td>{hash_rate(n.hash_rate)}</td>
                        </tr>
                    }
                })
                .collect_view()
        })
    };

    view! {
        <section id="hashpower" aria-labelledby="hashpower-title">
            <h2 id="hashpower-title">"Hash power"</h2>
            <p class="hint">{capacity}</p>
            <form class="toolbar" on:submit=preset aria-label="Split a total over every node">
                <label for="hp-total">"Total (attempts/s)"</label>
                <input id="hp-total" type="text" inputmode="decimal" class="short"
                    prop:value=move || total.get() on:input=move |ev| total.set(event_target_value(&ev))/>
                <label for="hp-distribution">"Split"</label>
                <select id="hp-distribution" prop:value=move || distribution.get()
                    on:change=move |ev| distribution.set(event_target_value(&ev))>
                    <option value="equal">"equal"</option>
                    <option value="zipf">"Zipf (1/rank)"</option>
                </select>
                <button type="submit" data-action="hashrate-network">"Set for all"</button>
            </form>
            <form class="toolbar" on:submit=one aria-label="Cap one node">
                <label for="hp-node">"Node"</label>
                <select id="hp-node" prop:value=move || node.get() on:change=move |ev| node.set(event_target_value(&ev))>
                    {options}
                </select>
                <label for="hp-cap">"Cap (attempts/s, 0 for none)"</label>
                <input id="hp-cap" type="text" inputmode="decimal" class="short"
                    prop:value=move || cap.get() on:input=move |ev| cap.set(event_target_value(&ev))/>
                <button type="submit" data-action="hashrate-node">"Set cap"</button>
                <OutcomeText outcome=outcome/>
            </form>
            <div class="table-scroll" tabindex="0" role="group" aria-label="Hash power of each node, scrolls">
                <table id="hashpower-table">
                    <caption class="visually-hidden">"Each running node's cap, set share and measured share"</caption>
                    <thead>
                        <tr>
                            <th scope="col">"Node"</th>
                            <th scope="col">"Cap (attempts/s)"</th>
                            <th scope="col">"Set share"</th>
                            <th scope="col">"Measured share"</th>
                            <th scope="col">"Hash rate"</th>
                        </tr>
                    </thead>
                    <tbody>{rows}</tbody>
                </table>
            </div>
        </section>
    }
}
