//! The peer table and every request this node makes to its peers.
//!
//! One `reqwest::Client` keeps connections alive per peer; every request
//! has a timeout, and a peer that fails is marked unreachable (said once
//! as an event) and never holds anything else up.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Serialize, de::DeserializeOwned};
use shared::api::{HeadersBody, PeerInfo, PeerState};
use shared::{Block, BlockHash};

/// Header that marks a request as coming from a peer node (its address), so
/// an isolated node can refuse peer traffic while still serving the manager.
pub const PEER_HEADER: &str = "x-powplay-peer";

#[derive(Debug, Clone)]
struct Peer {
    id: String,
    state: PeerState,
    last_seen: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum PeerError {
    #[error("{address}: {message}")]
    Http { address: String, message: String },
    #[error("{address} answered {status}: {body}")]
    Status {
        address: String,
        status: u16,
        body: String,
    },
}

pub struct Peers {
    own_address: String,
    token: Option<String>,
    client: reqwest::Client,
    table: Mutex<BTreeMap<String, Peer>>,
    /// Bytes of block data received from peers (pushed blocks, fetched
    /// headers and blocks), for the propagation benchmark.
    pub bytes_received: AtomicU64,
}

impl Peers {
    pub fn new(own_address: String, token: Option<String>) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(500))
            .timeout(Duration::from_secs(5))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()
            .unwrap_or_default();
        Self {
            own_address,
            token,
            client,
            table: Mutex::new(BTreeMap::new()),
            bytes_received: AtomicU64::new(0),
        }
    }

    fn table(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Peer>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Adds or renames a peer; true if the address is new. Our own address
    /// is skipped, as the original did.
    pub fn add(&self, id: &str, address: &str) -> bool {
        if address == self.own_address {
            return false;
        }
        let mut table = self.table();
        match table.get_mut(address) {
            Some(peer) => {
                if !id.is_empty() {
                    peer.id = id.to_owned();
                }
                false
            }
            None => {
                table.insert(
                    address.to_owned(),
                    Peer {
                        id: id.to_owned(),
                        state: PeerState::New,
                        last_seen: None,
                    },
                );
                true
            }
        }
    }

    pub fn addresses(&self) -> Vec<String> {
        self.table().keys().cloned().collect()
    }

    pub fn len(&self) -> usize {
        self.table().len()
    }

    pub fn is_empty(&self) -> bool {
        self.table().is_empty()
    }

    /// id -> address, as `/node/id` shows them.
    pub fn ids(&self) -> BTreeMap<String, String> {
        self.table()
            .iter()
            .map(|(address, peer)| (peer.id.clone(), address.clone()))
            .collect()
    }

    pub fn infos(&self) -> Vec<PeerInfo> {
        self.table()
            .iter()
            .map(|(address, peer)| PeerInfo {
                id: peer.id.clone(),
                address: address.clone(),
                state: peer.state,
                last_seen: peer.last_seen,
            })
            .collect()
    }

    /// (id, address) pairs, for persisting.
    pub fn snapshot(&self) -> Vec<(String, String)> {
        self.table()
            .iter()
            .map(|(address, peer)| (peer.id.clone(), address.clone()))
            .collect()
    }

    /// Records the outcome of a request; returns true when a reachable peer
    /// just became unreachable (worth one event).
    fn record(&self, address: &str, ok: bool) -> bool {
        let mut table = self.table();
        let Some(peer) = table.get_mut(address) else {
            return false;
        };
        if ok {
            peer.state = PeerState::Reachable;
            peer.last_seen = Some(crate::clock::now_ms());
            false
        } else {
            let was = peer.state;
            peer.state = PeerState::Unreachable;
            was != PeerState::Unreachable
        }
    }

    fn request(
        &self,
        method: reqwest::Method,
        address: &str,
        path: &str,
    ) -> reqwest::RequestBuilder {
        let mut request = self
            .client
            .request(method, format!("http://{address}{path}"))
            .header(PEER_HEADER, &self.own_address);
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        request
    }

    async fn send<T: DeserializeOwned>(
        &self,
        address: &str,
        request: reqwest::RequestBuilder,
        count_bytes: bool,
    ) -> Result<T, (PeerError, bool)> {
        let http = |e: reqwest::Error| PeerError::Http {
            address: address.to_owned(),
            message: e.to_string(),
        };
        let result = async {
            let response = request.send().await.map_err(http)?;
            let status = response.status();
            let bytes = response.bytes().await.map_err(http)?;
            if count_bytes {
                self.bytes_received
                    .fetch_add(bytes.len() as u64, Ordering::Relaxed);
            }
            if !status.is_success() {
                return Err(PeerError::Status {
                    address: address.to_owned(),
                    status: status.as_u16(),
                    body: String::from_utf8_lossy(&bytes).chars().take(300).collect(),
                });
            }
            serde_json::from_slice(&bytes).map_err(|e| PeerError::Http {
                address: address.to_owned(),
                message: format!("bad JSON: {e}"),
            })
        }
        .await;
        // A peer that answered at all (even 4xx) is reachable.
        let answered = !matches!(result, Err(PeerError::Http { .. }));
        let newly_unreachable = self.record(address, answered);
        result.map_err(|e| (e, newly_unreachable))
    }

    /// Pushes a block to one peer (`POST /block/new`).
    pub async fn push_block(&self, address: &str, block: &Block) -> Result<(), (PeerError, bool)> {
        let request = self
            .request(reqwest::Method::POST, address, "/block/new")
            .query(&[("from", self.own_address.as_str())])
            .json(block);
        self.send::<serde_json::Value>(address, request, false)
            .await
            .map(drop)
    }

    /// Asks a peer for the headers after our locator.
    pub async fn headers(
        &self,
        address: &str,
        locator: &[BlockHash],
    ) -> Result<HeadersBody, (PeerError, bool)> {
        let locator: Vec<String> = locator.iter().map(ToString::to_string).collect();
        let request = self
            .request(reqwest::Method::GET, address, "/headers")
            .query(&[("locator", locator.join(","))]);
        self.send(address, request, true).await
    }

    pub async fn block(&self, address: &str, hash: BlockHash) -> Result<Block, (PeerError, bool)> {
        let request = self.request(reqwest::Method::GET, address, &format!("/blocks/{hash}"));
        self.send(address, request, true).await
    }

    /// Relays a data entry to one peer.
    pub async fn relay_entry<T: Serialize + ?Sized>(
        &self,
        address: &str,
        body: &T,
    ) -> Result<(), (PeerError, bool)> {
        let request = self
            .request(reqwest::Method::POST, address, "/entries")
            .json(body);
        self.send::<serde_json::Value>(address, request, false)
            .await
            .map(drop)
    }

    /// Fetches a node's `/node/id` (for `--peer` addresses given without an id).
    pub async fn node_id(
        &self,
        address: &str,
    ) -> Result<shared::api::NodeIdBody, (PeerError, bool)> {
        let request = self.request(reqwest::Method::GET, address, "/node/id");
        self.send(address, request, false).await
    }
}
