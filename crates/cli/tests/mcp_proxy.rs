//! `harnessgym mcp-proxy` end to end: a test client speaking newline-delimited JSON to the real
//! binary, which wraps `crates/mcp/tests/servers/mcp_server.py` in either framing.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// Generous deadline for any single expected message (normally milliseconds).
const WAIT: Duration = Duration::from_secs(10);

fn server_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../mcp/tests/servers/mcp_server.py")
}

fn read_jsonl(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

fn process_gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// A running `harnessgym mcp-proxy` and a newline-delimited JSON client for it.
struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    dir: tempfile::TempDir,
    telemetry: PathBuf,
    stderr_path: PathBuf,
}

impl Session {
    /// Starts the proxy with `proxy_args` around the test server with `server_args`.
    fn start(proxy_args: &[&str], server_args: &[&str]) -> Session {
        let dir = tempfile::tempdir().unwrap();
        let telemetry = dir.path().join("ws/.harnessgym/mcp_calls.jsonl");
        let stderr_path = dir.path().join("proxy.stderr");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_harnessgym"));
        cmd.arg("mcp-proxy")
            .args(["--server-name", "tools", "--telemetry"])
            .arg(&telemetry)
            .args(proxy_args)
            .arg("--")
            .arg("python3")
            .arg(server_script())
            .args(server_args)
            .current_dir(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&stderr_path).unwrap());
        let mut child = cmd.spawn().unwrap();
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Session {
            child,
            stdin,
            lines: rx,
            dir,
            telemetry,
            stderr_path,
        }
    }

    fn send(&mut self, msg: &Value) {
        let mut line = serde_json::to_vec(msg).unwrap();
        line.push(b'\n');
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(&line).unwrap();
        stdin.flush().unwrap();
    }

    fn request(&mut self, id: i64, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
    }

    fn call(&mut self, id: i64, tool: &str, arguments: Value) {
        self.request(
            id,
            "tools/call",
            json!({"name": tool, "arguments": arguments}),
        );
    }

    /// The next message from the proxy, within `WAIT`.
    fn recv(&self) -> Value {
        match self.lines.recv_timeout(WAIT) {
            Ok(line) => serde_json::from_str(&line)
                .unwrap_or_else(|e| panic!("proxy wrote a line that is not JSON: {line:?}: {e}")),
            Err(e) => panic!(
                "no message from the proxy: {e:?}; stderr:\n{}",
                self.stderr()
            ),
        }
    }

    fn initialize(&mut self) -> Value {
        self.request(
            0,
            "initialize",
            json!({"protocolVersion": "2025-06-18", "capabilities": {},
                   "clientInfo": {"name": "test-client", "version": "1"}}),
        );
        let r = self.recv();
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        r
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    fn telemetry(&self) -> Vec<Value> {
        read_jsonl(&self.telemetry)
    }

    /// Closes stdin and waits for the proxy to exit; returns its exit code.
    fn finish(&mut self) -> Option<i32> {
        self.stdin = None;
        self.wait()
    }

    fn wait(&mut self) -> Option<i32> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("proxy did not exit; stderr:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text(response: &Value) -> &str {
    response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
}

fn by_id(lines: &[Value], id: i64) -> Vec<&Value> {
    lines
        .iter()
        .filter(|l| l["request_id"] == json!(id))
        .collect()
}

/// The main scenario, run against each server framing: several calls in flight answered out
/// of order, a server notification and a server→client request in the middle, a batch, tool
/// and protocol errors, a stderr flood during a call, then telemetry.
fn full_duplex_scenario(proxy_framing: &str, server_framing: &str) {
    let mut s = Session::start(
        &[
            "--framing",
            proxy_framing,
            "--run",
            "run-7",
            "--iteration",
            "3",
            "--phase",
            "attempt",
        ],
        &["--framing", server_framing, "--header-style", "extra"],
    );
    let init = s.initialize();
    assert_eq!(init["id"], 0);
    assert_eq!(init["result"]["serverInfo"]["name"], "test-server");
    // The server's (older) protocol version is passed through unchanged.
    assert_eq!(init["result"]["protocolVersion"], "2024-11-05");

    // Two requests in flight, answered out of order.
    s.call(1, "hold", json!({"why": "first"}));
    s.call(2, "release", json!({}));
    let a = s.recv();
    let b = s.recv();
    assert_eq!((a["id"].clone(), text(&a)), (json!(2), "released"));
    assert_eq!((b["id"].clone(), text(&b)), (json!(1), "held reply"));

    // A notification and a server→client request in the middle of a call; our answer to the
    // server's request is forwarded and the call completes.
    s.call(3, "ask", json!({}));
    let note = s.recv();
    assert_eq!(note["method"], "notifications/progress", "{note}");
    let ask = s.recv();
    assert_eq!(ask["method"], "roots/list");
    assert_eq!(ask["id"], "srv-1");
    s.send(&json!({"jsonrpc": "2.0", "id": "srv-1", "result": {"roots": [{"uri": "file:///w"}]}}));
    let r = s.recv();
    assert_eq!(r["id"], 3);
    assert_eq!(
        text(&r),
        r#"client answered: {"roots": [{"uri": "file:///w"}]}"#
    );

    // A batch: both answered in one array.
    s.send(&json!([
        {"jsonrpc": "2.0", "id": 4, "method": "tools/call", "params": {"name": "echo", "arguments": {"k": 1}}},
        {"jsonrpc": "2.0", "id": 5, "method": "ping"}
    ]));
    let batch = s.recv();
    let items = batch.as_array().expect("a batch answer");
    assert_eq!(items.len(), 2);
    assert_eq!(text(&items[0]), r#"{"k": 1}"#);
    assert_eq!(items[1]["id"], 5);

    // isError → tool_error; JSON-RPC error → protocol_error.
    s.call(6, "fail", json!({}));
    assert_eq!(s.recv()["result"]["isError"], true);
    s.call(7, "boom", json!({}));
    assert_eq!(s.recv()["error"]["message"], "boom");

    // 2 MB of stderr during a call does not stall it.
    s.call(8, "flood", json!({"bytes": 2_000_000}));
    assert_eq!(text(&s.recv()), "flooded");

    // Garbage on the server's stdout is skipped; the reply after it arrives.
    s.call(9, "garbage", json!({}));
    let r = s.recv();
    assert_eq!((r["id"].clone(), text(&r)), (json!(9), "after garbage"));

    assert_eq!(s.finish(), Some(0), "stderr:\n{}", s.stderr());
    assert!(
        s.stderr().contains("log capped at") || s.stderr().len() > 1_000_000,
        "server stderr reaches ours (capped)"
    );

    let lines = s.telemetry();
    let statuses: Vec<(i64, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["request_id"].as_i64().unwrap(),
                l["status"].as_str().unwrap(),
            )
        })
        .collect::<Vec<_>>();
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            (1, "ok"),
            (2, "ok"),
            (3, "ok"),
            (4, "ok"),
            (6, "tool_error"),
            (7, "protocol_error"),
            (8, "ok"),
            (9, "ok")
        ],
        "one line per tools/call only: {lines:#?}"
    );
    let hold = by_id(&lines, 1)[0];
    let keys: Vec<&str> = hold
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        vec![
            "argument_json_bytes",
            "argument_keys",
            "created_at",
            "duration_ms",
            "error_message",
            "framing",
            "iteration",
            "method",
            "phase",
            "request_bytes",
            "request_id",
            "response_bytes",
            "result_json_bytes",
            "run_id",
            "server",
            "status",
            "tool_name"
        ]
    );
    assert_eq!(hold["argument_keys"], json!(["why"]));
    assert_eq!(hold["argument_json_bytes"], 15); // {"why":"first"}
    assert_eq!(hold["method"], "tools/call");
    assert_eq!(hold["tool_name"], "hold");
    assert_eq!(hold["server"], "tools");
    assert_eq!(hold["run_id"], "run-7");
    assert_eq!(hold["iteration"], 3);
    assert_eq!(hold["phase"], "attempt");
    assert_eq!(hold["framing"], server_framing);
    assert_eq!(hold["error_message"], "");
    assert!(hold["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(hold["request_bytes"].as_u64().unwrap() > 50);
    assert!(hold["response_bytes"].as_u64().unwrap() > 50);
    assert!(hold["result_json_bytes"].as_u64().unwrap() > 20);
    let tool_error = by_id(&lines, 6)[0];
    assert_eq!(tool_error["error_message"], "it failed");
    let protocol_error = by_id(&lines, 7)[0];
    assert_eq!(protocol_error["error_message"], "boom");
    assert_eq!(protocol_error["result_json_bytes"], 32); // {"code":-32001,"message":"boom"}
}

#[test]
fn full_duplex_relay_to_a_content_length_server() {
    full_duplex_scenario("auto", "content-length");
}

#[test]
fn full_duplex_relay_to_an_ndjson_server() {
    full_duplex_scenario("ndjson", "ndjson");
}

/// A call that outlives the response timeout, then its late reply: the late reply is dropped
/// (and flagged), so every later request still gets its own reply.
fn timeout_then_late_reply(server_framing: &str) {
    // Long enough that the other calls never time out on a loaded machine.
    let mut s = Session::start(
        &["--response-timeout", "1", "--framing", server_framing],
        &["--framing", server_framing],
    );
    s.initialize();
    let started = Instant::now();
    s.call(1, "hold", json!({}));
    let timeout = s.recv();
    assert_eq!(timeout["id"], 1);
    assert_eq!(timeout["error"]["code"], -32000);
    assert_eq!(
        timeout["error"]["message"],
        "wrapped MCP server did not produce a response within 1s"
    );
    assert!(started.elapsed() >= Duration::from_secs(1));
    // The release makes the server answer 2, then (late) 1: only 2 reaches us.
    s.call(2, "release", json!({}));
    let r = s.recv();
    assert_eq!((r["id"].clone(), text(&r)), (json!(2), "released"));
    // The next request still gets its own reply (the late one was dropped, not queued).
    s.call(3, "echo", json!({"n": 3}));
    let r = s.recv();
    assert_eq!((r["id"].clone(), text(&r)), (json!(3), r#"{"n": 3}"#));
    assert_eq!(s.finish(), Some(0));
    assert!(
        s.stderr()
            .contains("dropped a late reply to tools/call id 1"),
        "{}",
        s.stderr()
    );
    let lines = s.telemetry();
    let one = by_id(&lines, 1);
    assert_eq!(one.len(), 2, "{lines:#?}");
    assert_eq!(one[0]["status"], "timeout");
    assert!(one[0].get("late").is_none());
    assert_eq!(
        one[0]["error_message"],
        "wrapped MCP server did not produce a response within 1s"
    );
    assert!(one[0]["duration_ms"].as_u64().unwrap() >= 1000);
    assert_eq!(one[1]["status"], "ok");
    assert_eq!(one[1]["late"], true);
    assert_eq!(by_id(&lines, 2)[0]["status"], "ok");
    assert_eq!(by_id(&lines, 3)[0]["status"], "ok");
}

#[test]
fn a_late_reply_from_an_ndjson_server_never_shifts_later_replies() {
    timeout_then_late_reply("ndjson");
}

#[test]
fn a_late_reply_from_a_content_length_server_never_shifts_later_replies() {
    timeout_then_late_reply("content-length");
}

#[test]
fn a_cancelled_request_is_logged_as_cancelled() {
    let mut s = Session::start(&["--framing", "ndjson"], &[]);
    s.initialize();
    s.call(1, "hold", json!({}));
    s.send(
        &json!({"jsonrpc": "2.0", "method": "notifications/cancelled",
                   "params": {"requestId": 1, "reason": "user pressed stop"}}),
    );
    s.call(2, "release", json!({}));
    // The server answers 2 and then 1; the client ignores the reply to 1 (it cancelled it).
    let mut got: Vec<Value> = vec![s.recv(), s.recv()];
    got.sort_by_key(|m| m["id"].as_i64());
    assert_eq!(text(&got[0]), "held reply");
    assert_eq!(text(&got[1]), "released");
    assert_eq!(s.finish(), Some(0));
    let lines = s.telemetry();
    let one = by_id(&lines, 1);
    assert_eq!(one.len(), 1, "{lines:#?}");
    assert_eq!(one[0]["status"], "cancelled");
    assert_eq!(
        one[0]["error_message"],
        "cancelled by the client: user pressed stop"
    );
}

#[test]
fn sigterm_flushes_telemetry_and_ends_the_server_group() {
    let dir = tempfile::tempdir().unwrap();
    let pidfile = dir.path().join("server.pid");
    let pidfile_s = pidfile.display().to_string();
    let mut s = Session::start(
        &["--framing", "content-length", "--iteration", "1"],
        &[
            "--framing",
            "content-length",
            "--pidfile",
            &pidfile_s,
            "--grandchild",
        ],
    );
    s.initialize();
    s.call(1, "hold", json!({"x": 1}));
    s.call(2, "echo", json!({}));
    assert_eq!(s.recv()["id"], 2); // 1 is in flight at the server
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let grandchild: u32 = std::fs::read_to_string(format!("{pidfile_s}.child"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    // SAFETY: signalling the proxy we started.
    unsafe {
        libc::kill(s.child.id() as libc::pid_t, libc::SIGTERM);
    }
    // Stdin stays open: real clients signal without closing it first.
    assert_eq!(s.wait(), Some(128 + libc::SIGTERM));
    let lines = s.telemetry();
    assert_eq!(by_id(&lines, 2)[0]["status"], "ok");
    let one = by_id(&lines, 1);
    assert_eq!(one.len(), 1, "{lines:#?}");
    assert_eq!(one[0]["status"], "cancelled");
    assert_eq!(
        one[0]["error_message"],
        "the proxy was stopped by signal 15 before the reply"
    );
    assert_eq!(one[0]["iteration"], 1);
    assert!(process_gone(pid), "server {pid} survived the proxy");
    assert!(
        eventually(Duration::from_secs(2), || process_gone(grandchild)),
        "grandchild {grandchild} survived the proxy"
    );
}

#[test]
fn sigint_without_stdin_eof_also_ends_the_proxy() {
    let mut s = Session::start(&["--framing", "ndjson"], &[]);
    s.initialize();
    // SAFETY: signalling the proxy we started.
    unsafe {
        libc::kill(s.child.id() as libc::pid_t, libc::SIGINT);
    }
    assert_eq!(s.wait(), Some(128 + libc::SIGINT));
}

#[test]
fn a_server_dying_mid_call_gets_the_client_an_error() {
    let mut s = Session::start(&[], &[]);
    s.initialize();
    s.call(1, "hold", json!({}));
    s.call(2, "die", json!({}));
    let mut got = [s.recv(), s.recv()];
    got.sort_by_key(|m| m["id"].as_i64());
    for (m, id) in got.iter().zip([1, 2]) {
        assert_eq!(m["id"], id);
        assert_eq!(m["error"]["code"], -32000);
        assert_eq!(
            m["error"]["message"],
            "wrapped MCP server exited before responding (exit code 3)"
        );
    }
    assert_eq!(s.wait(), Some(1));
    let lines = s.telemetry();
    assert_eq!(lines.len(), 2);
    assert!(lines.iter().all(|l| l["status"] == "protocol_error"));
}

#[test]
fn invalid_json_from_the_client_is_skipped() {
    let mut s = Session::start(&[], &[]);
    s.initialize();
    s.stdin
        .as_mut()
        .unwrap()
        .write_all(b"this is not json\n")
        .unwrap();
    s.call(1, "echo", json!({"a": 1}));
    assert_eq!(text(&s.recv()), r#"{"a": 1}"#);
    assert_eq!(s.finish(), Some(0));
    assert!(
        s.stderr().contains("skipped invalid JSON from the client"),
        "{}",
        s.stderr()
    );
}

#[test]
fn a_big_result_and_a_stderr_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("server.stderr");
    let log_s = log.display().to_string();
    let mut s = Session::start(
        &["--framing", "content-length", "--stderr-log", &log_s],
        &["--framing", "content-length"],
    );
    s.initialize();
    s.call(1, "big", json!({"bytes": 5_000_000}));
    let r = s.recv();
    assert_eq!(text(&r).len(), 5_000_000);
    s.call(2, "flood", json!({"bytes": 100_000}));
    assert_eq!(text(&s.recv()), "flooded");
    assert_eq!(s.finish(), Some(0));
    assert!(std::fs::metadata(&log).unwrap().len() >= 100_000);
    let lines = s.telemetry();
    assert!(by_id(&lines, 1)[0]["response_bytes"].as_u64().unwrap() > 5_000_000);
    let _ = &s.dir;
}

#[test]
fn usage_errors_are_one_line_with_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_harnessgym"))
        .args([
            "mcp-proxy",
            "--server-name",
            "x",
            "--telemetry",
            "t.jsonl",
            "--response-timeout",
            "-1",
            "--",
            "true",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("--response-timeout"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_harnessgym"))
        .args(["mcp-proxy", "--server-name", "x", "--telemetry", "t.jsonl"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A server that cannot start: one line, exit 1.
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_harnessgym"))
        .args([
            "mcp-proxy",
            "--server-name",
            "x",
            "--telemetry",
            "t.jsonl",
            "--",
            "no-such-server-binary",
        ])
        .current_dir(dir.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("harnessgym mcp-proxy: cannot start `no-such-server-binary`"),
        "{err}"
    );
}

#[test]
fn a_content_length_client_is_answered_in_kind() {
    // Like the original's `harnessgym-mcp-call`, which framed its requests with headers.
    let dir = tempfile::tempdir().unwrap();
    let telemetry = dir.path().join("calls.jsonl");
    let mut child = Command::new(env!("CARGO_BIN_EXE_harnessgym"))
        .args(["mcp-proxy", "--server-name", "s", "--telemetry"])
        .arg(&telemetry)
        .args(["--framing", "ndjson", "--", "python3"])
        .arg(server_script())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        let mut stdin = child.stdin.take().unwrap();
        for m in [
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}),
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                   "params": {"name": "echo", "arguments": {"q": true}}}),
        ] {
            harnessgym_mcp::write_message(&mut stdin, harnessgym_mcp::Framing::ContentLength, &m)
                .unwrap();
        }
    } // EOF: the proxy answers what is pending, then exits.
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let mut r = std::io::Cursor::new(out.stdout);
    let framing = harnessgym_mcp::Framing::ContentLength;
    let first = harnessgym_mcp::read_message(&mut r, framing)
        .unwrap()
        .unwrap();
    assert_eq!(first["id"], 1);
    let second = harnessgym_mcp::read_message(&mut r, framing)
        .unwrap()
        .unwrap();
    assert_eq!(text(&second), r#"{"q": true}"#);
    assert_eq!(read_jsonl(&telemetry)[0]["status"], "ok");
}

/// The proxy's peak resident set so far (`VmHWM`), in bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {status}"));
    kb * 1024
}

/// Python's `json.dumps` (ASCII-escaped) length of the string `s`, quotes excluded.
fn python_str_len(s: &str) -> u64 {
    s.chars()
        .map(|c| match c {
            '"' | '\\' | '\n' | '\r' | '\t' | '\u{8}' | '\u{c}' => 2,
            c if (c as u32) < 0x20 || c == '\u{7f}' => 6,
            c if c.is_ascii() => 1,
            c if (c as u32) > 0xFFFF => 12,
            _ => 6,
        })
        .sum()
}

#[test]
fn a_50_mb_pretty_result_passes_intact_in_bounded_memory() {
    // A Content-Length server writing pretty (multi-line) JSON: the proxy re-frames it as one
    // line for this newline-delimited client without a second copy of the message.
    const CHARS: usize = 42_000_000;
    let pattern = "text line with \"quotes\", a \\ and é\n";
    let mut s = Session::start(
        &["--framing", "content-length", "--response-timeout", "120"],
        &["--framing", "content-length", "--pretty"],
    );
    s.initialize();
    s.call(1, "big", json!({"bytes": CHARS, "pattern": pattern}));
    let line = match s.lines.recv_timeout(Duration::from_secs(120)) {
        Ok(line) => line,
        Err(e) => panic!("no reply: {e:?}; stderr:\n{}", s.stderr()),
    };
    let rss = peak_rss(s.child.id());
    let message_bytes = line.len() as u64;
    assert!(message_bytes > 50_000_000, "{message_bytes}");
    let reply: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(reply["id"], 1);
    let got = text(&reply);
    let expected: String = pattern.chars().cycle().take(CHARS).collect();
    assert_eq!(got.len(), expected.len());
    let hash = |t: &str| {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        t.hash(&mut h);
        h.finish()
    };
    assert_eq!(hash(got), hash(&expected), "the text changed on the way");
    // The reply is the server's JSON with its line breaks removed (python's indent=2 output
    // has no other whitespace outside strings than after ':' and ',').
    assert!(!line.contains("\n"));
    // Telemetry: the bytes the client received, and python's length of the result.
    let mut envelope = reply["result"].clone();
    envelope["content"][0]["text"] = json!("");
    let result_len = serde_json::to_string(&envelope).unwrap().len() as u64 + python_str_len(got);
    assert_eq!(s.finish(), Some(0));
    let lines = s.telemetry();
    let rec = by_id(&lines, 1)[0];
    assert_eq!(rec["status"], "ok", "{rec}");
    assert_eq!(rec["response_bytes"], json!(message_bytes), "{rec}");
    assert_eq!(rec["result_json_bytes"], json!(result_len), "{rec}");
    // Peak RSS: the server's frame (its pretty form, slightly larger than the line) is the
    // only full copy; everything else is bounded.
    let bound = 20_000_000 + message_bytes * 11 / 10;
    assert!(
        rss < bound,
        "peak RSS {rss} B for a {message_bytes}-byte message (bound {bound})"
    );
    eprintln!("peak RSS {rss} B for a {message_bytes}-byte message");
}
