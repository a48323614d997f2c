//! Scenarios: timed experiments on a network of their own, read from a
//! TOML file, run headless, reported as JSON and a table.
//!
//! - [`format`]: the file's steps, parsed and checked with line numbers.
//! - [`runner`]: starts the scenario's network and runs the steps.
//! - [`report`]: the figures taken, what theory expects, the table.
//! - [`jobs`]: a shipped scenario run by the running manager in the
//!   background (`POST /scenarios/run`, `GET /scenarios/status`).

pub mod format;
pub mod jobs;
pub mod report;
pub mod runner;

pub use format::{Scenario, ScenarioError, Step};

use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Why `manager scenario FILE` did not give a report.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    // `error`, not `source`: the message already says it, once.
    #[error("cannot read {path}: {error}")]
    Read { path: String, error: std::io::Error },
    #[error("{path}: {error}")]
    Parse { path: String, error: ScenarioError },
    #[error("cannot make a temporary directory for the nodes: {0}")]
    TempDir(std::io::Error),
    #[error(transparent)]
    Run(#[from] runner::RunError),
}

/// Read, check and run the scenario in `path`; its nodes keep their data
/// in `data_dir`, or in a temporary directory removed afterwards.
pub async fn run_file(
    path: &Path,
    data_dir: Option<PathBuf>,
    node_bin: Option<PathBuf>,
) -> Result<report::Report, FileError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| FileError::Read {
        path: shown.clone(),
        error,
    })?;
    let scenario =
        Scenario::parse(&text).map_err(|error| FileError::Parse { path: shown, error })?;
    let temp;
    let data_dir = match data_dir {
        Some(dir) => dir,
        None => {
            temp = tempfile::tempdir().map_err(FileError::TempDir)?;
            temp.path().to_path_buf()
        }
    };
    let options = runner::RunOptions {
        node_bin: node_bin.unwrap_or_else(crate::config::default_node_bin),
        data_dir,
        progress: Arc::new(|line: &str| eprintln!("scenario: {line}")),
    };
    Ok(runner::run(&scenario, options).await?)
}
