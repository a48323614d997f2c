//! The HTTP API: the seed's paths and JSON shapes, and what a real node
//! adds. Handlers are a few lines each that call into [`Node`]; bodies are
//! parsed by the extractors in [`crate::error`], so every bad input becomes
//! a JSON 4xx.
//!
//! Every route is declared once, in [`routes`]: `utoipa-axum` builds the
//! router and the OpenAPI paths from the same list, so the two cannot drift.

use std::sync::Arc;

use axum::extract::rejection::{BytesRejection, JsonRejection};
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use shared::address::is_host_port;
use shared::api::{
    ChainBody, EntryRequest, ErrorBody, HashrateBody, HashrateRequest, HeadersBody,
    InvalidChainBody, LinkConditionsUpdate, LinksBody, MessageBody, MinedBody, NodeIdBody,
    PeerAddressRequest, PeersBody, PendingEntriesBody, RegisterRequest, RegisterResponse,
    ReplaceChainRequest, ReplaceChainResponse, StatusBody, TipsBody,
};
use shared::events::{Event, EventKind, MiningMode};
use shared::strategy::{Strategy, StrategyBody};
use shared::{Block, BlockHash};
use tokio::sync::broadcast::error::RecvError;
use tower_http::trace::TraceLayer;
use utoipa::openapi::{ObjectBuilder, RefOr, Schema, Type};
use utoipa::{IntoParams, OpenApi, PartialSchema, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

use crate::chain::MAX_HEADERS;
use crate::error::{ApiError, AppJson, AppPath, AppQuery};
use crate::node::{Accepted, Node};
use crate::{bearer, openapi};

/// Header that marks an HTTP request as coming from a peer node (its
/// address), so an isolated node can refuse peer traffic over HTTP while
/// still serving the manager.
pub const PEER_HEADER: &str = "x-powplay-peer";

/// Largest body any endpoint but `/chain/replace` takes.
pub const BODY_LIMIT: usize = 64 * 1024;
/// Largest posted chain: room for tens of thousands of blocks.
pub const CHAIN_BODY_LIMIT: usize = 64 * 1024 * 1024;
/// Most hashes a locator may carry.
const MAX_LOCATOR: usize = 64;

type AppState = Arc<Node>;

/// The node's router, serving its own OpenAPI document.
pub fn app(node: Arc<Node>) -> Router {
    let (router, document) = routes(&node).split_for_parts();
    router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(Extension(Arc::new(document)))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::map_request(bodies_are_json))
        .layer(TraceLayer::new_for_http())
        .with_state(node)
}

/// Every route with its handler and OpenAPI operation, once.
fn routes(node: &AppState) -> OpenApiRouter<AppState> {
    let mutating = OpenApiRouter::new()
        .routes(with_body_limit(routes!(chain_replace), CHAIN_BODY_LIMIT))
        .routes(routes!(nodes_register))
        .routes(routes!(mine_get, mine_post))
        .routes(routes!(block_new_get, block_new_post))
        .routes(routes!(shutdown_get, shutdown_post))
        .routes(routes!(mining_start))
        .routes(routes!(mining_stop))
        .routes(routes!(mining_hashrate))
        .routes(routes!(network_isolate))
        .routes(routes!(network_reconnect))
        .routes(routes!(entries_post))
        .routes(routes!(p2p_get))
        .routes(routes!(peers_connect))
        .routes(routes!(peers_disconnect))
        .routes(routes!(network_links_post))
        .routes(routes!(strategy_post))
        .route_layer(middleware::from_fn_with_state(
            Arc::clone(node),
            require_token,
        ));
    let mut all = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(chain_get))
        .routes(routes!(node_id))
        .routes(routes!(status))
        .routes(routes!(tips))
        .routes(routes!(headers_get))
        .routes(routes!(block_get))
        .routes(routes!(entries_pending))
        .routes(routes!(events))
        .routes(routes!(peers_get))
        .routes(routes!(openapi_get))
        .routes(routes!(metrics_get))
        .routes(routes!(strategy_get))
        .routes(routes!(network_links_get))
        .merge(openapi::guarded(
            mutating,
            &[bearer::BEARER],
            "The node has a token and the request did not carry it",
        ));
    openapi::add_bearer_scheme(all.get_openapi_mut());
    openapi::document_refusals(all.get_openapi_mut());
    all
}

fn with_body_limit(
    (schemas, paths, router): UtoipaMethodRouter<AppState>,
    limit: usize,
) -> UtoipaMethodRouter<AppState> {
    (schemas, paths, router.layer(DefaultBodyLimit::max(limit)))
}

/// The document's title and description; the paths come from [`routes`].
#[derive(OpenApi)]
#[openapi(info(
    title = "powplay node",
    description = "A proof-of-work node of the powplay network playground. Mutating endpoints need `Authorization: Bearer <token>` when the node was started with a token."
))]
struct ApiDoc;

async fn not_found() -> ApiError {
    ApiError::NotFound("no such endpoint; see /openapi.json".into())
}

async fn method_not_allowed() -> ApiError {
    ApiError::Rejected {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: "method not allowed on this path; see /openapi.json".into(),
    }
}

/// Every body this node takes is JSON, and it reads it as JSON whatever
/// type the client states, as the original did: `curl -d` says
/// form-urlencoded and some clients say nothing. Marking each request as
/// JSON lets axum's `Json` parse it instead of answering 415.
pub async fn bodies_are_json(mut request: Request) -> Request {
    request.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    request
}

/// Mutating endpoints need the bearer token when the node has one.
async fn require_token(
    State(node): State<AppState>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(token) = &node.token
        && !bearer::matches(request.headers(), token)
    {
        return Err(ApiError::Unauthorized);
    }
    Ok(next.run(request).await)
}

/// Passes unless the request comes from a peer (marked by [`PEER_HEADER`])
/// while this node is isolated; checked before the body is read.
struct PeerGate;

impl FromRequestParts<AppState> for PeerGate {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, node: &AppState) -> Result<Self, ApiError> {
        if node.is_isolated() && parts.headers.contains_key(PEER_HEADER) {
            return Err(ApiError::Isolated);
        }
        Ok(Self)
    }
}

fn parse_hash(text: &str) -> Result<BlockHash, ApiError> {
    text.parse().map_err(|_| {
        ApiError::BadRequest(format!("{text:?} is not a block hash (64 hex characters)"))
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ChainQuery {
    /// First height to return (default 0).
    from: Option<u64>,
    /// Most blocks to return (default: all).
    limit: Option<u64>,
}

/// The best chain, or a page of it.
#[utoipa::path(get, path = "/chain", params(ChainQuery),
    responses((status = 200, body = ChainBody), (status = 400, body = ErrorBody)))]
async fn chain_get(
    State(node): State<AppState>,
    AppQuery(query): AppQuery<ChainQuery>,
) -> Json<ChainBody> {
    let limit = query
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    // Shared handles under the lock; the copies for the answer after it.
    let (blocks, length) = {
        let tree = node.tree();
        let blocks = tree.active_blocks(query.from.unwrap_or(0), limit);
        (blocks, tree.height() + 1)
    };
    let chain = blocks.iter().map(|b| Block::clone(b)).collect();
    Json(ChainBody { chain, length })
}

/// `{"chain": [...]}` as documented, or a bare array of blocks.
#[derive(Deserialize)]
#[serde(untagged)]
enum ReplaceBody {
    Wrapped(ReplaceChainRequest),
    Bare(Vec<Block>),
}

/// Adopts the posted chain if it is valid and has more work than ours.
#[utoipa::path(post, path = "/chain/replace", request_body = ReplaceChainRequest,
    responses((status = 201, body = ReplaceChainResponse),
        (status = 409, description = "valid, but not more work", body = ErrorBody),
        (status = 422, description = "invalid chain: the first bad block and why", body = InvalidChainBody),
        (status = 400, description = "not JSON, or not a chain", body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn chain_replace(
    State(node): State<AppState>,
    body: Result<Json<ReplaceBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let chain = match body {
        Ok(Json(ReplaceBody::Wrapped(request))) => request.chain,
        Ok(Json(ReplaceBody::Bare(chain))) => chain,
        // 422 is kept for chains that break a consensus rule; a body that
        // is not a chain at all is a plain bad request.
        Err(rejection @ (JsonRejection::JsonDataError(_) | JsonRejection::JsonSyntaxError(_))) => {
            return Err(ApiError::BadRequest(format!(
                "the body is not {{\"chain\": [blocks]}} or [blocks]: {}",
                crate::error::rejection_detail(&rejection)
            )));
        }
        Err(other) => return Err(other.into()),
    };
    let worker = Arc::clone(&node);
    let outcome = node
        .tasks
        .spawn_blocking(move || worker.replace_chain(chain))
        .await
        .map_err(|_| ApiError::ShuttingDown)??;
    match outcome {
        Some(tip) => Ok((
            StatusCode::CREATED,
            Json(ReplaceChainResponse {
                message: "Chain replaced".into(),
                length: tip.height + 1,
                tip: tip.hash,
            }),
        )
            .into_response()),
        None => Err(ApiError::Conflict(
            "the posted chain is valid but has no more work than ours: kept ours".into(),
        )),
    }
}

/// Adds peers. Accepts the object, or the original's double-encoded string.
#[utoipa::path(post, path = "/nodes/register",
    request_body(content = RegisterRequest, description = "the object, or the same object encoded as a JSON string (as the original sent it)"),
    responses((status = 201, body = RegisterResponse), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn nodes_register(
    State(node): State<AppState>,
    _: PeerGate,
    AppJson(mut value): AppJson<serde_json::Value>,
) -> Result<(StatusCode, Json<RegisterResponse>), ApiError> {
    if let serde_json::Value::String(inner) = &value {
        value = serde_json::from_str(inner).map_err(|e| {
            ApiError::BadRequest(format!("the string does not hold valid JSON: {e}"))
        })?;
    }
    if value.get("nodes").is_none() {
        return Err(ApiError::BadRequest(
            "Error: Please supply a valid list of nodes (\"nodes\" is missing)".into(),
        ));
    }
    let request: RegisterRequest =
        serde_json::from_value(value).map_err(|e| ApiError::Rejected {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("the JSON does not have the expected shape: {e}"),
        })?;
    if let Some(bad) = request.addresses.iter().find(|a| !is_host_port(a)) {
        return Err(ApiError::Rejected {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("{bad:?} is not a host:port address"),
        });
    }
    // Each registered peer gets an outbound link; where the other side
    // registered us too, the two links collapse to one.
    for (id, address) in request.nodes.iter().zip(&request.addresses) {
        node.connect(id, address);
    }
    // Ids and addresses pair up by position; an id without an address
    // cannot be contacted, so it is skipped and said so.
    let skipped = request.nodes.len().saturating_sub(request.addresses.len());
    let message = match skipped {
        0 => "New nodes have been added".to_owned(),
        n => format!("New nodes have been added; {n} id(s) without an address were skipped"),
    };
    Ok((
        StatusCode::CREATED,
        Json(RegisterResponse {
            message,
            total_nodes: node.links.len(),
        }),
    ))
}

/// Mines one block on the best tip and answers with it (the original's GET).
#[utoipa::path(get, path = "/mine",
    responses((status = 200, body = MinedBody), (status = 503, body = ErrorBody)))]
async fn mine_get(State(node): State<AppState>) -> Result<Json<MinedBody>, ApiError> {
    mine(&node).await
}

/// Mines one block on the best tip and answers with it.
#[utoipa::path(post, path = "/mine",
    responses((status = 200, body = MinedBody), (status = 503, body = ErrorBody)))]
async fn mine_post(State(node): State<AppState>) -> Result<Json<MinedBody>, ApiError> {
    mine(&node).await
}

async fn mine(node: &Node) -> Result<Json<MinedBody>, ApiError> {
    let receiver = node.miner.mine_one();
    let block = tokio::select! {
        block = receiver => block.map_err(|_| ApiError::ShuttingDown)?,
        () = node.shutdown.cancelled() => return Err(ApiError::ShuttingDown),
    };
    Ok(Json(MinedBody {
        message: format!("New block forged at height {}", block.header.index),
        block,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct BlockNewQuery {
    /// The announcing peer's host:port, asked first for anything missing.
    from: Option<String>,
}

/// The node catches up with its peers (or with `from`), as the original's
/// GET did.
#[utoipa::path(get, path = "/block/new", params(BlockNewQuery),
    responses((status = 202, body = MessageBody), (status = 403, body = ErrorBody)))]
async fn block_new_get(
    State(node): State<AppState>,
    _: PeerGate,
    AppQuery(query): AppQuery<BlockNewQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<MessageBody>), ApiError> {
    block_new(node, query, body?).await
}

/// A peer announces a block; without a body, the node catches up with its
/// peers (or with `from`).
#[utoipa::path(post, path = "/block/new", params(BlockNewQuery),
    request_body(content = Option<Block>, description = "the new block (optional)"),
    responses((status = 200, body = MessageBody), (status = 202, body = MessageBody),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn block_new_post(
    State(node): State<AppState>,
    _: PeerGate,
    AppQuery(query): AppQuery<BlockNewQuery>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<MessageBody>), ApiError> {
    block_new(node, query, body?).await
}

async fn block_new(
    node: AppState,
    query: BlockNewQuery,
    bytes: Bytes,
) -> Result<(StatusCode, Json<MessageBody>), ApiError> {
    let from = query.from.filter(|a| is_host_port(a));
    if bytes.iter().all(u8::is_ascii_whitespace) || bytes.trim_ascii() == b"null" {
        match from {
            Some(address) if node.links.is_connected(&address) => node.sync_with(&address),
            _ => node.sync_with_all(),
        }
        return Ok((StatusCode::ACCEPTED, message("catching up with peers")));
    }
    node.links
        .block_bytes_received
        .fetch_add(bytes.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let Json(block) = Json::<Block>::from_bytes(&bytes)?;
    match node.receive_block(block, from).await? {
        Accepted::Stored(inserted) => Ok((
            StatusCode::OK,
            message(&format!("block accepted at height {}", inserted.height)),
        )),
        Accepted::Duplicate => Ok((StatusCode::OK, message("block already known"))),
        Accepted::BeingStored => Ok((
            StatusCode::ACCEPTED,
            message("block being stored from another copy"),
        )),
        Accepted::AfterParent { parent } => Ok((
            StatusCode::ACCEPTED,
            message(&format!(
                "parent {parent} is being stored: this block follows it"
            )),
        )),
        Accepted::Orphan { missing } => Ok((
            StatusCode::ACCEPTED,
            message(&format!(
                "parent {missing} unknown: fetching the missing headers"
            )),
        )),
        Accepted::Invalid(reason) => {
            Err(ApiError::InvalidBlock(format!("block rejected: {reason}")))
        }
    }
}

fn message(text: &str) -> Json<MessageBody> {
    Json(MessageBody {
        message: text.to_owned(),
    })
}

/// The node's id, address and known peers.
#[utoipa::path(get, path = "/node/id", responses((status = 200, body = NodeIdBody)))]
async fn node_id(State(node): State<AppState>) -> Json<NodeIdBody> {
    Json(NodeIdBody {
        node: node.id.clone(),
        address: node.address.clone(),
        nodes: node.links.ids(),
    })
}

/// Stops the node gracefully: answer, close connections, flush, exit 0
/// (the original's GET).
#[utoipa::path(get, path = "/shutdown", responses((status = 200, body = MessageBody)))]
async fn shutdown_get(State(node): State<AppState>) -> Json<MessageBody> {
    shutdown(&node)
}

/// Stops the node gracefully: answer, close connections, flush, exit 0.
#[utoipa::path(post, path = "/shutdown", responses((status = 200, body = MessageBody)))]
async fn shutdown_post(State(node): State<AppState>) -> Json<MessageBody> {
    shutdown(&node)
}

fn shutdown(node: &Node) -> Json<MessageBody> {
    node.events.emit(EventKind::ShuttingDown);
    node.shutdown.cancel();
    message("Node shutting down")
}

/// Status at a glance.
#[utoipa::path(get, path = "/status", responses((status = 200, body = StatusBody)))]
async fn status(State(node): State<AppState>) -> Json<StatusBody> {
    Json(node.status())
}

/// Every chain tip, like Bitcoin Core's `getchaintips`.
#[utoipa::path(get, path = "/tips", responses((status = 200, body = TipsBody)))]
async fn tips(State(node): State<AppState>) -> Json<TipsBody> {
    Json(TipsBody {
        tips: node.tree().tips(),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct HeadersQuery {
    /// Comma-separated block hashes, newest first (at most 64).
    #[param(pattern = r"^([0-9a-f]{64}(,[0-9a-f]{64}){0,63})?$")]
    locator: Option<String>,
    /// Most headers to return (at most 2000).
    limit: Option<usize>,
}

/// Best-chain headers after the first locator hash this node has.
#[utoipa::path(get, path = "/headers", params(HeadersQuery),
    responses((status = 200, body = HeadersBody), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn headers_get(
    State(node): State<AppState>,
    _: PeerGate,
    AppQuery(query): AppQuery<HeadersQuery>,
) -> Result<Json<HeadersBody>, ApiError> {
    let locator = query
        .locator
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .map(parse_hash)
        .collect::<Result<Vec<_>, _>>()?;
    if locator.len() > MAX_LOCATOR {
        return Err(ApiError::BadRequest(format!(
            "a locator has at most {MAX_LOCATOR} hashes, this one {}",
            locator.len()
        )));
    }
    let limit = query.limit.unwrap_or(MAX_HEADERS).min(MAX_HEADERS);
    Ok(Json(HeadersBody {
        headers: node.tree().headers_after(&locator, limit),
    }))
}

/// One block by hash.
#[utoipa::path(get, path = "/blocks/{hash}", params(("hash" = BlockHash, Path, description = "block hash, 64 hex characters")),
    responses((status = 200, body = Block), (status = 400, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn block_get(
    State(node): State<AppState>,
    _: PeerGate,
    AppPath(hash): AppPath<String>,
) -> Result<Json<Block>, ApiError> {
    let hash = parse_hash(&hash)?;
    let block = node
        .tree()
        .block(&hash)
        .ok_or_else(|| ApiError::NotFound(format!("no block {hash}")))?;
    Ok(Json(Block::clone(&block)))
}

/// Starts continuous mining.
#[utoipa::path(post, path = "/mining/start", responses((status = 200, body = MessageBody)))]
async fn mining_start(State(node): State<AppState>) -> Json<MessageBody> {
    if node.miner.set_continuous(true) {
        node.events.emit(EventKind::MiningStarted {
            mode: MiningMode::Continuous,
        });
        message("mining started")
    } else {
        message("already mining")
    }
}

/// Stops continuous mining.
#[utoipa::path(post, path = "/mining/stop", responses((status = 200, body = MessageBody)))]
async fn mining_stop(State(node): State<AppState>) -> Json<MessageBody> {
    if node.miner.set_continuous(false) {
        node.events.emit(EventKind::MiningStopped);
        message("mining stopped")
    } else {
        message("was not mining")
    }
}

/// Caps this node's proof attempts per second over all its mining threads
/// (0 removes the cap); the miner takes it up within one slice.
#[utoipa::path(post, path = "/mining/hashrate", request_body = HashrateRequest,
    responses((status = 200, body = HashrateBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn mining_hashrate(
    State(node): State<AppState>,
    AppJson(request): AppJson<HashrateRequest>,
) -> Json<HashrateBody> {
    node.miner.set_hashrate_limit(request.attempts_per_sec);
    Json(HashrateBody {
        attempts_per_sec: node.miner.hashrate_limit(),
        measured_attempts_per_sec: node.miner.hash_rate(),
    })
}

/// Drops and ignores all peers (a one-click partition).
#[utoipa::path(post, path = "/network/isolate", responses((status = 200, body = MessageBody)))]
async fn network_isolate(State(node): State<AppState>) -> Json<MessageBody> {
    Json(node.set_isolated(true))
}

/// Restores the peers and catches up with them.
#[utoipa::path(post, path = "/network/reconnect", responses((status = 200, body = MessageBody)))]
async fn network_reconnect(State(node): State<AppState>) -> Json<MessageBody> {
    Json(node.set_isolated(false))
}

/// Adds a data entry to be mined into the next block, and relays it.
#[utoipa::path(post, path = "/entries", request_body = EntryRequest,
    responses((status = 201, body = MessageBody), (status = 200, description = "already pending", body = MessageBody),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 413, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, description = "the pool is full", body = ErrorBody)))]
async fn entries_post(
    State(node): State<AppState>,
    _: PeerGate,
    AppJson(request): AppJson<EntryRequest>,
) -> Result<(StatusCode, Json<MessageBody>), ApiError> {
    if !node.add_entry(request.data.clone())? {
        return Ok((StatusCode::OK, message("entry already pending")));
    }
    node.links
        .broadcast(&shared::p2p::Message::Entry { data: request.data }, None);
    let pending = node.pending_count();
    Ok((
        StatusCode::CREATED,
        message(&format!("entry added: {pending} pending")),
    ))
}

/// Entries waiting to be mined.
#[utoipa::path(get, path = "/entries/pending", responses((status = 200, body = PendingEntriesBody)))]
async fn entries_pending(State(node): State<AppState>) -> Json<PendingEntriesBody> {
    Json(PendingEntriesBody {
        entries: node.pending_entries(),
    })
}

/// The peer-to-peer link: binary WebSocket frames, one
/// `shared::p2p::Message` (postcard) each, `Hello` first both ways.
#[utoipa::path(get, path = "/p2p",
    responses((status = 101, description = "WebSocket: one binary postcard-encoded peer message per frame",
        body = PeerFrame, content_type = "application/octet-stream"),
        (status = 400, description = "Not a WebSocket upgrade request", body = ErrorBody),
        (status = 401, body = ErrorBody)))]
async fn p2p_get(
    State(node): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade?;
    let tracked = Arc::clone(&node);
    Ok(upgrade
        .read_buffer_size(crate::p2p::link::READ_BUFFER_BYTES)
        .max_message_size(shared::p2p::MAX_FRAME_BYTES)
        .max_frame_size(shared::p2p::MAX_FRAME_BYTES)
        .on_upgrade(move |socket| {
            tracked
                .tasks
                .track(crate::p2p::link::accept(node, socket, String::new()))
        }))
}

/// Every peer link: state, counters, round-trip time and conditions.
#[utoipa::path(get, path = "/peers", responses((status = 200, body = PeersBody)))]
async fn peers_get(State(node): State<AppState>) -> Json<PeersBody> {
    Json(PeersBody {
        peers: node.links.infos(),
    })
}

/// Opens (and keeps) an outbound link to a peer.
#[utoipa::path(post, path = "/peers/connect", request_body = PeerAddressRequest,
    responses((status = 201, body = PeersBody), (status = 200, description = "already a peer", body = PeersBody),
        (status = 400, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn peers_connect(
    State(node): State<AppState>,
    AppJson(request): AppJson<PeerAddressRequest>,
) -> Result<(StatusCode, Json<PeersBody>), ApiError> {
    if !is_host_port(&request.address) {
        return Err(ApiError::Rejected {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("{:?} is not a host:port address", request.address),
        });
    }
    if request.address == node.address {
        return Err(ApiError::BadRequest("a node cannot link to itself".into()));
    }
    let status = if node.connect("", &request.address) {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(PeersBody {
            peers: node.links.infos(),
        }),
    ))
}

/// Closes the link to a peer and forgets it.
#[utoipa::path(post, path = "/peers/disconnect", request_body = PeerAddressRequest,
    responses((status = 200, body = PeersBody), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 422, body = ErrorBody)))]
async fn peers_disconnect(
    State(node): State<AppState>,
    AppJson(request): AppJson<PeerAddressRequest>,
) -> Result<Json<PeersBody>, ApiError> {
    if !node.disconnect(&request.address) {
        return Err(ApiError::NotFound(format!(
            "no link to {}",
            request.address
        )));
    }
    Ok(Json(PeersBody {
        peers: node.links.infos(),
    }))
}

/// Every link with its conditions.
#[utoipa::path(get, path = "/network/links", responses((status = 200, body = LinksBody)))]
async fn network_links_get(State(node): State<AppState>) -> Json<LinksBody> {
    Json(LinksBody {
        links: node.links.infos(),
    })
}

/// Changes the given conditions on one link (`peer`) or on every link;
/// answers with the resulting links. A bad value changes nothing.
#[utoipa::path(post, path = "/network/links", request_body = LinkConditionsUpdate,
    responses((status = 200, body = LinksBody), (status = 400, body = ErrorBody),
        (status = 404, description = "no link to that peer", body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn network_links_post(
    State(node): State<AppState>,
    AppJson(update): AppJson<LinkConditionsUpdate>,
) -> Result<Json<LinksBody>, ApiError> {
    node.set_link_conditions(&update)?;
    Ok(Json(LinksBody {
        links: node.links.infos(),
    }))
}

/// The node's strategy and its live state.
#[utoipa::path(get, path = "/strategy", responses((status = 200, body = StrategyBody)))]
async fn strategy_get(State(node): State<AppState>) -> Json<StrategyBody> {
    Json(node.strategy_body())
}

/// Changes the node's strategy (`{"strategy": "honest" | "selfish" |
/// "private" | "timestamp" | "forger", ...}`); answers with it and its
/// state. A bad body changes nothing.
#[utoipa::path(post, path = "/strategy", request_body = Strategy,
    responses((status = 200, body = StrategyBody), (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 429, description = "the entry pool is full", body = ErrorBody)))]
async fn strategy_post(
    State(node): State<AppState>,
    AppJson(body): AppJson<serde_json::Value>,
) -> Result<Json<StrategyBody>, ApiError> {
    // serde would also take an internally tagged enum as an array.
    let unprocessable = |message: String| ApiError::Rejected {
        status: StatusCode::UNPROCESSABLE_ENTITY,
        message,
    };
    if !body.is_object() {
        return Err(unprocessable(
            "the body must be a JSON object like {\"strategy\": \"honest\"}".into(),
        ));
    }
    let strategy: Strategy =
        serde_json::from_value(body).map_err(|e| unprocessable(format!("bad strategy: {e}")))?;
    Ok(Json(node.set_strategy(strategy)?))
}

/// WebSocket stream of this node's events, one JSON `Event` per message.
#[utoipa::path(get, path = "/events",
    responses((status = 101, description = "WebSocket: one JSON Event per text message", body = Event),
        (status = 400, description = "Not a WebSocket upgrade request", body = ErrorBody)))]
async fn events(
    State(node): State<AppState>,
    upgrade: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let upgrade = upgrade?;
    // Subscribe before the handshake completes, so a client that acts as
    // soon as it is connected sees every event its actions cause.
    let receiver = node.events.subscribe();
    // axum runs the connection; tracking it lets shutdown wait for it.
    let tracked = Arc::clone(&node);
    Ok(upgrade
        .read_buffer_size(crate::p2p::link::READ_BUFFER_BYTES)
        .max_message_size(shared::events::MAX_SUBSCRIBER_MESSAGE_BYTES)
        .max_frame_size(shared::events::MAX_SUBSCRIBER_MESSAGE_BYTES)
        .on_upgrade(move |socket| tracked.tasks.track(stream_events(node, receiver, socket))))
}

async fn stream_events(
    node: Arc<Node>,
    mut receiver: tokio::sync::broadcast::Receiver<Event>,
    socket: WebSocket,
) {
    let (mut sink, mut incoming) = socket.split();
    let writer = async {
        loop {
            let event = tokio::select! {
                received = receiver.recv() => received,
                () = node.shutdown.cancelled() => break,
            };
            let event = match event {
                Ok(event) => event,
                Err(RecvError::Lagged(count)) => Event {
                    at: crate::clock::now_ms(),
                    node: Some(node.id.clone()),
                    kind: EventKind::EventsDropped { count },
                },
                Err(RecvError::Closed) => break,
            };
            let Ok(text) = serde_json::to_string(&event) else {
                continue;
            };
            if sink.send(Message::Text(text.into())).await.is_err() {
                break;
            }
        }
        let _ = sink.send(Message::Close(None)).await;
    };
    // The reader only watches for the client closing the socket.
    let reader = async { while let Some(Ok(_)) = incoming.next().await {} };
    tokio::select! {
        () = writer => {}
        () = reader => {}
    }
}

/// What `GET /openapi.json` answers, described for the document itself
/// (Postman's contract import wants a schema on every response).
struct OpenApiDocument;

impl PartialSchema for OpenApiDocument {
    fn schema() -> RefOr<Schema> {
        let object = || ObjectBuilder::new().schema_type(Type::Object);
        object()
            .description(Some("An OpenAPI 3.1 document: this API."))
            .property("openapi", ObjectBuilder::new().schema_type(Type::String))
            .required("openapi")
            .property("info", object())
            .required("info")
            .property("paths", object())
            .property("components", object())
            .into()
    }
}

impl ToSchema for OpenApiDocument {}

/// One frame of a peer link: a postcard-encoded `shared::p2p::Message`.
struct PeerFrame;

impl PartialSchema for PeerFrame {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .content_media_type("application/octet-stream")
            .description(Some(
                "A binary WebSocket frame holding one postcard-encoded peer message.",
            ))
            .into()
    }
}

impl ToSchema for PeerFrame {}

/// Counters and gauges in the OpenMetrics text format, for Prometheus.
#[utoipa::path(get, path = "/metrics",
    responses((status = 200, description = "OpenMetrics text: every metric is named powplay_node_*",
        body = String, content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8")))]
async fn metrics_get(State(node): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)],
        node.metrics_text(),
    )
        .into_response()
}

/// This API's OpenAPI document.
#[utoipa::path(get, path = "/openapi.json",
    responses((status = 200, description = "the OpenAPI 3.1 document", body = OpenApiDocument)))]
async fn openapi_get(
    Extension(document): Extension<Arc<utoipa::openapi::OpenApi>>,
) -> Json<utoipa::openapi::OpenApi> {
    Json(utoipa::openapi::OpenApi::clone(&document))
}
