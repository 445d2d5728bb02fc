//! MCP over stdio for HarnessGym: framing, server processes, a client, the activation smoke
//! check, and the full-duplex telemetry proxy behind `harnessgym mcp-proxy`.
//!
//! # Theory of operation
//!
//! **Framing** ([`framing`]). MCP's stdio transport is newline-delimited JSON, and that is all
//! the real Codex and Claude Code clients understand. The original HarnessGym spoke
//! `Content-Length` framing instead, so the servers it generated do too. Both are read and
//! written here; readers are lenient (the original's header rules) and robust (bad frames are
//! skipped, EOF inside a frame is detected, frames are size-limited). Batches (JSON arrays)
//! are ordinary messages.
//!
//! **Server processes** ([`ServerCommand`]). Every server runs in its own process group with
//! stdin and stdout piped. Its stderr is drained by a thread from the start into a bounded
//! tail (and, for the proxy, a capped log that never blocks), so a server that writes
//! megabytes of stderr cannot stall. Ending a server means ending its group: SIGTERM, one
//! second, SIGKILL, also when the leader already exited and a grandchild holds on.
//!
//! **Framing detection**. When the framing is not known, the first messages (normally
//! `initialize`) go to the server as newline-delimited JSON; a JSON-RPC line back decides it
//! at once. If the server stays silent for a short probe window (500 ms, at most half the
//! deadline), exits, or answers with a `Content-Length` header, a fresh process of the same
//! command is sent the same messages with `Content-Length` framing, while the first keeps
//! running; whichever answers first in the framing it was sent wins and the other is ended.
//! Newline-delimited servers therefore cost nothing, header servers one probe window, and a
//! slow newline-delimited server is still recognised. The smoke check records the result
//! ([`SmokeReport::framing`]) so activation can pass it to the proxy and skip detection.
//!
//! **Client and smoke check** ([`Client`], [`smoke_check`]). Requests wait for the response
//! with their own id; notifications are skipped and server→client requests answered, so a
//! chatty server cannot be mistaken for its answer.
//!
//! **Proxy** ([`Proxy`]). A relay with a thread per direction that matches responses to
//! requests by id, forwards every server message, answers a request that outlives the
//! response timeout with a `-32000` error (and drops the late reply instead of letting it
//! shift later replies), and appends one [`CallRecord`] per `tools/call` to `mcp_calls.jsonl`
//! with one `O_APPEND` write. See [`proxy`] for the details.

mod client;
pub mod framing;
mod json;
mod process;
pub mod proxy;
mod smoke;
pub mod telemetry;
mod transport;

pub use client::{Client, McpError, PROTOCOL_VERSION};
pub use framing::{
    read_frame, read_message, write_frame, write_message, FrameError, FrameReader, Framing,
};
pub use process::{LogSink, ServerCommand, SpawnError, StderrLog, DEFAULT_GRACE};
pub use proxy::{Proxy, ProxyEnd, ProxyError, ProxyOptions, ProxyOutcome, ProxyStop};
pub use smoke::{smoke_check, SmokeReport, STDERR_TAIL_CHARS};
pub use telemetry::CallRecord;
pub use transport::PROBE_WINDOW;
