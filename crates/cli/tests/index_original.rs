//! Runs made by the original: the Python `harnessgym==0.1.1` from PyPI (in a venv) makes
//! fake-runner runs, a compare report, and an `mcp_calls.jsonl` through its own telemetry proxy;
//! our `index` reads them all and the queries say what the files say.

mod common;
use common::*;
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The reference venv's `bin/` (installed once per target directory by the testkit).
fn reference_bin() -> PathBuf {
    harnessgym_testkit::pyref::bin_dir()
}

fn py(bin: &Path, cwd: &Path, args: &[&str]) {
    let out = Command::new(bin.join("harnessgym"))
        .args(args)
        .current_dir(cwd)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "reference {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A tiny Content-Length MCP server (what the original's proxy speaks on the server side).
const SERVER: &str = r#"
import json, sys
def read():
    headers = {}
    while True:
        line = sys.stdin.buffer.readline()
        if not line:
            return None
        line = line.strip()
        if not line:
            break
        k, v = line.decode().split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return json.loads(sys.stdin.buffer.read(int(headers["content-length"])))
def send(msg):
    body = json.dumps(msg).encode()
    sys.stdout.buffer.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    sys.stdout.buffer.flush()
while True:
    msg = read()
    if msg is None:
        break
    if "id" not in msg:
        continue
    if msg["method"] == "initialize":
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"protocolVersion": "2024-11-05", "capabilities": {}, "serverInfo": {"name": "probe"}}})
    elif msg["method"] == "tools/call" and msg["params"]["name"] == "run_probe":
        send({"jsonrpc": "2.0", "id": msg["id"], "result": {"content": [{"type": "text", "text": "all 203 cases pass"}]}})
    else:
        send({"jsonrpc": "2.0", "id": msg["id"], "error": {"code": -32601, "message": "no such tool"}})
"#;

fn frame(v: Value) -> Vec<u8> {
    let body = v.to_string();
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body.as_bytes());
    out
}

fn hg(db: &Path, args: &[&str]) -> Value {
    let out = bin().args(args).arg("--db").arg(db).output().unwrap();
    assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn runs_compare_reports_and_telemetry_of_the_original_are_indexed() {
    let bin_dir = reference_bin();
    let ws = example_workspace();
    let w = ws.path();
    py(
        &bin_dir,
        w,
        &[
            "run",
            "--task",
            "task.md",
            "--runner",
            "fake",
            "--iterations",
            "3",
        ],
    );

    // Telemetry through the original's proxy.
    let server_dir = tempfile::tempdir().unwrap();
    std::fs::write(server_dir.path().join("server.py"), SERVER).unwrap();
    let mut proxy = Command::new(bin_dir.join("python"))
        .args([
            "-m",
            "harnessgym.mcp_telemetry_proxy",
            "--server-name",
            "probe",
            "--cwd",
        ])
        .arg(server_dir.path())
        .args(["--", "python3", "server.py"])
        .env(
            "HARNESSGYM_MCP_TELEMETRY_PATH",
            w.join(".harnessgym/mcp_calls.jsonl"),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    {
        let mut stdin = proxy.stdin.take().unwrap();
        stdin
            .write_all(&frame(
                json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}),
            ))
            .unwrap();
        stdin
            .write_all(&frame(
                json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
            "params": {"name": "run_probe", "arguments": {"path": "kernel_ops.py"}}}),
            ))
            .unwrap();
        stdin
            .write_all(&frame(
                json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
            "params": {"name": "explode", "arguments": {}}}),
            ))
            .unwrap();
    }
    let out = proxy.wait_with_output().unwrap();
    assert!(out.status.success());
    let log = std::fs::read_to_string(w.join(".harnessgym/mcp_calls.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2, "{log}");

    // A compare with the original (a post command, so that its report is written).
    let out_dir = tempfile::tempdir().unwrap();
    let compare_dir = out_dir.path().join("cmp");
    py(
        &bin_dir,
        w,
        &[
            "compare",
            "--task",
            "task.md",
            "--workspace-template",
            w.to_str().unwrap(),
            "--artifact-source",
            w.to_str().unwrap(),
            "--output-dir",
            compare_dir.to_str().unwrap(),
            "--runner",
            "fake",
            "--trials",
            "1",
            "--post-command",
            "echo '{\"status\": \"passed\", \"score\": 2}'",
        ],
    );
    assert!(compare_dir.join("compare_report.json").exists());

    let db_dir = tempfile::tempdir().unwrap();
    let db = db_dir.path().join("index.sqlite3");
    let report = hg(
        &db,
        &[
            "index",
            w.to_str().unwrap(),
            compare_dir.to_str().unwrap(),
            "--json",
        ],
    );
    assert_eq!(
        report["workspaces"].as_array().unwrap().len(),
        4,
        "{report}"
    ); // ws, compare dir, 2 trials

    // The original's run: finished (its summary has no `state`), statuses as its files say.
    let runs = hg(
        &db,
        &[
            "query",
            "runs",
            "--workspace",
            w.to_str().unwrap(),
            "--json",
        ],
    );
    let runs = runs.as_array().unwrap();
    let own: Vec<&Value> = runs
        .iter()
        .filter(|r| r["workspace"] == w.to_str().unwrap())
        .collect();
    assert_eq!(own.len(), 1, "{runs:?}");
    let run = own[0];
    let run_dir = w
        .join(".harnessgym/runs")
        .join(run["run_id"].as_str().unwrap());
    let summary = read_json(&run_dir.join("summary.json"));
    assert_eq!(run["origin"], "harnessgym-py");
    assert_eq!(run["state"], "finished");
    assert_eq!(run["final_status"], summary["final_status"]);
    assert_eq!(run["solved"], summary["solved"]);
    assert!(
        run["started_at"].is_string(),
        "the run id carries the start time"
    );
    let its = hg(
        &db,
        &[
            "query",
            "iterations",
            "--run",
            run["run_id"].as_str().unwrap(),
            "--json",
        ],
    );
    let its = its.as_array().unwrap();
    assert_eq!(its.len(), summary["iterations"].as_array().unwrap().len());
    for (it, row) in its.iter().zip(summary["iterations"].as_array().unwrap()) {
        assert_eq!(it["status"], row["status"]);
        assert_eq!(it["solved"], row["solved"]);
        assert!(!it["phase_files"].as_array().unwrap().is_empty());
    }

    // The proxy's telemetry: the original's fields mapped onto ours.
    let calls = hg(&db, &["query", "calls", "--json"]);
    let calls = calls.as_array().unwrap();
    assert_eq!(calls.len(), 2);
    for c in calls {
        assert_eq!(c["format"], "original");
        assert_eq!(c["server"], "probe");
        assert!(
            c["duration_ms"].is_number()
                && c["request_bytes"].is_number()
                && c["response_bytes"].is_number()
        );
        assert!(c["created_at"].as_str().unwrap().ends_with('Z'));
    }
    let ok = calls.iter().find(|c| c["tool"] == "run_probe").unwrap();
    assert_eq!(
        (ok["status"].as_str(), ok["ok"].as_bool()),
        (Some("completed"), Some(true))
    );
    assert_eq!(
        ok["request_bytes"],
        json!({"path": "kernel_ops.py"}).to_string().len()
    );
    let bad = calls.iter().find(|c| c["tool"] == "explode").unwrap();
    assert_eq!(
        (bad["status"].as_str(), bad["ok"].as_bool()),
        (Some("error"), Some(false))
    );
    assert_eq!(bad["error_message"], "no such tool");
    let stats = hg(
        &db,
        &["query", "call-stats", "--group-by", "server", "--json"],
    );
    assert_eq!(stats["groups"][0]["key"], "probe");
    assert_eq!(stats["groups"][0]["count"], 2);
    assert_eq!(stats["groups"][0]["errors"], 1);
    assert_eq!(
        stats["groups"][0]["by_status"],
        json!({"completed": 1, "error": 1})
    );

    // The compare report and its trials, and the trial workspaces' runs.
    let index = harnessgym_index::Index::open(&db).unwrap();
    let trials = index
        .compare_trials(&harnessgym_index::Filter::default())
        .unwrap();
    let cmp = read_json(&compare_dir.join("compare_report.json"));
    let from_report: Vec<_> = trials.iter().filter(|t| t.source == "report").collect();
    assert_eq!(from_report.len(), cmp["trials"].as_array().unwrap().len());
    for (t, want) in from_report.iter().zip(cmp["trials"].as_array().unwrap()) {
        assert_eq!(t.group.as_deref(), want["group"].as_str());
        assert_eq!(t.run_id.as_deref(), want["run_id"].as_str());
        assert_eq!(t.comparison_valid, want["comparison_valid"].as_bool());
        assert_eq!(t.post_score, want["post_score"].as_f64());
    }
    assert_eq!(
        trials.iter().filter(|t| t.source == "trial").count(),
        from_report.len()
    );
    let trial_runs = hg(
        &db,
        &[
            "query",
            "runs",
            "--workspace",
            compare_dir.to_str().unwrap(),
            "--json",
        ],
    );
    let ids: Vec<&str> = trial_runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run_id"].as_str().unwrap())
        .collect();
    assert!(
        ids.contains(&"compare-plain-1") && ids.contains(&"compare-harnessed-1"),
        "{ids:?}"
    );

    // Search reaches the original's prompts and outputs.
    let found = hg(
        &db,
        &[
            "search",
            "verifier.py",
            "--run",
            run["run_id"].as_str().unwrap(),
            "--json",
        ],
    );
    assert!(!found["hits"].as_array().unwrap().is_empty());
    // The original's trees are clean: nothing in the errors table.
    let errors = hg(&db, &["query", "errors", "--json"]);
    assert_eq!(errors.as_array().unwrap().len(), 0, "{errors}");
}
