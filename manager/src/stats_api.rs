//! The handlers of the lab's measurements and hash power: `/stats`,
//! `/stats/reset`, `/metrics` and the hash rate commands.
//! [`crate::api::routes`] lists them with the rest, so the router and
//! `/openapi.json` still come from one list.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use shared::api::ErrorBody;
use shared::stats::{HashPowerBody, NetworkHashrateRequest, NetworkStats, NodeHashrateRequest};

use crate::error::{ApiError, AppJson, AppPath};
use crate::metrics::CONTENT_TYPE;
use crate::network::Manager;

#[utoipa::path(
    get, path = "/stats", tag = "lab",
    responses((status = 200, description = "Network metrics since the start or the last reset", body = NetworkStats))
)]
/// Blocks found, stale blocks and rate, reorgs, propagation percentiles,
/// each miner's share, the forks open now and the hash power settings.
pub async fn stats_get(State(manager): State<Manager>) -> Json<NetworkStats> {
    Json(manager.stats().await)
}

#[utoipa::path(
    post, path = "/stats/reset", tag = "lab",
    responses((status = 200, description = "Counting starts again now; the figures, all at zero", body = NetworkStats))
)]
/// Count blocks, reorgs and propagation from now on.
pub async fn stats_reset(State(manager): State<Manager>) -> Json<NetworkStats> {
    Json(manager.reset_stats().await)
}

#[utoipa::path(
    get, path = "/metrics", tag = "lab",
    responses((status = 200, description = "OpenMetrics text: per-node height, blocks found, peers, hash rate; stale rate, reorgs, propagation histograms", body = String, content_type = "application/openmetrics-text"))
)]
/// The node table and the network metrics for Prometheus.
pub async fn metrics_get(State(manager): State<Manager>) -> Response {
    let text = manager.metrics_text().await;
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response()
}

#[utoipa::path(
    get, path = "/network/hashrate", tag = "lab",
    responses((status = 200, description = "The machine's capacity and every node's cap", body = HashPowerBody))
)]
/// What this machine can hash, each running node's cap and share, and on
/// the lab chain the block interval they give.
pub async fn network_hashrate_get(State(manager): State<Manager>) -> Json<HashPowerBody> {
    Json(manager.hash_power())
}

#[utoipa::path(
    post, path = "/network/hashrate", tag = "lab",
    request_body = NetworkHashrateRequest,
    responses(
        (status = 200, description = "Every running node has its cap", body = HashPowerBody),
        (status = 400, description = "A negative or zero total, one over the machine's capacity, an unknown distribution, a share outside [0, 1] or shares over 1; nothing changed", body = ErrorBody),
        (status = 404, description = "A share names no node; nothing changed", body = ErrorBody),
        (status = 409, description = "No node is running", body = ErrorBody),
        (status = 422, description = "JSON without `total`", body = ErrorBody),
        (status = 502, description = "A node did not take its cap", body = ErrorBody),
    )
)]
/// Split `total` attempts/s over the running nodes: `equal` (default),
/// `zipf` (∝ 1/rank in `GET /nodes` order) or explicit shares by node;
/// nodes not named get 0 (a cap of 1 attempt/s).
pub async fn network_hashrate_post(
    State(manager): State<Manager>,
    AppJson(request): AppJson<NetworkHashrateRequest>,
) -> Result<Json<HashPowerBody>, ApiError> {
    Ok(Json(manager.set_network_hashrate(&request).await?))
}

#[utoipa::path(
    post, path = "/nodes/{id}/hashrate", tag = "lab",
    params(("id" = String, Path, description = "Node id, port, or host:port")),
    request_body = NodeHashrateRequest,
    responses(
        (status = 200, description = "The node has its cap", body = HashPowerBody),
        (status = 400, description = "Negative, or the total would exceed the machine's capacity; nothing changed", body = ErrorBody),
        (status = 404, description = "No such node", body = ErrorBody),
        (status = 409, description = "The node is stopped or starting", body = ErrorBody),
        (status = 422, description = "JSON without `attempts_per_sec`", body = ErrorBody),
        (status = 502, description = "The node did not take its cap", body = ErrorBody),
    )
)]
/// Cap one node's miner (0 removes the cap); the others keep theirs.
pub async fn node_hashrate_post(
    State(manager): State<Manager>,
    AppPath(id): AppPath<String>,
    AppJson(request): AppJson<NodeHashrateRequest>,
) -> Result<Json<HashPowerBody>, ApiError> {
    Ok(Json(manager.set_node_hashrate(&id, &request).await?))
}
