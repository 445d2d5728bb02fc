//! The real Claude Code and Codex CLIs (installed from npm, pinned, driven offline against the
//! mock model server) call a tool of a `Content-Length` MCP server through
//! `harnessgym mcp-proxy` with framing detection. Neither client understands header framing
//! (clients spec §4.5), so without the proxy the server would be unusable; with it, the call
//! succeeds and its telemetry line carries the run, iteration and phase.

use harnessgym_testkit::clients::{self, run_client, Clients};
use harnessgym_testkit::mock::MockServer;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const RUN_TIMEOUT: Duration = Duration::from_secs(90);

fn server_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../mcp/tests/servers/mcp_server.py")
}

fn read_jsonl(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Runs `program` with exactly `env`, the prompt on stdin, and a wall-clock limit; returns
/// (exit code, stdout, stderr).
/// (exit code, stdout, stderr) of a client run with the prompt on stdin.
fn run(
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    cwd: &Path,
    prompt: &str,
) -> (Option<i32>, String, String) {
    let r = run_client(program, args, env, cwd, prompt, RUN_TIMEOUT);
    eprintln!("{}: {:.2}s", program.display(), r.elapsed.as_secs_f64());
    (r.code, r.stdout, r.stderr)
}

fn script() -> Value {
    json!({"rules": [{"when_prompt_contains": "", "steps": [
        {"mcp": {"server": "tools", "tool": "record", "arguments": {"text": "through the proxy"}}},
        {"text": "Done."}]}]})
}

struct Fixture {
    base: tempfile::TempDir,
    ws: tempfile::TempDir,
    telemetry: PathBuf,
    server_log: PathBuf,
    pidfile: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let base = tempfile::Builder::new()
            .prefix("mcp-real-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        // Outside the repository, so the clients pick up no project files.
        let ws = tempfile::Builder::new().prefix("hg-ws-").tempdir().unwrap();
        Fixture {
            telemetry: ws.path().join(".harnessgym/mcp_calls.jsonl"),
            server_log: base.path().join("server.jsonl"),
            pidfile: base.path().join("server.pid"),
            base,
            ws,
        }
    }

    /// `harnessgym mcp-proxy … -- python3 mcp_server.py --framing content-length …`, framing
    /// left to detection.
    fn proxy_args(&self, phase: &str) -> Vec<String> {
        [
            "mcp-proxy",
            "--server-name",
            "tools",
            "--telemetry",
            &self.telemetry.display().to_string(),
            "--run",
            "run-42",
            "--iteration",
            "2",
            "--phase",
            phase,
            "--",
            "python3",
            &server_script().display().to_string(),
            "--framing",
            "content-length",
            "--log",
            &self.server_log.display().to_string(),
            "--pidfile",
            &self.pidfile.display().to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }

    fn assert_logged(&self, phase: &str, meta_key: &str) {
        let calls: Vec<Value> = read_jsonl(&self.server_log)
            .into_iter()
            .filter(|m| m["method"] == "tools/call")
            .collect();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(calls[0]["params"]["arguments"]["text"], "through the proxy");
        assert!(
            calls[0]["params"]["_meta"].get(meta_key).is_some(),
            "the client's _meta reaches the server: {}",
            calls[0]
        );
        let lines = read_jsonl(&self.telemetry);
        assert_eq!(lines.len(), 1, "{lines:?}");
        let l = &lines[0];
        assert_eq!(l["status"], "ok", "{l}");
        assert_eq!(l["tool_name"], "record");
        assert_eq!(l["server"], "tools");
        assert_eq!(l["run_id"], "run-42");
        assert_eq!(l["iteration"], 2);
        assert_eq!(l["phase"], phase);
        assert_eq!(l["framing"], "content-length");
        assert_eq!(l["argument_keys"], json!(["text"]));
        // The client ended the proxy (SIGINT / SIGTERM) and the proxy ended the server.
        let pid: u32 = std::fs::read_to_string(&self.pidfile)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !process_gone(pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(process_gone(pid), "server {pid} outlived the client");
    }
}

#[test]
fn claude_calls_a_content_length_server_through_the_proxy() {
    let Clients { claude, .. } = clients::ensure_installed();
    let f = Fixture::new();
    let home = f.base.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mock = MockServer::start_json(f.base.path(), &script());
    let config = json!({"mcpServers": {"tools": {
        "command": env!("CARGO_BIN_EXE_harnessgym"),
        "args": f.proxy_args("attempt"),
    }}});
    let args: Vec<String> = [
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--permission-mode",
        "bypassPermissions",
        "--strict-mcp-config",
        "--mcp-config",
        &config.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (code, stdout, stderr) = run(
        &claude,
        &args,
        &mock.env_for_claude(&home),
        f.ws.path(),
        "Record a line.",
    );
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let result = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| e["type"] == "result")
        .unwrap_or_else(|| panic!("no result event:\n{stdout}"));
    assert_eq!(result["result"], "Done.", "{stdout}");
    let tool_result = mock
        .model_requests()
        .iter()
        .flat_map(|r| r["tool_results"].as_array().cloned().unwrap_or_default())
        .any(|t| {
            t.as_str()
                .unwrap_or("")
                .contains("recorded: through the proxy")
        });
    assert!(
        tool_result,
        "the model saw the tool's answer: {:?}",
        mock.model_requests()
    );
    f.assert_logged("attempt", "claudecode/toolUseId");
}

#[test]
fn codex_calls_a_content_length_server_through_the_proxy() {
    let Clients { codex, .. } = clients::ensure_installed();
    let f = Fixture::new();
    // Not under /tmp (Codex's sandbox breaks there; we bypass it anyway).
    let codex_home = f.base.path().join("codex-home");
    let mock = MockServer::start_json(f.base.path(), &script());
    let (overrides, env) = mock.codex_args_and_env(&codex_home);
    let mut args: Vec<String> = [
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(overrides);
    for c in [
        format!(
            "mcp_servers.tools.command={}",
            json!(env!("CARGO_BIN_EXE_harnessgym"))
        ),
        format!("mcp_servers.tools.args={}", json!(f.proxy_args("build"))),
        "mcp_servers.tools.required=true".to_string(),
        "mcp_servers.tools.startup_timeout_sec=20".to_string(),
    ] {
        args.push("-c".into());
        args.push(c);
    }
    args.push("-".into());
    let (code, stdout, stderr) = run(&codex, &args, &env, f.ws.path(), "Record a line.");
    assert_eq!(code, Some(0), "stdout:\n{stdout}\nstderr:\n{stderr}");
    let events: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let call = events
        .iter()
        .find(|e| e["type"] == "item.completed" && e["item"]["type"] == "mcp_tool_call")
        .unwrap_or_else(|| panic!("no mcp_tool_call:\n{stdout}\n{stderr}"));
    assert_eq!(call["item"]["server"], "tools");
    assert_eq!(call["item"]["status"], "completed", "{call}");
    f.assert_logged("build", "progressToken");
}
