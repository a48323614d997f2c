//! Typed HTTP calls to one node, every one with a timeout, so a dead or
//! hung node costs the manager a bounded wait and never a stuck task.

use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use shared::api::{
    ChainBody, ErrorBody, HashrateBody, HashrateRequest, LinkConditionsUpdate, LinksBody,
    MessageBody, MinedBody, NodeIdBody, PeerAddressRequest, PeersBody, RegisterRequest,
    RegisterResponse, StatusBody, TipsBody,
};
use shared::{Block, BlockHash};

/// Quick questions (`/node/id`, `/status`, `/tips`) and commands that only
/// flip a switch in the node.
const SHORT: Duration = Duration::from_secs(3);
/// Pages of the chain can be large.
const PAGE: Duration = Duration::from_secs(15);
/// `/mine` answers once a block is found: seconds at default difficulty,
/// longer on a slow machine; never forever.
const MINE: Duration = Duration::from_secs(300);

/// Why a call to a node failed.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// No answer: refused, reset, or timed out.
    #[error("node {address} did not answer {path}: {reason}")]
    Unreachable {
        address: String,
        path: String,
        reason: String,
    },
    /// The node said no (a 4xx), with its own explanation.
    #[error("node {address} refused {path}: {}", body.error)]
    Rejected {
        address: String,
        path: String,
        status: StatusCode,
        body: ErrorBody,
    },
    /// The node failed (a 5xx or another unexpected status).
    #[error("node {address} failed on {path} with {status}: {message}")]
    Failed {
        address: String,
        path: String,
        status: StatusCode,
        message: String,
    },
    /// A success status with a body that is not the expected type.
    #[error("node {address} answered {path} with a body the manager cannot read: {reason}")]
    BadReply {
        address: String,
        path: String,
        reason: String,
    },
}

/// One HTTP client (one connection pool) for every node.
#[derive(Debug, Clone)]
pub struct NodeClient {
    http: reqwest::Client,
    /// Sent as `Authorization: Bearer` when the nodes were started with `--token`.
    token: Option<String>,
}

impl NodeClient {
    pub fn new(token: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(SHORT)
            // Nodes live on this machine or next to it; an HTTP(S)_PROXY set
            // for the internet must not capture loopback traffic.
            .no_proxy()
            .build()
            .unwrap_or_default();
        NodeClient { http, token }
    }

    pub async fn node_id(&self, address: &str) -> Result<NodeIdBody, NodeError> {
        self.call(Method::GET, address, "/node/id", SHORT, None::<&()>)
            .await
    }

    pub async fn status(&self, address: &str) -> Result<StatusBody, NodeError> {
        self.call(Method::GET, address, "/status", SHORT, None::<&()>)
            .await
    }

    pub async fn tips(&self, address: &str) -> Result<TipsBody, NodeError> {
        self.call(Method::GET, address, "/tips", SHORT, None::<&()>)
            .await
    }

    pub async fn chain(
        &self,
        address: &str,
        from: Option<u64>,
        limit: Option<u64>,
    ) -> Result<ChainBody, NodeError> {
        let mut query = Vec::new();
        if let Some(from) = from {
            query.push(format!("from={from}"));
        }
        if let Some(limit) = limit {
            query.push(format!("limit={limit}"));
        }
        let path = if query.is_empty() {
            "/chain".to_owned()
        } else {
            format!("/chain?{}", query.join("&"))
        };
        self.call(Method::GET, address, &path, PAGE, None::<&()>)
            .await
    }

    pub async fn block(&self, address: &str, hash: &BlockHash) -> Result<Block, NodeError> {
        let path = format!("/blocks/{hash}");
        self.call(Method::GET, address, &path, PAGE, None::<&()>)
            .await
    }

    pub async fn register(
        &self,
        address: &str,
        request: &RegisterRequest,
    ) -> Result<RegisterResponse, NodeError> {
        self.call(
            Method::POST,
            address,
            "/nodes/register",
            SHORT,
            Some(request),
        )
        .await
    }

    pub async fn mine(&self, address: &str) -> Result<MinedBody, NodeError> {
        self.call(Method::POST, address, "/mine", MINE, None::<&()>)
            .await
    }

    /// A bodiless `POST` answered with a [`MessageBody`]: `/mining/start`,
    /// `/mining/stop`, `/network/isolate`, `/network/reconnect`, `/shutdown`.
    pub async fn command(&self, address: &str, path: &str) -> Result<MessageBody, NodeError> {
        self.call(Method::POST, address, path, SHORT, None::<&()>)
            .await
    }

    /// Cap the node's miner at `attempts_per_sec` over all its threads; 0 is none.
    pub async fn set_hashrate(
        &self,
        address: &str,
        attempts_per_sec: u64,
    ) -> Result<HashrateBody, NodeError> {
        let body = HashrateRequest { attempts_per_sec };
        self.call(
            Method::POST,
            address,
            "/mining/hashrate",
            SHORT,
            Some(&body),
        )
        .await
    }

    /// Every link of the node, with counters and conditions.
    pub async fn peers(&self, address: &str) -> Result<PeersBody, NodeError> {
        self.call(Method::GET, address, "/peers", SHORT, None::<&()>)
            .await
    }

    /// Close the node's link to `peer` and have it forget the peer.
    pub async fn disconnect(&self, address: &str, peer: &str) -> Result<PeersBody, NodeError> {
        let body = PeerAddressRequest {
            address: peer.to_owned(),
        };
        self.call(
            Method::POST,
            address,
            "/peers/disconnect",
            SHORT,
            Some(&body),
        )
        .await
    }

    /// Change the conditions of what the node sends (on one link, or all).
    pub async fn set_links(
        &self,
        address: &str,
        update: &LinkConditionsUpdate,
    ) -> Result<LinksBody, NodeError> {
        self.call(Method::POST, address, "/network/links", SHORT, Some(update))
            .await
    }

    /// `POST /strategy`: how the node mines and relays.
    pub async fn set_strategy(
        &self,
        address: &str,
        strategy: &shared::strategy::Strategy,
    ) -> Result<shared::strategy::StrategyBody, NodeError> {
        self.call(Method::POST, address, "/strategy", SHORT, Some(strategy))
            .await
    }

    /// `GET /strategy`: the node's strategy and its live state.
    pub async fn strategy(
        &self,
        address: &str,
    ) -> Result<shared::strategy::StrategyBody, NodeError> {
        self.call(Method::GET, address, "/strategy", SHORT, None::<&()>)
            .await
    }

    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        method: Method,
        address: &str,
        path: &str,
        timeout: Duration,
        body: Option<&B>,
    ) -> Result<T, NodeError> {
        let mut request = self
            .http
            .request(method, format!("http://{address}{path}"))
            .timeout(timeout);
        if let Some(body) = body {
            request = request.json(body);
        }
        // Failing to send or to read the reply both mean the node did not answer.
        let unreachable = |err: reqwest::Error| NodeError::Unreachable {
            address: address.to_owned(),
            path: path.to_owned(),
            reason: error_chain(&err),
        };
        let response = self.authorize(request).send().await.map_err(unreachable)?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(unreachable)?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|err| NodeError::BadReply {
                address: address.to_owned(),
                path: path.to_owned(),
                reason: err.to_string(),
            });
        }
        let text = String::from_utf8_lossy(&bytes);
        if status.is_client_error() {
            let body = serde_json::from_slice::<ErrorBody>(&bytes).unwrap_or_else(|_| ErrorBody {
                error: format!("{status}: {}", text.trim()),
            });
            return Err(NodeError::Rejected {
                address: address.to_owned(),
                path: path.to_owned(),
                status,
                body,
            });
        }
        let message = serde_json::from_slice::<ErrorBody>(&bytes)
            .map(|body| body.error)
            .unwrap_or_else(|_| text.trim().to_owned());
        Err(NodeError::Failed {
            address: address.to_owned(),
            path: path.to_owned(),
            status,
            message,
        })
    }

    fn authorize(&self, request: RequestBuilder) -> RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }
}

/// reqwest's own message ("error sending request") hides the cause
/// ("Connection refused"); the whole chain says what went wrong.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
