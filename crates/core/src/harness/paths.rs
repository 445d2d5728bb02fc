//! Path safety for generated artifacts: everything a registry entry or a manifest names must stay
//! inside `<workspace>/.harnessgym/` (a server may also run in the workspace root, as the
//! original's bundles do), checked lexically and again after resolving symlinks. Tree copies
//! recreate symlinks without following them, and never let one point back out of the copy.

use crate::fsx;
use serde_json::{json, Value};
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Why a path named by an artifact cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// It leaves `.harnessgym/` (absolute, `..`, or a symlink pointing out).
    Escapes(String),
    /// Nothing exists there.
    Missing,
}

impl Refusal {
    pub fn reason(&self) -> String {
        match self {
            Refusal::Escapes(why) => why.clone(),
            Refusal::Missing => "path does not exist".into(),
        }
    }
}

/// The canonical form of `path` when it exists, else the path itself.
fn canonical(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

/// Resolves a registry path (workspace-relative) that must name something inside
/// `<workspace>/.harnessgym/`. Returns the lexical path under the workspace as given.
pub fn harness_path(workspace: &Path, rel: &str) -> Result<PathBuf, Refusal> {
    let escapes = || Refusal::Escapes("path escapes .harnessgym".into());
    let joined = fsx::contained(workspace, rel).ok_or_else(escapes)?;
    let hg = workspace.join(".harnessgym");
    match joined.strip_prefix(&hg) {
        Ok(inner) if inner.components().next().is_some() => {}
        _ => return Err(escapes()),
    }
    if fs::symlink_metadata(&joined).is_err() {
        return Err(Refusal::Missing);
    }
    let Ok(real) = joined.canonicalize() else {
        return Err(Refusal::Escapes(
            "path is a dangling symlink (it points nowhere inside .harnessgym)".into(),
        ));
    };
    if !real.starts_with(canonical(&hg)) {
        return Err(Refusal::Escapes(
            "path escapes .harnessgym through a symlink".into(),
        ));
    }
    Ok(joined)
}

/// Checks that an existing file found by following an artifact (a manifest, a SKILL.md) is
/// still inside `.harnessgym/` once symlinks are resolved.
pub fn inside_harness(workspace: &Path, path: &Path) -> bool {
    path.canonicalize()
        .is_ok_and(|real| real.starts_with(canonical(&workspace.join(".harnessgym"))))
}

/// Checks a working directory for a server or self-test: it must exist and be the workspace
/// root or a directory inside `.harnessgym/`.
pub fn check_cwd(workspace: &Path, dir: &Path, what: &str) -> Result<(), String> {
    let Ok(real) = dir.canonicalize() else {
        return Err(format!("{what} {} does not exist", dir.display()));
    };
    if !real.is_dir() {
        return Err(format!("{what} {} is not a directory", dir.display()));
    }
    let ws = canonical(workspace);
    if real == ws || real.starts_with(ws.join(".harnessgym")) {
        Ok(())
    } else {
        Err(format!(
            "{what} {} escapes .harnessgym (servers and self-tests run in the workspace root or inside .harnessgym)",
            dir.display()
        ))
    }
}

/// `.` and `..` resolved without touching the disk; `..` at the root stays at the root.
pub fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                if !out.pop() {
                    out.push(c);
                }
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// What to do with a symlink whose target lies outside the workspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutsideLinks {
    /// Keep it, pointing at the same absolute place (task data such as a dataset link).
    Keep,
    /// Leave it out of the copy and report it (harness bundles).
    Drop,
}

/// What a tree copy did.
#[derive(Debug, Default)]
pub struct Copied {
    /// Regular files copied, relative to the copied tree, sorted.
    pub files: Vec<String>,
    /// Symlinks left out: `{path, target, reason}`.
    pub dropped_links: Vec<Value>,
}

/// Copies `<ws>/<sub>` to `<dst_ws>/<sub>`, skipping paths (relative to `sub`) for which
/// `skip` holds. Regular files are copied; symlinks are recreated and never followed: a link
/// into the workspace becomes a relative link (so it points into the copy, not back at the
/// source), a link leaving the workspace is kept as an absolute link or dropped, per `outside`.
pub fn copy_tree(
    ws: &Path,
    sub: &Path,
    dst_ws: &Path,
    skip: &dyn Fn(&Path) -> bool,
    outside: OutsideLinks,
) -> io::Result<Copied> {
    let mut out = Copied::default();
    let roots = [normalize(ws), canonical(ws)];
    fs::create_dir_all(dst_ws.join(sub))?;
    copy_dir(
        ws,
        sub,
        Path::new(""),
        dst_ws,
        skip,
        outside,
        &roots,
        &mut out,
    )?;
    out.files.sort();
    Ok(out)
}

#[allow(clippy::too_many_arguments)]
fn copy_dir(
    ws: &Path,
    sub: &Path,
    rel: &Path,
    dst_ws: &Path,
    skip: &dyn Fn(&Path) -> bool,
    outside: OutsideLinks,
    roots: &[PathBuf; 2],
    out: &mut Copied,
) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(ws.join(sub).join(rel))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let child = rel.join(entry.file_name());
        if skip(&child) {
            continue;
        }
        let ws_rel = sub.join(&child);
        let from = ws.join(&ws_rel);
        let to = dst_ws.join(&ws_rel);
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            let text = fs::read_link(&from)?;
            let parent = ws_rel.parent().unwrap_or(Path::new(""));
            let absolute = normalize(&ws.join(parent).join(&text));
            let inside = roots
                .iter()
                .find_map(|root| absolute.strip_prefix(root).ok().map(Path::to_path_buf));
            let target = match (inside, outside) {
                (Some(target_rel), _) => {
                    let ups = parent.components().count();
                    let mut link = PathBuf::new();
                    for _ in 0..ups {
                        link.push("..");
                    }
                    link.push(target_rel);
                    if link.as_os_str().is_empty() {
                        link.push(".");
                    }
                    link
                }
                (None, OutsideLinks::Keep) => absolute,
                (None, OutsideLinks::Drop) => {
                    out.dropped_links.push(json!({
                        "path": fsx::posix(&ws_rel),
                        "target": text.to_string_lossy(),
                        "reason": "symlink leaves the workspace; not copied",
                    }));
                    continue;
                }
            };
            let _ = fsx::remove_any(&to);
            std::os::unix::fs::symlink(target, &to)?;
        } else if kind.is_dir() {
            fs::create_dir_all(&to)?;
            copy_dir(ws, sub, &child, dst_ws, skip, outside, roots, out)?;
        } else if kind.is_file() {
            fs::copy(&from, &to)?;
            out.files.push(fsx::posix(&child));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_paths_must_stay_in_harnessgym() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path();
        fs::create_dir_all(ws.join(".harnessgym/tools")).unwrap();
        fs::write(ws.join(".harnessgym/tools/a.py"), "").unwrap();
        fs::write(ws.join("task.py"), "").unwrap();
        assert!(harness_path(ws, ".harnessgym/tools/a.py").is_ok());
        for bad in [
            "/etc/passwd",
            "../x",
            "task.py",
            ".harnessgym",
            ".harnessgym/../task.py",
        ] {
            assert!(
                matches!(harness_path(ws, bad), Err(Refusal::Escapes(_))),
                "{bad}"
            );
        }
        std::os::unix::fs::symlink("/etc", ws.join(".harnessgym/tools/etc")).unwrap();
        let err = harness_path(ws, ".harnessgym/tools/etc").unwrap_err();
        assert!(err.reason().contains("symlink"), "{err:?}");
        assert_eq!(
            harness_path(ws, ".harnessgym/tools/gone.py"),
            Err(Refusal::Missing)
        );
    }

    #[test]
    fn copies_rewrite_inside_links_and_drop_or_keep_outside_ones() {
        let src = tempfile::tempdir().unwrap();
        let dst = tempfile::tempdir().unwrap();
        let ws = src.path();
        fs::create_dir_all(ws.join(".harnessgym/tools")).unwrap();
        fs::write(ws.join("data.txt"), "d").unwrap();
        fs::write(ws.join(".harnessgym/tools/a.py"), "a").unwrap();
        let tools = ws.join(".harnessgym/tools");
        std::os::unix::fs::symlink(ws.join("data.txt"), tools.join("abs_in")).unwrap();
        std::os::unix::fs::symlink("a.py", tools.join("rel_in")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", tools.join("abs_out")).unwrap();
        std::os::unix::fs::symlink("../../../outside", tools.join("rel_out")).unwrap();
        let copied = copy_tree(
            ws,
            Path::new(".harnessgym/tools"),
            dst.path(),
            &|_| false,
            OutsideLinks::Drop,
        )
        .unwrap();
        assert_eq!(copied.files, ["a.py"]);
        assert_eq!(copied.dropped_links.len(), 2, "{:?}", copied.dropped_links);
        let out = dst.path().join(".harnessgym/tools");
        assert_eq!(
            fs::read_link(out.join("abs_in")).unwrap(),
            Path::new("../../data.txt")
        );
        assert_eq!(
            fs::read_link(out.join("rel_in")).unwrap(),
            Path::new(".harnessgym/tools/a.py")
                .iter()
                .fold(PathBuf::from("../.."), |p, c| p.join(c))
        );
        assert!(
            !out.join("abs_out").exists() && fs::symlink_metadata(out.join("abs_out")).is_err()
        );

        let kept = tempfile::tempdir().unwrap();
        copy_tree(
            ws,
            Path::new(""),
            kept.path(),
            &|_| false,
            OutsideLinks::Keep,
        )
        .unwrap();
        let t = kept.path().join(".harnessgym/tools");
        assert_eq!(
            fs::read_link(t.join("abs_out")).unwrap(),
            Path::new("/etc/hostname")
        );
        assert!(fs::read_link(t.join("rel_out")).unwrap().is_absolute());
        assert_eq!(fs::read_to_string(t.join("abs_in")).unwrap(), "d");
    }
}
