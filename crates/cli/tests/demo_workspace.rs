//! `scripts/demo_workspace.py` builds a workspace with every kind of run for the desktop UI:
//! it is run against the freshly built binary, the result indexed, and the index checked for
//! every run, state, error row and MCP call the script promises.

mod common;
use common::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn hg(db: &Path, args: &[&str]) -> Value {
    let out = bin().args(args).arg("--db").arg(db).output().unwrap();
    assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", stdout(&out)))
}

fn phase<'a>(it: &'a Value, name: &str) -> &'a Value {
    it["phases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["phase"] == name)
        .unwrap_or_else(|| panic!("no {name} phase in {it}"))
}

fn group<'a>(stats: &'a Value, key: &str) -> &'a Value {
    stats["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["key"] == key)
        .unwrap_or_else(|| panic!("no group {key} in {stats}"))
}

#[test]
fn demo_workspace_script_makes_every_kind_of_run() {
    let tmp = tempfile::tempdir().unwrap();
    let ws = tmp.path().join("demo");
    let db = tmp.path().join("index.sqlite3");
    let started = std::time::Instant::now();
    let out = Command::new("python3")
        .arg(repo_root().join("scripts/demo_workspace.py"))
        .arg("--bin")
        .arg(env!("CARGO_BIN_EXE_harnessgym"))
        .arg(&ws)
        .args(["--many", "6", "--big-stdout", "1"])
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!(code(&out), 0, "{}\n{}", stdout(&out), stderr(&out));
    assert!(secs < 30.0, "the script took {secs:.1}s");
    let printed = stdout(&out);
    let expected: [(&str, &str, &str, bool); 14] = [
        // run id, state, final status, solved
        ("damaged-result", "finished", "tooling_built", false),
        ("solved-in-2", "finished", "solved", true),
        ("never-solved", "finished", "improved", false),
        ("codex-transcript", "finished", "solved", true),
        ("claude-transcript", "finished", "solved", true),
        ("phase-failures", "finished", "tooling_built", false),
        ("ansi-long-output", "finished", "tooling_built", false),
        ("interrupted", "interrupted", "interrupted", false),
        ("big-stdout", "finished", "solved", true),
        ("bulk-00001", "finished", "solved", true),
        ("bulk-00002", "finished", "tooling_built", false),
        ("bulk-00003", "finished", "solved", true),
        ("bulk-00004", "finished", "tooling_built", false),
        ("bulk-00006", "finished", "tooling_built", false),
    ];
    let made = expected[..11]
        .iter()
        .map(|e| e.0)
        .chain(["damaged-summary"]);
    for id in made {
        assert!(
            printed.lines().any(|l| l.starts_with(&format!("{id} "))),
            "no line for {id} in:\n{printed}"
        );
    }
    assert!(
        printed.contains("bulk-00003..bulk-00006: 4 copies"),
        "{printed}"
    );
    assert!(printed.contains("done: 16 runs in"), "{printed}");
    // The script refuses to overwrite a workspace.
    let again = Command::new("python3")
        .arg(repo_root().join("scripts/demo_workspace.py"))
        .arg("--bin")
        .arg(env!("CARGO_BIN_EXE_harnessgym"))
        .arg(&ws)
        .output()
        .unwrap();
    assert_eq!(code(&again), 2, "{}", stderr(&again));

    let report = hg(&db, &["index", "--json", ws.to_str().unwrap()]);
    assert_eq!(report["runs"], 16, "{report}");
    assert_eq!(report["calls"], 44, "{report}");
    assert_eq!(report["errors"], 1, "{report}");

    // Runs: every state, with the summaries' statuses.
    let runs = hg(&db, &["query", "runs", "--json"]);
    let runs: BTreeMap<String, Value> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["run_id"].as_str().unwrap().to_string(), r.clone()))
        .collect();
    assert_eq!(runs.len(), 16, "{:?}", runs.keys());
    for (id, state, status, solved) in expected {
        let r = &runs[id];
        assert_eq!(r["state"], state, "{id}: {r}");
        assert_eq!(r["state_source"], "summary", "{id}: {r}");
        assert_eq!(r["final_status"], status, "{id}: {r}");
        assert_eq!(r["solved"], solved, "{id}: {r}");
        assert_eq!(r["runner"], "fake", "{id}: {r}");
        assert_eq!(r["origin"], "harnessgym-rs", "{id}: {r}");
    }
    assert_eq!(runs["solved-in-2"]["iteration_count"], 2);
    assert_eq!(runs["solved-in-2"]["iterations_planned"], 3);
    let never = &runs["never-solved"];
    assert_eq!(never["iteration_count"], 3, "{never}");
    assert_eq!(never["best_score"], Value::Null, "{never}");
    assert_eq!(never["best_reported_score"], 18.9, "{never}");
    assert_eq!(runs["interrupted"]["iteration_count"], 1);
    assert_eq!(runs["interrupted"]["iterations_planned"], 2);
    // The damaged result.json and the damaged registry are both recorded in summary.json's errors.
    assert_eq!(runs["damaged-result"]["run_error_count"], 2);
    // The truncated summary: an index error, and the state inferred from the (backdated) files.
    let damaged = &runs["damaged-summary"];
    assert_eq!(damaged["state"], "interrupted", "{damaged}");
    assert_eq!(damaged["state_source"], "inferred", "{damaged}");
    assert_eq!(damaged["index_error_count"], 1, "{damaged}");
    assert_eq!(damaged["has_config"], true, "{damaged}");
    // The copies carry their own id everywhere.
    let copy = ws.join(".harnessgym/runs/bulk-00005");
    let config = read_json(&copy.join("run_config.json"));
    assert_eq!(config["run_id"], "bulk-00005");
    let summary = std::fs::read_to_string(copy.join("summary.json")).unwrap();
    assert!(summary.contains("\"run_id\": \"bulk-00005\""), "{summary}");
    assert!(!summary.contains("bulk-00001"), "{summary}");

    // Errors: exactly the truncated summary.json.
    let errors = hg(&db, &["query", "errors", "--json"]);
    let errors = errors.as_array().unwrap();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["kind"], "truncated_json");
    assert_eq!(errors[0]["run_id"], "damaged-summary");
    assert!(errors[0]["path"]
        .as_str()
        .unwrap()
        .ends_with("runs/damaged-summary/summary.json"));

    // Iterations: the damaged result.json is recorded in it, failures and timeouts per phase.
    let its = hg(
        &db,
        &["query", "iterations", "--run", "damaged-result", "--json"],
    );
    let first = its
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["iteration"] == 1)
        .unwrap();
    let result_errors = first["result_errors"].as_array().unwrap();
    assert_eq!(result_errors.len(), 1, "{first}");
    assert!(result_errors[0]["message"]
        .as_str()
        .unwrap()
        .contains("not valid JSON"));
    let its = hg(
        &db,
        &["query", "iterations", "--run", "phase-failures", "--json"],
    );
    let its = its.as_array().unwrap();
    assert_eq!(its.len(), 2);
    let (one, two) = if its[0]["iteration"] == 1 {
        (&its[0], &its[1])
    } else {
        (&its[1], &its[0])
    };
    assert_eq!(phase(one, "attempt")["status"], "failed");
    assert_eq!(phase(one, "attempt")["return_code"], 1);
    assert_eq!(phase(one, "reflection")["status"], "timeout");
    assert_eq!(phase(one, "reflection")["timed_out"], true);
    assert_eq!(phase(one, "build")["status"], "failed");
    assert_eq!(phase(one, "build")["return_code"], 2);
    assert_eq!(phase(two, "attempt")["status"], "timeout");
    assert_eq!(phase(two, "attempt")["timed_out"], true);
    let its = hg(
        &db,
        &["query", "iterations", "--run", "codex-transcript", "--json"],
    );
    let sessions: Vec<&str> = its
        .as_array()
        .unwrap()
        .iter()
        .map(|i| phase(i, "attempt")["session_id"].as_str().unwrap())
        .collect();
    assert!(
        sessions.contains(&"0199a7c2-5b1e-7d40-9f3a-2c6e8b41d0aa")
            && sessions.contains(&"0199a7c3-0c4f-7a12-8e55-91d3f6a2b7c4"),
        "{sessions:?}"
    );

    // Phase files: Codex and Claude event lines, ANSI colours, the long outputs.
    let it = |run: &str, n: u32| iteration(&ws.join(".harnessgym/runs").join(run), n);
    let codex =
        std::fs::read_to_string(it("codex-transcript", 2).join("attempt.stdout.txt")).unwrap();
    let events: Vec<Value> = codex
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["type"], "thread.started");
    assert_eq!(events.last().unwrap()["type"], "turn.completed");
    let done = |t: &str| {
        events
            .iter()
            .filter(|e| e["type"] == "item.completed" && e["item"]["type"] == t)
            .count()
    };
    assert_eq!(done("command_execution"), 2);
    assert_eq!(done("mcp_tool_call"), 1);
    assert_eq!(done("file_change"), 1);
    assert!(events
        .iter()
        .any(|e| e["item"]["type"] == "command_execution" && e["item"]["exit_code"] == 1));
    let claude =
        std::fs::read_to_string(it("claude-transcript", 1).join("attempt.stdout.txt")).unwrap();
    let events: Vec<Value> = claude
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["subtype"], "init");
    assert_eq!(
        events[0]["session_id"],
        "5f0c2b9e-8d41-4a7b-9c3e-1f6a2d8e4b70"
    );
    let last = events.last().unwrap();
    assert_eq!(last["type"], "result");
    assert_eq!(last["subtype"], "success");
    assert!(last["total_cost_usd"].as_f64().unwrap() > 0.0);
    assert!(claude.contains("\"is_error\":true") && claude.contains("mcp__kernel__run_benchmark"));
    let stderr_ansi =
        std::fs::read_to_string(it("ansi-long-output", 1).join("attempt.stderr.txt")).unwrap();
    assert!(
        stderr_ansi.contains("\u{1b}[31merror\u{1b}[0m"),
        "{stderr_ansi}"
    );
    assert!(stderr_ansi.contains("\u{1b}[38;5;208m"), "{stderr_ansi}");
    let long = std::fs::metadata(it("ansi-long-output", 1).join("attempt.stdout.txt")).unwrap();
    assert!(long.len() > 2_000_000, "{}", long.len());
    let big = it("big-stdout", 1).join("attempt.stdout.txt");
    assert_eq!(std::fs::metadata(&big).unwrap().len(), 1024 * 1024);

    // MCP calls: both formats, two servers, three tools, every status.
    let stats = hg(
        &db,
        &["query", "call-stats", "--group-by", "tool", "--json"],
    );
    let total = &stats["total"];
    assert_eq!(total["count"], 44, "{stats}");
    assert_eq!(total["ok"], 34, "{stats}");
    assert_eq!(total["errors"], 10, "{stats}");
    assert_eq!(total["by_status"]["ok"], 31, "{stats}");
    assert_eq!(total["by_status"]["completed"], 3, "{stats}");
    assert_eq!(total["by_status"]["tool_error"], 5, "{stats}");
    assert_eq!(total["by_status"]["timeout"], 4, "{stats}");
    assert_eq!(total["by_status"]["error"], 1, "{stats}");
    assert_eq!(total["duration_ms"]["max"], 30000.0, "{stats}");
    assert_eq!(group(&stats, "run_benchmark")["count"], 24);
    assert_eq!(group(&stats, "check_numerics")["count"], 12);
    assert_eq!(group(&stats, "search_docs")["count"], 8);
    let stats = hg(
        &db,
        &["query", "call-stats", "--group-by", "server", "--json"],
    );
    assert_eq!(group(&stats, "kernel")["count"], 36);
    assert_eq!(group(&stats, "docs")["count"], 8);
    let calls = hg(&db, &["query", "calls", "--run", "never-solved", "--json"]);
    let calls = calls.as_array().unwrap();
    assert_eq!(calls.len(), 18);
    assert_eq!(
        runs["never-solved"]["mcp_call_count"], 18,
        "the runs list counts them too"
    );
    assert!(calls
        .iter()
        .all(|c| c["format"] == "harnessgym" && c["phase"] == "attempt"));
    let calls = hg(
        &db,
        &[
            "query",
            "calls",
            "--run",
            "claude-transcript",
            "--iteration",
            "1",
            "--phase",
            "attempt",
            "--json",
        ],
    );
    assert!(calls
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["tool"] == "run_benchmark" && c["status"] == "timeout"));
    let calls = hg(&db, &["query", "calls", "--json"]);
    let original = calls
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["format"] == "original")
        .count();
    assert_eq!(original, 4);

    // Search finds the transcripts and the big log.
    let hits = hg(
        &db,
        &[
            "search",
            "max_abs_err",
            "--run",
            "codex-transcript",
            "--json",
        ],
    );
    assert!(
        hits["hits"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["iteration"] == 2 && h["phase"] == "attempt" && h["stream"] == "stdout"),
        "{hits}"
    );
    let hits = hg(
        &db,
        &["search", "grad_norm", "--run", "big-stdout", "--json"],
    );
    assert!(hits["matching_chunks"].as_u64().unwrap() > 10, "{hits}");
}
