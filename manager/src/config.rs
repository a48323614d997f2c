//! What the manager was asked to run: its own port, how many nodes, where
//! their binary, stores and the explorer's files are; and the one address
//! the manager and its nodes bind, resolved from `--host` once at start.

use std::net::IpAddr;
use std::path::PathBuf;

use shared::Preset;
use shared::topology::Topology;

/// Everything `main` parsed from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// The manager's own HTTP port; 0 lets the OS choose.
    pub port: u16,
    /// Interface the manager and its nodes bind, as given: an IPv4 address
    /// or a name such as `localhost` ([`resolve_host`] turns it into one).
    pub host: String,
    /// Nodes started at launch.
    pub nodes: u16,
    /// Port of the first node, the next ones count up from it; 0 gives every
    /// node a port the OS chooses.
    pub node_port: u16,
    /// Parameter preset every node runs.
    pub chain: Preset,
    /// Each node stores its chain in `<data_dir>/node-<port>`.
    pub data_dir: PathBuf,
    /// The `node` executable.
    pub node_bin: PathBuf,
    /// The built explorer (trunk's `dist`), served at `/`.
    pub explorer_dir: PathBuf,
    /// Mining threads per node.
    pub threads: u16,
    /// How long each node bans a misbehaving peer (its `--ban-secs`);
    /// `None` leaves the node's default.
    pub ban_secs: Option<u64>,
    /// The bearer token commands and `/events` require; when `None` and the
    /// host is beyond loopback, one is generated and printed.
    pub token: Option<String>,
    /// What this machine can hash, measured by [`crate::run`] before any
    /// node starts; `None` skips the capacity check.
    pub capacity: Option<crate::hashpower::Capacity>,
    /// Lab chain only: the mean block interval its difficulty is set for.
    pub block_interval_ms: Option<u64>,
    /// The network's hash rate cap, split equally over the nodes; on the
    /// lab chain it also sets the difficulty (default: half the capacity).
    pub total_hashrate: Option<u64>,
    /// Filled in by [`crate::run`] from the above and the capacity.
    pub start_plan: crate::hashpower::StartPlan,
    /// The network's shape; `None` is full up to 8 nodes, random:8 beyond
    /// ([`Topology::default_for`] of `nodes`).
    pub topology: Option<Topology>,
    /// Seed of the random shapes.
    pub topology_seed: u64,
    /// Nodes to find by name and attach as they come and go (`--discover`).
    pub discover: Option<crate::discovery::Target>,
}

/// Why `--host` names no address the manager can hand its nodes.
#[derive(Debug, thiserror::Error)]
pub enum HostError {
    #[error("cannot resolve --host {host}: {source}")]
    Lookup {
        host: String,
        source: std::io::Error,
    },
    #[error("--host {host} resolves to no IPv4 address")]
    NoIpv4 { host: String },
    #[error(
        "--host {host} is an IPv6 address; nodes are named host:port, which has no room for one: use an IPv4 address"
    )]
    Ipv6 { host: String },
}

/// The IPv4 address `host` names. A node's `--host` takes an IP address
/// only, and every node is named `host:port` (no brackets, so no IPv6), so
/// a name such as `localhost` is resolved here, once, and the manager and
/// every node bind the address it gave.
pub async fn resolve_host(host: &str) -> Result<IpAddr, HostError> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return match ip {
            IpAddr::V4(_) => Ok(ip),
            IpAddr::V6(_) => Err(HostError::Ipv6 {
                host: host.to_owned(),
            }),
        };
    }
    let addresses =
        tokio::net::lookup_host((host, 0))
            .await
            .map_err(|source| HostError::Lookup {
                host: host.to_owned(),
                source,
            })?;
    addresses
        .map(|address| address.ip())
        .find(IpAddr::is_ipv4)
        .ok_or_else(|| HostError::NoIpv4 {
            host: host.to_owned(),
        })
}

/// The `node` executable next to the running one (cargo puts both binaries
/// of the workspace in the same directory).
pub fn default_node_bin() -> PathBuf {
    std::env::current_exe()
        .map(|exe| exe.with_file_name("node"))
        .unwrap_or_else(|_| PathBuf::from("node"))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv4Addr;

    use super::*;

    #[tokio::test]
    async fn a_host_name_becomes_the_ipv4_address_nodes_can_bind() {
        let localhost = resolve_host("localhost").await.unwrap();
        assert!(
            localhost.is_ipv4() && localhost.is_loopback(),
            "{localhost}"
        );
        assert_eq!(
            resolve_host("0.0.0.0").await.unwrap(),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        );
        assert_eq!(
            resolve_host("127.0.0.2").await.unwrap(),
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2))
        );
        assert!(matches!(
            resolve_host("::1").await,
            Err(HostError::Ipv6 { .. })
        ));
    }
}
