//! The Codex runner: `codex exec --json`, resumed with `codex exec resume --json <thread_id>`.
//!
//! Traps handled here (see spec/clients.md §3–4): `codex exec` blocks on an open stdin (the prompt
//! goes on stdin and the pipe is closed); with no network it retries forever (always a deadline,
//! and `--disable unbounded_connection_retries`); `resume --last` silently starts a new thread (we
//! resume by id and check the id that comes back).

use super::agent_cli::{self, active_mcp_servers, indent, preview, AgentCli, Reading};
use super::{Phase, PhaseContext, Runner, RunnerResult};
use crate::harness::wiring;
use serde_json::Value;
use std::ffi::OsString;
use std::io;

pub struct CodexRunner {
    bin: String,
    extra_args: Vec<String>,
}

impl CodexRunner {
    pub fn new(bin: &str, extra_args: &[String]) -> CodexRunner {
        CodexRunner {
            bin: bin.into(),
            extra_args: extra_args.to_vec(),
        }
    }

    fn phase(
        &self,
        ctx: &PhaseContext,
        phase: Phase,
        prompt: &str,
        session: Option<&str>,
    ) -> io::Result<RunnerResult> {
        let mut result = agent_cli::run_phase(self, ctx, phase, prompt, session)?;
        if let (Some(asked), Some(got)) = (session, result.session_id.as_deref()) {
            if asked != got && result.status == "completed" {
                result.status = "failed".into();
                result.message = format!("Codex started thread {got} instead of resuming {asked}");
            }
        }
        Ok(result)
    }
}

/// `-c mcp_servers.<name>.<key>=<toml>` overrides for the active servers: each one wrapped by
/// `harnessgym mcp-proxy`, tagged with this run, iteration and phase so its telemetry is exact.
fn mcp_overrides(ctx: &PhaseContext, phase: Phase) -> Vec<String> {
    let label = agent_cli::phase_label(ctx, phase);
    let bin = wiring::harnessgym_bin();
    let mut out = Vec::new();
    for s in active_mcp_servers(ctx.workspace) {
        let key = wiring::toml_key(s["name"].as_str().unwrap_or_default());
        let tag = agent_cli::phase_tag(ctx, &label);
        for (field, value) in wiring::codex_settings(&bin, ctx.workspace, &s, Some(tag)) {
            out.push(format!("mcp_servers.{key}.{field}={value}"));
        }
    }
    out
}

impl AgentCli for CodexRunner {
    fn display_name(&self) -> &'static str {
        "Codex"
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
        let mut args: Vec<String> = vec!["exec".into()];
        if session.is_some() {
            args.push("resume".into());
        }
        args.extend(
            [
                "--json",
                "--skip-git-repo-check",
                "--disable",
                "unbounded_connection_retries",
            ]
            .map(String::from),
        );
        // `resume` has no --sandbox flag; the config key works for both.
        args.extend(["-c".into(), "sandbox_mode=\"workspace-write\"".into()]);
        for o in mcp_overrides(ctx, phase) {
            args.extend(["-c".into(), o]);
        }
        args.extend(self.extra_args.iter().cloned());
        if let Some(id) = session {
            args.push(id.into());
        }
        args.push("-".into()); // the prompt comes on stdin
        Ok(args.into_iter().map(OsString::from).collect())
    }

    fn event(&self, e: &Value, r: &mut Reading) {
        match e["type"].as_str().unwrap_or("") {
            "thread.started" => {
                if let Some(id) = e["thread_id"].as_str() {
                    r.session_id = Some(id.to_string());
                    r.push(&format!("[thread] {id}\n"));
                }
            }
            "turn.failed" => {
                let msg = e["error"]["message"]
                    .as_str()
                    .unwrap_or("turn failed")
                    .to_string();
                r.push(&format!("[turn failed] {msg}\n"));
                r.failure = Some(msg);
            }
            "error" => r.push(&format!(
                "[error] {}\n",
                e["message"].as_str().unwrap_or("")
            )),
            "turn.completed" => {
                let u = &e["usage"];
                r.push(&format!(
                    "[turn completed] input_tokens={} output_tokens={}\n",
                    u["input_tokens"], u["output_tokens"]
                ));
            }
            "item.completed" => render_item(&e["item"], r),
            _ => {}
        }
    }
}

fn render_item(item: &Value, r: &mut Reading) {
    let text = |k: &str| item[k].as_str().unwrap_or("").to_string();
    match item["type"].as_str().unwrap_or("") {
        "agent_message" => {
            r.final_text = Some(text("text"));
            r.push(&format!("[agent]\n{}", indent(&text("text"))));
        }
        "reasoning" => r.push(&format!("[reasoning]\n{}", indent(&preview(&text("text"))))),
        "command_execution" => r.push(&format!(
            "[command] {} (exit {}, {})\n{}",
            text("command"),
            item["exit_code"],
            text("status"),
            indent(&preview(&text("aggregated_output")))
        )),
        "mcp_tool_call" => {
            let outcome = match item["error"]["message"].as_str() {
                Some(err) => format!("error: {err}"),
                None => preview(&item["result"]["content"].to_string()),
            };
            r.push(&format!(
                "[mcp] {}/{} {} ({})\n{}",
                text("server"),
                text("tool"),
                item["arguments"],
                text("status"),
                indent(&outcome)
            ));
        }
        "file_change" => r.push(&format!(
            "[file change] {}\n",
            preview(&item["changes"].to_string())
        )),
        "error" => r.push(&format!("[error] {}\n", text("message"))),
        other => r.push(&format!("[{other}] {}\n", preview(&item.to_string()))),
    }
}

impl Runner for CodexRunner {
    fn start_attempt(&mut self, ctx: &PhaseContext, prompt: &str) -> io::Result<RunnerResult> {
        self.phase(ctx, Phase::Attempt, prompt, None)
    }
    fn reflect(
        &mut self,
        ctx: &PhaseContext,
        prompt: &str,
        session_id: Option<&str>,
    ) -> io::Result<RunnerResult> {
        self.phase(ctx, Phase::Reflection, prompt, session_id)
    }
    fn build_tooling(
        &mut self,
        ctx: &PhaseContext,
        prompt: &str,
        session_id: Option<&str>,
    ) -> io::Result<RunnerResult> {
        self.phase(ctx, Phase::Build, prompt, session_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn events_give_session_failure_and_transcript() {
        let runner = CodexRunner::new("codex", &[]);
        let mut r = Reading::default();
        for e in [
            json!({"type": "thread.started", "thread_id": "0199-abc"}),
            json!({"type": "item.completed", "item": {"type": "command_execution", "command": "ls", "aggregated_output": "a\nb", "exit_code": 0, "status": "completed"}}),
            json!({"type": "item.completed", "item": {"type": "agent_message", "text": "done"}}),
            json!({"type": "turn.failed", "error": {"message": "401 Unauthorized"}}),
        ] {
            runner.event(&e, &mut r);
        }
        assert_eq!(r.session_id.as_deref(), Some("0199-abc"));
        assert_eq!(r.failure.as_deref(), Some("401 Unauthorized"));
        assert!(
            r.body
                .contains("[command] ls (exit 0, completed)\n  a\n  b\n"),
            "{}",
            r.body
        );
        assert_eq!(r.final_text.as_deref(), Some("done"));
    }

    #[test]
    fn toml_values() {
        use crate::harness::wiring::toml_value;
        assert_eq!(toml_value(&json!(["a", "b"])), r#"["a", "b"]"#);
        assert_eq!(toml_value(&json!({"K": "v"})), r#"{ K = "v" }"#);
        assert_eq!(toml_value(&json!(true)), "true");
    }
}
