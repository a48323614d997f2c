//! Property tests: encodings round-trip, no single flipped bit of a valid
//! chain's blocks survives decoding plus validation, and the peer-message
//! decoder takes nothing a peer may not send.
#![cfg(not(target_arch = "wasm32"))]

use std::sync::OnceLock;

mod common;

use common::{any_block, any_header};
use proptest::prelude::*;
use shared::events::{Event, EventKind};
use shared::p2p::{self, Hello, Message, WireError};
use shared::{
    Block, BlockHash, ChainParams, Entry, Header, Preset, solve, spaced_chain, validate_chain,
};

/// A valid regtest chain whose blocks carry data entries, built once.
fn sample_chain() -> &'static (ChainParams, Vec<Block>, u64) {
    static CHAIN: OnceLock<(ChainParams, Vec<Block>, u64)> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let params = Preset::Regtest.params();
        let (mut chain, now) = spaced_chain(&params, 5, "prop", 1_000);
        // Give the tip two data entries so flips land in entry bytes too.
        let tip = chain.pop().unwrap();
        let entries = vec![
            tip.entries[0].clone(),
            Entry::data("hello, chain"),
            Entry::data("ünïcødé ✓"),
        ];
        chain.push(solve(Block::assemble(tip.header, entries)).unwrap());
        validate_chain(&params, &chain, now + 1).unwrap();
        (params, chain, now + 1)
    })
}

proptest! {
    #[test]
    fn header_bytes_round_trip(header in any_header()) {
        prop_assert_eq!(Header::from_bytes(&header.to_bytes()), header);
    }

    #[test]
    fn block_bytes_round_trip(block in any_block()) {
        prop_assert_eq!(Block::from_bytes(&block.to_bytes()).unwrap(), block);
    }

    #[test]
    fn block_json_round_trips(block in any_block()) {
        let json = serde_json::to_string(&block).unwrap();
        prop_assert_eq!(serde_json::from_str::<Block>(&json).unwrap(), block);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        if let Ok(block) = Block::from_bytes(&bytes) {
            // Whatever decodes must encode back to the very same bytes.
            prop_assert_eq!(block.to_bytes(), bytes);
        }
    }

    #[test]
    fn any_single_bit_flip_is_rejected(which in 0usize..6, bit in any::<prop::sample::Index>()) {
        let (params, chain, now) = sample_chain();
        let mut bytes = chain[which].to_bytes();
        let bit = bit.index(bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        if let Ok(flipped) = Block::from_bytes(&bytes) {
            let mut tampered = chain.clone();
            tampered[which] = flipped;
            let error = validate_chain(params, &tampered, *now);
            prop_assert!(error.is_err(), "flipping bit {} of block {} went unnoticed", bit, which);
            prop_assert_eq!(error.unwrap_err().index, which as u64);
        }
    }
}

fn any_hash() -> impl Strategy<Value = p2p::WireHash> {
    any::<[u8; 32]>().prop_map(|bytes| BlockHash::from_bytes(bytes).into())
}

fn any_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (
            any::<[u8; 32]>(),
            "[a-f0-9]{1,32}",
            1u16..,
            any::<u64>(),
            any::<[u8; 32]>()
        )
            .prop_map(|(params, node_id, port, best_height, best_work)| {
                let mut hello = Hello::new(
                    &Preset::Regtest.params(),
                    &node_id,
                    &format!("127.0.0.1:{port}"),
                    best_height,
                    shared::Work::from_be_bytes(best_work),
                );
                hello.params = params;
                Message::Hello(hello)
            }),
        ".{0,40}".prop_map(|reason| Message::Reject { reason }),
        prop::collection::vec(any_header(), 0..20).prop_map(|headers| Message::Headers {
            headers: headers.into_iter().map(Into::into).collect()
        }),
        prop::collection::vec(any_hash(), 0..40)
            .prop_map(|locator| Message::GetHeaders { locator }),
        prop::collection::vec(any_hash(), 0..40).prop_map(|hashes| Message::GetBlocks { hashes }),
        prop::collection::vec(any_hash(), 0..40).prop_map(|hashes| Message::NotFound { hashes }),
        any_block().prop_map(|block| Message::Block {
            block: block.into()
        }),
        ".{0,100}".prop_map(|data| Message::Entry { data }),
        any::<u64>().prop_map(|nonce| Message::Ping { nonce }),
        any::<u64>().prop_map(|nonce| Message::Pong { nonce }),
    ]
}

proptest! {
    #[test]
    fn peer_messages_round_trip(message in any_message()) {
        let frame = p2p::encode(&message);
        prop_assert_eq!(p2p::decode(&frame).unwrap(), message);
    }

    #[test]
    fn a_truncated_frame_is_refused(message in any_message(), cut in any::<prop::sample::Index>()) {
        let frame = p2p::encode(&message);
        let keep = cut.index(frame.len());
        prop_assert!(p2p::decode(&frame[..keep]).is_err(), "{} of {} bytes decoded", keep, frame.len());
    }

    #[test]
    fn a_frame_with_bytes_after_the_message_is_refused(message in any_message(), extra in prop::collection::vec(any::<u8>(), 1..8)) {
        let mut frame = p2p::encode(&message);
        frame.extend(extra);
        prop_assert!(matches!(p2p::decode(&frame), Err(WireError::Undecodable(_))));
    }

    #[test]
    fn random_bytes_never_panic_the_peer_decoder(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(message) = p2p::decode(&bytes) {
            // Whatever decodes is a message within the limits, and stays itself.
            prop_assert_eq!(p2p::decode(&p2p::encode(&message)).unwrap(), message);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    /// Any frame over the limit is refused for its size, before a byte of
    /// it is decoded, whatever it holds.
    #[test]
    fn an_oversized_frame_is_refused_for_its_size(over in 1usize..4096, fill in any::<u8>(), message in any_message()) {
        let mut frame = p2p::encode(&message);
        frame.resize(p2p::MAX_FRAME_BYTES + over, fill);
        prop_assert_eq!(
            p2p::decode(&frame),
            Err(WireError::FrameTooLarge { len: p2p::MAX_FRAME_BYTES + over, max: p2p::MAX_FRAME_BYTES })
        );
    }
}

fn any_block_hash() -> impl Strategy<Value = BlockHash> {
    any::<[u8; 32]>().prop_map(BlockHash::from_bytes)
}

/// Events of the variants made of plain fields, with any values in them
/// (`events.rs` holds one of each of the others, nested bodies included).
fn any_event_kind() -> impl Strategy<Value = EventKind> {
    let text = || "\\PC{0,12}";
    prop_oneof![
        (
            any::<u64>(),
            any_block_hash(),
            any::<u64>(),
            any::<u64>(),
            any::<usize>()
        )
            .prop_map(|(height, hash, attempts, elapsed_ms, entries)| {
                EventKind::BlockMined {
                    height,
                    hash,
                    attempts,
                    elapsed_ms,
                    entries,
                }
            }),
        (
            any::<u64>(),
            any_block_hash(),
            any_block_hash(),
            prop::option::of(text()),
            any::<bool>()
        )
            .prop_map(|(height, hash, previous_hash, from, active)| {
                EventKind::BlockAccepted {
                    height,
                    hash,
                    previous_hash,
                    from,
                    active,
                }
            }),
        (
            any_block_hash(),
            any_block_hash(),
            any::<u64>(),
            any::<u64>(),
            any::<u64>()
        )
            .prop_map(|(old_tip, new_tip, depth, fork_height, new_height)| {
                EventKind::ChainReorganized {
                    old_tip,
                    new_tip,
                    depth,
                    fork_height,
                    new_height,
                }
            }),
        (text(), text(), any::<u64>()).prop_map(|(address, reason, until)| {
            EventKind::PeerBanned {
                address,
                reason,
                until,
            }
        }),
        (text(), any::<usize>())
            .prop_map(|(data, pending)| EventKind::EntryAdded { data, pending }),
        (any::<u64>(), any_block_hash())
            .prop_map(|(count, tip)| EventKind::BlocksPublished { count, tip }),
        (any_block_hash(), any::<u64>(), text(), any::<usize>()).prop_map(
            |(hash, height, deviation, peers)| EventKind::BlockOffered {
                hash,
                height,
                deviation,
                peers
            }
        ),
        (text(), prop::option::of(any::<u32>()))
            .prop_map(|(address, pid)| EventKind::NodeStarted { address, pid }),
        Just(EventKind::MiningStopped),
        Just(EventKind::Isolated),
    ]
}

proptest! {
    #[test]
    fn events_json_round_trips(at in any::<u64>(), node in prop::option::of("\\PC{0,8}"), kind in any_event_kind()) {
        let event = Event { at, node, kind };
        let json = serde_json::to_string(&event).unwrap();
        prop_assert_eq!(serde_json::from_str::<Event>(&json).unwrap(), event);
    }

    /// The decoder reads a message, not the order its fields come in.
    #[test]
    fn an_events_fields_may_come_in_any_order(kind in any_event_kind(), seed in any::<u64>()) {
        let event = Event { at: 1, node: Some("n".into()), kind };
        let serde_json::Value::Object(object) = serde_json::to_value(&event).unwrap() else {
            panic!("an event serializes to an object");
        };
        let mut fields: Vec<_> = object.into_iter().collect();
        // A seeded rotation and reversal: enough to move `type` and `at`
        // away from the front.
        let len = fields.len();
        fields.rotate_left(seed as usize % len);
        if seed % 2 == 1 {
            fields.reverse();
        }
        let text = format!(
            "{{{}}}",
            fields
                .iter()
                .map(|(k, v)| format!("{}:{v}", serde_json::Value::String(k.clone())))
                .collect::<Vec<_>>()
                .join(",")
        );
        prop_assert_eq!(serde_json::from_str::<Event>(&text).unwrap(), event);
    }
}
