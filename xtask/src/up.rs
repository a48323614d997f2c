//! `cargo xtask up`: install what is missing, build the node, the manager and
//! the explorer, then become the manager.

use crate::{cmd, install};
use anyhow::Result;
use std::ffi::OsStr;
use std::path::Path;
use std::process::Command;

/// The explorer's trunk entry point; until it exists there is nothing to bundle.
pub const EXPLORER_INDEX: &str = "explorer/index.html";

#[derive(clap::Args)]
pub struct Args {
    /// How many nodes the manager starts
    #[arg(long, default_value_t = 6, value_parser = clap::value_parser!(u16).range(1..))]
    nodes: u16,
    /// Port of the manager, which serves the explorer (the URL to open)
    #[arg(long, default_value_t = 4999)]
    port: u16,
    /// First port for the nodes (passed to the manager as --node-port)
    #[arg(long, default_value_t = 5000)]
    node_port: u16,
}

pub fn run(args: &Args) -> Result<()> {
    build_release()?;

    let (port, nodes, node_port) = (
        args.port.to_string(),
        args.nodes.to_string(),
        args.node_port.to_string(),
    );
    let mut manager = release_manager(["-p", &port, "-a", &nodes, "--node-port", &node_port]);
    println!("==> open http://127.0.0.1:{}/ in your browser", args.port);
    println!(
        "==> starting the manager with {} nodes (Ctrl-C to stop)",
        args.nodes
    );
    Err(cmd::exec(&mut manager))
}

/// The manager that [`build_release`] built, to be started with `args`.
pub fn release_manager<S: AsRef<OsStr>>(args: impl IntoIterator<Item = S>) -> Command {
    let mut manager = cmd::new(cmd::target_dir().join("release").join("manager"));
    manager.args(args);
    manager
}

/// Installs the wasm tools, then builds the node and the manager (release)
/// and the explorer (trunk, release).
pub fn build_release() -> Result<()> {
    install::wasm_target()?;
    install::wasm_bindgen_cli()?;
    install::trunk()?;
    install::wasm_opt()?;

    println!("==> building the node and the manager (release; first build takes a few minutes)");
    cmd::run(cmd::new("cargo").args(["build", "--release", "-p", "node", "-p", "manager"]))?;

    if Path::new(EXPLORER_INDEX).exists() {
        // trunk runs offline (it must use the wasm-bindgen installed above, not
        // download one), so cargo needs every crate downloaded beforehand.
        println!("==> downloading the crates the explorer needs (cargo fetch)");
        cmd::run(cmd::new("cargo").arg("fetch"))?;
        println!("==> building the explorer with trunk (release; first build takes ~7 minutes)");
        cmd::run(
            cmd::new("trunk")
                .args(["build", "--release", "--offline"])
                .current_dir("explorer"),
        )?;
    } else {
        println!("==> {EXPLORER_INDEX} does not exist yet: nothing to build for the explorer");
    }
    Ok(())
}
