//! Bad input gets one clear message and loses nothing.

mod common;
use common::*;
use serde_json::json;
use std::fs;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

/// Asserts a usage error: exit 2 and a single line naming the problem.
fn assert_usage_error(out: &std::process::Output, needle: &str) {
    let err = stderr(out);
    assert_eq!(code(out), 2, "stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected, got: {err}"
    );
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
}

#[test]
fn usage_errors_are_one_clear_line() {
    let ws = example_workspace();
    let p = ws.path();
    assert_usage_error(
        &run_fake(p, &["--iterations", "0"]),
        "iterations must be positive",
    );
    assert_usage_error(&run_fake(p, &["--iterations", "x"]), "--iterations");
    assert_usage_error(
        &run_fake(p, &["--attempt-timeout", "1m 2s"]),
        "invalid timeout duration",
    );
    assert_usage_error(
        &run_fake(p, &["--attempt-timeouts", ","]),
        "schedule cannot be empty",
    );
    assert_usage_error(
        &run_fake(p, &["--artifact-repair-attempts", "-1"]),
        "cannot be negative",
    );
    assert_usage_error(&run_fake(p, &["--task-state", "keep"]), "keep");
    assert_usage_error(&run_fake(p, &["--task", "missing.md"]), "does not exist");
    assert_usage_error(
        &run_fake(p, &["--task-text", "   "]),
        "task text cannot be empty",
    );
    assert_usage_error(&run_fake(p, &["--run-id", "../escape"]), "invalid run id");
    assert_usage_error(&run_fake(p, &["--run-id", "a/b"]), "invalid run id");
    let out = bin()
        .args(["run", "--runner", "fake"])
        .current_dir(p)
        .output()
        .unwrap();
    assert_usage_error(&out, "--task");
    let out = bin()
        .args([
            "run",
            "--runner",
            "fake",
            "--task",
            "task.md",
            "--workspace",
            "/nonexistent/ws",
        ])
        .output()
        .unwrap();
    assert_usage_error(&out, "does not exist");
    assert!(
        !std::path::Path::new("/nonexistent/ws").exists(),
        "a typo'd workspace is not created"
    );
    assert!(
        !p.join(".harnessgym").exists(),
        "usage errors write nothing"
    );
}

#[test]
fn task_file_that_is_not_utf8_is_refused() {
    let ws = example_workspace();
    fs::write(ws.path().join("bad.md"), b"fix \xff\xfe the kernel").unwrap();
    assert_usage_error(
        &run_fake(ws.path(), &["--task", "bad.md"]),
        "not valid UTF-8",
    );
}

#[test]
fn fake_scripts_are_checked_before_anything_runs() {
    let ws = example_workspace();
    let bad =
        script(json!({"iterations": {"1": {"attempt": {"files": {"../../outside.txt": "x"}}}}}));
    assert_usage_error(
        &run_fake(ws.path(), &["--fake-script", bad.to_str().unwrap()]),
        "leaves the workspace",
    );
    let typo = script(json!({"iterations": {"1": {"atempt": {}}}}));
    assert_usage_error(
        &run_fake(ws.path(), &["--fake-script", typo.to_str().unwrap()]),
        "atempt",
    );
    let broken = tempfile::NamedTempFile::new().unwrap();
    fs::write(broken.path(), "{not json").unwrap();
    assert_usage_error(
        &run_fake(
            ws.path(),
            &["--fake-script", broken.path().to_str().unwrap()],
        ),
        "invalid",
    );
}

#[test]
fn reused_run_id_is_refused_and_the_old_run_is_untouched() {
    let ws = example_workspace();
    let out = run_fake(ws.path(), &["--run-id", "first", "--iterations", "1"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let run = ws.path().join(".harnessgym/runs/first");
    let before: Vec<(String, Vec<u8>)> = files_under(&run)
        .into_iter()
        .map(|f| (f.clone(), fs::read(run.join(&f)).unwrap()))
        .collect();
    let out = run_fake(ws.path(), &["--run-id", "first", "--iterations", "1"]);
    assert_usage_error(&out, "already exists");
    assert!(stderr(&out).contains("--resume first"));
    let after: Vec<(String, Vec<u8>)> = files_under(&run)
        .into_iter()
        .map(|f| (f.clone(), fs::read(run.join(&f)).unwrap()))
        .collect();
    assert_eq!(before, after);
}

#[test]
fn malformed_result_json_is_recorded_and_the_run_goes_on() {
    let ws = example_workspace();
    let scenario = script(json!({"iterations": {
        "1": {"attempt": {"demo": true, "result_raw": "{\"status\": \"solved\", truncated"}},
        "2": {"attempt": {"result_raw": "[1, 2]"}}
    }}));
    let out = run_fake(
        ws.path(),
        &[
            "--iterations",
            "3",
            "--fake-script",
            scenario.to_str().unwrap(),
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let run = only_run(ws.path());
    let it1 = iteration(&run, 1);
    let r1 = read_json(&it1.join("result.json"));
    let errors = r1["harnessgym_errors"]
        .as_array()
        .expect("the damage is recorded");
    assert!(
        errors[0]["message"]
            .as_str()
            .unwrap()
            .contains("not valid JSON"),
        "{errors:?}"
    );
    assert_eq!(
        fs::read_to_string(it1.join("result.json.corrupt-1")).unwrap(),
        "{\"status\": \"solved\", truncated"
    );
    assert_eq!(
        r1["phases"]["attempt"]["phase"], "attempt",
        "orchestrator keys survive"
    );
    let r2 = read_json(&iteration(&run, 2).join("result.json"));
    assert!(r2["harnessgym_errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("an array"));
    let summary = read_json(&run.join("summary.json"));
    assert_eq!(summary["final_status"], "solved", "iteration 3 solved it");
    // The run's summary lists the damage too, with the iteration it happened in.
    let listed: Vec<i64> = summary["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["file"]
                .as_str()
                .is_some_and(|f| f.ends_with("result.json"))
        })
        .map(|e| e["iteration"].as_i64().unwrap())
        .collect();
    assert_eq!(listed, [1, 2], "{summary}");
}

#[test]
fn malformed_registry_is_preserved_and_the_run_goes_on() {
    let ws = example_workspace();
    fs::create_dir_all(ws.path().join(".harnessgym")).unwrap();
    fs::write(
        ws.path().join(".harnessgym/registry.json"),
        "{\"artifacts\": [",
    )
    .unwrap();
    let out = run_fake(ws.path(), &["--iterations", "2"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stdout(&out).contains("registry.json is not valid JSON"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        fs::read_to_string(ws.path().join(".harnessgym/registry.json.corrupt-1")).unwrap(),
        "{\"artifacts\": ["
    );
    let summary = read_json(&only_run(ws.path()).join("summary.json"));
    assert!(summary["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("registry.json"));
}

#[test]
fn registry_damaged_by_the_agent_mid_run_is_recorded() {
    let ws = example_workspace();
    let scenario = script(
        json!({"iterations": {"1": {"build": {"demo": true, "registry_raw": "[\"nope\"]"}}}}),
    );
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
    assert!(ws
        .path()
        .join(".harnessgym/registry.json.corrupt-1")
        .is_file());
    let registry = read_json(&ws.path().join(".harnessgym/registry.json"));
    assert_eq!(
        registry["artifacts"][0]["path"], ".harnessgym/tools/harnessgym_fake_probe.py",
        "files are re-discovered"
    );
}

#[test]
fn a_second_run_in_the_same_workspace_is_refused_while_one_runs() {
    let ws = example_workspace();
    let scenario = script(json!({"iterations": {"default": {"attempt": {"delay_ms": 4000}}}}));
    let mut first = bin()
        .args([
            "run",
            "--runner",
            "fake",
            "--task",
            "task.md",
            "--iterations",
            "1",
            "--fake-script",
        ])
        .arg(&scenario)
        .current_dir(ws.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = ws.path().join(".harnessgym/run.lock");
    let start = Instant::now();
    while fs::read_to_string(&lock).unwrap_or_default().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "first run never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = run_fake(ws.path(), &["--iterations", "1"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("another HarnessGym run is using this workspace (pid"),
        "{}",
        stderr(&out)
    );
    assert_eq!(first.wait().unwrap().code(), Some(3));
}

#[test]
fn post_command_timeout_kills_the_whole_group() {
    let ws = example_workspace();
    let pidfile = ws.path().join("grandchild.pid");
    let cmd = format!(
        "(trap '' TERM; sleep 60) & echo $! > {}; echo started; sleep 60",
        pidfile.display()
    );
    let start = Instant::now();
    let out = run_fake(
        ws.path(),
        &[
            "--iterations",
            "1",
            "--post-attempt-timeout",
            "500ms",
            "--post-attempt-command",
            &cmd,
        ],
    );
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "the deadline holds"
    );
    let pid: i32 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        !alive(pid),
        "the TERM-ignoring grandchild {pid} was left running"
    );
    let r1 = read_json(&iteration(&only_run(ws.path()), 1).join("result.json"));
    assert_eq!(r1["post_attempt"]["status"], "timeout");
    assert_eq!(r1["verification"]["status"], "timeout");
    assert_eq!(r1["verified"], false);
    let log =
        fs::read_to_string(iteration(&only_run(ws.path()), 1).join("post_attempt.stdout.txt"))
            .unwrap();
    assert_eq!(log, "started\n", "output before the kill is kept");
}

#[test]
fn post_command_gets_no_stdin_and_invalid_utf8_is_kept() {
    let ws = example_workspace();
    let out = bin()
        .args([
            "run",
            "--runner",
            "fake",
            "--task",
            "task.md",
            "--iterations",
            "1",
            "--post-attempt-command",
        ])
        .arg("cat; printf '\\377\\376 bytes\\n{\"status\": \"passed\"}\\n'")
        .current_dir(ws.path())
        .stdin(std::process::Stdio::piped()) // an open stdin that never closes: the command must not see it
        .output()
        .unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let log = fs::read(iteration(&only_run(ws.path()), 1).join("post_attempt.stdout.txt")).unwrap();
    assert!(
        log.starts_with(b"\xff\xfe bytes\n"),
        "bytes kept as written: {log:?}"
    );
}

#[test]
fn ctrl_c_ends_children_and_leaves_an_interrupted_resumable_run() {
    let ws = example_workspace();
    let pidfile = ws.path().join("child.pid");
    // Hangs on the first run only; after the resume marker exists it returns at once.
    let post = format!(
        "[ -f resumed ] && exit 0; sleep 60 & echo $! > {}; wait",
        pidfile.display()
    );
    let child = bin()
        .args([
            "run",
            "--runner",
            "fake",
            "--task",
            "task.md",
            "--iterations",
            "2",
            "--run-id",
            "r1",
            "--post-attempt-command",
        ])
        .arg(&post)
        .current_dir(ws.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !pidfile.exists() || fs::read_to_string(&pidfile).unwrap().trim().is_empty() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "post command never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    // SAFETY: plain kill(2) of the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pid: i32 = fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(
        !alive(pid),
        "the post command's child {pid} survived Ctrl-C"
    );
    let run = ws.path().join(".harnessgym/runs/r1");
    let summary = read_json(&run.join("summary.json"));
    assert_eq!(summary["final_status"], "interrupted");
    assert_eq!(summary["state"], "interrupted");
    assert!(
        iteration(&run, 1).join("attempt.stdout.txt").is_file(),
        "what was written stays"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("--resume r1"));

    // Resume: iteration 1 is redone (it never finished), the rest runs, the old attempt is kept aside.
    fs::write(ws.path().join("resumed"), "").unwrap();
    let out = run_fake(ws.path(), &["--resume", "r1"]);
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let summary = read_json(&run.join("summary.json"));
    assert_eq!(summary["state"], "finished");
    assert_eq!(summary["iterations"].as_array().unwrap().len(), 2);
    let aside: Vec<_> = fs::read_dir(run.join("interrupted")).unwrap().collect();
    assert_eq!(
        aside.len(),
        1,
        "the interrupted iteration is moved aside, not deleted"
    );
}

#[test]
fn resume_continues_after_the_last_finished_iteration() {
    let ws = example_workspace();
    let scenario =
        script(json!({"iterations": {"2": {"attempt": {"demo": true, "delay_ms": 30000}}}}));
    let mut child = bin()
        .args([
            "run",
            "--runner",
            "fake",
            "--task",
            "task.md",
            "--iterations",
            "3",
            "--run-id",
            "r2",
            "--fake-script",
        ])
        .arg(&scenario)
        .current_dir(ws.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let run = ws.path().join(".harnessgym/runs/r2");
    let start = Instant::now();
    while !iteration(&run, 2).join("result.json").exists() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "iteration 2 never started"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let it1_before = fs::read(iteration(&run, 1).join("result.json")).unwrap();
    // SAFETY: plain kill(2) of the child we spawned.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert_eq!(
        read_json(&run.join("summary.json"))["final_status"],
        "interrupted"
    );

    // Resume reads the scenario path from run_config.json; drop the delay so the rerun is quick.
    fs::write(&scenario, r#"{"iterations": {}}"#).unwrap();
    let out = run_fake(ws.path(), &["--resume", "r2", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        fs::read(iteration(&run, 1).join("result.json")).unwrap(),
        it1_before,
        "finished iterations are untouched"
    );
    let summary = read_json(&run.join("summary.json"));
    assert_eq!(summary["final_status"], "solved");
    let statuses: Vec<&str> = summary["iterations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["tooling_built", "solved"]);
}

#[test]
fn resume_of_an_unknown_run_is_a_clear_error() {
    let ws = example_workspace();
    assert_usage_error(
        &run_fake(ws.path(), &["--resume", "nope"]),
        "cannot resume run nope",
    );
}

#[test]
#[allow(clippy::zombie_processes)] // reaped by wait4 below, which also reports the peak RSS
fn huge_agent_output_is_streamed_with_flat_memory() {
    let ws = example_workspace();
    let bytes: u64 = 300 << 20;
    let scenario =
        script(json!({"iterations": {"1": {"attempt": {"demo": true, "stdout_bytes": bytes}}}}));
    let child = bin()
        .args([
            "run",
            "--runner",
            "fake",
            "--task",
            "task.md",
            "--iterations",
            "1",
            "--fake-script",
        ])
        .arg(&scenario)
        .current_dir(ws.path())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut status = 0;
    // SAFETY: an all-zero rusage is valid; wait4 fills it for the child we spawned.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, &mut usage) };
    assert_eq!(pid, child.id() as i32);
    assert_eq!(libc::WEXITSTATUS(status), 3);
    let run = only_run(ws.path());
    let out = iteration(&run, 1).join("attempt.stdout.txt");
    assert!(
        fs::metadata(&out).unwrap().len() >= bytes,
        "the whole output is on disk"
    );
    let peak_mib = usage.ru_maxrss / 1024;
    assert!(
        peak_mib < 64,
        "peak RSS {peak_mib} MiB for {} MiB of output",
        bytes >> 20
    );
    let r1 = read_json(&iteration(&run, 1).join("result.json"));
    assert!(r1["harness_usage"]["inference_sources"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s.as_str().unwrap().ends_with("attempt.stdout.txt")));
}
