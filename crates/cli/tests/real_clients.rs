//! `harnessgym run` with the real Codex and Claude Code CLIs (from npm), offline: the model API
//! is the project's scripted mock on 127.0.0.1, and every proxy variable points at it so stray
//! traffic is refused and logged. Two full iterations each: attempt → reflection → build with
//! sessions resumed, phase files, statuses, and the mock's view of the history.

mod common;
use common::*;
use harnessgym_testkit::clients::ensure_installed;
use harnessgym_testkit::mock::MockServer;
use serde_json::{json, Value};
use std::fs;
use std::path::Path;
use std::time::Instant;

/// A python one-liner that merges `updates` into the result.json named in the prompt.
fn merge_result(updates: &str) -> String {
    format!(
        "python3 -c \"import json; p='{{result_path}}'; d=json.load(open(p)); d.update({updates}); json.dump(d, open(p, 'w'))\""
    )
}

/// The agent's script: the attempt runs a command and reports blocked; the reflection picks a
/// tool; the build writes it. Rules for resumed phases come first (their prompts embed result.json).
fn agent_script() -> Value {
    json!({"rules": [
        {"when_prompt_contains": "Based on the attempt you just performed", "steps": [
            {"shell": merge_result("reflection={'selected_improvement': {'kind': 'tool', 'name': 'probe', 'target_path': '.harnessgym/tools/probe.sh'}}")},
            {"text": "Selected the probe tool."}]},
        {"when_prompt_contains": "Build the single highest-leverage improvement", "steps": [
            {"shell": "mkdir -p .harnessgym/tools && printf 'echo probe\\n' > .harnessgym/tools/probe.sh"},
            {"shell": merge_result("status='tooling_built', tooling={'built': ['.harnessgym/tools/probe.sh']}")},
            {"text": "Built the probe."}]},
        {"when_prompt_contains": "Primary task", "steps": [
            {"shell": "echo ATTEMPT_MARKER >> {workspace}/attempts.log"},
            {"shell": merge_result("status='blocked', verified=False, summary='mock attempt blocked'")},
            {"text": "Blocked: needs a probe."}]},
        {"when_prompt_contains": "", "steps": [{"text": "ok"}]}
    ]})
}

fn assert_two_full_iterations(ws: &Path, mock: &MockServer) {
    let run = only_run(ws);
    for n in [1, 2] {
        let it = iteration(&run, n);
        for phase in ["attempt", "reflection", "build"] {
            for what in ["prompt", "stdout", "stderr", "transcript"] {
                assert!(
                    it.join(format!("{phase}.{what}.txt")).is_file(),
                    "iteration {n}: {phase}.{what}.txt"
                );
            }
        }
        let r = read_json(&it.join("result.json"));
        for phase in ["attempt", "reflection", "build"] {
            assert_eq!(
                r["phases"][phase]["status"], "completed",
                "iteration {n} {phase}: {}",
                r["phases"][phase]
            );
        }
        let session = r["phases"]["attempt"]["session_id"]
            .as_str()
            .expect("a session id")
            .to_string();
        assert_eq!(
            r["phases"]["reflection"]["session_id"], session,
            "reflection resumed the attempt's session"
        );
        assert_eq!(
            r["phases"]["build"]["session_id"], session,
            "build resumed the same session"
        );
        assert_eq!(r["status"], "tooling_built");
        assert_eq!(r["reflection"]["selected_improvement"]["name"], "probe");
        let transcript = fs::read_to_string(it.join("attempt.transcript.txt")).unwrap();
        assert!(
            transcript.contains("ATTEMPT_MARKER"),
            "the transcript shows the command: {transcript}"
        );
    }
    assert_eq!(
        fs::read_to_string(ws.join("attempts.log")).unwrap(),
        "ATTEMPT_MARKER\nATTEMPT_MARKER\n"
    );
    let registry = read_json(&ws.join(".harnessgym/registry.json"));
    assert_eq!(
        registry["artifacts"][0]["path"],
        ".harnessgym/tools/probe.sh"
    );
    let prompt2 = fs::read_to_string(iteration(&run, 2).join("attempt.prompt.txt")).unwrap();
    assert!(
        prompt2.contains(".harnessgym/tools/probe.sh"),
        "iteration 2 sees the built tool"
    );

    // The resumed reflection request carried the attempt's history (its tool results).
    let requests = mock.model_requests();
    let reflection = requests
        .iter()
        .find(|r| {
            r["prompt"]
                .as_str()
                .is_some_and(|p| p.contains("Based on the attempt you just performed"))
        })
        .expect("a reflection request");
    let history: String = reflection["tool_results"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        history.contains("ATTEMPT_MARKER") || reflection["history_len"].as_u64().unwrap() > 2,
        "{reflection}"
    );
    assert!(
        mock.refused_requests().is_empty(),
        "stray traffic: {:?}",
        mock.refused_requests()
    );
}

#[test]
fn claude_code_runs_two_iterations_offline() {
    let clients = ensure_installed();
    let ws = example_workspace();
    let home = tempfile::tempdir().unwrap();
    let mock = MockServer::start_json(home.path(), &agent_script());
    let started = Instant::now();
    let out = run_real_client(
        ws.path(),
        "claude",
        &clients.claude,
        &mock.env_for_claude(home.path()),
        2,
        &[],
    );
    assert_eq!(
        code(&out),
        3,
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    assert_two_full_iterations(ws.path(), &mock);
    let r = read_json(&iteration(&only_run(ws.path()), 1).join("result.json"));
    let transcript =
        fs::read_to_string(iteration(&only_run(ws.path()), 1).join("attempt.transcript.txt"))
            .unwrap();
    assert!(
        transcript.contains("claude_subtype: success"),
        "{transcript}"
    );
    assert!(ws
        .path()
        .join(".harnessgym/claude_mcp_config.json")
        .is_file());
    eprintln!(
        "claude: 2 iterations in {:.1}s; attempt message: {}",
        started.elapsed().as_secs_f64(),
        r["phases"]["attempt"]["message"]
    );
}

#[test]
fn codex_exec_runs_two_iterations_offline() {
    let clients = ensure_installed();
    let ws = example_workspace();
    // CODEX_HOME must not be under /tmp (Codex's sandbox helpers refuse it).
    let home = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mock = MockServer::start_json(home.path(), &agent_script());
    let (args, env) = mock.codex_args_and_env(home.path());
    let mut extra: Vec<String> = args
        .into_iter()
        .map(|a| format!("--codex-extra-arg={a}"))
        .collect();
    extra.push("--codex-extra-arg=--dangerously-bypass-approvals-and-sandbox".into());
    let out = run_real_client(ws.path(), "exec", &clients.codex, &env, 2, &extra);
    assert_eq!(
        code(&out),
        3,
        "stdout: {}\nstderr: {}",
        stdout(&out),
        stderr(&out)
    );
    assert_two_full_iterations(ws.path(), &mock);
    let r = read_json(&iteration(&only_run(ws.path()), 1).join("result.json"));
    assert!(
        r["phases"]["attempt"]["session_id"].as_str().unwrap().len() >= 32,
        "the thread id from thread.started"
    );
}

#[test]
fn auth_errors_fail_the_phase_with_a_clear_message() {
    let clients = ensure_installed();
    let home = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mock = MockServer::start_json(home.path(), &json!({"auth_status": 401, "rules": []}));

    let ws = example_workspace();
    let out = run_real_client(
        ws.path(),
        "claude",
        &clients.claude,
        &mock.env_for_claude(home.path()),
        1,
        &[],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let r = read_json(&iteration(&only_run(ws.path()), 1).join("result.json"));
    assert_eq!(r["phases"]["attempt"]["status"], "failed");
    assert!(
        r["phases"]["attempt"]["message"]
            .as_str()
            .unwrap()
            .contains("401"),
        "{}",
        r["phases"]["attempt"]
    );

    let ws = example_workspace();
    let (args, env) = mock.codex_args_and_env(home.path());
    let extra: Vec<String> = args
        .into_iter()
        .map(|a| format!("--codex-extra-arg={a}"))
        .collect();
    let out = run_real_client(ws.path(), "exec", &clients.codex, &env, 1, &extra);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let r = read_json(&iteration(&only_run(ws.path()), 1).join("result.json"));
    assert_eq!(r["phases"]["attempt"]["status"], "failed");
    assert!(
        r["phases"]["attempt"]["message"]
            .as_str()
            .unwrap()
            .contains("401"),
        "{}",
        r["phases"]["attempt"]
    );
}

#[test]
fn a_hanging_model_hits_the_phase_deadline() {
    let clients = ensure_installed();
    let home = tempfile::tempdir().unwrap();
    let script = json!({"rules": [{"when_prompt_contains": "", "steps": [{"text": "late", "delay_ms": 60000}]}]});
    let mock = MockServer::start_json(home.path(), &script);
    let ws = example_workspace();
    let started = Instant::now();
    let mut cmd = bin();
    cmd.env_clear().envs(mock.env_for_claude(home.path()));
    let out = cmd
        .args([
            "run",
            "--runner",
            "claude",
            "--task",
            "task.md",
            "--iterations",
            "1",
            "--no-qualify-artifacts",
            "--attempt-timeout",
            "3s",
            "--build-timeout",
            "2s",
            "--claude-bin",
        ])
        .arg(&clients.claude)
        .current_dir(ws.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        started.elapsed().as_secs() < 40,
        "deadline kept: {:?}",
        started.elapsed()
    );
    let r = read_json(&iteration(&only_run(ws.path()), 1).join("result.json"));
    assert_eq!(r["phases"]["attempt"]["status"], "timeout");
    let err =
        fs::read_to_string(iteration(&only_run(ws.path()), 1).join("attempt.stderr.txt")).unwrap();
    assert!(err.contains("timed out"), "{err}");
}

#[test]
fn preflight_refuses_a_client_without_credentials() {
    let clients = ensure_installed();
    let ws = example_workspace();
    let home = tempfile::tempdir().unwrap();
    let env = [
        ("PATH", std::env::var("PATH").unwrap()),
        ("HOME", home.path().display().to_string()),
        ("IS_SANDBOX", "1".into()),
    ];
    let started = Instant::now();
    let out = bin()
        .env_clear()
        .envs(env.clone())
        .args([
            "run",
            "--runner",
            "claude",
            "--task",
            "task.md",
            "--claude-bin",
        ])
        .arg(&clients.claude)
        .current_dir(ws.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Claude Code has no usable credentials"),
        "{}",
        stderr(&out)
    );
    let out = bin()
        .env_clear()
        .envs(env)
        .env("CODEX_HOME", home.path())
        .args([
            "run",
            "--runner",
            "exec",
            "--task",
            "task.md",
            "--codex-bin",
        ])
        .arg(&clients.codex)
        .current_dir(ws.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Codex has no usable credentials"),
        "{}",
        stderr(&out)
    );
    assert!(
        started.elapsed().as_secs() < 30,
        "preflight is quick: {:?}",
        started.elapsed()
    );
    assert!(
        !ws.path().join(".harnessgym").exists(),
        "nothing was started"
    );
}
