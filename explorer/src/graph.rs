//! The network graph's geometry and its links: where each node is drawn,
//! which link a block travelled, and a link's conditions in words.
//!
//! **Layout: a circle, in the manager's node order, computed here.** No
//! graph-layout crate fits: the Rust force-directed ones (fdg, forceatlas2,
//! petgraph's drawing helpers) pull in float-heavy simulation code and
//! settle differently from run to run, and a JavaScript library would mean
//! a second toolchain. A circle is deterministic (a node stays where it was
//! between polls, across reloads and in tests), costs O(n), never lets two
//! nodes overlap, grows its radius with the node count so 100 nodes keep
//! ~26 px apart, and shows the shapes the manager makes as they are meant:
//! a ring or line is the circle's rim, a star's hub has spokes to all.
//! Partitions read as which links are down (dashed), since nodes do not
//! move when the network splits.

use std::collections::HashMap;
use std::f64::consts::TAU;

use shared::api::{LinkConditions, LinkState, NetworkLink};

/// Least distance between neighbouring nodes on the circle, in px.
pub const SPACING: f64 = 26.0;
/// Smallest circle radius, so a handful of nodes is not drawn cramped.
pub const MIN_RADIUS: f64 = 110.0;
/// Room around the circle for the node labels: a label left of its node
/// ends 16 px before it, and "46545 fork 12" is about 85 px wide (at 56 px
/// the left-hand labels were cut off).
pub const MARGIN: f64 = 110.0;

/// One node's place, in the SVG's user units.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// Node positions on a circle, first node at the top, clockwise; the
/// drawing is `size` × `size` user units.
#[derive(Debug, Clone, PartialEq)]
pub struct Circle {
    pub size: f64,
    pub points: Vec<Point>,
}

pub fn circle(nodes: usize) -> Circle {
    let radius = (nodes as f64 * SPACING / TAU).max(MIN_RADIUS);
    let centre = radius + MARGIN;
    let points = (0..nodes)
        .map(|i| {
            let angle = TAU * i as f64 / nodes.max(1) as f64 - TAU / 4.0;
            Point {
                x: centre + radius * angle.cos(),
                y: centre + radius * angle.sin(),
            }
        })
        .collect();
    Circle {
        size: 2.0 * centre,
        points,
    }
}

/// The two node ids of a link, in a fixed order, whichever end is named
/// first.
pub fn link_key(a: &str, b: &str) -> (String, String) {
    if a <= b {
        (a.to_owned(), b.to_owned())
    } else {
        (b.to_owned(), a.to_owned())
    }
}

/// Finds links by their ends, and nodes by their addresses, for the events
/// that name a sender by address (`block_accepted`'s `from`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LinkIndex {
    by_ends: HashMap<(String, String), usize>,
    id_by_address: HashMap<String, String>,
}

impl LinkIndex {
    /// `addresses` pairs each node id with its `host:port`.
    pub fn new<'a>(
        links: &[NetworkLink],
        addresses: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let mut id_by_address: HashMap<String, String> = addresses
            .into_iter()
            .map(|(id, address)| (address.to_owned(), id.to_owned()))
            .collect();
        for link in links {
            id_by_address
                .entry(link.a_address.clone())
                .or_insert_with(|| link.a.clone());
            id_by_address
                .entry(link.b_address.clone())
                .or_insert_with(|| link.b.clone());
        }
        let by_ends = links
            .iter()
            .enumerate()
            .map(|(i, link)| (link_key(&link.a, &link.b), i))
            .collect();
        Self {
            by_ends,
            id_by_address,
        }
    }

    /// The position in the link list of the link between `a` and `b`.
    pub fn between(&self, a: &str, b: &str) -> Option<usize> {
        self.by_ends.get(&link_key(a, b)).copied()
    }

    pub fn id_at(&self, address: &str) -> Option<&str> {
        self.id_by_address.get(address).map(String::as_str)
    }

    /// The link a block took to reach node `to` from the node at
    /// `from_address`, and the sender's id.
    pub fn travelled(&self, from_address: &str, to: &str) -> Option<(usize, String)> {
        let from = self.id_at(from_address)?;
        Some((self.between(from, to)?, from.to_owned()))
    }
}

/// Whether a link is drawn dashed: down, or cut by either end.
pub fn is_down(link: &NetworkLink) -> bool {
    link.state != LinkState::Connected
        || [link.conditions.a_to_b, link.conditions.b_to_a]
            .iter()
            .any(|c| c.is_some_and(|c| c.down))
}

fn one_way(c: &LinkConditions) -> String {
    let mut parts = vec![format!("{} ms", c.latency_ms)];
    if c.jitter_ms > 0 {
        parts[0] = format!("{} ms ± {}", c.latency_ms, c.jitter_ms);
    }
    parts.push(format!("{} loss", percent(c.loss)));
    if c.bandwidth_kbps > 0 {
        parts.push(format!("{} kbit/s", c.bandwidth_kbps));
    }
    if c.down {
        parts.insert(0, "down".to_owned());
    }
    parts.join(", ")
}

/// `0.015` as "1.5%".
pub fn percent(fraction: f64) -> String {
    let p = (fraction * 1000.0).round() / 10.0;
    format!("{p}%")
}

/// A link's conditions in words: one phrase when both ways agree, else
/// each direction named by its sender.
pub fn conditions_text(link: &NetworkLink, name: &dyn Fn(&str) -> String) -> String {
    match (link.conditions.a_to_b, link.conditions.b_to_a) {
        (Some(ab), Some(ba)) if ab == ba => one_way(&ab),
        (ab, ba) => {
            let side = |c: Option<LinkConditions>, from: &str, to: &str| {
                let text = c.map_or_else(|| "not reported".to_owned(), |c| one_way(&c));
                format!("{} to {}: {text}", name(from), name(to))
            };
            format!(
                "{}; {}",
                side(ab, &link.a, &link.b),
                side(ba, &link.b, &link.a)
            )
        }
    }
}

/// The short text drawn on a link: its latency, and loss when any ("300 ms",
/// "40 ms · 5%"); empty for a clear link.
pub fn link_badge(link: &NetworkLink) -> String {
    let c = link
        .conditions
        .a_to_b
        .or(link.conditions.b_to_a)
        .unwrap_or(LinkConditions::CLEAR);
    let mut text = String::new();
    if c.latency_ms > 0 {
        text = format!("{} ms", c.latency_ms);
    }
    if c.loss > 0.0 {
        if !text.is_empty() {
            text.push_str(" · ");
        }
        text.push_str(&percent(c.loss));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::api::DirectedConditions;

    fn link(a: &str, b: &str, conditions: LinkConditions) -> NetworkLink {
        NetworkLink {
            a: a.into(),
            b: b.into(),
            a_address: format!("127.0.0.1:{a}"),
            b_address: format!("127.0.0.1:{b}"),
            state: LinkState::Connected,
            conditions: DirectedConditions {
                a_to_b: Some(conditions),
                b_to_a: Some(conditions),
            },
            rtt_ms: None,
            bytes_a_to_b: 0,
            bytes_b_to_a: 0,
        }
    }

    #[test]
    fn a_hundred_nodes_on_the_circle_keep_apart_and_inside() {
        for n in [1, 2, 6, 30, 100] {
            let c = circle(n);
            assert_eq!(c.points.len(), n);
            for p in &c.points {
                assert!(
                    p.x >= MARGIN - 0.01 && p.x <= c.size - MARGIN + 0.01,
                    "{n}: {p:?}"
                );
                assert!(
                    p.y >= MARGIN - 0.01 && p.y <= c.size - MARGIN + 0.01,
                    "{n}: {p:?}"
                );
            }
            // Neighbours (and so every pair) are at least SPACING apart
            // once there is more than one node.
            for (i, p) in c.points.iter().enumerate() {
                for q in &c.points[i + 1..] {
                    let d = ((p.x - q.x).powi(2) + (p.y - q.y).powi(2)).sqrt();
                    assert!(d >= SPACING * 0.99, "{n} nodes: {d}");
                }
            }
        }
        // The first node is at the top, and the layout is the same each time.
        let c = circle(6);
        assert!((c.points[0].x - c.size / 2.0).abs() < 1e-9);
        assert!(c.points[0].y < c.points[3].y);
        assert_eq!(circle(6), c);
    }

    #[test]
    fn a_link_is_found_from_either_end_and_a_block_by_its_sender_address() {
        let links = vec![
            link("n1", "n2", LinkConditions::CLEAR),
            link("n2", "n3", LinkConditions::CLEAR),
        ];
        let index = LinkIndex::new(&links, [("n4", "127.0.0.1:5004")]);
        assert_eq!(index.between("n1", "n2"), Some(0));
        assert_eq!(index.between("n3", "n2"), Some(1));
        assert_eq!(index.between("n1", "n3"), None);
        assert_eq!(
            index.travelled("127.0.0.1:n3", "n2"),
            Some((1, "n3".to_owned()))
        );
        assert_eq!(index.travelled("127.0.0.1:n3", "n1"), None, "no such link");
        assert_eq!(
            index.travelled("127.0.0.1:9999", "n1"),
            None,
            "unknown sender"
        );
        assert_eq!(index.id_at("127.0.0.1:5004"), Some("n4"));
    }

    #[test]
    fn conditions_read_as_words_and_down_links_are_dashed() {
        let slow = LinkConditions {
            latency_ms: 300,
            jitter_ms: 20,
            loss: 0.05,
            bandwidth_kbps: 10_000,
            down: false,
        };
        let name = |id: &str| id.to_uppercase();
        let l = link("n1", "n2", slow);
        assert_eq!(
            conditions_text(&l, &name),
            "300 ms ± 20, 5% loss, 10000 kbit/s"
        );
        assert_eq!(link_badge(&l), "300 ms · 5%");
        assert!(!is_down(&l));
        let clear = link("n1", "n2", LinkConditions::CLEAR);
        assert_eq!(link_badge(&clear), "");

        let mut one_way_down = link("n1", "n2", LinkConditions::CLEAR);
        one_way_down.conditions.b_to_a = Some(LinkConditions {
            down: true,
            ..LinkConditions::CLEAR
        });
        assert!(is_down(&one_way_down));
        assert_eq!(
            conditions_text(&one_way_down, &name),
            "N1 to N2: 0 ms, 0% loss; N2 to N1: down, 0 ms, 0% loss"
        );
        let mut dropped = link("n1", "n2", LinkConditions::CLEAR);
        dropped.state = LinkState::Down;
        assert!(is_down(&dropped));
        assert_eq!(percent(0.015), "1.5%");
    }
}
