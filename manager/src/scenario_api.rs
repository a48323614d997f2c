//! The handlers of `GET /scenarios`, `POST /scenarios/run` and
//! `GET /scenarios/status`
//! ([`crate::scenario::jobs`] does the work); [`crate::api::routes`] lists
//! them with every other route.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use shared::api::ErrorBody;

use crate::error::{ApiError, AppJson};
use crate::network::Manager;
use shared::scenario::{ScenarioRunRequest, ScenarioStatusBody, ScenariosBody};

#[utoipa::path(
    post, path = "/scenarios/run", tag = "scenarios",
    request_body = ScenarioRunRequest,
    responses(
        (status = 202, description = "The scenario runs in the background on nodes of its own; follow GET /scenarios/status", body = ScenarioStatusBody),
        (status = 400, description = "A `blocks` setting out of range", body = ErrorBody),
        (status = 404, description = "No shipped scenario of that name", body = ErrorBody),
        (status = 409, description = "A scenario is already running", body = ErrorBody),
        (status = 422, description = "Not the expected JSON", body = ErrorBody),
    )
)]
/// Run a shipped scenario (stale-rate, partition-heal, selfish,
/// double-spend) as a background job; `blocks` makes a shorter run, each
/// `mine` step mining at most that many. It starts its own nodes (its own
/// size and lab chain) beside the manager's network, which it leaves alone;
/// they share this machine's cores, so stop mining first for clean figures.
pub async fn scenarios_run_post(
    State(manager): State<Manager>,
    AppJson(request): AppJson<ScenarioRunRequest>,
) -> Result<(StatusCode, Json<ScenarioStatusBody>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(manager.run_scenario(&request)?)))
}

#[utoipa::path(
    get, path = "/scenarios/status", tag = "scenarios",
    responses((status = 200, description = "The running or last scenario job: its progress lines, then its report or error", body = ScenarioStatusBody))
)]
/// The scenario job: idle, running (with progress), done (with the report)
/// or failed (with the error).
pub async fn scenarios_status_get(State(manager): State<Manager>) -> Json<ScenarioStatusBody> {
    Json(manager.scenario_status())
}

#[utoipa::path(
    get, path = "/scenarios", tag = "scenarios",
    responses((status = 200, description = "The shipped scenarios POST /scenarios/run runs", body = ScenariosBody))
)]
/// The shipped scenarios: name, description, network and blocks mined.
pub async fn scenarios_get(
    State(manager): State<Manager>,
) -> Result<Json<ScenariosBody>, ApiError> {
    Ok(Json(ScenariosBody {
        scenarios: manager.shipped_scenarios()?,
    }))
}
