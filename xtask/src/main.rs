//! `cargo xtask`: the project's two entry points for a newcomer.
//!
//! - `cargo xtask up` installs what is missing, builds everything and starts the
//!   manager with its nodes and the explorer.
//! - `cargo xtask test` installs what is missing and runs every check and test.
//! - `cargo xtask lighthouse` scores the explorer's page with Lighthouse.
//! - `cargo xtask fuzz` runs the decoders' fuzz targets under libFuzzer.
//!
//! This file only parses the command line; the work lives in the modules.

mod cmd;
mod fuzz;
mod install;
mod lighthouse;
mod test;
mod up;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Install what is missing, then build and run the network or run every test"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Install what is missing, build everything, start the manager with its
    /// nodes and the explorer, and print the URL to open
    Up(up::Args),
    /// Install what is missing and build the node, the manager (release)
    /// and the explorer, without starting anything (the Dockerfile's build)
    Build,
    /// Install what is missing and run every check and test: rustfmt, clippy
    /// (native and wasm), native tests, wasm tests in headless Chromium
    Test,
    /// Build in release, start a manager with three nodes and score the
    /// explorer with Lighthouse (desktop); prints the scores as JSON
    Lighthouse(lighthouse::Args),
    /// Fuzz every decoder of peer frames, blocks, events and chains with
    /// cargo-fuzz (nightly); prints one JSON line per target
    Fuzz(fuzz::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = cmd::enter_workspace_root().and_then(|()| match cli.command {
        Command::Up(args) => up::run(&args),
        Command::Build => up::build_release(),
        Command::Test => test::run(),
        Command::Lighthouse(args) => lighthouse::run(&args),
        Command::Fuzz(args) => fuzz::run(&args),
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // The error and its causes, without the backtrace anyhow would add
            // under RUST_BACKTRACE=1: these are failed commands, not bugs.
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::FAILURE
        }
    }
}
