//! [`Event`]'s JSON decoder, written out with [`tagged`] instead of
//! derived.
//!
//! The derive for a `flatten`ed, internally tagged enum buffers every
//! message twice in serde's private `Content` tree and instantiates a
//! decoder per variant per buffer type: 230 KB of the explorer's wasm before
//! wasm-opt, 14 % of its code. Here the message is read once into a JSON
//! object and each variant takes its fields out of it by name: the shape
//! the derived `Serialize` writes, `{"type", "at", "node"?, ...fields}`.

use serde::{Deserialize, Deserializer};
use serde_json::Error;

use super::{Event, EventKind};
use crate::tagged::{self, Fields};

/// Every `type` a message may have, in [`EventKind`]'s order.
const KINDS: &[&str] = &[
    "block_mined",
    "block_accepted",
    "block_rejected",
    "chain_reorganized",
    "peer_added",
    "peer_unreachable",
    "peer_connected",
    "peer_disconnected",
    "peer_banned",
    "mining_started",
    "mining_stopped",
    "entry_added",
    "isolated",
    "reconnected",
    "shutting_down",
    "strategy_changed",
    "blocks_published",
    "block_offered",
    "events_dropped",
    "node_started",
    "node_stopped",
    "node_unreachable",
    "network_ready",
    "snapshot",
    "stats",
];

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        tagged::decode(deserializer, Self::from_fields)
    }
}

impl Event {
    fn from_fields(fields: &mut Fields) -> Result<Self, Error> {
        Ok(Self {
            at: fields.take("at")?,
            node: fields.optional("node")?,
            kind: EventKind::from_fields(fields)?,
        })
    }
}

impl EventKind {
    /// The variant the `type` field names, from the fields.
    fn from_fields(fields: &mut Fields) -> Result<Self, Error> {
        let kind = fields.tag("type")?;
        let f = fields;
        Ok(match kind.as_str() {
            "block_mined" => EventKind::BlockMined {
                height: f.take("height")?,
                hash: f.take("hash")?,
                attempts: f.take("attempts")?,
                elapsed_ms: f.take("elapsed_ms")?,
                entries: f.take("entries")?,
            },
            "block_accepted" => EventKind::BlockAccepted {
                height: f.take("height")?,
                hash: f.take("hash")?,
                previous_hash: f.take("previous_hash")?,
                from: f.optional("from")?,
                active: f.take("active")?,
            },
            "block_rejected" => EventKind::BlockRejected {
                hash: f.take("hash")?,
                height: f.take("height")?,
                reason: f.take("reason")?,
                summary: f.take("summary")?,
                from: f.optional("from")?,
            },
            "chain_reorganized" => EventKind::ChainReorganized {
                old_tip: f.take("old_tip")?,
                new_tip: f.take("new_tip")?,
                depth: f.take("depth")?,
                fork_height: f.take("fork_height")?,
                new_height: f.take("new_height")?,
            },
            "peer_added" => EventKind::PeerAdded {
                id: f.take("id")?,
                address: f.take("address")?,
            },
            "peer_unreachable" => EventKind::PeerUnreachable {
                address: f.take("address")?,
                error: f.take("error")?,
            },
            "peer_connected" => EventKind::PeerConnected {
                address: f.take("address")?,
                id: f.take("id")?,
                direction: f.take("direction")?,
            },
            "peer_disconnected" => EventKind::PeerDisconnected {
                address: f.take("address")?,
                reason: f.take("reason")?,
            },
            "peer_banned" => EventKind::PeerBanned {
                address: f.take("address")?,
                reason: f.take("reason")?,
                until: f.take("until")?,
            },
            "mining_started" => EventKind::MiningStarted {
                mode: f.take("mode")?,
            },
            "mining_stopped" => EventKind::MiningStopped,
            "entry_added" => EventKind::EntryAdded {
                data: f.take("data")?,
                pending: f.take("pending")?,
            },
            "isolated" => EventKind::Isolated,
            "reconnected" => EventKind::Reconnected,
            "shutting_down" => EventKind::ShuttingDown,
            "strategy_changed" => EventKind::StrategyChanged {
                strategy: f.take("strategy")?,
            },
            "blocks_published" => EventKind::BlocksPublished {
                count: f.take("count")?,
                tip: f.take("tip")?,
            },
            "block_offered" => EventKind::BlockOffered {
                hash: f.take("hash")?,
                height: f.take("height")?,
                deviation: f.take("deviation")?,
                peers: f.take("peers")?,
            },
            "events_dropped" => EventKind::EventsDropped {
                count: f.take("count")?,
            },
            "node_started" => EventKind::NodeStarted {
                address: f.take("address")?,
                pid: f.optional("pid")?,
            },
            "node_stopped" => EventKind::NodeStopped {
                address: f.take("address")?,
                outcome: f.take("outcome")?,
            },
            "node_unreachable" => EventKind::NodeUnreachable {
                address: f.take("address")?,
            },
            "network_ready" => EventKind::NetworkReady {
                nodes: f.take("nodes")?,
            },
            "snapshot" => EventKind::Snapshot {
                nodes: f.take("nodes")?,
                tips: f.take("tips")?,
            },
            "stats" => EventKind::Stats {
                stats: f.take("stats")?,
            },
            other => return Err(tagged::unknown(other, KINDS)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::BlockHash;

    fn decode(json: &str) -> Result<Event, String> {
        serde_json::from_str::<Event>(json).map_err(|err| err.to_string())
    }

    #[test]
    fn a_message_decodes_to_its_variant_and_stamp() {
        let hash = BlockHash::from_bytes([7; 32]);
        let json = format!(
            r#"{{"type":"block_mined","at":5,"node":"n1","height":2,"hash":"{hash}","attempts":9,"elapsed_ms":3,"entries":1}}"#
        );
        let event = decode(&json).unwrap();
        assert_eq!(event.at, 5);
        assert_eq!(event.node.as_deref(), Some("n1"));
        assert_eq!(
            event.kind,
            EventKind::BlockMined {
                height: 2,
                hash,
                attempts: 9,
                elapsed_ms: 3,
                entries: 1
            }
        );
    }

    #[test]
    fn node_and_optional_fields_may_be_absent_or_null() {
        let event = decode(r#"{"type":"node_started","at":1,"address":"a:1"}"#).unwrap();
        assert_eq!(event.node, None);
        assert_eq!(
            event.kind,
            EventKind::NodeStarted {
                address: "a:1".into(),
                pid: None
            }
        );
        let event =
            decode(r#"{"type":"node_started","at":1,"node":null,"pid":null,"address":"a:1"}"#)
                .unwrap();
        assert_eq!(event.node, None);
        assert!(matches!(
            event.kind,
            EventKind::NodeStarted { pid: None, .. }
        ));
    }

    #[test]
    fn fields_this_build_does_not_know_are_ignored() {
        let event = decode(r#"{"type":"isolated","at":1,"node":"n","later":[1,{"x":2}]}"#).unwrap();
        assert_eq!(event.kind, EventKind::Isolated);
    }

    #[test]
    fn a_message_that_is_not_an_object_is_refused() {
        let err = decode(r#"["isolated",1]"#).unwrap_err();
        assert!(err.contains("expected a map"), "{err}");
    }

    #[test]
    fn a_message_without_a_type_is_refused() {
        let err = decode(r#"{"at":1}"#).unwrap_err();
        assert!(err.contains("missing field `type`"), "{err}");
    }

    #[test]
    fn a_message_without_its_time_is_refused() {
        let err = decode(r#"{"type":"isolated"}"#).unwrap_err();
        assert!(err.contains("missing field `at`"), "{err}");
    }

    #[test]
    fn an_unknown_type_is_refused_by_name() {
        let err = decode(r#"{"type":"block_teleported","at":1}"#).unwrap_err();
        assert!(err.contains("unknown variant `block_teleported`"), "{err}");
        assert!(err.contains("`block_mined`"), "{err}");
    }

    #[test]
    fn a_missing_field_is_refused_by_name() {
        let err =
            decode(r#"{"type":"peer_banned","at":1,"address":"a:1","reason":"r"}"#).unwrap_err();
        assert!(err.contains("missing field `until`"), "{err}");
    }

    #[test]
    fn a_field_of_the_wrong_type_is_refused_by_name() {
        let err = decode(r#"{"type":"events_dropped","at":1,"count":"many"}"#).unwrap_err();
        assert!(err.contains("field `count`"), "{err}");
        let err = decode(r#"{"type":"isolated","at":-1}"#).unwrap_err();
        assert!(err.contains("field `at`"), "{err}");
        let err = decode(r#"{"type":7,"at":1}"#).unwrap_err();
        assert!(err.contains("field `type`"), "{err}");
    }

    #[test]
    fn kinds_lists_every_variant_under_the_name_serialize_writes() {
        // One value of each variant, serialized, must carry the name at the
        // same place in KINDS (the unknown-variant message lists them).
        let samples = super::super::tests::one_of_each();
        assert_eq!(samples.len(), KINDS.len());
        for (kind, name) in samples.iter().zip(KINDS) {
            let json = serde_json::to_value(Event {
                at: 0,
                node: None,
                kind: kind.clone(),
            })
            .unwrap();
            assert_eq!(json["type"], *name);
        }
    }
}
