//! The `mcp_calls.jsonl` telemetry log: one compact JSON object per `tools/call`, keys sorted,
//! each line appended with one `write` on an `O_APPEND` descriptor (so lines from concurrent
//! proxies never interleave).
//!
//! The fields are the original's (harness spec §4.4) plus `framing`, `iteration`, `phase`,
//! `request_bytes`, `response_bytes`, `run_id`, and `late` (present, `true`, only on the line
//! recorded for a reply that arrived after its request had timed out). `status` is one of
//! [`STATUS_OK`], [`STATUS_TOOL_ERROR`], [`STATUS_PROTOCOL_ERROR`], [`STATUS_TIMEOUT`],
//! [`STATUS_CANCELLED`] (the original wrote `completed`, `error`, `timeout`).

use crate::framing::Framing;
use crate::process::LogSink;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// The server answered with a `result` whose `isError` is not `true`.
pub const STATUS_OK: &str = "ok";
/// The server answered with a `result` whose `isError` is `true` (a tool-level failure).
pub const STATUS_TOOL_ERROR: &str = "tool_error";
/// The server answered with a JSON-RPC `error`, or exited before answering.
pub const STATUS_PROTOCOL_ERROR: &str = "protocol_error";
/// No answer within the response timeout; the client got a synthesised `-32000` error.
pub const STATUS_TIMEOUT: &str = "timeout";
/// The client sent `notifications/cancelled` for it, or the proxy ended (signal, client gone)
/// before the answer.
pub const STATUS_CANCELLED: &str = "cancelled";

/// One line of `mcp_calls.jsonl`. Fields are declared in sorted order, which is the order
/// they are written in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRecord {
    /// Byte length of the arguments as compact, key-sorted, ASCII-escaped JSON (`{}` → 2).
    pub argument_json_bytes: u64,
    /// Sorted keys of `params.arguments` (empty when it is not an object).
    pub argument_keys: Vec<String>,
    /// When the request was received (UTC, microseconds, `Z`).
    pub created_at: String,
    /// Milliseconds from the request to the answer (or timeout, or cancellation).
    pub duration_ms: u64,
    /// `error.message` of a JSON-RPC error; the proxy's reason for `timeout` and `cancelled`;
    /// the first text content (up to 1000 characters) for `tool_error`; else empty.
    pub error_message: String,
    /// The server's framing, when known.
    pub framing: Option<Framing>,
    /// The iteration given to the proxy (`--iteration`), if any.
    pub iteration: Option<u64>,
    /// `true` on the extra line recorded for a reply that arrived after its timeout.
    #[serde(default, skip_serializing_if = "is_false")]
    pub late: bool,
    /// Always `tools/call`.
    pub method: String,
    /// The phase given to the proxy (`--phase`), if any.
    pub phase: Option<String>,
    /// Bytes of the request as the client sent it.
    pub request_bytes: u64,
    /// The request's `id`, as sent.
    pub request_id: Value,
    /// Bytes of the answer the client received (the server's, or the synthesised error); 0
    /// when it got none.
    pub response_bytes: u64,
    /// Byte length of `result` (or of the `error` object) as compact, key-sorted,
    /// ASCII-escaped JSON; 0 when there was no answer.
    pub result_json_bytes: u64,
    /// The run id given to the proxy (`--run`), if any.
    pub run_id: Option<String>,
    /// The server name given to the proxy.
    pub server: String,
    /// See the `STATUS_*` constants.
    pub status: String,
    /// `params.name` (empty when missing).
    pub tool_name: String,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Appends [`CallRecord`]s to a file, reporting write failures on a diagnostics sink.
pub(crate) struct TelemetryLog {
    path: PathBuf,
    file: Mutex<Option<File>>,
    diag: Arc<LogSink>,
}

impl TelemetryLog {
    /// Opens (creating it and its directory) `path` for appending. A failure is reported and
    /// retried at each write.
    pub(crate) fn open(path: &Path, diag: Arc<LogSink>) -> TelemetryLog {
        let log = TelemetryLog {
            path: path.to_path_buf(),
            file: Mutex::new(None),
            diag,
        };
        let file = log.try_open();
        *log.file.lock().unwrap_or_else(|e| e.into_inner()) = file;
        log
    }

    fn try_open(&self) -> Option<File> {
        if let Some(parent) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            let _ = std::fs::create_dir_all(parent);
        }
        match OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
        {
            Ok(f) => Some(f),
            Err(e) => {
                self.diag.line(&format!(
                    "harnessgym mcp-proxy: could not open telemetry log {}: {e}",
                    self.path.display()
                ));
                None
            }
        }
    }

    pub(crate) fn append(&self, record: &CallRecord) {
        let mut line = match serde_json::to_vec(record) {
            Ok(l) => l,
            Err(e) => {
                self.diag.line(&format!(
                    "harnessgym mcp-proxy: could not serialise telemetry: {e}"
                ));
                return;
            }
        };
        line.push(b'\n');
        let mut guard = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if guard.is_none() {
            *guard = self.try_open();
        }
        if let Some(f) = guard.as_mut() {
            // One write() on an O_APPEND descriptor: the line lands whole at the end.
            if let Err(e) = f.write_all(&line) {
                self.diag.line(&format!(
                    "harnessgym mcp-proxy: could not write telemetry to {}: {e}",
                    self.path.display()
                ));
            }
        }
    }
}
