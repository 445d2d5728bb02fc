//! The client: calls in both framings, server→client requests, timeouts and dying servers.

use crate::test_server;
use harnessgym_mcp::{Client, Framing, McpError};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(5);

fn text_of(response: &Value) -> &str {
    response["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or("")
}

#[test]
fn calls_tools_in_both_framings_fixed_or_detected() {
    let dir = tempfile::tempdir().unwrap();
    for (server_framing, given) in [
        ("ndjson", Some(Framing::Ndjson)),
        ("ndjson", None),
        ("content-length", Some(Framing::ContentLength)),
        ("content-length", None),
    ] {
        let mut c = Client::spawn(
            &test_server(dir.path(), &["--framing", server_framing]),
            given,
        )
        .unwrap();
        let init = c.initialize(Client::initialize_params("test"), T).unwrap();
        assert_eq!(init["serverInfo"]["name"], "test-server");
        assert_eq!(c.framing().map(Framing::as_str), Some(server_framing));
        let list = c.list_tools(T).unwrap();
        assert_eq!(list["result"]["tools"][0]["name"], "echo");
        let r = c.call_tool("echo", json!({"b": 1, "a": "é"}), T).unwrap();
        assert_eq!(text_of(&r), r#"{"a": "\u00e9", "b": 1}"#);
        let r = c.call_tool("boom", json!({}), T).unwrap();
        assert_eq!(r["error"]["message"], "boom");
        c.close(Duration::from_secs(1));
    }
}

#[test]
fn server_to_client_requests_are_answered_while_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Client::spawn(&test_server(dir.path(), &[]), None).unwrap();
    c.initialize(Client::initialize_params("test"), T).unwrap();
    let r = c.call_tool("ask", json!({}), T).unwrap();
    // The client refused roots/list (it has none); the server got that answer and replied.
    assert_eq!(text_of(&r), "client answered: null");
}

#[test]
fn a_call_past_its_timeout_is_an_error_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Client::spawn(&test_server(dir.path(), &[]), Some(Framing::Ndjson)).unwrap();
    c.initialize(Client::initialize_params("test"), T).unwrap();
    let started = Instant::now();
    let err = c
        .call_tool("hold", json!({}), Duration::from_millis(300))
        .unwrap_err();
    assert!(matches!(err, McpError::Timeout { .. }), "{err}");
    assert_eq!(err.to_string(), "no tools/call response within 0.3s");
    // Bounded by the deadline, not by the server (loose upper bound for loaded CI machines).
    assert!(started.elapsed() < Duration::from_secs(3));
    // The connection still works; the held reply (to the earlier id) is skipped.
    let r = c.call_tool("release", json!({}), T).unwrap();
    assert_eq!(text_of(&r), "released");
    let r = c.call_tool("echo", json!({}), T).unwrap();
    assert_eq!(text_of(&r), "{}");
}

#[test]
fn a_server_dying_mid_call_is_reported_with_its_exit_code() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = Client::spawn(&test_server(dir.path(), &[]), None).unwrap();
    c.initialize(Client::initialize_params("test"), T).unwrap();
    let err = c.call_tool("die", json!({}), T).unwrap_err();
    assert_eq!(
        err.to_string(),
        "no tools/call response: the server closed its output (exit code 3)"
    );
}
