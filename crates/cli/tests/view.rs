//! `harnessgym view` over real HTTP: the API, its refusals, server-sent events and the UI files.

mod common;

use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

struct View {
    child: Child,
    port: u16,
}

impl Drop for View {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(ws: &std::path::Path, db: &std::path::Path) -> View {
    let mut child = common::bin()
        .args(["view", "--port", "0", "--db"])
        .arg(db)
        .arg(ws)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .trim()
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches('/')
        .parse()
        .unwrap_or_else(|_| panic!("no address on stdout: {line:?}"));
    // The server answers at once; the first index pass runs behind it, as `info` tells.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, info) = api(port, serde_json::json!({"cmd": "info"}));
        assert_eq!(status, 200, "{info}");
        assert!(info.get("indexing").is_some(), "{info}");
        if info["indexing"].is_null() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the first index pass never ended"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    View { child, port }
}

/// One raw HTTP exchange; returns (status, body).
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !headers.iter().any(|(k, _)| *k == "Host") {
        req.push_str(&format!("Host: 127.0.0.1:{port}\r\n"));
    }
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

fn api(port: u16, request: Value) -> (u16, Value) {
    let (status, body) = http(
        port,
        "POST",
        "/api",
        &[("Content-Type", "application/json")],
        &request.to_string(),
    );
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[test]
fn the_api_answers_and_refuses_what_it_must() {
    let ws = common::example_workspace();
    let out = common::run_fake(ws.path(), &["--iterations", "2", "--run-id", "view-run"]);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{out:?}");
    let db = tempfile::tempdir().unwrap();
    let v = start(ws.path(), &db.path().join("index.sqlite3"));

    let (status, runs) = api(v.port, serde_json::json!({"cmd": "runs", "args": {}}));
    assert_eq!(status, 200);
    assert_eq!(runs[0]["run_id"], "view-run");
    assert_eq!(runs[0]["iteration_count"], 2);

    let (status, info) = api(v.port, serde_json::json!({"cmd": "info"}));
    assert_eq!((status, info["shell"].as_str()), (200, Some("browser")));

    let outside = ws.path().join("../outside.txt");
    for path in [
        "/etc/passwd".to_string(),
        outside.to_string_lossy().into_owned(),
    ] {
        let (status, body) = api(
            v.port,
            serde_json::json!({"cmd": "read_text", "args": {"path": path}}),
        );
        assert_eq!(
            (status, body["kind"].as_str()),
            (403, Some("forbidden")),
            "{path}: {body}"
        );
    }
    let (status, body) = http(
        v.port,
        "POST",
        "/api",
        &[("Content-Type", "application/json")],
        "{\"cmd\": ",
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("invalid request"), "{body}");
    let (status, _) = http(
        v.port,
        "POST",
        "/api",
        &[("Content-Type", "text/plain")],
        "{\"cmd\":\"info\"}",
    );
    assert_eq!(status, 415);
    let (status, _) = http(
        v.port,
        "POST",
        "/api",
        &[
            ("Content-Type", "application/json"),
            ("Host", "evil.example:80"),
        ],
        "{\"cmd\":\"info\"}",
    );
    assert_eq!(status, 403, "DNS rebinding: a foreign Host is refused");
    // A body over 1 MiB is refused from its Content-Length, before it is read.
    let mut sock = TcpStream::connect(("127.0.0.1", v.port)).unwrap();
    write!(
        sock,
        "POST /api HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        v.port,
        2 << 20
    )
    .unwrap();
    let mut reply = String::new();
    sock.read_to_string(&mut reply).unwrap();
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    let (status, _) = http(v.port, "GET", "/../../etc/passwd", &[], "");
    assert_eq!(status, 404);
    // The page itself: the embedded UI, or a clear 503 when the binary was built without it.
    let (status, body) = http(v.port, "GET", "/", &[], "");
    assert!(
        (status == 200 && body.contains("<div id=\"app\">"))
            || (status == 503 && body.contains("npm run build")),
        "{status} {body}"
    );
}

#[test]
fn server_sent_events_follow_a_growing_phase_file() {
    let ws = common::example_workspace();
    let out = common::run_fake(ws.path(), &["--iterations", "1", "--run-id", "live"]);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{out:?}");
    let db = tempfile::tempdir().unwrap();
    let v = start(ws.path(), &db.path().join("index.sqlite3"));

    let mut s = TcpStream::connect(("127.0.0.1", v.port)).unwrap();
    write!(
        s,
        "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n\r\n",
        v.port
    )
    .unwrap();
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut reader = BufReader::new(s);
    let mut seen = String::new();
    // Reads the stream until `what` shows up or `within` passes.
    let read_until = |reader: &mut BufReader<TcpStream>, seen: &mut String, what: &str, within| {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline && !seen.contains(what) {
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            seen.push_str(&line);
        }
        seen.contains(what)
    };
    assert!(
        read_until(
            &mut reader,
            &mut seen,
            ": connected",
            Duration::from_secs(10)
        ),
        "{seen:?}"
    );
    // The watcher's first pass may still be arming its watches (a write then lands in that pass
    // and sends no change), so write until a change for the run arrives.
    let stdout = ws
        .path()
        .join(".harnessgym/runs/live/iterations/1/attempt.stdout.txt");
    let mut changed = false;
    for _ in 0..15 {
        std::fs::OpenOptions::new()
            .append(true)
            .open(&stdout)
            .unwrap()
            .write_all(b"a new line\n")
            .unwrap();
        if read_until(
            &mut reader,
            &mut seen,
            "\"run_id\":\"live\"",
            Duration::from_secs(1),
        ) {
            changed = true;
            break;
        }
    }
    assert!(changed, "no change event for the run in {seen:?}");
    let (_, w) = api(
        v.port,
        serde_json::json!({"cmd": "read_text", "args": {"path": stdout, "start_line": 0, "max_lines": 5000}}),
    );
    let lines = w["lines"].as_array().unwrap();
    assert_eq!(lines.last().unwrap(), "a new line");
}

#[test]
fn a_busy_port_is_refused_before_indexing() {
    let ws = common::example_workspace();
    let out = common::run_fake(ws.path(), &["--iterations", "1", "--run-id", "busy"]);
    assert!(matches!(out.status.code(), Some(0 | 3)), "{out:?}");
    let db = tempfile::tempdir().unwrap();
    let first = start(ws.path(), &db.path().join("index.sqlite3"));
    let second = common::bin()
        .args(["view", "--port", &first.port.to_string(), "--db"])
        .arg(db.path().join("other.sqlite3"))
        .arg(ws.path())
        .output()
        .unwrap();
    assert_eq!(second.status.code(), Some(1));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains("pass --port 0"), "{err}");
    assert!(
        !db.path().join("other.sqlite3").exists(),
        "nothing indexed before the port was taken"
    );
}

#[test]
fn a_workspace_that_cannot_be_opened_stops_view_with_its_name() {
    let db = tempfile::tempdir().unwrap();
    let out = common::bin()
        .args(["view", "--port", "0", "--db"])
        .arg(db.path().join("index.sqlite3"))
        .arg(db.path().join("no-such-ws"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-ws"), "{err}");
    assert!(
        out.stdout.is_empty(),
        "no address printed: {:?}",
        out.stdout
    );
}
