//! Skill links: every active skill is linked into `.agents/skills/` (Codex) and
//! `.claude/skills/` (Claude Code) under a namespaced name, `hg-<slug>`, with a relative symlink.
//! Every link HarnessGym makes is recorded in `.harnessgym/links.json`; a recorded link whose
//! skill is no longer active (quarantined, deleted, renamed) is removed. A real directory at a
//! link path is never touched (the report says the skill could not be linked there); a stale
//! regular file there is replaced, as in the original.

use super::hash::Sha256;
use crate::fsx;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// Directories (relative to the workspace) where each agent looks for skills.
pub const SKILL_LINK_DIRS: &[&str] = &[".agents/skills", ".claude/skills"];
/// The prefix of every link name HarnessGym owns.
pub const LINK_PREFIX: &str = "hg-";

/// `.harnessgym/links.json`.
pub fn links_file(workspace: &Path) -> PathBuf {
    workspace.join(".harnessgym/links.json")
}

/// One skill to link: its directory (absolute, inside `.harnessgym`) and the artifact it is.
#[derive(Debug, Clone)]
pub struct WantedSkill {
    pub skill_dir: PathBuf,
    pub artifact_path: String,
}

/// What linking one skill did.
#[derive(Debug, Clone, Default)]
pub struct Linked {
    pub name: String,
    /// Link paths that now point at the skill, one per entry of [`SKILL_LINK_DIRS`] (`None` where
    /// linking was not possible).
    pub links: Vec<Option<PathBuf>>,
    pub errors: Vec<String>,
}

/// A stable, namespaced link name per skill directory: `hg-` + the directory relative to
/// `.harnessgym/skills/` (or to `.harnessgym/`) with `/` as `-`. Names that would still clash
/// get a short hash of the path.
pub fn link_names(workspace: &Path, dirs: &[PathBuf]) -> Vec<String> {
    let hg = workspace.join(".harnessgym");
    let skills = hg.join("skills");
    let rels: Vec<String> = dirs
        .iter()
        .map(|d| {
            let rel = d
                .strip_prefix(&skills)
                .ok()
                .filter(|r| r.components().next().is_some())
                .or_else(|| d.strip_prefix(&hg).ok())
                .unwrap_or(d);
            fsx::posix(rel)
        })
        .collect();
    let names: Vec<String> = rels
        .iter()
        .map(|rel| {
            let slug: String = rel
                .replace('/', "-")
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "._-".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!(
                "{LINK_PREFIX}{}",
                if slug.is_empty() {
                    "skills".into()
                } else {
                    slug
                }
            )
        })
        .collect();
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for n in &names {
        *counts.entry(n).or_default() += 1;
    }
    names
        .iter()
        .zip(&rels)
        .map(|(n, rel)| {
            if counts[n.as_str()] > 1 {
                let mut h = Sha256::new();
                h.update(rel.as_bytes());
                format!("{n}-{}", &h.finish_hex()[..8])
            } else {
                n.clone()
            }
        })
        .collect()
}

/// A link HarnessGym made, as recorded in links.json.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Record {
    /// Workspace-relative link path.
    path: String,
    /// The link text.
    target: String,
    artifact_path: String,
}

fn load_records(workspace: &Path) -> Vec<Record> {
    let Ok(Some(map)) = fsx::read_json_object(&links_file(workspace)) else {
        return Vec::new();
    };
    map.get("links")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| {
            Some(Record {
                path: l["path"].as_str()?.to_string(),
                target: l["target"].as_str()?.to_string(),
                artifact_path: l["artifact_path"].as_str().unwrap_or_default().to_string(),
            })
        })
        .collect()
}

/// Links the wanted skills, removes stale links HarnessGym made, records the result in
/// links.json. Returns one [`Linked`] per wanted skill and the link paths removed.
pub fn sync_links(
    workspace: &Path,
    wanted: &[WantedSkill],
) -> io::Result<(Vec<Linked>, Vec<String>)> {
    let old = load_records(workspace);
    let names = link_names(
        workspace,
        &wanted
            .iter()
            .map(|w| w.skill_dir.clone())
            .collect::<Vec<_>>(),
    );
    let mut plan: Vec<(usize, String, String)> = Vec::new(); // (skill index, link rel, target)
    for (i, (w, name)) in wanted.iter().zip(&names).enumerate() {
        let rel_dir = w.skill_dir.strip_prefix(workspace).unwrap_or(&w.skill_dir);
        for dir in SKILL_LINK_DIRS {
            let ups = Path::new(dir).components().count();
            let target = (0..ups)
                .map(|_| "..")
                .chain(std::iter::once(fsx::posix(rel_dir).as_str()))
                .collect::<Vec<_>>()
                .join("/");
            plan.push((i, format!("{dir}/{name}"), target));
        }
    }
    let wanted_paths: BTreeSet<&str> = plan.iter().map(|(_, p, _)| p.as_str()).collect();
    let mut removed = Vec::new();
    for r in &old {
        if wanted_paths.contains(r.path.as_str()) {
            continue;
        }
        let link = workspace.join(&r.path);
        if fs::read_link(&link).is_ok_and(|t| t == Path::new(&r.target)) {
            fs::remove_file(&link)?;
            removed.push(r.path.clone());
        }
    }
    removed.extend(remove_legacy_links(workspace, &wanted_paths)?);

    let mut results: Vec<Linked> = names
        .iter()
        .map(|n| Linked {
            name: n.clone(),
            ..Linked::default()
        })
        .collect();
    let mut records = Vec::new();
    for (i, rel, target) in plan {
        let link = workspace.join(&rel);
        match place_link(&link, &target) {
            Ok(()) => {
                results[i].links.push(Some(link));
                records.push(Record {
                    path: rel,
                    target,
                    artifact_path: wanted[i].artifact_path.clone(),
                });
            }
            Err(why) => {
                results[i].links.push(None);
                results[i].errors.push(why);
            }
        }
    }
    records.sort();
    let mut old_sorted = old;
    old_sorted.sort();
    // Written when it changes (so never created just to say "no links").
    if records != old_sorted {
        let list: Vec<Value> = records
            .iter()
            .map(|r| json!({"path": r.path, "target": r.target, "artifact_path": r.artifact_path}))
            .collect();
        fsx::write_json(
            &links_file(workspace),
            &json!({"version": 1, "links": list}),
        )?;
    }
    Ok((results, removed))
}

/// Makes `link` a symlink with text `target`. An existing symlink or file is replaced atomically
/// (a temporary link renamed over it); a real directory is left alone and reported.
fn place_link(link: &Path, target: &str) -> Result<(), String> {
    let dir = link.parent().expect("link paths have a parent");
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    match fs::symlink_metadata(link) {
        Ok(meta) if meta.file_type().is_symlink() => {
            if fs::read_link(link).is_ok_and(|t| t == Path::new(target)) {
                return Ok(());
            }
        }
        // A directory is someone's content: never touched. A plain file in our namespace is a
        // stale leftover (the original's fix "stale skill file") and is replaced.
        Ok(meta) if meta.is_dir() => {
            return Err(format!(
                "{} is a real directory not made by HarnessGym; it was left untouched and the skill is not linked there",
                link.display()
            ))
        }
        Ok(_) => {}
        Err(_) => {}
    }
    let name = link
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp)
        .and_then(|()| fs::rename(&tmp, link))
        .map_err(|e| {
            let _ = fs::remove_file(&tmp);
            format!("cannot link {}: {e}", link.display())
        })
}

/// Links the original implementation made (absolute, named after the skill directory, pointing
/// into this workspace's `.harnessgym/skills`) are HarnessGym's too; they are removed so a
/// quarantined skill does not stay visible under its old name.
fn remove_legacy_links(workspace: &Path, keep: &BTreeSet<&str>) -> io::Result<Vec<String>> {
    let skills = workspace.join(".harnessgym/skills");
    let mut removed = Vec::new();
    for dir in SKILL_LINK_DIRS {
        let Ok(entries) = fs::read_dir(workspace.join(dir)) else {
            continue;
        };
        for entry in entries.flatten() {
            let rel = format!("{dir}/{}", entry.file_name().to_string_lossy());
            if keep.contains(rel.as_str()) || !entry.file_type().is_ok_and(|t| t.is_symlink()) {
                continue;
            }
            let Ok(target) = fs::read_link(entry.path()) else {
                continue;
            };
            if target.is_absolute() && target.starts_with(&skills) {
                fs::remove_file(entry.path())?;
                removed.push(rel);
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_namespaced_stable_and_distinct() {
        let ws = Path::new("/ws");
        let dirs = [
            ws.join(".harnessgym/skills/probe"),
            ws.join(".harnessgym/skills/a/probe"),
            ws.join(".harnessgym/skills"),
            ws.join(".harnessgym/docs/x y"),
        ];
        assert_eq!(
            link_names(ws, &dirs),
            ["hg-probe", "hg-a-probe", "hg-skills", "hg-docs-x_y"]
        );
        let clash = [
            ws.join(".harnessgym/skills/a-b"),
            ws.join(".harnessgym/skills/a/b"),
        ];
        let names = link_names(ws, &clash);
        assert_ne!(names[0], names[1]);
        assert!(names.iter().all(|n| n.starts_with("hg-a-b-")), "{names:?}");
    }
}
