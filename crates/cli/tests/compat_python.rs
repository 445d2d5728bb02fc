//! Compatibility with the original: the Python `harnessgym==0.1.1` (installed from PyPI into a
//! venv) and this binary run the fake runner on the same task; the trees must hold the same files
//! and every JSON file the same keys (ours may add only the keys listed here) and statuses.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Keys we add on purpose (fixes and resume support), per file name. A pattern matches a key path
/// that equals it, lies below it, or ends with it (`post_restore.passed` anywhere).
const OUR_EXTRA_KEYS: &[(&str, &str)] = &[
    ("run_config.json", "fake_script"),
    ("run_config.json", "task_text"),
    ("run_config.json", "codex_extra_args"),
    ("run_config.json", "tool"),
    ("summary.json", "best_reported_score"),
    ("summary.json", "errors"),
    ("summary.json", "started_at"),
    ("summary.json", "state"),
    ("summary.json", "updated_at"),
    ("summary.json", "iterations[].repairs"),
    ("summary.json", "harness_usage[].mcp_call_count"),
    (
        "summary.json",
        "harness_quality_gates[].qualification_status",
    ),
    ("summary.json", "baseline_post_attempt.passed"),
    ("result.json", "harnessgym_finished_at"),
    ("result.json", "harnessgym_solved"),
    ("result.json", "agent_reported"),
    ("result.json", "post_attempt.passed"),
    ("result.json", "verification.source"),
    ("*", "post_restore.passed"),
    ("*", "changed_path_count"),
    // Per-artifact verdicts of activation and qualification, and the content hash and checks a
    // qualification is tied to.
    ("*", "artifact_verdicts"),
    ("*", "qualification.content_hash"),
    ("*", "qualification.checks"),
    ("*", "unchanged_artifacts"),
    ("*", "still_quarantined_artifacts"),
    ("*", "regressions"),
    ("*", "dropped_links"),
    ("*", "refused_artifacts"),
    ("*", "removed_links"),
];

fn allowed_extra(file: &str, key: &str) -> bool {
    OUR_EXTRA_KEYS.iter().any(|(f, p)| {
        // `p` matches a whole run of path segments anywhere: `p`, `x.p`, `p.y`, `x.p[].y`, …
        let hit =
            |k: &str| k == *p || k.starts_with(&format!("{p}.")) || k.starts_with(&format!("{p}["));
        (*f == "*" || *f == file)
            && (hit(key)
                || key
                    .match_indices(&format!(".{p}"))
                    .any(|(i, _)| hit(&key[i + 1..])))
    })
}

/// Files only we write.
const OUR_EXTRA_FILES: &[&str] = &[".harnessgym/run.lock"];

/// The reference CLI (installed once per target directory by the testkit).
fn reference_cli() -> PathBuf {
    harnessgym_testkit::pyref::cli()
}

fn key_paths(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(path.clone());
                key_paths(child, &path, out);
            }
        }
        Value::Array(items) => {
            for item in items {
                key_paths(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

/// Files of a workspace with the run id replaced by `RUN`.
fn tree(ws: &Path) -> BTreeSet<String> {
    let run = only_run(ws);
    let id = run.file_name().unwrap().to_string_lossy().into_owned();
    files_under(ws)
        .into_iter()
        .map(|f| f.replace(&id, "RUN"))
        .collect()
}

fn run_both(extra: &[&str]) -> (tempfile::TempDir, tempfile::TempDir) {
    let (theirs, ours) = (example_workspace(), example_workspace());
    let mut args = vec!["run", "--task", "task.md", "--runner", "fake"];
    args.extend_from_slice(extra);
    let out = Command::new(reference_cli())
        .args(&args)
        .current_dir(theirs.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = bin()
        .args(&args)
        .current_dir(ours.path())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(matches!(code(&out), 0 | 3), "ours failed: {}", stderr(&out));
    (theirs, ours)
}

fn assert_compatible(theirs: &Path, ours: &Path) {
    let (t_files, o_files) = (tree(theirs), tree(ours));
    let extra_files: BTreeSet<String> = OUR_EXTRA_FILES.iter().map(|s| s.to_string()).collect();
    let missing: Vec<_> = t_files.difference(&o_files).collect();
    let added: Vec<_> = o_files
        .difference(&t_files)
        .filter(|f| !extra_files.contains(*f))
        .collect();
    assert!(
        missing.is_empty() && added.is_empty(),
        "file sets differ\nonly in theirs: {missing:#?}\nonly in ours: {added:#?}"
    );

    let (t_run, o_run) = (only_run(theirs), only_run(ours));
    let t_id = t_run.file_name().unwrap().to_string_lossy().into_owned();
    let mut problems = Vec::new();
    for file in t_files.iter().filter(|f| f.ends_with(".json")) {
        let real = file.replace("RUN", &t_id);
        let t_json = read_json(&theirs.join(&real));
        let o_json = read_json(
            &ours.join(file.replace("RUN", &o_run.file_name().unwrap().to_string_lossy())),
        );
        let (mut tk, mut ok) = (BTreeSet::new(), BTreeSet::new());
        key_paths(&t_json, "", &mut tk);
        key_paths(&o_json, "", &mut ok);
        let name = Path::new(file)
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        for k in tk.difference(&ok) {
            problems.push(format!("{file}: we lack {k}"));
        }
        for k in ok.difference(&tk) {
            if !allowed_extra(&name, k) {
                problems.push(format!("{file}: we add {k}"));
            }
        }
        for key in ["status", "final_status", "solved", "verified"] {
            if t_json.get(key) != o_json.get(key) {
                problems.push(format!(
                    "{file}: {key} is {:?} in theirs, {:?} in ours",
                    t_json.get(key),
                    o_json.get(key)
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "JSON differences:\n{}",
        problems.join("\n")
    );
    let _ = t_run;
}

#[test]
fn fake_run_tree_matches_the_original() {
    let (theirs, ours) = run_both(&["--iterations", "3"]);
    assert_compatible(theirs.path(), ours.path());
}

#[test]
fn optimization_run_tree_matches_the_original() {
    let post = r#"echo '{"status": "passed", "score": 3}'"#;
    let (theirs, ours) = run_both(&[
        "--iterations",
        "2",
        "--optimization-mode",
        "--post-attempt-command",
        post,
        "--stop-score",
        "1",
    ]);
    assert_compatible(theirs.path(), ours.path());
}
