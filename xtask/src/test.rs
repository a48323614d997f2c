//! `cargo xtask test`: install what is missing, then run every check and test
//! in order, stopping at the first failure.

use crate::{cmd, install};
use anyhow::{Context, Result};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The crates that are also linted for and tested on wasm32, their tests
/// running in headless Chromium. Each one needs a `webdriver.json` next to its
/// `Cargo.toml` with the Chromium arguments (headless, no sandbox as root).
const WASM_PACKAGES: &[&str] = &["shared", "explorer"];

/// One step: what it is, and the command that runs it.
struct Step {
    title: String,
    command: Command,
    /// Run in a process group of its own that is killed when the step ends,
    /// so no chromedriver or Chromium outlives it.
    reap_group: bool,
}

fn cargo(args: &[&str]) -> Command {
    let mut command = cmd::new("cargo");
    command.args(args);
    // A test run gains nothing from incremental caches, which take
    // gigabytes; and in CI rustc once exited 101 (its panic code) on the
    // manager in a nested build over a warm target dir, where a stale
    // incremental cache is the likeliest cause. The nested builds the
    // tests start (`cargo build -p node ...`) inherit this.
    command.env("CARGO_INCREMENTAL", "0");
    command
}

/// `-p a -p b …` for the wasm packages.
fn wasm_package_args() -> Vec<&'static str> {
    WASM_PACKAGES
        .iter()
        .flat_map(|package| ["-p", package])
        .collect()
}

/// `axe`: axe-core's script, for the explorer's accessibility audit.
fn steps(axe: &Path) -> Vec<Step> {
    let wasm_packages = WASM_PACKAGES.join(", ");
    let step = |title: String, command: Command| Step {
        title,
        command,
        reap_group: false,
    };

    let mut wasm_clippy = cargo(&["clippy"]);
    wasm_clippy.args(wasm_package_args()).args([
        "--target",
        install::WASM_TARGET,
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]);

    let mut wasm_tests = cargo(&["test"]);
    wasm_tests
        .args(wasm_package_args())
        .args(["--target", install::WASM_TARGET])
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        )
        .env("CHROMEDRIVER", install::CHROMEDRIVER)
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120");

    let mut steps = vec![
        step(
            "formatting (rustfmt)".into(),
            cargo(&["fmt", "--all", "--", "--check"]),
        ),
        step(
            "lints, native (clippy; the first run compiles the workspace, takes a few minutes)"
                .into(),
            cargo(&[
                "clippy",
                "--workspace",
                "--all-targets",
                "--",
                "-D",
                "warnings",
            ]),
        ),
        step(
            format!("lints, {} ({wasm_packages})", install::WASM_TARGET),
            wasm_clippy,
        ),
    ];
    // The explorer's end-to-end test (a native test) serves explorer/dist
    // through a real manager, so the bundle is built first. trunk runs
    // offline (it must use the installed wasm-bindgen, not download one),
    // so cargo downloads every crate beforehand.
    steps.push(step(
        "download the crates the explorer needs (cargo fetch)".into(),
        cargo(&["fetch"]),
    ));
    let mut trunk = cmd::new("trunk");
    trunk
        .args(["build", "--release", "--offline"])
        .current_dir("explorer");
    steps.push(step(
        "build the explorer with trunk (release; the first build takes a few minutes)".into(),
        trunk,
    ));
    let mut native_tests = cargo(&["test", "--workspace"]);
    native_tests.env("E2E_AXE", axe);
    steps.extend([
        Step {
            title: "native tests, including the explorer's end-to-end test in headless \
                    Chromium (the first run compiles them, takes a few minutes)"
                .into(),
            command: native_tests,
            // The end-to-end test starts chromedriver, Chromium, a manager and
            // its nodes; whatever a failed run leaves behind is killed.
            reap_group: true,
        },
        Step {
            title: format!("wasm tests in headless Chromium ({wasm_packages})"),
            command: wasm_tests,
            reap_group: true,
        },
    ]);
    // The same explorer tests in Firefox: its end-to-end test, then its
    // component tests through geckodriver.
    let mut e2e = cargo(&[
        "test",
        "-p",
        "explorer",
        "--test",
        "e2e",
        "--test",
        "e2e_network",
        "--test",
        "e2e_lab",
    ]);
    e2e.env("E2E_BROWSER", "firefox");
    let mut components = cargo(&[
        "test",
        "-p",
        "explorer",
        "--target",
        install::WASM_TARGET,
        "--test",
        "components",
    ]);
    components
        .env(
            "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER",
            "wasm-bindgen-test-runner",
        )
        .env("GECKODRIVER", "geckodriver")
        .env("WASM_BINDGEN_TEST_TIMEOUT", "120");
    steps.extend([
        Step {
            title: "the explorer's end-to-end test in headless Firefox".into(),
            command: e2e,
            reap_group: true,
        },
        Step {
            title: "the explorer's component tests in headless Firefox".into(),
            command: components,
            reap_group: true,
        },
    ]);
    steps
}

/// "42.1s" or "3m07s".
fn human(duration: Duration) -> String {
    let secs = duration.as_secs();
    if secs < 60 {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        format!("{}m{:02}s", secs / 60, secs % 60)
    }
}

pub fn run() -> Result<()> {
    let started = Instant::now();
    install::wasm_target()?;
    install::clippy_and_rustfmt()?;
    install::wasm_bindgen_cli()?;
    install::trunk()?;
    install::wasm_opt()?;
    install::chromium()?;
    install::firefox()?;
    let axe = install::axe_core()?;
    install::openapi_spec_validator()?;
    install::kubernetes_validate()?;
    install::schemathesis()?;
    install::docker_compose()?;

    let steps = steps(&axe);
    let total = steps.len();
    for (number, mut step) in (1..).zip(steps) {
        println!("==> [{number}/{total}] {}", step.title);
        let step_started = Instant::now();
        let result = if step.reap_group {
            cmd::run_reaping_group(&mut step.command)
        } else {
            cmd::run(&mut step.command)
        };
        result
            .with_context(|| format!("xtask test: step {number}/{total} failed: {}", step.title))?;
        println!("    passed in {}", human(step_started.elapsed()));
    }
    println!(
        "xtask test: {total} steps passed in {}",
        human(started.elapsed())
    );
    // The closing line CI reads: every test that ran, native and in the browser.
    let (passed, failed) = cmd::tests_tallied();
    println!("tests: {passed} passed, {failed} failed");
    Ok(())
}
