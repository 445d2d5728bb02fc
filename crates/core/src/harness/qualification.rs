//! Qualification: re-activate the harness in a clean copy of the task files and turn the
//! activation's per-artifact verdicts into registry decisions.
//!
//! Only new or changed artifacts are judged (their content hash differs from the one recorded
//! with their last verdict); a quarantined artifact stays quarantined, untested, until its files
//! change; only what was judged and passed is marked qualified; a failure quarantines only the
//! artifact that failed, never its neighbours. Artifacts qualified before and unchanged are
//! still activated in the clean copy (the new ones may need them), but a problem with them is
//! only reported (`regressions`), since their files did not change.

use super::activation::{self, verdict_ok, McpActivator};
use super::paths::{self, OutsideLinks};
use super::registry::{harness_dir, Artifact, Registry, KINDS};
use crate::fsx;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;

/// Captures the clean template of the task files (shared exclusions) and returns its report.
/// Symlinks are recreated, not followed; one pointing into the workspace becomes relative, so
/// the clean copy never reaches back into the dirty workspace.
pub fn capture_template(workspace: &Path, template: &Path) -> io::Result<Value> {
    fsx::remove_any(template)?;
    let copied = paths::copy_tree(
        workspace,
        Path::new(""),
        template,
        &fsx::is_excluded,
        OutsideLinks::Keep,
    )?;
    Ok(json!({
        "created_at": fsx::utc_now(),
        "workspace": workspace.to_string_lossy(),
        "template_path": template.to_string_lossy(),
        "file_count": copied.files.len(),
        "files": copied.files,
    }))
}

/// Where an artifact stands before a qualification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Standing {
    /// Never judged, or its files changed since: judged now.
    Candidate,
    /// Quarantined and its files changed: judged again, with the quarantine lifted in the copy.
    Requalify,
    /// Quarantined with the same files: stays quarantined, not run.
    StillQuarantined,
    /// Qualified with the same files: activated as a neighbour, not judged.
    Unchanged,
}

fn standing(a: &Artifact, hash: &str) -> Standing {
    let recorded = |key: &str| a.metadata.get(key).and_then(|v| v["content_hash"].as_str());
    if a.is_quarantined() {
        if recorded("quarantine") == Some(hash) {
            Standing::StillQuarantined
        } else {
            Standing::Requalify
        }
    } else if a
        .metadata
        .get("qualification")
        .is_some_and(|q| q["status"] == "passed")
        && recorded("qualification") == Some(hash)
    {
        Standing::Unchanged
    } else {
        Standing::Candidate
    }
}

/// One qualification attempt into `qdir`: the template plus the harness bundle, activated fresh.
/// Returns the report (the caller adds `report_path` and writes `<qdir>/qualification.json`).
/// `status` is `passed` when every judged artifact passed; `artifact_verdicts` holds one entry
/// per judged artifact (`verdict`, `reason`, `content_hash`, `checks`), `failed_artifacts` the
/// paths that failed.
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
    std::fs::create_dir_all(qdir)?;
    paths::copy_tree(
        template,
        Path::new(""),
        &fresh,
        &|_| false,
        OutsideLinks::Keep,
    )?;
    let (copied, dropped_links) = copy_bundle(workspace, &fresh)?;

    let mut candidates = registry.clone();
    let mut plan: Vec<(String, Standing, String)> = Vec::new();
    for a in &mut candidates.artifacts {
        let hash = activation::content_hash(workspace, a);
        let s = standing(a, &hash);
        if s == Standing::Requalify {
            a.metadata.remove("quarantined");
            a.metadata.remove("quarantine");
        }
        plan.push((a.id.clone(), s, hash));
    }
    candidates.save(&fresh)?;
    let activation = activation::activate(&fresh, &candidates, mcp)?;

    let verdicts: Vec<&Value> = activation["artifact_verdicts"]
        .as_array()
        .map(|v| v.iter().collect())
        .unwrap_or_default();
    let by_path: BTreeMap<&str, &Value> = verdicts
        .iter()
        .filter_map(|v| Some((v["path"].as_str()?, *v)))
        .collect();
    let servers: BTreeMap<&str, &Value> = activation["mcp_servers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| Some((s["artifact_path"].as_str()?, s)))
        .collect();
    let mut judged = Vec::new();
    let mut failed = Vec::new();
    let mut still_quarantined = Vec::new();
    let mut unchanged = Vec::new();
    let mut regressions = Vec::new();
    for (a, (id, s, hash)) in candidates.artifacts.iter().zip(&plan) {
        debug_assert_eq!(&a.id, id);
        let mut v = verdicts.iter().find(|v| v["id"] == json!(id)).copied();
        // A duplicate (the same server or skill registered twice) shares its first entry's fate.
        if let Some(first) = v.and_then(|v| v["same_as"].as_str()) {
            v = by_path.get(first).copied().or(v);
        }
        let status = v.and_then(|v| v["status"].as_str()).unwrap_or("missing");
        let mut reason = v
            .and_then(|v| v["reason"].as_str())
            .unwrap_or(status)
            .to_string();
        if status == "missing" && fsx::contained(workspace, &a.path).is_some_and(|p| p.exists()) {
            reason = format!(
                "{} is not part of the reusable bundle (only the artifact directories under .harnessgym are copied)",
                a.path
            );
        }
        match s {
            Standing::StillQuarantined => {
                still_quarantined.push(a.path.clone());
                continue;
            }
            Standing::Unchanged => {
                unchanged.push(a.path.clone());
                if !verdict_ok(status) {
                    regressions.push(json!({"path": a.path, "status": status, "reason": reason}));
                }
                continue;
            }
            Standing::Candidate | Standing::Requalify => {}
        }
        let ok = verdict_ok(status);
        let mut checks = json!({"copied": true, "contained": status != "refused"});
        let server_path = v.and_then(|v| v["same_as"].as_str()).unwrap_or(&a.path);
        if let Some(server) = servers.get(server_path) {
            checks = server["quality_gate"]["checks"].clone();
        } else if a.kind == "skill" {
            checks["linked"] = json!(status == "active");
        }
        let mut entry = json!({
            "id": a.id, "kind": a.kind, "path": a.path, "status": status,
            "verdict": if ok { "passed" } else { "failed" },
            "content_hash": hash, "checks": checks,
        });
        if *s == Standing::Requalify {
            entry["retested_after_quarantine"] = json!(true);
        }
        if !ok {
            entry["reason"] = json!(reason);
            failed.push(a.path.clone());
        }
        judged.push(entry);
    }
    failed.sort();
    failed.dedup();
    let status = if failed.is_empty() {
        "passed"
    } else {
        "failed"
    };
    let mut report = json!({
        "created_at": fsx::utc_now(),
        "status": status,
        "iteration": iteration,
        "source_workspace": workspace.to_string_lossy(),
        "fresh_workspace": fresh.to_string_lossy(),
        "copied_artifacts": copied,
        "quality_gate": activation::gate(&activation),
        "activation": activation,
        "artifact_verdicts": judged,
        "failed_artifacts": failed,
        "registry_artifact_count": registry.artifacts.len(),
    });
    // Added only when there is something to say, so a plain report keeps the original's keys.
    for (key, list) in [
        ("dropped_links", dropped_links),
        ("still_quarantined_artifacts", json_list(still_quarantined)),
        ("unchanged_artifacts", json_list(unchanged)),
        ("regressions", regressions),
    ] {
        if !list.is_empty() {
            report[key] = json!(list);
        }
    }
    Ok(report)
}

fn json_list(items: Vec<String>) -> Vec<Value> {
    items.into_iter().map(Value::String).collect()
}

/// Copies the eight artifact directories into `fresh/.harnessgym` (skipping bytecode), never
/// following a symlink and dropping the ones that leave the workspace. Returns the copied files
/// (workspace-relative) and the dropped links.
fn copy_bundle(workspace: &Path, fresh: &Path) -> io::Result<(Vec<String>, Vec<Value>)> {
    let (src, dst) = (harness_dir(workspace), harness_dir(fresh));
    let mut copied = Vec::new();
    let mut dropped = Vec::new();
    let skip = |rel: &Path| {
        rel.components().any(|c| c.as_os_str() == "__pycache__")
            || matches!(
                rel.extension().and_then(|e| e.to_str()),
                Some("pyc" | "pyo")
            )
    };
    for (_, dir) in KINDS {
        let from = src.join(dir);
        if from.is_dir() && !from.is_symlink() {
            fsx::remove_any(&dst.join(dir))?;
            let sub = Path::new(".harnessgym").join(dir);
            let c = paths::copy_tree(workspace, &sub, fresh, &skip, OutsideLinks::Drop)?;
            copied.extend(c.files.iter().map(|f| format!(".harnessgym/{dir}/{f}")));
            dropped.extend(c.dropped_links);
        }
    }
    if src.join("registry.json").is_file() {
        copied.push(".harnessgym/registry.json".into());
    }
    copied.sort();
    Ok((copied, dropped))
}

/// Marks the artifacts that passed in `report` qualified, with the content hash and checks they
/// passed with; returns their paths, sorted.
pub fn record_passed(
    registry: &mut Registry,
    report: &Value,
    report_path: &str,
    iteration: u32,
) -> Vec<String> {
    let mut marked = Vec::new();
    for v in judged(report, "passed") {
        for a in registry.artifacts.iter_mut().filter(|a| a.id == v["id"]) {
            a.metadata.remove("quarantined");
            a.metadata.remove("quarantine");
            a.metadata.insert(
                "qualification".into(),
                json!({
                    "status": "passed", "report_path": report_path, "iteration": iteration,
                    "updated_at": fsx::utc_now(), "content_hash": v["content_hash"], "checks": v["checks"],
                }),
            );
            marked.push(a.path.clone());
        }
    }
    marked.sort();
    marked.dedup();
    marked
}

/// Quarantines the artifacts that failed in `report`, each with its own reason and content
/// hash (it stays quarantined until those files change); returns their paths, sorted.
pub fn quarantine_failed(
    registry: &mut Registry,
    report: &Value,
    report_path: &str,
    iteration: u32,
) -> Vec<String> {
    let mut marked = Vec::new();
    for v in judged(report, "failed") {
        for a in registry.artifacts.iter_mut().filter(|a| a.id == v["id"]) {
            a.metadata.insert("quarantined".into(), json!(true));
            a.metadata.insert(
                "quarantine".into(),
                json!({
                    "status": "quarantined", "reason": v["reason"], "report_path": report_path,
                    "iteration": iteration, "updated_at": fsx::utc_now(), "content_hash": v["content_hash"],
                }),
            );
            marked.push(a.path.clone());
        }
    }
    marked.sort();
    marked.dedup();
    marked
}

fn judged<'r>(report: &'r Value, verdict: &'r str) -> impl Iterator<Item = &'r Value> {
    report["artifact_verdicts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(move |v| v["verdict"] == verdict)
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
