//! The manager's HTTP API: the seed's `/start/mining`, `/stop/mining` and
//! `/shutdown/all`, the node table, per-node commands proxied to the nodes,
//! the merged `/events` stream and `/openapi.json`. Each handler is a few
//! lines that call into [`Manager`].
//!
//! Every route is declared once, in [`routes()`]: `utoipa-axum` builds the
//! router and the OpenAPI document from the same list, so neither can name
//! a path the other lacks.

use std::path::Path;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Extension, State, WebSocketUpgrade};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use node::bearer::BEARER;
use node::openapi;
use serde::Deserialize;
use shared::api::{
    AttachRequest, ChainBody, ErrorBody, MessageBody, MinedBody, NodeSummary, NodesBody,
    ShutdownReport, StatusBody, TipsBody,
};
use shared::events::Event;
use shared::{Block, BlockHash};
use tower_http::cors::{Any, CorsLayer};
use tower_http::trace::{DefaultOnFailure, TraceLayer};
use tracing::Level;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::{IntoParams, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::attack_api;
use crate::auth;
use crate::error::{ApiError, AppJson, AppPath, AppQuery, json_errors};
use crate::events;
use crate::lab_api;
use crate::mining::{MiningPlan, MiningQuery};
use crate::network::Manager;
use crate::scenario_api;
use crate::statics;
use crate::stats_api;

/// No request to the manager carries more than a small JSON object.
pub const BODY_LIMIT: usize = 64 * 1024;
/// The security schemes of the document, named as the operations cite them.
const ACCESS_TOKEN: &str = "access_token";
const WHY_401: &str = "The manager has a token and the request did not carry it";

/// The whole web server: API, event stream, explorer files.
pub fn app(manager: Manager, explorer_dir: &Path) -> Router {
    let (api, document) = routes(&manager).split_for_parts();
    api.layer(Extension(Arc::new(document)))
        // Bodies are read as JSON whatever type the client names, as the
        // node reads them (`curl -d` says form-urlencoded).
        .layer(middleware::map_request(node::api::bodies_are_json))
        .with_state(manager)
        .merge(statics::router(explorer_dir))
        // Refused as the body is read, as the node does: a refusal at the
        // headers, before a byte of the body, closed the connection while
        // the client was still sending, and it saw a reset, not the 413.
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::map_response(json_errors))
        // A local playground: the explorer may come from trunk's dev server
        // on another port. `Authorization` is named, since a wildcard does
        // not cover it (Fetch standard).
        .layer(
            CorsLayer::new()
                .allow_origin(Any)
                .allow_methods(Any)
                .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]),
        )
        // Failed requests are logged once, by `ApiError`.
        .layer(TraceLayer::new_for_http().on_failure(DefaultOnFailure::new().level(Level::DEBUG)))
}

/// Every route of the API with its documentation. Commands need the token
/// (if the manager has one) in the `Authorization` header, `/events` there
/// or in `access_token`; the document says so for exactly those routes.
pub fn routes(manager: &Manager) -> OpenApiRouter<Manager> {
    let commands = OpenApiRouter::new()
        .routes(routes!(mining_start))
        .routes(routes!(mining_stop))
        .routes(routes!(shutdown_all))
        .routes(routes!(nodes_post))
        .routes(routes!(nodes_attach))
        .routes(routes!(node_mine))
        .routes(routes!(node_mining_start))
        .routes(routes!(node_mining_stop))
        .routes(routes!(node_isolate))
        .routes(routes!(node_reconnect))
        .routes(routes!(node_shutdown))
        .routes(routes!(node_restart))
        // The lab's measurements and hash power.
        .routes(routes!(stats_api::stats_reset))
        .routes(routes!(stats_api::network_hashrate_post))
        .routes(routes!(stats_api::node_hashrate_post))
        // The network lab.
        .routes(routes!(lab_api::network_topology_post))
        .routes(routes!(lab_api::network_links_post))
        .routes(routes!(lab_api::network_partition_post))
        .routes(routes!(lab_api::network_heal_post))
        // Attacks.
        .routes(routes!(attack_api::attacks_post))
        .routes(routes!(attack_api::attacks_stop_post))
        .routes(routes!(scenario_api::scenarios_run_post))
        .route_layer(middleware::from_fn_with_state(
            manager.clone(),
            auth::require_bearer,
        ));
    let events = OpenApiRouter::new()
        .routes(routes!(events_get))
        .route_layer(middleware::from_fn_with_state(
            manager.clone(),
            auth::require_bearer_or_query,
        ));
    let reads = OpenApiRouter::new()
        .routes(routes!(nodes_get))
        .routes(routes!(node_chain))
        .routes(routes!(node_status))
        .routes(routes!(node_tips))
        .routes(routes!(node_block))
        .routes(routes!(lab_api::network_get))
        .routes(routes!(openapi_get))
        // The lab's measurements and hash power.
        .routes(routes!(stats_api::stats_get))
        .routes(routes!(stats_api::metrics_get))
        .routes(routes!(stats_api::network_hashrate_get))
        // Attacks.
        .routes(routes!(attack_api::attacks_get))
        .routes(routes!(scenario_api::scenarios_status_get))
        .routes(routes!(scenario_api::scenarios_get));
    let mut all = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(openapi::guarded(commands, &[BEARER], WHY_401))
        .merge(openapi::guarded(events, &[BEARER, ACCESS_TOKEN], WHY_401))
        .merge(reads);
    openapi::add_bearer_scheme(all.get_openapi_mut());
    openapi::document_refusals(all.get_openapi_mut());
    all.get_openapi_mut()
        .components
        .get_or_insert_default()
        .add_security_scheme(
            ACCESS_TOKEN,
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new(ACCESS_TOKEN))),
        );
    all
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
        nodes: manager.node_summaries(),
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

/// Declares a handler of `/nodes/{id}/...` with its OpenAPI operation: it
/// answers 200 with `$body`, 404 for an unknown node, and the `errors`
/// listed (by default 502, the node did not answer). `$manager` and `$id`
/// name the handler's arguments in `$handler`.
macro_rules! node_route {
    (
        $(#[doc = $doc:tt])*
        $method:ident $path:tt, $ok:tt => $body:ty,
        fn $name:ident($manager:ident, $id:ident) $handler:block
    ) => {
        node_route! {
            $(#[doc = $doc])*
            $method $path, $ok => $body,
            errors [(502, "The node did not answer")],
            fn $name($manager, $id) $handler
        }
    };
    (
        $(#[doc = $doc:tt])*
        $method:ident $path:tt, $ok:tt => $body:ty,
        errors [$(($status:tt, $error:tt)),* $(,)?],
        fn $name:ident($manager:ident, $id:ident) $handler:block
    ) => {
        #[utoipa::path(
            $method, path = $path, tag = "node",
            params(("id" = String, Path, description = "Node id, port, or host:port")),
            responses(
                (status = 200, description = $ok, body = $body),
                (status = 404, description = "No such node", body = ErrorBody),
                $((status = $status, description = $error, body = ErrorBody),)*
            )
        )]
        $(#[doc = $doc])*
        async fn $name(
            State($manager): State<Manager>,
            AppPath($id): AppPath<String>,
        ) -> Result<Json<$body>, ApiError> $handler
    };
}

node_route! {
    /// Have the node mine one block on its best tip.
    post "/nodes/{id}/mine", "The block the node mined" => MinedBody,
    fn node_mine(manager, id) {
        let (_, address) = manager.resolve(&id)?;
        Ok(Json(manager.client().mine(&address).await?))
    }
}

/// Send a bodiless command to the node, then read its status so `/nodes`
/// shows the change at once.
async fn node_command(
    manager: &Manager,
    id: &str,
    path: &str,
) -> Result<Json<MessageBody>, ApiError> {
    let (slot, address) = manager.resolve(id)?;
    let answer = manager.client().command(&address, path).await?;
    manager.refresh(slot).await;
    Ok(Json(answer))
}

/// Declares a handler per line, `name: path => node path, what 200 means;`,
/// that passes a bodiless command on to the node with [`node_command`].
macro_rules! node_commands {
    ($($(#[doc = $doc:tt])* $name:ident: $path:tt => $node_path:tt, $ok:tt;)+) => {
        $(node_route! {
            $(#[doc = $doc])*
            post $path, $ok => MessageBody,
            fn $name(manager, id) {
                node_command(&manager, &id, $node_path).await
            }
        })+
    };
}

node_commands! {
    node_mining_start: "/nodes/{id}/mining/start" => "/mining/start", "Continuous mining is on";
    node_mining_stop: "/nodes/{id}/mining/stop" => "/mining/stop", "Continuous mining is off";
    /// Cut the node off from its peers: a one-click partition.
    node_isolate: "/nodes/{id}/isolate" => "/network/isolate", "The node drops and ignores its peers";
    /// End the node's isolation.
    node_reconnect: "/nodes/{id}/reconnect" => "/network/reconnect", "The node has its peers back";
}

node_route! {
    /// Shut the node down and wait for its process to exit.
    post "/nodes/{id}/shutdown", "The node's process has exited" => MessageBody,
    errors [(409, "Already stopped, or busy")],
    fn node_shutdown(manager, id) {
        let slot = manager.find(&id)?;
        let stopped = manager.stop_node(slot).await?;
        Ok(Json(MessageBody {
            message: format!("node {} stopped ({})", stopped.address, stopped.outcome),
        }))
    }
}

node_route! {
    /// Stop the node if it runs and start it again on the same port and data directory.
    post "/nodes/{id}/restart", "The node answers again, with the chain it had" => NodeSummary,
    errors [(409, "Attached (not ours to start), or busy"), (502, "It did not come back")],
    fn node_restart(manager, id) {
        let slot = manager.find(&id)?;
        Ok(Json(manager.restart(slot).await?))
    }
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

node_route! {
    get "/nodes/{id}/status", "The node's own status" => StatusBody,
    fn node_status(manager, id) {
        let (_, address) = manager.resolve(&id)?;
        Ok(Json(manager.client().status(&address).await?))
    }
}

node_route! {
    get "/nodes/{id}/tips", "The node's chain tips" => TipsBody,
    fn node_tips(manager, id) {
        let (_, address) = manager.resolve(&id)?;
        Ok(Json(manager.client().tips(&address).await?))
    }
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
    responses((status = 101, description = "WebSocket: one `Event` JSON per text message; a `snapshot` first, then every node's events (tagged with the node id) and the manager's", body = Event),
        (status = 400, description = "Not a WebSocket upgrade request", body = ErrorBody))
)]
/// The merged event stream of the whole network.
async fn events_get(State(manager): State<Manager>, upgrade: WebSocketUpgrade) -> Response {
    let upgrade = upgrade
        .read_buffer_size(node::p2p::link::READ_BUFFER_BYTES)
        .max_message_size(shared::events::MAX_SUBSCRIBER_MESSAGE_BYTES)
        .max_frame_size(shared::events::MAX_SUBSCRIBER_MESSAGE_BYTES);
    upgrade.on_upgrade(move |socket| async move {
        // Subscribe before taking the snapshot, so nothing falls between them.
        let events = manager.subscribe();
        let snapshot = manager.snapshot().await;
        let shutdown = manager.shutdown_signal().clone();
        events::serve_subscriber(socket, events, snapshot, shutdown).await
    })
}

/// The document's frame; [`routes()`] adds every path and its schemas.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "powplay manager",
        description = "Starts, drives and stops a network of proof-of-work nodes; one API and one event stream for all of them. A manager bound beyond loopback, or started with `--token`, needs `Authorization: Bearer <token>` on commands, and that header or `?access_token=<token>` on `/events`."
    ),
    components(schemas(MiningPlan, ErrorBody))
)]
pub struct ApiDoc;

#[utoipa::path(
    get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object))
)]
/// The whole API as OpenAPI, for Postman and other clients.
async fn openapi_get(Extension(document): Extension<Arc<utoipa::openapi::OpenApi>>) -> Response {
    Json(document.as_ref()).into_response()
}
