//! Peers cut off for misbehaving: by listen address and by node id, each
//! until a deadline. A banned peer's inbound links are refused and it is
//! not dialled until its ban ends.

use std::collections::HashMap;
use std::sync::Mutex;

/// One ban: until when (ms since the epoch) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ban {
    pub until: u64,
    pub reason: String,
}

pub struct Bans {
    duration_ms: u64,
    /// Keyed by listen address and, separately, by node id.
    by_key: Mutex<HashMap<String, Ban>>,
}

impl Bans {
    pub fn new(duration_ms: u64) -> Self {
        Self {
            duration_ms,
            by_key: Mutex::new(HashMap::new()),
        }
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Ban>> {
        self.by_key.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Bans `address` (and `id`, when known) from `now`; returns the ban.
    pub fn ban(&self, address: &str, id: &str, reason: &str, now: u64) -> Ban {
        let ban = Ban {
            until: now.saturating_add(self.duration_ms),
            reason: reason.to_owned(),
        };
        let mut map = self.map();
        // Expired bans go when a new one comes, so the map stays as small
        // as the set of peers banned recently.
        map.retain(|_, b| b.until > now);
        map.insert(address.to_owned(), ban.clone());
        if !id.is_empty() {
            map.insert(format!("id:{id}"), ban.clone());
        }
        ban
    }

    /// The ban on `address` or `id` in force at `now`, if any.
    pub fn active(&self, address: &str, id: &str, now: u64) -> Option<Ban> {
        let map = self.map();
        let by_address = map.get(address).filter(|b| b.until > now);
        let by_id = (!id.is_empty())
            .then(|| map.get(&format!("id:{id}")))
            .flatten()
            .filter(|b| b.until > now);
        by_address.or(by_id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ban_holds_by_address_and_by_id_until_it_ends() {
        let bans = Bans::new(1000);
        let ban = bans.ban("127.0.0.1:1", "abc", "bad proof of work", 5000);
        assert_eq!(ban.until, 6000);
        assert_eq!(bans.active("127.0.0.1:1", "", 5999), Some(ban.clone()));
        assert_eq!(bans.active("127.0.0.1:2", "abc", 5999), Some(ban));
        assert_eq!(bans.active("127.0.0.1:1", "abc", 6000), None);
        assert_eq!(bans.active("127.0.0.1:2", "other", 5500), None);
    }

    #[test]
    fn expired_bans_are_forgotten_when_a_new_one_comes() {
        let bans = Bans::new(10);
        bans.ban("a:1", "", "flood", 0);
        bans.ban("b:1", "", "flood", 100);
        assert_eq!(bans.map().len(), 1);
    }
}
