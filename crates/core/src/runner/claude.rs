//! The Claude Code runner: `claude -p --output-format stream-json --verbose`, resumed with
//! `--resume <session_id>`. The prompt goes on stdin (the variadic flags cannot swallow it), and
//! `--strict-mcp-config` is always passed with HarnessGym's own MCP config, so a user's global
//! servers never leak into a run and both arms of a compare see the same tools.

use super::agent_cli::{self, active_mcp_servers, indent, preview, AgentCli, Reading};
use super::{Phase, PhaseContext, Runner, RunnerResult};
use crate::config::RunConfig;
use crate::fsx;
use crate::harness::wiring;
use serde_json::{json, Value};
use std::ffi::OsString;
use std::io;

pub struct ClaudeRunner {
    bin: String,
    model: Option<String>,
    permission_mode: String,
    max_budget_usd: Option<f64>,
    extra_args: Vec<String>,
}

impl ClaudeRunner {
    pub fn new(config: &RunConfig) -> ClaudeRunner {
        ClaudeRunner {
            bin: config.claude_bin.clone(),
            model: config.claude_model.clone(),
            permission_mode: config.claude_permission_mode.clone(),
            max_budget_usd: config.claude_max_budget_usd,
            extra_args: config.claude_extra_args.clone(),
        }
    }
}

impl AgentCli for ClaudeRunner {
    fn display_name(&self) -> &'static str {
        "Claude Code"
    }

    fn program(&self) -> &str {
        &self.bin
    }

    fn args(
        &self,
        ctx: &PhaseContext,
        phase: Phase,
        session: Option<&str>,
    ) -> io::Result<Vec<OsString>> {
        let mut args: Vec<String> = ["-p", "--output-format", "stream-json", "--verbose"]
            .map(String::from)
            .to_vec();
        if !self.permission_mode.is_empty() {
            args.extend(["--permission-mode".into(), self.permission_mode.clone()]);
        }
        if let Some(model) = &self.model {
            args.extend(["--model".into(), model.clone()]);
        }
        if let Some(budget) = self.max_budget_usd {
            args.extend(["--max-budget-usd".into(), format!("{budget}")]);
        }
        args.extend(self.extra_args.iter().cloned());
        let servers = active_mcp_servers(ctx.workspace);
        let label = agent_cli::phase_label(ctx, phase);
        let bin = wiring::harnessgym_bin();
        let mut config = serde_json::Map::new();
        for s in &servers {
            // Every server behind the telemetry proxy. Claude ignores `cwd` here, so the proxy's
            // `--cwd` enters the server's directory; the server's own arguments stay verbatim.
            // `alwaysLoad` makes `-p` wait for the server before the first request.
            let args =
                wiring::proxy_args(ctx.workspace, s, Some(agent_cli::phase_tag(ctx, &label)));
            let env = s
                .get("env")
                .filter(|e| e.is_object())
                .cloned()
                .unwrap_or(json!({}));
            config.insert(
                s["name"].as_str().unwrap_or_default().to_string(),
                json!({"type": "stdio", "command": bin.to_string_lossy(), "args": args, "env": env, "alwaysLoad": true}),
            );
        }
        let path = ctx.workspace.join(".harnessgym/claude_mcp_config.json");
        fsx::write_json(&path, &json!({"mcpServers": config}))?;
        args.extend([
            "--strict-mcp-config".into(),
            "--mcp-config".into(),
            path.to_string_lossy().into_owned(),
        ]);
        if !servers.is_empty() {
            let tools: Vec<String> = servers
                .iter()
                .map(|s| format!("mcp__{}", s["name"].as_str().unwrap_or("")))
                .collect();
            args.push(format!("--allowedTools={}", tools.join(",")));
        }
        if let Some(id) = session {
            args.extend(["--resume".into(), id.into()]);
        }
        Ok(args.into_iter().map(OsString::from).collect())
    }

    fn event(&self, e: &Value, r: &mut Reading) {
        if let Some(id) = e["session_id"].as_str() {
            r.session_id = Some(id.to_string());
        }
        match e["type"].as_str().unwrap_or("") {
            "system" if e["subtype"] == "init" => {
                let servers: Vec<String> = e["mcp_servers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| {
                        format!(
                            "{}={}",
                            s["name"].as_str().unwrap_or("?"),
                            s["status"].as_str().unwrap_or("?")
                        )
                    })
                    .collect();
                r.push(&format!(
                    "[init] model={} mcp=[{}]\n",
                    e["model"].as_str().unwrap_or("?"),
                    servers.join(", ")
                ));
            }
            "assistant" => {
                for block in e["message"]["content"].as_array().into_iter().flatten() {
                    match block["type"].as_str().unwrap_or("") {
                        "text" => r.push(&format!(
                            "[agent]\n{}",
                            indent(block["text"].as_str().unwrap_or(""))
                        )),
                        "thinking" => r.push(&format!(
                            "[thinking]\n{}",
                            indent(&preview(block["thinking"].as_str().unwrap_or("")))
                        )),
                        "tool_use" => r.push(&format!(
                            "[tool] {} {}\n",
                            block["name"].as_str().unwrap_or("?"),
                            preview(&block["input"].to_string())
                        )),
                        _ => {}
                    }
                }
            }
            "user" => {
                for block in e["message"]["content"].as_array().into_iter().flatten() {
                    if block["type"] == "tool_result" {
                        let content = match &block["content"] {
                            Value::String(s) => s.clone(),
                            Value::Array(parts) => parts
                                .iter()
                                .filter_map(|p| p["text"].as_str())
                                .collect::<Vec<_>>()
                                .join("\n"),
                            other => other.to_string(),
                        };
                        let tag = if block["is_error"] == json!(true) {
                            "[tool error]"
                        } else {
                            "[tool result]"
                        };
                        r.push(&format!("{tag}\n{}", indent(&preview(&content))));
                    }
                }
            }
            "result" => {
                for key in [
                    "type",
                    "subtype",
                    "is_error",
                    "api_error_status",
                    "stop_reason",
                    "terminal_reason",
                    "total_cost_usd",
                    "num_turns",
                ] {
                    if let Some(v) = e.get(key) {
                        r.facts.push((
                            format!("claude_{key}"),
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string()),
                        ));
                    }
                }
                let text = e["result"].as_str().map(str::to_string);
                if let Some(t) = &text {
                    r.push(&format!("[result]\n{}", indent(t)));
                }
                r.final_text = text.clone();
                let subtype = e["subtype"].as_str().unwrap_or("");
                // `subtype` can say success while `is_error` is true (e.g. "Not logged in").
                if e["is_error"] == json!(true) || (!subtype.is_empty() && subtype != "success") {
                    r.failure = Some(
                        text.filter(|t| !t.is_empty())
                            .unwrap_or_else(|| format!("Claude Code ended with {subtype}")),
                    );
                }
            }
            _ => {}
        }
    }
}

impl Runner for ClaudeRunner {
    fn start_attempt(&mut self, ctx: &PhaseContext, prompt: &str) -> io::Result<RunnerResult> {
        agent_cli::run_phase(self, ctx, Phase::Attempt, prompt, None)
    }
    fn reflect(
        &mut self,
        ctx: &PhaseContext,
        prompt: &str,
        session_id: Option<&str>,
    ) -> io::Result<RunnerResult> {
        agent_cli::run_phase(self, ctx, Phase::Reflection, prompt, session_id)
    }
    fn build_tooling(
        &mut self,
        ctx: &PhaseContext,
        prompt: &str,
        session_id: Option<&str>,
    ) -> io::Result<RunnerResult> {
        agent_cli::run_phase(self, ctx, Phase::Build, prompt, session_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runner() -> ClaudeRunner {
        ClaudeRunner {
            bin: "claude".into(),
            model: None,
            permission_mode: "default".into(),
            max_budget_usd: None,
            extra_args: vec![],
        }
    }

    #[test]
    fn error_subtypes_are_failures() {
        for (event, fails) in [
            (
                json!({"type": "result", "subtype": "success", "is_error": false, "result": "ok", "session_id": "s"}),
                false,
            ),
            (
                json!({"type": "result", "subtype": "error_max_turns", "is_error": false, "session_id": "s"}),
                true,
            ),
            (
                json!({"type": "result", "subtype": "error_during_execution", "session_id": "s"}),
                true,
            ),
            (
                json!({"type": "result", "subtype": "success", "is_error": true, "result": "Not logged in"}),
                true,
            ),
        ] {
            let mut r = Reading::default();
            runner().event(&event, &mut r);
            assert_eq!(r.failure.is_some(), fails, "{event}");
        }
    }

    #[test]
    fn tool_calls_and_results_are_rendered() {
        let mut r = Reading::default();
        runner().event(&json!({"type": "system", "subtype": "init", "session_id": "abc", "model": "m", "mcp_servers": []}), &mut r);
        runner().event(&json!({"type": "assistant", "message": {"content": [{"type": "tool_use", "name": "Bash", "input": {"command": "ls"}}]}}), &mut r);
        runner().event(&json!({"type": "user", "message": {"content": [{"type": "tool_result", "content": "a.txt"}]}}), &mut r);
        assert_eq!(r.session_id.as_deref(), Some("abc"));
        assert!(
            r.body
                .contains("[tool] Bash {\"command\":\"ls\"}\n[tool result]\n  a.txt\n"),
            "{}",
            r.body
        );
    }
}
