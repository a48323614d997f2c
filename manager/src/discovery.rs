//! `--discover NAME:PORT`: nodes found by name instead of started here, as
//! a Kubernetes headless Service or a Compose service name lists them.
//!
//! Every few seconds the name is resolved to every address behind it. An
//! address not in the network yet is attached (`POST /nodes/attach` does
//! the same); a node this loop found whose address no longer resolves is
//! marked stopped; one that comes back at an address it had is followed
//! again. The name resolves through the system, or through a hosts-format
//! file (`--hosts-file`), which is how a fixed list of hosts, or a test,
//! names several addresses at once.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::Manager;

/// How often the name is resolved again.
pub const INTERVAL: Duration = Duration::from_secs(3);

/// What to discover: a name and the port every node behind it listens on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub port: u16,
    /// Resolve `name` here instead of through the system.
    pub hosts_file: Option<PathBuf>,
}

/// Why `--discover` names no target.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("--discover wants NAME:PORT, e.g. node-headless:5000; got {0:?}")]
    Shape(String),
    #[error("--discover {0:?}: the port is not a number from 1 to 65535")]
    Port(String),
}

impl Target {
    pub fn parse(text: &str, hosts_file: Option<PathBuf>) -> Result<Self, TargetError> {
        let text = text.trim();
        let (name, port) = text
            .rsplit_once(':')
            .filter(|(name, _)| !name.is_empty() && !name.contains(':'))
            .ok_or_else(|| TargetError::Shape(text.to_owned()))?;
        let port = port
            .parse::<u16>()
            .ok()
            .filter(|port| *port != 0)
            .ok_or_else(|| TargetError::Port(text.to_owned()))?;
        Ok(Self {
            name: name.to_owned(),
            port,
            hosts_file,
        })
    }

    /// Every `ip:port` behind the name now, or why it could not be resolved.
    pub async fn resolve(&self) -> std::io::Result<BTreeSet<String>> {
        let ips: Vec<IpAddr> = match &self.hosts_file {
            Some(path) => hosts_lookup(&tokio::fs::read_to_string(path).await?, &self.name),
            None => tokio::net::lookup_host((self.name.as_str(), self.port))
                .await?
                .map(|address| address.ip())
                .collect(),
        };
        Ok(ips
            .into_iter()
            .map(|ip| SocketAddr::new(ip, self.port).to_string())
            .collect())
    }
}

/// The addresses `name` has in a hosts-format text: `ip name [alias…]` a
/// line, `#` starts a comment.
pub fn hosts_lookup(text: &str, name: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next()?;
            let mut words = line.split_whitespace();
            let ip: IpAddr = words.next()?.parse().ok()?;
            words
                .any(|word| word.eq_ignore_ascii_case(name))
                .then_some(ip)
        })
        .collect()
}

/// What one round does: the addresses to attach (new ones, and known ones
/// that came back), and the known ones that vanished.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    pub appeared: Vec<String>,
    pub vanished: Vec<String>,
}

/// Compares what the name resolves to now with what it did last round.
pub fn round(before: &BTreeSet<String>, now: &BTreeSet<String>) -> Round {
    Round {
        appeared: now.difference(before).cloned().collect(),
        vanished: before.difference(now).cloned().collect(),
    }
}

/// Follows `target` until `shutdown`: the loop behind `--discover`.
pub async fn follow(manager: Manager, target: Target, shutdown: CancellationToken) {
    let mut present: BTreeSet<String> = BTreeSet::new();
    let mut failing = false;
    loop {
        match target.resolve().await {
            Ok(now) => {
                failing = false;
                let Round { appeared, vanished } = round(&present, &now);
                for address in &appeared {
                    if let Err(err) = manager.discovered(address).await {
                        // Not ready yet (a pod starting): tried again next
                        // round, since it is not counted as present.
                        tracing::info!(%address, error = %err, "discovered node not attached yet");
                    } else {
                        present.insert(address.clone());
                    }
                }
                for address in vanished {
                    manager.vanished(&address);
                    present.remove(&address);
                }
            }
            Err(err) if !failing => {
                failing = true;
                tracing::warn!(name = %target.name, error = %err, "cannot resolve --discover");
            }
            Err(_) => {}
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(INTERVAL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_is_a_name_and_a_port() {
        let target = Target::parse(" node-headless:5000 ", None).unwrap();
        assert_eq!((target.name.as_str(), target.port), ("node-headless", 5000));
    }

    #[test]
    fn a_target_without_a_port_is_refused() {
        for bad in ["node-headless", ":5000", "a:b:5000", ""] {
            assert!(
                matches!(Target::parse(bad, None), Err(TargetError::Shape(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_port_out_of_range_is_refused() {
        for bad in ["node:0", "node:65536", "node:x"] {
            assert!(
                matches!(Target::parse(bad, None), Err(TargetError::Port(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_hosts_file_names_every_address_of_a_name() {
        let text = "# nodes\n127.0.0.2 nodes node-a\n127.0.0.3\tother NODES # upper case\n\
                    not-an-ip nodes\n::1 localhost\n10.0.0.9 nodesx\n";
        let ips = hosts_lookup(text, "nodes");
        assert_eq!(
            ips,
            [
                "127.0.0.2".parse::<IpAddr>().unwrap(),
                "127.0.0.3".parse().unwrap()
            ]
        );
        assert!(hosts_lookup(text, "absent").is_empty());
    }

    #[test]
    fn a_round_attaches_what_appeared_and_stops_what_vanished() {
        let set = |items: &[&str]| items.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let round = round(&set(&["a:1", "b:1"]), &set(&["b:1", "c:1"]));
        assert_eq!(round.appeared, ["c:1"]);
        assert_eq!(round.vanished, ["a:1"]);
        assert_eq!(
            super::round(&set(&["a:1"]), &set(&["a:1"])),
            Round::default()
        );
    }
}
