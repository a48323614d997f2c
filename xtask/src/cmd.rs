//! Running child processes: echo the command, run it, and fail with a clear
//! message when it does not exit 0.
//!
//! Every command is built with [`new`], which puts the cargo bin directory
//! (`$CARGO_HOME/bin`, else `~/.cargo/bin`) first on the child's PATH, so tools
//! that `cargo install` has just put there are found even when the user's shell
//! has not picked that directory up yet.

use anyhow::{Context, Result, anyhow, bail};
use std::ffi::{OsStr, OsString};
use std::io::ErrorKind;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;

/// The workspace root: the directory that holds this crate.
pub fn workspace_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the xtask crate lives inside the workspace")
}

/// Make the workspace root the working directory, so relative paths
/// (`explorer/index.html`, `target/release/manager`) and cargo commands refer
/// to this workspace wherever `cargo xtask` was started from.
pub fn enter_workspace_root() -> Result<()> {
    let root = workspace_root();
    std::env::set_current_dir(root)
        .with_context(|| format!("cannot enter the workspace root {}", root.display()))
}

/// Where cargo puts build output: `$CARGO_TARGET_DIR`, else `target` in
/// the workspace; always absolute.
pub fn target_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .filter(|dir| !dir.is_empty())
        .map_or_else(|| PathBuf::from("target"), PathBuf::from);
    if dir.is_absolute() {
        dir
    } else {
        workspace_root().join(dir)
    }
}

/// Where xtask puts the tools it installs from npm and PyPI (links to their
/// programs), so they never touch the system's Python or Node setup.
pub fn tools_bin_dir() -> PathBuf {
    target_dir().join("tools").join("bin")
}

/// Where `cargo install` and rustup put programs: `$CARGO_HOME/bin`, else
/// `$HOME/.cargo/bin`.
fn cargo_bin_dir() -> Option<PathBuf> {
    let non_empty = |name| std::env::var_os(name).filter(|value| !value.is_empty());
    if let Some(cargo_home) = non_empty("CARGO_HOME") {
        return Some(PathBuf::from(cargo_home).join("bin"));
    }
    non_empty("HOME").map(|home| PathBuf::from(home).join(".cargo").join("bin"))
}

/// The PATH children get: xtask's tools directory, the cargo bin
/// directory, then the inherited PATH.
fn child_path() -> &'static OsStr {
    static PATH: OnceLock<OsString> = OnceLock::new();
    PATH.get_or_init(|| {
        let inherited = std::env::var_os("PATH").unwrap_or_default();
        let first: Vec<PathBuf> = std::iter::once(tools_bin_dir())
            .chain(cargo_bin_dir())
            .collect();
        let rest = std::env::split_paths(&inherited).filter(|dir| !first.contains(dir));
        std::env::join_paths(first.iter().cloned().chain(rest)).unwrap_or(inherited)
    })
}

/// A [`Command`] for `program`, with xtask's tools and the cargo bin
/// directory first on its PATH (which is also where `program` itself is
/// looked up).
pub fn new(program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new(program);
    command.env("PATH", child_path());
    command
}

/// The command as a shell-like line: the environment it sets (PATH aside),
/// the program and its arguments, and the directory it runs in, if not here.
fn display(command: &Command) -> String {
    let mut words: Vec<String> = command
        .get_envs()
        .filter(|(key, _)| *key != "PATH")
        .filter_map(|(key, value)| Some(format!("{}={}", key.to_string_lossy(), quote(value?))))
        .collect();
    words.push(quote(command.get_program()));
    words.extend(command.get_args().map(quote));
    let line = words.join(" ");
    match command.get_current_dir() {
        Some(dir) => format!("(cd {} && {line})", quote(dir.as_os_str())),
        None => line,
    }
}

/// `word`, single-quoted if a shell would need it.
fn quote(word: &OsStr) -> String {
    let word = word.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_=./:,+@%".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.into_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Start `command`, turning "not found" into a message that names the program.
fn spawn(command: &mut Command, line: &str) -> Result<Child> {
    command.spawn().map_err(|err| {
        let program = command.get_program().to_string_lossy().into_owned();
        if err.kind() == ErrorKind::NotFound {
            anyhow!("could not run `{program}`: it is not installed or not on PATH ({line})")
        } else {
            anyhow!(err).context(format!("could not run `{program}` ({line})"))
        }
    })
}

/// Ok if the command exited 0, else an error that shows how it ended.
fn check(status: ExitStatus, line: &str) -> Result<()> {
    if status.success() {
        Ok(())
    } else if let Some(code) = status.code() {
        bail!("command failed with exit code {code}: {line}")
    } else {
        bail!("command was ended by a signal ({status}): {line}")
    }
}

/// Echo `command`, run it with the terminal as its stdio, and fail with a
/// clear message unless it exits 0.
pub fn run(command: &mut Command) -> Result<()> {
    let line = display(command);
    println!("    $ {line}");
    command.stdout(Stdio::piped());
    let mut child = spawn(command, &line)?;
    echo_and_tally(&mut child);
    let status = child
        .wait()
        .with_context(|| format!("could not wait for: {line}"))?;
    check(status, &line)
}

/// Tests counted so far from cargo's `test result:` lines: (passed, failed).
static TALLY: std::sync::Mutex<(u64, u64)> = std::sync::Mutex::new((0, 0));

/// The tests every command run so far reported: (passed, failed).
pub fn tests_tallied() -> (u64, u64) {
    *TALLY.lock().unwrap_or_else(|p| p.into_inner())
}

/// Copies the child's stdout to ours line by line, adding up the counts of
/// every `test result: ... N passed; M failed; ...` line it prints.
fn echo_and_tally(child: &mut Child) {
    use std::io::{BufRead, BufReader, Write};
    let Some(stdout) = child.stdout.take() else {
        return;
    };
    let mut out = std::io::stdout().lock();
    for line in BufReader::new(stdout).lines().map_while(Result::ok) {
        let _ = writeln!(out, "{line}");
        if let Some(rest) = line.trim_start().strip_prefix("test result: ") {
            let count = |word: &str| -> u64 {
                rest.split(';')
                    .find_map(|part| {
                        let mut words = part.split_whitespace().rev();
                        (words.next()? == word).then(|| words.next()?.parse().ok())?
                    })
                    .unwrap_or(0)
            };
            let mut tally = TALLY.lock().unwrap_or_else(|p| p.into_inner());
            tally.0 += count("passed");
            tally.1 += count("failed");
        }
    }
}

/// Echo `command` and replace this process with it (so Ctrl-C and the exit
/// code go straight to it). Returns only if it could not be started.
pub fn exec(command: &mut Command) -> anyhow::Error {
    let line = display(command);
    println!("    $ {line}");
    let err = command.exec();
    anyhow!(err).context(format!("could not start: {line}"))
}

/// Run `program args` quietly, for "is it installed?" checks: its stdout if
/// it started and exited 0, else `None`.
pub fn probe(program: &str, args: &[&str]) -> Option<String> {
    let output = new(program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The reaper's script, run by `sh` with the process group id as `$0`. It
/// ignores Ctrl-C and termination requests and waits until its stdin reaches
/// end of file, which happens when xtask closes the pipe or dies in any way;
/// then it kills every process still in the group.
const REAPER: &str =
    r#"trap '' INT HUP TERM; read -r _; kill -s KILL -- "-$0" 2>/dev/null; exit 0"#;

/// Like [`run`], but `command` runs in a process group of its own, and every
/// process still in that group when it ends is killed with SIGKILL, whether it
/// passed, failed, or xtask itself was interrupted (Ctrl-C).
///
/// For steps whose grandchildren can outlive them: wasm-bindgen-test-runner
/// starts chromedriver, which starts Chromium, and a test that times out or
/// panics can leave both running.
pub fn run_reaping_group(command: &mut Command) -> Result<()> {
    let line = display(command);
    println!("    $ {line}");
    // A separate group is not the terminal's foreground group, so Ctrl-C reaches
    // only xtask and the reaper; the reaper then kills the group. Nothing in it
    // may read the terminal, so stdin is empty.
    command
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut child = spawn(command, &line)?;
    let group = child.id().to_string();
    let reaper = new("sh")
        .args(["-c", REAPER, &group])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
    echo_and_tally(&mut child);
    let status = child.wait();
    match reaper {
        Ok(mut reaper) => {
            drop(reaper.stdin.take());
            let _ = reaper.wait();
        }
        Err(err) => eprintln!(
            "warning: could not start `sh` to clean up process group {group} ({err}); \
             chromedriver or chromium processes may be left running"
        ),
    }
    let status = status.with_context(|| format!("could not wait for: {line}"))?;
    check(status, &line)
}
