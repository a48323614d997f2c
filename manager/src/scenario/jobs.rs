//! `GET /scenarios`, `POST /scenarios/run` and `GET /scenarios/status`: a shipped scenario
//! run by the running manager as a background job. A scenario names its
//! own network size and chain, so the job starts nodes of its own (on
//! OS-chosen ports, under `<data-dir>/scenario-<name>`, removed after) and
//! leaves the manager's network alone; its progress lines and, at the end,
//! its report or its error are kept for the status.

use std::sync::{Arc, Mutex};

pub use shared::scenario::{JobState, ScenarioRunRequest, ScenarioStatusBody};
use shared::scenario::{MAX_RUN_BLOCKS, ScenarioInfo, step_of};

use super::format::Scenario;
use super::runner::{self, RunOptions};
use crate::error::ApiError;
use crate::network::Manager;

/// The files of `manager/scenarios/`, built in so the binary runs them
/// from anywhere.
pub const SHIPPED: [(&str, &str); 5] = [
    (
        "stale-rate",
        include_str!("../../scenarios/stale-rate.toml"),
    ),
    (
        "partition-heal",
        include_str!("../../scenarios/partition-heal.toml"),
    ),
    ("selfish", include_str!("../../scenarios/selfish.toml")),
    (
        "selfish-connected",
        include_str!("../../scenarios/selfish-connected.toml"),
    ),
    (
        "double-spend",
        include_str!("../../scenarios/double-spend.toml"),
    ),
];

/// Progress lines kept for the status; older ones are dropped.
const KEPT_LINES: usize = 200;

/// The job's status, shared with its task; never held across an `.await`.
#[derive(Debug, Default)]
pub struct Jobs(Arc<Mutex<ScenarioStatusBody>>);

fn lock(status: &Mutex<ScenarioStatusBody>) -> std::sync::MutexGuard<'_, ScenarioStatusBody> {
    status.lock().unwrap_or_else(|poison| poison.into_inner())
}

impl Manager {
    /// `POST /scenarios/run`: start the job, or say why not.
    pub fn run_scenario(
        &self,
        request: &ScenarioRunRequest,
    ) -> Result<ScenarioStatusBody, ApiError> {
        self.check_open()?;
        let Some((name, text)) = SHIPPED.iter().find(|(name, _)| *name == request.name) else {
            let names: Vec<&str> = SHIPPED.iter().map(|(name, _)| *name).collect();
            return Err(ApiError::UnknownScenario(format!(
                "no scenario {:?}; the shipped ones are {}",
                request.name,
                names.join(", ")
            )));
        };
        let mut scenario = Scenario::parse(text).map_err(|err| {
            ApiError::Conflict(format!("the shipped {name} does not parse: {err}"))
        })?;
        if let Some(blocks) = request.blocks {
            if !(1..=MAX_RUN_BLOCKS).contains(&blocks) {
                return Err(ApiError::bad_request(format!(
                    "blocks = {blocks}: each mine step mines 1 to {MAX_RUN_BLOCKS} blocks"
                )));
            }
            scenario = scenario.with_mine_blocks_at_most(blocks);
        }
        let steps = scenario.steps.len();
        let status = self.inner.scenarios.0.clone();
        {
            let mut current = lock(&status);
            if current.state == JobState::Running {
                return Err(ApiError::Conflict(format!(
                    "scenario {} is running; see GET /scenarios/status",
                    current.name.as_deref().unwrap_or("?")
                )));
            }
            *current = ScenarioStatusBody {
                state: JobState::Running,
                name: Some((*name).to_owned()),
                blocks: request.blocks,
                steps,
                ..Default::default()
            };
        }
        let data_dir = self.inner.data_dir.join(format!("scenario-{name}"));
        let lines = status.clone();
        let options = RunOptions {
            node_bin: self.inner.program.bin.clone(),
            data_dir: data_dir.clone(),
            progress: Arc::new(move |line: &str| {
                tracing::info!("scenario: {line}");
                let mut current = lock(&lines);
                if current.progress.len() >= KEPT_LINES {
                    current.progress.remove(0);
                }
                current.progress.push(line.to_owned());
                if let Some((step, _)) = step_of(line) {
                    current.step = step;
                }
            }),
        };
        let shutdown = self.shutdown_signal().clone();
        tokio::spawn(async move {
            let outcome = tokio::select! {
                outcome = runner::run(&scenario, options) => outcome.map_err(|err| err.to_string()),
                _ = shutdown.cancelled() => Err("the manager is shutting down".to_owned()),
            };
            let _ = tokio::fs::remove_dir_all(&data_dir).await;
            let mut current = lock(&status);
            match outcome {
                Ok(report) => {
                    current.state = JobState::Done;
                    current.report = Some(report);
                }
                Err(error) => {
                    current.state = JobState::Failed;
                    current.error = Some(error);
                }
            }
        });
        Ok(self.scenario_status())
    }

    /// `GET /scenarios`: the shipped scenarios, in the order they ship.
    pub fn shipped_scenarios(&self) -> Result<Vec<ScenarioInfo>, ApiError> {
        SHIPPED
            .iter()
            .map(|(name, text)| {
                Scenario::parse(text).map(|s| s.info()).map_err(|err| {
                    ApiError::Conflict(format!("the shipped {name} does not parse: {err}"))
                })
            })
            .collect()
    }

    /// `GET /scenarios/status`.
    pub fn scenario_status(&self) -> ScenarioStatusBody {
        lock(&self.inner.scenarios.0).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_shipped_scenario_parses_under_its_name() {
        for (name, text) in SHIPPED {
            let scenario = Scenario::parse(text).unwrap_or_else(|err| panic!("{name}: {err}"));
            assert_eq!(scenario.name, name);
        }
    }
}
