//! The bodies of the manager's attack commands: `POST /attacks` starts one
//! on a node (its strategy and its share of the hash power), `GET /attacks`
//! shows how it fares, `POST /attacks/stop` ends it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The node strategies an attack can give (the node's `strategy` tag).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AttackKind {
    /// Withhold blocks and publish them to win races (Eyal and Sirer).
    Selfish,
    /// Pay with `entry`, mine a private branch with `double_spend`, and
    /// release it after `confirmations` (Nakamoto, section 11).
    Private,
    /// Stamp blocks too far in the future or the past (`mode`).
    Timestamp,
    /// Break one consensus rule (`rule`) in every block.
    Forger,
}

/// `POST /attacks`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct AttackRequest {
    pub kind: AttackKind,
    /// The attacker: a node id, port or host:port.
    pub node: String,
    /// The attacker's share of the network's current total hash rate,
    /// strictly between 0 and 1; the rest is split equally over the others.
    #[cfg_attr(
        feature = "openapi",
        schema(exclusive_minimum = 0.0, exclusive_maximum = 1.0)
    )]
    pub hashrate_share: f64,
    /// `private`: blocks on top of the payment before the release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmations: Option<u64>,
    /// `private`: the payment the merchant sees (default `pay Alice`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<String>,
    /// `private`: what the private branch carries instead (default `pay Mallory`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub double_spend: Option<String>,
    /// `timestamp`: `future` or `past`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    /// `forger`: `bad_proof_of_work`, `bad_merkle_root`, `wrong_bits` or
    /// `wrong_previous_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

/// `GET /attacks`: the running attack (or the last one, once stopped).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttacksBody {
    pub running: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attack: Option<AttackFigures>,
}

/// How an attack fares since it began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AttackFigures {
    pub kind: AttackKind,
    /// The attacker's id and address.
    pub node: String,
    pub address: String,
    /// Its share of the hash power: its fair share of the best chain.
    pub hashrate_share: f64,
    pub started_at: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_at: Option<u64>,
    /// The best chain's height when the attack began.
    pub start_height: u64,
    /// Best-chain blocks above `start_height` (on an honest node's chain).
    pub best_chain_blocks: u64,
    /// Of those, the attacker's.
    pub attacker_blocks: u64,
    /// `attacker_blocks / best_chain_blocks`; 0 before any block.
    pub attacker_share: f64,
    /// Blocks honest nodes mined since the start that are not on the best chain.
    pub honest_orphaned: u64,
    /// `private`: whether the paid entry is on the best chain now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_on_best_chain: Option<bool>,
    /// `private`: whether the double spend is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub double_spend_on_best_chain: Option<bool>,
    /// Blocks refused since the start, by the rule they broke.
    pub rejections: BTreeMap<String, RejectionCount>,
    /// Peers banned since the start.
    pub bans: Vec<BanRecord>,
}

/// Refusals of one rule: how many, and which nodes refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RejectionCount {
    pub count: u64,
    pub nodes: Vec<String>,
}

/// A node banned a peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct BanRecord {
    /// The node that banned.
    pub node: String,
    /// The peer it banned (`host:port`).
    pub peer: String,
    pub reason: String,
    pub until: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_names_its_kind_in_snake_case_and_refuses_unknown_fields() {
        let request: AttackRequest = serde_json::from_str(
            r#"{"kind":"forger","node":"5001","hashrate_share":0.3,"rule":"wrong_bits"}"#,
        )
        .unwrap();
        assert_eq!(request.kind, AttackKind::Forger);
        assert!(
            serde_json::from_str::<AttackRequest>(
                r#"{"kind":"forger","node":"5001","hashrate_share":0.3,"colour":1}"#
            )
            .is_err()
        );
        assert!(
            serde_json::from_str::<AttackRequest>(
                r#"{"kind":"bribe","node":"5001","hashrate_share":0.3}"#
            )
            .is_err()
        );
    }
}
