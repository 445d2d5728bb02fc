//! MCP manifests: discovery from a registry entry and normalisation into a server description,
//! the original's rules (spec/harness.md §2) with its quirks fixed: every field is validated and a
//! bad one gives a precise message instead of a surprise (string `args`, `env`, `self_test: 1`,
//! fractional or zero timeouts).

use super::paths;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// File names that mark an MCP server directory, in lookup order.
pub const MANIFEST_NAMES: &[&str] = &["mcp.json", "server.json", "harnessgym-mcp.json"];

/// How a self-test is run.
#[derive(Debug, Clone, PartialEq)]
pub struct SelfTestSpec {
    pub command: Vec<String>,
    pub cwd: PathBuf,
    /// Its own timeout; else the server's `self_test_timeout_sec`.
    pub timeout_sec: Option<u64>,
}

/// A normalised MCP server.
#[derive(Debug, Clone, PartialEq)]
pub struct McpServer {
    pub name: String,
    pub command: String,
    pub args: Vec<String>,
    pub cwd: PathBuf,
    pub env: BTreeMap<String, String>,
    pub startup_timeout_sec: u64,
    pub tool_timeout_sec: u64,
    pub self_test_timeout_sec: u64,
    pub self_test: Option<SelfTestSpec>,
    /// Tools the manifest declares (`enabled_tools`), in manifest order.
    pub declared_tools: Vec<String>,
    pub manifest_path: PathBuf,
}

impl McpServer {
    /// The self-test's effective timeout in seconds.
    pub fn self_test_timeout(&self) -> u64 {
        self.self_test
            .as_ref()
            .and_then(|s| s.timeout_sec)
            .unwrap_or(self.self_test_timeout_sec)
    }
}

/// The manifest an MCP artifact stands for (spec §2.1): the file itself when it is a `.json`
/// file, else the first manifest name found in the directory (or in the file's directory).
pub fn find_manifest(path: &Path) -> Option<PathBuf> {
    if path.is_file() && path.extension().is_some_and(|e| e == "json") {
        return Some(path.to_path_buf());
    }
    let dir = if path.is_dir() { path } else { path.parent()? };
    MANIFEST_NAMES
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.is_file())
}

/// `[A-Za-z0-9_-]` runs kept, every other run becomes one `_`; empty → `harnessgym_mcp`.
pub fn sanitize_name(raw: &str) -> String {
    let mut out = String::new();
    let mut in_bad = false;
    for c in raw.trim().chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            out.push(c);
            in_bad = false;
        } else if !in_bad {
            out.push('_');
            in_bad = true;
        }
    }
    if out.is_empty() {
        "harnessgym_mcp".into()
    } else {
        out
    }
}

/// Reads and normalises a manifest. The error is one sentence naming the field at fault.
pub fn load(workspace: &Path, manifest_path: &Path) -> Result<McpServer, String> {
    let text = std::fs::read(manifest_path).map_err(|e| format!("cannot read it: {e}"))?;
    let value: Value = serde_json::from_slice(&text).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(m) = value else {
        return Err(format!(
            "the manifest is {}, expected an object",
            crate::fsx::json_kind(&value)
        ));
    };
    normalize(workspace, manifest_path, &m)
}

fn normalize(
    workspace: &Path,
    manifest_path: &Path,
    m: &Map<String, Value>,
) -> Result<McpServer, String> {
    let dir_name = manifest_path
        .parent()
        .and_then(Path::file_name)
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = match m.get("name") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        None | Some(Value::Null) | Some(Value::String(_)) => dir_name,
        Some(other) => {
            return Err(format!(
                "name must be a string, not {}",
                crate::fsx::json_kind(other)
            ))
        }
    };
    let command = match m.get("command") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
        Some(Value::String(_)) => return Err("command is empty".into()),
        None | Some(Value::Null) => return Err("command is missing".into()),
        Some(other) => {
            return Err(format!(
                "command must be a string, not {}",
                crate::fsx::json_kind(other)
            ))
        }
    };
    let args = string_list(m.get("args"), "args")?;
    if let Some(t) = m.get("transport").and_then(Value::as_str) {
        if t != "stdio" {
            return Err(format!("transport {t:?} is not supported (only \"stdio\")"));
        }
    }
    let env = match m.get("env") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(vars)) => vars
            .iter()
            .map(|(k, v)| {
                scalar(v).map(|s| (k.clone(), s)).ok_or_else(|| {
                    format!("env.{k} must be a string, not {}", crate::fsx::json_kind(v))
                })
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(format!(
                "env must be an object of strings, not {}",
                crate::fsx::json_kind(other)
            ))
        }
    };
    let empty = Map::new();
    let timeouts = m
        .get("timeouts")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let startup = timeout(
        m,
        timeouts,
        &["startup_timeout_sec"],
        &["startup_seconds", "startup_timeout_sec"],
        &["initialize_ms", "startup_ms"],
        10,
    )?;
    let tool = timeout(
        m,
        timeouts,
        &["tool_timeout_sec"],
        &["tool_seconds", "tool_timeout_sec"],
        &["tool_call_ms", "tool_ms"],
        60,
    )?;
    let self_test_timeout = timeout(
        m,
        timeouts,
        &["self_test_timeout_sec", "test_timeout_sec"],
        &["self_test_seconds", "self_test_timeout_sec"],
        &["self_test_ms", "test_ms"],
        20,
    )?;
    let raw_cwd = match m.get("cwd") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(format!(
                "cwd must be a string, not {}",
                crate::fsx::json_kind(other)
            ))
        }
    };
    let cwd = resolve_cwd(workspace, raw_cwd.as_deref(), &args);
    paths::check_cwd(workspace, &cwd, "cwd")?;
    let declared_tools = string_list(m.get("enabled_tools"), "enabled_tools")?;
    let self_test = self_test(workspace, &command, &args, &cwd, m.get("self_test"))?;
    if let Some(spec) = &self_test {
        paths::check_cwd(workspace, &spec.cwd, "self_test.cwd")?;
    }
    Ok(McpServer {
        name: sanitize_name(&name),
        command,
        args,
        cwd,
        env,
        startup_timeout_sec: startup,
        tool_timeout_sec: tool,
        self_test_timeout_sec: self_test_timeout,
        self_test,
        declared_tools,
        manifest_path: manifest_path.to_path_buf(),
    })
}

/// A string, number or boolean as text (what `env` values and `args` items may be).
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn string_list(v: Option<&Value>, field: &str) -> Result<Vec<String>, String> {
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                scalar(item).ok_or_else(|| {
                    format!(
                        "{field}[{i}] must be a string, not {}",
                        crate::fsx::json_kind(item)
                    )
                })
            })
            .collect(),
        Some(Value::String(s)) => Err(format!(
            "{field} must be a list of strings, not the string {s:?}"
        )),
        Some(other) => Err(format!(
            "{field} must be a list of strings, not {}",
            crate::fsx::json_kind(other)
        )),
    }
}

/// A duration in seconds from a number or a numeric string; must be positive.
fn seconds_of(v: &Value, key: &str, scale: f64) -> Result<Option<u64>, String> {
    let n = match v {
        Value::Null => return Ok(None),
        Value::Number(n) => n.as_f64().unwrap_or(f64::NAN),
        Value::String(s) => s
            .trim()
            .parse::<f64>()
            .map_err(|_| format!("{key} must be a number, not {s:?}"))?,
        other => {
            return Err(format!(
                "{key} must be a number, not {}",
                crate::fsx::json_kind(other)
            ))
        }
    };
    if !n.is_finite() || n <= 0.0 {
        return Err(format!(
            "{key} must be a positive number of {}",
            if scale == 1.0 {
                "seconds"
            } else {
                "milliseconds"
            }
        ));
    }
    // Whole seconds, rounded up so that a short timeout never becomes zero.
    Ok(Some((n / scale).ceil().max(1.0) as u64))
}

fn timeout(
    top: &Map<String, Value>,
    timeouts: &Map<String, Value>,
    top_keys: &[&str],
    keys: &[&str],
    ms_keys: &[&str],
    default: u64,
) -> Result<u64, String> {
    for k in top_keys {
        if let Some(v) = top.get(*k) {
            if let Some(s) = seconds_of(v, k, 1.0)? {
                return Ok(s);
            }
        }
    }
    for k in keys {
        if let Some(v) = timeouts.get(*k) {
            if let Some(s) = seconds_of(v, &format!("timeouts.{k}"), 1.0)? {
                return Ok(s);
            }
        }
    }
    for k in ms_keys {
        if let Some(v) = timeouts.get(*k) {
            if let Some(s) = seconds_of(v, &format!("timeouts.{k}"), 1000.0)? {
                return Ok(s);
            }
        }
    }
    Ok(default)
}

/// The original's cwd rules: absent → workspace; relative → under the workspace; absolute and
/// foreign while some argument is a repo-local relative path → the workspace (a manifest copied
/// from another checkout); otherwise verbatim (containment is checked by the caller).
fn resolve_cwd(workspace: &Path, raw: Option<&str>, args: &[String]) -> PathBuf {
    let Some(raw) = raw else {
        return workspace.to_path_buf();
    };
    let p = Path::new(raw);
    if p.is_relative() {
        return paths::normalize(&workspace.join(p));
    }
    let p = paths::normalize(p);
    if p != paths::normalize(workspace) && repo_local(workspace, args) {
        return workspace.to_path_buf();
    }
    p
}

fn repo_local(workspace: &Path, args: &[String]) -> bool {
    args.iter().any(|a| {
        let p = Path::new(a);
        p.is_relative() && !a.starts_with('-') && workspace.join(p).exists()
    })
}

fn self_test(
    workspace: &Path,
    command: &str,
    args: &[String],
    server_cwd: &Path,
    v: Option<&Value>,
) -> Result<Option<SelfTestSpec>, String> {
    let spec = |command: Vec<String>, cwd: PathBuf, timeout_sec| {
        if command.is_empty() || command[0].trim().is_empty() {
            return Err("self_test command is empty".to_string());
        }
        Ok(Some(SelfTestSpec {
            command,
            cwd,
            timeout_sec,
        }))
    };
    let default_command = || {
        let mut c = vec![command.to_string()];
        c.extend(args.iter().cloned());
        c.push("--self-test".into());
        c
    };
    match v {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
        Some(Value::Bool(true)) => spec(default_command(), server_cwd.to_path_buf(), None),
        Some(Value::Number(n)) if n.as_f64() == Some(1.0) => {
            spec(default_command(), server_cwd.to_path_buf(), None)
        }
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => spec(shell_words(s)?, server_cwd.to_path_buf(), None),
        Some(Value::Array(items)) if items.is_empty() => Ok(None),
        Some(v @ Value::Array(_)) => spec(
            string_list(Some(v), "self_test")?,
            server_cwd.to_path_buf(),
            None,
        ),
        Some(Value::Object(o)) if o.is_empty() => Ok(None),
        Some(Value::Object(o)) => {
            let command = match o.get("command") {
                Some(v @ Value::Array(_)) => string_list(Some(v), "self_test.command")?,
                Some(Value::String(c)) => {
                    let extra = string_list(o.get("args"), "self_test.args")?;
                    if extra.is_empty() {
                        shell_words(c)?
                    } else {
                        std::iter::once(c.clone()).chain(extra).collect()
                    }
                }
                _ => return Err("self_test.command must be a string or a list of strings".into()),
            };
            let cwd = match o.get("cwd") {
                None | Some(Value::Null) => server_cwd.to_path_buf(),
                Some(Value::String(c)) => {
                    let p = Path::new(c);
                    if p.is_relative() {
                        paths::normalize(&workspace.join(p))
                    } else if paths::normalize(p) != paths::normalize(workspace)
                        && repo_local(workspace, command.get(1..).unwrap_or(&[]))
                    {
                        workspace.to_path_buf()
                    } else {
                        paths::normalize(p)
                    }
                }
                Some(other) => {
                    return Err(format!(
                        "self_test.cwd must be a string, not {}",
                        crate::fsx::json_kind(other)
                    ))
                }
            };
            let mut timeout_sec = None;
            for (k, scale) in [
                ("timeout_seconds", 1.0),
                ("timeout_sec", 1.0),
                ("timeout_ms", 1000.0),
            ] {
                if let Some(v) = o.get(k) {
                    if let Some(s) = seconds_of(v, &format!("self_test.{k}"), scale)? {
                        timeout_sec = Some(s);
                        break;
                    }
                }
            }
            spec(command, cwd, timeout_sec)
        }
        Some(other) => Err(format!(
            "self_test must be true, false, a command string or list, or an object with command, not {}",
            crate::fsx::json_kind(other)
        )),
    }
}

/// POSIX shell word splitting (quotes and backslashes; nothing is expanded or executed).
pub fn shell_words(text: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut started = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if started {
                    words.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            '\'' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("self_test command has an unterminated ' quote".into()),
                    }
                }
            }
            '"' => {
                started = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => {
                                return Err("self_test command has an unterminated \" quote".into())
                            }
                        },
                        Some(c) => word.push(c),
                        None => return Err("self_test command has an unterminated \" quote".into()),
                    }
                }
            }
            '\\' => {
                started = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(c) => word.push(c),
                    None => word.push('\\'),
                }
            }
            c => {
                started = true;
                word.push(c);
            }
        }
    }
    if started {
        words.push(word);
    }
    Ok(words)
}

/// The normalised part of an `mcp_servers[]` row (the original's keys, plus `env` and
/// `declared_tools`); activation adds the checks.
pub fn server_row(artifact_path: &str, s: &McpServer) -> Value {
    json!({
        "artifact_path": artifact_path,
        "name": s.name,
        "command": s.command,
        "args": s.args,
        "cwd": s.cwd.to_string_lossy(),
        "env": s.env,
        "startup_timeout_sec": s.startup_timeout_sec,
        "tool_timeout_sec": s.tool_timeout_sec,
        "self_test_timeout_sec": s.self_test_timeout_sec,
        "enabled_tools": s.declared_tools,
        "declared_tools": s.declared_tools,
        "manifest_path": s.manifest_path.to_string_lossy(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ws() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".harnessgym/mcp/srv")).unwrap();
        std::fs::write(dir.path().join(".harnessgym/mcp/srv/server.py"), "").unwrap();
        dir
    }

    fn norm(dir: &Path, m: Value) -> Result<McpServer, String> {
        let path = dir.join(".harnessgym/mcp/srv/mcp.json");
        normalize(dir, &path, m.as_object().unwrap())
    }

    #[test]
    fn names_are_sanitised_and_default_to_the_directory() {
        assert_eq!(sanitize_name(" my server.v2 "), "my_server_v2");
        assert_eq!(sanitize_name("ok-name_1"), "ok-name_1");
        assert_eq!(sanitize_name("..."), "_");
        assert_eq!(sanitize_name(""), "harnessgym_mcp");
        let d = ws();
        let s = norm(d.path(), json!({"command": "python3"})).unwrap();
        assert_eq!(s.name, "srv");
        assert_eq!(s.cwd, d.path());
        assert_eq!(
            (
                s.startup_timeout_sec,
                s.tool_timeout_sec,
                s.self_test_timeout_sec
            ),
            (10, 60, 20)
        );
    }

    #[test]
    fn timeouts_nested_ms_fractional_and_invalid() {
        let d = ws();
        let s = norm(d.path(), json!({"command": "x", "timeouts": {"startup_seconds": 11, "tool_seconds": "77", "self_test_seconds": 33}})).unwrap();
        assert_eq!(
            (
                s.startup_timeout_sec,
                s.tool_timeout_sec,
                s.self_test_timeout_sec
            ),
            (11, 77, 33)
        );
        let s = norm(d.path(), json!({"command": "x", "timeouts": {"startup_ms": 5000, "tool_call_ms": 120000, "test_ms": 45000}})).unwrap();
        assert_eq!(
            (
                s.startup_timeout_sec,
                s.tool_timeout_sec,
                s.self_test_timeout_sec
            ),
            (5, 120, 45)
        );
        let s = norm(
            d.path(),
            json!({"command": "x", "startup_timeout_sec": "10.5"}),
        )
        .unwrap();
        assert_eq!(s.startup_timeout_sec, 11);
        let err = norm(d.path(), json!({"command": "x", "tool_timeout_sec": 0})).unwrap_err();
        assert!(err.contains("tool_timeout_sec must be a positive"), "{err}");
        let err = norm(
            d.path(),
            json!({"command": "x", "timeouts": {"tool_seconds": "soon"}}),
        )
        .unwrap_err();
        assert!(
            err.contains("timeouts.tool_seconds must be a number"),
            "{err}"
        );
    }

    #[test]
    fn fields_are_validated_with_precise_messages() {
        let d = ws();
        let err = norm(d.path(), json!({"command": "x", "args": "server.py"})).unwrap_err();
        assert!(
            err.contains("args must be a list of strings, not the string"),
            "{err}"
        );
        assert_eq!(norm(d.path(), json!({})).unwrap_err(), "command is missing");
        let err = norm(d.path(), json!({"command": "x", "env": {"A": null}})).unwrap_err();
        assert!(err.contains("env.A must be a string"), "{err}");
        let s = norm(d.path(), json!({"command": "x", "env": {"A": "1", "B": 2}})).unwrap();
        assert_eq!(s.env["B"], "2");
        let err = norm(d.path(), json!({"command": "x", "transport": "http"})).unwrap_err();
        assert!(err.contains("transport"), "{err}");
        let err = norm(d.path(), json!({"command": "x", "self_test": 3})).unwrap_err();
        assert!(err.contains("self_test must be"), "{err}");
    }

    #[test]
    fn self_test_forms() {
        let d = ws();
        let base =
            json!({"command": "python3", "args": ["server.py"], "cwd": ".harnessgym/mcp/srv"});
        let with = |st: Value| {
            let mut m = base.clone();
            m["self_test"] = st;
            norm(d.path(), m).unwrap().self_test
        };
        let srv = d.path().join(".harnessgym/mcp/srv");
        let t = with(json!(true)).unwrap();
        assert_eq!(t.command, ["python3", "server.py", "--self-test"]);
        assert_eq!(t.cwd, srv);
        assert_eq!(with(json!(1)).unwrap().command.len(), 3);
        assert!(
            with(json!(false)).is_none() && with(json!(0)).is_none() && with(json!("")).is_none()
        );
        assert_eq!(
            with(json!("python3 'a b.py' --x")).unwrap().command,
            ["python3", "a b.py", "--x"]
        );
        let t = with(json!({"command": "python3", "args": ["t.py"], "cwd": ".harnessgym", "timeout_ms": 2500})).unwrap();
        assert_eq!(t.command, ["python3", "t.py"]);
        assert_eq!(t.cwd, d.path().join(".harnessgym"));
        assert_eq!(t.timeout_sec, Some(3));
    }

    #[test]
    fn cwd_outside_is_refused_and_copied_manifests_are_rewritten() {
        let d = ws();
        let err = norm(d.path(), json!({"command": "x", "cwd": "/tmp"})).unwrap_err();
        assert!(err.contains("escapes .harnessgym"), "{err}");
        let err = norm(d.path(), json!({"command": "x", "cwd": "../"})).unwrap_err();
        assert!(err.contains("escapes .harnessgym"), "{err}");
        let s = norm(
            d.path(),
            json!({"command": "python3", "args": [".harnessgym/mcp/srv/server.py"], "cwd": "/elsewhere/checkout"}),
        )
        .unwrap();
        assert_eq!(s.cwd, d.path());
    }

    #[test]
    fn shell_words_split_like_posix() {
        assert_eq!(
            shell_words(r#"a "b c" 'd e' f\ g "h\"i""#).unwrap(),
            ["a", "b c", "d e", "f g", "h\"i"]
        );
        assert!(shell_words("a 'b").is_err());
        assert_eq!(shell_words("''").unwrap(), [""]);
    }
}
