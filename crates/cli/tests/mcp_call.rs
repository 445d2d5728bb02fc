//! `harnessgym mcp-call`: server lookup in activation.json, list / call / errors, and the
//! telemetry line written through the proxy.

use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn server_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../mcp/tests/servers/mcp_server.py")
}

/// A workspace whose activation.json lists `tools` (content-length, framing recorded),
/// `lines` (ndjson, no framing recorded: detected) and an inactive `off`.
fn workspace() -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    let hg = ws.path().join(".harnessgym");
    std::fs::create_dir_all(hg.join("mcp/tools")).unwrap();
    let script = server_script().display().to_string();
    let activation = json!({
        "skills": [], "warnings": [], "quarantined_artifacts": [],
        "mcp_servers": [
            {"name": "off", "command": "false", "args": [], "cwd": ".", "active": false,
             "tool_timeout_sec": 5},
            {"name": "tools", "command": "python3",
             "args": [script, "--framing", "content-length"],
             "cwd": ".harnessgym/mcp/tools", "tool_timeout_sec": 20,
             "framing": "content-length", "active": true},
            {"name": "lines", "command": "python3", "args": [script],
             "cwd": ws.path().display().to_string(), "tool_timeout_sec": 20, "active": true}
        ]
    });
    std::fs::write(
        hg.join("activation.json"),
        serde_json::to_vec_pretty(&activation).unwrap(),
    )
    .unwrap();
    ws
}

fn mcp_call(ws: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_harnessgym"))
        .arg("mcp-call")
        .arg("--workspace")
        .arg(ws)
        .args(args)
        .output()
        .unwrap()
}

fn stdout_json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

fn telemetry(ws: &Path) -> Vec<Value> {
    std::fs::read_to_string(ws.join(".harnessgym/mcp_calls.jsonl"))
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn lists_tools_and_calls_one_with_telemetry() {
    let ws = workspace();
    let out = mcp_call(ws.path(), &["--server", "tools", "--list-tools"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let listed = stdout_json(&out);
    assert_eq!(listed["tools"][0]["name"], "echo");

    let out = mcp_call(
        ws.path(),
        &[
            "--server",
            "tools",
            "--tool",
            "echo",
            "--arguments",
            r#"{"x": [1, 2], "y": "z"}"#,
            "--run",
            "r1",
            "--iteration",
            "2",
            "--phase",
            "build",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // The text content is JSON, so it is printed decoded.
    assert_eq!(stdout_json(&out), json!({"x": [1, 2], "y": "z"}));
    let lines = telemetry(ws.path());
    assert_eq!(lines.len(), 1, "only tools/call is logged: {lines:?}");
    let l = &lines[0];
    assert_eq!(l["server"], "tools");
    assert_eq!(l["tool_name"], "echo");
    assert_eq!(l["status"], "ok");
    assert_eq!(l["argument_keys"], json!(["x", "y"]));
    assert_eq!(l["run_id"], "r1");
    assert_eq!(l["iteration"], 2);
    assert_eq!(l["phase"], "build");
    assert_eq!(l["framing"], "content-length");

    // Detected framing, raw output, arguments from a file.
    let args_file = ws.path().join("args.json");
    std::fs::write(&args_file, r#"{"text": "hello"}"#).unwrap();
    let out = mcp_call(
        ws.path(),
        &[
            "--server",
            "lines",
            "--tool",
            "record",
            "--arguments-file",
            &args_file.display().to_string(),
            "--raw",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let raw = stdout_json(&out);
    assert_eq!(raw["result"]["content"][0]["text"], "recorded: hello");
    let lines = telemetry(ws.path());
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[1]["framing"], "ndjson");
    assert_eq!(lines[1]["run_id"], Value::Null);
}

#[test]
fn tool_and_protocol_errors_exit_1() {
    let ws = workspace();
    let out = mcp_call(ws.path(), &["--server", "tools", "--tool", "fail"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        stdout_json(&out),
        json!({"text": "it failed", "isError": true})
    );
    let out = mcp_call(ws.path(), &["--server", "lines", "--tool", "boom"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["error"]["message"], "boom");
    let statuses: Vec<Value> = telemetry(ws.path())
        .iter()
        .map(|l| l["status"].clone())
        .collect();
    assert_eq!(statuses, vec![json!("tool_error"), json!("protocol_error")]);
}

#[test]
fn a_timeout_is_reported_by_the_proxy() {
    let ws = workspace();
    let out = mcp_call(
        ws.path(),
        &["--server", "lines", "--tool", "hold", "--timeout", "0.5"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let printed = stdout_json(&out);
    assert_eq!(printed["error"]["code"], -32000, "{printed}");
    assert_eq!(telemetry(ws.path())[0]["status"], "timeout");
}

#[test]
fn unknown_or_inactive_server_is_a_json_error() {
    let ws = workspace();
    for name in ["nope", "off"] {
        let out = mcp_call(ws.path(), &["--server", name, "--list-tools"]);
        assert_eq!(out.status.code(), Some(1));
        let err: Value = serde_json::from_slice(&out.stderr).unwrap();
        assert_eq!(err["ok"], false);
        assert_eq!(
            err["error"],
            format!("could not find active MCP server '{name}': active servers: tools, lines")
        );
    }
    let empty = tempfile::tempdir().unwrap();
    let out = mcp_call(empty.path(), &["--server", "tools", "--list-tools"]);
    assert_eq!(out.status.code(), Some(1));
    let err: Value = serde_json::from_slice(&out.stderr).unwrap();
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .starts_with("could not find active MCP server 'tools': cannot read "),
        "{err}"
    );
}

#[test]
fn argument_errors_are_one_line_with_exit_2() {
    let ws = workspace();
    for args in [
        &["--server", "tools"][..],
        &["--server", "tools", "--tool", "echo", "--arguments", "[1]"],
        &["--server", "tools", "--tool", "echo", "--arguments", "{bad"],
        &["--server", "tools", "--tool", "echo", "--list-tools"],
        &["--server", "tools", "--tool", "echo", "--timeout", "0"],
    ] {
        let out = mcp_call(ws.path(), args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    }
    let out = mcp_call(ws.path(), &["--server", "tools"]);
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("--tool is required unless --list-tools is passed"));
    assert!(telemetry(ws.path()).is_empty());
}

#[test]
fn the_workspace_defaults_to_the_nearest_one_with_an_activation() {
    let ws = workspace();
    let sub = ws.path().join("src/deep");
    std::fs::create_dir_all(&sub).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_harnessgym"))
        .args(["mcp-call", "--server", "lines", "--tool", "echo"])
        .current_dir(&sub)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(telemetry(ws.path()).len(), 1);
}
