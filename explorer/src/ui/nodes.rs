//! The nodes panel: one row per node with its numbers and buttons, and the
//! network-wide buttons above the table. Every click shows its outcome.

use std::future::Future;
use std::pin::Pin;

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::api::{NodeState, NodeSummary};
use shared::events::EventKind;

use super::outcome::OutcomeText;
use super::validation::run_validation;
use crate::api::{Api, ApiError, MiningMode, NodeAction};
use crate::format::{count, hash_rate, node_name, short_hash, short_id};
use crate::live::Connection;
use crate::state::{Network, Outcome};
use crate::sync;

/// The node table's column headings, left to right.
const COLUMNS: [&str; 10] = [
    "Node",
    "Id",
    "State",
    "Height",
    "Best hash",
    "Chain",
    "Hash rate",
    "Mining",
    "Actions",
    "Result",
];

/// Each node's [`crate::status::SyncStatus`], for the rows.
#[derive(Clone, Copy)]
struct Statuses(Memo<std::collections::BTreeMap<String, crate::status::SyncStatus>>);

/// Rows the node table shows at once.
const ROWS_PER_PAGE: usize = 25;

/// What a row button does, given the API and the node's id.
type Work = Box<dyn FnOnce(Api, String) -> Pin<Box<dyn Future<Output = Result<String, ApiError>>>>>;

fn state_name(state: NodeState) -> &'static str {
    match state {
        NodeState::Starting => "starting",
        NodeState::Running => "running",
        NodeState::Stopped => "stopped",
        NodeState::Unreachable => "unreachable",
    }
}

/// Runs a network-wide action and shows its outcome beside the buttons.
fn network_action(
    net: Network,
    working: &str,
    work: impl Future<Output = Result<String, ApiError>> + 'static,
) {
    net.network_outcome
        .set(Some(Outcome::Working(working.to_owned())));
    spawn_local(async move {
        let outcome = match work.await {
            Ok(text) => Outcome::Done(text),
            Err(err) => Outcome::Failed(err.to_string()),
        };
        net.network_outcome.set(Some(outcome));
        sync::refresh_nodes(net).await;
    });
}

/// Runs an action on one node and shows its outcome in that node's row.
fn row_action(
    net: Network,
    address: String,
    working: String,
    work: impl Future<Output = Result<String, ApiError>> + 'static,
) {
    net.set_row_outcome(&address, Outcome::Working(working));
    spawn_local(async move {
        let outcome = match work.await {
            Ok(text) => Outcome::Done(text),
            Err(err) => Outcome::Failed(err.to_string()),
        };
        net.set_row_outcome(&address, outcome);
        sync::refresh_nodes(net).await;
    });
}

#[component]
pub fn NodesPanel() -> impl IntoView {
    let net = expect_context::<Network>();
    let mode = RwSignal::new(MiningMode::Continuous);
    let start = move |_| {
        let api = net.api();
        let mode = mode.get_untracked();
        network_action(net, "Asking every node to mine…", async move {
            api.start_mining(mode).await.map(|m| m.message)
        });
    };
    let stop = move |_| {
        let api = net.api();
        network_action(net, "Asking every node to stop mining…", async move {
            api.stop_mining().await.map(|m| m.message)
        });
    };
    let add = move |_| {
        let api = net.api();
        network_action(net, "Starting a new node…", async move {
            api.add_node()
                .await
                .map(|n| format!("Added node {}", node_name(&n.address)))
        });
    };
    let shutdown_all = move |_| {
        let api = net.api();
        network_action(net, "Shutting every node down…", async move {
            api.shutdown_all().await.map(|report| {
                // The manager stops too, so no later list or event will say
                // this: the report stands in for their `node_stopped` events.
                let ended = [(&report.stopped, "stopped"), (&report.killed, "killed")];
                for (addresses, outcome) in ended {
                    for address in addresses {
                        let stopped = EventKind::NodeStopped {
                            address: address.clone(),
                            outcome: outcome.to_owned(),
                        };
                        net.node_stopped(address, &stopped);
                    }
                }
                let mut text = report.message;
                if !report.killed.is_empty() {
                    text.push_str(&format!(" (had to kill {})", report.killed.join(", ")));
                }
                text
            })
        });
    };
    // Every row's status from one pass over the tree.
    provide_context(Statuses(Memo::new(move |_| {
        net.tree.with(crate::status::node_statuses)
    })));
    // One page of rows at a time, so 100 nodes do not make 100 rows of
    // buttons to draw and keep live.
    let page = RwSignal::new(0usize);
    let pages = move || net.nodes.with(|n| n.len().div_ceil(ROWS_PER_PAGE).max(1));
    let addresses = move || {
        let page = page.get().min(pages() - 1);
        net.nodes.with(|nodes| {
            nodes
                .iter()
                .skip(page * ROWS_PER_PAGE)
                .take(ROWS_PER_PAGE)
                .map(|n| n.address.clone())
                .collect::<Vec<_>>()
        })
    };
    let page_text = move || {
        let total = net.nodes.with(Vec::len);
        let page = page.get().min(pages() - 1);
        let first = (page * ROWS_PER_PAGE + 1).min(total);
        let last = ((page + 1) * ROWS_PER_PAGE).min(total);
        format!("Nodes {first}–{last} of {total}")
    };
    view! {
        <section id="nodes" aria-labelledby="nodes-title">
            <h2 id="nodes-title">"Nodes"</h2>
            <div class="toolbar" role="group" aria-label="Whole network">
                <label for="mining-mode">"Mining mode"</label>
                <select
                    id="mining-mode"
                    on:change=move |ev| {
                        mode.set(
                            if event_target_value(&ev) == "rounds" {
                                MiningMode::Rounds
                            } else {
                                MiningMode::Continuous
                            },
                        )
                    }
                >
                    <option value="continuous">"continuous"</option>
                    <option value="rounds">"rounds (one block per node in turn)"</option>
                </select>
                <button type="button" data-action="start-all" on:click=start>
                    "Start mining"
                </button>
                <button type="button" data-action="stop-all" on:click=stop>
                    "Stop mining"
                </button>
                <button type="button" data-action="add-node" on:click=add>
                    "Add node"
                </button>
                <button type="button" class="danger" data-action="shutdown-all" on:click=shutdown_all>
                    "Shut down all"
                </button>
                <span id="network-outcome">
                    <OutcomeText outcome=Signal::derive(move || net.network_outcome.get())/>
                </span>
            </div>
            <div class="table-scroll">
                <table class="nodes">
                    <caption class="visually-hidden">
                        "Every node of the network, its chain and its controls"
                    </caption>
                    <thead>
                        <tr>
                            {COLUMNS
                                .into_iter()
                                .map(|column| view! { <th scope="col">{column}</th> })
                                .collect_view()}
                        </tr>
                    </thead>
                    <tbody>
                        <For
                            each=addresses
                            key=|address| address.clone()
                            children=move |address| view! { <NodeRow address/> }
                        />
                    </tbody>
                </table>
            </div>
            <Show when=move || { pages() > 1 }>
                <div class="pager">
                    <button type="button" data-action="previous-page"
                        disabled=move || page.get() == 0
                        on:click=move |_| page.update(|p| *p = p.saturating_sub(1))>"Previous nodes"</button>
                    <span role="status">{page_text}</span>
                    <button type="button" data-action="next-page"
                        disabled=move || { page.get() + 1 >= pages() }
                        on:click=move |_| page.update(|p| *p += 1)>"Next nodes"</button>
                </div>
            </Show>
            <Show when=move || matches!(net.connection.get(), Connection::Offline { .. })>
                <p class="hint">"The manager does not answer: the rows show what it last said."</p>
            </Show>
            <Show when=move || net.nodes.with(Vec::is_empty)>
                <p class="empty">"No nodes yet: waiting for the manager to report them."</p>
            </Show>
        </section>
    }
}

#[component]
fn NodeRow(address: String) -> impl IntoView {
    let net = expect_context::<Network>();
    let row_address = address.clone();
    let node = Memo::new(move |_| {
        net.nodes
            .with(|nodes| nodes.iter().find(|n| n.address == row_address).cloned())
    });
    let name = node_name(&address);
    let field = move |read: fn(&NodeSummary) -> String| move || node.get().map(|n| read(&n));
    let id = move || node.with(|n| n.as_ref().map(|n| n.id.clone()).unwrap_or_default());
    let running = move || {
        node.with(|n| {
            n.as_ref()
                .is_some_and(|n| n.state == NodeState::Running && !n.id.is_empty())
        })
    };
    let mining = move || node.with(|n| n.as_ref().is_some_and(|n| n.mining));
    let statuses = expect_context::<Statuses>().0;
    let sync = move || {
        let id = id();
        statuses.with(|s| {
            s.get(&id)
                .copied()
                .unwrap_or(crate::status::SyncStatus::Unknown)
        })
    };
    let isolated = move || node.with(|n| n.as_ref().is_some_and(|n| n.isolated));
    let restartable = move || {
        node.with(|n| {
            n.as_ref()
                .is_some_and(|n| !n.id.is_empty() && n.state != NodeState::Starting)
        })
    };

    let act = {
        let address = address.clone();
        move |working: String, work: Work| {
            row_action(net, address.clone(), working, work(net.api(), id()));
        }
    };
    let mine = {
        let act = act.clone();
        let name = name.clone();
        move |_| {
            act(
                format!("Mining one block on {name}…"),
                Box::new(move |api, id| {
                    Box::pin(async move {
                        let mined = api.mine(&id).await?;
                        net.tree.update(|tree| {
                            let _ = tree.insert_block(&mined.block);
                        });
                        Ok(format!(
                            "Mined block {} ({})",
                            mined.block.header.index,
                            short_hash(&mined.block.hash)
                        ))
                    })
                }),
            )
        }
    };
    let simple = {
        let act = act.clone();
        move |action: NodeAction, working: String| {
            let act = act.clone();
            move |_| {
                act(
                    working.clone(),
                    Box::new(move |api, id| {
                        Box::pin(
                            async move { api.node_action(&id, action).await.map(|m| m.message) },
                        )
                    }),
                )
            }
        }
    };
    let toggle_mining = {
        let start = simple(
            NodeAction::StartMining,
            format!("Starting to mine on {name}…"),
        );
        let stop = simple(
            NodeAction::StopMining,
            format!("Stopping mining on {name}…"),
        );
        move |ev| {
            if mining() { stop(ev) } else { start(ev) }
        }
    };
    let toggle_isolation = {
        let isolate = simple(NodeAction::Isolate, format!("Isolating {name}…"));
        let reconnect = simple(NodeAction::Reconnect, format!("Reconnecting {name}…"));
        move |ev| {
            if isolated() {
                reconnect(ev)
            } else {
                isolate(ev)
            }
        }
    };
    let shutdown = simple(NodeAction::Shutdown, format!("Shutting {name} down…"));
    let restart = {
        let act = act.clone();
        let name = name.clone();
        move |_| {
            act(
                format!("Restarting {name}…"),
                Box::new(move |api, id| {
                    Box::pin(async move {
                        let node = api.restart(&id).await?;
                        Ok(match node.pid {
                            Some(pid) => format!("Restarted (pid {pid})"),
                            None => "Restarted".to_owned(),
                        })
                    })
                }),
            )
        }
    };
    let validate = {
        let name = name.clone();
        move |_| run_validation(net, id(), name.clone())
    };
    let outcome_address = address.clone();
    let outcome =
        Signal::derive(move || net.row_outcomes.with(|m| m.get(&outcome_address).cloned()));
    let state = move || node.get().map_or("unknown", |n| state_name(n.state));
    let label = |what: &str| format!("{what} on {name}");
    let (start_label, stop_label) = (label("Start mining"), label("Stop mining"));
    let (isolate_label, reconnect_label) = (label("Isolate"), label("Reconnect"));
    view! {
        <tr data-node=address.clone()>
            <th scope="row" class="address">{address.clone()}</th>
            <td class="mono">{field(|n| short_id(&n.id))}</td>
            <td>
                <span class=move || format!("badge state-{}", state())>{state}</span>
                <Show when=isolated>
                    " "
                    <span class="badge isolated">"isolated"</span>
                </Show>
            </td>
            <td class="num" data-field="height">{field(|n| n.height.map(count).unwrap_or_else(|| "—".into()))}</td>
            <td class="mono" data-field="best-hash">
                {field(|n| n.best_hash.map(|h| short_hash(&h)).unwrap_or_else(|| "—".into()))}
            </td>
            <td data-field="sync">
                <span class=move || format!("sync sync-{}", sync().class())>{move || sync().describe()}</span>
            </td>
            <td class="num">{field(|n| hash_rate(n.hash_rate))}</td>
            <td>{move || if mining() { "yes" } else { "no" }}</td>
            <td>
                <div class="actions">
                <button type="button" data-action="mine" aria-label=label("Mine one block") disabled=move || !running() on:click=mine>
                    "Mine"
                </button>
                <button
                    type="button"
                    data-action="toggle-mining"
                    aria-label=move || if mining() { stop_label.clone() } else { start_label.clone() }
                    disabled=move || !running()
                    on:click=toggle_mining
                >
                    {move || if mining() { "Stop mining" } else { "Start mining" }}
                </button>
                <button
                    type="button"
                    data-action="toggle-isolation"
                    aria-label=move || if isolated() { reconnect_label.clone() } else { isolate_label.clone() }
                    disabled=move || !running()
                    on:click=toggle_isolation
                >
                    {move || if isolated() { "Reconnect" } else { "Isolate" }}
                </button>
                <button type="button" data-action="restart" aria-label=label("Restart") disabled=move || !restartable() on:click=restart>
                    "Restart"
                </button>
                <button type="button" class="danger" data-action="shutdown" aria-label=label("Shut down") disabled=move || !running() on:click=shutdown>
                    "Shut down"
                </button>
                <button type="button" data-action="validate" aria-label=format!("Validate the chain of {name}") disabled=move || !running() on:click=validate>
                    "Validate"
                </button>
                </div>
            </td>
            <td class="result" data-field="result">
                <OutcomeText outcome/>
            </td>
        </tr>
    }
}
