//! Compatibility with the original's `compare` (`harnessgym==0.1.1` from PyPI): a report it
//! writes (fake runner, a post command) reads into our types and writes back without loss, and
//! ours has every key of its report and trial files (plus only the keys listed here).

mod common;
use common::*;
use harnessgym_core::compare::report::{CompareReport, Trial};
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The reference CLI (installed once per target directory by the testkit).
fn reference_cli() -> PathBuf {
    harnessgym_testkit::pyref::cli()
}

const POST: &str = r#"echo '{"status": "passed", "score": 7}'"#;

/// The example task as the template, and a source workspace with one registered tool.
fn fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(
        &repo_root().join("examples/numerical_debug_task"),
        &dir.path().join("tpl"),
    );
    let hg = dir.path().join("source/.harnessgym");
    std::fs::create_dir_all(hg.join("tools")).unwrap();
    std::fs::write(hg.join("tools/probe.py"), "print('probe')\n").unwrap();
    std::fs::write(
        hg.join("registry.json"),
        r#"{"version": 1, "updated_at": "2026-01-01T00:00:00+00:00", "metadata": {},
            "artifacts": [{"id": "tool:.harnessgym/tools/probe.py", "kind": "tool",
                           "path": ".harnessgym/tools/probe.py", "description": "probe",
                           "iteration": 1, "created_at": "2026-01-01T00:00:00+00:00", "metadata": {}}]}"#,
    )
    .unwrap();
    dir
}

fn args(dir: &Path, out: &str) -> Vec<String> {
    [
        "compare",
        "--task",
        "task.md",
        "--runner",
        "fake",
        "--trials",
        "2",
        "--no-require-active-harness",
        "--post-command",
        POST,
        "--workspace-template",
        dir.join("tpl").to_str().unwrap(),
        "--artifact-source",
        dir.join("source").to_str().unwrap(),
        "--output-dir",
        dir.join(out).to_str().unwrap(),
    ]
    .map(str::to_string)
    .to_vec()
}

fn run_theirs(dir: &Path) -> PathBuf {
    let out = Command::new(reference_cli())
        .args(args(dir, "theirs"))
        .current_dir(dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reference failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir.join("theirs")
}

/// Equal as JSON, numbers compared by value (the original writes `0` where we type a float).
fn same(a: &Value, b: &Value, at: &str, problems: &mut Vec<String>) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.as_f64() != y.as_f64() {
                problems.push(format!("{at}: {x} became {y}"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => same(u, v, &format!("{at}.{k}"), problems),
                    (Some(_), None) => problems.push(format!("{at}.{k} was lost")),
                    (None, Some(_)) => problems.push(format!("{at}.{k} was added")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => {
            for (i, (u, v)) in x.iter().zip(y).enumerate() {
                same(u, v, &format!("{at}[{i}]"), problems);
            }
        }
        _ => {
            if a != b {
                problems.push(format!("{at}: {a} became {b}"));
            }
        }
    }
}

#[test]
fn the_originals_report_reads_and_writes_back_without_loss() {
    let dir = fixture();
    let theirs = run_theirs(dir.path());
    let path = theirs.join("compare_report.json");
    let original = read_json(&path);
    let report = CompareReport::read(&path).unwrap();
    assert_eq!(report.trials.len(), 4);
    assert_eq!(report.summary["harnessed"].post_score.best, Some(7.0));
    assert_eq!(
        report.trials[0].group, "plain",
        "the original ran all plain trials first"
    );
    let harnessed = report
        .trials
        .iter()
        .find(|t| t.group == "harnessed")
        .unwrap();
    assert!(harnessed
        .copied_artifacts
        .contains(&".harnessgym/tools/probe.py".to_string()));
    assert_eq!(harnessed.post_result.as_ref().unwrap().score, Some(7.0));
    assert!(report.state.is_none() && report.config.is_none());

    let mut problems = Vec::new();
    same(&original, &report.to_value(), "report", &mut problems);
    for group in ["plain", "harnessed"] {
        for i in 1..=2 {
            let p = theirs.join(format!("{group}/trial_{i}/trial.json"));
            let original = read_json(&p);
            let t = Trial::read(&p).unwrap();
            same(
                &original,
                &t.to_value(),
                &format!("{group}/{i}"),
                &mut problems,
            );
        }
    }
    assert!(problems.is_empty(), "lossy:\n{}", problems.join("\n"));
}

/// Keys only we write, as key paths (`a.b`, `list[].c`); a listed path covers what lies below.
const OUR_EXTRA_KEYS: &[&str] = &[
    "state",
    "updated_at",
    "tool",
    "config",
    "pending",
    "paired",
    "fairness",
    "score_labels",
    "execution",
    "summary.plain.unpaired_count",
    "summary.plain.error_count",
    "summary.harnessed.unpaired_count",
    "summary.harnessed.error_count",
    "score.ranked_count",
    "score.invalid_count",
    "score.invalid_stats",
    "score.valid_only",
    "score.source",
    "post_score.ranked_count",
    "post_score.invalid_stats",
    "post_score.valid_only",
    "post_score.source",
    "schedule_index",
    "started_at",
    "finished_at",
    "score_source",
    "post_score_source",
    "run_ending",
    "fairness",
    "timings",
    "external_links",
    "dropped_links",
    "post_result.passed",
];

fn allowed(key: &str) -> bool {
    OUR_EXTRA_KEYS.iter().any(|p| {
        key == *p
            || key.starts_with(&format!("{p}."))
            || key.starts_with(&format!("{p}[]"))
            || key.ends_with(&format!(".{p}"))
            || key.contains(&format!(".{p}."))
            || key.contains(&format!("].{p}"))
    })
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

#[test]
fn our_report_and_trials_have_the_originals_keys() {
    let dir = fixture();
    let theirs = run_theirs(dir.path());
    let out = bin()
        .args(args(dir.path(), "ours"))
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let ours = dir.path().join("ours");
    let mut files = vec!["compare_report.json".to_string()];
    for group in ["plain", "harnessed"] {
        for i in 1..=2 {
            files.push(format!("{group}/trial_{i}/trial.json"));
            for f in ["post.stdout.txt", "post.stderr.txt", "workspace/task.md"] {
                let rel = format!("{group}/trial_{i}/{f}");
                assert!(
                    theirs.join(&rel).exists() && ours.join(&rel).exists(),
                    "{rel}"
                );
            }
        }
    }
    let mut problems = Vec::new();
    for file in &files {
        let (t, o) = (read_json(&theirs.join(file)), read_json(&ours.join(file)));
        let (mut tk, mut ok) = (BTreeSet::new(), BTreeSet::new());
        key_paths(&t, "", &mut tk);
        key_paths(&o, "", &mut ok);
        for k in tk.difference(&ok) {
            problems.push(format!("{file}: we lack {k}"));
        }
        for k in ok.difference(&tk) {
            if !allowed(k) {
                problems.push(format!("{file}: we add {k}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));

    // Same verdicts on the same inputs.
    let (t, o) = (
        read_json(&theirs.join("compare_report.json")),
        read_json(&ours.join("compare_report.json")),
    );
    for group in ["plain", "harnessed"] {
        for key in ["count", "post_status", "comparison_valid"] {
            assert_eq!(
                t["summary"][group][key], o["summary"][group][key],
                "{group}.{key}"
            );
        }
        assert_eq!(
            t["summary"][group]["post_score"]["best"],
            o["summary"][group]["post_score"]["best"]
        );
    }
    // Both tools read each other's reports.
    CompareReport::read(&ours.join("compare_report.json")).unwrap();
}
