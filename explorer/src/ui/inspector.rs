//! The block inspector: the selected block's header, its entries, its hash
//! against its target, and which nodes have it on their best chain.

use leptos::prelude::*;
use leptos::task::spawn_local;
use shared::api::NodeState;
use shared::{Block, BlockHash, Entry, Header};

use crate::clock::iso_time;
use crate::format::short_hash;
use crate::state::Network;

/// Leading zero hex digits of a hash: what "difficulty" looks like.
fn leading_zeros(hex: &str) -> usize {
    hex.chars().take_while(|c| *c == '0').count()
}

#[component]
pub fn InspectorPanel() -> impl IntoView {
    let net = expect_context::<Network>();
    // The full block (entries included) of the selected hash, once fetched.
    let full = RwSignal::new(None::<(BlockHash, Result<Block, String>)>);
    Effect::new(move |_| {
        let Some(hash) = net.selected.get() else {
            return;
        };
        if full.with_untracked(|f| f.as_ref().is_some_and(|(h, _)| *h == hash)) {
            return;
        }
        full.set(None);
        let holders = net.tree.with_untracked(|t| t.holders(&hash));
        let running: Vec<String> = net.nodes.with_untracked(|nodes| {
            nodes
                .iter()
                .filter(|n| n.state == NodeState::Running && !n.id.is_empty())
                .map(|n| n.id.clone())
                .collect()
        });
        // Nodes that hold the block first, then any other running node.
        let mut ask: Vec<String> = holders
            .into_iter()
            .filter(|id| running.contains(id))
            .collect();
        let others: Vec<String> = running.into_iter().filter(|id| !ask.contains(id)).collect();
        ask.extend(others);
        let api = net.api();
        spawn_local(async move {
            let mut result = Err("no running node to ask for this block".to_owned());
            for id in ask {
                match api.block(&id, &hash).await {
                    Ok(block) if block.header.block_hash() == hash => {
                        result = Ok(block);
                        break;
                    }
                    Ok(_) => result = Err("the node sent a different block".to_owned()),
                    Err(err) => result = Err(err.to_string()),
                }
            }
            if net.selected.get_untracked() == Some(hash) {
                full.set(Some((hash, result)));
            }
        });
    });

    let body = move || {
        let hash = net.selected.get()?;
        let header = net.tree.with(|t| t.header(&hash).copied())?;
        let holders = net.tree.with(|t| t.holders(&hash));
        let holders: Vec<String> = holders.iter().map(|id| net.name_of(id)).collect();
        let stale = net
            .tree
            .with(|t| !t.tips().is_empty() && !t.is_on_a_best_chain(&hash));
        let fork = net.tree.with(|t| crate::status::fork_point(t, &hash));
        let entries = full.with(|f| match f {
            Some((h, Ok(block))) if *h == hash => Ok(Some(block.entries.clone())),
            Some((h, Err(err))) if *h == hash => Err(err.clone()),
            _ => Ok(None),
        });
        Some(view! { <BlockDetails hash header holders stale fork entries/> }.into_any())
    };
    view! {
        <section id="inspector" aria-labelledby="inspector-title">
            <h2 id="inspector-title">"Block inspector"</h2>
            {move || body().unwrap_or_else(|| view! {
                <div><p class="empty">"Click a block in the tree to see its header, entries and proof of work."</p></div>
            }.into_any())}
        </section>
    }
}

#[component]
fn BlockDetails(
    hash: BlockHash,
    header: Header,
    holders: Vec<String>,
    stale: bool,
    fork: Option<u64>,
    entries: Result<Option<Vec<Entry>>, String>,
) -> impl IntoView {
    let stale_note = stale.then(|| {
        let since = fork.map_or_else(
            || "it left the main chain below the loaded blocks".to_owned(),
            |h| format!("its branch left the main chain after block {h}"),
        );
        view! {
            <p class="stale-note" data-field="stale-note">
                {format!("Stale: no node has this block on its best chain; {since}. Its miner lost the race, and the work in it no longer counts.")}
            </p>
        }
    });
    let net = expect_context::<Network>();
    let target = header.bits.to_target();
    let (target_text, verdict) = match target {
        Ok(target) => {
            let meets = target.is_met_by(hash);
            (
                target.to_string(),
                if meets {
                    "meets the target: read as a number, the hash is at or below it".to_owned()
                } else {
                    "does NOT meet the target: the hash is above it".to_owned()
                },
            )
        }
        Err(err) => (
            "—".to_owned(),
            format!("bits are not a valid target: {err}"),
        ),
    };
    let hash_text = hash.to_string();
    let zeros = leading_zeros(&hash_text);
    let parent = header.previous_hash;
    let has_parent = header.index > 0;
    let holders_text = if holders.is_empty() {
        "no node has it on its best chain".to_owned()
    } else {
        holders.join(", ")
    };
    let entries_view = match entries {
        Ok(None) => view! { <p>"Loading entries…"</p> }.into_any(),
        Err(err) => view! { <p class="outcome failed">{format!("Error: could not load the entries: {err}")}</p> }.into_any(),
        Ok(Some(entries)) => view! {
            <ol class="entries">
                {entries
                    .into_iter()
                    .map(|entry| match entry {
                        Entry::Coinbase { height, miner } => {
                            view! { <li>{format!("coinbase: height {height}, miner {miner}")}</li> }
                        }
                        Entry::Data { data } => view! { <li>{format!("data: {data}")}</li> },
                    })
                    .collect_view()}
            </ol>
        }
        .into_any(),
    };
    view! {
        <div class="details">
            <h3>
                {format!("Block {} ", header.index)}
                <span class="mono">{short_hash(&hash)}</span>
                {stale.then_some(" (stale)")}
            </h3>
            {stale_note}
            <dl class="header-fields">
                <dt>"Hash"</dt>
                <dd class="mono wrap">{hash_text.clone()}</dd>
                <dt>"Height"</dt>
                <dd>{header.index.to_string()}</dd>
                <dt>"Time"</dt>
                <dd>{iso_time(header.timestamp)}</dd>
                <dt>"Previous hash"</dt>
                <dd class="mono wrap">
                    {parent.to_string()}
                    {has_parent.then(|| view! {
                        " "
                        <button type="button" on:click=move |_| net.selected.set(Some(parent))>
                            "Show parent"
                        </button>
                    })}
                </dd>
                <dt>"Merkle root"</dt>
                <dd class="mono wrap">{header.merkle_root.to_string()}</dd>
                <dt>"Bits"</dt>
                <dd class="mono">{header.bits.to_string()}</dd>
                <dt>"Proof (nonce)"</dt>
                <dd>{header.proof.to_string()}</dd>
                <dt>"Version"</dt>
                <dd>{header.version.to_string()}</dd>
                <dt>"On the best chain of"</dt>
                <dd data-field="holders">{holders_text}</dd>
            </dl>
            <h4>"Hash against target"</h4>
            <pre class="pow" aria-label="The block hash above its target, digit by digit">
                {format!("hash   {hash_text}\ntarget {target_text}")}
            </pre>
            <p data-field="pow-verdict">
                {format!("The hash starts with {zeros} zero digits and {verdict}.")}
            </p>
            <h4>"Entries"</h4>
            {entries_view}
        </div>
    }
}
