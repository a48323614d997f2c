//! The tools the project needs. Each function checks whether its tool is
//! there, says so and skips it if it is, and otherwise says what it is about
//! to install and installs it.

use crate::cmd;
use anyhow::{Context, Result, bail};
use std::path::{Path, PathBuf};

/// The Rust target the shared crate and the explorer are built for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// Must match the `wasm-bindgen` version pinned in the workspace `Cargo.toml`.
const WASM_BINDGEN_VERSION: &str = "0.2.130";
const TRUNK_VERSION: &str = "0.21.14";
const CARGO_FUZZ_VERSION: &str = "0.13.2";
pub const CHROMIUM: &str = "/usr/bin/chromium";
/// Where Debian's `chromium-driver` puts ChromeDriver; the wasm tests use it.
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// Debian's Firefox ESR, which geckodriver drives.
pub const FIREFOX: &str = "/usr/bin/firefox-esr";
const GECKODRIVER_VERSION: &str = "0.37.1";

/// Print one progress line.
fn say(message: &str) {
    println!("==> {message}");
}

/// Fail with advice unless rustup is there: it is how the target and the
/// components are installed.
fn require_rustup() -> Result<()> {
    if cmd::probe("rustup", &["--version"]).is_none() {
        bail!(
            "rustup is not installed or not on PATH; install Rust with rustup \
             (https://rustup.rs) so that xtask can add the {WASM_TARGET} target \
             and the clippy and rustfmt components"
        );
    }
    Ok(())
}

/// The rustup target `wasm32-unknown-unknown`.
pub fn wasm_target() -> Result<()> {
    require_rustup()?;
    let installed = cmd::probe("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if installed.lines().any(|line| line.trim() == WASM_TARGET) {
        say(&format!("Rust target {WASM_TARGET} already installed"));
        return Ok(());
    }
    say(&format!(
        "installing Rust target {WASM_TARGET} (rustup target add, takes under a minute)"
    ));
    cmd::run(cmd::new("rustup").args(["target", "add", WASM_TARGET]))
}

/// The rustup components `clippy` and `rustfmt`.
pub fn clippy_and_rustfmt() -> Result<()> {
    for (component, cargo_subcommand) in [("clippy", "clippy"), ("rustfmt", "fmt")] {
        if let Some(version) = cmd::probe("cargo", &[cargo_subcommand, "--version"]) {
            say(&format!(
                "{component} already installed ({})",
                version.trim()
            ));
            continue;
        }
        require_rustup()?;
        say(&format!("installing {component} (rustup component add)"));
        cmd::run(cmd::new("rustup").args(["component", "add", component]))?;
    }
    Ok(())
}

/// A program installed from crates.io with `cargo install`.
struct CargoTool {
    /// The crate on crates.io.
    krate: &'static str,
    version: &'static str,
    /// Programs the crate installs; each is run with `--version` to check that
    /// it is there at this version.
    programs: &'static [&'static str],
    /// Extra `cargo install` arguments.
    extra_args: &'static [&'static str],
    /// How long the install takes, for the progress line.
    takes: &'static str,
}

impl CargoTool {
    /// `Ok(())` if every program's `--version` reports exactly this version;
    /// otherwise the first program that does not, and what it reported, if
    /// anything.
    fn check(&self) -> Result<(), (&'static str, Option<String>)> {
        for &program in self.programs {
            match cmd::probe(program, &["--version"]) {
                Some(out) if out.split_whitespace().any(|word| word == self.version) => {}
                Some(out) => return Err((program, Some(out.trim().to_owned()))),
                None => return Err((program, None)),
            }
        }
        Ok(())
    }

    fn ensure(&self) -> Result<()> {
        let Self { krate, version, .. } = self;
        let found = match self.check() {
            Ok(()) => {
                say(&format!("{krate} {version} already installed"));
                return Ok(());
            }
            Err((_, found)) => found,
        };
        let found = found
            .map(|found| format!("; found {found}"))
            .unwrap_or_default();
        say(&format!(
            "installing {krate} {version} (cargo install, takes {}{found})",
            self.takes
        ));
        let mut install = cmd::new("cargo");
        install
            .args(["install", krate, "--version", &format!("={version}")])
            .args(self.extra_args);
        cmd::run(&mut install)?;
        if let Err((program, found)) = self.check() {
            bail!(
                "`cargo install {krate}` finished, but `{program} --version` reports {}, \
                 not {version}; try `cargo install --force {krate} --version ={version}`",
                found.as_deref().unwrap_or("nothing (not found on PATH)")
            );
        }
        Ok(())
    }
}

/// `wasm-bindgen-cli` at the version the workspace pins. It provides
/// `wasm-bindgen` (used by trunk) and `wasm-bindgen-test-runner` (runs the
/// wasm tests).
pub fn wasm_bindgen_cli() -> Result<()> {
    CargoTool {
        krate: "wasm-bindgen-cli",
        version: WASM_BINDGEN_VERSION,
        programs: &["wasm-bindgen", "wasm-bindgen-test-runner"],
        // Not `--locked`: the lock file it ships with does not build here.
        extra_args: &[],
        takes: "~4 minutes",
    }
    .ensure()
}

/// `cargo-fuzz`, which builds and runs the fuzz targets under libFuzzer.
pub fn cargo_fuzz() -> Result<()> {
    CargoTool {
        krate: "cargo-fuzz",
        version: CARGO_FUZZ_VERSION,
        programs: &["cargo-fuzz"],
        extra_args: &["--locked"],
        takes: "~3 minutes",
    }
    .ensure()
}

/// A nightly toolchain, which cargo-fuzz's sanitizer flags need. rustup
/// fetches it where it can reach its server; where it cannot, the error
/// says so.
pub fn nightly() -> Result<()> {
    require_rustup()?;
    if let Some(version) = cmd::probe("rustc", &["+nightly", "--version"]) {
        say(&format!(
            "nightly toolchain already installed ({})",
            version.trim()
        ));
        return Ok(());
    }
    say("installing the nightly toolchain for cargo-fuzz (rustup toolchain install)");
    cmd::run(cmd::new("rustup").args(["toolchain", "install", "nightly", "--profile", "minimal"]))
        .context(
            "cargo-fuzz needs a nightly toolchain and rustup could not install one; \
             install it with `rustup toolchain install nightly` where rustup can reach its server",
        )
}

/// `trunk`, which builds and bundles the explorer.
pub fn trunk() -> Result<()> {
    CargoTool {
        krate: "trunk",
        version: TRUNK_VERSION,
        programs: &["trunk"],
        extra_args: &["--locked"],
        takes: "~10 minutes",
    }
    .ensure()
}

/// Firefox ESR from Debian and geckodriver from crates.io, so the explorer is
/// tested in Firefox as well as in Chromium.
pub fn firefox() -> Result<()> {
    if Path::new(FIREFOX).exists() {
        say("firefox-esr already installed");
    } else {
        apt_install(&["firefox-esr"], "downloads ~80 MB, takes a minute or two")?;
        if !Path::new(FIREFOX).exists() {
            bail!("apt-get installed firefox-esr, but {FIREFOX} does not exist");
        }
    }
    CargoTool {
        krate: "geckodriver",
        version: GECKODRIVER_VERSION,
        programs: &["geckodriver"],
        extra_args: &["--locked"],
        takes: "~3 minutes",
    }
    .ensure()
}

/// Installs Debian packages with apt-get (through sudo when not root),
/// after one `apt-get update`.
fn apt_install(packages: &[&str], note: &str) -> Result<()> {
    let names = packages.join(" ");
    if cmd::probe("apt-get", &["--version"]).is_none() {
        bail!("{names} not found, and apt-get is not available to install it; install {names}");
    }
    let root = cmd::probe("id", &["-u"]).is_some_and(|uid| uid.trim() == "0");
    if !root && cmd::probe("sudo", &["--version"]).is_none() {
        bail!(
            "{names} not found; installing needs root, and sudo is not installed: \
             run `apt-get install {names}` as root"
        );
    }
    let how = if root {
        "apt-get"
    } else {
        "sudo apt-get; sudo may ask for your password"
    };
    say(&format!("installing {names} ({how}; {note})"));
    cmd::run(&mut apt_get(root, &["update"]))?;
    let mut args = vec!["install", "-y"];
    args.extend_from_slice(packages);
    cmd::run(&mut apt_get(root, &args))
}

/// Debian's `chromium` and `chromium-driver`, for the wasm tests in headless
/// Chromium.
pub fn chromium() -> Result<()> {
    let missing: Vec<&str> = [CHROMIUM, CHROMEDRIVER]
        .into_iter()
        .filter(|path| !Path::new(path).exists())
        .collect();
    if missing.is_empty() {
        say("chromium and chromium-driver already installed");
        return Ok(());
    }
    apt_install(
        &["chromium", "chromium-driver"],
        "downloads ~100 MB, takes a few minutes",
    )?;
    for path in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(path).exists() {
            bail!("apt-get installed chromium and chromium-driver, but {path} does not exist");
        }
    }
    Ok(())
}

/// `apt-get args…` without questions, through sudo unless we are root (sudo
/// would drop a plain environment variable, so it goes through `env`).
fn apt_get(root: bool, args: &[&str]) -> std::process::Command {
    let mut command = if root {
        let mut command = cmd::new("apt-get");
        command.env("DEBIAN_FRONTEND", "noninteractive");
        command
    } else {
        let mut command = cmd::new("sudo");
        command.args(["env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]);
        command
    };
    command.args(args);
    command
}

/// axe-core, the accessibility checker the explorer's end-to-end test runs
/// on the page, from the npm registry into `target/axe`. Returns the path of
/// `axe.min.js`. npm itself comes from Debian when missing, so the audit
/// always runs.
pub fn axe_core() -> Result<PathBuf> {
    npm_package(
        "axe-core",
        "4.14.1",
        &cmd::target_dir().join("axe"),
        "node_modules/axe-core/axe.min.js",
        "the accessibility audit",
    )
}

/// Lighthouse from npm into `target/tools/lighthouse`, for `cargo xtask
/// lighthouse`. Returns the program's path.
pub fn lighthouse() -> Result<PathBuf> {
    npm_package(
        "lighthouse",
        "13.5.0",
        &cmd::target_dir().join("tools").join("lighthouse"),
        "node_modules/.bin/lighthouse",
        "Lighthouse",
    )
}

/// binaryen's `wasm-opt` from npm (Debian's build breaks the explorer's
/// wasm), linked into xtask's tools directory, where trunk finds it: trunk
/// takes the `wasm-opt` on PATH whose version matches `[tools] wasm_opt` in
/// explorer/Trunk.toml, and with `--offline` never downloads one.
pub fn wasm_opt() -> Result<()> {
    let program = npm_package(
        "binaryen",
        BINARYEN_VERSION,
        &cmd::target_dir().join("tools").join("binaryen"),
        "node_modules/.bin/wasm-opt",
        "wasm-opt, which shrinks the explorer's wasm",
    )?;
    link_tool(&program, &cmd::tools_bin_dir().join("wasm-opt"))
}

/// Must match `wasm_opt = "version_NNN"` in explorer/Trunk.toml.
const BINARYEN_VERSION: &str = "132.0.0";

/// `package@version` from the npm registry into `prefix`, unless the
/// `wanted` file under it is there already and the installed package is that
/// version. npm itself comes from Debian when missing. Returns the path of
/// `wanted`.
fn npm_package(
    package: &str,
    version: &str,
    prefix: &Path,
    wanted: &str,
    what_for: &str,
) -> Result<PathBuf> {
    let wanted = prefix.join(wanted);
    let manifest = prefix
        .join("node_modules")
        .join(package)
        .join("package.json");
    let installed = std::fs::read_to_string(&manifest)
        .is_ok_and(|json| json.contains(&format!("\"version\": \"{version}\"")));
    if installed && wanted.exists() {
        say(&format!("{package} {version} already installed"));
        return Ok(wanted);
    }
    if cmd::probe("npm", &["--version"]).is_none() {
        apt_install(&["npm"], &format!("for {what_for}; takes a minute"))?;
    }
    say(&format!(
        "installing {package} {version} into {} (npm, for {what_for})",
        prefix.display()
    ));
    cmd::run(
        cmd::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(prefix)
            .arg(format!("{package}@{version}")),
    )?;
    if !wanted.exists() {
        bail!(
            "npm installed {package}, but {} does not exist",
            wanted.display()
        );
    }
    Ok(wanted)
}

/// `openapi-spec-validator` from PyPI, which the node's and the manager's
/// tests run on their `/openapi.json`.
pub fn openapi_spec_validator() -> Result<()> {
    pip_tool("openapi-spec-validator", "openapi-spec-validator", "0.9.0")
}

/// `kubernetes-validate` from PyPI, which manager/tests/deploy.rs runs on
/// the Kubernetes manifests in manager/deploy/k8s.
pub fn kubernetes_validate() -> Result<()> {
    pip_tool("kubernetes-validate", "kubernetes-validate", "1.37.0")
}

/// `schemathesis` from PyPI, which manager/tests/schemathesis.rs points at
/// a live manager and node with their own `/openapi.json`.
pub fn schemathesis() -> Result<()> {
    pip_tool("schemathesis", "schemathesis", "4.32.5")
}

/// `program` from the PyPI package `package==version`, in a virtual
/// environment under `target/tools`, since Debian's Python refuses `pip
/// install` into the system (PEP 668); `python3-venv` comes from Debian
/// when missing.
fn pip_tool(program: &str, package: &str, version: &str) -> Result<()> {
    let link = cmd::tools_bin_dir().join(program);
    let venv = cmd::target_dir().join("tools").join("venv");
    let installed = cmd::probe(
        &venv.join("bin").join("pip").to_string_lossy(),
        &["show", package],
    )
    .is_some_and(|shown| {
        shown
            .lines()
            .any(|line| line == format!("Version: {version}"))
    });
    if installed && cmd::probe(&link.to_string_lossy(), &["--help"]).is_some() {
        say(&format!("{program} {version} already installed"));
        return Ok(());
    }
    if cmd::probe("python3", &["-m", "venv", "--help"]).is_none()
        || cmd::probe("python3", &["-m", "ensurepip", "--version"]).is_none()
    {
        apt_install(
            &["python3", "python3-venv"],
            &format!("for {program}; takes a minute"),
        )?;
    }
    if !venv.join("bin").join("pip").exists() {
        cmd::run(cmd::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    say(&format!(
        "installing {package} {version} into {} (pip, takes seconds)",
        venv.display()
    ));
    cmd::run(
        cmd::new(venv.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("{package}=={version}")),
    )?;
    link_tool(&venv.join("bin").join(program), &link)
}

/// Docker Compose, to check manager/deploy/compose.yaml (`config`, which
/// needs no Docker daemon). Debian packages only Compose 1 (`docker-compose`,
/// Python); the `docker compose` plugin is not in its archive.
pub fn docker_compose() -> Result<()> {
    if cmd::probe("docker-compose", &["version", "--short"]).is_some() {
        say("docker-compose already installed");
        return Ok(());
    }
    apt_install(
        &["docker-compose"],
        "for checking manager/deploy/compose.yaml; takes a minute",
    )
}

/// Puts a link to `program` in xtask's tools directory, which is first on
/// the PATH of everything xtask runs.
fn link_tool(program: &Path, link: &Path) -> Result<()> {
    if !program.exists() {
        bail!(
            "the install finished, but {} does not exist",
            program.display()
        );
    }
    std::fs::create_dir_all(cmd::tools_bin_dir())?;
    let _ = std::fs::remove_file(link);
    std::os::unix::fs::symlink(program, link)?;
    Ok(())
}
