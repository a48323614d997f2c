//! The deployment files in manager/deploy, checked with the tools people
//! deploy with, as far as this machine allows (a Docker CLI without a
//! daemon, no cluster):
//!
//! - `compose.yaml` with `docker-compose config` (Compose 1, the one
//!   Debian packages), which parses, validates and interpolates it;
//! - the Kubernetes manifests with `kubernetes-validate --strict` against
//!   Kubernetes 1.37 (PyPI; `cargo xtask test` installs both);
//! - every flag the files pass to `manager` or `node` is one the binary
//!   takes, by its `--help`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy")
}

fn run(command: &mut Command, what: &str) -> Output {
    command
        .output()
        .unwrap_or_else(|err| panic!("running {what} ({err}); `cargo xtask test` installs it"))
}

fn compose_config(token: Option<&str>) -> Output {
    let mut command = Command::new("docker-compose");
    command
        .arg("-f")
        .arg(deploy().join("compose.yaml"))
        .arg("config")
        .env_remove("POWPLAY_TOKEN");
    if let Some(token) = token {
        command.env("POWPLAY_TOKEN", token);
    }
    run(&mut command, "docker-compose")
}

#[test]
fn the_compose_file_is_valid_and_the_manager_discovers_the_node_service() {
    let out = compose_config(Some("t0ken"));
    let config = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "docker-compose config:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "--discover=node:5000",
        "--nodes=0",
        "POWPLAY_TOKEN: t0ken",
        "hostname -i",
    ] {
        assert!(config.contains(expected), "no {expected:?} in\n{config}");
    }
}

#[test]
fn the_compose_file_will_not_start_without_a_token() {
    let out = compose_config(None);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("set POWPLAY_TOKEN"), "{stderr}");
}

fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy().join("k8s"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_kubernetes_manifest_validates_strictly() {
    let files = manifests();
    assert_eq!(files.len(), 2, "{files:?}");
    let out = run(
        Command::new("kubernetes-validate")
            .args(["--strict", "--kubernetes-version", "1.37.0"])
            .args(&files),
        "kubernetes-validate",
    );
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{said}");
    // Each resource passes by name: a file that parsed to nothing would
    // pass too, and so does not count.
    for resource in [
        "deployment/manager",
        "service/manager",
        "service/node-headless",
        "statefulset/node",
    ] {
        assert!(
            said.contains(&format!("passed for resource {resource} ")),
            "{resource} not validated:\n{said}"
        );
    }
}

/// The `--flags` given to `program` in a deployment file: in a YAML list
/// that starts with `- manager` or `- node`, or in a shell line
/// `exec node --a ... --b ...`.
fn flags_for(text: &str, program: &str) -> Vec<String> {
    let mut flags = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let item = line.trim().strip_prefix("- ").map(str::trim);
        match item {
            Some(word) if word == "manager" || word == "node" => current = Some(word.into()),
            Some(word) if word.starts_with("--") && current.as_deref() == Some(program) => {
                flags.push(word.split('=').next().unwrap().to_owned());
            }
            Some(word) if word.starts_with("--") => {}
            Some(word) if word.starts_with("exec ") => {
                let mut words = word.split_whitespace().skip(1);
                if words.next() == Some(program) {
                    flags.extend(
                        words
                            .filter(|w| w.starts_with("--"))
                            .map(|w| w.split('=').next().unwrap().to_owned()),
                    );
                }
            }
            Some(_) => {}
            None if !line.trim_start().starts_with('#') && line.contains(':') => current = None,
            None => {}
        }
    }
    flags
}

#[test]
fn every_flag_the_deployment_files_pass_is_one_the_binaries_take() {
    let manager_help = run(
        Command::new(env!("CARGO_BIN_EXE_manager")).arg("--help"),
        "manager --help",
    );
    let node_help = run(
        Command::new(node::testing::node_program()).arg("--help"),
        "node --help",
    );
    let helps = [
        (
            "manager",
            String::from_utf8_lossy(&manager_help.stdout).into_owned(),
        ),
        (
            "node",
            String::from_utf8_lossy(&node_help.stdout).into_owned(),
        ),
    ];
    let mut files = manifests();
    files.push(deploy().join("compose.yaml"));
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for (program, help) in &helps {
            for flag in flags_for(&text, program) {
                assert!(
                    help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                    "{}: `{program}` takes no {flag}",
                    file.display()
                );
                checked += 1;
            }
        }
    }
    // manager.yaml 4, nodes.yaml 3, compose.yaml 4 + 3.
    assert_eq!(checked, 14, "flags found in {files:?}");
}

#[test]
fn the_flag_scan_finds_list_and_shell_flags_and_not_others() {
    let text = "args:\n  - node\n  - --host=$(POD_IP)\n  - --port=5000\nother:\n  - --not-a-flag-of-node\n\
                command:\n  - sh\n  - -c\n  - exec node --data-dir /x --port 5000\n";
    assert_eq!(
        flags_for(text, "node"),
        ["--host", "--port", "--data-dir", "--port"]
    );
    assert!(flags_for(text, "manager").is_empty());
}
