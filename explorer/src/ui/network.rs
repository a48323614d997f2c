//! The network view: a live graph of the nodes and their links, and the
//! lab's controls on it.
//!
//! Nodes sit on a circle in the manager's order ([`crate::graph`] says why
//! a circle), each filled with the colour of the branch its tip is on (the
//! block tree's lane colours) and labelled with its sync status
//! ([`crate::status`]). Links are solid when up and dashed when down, with
//! their latency and loss written on them and read out on hover or focus.
//! A block that travels a link (a `block_accepted` event naming its
//! sender) sends a dash along it: one CSS animation on one `<line>`, none
//! under `prefers-reduced-motion`.
//!
//! Everything is reachable from the keyboard: nodes are checkboxes
//! (selected for **Partition**), links are buttons that open their
//! conditions in a form (`POST /network/links`); the topology and link
//! presets are menus. `GET /network` is read every few seconds and after
//! each change.

use std::collections::{BTreeSet, HashMap};

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::api::{LinkConditions, LinkPreset, NetworkBody, NetworkLink, NodeState};

use super::outcome::OutcomeText;
use super::tree_view::page_layout;
use crate::api::{ApiError, JsonCall};
use crate::format::node_name;
use crate::graph::{Circle, LinkIndex, circle, conditions_text, is_down, link_badge, link_key};
use crate::layout::{lane_class, tip_lanes};
use crate::state::{Network, Outcome};
use crate::status::{SyncStatus, node_statuses};

/// How often the links are read again.
const POLL_MS: u32 = 3_000;
/// Up to this many links, every link with conditions has them written on
/// it; past it only the open or hovered one, so 100 nodes stay readable.
const BADGES_UP_TO: usize = 40;
const NODE_R: f64 = 9.0;

/// What the panel keeps between polls and clicks.
#[derive(Clone, Copy)]
struct View {
    body: RwSignal<Option<NetworkBody>>,
    /// The last failure to read `/network`, shown until a read works.
    read_error: RwSignal<Option<String>>,
    chosen: RwSignal<BTreeSet<String>>,
    /// The link whose form is open, by [`link_key`].
    open: RwSignal<Option<(String, String)>>,
    /// The link under the pointer or the keyboard focus.
    hovered: RwSignal<Option<(String, String)>>,
    outcome: RwSignal<Option<Outcome>>,
}

async fn reload(net: Network, view: View) {
    match net.api().network().await {
        Ok(body) => {
            view.body.set(Some(body));
            view.read_error.set(None);
        }
        Err(err) => view.read_error.set(Some(err.to_string())),
    }
}

/// Runs a lab command, shows its outcome, then reads the network again.
fn command(
    net: Network,
    view: View,
    working: String,
    work: impl std::future::Future<Output = Result<String, ApiError>> + 'static,
) {
    view.outcome.set(Some(Outcome::Working(working)));
    spawn_local(async move {
        let outcome = match work.await {
            Ok(text) => Outcome::Done(text),
            Err(err) => Outcome::Failed(err.to_string()),
        };
        view.outcome.set(Some(outcome));
        reload(net, view).await;
        crate::sync::refresh_nodes(net).await;
    });
}

/// One node as drawn; everything that changes its drawing is in it, so
/// `<For>` redraws only the nodes that changed.
#[derive(Debug, Clone, PartialEq)]
struct DrawnNode {
    id: String,
    address: String,
    name: String,
    x: f64,
    y: f64,
    /// Where the label goes: outside the circle, away from its centre.
    label_x: f64,
    label_y: f64,
    anchor: &'static str,
    lane: Option<u32>,
    status: SyncStatus,
    running: bool,
    height: Option<u64>,
}

impl DrawnNode {
    fn key(&self) -> String {
        format!("{self:?}")
    }

    fn note(&self) -> String {
        match self.status {
            SyncStatus::Lagging { behind } => format!("−{behind}"),
            SyncStatus::Diverged {
                fork_height: Some(h),
            } => format!("fork {h}"),
            SyncStatus::Diverged { fork_height: None } => "fork ?".to_owned(),
            _ => String::new(),
        }
    }

    fn label(&self) -> String {
        let state = if self.running {
            self.status.describe()
        } else {
            "not running".to_owned()
        };
        let height = self
            .height
            .map(|h| format!(", height {h}"))
            .unwrap_or_default();
        let branch = match self.lane {
            Some(0) => ", on the main branch".to_owned(),
            Some(lane) => format!(", on branch {lane}"),
            None => String::new(),
        };
        format!("Node {}: {state}{height}{branch}", self.name)
    }
}

#[derive(Debug, Clone, PartialEq)]
struct DrawnLink {
    key: (String, String),
    a: String,
    b: String,
    x1: f64,
    y1: f64,
    x2: f64,
    y2: f64,
    down: bool,
    badge: String,
    label: String,
}

impl DrawnLink {
    fn redraw_key(&self, show_badge: bool) -> String {
        format!("{self:?}{show_badge}")
    }
}

fn link_label(link: &NetworkLink, name: &dyn Fn(&str) -> String) -> String {
    let state = if is_down(link) { "down" } else { "up" };
    let rtt = link
        .rtt_ms
        .map(|ms| format!(", round trip {ms:.0} ms"))
        .unwrap_or_default();
    format!(
        "Link {} to {}: {state}, {}{rtt}",
        name(&link.a),
        name(&link.b),
        conditions_text(link, name)
    )
}

#[component]
pub fn NetworkPanel() -> impl IntoView {
    let net = expect_context::<Network>();
    let view = View {
        body: RwSignal::new(None),
        read_error: RwSignal::new(None),
        chosen: RwSignal::new(BTreeSet::new()),
        open: RwSignal::new(None),
        hovered: RwSignal::new(None),
        outcome: RwSignal::new(None),
    };
    let frame_ms = RwSignal::new(String::new());
    spawn_local(async move {
        loop {
            reload(net, view).await;
            TimeoutFuture::new(POLL_MS).await;
        }
    });
    // A node that joins or leaves changes the links: read them again.
    let node_count = Memo::new(move |_| net.nodes.with(Vec::len));
    Effect::new(move |previous: Option<usize>| {
        let n = node_count.get();
        if previous.is_some_and(|p| p != n) {
            spawn_local(reload(net, view));
        }
        n
    });

    let layout = page_layout(net);
    let statuses = Memo::new(move |_| net.tree.with(node_statuses));
    let lanes = Memo::new(move |_| layout.with(tip_lanes));
    // The nodes in the manager's order; size from the node list, which
    // the page has before the first `/network` answer, so the drawing
    // does not jump when it comes.
    let geometry = Memo::new(move |_| net.nodes.with(|nodes| circle(nodes.len())));
    let nodes = Memo::new(move |_| {
        let statuses = statuses.get();
        let lanes = lanes.get();
        geometry.with(|g: &Circle| {
            let centre = g.size / 2.0;
            net.nodes.with(|nodes| {
                nodes
                    .iter()
                    .zip(&g.points)
                    .map(|(node, p)| {
                        let (dx, dy) = (p.x - centre, p.y - centre);
                        let len = (dx * dx + dy * dy).sqrt().max(1.0);
                        let (ux, uy) = (dx / len, dy / len);
                        let anchor = if ux > 0.3 {
                            "start"
                        } else if ux < -0.3 {
                            "end"
                        } else {
                            "middle"
                        };
                        DrawnNode {
                            id: node.id.clone(),
                            address: node.address.clone(),
                            name: node_name(&node.address),
                            x: p.x,
                            y: p.y,
                            label_x: p.x + ux * (NODE_R + 6.0),
                            label_y: p.y + uy * (NODE_R + 10.0) + 4.0,
                            anchor,
                            lane: lanes.get(&node.id).copied(),
                            status: statuses
                                .get(&node.id)
                                .copied()
                                .unwrap_or(SyncStatus::Unknown),
                            running: node.state == NodeState::Running,
                            height: node.height,
                        }
                    })
                    .collect::<Vec<_>>()
            })
        })
    });
    let positions = Memo::new(move |_| {
        nodes.with(|nodes| {
            nodes
                .iter()
                .map(|n| (n.id.clone(), (n.x, n.y)))
                .collect::<HashMap<_, _>>()
        })
    });
    let index = Memo::new(move |_| {
        let links = view
            .body
            .with(|b| b.as_ref().map(|b| b.links.clone()).unwrap_or_default());
        net.nodes.with(|nodes| {
            LinkIndex::new(
                &links,
                nodes.iter().map(|n| (n.id.as_str(), n.address.as_str())),
            )
        })
    });
    let names = move |id: &str| net.name_of(id);
    let links = Memo::new(move |_| {
        let positions = positions.get();
        view.body.with(|body| {
            let Some(body) = body else {
                return Vec::new();
            };
            body.links
                .iter()
                .filter_map(|link| {
                    let (x1, y1) = *positions.get(&link.a)?;
                    let (x2, y2) = *positions.get(&link.b)?;
                    Some(DrawnLink {
                        key: link_key(&link.a, &link.b),
                        a: link.a.clone(),
                        b: link.b.clone(),
                        x1,
                        y1,
                        x2,
                        y2,
                        down: is_down(link),
                        badge: link_badge(link),
                        label: link_label(link, &names),
                    })
                })
                .collect::<Vec<_>>()
        })
    });
    let few_links = move || links.with(|l| l.len() <= BADGES_UP_TO);
    let link_items = move || {
        let few = few_links();
        let open = view.open.get();
        let hovered = view.hovered.get();
        links.with(|links| {
            links
                .iter()
                .map(|l| {
                    let show =
                        few || open.as_ref() == Some(&l.key) || hovered.as_ref() == Some(&l.key);
                    (l.clone(), show)
                })
                .collect::<Vec<_>>()
        })
    };
    let flights = move || {
        let positions = positions.get();
        let index = index.get();
        net.flights.with(|flights| {
            flights
                .iter()
                .filter_map(|f| {
                    let (_, from) = index.travelled(&f.from, &f.to)?;
                    let (x1, y1) = *positions.get(&from)?;
                    let (x2, y2) = *positions.get(&f.to)?;
                    Some((f.seq, x1, y1, x2, y2))
                })
                .collect::<Vec<_>>()
        })
    };

    // Time from a change of the tree to the frame that shows it painted,
    // for the scale measurement (`data-frame-ms`).
    Effect::new(move |_| {
        net.tree.with(|t| t.revision());
        let start = crate::clock::monotonic_ms();
        request_animation_frame(move || {
            set_timeout(
                move || frame_ms.set(format!("{:.1}", crate::clock::monotonic_ms() - start)),
                std::time::Duration::ZERO,
            );
        });
    });

    let size = move || geometry.with(|g| g.size);
    let summary = move || {
        let n = net.nodes.with(Vec::len);
        let (total, down) = links.with(|l| (l.len(), l.iter().filter(|l| l.down).count()));
        let partition = view.body.with(|b| {
            b.as_ref()
                .and_then(|b| b.partition.as_ref())
                .map(|groups| format!(" Partitioned into {} groups.", groups.len()))
                .unwrap_or_default()
        });
        let topology = view
            .body
            .with(|b| b.as_ref().map(|b| format!(" Topology {}.", b.topology)))
            .unwrap_or_default();
        let counts = statuses.with(|s| {
            let of = |word: &str| s.values().filter(|v| v.word() == word).count();
            format!(
                " {} in sync, {} lagging, {} diverged.",
                of("in sync"),
                of("lagging"),
                of("diverged")
            )
        });
        format!("{n} nodes, {total} links ({down} down).{topology}{partition}{counts}")
    };

    view! {
        <section id="network" aria-labelledby="network-title" data-frame-ms=move || frame_ms.get()>
            <h2 id="network-title">"Network"</h2>
            <NetworkControls net view/>
            <p id="network-summary">{summary}</p>
            <Show when=move || view.read_error.with(Option::is_some)>
                <p class="hint">{move || format!("Could not read the links: {}", view.read_error.get().unwrap_or_default())}</p>
            </Show>
            <div class="network-columns">
                <div class="graph-box">
                    <svg
                        id="network-svg"
                        role="group"
                        aria-labelledby="network-title"
                        aria-describedby="network-summary"
                        viewBox=move || format!("0 0 {0:.0} {0:.0}", size())
                        width=move || format!("{:.0}", size())
                        height=move || format!("{:.0}", size())
                    >
                        // One Tab stop for all the links (there are about
                        // 400 at 100 nodes): arrow keys move among them.
                        <g
                            class="links"
                            role="group"
                            tabindex="0"
                            aria-label="Links: arrow keys move from link to link, Enter opens one"
                            on:keydown=move |ev| {
                                if ev.target() == ev.current_target() && is_arrow(&ev) {
                                    ev.prevent_default();
                                    focus_link(&ev, Step::First);
                                }
                            }
                        >
                            <For
                                each=link_items
                                key=|(l, show)| l.redraw_key(*show)
                                children=move |(l, show)| view! { <LinkMark l show view/> }
                            />
                        </g>
                        <g class="flights" aria-hidden="true">
                            <For
                                each=flights
                                key=|f| f.0
                                children=move |(_, x1, y1, x2, y2)| view! {
                                    <line class="flight" pathLength="100"
                                        x1=format!("{x1:.1}") y1=format!("{y1:.1}")
                                        x2=format!("{x2:.1}") y2=format!("{y2:.1}")/>
                                }
                            />
                        </g>
                        <g class="nodes">
                            <For
                                each=move || nodes.get()
                                key=DrawnNode::key
                                children=move |n| view! { <NodeMark n view/> }
                            />
                        </g>
                    </svg>
                </div>
                <div class="network-side">
                    <LinkDetails net view/>
                    <NetworkLegend/>
                </div>
            </div>
        </section>
    }
}

#[component]
fn NodeMark(n: DrawnNode, view: View) -> impl IntoView {
    let id = n.id.clone();
    let chosen = {
        let id = id.clone();
        Memo::new(move |_| view.chosen.with(|c| c.contains(&id)))
    };
    let toggle = move || {
        view.chosen.update(|c| {
            if !c.remove(&id) {
                c.insert(id.clone());
            }
        })
    };
    let toggle_key = toggle.clone();
    let fill = match n.lane {
        Some(lane) if n.running => lane_class(lane),
        _ => "lane-none".to_owned(),
    };
    let note = n.note();
    let label = n.label();
    view! {
        <g
            class=format!("net-node status-{}", n.status.class())
            class:chosen=move || chosen.get()
            data-node=n.id.clone()
            data-address=n.address.clone()
            data-status=n.status.class()
            role="checkbox"
            tabindex="0"
            aria-checked=move || if chosen.get() { "true" } else { "false" }
            aria-label=label
            on:click=move |_| toggle()
            on:keydown=move |ev| {
                if ev.key() == "Enter" || ev.key() == " " {
                    ev.prevent_default();
                    toggle_key();
                }
            }
        >
            <circle class="ring" cx=format!("{:.1}", n.x) cy=format!("{:.1}", n.y) r=format!("{}", NODE_R + 4.0)/>
            <circle class=format!("dot {fill}") cx=format!("{:.1}", n.x) cy=format!("{:.1}", n.y) r=NODE_R.to_string()/>
            <text class="node-label" pointer-events="none" x=format!("{:.1}", n.label_x) y=format!("{:.1}", n.label_y) text-anchor=n.anchor>
                {n.name.clone()}
                {(!note.is_empty()).then(|| view! { <tspan class="node-note">{format!(" {note}")}</tspan> })}
            </text>
        </g>
    }
}

fn is_arrow(ev: &leptos::ev::KeyboardEvent) -> bool {
    matches!(
        ev.key().as_str(),
        "ArrowDown" | "ArrowRight" | "ArrowUp" | "ArrowLeft" | "Home" | "End"
    )
}

#[derive(Clone, Copy)]
enum Step {
    First,
    Last,
    Next,
    Previous,
}

/// Moves the focus among the graph's links, in drawing order, from the
/// element the key was pressed on (a link, or the links' group).
fn focus_link(ev: &leptos::ev::KeyboardEvent, step: Step) {
    use leptos::wasm_bindgen::JsCast;
    let Some(here) = ev
        .current_target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
    else {
        return;
    };
    let group = if here.class_list().contains("links") {
        Some(here.clone())
    } else {
        here.parent_element()
    };
    let is_link = |e: &web_sys::Element| e.class_list().contains("link");
    let mut next = match step {
        Step::First => group.and_then(|g| g.first_element_child()),
        Step::Last => group.and_then(|g| g.last_element_child()),
        Step::Next => here.next_element_sibling(),
        Step::Previous => here.previous_element_sibling(),
    };
    while let Some(e) = next.clone() {
        if is_link(&e) {
            break;
        }
        next = match step {
            Step::First | Step::Next => e.next_element_sibling(),
            Step::Last | Step::Previous => e.previous_element_sibling(),
        };
    }
    if let Some(link) = next.and_then(|e| e.dyn_into::<web_sys::SvgElement>().ok()) {
        let _ = link.focus();
    }
}

#[component]
fn LinkMark(l: DrawnLink, show: bool, view: View) -> impl IntoView {
    let key = l.key.clone();
    let open = {
        let key = key.clone();
        move || view.open.set(Some(key.clone()))
    };
    let open_key = open.clone();
    let (enter, leave) = {
        let key = key.clone();
        let k2 = key.clone();
        (
            move || view.hovered.set(Some(key.clone())),
            move || {
                if view.hovered.get_untracked().as_ref() == Some(&k2) {
                    view.hovered.set(None)
                }
            },
        )
    };
    let (enter2, leave2) = (enter.clone(), leave.clone());
    let is_open = {
        let key = key.clone();
        move || view.open.with(|o| o.as_ref() == Some(&key))
    };
    let (x1, y1, x2, y2) = (
        format!("{:.1}", l.x1),
        format!("{:.1}", l.y1),
        format!("{:.1}", l.x2),
        format!("{:.1}", l.y2),
    );
    let (mx, my) = ((l.x1 + l.x2) / 2.0, (l.y1 + l.y2) / 2.0);
    let badge = (show && !l.badge.is_empty()).then(|| {
        view! {
            <text class="link-badge" pointer-events="none" x=format!("{mx:.1}") y=format!("{:.1}", my - 4.0)>{l.badge.clone()}</text>
        }
    });
    view! {
        <g
            class="link"
            class:down=l.down
            class:open=is_open
            data-a=l.a.clone()
            data-b=l.b.clone()
            role="button"
            tabindex="-1"
            aria-label=l.label.clone()
            on:click=move |_| open()
            on:keydown=move |ev| {
                let step = match ev.key().as_str() {
                    "Enter" | " " => {
                        ev.prevent_default();
                        open_key();
                        return;
                    }
                    "ArrowDown" | "ArrowRight" => Step::Next,
                    "ArrowUp" | "ArrowLeft" => Step::Previous,
                    "Home" => Step::First,
                    "End" => Step::Last,
                    _ => return,
                };
                ev.prevent_default();
                ev.stop_propagation();
                focus_link(&ev, step);
            }
            on:mouseenter=move |_| enter()
            on:mouseleave=move |_| leave()
            on:focus=move |_| enter2()
            on:blur=move |_| leave2()
        >
            <line class="hit" x1=x1.clone() y1=y1.clone() x2=x2.clone() y2=y2.clone()/>
            <line class="wire" x1=x1 y1=y1 x2=x2 y2=y2/>
            {badge}
        </g>
    }
}

/// The node-wide controls: topology, link presets, partition and heal.
#[component]
fn NetworkControls(net: Network, view: View) -> impl IntoView {
    let kind = RwSignal::new("full".to_owned());
    let k = RwSignal::new("4".to_owned());
    let preset = RwSignal::new("wan".to_owned());
    let apply_topology = move |_| {
        let kind = kind.get_untracked();
        let text = if kind == "random" || kind == "small-world" {
            format!("{kind}:{}", k.get_untracked().trim())
        } else {
            kind
        };
        let api = net.api();
        command(net, view, format!("Rewiring as {text}…"), async move {
            let body: NetworkBody = api.send_json(JsonCall::topology(&text)).await?;
            Ok(format!(
                "Topology {}: {} links",
                body.topology,
                body.links.len()
            ))
        });
    };
    let apply_preset = move |_| {
        let chosen = match preset.get_untracked().as_str() {
            "lan" => LinkPreset::Lan,
            "global" => LinkPreset::Global,
            "lossy" => LinkPreset::Lossy,
            _ => LinkPreset::Wan,
        };
        let api = net.api();
        command(net, view, "Setting every link…".into(), async move {
            let body: shared::api::NetworkLinksBody =
                api.send_json(JsonCall::links_preset(chosen)).await?;
            Ok(format!("Set {} links", body.links.len()))
        });
    };
    let chosen_count = move || view.chosen.with(BTreeSet::len);
    let node_count = move || net.nodes.with(Vec::len);
    let partition = move |_| {
        let group: Vec<String> = view.chosen.get_untracked().into_iter().collect();
        let names: Vec<String> = group.iter().map(|id| net.name_of(id)).collect();
        let api = net.api();
        command(
            net,
            view,
            format!("Cutting {} off…", names.join(", ")),
            async move {
                let body: NetworkBody = api.send_json(JsonCall::partition(&[group])).await?;
                let groups = body.partition.map_or(1, |g| g.len());
                Ok(format!("Partitioned into {groups} groups"))
            },
        );
    };
    let heal = move |_| {
        let api = net.api();
        command(net, view, "Healing the network…".into(), async move {
            api.network_heal().await?;
            Ok("Healed: every link is back".to_owned())
        });
    };
    let needs_k = move || {
        let kind = kind.get();
        kind == "random" || kind == "small-world"
    };
    view! {
        <div class="toolbar">
            <label for="net-topology">"Topology"</label>
            <select id="net-topology" on:change=move |ev| kind.set(event_target_value(&ev)) prop:value=move || kind.get()>
                <option value="full">"full"</option>
                <option value="ring">"ring"</option>
                <option value="line">"line"</option>
                <option value="star">"star"</option>
                <option value="random">"random (K links each)"</option>
                <option value="small-world">"small world (K neighbours)"</option>
            </select>
            <Show when=needs_k>
                <label for="net-k">"K"</label>
                <input id="net-k" type="number" min="1" max="99" class="short"
                    prop:value=move || k.get() on:input=move |ev| k.set(event_target_value(&ev))/>
            </Show>
            <button type="button" data-action="topology" on:click=apply_topology>"Rewire"</button>
            <label for="net-preset">"Links"</label>
            <select id="net-preset" on:change=move |ev| preset.set(event_target_value(&ev)) prop:value=move || preset.get()>
                <option value="lan">"LAN (1 ms)"</option>
                <option value="wan">"WAN (40 ms ± 10)"</option>
                <option value="global">"global (150 ms ± 30, 1% loss)"</option>
                <option value="lossy">"lossy (20 ms ± 20, 5% loss)"</option>
            </select>
            <button type="button" data-action="preset" on:click=apply_preset>"Set every link"</button>
            <button
                type="button"
                data-action="partition"
                disabled=move || { let n = chosen_count(); n == 0 || n >= node_count() }
                on:click=partition
            >
                {move || match chosen_count() {
                    0 => "Partition (select nodes first)".to_owned(),
                    n => format!("Partition {n} selected"),
                }}
            </button>
            <button type="button" data-action="heal" on:click=heal>"Heal"</button>
            <button
                type="button"
                data-action="clear-selection"
                disabled=move || chosen_count() == 0
                on:click=move |_| view.chosen.set(BTreeSet::new())
            >
                "Clear selection"
            </button>
            <span id="network-outcome-lab">
                <OutcomeText outcome=Signal::derive(move || view.outcome.get())/>
            </span>
        </div>
    }
}

/// The hovered or focused link in words, and the open link's form.
#[component]
fn LinkDetails(net: Network, view: View) -> impl IntoView {
    let find = move |key: &(String, String)| {
        view.body.with(|b| {
            b.as_ref().and_then(|b| {
                b.links
                    .iter()
                    .find(|l| link_key(&l.a, &l.b) == *key)
                    .cloned()
            })
        })
    };
    let names = move |id: &str| net.name_of(id);
    let hover_text = move || {
        let key = view.hovered.get()?;
        let link = find(&key)?;
        Some(link_label(&link, &names))
    };
    let open_link = Memo::new(move |_| view.open.get().and_then(|key| find(&key)));
    view! {
        <p id="link-hover" class="link-hover" aria-live="polite">
            {move || hover_text().unwrap_or_else(|| "Point at or focus a link to read its conditions; click it to change them.".to_owned())}
        </p>
        {move || {
            let key = open_link.with(|l| l.as_ref().map(|l| link_key(&l.a, &l.b)));
            key.map(|_| {
                let link = open_link.get_untracked().expect("open link");
                view! { <LinkForm net view link/> }
            })
        }}
    }
}

#[component]
fn LinkForm(net: Network, view: View, link: NetworkLink) -> impl IntoView {
    let current = link
        .conditions
        .a_to_b
        .or(link.conditions.b_to_a)
        .unwrap_or(LinkConditions::CLEAR);
    let latency = RwSignal::new(current.latency_ms.to_string());
    let jitter = RwSignal::new(current.jitter_ms.to_string());
    let loss = RwSignal::new(format!("{}", (current.loss * 1000.0).round() / 10.0));
    let bandwidth = RwSignal::new(current.bandwidth_kbps.to_string());
    let down = RwSignal::new(current.down);
    let problem = RwSignal::new(None::<String>);
    let title = format!("Link {} – {}", net.name_of(&link.a), net.name_of(&link.b));
    let (a, b) = (link.a.clone(), link.b.clone());
    let now = conditions_text(&link, &|id: &str| net.name_of(id));
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let number = |s: RwSignal<String>, what: &str| -> Result<u64, String> {
            s.get_untracked()
                .trim()
                .parse::<u64>()
                .map_err(|_| format!("{what} must be a whole number of 0 or more"))
        };
        let parsed = (|| {
            let latency_ms = number(latency, "Latency")?;
            let jitter_ms = number(jitter, "Jitter")?;
            let bandwidth_kbps = number(bandwidth, "Bandwidth")?;
            let loss_pct: f64 = loss
                .get_untracked()
                .trim()
                .parse()
                .map_err(|_| "Loss must be a number from 0 to 100".to_owned())?;
            if !(0.0..=100.0).contains(&loss_pct) {
                return Err("Loss must be a number from 0 to 100".to_owned());
            }
            Ok(LinkConditions {
                latency_ms,
                jitter_ms,
                loss: loss_pct / 100.0,
                bandwidth_kbps,
                down: down.get_untracked(),
            })
        })();
        let conditions = match parsed {
            Ok(c) => c,
            Err(err) => {
                problem.set(Some(err));
                return;
            }
        };
        problem.set(None);
        let api = net.api();
        let (a, b) = (a.clone(), b.clone());
        let names = format!("{} – {}", net.name_of(&a), net.name_of(&b));
        command(net, view, format!("Changing link {names}…"), async move {
            let body: shared::api::NetworkLinksBody =
                api.send_json(JsonCall::links(&a, &b, &conditions)).await?;
            Ok(format!(
                "Link {names} set ({} ends changed)",
                body.links.len()
            ))
        });
    };
    let field = |id: &'static str, label: &'static str, value: RwSignal<String>| {
        view! {
            <label for=id>{label}</label>
            <input id=id type="text" inputmode="decimal" class="short" prop:value=move || value.get()
                on:input=move |ev| value.set(event_target_value(&ev))/>
        }
    };
    view! {
        <form id="link-form" class="link-form" on:submit=submit aria-labelledby="link-form-title">
            <h3 id="link-form-title">{title}</h3>
            <p class="hint" data-field="conditions">{format!("Now: {now}")}</p>
            <fieldset>
                <legend>"Conditions, each way"</legend>
                {field("link-latency", "Latency (ms)", latency)}
                {field("link-jitter", "Jitter (ms)", jitter)}
                {field("link-loss", "Loss (%)", loss)}
                {field("link-bandwidth", "Bandwidth (kbit/s, 0 = unlimited)", bandwidth)}
                <label for="link-down">"Down"</label>
                <input id="link-down" type="checkbox" prop:checked=move || down.get()
                    on:change=move |ev| down.set(event_target_checked(&ev))/>
            </fieldset>
            <div class="toolbar">
                <button type="submit" data-action="apply-link">"Apply"</button>
                <button type="button" data-action="close-link" on:click=move |_| view.open.set(None)>"Close"</button>
            </div>
            <p class="outcome failed" role="alert">{move || problem.get()}</p>
        </form>
    }
}

/// What the colours and marks mean; shown from the start.
#[component]
fn NetworkLegend() -> impl IntoView {
    view! {
        <div class="network-legend" aria-label="Legend of the network graph" role="note">
            <h3>"Legend"</h3>
            <ul>
                <li><span class="swatch lane-0"></span>"tip on the main chain (the one most nodes are on)"</li>
                <li><span class="swatch lane-1"></span><span class="swatch lane-2"></span>"tip on another branch: the block tree's colour for it"</li>
                <li><span class="swatch lane-none"></span>"tip not loaded, or node not running"</li>
                <li><strong>"in sync"</strong>": at the majority tip (or ahead of it)"</li>
                <li><strong>"−2"</strong>": lagging, 2 blocks behind on the same chain"</li>
                <li><strong>"fork 7"</strong>": diverged, on another branch since height 7"</li>
                <li><span class="swatch chosen"></span>"selected for Partition"</li>
                <li><span class="line-key down"></span>"link down"</li>
                <li><span class="line-key"></span>"link up (latency · loss written on it)"</li>
            </ul>
        </div>
    }
}
