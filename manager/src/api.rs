//! The manager's HTTP API: the seed's `/start/mining`, `/stop/mining` and
//! `/shutdown/all`, the node table, per-node commands proxied to the nodes,
//! the merged `/events` stream and `/openapi.json`. Each handler is a few
//! lines that call into [`Manager`].

use std::path::Path;

use axum::extract::{Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use shared::api::{
    AttachRequest, ChainBody, ErrorBody, MessageBody, MinedBody, NodeSummary, NodesBody,
    ShutdownReport, StatusBody, TipsBody,
};
use shared::events::Event;
use shared::{Block, BlockHash};
use tower_http::cors::{Any, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;
use utoipa::{IntoParams, OpenApi};

use crate::error::{ApiError, AppJson, AppPath, AppQuery, json_errors};
use crate::events;
use crate::mining::{MiningPlan, MiningQuery};
use crate::network::Manager;
use crate::statics;

/// No request to the manager carries more than a small JSON object.
const BODY_LIMIT: usize = 64 * 1024;

/// The whole web server: API, event stream, explorer files.
pub fn app(manager: Manager, explorer_dir: &Path) -> Router {
    let commands = Router::new()
        .route("/start/mining", get(mining_start))
        .route("/stop/mining", get(mining_stop))
        .route("/shutdown/all", get(shutdown_all))
        .route("/nodes", post(nodes_post))
        .route("/nodes/attach", post(nodes_attach))
        .route("/nodes/{id}/mine", post(node_mine))
        .route("/nodes/{id}/mining/start", post(node_mining_start))
        .route("/nodes/{id}/mining/stop", post(node_mining_stop))
        .route("/nodes/{id}/isolate", post(node_isolate))
        .route("/nodes/{id}/reconnect", post(node_reconnect))
        .route("/nodes/{id}/shutdown", post(node_shutdown))
        .route("/nodes/{id}/restart", post(node_restart))
        .route_layer(middleware::from_fn_with_state(
            manager.clone(),
            require_token,
        ));
    let reads = Router::new()
        .route("/nodes", get(nodes_get))
        .route("/nodes/{id}/chain", get(node_chain))
        .route("/nodes/{id}/status", get(node_status))
        .route("/nodes/{id}/tips", get(node_tips))
        .route("/nodes/{id}/blocks/{hash}", get(node_block))
        .route("/events", get(events_get))
        .route("/openapi.json", get(openapi_get));
    commands
        .merge(reads)
        .with_state(manager)
        .merge(statics::router(explorer_dir))
        .layer(RequestBodyLimitLayer::new(BODY_LIMIT))
        .layer(middleware::map_response(json_errors))
        // A local playground: the explorer may come from trunk's dev server
        // on another port.
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods(Any)
                .allow_headers(Any),
        )
        // Failed requests are logged once, by `ApiError`.
        .layer(TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(Level::DEBUG)))
}

/// When the manager binds beyond loopback, commands need its token.
async fn require_token(
    State(manager): State<Manager>,
    headers: HeaderMap,
    request: Request,
    next: Next,
) -> Response {
    if let Some(token) = manager.token() {
        let presented = headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "));
        if presented != Some(token) {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(request).await
}

#[utoipa::path(
    get, path = "/start/mining", tag = "network",
    params(MiningQuery),
    responses(
        (status = 202, description = "Mining goes on in the background", body = MessageBody),
        (status = 400, description = "Bad mode or blocks", body = ErrorBody),
    )
)]
/// Start mining in the background: rounds of `/mine` requests every 1–3 s,
/// or every node's miner with `mode=continuous`; `blocks=N` stops after N
/// network blocks.
async fn mining_start(
    State(manager): State<Manager>,
    AppQuery(query): AppQuery<MiningQuery>,
) -> (StatusCode, Json<MessageBody>) {
    let body = manager.start_mining(query.mode.unwrap_or(MiningPlan::Rounds), query.blocks);
    (StatusCode::ACCEPTED, Json(body))
}

#[utoipa::path(
    get, path = "/stop/mining", tag = "network",
    responses((status = 200, description = "The job and every node's miner stopped", body = MessageBody))
)]
/// Stop both kinds of mining.
async fn mining_stop(State(manager): State<Manager>) -> Json<MessageBody> {
    Json(manager.stop_mining().await)
}

#[utoipa::path(
    get, path = "/shutdown/all", tag = "network",
    responses((status = 200, description = "Every node process has exited; the manager stops next", body = ShutdownReport))
)]
/// Shut down every node, wait until each process has exited (killing any
/// that does not within ~5 s), then stop the manager.
async fn shutdown_all(State(manager): State<Manager>) -> Json<ShutdownReport> {
    let report = manager.shutdown_all().await;
    // The server finishes this response before it stops.
    manager.shutdown_signal().cancel();
    Json(report)
}

#[utoipa::path(
    get, path = "/nodes", tag = "nodes",
    responses((status = 200, description = "Every node the manager knows", body = NodesBody))
)]
/// Every node with its address, id, pid, state, height, best hash and mining switch.
async fn nodes_get(State(manager): State<Manager>) -> Json<NodesBody> {
    Json(NodesBody {
        nodes: manager.registry().summaries(),
    })
}

#[utoipa::path(
    post, path = "/nodes", tag = "nodes",
    responses(
        (status = 201, description = "The node runs and is registered with all, all with it", body = NodeSummary),
        (status = 502, description = "The node did not start", body = ErrorBody),
    )
)]
/// Spawn one more node and register it with the network.
async fn nodes_post(
    State(manager): State<Manager>,
) -> Result<(StatusCode, Json<NodeSummary>), ApiError> {
    Ok((StatusCode::CREATED, Json(manager.add_node().await?)))
}

#[utoipa::path(
    post, path = "/nodes/attach", tag = "nodes",
    request_body = AttachRequest,
    responses(
        (status = 201, description = "The node joined the network", body = NodeSummary),
        (status = 400, description = "Not JSON, or not host:port", body = ErrorBody),
        (status = 409, description = "Already in the network", body = ErrorBody),
        (status = 422, description = "JSON without `address`", body = ErrorBody),
        (status = 502, description = "Nothing answers /node/id there", body = ErrorBody),
    )
)]
/// Add a node that already runs elsewhere.
async fn nodes_attach(
    State(manager): State<Manager>,
    AppJson(request): AppJson<AttachRequest>,
) -> Result<(StatusCode, Json<NodeSummary>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(manager.attach(&request.address).await?),
    ))
}

#[utoipa::path(
    post, path = "/nodes/{id}/mine", tag = "node",
    params(("id" = String, Path, description = "Node id, port, or host:port")),
    responses(
        (status = 200, description = "The block the node mined", body = MinedBody),
        (status = 404, description = "No such node", body = ErrorBody),
        (status = 502, description = "The node did not answer", body = ErrorBody),
    )
)]
/// Have the node mine one block on its best tip.
async fn node_mine(
    State(manager): State<Manager>,
    AppPath(id): AppPath<String>,
) -> Result<Json<MinedBody>, ApiError> {
    let (_, address) = manager.resolve(&id)?;
    Ok(Json(manager.client().mine(&address).await?))
}

/// Send a bodiless command to the node, then read its status so `/nodes`
/// shows the change at once.
async fn node_command(manager: &Manager, id: &str, path: &str) -> Result<MessageBody, ApiError> {
    let (slot, address) = manager.resolve(id)?;
    let answer = manager.client().command(&address, path).await?;
    manager.refresh(slot).await;
    Ok(answer)
}

#[utoipa::path(
    post, path = "/nodes/{id}/mining/start", tag = "node",
    params(("id" = String, Path, description = "Node id, port, or host:port")),
    responses(
        (status = 200, description = "Continuous mining is on", body = MessageBody),
        (status = 404, description = "No such node", body = ErrorBody),
        (status = 502, description = "The node did not answer", body = ErrorBody),
    )
)]
async fn node_mining_start(
    State(manager): State<Manager>,
    AppPath(id): AppPath<String>,
) -> Result<Json<MessageBody>, ApiError> {
    Ok(Json(node_command(&manager, &id, "/mining/start").await?))
}

#[utoipa::path(
    post, path = "/nodes/{id}/mining/stop", tag = "node",
    params(("id" = String, Path, description = "Node id, port, or host:port")),
    responses(
        (status = 200, description = "Continuous mining is off", body = MessageBody),
        (status = 404, description = "No such node", body = ErrorBody),
        (status = 502, description = "The node did not answer", body = ErrorBody),
    )
)]
async fn node_mining_stop(
    State(manager): State<Manager>,
    AppPath(id): AppPath<String>,
) -> Result<Json<MessageBody>, ApiError> {
    Ok(Json(node_command(&manager, &id, "/mining/stop").await?))
}

#[utoipa::path(
    post, path = "/nodes/{id}/isolate", tag = "node",
    params(("id" = String, Path, description = "Node id, port, or host:port")),
    responses(
        (status = 200, description = "The node drops and ignores its peers", body = MessageBody),
        (status = 404, description = "No such node", body = ErrorBody),
        (status = 502, description = "The node did not answer", body = ErrorBody),
    )
)]
/// Cut the node off from its peers: a one-click partition.
async fn node_isolate(
    State(manager): State<Manager>,
    AppPath(id): AppPath<String>,
) -> Result<Json<MessageBody>, ApiError> {
    Ok(Json(node_command(&manager, &id, "/network/isolate").await?))
}

#[utoipa::path(
    post, path = "/nodes/{id}/reconnect", tag = "node",
    params(("id" = String, Path, description = "Node id, port, or host:port")),
    responses(
        (status = 200, description = "The node has its peers back", body = MessageBody),
        (status = 404, description = "No such node", body = ErrorBody),
        (status = 502, description = "The node did not answer", body = ErrorBody),
    )
)]
/// End the node's isolation.
async fn node_reconnect(
    State(manager): State<Manager>,
    AppPath(id): AppPath<String>,
) -> Result<Json<MessageBody>, ApiError> {
    Ok(Json(
        node_command(&manager, &id, "/network/reconnect").await?,
    ))
}

#[utoipa::path(
    post, path = "/nodes/{id}/shutdown", tag = "node",
    params(("id" = String, Path, description = "Node id, port, or host:port")),
    responses(
        (status = 200, description = "The node's process has exited", body = MessageBody),
        (status = 404, description = "No such node", body = ErrorBody),
        (status = 409, description = "Already stopped, or busy", body = ErrorBody),
    )
)]
/// Shut the node down and wait for its process to exit.
async fn node_shutdown(
    State(manager): State<Manager>,
    AppPath(id): AppPath<String>,
) -> Result<Json<MessageBody>, ApiError> {
    let slot = manager.find(&id)?;
    let stopped = manager.stop_node(slot).await?;
    Ok(Json(MessageBody {
        message: format!("node {} stopped ({})", stopped.address, stopped.outcome),
    }))
}

#[utoipa::path(
    post, path = "/nodes/{id}/restart", tag = "node",
    params(("id" = String, Path, description = "Node id, port, or host:port")),
    responses(
        (status = 200, description = "The node answers again, with the chain it had", body = NodeSummary),
        (status = 404, description = "No such node", body = ErrorBody),
        (status = 409, description = "Attached (not ours to start), or busy", body = ErrorBody),
        (status = 502, description = "It did not come back", body = ErrorBody),
    )
)]
/// Stop the node if it runs and start it again on the same port and data directory.
async fn node_restart(
    State(manager): State<Manager>,
    AppPath(id): AppPath<String>,
) -> Result<Json<NodeSummary>, ApiError> {
    let slot = manager.find(&id)?;
    Ok(Json(manager.restart(slot).await?))
}

/// `from` and `limit` page the chain by height.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ChainQuery {
    from: Option<u64>,
    limit: Option<u64>,
}

#[utoipa::path(
    get, path = "/nodes/{id}/chain", tag = "node",
    params(("id" = String, Path, description = "Node id, port, or host:port"), ChainQuery),
    responses(
        (status = 200, description = "The node's best chain, or a page of it", body = ChainBody),
        (status = 404, description = "No such node", body = ErrorBody),
        (status = 502, description = "The node did not answer", body = ErrorBody),
    )
)]
async fn node_chain(
    State(manager): State<Manager>,
    AppPath(id): AppPath<String>,
    AppQuery(query): AppQuery<ChainQuery>,
) -> Result<Json<ChainBody>, ApiError> {
    let (_, address) = manager.resolve(&id)?;
    let chain = manager
        .client()
        .chain(&address, query.from, query.limit)
        .await?;
    Ok(Json(chain))
}

#[utoipa::path(
    get, path = "/nodes/{id}/status", tag = "node",
    params(("id" = String, Path, description = "Node id, port, or host:port")),
    responses(
        (status = 200, description = "The node's own status", body = StatusBody),
        (status = 404, description = "No such node", body = ErrorBody),
        (status = 502, description = "The node did not answer", body = ErrorBody),
    )
)]
async fn node_status(
    State(manager): State<Manager>,
    AppPath(id): AppPath<String>,
) -> Result<Json<StatusBody>, ApiError> {
    let (_, address) = manager.resolve(&id)?;
    Ok(Json(manager.client().status(&address).await?))
}

#[utoipa::path(
    get, path = "/nodes/{id}/tips", tag = "node",
    params(("id" = String, Path, description = "Node id, port, or host:port")),
    responses(
        (status = 200, description = "The node's chain tips", body = TipsBody),
        (status = 404, description = "No such node", body = ErrorBody),
        (status = 502, description = "The node did not answer", body = ErrorBody),
    )
)]
async fn node_tips(
    State(manager): State<Manager>,
    AppPath(id): AppPath<String>,
) -> Result<Json<TipsBody>, ApiError> {
    let (_, address) = manager.resolve(&id)?;
    Ok(Json(manager.client().tips(&address).await?))
}

#[utoipa::path(
    get, path = "/nodes/{id}/blocks/{hash}", tag = "node",
    params(
        ("id" = String, Path, description = "Node id, port, or host:port"),
        ("hash" = String, Path, description = "Block hash, 64 hex digits"),
    ),
    responses(
        (status = 200, description = "The block", body = Block),
        (status = 400, description = "Not a block hash", body = ErrorBody),
        (status = 404, description = "No such node, or the node lacks the block", body = ErrorBody),
        (status = 502, description = "The node did not answer", body = ErrorBody),
    )
)]
async fn node_block(
    State(manager): State<Manager>,
    AppPath((id, hash)): AppPath<(String, String)>,
) -> Result<Json<Block>, ApiError> {
    let hash: BlockHash = hash.parse().map_err(|_| {
        ApiError::bad_request(format!("{hash:?} is not a block hash (64 hex digits)"))
    })?;
    let (_, address) = manager.resolve(&id)?;
    Ok(Json(manager.client().block(&address, &hash).await?))
}

#[utoipa::path(
    get, path = "/events", tag = "events",
    responses((status = 101, description = "WebSocket: one `Event` JSON per text message; a `snapshot` first, then every node's events (tagged with the node id) and the manager's", body = Event))
)]
/// The merged event stream of the whole network.
async fn events_get(State(manager): State<Manager>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| async move {
        // Subscribe before taking the snapshot, so nothing falls between them.
        let events = manager.subscribe();
        let snapshot = manager.snapshot().await;
        let shutdown = manager.shutdown_signal().clone();
        events::serve_subscriber(socket, events, snapshot, shutdown).await
    })
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "powplay manager",
        description = "Starts, drives and stops a network of proof-of-work nodes; one API and one event stream for all of them."
    ),
    paths(
        mining_start,
        mining_stop,
        shutdown_all,
        nodes_get,
        nodes_post,
        nodes_attach,
        node_mine,
        node_mining_start,
        node_mining_stop,
        node_isolate,
        node_reconnect,
        node_shutdown,
        node_restart,
        node_chain,
        node_status,
        node_tips,
        node_block,
        events_get,
        openapi_get,
    ),
    components(schemas(MiningPlan))
)]
pub struct ApiDoc;

#[utoipa::path(
    get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "This document"))
)]
async fn openapi_get() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
