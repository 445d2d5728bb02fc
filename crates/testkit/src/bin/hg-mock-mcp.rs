//! `hg-mock-mcp --log FILE [--init-delay-ms N]`: a minimal stdio MCP server for tests (newline-delimited JSON-RPC,
//! the framing both real clients use). It offers two tools, `record` (`{text}`) and `add`
//! (`{a, b}`), and appends one JSON line per `tools/call` to FILE:
//! `{"at", "tool", "arguments", "meta"}`. Every line is flushed as written, so the log is complete
//! even when the client ends the server with SIGINT / SIGTERM (as both clients do).
//! `--init-delay-ms` delays the answer to `initialize` (a slow-starting server).

use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::process::ExitCode;

fn tools() -> Value {
    json!([
        {"name": "record", "description": "Record a line of text in the test log.",
         "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}},
                         "required": ["text"]}},
        {"name": "add", "description": "Add two numbers.",
         "inputSchema": {"type": "object", "properties": {"a": {"type": "number"},
                         "b": {"type": "number"}}, "required": ["a", "b"]}}
    ])
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut log_path = None;
    let mut init_delay_ms: u64 = 0;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--log" => log_path = args.next(),
            "--init-delay-ms" => {
                init_delay_ms = args.next().and_then(|v| v.parse().ok()).unwrap_or(0);
            }
            other => {
                eprintln!("hg-mock-mcp: unknown argument {other:?}\nusage: hg-mock-mcp --log FILE [--init-delay-ms N]");
                return ExitCode::from(2);
            }
        }
    }
    let Some(log_path) = log_path else {
        eprintln!("usage: hg-mock-mcp --log FILE [--init-delay-ms N]");
        return ExitCode::from(2);
    };
    let mut log = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
    {
        Ok(f) => f,
        Err(e) => {
            eprintln!("hg-mock-mcp: cannot open {log_path}: {e}");
            return ExitCode::from(1);
        }
    };
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let Ok(msg) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        let Some(id) = msg.get("id").cloned() else {
            continue; // a notification
        };
        let method = msg.get("method").and_then(Value::as_str).unwrap_or("");
        let params = msg.get("params").cloned().unwrap_or(Value::Null);
        let reply = match method {
            "initialize" => {
                std::thread::sleep(std::time::Duration::from_millis(init_delay_ms));
                let version = params
                    .get("protocolVersion")
                    .cloned()
                    .unwrap_or(json!("2025-06-18"));
                json!({"jsonrpc": "2.0", "id": id, "result": {"protocolVersion": version,
                    "capabilities": {"tools": {}},
                    "serverInfo": {"name": "hg-mock-mcp", "version": "0.1.0"}}})
            }
            "ping" => json!({"jsonrpc": "2.0", "id": id, "result": {}}),
            "tools/list" => {
                json!({"jsonrpc": "2.0", "id": id, "result": {"tools": tools()}})
            }
            "tools/call" => {
                let tool = params.get("name").and_then(Value::as_str).unwrap_or("");
                let arguments = params.get("arguments").cloned().unwrap_or(json!({}));
                let entry = json!({
                    "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                    "tool": tool, "arguments": arguments, "meta": params.get("_meta"),
                });
                let _ = log.write_all(format!("{entry}\n").as_bytes());
                let _ = log.flush();
                let text = match tool {
                    "record" => format!(
                        "recorded: {}",
                        arguments.get("text").and_then(Value::as_str).unwrap_or("")
                    ),
                    "add" => {
                        let n = |k: &str| arguments.get(k).and_then(Value::as_f64).unwrap_or(0.0);
                        format!("{}", n("a") + n("b"))
                    }
                    _ => {
                        let e = json!({"jsonrpc": "2.0", "id": id, "result": {
                            "content": [{"type": "text", "text": format!("unknown tool {tool}")}],
                            "isError": true}});
                        let _ = writeln!(stdout, "{e}");
                        let _ = stdout.flush();
                        continue;
                    }
                };
                json!({"jsonrpc": "2.0", "id": id, "result": {
                    "content": [{"type": "text", "text": text}], "isError": false}})
            }
            _ => json!({"jsonrpc": "2.0", "id": id,
                "error": {"code": -32601, "message": format!("method not found: {method}")}}),
        };
        let _ = writeln!(stdout, "{reply}");
        let _ = stdout.flush();
    }
    ExitCode::SUCCESS
}
