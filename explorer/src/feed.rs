//! The activity feed: every event of every node, said in plain words
//! ("5003 mined block 42 (00000a3f…) in 1.8 s").

use shared::api::NodeSummary;
use shared::events::{Event, EventKind, MiningMode};

use crate::format::{blocks, count, node_name, seconds, short_hash};

/// One line of the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedLine {
    /// A running number, to key the list.
    pub seq: u64,
    /// Milliseconds since the Unix epoch.
    pub at: u64,
    pub text: String,
    /// Rejections and lost nodes stand out.
    pub warning: bool,
}

/// Names nodes by the port of their address, falling back to a short id.
pub struct Names<'a>(pub &'a [NodeSummary]);

impl Names<'_> {
    pub fn of(&self, id: &str) -> String {
        self.0
            .iter()
            .find(|n| n.id == id)
            .map(|n| node_name(&n.address))
            .unwrap_or_else(|| id.chars().take(8).collect())
    }
}

/// ` from 5001` for a block a peer sent, nothing for one of the node's own.
fn from_peer(address: Option<&str>) -> String {
    address
        .map(|a| format!(" from {}", node_name(a)))
        .unwrap_or_default()
}

/// The event in plain words, and whether it is a warning.
pub fn describe(event: &Event, names: &Names<'_>) -> (String, bool) {
    let who = event
        .node
        .as_deref()
        .map(|id| names.of(id))
        .unwrap_or_else(|| "network".to_owned());
    let plain = |text: String| (text, false);
    match &event.kind {
        EventKind::BlockMined {
            height,
            hash,
            elapsed_ms,
            entries,
            ..
        } => {
            let with = match entries {
                0 => String::new(),
                1 => " with 1 entry".to_owned(),
                n => format!(" with {n} entries"),
            };
            plain(format!(
                "{who} mined block {height} ({}){with} in {}",
                short_hash(hash),
                seconds(*elapsed_ms)
            ))
        }
        EventKind::BlockAccepted {
            height,
            hash,
            from,
            active,
            ..
        } => {
            let from = from_peer(from.as_deref());
            let side = if *active { "" } else { " on a side branch" };
            plain(format!(
                "{who} accepted block {height} ({}){from}{side}",
                short_hash(hash)
            ))
        }
        EventKind::BlockRejected {
            summary,
            from,
            hash,
            ..
        } => {
            let from = from_peer(from.as_deref());
            (
                format!(
                    "{who} rejected a block{from}: {summary} ({})",
                    short_hash(hash)
                ),
                true,
            )
        }
        EventKind::ChainReorganized {
            new_tip,
            depth,
            new_height,
            ..
        } => plain(format!(
            "{who} reorganized {} to {} (height {new_height})",
            blocks(*depth),
            short_hash(new_tip)
        )),
        EventKind::PeerAdded { address, .. } => {
            plain(format!("{who} added peer {}", node_name(address)))
        }
        EventKind::PeerUnreachable { address, error } => (
            format!("{who} cannot reach peer {}: {error}", node_name(address)),
            true,
        ),
        EventKind::PeerConnected { address, .. } => {
            plain(format!("{who} linked with peer {}", node_name(address)))
        }
        EventKind::PeerDisconnected { address, reason } => plain(format!(
            "{who} lost its link with {}: {reason}",
            node_name(address)
        )),
        EventKind::PeerBanned {
            address, reason, ..
        } => (
            format!("{who} banned peer {}: {reason}", node_name(address)),
            true,
        ),
        EventKind::MiningStarted { mode } => plain(match mode {
            MiningMode::Continuous => format!("{who} started mining"),
            MiningMode::OneBlock => format!("{who} is mining one block"),
        }),
        EventKind::MiningStopped => plain(format!("{who} stopped mining")),
        EventKind::EntryAdded { data, pending } => plain(format!(
            "{who} queued an entry ({} bytes; {pending} pending)",
            data.len()
        )),
        EventKind::Isolated => plain(format!("{who} is isolated from its peers")),
        EventKind::Reconnected => plain(format!("{who} reconnected to its peers")),
        EventKind::ShuttingDown => plain(format!("{who} is shutting down")),
        EventKind::StrategyChanged { strategy } => {
            plain(format!("{who} now plays {}", strategy.name()))
        }
        EventKind::BlocksPublished { count: n, tip } => plain(format!(
            "{who} published {} it had withheld (tip {})",
            blocks(*n),
            short_hash(tip)
        )),
        EventKind::BlockOffered {
            hash, deviation, ..
        } => (
            format!(
                "{who} offered a bad block ({deviation}, {})",
                short_hash(hash)
            ),
            true,
        ),
        EventKind::EventsDropped { count: n } => (
            format!(
                "{who}: {} events were missed (the feed fell behind)",
                count(*n)
            ),
            true,
        ),
        EventKind::NodeStarted { address, pid } => plain(match pid {
            Some(pid) => format!("node {} started (pid {pid})", node_name(address)),
            None => format!("node {} started", node_name(address)),
        }),
        EventKind::NodeStopped { address, outcome } => {
            plain(format!("node {} stopped ({outcome})", node_name(address)))
        }
        EventKind::NodeUnreachable { address } => (
            format!("node {} stopped answering", node_name(address)),
            true,
        ),
        EventKind::NetworkReady { nodes } => {
            plain(format!("network ready: {nodes} nodes know each other"))
        }
        EventKind::Snapshot { nodes, .. } => {
            plain(format!("connected to the manager: {} nodes", nodes.len()))
        }
        EventKind::Stats { stats } => plain(format!("stale rate {:.3}", stats.stale_rate)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::BlockHash;
    use shared::validation::Rejection;

    use crate::state::tests::running as node;

    fn hash(prefix: &str) -> BlockHash {
        format!("{prefix:0<64}").parse().unwrap()
    }

    #[test]
    fn says_events_in_plain_words() {
        let nodes = [node("aa", 5001), node("bb", 5003), node("cc", 5004)];
        let names = Names(&nodes);
        let event = |node: &str, kind| Event {
            at: 0,
            node: Some(node.to_owned()),
            kind,
        };
        let mined = event(
            "bb",
            EventKind::BlockMined {
                height: 42,
                hash: hash("00000a3f"),
                attempts: 10,
                elapsed_ms: 1_800,
                entries: 0,
            },
        );
        assert_eq!(
            describe(&mined, &names),
            ("5003 mined block 42 (00000a3f…) in 1.8 s".to_owned(), false)
        );
        let reorg = event(
            "aa",
            EventKind::ChainReorganized {
                old_tip: hash("1"),
                new_tip: hash("00000c1d"),
                depth: 2,
                fork_height: 40,
                new_height: 43,
            },
        );
        assert_eq!(
            describe(&reorg, &names).0,
            "5001 reorganized 2 blocks to 00000c1d… (height 43)"
        );
        let reason = Rejection::TimestampTooFarAhead {
            timestamp: 2,
            limit: 1,
        };
        let rejected = event(
            "cc",
            EventKind::BlockRejected {
                hash: hash("0000ffff"),
                height: 7,
                summary: reason.summary().to_owned(),
                reason,
                from: None,
            },
        );
        let (text, warning) = describe(&rejected, &names);
        assert_eq!(
            text,
            "5004 rejected a block: timestamp too far in the future (0000ffff…)"
        );
        assert!(warning);
    }
}
