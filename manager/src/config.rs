//! What the manager was asked to run: its own port, how many nodes, where
//! their binary, stores and the explorer's files are.

use std::net::IpAddr;
use std::path::PathBuf;

use shared::Preset;

/// Everything `main` parsed from the command line.
#[derive(Debug, Clone)]
pub struct Config {
    /// The manager's own HTTP port; 0 lets the OS choose.
    pub port: u16,
    /// Interface the manager and its nodes bind.
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
}

impl Config {
    /// Binding anything but loopback exposes the nodes' mutating endpoints,
    /// so the manager then protects them (and its own) with a bearer token.
    pub fn needs_token(&self) -> bool {
        !is_loopback(&self.host)
    }
}

pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .parse::<IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// The `node` executable next to the running one (cargo puts both binaries
/// of the workspace in the same directory).
pub fn default_node_bin() -> PathBuf {
    std::env::current_exe()
        .map(|exe| exe.with_file_name("node"))
        .unwrap_or_else(|_| PathBuf::from("node"))
}
