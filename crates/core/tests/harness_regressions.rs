//! One regression test per defect of spec/harness.md §10 that belongs to activation,
//! qualification and the agents' MCP wiring, named `r<item>_…`. (§10.1 compare, §10.3/§10.6/§10.8
//! the proxy itself, §10.19–21 runners and compare are covered where that code lives; §10.10,
//! §10.12 and §10.14 are in harness_safety.rs, §10.15 and §10.16 in harness_qualification.rs.)

#[path = "fixtures/harness_support.rs"]
mod support;

use harnessgym_core::cancel::CancelToken;
use harnessgym_core::config::{RunConfig, RunValues};
use harnessgym_core::harness::activation::content_hash;
use harnessgym_core::harness::registry::{Artifact, Registry};
use harnessgym_core::runner::agent_cli::AgentCli;
use harnessgym_core::runner::claude::ClaudeRunner;
use harnessgym_core::runner::codex::CodexRunner;
use harnessgym_core::runner::{Phase, PhaseContext};
use serde_json::{json, Value};
use std::fs;
use std::path::Path;
use std::time::Duration;
use support::*;

/// A workspace whose activation.json has one active server with a cwd below the workspace and
/// arguments relative to that cwd (the H100 bundle's shape).
fn h100_like() -> tempfile::TempDir {
    let d = workspace();
    let ws = d.path();
    let mut m = manifest("h100", &["--workspace", "../../.."], &[]);
    m["env"] = json!({"KERNEL_MODE": "dev"});
    let path = add_server(ws, "h100", m);
    let report = activate(ws, &registry(ws, &[("mcp", &path)]));
    assert_eq!(server(&report, "h100")["active"], true, "{report:#}");
    d
}

fn config(ws: &Path, runner: &str) -> RunConfig {
    RunConfig::from_values(
        RunValues {
            workspace: ws.to_path_buf(),
            task_text: Some("t".into()),
            runner: runner.into(),
            ..RunValues::default()
        },
        ws,
    )
    .unwrap()
}

fn args_of(cli: &dyn AgentCli, ws: &Path, cfg: &RunConfig, phase: Phase, dir: &str) -> Vec<String> {
    let registry = Registry::default();
    let cancel = CancelToken::new();
    let result = ws.join("result.json");
    let ctx = PhaseContext {
        config: cfg,
        run_id: "RUN-1",
        iteration: 2,
        workspace: ws,
        phase_dir: ws.join(dir),
        result_path: &result,
        registry: &registry,
        timeout: Duration::from_secs(5),
        cancel: &cancel,
    };
    cli.args(&ctx, phase, Some("sid"))
        .unwrap()
        .into_iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

fn expected_proxy(ws: &Path, phase: &str) -> Vec<String> {
    let cwd = ws.join(".harnessgym/mcp/h100");
    [
        "mcp-proxy",
        "--server-name",
        "h100",
        "--telemetry",
        &ws.join(".harnessgym/mcp_calls.jsonl").to_string_lossy(),
        "--run",
        "RUN-1",
        "--iteration",
        "2",
        "--phase",
        phase,
        "--framing",
        "content-length",
        "--response-timeout",
        "30",
        "--cwd",
        &cwd.to_string_lossy(),
        "--",
        "python3",
        "server.py",
        "--workspace",
        "../../..",
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn r02_claude_config_passes_args_verbatim_and_enters_the_server_cwd() {
    let d = h100_like();
    let ws = d.path();
    let cfg = config(ws, "claude");
    let args = args_of(&ClaudeRunner::new(&cfg), ws, &cfg, Phase::Attempt, "it");
    assert!(
        args.contains(&"--allowedTools=mcp__h100".to_string()),
        "{args:?}"
    );
    let config = read_json(&ws.join(".harnessgym/claude_mcp_config.json"));
    let entry = &config["mcpServers"]["h100"];
    assert_eq!(
        entry["command"],
        json!(std::env::current_exe().unwrap().to_string_lossy())
    );
    assert_eq!(entry["args"], json!(expected_proxy(ws, "attempt")));
    assert_eq!(entry["alwaysLoad"], true);
    assert_eq!(entry["type"], "stdio");
    assert_eq!(entry["env"], json!({"KERNEL_MODE": "dev"}));
}

#[test]
fn r04_r05_codex_overrides_log_to_the_workspace_per_run_iteration_and_phase() {
    let d = h100_like();
    let ws = d.path();
    let cfg = config(ws, "exec");
    let args = args_of(
        &CodexRunner::new("codex", &[]),
        ws,
        &cfg,
        Phase::Build,
        "it/repair_1",
    );
    let overrides: Vec<&String> = args
        .iter()
        .filter(|a| a.starts_with("mcp_servers.h100."))
        .collect();
    let get = |k: &str| {
        overrides
            .iter()
            .find_map(|o| o.strip_prefix(&format!("mcp_servers.h100.{k}=")))
            .unwrap_or_else(|| panic!("no {k} in {overrides:?}"))
            .to_string()
    };
    let proxy: Vec<String> = serde_json::from_str(&get("args")).unwrap();
    assert_eq!(proxy, expected_proxy(ws, "repair_1"));
    assert_eq!(
        get("command"),
        json!(std::env::current_exe().unwrap().to_string_lossy()).to_string()
    );
    assert_eq!(get("required"), "true");
    assert_eq!(get("default_tools_approval_mode"), "\"approve\"");
    assert_eq!(get("tool_timeout_sec"), "35");
    assert_eq!(get("env"), "{ KERNEL_MODE = \"dev\" }");
    let config = fs::read_to_string(ws.join(".codex/config.toml")).unwrap();
    assert!(
        config.contains(&format!(
            "\"--telemetry\", \"{}\"",
            ws.join(".harnessgym/mcp_calls.jsonl").display()
        )),
        "the static block logs to the workspace too, not under the server's cwd"
    );
}

#[test]
fn r07_a_server_flooding_stderr_before_answering_still_passes_the_smoke() {
    let d = workspace();
    let ws = d.path();
    let path = add_server(
        ws,
        "noisy",
        manifest("noisy", &["--stderr-bytes", "1048576"], &[]),
    );
    let report = activate(ws, &registry(ws, &[("mcp", &path)]));
    assert_eq!(server(&report, "noisy")["active"], true, "{report:#}");
}

#[test]
fn r09_smoke_rejects_errors_and_tools_are_what_the_server_offers() {
    let d = workspace();
    let ws = d.path();
    let broken = add_server(ws, "broken", manifest("broken", &["--list-error"], &[]));
    let mut m = manifest("partial", &["--notify-first"], &[]);
    m["enabled_tools"] = json!(["probe", "ghost"]);
    let partial = add_server(ws, "partial", m);
    let mut m = manifest("imaginary", &[], &[]);
    m["enabled_tools"] = json!(["ghost"]);
    let imaginary = add_server(ws, "imaginary", m);
    let report = activate(
        ws,
        &registry(
            ws,
            &[("mcp", &broken), ("mcp", &partial), ("mcp", &imaginary)],
        ),
    );
    let b = server(&report, "broken");
    assert_eq!(b["active"], false);
    assert_ne!(
        b["smoke"]["status"], "passed",
        "an error reply is not a tool list"
    );

    let p = server(&report, "partial");
    assert_eq!(
        p["active"], true,
        "notifications before replies are fine: {p:#}"
    );
    assert_eq!(p["enabled_tools"], json!(["probe"]));
    assert_eq!(p["declared_tools"], json!(["probe", "ghost"]));
    assert_eq!(p["quality_gate"]["missing_tools"], json!(["ghost"]));

    let i = server(&report, "imaginary");
    assert_eq!(i["active"], false);
    assert_eq!(i["quality_gate"]["checks"]["tool_inventory"], false);
    assert_eq!(
        report["quality_gate"]["active_tool_count"], 1,
        "declared tools the server lacks are not counted"
    );
}

#[test]
fn r11_a_qualified_unchanged_server_is_not_self_tested_again() {
    let d = workspace();
    let ws = d.path();
    let marker = ws.join("runs.txt");
    let path = add_server(
        ws,
        "cached",
        manifest("cached", &[], &["--marker", marker.to_str().unwrap()]),
    );
    let mut reg = registry(ws, &[("mcp", &path)]);
    let hash = content_hash(ws, &reg.artifacts[0]);
    reg.artifacts[0].metadata.insert(
        "qualification".into(),
        json!({"status": "passed", "content_hash": hash, "checks": {"self_test": true},
               "report_path": "q.json"}),
    );
    let report = activate(ws, &reg);
    let s = server(&report, "cached");
    assert_eq!(s["active"], true);
    assert_eq!(s["self_test"]["cached"], true);
    assert!(!marker.exists(), "the self-test did not run");
    // Any change to the server's files runs it again.
    fs::write(ws.join(".harnessgym/mcp/cached/extra.py"), "x = 1\n").unwrap();
    let report = activate(ws, &reg);
    assert!(server(&report, "cached")["self_test"]
        .get("cached")
        .is_none());
    assert_eq!(fs::read_to_string(&marker).unwrap().lines().count(), 1);
}

#[test]
fn r13_config_strings_stay_valid_toml_with_astral_and_control_characters() {
    let d = workspace();
    let ws = d.path();
    let path = add_server(ws, "crab", manifest("crab", &["--label", "🦀\u{7f}"], &[]));
    activate(ws, &registry(ws, &[("mcp", &path)]));
    let config = fs::read_to_string(ws.join(".codex/config.toml")).unwrap();
    assert!(config.contains("\"🦀\\u007F\""), "{config}");
    assert!(!config.contains("\\ud83e"), "no JSON surrogate escapes");
}

#[test]
fn r17_duplicate_server_names_are_reported_not_silently_dropped() {
    let d = workspace();
    let ws = d.path();
    let mut m = manifest("dup", &[], &[]);
    m["cwd"] = json!(".harnessgym/mcp/one");
    let one = add_server(ws, "one", m);
    let mut m = manifest("dup", &[], &[]);
    m["cwd"] = json!(".harnessgym/mcp/two");
    let two = add_server(ws, "two", m);
    let report = activate(ws, &registry(ws, &[("mcp", &one), ("mcp", &two)]));
    let rows = report["mcp_servers"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["active"], true);
    assert_eq!(rows[1]["active"], false);
    assert!(verdict(&report, &two)["reason"]
        .as_str()
        .unwrap()
        .contains("duplicate server name dup"));
    assert!(report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().contains("duplicate server name dup")));
}

#[test]
fn r17_invalid_manifests_say_precisely_what_is_wrong() {
    let d = workspace();
    let ws = d.path();
    let mut m = manifest("str_args", &[], &[]);
    m["args"] = json!("server.py --fast");
    let path = add_server(ws, "str_args", m);
    let report = activate(ws, &registry(ws, &[("mcp", &path)]));
    let reason = verdict(&report, &path)["reason"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        reason.contains("args must be a list of strings, not the string"),
        "{reason}"
    );
}

#[test]
fn r23_sync_skips_hidden_and_editor_files_and_works_under_odd_parents() {
    let parent = tempfile::tempdir().unwrap();
    let ws = parent.path().join("__pycache__").join(".ws");
    fs::create_dir_all(ws.join(".harnessgym/tools/.cache")).unwrap();
    for f in [
        "probe.py",
        ".probe.py.swp",
        "probe.py~",
        "#probe.py#",
        ".DS_Store",
        ".cache/x.py",
    ] {
        fs::write(ws.join(".harnessgym/tools").join(f), "x").unwrap();
    }
    let mut reg = Registry::default();
    reg.sync_from_files(&ws, None).unwrap();
    let paths: Vec<&str> = reg.artifacts.iter().map(|a| a.path.as_str()).collect();
    assert_eq!(paths, [".harnessgym/tools/probe.py"]);
}

#[test]
fn r15_missing_registered_files_are_pruned_before_they_can_fail_a_gate() {
    let d = workspace();
    let ws = d.path();
    let mut reg = Registry::default();
    reg.upsert(Artifact::new(
        "skill",
        ".harnessgym/skills/gone/SKILL.md",
        "",
        Some(1),
    ));
    reg.sync_from_files(ws, None).unwrap();
    assert!(reg.artifacts.is_empty());
    let report = activate(ws, &reg);
    assert_eq!(report["quality_gate"]["status"], "passed");
    let _: &Value = &report;
}
