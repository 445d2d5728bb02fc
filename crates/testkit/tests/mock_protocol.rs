//! The mock's HTTP surface, driven with raw sockets (no real client needed).

use harnessgym_testkit::mock::{locate_binary, locate_mcp_binary, MockServer};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

fn read_reply(r: &mut BufReader<TcpStream>) -> Reply {
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let status: u16 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_string()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).unwrap();
    Reply {
        status,
        headers,
        body: String::from_utf8(body).unwrap(),
    }
}

fn connect(m: &MockServer) -> (TcpStream, BufReader<TcpStream>) {
    let s = TcpStream::connect(("127.0.0.1", m.port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let r = BufReader::new(s.try_clone().unwrap());
    (s, r)
}

fn post(s: &mut TcpStream, path: &str, body: &Value) {
    let b = body.to_string();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{b}",
        b.len()
    )
    .unwrap();
}

fn post_chunked(s: &mut TcpStream, path: &str, body: &Value) {
    let b = body.to_string();
    let (a, c) = b.split_at(b.len() / 2);
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{a}\r\n{:x}\r\n{c}\r\n0\r\n\r\n",
        a.len(),
        c.len()
    )
    .unwrap();
}

/// `(event, data)` pairs of an SSE body.
fn sse_events(body: &str) -> Vec<(String, Value)> {
    body.split("\n\n")
        .filter(|b| !b.trim().is_empty())
        .map(|b| {
            let mut ev = String::new();
            let mut data = String::new();
            for l in b.lines() {
                if let Some(e) = l.strip_prefix("event: ") {
                    ev = e.to_string();
                } else if let Some(d) = l.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (ev, serde_json::from_str(&data).unwrap())
        })
        .collect()
}

fn script() -> Value {
    json!({"rules": [
        {"when_prompt_contains": "Primary task", "steps": [
            {"shell": "echo hi > {workspace}/marker.txt"},
            {"mcp": {"server": "log", "tool": "record", "arguments": {"text": "x"}}},
            {"text": "Done."}]},
        {"when_prompt_contains": "Slow", "steps": [{"text": "late", "delay_ms": 300}]},
        {"when_prompt_contains": "", "steps": [{"text": "ok"}]}
    ]})
}

fn start(dir: &Path, script: &Value) -> MockServer {
    MockServer::start_json(dir, script)
}

#[test]
fn binary_is_found_beside_the_test_binary() {
    assert_eq!(
        locate_binary().unwrap(),
        Path::new(env!("CARGO_BIN_EXE_hg-mock-model"))
    );
    assert_eq!(
        locate_mcp_binary().unwrap(),
        Path::new(env!("CARGO_BIN_EXE_hg-mock-mcp"))
    );
}

#[test]
fn anthropic_steps_over_one_keep_alive_connection() {
    let dir = tempfile::tempdir().unwrap();
    let m = start(dir.path(), &script());
    let (mut s, mut r) = connect(&m);
    let prompt = "Primary task on this workspace:\n/ws/a\n";
    let mut messages = vec![json!({"role": "user", "content": [
        {"type": "text", "text": "<system-reminder>ctx</system-reminder>"},
        {"type": "text", "text": prompt}]})];

    // Step 0: a Bash tool_use, sent chunked.
    post_chunked(
        &mut s,
        "/v1/messages?beta=true",
        &json!({"model": "claude-x", "stream": true, "messages": messages}),
    );
    let rep = read_reply(&mut r);
    assert_eq!(rep.status, 200);
    assert!(rep
        .headers
        .iter()
        .any(|(k, v)| k == "content-type" && v == "text/event-stream"));
    let ev = sse_events(&rep.body);
    let names: Vec<&str> = ev.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        names,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let tool = &ev[1].1["content_block"];
    assert_eq!(tool["type"], "tool_use");
    assert_eq!(tool["name"], "Bash");
    let input: Value =
        serde_json::from_str(ev[2].1["delta"]["partial_json"].as_str().unwrap()).unwrap();
    assert_eq!(input["command"], "echo hi > /ws/a/marker.txt");
    assert_eq!(ev[4].1["delta"]["stop_reason"], "tool_use");
    assert!(ev[4].1["usage"]["output_tokens"].as_u64().unwrap() > 0);

    // Step 1 (same connection): the MCP tool.
    let id = tool["id"].clone();
    messages.push(json!({"role": "assistant", "content": [{"type": "tool_use", "id": id, "name": "Bash", "input": input}]}));
    messages.push(json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": "out-1"}]}));
    post(
        &mut s,
        "/v1/messages?beta=true",
        &json!({"model": "claude-x", "stream": true, "messages": messages}),
    );
    let ev = sse_events(&read_reply(&mut r).body);
    assert_eq!(ev[1].1["content_block"]["name"], "mcp__log__record");

    // Past the steps, non-streaming: one JSON message with the final text.
    messages.push(json!({"role": "assistant", "content": [{"type": "tool_use", "id": "t2", "name": "mcp__log__record", "input": {}}]}));
    messages.push(json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t2", "content": [{"type": "text", "text": "out-2"}]}]}));
    post(
        &mut s,
        "/v1/messages",
        &json!({"model": "claude-x", "messages": messages}),
    );
    let msg: Value = serde_json::from_str(&read_reply(&mut r).body).unwrap();
    assert_eq!(msg["type"], "message");
    assert_eq!(msg["stop_reason"], "end_turn");
    assert_eq!(msg["content"][0]["text"], "Done.");

    let log = m.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(log[0]["api"], "anthropic");
    assert_eq!(log[0]["prompt"], prompt);
    assert_eq!(log[0]["rule"], 0);
    assert_eq!(log[0]["step"], 0);
    assert_eq!(log[0]["model"], "claude-x");
    assert_eq!(log[0]["history_len"], 1);
    assert_eq!(log[2]["step"], 2);
    assert_eq!(log[2]["tool_results"], json!(["out-1", "out-2"]));
    assert_eq!(log[2]["refused"], false);
}

#[test]
fn responses_steps_direct_and_code_mode() {
    let dir = tempfile::tempdir().unwrap();
    let m = start(dir.path(), &script());
    let (mut s, mut r) = connect(&m);
    let input = json!([
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>\n</environment_context>"}]},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Primary task in /ws/b"}]},
        {"type": "function_call", "call_id": "c1", "name": "exec_command", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": "done"}
    ]);
    let tools = json!([{"type": "function", "name": "exec_command"},
        {"type": "namespace", "name": "mcp__log", "tools": [{"type": "function", "name": "record"}]}]);
    post(
        &mut s,
        "/v1/responses",
        &json!({"model": "mock-model", "stream": true, "input": input, "tools": tools}),
    );
    let ev = sse_events(&read_reply(&mut r).body);
    let names: Vec<&str> = ev.iter().map(|(e, _)| e.as_str()).collect();
    assert_eq!(
        names,
        [
            "response.created",
            "response.output_item.added",
            "response.output_item.done",
            "response.completed"
        ]
    );
    let item = &ev[2].1["item"];
    assert_eq!(item["type"], "function_call");
    assert_eq!(item["name"], "record");
    assert_eq!(item["namespace"], "mcp__log");
    assert_eq!(item["arguments"], r#"{"text":"x"}"#);
    let done = &ev[3].1["response"];
    assert!(done["id"].as_str().unwrap().starts_with("resp_"));
    assert!(done["usage"]["total_tokens"].as_u64().unwrap() > 0);

    // Code mode: no top-level tools, an additional_tools item; step 0 → custom_tool_call exec.
    let input = json!([
        {"type": "additional_tools", "role": "developer", "tools": []},
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Primary task in /ws/c"}]}
    ]);
    post(
        &mut s,
        "/v1/responses",
        &json!({"model": "gpt-x", "stream": true, "input": input}),
    );
    let ev = sse_events(&read_reply(&mut r).body);
    let item = &ev[2].1["item"];
    assert_eq!(item["type"], "custom_tool_call");
    assert_eq!(item["name"], "exec");
    assert_eq!(
        item["input"],
        "const r = await tools.exec_command({cmd: \"echo hi > /ws/c/marker.txt\"});\ntext(r);\n"
    );

    // A text answer, non-streaming.
    post(
        &mut s,
        "/v1/responses",
        &json!({"model": "mock-model", "input": "hello", "tools": tools}),
    );
    let resp: Value = serde_json::from_str(&read_reply(&mut r).body).unwrap();
    assert_eq!(resp["status"], "completed");
    assert_eq!(resp["output"][0]["content"][0]["text"], "ok");

    let log = m.requests();
    assert_eq!(log[0]["api"], "responses");
    assert_eq!(log[0]["step"], 1);
    assert_eq!(log[0]["mode"], "direct");
    assert_eq!(log[1]["mode"], "code");
    assert_eq!(log[2]["rule"], 2);
}

#[test]
fn refuses_connect_and_other_paths() {
    let dir = tempfile::tempdir().unwrap();
    let m = start(dir.path(), &script());
    let (mut s, mut r) = connect(&m);
    write!(
        s,
        "CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n\r\n"
    )
    .unwrap();
    assert_eq!(read_reply(&mut r).status, 403);
    let (mut s, mut r) = connect(&m);
    write!(
        s,
        "GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n"
    )
    .unwrap();
    assert_eq!(read_reply(&mut r).status, 403);
    write!(s, "GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_reply(&mut r).status, 403);
    let refused = m.refused_requests();
    assert_eq!(refused.len(), 3);
    assert_eq!(refused[0]["method"], "CONNECT");
    assert_eq!(refused[0]["path"], "api.anthropic.com:443");
    assert!(m.model_requests().is_empty());
}

#[test]
fn auth_status_and_delay() {
    let dir = tempfile::tempdir().unwrap();
    let m = start(dir.path(), &json!({"auth_status": 401, "rules": []}));
    let (mut s, mut r) = connect(&m);
    post(
        &mut s,
        "/v1/messages",
        &json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
    );
    let rep = read_reply(&mut r);
    assert_eq!(rep.status, 401);
    let body: Value = serde_json::from_str(&rep.body).unwrap();
    assert_eq!(body["type"], "error");
    assert_eq!(body["error"]["type"], "authentication_error");
    post(
        &mut s,
        "/v1/responses",
        &json!({"model": "m", "input": "hi"}),
    );
    let body: Value = serde_json::from_str(&read_reply(&mut r).body).unwrap();
    assert_eq!(body["error"]["code"], "invalid_api_key");
    assert_eq!(m.requests()[1]["status"], 401);

    let m = start(dir.path(), &script());
    let (mut s, mut r) = connect(&m);
    let t = Instant::now();
    post(
        &mut s,
        "/v1/messages",
        &json!({"model": "m", "messages": [{"role": "user", "content": "Slow please"}]}),
    );
    let msg: Value = serde_json::from_str(&read_reply(&mut r).body).unwrap();
    assert_eq!(msg["content"][0]["text"], "late");
    assert!(t.elapsed() >= Duration::from_millis(300));
}

#[test]
fn in_process_server_behaves_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let script_path = dir.path().join("s.json");
    std::fs::write(&script_path, script().to_string()).unwrap();
    let mut m = MockServer::start_in_process(&script_path, &dir.path().join("log.jsonl"));
    let (mut s, mut r) = connect(&m);
    post(
        &mut s,
        "/v1/messages",
        &json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
    );
    let msg: Value = serde_json::from_str(&read_reply(&mut r).body).unwrap();
    assert_eq!(msg["content"][0]["text"], "ok");
    assert_eq!(m.requests().len(), 1);
    m.stop();
}

#[test]
fn bad_script_is_rejected_by_the_binary() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.json");
    std::fs::write(&p, r#"{"rules": [{"steps": [{"nope": 1}]}]}"#).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hg-mock-model"))
        .arg("--script")
        .arg(&p)
        .arg("--log")
        .arg(dir.path().join("l.jsonl"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid mock script"));
}
