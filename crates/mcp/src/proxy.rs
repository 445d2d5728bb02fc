//! The telemetry proxy behind `harnessgym mcp-proxy`: a full-duplex relay between an MCP
//! client (newline-delimited JSON on our stdin/stdout, as Codex and Claude Code speak it) and
//! a server process (either framing), which logs one [`CallRecord`] per `tools/call`.
//!
//! # Threads
//! * client reader/writer: frames the client's input (newline-delimited JSON; a
//!   `Content-Length` client is detected and answered in kind), records every request as
//!   pending (id, method, start, deadline), handles `notifications/cancelled`, and forwards
//!   each message to the server unchanged, on the same thread (no hand-off per message). On
//!   the first request, with `auto` framing, it detects the server's framing (see the crate
//!   docs);
//! * server reader: matches each response to its pending request by id (any number in flight,
//!   answered in any order), writes the telemetry line, and forwards every server message
//!   (responses, notifications, server→client requests; batches element by element);
//! * timer: a request still pending at its deadline gets a synthesised `-32000` error and a
//!   `timeout` line; its id is remembered, so a late reply is dropped (and flagged on stderr
//!   and with a `late: true` line) instead of reaching the client twice;
//! * stderr drain and log writers (see [`LogSink`]);
//! * the caller's thread waits for the end: client EOF (then pending requests are still
//!   answered or time out), the server closing its output (pending requests get an error), a
//!   stop request from a signal handler ([`ProxyStop`]), or the client going away. Pending
//!   calls are then logged as `cancelled` (or `protocol_error` when the server died) and the
//!   server's process group is ended (SIGTERM, 1 s, SIGKILL).
//!
//! Locks are never held across I/O to the client or the server, so a stuck peer blocks only
//! its own direction.
//!
//! # Memory
//! A server message is held once, as the bytes it arrived in, and forwarded as those bytes.
//! A single message (not a batch) is parsed into its top-level members as borrowed raw JSON
//! text; `id`, `method` and `error` are parsed (small), while `result` is only scanned once
//! for its Python-style length (`result_json_bytes`) and its `isError` member, so a 50 MB
//! result costs about 50 MB, not twice that. Pretty (multi-line) JSON for a newline-delimited
//! client is made one line in place. Batches and client messages are parsed into values.
//!
//! # Protocol versions
//! Messages are passed through unchanged. When the client asks for a newer `protocolVersion`
//! than the server supports, the server's answer (with its older version) reaches the client
//! as is; MCP clients then either accept that version or disconnect. The original's Claude
//! bridge overwrote the server's version with the client's, which hid real incompatibilities.

use crate::framing::{compact_in_place, write_frame, FrameReader, Framing};
use crate::json::{
    classify, compact_len, fmt_secs, id_key, python_json_len, scan_raw, timestamp_now, Kind,
};
use crate::process::{
    describe_status, LogSink, ProcessSet, ServerCommand, SpawnError, StderrRelay, DEFAULT_GRACE,
};
use crate::telemetry::{
    CallRecord, TelemetryLog, STATUS_CANCELLED, STATUS_OK, STATUS_PROTOCOL_ERROR, STATUS_TIMEOUT,
    STATUS_TOOL_ERROR,
};
use crate::transport::{
    probe_window, OpenError, ServerEvent, ServerReader, ServerWriter, Transport,
};
use serde_json::value::RawValue;
use serde_json::{json, Value};
use std::borrow::Cow;
use std::collections::HashMap;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

/// Bytes of server stderr written to our stderr before the rest is dropped.
pub const STDERR_CAP: u64 = 4 * 1024 * 1024;
/// Bytes of the proxy's own notes written to our stderr before the rest is dropped.
pub const DIAG_CAP: u64 = 1024 * 1024;
/// Bytes of server stderr written to `--stderr-log` before the rest is dropped.
pub const STDERR_LOG_CAP: u64 = 16 * 1024 * 1024;
/// Characters of server stderr put in a synthesised error's `data`.
const ERROR_DATA_CHARS: usize = 1000;
/// Ids of timed-out or cancelled requests remembered for matching late replies.
const MAX_GONE: usize = 4096;
/// Characters of a tool error's text kept in `error_message`.
const TOOL_ERROR_CHARS: usize = 1000;

/// What the proxy needs to know; everything is passed explicitly (nothing is read from the
/// environment).
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// Logged as `server`.
    pub server_name: String,
    /// The wrapped server.
    pub server: ServerCommand,
    /// The `mcp_calls.jsonl` file lines are appended to.
    pub telemetry_path: PathBuf,
    /// Logged as `run_id`.
    pub run_id: Option<String>,
    /// Logged as `iteration`.
    pub iteration: Option<u64>,
    /// Logged as `phase`.
    pub phase: Option<String>,
    /// The server's framing; `None` detects it at the first request.
    pub framing: Option<Framing>,
    /// How long a request may wait for its response.
    pub response_timeout: Duration,
    /// How long `initialize` may wait for its response (server start and framing detection
    /// included).
    pub startup_timeout: Duration,
    /// Where the server's stderr goes (capped); `None`: our stderr.
    pub stderr_log: Option<PathBuf>,
}

/// Why the proxy stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProxyEnd {
    /// The client closed our stdin (and every pending request was answered or timed out).
    ClientEof,
    /// The server closed its stdout (it exited).
    ServerExited,
    /// [`ProxyStop::stop`] was called with this signal number.
    Signal(i32),
    /// Writing to the client failed (it went away).
    ClientGone,
}

/// How a proxy run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyOutcome {
    /// Why it stopped.
    pub end: ProxyEnd,
    /// The server's framing, when known.
    pub framing: Option<Framing>,
    /// Telemetry lines written (`tools/call` outcomes, late lines included).
    pub calls_logged: u64,
}

/// Why the proxy could not run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProxyError {
    /// The server could not be started.
    #[error(transparent)]
    Spawn(#[from] SpawnError),
    /// The `--stderr-log` file could not be opened.
    #[error("cannot open the stderr log: {0}")]
    StderrLog(#[source] io::Error),
}

/// Asks a running proxy to stop (from a signal handler thread, say). Cloneable.
#[derive(Clone)]
pub struct ProxyStop {
    tx: Sender<ProxyEnd>,
}

impl ProxyStop {
    /// Stops the proxy as if it had received `signal`: pending calls are logged as
    /// `cancelled` and the server's group is ended.
    pub fn stop(&self, signal: i32) {
        let _ = self.tx.send(ProxyEnd::Signal(signal));
    }
}

/// A proxy, ready to [`run`](Proxy::run).
pub struct Proxy {
    opts: ProxyOptions,
    end_tx: Sender<ProxyEnd>,
    end_rx: Receiver<ProxyEnd>,
}

#[derive(Debug, Clone)]
struct CallInfo {
    tool_name: String,
    argument_keys: Vec<String>,
    argument_json_bytes: u64,
}

#[derive(Debug, Clone)]
struct Pending {
    id: Value,
    method: String,
    started: Instant,
    created_at: String,
    timeout: Duration,
    deadline: Instant,
    request_bytes: u64,
    call: Option<CallInfo>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum GoneWhy {
    TimedOut,
    Cancelled,
}

struct Gone {
    pending: Pending,
    why: GoneWhy,
    seq: u64,
}

#[derive(Default)]
struct State {
    pending: HashMap<String, Pending>,
    gone: HashMap<String, Gone>,
    gone_seq: u64,
    stopping: bool,
}

impl State {
    fn remember_gone(&mut self, key: String, pending: Pending, why: GoneWhy) {
        self.gone_seq += 1;
        if self.gone.len() >= MAX_GONE {
            if let Some(oldest) = self
                .gone
                .iter()
                .min_by_key(|(_, g)| g.seq)
                .map(|(k, _)| k.clone())
            {
                self.gone.remove(&oldest);
            }
        }
        self.gone.insert(
            key,
            Gone {
                pending,
                why,
                seq: self.gone_seq,
            },
        );
    }
}

struct Shared {
    opts: ProxyOptions,
    state: Mutex<State>,
    cv: Condvar,
    out: Mutex<BufWriter<Box<dyn Write + Send>>>,
    client_framing: OnceLock<Framing>,
    server_framing: OnceLock<Framing>,
    telemetry: TelemetryLog,
    diag: Arc<LogSink>,
    relay: Arc<StderrRelay>,
    procs: Arc<ProcessSet>,
    end_tx: Sender<ProxyEnd>,
    client_gone: AtomicBool,
    /// Set when the client's input ended, before the server's stdin is closed.
    client_eof: AtomicBool,
    logged: AtomicU64,
}

impl Proxy {
    /// A proxy for `opts`; nothing starts until [`Proxy::run`].
    pub fn new(opts: ProxyOptions) -> Proxy {
        let (end_tx, end_rx) = mpsc::channel();
        Proxy {
            opts,
            end_tx,
            end_rx,
        }
    }

    /// A handle that stops the proxy (see [`ProxyStop::stop`]).
    pub fn stopper(&self) -> ProxyStop {
        ProxyStop {
            tx: self.end_tx.clone(),
        }
    }

    /// Starts the server and relays between it and the client (`client_in`/`client_out`)
    /// until the end (see the module docs). Returns once the server's group is gone. Threads
    /// blocked on reads of the client may outlive the call (a binary exits right after).
    pub fn run<R, W>(self, client_in: R, client_out: W) -> Result<ProxyOutcome, ProxyError>
    where
        R: Read + Send + 'static,
        W: Write + Send + 'static,
    {
        let Proxy {
            opts,
            end_tx,
            end_rx,
        } = self;
        // Our own notes have their own budget, so a server flooding stderr cannot crowd out
        // a late-reply flag.
        let diag = Arc::new(LogSink::stderr(DIAG_CAP));
        let server_log = match &opts.stderr_log {
            Some(path) => LogSink::file(path, STDERR_LOG_CAP).map_err(ProxyError::StderrLog)?,
            None => LogSink::stderr(STDERR_CAP),
        };
        let relay = StderrRelay::new(Some(Arc::new(server_log)));
        let procs = Arc::new(ProcessSet::default());
        let transport = Transport::start(
            &opts.server,
            opts.framing,
            Arc::clone(&relay),
            Arc::clone(&procs),
        )?;
        let telemetry = TelemetryLog::open(&opts.telemetry_path, Arc::clone(&diag));
        let out: Box<dyn Write + Send> = Box::new(client_out);
        let shared = Arc::new(Shared {
            opts,
            state: Mutex::new(State::default()),
            cv: Condvar::new(),
            out: Mutex::new(BufWriter::with_capacity(64 * 1024, out)),
            client_framing: OnceLock::new(),
            server_framing: OnceLock::new(),
            telemetry,
            diag,
            relay,
            procs,
            end_tx,
            client_gone: AtomicBool::new(false),
            client_eof: AtomicBool::new(false),
            logged: AtomicU64::new(0),
        });
        if let Some(f) = shared.opts.framing {
            let _ = shared.server_framing.set(f);
        }

        {
            // One thread reads the client and writes to the server: no hand-off per message.
            let shared = Arc::clone(&shared);
            spawn_named("mcp-proxy-client", move || {
                let input = ClientInput {
                    shared: &shared,
                    reader: FrameReader::new(BufReader::with_capacity(64 * 1024, client_in), None),
                };
                writer_loop(&shared, transport, input);
            });
        }
        {
            let shared = Arc::clone(&shared);
            spawn_named("mcp-proxy-timer", move || shared.timer_loop());
        }

        let end = shared.wait_end(&end_rx);
        match end {
            ProxyEnd::ClientEof => {}
            ProxyEnd::ServerExited => shared.fail_pending_server_gone(),
            ProxyEnd::Signal(sig) => shared.cancel_pending(&format!(
                "the proxy was stopped by signal {sig} before the reply"
            )),
            ProxyEnd::ClientGone => shared.cancel_pending("the client went away before the reply"),
        }
        shared.lock_state().stopping = true;
        shared.cv.notify_all();
        shared.procs.terminate_all(DEFAULT_GRACE);
        if let Ok(mut out) = shared.out.try_lock() {
            let _ = out.flush();
        }
        shared.relay.close(Duration::from_millis(300));
        shared.diag.close(Duration::from_millis(300));
        Ok(ProxyOutcome {
            end,
            framing: shared.server_framing.get().copied(),
            calls_logged: shared.logged.load(Ordering::Relaxed),
        })
    }
}

fn spawn_named(name: &str, f: impl FnOnce() + Send + 'static) {
    thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .expect("cannot start a proxy thread");
}

/// The client's messages, framed (newline-delimited JSON; a `Content-Length` client is
/// detected) and parsed; invalid ones are noted and skipped. Ends at EOF or a read error.
struct ClientInput<'a, R> {
    shared: &'a Shared,
    reader: FrameReader<BufReader<R>>,
}

impl<R: Read> Iterator for ClientInput<'_, R> {
    type Item = (Vec<u8>, Value);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.reader.read_frame() {
                Ok(Some(body)) => {
                    if let Some(f) = self.reader.framing() {
                        let _ = self.shared.client_framing.set(f);
                    }
                    match serde_json::from_slice::<Value>(&body) {
                        Ok(value) => return Some((body, value)),
                        Err(e) => self
                            .shared
                            .note(&format!("skipped invalid JSON from the client: {e}")),
                    }
                }
                Ok(None) => return None,
                Err(e) if e.is_recoverable() => {
                    self.shared.note(&format!("skipped client input: {e}"));
                }
                Err(e) => {
                    self.shared.note(&format!("client input ended: {e}"));
                    return None;
                }
            }
        }
    }
}

fn writer_loop(
    shared: &Arc<Shared>,
    transport: Transport,
    input: impl Iterator<Item = (Vec<u8>, Value)>,
) {
    let mut transport = Some(transport);
    let mut writer: Option<ServerWriter> = None;
    if transport.as_ref().is_some_and(Transport::is_open) {
        writer = transport.take().map(|t| start_reading(shared, t));
    }
    let mut queued: Vec<Vec<u8>> = Vec::new();
    let mut write_failed = false;
    for (raw, value) in input {
        let first_deadline = shared.on_client_message(raw.len() as u64, &value);
        if let Some(w) = writer.as_mut() {
            if let Err(e) = w.send(&raw) {
                if !write_failed {
                    shared.note(&format!("cannot write to the server: {e}"));
                }
                write_failed = true;
            }
            continue;
        }
        queued.push(raw);
        let Some(deadline) = first_deadline else {
            continue; // notifications before the first request wait for the framing
        };
        let Some(mut t) = transport.take() else {
            continue;
        };
        let budget = deadline.saturating_duration_since(Instant::now());
        match t.open(&queued, probe_window(budget), deadline) {
            Ok(f) => {
                let _ = shared.server_framing.set(f);
            }
            Err(OpenError::NoReply) => shared.note(&format!(
                "could not detect the server's framing: no answer in either framing within {}s; \
                 going on with newline-delimited JSON",
                fmt_secs(budget)
            )),
            Err(OpenError::Exited) => shared.note(
                "could not detect the server's framing: it exited in both framings without answering",
            ),
        }
        queued.clear();
        writer = Some(start_reading(shared, t));
    }
    // Client EOF: close the server's stdin (servers usually exit on it).
    shared.client_eof.store(true, Ordering::SeqCst);
    drop(writer);
    drop(transport);
    let _ = shared.end_tx.send(ProxyEnd::ClientEof);
}

fn start_reading(shared: &Arc<Shared>, transport: Transport) -> ServerWriter {
    let (writer, reader) = transport.split();
    let shared = Arc::clone(shared);
    spawn_named("mcp-proxy-server", move || server_loop(&shared, reader));
    writer
}

fn server_loop(shared: &Shared, mut reader: ServerReader) {
    loop {
        match reader.recv() {
            ServerEvent::Frame(body, _) => shared.on_server_frame(body),
            ServerEvent::Invalid(e) => shared.note(&format!("skipped server output: {e}")),
            ServerEvent::Eof(err) => {
                if let Some(e) = err {
                    shared.note(&format!("server output ended: {e}"));
                }
                let _ = shared.end_tx.send(ProxyEnd::ServerExited);
                return;
            }
        }
    }
}

fn call_info(request: &Value) -> CallInfo {
    let params = request.get("params");
    let tool_name = match params.and_then(|p| p.get("name")) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    };
    let arguments = params.and_then(|p| p.get("arguments"));
    let mut argument_keys: Vec<String> = arguments
        .and_then(Value::as_object)
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    argument_keys.sort();
    let argument_json_bytes = python_json_len(arguments.unwrap_or(&json!({})));
    CallInfo {
        tool_name,
        argument_keys,
        argument_json_bytes,
    }
}

/// Status, error message and `result_json_bytes` of a response.
fn reply_outcome(response: &Value) -> (&'static str, String, u64) {
    if let Some(err) = response.get("error") {
        return error_outcome(err);
    }
    let result = response.get("result").unwrap_or(&Value::Null);
    let bytes = python_json_len(result);
    result_outcome(result, bytes)
}

fn error_outcome(err: &Value) -> (&'static str, String, u64) {
    let message = err
        .get("message")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    (STATUS_PROTOCOL_ERROR, message, python_json_len(err))
}

fn result_outcome(result: &Value, bytes: u64) -> (&'static str, String, u64) {
    if result.get("isError") == Some(&Value::Bool(true)) {
        let text = result
            .get("content")
            .and_then(Value::as_array)
            .and_then(|c| {
                c.iter()
                    .find_map(|item| item.get("text").and_then(Value::as_str))
            })
            .unwrap_or("");
        let text: String = text.chars().take(TOOL_ERROR_CHARS).collect();
        return (STATUS_TOOL_ERROR, text, bytes);
    }
    (STATUS_OK, String::new(), bytes)
}

/// The top-level members of a server message, each left as unparsed JSON text borrowed from
/// the frame: a large `result` is never built as a [`Value`].
type RawMembers<'a> = HashMap<String, &'a RawValue>;

/// [`classify`] on raw members: the id of a response, `None` for anything else.
fn raw_response_id(members: &RawMembers<'_>) -> Option<Value> {
    let parse = |k: &str| {
        members
            .get(k)
            .and_then(|r| serde_json::from_str::<Value>(r.get()).ok())
    };
    if parse("method").is_some_and(|m| m.is_string()) {
        return None;
    }
    let id = parse("id").filter(|id| !id.is_null())?;
    (members.contains_key("result") || members.contains_key("error")).then_some(id)
}

/// [`reply_outcome`] on raw members. Only `error` (small) and a tool error's `result` are
/// parsed into values; an ordinary `result` is measured and its `isError` found in one scan
/// of its bytes (already validated by the parse of the message).
fn raw_reply_outcome(members: &RawMembers<'_>) -> (&'static str, String, u64) {
    if let Some(err) = members.get("error") {
        let err = serde_json::from_str::<Value>(err.get()).unwrap_or(Value::Null);
        return error_outcome(&err);
    }
    let Some(result) = members.get("result") else {
        return (STATUS_OK, String::new(), 4);
    };
    let text = result.get();
    let scan = scan_raw(text.as_bytes());
    if !scan.is_error {
        return (STATUS_OK, String::new(), scan.python_len);
    }
    // A tool error (small, normally): its first text is wanted.
    let bytes = scan.python_len;
    let value = serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
    result_outcome(&value, bytes)
}

fn ms_since(start: Instant) -> u64 {
    (start.elapsed().as_secs_f64() * 1000.0).round() as u64
}

impl Shared {
    fn lock_state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn note(&self, text: &str) {
        self.diag.line(&format!("harnessgym mcp-proxy: {text}"));
    }

    fn record(
        &self,
        p: &Pending,
        status: &str,
        error_message: String,
        result_json_bytes: u64,
        response_bytes: u64,
        late: bool,
    ) {
        let Some(call) = &p.call else {
            return;
        };
        let record = CallRecord {
            argument_json_bytes: call.argument_json_bytes,
            argument_keys: call.argument_keys.clone(),
            created_at: p.created_at.clone(),
            duration_ms: ms_since(p.started),
            error_message,
            framing: self.server_framing.get().copied(),
            iteration: self.opts.iteration,
            late,
            method: p.method.clone(),
            phase: self.opts.phase.clone(),
            request_bytes: p.request_bytes,
            request_id: p.id.clone(),
            response_bytes,
            result_json_bytes,
            run_id: self.opts.run_id.clone(),
            server: self.opts.server_name.clone(),
            status: status.to_string(),
            tool_name: call.tool_name.clone(),
        };
        self.telemetry.append(&record);
        self.logged.fetch_add(1, Ordering::Relaxed);
    }

    /// Writes one message to the client in its framing. On failure the proxy ends.
    fn send_to_client(&self, body: &[u8]) {
        if self.client_gone.load(Ordering::Relaxed) {
            return;
        }
        let framing = self
            .client_framing
            .get()
            .copied()
            .unwrap_or(Framing::Ndjson);
        let result = {
            let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
            write_frame(&mut *out, framing, body)
        };
        if let Err(e) = result {
            if !self.client_gone.swap(true, Ordering::Relaxed) {
                self.note(&format!("cannot write to the client: {e}"));
                let _ = self.end_tx.send(ProxyEnd::ClientGone);
            }
        }
    }

    /// Registers the requests in a client message and handles cancellations. Returns the
    /// earliest deadline of the requests it contained, if any.
    fn on_client_message(&self, raw_len: u64, value: &Value) -> Option<Instant> {
        let now = Instant::now();
        let items: Vec<(&Value, u64)> = match value {
            Value::Array(items) => items.iter().map(|e| (e, compact_len(e))).collect(),
            v => vec![(v, raw_len)],
        };
        let mut first_deadline = None;
        let mut cancelled = Vec::new();
        {
            let mut st = self.lock_state();
            for (item, bytes) in items {
                match classify(item) {
                    Kind::Request { id, method } => {
                        let key = id_key(id);
                        if st.pending.contains_key(&key) {
                            self.note(&format!(
                                "the client reused id {key} while a request with it is pending"
                            ));
                        }
                        st.gone.remove(&key);
                        let timeout = if method == "initialize" {
                            self.opts.startup_timeout
                        } else {
                            self.opts.response_timeout
                        };
                        let deadline = now + timeout;
                        first_deadline.get_or_insert(deadline);
                        st.pending.insert(
                            key,
                            Pending {
                                id: id.clone(),
                                method: method.to_string(),
                                started: now,
                                created_at: timestamp_now(),
                                timeout,
                                deadline,
                                request_bytes: bytes,
                                call: (method == "tools/call").then(|| call_info(item)),
                            },
                        );
                    }
                    Kind::Notification {
                        method: "notifications/cancelled",
                    } => {
                        let params = item.get("params");
                        let Some(rid) = params.and_then(|p| p.get("requestId")) else {
                            continue;
                        };
                        let key = id_key(rid);
                        if let Some(p) = st.pending.remove(&key) {
                            let reason = match params
                                .and_then(|p| p.get("reason"))
                                .and_then(Value::as_str)
                            {
                                Some(r) => format!("cancelled by the client: {r}"),
                                None => "cancelled by the client".to_string(),
                            };
                            cancelled.push((p.clone(), reason));
                            st.remember_gone(key, p, GoneWhy::Cancelled);
                        }
                    }
                    _ => {}
                }
            }
        }
        self.cv.notify_all();
        for (p, reason) in cancelled {
            self.record(&p, STATUS_CANCELLED, reason, 0, 0, false);
        }
        first_deadline
    }

    fn on_server_frame(&self, mut body: Vec<u8>) {
        let client_framing = self.client_framing.get().copied();
        if client_framing != Some(Framing::ContentLength)
            && memchr::memchr2(b'\n', b'\r', &body).is_some()
        {
            // Pretty JSON for a newline-delimited client: made one line here, in place, so
            // that the bytes counted are the bytes sent and no second copy is made.
            compact_in_place(&mut body);
        }
        if body.first() == Some(&b'{') {
            // The common case, a single message: parsed without building the result.
            let members = match serde_json::from_slice::<RawMembers<'_>>(&body) {
                Ok(m) => m,
                Err(e) => {
                    self.note(&format!("skipped invalid JSON from the server: {e}"));
                    return;
                }
            };
            let bytes = body.len() as u64;
            let forward = match raw_response_id(&members) {
                Some(id) => self.on_server_response(&id, bytes, || raw_reply_outcome(&members)),
                None => true,
            };
            drop(members);
            if forward {
                self.send_to_client(&body);
            }
            return;
        }
        let value: Value = match serde_json::from_slice(&body) {
            Ok(v) => v,
            Err(e) => {
                self.note(&format!("skipped invalid JSON from the server: {e}"));
                return;
            }
        };
        let forward: Option<Cow<'_, [u8]>> = match &value {
            Value::Array(items) => {
                let keep: Vec<bool> = items
                    .iter()
                    .map(|e| self.on_server_item(e, compact_len(e)))
                    .collect();
                if keep.iter().all(|k| *k) {
                    Some(Cow::Borrowed(&body[..]))
                } else if keep.iter().any(|k| *k) {
                    let kept: Vec<&Value> = items
                        .iter()
                        .zip(&keep)
                        .filter(|(_, k)| **k)
                        .map(|(e, _)| e)
                        .collect();
                    Some(Cow::Owned(serde_json::to_vec(&kept).expect("serialisable")))
                } else {
                    None
                }
            }
            v => self
                .on_server_item(v, body.len() as u64)
                .then_some(Cow::Borrowed(&body[..])),
        };
        if let Some(bytes) = forward {
            self.send_to_client(&bytes);
        }
    }

    /// Matches one server message; returns whether it goes to the client.
    fn on_server_item(&self, item: &Value, bytes: u64) -> bool {
        match classify(item) {
            Kind::Response { id } => self.on_server_response(id, bytes, || reply_outcome(item)),
            _ => true,
        }
    }

    /// Matches a response with `id` (`bytes` long; `outcome` computes its status, message and
    /// `result_json_bytes` when it is logged); returns whether it goes to the client.
    fn on_server_response(
        &self,
        id: &Value,
        bytes: u64,
        outcome: impl FnOnce() -> (&'static str, String, u64),
    ) -> bool {
        let key = id_key(id);
        let mut st = self.lock_state();
        if let Some(p) = st.pending.remove(&key) {
            drop(st);
            let (status, message, result_bytes) = outcome();
            // The line is written before the reply is forwarded, so a client that has its
            // answer finds the line in the log.
            self.record(&p, status, message, result_bytes, bytes, false);
            return true;
        }
        if let Some(gone) = st.gone.remove(&key) {
            drop(st);
            if gone.why == GoneWhy::Cancelled {
                return true; // the client ignores it; nothing was sent for this id
            }
            let p = gone.pending;
            self.note(&format!(
                "dropped a late reply to {} id {key}: it came {} ms after the request, past the {}s timeout",
                p.method,
                ms_since(p.started),
                fmt_secs(p.timeout)
            ));
            let (status, message, result_bytes) = outcome();
            self.record(&p, status, message, result_bytes, bytes, true);
            return false;
        }
        drop(st);
        self.note(&format!(
            "forwarded a response with id {key}, which matches no request of the client"
        ));
        true
    }

    fn timer_loop(&self) {
        let mut st = self.lock_state();
        loop {
            if st.stopping {
                return;
            }
            let now = Instant::now();
            let expired: Vec<String> = st
                .pending
                .iter()
                .filter(|(_, p)| p.deadline <= now)
                .map(|(k, _)| k.clone())
                .collect();
            if !expired.is_empty() {
                let mut timed_out = Vec::new();
                for key in expired {
                    if let Some(p) = st.pending.remove(&key) {
                        timed_out.push(p.clone());
                        st.remember_gone(key, p, GoneWhy::TimedOut);
                    }
                }
                drop(st);
                for p in timed_out {
                    self.time_out(&p);
                }
                st = self.lock_state();
                continue;
            }
            let next = st.pending.values().map(|p| p.deadline).min();
            st = match next {
                Some(d) => {
                    self.cv
                        .wait_timeout(st, d.saturating_duration_since(now))
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.cv.wait(st).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }

    fn time_out(&self, p: &Pending) {
        let message = format!(
            "wrapped MCP server did not produce a response within {}s",
            fmt_secs(p.timeout)
        );
        let error = json!({"code": -32000, "message": message,
                           "data": self.relay.tail(ERROR_DATA_CHARS)});
        let reply = json!({"jsonrpc": "2.0", "id": p.id, "error": error});
        let bytes = serde_json::to_vec(&reply).expect("serialisable");
        self.record(
            p,
            STATUS_TIMEOUT,
            message,
            python_json_len(&error),
            bytes.len() as u64,
            false,
        );
        self.send_to_client(&bytes);
    }

    /// Waits for the end; after client EOF, until no request is pending (or another end).
    /// A server that exits once the client is done and nothing is pending (it saw its stdin
    /// close) is a normal client EOF, whichever of the two was noticed first.
    fn wait_end(&self, rx: &Receiver<ProxyEnd>) -> ProxyEnd {
        let normal_server_exit = |end: ProxyEnd| {
            end == ProxyEnd::ServerExited
                && self.client_eof.load(Ordering::SeqCst)
                && self.lock_state().pending.is_empty()
        };
        let first = rx.recv().unwrap_or(ProxyEnd::ClientEof);
        if normal_server_exit(first) {
            return ProxyEnd::ClientEof;
        }
        if first != ProxyEnd::ClientEof {
            return first;
        }
        loop {
            if self.lock_state().pending.is_empty() {
                return ProxyEnd::ClientEof;
            }
            match rx.recv_timeout(Duration::from_millis(10)) {
                Ok(ProxyEnd::ClientEof) | Err(RecvTimeoutError::Timeout) => {}
                Ok(other) if normal_server_exit(other) => return ProxyEnd::ClientEof,
                Ok(other) => return other,
                Err(RecvTimeoutError::Disconnected) => return ProxyEnd::ClientEof,
            }
        }
    }

    /// The server closed its output: every pending request gets an error.
    fn fail_pending_server_gone(&self) {
        self.procs.wait_all(Duration::from_millis(300));
        let message = match self.procs.first_status() {
            Some(status) => format!(
                "wrapped MCP server exited before responding ({})",
                describe_status(Some(status))
            ),
            None => "wrapped MCP server closed its output before responding".to_string(),
        };
        let pending: Vec<Pending> = {
            let mut st = self.lock_state();
            st.pending.drain().map(|(_, p)| p).collect()
        };
        for p in pending {
            let error = json!({"code": -32000, "message": message,
                               "data": self.relay.tail(ERROR_DATA_CHARS)});
            let reply = json!({"jsonrpc": "2.0", "id": p.id, "error": error});
            let bytes = serde_json::to_vec(&reply).expect("serialisable");
            self.record(
                &p,
                STATUS_PROTOCOL_ERROR,
                message.clone(),
                python_json_len(&error),
                bytes.len() as u64,
                false,
            );
            self.send_to_client(&bytes);
        }
    }

    /// The proxy ends before the replies: pending calls are logged as cancelled.
    fn cancel_pending(&self, reason: &str) {
        let pending: Vec<Pending> = {
            let mut st = self.lock_state();
            st.pending.drain().map(|(_, p)| p).collect()
        };
        for p in pending {
            self.record(&p, STATUS_CANCELLED, reason.to_string(), 0, 0, false);
        }
    }
}
