//! The attacks panel: start any attack the manager offers on a chosen node
//! with a chosen share of the hash power, and follow it: the attacker's
//! share of the best chain against its fair share as a live chart, honest
//! blocks orphaned, a double spend's entries, and what the defence did
//! (refusals by rule and node, bans).

use gloo_timers::future::TimeoutFuture;
use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::api::NodeState;
use shared::attack::{AttackFigures, AttackKind, AttackRequest, AttacksBody};
use shared::strategy::{ForgeRule, StrategyState, TimestampMode};

use super::outcome::OutcomeText;
use super::plot_figure::PlotFigure;
use crate::api::{Call, JsonCall};
use crate::format::{node_name, percent};
use crate::lab::AttackSeries;
use crate::plots;
use crate::state::{Network, Outcome};

/// How often a running attack's figures are read.
const POLL_MS: u32 = 2_000;

fn kind_of(value: &str) -> AttackKind {
    match value {
        "private" => AttackKind::Private,
        "timestamp" => AttackKind::Timestamp,
        "forger" => AttackKind::Forger,
        _ => AttackKind::Selfish,
    }
}

fn kind_words(kind: AttackKind) -> &'static str {
    match kind {
        AttackKind::Selfish => "Selfish mining",
        AttackKind::Private => "Double spend (private branch)",
        AttackKind::Timestamp => "Timestamp attack",
        AttackKind::Forger => "Forged blocks",
    }
}

fn rule_of(value: &str) -> ForgeRule {
    match value {
        "bad_proof_of_work" => ForgeRule::BadProofOfWork,
        "wrong_bits" => ForgeRule::WrongBits,
        "wrong_previous_hash" => ForgeRule::WrongPreviousHash,
        _ => ForgeRule::BadMerkleRoot,
    }
}

/// The attacker's own state in words.
fn state_words(state: &StrategyState) -> String {
    match state {
        StrategyState::Honest => "honest".to_owned(),
        StrategyState::Selfish {
            withheld,
            lead,
            published,
            races,
        } => format!("{withheld} withheld, lead {lead}, {published} published, {races} races"),
        StrategyState::Private {
            branch_length,
            released,
            a_reverted,
            ..
        } => format!(
            "private branch of {branch_length} blocks{}{}",
            if *released {
                ", released"
            } else {
                ", not released yet"
            },
            if *a_reverted {
                "; the payment's block is off its chain"
            } else {
                ""
            }
        ),
        StrategyState::Offering { offered, refused } => {
            format!("{offered} bad blocks offered, {refused} peers refused or closed the link")
        }
    }
}

fn yes_no(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "yes",
        Some(false) => "no",
        None => "—",
    }
}

#[component]
pub fn AttacksPanel() -> impl IntoView {
    let net = expect_context::<Network>();
    let body = RwSignal::new(None::<AttacksBody>);
    let series = RwSignal::new(AttackSeries::default());
    let outcome = RwSignal::new(None::<Outcome>);
    let kind = RwSignal::new("selfish".to_owned());
    let node = RwSignal::new(String::new());
    let share = RwSignal::new("33".to_owned());
    let confirmations = RwSignal::new("2".to_owned());
    let mode = RwSignal::new("future".to_owned());
    let rule = RwSignal::new("bad_merkle_root".to_owned());
    // Whether a poll loop runs; one at a time.
    let polling = StoredValue::new(false);

    let take = move |answer: AttacksBody| {
        if let Some(figures) = &answer.attack {
            series.update(|s| s.observe(figures));
        }
        body.set(Some(answer));
    };
    let poll = move || {
        if polling.get_value() {
            return;
        }
        polling.set_value(true);
        spawn_local(async move {
            loop {
                let Ok(answer) = net.api().attacks().await else {
                    break;
                };
                let running = answer.running;
                take(answer);
                if !running {
                    break;
                }
                TimeoutFuture::new(POLL_MS).await;
            }
            polling.set_value(false);
        });
    };
    poll();

    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let kind = kind_of(&kind.get_untracked());
        let id = node.get_untracked();
        let id = if id.is_empty() {
            net.nodes.with_untracked(|nodes| {
                nodes
                    .iter()
                    .find(|n| n.state == NodeState::Running)
                    .map(|n| n.id.clone())
                    .unwrap_or_default()
            })
        } else {
            id
        };
        let Some(fraction) = share
            .get_untracked()
            .trim()
            .trim_end_matches('%')
            .trim()
            .parse::<f64>()
            .ok()
            .map(|p| p / 100.0)
            .filter(|f| *f > 0.0 && *f < 1.0)
        else {
            outcome.set(Some(Outcome::Failed(
                "The share must be a percentage between 0 and 100".into(),
            )));
            return;
        };
        let confirmations = match kind {
            AttackKind::Private => match confirmations.get_untracked().trim().parse::<u64>() {
                Ok(z) => Some(z),
                Err(_) => {
                    outcome.set(Some(Outcome::Failed(
                        "Confirmations must be a whole number".into(),
                    )));
                    return;
                }
            },
            _ => None,
        };
        let request = AttackRequest {
            kind,
            node: id.clone(),
            hashrate_share: fraction,
            confirmations,
            entry: None,
            double_spend: None,
            mode: (kind == AttackKind::Timestamp).then(|| match mode.get_untracked().as_str() {
                "past" => TimestampMode::Past,
                _ => TimestampMode::Future,
            }),
            rule: (kind == AttackKind::Forger).then(|| rule_of(&rule.get_untracked())),
        };
        let name = net.name_of(&id);
        outcome.set(Some(Outcome::Working(format!(
            "Starting {} on {name} with {}…",
            kind_words(kind).to_lowercase(),
            percent(fraction)
        ))));
        spawn_local(async move {
            let result: Result<AttacksBody, _> =
                net.api().send_json(JsonCall::attack(&request)).await;
            match result {
                Ok(answer) => {
                    outcome.set(Some(Outcome::Done(format!(
                        "{} runs on {name}",
                        kind_words(kind)
                    ))));
                    take(answer);
                    poll();
                }
                Err(err) => outcome.set(Some(Outcome::Failed(err.to_string()))),
            }
            crate::sync::refresh_nodes(net).await;
        });
    };
    let stop = move |_| {
        outcome.set(Some(Outcome::Working("Stopping the attack…".into())));
        spawn_local(async move {
            let result: Result<AttacksBody, _> = net.api().command(Call::attacks_stop()).await;
            match result {
                Ok(answer) => {
                    outcome.set(Some(Outcome::Done(
                        "Stopped: the node is honest again and the caps are back".into(),
                    )));
                    take(answer);
                }
                Err(err) => outcome.set(Some(Outcome::Failed(err.to_string()))),
            }
            crate::sync::refresh_nodes(net).await;
        });
    };

    let running = move || body.with(|b| b.as_ref().is_some_and(|b| b.running));
    let figures = Memo::new(move |_| body.with(|b| b.as_ref().and_then(|b| b.attack.clone())));
    let chart = Signal::derive(move || {
        let fair = figures.with(|f| f.as_ref().map_or(0.0, |f| f.hashrate_share));
        series.with(|s| plots::attack_share(&s.points, fair))
    });
    let options = move || {
        net.nodes.with(|nodes| {
            nodes
                .iter()
                .filter(|n| n.state == NodeState::Running)
                .map(|n| view! { <option value=n.id.clone()>{node_name(&n.address)}</option> })
                .collect_view()
        })
    };
    let show = move |k: &'static str| move || kind.get() == k;

    view! {
        <section id="attacks" aria-labelledby="attacks-title">
            <h2 id="attacks-title">"Attacks"</h2>
            <form class="toolbar" on:submit=start aria-label="Start an attack">
                <label for="attack-kind">"Attack"</label>
                <select id="attack-kind" prop:value=move || kind.get() on:change=move |ev| kind.set(event_target_value(&ev))>
                    <option value="selfish">"selfish mining"</option>
                    <option value="private">"double spend"</option>
                    <option value="timestamp">"bad timestamps"</option>
                    <option value="forger">"forged blocks"</option>
                </select>
                <label for="attack-node">"Attacker"</label>
                <select id="attack-node" prop:value=move || node.get() on:change=move |ev| node.set(event_target_value(&ev))>
                    {options}
                </select>
                <label for="attack-share">"Hash share (%)"</label>
                <input id="attack-share" type="text" inputmode="decimal" class="short"
                    prop:value=move || share.get() on:input=move |ev| share.set(event_target_value(&ev))/>
                <Show when=show("private")>
                    <label for="attack-confirmations">"Confirmations"</label>
                    <input id="attack-confirmations" type="text" inputmode="numeric" class="short"
                        prop:value=move || confirmations.get() on:input=move |ev| confirmations.set(event_target_value(&ev))/>
                </Show>
                <Show when=show("timestamp")>
                    <label for="attack-mode">"Timestamps"</label>
                    <select id="attack-mode" prop:value=move || mode.get() on:change=move |ev| mode.set(event_target_value(&ev))>
                        <option value="future">"too far in the future"</option>
                        <option value="past">"not after the median past"</option>
                    </select>
                </Show>
                <Show when=show("forger")>
                    <label for="attack-rule">"Rule broken"</label>
                    <select id="attack-rule" prop:value=move || rule.get() on:change=move |ev| rule.set(event_target_value(&ev))>
                        <option value="bad_merkle_root">"merkle root"</option>
                        <option value="bad_proof_of_work">"proof of work"</option>
                        <option value="wrong_bits">"difficulty bits"</option>
                        <option value="wrong_previous_hash">"previous hash"</option>
                    </select>
                </Show>
                <button type="submit" data-action="attack-start" disabled=running>"Start attack"</button>
                <button type="button" data-action="attack-stop" disabled=move || !running() on:click=stop>"Stop attack"</button>
                <OutcomeText outcome=outcome/>
            </form>
            {move || figures.get().map(|f| view! { <AttackReport net figures=f running=running()/> }.into_any())}
            <Show when=move || figures.with(Option::is_some)>
                <PlotFigure id="plot-attack" title="Attacker's share of the best chain" plot=chart/>
            </Show>
        </section>
    }
}

#[component]
fn AttackReport(net: Network, figures: AttackFigures, running: bool) -> impl IntoView {
    let name = node_name(&figures.address);
    let when = match figures.stopped_at {
        Some(at) if !running => format!(
            "ran from {} to {}",
            crate::clock::time_of_day(figures.started_at),
            crate::clock::time_of_day(at)
        ),
        _ => format!(
            "running since {}",
            crate::clock::time_of_day(figures.started_at)
        ),
    };
    let heading = format!(
        "{} by {name} with {} of the hash power: {when}",
        kind_words(figures.kind),
        percent(figures.hashrate_share)
    );
    let rejections = figures
        .rejections
        .iter()
        .map(|(rule, refused)| {
            let by: Vec<String> = refused.nodes.iter().map(|id| net.name_of(id)).collect();
            view! { <li>{format!("{rule}: {} refused, by {}", refused.count, by.join(", "))}</li> }
        })
        .collect_view();
    let bans = figures
        .bans
        .iter()
        .map(|ban| {
            view! {
                <li>{format!(
                    "{} banned {} until {}: {}",
                    net.name_of(&ban.node),
                    node_name(&ban.peer),
                    crate::clock::time_of_day(ban.until),
                    ban.reason
                )}</li>
            }
        })
        .collect_view();
    let private = figures.kind == AttackKind::Private;
    view! {
        <div id="attack-report" aria-live="polite">
            <h3>{heading}</h3>
            <dl class="figures">
                <dt>"Attacker's blocks on the best chain"</dt>
                <dd data-field="attacker-share">{format!(
                    "{} of {} ({}; fair share {})",
                    figures.attacker_blocks,
                    figures.best_chain_blocks,
                    percent(figures.attacker_share),
                    percent(figures.hashrate_share)
                )}</dd>
                <dt>"Honest blocks orphaned"</dt>
                <dd data-field="honest-orphaned">{figures.honest_orphaned}</dd>
                {private.then(|| view! {
                    <dt>"Payment (entry A) on the best chain"</dt>
                    <dd data-field="entry-on-chain">{yes_no(figures.entry_on_best_chain)}</dd>
                    <dt>"Double spend on the best chain"</dt>
                    <dd data-field="double-spend-on-chain">{yes_no(figures.double_spend_on_best_chain)}</dd>
                })}
                <dt>"Attacker's state"</dt>
                <dd>{figures.state.as_ref().map(state_words).unwrap_or_else(|| "not known".into())}</dd>
            </dl>
            <h4>"Blocks refused"</h4>
            {if figures.rejections.is_empty() {
                view! { <p data-field="rejections">"None."</p> }.into_any()
            } else {
                view! { <ul data-field="rejections">{rejections}</ul> }.into_any()
            }}
            <h4>"Bans"</h4>
            {if figures.bans.is_empty() {
                view! { <p data-field="bans">"None."</p> }.into_any()
            } else {
                view! { <ul data-field="bans">{bans}</ul> }.into_any()
            }}
        </div>
    }
}
