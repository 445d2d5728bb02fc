//! The smoke check against well-behaved and misbehaving servers in both framings.

use crate::{eventually, process_gone, test_server};
use harnessgym_mcp::{smoke_check, Framing, ServerCommand, PROBE_WINDOW};
use serde_json::json;
use std::time::{Duration, Instant};

const STARTUP: Duration = Duration::from_secs(5);
const TOOL: Duration = Duration::from_secs(5);

fn all_tools() -> Vec<String> {
    [
        "echo", "record", "fail", "boom", "hold", "release", "ask", "flood", "big", "sleep", "die",
        "garbage",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

#[test]
fn ndjson_server_passes_without_a_probe_delay() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("received.jsonl");
    let log_s = log.display().to_string();
    let r = smoke_check(&test_server(dir.path(), &["--log", &log_s]), STARTUP, TOOL);
    assert_eq!(r.status, "passed", "{r:?}");
    assert_eq!(r.tools, all_tools());
    assert_eq!(r.framing, Some(Framing::Ndjson));
    assert_eq!(r.message, None);
    // What the server saw: the handshake as newline-delimited JSON (ids checked by the
    // client), and, unless this machine is so loaded that Python took longer than the probe
    // window to start, no second process was needed.
    let received: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let methods: Vec<&str> = received
        .iter()
        .filter_map(|m| m["method"].as_str())
        .filter(|m| *m != "initialize")
        .collect();
    assert_eq!(methods, ["notifications/initialized", "tools/list"]);
    let inits = received
        .iter()
        .filter(|m| m["method"] == "initialize")
        .count();
    assert!(
        inits == 1 || r.duration_ms > PROBE_WINDOW.as_millis() as u64,
        "{received:?}"
    );
    let j = r.to_json();
    assert_eq!(j["status"], "passed");
    assert_eq!(j["framing"], "ndjson");
    assert_eq!(j["tools"][0], "echo");
    assert!(j["duration_ms"].is_u64());
    assert!(
        j.get("message").is_none() && j.get("stderr_tail").is_none(),
        "{j}"
    );
}

#[test]
fn content_length_servers_pass_with_every_header_style() {
    let dir = tempfile::tempdir().unwrap();
    for extra in [
        &["--header-style", "crlf"][..],
        &["--header-style", "lf", "--pretty"],
        &["--header-style", "extra", "--notify-before-reply"],
    ] {
        let mut args = vec!["--framing", "content-length"];
        args.extend_from_slice(extra);
        let r = smoke_check(&test_server(dir.path(), &args), STARTUP, TOOL);
        assert_eq!(r.status, "passed", "{extra:?}: {r:?}");
        assert_eq!(r.tools, all_tools());
        assert_eq!(r.framing, Some(Framing::ContentLength), "{extra:?}");
        assert!(r.duration_ms < STARTUP.as_millis() as u64, "{r:?}");
    }
}

#[test]
fn notifications_junk_and_pages_before_the_answers_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let r = smoke_check(
        &test_server(
            dir.path(),
            &["--notify-before-reply", "--banner", "--paged"],
        ),
        STARTUP,
        TOOL,
    );
    assert_eq!(r.status, "passed", "{r:?}");
    assert_eq!(r.tools, all_tools(), "both pages");
    assert_eq!(r.framing, Some(Framing::Ndjson));
    assert!(r.stderr_tail.contains("test-server starting up"), "{r:?}");
}

#[test]
fn slow_ndjson_server_is_not_mistaken_for_a_header_server() {
    let dir = tempfile::tempdir().unwrap();
    let delay = (PROBE_WINDOW + Duration::from_millis(300))
        .as_millis()
        .to_string();
    let r = smoke_check(
        &test_server(dir.path(), &["--init-delay-ms", &delay]),
        STARTUP,
        TOOL,
    );
    assert_eq!(r.status, "passed", "{r:?}");
    assert_eq!(r.framing, Some(Framing::Ndjson));
}

#[test]
fn a_server_that_never_answers_fails_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let startup = Duration::from_millis(1200);
    let started = Instant::now();
    let r = smoke_check(&test_server(dir.path(), &["--never-answer"]), startup, TOOL);
    let elapsed = started.elapsed();
    assert_eq!(r.status, "failed");
    assert_eq!(
        r.message.as_deref(),
        Some("no initialize response within 1.2s"),
        "{r:?}"
    );
    assert_eq!(r.framing, None);
    assert!(elapsed >= startup, "{elapsed:?}");
    // Ending the two probe processes takes milliseconds; the bound is loose for loaded CI.
    assert!(elapsed < startup + Duration::from_secs(3), "{elapsed:?}");
}

#[test]
fn a_stderr_flood_before_the_answer_does_not_block() {
    let dir = tempfile::tempdir().unwrap();
    for framing in ["ndjson", "content-length"] {
        let r = smoke_check(
            &test_server(
                dir.path(),
                &["--framing", framing, "--stderr-before-init", "3000000"],
            ),
            STARTUP,
            TOOL,
        );
        assert_eq!(
            r.status,
            "passed",
            "{framing}: {}",
            r.message.unwrap_or_default()
        );
        assert!(!r.stderr_tail.is_empty());
        assert!(r.stderr_tail.chars().count() <= 2000);
    }
}

#[test]
fn an_error_reply_to_tools_list_fails_with_its_message() {
    let dir = tempfile::tempdir().unwrap();
    let r = smoke_check(
        &test_server(dir.path(), &["--tools-list-error"]),
        STARTUP,
        TOOL,
    );
    assert_eq!(r.status, "failed");
    assert_eq!(
        r.message.as_deref(),
        Some("tools/list failed: tool registry exploded (code -32603)")
    );
    assert_eq!(r.framing, Some(Framing::Ndjson));
    assert_eq!(
        r.to_json()["message"],
        json!("tools/list failed: tool registry exploded (code -32603)")
    );
}

#[test]
fn a_server_that_exits_at_once_fails_fast() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let long = Duration::from_secs(30);
    let r = smoke_check(
        &test_server(dir.path(), &["--exit-at-start", "7"]),
        long,
        TOOL,
    );
    assert_eq!(r.status, "failed");
    assert_eq!(
        r.message.as_deref(),
        Some("no initialize response: the server closed its output (exit code 7)"),
        "{r:?}"
    );
    // Not waiting for the deadline: both probes exited, so detection gave up at once.
    assert!(started.elapsed() < long / 3, "{r:?}");
}

#[test]
fn a_missing_command_or_cwd_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let r = smoke_check(
        &ServerCommand::new("no-such-mcp-server-binary", ["x"], dir.path()),
        STARTUP,
        TOOL,
    );
    assert_eq!(r.status, "failed");
    let msg = r.message.unwrap();
    assert!(
        msg.starts_with("could not start server: cannot start `no-such-mcp-server-binary`: "),
        "{msg}"
    );
    let r = smoke_check(
        &ServerCommand::new("python3", ["-c", "pass"], dir.path().join("missing")),
        STARTUP,
        TOOL,
    );
    assert!(
        r.message.unwrap().contains("working directory"),
        "clear cwd message"
    );
}

#[test]
fn the_whole_group_is_ended_even_when_the_server_ignores_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("pid");
    let pidfile_s = pidfile.display().to_string();
    let r = smoke_check(
        &test_server(
            dir.path(),
            &["--pidfile", &pidfile_s, "--grandchild", "--ignore-term"],
        ),
        STARTUP,
        TOOL,
    );
    assert_eq!(r.status, "passed", "{r:?}");
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let child: u32 = std::fs::read_to_string(dir.path().join("pid.child"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SIGTERM was ignored, so the group was killed after the 1 s grace.
    assert!(r.duration_ms >= 1000, "{r:?}");
    assert!(process_gone(pid), "server {pid} still running");
    assert!(
        eventually(Duration::from_secs(2), || process_gone(child)),
        "grandchild {child} still running"
    );
}
