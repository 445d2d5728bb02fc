//! The experimental tui-goal runner: a real PTY, typed lines ending in a real Enter, completion
//! read from result.json, and no process left behind. The TUI is a small stand-in script.

mod common;
use common::*;
use std::fs;

fn fake_tui() -> String {
    repo_root()
        .join("crates/cli/tests/fixtures/fake-codex-tui.sh")
        .to_string_lossy()
        .into_owned()
}

#[test]
fn phases_are_typed_into_a_pty_and_completed_from_result_json() {
    let ws = example_workspace();
    let out = bin()
        .args([
            "run",
            "--runner",
            "tui-goal",
            "--task",
            "task.md",
            "--iterations",
            "1",
            "--no-qualify-artifacts",
        ])
        .args([
            "--codex-bin",
            &fake_tui(),
            "--attempt-timeout",
            "20s",
            "--build-timeout",
            "20s",
        ])
        .env("OPENAI_API_KEY", "unused-by-the-stand-in")
        .current_dir(ws.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let it = iteration(&only_run(ws.path()), 1);
    let r = read_json(&it.join("result.json"));
    for phase in ["attempt", "reflection", "build"] {
        assert_eq!(
            r["phases"][phase]["status"], "completed",
            "{phase}: {}",
            r["phases"][phase]
        );
    }
    assert_eq!(r["reflection"]["selected_improvement"]["name"], "notes");
    assert_eq!(r["status"], "tooling_built");
    let screen = fs::read_to_string(it.join("attempt.stdout.txt")).unwrap();
    assert!(
        screen.contains("(200 columns)"),
        "the PTY has a proper size: {screen}"
    );
    // The terminal echoes what was typed; the stand-in's own "handled" line may land after the
    // phase already ended (completion is read from result.json), so it is not asserted here.
    assert!(
        screen.contains("/goal Read and follow the HarnessGym attempt prompt at"),
        "{screen}"
    );
    let transcript = fs::read_to_string(it.join("build.transcript.txt")).unwrap();
    assert!(transcript.starts_with("runner: tui-goal\n"), "{transcript}");
}

#[test]
fn a_hanging_tui_times_out_and_is_ended() {
    let ws = example_workspace();
    let pids_before = sleeping_children();
    let out = bin()
        .args([
            "run",
            "--runner",
            "tui-goal",
            "--task",
            "task.md",
            "--iterations",
            "1",
            "--no-qualify-artifacts",
        ])
        .args([
            "--codex-bin",
            &fake_tui(),
            "--attempt-timeout",
            "1s",
            "--build-timeout",
            "1s",
        ])
        .env("OPENAI_API_KEY", "unused-by-the-stand-in")
        .env("FAKE_TUI_HANG", "1")
        .current_dir(ws.path())
        .output()
        .unwrap();
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    let r = read_json(&iteration(&only_run(ws.path()), 1).join("result.json"));
    assert_eq!(r["phases"]["attempt"]["status"], "timeout");
    assert_eq!(r["phases"]["attempt"]["timed_out"], true);
    let left: Vec<_> = sleeping_children()
        .into_iter()
        .filter(|p| !pids_before.contains(p))
        .collect();
    assert!(left.is_empty(), "processes left behind: {left:?}");
}

/// Pids of `sleep 600` processes (the hanging stand-in's child).
fn sleeping_children() -> Vec<i32> {
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == b"sleep\x00600\x00")
                && alive(*pid)
        })
        .collect()
}
