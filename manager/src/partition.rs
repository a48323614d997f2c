//! Partitions: `POST /network/partition` takes down every link between
//! groups of nodes (both directions, at both ends), `POST /network/heal`
//! brings back exactly the links the partition took down. A link that was
//! already down (set by hand) is left alone both times, and one the user
//! sets by hand during the partition becomes theirs again.

use std::collections::BTreeSet;

use futures_util::future::join_all;
use shared::api::{LinkConditionsUpdate, NetworkBody, PartitionRequest};

use crate::error::ApiError;
use crate::network::Manager;
use crate::topology::{Member, Tables};

/// The partition in force.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    /// Slots per group; the last holds the nodes not named, if any. A node
    /// that joins later counts in the last group.
    pub groups: Vec<Vec<usize>>,
    /// `(from, to)` slots of each direction this partition set down.
    pub downed: BTreeSet<(usize, usize)>,
}

impl Partition {
    fn group_of(&self, slot: usize) -> usize {
        self.groups
            .iter()
            .position(|group| group.contains(&slot))
            .unwrap_or(self.groups.len().saturating_sub(1))
    }
}

/// The groups `request` names, by member index, with the unnamed members
/// as one more group; or why they do not make a partition. `find` names
/// the member a key stands for.
pub(crate) fn groups_of(
    request: &PartitionRequest,
    members: &[Member],
    find: impl Fn(&str) -> Result<usize, ApiError>,
) -> Result<Vec<Vec<usize>>, ApiError> {
    let mut seen: Vec<Option<usize>> = vec![None; members.len()];
    let mut groups = Vec::new();
    for (number, keys) in request.groups.iter().enumerate() {
        if keys.is_empty() {
            return Err(ApiError::bad_request(format!(
                "group {} is empty; every group needs a node",
                number + 1
            )));
        }
        let mut group = Vec::new();
        for key in keys {
            let index = find(key)?;
            if let Some(earlier) = seen[index] {
                let message = if earlier == number {
                    format!("node {key} is named twice in group {}", number + 1)
                } else {
                    format!(
                        "node {key} is in groups {} and {}; a node belongs to one group",
                        earlier + 1,
                        number + 1
                    )
                };
                return Err(ApiError::bad_request(message));
            }
            seen[index] = Some(number);
            group.push(index);
        }
        groups.push(group);
    }
    let rest: Vec<usize> = (0..members.len()).filter(|&i| seen[i].is_none()).collect();
    if !rest.is_empty() {
        groups.push(rest);
    }
    if groups.len() < 2 {
        return Err(ApiError::bad_request(format!(
            "a partition needs at least two groups (the nodes not named form one more); \
             these {} group(s) name every node",
            request.groups.len()
        )));
    }
    Ok(groups)
}

/// Directions of links between groups that are up now, at ends that answer.
fn to_take_down(
    partition: &Partition,
    members: &[Member],
    edges: &[(usize, usize)],
    tables: &Tables,
) -> Vec<(usize, usize)> {
    let mut down = Vec::new();
    for &(a, b) in edges {
        if partition.group_of(members[a].slot) == partition.group_of(members[b].slot) {
            continue;
        }
        for (from, to) in [(a, b), (b, a)] {
            let up = tables[from]
                .iter()
                .flatten()
                .any(|info| info.address == members[to].address && !info.conditions.down);
            if up {
                down.push((from, to));
            }
        }
    }
    down
}

impl Manager {
    /// `POST /network/partition`.
    pub async fn partition(&self, request: &PartitionRequest) -> Result<NetworkBody, ApiError> {
        let _turn = self.user_turn()?;
        if self.lab().state().partition.is_some() {
            return Err(ApiError::Conflict(
                "the network is already partitioned; POST /network/heal first".to_owned(),
            ));
        }
        let members = self.members();
        let groups = groups_of(request, &members, |key| {
            let slot = self.find(key)?;
            members
                .iter()
                .position(|member| member.slot == slot)
                .ok_or_else(|| {
                    ApiError::Conflict(format!("node {key} has not started yet; it has no links"))
                })
        })?;
        let partition = Partition {
            groups: groups
                .iter()
                .map(|group| group.iter().map(|&i| members[i].slot).collect())
                .collect(),
            downed: BTreeSet::new(),
        };
        tracing::info!(groups = ?partition.groups, "partitioning the network");
        self.lab().state().partition = Some(partition);
        let edges = self.edges(&members);
        self.enforce_partition(&members, &edges).await;
        Ok(self.network().await)
    }

    /// Take down the links between the partition's groups that are up
    /// (after a rewiring or a restart too), and remember which.
    pub(crate) async fn enforce_partition(&self, members: &[Member], edges: &[(usize, usize)]) {
        let Some(partition) = self.lab().state().partition.clone() else {
            return;
        };
        let tables = self.tables(members).await;
        let down = to_take_down(&partition, members, edges, &tables);
        let client = &self.inner.client;
        let results = join_all(down.iter().map(|&(from, to)| async move {
            let update = LinkConditionsUpdate {
                peer: Some(members[to].address.clone()),
                down: Some(true),
                ..Default::default()
            };
            let result = client.set_links(&members[from].address, &update).await;
            if let Err(err) = &result {
                tracing::warn!(node = %members[from].id, peer = %members[to].id, error = %err, "could not take a link down");
            }
            result.is_ok().then_some((members[from].slot, members[to].slot))
        }))
        .await;
        if let Some(partition) = self.lab().state().partition.as_mut() {
            partition.downed.extend(results.into_iter().flatten());
        }
    }

    /// A user set `down` by hand on these `(from, to)` slots: the
    /// partition no longer owns them, so heal leaves them as set.
    pub(crate) fn release_from_partition(&self, directions: &[(usize, usize)]) {
        if let Some(partition) = self.lab().state().partition.as_mut() {
            for direction in directions {
                partition.downed.remove(direction);
            }
        }
    }

    /// `POST /network/heal`.
    pub async fn heal(&self) -> Result<NetworkBody, ApiError> {
        let _turn = self.user_turn()?;
        let Some(partition) = self.lab().state().partition.take() else {
            return Err(ApiError::Conflict(
                "the network is not partitioned".to_owned(),
            ));
        };
        let members = self.members();
        let address = |slot: usize| {
            members
                .iter()
                .find(|member| member.slot == slot)
                .filter(|member| member.live)
                .map(|member| member.address.clone())
        };
        let client = &self.inner.client;
        join_all(partition.downed.iter().map(|&(from, to)| {
            let ends = address(from).zip(address(to));
            async move {
                let Some((from, to)) = ends else {
                    return;
                };
                let update = LinkConditionsUpdate {
                    peer: Some(to.clone()),
                    down: Some(false),
                    ..Default::default()
                };
                if let Err(err) = client.set_links(&from, &update).await {
                    tracing::warn!(node = %from, peer = %to, error = %err, "could not bring a link back up");
                }
            }
        }))
        .await;
        tracing::info!(links = partition.downed.len(), "partition healed");
        Ok(self.network().await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(n: usize) -> Vec<Member> {
        (0..n)
            .map(|slot| Member {
                slot,
                id: format!("n{slot}"),
                address: format!("127.0.0.1:{}", 5000 + slot),
                live: true,
            })
            .collect()
    }

    fn find(key: &str) -> Result<usize, ApiError> {
        match key.strip_prefix('n').and_then(|n| n.parse::<usize>().ok()) {
            Some(i) if i < 5 => Ok(i),
            _ => Err(ApiError::UnknownNode(key.to_owned())),
        }
    }

    fn request(groups: &[&[&str]]) -> PartitionRequest {
        PartitionRequest {
            groups: groups
                .iter()
                .map(|group| group.iter().map(|key| (*key).to_owned()).collect())
                .collect(),
        }
    }

    #[test]
    fn nodes_not_named_form_one_more_group() {
        let groups = groups_of(&request(&[&["n0", "n1"]]), &members(5), find).unwrap();
        assert_eq!(groups, vec![vec![0, 1], vec![2, 3, 4]]);
        let groups = groups_of(
            &request(&[&["n0"], &["n1", "n2", "n3", "n4"]]),
            &members(5),
            find,
        )
        .unwrap();
        assert_eq!(groups.len(), 2);
    }

    #[test]
    fn bad_groups_are_refused_with_the_reason() {
        let cases: [(&[&[&str]], &str); 5] = [
            (&[&["n0"], &[]], "group 2 is empty"),
            (&[&["n0", "n1"], &["n1"]], "in groups 1 and 2"),
            (&[&["n0", "n0"]], "named twice in group 1"),
            (&[&["n0", "n1", "n2", "n3", "n4"]], "at least two groups"),
            (&[], "at least two groups"),
        ];
        for (groups, expected) in cases {
            let err = groups_of(&request(groups), &members(5), find).unwrap_err();
            assert!(err.to_string().contains(expected), "{groups:?}: {err}");
        }
        let err = groups_of(&request(&[&["n7"]]), &members(5), find).unwrap_err();
        assert!(matches!(err, ApiError::UnknownNode(_)), "{err}");
    }
}
