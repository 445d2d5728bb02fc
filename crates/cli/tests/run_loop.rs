//! The loop end to end through the real binary: trees, JSON keys, statuses and exit codes.

mod common;
use common::*;
use serde_json::{json, Value};
use std::fs;

#[test]
fn three_iteration_fake_run_writes_the_original_tree() {
    let ws = example_workspace();
    let out = run_fake(ws.path(), &["--iterations", "3"]);
    assert_eq!(code(&out), 0, "stderr: {}", stderr(&out));
    let run = only_run(ws.path());
    let text = stdout(&out);
    assert!(
        text.contains(&format!("Run artifacts: {}", run.display())),
        "{text}"
    );
    assert!(
        text.contains("Final status: solved") && text.contains("Solved and verified: True"),
        "{text}"
    );

    for f in [
        "run_config.json",
        "summary.json",
        "qualification/workspace_template/kernel_ops.py",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
    let it1 = iteration(&run, 1);
    for phase in ["attempt", "reflection", "build"] {
        for what in ["prompt", "stdout", "stderr", "transcript"] {
            assert!(
                it1.join(format!("{phase}.{what}.txt")).is_file(),
                "{phase}.{what}"
            );
        }
    }
    for f in [
        "result.json",
        "activation.json",
        "post_build_activation.json",
        "qualification/attempt_1/qualification.json",
    ] {
        assert!(it1.join(f).is_file(), "iteration 1: {f} missing");
    }
    // The solving iteration stops the loop: no reflection, no third iteration.
    let it2 = iteration(&run, 2);
    assert!(it2.join("attempt.prompt.txt").is_file());
    assert!(!it2.join("reflection.prompt.txt").exists());
    assert!(!iteration(&run, 3).exists());

    let r1 = read_json(&it1.join("result.json"));
    assert_eq!(r1["status"], "tooling_built");
    assert_eq!(r1["artifact_qualification"]["status"], "passed");
    let r2 = read_json(&it2.join("result.json"));
    assert_eq!(r2["status"], "solved");
    assert_eq!(r2["verified"], true);
    assert_eq!(r2["verification"]["status"], "passed");
    let prompt2 = fs::read_to_string(it2.join("attempt.prompt.txt")).unwrap();
    assert!(
        prompt2.contains(".harnessgym/tools/harnessgym_fake_probe.py")
            && prompt2.contains("Fake debugging probe")
    );

    let summary = read_json(&run.join("summary.json"));
    for key in [
        "run_id",
        "iterations",
        "final_status",
        "solved",
        "best_score",
        "baseline_post_attempt",
        "optimization",
        "best_checkpoint",
        "artifact_qualification",
        "harness_usage",
        "harness_quality_gates",
    ] {
        assert!(summary.get(key).is_some(), "summary lacks {key}");
    }
    assert_eq!(summary["final_status"], "solved");
    assert_eq!(summary["solved"], true);
    assert_eq!(summary["iterations"].as_array().unwrap().len(), 2);
    assert_eq!(summary["optimization"]["enabled"], false);

    let config = read_json(&run.join("run_config.json"));
    assert_eq!(config["attempt_timeout_seconds"], 2700);
    assert_eq!(config["reflection_timeout_seconds"], 1200);
    assert_eq!(config["post_attempt_score_key"], "score");
    let registry = read_json(&ws.path().join(".harnessgym/registry.json"));
    let ids: Vec<&str> = registry["artifacts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["tool:.harnessgym/tools/harnessgym_fake_probe.py"]);
    assert_eq!(
        registry["artifacts"][0]["metadata"]["qualification"]["status"],
        "passed"
    );
    let verifier = std::process::Command::new("python3")
        .arg("verifier.py")
        .current_dir(ws.path())
        .status()
        .unwrap();
    assert!(
        verifier.success(),
        "the fake agent's fix should make the verifier pass"
    );
}

#[test]
fn json_flag_prints_a_machine_summary_only() {
    let ws = example_workspace();
    let out = run_fake(ws.path(), &["--iterations", "1", "--json"]);
    assert_eq!(
        code(&out),
        3,
        "one iteration cannot solve the demo: {}",
        stderr(&out)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    assert_eq!(v["exit_code"], 3);
    assert_eq!(v["final_status"], "tooling_built");
    assert_eq!(v["solved"], false);
    assert_eq!(v["iterations"], 1);
    assert!(std::path::Path::new(v["summary_path"].as_str().unwrap()).is_file());
    assert!(
        stderr(&out).contains("iteration 1/1 · attempt"),
        "progress goes to stderr under --json"
    );
}

#[test]
fn optimization_mode_keeps_the_best_checkpoint_and_restores_it() {
    let ws = example_workspace();
    fs::write(ws.path().join("score.txt"), "10").unwrap();
    let scenario = script(json!({"iterations": {
        "1": {"attempt": {"files": {"score.txt": "4", "kernel.txt": "version one"}}},
        "2": {"attempt": {"files": {"score.txt": "8", "kernel.txt": "version two", "extra.txt": "made later"}}}
    }}));
    let post = r#"printf 'checking\n{"status": "passed", "best_cycles": %s}\n' "$(cat score.txt)""#;
    let out = run_fake(
        ws.path(),
        &[
            "--iterations",
            "2",
            "--optimization-mode",
            "--score-key",
            "best_cycles",
            "--post-attempt-command",
            post,
            "--fake-script",
            scenario.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Optimization improved: True") && text.contains("Best score: 4.0"),
        "{text}"
    );
    let run = only_run(ws.path());
    assert_eq!(
        fs::read_to_string(ws.path().join("kernel.txt")).unwrap(),
        "version one"
    );
    assert!(
        !ws.path().join("extra.txt").exists(),
        "files the best state lacked are removed"
    );
    let summary = read_json(&run.join("summary.json"));
    assert_eq!(summary["baseline_post_attempt"]["score"], 10.0);
    assert_eq!(summary["optimization"]["baseline_score"], 10.0);
    assert_eq!(summary["optimization"]["best_score"], 4.0);
    assert_eq!(summary["optimization"]["improved"], true);
    assert_eq!(
        summary["optimization"]["absolute_delta_from_baseline"],
        -6.0
    );
    assert_eq!(summary["best_checkpoint"]["restored"], true);
    assert_eq!(summary["best_checkpoint"]["restore"]["iteration"], 1);
    assert_eq!(
        summary["best_checkpoint"]["restore"]["post_restore"]["score"],
        4.0
    );
    let captures: Vec<i64> = summary["best_checkpoint"]["captures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["iteration"].as_i64().unwrap())
        .collect();
    assert_eq!(captures, [0, 1]);
    let r1 = read_json(&iteration(&run, 1).join("result.json"));
    assert_eq!(r1["metrics"]["best_cycles"], 4.0);
    assert_eq!(r1["optimization"]["improved_from_baseline"], true);
    let r2 = read_json(&iteration(&run, 2).join("result.json"));
    assert_eq!(r2["optimization"]["restored_best_checkpoint"]["score"], 4.0);
    assert!(run.join("baseline/baseline.stdout.txt").is_file());
    assert!(run.join("checkpoints/best_manifest.json").is_file());
    assert!(run.join("checkpoints/restored_best.stdout.txt").is_file());
}

#[test]
fn no_restore_best_leaves_the_final_state() {
    let ws = example_workspace();
    fs::write(ws.path().join("score.txt"), "10").unwrap();
    let scenario = script(json!({"iterations": {
        "1": {"attempt": {"files": {"score.txt": "4"}}}, "2": {"attempt": {"files": {"score.txt": "8"}}}
    }}));
    let post = r#"printf '{"status": "passed", "score": %s}' "$(cat score.txt)""#;
    let out = run_fake(
        ws.path(),
        &[
            "--iterations",
            "2",
            "--optimization-mode",
            "--no-restore-best",
            "--post-attempt-command",
            post,
            "--fake-script",
            scenario.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert_eq!(
        fs::read_to_string(ws.path().join("score.txt")).unwrap(),
        "8"
    );
    let summary = read_json(&only_run(ws.path()).join("summary.json"));
    assert_eq!(summary["best_checkpoint"]["enabled"], false);
    assert_eq!(summary["best_checkpoint"]["reason"], "disabled_by_config");
}

#[test]
fn reset_mode_restores_task_files_but_keeps_the_harness() {
    let ws = example_workspace();
    fs::write(ws.path().join("work.txt"), "original").unwrap();
    fs::create_dir_all(ws.path().join(".git")).unwrap();
    fs::write(ws.path().join(".git/HEAD"), "ref: refs/heads/main").unwrap();
    let scenario = script(json!({"iterations": {
        "1": {"attempt": {"files": {"work.txt": "iteration-1", "stray.txt": "x"}},
              "build": {"artifacts": [{"kind": "tool", "path": ".harnessgym/tools/marker.txt", "content": "marker"}]}},
        "2": {"attempt": {"files": {"work.txt": "iteration-2"}}}
    }}));
    let out = run_fake(
        ws.path(),
        &[
            "--iterations",
            "2",
            "--task-state",
            "reset",
            "--fake-script",
            scenario.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = only_run(ws.path());
    assert!(
        run.join("task_state/initial/work.txt").is_file(),
        "the snapshot belongs to the run"
    );
    assert!(
        !run.join("task_state/initial/.git").exists(),
        ".git is not snapshotted"
    );
    assert_eq!(
        fs::read_to_string(ws.path().join(".git/HEAD")).unwrap(),
        "ref: refs/heads/main",
        ".git is untouched"
    );
    assert!(
        !ws.path().join("stray.txt").exists(),
        "iteration 2 starts from the initial files"
    );
    assert_eq!(
        fs::read_to_string(ws.path().join("work.txt")).unwrap(),
        "iteration-2"
    );
    let prompt2 = fs::read_to_string(iteration(&run, 2).join("attempt.prompt.txt")).unwrap();
    assert!(
        prompt2.contains(".harnessgym/tools/marker.txt"),
        "iteration 2 sees the harness built in iteration 1"
    );
}

#[test]
fn continue_mode_keeps_edits_and_takes_no_snapshot() {
    let ws = example_workspace();
    let scenario =
        script(json!({"iterations": {"1": {"attempt": {"files": {"work.txt": "one"}}}}}));
    let out = run_fake(
        ws.path(),
        &[
            "--iterations",
            "2",
            "--fake-script",
            scenario.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        fs::read_to_string(ws.path().join("work.txt")).unwrap(),
        "one"
    );
    assert!(!only_run(ws.path()).join("task_state").exists());
    assert!(!ws.path().join(".harnessgym/task_state").exists());
}

#[test]
fn post_command_decides_verified_over_the_agents_claim() {
    let ws = example_workspace();
    let scenario = script(json!({"iterations": {"default": {
        "attempt": {"result": {"status": "solved", "verified": true, "metrics": {"score": 1}}}
    }}}));
    let out = run_fake(
        ws.path(),
        &[
            "--iterations",
            "2",
            "--fake-script",
            scenario.to_str().unwrap(),
            "--post-attempt-command",
            "echo '{\"status\": \"failed\", \"score\": 0.5}'; exit 1",
        ],
    );
    assert_eq!(
        code(&out),
        3,
        "a failing independent check means not solved: {}",
        stderr(&out)
    );
    let r1 = read_json(&iteration(&only_run(ws.path()), 1).join("result.json"));
    assert_eq!(r1["verified"], false);
    assert_eq!(r1["verification"]["status"], "failed");
    assert_eq!(r1["agent_reported"]["status"], "solved");
    assert_eq!(
        r1["post_attempt"]["score"], 0.5,
        "the check's score is kept, labelled"
    );
    assert_eq!(
        r1["metrics"]["score"], 1,
        "but never written over the metrics as if verified"
    );
    assert_ne!(r1["status"], "solved");
}

#[test]
fn passing_post_command_solves_a_blocked_attempt() {
    let ws = example_workspace();
    let out = run_fake(
        ws.path(),
        &[
            "--post-attempt-command",
            "echo building; echo '{\"status\":\"passed\",\"score\":1}'",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let run = only_run(ws.path());
    let summary = read_json(&run.join("summary.json"));
    assert_eq!(summary["iterations"].as_array().unwrap().len(), 1);
    let r1 = read_json(&iteration(&run, 1).join("result.json"));
    assert_eq!(r1["status"], "solved");
    assert_eq!(r1["verification"]["status"], "passed");
    assert_eq!(r1["metrics"]["score"], 1.0);
}

#[test]
fn reaching_the_stop_score_is_not_solved_unless_verified() {
    let ws = example_workspace();
    let scenario = script(json!({"iterations": {"default": {
        "attempt": {"result": {"status": "incomplete", "metrics": {"score": 0.1}}}
    }}}));
    let out = run_fake(
        ws.path(),
        &[
            "--iterations",
            "2",
            "--stop-score",
            "1",
            "--fake-script",
            scenario.to_str().unwrap(),
            "--post-attempt-command",
            "echo '{\"status\": \"failed\", \"score\": 0.1}'",
        ],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let summary = read_json(&only_run(ws.path()).join("summary.json"));
    assert_eq!(summary["solved"], false);
    assert_eq!(
        summary["iterations"].as_array().unwrap().len(),
        2,
        "an unverified target does not stop the loop"
    );
    assert_eq!(
        summary["best_score"],
        Value::Null,
        "unverified scores are not the best score"
    );
    assert_eq!(summary["best_reported_score"], 0.1);
}

#[test]
fn verified_stop_score_stops_and_counts_as_solved() {
    let ws = example_workspace();
    let out = run_fake(
        ws.path(),
        &[
            "--iterations",
            "3",
            "--stop-score",
            "1",
            "--post-attempt-command",
            "echo '{\"status\": \"passed\", \"score\": 0.5}'",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let summary = read_json(&only_run(ws.path()).join("summary.json"));
    assert_eq!(summary["solved"], true);
    assert_eq!(summary["iterations"].as_array().unwrap().len(), 1);
    assert_eq!(summary["best_score"], 0.5);
}

#[test]
fn build_after_solve_builds_then_reverifies() {
    let ws = example_workspace();
    let out = run_fake(ws.path(), &["--build-after-solve", "--post-attempt-command", "python3 verifier.py",
        "--fake-script", script(json!({"iterations": {
            "1": {"attempt": {"demo": false, "files": {"kernel_ops.py": include_str!("../../../examples/numerical_debug_task/kernel_ops.py").replace(") + math.sqrt", ") * math.sqrt")}}},
        }})).to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let run = only_run(ws.path());
    let r1 = read_json(&iteration(&run, 1).join("result.json"));
    assert_eq!(r1["primary_task_solved_before_build"], true);
    assert_eq!(r1["primary_task_reverified_after_build"], true);
    assert!(iteration(&run, 1).join("build.prompt.txt").is_file());
    assert!(iteration(&run, 1).join("post_build.stdout.txt").is_file());
}

#[test]
fn timeouts_schedule_and_statuses_are_recorded() {
    let ws = example_workspace();
    let scenario = script(json!({"iterations": {"default": {"attempt": {"delay_ms": 3000}}}}));
    let out = run_fake(
        ws.path(),
        &[
            "--iterations",
            "2",
            "--attempt-timeouts",
            "200ms,300ms",
            "--no-qualify-artifacts",
            "--fake-script",
            scenario.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = only_run(ws.path());
    let config = read_json(&run.join("run_config.json"));
    assert_eq!(
        config["attempt_timeout_schedule_seconds"],
        json!([0.2, 0.3])
    );
    let r1 = read_json(&iteration(&run, 1).join("result.json"));
    assert_eq!(r1["phases"]["attempt"]["status"], "timeout");
    assert_eq!(r1["phases"]["attempt"]["timed_out"], true);
    assert!(
        !run.join("qualification").exists(),
        "--no-qualify-artifacts captures no template"
    );
}

#[test]
fn reset_mode_with_one_iteration_takes_no_snapshot() {
    let ws = example_workspace();
    let out = run_fake(ws.path(), &["--iterations", "1", "--task-state", "reset"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = only_run(ws.path());
    assert!(
        !run.join("task_state").exists(),
        "nothing to reset between iterations"
    );
    assert_eq!(
        read_json(&run.join("run_config.json"))["task_state"],
        "reset"
    );
}
