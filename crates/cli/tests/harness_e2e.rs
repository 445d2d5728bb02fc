//! The harness end to end through the real binary: a fake-runner build creates an MCP server and
//! a skill, the next attempt finds them activated (activation.json, the `.codex/config.toml`
//! block wrapping the server in `harnessgym mcp-proxy`, the skill links), a broken second server
//! built later is quarantined while the first stays qualified, and a tool call through the
//! generated `mcp_call.py` helper is logged with its run, iteration and phase.

mod common;
use common::*;
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

fn fixture_server() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/mcp_server.py");
    fs::read_to_string(path).unwrap()
}

fn manifest(name: &str, self_test: &[&str]) -> String {
    let mut st = vec!["python3", "server.py", "--self-test"];
    st.extend_from_slice(self_test);
    serde_json::to_string_pretty(&json!({
        "name": name, "command": "python3", "args": ["server.py", "--framing", "ndjson"],
        "cwd": format!(".harnessgym/mcp/{name}"), "enabled_tools": ["probe"],
        "timeouts": {"startup_seconds": 10, "tool_seconds": 20, "self_test_seconds": 20},
        "self_test": {"command": st},
    }))
    .unwrap()
}

fn build(name: &str, self_test: &[&str], extra: Vec<Value>) -> Value {
    let mut artifacts = vec![
        json!({"kind": "mcp", "path": format!(".harnessgym/mcp/{name}/mcp.json"),
                                    "content": manifest(name, self_test)}),
    ];
    artifacts.extend(extra);
    json!({"files": {format!(".harnessgym/mcp/{name}/server.py"): fixture_server()},
           "artifacts": artifacts})
}

fn registry_entry<'a>(registry: &'a Value, path: &str) -> &'a Value {
    registry["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in {registry:#}"))
}

fn row<'a>(activation: &'a Value, name: &str) -> Option<&'a Value> {
    activation["mcp_servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == name)
}

#[test]
fn built_servers_and_skills_are_activated_and_a_broken_one_is_quarantined_alone() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    fs::write(ws.join("task.md"), "Make the probe pass.\n").unwrap();
    let skill = json!({"kind": "skill", "path": ".harnessgym/skills/probing/SKILL.md",
                       "content": "---\nname: probing\ndescription: how to probe\n---\nCall probe.\n"});
    let scenario = script(json!({"iterations": {
        "1": {"attempt": {}, "reflection": {}, "build": build("good", &[], vec![skill])},
        "2": {"attempt": {}, "reflection": {}, "build": build("bad", &["--fail"], vec![])},
        "default": {"attempt": {}, "reflection": {}, "build": {}},
    }}));
    let out = run_fake(
        ws,
        &[
            "--iterations",
            "3",
            "--artifact-repair-attempts",
            "0",
            "--fake-script",
            scenario.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 3, "stderr: {}", stderr(&out));
    let run = only_run(ws);

    // Iteration 2 starts with iteration 1's server and skill activated.
    let act2 = read_json(&iteration(&run, 2).join("activation.json"));
    let good = row(&act2, "good").expect("good server row");
    assert_eq!(good["active"], true, "{act2:#}");
    assert_eq!(good["framing"], "ndjson");
    assert_eq!(act2["quality_gate"]["status"], "passed", "{act2:#}");
    assert_eq!(act2["skills"][0]["link_name"], "hg-probing");
    assert!(ws.join(".agents/skills/hg-probing/SKILL.md").is_file());
    assert!(ws.join(".claude/skills/hg-probing/SKILL.md").is_file());
    let config = fs::read_to_string(ws.join(".codex/config.toml")).unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_harnessgym"));
    for needle in [
        "# BEGIN HARNESSGYM MCP".to_string(),
        "[mcp_servers.good]".to_string(),
        format!("command = {}", json!(bin.to_string_lossy())),
        "\"mcp-proxy\", \"--server-name\", \"good\"".to_string(),
        format!(
            "\"--telemetry\", {}",
            json!(ws.join(".harnessgym/mcp_calls.jsonl").to_string_lossy())
        ),
        "\"--framing\", \"ndjson\"".to_string(),
        "# END HARNESSGYM MCP".to_string(),
    ] {
        assert!(config.contains(&needle), "{needle} in\n{config}");
    }

    // Iteration 2 built a broken server: only it is quarantined.
    let q2 = read_json(&iteration(&run, 2).join("qualification/attempt_1/qualification.json"));
    assert_eq!(q2["status"], "failed");
    assert_eq!(
        q2["failed_artifacts"],
        json!([".harnessgym/mcp/bad/mcp.json"])
    );
    assert_eq!(
        q2["quarantined_artifacts"],
        json!([".harnessgym/mcp/bad/mcp.json"])
    );
    let registry = read_json(&ws.join(".harnessgym/registry.json"));
    assert_eq!(
        registry_entry(&registry, ".harnessgym/mcp/bad/mcp.json")["metadata"]["quarantined"],
        true
    );
    for good in [
        ".harnessgym/mcp/good/mcp.json",
        ".harnessgym/skills/probing/SKILL.md",
    ] {
        let meta = &registry_entry(&registry, good)["metadata"];
        assert_eq!(
            meta["qualification"]["status"], "passed",
            "{good}: {meta:#}"
        );
        assert_eq!(
            meta["qualification"]["iteration"], 1,
            "qualified when built"
        );
        assert!(meta.get("quarantined").is_none(), "{good}");
    }

    // Iteration 3: the good server still active, the bad one hidden.
    let act3 = read_json(&iteration(&run, 3).join("activation.json"));
    assert_eq!(row(&act3, "good").unwrap()["active"], true);
    assert!(row(&act3, "bad").is_none(), "{act3:#}");
    assert_eq!(
        act3["quarantined_artifacts"],
        json!([{"kind": "mcp", "path": ".harnessgym/mcp/bad/mcp.json"}])
    );
    let prompt = fs::read_to_string(iteration(&run, 3).join("attempt.prompt.txt")).unwrap();
    assert!(
        prompt.contains("1 quarantined artifact(s) are hidden"),
        "{prompt}"
    );
    assert!(
        prompt.contains("python3 .harnessgym/runtime/mcp_call.py"),
        "{prompt}"
    );

    // The helper calls the server through the proxy, from a subdirectory, and it is logged.
    let sub = ws.join("src");
    fs::create_dir_all(&sub).unwrap();
    let call = Command::new("python3")
        .arg(ws.join(".harnessgym/runtime/mcp_call.py"))
        .args([
            "--server",
            "good",
            "--tool",
            "probe",
            "--arguments",
            r#"{"x": 1}"#,
        ])
        .args(["--run", "manual", "--iteration", "9", "--phase", "attempt"])
        .current_dir(&sub)
        .output()
        .unwrap();
    assert!(
        call.status.success(),
        "stdout: {}\nstderr: {}",
        String::from_utf8_lossy(&call.stdout),
        String::from_utf8_lossy(&call.stderr)
    );
    let answer: Value = serde_json::from_slice(&call.stdout).unwrap();
    assert_eq!(answer, json!({"tool": "probe", "arguments": {"x": 1}}));
    let log = fs::read_to_string(ws.join(".harnessgym/mcp_calls.jsonl")).unwrap();
    let line: Value = serde_json::from_str(log.lines().last().unwrap()).unwrap();
    assert_eq!(line["server"], "good");
    assert_eq!(line["tool_name"], "probe");
    assert_eq!(line["status"], "ok");
    assert_eq!(line["iteration"], 9);
}

/// A workspace whose harness already holds a Content-Length server (`good`, tools `probe` and
/// `echo`); the loop's own activation checks and wires it.
fn workspace_with_server() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path();
    fs::write(ws.join("task.md"), "Use the probe tool.\n").unwrap();
    let srv = ws.join(".harnessgym/mcp/good");
    fs::create_dir_all(&srv).unwrap();
    fs::write(srv.join("server.py"), fixture_server()).unwrap();
    let m = json!({
        "name": "good", "command": "python3", "args": ["server.py"],
        "cwd": ".harnessgym/mcp/good", "enabled_tools": ["probe"],
        "timeouts": {"startup_seconds": 10, "tool_seconds": 20},
        "self_test": true,
    });
    fs::write(srv.join("mcp.json"), m.to_string()).unwrap();
    dir
}

/// The model calls the server's `probe` tool in the attempt; everything else answers "ok".
fn calling_script() -> Value {
    json!({"rules": [
        {"when_prompt_contains": "Based on the attempt you just performed", "steps": [{"text": "ok"}]},
        {"when_prompt_contains": "Build the single highest-leverage improvement", "steps": [{"text": "ok"}]},
        {"when_prompt_contains": "Primary task", "steps": [
            {"mcp": {"server": "good", "tool": "probe", "arguments": {"x": "through the runner"}}},
            {"text": "Done."}]},
        {"when_prompt_contains": "", "steps": [{"text": "ok"}]}
    ]})
}

/// The attempt's call went through `harnessgym mcp-proxy` and was logged with this run,
/// iteration 1 and the attempt phase, and the usage counts it.
fn assert_logged_through_the_runner(ws: &Path, out: &std::process::Output) {
    let run = only_run(ws);
    let run_id = run.file_name().unwrap().to_string_lossy().into_owned();
    let log = fs::read_to_string(ws.join(".harnessgym/mcp_calls.jsonl")).unwrap_or_else(|e| {
        panic!(
            "no telemetry ({e})\nstdout: {}\nstderr: {}",
            stdout(out),
            stderr(out)
        )
    });
    let calls: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let call = calls
        .iter()
        .find(|c| c["tool_name"] == "probe")
        .unwrap_or_else(|| panic!("no probe call in {log}"));
    assert_eq!(call["server"], "good");
    assert_eq!(call["status"], "ok", "{call}");
    assert_eq!(call["run_id"], json!(run_id));
    assert_eq!(call["iteration"], 1);
    assert_eq!(call["phase"], "attempt");
    assert_eq!(call["framing"], "content-length");
    let result = read_json(&iteration(&run, 1).join("result.json"));
    assert_eq!(result["harness_usage"]["mcp_call_count"], 1, "{result:#}");
    let activation = read_json(&iteration(&run, 1).join("activation.json"));
    assert_eq!(
        activation["mcp_servers"][0]["active"], true,
        "{activation:#}"
    );
}

#[test]
fn claude_calls_a_generated_server_through_the_runner_wiring() {
    let clients = harnessgym_testkit::clients::ensure_installed();
    let ws = workspace_with_server();
    let home = tempfile::tempdir().unwrap();
    let mock = harnessgym_testkit::mock::MockServer::start_json(home.path(), &calling_script());
    let out = run_real_client(
        ws.path(),
        "claude",
        &clients.claude,
        &mock.env_for_claude(home.path()),
        1,
        &[],
    );
    assert_eq!(
        code(&out),
        3,
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    assert_logged_through_the_runner(ws.path(), &out);
    let config = read_json(&ws.path().join(".harnessgym/claude_mcp_config.json"));
    assert_eq!(config["mcpServers"]["good"]["alwaysLoad"], true);
}

#[test]
fn codex_calls_a_generated_server_through_the_runner_wiring() {
    let clients = harnessgym_testkit::clients::ensure_installed();
    let ws = workspace_with_server();
    // CODEX_HOME must not be under /tmp (Codex's sandbox helpers refuse it).
    let home = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mock = harnessgym_testkit::mock::MockServer::start_json(home.path(), &calling_script());
    let (args, env) = mock.codex_args_and_env(home.path());
    let mut extra: Vec<String> = args
        .into_iter()
        .map(|a| format!("--codex-extra-arg={a}"))
        .collect();
    extra.push("--codex-extra-arg=--dangerously-bypass-approvals-and-sandbox".into());
    let out = run_real_client(ws.path(), "exec", &clients.codex, &env, 1, &extra);
    assert_eq!(
        code(&out),
        3,
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    assert_logged_through_the_runner(ws.path(), &out);
}
