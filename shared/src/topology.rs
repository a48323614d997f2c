//! Network shapes: which of `n` nodes link to which. [`Topology`] is named
//! as a string (`"ring"`, `"random:8"`, `"small-world:4"`) on the command
//! line, in JSON and in the explorer alike, and [`Topology::edges`] gives
//! the same links for the same `n` and seed everywhere (a small seeded
//! generator, no randomness from the host), so a manager, a benchmark and
//! a test agree on the network they build.

use std::collections::{BTreeSet, VecDeque};
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Chance that Watts-Strogatz rewires a lattice link; 0.1 is the value
/// their paper shows as already "small world" (short paths, high clustering).
const REWIRE_P: f64 = 0.1;

/// The shape of a network of `n` nodes, numbered `0..n`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Topology {
    /// Every node with every other.
    Full,
    /// `i` with `i + 1`, and the last with the first.
    Ring,
    /// `i` with `i + 1`: a ring with one link missing.
    Line,
    /// Node 0 with every other node, and no other links.
    Star,
    /// Connected, each node with `K` links where the degrees allow
    /// (a random ring first, then random links until degrees reach `K`).
    Random(usize),
    /// Watts-Strogatz: a ring lattice of the `K` nearest neighbours, each
    /// link rewired with chance 0.1 unless that would disconnect the graph.
    SmallWorld(usize),
}

/// Why a text does not name a [`Topology`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TopologyError {
    #[error("unknown topology {0:?}; expected full, ring, line, star, random:K or small-world:K")]
    UnknownKind(String),
    #[error("{0} needs a link count: {0}:K, e.g. {0}:8")]
    MissingK(&'static str),
    #[error("{kind}:{text}: K must be a whole number")]
    BadK { kind: &'static str, text: String },
    #[error("{kind}:{k}: K must be at least {min}")]
    KTooSmall {
        kind: &'static str,
        k: usize,
        min: usize,
    },
    #[error("small-world:{0}: K must be even (K/2 neighbours on each side)")]
    OddK(usize),
    #[error("{0} takes no K")]
    UnexpectedK(&'static str),
}

impl Topology {
    /// What a network of `n` nodes gets when nobody chose: everyone linked
    /// up to 8 nodes, 8 links each beyond (Bitcoin Core's count of
    /// outbound peers).
    pub fn default_for(n: usize) -> Topology {
        if n <= 8 {
            Topology::Full
        } else {
            Topology::Random(8)
        }
    }

    /// Every link of `n` nodes in this shape, once each as `(a, b)` with
    /// `a < b`, sorted. The same `n` and `seed` give the same links.
    pub fn edges(self, n: usize, seed: u64) -> Vec<(usize, usize)> {
        let mut rng = SplitMix64(seed);
        let edges: BTreeSet<(usize, usize)> = match self {
            Topology::Full => full(n),
            Topology::Ring => ring(&(0..n).collect::<Vec<_>>()),
            Topology::Line => (1..n).map(|b| (b - 1, b)).collect(),
            Topology::Star => (1..n).map(|b| (0, b)).collect(),
            Topology::Random(k) if k + 1 >= n => full(n),
            Topology::Random(k) => random(n, k, &mut rng),
            Topology::SmallWorld(k) if k + 1 >= n => full(n),
            Topology::SmallWorld(k) => small_world(n, k, &mut rng),
        };
        edges.into_iter().collect()
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topology::Full => f.write_str("full"),
            Topology::Ring => f.write_str("ring"),
            Topology::Line => f.write_str("line"),
            Topology::Star => f.write_str("star"),
            Topology::Random(k) => write!(f, "random:{k}"),
            Topology::SmallWorld(k) => write!(f, "small-world:{k}"),
        }
    }
}

impl FromStr for Topology {
    type Err = TopologyError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let (kind, k) = match text.split_once(':') {
            Some((kind, k)) => (kind, Some(k)),
            None => (text, None),
        };
        let fixed = |kind: &'static str, topology: Topology| match k {
            Some(_) => Err(TopologyError::UnexpectedK(kind)),
            None => Ok(topology),
        };
        let count = |kind: &'static str| -> Result<usize, TopologyError> {
            let text = k.ok_or(TopologyError::MissingK(kind))?;
            if text.is_empty() {
                return Err(TopologyError::MissingK(kind));
            }
            // Digits only: `usize::from_str` would also take "+8".
            if !text.bytes().all(|byte| byte.is_ascii_digit()) {
                return Err(TopologyError::BadK {
                    kind,
                    text: text.to_owned(),
                });
            }
            let k = text.parse().map_err(|_| TopologyError::BadK {
                kind,
                text: text.to_owned(),
            })?;
            // One link each cannot keep more than two nodes connected.
            if k < 2 {
                return Err(TopologyError::KTooSmall { kind, k, min: 2 });
            }
            Ok(k)
        };
        match kind {
            "full" => fixed("full", Topology::Full),
            "ring" => fixed("ring", Topology::Ring),
            "line" => fixed("line", Topology::Line),
            "star" => fixed("star", Topology::Star),
            "random" => count("random").map(Topology::Random),
            "small-world" => {
                let k = count("small-world")?;
                if k % 2 == 1 {
                    return Err(TopologyError::OddK(k));
                }
                Ok(Topology::SmallWorld(k))
            }
            _ => Err(TopologyError::UnknownKind(text.to_owned())),
        }
    }
}

impl Serialize for Topology {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Topology {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Whether `edges` link all `n` nodes into one piece.
pub fn is_connected(n: usize, edges: &[(usize, usize)]) -> bool {
    let set: BTreeSet<(usize, usize)> = edges.iter().copied().collect();
    connected(n, &set)
}

/// How many links each of `n` nodes has in `edges`.
pub fn degrees(n: usize, edges: &[(usize, usize)]) -> Vec<usize> {
    let mut degree = vec![0; n];
    for &(a, b) in edges {
        degree[a] += 1;
        degree[b] += 1;
    }
    degree
}

fn pair(a: usize, b: usize) -> (usize, usize) {
    (a.min(b), a.max(b))
}

fn full(n: usize) -> BTreeSet<(usize, usize)> {
    (0..n)
        .flat_map(|a| (a + 1..n).map(move |b| (a, b)))
        .collect()
}

/// The ring through `order`; two nodes share one link, one has none.
fn ring(order: &[usize]) -> BTreeSet<(usize, usize)> {
    let n = order.len();
    if n < 2 {
        return BTreeSet::new();
    }
    (0..n).map(|i| pair(order[i], order[(i + 1) % n])).collect()
}

/// A ring in random order keeps every node at degree 2 and the graph
/// connected; then each node, in random order, takes links to random nodes
/// still short of `k`. A node left short is then linked to every other
/// short node, so the degrees miss `k` only where the graph cannot help it.
fn random(n: usize, k: usize, rng: &mut SplitMix64) -> BTreeSet<(usize, usize)> {
    let order = rng.shuffled(n);
    let mut edges = ring(&order);
    let mut degree = vec![0; n];
    for &(a, b) in &edges {
        degree[a] += 1;
        degree[b] += 1;
    }
    for &a in &rng.shuffled(n) {
        for b in rng.shuffled(n) {
            if degree[a] >= k {
                break;
            }
            if b != a && degree[b] < k && edges.insert(pair(a, b)) {
                degree[a] += 1;
                degree[b] += 1;
            }
        }
    }
    edges
}

fn small_world(n: usize, k: usize, rng: &mut SplitMix64) -> BTreeSet<(usize, usize)> {
    let mut edges: BTreeSet<(usize, usize)> = (0..n)
        .flat_map(|a| (1..=k / 2).map(move |j| pair(a, (a + j) % n)))
        .collect();
    // Watts-Strogatz order: by distance on the lattice, then by node.
    for j in 1..=k / 2 {
        for a in 0..n {
            let old = pair(a, (a + j) % n);
            if rng.next_f64() >= REWIRE_P || !edges.contains(&old) {
                continue;
            }
            let candidates: Vec<usize> = (0..n)
                .filter(|&b| b != a && !edges.contains(&pair(a, b)))
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let new = pair(a, candidates[rng.below(candidates.len())]);
            edges.remove(&old);
            edges.insert(new);
            if !connected(n, &edges) {
                edges.remove(&new);
                edges.insert(old);
            }
        }
    }
    edges
}

fn connected(n: usize, edges: &BTreeSet<(usize, usize)>) -> bool {
    if n == 0 {
        return true;
    }
    let mut neighbours = vec![Vec::new(); n];
    for &(a, b) in edges {
        neighbours[a].push(b);
        neighbours[b].push(a);
    }
    let mut seen = vec![false; n];
    let mut queue = VecDeque::from([0]);
    seen[0] = true;
    while let Some(a) = queue.pop_front() {
        for &b in &neighbours[a] {
            if !seen[b] {
                seen[b] = true;
                queue.push_back(b);
            }
        }
    }
    seen.into_iter().all(|seen| seen)
}

/// SplitMix64 (Steele, Lea and Flood, 2014): a few lines, the same numbers
/// on every target, wasm included, which is all a seeded shape needs.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// From 0 (inclusive) to 1 (exclusive), from the top 53 bits.
    fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// From 0 to `n - 1`; the modulo bias is below 2^-40 for any n a
    /// network has, which no shape can show.
    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// `0..n` in random order (Fisher-Yates).
    fn shuffled(&mut self, n: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..n).collect();
        for i in (1..n).rev() {
            order.swap(i, self.below(i + 1));
        }
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_kinds(k: usize) -> [Topology; 6] {
        [
            Topology::Full,
            Topology::Ring,
            Topology::Line,
            Topology::Star,
            Topology::Random(k.max(2)),
            Topology::SmallWorld((k.max(2) / 2) * 2),
        ]
    }

    #[test]
    fn names_round_trip_as_text_and_json() {
        for topology in all_kinds(8) {
            let text = topology.to_string();
            assert_eq!(text.parse::<Topology>(), Ok(topology));
            let json = serde_json::to_string(&topology).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<Topology>(&json).unwrap(), topology);
        }
        assert_eq!("random:8".parse(), Ok(Topology::Random(8)));
        assert_eq!("small-world:4".parse(), Ok(Topology::SmallWorld(4)));
        assert_eq!(" ring ".parse(), Ok(Topology::Ring));
    }

    #[test]
    fn an_unknown_kind_is_refused() {
        assert_eq!(
            "mesh".parse::<Topology>(),
            Err(TopologyError::UnknownKind("mesh".into()))
        );
        assert_eq!(
            "".parse::<Topology>(),
            Err(TopologyError::UnknownKind("".into()))
        );
        assert!(serde_json::from_str::<Topology>("\"mesh\"").is_err());
    }

    #[test]
    fn a_missing_k_is_refused() {
        assert_eq!(
            "random".parse::<Topology>(),
            Err(TopologyError::MissingK("random"))
        );
        assert_eq!(
            "small-world:".parse::<Topology>(),
            Err(TopologyError::MissingK("small-world"))
        );
    }

    #[test]
    fn a_k_that_is_not_a_number_is_refused() {
        for bad in [
            "random:x",
            "random:+8",
            "random:-1",
            "random:99999999999999999999999",
        ] {
            assert!(
                matches!(bad.parse::<Topology>(), Err(TopologyError::BadK { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_zero_or_one_k_is_refused() {
        assert_eq!(
            "random:0".parse::<Topology>(),
            Err(TopologyError::KTooSmall {
                kind: "random",
                k: 0,
                min: 2
            })
        );
        assert!(matches!(
            "small-world:1".parse::<Topology>(),
            Err(TopologyError::KTooSmall { k: 1, .. })
        ));
    }

    #[test]
    fn an_odd_small_world_k_is_refused() {
        assert_eq!(
            "small-world:3".parse::<Topology>(),
            Err(TopologyError::OddK(3))
        );
    }

    #[test]
    fn a_k_on_a_fixed_shape_is_refused() {
        assert_eq!(
            "ring:3".parse::<Topology>(),
            Err(TopologyError::UnexpectedK("ring"))
        );
    }

    #[test]
    fn the_default_is_full_up_to_8_then_random_8() {
        assert_eq!(Topology::default_for(8), Topology::Full);
        assert_eq!(Topology::default_for(9), Topology::Random(8));
    }

    #[test]
    fn small_networks_are_what_they_can_be() {
        for topology in all_kinds(4) {
            assert!(topology.edges(0, 1).is_empty(), "{topology}");
            assert!(topology.edges(1, 1).is_empty(), "{topology}");
            assert_eq!(topology.edges(2, 1), vec![(0, 1)], "{topology}");
        }
        assert_eq!(Topology::Ring.edges(3, 0), vec![(0, 1), (0, 2), (1, 2)]);
    }

    #[test]
    fn the_same_seed_gives_the_same_links_and_another_seed_others() {
        let a = Topology::Random(4).edges(40, 7);
        assert_eq!(a, Topology::Random(4).edges(40, 7));
        assert_ne!(a, Topology::Random(4).edges(40, 8));
        let b = Topology::SmallWorld(4).edges(40, 7);
        assert_eq!(b, Topology::SmallWorld(4).edges(40, 7));
        assert_ne!(b, Topology::SmallWorld(4).edges(40, 8));
    }

    #[test]
    fn small_world_rewires_some_lattice_links() {
        let lattice: BTreeSet<(usize, usize)> = (0..100)
            .flat_map(|a| (1..=2).map(move |j| pair(a, (a + j) % 100)))
            .collect();
        let edges = Topology::SmallWorld(4).edges(100, 3);
        let rewired = edges.iter().filter(|e| !lattice.contains(e)).count();
        // 200 links at p = 0.1: about 20; zero or half would be a bug.
        assert!((5..60).contains(&rewired), "{rewired} rewired");
        assert_eq!(edges.len(), 200, "rewiring keeps the number of links");
    }

    proptest::proptest! {
        #[test]
        fn every_shape_is_connected_without_self_or_duplicate_links(
            n in 0usize..60, k in 2usize..12, seed: u64,
        ) {
            for topology in all_kinds(k) {
                let edges = topology.edges(n, seed);
                proptest::prop_assert!(is_connected(n, &edges), "{topology} n={n}");
                let unique: BTreeSet<_> = edges.iter().copied().collect();
                proptest::prop_assert_eq!(unique.len(), edges.len());
                for &(a, b) in &edges {
                    proptest::prop_assert!(a < b && b < n, "{topology}: ({a}, {b})");
                }
            }
        }

        #[test]
        fn each_shape_has_its_degrees(n in 3usize..60, k in 2usize..12, seed: u64) {
            let full = Topology::Full.edges(n, seed);
            proptest::prop_assert_eq!(full.len(), n * (n - 1) / 2);

            let ring = degrees(n, &Topology::Ring.edges(n, seed));
            proptest::prop_assert!(ring.iter().all(|&d| d == 2), "{ring:?}");

            let line = degrees(n, &Topology::Line.edges(n, seed));
            proptest::prop_assert_eq!((line[0], line[n - 1]), (1, 1));
            proptest::prop_assert!(line[1..n - 1].iter().all(|&d| d == 2));

            let star = degrees(n, &Topology::Star.edges(n, seed));
            proptest::prop_assert_eq!(star[0], n - 1);
            proptest::prop_assert!(star[1..].iter().all(|&d| d == 1));

            let random = Topology::Random(k).edges(n, seed);
            let degree = degrees(n, &random);
            let target = k.min(n - 1);
            proptest::prop_assert!(degree.iter().all(|&d| (2..=target).contains(&d)), "{degree:?}");
            // Whoever is short of K is linked to everyone else who is:
            // no link could be added without passing K somewhere.
            let short: Vec<usize> = (0..n).filter(|&a| degree[a] < target).collect();
            for (i, &a) in short.iter().enumerate() {
                for &b in &short[i + 1..] {
                    proptest::prop_assert!(random.contains(&(a, b)), "{a} and {b} short of {k}");
                }
            }

            let k = k / 2 * 2;
            let small_world = Topology::SmallWorld(k).edges(n, seed);
            let links = if k + 1 >= n { n * (n - 1) / 2 } else { n * k / 2 };
            proptest::prop_assert_eq!(small_world.len(), links);
        }
    }
}
