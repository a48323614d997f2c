//! The bodies of the manager's attack commands: `POST /attacks` starts one
//! on a node (its strategy and its share of the hash power), `GET /attacks`
//! shows how it fares, `POST /attacks/stop` ends it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::strategy::{ForgeRule, Strategy, StrategyError, StrategyState, TimestampMode};

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
    pub mode: Option<TimestampMode>,
    /// `forger`: `bad_proof_of_work`, `bad_merkle_root`, `wrong_bits` or
    /// `wrong_previous_hash`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<ForgeRule>,
}

/// What the payment and the double spend are, unless a `private` attack
/// names them.
pub const DEFAULT_ENTRY: &str = "pay Alice";
pub const DEFAULT_DOUBLE_SPEND: &str = "pay Mallory";

/// Why an attack request names no strategy a node would run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AttackError {
    #[error("a private attack needs confirmations (e.g. 2)")]
    NoConfirmations,
    #[error("a timestamp attack needs mode: \"future\" or \"past\"")]
    NoMode,
    #[error(
        "a forger needs rule: one of bad_proof_of_work, bad_merkle_root, wrong_bits, wrong_previous_hash"
    )]
    NoRule,
    #[error(transparent)]
    Strategy(#[from] StrategyError),
}

impl AttackRequest {
    /// The strategy the attacker's node is given: the kind with its
    /// parameters, checked as the node checks them.
    pub fn strategy(&self) -> Result<Strategy, AttackError> {
        let strategy = match self.kind {
            AttackKind::Selfish => Strategy::Selfish,
            AttackKind::Private => Strategy::Private {
                confirmations: self.confirmations.ok_or(AttackError::NoConfirmations)?,
                entry: self.entry.as_deref().unwrap_or(DEFAULT_ENTRY).to_owned(),
                double_spend: self
                    .double_spend
                    .as_deref()
                    .unwrap_or(DEFAULT_DOUBLE_SPEND)
                    .to_owned(),
            },
            AttackKind::Timestamp => Strategy::Timestamp {
                mode: self.mode.ok_or(AttackError::NoMode)?,
            },
            AttackKind::Forger => Strategy::Forger {
                rule: self.rule.ok_or(AttackError::NoRule)?,
            },
        };
        strategy.check()?;
        Ok(strategy)
    }
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
    /// The attacker's own view (its `GET /strategy`), when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<Strategy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<StrategyState>,
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

    fn request(kind: AttackKind) -> AttackRequest {
        AttackRequest {
            kind,
            node: "0".to_owned(),
            hashrate_share: 0.3,
            confirmations: None,
            entry: None,
            double_spend: None,
            mode: None,
            rule: None,
        }
    }

    #[test]
    fn each_kind_becomes_the_nodes_strategy() {
        assert_eq!(
            request(AttackKind::Selfish).strategy(),
            Ok(Strategy::Selfish)
        );
        let private = AttackRequest {
            confirmations: Some(2),
            ..request(AttackKind::Private)
        };
        assert_eq!(
            private.strategy(),
            Ok(Strategy::Private {
                confirmations: 2,
                entry: DEFAULT_ENTRY.to_owned(),
                double_spend: DEFAULT_DOUBLE_SPEND.to_owned()
            })
        );
        let forger = AttackRequest {
            rule: Some(ForgeRule::WrongBits),
            ..request(AttackKind::Forger)
        };
        assert_eq!(
            forger.strategy(),
            Ok(Strategy::Forger {
                rule: ForgeRule::WrongBits
            })
        );
        let timestamp = AttackRequest {
            mode: Some(TimestampMode::Past),
            ..request(AttackKind::Timestamp)
        };
        assert_eq!(
            timestamp.strategy(),
            Ok(Strategy::Timestamp {
                mode: TimestampMode::Past
            })
        );
    }

    #[test]
    fn a_private_attack_without_confirmations_is_refused() {
        assert_eq!(
            request(AttackKind::Private).strategy(),
            Err(AttackError::NoConfirmations)
        );
    }

    #[test]
    fn a_private_attack_is_checked_as_the_node_checks_it() {
        let same = AttackRequest {
            confirmations: Some(2),
            entry: Some("x".to_owned()),
            double_spend: Some("x".to_owned()),
            ..request(AttackKind::Private)
        };
        assert_eq!(
            same.strategy(),
            Err(AttackError::Strategy(StrategyError::SameEntries))
        );
    }

    #[test]
    fn a_timestamp_attack_needs_a_mode_and_a_forger_a_rule() {
        assert_eq!(
            request(AttackKind::Timestamp).strategy(),
            Err(AttackError::NoMode)
        );
        assert_eq!(
            request(AttackKind::Forger).strategy(),
            Err(AttackError::NoRule)
        );
    }

    #[test]
    fn an_unknown_mode_or_rule_is_refused_by_name() {
        for body in [
            r#"{"kind":"timestamp","node":"0","hashrate_share":0.3,"mode":"sideways"}"#,
            r#"{"kind":"forger","node":"0","hashrate_share":0.3,"rule":"bad_vibes"}"#,
        ] {
            let err = serde_json::from_str::<AttackRequest>(body).unwrap_err();
            assert!(err.to_string().contains("unknown variant"), "{err}");
        }
    }

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
