//! Activation scenarios of the original's `tests/test_activation.py` (spec/harness.md §8), with
//! real Python MCP servers in both framings, plus what activation adds: per-artifact verdicts,
//! the proxy wiring, the helper, and namespaced, tracked skill links.

#[path = "fixtures/harness_support.rs"]
mod support;

use serde_json::json;
use std::fs;
use std::path::Path;
use support::*;

#[test]
fn activates_skill_symlink_and_project_mcp_config() {
    let d = workspace();
    let ws = d.path();
    let skill = add_skill(ws, "probe-skill");
    let mut m = manifest("cpu_attention", &[], &[]);
    m["timeouts"] = json!({"startup_seconds": 11, "tool_seconds": 77, "self_test_seconds": 33});
    m["self_test"] = json!({"command": "python3", "args": ["server.py", "--self-test"]});
    m["enabled_tools"] = json!(["probe"]);
    let manifest_path = add_server(ws, "cpu_attention", m);
    // Registered twice each: the file and its directory / the manifest and the server file.
    let reg = registry(
        ws,
        &[
            ("skill", &skill),
            ("skill", ".harnessgym/skills/probe-skill"),
            ("mcp", &manifest_path),
            ("mcp", ".harnessgym/mcp/cpu_attention/server.py"),
        ],
    );
    let report = activate(ws, &reg);

    let skills = report["skills"].as_array().unwrap();
    assert_eq!(skills.len(), 1, "{report:#}");
    for (key, dir) in [
        ("codex_activated_path", ".agents/skills"),
        ("claude_activated_path", ".claude/skills"),
    ] {
        let link = ws.join(dir).join("hg-probe-skill");
        assert_eq!(skills[0][key], json!(link.to_string_lossy()));
        assert!(link.join("SKILL.md").is_file(), "{key} reaches SKILL.md");
        let text = fs::read_link(&link).unwrap();
        assert!(text.is_relative(), "links are relative: {}", text.display());
    }
    assert_eq!(
        verdict(&report, ".harnessgym/skills/probe-skill")["status"],
        "duplicate"
    );

    let servers = report["mcp_servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "one server for two entries: {report:#}");
    let s = &servers[0];
    assert_eq!(s["active"], true, "{s:#}");
    assert_eq!(
        (
            &s["startup_timeout_sec"],
            &s["tool_timeout_sec"],
            &s["self_test_timeout_sec"]
        ),
        (&json!(11), &json!(77), &json!(33))
    );
    assert_eq!(s["self_test"]["status"], "passed");
    assert_eq!(s["smoke"]["status"], "passed");
    assert_eq!(s["framing"], "content-length");
    assert_eq!(s["enabled_tools"], json!(["probe"]));
    assert_eq!(
        verdict(&report, ".harnessgym/mcp/cpu_attention/server.py")["same_as"],
        manifest_path
    );
    assert_eq!(report["quality_gate"]["status"], "passed", "{report:#}");
    assert_eq!(report["quality_gate"]["active_tool_count"], 1);

    let helper = &report["mcp_call_helper"];
    assert_eq!(helper["relative_path"], ".harnessgym/runtime/mcp_call.py");
    assert!(ws.join(".harnessgym/runtime/mcp_call.py").is_file());

    let config = fs::read_to_string(ws.join(".codex/config.toml")).unwrap();
    for needle in [
        "[mcp_servers.cpu_attention]",
        "command = \"/opt/harnessgym/bin/harnessgym\"",
        "\"mcp-proxy\", \"--server-name\", \"cpu_attention\"",
        "\"--response-timeout\", \"77\"",
        "\"--framing\", \"content-length\"",
        "\"--\", \"python3\", \"server.py\"]",
        "tool_timeout_sec = 82",
        "enabled_tools = [\"probe\"]",
    ] {
        assert!(config.contains(needle), "{needle} in\n{config}");
    }
    let telemetry = format!(
        "\"--telemetry\", \"{}\"",
        ws.join(".harnessgym/mcp_calls.jsonl").display()
    );
    assert!(config.contains(&telemetry), "{config}");
    let on_disk = read_json(&ws.join(".harnessgym/activation.json"));
    assert_eq!(on_disk, report);
}

#[test]
fn ndjson_servers_are_detected_and_wired_with_their_framing() {
    let d = workspace();
    let ws = d.path();
    let path = add_server(
        ws,
        "lines",
        manifest("lines", &["--framing", "ndjson"], &[]),
    );
    let report = activate(ws, &registry(ws, &[("mcp", &path)]));
    let s = server(&report, "lines");
    assert_eq!(s["active"], true, "{s:#}");
    assert_eq!(s["framing"], "ndjson");
    let config = fs::read_to_string(ws.join(".codex/config.toml")).unwrap();
    assert!(config.contains("\"--framing\", \"ndjson\""), "{config}");
}

#[test]
fn rewrites_copied_repo_local_mcp_absolute_cwd() {
    let d = workspace();
    let ws = d.path();
    let mut m = manifest("copied", &[], &[]);
    m["args"] = json!([".harnessgym/mcp/copied/server.py"]);
    m["cwd"] = json!("/home/someone/else/checkout");
    m.as_object_mut().unwrap().remove("self_test");
    let path = add_server(ws, "copied", m);
    let report = activate(ws, &registry(ws, &[("mcp", &path)]));
    let s = server(&report, "copied");
    assert_eq!(s["cwd"], json!(ws.to_string_lossy()));
    assert_eq!(s["smoke"]["status"], "passed", "{s:#}");
    assert_eq!(s["self_test"]["status"], "not_configured");
    assert_eq!(s["active"], false);
    assert_eq!(report["quality_gate"]["status"], "failed");
    assert_eq!(report["quality_gate"]["inactive_mcp_count"], 1);
    assert!(
        !ws.join(".codex/config.toml").exists(),
        "no active server, no config"
    );
    assert!(report.get("mcp_call_helper").is_none());
}

#[test]
fn rewrites_self_test_cwd_and_parses_millisecond_timeouts() {
    let d = workspace();
    let ws = d.path();
    let m = json!({
        "name": "ms", "command": "python3", "args": [".harnessgym/mcp/ms/server.py"],
        "timeouts": {"startup_ms": 5000, "tool_call_ms": 120000, "self_test_ms": 45000},
        "self_test": {"command": ["python3", ".harnessgym/mcp/ms/server.py", "--self-test"],
                      "cwd": "/somewhere/else"},
    });
    let path = add_server(ws, "ms", m);
    let report = activate(ws, &registry(ws, &[("mcp", &path)]));
    let s = server(&report, "ms");
    assert_eq!(
        (
            &s["startup_timeout_sec"],
            &s["tool_timeout_sec"],
            &s["self_test_timeout_sec"]
        ),
        (&json!(5), &json!(120), &json!(45))
    );
    assert_eq!(s["self_test"]["cwd"], json!(ws.to_string_lossy()));
    assert_eq!(s["active"], true, "{s:#}");
    let config = fs::read_to_string(ws.join(".codex/config.toml")).unwrap();
    assert!(
        config.contains(&format!("cwd = \"{}\"", ws.display())),
        "{config}"
    );
}

#[test]
fn preexisting_real_directory_at_the_link_path_is_kept_and_reported() {
    let d = workspace();
    let ws = d.path();
    let skill = add_skill(ws, "mine");
    let user_dir = ws.join(".agents/skills/hg-mine");
    fs::create_dir_all(&user_dir).unwrap();
    fs::write(user_dir.join("notes.md"), "user data").unwrap();
    let report = activate(ws, &registry(ws, &[("skill", &skill)]));
    assert_eq!(
        fs::read_to_string(user_dir.join("notes.md")).unwrap(),
        "user data"
    );
    assert!(!fs::symlink_metadata(&user_dir)
        .unwrap()
        .file_type()
        .is_symlink());
    let row = &report["skills"][0];
    assert_eq!(row["codex_activated_path"], serde_json::Value::Null);
    assert!(row["link_errors"][0]
        .as_str()
        .unwrap()
        .contains("left untouched"));
    assert!(ws.join(".claude/skills/hg-mine/SKILL.md").is_file());
    assert_eq!(
        report["quality_gate"]["status"], "failed",
        "the report says so"
    );
}

#[test]
fn stale_link_pointing_elsewhere_is_replaced() {
    let d = workspace();
    let ws = d.path();
    let skill = add_skill(ws, "s");
    fs::create_dir_all(ws.join(".agents/skills")).unwrap();
    std::os::unix::fs::symlink("/nowhere", ws.join(".agents/skills/hg-s")).unwrap();
    activate(ws, &registry(ws, &[("skill", &skill)]));
    assert!(ws.join(".agents/skills/hg-s/SKILL.md").is_file());
}

#[test]
fn replace_symlink_replaces_stale_real_file() {
    let d = workspace();
    let ws = d.path();
    let skill = add_skill(ws, "f");
    fs::create_dir_all(ws.join(".claude/skills")).unwrap();
    fs::write(ws.join(".claude/skills/hg-f"), "stale").unwrap();
    let report = activate(ws, &registry(ws, &[("skill", &skill)]));
    assert!(ws.join(".claude/skills/hg-f/SKILL.md").is_file());
    assert_eq!(report["quality_gate"]["status"], "passed", "{report:#}");
}

#[test]
fn smoke_mcp_server_uses_configured_startup_timeout() {
    let d = workspace();
    let ws = d.path();
    let mut m = manifest("slow_start", &["--init-delay", "2"], &[]);
    m["timeouts"] = json!({"startup_seconds": 10, "tool_seconds": 5});
    let path = add_server(ws, "slow_start", m);
    let report = activate(ws, &registry(ws, &[("mcp", &path)]));
    assert_eq!(server(&report, "slow_start")["active"], true, "{report:#}");
}

#[test]
fn smoke_mcp_server_uses_tool_timeout_for_tools_list() {
    let d = workspace();
    let ws = d.path();
    let mut m = manifest("slow_list", &["--list-delay", "2", "--tools", "probe"], &[]);
    m["timeouts"] = json!({"startup_seconds": 1, "tool_seconds": 5});
    let path = add_server(ws, "slow_list", m);
    let report = activate(ws, &registry(ws, &[("mcp", &path)]));
    let s = server(&report, "slow_list");
    assert_eq!(s["active"], true, "{s:#}");
    assert_eq!(s["smoke"]["tools"], json!(["probe"]));
}

#[test]
fn helper_runs_mcp_call_for_its_own_workspace_from_anywhere() {
    let d = workspace();
    let ws = d.path();
    let path = add_server(ws, "h", manifest("h", &[], &[]));
    // A stand-in binary that prints the arguments it was given.
    let bin = ws.join("fake-harnessgym");
    fs::write(
        &bin,
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
    let checks = checks().with_bin(&bin);
    let report = harnessgym_core::harness::activation::activate(
        ws,
        &registry(ws, &[("mcp", &path)]),
        &checks,
    )
    .unwrap();
    assert!(report["mcp_call_helper"].is_object());
    let sub = ws.join("src/deep");
    fs::create_dir_all(&sub).unwrap();
    let out = std::process::Command::new("python3")
        .arg(ws.join(".harnessgym/runtime/mcp_call.py"))
        .args(["--server", "h", "--list-tools"])
        .current_dir(&sub)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let argv: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    let real_ws = ws.canonicalize().unwrap();
    assert_eq!(
        argv,
        [
            "mcp-call",
            "--workspace",
            &real_ws.to_string_lossy(),
            "--server",
            "h",
            "--list-tools"
        ]
    );
    // With no active server the helper HarnessGym wrote is removed.
    fs::remove_dir_all(ws.join(".harnessgym/mcp/h")).unwrap();
    let mut reg = registry(ws, &[]);
    reg.sync_from_files(ws, None).unwrap();
    let report = harnessgym_core::harness::activation::activate(ws, &reg, &checks).unwrap();
    assert!(report.get("mcp_call_helper").is_none());
    assert!(!ws.join(".harnessgym/runtime/mcp_call.py").exists());
}

#[test]
fn non_mcp_kinds_are_present_and_quarantined_ones_listed() {
    let d = workspace();
    let ws = d.path();
    fs::write(ws.join(".harnessgym/tools/t.py"), "print(1)\n").unwrap();
    let mut reg = registry(ws, &[("tool", ".harnessgym/tools/t.py")]);
    let skill = add_skill(ws, "q");
    let mut a = harnessgym_core::harness::registry::Artifact::new("skill", &skill, "", Some(1));
    a.metadata.insert("quarantined".into(), json!(true));
    reg.upsert(a);
    let report = activate(ws, &reg);
    assert_eq!(
        verdict(&report, ".harnessgym/tools/t.py")["status"],
        "present"
    );
    assert_eq!(verdict(&report, &skill)["status"], "quarantined");
    assert_eq!(
        report["quarantined_artifacts"],
        json!([{"kind": "skill", "path": skill}])
    );
    assert!(!Path::new(&ws.join(".agents/skills/hg-q")).exists());
    assert_eq!(report["quality_gate"]["status"], "passed");
}
