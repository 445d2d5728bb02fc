//! Safety of the harness plumbing (spec/harness.md §10.10, §10.12, §10.14): paths that leave
//! `.harnessgym/` are refused with a reason, copies never follow a symlink out of the tree,
//! self-tests run supervised with bounded output, and skill links are namespaced, relative,
//! tracked and removed when their skill goes.

#[path = "fixtures/harness_support.rs"]
mod support;

use harnessgym_core::cancel::CancelToken;
use harnessgym_core::harness::manifest::SelfTestSpec;
use harnessgym_core::harness::mcp::run_self_test;
use harnessgym_core::harness::qualification;
use harnessgym_core::harness::registry::{Artifact, Registry};
use serde_json::json;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};
use support::*;

#[test]
fn registry_paths_outside_harnessgym_are_refused_with_a_reason() {
    let d = workspace();
    let ws = d.path();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("SKILL.md"), "not ours").unwrap();
    let abs = outside.path().join("SKILL.md");
    let reg = registry(
        ws,
        &[
            ("skill", abs.to_str().unwrap()),
            ("mcp", "../elsewhere/mcp.json"),
            ("docs", "task.md"),
        ],
    );
    let report = activate(ws, &reg);
    for path in [abs.to_str().unwrap(), "../elsewhere/mcp.json", "task.md"] {
        let v = verdict(&report, path);
        assert_eq!(v["status"], "refused", "{v:#}");
        assert_eq!(v["reason"], "path escapes .harnessgym");
    }
    assert_eq!(report["refused_artifacts"].as_array().unwrap().len(), 3);
    assert!(report["warnings"][0]
        .as_str()
        .unwrap()
        .contains("path escapes .harnessgym"));
    assert_eq!(report["quality_gate"]["status"], "failed");
    assert!(
        !ws.join(".agents/skills").exists()
            || fs::read_dir(ws.join(".agents/skills"))
                .unwrap()
                .next()
                .is_none(),
        "nothing outside was linked"
    );
}

#[test]
fn symlinks_leading_out_of_harnessgym_are_refused() {
    let d = workspace();
    let ws = d.path();
    let outside = tempfile::tempdir().unwrap();
    fs::create_dir_all(outside.path().join("skill")).unwrap();
    fs::write(outside.path().join("skill/SKILL.md"), "x").unwrap();
    symlink(
        outside.path().join("skill"),
        ws.join(".harnessgym/skills/evil"),
    )
    .unwrap();
    fs::write(outside.path().join("evil.json"), r#"{"command": "true"}"#).unwrap();
    fs::create_dir_all(ws.join(".harnessgym/mcp/evil")).unwrap();
    symlink(
        outside.path().join("evil.json"),
        ws.join(".harnessgym/mcp/evil/mcp.json"),
    )
    .unwrap();
    let reg = registry(
        ws,
        &[
            ("skill", ".harnessgym/skills/evil/SKILL.md"),
            ("mcp", ".harnessgym/mcp/evil/mcp.json"),
        ],
    );
    let report = activate(ws, &reg);
    for path in [
        ".harnessgym/skills/evil/SKILL.md",
        ".harnessgym/mcp/evil/mcp.json",
    ] {
        let v = verdict(&report, path);
        assert_eq!(v["status"], "refused", "{v:#}");
        assert!(v["reason"].as_str().unwrap().contains("symlink"), "{v:#}");
    }
    assert!(report["mcp_servers"].as_array().unwrap().is_empty());
    assert!(report["skills"].as_array().unwrap().is_empty());
}

#[test]
fn server_and_self_test_cwds_must_stay_inside() {
    let d = workspace();
    let ws = d.path();
    let mut m = manifest("far", &[], &[]);
    m["cwd"] = json!("/tmp");
    let far = add_server(ws, "far", m);
    let mut m = manifest("far_test", &[], &[]);
    m["self_test"] = json!({"command": ["python3", "-c", "print(1)"], "cwd": "/"});
    let far_test = add_server(ws, "far_test", m);
    let report = activate(ws, &registry(ws, &[("mcp", &far), ("mcp", &far_test)]));
    let v = verdict(&report, &far);
    assert_eq!(v["status"], "refused", "{v:#}");
    assert!(v["reason"]
        .as_str()
        .unwrap()
        .contains("cwd /tmp escapes .harnessgym"));
    let v = verdict(&report, &far_test);
    assert_eq!(v["status"], "refused", "{v:#}");
    assert!(v["reason"]
        .as_str()
        .unwrap()
        .contains("self_test.cwd / escapes .harnessgym"));
    assert!(
        report["mcp_servers"].as_array().unwrap().is_empty(),
        "refused servers are never started"
    );
}

#[test]
fn bundle_copies_never_follow_links_out_and_the_template_never_points_back() {
    let d = workspace();
    let ws = d.path();
    fs::write(ws.join("data.txt"), "task data").unwrap();
    symlink(ws.join("data.txt"), ws.join("data_link")).unwrap();
    fs::write(ws.join(".harnessgym/tools/t.py"), "print(1)\n").unwrap();
    symlink("/etc/hostname", ws.join(".harnessgym/tools/host")).unwrap();
    symlink("t.py", ws.join(".harnessgym/tools/alias.py")).unwrap();
    let reg = registry(ws, &[("tool", ".harnessgym/tools/t.py")]);
    let run = tempfile::tempdir().unwrap();
    let template = run.path().join("template");
    qualification::capture_template(ws, &template).unwrap();
    let link = fs::read_link(template.join("data_link")).unwrap();
    assert!(link.is_relative(), "{}", link.display());

    let qdir = run.path().join("q");
    let report = qualification::qualify(ws, &template, &qdir, 1, &reg, &checks()).unwrap();
    let fresh = qdir.join("workspace");
    assert_eq!(
        fs::read_to_string(fresh.join("data_link")).unwrap(),
        "task data"
    );
    fs::write(ws.join("data.txt"), "changed in the dirty workspace").unwrap();
    assert_eq!(
        fs::read_to_string(fresh.join("data_link")).unwrap(),
        "task data",
        "the clean copy does not reach back into the workspace"
    );
    assert!(fs::symlink_metadata(fresh.join(".harnessgym/tools/host")).is_err());
    assert_eq!(
        report["dropped_links"],
        json!([{"path": ".harnessgym/tools/host", "target": "/etc/hostname",
                "reason": "symlink leaves the workspace; not copied"}])
    );
    assert_eq!(
        fs::read_to_string(fresh.join(".harnessgym/tools/alias.py")).unwrap(),
        "print(1)\n"
    );
    assert_eq!(report["status"], "passed", "{report:#}");
}

fn spec(args: &[&str]) -> SelfTestSpec {
    let mut command = vec![
        "python3".to_string(),
        fixture("mcp_server.py").to_string_lossy().into_owned(),
        "--self-test".into(),
    ];
    command.extend(args.iter().map(|s| s.to_string()));
    SelfTestSpec {
        command,
        cwd: std::env::temp_dir(),
        timeout_sec: None,
    }
}

#[test]
fn self_tests_end_their_whole_group_at_the_deadline() {
    // The grandchild holds the output pipes: without process groups this hangs (§10.10).
    let started = Instant::now();
    let r = run_self_test(&spec(&["--hang"]), &BTreeMap::new(), 1, &CancelToken::new());
    assert_eq!(r["status"], "timeout", "{r:#}");
    assert!(r["message"]
        .as_str()
        .unwrap()
        .contains("timed out after 1s"));
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "returned in {:?}",
        started.elapsed()
    );
}

#[test]
fn self_test_output_is_bounded() {
    let r = run_self_test(
        &spec(&["--spew", "5000000", "--fail"]),
        &BTreeMap::new(),
        30,
        &CancelToken::new(),
    );
    assert_eq!(r["status"], "failed");
    assert_eq!(r["message"], "self-test exited 1");
    let out = r["stdout"].as_str().unwrap();
    assert!(out.len() < 9000, "{} bytes kept", out.len());
    assert!(out.contains("...[truncated"), "marked as truncated");
    assert!(r["stderr"].as_str().unwrap().contains("wrong answer"));
    let missing = run_self_test(
        &SelfTestSpec {
            command: vec!["/no/such/binary".into()],
            cwd: std::env::temp_dir(),
            timeout_sec: None,
        },
        &BTreeMap::new(),
        5,
        &CancelToken::new(),
    );
    assert_eq!(missing["status"], "failed");
    assert!(missing["message"]
        .as_str()
        .unwrap()
        .starts_with("could not run self-test"));
}

#[test]
fn skill_links_are_tracked_and_removed_with_their_skill() {
    let d = workspace();
    let ws = d.path();
    let keep = add_skill(ws, "keep");
    let gone = add_skill(ws, "gone");
    let mut reg = registry(ws, &[("skill", &keep), ("skill", &gone)]);
    activate(ws, &reg);
    let links = read_json(&ws.join(".harnessgym/links.json"));
    assert_eq!(links["links"].as_array().unwrap().len(), 4, "{links:#}");
    assert!(ws.join(".claude/skills/hg-gone").exists());

    // Quarantined: its links go.
    let mut a = Artifact::new("skill", &gone, "", Some(1));
    a.metadata.insert("quarantined".into(), json!(true));
    reg.upsert(a);
    reg.save(ws).unwrap();
    let report = activate(ws, &reg);
    assert_eq!(
        report["removed_links"],
        json!([".agents/skills/hg-gone", ".claude/skills/hg-gone"])
    );
    assert!(fs::symlink_metadata(ws.join(".claude/skills/hg-gone")).is_err());
    assert!(ws.join(".claude/skills/hg-keep/SKILL.md").is_file());

    // Deleted: sync forgets it and its links go too.
    fs::remove_dir_all(ws.join(".harnessgym/skills/keep")).unwrap();
    let mut reg = Registry::load(ws).unwrap();
    reg.sync_from_files(ws, None).unwrap();
    let report = activate(ws, &reg);
    assert!(fs::symlink_metadata(ws.join(".agents/skills/hg-keep")).is_err());
    assert_eq!(
        report["quality_gate"]["status"], "passed",
        "a deleted skill is forgotten, not a warning forever (§10.15): {report:#}"
    );
    assert_eq!(
        read_json(&ws.join(".harnessgym/links.json"))["links"],
        json!([])
    );
}

#[test]
fn same_leaf_names_do_not_collide_and_legacy_absolute_links_are_cleaned() {
    let d = workspace();
    let ws = d.path();
    let a = add_skill(ws, "probe");
    let b = add_skill(ws, "team/probe");
    // What the original left behind: an absolute link named after the skill directory.
    fs::create_dir_all(ws.join(".agents/skills")).unwrap();
    symlink(
        ws.join(".harnessgym/skills/probe"),
        ws.join(".agents/skills/probe"),
    )
    .unwrap();
    // Someone's own link elsewhere is not ours.
    symlink("/usr/share", ws.join(".agents/skills/user-link")).unwrap();
    let report = activate(ws, &registry(ws, &[("skill", &a), ("skill", &b)]));
    let names: Vec<String> = report["skills"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["link_name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["hg-probe", "hg-team-probe"]);
    assert!(fs::symlink_metadata(ws.join(".agents/skills/probe")).is_err());
    assert!(fs::symlink_metadata(ws.join(".agents/skills/user-link")).is_ok());
}
