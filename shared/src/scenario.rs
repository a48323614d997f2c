//! The scenario job's bodies: the shipped scenarios (`GET /scenarios`), a
//! run (`POST /scenarios/run`), and its status and report (`GET
//! /scenarios/status`, and the `manager scenario FILE` CLI's stdout). The
//! explorer reads the very same types.
//!
//! A [`Report`] has one [`Measurement`] per `measure` step, each with the
//! figures since the last reset and its [`Check`]s (a measured figure
//! beside the one theory expects).

use serde::{Deserialize, Serialize};

/// Which theory a measurement is held against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    /// Figures only.
    #[default]
    Nothing,
    /// 1 − e^(−τ/T) against the measured stale rate.
    StaleRate,
    /// The losing side's blocks orphaned, a reorg of its branch's depth.
    Partition,
    /// The attacker's share of the best chain against R(α, γ).
    Selfish,
    /// Whether the double spend won, against the catch-up probability.
    DoubleSpend,
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
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
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Check {
    pub figure: String,
    pub measured: f64,
    pub expected: f64,
    /// How the expected value was had, or what it rests on.
    pub note: String,
}

/// One row of [`Report::rows`]: a check with the label of its measurement.
#[derive(Debug, Clone, PartialEq)]
pub struct TableRow<'a> {
    pub measure: &'a str,
    pub check: &'a Check,
}

impl Report {
    /// Every check, in order, with its measurement's label: the table the
    /// CLI prints and the explorer draws.
    pub fn rows(&self) -> Vec<TableRow<'_>> {
        self.measurements
            .iter()
            .flat_map(|measurement| {
                measurement.checks.iter().map(|check| TableRow {
                    measure: &measurement.label,
                    check,
                })
            })
            .collect()
    }

    /// Measured against expected, one row per check, as plain text.
    pub fn table(&self) -> String {
        let mut rows = vec![[
            "measure".to_owned(),
            "figure".to_owned(),
            "measured".to_owned(),
            "expected".to_owned(),
            "note".to_owned(),
        ]];
        for row in self.rows() {
            rows.push([
                row.measure.to_owned(),
                row.check.figure.clone(),
                format!("{:.4}", row.check.measured),
                format!("{:.4}", row.check.expected),
                row.check.note.clone(),
            ]);
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

/// A shipped scenario, as `GET /scenarios` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScenarioInfo {
    pub name: String,
    pub description: String,
    pub nodes: u16,
    pub block_interval_ms: u64,
    /// Its steps, and the blocks its `mine` steps mine in all.
    pub steps: usize,
    pub blocks: u64,
    /// The largest `mine` step: a `blocks` setting of a run at or above
    /// it changes nothing.
    pub max_mine_blocks: u64,
}

/// `GET /scenarios`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScenariosBody {
    pub scenarios: Vec<ScenarioInfo>,
}

/// The most blocks a run's `blocks` setting may name.
pub const MAX_RUN_BLOCKS: u64 = 10_000;

/// `POST /scenarios/run`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ScenarioRunRequest {
    /// A shipped scenario (see `GET /scenarios`).
    pub name: String,
    /// A shorter run: each `mine` step mines at most this many blocks
    /// (1 to 10000); none runs the file as shipped.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 10000))]
    pub blocks: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// No scenario has run since the manager started.
    #[default]
    Idle,
    Running,
    Done,
    Failed,
}

/// `GET /scenarios/status`: the running or last scenario job.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ScenarioStatusBody {
    pub state: JobState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The `blocks` setting the job runs with, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocks: Option<u64>,
    /// Steps begun so far, of `steps` (0 of 0 while idle).
    #[serde(default)]
    pub step: usize,
    #[serde(default)]
    pub steps: usize,
    /// The job's progress lines, oldest first (the last 200).
    pub progress: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The step number a runner's progress line begins (`"[3/17] mine …"` is
/// 3 of 17).
pub fn step_of(line: &str) -> Option<(usize, usize)> {
    let inner = line.strip_prefix('[')?.split_once(']')?.0;
    let (step, steps) = inner.split_once('/')?;
    Some((step.parse().ok()?, steps.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
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
        Report {
            scenario: "s".to_owned(),
            nodes: 2,
            block_interval_ms: 1000,
            total_hashrate: 1,
            started_at_ms: 0,
            finished_at_ms: 1,
            measurements: vec![measurement],
        }
    }

    #[test]
    fn the_table_has_a_row_per_check_under_a_header() {
        let table = report().table();
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 2, "{table}");
        assert!(lines[0].starts_with("measure"), "{table}");
        assert!(
            lines[1].contains("0.1000") && lines[1].contains("0.0952"),
            "{table}"
        );
    }

    #[test]
    fn rows_carry_their_measurements_label() {
        let report = report();
        let rows = report.rows();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].measure, "100 ms");
        assert_eq!(rows[0].check.figure, "stale_rate");
    }

    #[test]
    fn a_report_survives_json() {
        let report = report();
        let json = serde_json::to_string(&report).unwrap();
        assert!(json.contains("\"expect\":\"stale_rate\""), "{json}");
        assert_eq!(serde_json::from_str::<Report>(&json).unwrap(), report);
    }

    #[test]
    fn a_run_request_takes_an_optional_block_count_and_nothing_else() {
        let plain: ScenarioRunRequest = serde_json::from_str(r#"{"name":"selfish"}"#).unwrap();
        assert_eq!(plain.blocks, None);
        let short: ScenarioRunRequest =
            serde_json::from_str(r#"{"name":"selfish","blocks":5}"#).unwrap();
        assert_eq!(short.blocks, Some(5));
        assert!(serde_json::from_str::<ScenarioRunRequest>(r#"{"name":"x","speed":2}"#).is_err());
        assert!(serde_json::from_str::<ScenarioRunRequest>(r#"{"name":"x","blocks":-1}"#).is_err());
    }

    #[test]
    fn the_step_is_read_from_a_progress_line() {
        assert_eq!(step_of("[3/17] mine 40 blocks"), Some((3, 17)));
        assert_eq!(step_of("[17/17] measure \"x\""), Some((17, 17)));
        assert_eq!(step_of("starting 5 nodes"), None);
        assert_eq!(step_of("[a/2] x"), None);
        assert_eq!(step_of("[3] x"), None);
    }

    #[test]
    fn an_older_status_without_steps_still_reads() {
        let status: ScenarioStatusBody =
            serde_json::from_str(r#"{"state":"running","name":"x","progress":[]}"#).unwrap();
        assert_eq!((status.step, status.steps), (0, 0));
    }
}
