//! The handlers of `/attacks`, `/attacks/stop` and `GET /attacks`
//! ([`crate::attacks`] does the work); [`crate::api::routes`] lists them
//! with every other route.

use axum::Json;
use axum::extract::State;
use shared::api::ErrorBody;
use shared::attack::{AttackRequest, AttacksBody};

use crate::error::{ApiError, AppJson};
use crate::network::Manager;

#[utoipa::path(
    post, path = "/attacks", tag = "attacks",
    request_body = AttackRequest,
    responses(
        (status = 200, description = "The attack runs: the node has its strategy and its share of the hash power", body = AttacksBody),
        (status = 400, description = "A share outside (0, 1), or a parameter the kind needs is missing or unknown", body = ErrorBody),
        (status = 404, description = "No such node", body = ErrorBody),
        (status = 409, description = "An attack is already running, the node is not up, or the network has no hash rate cap to share", body = ErrorBody),
        (status = 422, description = "Not the expected JSON (e.g. an unknown kind or field)", body = ErrorBody),
    )
)]
/// Start an attack: `kind` (`selfish`, `private` with `confirmations`,
/// `timestamp` with `mode`, `forger` with `rule`) on `node`, which gets
/// `hashrate_share` of the current total; the other nodes split the rest
/// equally.
pub async fn attacks_post(
    State(manager): State<Manager>,
    AppJson(request): AppJson<AttackRequest>,
) -> Result<Json<AttacksBody>, ApiError> {
    Ok(Json(manager.start_attack(&request).await?))
}

#[utoipa::path(
    post, path = "/attacks/stop", tag = "attacks",
    responses(
        (status = 200, description = "The attacker is honest again and every cap is back; the attack's last figures", body = AttacksBody),
        (status = 409, description = "No attack is running", body = ErrorBody),
    )
)]
/// End the attack: the node honest again, the hash power as before.
pub async fn attacks_stop_post(
    State(manager): State<Manager>,
) -> Result<Json<AttacksBody>, ApiError> {
    Ok(Json(manager.stop_attack().await?))
}

#[utoipa::path(
    get, path = "/attacks", tag = "attacks",
    responses((status = 200, description = "The running (or last) attack's figures since it began", body = AttacksBody))
)]
/// The attacker's share of the best chain since the start against its hash
/// share, honest blocks orphaned, the paid entry's fate (`private`),
/// rejections by rule and by node, bans.
pub async fn attacks_get(State(manager): State<Manager>) -> Json<AttacksBody> {
    Json(manager.attack_figures().await)
}
