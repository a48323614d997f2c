//! The network lab's routes: `GET /network`, `POST /network/topology`,
//! `/network/links`, `/network/partition`, `/network/heal`. Declared here
//! with their OpenAPI operations and listed in [`crate::api::routes`]
//! with the rest.

use axum::Json;
use axum::extract::State;
use shared::api::{
    ErrorBody, NetworkBody, NetworkLinksBody, NetworkLinksRequest, PartitionRequest,
    TopologyRequest,
};

use crate::error::{ApiError, AppJson};
use crate::network::Manager;

#[utoipa::path(
    get, path = "/network", tag = "network",
    responses((status = 200, description = "Every node, every link between them (from both ends' `/peers`), the topology and the partition", body = NetworkBody))
)]
/// The network as a graph: nodes, links with conditions each way, rtt,
/// bytes each way and state; the topology kind; the partition's groups or null.
pub async fn network_get(State(manager): State<Manager>) -> Json<NetworkBody> {
    Json(manager.network().await)
}

#[utoipa::path(
    post, path = "/network/topology", tag = "network",
    request_body = TopologyRequest,
    responses(
        (status = 200, description = "Rewired: missing links dialled, extra ones dropped", body = NetworkBody),
        (status = 409, description = "Partitioned (heal first), or another change is under way", body = ErrorBody),
        (status = 422, description = "Not a topology: full, ring, line, star, random:K (K >= 2) or small-world:K (even K >= 2)", body = ErrorBody),
    )
)]
/// Give the running network a new shape. Nodes added later join it.
pub async fn network_topology_post(
    State(manager): State<Manager>,
    AppJson(request): AppJson<TopologyRequest>,
) -> Result<Json<NetworkBody>, ApiError> {
    Ok(Json(manager.set_topology(request.kind).await?))
}

#[utoipa::path(
    post, path = "/network/links", tag = "network",
    request_body = NetworkLinksRequest,
    responses(
        (status = 200, description = "The links changed, as both ends now report them", body = NetworkLinksBody),
        (status = 400, description = "A negative value, loss outside 0..1, a preset with explicit fields, nothing to change, or a = b", body = ErrorBody),
        (status = 404, description = "No such node, or no link between a and b", body = ErrorBody),
        (status = 409, description = "A node is stopped or starting, or another change is under way", body = ErrorBody),
        (status = 422, description = "Not the expected JSON (e.g. an unknown preset or field)", body = ErrorBody),
    )
)]
/// Set both directions of every link between `a` and `b` (each a node id,
/// port or host:port, or `*` for all). Presets, each way (latency is one
/// way): `lan` 1 ms, 1 Gbit/s; `wan` 40 ± 10 ms, 100 Mbit/s; `global`
/// 150 ± 30 ms, 1% loss, 20 Mbit/s; `lossy` 20 ± 20 ms, 5% loss, 10 Mbit/s.
/// A preset leaves `down` as it is and cannot be mixed with explicit fields.
pub async fn network_links_post(
    State(manager): State<Manager>,
    AppJson(request): AppJson<NetworkLinksRequest>,
) -> Result<Json<NetworkLinksBody>, ApiError> {
    Ok(Json(manager.set_links(&request).await?))
}

#[utoipa::path(
    post, path = "/network/partition", tag = "network",
    request_body = PartitionRequest,
    responses(
        (status = 200, description = "Every link between groups is down", body = NetworkBody),
        (status = 400, description = "An empty group, a node named twice, or fewer than two groups", body = ErrorBody),
        (status = 404, description = "No such node", body = ErrorBody),
        (status = 409, description = "Already partitioned, or another change is under way", body = ErrorBody),
        (status = 422, description = "Not the expected JSON", body = ErrorBody),
    )
)]
/// Split the network: every link between two groups goes down, both ways.
/// The nodes not named form one more group.
pub async fn network_partition_post(
    State(manager): State<Manager>,
    AppJson(request): AppJson<PartitionRequest>,
) -> Result<Json<NetworkBody>, ApiError> {
    Ok(Json(manager.partition(&request).await?))
}

#[utoipa::path(
    post, path = "/network/heal", tag = "network",
    responses(
        (status = 200, description = "The links the partition took down are up again", body = NetworkBody),
        (status = 409, description = "Not partitioned, or another change is under way", body = ErrorBody),
    )
)]
/// End the partition: bring back up exactly the links it took down; a link
/// that was down by hand before stays down.
pub async fn network_heal_post(
    State(manager): State<Manager>,
) -> Result<Json<NetworkBody>, ApiError> {
    Ok(Json(manager.heal().await?))
}
