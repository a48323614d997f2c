//! The node's command line.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;
use shared::strategy::Strategy;
use shared::{ChainParams, LabParamsError, Preset};

/// A proof-of-work node of the powplay network playground.
#[derive(Debug, Clone, Parser)]
#[command(name = "node", version, about, long_about = None)]
pub struct Config {
    /// Port to listen on (0 lets the system pick a free one).
    #[arg(short = 'p', long, default_value_t = 5000)]
    pub port: u16,

    /// Address to bind. Anything but loopback requires a token.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,

    /// Where the block store lives [default: ./data/node-<port>].
    #[arg(long)]
    pub data_dir: Option<PathBuf>,

    /// A peer's host:port to connect to at start (repeatable).
    #[arg(long = "peer", value_name = "HOST:PORT")]
    pub peers: Vec<String>,

    /// Chain parameter preset: default (a block every few seconds),
    /// regtest (minimum difficulty, for tests) or lab (a fixed difficulty
    /// from --block-interval-ms and --network-hashrate).
    #[arg(long, default_value = "default")]
    pub chain: Preset,

    /// The lab chain's mean block interval, in ms (required with
    /// `--chain lab`, refused otherwise).
    #[arg(long, value_name = "MS", required_if_eq("chain", "lab"))]
    pub block_interval_ms: Option<u64>,

    /// The total attempts per second the lab network mines at, which sets
    /// its difficulty (required with `--chain lab`, refused otherwise).
    #[arg(long, value_name = "ATTEMPTS_PER_SEC", required_if_eq("chain", "lab"))]
    pub network_hashrate: Option<u64>,

    /// Bearer token that mutating endpoints require (and that this node
    /// sends to peers). Generated and printed when binding a non-loopback
    /// address without one.
    #[arg(long, env = "POWPLAY_TOKEN")]
    pub token: Option<String>,

    /// Most inbound peer links this node accepts.
    #[arg(long, default_value_t = 125)]
    pub max_peers: usize,

    /// How long a misbehaving peer stays banned, in seconds.
    #[arg(long, default_value_t = 600)]
    pub ban_secs: u64,

    /// Mining threads.
    #[arg(long, default_value_t = 1)]
    pub threads: usize,

    /// Cap on proof attempts per second over all mining threads; 0 means
    /// no cap. `POST /mining/hashrate` changes it while running.
    #[arg(long, default_value_t = 0, value_name = "ATTEMPTS_PER_SEC")]
    pub hashrate: u64,

    /// Least time between two blocks in continuous mining, in ms
    /// [default: 0, or 1000 on regtest where a proof takes microseconds].
    #[arg(long)]
    pub pace_ms: Option<u64>,

    /// Strategy to start with: honest, selfish, private, timestamp or
    /// forger (`POST /strategy` changes it while running).
    #[arg(long, default_value = "honest")]
    pub strategy: String,

    /// private: confirmations entry A gets before the branch is released
    /// (A's own block counts as the first).
    #[arg(long, default_value_t = 2)]
    pub confirmations: u64,

    /// private: entry A, put into the public chain.
    #[arg(long, default_value = "pay Alice")]
    pub entry: String,

    /// private: entry B, the double spend the private branch carries.
    #[arg(long, default_value = "pay Mallory")]
    pub double_spend: String,

    /// timestamp: future (beyond the max drift) or past (not after the
    /// median time past).
    #[arg(long, default_value = "future")]
    pub timestamp_mode: String,

    /// forger: bad_proof_of_work, bad_merkle_root, wrong_bits or
    /// wrong_previous_hash.
    #[arg(long, default_value = "bad_proof_of_work")]
    pub forge_rule: String,
}

/// Why the command line does not make a chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainConfigError {
    #[error("--chain lab needs --block-interval-ms and --network-hashrate")]
    LabNeedsParameters,
    #[error("--block-interval-ms and --network-hashrate only go with --chain lab, not {0}")]
    NotLab(Preset),
    #[error("bad lab parameters: {0}")]
    Lab(#[from] LabParamsError),
}

impl Config {
    /// The consensus parameters this node runs: a fixed preset's, or the
    /// lab chain's from its two flags.
    pub fn chain_params(&self) -> Result<ChainParams, ChainConfigError> {
        let lab = (self.block_interval_ms, self.network_hashrate);
        match (self.chain.fixed_params(), lab) {
            (Some(params), (None, None)) => Ok(params),
            (Some(_), _) => Err(ChainConfigError::NotLab(self.chain)),
            (None, (Some(interval_ms), Some(rate))) => Ok(ChainParams::lab(interval_ms, rate)?),
            (None, _) => Err(ChainConfigError::LabNeedsParameters),
        }
    }

    /// The strategy the flags describe, read as `POST /strategy` reads
    /// its body, so both take the same names and check the same things.
    pub fn strategy(&self) -> Result<Strategy, String> {
        let body = serde_json::json!({
            "strategy": self.strategy,
            "confirmations": self.confirmations,
            "entry": self.entry,
            "double_spend": self.double_spend,
            "mode": self.timestamp_mode,
            "rule": self.forge_rule,
        });
        // Only the chosen strategy's own fields are kept.
        let keep: &[&str] = match self.strategy.as_str() {
            "private" => &["strategy", "confirmations", "entry", "double_spend"],
            "timestamp" => &["strategy", "mode"],
            "forger" => &["strategy", "rule"],
            _ => &["strategy"],
        };
        let body: serde_json::Map<String, serde_json::Value> = body
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(k, _)| keep.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let strategy: Strategy = serde_json::from_value(body.into())
            .map_err(|e| format!("bad --strategy or its flags: {e}"))?;
        strategy.check().map_err(|e| e.to_string())?;
        Ok(strategy)
    }

    pub fn data_dir_for(&self, port: u16) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("./data/node-{port}")))
    }

    pub fn pace_ms(&self) -> u64 {
        self.pace_ms.unwrap_or(match self.chain {
            Preset::Regtest => 1000,
            // The lab's difficulty is its pace.
            Preset::Default | Preset::Lab => 0,
        })
    }
}
