//! The activation smoke check: `initialize` → `notifications/initialized` → `tools/list`
//! against a server, detecting its framing (harness spec §3.3, with its defects fixed).
//!
//! Differences from the original: the server's framing is detected (newline-delimited JSON or
//! `Content-Length`) and reported; response ids are checked; notifications and server→client
//! requests before a response are skipped (requests are answered); an `error` reply to
//! `initialize` or `tools/list` fails the check with its message; `tools/list` pages are
//! followed (`nextCursor`); stderr is drained concurrently and its tail reported; the server
//! runs in its own process group, which is ended (SIGTERM, 1 s, SIGKILL) afterwards.

use crate::client::{rpc_error_of, Client, McpError};
use crate::framing::Framing;
use crate::process::ServerCommand;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};

/// Characters of server stderr kept in [`SmokeReport::stderr_tail`].
pub const STDERR_TAIL_CHARS: usize = 2000;
/// `tools/list` pages followed at most.
const MAX_PAGES: usize = 100;

/// The outcome of [`smoke_check`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmokeReport {
    /// `"passed"` or `"failed"`.
    pub status: String,
    /// Tool names from `tools/list` (entries with a non-empty string `name`), in order.
    pub tools: Vec<String>,
    /// Why it failed (`None` when passed).
    pub message: Option<String>,
    /// The server's framing, when it answered `initialize`.
    pub framing: Option<Framing>,
    /// The last characters of the server's stderr (with notes about skipped stdout output).
    pub stderr_tail: String,
    /// Wall time of the whole check, including ending the server.
    pub duration_ms: u64,
}

impl SmokeReport {
    /// Whether the check passed.
    pub fn passed(&self) -> bool {
        self.status == "passed"
    }

    /// `{status, tools?, message?, framing?, stderr_tail?, duration_ms}`: `tools` when passed
    /// or non-empty, the others when set or non-empty.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("status".into(), json!(self.status));
        if self.passed() || !self.tools.is_empty() {
            m.insert("tools".into(), json!(self.tools));
        }
        if let Some(msg) = &self.message {
            m.insert("message".into(), json!(msg));
        }
        if let Some(f) = self.framing {
            m.insert("framing".into(), json!(f.as_str()));
        }
        if !self.stderr_tail.is_empty() {
            m.insert("stderr_tail".into(), json!(self.stderr_tail));
        }
        m.insert("duration_ms".into(), json!(self.duration_ms));
        Value::Object(m)
    }
}

/// The `initialize` params the original's smoke check sent.
fn smoke_initialize_params() -> Value {
    json!({
        "protocolVersion": "2024-11-05",
        "capabilities": {},
        "clientInfo": {"name": "harnessgym", "version": "0.1"},
    })
}

/// `initialize` → `notifications/initialized` → `tools/list` against the server, detecting
/// its framing. `startup_timeout` bounds starting, framing detection and `initialize`;
/// `tool_timeout` bounds each `tools/list` page. Never panics; every failure is a report.
pub fn smoke_check(
    server: &ServerCommand,
    startup_timeout: Duration,
    tool_timeout: Duration,
) -> SmokeReport {
    let started = Instant::now();
    let finish = |status: &str,
                  tools: Vec<String>,
                  message: Option<String>,
                  framing: Option<Framing>,
                  stderr_tail: String| SmokeReport {
        status: status.into(),
        tools,
        message,
        framing,
        stderr_tail,
        duration_ms: started.elapsed().as_millis() as u64,
    };
    let mut client = match Client::spawn(server, None) {
        Ok(c) => c,
        Err(e) => {
            return finish(
                "failed",
                Vec::new(),
                Some(e.to_string()),
                None,
                String::new(),
            )
        }
    };
    let outcome = run(&mut client, startup_timeout, tool_timeout);
    let framing = client.framing();
    client.close(Duration::ZERO);
    let stderr_tail = client.stderr_tail(STDERR_TAIL_CHARS);
    match outcome {
        Ok(tools) => finish("passed", tools, None, framing, stderr_tail),
        Err(message) => finish("failed", Vec::new(), Some(message), framing, stderr_tail),
    }
}

fn run(
    client: &mut Client,
    startup_timeout: Duration,
    tool_timeout: Duration,
) -> Result<Vec<String>, String> {
    client
        .initialize(smoke_initialize_params(), startup_timeout)
        .map_err(|e: McpError| e.to_string())?;
    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let params = match &cursor {
            Some(c) => json!({"cursor": c}),
            None => json!({}),
        };
        let response = client
            .request("tools/list", params, tool_timeout)
            .map_err(|e| e.to_string())?;
        if let Some(err) = rpc_error_of("tools/list", &response) {
            return Err(err.to_string());
        }
        let Some(result) = response.get("result").and_then(Value::as_object) else {
            return Err(format!(
                "invalid tools/list response: result is not an object: {}",
                preview(&response)
            ));
        };
        let Some(list) = result.get("tools").and_then(Value::as_array) else {
            return Err("invalid tools/list response: result.tools is not an array".into());
        };
        tools.extend(
            list.iter()
                .filter_map(|t| t.get("name").and_then(Value::as_str))
                .filter(|n| !n.is_empty())
                .map(str::to_string),
        );
        cursor = result
            .get("nextCursor")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_string);
        if cursor.is_none() {
            return Ok(tools);
        }
    }
    Ok(tools)
}

fn preview(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 300 {
        let cut: String = s.chars().take(300).collect();
        format!("{cut}…")
    } else {
        s
    }
}
