//! A minimal MCP client over stdio: spawn a server, `initialize`, `tools/list`, `tools/call`,
//! each with a deadline. Used by the smoke check and by `harnessgym mcp-call` (which points it
//! at `harnessgym mcp-proxy` so that its calls are logged).
//!
//! While it waits for a response the client skips notifications, skips responses to other ids,
//! and answers server→client requests itself (`ping` with an empty result, anything else with
//! `-32601 method not found`), so a server that asks for roots or sampling does not stall.

use crate::framing::Framing;
use crate::json::{classify, fmt_secs, Kind};
use crate::process::{
    describe_status, ProcessSet, ServerCommand, SpawnError, StderrLog, StderrRelay, DEFAULT_GRACE,
};
use crate::transport::{probe_window, OpenError, ServerEvent, Transport};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The MCP protocol version this client asks for by default.
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// Why a client operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum McpError {
    /// The server process could not be started.
    #[error("could not start server: {0}")]
    Spawn(#[from] SpawnError),
    /// Setting up the stderr log failed.
    #[error("could not open the stderr log: {0}")]
    Log(#[source] std::io::Error),
    /// No response to `method` by the deadline.
    #[error("no {method} response within {}s", fmt_secs(*timeout))]
    Timeout {
        /// The request's method.
        method: String,
        /// How long was waited.
        timeout: Duration,
    },
    /// The server closed its output (usually: exited) before answering `method`.
    #[error("no {method} response: the server closed its output ({detail})")]
    Exited {
        /// The request's method.
        method: String,
        /// How the server ended, e.g. `exit code 1`.
        detail: String,
    },
    /// The server answered `method` with a JSON-RPC error.
    #[error("{method} failed: {message} (code {code})")]
    Rpc {
        /// The request's method.
        method: String,
        /// `error.code`.
        code: i64,
        /// `error.message`.
        message: String,
    },
    /// The server's input is closed (it exited or closed its stdin).
    #[error("could not send {method} to the server: its input is closed")]
    Send {
        /// The message's method.
        method: String,
    },
}

/// A connection to one MCP server process.
pub struct Client {
    transport: Transport,
    procs: Arc<ProcessSet>,
    relay: Arc<StderrRelay>,
    next_id: i64,
    closed: bool,
    /// Notifications sent before the first request (the framing is not known yet).
    queued: Vec<Vec<u8>>,
}

impl Client {
    /// Starts `server` (stderr kept as a tail only). `framing` `None` detects it on the first
    /// request (see the crate docs).
    pub fn spawn(server: &ServerCommand, framing: Option<Framing>) -> Result<Client, McpError> {
        Client::spawn_with(server, framing, &StderrLog::Discard)
    }

    /// Like [`Client::spawn`], with the server's stderr also copied to `stderr`.
    pub fn spawn_with(
        server: &ServerCommand,
        framing: Option<Framing>,
        stderr: &StderrLog,
    ) -> Result<Client, McpError> {
        let relay = StderrRelay::for_log(stderr).map_err(McpError::Log)?;
        let procs = Arc::new(ProcessSet::default());
        let transport = Transport::start(server, framing, Arc::clone(&relay), Arc::clone(&procs))?;
        Ok(Client {
            transport,
            procs,
            relay,
            next_id: 1,
            closed: false,
            queued: Vec::new(),
        })
    }

    /// The standard `initialize` params with `client_name` as `clientInfo.name`.
    pub fn initialize_params(client_name: &str) -> Value {
        json!({
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": client_name, "version": env!("CARGO_PKG_VERSION")},
        })
    }

    /// Sends `initialize` with `params` (detecting the framing if needed), then
    /// `notifications/initialized`. Returns the `result` object; an error reply is
    /// [`McpError::Rpc`].
    pub fn initialize(&mut self, params: Value, timeout: Duration) -> Result<Value, McpError> {
        let response = self.request("initialize", params, timeout)?;
        if let Some(err) = response.get("error") {
            return Err(rpc_error("initialize", err));
        }
        let result = response.get("result").cloned().unwrap_or(Value::Null);
        self.notify("notifications/initialized", json!({}))?;
        Ok(result)
    }

    /// `tools/list`; returns the whole response message (it may carry `error`).
    pub fn list_tools(&mut self, timeout: Duration) -> Result<Value, McpError> {
        self.request("tools/list", json!({}), timeout)
    }

    /// `tools/call` of `name` with `arguments`; returns the whole response message (it may
    /// carry `error`, or `result.isError`).
    pub fn call_tool(
        &mut self,
        name: &str,
        arguments: Value,
        timeout: Duration,
    ) -> Result<Value, McpError> {
        self.request(
            "tools/call",
            json!({"name": name, "arguments": arguments}),
            timeout,
        )
    }

    /// Sends a notification.
    pub fn notify(&mut self, method: &str, params: Value) -> Result<(), McpError> {
        let body = json!({"jsonrpc": "2.0", "method": method, "params": params});
        let bytes = serde_json::to_vec(&body).expect("serialisable");
        if !self.transport.is_open() {
            // Before the first request the framing is unknown: sent with it, in order.
            self.queued.push(bytes);
            return Ok(());
        }
        if self.transport.send(&bytes) {
            Ok(())
        } else {
            Err(McpError::Send {
                method: method.into(),
            })
        }
    }

    /// Sends a request and waits up to `timeout` for the response with its id. Returns the
    /// whole response message.
    pub fn request(
        &mut self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, McpError> {
        let started = Instant::now();
        let deadline = started + timeout;
        let id = self.next_id;
        self.next_id += 1;
        let body = serde_json::to_vec(
            &json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}),
        )
        .expect("serialisable");
        if self.transport.is_open() {
            if !self.transport.send(&body) {
                return Err(self.exited(method));
            }
        } else {
            let mut first = std::mem::take(&mut self.queued);
            first.push(body);
            match self.transport.open(&first, probe_window(timeout), deadline) {
                Ok(_) => {}
                Err(OpenError::Exited) => return Err(self.exited(method)),
                Err(OpenError::NoReply) => {
                    return Err(McpError::Timeout {
                        method: method.into(),
                        timeout,
                    })
                }
            }
        }
        let want = json!(id);
        loop {
            let Some(event) = self.transport.recv(deadline) else {
                return Err(McpError::Timeout {
                    method: method.into(),
                    timeout,
                });
            };
            let body = match event {
                ServerEvent::Frame(body, _) => body,
                ServerEvent::Invalid(e) => {
                    self.relay.note(&format!("skipped server output: {e}"));
                    continue;
                }
                ServerEvent::Eof(_) => return Err(self.exited(method)),
            };
            let Ok(message) = serde_json::from_slice::<Value>(&body) else {
                self.relay.note("skipped a server message that is not JSON");
                continue;
            };
            let items: Vec<Value> = match message {
                Value::Array(items) => items,
                other => vec![other],
            };
            let mut found = None;
            for item in items {
                let mut ours = false;
                match classify(&item) {
                    Kind::Response { id } if *id == want => ours = true,
                    Kind::Request { id, method } => {
                        let reply = if method == "ping" {
                            json!({"jsonrpc": "2.0", "id": id, "result": {}})
                        } else {
                            json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32601,
                                "message": format!("method not supported by this client: {method}")}})
                        };
                        let bytes = serde_json::to_vec(&reply).expect("serialisable");
                        self.transport.send(&bytes);
                    }
                    _ => {}
                }
                if ours {
                    found = Some(item);
                }
            }
            if let Some(found) = found {
                return Ok(found);
            }
        }
    }

    fn exited(&mut self, method: &str) -> McpError {
        let status = self
            .transport
            .proc_id()
            .and_then(|id| {
                self.procs.with(id, |p| {
                    p.wait_exit(Duration::from_millis(100));
                    p.try_status()
                })
            })
            .flatten();
        McpError::Exited {
            method: method.into(),
            detail: describe_status(status),
        }
    }

    /// The framing in use: fixed, or detected by the first request (`None` before, or when
    /// detection failed).
    pub fn framing(&self) -> Option<Framing> {
        self.transport.framing()
    }

    /// The last `max_chars` characters of the server's stderr (lossy UTF-8), with notes about
    /// skipped output.
    pub fn stderr_tail(&self, max_chars: usize) -> String {
        self.relay.tail(max_chars)
    }

    /// Closes the server's stdin, gives it up to `exit_wait` to exit on its own, then ends its
    /// group (SIGTERM, 1 s, SIGKILL). Also done on drop (without the wait).
    pub fn close(&mut self, exit_wait: Duration) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.transport.close_input();
        if !exit_wait.is_zero() {
            self.procs.wait_all(exit_wait);
        }
        self.procs.terminate_all(DEFAULT_GRACE);
        self.relay.close(Duration::from_millis(200));
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close(Duration::ZERO);
    }
}

fn rpc_error(method: &str, err: &Value) -> McpError {
    McpError::Rpc {
        method: method.into(),
        code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
        message: err
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| err.to_string()),
    }
}

pub(crate) fn rpc_error_of(method: &str, response: &Value) -> Option<McpError> {
    response.get("error").map(|e| rpc_error(method, e))
}
