//! `cargo xtask fuzz`: run each cargo-fuzz target in `shared/fuzz` (every
//! decoder that reads bytes from outside: peer frames, block bytes, event
//! JSON, a chain sent to a node) for a while under libFuzzer with
//! AddressSanitizer, and print one JSON line per target with what it ran.
//!
//! cargo-fuzz needs a nightly toolchain; where rustup cannot fetch one (a
//! closed network) and none is installed, this says so and stops. Each
//! target's corpus stays in `target/fuzz/corpus/<target>`, so runs build on
//! each other; it is seeded with valid inputs made with `shared` itself, so
//! the fuzzer starts from real frames, blocks, events and chains. A crash
//! leaves its input in `target/fuzz/artifacts/<target>/` and fails the run.

use crate::{cmd, install};
use anyhow::{Context, Result, bail};
use serde_json::json;
use shared::api::ChainBody;
use shared::events::{Event, EventKind};
use shared::p2p::{self, Hello, Message, WireBlock, WireHash, WireHeader};
use shared::{Preset, Work};
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

/// The targets, as `shared/fuzz/Cargo.toml` names them.
pub const TARGETS: &[&str] = &["peer_frame", "block_bytes", "event_json", "chain_json"];

#[derive(clap::Args)]
pub struct Args {
    /// How long each target runs, in seconds
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    seconds: u64,
    /// Run only this target (repeatable); all of them by default
    #[arg(long = "target", value_parser = clap::builder::PossibleValuesParser::new(TARGETS))]
    targets: Vec<String>,
}

pub fn run(args: &Args) -> Result<()> {
    install::nightly()?;
    install::cargo_fuzz()?;
    let root = cmd::target_dir().join("fuzz");
    let targets: Vec<&str> = if args.targets.is_empty() {
        TARGETS.to_vec()
    } else {
        args.targets.iter().map(String::as_str).collect()
    };
    let mut crashed = Vec::new();
    for target in targets {
        let corpus = root.join("corpus").join(target);
        let artifacts = root.join("artifacts").join(target);
        std::fs::create_dir_all(&corpus)?;
        std::fs::create_dir_all(&artifacts)?;
        write_seeds(target, &corpus)?;
        let report = fuzz(target, &root, &corpus, &artifacts, args.seconds)?;
        println!("{report}");
        if report["crashed"] == true {
            crashed.push(target);
        }
    }
    if !crashed.is_empty() {
        bail!(
            "the fuzzer found a crash in {}; the inputs are in {}",
            crashed.join(", "),
            root.join("artifacts").display()
        );
    }
    Ok(())
}

/// Builds and runs one target for `seconds`, and reads libFuzzer's final
/// figures from what it prints.
fn fuzz(
    target: &str,
    root: &Path,
    corpus: &Path,
    artifacts: &Path,
    seconds: u64,
) -> Result<serde_json::Value> {
    let mut command = cmd::new("cargo");
    command
        .args(["+nightly", "fuzz", "run", "--fuzz-dir", "shared/fuzz"])
        .arg("--target-dir")
        .arg(root.join("build"))
        .arg(target)
        .arg(corpus)
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-print_final_stats=1")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    println!("==> fuzzing {target} for {seconds} s");
    let started = Instant::now();
    let output = command
        .output()
        .with_context(|| format!("could not start cargo fuzz for {target}"))?;
    let log = String::from_utf8_lossy(&output.stderr);
    let stat = |name: &str| -> Option<u64> {
        log.lines()
            .find_map(|line| line.strip_prefix(&format!("stat::{name}:")))
            .and_then(|value| value.trim().parse().ok())
    };
    let executions = stat("number_of_executed_units");
    if executions.is_none() && output.status.success() {
        bail!("cargo fuzz for {target} printed no figures:\n{log}");
    }
    let crashed = !output.status.success();
    if crashed {
        // libFuzzer's own account: the panic, the input, where it is kept.
        eprintln!("{log}");
    }
    // The last status line ("#N DONE cov: C ft: F corp: K/..."): coverage
    // and corpus size at the end.
    let last = log
        .lines()
        .rev()
        .find(|line| line.starts_with('#') && line.contains(" cov: "));
    let field = |name: &str| -> Option<u64> {
        let rest = last?.split(&format!(" {name}: ")).nth(1)?;
        rest.split(|c: char| !c.is_ascii_digit())
            .next()?
            .parse()
            .ok()
    };
    Ok(json!({
        "target": target,
        "seconds": seconds,
        "wall_ms": u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "executions": executions,
        "executions_per_s": stat("average_exec_per_sec"),
        "coverage_edges": field("cov"),
        "features": field("ft"),
        "corpus_inputs": field("corp"),
        "new_inputs": stat("new_units_added"),
        "peak_rss_mb": stat("peak_rss_mb"),
        "sanitizer": "address",
        "crashed": crashed,
    }))
}

/// Writes [`seeds`] into `corpus`, named by content, so writing them again
/// adds nothing.
fn write_seeds(target: &str, corpus: &Path) -> Result<()> {
    for seed in seeds(target)? {
        let name = format!("seed-{}", hex_digest(&seed));
        std::fs::write(corpus.join(name), seed)?;
    }
    Ok(())
}

/// Valid inputs for `target`, made with `shared`.
fn seeds(target: &str) -> Result<Vec<Vec<u8>>> {
    let params = Preset::Regtest.params();
    let (chain, _) = shared::spaced_chain(&params, 3, "fuzz", 1_000);
    let seeds: Vec<Vec<u8>> = match target {
        "peer_frame" => {
            let hashes: Vec<WireHash> = chain.iter().map(|b| WireHash(b.hash)).collect();
            let messages = [
                Message::Hello(Hello::new(
                    &params,
                    "fuzz",
                    "127.0.0.1:5000",
                    3,
                    Work::from_be_bytes([1; 32]),
                )),
                Message::Reject {
                    reason: "a reason".into(),
                },
                Message::Headers {
                    headers: chain.iter().map(|b| WireHeader(b.header)).collect(),
                },
                Message::GetHeaders {
                    locator: hashes.clone(),
                },
                Message::GetBlocks {
                    hashes: hashes.clone(),
                },
                Message::Block {
                    block: WireBlock(chain[1].clone()),
                },
                Message::NotFound { hashes },
                Message::Entry {
                    data: "an entry".into(),
                },
                Message::Ping { nonce: 7 },
                Message::Pong { nonce: 7 },
            ];
            messages.iter().map(p2p::encode).collect()
        }
        "block_bytes" => chain.iter().map(shared::Block::to_bytes).collect(),
        "event_json" => {
            let tip = &chain[3];
            [
                EventKind::BlockMined {
                    height: 3,
                    hash: tip.hash,
                    attempts: 2,
                    elapsed_ms: 5,
                    entries: 0,
                },
                EventKind::BlockAccepted {
                    height: 3,
                    hash: tip.hash,
                    previous_hash: tip.header.previous_hash,
                    from: Some("127.0.0.1:5001".into()),
                    active: true,
                },
                EventKind::ChainReorganized {
                    old_tip: chain[2].hash,
                    new_tip: tip.hash,
                    depth: 1,
                    fork_height: 1,
                    new_height: 3,
                },
                EventKind::MiningStopped,
            ]
            .into_iter()
            .map(|kind| {
                let event = Event {
                    at: 1,
                    node: Some("n0".into()),
                    kind,
                };
                serde_json::to_vec(&event).expect("an event serializes")
            })
            .collect()
        }
        "chain_json" => vec![serde_json::to_vec(&ChainBody {
            length: chain.len() as u64,
            chain,
        })?],
        other => bail!("no seeds for fuzz target {other}"),
    };
    Ok(seeds)
}

fn hex_digest(bytes: &[u8]) -> String {
    shared::sha256d(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fuzz targets themselves build only under `cargo xtask fuzz`
    /// (nightly, libFuzzer); this checks that each one's seeds are inputs
    /// its decoder takes, so the fuzzer starts past the first check.
    #[test]
    fn every_seed_is_a_valid_input_of_its_target() {
        for &target in TARGETS {
            let seeds = seeds(target).unwrap();
            assert!(!seeds.is_empty(), "{target}");
            for seed in &seeds {
                let taken = match target {
                    "peer_frame" => p2p::decode(seed).is_ok(),
                    "block_bytes" => shared::Block::from_bytes(seed).is_ok(),
                    "event_json" => serde_json::from_slice::<Event>(seed).is_ok(),
                    "chain_json" => serde_json::from_slice::<ChainBody>(seed).is_ok_and(|body| {
                        shared::validation::validate_chain(
                            &Preset::Regtest.params(),
                            &body.chain,
                            u64::MAX / 2,
                        )
                        .is_ok()
                    }),
                    other => panic!("a target without a check: {other}"),
                };
                assert!(taken, "{target}: a seed its decoder refuses");
            }
        }
    }
}
