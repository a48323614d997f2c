//! The lab's charts as plain data: each [`Plot`] holds its axis labels, the
//! shapes in plot coordinates and a summary in words, so one component
//! draws every one of them and the numbers are tested natively.
//!
//! Coordinates are in a [`W`] x [`H`] box with y growing downwards.

use std::collections::BTreeMap;

use shared::stats::MinerStats;

use crate::feed::Names;
use crate::format::percent;
use crate::lab::{StalePoint, quantile};

pub const W: f64 = 360.0;
pub const H: f64 = 150.0;

/// A polyline, by CSS class (`series`, `fair`, `diagonal`).
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub class: &'static str,
    pub points: String,
}

/// A labelled mark: a bar (width and height) or a dot (no size).
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    pub x: f64,
    pub y: f64,
    pub w: f64,
    pub h: f64,
    /// Its value in words, as its tooltip.
    pub label: String,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plot {
    pub x_label: String,
    pub y_label: String,
    /// The labels at each end of the axes: (left, right) and (bottom, top).
    pub x_ends: (String, String),
    pub y_ends: (String, String),
    pub lines: Vec<Line>,
    pub bars: Vec<Mark>,
    pub dots: Vec<Mark>,
    /// What the chart shows, for a screen reader and for anyone.
    pub summary: String,
}

/// `value` in `lo..hi` mapped onto `0..size`.
fn scale(value: f64, lo: f64, hi: f64, size: f64) -> f64 {
    let span = if hi > lo { hi - lo } else { 1.0 };
    ((value - lo) / span * size).clamp(0.0, size)
}

/// Points in data units as a polyline in the box.
fn polyline(points: &[(f64, f64)], x: (f64, f64), y: (f64, f64)) -> String {
    points
        .iter()
        .map(|(px, py)| {
            format!(
                "{:.1},{:.1}",
                scale(*px, x.0, x.1, W),
                H - scale(*py, y.0, y.1, H)
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The stale rate at each `stats` event, by minutes since the first.
pub fn stale_rate(history: &[StalePoint]) -> Plot {
    let mut plot = Plot {
        x_label: "minutes since the first figure".into(),
        y_label: "stale rate".into(),
        ..Plot::default()
    };
    let (Some(first), Some(last)) = (history.first(), history.last()) else {
        plot.summary = "Stale rate: no figures yet (the manager sends them every 5 s).".into();
        return plot;
    };
    let points: Vec<(f64, f64)> = history
        .iter()
        .map(|p| ((p.at - first.at) as f64 / 60_000.0, p.stale_rate))
        .collect();
    let x_hi = points.last().map_or(1.0, |p| p.0).max(1.0 / 6.0);
    let hi = history.iter().map(|p| p.stale_rate).fold(0.0, f64::max);
    let y_hi = (hi * 1.1).clamp(0.05, 1.0);
    plot.x_ends = ("0".into(), format!("{x_hi:.1}"));
    plot.y_ends = ("0".into(), format!("{y_hi:.2}"));
    plot.lines.push(Line {
        class: "series",
        points: polyline(&points, (0.0, x_hi), (0.0, y_hi)),
    });
    plot.summary = format!(
        "Stale rate now {:.3} ({} stale of {} blocks); highest {:.3} over {:.1} minutes.",
        last.stale_rate, last.stale_blocks, last.blocks, hi, x_hi
    );
    plot
}

/// The share of arrivals within each delay: the cumulative distribution
/// of `sorted` (ms, smallest first).
pub fn propagation(sorted: &[u64]) -> Plot {
    let mut plot = Plot {
        x_label: "delay from the miner (ms)".into(),
        y_label: "share of arrivals".into(),
        ..Plot::default()
    };
    let (Some(median), Some(p90), Some(&max)) =
        (quantile(sorted, 0.5), quantile(sorted, 0.9), sorted.last())
    else {
        plot.summary = "Propagation: no block has reached another node yet.".into();
        return plot;
    };
    let x_hi = (max as f64).max(1.0);
    let n = sorted.len() as f64;
    // A step per distinct delay, at most a few hundred vertices whatever
    // the count.
    let step = sorted.len().div_ceil(300).max(1);
    let mut points = vec![(0.0, 0.0)];
    for (i, delay) in sorted.iter().enumerate() {
        if i % step == 0 || i + 1 == sorted.len() {
            points.push((*delay as f64, i as f64 / n));
            points.push((*delay as f64, (i + 1) as f64 / n));
        }
    }
    plot.x_ends = ("0".into(), format!("{max}"));
    plot.y_ends = ("0".into(), "1".into());
    plot.lines.push(Line {
        class: "series",
        points: polyline(&points, (0.0, x_hi), (0.0, 1.0)),
    });
    plot.summary = format!(
        "Over the last {} arrivals of a block at a node: half within {median} ms, \
         90 % within {p90} ms, the slowest {max} ms.",
        sorted.len()
    );
    plot
}

/// How many reorganisations took off each number of blocks.
pub fn reorg_depths(depths: &BTreeMap<u64, u64>) -> Plot {
    let mut plot = Plot {
        x_label: "depth (blocks taken off)".into(),
        y_label: "reorganisations".into(),
        summary: crate::lab::reorg_summary(depths),
        ..Plot::default()
    };
    let (Some((&lo, _)), Some((&hi, _))) = (depths.first_key_value(), depths.last_key_value())
    else {
        return plot;
    };
    let top = depths.values().copied().max().unwrap_or(1).max(1);
    // Every depth from 1 to the deepest gets a slot, so gaps show.
    let slots = hi.max(lo) as f64;
    let slot = W / slots;
    for (&depth, &n) in depths {
        let h = scale(n as f64, 0.0, top as f64, H);
        plot.bars.push(Mark {
            x: (depth as f64 - 1.0) * slot + slot * 0.1,
            y: H - h,
            w: slot * 0.8,
            h,
            label: format!("depth {depth}: {n}"),
        });
    }
    plot.x_ends = ("1".into(), format!("{hi}"));
    plot.y_ends = ("0".into(), format!("{top}"));
    plot
}

/// Each miner's share of the best chain against its share of the hash
/// power; a fair network sits on the diagonal.
pub fn miner_shares(miners: &[MinerStats], names: &Names<'_>) -> Plot {
    let mut plot = Plot {
        x_label: "share of the hash power".into(),
        y_label: "share of best-chain blocks".into(),
        ..Plot::default()
    };
    let found: Vec<&MinerStats> = miners
        .iter()
        .filter(|m| m.hash_share > 0.0 || m.best_chain_blocks > 0)
        .collect();
    if found.is_empty() {
        plot.summary =
            "Miner shares: no hash power is set and no block is on the best chain yet.".into();
        return plot;
    }
    let hi = found
        .iter()
        .map(|m| m.hash_share.max(m.best_chain_share))
        .fold(0.0, f64::max)
        .clamp(0.05, 1.0);
    plot.x_ends = ("0".into(), percent(hi));
    plot.y_ends = ("0".into(), percent(hi));
    plot.lines.push(Line {
        class: "diagonal",
        points: polyline(&[(0.0, 0.0), (hi, hi)], (0.0, hi), (0.0, hi)),
    });
    for miner in &found {
        plot.dots.push(Mark {
            x: scale(miner.hash_share, 0.0, hi, W),
            y: H - scale(miner.best_chain_share, 0.0, hi, H),
            w: 0.0,
            h: 0.0,
            label: format!(
                "{}: {} of the hash power, {} of the best chain",
                names.of(&miner.node),
                percent(miner.hash_share),
                percent(miner.best_chain_share)
            ),
        });
    }
    // The miners furthest from fair, named.
    let mut by_gap = found.clone();
    // Unstable, and so ties go by name: a stable sort is a second sorting
    // routine in the wasm.
    by_gap.sort_unstable_by(|a, b| {
        let gap = |m: &MinerStats| (m.best_chain_share - m.hash_share).abs();
        gap(b).total_cmp(&gap(a)).then_with(|| a.node.cmp(&b.node))
    });
    let named: Vec<String> = by_gap
        .iter()
        .take(3)
        .map(|m| {
            format!(
                "{} has {} of the hash power and {} of the best chain",
                names.of(&m.node),
                percent(m.hash_share),
                percent(m.best_chain_share)
            )
        })
        .collect();
    // Uncapped nodes have no set share: say so rather than let "0 %" read
    // as a measurement.
    let uncapped = if found.iter().all(|m| m.hash_share == 0.0) {
        " No hash power is set (Hash power panel), so every hash share reads 0."
    } else {
        ""
    };
    plot.summary = format!(
        "{} miners. Furthest from their fair share: {}.{uncapped}",
        found.len(),
        named.join("; ")
    );
    plot
}

/// The attacker's share of the best chain as blocks came, against its
/// fair share (its hash power).
pub fn attack_share(points: &[(f64, f64)], fair: f64) -> Plot {
    let mut plot = Plot {
        x_label: "best-chain blocks since the attack began".into(),
        y_label: "attacker's share".into(),
        y_ends: ("0".into(), "100 %".into()),
        ..Plot::default()
    };
    let x_hi = points.last().map_or(1.0, |p| p.0).max(1.0);
    plot.x_ends = ("0".into(), format!("{x_hi:.0}"));
    plot.lines.push(Line {
        class: "fair",
        points: polyline(&[(0.0, fair), (x_hi, fair)], (0.0, x_hi), (0.0, 1.0)),
    });
    match points.last() {
        Some(&(blocks, share)) => {
            plot.lines.push(Line {
                class: "series",
                points: polyline(points, (0.0, x_hi), (0.0, 1.0)),
            });
            plot.summary = format!(
                "The attacker has {} of the {blocks:.0} best-chain blocks since it began; \
                 its fair share is {}.",
                percent(share),
                percent(fair)
            );
        }
        None => {
            plot.summary = format!(
                "No best-chain block since the attack began; its fair share is {}.",
                percent(fair)
            );
        }
    }
    plot
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(at: u64, rate: f64) -> StalePoint {
        StalePoint {
            at,
            stale_rate: rate,
            stale_blocks: (rate * 100.0) as u64,
            blocks: 100,
        }
    }

    #[test]
    fn the_stale_rate_runs_left_to_right_and_says_the_latest() {
        let empty = stale_rate(&[]);
        assert!(empty.lines.is_empty());
        assert!(empty.summary.contains("no figures yet"));
        let plot = stale_rate(&[point(0, 0.0), point(60_000, 0.2), point(120_000, 0.1)]);
        assert_eq!(plot.lines[0].points, "0.0,150.0 180.0,13.6 360.0,81.8");
        assert_eq!(plot.x_ends.1, "2.0");
        assert_eq!(plot.y_ends.1, "0.22");
        assert!(
            plot.summary
                .starts_with("Stale rate now 0.100 (10 stale of 100 blocks); highest 0.200"),
            "{}",
            plot.summary
        );
    }

    #[test]
    fn the_propagation_curve_climbs_to_one_at_the_slowest_arrival() {
        assert!(propagation(&[]).summary.contains("no block"));
        let plot = propagation(&[10, 20, 20, 40]);
        let points = &plot.lines[0].points;
        assert!(
            points.starts_with("0.0,150.0 90.0,150.0 90.0,112.5"),
            "{points}"
        );
        assert!(points.ends_with("360.0,0.0"), "{points}");
        assert_eq!(plot.x_ends.1, "40");
        assert_eq!(
            plot.summary,
            "Over the last 4 arrivals of a block at a node: half within 20 ms, 90 % within 40 ms, the slowest 40 ms."
        );
        // Thousands of arrivals draw a bounded line.
        let many: Vec<u64> = (0..4_000).collect();
        let vertices = propagation(&many).lines[0].points.split(' ').count();
        assert!(vertices <= 2 * 300 + 4, "{vertices}");
    }

    #[test]
    fn each_reorg_depth_is_a_bar_as_tall_as_its_count() {
        let plot = reorg_depths(&BTreeMap::from([(1, 4), (3, 2)]));
        assert_eq!(plot.bars.len(), 2);
        assert_eq!(plot.bars[0].h, H);
        assert_eq!(plot.bars[1].h, H / 2.0);
        assert!(
            plot.bars[1].x > plot.bars[0].x + plot.bars[0].w,
            "depth 2's slot is empty"
        );
        assert_eq!(plot.bars[1].label, "depth 3: 2");
        assert_eq!(
            plot.summary,
            "6 reorganisations: 4 of depth 1, 2 of depth 3."
        );
        assert!(reorg_depths(&BTreeMap::new()).bars.is_empty());
    }

    fn miner(node: &str, hash_share: f64, best_chain_share: f64) -> MinerStats {
        MinerStats {
            node: node.into(),
            address: None,
            hash_share,
            measured_share: hash_share,
            blocks_found: 10,
            best_chain_blocks: 10,
            stale_blocks: 0,
            best_chain_share,
        }
    }

    #[test]
    fn miners_sit_on_the_diagonal_when_fair_and_the_unfairest_are_named() {
        let nodes = vec![
            crate::state::tests::running("a", 5000),
            crate::state::tests::running("b", 5001),
        ];
        let names = Names(&nodes);
        let plot = miner_shares(&[miner("a", 0.5, 0.5), miner("b", 0.5, 0.3)], &names);
        assert_eq!(plot.dots.len(), 2);
        assert_eq!((plot.dots[0].x, plot.dots[0].y), (W, 0.0));
        assert!(
            plot.dots[1].y > plot.dots[0].y,
            "a smaller share sits lower"
        );
        assert!(plot.summary.starts_with("2 miners. Furthest from their fair share: 5001 has 50.0 % of the hash power and 30.0 % of the best chain"), "{}", plot.summary);
        assert!(miner_shares(&[], &names).dots.is_empty());
        assert!(!plot.summary.contains("No hash power is set"));
        let uncapped = miner_shares(&[miner("a", 0.0, 0.5), miner("b", 0.0, 0.5)], &names);
        assert!(
            uncapped.summary.ends_with("so every hash share reads 0."),
            "{}",
            uncapped.summary
        );
    }

    #[test]
    fn the_attack_chart_has_the_fair_line_and_the_share_so_far() {
        let waiting = attack_share(&[], 0.33);
        assert_eq!(waiting.lines.len(), 1, "the fair line only");
        assert!(waiting.summary.contains("33.0 %"));
        let plot = attack_share(&[(2.0, 0.5), (10.0, 0.4)], 0.33);
        assert_eq!(plot.lines[0].class, "fair");
        assert_eq!(plot.lines[1].points, "72.0,75.0 360.0,90.0");
        assert!(
            plot.summary
                .starts_with("The attacker has 40.0 % of the 10 best-chain blocks")
        );
    }
}
