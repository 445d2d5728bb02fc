//! Qualification: re-activate the harness in a clean copy of the task files, and the registry
//! verdicts that follow (qualified or quarantined).

use super::activation::{self, McpActivator};
use super::registry::{harness_dir, Registry, KINDS};
use crate::fsx;
use serde_json::{json, Value};
use std::io;
use std::path::Path;

/// Captures the clean template of the task files (shared exclusions) and returns its report.
pub fn capture_template(workspace: &Path, template: &Path) -> io::Result<Value> {
    fsx::remove_any(template)?;
    let files = fsx::copy_tree(workspace, template, &fsx::is_excluded)?;
    Ok(json!({
        "created_at": fsx::utc_now(),
        "workspace": workspace.to_string_lossy(),
        "template_path": template.to_string_lossy(),
        "file_count": files.len(),
        "files": files,
    }))
}

/// One qualification attempt into `qdir`: template + harness bundle, activated fresh, with
/// quarantine flags stripped so every artifact is re-tested. Returns the report; the caller writes
/// it to `<qdir>/qualification.json` once the verdict is added.
pub fn qualify(
    workspace: &Path,
    template: &Path,
    qdir: &Path,
    iteration: u32,
    registry: &Registry,
    mcp: &dyn McpActivator,
) -> io::Result<Value> {
    let fresh = qdir.join("workspace");
    fsx::remove_any(&fresh)?;
    fsx::copy_tree(template, &fresh, &|_| false)?;
    let copied = copy_bundle(workspace, &fresh)?;
    let mut candidates = Registry::load(&fresh).unwrap_or_default();
    for artifact in &mut candidates.artifacts {
        artifact.metadata.remove("quarantined");
        artifact.metadata.remove("quarantine");
    }
    let activation = activation::activate(&fresh, &candidates, mcp)?;
    let mut failed: Vec<String> = activation["mcp_servers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["active"] == json!(false))
        .filter_map(|s| s["artifact_path"].as_str().map(str::to_string))
        .collect();
    failed.sort();
    failed.dedup();
    let report = json!({
        "created_at": fsx::utc_now(),
        "status": if activation::gate_status(&activation) == "passed" { "passed" } else { "failed" },
        "iteration": iteration,
        "source_workspace": workspace.to_string_lossy(),
        "fresh_workspace": fresh.to_string_lossy(),
        "copied_artifacts": copied,
        "quality_gate": activation::gate(&activation),
        "activation": activation,
        "failed_artifacts": failed,
        "registry_artifact_count": registry.artifacts.len(),
    });
    Ok(report)
}

/// Copies the eight artifact directories and `registry.json` into `fresh/.harnessgym`.
fn copy_bundle(workspace: &Path, fresh: &Path) -> io::Result<Vec<String>> {
    let (src, dst) = (harness_dir(workspace), harness_dir(fresh));
    let mut copied = Vec::new();
    let skip = |rel: &Path| {
        rel.components().any(|c| c.as_os_str() == "__pycache__")
            || matches!(
                rel.extension().and_then(|e| e.to_str()),
                Some("pyc" | "pyo")
            )
    };
    for (_, dir) in KINDS {
        if src.join(dir).is_dir() {
            fsx::remove_any(&dst.join(dir))?;
            for file in fsx::copy_tree(&src.join(dir), &dst.join(dir), &skip)? {
                copied.push(format!(".harnessgym/{dir}/{file}"));
            }
        }
    }
    if src.join("registry.json").is_file() {
        std::fs::create_dir_all(&dst)?;
        std::fs::copy(src.join("registry.json"), dst.join("registry.json"))?;
        copied.push(".harnessgym/registry.json".into());
    }
    copied.sort();
    Ok(copied)
}

/// Marks the given paths qualified; returns the matched paths, sorted.
pub fn mark_qualified(
    registry: &mut Registry,
    paths: &[String],
    report_path: &str,
    iteration: u32,
) -> Vec<String> {
    let mut matched = Vec::new();
    for a in registry
        .artifacts
        .iter_mut()
        .filter(|a| paths.contains(&a.path))
    {
        a.metadata.remove("quarantined");
        a.metadata.remove("quarantine");
        a.metadata.insert(
            "qualification".into(),
            json!({"status": "passed", "report_path": report_path, "iteration": iteration, "updated_at": fsx::utc_now()}),
        );
        matched.push(a.path.clone());
    }
    matched.sort();
    matched.dedup();
    matched
}

/// Quarantines the given paths with a reason; returns the matched paths, sorted.
pub fn quarantine(
    registry: &mut Registry,
    paths: &[String],
    reason: &str,
    report_path: &str,
    iteration: u32,
) -> Vec<String> {
    let mut matched = Vec::new();
    for a in registry
        .artifacts
        .iter_mut()
        .filter(|a| paths.contains(&a.path))
    {
        a.metadata.insert("quarantined".into(), json!(true));
        a.metadata.insert(
            "quarantine".into(),
            json!({"status": "quarantined", "reason": reason, "report_path": report_path, "iteration": iteration, "updated_at": fsx::utc_now()}),
        );
        matched.push(a.path.clone());
    }
    matched.sort();
    matched.dedup();
    matched
}
