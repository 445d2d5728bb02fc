//! Activation: projects the registry's active artifacts into the places agents look for them
//! and writes `.harnessgym/activation.json`.
//!
//! Skills are linked here. MCP servers go through [`McpActivator`]: the full smoke check, self-tests
//! and config wiring arrive with the harness-plumbing work; until then servers are reported inactive
//! with a clear reason instead of being wired in unchecked.

use super::registry::{harness_dir, Artifact, Registry};
use crate::fsx::{self, Object};
use serde_json::{json, Value};
use std::io;
use std::path::{Path, PathBuf};

/// Directories (relative to the workspace) where each agent looks for skills.
pub const SKILL_LINK_DIRS: &[&str] = &[".agents/skills", ".claude/skills"];

/// Checks and wires one MCP artifact; returns its `mcp_servers[]` row (with `active`) and warnings.
pub trait McpActivator {
    fn activate(&self, workspace: &Path, artifact: &Artifact) -> (Value, Vec<String>);
}

/// The stand-in used until MCP activation exists: never activates, says why.
pub struct McpNotSupported;

impl McpActivator for McpNotSupported {
    fn activate(&self, _workspace: &Path, artifact: &Artifact) -> (Value, Vec<String>) {
        let message = "MCP server activation is not available in this build";
        let row = json!({
            "artifact_path": artifact.path,
            "name": artifact.path.rsplit('/').nth(1).unwrap_or(&artifact.path),
            "active": false,
            "enabled_tools": [],
            "smoke": {"status": "not_run", "message": message},
            "self_test": {"status": "not_configured"},
            "quality_gate": {"status": "failed", "message": message},
        });
        (
            row,
            vec![format!(
                "mcp not activated for {}: {message}",
                artifact.path
            )],
        )
    }
}

/// Activates the registry's active artifacts in `workspace` and writes `activation.json`.
pub fn activate(
    workspace: &Path,
    registry: &Registry,
    mcp: &dyn McpActivator,
) -> io::Result<Value> {
    let mut warnings = Vec::new();
    let mut skills = Vec::new();
    let mut servers: Vec<Value> = Vec::new();
    let mut seen_skills: Vec<PathBuf> = Vec::new();

    for artifact in registry.active() {
        match artifact.kind.as_str() {
            "skill" => match skill_file(workspace, artifact) {
                Some(skill_md) if !seen_skills.contains(&skill_md) => {
                    seen_skills.push(skill_md.clone());
                    skills.push(link_skill(workspace, artifact, &skill_md)?);
                }
                Some(_) => {}
                None => warnings.push(format!("skill artifact has no SKILL.md: {}", artifact.path)),
            },
            "mcp" => {
                let (row, more) = mcp.activate(workspace, artifact);
                warnings.extend(more);
                servers.push(row);
            }
            _ => {}
        }
    }

    let active: Vec<&Value> = servers
        .iter()
        .filter(|s| s["active"] == json!(true))
        .collect();
    let mut tools: Vec<String> = active
        .iter()
        .flat_map(|s| {
            let enabled = s["enabled_tools"].as_array().cloned().unwrap_or_default();
            let smoke = s["smoke"]["tools"].as_array().cloned().unwrap_or_default();
            enabled.into_iter().chain(smoke)
        })
        .filter_map(|t| t.as_str().map(str::to_string))
        .collect();
    tools.sort();
    tools.dedup();
    let inactive = servers.len() - active.len();
    let quality_gate = json!({
        "status": if inactive == 0 && warnings.is_empty() { "passed" } else { "failed" },
        "active_mcp_count": active.len(),
        "inactive_mcp_count": inactive,
        "active_tool_count": tools.len(),
        "warnings": warnings,
    });
    let quarantined: Vec<Value> = registry
        .artifacts
        .iter()
        .filter(|a| a.is_quarantined())
        .map(|a| json!({"kind": a.kind, "path": a.path}))
        .collect();
    let report = json!({
        "skills": skills,
        "mcp_servers": servers,
        "quarantined_artifacts": quarantined,
        "warnings": warnings,
        "quality_gate": quality_gate,
    });
    fsx::write_json_if_changed(&harness_dir(workspace).join("activation.json"), &report)?;
    Ok(report)
}

/// The SKILL.md an artifact stands for: itself, inside it (a directory), or beside it.
fn skill_file(workspace: &Path, artifact: &Artifact) -> Option<PathBuf> {
    let path = fsx::contained(workspace, &artifact.path)?;
    let candidates = [
        Some(path.clone()).filter(|p| p.file_name().is_some_and(|n| n == "SKILL.md")),
        Some(path.join("SKILL.md")),
        path.parent().map(|p| p.join("SKILL.md")),
    ];
    candidates.into_iter().flatten().find(|p| p.is_file())
}

/// Links the skill directory into each agent's skills directory with a relative symlink, so the
/// workspace can be moved or copied and the links still point at its own `.harnessgym`.
fn link_skill(workspace: &Path, artifact: &Artifact, skill_md: &Path) -> io::Result<Value> {
    let skill_dir = skill_md.parent().unwrap_or(workspace);
    let name = skill_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let rel_target = fsx::posix(skill_dir.strip_prefix(workspace).unwrap_or(skill_dir));
    let mut linked = Vec::new();
    for dir in SKILL_LINK_DIRS {
        let link_dir = workspace.join(dir);
        std::fs::create_dir_all(&link_dir)?;
        let link = link_dir.join(&name);
        // From <ws>/.agents/skills/<name> back to the workspace root is two levels up.
        let target = PathBuf::from("../..").join(&rel_target);
        replace_symlink(&link, &target)?;
        linked.push(link.to_string_lossy().into_owned());
    }
    Ok(json!({
        "artifact_path": artifact.path,
        "skill_path": skill_md.to_string_lossy(),
        "activated_path": linked[0],
        "codex_activated_path": linked[0],
        "claude_activated_path": linked[1],
    }))
}

/// Points `link` at `target`; a real directory a user put there is left alone.
fn replace_symlink(link: &Path, target: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(link) {
        Ok(meta) if meta.file_type().is_symlink() => {
            if std::fs::read_link(link)? == target {
                return Ok(());
            }
            std::fs::remove_file(link)?;
        }
        Ok(meta) if meta.is_dir() => return Ok(()),
        Ok(_) => std::fs::remove_file(link)?,
        Err(_) => {}
    }
    std::os::unix::fs::symlink(target, link)
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
