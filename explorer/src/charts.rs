//! The numbers behind the charts: block interval and difficulty by height
//! along the chain most nodes are on.

use crate::tree::BlockTree;

/// One point: a height and a value.
pub type Point = (u64, f64);

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Seconds between each block and its parent.
    pub interval_s: Vec<Point>,
    /// Expected proof attempts per block (the work its target stands for).
    pub difficulty: Vec<Point>,
}

/// The last `span` blocks of the main chain, oldest first.
pub fn series(tree: &BlockTree, span: usize) -> Series {
    let Some(tip) = tree.main_tip() else {
        return Series::default();
    };
    let mut chain: Vec<_> = tree
        .ancestors(tip)
        .take(span + 1)
        .filter_map(|hash| tree.header(&hash).copied())
        .collect();
    chain.reverse();
    let mut out = Series::default();
    for (i, header) in chain.iter().enumerate() {
        if let Ok(target) = header.bits.to_target()
            && (i > 0 || chain.len() <= span)
        {
            out.difficulty
                .push((header.index, target.to_work().to_f64()));
        }
        // The genesis time is fixed in the parameters, so the first block's
        // interval says nothing about mining.
        if i > 0 && chain[i - 1].index > 0 {
            let parent = chain[i - 1];
            let ms = header.timestamp.saturating_sub(parent.timestamp);
            out.interval_s.push((header.index, ms as f64 / 1000.0));
        }
    }
    out
}

/// Smallest and largest value, for the axis labels.
pub fn range(points: &[Point]) -> Option<(f64, f64)> {
    let mut values = points.iter().map(|(_, v)| *v);
    let first = values.next()?;
    Some(values.fold((first, first), |(lo, hi), v| (lo.min(v), hi.max(v))))
}

/// An SVG polyline `points` attribute scaling the series into a
/// `width` x `height` box (y grows downwards, so larger values sit higher).
pub fn polyline(points: &[Point], width: f64, height: f64) -> String {
    let (Some((lo, hi)), Some(first), Some(last)) = (range(points), points.first(), points.last())
    else {
        return String::new();
    };
    let span_x = (last.0 - first.0).max(1) as f64;
    let span_y = if hi > lo { hi - lo } else { 1.0 };
    points
        .iter()
        .map(|(x, y)| {
            let px = (x - first.0) as f64 / span_x * width;
            let py = height - (y - lo) / span_y * height;
            format!("{px:.1},{py:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::synthetic_tree;

    #[test]
    fn intervals_follow_the_main_chain() {
        let tree = synthetic_tree(30, 1, 0);
        let series = series(&tree, 10);
        assert_eq!(series.interval_s.len(), 10);
        let whole = super::series(&tree, 100);
        assert_eq!(whole.interval_s.len(), 28, "no interval from genesis");
        assert_eq!(series.difficulty.len(), 10);
        assert!(series.interval_s.iter().all(|(_, s)| *s == 1.0));
        assert_eq!(series.interval_s.last().unwrap().0, 29);
        assert_eq!(range(&series.interval_s), Some((1.0, 1.0)));
        let line = polyline(&[(0, 0.0), (10, 5.0)], 100.0, 50.0);
        assert_eq!(line, "0.0,50.0 100.0,0.0");
    }
}
