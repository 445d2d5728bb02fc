//! The mock's script: which scripted steps answer which prompt, and the stateless rule that
//! picks the step from the request's history.
//!
//! ```json
//! {"auth_status": null,
//!  "rules": [
//!    {"when_prompt_contains": "Primary task", "steps": [
//!        {"shell": "echo hi > {workspace}/marker.txt"},
//!        {"mcp": {"server": "log", "tool": "record", "arguments": {"text": "x"}}},
//!        {"text": "Done."}]},
//!    {"when_prompt_contains": "", "steps": [{"text": "ok"}]}
//!  ]}
//! ```
//!
//! * The *prompt* is the text of the latest user message that carries text of its own (tool
//!   results and the clients' injected context blocks such as `<system-reminder>…` or
//!   `<environment_context>…` do not count).
//! * The first rule whose `when_prompt_contains` occurs in the prompt applies (`""` matches all).
//! * The step index is the number of tool results after that prompt in the request's history.
//!   Past the last step, the last step's `text` (or `"Done."`) is answered again.
//! * Each step is one of `shell`, `mcp` or `text`; `text` may also accompany a tool step (it is
//!   sent before the call). `delay_ms` delays the answer to that request.
//! * Placeholders in `shell`, `text` and string values inside `mcp.arguments`:
//!   `{result_path}`, `{workspace}`, `{prompt_sha}` (see [`Placeholders`]).
//! * `auth_status` (e.g. 401): every model request gets that status and an error body shaped
//!   like the real API's.

use serde::Deserialize;
use serde_json::Value;
use std::path::Path;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// When set, every model request is answered with this HTTP status and an error body.
    #[serde(default)]
    pub auth_status: Option<u16>,
    #[serde(default)]
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default)]
    pub when_prompt_contains: String,
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(default)]
    pub shell: Option<String>,
    #[serde(default)]
    pub mcp: Option<McpCall>,
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpCall {
    pub server: String,
    pub tool: String,
    #[serde(default = "empty_object")]
    pub arguments: Value,
}

fn empty_object() -> Value {
    Value::Object(Default::default())
}

impl Script {
    pub fn from_json_str(s: &str) -> Result<Script, String> {
        let script: Script =
            serde_json::from_str(s).map_err(|e| format!("invalid mock script: {e}"))?;
        for (i, rule) in script.rules.iter().enumerate() {
            if rule.steps.is_empty() {
                return Err(format!("invalid mock script: rule {i} has no steps"));
            }
            for (j, step) in rule.steps.iter().enumerate() {
                if step.shell.is_some() && step.mcp.is_some() {
                    return Err(format!(
                        "invalid mock script: rule {i} step {j} has both shell and mcp"
                    ));
                }
                if step.shell.is_none() && step.mcp.is_none() && step.text.is_none() {
                    return Err(format!(
                        "invalid mock script: rule {i} step {j} needs shell, mcp or text"
                    ));
                }
            }
        }
        Ok(script)
    }

    pub fn load(path: &Path) -> Result<Script, String> {
        let s = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read script {}: {e}", path.display()))?;
        Script::from_json_str(&s)
    }

    /// Picks the answer for a request whose latest prompt is `prompt` and which carries
    /// `tool_results_after_prompt` tool results after it.
    pub fn plan(&self, prompt: &str, tool_results_after_prompt: usize) -> Plan {
        let ph = Placeholders::from_prompt(prompt);
        let Some(rule_idx) = self
            .rules
            .iter()
            .position(|r| prompt.contains(&r.when_prompt_contains))
        else {
            return Plan {
                rule: None,
                step: tool_results_after_prompt,
                action: Action::Text("mock: no rule matched this prompt".into()),
                preamble: None,
                delay_ms: 0,
            };
        };
        let rule = &self.rules[rule_idx];
        let step_idx = tool_results_after_prompt;
        match rule.steps.get(step_idx) {
            Some(step) => {
                let action = if let Some(cmd) = &step.shell {
                    Action::Shell(ph.apply(cmd))
                } else if let Some(m) = &step.mcp {
                    Action::Mcp {
                        server: m.server.clone(),
                        tool: m.tool.clone(),
                        arguments: ph.apply_value(&m.arguments),
                    }
                } else {
                    Action::Text(ph.apply(step.text.as_deref().unwrap_or_default()))
                };
                let preamble = match action {
                    Action::Text(_) => None,
                    _ => step.text.as_deref().map(|t| ph.apply(t)),
                };
                Plan {
                    rule: Some(rule_idx),
                    step: step_idx,
                    action,
                    preamble,
                    delay_ms: step.delay_ms.unwrap_or(0),
                }
            }
            None => {
                let last = rule.steps.last();
                let text = last
                    .and_then(|s| s.text.as_deref())
                    .unwrap_or("Done.")
                    .to_string();
                Plan {
                    rule: Some(rule_idx),
                    step: step_idx,
                    action: Action::Text(ph.apply(&text)),
                    preamble: None,
                    delay_ms: last.and_then(|s| s.delay_ms).unwrap_or(0),
                }
            }
        }
    }
}

/// What the mock answers to one request.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub rule: Option<usize>,
    pub step: usize,
    pub action: Action,
    /// Assistant text sent before a tool call.
    pub preamble: Option<String>,
    pub delay_ms: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Shell(String),
    Mcp {
        server: String,
        tool: String,
        arguments: Value,
    },
    Text(String),
}

/// Values substituted into step strings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Placeholders {
    /// `{result_path}`: the first absolute path in the prompt ending in `/result.json`.
    pub result_path: Option<String>,
    /// `{workspace}`: the line after `on this workspace:` if present (or the rest of that line
    /// when it is not empty), else the first absolute path in the prompt.
    pub workspace: Option<String>,
    /// `{prompt_sha}`: the first 12 hex digits of SHA-256 of the prompt.
    pub prompt_sha: String,
}

const WORKSPACE_MARKER: &str = "on this workspace:";

fn trim_token(t: &str) -> &str {
    t.trim_matches(|c: char| {
        matches!(
            c,
            '"' | '\'' | '`' | '(' | ')' | '[' | ']' | '<' | '>' | ',' | ';' | ':' | '.'
        )
    })
}

fn absolute_paths(text: &str) -> impl Iterator<Item = &str> {
    text.split_whitespace()
        .map(trim_token)
        .filter(|t| t.starts_with('/') && t.len() > 1)
}

impl Placeholders {
    pub fn from_prompt(prompt: &str) -> Placeholders {
        let result_path = absolute_paths(prompt)
            .find(|p| p.ends_with("/result.json"))
            .map(str::to_string);
        let workspace = prompt
            .find(WORKSPACE_MARKER)
            .and_then(|i| {
                let rest = &prompt[i + WORKSPACE_MARKER.len()..];
                let (same_line, after) = rest.split_once('\n').unwrap_or((rest, ""));
                let same_line = same_line.trim();
                if !same_line.is_empty() {
                    return Some(trim_token(same_line).to_string());
                }
                after
                    .lines()
                    .map(str::trim)
                    .find(|l| !l.is_empty())
                    .map(|l| trim_token(l).to_string())
            })
            .or_else(|| absolute_paths(prompt).next().map(str::to_string));
        Placeholders {
            result_path,
            workspace,
            prompt_sha: sha_hex(prompt.as_bytes())[..12].to_string(),
        }
    }

    /// Substitutes the placeholders; one that cannot be resolved is left as written.
    pub fn apply(&self, s: &str) -> String {
        let mut out = s.replace("{prompt_sha}", &self.prompt_sha);
        if let Some(p) = &self.result_path {
            out = out.replace("{result_path}", p);
        }
        if let Some(w) = &self.workspace {
            out = out.replace("{workspace}", w);
        }
        out
    }

    pub fn apply_value(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => Value::String(self.apply(s)),
            Value::Array(a) => Value::Array(a.iter().map(|x| self.apply_value(x)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), self.apply_value(x)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// Whether a user-message text part is context injected by a client rather than typed by the
/// user: `<system-reminder>…`, `<environment_context>…`, `<user_instructions>…`,
/// `# AGENTS.md instructions …` and the like.
pub fn is_injected_context(text: &str) -> bool {
    let t = text.trim();
    if t.is_empty() {
        return true;
    }
    if t.starts_with("# AGENTS.md instructions") {
        return true;
    }
    // A text that is one whole `<tag>…</tag>` element (tag = lowercase letters, `_`, `-`).
    if let Some(rest) = t.strip_prefix('<') {
        if let Some(end) = rest.find('>') {
            let tag = &rest[..end];
            let tag_name = tag.split_whitespace().next().unwrap_or("");
            if !tag_name.is_empty()
                && tag_name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '-')
                && t.ends_with(&format!("</{tag_name}>"))
            {
                return true;
            }
        }
    }
    false
}

/// SHA-256 of `data` in hex (the core's implementation; one copy in the repository).
fn sha_hex(data: &[u8]) -> String {
    let mut h = harnessgym_core::harness::hash::Sha256::new();
    h.update(data);
    h.finish_hex()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn script() -> Script {
        Script::from_json_str(
            &json!({"rules": [
                {"when_prompt_contains": "Primary task", "steps": [
                    {"shell": "echo hi > {workspace}/marker.txt"},
                    {"mcp": {"server": "log", "tool": "record", "arguments": {"text": "{prompt_sha}"}}},
                    {"shell": "cat > {result_path}", "text": "writing", "delay_ms": 5},
                    {"text": "Done."}]},
                {"when_prompt_contains": "", "steps": [{"text": "ok"}]}
            ]})
            .to_string(),
        )
        .unwrap()
    }

    #[test]
    fn steps_follow_tool_result_count() {
        let s = script();
        let prompt = "Primary task on this workspace:\n/w/ork\nWrite /w/out/result.json.";
        let p0 = s.plan(prompt, 0);
        assert_eq!(p0.rule, Some(0));
        assert_eq!(
            p0.action,
            Action::Shell("echo hi > /w/ork/marker.txt".into())
        );
        let p1 = s.plan(prompt, 1);
        let sha = &sha_hex(prompt.as_bytes())[..12];
        assert_eq!(
            p1.action,
            Action::Mcp {
                server: "log".into(),
                tool: "record".into(),
                arguments: json!({"text": sha})
            }
        );
        let p2 = s.plan(prompt, 2);
        assert_eq!(p2.action, Action::Shell("cat > /w/out/result.json".into()));
        assert_eq!(p2.preamble.as_deref(), Some("writing"));
        assert_eq!(p2.delay_ms, 5);
        assert_eq!(s.plan(prompt, 3).action, Action::Text("Done.".into()));
        assert_eq!(s.plan(prompt, 9).action, Action::Text("Done.".into()));
        let other = s.plan("something else", 0);
        assert_eq!(other.rule, Some(1));
        assert_eq!(other.action, Action::Text("ok".into()));
    }

    #[test]
    fn placeholders() {
        let p = Placeholders::from_prompt("Fix it in `/a/b`. Report to (/x/y/result.json).");
        assert_eq!(p.workspace.as_deref(), Some("/a/b"));
        assert_eq!(p.result_path.as_deref(), Some("/x/y/result.json"));
        let p = Placeholders::from_prompt("run on this workspace: /ws/1\nand /other");
        assert_eq!(p.workspace.as_deref(), Some("/ws/1"));
        let p = Placeholders::from_prompt("no paths");
        assert_eq!(
            p.apply("{workspace}/{result_path}"),
            "{workspace}/{result_path}"
        );
    }

    #[test]
    fn rejects_bad_scripts() {
        assert!(Script::from_json_str(r#"{"rules":[{"steps":[]}]}"#).is_err());
        assert!(Script::from_json_str(r#"{"rules":[{"steps":[{"bogus":1}]}]}"#).is_err());
        assert!(Script::from_json_str(r#"{"rules":[{"steps":[{"delay_ms":1}]}]}"#).is_err());
        assert!(Script::from_json_str(r#"{"auth_status":401}"#).is_ok());
    }

    #[test]
    fn injected_context() {
        assert!(is_injected_context(
            "<system-reminder>\nfoo\n</system-reminder>"
        ));
        assert!(is_injected_context(
            "<environment_context>\n  <cwd>/x</cwd>\n</environment_context>"
        ));
        assert!(is_injected_context("# AGENTS.md instructions for /x\n..."));
        assert!(!is_injected_context("Primary task: do <b>it</b>"));
        assert!(!is_injected_context("<b>bold</b> start"));
    }
}
