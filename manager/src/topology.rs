//! The shape of the network: which nodes link to which ([`Topology`],
//! `--topology`, `POST /network/topology`), wiring the nodes to match it,
//! and `GET /network`, the links put together from both ends' `/peers`.
//!
//! Every node that has ever answered is a member, numbered in the order
//! of `GET /nodes`; the shape's links are between members by that number,
//! so a stopped node keeps its place and gets its links back on restart
//! (its neighbours keep dialling it meanwhile).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

use futures_util::future::join_all;
use shared::api::{
    DirectedConditions, LinkConditions, LinkConditionsUpdate, LinkInfo, LinkState, NetworkBody,
    NetworkLink, NodeState, RegisterRequest,
};
use shared::topology::Topology;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::ApiError;
use crate::network::Manager;
use crate::partition::Partition;

/// Rounds of "read every table, drop the links the shape lacks": a peer
/// that was dropped may redial before its own end forgets the link.
const PRUNE_ROUNDS: usize = 4;

/// What the lab holds: the shape, the partition, and whose turn it is to
/// change them.
#[derive(Debug)]
pub struct Lab {
    state: Mutex<LabState>,
    /// One rewiring, link change, partition or heal at a time. A permit,
    /// not a lock on data: the state above is only ever held briefly.
    turn: Semaphore,
    seed: u64,
}

#[derive(Debug)]
pub(crate) struct LabState {
    pub(crate) topology: Topology,
    pub(crate) partition: Option<Partition>,
    /// What `POST /network/links` last set, per `(from, to)` slots, so a
    /// restarted node (whose links start clear) gets it back.
    pub(crate) conditions: BTreeMap<(usize, usize), LinkConditions>,
}

impl Lab {
    pub fn new(topology: Topology, seed: u64) -> Lab {
        Lab {
            state: Mutex::new(LabState {
                topology,
                partition: None,
                conditions: BTreeMap::new(),
            }),
            turn: Semaphore::new(1),
            seed,
        }
    }

    pub(crate) fn state(&self) -> MutexGuard<'_, LabState> {
        self.state
            .lock()
            .unwrap_or_else(|poison| poison.into_inner())
    }

    pub fn topology(&self) -> Topology {
        self.state().topology
    }
}

/// A node with a place in the shape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Member {
    pub(crate) slot: usize,
    pub(crate) id: String,
    pub(crate) address: String,
    /// It answers requests, so it can be told what to do.
    pub(crate) live: bool,
}

/// Each member's `/peers`, `None` where it did not answer or is down.
pub(crate) type Tables = Vec<Option<Vec<LinkInfo>>>;

impl Manager {
    pub(crate) fn lab(&self) -> &Lab {
        &self.inner.lab
    }

    /// The turn for a change a user asked for; a 409 while another runs.
    pub(crate) fn user_turn(&self) -> Result<SemaphorePermit<'_>, ApiError> {
        self.check_open()?;
        self.inner.lab.turn.try_acquire().map_err(|_| {
            ApiError::Conflict(
                "another network change is under way; try again in a moment".to_owned(),
            )
        })
    }

    pub(crate) fn members(&self) -> Vec<Member> {
        self.inner.registry.collect(|entry| {
            Some(Member {
                slot: entry.slot,
                id: entry.id()?.to_owned(),
                address: entry.address().to_owned(),
                live: entry.state() == NodeState::Running,
            })
        })
    }

    /// The shape's links among `members`, by their index.
    pub(crate) fn edges(&self, members: &[Member]) -> Vec<(usize, usize)> {
        self.lab().topology().edges(members.len(), self.lab().seed)
    }

    pub(crate) async fn tables(&self, members: &[Member]) -> Tables {
        let client = &self.inner.client;
        join_all(members.iter().map(|member| async move {
            if !member.live {
                return None;
            }
            client
                .peers(&member.address)
                .await
                .ok()
                .map(|body| body.peers)
        }))
        .await
    }

    /// Link every node to its neighbours in the current shape and drop
    /// the links it lacks; waits for any other change to finish first.
    pub async fn wire(&self) {
        let Ok(_turn) = self.inner.lab.turn.acquire().await else {
            return;
        };
        self.wire_in_turn().await;
    }

    pub(crate) async fn wire_in_turn(&self) {
        let members = &self.members();
        let edges = self.edges(members);
        let mut neighbours = vec![BTreeSet::new(); members.len()];
        for &(a, b) in &edges {
            neighbours[a].insert(b);
            neighbours[b].insert(a);
        }
        let client = &self.inner.client;
        // Both ends dial (as registration always did); the nodes keep one
        // of the two links.
        join_all(members.iter().zip(&neighbours).map(|(member, near)| {
            let request = RegisterRequest {
                nodes: near.iter().map(|&j| members[j].id.clone()).collect(),
                addresses: near.iter().map(|&j| members[j].address.clone()).collect(),
            };
            async move {
                if !member.live {
                    return;
                }
                if let Err(err) = client.register(&member.address, &request).await {
                    tracing::warn!(node = %member.id, error = %err, "could not link to neighbours");
                }
            }
        }))
        .await;

        let index: BTreeMap<&str, usize> = members
            .iter()
            .enumerate()
            .map(|(i, member)| (member.address.as_str(), i))
            .collect();
        for _ in 0..PRUNE_ROUNDS {
            let tables = self.tables(members).await;
            let mut extra: Vec<(usize, String)> = Vec::new();
            for (i, table) in tables.iter().enumerate() {
                for info in table.iter().flatten() {
                    if let Some(&j) = index.get(info.address.as_str())
                        && j != i
                        && !neighbours[i].contains(&j)
                    {
                        extra.push((i, info.address.clone()));
                    }
                }
            }
            if extra.is_empty() {
                break;
            }
            // Both ends at once, so neither has long to redial the other.
            join_all(extra.iter().map(|(i, peer)| async move {
                if let Err(err) = client.disconnect(&members[*i].address, peer).await {
                    tracing::debug!(node = %members[*i].id, %peer, error = %err, "could not drop a link");
                }
            }))
            .await;
        }
        self.restore_conditions(members, &neighbours).await;
        self.enforce_partition(members, &edges).await;
    }

    /// Give every link of the shape the conditions last set on it, where
    /// its end lost them (a restart); forget those of links it no longer has.
    async fn restore_conditions(&self, members: &[Member], neighbours: &[BTreeSet<usize>]) {
        let slot_of: BTreeMap<&str, usize> = members
            .iter()
            .map(|member| (member.address.as_str(), member.slot))
            .collect();
        let index: BTreeMap<usize, usize> = members
            .iter()
            .enumerate()
            .map(|(i, member)| (member.slot, i))
            .collect();
        let (remembered, owned) = {
            let mut state = self.lab().state();
            state.conditions.retain(|(from, to), _| {
                index
                    .get(from)
                    .zip(index.get(to))
                    .is_some_and(|(i, j)| neighbours[*i].contains(j))
            });
            let owned = state
                .partition
                .as_ref()
                .map(|partition| partition.downed.clone())
                .unwrap_or_default();
            (state.conditions.clone(), owned)
        };
        if remembered.is_empty() {
            return;
        }
        let tables = self.tables(members).await;
        let mut fixes = Vec::new();
        for (member, table) in members.iter().zip(&tables) {
            for info in table.iter().flatten() {
                let Some(&to) = slot_of.get(info.address.as_str()) else {
                    continue;
                };
                let Some(want) = remembered.get(&(member.slot, to)) else {
                    continue;
                };
                // A direction the partition took down is the partition's.
                let partitioned = owned.contains(&(member.slot, to));
                let mut have = info.conditions;
                if partitioned {
                    have.down = want.down;
                }
                if have != *want {
                    let update = LinkConditionsUpdate {
                        peer: Some(info.address.clone()),
                        latency_ms: Some(want.latency_ms),
                        jitter_ms: Some(want.jitter_ms),
                        loss: Some(want.loss),
                        bandwidth_kbps: Some(want.bandwidth_kbps),
                        down: (!partitioned).then_some(want.down),
                    };
                    fixes.push((member.address.clone(), update));
                }
            }
        }
        let client = &self.inner.client;
        join_all(fixes.iter().map(|(address, update)| async move {
            if let Err(err) = client.set_links(address, update).await {
                tracing::warn!(node = %address, error = %err, "could not restore link conditions");
            }
        }))
        .await;
    }

    /// `POST /network/topology`: the new shape, wired.
    pub async fn set_topology(&self, topology: Topology) -> Result<NetworkBody, ApiError> {
        let _turn = self.user_turn()?;
        {
            let mut state = self.lab().state();
            if state.partition.is_some() {
                return Err(ApiError::Conflict(
                    "the network is partitioned: POST /network/heal first, then change its shape"
                        .to_owned(),
                ));
            }
            state.topology = topology;
        }
        tracing::info!(%topology, "rewiring the network");
        self.wire_in_turn().await;
        Ok(self.network().await)
    }

    /// `GET /network`.
    pub async fn network(&self) -> NetworkBody {
        let members = self.members();
        let tables = self.tables(&members).await;
        let (topology, partition) = {
            let state = self.lab().state();
            let partition = state.partition.as_ref().map(|partition| {
                partition
                    .groups
                    .iter()
                    .map(|group| group.iter().map(|&slot| self.label(slot)).collect())
                    .collect()
            });
            (state.topology, partition)
        };
        NetworkBody {
            topology,
            nodes: self.inner.registry.summaries(),
            links: links_of(&members, &tables),
            partition,
        }
    }
}

/// Every link between two members that either end reports, once, with
/// `a` the member listed first.
pub(crate) fn links_of(members: &[Member], tables: &Tables) -> Vec<NetworkLink> {
    let index: BTreeMap<&str, usize> = members
        .iter()
        .enumerate()
        .map(|(i, member)| (member.address.as_str(), i))
        .collect();
    // Per pair `(a, b)`: what `a` says of it, what `b` says.
    type Ends<'a> = (Option<&'a LinkInfo>, Option<&'a LinkInfo>);
    let mut sides: BTreeMap<(usize, usize), Ends<'_>> = BTreeMap::new();
    for (i, table) in tables.iter().enumerate() {
        for info in table.iter().flatten() {
            let Some(&j) = index.get(info.address.as_str()) else {
                continue;
            };
            if i == j {
                continue;
            }
            let side = sides.entry((i.min(j), i.max(j))).or_default();
            if i < j {
                side.0 = Some(info);
            } else {
                side.1 = Some(info);
            }
        }
    }
    sides
        .into_iter()
        .map(|((a, b), (at_a, at_b))| NetworkLink {
            a: members[a].id.clone(),
            b: members[b].id.clone(),
            a_address: members[a].address.clone(),
            b_address: members[b].address.clone(),
            state: joint_state(at_a.map(|info| info.state), at_b.map(|info| info.state)),
            conditions: DirectedConditions {
                a_to_b: at_a.map(|info| info.conditions),
                b_to_a: at_b.map(|info| info.conditions),
            },
            rtt_ms: at_a
                .and_then(|info| info.rtt_ms)
                .or_else(|| at_b.and_then(|info| info.rtt_ms)),
            bytes_a_to_b: at_a
                .map(|info| info.bytes_sent)
                .or_else(|| at_b.map(|info| info.bytes_received))
                .unwrap_or(0),
            bytes_b_to_a: at_a
                .map(|info| info.bytes_received)
                .or_else(|| at_b.map(|info| info.bytes_sent))
                .unwrap_or(0),
        })
        .collect()
}

/// Connected only when both ends say so (or the one end that answers);
/// otherwise the worse of the two.
fn joint_state(a: Option<LinkState>, b: Option<LinkState>) -> LinkState {
    let rank = |state: LinkState| match state {
        LinkState::Connected => 0,
        LinkState::Connecting => 1,
        LinkState::Down => 2,
        LinkState::Banned => 3,
    };
    [a, b]
        .into_iter()
        .flatten()
        .max_by_key(|state| rank(*state))
        .unwrap_or(LinkState::Down)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::api::{LinkConditions, LinkDirection};

    fn member(slot: usize) -> Member {
        Member {
            slot,
            id: format!("n{slot}"),
            address: format!("127.0.0.1:{}", 5000 + slot),
            live: true,
        }
    }

    fn info(peer: usize, state: LinkState, sent: u64, received: u64) -> LinkInfo {
        LinkInfo {
            address: format!("127.0.0.1:{}", 5000 + peer),
            id: format!("n{peer}"),
            direction: LinkDirection::Outbound,
            state,
            rtt_ms: None,
            bytes_sent: sent,
            bytes_received: received,
            blocks_sent: 0,
            blocks_received: 0,
            conditions: LinkConditions::CLEAR,
            last_error: None,
            banned_until: None,
        }
    }

    #[test]
    fn both_ends_make_one_link_with_bytes_each_way() {
        let members = [member(0), member(1), member(2)];
        let mut down = info(0, LinkState::Connected, 70, 30);
        down.conditions.down = true;
        let tables = vec![
            Some(vec![info(1, LinkState::Connected, 10, 20)]),
            Some(vec![down, info(9, LinkState::Connected, 1, 1)]),
            None,
        ];
        let links = links_of(&members, &tables);
        assert_eq!(links.len(), 1, "{links:?}");
        let link = &links[0];
        assert_eq!((link.a.as_str(), link.b.as_str()), ("n0", "n1"));
        assert_eq!((link.bytes_a_to_b, link.bytes_b_to_a), (10, 20));
        assert_eq!(link.state, LinkState::Connected);
        assert_eq!(link.conditions.a_to_b, Some(LinkConditions::CLEAR));
        assert!(link.conditions.b_to_a.is_some_and(|c| c.down));
    }

    #[test]
    fn a_link_one_end_reports_is_shown_from_that_end() {
        let members = [member(0), member(1)];
        let tables = vec![None, Some(vec![info(0, LinkState::Down, 5, 8)])];
        let links = links_of(&members, &tables);
        assert_eq!(links.len(), 1);
        assert_eq!((links[0].bytes_a_to_b, links[0].bytes_b_to_a), (8, 5));
        assert_eq!(links[0].state, LinkState::Down);
        assert_eq!(links[0].conditions.a_to_b, None);
    }

    #[test]
    fn the_worse_end_decides_the_state() {
        use LinkState::*;
        assert_eq!(joint_state(Some(Connected), Some(Connected)), Connected);
        assert_eq!(joint_state(Some(Connected), Some(Connecting)), Connecting);
        assert_eq!(joint_state(Some(Down), Some(Connected)), Down);
        assert_eq!(joint_state(Some(Connected), None), Connected);
    }
}
