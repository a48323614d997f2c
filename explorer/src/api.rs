//! Every HTTP call the explorer makes, all to the manager.
//!
//! The manager is the page's own origin by default; `?manager=http://host:port`
//! points the page at another one (for `trunk serve` during development).
//! Every request has a timeout, and every failure becomes an [`ApiError`]
//! that says what went wrong in words a person can act on.

use futures::future::{Either, select};
use gloo_net::http::{Request, RequestBuilder, Response};
use gloo_timers::future::TimeoutFuture;
use serde::de::DeserializeOwned;
use shared::api::{
    ChainBody, ErrorBody, MessageBody, MinedBody, NodeSummary, NodesBody, ShutdownReport,
    StatusBody, TipsBody,
};
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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Api {
    /// `http://host:port`, without a trailing slash.
    base: String,
}

impl Api {
    pub fn new(base: impl Into<String>) -> Self {
        let base = base.into();
        Self {
            base: base.trim_end_matches('/').to_owned(),
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

    /// The manager's `/events` WebSocket URL.
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
        format!("{rest}/events")
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn nodes(&self) -> Result<Vec<NodeSummary>, ApiError> {
        let body: NodesBody = send(Request::get(&self.url("/nodes")), TIMEOUT_MS).await?;
        Ok(body.nodes)
    }

    pub async fn start_mining(&self, mode: MiningMode) -> Result<MessageBody, ApiError> {
        let mode = match mode {
            MiningMode::Continuous => "continuous",
            MiningMode::Rounds => "rounds",
        };
        let url = self.url(&format!("/start/mining?mode={mode}"));
        send(Request::get(&url), TIMEOUT_MS).await
    }

    pub async fn stop_mining(&self) -> Result<MessageBody, ApiError> {
        send(Request::get(&self.url("/stop/mining")), TIMEOUT_MS).await
    }

    pub async fn shutdown_all(&self) -> Result<ShutdownReport, ApiError> {
        send(Request::get(&self.url("/shutdown/all")), TIMEOUT_MS * 2).await
    }

    pub async fn add_node(&self) -> Result<NodeSummary, ApiError> {
        send(Request::post(&self.url("/nodes")), TIMEOUT_MS * 2).await
    }

    pub async fn mine(&self, id: &str) -> Result<MinedBody, ApiError> {
        let url = self.url(&format!("/nodes/{id}/mine"));
        send(Request::post(&url), MINE_TIMEOUT_MS).await
    }

    pub async fn node_action(&self, id: &str, action: NodeAction) -> Result<MessageBody, ApiError> {
        let url = self.url(&format!("/nodes/{id}/{}", action.path()));
        send(Request::post(&url), TIMEOUT_MS).await
    }

    pub async fn restart(&self, id: &str) -> Result<NodeSummary, ApiError> {
        let url = self.url(&format!("/nodes/{id}/restart"));
        send(Request::post(&url), TIMEOUT_MS * 2).await
    }

    pub async fn status(&self, id: &str) -> Result<StatusBody, ApiError> {
        let url = self.url(&format!("/nodes/{id}/status"));
        send(Request::get(&url), TIMEOUT_MS).await
    }

    pub async fn tips(&self, id: &str) -> Result<TipsBody, ApiError> {
        let url = self.url(&format!("/nodes/{id}/tips"));
        send(Request::get(&url), TIMEOUT_MS).await
    }

    pub async fn block(&self, id: &str, hash: &BlockHash) -> Result<Block, ApiError> {
        let url = self.url(&format!("/nodes/{id}/blocks/{hash}"));
        send(Request::get(&url), TIMEOUT_MS).await
    }

    /// One page of `id`'s best chain: up to `limit` blocks from height `from`.
    pub async fn chain_page(&self, id: &str, from: u64, limit: u64) -> Result<ChainBody, ApiError> {
        let url = self.url(&format!("/nodes/{id}/chain?from={from}&limit={limit}"));
        send(Request::get(&url), TIMEOUT_MS).await
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

/// Sends `request`, waits at most `timeout_ms`, and reads a `T` from a 2xx
/// answer or the `ErrorBody` from any other.
async fn send<T: DeserializeOwned>(
    request: RequestBuilder,
    timeout_ms: u32,
) -> Result<T, ApiError> {
    let abort = web_sys::AbortController::new().ok();
    let request = request.abort_signal(abort.as_ref().map(|a| a.signal()).as_ref());
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

async fn read<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    let status = response.status();
    let text = response
        .text()
        .await
        .map_err(|err| ApiError::BadAnswer(err.to_string()))?;
    if !response.ok() {
        let message = serde_json::from_str::<ErrorBody>(&text)
            .map(|body| body.error)
            .unwrap_or_else(|_| {
                if text.trim().is_empty() {
                    response.status_text()
                } else {
                    text.chars().take(200).collect()
                }
            });
        return Err(ApiError::Refused { status, message });
    }
    serde_json::from_str(&text).map_err(|err| ApiError::BadAnswer(err.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_url_follows_the_scheme() {
        assert_eq!(
            Api::new("http://127.0.0.1:4999/").events_url(),
            "ws://127.0.0.1:4999/events"
        );
        assert_eq!(
            Api::new("https://example.test").events_url(),
            "wss://example.test/events"
        );
    }
}
