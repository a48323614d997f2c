//! `POST /network/links`: link conditions on the links between two nodes
//! (or `*`), both directions, set at each end with the node's own
//! `POST /network/links`; by explicit fields or a [`LinkPreset`].
//! Everything is checked before the first node is called.

use futures_util::future::join_all;
use shared::api::{LinkConditions, LinkConditionsUpdate, NetworkLinksBody, NetworkLinksRequest};

use crate::error::ApiError;
use crate::network::Manager;
use crate::topology::{Member, links_of};

/// Which nodes one end of a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Any,
    Member(usize),
}

impl End {
    fn matches(self, index: usize) -> bool {
        match self {
            End::Any => true,
            End::Member(member) => member == index,
        }
    }
}

/// The update both ends of every matched link get, or why the request
/// asks for nothing sensible.
pub(crate) fn update_of(request: &NetworkLinksRequest) -> Result<LinkConditionsUpdate, ApiError> {
    let explicit = request.latency_ms.is_some()
        || request.jitter_ms.is_some()
        || request.loss.is_some()
        || request.bandwidth_kbps.is_some()
        || request.down.is_some();
    if let Some(preset) = request.preset {
        if explicit {
            return Err(ApiError::bad_request(
                "give either a preset or explicit fields (latency_ms, jitter_ms, loss, \
                 bandwidth_kbps, down), not both",
            ));
        }
        return Ok(preset.update());
    }
    if !explicit {
        return Err(ApiError::bad_request(
            "nothing to change: give a preset (lan, wan, global, lossy) or at least one of \
             latency_ms, jitter_ms, loss, bandwidth_kbps, down",
        ));
    }
    let whole = |name: &str, value: Option<i64>| -> Result<Option<u64>, ApiError> {
        value
            .map(|value| {
                u64::try_from(value).map_err(|_| {
                    ApiError::bad_request(format!("{name} must be 0 or more, not {value}"))
                })
            })
            .transpose()
    };
    let update = LinkConditionsUpdate {
        peer: None,
        latency_ms: whole("latency_ms", request.latency_ms)?,
        jitter_ms: whole("jitter_ms", request.jitter_ms)?,
        loss: request.loss,
        bandwidth_kbps: whole("bandwidth_kbps", request.bandwidth_kbps)?,
        down: request.down,
    };
    // The nodes' own rule (loss from 0 to 1, delays up to ten minutes).
    update
        .applied_to(LinkConditions::CLEAR)
        .map_err(|err| ApiError::bad_request(err.to_string()))?;
    Ok(update)
}

impl Manager {
    fn end(&self, key: &str, members: &[Member]) -> Result<End, ApiError> {
        if key.trim() == "*" {
            return Ok(End::Any);
        }
        let (slot, _) = self.resolve(key)?;
        members
            .iter()
            .position(|member| member.slot == slot)
            .map(End::Member)
            .ok_or_else(|| ApiError::Conflict(format!("node {key} has not started yet")))
    }

    /// `POST /network/links`.
    pub async fn set_links(
        &self,
        request: &NetworkLinksRequest,
    ) -> Result<NetworkLinksBody, ApiError> {
        let update = update_of(request)?;
        let _turn = self.user_turn()?;
        let members = &self.members();
        let a = self.end(&request.a, members)?;
        let b = self.end(&request.b, members)?;
        if let (End::Member(a), End::Member(b)) = (a, b)
            && a == b
        {
            return Err(ApiError::bad_request(format!(
                "a and b both name node {}; a link has two ends",
                members[a].id
            )));
        }
        let matched: Vec<(usize, usize)> = self
            .edges(members)
            .into_iter()
            .filter(|&(x, y)| (a.matches(x) && b.matches(y)) || (a.matches(y) && b.matches(x)))
            .collect();
        if matched.is_empty() {
            return Err(ApiError::BadRequest {
                status: axum::http::StatusCode::NOT_FOUND,
                message: format!(
                    "no link between {} and {} in the {} topology; GET /network lists the links",
                    request.a,
                    request.b,
                    self.lab().topology()
                ),
            });
        }
        // Each end shapes what it sends: set both, each toward the other.
        let directions: Vec<(usize, usize)> = matched
            .iter()
            .flat_map(|&(x, y)| [(x, y), (y, x)])
            .filter(|&(from, _)| members[from].live)
            .collect();
        let client = &self.inner.client;
        let results = join_all(directions.iter().map(|&(from, to)| {
            let update = LinkConditionsUpdate {
                peer: Some(members[to].address.clone()),
                ..update.clone()
            };
            async move { client.set_links(&members[from].address, &update).await }
        }))
        .await;
        if update.down.is_some() {
            let slots: Vec<(usize, usize)> = directions
                .iter()
                .map(|&(from, to)| (members[from].slot, members[to].slot))
                .collect();
            self.release_from_partition(&slots);
        }
        let failed = results.into_iter().find_map(Result::err);
        if let Some(err) = failed {
            return Err(err.into());
        }
        tracing::info!(a = %request.a, b = %request.b, links = matched.len(), "link conditions set");
        let tables = self.tables(members).await;
        {
            let mut state = self.lab().state();
            for &(from, to) in &directions {
                let set = tables[from]
                    .iter()
                    .flatten()
                    .find(|info| info.address == members[to].address);
                if let Some(info) = set {
                    let key = (members[from].slot, members[to].slot);
                    let mut conditions = info.conditions;
                    // Down by the partition, not by the user: up once healed.
                    if state
                        .partition
                        .as_ref()
                        .is_some_and(|partition| partition.downed.contains(&key))
                    {
                        conditions.down = false;
                    }
                    state.conditions.insert(key, conditions);
                }
            }
        }
        let links = links_of(members, &tables)
            .into_iter()
            .filter(|link| {
                matched.iter().any(|&(x, y)| {
                    link.a_address == members[x].address && link.b_address == members[y].address
                })
            })
            .collect();
        Ok(NetworkLinksBody { links })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::api::LinkPreset;

    fn request() -> NetworkLinksRequest {
        NetworkLinksRequest {
            a: "*".to_owned(),
            b: "*".to_owned(),
            ..Default::default()
        }
    }

    #[test]
    fn a_preset_stands_for_its_numbers_and_leaves_down_alone() {
        let update = update_of(&NetworkLinksRequest {
            preset: Some(LinkPreset::Global),
            ..request()
        })
        .unwrap();
        assert_eq!(update.latency_ms, Some(150));
        assert_eq!(update.loss, Some(0.01));
        assert_eq!(update.down, None);
    }

    #[test]
    fn a_preset_with_fields_is_refused() {
        let err = update_of(&NetworkLinksRequest {
            preset: Some(LinkPreset::Lan),
            latency_ms: Some(5),
            ..request()
        })
        .unwrap_err();
        assert!(err.to_string().contains("not both"), "{err}");
    }

    #[test]
    fn a_negative_value_is_refused_by_name() {
        let err = update_of(&NetworkLinksRequest {
            jitter_ms: Some(-3),
            ..request()
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "jitter_ms must be 0 or more, not -3");
    }

    #[test]
    fn a_loss_over_one_is_refused() {
        let err = update_of(&NetworkLinksRequest {
            loss: Some(1.5),
            ..request()
        })
        .unwrap_err();
        assert!(err.to_string().contains("loss must be"), "{err}");
    }

    #[test]
    fn an_empty_update_is_refused() {
        let err = update_of(&request()).unwrap_err();
        assert!(err.to_string().contains("nothing to change"), "{err}");
    }
}
