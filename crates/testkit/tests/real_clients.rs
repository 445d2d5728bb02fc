//! The real `claude` and `codex` CLIs (installed from npm, pinned) driven offline against
//! `hg-mock-model`: scripted shell and MCP steps, a resumed session that sees the earlier
//! history, and a 401 from the model server.

use harnessgym_testkit::clients::{self, run_client, ClientRun, Clients};
use harnessgym_testkit::mock::MockServer;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Each client run is killed after this long (the runs take 0.3–7 s here).
const RUN_TIMEOUT: Duration = Duration::from_secs(60);

/// A client run with the prompt on stdin and this file's limit.
fn run(
    program: &Path,
    args: &[String],
    env: &[(String, String)],
    cwd: &Path,
    stdin: &str,
) -> ClientRun {
    run_client(program, args, env, cwd, stdin, RUN_TIMEOUT)
}

/// A scratch directory under `CARGO_TARGET_TMPDIR` (not under /tmp, for `CODEX_HOME`).
fn scratch() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("real-clients-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

/// A workspace outside the project's git checkout, so neither client picks up its
/// repository, CLAUDE.md or AGENTS.md.
fn workspace() -> tempfile::TempDir {
    tempfile::Builder::new().prefix("hg-ws-").tempdir().unwrap()
}

fn primary_prompt(ws: &Path) -> String {
    format!(
        "Primary task on this workspace:\n{}\nWhen done, write {}/result.json.\n",
        ws.display(),
        ws.display()
    )
}

fn reflect_prompt(ws: &Path) -> String {
    format!("Reflect on this workspace:\n{}\n", ws.display())
}

fn script() -> Value {
    json!({"auth_status": null, "rules": [
        {"when_prompt_contains": "Primary task", "steps": [
            {"shell": "echo hi > {workspace}/marker.txt"},
            {"mcp": {"server": "log", "tool": "record", "arguments": {"text": "attempt {prompt_sha}"}}},
            {"shell": "cat > {result_path} <<'EOF'\n{\"status\": \"solved\", \"verified\": true}\nEOF"},
            {"text": "Done."}]},
        {"when_prompt_contains": "Reflect", "steps": [
            {"shell": "echo reflected > {workspace}/reflection.txt"},
            {"text": "Reflected."}]},
        {"when_prompt_contains": "", "steps": [{"text": "ok"}]}
    ]})
}

fn mcp_bin() -> &'static str {
    env!("CARGO_BIN_EXE_hg-mock-mcp")
}

fn read_jsonl(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn assert_attempt_files(ws: &Path) {
    assert_eq!(
        std::fs::read_to_string(ws.join("marker.txt")).unwrap(),
        "hi\n"
    );
    let result: Value =
        serde_json::from_str(&std::fs::read_to_string(ws.join("result.json")).unwrap()).unwrap();
    assert_eq!(result, json!({"status": "solved", "verified": true}));
}

/// The first request of the resumed turn saw the whole attempt: the same tool results as the
/// attempt's last request (two shell outputs and the MCP answer, at least), and more history.
fn assert_resume_saw_history(mock: &MockServer) {
    let reqs = mock.model_requests();
    let attempt_last = reqs
        .iter()
        .rfind(|r| r["rule"] == 0)
        .expect("attempt requests")
        .clone();
    let resumed: Vec<&Value> = reqs.iter().filter(|r| r["rule"] == 1).collect();
    assert!(resumed.len() >= 2, "resumed requests: {resumed:?}");
    let first = resumed[0];
    assert_eq!(first["step"], 0);
    let results = first["tool_results"].as_array().unwrap();
    assert!(results.len() >= 3, "{first}");
    assert_eq!(first["tool_results"], attempt_last["tool_results"]);
    assert!(
        results
            .iter()
            .any(|t| t.as_str().unwrap().contains("recorded: attempt ")),
        "{first}"
    );
    assert!(
        first["history_len"].as_u64().unwrap() > attempt_last["history_len"].as_u64().unwrap(),
        "resumed {first}\nattempt {attempt_last}"
    );
    let last = resumed.last().unwrap();
    assert_eq!(last["step"], 1);
    assert_eq!(
        last["tool_results"].as_array().unwrap().len(),
        results.len() + 1
    );
}

fn claude_args(mcp_log: &Path, resume: Option<&str>) -> Vec<String> {
    claude_args_with_mcp_delay(mcp_log, resume, 0)
}

fn claude_args_with_mcp_delay(
    mcp_log: &Path,
    resume: Option<&str>,
    init_delay_ms: u64,
) -> Vec<String> {
    let mcp = json!({"mcpServers": {"log": {"command": mcp_bin(),
        "args": ["--log", mcp_log.display().to_string(),
                 "--init-delay-ms", init_delay_ms.to_string()]}}});
    let mut a: Vec<String> = [
        "-p",
        "--output-format",
        "stream-json",
        "--verbose",
        "--permission-mode",
        "bypassPermissions",
        "--strict-mcp-config",
        "--mcp-config",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    a.push(mcp.to_string());
    if let Some(id) = resume {
        a.push("--resume".into());
        a.push(id.into());
    }
    a
}

fn claude_result(r: &ClientRun) -> Value {
    r.events()
        .into_iter()
        .find(|e| e["type"] == "result")
        .unwrap_or_else(|| panic!("no result event: {}", r.describe()))
}

#[test]
fn claude_runs_scripted_steps_and_resumes_with_history() {
    let Clients { claude, .. } = clients::ensure_installed();
    let base = scratch();
    let ws = workspace();
    let home = base.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mcp_log = base.path().join("mcp.jsonl");
    let mock = MockServer::start_json(base.path(), &script());
    let env = mock.env_for_claude(&home);

    let r = run(
        &claude,
        &claude_args(&mcp_log, None),
        &env,
        ws.path(),
        &primary_prompt(ws.path()),
    );
    eprintln!("claude attempt: {:.2}s", r.elapsed.as_secs_f64());
    assert_eq!(r.code, Some(0), "{}", r.describe());
    let events = r.events();
    let init = &events[0];
    assert_eq!(init["type"], "system");
    assert_eq!(init["subtype"], "init");
    assert_eq!(init["mcp_servers"][0]["name"], "log");
    let session_id = init["session_id"].as_str().unwrap().to_string();
    let result = claude_result(&r);
    assert_eq!(result["subtype"], "success", "{}", r.describe());
    assert_eq!(result["is_error"], false);
    assert_eq!(result["result"], "Done.");
    assert_eq!(result["session_id"], session_id.as_str());
    assert_attempt_files(ws.path());
    let calls = read_jsonl(&mcp_log);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert_eq!(calls[0]["tool"], "record");

    let r = run(
        &claude,
        &claude_args(&mcp_log, Some(&session_id)),
        &env,
        ws.path(),
        &reflect_prompt(ws.path()),
    );
    eprintln!("claude resume: {:.2}s", r.elapsed.as_secs_f64());
    assert_eq!(r.code, Some(0), "{}", r.describe());
    let result = claude_result(&r);
    assert_eq!(result["result"], "Reflected.", "{}", r.describe());
    assert_eq!(result["session_id"], session_id.as_str());
    assert!(ws.path().join("reflection.txt").is_file());
    assert_resume_saw_history(&mock);

    for req in mock.model_requests() {
        assert_eq!(req["api"], "anthropic");
        assert_eq!(req["path"], "/v1/messages?beta=true");
        assert_eq!(req["headers"]["x-api-key"], true);
        assert!(req["headers"]["user-agent"]
            .as_str()
            .unwrap()
            .starts_with(&format!("claude-cli/{}", clients::CLAUDE_VERSION)));
    }
    let refused = mock.refused_requests();
    assert!(refused.is_empty(), "stray traffic: {refused:?}");
}

/// Claude Code does not wait for a slow MCP server; it offers `WaitForMcpServers` instead, and
/// the mock calls that (not counted as a step) before the scripted MCP tool.
#[test]
fn claude_mcp_step_waits_for_a_slow_server() {
    let Clients { claude, .. } = clients::ensure_installed();
    let base = scratch();
    let ws = workspace();
    let home = base.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mcp_log = base.path().join("mcp.jsonl");
    let mock = MockServer::start_json(base.path(), &script());
    let r = run(
        &claude,
        &claude_args_with_mcp_delay(&mcp_log, None, 3000),
        &mock.env_for_claude(&home),
        ws.path(),
        &primary_prompt(ws.path()),
    );
    eprintln!("claude slow MCP: {:.2}s", r.elapsed.as_secs_f64());
    assert_eq!(r.code, Some(0), "{}", r.describe());
    assert_eq!(claude_result(&r)["result"], "Done.");
    assert_attempt_files(ws.path());
    assert_eq!(read_jsonl(&mcp_log).len(), 1);
    let reqs = mock.model_requests();
    assert!(
        reqs.iter()
            .any(|q| q["action"]["wait_for_mcp_servers"] == json!(["log"])),
        "{reqs:?}"
    );
}

fn codex_exec_args(
    mock: &MockServer,
    codex_home: &Path,
    resume: Option<&str>,
) -> (Vec<String>, Vec<(String, String)>) {
    let (overrides, env) = mock.codex_args_and_env(codex_home);
    let mut a: Vec<String> = vec!["exec".into()];
    if resume.is_some() {
        a.push("resume".into());
    }
    for s in [
        "--json",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
    ] {
        a.push(s.into());
    }
    a.extend(overrides);
    for c in [
        format!("mcp_servers.log.command={}", json!(mcp_bin())),
        format!(
            "mcp_servers.log.args={}",
            json!(["--log", codex_home.join("mcp.jsonl").display().to_string()])
        ),
        // Wait for the server: without it a server slower than ~1 s is silently absent.
        "mcp_servers.log.required=true".to_string(),
    ] {
        a.push("-c".into());
        a.push(c);
    }
    if let Some(id) = resume {
        a.push(id.into());
    }
    a.push("-".into()); // the prompt comes from stdin
    (a, env)
}

fn codex_thread_id(r: &ClientRun) -> String {
    let events = r.events();
    assert_eq!(events[0]["type"], "thread.started", "{}", r.describe());
    events[0]["thread_id"].as_str().unwrap().to_string()
}

fn codex_final_message(r: &ClientRun) -> String {
    r.events()
        .iter()
        .rfind(|e| e["type"] == "item.completed" && e["item"]["type"] == "agent_message")
        .map(|e| e["item"]["text"].as_str().unwrap().to_string())
        .unwrap_or_default()
}

#[test]
fn codex_runs_scripted_steps_and_resumes_with_history() {
    let Clients { codex, .. } = clients::ensure_installed();
    let base = scratch();
    let ws = workspace();
    let codex_home = base.path().join("codex-home");
    let mock = MockServer::start_json(base.path(), &script());

    let (args, env) = codex_exec_args(&mock, &codex_home, None);
    let r = run(&codex, &args, &env, ws.path(), &primary_prompt(ws.path()));
    eprintln!("codex attempt: {:.2}s", r.elapsed.as_secs_f64());
    assert_eq!(r.code, Some(0), "{}", r.describe());
    let thread_id = codex_thread_id(&r);
    let events = r.events();
    assert!(events.iter().any(|e| e["type"] == "turn.completed"));
    let commands: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "item.completed" && e["item"]["type"] == "command_execution")
        .collect();
    assert_eq!(commands.len(), 2, "{}", r.describe());
    assert_eq!(commands[0]["item"]["exit_code"], 0);
    let mcp_item = events
        .iter()
        .find(|e| e["type"] == "item.completed" && e["item"]["type"] == "mcp_tool_call")
        .unwrap_or_else(|| panic!("no mcp_tool_call: {}", r.describe()));
    assert_eq!(mcp_item["item"]["server"], "log");
    assert_eq!(mcp_item["item"]["tool"], "record");
    assert_eq!(mcp_item["item"]["status"], "completed");
    assert_eq!(codex_final_message(&r), "Done.");
    assert_attempt_files(ws.path());
    assert_eq!(read_jsonl(&codex_home.join("mcp.jsonl")).len(), 1);

    let (args, env) = codex_exec_args(&mock, &codex_home, Some(&thread_id));
    let r = run(&codex, &args, &env, ws.path(), &reflect_prompt(ws.path()));
    eprintln!("codex resume: {:.2}s", r.elapsed.as_secs_f64());
    assert_eq!(r.code, Some(0), "{}", r.describe());
    assert_eq!(codex_thread_id(&r), thread_id);
    assert_eq!(codex_final_message(&r), "Reflected.");
    assert!(ws.path().join("reflection.txt").is_file());
    assert_resume_saw_history(&mock);

    for req in mock.model_requests() {
        assert_eq!(req["api"], "responses");
        assert_eq!(req["mode"], "direct");
        assert_eq!(req["model"], "mock-model");
        assert_eq!(req["headers"]["thread-id"], thread_id.as_str());
        assert_eq!(req["headers"]["authorization"], true);
    }
    let refused = mock.refused_requests();
    assert!(refused.is_empty(), "stray traffic: {refused:?}");
}

/// With a model slug Codex knows (its default), it uses "code mode": tools are JavaScript calls
/// inside one `exec` tool. The mock answers with `custom_tool_call exec`.
#[test]
fn codex_code_mode_runs_the_same_steps() {
    let Clients { codex, .. } = clients::ensure_installed();
    let base = scratch();
    let ws = workspace();
    let codex_home = base.path().join("codex-home");
    let mock = MockServer::start_json(base.path(), &script());
    let (mut args, env) = codex_exec_args(&mock, &codex_home, None);
    let m = args.iter().position(|a| a == "-m").unwrap();
    args[m + 1] = "gpt-6.1-sol".into();
    let r = run(&codex, &args, &env, ws.path(), &primary_prompt(ws.path()));
    eprintln!("codex code mode: {:.2}s", r.elapsed.as_secs_f64());
    assert_eq!(r.code, Some(0), "{}", r.describe());
    assert_eq!(codex_final_message(&r), "Done.");
    assert_attempt_files(ws.path());
    let reqs = mock.model_requests();
    assert!(reqs.iter().all(|q| q["mode"] == "code"), "{reqs:?}");
    assert_eq!(read_jsonl(&codex_home.join("mcp.jsonl")).len(), 1);
    // The --json stream still shows ordinary items.
    let events = r.events();
    assert!(events
        .iter()
        .any(|e| e["item"]["type"] == "command_execution"));
    assert!(events.iter().any(|e| e["item"]["type"] == "mcp_tool_call"));
}

fn auth_script(dir: &Path) -> PathBuf {
    let p = dir.join("auth.json");
    std::fs::write(&p, json!({"auth_status": 401, "rules": []}).to_string()).unwrap();
    p
}

#[test]
fn claude_fails_fast_on_401() {
    let Clients { claude, .. } = clients::ensure_installed();
    let base = scratch();
    let ws = workspace();
    let home = base.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let mock = MockServer::start(&auth_script(base.path()));
    let args: Vec<String> = ["-p", "--output-format", "stream-json", "--verbose"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let r = run(
        &claude,
        &args,
        &mock.env_for_claude(&home),
        ws.path(),
        "say hi\n",
    );
    eprintln!("claude 401: {:.2}s", r.elapsed.as_secs_f64());
    assert_eq!(r.code, Some(1), "{}", r.describe());
    assert!(r.elapsed < Duration::from_secs(30), "{}", r.describe());
    let result = claude_result(&r);
    assert_eq!(result["is_error"], true);
    assert_eq!(result["api_error_status"], 401);
    assert!(
        result["result"].as_str().unwrap().contains("401"),
        "{result}"
    );
    let reqs = mock.model_requests();
    // CLAUDE_CODE_MAX_RETRIES=2: the first try and two retries.
    assert_eq!(reqs.len(), 3, "{reqs:?}");
    assert!(reqs.iter().all(|q| q["status"] == 401));
}

#[test]
fn codex_fails_on_401_after_its_retries() {
    let Clients { codex, .. } = clients::ensure_installed();
    let base = scratch();
    let ws = workspace();
    let mock = MockServer::start(&auth_script(base.path()));
    let (overrides, env) = mock.codex_args_and_env(&base.path().join("codex-home"));
    let mut args: Vec<String> = ["exec", "--json", "--skip-git-repo-check"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(overrides);
    let r = run(&codex, &args, &env, ws.path(), "say hi\n");
    eprintln!("codex 401: {:.2}s", r.elapsed.as_secs_f64());
    assert_eq!(r.code, Some(1), "{}", r.describe());
    assert!(r.elapsed < Duration::from_secs(30), "{}", r.describe());
    let failed = r
        .events()
        .into_iter()
        .find(|e| e["type"] == "turn.failed")
        .unwrap_or_else(|| panic!("no turn.failed: {}", r.describe()));
    let msg = failed["error"]["message"].as_str().unwrap();
    assert!(msg.contains("401 Unauthorized"), "{msg}");
    // The first try and five retries.
    assert_eq!(mock.model_requests().len(), 6);
}
