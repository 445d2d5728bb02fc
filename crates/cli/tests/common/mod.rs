//! Helpers shared by the CLI tests: they drive the real `harnessgym` binary.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_harnessgym"));
    cmd.env_remove("RUST_LOG");
    cmd
}

/// The repository root (two levels above this crate).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .unwrap()
        .to_path_buf()
}

/// A fresh copy of the bundled example task.
pub fn example_workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &repo_root().join("examples/numerical_debug_task"),
        dir.path(),
    );
    dir
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// Runs `harnessgym run` with the fake runner in `ws` plus extra args.
pub fn run_fake(ws: &Path, extra: &[&str]) -> Output {
    let mut cmd = bin();
    cmd.arg("run")
        .arg("--runner")
        .arg("fake")
        .arg("--workspace")
        .arg(ws);
    if !extra
        .iter()
        .any(|a| *a == "--task" || *a == "--task-text" || *a == "--resume")
    {
        cmd.args(["--task", "task.md"]);
    }
    cmd.args(extra).current_dir(ws).output().unwrap()
}

pub fn code(out: &Output) -> i32 {
    out.status.code().unwrap_or(-1)
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The only run directory of a workspace.
pub fn only_run(ws: &Path) -> PathBuf {
    let runs: Vec<_> = std::fs::read_dir(ws.join(".harnessgym/runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "expected one run, found {runs:?}");
    runs[0].clone()
}

pub fn iteration(run: &Path, n: u32) -> PathBuf {
    run.join("iterations").join(n.to_string())
}

/// Writes a fake-runner scenario to its own file (outside any workspace) and returns its path.
pub fn script(value: Value) -> PathBuf {
    let file = tempfile::Builder::new()
        .prefix("scenario-")
        .suffix(".json")
        .tempfile()
        .unwrap();
    std::fs::write(file.path(), serde_json::to_string_pretty(&value).unwrap()).unwrap();
    file.into_temp_path().keep().unwrap()
}

/// All files under `root`, relative, sorted (directories skipped).
pub fn files_under(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                walk(root, &path, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}

/// True while a process with this pid exists (and is not a zombie we could ignore).
pub fn alive(pid: i32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    !status.is_empty() && !status.contains("State:\tZ")
}

/// `harnessgym run` with a real agent CLI (`claude` or `exec`), a clean environment `env`,
/// `iterations` iterations, no qualification, 90 s phase deadlines, and `extra` flags.
pub fn run_real_client(
    ws: &Path,
    runner: &str,
    agent: &Path,
    env: &[(String, String)],
    iterations: u32,
    extra: &[String],
) -> Output {
    let mut cmd = bin();
    cmd.env_clear().envs(env.iter().cloned());
    cmd.args([
        "run",
        "--runner",
        runner,
        "--task",
        "task.md",
        "--no-qualify-artifacts",
    ]);
    cmd.args(["--iterations", &iterations.to_string()]);
    cmd.args(["--attempt-timeout", "90s", "--build-timeout", "90s"]);
    cmd.arg(if runner == "claude" {
        "--claude-bin"
    } else {
        "--codex-bin"
    })
    .arg(agent);
    cmd.args(extra).current_dir(ws).output().unwrap()
}
