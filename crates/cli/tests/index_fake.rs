//! `harnessgym index`, `query` and `search` over run trees made by our fake runner, with
//! scenarios covering every status and phase kind; the query output is checked against the files.

mod common;
use common::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::Path;

fn hg(db: &Path, args: &[&str]) -> Value {
    let out = bin().args(args).arg("--db").arg(db).output().unwrap();
    assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stdout(&out)))
}

fn run(ws: &Path, extra: &[&str], expect: &[i32]) {
    let out = run_fake(ws, extra);
    assert!(expect.contains(&code(&out)), "{extra:?}: {}", stderr(&out));
}

#[test]
fn fake_runs_of_every_shape_are_indexed_as_the_files_say() {
    let ws = example_workspace();
    let w = ws.path();
    // 1. The demo: blocked → tooling_built → solved (attempt, reflection, build, qualification).
    run(w, &["--iterations", "3", "--run-id", "demo"], &[0]);
    // 2. A failing agent.
    let failing = script(json!({"iterations": {"default": {"attempt": {
        "status": "failed", "return_code": 2, "stdout": "segfault in wallaby_kernel\n",
        "result": {"status": "failed"}}, "build": {"status": "failed", "return_code": 1}}}}));
    run(
        w,
        &[
            "--iterations",
            "1",
            "--run-id",
            "failing",
            "--fake-script",
            failing.to_str().unwrap(),
        ],
        &[3],
    );
    // 3. An attempt that times out.
    let slow = script(
        json!({"iterations": {"default": {"attempt": {"delay_ms": 5000},
        "build": {"status": "failed", "return_code": 1}}}}),
    );
    run(
        w,
        &[
            "--iterations",
            "1",
            "--run-id",
            "slow",
            "--attempt-timeout",
            "300ms",
            "--fake-script",
            slow.to_str().unwrap(),
        ],
        &[3],
    );
    // 4. Blocked, and the build fails (so the status stays blocked).
    let blocked = script(
        json!({"iterations": {"default": {"attempt": {"result": {"status": "blocked"}},
        "build": {"status": "failed", "return_code": 1}}}}),
    );
    run(
        w,
        &[
            "--iterations",
            "1",
            "--run-id",
            "blocked",
            "--fake-script",
            blocked.to_str().unwrap(),
        ],
        &[3],
    );
    // 5. The agent writes a damaged result.json; a post-attempt command runs.
    let damaged =
        script(json!({"iterations": {"1": {"attempt": {"result_raw": "{\"status\": \"solv"}}}}));
    run(
        w,
        &[
            "--iterations",
            "1",
            "--run-id",
            "damaged",
            "--fake-script",
            damaged.to_str().unwrap(),
            "--post-attempt-command",
            "echo '{\"status\": \"failed\", \"score\": 1}'",
        ],
        &[3],
    );

    let db_dir = tempfile::tempdir().unwrap();
    let db = db_dir.path().join("index.sqlite3");
    let report = hg(&db, &["index", w.to_str().unwrap(), "--json"]);
    assert_eq!(report["runs"], 5, "{report}");

    // Runs: state, final status and iteration counts are the summaries'.
    let runs = hg(&db, &["query", "runs", "--json"]);
    let runs = runs.as_array().unwrap();
    assert_eq!(runs.len(), 5);
    for r in runs {
        let id = r["run_id"].as_str().unwrap();
        let summary = read_json(&w.join(".harnessgym/runs").join(id).join("summary.json"));
        assert_eq!(r["state"], summary["state"], "{id}");
        assert_eq!(r["state_source"], "summary");
        assert_eq!(r["final_status"], summary["final_status"], "{id}");
        assert_eq!(r["solved"], summary["solved"], "{id}");
        assert_eq!(
            r["iteration_count"].as_u64().unwrap() as usize,
            summary["iterations"].as_array().unwrap().len(),
            "{id}"
        );
        assert_eq!(r["origin"], "harnessgym-rs");
        assert_eq!(r["runner"], "fake");
    }

    // Iterations: status and phases are result.json's; phase files are the files on disk.
    let its = hg(&db, &["query", "iterations", "--json"]);
    let its = its.as_array().unwrap();
    assert_eq!(its.len(), 2 + 1 + 1 + 1 + 1); // the demo solves in iteration 2
    let mut statuses = BTreeSet::new();
    let mut phases_seen = BTreeSet::new();
    for it in its {
        let dir = Path::new(it["dir"].as_str().unwrap());
        let result: Value = std::fs::read_to_string(dir.join("result.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        assert_eq!(it["status"], result["status"], "{}", dir.display());
        statuses.insert(it["status"].as_str().unwrap_or("-").to_string());
        let want: BTreeSet<String> = result["phases"]
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        let got: BTreeSet<String> = it["phases"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["phase"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, want, "{}", dir.display());
        for p in it["phases"].as_array().unwrap() {
            let name = p["phase"].as_str().unwrap();
            phases_seen.insert(name.to_string());
            assert_eq!(p["status"], result["phases"][name]["status"]);
        }
        let mut on_disk: Vec<String> = files_under(dir)
            .into_iter()
            .filter(|f| f.ends_with(".txt") && !f.starts_with("qualification/"))
            .collect();
        on_disk.sort();
        let mut listed: Vec<String> = it["phase_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                Path::new(f["path"].as_str().unwrap())
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        listed.sort();
        assert_eq!(listed, on_disk, "{}", dir.display());
        for f in it["phase_files"].as_array().unwrap() {
            let len = std::fs::metadata(f["path"].as_str().unwrap())
                .unwrap()
                .len();
            assert_eq!(f["size"].as_u64().unwrap(), len);
        }
    }
    for s in ["blocked", "tooling_built", "solved", "failed", "incomplete"] {
        assert!(statuses.contains(s), "no {s} in {statuses:?}");
    }
    for p in ["attempt", "reflection", "build"] {
        assert!(phases_seen.contains(p), "no {p} phase in {phases_seen:?}");
    }
    let slow_it = its.iter().find(|i| i["run_id"] == "slow").unwrap();
    assert_eq!(slow_it["phases"][0]["status"], "timeout");
    assert_eq!(slow_it["phases"][0]["timed_out"], true);
    let damaged_it = its.iter().find(|i| i["run_id"] == "damaged").unwrap();
    assert!(
        damaged_it["result_errors"]
            .as_array()
            .is_some_and(|e| !e.is_empty()),
        "{damaged_it}"
    );
    assert!(damaged_it["phase_files"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["phase"] == "post_attempt"));

    // Filters.
    let failed = hg(
        &db,
        &["query", "iterations", "--status", "failed", "--json"],
    );
    assert_eq!(failed.as_array().unwrap().len(), 1);
    let demo = hg(
        &db,
        &[
            "query",
            "iterations",
            "--run",
            "demo",
            "--iteration",
            "1",
            "--json",
        ],
    );
    assert_eq!(demo[0]["status"], "tooling_built");
    let finished = hg(&db, &["query", "runs", "--status", "solved", "--json"]);
    assert_eq!(finished.as_array().unwrap().len(), 1);

    // Search finds the failing agent's words with run, iteration, phase and line.
    let found = hg(&db, &["search", "wallaby_kernel", "--json"]);
    let hits = found["hits"].as_array().unwrap();
    assert_eq!(hits.len(), 2, "{found}"); // the stdout and the transcript that includes it
    let hits: Vec<&Value> = hits.iter().filter(|h| h["stream"] == "stdout").collect();
    assert_eq!(hits[0]["run_id"], "failing");
    assert_eq!(hits[0]["iteration"], 1);
    assert_eq!(hits[0]["phase"], "attempt");
    assert_eq!(hits[0]["stream"], "stdout");
    assert_eq!(hits[0]["line"], 1);
    assert_eq!(hits[0]["snippet"], "segfault in wallaby_kernel");

    // No damage in our own trees beyond what the scenarios made, and the text is readable.
    let errors = hg(&db, &["query", "errors", "--json"]);
    for e in errors.as_array().unwrap() {
        assert!(
            e["path"].as_str().unwrap().contains("corrupt") || e["run_id"] == "damaged",
            "{e}"
        );
    }
    // A second index reads nothing.
    let again = hg(&db, &["index", w.to_str().unwrap(), "--json"]);
    assert_eq!(again["files_indexed"], 0, "{again}");
}

#[test]
fn bad_arguments_are_one_clear_line() {
    let db_dir = tempfile::tempdir().unwrap();
    let db = db_dir.path().join("i.sqlite3");
    let out = bin()
        .args(["query", "runs", "--since", "yesterday", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("cannot read the time"),
        "{}",
        stderr(&out)
    );
    let out = bin()
        .args(["index", "/no/such/workspace", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert_eq!(code(&out), 2);
    assert!(
        stderr(&out).contains("no HarnessGym workspace"),
        "{}",
        stderr(&out)
    );
    let out = bin()
        .args(["search", "--db"])
        .arg(&db)
        .arg("!!")
        .output()
        .unwrap();
    assert_eq!(code(&out), 2, "{}", stderr(&out));
    // HARNESSGYM_DB is honoured.
    let ws = example_workspace();
    std::fs::create_dir_all(ws.path().join(".harnessgym/runs")).unwrap();
    let env_db = db_dir.path().join("env.sqlite3");
    let out = bin()
        .args(["index", "--json"])
        .arg(ws.path())
        .env("HARNESSGYM_DB", &env_db)
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(env_db.exists());
}
