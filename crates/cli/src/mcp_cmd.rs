//! `harnessgym mcp-proxy` and `harnessgym mcp-call`: thin shells over `harnessgym_mcp`.
//!
//! * `mcp-proxy` relays between an MCP client on stdio (newline-delimited JSON, as Codex and
//!   Claude Code speak it) and a wrapped server (either framing), logging each `tools/call` to
//!   `--telemetry`. It replaces the original's telemetry proxy and its Claude bridge.
//! * `mcp-call` calls a tool (or lists the tools) of an active MCP server of a workspace, as
//!   the original's `harnessgym-mcp-call` did (harness spec §3.9), through `mcp-proxy` so the
//!   call is logged to `<workspace>/.harnessgym/mcp_calls.jsonl`.

use clap::Args;
use harnessgym_mcp::{Client, Framing, McpError, Proxy, ProxyEnd, ProxyOptions, ServerCommand};
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

/// `harnessgym mcp-proxy` arguments.
#[derive(Args, Debug)]
#[command(
    after_help = "Example:\n  harnessgym mcp-proxy --server-name tools --telemetry ws/.harnessgym/mcp_calls.jsonl \\\n    --run 20260101-120000 --iteration 2 --phase attempt -- python3 server.py"
)]
pub struct McpProxyArgs {
    /// Server name written in each telemetry line.
    #[arg(long, value_name = "NAME")]
    server_name: String,
    /// The mcp_calls.jsonl file to append one line per tools/call to (created if missing).
    #[arg(long, value_name = "PATH")]
    telemetry: PathBuf,
    /// Run id written in each telemetry line.
    #[arg(long = "run", value_name = "RUN_ID")]
    run: Option<String>,
    /// Iteration number written in each telemetry line.
    #[arg(long, value_name = "N")]
    iteration: Option<u64>,
    /// Phase written in each telemetry line (attempt, reflection, build…).
    #[arg(long, value_name = "PHASE")]
    phase: Option<String>,
    /// The wrapped server's framing; auto detects it at the first request.
    #[arg(long, default_value = "auto", value_parser = ["auto", "ndjson", "content-length"])]
    framing: String,
    /// Seconds a request may wait for its response before the client gets a -32000 error.
    #[arg(long, value_name = "SECS", default_value = "60")]
    response_timeout: f64,
    /// Seconds `initialize` may wait (server start and framing detection included); default:
    /// the response timeout, at least 30.
    #[arg(long, value_name = "SECS")]
    startup_timeout: Option<f64>,
    /// Working directory of the wrapped server (default: the current one).
    #[arg(long, value_name = "DIR")]
    cwd: Option<PathBuf>,
    /// Append the server's stderr to this file (capped) instead of our stderr (capped).
    #[arg(long, value_name = "PATH")]
    stderr_log: Option<PathBuf>,
    /// The wrapped server command, after `--`.
    #[arg(
        value_name = "COMMAND",
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 1..,
        required = true
    )]
    command: Vec<String>,
}

/// `harnessgym mcp-call` arguments.
#[derive(Args, Debug)]
pub struct McpCallArgs {
    /// The workspace (default: the nearest directory at or above the current one with
    /// .harnessgym/activation.json, else the current one).
    #[arg(long, value_name = "DIR")]
    workspace: Option<PathBuf>,
    /// Name of an active server in .harnessgym/activation.json.
    #[arg(long, value_name = "NAME")]
    server: String,
    /// Tool to call.
    #[arg(long, value_name = "TOOL", conflicts_with = "list_tools")]
    tool: Option<String>,
    /// Tool arguments as a JSON object (default {}).
    #[arg(long, value_name = "JSON", conflicts_with = "arguments_file")]
    arguments: Option<String>,
    /// Read the tool arguments (a JSON object) from this file.
    #[arg(long, value_name = "FILE")]
    arguments_file: Option<PathBuf>,
    /// List the server's tools instead of calling one.
    #[arg(long)]
    list_tools: bool,
    /// Print the whole JSON-RPC response.
    #[arg(long)]
    raw: bool,
    /// Seconds to wait for the tool (default: the server's tool_timeout_sec, else 60).
    #[arg(long, value_name = "SECS")]
    timeout: Option<f64>,
    /// Run id written in the telemetry line.
    #[arg(long = "run", value_name = "RUN_ID")]
    run: Option<String>,
    /// Iteration number written in the telemetry line.
    #[arg(long, value_name = "N")]
    iteration: Option<u64>,
    /// Phase written in the telemetry line.
    #[arg(long, value_name = "PHASE")]
    phase: Option<String>,
}

fn usage(command: &str, message: &str) -> ExitCode {
    eprintln!("harnessgym {command}: error: {message} (see harnessgym {command} --help)");
    ExitCode::from(crate::exit::USAGE)
}

fn seconds(value: f64) -> Option<Duration> {
    (value.is_finite() && value > 0.0 && value < 1e9).then(|| Duration::from_secs_f64(value))
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|d| d.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Runs the proxy on stdin/stdout until the client leaves, the server exits or a signal.
/// Exit code: 0 after client EOF, 1 when the server exited first or could not start,
/// 128 + the signal number after SIGTERM/SIGINT/SIGHUP, 2 for bad arguments.
pub fn proxy_main(args: McpProxyArgs) -> ExitCode {
    let Some(response_timeout) = seconds(args.response_timeout) else {
        return usage(
            "mcp-proxy",
            "--response-timeout must be a positive number of seconds",
        );
    };
    let startup_timeout = match args.startup_timeout {
        None => response_timeout.max(Duration::from_secs(30)),
        Some(s) => match seconds(s) {
            Some(d) => d,
            None => {
                return usage(
                    "mcp-proxy",
                    "--startup-timeout must be a positive number of seconds",
                )
            }
        },
    };
    let framing = match args.framing.as_str() {
        "auto" => None,
        other => match other.parse::<Framing>() {
            Ok(f) => Some(f),
            Err(e) => return usage("mcp-proxy", &e),
        },
    };
    let mut command = args.command.into_iter();
    let Some(program) = command.next().filter(|p| !p.is_empty()) else {
        return usage("mcp-proxy", "missing wrapped server command");
    };
    let cwd = absolute(&args.cwd.unwrap_or_else(|| PathBuf::from(".")));
    let opts = ProxyOptions {
        server_name: args.server_name,
        server: ServerCommand::new(program, command, cwd),
        telemetry_path: absolute(&args.telemetry),
        run_id: args.run,
        iteration: args.iteration,
        phase: args.phase,
        framing,
        response_timeout,
        startup_timeout,
        stderr_log: args.stderr_log.map(|p| absolute(&p)),
    };
    let proxy = Proxy::new(opts);
    install_stop_signals(proxy.stopper());
    match proxy.run(std::io::stdin(), std::io::stdout()) {
        Ok(outcome) => match outcome.end {
            ProxyEnd::ClientEof | ProxyEnd::ClientGone => ExitCode::SUCCESS,
            ProxyEnd::ServerExited => ExitCode::from(1),
            ProxyEnd::Signal(sig) => ExitCode::from((128 + sig).clamp(0, 255) as u8),
        },
        Err(e) => {
            eprintln!("harnessgym mcp-proxy: {e}");
            ExitCode::from(crate::exit::ERROR)
        }
    }
}

/// Real clients end their servers with SIGTERM (Codex) or SIGINT (Claude Code), without
/// closing stdin first: both stop the proxy cleanly (pending calls logged as cancelled).
fn install_stop_signals(stop: harnessgym_mcp::ProxyStop) {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let Ok(mut signals) = signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]) else {
        return;
    };
    std::thread::spawn(move || {
        for sig in signals.forever() {
            stop.stop(sig);
        }
    });
}

/// A server row of `activation.json`, as `mcp-call` needs it.
struct ServerRow {
    command: ServerCommand,
    tool_timeout: Option<f64>,
    framing: Option<Framing>,
}

fn find_workspace() -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    cwd.ancestors()
        .find(|d| d.join(".harnessgym").join("activation.json").is_file())
        .map(Path::to_path_buf)
        .unwrap_or(cwd)
}

fn lookup_server(workspace: &Path, name: &str) -> Result<ServerRow, String> {
    let path = workspace.join(".harnessgym").join("activation.json");
    let not_found = |why: String| format!("could not find active MCP server '{name}': {why}");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| not_found(format!("cannot read {}: {e}", path.display())))?;
    let activation: Value = serde_json::from_str(&text)
        .map_err(|e| not_found(format!("{} is not valid JSON: {e}", path.display())))?;
    let rows = activation
        .get("mcp_servers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let active = |r: &&Value| r.get("active") != Some(&Value::Bool(false));
    let Some(row) = rows
        .iter()
        .filter(active)
        .find(|r| r.get("name").and_then(Value::as_str) == Some(name))
    else {
        let names: Vec<&str> = rows
            .iter()
            .filter(active)
            .filter_map(|r| r.get("name").and_then(Value::as_str))
            .collect();
        return Err(if names.is_empty() {
            not_found(format!("{} lists no active server", path.display()))
        } else {
            not_found(format!("active servers: {}", names.join(", ")))
        });
    };
    let command = row
        .get("command")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| format!("MCP server '{name}' in {} has no command", path.display()))?;
    let args: Vec<String> = row
        .get("args")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|v| match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                })
                .collect()
        })
        .unwrap_or_default();
    let cwd = match row.get("cwd").and_then(Value::as_str) {
        Some(c) if !c.is_empty() => workspace.join(c),
        _ => workspace.to_path_buf(),
    };
    let env: Vec<(String, String)> = row
        .get("env")
        .and_then(Value::as_object)
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                .collect()
        })
        .unwrap_or_default();
    let mut command = ServerCommand::new(command, args, cwd);
    command.env = env;
    Ok(ServerRow {
        command,
        tool_timeout: row
            .get("tool_timeout_sec")
            .and_then(Value::as_f64)
            .filter(|t| *t > 0.0),
        framing: row
            .get("framing")
            .and_then(Value::as_str)
            .and_then(|f| f.parse().ok()),
    })
}

/// Recursively sorts object keys (so output is sorted whatever serde_json's map type).
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for k in keys {
                out.insert(k.clone(), sorted(&m[k]));
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

fn pretty(v: &Value) -> String {
    serde_json::to_string_pretty(&sorted(v)).unwrap_or_else(|_| v.to_string())
}

fn fail(message: &str) -> ExitCode {
    eprintln!("{}", pretty(&json!({"error": message, "ok": false})));
    ExitCode::from(crate::exit::ERROR)
}

/// What `mcp-call` prints without `--raw` (harness spec §3.9): the whole response on error or
/// a non-object result; else the first text content, JSON-decoded when it is JSON; else the
/// result.
fn payload(response: &Value) -> Value {
    let result = response.get("result");
    if response.get("error").is_some() || !result.is_some_and(Value::is_object) {
        return response.clone();
    }
    let result = result.expect("checked");
    if let Some(text) = result
        .get("content")
        .and_then(|c| c.get(0))
        .and_then(|c| c.get("text"))
        .and_then(Value::as_str)
    {
        return serde_json::from_str(text)
            .unwrap_or_else(|_| json!({"text": text, "isError": truthy(result.get("isError"))}));
    }
    result.clone()
}

fn truthy(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::Number(n)) => n.as_f64() != Some(0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(Value::Object(o)) => !o.is_empty(),
        Some(Value::Bool(true)) => true,
    }
}

/// Calls a tool (or lists tools) of an active server through `harnessgym mcp-proxy`. Exit code:
/// 0 success, 1 error (printed as `{"error", "ok": false}` on stderr, or a tool / JSON-RPC
/// error in the printed response), 2 bad arguments.
pub fn call_main(args: McpCallArgs) -> ExitCode {
    const CMD: &str = "mcp-call";
    if args.tool.is_none() && !args.list_tools {
        return usage(CMD, "--tool is required unless --list-tools is passed");
    }
    let arguments = if args.list_tools {
        Value::Null
    } else {
        let text = match (&args.arguments_file, &args.arguments) {
            (Some(file), _) => match std::fs::read_to_string(file) {
                Ok(t) => t,
                Err(e) => {
                    return usage(
                        CMD,
                        &format!("cannot read --arguments-file {}: {e}", file.display()),
                    )
                }
            },
            (None, Some(a)) => a.clone(),
            (None, None) => "{}".into(),
        };
        match serde_json::from_str::<Value>(&text) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => return usage(CMD, "MCP tool arguments must be a JSON object"),
            Err(e) => {
                return usage(
                    CMD,
                    &format!("MCP tool arguments must be a JSON object (invalid JSON: {e})"),
                )
            }
        }
    };
    let explicit_timeout = match args.timeout {
        Some(t) => match seconds(t) {
            Some(d) => Some(d),
            None => return usage(CMD, "--timeout must be a positive number of seconds"),
        },
        None => None,
    };
    let workspace = match &args.workspace {
        Some(w) => absolute(w),
        None => find_workspace(),
    };
    let workspace = workspace.canonicalize().unwrap_or(workspace);
    let row = match lookup_server(&workspace, &args.server) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let timeout = explicit_timeout
        .unwrap_or_else(|| Duration::from_secs_f64(row.tool_timeout.unwrap_or(60.0).min(1e9)));
    // Starting the server (and detecting its framing) is not bounded by a short tool timeout.
    let startup = timeout.clamp(Duration::from_secs(10), Duration::from_secs(30));
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return fail(&format!("cannot find the harnessgym binary: {e}")),
    };
    let mut proxy_args: Vec<String> = vec![
        "mcp-proxy".into(),
        "--server-name".into(),
        args.server.clone(),
        "--telemetry".into(),
        workspace
            .join(".harnessgym")
            .join("mcp_calls.jsonl")
            .display()
            .to_string(),
        "--response-timeout".into(),
        format!("{}", timeout.as_secs_f64()),
        "--startup-timeout".into(),
        format!("{}", startup.as_secs_f64()),
        "--cwd".into(),
        row.command.cwd.display().to_string(),
        "--framing".into(),
        row.framing.map_or("auto", Framing::as_str).into(),
    ];
    for (flag, value) in [
        ("--run", args.run.clone()),
        ("--iteration", args.iteration.map(|i| i.to_string())),
        ("--phase", args.phase.clone()),
    ] {
        if let Some(v) = value {
            proxy_args.push(flag.into());
            proxy_args.push(v);
        }
    }
    proxy_args.push("--".into());
    proxy_args.push(row.command.command.clone());
    proxy_args.extend(row.command.args.iter().cloned());
    let mut proxy_cmd = ServerCommand::new(exe.display().to_string(), proxy_args, &row.command.cwd);
    proxy_cmd.env = row.command.env.clone();

    let mut client = match Client::spawn(&proxy_cmd, Some(Framing::Ndjson)) {
        Ok(c) => c,
        Err(e) => return fail(&e.to_string()),
    };
    let stderr_of = |c: &Client| c.stderr_tail(4000);
    // The proxy answers with a -32000 error at `timeout`; we wait a little longer so that its
    // answer, not our deadline, decides.
    let margin = Duration::from_secs(5);
    let init = Client::initialize_params("harnessgym-mcp-call");
    if let Err(e) = client.initialize(init, startup + margin) {
        let message = format!("MCP initialize failed: {e}; stderr={}", stderr_of(&client));
        client.close(Duration::from_secs(3));
        return fail(&message);
    }
    let response = if args.list_tools {
        client.list_tools(timeout + margin)
    } else {
        let tool = args.tool.as_deref().unwrap_or_default();
        client.call_tool(tool, arguments, timeout + margin)
    };
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            let what = match e {
                McpError::Timeout { .. } => "MCP call timed out".to_string(),
                other => format!("MCP call failed: {other}"),
            };
            let message = format!("{what}; stderr={}", stderr_of(&client));
            client.close(Duration::from_secs(3));
            return fail(&message);
        }
    };
    client.close(Duration::from_secs(3));
    let is_error = response.get("error").is_some()
        || (!args.raw && truthy(response.get("result").and_then(|r| r.get("isError"))));
    let shown = if args.raw {
        response
    } else {
        payload(&response)
    };
    println!("{}", pretty(&shown));
    if is_error {
        ExitCode::from(crate::exit::ERROR)
    } else {
        ExitCode::SUCCESS
    }
}
