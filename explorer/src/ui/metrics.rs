//! The metrics panel: stale rate over time, the propagation-delay
//! distribution, reorganisations by depth and each miner's share of the
//! best chain against its hash power, each with its summary in words.

use leptos::prelude::*;
use leptos::task::spawn_local;

use super::outcome::OutcomeText;
use super::plot_figure::PlotFigure;
use crate::api::Call;
use crate::feed::Names;
use crate::plots;
use crate::state::{Network, Outcome};

#[component]
pub fn MetricsPanel() -> impl IntoView {
    let net = expect_context::<Network>();
    // The first figures now rather than at the next `stats` event.
    if net.stats.with_untracked(Option::is_none) {
        spawn_local(async move {
            if let Ok(stats) = net.api().stats().await {
                net.set_stats(stats);
            }
        });
    }
    let outcome = RwSignal::new(None::<Outcome>);
    let reset = move |_| {
        outcome.set(Some(Outcome::Working("Resetting the figures…".into())));
        spawn_local(async move {
            let result: Result<shared::stats::NetworkStats, _> =
                net.api().command(Call::stats_reset()).await;
            outcome.set(Some(match result {
                Ok(stats) => {
                    net.reset_figures(stats);
                    Outcome::Done("Counting from now".into())
                }
                Err(err) => Outcome::Failed(err.to_string()),
            }));
        });
    };
    let stale = Signal::derive(move || net.stale_history.with(|h| plots::stale_rate(h)));
    let propagation = Signal::derive(move || net.delays.with(|d| plots::propagation(d)));
    let reorgs = Signal::derive(move || {
        net.stats.with(|s| {
            let depths = s
                .as_ref()
                .map(|s| s.reorgs.depths.clone())
                .unwrap_or_default();
            plots::reorg_depths(&depths)
        })
    });
    let shares = Signal::derive(move || {
        net.stats.with(|s| {
            net.nodes.with(|nodes| {
                let miners = s.as_ref().map(|s| s.miners.as_slice()).unwrap_or_default();
                plots::miner_shares(miners, &Names(nodes))
            })
        })
    });
    let since = move || {
        net.stats.with(|s| match s {
            Some(s) => format!(
                "Since {}: {} blocks found, {} on the best chain, {} stale; {} nodes running.",
                crate::clock::time_of_day(s.since),
                s.blocks_found,
                s.best_chain_blocks,
                s.stale_blocks,
                s.running_nodes
            ),
            None => "Waiting for the manager's figures…".to_owned(),
        })
    };
    view! {
        <section id="metrics" aria-labelledby="metrics-title">
            <h2 id="metrics-title">"Metrics"</h2>
            <div class="toolbar">
                <p id="metrics-since">{since}</p>
                <button type="button" data-action="stats-reset" on:click=reset>"Reset figures"</button>
                <OutcomeText outcome=outcome/>
            </div>
            <div class="plots">
                <PlotFigure id="plot-stale" title="Stale rate over time" plot=stale/>
                <PlotFigure id="plot-propagation" title="Propagation delay (cumulative)" plot=propagation/>
                <PlotFigure id="plot-reorgs" title="Reorganisations by depth" plot=reorgs/>
                <PlotFigure id="plot-shares" title="Miner share against hash share" plot=shares/>
            </div>
        </section>
    }
}
