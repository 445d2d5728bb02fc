//! Activation: projects the registry's active artifacts into the places agents look for them and
//! writes `.harnessgym/activation.json` (spec/harness.md §3; same keys, so the original's bundles
//! and readers still work, plus `artifact_verdicts`, `refused_artifacts` and `links`).
//!
//! * Skills are linked into `.agents/skills` and `.claude/skills` (see [`super::links`]).
//! * MCP servers are smoke-checked and self-tested ([`McpActivator`]); a server is active only
//!   when both pass and it really exposes tools. Active servers are wired, behind the telemetry
//!   proxy, into the `.codex/config.toml` managed block, and the `mcp_call.py` helper is written.
//! * Every artifact gets a verdict (`active`, `present`, `inactive`, `refused`, `missing`,
//!   `duplicate`, `quarantined`), which qualification turns into per-artifact decisions.
//! * Anything an entry names must stay inside `.harnessgym/`; refusals carry the reason.
//!
//! Trust model: smoke checks and self-tests run code the agent wrote, as the user, in the
//! workspace (or the clean qualification copy), with the user's environment. They are bounded in
//! time and output and their whole process group is ended, but they are not sandboxed. A server's
//! self-test that already passed in a qualification is not re-run on later activations while the
//! server's files keep the same content hash.

use super::hash;
use super::links::{self, WantedSkill};
use super::manifest::{self, McpServer};
use super::paths::{self, Refusal};
use super::registry::{harness_dir, Artifact, Registry};
use super::wiring;
use crate::fsx::{self, Object};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::{Path, PathBuf};

pub use super::links::SKILL_LINK_DIRS;
pub use super::mcp::{McpActivator, McpNotSupported, SupervisedMcp};

/// `.harnessgym/activation.json`.
pub fn activation_file(workspace: &Path) -> PathBuf {
    harness_dir(workspace).join("activation.json")
}

/// One artifact's verdict in this activation.
struct Verdict {
    id: String,
    kind: String,
    path: String,
    status: &'static str,
    reason: Option<String>,
    same_as: Option<String>,
}

impl Verdict {
    fn new(a: &Artifact, status: &'static str, reason: Option<String>) -> Verdict {
        Verdict {
            id: a.id.clone(),
            kind: a.kind.clone(),
            path: a.path.clone(),
            status,
            reason,
            same_as: None,
        }
    }

    fn to_json(&self) -> Value {
        let mut v =
            json!({"id": self.id, "kind": self.kind, "path": self.path, "status": self.status});
        if let Some(r) = &self.reason {
            v["reason"] = json!(r);
        }
        if let Some(s) = &self.same_as {
            v["same_as"] = json!(s);
        }
        v
    }
}

/// Verdict statuses that count as a working artifact.
pub fn verdict_ok(status: &str) -> bool {
    matches!(status, "active" | "present")
}

#[derive(Default)]
struct Pass {
    warnings: Vec<String>,
    verdicts: Vec<Verdict>,
    refused: Vec<Value>,
    servers: Vec<Value>,
    /// Skills to link, with the index of their verdict.
    wanted: Vec<(usize, WantedSkill, PathBuf)>,
    seen_skills: BTreeMap<PathBuf, String>,
    seen_manifests: BTreeMap<PathBuf, String>,
    active_names: BTreeMap<String, String>,
}

impl Pass {
    fn refuse(&mut self, a: &Artifact, reason: String) {
        self.warnings
            .push(format!("refused {} artifact {}: {reason}", a.kind, a.path));
        self.refused
            .push(json!({"kind": a.kind, "path": a.path, "reason": reason}));
        self.verdicts.push(Verdict::new(a, "refused", Some(reason)));
    }
}

/// Activates the registry's active artifacts in `workspace` and writes `activation.json`.
pub fn activate(
    workspace: &Path,
    registry: &Registry,
    mcp: &dyn McpActivator,
) -> io::Result<Value> {
    let mut p = Pass::default();
    for a in &registry.artifacts {
        if a.is_quarantined() {
            p.verdicts.push(Verdict::new(a, "quarantined", None));
            continue;
        }
        let resolved = match paths::harness_path(workspace, &a.path) {
            Ok(path) => path,
            Err(r) => {
                resolve_failed(&mut p, a, r);
                continue;
            }
        };
        match a.kind.as_str() {
            "skill" => skill(&mut p, workspace, a, &resolved),
            "mcp" => server(&mut p, workspace, a, &resolved, mcp),
            _ => p.verdicts.push(Verdict::new(a, "present", None)),
        }
    }

    // Skills: link the wanted ones, unlink what HarnessGym linked before and is no longer wanted.
    let wanted: Vec<WantedSkill> = p.wanted.iter().map(|(_, w, _)| w.clone()).collect();
    let (linked, removed) = links::sync_links(workspace, &wanted)?;
    let mut skills = Vec::new();
    for ((index, want, skill_md), done) in p.wanted.iter().zip(linked) {
        let path = |i: usize| {
            done.links
                .get(i)
                .cloned()
                .flatten()
                .map(|l| Value::String(l.to_string_lossy().into_owned()))
                .unwrap_or(Value::Null)
        };
        let mut row = json!({
            "artifact_path": want.artifact_path,
            "skill_path": skill_md.to_string_lossy(),
            "activated_path": path(0),
            "codex_activated_path": path(0),
            "claude_activated_path": path(1),
            "link_name": done.name,
        });
        for e in &done.errors {
            p.warnings.push(format!(
                "skill {} not fully linked: {e}",
                want.artifact_path
            ));
        }
        if !done.errors.is_empty() {
            row["link_errors"] = json!(done.errors);
        }
        if done.links.iter().all(Option::is_none) {
            p.verdicts[*index].status = "inactive";
            p.verdicts[*index].reason = Some(done.errors.join("; "));
        }
        skills.push(row);
    }

    // The run-level gate and the agent wiring.
    let active: Vec<&Value> = p
        .servers
        .iter()
        .filter(|s| s["active"] == json!(true))
        .collect();
    let tools: BTreeSet<String> = active.iter().flat_map(|s| exposed_tools(s)).collect();
    let inactive = p.servers.len() - active.len();
    let quality_gate = json!({
        "status": if inactive == 0 && p.warnings.is_empty() { "passed" } else { "failed" },
        "active_mcp_count": active.len(),
        "inactive_mcp_count": inactive,
        "active_tool_count": tools.len(),
        "warnings": p.warnings,
    });
    let bin = mcp.harnessgym_bin();
    let block = (!active.is_empty()).then(|| wiring::codex_block(&bin, workspace, &active));
    wiring::write_codex_config(workspace, block.as_deref())?;
    let helper = if active.is_empty() {
        wiring::remove_helper(workspace)?;
        None
    } else {
        Some(wiring::write_helper(workspace, &bin)?)
    };
    let quarantined: Vec<Value> = registry
        .artifacts
        .iter()
        .filter(|a| a.is_quarantined())
        .map(|a| json!({"kind": a.kind, "path": a.path}))
        .collect();
    let mut report = json!({
        "skills": skills,
        "mcp_servers": p.servers,
        "quarantined_artifacts": quarantined,
        "artifact_verdicts": p.verdicts.iter().map(Verdict::to_json).collect::<Vec<_>>(),
        "warnings": p.warnings,
        "quality_gate": quality_gate,
    });
    // Added only when there is something to say, so a plain report keeps the original's keys.
    if !p.refused.is_empty() {
        report["refused_artifacts"] = json!(p.refused);
    }
    if !removed.is_empty() {
        report["removed_links"] = json!(removed);
    }
    if let Some(h) = helper {
        report["mcp_call_helper"] = h;
    }
    fsx::write_json_if_changed(&activation_file(workspace), &report)?;
    Ok(report)
}

fn resolve_failed(p: &mut Pass, a: &Artifact, r: Refusal) {
    match r {
        Refusal::Escapes(why) => p.refuse(a, why),
        Refusal::Missing => {
            p.warnings
                .push(format!("{} artifact is missing: {}", a.kind, a.path));
            p.verdicts.push(Verdict::new(
                a,
                "missing",
                Some("path does not exist".into()),
            ));
        }
    }
}

/// Tools an active server offers the agent: its allow-list when it has one, else all it reports.
pub fn exposed_tools(server: &Value) -> Vec<String> {
    let names = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect()
    };
    let enabled = names(&server["enabled_tools"]);
    if enabled.is_empty() {
        names(&server["smoke"]["tools"])
    } else {
        enabled
    }
}

/// The SKILL.md an entry stands for: itself, inside it (a directory), or beside it.
fn skill_file(resolved: &Path) -> Option<PathBuf> {
    let candidates = [
        Some(resolved.to_path_buf()).filter(|p| p.file_name().is_some_and(|n| n == "SKILL.md")),
        Some(resolved.join("SKILL.md")),
        resolved
            .parent()
            .filter(|_| resolved.is_file())
            .map(|p| p.join("SKILL.md")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

fn skill(p: &mut Pass, workspace: &Path, a: &Artifact, resolved: &Path) {
    let Some(skill_md) = skill_file(resolved) else {
        let reason = format!("skill artifact has no SKILL.md: {}", a.path);
        p.warnings.push(reason.clone());
        p.verdicts.push(Verdict::new(a, "inactive", Some(reason)));
        return;
    };
    let dir = skill_md.parent().unwrap_or(workspace).to_path_buf();
    let hg = harness_dir(workspace);
    if !paths::inside_harness(workspace, &skill_md)
        || dir.canonicalize().ok() == hg.canonicalize().ok()
    {
        p.refuse(
            a,
            "the skill directory escapes .harnessgym (or is .harnessgym itself)".into(),
        );
        return;
    }
    let key = skill_md.canonicalize().unwrap_or_else(|_| skill_md.clone());
    if let Some(first) = p.seen_skills.get(&key) {
        let mut v = Verdict::new(a, "duplicate", None);
        v.same_as = Some(first.clone());
        p.verdicts.push(v);
        return;
    }
    p.seen_skills.insert(key, a.path.clone());
    p.verdicts.push(Verdict::new(a, "active", None));
    p.wanted.push((
        p.verdicts.len() - 1,
        WantedSkill {
            skill_dir: dir,
            artifact_path: a.path.clone(),
        },
        skill_md,
    ));
}

fn server(p: &mut Pass, workspace: &Path, a: &Artifact, resolved: &Path, mcp: &dyn McpActivator) {
    let Some(manifest_path) = manifest::find_manifest(resolved) else {
        let reason = format!("mcp artifact has no manifest: {}", a.path);
        p.warnings.push(reason.clone());
        p.verdicts.push(Verdict::new(a, "inactive", Some(reason)));
        return;
    };
    if !paths::inside_harness(workspace, &manifest_path) {
        p.refuse(
            a,
            "the manifest escapes .harnessgym through a symlink".into(),
        );
        return;
    }
    let key = manifest_path
        .canonicalize()
        .unwrap_or_else(|_| manifest_path.clone());
    if let Some(first) = p.seen_manifests.get(&key) {
        let mut v = Verdict::new(a, "duplicate", None);
        v.same_as = Some(first.clone());
        p.verdicts.push(v);
        return;
    }
    p.seen_manifests.insert(key, a.path.clone());
    let server = match manifest::load(workspace, &manifest_path) {
        Ok(s) => s,
        Err(e) if e.contains("escapes .harnessgym") => {
            p.refuse(a, e);
            return;
        }
        Err(e) => {
            let reason = format!("invalid mcp manifest {}: {e}", a.path);
            p.warnings.push(reason.clone());
            p.verdicts.push(Verdict::new(a, "inactive", Some(reason)));
            return;
        }
    };
    let mut row = manifest::server_row(&a.path, &server);
    let content_hash = content_hash(workspace, a);
    row["content_hash"] = json!(content_hash);
    if let Some(other) = p.active_names.get(&server.name) {
        let message = format!(
            "duplicate server name {}: {} already provides it",
            server.name, other
        );
        row["smoke"] = json!({"status": "not_run", "tools": [], "message": message});
        row["self_test"] = json!({"status": "not_run", "message": message});
        row["quality_gate"] = json!({"status": "failed", "message": message, "checks": {}});
        row["active"] = json!(false);
        row["framing"] = Value::Null;
        p.warnings.push(format!(
            "mcp quality gate failed for {}: {message}",
            server.name
        ));
        p.verdicts.push(Verdict::new(a, "inactive", Some(message)));
        p.servers.push(row);
        return;
    }
    let smoke = mcp.smoke(&server);
    if smoke["status"] != "passed" {
        p.warnings.push(format!(
            "mcp smoke failed for {}: {}",
            server.name,
            smoke["message"].as_str().unwrap_or("no message")
        ));
    }
    let self_test = match &server.self_test {
        None => {
            json!({"status": "not_configured", "message": "manifest has no self_test command"})
        }
        Some(spec) => match cached_self_test(a, &content_hash) {
            Some(cached) => cached,
            None => mcp.self_test(&server, spec),
        },
    };
    let st_status = self_test["status"].as_str().unwrap_or("failed");
    if !matches!(st_status, "passed" | "not_configured") {
        p.warnings.push(format!(
            "mcp self-test failed for {}: {}",
            server.name,
            self_test["message"].as_str().unwrap_or("no message")
        ));
    }
    let gate = server_gate(&server, &smoke, &self_test);
    let active = gate["status"] == "passed";
    row["enabled_tools"] = gate["enabled_tools"].clone();
    row["framing"] = smoke["framing"].clone();
    row["smoke"] = smoke;
    row["self_test"] = self_test;
    if active {
        p.active_names.insert(server.name.clone(), a.path.clone());
        p.verdicts.push(Verdict::new(a, "active", None));
    } else {
        let message = gate["message"].as_str().unwrap_or("failed").to_string();
        p.warnings.push(format!(
            "mcp quality gate failed for {}: {message}",
            server.name
        ));
        // The verdict says why, so the quarantine reason and the repair prompt do too.
        let mut why = Vec::new();
        if gate["checks"]["smoke"] != json!(true) {
            why.push(format!(
                "smoke: {}",
                row["smoke"]["message"].as_str().unwrap_or("failed")
            ));
        }
        if gate["checks"]["self_test"] != json!(true) {
            why.push(format!(
                "self-test: {}",
                row["self_test"]["message"].as_str().unwrap_or("failed")
            ));
        }
        let detail = if why.is_empty() {
            String::new()
        } else {
            format!(" ({})", why.join("; "))
        };
        p.verdicts.push(Verdict::new(
            a,
            "inactive",
            Some(format!(
                "mcp quality gate failed for {}: {message}{detail}",
                server.name
            )),
        ));
    }
    row["quality_gate"] = gate;
    row["active"] = json!(active);
    p.servers.push(row);
}

/// The self-test result of the qualification that passed this server, while its files are
/// unchanged (same content hash); `None` means run it.
fn cached_self_test(a: &Artifact, content_hash: &str) -> Option<Value> {
    let q = a.metadata.get("qualification")?;
    let same = q["status"] == "passed"
        && q["content_hash"].as_str() == Some(content_hash)
        && q["checks"]["self_test"] == json!(true);
    same.then(|| {
        json!({
            "status": "passed",
            "message": "self-test passed in qualification; not re-run (files unchanged)",
            "cached": true,
            "report_path": q["report_path"],
        })
    })
}

/// The per-server gate (spec §3.5, with the smoke's tools as the truth): smoke and self-test
/// passed, and the server reports tools, of which the declared ones (if any) are offered.
fn server_gate(server: &McpServer, smoke: &Value, self_test: &Value) -> Value {
    let smoke_tools: Vec<String> = smoke["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t.as_str().filter(|s| !s.is_empty()).map(str::to_string))
        .collect();
    let declared: Vec<String> = server
        .declared_tools
        .iter()
        .filter(|t| !t.is_empty())
        .cloned()
        .collect();
    let enabled: Vec<&String> = declared
        .iter()
        .filter(|t| smoke_tools.contains(t))
        .collect();
    let missing: Vec<&String> = declared
        .iter()
        .filter(|t| !smoke_tools.contains(t))
        .collect();
    let checks = [
        ("smoke", smoke["status"] == "passed"),
        ("self_test", self_test["status"] == "passed"),
        (
            "tool_inventory",
            !smoke_tools.is_empty() && (declared.is_empty() || !enabled.is_empty()),
        ),
    ];
    let failed: Vec<&str> = checks
        .iter()
        .filter(|(_, ok)| !ok)
        .map(|(n, _)| *n)
        .collect();
    let mut message = if failed.is_empty() {
        "passed".to_string()
    } else {
        format!("failed checks: {}", failed.join(", "))
    };
    if failed.contains(&"tool_inventory") && !missing.is_empty() && !smoke_tools.is_empty() {
        message.push_str(" (declared tools not offered by the server)");
    }
    let checks_obj: Object = checks
        .iter()
        .map(|(n, ok)| (n.to_string(), json!(ok)))
        .collect();
    json!({
        "status": if failed.is_empty() { "passed" } else { "failed" },
        "checks": checks_obj,
        "message": message,
        "smoke_status": smoke["status"].as_str().unwrap_or("failed"),
        "self_test_status": self_test["status"].as_str().unwrap_or("not_configured"),
        "smoke_tools": smoke_tools,
        "manifest_tools": declared,
        "missing_tools": missing,
        "enabled_tools": enabled,
    })
}

/// The content hash of an artifact's files, as the registry records it with a verdict. A skill
/// is its directory; an MCP server is its manifest's directory plus the files inside
/// `.harnessgym/` that its command, arguments and self-test name; anything else is its path. An
/// entry that cannot be resolved hashes as its refusal, so it stays judged until it changes.
pub fn content_hash(workspace: &Path, a: &Artifact) -> String {
    let resolved = match paths::harness_path(workspace, &a.path) {
        Ok(p) => p,
        Err(r) => {
            return hash::hash_roots(&[(format!("{}: {}", a.path, r.reason()), Path::new(""))])
        }
    };
    let label = |p: &Path| fsx::posix(p.strip_prefix(workspace).unwrap_or(p));
    let mut roots: Vec<PathBuf> = Vec::new();
    match a.kind.as_str() {
        "skill" => roots.push(
            skill_file(&resolved)
                .and_then(|f| f.parent().map(Path::to_path_buf))
                .unwrap_or(resolved),
        ),
        "mcp" => match manifest::find_manifest(&resolved) {
            Some(m) => {
                let dir = m.parent().unwrap_or(workspace).to_path_buf();
                roots.push(dir.clone());
                if let Ok(server) = manifest::load(workspace, &m) {
                    let mut named: Vec<(PathBuf, &str)> = server
                        .args
                        .iter()
                        .map(|x| (server.cwd.clone(), x.as_str()))
                        .collect();
                    if let Some(st) = &server.self_test {
                        named.extend(st.command.iter().map(|x| (st.cwd.clone(), x.as_str())));
                    }
                    for (cwd, arg) in named {
                        let candidate = paths::normalize(&cwd.join(arg));
                        if candidate.is_file()
                            && !candidate.starts_with(&dir)
                            && paths::inside_harness(workspace, &candidate)
                            && !roots.contains(&candidate)
                        {
                            roots.push(candidate);
                        }
                    }
                }
            }
            None => roots.push(resolved),
        },
        _ => roots.push(resolved),
    }
    let labelled: Vec<(String, &Path)> = roots.iter().map(|r| (label(r), r.as_path())).collect();
    hash::hash_roots(&labelled)
}

/// The quality gate's status of a report, `"unknown"` if absent.
pub fn gate_status(report: &Value) -> String {
    report["quality_gate"]["status"]
        .as_str()
        .unwrap_or("unknown")
        .to_string()
}

/// The `quality_gate` object of a report, or `{}`.
pub fn gate(report: &Value) -> Value {
    report
        .get("quality_gate")
        .cloned()
        .unwrap_or_else(|| Value::Object(Object::new()))
}
