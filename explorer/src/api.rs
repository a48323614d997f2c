//! Every HTTP call the explorer makes, all to the manager.
//!
//! The manager is the page's own origin by default; `?manager=http://host:port`
//! points the page at another one (for `trunk serve` during development).
//! Each call is first a [`Call`] (method, path, whether it is a command,
//! timeout): plain data, so what every button sends, and which calls carry
//! the token, is tested natively. Every request has a timeout, and every
//! failure becomes an [`ApiError`] that says what went wrong in words a
//! person can act on.
//!
//! A manager with a token wants it as `Authorization: Bearer <token>` on
//! every command and as `?access_token=<token>` (RFC 6750's query form, as
//! a browser cannot set headers on a WebSocket) on `/events`.

use futures::future::{Either, select};
use gloo_net::http::{Request, RequestBuilder, Response};
use gloo_timers::future::TimeoutFuture;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use shared::api::{
    ChainBody, ErrorBody, MessageBody, MinedBody, NodeSummary, NodesBody, ShutdownReport,
    StatusBody, TipsBody,
};
use shared::api::{LinkConditions, LinkPreset, NetworkBody};
use shared::attack::{AttackRequest, AttacksBody};
use shared::scenario::{ScenarioStatusBody, ScenariosBody};
use shared::stats::{HashPowerBody, NetworkStats};
use shared::{Block, BlockHash};

/// Most requests answer in milliseconds; this only catches a hung manager.
const TIMEOUT_MS: u32 = 15_000;
/// Mining one block at the default difficulty can take a while.
const MINE_TIMEOUT_MS: u32 = 120_000;
/// Blocks per `/chain` page when downloading a whole chain.
pub const CHAIN_PAGE: u64 = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    #[error("cannot reach the manager ({0})")]
    Unreachable(String),
    #[error("no answer within {0} s")]
    TimedOut(u32),
    /// HTTP 401 on a command sent without a token.
    #[error(
        "the manager needs a token: enter it in the Token field (the manager prints it when it starts)"
    )]
    TokenNeeded,
    /// HTTP 401 on a command that carried the token.
    #[error("the manager refused the token: check the Token field")]
    TokenRefused,
    /// The manager (or the node behind it) refused: its `ErrorBody`.
    #[error("{message} (HTTP {status})")]
    Refused { status: u16, message: String },
    #[error("unexpected answer: {0}")]
    BadAnswer(String),
}

/// A node action that answers with a [`MessageBody`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeAction {
    StartMining,
    StopMining,
    Isolate,
    Reconnect,
    Shutdown,
}

impl NodeAction {
    fn path(self) -> &'static str {
        match self {
            Self::StartMining => "mining/start",
            Self::StopMining => "mining/stop",
            Self::Isolate => "isolate",
            Self::Reconnect => "reconnect",
            Self::Shutdown => "shutdown",
        }
    }
}

/// How the network-wide **Start mining** drives the nodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MiningMode {
    /// Every node mines block after block until stopped.
    Continuous,
    /// The original's rounds: each node mines one block in turn.
    Rounds,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

/// One request to the manager, before it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub method: Method,
    /// Path and query, e.g. `/nodes/abc/mine`.
    pub path: String,
    /// Whether it changes something, and so carries the token. The
    /// original's `GET /start/mining`, `/stop/mining` and `/shutdown/all`
    /// are commands too, whatever their method.
    pub command: bool,
    pub timeout_ms: u32,
}

impl Call {
    fn read(path: String) -> Self {
        Self {
            method: Method::Get,
            path,
            command: false,
            timeout_ms: TIMEOUT_MS,
        }
    }

    fn command(method: Method, path: String, timeout_ms: u32) -> Self {
        Self {
            method,
            path,
            command: true,
            timeout_ms,
        }
    }

    pub fn nodes() -> Self {
        Self::read("/nodes".into())
    }

    pub fn start_mining(mode: MiningMode) -> Self {
        let mode = match mode {
            MiningMode::Continuous => "continuous",
            MiningMode::Rounds => "rounds",
        };
        Self::command(
            Method::Get,
            format!("/start/mining?mode={mode}"),
            TIMEOUT_MS,
        )
    }

    pub fn stop_mining() -> Self {
        Self::command(Method::Get, "/stop/mining".into(), TIMEOUT_MS)
    }

    pub fn shutdown_all() -> Self {
        Self::command(Method::Get, "/shutdown/all".into(), TIMEOUT_MS * 2)
    }

    pub fn add_node() -> Self {
        Self::command(Method::Post, "/nodes".into(), TIMEOUT_MS * 2)
    }

    pub fn mine(id: &str) -> Self {
        Self::command(Method::Post, format!("/nodes/{id}/mine"), MINE_TIMEOUT_MS)
    }

    pub fn node_action(id: &str, action: NodeAction) -> Self {
        let path = format!("/nodes/{id}/{}", action.path());
        Self::command(Method::Post, path, TIMEOUT_MS)
    }

    pub fn restart(id: &str) -> Self {
        Self::command(Method::Post, format!("/nodes/{id}/restart"), TIMEOUT_MS * 2)
    }

    pub fn status(id: &str) -> Self {
        Self::read(format!("/nodes/{id}/status"))
    }

    pub fn tips(id: &str) -> Self {
        Self::read(format!("/nodes/{id}/tips"))
    }

    pub fn block(id: &str, hash: &BlockHash) -> Self {
        Self::read(format!("/nodes/{id}/blocks/{hash}"))
    }

    pub fn chain_page(id: &str, from: u64, limit: u64) -> Self {
        Self::read(format!("/nodes/{id}/chain?from={from}&limit={limit}"))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    /// `http://host:port`, without a trailing slash.
    base: String,
    /// The manager's token, if the reader gave one.
    token: Option<String>,
}

impl Api {
    pub fn new(base: impl Into<String>) -> Self {
        let base = base.into();
        Self {
            base: base.trim_end_matches('/').to_owned(),
            token: None,
        }
    }

    /// The same manager, with `token` on commands and on `/events`; a blank
    /// token is none.
    pub fn with_token(self, token: Option<&str>) -> Self {
        Self {
            token: token.and_then(crate::token::normalize),
            ..self
        }
    }

    /// The manager named by `?manager=`, else the page's own origin.
    pub fn from_location() -> Self {
        let Some(location) = web_sys::window().map(|w| w.location()) else {
            return Self::new("http://127.0.0.1:4999");
        };
        let query = location.search().unwrap_or_default();
        let chosen = web_sys::UrlSearchParams::new_with_str(&query)
            .ok()
            .and_then(|params| params.get("manager"))
            .filter(|m| !m.trim().is_empty());
        Self::new(chosen.unwrap_or_else(|| location.origin().unwrap_or_default()))
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    /// The manager's `/events` WebSocket URL, with the token as
    /// `access_token` when there is one.
    pub fn events_url(&self) -> String {
        let rest = self
            .base
            .strip_prefix("https://")
            .map(|r| format!("wss://{r}"))
            .or_else(|| {
                self.base
                    .strip_prefix("http://")
                    .map(|r| format!("ws://{r}"))
            })
            .unwrap_or_else(|| self.base.clone());
        match &self.token {
            Some(token) => format!("{rest}/events?access_token={}", query_escape(token)),
            None => format!("{rest}/events"),
        }
    }

    pub fn url(&self, call: &Call) -> String {
        format!("{}{}", self.base, call.path)
    }

    /// The `Authorization` header `call` carries, if any.
    pub fn authorization(&self, call: &Call) -> Option<String> {
        let token = self.token.as_deref().filter(|_| call.command)?;
        Some(format!("Bearer {token}"))
    }

    /// What a 401 answer to `call` means: no token, or the wrong one.
    fn unauthorized(&self, call: &Call) -> ApiError {
        match self.authorization(call) {
            Some(_) => ApiError::TokenRefused,
            None => ApiError::TokenNeeded,
        }
    }

    async fn fetch<T: DeserializeOwned>(&self, call: Call) -> Result<T, ApiError> {
        decode(self.exchange(call, None).await?)
    }

    /// Sends `call` (with `body` as JSON, if any) and reads the answer as
    /// JSON. Not generic, so the wasm holds one copy of the request and
    /// answer handling instead of one per answer type; only the last step,
    /// [`decode`], is.
    async fn exchange(&self, call: Call, body: Option<String>) -> Result<Value, ApiError> {
        let url = self.url(&call);
        let mut request = match call.method {
            Method::Get => Request::get(&url),
            Method::Post => Request::post(&url),
        };
        if let Some(authorization) = self.authorization(&call) {
            request = request.header("Authorization", &authorization);
        }
        if body.is_some() {
            request = request.header("Content-Type", "application/json");
        }
        send(request, body, call.timeout_ms)
            .await
            .map_err(|err| match err {
                ApiError::Refused { status: 401, .. } => self.unauthorized(&call),
                err => err,
            })
    }

    pub async fn nodes(&self) -> Result<Vec<NodeSummary>, ApiError> {
        let body: NodesBody = self.fetch(Call::nodes()).await?;
        Ok(body.nodes)
    }

    pub async fn start_mining(&self, mode: MiningMode) -> Result<MessageBody, ApiError> {
        self.fetch(Call::start_mining(mode)).await
    }

    pub async fn stop_mining(&self) -> Result<MessageBody, ApiError> {
        self.fetch(Call::stop_mining()).await
    }

    pub async fn shutdown_all(&self) -> Result<ShutdownReport, ApiError> {
        self.fetch(Call::shutdown_all()).await
    }

    pub async fn add_node(&self) -> Result<NodeSummary, ApiError> {
        self.fetch(Call::add_node()).await
    }

    pub async fn mine(&self, id: &str) -> Result<MinedBody, ApiError> {
        self.fetch(Call::mine(id)).await
    }

    pub async fn node_action(&self, id: &str, action: NodeAction) -> Result<MessageBody, ApiError> {
        self.fetch(Call::node_action(id, action)).await
    }

    pub async fn restart(&self, id: &str) -> Result<NodeSummary, ApiError> {
        self.fetch(Call::restart(id)).await
    }

    pub async fn status(&self, id: &str) -> Result<StatusBody, ApiError> {
        self.fetch(Call::status(id)).await
    }

    pub async fn tips(&self, id: &str) -> Result<TipsBody, ApiError> {
        self.fetch(Call::tips(id)).await
    }

    pub async fn block(&self, id: &str, hash: &BlockHash) -> Result<Block, ApiError> {
        self.fetch(Call::block(id, hash)).await
    }

    /// One page of `id`'s best chain: up to `limit` blocks from height `from`.
    pub async fn chain_page(&self, id: &str, from: u64, limit: u64) -> Result<ChainBody, ApiError> {
        self.fetch(Call::chain_page(id, from, limit)).await
    }

    /// `id`'s whole best chain, page by page; `progress(got, total)` after
    /// each page. Stops when a page comes back short or empty, so a chain
    /// that shrinks meanwhile (a reorganization) cannot loop forever.
    pub async fn whole_chain(
        &self,
        id: &str,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<Vec<Block>, ApiError> {
        let mut blocks: Vec<Block> = Vec::new();
        loop {
            let from = blocks.len() as u64;
            let page = self.chain_page(id, from, CHAIN_PAGE).await?;
            let got = page.chain.len() as u64;
            blocks.extend(page.chain);
            progress(blocks.len() as u64, page.length);
            if got < CHAIN_PAGE || blocks.len() as u64 >= page.length {
                return Ok(blocks);
            }
        }
    }
}

/// `text` as a URL query value: RFC 3986's unreserved characters stay,
/// every other byte is percent-encoded.
fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte))
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// Sends `request` (with `body`), waits at most `timeout_ms`, and reads the
/// JSON of a 2xx answer or the `ErrorBody` from any other.
async fn send(
    request: RequestBuilder,
    body: Option<String>,
    timeout_ms: u32,
) -> Result<Value, ApiError> {
    let abort = web_sys::AbortController::new().ok();
    let request = request.abort_signal(abort.as_ref().map(|a| a.signal()).as_ref());
    let request = match body {
        Some(body) => request.body(body),
        None => request.build(),
    }
    .map_err(|err| ApiError::BadAnswer(err.to_string()))?;
    let sent = Box::pin(request.send());
    let timer = Box::pin(TimeoutFuture::new(timeout_ms));
    let response = match select(sent, timer).await {
        Either::Left((response, _)) => {
            response.map_err(|err| ApiError::Unreachable(err.to_string()))?
        }
        Either::Right(_) => {
            if let Some(abort) = abort {
                abort.abort();
            }
            return Err(ApiError::TimedOut(timeout_ms / 1000));
        }
    };
    read(response).await
}

async fn read(response: Response) -> Result<Value, ApiError> {
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|err| ApiError::BadAnswer(err.to_string()))?;
    let json = serde_json::from_str::<Value>(&text);
    if !response.ok() {
        let message = json
            .ok()
            .and_then(|json| ErrorBody::deserialize(json).ok())
            .map(|body| body.error)
            .unwrap_or_else(|| {
                if text.trim().is_empty() {
                    response.status_text()
                } else {
                    text.chars().take(200).collect()
                }
            });
        return Err(ApiError::Refused { status, message });
    }
    json.map_err(|err| ApiError::BadAnswer(err.to_string()))
}

/// An answer's JSON as the `T` it should be.
fn decode<T: DeserializeOwned>(json: Value) -> Result<T, ApiError> {
    T::deserialize(json).map_err(|err| ApiError::BadAnswer(err.to_string()))
}

// ---------------------------------------------------------------------------
// The network view's calls: the manager's lab API (`/network…`).
// ---------------------------------------------------------------------------

/// A call that carries a JSON body.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonCall {
    pub call: Call,
    pub body: serde_json::Value,
}

impl Call {
    pub fn network() -> Self {
        Self::read("/network".into())
    }

    pub fn network_heal() -> Self {
        Self::command(Method::Post, "/network/heal".into(), TIMEOUT_MS)
    }
}

impl JsonCall {
    fn post(path: &str, body: serde_json::Value) -> Self {
        Self {
            call: Call::command(Method::Post, path.to_owned(), TIMEOUT_MS * 2),
            body,
        }
    }

    /// `kind`: `full`, `ring`, `line`, `star`, `random:K`, `small-world:K`.
    pub fn topology(kind: &str) -> Self {
        Self::post("/network/topology", serde_json::json!({ "kind": kind }))
    }

    /// New conditions for both directions of the link between `a` and `b`
    /// (`*` for every node).
    pub fn links(a: &str, b: &str, conditions: &LinkConditions) -> Self {
        Self::post(
            "/network/links",
            serde_json::json!({
                "a": a,
                "b": b,
                "latency_ms": conditions.latency_ms,
                "jitter_ms": conditions.jitter_ms,
                "loss": conditions.loss,
                "bandwidth_kbps": conditions.bandwidth_kbps,
                "down": conditions.down,
            }),
        )
    }

    /// A named preset on every link.
    pub fn links_preset(preset: LinkPreset) -> Self {
        Self::post(
            "/network/links",
            serde_json::json!({ "a": "*", "b": "*", "preset": preset }),
        )
    }

    /// Cuts the network into `groups` (node ids) and the nodes left over.
    pub fn partition(groups: &[Vec<String>]) -> Self {
        Self::post(
            "/network/partition",
            serde_json::json!({ "groups": groups }),
        )
    }
}

impl Api {
    pub async fn network(&self) -> Result<NetworkBody, ApiError> {
        self.fetch(Call::network()).await
    }

    pub async fn network_heal(&self) -> Result<NetworkBody, ApiError> {
        self.fetch(Call::network_heal()).await
    }

    /// Sends a [`JsonCall`] and reads a `T` from its answer.
    pub async fn send_json<T: DeserializeOwned>(&self, json: JsonCall) -> Result<T, ApiError> {
        let JsonCall { call, body } = json;
        decode(self.exchange(call, Some(body.to_string())).await?)
    }
}

// ---------------------------------------------------------------------------
// The lab's calls: hash power, attacks, metrics and scenarios.
// ---------------------------------------------------------------------------

/// A scenario runs for minutes; starting one answers at once.
const SCENARIO_TIMEOUT_MS: u32 = TIMEOUT_MS * 2;

impl Call {
    pub fn hash_power() -> Self {
        Self::read("/network/hashrate".into())
    }

    pub fn stats() -> Self {
        Self::read("/stats".into())
    }

    pub fn stats_reset() -> Self {
        Self::command(Method::Post, "/stats/reset".into(), TIMEOUT_MS)
    }

    pub fn attacks() -> Self {
        Self::read("/attacks".into())
    }

    pub fn attacks_stop() -> Self {
        Self::command(Method::Post, "/attacks/stop".into(), TIMEOUT_MS * 2)
    }

    pub fn scenarios() -> Self {
        Self::read("/scenarios".into())
    }

    pub fn scenario_status() -> Self {
        Self::read("/scenarios/status".into())
    }
}

impl JsonCall {
    /// A cap of `attempts_per_sec` on one node's miner (0 removes it).
    pub fn node_hashrate(id: &str, attempts_per_sec: f64) -> Self {
        Self::post(
            &format!("/nodes/{id}/hashrate"),
            serde_json::json!({ "attempts_per_sec": attempts_per_sec }),
        )
    }

    /// `total` attempts/s split over the running nodes by a named
    /// distribution (`equal`, `zipf`).
    pub fn network_hashrate(total: f64, distribution: &str) -> Self {
        Self::post(
            "/network/hashrate",
            serde_json::json!({ "total": total, "distribution": distribution }),
        )
    }

    pub fn attack(request: &AttackRequest) -> Self {
        let body = serde_json::to_value(request).unwrap_or_default();
        Self::post("/attacks", body)
    }

    /// A shipped scenario; `blocks` shortens each of its `mine` steps.
    pub fn scenario_run(name: &str, blocks: Option<u64>) -> Self {
        let mut json = Self::post(
            "/scenarios/run",
            serde_json::json!({ "name": name, "blocks": blocks }),
        );
        json.call.timeout_ms = SCENARIO_TIMEOUT_MS;
        if blocks.is_none()
            && let Some(body) = json.body.as_object_mut()
        {
            body.remove("blocks");
        }
        json
    }
}

impl Api {
    pub async fn hash_power(&self) -> Result<HashPowerBody, ApiError> {
        self.fetch(Call::hash_power()).await
    }

    pub async fn stats(&self) -> Result<NetworkStats, ApiError> {
        self.fetch(Call::stats()).await
    }

    pub async fn attacks(&self) -> Result<AttacksBody, ApiError> {
        self.fetch(Call::attacks()).await
    }

    pub async fn scenarios(&self) -> Result<ScenariosBody, ApiError> {
        self.fetch(Call::scenarios()).await
    }

    pub async fn scenario_status(&self) -> Result<ScenarioStatusBody, ApiError> {
        self.fetch(Call::scenario_status()).await
    }

    /// A command without a body that answers with `T`.
    pub async fn command<T: DeserializeOwned>(&self, call: Call) -> Result<T, ApiError> {
        self.fetch(call).await
    }
}

#[cfg(test)]
mod lab_call_tests {
    use super::*;
    use shared::attack::AttackKind;
    use shared::scenario::ScenarioRunRequest;
    use shared::stats::{Distribution, NetworkHashrateRequest, NodeHashrateRequest};

    #[test]
    fn the_lab_calls_carry_the_token_only_when_they_change_something() {
        let api = Api::new("http://127.0.0.1:4999").with_token(Some("t"));
        for read in [
            Call::hash_power(),
            Call::stats(),
            Call::attacks(),
            Call::scenarios(),
            Call::scenario_status(),
        ] {
            assert_eq!(api.authorization(&read), None, "{read:?}");
        }
        for command in [Call::stats_reset(), Call::attacks_stop()] {
            assert_eq!(command.method, Method::Post);
            assert!(api.authorization(&command).is_some(), "{command:?}");
        }
        let json = JsonCall::node_hashrate("n1", 500.0);
        assert!(api.authorization(&json.call).is_some());
    }

    #[test]
    fn the_lab_bodies_are_what_the_manager_reads() {
        let node = JsonCall::node_hashrate("n1", 500.0);
        assert_eq!(node.call.path, "/nodes/n1/hashrate");
        let request: NodeHashrateRequest = serde_json::from_value(node.body).unwrap();
        assert_eq!(request.attempts_per_sec, 500.0);

        let network = JsonCall::network_hashrate(3000.0, "zipf");
        assert_eq!(network.call.path, "/network/hashrate");
        let request: NetworkHashrateRequest = serde_json::from_value(network.body).unwrap();
        assert_eq!(request.total, 3000.0);
        assert_eq!(request.distribution, Distribution::Named("zipf".into()));

        let attack = AttackRequest {
            kind: AttackKind::Forger,
            node: "n2".into(),
            hashrate_share: 0.3,
            confirmations: None,
            entry: None,
            double_spend: None,
            mode: None,
            rule: Some(shared::strategy::ForgeRule::BadMerkleRoot),
        };
        let sent = JsonCall::attack(&attack);
        assert_eq!(sent.call.path, "/attacks");
        let read: AttackRequest = serde_json::from_value(sent.body).unwrap();
        assert_eq!(read, attack);

        let short = JsonCall::scenario_run("stale-rate", Some(5));
        let read: ScenarioRunRequest = serde_json::from_value(short.body).unwrap();
        assert_eq!((read.name.as_str(), read.blocks), ("stale-rate", Some(5)));
        // The request type refuses unknown fields, and a null `blocks` is
        // left out rather than sent.
        let whole = JsonCall::scenario_run("selfish", None);
        assert_eq!(whole.body, serde_json::json!({ "name": "selfish" }));
        let read: ScenarioRunRequest = serde_json::from_value(whole.body).unwrap();
        assert_eq!(read.blocks, None);
    }
}

#[cfg(test)]
mod network_call_tests {
    use super::*;

    #[test]
    fn the_lab_calls_are_commands_with_the_bodies_the_manager_takes() {
        let api = Api::new("http://127.0.0.1:4999").with_token(Some("t"));
        assert_eq!(api.authorization(&Call::network()), None, "a read");
        assert!(api.authorization(&Call::network_heal()).is_some());
        let slow = LinkConditions {
            latency_ms: 300,
            ..LinkConditions::CLEAR
        };
        let links = JsonCall::links("n1", "n2", &slow);
        assert_eq!(links.call.path, "/network/links");
        assert!(links.call.command);
        // The manager's own request type reads the body back.
        let request: shared::api::NetworkLinksRequest = serde_json::from_value(links.body).unwrap();
        assert_eq!((request.a.as_str(), request.b.as_str()), ("n1", "n2"));
        assert_eq!(request.latency_ms, Some(300));
        assert_eq!(request.down, Some(false));
        let preset: shared::api::NetworkLinksRequest =
            serde_json::from_value(JsonCall::links_preset(LinkPreset::Global).body).unwrap();
        assert_eq!(preset.preset, Some(LinkPreset::Global));
        let partition: shared::api::PartitionRequest =
            serde_json::from_value(JsonCall::partition(&[vec!["n1".into(), "n2".into()]]).body)
                .unwrap();
        assert_eq!(partition.groups, vec![vec!["n1", "n2"]]);
        let topology: shared::api::TopologyRequest =
            serde_json::from_value(JsonCall::topology("ring").body).unwrap();
        assert_eq!(topology.kind.to_string(), "ring");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api() -> Api {
        Api::new("http://127.0.0.1:4999/")
    }

    /// Every call the page makes, each with a name for the messages.
    fn every_call() -> Vec<(&'static str, Call)> {
        let hash = BlockHash::from_bytes([7; 32]);
        vec![
            ("nodes", Call::nodes()),
            ("start mining", Call::start_mining(MiningMode::Rounds)),
            ("stop mining", Call::stop_mining()),
            ("shut down all", Call::shutdown_all()),
            ("add node", Call::add_node()),
            ("mine", Call::mine("n1")),
            ("start", Call::node_action("n1", NodeAction::StartMining)),
            ("stop", Call::node_action("n1", NodeAction::StopMining)),
            ("isolate", Call::node_action("n1", NodeAction::Isolate)),
            ("reconnect", Call::node_action("n1", NodeAction::Reconnect)),
            ("shut down", Call::node_action("n1", NodeAction::Shutdown)),
            ("restart", Call::restart("n1")),
            ("status", Call::status("n1")),
            ("tips", Call::tips("n1")),
            ("block", Call::block("n1", &hash)),
            ("chain", Call::chain_page("n1", 0, 10)),
        ]
    }

    #[test]
    fn events_url_follows_the_scheme() {
        assert_eq!(api().events_url(), "ws://127.0.0.1:4999/events");
        assert_eq!(
            Api::new("https://example.test").events_url(),
            "wss://example.test/events"
        );
    }

    #[test]
    fn the_token_goes_on_the_events_url_as_access_token() {
        let api = api().with_token(Some("0123abcd"));
        assert_eq!(
            api.events_url(),
            "ws://127.0.0.1:4999/events?access_token=0123abcd"
        );
        // Whatever the reader typed stays one query value.
        let odd = Api::new("http://h:1").with_token(Some(" a b&c=d/é "));
        assert_eq!(
            odd.events_url(),
            "ws://h:1/events?access_token=a%20b%26c%3Dd%2F%C3%A9"
        );
    }

    #[test]
    fn every_command_and_no_read_carries_the_bearer_token() {
        let api = api().with_token(Some("s3cret"));
        let reads = ["nodes", "status", "tips", "block", "chain"];
        for (name, call) in every_call() {
            let expected = (!reads.contains(&name)).then(|| "Bearer s3cret".to_owned());
            assert_eq!(api.authorization(&call), expected, "{name}: {call:?}");
            assert_eq!(call.command, expected.is_some(), "{name}");
        }
    }

    #[test]
    fn commands_keep_the_originals_methods_and_paths() {
        let api = api();
        let sent = |call: Call| (call.method, api.url(&call));
        assert_eq!(
            sent(Call::start_mining(MiningMode::Continuous)),
            (
                Method::Get,
                "http://127.0.0.1:4999/start/mining?mode=continuous".into()
            )
        );
        assert_eq!(
            sent(Call::stop_mining()),
            (Method::Get, "http://127.0.0.1:4999/stop/mining".into())
        );
        assert_eq!(
            sent(Call::shutdown_all()),
            (Method::Get, "http://127.0.0.1:4999/shutdown/all".into())
        );
        assert_eq!(
            sent(Call::node_action("n1", NodeAction::StartMining)),
            (
                Method::Post,
                "http://127.0.0.1:4999/nodes/n1/mining/start".into()
            )
        );
        assert_eq!(
            sent(Call::mine("n1")),
            (Method::Post, "http://127.0.0.1:4999/nodes/n1/mine".into())
        );
    }

    #[test]
    fn without_a_token_nothing_carries_one_and_401_says_it_is_needed() {
        let none = api();
        let blank = api().with_token(Some("   "));
        for (name, call) in every_call() {
            assert_eq!(none.authorization(&call), None, "{name}");
            assert_eq!(blank.authorization(&call), None, "{name}");
        }
        assert_eq!(blank.events_url(), "ws://127.0.0.1:4999/events");
        let mine = Call::mine("n1");
        assert_eq!(none.unauthorized(&mine), ApiError::TokenNeeded);
        assert_eq!(
            api().with_token(Some("wrong")).unauthorized(&mine),
            ApiError::TokenRefused
        );
        assert!(ApiError::TokenNeeded.to_string().contains("needs a token"));
        assert!(
            ApiError::TokenRefused
                .to_string()
                .contains("refused the token")
        );
    }
}
