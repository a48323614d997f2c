//! What a scenario run measured: one [`Measurement`] per `measure` step,
//! each with the figures since the last reset and its [`Check`]s (a
//! measured figure beside the one theory expects), and the short table
//! printed under the JSON.
//!
//! These bodies are the manager's own (`GET /scenarios/status` and the
//! CLI's stdout), so they live here rather than in `shared`.

use serde::{Deserialize, Serialize};

use super::format::Expect;

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Report {
    pub scenario: String,
    pub nodes: u16,
    pub block_interval_ms: u64,
    /// The network's total hash rate cap the run used, attempts/s.
    pub total_hashrate: u64,
    pub started_at_ms: u64,
    pub finished_at_ms: u64,
    pub measurements: Vec<Measurement>,
}

/// The figures of one `measure` step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Measurement {
    pub label: String,
    pub expect: Expect,
    /// How long the measured stretch took (from the last reset).
    pub elapsed_ms: u64,
    pub blocks_found: u64,
    pub best_chain_blocks: u64,
    pub stale_blocks: u64,
    pub stale_rate: f64,
    pub reorgs: u64,
    pub max_reorg_depth: u64,
    /// Median time for a block to reach 90 % of the nodes, and how many
    /// blocks that median is over.
    pub propagation_p50_ms: u64,
    pub propagation_blocks: u64,
    /// One line per node, in index order.
    pub miners: Vec<MinerFigures>,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MinerFigures {
    pub index: usize,
    pub node: String,
    pub hash_share: f64,
    pub blocks_found: u64,
    pub best_chain_blocks: u64,
    pub stale_blocks: u64,
    pub best_chain_share: f64,
}

/// One figure measured against its expected value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Check {
    pub figure: String,
    pub measured: f64,
    pub expected: f64,
    /// How the expected value was had, or what it rests on.
    pub note: String,
}

impl Report {
    /// Measured against expected, one row per check.
    pub fn table(&self) -> String {
        let mut rows = vec![[
            "measure".to_owned(),
            "figure".to_owned(),
            "measured".to_owned(),
            "expected".to_owned(),
            "note".to_owned(),
        ]];
        for measurement in &self.measurements {
            for check in &measurement.checks {
                rows.push([
                    measurement.label.clone(),
                    check.figure.clone(),
                    format!("{:.4}", check.measured),
                    format!("{:.4}", check.expected),
                    check.note.clone(),
                ]);
            }
        }
        let mut widths = [0usize; 5];
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        for row in &rows {
            let cells: Vec<String> = row
                .iter()
                .zip(widths)
                .map(|(cell, width)| format!("{cell:<width$}"))
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_has_a_row_per_check_under_a_header() {
        let measurement = Measurement {
            label: "100 ms".to_owned(),
            expect: Expect::StaleRate,
            elapsed_ms: 1,
            blocks_found: 10,
            best_chain_blocks: 9,
            stale_blocks: 1,
            stale_rate: 0.1,
            reorgs: 1,
            max_reorg_depth: 1,
            propagation_p50_ms: 100,
            propagation_blocks: 10,
            miners: vec![],
            checks: vec![Check {
                figure: "stale_rate".to_owned(),
                measured: 0.1,
                expected: 0.0952,
                note: "1 - e^(-tau/T)".to_owned(),
            }],
        };
        let report = Report {
            scenario: "s".to_owned(),
            nodes: 2,
            block_interval_ms: 1000,
            total_hashrate: 1,
            started_at_ms: 0,
            finished_at_ms: 1,
            measurements: vec![measurement],
        };
        let table = report.table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2, "{table}");
        assert!(lines[0].starts_with("measure"), "{table}");
        assert!(
            lines[1].contains("0.1000") && lines[1].contains("0.0952"),
            "{table}"
        );
    }
}
