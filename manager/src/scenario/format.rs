//! The scenario file: a TOML document naming the network (size, lab chain,
//! topology, hash rate) and a list of `[[step]]` tables run in order. Each
//! step is tagged by `do`; unknown fields and unknown steps are refused,
//! and every error names the line it comes from, so nothing runs on a file
//! that would fail half way.

use std::ops::Range;

use serde::Deserialize;
use shared::attack::{AttackKind, AttackRequest};
use shared::scenario::ScenarioInfo;
use shared::strategy::{ForgeRule, TimestampMode};
use shared::topology::Topology;
use toml::Spanned;

/// A whole scenario, as parsed and checked.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Nodes the scenario's own network starts with.
    pub nodes: u16,
    /// The lab chain's mean block interval T.
    pub block_interval_ms: u64,
    /// The network's total hash rate cap; default: half the capacity
    /// measured at start.
    #[serde(default)]
    pub total_hashrate: Option<u64>,
    /// Default: full up to 8 nodes, random:8 beyond.
    #[serde(default)]
    pub topology: Option<Topology>,
    #[serde(default)]
    pub topology_seed: u64,
    #[serde(rename = "step", default)]
    pub steps: Vec<Spanned<Step>>,
    /// The line each step starts on, filled in by [`Scenario::parse`].
    #[serde(skip)]
    pub lines: Vec<usize>,
}

/// One timed step. Nodes are named by their index, 0 to `nodes` − 1, in
/// launch order.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "do", rename_all = "snake_case", deny_unknown_fields)]
pub enum Step {
    /// Links get these conditions (fields not given are 0): every link, or
    /// with `a` (and `b`) only the links of node `a` (to node `b`).
    Links {
        #[serde(default)]
        a: Option<usize>,
        #[serde(default)]
        b: Option<usize>,
        #[serde(default)]
        latency_ms: u64,
        #[serde(default)]
        jitter_ms: u64,
        #[serde(default)]
        loss: f64,
        #[serde(default)]
        bandwidth_kbps: u64,
    },
    /// Each node's share of the total hash rate, by index.
    HashPower { shares: Vec<f64> },
    /// Forget the figures so far: what follows is measured alone.
    ResetStats {},
    /// Mine (every node's miner) until the network's best height grew by
    /// `blocks`, then stop the miners.
    Mine { blocks: u64 },
    /// Split the network into groups of node indices.
    Partition { groups: Vec<Vec<usize>> },
    /// Heal the partition and wait until every node holds the same tip.
    Heal {},
    /// Wait until every node holds the same tip (after mining stops).
    Settle {},
    /// Pause.
    Wait { ms: u64 },
    /// Give node `node` a strategy and `hashrate_share` of the total, the
    /// rest split equally over the others.
    Attack {
        kind: AttackKind,
        node: usize,
        hashrate_share: f64,
        #[serde(default)]
        confirmations: Option<u64>,
        #[serde(default)]
        mode: Option<TimestampMode>,
        #[serde(default)]
        rule: Option<ForgeRule>,
    },
    /// Every node honest again, hash power as before the attack.
    StopAttack {},
    /// Take the figures since the last reset and compare them with what
    /// theory expects (`expect`).
    Measure {
        label: String,
        #[serde(default)]
        expect: Expect,
    },
}

/// Which theory a measurement is held against (in `shared`, as the
/// report that names it is read by the explorer too).
pub use shared::scenario::Expect;

/// Why a scenario file is refused; `line` is 1-based.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ScenarioError {
    pub line: usize,
    pub message: String,
}

/// The 1-based line of byte `offset` of `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|byte| **byte == b'\n')
        .count()
        + 1
}

impl Scenario {
    /// Parse and check `text`; nothing is started either way.
    pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        let mut scenario: Scenario = toml::from_str(text).map_err(|err| ScenarioError {
            line: err.span().map_or(1, |span| line_of(text, span.start)),
            message: err.message().trim().to_owned(),
        })?;
        scenario.check(text)?;
        scenario.lines = scenario
            .steps
            .iter()
            .map(|step| line_of(text, step.span().start))
            .collect();
        Ok(scenario)
    }

    /// The line step `index` (0-based) starts on; 0 if unknown.
    pub fn line_of_step(&self, index: usize) -> usize {
        self.lines.get(index).copied().unwrap_or(0)
    }

    /// The same scenario, shorter: every `mine` step mines at most
    /// `blocks` blocks (a run's `blocks` setting).
    pub fn with_mine_blocks_at_most(mut self, blocks: u64) -> Scenario {
        for step in &mut self.steps {
            if let Step::Mine { blocks: mined } = step.get_mut() {
                *mined = (*mined).min(blocks);
            }
        }
        self
    }

    /// What `GET /scenarios` says of it.
    pub fn info(&self) -> ScenarioInfo {
        let mined = || {
            self.steps.iter().filter_map(|step| match step.get_ref() {
                Step::Mine { blocks } => Some(*blocks),
                _ => None,
            })
        };
        ScenarioInfo {
            name: self.name.clone(),
            description: self.description.clone(),
            nodes: self.nodes,
            block_interval_ms: self.block_interval_ms,
            steps: self.steps.len(),
            blocks: mined().sum(),
            max_mine_blocks: mined().max().unwrap_or(0),
        }
    }

    /// The rules serde cannot say: counts, shares and node indices.
    fn check(&self, text: &str) -> Result<(), ScenarioError> {
        let top = |message: String| ScenarioError { line: 1, message };
        if self.nodes < 2 {
            return Err(top(format!(
                "nodes = {}: a network needs 2 or more",
                self.nodes
            )));
        }
        if self.block_interval_ms == 0 {
            return Err(top("block_interval_ms must be at least 1".to_owned()));
        }
        let nodes = usize::from(self.nodes);
        let mut attacking = false;
        for step in &self.steps {
            let fail = |span: Range<usize>, message: String| ScenarioError {
                line: line_of(text, span.start),
                message,
            };
            let node = |index: usize| -> Result<(), String> {
                (index < nodes).then_some(()).ok_or_else(|| {
                    format!("node {index} does not exist: nodes are 0 to {}", nodes - 1)
                })
            };
            let checked = match step.get_ref() {
                Step::HashPower { shares } => {
                    if shares.len() != nodes {
                        Err(format!("{} shares for {nodes} nodes", shares.len()))
                    } else if shares.iter().any(|s| !(0.0..=1.0).contains(s)) {
                        Err("every share is between 0 and 1".to_owned())
                    } else if shares.iter().sum::<f64>() > 1.0 + 1e-9 {
                        Err("the shares add up to more than 1".to_owned())
                    } else {
                        Ok(())
                    }
                }
                Step::Mine { blocks: 0 } => Err("mine at least 1 block".to_owned()),
                Step::Partition { groups } => {
                    let mut seen = vec![false; nodes];
                    let mut result = if groups.len() < 2 {
                        Err("a partition needs 2 or more groups".to_owned())
                    } else {
                        Ok(())
                    };
                    for index in groups.iter().flatten() {
                        if result.is_err() {
                            break;
                        }
                        result = node(*index).and_then(|()| {
                            if std::mem::replace(&mut seen[*index], true) {
                                Err(format!("node {index} is in two groups"))
                            } else {
                                Ok(())
                            }
                        });
                    }
                    result
                }
                Step::Links { loss, .. } if !(0.0..=1.0).contains(loss) => {
                    Err(format!("loss = {loss}: a chance from 0 to 1"))
                }
                Step::Links { a, b, .. } => match (a, b) {
                    (None, Some(_)) => Err("b needs a: name a node for each end".to_owned()),
                    (Some(a), Some(b)) if a == b => {
                        Err(format!("a = b = {a}: a link joins two nodes"))
                    }
                    _ => a.iter().chain(b.iter()).try_for_each(|&i| node(i)),
                },
                Step::Attack {
                    kind,
                    node: index,
                    hashrate_share,
                    confirmations,
                    mode,
                    rule,
                } => {
                    // The same check `POST /attacks` makes.
                    let params = AttackRequest {
                        kind: *kind,
                        node: index.to_string(),
                        hashrate_share: *hashrate_share,
                        confirmations: *confirmations,
                        entry: None,
                        double_spend: None,
                        mode: *mode,
                        rule: *rule,
                    }
                    .strategy()
                    .map_err(|err| err.to_string());
                    if let Err(message) = params {
                        Err(message)
                    } else if attacking {
                        Err("an attack is already running; stop_attack first".to_owned())
                    } else if !(*hashrate_share > 0.0 && *hashrate_share < 1.0) {
                        Err(format!(
                            "hashrate_share = {hashrate_share}: strictly between 0 and 1"
                        ))
                    } else {
                        attacking = true;
                        node(*index)
                    }
                }
                Step::StopAttack {} if !attacking => {
                    Err("stop_attack without an attack running".to_owned())
                }
                Step::StopAttack {} => {
                    attacking = false;
                    Ok(())
                }
                _ => Ok(()),
            };
            checked.map_err(|message| fail(step.span(), message))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = "name = \"t\"\nnodes = 3\nblock_interval_ms = 1000\n";

    fn parse(steps: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(&format!("{HEAD}{steps}"))
    }

    #[test]
    fn a_scenario_with_every_step_parses() {
        let scenario = parse(
            "[[step]]\ndo = \"links\"\nlatency_ms = 100\n\
             [[step]]\ndo = \"hash_power\"\nshares = [0.5, 0.25, 0.25]\n\
             [[step]]\ndo = \"reset_stats\"\n\
             [[step]]\ndo = \"partition\"\ngroups = [[0], [1, 2]]\n\
             [[step]]\ndo = \"mine\"\nblocks = 5\n\
             [[step]]\ndo = \"heal\"\n\
             [[step]]\ndo = \"settle\"\n\
             [[step]]\ndo = \"wait\"\nms = 10\n\
             [[step]]\ndo = \"attack\"\nkind = \"selfish\"\nnode = 0\nhashrate_share = 0.3\n\
             [[step]]\ndo = \"stop_attack\"\n\
             [[step]]\ndo = \"measure\"\nlabel = \"x\"\nexpect = \"partition\"\n",
        )
        .unwrap();
        assert_eq!(scenario.steps.len(), 11);
        assert_eq!(scenario.steps[4].get_ref(), &Step::Mine { blocks: 5 });
    }

    #[test]
    fn an_unknown_step_names_its_line() {
        let err = parse("[[step]]\ndo = \"mine\"\nblocks = 2\n\n[[step]]\ndo = \"explode\"\n")
            .unwrap_err();
        assert_eq!(err.line, 9, "{err}");
        assert!(err.message.contains("explode"), "{err}");
    }

    #[test]
    fn an_unknown_field_names_its_line() {
        let err = parse("[[step]]\ndo = \"mine\"\nblocks = 2\ncolour = \"red\"\n").unwrap_err();
        assert!((4..=7).contains(&err.line), "{err}");
        assert!(err.message.contains("colour"), "{err}");
    }

    #[test]
    fn a_field_of_the_wrong_type_names_its_line() {
        let err = parse("[[step]]\ndo = \"mine\"\nblocks = \"many\"\n").unwrap_err();
        assert!((4..=6).contains(&err.line), "{err}");
    }

    #[test]
    fn a_missing_field_names_its_step() {
        let err = parse("[[step]]\ndo = \"wait\"\n").unwrap_err();
        assert!((4..=5).contains(&err.line), "{err}");
        assert!(err.message.contains("ms"), "{err}");
    }

    #[test]
    fn bad_toml_names_its_line() {
        let err = parse("[[step]]\ndo = \"mine\nblocks = 2\n").unwrap_err();
        assert_eq!(err.line, 5, "{err}");
    }

    #[test]
    fn an_unknown_top_level_key_is_refused() {
        let err = Scenario::parse("name = \"t\"\nnodes = 3\nspeed = 2\nblock_interval_ms = 1\n")
            .unwrap_err();
        assert_eq!(err.line, 3, "{err}");
    }

    #[test]
    fn a_node_out_of_range_names_its_step() {
        let err = parse("[[step]]\ndo = \"mine\"\nblocks = 1\n[[step]]\ndo = \"partition\"\ngroups = [[0], [7]]\n")
            .unwrap_err();
        assert_eq!(err.line, 7, "{err}");
        assert!(err.message.contains("node 7"), "{err}");
    }

    #[test]
    fn links_name_existing_distinct_nodes_and_b_only_with_a() {
        let ok = parse("[[step]]\ndo = \"links\"\na = 0\nb = 2\nlatency_ms = 5\n");
        assert!(ok.is_ok(), "{ok:?}");
        let missing = parse("[[step]]\ndo = \"links\"\na = 7\n").unwrap_err();
        assert!(missing.message.contains("node 7"), "{missing}");
        let same = parse("[[step]]\ndo = \"links\"\na = 1\nb = 1\n").unwrap_err();
        assert!(same.message.contains("two nodes"), "{same}");
        let alone = parse("[[step]]\ndo = \"links\"\nb = 1\n").unwrap_err();
        assert!(alone.message.contains("b needs a"), "{alone}");
    }

    #[test]
    fn a_node_in_two_groups_is_refused() {
        let err = parse("[[step]]\ndo = \"partition\"\ngroups = [[0, 1], [1, 2]]\n").unwrap_err();
        assert!(err.message.contains("two groups"), "{err}");
    }

    #[test]
    fn shares_must_match_the_nodes_and_fit_in_one() {
        let count = parse("[[step]]\ndo = \"hash_power\"\nshares = [0.5, 0.5]\n").unwrap_err();
        assert!(count.message.contains("2 shares for 3 nodes"), "{count}");
        let sum = parse("[[step]]\ndo = \"hash_power\"\nshares = [0.5, 0.5, 0.5]\n").unwrap_err();
        assert!(sum.message.contains("more than 1"), "{sum}");
    }

    #[test]
    fn an_attack_share_must_be_strictly_inside_zero_and_one() {
        let err = parse(
            "[[step]]\ndo = \"attack\"\nkind = \"selfish\"\nnode = 0\nhashrate_share = 1.0\n",
        )
        .unwrap_err();
        assert!(err.message.contains("strictly between"), "{err}");
    }

    #[test]
    fn an_unknown_attack_kind_is_refused() {
        let err =
            parse("[[step]]\ndo = \"attack\"\nkind = \"bribe\"\nnode = 0\nhashrate_share = 0.2\n")
                .unwrap_err();
        assert!(err.message.contains("bribe"), "{err}");
    }

    #[test]
    fn stop_attack_needs_an_attack() {
        let err = parse("[[step]]\ndo = \"stop_attack\"\n").unwrap_err();
        assert_eq!(err.line, 4, "{err}");
    }

    #[test]
    fn a_network_of_one_is_refused() {
        let err =
            Scenario::parse("name = \"t\"\nnodes = 1\nblock_interval_ms = 1000\n").unwrap_err();
        assert!(err.message.contains("2 or more"), "{err}");
    }

    #[test]
    fn a_shorter_run_caps_every_mine_step_and_nothing_else() {
        let scenario = parse(
            "[[step]]\ndo = \"mine\"\nblocks = 2\n\
             [[step]]\ndo = \"wait\"\nms = 10\n\
             [[step]]\ndo = \"mine\"\nblocks = 40\n",
        )
        .unwrap();
        let info = scenario.info();
        assert_eq!((info.steps, info.blocks, info.max_mine_blocks), (3, 42, 40));
        let short = scenario.clone().with_mine_blocks_at_most(5);
        let steps: Vec<&Step> = short.steps.iter().map(|s| s.get_ref()).collect();
        assert_eq!(
            steps,
            [
                &Step::Mine { blocks: 2 },
                &Step::Wait { ms: 10 },
                &Step::Mine { blocks: 5 }
            ]
        );
        assert_eq!(short.lines, scenario.lines, "the lines stay the file's");
        assert_eq!(short.info().blocks, 7);
    }
}
