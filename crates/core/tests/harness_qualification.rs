//! Qualification through the real loop (fake runner, real Python MCP servers): the scenarios of
//! the original's `tests/test_qualification.py` (spec/harness.md §8) with per-artifact verdicts
//! (§10.15, §10.16), and the registry scenarios of `tests/test_registry.py`.

#[path = "fixtures/harness_support.rs"]
mod support;

use harnessgym_core::cancel::CancelToken;
use harnessgym_core::config::{RunConfig, RunValues};
use harnessgym_core::orchestrator::{self, Quiet, RunOutcome, RunRequest};
use harnessgym_core::runner::fake::{FakeRunner, FakeScript};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};
use support::*;

/// Runs the loop with a fake-runner scenario and the real MCP checks.
fn run(ws: &Path, iterations: i64, repairs: i64, script: Value) -> RunOutcome {
    let script_dir = tempfile::tempdir().unwrap();
    let script_path = script_dir.path().join("script.json");
    fs::write(&script_path, script.to_string()).unwrap();
    let values = RunValues {
        workspace: ws.to_path_buf(),
        task: Some("task.md".into()),
        iterations,
        runner: "fake".into(),
        artifact_repair_attempts: repairs,
        fake_script: Some(script_path.clone()),
        ..RunValues::default()
    };
    let config = RunConfig::from_values(values, ws).unwrap();
    let runner = FakeRunner::new(Some(FakeScript::load(&script_path).unwrap()));
    orchestrator::run(RunRequest {
        config,
        runner: Box::new(runner),
        mcp: Box::new(checks()),
        cancel: CancelToken::new(),
        progress: &Quiet,
        resume: false,
    })
    .unwrap()
}

fn server_source() -> String {
    fs::read_to_string(fixture("mcp_server.py")).unwrap()
}

/// A fake-runner phase that writes a server (files only) and registers its manifest.
fn build_server(name: &str, self_test_args: &[&str]) -> Value {
    let m = manifest(name, &[], self_test_args);
    json!({
        "files": {format!(".harnessgym/mcp/{name}/server.py"): server_source()},
        "artifacts": [{"kind": "mcp", "path": format!(".harnessgym/mcp/{name}/mcp.json"),
                       "content": serde_json::to_string_pretty(&m).unwrap(),
                       "description": format!("{name} MCP server")}],
    })
}

fn skill_artifact(dir: &str) -> Value {
    json!({"kind": "skill", "path": format!(".harnessgym/skills/{dir}/SKILL.md"),
           "content": format!("---\nname: {dir}\ndescription: d\n---\nbody\n")})
}

/// Attempts and reflections do nothing (no demo), so only the scripted builds shape the harness.
fn quiet_phases() -> Value {
    json!({"attempt": {}, "reflection": {}, "build": {}})
}

fn merge(mut a: Value, b: Value) -> Value {
    for (k, v) in b.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

fn run_dir(outcome: &RunOutcome) -> PathBuf {
    outcome.run_dir.clone()
}

fn it(outcome: &RunOutcome, n: u32) -> PathBuf {
    run_dir(outcome).join("iterations").join(n.to_string())
}

fn artifact<'a>(registry: &'a Value, path: &str) -> &'a Value {
    registry["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["path"] == path)
        .unwrap_or_else(|| panic!("{path} not registered: {registry:#}"))
}

#[test]
fn failed_fresh_qualification_triggers_same_session_repair() {
    let d = workspace();
    let ws = d.path();
    let broken = build_server("fixme", &["--fail"]);
    let fixed = build_server("fixme", &[]);
    let script = json!({"iterations": {
        "1": {"attempt": {}, "reflection": {}, "build": broken, "repair": fixed},
    }});
    let out = run(ws, 1, 1, script);
    let it1 = it(&out, 1);
    assert!(it1.join("build.prompt.txt").is_file());
    assert!(
        it1.join("repair_1/build.prompt.txt").is_file(),
        "the repair ran"
    );
    let q1 = read_json(&it1.join("qualification/attempt_1/qualification.json"));
    assert_eq!(q1["status"], "failed");
    assert_eq!(
        q1["failed_artifacts"],
        json!([".harnessgym/mcp/fixme/mcp.json"])
    );
    let q2 = read_json(&it1.join("qualification/attempt_2/qualification.json"));
    assert_eq!(q2["status"], "passed", "{q2:#}");
    assert_eq!(
        q2["qualified_artifacts"],
        json!([".harnessgym/mcp/fixme/mcp.json"])
    );
    let registry = read_json(&ws.join(".harnessgym/registry.json"));
    let m = artifact(&registry, ".harnessgym/mcp/fixme/mcp.json");
    assert_eq!(m["metadata"]["qualification"]["status"], "passed");
    assert!(m["metadata"].get("quarantine").is_none());
    let post = read_json(&it1.join("post_build_activation.json"));
    assert_eq!(post["quality_gate"]["status"], "passed", "{post:#}");
    assert_eq!(post["quality_gate"]["active_tool_count"], 2);
    let result = read_json(&it1.join("result.json"));
    assert_eq!(result["artifact_qualification"]["status"], "passed");
    assert_eq!(result["harness_quality_gate"]["status"], "passed");
    let prompt = fs::read_to_string(it1.join("repair_1/build.prompt.txt")).unwrap();
    assert!(prompt.contains("self-test exited 1"), "the repair sees why");
}

#[test]
fn failed_qualification_quarantines_artifact_from_next_attempt_context() {
    let d = workspace();
    let ws = d.path();
    let marker = ws.join("self_test_runs.txt");
    let marker_arg = marker.to_string_lossy().into_owned();
    let script = json!({"iterations": {
        "1": merge(quiet_phases(), json!({"build": build_server("bad", &["--fail", "--marker", &marker_arg])})),
        "default": quiet_phases(),
    }});
    let out = run(ws, 3, 0, script);
    let path = ".harnessgym/mcp/bad/mcp.json";
    let registry = read_json(&ws.join(".harnessgym/registry.json"));
    let q = &artifact(&registry, path)["metadata"]["quarantine"];
    assert_eq!(q["status"], "quarantined");
    assert!(
        q["reason"].as_str().unwrap().contains("self-test exited 1"),
        "{q:#}"
    );
    assert!(q["content_hash"].is_string());

    let prompt = fs::read_to_string(it(&out, 2).join("attempt.prompt.txt")).unwrap();
    assert!(
        prompt.contains("1 quarantined artifact(s) are hidden from attempts"),
        "{prompt}"
    );
    assert!(!prompt.contains(&format!("- mcp: {path}")), "{prompt}");
    let act2 = read_json(&it(&out, 2).join("activation.json"));
    assert_eq!(verdict(&act2, path)["status"], "quarantined");
    assert!(act2["mcp_servers"].as_array().unwrap().is_empty());
    assert!(!ws.join(".codex/config.toml").exists());

    // Unchanged, it stays quarantined and is not run again by later qualifications (§10.15).
    let q2 = read_json(&it(&out, 2).join("qualification/attempt_1/qualification.json"));
    assert_eq!(q2["status"], "passed", "{q2:#}");
    assert_eq!(q2["still_quarantined_artifacts"], json!([path]));
    let runs = fs::read_to_string(&marker).unwrap().lines().count();
    assert_eq!(
        runs, 1,
        "the broken self-test ran once, in iteration 1's qualification"
    );
}

#[test]
fn a_bad_neighbour_never_quarantines_good_or_earlier_artifacts() {
    let d = workspace();
    let ws = d.path();
    let it1_build = merge(
        build_server("good", &[]),
        json!({"artifacts": [
            {"kind": "mcp", "path": ".harnessgym/mcp/good/mcp.json",
             "content": serde_json::to_string_pretty(&manifest("good", &[], &[])).unwrap()},
            skill_artifact("first")]}),
    );
    let it2_build = merge(
        build_server("bad", &["--fail"]),
        json!({"artifacts": [
            {"kind": "mcp", "path": ".harnessgym/mcp/bad/mcp.json",
             "content": serde_json::to_string_pretty(&manifest("bad", &[], &["--fail"])).unwrap()},
            skill_artifact("second"),
            {"kind": "tool", "path": ".harnessgym/tools/helper.py", "content": "print('hi')\n"}]}),
    );
    let script = json!({"iterations": {
        "1": merge(quiet_phases(), json!({"build": it1_build})),
        "2": merge(quiet_phases(), json!({"build": it2_build})),
        "default": quiet_phases(),
    }});
    let out = run(ws, 3, 0, script);
    let q = read_json(&it(&out, 2).join("qualification/attempt_1/qualification.json"));
    assert_eq!(q["status"], "failed");
    assert_eq!(
        q["failed_artifacts"],
        json!([".harnessgym/mcp/bad/mcp.json"])
    );
    assert_eq!(
        q["quarantined_artifacts"],
        json!([".harnessgym/mcp/bad/mcp.json"])
    );
    assert_eq!(
        q["qualified_artifacts"],
        json!([
            ".harnessgym/skills/second/SKILL.md",
            ".harnessgym/tools/helper.py"
        ]),
        "the good neighbours built alongside are qualified"
    );
    let unchanged = strings(&q["unchanged_artifacts"]);
    assert!(unchanged.contains(&".harnessgym/mcp/good/mcp.json".to_string()));

    let registry = read_json(&ws.join(".harnessgym/registry.json"));
    for good in [
        ".harnessgym/mcp/good/mcp.json",
        ".harnessgym/skills/first/SKILL.md",
        ".harnessgym/skills/second/SKILL.md",
        ".harnessgym/tools/helper.py",
    ] {
        let a = artifact(&registry, good);
        assert_eq!(
            a["metadata"]["qualification"]["status"], "passed",
            "{good}: {a:#}"
        );
        assert!(a["metadata"].get("quarantined").is_none(), "{good}");
    }
    // The next attempt sees the good server and both skills; the bad one is hidden.
    let act3 = read_json(&it(&out, 3).join("activation.json"));
    assert_eq!(server(&act3, "good")["active"], true);
    assert!(act3["mcp_servers"]
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["name"] != "bad"));
    assert!(ws.join(".agents/skills/hg-first/SKILL.md").is_file());
    assert!(ws.join(".agents/skills/hg-second/SKILL.md").is_file());
    // The good server's self-test passed in qualification with these files: not re-run.
    assert_eq!(server(&act3, "good")["self_test"]["cached"], true);
}

#[test]
fn failed_artifact_paths_name_only_what_failed_and_broken_skills_count() {
    let d = workspace();
    let ws = d.path();
    // A "skill" without SKILL.md, registered by the agent with a non-integer iteration (§10.16),
    // next to a good tool.
    let registry_raw = json!({"version": 1, "artifacts": [
        {"kind": "skill", "path": ".harnessgym/skills/empty/notes.md", "iteration": "1"},
        {"kind": "tool", "path": ".harnessgym/tools/ok.py"}]});
    let script = json!({"iterations": {
        "1": merge(quiet_phases(), json!({"build": {
            "files": {".harnessgym/skills/empty/notes.md": "no SKILL.md here\n",
                      ".harnessgym/tools/ok.py": "print(1)\n"},
            "registry_raw": registry_raw.to_string()}})),
    }});
    let out = run(ws, 1, 0, script);
    let q = read_json(&it(&out, 1).join("qualification/attempt_1/qualification.json"));
    assert_eq!(q["status"], "failed");
    assert_eq!(q["quality_gate"]["inactive_mcp_count"], 0);
    assert_eq!(
        q["failed_artifacts"],
        json!([".harnessgym/skills/empty/notes.md"])
    );
    let registry = read_json(&ws.join(".harnessgym/registry.json"));
    assert_eq!(
        artifact(&registry, ".harnessgym/skills/empty/notes.md")["metadata"]["quarantined"],
        true
    );
    let ok = artifact(&registry, ".harnessgym/tools/ok.py");
    assert_eq!(ok["metadata"]["qualification"]["status"], "passed");
}

#[test]
fn an_iteration_that_built_nothing_quarantines_nothing() {
    let d = workspace();
    let ws = d.path();
    let script = json!({"iterations": {"default": quiet_phases()}});
    let out = run(ws, 1, 0, script);
    let q = read_json(&it(&out, 1).join("qualification/attempt_1/qualification.json"));
    assert_eq!(q["status"], "passed");
    assert_eq!(q["failed_artifacts"], json!([]));
    assert_eq!(q["artifact_verdicts"], json!([]));
}

#[test]
fn registry_roundtrip_and_filesystem_sync() {
    use harnessgym_core::harness::registry::{Artifact, Registry};
    let d = workspace();
    let ws = d.path();
    let hg = ws.join(".harnessgym");
    fs::write(hg.join("tools/probe.py"), "x").unwrap();
    fs::write(hg.join("docs/notes.md"), "x").unwrap();
    fs::write(hg.join("tests/test_probe.py"), "x").unwrap();
    add_skill(ws, "s");
    fs::write(hg.join("skills/s/extra.md"), "not registered").unwrap();
    fs::create_dir_all(hg.join("mcp/m")).unwrap();
    fs::write(hg.join("mcp/m/mcp.json"), "{}").unwrap();
    fs::write(hg.join("mcp/m/server.py"), "not registered").unwrap();
    let mut reg = Registry::default();
    reg.upsert(Artifact::new(
        "tool",
        ".harnessgym/tools/probe.py",
        "A probe.",
        Some(1),
    ));
    reg.save(ws).unwrap();
    let mut loaded = Registry::load(ws).unwrap();
    assert_eq!(loaded.artifacts[0].description, "A probe.");
    loaded.sync_from_files(ws, Some(2)).unwrap();
    let ids: Vec<String> = Registry::load(ws)
        .unwrap()
        .artifacts
        .iter()
        .map(|a| a.id.clone())
        .collect();
    assert_eq!(
        ids,
        [
            "tool:.harnessgym/tools/probe.py",
            "skill:.harnessgym/skills/s/SKILL.md",
            "mcp:.harnessgym/mcp/m/mcp.json",
            "test:.harnessgym/tests/test_probe.py",
            "docs:.harnessgym/docs/notes.md",
        ]
    );
}

#[test]
fn registry_loads_codex_style_artifact_without_id() {
    use harnessgym_core::harness::registry::Registry;
    let d = workspace();
    let ws = d.path();
    fs::write(
        ws.join(".harnessgym/registry.json"),
        r#"{"artifacts": [{"kind": "docs", "path": ".harnessgym/docs/x.md", "name": "x", "description": null}]}"#,
    )
    .unwrap();
    let reg = Registry::load(ws).unwrap();
    assert_eq!(reg.artifacts[0].id, "docs:.harnessgym/docs/x.md");
    assert_eq!(reg.artifacts[0].metadata["name"], "x");
    assert_eq!(
        reg.artifacts[0].description, "",
        "null is no description (§10.17)"
    );
}

#[test]
fn a_quarantined_artifact_is_retested_only_once_its_files_change() {
    use harnessgym_core::harness::qualification::{
        capture_template, qualify, quarantine_failed, record_passed,
    };
    let d = workspace();
    let ws = d.path();
    let path = add_server(ws, "s", manifest("s", &[], &["--fail"]));
    let mut reg = registry(ws, &[("mcp", &path)]);
    let run = tempfile::tempdir().unwrap();
    let template = run.path().join("template");
    capture_template(ws, &template).unwrap();
    let q = |n: u32, reg: &harnessgym_core::harness::registry::Registry| {
        qualify(
            ws,
            &template,
            &run.path().join(format!("q{n}")),
            n,
            reg,
            &checks(),
        )
        .unwrap()
    };

    let r1 = q(1, &reg);
    assert_eq!(r1["failed_artifacts"], json!([path]));
    assert_eq!(
        quarantine_failed(&mut reg, &r1, "r1", 1),
        std::slice::from_ref(&path)
    );

    let r2 = q(2, &reg);
    assert_eq!(r2["status"], "passed");
    assert_eq!(r2["still_quarantined_artifacts"], json!([path]));
    assert_eq!(r2["artifact_verdicts"], json!([]));

    fs::write(
        ws.join(&path),
        serde_json::to_string(&manifest("s", &[], &[])).unwrap(),
    )
    .unwrap();
    let r3 = q(3, &reg);
    assert_eq!(r3["status"], "passed", "{r3:#}");
    assert_eq!(
        r3["artifact_verdicts"][0]["retested_after_quarantine"],
        true
    );
    assert_eq!(
        record_passed(&mut reg, &r3, "r3", 3),
        std::slice::from_ref(&path)
    );
    let meta = &reg.artifacts[0].metadata;
    assert!(meta.get("quarantined").is_none() && meta.get("quarantine").is_none());
    assert_eq!(meta["qualification"]["iteration"], 3);
}

#[test]
fn entries_outside_the_bundle_fail_with_a_clear_reason() {
    use harnessgym_core::harness::qualification::{capture_template, qualify};
    let d = workspace();
    let ws = d.path();
    fs::write(ws.join(".harnessgym/notes.md"), "loose file").unwrap();
    let reg = registry(ws, &[("docs", ".harnessgym/notes.md")]);
    let run = tempfile::tempdir().unwrap();
    capture_template(ws, &run.path().join("t")).unwrap();
    let r = qualify(
        ws,
        &run.path().join("t"),
        &run.path().join("q"),
        1,
        &reg,
        &checks(),
    )
    .unwrap();
    assert_eq!(r["failed_artifacts"], json!([".harnessgym/notes.md"]));
    assert!(r["artifact_verdicts"][0]["reason"]
        .as_str()
        .unwrap()
        .contains("not part of the reusable bundle"));
}
