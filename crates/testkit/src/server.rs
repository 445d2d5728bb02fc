//! The mock model server behind `hg-mock-model`.
//!
//! # Endpoints
//! * `POST /v1/messages` (any query, e.g. `?beta=true`): Anthropic Messages. With
//!   `"stream": true`, SSE `message_start`, then per block `content_block_start` /
//!   `content_block_delta` (`text_delta` or `input_json_delta`) / `content_block_stop`, then
//!   `message_delta` (`stop_reason` `tool_use` or `end_turn`, usage) and `message_stop`.
//!   Otherwise one JSON message. Shell step → `tool_use` `Bash {command, description}`; MCP
//!   step → `tool_use` `mcp__<server>__<tool>`. If the MCP tool is not offered yet but Claude
//!   Code's `WaitForMcpServers` is, the mock first calls `WaitForMcpServers {servers:[server]}`
//!   (at most 3 times in a row); those results do not count as steps.
//! * `POST /v1/responses`: OpenAI Responses. With `"stream": true`, SSE `response.created`,
//!   per item `response.output_item.added` (`response.content_part.added`,
//!   `response.output_text.delta`, `response.output_text.done`, `response.content_part.done`
//!   for messages) / `response.output_item.done`, then `response.completed` (`response.id`,
//!   `usage`). Otherwise one JSON response object. Shell step → `function_call exec_command
//!   {"cmd": …}` (or `shell {"command": ["bash","-lc",…]}` if only `shell` is offered); MCP step
//!   → `function_call` `name: <tool>`, `namespace: "mcp__<server>"`. Codex *code mode* (no
//!   top-level `tools`, an `additional_tools` input item: a model slug Codex knows) →
//!   `custom_tool_call exec` whose input is JavaScript: `const r = await
//!   tools.exec_command({cmd: "…"}); text(r);` or `… await tools.mcp__<server>__<tool>({…})`.
//! * Anything else, including `CONNECT host:port` and absolute-URL proxy requests for other
//!   hosts (the clients use the mock as their HTTP(S) proxy): 403, logged with
//!   `"refused": true`. An absolute URL aimed at the mock itself is served.
//!
//! HTTP/1.1, one thread per connection, keep-alive, `Content-Length` or chunked request
//! bodies, `Expect: 100-continue`. Responses carry `Content-Length` (SSE included).
//!
//! # Log
//! One JSON object per line, written and flushed *before* the request is answered:
//!
//! | field | meaning |
//! | --- | --- |
//! | `at` | RFC 3339 UTC time, milliseconds |
//! | `method`, `path` | request line (`path` is the raw target: `/v1/messages?beta=true`, `host:443`) |
//! | `refused` | `true` for refused requests (then most fields below are null) |
//! | `status` | HTTP status answered |
//! | `api` | `"anthropic"`, `"responses"` or null |
//! | `model`, `stream` | from the body |
//! | `prompt` | the latest user text (see [`crate::script`]) or null |
//! | `history_len` | number of `messages` / `input` items |
//! | `tool_results` | every tool result in the history, oldest first, each cut to 2 KB |
//! | `tool_results_after_prompt` | the raw count behind `step` |
//! | `rule`, `step` | the rule index (null: none matched) and step index used |
//! | `mode` | `"direct"`, or `"code"` for Codex code mode |
//! | `action` | `{"shell": cmd}`, `{"mcp": {server, tool, arguments}}`, `{"text": t}` or `{"wait_for_mcp_servers": [server]}` |
//! | `headers` | `user-agent`, `session-id`, `thread-id`, `x-claude-code-session-id`, `originator`, `x-app`, `host`, `content-encoding` when present; `x-api-key` and `authorization` as booleans (presence only) |
//! | `error` | when the body was not JSON (answered 400) |

use crate::http::{self, Request};
use crate::script::{is_injected_context, Action, Plan, Script};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Each logged tool result is cut to this many bytes.
pub const TOOL_RESULT_LOG_LIMIT: usize = 2048;

/// How many `WaitForMcpServers` calls the mock makes in a row, while a scripted MCP tool is not
/// yet offered by Claude Code, before it calls the MCP tool regardless.
const MAX_MCP_WAITS: usize = 3;

/// The tool Claude Code offers while an MCP server is still connecting.
const CLAUDE_WAIT_TOOL: &str = "WaitForMcpServers";

pub struct Config {
    pub script: Script,
    pub log_path: PathBuf,
    /// Optional directory where each request body is dumped (`<n>-<api>.json`), for debugging.
    pub dump_dir: Option<PathBuf>,
}

struct Shared {
    script: Script,
    log: Mutex<File>,
    dump_dir: Option<PathBuf>,
    counter: AtomicU64,
    dumps: AtomicU64,
    id_base: u64,
    local_port: u16,
}

/// Serves on `listener` until `stop` is set (checked after each accepted connection; wake the
/// accept loop with a throw-away connection).
pub fn serve(listener: TcpListener, config: Config, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&config.log_path)?;
    let id_base = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    let shared = Arc::new(Shared {
        script: config.script,
        log: Mutex::new(log),
        dump_dir: config.dump_dir,
        counter: AtomicU64::new(0),
        dumps: AtomicU64::new(0),
        id_base,
        local_port: listener.local_addr()?.port(),
    });
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = conn else { continue };
        let shared = Arc::clone(&shared);
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || handle_connection(stream, &shared, &stop));
    }
    Ok(())
}

fn handle_connection(stream: TcpStream, shared: &Shared, stop: &AtomicBool) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let req = match http::read_request(&mut reader, &mut writer) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                let body = format!("mock: bad request: {e}\n");
                let _ = http::write_response(
                    &mut writer,
                    400,
                    "text/plain",
                    &[],
                    body.as_bytes(),
                    false,
                );
                break;
            }
        };
        let keep_alive = req.keep_alive() && !req.method.eq_ignore_ascii_case("CONNECT");
        let ok = handle_request(&req, shared, &mut writer, keep_alive).is_ok();
        if !ok || !keep_alive {
            break;
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

#[derive(Clone, Copy, PartialEq)]
enum Api {
    Anthropic,
    Responses,
}

impl Api {
    fn name(self) -> &'static str {
        match self {
            Api::Anthropic => "anthropic",
            Api::Responses => "responses",
        }
    }
}

/// Maps a request to an API, or `None` if it is to be refused. Proxy-style absolute targets
/// aimed at the mock itself are accepted.
fn route(req: &Request, local_port: u16) -> Option<Api> {
    if !req.method.eq_ignore_ascii_case("POST") {
        return None;
    }
    let path = req.path();
    let path = if path.starts_with('/') {
        path
    } else {
        let rest = path.strip_prefix("http://")?;
        let (authority, p) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let own = [
            format!("127.0.0.1:{local_port}"),
            format!("localhost:{local_port}"),
        ];
        if !own.iter().any(|o| o == authority) {
            return None;
        }
        p
    };
    match path.trim_end_matches('/') {
        "/v1/messages" => Some(Api::Anthropic),
        "/v1/responses" => Some(Api::Responses),
        _ => None,
    }
}

fn selected_headers(req: &Request) -> Value {
    let mut m = Map::new();
    for name in [
        "user-agent",
        "session-id",
        "thread-id",
        "x-claude-code-session-id",
        "originator",
        "x-app",
        "host",
        "content-encoding",
    ] {
        if let Some(v) = req.header(name) {
            m.insert(name.to_string(), Value::String(v.to_string()));
        }
    }
    m.insert(
        "x-api-key".into(),
        Value::Bool(req.header("x-api-key").is_some()),
    );
    m.insert(
        "authorization".into(),
        Value::Bool(req.header("authorization").is_some()),
    );
    Value::Object(m)
}

fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl Shared {
    fn log(&self, entry: &Value) {
        let mut line = entry.to_string();
        line.push('\n');
        if let Ok(mut f) = self.log.lock() {
            let _ = f.write_all(line.as_bytes());
            let _ = f.flush();
        }
    }

    fn next_id(&self, prefix: &str) -> String {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        format!("{prefix}{:x}{n:04x}", self.id_base)
    }
}

fn handle_request<W: Write>(
    req: &Request,
    shared: &Shared,
    w: &mut W,
    keep_alive: bool,
) -> std::io::Result<()> {
    let mut entry = json!({
        "at": now_rfc3339(),
        "method": req.method,
        "path": req.target,
        "refused": false,
        "api": null,
        "model": null,
        "prompt": null,
        "history_len": null,
        "tool_results": [],
        "rule": null,
        "step": null,
        "headers": selected_headers(req),
    });
    let Some(api) = route(req, shared.local_port) else {
        entry["refused"] = json!(true);
        entry["status"] = json!(403);
        shared.log(&entry);
        let body = b"mock: refused (only POST /v1/messages and POST /v1/responses are served)\n";
        return http::write_response(w, 403, "text/plain", &[], body, keep_alive);
    };
    entry["api"] = json!(api.name());
    if let Some(dir) = &shared.dump_dir {
        let n = shared.dumps.fetch_add(1, Ordering::SeqCst);
        let _ = std::fs::write(dir.join(format!("{n:04}-{}.json", api.name())), &req.body);
    }
    let body: Value = match serde_json::from_slice(&req.body) {
        Ok(v) => v,
        Err(e) => {
            entry["status"] = json!(400);
            entry["error"] = json!(format!("request body is not JSON: {e}"));
            shared.log(&entry);
            let msg = error_body(api, 400, &format!("mock: request body is not JSON: {e}"));
            return http::write_response(w, 400, "application/json", &[], &msg, keep_alive);
        }
    };
    let view = match api {
        Api::Anthropic => anthropic_view(&body),
        Api::Responses => responses_view(&body),
    };
    entry["model"] = body.get("model").cloned().unwrap_or(Value::Null);
    entry["stream"] = json!(view.stream);
    entry["prompt"] = json!(view.prompt);
    entry["history_len"] = json!(view.history_len);
    entry["tool_results"] = json!(view
        .tool_results
        .iter()
        .map(|t| truncate(t, TOOL_RESULT_LOG_LIMIT))
        .collect::<Vec<_>>());
    entry["tool_results_after_prompt"] = json!(view.steps_done);

    if let Some(status) = shared.script.auth_status {
        entry["status"] = json!(status);
        shared.log(&entry);
        let msg = error_body(api, status, "");
        let extra = [("request-id", shared.next_id("req_mock_"))];
        return http::write_response(w, status, "application/json", &extra, &msg, keep_alive);
    }

    let prompt = view.prompt.clone().unwrap_or_default();
    let plan = shared.script.plan(&prompt, view.steps_done);
    entry["rule"] = json!(plan.rule);
    entry["step"] = json!(plan.step);

    // Claude Code offers `WaitForMcpServers` while a server is still connecting: use it before
    // calling a scripted MCP tool that is not offered yet.
    let mut wait_for: Option<String> = None;
    if api == Api::Anthropic {
        if let Action::Mcp { server, tool, .. } = &plan.action {
            let name = format!("mcp__{server}__{tool}");
            if !view.tool_names.contains(&name)
                && view.tool_names.iter().any(|t| t == CLAUDE_WAIT_TOOL)
                && view.aux_waits < MAX_MCP_WAITS
            {
                wait_for = Some(server.clone());
            }
        }
    }
    let mode = if api == Api::Responses && view.code_mode {
        "code"
    } else {
        "direct"
    };
    entry["mode"] = json!(mode);
    entry["action"] = describe(&plan.action, wait_for.as_deref());
    entry["status"] = json!(200);
    shared.log(&entry);

    if plan.delay_ms > 0 {
        std::thread::sleep(Duration::from_millis(plan.delay_ms));
    }
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .unwrap_or("mock-model")
        .to_string();
    let input_tokens = (req.body.len() / 4).max(1) as u64;
    let out = match api {
        Api::Anthropic => {
            let (content, stop_reason) = match &wait_for {
                Some(server) => (
                    vec![
                        json!({"type": "tool_use", "id": shared.next_id("toolu_mock_"),
                        "name": CLAUDE_WAIT_TOOL, "input": {"servers": [server]}}),
                    ],
                    "tool_use",
                ),
                None => anthropic_blocks(shared, &plan),
            };
            anthropic_answer(
                shared,
                &model,
                input_tokens,
                content,
                stop_reason,
                view.stream,
            )
        }
        Api::Responses => responses_answer(shared, &model, input_tokens, &plan, &view),
    };
    write_answer(w, view.stream, &out, keep_alive)
}

fn write_answer<W: Write>(
    w: &mut W,
    stream: bool,
    out: &[u8],
    keep_alive: bool,
) -> std::io::Result<()> {
    if stream {
        http::write_response(
            w,
            200,
            "text/event-stream",
            &[("Cache-Control", "no-cache".into())],
            out,
            keep_alive,
        )
    } else {
        http::write_response(w, 200, "application/json", &[], out, keep_alive)
    }
}

fn describe(action: &Action, wait_for: Option<&str>) -> Value {
    if let Some(s) = wait_for {
        return json!({"wait_for_mcp_servers": [s]});
    }
    match action {
        Action::Shell(cmd) => json!({"shell": cmd}),
        Action::Mcp {
            server,
            tool,
            arguments,
        } => json!({"mcp": {"server": server, "tool": tool, "arguments": arguments}}),
        Action::Text(t) => json!({"text": t}),
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// What the mock needs to know about one request.
#[derive(Debug, Default)]
struct View {
    prompt: Option<String>,
    history_len: usize,
    /// Every tool result in the history, oldest first.
    tool_results: Vec<String>,
    /// Tool results after the prompt that count as scripted steps.
    steps_done: usize,
    /// `WaitForMcpServers` results after the prompt (Anthropic only).
    aux_waits: usize,
    stream: bool,
    tool_names: Vec<String>,
    /// Responses API: Codex "code mode" (no top-level tools, an `additional_tools` item).
    code_mode: bool,
    /// Responses API: the shell tool offered (`exec_command`, else `shell`).
    shell_tool: Option<String>,
}

/// The position of a block in the flattened history.
enum Block {
    Prompt(String),
    ToolResult { text: String, aux: bool },
}

fn finish_view(blocks: Vec<Block>, view: &mut View) {
    let prompt_at = blocks.iter().rposition(|b| matches!(b, Block::Prompt(_)));
    let mut after = false;
    for (i, b) in blocks.into_iter().enumerate() {
        match b {
            Block::Prompt(p) => {
                if Some(i) == prompt_at {
                    view.prompt = Some(p);
                    after = true;
                }
            }
            Block::ToolResult { text, aux } => {
                if after {
                    if aux {
                        view.aux_waits += 1;
                    } else {
                        view.steps_done += 1;
                    }
                }
                view.tool_results.push(text);
            }
        }
    }
}

fn content_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| match p {
                Value::String(s) => Some(s.clone()),
                _ => p.get("text").and_then(Value::as_str).map(str::to_string),
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Null => String::new(),
        Value::Object(o) => o
            .get("content")
            .map(content_text)
            .or_else(|| o.get("text").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_else(|| v.to_string()),
        other => other.to_string(),
    }
}

fn anthropic_view(body: &Value) -> View {
    let mut view = View {
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        ..View::default()
    };
    view.tool_names = body
        .get("tools")
        .and_then(Value::as_array)
        .map(|t| {
            t.iter()
                .filter_map(|x| x.get("name").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let empty = Vec::new();
    let messages = body
        .get("messages")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    view.history_len = messages.len();
    let mut tool_names: HashMap<String, String> = HashMap::new();
    let mut blocks = Vec::new();
    for m in messages {
        let role = m.get("role").and_then(Value::as_str).unwrap_or("");
        let content = m.get("content").unwrap_or(&Value::Null);
        if role == "assistant" {
            for b in content.as_array().unwrap_or(&empty) {
                if b.get("type").and_then(Value::as_str) == Some("tool_use") {
                    if let (Some(id), Some(name)) = (
                        b.get("id").and_then(Value::as_str),
                        b.get("name").and_then(Value::as_str),
                    ) {
                        tool_names.insert(id.to_string(), name.to_string());
                    }
                }
            }
            continue;
        }
        if role != "user" {
            continue;
        }
        match content {
            Value::String(s) if !is_injected_context(s) => {
                blocks.push(Block::Prompt(s.clone()));
            }
            Value::Array(parts) => {
                let mut texts = Vec::new();
                for b in parts {
                    match b.get("type").and_then(Value::as_str) {
                        Some("text") => {
                            let t = b.get("text").and_then(Value::as_str).unwrap_or("");
                            if !is_injected_context(t) {
                                texts.push(t.to_string());
                            }
                        }
                        Some("tool_result") => {
                            if !texts.is_empty() {
                                blocks.push(Block::Prompt(texts.join("\n")));
                                texts.clear();
                            }
                            let id = b.get("tool_use_id").and_then(Value::as_str).unwrap_or("");
                            let aux =
                                tool_names.get(id).map(String::as_str) == Some(CLAUDE_WAIT_TOOL);
                            blocks.push(Block::ToolResult {
                                text: content_text(b.get("content").unwrap_or(&Value::Null)),
                                aux,
                            });
                        }
                        _ => {}
                    }
                }
                if !texts.is_empty() {
                    blocks.push(Block::Prompt(texts.join("\n")));
                }
            }
            _ => {}
        }
    }
    finish_view(blocks, &mut view);
    view
}

fn responses_view(body: &Value) -> View {
    let mut view = View {
        stream: body.get("stream").and_then(Value::as_bool).unwrap_or(false),
        ..View::default()
    };
    let tools = body.get("tools").and_then(Value::as_array);
    for t in tools.into_iter().flatten() {
        if let Some(name) = t.get("name").and_then(Value::as_str) {
            if t.get("type").and_then(Value::as_str) == Some("namespace") {
                for inner in t
                    .get("tools")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(n) = inner.get("name").and_then(Value::as_str) {
                        view.tool_names.push(format!("{name}__{n}"));
                    }
                }
            }
            view.tool_names.push(name.to_string());
        }
    }
    view.shell_tool = ["exec_command", "shell"]
        .iter()
        .find(|n| view.tool_names.iter().any(|t| t == *n))
        .map(|s| s.to_string());
    let input = body.get("input");
    let items: Vec<Value> = match input {
        Some(Value::Array(a)) => a.clone(),
        Some(Value::String(s)) => vec![json!({"type": "message", "role": "user", "content": s})],
        _ => Vec::new(),
    };
    view.history_len = items.len();
    view.code_mode = tools.is_none_or(|t| t.is_empty())
        && items
            .iter()
            .any(|i| i.get("type").and_then(Value::as_str) == Some("additional_tools"));
    let mut blocks = Vec::new();
    for item in &items {
        let ty = item
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("message");
        match ty {
            "message" => {
                if item.get("role").and_then(Value::as_str) != Some("user") {
                    continue;
                }
                let content = item.get("content").unwrap_or(&Value::Null);
                let texts: Vec<String> = match content {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(parts) => parts
                        .iter()
                        .filter(|p| {
                            matches!(
                                p.get("type").and_then(Value::as_str),
                                Some("input_text" | "text")
                            )
                        })
                        .filter_map(|p| p.get("text").and_then(Value::as_str))
                        .map(str::to_string)
                        .collect(),
                    _ => Vec::new(),
                };
                let texts: Vec<String> = texts
                    .into_iter()
                    .filter(|t| !is_injected_context(t))
                    .collect();
                if !texts.is_empty() {
                    blocks.push(Block::Prompt(texts.join("\n")));
                }
            }
            "function_call_output" | "custom_tool_call_output" => {
                blocks.push(Block::ToolResult {
                    text: content_text(item.get("output").unwrap_or(&Value::Null)),
                    aux: false,
                });
            }
            _ => {}
        }
    }
    finish_view(blocks, &mut view);
    view
}

fn sse(out: &mut Vec<u8>, event: &str, data: &Value) {
    out.extend_from_slice(format!("event: {event}\ndata: {data}\n\n").as_bytes());
}

fn anthropic_blocks(shared: &Shared, plan: &Plan) -> (Vec<Value>, &'static str) {
    let mut content: Vec<Value> = Vec::new();
    if let Some(t) = &plan.preamble {
        content.push(json!({"type": "text", "text": t}));
    }
    let stop_reason = match &plan.action {
        Action::Shell(cmd) => {
            content.push(json!({"type": "tool_use", "id": shared.next_id("toolu_mock_"),
                "name": "Bash", "input": {"command": cmd, "description": "Run the scripted command"}}));
            "tool_use"
        }
        Action::Mcp {
            server,
            tool,
            arguments,
        } => {
            content.push(
                json!({"type": "tool_use", "id": shared.next_id("toolu_mock_"),
                "name": format!("mcp__{server}__{tool}"), "input": arguments}),
            );
            "tool_use"
        }
        Action::Text(t) => {
            content.push(json!({"type": "text", "text": t}));
            "end_turn"
        }
    };
    (content, stop_reason)
}

fn anthropic_answer(
    shared: &Shared,
    model: &str,
    input_tokens: u64,
    content: Vec<Value>,
    stop_reason: &str,
    stream: bool,
) -> Vec<u8> {
    let output_tokens: u64 = content
        .iter()
        .map(|c| (c.to_string().len() / 4).max(1) as u64)
        .sum();
    let msg_id = shared.next_id("msg_mock_");
    let usage = json!({"input_tokens": input_tokens, "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0, "output_tokens": output_tokens});
    if !stream {
        let msg = json!({"id": msg_id, "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop_reason, "stop_sequence": null, "usage": usage});
        return msg.to_string().into_bytes();
    }
    let mut out = Vec::new();
    sse(
        &mut out,
        "message_start",
        &json!({"type": "message_start", "message": {"id": msg_id, "type": "message",
            "role": "assistant", "model": model, "content": [], "stop_reason": null,
            "stop_sequence": null, "usage": {"input_tokens": input_tokens,
            "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0, "output_tokens": 1}}}),
    );
    for (i, block) in content.iter().enumerate() {
        let (start, delta) = if block["type"] == "text" {
            (
                json!({"type": "text", "text": ""}),
                json!({"type": "text_delta", "text": block["text"]}),
            )
        } else {
            (
                json!({"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}),
                json!({"type": "input_json_delta", "partial_json": block["input"].to_string()}),
            )
        };
        sse(
            &mut out,
            "content_block_start",
            &json!({"type": "content_block_start", "index": i, "content_block": start}),
        );
        sse(
            &mut out,
            "content_block_delta",
            &json!({"type": "content_block_delta", "index": i, "delta": delta}),
        );
        sse(
            &mut out,
            "content_block_stop",
            &json!({"type": "content_block_stop", "index": i}),
        );
    }
    sse(
        &mut out,
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": stop_reason, "stop_sequence": null},
            "usage": {"output_tokens": output_tokens}}),
    );
    sse(&mut out, "message_stop", &json!({"type": "message_stop"}));
    out
}

/// JavaScript for Codex code mode's `exec` tool.
fn code_mode_js(action: &Action) -> String {
    match action {
        Action::Shell(cmd) => format!(
            "const r = await tools.exec_command({{cmd: {}}});\ntext(r);\n",
            Value::String(cmd.clone())
        ),
        Action::Mcp {
            server,
            tool,
            arguments,
        } => format!("const r = await tools.mcp__{server}__{tool}({arguments});\ntext(r);\n"),
        Action::Text(_) => String::new(),
    }
}

fn responses_answer(
    shared: &Shared,
    model: &str,
    input_tokens: u64,
    plan: &Plan,
    view: &View,
) -> Vec<u8> {
    let mut items: Vec<Value> = Vec::new();
    let message = |text: &str| {
        json!({"type": "message", "id": shared.next_id("msg_mock_"), "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]})
    };
    if let Some(t) = &plan.preamble {
        items.push(message(t));
    }
    match &plan.action {
        Action::Text(t) => items.push(message(t)),
        action if view.code_mode => {
            items.push(
                json!({"type": "custom_tool_call", "id": shared.next_id("ctc_mock_"),
                "call_id": shared.next_id("call_mock_"), "name": "exec",
                "input": code_mode_js(action), "status": "completed"}),
            );
        }
        Action::Shell(cmd) => {
            let (name, args) = match view.shell_tool.as_deref() {
                Some("shell") => ("shell", json!({"command": ["bash", "-lc", cmd]})),
                _ => ("exec_command", json!({"cmd": cmd})),
            };
            items.push(
                json!({"type": "function_call", "id": shared.next_id("fc_mock_"),
                "call_id": shared.next_id("call_mock_"), "name": name,
                "arguments": args.to_string(), "status": "completed"}),
            );
        }
        Action::Mcp {
            server,
            tool,
            arguments,
        } => {
            items.push(
                json!({"type": "function_call", "id": shared.next_id("fc_mock_"),
                "call_id": shared.next_id("call_mock_"), "name": tool,
                "namespace": format!("mcp__{server}"),
                "arguments": arguments.to_string(), "status": "completed"}),
            );
        }
    }
    let output_tokens: u64 = items
        .iter()
        .map(|c| (c.to_string().len() / 4).max(1) as u64)
        .sum();
    let resp_id = shared.next_id("resp_mock_");
    let created_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let usage = json!({"input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": output_tokens,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + output_tokens});
    let response = |status: &str, output: &[Value], usage: Value| {
        json!({"id": resp_id, "object": "response", "created_at": created_at, "status": status,
            "model": model, "output": output, "usage": usage})
    };
    if !view.stream {
        return response("completed", &items, usage)
            .to_string()
            .into_bytes();
    }
    let mut seq = 0u64;
    let mut out = Vec::new();
    let mut ev = |out: &mut Vec<u8>, ty: &str, mut data: Value| {
        data["type"] = json!(ty);
        data["sequence_number"] = json!(seq);
        seq += 1;
        sse(out, ty, &data);
    };
    ev(
        &mut out,
        "response.created",
        json!({"response": response("in_progress", &[], Value::Null)}),
    );
    for (i, item) in items.iter().enumerate() {
        let mut added = item.clone();
        added["status"] = json!("in_progress");
        if item["type"] == "message" {
            added["content"] = json!([]);
        }
        ev(
            &mut out,
            "response.output_item.added",
            json!({"output_index": i, "item": added}),
        );
        if item["type"] == "message" {
            let text = item["content"][0]["text"].clone();
            ev(
                &mut out,
                "response.content_part.added",
                json!({"item_id": item["id"], "output_index": i, "content_index": 0,
                    "part": {"type": "output_text", "text": "", "annotations": []}}),
            );
            ev(
                &mut out,
                "response.output_text.delta",
                json!({"item_id": item["id"], "output_index": i, "content_index": 0,
                    "delta": text}),
            );
            ev(
                &mut out,
                "response.output_text.done",
                json!({"item_id": item["id"], "output_index": i, "content_index": 0,
                    "text": text}),
            );
            ev(
                &mut out,
                "response.content_part.done",
                json!({"item_id": item["id"], "output_index": i, "content_index": 0,
                    "part": item["content"][0]}),
            );
        }
        ev(
            &mut out,
            "response.output_item.done",
            json!({"output_index": i, "item": item}),
        );
    }
    ev(
        &mut out,
        "response.completed",
        json!({"response": response("completed", &items, usage)}),
    );
    out
}

/// An error body shaped like the real API's for `status`.
fn error_body(api: Api, status: u16, message: &str) -> Vec<u8> {
    let (anthropic_type, openai_type, openai_code, default_msg) = match status {
        400 => (
            "invalid_request_error",
            "invalid_request_error",
            "invalid_request",
            "mock: invalid request",
        ),
        401 => (
            "authentication_error",
            "invalid_request_error",
            "invalid_api_key",
            "mock: invalid API key",
        ),
        403 => (
            "permission_error",
            "invalid_request_error",
            "permission_denied",
            "mock: permission denied",
        ),
        404 => (
            "not_found_error",
            "invalid_request_error",
            "model_not_found",
            "mock: not found",
        ),
        429 => (
            "rate_limit_error",
            "rate_limit_error",
            "rate_limit_exceeded",
            "mock: rate limited",
        ),
        529 => (
            "overloaded_error",
            "server_error",
            "overloaded",
            "mock: overloaded",
        ),
        _ => (
            "api_error",
            "server_error",
            "server_error",
            "mock: server error",
        ),
    };
    let message = if message.is_empty() {
        default_msg
    } else {
        message
    };
    let v = match api {
        Api::Anthropic => {
            json!({"type": "error", "error": {"type": anthropic_type, "message": message}})
        }
        Api::Responses => json!({"error": {"message": message, "type": openai_type,
            "param": null, "code": openai_code}}),
    };
    v.to_string().into_bytes()
}

/// Binds `127.0.0.1:port` (0 = any free port).
pub fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port))
}

/// Reads the JSON-lines log written by the server (lines that do not parse are skipped).
pub fn read_log(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anthropic_prompt_and_steps() {
        let body = json!({"stream": true, "tools": [{"name": "Bash"}], "messages": [
            {"role": "user", "content": [
                {"type": "text", "text": "<system-reminder>x</system-reminder>"},
                {"type": "text", "text": "First prompt"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "r1"},
                {"type": "text", "text": "<system-reminder>later</system-reminder>"}]},
            {"role": "assistant", "content": [{"type": "text", "text": "Done."}]},
            {"role": "user", "content": "Second prompt"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "w", "name": "WaitForMcpServers", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "w", "content": [{"type": "text", "text": "ready"}]}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "b", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "b", "content": [{"type": "text", "text": "r2"}]}]}
        ]});
        let v = anthropic_view(&body);
        assert_eq!(v.prompt.as_deref(), Some("Second prompt"));
        assert_eq!(v.steps_done, 1);
        assert_eq!(v.aux_waits, 1);
        assert_eq!(v.tool_results, vec!["r1", "ready", "r2"]);
        assert_eq!(v.history_len, 9);
        assert!(v.stream);
    }

    #[test]
    fn anthropic_prompt_merged_after_tool_result() {
        let body = json!({"messages": [
            {"role": "user", "content": "First"},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "a", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "a", "content": "r1"},
                {"type": "text", "text": "Next prompt"}]}
        ]});
        let v = anthropic_view(&body);
        assert_eq!(v.prompt.as_deref(), Some("Next prompt"));
        assert_eq!(v.steps_done, 0);
    }

    #[test]
    fn responses_prompt_steps_and_code_mode() {
        let body = json!({"stream": true, "input": [
            {"type": "additional_tools", "role": "developer", "tools": []},
            {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "perms"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>\n</environment_context>"}]},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Do it"}]},
            {"type": "custom_tool_call", "call_id": "c1", "name": "exec", "input": "x"},
            {"type": "custom_tool_call_output", "call_id": "c1", "output": "out1"},
            {"type": "function_call", "call_id": "c2", "name": "exec_command", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "out2"}]}
        ]});
        let v = responses_view(&body);
        assert_eq!(v.prompt.as_deref(), Some("Do it"));
        assert_eq!(v.steps_done, 2);
        assert!(v.code_mode);
        assert_eq!(v.tool_results, vec!["out1", "out2"]);
        let body = json!({"input": "hi", "tools": [{"type": "function", "name": "exec_command"},
            {"type": "namespace", "name": "mcp__log", "tools": [{"type": "function", "name": "record"}]}]});
        let v = responses_view(&body);
        assert!(!v.code_mode);
        assert_eq!(v.shell_tool.as_deref(), Some("exec_command"));
        assert!(v.tool_names.contains(&"mcp__log__record".to_string()));
        assert_eq!(v.prompt.as_deref(), Some("hi"));
    }

    #[test]
    fn routes() {
        let mk = |m: &str, t: &str| Request {
            method: m.into(),
            target: t.into(),
            version: "HTTP/1.1".into(),
            headers: vec![],
            body: vec![],
        };
        assert!(route(&mk("POST", "/v1/messages?beta=true"), 9) == Some(Api::Anthropic));
        assert!(route(&mk("POST", "/v1/responses"), 9) == Some(Api::Responses));
        assert!(route(&mk("POST", "http://127.0.0.1:9/v1/responses"), 9) == Some(Api::Responses));
        assert!(route(&mk("POST", "http://example.com/v1/responses"), 9).is_none());
        assert!(route(&mk("CONNECT", "api.anthropic.com:443"), 9).is_none());
        assert!(route(&mk("GET", "/v1/models"), 9).is_none());
        assert!(route(&mk("POST", "/v1/messages/count_tokens"), 9).is_none());
    }
}
