//! Checking one MCP server: the smoke check (initialize + tools/list, either framing) and the
//! self-test, both as supervised child processes (own process group, deadline, output streamed to
//! bounded captures). [`McpActivator`] is the seam activation uses, so tests and builds without
//! MCP support can stand in for the real checks.

use super::manifest::{McpServer, SelfTestSpec};
use super::wiring;
use crate::cancel::CancelToken;
use crate::runner::process::{self, ProcessError, ProcessSpec};
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Characters of a self-test's stdout or stderr kept in the report.
pub const OUTPUT_KEEP: usize = 8000;

/// Runs the checks of one normalised server.
pub trait McpActivator {
    /// Starts the server, sends `initialize` and `tools/list`, stops it. The object has `status`
    /// (`"passed"` or a failure), `tools` (names), `framing` (`"ndjson"`, `"content-length"` or
    /// null) and, on failure, `message`.
    fn smoke(&self, server: &McpServer) -> Value;
    /// Runs the self-test. The object has `status` (`passed`, `failed`, `timeout`, `cancelled`)
    /// and `message`, plus `command`, `return_code`, `stdout`, `stderr` when it ran.
    fn self_test(&self, server: &McpServer, spec: &SelfTestSpec) -> Value;
    /// The `harnessgym` executable that serves `mcp-proxy` and `mcp-call`.
    fn harnessgym_bin(&self) -> PathBuf {
        wiring::harnessgym_bin()
    }
}

/// For builds and callers without MCP support: every server is reported inactive, with the
/// reason, instead of being wired in unchecked.
pub struct McpNotSupported;

const NOT_SUPPORTED: &str = "MCP server activation is not available in this build";

impl McpActivator for McpNotSupported {
    fn smoke(&self, _server: &McpServer) -> Value {
        json!({"status": "not_run", "tools": [], "framing": null, "message": NOT_SUPPORTED})
    }
    fn self_test(&self, _server: &McpServer, _spec: &SelfTestSpec) -> Value {
        json!({"status": "not_run", "message": NOT_SUPPORTED})
    }
}

/// The real checks: `harnessgym_mcp::smoke_check` and supervised self-tests; Ctrl-C (the
/// token) ends a running self-test's whole process group.
pub struct SupervisedMcp {
    cancel: CancelToken,
    bin: PathBuf,
}

impl SupervisedMcp {
    pub fn new(cancel: CancelToken) -> SupervisedMcp {
        SupervisedMcp {
            cancel,
            bin: wiring::harnessgym_bin(),
        }
    }

    /// Uses another `harnessgym` executable for the proxy and the helper (tests).
    #[must_use]
    pub fn with_bin(mut self, bin: impl Into<PathBuf>) -> SupervisedMcp {
        self.bin = bin.into();
        self
    }
}

impl McpActivator for SupervisedMcp {
    fn smoke(&self, server: &McpServer) -> Value {
        let command = harnessgym_mcp::ServerCommand {
            command: server.command.clone(),
            args: server.args.clone(),
            cwd: server.cwd.clone(),
            env: server
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        };
        let report = harnessgym_mcp::smoke_check(
            &command,
            Duration::from_secs(server.startup_timeout_sec),
            Duration::from_secs(server.tool_timeout_sec),
        );
        let mut v = report.to_json();
        if !v.is_object() {
            v = json!({});
        }
        v["status"] = json!(report.status);
        v["tools"] = json!(report.tools);
        v["framing"] = report
            .framing
            .as_ref()
            .and_then(|f| serde_json::to_value(f).ok())
            .unwrap_or(Value::Null);
        if let Some(m) = &report.message {
            v["message"] = json!(m);
        }
        v
    }

    fn self_test(&self, server: &McpServer, spec: &SelfTestSpec) -> Value {
        run_self_test(spec, &server.env, server.self_test_timeout(), &self.cancel)
    }

    fn harnessgym_bin(&self) -> PathBuf {
        self.bin.clone()
    }
}

/// Runs a self-test in its own process group with stdin from /dev/null, its output streamed to
/// scratch files outside the workspace, a deadline (TERM to the group, then KILL), and only the
/// head and tail of each stream kept.
pub fn run_self_test(
    spec: &SelfTestSpec,
    env: &std::collections::BTreeMap<String, String>,
    timeout_sec: u64,
    cancel: &CancelToken,
) -> Value {
    let mut result = json!({
        "command": spec.command,
        "cwd": spec.cwd.to_string_lossy(),
        "timeout_sec": timeout_sec,
    });
    let scratch = match scratch_dir() {
        Ok(d) => d,
        Err(e) => {
            result["status"] = json!("failed");
            result["message"] = json!(format!(
                "could not run self-test: no scratch directory: {e}"
            ));
            return result;
        }
    };
    let (out, err) = (scratch.join("stdout.txt"), scratch.join("stderr.txt"));
    let mut ps = ProcessSpec::new(&spec.command[0], &spec.cwd, &out, &err)
        .args(&spec.command[1..])
        .timeout(Duration::from_secs(timeout_sec))
        .grace(Duration::from_secs(2));
    for (k, v) in env {
        ps = ps.env(k, v);
    }
    let started = Instant::now();
    let outcome = process::run(&ps, cancel);
    result["duration_ms"] = json!(started.elapsed().as_millis() as u64);
    match outcome {
        Ok(o) => {
            let (status, message) = if o.cancelled {
                ("cancelled", "self-test cancelled".to_string())
            } else if o.timed_out {
                (
                    "timeout",
                    format!(
                        "self-test timed out after {timeout_sec}s; its process group was ended"
                    ),
                )
            } else if o.exit_code == Some(0) {
                ("passed", "self-test passed".to_string())
            } else if let Some(code) = o.exit_code {
                ("failed", format!("self-test exited {code}"))
            } else {
                (
                    "failed",
                    format!("self-test was killed by signal {}", o.signal.unwrap_or(0)),
                )
            };
            result["status"] = json!(status);
            result["message"] = json!(message);
            result["return_code"] = json!(o.exit_code);
            result["stdout"] = json!(clip(&out, o.stdout_bytes));
            result["stderr"] = json!(clip(&err, o.stderr_bytes));
        }
        Err(e) => {
            let what = match &e {
                ProcessError::NotFound { program } => format!("program not found: {program}"),
                other => other.to_string(),
            };
            result["status"] = json!("failed");
            result["message"] = json!(format!("could not run self-test: {what}"));
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// A fresh private directory under the system temp dir.
fn scratch_dir() -> std::io::Result<PathBuf> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    let name: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let dir = std::env::temp_dir().join(format!("harnessgym-selftest-{name}"));
    std::fs::create_dir(&dir)?;
    Ok(dir)
}

/// The whole output when short; else its first quarter and last three quarters of
/// [`OUTPUT_KEEP`] bytes around a marker (a traceback is at the end).
fn clip(path: &Path, total: u64) -> String {
    if total as usize <= OUTPUT_KEEP {
        return process::read_lossy(path, OUTPUT_KEEP);
    }
    let head_len = OUTPUT_KEEP / 4;
    let mut head = Vec::new();
    if let Ok(f) = std::fs::File::open(path) {
        let _ = f.take(head_len as u64).read_to_end(&mut head);
    }
    let tail = process::read_lossy(path, OUTPUT_KEEP - head_len);
    format!(
        "{}\n...[truncated {} bytes]...\n{tail}",
        String::from_utf8_lossy(&head),
        total.saturating_sub(OUTPUT_KEEP as u64)
    )
}
