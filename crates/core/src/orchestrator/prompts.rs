//! The prompts of each phase. Wording is ours; the structure and the facts the agent needs
//! (paths, shapes, rules) follow the original so agents behave the same under either tool.

use crate::config::{HarnessDepth, RunConfig};
use crate::fsx::Object;
use crate::harness::registry::Registry;
use serde_json::{json, Value};
use std::fmt::Write;
use std::path::Path;

/// Characters of each artifact shown in the attempt prompt.
const PREVIEW_CHARS: usize = 3000;
/// Cap on the whole artifact context, so prompts stay far below any argument or context limit.
const CONTEXT_CAP: usize = 60_000;
/// Cap on strings embedded from result.json (verifier output can be huge).
const EMBEDDED_STRING_CAP: usize = 2000;

/// The inputs every prompt shares.
pub struct PromptInputs<'a> {
    pub config: &'a RunConfig,
    pub iteration: u32,
    pub result_path: &'a Path,
}

fn session_header(p: &PromptInputs) -> String {
    format!(
        "Continue in the same {} session for HarnessGym iteration {}.\n",
        p.config.agent_name(),
        p.iteration
    )
}

/// What the harness holds, shown to a fresh attempt.
pub fn artifact_context(registry: &Registry, workspace: &Path) -> String {
    let mut out = String::new();
    let visible: Vec<_> = registry.active().collect();
    let hidden = registry.artifacts.len() - visible.len();
    if visible.is_empty() {
        out.push_str("No generated HarnessGym artifacts are registered yet.\n");
    } else {
        out.push_str(
            "These registered HarnessGym artifacts are available to this fresh attempt:\n",
        );
    }
    if hidden > 0 {
        let _ = writeln!(
            out,
            "{hidden} quarantined artifact(s) are hidden from attempts; see .harnessgym/registry.json and qualification reports for repair details."
        );
    }
    out.push_str(&activation_lines(workspace));
    for a in &visible {
        let _ = write!(out, "- {}: {}", a.kind, a.path);
        if !a.description.is_empty() {
            let _ = write!(out, " - {}", a.description);
        }
        out.push('\n');
        if out.len() > CONTEXT_CAP {
            out.push_str("  (artifact previews stop here: the context is long; open the artifacts directly)\n");
            continue;
        }
        let file = workspace.join(&a.path);
        if !file.is_file() {
            continue;
        }
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        if bytes.iter().take(8000).any(|b| *b == 0) {
            out.push_str("  (binary file, no preview)\n");
            continue;
        }
        let text = String::from_utf8_lossy(&bytes);
        let preview: String = text.chars().take(PREVIEW_CHARS).collect();
        out.push_str("  Preview:\n");
        for line in preview.lines() {
            let _ = writeln!(out, "  {line}");
        }
        if preview.len() < text.len() {
            let _ = writeln!(
                out,
                "  [preview truncated at {PREVIEW_CHARS} characters; open {} for the rest]",
                a.path
            );
        }
    }
    out
}

fn activation_lines(workspace: &Path) -> String {
    let path = workspace.join(".harnessgym/activation.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return String::new();
    };
    let Ok(report) = serde_json::from_str::<Value>(&text) else {
        return "Activation context is unreadable (.harnessgym/activation.json is not valid JSON).\n".into();
    };
    let mut out = String::from("Active HarnessGym activation context:\n");
    if let Some(w) = report["warnings"].as_array().filter(|w| !w.is_empty()) {
        let _ = writeln!(out, "- Activation warnings: {}", join_values(w));
    }
    let gate = &report["quality_gate"];
    if gate.is_object() {
        let _ = writeln!(
            out,
            "- Harness quality gate: {}; active MCPs={}; active tools={}",
            gate["status"].as_str().unwrap_or("unknown"),
            gate["active_mcp_count"],
            gate["active_tool_count"]
        );
    }
    for s in report["mcp_servers"].as_array().into_iter().flatten() {
        let tools = s["enabled_tools"]
            .as_array()
            .filter(|t| !t.is_empty())
            .or(s["smoke"]["tools"].as_array());
        let _ = writeln!(
            out,
            "- MCP `{}` active={}; smoke={}; self_test={}; tools=[{}]",
            s["name"].as_str().unwrap_or("?"),
            s["active"] != json!(false),
            s["smoke"]["status"].as_str().unwrap_or("unknown"),
            s["self_test"]["status"].as_str().unwrap_or("unknown"),
            tools.map(|t| join_values(t)).unwrap_or_default()
        );
    }
    if let Some(rel) = report["mcp_call_helper"]["relative_path"].as_str() {
        let _ = writeln!(out, "- Call an MCP tool with: python3 {rel} --server <server> --tool <tool> --arguments '<json-object>'");
    }
    for s in report["skills"].as_array().into_iter().flatten() {
        let _ = writeln!(
            out,
            "- Skill active at {}, {}: {}",
            s["codex_activated_path"]
                .as_str()
                .or(s["activated_path"].as_str())
                .unwrap_or("?"),
            s["claude_activated_path"].as_str().unwrap_or("?"),
            s["artifact_path"].as_str().unwrap_or("?")
        );
    }
    out
}

fn join_values(values: &[Value]) -> String {
    values
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .unwrap_or_else(|| v.to_string())
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn task_origin(config: &RunConfig) -> String {
    match &config.task_path {
        None => "inline task text".into(),
        Some(p) => match p.strip_prefix(&config.workspace) {
            Ok(rel) => crate::fsx::posix(rel),
            Err(_) => p.to_string_lossy().into_owned(),
        },
    }
}

/// The shape the agent is asked to write into result.json.
fn result_shape() -> String {
    let shape = json!({
        "status": "solved | blocked | incomplete | tooling_built | failed",
        "verified": "boolean",
        "summary": "...",
        "blockers": ["..."],
        "missing_tooling": ["..."],
        "reflection": {"recommendations": ["..."], "selected_improvement": selected_improvement_shape()},
        "verification": {"status": "passed | failed | not_run", "command": "...",
            "tooling_tests": [{"name": "...", "status": "passed | failed | not_run", "command": "..."}]},
        "metrics": {"score": "number, when the task has one"},
        "used_harness_artifacts": ["..."],
        "used_harness_tools": ["..."],
    });
    serde_json::to_string_pretty(&shape).unwrap_or_default()
}

fn selected_improvement_shape() -> Value {
    json!({"kind": "skill | mcp | tool | verifier | fixture | docs | script | test", "name": "...",
        "reason": "...", "target_path": ".harnessgym/<area>/..."})
}

/// The attempt prompt: task, harness context, rules, result shape.
pub fn attempt(p: &PromptInputs, context: &str) -> String {
    let c = p.config;
    let agent = c.agent_name();
    let mut s = String::new();
    let _ = writeln!(
        s,
        "You are in HarnessGym iteration {} on this workspace:\n{}\n",
        p.iteration,
        c.workspace.display()
    );
    let _ = writeln!(s, "Primary task source: {}\n", task_origin(c));
    let _ = writeln!(s, "Primary task:\n{}\n", c.task_text.trim());
    let _ = writeln!(s, "Existing generated harness context:\n{context}");
    if let Some(stop) = c.stop_score {
        let (cmp, dir) = if c.higher_is_better {
            ("greater than or equal to", "higher")
        } else {
            ("less than or equal to", "lower")
        };
        let _ = writeln!(
            s,
            "Optimization stop target: record the score under `{key}` ({dir} is better) and stop once it is {cmp} {stop}. \
             Mirror the same value into `metrics.score`.\n",
            key = c.score_key
        );
    }
    let _ = writeln!(s, "Harness activation for {agent}:");
    s.push_str(
        "- Generated skills are linked from .harnessgym/skills into .agents/skills (Codex) and .claude/skills (Claude Code) before each fresh attempt.\n\
         - Generated MCP manifests are projected into .codex/config.toml (Codex) or a generated Claude MCP config (Claude Code).\n\
         - When Codex exec has no native tool callables, call MCP tools with `python3 .harnessgym/runtime/mcp_call.py --server <server> --tool <tool> --arguments '<json-object>'`; it goes through telemetry and counts as real use.\n\
         - If relevant skills or MCP tools exist, use those tools early.\n\n",
    );
    s.push_str("Attempt instructions:\n");
    s.push_str(
        "- Work autonomously on the primary task until it is solved, you are blocked, or the timeout interrupts you.\n\
         - Use the relevant existing .harnessgym artifacts.\n\
         - First read the active skill/MCP context, and call relevant benchmark, verifier, diagnostic, search, ranking or rollback MCP tools early, before investigating by hand.\n\
         - Make concrete MCP tool calls, not just file reads or mentions: native callables first, otherwise the mcp_call.py helper. Activation alone does not count as harness use.\n\
         - Do not hand-write a JSON-RPC client or start .harnessgym/mcp servers directly unless both the native callable and the helper fail; such bypasses lose telemetry.\n\
         - If an MCP call fails, record the failure and fall back to direct commands.\n\
         - Prefer generated tools for repeated measurement, hidden-state inspection, variant search, regression comparison and final verification; do not rebuild a working harness workflow by hand.\n\
         - Do not build new harness tooling during the attempt unless the task directly needs it.\n\
         - When solved, run an objective verification command and write status \"solved\" with verified true.\n\
         - For optimization tasks, run the benchmark, record the best numeric score in metrics.score, and keep improving until blocked, timed out, or the target is reached.\n\
         - When time-boxed, as soon as a verified improving candidate exists, apply or checkpoint it and update the result JSON before searching further; keep time for final verification.\n\
         - If the task has separate dev and final (held-out) verifier modes, iterate in dev mode but run final mode before claiming a robust improvement.\n\
         - Keep or restore a last-known-good version; never leave the workspace failing the verifier because of an experiment that has not passed.\n\
         - Record what you used under used_harness_artifacts and used_harness_tools.\n\
         - Keep short notes on blockers, missing tooling, slow steps and verification.\n",
    );
    let _ = writeln!(
        s,
        "- Write or update the result JSON at exactly:\n  {}\n",
        p.result_path.display()
    );
    let _ = writeln!(
        s,
        "Use this JSON shape where practical:\n{}",
        result_shape()
    );
    s
}

fn depth_guidance(depth: HarnessDepth) -> &'static str {
    match depth {
        HarnessDepth::Standard => {
            "Harness depth guidance:\n- Keep the artifact focused and small enough to build and validate within the phase timeout.\n"
        }
        HarnessDepth::Deep => {
            "Harness depth guidance:\n\
             - Deep harness mode is enabled: build capability-creating instrumentation, not notes, aliases or a thin benchmark wrapper.\n\
             - Expose hidden task state, or automate a search step a plain agent would do by hand.\n\
             - Prefer a multi-tool MCP server plus a short skill entrypoint. For kernel, compiler or hardware tasks consider assembly or IR dumps, vectorization and compiler diagnostics, layout and memory-traffic analysis, benchmark-history storage, repeated final-mode evaluation, source variant generation/sweeps, and regression comparison.\n\
             - For TPU, GPU or custom-kernel work, think of IR-dump analyzers, DMA/descriptor inspectors, tensor-layout tools, trace summarizers and verifier dashboards.\n\
             - Aim for at least five genuinely useful executable tools when practical, spanning observation, verification, search, rollback-safe mutation, history comparison and next-experiment ranking.\n\
             - Each tool should save the next session work.\n\
             - Risky experiment tools must be rollback-safe: keep the original source, evaluate variants in a temporary or restorable form, and keep one only after objective verification.\n\
             - Ship comprehensive self-tests, including tolerance toy cases, fixed-seed randomized cases and anti-overfitting tests for numerical work.\n\
             - Keep up harness maturity across iterations: update existing skills and MCPs, add regression tests for earlier behaviour, keep benchmark history, and document what the next attempt should try first.\n\
             - Avoid documentation-only artifacts unless they come with executable inspection or automation.\n"
        }
    }
}

/// Strings of result.json shortened for embedding (verifier output can be megabytes).
fn clipped(data: &Object) -> String {
    fn clip(v: &Value) -> Value {
        match v {
            Value::String(s) if s.len() > EMBEDDED_STRING_CAP => {
                let head: String = s.chars().take(EMBEDDED_STRING_CAP).collect();
                Value::String(format!("{head}… [{} more bytes]", s.len() - head.len()))
            }
            Value::Array(a) => Value::Array(a.iter().map(clip).collect()),
            Value::Object(o) => {
                Value::Object(o.iter().map(|(k, v)| (k.clone(), clip(v))).collect())
            }
            other => other.clone(),
        }
    }
    serde_json::to_string_pretty(&clip(&Value::Object(data.clone()))).unwrap_or_default()
}

/// The reflection prompt: what tooling would have helped most.
pub fn reflection(p: &PromptInputs, data: &Object) -> String {
    let mut s = session_header(p);
    s.push_str(
        "Based on the attempt you just performed, which skill, MCP server, verifier, fixture, script, docs or tool \
         would most improve solve time or make the task more solvable for the next fresh session?\n\n",
    );
    let _ = writeln!(
        s,
        "Attempt result JSON currently contains:\n{}\n",
        clipped(data)
    );
    s.push_str(
        "Reflection instructions:\n\
         - Recommend one or two high-leverage additions and choose the single best one to build next.\n\
         - Prefer repo-local artifacts under .harnessgym/.\n\
         - The single best thing may be a cohesive harness suite: one skill, one MCP server, and the fixtures, tests, scripts and docs that go with it.\n\
         - For kernel, numerical, compiler, search or verifier-driven tasks, strongly prefer an agent-native harness package: a skill in .harnessgym/skills plus a stdio MCP server in .harnessgym/mcp exposing verifier, debugging and search commands.\n\
         - In later iterations, prefer extending and hardening the existing harness suite over disconnected notes or wrappers, and add the diagnostic or search capability that was missing.\n\
         - For optimization, name the benchmark modes, objective metrics, shape and seed assumptions, and the overfitting risks; make any final (held-out) evaluator easy to run.\n\
         - An MCP server needs a JSON manifest named mcp.json, server.json or harnessgym-mcp.json with at least name, command, args, cwd and enabled_tools.\n\
         - MCP servers speak stdio JSON-RPC; HarnessGym's proxy accepts newline-delimited JSON and Content-Length framing (Content-Length: ...\\r\\n\\r\\n).\n\
         - The selection must include deterministic repo-local tests of the tooling itself; for an MCP server plan a self-test covering framing, initialize, tools/list and tools/call, at least one success path and one error path.\n\
         - Numerical, kernel, compiler or benchmark work needs numerical tests: toy inputs, tolerances, fixed-seed randomized/property cases, and dev versus final modes.\n\n",
    );
    s.push_str(depth_guidance(p.config.harness_depth));
    let shape = serde_json::to_string_pretty(&selected_improvement_shape()).unwrap_or_default();
    let _ = writeln!(
        s,
        "\nUpdate the result JSON at exactly:\n  {}\nPut your choice under reflection.selected_improvement with this shape:\n{shape}",
        p.result_path.display()
    );
    s
}

/// The text of the improvement the reflection chose (structured if possible).
pub fn selected_improvement(data: &Object, fallback: Option<&str>) -> String {
    let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let truthy = |v: &&Value| {
        !matches!(v, Value::Null | Value::Bool(false))
            && v.as_str() != Some("")
            && v.as_object().is_none_or(|o| !o.is_empty())
    };
    if let Some(v) = data
        .get("reflection")
        .and_then(|r| r.get("selected_improvement"))
        .filter(truthy)
    {
        return pretty(v);
    }
    if let Some(v) = data.get("selected_improvement").filter(truthy) {
        return pretty(v);
    }
    match fallback.map(str::trim).filter(|f| !f.is_empty()) {
        Some(f) => f.to_string(),
        None => "No structured selection found. Build the highest-leverage recommendation from the reflection transcript.".into(),
    }
}

/// The build prompt: build exactly the selected improvement.
pub fn build(p: &PromptInputs, selected: &str) -> String {
    let mut s = session_header(p);
    s.push_str("Build the single highest-leverage improvement chosen in the reflection.\n\n");
    let _ = writeln!(s, "Selected improvement:\n{selected}\n");
    s.push_str(
        "Build instructions:\n\
         - Build only this one improvement.\n\
         - Make it directly useful to a fresh agent session: usage notes and the task invariants you learned.\n\
         - An integrated suite counts as one improvement: a skill entrypoint, an MCP server, tests, fixtures, history or cache files, and helper scripts.\n\
         - If dev and final modes exist, include both and label them: fast iteration versus authoritative comparison.\n\
         - For optimization, include the patterns that worked, the traps, the metric names and the shape/seed assumptions; avoid tooling that only optimises a single dev case.\n\
         - A harness package may contain both a skill and an MCP server.\n\
         - A skill is a valid SKILL.md with frontmatter name and description under .harnessgym/skills/<skill-name>/.\n\
         - An MCP server is a stdio server under .harnessgym/mcp/<server-name>/ plus a manifest (mcp.json, server.json or harnessgym-mcp.json) with name, command, args, cwd, enabled_tools and timeouts.\n\
         - The server implements stdio JSON-RPC (newline-delimited JSON, or Content-Length framed stdio JSON-RPC) for initialize, notifications/initialized, tools/list and tools/call, and is smoke-tested before the registry is updated.\n\
         - Tools return structured JSON with stable fields, not prose alone.\n\
         - The deep harness capability mix: objective verifier runner, independent correctness/numerical checker, source/IR/assembly/trace analyzer, rollback-safe variant evaluator, sweep/autotune/search driver, history/regression comparator, and experiment ranker.\n\
         - Write comprehensive deterministic tests; reusable ones go under .harnessgym/tests/ and run offline from the workspace.\n\
         - Give the MCP manifest a self_test entry: preferably self_test: true (command + args + --self-test), or an explicit command list or object.\n\
         - Self-tests cover framing, initialize, tools/list and tools/call, a success call and an error path, and rollback where tools mutate sources.\n\
         - Self-tests must be portable to a copied fresh replay workspace: no hard-coded training path, no dependence on timing noise, and do not assert exact winning variants or pass/fail sets of performance sweeps unless fixtures control them.\n\
         - Numerical tooling tests use toy inputs, tolerances, fixed-seed randomized cases, and dev and final entrypoints.\n\
         - Record every tooling test command and its result under verification.tooling_tests.\n\n",
    );
    s.push_str(depth_guidance(p.config.harness_depth));
    s.push_str(
        "\nPut artifacts in the matching directory: .harnessgym/skills/, .harnessgym/mcp/, .harnessgym/tools/, \
         .harnessgym/verifiers/, .harnessgym/fixtures/, .harnessgym/tests/, .harnessgym/docs/, .harnessgym/scripts/.\n\
         Update .harnessgym/registry.json with each artifact's path, kind, description and iteration.\n",
    );
    let _ = writeln!(
        s,
        "Update the result JSON at exactly:\n  {}",
        p.result_path.display()
    );
    s.push_str("Do not continue solving the task except to validate the tooling.\n");
    s
}

/// The repair prompt after a failed fresh-workspace qualification.
pub fn repair(p: &PromptInputs, report: &Value, k: u32) -> String {
    let mut s = session_header(p);
    s.push_str("Fresh-workspace qualification failed after the build. Repair only the generated harness artifacts.\n\n");
    let _ = writeln!(s, "Repair attempt: {k}\n");
    let report = match report {
        Value::Object(o) => clipped(o),
        other => other.to_string(),
    };
    let _ = writeln!(s, "Qualification failure report:\n{report}\n");
    s.push_str(
        "Repair rules:\n\
         - Do not continue with the task; fix .harnessgym/ so it activates in a fresh copy of the workspace.\n\
         - Go after the exact failure first: self-test failures, broken framing, non-portable paths, missing fixtures, brittle benchmark assertions, tools returning JSON-RPC errors.\n\
         - Tests must stay comprehensive and pass from a clean replay workspace holding only the task files plus .harnessgym.\n\
         - Failures specific to one candidate come back as structured results listing the failed candidates, not as a JSON-RPC error for the whole sweep.\n\
         - Re-run the tooling tests and record the repair test commands under verification.tooling_tests.\n\n",
    );
    s.push_str(depth_guidance(p.config.harness_depth));
    let _ = writeln!(
        s,
        "\nUpdate the iteration's result JSON (not a file in the repair directory) at exactly:\n  {}",
        p.result_path.display()
    );
    s
}
